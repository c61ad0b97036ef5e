//! Turns a commit's tree into the artifact: apply ignore rules, check the size budget, then
//! stream the files one blob at a time into a reproducible tar.gz written straight to
//! storage. Peak memory is one blob plus the compressor's buffers.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};
use weir_shared::archive::ArchiveWriter;
use weir_shared::storage::{self, Storage, StoredArtifact};

use crate::git::{CommitTree, EntryKind, GitError, PathStack};
use crate::limits::Limits;
use crate::sourceignore::{IgnoreError, IgnoreRules};

/// Why a commit could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// An ignore pattern is invalid.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// The files to pack exceed `--artifact-max-bytes`.
    #[error("{0}")]
    Limit(String),
    /// Reading a blob failed.
    #[error("{0}")]
    Git(String),
    /// Writing the archive failed.
    #[error("packing artifact: {0}")]
    Archive(#[source] std::io::Error),
}

impl From<GitError> for PackError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::Limit(m) => PackError::Limit(m),
            other => PackError::Git(other.to_string()),
        }
    }
}

/// Filters `tree` through the default exclusions, `.sourceignore` files and `spec.ignore`,
/// checks that the kept files fit `limits.max_bytes` from their object headers (before any
/// blob is read), then writes the archive to `out` one blob at a time.
///
/// # Errors
/// [`PackError`]: an invalid ignore pattern (naming its file and line), the size budget
/// exceeded (naming the limit, its flag and the size reached), or an I/O error.
pub fn pack<W: Write>(
    tree: &CommitTree,
    spec_ignore: Option<&str>,
    limits: &Limits,
    out: W,
    interrupt: &AtomicBool,
) -> Result<W, PackError> {
    let rules = IgnoreRules::new(&tree.sourceignores, spec_ignore)?;
    let blobs = tree.blobs()?;
    // The kept files and their sizes, by index into `tree.entries`.
    let mut kept: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    let mut paths = PathStack::default();
    for (i, entry) in tree.entries.iter().enumerate() {
        let path = paths.path_of(entry);
        let EntryKind::File { id, .. } = entry.kind else {
            continue;
        };
        if rules.is_ignored(&path, false) {
            continue;
        }
        let size = blobs.blob_size(id)?;
        total = total.saturating_add(size);
        if total > limits.max_bytes {
            return Err(PackError::Limit(limits.bytes_exceeded(
                &tree.commit,
                total,
                &path,
            )));
        }
        kept.push((i, size));
    }

    let mut writer = ArchiveWriter::new(out);
    let mut paths = PathStack::default();
    // Directories on the current path: (depth, path, written yet). A directory is written
    // just before the first kept file below it, so directories without kept files are left
    // out, as when the archive is built from a list of files.
    let mut open: Vec<(String, bool)> = Vec::new();
    let mut next = kept.iter().peekable();
    for (i, entry) in tree.entries.iter().enumerate() {
        let Some(&&(k, size)) = next.peek() else {
            break;
        };
        let path = paths.path_of(entry);
        open.truncate(entry.depth);
        let EntryKind::File { id, executable } = entry.kind else {
            open.push((path, false));
            continue;
        };
        if i != k {
            continue;
        }
        next.next();
        if interrupt.load(Ordering::Relaxed) {
            return Err(PackError::Git("packing interrupted".into()));
        }
        for (dir, written) in &mut open {
            if !*written {
                writer.add_dir(dir).map_err(PackError::Archive)?;
                *written = true;
            }
        }
        let data = blobs.read_blob(id)?;
        if data.len() as u64 != size {
            return Err(PackError::Git(format!(
                "blob {id} of {path:?} is {} bytes, its header said {size}",
                data.len()
            )));
        }
        writer
            .add_file(&path, executable, size, data.as_slice())
            .map_err(PackError::Archive)?;
    }
    writer.finish().map_err(PackError::Archive)
}

/// Packs `tree` (see [`pack`]) straight into storage at the relative `path`: a temporary file
/// in the same folder, digested while written, synced, then renamed into place. Nothing is
/// left behind on failure.
///
/// # Errors
/// As [`pack`], and I/O errors of the storage folder.
pub fn pack_to_storage(
    tree: &CommitTree,
    spec_ignore: Option<&str>,
    limits: &Limits,
    storage: &Storage,
    path: &str,
    interrupt: &AtomicBool,
) -> Result<StoredArtifact, PackError> {
    let io = |e: std::io::Error| {
        PackError::Archive(std::io::Error::new(e.kind(), format!("{path}: {e}")))
    };
    let target = storage::safe_join(storage.root(), path).ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "unsafe artifact path",
        ))
    })?;
    let dir = target.parent().unwrap_or(storage.root());
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let out = std::io::BufWriter::with_capacity(
        256 * 1024,
        Digesting {
            inner: tmp,
            hasher: Sha256::new(),
            size: 0,
        },
    );
    let out = pack(tree, spec_ignore, limits, out, interrupt)?;
    let digesting = out.into_inner().map_err(|e| io(e.into_error()))?;
    digesting.inner.as_file().sync_all().map_err(io)?;
    let digest = format!("sha256:{}", hex::encode(digesting.hasher.finalize()));
    digesting.inner.persist(&target).map_err(|e| io(e.error))?;
    Ok(StoredArtifact {
        path: path.to_string(),
        digest,
        size: digesting.size,
    })
}

/// A writer that digests and counts what passes through it.
struct Digesting<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use weir_shared::archive::{self, FileEntry};

    use super::*;
    use crate::git::{self, Auth, FetchRequest};
    use crate::reference::RefPlan;

    fn git(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
        let mut child = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("git");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("stdin");
        let out = child.wait_with_output().expect("git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    /// A bare repository whose `main` is a commit of `tree`.
    fn repo_with_tree(dir: &Path, build: impl FnOnce(&Path) -> String) {
        git(dir, &["init", "-q", "--bare"], b"");
        let tree = build(dir);
        let commit = git(dir, &["commit-tree", &tree, "-m", "x"], b"");
        git(dir, &["update-ref", "refs/heads/main", &commit], b"");
    }

    fn blob(dir: &Path, contents: &[u8]) -> String {
        git(dir, &["hash-object", "-w", "--stdin"], contents)
    }

    fn mktree(dir: &Path, lines: &[String]) -> String {
        git(
            dir,
            &["mktree"],
            format!("{}\n", lines.join("\n")).as_bytes(),
        )
    }

    fn fetch(dir: &Path, limits: &Limits) -> Result<CommitTree, GitError> {
        let cache = tempfile::tempdir().expect("tempdir").keep();
        let url = format!("file://{}", dir.display());
        let plan = RefPlan::Branch("main".into());
        let interrupt = AtomicBool::new(false);
        let auth = Auth::default();
        let req = FetchRequest {
            url: &url,
            plan: &plan,
            auth: &auth,
            cache_dir: &cache,
            timeout: Duration::from_secs(30),
            interrupt: &interrupt,
        };
        let resolved = git::resolve_remote(&req)?;
        git::fetch_tree(&req, &resolved, limits)
    }

    /// Peak resident memory of this process so far, in KiB.
    fn vm_hwm_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    #[test]
    fn streaming_gives_the_bytes_of_the_sorted_in_memory_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        repo_with_tree(dir.path(), |d| {
            let a = blob(d, b"a");
            let b = blob(d, b"b");
            let ignore = blob(d, b"secret.yaml\n");
            let sub = mktree(
                d,
                &[
                    format!("100644 blob {a}\tx.yaml"),
                    format!("100644 blob {b}\tsecret.yaml"),
                    format!("100644 blob {ignore}\t.sourceignore"),
                ],
            );
            let only_ignored = mktree(d, &[format!("100644 blob {a}\tlogo.png")]);
            mktree(
                d,
                &[
                    format!("100644 blob {a}\ta.txt"),
                    format!("040000 tree {sub}\ta"),
                    format!("100755 blob {b}\ta-b"),
                    format!("100644 blob {a}\ta0"),
                    format!("040000 tree {only_ignored}\timg"),
                    format!("120000 blob {a}\tlink"),
                    format!("040000 tree {sub}\tz"),
                ],
            )
        });
        let tree = fetch(dir.path(), &Limits::default()).expect("fetch");
        let streamed = pack(
            &tree,
            Some("z/x.yaml"),
            &Limits::default(),
            Vec::new(),
            &AtomicBool::new(false),
        )
        .expect("pack");
        let file = |path: &str, contents: &str, executable: bool| FileEntry {
            path: path.into(),
            executable,
            contents: contents.as_bytes().to_vec(),
        };
        let expected = archive::pack(vec![
            file("z/.sourceignore", "secret.yaml\n", false),
            file("a/x.yaml", "a", false),
            file("a/.sourceignore", "secret.yaml\n", false),
            file("a.txt", "a", false),
            file("a-b", "b", true),
            file("a0", "a", false),
        ])
        .expect("pack");
        assert_eq!(streamed, expected);
    }

    #[test]
    fn one_large_blob_at_thousands_of_paths_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        repo_with_tree(dir.path(), |d| {
            let big = blob(d, &vec![7u8; 1 << 20]);
            let lines: Vec<String> = (0..5000)
                .map(|i| format!("100644 blob {big}\tf{i:05}.yaml"))
                .collect();
            mktree(d, &lines)
        });
        let limits = Limits {
            max_bytes: 64 << 20,
            ..Limits::default()
        };
        let tree = fetch(dir.path(), &limits).expect("fetch");
        let before = vm_hwm_kib();
        let started = Instant::now();
        let err = pack(&tree, None, &limits, Vec::new(), &AtomicBool::new(false))
            .expect_err("over the limit");
        let elapsed = started.elapsed();
        let grown_kib = vm_hwm_kib().saturating_sub(before);
        eprintln!("refused after {elapsed:?}, peak memory grew {grown_kib} KiB");
        let PackError::Limit(message) = err else {
            panic!("{err}")
        };
        assert!(message.contains("--artifact-max-bytes"), "{message}");
        assert!(message.contains("67108864 bytes (64.0 MiB)"), "{message}");
        assert!(message.contains("f00064.yaml"), "{message}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(grown_kib < 16 * 1024, "{grown_kib} KiB");
    }

    #[test]
    fn a_tree_bomb_is_refused_after_bounded_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        repo_with_tree(dir.path(), |d| {
            let leaf = blob(d, b"boom");
            let mut tree = mktree(
                d,
                &(0..10)
                    .map(|i| format!("100644 blob {leaf}\tf{i}"))
                    .collect::<Vec<_>>(),
            );
            // 10 entries × 8 levels of the same tree: 10^9 paths.
            for _ in 0..8 {
                let lines: Vec<String> = (0..10)
                    .map(|i| format!("040000 tree {tree}\td{i}"))
                    .collect();
                tree = mktree(d, &lines);
            }
            tree
        });
        let limits = Limits {
            max_files: 10_000,
            ..Limits::default()
        };
        let before = vm_hwm_kib();
        let started = Instant::now();
        let err = fetch(dir.path(), &limits)
            .err()
            .expect("a tree bomb must be refused");
        let elapsed = started.elapsed();
        let grown_kib = vm_hwm_kib().saturating_sub(before);
        eprintln!("refused after {elapsed:?}, peak memory grew {grown_kib} KiB");
        let GitError::Limit(message) = err else {
            panic!("{err}")
        };
        assert!(message.contains("--artifact-max-files"), "{message}");
        assert!(message.contains("entry 10001"), "{message}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(grown_kib < 16 * 1024, "{grown_kib} KiB");

        // With the default limit too, the walk stops at 100,001 entries.
        let started = Instant::now();
        let err = fetch(dir.path(), &Limits::default())
            .err()
            .expect("refused");
        assert!(matches!(err, GitError::Limit(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
