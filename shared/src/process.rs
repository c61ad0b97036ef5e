//! The lifecycle every controller binary shares: Kubernetes client, shutdown on
//! SIGINT/SIGTERM, the health/metrics server, and leader election (a process only runs its
//! controllers while it holds the Lease, and exits when it loses it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::flags::ControllerFlags;
use crate::leader::LeaderElector;
use crate::metrics::Metrics;
use crate::server::{Readiness, serve_probes};

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
}

impl Process {
    /// Connects, starts the probe server and, with leader election, waits for the Lease
    /// `lease_name`. Returns None when shutdown was requested before leadership was won.
    ///
    /// # Errors
    /// Kubeconfig or bind failures.
    pub async fn start(flags: &ControllerFlags, lease_name: &str) -> anyhow::Result<Option<Self>> {
        let (kube, probes, leader) = (&flags.kube, &flags.probes, &flags.leader);
        crate::install_crypto_provider();
        let client = crate::kube_client(kube).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let signal_tx = stop_tx.clone();
        tokio::spawn(async move {
            crate::shutdown_signal().await;
            tracing::info!("shutdown requested");
            let _ = signal_tx.send(true);
        });
        let metrics = Metrics::default();
        let readiness = Readiness::default();
        let stopped = wait_stopped(stop_rx.clone());
        // Bind before anything else: a taken port must stop the process at once.
        let listener = crate::server::bind(probes.metrics_addr, "health/metrics").await?;
        let probes = tokio::spawn(serve_probes(
            listener,
            metrics.clone(),
            readiness.clone(),
            stopped,
        ));
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
        }))
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

async fn wait_stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
