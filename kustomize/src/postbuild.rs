//! `postBuild` variable substitution with Flux's syntax: `${var}`, `${var:=default}`,
//! `${var:-default}`, and `$${var}` for a literal `${var}`. Strict: a variable that is
//! neither set nor defaulted fails the build, naming the variable and the object.

use std::collections::BTreeMap;

use serde_json::Value;

/// Objects with this annotation set to `disabled` are not substituted.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.weir.dev/substitute";

/// Substitutes variables in every object (through its YAML text, so that values can become
/// numbers or booleans as in Flux).
///
/// # Errors
/// An unset variable without default, or a result that is no longer valid YAML.
pub fn substitute(
    objects: Vec<Value>,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<Value>, String> {
    objects
        .into_iter()
        .map(|obj| {
            let disabled = obj
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(SUBSTITUTE_ANNOTATION))
                .and_then(Value::as_str)
                == Some("disabled");
            if disabled {
                return Ok(obj);
            }
            let text = weir_yaml::to_string(&obj);
            if !text.contains('$') {
                return Ok(obj);
            }
            let name = describe(&obj);
            let replaced = expand(&text, vars).map_err(|m| format!("{name}: {m}"))?;
            weir_yaml::from_str(&replaced)
                .map_err(|e| format!("{name}: substitution produced invalid YAML: {e}"))
        })
        .collect()
}

fn describe(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Expands `${...}` references in `text`.
///
/// # Errors
/// An unset variable without default.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if after.starts_with("$${") {
            // Escaped: `$${var}` prints `${var}`.
            let end = after.find('}').map_or(after.len(), |e| e + 1);
            out.push_str(&after[1..end]);
            rest = &after[end..];
            continue;
        }
        if !after.starts_with("${") {
            out.push('$');
            rest = &after[1..];
            continue;
        }
        let Some(end) = after.find('}') else {
            out.push_str(after);
            rest = "";
            break;
        };
        let body = &after[2..end];
        let (name, default) = match body.find(":=").or_else(|| body.find(":-")) {
            Some(i) => (&body[..i], Some(&body[i + 2..])),
            None => (body, None),
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            // Not a variable reference (e.g. a shell snippet): keep it.
            out.push_str(&after[..=end]);
            rest = &after[end + 1..];
            continue;
        }
        match (vars.get(name), default) {
            (Some(v), _) => out.push_str(v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(format!("variable {name:?} is not set and has no default")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("env".to_string(), "prod".to_string()),
            ("replicas".to_string(), "3".to_string()),
        ])
    }

    #[test]
    fn expands_defaults_and_escapes() -> Result<(), String> {
        assert_eq!(
            expand("a-${env}-${missing:=x}-${other:-y}-$${env}-$HOME", &vars())?,
            "a-prod-x-y-${env}-$HOME"
        );
        let err = expand("${nope}", &vars()).expect_err("strict");
        assert!(err.contains("\"nope\""), "{err}");
        Ok(())
    }

    #[test]
    fn values_are_retyped_and_disabled_objects_skipped() -> Result<(), String> {
        let objs = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-${env}"}, "spec": {"replicas": "${replicas}"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "raw", "annotations": {SUBSTITUTE_ANNOTATION: "disabled"}}, "data": {"x": "${nope}"}}),
        ];
        let out = substitute(objs, &vars())?;
        assert_eq!(out[0]["metadata"]["name"], "web-prod");
        assert_eq!(
            out[0]["spec"]["replicas"],
            json!(3),
            "an unquoted substitution becomes a number, as in Flux"
        );
        assert_eq!(out[1]["data"]["x"], "${nope}");
        Ok(())
    }
}
