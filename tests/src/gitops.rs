//! A ready-made GitOps setup: a Git repository over HTTPS, source-controller and
//! kustomize-controller watching this test's objects, a namespace, and helpers to commit,
//! request reconciles and wait for Kustomizations.

use std::time::Duration;

use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use weir_api::kustomize::{Kustomization, KustomizationSpec, SourceReference};
use weir_api::source::GitRepository;
use weir_shared::conditions;

use crate::controller::{KustomizeController, TEST_LABEL};
use crate::fixture::Fixture;
use crate::objects::GitRepositoryBuilder;

/// The setup.
pub struct GitOps {
    /// Source side: namespace, repository, HTTPS server, source-controller.
    pub source: Fixture,
    /// The kustomize-controller.
    pub ctl: KustomizeController,
    /// Kustomizations of the test namespace.
    pub ks: Api<Kustomization>,
}

impl GitOps {
    /// Starts everything; the repository has the files given, committed on `main`, and a
    /// GitRepository `repo` points at it.
    pub async fn new(prefix: &str, files: &[(&str, &str)]) -> Self {
        Self::with_source_args(prefix, files, &[]).await
    }

    /// [`GitOps::new`] with extra source-controller flags.
    pub async fn with_source_args(prefix: &str, files: &[(&str, &str)], extra: &[&str]) -> Self {
        let source = Fixture::with_controller_args(prefix, extra).await;
        for (path, body) in files {
            source.repo.write(path, body);
        }
        source.repo.commit("manifests");
        crate::objects::create(
            &source.api,
            &source.git_repository("repo").branch("main").interval("1h"),
        )
        .await;
        let ctl = KustomizeController::start(&source.selector, &[]).await;
        let ks = Api::namespaced(source.client.clone(), &source.ns.name);
        Self { source, ctl, ks }
    }

    /// The test namespace.
    pub fn ns(&self) -> &str {
        &self.source.ns.name
    }

    /// A client.
    pub fn client(&self) -> &Client {
        &self.source.client
    }

    /// A Kustomization of `path` from `repo`, pruning, applying into the test namespace.
    pub fn kustomization(&self, name: &str, path: &str) -> Kustomization {
        Kustomization {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([(TEST_LABEL.to_string(), self.source.selector.clone())].into()),
                ..Default::default()
            },
            spec: KustomizationSpec {
                source_ref: SourceReference {
                    kind: "GitRepository".into(),
                    name: "repo".into(),
                    ..Default::default()
                },
                path: Some(path.into()),
                interval: "1h".into(),
                prune: true,
                target_namespace: Some(self.ns().to_string()),
                timeout: Some("20s".into()),
                ..Default::default()
            },
            status: None,
        }
    }

    /// Creates a Kustomization.
    pub async fn create(&self, k: &Kustomization) {
        self.ks
            .create(&PostParams::default(), k)
            .await
            .unwrap_or_else(|e| panic!("creating Kustomization: {e}"));
    }

    /// Commits the working tree and makes the GitRepository pick it up now; returns the
    /// revision.
    pub async fn commit(&self, message: &str) -> String {
        let sha = self.source.repo.commit(message);
        let token = format!("{}", k8s_openapi::jiff::Timestamp::now().as_nanosecond());
        crate::objects::request_reconcile(&self.source.api, "repo", &token).await;
        format!("main@sha1:{sha}")
    }

    /// Asks a Kustomization to reconcile now.
    pub async fn request(&self, name: &str) {
        let token = format!("{}", k8s_openapi::jiff::Timestamp::now().as_nanosecond());
        let patch =
            json!({"metadata": {"annotations": {weir_api::RECONCILE_REQUEST_ANNOTATION: token}}});
        self.ks
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits until `check` accepts the Kustomization.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        check: impl Fn(&Kustomization) -> bool,
    ) -> Kustomization {
        let start = std::time::Instant::now();
        let mut last = None;
        loop {
            if let Ok(k) = self.ks.get(name).await {
                if check(&k) {
                    return k;
                }
                last = Some(k);
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for Kustomization {name} to be {what}; status: {}\ncontroller log:\n{}",
                serde_json::to_string_pretty(&last.and_then(|k| k.status)).unwrap_or_default(),
                self.ctl
                    .log()
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits for Ready=True at `revision` (or any revision when None).
    pub async fn wait_applied(&self, name: &str, revision: Option<&str>) -> Kustomization {
        self.wait(
            name,
            &format!("applied at {revision:?}"),
            Duration::from_secs(60),
            |k| {
                let st = k.status.clone().unwrap_or_default();
                st.observed_generation == k.metadata.generation
                    && conditions::is_true(&st.conditions, "Ready")
                    && revision.is_none_or(|r| st.last_applied_revision.as_deref() == Some(r))
            },
        )
        .await
    }

    /// Waits for Ready=False with `reason`.
    pub async fn wait_failed(&self, name: &str, reason: &str) -> Kustomization {
        self.wait(
            name,
            &format!("failing with {reason}"),
            Duration::from_secs(60),
            |k| {
                let st = k.status.clone().unwrap_or_default();
                conditions::get(&st.conditions, "Ready")
                    .is_some_and(|c| c.status == "False" && c.reason == reason)
            },
        )
        .await
    }

    /// The Ready message.
    pub fn message(k: &Kustomization) -> String {
        k.status
            .as_ref()
            .and_then(|s| conditions::get(&s.conditions, "Ready"))
            .map(|c| c.message.clone())
            .unwrap_or_default()
    }

    /// Deletes every Kustomization (waiting for finalizers), then the source side.
    pub async fn finish(self) {
        crate::wait::delete_all(&self.ks, Duration::from_secs(60), "Kustomizations").await;
        drop(self.ctl);
        self.source.finish().await;
    }
}

/// Builds a second source-controller-free GitRepository whose status the test writes itself.
pub async fn fake_source(client: &Client, ns: &str, name: &str, artifact: serde_json::Value) {
    let api: Api<GitRepository> = Api::namespaced(client.clone(), ns);
    let repo = json!({"apiVersion": "source.weir.dev/v1", "kind": "GitRepository", "metadata": {"name": name},
        "spec": {"url": "https://example.invalid/repo", "interval": "1h"}});
    api.create(
        &PostParams::default(),
        &serde_json::from_value(repo).unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let status = json!({"status": {"artifact": artifact}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
