//! Command-line flag groups every controller flattens into its own `clap` struct. Every flag
//! also reads an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s)
}

/// How to reach the Kubernetes API.
#[derive(Args, Clone, Debug)]
pub struct KubeFlags {
    /// Kubeconfig file; without it the in-cluster config (or `~/.kube/config`) is used.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

/// Leader election on a `coordination.k8s.io/v1` Lease.
#[derive(Args, Clone, Debug)]
pub struct LeaderFlags {
    /// Elect a leader so that only one replica reconciles and serves artifacts.
    #[arg(long, env = "WEIR_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the Lease; defaults to the pod's namespace, else `weir-system`.
    #[arg(long, env = "WEIR_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// How long a lease is valid without renewal.
    #[arg(long, env = "WEIR_LEADER_LEASE_DURATION", default_value = "35s", value_parser = parse_duration)]
    pub leader_lease_duration: Duration,
    /// How often the leader renews, and others retry.
    #[arg(long, env = "WEIR_LEADER_RETRY_PERIOD", default_value = "5s", value_parser = parse_duration)]
    pub leader_retry_period: Duration,
}

/// Health, readiness and metrics endpoints.
#[derive(Args, Clone, Debug)]
pub struct ProbeFlags {
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "WEIR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
}

/// Log output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// Logging.
#[derive(Args, Clone, Debug)]
pub struct LogFlags {
    /// Log format.
    #[arg(long, env = "WEIR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `source_controller=debug,info`.
    #[arg(long, env = "WEIR_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

/// Reconcile loop tuning shared by every controller.
#[derive(Args, Clone, Debug)]
pub struct RuntimeFlags {
    /// How many objects are reconciled at once.
    #[arg(long, env = "WEIR_CONCURRENT", default_value_t = 4)]
    pub concurrent: u16,
    /// Only reconcile objects matching this label selector (sharding), e.g. `shard=a`.
    #[arg(long, env = "WEIR_WATCH_LABEL_SELECTOR")]
    pub watch_label_selector: Option<String>,
    /// Requeue delay while a dependency or source is not ready.
    #[arg(long, env = "WEIR_REQUEUE_DEPENDENCY", default_value = "30s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// Address of the notification-controller's event endpoint, e.g.
    /// `http://notification-controller.weir-system.svc/`.
    #[arg(long, env = "WEIR_EVENTS_ADDR")]
    pub events_addr: Option<String>,
}

/// Every flag the controllers share, as one group: `#[command(flatten)] common: ControllerFlags`.
#[derive(Args, Clone, Debug)]
pub struct ControllerFlags {
    /// How to reach the Kubernetes API.
    #[command(flatten)]
    pub kube: KubeFlags,
    /// Leader election.
    #[command(flatten)]
    pub leader: LeaderFlags,
    /// Health, readiness and metrics endpoints.
    #[command(flatten)]
    pub probes: ProbeFlags,
    /// Logging.
    #[command(flatten)]
    pub log: LogFlags,
    /// Reconcile loop tuning.
    #[command(flatten)]
    pub runtime: RuntimeFlags,
}
