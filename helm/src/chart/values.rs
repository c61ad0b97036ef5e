//! Values: reading values files, merging user values, and Helm's coalescing of chart
//! defaults, subchart scopes and globals.
//!
//! Recorded with helm 4.1.4:
//! - values files are read with YAML 1.1 rules and every number becomes a float64
//!   (`3` prints as `3`, `1000000` as `1e+06`); `--set` integers are int64;
//! - a file may hold several documents: their maps merge (maps recursively, anything else
//!   replaced by the later document); a document that is not a map is an error;
//! - a user `null` deletes the chart default (`helm template --set a=null`), a `null` written
//!   in the top chart's own `values.yaml` stays (`hasKey` is true), a `null` nested below a
//!   user map stays when the default below it is also `null`.

use serde_json::{Map, Number, Value};

use super::{Chart, MAX_CHART_DEPTH, Values};

/// Deepest nesting of maps and lists accepted in values (Helm has none; real charts stay
/// far below 50, and every recursive step here is bounded by it).
pub const MAX_VALUES_DEPTH: usize = 200;

/// The key whose table flows from a parent into every subchart.
pub const GLOBAL_KEY: &str = "global";

/// Reads a values file as Helm's `LoadValues` does: every YAML document, merged, numbers as
/// float64.
///
/// # Errors
/// Helm's message after `cannot load values.yaml: ` / `failed to parse <file>: `.
pub fn read_values(text: &str) -> Result<Values, String> {
    let docs = weir_yaml::from_str_helm_values(text).map_err(|e| {
        let at = if e.conversion {
            String::new()
        } else {
            format!("yaml: line {}: ", e.line)
        };
        format!(
            "cannot unmarshal yaml document: error converting YAML to JSON: {at}{}",
            e.message
        )
    })?;
    let mut out = Values::new();
    for doc in docs {
        check_depth(&doc, 0)?;
        match to_float64(doc) {
            Value::Null => {}
            Value::Object(map) => out = merge_maps(out, map),
            other => {
                return Err(format!(
                    "cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                ));
            }
        }
    }
    Ok(out)
}

/// Refuses values nested deeper than [`MAX_VALUES_DEPTH`].
///
/// # Errors
/// A message naming the limit.
pub fn check_depth(v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_VALUES_DEPTH {
        return Err(format!(
            "values are nested deeper than {MAX_VALUES_DEPTH} levels"
        ));
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_depth(x, depth + 1)),
        Value::Object(m) => m.values().try_for_each(|x| check_depth(x, depth + 1)),
        _ => Ok(()),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every number as a float64, as Go's `encoding/json` decodes into `interface{}`.
pub fn to_float64(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(to_float64).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, to_float64(x))).collect()),
        other => other,
    }
}

/// Helm's `MergeMaps` (documents of one file, and `-f` files with `--set` on top): `b` wins;
/// maps on both sides merge recursively.
pub fn merge_maps(mut a: Values, b: Values) -> Values {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                let merged = merge_maps(std::mem::take(old), new);
                *old = merged;
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

/// A `.`-separated table inside values, as Helm's `Values.Table`.
pub fn table<'a>(values: &'a Values, path: &str) -> Option<&'a Values> {
    let mut t = values;
    for part in path.split('.') {
        match t.get(part) {
            Some(Value::Object(m)) => t = m,
            _ => return None,
        }
    }
    Some(t)
}

/// Helm's `Values.PathValue`: the non-table value at a `.`-separated path.
pub fn path_value<'a>(values: &'a Values, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (table(values, p)?, k),
        None => (values, path),
    };
    match parent.get(key) {
        Some(Value::Object(_)) | None => None,
        Some(v) => Some(v),
    }
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// Helm's `CoalesceValues`: the chart's defaults (and, recursively, its subcharts') under
/// `user` values, with `null` deleting defaults, and each subchart's scope
/// (`.Values.<subchart>`) given the parent's `global` table.
pub fn coalesce(chart: &Chart, user: &Values) -> Values {
    let mut dest = user.clone();
    coalesce_chart(chart, &mut dest, "", false, 0);
    dest
}

/// Helm's `MergeValues`: like [`coalesce`] but `null`s are kept (used while importing
/// values, before the final coalescing).
pub fn merge(chart: &Chart, user: &Values) -> Values {
    let mut dest = user.clone();
    coalesce_chart(chart, &mut dest, "", true, 0);
    dest
}

fn coalesce_chart(chart: &Chart, dest: &mut Values, prefix: &str, merge: bool, depth: usize) {
    coalesce_defaults(chart, dest, prefix, merge);
    if depth >= MAX_CHART_DEPTH {
        return;
    }
    let sub_prefix = concat_prefix(prefix, chart.name());
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), Value::Object(Map::new()));
            }
            Some(Value::Object(_)) => {}
            // Helm fails here with "type mismatch"; the value stays as it is.
            Some(_) => continue,
        }
        let parent_globals = dest.get(GLOBAL_KEY).cloned();
        if let Some(Value::Object(scope)) = dest.get_mut(&name) {
            coalesce_globals(scope, parent_globals.as_ref());
            coalesce_chart(sub, scope, &sub_prefix, merge, depth + 1);
        }
    }
}

/// Copies the parent's `global` table into a subchart's scope: parent values win, tables
/// merge.
fn coalesce_globals(dest: &mut Values, src_global: Option<&Value>) {
    let mut dg = match dest.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src_global {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        match val {
            Value::Object(vv) => match dg.get(&key) {
                None => {
                    dg.insert(key, Value::Object(vv));
                }
                Some(Value::Object(destv)) => {
                    let mut vv = vv;
                    coalesce_tables(&mut vv, destv.clone(), true, 0);
                    dg.insert(key, Value::Object(vv));
                }
                Some(_) => {}
            },
            other => {
                if !matches!(dg.get(&key), Some(Value::Object(_))) {
                    dg.insert(key, other);
                }
            }
        }
    }
    dest.insert(GLOBAL_KEY.into(), Value::Object(dg));
}

/// Fills `v` with the chart's defaults: keys already in `v` win, `null` in `v` deletes the
/// default (unless merging), maps merge (a subchart's table always with `merge`).
fn coalesce_defaults(chart: &Chart, v: &mut Values, _prefix: &str, merge: bool) {
    for (key, val) in &chart.values {
        match v.get_mut(key) {
            Some(Value::Null) if !merge => {
                v.remove(key);
            }
            Some(Value::Object(dest)) => {
                if let Value::Object(src) = val {
                    let child_merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(dest, src.clone(), child_merge, 0);
                }
            }
            Some(_) => {}
            None => {
                v.insert(key.clone(), val.clone());
            }
        }
    }
}

/// Helm's `coalesceTablesFullKey`: `src` under `dst`. `dst` wins; maps merge; a `null` in
/// `dst` over a non-null default deletes the key (unless merging); a `null` over a `null`
/// stays.
pub fn coalesce_tables(dst: &mut Values, mut src: Values, merge: bool, depth: usize) {
    if depth > MAX_VALUES_DEPTH {
        return;
    }
    let non_nil: std::collections::BTreeSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in dst.iter() {
        if v.is_null() {
            src.insert(k.clone(), Value::Null);
        }
    }
    for (key, val) in src {
        match dst.get_mut(&key) {
            Some(Value::Null) if !merge && non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(Value::Object(dv)) => {
                if let Value::Object(sv) = val {
                    coalesce_tables(dv, sv, merge, depth + 1);
                }
            }
            Some(_) => {}
        }
    }
}

/// Merges the user's values in Helm's order: each `-f` file, then `--set`-style
/// assignments already applied by [`super::strvals`] onto the result.
pub fn merge_user_values(files: Vec<Values>) -> Values {
    files.into_iter().fold(Values::new(), merge_maps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Values {
        match v {
            Value::Object(m) => m,
            _ => Values::new(),
        }
    }

    #[test]
    fn values_files_read_like_helm() {
        // helm 4.1.4: `a: [1] m: {x: 1} --- a: [2] b: 1 m: {y: 2}` renders
        // {"a":[2],"b":1,"m":{"true":2,"x":1}} (y is a YAML 1.1 boolean key).
        let v =
            read_values("a: [1]\nm: {x: 1}\n---\na: [2]\nb: 1\nm: {y: 2}\n---\n").expect("reads");
        assert_eq!(
            Value::Object(v.clone()),
            json!({"a":[2.0],"b":1.0,"m":{"true":2.0,"x":1.0}})
        );
        assert!(v["b"].as_f64().is_some() && !v["b"].is_i64());
        assert_eq!(read_values("").expect("empty"), Values::new());
        assert_eq!(read_values("~").expect("null"), Values::new());
        assert_eq!(read_values("a: 1\na: 2\n").expect("dup")["a"], json!(2.0));
        assert_eq!(
            read_values("- 1").expect_err("fails"),
            "cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn path_value_skips_tables() {
        let v = obj(json!({"a": {"b": true, "t": {}}, "c": 1}));
        assert_eq!(path_value(&v, "a.b"), Some(&json!(true)));
        assert_eq!(path_value(&v, "a.t"), None);
        assert_eq!(path_value(&v, "c"), Some(&json!(1)));
        assert_eq!(path_value(&v, "x.y"), None);
    }

    #[test]
    fn coalesce_tables_null_rules() {
        let mut dst = obj(json!({"a": null, "b": null, "m": {"x": 1}}));
        coalesce_tables(
            &mut dst,
            obj(json!({"a": 1, "b": null, "c": 2, "m": {"y": 2}})),
            false,
            0,
        );
        assert_eq!(
            Value::Object(dst),
            json!({"b": null, "c": 2, "m": {"x": 1, "y": 2}})
        );
    }
}
