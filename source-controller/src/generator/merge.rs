//! The Merge strategy's YAML deep merge, as Flux's source-watcher does it:
//!
//! - Each file is split into documents at lines starting with `---` (Kubernetes'
//!   `utilyaml.NewYAMLReader`: after the marker only spaces or a `#` comment may follow), and
//!   each document is read as `sigs.k8s.io/yaml.Unmarshal` reads into `map[string]any`: YAML
//!   1.1 scalars, a repeated key's later value wins, every number a Go `float64`. A document
//!   that is empty or `null` adds nothing; any other non-mapping document is an error.
//! - The documents of a file are deep-merged in order into one mapping, then the source's
//!   mapping is deep-merged onto the destination's: mappings merge key by key, recursively;
//!   any other value (lists included) replaces the value it lands on (Helm's `--values`
//!   semantics).
//! - The result is printed as `sigs.k8s.io/yaml.Marshal` prints it: through JSON, so keys
//!   sorted at every level (in yaml.v2's natural order, which is what that JSON round trip
//!   ends with), with [`weir_yaml::to_string_sorted`]. The output is always one document.

use serde_json::{Map, Number, Value};

/// Which file of a merge is not mergeable YAML, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The file copied from the source.
    #[error("the source file {0}")]
    Source(String),
    /// The file already in the artifact.
    #[error("the destination file {0}")]
    Destination(String),
}

/// Deep-merges the YAML documents of `source` onto those of `destination` and prints the
/// result.
///
/// # Errors
/// Either file is not UTF-8, not YAML, or has a document that is not a mapping.
pub fn merge(destination: &[u8], source: &[u8]) -> Result<Vec<u8>, MergeError> {
    let base = load(destination).map_err(MergeError::Destination)?;
    let overlay = load(source).map_err(MergeError::Source)?;
    let merged = deep_merge(base, overlay);
    Ok(weir_yaml::to_string_sorted(&Value::Object(merged)).into_bytes())
}

/// All documents of a file merged into one mapping.
fn load(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("is not UTF-8 text: {e}"))?;
    let mut merged = Map::new();
    for (number, (first_line, document)) in split_documents(text)?.into_iter().enumerate() {
        let mut values = weir_yaml::from_str_helm_values(document).map_err(|e| {
            format!(
                "is not valid YAML: line {}, column {}: {}",
                first_line + e.line.saturating_sub(1),
                e.column,
                e.message
            )
        })?;
        // Like yaml.v2's Unmarshal, only the first document of the text counts (a `...` end
        // marker can end it before the next `---`).
        let value = if values.is_empty() {
            Value::Null
        } else {
            values.swap_remove(0)
        };
        match as_go_float64(value) {
            Value::Null => {}
            Value::Object(map) => merged = deep_merge(merged, map),
            other => {
                return Err(format!(
                    "has a document (the {}) that is {}, not a mapping",
                    ordinal(number + 1),
                    kind_of(&other)
                ));
            }
        }
    }
    Ok(merged)
}

/// The documents of a text and the line each starts on, as Kubernetes' YAML reader splits
/// them: a line starting with `---` ends a document (followed by nothing but spaces or a
/// comment); documents with no lines at all are skipped.
fn split_documents(text: &str) -> Result<Vec<(usize, &str)>, String> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Err(format!(
                    "is not valid YAML: line {}: invalid document separator: {rest}",
                    index + 1
                ));
            }
            if offset > start {
                documents.push((start_line, &text[start..offset]));
            }
            start = offset + line.len();
            start_line = index + 2;
        }
        offset += line.len();
    }
    if text.len() > start {
        documents.push((start_line, &text[start..]));
    }
    Ok(documents)
}

/// `overlay` merged onto `base`: mappings on both sides merge recursively, anything else in
/// `overlay` replaces what `base` has.
fn deep_merge(mut base: Map<String, Value>, overlay: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in overlay {
        let merged = match (base.remove(&key), value) {
            (Some(Value::Object(below)), Value::Object(above)) => {
                Value::Object(deep_merge(below, above))
            }
            (_, value) => value,
        };
        base.insert(key, merged);
    }
    base
}

/// Every number as the `float64` Go's `encoding/json` decodes it to (`sigs.k8s.io/yaml`
/// reads through JSON into `any`), so that integers beyond 2^53 lose precision as in Flux.
fn as_go_float64(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(as_go_float64).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, as_go_float64(value)))
                .collect(),
        ),
        other => other,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "a mapping",
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(destination: &str, source: &str) -> Result<String, MergeError> {
        merge(destination.as_bytes(), source.as_bytes())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn maps_merge_recursively_and_everything_else_is_replaced() -> Result<(), MergeError> {
        let destination = "\
replicas: 1
image:
  repository: app
  tag: v1
ports: [80, 443]
labels:
  a: x
";
        let source = "\
image:
  tag: v2
ports: [8080]
labels: null
extra: {z: 1}
";
        assert_eq!(
            merged(destination, source)?,
            "\
extra:
  z: 1
image:
  repository: app
  tag: v2
labels: null
ports:
- 8080
replicas: 1
"
        );
        Ok(())
    }

    #[test]
    fn documents_of_a_file_merge_in_order() -> Result<(), MergeError> {
        let destination = "a: 1\nb: {x: 1}\n---\nb: {w: 2}\n--- # comment\n---\n";
        let source = "---\nc: 3\n...\n---\na: 4\n";
        assert_eq!(
            merged(destination, source)?,
            "a: 4\nb:\n  w: 2\n  x: 1\nc: 3\n"
        );
        Ok(())
    }

    #[test]
    fn reads_like_sigs_k8s_yaml() -> Result<(), MergeError> {
        // YAML 1.1 booleans (keys too: `y` and `on` are `true`), later duplicate keys win,
        // numbers are float64.
        let out = merged("", "on: yes\nk: 1\nk: 2\nbig: 9007199254740993\nf: 1.50\n")?;
        assert_eq!(out, "big: 9007199254740992\nf: 1.5\nk: 2\n\"true\": true\n");
        assert_eq!(merged("y: 1\n", "n: 2\n")?, "\"false\": 2\n\"true\": 1\n");
        assert_eq!(merged("", "")?, "{}\n");
        assert_eq!(merged("# only a comment\n", "null\n")?, "{}\n");
        Ok(())
    }

    #[test]
    fn invalid_yaml_names_the_file_and_the_line() {
        let err = merged("a: 1\n", "a: 1\n---\nb: [\n").expect_err("invalid");
        assert!(
            matches!(&err, MergeError::Source(m) if m.contains("is not valid YAML: line 3")),
            "{err}"
        );
        let err = merged("- a\n- b\n", "a: 1\n").expect_err("a list");
        assert_eq!(
            err.to_string(),
            "the destination file has a document (the 1st) that is a list, not a mapping"
        );
        let err = merged("a: 1\n", "--- x\n").expect_err("separator");
        assert!(
            err.to_string().contains("invalid document separator: x"),
            "{err}"
        );
        let err = merge(b"a: 1\n", &[0xff, 0xfe]).expect_err("binary");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
