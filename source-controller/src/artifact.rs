//! What every source kind does with a written artifact: record it in `status.artifact`,
//! keep the newest `--artifact-retention` files, and announce a new revision once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use weir_api::meta::Artifact;
use weir_api::source::conditions::reasons as source_reasons;
use weir_shared::driver::Runtime;
use weir_shared::events::Severity;
use weir_shared::storage::{Storage, StoredArtifact};

/// Records `written` as the object's artifact for `revision`. Returns whether the revision
/// changed (a new artifact to announce). An unchanged file keeps its `lastUpdateTime`.
pub fn record(
    storage: &Storage,
    artifact: &mut Option<Artifact>,
    written: &StoredArtifact,
    revision: &str,
    metadata: BTreeMap<String, String>,
) -> bool {
    let revision_changed = artifact.as_ref().is_none_or(|a| a.revision != revision);
    let unchanged = artifact.as_ref().is_some_and(|a| {
        a.digest == written.digest
            && a.path == written.path
            && a.revision == revision
            && a.metadata == metadata
    });
    if !unchanged {
        *artifact = Some(Artifact {
            url: storage.url_for(&written.path),
            path: written.path.clone(),
            revision: revision.to_string(),
            digest: written.digest.clone(),
            size: i64::try_from(written.size).ok(),
            last_update_time: Time(Timestamp::now()),
            metadata,
        });
    }
    revision_changed
}

/// The revisions this process has announced, per object. The status a reconcile starts from
/// comes from the watch cache and may not show the previous reconcile's status write yet, so
/// comparing with it alone would announce the same new revision twice.
#[derive(Debug, Default)]
pub struct Announced(Mutex<HashMap<String, String>>);

impl Announced {
    /// Records `revision` for `key`; true when it differs from the last one recorded.
    pub fn first_time(&self, key: &str, revision: &str) -> bool {
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.get(key).map(String::as_str) == Some(revision) {
            return false;
        }
        seen.insert(key.to_string(), revision.to_string());
        true
    }

    /// Forgets an object (deletion).
    pub fn forget(&self, key: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// Deletes all but the newest `retention` artifacts in `dir`, never `keep`. Failures are
/// logged: a leftover file costs disk, not correctness.
pub fn collect_garbage(storage: &Storage, dir: &str, keep: &str, retention: usize) {
    match storage.garbage_collect(dir, keep, retention) {
        Ok(deleted) if !deleted.is_empty() => {
            tracing::info!(?deleted, "garbage-collected artifacts");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, dir, "garbage collection failed"),
    }
}

/// The `source.weir.dev/revision` event metadata of an artifact.
pub fn revision_metadata(artifact: Option<&Artifact>) -> BTreeMap<String, String> {
    artifact
        .map(|a| BTreeMap::from([("source.weir.dev/revision".to_string(), a.revision.clone())]))
        .unwrap_or_default()
}

/// Publishes `NewArtifact` for the object's current artifact.
pub async fn announce<K: Resource<DynamicType = ()>>(
    runtime: &Runtime,
    obj: &K,
    artifact: Option<&Artifact>,
    message: &str,
) {
    runtime
        .recorder
        .publish(
            &obj.object_ref(&()),
            Severity::Info,
            source_reasons::NEW_ARTIFACT,
            message,
            revision_metadata(artifact),
        )
        .await;
}

/// Removes every artifact of an object (deletion).
///
/// # Errors
/// Transient `ArtifactFailed` naming the object.
pub fn remove_all(
    storage: &Storage,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<(), weir_shared::ReconcileError> {
    storage
        .remove_object_dir(&Storage::object_dir(kind, ns, name))
        .map_err(|e| {
            weir_shared::ReconcileError::transient(
                weir_api::conditions::reasons::ARTIFACT_FAILED,
                format!("removing artifacts of {kind} {ns}/{name}: {e}"),
            )
        })
}
