//! The lifecycle every controller binary shares: Kubernetes client, shutdown on
//! SIGINT/SIGTERM, the health/metrics server, and leader election (a process only runs its
//! controllers while it holds the Lease, and exits when it loses it).
//!
//! Shutdown is bounded in every state: the signal handler is installed first, every wait of
//! [`Process::start`] (client creation, leader election) races the stop signal, and once stop
//! is requested (signal or lost lease) a watchdog thread exits the process after
//! [`ProcessLimits::shutdown_grace`] (default [`DEFAULT_SHUTDOWN_GRACE`], 10 s) even if tasks —
//! reconciles, blocking work, servers — have not finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::flags::ControllerFlags;
use crate::leader::LeaderElector;
use crate::metrics::Metrics;
use crate::server::{Readiness, ServerLimits, serve_probes_with};

/// Default of [`ProcessLimits::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Process-wide limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessLimits {
    /// How long after a stop request (SIGTERM/SIGINT or a lost lease) the process may take to
    /// finish; then it exits with status 1 whatever is still running. Keep it below the
    /// Pod's `terminationGracePeriodSeconds`.
    pub shutdown_grace: Duration,
    /// Limits of the HTTP servers (probes here; controllers pass
    /// [`Process::server_limits`] to their own servers).
    pub server: ServerLimits,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        Self {
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            server: ServerLimits::default(),
        }
    }
}

/// A running controller process.
pub struct Process {
    /// Kubernetes client.
    pub client: kube::Client,
    /// Metrics served on `/metrics`.
    pub metrics: Metrics,
    /// Set once the controller runs (`/readyz`).
    pub readiness: Readiness,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    probes: JoinHandle<anyhow::Result<()>>,
    keeper: Option<JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    limits: ProcessLimits,
}

impl Process {
    /// [`Process::start_with`] with the default [`ProcessLimits`].
    ///
    /// # Errors
    /// Kubeconfig or bind failures.
    pub async fn start(flags: &ControllerFlags, lease_name: &str) -> anyhow::Result<Option<Self>> {
        Self::start_with(flags, lease_name, &ProcessLimits::default()).await
    }

    /// Connects, starts the probe server and, with leader election, waits for the Lease
    /// `lease_name`. Returns None when shutdown was requested before leadership was won (or
    /// before the client was created).
    ///
    /// # Errors
    /// Kubeconfig or bind failures.
    pub async fn start_with(
        flags: &ControllerFlags,
        lease_name: &str,
        limits: &ProcessLimits,
    ) -> anyhow::Result<Option<Self>> {
        let (kube, probes, leader) = (&flags.kube, &flags.probes, &flags.leader);
        crate::install_crypto_provider();
        // The signal handler and the watchdog come first, so that no later wait can make the
        // process ignore SIGTERM.
        let (stop_tx, stop_rx) = watch::channel(false);
        let signal_tx = stop_tx.clone();
        tokio::spawn(async move {
            crate::shutdown_signal().await;
            tracing::info!("shutdown requested");
            let _ = signal_tx.send(true);
        });
        tokio::spawn(watchdog(stop_rx.clone(), limits.shutdown_grace));
        let client = tokio::select! {
            client = crate::kube_client(kube) => client?,
            () = wait_stopped(stop_rx.clone()) => return Ok(None),
        };
        let metrics = Metrics::default();
        let readiness = Readiness::default();
        let stopped = wait_stopped(stop_rx.clone());
        let (metrics_for_probes, readiness_for_probes) = (metrics.clone(), readiness.clone());
        // Bind before anything else: a taken port must stop the process at once.
        let listener = crate::server::bind(probes.metrics_addr, "health/metrics").await?;
        let server_limits = limits.server.clone();
        let probes = tokio::spawn(async move {
            serve_probes_with(
                listener,
                metrics_for_probes,
                readiness_for_probes,
                stopped,
                &server_limits,
            )
            .await
        });
        let lost = Arc::new(AtomicBool::new(false));
        let mut keeper = None;
        if leader.leader_elect {
            let ns = leader
                .leader_election_namespace
                .clone()
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "weir-system".into());
            let mut elector = LeaderElector::new(
                client.clone(),
                &ns,
                lease_name,
                &crate::instance_name(),
                leader.leader_lease_duration,
                leader.leader_retry_period,
            );
            tokio::select! {
                () = elector.acquire() => {},
                () = wait_stopped(stop_rx.clone()) => {
                    probes.abort();
                    return Ok(None);
                }
            }
            let tx = stop_tx.clone();
            let lost_flag = lost.clone();
            let rx = stop_rx.clone();
            keeper = Some(tokio::spawn(async move {
                tokio::select! {
                    () = elector.keep() => {
                        lost_flag.store(true, Ordering::SeqCst);
                        let _ = tx.send(true);
                    }
                    () = wait_stopped(rx) => elector.release().await,
                }
            }));
        }
        Ok(Some(Self {
            client,
            metrics,
            readiness,
            stop_tx,
            stop_rx,
            probes,
            keeper,
            lost,
            limits: limits.clone(),
        }))
    }

    /// The limits for the HTTP servers a controller runs besides the probes (for example
    /// the artifact server: `storage::serve_with(.., process.server_limits())`).
    pub fn server_limits(&self) -> &ServerLimits {
        &self.limits.server
    }

    /// A future that resolves on shutdown or loss of leadership.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        wait_stopped(self.stop_rx.clone())
    }

    /// Stops everything and waits for the servers and the Lease release.
    ///
    /// # Errors
    /// A server that failed, or lost leadership (so that the process exits non-zero and the
    /// new leader serves alone).
    pub async fn finish(self) -> anyhow::Result<()> {
        let _ = self.stop_tx.send(true);
        if let Some(k) = self.keeper {
            let _ = k.await;
        }
        self.probes.await??;
        if self.lost.load(Ordering::SeqCst) {
            anyhow::bail!("lost leadership; exiting so that the new leader serves alone");
        }
        Ok(())
    }
}

/// Once stop is requested, gives the process `grace` to finish, then exits it. A thread, not
/// a task: the runtime itself may be what does not finish (it waits for blocking tasks).
async fn watchdog(rx: watch::Receiver<bool>, grace: Duration) {
    wait_stopped(rx).await;
    let spawned = std::thread::Builder::new()
        .name("shutdown-watchdog".into())
        .spawn(move || {
            std::thread::sleep(grace);
            tracing::error!(?grace, "shutdown did not finish in time; exiting");
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "starting the shutdown watchdog failed");
    }
}

async fn wait_stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
