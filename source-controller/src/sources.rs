//! Settings shared by the HelmRepository, HelmChart and OCIRepository reconcilers, and
//! reading another source's artifact from this process's own storage.

use weir_api::meta::Artifact;
use weir_shared::ReconcileError;
use weir_shared::storage::Storage;

/// Default of `--helm-index-max-size`.
pub const DEFAULT_HELM_INDEX_MAX_BYTES: u64 = 50 << 20;
/// Default of `--helm-chart-max-size`.
pub const DEFAULT_HELM_CHART_MAX_BYTES: u64 = 10 << 20;

/// Process-wide settings of the chart and OCI source kinds.
#[derive(Clone, Debug)]
pub struct SourceSettings {
    /// Artifact storage (shared with GitRepository).
    pub storage: Storage,
    /// How many artifacts to keep per object.
    pub artifact_retention: usize,
    /// Largest `index.yaml` read (`--helm-index-max-size`).
    pub helm_index_max_bytes: u64,
    /// Largest chart `.tgz` downloaded or packaged (`--helm-chart-max-size`).
    pub helm_chart_max_bytes: u64,
    /// Largest OCI layer pulled and its unpacked size (`--artifact-max-bytes`).
    pub artifact_max_bytes: u64,
    /// Where HelmCharts unpack Git artifacts while packaging.
    pub work_dir: std::path::PathBuf,
}

/// Reads a source's artifact file from storage and checks its digest, so a file replaced or
/// corrupted on disk is never used.
///
/// # Errors
/// Transient `ArtifactFailed` naming the artifact.
pub fn read_artifact(storage: &Storage, artifact: &Artifact) -> Result<Vec<u8>, ReconcileError> {
    let failed =
        |m: String| ReconcileError::transient(weir_api::conditions::reasons::ARTIFACT_FAILED, m);
    let path = weir_shared::storage::safe_join(storage.root(), &artifact.path)
        .ok_or_else(|| failed(format!("artifact path {:?} is unsafe", artifact.path)))?;
    let bytes = std::fs::read(&path)
        .map_err(|e| failed(format!("reading artifact {}: {e}", artifact.path)))?;
    let actual = weir_shared::storage::digest_of(&bytes);
    if actual != artifact.digest {
        return Err(failed(format!(
            "artifact {} has digest {actual}, expected {}: refusing to use it",
            artifact.path, artifact.digest
        )));
    }
    Ok(bytes)
}
