//! Process wiring: flags, Kubernetes client, leader election, the artifact server, the
//! health/metrics server and the controller loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use weir_api::source::{ExternalArtifact, GitRepository, HelmChart, HelmRepository, OCIRepository};
use weir_api::source_extensions::ArtifactGenerator;
use weir_shared::driver::{self, Runtime};
use weir_shared::flags::ControllerFlags;
use weir_shared::process::Process;
use weir_shared::storage::{self, Storage};

use crate::artifactgenerator::ArtifactGeneratorReconciler;
use crate::controller::{CONTROLLER_NAME, Context, Settings};
use crate::helmchart::HelmChartReconciler;
use crate::helmrepository::HelmRepositoryReconciler;
use crate::limits::{self, Limits};
use crate::ocirepository::OCIRepositoryReconciler;
use crate::sources::SourceSettings;

/// source-controller: fetches Git repositories and serves them as artifacts.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Flags {
    #[command(flatten)]
    pub common: ControllerFlags,
    /// Root folder of artifact storage.
    #[arg(long, env = "WEIR_STORAGE_PATH", default_value = "/data")]
    pub storage_path: PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, env = "WEIR_STORAGE_ADDR", default_value = "0.0.0.0:9090")]
    pub storage_addr: SocketAddr,
    /// Address written into artifact URLs, e.g. `source-controller.weir-system.svc.cluster.local.`
    /// (defaults to the storage address).
    #[arg(long, env = "WEIR_STORAGE_ADV_ADDR")]
    pub storage_adv_addr: Option<String>,
    /// How many artifacts to keep per object.
    #[arg(long, env = "WEIR_ARTIFACT_RETENTION", default_value_t = 2)]
    pub artifact_retention: usize,
    /// Most tree entries (files, directories, symlinks, submodules; ignored ones included)
    /// visited in one commit; a commit with more is refused with `ArtifactTooLarge`.
    #[arg(long, env = "WEIR_ARTIFACT_MAX_FILES", default_value_t = limits::DEFAULT_MAX_FILES)]
    pub artifact_max_files: u64,
    /// Largest total size of the files packed from one commit, after ignore rules: bytes, or a
    /// number with KiB, MiB, GiB; a commit with more is refused with `ArtifactTooLarge`.
    #[arg(long, env = "WEIR_ARTIFACT_MAX_BYTES", default_value = "1GiB", value_parser = limits::parse_size)]
    pub artifact_max_bytes: u64,
    /// Accept `file://` URLs; for local development only.
    #[arg(long, env = "WEIR_ALLOW_FILE_URLS")]
    pub allow_file_urls: bool,
    /// Largest Helm repository `index.yaml` read: bytes, or a number with KiB, MiB, GiB.
    #[arg(long, env = "WEIR_HELM_INDEX_MAX_SIZE", default_value = "50MiB", value_parser = limits::parse_size)]
    pub helm_index_max_size: u64,
    /// Largest chart `.tgz` downloaded, pulled or packaged: bytes, or a number with KiB,
    /// MiB, GiB.
    #[arg(long, env = "WEIR_HELM_CHART_MAX_SIZE", default_value = "10MiB", value_parser = limits::parse_size)]
    pub helm_chart_max_size: u64,
    /// Refuse ArtifactGenerator sources in other namespaces.
    #[arg(long, env = "WEIR_NO_CROSS_NAMESPACE_REFS")]
    pub no_cross_namespace_refs: bool,
}

/// Runs the controller until SIGINT/SIGTERM or loss of leadership.
///
/// # Errors
/// Startup failures (kubeconfig, bind addresses, storage folder) and loss of leadership.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let Some(process) = Process::start(&flags.common, CONTROLLER_NAME).await? else {
        return Ok(());
    };
    std::fs::create_dir_all(&flags.storage_path)
        .with_context(|| format!("creating storage folder {}", flags.storage_path.display()))?;
    let adv = flags
        .storage_adv_addr
        .clone()
        .unwrap_or_else(|| flags.storage_addr.to_string());
    let store = Storage::new(&flags.storage_path, &adv);
    let listener = weir_shared::server::bind(flags.storage_addr, "storage").await?;
    let (served, stopped, limits) = (
        store.clone(),
        process.stopped(),
        process.server_limits().clone(),
    );
    let server =
        tokio::spawn(async move { storage::serve_with(served, listener, stopped, &limits).await });

    let runtime = || Runtime::new(&process, CONTROLLER_NAME, &flags.common.runtime);
    let ctx = Arc::new(Context {
        runtime: runtime(),
        storage: store.clone(),
        settings: Settings {
            allow_file_urls: flags.allow_file_urls,
            artifact_retention: flags.artifact_retention.max(1),
            git_cache_root: flags.storage_path.join(".git-cache"),
            limits: Limits {
                max_files: flags.artifact_max_files.max(1),
                max_bytes: flags.artifact_max_bytes,
            },
        },
    });
    let sources = Arc::new(SourceSettings {
        storage: store,
        artifact_retention: flags.artifact_retention.max(1),
        helm_index_max_bytes: flags.helm_index_max_size,
        helm_chart_max_bytes: flags.helm_chart_max_size,
        artifact_max_bytes: flags.artifact_max_bytes,
        work_dir: flags.storage_path.join(".work"),
    });
    let client = process.client.clone();
    let runtime_flags = &flags.common.runtime;
    let (_, git) = driver::controller_for::<GitRepository>(client.clone(), runtime_flags);
    let (_, helm_repositories) =
        driver::controller_for::<HelmRepository>(client.clone(), runtime_flags);
    let (_, oci_repositories) =
        driver::controller_for::<OCIRepository>(client.clone(), runtime_flags);
    let (charts, helm_charts) = driver::controller_for::<HelmChart>(client.clone(), runtime_flags);
    // A new index or commit wakes every HelmChart built from it.
    let users_of = |kind: &'static str| {
        let charts = charts.clone();
        move |namespace: String, name: String| -> Vec<ObjectRef<HelmChart>> {
            charts
                .state()
                .iter()
                .filter(|c| {
                    c.spec.source_ref.kind == kind
                        && c.spec.source_ref.name == name
                        && c.namespace().as_deref() == Some(namespace.as_str())
                })
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect()
        }
    };
    let (by_repo, by_git) = (users_of("HelmRepository"), users_of("GitRepository"));
    let (generator_store, generators) =
        driver::controller_for::<ArtifactGenerator>(client.clone(), runtime_flags);
    let generators = watch_generator_sources(generators, &generator_store, &client);
    let helm_charts = helm_charts
        .watches(
            Api::<HelmRepository>::all(client.clone()),
            kube::runtime::watcher::Config::default().any_semantic(),
            move |r: HelmRepository| by_repo(r.namespace().unwrap_or_default(), r.name_any()),
        )
        .watches(
            Api::<GitRepository>::all(client),
            kube::runtime::watcher::Config::default().any_semantic(),
            move |r: GitRepository| by_git(r.namespace().unwrap_or_default(), r.name_any()),
        );
    let helm_repository_ctx = Arc::new(HelmRepositoryReconciler {
        runtime: runtime(),
        settings: sources.clone(),
        announced: Default::default(),
    });
    let helm_chart_ctx = Arc::new(HelmChartReconciler {
        runtime: runtime(),
        settings: sources.clone(),
        announced: Default::default(),
    });
    let oci_ctx = Arc::new(OCIRepositoryReconciler {
        runtime: runtime(),
        settings: sources.clone(),
        announced: Default::default(),
    });
    let generator_ctx = Arc::new(ArtifactGeneratorReconciler {
        runtime: runtime(),
        settings: sources,
        no_cross_namespace_refs: flags.no_cross_namespace_refs,
        http: weir_shared::tls::client_builder()
            .build()
            .context("building the HTTP client")?,
    });
    tracing::info!(storage = %flags.storage_path.display(), addr = %flags.storage_addr, "source-controller started");
    tokio::join!(
        driver::run_controller(git, ctx, &process),
        driver::run_controller(helm_repositories, helm_repository_ctx, &process),
        driver::run_controller(helm_charts, helm_chart_ctx, &process),
        driver::run_controller(oci_repositories, oci_ctx, &process),
        driver::run_controller(generators, generator_ctx, &process),
    );

    server.await.context("artifact server task")??;
    process.finish().await
}

/// A new artifact of any source kind wakes the generators that read it; status writes that
/// keep the artifact do not.
fn watch_generator_sources(
    generators: kube::runtime::Controller<ArtifactGenerator>,
    store: &kube::runtime::reflector::Store<ArtifactGenerator>,
    client: &kube::Client,
) -> kube::runtime::Controller<ArtifactGenerator> {
    fn users<K: kube::Resource<DynamicType = ()> + 'static>(
        store: kube::runtime::reflector::Store<ArtifactGenerator>,
        kind: &'static str,
        artifact: fn(&K) -> Option<weir_api::meta::Artifact>,
    ) -> impl Fn(K) -> Vec<ObjectRef<ArtifactGenerator>> + Send + Sync + 'static {
        weir_shared::watch::on_new_artifact(artifact, move |ns, name| {
            store
                .state()
                .iter()
                .filter(|g| {
                    let own = g.namespace().unwrap_or_default();
                    g.spec.sources.iter().any(|s| {
                        s.kind == kind
                            && s.name == name
                            && s.namespace.as_deref().unwrap_or(&own) == ns
                    })
                })
                .map(|g| ObjectRef::from_obj(g.as_ref()))
                .collect()
        })
    }
    let config = || kube::runtime::watcher::Config::default().any_semantic();
    generators
        .watches(
            Api::<GitRepository>::all(client.clone()),
            config(),
            users(store.clone(), "GitRepository", |o: &GitRepository| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches(
            Api::<OCIRepository>::all(client.clone()),
            config(),
            users(store.clone(), "OCIRepository", |o: &OCIRepository| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches(
            Api::<HelmChart>::all(client.clone()),
            config(),
            users(store.clone(), "HelmChart", |o: &HelmChart| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
        .watches(
            Api::<ExternalArtifact>::all(client.clone()),
            config(),
            users(store.clone(), "ExternalArtifact", |o: &ExternalArtifact| {
                o.status.as_ref()?.artifact.clone()
            }),
        )
}
