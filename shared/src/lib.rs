//! The runtime every Weir controller uses: conditions, the one reconcile driver and its
//! error policy, status patching, events, leader election, metrics, health endpoints, flags,
//! logging, artifact storage, serving, fetch and the unpack cache, safe untar, the
//! kind-agnostic server-side apply engine, inventories, kstatus health, dependency
//! readiness and the roots HTTPS clients trust.

pub mod apply;
pub mod archive;
pub mod artifact_cache;
pub mod conditions;
pub mod dependencies;
pub mod driver;
pub mod duration;
pub mod error;
pub mod events;
pub mod fetch;
pub mod flags;
pub mod health;
pub mod inventory;
pub mod leader;
pub mod metrics;
pub mod oci;
pub mod process;
pub mod reconcile;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod untar;
pub mod watch;

pub use error::{Next, ReconcileError};

/// Installs rustls' ring crypto provider as the process default. Call once at the start of
/// every binary and test that makes TLS connections; later calls do nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// This process's instance name: the pod name in a cluster, else the host name and PID.
pub fn instance_name() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default();
            format!(
                "{}-{}",
                if host.is_empty() { "localhost" } else { &host },
                std::process::id()
            )
        })
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// A Kubernetes client from `--kubeconfig`, else the in-cluster or default config.
///
/// # Errors
/// When no usable configuration is found.
pub async fn kube_client(flags: &flags::KubeFlags) -> anyhow::Result<kube::Client> {
    use anyhow::Context as _;
    let config = match &flags.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .with_context(|| format!("loading kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig given and no in-cluster config found")?,
    };
    kube::Client::try_from(config).context("creating Kubernetes client")
}
