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
    }
}

/// Default `spec.timeout` of a Git operation.
pub const DEFAULT_GIT_TIMEOUT: &str = "60s";
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
