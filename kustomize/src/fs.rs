//! File access for the engine: everything a build reads goes through [`FileSystem`], so the
//! same build runs over a checked-out source tree ([`DiskFs`]) or over files held in memory
//! ([`MemoryFs`], e.g. a Helm post-renderer's patches or a test's fixture).
//!
//! Both implementations are confined to a root: nothing outside it can be resolved or read.
//! The engine's loader adds Kustomize's own load restrictions on top (patches and generator
//! inputs must lie in or below their kustomization's directory).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read-only access to a tree of files.
///
/// Paths are what the implementation understands: on disk, absolute or relative to the
/// working directory; in memory, relative to the tree's root. [`FileSystem::canonicalize`]
/// turns any of them into the canonical form every other method receives from the engine.
pub trait FileSystem {
    /// The canonical path of the tree's root: every path the engine accepts starts with it.
    fn root(&self) -> &Path;

    /// The canonical form of `path`: `.` and `..` resolved and, on disk, symlinks followed.
    /// A path that climbs above the root in memory keeps its leading `..` so that the caller
    /// sees it is outside.
    ///
    /// # Errors
    /// When `path` does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;

    /// True when `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;

    /// True when `path` is a regular file.
    fn is_file(&self, path: &Path) -> bool;

    /// The bytes of the file at `path`.
    ///
    /// # Errors
    /// Missing files, directories, and files outside the root.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The entries of the directory at `path` (their full paths), in no particular order.
    ///
    /// # Errors
    /// Missing directories and directories outside the root.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;

    /// The text of the file at `path`.
    ///
    /// # Errors
    /// As [`FileSystem::read`], and files that are not UTF-8.
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        String::from_utf8(self.read(path)?).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })
    }
}

/// A directory on disk, confined to its root: paths that resolve outside it (through `..` or
/// a symlink) cannot be read or listed, and only regular files are read.
#[derive(Debug, Clone)]
pub struct DiskFs {
    root: PathBuf,
}

impl DiskFs {
    /// The tree below `root`.
    ///
    /// # Errors
    /// When `root` does not exist.
    pub fn new(root: &Path) -> io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
        })
    }

    /// `path` resolved, if it lies inside the root.
    fn confined(&self, path: &Path) -> io::Result<PathBuf> {
        let canonical = path.canonicalize()?;
        if canonical.starts_with(&self.root) {
            Ok(canonical)
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is outside the build root", path.display()),
            ))
        }
    }
}

impl FileSystem for DiskFs {
    fn root(&self) -> &Path {
        &self.root
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        path.canonicalize()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    /// Reads regular files only: a FIFO would block the build and a device might never end.
    /// The type is checked before opening (opening a FIFO blocks) and again on the open
    /// handle, in case the path was swapped in between.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let path = self.confined(path)?;
        let not_regular = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file: only regular files are read",
            )
        };
        if !std::fs::metadata(&path)?.is_file() {
            return Err(not_regular());
        }
        let mut file = std::fs::File::open(&path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_regular());
        }
        let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(1 << 20));
        file.read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.confined(path)?;
        Ok(std::fs::read_dir(path)?
            .flatten()
            .map(|e| e.path())
            .collect())
    }
}

/// Files held in memory: relative paths (`base/kustomization.yaml`) to their bytes.
/// Directories are implied by the paths of the files below them; the root is the empty path.
/// There are no symlinks; `..` is resolved lexically and cannot climb above the root.
#[derive(Debug, Clone, Default)]
pub struct MemoryFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: BTreeSet<PathBuf>,
}

impl MemoryFs {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file at `path`, relative to the root.
    ///
    /// # Errors
    /// Absolute paths and paths that climb above the root.
    pub fn insert(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> io::Result<()> {
        let key = lexical(Path::new(path))?;
        if key.as_os_str().is_empty() || key.starts_with("..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path:?} is not a file path inside the tree"),
            ));
        }
        let mut parent = key.parent();
        while let Some(p) = parent {
            self.dirs.insert(p.to_path_buf());
            parent = p.parent();
        }
        self.files.insert(key, contents.into());
        Ok(())
    }

    /// A tree holding `files` (path, contents).
    ///
    /// # Errors
    /// As [`MemoryFs::insert`].
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> io::Result<Self> {
        let mut fs = Self::new();
        for (path, contents) in files {
            fs.insert(path, contents)?;
        }
        Ok(fs)
    }
}

/// `path` with `.` and `..` resolved lexically; `..` that would climb above the root stays
/// at the front. Absolute paths are refused: the tree has no absolute names.
fn lexical(path: &Path) -> io::Result<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    let mut above = 0usize;
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    above += 1;
                }
            }
            Component::Normal(p) => parts.push(p),
            Component::RootDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: absolute paths are not in the tree", path.display()),
                ));
            }
        }
    }
    let mut out: PathBuf = std::iter::repeat_n(Component::ParentDir.as_os_str(), above).collect();
    out.extend(parts);
    Ok(out)
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

impl FileSystem for MemoryFs {
    fn root(&self) -> &Path {
        Path::new("")
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let p = lexical(path)?;
        if p.starts_with("..") || self.is_dir(&p) || self.is_file(&p) {
            Ok(p)
        } else {
            Err(not_found(path))
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        lexical(path).is_ok_and(|p| p.as_os_str().is_empty() || self.dirs.contains(&p))
    }

    fn is_file(&self, path: &Path) -> bool {
        lexical(path).is_ok_and(|p| self.files.contains_key(&p))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let p = lexical(path)?;
        self.files.get(&p).cloned().ok_or_else(|| not_found(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let p = lexical(path)?;
        if !self.is_dir(&p) {
            return Err(not_found(path));
        }
        let children = self
            .files
            .keys()
            .chain(&self.dirs)
            .filter(|k| k.parent() == Some(p.as_path()) && !k.as_os_str().is_empty())
            .cloned()
            .collect::<BTreeSet<_>>();
        Ok(children.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> MemoryFs {
        MemoryFs::from_files([
            ("kustomization.yaml", b"resources: [base]\n".as_slice()),
            (
                "base/kustomization.yaml",
                b"resources: [cm.yaml]\n".as_slice(),
            ),
            ("base/cm.yaml", b"kind: ConfigMap\n".as_slice()),
        ])
        .expect("valid paths")
    }

    #[test]
    fn directories_are_implied_by_file_paths() {
        let fs = tree();
        assert!(fs.is_dir(Path::new("")) && fs.is_dir(Path::new("base")));
        assert!(fs.is_file(Path::new("base/cm.yaml")) && !fs.is_dir(Path::new("base/cm.yaml")));
        assert_eq!(
            fs.read_dir(Path::new("")).expect("root lists"),
            vec![PathBuf::from("base"), PathBuf::from("kustomization.yaml")]
        );
        assert_eq!(
            fs.read_to_string(Path::new("base/./x/../cm.yaml"))
                .expect("x need not exist: resolution is lexical"),
            "kind: ConfigMap\n"
        );
        assert!(fs.read(Path::new("base")).is_err() && fs.read_dir(Path::new("nope")).is_err());
    }

    #[test]
    fn dot_dot_resolves_lexically_and_stays_outside_above_the_root() {
        let fs = tree();
        assert_eq!(
            fs.canonicalize(Path::new("base/../base/cm.yaml"))
                .expect("exists"),
            PathBuf::from("base/cm.yaml")
        );
        assert_eq!(
            fs.canonicalize(Path::new("base/../../etc"))
                .expect("outside"),
            PathBuf::from("../etc")
        );
        assert!(fs.read(Path::new("../etc/passwd")).is_err());
        assert!(fs.canonicalize(Path::new("/etc")).is_err());
        assert!(MemoryFs::new().insert("../x", "y").is_err());
        assert!(MemoryFs::new().insert("/x", "y").is_err());
    }

    #[test]
    fn disk_refuses_reads_outside_its_root() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("root"))?;
        std::fs::write(dir.path().join("secret"), "s")?;
        std::fs::write(dir.path().join("root/ok"), "ok")?;
        let fs = DiskFs::new(&dir.path().join("root"))?;
        assert_eq!(fs.read(&dir.path().join("root/ok"))?, b"ok");
        let err = fs
            .read(&dir.path().join("root/../secret"))
            .expect_err("outside the root");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        Ok(())
    }
}
