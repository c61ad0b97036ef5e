//! weir-kustomize, the native Kustomize engine: a directory tree in, the ordered list of
//! resources out, the same as `kubectl kustomize` (Kustomize v5) for every feature it
//! supports. Fields it does not support are refused with an error naming the field and file.
//!
//! Pipeline per kustomization: resources (files and nested kustomizations) → components →
//! generators → `generators` plugins → transformers (strategic merge patches, patches, namespace,
//! prefix, suffix, labels, annotations, JSON 6902 patches, replicas, images) → `transformers`
//! plugins → `validators` (built-in plugins only) → `vars` declared. At the top: content-hash
//! suffixes, name-reference rewriting, `vars` substitution, sorting.
//!
//! Entry points: [`build`] and [`build_with`] over a tree on disk confined to a root,
//! [`build_in`] over any [`FileSystem`] (e.g. [`MemoryFs`]), and [`build_resources`] over a
//! given list of objects (Helm's post-rendering); [`build_with_options`] takes everything
//! at once, including a [`ChartInflator`] that renders `helmCharts` (see [`helmcharts`]).
//! Around the engine: [`postbuild`] (Flux's variable substitution) and [`overrides`] (a Flux
//! Kustomization spec's fields as a kustomization on top of its path).
//!
//! Pure: the only I/O is reading through a [`FileSystem`] and, for remote bases and
//! resources ([`build_with_remote`]), asking the caller's [`RemoteLoader`] for a fetched tree
//! or file, and for `helmCharts`, asking the caller's [`ChartInflator`] to render a chart
//! whose files the engine read; no Kubernetes client, no async runtime, no network.
//!
//! # Hostile trees
//!
//! Whoever can push to a watched repository controls the tree, and the controller builds it
//! on a thread with a 2 MiB stack, so a build fails (never crashes, hangs or reads outside
//! its root) with an error naming the file:
//!
//! | limit | default | enforced |
//! |---|---|---|
//! | [`MAX_DEPTH`] | 100 kustomizations (or synthesized directories) nested | entering each kustomization; the error names the first and last entries of the chain |
//! | [`MAX_NESTING`] | 200 levels of objects/lists | every resource loaded or generated, every patch, every value a JSON 6902 operation writes, every replacement field path and target |
//! | [`BuildLimits::max_resources`] ([`limits::MAX_RESOURCES`]) | 100,000 resources loaded or generated, repeats counted | each resource file loaded, each generator, each input of [`build_resources`] |
//! | [`BuildLimits::max_bytes`] ([`limits::MAX_BYTES`]) | 256 MiB estimated memory produced | as resources are loaded and generated, before each JSON 6902 `add`/`copy`/`replace`, each strategic merge patch applied, each replacement written, each label/annotation set |
//! | [`BuildLimits::max_kustomizations`] ([`limits::MAX_KUSTOMIZATIONS`]) | 10,000 kustomizations loaded, repeats counted | entering each kustomization or component |
//! | [`BuildLimits::deadline`] | none | entering each kustomization, each patch, each JSON 6902 operation, each replacement |
//!
//! Replacement indexes are checked against the list before anything is allocated (an index
//! past the end fails as in Kustomize; `create` may append at the end only), and a
//! delimiter `index` past the last part appends one part, as Kustomize does.
//!
//! Every file is resolved (symlinks followed) and checked to lie inside the root before it
//! is opened — kustomization files, resources, patches, generator and env files, CRDs,
//! components, replacement files, synthesized manifests — and a refused file's content is
//! never read, so it cannot appear in an error. [`DiskFs`] reads regular files only (a
//! FIFO or device would block or never end): the type is checked before opening and again
//! on the open handle.

mod buildmeta;
mod builtin;
mod configurations;
mod fieldspec;
pub mod fs;
mod generators;
pub mod helmcharts;
mod jsonpatch;
pub mod kustomization;
pub mod limits;
mod nameref;
mod openapi;
mod order;
pub mod overrides;
mod patch;
mod plugins;
pub mod postbuild;
pub mod remote;
mod replacement;
mod resource;
mod smp;
mod transform;
mod valueadd;
mod vars;

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

pub use fs::{DiskFs, FileSystem, MemoryFs};
pub use helmcharts::{ChartFile, ChartInflator, HelmChartRequest};
pub use kustomization::Kustomization;
pub use limits::{BuildLimits, MAX_DEPTH, MAX_NESTING};
pub use overrides::SpecOverrides;
pub use remote::{RemoteError, RemoteLoader, RepoSpec};
pub use resource::{ResId, Resource};

use generators::GenKind;
use limits::Budget;

/// A build failure, naming the file it comes from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct BuildError {
    /// The file (or directory) at fault.
    pub file: String,
    /// What is wrong.
    pub message: String,
    /// What kind of failure it is, for callers that treat some differently.
    pub kind: ErrorKind,
}

/// The kind of a [`BuildError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKind {
    /// The tree is wrong (the default).
    #[default]
    Build,
    /// A remote base or resource, and the build fetches none (no [`RemoteLoader`]).
    RemoteDisabled,
    /// A remote entry that is malformed, or that its loader refuses to fetch.
    RemoteInvalid,
    /// Fetching a remote target failed (unreachable, missing ref, authentication, limits).
    RemoteFetch,
}

impl BuildError {
    /// An error about `file`.
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            message: message.into(),
            kind: ErrorKind::Build,
        }
    }

    /// The same error, of `kind`.
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// What every loader of one build shares, remote trees included.
struct Shared {
    budget: Budget,
    vars: vars::Declared,
    configs: configurations::Accumulated,
    openapi: std::cell::RefCell<openapi::State>,
    fetched: std::cell::Cell<usize>,
    /// The root kustomization's `buildMetadata`.
    meta: std::cell::Cell<buildmeta::Options>,
}

impl Shared {
    fn new(limits: &BuildLimits) -> Self {
        Self {
            budget: Budget::new(limits),
            vars: vars::Declared::default(),
            configs: configurations::Accumulated::default(),
            openapi: std::cell::RefCell::default(),
            fetched: std::cell::Cell::new(0),
            meta: std::cell::Cell::default(),
        }
    }
}

/// Reads files through a [`FileSystem`], refusing anything outside its root (no `../`
/// escape, no symlink escape) and, for patches and generator inputs, anything outside the
/// kustomization's own directory.
pub(crate) struct Loader<'a> {
    fs: &'a dyn FileSystem,
    root: PathBuf,
    /// What the build has spent of its limits.
    pub(crate) budget: &'a Budget,
    /// The `vars` declared so far.
    vars: &'a vars::Declared,
    /// The transformer configurations of the kustomizations being built.
    pub(crate) configs: &'a configurations::Accumulated,
    /// The schema strategic merge patches use.
    openapi: &'a std::cell::RefCell<openapi::State>,
    /// Fetching remote targets; which remote tree this loader reads, if any.
    remote: remote::RemoteContext<'a>,
    /// The root kustomization's `buildMetadata`.
    pub(crate) meta: &'a std::cell::Cell<buildmeta::Options>,
    /// Renders `helmCharts`, if this build does.
    pub(crate) charts: Option<&'a dyn ChartInflator>,
}

impl<'a> Loader<'a> {
    /// A loader confined to the root of `fs`.
    fn new(
        fs: &'a dyn FileSystem,
        shared: &'a Shared,
        remote: Option<&'a dyn RemoteLoader>,
        charts: Option<&'a dyn ChartInflator>,
    ) -> Self {
        Self {
            fs,
            charts,
            root: fs.root().to_path_buf(),
            budget: &shared.budget,
            vars: &shared.vars,
            configs: &shared.configs,
            openapi: &shared.openapi,
            meta: &shared.meta,
            remote: remote::RemoteContext {
                loader: remote,
                fetched: &shared.fetched,
                label: None,
                depth: 0,
            },
        }
    }

    /// A loader of the fetched remote tree `fs` of `repo`, sharing this build's budgets.
    fn remote_child<'b>(&'b self, fs: &'b dyn FileSystem, repo: &RepoSpec) -> Loader<'b> {
        Loader {
            fs,
            root: fs.root().to_path_buf(),
            budget: self.budget,
            vars: self.vars,
            configs: self.configs,
            openapi: self.openapi,
            meta: self.meta,
            charts: self.charts,
            remote: remote::RemoteContext {
                label: Some((
                    remote::redact(&repo.clone_url),
                    repo.reference
                        .as_ref()
                        .map(|r| format!("?ref={r}"))
                        .unwrap_or_default(),
                )),
                depth: self.remote.depth + 1,
                ..self.remote.clone()
            },
        }
    }

    /// Counts new resources against the budget and refuses overly nested ones.
    fn admit(&self, resources: &[Resource], file: &str) -> Result<(), BuildError> {
        let err = |m: String| BuildError::new(file, m);
        self.budget.resources(resources.len()).map_err(err)?;
        for r in resources {
            let m =
                limits::nested(&r.value, &format!("{} {:?}", r.kind(), r.name())).map_err(err)?;
            self.budget.charge(m.bytes).map_err(err)?;
        }
        Ok(())
    }

    /// `path` (a file the engine found itself, e.g. a kustomization file or a directory
    /// entry) resolved and checked to lie inside the root, before anything reads it.
    fn confined(&self, path: &Path) -> Result<PathBuf, BuildError> {
        let shown = self.display(path);
        let canonical = self
            .fs
            .canonicalize(path)
            .map_err(|e| BuildError::new(&shown, e.to_string()))?;
        if !self.inside(&canonical) {
            return Err(BuildError::new(
                &shown,
                "resolves outside the build root: references may not leave the source tree",
            ));
        }
        Ok(canonical)
    }

    fn display(&self, p: &Path) -> String {
        match (p.strip_prefix(&self.root), &self.remote.label) {
            (Ok(rel), Some((repo, query))) => format!("{repo}//{}{query}", rel.display()),
            (Ok(rel), None) => rel.display().to_string(),
            (Err(_), _) => p.display().to_string(),
        }
    }

    /// `dir` as an entry of the stack of kustomizations being loaded: qualified by the
    /// remote tree it is in, so that directories of different trees never compare equal.
    fn stack_key(&self, dir: &Path) -> PathBuf {
        match &self.remote.label {
            Some(_) => PathBuf::from(self.display(dir)),
            None => dir.to_path_buf(),
        }
    }

    /// True when the canonical path `p` lies in the root (an in-memory path that climbed
    /// above it keeps a leading `..`).
    fn inside(&self, p: &Path) -> bool {
        p.starts_with(&self.root) && !p.components().any(|c| c == Component::ParentDir)
    }

    /// Resolves `rel` against `dir` and checks that it stays inside the root.
    fn resolve(&self, dir: &Path, rel: &str) -> Result<PathBuf, String> {
        let joined = dir.join(rel);
        let canonical = self
            .fs
            .canonicalize(&joined)
            .map_err(|e| format!("{rel:?}: {e}"))?;
        if !self.inside(&canonical) {
            return Err(format!(
                "{rel:?} is outside the build root: references may not leave the source tree"
            ));
        }
        Ok(canonical)
    }

    /// Reads a file that must be in or below the kustomization directory `dir`, as
    /// Kustomize's default load restrictions require for patches and generator inputs.
    ///
    /// # Errors
    /// Missing files and files outside `dir`.
    pub(crate) fn read_local(&self, dir: &Path, rel: &str) -> Result<Vec<u8>, BuildError> {
        let file = self.display(dir);
        if Path::new(rel).is_absolute() {
            return Err(BuildError::new(
                &file,
                format!("{rel:?}: absolute paths are not allowed"),
            ));
        }
        let path = self
            .resolve(dir, rel)
            .map_err(|m| BuildError::new(&file, m))?;
        if !path.starts_with(dir) {
            return Err(BuildError::new(
                &file,
                format!("security: file {rel:?} is not in or below {file:?}"),
            ));
        }
        self.fs
            .read(&path)
            .map_err(|e| BuildError::new(&file, format!("{rel:?}: {e}")))
    }

    fn read_text(&self, path: &Path) -> Result<String, BuildError> {
        let path = self.confined(path)?;
        self.fs
            .read_to_string(&path)
            .map_err(|e| BuildError::new(&self.display(&path), e.to_string()))
    }
}

/// Builds the kustomization in `dir` on disk; every file read must lie under `root`.
///
/// # Errors
/// The first error met, naming its file.
pub fn build(root: &Path, dir: &Path) -> Result<Vec<Value>, BuildError> {
    build_with(root, dir, None, false)
}

/// [`build_in`] over the directory tree on disk below `root`: `dir` (absolute, or relative
/// to the working directory) must lie under `root`, and so must every file the build reads.
///
/// # Errors
/// A missing `root`, and the first build error met, naming its file.
pub fn build_with(
    root: &Path,
    dir: &Path,
    overrides: Option<&Kustomization>,
    synthesize: bool,
) -> Result<Vec<Value>, BuildError> {
    let fs = DiskFs::new(root)
        .map_err(|e| BuildError::new(&root.display().to_string(), format!("build root: {e}")))?;
    build_in(&fs, dir, overrides, synthesize)
}

/// Builds `dir` of `fs`, then applies `overrides` on top as if it were a kustomization whose
/// only resource is `dir` (its `components` are relative to `dir`). With `synthesize`, a
/// `dir` without a kustomization file is built from every Kubernetes manifest below it.
///
/// # Errors
/// The first error met, naming its file.
pub fn build_in(
    fs: &dyn FileSystem,
    dir: &Path,
    overrides: Option<&Kustomization>,
    synthesize: bool,
) -> Result<Vec<Value>, BuildError> {
    build_with_limits(fs, dir, overrides, synthesize, &BuildLimits::default())
}

/// [`build_in`] within `limits` (see [the crate docs](crate#hostile-trees)); the other
/// entry points use [`BuildLimits::default`].
///
/// # Errors
/// As [`build_in`], and a limit exceeded, naming the file being processed.
pub fn build_with_limits(
    fs: &dyn FileSystem,
    dir: &Path,
    overrides: Option<&Kustomization>,
    synthesize: bool,
    limits: &BuildLimits,
) -> Result<Vec<Value>, BuildError> {
    build_with_remote(fs, dir, overrides, synthesize, limits, None)
}

/// [`build_with_limits`], fetching remote bases and resources (see [`remote`]) through
/// `remote`. Without one (and in every other entry point) a remote entry fails the build
/// with [`ErrorKind::RemoteDisabled`].
///
/// # Errors
/// As [`build_with_limits`], and remote targets that cannot be fetched
/// ([`ErrorKind::RemoteFetch`]) or are malformed ([`ErrorKind::RemoteInvalid`]), naming the
/// entry and the kustomization file listing it.
pub fn build_with_remote(
    fs: &dyn FileSystem,
    dir: &Path,
    overrides: Option<&Kustomization>,
    synthesize: bool,
    limits: &BuildLimits,
    remote: Option<&dyn RemoteLoader>,
) -> Result<Vec<Value>, BuildError> {
    build_with_options(
        fs,
        dir,
        &BuildOptions {
            overrides,
            synthesize,
            limits: Some(limits),
            remote,
            charts: None,
        },
    )
}

/// Everything a build may be given besides its tree, for [`build_with_options`]. The
/// default is what [`build_in`] does: no overrides, no synthesized kustomization, default
/// limits, no remote fetches, no Helm charts rendered.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// A Flux Kustomization spec's fields applied on top (see [`build_in`]).
    pub overrides: Option<&'a Kustomization>,
    /// Build a directory without kustomization file from its manifests (see [`build_in`]).
    pub synthesize: bool,
    /// The build's limits; `None` is [`BuildLimits::default`].
    pub limits: Option<&'a BuildLimits>,
    /// Fetches remote bases and resources (see [`build_with_remote`]).
    pub remote: Option<&'a dyn RemoteLoader>,
    /// Renders `helmCharts` (see [`helmcharts`]); without one they are refused.
    pub charts: Option<&'a dyn ChartInflator>,
}

/// Builds `dir` of `fs` with `options`: [`build_with_remote`] that may also render
/// `helmCharts` through [`BuildOptions::charts`].
///
/// # Errors
/// As [`build_with_remote`], and a chart that is missing, outside the kustomization's
/// directory, or that the inflator fails to render, naming the kustomization file.
pub fn build_with_options(
    fs: &dyn FileSystem,
    dir: &Path,
    options: &BuildOptions<'_>,
) -> Result<Vec<Value>, BuildError> {
    let BuildOptions {
        overrides,
        synthesize,
        limits,
        remote,
        charts,
    } = *options;
    let default_limits = BuildLimits::default();
    let shared = Shared::new(limits.unwrap_or(&default_limits));
    let loader = Loader::new(fs, &shared, remote, charts);
    let dir = fs
        .canonicalize(dir)
        .map_err(|e| BuildError::new(&dir.display().to_string(), e.to_string()))?;
    if !loader.inside(&dir) {
        return Err(BuildError::new(
            &dir.display().to_string(),
            "the kustomization is outside the build root",
        ));
    }
    let mut stack = Vec::new();
    let (k, mut resources) = if synthesize && kustomization::find(fs, &dir).is_none() {
        (Box::default(), synthesized(&loader, &dir, &mut stack)?)
    } else {
        accumulate(&loader, &dir, &mut stack, Vec::new(), false)?
    };
    if let Some(o) = overrides {
        let file = "spec";
        for entry in &o.components {
            let comp_dir = entry_dir(&loader, &dir, file, entry)?;
            let (_, out) = accumulate(
                &loader,
                &comp_dir,
                &mut stack,
                std::mem::take(&mut resources),
                true,
            )?;
            resources = out;
        }
        transform::apply(o, &loader, &dir, file, &mut resources)?;
    }
    finish(&loader, &dir, resources, k.sort_options.as_ref())
}

/// Builds `resources` as a kustomization that lists them as its resources would: what a Helm
/// post-renderer does with a rendered chart. `kustomization` usually lists no resources of
/// its own (any it lists are loaded from `fs` and added after `resources`); its components,
/// generators and transformers (patches, images, namespace, prefix and suffix, labels,
/// annotations, replicas, replacements) apply to all of them, then name references are
/// rewritten and the result sorted as Kustomize does. Files it names (patch files, generator
/// inputs, components) are read from the root of `fs`.
///
/// # Errors
/// Objects without kind or name, duplicate objects, and the first build error met.
pub fn build_resources(
    resources: Vec<Value>,
    kustomization: &Kustomization,
    fs: &dyn FileSystem,
) -> Result<Vec<Value>, BuildError> {
    build_resources_with_limits(resources, kustomization, fs, &BuildLimits::default())
}

/// [`build_resources`] within `limits`.
///
/// # Errors
/// As [`build_resources`], and a limit exceeded.
pub fn build_resources_with_limits(
    resources: Vec<Value>,
    kustomization: &Kustomization,
    fs: &dyn FileSystem,
    limits: &BuildLimits,
) -> Result<Vec<Value>, BuildError> {
    let shared = Shared::new(limits);
    let loader = Loader::new(fs, &shared, None, None);
    if let Some(m) = resources
        .iter()
        .map(limits::measure)
        .find(|m| m.depth > MAX_NESTING)
    {
        resources.into_iter().for_each(limits::dispose);
        return Err(BuildError::new(
            "resources",
            format!(
                "an object is nested {} levels deep, more than the limit of {MAX_NESTING} \
                 (MAX_NESTING)",
                m.depth
            ),
        ));
    }
    let dir = loader.root.clone();
    let file = "kustomization";
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for value in resources {
        let res = checked(value).map_err(|m| BuildError::new("resources", m))?;
        loader.admit(std::slice::from_ref(&res), "resources")?;
        add_unique(&mut out, &mut seen, res, "resources")?;
    }
    let mut stack = vec![dir.clone()];
    loader.meta.set(buildmeta::Options::of(kustomization));
    openapi::choose(&loader, &dir, file, kustomization.openapi.as_ref())?;
    configurations::load(
        &loader,
        &dir,
        file,
        &kustomization.configurations,
        &kustomization.crds,
    )?;
    let out = expand(&loader, &dir, file, None, kustomization, &mut stack, out)?;
    finish(&loader, &dir, out, kustomization.sort_options.as_ref())
}

/// The end of every build: content-hash suffixes, name references, annotations as strings,
/// Kustomize's order.
fn finish(
    loader: &Loader<'_>,
    dir: &Path,
    mut resources: Vec<Resource>,
    sort_options: Option<&kustomization::SortOptions>,
) -> Result<Vec<Value>, BuildError> {
    let meta = loader.meta.get();
    if meta.origin {
        for res in &mut resources {
            annotate_origin(res, dir);
        }
    }
    buildmeta::annotate(meta, dir, &mut resources);
    for res in resources.iter_mut().filter(|r| r.needs_hash) {
        let name = format!("{}-{}", res.name(), generators::content_hash(&res.value));
        res.set_name(&name);
    }
    let config = loader.configs.current();
    nameref::fix(&mut resources, &config.name_reference)
        .map_err(|m| BuildError::new(&loader.display(dir), m))?;
    vars::resolve(
        loader.vars,
        &config.var_reference,
        &mut resources,
        loader.budget,
        &loader.display(dir),
    )?;
    for res in &mut resources {
        stringify_annotations(&mut res.value);
    }
    order::sort(&mut resources, sort_options);
    Ok(resources.into_iter().map(|r| r.value).collect())
}

/// Every Kubernetes manifest below `dir` (files with `apiVersion` and `kind`), in path
/// order; subdirectories with their own kustomization are built as such.
fn synthesized(
    loader: &Loader<'_>,
    dir: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<Resource>, BuildError> {
    enter(loader, dir, stack)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut entries: Vec<PathBuf> = loader
        .fs
        .read_dir(dir)
        .map_err(|e| BuildError::new(&loader.display(dir), e.to_string()))?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let found: Vec<Resource> = if loader.fs.is_dir(&path) {
            let path = loader.confined(&path)?;
            if kustomization::find(loader.fs, &path).is_some() {
                accumulate(loader, &path, stack, Vec::new(), false)?.1
            } else {
                synthesized(loader, &path, stack)?
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            let shown = loader.display(&path);
            let text = loader.read_text(&path)?;
            let docs = weir_yaml::from_str_multi(&text)
                .map_err(|e| BuildError::new(&shown, format!("malformed YAML: {e}")))?;
            let manifests = docs
                .iter()
                .all(|d| d.is_null() || (d.get("apiVersion").is_some() && d.get("kind").is_some()));
            if !manifests {
                continue;
            }
            let found = parse_resources(&text).map_err(|m| BuildError::new(&shown, m))?;
            loader.admit(&found, &shown)?;
            found
        } else {
            continue;
        };
        for res in found {
            add_unique(&mut out, &mut seen, res, &loader.display(dir))?;
        }
    }
    stack.pop();
    Ok(out)
}

/// Pushes `dir` on the stack of kustomizations being loaded, refusing a cycle, a chain
/// deeper than [`MAX_DEPTH`] and a spent budget.
fn enter(loader: &Loader<'_>, dir: &Path, stack: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let shown = loader.display(dir);
    let key = loader.stack_key(dir);
    if let Some(pos) = stack.iter().position(|d| *d == key) {
        let cycle: Vec<String> = stack[pos..]
            .iter()
            .chain([&dir.to_path_buf()])
            .map(|d| loader.display(d))
            .collect();
        return Err(BuildError::new(
            &shown,
            format!("cycle between kustomizations: {}", cycle.join(" -> ")),
        ));
    }
    if stack.len() >= MAX_DEPTH {
        let names: Vec<String> = stack
            .iter()
            .chain([&dir.to_path_buf()])
            .map(|d| loader.display(d))
            .map(|d| if d.is_empty() { ".".to_string() } else { d })
            .collect();
        let chain = format!(
            "{} -> ... -> {}",
            names[..3].join(" -> "),
            names[names.len() - 3..].join(" -> ")
        );
        return Err(BuildError::new(
            &shown,
            format!("kustomizations are nested more than {MAX_DEPTH} deep (MAX_DEPTH): {chain}"),
        ));
    }
    loader
        .budget
        .kustomization()
        .map_err(|m| BuildError::new(&shown, m))?;
    stack.push(key);
    Ok(())
}

/// Loads the kustomization in `dir` and everything it includes.
///
/// This, [`expand`], [`load_entries`] and [`load_entry`] recurse once per nested
/// kustomization (at most [`MAX_DEPTH`] deep), so they keep their frames small: the work
/// of each level is done in helpers that return before the recursion goes on.
fn accumulate(
    loader: &Loader<'_>,
    dir: &Path,
    stack: &mut Vec<PathBuf>,
    resources: Vec<Resource>,
    as_component: bool,
) -> Result<(Box<Kustomization>, Vec<Resource>), BuildError> {
    let (path, file, k) = open_kustomization(loader, dir, stack, as_component)?;
    let resources = expand(loader, dir, &file, Some(&path), &k, stack, resources)?;
    loader.configs.leave(as_component, &file)?;
    Ok((k, resources))
}

/// Enters `dir` (see [`enter`]), then reads, parses and checks its kustomization file.
#[inline(never)]
fn open_kustomization(
    loader: &Loader<'_>,
    dir: &Path,
    stack: &mut Vec<PathBuf>,
    as_component: bool,
) -> Result<(PathBuf, String, Box<Kustomization>), BuildError> {
    let shown = loader.display(dir);
    enter(loader, dir, stack)?;
    let path = kustomization::find(loader.fs, dir).ok_or_else(|| {
        BuildError::new(
            &shown,
            "no kustomization.yaml, kustomization.yml or Kustomization file in this directory",
        )
    })?;
    if kustomization::count(loader.fs, dir) > 1 {
        return Err(BuildError::new(
            &shown,
            "Found multiple kustomization files in this directory (kubectl refuses to choose)",
        ));
    }
    let file = loader.display(&path);
    let text = loader.read_text(&path)?;
    let k = kustomization::parse(&path, &text).map_err(|e| BuildError::new(&file, e.message))?;
    if stack.len() == 1 {
        loader.meta.set(buildmeta::Options::of(&k));
    }
    let is_component = k.kind.as_deref() == Some("Component");
    if as_component && !is_component {
        return Err(BuildError::new(
            &file,
            "listed under components but its kind is not Component",
        ));
    }
    // A Component given as the build root builds like a Kustomization, as in kubectl.
    if !as_component && is_component && stack.len() > 1 {
        return Err(BuildError::new(
            &file,
            "is a Component: list it under components, not resources",
        ));
    }
    openapi::choose(loader, dir, &file, k.openapi.as_ref())?;
    loader.configs.enter(as_component);
    configurations::load(loader, dir, &file, &k.configurations, &k.crds)?;
    Ok((path, file, Box::new(k)))
}

/// Applies the kustomization `k` of `dir` (read from `path`, when it is a file) to
/// `resources`: its own resources, components, generators and transformers, then origin
/// annotations. `dir` is on top of `stack` and is popped once its entries are loaded.
fn expand(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    path: Option<&Path>,
    k: &Kustomization,
    stack: &mut Vec<PathBuf>,
    resources: Vec<Resource>,
) -> Result<Vec<Resource>, BuildError> {
    let resources = load_entries(loader, dir, file, k, stack, resources)?;
    stack.pop();
    transformed(loader, dir, file, path, k, resources)
}

/// The resources and components of `k`, loaded into `resources`.
fn load_entries(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    k: &Kustomization,
    stack: &mut Vec<PathBuf>,
    mut resources: Vec<Resource>,
) -> Result<Vec<Resource>, BuildError> {
    let mut seen: std::collections::HashSet<IdKey> = resources.iter().map(id_key).collect();
    for entry in k.resources.iter().chain(&k.bases) {
        let loaded = load_entry(loader, dir, file, entry, stack)?;
        add_all(&mut resources, &mut seen, loaded, file)?;
    }
    for entry in &k.components {
        let taken = std::mem::take(&mut resources);
        if let Some(target) = remote::parse(entry) {
            resources = load_remote(loader, file, entry, target, stack, taken, true)?;
            continue;
        }
        let comp_dir = entry_dir(loader, dir, file, entry)?;
        let (_, out) = accumulate(loader, &comp_dir, stack, taken, true)?;
        resources = out;
    }
    Ok(resources)
}

#[inline(never)]
fn add_all(
    resources: &mut Vec<Resource>,
    seen: &mut std::collections::HashSet<IdKey>,
    loaded: Vec<Resource>,
    file: &str,
) -> Result<(), BuildError> {
    for res in loaded {
        add_unique(resources, seen, res, file)?;
    }
    Ok(())
}

/// The generators and transformers of `k` over its loaded `resources`.
#[inline(never)]
fn transformed(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    path: Option<&Path>,
    k: &Kustomization,
    mut resources: Vec<Resource>,
) -> Result<Vec<Resource>, BuildError> {
    let file = file.to_string();
    for (kind, gens) in [
        (GenKind::ConfigMap, &k.config_map_generator),
        (GenKind::Secret, &k.secret_generator),
    ] {
        for g in gens {
            let mut res =
                generators::generate(loader, dir, &file, kind, g, k.generator_options.as_ref())?;
            loader.admit(std::slice::from_ref(&res), &file)?;
            res.origin = Some(resource::Origin::Generator {
                kustomization: path.map_or_else(|| dir.join(&file), Path::to_path_buf),
                kind: if kind == GenKind::ConfigMap {
                    "ConfigMapGenerator"
                } else {
                    "SecretGenerator"
                },
            });
            apply_generated(
                &mut resources,
                res,
                g.behavior.as_deref().unwrap_or("create"),
                &file,
            )?;
        }
    }
    // Kustomize's built-in generators run in this order: ConfigMaps, Secrets, Helm charts.
    let kustomization = path.map_or_else(|| dir.join(&file), Path::to_path_buf);
    let charts = helmcharts::inflate_all(
        loader,
        dir,
        &file,
        &kustomization,
        &k.helm_charts,
        k.helm_globals.as_ref(),
    )?;
    let mut seen: std::collections::HashSet<IdKey> = resources.iter().map(id_key).collect();
    add_all(&mut resources, &mut seen, charts, &file)?;
    plugins::run(
        loader,
        dir,
        &file,
        plugins::Stage::Generators,
        &k.generators,
        &mut resources,
    )?;
    transform::apply(k, loader, dir, &file, &mut resources)?;
    let kustomization = path.map_or_else(|| dir.join(&file), Path::to_path_buf);
    buildmeta::record_fields(loader.meta.get(), &kustomization, k, &mut resources);
    plugins::run(
        loader,
        dir,
        &file,
        plugins::Stage::Transformers,
        &k.transformers,
        &mut resources,
    )?;
    plugins::run(
        loader,
        dir,
        &file,
        plugins::Stage::Validators,
        &k.validators,
        &mut resources,
    )?;
    vars::declare(loader.vars, &k.vars, &mut resources, &file)?;
    Ok(resources)
}

const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// Records where a resource came from, relative to the root kustomization.
fn annotate_origin(res: &mut Resource, dir: &Path) {
    let text = match &res.origin {
        Some(resource::Origin::File(path)) => format!("path: {}\n", relative(dir, path)),
        Some(resource::Origin::Plugin {
            configured_in,
            kind,
            name,
            namespace,
        }) => buildmeta::Record {
            configured_in: configured_in.clone(),
            kind: kind.clone(),
            name: name.clone(),
            namespace: namespace.clone(),
        }
        .text(dir, ""),
        Some(resource::Origin::Generator {
            kustomization,
            kind,
        }) => format!(
            "configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n",
            relative(dir, kustomization)
        ),
        Some(resource::Origin::Remote {
            repo,
            reference,
            path,
            generator,
        }) => {
            let reference = reference
                .as_ref()
                .map(|r| format!("ref: {r}\n"))
                .unwrap_or_default();
            match generator {
                None => format!("path: {path}\nrepo: {repo}\n{reference}"),
                Some(kind) => format!(
                    "repo: {repo}\n{reference}configuredIn: {path}\nconfiguredBy:\n  \
                     apiVersion: builtin\n  kind: {kind}\n"
                ),
            }
        }
        None => return,
    };
    let meta = resource::metadata(&mut res.value);
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(a) = annotations {
        a.entry(ORIGIN_ANNOTATION).or_insert(Value::String(text));
    }
}

/// `path` relative to `dir`, with `..` where needed.
pub(crate) fn relative(dir: &Path, path: &Path) -> String {
    let d: Vec<_> = dir.components().collect();
    let p: Vec<_> = path.components().collect();
    let common = d.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), d.len() - common).collect();
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    parts.join("/")
}

/// Kustomize stores annotations as strings: whatever a patch or the source put there is
/// printed as text.
fn stringify_annotations(value: &mut Value) {
    if let Some(Value::Object(annotations)) = value.pointer_mut("/metadata/annotations") {
        for v in annotations.values_mut() {
            if !v.is_string() {
                let text = weir_yaml::scalar_text(v);
                *v = Value::String(text);
            }
        }
    }
}

/// Loads the remote entry `entry` of the kustomization `file` (a resource, or a component
/// applied to `resources`) through the build's [`RemoteLoader`]: an HTTP(S) URL that answers
/// with a file of resources is that file; otherwise the Git repository is fetched and the
/// kustomization at its path built, confined to the repository, sharing the build's budgets.
#[inline(never)]
fn load_remote(
    loader: &Loader<'_>,
    file: &str,
    entry: &str,
    target: Result<remote::Target, String>,
    stack: &mut Vec<PathBuf>,
    resources: Vec<Resource>,
    as_component: bool,
) -> Result<Vec<Resource>, BuildError> {
    let what = if as_component {
        "component"
    } else {
        "resource"
    };
    let shown = remote::redact(entry);
    let err = |kind: ErrorKind, m: &dyn std::fmt::Display| {
        BuildError::new(file, format!("remote {what} {shown:?}: {m}")).with_kind(kind)
    };
    let fetch_err = |e: RemoteError| {
        let kind = match e {
            RemoteError::Refused(_) => ErrorKind::RemoteInvalid,
            _ => ErrorKind::RemoteFetch,
        };
        err(kind, &e)
    };
    let target = target.map_err(|m| err(ErrorKind::RemoteInvalid, &m))?;
    let Some(fetcher) = loader.remote.loader else {
        return Err(err(
            ErrorKind::RemoteDisabled,
            &"remote bases and resources are disabled for this build: vendor it into the \
              repository",
        ));
    };
    loader
        .remote
        .admit()
        .map_err(|m| err(ErrorKind::RemoteInvalid, &m))?;
    let repo = match target {
        remote::Target::Git(repo) => repo,
        remote::Target::Http { url, repo } if !as_component => match (fetcher.file(&url), repo) {
            (Ok(bytes), repo) => match remote_file(&bytes) {
                Ok(found) => {
                    loader.admit(&found, &format!("{file}: {shown}"))?;
                    return Ok(found);
                }
                // As in Kustomize: what is no file of resources may be a repository.
                Err(m) => repo.ok_or_else(|| err(ErrorKind::Build, &m))?,
            },
            (Err(RemoteError::Refused(m)), _) => {
                return Err(err(ErrorKind::RemoteInvalid, &m));
            }
            (Err(_), Some(repo)) => repo,
            (Err(e), None) => return Err(fetch_err(e)),
        },
        remote::Target::Http { repo, .. } => repo.ok_or_else(|| {
            err(
                ErrorKind::RemoteInvalid,
                &"a component must be a directory of a Git repository",
            )
        })?,
    };
    let fs = fetcher.repository(&repo).map_err(fetch_err)?;
    let child = loader.remote_child(&*fs, &repo);
    let dir = child.root.join(&repo.path);
    let dir = match child.fs.canonicalize(&dir) {
        Ok(d) if child.inside(&d) && child.fs.is_dir(&d) => d,
        _ => {
            return Err(err(
                ErrorKind::Build,
                &format!(
                    "{:?} is not a directory of the repository {}",
                    repo.path,
                    repo.display()
                ),
            ));
        }
    };
    let (_, mut out) = accumulate(&child, &dir, stack, resources, as_component)?;
    for res in &mut out {
        remote_origin(res, &child.root, &repo);
    }
    Ok(out)
}

/// The resources of a file fetched from a URL.
fn remote_file(bytes: &[u8]) -> Result<Vec<Resource>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8".to_string())?;
    parse_resources(text)
}

/// Rewrites the origin of a resource read or generated in the fetched tree `root` of `repo`
/// to name the repository, its ref and the path in it.
fn remote_origin(res: &mut Resource, root: &Path, repo: &RepoSpec) {
    let (path, generator) = match &res.origin {
        Some(resource::Origin::File(p)) => (p, None),
        Some(resource::Origin::Generator {
            kustomization,
            kind,
        }) => (kustomization, Some(*kind)),
        _ => return,
    };
    let Ok(rel) = path.strip_prefix(root) else {
        return;
    };
    res.origin = Some(resource::Origin::Remote {
        repo: remote::redact(&repo.clone_url),
        reference: repo.reference.clone(),
        path: rel.display().to_string(),
        generator,
    });
}

fn entry_dir(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    entry: &str,
) -> Result<PathBuf, BuildError> {
    if remote::parse(entry).is_some() {
        return Err(BuildError::new(
            file,
            format!(
                "component {:?}: remote components are only read from a kustomization's \
                 components",
                remote::redact(entry)
            ),
        )
        .with_kind(ErrorKind::RemoteInvalid));
    }
    let path = loader
        .resolve(dir, entry)
        .map_err(|m| BuildError::new(file, m))?;
    if !loader.fs.is_dir(&path) {
        return Err(BuildError::new(
            file,
            format!("{entry:?} is not a directory"),
        ));
    }
    Ok(path)
}

fn load_entry(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    entry: &str,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<Resource>, BuildError> {
    if let Some(target) = remote::parse(entry) {
        return load_remote(loader, file, entry, target, stack, Vec::new(), false);
    }
    let path = entry_path(loader, dir, file, entry)?;
    if loader.fs.is_dir(&path) {
        let (_, resources) = accumulate(loader, &path, stack, Vec::new(), false)?;
        return Ok(resources);
    }
    load_file(loader, dir, file, entry, path)
}

/// The resolved path of a `resources` entry.
#[inline(never)]
fn entry_path(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    entry: &str,
) -> Result<PathBuf, BuildError> {
    if Path::new(entry)
        .components()
        .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    {
        return Err(BuildError::new(
            file,
            format!("resource {entry:?}: absolute paths are not allowed"),
        ));
    }
    loader
        .resolve(dir, entry)
        .map_err(|m| BuildError::new(file, format!("resource {m}")))
}

/// The resources in the file `path` of a `resources` entry.
#[inline(never)]
fn load_file(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    entry: &str,
    path: PathBuf,
) -> Result<Vec<Resource>, BuildError> {
    if !path.starts_with(dir) {
        return Err(BuildError::new(
            file,
            format!(
                "security: file {entry:?} is not in or below {:?}",
                loader.display(dir)
            ),
        ));
    }
    let shown = loader.display(&path);
    let text = loader.read_text(&path)?;
    let mut resources = parse_resources(&text).map_err(|m| BuildError::new(&shown, m))?;
    loader.admit(&resources, &shown)?;
    for r in &mut resources {
        r.origin = Some(resource::Origin::File(path.clone()));
    }
    Ok(resources)
}

/// Parses a multi-document file into resources (`kind: List` expanded).
///
/// # Errors
/// Malformed YAML (line and column) or objects without kind or name.
pub fn parse_resources(text: &str) -> Result<Vec<Resource>, String> {
    let docs = weir_yaml::from_str_multi(text).map_err(|e| format!("malformed YAML: {e}"))?;
    let mut out = Vec::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Object(ref map) => {
                let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
                if kind == "List"
                    || (kind.ends_with("List") && map.get("items").is_some_and(Value::is_array))
                {
                    for item in map
                        .get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                    {
                        out.push(checked(item)?);
                    }
                } else {
                    out.push(checked(doc)?);
                }
            }
            other => return Err(format!("expected an object, found {other}")),
        }
    }
    Ok(out)
}

fn checked(value: Value) -> Result<Resource, String> {
    let res = Resource::new(value);
    if res.kind().is_empty() {
        return Err(format!("missing kind in object {}", brief(&res.value)));
    }
    if res.name().is_empty() {
        return Err(format!("missing metadata.name in {} object", res.kind()));
    }
    Ok(res)
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// Group, kind, name and namespace: what makes a resource unique in a build.
type IdKey = (String, String, String, String);

fn id_key(r: &Resource) -> IdKey {
    let (group, _, kind) = r.gvk();
    (
        group.to_string(),
        kind.to_string(),
        r.name().to_string(),
        r.namespace().to_string(),
    )
}

fn add_unique(
    resources: &mut Vec<Resource>,
    seen: &mut std::collections::HashSet<IdKey>,
    res: Resource,
    file: &str,
) -> Result<(), BuildError> {
    if !seen.insert(id_key(&res)) {
        return Err(BuildError::new(
            file,
            format!(
                "may not add resource with an already registered id: {}",
                res.id()
            ),
        ));
    }
    resources.push(res);
    Ok(())
}

fn apply_generated(
    resources: &mut Vec<Resource>,
    res: Resource,
    behavior: &str,
    file: &str,
) -> Result<(), BuildError> {
    let (name, ns) = (res.name().to_string(), res.namespace().to_string());
    // As Kustomize's resource ids do, no namespace and `default` are the same namespace.
    let same_ns =
        |a: &str| a == ns || (matches!(a, "" | "default") && matches!(ns.as_str(), "" | "default"));
    let existing = resources.iter().position(|r| {
        r.kind() == res.kind()
            && r.original().0 == name
            && (same_ns(r.namespace()) || same_ns(&r.original().1))
    });
    match (behavior, existing) {
        ("create", None) => {
            resources.push(res);
            Ok(())
        }
        ("create", Some(_)) => Err(BuildError::new(
            file,
            format!(
                "{} {name:?} already exists: use behavior merge or replace",
                res.kind()
            ),
        )),
        ("merge" | "replace", None) => Err(BuildError::new(
            file,
            format!(
                "{} {name:?} with behavior {behavior} has no existing object to {behavior}",
                res.kind()
            ),
        )),
        // As Kustomize: the new object replaces the old one, keeping the old one's name and
        // namespace and under its labels and annotations; `merge` keeps its data under too.
        (behavior @ ("merge" | "replace"), Some(i)) => {
            let target = &mut resources[i];
            let mut value = res.value.clone();
            let under = |v: &Value, old: Option<&Value>| match (old, v) {
                (Some(Value::Object(old)), Value::Object(new)) => {
                    let mut m = old.clone();
                    m.extend(new.clone());
                    Value::Object(m)
                }
                _ => v.clone(),
            };
            if behavior == "merge" {
                for field in ["data", "binaryData"] {
                    if let Some(old) = target.value.get(field) {
                        let merged = value
                            .get(field)
                            .map_or(old.clone(), |v| under(v, Some(old)));
                        if let Some(o) = value.as_object_mut() {
                            o.insert(field.into(), merged);
                        }
                    }
                }
            }
            let old_meta = target.value.get("metadata").cloned().unwrap_or_default();
            let meta = resource::metadata(&mut value);
            for field in ["labels", "annotations"] {
                if let Some(old) = old_meta.get(field) {
                    let merged = meta.get(field).map_or(old.clone(), |v| under(v, Some(old)));
                    meta.insert(field.into(), merged);
                }
            }
            meta.insert("name".into(), Value::String(target.name().to_string()));
            match target.namespace() {
                "" => meta.remove("namespace"),
                ns => meta.insert("namespace".into(), Value::String(ns.to_string())),
            };
            target.value = value;
            target.needs_hash = if behavior == "merge" {
                target.needs_hash && res.needs_hash
            } else {
                res.needs_hash
            };
            Ok(())
        }
        // Kustomize reads any other behavior as unspecified, which creates.
        (_, None) => {
            resources.push(res);
            Ok(())
        }
        (_, Some(_)) => Err(BuildError::new(
            file,
            format!(
                "{} {name:?} already exists: use behavior merge or replace",
                res.kind()
            ),
        )),
    }
}
