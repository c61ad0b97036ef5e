//! Which files of a checkout go into the artifact: Flux's default exclusions, `.sourceignore`
//! files anywhere in the tree, and `spec.ignore`, all in `.gitignore` syntax. Pure: it sees
//! paths, not a file system.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Name of the per-directory ignore file.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// Excluded unless a later rule re-includes them: VCS metadata, CI configuration, binaries
/// that manifests never need, and tool files (the same defaults as Flux).
pub const DEFAULT_EXCLUSIONS: &[&str] = &[
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// An invalid ignore pattern, by where it comes from: the spec (the user must change it) or a
/// `.sourceignore` file in the commit (a new commit can fix it, so it is retried).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// `spec.ignore` (or a default exclusion) is invalid.
    #[error("{0}")]
    Spec(String),
    /// A `.sourceignore` file of the commit is invalid.
    #[error("{0}")]
    Commit(String),
}

/// A compiled set of ignore rules.
pub struct IgnoreRules {
    root: Gitignore,
    /// Nested `.sourceignore` files, shallowest first, each with its directory.
    nested: Vec<(String, Gitignore)>,
}

impl IgnoreRules {
    /// Compiles the defaults, then `.sourceignore` files (given as `(dir, contents)`, with
    /// `dir` empty for the root), then `spec.ignore`.
    ///
    /// # Errors
    /// [`IgnoreError`] naming the file (or `spec.ignore`) and line with an invalid pattern.
    pub fn new(
        sourceignores: &[(String, String)],
        spec_ignore: Option<&str>,
    ) -> Result<Self, IgnoreError> {
        let fake_root = PathBuf::from("/");
        let mut root = GitignoreBuilder::new(&fake_root);
        for line in DEFAULT_EXCLUSIONS {
            root.add_line(None, line)
                .map_err(|e| IgnoreError::Spec(format!("default exclusion {line:?}: {e}")))?;
        }
        let mut nested_files: Vec<&(String, String)> = Vec::new();
        for entry in sourceignores {
            if entry.0.is_empty() {
                add_lines(&mut root, &entry.1, SOURCEIGNORE).map_err(IgnoreError::Commit)?;
            } else {
                nested_files.push(entry);
            }
        }
        if let Some(spec) = spec_ignore {
            add_lines(&mut root, spec, "spec.ignore").map_err(IgnoreError::Spec)?;
        }
        let root = root
            .build()
            .map_err(|e| IgnoreError::Commit(format!("ignore rules: {e}")))?;
        nested_files.sort_by_key(|(dir, _)| dir.matches('/').count());
        let mut nested = Vec::new();
        for (dir, contents) in nested_files {
            let origin = format!("{dir}/{SOURCEIGNORE}");
            let mut b = GitignoreBuilder::new(fake_root.join(dir));
            add_lines(&mut b, contents, &origin).map_err(IgnoreError::Commit)?;
            nested.push((
                dir.clone(),
                b.build()
                    .map_err(|e| IgnoreError::Commit(format!("{origin}: {e}")))?,
            ));
        }
        Ok(Self { root, nested })
    }

    /// Whether the `/`-separated path (relative to the repository root) is excluded; a file
    /// inside an excluded directory is excluded too.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let full = Path::new("/").join(path);
        let mut ignored = decide(self.root.matched_path_or_any_parents(&full, is_dir), false);
        for (dir, rules) in &self.nested {
            if path.starts_with(&format!("{dir}/")) {
                ignored = decide(rules.matched_path_or_any_parents(&full, is_dir), ignored);
            }
        }
        ignored
    }
}

fn decide(m: Match<&ignore::gitignore::Glob>, previous: bool) -> bool {
    match m {
        Match::Ignore(_) => true,
        Match::Whitelist(_) => false,
        Match::None => previous,
    }
}

fn add_lines(builder: &mut GitignoreBuilder, contents: &str, origin: &str) -> Result<(), String> {
    for (n, line) in contents.lines().enumerate() {
        builder
            .add_line(None, line)
            .map_err(|e| format!("{origin} line {}: {e}", n + 1))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_exclude_vcs_ci_and_binaries() -> Result<(), String> {
        let rules = IgnoreRules::new(&[], None).map_err(|e| e.to_string())?;
        for p in [
            ".git/config",
            ".github/workflows/ci.yaml",
            "docs/logo.png",
            "deep/.sops.yaml",
            ".gitignore",
        ] {
            assert!(rules.is_ignored(p, false), "{p}");
        }
        for p in ["deploy/app.yaml", "kustomization.yaml", "README.md"] {
            assert!(!rules.is_ignored(p, false), "{p}");
        }
        Ok(())
    }

    #[test]
    fn sourceignore_and_spec_rules_layer_in_order() -> Result<(), String> {
        let files = vec![
            (String::new(), "*.md\n/tests/\n".to_string()),
            ("apps".to_string(), "secret.yaml\n!keep.md\n".to_string()),
        ];
        let rules =
            IgnoreRules::new(&files, Some("!README.md\n*.txt")).map_err(|e| e.to_string())?;
        assert!(rules.is_ignored("docs/guide.md", false));
        assert!(
            !rules.is_ignored("README.md", false),
            "spec.ignore re-includes"
        );
        assert!(
            rules.is_ignored("tests/a.yaml", false),
            "anchored directory"
        );
        assert!(
            !rules.is_ignored("apps/tests/a.yaml", false),
            "anchor is the root"
        );
        assert!(rules.is_ignored("apps/secret.yaml", false));
        assert!(
            !rules.is_ignored("secret.yaml", false),
            "nested rules stay in their directory"
        );
        assert!(!rules.is_ignored("apps/keep.md", false), "nested whitelist");
        assert!(rules.is_ignored("notes.txt", false));
        Ok(())
    }
}
