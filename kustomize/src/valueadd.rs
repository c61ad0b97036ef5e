//! The `ValueAddTransformer` built-in plugin: writes one value at field paths of selected
//! resources, as kubectl does:
//!
//! - `value` is trimmed; empty, it is the name of the kustomization's directory. It is
//!   written as a plain YAML scalar, so `"123"` becomes a number and `"true"` a boolean;
//! - `targets` (and the `targets` of the file `targetFilePath`, appended) each have an
//!   optional `selector` (as a patch target), a `fieldPath` (`/`-separated, `\/` escapes a
//!   slash, `[key=value]` picks or appends a list element, a number or `-` picks an element)
//!   and an optional `filePathPosition`: when positive, the value is inserted as a path part
//!   at that position (1 is first; past the end appends) of the path the field holds;
//! - `fieldPath: metadata/namespace` moves namespaced resources to the value (cluster-scoped
//!   ones stay) and sets the namespace of role binding subjects named `default`.
//!
//! Missing fields are created; a field that is a map or a list, or a path crossing a scalar,
//! is an error; a list index past the end does nothing.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::patch::{self, Selector};
use super::plugins::Config as PluginConfig;
use super::resource::{self, Resource};
use super::{BuildError, Loader};

/// The plugin's config.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(default)]
    value: String,
    #[serde(default)]
    targets: Vec<Target>,
    #[serde(default)]
    target_file_path: String,
}

/// Where to put the value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Target {
    #[serde(default)]
    selector: Option<Selector>,
    #[serde(default)]
    field_path: String,
    #[serde(default)]
    file_path_position: i64,
}

/// The file `targetFilePath` names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    #[serde(default)]
    targets: Vec<Target>,
}

/// Runs the config `c` (`cfg`, read from the kustomization in `dir`) over `resources`.
///
/// # Errors
/// No targets, an empty field path, a negative position, an unreadable target file, and a
/// field path that meets a map, a list or a scalar where it cannot go on.
pub(crate) fn apply(
    loader: &Loader,
    dir: &Path,
    c: &PluginConfig,
    mut cfg: Config,
    resources: &mut [Resource],
) -> Result<(), BuildError> {
    let mut value = cfg.value.trim().to_string();
    if value.is_empty() {
        value = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| ".".to_string());
    }
    if !cfg.target_file_path.is_empty() {
        let bytes = loader.read_local(dir, &cfg.target_file_path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| c.err(format!("{:?} is not UTF-8", cfg.target_file_path)))?;
        let doc = weir_yaml::from_str(&text)
            .map_err(|e| c.err(format!("{:?}: malformed YAML: {e}", cfg.target_file_path)))?;
        crate::limits::nested(&doc, "the target file").map_err(|m| c.err(m))?;
        let file: TargetFile = serde_json::from_value(if doc.is_null() {
            Value::Object(Map::new())
        } else {
            doc
        })
        .map_err(|e| c.err(format!("{:?}: {e}", cfg.target_file_path)))?;
        cfg.targets.extend(file.targets);
    }
    if cfg.targets.is_empty() {
        return Err(c.err("invalid plugin config: must specify at least one target"));
    }
    for t in &cfg.targets {
        if t.field_path.is_empty() {
            return Err(c.err("invalid plugin config: fieldPath cannot be empty"));
        }
        if t.file_path_position < 0 {
            return Err(c.err(format!(
                "invalid plugin config: value of FilePathPosition ({}) cannot be negative",
                t.file_path_position
            )));
        }
    }
    for t in &cfg.targets {
        let chosen: Vec<usize> = match &t.selector {
            None => (0..resources.len()).collect(),
            Some(sel) => patch::select(sel, resources).map_err(|m| c.err(m))?,
        };
        for i in chosen {
            let res = &mut resources[i];
            if t.field_path == "metadata/namespace" {
                set_namespace(res, &value);
                continue;
            }
            let id = res.id();
            let segments = segments(&t.field_path);
            if segments.len() > crate::MAX_NESTING {
                return Err(c.err(format!(
                    "fieldPath {:?} has more than {} parts (MAX_NESTING)",
                    t.field_path,
                    crate::MAX_NESTING
                )));
            }
            let Some(target) = lookup_create(&mut res.value, &segments)
                .map_err(|m| c.err(format!("{id}: fieldPath {:?}: {m}", t.field_path)))?
            else {
                continue;
            };
            let text = if t.file_path_position > 0 {
                let current = match &*target {
                    Value::Null => String::new(),
                    other => weir_yaml::scalar_text(other),
                };
                let position = usize::try_from(t.file_path_position - 1).unwrap_or(usize::MAX);
                insert_path_part(&current, position, &value)
            } else {
                value.clone()
            };
            loader
                .budget
                .charge(text.len() as u64)
                .map_err(|m| c.err(m))?;
            *target = weir_yaml::resolve_plain(&text);
        }
    }
    Ok(())
}

/// `metadata/namespace`, as Kustomize's namespace filter sets it: namespaced resources move,
/// cluster-scoped ones stay, and role binding subjects named `default` follow.
fn set_namespace(res: &mut Resource, ns: &str) {
    if matches!(res.kind(), "RoleBinding" | "ClusterRoleBinding") {
        crate::transform::set_role_binding_subjects(res, ns, "defaultOnly");
    }
    if !resource::is_cluster_scoped(res.kind()) && res.namespace() != ns {
        res.set_namespace(ns);
    }
}

/// The parts of a field path: split on `/` (`\/` is a slash in a part), empty parts dropped.
fn segments(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match out.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// A `[key=value]` part.
fn element_matcher(part: &str) -> Option<(&str, &str)> {
    part.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

/// A list index part: a number or `-` (the last element).
fn is_index(part: &str) -> bool {
    part == "-" || (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

/// The scalar at `parts`, created (with the maps and lists leading to it) when missing, as
/// kyaml's path lookup does. `None` when an index is past the end of its list.
fn lookup_create<'v>(
    value: &'v mut Value,
    parts: &[String],
) -> Result<Option<&'v mut Value>, String> {
    let mut current = value;
    for (i, part) in parts.iter().enumerate() {
        let next = parts.get(i + 1);
        if part == "*" {
            return Err("wildcard is not supported in PathGetter".into());
        }
        if let Some((key, wanted)) = element_matcher(part) {
            let Value::Array(items) = current else {
                return Err(format!(
                    "wrong node kind: expected SequenceNode but got {}",
                    kind_name(current)
                ));
            };
            let found = items.iter().position(|item| {
                item.get(key)
                    .is_some_and(|v| !v.is_object() && !v.is_array() && scalar(v) == wanted)
            });
            let at = match found {
                Some(at) => at,
                None => {
                    let mut element = Map::new();
                    element.insert(key.to_string(), Value::String(wanted.to_string()));
                    items.push(Value::Object(element));
                    items.len() - 1
                }
            };
            current = &mut items[at];
            continue;
        }
        if is_index(part) {
            let Value::Array(items) = current else {
                return Err(format!(
                    "wrong node kind: expected SequenceNode but got {}",
                    kind_name(current)
                ));
            };
            let at = if part == "-" {
                items.len().checked_sub(1)
            } else {
                part.parse::<usize>().ok().filter(|&n| n < items.len())
            };
            let Some(at) = at else { return Ok(None) };
            current = &mut items[at];
            continue;
        }
        if current.is_null() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else {
            return Err(format!(
                "wrong node kind: expected MappingNode but got {}",
                kind_name(current)
            ));
        };
        let child = map.entry(part.clone()).or_insert_with(|| match next {
            None => Value::Null,
            Some(n) if element_matcher(n).is_some() || is_index(n) => Value::Array(Vec::new()),
            Some(_) => Value::Object(Map::new()),
        });
        current = child;
    }
    if current.is_object() || current.is_array() {
        return Err(format!(
            "wrong node kind: expected ScalarNode but got {}",
            kind_name(current)
        ));
    }
    Ok(Some(current))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => weir_yaml::scalar_text(other),
    }
}

/// `part` inserted into the path `path` at `position` (0 is first; past the end appends),
/// keeping a leading `/`.
fn insert_path_part(path: &str, position: usize, part: &str) -> String {
    let (absolute, rest) = match path.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, path),
    };
    let mut parts: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    parts.insert(position.min(parts.len()), part);
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{insert_path_part, lookup_create, segments};

    #[test]
    fn a_path_part_goes_at_its_position_keeping_a_leading_slash() {
        for (path, position, want) in [
            ("", 0, "P"),
            ("/", 0, "/P"),
            ("pie", 0, "P/pie"),
            ("/pie", 0, "/P/pie"),
            ("raw", 1, "raw/P"),
            ("/raw", 9, "/raw/P"),
            ("a/nice/warm/pie", 3, "a/nice/warm/P/pie"),
        ] {
            assert_eq!(
                insert_path_part(path, position, "P"),
                want,
                "{path} {position}"
            );
        }
    }

    #[test]
    fn paths_split_on_slashes_unless_escaped_and_create_what_is_missing() {
        assert_eq!(segments("/a//b\\/c/d"), ["a", "b/c", "d"]);
        let mut v = json!({"spec": {"list": [{"name": "x"}]}});
        let parts: Vec<String> = ["spec", "list", "[name=y]", "image"]
            .map(String::from)
            .to_vec();
        assert!(matches!(lookup_create(&mut v, &parts), Ok(Some(_))));
        assert_eq!(v["spec"]["list"][1], json!({"name": "y", "image": null}));
        let past_end: Vec<String> = ["spec", "list", "5", "x"].map(String::from).to_vec();
        assert!(matches!(lookup_create(&mut v, &past_end), Ok(None)));
        let map: Vec<String> = ["spec"].map(String::from).to_vec();
        assert!(lookup_create(&mut v, &map).is_err());
    }
}
