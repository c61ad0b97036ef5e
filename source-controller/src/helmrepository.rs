//! The HelmRepository reconciler.
//!
//! `type: default`: `validate → credentials → fetch index → normalise → store → summarise`;
//! the artifact is the index as canonical JSON (entries by name, versions newest first,
//! `generated` dropped), so the same charts always give the same `sha256:` revision and an
//! unchanged index writes nothing and announces nothing.
//! `type: oci`: `validate` only; the object holds the registry URL and credentials that
//! HelmCharts use, and is Ready when its spec is valid (as in Flux).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use weir_api::conditions::reasons;
use weir_api::source::conditions::{reasons as source_reasons, types as source_types};
use weir_api::source::{
    DEFAULT_HELM_REPOSITORY_INTERVAL, DEFAULT_REMOTE_TIMEOUT, HelmRepository, HelmRepositorySpec,
    HelmRepositoryStatus,
};
use weir_shared::conditions::{self, Setter};
use weir_shared::driver::{Reconciler, Runtime};
use weir_shared::reconcile::{ConditionSet, Requeue};
use weir_shared::storage::Storage;
use weir_shared::{ReconcileError, duration};

use crate::artifact;
use crate::credentials::{self, TlsMaterial};
use crate::helm_http::{HttpError, RepoClient};
use crate::sources::SourceSettings;

/// The kind this reconciler owns.
pub const KIND: &str = "HelmRepository";

/// The HelmRepository reconciler.
pub struct HelmRepositoryReconciler {
    /// Client, events, metrics, backoff.
    pub runtime: Runtime,
    /// Settings shared by the source kinds.
    pub settings: Arc<SourceSettings>,
    /// Revisions already announced.
    pub announced: artifact::Announced,
}

impl Reconciler for HelmRepositoryReconciler {
    type Object = HelmRepository;
    type Status = HelmRepositoryStatus;
    const KIND: &'static str = KIND;
    const CONDITIONS: ConditionSet = ConditionSet {
        owned: &[
            source_types::ARTIFACT_IN_STORAGE,
            source_types::FETCH_FAILED,
        ],
        summarized: &[
            source_types::FETCH_FAILED,
            source_types::ARTIFACT_IN_STORAGE,
        ],
        negative: &[source_types::FETCH_FAILED],
    };

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn status(obj: &HelmRepository) -> Option<&HelmRepositoryStatus> {
        obj.status.as_ref()
    }

    fn suspended(obj: &HelmRepository) -> bool {
        obj.spec.suspend
    }

    fn requeue(obj: &HelmRepository) -> Result<Requeue, ReconcileError> {
        let interval = obj
            .spec
            .interval
            .as_deref()
            .unwrap_or(DEFAULT_HELM_REPOSITORY_INTERVAL);
        Requeue::from_spec(interval, None)
    }

    async fn run_steps(
        &self,
        obj: &HelmRepository,
        status: &mut HelmRepositoryStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let spec = validate(&obj.spec)?;
        if obj.spec.is_oci() {
            // No artifact: drop what a previous `type: default` left behind.
            status.artifact = None;
            status.url = None;
            conditions::remove(&mut status.conditions, source_types::ARTIFACT_IN_STORAGE);
            conditions::remove(&mut status.conditions, source_types::FETCH_FAILED);
            return Ok("Helm repository is Ready".into());
        }
        let client = self.client(obj, &spec).await?;
        let index = self.fetch_index(obj, &client, status, setter).await?;
        self.store(obj, index, status, setter).await
    }

    fn event_metadata(status: &HelmRepositoryStatus) -> BTreeMap<String, String> {
        artifact::revision_metadata(status.artifact.as_ref())
    }

    async fn cleanup(&self, obj: &HelmRepository) -> Result<(), ReconcileError> {
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        self.announced.forget(&format!("{ns}/{name}"));
        artifact::remove_all(&self.settings.storage, KIND, &ns, &name)
    }
}

/// A spec checked for what the schema cannot express.
#[derive(Debug, PartialEq, Eq)]
pub struct ValidSpec {
    /// Timeout of the index fetch.
    pub timeout: Duration,
}

/// Validates URL (scheme matching `type`), interval, timeout and provider.
///
/// # Errors
/// Stalled with `URLInvalid`, `InvalidSpec` or `Unsupported`, naming the value.
pub fn validate(spec: &HelmRepositorySpec) -> Result<ValidSpec, ReconcileError> {
    let url = url::Url::parse(&spec.url).map_err(|e| {
        ReconcileError::stalled(
            reasons::URL_INVALID,
            format!("invalid URL {:?}: {e}", spec.url),
        )
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ReconcileError::stalled(
            reasons::URL_INVALID,
            format!("URL {:?} has no host", spec.url),
        ));
    }
    match (spec.repository_type.as_deref(), url.scheme()) {
        (None | Some("default"), "http" | "https") | (Some("oci"), "oci") => {}
        (Some("oci"), other) => {
            return Err(ReconcileError::stalled(
                reasons::URL_INVALID,
                format!(
                    "URL {:?} has scheme {other:?}: a HelmRepository of type oci needs an oci:// URL",
                    spec.url
                ),
            ));
        }
        (None | Some("default"), other) => {
            return Err(ReconcileError::stalled(
                reasons::URL_INVALID,
                format!(
                    "URL {:?} has scheme {other:?}: use http or https, or set spec.type: oci for an oci:// URL",
                    spec.url
                ),
            ));
        }
        (Some(other), _) => {
            return Err(ReconcileError::stalled(
                reasons::INVALID_SPEC,
                format!("spec.type {other:?} is not one of default, oci"),
            ));
        }
    }
    if let Some(interval) = &spec.interval {
        duration::parse(interval).map_err(|m| {
            ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.interval: {m}"))
        })?;
    }
    let timeout = duration::parse(spec.timeout.as_deref().unwrap_or(DEFAULT_REMOTE_TIMEOUT))
        .map_err(|m| {
            ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.timeout: {m}"))
        })?;
    check_provider(spec.provider.as_deref())?;
    Ok(ValidSpec { timeout })
}

/// Refuses the cloud providers, which need workload identity Weir does not implement yet.
///
/// # Errors
/// Stalled `Unsupported` for `aws`, `azure`, `gcp`.
pub fn check_provider(provider: Option<&str>) -> Result<(), ReconcileError> {
    match provider {
        None | Some("" | "generic") => Ok(()),
        Some(other) => Err(ReconcileError::stalled(
            source_reasons::UNSUPPORTED,
            format!(
                "spec.provider {other:?} is not supported: Weir authenticates to registries with \
                 static credentials only (provider generic with spec.secretRef)"
            ),
        )),
    }
}

/// The index URL of a repository: `index.yaml` appended to the path, the query kept.
///
/// # Errors
/// A message when the URL cannot be parsed.
pub fn index_url(repo_url: &str) -> Result<String, String> {
    let mut url =
        url::Url::parse(repo_url).map_err(|e| format!("invalid URL {repo_url:?}: {e}"))?;
    let path = format!("{}/index.yaml", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url.to_string())
}

/// Credentials and TLS of a repository: basic auth from `secretRef`, TLS from
/// `certSecretRef` (or the deprecated keys of `secretRef`).
///
/// # Errors
/// Transient `AuthenticationFailed` naming the Secret.
pub async fn repository_credentials(
    client: &kube::Client,
    ns: &str,
    spec: &HelmRepositorySpec,
) -> Result<(Option<(String, String)>, TlsMaterial), ReconcileError> {
    let mut basic = None;
    let mut tls = TlsMaterial::default();
    if let Some(r) = &spec.secret_ref {
        let data = credentials::load(client, ns, &r.name, "spec.secretRef").await?;
        basic = credentials::basic_auth(&data).map_err(|m| credentials::invalid(ns, &r.name, m))?;
        if spec.cert_secret_ref.is_none() {
            tls = credentials::tls_material(&data, true)
                .map_err(|m| credentials::invalid(ns, &r.name, m))?;
        }
    }
    if let Some(r) = &spec.cert_secret_ref {
        let data = credentials::load(client, ns, &r.name, "spec.certSecretRef").await?;
        tls = credentials::tls_material(&data, false)
            .map_err(|m| credentials::invalid(ns, &r.name, m))?;
    }
    Ok((basic, tls))
}

/// The typed reason of a download failure.
pub fn http_error(e: HttpError, reason: &'static str) -> ReconcileError {
    let reason = if e.is_authentication() {
        reasons::AUTHENTICATION_FAILED
    } else {
        reason
    };
    ReconcileError::transient(reason, e.to_string()).with_cause(e)
}

impl HelmRepositoryReconciler {
    async fn client(
        &self,
        obj: &HelmRepository,
        spec: &ValidSpec,
    ) -> Result<RepoClient, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let (basic, tls) = repository_credentials(&self.runtime.client, &ns, &obj.spec).await?;
        RepoClient::new(
            &obj.spec.url,
            basic,
            &tls,
            obj.spec.pass_credentials,
            spec.timeout,
        )
        .map_err(|m| {
            ReconcileError::transient(
                reasons::AUTHENTICATION_FAILED,
                format!("{}: {m}", obj.spec.url),
            )
        })
    }

    /// Downloads and reads `index.yaml`. Sets `FetchFailed`.
    async fn fetch_index(
        &self,
        obj: &HelmRepository,
        client: &RepoClient,
        status: &mut HelmRepositoryStatus,
        setter: Setter,
    ) -> Result<Vec<u8>, ReconcileError> {
        let result =
            download_index(client, &obj.spec.url, self.settings.helm_index_max_bytes).await;
        match result {
            Ok(index) => {
                conditions::remove(&mut status.conditions, source_types::FETCH_FAILED);
                Ok(index)
            }
            Err(err) => {
                setter.mark_true(
                    &mut status.conditions,
                    source_types::FETCH_FAILED,
                    err.reason,
                    err.message.clone(),
                );
                Err(err)
            }
        }
    }

    /// Writes the canonical index when it changed. Sets `ArtifactInStorage`.
    async fn store(
        &self,
        obj: &HelmRepository,
        index: Vec<u8>,
        status: &mut HelmRepositoryStatus,
        setter: Setter,
    ) -> Result<String, ReconcileError> {
        let storage = &self.settings.storage;
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        let dir = Storage::object_dir(KIND, &ns, &name);
        let revision = weir_shared::storage::digest_of(&index);
        let hex = revision.trim_start_matches("sha256:");
        let path = format!("{dir}/index-{hex}.json");
        let written = if storage.exists(&path) {
            weir_shared::storage::StoredArtifact {
                path: path.clone(),
                digest: revision.clone(),
                size: index.len() as u64,
            }
        } else {
            storage.write(&path, &index).map_err(|e| {
                ReconcileError::transient(
                    reasons::ARTIFACT_FAILED,
                    format!("writing artifact {path}: {e}"),
                )
            })?
        };
        let changed = artifact::record(
            storage,
            &mut status.artifact,
            &written,
            &revision,
            BTreeMap::new(),
        );
        status.url = status.artifact.as_ref().map(|a| a.url.clone());
        let message = format!("stored artifact: revision '{revision}'");
        setter.mark_true(
            &mut status.conditions,
            source_types::ARTIFACT_IN_STORAGE,
            reasons::SUCCEEDED,
            message.clone(),
        );
        artifact::collect_garbage(storage, &dir, &path, self.settings.artifact_retention);
        let key = format!("{ns}/{name}");
        if changed && self.announced.first_time(&key, &written.digest) {
            artifact::announce(
                &self.runtime,
                obj,
                status.artifact.as_ref(),
                &format!(
                    "stored fetched index of size {} from '{}'",
                    written.size, obj.spec.url
                ),
            )
            .await;
        }
        Ok(message)
    }
}

/// Downloads `index.yaml` of the repository at `repo_url` (at most `limit` bytes) and
/// returns it as canonical JSON.
///
/// # Errors
/// Transient `IndexationFailed` (or `AuthenticationFailed`), naming the URL.
pub async fn download_index(
    client: &RepoClient,
    repo_url: &str,
    limit: u64,
) -> Result<Vec<u8>, ReconcileError> {
    let url = index_url(repo_url).map_err(|m| ReconcileError::stalled(reasons::URL_INVALID, m))?;
    let bytes = client
        .get(&url, "fetching index", limit, "--helm-index-max-size")
        .await
        .map_err(|e| http_error(e, source_reasons::INDEXATION_FAILED))?;
    let parsed = tokio::task::spawn_blocking(move || normalise_index(&bytes))
        .await
        .map_err(|e| ReconcileError::transient(source_reasons::INDEXATION_FAILED, e.to_string()))?;
    parsed.map_err(|m| {
        ReconcileError::transient(
            source_reasons::INDEXATION_FAILED,
            format!("reading index {url}: {m}"),
        )
    })
}

/// Reads an index and returns its canonical bytes.
///
/// # Errors
/// The reader's message.
pub fn normalise_index(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut index = weir_helm::repo::IndexFile::parse(bytes).map_err(|e| e.to_string())?;
    index.sort_entries();
    Ok(index.to_canonical_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, kind: Option<&str>) -> HelmRepositorySpec {
        HelmRepositorySpec {
            url: url.into(),
            repository_type: kind.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn url_scheme_must_match_the_type() {
        assert!(validate(&spec("https://charts.example.com", None)).is_ok());
        assert!(validate(&spec("oci://ghcr.io/org/charts", Some("oci"))).is_ok());
        for (s, needle) in [
            (spec("oci://ghcr.io/x", None), "spec.type: oci"),
            (spec("https://h/x", Some("oci")), "needs an oci:// URL"),
            (spec("ftp://h/x", Some("default")), "\"ftp\""),
            (spec("not a url", None), "\"not a url\""),
        ] {
            let err = validate(&s).expect_err(needle);
            assert_eq!(err.next, weir_shared::Next::Stalled);
            assert!(err.message.contains(needle), "{}", err.message);
        }
        let err = validate(&HelmRepositorySpec {
            provider: Some("aws".into()),
            ..spec("oci://h/x", Some("oci"))
        })
        .expect_err("aws");
        assert_eq!(err.reason, source_reasons::UNSUPPORTED);
    }

    #[test]
    fn index_url_keeps_path_and_query() -> Result<(), String> {
        assert_eq!(
            index_url("https://h/charts/")?,
            "https://h/charts/index.yaml"
        );
        assert_eq!(
            index_url("https://h/charts")?,
            "https://h/charts/index.yaml"
        );
        assert_eq!(index_url("https://h")?, "https://h/index.yaml");
        assert_eq!(
            index_url("https://h/c?token=a%20b")?,
            "https://h/c/index.yaml?token=a%20b"
        );
        Ok(())
    }
}
