//! A ready-made test setup: a namespace, an HTTPS Git server over one repository with
//! credentials in a Secret, and a source-controller watching this test's objects.

use std::time::Duration;

use kube::Client;
use kube::api::Api;
use weir_api::source::GitRepository;

use crate::cluster::{self, TestNamespace};
use crate::controller::{Options, SourceController};
use crate::git_https::GitHttpsServer;
use crate::gitrepo::SourceRepo;
use crate::objects::{self, GitRepositoryBuilder, git_repository, ready_is, wait_for};
use crate::random_id;

/// A namespace, an HTTPS Git server over one repository, credentials, and a controller.
pub struct Fixture {
    /// See the struct docs.
    pub client: Client,
    /// See the struct docs.
    pub ns: TestNamespace,
    /// See the struct docs.
    pub repo: SourceRepo,
    /// See the struct docs.
    pub server: GitHttpsServer,
    /// See the struct docs.
    pub selector: String,
    /// See the struct docs.
    pub ctl: SourceController,
    /// See the struct docs.
    pub api: Api<GitRepository>,
}

impl Fixture {
    /// Creates the namespace, a repository with one commit on `main`, the server, a
    /// Secret `auth` (basic auth + `ca.crt`) and a controller.
    pub async fn new(prefix: &str) -> Self {
        Self::with_controller_args(prefix, &[]).await
    }

    /// [`Fixture::new`] with extra source-controller flags (e.g. a small budget).
    pub async fn with_controller_args(prefix: &str, extra: &[&str]) -> Self {
        let client = cluster::client().await;
        let ns = TestNamespace::new(&client, prefix).await;
        let repo = SourceRepo::new("app");
        repo.write(
            "deploy/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
        );
        repo.commit("initial");
        let server = GitHttpsServer::start(repo.root()).await;
        objects::secret(
            &client,
            &ns.name,
            "auth",
            &[
                ("username", &server.username),
                ("password", &server.password),
                ("ca.crt", &server.ca_pem),
            ],
        )
        .await;
        let selector = random_id();
        let ctl = SourceController::start(Options {
            selector: &selector,
            leader_namespace: None,
            storage: None,
            extra,
        })
        .await;
        let api = Api::namespaced(client.clone(), &ns.name);
        Self {
            client,
            ns,
            repo,
            server,
            selector,
            ctl,
            api,
        }
    }

    /// A GitRepository for the served repository, with the `auth` Secret.
    pub fn git_repository(&self, name: &str) -> GitRepository {
        git_repository(name, &self.selector)
            .url(&self.server.url("app"))
            .secret("auth")
    }

    /// The stored artifact's revision, or empty.
    pub async fn revision(&self, name: &str) -> String {
        self.api
            .get(name)
            .await
            .ok()
            .and_then(|o| o.status?.artifact.map(|a| a.revision))
            .unwrap_or_default()
    }

    /// Waits until the artifact is at `revision` and Ready.
    pub async fn wait_revision(&self, name: &str, revision: &str) -> GitRepository {
        wait_for(
            &self.api,
            name,
            Duration::from_secs(60),
            &format!("at {revision}"),
            |o| {
                o.status
                    .as_ref()
                    .and_then(|s| s.artifact.as_ref())
                    .is_some_and(|a| a.revision == revision)
                    && ready_is(o, "True", "Succeeded")
            },
        )
        .await
    }

    /// Deletes every GitRepository (while the controller still runs, so finalizers go), then
    /// the namespace.
    pub async fn finish(self) {
        crate::wait::delete_all(&self.api, Duration::from_secs(30), "GitRepositories").await;
        drop(self.ctl);
        self.ns.delete().await;
    }
}
