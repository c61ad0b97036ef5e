//! The HelmChart reconciler.
//!
//! `validate → source → (pull from a repository | pull from a registry | package from Git)
//! → values files → store → summarise`. The artifact is `<name>-<version>.tgz`, revision the
//! chart version (`<version>+<generation>` when values files were merged, `+<commit[0:12]>`
//! with `reconcileStrategy: Revision` on Git sources, as Flux). A build that fails leaves the
//! previous artifact in place and serving.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use weir_api::conditions::reasons;
use weir_api::meta::Artifact;
use weir_api::source::conditions::{reasons as source_reasons, types as source_types};
use weir_api::source::{
    GitRepository, HelmChart, HelmChartSpec, HelmChartStatus, HelmRepository,
    RECONCILE_STRATEGY_CHART_VERSION, RECONCILE_STRATEGY_REVISION,
};
use weir_shared::conditions::{self, Setter};
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::reconcile::{ConditionSet, Requeue};
use weir_shared::storage::Storage;
use weir_shared::{ReconcileError, duration};

use crate::artifact;
use crate::chart_build::{self, BuildError, BuildRequest, Built, ChartOrigin};
use crate::helm_http::RepoClient;
use crate::helmrepository::{self, repository_credentials};
use crate::sources::SourceSettings;

/// The kind this reconciler owns.
pub const KIND: &str = "HelmChart";

/// The HelmChart reconciler.
pub struct HelmChartReconciler {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Settings shared by the source kinds.
    pub settings: Arc<SourceSettings>,
    /// Revisions already announced.
    pub announced: artifact::Announced,
}

impl Reconciler for HelmChartReconciler {
    type Object = HelmChart;
    type Status = HelmChartStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[
            source_types::ARTIFACT_IN_STORAGE,
            source_types::FETCH_FAILED,
            source_types::BUILD_FAILED,
        ],
        summarized: &[
            source_types::FETCH_FAILED,
            source_types::BUILD_FAILED,
            source_types::ARTIFACT_IN_STORAGE,
        ],
        negative: &[source_types::FETCH_FAILED, source_types::BUILD_FAILED],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &HelmChart) -> Option<&HelmChartStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &HelmChart) -> bool {
        obj.spec.suspend
    }

    fn requeue(obj: &HelmChart) -> Result<Requeue, ReconcileError> {
        Requeue::from_spec(&obj.spec.interval, None)
    }

    async fn run_steps(
        &self,
        obj: &HelmChart,
        status: &mut HelmChartStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        validate(&obj.spec)?;
        let origin = self.source(obj).await?;
        let request = self.request(obj, status, origin);
        let built = self.build(request, status, setter).await?;
        self.store(obj, built, status, setter).await
    }

    fn event_metadata(status: &HelmChartStatus) -> BTreeMap<String, String> {
        artifact::revision_metadata(status.artifact.as_ref())
    }

    async fn cleanup(&self, obj: &HelmChart) -> Result<(), ReconcileError> {
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        self.announced.forget(&format!("{ns}/{name}"));
        artifact::remove_all(&self.settings.storage, KIND, &ns, &name)
    }
}

/// Validates what the schema cannot express.
///
/// # Errors
/// Stalled `InvalidSpec` or `Unsupported`, naming the field.
pub fn validate(spec: &HelmChartSpec) -> Result<(), ReconcileError> {
    let invalid = |m: String| ReconcileError::stalled(reasons::INVALID_SPEC, m);
    if spec.chart.trim().is_empty() {
        return Err(invalid("spec.chart is empty".into()));
    }
    duration::parse(&spec.interval).map_err(|m| invalid(format!("spec.interval: {m}")))?;
    match spec.strategy() {
        RECONCILE_STRATEGY_CHART_VERSION | RECONCILE_STRATEGY_REVISION => {}
        other => {
            return Err(invalid(format!(
                "spec.reconcileStrategy {other:?} is not one of ChartVersion, Revision"
            )));
        }
    }
    if let Some(range) = spec.version.as_deref().filter(|v| !v.trim().is_empty()) {
        weir_helm::sprig::semver::Constraints::parse(range)
            .map_err(|e| invalid(format!("spec.version {range:?} is not a semver range: {e}")))?;
    }
    match spec.source_ref.kind.as_str() {
        "HelmRepository" | "GitRepository" => {}
        "Bucket" => {
            return Err(ReconcileError::stalled(
                source_reasons::UNSUPPORTED,
                "spec.sourceRef.kind Bucket is not supported yet: use a GitRepository or HelmRepository",
            ));
        }
        other => {
            return Err(invalid(format!(
                "spec.sourceRef.kind {other:?} is not one of HelmRepository, GitRepository, Bucket"
            )));
        }
    }
    if spec.verify.is_some() {
        return Err(ReconcileError::stalled(
            source_reasons::UNSUPPORTED,
            "spec.verify is not supported: Weir does not verify chart signatures yet, and will \
             not use a chart unverified that the spec asks to verify",
        ));
    }
    for file in spec.all_values_files() {
        chart_build::check_relative(&file)
            .map_err(|m| invalid(format!("spec.valuesFiles: {m}")))?;
    }
    Ok(())
}

impl HelmChartReconciler {
    /// Finds the source and what the build needs from it. A missing source, or one without
    /// an artifact yet, is waiting, not failure.
    async fn source(&self, obj: &HelmChart) -> Result<ChartOrigin, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let name = &obj.spec.source_ref.name;
        let kind = obj.spec.source_ref.kind.as_str();
        let waiting = |m: String| ReconcileError::waiting(reasons::DEPENDENCY_NOT_READY, m);
        let client = &self.runtime.client;
        if kind == "GitRepository" {
            let repo = Api::<GitRepository>::namespaced(client.clone(), &ns)
                .get_opt(name)
                .await
                .map_err(|e| ReconcileError::kube("reading source", e))?
                .ok_or_else(|| waiting(format!("source GitRepository {ns}/{name} not found")))?;
            let artifact = repo.status.and_then(|s| s.artifact).ok_or_else(|| {
                waiting(format!(
                    "source GitRepository {ns}/{name} has no artifact yet"
                ))
            })?;
            return Ok(ChartOrigin::Git { artifact });
        }
        let repo = Api::<HelmRepository>::namespaced(client.clone(), &ns)
            .get_opt(name)
            .await
            .map_err(|e| ReconcileError::kube("reading source", e))?
            .ok_or_else(|| waiting(format!("source HelmRepository {ns}/{name} not found")))?;
        let valid = helmrepository::validate(&repo.spec).map_err(|e| {
            waiting(format!(
                "source HelmRepository {ns}/{name} is invalid: {}",
                e.message
            ))
        })?;
        let (basic, tls) = repository_credentials(client, &ns, &repo.spec).await?;
        if repo.spec.is_oci() {
            return Ok(ChartOrigin::Registry {
                url: repo.spec.url.clone(),
                basic,
                tls,
                insecure: repo.spec.insecure,
                timeout: valid.timeout,
            });
        }
        let artifact = repo.status.and_then(|s| s.artifact).ok_or_else(|| {
            waiting(format!(
                "source HelmRepository {ns}/{name} has no index yet"
            ))
        })?;
        let client = RepoClient::new(
            &repo.spec.url,
            basic,
            &tls,
            repo.spec.pass_credentials,
            valid.timeout,
        )
        .map_err(|m| {
            ReconcileError::transient(
                reasons::AUTHENTICATION_FAILED,
                format!("HelmRepository {ns}/{name}: {m}"),
            )
        })?;
        Ok(ChartOrigin::Repository {
            url: repo.spec.url.clone(),
            index: artifact,
            client,
        })
    }

    fn request(
        &self,
        obj: &HelmChart,
        status: &HelmChartStatus,
        origin: ChartOrigin,
    ) -> BuildRequest {
        // Reuse the stored chart only when it is still there and the spec did not change.
        let current = status
            .artifact
            .as_ref()
            .filter(|a| self.settings.storage.exists(&a.path))
            .filter(|_| status.observed_generation == obj.metadata.generation)
            .cloned();
        BuildRequest {
            chart: obj.spec.chart.clone(),
            version: obj
                .spec
                .version
                .clone()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "*".into()),
            values_files: obj.spec.all_values_files(),
            ignore_missing_values_files: obj.spec.ignore_missing_values_files,
            revision_strategy: obj.spec.strategy() == RECONCILE_STRATEGY_REVISION,
            generation: obj.metadata.generation.unwrap_or(0),
            current,
            origin,
        }
    }

    /// Pulls or packages the chart. Sets `FetchFailed` or `BuildFailed`.
    async fn build(
        &self,
        request: BuildRequest,
        status: &mut HelmChartStatus,
        setter: Setter,
    ) -> Result<Built, ReconcileError> {
        match chart_build::build(request, &self.settings).await {
            Ok(built) => {
                conditions::remove(&mut status.conditions, source_types::FETCH_FAILED);
                conditions::remove(&mut status.conditions, source_types::BUILD_FAILED);
                Ok(built)
            }
            Err(e) => {
                let (condition, err) = match &e {
                    BuildError::Fetch(err) => (source_types::FETCH_FAILED, err.clone()),
                    BuildError::Build(err) => (source_types::BUILD_FAILED, err.clone()),
                };
                setter.mark_true(
                    &mut status.conditions,
                    condition,
                    err.reason,
                    err.message.clone(),
                );
                Err(err)
            }
        }
    }

    /// Writes the chart (unless unchanged), records it and announces a new version. Sets
    /// `ArtifactInStorage`.
    async fn store(
        &self,
        obj: &HelmChart,
        built: Built,
        status: &mut HelmChartStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let storage = &self.settings.storage;
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        let dir = Storage::object_dir(KIND, &ns, &name);
        let path = format!("{dir}/{}-{}.tgz", built.name, built.version);
        let written = match &built.bytes {
            Some(bytes) => storage.write(&path, bytes).map_err(|e| {
                ReconcileError::transient(
                    reasons::ARTIFACT_FAILED,
                    format!("writing artifact {path}: {e}"),
                )
            })?,
            None => {
                let current = status.artifact.as_ref().ok_or_else(|| {
                    ReconcileError::transient(reasons::ARTIFACT_FAILED, "no stored chart to keep")
                })?;
                weir_shared::storage::StoredArtifact {
                    path: current.path.clone(),
                    digest: current.digest.clone(),
                    size: u64::try_from(current.size.unwrap_or(0)).unwrap_or(0),
                }
            }
        };
        let changed = artifact::record(
            storage,
            &mut status.artifact,
            &written,
            &built.version,
            BTreeMap::new(),
        );
        status.url = status.artifact.as_ref().map(|a: &Artifact| a.url.clone());
        status.observed_chart_name = Some(built.name.clone());
        status.observed_source_artifact_revision = Some(built.source_revision.clone());
        status.observed_values_files = built.values_files.clone();
        let verb = if built.pulled { "pulled" } else { "packaged" };
        let message = format!(
            "{verb} '{}' chart with version '{}'",
            built.name, built.version
        );
        setter.mark_true(
            &mut status.conditions,
            source_types::ARTIFACT_IN_STORAGE,
            if built.pulled {
                source_reasons::CHART_PULL_SUCCEEDED
            } else {
                source_reasons::CHART_PACKAGE_SUCCEEDED
            },
            message.clone(),
        );
        artifact::collect_garbage(
            storage,
            &dir,
            &written.path,
            self.settings.artifact_retention,
        );
        let key = format!("{ns}/{name}");
        if changed && self.announced.first_time(&key, &written.digest) {
            artifact::announce(&self.runtime, obj, status.artifact.as_ref(), &message).await;
        }
        Ok(message)
    }
}
