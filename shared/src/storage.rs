//! Artifact storage: the on-disk layout `<kind>/<namespace>/<name>/<file>`, atomic writes
//! with a `sha256:` digest, garbage collection of old artifacts, and the HTTP server that
//! serves them (GET and HEAD only, no listing, no path escape).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

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
        safe_join(&self.root, path).is_some_and(|p| p.symlink_metadata().is_ok_and(|m| m.is_file()))
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
            if rel == current || (kept < keep && name.ends_with(".tar.gz")) {
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

/// Serves the storage root over HTTP on a bound listener until `shutdown` resolves.
///
/// # Errors
/// Server failures.
pub async fn serve(
    storage: Storage,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/{*path}", get(serve_file))
        .with_state(storage);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn serve_file(State(storage): State<Storage>, UrlPath(path): UrlPath<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Some(full) = safe_join(&storage.root, &path) else {
        return not_found();
    };
    let Ok(meta) = tokio::fs::symlink_metadata(&full).await else {
        return not_found();
    };
    // Only artifacts: never hidden folders such as the Git caches kept beside them.
    if !meta.is_file() || !path.ends_with(".tar.gz") || path.split('/').any(|c| c.starts_with('.'))
    {
        return not_found();
    }
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
}
