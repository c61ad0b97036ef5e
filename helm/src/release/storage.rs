//! Helm's Secret storage driver (`pkg/storage/driver/secrets.go`, the default driver): where
//! each revision of a release lives and how it is written, and which revisions
//! `--history-max` prunes (`pkg/storage/storage.go`).
//!
//! One Secret per revision, in the release's namespace:
//!
//! - name `sh.helm.release.v1.<release>.v<revision>` ([`secret_name`]), type
//!   `helm.sh/release.v1` ([`SECRET_TYPE`]);
//! - labels `name`, `owner=helm`, `status`, `version`, the release's custom labels, and
//!   `createdAt` (when Helm creates the Secret) or `modifiedAt` (when it replaces it), in Unix
//!   seconds ([`secret_labels_for_write`]) — an install creates the Secret `pending-install`
//!   and then replaces it, so a finished revision carries `modifiedAt` only;
//! - data `release`: standard base64 of the gzip (best compression) of the release's JSON
//!   ([`encode_release`]). Secret data is base64 again on the wire, so these are the bytes a
//!   Kubernetes client hands over after its own decoding. Reading accepts the JSON without
//!   gzip too, as Helm does for releases stored before it compressed them
//!   ([`decode_release`]).
//!
//! Helm 4.1.4 reads a Secret's labels back whole, system labels included, so every later
//! revision Helm writes repeats the first one's `modifiedAt`; [`custom_labels`] keeps only
//! the release's own labels.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use base64::Engine as _;

use super::{Release, Status, go_json};

/// The Secret type of a stored release.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// What every release Secret's name starts with (Helm's `HelmStorageType`).
pub const SECRET_NAME_PREFIX: &str = "sh.helm.release.v1";

/// The Secret data key holding the release.
pub const RELEASE_KEY: &str = "release";

/// The `owner` label of every release Secret.
pub const OWNER: &str = "helm";

/// Label: the release name.
pub const NAME_LABEL: &str = "name";
/// Label: always [`OWNER`].
pub const OWNER_LABEL: &str = "owner";
/// Label: the revision's [`Status`].
pub const STATUS_LABEL: &str = "status";
/// Label: the revision number.
pub const VERSION_LABEL: &str = "version";
/// Label: when Helm created the Secret (Unix seconds).
pub const CREATED_AT_LABEL: &str = "createdAt";
/// Label: when Helm last replaced the Secret (Unix seconds).
pub const MODIFIED_AT_LABEL: &str = "modifiedAt";

/// The labels Helm owns; a release's custom labels may not use them.
pub const SYSTEM_LABELS: [&str; 6] = [
    NAME_LABEL,
    OWNER_LABEL,
    STATUS_LABEL,
    VERSION_LABEL,
    CREATED_AT_LABEL,
    MODIFIED_AT_LABEL,
];

/// Most bytes of release JSON [`decode_release`] inflates: a Secret holds at most 1 MiB, but
/// gzip can expand that without bound, and releases of large charts stay far below this.
pub const MAX_RELEASE_JSON_BYTES: usize = 128 * 1024 * 1024;

/// The gzip header Helm checks to tell compressed data from plain JSON.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// `sh.helm.release.v1.<release>.v<revision>`.
pub fn secret_name(release_name: &str, version: i64) -> String {
    format!("{SECRET_NAME_PREFIX}.{release_name}.v{version}")
}

/// The label selector of every revision of a release (what `helm history` lists).
pub fn history_selector(release_name: &str) -> String {
    format!("{NAME_LABEL}={release_name},{OWNER_LABEL}={OWNER}")
}

/// The labels of a release's Secret without the write time: the release's custom labels
/// (any of Helm's own among them dropped), then Helm's `name`, `owner`, `status` and
/// `version`.
pub fn secret_labels(release: &Release) -> BTreeMap<String, String> {
    let mut labels = custom_labels(&release.labels);
    labels.insert(NAME_LABEL.into(), release.name.clone());
    labels.insert(OWNER_LABEL.into(), OWNER.into());
    labels.insert(STATUS_LABEL.into(), release.info.status.as_str().into());
    labels.insert(VERSION_LABEL.into(), release.version.to_string());
    labels
}

/// Whether a Secret is being created or replaced: Helm labels the one `createdAt`, the other
/// `modifiedAt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretWrite {
    /// The revision's Secret is new.
    Create,
    /// The revision's Secret replaces the one of the same name (status changes).
    Update,
}

/// [`secret_labels`] with the write time Helm adds: `createdAt` or `modifiedAt` set to
/// `unix_seconds`.
pub fn secret_labels_for_write(
    release: &Release,
    write: SecretWrite,
    unix_seconds: i64,
) -> BTreeMap<String, String> {
    let mut labels = secret_labels(release);
    let key = match write {
        SecretWrite::Create => CREATED_AT_LABEL,
        SecretWrite::Update => MODIFIED_AT_LABEL,
    };
    labels.insert(key.into(), unix_seconds.to_string());
    labels
}

/// Whether Helm owns the label `key`.
pub fn is_system_label(key: &str) -> bool {
    SYSTEM_LABELS.contains(&key)
}

/// A Secret's labels without Helm's own: the release's custom labels, for [`Release::labels`].
pub fn custom_labels(secret_labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    secret_labels
        .iter()
        .filter(|(k, _)| !is_system_label(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A release written as Helm writes its JSON.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The release could not be written as JSON.
    #[error("writing the release as JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// Compressing failed.
    #[error("compressing the release: {0}")]
    Gzip(#[source] std::io::Error),
}

/// Release data that is not what Helm stores.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The data is not standard base64.
    #[error("release data is not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// The data starts as gzip but does not inflate.
    #[error("release data is not valid gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// The JSON inflates past [`MAX_RELEASE_JSON_BYTES`].
    #[error("release JSON is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The JSON is not a release.
    #[error("release JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// The release's JSON exactly as Go's `json.Marshal` writes Helm's release struct.
///
/// # Errors
/// [`EncodeError::Json`] (a value serde cannot write).
pub fn release_json(release: &Release) -> Result<Vec<u8>, EncodeError> {
    go_json::to_vec(release).map_err(EncodeError::Json)
}

/// The Secret's `release` data: base64 of gzip (best compression) of [`release_json`].
///
/// # Errors
/// [`EncodeError`].
pub fn encode_release(release: &Release) -> Result<String, EncodeError> {
    let json = release_json(release)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json).map_err(EncodeError::Gzip)?;
    let compressed = gz.finish().map_err(EncodeError::Gzip)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(compressed))
}

/// Go's `base64.StdEncoding`: padding required, line breaks skipped, stray bits after the
/// last symbol accepted.
const GO_STD_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Reads a Secret's `release` data (the bytes after the Kubernetes client's own base64
/// decoding): base64, then gzip when the gzip header is there, then JSON. The release's
/// [`Release::labels`] are not in the data: fill them from the Secret with
/// [`custom_labels`].
///
/// # Errors
/// [`DecodeError`].
pub fn decode_release(data: &[u8]) -> Result<Release, DecodeError> {
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let raw = GO_STD_BASE64.decode(&text).map_err(DecodeError::Base64)?;
    let json = if raw.starts_with(&GZIP_MAGIC) {
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_RELEASE_JSON_BYTES as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(DecodeError::Gzip)?;
        if inflated.len() > MAX_RELEASE_JSON_BYTES {
            return Err(DecodeError::TooLarge {
                limit: MAX_RELEASE_JSON_BYTES,
            });
        }
        inflated
    } else {
        raw
    };
    let mut release: Release = serde_json::from_slice(&json).map_err(DecodeError::Json)?;
    release.numbers_as_go_reads_them();
    Ok(release)
}

/// What the history helpers need of a revision: a decoded [`Release`], or the
/// [`RevisionLabels`] of its Secret (no need to decode the data).
pub trait HistoryEntry {
    /// The revision number.
    fn revision(&self) -> i64;
    /// Its status.
    fn status(&self) -> Status;
}

impl HistoryEntry for Release {
    fn revision(&self) -> i64 {
        self.version
    }

    fn status(&self) -> Status {
        self.info.status
    }
}

impl<T: HistoryEntry + ?Sized> HistoryEntry for &T {
    fn revision(&self) -> i64 {
        (**self).revision()
    }

    fn status(&self) -> Status {
        (**self).status()
    }
}

/// A revision as its Secret's labels describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionLabels {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: i64,
    /// `status`.
    pub status: Status,
}

impl RevisionLabels {
    /// Reads `name`, `version` and `status`; `None` unless all three are there and valid and
    /// `owner` is `helm`.
    pub fn from_secret_labels(labels: &BTreeMap<String, String>) -> Option<RevisionLabels> {
        if labels.get(OWNER_LABEL).map(String::as_str) != Some(OWNER) {
            return None;
        }
        Some(RevisionLabels {
            name: labels.get(NAME_LABEL)?.clone(),
            version: labels.get(VERSION_LABEL)?.parse().ok()?,
            status: labels.get(STATUS_LABEL)?.parse().ok()?,
        })
    }
}

impl HistoryEntry for RevisionLabels {
    fn revision(&self) -> i64 {
        self.version
    }

    fn status(&self) -> Status {
        self.status
    }
}

/// The newest revision, whatever its status (Helm's `Last`).
pub fn latest<E: HistoryEntry>(history: &[E]) -> Option<&E> {
    history.iter().max_by_key(|e| e.revision())
}

/// The newest `deployed` revision (Helm's `Deployed`: should several be deployed, after
/// concurrent runs, the newest counts).
pub fn last_deployed<E: HistoryEntry>(history: &[E]) -> Option<&E> {
    history
        .iter()
        .filter(|e| e.status() == Status::Deployed)
        .max_by_key(|e| e.revision())
}

/// The revisions Helm deletes before it stores a new one with `--history-max max_history`
/// (Helm's `removeLeastRecent` making room for one more): oldest first, until
/// `max_history - 1` remain, never the newest deployed one — so more may remain when that one
/// is among the oldest. `0` means no limit. Sorted by revision.
pub fn history_to_prune<E: HistoryEntry>(history: &[E], max_history: usize) -> Vec<i64> {
    let Some(keep) = max_history.checked_sub(1) else {
        return Vec::new();
    };
    if history.len() <= keep {
        return Vec::new();
    }
    let mut revisions: Vec<i64> = history.iter().map(HistoryEntry::revision).collect();
    revisions.sort_unstable();
    let deployed = last_deployed(history).map(HistoryEntry::revision);
    let mut prune = Vec::new();
    for revision in revisions.iter().copied() {
        if revisions.len() - prune.len() == keep {
            break;
        }
        if Some(revision) != deployed {
            prune.push(revision);
        }
    }
    prune
}
