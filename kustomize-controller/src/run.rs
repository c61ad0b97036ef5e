//! Process wiring: flags, the shared process lifecycle, and the controller loop, which also
//! wakes Kustomizations when their GitRepository or a `substituteFrom` ConfigMap or Secret
//! changes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store};
use weir_api::kustomize::Kustomization;
use weir_api::meta::Artifact;
use weir_api::source::{ExternalArtifact, GitRepository, OCIRepository};
use weir_shared::apply::{Applier, ApplyPolicy};
use weir_shared::artifact_cache::ArtifactCache;
use weir_shared::driver::{self, Runtime};
use weir_shared::flags::ControllerFlags;
use weir_shared::process::Process;
use weir_shared::untar::Limits;

use crate::controller::{CONTROLLER_NAME, Context, GROUP, Settings};
use crate::plan;

/// kustomize-controller: builds Kustomizations from source artifacts and applies them.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Flags {
    #[command(flatten)]
    pub common: ControllerFlags,
    /// Refuse sourceRefs to other namespaces.
    #[arg(long, env = "WEIR_NO_CROSS_NAMESPACE_REFS")]
    pub no_cross_namespace_refs: bool,
    /// Refuse remote bases and resources (Git repositories and file URLs in `resources`,
    /// `bases` and `components`): such a build stalls with reason BuildFailed. By default
    /// they are fetched, as Flux does.
    #[arg(long, env = "WEIR_NO_REMOTE_BASES")]
    pub no_remote_bases: bool,
    /// Where downloaded artifacts are unpacked (cached by digest).
    #[arg(
        long,
        env = "WEIR_WORK_DIR",
        default_value = "/tmp/kustomize-controller"
    )]
    pub work_dir: PathBuf,
    /// Most bytes of unpacked artifacts kept that no reconcile is reading; least recently
    /// used ones beyond it are removed (and fetched again when needed).
    #[arg(long, env = "WEIR_ARTIFACT_CACHE_BYTES", default_value_t = 1 << 30)]
    pub artifact_cache_bytes: u64,
}

/// A change to a `kind` object (by metadata) reconciles the Kustomizations that substitute
/// from it.
fn users_of<K>(
    kind: &'static str,
    store: Store<Kustomization>,
) -> impl Fn(PartialObjectMeta<K>) -> Vec<ObjectRef<Kustomization>> + Send + Sync + 'static {
    move |meta| {
        plan::users(
            &store.state(),
            kind,
            meta.metadata.namespace.as_deref().unwrap_or_default(),
            meta.metadata.name.as_deref().unwrap_or_default(),
        )
    }
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
        driver::controller_for::<Kustomization>(client.clone(), &flags.common.runtime);
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
        store: store.clone(),
        settings: Settings {
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
            no_remote_bases: flags.no_remote_bases,
            remote_dir: flags.work_dir.join("remote"),
        },
    });
    // A new artifact wakes every Kustomization that uses the source; a status write that
    // keeps the artifact wakes none.
    let controller = controller
        .watches(
            Api::<GitRepository>::all(client.clone()),
            kube::runtime::watcher::Config::default().any_semantic(),
            users_of_source(store.clone(), "GitRepository", |o: &GitRepository| {
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
    tracing::info!(
        work_dir = %flags.work_dir.display(),
        no_remote_bases = flags.no_remote_bases,
        "kustomize-controller started"
    );
    driver::run_controller(controller, ctx, &process).await;
    process.finish().await
}

/// The Kustomizations using a source of `kind`, woken only when its artifact changes.
fn users_of_source<K>(
    store: Store<Kustomization>,
    kind: &'static str,
    artifact: fn(&K) -> Option<Artifact>,
) -> impl Fn(K) -> Vec<ObjectRef<Kustomization>> + Send + Sync + 'static
where
    K: kube::Resource<DynamicType = ()> + 'static,
{
    weir_shared::watch::on_new_artifact(artifact, move |ns, name| {
        plan::dependents(&store.state(), kind, ns, name)
    })
}
