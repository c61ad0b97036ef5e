//! The Kustomization reconciler: a short driver over named steps.
//!
//! `finalizer → suspended? → validate → dependencies → source artifact → fetch (digest
//! verified) → build → substitute → apply → prune → health → one status patch → requeue`.
//! Nothing is pruned when anything before prune failed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;
use sha2::{Digest, Sha256};
use weir_api::kustomize::{
    DeletionPolicy, Inventory, InventoryEntry, Kustomization, KustomizationStatus, Snapshot,
};
use weir_api::meta::Artifact;
use weir_api::source::GitRepository;
use weir_shared::apply::{Action as Applied, Applier, ApplyOptions, Change};
use weir_shared::conditions::{self, Status, reasons, types};
use weir_shared::events::{EventRecorder, Severity};
use weir_shared::inventory::{self, ObjectRef};
use weir_shared::metrics::Metrics;
use weir_shared::reconcile::{self, Backoff};
use weir_shared::untar::Limits;
use weir_shared::{ReconcileError, duration, fetch};

use crate::health::{Health, health};
use crate::kustomize::{self, kustomization::Kustomization as KustomizeFile};
use crate::postbuild;

/// The kind this controller reconciles.
pub const KIND: &str = "Kustomization";
/// Field manager and event reporter name.
pub const CONTROLLER_NAME: &str = "kustomize-controller";
/// Owner label: the Kustomization's name.
pub const OWNER_NAME_LABEL: &str = "kustomize.weir.dev/name";
/// Owner label: the Kustomization's namespace.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.weir.dev/namespace";

/// Reasons specific to Kustomizations.
pub mod kreasons {
    /// The build (kustomize, substitution) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// The API server refused an object.
    pub const APPLY_FAILED: &str = "ReconciliationFailed";
    /// Some stale objects could not be deleted.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Objects did not become ready.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Dependencies form a cycle.
    pub const DEPENDENCY_CYCLE: &str = "DependencyCycle";
    /// The source reference is not allowed.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}

/// Process-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Refuse sources in other namespaces.
    pub no_cross_namespace_refs: bool,
    /// Requeue delay while waiting for dependencies or the source.
    pub requeue_dependency: Duration,
    /// Where unpacked artifacts are cached by digest.
    pub work_dir: PathBuf,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Server-side apply engine.
    pub applier: Applier,
    /// HTTP client for artifacts.
    pub http: reqwest::Client,
    /// Events.
    pub recorder: EventRecorder,
    /// Metrics.
    pub metrics: Metrics,
    /// Transient-error backoff.
    pub backoff: Backoff,
    /// Settings.
    pub settings: Settings,
    /// One lock per artifact digest, so concurrent reconciles unpack it once.
    pub unpack_locks: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Top-level reconcile: finalizer, then apply or cleanup.
///
/// # Errors
/// Only when the finalizer or status cannot be written.
pub async fn reconcile(
    obj: Arc<Kustomization>,
    ctx: Arc<Context>,
) -> Result<Action, finalizer::Error<ReconcileError>> {
    let api: Api<Kustomization> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    finalizer::finalizer(&api, weir_api::FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => reconcile_apply(&obj, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
}

/// Retry policy when the top-level reconcile fails.
pub fn error_policy(
    obj: Arc<Kustomization>,
    err: &finalizer::Error<ReconcileError>,
    ctx: Arc<Context>,
) -> Action {
    reconcile::top_level_failure(KIND, obj.as_ref(), err, &ctx.metrics, &ctx.backoff)
}

struct Timing {
    interval: Duration,
    retry: Duration,
    timeout: Duration,
}

fn timing(spec: &weir_api::kustomize::KustomizationSpec) -> Result<Timing, ReconcileError> {
    let parse = |field: &str, v: &str| {
        duration::parse(v).map_err(|m| {
            ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.{field}: {m}"))
        })
    };
    let interval = parse("interval", &spec.interval)?;
    let retry = spec
        .retry_interval
        .as_deref()
        .map(|r| parse("retryInterval", r))
        .transpose()?
        .unwrap_or(interval);
    let timeout = match spec.timeout.as_deref() {
        Some(t) => parse("timeout", t)?,
        None => interval
            .saturating_sub(Duration::from_secs(30))
            .max(Duration::from_secs(30)),
    };
    Ok(Timing {
        interval,
        retry,
        timeout,
    })
}

async fn reconcile_apply(obj: &Kustomization, ctx: &Context) -> Result<Action, ReconcileError> {
    let _timer = ctx.metrics.reconcile_timer(KIND);
    let (name, ns) = (obj.name_any(), obj.namespace().unwrap_or_default());
    if obj.spec.suspend {
        return Ok(Action::await_change());
    }
    let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = obj.meta().generation;
    let previous = obj.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    let mut digest = None;
    let timing = timing(&obj.spec);
    let outcome = match &timing {
        Ok(t) => run_steps(obj, ctx, t, &mut status, &mut digest).await,
        Err(e) => Err(e.clone()),
    };
    reconcile::summarize(
        &mut status.conditions,
        &outcome,
        generation,
        Timestamp::now(),
    );
    status.observed_generation = generation;
    if let Some(token) = reconcile::requested_at(obj) {
        status.last_handled_reconcile_at = Some(token);
    }
    record_history(&mut status, digest, &outcome);
    reconcile::patch_status(&api, &name, &status).await?;
    for c in &status.conditions {
        ctx.metrics
            .set_condition(KIND, &ns, &name, &c.type_, &c.status);
    }
    if let Err(e) = &outcome {
        ctx.metrics.reconcile_failed(KIND);
        tracing::warn!(%name, %ns, reason = e.reason, error = %e.message, "reconcile failed");
        if conditions::get(&previous.conditions, types::READY)
            .is_none_or(|c| c.message != e.message)
            && e.next != weir_shared::Next::Waiting
        {
            ctx.recorder
                .publish(
                    &obj.object_ref(&()),
                    Severity::Error,
                    e.reason,
                    &e.message,
                    revision_meta(&status),
                )
                .await;
        }
    }
    // Success requeues at the interval (drift correction); failures back off up to
    // retryInterval. An invalid duration stalls, so its cap is never used.
    let cap = match (&timing, outcome.is_ok()) {
        (Ok(t), true) => t.interval,
        (Ok(t), false) => t.retry,
        (Err(_), _) => Duration::ZERO,
    };
    Ok(reconcile::next_action(
        &outcome,
        &reconcile::object_key(obj),
        cap,
        ctx.settings.requeue_dependency,
        &ctx.backoff,
    ))
}

fn revision_meta(status: &KustomizationStatus) -> BTreeMap<String, String> {
    status
        .last_attempted_revision
        .clone()
        .map(|r| BTreeMap::from([("kustomize.weir.dev/revision".to_string(), r)]))
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

/// The ordered steps; each sets the conditions it owns.
async fn run_steps(
    obj: &Kustomization,
    ctx: &Context,
    t: &Timing,
    status: &mut KustomizationStatus,
    digest: &mut Option<String>,
) -> Result<String, ReconcileError> {
    let source_ns = validate_source_ref(obj, &ctx.settings)?;
    check_dependencies(obj, ctx).await?;
    let artifact = source_artifact(obj, ctx, &source_ns).await?;
    status.last_attempted_revision = Some(artifact.revision.clone());
    let tree = unpack(ctx, &artifact).await?;
    let objects = build(obj, ctx, &tree).await?;
    *digest = Some(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(
            crate::yaml::to_string_multi(&objects).as_bytes()
        ))
    ));
    let changes = apply(obj, ctx, &objects, t.timeout).await?;
    let new_entries: Vec<InventoryEntry> = {
        let mut e: Vec<InventoryEntry> = objects.iter().map(|o| ObjectRef::of(o).entry()).collect();
        e.sort();
        e.dedup();
        e
    };
    let old_entries = status
        .inventory
        .as_ref()
        .map(|i| i.entries.clone())
        .unwrap_or_default();
    let mut pruned = Vec::new();
    let mut prune_failures = Vec::new();
    if obj.spec.prune {
        let stale: Vec<ObjectRef> = inventory::stale(&old_entries, &new_entries)
            .iter()
            .filter_map(ObjectRef::from_entry)
            .collect();
        let (deleted, failed) = ctx.applier.prune(&stale, &owner_labels(obj)).await;
        pruned = deleted;
        prune_failures = failed;
    }
    // Objects that could not be pruned stay in the inventory so that the next reconcile
    // retries them.
    let mut entries = new_entries;
    entries.extend(prune_failures.iter().map(|(r, _)| r.entry()));
    entries.sort();
    status.inventory = Some(Inventory { entries });
    status.last_applied_revision = Some(artifact.revision.clone());
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
    check_health(obj, ctx, status, &objects, t.timeout).await?;
    Ok(format!("Applied revision: {}", artifact.revision))
}

fn owner_labels(obj: &Kustomization) -> Vec<(&str, &str)> {
    vec![
        (
            OWNER_NAME_LABEL,
            obj.metadata.name.as_deref().unwrap_or_default(),
        ),
        (
            OWNER_NAMESPACE_LABEL,
            obj.metadata.namespace.as_deref().unwrap_or_default(),
        ),
    ]
}

/// Checks the source reference; returns the source's namespace.
fn validate_source_ref(obj: &Kustomization, settings: &Settings) -> Result<String, ReconcileError> {
    let r = &obj.spec.source_ref;
    if r.kind != "GitRepository" {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            format!(
                "spec.sourceRef.kind {:?} is not supported: use GitRepository",
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
                "cross-namespace reference to GitRepository {ns}/{} is not allowed (--no-cross-namespace-refs)",
                r.name
            ),
        ));
    }
    Ok(ns)
}

/// Every `dependsOn` must be Ready at its current generation (and at the same source
/// revision when it shares the source). A cycle stalls.
async fn check_dependencies(obj: &Kustomization, ctx: &Context) -> Result<(), ReconcileError> {
    if obj.spec.depends_on.is_empty() {
        return Ok(());
    }
    let own_ns = obj.namespace().unwrap_or_default();
    let me = format!("{own_ns}/{}", obj.name_any());
    // Walk the dependency graph to find a cycle back to this object.
    let mut frontier: Vec<(String, Vec<String>)> = obj
        .spec
        .depends_on
        .iter()
        .map(|d| {
            let key = format!(
                "{}/{}",
                d.namespace.clone().unwrap_or_else(|| own_ns.clone()),
                d.name
            );
            (key, vec![me.clone()])
        })
        .collect();
    let mut visited = std::collections::HashSet::new();
    while let Some((key, path)) = frontier.pop() {
        if key == me {
            let mut cycle = path.clone();
            cycle.push(me.clone());
            return Err(ReconcileError::stalled(
                kreasons::DEPENDENCY_CYCLE,
                format!("dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
        if !visited.insert(key.clone()) || path.len() > 64 {
            continue;
        }
        let (ns, name) = key.split_once('/').unwrap_or_default();
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), ns);
        if let Ok(Some(dep)) = api.get_opt(name).await {
            for d in &dep.spec.depends_on {
                let mut p = path.clone();
                p.push(key.clone());
                frontier.push((
                    format!(
                        "{}/{}",
                        d.namespace.clone().unwrap_or_else(|| ns.to_string()),
                        d.name
                    ),
                    p,
                ));
            }
        }
    }
    for d in &obj.spec.depends_on {
        let ns = d.namespace.clone().unwrap_or_else(|| own_ns.clone());
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
        let waiting = |m: String| ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, m);
        let dep = api
            .get_opt(&d.name)
            .await
            .map_err(|e| ReconcileError::kube("reading dependency", &e))?
            .ok_or_else(|| waiting(format!("dependency {ns}/{} not found", d.name)))?;
        let st = dep.status.clone().unwrap_or_default();
        let ready = conditions::is_true(&st.conditions, types::READY)
            && st.observed_generation == dep.meta().generation;
        if !ready {
            return Err(waiting(format!("dependency {ns}/{} is not ready", d.name)));
        }
        let same_source = dep.spec.source_ref.name == obj.spec.source_ref.name
            && dep.spec.source_ref.namespace.clone().unwrap_or(ns.clone())
                == obj
                    .spec
                    .source_ref
                    .namespace
                    .clone()
                    .unwrap_or(own_ns.clone());
        if same_source {
            let src_ns = obj
                .spec
                .source_ref
                .namespace
                .clone()
                .unwrap_or(own_ns.clone());
            let repos: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &src_ns);
            let revision = repos
                .get_opt(&obj.spec.source_ref.name)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.status?.artifact.map(|a| a.revision));
            if revision.is_some() && st.last_applied_revision != revision {
                return Err(waiting(format!(
                    "dependency {ns}/{} is not yet at the source revision",
                    d.name
                )));
            }
        }
    }
    Ok(())
}

/// The source's artifact; a missing source or artifact is waiting, not failure.
async fn source_artifact(
    obj: &Kustomization,
    ctx: &Context,
    ns: &str,
) -> Result<Artifact, ReconcileError> {
    let name = &obj.spec.source_ref.name;
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), ns);
    let waiting = |m: String| ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, m);
    let repo = api
        .get_opt(name)
        .await
        .map_err(|e| ReconcileError::kube("reading source", &e))?
        .ok_or_else(|| waiting(format!("source GitRepository {ns}/{name} not found")))?;
    repo.status.and_then(|s| s.artifact).ok_or_else(|| {
        waiting(format!(
            "source GitRepository {ns}/{name} has no artifact yet"
        ))
    })
}

/// Downloads, verifies and unpacks the artifact once per digest; Kustomizations sharing a
/// source revision share the unpacked tree (it is never modified).
async fn unpack(ctx: &Context, artifact: &Artifact) -> Result<PathBuf, ReconcileError> {
    let hex = artifact
        .digest
        .strip_prefix("sha256:")
        .unwrap_or(&artifact.digest)
        .to_string();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ReconcileError::transient(
            reasons::ARTIFACT_FAILED,
            format!("artifact digest {:?} is not sha256:<hex>", artifact.digest),
        ));
    }
    let dir = ctx.settings.work_dir.join("artifacts").join(&hex);
    let lock = ctx
        .unpack_locks
        .lock()
        .await
        .entry(hex.clone())
        .or_default()
        .clone();
    let _guard = lock.lock().await;
    if dir.is_dir() {
        return Ok(dir);
    }
    let tmp = ctx
        .settings
        .work_dir
        .join(format!("tmp-{hex}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&ctx.settings.work_dir)
        .map_err(|e| ReconcileError::transient(reasons::ARTIFACT_FAILED, e.to_string()))?;
    fetch::fetch_and_unpack(
        &ctx.http,
        &artifact.url,
        &artifact.digest,
        &tmp,
        Limits::default(),
    )
    .await
    .map_err(|e| ReconcileError::transient(reasons::ARTIFACT_FAILED, e.to_string()))?;
    std::fs::create_dir_all(dir.parent().unwrap_or(&ctx.settings.work_dir))
        .and_then(|()| std::fs::rename(&tmp, &dir))
        .map_err(|e| {
            ReconcileError::transient(
                reasons::ARTIFACT_FAILED,
                format!("storing unpacked artifact: {e}"),
            )
        })?;
    Ok(dir)
}

/// Builds `spec.path` with the spec's overrides, substitutes variables, adds owner labels.
async fn build(
    obj: &Kustomization,
    ctx: &Context,
    tree: &std::path::Path,
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
    let overrides = overrides_of(spec).map_err(failed)?;
    let root = tree.to_path_buf();
    let objects = tokio::task::spawn_blocking(move || {
        kustomize::build_with(&root, &dir, Some(&overrides), true)
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(format!("kustomize build of {path:?} failed: {e}")))?;
    let mut objects = match &spec.post_build {
        Some(pb) => {
            let vars = substitution_vars(obj, ctx, pb).await?;
            postbuild::substitute(objects, &vars)
                .map_err(|m| failed(format!("post-build substitution failed: {m}")))?
        }
        None => objects,
    };
    let owner = owner_labels(obj);
    for o in &mut objects {
        let meta = o.as_object_mut().map(|m| {
            m.entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
        });
        if let Some(Value::Object(meta)) = meta {
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(labels) = labels {
                for (k, v) in &owner {
                    labels.insert((*k).to_string(), Value::String((*v).to_string()));
                }
            }
        }
    }
    Ok(objects)
}

/// The spec fields that act like a kustomization on top of `path`.
fn overrides_of(spec: &weir_api::kustomize::KustomizationSpec) -> Result<KustomizeFile, String> {
    let mut k = serde_json::Map::new();
    if let Some(ns) = &spec.target_namespace {
        k.insert("namespace".into(), Value::String(ns.clone()));
    }
    if let Some(p) = &spec.name_prefix {
        k.insert("namePrefix".into(), Value::String(p.clone()));
    }
    if let Some(s) = &spec.name_suffix {
        k.insert("nameSuffix".into(), Value::String(s.clone()));
    }
    if !spec.patches.is_empty() {
        k.insert(
            "patches".into(),
            serde_json::to_value(&spec.patches).map_err(|e| e.to_string())?,
        );
    }
    if !spec.images.is_empty() {
        k.insert(
            "images".into(),
            serde_json::to_value(&spec.images).map_err(|e| e.to_string())?,
        );
    }
    if !spec.components.is_empty() {
        k.insert(
            "components".into(),
            serde_json::to_value(&spec.components).map_err(|e| e.to_string())?,
        );
    }
    if let Some(cm) = &spec.common_metadata {
        if !cm.labels.is_empty() {
            k.insert("labels".into(), serde_json::json!([{"pairs": cm.labels}]));
        }
        if !cm.annotations.is_empty() {
            k.insert(
                "commonAnnotations".into(),
                serde_json::to_value(&cm.annotations).map_err(|e| e.to_string())?,
            );
        }
    }
    serde_json::from_value(Value::Object(k)).map_err(|e| format!("invalid spec overrides: {e}"))
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
                let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
                api.get_opt(&src.name)
                    .await
                    .map_err(|e| ReconcileError::kube("reading substituteFrom", &e))?
                    .map(|c| c.data.unwrap_or_default())
            }
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
                api.get_opt(&src.name)
                    .await
                    .map_err(|e| ReconcileError::kube("reading substituteFrom", &e))?
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
        field_manager: CONTROLLER_NAME.into(),
        force: obj.spec.force,
        wait_timeout: timeout,
    };
    ctx.applier.apply_all(objects, &opts).await.map_err(|e| {
        ReconcileError::transient(kreasons::APPLY_FAILED, format!("apply failed: {e}"))
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
    let meta = BTreeMap::from([(
        "kustomize.weir.dev/revision".to_string(),
        revision.to_string(),
    )]);
    ctx.recorder
        .publish(
            &obj.object_ref(&()),
            Severity::Info,
            "ReconciliationSucceeded",
            &lines.join("\n"),
            meta,
        )
        .await;
}

/// With `wait`, every applied object; else the `healthChecks` list. Polls until ready, a
/// failure, or the timeout. Sets `Healthy`.
async fn check_health(
    obj: &Kustomization,
    ctx: &Context,
    status: &mut KustomizationStatus,
    objects: &[Value],
    timeout: Duration,
) -> Result<(), ReconcileError> {
    let generation = obj.meta().generation;
    let refs: Vec<ObjectRef> = if obj.spec.wait {
        objects.iter().map(ObjectRef::of).collect()
    } else {
        obj.spec
            .health_checks
            .iter()
            .map(|h| {
                let api_version = h.api_version.clone().unwrap_or_default();
                let (group, version) = api_version
                    .split_once('/')
                    .map(|(g, v)| (g.to_string(), v.to_string()))
                    .unwrap_or((String::new(), api_version.clone()));
                ObjectRef {
                    group,
                    version,
                    kind: h.kind.clone(),
                    namespace: h
                        .namespace
                        .clone()
                        .unwrap_or_else(|| obj.namespace().unwrap_or_default()),
                    name: h.name.clone(),
                }
            })
            .collect()
    };
    if refs.is_empty() {
        conditions::remove(&mut status.conditions, "Healthy");
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let mut pending = Vec::new();
        for r in &refs {
            let api = ctx.applier.api_for(r).await.map_err(|e| {
                ReconcileError::transient(kreasons::HEALTH_CHECK_FAILED, e.to_string())
            })?;
            let current = api
                .get_opt(&r.name)
                .await
                .map_err(|e| ReconcileError::kube("health check", &e))?;
            let Some(current) = current else {
                pending.push(format!("{r}: not found"));
                continue;
            };
            let value = serde_json::to_value(&current).unwrap_or(Value::Null);
            match health(&value) {
                Health::Current => {}
                Health::InProgress(m) => pending.push(format!("{r}: {m}")),
                Health::Failed(m) => {
                    let message = format!("health check failed: {r}: {m}");
                    conditions::set(
                        &mut status.conditions,
                        "Healthy",
                        Status::False,
                        kreasons::HEALTH_CHECK_FAILED,
                        message.clone(),
                        generation,
                        Timestamp::now(),
                    );
                    return Err(ReconcileError::transient(
                        kreasons::HEALTH_CHECK_FAILED,
                        message,
                    ));
                }
            }
        }
        if pending.is_empty() {
            conditions::set(
                &mut status.conditions,
                "Healthy",
                Status::True,
                reasons::SUCCEEDED,
                "all health checks passed",
                generation,
                Timestamp::now(),
            );
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let message = format!(
                "health check timed out after {}: {}",
                duration::format(timeout),
                pending.join("; ")
            );
            conditions::set(
                &mut status.conditions,
                "Healthy",
                Status::False,
                kreasons::HEALTH_CHECK_FAILED,
                message.clone(),
                generation,
                Timestamp::now(),
            );
            return Err(ReconcileError::transient(
                kreasons::HEALTH_CHECK_FAILED,
                message,
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Deletion: follows `deletionPolicy`.
async fn cleanup(obj: &Kustomization, ctx: &Context) -> Result<Action, ReconcileError> {
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
        let (_, failed) = ctx.applier.prune(&refs, &owner_labels(obj)).await;
        if !failed.is_empty() {
            let list: Vec<String> = failed.iter().map(|(r, m)| format!("{r}: {m}")).collect();
            return Err(ReconcileError::transient(
                kreasons::PRUNE_FAILED,
                format!("deleting objects failed: {}", list.join("; ")),
            ));
        }
    }
    ctx.backoff.reset(&reconcile::object_key(obj));
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_api::kustomize::KustomizationSpec;

    #[test]
    fn timeout_defaults_to_interval_minus_30s_at_least_30s() -> Result<(), ReconcileError> {
        let spec = |interval: &str| KustomizationSpec {
            interval: interval.into(),
            ..Default::default()
        };
        assert_eq!(timing(&spec("10m"))?.timeout, Duration::from_secs(570));
        assert_eq!(timing(&spec("45s"))?.timeout, Duration::from_secs(30));
        assert_eq!(timing(&spec("10m"))?.retry, Duration::from_secs(600));
        assert!(timing(&spec("soon")).is_err());
        Ok(())
    }

    #[test]
    fn spec_overrides_become_a_kustomization() -> Result<(), String> {
        let spec = KustomizationSpec {
            target_namespace: Some("prod".into()),
            name_prefix: Some("p-".into()),
            common_metadata: Some(weir_api::kustomize::CommonMetadata {
                labels: BTreeMap::from([("team".into(), "a".into())]),
                annotations: BTreeMap::from([("note".into(), "x".into())]),
            }),
            ..Default::default()
        };
        let k = overrides_of(&spec)?;
        assert_eq!(
            (k.namespace.as_deref(), k.name_prefix.as_deref()),
            (Some("prod"), Some("p-"))
        );
        assert_eq!(k.labels.len(), 1);
        assert_eq!(
            k.common_annotations.get("note").map(String::as_str),
            Some("x")
        );
        Ok(())
    }
}
