//! Process wiring: flags, Kubernetes client, leader election, the artifact server, the
//! health/metrics server and the controller loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use weir_api::source::GitRepository;
use weir_shared::driver::{self, Runtime};
use weir_shared::flags::ControllerFlags;
use weir_shared::process::Process;
use weir_shared::storage::{self, Storage};

use crate::controller::{CONTROLLER_NAME, Context, Settings};
use crate::limits::{self, Limits};

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

    let ctx = Arc::new(Context {
        runtime: Runtime::new(&process, CONTROLLER_NAME, &flags.common.runtime),
        storage: store,
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
    let (_, controller) =
        driver::controller_for::<GitRepository>(process.client.clone(), &flags.common.runtime);
    tracing::info!(storage = %flags.storage_path.display(), addr = %flags.storage_addr, "source-controller started");
    driver::run_controller(controller, ctx, &process).await;

    server.await.context("artifact server task")??;
    process.finish().await
}
