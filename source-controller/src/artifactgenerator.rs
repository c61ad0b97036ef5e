//! The ArtifactGenerator reconciler: composes and splits source artifacts into
//! ExternalArtifacts.
//!
//! `validate → observe sources → decide (sources digest, spec, stored outputs) → fetch and
//! unpack sources → build each output (copy operations, reproducible tar.gz) → store + write
//! the ExternalArtifact → remove outputs no longer declared → inventory`.
//!
//! An output's revision is `latest@<digest of its archive>`: archives are reproducible, so an
//! output whose files did not change keeps its revision (and its ExternalArtifact is not
//! written at all) whatever happened to the source commit. That is what lets a commit to one
//! folder of a monorepo reconcile only the consumers of that folder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use weir_api::conditions::{reasons, types};
use weir_api::meta::Artifact;
use weir_api::source::{ExternalArtifact, GitRepository, HelmChart, OCIRepository};
use weir_api::source_extensions::{
    ArtifactGenerator, ArtifactGeneratorSpec, ArtifactGeneratorStatus, GENERATOR_INTERVAL,
    GENERATOR_LABEL, GeneratedArtifactRef, OutputArtifact, RECONCILE_ANNOTATION,
    reasons as ag_reasons,
};
use weir_shared::ReconcileError;
use weir_shared::archive;
use weir_shared::conditions::Setter;
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::events::Severity;
use weir_shared::reconcile::{ConditionSet, Requeue};
use weir_shared::storage::Storage;

use crate::artifact;
use crate::controller::CONTROLLER_NAME;
use crate::generator::copy::{self, BuildLimits, CopyOp, Strategy};
use crate::generator::tree::Tree;
use crate::sources::{self, SourceSettings};

/// The kind this reconciler owns.
pub const KIND: &str = "ArtifactGenerator";
/// Storage kind (folder) of generated artifacts.
pub const OUTPUT_KIND: &str = "ExternalArtifact";
/// The source kinds a generator reads.
pub const SOURCE_KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "HelmChart",
    "ExternalArtifact",
];
/// Metadata key of the origin revision (the commit an OCI artifact was built from).
pub const ORIGIN_REVISION_KEY: &str = "org.opencontainers.image.revision";

/// The ArtifactGenerator reconciler.
pub struct ArtifactGeneratorReconciler {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Settings shared by the source kinds.
    pub settings: Arc<SourceSettings>,
    /// Refuse sources in other namespaces (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Downloads ExternalArtifacts that another producer serves.
    pub http: reqwest::Client,
}

impl Reconciler for ArtifactGeneratorReconciler {
    type Object = ArtifactGenerator;
    type Status = ArtifactGeneratorStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[],
        summarized: &[],
        negative: &[],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &ArtifactGenerator) -> Option<&ArtifactGeneratorStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &ArtifactGenerator) -> bool {
        disabled(obj)
    }

    fn requeue(_obj: &ArtifactGenerator) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(GENERATOR_INTERVAL, None)
    }

    async fn run_steps(
        &self,
        obj: &ArtifactGenerator,
        status: &mut ArtifactGeneratorStatus,
        _setter: Setter,
    ) -> Result<String, ReconcileError> {
        let own_ns = obj.namespace().unwrap_or_default();
        validate(&obj.spec, &own_ns, self.no_cross_namespace_refs)?;
        let observed = self.observe_sources(obj).await?;
        let digest = sources_digest(&observed);
        let outputs = self.observe_outputs(obj).await?;
        if let Some(why) = rebuild_reason(obj, status, &digest, &outputs, &self.settings.storage) {
            tracing::info!(generator = %obj.name_any(), namespace = %own_ns, why, "building artifacts");
        } else {
            return Ok(format!(
                "no change: {} artifact(s) up to date",
                status.inventory.len()
            ));
        }
        let trees = self.fetch_sources(&observed).await?;
        // Every output is built before any is stored: a build error changes nothing served.
        let built = {
            let (artifacts, settings) = (obj.spec.artifacts.clone(), self.settings.clone());
            tokio::task::spawn_blocking(move || {
                artifacts
                    .iter()
                    .map(|output| build_output(output, &trees, &observed, &settings))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| {
                ReconcileError::transient(ag_reasons::BUILD_FAILED, format!("build task: {e}"))
            })??
        };
        let mut inventory = Vec::new();
        for (output, built) in obj.spec.artifacts.iter().zip(built) {
            inventory.push(self.store(obj, output, built, &outputs).await?);
        }
        let previous = known_outputs(&status.inventory, &outputs);
        self.remove_orphans(obj, &previous, &inventory).await;
        status.inventory = inventory;
        status.observed_sources_digest = Some(digest);
        Ok(format!(
            "reconciliation succeeded, generated {} artifact(s)",
            status.inventory.len()
        ))
    }

    fn event_metadata(_status: &ArtifactGeneratorStatus) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    async fn cleanup(&self, obj: &ArtifactGenerator) -> Result<(), ReconcileError> {
        let inventory = obj
            .status
            .as_ref()
            .map(|s| s.inventory.clone())
            .unwrap_or_default();
        let outputs = self.observe_outputs(obj).await?;
        self.remove_orphans(obj, &known_outputs(&inventory, &outputs), &[])
            .await;
        Ok(())
    }
}

/// Whether `source.extensions.weir.dev/reconcile: Disabled` (any case) suspends the generator.
pub fn disabled(obj: &ArtifactGenerator) -> bool {
    obj.annotations()
        .get(RECONCILE_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Checks what the schema cannot: unique aliases and names, `@alias` references that exist,
/// copy operations that parse and stay inside the artifact, source namespaces.
///
/// # Errors
/// Stalled `ValidationFailed`, or `AccessDenied` for a cross-namespace source under
/// `--no-cross-namespace-refs`.
pub fn validate(
    spec: &ArtifactGeneratorSpec,
    own_ns: &str,
    no_cross_namespace_refs: bool,
) -> Result<(), ReconcileError> {
    let invalid = |m: String| ReconcileError::stalled(ag_reasons::VALIDATION_FAILED, m);
    let mut aliases = BTreeSet::new();
    for source in &spec.sources {
        if !aliases.insert(source.alias.as_str()) {
            return Err(invalid(format!(
                "duplicate source alias '{}' found",
                source.alias
            )));
        }
        if !SOURCE_KINDS.contains(&source.kind.as_str()) {
            return Err(invalid(format!(
                "source '{}' has kind {:?}, which Weir cannot read: use one of {}",
                source.alias,
                source.kind,
                SOURCE_KINDS.join(", ")
            )));
        }
        let ns = source.namespace.as_deref().unwrap_or(own_ns);
        if no_cross_namespace_refs && ns != own_ns {
            return Err(ReconcileError::stalled(
                ag_reasons::ACCESS_DENIED,
                format!(
                    "cross-namespace reference to source {}/{ns}/{} is not allowed (--no-cross-namespace-refs)",
                    source.kind, source.name
                ),
            ));
        }
    }
    if let Some(common) = &spec.common_metadata {
        for (key, value) in &common.labels {
            check_metadata_key("labels", key).map_err(&invalid)?;
            if !is_label_value(value) {
                return Err(invalid(format!(
                    "commonMetadata.labels[{key:?}]: {value:?} is not a valid label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)"
                )));
            }
        }
        for key in common.annotations.keys() {
            check_metadata_key("annotations", key).map_err(&invalid)?;
        }
    }
    let mut names = BTreeSet::new();
    for output in &spec.artifacts {
        if !names.insert(output.name.as_str()) {
            return Err(invalid(format!(
                "duplicate artifact name '{}' found",
                output.name
            )));
        }
        for (field, value) in [
            ("revision", &output.revision),
            ("originRevision", &output.origin_revision),
        ] {
            if let Some(alias) = value.as_deref().map(|v| v.trim_start_matches('@'))
                && !aliases.contains(alias)
            {
                return Err(invalid(format!(
                    "artifact {} {field} source alias '{alias}' not found",
                    output.name
                )));
            }
        }
        for op in copy_ops(output)? {
            copy::validate_op(&op)
                .map_err(|e| invalid(format!("artifact {}: {e}", output.name)))?;
            let alias = op.alias();
            if !aliases.contains(alias) {
                return Err(invalid(format!(
                    "artifact {}: copy from '{}': source alias '{alias}' not found",
                    output.name, op.from
                )));
            }
        }
    }
    Ok(())
}

/// A label or annotation key as Kubernetes accepts it: `[prefix/]name`, the prefix a DNS
/// subdomain, the name at most 63 letters, digits, `-`, `_`, `.` with alphanumeric ends.
fn check_metadata_key(field: &str, key: &str) -> Result<(), String> {
    let (prefix, name) = key.rsplit_once('/').map_or(("", key), |(p, n)| (p, n));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            }));
    if prefix_ok && !name.is_empty() && is_label_value(name) {
        Ok(())
    } else {
        Err(format!(
            "commonMetadata.{field}: {key:?} is not a valid key ([prefix/]name: a DNS subdomain prefix, a name of at most 63 letters, digits, '-', '_', '.')"
        ))
    }
}

fn is_label_value(value: &str) -> bool {
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && edge(value.chars().next())
        && edge(value.chars().last())
}

/// The copy operations of an output, with their strategies parsed.
fn copy_ops(output: &OutputArtifact) -> Result<Vec<CopyOp>, ReconcileError> {
    output
        .copy
        .iter()
        .map(|c| {
            let strategy = match c.strategy.as_deref() {
                None | Some("") => Strategy::Overwrite,
                Some(s) => s.parse().map_err(|_| {
                    ReconcileError::stalled(
                        ag_reasons::VALIDATION_FAILED,
                        format!(
                            "artifact {}: copy from '{}': unknown strategy {s:?}: use Overwrite, Merge or Extract",
                            output.name, c.from
                        ),
                    )
                })?,
            };
            Ok(CopyOp {
                from: c.from.clone(),
                to: c.to.clone(),
                exclude: c.exclude.clone(),
                strategy,
            })
        })
        .collect()
}

/// A source as observed: its alias and current artifact.
#[derive(Clone, Debug)]
pub struct ObservedSource {
    /// The alias copy operations use.
    pub alias: String,
    /// `Kind/namespace/name`, for messages.
    pub display: String,
    /// The source's artifact.
    pub artifact: Artifact,
}

/// `sha256:` over every source's alias, digest, revision and URL (sorted by alias), so that
/// any new source artifact, and nothing else, changes it.
pub fn sources_digest(observed: &[ObservedSource]) -> String {
    let mut entries: Vec<String> = observed
        .iter()
        .map(|s| {
            format!(
                "{}=[digest={},revision={},url={}]",
                s.alias, s.artifact.digest, s.artifact.revision, s.artifact.url
            )
        })
        .collect();
    entries.sort();
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(entries.join("|").as_bytes()))
    )
}

/// The generated ExternalArtifacts that exist, by name.
pub type Outputs = BTreeMap<String, ExternalArtifact>;

/// Why the outputs must be rebuilt, or `None` when sources, spec and outputs are as the last
/// successful build left them.
pub fn rebuild_reason(
    obj: &ArtifactGenerator,
    status: &ArtifactGeneratorStatus,
    sources_digest: &str,
    outputs: &Outputs,
    storage: &Storage,
) -> Option<&'static str> {
    let ready = status.conditions.iter().find(|c| c.type_ == types::READY);
    if ready.is_none_or(|c| c.status != "True") {
        return Some("not ready");
    }
    if status.observed_generation != obj.metadata.generation {
        return Some("spec changed");
    }
    if status.observed_sources_digest.as_deref() != Some(sources_digest) {
        return Some("sources changed");
    }
    if status.inventory.len() != obj.spec.artifacts.len() {
        return Some("artifacts changed");
    }
    let ns = obj.namespace().unwrap_or_default();
    for entry in &status.inventory {
        let path = format!(
            "{}/{}",
            Storage::object_dir(OUTPUT_KIND, &ns, &entry.name),
            entry.filename
        );
        if !storage.exists(&path) {
            return Some("artifact missing from storage");
        }
        let live = outputs
            .get(&entry.name)
            .and_then(|ea| ea.status.as_ref())
            .and_then(|s| s.artifact.as_ref());
        if live.is_none_or(|a| a.digest != entry.digest) {
            return Some("ExternalArtifact changed");
        }
    }
    None
}

/// A built output: the archive and what its ExternalArtifact records.
#[derive(Debug)]
pub struct BuiltOutput {
    /// The reproducible tar.gz.
    pub archive: Vec<u8>,
    /// `sha256:` of the archive.
    pub digest: String,
    /// `latest@<digest>`, or the revision of the source named by `spec.revision`.
    pub revision: String,
    /// `org.opencontainers.image.revision` when `originRevision` names a source.
    pub metadata: BTreeMap<String, String>,
}

/// Builds one output from the unpacked sources. Pure.
///
/// # Errors
/// `BuildFailed` naming the artifact: stalled for a spec error, transient for content that
/// does not fit (no match, invalid YAML to merge), which a new commit can fix.
pub fn build_output(
    output: &OutputArtifact,
    trees: &BTreeMap<String, Tree>,
    observed: &[ObservedSource],
    settings: &SourceSettings,
) -> Result<BuiltOutput, ReconcileError> {
    let ops = copy_ops(output)?;
    let limits = BuildLimits {
        max_bytes: settings.artifact_max_bytes,
        untar: weir_shared::untar::Limits::default(),
    };
    let failed = |m: String, spec: bool| {
        let message = format!("{} build failed: {m}", output.name);
        if spec {
            ReconcileError::stalled(ag_reasons::BUILD_FAILED, message)
        } else {
            ReconcileError::transient(ag_reasons::BUILD_FAILED, message)
        }
    };
    let tree =
        copy::build(trees, &ops, limits).map_err(|e| failed(e.to_string(), e.is_spec_error()))?;
    let files = tree
        .into_file_entries()
        .map_err(|e| failed(format!("default ignore rules: {e}"), true))?;
    let archive = archive::pack(files).map_err(|e| failed(format!("packing: {e}"), false))?;
    let digest = weir_shared::storage::digest_of(&archive);
    let source_of = |alias: &Option<String>| {
        alias.as_deref().and_then(|a| {
            let a = a.trim_start_matches('@');
            observed.iter().find(|s| s.alias == a)
        })
    };
    let revision = source_of(&output.revision)
        .map(|s| s.artifact.revision.clone())
        .unwrap_or_else(|| format!("latest@{digest}"));
    let mut metadata = BTreeMap::new();
    if let Some(source) = source_of(&output.origin_revision) {
        let origin = source
            .artifact
            .metadata
            .get(ORIGIN_REVISION_KEY)
            .cloned()
            .unwrap_or_else(|| source.artifact.revision.clone());
        metadata.insert(ORIGIN_REVISION_KEY.to_string(), origin);
    }
    Ok(BuiltOutput {
        archive,
        digest,
        revision,
        metadata,
    })
}

impl ArtifactGeneratorReconciler {
    /// Reads each source's artifact.
    ///
    /// # Errors
    /// Waiting `SourceFetchFailed` for a source that is missing or has no artifact yet.
    async fn observe_sources(
        &self,
        obj: &ArtifactGenerator,
    ) -> Result<Vec<ObservedSource>, ReconcileError> {
        let own_ns = obj.namespace().unwrap_or_default();
        let client = &self.runtime.client;
        let mut observed = Vec::new();
        for source in &obj.spec.sources {
            let ns = source.namespace.clone().unwrap_or_else(|| own_ns.clone());
            let display = format!("{}/{ns}/{}", source.kind, source.name);
            let reading = |e| ReconcileError::kube(&format!("reading source {display}"), e);
            let name = source.name.as_str();
            let artifact = match source.kind.as_str() {
                "GitRepository" => Api::<GitRepository>::namespaced(client.clone(), &ns)
                    .get_opt(name)
                    .await
                    .map_err(reading)?
                    .map(|o| o.status.and_then(|s| s.artifact)),
                "OCIRepository" => Api::<OCIRepository>::namespaced(client.clone(), &ns)
                    .get_opt(name)
                    .await
                    .map_err(reading)?
                    .map(|o| o.status.and_then(|s| s.artifact)),
                "HelmChart" => Api::<HelmChart>::namespaced(client.clone(), &ns)
                    .get_opt(name)
                    .await
                    .map_err(reading)?
                    .map(|o| o.status.and_then(|s| s.artifact)),
                _ => Api::<ExternalArtifact>::namespaced(client.clone(), &ns)
                    .get_opt(name)
                    .await
                    .map_err(reading)?
                    .map(|o| o.status.and_then(|s| s.artifact)),
            };
            let waiting = |m: String| {
                ReconcileError::waiting(
                    ag_reasons::SOURCE_FETCH_FAILED,
                    format!("get sources failed: {m}"),
                )
            };
            let artifact = artifact
                .ok_or_else(|| waiting(format!("source '{display}' not found")))?
                .ok_or_else(|| {
                    waiting(format!("source '{display}' is not ready: no artifact yet"))
                })?;
            observed.push(ObservedSource {
                alias: source.alias.clone(),
                display,
                artifact,
            });
        }
        Ok(observed)
    }

    /// The generator's ExternalArtifacts that exist now (by its UID label).
    async fn observe_outputs(&self, obj: &ArtifactGenerator) -> Result<Outputs, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let uid = obj.uid().unwrap_or_default();
        let list = Api::<ExternalArtifact>::namespaced(self.runtime.client.clone(), &ns)
            .list(&ListParams::default().labels(&format!("{GENERATOR_LABEL}={uid}")))
            .await
            .map_err(|e| ReconcileError::kube("listing generated ExternalArtifacts", e))?;
        Ok(list
            .items
            .into_iter()
            .map(|ea| (ea.name_any(), ea))
            .collect())
    }

    /// Reads and unpacks every source's artifact, digest checked.
    ///
    /// # Errors
    /// Transient `SourceFetchFailed` naming the source.
    async fn fetch_sources(
        &self,
        observed: &[ObservedSource],
    ) -> Result<BTreeMap<String, Tree>, ReconcileError> {
        let mut trees = BTreeMap::new();
        for source in observed {
            let failed = |m: String| {
                ReconcileError::transient(
                    ag_reasons::SOURCE_FETCH_FAILED,
                    format!("fetch sources failed: {}: {m}", source.display),
                )
            };
            let bytes = self
                .artifact_bytes(&source.artifact)
                .await
                .map_err(failed)?;
            // Sources are held in memory while the outputs are built: bounded by the
            // artifact budget, and never more than the default unpack limit.
            let defaults = weir_shared::untar::Limits::default();
            let limits = weir_shared::untar::Limits {
                max_unpacked_bytes: self
                    .settings
                    .artifact_max_bytes
                    .min(defaults.max_unpacked_bytes),
                ..defaults
            };
            let tree = tokio::task::spawn_blocking(move || Tree::from_archive(&bytes, limits))
                .await
                .map_err(|e| failed(e.to_string()))?
                .map_err(|m| failed(format!("unpacking {}: {m}", source.artifact.url)))?;
            trees.insert(source.alias.clone(), tree);
        }
        Ok(trees)
    }

    /// The artifact's bytes: from this process's storage when it is one of ours, else
    /// downloaded from its URL (an ExternalArtifact another controller serves). Digest
    /// checked either way.
    async fn artifact_bytes(&self, artifact: &Artifact) -> Result<Vec<u8>, String> {
        let storage = &self.settings.storage;
        if storage.url_for(&artifact.path) == artifact.url && storage.exists(&artifact.path) {
            return sources::read_artifact(storage, artifact).map_err(|e| e.message);
        }
        let max = weir_shared::untar::Limits::default().max_archive_bytes;
        weir_shared::fetch::download(&self.http, &artifact.url, &artifact.digest, max)
            .await
            .map_err(|e| e.to_string())
    }

    /// Stores an output (content-addressed file) and writes its ExternalArtifact, both only
    /// when something changed; then keeps the newest `--artifact-retention` files.
    async fn store(
        &self,
        obj: &ArtifactGenerator,
        output: &OutputArtifact,
        built: BuiltOutput,
        outputs: &Outputs,
    ) -> Result<GeneratedArtifactRef, ReconcileError> {
        let storage = &self.settings.storage;
        let ns = obj.namespace().unwrap_or_default();
        let dir = Storage::object_dir(OUTPUT_KIND, &ns, &output.name);
        let filename = format!("{}.tar.gz", built.digest.trim_start_matches("sha256:"));
        let path = format!("{dir}/{filename}");
        let failed = |m: String| {
            ReconcileError::transient(
                ag_reasons::RECONCILIATION_FAILED,
                format!("{} reconcile failed: {m}", output.name),
            )
        };
        let live = outputs.get(&output.name);
        // Never write into the storage of an ExternalArtifact someone else produces.
        if live.is_none() {
            self.check_unclaimed(obj, &ns, &output.name)
                .await
                .map_err(&failed)?;
        }
        let written = storage
            .write(&path, &built.archive)
            .map_err(|e| failed(format!("writing artifact {path}: {e}")))?;
        let mut current = live
            .and_then(|ea| ea.status.as_ref())
            .and_then(|s| s.artifact.clone());
        let changed = artifact::record(
            storage,
            &mut current,
            &written,
            &built.revision,
            built.metadata,
        );
        let desired_meta = desired_metadata(obj, output);
        let ready_differs = live
            .and_then(|ea| ea.status.as_ref())
            .is_none_or(|s| !is_ready(&s.conditions));
        let artifact_differs = live
            .and_then(|ea| ea.status.as_ref())
            .and_then(|s| s.artifact.as_ref())
            != current.as_ref();
        // Applied only when the object differs from what this generator sets (older API
        // servers record even an unchanged apply, which would wake every watcher);
        // server-side apply then also removes labels and annotations no longer set.
        if live.is_none_or(|ea| !metadata_matches(ea, obj, &desired_meta)) {
            self.apply_external_artifact(obj, output, &desired_meta)
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        if artifact_differs || ready_differs {
            self.write_external_artifact_status(&ns, &output.name, current.as_ref(), live, obj)
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        artifact::collect_garbage(
            storage,
            &dir,
            &written.path,
            self.settings.artifact_retention,
        );
        if changed {
            let message = format!(
                "ExternalArtifact/{ns}/{} reconciled with revision {}",
                output.name, built.revision
            );
            self.runtime
                .recorder
                .publish(
                    &obj.object_ref(&()),
                    Severity::Info,
                    weir_api::source::conditions::reasons::NEW_ARTIFACT,
                    &message,
                    BTreeMap::from([(
                        "source.weir.dev/revision".to_string(),
                        built.revision.clone(),
                    )]),
                )
                .await;
        }
        Ok(GeneratedArtifactRef {
            name: output.name.clone(),
            namespace: ns,
            digest: written.digest,
            filename,
        })
    }

    /// An ExternalArtifact of that name that this generator did not create belongs to
    /// someone else (another generator, a third-party producer): never take it over.
    async fn check_unclaimed(
        &self,
        obj: &ArtifactGenerator,
        ns: &str,
        name: &str,
    ) -> Result<(), String> {
        let existing = Api::<ExternalArtifact>::namespaced(self.runtime.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| format!("reading ExternalArtifact {ns}/{name}: {e}"))?;
        match existing {
            None => Ok(()),
            Some(ea) if ea.labels().get(GENERATOR_LABEL) == obj.uid().as_ref() => Ok(()),
            Some(ea) => Err(format!(
                "ExternalArtifact {ns}/{name} already exists and is not generated by this ArtifactGenerator ({}): rename the artifact or delete that object",
                ea.labels().get(GENERATOR_LABEL).map_or_else(
                    || "it has no generator label".to_string(),
                    |uid| format!("generator UID {uid}")
                )
            )),
        }
    }

    /// Server-side applies the ExternalArtifact's metadata and spec.
    async fn apply_external_artifact(
        &self,
        obj: &ArtifactGenerator,
        output: &OutputArtifact,
        meta: &DesiredMetadata,
    ) -> Result<(), kube::Error> {
        let ns = obj.namespace().unwrap_or_default();
        let owner = OwnerReference {
            api_version: ArtifactGenerator::api_version(&()).into_owned(),
            kind: KIND.to_string(),
            name: obj.name_any(),
            uid: obj.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(false),
        };
        let body = json!({
            "apiVersion": ExternalArtifact::api_version(&()),
            "kind": OUTPUT_KIND,
            "metadata": {
                "name": output.name,
                "namespace": ns,
                "labels": meta.labels,
                "annotations": meta.annotations,
                "ownerReferences": [owner],
            },
            "spec": {
                "sourceRef": {
                    "apiVersion": ArtifactGenerator::api_version(&()),
                    "kind": KIND,
                    "name": obj.name_any(),
                    "namespace": ns,
                }
            }
        });
        Api::<ExternalArtifact>::namespaced(self.runtime.client.clone(), &ns)
            .patch(
                &output.name,
                &PatchParams::apply(CONTROLLER_NAME).force(),
                &Patch::Apply(&body),
            )
            .await
            .map(|_| ())
    }

    /// Writes the ExternalArtifact's status: the artifact and `Ready=True` (its transition
    /// time kept when it already was).
    async fn write_external_artifact_status(
        &self,
        ns: &str,
        name: &str,
        artifact: Option<&Artifact>,
        live: Option<&ExternalArtifact>,
        obj: &ArtifactGenerator,
    ) -> Result<(), kube::Error> {
        let previous = live
            .and_then(|ea| ea.status.as_ref())
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == types::READY));
        let since = previous.filter(|c| c.status == "True").map_or_else(
            || Time(Timestamp::now()),
            |c| c.last_transition_time.clone(),
        );
        let ready = Condition {
            type_: types::READY.to_string(),
            status: "True".to_string(),
            reason: reasons::SUCCEEDED.to_string(),
            message: format!("Artifact is ready (generated by {KIND} {})", obj.name_any()),
            last_transition_time: since,
            observed_generation: live.and_then(|ea| ea.metadata.generation),
        };
        let mut artifact = serde_json::to_value(artifact).unwrap_or_default();
        // A merge patch keeps keys it does not mention: an emptied metadata map must be
        // sent as null to remove the old origin revision.
        if let Some(a) = artifact.as_object_mut() {
            a.entry("metadata").or_insert(serde_json::Value::Null);
        }
        let patch = json!({ "status": { "artifact": artifact, "conditions": [ready] } });
        Api::<ExternalArtifact>::namespaced(self.runtime.client.clone(), ns)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
    }

    /// Deletes the ExternalArtifacts (and their storage) of `previous` that `current` no
    /// longer lists. Failures are logged: a leftover costs disk, and the next reconcile
    /// retries it from the inventory only while it is listed, so they are also warned about.
    async fn remove_orphans(
        &self,
        obj: &ArtifactGenerator,
        previous: &[GeneratedArtifactRef],
        current: &[GeneratedArtifactRef],
    ) {
        let keep: BTreeSet<(&str, &str)> = current
            .iter()
            .map(|r| (r.namespace.as_str(), r.name.as_str()))
            .collect();
        let uid = obj.uid().unwrap_or_default();
        for orphan in previous
            .iter()
            .filter(|r| !keep.contains(&(r.namespace.as_str(), r.name.as_str())))
        {
            let api =
                Api::<ExternalArtifact>::namespaced(self.runtime.client.clone(), &orphan.namespace);
            let existing = match api.get_opt(&orphan.name).await {
                Ok(existing) => existing,
                Err(e) => {
                    tracing::warn!(error = %e, artifact = %orphan.name, "reading an ExternalArtifact to remove");
                    continue;
                }
            };
            // The name may have been taken over since (another generator, another
            // producer): then neither the object nor its storage is ours to remove.
            if let Some(ea) = &existing {
                if ea.labels().get(GENERATOR_LABEL) != Some(&uid) {
                    continue;
                }
                let params = DeleteParams {
                    preconditions: Some(kube::api::Preconditions {
                        uid: ea.uid(),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(&orphan.name, &params).await {
                    Ok(_) => {
                        tracing::info!(generator = %obj.name_any(), artifact = %orphan.name, "deleted ExternalArtifact no longer generated");
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => {
                        tracing::warn!(error = %e, artifact = %orphan.name, "deleting ExternalArtifact");
                        continue;
                    }
                }
            }
            if let Err(e) = artifact::remove_all(
                &self.settings.storage,
                OUTPUT_KIND,
                &orphan.namespace,
                &orphan.name,
            ) {
                tracing::warn!(error = %e.message, "removing a generated artifact's storage");
            }
        }
    }
}

/// The outputs a generator may have produced: its inventory, and the ExternalArtifacts that
/// carry its label (written by a reconcile that failed before recording its inventory).
pub fn known_outputs(
    inventory: &[GeneratedArtifactRef],
    outputs: &Outputs,
) -> Vec<GeneratedArtifactRef> {
    let mut known = inventory.to_vec();
    for (name, ea) in outputs {
        if !known.iter().any(|r| &r.name == name) {
            known.push(GeneratedArtifactRef {
                name: name.clone(),
                namespace: ea.namespace().unwrap_or_default(),
                digest: String::new(),
                filename: String::new(),
            });
        }
    }
    known
}

/// Labels and annotations of a generated ExternalArtifact.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DesiredMetadata {
    /// `commonMetadata.labels` plus the generator's labels (which win).
    pub labels: BTreeMap<String, String>,
    /// `commonMetadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// The metadata an output's ExternalArtifact must carry.
pub fn desired_metadata(obj: &ArtifactGenerator, _output: &OutputArtifact) -> DesiredMetadata {
    let common = obj.spec.common_metadata.clone().unwrap_or_default();
    let mut labels = common.labels;
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        CONTROLLER_NAME.to_string(),
    );
    labels.insert(GENERATOR_LABEL.to_string(), obj.uid().unwrap_or_default());
    DesiredMetadata {
        labels,
        annotations: common.annotations,
    }
}

/// Whether the object carries exactly the desired labels and annotations, the owner
/// reference and `spec.sourceRef`.
fn metadata_matches(
    ea: &ExternalArtifact,
    obj: &ArtifactGenerator,
    desired: &DesiredMetadata,
) -> bool {
    let owned = ea
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == obj.uid().as_ref());
    ea.labels() == &desired.labels
        && ea.annotations() == &desired.annotations
        && owned
        && ea.spec.source_ref.is_some()
}

fn is_ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == types::READY && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_api::source_extensions::{CopyOperation, GeneratorSourceReference};

    fn spec(yaml: &str) -> ArtifactGeneratorSpec {
        let value: serde_json::Value = weir_yaml::from_str(yaml).expect("spec");
        serde_json::from_value(value).expect("spec")
    }

    const TWO: &str = "sources:\n- {alias: repo, kind: GitRepository, name: mono}\nartifacts:\n- name: apps\n  copy:\n  - {from: '@repo/apps/**', to: '@artifact/'}\n- name: infra\n  copy:\n  - {from: '@repo/infrastructure/', to: '@artifact/'}\n";

    #[test]
    fn a_valid_spec_passes() {
        validate(&spec(TWO), "ns", true).expect("valid");
    }

    #[test]
    fn duplicates_and_unknown_aliases_stall_with_the_name() {
        let mut s = spec(TWO);
        s.sources.push(s.sources[0].clone());
        let e = validate(&s, "ns", false).expect_err("duplicate alias");
        assert_eq!(e.message, "duplicate source alias 'repo' found");
        assert_eq!(e.next, weir_shared::Next::Stalled);

        let mut s = spec(TWO);
        s.artifacts[1].name = "apps".into();
        let e = validate(&s, "ns", false).expect_err("duplicate name");
        assert_eq!(e.message, "duplicate artifact name 'apps' found");

        let mut s = spec(TWO);
        s.artifacts[0].copy.push(CopyOperation {
            from: "@nope/x.yaml".into(),
            to: "@artifact/".into(),
            ..Default::default()
        });
        let e = validate(&s, "ns", false).expect_err("unknown alias");
        assert!(
            e.message.contains("source alias 'nope' not found"),
            "{}",
            e.message
        );

        let mut s = spec(TWO);
        s.artifacts[0].revision = Some("@other".into());
        let e = validate(&s, "ns", false).expect_err("unknown revision alias");
        assert_eq!(
            e.message,
            "artifact apps revision source alias 'other' not found"
        );
    }

    #[test]
    fn invalid_common_metadata_stalls_before_anything_is_applied() {
        let mut s = spec(TWO);
        s.common_metadata = Some(weir_api::source_extensions::GeneratorCommonMetadata {
            labels: BTreeMap::from([("team".into(), "platform".into())]),
            annotations: BTreeMap::from([("example.com/owner".into(), "any text at all".into())]),
        });
        validate(&s, "ns", false).expect("valid metadata");
        for (key, value) in [
            ("bad key", "x"),
            ("team", "not valid!"),
            ("Bad_Prefix/x", "y"),
        ] {
            let mut s = spec(TWO);
            s.common_metadata = Some(weir_api::source_extensions::GeneratorCommonMetadata {
                labels: BTreeMap::from([(key.into(), value.into())]),
                annotations: BTreeMap::new(),
            });
            let e = validate(&s, "ns", false).expect_err("invalid");
            assert_eq!(e.next, weir_shared::Next::Stalled, "{key}");
            assert!(e.message.contains("commonMetadata.labels"), "{}", e.message);
        }
    }

    #[test]
    fn cross_namespace_sources_are_refused_only_under_the_flag() {
        let mut s = spec(TWO);
        s.sources[0] = GeneratorSourceReference {
            namespace: Some("other".into()),
            ..s.sources[0].clone()
        };
        validate(&s, "ns", false).expect("allowed without the flag");
        let e = validate(&s, "ns", true).expect_err("refused");
        assert_eq!(e.reason, ag_reasons::ACCESS_DENIED);
        assert!(
            e.message.contains("GitRepository/other/mono"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_sources_digest_changes_with_any_source_artifact_only() {
        let source = |alias: &str, rev: &str| ObservedSource {
            alias: alias.into(),
            display: String::new(),
            artifact: Artifact {
                path: "a.tar.gz".into(),
                url: "http://x/a.tar.gz".into(),
                revision: rev.into(),
                digest: format!("sha256:{rev}"),
                size: None,
                last_update_time: Time(Timestamp::UNIX_EPOCH),
                metadata: BTreeMap::new(),
            },
        };
        let a = sources_digest(&[source("a", "1"), source("b", "2")]);
        assert_eq!(
            a,
            sources_digest(&[source("b", "2"), source("a", "1")]),
            "order-free"
        );
        assert_ne!(a, sources_digest(&[source("a", "1"), source("b", "3")]));
        assert!(a.starts_with("sha256:"));
    }

    #[test]
    fn the_annotation_disables_in_any_case() {
        let mut ag = ArtifactGenerator::new("g", spec(TWO));
        assert!(!disabled(&ag));
        ag.metadata.annotations = Some(BTreeMap::from([(
            RECONCILE_ANNOTATION.to_string(),
            "disabled".to_string(),
        )]));
        assert!(disabled(&ag));
    }
}
