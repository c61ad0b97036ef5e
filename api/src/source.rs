//! `source.weir.dev/v1`: sources that produce artifacts for the other controllers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Artifact, LocalObjectReference};

/// Condition types and reasons of the source kinds.
pub mod conditions {
    /// Condition types of source kinds.
    pub mod types {
        /// The artifact in status is present in storage.
        pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
        /// The last fetch failed (negative polarity: True is bad).
        pub const FETCH_FAILED: &str = "FetchFailed";
        /// The last chart build (packaging, values merge, verification) failed (negative
        /// polarity).
        pub const BUILD_FAILED: &str = "BuildFailed";
    }
    /// Reasons of source kinds.
    pub mod reasons {
        /// A Git operation (connect, fetch, resolve) failed.
        pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
        /// A new artifact was written.
        pub const NEW_ARTIFACT: &str = "NewArtifact";
        /// The ignore rules (`.sourceignore` in the commit) could not be read.
        pub const IGNORE_RULES_INVALID: &str = "IgnoreRulesInvalid";
        /// A commit exceeds the artifact budget (`--artifact-max-files`, `--artifact-max-bytes`).
        pub const ARTIFACT_TOO_LARGE: &str = "ArtifactTooLarge";
        /// A Helm repository index could not be fetched or read.
        pub const INDEXATION_FAILED: &str = "IndexationFailed";
        /// A Helm repository index was stored.
        pub const INDEXATION_SUCCEEDED: &str = "IndexationSucceeded";
        /// A chart could not be resolved or downloaded.
        pub const CHART_PULL_ERROR: &str = "ChartPullError";
        /// A chart could not be packaged or verified.
        pub const CHART_PACKAGE_ERROR: &str = "ChartPackageError";
        /// A chart was downloaded from a repository or registry.
        pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
        /// A chart was packaged from a source artifact.
        pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
        /// An OCI pull (manifest, tags, layer) failed.
        pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
        /// The selected OCI layer could not be extracted or copied.
        pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
        /// The referenced source does not exist or has no artifact yet.
        pub const SOURCE_NOT_READY: &str = "SourceNotReady";
        /// A spec value asks for a feature Weir does not implement.
        pub const UNSUPPORTED: &str = "Unsupported";
    }
}

/// Default `spec.timeout` of a Git operation.
pub const DEFAULT_GIT_TIMEOUT: &str = "60s";
/// Default `spec.timeout` of a Helm repository or OCI registry operation.
pub const DEFAULT_REMOTE_TIMEOUT: &str = "60s";
/// Requeue interval of a HelmRepository without `spec.interval` (Flux's one minute).
pub const DEFAULT_HELM_REPOSITORY_INTERVAL: &str = "1m";
/// Branch checked out when `spec.ref` names nothing.
pub const DEFAULT_BRANCH: &str = "master";

/// GitRepository declares a Git repository and the reference to package as an artifact.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.weir.dev",
    version = "v1",
    kind = "GitRepository",
    namespaced,
    status = "GitRepositoryStatus",
    shortname = "gitrepo",
    category = "weir",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// Repository address: `https://`, `http://`, `ssh://` (or scp-like `git@host:path`), and
    /// `file://` when the controller runs with `--allow-file-urls`.
    #[schemars(regex(pattern = r"^(https?|ssh|file)://.*$|^[^@/\s]+@[^:/\s]+:.*$"))]
    pub url: String,

    /// Secret in the same namespace with credentials: `username` and `password` or
    /// `bearerToken` and optionally `ca.crt` for HTTPS; `identity` (private key) and
    /// `known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,

    /// How often the repository is checked for new commits, e.g. `1m`, `1h30m`.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,

    /// Timeout of one Git operation (fetch), default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,

    /// The Git reference to package. Precedence: `commit`, `name`, `semver`, `tag`, `branch`;
    /// the default is branch `master`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,

    /// Extra ignore rules in `.gitignore` syntax, applied after the default exclusions and any
    /// `.sourceignore` files in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,

    /// Stops reconciling this object; the last artifact keeps being served.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// Which Git reference to check out. With several set, the most specific wins:
/// `commit` > `name` > `semver` > `tag` > `branch`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryRef {
    /// Branch name, e.g. `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag name, e.g. `v1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semantic version range over the repository's tags, e.g. `>=1.0.0 <2.0.0`; the highest
    /// matching tag is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Full reference name, e.g. `refs/heads/main`, `refs/tags/v1`, `refs/pull/1/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Commit SHA-1 (40 hex characters). With `branch` set the commit must be on that branch's
    /// history as fetched; alone it is fetched directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Observed state of a GitRepository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`, `ArtifactInStorage`, `FetchFailed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The value of the `reconcile.weir.dev/requestedAt` annotation last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(GitRepositoryStatus);

/// An Access Control List for cross-namespace references. Provisional in Flux and not
/// enforced there either; accepted so that Flux manifests keep their shape.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Namespace selectors whose objects may refer to this one.
    #[serde(default)]
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// Selects namespaces by label.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels a namespace must carry.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub match_labels: std::collections::BTreeMap<String, String>,
}

/// HelmRepository declares a Helm chart repository: an HTTP/S repository whose `index.yaml`
/// becomes an artifact, or an OCI registry (`type: oci`) whose URL and credentials
/// HelmCharts use.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.weir.dev",
    version = "v1",
    kind = "HelmRepository",
    namespaced,
    status = "HelmRepositoryStatus",
    shortname = "helmrepo",
    category = "weir",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// Repository address: `https://` or `http://` (type `default`), `oci://` (type `oci`).
    #[schemars(regex(pattern = r"^(http|https|oci)://.*$"))]
    pub url: String,

    /// Secret in the same namespace with `username` and `password` (HTTP basic auth, or
    /// registry login for type `oci`). The deprecated `caFile`, `certFile`, `keyFile` keys
    /// are read when `certSecretRef` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,

    /// Secret in the same namespace with `ca.crt` and/or `tls.crt` + `tls.key` (PEM) for
    /// TLS; takes precedence over TLS keys in `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,

    /// Sends the `secretRef` credentials also to chart URLs on other hosts than `url`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pass_credentials: bool,

    /// How often the index is fetched, e.g. `10m`; default one minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,

    /// Plain HTTP to the registry (type `oci` only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,

    /// Timeout of the index fetch, and of the chart pull of HelmCharts using this
    /// repository; default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"))]
    pub timeout: Option<String>,

    /// Stops reconciling this object; the last artifact keeps being served.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// Cross-namespace access list (provisional, not enforced, as in Flux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,

    /// `default` (HTTP/S repository with an index) or `oci`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["default", "oci"]))]
    pub repository_type: Option<String>,

    /// Authentication provider for type `oci`: only `generic` (static credentials) is
    /// implemented; `aws`, `azure` and `gcp` are refused with a clear condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["generic", "aws", "azure", "gcp"]))]
    pub provider: Option<String>,
}

impl HelmRepositorySpec {
    /// Whether this repository is an OCI registry (`type: oci`).
    #[must_use]
    pub fn is_oci(&self) -> bool {
        self.repository_type.as_deref() == Some("oci")
    }
}

/// Observed state of a HelmRepository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositoryStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`, `ArtifactInStorage`, `FetchFailed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest index artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The stored index (type `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The value of the `reconcile.weir.dev/requestedAt` annotation last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(HelmRepositoryStatus);

/// `spec.reconcileStrategy` of a HelmChart: a new artifact when the chart version changes.
pub const RECONCILE_STRATEGY_CHART_VERSION: &str = "ChartVersion";
/// `spec.reconcileStrategy` of a HelmChart: a new artifact when the source revision changes.
pub const RECONCILE_STRATEGY_REVISION: &str = "Revision";

/// HelmChart declares a chart, from a HelmRepository (by name and version range) or from
/// a GitRepository artifact (by path), packaged as a `.tgz` artifact.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.weir.dev",
    version = "v1",
    kind = "HelmChart",
    namespaced,
    status = "HelmChartStatus",
    shortname = "hc",
    category = "weir",
    printcolumn = r#"{"name":"Chart","type":"string","jsonPath":".spec.chart"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Source Kind","type":"string","jsonPath":".spec.sourceRef.kind"}"#,
    printcolumn = r#"{"name":"Source Name","type":"string","jsonPath":".spec.sourceRef.name"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartSpec {
    /// Chart name in a HelmRepository, or the chart folder's path in a GitRepository artifact.
    pub chart: String,

    /// Semantic version range (Helm's constraint syntax), default `*`: the highest matching
    /// version, pre-releases only when the range names one. Ignored for GitRepository
    /// sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// The source holding the chart.
    pub source_ref: LocalHelmChartSourceReference,

    /// How often the source is checked for a new chart, e.g. `5m`.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,

    /// `ChartVersion` (default): a new artifact when the chart version changes; `Revision`:
    /// also when the source revision changes (Git sources: version `<v>+<commit[0:12]>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["ChartVersion", "Revision"]))]
    pub reconcile_strategy: Option<String>,

    /// Values files, relative to the source (Git) or the chart (repository), merged in order
    /// (later wins) and packaged as the chart's `values.yaml`; `values.yaml` is not included
    /// unless listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,

    /// Deprecated single values file, merged before `valuesFiles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_file: Option<String>,

    /// Skips values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_missing_values_files: bool,

    /// Stops reconciling this object; the last artifact keeps being served.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// Cross-namespace access list (provisional, not enforced, as in Flux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,

    /// Signature verification (cosign, notation). Not implemented: a HelmChart that sets it
    /// is refused with `Unsupported` rather than used unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
}

impl HelmChartSpec {
    /// `valuesFile` then `valuesFiles`, as Flux merges them.
    #[must_use]
    pub fn all_values_files(&self) -> Vec<String> {
        self.values_file
            .iter()
            .filter(|f| !f.is_empty())
            .cloned()
            .chain(self.values_files.iter().cloned())
            .collect()
    }

    /// The effective reconcile strategy.
    #[must_use]
    pub fn strategy(&self) -> &str {
        self.reconcile_strategy
            .as_deref()
            .unwrap_or(RECONCILE_STRATEGY_CHART_VERSION)
    }
}

/// The source of a HelmChart, in its namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LocalHelmChartSourceReference {
    /// API version of the source, default `source.weir.dev/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket` (Bucket is not implemented yet).
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: String,
    /// Name of the source.
    pub name: String,
}

/// Observed state of a HelmChart.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The source artifact revision of the last build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_artifact_revision: Option<String>,
    /// The chart name of the last build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_chart_name: Option<String>,
    /// The values files merged into the last built artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_values_files: Vec<String>,
    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`, `ArtifactInStorage`,
    /// `FetchFailed`, `BuildFailed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest chart artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The packaged chart `<name>-<version>.tgz`; revision is the chart version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The value of the `reconcile.weir.dev/requestedAt` annotation last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(HelmChartStatus);

/// OCIRepository declares an OCI artifact in a container registry (for example manifests
/// pushed with `weir push artifact` or `flux push artifact`), stored as a tar.gz artifact.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.weir.dev",
    version = "v1",
    kind = "OCIRepository",
    namespaced,
    status = "OCIRepositoryStatus",
    shortname = "ocirepo",
    category = "weir",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositorySpec {
    /// Repository address, `oci://<host>/<path>`.
    #[schemars(regex(pattern = r"^oci://.*$"))]
    pub url: String,

    /// What to pull: `digest` > `semver` (+ `semverFilter`) > `tag`; default tag `latest`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<OCIRepositoryRef>,

    /// Which layer to use; default the first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,

    /// Authentication provider: only `generic` is implemented; `aws`, `azure` and `gcp` are
    /// refused with a clear condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["generic", "aws", "azure", "gcp"]))]
    pub provider: Option<String>,

    /// Secret of type `kubernetes.io/dockerconfigjson` with the registry login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,

    /// Signature verification (cosign, notation). Not implemented: an OCIRepository that sets
    /// it is refused with `Unsupported` rather than used unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,

    /// ServiceAccount in the same namespace whose `imagePullSecrets` hold the registry login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Secret in the same namespace with `ca.crt` and/or `tls.crt` + `tls.key` (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,

    /// Secret with `address`, `username`, `password` of an HTTP proxy. Not implemented:
    /// refused with `Unsupported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,

    /// How often the registry is checked, e.g. `5m`.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,

    /// Timeout of registry operations; default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"))]
    pub timeout: Option<String>,

    /// Ignore rules in `.gitignore` syntax applied to the extracted layer; the default
    /// exclusions apply when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,

    /// Plain HTTP to the registry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,

    /// Stops reconciling this object; the last artifact keeps being served.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// Which OCI artifact version to pull.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryRef {
    /// Manifest digest `sha256:<hex>`; takes precedence over everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Semantic version range over the tags; the highest matching tag wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Regular expression the tags must match before the semver range is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// Tag, default `latest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Which layer of the OCI artifact to use, and how.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OCILayerSelector {
    /// Media type of the layer; the first layer with it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// `extract` (default): the layer is a tar.gz whose files become the artifact; `copy`:
    /// the layer's bytes are stored as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["extract", "copy"]))]
    pub operation: Option<String>,
}

/// Signature verification settings (Flux's shape; not implemented by Weir).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryVerification {
    /// `cosign` or `notation`.
    pub provider: String,
    /// Secret with the trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Keyless identities (cosign).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_oidc_identity: Vec<OIDCIdentityMatch>,
}

/// A keyless signing identity (cosign).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OIDCIdentityMatch {
    /// Regular expression of the OIDC issuer.
    pub issuer: String,
    /// Regular expression of the identity subject.
    pub subject: String,
}

/// Observed state of an OCIRepository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`, `ArtifactInStorage`, `FetchFailed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The stored layer; revision `<tag>@sha256:<manifest digest>`, metadata the manifest
    /// annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The ignore rules used for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The layer selector used for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_layer_selector: Option<OCILayerSelector>,
    /// The value of the `reconcile.weir.dev/requestedAt` annotation last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(OCIRepositoryStatus);

/// ExternalArtifact is an artifact produced outside source-controller's own source kinds:
/// by an ArtifactGenerator, or by any third-party controller that writes `status.artifact`
/// (a tar.gz served over HTTP) and a `Ready` condition. Kustomizations use it as a source.
/// Nothing reconciles its spec: the producer owns the whole object.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.weir.dev",
    version = "v1",
    kind = "ExternalArtifact",
    namespaced,
    status = "ExternalArtifactStatus",
    shortname = "ea",
    category = "weir",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".spec.sourceRef.name"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactSpec {
    /// The object that produces this artifact, e.g. the ArtifactGenerator; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<crate::kustomize::NamespacedObjectKindReference>,
}

/// Observed state of an ExternalArtifact, written by its producer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactStatus {
    /// The artifact: URL of a tar.gz, its `sha256:` digest, revision and metadata
    /// (`org.opencontainers.image.revision` is reported by consumers as the origin revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// kstatus conditions; `Ready=True` once the artifact can be used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
