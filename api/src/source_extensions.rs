//! `source.extensions.weir.dev/v1beta1`: ArtifactGenerator, which composes sources into
//! ExternalArtifacts or splits one source into several.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition reasons of ArtifactGenerator.
pub mod reasons {
    /// The spec is invalid (duplicate alias or artifact name, unknown alias).
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// A source does not exist, is not ready, or its artifact cannot be read.
    pub const SOURCE_FETCH_FAILED: &str = "SourceFetchFailed";
    /// An artifact could not be built from the sources (copy, merge, extract).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// An ExternalArtifact could not be written.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A source in another namespace under `--no-cross-namespace-refs`.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}

/// Annotation that suspends a generator: `source.extensions.weir.dev/reconcile: Disabled`
/// (any letter case), like Flux's `source.extensions.fluxcd.io/reconcile`.
pub const RECONCILE_ANNOTATION: &str = "source.extensions.weir.dev/reconcile";
/// Label on each generated ExternalArtifact: the generator's UID.
pub const GENERATOR_LABEL: &str = "source.extensions.weir.dev/generator";
/// How often a generator is reconciled without a source change (Flux: fixed one hour).
pub const GENERATOR_INTERVAL: &str = "1h";

/// ArtifactGenerator builds ExternalArtifacts from the artifacts of other sources: each
/// output artifact is a set of copy operations from the sources (by alias) into the artifact.
/// An output's revision is content-addressed, so a source change that does not touch the
/// copied files leaves it, and its consumers, untouched.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "source.extensions.weir.dev",
    version = "v1beta1",
    kind = "ArtifactGenerator",
    namespaced,
    status = "ArtifactGeneratorStatus",
    shortname = "ag",
    category = "weir",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorSpec {
    /// The sources to read, each under an alias that copy operations name (`@alias/...`).
    #[schemars(length(min = 1, max = 1000))]
    pub sources: Vec<GeneratorSourceReference>,
    /// The ExternalArtifacts to generate.
    #[schemars(length(min = 1, max = 1000))]
    pub artifacts: Vec<OutputArtifact>,
    /// Labels and annotations added to every generated ExternalArtifact (the generator's own
    /// labels win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<GeneratorCommonMetadata>,
}

/// A source of an ArtifactGenerator.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorSourceReference {
    /// The name copy operations use for this source: `@<alias>/path`.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"), length(max = 63))]
    pub alias: String,
    /// Kind of the source.
    #[schemars(extend("enum" = ["Bucket", "GitRepository", "OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: String,
    /// Name of the source.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"), length(max = 253))]
    pub name: String,
    /// Namespace of the source; defaults to the generator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 63)
    )]
    pub namespace: Option<String>,
}

/// One generated ExternalArtifact.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// Name of the ExternalArtifact, in the generator's namespace.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"), length(max = 253))]
    pub name: String,
    /// `@alias`: use that source's revision as the artifact's revision instead of
    /// `latest@<digest>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"),
        length(max = 64)
    )]
    pub revision: Option<String>,
    /// `@alias`: record that source's origin revision (its own
    /// `org.opencontainers.image.revision`, else its revision) in the artifact's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"),
        length(max = 64)
    )]
    pub origin_revision: Option<String>,
    /// Copy operations, applied in order; a later one overwrites files of an earlier one.
    #[schemars(length(min = 1))]
    pub copy: Vec<CopyOperation>,
}

/// Copies files from a source into the artifact.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CopyOperation {
    /// `@alias/<path or glob>`: a file, a directory (copied as a folder of that name), or a
    /// glob (`*`, `?`, `[...]`; `dir/**` copies the contents of `dir`).
    #[schemars(
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$"),
        length(max = 1024)
    )]
    pub from: String,
    /// `@artifact/<path>`: where the files go inside the artifact; a trailing `/` makes it a
    /// folder.
    #[schemars(regex(pattern = r"^@(artifact)/(.*)$"), length(max = 1024))]
    pub to: String,
    /// Glob patterns (`**` recursive) of files not to copy; a pattern without `/` also
    /// matches file names at any depth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub exclude: Vec<String>,
    /// `Overwrite` (default) replaces files; `Merge` deep-merges YAML into an existing file;
    /// `Extract` unpacks `.tar.gz`/`.tgz` files (e.g. a HelmChart) into the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Overwrite", "Merge", "Extract"]))]
    pub strategy: Option<String>,
}

/// Metadata for generated objects.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct GeneratorCommonMetadata {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Observed state of an ArtifactGenerator.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `sha256:` over every source's artifact (alias, digest, revision, URL): unchanged
    /// sources with an unchanged spec and intact outputs skip the rebuild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
    /// The generated ExternalArtifacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<GeneratedArtifactRef>,
    /// The value of the `reconcile.weir.dev/requestedAt` annotation last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::reconcile_status!(ArtifactGeneratorStatus);

/// A generated ExternalArtifact and its stored file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedArtifactRef {
    /// Name of the ExternalArtifact.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The artifact's `sha256:` digest.
    pub digest: String,
    /// The stored file's name.
    pub filename: String,
}
