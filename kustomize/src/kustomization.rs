//! The `kustomization.yaml` file: which fields we support, and a clear refusal for the ones
//! we do not (never silently ignored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::BuildError;
use super::fs::FileSystem;

/// File names Kustomize accepts, in its order of preference.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields this engine implements.
const SUPPORTED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "sortOptions",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "replacements",
    "buildMetadata",
    "crds",
    "configurations",
    "openapi",
    "generators",
    "transformers",
    "validators",
    "vars",
    "helmCharts",
    "helmGlobals",
];

/// Fields Kustomize has that we refuse, with the reason.
fn refusal(field: &str) -> String {
    match field {
        "helmChartInflationGenerator" => {
            format!("field {field:?} (deprecated) is not supported: use helmCharts and helmGlobals")
        }
        _ => format!("field {field:?} is not supported yet by Weir's Kustomize engine"),
    }
}

/// A parsed kustomization file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    /// `kind`: `Kustomization` or `Component`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Files and directories to include.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Deprecated alias of `resources` for directories.
    #[serde(default)]
    pub bases: Vec<String>,
    /// Components to apply.
    #[serde(default)]
    pub components: Vec<String>,
    /// Namespace for every namespaced resource.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Prefix for names.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// Suffix for names.
    #[serde(default)]
    pub name_suffix: Option<String>,
    /// Labels added to metadata, templates and selectors.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Labels with control over selectors and templates.
    #[serde(default)]
    pub labels: Vec<LabelSet>,
    /// Annotations added to metadata and templates.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Image rewrites.
    #[serde(default)]
    pub images: Vec<Image>,
    /// Replica counts.
    #[serde(default)]
    pub replicas: Vec<Replica>,
    /// ConfigMap generators.
    #[serde(default)]
    pub config_map_generator: Vec<Generator>,
    /// Secret generators.
    #[serde(default)]
    pub secret_generator: Vec<Generator>,
    /// Options for every generator here.
    #[serde(default)]
    pub generator_options: Option<GeneratorOptions>,
    /// Output order.
    #[serde(default)]
    pub sort_options: Option<SortOptions>,
    /// Strategic merge and JSON 6902 patches with optional targets.
    #[serde(default)]
    pub patches: Vec<super::patch::PatchEntry>,
    /// Legacy strategic merge patches (files or inline).
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    /// Legacy JSON 6902 patches.
    #[serde(default)]
    pub patches_json6902: Vec<super::patch::Json6902Entry>,
    /// Field copies between resources.
    #[serde(default)]
    pub replacements: Vec<super::replacement::ReplacementEntry>,
    /// OpenAPI definition files for custom types: the name references, label, annotation
    /// and identity fields they declare; no resources.
    #[serde(default)]
    pub crds: Vec<String>,
    /// Transformer configuration files: field specs added to the built-in tables.
    #[serde(default)]
    pub configurations: Vec<String>,
    /// A schema for strategic merge patches: `path` (a file) or `version`.
    #[serde(default)]
    pub openapi: Option<super::openapi::OpenApiField>,
    /// Build metadata to record on resources (`originAnnotations`, `transformerAnnotations`,
    /// `managedByLabel`; see [`crate::buildmeta`]). Only the root kustomization's count.
    #[serde(default)]
    pub build_metadata: Vec<String>,
    /// Built-in generator plugin configs (files or inline), run after the generators above.
    #[serde(default)]
    pub generators: Vec<String>,
    /// Built-in transformer plugin configs (files or inline), run after the transformers above.
    #[serde(default)]
    pub transformers: Vec<String>,
    /// Built-in transformer plugin configs that must leave every resource unchanged.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Deprecated `$(NAME)` variables (see [`crate::vars`]).
    #[serde(default)]
    pub vars: Vec<super::vars::Var>,
    /// Helm charts to render (see [`crate::helmcharts`]).
    #[serde(default)]
    pub helm_charts: Vec<super::helmcharts::HelmChart>,
    /// Where `helmCharts` are found.
    #[serde(default)]
    pub helm_globals: Option<super::helmcharts::HelmGlobals>,
}

/// One entry of `labels`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSet {
    /// The labels.
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    /// Also set selectors (like `commonLabels`).
    #[serde(default)]
    pub include_selectors: bool,
    /// Also set pod template labels.
    #[serde(default)]
    pub include_templates: bool,
    /// More places to set the labels (field specs, as a plugin config writes them).
    #[serde(default)]
    pub fields: Vec<FieldSpecEntry>,
}

/// A field spec as `labels[].fields` and plugin configs write it: optional group, version
/// and kind (empty matches any), a `/`-separated path, and whether to create it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldSpecEntry {
    /// API group.
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// The path.
    pub path: String,
    /// Create the field when missing.
    #[serde(default)]
    pub create: bool,
}

/// One entry of `images`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// Image name to match (without tag or digest).
    pub name: String,
    /// Replacement name.
    #[serde(default)]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(default)]
    pub new_tag: Option<String>,
    /// Replacement digest (wins over the tag).
    #[serde(default)]
    pub digest: Option<String>,
    /// Appended to the tag when neither `newTag` nor `digest` is set.
    #[serde(default)]
    pub tag_suffix: Option<String>,
}

/// One entry of `replicas`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    /// Workload name.
    pub name: String,
    /// Replica count.
    pub count: i64,
}

/// A ConfigMap or Secret generator.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generator {
    /// Name (before prefix, suffix and hash).
    pub name: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `create` (default), `merge` or `replace`.
    #[serde(default)]
    pub behavior: Option<String>,
    /// `key=value` pairs.
    #[serde(default)]
    pub literals: Vec<String>,
    /// Files, `path` or `key=path`.
    #[serde(default)]
    pub files: Vec<String>,
    /// Env files.
    #[serde(default)]
    pub envs: Vec<String>,
    /// Deprecated single env file.
    #[serde(default)]
    pub env: Option<String>,
    /// Secret type (Secret generators only).
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// Per-generator options.
    #[serde(default)]
    pub options: Option<GeneratorOptions>,
}

/// Generator options.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    /// Labels for generated objects.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations for generated objects.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Do not append the content hash to the name.
    #[serde(default)]
    pub disable_name_suffix_hash: Option<bool>,
    /// Mark generated objects immutable.
    #[serde(default)]
    pub immutable: Option<bool>,
}

/// `sortOptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortOptions {
    /// `legacy` (default) or `fifo`.
    pub order: String,
    /// Kind order for `legacy`.
    #[serde(default)]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// Custom kind order of the legacy sort.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySortOptions {
    /// Kinds first, in this order.
    #[serde(default)]
    pub order_first: Vec<String>,
    /// Kinds last, in this order.
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// Finds the kustomization file in `dir`.
pub fn find(fs: &dyn FileSystem, dir: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| fs.is_file(p))
}

/// How many kustomization files `dir` holds (more than one is an error, as in kubectl).
pub fn count(fs: &dyn FileSystem, dir: &Path) -> usize {
    FILE_NAMES
        .iter()
        .filter(|n| fs.is_file(&dir.join(n)))
        .count()
}

/// Kustomize reads top-level fields whatever their letter case (`Resources`, `nameprefix`):
/// each key is renamed to the supported field it spells, and a differently spelled key
/// wins over the canonical one, as in kubectl.
fn canonical_keys(map: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let canonical = |key: &str| {
        SUPPORTED
            .iter()
            .find(|f| f.eq_ignore_ascii_case(key))
            .map(|f| f.to_string())
    };
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        if canonical(key).is_none_or(|c| c == *key) {
            out.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in map {
        if let Some(c) = canonical(key).filter(|c| c != key) {
            out.insert(c, value.clone());
        }
    }
    out
}

/// Parses and validates a kustomization file.
///
/// # Errors
/// Malformed YAML (with line and column), unsupported fields, wrong types — each naming the file.
pub fn parse(path: &Path, text: &str) -> Result<Kustomization, BuildError> {
    let file = path.display().to_string();
    // Kustomize reads the file with sigs.k8s.io/yaml: YAML 1.1 scalars (`n` is false, so a
    // `namespace: n` fails), and a key written twice takes its later value.
    let value = weir_yaml::from_str_multi_with(text, true, weir_yaml::DuplicateKeys::LaterWins)
        .map_err(|e| BuildError::new(&file, format!("malformed YAML: {e}")))?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    crate::limits::nested(&value, "the kustomization").map_err(|m| BuildError::new(&file, m))?;
    let map = match &value {
        Value::Object(m) => canonical_keys(m),
        Value::Null => serde_json::Map::new(),
        _ => return Err(BuildError::new(&file, "a kustomization must be a mapping")),
    };
    for key in map.keys() {
        if !SUPPORTED.contains(&key.as_str()) {
            return Err(BuildError::new(&file, refusal(key)));
        }
    }
    let k: Kustomization = serde_json::from_value(Value::Object(map))
        .map_err(|e| BuildError::new(&file, format!("invalid kustomization: {e}")))?;
    match k.kind.as_deref() {
        None | Some("Kustomization") | Some("Component") => {}
        Some(other) => {
            return Err(BuildError::new(
                &file,
                format!("kind {other:?} is not Kustomization or Component"),
            ));
        }
    }
    // Unknown `buildMetadata` options are ignored, as kubectl ignores them.
    if let Some(order) = k.sort_options.as_ref().map(|s| s.order.as_str())
        && order != "legacy"
        && order != "fifo"
    {
        return Err(BuildError::new(
            &file,
            format!("sortOptions.order {order:?} must be legacy or fifo"),
        ));
    }
    if let Some(s) = &k.sort_options
        && s.order == "fifo"
        && s.legacy_sort_options.is_some()
    {
        return Err(BuildError::new(
            &file,
            "sortOptions.legacySortOptions is set but sortOptions.order is fifo, not legacy",
        ));
    }
    Ok(k)
}
