//! `helmCharts` and `helmGlobals`: Kustomize's HelmChartInflationGenerator, with the chart
//! rendered by a [`ChartInflator`] the caller injects (Weir's CLI renders with weir-helm,
//! natively: no helm binary, no code from the tree is run). Without one, `helmCharts` is
//! refused, as before.
//!
//! What the engine does is what Kustomize v5.5 does around `helm template`:
//!
//! - the chart is the directory `{chartHome}/{name}` of the kustomization's directory
//!   (`chartHome` from `helmGlobals`, default `charts`), or `{chartHome}/{name}-{version}/{name}`
//!   when both `repo` and `version` are set (where `helm pull --untar` puts it). It must lie
//!   in or below the kustomization's directory and is read through the build's
//!   [`FileSystem`](crate::FileSystem); a chart that is not there is an error (with a `repo`,
//!   because Weir downloads no charts);
//! - the values file handed to helm is `valuesFile` (relative to the kustomization, default
//!   the chart's `values.yaml`) or, when `valuesInline` is not empty, `valuesInline` merged
//!   with it: `override` (default, inline wins), `merge` (the file wins), `replace` (inline
//!   only). Maps merge recursively, anything else is replaced, a `null` removes the key.
//!   `additionalValuesFiles` follow in order. Helm then coalesces them over the chart's own
//!   defaults, as always;
//! - `releaseName` (helm's `release-name` without one), `namespace`, `nameTemplate`,
//!   `includeCRDs`, `skipTests`, `skipHooks` (`--no-hooks`), `apiVersions`, `kubeVersion`
//!   become the options of `helm template`; `helmGlobals.configHome`, `debug` and `devel`
//!   change nothing a local render prints and are accepted;
//! - the rendered documents join the kustomization's resources after its `resources`,
//!   `configMapGenerator` and `secretGenerator` output (Kustomize's built-in generator
//!   order) and before `generators` plugins; every transformer of the kustomization then
//!   applies to them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{BuildError, Loader, Resource, resource};

/// One `helmCharts` entry, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmChart {
    /// The chart's name: its directory under `chartHome`.
    #[serde(default)]
    pub name: String,
    /// The chart's version (with `repo`, the chart is looked for in `{name}-{version}/`).
    #[serde(default)]
    pub version: Option<String>,
    /// The repository to pull from: Weir pulls nothing, the chart must be in the tree.
    #[serde(default)]
    pub repo: Option<String>,
    /// `helm template RELEASE`.
    #[serde(default)]
    pub release_name: Option<String>,
    /// `--namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// More `-f` files, relative to the kustomization, after the values file.
    #[serde(default)]
    pub additional_values_files: Vec<String>,
    /// The values file to use instead of the chart's `values.yaml`.
    #[serde(default)]
    pub values_file: Option<String>,
    /// Values written in the kustomization.
    #[serde(default)]
    pub values_inline: Option<Map<String, Value>>,
    /// How `valuesInline` combines with the values file: `override`, `merge`, `replace`.
    #[serde(default)]
    pub values_merge: Option<String>,
    /// `--include-crds`.
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    /// `--no-hooks`.
    #[serde(default)]
    pub skip_hooks: bool,
    /// `--api-versions`, in order.
    #[serde(default)]
    pub api_versions: Vec<String>,
    /// `--kube-version`.
    #[serde(default)]
    pub kube_version: Option<String>,
    /// `--name-template`.
    #[serde(default)]
    pub name_template: Option<String>,
    /// `--skip-tests`.
    #[serde(default)]
    pub skip_tests: bool,
    /// `--debug`: changes helm's error output only.
    #[serde(default)]
    pub debug: bool,
    /// `--devel`: changes what `helm pull` picks only.
    #[serde(default)]
    pub devel: bool,
}

/// `helmGlobals`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmGlobals {
    /// The directory holding one directory per chart, relative to the kustomization
    /// (default `charts`).
    #[serde(default)]
    pub chart_home: Option<String>,
    /// `HELM_CONFIG_HOME` for the helm binary: nothing to Weir, which runs none.
    #[serde(default)]
    pub config_home: Option<String>,
}

/// A file of the chart directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFile {
    /// Its path relative to the chart directory, `/`-separated (e.g. `templates/cm.yaml`).
    pub name: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A `-f` values file handed to `helm template`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValuesFile {
    /// A name for messages (the file's path in the build, or the inline values).
    pub name: String,
    /// The YAML (or JSON) text.
    pub text: String,
}

/// What a [`ChartInflator`] is asked to render: `helm template` on one chart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HelmChartRequest {
    /// The entry's `name`.
    pub chart: String,
    /// The chart directory, as the build shows paths (for messages).
    pub chart_dir: String,
    /// Every regular file below the chart directory, sorted by name (`.helmignore` is the
    /// inflator's to apply).
    pub files: Vec<ChartFile>,
    /// `RELEASE`; `None` is helm's `release-name`.
    pub release_name: Option<String>,
    /// `--namespace`; `None` is helm's `default`.
    pub namespace: Option<String>,
    /// `--name-template`.
    pub name_template: Option<String>,
    /// `-f` files, in order.
    pub values: Vec<ValuesFile>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub skip_hooks: bool,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
}

/// Renders a Helm chart for `helmCharts`: what `helm template` prints (multi-document YAML)
/// or its error message.
pub trait ChartInflator {
    /// Renders `request`.
    ///
    /// # Errors
    /// The chart cannot be loaded or rendered: the message to report.
    fn inflate(&self, request: &HelmChartRequest) -> Result<String, String>;
}

/// Files a chart directory may hold.
const MAX_CHART_FILES: usize = 50_000;
/// Directories a chart directory may nest (a symbolic link loop stops here).
const MAX_CHART_DEPTH: usize = 64;

/// The resources of every `helmCharts` entry of the kustomization `file` in `dir`, in order.
pub(crate) fn inflate_all(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    kustomization: &Path,
    charts: &[HelmChart],
    globals: Option<&HelmGlobals>,
) -> Result<Vec<Resource>, BuildError> {
    if charts.is_empty() {
        return Ok(Vec::new());
    }
    let Some(inflator) = loader.charts else {
        return Err(BuildError::new(
            file,
            "field \"helmCharts\" is not supported by this build: it renders no Helm charts \
             (`weir build kustomization` does)",
        ));
    };
    let chart_home = globals
        .and_then(|g| g.chart_home.as_deref())
        .filter(|h| !h.is_empty())
        .unwrap_or("charts");
    let mut out = Vec::new();
    for (i, chart) in charts.iter().enumerate() {
        let label = format!("helmCharts[{i}] {:?}", chart.name);
        let fail = |m: String| BuildError::new(file, format!("{label}: {m}"));
        let request = request(loader, dir, chart_home, chart).map_err(fail)?;
        let text = inflator.inflate(&request).map_err(fail)?;
        let mut resources =
            crate::parse_resources(&text).map_err(|m| fail(format!("the rendered chart: {m}")))?;
        loader.admit(&resources, file)?;
        for res in &mut resources {
            res.origin = Some(resource::Origin::Generator {
                kustomization: kustomization.to_path_buf(),
                kind: "HelmChartInflationGenerator",
            });
        }
        out.extend(resources);
    }
    Ok(out)
}

/// The `helm template` request for `chart`, with its files and values read.
fn request(
    loader: &Loader<'_>,
    dir: &Path,
    chart_home: &str,
    chart: &HelmChart,
) -> Result<HelmChartRequest, String> {
    if chart.name.is_empty() {
        return Err("chart name cannot be empty".into());
    }
    let merge = chart.values_merge.as_deref().unwrap_or("override");
    if !matches!(merge, "override" | "merge" | "replace") {
        return Err("valuesMerge must be one of [merge override replace]".into());
    }
    if Path::new(chart_home).is_absolute() {
        return Err(format!(
            "helmGlobals.chartHome {chart_home:?}: absolute paths are not allowed"
        ));
    }
    let repo = chart.repo.as_deref().filter(|r| !r.is_empty());
    let version = chart.version.as_deref().filter(|v| !v.is_empty());
    let home = match (repo, version) {
        (Some(_), Some(v)) => format!("{chart_home}/{}-{v}", chart.name),
        _ => chart_home.to_string(),
    };
    let rel = format!("{home}/{}", chart.name);
    let chart_dir = match loader.resolve(dir, &rel) {
        Ok(p) if loader.fs.is_dir(&p) => p,
        Ok(p) if !p.starts_with(dir) => return Err(outside(&rel)),
        Err(m) if m.contains("outside the build root") => return Err(outside(&rel)),
        _ => {
            return Err(match repo {
                None => format!("no repo specified for pull, no chart found at {rel:?}"),
                Some(repo) => format!(
                    "no chart found at {rel:?}, and Weir does not download charts (repo \
                     {repo}): put the chart in the tree (helm pull {} --repo {repo}{} \
                     --untar --untardir {home})",
                    chart.name,
                    version
                        .map(|v| format!(" --version {v}"))
                        .unwrap_or_default()
                ),
            });
        }
    };
    if !chart_dir.starts_with(dir) {
        return Err(outside(&rel));
    }
    let mut files = Vec::new();
    read_tree(loader, &chart_dir, "", &mut files, 0)?;

    let inline = chart.values_inline.as_ref().filter(|m| !m.is_empty());
    let values_file = chart
        .values_file
        .as_deref()
        .filter(|f| !f.is_empty())
        .map_or_else(|| format!("{rel}/values.yaml"), str::to_string);
    let read_values = |name: &str| -> Result<String, String> {
        if name.contains("://") {
            return Err(format!(
                "values file {name:?}: Weir does not download values files"
            ));
        }
        let bytes = loader.read_local(dir, name).map_err(|e| e.message)?;
        String::from_utf8(bytes).map_err(|_| format!("values file {name:?} is not UTF-8"))
    };
    let mut values = Vec::new();
    match inline {
        None => values.push(ValuesFile {
            name: values_file.clone(),
            text: read_values(&values_file)?,
        }),
        Some(inline) => {
            let merged = if merge == "replace" {
                inline.clone()
            } else {
                let text = read_values(&values_file)?;
                let from_file = match weir_yaml::from_str(&text) {
                    Ok(Value::Object(m)) => m,
                    Ok(Value::Null) => Map::new(),
                    Ok(_) => return Err(format!("values file {values_file:?} is not a mapping")),
                    Err(e) => return Err(format!("values file {values_file:?}: {e}")),
                };
                if merge == "override" {
                    merge_values(from_file, inline)
                } else {
                    merge_values(inline.clone(), &from_file)
                }
            };
            values.push(ValuesFile {
                name: format!("{}-kustomize-values.yaml", chart.name),
                text: Value::Object(merged).to_string(),
            });
        }
    }
    for extra in &chart.additional_values_files {
        let text =
            read_values(extra).map_err(|m| format!("could not load additionalValuesFile: {m}"))?;
        values.push(ValuesFile {
            name: extra.clone(),
            text,
        });
    }
    let set = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
    Ok(HelmChartRequest {
        chart: chart.name.clone(),
        chart_dir: loader.display(&chart_dir),
        files,
        release_name: set(&chart.release_name),
        namespace: set(&chart.namespace),
        name_template: set(&chart.name_template),
        values,
        include_crds: chart.include_crds,
        skip_tests: chart.skip_tests,
        skip_hooks: chart.skip_hooks,
        api_versions: chart.api_versions.clone(),
        kube_version: set(&chart.kube_version),
    })
}

fn outside(rel: &str) -> String {
    format!("security: the chart {rel:?} is not in or below the kustomization's directory")
}

/// `over` merged onto `base` as kyaml's `merge2` does for values: maps recursively, other
/// values replaced, a `null` in `over` removing the key.
fn merge_values(mut base: Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (_, Value::Null) => {
                base.remove(k);
            }
            (Some(Value::Object(b)), Value::Object(o)) => {
                *b = merge_values(std::mem::take(b), o);
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    base
}

/// Reads every regular file below `dir` (canonical) into `files`, names relative to the
/// chart directory, each file checked to lie inside the build root.
fn read_tree(
    loader: &Loader<'_>,
    dir: &Path,
    rel: &str,
    files: &mut Vec<ChartFile>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_CHART_DEPTH {
        return Err(format!(
            "the chart directory is nested more than {MAX_CHART_DEPTH} levels deep (symbolic link loop?)"
        ));
    }
    let shown = |p: &Path| loader.display(p);
    let mut entries: Vec<(String, PathBuf)> = loader
        .fs
        .read_dir(dir)
        .map_err(|e| format!("{}: {e}", shown(dir)))?
        .into_iter()
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p)))
        .collect();
    entries.sort();
    for (name, path) in entries {
        let name = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let canonical = loader
            .fs
            .canonicalize(&path)
            .map_err(|e| format!("{}: {e}", shown(&path)))?;
        if !loader.inside(&canonical) {
            return Err(format!(
                "chart file {name:?} resolves outside the build root: references may not leave the source tree"
            ));
        }
        if loader.fs.is_dir(&canonical) {
            read_tree(loader, &canonical, &name, files, depth + 1)?;
            continue;
        }
        if files.len() >= MAX_CHART_FILES {
            return Err(format!("the chart holds more than {MAX_CHART_FILES} files"));
        }
        let data = loader
            .fs
            .read(&canonical)
            .map_err(|e| format!("chart file {name:?}: {e}"))?;
        loader.budget.charge(data.len() as u64)?;
        files.push(ChartFile { name, data });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn values_merge_maps_recursively_replaces_lists_and_drops_nulls() {
        let file = map(serde_json::json!({"a": 1, "n": {"x": 1, "y": 2}, "l": [1, 2], "gone": 1}));
        let inline = map(serde_json::json!({"n": {"y": 3, "z": 4}, "l": [9], "gone": null}));
        assert_eq!(
            Value::Object(merge_values(file, &inline)),
            serde_json::json!({"a": 1, "n": {"x": 1, "y": 3, "z": 4}, "l": [9]})
        );
    }
}
