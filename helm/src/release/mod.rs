//! Helm releases as Helm 4 stores them, so that Weir's helm-controller and the `helm` CLI
//! share one release history: `helm list`, `history`, `get`, `status`, `rollback` and
//! `uninstall` work on what Weir stored, and Weir adopts what `helm install` stored.
//!
//! - [`Release`], [`Info`], [`Status`]: one revision of a release in Helm's JSON shape
//!   (`pkg/release/v1`), field names, order and omissions as Go writes them.
//! - [`hook`]: the release's hooks and their last runs; [`join_manifests`] builds the
//!   release's `manifest` from rendered documents as Helm does.
//! - [`chart`]: the chart a release carries ([`ReleaseChart::from_chart`] maps a loaded chart).
//! - [`storage`]: the Secret storage driver's format — Secret names, type and labels, the
//!   `release` data (base64 of gzip of JSON), and which revisions `--history-max` prunes.
//!
//! Pure: building the Secrets and talking to the API server is the controller's business.
//!
//! Recorded with helm 4.1.4. Numbers in `config` and chart values read back as float64, as Go
//! reads JSON into `interface{}` (a `--set n=3` Helm stored is `3.0` here, and is written back
//! as `3`), so values reused from a stored release render as Helm renders them.

pub mod chart;
mod go_json;
pub mod hook;
pub mod storage;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::chart::Values;

pub use chart::{
    ChartDependency, ChartFile, ChartLock, ChartMaintainer, ChartMetadata, ReleaseChart,
};
pub use hook::{
    Hook, HookDeletePolicy, HookEvent, HookExecution, HookOutputLogPolicy, HookPhase,
    join_manifests,
};
pub use storage::{
    DecodeError, EncodeError, HistoryEntry, RevisionLabels, SecretWrite, custom_labels,
    decode_release, encode_release, history_to_prune, last_deployed, latest, secret_labels,
    secret_labels_for_write, secret_name,
};
pub use time::Timestamp;

/// The state of one revision of a release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The state is not known.
    #[default]
    #[serde(alias = "")]
    Unknown,
    /// The revision is what the cluster runs.
    Deployed,
    /// The release was uninstalled (kept with `--keep-history`).
    Uninstalled,
    /// A later revision replaced this one.
    Superseded,
    /// Installing or upgrading to this revision failed.
    Failed,
    /// An uninstall is under way.
    Uninstalling,
    /// An install is under way.
    PendingInstall,
    /// An upgrade is under way.
    PendingUpgrade,
    /// A rollback is under way.
    PendingRollback,
}

impl Status {
    /// The text Helm stores (and puts in the `status` label).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// Whether an operation is under way (Helm refuses another one then).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            other => return Err(UnknownStatus(other.to_string())),
        })
    }
}

/// A release status Helm does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown release status {0:?}")]
pub struct UnknownStatus(pub String);

/// How a revision's objects were applied (Helm 4; absent in releases Helm 3 wrote, which
/// Helm treats as client-side apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApplyMethod {
    /// `csa`: client-side apply (three-way merge patches).
    #[serde(rename = "csa")]
    ClientSide,
    /// `ssa`: server-side apply (Helm 4's default for installs).
    #[serde(rename = "ssa")]
    ServerSide,
}

/// What happened to one revision, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// When the release's first revision was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time")]
    pub first_deployed: Option<Timestamp>,
    /// When this revision was deployed (`helm history`'s `updated`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time")]
    pub last_deployed: Option<Timestamp>,
    /// When the release was uninstalled.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time")]
    pub deleted: Option<Timestamp>,
    /// A human-readable log line (`Install complete`, `Upgrade "x" failed: ...`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The revision's state.
    #[serde(default)]
    pub status: Status,
    /// The rendered `NOTES.txt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// The live objects, which `helm status` fills in when it prints; never stored by Helm,
    /// kept as read.
    #[serde(
        default,
        skip_serializing_if = "serde_json::Map::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub resources: serde_json::Map<String, serde_json::Value>,
}

/// One revision of a release, in Helm's JSON shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// State and times.
    #[serde(default, deserialize_with = "null_as_default")]
    pub info: Info,
    /// The chart this revision installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ReleaseChart>,
    /// The user-supplied values (`helm get values`), not the chart's defaults.
    #[serde(
        default,
        skip_serializing_if = "serde_json::Map::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub config: Values,
    /// The rendered ordinary manifests, joined as [`join_manifests`] joins them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The rendered hooks.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub hooks: Vec<Hook>,
    /// The revision, from 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// The namespace the release lives in (and its Secrets).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// How the objects were applied.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "apply_method_or_empty"
    )]
    pub apply_method: Option<ApplyMethod>,
    /// Custom labels (`helm install --labels`): not in the JSON, but on the storage Secret
    /// beside Helm's own labels (see [`storage::secret_labels`], [`storage::custom_labels`]).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

impl Release {
    /// `<chart name>-<chart version>`, as `helm list` and `helm history` show the chart.
    pub fn chart_reference(&self) -> String {
        match &self.chart {
            Some(c) => format!("{}-{}", c.name(), c.version()),
            None => String::new(),
        }
    }

    /// The chart's `appVersion` (empty without a chart).
    pub fn app_version(&self) -> &str {
        self.chart.as_ref().map_or("", |c| c.app_version())
    }

    /// Numbers in `config` and the chart's values as float64, as Go reads them back.
    fn numbers_as_go_reads_them(&mut self) {
        numbers_as_float64(&mut self.config);
        if let Some(chart) = &mut self.chart {
            numbers_as_float64(&mut chart.values);
        }
    }
}

fn numbers_as_float64(values: &mut Values) {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if !n.is_f64() => {
                if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                    *n = f;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    values.values_mut().for_each(walk);
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Go reads `null` into a slice or map as empty; serde's `default` covers only absence.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `apply_method` is a string; Helm reads an empty one as unset.
fn apply_method_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ApplyMethod>, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref() {
        None | Some("") => Ok(None),
        Some("csa") => Ok(Some(ApplyMethod::ClientSide)),
        Some("ssa") => Ok(Some(ApplyMethod::ServerSide)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "unknown apply_method {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests;
