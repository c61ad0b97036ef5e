//! Chart packages (`.tgz`) as `helm package` makes them, with reproducible bytes; the values
//! merge of a HelmChart's `valuesFiles`; and the check of a downloaded chart archive.
//!
//! What goes into a package is what Helm's `chartutil.Save` writes for the loaded chart
//! (recorded with helm 4.1.4 `helm package`):
//!
//! - every file under a `<chart name>/` folder, `.helmignore` applied (with Helm's default
//!   `templates/.?*`);
//! - subcharts under `charts/` kept, each written out as a folder named after the subchart
//!   (`charts/sub-1.0.0.tgz` becomes `charts/sub/...`, as helm does), subcharts whose folder
//!   starts with `_` or `.` left out, `charts/*.prov` kept;
//! - `apiVersion: v2`: `requirements.yaml` left out and the lock written as `Chart.lock`;
//!   `apiVersion: v1`: `Chart.lock` left out, `requirements.yaml`/`requirements.lock` kept;
//! - `values.schema.json` must be valid JSON.
//!
//! Unlike Helm, file bytes are kept as written: `Chart.yaml` is rewritten (as Helm marshals
//! it, [`chart_yaml`]) only when the version changes, and `values.yaml` only when replaced.
//! Entries are `Chart.yaml` first and then sorted, with mtime 0, mode 0644, uid/gid 0 and no
//! owner names, so the same input always gives the same sha256.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::chart::archive::{Limits, read_archive};
use crate::chart::ignore::Rules;
use crate::chart::load::MAX_DIR_FILES;
use crate::chart::values::{check_depth, merge_maps, to_float64};
use crate::chart::{Chart, File, LoadError, Metadata, Values, load_files};
use crate::sprig::semver::Version;

/// What to change while packaging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackageOptions {
    /// Replaces `values.yaml` (written as YAML, keys sorted, as Flux writes merged
    /// `valuesFiles`; an empty map writes an empty file). A chart without `values.yaml` gets
    /// one (Flux refuses such a chart; Helm does not need the file).
    pub values_override: Option<Values>,
    /// The package's version, as `helm package --version` sets it. `Chart.yaml` is rewritten
    /// only when this differs from the chart's version. See [`version_with_metadata`] for
    /// Flux's `<version>+<metadata>` rule.
    pub version: Option<String>,
}

/// A packaged chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackagedChart {
    /// Chart name.
    pub name: String,
    /// Version in the package's `Chart.yaml`.
    pub version: String,
    /// The `.tgz`.
    pub bytes: Vec<u8>,
}

impl PackagedChart {
    /// The file name `helm package` gives it: `<name>-<version>.tgz`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.tgz", self.name, self.version)
    }
}

/// A chart that cannot be packaged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// A file of the chart directory cannot be read.
    #[error("{0}")]
    Read(String),
    /// `.helmignore` is not valid.
    #[error(".helmignore: {0}")]
    Ignore(String),
    /// The chart does not load (Helm's message).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The requested version is not semver.
    #[error("version {version:?} is not a semantic version: {reason}")]
    Version {
        /// The version asked for.
        version: String,
        /// Why.
        reason: String,
    },
    /// Build metadata that semver does not allow.
    #[error(
        "invalid version metadata {metadata:?}: only dot-separated [0-9A-Za-z-] identifiers are allowed"
    )]
    Metadata {
        /// The metadata asked for.
        metadata: String,
    },
    /// `values.schema.json` is not JSON.
    #[error("invalid JSON in {path}: {reason}")]
    Schema {
        /// The schema's path in the package.
        path: String,
        /// The JSON parser's message.
        reason: String,
    },
    /// A chart name that cannot be a folder in the archive.
    #[error("{0:?} is not a valid chart name")]
    InvalidName(String),
    /// Two subcharts that would be written to the same folder.
    #[error("two subcharts would both be written to {0}: give them distinct names")]
    Duplicate(String),
    /// Writing the archive failed.
    #[error("writing the chart archive: {0}")]
    Write(String),
}

/// A values file that cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unmarshaling values from '{file}' failed: {message}")]
pub struct ValuesFileError {
    /// The file's name as given.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

impl From<ValuesFileError> for String {
    fn from(e: ValuesFileError) -> String {
        e.to_string()
    }
}

/// Flux's version rule for `VersionMetadata`: the chart version parsed as semver, its build
/// metadata *replaced* by `metadata` (Masterminds `SetMetadata`), printed normalised
/// (`v1.2` + `abc` is `1.2.0+abc`; `1.0.0+old` + `new` is `1.0.0+new`). An empty `metadata`
/// leaves the version as written.
///
/// # Errors
/// A version that is not semver, or metadata with characters semver does not allow.
pub fn version_with_metadata(version: &str, metadata: &str) -> Result<String, PackageError> {
    if metadata.is_empty() {
        return Ok(version.to_string());
    }
    let parsed = Version::parse(version).map_err(|e| PackageError::Version {
        version: version.to_string(),
        reason: e.to_string(),
    })?;
    let valid = metadata.split('.').all(|part| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !valid {
        return Err(PackageError::Metadata {
            metadata: metadata.to_string(),
        });
    }
    let mut out = format!("{}.{}.{}", parsed.major(), parsed.minor(), parsed.patch());
    if !parsed.prerelease().is_empty() {
        out.push('-');
        out.push_str(parsed.prerelease());
    }
    out.push('+');
    out.push_str(metadata);
    Ok(out)
}

/// The files of a chart directory as `helm package` reads them: `.helmignore` applied while
/// walking (ignored folders are not entered), names relative to `dir`, a UTF-8 byte-order
/// mark removed. Symbolic links are followed when they stay inside `dir`.
///
/// # Errors
/// An unreadable file, a link out of `dir`, an invalid `.helmignore`, or more than
/// [`MAX_DIR_FILES`] files or [`Limits::default`]'s unpacked bytes.
pub fn chart_dir_files(dir: &Path) -> Result<Vec<File>, PackageError> {
    chart_dir_files_within(dir, dir)
}

/// [`chart_dir_files`] with symbolic links allowed anywhere inside `root` (the source
/// artifact a chart directory is part of, so that a link to `../common` works).
///
/// # Errors
/// As [`chart_dir_files`]; a link resolving outside `root` is refused.
pub fn chart_dir_files_within(dir: &Path, root: &Path) -> Result<Vec<File>, PackageError> {
    let read_err =
        |p: &Path, e: std::io::Error| PackageError::Read(format!("{}: {e}", p.display()));
    let root = root.canonicalize().map_err(|e| read_err(root, e))?;
    let start = dir.canonicalize().map_err(|e| read_err(dir, e))?;
    if !start.starts_with(&root) {
        return Err(PackageError::Read(format!(
            "chart directory {} is outside {}",
            dir.display(),
            root.display()
        )));
    }
    let rules = match std::fs::read(start.join(".helmignore")) {
        Ok(bytes) => {
            Rules::parse(&String::from_utf8_lossy(&bytes)).map_err(PackageError::Ignore)?
        }
        Err(_) => Rules::default(),
    };
    let mut rules = rules;
    rules.add_defaults();
    let mut walk = Walk {
        root,
        rules,
        files: Vec::new(),
        budget: Limits::default().max_unpacked_bytes,
    };
    walk.dir(&start, "", 0)?;
    Ok(walk.files)
}

struct Walk {
    root: std::path::PathBuf,
    rules: Rules,
    files: Vec<File>,
    budget: u64,
}

impl Walk {
    fn dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), PackageError> {
        if depth > 64 {
            return Err(PackageError::Read(format!(
                "{} is nested too deeply (a symbolic link loop?)",
                dir.display()
            )));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| PackageError::Read(format!("{}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel_name = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let link = std::fs::symlink_metadata(&path)
                .map_err(|e| PackageError::Read(format!("{rel_name}: {e}")))?
                .file_type()
                .is_symlink();
            let target = if link {
                match path.canonicalize() {
                    Ok(t) if t.starts_with(&self.root) => t,
                    Ok(_) => {
                        if self.rules.ignore(&rel_name, false) {
                            continue;
                        }
                        return Err(PackageError::Read(format!(
                            "{rel_name} is a symbolic link to a path outside {}",
                            self.root.display()
                        )));
                    }
                    Err(_) => {
                        if self.rules.ignore(&rel_name, false) {
                            continue;
                        }
                        return Err(PackageError::Read(format!(
                            "error reading {rel_name}: broken link"
                        )));
                    }
                }
            } else {
                path.clone()
            };
            let meta = std::fs::metadata(&target)
                .map_err(|e| PackageError::Read(format!("{rel_name}: {e}")))?;
            if meta.is_dir() {
                if self.rules.ignore(&rel_name, true) {
                    continue;
                }
                self.dir(&target, &rel_name, depth + 1)?;
                continue;
            }
            if self.rules.ignore(&rel_name, false) {
                continue;
            }
            if !meta.is_file() {
                return Err(PackageError::Read(format!(
                    "cannot load irregular file {rel_name} as it has file mode type bits set"
                )));
            }
            if meta.len() > self.budget || self.files.len() >= MAX_DIR_FILES {
                return Err(PackageError::Read(format!(
                    "chart directory is larger than the maximum size {} bytes or {MAX_DIR_FILES} files",
                    Limits::default().max_unpacked_bytes
                )));
            }
            let mut data = std::fs::read(&target)
                .map_err(|e| PackageError::Read(format!("error reading {rel_name}: {e}")))?;
            self.budget = self.budget.saturating_sub(data.len() as u64);
            strip_bom(&mut data);
            self.files.push(File {
                name: rel_name,
                data,
            });
        }
        Ok(())
    }
}

fn strip_bom(data: &mut Vec<u8>) {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
}

/// Packages a chart directory ([`chart_dir_files`] then [`package_files`]).
///
/// # Errors
/// As both.
pub fn package_dir(dir: &Path, opts: &PackageOptions) -> Result<PackagedChart, PackageError> {
    package_files(chart_dir_files(dir)?, opts)
}

/// Packages a chart given as its files (names relative to the chart root, `/`-separated), as
/// `helm package` would package a directory holding them: `.helmignore` (if among the
/// files) is applied, the chart is loaded and validated as Helm loads it, then written as
/// described in the [module docs](self).
///
/// # Errors
/// An invalid `.helmignore`, a chart that does not load (Helm's message), an invalid
/// version, an invalid `values.schema.json`, subcharts that collide.
pub fn package_files(
    files: Vec<File>,
    opts: &PackageOptions,
) -> Result<PackagedChart, PackageError> {
    let files = apply_helmignore(files)?;
    let chart = load_files(files.clone())?;
    let mut metadata = chart.metadata.clone();
    let mut chart_yaml_override = None;
    if let Some(version) = opts.version.as_deref()
        && version != metadata.version
    {
        Version::parse(version).map_err(|e| PackageError::Version {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        metadata.version = version.to_string();
        chart_yaml_override = Some(chart_yaml(&metadata).into_bytes());
    }
    let values_override = opts.values_override.as_ref().map(|values| {
        if values.is_empty() {
            Vec::new()
        } else {
            weir_yaml::to_string(&Value::Object(values.clone())).into_bytes()
        }
    });
    let top = valid_name(&metadata.name)?;
    let mut entries = Vec::new();
    lay_out(
        &top,
        files,
        &chart,
        Some(Overrides {
            chart_yaml: chart_yaml_override,
            values: values_override,
        }),
        &mut entries,
    )?;
    let bytes = write_tgz(&top, entries)?;
    Ok(PackagedChart {
        name: metadata.name,
        version: metadata.version,
        bytes,
    })
}

fn apply_helmignore(mut files: Vec<File>) -> Result<Vec<File>, PackageError> {
    let mut rules = match files.iter().find(|f| f.name == ".helmignore") {
        Some(f) => Rules::parse(&String::from_utf8_lossy(&f.data)).map_err(PackageError::Ignore)?,
        None => Rules::default(),
    };
    rules.add_defaults();
    files.retain(|f| {
        let parts: Vec<&str> = f.name.split('/').collect();
        let dir_ignored = (1..parts.len()).any(|n| rules.ignore(&parts[..n].join("/"), true));
        !dir_ignored && !rules.ignore(&f.name, false)
    });
    for f in &mut files {
        strip_bom(&mut f.data);
    }
    Ok(files)
}

fn valid_name(name: &str) -> Result<String, PackageError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(PackageError::InvalidName(name.to_string()));
    }
    Ok(name.to_string())
}

struct Overrides {
    chart_yaml: Option<Vec<u8>>,
    values: Option<Vec<u8>>,
}

struct Entry {
    path: String,
    data: Vec<u8>,
}

/// Writes the files of one chart (and, recursively, its subcharts) under `prefix`, as
/// Helm's `Save` does for a loaded chart, keeping each file's bytes.
fn lay_out(
    prefix: &str,
    files: Vec<File>,
    chart: &Chart,
    overrides: Option<Overrides>,
    out: &mut Vec<Entry>,
) -> Result<(), PackageError> {
    let v1 = chart.metadata.api_version == "v1";
    let (mut chart_yaml_override, mut values_override) = match overrides {
        Some(o) => (o.chart_yaml, o.values),
        None => (None, None),
    };
    let mut push = |name: &str, data: Vec<u8>| {
        out.push(Entry {
            path: format!("{prefix}/{name}"),
            data,
        });
    };
    let mut lock_written = false;
    let mut subcharts: Vec<(String, Vec<File>)> = Vec::new();
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" => push("Chart.yaml", chart_yaml_override.take().unwrap_or(f.data)),
            "values.yaml" => push("values.yaml", values_override.take().unwrap_or(f.data)),
            "Chart.lock" | "requirements.lock" => {
                if v1 {
                    // Helm 2 charts keep requirements.lock as an ordinary file.
                    if f.name == "requirements.lock" {
                        push("requirements.lock", f.data);
                    }
                } else if !lock_written {
                    // The lock the loader kept (the last one), as Chart.lock.
                    if let Some(lock) = &chart.lock {
                        push("Chart.lock", lock.clone());
                    }
                    lock_written = true;
                }
            }
            "requirements.yaml" => {
                if v1 {
                    push("requirements.yaml", f.data);
                }
            }
            "values.schema.json" => {
                serde_json::from_slice::<Value>(&f.data).map_err(|e| PackageError::Schema {
                    path: format!("{prefix}/values.schema.json"),
                    reason: e.to_string(),
                })?;
                push("values.schema.json", f.data);
            }
            name if name.starts_with("charts/") && !name.ends_with(".prov") => {
                let rest = &name["charts/".len()..];
                let sub = rest.split('/').next().unwrap_or(rest).to_string();
                let file = File {
                    name: rest.to_string(),
                    data: f.data,
                };
                match subcharts.iter_mut().find(|(n, _)| *n == sub) {
                    Some((_, list)) => list.push(file),
                    None => subcharts.push((sub, vec![file])),
                }
            }
            name => {
                let name = name.to_string();
                push(&name, f.data);
            }
        }
    }
    if let Some(values) = values_override {
        push("values.yaml", values);
    }
    // The loader keeps subcharts in this same first-seen order, skipping `_` and `.` ones.
    let mut loaded = chart.dependencies.iter();
    for (name, group) in subcharts {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let Some(sub) = loaded.next() else {
            return Err(PackageError::Write(format!(
                "subchart {name} was not loaded"
            )));
        };
        let sub_files = if name.ends_with(".tgz") {
            let Some(archive) = group.into_iter().next() else {
                continue;
            };
            read_archive(&archive.data, Limits::default()).map_err(|e| {
                PackageError::Load(LoadError(format!(
                    "error unpacking subchart {name} in {}: {e}",
                    chart.metadata.name
                )))
            })?
        } else {
            group
                .into_iter()
                .filter_map(|f| {
                    f.name.split_once('/').map(|(_, rest)| File {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect()
        };
        let sub_name = valid_name(&sub.metadata.name)?;
        lay_out(
            &format!("{prefix}/charts/{sub_name}"),
            sub_files,
            sub,
            None,
            out,
        )?;
    }
    Ok(())
}

/// Path order for the archive: the top `Chart.yaml` first, then by path components (the
/// order a directory walk gives).
fn entry_order(top_chart_yaml: &str, a: &str, b: &str) -> std::cmp::Ordering {
    (a != top_chart_yaml)
        .cmp(&(b != top_chart_yaml))
        .then_with(|| a.split('/').cmp(b.split('/')))
}

fn write_tgz(top: &str, mut entries: Vec<Entry>) -> Result<Vec<u8>, PackageError> {
    let top_chart_yaml = format!("{top}/Chart.yaml");
    entries.sort_by(|a, b| entry_order(&top_chart_yaml, &a.path, &b.path));
    let mut seen = BTreeSet::new();
    for e in &entries {
        if !seen.insert(e.path.as_str()) {
            let folder = e.path.rsplit_once('/').map_or(e.path.as_str(), |(d, _)| d);
            return Err(PackageError::Duplicate(folder.to_string()));
        }
    }
    let write_err = |e: std::io::Error| PackageError::Write(e.to_string());
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for e in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(e.data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder
            .append_data(&mut header, &e.path, e.data.as_slice())
            .map_err(write_err)?;
    }
    let mut gz = builder.into_inner().map_err(write_err)?;
    gz.flush().map_err(write_err)?;
    gz.finish().map_err(write_err)
}

/// `Chart.yaml` as Helm writes it when it packages a chart (sigs.k8s.io/yaml of its
/// `Metadata`: Go's field names, empty fields left out, keys sorted; for `apiVersion: v1`
/// the dependencies stay in `requirements.yaml`).
pub fn chart_yaml(md: &Metadata) -> String {
    let mut m = Values::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let strs = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    let text = |k: &str, s: &str, put: &mut dyn FnMut(&str, Value)| {
        if !s.is_empty() {
            put(k, Value::String(s.to_string()));
        }
    };
    text("name", &md.name, &mut put);
    text("home", &md.home, &mut put);
    if !md.sources.is_empty() {
        put("sources", strs(&md.sources));
    }
    text("version", &md.version, &mut put);
    text("description", &md.description, &mut put);
    if !md.keywords.is_empty() {
        put("keywords", strs(&md.keywords));
    }
    if !md.maintainers.is_empty() {
        let list = md
            .maintainers
            .iter()
            .map(|x| {
                let mut o = Values::new();
                for (k, v) in [("name", &x.name), ("email", &x.email), ("url", &x.url)] {
                    if !v.is_empty() {
                        o.insert(k.into(), Value::String(v.clone()));
                    }
                }
                Value::Object(o)
            })
            .collect();
        put("maintainers", Value::Array(list));
    }
    text("icon", &md.icon, &mut put);
    text("apiVersion", &md.api_version, &mut put);
    text("condition", &md.condition, &mut put);
    text("tags", &md.tags, &mut put);
    text("appVersion", &md.app_version, &mut put);
    if md.deprecated {
        put("deprecated", Value::Bool(true));
    }
    if !md.annotations.is_empty() {
        put(
            "annotations",
            Value::Object(
                md.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
    }
    text("kubeVersion", &md.kube_version, &mut put);
    if md.api_version != "v1" && !md.dependencies.is_empty() {
        let list = md
            .dependencies
            .iter()
            .map(|d| {
                let mut o = Values::new();
                o.insert("name".into(), Value::String(d.name.clone()));
                if !d.version.is_empty() {
                    o.insert("version".into(), Value::String(d.version.clone()));
                }
                o.insert("repository".into(), Value::String(d.repository.clone()));
                if !d.condition.is_empty() {
                    o.insert("condition".into(), Value::String(d.condition.clone()));
                }
                if !d.tags.is_empty() {
                    o.insert("tags".into(), strs(&d.tags));
                }
                if d.enabled {
                    o.insert("enabled".into(), Value::Bool(true));
                }
                if !d.import_values.is_empty() {
                    o.insert(
                        "import-values".into(),
                        Value::Array(d.import_values.clone()),
                    );
                }
                if !d.alias.is_empty() {
                    o.insert("alias".into(), Value::String(d.alias.clone()));
                }
                Value::Object(o)
            })
            .collect();
        put("dependencies", Value::Array(list));
    }
    text("type", &md.chart_type, &mut put);
    weir_yaml::to_string(&Value::Object(m))
}

/// Merges values files in order, as Flux merges a HelmChart's `valuesFiles`: each file read
/// as Flux reads it (sigs.k8s.io/yaml: YAML 1.1, the first document, numbers as float64), maps
/// merged recursively, anything else replaced by the later file.
///
/// # Errors
/// A file that is not YAML, or whose document is not a map, naming the file.
pub fn merge_values_files<N, B>(files: &[(N, B)]) -> Result<Values, ValuesFileError>
where
    N: AsRef<str>,
    B: AsRef<[u8]>,
{
    let mut merged = Values::new();
    for (name, bytes) in files {
        let fail = |message: String| ValuesFileError {
            file: name.as_ref().to_string(),
            message,
        };
        let text = std::str::from_utf8(bytes.as_ref())
            .map_err(|_| fail("yaml: invalid UTF-8 text".into()))?;
        let docs = weir_yaml::from_str_helm_values(text).map_err(|e| {
            if e.conversion {
                fail(format!("error converting YAML to JSON: {}", e.message))
            } else {
                fail(format!(
                    "error converting YAML to JSON: yaml: line {}: {}",
                    e.line, e.message
                ))
            }
        })?;
        let doc = docs.into_iter().next().unwrap_or(Value::Null);
        check_depth(&doc, 0).map_err(fail)?;
        match to_float64(doc) {
            Value::Null => {}
            Value::Object(map) => merged = merge_maps(merged, map),
            other => {
                return Err(fail(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )));
            }
        }
    }
    Ok(merged)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What source-controller runs on a downloaded `.tgz` before storing it: the archive read
/// with `limits` (absolute paths, `..`, links and oversize content refused) and loaded as a
/// chart (a missing or invalid `Chart.yaml`, bad values, bad subcharts refused). Returns the
/// chart's metadata.
///
/// # Errors
/// The archive's or the loader's message.
pub fn check_chart_archive(bytes: &[u8], limits: Limits) -> Result<Metadata, LoadError> {
    let files = read_archive(bytes, limits).map_err(LoadError)?;
    Ok(load_files(files)?.metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::load_archive;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>, u32, u64, u64)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                let mut e = e.expect("entry");
                let h = e.header().clone();
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).expect("read");
                (
                    e.path().expect("path").to_string_lossy().into_owned(),
                    data,
                    h.mode().expect("mode"),
                    h.mtime().expect("mtime"),
                    h.uid().expect("uid"),
                )
            })
            .collect()
    }

    fn names(bytes: &[u8]) -> Vec<String> {
        entries(bytes).into_iter().map(|e| e.0).collect()
    }

    const CHART: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\n";

    fn demo() -> Vec<File> {
        vec![
            file("values.yaml", "a: 1\n"),
            file("templates/cm.yaml", "kind: ConfigMap\n"),
            file("templates/.hidden", "x"),
            file("Chart.yaml", CHART),
            file(".helmignore", "*.bak\ndocs/\n"),
            file("docs/x.md", "x"),
            file("notes.bak", "x"),
            file("a-b.txt", "x"),
            file("a/x.txt", "x"),
        ]
    }

    #[test]
    fn packages_sorted_with_helmignore_and_fixed_headers() {
        let packaged = package_files(demo(), &PackageOptions::default()).expect("packages");
        assert_eq!(packaged.file_name(), "demo-0.1.0.tgz");
        assert_eq!(
            names(&packaged.bytes),
            [
                "demo/Chart.yaml",
                "demo/.helmignore",
                "demo/a/x.txt",
                "demo/a-b.txt",
                "demo/templates/cm.yaml",
                "demo/values.yaml",
            ]
        );
        for (path, data, mode, mtime, uid) in entries(&packaged.bytes) {
            assert_eq!((mode, mtime, uid), (0o644, 0, 0), "{path}");
            if path == "demo/Chart.yaml" {
                assert_eq!(data, CHART.as_bytes(), "kept as written");
            }
        }
        // Same input, same bytes, whatever the order of the files.
        let mut shuffled = demo();
        shuffled.reverse();
        let again = package_files(shuffled, &PackageOptions::default()).expect("packages");
        assert_eq!(again.bytes, packaged.bytes);
        let chart = load_archive(&packaged.bytes).expect("loads");
        assert_eq!(chart.metadata.name, "demo");
        assert_eq!(chart.values["a"], 1.0);
    }

    #[test]
    fn version_and_values_overrides() {
        let mut values = Values::new();
        values.insert("replicas".into(), 3.into());
        values.insert(
            "image".into(),
            serde_json::json!({"tag": "v2", "name": "web"}),
        );
        let opts = PackageOptions {
            values_override: Some(values),
            version: Some("0.1.0+abc123".into()),
        };
        let packaged = package_files(demo(), &opts).expect("packages");
        assert_eq!(packaged.version, "0.1.0+abc123");
        let files = entries(&packaged.bytes);
        let get = |n: &str| {
            files
                .iter()
                .find(|e| e.0 == n)
                .map(|e| String::from_utf8(e.1.clone()).expect("utf-8"))
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        assert_eq!(
            get("demo/Chart.yaml"),
            "apiVersion: v2\nname: demo\nversion: 0.1.0+abc123\n"
        );
        assert_eq!(
            get("demo/values.yaml"),
            "image:\n  name: web\n  tag: v2\nreplicas: 3\n"
        );
        // The same version leaves Chart.yaml as written; an empty map writes an empty file.
        let opts = PackageOptions {
            values_override: Some(Values::new()),
            version: Some("0.1.0".into()),
        };
        let packaged = package_files(demo(), &opts).expect("packages");
        let files = entries(&packaged.bytes);
        assert_eq!(files[0].1, CHART.as_bytes());
        assert!(
            files
                .iter()
                .any(|e| e.0 == "demo/values.yaml" && e.1.is_empty())
        );
        // A chart without values.yaml gets one.
        let mut no_values = demo();
        no_values.retain(|f| f.name != "values.yaml");
        let mut values = Values::new();
        values.insert("a".into(), "b".into());
        let packaged = package_files(
            no_values,
            &PackageOptions {
                values_override: Some(values),
                version: None,
            },
        )
        .expect("packages");
        assert_eq!(
            load_archive(&packaged.bytes).expect("loads").values["a"],
            "b"
        );
        let err = package_files(
            demo(),
            &PackageOptions {
                values_override: None,
                version: Some("nope".into()),
            },
        )
        .expect_err("bad version");
        assert_eq!(
            err.to_string(),
            "version \"nope\" is not a semantic version: invalid semantic version"
        );
    }

    #[test]
    fn flux_version_metadata_rule() {
        let v = |a: &str, m: &str| version_with_metadata(a, m).map_err(|e| e.to_string());
        assert_eq!(v("1.2.3", "abc").as_deref(), Ok("1.2.3+abc"));
        assert_eq!(v("1.2.3+old", "new").as_deref(), Ok("1.2.3+new"));
        assert_eq!(
            v("v1.2", "4e5cbb7b97d0").as_deref(),
            Ok("1.2.0+4e5cbb7b97d0")
        );
        assert_eq!(v("1.0.0-rc.1", "3").as_deref(), Ok("1.0.0-rc.1+3"));
        assert_eq!(v("1.2.3+keep", "").as_deref(), Ok("1.2.3+keep"));
        assert_eq!(
            v("1.2.3", "a_b").expect_err("bad"),
            "invalid version metadata \"a_b\": only dot-separated [0-9A-Za-z-] identifiers are allowed"
        );
        assert!(v("1.2.3", "a..b").is_err());
        assert!(v("x", "a").is_err());
    }

    #[test]
    fn subcharts_are_written_as_folders_named_after_the_chart() {
        let sub = package_files(
            vec![
                file(
                    "Chart.yaml",
                    "apiVersion: v2\nname: packed\nversion: 0.2.0\n",
                ),
                file("templates/p.yaml", "p"),
            ],
            &PackageOptions::default(),
        )
        .expect("sub");
        let mut files = vec![
            file("Chart.yaml", CHART),
            file(
                "charts/child/Chart.yaml",
                "apiVersion: v2\nname: kid\nversion: 1.0.0\n",
            ),
            file("charts/child/values.yaml", "k: 1\n"),
            file("charts/_skipped/Chart.yaml", "junk"),
            file("charts/.hidden/Chart.yaml", "junk"),
            file("charts/packed-0.2.0.tgz.prov", "signature"),
            file("requirements.yaml", "dependencies: []\n"),
            file("Chart.lock", "dependencies: []\ndigest: a\n"),
        ];
        files.push(File {
            name: "charts/packed-0.2.0.tgz".into(),
            data: sub.bytes,
        });
        let packaged = package_files(files, &PackageOptions::default()).expect("packages");
        assert_eq!(
            names(&packaged.bytes),
            [
                "demo/Chart.yaml",
                "demo/Chart.lock",
                "demo/charts/kid/Chart.yaml",
                "demo/charts/kid/values.yaml",
                "demo/charts/packed/Chart.yaml",
                "demo/charts/packed/templates/p.yaml",
                "demo/charts/packed-0.2.0.tgz.prov",
            ]
        );
        let chart = load_archive(&packaged.bytes).expect("loads");
        let subs: Vec<&str> = chart.dependencies.iter().map(|c| c.name()).collect();
        assert_eq!(subs, ["kid", "packed"]);
    }

    #[test]
    fn helm_v1_charts_keep_their_requirements() {
        let packaged = package_files(
            vec![
                file("Chart.yaml", "name: old\nversion: 1.0.0\n"),
                file("requirements.yaml", "dependencies: []\n"),
                file("requirements.lock", "dependencies: []\n"),
                file("Chart.lock", "dependencies: []\n"),
            ],
            &PackageOptions {
                values_override: None,
                version: Some("1.0.1".into()),
            },
        )
        .expect("packages");
        let files = entries(&packaged.bytes);
        let names: Vec<&str> = files.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "old/Chart.yaml",
                "old/requirements.lock",
                "old/requirements.yaml"
            ]
        );
        assert_eq!(files[0].1, b"apiVersion: v1\nname: old\nversion: 1.0.1\n");
    }

    #[test]
    fn refuses_what_helm_refuses() {
        let mut files = demo();
        files.push(file("values.schema.json", "{bad"));
        let err = package_files(files, &PackageOptions::default()).expect_err("schema");
        assert!(
            err.to_string()
                .starts_with("invalid JSON in demo/values.schema.json: "),
            "{err}"
        );
        let err = package_files(vec![file("values.yaml", "")], &PackageOptions::default())
            .expect_err("no chart");
        assert_eq!(err.to_string(), "Chart.yaml file is missing");
        let err = package_files(
            vec![file("Chart.yaml", CHART), file(".helmignore", "a**b\n")],
            &PackageOptions::default(),
        )
        .expect_err("ignore");
        assert_eq!(
            err.to_string(),
            ".helmignore: double-star (**) syntax is not supported"
        );
        let err = package_files(
            vec![
                file("Chart.yaml", CHART),
                file(
                    "charts/a/Chart.yaml",
                    "apiVersion: v2\nname: same\nversion: 1.0.0\n",
                ),
                file(
                    "charts/b/Chart.yaml",
                    "apiVersion: v2\nname: same\nversion: 2.0.0\n",
                ),
            ],
            &PackageOptions::default(),
        )
        .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "two subcharts would both be written to demo/charts/same: give them distinct names"
        );
        let err = package_files(
            vec![file(
                "Chart.yaml",
                "apiVersion: v2\nname: ..\nversion: 1.0.0\n",
            )],
            &PackageOptions::default(),
        )
        .expect_err("name");
        assert_eq!(err.to_string(), "\"..\" is not a valid chart name");
    }

    #[test]
    fn reads_a_directory_like_helm_package() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("c/templates")).expect("mkdir");
        std::fs::create_dir_all(root.join("c/docs")).expect("mkdir");
        std::fs::create_dir_all(root.join("shared")).expect("mkdir");
        std::fs::write(root.join("c/Chart.yaml"), CHART).expect("write");
        std::fs::write(root.join("c/.helmignore"), "docs/\n").expect("write");
        std::fs::write(root.join("c/docs/a.md"), "x").expect("write");
        std::fs::write(root.join("c/templates/a.yaml"), "\u{feff}kind: A\n").expect("write");
        std::fs::write(root.join("shared/h.tpl"), "{{/* shared */}}").expect("write");
        std::os::unix::fs::symlink("../../shared/h.tpl", root.join("c/templates/_h.tpl"))
            .expect("link");
        // Inside the root, the link is followed.
        let files = chart_dir_files_within(&root.join("c"), root).expect("reads");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                ".helmignore",
                "Chart.yaml",
                "templates/_h.tpl",
                "templates/a.yaml"
            ]
        );
        assert_eq!(files[3].data, b"kind: A\n");
        // Out of the chart directory it is refused.
        let err = chart_dir_files(&root.join("c")).expect_err("outside");
        assert!(err.to_string().contains("outside"), "{err}");
        let a = package_files(files.clone(), &PackageOptions::default()).expect("packages");
        let b = package_files(files, &PackageOptions::default()).expect("packages");
        assert_eq!(a.bytes, b.bytes);
    }

    #[test]
    fn merges_values_files_as_flux() {
        let merged = merge_values_files(&[
            (
                "values.yaml",
                "image: {name: web, tag: v1}\nlist: [1, 2]\nkeep: yes\nnum: 1\n",
            ),
            (
                "prod.yaml",
                "image: {tag: v2}\nlist: [3]\nnew: ~\n---\nignored: true\n",
            ),
            ("empty.yaml", ""),
        ])
        .expect("merges");
        assert_eq!(
            Value::Object(merged),
            serde_json::json!({
                "image": {"name": "web", "tag": "v2"},
                "list": [3.0],
                "keep": true,
                "num": 1.0,
                "new": null,
            })
        );
        let err =
            merge_values_files(&[("a.yaml", "ok: 1\n"), ("bad.yaml", "a: [\n")]).expect_err("yaml");
        assert!(
            err.to_string()
                .starts_with("unmarshaling values from 'bad.yaml' failed: error converting YAML to JSON: yaml: line"),
            "{err}"
        );
        let err = merge_values_files(&[("list.yaml", "- 1\n")]).expect_err("list");
        assert_eq!(
            String::from(err),
            "unmarshaling values from 'list.yaml' failed: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn checks_downloaded_archives() {
        use crate::chart::archive::tests::tgz;
        let good = package_files(demo(), &PackageOptions::default()).expect("packages");
        let md = check_chart_archive(&good.bytes, Limits::default()).expect("valid");
        assert_eq!((md.name.as_str(), md.version.as_str()), ("demo", "0.1.0"));
        let f = tar::EntryType::Regular;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                tgz(&[("c/../../etc/passwd", b"x", f)]),
                "chart illegally references parent directory: \"c/../../etc/passwd\"",
            ),
            (
                tgz(&[("c/values.yaml", b"a: 1", f)]),
                "Chart.yaml file is missing",
            ),
            (
                tgz(&[("c/Chart.yaml", b"name: c\n", f)]),
                "validation: chart.metadata.version is required",
            ),
            (b"<html>".to_vec(), "gzip: invalid header"),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                check_chart_archive(&bytes, Limits::default())
                    .expect_err("refused")
                    .to_string(),
                want
            );
        }
        let small = Limits {
            max_unpacked_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            check_chart_archive(&good.bytes, small)
                .expect_err("too big")
                .to_string(),
            "decompressed chart is larger than the maximum size 10"
        );
    }

    #[test]
    fn chart_yaml_is_marshalled_as_helm() {
        let chart = load_files(vec![file(
            "Chart.yaml",
            "apiVersion: v2\nname: p1\nversion: 0.1.0\ndescription: \"A  chart\\twith tabs\"\nkeywords: [b, a]\nmaintainers:\n- name: Me\n  email: me@x.io\n- name: You\ndependencies:\n- name: sub2\n  version: \">=0.1.0\"\n  repository: \"\"\n  import-values: [data, {child: a, parent: b}]\n  tags: [t1]\n  condition: sub.enabled\nannotations:\n  z: \"1\"\n  a: b\nappVersion: \"1.16.0\"\nkubeVersion: \">=1.20\"\nhome: https://x\nicon: https://x/icon.png\nsources: [https://s]\ndeprecated: false\ntype: application\n",
        )])
        .expect("loads");
        let mut md = chart.metadata;
        md.version = "1.2.3+meta.1".into();
        // What helm 4.1.4 `helm package --version 1.2.3+meta.1` wrote for this Chart.yaml.
        assert_eq!(
            chart_yaml(&md),
            "annotations:\n  a: b\n  z: \"1\"\napiVersion: v2\nappVersion: 1.16.0\ndependencies:\n- condition: sub.enabled\n  import-values:\n  - data\n  - child: a\n    parent: b\n  name: sub2\n  repository: \"\"\n  tags:\n  - t1\n  version: '>=0.1.0'\ndescription: A  chart with tabs\nhome: https://x\nicon: https://x/icon.png\nkeywords:\n- b\n- a\nkubeVersion: '>=1.20'\nmaintainers:\n- email: me@x.io\n  name: Me\n- name: You\nname: p1\nsources:\n- https://s\ntype: application\nversion: 1.2.3+meta.1\n"
        );
    }
}
