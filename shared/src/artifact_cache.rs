//! The unpacked-artifact cache of consumers (kustomize-controller, helm-controller): each
//! source artifact is downloaded, digest-verified and unpacked once per digest, and shared by
//! every object that uses it (the tree is never modified).
//!
//! Entries are garbage-collected when no object uses their digest any more (each owner holds
//! one digest at a time; moving to a new revision or being deleted releases the old one), and
//! the cache stays under a size bound by evicting the least recently used entries that no
//! reconcile is reading at the moment. Filesystem work runs on the blocking pool.
//!
//! # Disk and memory bounds
//!
//! - One directory per digest in use (`artifacts/<hex>`), plus the unpacked size bound
//!   `max_bytes` (a controller flag) for trees no owner uses any more.
//! - A failed download or unpack (digest mismatch, unsafe archive, cancelled reconcile) leaves
//!   no `tmp-*` directory behind; leftovers of a crashed process are removed at start.
//! - The per-digest unpack locks live only while a digest is being acquired: the lock map
//!   holds at most one entry per concurrent `acquire`.
//! - Download and unpack sizes: [`crate::fetch`] and [`crate::untar`] ([`Limits`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
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
}

/// One lock per digest being acquired, so concurrent reconciles unpack it once. An entry
/// lives only while some `acquire` of its digest runs (a synchronous mutex, so that a
/// cancelled `acquire` can clean up in `Drop`).
type UnpackLocks = std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>;

/// Takes a digest's unpack lock entry; removes it on drop when nobody else uses it.
struct LockEntry<'a> {
    locks: &'a UnpackLocks,
    hex: String,
    lock: Arc<Mutex<()>>,
}

impl<'a> LockEntry<'a> {
    fn new(locks: &'a UnpackLocks, hex: &str) -> Self {
        let lock = locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(hex.to_string())
            .or_default()
            .clone();
        Self {
            locks,
            hex: hex.to_string(),
            lock,
        }
    }
}

impl Drop for LockEntry<'_> {
    fn drop(&mut self) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: nobody else waits for this digest.
        if Arc::strong_count(&self.lock) <= 2
            && locks
                .get(&self.hex)
                .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            locks.remove(&self.hex);
        }
    }
}

/// A temporary unpack directory, removed on drop unless it was moved into place.
struct TmpDir(Option<PathBuf>);

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let remove = move_out_of_the_way(dir);
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn_blocking(move || {
                        if let Err(e) = remove() {
                            tracing::warn!(error = %e, "removing a temporary unpack folder failed");
                        }
                    });
                }
                Err(_) => {
                    let _ = remove();
                }
            }
        }
    }
}

/// The cache under one work directory.
pub struct ArtifactCache {
    dir: PathBuf,
    max_bytes: u64,
    limits: Limits,
    state: Mutex<State>,
    locks: UnpackLocks,
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
        // Partial unpacks of an earlier process.
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with("tmp-") {
                move_out_of_the_way(entry.path())()?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            limits,
            state: Mutex::new(State::default()),
            locks: UnpackLocks::default(),
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
        let entry = LockEntry::new(&self.locks, &hex);
        let _unpacking = entry.lock.lock().await;
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
        // From here on, any failure (or cancellation) removes the partial tree.
        let mut guard = TmpDir(Some(tmp.clone()));
        let size =
            fetch::fetch_and_unpack(http, &artifact.url, &artifact.digest, &tmp, self.limits)
                .await
                .map_err(|e| failed(e.to_string()).with_cause(e))?;
        let (from, to) = (tmp.clone(), path.clone());
        blocking(move || {
            // A tree left by a removal that failed earlier.
            move_out_of_the_way(to.clone())()?;
            std::fs::rename(&from, &to)
        })
        .await
        .map_err(|e| failed(format!("storing unpacked artifact {}: {e}", path.display())))?;
        guard.0 = None;
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

    /// How many per-digest unpack locks exist (one per `acquire` in progress at most).
    pub fn unpack_locks(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
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

    type Files = Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>>;

    /// A local artifact server: `GET /<name>` answers what was published under `name`.
    struct Server {
        addr: std::net::SocketAddr,
        files: Files,
    }

    impl Server {
        async fn start() -> Self {
            use axum::extract::{Path as UrlPath, State};
            let files: Files = Arc::default();
            let app = axum::Router::new()
                .route(
                    "/{name}",
                    axum::routing::get(
                        |State(files): State<Files>, UrlPath(name): UrlPath<String>| async move {
                            files
                                .lock()
                                .expect("files")
                                .get(&name)
                                .cloned()
                                .unwrap_or_default()
                        },
                    ),
                )
                .with_state(files.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, app).await });
            Self { addr, files }
        }

        /// Publishes `bytes` as `name`; the artifact that points at it (with the bytes' digest).
        fn publish(&self, name: &str, bytes: Vec<u8>) -> Artifact {
            let digest = crate::storage::digest_of(&bytes);
            self.files
                .lock()
                .expect("files")
                .insert(name.to_string(), bytes);
            Artifact {
                path: name.to_string(),
                url: format!("http://{}/{name}", self.addr),
                revision: format!("main@sha1:{name}"),
                digest,
                size: None,
                last_update_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::now(),
                ),
                metadata: std::collections::BTreeMap::new(),
            }
        }
    }

    fn tree(contents: &str) -> Vec<u8> {
        crate::archive::pack(vec![crate::archive::FileEntry {
            path: "app/config.yaml".into(),
            executable: false,
            contents: contents.as_bytes().to_vec(),
        }])
        .expect("pack")
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn churn_leaves_one_tree_per_owner_and_no_leftovers() {
        crate::install_crypto_provider();
        let server = Server::start().await;
        let work = tempfile::tempdir().expect("tempdir");
        let cache = ArtifactCache::new(work.path(), 1 << 30, Limits::default()).expect("cache");
        let http = reqwest::Client::new();
        for i in 0..1000 {
            let artifact = server.publish(&format!("rev-{i}"), tree(&format!("revision {i}")));
            let unpacked = cache
                .acquire(&http, "ns/app", &artifact)
                .await
                .expect("acquire");
            assert!(unpacked.path.join("app/config.yaml").is_file());
        }
        assert_eq!(dir_names(&work.path().join("artifacts")).len(), 1);
        assert_eq!(dir_names(work.path()), ["artifacts"]);
        assert_eq!(cache.unpack_locks(), 0);

        // Failures: a digest mismatch and an unsafe archive leave nothing behind either.
        let mut mismatch = server.publish("mismatch", tree("a"));
        mismatch.digest = crate::storage::digest_of(b"something else");
        let mut raw = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        raw.append(&h, &b"x"[..]).expect("append");
        let unsafe_tar = {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&raw.into_inner().expect("tar")).expect("gzip");
            gz.finish().expect("gzip")
        };
        let unsafe_archive = server.publish("unsafe", unsafe_tar);
        for (i, bad) in [mismatch, unsafe_archive].iter().enumerate() {
            for _ in 0..50 {
                let err = cache
                    .acquire(&http, &format!("ns/bad-{i}"), bad)
                    .await
                    .expect_err("bad artifact");
                assert!(!err.to_string().is_empty());
            }
        }
        // Temporary folders are removed on the blocking pool.
        for _ in 0..50 {
            if dir_names(work.path()) == ["artifacts"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(dir_names(work.path()), ["artifacts"]);
        assert_eq!(dir_names(&work.path().join("artifacts")).len(), 1);
        assert_eq!(cache.unpack_locks(), 0);
        cache.release("ns/app").await;
        assert!(dir_names(&work.path().join("artifacts")).is_empty());
        assert_eq!(cache.size().await, 0);
    }
}
