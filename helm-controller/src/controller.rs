//! The HelmRelease reconciler: its steps on the shared driver.
//!
//! `validate → chart source (HelmChart from chart.spec, or chartRef) → fetch (digest verified,
//! cached) → load chart → compose values → release pass`; the driver summarises, writes status
//! once and requeues. The release pass ([`crate::actions`]) reads Helm's storage, asks the
//! pure planner ([`crate::next_action`]) what to do, and does it until the pass ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use weir_api::conditions::reasons;
use weir_api::helm::conditions::{reasons as hreasons, types as htypes};
use weir_api::helm::{DriftDetectionMode, HelmRelease, HelmReleaseStatus};
use weir_api::meta::Artifact;
use weir_api::source::{ExternalArtifact, HelmChart, OCIRepository};
use weir_helm::chart::{Chart, Values};
use weir_shared::ReconcileError;
use weir_shared::apply::{Applier, Owner};
use weir_shared::artifact_cache::ArtifactCache;
use weir_shared::conditions::Setter;
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::reconcile::{self, ConditionSet, Requeue};

use crate::values::{self, ValuesReference};
use crate::{actions, storage::Storage};

/// The kind this controller reconciles.
pub const KIND: &str = "HelmRelease";
/// Field manager and event reporter name.
pub const CONTROLLER_NAME: &str = "helm-controller";
/// The API group whose keys (`<group>/name`, `/namespace`, `/ssa`, `/prune`) the applied
/// objects carry.
pub const GROUP: &str = "helm.weir.dev";
/// The reason of a spec field this version does not implement.
pub const UNSUPPORTED: &str = "Unsupported";
/// The `chartRef` kinds.
pub const CHART_REF_KINDS: &[&str] = &["HelmChart", "OCIRepository", "ExternalArtifact"];

/// Process-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Refuse sources in other namespaces.
    pub no_cross_namespace_refs: bool,
}

/// Everything a reconcile needs.
pub struct Context {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Server-side apply engine.
    pub applier: Applier,
    /// HTTP client for artifacts.
    pub http: reqwest::Client,
    /// Unpacked chart artifacts, shared by digest.
    pub artifacts: ArtifactCache,
    /// Settings.
    pub settings: Settings,
}

impl Reconciler for Context {
    type Object = HelmRelease;
    type Status = HelmReleaseStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[htypes::RELEASED],
        summarized: &[htypes::RELEASED],
        negative: &[],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &HelmRelease) -> Option<&HelmReleaseStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &HelmRelease) -> bool {
        obj.spec.suspend
    }

    fn requeue(obj: &HelmRelease) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(&obj.spec.interval, None)
    }

    async fn run_steps(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        steps(obj, self, status, setter).await
    }

    fn event_metadata(status: &HelmReleaseStatus) -> BTreeMap<String, String> {
        revision_meta(status.last_attempted_revision.as_deref())
    }

    async fn cleanup(&self, obj: &HelmRelease) -> Result<(), ReconcileError> {
        cleanup(obj, self).await
    }
}

/// `<group>/revision: <chart version>`, the metadata of the object's events.
pub fn revision_meta(revision: Option<&str>) -> BTreeMap<String, String> {
    revision
        .map(|r| BTreeMap::from([(format!("{GROUP}/revision"), r.to_string())]))
        .unwrap_or_default()
}

/// The ordered steps; the release pass sets `Released`.
async fn steps(
    obj: &HelmRelease,
    ctx: &Context,
    status: &mut HelmReleaseStatus,
    setter: Setter,
) -> Result<String, ReconcileError> {
    validate(obj, &ctx.settings)?;
    let storage_namespace = obj.storage_namespace();
    status.storage_namespace = Some(storage_namespace.clone());
    let (artifact, kind) = chart_artifact(obj, ctx, status).await?;
    let tree = ctx
        .artifacts
        .acquire(&ctx.http, &reconcile::object_key(obj), &artifact)
        .await?;
    let chart = load_chart(&tree.path, &artifact, kind).await?;
    let values = compose_values(obj, ctx).await?;
    let storage = Storage::new(ctx.runtime.client.clone(), &storage_namespace);
    actions::release_pass(obj, ctx, status, setter, &storage, chart, values).await
}

/// Refuses a spec this version cannot honour, naming the field: everything is either done
/// or refused, never silently ignored.
fn validate(obj: &HelmRelease, settings: &Settings) -> Result<(), ReconcileError> {
    let spec = &obj.spec;
    if let Err(errors) = spec.validate() {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            errors.join("; "),
        ));
    }
    let install = spec.install_config();
    let upgrade = spec.upgrade_config();
    let rollback = spec.rollback_config();
    let retry = |s: &Option<weir_api::helm::ReleaseStrategy>| {
        s.as_ref()
            .is_some_and(|s| s.name == weir_api::helm::StrategyName::RetryOnFailure)
    };
    let unsupported: [(bool, &str); 16] = [
        (spec.kube_config.is_some(), "spec.kubeConfig"),
        (!spec.depends_on.is_empty(), "spec.dependsOn"),
        (
            spec.service_account_name.is_some(),
            "spec.serviceAccountName",
        ),
        (!spec.post_renderers.is_empty(), "spec.postRenderers"),
        (spec.common_metadata.is_some(), "spec.commonMetadata"),
        (!spec.health_check_exprs.is_empty(), "spec.healthCheckExprs"),
        (spec.test_config().enable, "spec.test.enable"),
        (
            spec.drift_detection_config().mode() != DriftDetectionMode::Disabled,
            "spec.driftDetection.mode (only disabled)",
        ),
        (install.create_namespace, "spec.install.createNamespace"),
        (install.replace, "spec.install.replace"),
        (
            !install.server_side_apply(),
            "spec.install.serverSideApply: false",
        ),
        (upgrade.force, "spec.upgrade.force"),
        (upgrade.preserve_values, "spec.upgrade.preserveValues"),
        (
            upgrade.server_side_apply() == weir_api::helm::ServerSideApplyMode::Disabled
                || rollback.server_side_apply() == weir_api::helm::ServerSideApplyMode::Disabled,
            "spec.{upgrade,rollback}.serverSideApply: disabled",
        ),
        (
            retry(&install.strategy) || retry(&upgrade.strategy),
            "spec.{install,upgrade}.strategy.name: RetryOnFailure",
        ),
        (
            rollback.recreate || rollback.force,
            "spec.rollback.{recreate,force}",
        ),
    ];
    let refused: Vec<&str> = unsupported
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, f)| *f)
        .collect();
    if !refused.is_empty() {
        return Err(ReconcileError::stalled(
            UNSUPPORTED,
            format!(
                "not supported by this helm-controller yet: {}",
                refused.join(", ")
            ),
        ));
    }
    let own = obj.namespace().unwrap_or_default();
    let source = match (&spec.chart, &spec.chart_ref) {
        (Some(t), _) => (
            t.spec.source_ref.kind.clone(),
            t.spec.source_ref.name.clone(),
            t.namespace(&own).to_string(),
        ),
        (None, Some(r)) => {
            if !CHART_REF_KINDS.contains(&r.kind.as_str()) {
                return Err(ReconcileError::stalled(
                    reasons::INVALID_SPEC,
                    format!(
                        "spec.chartRef.kind {:?} is not supported: use HelmChart, OCIRepository or ExternalArtifact",
                        r.kind
                    ),
                ));
            }
            (
                r.kind.clone(),
                r.name.clone(),
                r.namespace.clone().unwrap_or_else(|| own.clone()),
            )
        }
        (None, None) => {
            return Err(ReconcileError::stalled(
                reasons::INVALID_SPEC,
                weir_api::helm::CHART_XOR_CHART_REF_MESSAGE,
            ));
        }
    };
    if settings.no_cross_namespace_refs && source.2 != own {
        return Err(ReconcileError::stalled(
            "AccessDenied",
            format!(
                "cross-namespace reference to {} {}/{} is not allowed (--no-cross-namespace-refs)",
                source.0, source.2, source.1
            ),
        ));
    }
    Ok(())
}

/// The chart's artifact and the source kind it came from. A source without an artifact is
/// waiting, not failure.
async fn chart_artifact(
    obj: &HelmRelease,
    ctx: &Context,
    status: &mut HelmReleaseStatus,
) -> Result<(Artifact, &'static str), ReconcileError> {
    let waiting = |m: String| ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, m);
    let client = ctx.runtime.client.clone();
    let own = obj.namespace().unwrap_or_default();
    if obj.spec.chart.is_some() {
        let chart = ensure_helm_chart(obj, ctx).await?;
        let (ns, name) = (chart.namespace().unwrap_or_default(), chart.name_any());
        status.helm_chart = Some(format!("{ns}/{name}"));
        let current =
            chart.status.as_ref().and_then(|s| s.observed_generation) == chart.metadata.generation;
        let ready = chart
            .status
            .as_ref()
            .and_then(|s| weir_shared::conditions::get(&s.conditions, "Ready"))
            .map(|c| format!(": {}", c.message))
            .unwrap_or_default();
        return match chart.status.and_then(|s| s.artifact) {
            Some(a) if current => Ok((a, "HelmChart")),
            _ => Err(waiting(format!(
                "HelmChart {ns}/{name} has no artifact for its current spec yet{ready}"
            ))),
        };
    }
    let Some(r) = &obj.spec.chart_ref else {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            weir_api::helm::CHART_XOR_CHART_REF_MESSAGE,
        ));
    };
    let ns = r.namespace.clone().unwrap_or(own);
    let name = &r.name;
    let (artifact, kind) = match r.kind.as_str() {
        "OCIRepository" => (
            Api::<OCIRepository>::namespaced(client, &ns)
                .get_opt(name)
                .await
                .map_err(|e| ReconcileError::kube("reading chartRef", e))?
                .map(|o| o.status.and_then(|s| s.artifact)),
            "OCIRepository",
        ),
        "ExternalArtifact" => (
            Api::<ExternalArtifact>::namespaced(client, &ns)
                .get_opt(name)
                .await
                .map_err(|e| ReconcileError::kube("reading chartRef", e))?
                .map(|o| o.status.and_then(|s| s.artifact)),
            "ExternalArtifact",
        ),
        _ => (
            Api::<HelmChart>::namespaced(client, &ns)
                .get_opt(name)
                .await
                .map_err(|e| ReconcileError::kube("reading chartRef", e))?
                .map(|o| o.status.and_then(|s| s.artifact)),
            "HelmChart",
        ),
    };
    let artifact = artifact
        .ok_or_else(|| waiting(format!("chartRef {kind} {ns}/{name} not found")))?
        .ok_or_else(|| waiting(format!("chartRef {kind} {ns}/{name} has no artifact yet")))?;
    Ok((artifact, kind))
}

/// The HelmChart of `spec.chart`: `<namespace>-<name>` in the source's namespace, created
/// or updated by server-side apply from the template and labelled with the owner labels.
async fn ensure_helm_chart(obj: &HelmRelease, ctx: &Context) -> Result<HelmChart, ReconcileError> {
    let Some(template) = &obj.spec.chart else {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SPEC,
            "spec.chart is not set",
        ));
    };
    let own = obj.namespace().unwrap_or_default();
    let ns = template.namespace(&own).to_string();
    let name = obj.helm_chart_name();
    let meta = template.object_meta.clone().unwrap_or_default();
    let mut labels = meta.labels.clone();
    let owner = Owner::of(obj);
    for (k, v) in ctx.applier.policy().owner_labels(&owner) {
        labels.insert(k.to_string(), v.to_string());
    }
    let t = &template.spec;
    let mut spec = json!({
        "chart": t.chart,
        "version": t.version(),
        "sourceRef": {"kind": t.source_ref.kind, "name": t.source_ref.name},
        "interval": t.interval(&obj.spec.interval),
        "reconcileStrategy": t.reconcile_strategy(),
    });
    if !t.values_files.is_empty() {
        spec["valuesFiles"] = json!(t.values_files);
    }
    if t.ignore_missing_values_files {
        spec["ignoreMissingValuesFiles"] = json!(true);
    }
    if let Some(verify) = &t.verify {
        spec["verify"] = json!(verify);
    }
    let desired = json!({
        "apiVersion": "source.weir.dev/v1",
        "kind": "HelmChart",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": meta.annotations},
        "spec": spec,
    });
    let api: Api<HelmChart> = Api::namespaced(ctx.runtime.client.clone(), &ns);
    api.patch(
        &name,
        &PatchParams::apply(CONTROLLER_NAME).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|e| ReconcileError::kube(&format!("creating or updating HelmChart {ns}/{name}"), e))
}

/// Where the chart is in an unpacked artifact: the root when it holds `Chart.yaml`, else
/// the single top-level folder (a packaged chart unpacks as `<name>/`).
pub fn chart_dir(tree: &Path) -> Result<PathBuf, String> {
    if tree.join("Chart.yaml").is_file() {
        return Ok(tree.to_path_buf());
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir(tree)
        .map_err(|e| format!("reading the artifact: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    match dirs.as_slice() {
        [one] if one.join("Chart.yaml").is_file() => Ok(one.clone()),
        _ => Err("no chart in the artifact: expected Chart.yaml at the root or in its single top-level folder".into()),
    }
}

/// Loads the chart; from an OCIRepository its version gets `+<first 12 hex of the OCI
/// manifest digest>` (replacing any build metadata), as Flux records it, so that a new digest
/// of the same version is a new chart.
async fn load_chart(tree: &Path, artifact: &Artifact, kind: &str) -> Result<Chart, ReconcileError> {
    let failed = |m: String| ReconcileError::transient(hreasons::ARTIFACT_FAILED, m);
    let dir = chart_dir(tree).map_err(failed)?;
    let mut chart = tokio::task::spawn_blocking(move || weir_helm::chart::load_dir(&dir))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(format!("loading the chart: {e}")))?;
    if kind == "OCIRepository" {
        chart.metadata.version = oci_chart_version(&chart.metadata.version, &artifact.revision);
    }
    Ok(chart)
}

/// `<version>+<12 hex>` from an OCIRepository revision (`<tag>@sha256:<hex>` or
/// `sha256:<hex>`); the version unchanged when the revision carries no digest.
pub fn oci_chart_version(version: &str, revision: &str) -> String {
    let digest = revision.rsplit('@').next().unwrap_or(revision);
    match digest.strip_prefix("sha256:").and_then(|hex| hex.get(..12)) {
        Some(short) => {
            let base = version.split('+').next().unwrap_or(version);
            format!("{base}+{short}")
        }
        None => version.to_string(),
    }
}

/// `valuesFrom` (read from the HelmRelease's namespace) merged with `spec.values`.
async fn compose_values(obj: &HelmRelease, ctx: &Context) -> Result<Values, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let references: Vec<ValuesReference> = obj
        .spec
        .values_from
        .iter()
        .map(|r| ValuesReference {
            kind: r.kind.clone(),
            name: r.name.clone(),
            key: r.values_key().to_string(),
            target_path: r.target_path.clone(),
            optional: r.optional,
        })
        .collect();
    let mut found: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for r in &references {
        let key = (r.kind.clone(), r.name.clone());
        if found.contains_key(&key) {
            continue;
        }
        let data = match r.kind.as_str() {
            "ConfigMap" => Api::<ConfigMap>::namespaced(ctx.runtime.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|e| ReconcileError::kube("reading valuesFrom", e))?
                .map(|c| {
                    let mut data: BTreeMap<String, Vec<u8>> = c
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.into_bytes()))
                        .collect();
                    data.extend(
                        c.binary_data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.0)),
                    );
                    data
                }),
            "Secret" => Api::<Secret>::namespaced(ctx.runtime.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|e| ReconcileError::kube("reading valuesFrom", e))?
                .map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect()
                }),
            _ => None,
        };
        if let Some(data) = data {
            found.insert(key, data);
        }
    }
    let inline = match &obj.spec.values {
        Some(Value::Object(map)) => map.clone(),
        _ => Values::new(),
    };
    let lookup = |kind: &str, name: &str| found.get(&(kind.to_string(), name.to_string()));
    values::compose(&ns, &references, &lookup, &inline).map_err(|e| {
        let message = e.to_string();
        ReconcileError::transient(hreasons::INIT_FAILED, message).with_cause(*e)
    })
}

/// Deletion: uninstalls the release (unless suspended), deletes the HelmChart of
/// `spec.chart`, and releases the cached artifact.
async fn cleanup(obj: &HelmRelease, ctx: &Context) -> Result<(), ReconcileError> {
    if !obj.spec.suspend {
        // The release this object made, as its status recorded it: the spec may have been
        // edited to name another release since.
        let storage_namespace = obj
            .status
            .as_ref()
            .and_then(|s| s.storage_namespace.clone())
            .unwrap_or_else(|| obj.storage_namespace());
        let storage = Storage::new(ctx.runtime.client.clone(), &storage_namespace);
        actions::uninstall_on_delete(obj, ctx, &storage).await?;
    }
    if obj.spec.chart.is_some() {
        let own = obj.namespace().unwrap_or_default();
        let ns = obj
            .spec
            .chart
            .as_ref()
            .map(|t| t.namespace(&own).to_string())
            .unwrap_or(own);
        let api: Api<HelmChart> = Api::namespaced(ctx.runtime.client.clone(), &ns);
        match api
            .delete(&obj.helm_chart_name(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube("deleting the HelmChart", e)),
        }
    }
    ctx.artifacts.release(&reconcile::object_key(obj)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_at_the_root_or_in_the_single_folder() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path();
        assert!(chart_dir(root).is_err());
        std::fs::create_dir_all(root.join("app")).map_err(|e| e.to_string())?;
        std::fs::write(root.join("app/Chart.yaml"), "name: app\n").map_err(|e| e.to_string())?;
        assert_eq!(chart_dir(root)?, root.join("app"));
        std::fs::create_dir_all(root.join("other")).map_err(|e| e.to_string())?;
        assert!(chart_dir(root).is_err(), "two folders are ambiguous");
        std::fs::write(root.join("Chart.yaml"), "name: top\n").map_err(|e| e.to_string())?;
        assert_eq!(chart_dir(root)?, root.to_path_buf());
        Ok(())
    }

    #[test]
    fn oci_charts_carry_the_manifest_digest_in_their_version() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            oci_chart_version("1.2.3", &format!("1.2.3@sha256:{hex}")),
            "1.2.3+0123456789ab"
        );
        assert_eq!(
            oci_chart_version("1.2.3+build.4", &format!("sha256:{hex}")),
            "1.2.3+0123456789ab"
        );
        assert_eq!(oci_chart_version("1.2.3", "latest"), "1.2.3");
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() -> Result<(), serde_json::Error> {
        let obj: HelmRelease = serde_json::from_value(json!({
            "apiVersion": "helm.weir.dev/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {
                "interval": "5m",
                "chartRef": {"kind": "HelmChart", "name": "app"},
                "test": {"enable": true},
                "driftDetection": {"mode": "warn"},
            },
        }))?;
        let settings = Settings {
            no_cross_namespace_refs: false,
        };
        let err = validate(&obj, &settings).err();
        assert_eq!(err.as_ref().map(|e| e.reason), Some(UNSUPPORTED));
        let message = err.map(|e| e.message).unwrap_or_default();
        assert!(message.contains("spec.test.enable"), "{message}");
        assert!(message.contains("spec.driftDetection.mode"), "{message}");
        Ok(())
    }
}
