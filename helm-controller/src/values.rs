//! A HelmRelease's values: `valuesFrom` references merged in order, then `spec.values`, as
//! Flux composes them. Pure: the referenced ConfigMaps and Secrets are read by the caller and
//! handed in as data.
//!
//! - Each reference reads one key (`valuesKey`, default `values.yaml`) of a ConfigMap or
//!   Secret. Without `targetPath` the key holds a YAML document that is deep-merged onto what
//!   came before. With `targetPath` the key's text is set at that path with Helm's `--set`
//!   syntax (`--set-string` when the text is quoted).
//! - `spec.values` is merged last and wins over every reference, a `targetPath` one included
//!   (Flux's code does this, whatever its comment says).
//! - A missing object or key fails the release unless the reference is `optional`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use weir_helm::chart::Values;
use weir_helm::chart::strvals::{self, Mode};
use weir_helm::chart::values::{merge_maps, read_values};

/// Default `valuesKey`.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";

/// One `valuesFrom` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// The object's name (in the HelmRelease's namespace).
    pub name: String,
    /// The data key.
    pub key: String,
    /// Where to set the value, in `--set` path syntax.
    pub target_path: Option<String>,
    /// Whether a missing object or key is skipped.
    pub optional: bool,
}

/// What a reference found: the object's data, or nothing when it does not exist.
pub type Lookup<'a> = &'a dyn Fn(&str, &str) -> Option<&'a BTreeMap<String, Vec<u8>>>;

/// Why a reference could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The ConfigMap or Secret does not exist.
    #[error("resource not found")]
    NotFound,
    /// The key is not in its data.
    #[error("key not found")]
    KeyNotFound,
    /// The kind is neither ConfigMap nor Secret.
    #[error("unsupported values reference kind")]
    UnsupportedKind,
    /// The data is not a YAML map.
    #[error("failed to read values data: {0}")]
    Read(String),
    /// The `targetPath` assignment failed.
    #[error("failed to merge value: {0}")]
    Merge(String),
}

/// A `valuesFrom` entry that could not be resolved, worded as Flux words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "could not resolve {optional}{kind} chart values reference '{namespace}/{name}' with key '{key}': {reason}",
    optional = if *.optional { "optional " } else { "" }
)]
pub struct ValuesError {
    /// The reference's kind.
    pub kind: String,
    /// The HelmRelease's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The key.
    pub key: String,
    /// Whether the reference was optional.
    pub optional: bool,
    /// What went wrong.
    pub reason: Reason,
}

impl ValuesError {
    /// Whether the error is about something missing (a retry after the object is created
    /// helps) rather than something malformed.
    pub fn is_missing(&self) -> bool {
        matches!(self.reason, Reason::NotFound | Reason::KeyNotFound)
    }
}

/// Composes the release values from the references (resolved through `lookup`) and the
/// inline `spec.values`.
///
/// # Errors
/// [`ValuesError`] for the first reference that cannot be used.
pub fn compose(
    namespace: &str,
    references: &[ValuesReference],
    lookup: Lookup<'_>,
    inline: &Values,
) -> Result<Values, Box<ValuesError>> {
    let mut result = Values::new();
    for r in references {
        let fail = |reason: Reason| {
            Box::new(ValuesError {
                kind: r.kind.clone(),
                namespace: namespace.to_string(),
                name: r.name.clone(),
                key: r.key.clone(),
                optional: r.optional,
                reason,
            })
        };
        if r.kind != "ConfigMap" && r.kind != "Secret" {
            return Err(fail(Reason::UnsupportedKind));
        }
        let Some(data) = lookup(&r.kind, &r.name) else {
            if r.optional {
                continue;
            }
            return Err(fail(Reason::NotFound));
        };
        let Some(bytes) = data.get(&r.key) else {
            if r.optional {
                continue;
            }
            return Err(fail(Reason::KeyNotFound));
        };
        let text = String::from_utf8_lossy(bytes);
        match r.target_path.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => {
                result = merge_maps(result, inline.clone());
                set_path(&mut result, path, &text).map_err(|m| fail(Reason::Merge(m)))?;
            }
            None => {
                let values = read_values(&text).map_err(|m| fail(Reason::Read(m)))?;
                result = merge_maps(result, values);
            }
        }
    }
    Ok(merge_maps(result, inline.clone()))
}

/// Sets `text` at `path` as `--set path=text` would; a single- or double-quoted text is set
/// as a string without its quotes (`--set-string`).
fn set_path(values: &mut Values, path: &str, text: &str) -> Result<(), String> {
    let quoted = |q: char| text.len() >= 2 && text.starts_with(q) && text.ends_with(q);
    let no_files = |_: &str| Err("files are not read here".to_string());
    if quoted('\'') || quoted('"') {
        let inner = text.trim_matches(|c| c == '\'' || c == '"');
        strvals::parse_into(&format!("{path}={inner}"), values, Mode::String, &no_files)
    } else {
        strvals::parse_into(&format!("{path}={text}"), values, Mode::Typed, &no_files)
    }
}

/// `sha256:` of the values as canonical JSON (keys sorted): the release's config digest,
/// which changes exactly when the values do.
pub fn digest(values: &Values) -> String {
    let json = serde_json::to_vec(values).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> Values {
        match v {
            serde_json::Value::Object(m) => m,
            _ => Values::new(),
        }
    }

    fn reference(kind: &str, name: &str, key: &str, path: Option<&str>) -> ValuesReference {
        ValuesReference {
            kind: kind.into(),
            name: name.into(),
            key: key.into(),
            target_path: path.map(str::to_string),
            optional: false,
        }
    }

    fn objects() -> BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> {
        let data = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
                .collect::<BTreeMap<_, _>>()
        };
        BTreeMap::from([
            (
                ("ConfigMap".to_string(), "base".to_string()),
                data(&[
                    (
                        "values.yaml",
                        "replicas: 1\nimage:\n  tag: v1\n  pull: Always\n",
                    ),
                    ("cpu", "500m"),
                    ("count", "3"),
                    ("quoted", "'007'"),
                ]),
            ),
            (
                ("Secret".to_string(), "prod".to_string()),
                data(&[("values.yaml", "image:\n  tag: v2\n"), ("bad", "- a list")]),
            ),
        ])
    }

    fn run(
        refs: &[ValuesReference],
        inline: serde_json::Value,
    ) -> Result<Values, Box<ValuesError>> {
        let objs = objects();
        let lookup = |kind: &str, name: &str| objs.get(&(kind.to_string(), name.to_string()));
        compose("apps", refs, &lookup, &map(inline))
    }

    #[test]
    fn references_merge_in_order_and_inline_values_win() {
        let out = run(
            &[
                reference("ConfigMap", "base", "values.yaml", None),
                reference("Secret", "prod", "values.yaml", None),
            ],
            json!({"replicas": 2}),
        )
        .expect("values");
        assert_eq!(
            serde_json::Value::Object(out),
            json!({"replicas": 2, "image": {"tag": "v2", "pull": "Always"}})
        );
    }

    #[test]
    fn a_target_path_sets_typed_or_quoted_text_and_inline_values_still_win() {
        let out = run(
            &[
                reference("ConfigMap", "base", "cpu", Some("resources.limits.cpu")),
                reference("ConfigMap", "base", "count", Some("replicas")),
                reference("ConfigMap", "base", "quoted", Some("code")),
            ],
            json!({"replicas": 9, "resources": {"limits": {"memory": "1Gi"}}}),
        )
        .expect("values");
        assert_eq!(
            serde_json::Value::Object(out),
            json!({"replicas": 9, "code": "007", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}),
            "inline values are merged last and win over a target path"
        );
    }

    #[test]
    fn missing_objects_and_keys_fail_unless_optional() {
        let e = run(
            &[reference("ConfigMap", "nope", "values.yaml", None)],
            json!({}),
        )
        .expect_err("missing");
        assert_eq!(
            e.to_string(),
            "could not resolve ConfigMap chart values reference 'apps/nope' with key 'values.yaml': resource not found"
        );
        assert!(e.is_missing());
        let e = run(&[reference("Secret", "prod", "other", None)], json!({})).expect_err("key");
        assert_eq!(e.reason, Reason::KeyNotFound);
        let mut optional = reference("ConfigMap", "nope", "values.yaml", None);
        optional.optional = true;
        let mut optional_key = reference("Secret", "prod", "other", None);
        optional_key.optional = true;
        let out = run(&[optional, optional_key], json!({"a": 1})).expect("skipped");
        assert_eq!(serde_json::Value::Object(out), json!({"a": 1}));
    }

    #[test]
    fn data_that_is_not_a_map_is_a_read_error_naming_the_reference() {
        let e = run(&[reference("Secret", "prod", "bad", None)], json!({})).expect_err("list");
        assert!(matches!(e.reason, Reason::Read(_)), "{e}");
        assert!(
            e.to_string()
                .contains("Secret chart values reference 'apps/prod' with key 'bad'")
        );
        let e = run(
            &[reference("Deployment", "x", "values.yaml", None)],
            json!({}),
        )
        .expect_err("kind");
        assert_eq!(e.reason, Reason::UnsupportedKind);
    }

    #[test]
    fn the_digest_follows_the_values_not_their_order() {
        let a = digest(&map(json!({"a": 1, "b": {"c": 2}})));
        let b = digest(&map(json!({"b": {"c": 2}, "a": 1})));
        assert_eq!(a, b);
        assert_ne!(a, digest(&map(json!({"a": 2, "b": {"c": 2}}))));
        assert!(a.starts_with("sha256:"));
    }
}
