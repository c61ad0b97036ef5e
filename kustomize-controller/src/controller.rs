//! The Kustomization reconciler: its steps on the shared driver.
//!
//! `validate → source artifact → dependencies → fetch (digest verified, cached) → build →
//! substitute → apply → prune → health`; the driver summarises, writes status once and
//! requeues. Nothing is pruned when anything before prune failed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef as StoreRef, Store};
use kube::{Resource, ResourceExt};
use serde_json::Value;
use sha2::{Digest, Sha256};
use weir_api::conditions::reasons;
use weir_api::kustomize::conditions::{reasons as kreasons, types as ktypes};
use weir_api::kustomize::{
    DeletionPolicy, Kustomization, KustomizationSpec, KustomizationStatus, Snapshot,
};
use weir_api::meta::Artifact;
use weir_api::source::{ExternalArtifact, GitRepository, OCIRepository};
use weir_shared::ReconcileError;
use weir_shared::apply::{Action as Applied, Applier, ApplyOptions, Change, Owner};
use weir_shared::artifact_cache::ArtifactCache;
use weir_shared::conditions::{self, Setter};
use weir_shared::dependencies::{self, Unsatisfied};
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::events::Severity;
use weir_shared::health::{self, HealthError};
use weir_shared::inventory::ObjectRef;
use weir_shared::reconcile::{self, ConditionSet, Requeue};

use crate::plan;

/// The kind this controller reconciles.
pub const KIND: &str = "Kustomization";
/// Field manager and event reporter name.
pub const CONTROLLER_NAME: &str = "kustomize-controller";
/// The API group whose keys (`<group>/ssa`, `/prune`, `/force`, `/name`, `/namespace`) the
/// applied objects carry.
pub const GROUP: &str = "kustomize.weir.dev";

/// Process-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Refuse sources in other namespaces.
    pub no_cross_namespace_refs: bool,
    /// Refuse remote bases and resources (`--no-remote-bases`); when false they are fetched
    /// into a cache of each build under `remote_dir`.
    pub no_remote_bases: bool,
    /// Where builds fetch remote bases (a fresh folder per build, removed after it).
    pub remote_dir: PathBuf,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Server-side apply engine.
    pub applier: Applier,
    /// HTTP client for artifacts.
    pub http: reqwest::Client,
    /// Unpacked source artifacts, shared by digest.
    pub artifacts: ArtifactCache,
    /// Every Kustomization (the controller's reflector): dependencies are read from it.
    pub store: Store<Kustomization>,
    /// Settings.
    pub settings: Settings,
}

impl Reconciler for Context {
    type Object = Kustomization;
    type Status = KustomizationStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[ktypes::HEALTHY],
        summarized: &[ktypes::HEALTHY],
        negative: &[],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &Kustomization) -> Option<&KustomizationStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &Kustomization) -> bool {
        obj.spec.suspend
    }

    /// Success requeues at the interval (drift correction); failures back off up to
    /// `retryInterval`.
    fn requeue(obj: &Kustomization) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(&obj.spec.interval, obj.spec.retry_interval.as_deref())
    }

    async fn run_steps(
        &self,
        obj: &Kustomization,
        status: &mut KustomizationStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let mut digest = None;
        let outcome = steps(obj, self, status, setter, &mut digest).await;
        record_history(status, digest, &outcome);
        outcome
    }

    fn event_metadata(status: &KustomizationStatus) -> BTreeMap<String, String> {
        revision_meta(status.last_attempted_revision.as_deref())
    }

    async fn cleanup(&self, obj: &Kustomization) -> Result<(), ReconcileError> {
        cleanup(obj, self).await
    }
}

/// The ordered steps; each sets the conditions it owns.
async fn steps(
    obj: &Kustomization,
    ctx: &Context,
    status: &mut KustomizationStatus,
    setter: Setter,
    digest: &mut Option<String>,
) -> Result<String, ReconcileError> {
    let source_ns = validate_source_ref(obj, &ctx.settings)?;
    let timeout = timeout(&obj.spec)?;
    // Dependencies first (a dependency that is not ready says so even while the source has
    // no artifact yet), then, once the source revision is known, that dependencies sharing the
    // source have applied it.
    check_dependencies(obj, &ctx.store, None)?;
    let artifact = source_artifact(obj, ctx, &source_ns).await?;
    check_dependencies(obj, &ctx.store, Some(&artifact.revision))?;
    status.last_attempted_revision = Some(artifact.revision.clone());
    let tree = ctx
        .artifacts
        .acquire(&ctx.http, &reconcile::object_key(obj), &artifact)
        .await?;
    let objects = build(obj, ctx, &tree.path, timeout).await?;
    *digest = Some(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(
            weir_yaml::to_string_multi(&objects).as_bytes()
        ))
    ));
    let changes = apply(obj, ctx, &objects, timeout).await?;
    let old = status
        .inventory
        .as_ref()
        .map(|i| i.entries.clone())
        .unwrap_or_default();
    let plan = plan::plan_inventory(&old, &objects, obj.spec.prune);
    let (pruned, prune_failures) = ctx.applier.prune(&plan.stale, &Owner::of(obj)).await;
    status.inventory = Some(plan::after_prune(plan.entries, &prune_failures));
    status.last_applied_revision = Some(artifact.revision.clone());
    status.last_applied_origin_revision = origin_revision(&artifact);
    report_changes(obj, ctx, &artifact.revision, &changes, &pruned).await;
    if !prune_failures.is_empty() {
        let list: Vec<String> = prune_failures
            .iter()
            .map(|(r, m)| format!("{r}: {m}"))
            .collect();
        return Err(ReconcileError::transient(
            kreasons::PRUNE_FAILED,
            format!("pruning failed: {}", list.join("; ")),
        ));
    }
    check_health(obj, ctx, status, setter, &objects, timeout).await?;
    Ok(format!("Applied revision: {}", artifact.revision))
}

/// `spec.timeout`, defaulting to the interval minus 30s, at least 30s.
fn timeout(spec: &KustomizationSpec) -> Result<Duration, ReconcileError> {
    match spec.timeout.as_deref() {
        Some(t) => reconcile::parse_field("timeout", t),
        None => Ok(reconcile::parse_field("interval", &spec.interval)?
            .saturating_sub(Duration::from_secs(30))
            .max(Duration::from_secs(30))),
    }
}

fn revision_meta(revision: Option<&str>) -> BTreeMap<String, String> {
    revision
        .map(|r| BTreeMap::from([(format!("{GROUP}/revision"), r.to_string())]))
        .unwrap_or_default()
}

/// Records the build in the history (last five distinct builds, newest first).
fn record_history(
    status: &mut KustomizationStatus,
    digest: Option<String>,
    outcome: &Result<String, ReconcileError>,
) {
    let Some(digest) = digest else { return };
    let now = Time(Timestamp::now());
    let result = match outcome {
        Ok(_) => reasons::SUCCEEDED.to_string(),
        Err(e) => e.reason.to_string(),
    };
    let revision = status.last_attempted_revision.clone().unwrap_or_default();
    if let Some(s) = status.history.iter_mut().find(|s| s.digest == digest) {
        s.last_reconciled = now;
        s.last_reconciled_status = result;
        s.total_reconciliations += 1;
        s.revision = revision;
    } else {
        status.history.push(Snapshot {
            digest,
            revision,
            first_reconciled: now.clone(),
            last_reconciled: now,
            last_reconciled_status: result,
            total_reconciliations: 1,
        });
    }
    status
        .history
        .sort_by_key(|s| std::cmp::Reverse(s.last_reconciled.0));
    status.history.truncate(5);
}

/// Checks the source reference; returns the source's namespace.
fn validate_source_ref(obj: &Kustomization, settings: &Settings) -> Result<String, ReconcileError> {
    let r = &obj.spec.source_ref;
    if !SOURCE_KINDS.contains(&r.kind.as_str()) {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            format!(
                "spec.sourceRef.kind {:?} is not supported: use GitRepository, OCIRepository or ExternalArtifact",
                r.kind
            ),
        ));
    }
    let own = obj.namespace().unwrap_or_default();
    let ns = r.namespace.clone().unwrap_or_else(|| own.clone());
    if settings.no_cross_namespace_refs && ns != own {
        return Err(ReconcileError::stalled(
            kreasons::ACCESS_DENIED,
            format!(
                "cross-namespace reference to {} {ns}/{} is not allowed (--no-cross-namespace-refs)",
                r.kind, r.name
            ),
        ));
    }
    Ok(ns)
}

/// Every `dependsOn` must be Ready at its current generation, and at `revision` (when given)
/// if it shares the source. Read from the controller's store: no API call per dependency. A
/// cycle stalls; anything else waits.
fn check_dependencies(
    obj: &Kustomization,
    store: &Store<Kustomization>,
    revision: Option<&str>,
) -> Result<(), ReconcileError> {
    if obj.spec.depends_on.is_empty() {
        return Ok(());
    }
    let lookup = |key: &dependencies::Key| {
        (key.kind == plan::KIND)
            .then(|| store.get(&StoreRef::new(&key.name).within(&key.namespace)))
            .flatten()
            .map(|k| plan::node(&k))
    };
    let source = plan::source(obj);
    dependencies::check(
        &plan::key(obj),
        &plan::depends_on(obj),
        Some(&source),
        revision,
        &lookup,
    )
    .map_err(|u| match &u {
        Unsatisfied::Cycle(_) => ReconcileError::stalled(kreasons::DEPENDENCY_CYCLE, u.to_string()),
        _ => ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, u.to_string()),
    })
}

/// The source kinds a Kustomization can use.
pub const SOURCE_KINDS: &[&str] = &["GitRepository", "OCIRepository", "ExternalArtifact"];

/// The origin revision an artifact records (OCI artifacts pushed by CI carry the commit;
/// generated ExternalArtifacts carry their source's).
pub fn origin_revision(artifact: &Artifact) -> Option<String> {
    artifact
        .metadata
        .get("org.opencontainers.image.revision")
        .cloned()
}

/// The source's artifact; a missing source or artifact is waiting, not failure.
async fn source_artifact(
    obj: &Kustomization,
    ctx: &Context,
    ns: &str,
) -> Result<Artifact, ReconcileError> {
    let name = &obj.spec.source_ref.name;
    let kind = obj.spec.source_ref.kind.as_str();
    let waiting = |m: String| ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, m);
    let client = ctx.runtime.client.clone();
    let artifact = match kind {
        "OCIRepository" => Api::<OCIRepository>::namespaced(client, ns)
            .get_opt(name)
            .await
            .map_err(|e| ReconcileError::kube("reading source", e))?
            .map(|r| r.status.and_then(|s| s.artifact)),
        // Any producer's ExternalArtifact counts once it has an artifact: the digest is
        // verified on download like every other source's.
        "ExternalArtifact" => Api::<ExternalArtifact>::namespaced(client, ns)
            .get_opt(name)
            .await
            .map_err(|e| ReconcileError::kube("reading source", e))?
            .map(|r| r.status.and_then(|s| s.artifact)),
        _ => Api::<GitRepository>::namespaced(client, ns)
            .get_opt(name)
            .await
            .map_err(|e| ReconcileError::kube("reading source", e))?
            .map(|r| r.status.and_then(|s| s.artifact)),
    };
    artifact
        .ok_or_else(|| waiting(format!("source {kind} {ns}/{name} not found")))?
        .ok_or_else(|| waiting(format!("source {kind} {ns}/{name} has no artifact yet")))
}

/// The spec fields that act like a kustomization on top of `path`, as engine data.
fn overrides_of(
    spec: &KustomizationSpec,
) -> Result<weir_kustomize::overrides::SpecOverrides, String> {
    let to_values = |items: Result<Value, serde_json::Error>| -> Result<Vec<Value>, String> {
        match items.map_err(|e| e.to_string())? {
            Value::Array(a) => Ok(a),
            _ => Ok(Vec::new()),
        }
    };
    let metadata = spec.common_metadata.clone().unwrap_or_default();
    Ok(weir_kustomize::overrides::SpecOverrides {
        namespace: spec.target_namespace.clone(),
        name_prefix: spec.name_prefix.clone(),
        name_suffix: spec.name_suffix.clone(),
        patches: to_values(serde_json::to_value(&spec.patches))?,
        images: to_values(serde_json::to_value(&spec.images))?,
        components: spec.components.clone(),
        labels: metadata.labels,
        annotations: metadata.annotations,
    })
}

/// Builds `spec.path` with the spec's overrides, substitutes variables, adds owner labels.
async fn build(
    obj: &Kustomization,
    ctx: &Context,
    tree: &Path,
    timeout: Duration,
) -> Result<Vec<Value>, ReconcileError> {
    let failed = |m: String| ReconcileError::transient(kreasons::BUILD_FAILED, m);
    let spec = &obj.spec;
    let path = spec.path.clone().unwrap_or_else(|| "./".into());
    let rel = path.trim_start_matches("./").trim_start_matches('/');
    let dir = tree.join(rel);
    if !dir.is_dir() {
        return Err(failed(format!(
            "spec.path {path:?} does not exist in the artifact"
        )));
    }
    let overrides = overrides_of(spec)
        .and_then(|o| o.to_kustomization())
        .map_err(failed)?;
    let root: PathBuf = tree.to_path_buf();
    // The build shares the Kustomization's timeout: a tree that takes longer is refused
    // rather than holding a build thread.
    let limits = weir_kustomize::BuildLimits {
        deadline: Some(Instant::now() + timeout),
        ..Default::default()
    };
    let remote = (!ctx.settings.no_remote_bases).then(|| ctx.settings.remote_dir.clone());
    let objects = tokio::task::spawn_blocking(move || {
        let fs = weir_kustomize::DiskFs::new(&root).map_err(|e| {
            weir_kustomize::BuildError::new(&root.display().to_string(), format!("build root: {e}"))
        })?;
        // `helmCharts:` render with Weir's Helm engine: no helm binary, nothing downloaded.
        let charts = weir_helm::inflator::WeirHelmInflator;
        let mut options = weir_kustomize::BuildOptions {
            overrides: Some(&overrides),
            synthesize: true,
            limits: Some(&limits),
            remote: None,
            charts: Some(&charts),
        };
        let Some(remote_dir) = remote else {
            return weir_kustomize::build_with_options(&fs, &dir, &options);
        };
        // Each build fetches into its own cache, removed when the build ends.
        let cache = std::fs::create_dir_all(&remote_dir)
            .and_then(|()| tempfile_in(&remote_dir))
            .map_err(|e| {
                weir_kustomize::BuildError::new(
                    &remote_dir.display().to_string(),
                    format!("remote bases cache: {e}"),
                )
            })?;
        let loader = weir_remote::GitLoader::new(weir_remote::Options {
            cache_dir: cache.path().to_path_buf(),
            ..Default::default()
        });
        options.remote = Some(&loader);
        weir_kustomize::build_with_options(&fs, &dir, &options)
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| build_failed(&path, &e))?;
    let mut objects = match &spec.post_build {
        Some(pb) => {
            let vars = substitution_vars(obj, ctx, pb).await?;
            weir_kustomize::postbuild::substitute(objects, &vars)
                .map_err(|m| failed(format!("post-build substitution failed: {m}")))?
        }
        None => objects,
    };
    ctx.applier
        .policy()
        .stamp_owner(&mut objects, &Owner::of(obj));
    Ok(objects)
}

/// A fresh folder in `dir`, removed when dropped.
fn tempfile_in(dir: &Path) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("build-").tempdir_in(dir)
}

/// A failed build as a reconcile error: remote entries refused by `--no-remote-bases` or
/// malformed stall (the source must change); anything else is retried.
fn build_failed(path: &str, e: &weir_kustomize::BuildError) -> ReconcileError {
    use weir_kustomize::ErrorKind;
    let message = format!("kustomize build of {path:?} failed: {e}");
    match e.kind {
        ErrorKind::RemoteDisabled => ReconcileError::stalled(
            kreasons::BUILD_FAILED,
            format!(
                "{message} (kustomize-controller runs with --no-remote-bases: remote bases \
                 and resources are refused)"
            ),
        ),
        ErrorKind::RemoteInvalid => ReconcileError::stalled(kreasons::BUILD_FAILED, message),
        ErrorKind::Build | ErrorKind::RemoteFetch => {
            ReconcileError::transient(kreasons::BUILD_FAILED, message)
        }
    }
}

/// Variables from `substituteFrom` (in order) then `substitute`.
async fn substitution_vars(
    obj: &Kustomization,
    ctx: &Context,
    pb: &weir_api::kustomize::PostBuild,
) -> Result<BTreeMap<String, String>, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let mut vars = BTreeMap::new();
    for src in &pb.substitute_from {
        let found: Option<BTreeMap<String, String>> = match src.kind.as_str() {
            "ConfigMap" => {
                let api: Api<ConfigMap> = Api::namespaced(ctx.runtime.client.clone(), &ns);
                api.get_opt(&src.name)
                    .await
                    .map_err(|e| ReconcileError::kube("reading substituteFrom", e))?
                    .map(|c| c.data.unwrap_or_default())
            }
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(ctx.runtime.client.clone(), &ns);
                api.get_opt(&src.name)
                    .await
                    .map_err(|e| ReconcileError::kube("reading substituteFrom", e))?
                    .map(|s| {
                        s.data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect()
                    })
            }
            other => {
                return Err(ReconcileError::stalled(
                    reasons::INVALID_SPEC,
                    format!("postBuild.substituteFrom kind {other:?} must be ConfigMap or Secret"),
                ));
            }
        };
        match found {
            Some(data) => vars.extend(data),
            None if src.optional => {}
            None => {
                return Err(ReconcileError::waiting(
                    reasons::DEPENDENCY_NOT_READY,
                    format!(
                        "postBuild.substituteFrom {} {ns}/{} not found",
                        src.kind, src.name
                    ),
                ));
            }
        }
    }
    vars.extend(pb.substitute.clone());
    Ok(vars)
}

async fn apply(
    obj: &Kustomization,
    ctx: &Context,
    objects: &[Value],
    timeout: Duration,
) -> Result<Vec<Change>, ReconcileError> {
    let opts = ApplyOptions {
        force: obj.spec.force,
        wait_timeout: timeout,
    };
    ctx.applier.apply_all(objects, &opts).await.map_err(|e| {
        ReconcileError::transient(
            kreasons::RECONCILIATION_FAILED,
            format!("apply failed: {e}"),
        )
        .with_cause(e)
    })
}

async fn report_changes(
    obj: &Kustomization,
    ctx: &Context,
    revision: &str,
    changes: &[Change],
    pruned: &[Change],
) {
    let lines: Vec<String> = changes
        .iter()
        .chain(pruned)
        .filter(|c| !matches!(c.action, Applied::Unchanged | Applied::Skipped))
        .map(|c| format!("{} {}", c.object, c.action))
        .collect();
    if lines.is_empty() {
        return;
    }
    ctx.runtime
        .recorder
        .publish(
            &obj.object_ref(&()),
            Severity::Info,
            kreasons::RECONCILIATION_SUCCEEDED,
            &lines.join("\n"),
            revision_meta(Some(revision)),
        )
        .await;
}

/// Waits until the health targets are ready, one fails, or the timeout passes. Sets
/// `Healthy` (removed when there is nothing to check).
async fn check_health(
    obj: &Kustomization,
    ctx: &Context,
    status: &mut KustomizationStatus,
    setter: Setter,
    objects: &[Value],
    timeout: Duration,
) -> Result<(), ReconcileError> {
    let targets = plan::health_targets(obj, objects);
    if targets.is_empty() {
        conditions::remove(&mut status.conditions, ktypes::HEALTHY);
        return Ok(());
    }
    match health::wait_healthy(&ctx.applier, &targets, timeout).await {
        Ok(()) => {
            setter.mark_true(
                &mut status.conditions,
                ktypes::HEALTHY,
                reasons::SUCCEEDED,
                "all health checks passed",
            );
            Ok(())
        }
        Err(HealthError::Api(m)) => Err(ReconcileError::transient(
            kreasons::HEALTH_CHECK_FAILED,
            format!("health check: {m}"),
        )),
        Err(e) => {
            let message = e.to_string();
            setter.mark_false(
                &mut status.conditions,
                ktypes::HEALTHY,
                kreasons::HEALTH_CHECK_FAILED,
                message.clone(),
            );
            Err(ReconcileError::transient(kreasons::HEALTH_CHECK_FAILED, message).with_cause(e))
        }
    }
}

/// Deletion: follows `deletionPolicy`, then releases the cached artifact.
async fn cleanup(obj: &Kustomization, ctx: &Context) -> Result<(), ReconcileError> {
    let policy = obj
        .spec
        .deletion_policy
        .unwrap_or(DeletionPolicy::MirrorPrune);
    let delete = match policy {
        DeletionPolicy::Delete => true,
        DeletionPolicy::MirrorPrune => obj.spec.prune,
        DeletionPolicy::Orphan => false,
    };
    if delete && !obj.spec.suspend {
        let refs: Vec<ObjectRef> = obj
            .status
            .as_ref()
            .and_then(|s| s.inventory.as_ref())
            .map(|i| i.entries.iter().filter_map(ObjectRef::from_entry).collect())
            .unwrap_or_default();
        let (_, failed) = ctx.applier.prune(&refs, &Owner::of(obj)).await;
        if !failed.is_empty() {
            let list: Vec<String> = failed.iter().map(|(r, m)| format!("{r}: {m}")).collect();
            return Err(ReconcileError::transient(
                kreasons::PRUNE_FAILED,
                format!("deleting objects failed: {}", list.join("; ")),
            ));
        }
    }
    ctx.artifacts.release(&reconcile::object_key(obj)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_defaults_to_interval_minus_30s_at_least_30s() -> Result<(), ReconcileError> {
        let spec = |interval: &str, timeout: Option<&str>| KustomizationSpec {
            interval: interval.into(),
            timeout: timeout.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(timeout(&spec("10m", None))?, Duration::from_secs(570));
        assert_eq!(timeout(&spec("45s", None))?, Duration::from_secs(30));
        assert_eq!(timeout(&spec("10m", Some("2m")))?, Duration::from_secs(120));
        assert!(timeout(&spec("10m", Some("soon"))).is_err());
        Ok(())
    }

    #[test]
    fn spec_overrides_carry_every_field() -> Result<(), String> {
        let spec = KustomizationSpec {
            target_namespace: Some("prod".into()),
            name_prefix: Some("p-".into()),
            images: vec![weir_api::kustomize::Image {
                name: "web".into(),
                new_tag: Some("2".into()),
                ..Default::default()
            }],
            common_metadata: Some(weir_api::kustomize::CommonMetadata {
                labels: BTreeMap::from([("team".into(), "a".into())]),
                annotations: BTreeMap::from([("note".into(), "x".into())]),
            }),
            ..Default::default()
        };
        let o = overrides_of(&spec)?;
        assert_eq!(
            (o.namespace.as_deref(), o.name_prefix.as_deref()),
            (Some("prod"), Some("p-"))
        );
        assert_eq!(
            o.images,
            vec![serde_json::json!({"name": "web", "newTag": "2"})]
        );
        assert_eq!(o.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(o.annotations.get("note").map(String::as_str), Some("x"));
        Ok(())
    }
}
