//! The unpacked-artifact cache of consumers (kustomize-controller, helm-controller): each
//! source artifact is downloaded, digest-verified and unpacked once per digest, and shared by
//! every object that uses it (the tree is never modified).
//!
//! Entries are garbage-collected when no object uses their digest any more (each owner holds
//! one digest at a time; moving to a new revision or being deleted releases the old one), and
//! the cache stays under a size bound by evicting the least recently used entries that no
//! reconcile is reading at the moment. Filesystem work runs on the blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;
use weir_api::conditions::reasons;
use weir_api::meta::Artifact;

use crate::error::ReconcileError;
use crate::fetch;
use crate::untar::Limits;

/// An unpacked artifact, pinned in the cache while this value lives.
#[derive(Debug)]
pub struct Unpacked {
    /// Root of the unpacked tree.
    pub path: PathBuf,
    _pin: Arc<()>,
}

#[derive(Debug)]
struct Entry {
    size: u64,
    last_used: Instant,
    /// Strong count above one: a reconcile is reading the tree.
    pins: Arc<()>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Which digest each owner (`namespace/name` of a consumer) uses.
    owners: HashMap<String, String>,
    /// One lock per digest being unpacked, so concurrent reconciles unpack it once.
    unpacking: HashMap<String, Arc<Mutex<()>>>,
}

/// The cache under one work directory.
pub struct ArtifactCache {
    dir: PathBuf,
    max_bytes: u64,
    limits: Limits,
    state: Mutex<State>,
}

impl ArtifactCache {
    /// A cache in `dir` (emptied: entries of an earlier process have no owners) holding at most
    /// `max_bytes` of unpacked trees that are not in use.
    ///
    /// # Errors
    /// When `dir` cannot be created.
    pub fn new(dir: &Path, max_bytes: u64, limits: Limits) -> std::io::Result<Self> {
        let artifacts = dir.join("artifacts");
        if artifacts.exists() {
            std::fs::remove_dir_all(&artifacts)?;
        }
        std::fs::create_dir_all(&artifacts)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            limits,
            state: Mutex::new(State::default()),
        })
    }

    /// The unpacked tree of `artifact` for `owner`, downloading and verifying it on a miss.
    /// The owner's previous digest is released (and removed when nobody else uses it).
    ///
    /// # Errors
    /// Transient `ArtifactFailed`: a digest that is not `sha256:<hex>`, download, digest
    /// mismatch, unsafe archive, filesystem failures.
    pub async fn acquire(
        &self,
        http: &reqwest::Client,
        owner: &str,
        artifact: &Artifact,
    ) -> Result<Unpacked, ReconcileError> {
        let failed = |m: String| ReconcileError::transient(reasons::ARTIFACT_FAILED, m);
        let hex = digest_hex(&artifact.digest).ok_or_else(|| {
            failed(format!(
                "artifact digest {:?} is not sha256:<hex>",
                artifact.digest
            ))
        })?;
        let lock = {
            let mut state = self.state.lock().await;
            state.unpacking.entry(hex.clone()).or_default().clone()
        };
        let _unpacking = lock.lock().await;
        let path = self.dir.join("artifacts").join(&hex);
        let cached = {
            let mut state = self.state.lock().await;
            let pin = state.entries.get_mut(&hex).map(|e| {
                e.last_used = Instant::now();
                e.pins.clone()
            });
            if pin.is_some() {
                self.set_owner(&mut state, owner, &hex).await;
            }
            pin
        };
        if let Some(pin) = cached {
            return Ok(Unpacked { path, _pin: pin });
        }
        let tmp = self.dir.join(format!("tmp-{hex}-{}", std::process::id()));
        blocking(move_out_of_the_way(tmp.clone()))
            .await
            .map_err(|e| failed(format!("preparing {}: {e}", tmp.display())))?;
        let size =
            fetch::fetch_and_unpack(http, &artifact.url, &artifact.digest, &tmp, self.limits)
                .await
                .map_err(|e| failed(e.to_string()).with_cause(e))?;
        let (from, to) = (tmp.clone(), path.clone());
        blocking(move || std::fs::rename(&from, &to))
            .await
            .map_err(|e| failed(format!("storing unpacked artifact {}: {e}", path.display())))?;
        let pin = Arc::new(());
        let mut state = self.state.lock().await;
        state.entries.insert(
            hex.clone(),
            Entry {
                size,
                last_used: Instant::now(),
                pins: pin.clone(),
            },
        );
        self.set_owner(&mut state, owner, &hex).await;
        let evicted = evictions(&state.entries, self.max_bytes, &hex);
        self.remove(&mut state, evicted).await;
        Ok(Unpacked {
            path,
            _pin: pin.clone(),
        })
    }

    /// Forgets `owner` (deleted, or no longer using an artifact) and removes digests nobody
    /// uses any more.
    pub async fn release(&self, owner: &str) {
        let mut state = self.state.lock().await;
        if let Some(old) = state.owners.remove(owner) {
            self.collect(&mut state, &old).await;
        }
    }

    /// Total size of the cached trees, in bytes.
    pub async fn size(&self) -> u64 {
        self.state
            .lock()
            .await
            .entries
            .values()
            .map(|e| e.size)
            .sum()
    }

    /// Whether `digest` is cached.
    pub async fn contains(&self, digest: &str) -> bool {
        let Some(hex) = digest_hex(digest) else {
            return false;
        };
        self.state.lock().await.entries.contains_key(&hex)
    }

    async fn set_owner(&self, state: &mut State, owner: &str, hex: &str) {
        let old = state.owners.insert(owner.to_string(), hex.to_string());
        if let Some(old) = old.filter(|o| o != hex) {
            self.collect(state, &old).await;
        }
    }

    /// Removes `hex` when no owner uses it.
    async fn collect(&self, state: &mut State, hex: &str) {
        if state.owners.values().all(|d| d != hex) {
            self.remove(state, vec![hex.to_string()]).await;
        }
    }

    async fn remove(&self, state: &mut State, hexes: Vec<String>) {
        for hex in hexes {
            if state.entries.remove(&hex).is_none() {
                continue;
            }
            state.unpacking.remove(&hex);
            let path = self.dir.join("artifacts").join(&hex);
            if let Err(e) = blocking(move || std::fs::remove_dir_all(&path)).await {
                tracing::warn!(error = %e, digest = %hex, "removing unpacked artifact failed");
            }
        }
    }
}

/// The entries to evict so that the cache fits in `max_bytes`: least recently used first,
/// never `keep` nor a tree a reconcile is reading. Pure, for tests.
fn evictions(entries: &HashMap<String, Entry>, max_bytes: u64, keep: &str) -> Vec<String> {
    let mut total: u64 = entries.values().map(|e| e.size).sum();
    let mut candidates: Vec<(&String, &Entry)> = entries
        .iter()
        .filter(|(h, e)| h.as_str() != keep && Arc::strong_count(&e.pins) == 1)
        .collect();
    candidates.sort_by_key(|(_, e)| e.last_used);
    let mut out = Vec::new();
    for (hex, e) in candidates {
        if total <= max_bytes {
            break;
        }
        total = total.saturating_sub(e.size);
        out.push(hex.clone());
    }
    out
}

fn digest_hex(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn move_out_of_the_way(dir: PathBuf) -> impl FnOnce() -> std::io::Result<()> {
    move || match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

async fn blocking<F>(f: F) -> std::io::Result<()>
where
    F: FnOnce() -> std::io::Result<()> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(size: u64, age_secs: u64, pins: &Arc<()>) -> Entry {
        Entry {
            size,
            last_used: Instant::now() - Duration::from_secs(age_secs),
            pins: pins.clone(),
        }
    }

    #[test]
    fn eviction_takes_the_oldest_unpinned_entries_until_the_cache_fits() {
        let unpinned = Arc::new(());
        let reading = Arc::new(());
        let _reader = reading.clone();
        let entries = HashMap::from([
            ("old".to_string(), entry(40, 30, &Arc::new(()))),
            ("older-but-read".to_string(), entry(40, 50, &reading)),
            ("mid".to_string(), entry(40, 20, &Arc::new(()))),
            ("new".to_string(), entry(40, 0, &unpinned)),
        ]);
        drop(unpinned);
        // 160 bytes, bound 90: evict the oldest evictable ones (old, then mid); the entry a
        // reconcile reads and the one just added stay.
        assert_eq!(evictions(&entries, 90, "new"), ["old", "mid"]);
        assert!(evictions(&entries, 200, "new").is_empty());
        assert_eq!(evictions(&entries, 0, "new"), ["old", "mid"]);
    }

    #[test]
    fn digests_must_be_sha256_hex() {
        let hex = "a".repeat(64);
        assert_eq!(digest_hex(&format!("sha256:{hex}")), Some(hex.clone()));
        assert_eq!(digest_hex(&hex), None);
        assert_eq!(digest_hex("sha256:../../etc"), None);
        assert_eq!(digest_hex("sha256:abc"), None);
    }
}
