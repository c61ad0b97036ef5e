//! `buildMetadata`: what the build writes about itself on every resource. As in kubectl, only
//! the options of the kustomization being built (the root) count, and unknown options are
//! ignored:
//!
//! - `originAnnotations`: `config.kubernetes.io/origin`, the file a resource was read from or
//!   the generator that made it (written by the crate root at the end of the build);
//! - `transformerAnnotations`: `alpha.config.kubernetes.io/transformations`, every
//!   transformer that ran over the resource, in every kustomization and component of the
//!   build, oldest first — whether or not it changed the resource;
//! - `managedByLabel`: `app.kubernetes.io/managed-by: kustomize-(devel)`, the version string
//!   kubectl 1.32's Kustomize reports.
//!
//! Paths are relative to the root kustomization's directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::kustomization::Kustomization;
use super::resource::{self, Resource};

/// The annotation listing the transformers that ran over a resource.
const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";
/// The label `managedByLabel` sets, and its value in kubectl 1.32.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kustomize-(devel)");

/// The `buildMetadata` options of the root kustomization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) origin: bool,
    pub(crate) transformations: bool,
    pub(crate) managed_by: bool,
}

impl Options {
    /// The options `k` asks for.
    pub(crate) fn of(k: &Kustomization) -> Self {
        let has = |o: &str| k.build_metadata.iter().any(|b| b == o);
        Self {
            origin: has("originAnnotations"),
            transformations: has("transformerAnnotations"),
            managed_by: has("managedByLabel"),
        }
    }
}

/// A built-in plugin that ran (or, as an origin, generated): where it was configured, its
/// kind, and for a plugin config its name and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The kustomization file, or the plugin config file.
    pub(crate) configured_in: PathBuf,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

impl Record {
    fn field(kustomization: &Path, kind: &str) -> Arc<Self> {
        Arc::new(Self {
            configured_in: kustomization.to_path_buf(),
            kind: kind.to_string(),
            name: String::new(),
            namespace: String::new(),
        })
    }

    /// The record as Kustomize prints it, every line indented by `indent`.
    pub(crate) fn text(&self, root: &Path, indent: &str) -> String {
        let mut out = format!(
            "configuredIn: {}\n{indent}configuredBy:\n{indent}  apiVersion: builtin\n{indent}  kind: {}\n",
            scalar(&crate::relative(root, &self.configured_in)),
            scalar(&self.kind)
        );
        for (key, value) in [("name", &self.name), ("namespace", &self.namespace)] {
            if !value.is_empty() {
                out.push_str(&format!("{indent}  {key}: {}\n", scalar(value)));
            }
        }
        out
    }
}

/// A string as a YAML scalar (quoted where YAML needs it).
fn scalar(s: &str) -> String {
    weir_yaml::to_string(&Value::String(s.to_string()))
        .trim_end_matches('\n')
        .to_string()
}

/// The transformers a kustomization's own fields configure, in the order they run: one per
/// `patches`, `patchesJson6902`, `replicas` and `images` entry, one for all of
/// `patchesStrategicMerge` and of `replacements`, and — when any labels are set — one per
/// `labels` entry plus one for `commonLabels`.
fn field_transformers(k: &Kustomization) -> Vec<&'static str> {
    let mut out = Vec::new();
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if !k.patches_strategic_merge.is_empty() {
        out.push("PatchStrategicMergeTransformer");
    }
    out.extend(k.patches.iter().map(|_| "PatchTransformer"));
    if set(&k.namespace) {
        out.push("NamespaceTransformer");
    }
    if set(&k.name_prefix) {
        out.push("PrefixTransformer");
    }
    if set(&k.name_suffix) {
        out.push("SuffixTransformer");
    }
    if !k.labels.is_empty() || !k.common_labels.is_empty() {
        out.extend(std::iter::repeat_n("LabelTransformer", k.labels.len() + 1));
    }
    if !k.common_annotations.is_empty() {
        out.push("AnnotationsTransformer");
    }
    out.extend(
        k.patches_json6902
            .iter()
            .map(|_| "PatchJson6902Transformer"),
    );
    out.extend(k.replicas.iter().map(|_| "ReplicaCountTransformer"));
    out.extend(k.images.iter().map(|_| "ImageTagTransformer"));
    if !k.replacements.is_empty() {
        out.push("ReplacementTransformer");
    }
    out
}

/// Records the transformers of the fields of `k` (in `kustomization`) on every resource,
/// when the build keeps transformer annotations.
pub(crate) fn record_fields(
    options: Options,
    kustomization: &Path,
    k: &Kustomization,
    resources: &mut [Resource],
) {
    if !options.transformations {
        return;
    }
    for kind in field_transformers(k) {
        record(options, &Record::field(kustomization, kind), resources);
    }
}

/// Records one transformer on every resource, when the build keeps transformer annotations.
pub(crate) fn record(options: Options, record: &Arc<Record>, resources: &mut [Resource]) {
    if options.transformations {
        for res in resources.iter_mut() {
            res.transformations.push(Arc::clone(record));
        }
    }
}

/// Writes the transformer annotation and the managed-by label the root asked for.
pub(crate) fn annotate(options: Options, root: &Path, resources: &mut [Resource]) {
    for res in resources.iter_mut() {
        if options.transformations && !res.transformations.is_empty() {
            let text: String = res
                .transformations
                .iter()
                .map(|r| format!("- {}", r.text(root, "  ")))
                .collect();
            set_in(&mut res.value, "annotations", TRANSFORMATIONS, text);
        }
        res.transformations = Vec::new();
        if options.managed_by {
            set_in(
                &mut res.value,
                "labels",
                MANAGED_BY.0,
                MANAGED_BY.1.to_string(),
            );
        }
    }
}

/// Sets `key` in the map `metadata.<field>` (created when missing or null).
fn set_in(value: &mut Value, field: &str, key: &str, text: String) {
    let map = resource::metadata(value)
        .entry(field)
        .or_insert_with(|| Value::Object(Default::default()));
    if map.is_null() {
        *map = Value::Object(Default::default());
    }
    if let Value::Object(m) = map {
        m.insert(key.into(), Value::String(text));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Record;

    #[test]
    fn records_print_relative_to_the_root_with_name_and_namespace_when_set() {
        let r = Record {
            configured_in: Path::new("/r/base/kustomization.yaml").to_path_buf(),
            kind: "PrefixTransformer".into(),
            name: "p".into(),
            namespace: String::new(),
        };
        assert_eq!(
            r.text(Path::new("/r/top"), "  "),
            "configuredIn: ../base/kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n    name: p\n"
        );
    }
}
