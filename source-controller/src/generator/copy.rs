//! The copy operations of an ArtifactGenerator artifact, applied to in-memory source trees
//! with the semantics of Flux's source-watcher (v2.1, with the exclude fix of 2.2):
//!
//! - `from` is `@alias/path`; `to` is `@artifact/path` and must stay inside the artifact.
//!   Operations run in list order; a later one overwrites the files of an earlier one (per
//!   file: what it does not touch stays). The first error stops the build.
//! - A `from` path with `*`, `?`, `[` or `]` is a glob. Overwrite and Merge match it with Go's
//!   `io/fs.Glob` (`**` is one segment, like `*`); Extract with doublestar (recursive `**`,
//!   `{a,b}`). Every match goes to `dest/<match>`, except that a pattern ending in `/**`
//!   strips its prefix (`@s/cfg/**` puts `cfg/a` at `dest/a`); a matched directory is copied
//!   whole.
//! - A literal directory is copied as a subdirectory named after it (`@s/cfg` → `dest/cfg`);
//!   the source root (`@s/`) has its contents copied into `dest`. A literal file goes to
//!   `dest/<name>` when `to` ends in `/` or `dest` is a directory already, else it is
//!   renamed to `dest`.
//! - `exclude` patterns (doublestar) are matched against a path relative to the source root,
//!   relative to the directory being copied, and relative to the glob's literal prefix; a
//!   pattern without `/` is also matched against the file name alone. An excluded directory
//!   is skipped whole.
//! - Merge deep-merges YAML into a file that exists already ([`super::merge`]), otherwise
//!   copies. Extract unpacks `.tar.gz`/`.tgz` files into `dest`; a glob skips other matches.
//!
//! Pure: no I/O, no Kubernetes. Sizes are bounded by [`BuildLimits`].

use std::collections::BTreeMap;
use std::str::FromStr;

use weir_shared::untar::{self, EntryKind, Limits};

use super::glob::{self, Dialect, Glob, Pattern, PatternError};
use super::merge::{self, MergeError};
use super::tree::{File, Node, Tree, TreeError, base_name, clean, join};

/// How a copy operation writes into the artifact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Files replace files of the same path (the default).
    #[default]
    Overwrite,
    /// A YAML file deep-merges into the file of the same path if there is one.
    Merge,
    /// `.tar.gz` and `.tgz` files are unpacked into the destination.
    Extract,
}

/// A strategy name that is not `Overwrite`, `Merge` or `Extract`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown copy strategy '{0}': use Overwrite, Merge or Extract")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "Overwrite" => Ok(Strategy::Overwrite),
            "Merge" => Ok(Strategy::Merge),
            "Extract" => Ok(Strategy::Extract),
            other => Err(UnknownStrategy(other.to_string())),
        }
    }
}

/// One `copy[]` entry of an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOp {
    /// `@alias/path-or-glob`.
    pub from: String,
    /// `@artifact/path`.
    pub to: String,
    /// Doublestar patterns of paths not to copy.
    pub exclude: Vec<String>,
    /// How files are written.
    pub strategy: Strategy,
}

impl CopyOp {
    /// The source alias of `from` (what follows `@`, up to the first `/`).
    pub fn alias(&self) -> &str {
        let rest = self.from.strip_prefix('@').unwrap_or(&self.from);
        rest.split_once('/').map_or(rest, |(alias, _)| alias)
    }
}

/// Size limits of one build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildLimits {
    /// Most bytes of file contents the artifact may hold (copies can duplicate a source any
    /// number of times).
    pub max_bytes: u64,
    /// Limits of each tarball the Extract strategy unpacks.
    pub untar: Limits,
}

/// A failed copy operation: the operation, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("copy from '{from}' to '{to}': {kind}")]
pub struct CopyError {
    /// The operation's `from`.
    pub from: String,
    /// The operation's `to`.
    pub to: String,
    /// What went wrong (boxed: errors stay small on the success path).
    pub kind: Box<CopyErrorKind>,
}

impl CopyError {
    fn new(op: &CopyOp, kind: CopyErrorKind) -> CopyError {
        CopyError {
            from: op.from.clone(),
            to: op.to.clone(),
            kind: Box::new(kind),
        }
    }

    /// Whether the ArtifactGenerator itself must change (bad syntax, unknown alias, a path
    /// leaving its root, a file that can never be a tarball), rather than the sources'
    /// content (no match, a missing path, YAML that does not merge, an artifact too large),
    /// which a new revision of a source can fix.
    pub fn is_spec_error(&self) -> bool {
        match self.kind.as_ref() {
            CopyErrorKind::InvalidSource
            | CopyErrorKind::InvalidDestination
            | CopyErrorKind::Escapes { .. }
            | CopyErrorKind::SourceEscapes { .. }
            | CopyErrorKind::UnknownAlias { .. }
            | CopyErrorKind::InvalidPattern { .. }
            | CopyErrorKind::InvalidExclude { .. }
            | CopyErrorKind::NotTarball { .. } => true,
            CopyErrorKind::NoMatch { .. }
            | CopyErrorKind::AllExcluded { .. }
            | CopyErrorKind::Missing { .. }
            | CopyErrorKind::DirectoryNotExtractable { .. }
            | CopyErrorKind::Merge { .. }
            | CopyErrorKind::Extract { .. }
            | CopyErrorKind::Conflict(_)
            | CopyErrorKind::TooLarge { .. } => false,
        }
    }
}

/// What went wrong in a copy operation. Source paths are relative to the source root,
/// destinations to the artifact root (`.` is the root).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CopyErrorKind {
    /// `from` is not `@alias/path`.
    #[error("source must have the form '@alias/path'")]
    InvalidSource,
    /// `to` does not start with `@artifact/`.
    #[error("destination must start with '@artifact/'")]
    InvalidDestination,
    /// `to` is absolute or has a `..` component.
    #[error(
        "destination '{destination}' must stay within the artifact root (no leading '/', no '..')"
    )]
    Escapes {
        /// The path after `@artifact/`.
        destination: String,
    },
    /// A literal `from` path climbs out of the source root.
    #[error("source path '{path}' must stay within the source root (no leading '/', no '..')")]
    SourceEscapes {
        /// The cleaned path.
        path: String,
    },
    /// No source has the alias.
    #[error("source alias '{alias}' not found")]
    UnknownAlias {
        /// The alias of `from`.
        alias: String,
    },
    /// The `from` glob is malformed.
    #[error("invalid glob pattern '{pattern}': {reason}")]
    InvalidPattern {
        /// The glob.
        pattern: String,
        /// What is wrong.
        reason: PatternError,
    },
    /// An `exclude` pattern is malformed.
    #[error("invalid exclude pattern '{pattern}': {reason}")]
    InvalidExclude {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: PatternError,
    },
    /// The glob matches nothing.
    #[error("no files match pattern '{pattern}' in source '{alias}'")]
    NoMatch {
        /// The glob.
        pattern: String,
        /// The source alias.
        alias: String,
    },
    /// Everything the glob matches is excluded.
    #[error("all files matching pattern '{pattern}' in source '{alias}' were excluded")]
    AllExcluded {
        /// The glob.
        pattern: String,
        /// The source alias.
        alias: String,
    },
    /// The literal path does not exist.
    #[error("'{path}' does not exist in source '{alias}'")]
    Missing {
        /// The cleaned path.
        path: String,
        /// The source alias.
        alias: String,
    },
    /// Extract of a literal file that is not named `*.tar.gz` or `*.tgz`.
    #[error("extract strategy requires a tarball file (.tar.gz or .tgz), got '{path}'")]
    NotTarball {
        /// The source path.
        path: String,
    },
    /// Extract of a literal directory.
    #[error("extract strategy is not supported for directories, got '{path}'")]
    DirectoryNotExtractable {
        /// The source path.
        path: String,
    },
    /// The files cannot be merged.
    #[error("cannot merge '{source_path}' into '{destination}': {reason}")]
    Merge {
        /// The source file.
        source_path: String,
        /// The artifact file merged into.
        destination: String,
        /// Which file is not mergeable YAML, and why.
        reason: MergeError,
    },
    /// A tarball cannot be unpacked.
    #[error("failed to extract tarball '{tarball}' to '{destination}': {message}")]
    Extract {
        /// The tarball in the source.
        tarball: String,
        /// The artifact directory unpacked into.
        destination: String,
        /// What is wrong.
        message: String,
    },
    /// A file and a directory would share a path in the artifact.
    #[error("{0}")]
    Conflict(TreeError),
    /// The artifact would hold more than [`BuildLimits::max_bytes`].
    #[error("the artifact would hold more than {limit} bytes of files (at '{path}')")]
    TooLarge {
        /// The limit.
        limit: u64,
        /// The file whose writing crossed it.
        path: String,
    },
}

/// Checks what can be checked without the sources: the shape of `from` and `to`, that `to`
/// stays inside the artifact, and the glob and exclude patterns. The source alias is not
/// looked up.
///
/// # Errors
/// The spec error [`build`] would report for the operation (see
/// [`CopyError::is_spec_error`]).
pub fn validate_op(op: &CopyOp) -> Result<(), CopyError> {
    ParsedOp::parse(op)
        .map(|_| ())
        .map_err(|kind| CopyError::new(op, kind))
}

/// Builds an artifact's tree: applies `ops` in order to an empty tree, reading the source
/// trees by alias.
///
/// # Errors
/// The first operation that fails, and why.
pub fn build(
    sources: &BTreeMap<String, Tree>,
    ops: &[CopyOp],
    limits: BuildLimits,
) -> Result<Tree, CopyError> {
    let mut staging = Staging {
        tree: Tree::default(),
        limits,
    };
    for op in ops {
        apply(op, sources, &mut staging).map_err(|kind| CopyError::new(op, kind))?;
    }
    Ok(staging.tree)
}

/// A copy operation with its paths and patterns parsed.
struct ParsedOp<'a> {
    alias: &'a str,
    /// The `from` path as written (empty for the root).
    path: &'a str,
    /// The clean destination directory or file (`.` for the artifact root).
    destination: String,
    /// `to` ends in `/`: a literal file keeps its name.
    into_directory: bool,
    /// The compiled `from` glob, `None` for a literal path.
    glob: Option<Glob>,
    excludes: Excludes,
    strategy: Strategy,
}

impl<'a> ParsedOp<'a> {
    fn parse(op: &'a CopyOp) -> Result<ParsedOp<'a>, CopyErrorKind> {
        let (alias, path) = op
            .from
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .ok_or(CopyErrorKind::InvalidSource)?;
        let destination = op
            .to
            .strip_prefix("@artifact/")
            .ok_or(CopyErrorKind::InvalidDestination)?;
        if destination.starts_with('/') || destination.split('/').any(|s| s == "..") {
            return Err(CopyErrorKind::Escapes {
                destination: destination.to_string(),
            });
        }
        let glob = if glob::has_glob_chars(path) {
            let dialect = match op.strategy {
                Strategy::Extract => Dialect::Doublestar,
                Strategy::Overwrite | Strategy::Merge => Dialect::GoPath,
            };
            let glob =
                Glob::new(path, dialect).map_err(|reason| CopyErrorKind::InvalidPattern {
                    pattern: path.to_string(),
                    reason,
                })?;
            Some(glob)
        } else {
            None
        };
        let excludes = op
            .exclude
            .iter()
            .map(|text| {
                Pattern::new(text, Dialect::Doublestar)
                    .map(|pattern| Exclude {
                        base_name_too: !text.contains('/'),
                        pattern,
                    })
                    .map_err(|reason| CopyErrorKind::InvalidExclude {
                        pattern: text.clone(),
                        reason,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParsedOp {
            alias,
            path,
            destination: clean(destination),
            into_directory: op.to.ends_with('/'),
            glob,
            excludes: Excludes(excludes),
            strategy: op.strategy,
        })
    }
}

struct Exclude {
    pattern: Pattern,
    /// The pattern has no `/`, so it also matches a file name at any depth.
    base_name_too: bool,
}

struct Excludes(Vec<Exclude>);

impl Excludes {
    /// Whether `path` (relative to the source root) is excluded: some pattern matches it, or
    /// its part below one of `bases` (directories it is under).
    fn exclude(&self, path: &str, bases: &[&str]) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let relative = bases.iter().filter_map(|base| match *base {
            "." => None,
            base => path
                .strip_prefix(base)
                .and_then(|rest| rest.strip_prefix('/')),
        });
        std::iter::once(path)
            .chain(relative)
            .any(|candidate| self.matches(candidate))
    }

    fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|exclude| {
            exclude.pattern.matches(path)
                || (exclude.base_name_too && exclude.pattern.matches(base_name(path)))
        })
    }
}

/// The tree being built, with its limits.
struct Staging {
    tree: Tree,
    limits: BuildLimits,
}

impl Staging {
    fn directory(&mut self, path: &str) -> Result<(), CopyErrorKind> {
        self.tree
            .insert_directory(path)
            .map_err(CopyErrorKind::Conflict)
    }

    fn write(&mut self, path: &str, file: File) -> Result<(), CopyErrorKind> {
        let replaced = match self.tree.get(path) {
            Some(Node::File(old)) => old.contents.len() as u64,
            _ => 0,
        };
        let after = self
            .tree
            .total_bytes()
            .saturating_sub(replaced)
            .saturating_add(file.contents.len() as u64);
        if after > self.limits.max_bytes {
            return Err(CopyErrorKind::TooLarge {
                limit: self.limits.max_bytes,
                path: path.to_string(),
            });
        }
        self.tree
            .insert_file(path, file)
            .map_err(CopyErrorKind::Conflict)
    }
}

fn apply(
    op: &CopyOp,
    sources: &BTreeMap<String, Tree>,
    staging: &mut Staging,
) -> Result<(), CopyErrorKind> {
    let parsed = ParsedOp::parse(op)?;
    let source = sources
        .get(parsed.alias)
        .ok_or_else(|| CopyErrorKind::UnknownAlias {
            alias: parsed.alias.to_string(),
        })?;
    let copier = Copier {
        op: &parsed,
        source,
    };
    match &parsed.glob {
        Some(glob) => copier.copy_glob(glob, staging),
        None => copier.copy_literal(staging),
    }
}

/// One operation applied to one source.
struct Copier<'a> {
    op: &'a ParsedOp<'a>,
    source: &'a Tree,
}

impl Copier<'_> {
    fn copy_glob(&self, glob: &Glob, staging: &mut Staging) -> Result<(), CopyErrorKind> {
        let op = self.op;
        let text = glob.as_str();
        let matches = glob.paths(self.source);
        if matches.is_empty() {
            return Err(CopyErrorKind::NoMatch {
                pattern: text.to_string(),
                alias: op.alias.to_string(),
            });
        }
        let selection_root = selection_root(text);
        let kept: Vec<String> = matches
            .into_iter()
            .filter(|m| !op.excludes.exclude(m, &[&selection_root]))
            .collect();
        if kept.is_empty() {
            return Err(CopyErrorKind::AllExcluded {
                pattern: text.to_string(),
                alias: op.alias.to_string(),
            });
        }
        for matched in &kept {
            if op.strategy == Strategy::Extract {
                if is_tarball(matched) {
                    self.extract(matched, staging)?;
                }
                continue;
            }
            let target = match text.strip_suffix("/**").and_then(|prefix| {
                matched
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('/'))
            }) {
                Some(below_prefix) => join(&op.destination, below_prefix),
                None => join(&op.destination, matched),
            };
            match self.source.get(matched) {
                Some(Node::Directory) => {
                    self.copy_directory(matched, &target, &selection_root, staging)?;
                }
                Some(Node::File(file)) => self.copy_file(matched, file, &target, staging)?,
                None => {}
            }
        }
        Ok(())
    }

    fn copy_literal(&self, staging: &mut Staging) -> Result<(), CopyErrorKind> {
        let op = self.op;
        let path = clean(op.path);
        if path.starts_with('/') || path == ".." || path.starts_with("../") {
            return Err(CopyErrorKind::SourceEscapes { path });
        }
        match self.source.get(&path) {
            None => Err(CopyErrorKind::Missing {
                path,
                alias: op.alias.to_string(),
            }),
            Some(Node::Directory) => {
                if op.strategy == Strategy::Extract {
                    return Err(CopyErrorKind::DirectoryNotExtractable { path });
                }
                // `@s/cfg` lands in `dest/cfg`; the root's name is `.`, so `@s/` lands in
                // `dest` itself.
                let target = join(&op.destination, base_name(&path));
                self.copy_directory(&path, &target, &path, staging)
            }
            Some(Node::File(file)) => {
                if op.excludes.exclude(&path, &[]) {
                    return Ok(());
                }
                if op.strategy == Strategy::Extract {
                    if !is_tarball(&path) {
                        return Err(CopyErrorKind::NotTarball { path });
                    }
                    return self.extract(&path, staging);
                }
                let target = if op.into_directory || staging.tree.is_directory(&op.destination) {
                    join(&op.destination, base_name(&path))
                } else {
                    op.destination.clone()
                };
                self.copy_file(&path, file, &target, staging)
            }
        }
    }

    /// Copies the directory `dir` of the source to `target`, leaving out excluded entries
    /// (an excluded directory with everything in it). `base` is the literal part of the
    /// `from` path, which excludes may be written relative to.
    fn copy_directory(
        &self,
        dir: &str,
        target: &str,
        base: &str,
        staging: &mut Staging,
    ) -> Result<(), CopyErrorKind> {
        staging.directory(target)?;
        let prefix_len = if dir == "." { 0 } else { dir.len() + 1 };
        let mut skipped: Vec<&str> = Vec::new();
        for (path, node) in self.source.descendants(dir) {
            // A directory comes before its contents, so a skipped one is already listed.
            if skipped.iter().any(|s| {
                path.strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with('/'))
            }) {
                continue;
            }
            if self.op.excludes.exclude(path, &[dir, base]) {
                if matches!(node, Node::Directory) {
                    skipped.push(path);
                }
                continue;
            }
            let destination = join(target, &path[prefix_len..]);
            match node {
                Node::Directory => staging.directory(&destination)?,
                Node::File(file) => self.copy_file(path, file, &destination, staging)?,
            }
        }
        Ok(())
    }

    /// Writes one source file to `target`: merged into the file there for Merge, else a copy.
    fn copy_file(
        &self,
        path: &str,
        file: &File,
        target: &str,
        staging: &mut Staging,
    ) -> Result<(), CopyErrorKind> {
        if self.op.strategy == Strategy::Merge {
            match staging.tree.get(target) {
                Some(Node::File(existing)) => {
                    let merged =
                        merge::merge(&existing.contents, &file.contents).map_err(|reason| {
                            CopyErrorKind::Merge {
                                source_path: path.to_string(),
                                destination: target.to_string(),
                                reason,
                            }
                        })?;
                    // Flux writes merged files with mode 0644.
                    return staging.write(
                        target,
                        File {
                            contents: merged,
                            executable: false,
                        },
                    );
                }
                Some(Node::Directory) => {
                    return Err(CopyErrorKind::Conflict(TreeError::DirectoryInTheWay(
                        target.to_string(),
                    )));
                }
                None => {}
            }
        }
        staging.write(target, file.clone())
    }

    /// Unpacks the tarball `path` of the source into the destination directory, keeping the
    /// archive's own layout; its files replace files of the same path.
    fn extract(&self, path: &str, staging: &mut Staging) -> Result<(), CopyErrorKind> {
        let destination = &self.op.destination;
        let failed = |message: String| CopyErrorKind::Extract {
            tarball: path.to_string(),
            destination: destination.clone(),
            message,
        };
        let Some(Node::File(tarball)) = self.source.get(path) else {
            return Err(failed("it is a directory".to_string()));
        };
        staging.directory(destination)?;
        let entries = untar::read(&tarball.contents, staging.limits.untar).map_err(failed)?;
        for entry in entries {
            let target = join(destination, &entry.path);
            match entry.kind {
                EntryKind::Directory => staging.directory(&target)?,
                EntryKind::File {
                    contents,
                    executable,
                } => staging.write(
                    &target,
                    File {
                        contents,
                        executable,
                    },
                )?,
            }
        }
        Ok(())
    }
}

/// The literal directories a glob starts with (`cfg/base` of `cfg/base/*/x`), `.` if none.
fn selection_root(pattern: &str) -> String {
    let cleaned = clean(pattern);
    let literal: Vec<&str> = cleaned
        .split('/')
        .take_while(|segment| !glob::has_glob_chars(segment))
        .collect();
    if literal.is_empty() {
        ".".to_string()
    } else {
        literal.join("/")
    }
}

/// Whether the name is that of a gzip tarball, as Flux decides it (case-insensitively).
fn is_tarball(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".tar.gz") || lower.ends_with(".tgz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_shared::archive::{FileEntry, pack};

    const LIMITS: BuildLimits = BuildLimits {
        max_bytes: 1 << 20,
        untar: Limits {
            max_archive_bytes: 1 << 20,
            max_unpacked_bytes: 1 << 20,
            max_metadata_bytes: 1 << 20,
            max_entries: 1000,
            max_extension_bytes: 1 << 10,
        },
    };

    fn tree(files: &[(&str, &str)]) -> Tree {
        let mut tree = Tree::default();
        for (path, contents) in files {
            tree.insert_file(
                path,
                File {
                    contents: contents.as_bytes().to_vec(),
                    executable: false,
                },
            )
            .expect("valid path");
        }
        tree
    }

    fn op(from: &str, to: &str) -> CopyOp {
        CopyOp {
            from: from.into(),
            to: to.into(),
            exclude: Vec::new(),
            strategy: Strategy::Overwrite,
        }
    }

    fn with(mut op: CopyOp, strategy: Strategy, exclude: &[&str]) -> CopyOp {
        op.strategy = strategy;
        op.exclude = exclude.iter().map(|e| e.to_string()).collect();
        op
    }

    fn sources(trees: Vec<(&str, Tree)>) -> BTreeMap<String, Tree> {
        trees
            .into_iter()
            .map(|(alias, tree)| (alias.to_string(), tree))
            .collect()
    }

    /// The files of a build, as `path=contents`.
    fn built(sources: &BTreeMap<String, Tree>, ops: &[CopyOp]) -> Result<Vec<String>, CopyError> {
        let tree = build(sources, ops, LIMITS)?;
        Ok(tree
            .files()
            .map(|(path, file)| format!("{path}={}", String::from_utf8_lossy(&file.contents)))
            .collect())
    }

    fn repo() -> BTreeMap<String, Tree> {
        sources(vec![(
            "s",
            tree(&[
                ("README.md", "readme"),
                ("a.yaml", "a"),
                ("b.yml", "b"),
                ("cfg/app.yaml", "app"),
                ("cfg/db.yaml", "db"),
                ("cfg/docs/guide.md", "guide"),
                ("cfg/sub/x.yaml", "x"),
                ("cfg/sub/deep/y.yaml", "y"),
            ]),
        )])
    }

    #[test]
    fn parsing_refuses_bad_sources_destinations_and_patterns() {
        let cases = [
            (
                op("s/a.yaml", "@artifact/"),
                "source must have the form '@alias/path'",
            ),
            (op("@s", "@artifact/"), "source must have the form"),
            (
                op("@s/a", "@out/x"),
                "destination must start with '@artifact/'",
            ),
            (
                op("@s/a", "@artifact/../x"),
                "destination '../x' must stay within",
            ),
            (
                op("@s/a", "@artifact/a/../../x"),
                "must stay within the artifact root",
            ),
            (
                op("@s/a", "@artifact//etc"),
                "destination '/etc' must stay within",
            ),
            (
                op("@s/a[", "@artifact/"),
                "invalid glob pattern 'a[': syntax error in pattern",
            ),
            (op("@s/x[/]y", "@artifact/"), "invalid glob pattern 'x[/]y'"),
            (
                with(op("@s/*", "@artifact/"), Strategy::Overwrite, &["{a"]),
                "invalid exclude pattern '{a'",
            ),
        ];
        for (op, want) in cases {
            let err = validate_op(&op).expect_err(want);
            assert!(err.is_spec_error(), "{err}");
            let text = err.to_string();
            assert!(text.contains(want), "{text}");
            assert!(
                text.starts_with(&format!("copy from '{}' to '{}': ", op.from, op.to)),
                "{text}"
            );
        }
        // `**` and `{}` are fine where the dialect has them, and literal otherwise.
        for ok in [
            op("@s/deploy/**", "@artifact/"),
            op("@s/{a,b}.yaml", "@artifact/x"),
            with(
                op("@s/**/*.{tgz,tar.gz}", "@artifact/"),
                Strategy::Extract,
                &["**/test/**"],
            ),
        ] {
            assert!(validate_op(&ok).is_ok(), "{ok:?}");
        }
        assert_eq!(op("@my-src/a/b", "@artifact/").alias(), "my-src");
    }

    #[test]
    fn unknown_alias_is_a_spec_error() {
        let err = build(&repo(), &[op("@nope/a.yaml", "@artifact/")], LIMITS).expect_err("alias");
        assert_eq!(
            err.to_string(),
            "copy from '@nope/a.yaml' to '@artifact/': source alias 'nope' not found"
        );
        assert!(err.is_spec_error());
    }

    #[test]
    fn strategies_parse_by_name() {
        assert_eq!("Merge".parse(), Ok(Strategy::Merge));
        assert_eq!("Extract".parse(), Ok(Strategy::Extract));
        assert_eq!("Overwrite".parse(), Ok(Strategy::Overwrite));
        assert!("merge".parse::<Strategy>().is_err());
    }

    #[test]
    fn glob_matches_keep_their_path_below_the_destination() -> Result<(), CopyError> {
        assert_eq!(
            built(&repo(), &[op("@s/*.yaml", "@artifact/out")])?,
            ["out/a.yaml=a"]
        );
        assert_eq!(
            built(&repo(), &[op("@s/cfg/*.yaml", "@artifact/")])?,
            ["cfg/app.yaml=app", "cfg/db.yaml=db"]
        );
        Ok(())
    }

    #[test]
    fn braces_or_a_closing_bracket_alone_do_not_make_a_glob() -> Result<(), CopyError> {
        let s = sources(vec![(
            "s",
            tree(&[("{a,b}.yaml", "braces"), ("a.yaml", "a"), ("x]", "bracket")]),
        )]);
        assert_eq!(
            built(&s, &[op("@s/{a,b}.yaml", "@artifact/")])?,
            ["{a,b}.yaml=braces"]
        );
        // `]` makes a glob, but without meta characters Go's glob names the path itself.
        assert_eq!(built(&s, &[op("@s/x]", "@artifact/d")])?, ["d/x]=bracket"]);
        Ok(())
    }

    #[test]
    fn double_star_is_one_segment_outside_extract() -> Result<(), CopyError> {
        // `cfg/**/*.yaml` only sees `cfg/<one level>/*.yaml`.
        assert_eq!(
            built(&repo(), &[op("@s/cfg/**/*.yaml", "@artifact/")])?,
            ["cfg/sub/x.yaml=x"]
        );
        Ok(())
    }

    #[test]
    fn a_trailing_double_star_copies_the_contents_of_its_prefix() -> Result<(), CopyError> {
        // The direct children match (directories copied whole) and lose the `cfg/` prefix.
        assert_eq!(
            built(&repo(), &[op("@s/cfg/**", "@artifact/dest")])?,
            [
                "dest/app.yaml=app",
                "dest/db.yaml=db",
                "dest/docs/guide.md=guide",
                "dest/sub/deep/y.yaml=y",
                "dest/sub/x.yaml=x",
            ]
        );
        // A pattern of just `**` keeps the paths (one segment: the root entries).
        assert_eq!(built(&repo(), &[op("@s/**", "@artifact/")])?.len(), 8);
        // A prefix with meta characters is not stripped.
        assert_eq!(
            built(&repo(), &[op("@s/c*/**", "@artifact/")])?[0],
            "cfg/app.yaml=app"
        );
        Ok(())
    }

    #[test]
    fn a_literal_directory_is_copied_as_a_subdirectory() -> Result<(), CopyError> {
        let want = [
            "dest/cfg/app.yaml=app",
            "dest/cfg/db.yaml=db",
            "dest/cfg/docs/guide.md=guide",
            "dest/cfg/sub/deep/y.yaml=y",
            "dest/cfg/sub/x.yaml=x",
        ];
        for (from, to) in [
            ("@s/cfg", "@artifact/dest"),
            ("@s/cfg/", "@artifact/dest/"),
            ("@s/./cfg", "@artifact/dest"),
        ] {
            assert_eq!(built(&repo(), &[op(from, to)])?, want, "{from} -> {to}");
        }
        Ok(())
    }

    #[test]
    fn the_source_root_is_copied_into_the_destination() -> Result<(), CopyError> {
        let files = built(&repo(), &[op("@s/", "@artifact/")])?;
        assert_eq!(files.len(), 8);
        assert_eq!(files[0], "README.md=readme");
        let files = built(&repo(), &[op("@s/", "@artifact/x")])?;
        assert!(files.iter().all(|f| f.starts_with("x/")), "{files:?}");
        Ok(())
    }

    #[test]
    fn a_literal_file_is_renamed_unless_the_destination_is_a_directory() -> Result<(), CopyError> {
        // No trailing slash, nothing there: the destination is the new name.
        assert_eq!(
            built(&repo(), &[op("@s/a.yaml", "@artifact/renamed.yaml")])?,
            ["renamed.yaml=a"]
        );
        // A trailing slash: a directory.
        assert_eq!(
            built(&repo(), &[op("@s/a.yaml", "@artifact/dir/")])?,
            ["dir/a.yaml=a"]
        );
        // A directory made by an earlier operation: the file goes inside.
        assert_eq!(
            built(
                &repo(),
                &[
                    op("@s/cfg/app.yaml", "@artifact/dir/"),
                    op("@s/a.yaml", "@artifact/dir")
                ]
            )?,
            ["dir/a.yaml=a", "dir/app.yaml=app"]
        );
        // The artifact root is always a directory.
        assert_eq!(
            built(&repo(), &[op("@s/cfg/app.yaml", "@artifact/")])?,
            ["app.yaml=app"]
        );
        Ok(())
    }

    #[test]
    fn later_operations_overwrite_per_file() -> Result<(), CopyError> {
        let s = sources(vec![
            (
                "base",
                tree(&[("config/app.yaml", "base"), ("config/database.yaml", "db")]),
            ),
            (
                "prod",
                tree(&[("config/app.yaml", "prod"), ("config/network.yaml", "net")]),
            ),
        ]);
        assert_eq!(
            built(
                &s,
                &[
                    op("@base/config", "@artifact/"),
                    op("@prod/config", "@artifact/")
                ]
            )?,
            [
                "config/app.yaml=prod",
                "config/database.yaml=db",
                "config/network.yaml=net"
            ]
        );
        Ok(())
    }

    #[test]
    fn no_match_all_excluded_and_missing_are_content_errors() {
        for (op, want) in [
            (
                op("@s/*.json", "@artifact/"),
                "no files match pattern '*.json' in source 's'",
            ),
            (
                with(
                    op("@s/*.md", "@artifact/"),
                    Strategy::Overwrite,
                    &["README*"],
                ),
                "all files matching pattern '*.md' in source 's' were excluded",
            ),
            (
                op("@s/nope.yaml", "@artifact/"),
                "'nope.yaml' does not exist in source 's'",
            ),
            (
                op("@s/../x", "@artifact/"),
                "source path '../x' must stay within the source root",
            ),
        ] {
            let err = build(&repo(), std::slice::from_ref(&op), LIMITS).expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
            assert_eq!(
                err.is_spec_error(),
                want.contains("must stay within"),
                "{err}"
            );
        }
    }

    #[test]
    fn excludes_match_at_every_base_and_by_file_name() -> Result<(), CopyError> {
        // A pattern without `/` also matches the file name at any depth.
        let files = built(
            &repo(),
            &[with(
                op("@s/cfg", "@artifact/"),
                Strategy::Overwrite,
                &["*.md"],
            )],
        )?;
        assert!(files.iter().all(|f| !f.contains(".md")), "{files:?}");
        // The directory whose files were all excluded is still created.
        let tree = build(
            &repo(),
            &[with(
                op("@s/cfg", "@artifact/"),
                Strategy::Overwrite,
                &["*.md"],
            )],
            LIMITS,
        )?;
        assert!(tree.is_directory("cfg/docs"));
        // Relative to the directory being copied, with an excluded directory pruned whole.
        let files = built(
            &repo(),
            &[with(
                op("@s/cfg", "@artifact/"),
                Strategy::Overwrite,
                &["sub/**"],
            )],
        )?;
        assert_eq!(
            files,
            [
                "cfg/app.yaml=app",
                "cfg/db.yaml=db",
                "cfg/docs/guide.md=guide"
            ]
        );
        // Relative to the source root.
        let files = built(
            &repo(),
            &[with(
                op("@s/cfg", "@artifact/"),
                Strategy::Overwrite,
                &["cfg/sub/deep/*"],
            )],
        )?;
        assert!(!files.iter().any(|f| f.contains("y.yaml")), "{files:?}");
        // Relative to a glob's literal prefix (Flux 2.2's fix): `sub/**` under `cfg/**`.
        let files = built(
            &repo(),
            &[with(
                op("@s/cfg/**", "@artifact/"),
                Strategy::Overwrite,
                &["sub/**", "docs"],
            )],
        )?;
        assert_eq!(files, ["app.yaml=app", "db.yaml=db"]);
        // An excluded literal file is skipped without an error.
        assert!(
            built(
                &repo(),
                &[with(
                    op("@s/a.yaml", "@artifact/"),
                    Strategy::Overwrite,
                    &["a.*"]
                )]
            )?
            .is_empty()
        );
        Ok(())
    }

    #[test]
    fn merge_deep_merges_into_an_existing_file_only() -> Result<(), CopyError> {
        let s = sources(vec![
            (
                "base",
                tree(&[("values.yaml", "a: 1\nlist: [1, 2]\nmap: {x: 1}\n")]),
            ),
            (
                "env",
                tree(&[
                    ("values.yaml", "list: [3]\nmap: {z: 2}\n"),
                    ("new.yaml", "n: 1"),
                ]),
            ),
        ]);
        const MERGED: &str = "values.yaml=a: 1\nlist:\n- 3\nmap:\n  x: 1\n  z: 2\n";
        let merge = |from: &str| with(op(from, "@artifact/"), Strategy::Merge, &[]);
        assert_eq!(
            built(
                &s,
                &[
                    op("@base/values.yaml", "@artifact/"),
                    merge("@env/values.yaml")
                ]
            )?,
            [MERGED]
        );
        // Nothing there yet: a plain copy, byte for byte.
        assert_eq!(built(&s, &[merge("@env/new.yaml")])?, ["new.yaml=n: 1"]);
        // Globs and directory walks merge too.
        assert_eq!(
            built(
                &s,
                &[op("@base/values.yaml", "@artifact/"), merge("@env/*.yaml")]
            )?[1],
            MERGED
        );
        assert_eq!(
            built(&s, &[op("@base/values.yaml", "@artifact/"), merge("@env/")])?[1],
            MERGED
        );
        Ok(())
    }

    #[test]
    fn merged_files_are_not_executable() -> Result<(), CopyError> {
        let mut base = Tree::default();
        base.insert_file(
            "v.yaml",
            File {
                contents: b"a: 1\n".to_vec(),
                executable: true,
            },
        )
        .expect("valid path");
        let s = sources(vec![("base", base), ("env", tree(&[("v.yaml", "b: 2\n")]))]);
        let tree = build(
            &s,
            &[
                op("@base/v.yaml", "@artifact/"),
                with(op("@env/v.yaml", "@artifact/"), Strategy::Merge, &[]),
            ],
            LIMITS,
        )?;
        assert_eq!(
            tree.get("v.yaml"),
            Some(&Node::File(File {
                contents: b"a: 1\nb: 2\n".to_vec(),
                executable: false
            }))
        );
        Ok(())
    }

    #[test]
    fn merging_invalid_yaml_is_a_content_error() {
        let s = sources(vec![(
            "s",
            tree(&[("a.yaml", "a: 1\n"), ("bad.yaml", "a: [\n")]),
        )]);
        let err = build(
            &s,
            &[
                op("@s/a.yaml", "@artifact/x.yaml"),
                with(op("@s/bad.yaml", "@artifact/x.yaml"), Strategy::Merge, &[]),
            ],
            LIMITS,
        )
        .expect_err("invalid YAML");
        assert!(!err.is_spec_error());
        let text = err.to_string();
        assert!(
            text.starts_with(
                "copy from '@s/bad.yaml' to '@artifact/x.yaml': cannot merge 'bad.yaml' into \
                 'x.yaml': the source file is not valid YAML: line "
            ),
            "{text}"
        );
    }

    /// A chart-like tarball with an executable file.
    fn tarball(name: &str, version: &str) -> Vec<u8> {
        pack(vec![
            FileEntry {
                path: format!("{name}/Chart.yaml"),
                executable: false,
                contents: format!("name: {name}\nversion: {version}\n").into_bytes(),
            },
            FileEntry {
                path: format!("{name}/bin/hook.sh"),
                executable: true,
                contents: b"#!/bin/sh".to_vec(),
            },
        ])
        .expect("pack")
    }

    fn binary_tree(files: &[(&str, Vec<u8>)]) -> Tree {
        let mut tree = Tree::default();
        for (path, contents) in files {
            tree.insert_file(
                path,
                File {
                    contents: contents.clone(),
                    executable: false,
                },
            )
            .expect("valid path");
        }
        tree
    }

    fn charts() -> BTreeMap<String, Tree> {
        sources(vec![(
            "c",
            binary_tree(&[
                ("app-1.0.0.tgz", tarball("app", "1.0.0")),
                ("deps/db-2.0.0.TAR.GZ", tarball("db", "2.0.0")),
                ("notes.txt", b"not a tarball".to_vec()),
                ("broken.tgz", b"not gzip".to_vec()),
            ]),
        )])
    }

    #[test]
    fn extract_unpacks_tarballs_into_the_destination() -> Result<(), CopyError> {
        let extract = |from: &str, to: &str| with(op(from, to), Strategy::Extract, &[]);
        let tree = build(
            &charts(),
            &[extract("@c/app-1.0.0.tgz", "@artifact/charts")],
            LIMITS,
        )?;
        let files: Vec<_> = tree.files().map(|(p, f)| (p, f.executable)).collect();
        assert_eq!(
            files,
            [
                ("charts/app/Chart.yaml", false),
                ("charts/app/bin/hook.sh", true)
            ]
        );
        // A recursive doublestar glob; non-tarballs are skipped silently.
        let tree = build(
            &charts(),
            &[with(
                op("@c/**/*.{tgz,TAR.GZ}", "@artifact/"),
                Strategy::Extract,
                &["broken.*"],
            )],
            LIMITS,
        )?;
        let paths: Vec<_> = tree.files().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "app/Chart.yaml",
                "app/bin/hook.sh",
                "db/Chart.yaml",
                "db/bin/hook.sh"
            ]
        );
        let tree = build(&charts(), &[extract("@c/*", "@artifact/x")], LIMITS);
        assert!(tree.is_err(), "the broken tarball fails");
        assert_eq!(
            build(
                &charts(),
                &[with(op("@c/*.txt", "@artifact/"), Strategy::Extract, &[])],
                LIMITS
            )?
            .total_bytes(),
            0,
            "a glob matching no tarball copies nothing"
        );
        Ok(())
    }

    #[test]
    fn extract_refuses_what_cannot_be_unpacked() {
        let extract = |from: &str| with(op(from, "@artifact/"), Strategy::Extract, &[]);
        let s = {
            let mut s = charts();
            s.insert("d".into(), tree(&[("dir/a.yaml", "a")]));
            s
        };
        for (op, want, spec) in [
            (
                extract("@c/notes.txt"),
                "extract strategy requires a tarball file (.tar.gz or .tgz), got 'notes.txt'",
                true,
            ),
            (
                extract("@d/dir"),
                "extract strategy is not supported for directories, got 'dir'",
                false,
            ),
            (
                extract("@c/broken.tgz"),
                "failed to extract tarball 'broken.tgz' to '.': ",
                false,
            ),
        ] {
            let err = build(&s, &[op], LIMITS).expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
            assert_eq!(err.is_spec_error(), spec, "{err}");
        }
    }

    #[test]
    fn the_artifact_size_is_limited() {
        let s = sources(vec![("s", tree(&[("big", &"x".repeat(600 << 10))]))]);
        let limits = BuildLimits {
            max_bytes: 1 << 20,
            ..LIMITS
        };
        assert!(build(&s, &[op("@s/big", "@artifact/a")], limits).is_ok());
        let err = build(
            &s,
            &[
                op("@s/big", "@artifact/a"),
                op("@s/big", "@artifact/a"),
                op("@s/big", "@artifact/b"),
            ],
            limits,
        )
        .expect_err("two copies are too large");
        assert!(!err.is_spec_error());
        assert_eq!(
            err.to_string(),
            "copy from '@s/big' to '@artifact/b': the artifact would hold more than 1048576 \
             bytes of files (at 'b')"
        );
    }

    #[test]
    fn files_and_directories_cannot_share_a_path() {
        let err = build(
            &repo(),
            &[op("@s/a.yaml", "@artifact/x"), op("@s/cfg", "@artifact/x")],
            LIMITS,
        )
        .expect_err("x is a file");
        assert!(
            err.to_string()
                .ends_with("cannot create directory 'x': a file exists there"),
            "{err}"
        );
        assert!(!err.is_spec_error());
    }
}
