//! Types shared by several API groups: object references, artifacts, and the status fields
//! every Weir object has.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to a Secret in the same namespace as the referring object.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

/// The output of a source reconcile: a tar.gz archive in the controller's storage.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path of the artifact relative to the storage root:
    /// `<kind>/<namespace>/<name>/<commit>.tar.gz`.
    pub path: String,
    /// HTTP address where the artifact can be downloaded.
    pub url: String,
    /// Human-readable identifier of the source content, for Git `<branch>@sha1:<commit>`.
    pub revision: String,
    /// Digest of the artifact file, `sha256:<hex>`. Consumers verify it before use.
    pub digest: String,
    /// Size of the artifact file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// When the artifact was last written.
    pub last_update_time: Time,
    /// Facts about the content that consumers report, e.g. the OCI manifest annotations
    /// `org.opencontainers.image.revision` and `org.opencontainers.image.source`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// The status fields the shared reconcile driver writes on every kind: conditions,
/// `observedGeneration` and `lastHandledReconcileAt`.
pub trait ReconcileStatus: Default + Clone + Serialize + Send + Sync {
    /// The kstatus conditions.
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition];
    /// The kstatus conditions, to change.
    fn conditions_mut(
        &mut self,
    ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>;
    /// Records the generation this status describes.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// Echoes a handled `reconcile.weir.dev/requestedAt` token.
    fn set_last_handled_reconcile_at(&mut self, token: String);
}

/// Implements [`ReconcileStatus`] for a status struct with the fields `conditions`,
/// `observed_generation` and `last_handled_reconcile_at`.
macro_rules! reconcile_status {
    ($status:ty) => {
        impl $crate::meta::ReconcileStatus for $status {
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                &self.conditions
            }
            fn conditions_mut(
                &mut self,
            ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                &mut self.conditions
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn set_last_handled_reconcile_at(&mut self, token: String) {
                self.last_handled_reconcile_at = Some(token);
            }
        }
    };
}
pub(crate) use reconcile_status;
