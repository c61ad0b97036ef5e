//! The test cluster: a client from `KUBECONFIG` (set by `cargo xtask test`), CRD
//! installation, and a temporary namespace per test.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The kubeconfig path. Panics with instructions when the cluster is not configured: cluster
/// tests never skip silently.
pub fn kubeconfig() -> PathBuf {
    match std::env::var_os("KUBECONFIG") {
        Some(k) if PathBuf::from(&k).exists() => PathBuf::from(k),
        _ => panic!(
            "KUBECONFIG is not set to an existing file: these tests need a Kubernetes API server. \
             Run them with `cargo xtask test`, or `cargo xtask cluster up` and export the KUBECONFIG it prints."
        ),
    }
}

/// A client for the test cluster, with the Weir CRDs installed.
pub async fn client() -> Client {
    weir_shared::install_crypto_provider();
    let path = kubeconfig();
    let kc = kube::config::Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    let client = Client::try_from(config).unwrap_or_else(|e| panic!("creating client: {e}"));
    install_crds(&client).await;
    client
}

/// Server-side applies every CRD in `config/crd/` and waits until they are established.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = workspace_root().join("config/crd");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name == "kustomization.yaml" || !name.ends_with(".yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {name}: {e}"));
        let crd_name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &crd_name,
            &PatchParams::apply("weir-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("applying CRD {crd_name}: {e}"));
        crate::wait::until(
            Duration::from_secs(30),
            &format!("CRD {crd_name} established"),
            || {
                let api = api.clone();
                let crd_name = crd_name.clone();
                async move {
                    let crd = api.get(&crd_name).await.ok()?;
                    let established = crd
                        .status?
                        .conditions?
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    established.then_some(())
                }
            },
        )
        .await;
    }
}

/// A namespace that exists for one test and is deleted afterwards.
pub struct TestNamespace {
    /// The namespace name.
    pub name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates `weir-test-<prefix>-<random>`.
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("weir-test-{prefix}-{}", crate::random_id());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        // The API server refuses Pods until the namespace's default ServiceAccount has its
        // token, which the controller-manager adds a moment later.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        crate::wait::until(
            Duration::from_secs(30),
            &format!("the default ServiceAccount of {name}"),
            || {
                let accounts = accounts.clone();
                async move {
                    let sa = accounts.get_opt("default").await.ok().flatten()?;
                    (!sa.secrets.unwrap_or_default().is_empty()).then_some(())
                }
            },
        )
        .await;
        Self {
            name,
            client: client.clone(),
        }
    }

    /// Deletes the namespace (objects with finalizers must be removed by the test first).
    pub async fn delete(self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = api.delete(&self.name, &DeleteParams::default()).await;
    }
}
