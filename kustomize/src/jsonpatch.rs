//! RFC 6902 JSON patches (`add`, `remove`, `replace`, `move`, `copy`, `test`) with RFC 6901
//! pointers, as Kustomize applies them.

use serde_json::Value;

/// Applies a list of operations in order.
///
/// # Errors
/// A malformed operation, a path that does not exist where it must, or a failed `test`,
/// naming the operation's position.
pub fn apply(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let Value::Array(ops) = ops else {
        return Err("a JSON 6902 patch must be a list of operations".into());
    };
    for (i, op) in ops.iter().enumerate() {
        apply_one(doc, op).map_err(|m| format!("operation {i} ({}): {m}", op_name(op)))?;
    }
    Ok(())
}

fn op_name(op: &Value) -> String {
    format!(
        "{} {}",
        op.get("op").and_then(Value::as_str).unwrap_or("?"),
        op.get("path").and_then(Value::as_str).unwrap_or("?")
    )
}

fn apply_one(doc: &mut Value, op: &Value) -> Result<(), String> {
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
    match kind {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(|_| ()),
        "replace" => {
            let v = value()?;
            let target = get_mut(doc, path)?;
            *target = v;
            Ok(())
        }
        "move" => {
            let from = from()?;
            let v = remove(doc, from)?;
            add(doc, path, v)
        }
        "copy" => {
            let v = get_mut(doc, from()?)?.clone();
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
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
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
    use serde_json::json;

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
}
