//! Process wiring: flags, the shared process lifecycle, and the controller loop, which also
//! wakes HelmReleases when their chart source has a new artifact or a `valuesFrom` ConfigMap
//! or Secret changes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store};
use weir_api::helm::HelmRelease;
use weir_api::meta::Artifact;
use weir_api::source::{ExternalArtifact, HelmChart, OCIRepository};
use weir_shared::apply::{Applier, ApplyPolicy};
use weir_shared::artifact_cache::ArtifactCache;
use weir_shared::driver::{self, Runtime};
use weir_shared::flags::ControllerFlags;
use weir_shared::process::Process;
use weir_shared::untar::Limits;

use crate::controller::{CONTROLLER_NAME, Context, GROUP, Settings};

/// helm-controller: renders HelmReleases natively and stores them where the helm CLI reads
/// them.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Flags {
    #[command(flatten)]
    pub common: ControllerFlags,
    /// Refuse chart sources in other namespaces.
    #[arg(long, env = "WEIR_NO_CROSS_NAMESPACE_REFS")]
    pub no_cross_namespace_refs: bool,
    /// Where downloaded chart artifacts are unpacked (cached by digest).
    #[arg(long, env = "WEIR_WORK_DIR", default_value = "/tmp/helm-controller")]
    pub work_dir: PathBuf,
    /// Most bytes of unpacked artifacts kept that no reconcile is reading.
    #[arg(long, env = "WEIR_ARTIFACT_CACHE_BYTES", default_value_t = 1 << 30)]
    pub artifact_cache_bytes: u64,
}

/// Whether `obj` takes its chart from the `kind` object `namespace/name`.
pub fn uses_source(obj: &HelmRelease, kind: &str, namespace: &str, name: &str) -> bool {
    let own = obj.namespace().unwrap_or_default();
    if let Some(r) = &obj.spec.chart_ref {
        return r.kind == kind
            && r.name == name
            && r.namespace.as_deref().unwrap_or(&own) == namespace;
    }
    kind == "HelmChart"
        && obj
            .spec
            .chart
            .as_ref()
            .is_some_and(|t| t.namespace(&own) == namespace && obj.helm_chart_name() == name)
}

/// Whether `obj` reads values from the `kind` object `namespace/name`.
pub fn uses_values(obj: &HelmRelease, kind: &str, namespace: &str, name: &str) -> bool {
    obj.namespace().as_deref() == Some(namespace)
        && obj
            .spec
            .values_from
            .iter()
            .any(|r| r.kind == kind && r.name == name)
}

fn matching(
    store: &Store<HelmRelease>,
    pred: impl Fn(&HelmRelease) -> bool,
) -> Vec<ObjectRef<HelmRelease>> {
    store
        .state()
        .iter()
        .filter(|o| pred(o))
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// A change to a `kind` object reconciles the HelmReleases that read values from it.
fn users_of<K>(
    kind: &'static str,
    store: Store<HelmRelease>,
) -> impl Fn(PartialObjectMeta<K>) -> Vec<ObjectRef<HelmRelease>> + Send + Sync + 'static {
    move |meta| {
        let ns = meta.metadata.namespace.clone().unwrap_or_default();
        let name = meta.metadata.name.clone().unwrap_or_default();
        matching(&store, |o| uses_values(o, kind, &ns, &name))
    }
}

/// The HelmReleases using a source of `kind`, woken only when its artifact changes.
fn users_of_source<K>(
    store: Store<HelmRelease>,
    kind: &'static str,
    artifact: fn(&K) -> Option<Artifact>,
) -> impl Fn(K) -> Vec<ObjectRef<HelmRelease>> + Send + Sync + 'static
where
    K: kube::Resource<DynamicType = ()> + 'static,
{
    weir_shared::watch::on_new_artifact(artifact, move |ns, name| {
        matching(&store, |o| uses_source(o, kind, ns, name))
    })
}

/// Runs until SIGINT/SIGTERM or loss of leadership.
///
/// # Errors
/// Startup failures and loss of leadership.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let Some(process) = Process::start(&flags.common, CONTROLLER_NAME).await? else {
        return Ok(());
    };
    let client = process.client.clone();
    let artifacts = ArtifactCache::new(
        &flags.work_dir,
        flags.artifact_cache_bytes,
        Limits::default(),
    )
    .with_context(|| format!("preparing work folder {}", flags.work_dir.display()))?;
    let (store, controller) =
        driver::controller_for::<HelmRelease>(client.clone(), &flags.common.runtime);
    let ctx = Arc::new(Context {
        runtime: Runtime::new(&process, CONTROLLER_NAME, &flags.common.runtime),
        applier: Applier::new(
            client.clone(),
            ApplyPolicy::for_group(CONTROLLER_NAME, GROUP),
        ),
        http: weir_shared::tls::client_builder()
            .build()
            .context("building the HTTP client for artifact downloads")?,
        artifacts,
        settings: Settings {
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
        },
    });
    let controller = controller
        .watches(
            Api::<HelmChart>::all(client.clone()),
            kube::runtime::watcher::Config::default().any_semantic(),
            users_of_source(store.clone(), "HelmChart", |o: &HelmChart| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches(
            Api::<OCIRepository>::all(client.clone()),
            kube::runtime::watcher::Config::default().any_semantic(),
            users_of_source(store.clone(), "OCIRepository", |o: &OCIRepository| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches(
            Api::<ExternalArtifact>::all(client.clone()),
            kube::runtime::watcher::Config::default().any_semantic(),
            users_of_source(store.clone(), "ExternalArtifact", |o: &ExternalArtifact| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches_stream(
            weir_shared::watch::metadata_changes::<ConfigMap>(client.clone()),
            users_of("ConfigMap", store.clone()),
        )
        .watches_stream(
            weir_shared::watch::metadata_changes::<Secret>(client),
            users_of("Secret", store),
        );
    tracing::info!(work_dir = %flags.work_dir.display(), "helm-controller started");
    driver::run_controller(controller, ctx, &process).await;
    process.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(spec: serde_json::Value) -> Result<HelmRelease, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "helm.weir.dev/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "app", "namespace": "apps"},
            "spec": spec,
        }))
    }

    #[test]
    fn sources_and_values_wake_their_users() -> Result<(), serde_json::Error> {
        let from_template = release(serde_json::json!({
            "interval": "5m",
            "chart": {"spec": {"chart": "app", "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux"}}},
            "valuesFrom": [{"kind": "ConfigMap", "name": "app-values"}],
        }))?;
        assert!(uses_source(&from_template, "HelmChart", "flux", "apps-app"));
        assert!(!uses_source(
            &from_template,
            "HelmChart",
            "apps",
            "apps-app"
        ));
        assert!(uses_values(
            &from_template,
            "ConfigMap",
            "apps",
            "app-values"
        ));
        assert!(!uses_values(&from_template, "Secret", "apps", "app-values"));
        let by_ref = release(serde_json::json!({
            "interval": "5m",
            "chartRef": {"kind": "OCIRepository", "name": "app"},
        }))?;
        assert!(uses_source(&by_ref, "OCIRepository", "apps", "app"));
        assert!(!uses_source(&by_ref, "HelmChart", "apps", "app"));
        Ok(())
    }
}
