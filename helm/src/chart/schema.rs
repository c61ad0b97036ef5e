//! `values.schema.json`: a small JSON Schema (draft 7 core) validator with the messages
//! helm 4.1.4 prints (santhosh-tekuri/jsonschema v6 wording), e.g.
//!
//! ```text
//! values don't meet the specifications of the schema(s) in the following chart(s):
//! s1:
//! - at '': missing property 'name'
//! - at '/replicas': got string, want integer
//! ```
//!
//! Supported: `type`, `enum`, `const`, `required`, `properties`, `additionalProperties`,
//! `items` (one schema), `minItems`, `maxItems`, `minimum`, `maximum`, `minLength`,
//! `maxLength`, `pattern`, `allOf`, `anyOf`, `oneOf`, `not`, local `$ref`
//! (`#/definitions/..`). Helm prints properties in Go map order (random); here they are
//! sorted by name. `format` is not asserted (as in helm).

use serde_json::Value;

use super::{Chart, Values};

/// One violation (nested ones for `allOf`/`anyOf`/several keywords at one place).
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// JSON pointer of the value (`''` is the root).
    pub at: String,
    /// The message after `at '<ptr>': `.
    pub message: String,
    /// Causes.
    pub causes: Vec<Violation>,
}

const MAX_SCHEMA_DEPTH: usize = 64;

/// Validates values against a schema document.
///
/// # Errors
/// The schema is not JSON.
pub fn validate(schema: &[u8], values: &Values) -> Result<Vec<Violation>, String> {
    let schema: Value = serde_json::from_slice(schema).map_err(|e| format!("{e}"))?;
    let v = Value::Object(values.clone());
    let mut out = Vec::new();
    check(&schema, &schema, &v, "", &mut out, 0);
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(v: &Value, t: &str) -> bool {
    let actual = type_name(v);
    actual == t || (t == "number" && actual == "integer")
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => v.to_string(),
    }
}

fn violation(at: &str, message: String) -> Violation {
    Violation {
        at: at.to_string(),
        message,
        causes: Vec::new(),
    }
}

fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let ptr = r.strip_prefix('#')?;
    root.pointer(ptr)
}

fn check(root: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<Violation>, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Value::Object(s) = s else {
        if s == &Value::Bool(false) {
            out.push(violation(at, "false schema".into()));
        }
        return;
    };
    let mut here = Vec::new();
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if let Some(target) = resolve(root, r) {
            check(root, target, v, at, out, depth + 1);
        }
        return;
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.iter().any(|x| json_eq(x, v))
    {
        let list: Vec<String> = e.iter().map(quote_value).collect();
        out.push(violation(
            at,
            format!("value must be one of {}", list.join(", ")),
        ));
        return;
    }
    if let Some(c) = s.get("const")
        && !json_eq(c, v)
    {
        out.push(violation(at, format!("value must be {}", quote_value(c))));
        return;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| matches_type(v, t)) {
            out.push(violation(
                at,
                // helm v4 hands the validator float64s: every number is reported as one.
                format!(
                    "got {}, want {}",
                    match type_name(v) {
                        "integer" => "number",
                        other => other,
                    },
                    types.join(" or ")
                ),
            ));
            return;
        }
    }
    match v {
        Value::Object(m) => {
            if let Some(req) = s.get("required").and_then(Value::as_array) {
                let missing: Vec<String> = req
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|k| !m.contains_key(*k))
                    .map(|k| format!("'{k}'"))
                    .collect();
                if missing.len() == 1 {
                    here.push(violation(at, format!("missing property {}", missing[0])));
                } else if !missing.is_empty() {
                    here.push(violation(
                        at,
                        format!("missing properties {}", missing.join(", ")),
                    ));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut extra = Vec::new();
            for k in keys {
                let child_at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => check(root, ps, &m[k], &child_at, &mut here, depth + 1),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => extra.push(format!("'{k}'")),
                        Some(ap @ Value::Object(_)) => {
                            check(root, ap, &m[k], &child_at, &mut here, depth + 1);
                        }
                        _ => {}
                    },
                }
            }
            if !extra.is_empty() {
                // helm v4.1.4 says "properties" even for one.
                here.push(violation(
                    at,
                    format!("additional properties {} not allowed", extra.join(", ")),
                ));
            }
        }
        Value::Array(a) => {
            if let Some(n) = s.get("maxItems").and_then(Value::as_u64)
                && a.len() as u64 > n
            {
                here.push(violation(
                    at,
                    format!("maxItems: got {}, want {n}", a.len()),
                ));
            }
            if let Some(n) = s.get("minItems").and_then(Value::as_u64)
                && (a.len() as u64) < n
            {
                here.push(violation(
                    at,
                    format!("minItems: got {}, want {n}", a.len()),
                ));
            }
            if let Some(items @ Value::Object(_)) = s.get("items") {
                for (i, x) in a.iter().enumerate() {
                    check(root, items, x, &format!("{at}/{i}"), &mut here, depth + 1);
                }
            }
        }
        Value::String(st) => {
            let len = st.chars().count() as u64;
            if let Some(n) = s.get("minLength").and_then(Value::as_u64)
                && len < n
            {
                here.push(violation(at, format!("minLength: got {len}, want {n}")));
            }
            if let Some(n) = s.get("maxLength").and_then(Value::as_u64)
                && len > n
            {
                here.push(violation(at, format!("maxLength: got {len}, want {n}")));
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str)
                && let Ok(re) = regex::Regex::new(p)
                && !re.is_match(st)
            {
                here.push(violation(
                    at,
                    format!("'{st}' does not match pattern '{p}'"),
                ));
            }
        }
        Value::Number(_) => {
            let f = v.as_f64().unwrap_or(0.0);
            if let Some(m) = s.get("minimum")
                && m.as_f64().is_some_and(|m| f < m)
            {
                here.push(violation(
                    at,
                    format!("minimum: got {}, want {}", num(v), num(m)),
                ));
            }
            if let Some(m) = s.get("maximum")
                && m.as_f64().is_some_and(|m| f > m)
            {
                here.push(violation(
                    at,
                    format!("maximum: got {}, want {}", num(v), num(m)),
                ));
            }
        }
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut causes = Vec::new();
        for sub in all {
            check(root, sub, v, at, &mut causes, depth + 1);
        }
        if !causes.is_empty() {
            here.push(Violation {
                at: at.to_string(),
                message: "'allOf' failed".into(),
                causes,
            });
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        let mut causes = Vec::new();
        let mut ok = false;
        for sub in any {
            let mut c = Vec::new();
            check(root, sub, v, at, &mut c, depth + 1);
            ok |= c.is_empty();
            causes.extend(c);
        }
        if !ok {
            here.push(Violation {
                at: at.to_string(),
                message: "'anyOf' failed".into(),
                causes,
            });
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let mut matched = Vec::new();
        let mut causes = Vec::new();
        for (i, sub) in one.iter().enumerate() {
            let mut c = Vec::new();
            check(root, sub, v, at, &mut c, depth + 1);
            if c.is_empty() {
                matched.push(i.to_string());
            }
            causes.extend(c);
        }
        if matched.len() > 1 {
            here.push(violation(
                at,
                format!("'oneOf' failed, subschemas {} matched", matched.join(", ")),
            ));
        } else if matched.is_empty() {
            here.push(Violation {
                at: at.to_string(),
                message: "'oneOf' failed, none matched".into(),
                causes,
            });
        }
    }
    if let Some(not) = s.get("not") {
        let mut c = Vec::new();
        check(root, not, v, at, &mut c, depth + 1);
        if c.is_empty() {
            here.push(violation(at, "'not' failed".into()));
        }
    }
    // Several failures at one place (not children) group under "validation failed".
    let own = here.iter().filter(|x| x.at == at).count();
    if own + here.iter().filter(|x| x.at != at).count() > 1 && !at.is_empty() {
        out.push(Violation {
            at: at.to_string(),
            message: "validation failed".into(),
            causes: here,
        });
    } else {
        out.extend(here);
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

fn quote_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn render(v: &Violation, indent: usize, out: &mut String) {
    out.push_str(&format!(
        "{}- at '{}': {}\n",
        "  ".repeat(indent),
        v.at,
        v.message
    ));
    for c in &v.causes {
        render(c, indent + 1, out);
    }
}

/// Validates the final values of the chart and, recursively, of each subchart (its scope
/// `.Values.<name>`), as `helm template` does.
///
/// # Errors
/// Helm's message listing every chart with violations, or a schema that is not JSON.
pub fn validate_chart(chart: &Chart, values: &Values) -> Result<(), String> {
    let mut report = String::new();
    collect(chart, values, &mut report, 0)?;
    if report.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
        ))
    }
}

fn collect(
    chart: &Chart,
    values: &Values,
    report: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > super::MAX_CHART_DEPTH {
        return Ok(());
    }
    if let Some(schema) = &chart.schema {
        let violations = validate(schema, values)
            .map_err(|e| format!("{}: invalid values.schema.json: {e}", chart.name()))?;
        if !violations.is_empty() {
            report.push_str(&format!("{}:\n", chart.name()));
            for v in &violations {
                render(v, 0, report);
            }
        }
    }
    for sub in &chart.dependencies {
        let scope = match values.get(sub.name()) {
            Some(Value::Object(m)) => m.clone(),
            _ => Values::new(),
        };
        collect(sub, &scope, report, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_helm() {
        // helm 4.1.4, chart s1 with --set replicas=x (a string), name missing.
        let schema = br#"{"type":"object","required":["name","replicas"],"properties":{"replicas":{"type":"integer","minimum":2},"tag":{"enum":["a","b"]},"list":{"type":"array","items":{"type":"number"},"maxItems":1}},"additionalProperties":false}"#;
        let chart = Chart {
            metadata: crate::chart::Metadata {
                name: "s1".into(),
                ..Default::default()
            },
            schema: Some(schema.to_vec()),
            ..Default::default()
        };
        let Value::Object(v) = json!({"replicas": "x"}) else {
            return;
        };
        assert_eq!(
            validate_chart(&chart, &v).expect_err("fails"),
            "values don't meet the specifications of the schema(s) in the following chart(s):\ns1:\n- at '': missing property 'name'\n- at '/replicas': got string, want integer\n"
        );
        let Value::Object(v) = json!({"name": "n", "replicas": 1.0, "tag": "ZZ", "list": [1, "a"]})
        else {
            return;
        };
        let report = validate_chart(&chart, &v).expect_err("fails");
        assert!(report.contains("- at '/list': validation failed\n  - at '/list': maxItems: got 2, want 1\n  - at '/list/1': got string, want number\n"), "{report}");
        assert!(report.contains("- at '/replicas': minimum: got 1, want 2\n"));
        assert!(report.contains("- at '/tag': value must be one of 'a', 'b'\n"));
    }
}
