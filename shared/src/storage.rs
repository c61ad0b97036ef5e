//! Artifact storage: the on-disk layout `<kind>/<namespace>/<name>/<file>`, atomic writes
//! with a `sha256:` digest, garbage collection of old artifacts, and the HTTP server that
//! serves them (GET and HEAD only, no listing, no path escape).
//!
//! The server refuses (404) any path with a symbolic link in it, at any component below the
//! root, not only the final file, and runs with the connection limits of
//! [`crate::server::serve_hardened`] ([`ServerLimits`]: 10 s to send the request head, 30 s to
//! the response head, 256 connections, 10 min per connection by default).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::server::{ServerLimits, serve_hardened};

/// An artifact written to storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Path relative to the storage root, `/`-separated.
    pub path: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// The artifact store of one controller.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    advertised: String,
}

impl Storage {
    /// Storage under `root`, whose files are reachable at `http://<advertised_addr>/<path>`.
    pub fn new(root: impl Into<PathBuf>, advertised_addr: &str) -> Self {
        let advertised = advertised_addr.trim_end_matches('/');
        let advertised = if advertised.contains("://") {
            advertised.to_string()
        } else {
            format!("http://{advertised}")
        };
        Self {
            root: root.into(),
            advertised,
        }
    }

    /// The storage root on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one object: `<kind>/<namespace>/<name>`.
    pub fn object_dir(kind: &str, namespace: &str, name: &str) -> String {
        format!("{}/{namespace}/{name}", kind.to_lowercase())
    }

    /// The download URL of a relative artifact path.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}/{path}", self.advertised)
    }

    /// True if the relative `path` exists as a regular file.
    pub fn exists(&self, path: &str) -> bool {
        safe_join(&self.root, path).is_some()
            && regular_file_without_links(&self.root, path).is_some()
    }

    /// Writes `contents` to the relative `path` atomically (temporary file, fsync, rename)
    /// and returns its digest and size.
    ///
    /// # Errors
    /// I/O failures, naming the path.
    pub fn write(&self, path: &str, contents: &[u8]) -> std::io::Result<StoredArtifact> {
        let target = safe_join(&self.root, path).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unsafe artifact path {path:?}"),
            )
        })?;
        let dir = target.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(contents)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target).map_err(|e| e.error)?;
        Ok(StoredArtifact {
            path: path.to_string(),
            digest: digest_of(contents),
            size: contents.len() as u64,
        })
    }

    /// Deletes all but the newest `keep` artifacts in an object's folder, never the one at
    /// `current`. Returns the deleted relative paths.
    ///
    /// # Errors
    /// I/O failures listing the folder.
    pub fn garbage_collect(
        &self,
        object_dir: &str,
        current: &str,
        keep: usize,
    ) -> std::io::Result<Vec<String>> {
        let Some(dir) = safe_join(&self.root, object_dir) else {
            return Ok(Vec::new());
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            let name = entry.file_name().to_string_lossy().to_string();
            // Leftover temporary files from a crash are collected too.
            if meta.is_file() {
                files.push((meta.modified()?, name));
            }
        }
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        let mut deleted = Vec::new();
        let mut kept = 0;
        for (_, name) in files {
            let rel = format!("{object_dir}/{name}");
            let is_artifact = ARTIFACT_EXTENSIONS.iter().any(|ext| name.ends_with(ext));
            if rel == current || (kept < keep && is_artifact) {
                kept += 1;
                continue;
            }
            std::fs::remove_file(dir.join(&name))?;
            deleted.push(rel);
        }
        Ok(deleted)
    }

    /// Removes an object's whole folder (on deletion of the object).
    ///
    /// # Errors
    /// I/O failures other than the folder being absent.
    pub fn remove_object_dir(&self, object_dir: &str) -> std::io::Result<()> {
        let Some(dir) = safe_join(&self.root, object_dir) else {
            return Ok(());
        };
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Joins a `/`-separated relative path under `root`, refusing absolute paths, `..`, `.`,
/// empty components and backslashes.
pub fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.contains('\\') || rel.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for part in rel.split('/') {
        let mut comps = Path::new(part).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(c)), None) if !part.is_empty() => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// The metadata of the regular file at the relative `rel` under `root`, if neither it nor any
/// folder between it and `root` is a symbolic link (or anything but a folder). Blocking.
fn regular_file_without_links(root: &Path, rel: &str) -> Option<std::fs::Metadata> {
    let mut at = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        let meta = at.symlink_metadata().ok()?;
        let last = parts.peek().is_none();
        if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
            return None;
        }
        if last {
            return Some(meta);
        }
    }
    None
}

/// Serves the storage root over HTTP on a bound listener until `shutdown` resolves, with the
/// default [`ServerLimits`].
///
/// # Errors
/// Server failures.
pub async fn serve(
    storage: Storage,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(storage, listener, shutdown, &ServerLimits::default()).await
}

/// [`serve`] with explicit limits.
///
/// # Errors
/// Server failures.
pub async fn serve_with(
    storage: Storage,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &ServerLimits,
) -> anyhow::Result<()> {
    serve_hardened(listener, router(storage), shutdown, limits).await
}

/// What the artifact server serves: source archives, chart packages and repository indexes.
pub const ARTIFACT_EXTENSIONS: &[&str] = &[".tar.gz", ".tgz", ".json"];

fn router(storage: Storage) -> Router {
    Router::new()
        .route("/{*path}", get(serve_file))
        .with_state(storage)
}

async fn serve_file(State(storage): State<Storage>, UrlPath(path): UrlPath<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Some(full) = safe_join(&storage.root, &path) else {
        return not_found();
    };
    // Only artifacts: never hidden folders such as the Git caches kept beside them.
    let is_artifact = ARTIFACT_EXTENSIONS.iter().any(|ext| path.ends_with(ext));
    if !is_artifact || path.split('/').any(|c| c.starts_with('.')) {
        return not_found();
    }
    let (root, rel) = (storage.root.clone(), path.clone());
    let Ok(Some(meta)) =
        tokio::task::spawn_blocking(move || regular_file_without_links(&root, &rel)).await
    else {
        return not_found();
    };
    let Ok(file) = tokio::fs::File::open(&full).await else {
        return not_found();
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    (
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, meta.len().to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn safe_join_refuses_escapes() {
        let root = Path::new("/data");
        assert_eq!(
            safe_join(root, "a/b.tar.gz"),
            Some(PathBuf::from("/data/a/b.tar.gz"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "a/",
        ] {
            assert_eq!(safe_join(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn write_is_atomic_and_gc_keeps_newest() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let s = Storage::new(dir.path(), "localhost:9090");
        let obj = Storage::object_dir("GitRepository", "ns", "app");
        let mut paths = Vec::new();
        for i in 0..4 {
            let p = format!("{obj}/{i}.tar.gz");
            let a = s.write(&p, format!("artifact {i}").as_bytes())?;
            assert_eq!(a.digest, digest_of(format!("artifact {i}").as_bytes()));
            paths.push(p);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let deleted = s.garbage_collect(&obj, &paths[3], 2)?;
        assert_eq!(deleted.len(), 2);
        assert!(s.exists(&paths[3]) && s.exists(&paths[2]));
        assert!(!s.exists(&paths[0]) && !s.exists(&paths[1]));
        assert_eq!(
            s.url_for(&paths[3]),
            format!("http://localhost:9090/{}", paths[3])
        );
        s.remove_object_dir(&obj)?;
        assert!(!s.exists(&paths[3]));
        Ok(())
    }

    /// Serves `storage` on 127.0.0.1 with the default limits; returns the address.
    async fn start(storage: Storage) -> std::net::SocketAddr {
        crate::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(storage, listener, std::future::pending()));
        addr
    }

    #[tokio::test]
    async fn symlinks_anywhere_in_the_path_are_not_served() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("storage");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside)?;
        std::fs::write(outside.join("secret.tar.gz"), b"secret")?;
        let s = Storage::new(&root, "localhost");
        s.write("gitrepository/ns/app/a.tar.gz", b"artifact")?;
        let app = root.join("gitrepository/ns/app");
        std::os::unix::fs::symlink(app.join("a.tar.gz"), app.join("inside.tar.gz"))?;
        std::os::unix::fs::symlink(outside.join("secret.tar.gz"), app.join("outside.tar.gz"))?;
        // A folder link: the final component is a regular file.
        std::os::unix::fs::symlink(&outside, root.join("gitrepository/ns/linked"))?;
        std::os::unix::fs::symlink(&app, root.join("gitrepository/ns/app-link"))?;
        let addr = start(s.clone()).await;
        let get = |path: &str| {
            let url = format!("http://{addr}/{path}");
            async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
        };
        assert_eq!(get("gitrepository/ns/app/a.tar.gz").await.ok(), Some(200));
        for linked in [
            "gitrepository/ns/app/inside.tar.gz",
            "gitrepository/ns/app/outside.tar.gz",
            "gitrepository/ns/linked/secret.tar.gz",
            "gitrepository/ns/app-link/a.tar.gz",
        ] {
            assert_eq!(get(linked).await.ok(), Some(404), "{linked}");
            assert!(!s.exists(linked), "{linked}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_half_sent_request_is_disconnected_after_the_header_timeout() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = start(Storage::new(dir.path(), "localhost")).await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"GET /gitrepository/ns/app/a.tar.gz HT")
            .await
            .expect("write");
        let started = std::time::Instant::now();
        // The default header timeout is 10 s; the old server waited forever.
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(15), conn.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "connection still open after {:?}",
            started.elapsed()
        );
        assert!(started.elapsed() < Duration::from_secs(12));
    }
}
