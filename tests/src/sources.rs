//! A test setup for the source kinds beyond GitRepository: a namespace, an event sink and
//! a source-controller watching this test's objects, with typed helpers to create objects
//! from YAML, wait for them and read their conditions.

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use weir_api::source::{GitRepository, HelmChart, HelmRepository, OCIRepository};
use weir_shared::conditions;

use crate::cluster::{self, TestNamespace};
use crate::controller::{Options, SourceController, TEST_LABEL};
use crate::event_sink::EventSink;
use crate::{objects, random_id};

/// A namespace, an event sink and a source-controller watching this test's objects.
pub struct Setup {
    /// Client.
    pub client: Client,
    /// The test namespace.
    pub ns: TestNamespace,
    /// The controller's label selector value.
    pub selector: String,
    /// Events the controller posted.
    pub sink: EventSink,
    /// The controller.
    pub ctl: SourceController,
}

impl Setup {
    /// Starts everything for a test named by `prefix`.
    pub async fn new(prefix: &str) -> Self {
        Self::with_args(prefix, &[]).await
    }

    /// [`Setup::new`] with extra source-controller flags.
    pub async fn with_args(prefix: &str, extra: &[&str]) -> Self {
        let client = cluster::client().await;
        let ns = TestNamespace::new(&client, prefix).await;
        let selector = random_id();
        let sink = EventSink::start().await;
        let mut args = vec!["--events-addr", sink.url.as_str()];
        args.extend_from_slice(extra);
        let ctl = SourceController::start(Options {
            selector: &selector,
            leader_namespace: None,
            storage: None,
            extra: &args,
        })
        .await;
        Self {
            client,
            ns,
            selector,
            sink,
            ctl,
        }
    }

    /// The namespaced API of a kind.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns.name)
    }

    /// Creates an object from YAML, labelled for this test's controller.
    pub async fn create<K>(&self, yaml: &str) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let mut obj: K = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
        obj.meta_mut()
            .labels
            .get_or_insert_with(Default::default)
            .insert(TEST_LABEL.into(), self.selector.clone());
        self.api::<K>()
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("creating {yaml}: {e}"))
    }

    /// Waits up to a minute until `check` accepts the object.
    pub async fn wait<K>(&self, name: &str, what: &str, check: impl Fn(&K) -> bool) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let api = self.api::<K>();
        let start = std::time::Instant::now();
        loop {
            let obj = api.get_opt(name).await.ok().flatten();
            if let Some(o) = &obj
                && check(o)
            {
                return o.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {name} to be {what}; last: {}\nlog:\n{}",
                serde_json::to_string_pretty(&obj).unwrap_or_default(),
                self.ctl.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Creates a Secret with string data.
    pub async fn secret(&self, name: &str, data: &[(&str, &str)]) {
        objects::secret(&self.client, &self.ns.name, name, data).await;
    }

    /// Creates a `kubernetes.io/dockerconfigjson` Secret holding `docker_config_json` (what
    /// `kubectl create secret docker-registry` makes).
    pub async fn docker_config_secret(&self, name: &str, docker_config_json: &str) {
        let secret = k8s_openapi::api::core::v1::Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/dockerconfigjson".into()),
            data: Some(
                [(
                    ".dockerconfigjson".to_string(),
                    k8s_openapi::ByteString(docker_config_json.as_bytes().to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        self.api::<k8s_openapi::api::core::v1::Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .unwrap_or_else(|e| panic!("creating Secret {name}: {e}"));
    }

    /// Creates a ServiceAccount whose `imagePullSecrets` name `pull_secrets`.
    pub async fn service_account(&self, name: &str, pull_secrets: &[&str]) {
        let account = k8s_openapi::api::core::v1::ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            image_pull_secrets: Some(
                pull_secrets
                    .iter()
                    .map(|s| k8s_openapi::api::core::v1::LocalObjectReference {
                        name: (*s).to_string(),
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        self.api::<k8s_openapi::api::core::v1::ServiceAccount>()
            .create(&PostParams::default(), &account)
            .await
            .unwrap_or_else(|e| panic!("creating ServiceAccount {name}: {e}"));
    }

    /// Merge-patches an object (e.g. `{"spec": {"suspend": true}}`).
    pub async fn patch<K>(&self, name: &str, patch: serde_json::Value)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("patching {name} with {patch}: {e}"));
    }

    /// Asks for an immediate reconcile.
    pub async fn request_reconcile<K>(&self, name: &str)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let patch = serde_json::json!({"metadata": {"annotations": {weir_api::RECONCILE_REQUEST_ANNOTATION: random_id()}}});
        self.api::<K>()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("annotating {name}: {e}"));
    }

    /// Deletes the test's source objects (while the controller runs), then the namespace.
    pub async fn finish(self) {
        crate::wait::delete_all(
            &self.api::<weir_api::helm::HelmRelease>(),
            Duration::from_secs(60),
            "HelmReleases",
        )
        .await;
        crate::wait::delete_all(
            &self.api::<weir_api::source_extensions::ArtifactGenerator>(),
            Duration::from_secs(30),
            "ArtifactGenerators",
        )
        .await;
        crate::wait::delete_all(
            &self.api::<HelmChart>(),
            Duration::from_secs(30),
            "HelmCharts",
        )
        .await;
        crate::wait::delete_all(
            &self.api::<HelmRepository>(),
            Duration::from_secs(30),
            "HelmRepositories",
        )
        .await;
        crate::wait::delete_all(
            &self.api::<OCIRepository>(),
            Duration::from_secs(30),
            "OCIRepositories",
        )
        .await;
        crate::wait::delete_all(
            &self.api::<GitRepository>(),
            Duration::from_secs(30),
            "GitRepositories",
        )
        .await;
        drop(self.ctl);
        self.ns.delete().await;
    }
}

/// See the name.
pub fn condition<'a>(
    conditions: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions::get(conditions, type_)
}

/// See the name.
pub fn repo_ready(o: &HelmRepository, status: &str, reason: &str) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && condition(&s.conditions, "Ready")
                .is_some_and(|c| c.status == status && c.reason == reason)
    })
}

/// See the name.
pub fn chart_ready(o: &HelmChart, status: &str, reason: &str) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && condition(&s.conditions, "Ready")
                .is_some_and(|c| c.status == status && c.reason == reason)
    })
}

/// See the name.
pub fn chart_revision(o: &HelmChart) -> String {
    o.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}

/// See the name.
pub fn ready_message(
    conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> String {
    condition(conds, "Ready")
        .map(|c| format!("{}: {}", c.reason, c.message))
        .unwrap_or_default()
}

/// See the name.
pub async fn download(url: &str) -> Vec<u8> {
    let resp = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.bytes()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_vec()
}

/// See the name.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The file `path` inside a chart `.tgz`.
/// See the name.
pub fn file_in_tgz(bytes: &[u8], path: &str) -> Option<String> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        if entry.path().ok()?.to_string_lossy() == path {
            let mut s = String::new();
            entry.read_to_string(&mut s).ok()?;
            return Some(s);
        }
    }
    None
}

/// See the name.
pub fn kubectl_wait(kind: &str, name: &str, ns: &str) {
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", cluster::kubeconfig())
        .args([
            "wait",
            "--for=condition=Ready",
            &format!("{kind}/{name}"),
            "-n",
            ns,
            "--timeout=30s",
        ])
        .output()
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert!(
        out.status.success(),
        "kubectl wait {kind}/{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// See the name.
pub fn oci_ready(o: &OCIRepository, status: &str, reason: &str) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && condition(&s.conditions, "Ready")
                .is_some_and(|c| c.status == status && c.reason == reason)
    })
}

/// See the name.
pub fn oci_revision(o: &OCIRepository) -> String {
    o.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}

/// The revision of a HelmRepository's index artifact (empty without one).
pub fn index_revision(o: &HelmRepository) -> String {
    o.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}
