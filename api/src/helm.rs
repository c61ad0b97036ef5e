//! `helm.weir.dev/v2`: HelmReleases that install, upgrade, test, roll back and uninstall a
//! Helm chart, with the field set of Flux's `helm.toolkit.fluxcd.io/v2`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kustomize::{CommonMetadata, Image, Inventory, Patch, Selector};
use crate::meta::LocalObjectReference;

/// Condition types and reasons of HelmReleases.
pub mod conditions {
    /// Condition types of HelmReleases (besides the shared `Ready`, `Reconciling`, `Stalled`).
    pub mod types {
        /// Outcome of the last install or upgrade against the current desired state.
        pub const RELEASED: &str = "Released";
        /// Outcome of the last Helm test run against the current desired state.
        pub const TEST_SUCCESS: &str = "TestSuccess";
        /// Outcome of the last rollback or uninstall done to remediate a failed release.
        pub const REMEDIATED: &str = "Remediated";
        /// Whether the cluster differs from the manifest in the Helm storage (only with drift
        /// detection `enabled` or `warn`).
        pub const DRIFTED: &str = "Drifted";
    }
    /// Reasons of HelmReleases; events about an action carry the same reasons.
    pub mod reasons {
        /// A Helm install completed.
        pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
        /// A Helm install failed.
        pub const INSTALL_FAILED: &str = "InstallFailed";
        /// A Helm upgrade completed.
        pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
        /// A Helm upgrade failed.
        pub const UPGRADE_FAILED: &str = "UpgradeFailed";
        /// The Helm tests of the release passed.
        pub const TEST_SUCCEEDED: &str = "TestSucceeded";
        /// A Helm test of the release failed.
        pub const TEST_FAILED: &str = "TestFailed";
        /// A Helm rollback completed.
        pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
        /// A Helm rollback failed.
        pub const ROLLBACK_FAILED: &str = "RollbackFailed";
        /// A Helm uninstall completed.
        pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
        /// A Helm uninstall failed.
        pub const UNINSTALL_FAILED: &str = "UninstallFailed";
        /// The chart artifact could not be fetched or loaded.
        pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
        /// The Helm configuration (client, storage, values) could not be set up.
        pub const INIT_FAILED: &str = "InitFailed";
        /// The current release could not be read from the Helm storage.
        pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
        /// A HelmRelease (or Kustomization) in `dependsOn` is not ready.
        pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
        /// A reconcile finished without error.
        pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
        /// A reconcile ended with an error.
        pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
        /// The install or upgrade retries are used up (the `Stalled` reason).
        pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";
        /// A reconcile failed and will be retried (the `Reconciling` reason).
        pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
        /// The cluster differs from the release manifest.
        pub const DRIFT_DETECTED: &str = "DriftDetected";
        /// The cluster matches the release manifest.
        pub const NO_DRIFT_DETECTED: &str = "NoDriftDetected";
        /// The wait for resources was cancelled because a newer desired state arrived.
        pub const HEALTH_CHECK_CANCELED: &str = "HealthCheckCanceled";
        /// A `healthCheckExprs` or `dependsOn[].readyExpr` expression does not compile.
        pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
        /// The objects of the release could not be listed for `status.inventory`.
        pub const INVENTORY_BUILD_FAILED: &str = "InventoryBuildFailed";
    }
}

/// Annotation requesting a one-off install or upgrade without a spec change; acted on when
/// its value equals `reconcile.weir.dev/requestedAt` and differs from
/// `status.lastHandledForceAt`.
pub const FORCE_REQUEST_ANNOTATION: &str = "reconcile.weir.dev/forceAt";
/// Annotation requesting a reset of the failure counters, so that exhausted retries start
/// over; acted on like [`FORCE_REQUEST_ANNOTATION`], recorded in `status.lastHandledResetAt`.
pub const RESET_REQUEST_ANNOTATION: &str = "reconcile.weir.dev/resetAt";
/// Label or annotation on a rendered object that excludes it from drift detection when set
/// to [`DRIFT_DETECTION_DISABLED_VALUE`].
pub const DRIFT_DETECTION_METADATA_KEY: &str = "helm.weir.dev/driftDetection";
/// The value of [`DRIFT_DETECTION_METADATA_KEY`] that excludes an object.
pub const DRIFT_DETECTION_DISABLED_VALUE: &str = "disabled";

/// Default `spec.timeout` of every Helm action.
pub const DEFAULT_TIMEOUT: &str = "5m";
/// Default `spec.maxHistory`: release versions Helm keeps in its storage.
pub const DEFAULT_MAX_HISTORY: i64 = 5;
/// Default `retryInterval` of the `RetryOnFailure` install and upgrade strategies.
pub const DEFAULT_RETRY_INTERVAL: &str = "5m";
/// Default `valuesFrom[].valuesKey`.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";
/// Default `spec.chart.spec.version`: the newest version.
pub const DEFAULT_CHART_VERSION: &str = "*";
/// Longest name Helm accepts for a release; longer default names are shortened.
pub const MAX_RELEASE_NAME_LENGTH: usize = 53;

/// HelmRelease installs a Helm chart from a source and keeps the release equal to the chart,
/// the values and the post-renderers: install, upgrade, test, remediation by rollback or
/// uninstall, drift detection and correction.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "helm.weir.dev",
    version = "v2",
    kind = "HelmRelease",
    namespaced,
    status = "HelmReleaseStatus",
    shortname = "hr",
    category = "weir",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// Template of the HelmChart the controller creates (in the namespace of `sourceRef`,
    /// named `<namespace>-<name>` of this HelmRelease) to fetch the chart. Exactly one of
    /// `chart` and `chartRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,

    /// An existing source whose artifact is the chart: an OCIRepository, a HelmChart or an
    /// ExternalArtifact. Exactly one of `chart` and `chartRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<CrossNamespaceSourceReference>,

    /// How often the release is reconciled (and checked for drift), e.g. `10m`.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,

    /// Kubeconfig of a remote cluster to release into. With `serviceAccountName` the
    /// controller impersonates that account on the remote cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,

    /// Stops reconciling; an action already running is finished, the release is left as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// Name of the Helm release. Default `[<targetNamespace>-]<name>`, shortened to
    /// 53 characters (the first 40, a dash and 12 hex characters of its SHA-256) when longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,

    /// Namespace the release is installed into; defaults to the HelmRelease's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,

    /// Namespace of the Helm storage (the release Secrets); defaults to the HelmRelease's
    /// namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,

    /// HelmReleases that must be Ready before this one is reconciled. Weir extension: an
    /// entry with `kind: Kustomization` names a Kustomization instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,

    /// Time to wait for each Kubernetes operation of a Helm action (hook Jobs, readiness),
    /// default `5m`; the actions' own `timeout` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,

    /// Release versions Helm keeps in its storage, default 5; 0 keeps all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,

    /// ServiceAccount in the HelmRelease's namespace to impersonate for every action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Reuse one Kubernetes client for the whole reconcile instead of one per Helm action
    /// step; default true. Charts that create CRDs outside Helm's CRD handling and use them in
    /// later hooks may need false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,

    /// Comparison of the cluster with the manifest in the Helm storage, and its correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,

    /// Settings of the Helm install action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,

    /// Settings of the Helm upgrade action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,

    /// Settings of the Helm test action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,

    /// Settings of the Helm rollback action (upgrade remediation strategy `rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,

    /// Settings of the Helm uninstall action (install remediation, upgrade remediation
    /// strategy `uninstall`, deletion of the HelmRelease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,

    /// ConfigMaps and Secrets holding values, merged in order (later wins), then `values`
    /// over them; an entry with `targetPath` sets one value and wins over `values` too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,

    /// Inline Helm values (any YAML), merged over those of `valuesFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub values: Option<serde_json::Value>,

    /// Post-renderers applied in order to the rendered manifests before they are applied
    /// (and stored by Helm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<PostRenderer>,

    /// Labels and annotations added to every object of the release (existing keys are
    /// overwritten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,

    /// How Helm waits for applied objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,

    /// CEL health checks for custom resources, used while waiting with the `poller` strategy
    /// (actions whose `disableWait` is false).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
}

/// Schema of a free-form field: anything, kept as it is by the API server.
fn preserve_unknown_fields(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// The first `MAX_RELEASE_NAME_LENGTH` characters are kept as they are; a longer name becomes
/// its first 40 characters, a dash and the first 12 hex characters of its SHA-256, as Flux
/// shortens release names.
#[must_use]
pub fn shorten_release_name(name: &str) -> String {
    const HASH_LENGTH: usize = 12;
    if name.len() <= MAX_RELEASE_NAME_LENGTH {
        return name.to_string();
    }
    let mut keep = MAX_RELEASE_NAME_LENGTH - HASH_LENGTH - 1;
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let hash = sha256_hex(name.as_bytes());
    format!("{}-{}", &name[..keep], &hash[..HASH_LENGTH])
}

/// SHA-256 of `data` as lowercase hex (FIPS 180-4); only release name shortening needs it.
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let bit_length = (data.len() as u64).wrapping_mul(8);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_length.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for (k, w) in K.iter().zip(w) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(w);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }
    state.iter().map(|word| format!("{word:08x}")).collect()
}

/// Message of [`HelmReleaseSpec::validate`] when neither or both of `chart` and `chartRef`
/// are set.
pub const CHART_XOR_CHART_REF_MESSAGE: &str = "either chart or chartRef must be set";

impl HelmReleaseSpec {
    /// The rules Flux's CRD enforces with CEL (`x-kubernetes-validations`), which the API
    /// servers Weir supports (1.20 and later) do not all evaluate: exactly one of `chart` and
    /// `chartRef`, and no `retryInterval` with the `RemediateOnFailure` strategy.
    ///
    /// # Errors
    /// Every violated rule, in Flux's wording.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.chart.is_some() == self.chart_ref.is_some() {
            errors.push(CHART_XOR_CHART_REF_MESSAGE.to_string());
        }
        for (field, strategy) in [
            (
                "install",
                self.install.as_ref().and_then(|a| a.strategy.as_ref()),
            ),
            (
                "upgrade",
                self.upgrade.as_ref().and_then(|a| a.strategy.as_ref()),
            ),
        ] {
            if let Some(strategy) = strategy
                && strategy.name == StrategyName::RemediateOnFailure
                && strategy.retry_interval.is_some()
            {
                errors.push(format!(
                    "spec.{field}.strategy: .retryInterval cannot be set when .name is 'RemediateOnFailure'"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The Helm release name for a HelmRelease named `object_name`: `releaseName`, else
    /// `<targetNamespace>-<object_name>` or `<object_name>`, shortened to 53 characters.
    #[must_use]
    pub fn release_name(&self, object_name: &str) -> String {
        let name = match (&self.release_name, &self.target_namespace) {
            (Some(release_name), _) if !release_name.is_empty() => release_name.clone(),
            (_, Some(target)) if !target.is_empty() => format!("{target}-{object_name}"),
            _ => object_name.to_string(),
        };
        shorten_release_name(&name)
    }

    /// The namespace the release is installed into: `targetNamespace`, else the HelmRelease's.
    #[must_use]
    pub fn release_namespace<'a>(&'a self, object_namespace: &'a str) -> &'a str {
        self.target_namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(object_namespace)
    }

    /// The namespace of the Helm storage: `storageNamespace`, else the HelmRelease's.
    #[must_use]
    pub fn storage_namespace<'a>(&'a self, object_namespace: &'a str) -> &'a str {
        self.storage_namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(object_namespace)
    }

    /// The timeout of Helm actions that set none of their own, default `5m`.
    #[must_use]
    pub fn timeout(&self) -> &str {
        self.timeout.as_deref().unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Release versions Helm keeps, default 5 (0: unlimited).
    #[must_use]
    pub fn max_history(&self) -> i64 {
        self.max_history.unwrap_or(DEFAULT_MAX_HISTORY)
    }

    /// Whether one Kubernetes client serves the whole reconcile, default true.
    #[must_use]
    pub fn persistent_client(&self) -> bool {
        self.persistent_client.unwrap_or(true)
    }

    /// The drift detection settings, defaults (`disabled`) when unset.
    #[must_use]
    pub fn drift_detection_config(&self) -> DriftDetection {
        self.drift_detection.clone().unwrap_or_default()
    }

    /// The install settings, defaults when unset.
    #[must_use]
    pub fn install_config(&self) -> Install {
        self.install.clone().unwrap_or_default()
    }

    /// The upgrade settings, defaults when unset.
    #[must_use]
    pub fn upgrade_config(&self) -> Upgrade {
        self.upgrade.clone().unwrap_or_default()
    }

    /// The test settings, defaults (tests disabled) when unset.
    #[must_use]
    pub fn test_config(&self) -> Test {
        self.test.clone().unwrap_or_default()
    }

    /// The rollback settings, defaults when unset.
    #[must_use]
    pub fn rollback_config(&self) -> Rollback {
        self.rollback.clone().unwrap_or_default()
    }

    /// The uninstall settings, defaults when unset.
    #[must_use]
    pub fn uninstall_config(&self) -> Uninstall {
        self.uninstall.clone().unwrap_or_default()
    }

    /// The effective wait strategy, default `poller`.
    #[must_use]
    pub fn wait_strategy_name(&self) -> WaitStrategyName {
        self.wait_strategy
            .as_ref()
            .map(|w| w.name)
            .unwrap_or_default()
    }

    /// The install timeout: `install.timeout`, else `timeout`, else `5m`.
    #[must_use]
    pub fn install_timeout(&self) -> &str {
        action_timeout(
            self.install.as_ref().and_then(|a| a.timeout.as_deref()),
            self,
        )
    }

    /// The upgrade timeout: `upgrade.timeout`, else `timeout`, else `5m`.
    #[must_use]
    pub fn upgrade_timeout(&self) -> &str {
        action_timeout(
            self.upgrade.as_ref().and_then(|a| a.timeout.as_deref()),
            self,
        )
    }

    /// The test timeout: `test.timeout`, else `timeout`, else `5m`.
    #[must_use]
    pub fn test_timeout(&self) -> &str {
        action_timeout(self.test.as_ref().and_then(|a| a.timeout.as_deref()), self)
    }

    /// The rollback timeout: `rollback.timeout`, else `timeout`, else `5m`.
    #[must_use]
    pub fn rollback_timeout(&self) -> &str {
        action_timeout(
            self.rollback.as_ref().and_then(|a| a.timeout.as_deref()),
            self,
        )
    }

    /// The uninstall timeout: `uninstall.timeout`, else `timeout`, else `5m`.
    #[must_use]
    pub fn uninstall_timeout(&self) -> &str {
        action_timeout(
            self.uninstall.as_ref().and_then(|a| a.timeout.as_deref()),
            self,
        )
    }
}

fn action_timeout<'a>(own: Option<&'a str>, spec: &'a HelmReleaseSpec) -> &'a str {
    own.unwrap_or_else(|| spec.timeout())
}

impl HelmRelease {
    /// The Helm release name (see [`HelmReleaseSpec::release_name`]).
    #[must_use]
    pub fn release_name(&self) -> String {
        self.spec.release_name(&self.name_any())
    }

    /// The namespace the release is installed into.
    #[must_use]
    pub fn release_namespace(&self) -> String {
        let namespace = self.namespace().unwrap_or_default();
        self.spec.release_namespace(&namespace).to_string()
    }

    /// The namespace of the Helm storage.
    #[must_use]
    pub fn storage_namespace(&self) -> String {
        let namespace = self.namespace().unwrap_or_default();
        self.spec.storage_namespace(&namespace).to_string()
    }

    /// Name of the HelmChart created from `spec.chart`: `<namespace>-<name>`.
    #[must_use]
    pub fn helm_chart_name(&self) -> String {
        format!(
            "{}-{}",
            self.namespace().unwrap_or_default(),
            self.name_any()
        )
    }
}

/// Template of the HelmChart created for a HelmRelease.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplate {
    /// Labels and annotations of the HelmChart.
    #[serde(default, rename = "metadata", skip_serializing_if = "Option::is_none")]
    pub object_meta: Option<HelmChartTemplateObjectMeta>,
    /// Spec of the HelmChart.
    pub spec: HelmChartTemplateSpec,
}

impl HelmChartTemplate {
    /// Namespace of the HelmChart: that of `sourceRef`, else `default_namespace` (the
    /// HelmRelease's).
    #[must_use]
    pub fn namespace<'a>(&'a self, default_namespace: &'a str) -> &'a str {
        self.spec
            .source_ref
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(default_namespace)
    }
}

/// Labels and annotations put on the created HelmChart.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct HelmChartTemplateObjectMeta {
    /// Labels of the HelmChart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the HelmChart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The HelmChart spec fields a HelmRelease sets.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name in a HelmRepository, or path of the chart directory in a GitRepository or
    /// Bucket artifact.
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,

    /// Semantic version range of the chart, default `*` (the newest); ignored for
    /// GitRepository and Bucket sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,

    /// The source holding the chart.
    pub source_ref: CrossNamespaceObjectReference,

    /// How often the source is checked for a new chart; defaults to the HelmRelease's
    /// `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,

    /// `ChartVersion` (default): a new chart artifact when the chart version changes;
    /// `Revision`: also when the source revision changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["ChartVersion", "Revision"], "default" = "ChartVersion"))]
    pub reconcile_strategy: Option<String>,

    /// Values files relative to the source root, merged in order (later wins) into the
    /// chart's values; `values.yaml` is not included unless listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,

    /// Skip values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_missing_values_files: bool,

    /// Signature verification of an OCI chart (cosign, notation). Dependencies not bundled in
    /// the chart are not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HelmChartTemplateVerification>,
}

impl HelmChartTemplateSpec {
    /// The chart version range, default `*`.
    #[must_use]
    pub fn version(&self) -> &str {
        self.version
            .as_deref()
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_CHART_VERSION)
    }

    /// The reconcile strategy, default `ChartVersion`.
    #[must_use]
    pub fn reconcile_strategy(&self) -> &str {
        self.reconcile_strategy
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(crate::source::RECONCILE_STRATEGY_CHART_VERSION)
    }

    /// The source check interval: `interval`, else `release_interval`.
    #[must_use]
    pub fn interval<'a>(&'a self, release_interval: &'a str) -> &'a str {
        self.interval.as_deref().unwrap_or(release_interval)
    }
}

/// Reference to the source of a chart template, in any namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the source, default `source.weir.dev/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: String,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Signature verification of an OCI chart.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateVerification {
    /// Signing technology: `cosign` (default) or `notation`.
    #[schemars(extend("enum" = ["cosign", "notation"], "default" = "cosign"))]
    pub provider: String,
    /// Secret with the trusted public keys; keyless verification when unset (cosign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Reference to a source whose artifact is a chart.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source, default `source.weir.dev/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
    #[schemars(extend("enum" = ["OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: String,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Where the kubeconfig of a remote cluster comes from: a Secret with a kubeconfig, or a
/// ConfigMap with workload identity parameters. Set one of them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// ConfigMap in the HelmRelease's namespace with workload identity parameters:
    /// `provider` (`aws`, `azure`, `gcp` or `generic`), `cluster`, `address`, `ca.crt`,
    /// `audiences` and `serviceAccountName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectReference>,
    /// Secret in the HelmRelease's namespace holding a self-contained kubeconfig under `key`
    /// (default `value`, then `value.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

/// A Secret in the same namespace and, optionally, one of its keys.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret; each consumer documents its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A HelmRelease (or, as a Weir extension, a Kustomization) that must be ready first.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Kind of the dependency: `HelmRelease` (default) or `Kustomization` (a Weir extension;
    /// Flux only has HelmReleases here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["HelmRelease", "Kustomization"]))]
    pub kind: Option<String>,
    /// Name of the dependency.
    pub name: String,
    /// Namespace of the dependency; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression over `dep` (the dependency) and `self` (this HelmRelease) that decides
    /// readiness instead of the dependency's `Ready` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

impl DependencyReference {
    /// The kind of the dependency, default `HelmRelease`.
    #[must_use]
    pub fn kind(&self) -> &str {
        self.kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or("HelmRelease")
    }
}

/// Drift detection: the manifest in the Helm storage is compared with the cluster by a
/// server-side apply dry run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DriftDetection {
    /// `enabled` (detect and correct), `warn` (detect and report) or `disabled` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
    /// Parts of objects left out of the comparison.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

impl DriftDetection {
    /// The mode, default `disabled`.
    #[must_use]
    pub fn mode(&self) -> DriftDetectionMode {
        self.mode.unwrap_or_default()
    }

    /// Whether drift is detected at all (`enabled` or `warn`).
    #[must_use]
    pub fn must_detect_changes(&self) -> bool {
        self.mode() != DriftDetectionMode::Disabled
    }
}

/// How drift between the Helm storage and the cluster is handled: `enabled` corrects it,
/// `warn` only reports it, `disabled` (default) skips the comparison.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DriftDetectionMode {
    /// Detect drift and correct it.
    Enabled,
    /// Detect drift and report it without correcting.
    Warn,
    /// Do not compare.
    #[default]
    Disabled,
}

/// JSON Pointers left out of drift detection, optionally for selected objects only.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct IgnoreRule {
    /// JSON Pointers (RFC 6901) into an object, e.g. `/spec/replicas`; `""` is the whole
    /// object.
    pub paths: Vec<String>,
    /// Objects the paths apply to; all objects of the release when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Settings of the Helm install action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Time to wait for each Kubernetes operation of the install; defaults to `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// What happens when the install fails: retries with an uninstall in between. No
    /// remediation by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// `RemediateOnFailure` (default): apply `remediation`; `RetryOnFailure`: retry with an
    /// upgrade every `retryInterval`, without remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ReleaseStrategy>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait_for_jobs: bool,
    /// Do not run chart hooks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_hooks: bool,
    /// Do not validate the rendered manifests against the Kubernetes OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_open_api_validation: bool,
    /// Do not validate the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_schema_validation: bool,
    /// Do not adopt existing objects that the release renders.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_take_ownership: bool,
    /// Reuse the release name if it belongs to an uninstalled release kept in the history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
    /// Deprecated, use `crds: Skip`: do not install the chart's CRDs.
    #[serde(
        default,
        rename = "skipCRDs",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub skip_crds: bool,
    /// Handling of the chart's `crds/` directory: `Skip`, `Create` (default: create missing
    /// CRDs, never update) or `CreateReplace` (also replace existing ones; none are deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Create the target namespace if it is missing; it is not deleted on uninstall.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_namespace: bool,
    /// Apply the objects with server-side apply; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

impl Install {
    /// The remediation settings, defaults (no retries) when unset.
    #[must_use]
    pub fn remediation(&self) -> InstallRemediation {
        self.remediation.clone().unwrap_or_default()
    }

    /// The strategy, default `RemediateOnFailure`.
    #[must_use]
    pub fn strategy_name(&self) -> StrategyName {
        self.strategy.as_ref().map(|s| s.name).unwrap_or_default()
    }

    /// The CRD policy: `crds`, else `Skip` with the deprecated `skipCRDs`, else `Create`.
    #[must_use]
    pub fn crds_policy(&self) -> CrdsPolicy {
        match self.crds {
            Some(policy) => policy,
            None if self.skip_crds => CrdsPolicy::Skip,
            None => CrdsPolicy::Create,
        }
    }

    /// Whether to use server-side apply, default true.
    #[must_use]
    pub fn server_side_apply(&self) -> bool {
        self.server_side_apply.unwrap_or(true)
    }
}

/// Retries of a failed install; an uninstall runs between attempts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries after a failure, default 0; negative means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not remediate when the Helm tests after an install fail; defaults to
    /// `test.ignoreFailures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Also remediate (uninstall) the last failure once no retries remain; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

impl InstallRemediation {
    /// Retries allowed, default 0; negative means unlimited.
    #[must_use]
    pub fn retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether test failures are ignored; `test_default` is `test.ignoreFailures`.
    #[must_use]
    pub fn ignore_test_failures(&self, test_default: bool) -> bool {
        self.ignore_test_failures.unwrap_or(test_default)
    }

    /// Whether the last failure is remediated, default false.
    #[must_use]
    pub fn remediate_last_failure(&self) -> bool {
        self.remediate_last_failure.unwrap_or(false)
    }

    /// Install failures are always remediated by an uninstall.
    #[must_use]
    pub fn strategy(&self) -> RemediationStrategy {
        RemediationStrategy::Uninstall
    }

    /// Whether `failures` (`status.installFailures`) used up the retries.
    #[must_use]
    pub fn retries_exhausted(&self, failures: i64) -> bool {
        self.retries() >= 0 && failures > self.retries()
    }
}

/// What the chart's `crds/` directory does: `Skip` (nothing), `Create` (create missing CRDs,
/// never update them) or `CreateReplace` (create and replace; none are deleted). Install
/// defaults to `Create`, upgrade to `Skip`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum CrdsPolicy {
    /// Neither create nor update CRDs.
    Skip,
    /// Create missing CRDs, leave existing ones alone.
    Create,
    /// Create missing CRDs and replace existing ones.
    CreateReplace,
}

/// How failed installs or upgrades are handled: `RemediateOnFailure` (default) follows
/// `remediation`; `RetryOnFailure` retries every `retryInterval` (default `5m`) without
/// remediation.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseStrategy {
    /// `RemediateOnFailure` or `RetryOnFailure`.
    pub name: StrategyName,
    /// Delay between retries of `RetryOnFailure`, default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retry_interval: Option<String>,
}

impl ReleaseStrategy {
    /// The retry delay of `RetryOnFailure`, default `5m`.
    #[must_use]
    pub fn retry_interval(&self) -> &str {
        self.retry_interval
            .as_deref()
            .unwrap_or(DEFAULT_RETRY_INTERVAL)
    }
}

/// `RemediateOnFailure` (follow `remediation`) or `RetryOnFailure` (retry every
/// `retryInterval`, no remediation).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum StrategyName {
    /// Remediate as configured in `remediation`.
    #[default]
    RemediateOnFailure,
    /// Retry without remediation.
    RetryOnFailure,
}

/// Settings of the Helm upgrade action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Time to wait for each Kubernetes operation of the upgrade; defaults to `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// What happens when the upgrade fails: retries with a rollback or uninstall in between.
    /// No remediation by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// `RemediateOnFailure` (default): apply `remediation`; `RetryOnFailure`: retry every
    /// `retryInterval`, without remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ReleaseStrategy>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait_for_jobs: bool,
    /// Do not run chart hooks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_hooks: bool,
    /// Do not validate the rendered manifests against the Kubernetes OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_open_api_validation: bool,
    /// Do not validate the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_schema_validation: bool,
    /// Do not adopt existing objects that the release renders.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_take_ownership: bool,
    /// Replace objects instead of three-way merging them (client-side apply only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Reuse the previous release's values and merge `values` over them (not declarative).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_values: bool,
    /// Delete objects the failed upgrade created.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup_on_fail: bool,
    /// Handling of the chart's `crds/` directory: `Skip` (default), `Create` or
    /// `CreateReplace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// `enabled`, `disabled` or `auto` (default: as the previous release was applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
}

impl Upgrade {
    /// The remediation settings, defaults (no retries) when unset.
    #[must_use]
    pub fn remediation(&self) -> UpgradeRemediation {
        self.remediation.clone().unwrap_or_default()
    }

    /// The strategy, default `RemediateOnFailure`.
    #[must_use]
    pub fn strategy_name(&self) -> StrategyName {
        self.strategy.as_ref().map(|s| s.name).unwrap_or_default()
    }

    /// The CRD policy, default `Skip`.
    #[must_use]
    pub fn crds_policy(&self) -> CrdsPolicy {
        self.crds.unwrap_or(CrdsPolicy::Skip)
    }

    /// The server-side apply mode, default `auto`.
    #[must_use]
    pub fn server_side_apply(&self) -> ServerSideApplyMode {
        self.server_side_apply.unwrap_or_default()
    }
}

/// Retries of a failed upgrade; `strategy` runs between attempts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries after a failure, default 0; negative means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not remediate when the Helm tests after an upgrade fail; defaults to
    /// `test.ignoreFailures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Also remediate the last failure once no retries remain; default true when `retries`
    /// is above 0, else false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// `rollback` (default) or `uninstall` (a new install follows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

impl UpgradeRemediation {
    /// Retries allowed, default 0; negative means unlimited.
    #[must_use]
    pub fn retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether test failures are ignored; `test_default` is `test.ignoreFailures`.
    #[must_use]
    pub fn ignore_test_failures(&self, test_default: bool) -> bool {
        self.ignore_test_failures.unwrap_or(test_default)
    }

    /// Whether the last failure is remediated, default `retries > 0`.
    #[must_use]
    pub fn remediate_last_failure(&self) -> bool {
        self.remediate_last_failure.unwrap_or(self.retries() > 0)
    }

    /// The remediation, default `rollback`.
    #[must_use]
    pub fn strategy(&self) -> RemediationStrategy {
        self.strategy.unwrap_or_default()
    }

    /// Whether `failures` (`status.upgradeFailures`) used up the retries.
    #[must_use]
    pub fn retries_exhausted(&self, failures: i64) -> bool {
        self.retries() >= 0 && failures > self.retries()
    }
}

/// How a failed upgrade is remediated: `rollback` (default) to the previous release, or
/// `uninstall` followed by a new install.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStrategy {
    /// Roll back to the previous successful release.
    #[default]
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// Server-side apply during an upgrade or rollback: `enabled`, `disabled`, or `auto`
/// (default: as the release being replaced was applied).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServerSideApplyMode {
    /// Always use server-side apply.
    Enabled,
    /// Always use client-side apply.
    Disabled,
    /// Use what the previous release used.
    #[default]
    Auto,
}

/// Settings of the Helm test action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run the chart's tests after every install and upgrade.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable: bool,
    /// Time to wait for each Kubernetes operation of the tests; defaults to `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Failed tests trigger no remediation and leave `Ready` alone; the install and upgrade
    /// `remediation.ignoreTestFailures` override it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_failures: bool,
    /// Tests to run or to leave out, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<TestFilter>,
}

/// A test to run or to leave out.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct TestFilter {
    /// Name of the test.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Leave the test out instead of selecting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

/// Settings of the Helm rollback action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Time to wait for each Kubernetes operation of the rollback; defaults to
    /// `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait_for_jobs: bool,
    /// Do not run chart hooks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_hooks: bool,
    /// Deprecated and without effect (Helm 4 dropped it): restart the pods of workloads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recreate: bool,
    /// Replace objects instead of three-way merging them (client-side apply only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Delete objects the failed rollback created.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup_on_fail: bool,
    /// `enabled`, `disabled` or `auto` (default: as the release being replaced was applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
}

impl Rollback {
    /// The server-side apply mode, default `auto`.
    #[must_use]
    pub fn server_side_apply(&self) -> ServerSideApplyMode {
        self.server_side_apply.unwrap_or_default()
    }
}

/// Settings of the Helm uninstall action.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Time to wait for each Kubernetes operation of the uninstall; defaults to
    /// `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Do not run chart hooks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_hooks: bool,
    /// Delete the objects but keep the release history, marked uninstalled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_history: bool,
    /// Do not wait for the objects to be deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait: bool,
    /// `background` (default), `foreground` or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "background"))]
    pub deletion_propagation: Option<DeletionPropagation>,
}

impl Uninstall {
    /// The deletion propagation policy, default `background`.
    #[must_use]
    pub fn deletion_propagation(&self) -> DeletionPropagation {
        self.deletion_propagation.unwrap_or_default()
    }
}

/// Deletion propagation of an uninstall: `background` (default), `foreground` or `orphan`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPropagation {
    /// Delete the owner at once, dependents afterwards.
    #[default]
    Background,
    /// Delete dependents before the owner.
    Foreground,
    /// Leave dependents in place.
    Orphan,
}

/// A ConfigMap or Secret holding Helm values.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `Secret` or `ConfigMap`.
    #[schemars(extend("enum" = ["Secret", "ConfigMap"]))]
    pub kind: String,
    /// Name, in the HelmRelease's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Data key holding a values YAML document, or the single value for `targetPath`;
    /// default `values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = r"^[\-._a-zA-Z0-9]+$"))]
    pub values_key: Option<String>,
    /// Path in Helm `--set` syntax where the single value is set, e.g. `a.b[0]`; the values
    /// are merged at the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 250),
        regex(pattern = r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$")
    )]
    pub target_path: Option<String>,
    /// A missing object (or key) is skipped; other errors still fail the reconcile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl ValuesReference {
    /// The data key, default `values.yaml`.
    #[must_use]
    pub fn values_key(&self) -> &str {
        self.values_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(DEFAULT_VALUES_KEY)
    }
}

/// A post-renderer of the rendered manifests.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct PostRenderer {
    /// Kustomize patches and image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// Kustomize edits applied to the rendered manifests.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct KustomizePostRenderer {
    /// Strategic merge or JSON 6902 patches, as in a kustomization's `patches`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Image overrides, as in a kustomization's `images`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// How Helm waits for the applied objects.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct WaitStrategy {
    /// `poller` (kstatus polling, default) or `legacy` (Helm 3's waiting).
    pub name: WaitStrategyName,
}

/// Helm's wait: `poller` (kstatus polling, default) or `legacy` (Helm 3's waiting).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WaitStrategyName {
    /// Poll object status with kstatus rules.
    #[default]
    Poller,
    /// Helm 3's readiness checks.
    Legacy,
}

/// CEL health check for one kind of custom resource. The first of `inProgress`, `failed`,
/// `current` that is true decides the status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the custom resource (its group selects it).
    pub api_version: String,
    /// Kind of the custom resource.
    pub kind: String,
    /// CEL expression true when the resource is ready.
    pub current: String,
    /// CEL expression true while the resource is still progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// CEL expression true when the resource failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Observed state of a HelmRelease.
// The failure counters and `history` are always serialized, so that a merge patch of the whole
// status resets them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseStatus {
    /// Generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of `spec.postRenderers` at the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_post_renderers_digest: Option<String>,
    /// Digest of `spec.commonMetadata` at the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_common_metadata_digest: Option<String>,
    /// Generation of the last reconcile attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `Released`, `TestSuccess`, `Remediated`, `Drifted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `<namespace>/<name>` of the HelmChart created from `spec.chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<String>,
    /// Namespace of the Helm storage of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Releases made for this HelmRelease, newest first, back to the last successful one.
    #[serde(default)]
    pub history: Vec<Snapshot>,
    /// Objects of the current release (rendered manifests and the chart's CRDs, not hooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// `install` or `upgrade`: the last release action, which selects the active
    /// remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action: Option<ReleaseAction>,
    /// Duration of the last release action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action_duration: Option<String>,
    /// Failed reconciles against the current desired state; reset on success.
    #[serde(default)]
    pub failures: i64,
    /// Failed installs against the current desired state; reset on success.
    #[serde(default)]
    pub install_failures: i64,
    /// Failed upgrades against the current desired state; reset on success.
    #[serde(default)]
    pub upgrade_failures: i64,
    /// Chart version of the last attempt; for OCIRepository charts with `+<digest[0:12]>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Artifact digest of the last attempt (OCIRepository charts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision_digest: Option<String>,
    /// Deprecated, see `lastAttemptedConfigDigest`: SHA-1 of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_values_checksum: Option<String>,
    /// Deprecated, see `history`: revision of the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_release_revision: Option<i64>,
    /// Digest of the values of the last attempt, `<algorithm>:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// Last handled `reconcile.weir.dev/forceAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
    /// Last handled `reconcile.weir.dev/resetAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
    /// Last handled `reconcile.weir.dev/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(HelmReleaseStatus);

impl HelmReleaseStatus {
    /// Namespace and name of the HelmChart from `helmChart` (`<namespace>/<name>`).
    #[must_use]
    pub fn helm_chart(&self) -> Option<(&str, &str)> {
        self.helm_chart.as_deref()?.split_once('/')
    }

    /// Resets the three failure counters.
    pub fn clear_failures(&mut self) {
        self.failures = 0;
        self.install_failures = 0;
        self.upgrade_failures = 0;
    }

    /// The snapshot with the highest release version.
    #[must_use]
    pub fn latest_snapshot(&self) -> Option<&Snapshot> {
        self.history.iter().max_by_key(|s| s.version)
    }
}

/// `install` or `upgrade`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseAction {
    /// A Helm install.
    Install,
    /// A Helm upgrade.
    Upgrade,
}

/// A release as the controller saw it in the Helm storage.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Version of the snapshot format, to tell digest algorithms apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Digest of the release object, `<algorithm>:<hex>`.
    pub digest: String,
    /// Release name.
    pub name: String,
    /// Namespace the release is installed into.
    pub namespace: String,
    /// Release version (revision) in the storage.
    pub version: i64,
    /// Helm status: `deployed`, `superseded`, `failed`, `uninstalled`, ...
    pub status: String,
    /// Chart name.
    pub chart_name: String,
    /// Chart version.
    pub chart_version: String,
    /// Chart app version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Digest of the values, `<algorithm>:<hex>`.
    pub config_digest: String,
    /// When the release was first deployed.
    pub first_deployed: Time,
    /// When the release was last deployed.
    pub last_deployed: Time,
    /// When the release was uninstalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Time>,
    /// Test hooks run for this release, by name; present and empty when the chart has no
    /// tests, absent when tests have not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hooks: Option<BTreeMap<String, TestHookStatus>>,
    /// Digest of the OCI artifact the chart came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
    /// The action that produced this release (`install`, `upgrade`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl Snapshot {
    /// `<namespace>/<name>.v<version>`.
    #[must_use]
    pub fn full_release_name(&self) -> String {
        format!("{}/{}.v{}", self.namespace, self.name, self.version)
    }

    /// `<chart name>@<chart version>`.
    #[must_use]
    pub fn versioned_chart_name(&self) -> String {
        format!("{}@{}", self.chart_name, self.chart_version)
    }

    /// Whether tests ran (an empty map counts: the chart has none).
    #[must_use]
    pub fn has_been_tested(&self) -> bool {
        self.test_hooks.is_some()
    }

    /// Whether a test hook was seen in `phase`, e.g. `Failed`.
    #[must_use]
    pub fn has_test_in_phase(&self, phase: &str) -> bool {
        self.test_hooks
            .iter()
            .flat_map(BTreeMap::values)
            .any(|h| h.phase.as_deref() == Some(phase))
    }
}

/// A test hook as the controller saw it run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TestHookStatus {
    /// When the hook last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<Time>,
    /// When the hook last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<Time>,
    /// Phase of the hook, e.g. `Succeeded` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HelmReleaseSpec {
        HelmReleaseSpec {
            interval: "10m".into(),
            ..Default::default()
        }
    }

    #[test]
    fn sha256_matches_known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Two blocks of padding.
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn short_names_are_kept() {
        assert_eq!(shorten_release_name(""), "");
        assert_eq!(shorten_release_name("release-name"), "release-name");
        let exactly = "a".repeat(MAX_RELEASE_NAME_LENGTH);
        assert_eq!(shorten_release_name(&exactly), exactly);
    }

    #[test]
    fn long_names_are_shortened_as_flux_does() {
        // Flux's test cases, and the example of its docs as its code computes it (the docs
        // keep two characters more, which would exceed 53).
        for (long, short) in [
            (
                "release-name-with-very-long-name-which-is-longer-than-53-characters",
                "release-name-with-very-long-name-which-i-788ca0d0d7b0",
            ),
            (
                "another-release-name-with-very-long-name-which-is-longer-than-53-characters",
                "another-release-name-with-very-long-name-7e72150d5a36",
            ),
            (
                "a-very-lengthy-target-namespace-with-a-nice-object-name",
                "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3",
            ),
        ] {
            let got = shorten_release_name(long);
            assert_eq!(got, short);
            assert!(got.len() <= MAX_RELEASE_NAME_LENGTH);
        }
    }

    #[test]
    fn release_name_defaults_to_target_namespace_and_name() {
        let mut s = spec();
        assert_eq!(s.release_name("podinfo"), "podinfo");
        s.target_namespace = Some("apps".into());
        assert_eq!(s.release_name("podinfo"), "apps-podinfo");
        s.release_name = Some("custom".into());
        assert_eq!(s.release_name("podinfo"), "custom");

        let mut long = spec();
        long.target_namespace = Some("a-very-lengthy-target-namespace".into());
        assert_eq!(
            long.release_name("with-a-nice-object-name"),
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3"
        );
    }

    #[test]
    fn namespaces_default_to_the_object_namespace() {
        let mut s = spec();
        assert_eq!(s.release_namespace("default"), "default");
        assert_eq!(s.storage_namespace("default"), "default");
        s.target_namespace = Some("apps".into());
        s.storage_namespace = Some("helm".into());
        assert_eq!(s.release_namespace("default"), "apps");
        assert_eq!(s.storage_namespace("default"), "helm");
    }

    #[test]
    fn spec_defaults() {
        let mut s = spec();
        assert_eq!(s.timeout(), "5m");
        assert_eq!(s.max_history(), 5);
        assert!(s.persistent_client());
        assert_eq!(s.wait_strategy_name(), WaitStrategyName::Poller);
        assert_eq!(
            s.drift_detection_config().mode(),
            DriftDetectionMode::Disabled
        );
        assert!(!s.drift_detection_config().must_detect_changes());
        assert_eq!(s.install_timeout(), "5m");

        s.timeout = Some("10m".into());
        s.max_history = Some(0);
        s.upgrade = Some(Upgrade {
            timeout: Some("1m".into()),
            ..Default::default()
        });
        assert_eq!(s.install_timeout(), "10m");
        assert_eq!(s.upgrade_timeout(), "1m");
        assert_eq!(s.uninstall_timeout(), "10m");
        assert_eq!(s.max_history(), 0);
    }

    #[test]
    fn remediation_defaults() {
        let install = InstallRemediation::default();
        assert_eq!(install.retries(), 0);
        assert!(!install.remediate_last_failure());
        assert!(install.ignore_test_failures(true));
        assert_eq!(install.strategy(), RemediationStrategy::Uninstall);
        assert!(!install.retries_exhausted(0));
        assert!(install.retries_exhausted(1));

        let upgrade = UpgradeRemediation::default();
        assert_eq!(upgrade.retries(), 0);
        assert!(!upgrade.remediate_last_failure());
        assert_eq!(upgrade.strategy(), RemediationStrategy::Rollback);

        let retrying = UpgradeRemediation {
            retries: Some(3),
            ..Default::default()
        };
        assert!(retrying.remediate_last_failure());
        assert!(!retrying.retries_exhausted(3));
        assert!(retrying.retries_exhausted(4));

        let unlimited = UpgradeRemediation {
            retries: Some(-1),
            ..Default::default()
        };
        assert!(!unlimited.retries_exhausted(1000));
    }

    #[test]
    fn action_defaults() {
        let install = Install::default();
        assert_eq!(install.crds_policy(), CrdsPolicy::Create);
        assert!(install.server_side_apply());
        assert_eq!(install.strategy_name(), StrategyName::RemediateOnFailure);
        let skipping = Install {
            skip_crds: true,
            ..Default::default()
        };
        assert_eq!(skipping.crds_policy(), CrdsPolicy::Skip);

        let upgrade = Upgrade::default();
        assert_eq!(upgrade.crds_policy(), CrdsPolicy::Skip);
        assert_eq!(upgrade.server_side_apply(), ServerSideApplyMode::Auto);
        assert_eq!(
            Uninstall::default().deletion_propagation(),
            DeletionPropagation::Background
        );
        assert_eq!(ReleaseStrategy::default().retry_interval(), "5m");
        assert_eq!(ValuesReference::default().values_key(), "values.yaml");
        assert_eq!(DependencyReference::default().kind(), "HelmRelease");
    }

    #[test]
    fn flux_manifest_round_trips() -> Result<(), serde_json::Error> {
        let manifest = serde_json::json!({
            "apiVersion": "helm.weir.dev/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {
                "interval": "10m",
                "chart": {
                    "metadata": {"labels": {"team": "a"}},
                    "spec": {
                        "chart": "podinfo",
                        "version": "6.x",
                        "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                        "verify": {"provider": "cosign"}
                    }
                },
                "dependsOn": [{"name": "backend"}, {"name": "infra", "kind": "Kustomization"}],
                "install": {
                    "crds": "CreateReplace",
                    "skipCRDs": true,
                    "disableOpenAPIValidation": true,
                    "disableWaitForJobs": true,
                    "createNamespace": true,
                    "serverSideApply": false,
                    "remediation": {"retries": 3},
                    "strategy": {"name": "RetryOnFailure", "retryInterval": "2m"}
                },
                "upgrade": {
                    "serverSideApply": "enabled",
                    "remediation": {"retries": -1, "strategy": "uninstall"}
                },
                "test": {"enable": true, "filters": [{"name": "t", "exclude": true}]},
                "uninstall": {"deletionPropagation": "foreground"},
                "driftDetection": {
                    "mode": "warn",
                    "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]
                },
                "valuesFrom": [{"kind": "Secret", "name": "s", "targetPath": "a.b", "optional": true}],
                "values": {"replicaCount": 2, "nested": {"list": [1, "two"]}},
                "postRenderers": [{"kustomize": {
                    "patches": [{"patch": "- op: add", "target": {"kind": "Deployment"}}],
                    "images": [{"name": "nginx", "newTag": "1.27"}]
                }}],
                "commonMetadata": {"labels": {"env": "prod"}},
                "waitStrategy": {"name": "legacy"},
                "healthCheckExprs": [{"apiVersion": "example.com/v1", "kind": "Thing", "current": "true"}]
            },
            "status": {
                "history": [{
                    "digest": "sha256:1", "name": "podinfo", "namespace": "default", "version": 2,
                    "status": "deployed", "chartName": "podinfo", "chartVersion": "6.5.0",
                    "configDigest": "sha256:2", "firstDeployed": "2024-05-07T04:54:21Z",
                    "lastDeployed": "2024-05-07T04:54:55Z", "testHooks": {}
                }],
                "lastAttemptedReleaseAction": "upgrade",
                "helmChart": "default/default-podinfo",
                "failures": 0, "installFailures": 0, "upgradeFailures": 0
            }
        });
        let hr: HelmRelease = serde_json::from_value(manifest.clone())?;
        assert_eq!(hr.release_name(), "podinfo");
        assert_eq!(hr.helm_chart_name(), "default-podinfo");
        let install = hr.spec.install_config();
        assert_eq!(install.crds_policy(), CrdsPolicy::CreateReplace);
        assert!(install.skip_crds && install.disable_open_api_validation);
        assert!(!install.server_side_apply());
        assert_eq!(install.strategy_name(), StrategyName::RetryOnFailure);
        let upgrade = hr.spec.upgrade_config();
        assert_eq!(upgrade.server_side_apply(), ServerSideApplyMode::Enabled);
        assert_eq!(
            upgrade.remediation().strategy(),
            RemediationStrategy::Uninstall
        );
        assert_eq!(hr.spec.depends_on[1].kind(), "Kustomization");
        assert_eq!(hr.spec.wait_strategy_name(), WaitStrategyName::Legacy);
        let status = hr.status.clone().unwrap_or_default();
        assert_eq!(status.helm_chart(), Some(("default", "default-podinfo")));
        let latest = status.latest_snapshot().map(Snapshot::full_release_name);
        assert_eq!(latest.as_deref(), Some("default/podinfo.v2"));
        assert!(status.history[0].has_been_tested());
        assert_eq!(serde_json::to_value(&hr)?, manifest);
        Ok(())
    }

    #[test]
    fn validate_enforces_the_rules_of_fluxs_cel() {
        let mut s = spec();
        assert_eq!(
            s.validate(),
            Err(vec![CHART_XOR_CHART_REF_MESSAGE.to_string()])
        );
        s.chart_ref = Some(CrossNamespaceSourceReference {
            kind: "OCIRepository".into(),
            name: "podinfo".into(),
            ..Default::default()
        });
        assert_eq!(s.validate(), Ok(()));
        s.chart = Some(HelmChartTemplate::default());
        assert!(s.validate().is_err());
        s.chart = None;

        s.upgrade = Some(Upgrade {
            strategy: Some(ReleaseStrategy {
                name: StrategyName::RemediateOnFailure,
                retry_interval: Some("1m".into()),
            }),
            ..Default::default()
        });
        let errors = s.validate().err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("spec.upgrade.strategy"), "{errors:?}");
        s.upgrade = Some(Upgrade {
            strategy: Some(ReleaseStrategy {
                name: StrategyName::RetryOnFailure,
                retry_interval: Some("1m".into()),
            }),
            ..Default::default()
        });
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn crd_schema_carries_flux_validation() -> Result<(), serde_json::Error> {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(HelmRelease::crd())?;
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        // CEL rules would make the CRD uninstallable on Kubernetes 1.20: `validate` has them.
        assert!(!serde_json::to_string(&crd)?.contains("x-kubernetes-validations"));
        assert_eq!(spec["required"], serde_json::json!(["interval"]));
        assert_eq!(
            spec["properties"]["values"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let chart_spec = &spec["properties"]["chart"]["properties"]["spec"]["properties"];
        assert_eq!(chart_spec["version"]["default"], "*");
        assert_eq!(chart_spec["reconcileStrategy"]["default"], "ChartVersion");
        assert_eq!(
            chart_spec["verify"]["properties"]["provider"]["default"],
            "cosign"
        );
        assert_eq!(
            spec["properties"]["uninstall"]["properties"]["deletionPropagation"]["default"],
            "background"
        );
        assert_eq!(spec["properties"]["releaseName"]["maxLength"], 53);
        assert_eq!(
            crd["spec"]["names"]["shortNames"],
            serde_json::json!(["hr"])
        );
        Ok(())
    }
}
