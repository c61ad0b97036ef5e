//! RFC 6902 JSON patches (`add`, `remove`, `replace`, `move`, `copy`, `test`) with RFC 6901
//! pointers, as Kustomize applies them.
//!
//! Every value an operation writes is measured first and charged to the build's budget, so
//! repeated `copy` operations (each doubling the document) fail before they allocate, and
//! nothing can be nested more than [`MAX_NESTING`](crate::MAX_NESTING) deep. The whole
//! document (`path: ""`) may only be the target of `replace` and `test`, as in Kustomize
//! (evanphx/json-patch): replacing it with an object replaces the resource, with a list
//! fails, and with a scalar or null changes nothing.

use serde_json::Value;

use crate::limits::{Budget, MAX_NESTING, measure};

/// Applies a list of operations in order.
///
/// # Errors
/// A malformed operation, a path that does not exist where it must, or a failed `test`,
/// naming the operation's position.
pub fn apply(doc: &mut Value, ops: &Value, budget: &Budget) -> Result<(), String> {
    let Value::Array(ops) = ops else {
        return Err("a JSON 6902 patch must be a list of operations".into());
    };
    for (i, op) in ops.iter().enumerate() {
        budget.deadline()?;
        apply_one(doc, op, budget).map_err(|m| format!("operation {i} ({}): {m}", op_name(op)))?;
    }
    Ok(())
}

/// Charges `value`, about to be written at `path`, to the budget and checks how deeply it
/// would be nested.
fn admit(value: &Value, path: &str, budget: &Budget) -> Result<(), String> {
    let m = measure(value);
    let depth = tokens(path)?.len() + m.depth;
    if depth > MAX_NESTING {
        return Err(format!(
            "the result would be nested {depth} levels deep, more than the limit of \
             {MAX_NESTING} (MAX_NESTING)"
        ));
    }
    budget.charge(m.bytes)
}

fn op_name(op: &Value) -> String {
    format!(
        "{} {}",
        op.get("op").and_then(Value::as_str).unwrap_or("?"),
        op.get("path").and_then(Value::as_str).unwrap_or("?")
    )
}

fn apply_one(doc: &mut Value, op: &Value, budget: &Budget) -> Result<(), String> {
    let kind = op
        .get("op")
        .and_then(Value::as_str)
        .ok_or("missing \"op\"")?;
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or("missing \"path\"")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| "missing \"value\"".to_string())
    };
    let from = || {
        op.get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| "missing \"from\"".to_string())
    };
    let whole = |what: &str| format!("{what}: the whole document cannot be the target");
    match kind {
        "add" if path.is_empty() => Err(whole("path")),
        "add" => {
            let v = value()?;
            admit(&v, path, budget)?;
            add(doc, path, v)
        }
        "remove" => remove(doc, path).map(|_| ()),
        "replace" if path.is_empty() => {
            let v = value()?;
            match v {
                Value::Object(_) => {
                    admit(&v, path, budget)?;
                    *doc = v;
                    Ok(())
                }
                Value::Array(_) => Err("cannot replace the whole document with a list".into()),
                // Kustomize's JSON patch library ignores a scalar root replacement.
                _ => Ok(()),
            }
        }
        "replace" => {
            let v = value()?;
            admit(&v, path, budget)?;
            let target = get_mut(doc, path)?;
            *target = v;
            Ok(())
        }
        "move" | "copy" if path.is_empty() => Err(whole("path")),
        "move" => {
            let from = from()?;
            if from.is_empty() {
                return Err(whole("from"));
            }
            let v = remove(doc, from)?;
            add(doc, path, v)
        }
        "copy" => {
            let from = from()?;
            if from.is_empty() {
                return Err(whole("from"));
            }
            // Measured and charged before the copy is made.
            admit(get_mut(doc, from)?, path, budget)?;
            let v = get_mut(doc, from)?.clone();
            add(doc, path, v)
        }
        "test" => {
            let v = value()?;
            if *get_mut(doc, path)? == v {
                Ok(())
            } else {
                Err("test failed: value differs".into())
            }
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("path {path:?} must start with '/'"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let i: usize = token
        .parse()
        .map_err(|_| format!("{token:?} is not an array index"))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("index {i} is out of range"));
    }
    Ok(i)
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(&t)
                .ok_or_else(|| format!("{path:?} does not exist"))?,
            Value::Array(a) => {
                let i = index(&t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("{path:?} does not exist")),
        };
    }
    Ok(cur)
}

fn split_parent(path: &str) -> Result<(String, String), String> {
    let mut toks = tokens(path)?;
    let last = toks.pop().ok_or("the root cannot be the target")?;
    let parent = toks
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect();
    Ok((parent, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (parent, last) = split_parent(path)?;
    match get_mut(doc, &parent)? {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            let i = index(&last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("parent of {path:?} is not an object or array")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_parent(path)?;
    match get_mut(doc, &parent)? {
        Value::Object(m) => m
            .remove(&last)
            .ok_or_else(|| format!("{path:?} does not exist")),
        Value::Array(a) => {
            let i = index(&last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(format!("{path:?} does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::BuildLimits;
    use serde_json::json;

    fn apply(doc: &mut Value, ops: &Value) -> Result<(), String> {
        super::apply(doc, ops, &Budget::new(&BuildLimits::default()))
    }

    #[test]
    fn operations_follow_rfc_6902() -> Result<(), String> {
        let mut d = json!({"a": {"b": [1, 2]}, "c": "x", "d~/e": 1});
        apply(
            &mut d,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "replace", "path": "/c", "value": "y"},
                {"op": "move", "from": "/c", "path": "/moved"},
                {"op": "copy", "from": "/moved", "path": "/copied"},
                {"op": "remove", "path": "/d~0~1e"},
                {"op": "test", "path": "/a/b/3", "value": 3}
            ]),
        )?;
        assert_eq!(
            d,
            json!({"a": {"b": [0, 1, 2, 3]}, "moved": "y", "copied": "y"})
        );
        let err = apply(&mut d, &json!([{"op": "remove", "path": "/nope"}])).expect_err("missing");
        assert!(err.contains("operation 0 (remove /nope)"), "{err}");
        Ok(())
    }

    #[test]
    fn the_whole_document_is_replaced_by_an_object_only_as_in_kustomize() -> Result<(), String> {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "x"}});
        let mut d = cm.clone();
        for scalar in [json!("str"), json!(42), json!(null)] {
            apply(
                &mut d,
                &json!([{"op": "replace", "path": "", "value": scalar}]),
            )?;
            assert_eq!(d, cm);
        }
        let list = apply(
            &mut d,
            &json!([{"op": "replace", "path": "", "value": [1]}]),
        );
        assert!(list.expect_err("a list").contains("with a list"));
        for op in [
            json!({"op": "add", "path": "", "value": {}}),
            json!({"op": "remove", "path": ""}),
            json!({"op": "copy", "from": "", "path": "/self"}),
            json!({"op": "copy", "from": "/kind", "path": ""}),
            json!({"op": "move", "from": "/kind", "path": ""}),
        ] {
            assert!(apply(&mut d, &json!([op])).is_err(), "{op}");
        }
        assert_eq!(d, cm);
        apply(
            &mut d,
            &json!([{"op": "replace", "path": "", "value": {"kind": "Secret"}}]),
        )?;
        assert_eq!(d, json!({"kind": "Secret"}));
        Ok(())
    }

    #[test]
    fn repeated_copies_fail_on_the_budget_before_copying() {
        let mut d = json!({"l": {"x": "0123456789"}});
        let mut ops = vec![];
        for i in 0..40 {
            ops.push(json!({"op": "copy", "from": "/l", "path": format!("/l/c{i}")}));
        }
        let budget = Budget::new(&BuildLimits {
            max_bytes: 1 << 20,
            ..BuildLimits::default()
        });
        let err = super::apply(&mut d, &Value::Array(ops), &budget).expect_err("amplifies");
        assert!(err.contains("max_bytes"), "{err}");
        assert!(measure(&d).bytes < 1 << 20);
    }

    #[test]
    fn copies_into_themselves_stop_at_the_nesting_limit() {
        let mut d = json!({"a": {}});
        let ops: Vec<Value> = (0..1000)
            .map(|_| json!({"op": "copy", "from": "/a", "path": "/a/a"}))
            .collect();
        let err = apply(&mut d, &Value::Array(ops)).expect_err("too deep");
        assert!(err.contains("MAX_NESTING"), "{err}");
    }
}
