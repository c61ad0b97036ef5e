//! A Git repository the test writes to and the test Git servers serve: files, commits, tags,
//! branches, reverts — all through the real `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A non-bare repository under a temporary root folder (the servers' project root).
pub struct SourceRepo {
    root: tempfile::TempDir,
    /// Repository name (folder under the root, and URL path).
    pub name: String,
}

impl SourceRepo {
    /// `git init -b main` of `<root>/<name>`.
    pub fn new(name: &str) -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let this = Self {
            root,
            name: name.to_string(),
        };
        std::fs::create_dir_all(this.dir()).unwrap_or_else(|e| panic!("mkdir: {e}"));
        this.git(&["init", "-q", "-b", "main"]);
        this
    }

    /// The folder the Git servers export.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The working tree.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    /// Runs `git` in the working tree and returns stdout; panics with stderr on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(self.dir())
            .args([
                "-c",
                "user.name=Weir Test",
                "-c",
                "user.email=test@weir.dev",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes a file (creating folders).
    pub fn write(&self, path: &str, contents: &str) -> &Self {
        let full = self.dir().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(&full, contents).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        self
    }

    /// Commits everything and returns the commit SHA.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The current commit SHA.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Creates an annotated tag at HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", name]);
    }
}
