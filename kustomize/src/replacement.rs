//! `replacements`: copy a field of one resource into fields of others, with Kustomize's field
//! path syntax (`spec.containers.[name=web].image`, `*`, numeric indexes) and the
//! `delimiter`/`index`/`create` options.
//!
//! As in Kustomize, a numeric index past the end of a list fails (with `create`, the index
//! just past the end appends one element), and a delimiter `index` below zero prepends a
//! part and one past the last part appends one: nothing is allocated from an index. Field
//! paths may have at most [`MAX_NESTING`] segments, and a written target may not end up
//! nested more deeply than that.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::limits::{Budget, MAX_NESTING, measure, nested};
use super::patch::{Selector, select};
use super::resource::Resource;
use super::{BuildError, Loader};

/// An entry of `replacements`: inline, or a file holding one replacement or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ReplacementEntry {
    /// `path: file.yaml`.
    File {
        /// The file.
        path: String,
    },
    /// An inline replacement.
    Inline(Replacement),
}

/// One replacement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// Where the value comes from.
    pub source: Source,
    /// Where it goes.
    pub targets: Vec<Target>,
}

/// The source of a replacement: exactly one resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// API group.
    #[serde(default)]
    pub group: Option<String>,
    /// API version.
    #[serde(default)]
    pub version: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Field path, default `metadata.name`.
    #[serde(default)]
    pub field_path: Option<String>,
    /// Take one part of the value.
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// Targets of a replacement.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// Resources to change.
    pub select: Selector,
    /// Resources to leave alone.
    #[serde(default)]
    pub reject: Vec<Selector>,
    /// Field paths to set.
    pub field_paths: Vec<String>,
    /// Options.
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// `options` of a source or target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldOptions {
    /// Split the string value on this.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Which part, after splitting.
    #[serde(default)]
    pub index: i64,
    /// Create missing fields in targets.
    #[serde(default)]
    pub create: bool,
}

/// Runs the replacements in order.
///
/// # Errors
/// Missing or ambiguous sources, missing target fields without `create`, bad paths.
pub fn apply(
    loader: &Loader,
    dir: &Path,
    file: &str,
    entries: &[ReplacementEntry],
    resources: &mut [Resource],
) -> Result<(), BuildError> {
    let err = |m: String| BuildError::new(file, format!("replacements: {m}"));
    for entry in entries {
        let list: Vec<Replacement> = match entry {
            ReplacementEntry::Inline(r) => vec![r.clone()],
            ReplacementEntry::File { path } => {
                let text = String::from_utf8(loader.read_local(dir, path)?)
                    .map_err(|_| err(format!("{path:?} is not UTF-8")))?;
                // As in kubectl, a key written twice takes its later value.
                let later = weir_yaml::DuplicateKeys::LaterWins;
                let value = weir_yaml::from_str_multi_with(&text, false, later)
                    .map_err(|e| err(format!("{path:?}: malformed YAML: {e}")))?
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Null);
                let items = if value.is_array() {
                    value
                } else {
                    Value::Array(vec![value])
                };
                serde_json::from_value(items).map_err(|e| err(format!("{path:?}: {e}")))?
            }
        };
        for r in &list {
            loader.budget.deadline().map_err(err)?;
            replace(r, resources, loader.budget).map_err(err)?;
        }
    }
    Ok(())
}

fn replace(r: &Replacement, resources: &mut [Resource], budget: &Budget) -> Result<(), String> {
    let s = &r.source;
    let matches: Vec<&Resource> = resources
        .iter()
        .filter(|res| {
            let id = res.id();
            s.group.as_ref().is_none_or(|g| *g == id.group)
                && s.version.as_ref().is_none_or(|v| *v == id.version)
                && s.kind.as_ref().is_none_or(|k| *k == id.kind)
                && s.name.as_ref().is_none_or(|n| *n == id.name)
                && s.namespace.as_ref().is_none_or(|n| *n == id.namespace)
        })
        .collect();
    let describe = || {
        format!(
            "{} {}",
            s.kind.as_deref().unwrap_or("*"),
            s.name.as_deref().unwrap_or("*")
        )
    };
    let source = match matches.as_slice() {
        [] => return Err(format!("nothing selected by source {}", describe())),
        [one] => *one,
        _ => return Err(format!("multiple matches for source {}", describe())),
    };
    let path = s
        .field_path
        .clone()
        .unwrap_or_else(|| "metadata.name".into());
    let mut found = None;
    let mut src_value = source.value.clone();
    walk(&mut src_value, &split_path(&path)?, false, &mut |v| {
        if found.is_none() {
            found = Some(v.clone());
        }
        Ok(())
    })?;
    let mut value =
        found.ok_or_else(|| format!("source field {path:?} not found in {}", source.id()))?;
    if let Some(opts) = &s.options
        && let Some(d) = &opts.delimiter
    {
        let text = value
            .as_str()
            .ok_or_else(|| format!("source field {path:?} is not a string: cannot split it"))?
            .to_string();
        let parts: Vec<&str> = text.split(d.as_str()).collect();
        let part = usize::try_from(opts.index)
            .ok()
            .and_then(|i| parts.get(i))
            .ok_or_else(|| {
                format!(
                    "options.index {} is out of bounds for value {text:?}",
                    opts.index
                )
            })?;
        value = Value::String((*part).to_string());
    }
    let size = measure(&value).bytes;
    for target in &r.targets {
        let selected = select(&target.select, resources)?;
        for i in selected {
            let mut rejected = false;
            for rej in &target.reject {
                if select(rej, &resources[i..=i])?.contains(&0) {
                    rejected = true;
                }
            }
            if rejected {
                continue;
            }
            let opts = target.options.clone().unwrap_or_default();
            for fp in &target.field_paths {
                let id = resources[i].id();
                let mut hits = 0;
                walk(
                    &mut resources[i].value,
                    &split_path(fp)?,
                    opts.create,
                    &mut |t| {
                        hits += 1;
                        budget.charge(size)?;
                        set(t, &value, &opts)
                    },
                )
                .map_err(|m| format!("{id}: {m}"))?;
                nested(&resources[i].value, &format!("{id} after replacing {fp:?}"))?;
                if hits == 0 {
                    return Err(format!(
                        "unable to find field {fp:?} in replacement target {id}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Writes `value` at a target, keeping a scalar target's type (a number stays a number).
/// A target that `create` just made has no type: as in Kustomize, a string written there is
/// typed by its text (`"5432"` becomes the number 5432, `"true"` a boolean).
fn set(target: &mut Value, value: &Value, opts: &FieldOptions) -> Result<(), String> {
    let created = target.is_null();
    let value = match (&opts.delimiter, &*target) {
        (Some(d), Value::String(current)) => Value::String(set_part(current, d, opts.index, value)),
        (Some(d), Value::Null) => Value::String(set_part("", d, opts.index, value)),
        _ => value.clone(),
    };
    *target = match (&*target, &value) {
        (Value::Number(_) | Value::Bool(_), v) if !v.is_object() && !v.is_array() => {
            let text = weir_yaml::scalar_text(v);
            match weir_yaml::from_str(&text) {
                Ok(parsed @ (Value::Number(_) | Value::Bool(_))) => parsed,
                _ => Value::String(text),
            }
        }
        (Value::String(_), Value::Number(_) | Value::Bool(_)) => {
            Value::String(weir_yaml::scalar_text(&value))
        }
        (Value::Null, Value::String(text)) if created => typed(text).unwrap_or(value),
        _ => value,
    };
    Ok(())
}

/// The number or boolean a plain scalar `text` reads as, if any (numbers and booleans are
/// short: longer text is not parsed at all).
fn typed(text: &str) -> Option<Value> {
    if text.len() > 64 || text.contains(['\n', '#', ':', '[', '{', '&', '*', '!', '|', '>']) {
        return None;
    }
    match weir_yaml::from_str(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => Some(v),
        _ => None,
    }
}

/// `current` split on `delimiter` with part `index` set to `value`, as Kustomize does: an
/// index below zero prepends a part, one past the last part appends one.
fn set_part(current: &str, delimiter: &str, index: i64, value: &Value) -> String {
    let mut parts: Vec<String> = current.split(delimiter).map(str::to_string).collect();
    let text = weir_yaml::scalar_text(value);
    match usize::try_from(index) {
        Err(_) => parts.insert(0, text),
        Ok(i) if i >= parts.len() => parts.push(text),
        Ok(i) => parts[i] = text,
    }
    parts.join(delimiter)
}

/// Splits on `.` outside `[...]`.
///
/// # Errors
/// More than [`MAX_NESTING`] segments.
fn split_path(path: &str) -> Result<Vec<String>, String> {
    let out = split_segments(path);
    if out.len() > MAX_NESTING {
        return Err(format!(
            "field path {:?}… has {} segments, more than the limit of {MAX_NESTING} (MAX_NESTING)",
            path.chars().take(40).collect::<String>(),
            out.len()
        ));
    }
    Ok(out)
}

fn split_segments(path: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn walk(
    value: &mut Value,
    segs: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((seg, rest)) = segs.split_first() else {
        return f(value);
    };
    if value.is_null() && create {
        *value = if seg.starts_with('[') || seg == "*" {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        };
    }
    match value {
        Value::Array(items) => {
            if seg == "*" {
                for item in items.iter_mut() {
                    walk(item, rest, create, f)?;
                }
                return Ok(());
            }
            if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let (k, v) = inner
                    .split_once('=')
                    .ok_or_else(|| format!("bad list selector {seg:?}"))?;
                let mut matched = false;
                for item in items.iter_mut() {
                    if item.get(k).map(weir_yaml::scalar_text).as_deref() == Some(v) {
                        matched = true;
                        walk(item, rest, create, f)?;
                    }
                }
                if !matched && create {
                    let mut m = Map::new();
                    m.insert(k.to_string(), Value::String(v.to_string()));
                    items.push(Value::Object(m));
                    if let Some(last) = items.last_mut() {
                        walk(last, rest, create, f)?;
                    }
                }
                return Ok(());
            }
            let idx: usize = seg
                .parse()
                .map_err(|_| format!("{seg:?} cannot index a list"))?;
            if idx == items.len() && create {
                items.push(Value::Null);
            }
            let len = items.len();
            match items.get_mut(idx) {
                Some(item) => walk(item, rest, create, f),
                None => Err(format!(
                    "index {idx} specified but only {len} elements found"
                )),
            }
        }
        Value::Object(map) => {
            let key = seg
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(seg);
            if !map.contains_key(key) {
                if !create {
                    return Ok(());
                }
                map.insert(key.to_string(), Value::Null);
            }
            match map.get_mut(key) {
                Some(next) => walk(next, rest, create, f),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delimiter_indexes_past_either_end_add_a_part_as_in_kustomize() {
        // `kubectl kustomize` (v5.5) on target "a-b" with delimiter "-" and value "nginx".
        for (index, want) in [
            (0, "nginx-b"),
            (1, "a-nginx"),
            (2, "a-b-nginx"),
            (3, "a-b-nginx"),
            (100_000_000_000, "a-b-nginx"),
            (i64::MAX, "a-b-nginx"),
            (-1, "nginx-a-b"),
            (i64::MIN, "nginx-a-b"),
        ] {
            assert_eq!(
                set_part("a-b", "-", index, &json!("nginx")),
                want,
                "{index}"
            );
        }
        // A missing target created with `create: true` is the empty string.
        assert_eq!(set_part("", "-", 1, &json!("nginx")), "-nginx");
        assert_eq!(set_part("", "-", -1, &json!("nginx")), "nginx-");
    }

    #[test]
    fn list_indexes_past_the_end_fail_before_allocating() -> Result<(), String> {
        let mut v = json!({"c": [{"name": "a"}]});
        for create in [false, true] {
            for idx in ["2", "100000000000", "18446744073709551615"] {
                let err = walk(
                    &mut v,
                    &split_path(&format!("c.{idx}.image"))?,
                    create,
                    &mut |_| Ok(()),
                )
                .expect_err("out of range");
                assert!(err.contains("only 1 elements found"), "{err}");
            }
        }
        walk(&mut v, &split_path("c.1.image")?, true, &mut |t| {
            *t = json!("x");
            Ok(())
        })?;
        assert_eq!(v, json!({"c": [{"name": "a"}, {"image": "x"}]}));
        let long = vec!["a"; MAX_NESTING + 1].join(".");
        assert!(
            split_path(&long)
                .expect_err("too long")
                .contains("MAX_NESTING")
        );
        Ok(())
    }
}
