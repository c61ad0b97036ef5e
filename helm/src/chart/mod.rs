//! Charts: everything `helm template` does before and after the template language runs.
//!
//! The pipeline, in the order a render uses it:
//!
//! 1. [`load`]: a chart from a directory ([`load_dir`], honouring `.helmignore`) or a `.tgz`
//!    ([`load_archive`], bounded and path-checked by [`archive`]), subcharts in `charts/`
//!    included, every file sorted into [`Chart::templates`], [`Chart::files`] (what `.Files`
//!    sees), CRDs, values and schema.
//! 2. [`values`]: values files read as Helm reads them (numbers are float64), `--set` and
//!    friends ([`strvals`]), user values merged in order ([`values::merge_user_values`]).
//! 3. [`dependencies`]: `condition`, `tags` and `alias` decide which subcharts stay;
//!    `import-values` copies child values into the parent.
//! 4. [`values::coalesce`]: chart defaults under user values, subchart scoping, globals.
//! 5. [`schema`]: `values.schema.json` of the chart and every subchart checked against the
//!    final values.
//! 6. (the renderer runs the templates)
//! 7. [`output`]: rendered files split into documents, sorted in Helm's install order, hooks
//!    set apart, printed as `helm template` prints them.
//!
//! Values are `serde_json` maps whose numbers keep Go's distinction: a float64 (from YAML) is a
//! `serde_json` float, an int64 (from `--set`) a `serde_json` integer.

pub mod archive;
pub mod dependencies;
pub mod ignore;
pub mod load;
pub mod metadata;
pub mod output;
pub mod schema;
pub mod strvals;
pub mod values;

pub use load::{LoadError, load_archive, load_dir, load_files, load_path};
pub use metadata::{Dependency, Maintainer, Metadata};

/// A map of values, as Helm's `chartutil.Values` (`map[string]interface{}`).
pub type Values = serde_json::Map<String, serde_json::Value>;

/// One file of a chart: its path relative to the chart root (`/`-separated) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path inside the chart, e.g. `templates/deployment.yaml` or `config/app.conf`.
    pub name: String,
    /// Contents (a UTF-8 byte-order mark at the start is removed, as Helm does).
    pub data: Vec<u8>,
}

/// A loaded chart and, recursively, its subcharts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// `Chart.yaml` (with `requirements.yaml` dependencies folded in for `apiVersion: v1`).
    pub metadata: Metadata,
    /// The bundled `Chart.lock` (or `requirements.lock`), raw; Helm only checks it exists.
    pub lock: Option<Vec<u8>>,
    /// Files under `templates/`, in load order (directory walk or archive order).
    pub templates: Vec<File>,
    /// Default values from `values.yaml` (an absent file is an empty map).
    pub values: Values,
    /// `values.schema.json`, raw.
    pub schema: Option<Vec<u8>>,
    /// Every other file: what `.Files` gives templates. Includes `crds/`, `.helmignore`,
    /// `charts/*.prov`, READMEs; excludes `Chart.yaml`, `values.yaml`, `values.schema.json`,
    /// `Chart.lock`, `templates/` and the subcharts' files (and, for `apiVersion: v2`,
    /// `requirements.yaml`/`requirements.lock`).
    pub files: Vec<File>,
    /// Subcharts found in `charts/` (directories and `.tgz` archives), in load order.
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// `Chart.yaml` `name` (after an alias, the alias).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether `type: library`: such a chart renders no manifests of its own, only lends its
    /// named templates.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// The manifests under `crds/` of this chart (not of subcharts; `.yaml`, `.yml` or
    /// `.json`), in file order, as Helm's `CRDObjects` lists them.
    pub fn crd_files(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| {
            f.name.starts_with("crds/")
                && [".yaml", ".yml", ".json"]
                    .iter()
                    .any(|ext| f.name.ends_with(ext))
        })
    }

    /// CRD files of this chart and then, depth-first, of its subcharts, each with the full
    /// `# Source:` path (`parent/charts/sub/crds/x.yaml`), as `--include-crds` prints them.
    pub fn crd_objects(&self) -> Vec<(String, &File)> {
        let mut out = Vec::new();
        self.collect_crds(self.name().to_string(), &mut out);
        out
    }

    fn collect_crds<'a>(&'a self, prefix: String, out: &mut Vec<(String, &'a File)>) {
        for f in self.crd_files() {
            out.push((format!("{prefix}/{}", f.name), f));
        }
        for d in &self.dependencies {
            d.collect_crds(format!("{prefix}/charts/{}", d.name()), out);
        }
    }
}

/// Most levels of subcharts below the root a chart may have (Helm has no limit; a hostile
/// archive of archives would otherwise recurse without end).
pub const MAX_CHART_DEPTH: usize = 32;
