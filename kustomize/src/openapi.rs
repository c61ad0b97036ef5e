//! `openapi:`: an OpenAPI (Swagger 2) document that replaces the Kubernetes schema strategic
//! merge patches take their merge keys from, as in kubectl.
//!
//! The schema is global to a build, as in Kustomize: the top kustomization's `openapi`
//! decides; when it has none, the first kustomization loaded that has one (a base, a
//! component) sets it for every patch applied from then on. `version` may only name the
//! built-in schema (`v1.21.2`). With a custom schema, kinds it does not describe
//! (Deployments too, when it lacks them) have no merge keys: their lists are replaced.
//!
//! A definition describes a kind through `x-kubernetes-group-version-kind`; fields are
//! found through `properties`, `additionalProperties`, `items` and `$ref`
//! (`#/definitions/NAME`). A list merges by key when its `x-kubernetes-patch-strategy`
//! includes `merge`: by `x-kubernetes-list-map-keys` when given, else by
//! `x-kubernetes-patch-merge-key`, else as a set of scalars. `x-kubernetes-list-type`
//! alone does not make a list merge, as in kyaml.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{BuildError, Loader};

/// `$ref`s followed in a row before giving up (a cycle of definitions that refer only to
/// each other).
const MAX_REF_HOPS: usize = 64;

/// The only built-in schema version Kustomize v5.5 knows.
const BUILTIN_VERSION: &str = "v1.21.2";

/// The `openapi` field of a kustomization.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpenApiField {
    /// A schema file, relative to the kustomization.
    #[serde(default)]
    pub path: Option<String>,
    /// A built-in schema version (only `v1.21.2`).
    #[serde(default)]
    pub version: Option<String>,
    /// Other keys are ignored, as kubectl does (`format` included).
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, Value>,
}

/// A custom schema: its definitions, and which one describes each kind.
#[derive(Debug)]
pub(crate) struct Schema {
    definitions: Map<String, Value>,
    /// `(group, version, kind)` to a definition name.
    by_type: HashMap<(String, String, String), String>,
    /// Custom kinds the document's `paths` declare, and whether they are namespaced.
    namespaced: HashMap<(String, String, String), bool>,
}

/// How a list merges, as a schema says.
pub(crate) enum ListStrategy {
    /// Replaced by the patch's list.
    Replace,
    /// A set of scalars.
    Primitives,
    /// Maps identified by one key.
    Key(String),
    /// Maps identified by two keys (the first two `x-kubernetes-list-map-keys`).
    Keys(String, String),
}

/// The build's schema state.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// A kustomization has chosen a schema (custom or built-in); later ones are ignored.
    chosen: bool,
    /// The custom schema, when one was chosen.
    custom: Option<Arc<Schema>>,
}

impl Loader<'_> {
    /// The custom schema strategic merge patches use now, if any.
    pub(crate) fn openapi(&self) -> Option<Arc<Schema>> {
        self.openapi.borrow().custom.clone()
    }
}

/// Applies the `openapi` field of the kustomization in `dir` (`file`).
///
/// # Errors
/// A missing or malformed schema file, both `path` and `version`, an unknown version.
pub(crate) fn choose(
    loader: &Loader<'_>,
    dir: &Path,
    file: &str,
    field: Option<&OpenApiField>,
) -> Result<(), BuildError> {
    let Some(field) = field else {
        return Ok(());
    };
    // Kustomize reads the file before it looks whether a schema is already chosen.
    let text =
        match field.path.as_deref() {
            Some(path) => {
                let bytes = loader.read_local(dir, path)?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    BuildError::new(file, format!("openapi: {path:?} is not UTF-8"))
                })?)
            }
            None => None,
        };
    let mut state = loader.openapi.borrow_mut();
    if state.chosen {
        return Ok(());
    }
    let version = field.version.as_deref();
    if let Some(text) = text {
        if version.is_some() {
            return Err(BuildError::new(
                file,
                "openapi: builtin version and custom schema provided, cannot use both",
            ));
        }
        let path = field.path.as_deref().unwrap_or_default();
        let schema = Schema::parse(&text)
            .map_err(|m| BuildError::new(file, format!("openapi: {path:?}: {m}")))?;
        state.custom = Some(Arc::new(schema));
        state.chosen = true;
        return Ok(());
    }
    match version {
        None | Some("") => {}
        Some(BUILTIN_VERSION) => {
            state.chosen = true;
            state.custom = None;
        }
        Some(other) => {
            return Err(BuildError::new(
                file,
                format!(
                    "openapi: version {other:?}: the specified OpenAPI version is not built in \
                     (only {BUILTIN_VERSION})"
                ),
            ));
        }
    }
    Ok(())
}

impl Schema {
    /// Reads a Swagger document, in JSON or YAML.
    ///
    /// # Errors
    /// Malformed text, `definitions` that is not a map.
    fn parse(text: &str) -> Result<Self, String> {
        let value = if text.starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("invalid schema file: {e}"))?
        } else {
            weir_yaml::from_str_multi(text)
                .map_err(|e| format!("invalid schema file: {e}"))?
                .into_iter()
                .next()
                .unwrap_or(Value::Null)
        };
        super::limits::nested(&value, "the schema")?;
        let definitions = match value.get("definitions") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(d)) => d.clone(),
            Some(_) => return Err("invalid schema file: definitions must be a map".into()),
        };
        let mut by_type = HashMap::new();
        for (name, def) in &definitions {
            let gvks = match def.get("x-kubernetes-group-version-kind") {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(one @ Value::Object(_)) => vec![one],
                _ => continue,
            };
            for gvk in gvks {
                let text = |k: &str| {
                    gvk.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                by_type
                    .entry((text("group"), text("version"), text("kind")))
                    .or_insert_with(|| name.clone());
            }
        }
        Ok(Self {
            definitions,
            by_type,
            namespaced: namespaceability(&value),
        })
    }

    /// Whether the schema's `paths` declare the kind of `resource` cluster-scoped (only
    /// kinds outside the Kubernetes API groups: kubectl knows the scope of those itself).
    pub(crate) fn is_cluster_scoped(&self, resource: &Value) -> bool {
        let text = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or_default();
        let (group, version) = super::resource::split_api_version(text("apiVersion"));
        if group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io") {
            return false;
        }
        self.namespaced
            .get(&(group, version, text("kind").to_string()))
            == Some(&false)
    }

    /// The definition of a kind, if the schema has one.
    fn root(&self, api_version: &str, kind: &str) -> Option<&Value> {
        let (group, version) = super::resource::split_api_version(api_version);
        let name = self.by_type.get(&(group, version, kind.to_string()))?;
        self.definitions.get(name)
    }

    /// `schema` with its `$ref`s followed.
    fn resolve<'s>(&'s self, mut schema: &'s Value) -> Option<&'s Value> {
        for _ in 0..MAX_REF_HOPS {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                return Some(schema);
            };
            let name = r.strip_prefix("#/definitions/").unwrap_or(r);
            schema = self.definitions.get(name)?;
        }
        None
    }

    /// How the list at `path` (`/`-separated field names from the object's root) of a
    /// resource of `api_version` and `kind` merges.
    pub(crate) fn list_strategy(&self, api_version: &str, kind: &str, path: &str) -> ListStrategy {
        let Some(mut schema) = self.root(api_version, kind) else {
            return ListStrategy::Replace;
        };
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let Some(mut current) = self.resolve(schema) else {
                return ListStrategy::Replace;
            };
            // The elements of a list of maps, on the way to one of their fields.
            if let Some(items) = current.get("items").filter(|i| i.is_object()) {
                let Some(resolved) = self.resolve(items) else {
                    return ListStrategy::Replace;
                };
                current = resolved;
            }
            let next = current
                .get("properties")
                .and_then(|p| p.get(seg))
                .or_else(|| {
                    current
                        .get("additionalProperties")
                        .filter(|a| a.is_object())
                });
            let Some(next) = next else {
                return ListStrategy::Replace;
            };
            schema = next;
        }
        let resolved = self.resolve(schema);
        let ext = |key: &str| {
            schema
                .get(key)
                .or_else(|| resolved.and_then(|r| r.get(key)))
        };
        let merges = ext("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(',').any(|p| p == "merge"));
        if !merges {
            return ListStrategy::Replace;
        }
        let map_keys: Vec<String> = ext("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        match map_keys.as_slice() {
            [one] => return ListStrategy::Key(one.clone()),
            [first, second, ..] => return ListStrategy::Keys(first.clone(), second.clone()),
            [] => {}
        }
        match ext("x-kubernetes-patch-merge-key").and_then(Value::as_str) {
            Some(key) => ListStrategy::Key(key.to_string()),
            None => ListStrategy::Primitives,
        }
    }
}

/// The scope of each kind a `paths` entry's `get` names with
/// `x-kubernetes-group-version-kind`: namespaced when any of its paths has a
/// `/namespaces/{namespace}/` segment, cluster-scoped otherwise.
fn namespaceability(doc: &Value) -> HashMap<(String, String, String), bool> {
    let mut out = HashMap::new();
    let Some(Value::Object(paths)) = doc.get("paths") else {
        return out;
    };
    for (path, info) in paths {
        let Some(gvk) = info
            .get("get")
            .and_then(|g| g.get("x-kubernetes-group-version-kind"))
        else {
            continue;
        };
        let text = |k: &str| {
            gvk.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let key = (text("group"), text("version"), text("kind"));
        if path.contains("/namespaces/{namespace}/") {
            out.insert(key, true);
        } else {
            out.entry(key).or_insert(false);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_merge_by_the_keys_the_schema_gives() -> Result<(), String> {
        let s = Schema::parse(
            r##"{"definitions": {
                "K": {"properties": {"spec": {"$ref": "#/definitions/S"}},
                      "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "K"}]},
                "S": {"properties": {
                    "items": {"type": "array", "items": {"$ref": "#/definitions/I"},
                              "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "id"},
                    "typed": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]}}},
                "I": {"properties": {"tags": {"type": "array", "x-kubernetes-patch-strategy": "merge"}}}}}"##,
        )?;
        let at = |p: &str| s.list_strategy("example.com/v1", "K", p);
        assert!(matches!(at("spec/items"), ListStrategy::Key(k) if k == "id"));
        assert!(matches!(at("spec/items/tags"), ListStrategy::Primitives));
        assert!(matches!(at("spec/typed"), ListStrategy::Replace));
        assert!(matches!(
            s.list_strategy("example.com/v2", "K", "spec/items"),
            ListStrategy::Replace
        ));
        Ok(())
    }

    #[test]
    fn ref_cycles_end() -> Result<(), String> {
        let s = Schema::parse(
            r##"{"definitions": {"K": {"$ref": "#/definitions/L", "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "K"}},
                "L": {"$ref": "#/definitions/K"}}}"##,
        )?;
        assert!(matches!(
            s.list_strategy("v1", "K", "spec/x"),
            ListStrategy::Replace
        ));
        Ok(())
    }
}
