//! Process wiring: flags, Kubernetes client, leader election, the artifact server, the
//! health/metrics server and the controller loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::Controller;
use kube::runtime::controller::Config as ControllerConfig;
use tokio::sync::watch as signal;
use weir_api::source::GitRepository;
use weir_shared::events::EventRecorder;
use weir_shared::flags::{KubeFlags, LeaderFlags, LogFlags, ProbeFlags, RuntimeFlags};
use weir_shared::leader::LeaderElector;
use weir_shared::metrics::Metrics;
use weir_shared::server::{Readiness, serve_probes};
use weir_shared::storage::{self, Storage};
use weir_shared::watch;

use crate::controller::{self, CONTROLLER_NAME, Context, Settings};

/// source-controller: fetches Git repositories and serves them as artifacts.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Flags {
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(flatten)]
    pub leader: LeaderFlags,
    #[command(flatten)]
    pub probes: ProbeFlags,
    #[command(flatten)]
    pub log: LogFlags,
    #[command(flatten)]
    pub runtime: RuntimeFlags,
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
    /// Accept `file://` URLs; for local development only.
    #[arg(long, env = "WEIR_ALLOW_FILE_URLS")]
    pub allow_file_urls: bool,
}

/// Runs the controller until SIGINT/SIGTERM or loss of leadership.
///
/// # Errors
/// Startup failures (kubeconfig, bind addresses, storage folder) and loss of leadership.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    weir_shared::install_crypto_provider();
    let client = weir_shared::kube_client(&flags.kube).await?;
    let (stop_tx, stop_rx) = signal::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let signal_tx = stop_tx.clone();
    tokio::spawn(async move {
        weir_shared::shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = signal_tx.send(true);
    });

    let metrics = Metrics::default();
    let readiness = Readiness::default();
    let probes = tokio::spawn(serve_probes(
        flags.probes.metrics_addr,
        metrics.clone(),
        readiness.clone(),
        stopped(),
    ));

    let mut elector = None;
    if flags.leader.leader_elect {
        let ns = flags
            .leader
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "weir-system".into());
        let mut e = LeaderElector::new(
            client.clone(),
            &ns,
            CONTROLLER_NAME,
            &weir_shared::instance_name(),
            flags.leader.leader_lease_duration,
            flags.leader.leader_retry_period,
        );
        tokio::select! {
            () = e.acquire() => {},
            () = stopped() => { return Ok(()); }
        }
        elector = Some(e);
    }
    let lost_leadership = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let keeper = elector.map(|mut e| {
        let tx = stop_tx.clone();
        let lost = lost_leadership.clone();
        let mut rx = stop_tx.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = e.keep() => {
                    lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = tx.send(true);
                }
                () = async { let _ = rx.wait_for(|s| *s).await; } => e.release().await,
            }
        })
    });

    std::fs::create_dir_all(&flags.storage_path)
        .with_context(|| format!("creating storage folder {}", flags.storage_path.display()))?;
    let adv = flags
        .storage_adv_addr
        .clone()
        .unwrap_or_else(|| flags.storage_addr.to_string());
    let store = Storage::new(&flags.storage_path, &adv);
    let server = tokio::spawn(storage::serve(store.clone(), flags.storage_addr, stopped()));

    let ctx = Arc::new(Context {
        client: client.clone(),
        storage: store,
        recorder: EventRecorder::new(
            client.clone(),
            CONTROLLER_NAME,
            flags.runtime.events_addr.as_deref(),
        ),
        metrics,
        backoff: Default::default(),
        settings: Settings {
            allow_file_urls: flags.allow_file_urls,
            artifact_retention: flags.artifact_retention.max(1),
            git_cache_root: flags.storage_path.join(".git-cache"),
            requeue_dependency: flags.runtime.requeue_dependency,
        },
    });
    let api: Api<GitRepository> = Api::all(client);
    let (reader, changes) = watch::filtered_changes(
        api,
        watch::watcher_config(flags.runtime.watch_label_selector.as_deref()),
    );
    readiness.set_ready();
    tracing::info!(storage = %flags.storage_path.display(), addr = %flags.storage_addr, "source-controller started");
    Controller::for_stream(changes, reader)
        .with_config(ControllerConfig::default().concurrency(flags.runtime.concurrent))
        .graceful_shutdown_on(stopped())
        .run(controller::reconcile, controller::error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;

    let _ = stop_tx.send(true);
    if let Some(k) = keeper {
        let _ = k.await;
    }
    server.await.context("artifact server task")??;
    probes.await.context("probe server task")??;
    if lost_leadership.load(std::sync::atomic::Ordering::SeqCst) {
        anyhow::bail!("lost leadership; exiting so that the new leader serves alone");
    }
    Ok(())
}
