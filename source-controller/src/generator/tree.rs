//! An in-memory file tree: what a source artifact unpacks to, and what the copy operations of
//! a generated artifact build. Paths are `/`-separated and relative (`a/b/c`, no leading `/`,
//! no `.` or `..` components); directories are entries of their own, so an empty directory
//! exists. Only regular files and directories exist, as in the archives they come from.

use std::collections::BTreeMap;

use weir_shared::archive::FileEntry;
use weir_shared::untar::{self, EntryKind, Limits};

use crate::sourceignore::{IgnoreError, IgnoreRules};

/// A regular file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// File contents.
    pub contents: Vec<u8>,
    /// Whether the file is executable.
    pub executable: bool,
}

/// An entry of a [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory; what it contains are the entries under its path.
    Directory,
    /// A regular file.
    File(File),
}

/// The root directory, which is not stored: every tree has it.
static ROOT: Node = Node::Directory;

/// Why an entry cannot be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The path is empty, absolute, or has an empty, `.` or `..` component.
    #[error("'{0}' is not a relative path without '.' or '..'")]
    InvalidPath(String),
    /// A file is where a directory is needed (the path itself or one of its parents).
    #[error("cannot create directory '{0}': a file exists there")]
    FileInTheWay(String),
    /// A directory is where a file should be written.
    #[error("cannot write file '{0}': a directory exists there")]
    DirectoryInTheWay(String),
}

/// A tree of directories and regular files, sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Node>,
    /// Sum of the files' sizes, kept up to date so that size limits cost nothing to check.
    total_bytes: u64,
}

impl Tree {
    /// Reads a tar.gz (a source artifact) with the checks and limits of
    /// [`weir_shared::untar::unpack`]. Parent directories the archive does not list are
    /// added; a path listed twice keeps its later entry.
    ///
    /// # Errors
    /// The archive is refused by the untar checks, or a file and a directory share a path.
    pub fn from_archive(bytes: &[u8], limits: Limits) -> Result<Tree, String> {
        let mut tree = Tree::default();
        // Folders a path implies are entries too: count them against the archive's entry
        // budget, and their path bytes (bounded above by the entry's path length each)
        // against its metadata budget, so one deep path cannot become gigabytes of names.
        let mut path_bytes: u64 = 0;
        for entry in untar::read(bytes, limits)? {
            let before = tree.entries.len();
            let path_len = entry.path.len() as u64;
            match entry.kind {
                EntryKind::Directory => tree.insert_directory(&entry.path),
                EntryKind::File {
                    contents,
                    executable,
                } => tree.insert_file(
                    &entry.path,
                    File {
                        contents,
                        executable,
                    },
                ),
            }
            .map_err(|e| e.to_string())?;
            let added = (tree.entries.len() - before) as u64;
            path_bytes = path_bytes.saturating_add(added.saturating_mul(path_len));
            if tree.entries.len() as u64 > limits.max_entries {
                return Err(format!(
                    "archive has more than {} files and folders (max_entries)",
                    limits.max_entries
                ));
            }
            if path_bytes > limits.max_metadata_bytes {
                return Err(format!(
                    "archive paths take more than {} bytes (max_metadata_bytes)",
                    limits.max_metadata_bytes
                ));
            }
        }
        Ok(tree)
    }

    /// The entry at `path`; `.` is the root directory.
    pub fn get(&self, path: &str) -> Option<&Node> {
        if path == "." {
            return Some(&ROOT);
        }
        self.entries.get(path)
    }

    /// Whether `path` is a directory (the root included).
    pub fn is_directory(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Node::Directory))
    }

    /// The regular files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &File)> {
        self.entries.iter().filter_map(|(path, node)| match node {
            Node::File(file) => Some((path.as_str(), file)),
            Node::Directory => None,
        })
    }

    /// Every entry under the directory `dir` (`.` for the whole tree), at any depth, with
    /// its path relative to the tree root. A directory comes before what it contains.
    pub fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> {
        let prefix = if dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .map(|(path, node)| (path.as_str(), node))
    }

    /// The names of the entries directly in the directory `dir` (`.` for the root), sorted.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> {
        let skip = if dir == "." { 0 } else { dir.len() + 1 };
        self.descendants(dir)
            .map(move |(path, _)| &path[skip..])
            .filter(|name| !name.contains('/'))
    }

    /// Sum of the sizes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Creates the directory `path` and any missing parents; an existing directory is kept,
    /// and `.` (the root) always exists.
    ///
    /// # Errors
    /// An invalid path, or a file at `path` or one of its parents.
    pub fn insert_directory(&mut self, path: &str) -> Result<(), TreeError> {
        if path == "." {
            return Ok(());
        }
        check_path(path)?;
        let mut end = 0;
        for segment in path.split('/') {
            end += segment.len();
            let prefix = &path[..end];
            match self.entries.get(prefix) {
                None => {
                    self.entries.insert(prefix.to_string(), Node::Directory);
                }
                Some(Node::Directory) => {}
                Some(Node::File(_)) => return Err(TreeError::FileInTheWay(prefix.to_string())),
            }
            end += 1;
        }
        Ok(())
    }

    /// Writes the file `path`, creating missing parent directories and replacing a file that
    /// is there.
    ///
    /// # Errors
    /// An invalid path, a directory at `path`, or a file where a parent directory should be.
    pub fn insert_file(&mut self, path: &str, file: File) -> Result<(), TreeError> {
        check_path(path)?;
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.insert_directory(parent)?;
        }
        if self.is_directory(path) {
            return Err(TreeError::DirectoryInTheWay(path.to_string()));
        }
        let added = file.contents.len() as u64;
        if let Some(Node::File(old)) = self.entries.insert(path.to_string(), Node::File(file)) {
            self.total_bytes = self.total_bytes.saturating_sub(old.contents.len() as u64);
        }
        self.total_bytes = self.total_bytes.saturating_add(added);
        Ok(())
    }

    /// The files of an artifact archive: the files of this tree without those Flux leaves out
    /// of every generated artifact ([`archive_filter`]). Empty directories are not kept:
    /// [`weir_shared::archive::pack`] writes the parents of files only.
    ///
    /// # Errors
    /// The default exclusions do not compile (a bug in them; their tests compile them).
    pub fn into_file_entries(self) -> Result<Vec<FileEntry>, IgnoreError> {
        let filter = archive_filter()?;
        Ok(self
            .entries
            .into_iter()
            .filter_map(|(path, node)| match node {
                Node::File(file) if !filter.is_ignored(&path, false) => Some(FileEntry {
                    path,
                    executable: file.executable,
                    contents: file.contents,
                }),
                _ => None,
            })
            .collect())
    }
}

/// The filter of generated artifacts: Flux archives them with `SourceIgnoreFilter(nil, nil)`,
/// which is the default source-ignore list (VCS metadata, CI configuration, ...) and nothing
/// else, so those files are dropped even when a copy operation copied them.
///
/// # Errors
/// The default exclusions do not compile.
pub fn archive_filter() -> Result<IgnoreRules, IgnoreError> {
    IgnoreRules::new(&[], None)
}

fn check_path(path: &str) -> Result<(), TreeError> {
    if path.starts_with('/')
        || path
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(TreeError::InvalidPath(path.to_string()));
    }
    Ok(())
}

/// Go's `path.Clean`: the shortest equivalent path, lexically (`a//b/../c/` is `a/c`, the
/// empty path is `.`, `..` that climbs above a relative start is kept, above `/` dropped).
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => match parts.last() {
                Some(last) if *last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `dir/rest` for a clean relative `dir` (`.` for the root) and a clean relative `rest`.
pub fn join(dir: &str, rest: &str) -> String {
    match (dir, rest) {
        (".", _) => rest.to_string(),
        (_, ".") => dir.to_string(),
        _ => format!("{dir}/{rest}"),
    }
}

/// The last component of a clean path (`.` for the root).
pub fn base_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str) -> File {
        File {
            contents: contents.as_bytes().to_vec(),
            executable: false,
        }
    }

    #[test]
    fn files_create_their_parents_and_replace_files() -> Result<(), TreeError> {
        let mut tree = Tree::default();
        tree.insert_file("a/b/c.yaml", file("12345"))?;
        assert!(tree.is_directory("a") && tree.is_directory("a/b"));
        assert_eq!(tree.total_bytes(), 5);
        tree.insert_file("a/b/c.yaml", file("1"))?;
        assert_eq!(tree.total_bytes(), 1);
        assert_eq!(
            tree.insert_directory("a/b/c.yaml/d"),
            Err(TreeError::FileInTheWay("a/b/c.yaml".into()))
        );
        assert_eq!(
            tree.insert_file("a/b", file("x")),
            Err(TreeError::DirectoryInTheWay("a/b".into()))
        );
        assert!(
            tree.is_directory("a/b"),
            "a refused write keeps the directory"
        );
        for bad in ["", "/x", "a/../b", "a//b", "./a"] {
            assert!(tree.insert_file(bad, file("")).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn children_and_descendants_stay_inside_their_directory() -> Result<(), TreeError> {
        let mut tree = Tree::default();
        for path in ["a/x", "a/y/z", "a-b/q", "a.c", "b"] {
            tree.insert_file(path, file(""))?;
        }
        let children: Vec<_> = tree.children("a").collect();
        assert_eq!(children, ["x", "y"]);
        let root: Vec<_> = tree.children(".").collect();
        assert_eq!(root, ["a", "a-b", "a.c", "b"]);
        let under: Vec<_> = tree.descendants("a").map(|(p, _)| p).collect();
        assert_eq!(under, ["a/x", "a/y", "a/y/z"]);
        Ok(())
    }

    #[test]
    fn from_archive_reads_a_packed_tree() -> Result<(), String> {
        let bytes = weir_shared::archive::pack(vec![
            FileEntry {
                path: "deploy/app.yaml".into(),
                executable: false,
                contents: b"kind: A".to_vec(),
            },
            FileEntry {
                path: "run.sh".into(),
                executable: true,
                contents: b"#!/bin/sh".to_vec(),
            },
        ])
        .map_err(|e| e.to_string())?;
        let tree = Tree::from_archive(&bytes, Limits::default())?;
        assert!(tree.is_directory("deploy"));
        let files: Vec<_> = tree.files().map(|(p, f)| (p, f.executable)).collect();
        assert_eq!(files, [("deploy/app.yaml", false), ("run.sh", true)]);
        Ok(())
    }

    #[test]
    fn the_default_ignore_list_is_left_out_of_artifacts() -> Result<(), String> {
        let mut tree = Tree::default();
        for path in [
            ".git/config",
            ".github/workflows/ci.yaml",
            "apps/.sops.yaml",
            ".gitignore",
            "apps/app.yaml",
            "README.md",
        ] {
            tree.insert_file(path, file("x"))
                .map_err(|e| e.to_string())?;
        }
        let kept: Vec<String> = tree
            .into_file_entries()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(kept, ["README.md", "apps/app.yaml"]);
        Ok(())
    }

    #[test]
    fn clean_is_go_path_clean() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("a/", "a"),
            ("./a//b/./c/", "a/b/c"),
            ("a/../b", "b"),
            ("a/../..", ".."),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
        assert_eq!(join(".", "a"), "a");
        assert_eq!(join("d", "."), "d");
        assert_eq!(join("d", "a/b"), "d/a/b");
        assert_eq!(base_name("a/b"), "b");
        assert_eq!(base_name("."), ".");
    }
}
