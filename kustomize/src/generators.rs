//! ConfigMap and Secret generators, and Kustomize's content-hash name suffix.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::kustomization::{Generator, GeneratorOptions};
use super::resource::Resource;
use super::{BuildError, Loader};

/// Which generator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    /// `configMapGenerator`.
    ConfigMap,
    /// `secretGenerator`.
    Secret,
}

/// Builds the object of one generator entry. Data is read relative to `dir`.
///
/// # Errors
/// Missing or unsafe files, malformed literals or env lines, invalid or duplicate keys.
pub fn generate(
    loader: &Loader,
    dir: &Path,
    file: &str,
    kind: GenKind,
    g: &Generator,
    global: Option<&GeneratorOptions>,
) -> Result<Resource, BuildError> {
    let what = match kind {
        GenKind::ConfigMap => "configMapGenerator",
        GenKind::Secret => "secretGenerator",
    };
    let err = |m: String| BuildError::new(file, format!("{what} {:?}: {m}", g.name));
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut add = |key: String, value: Vec<u8>| -> Result<(), BuildError> {
        // Kustomize does not validate key names (the API server does); it refuses repeats.
        if data.contains_key(&key) {
            return Err(err(format!("illegally repeats the key {key:?}")));
        }
        data.insert(key, value);
        Ok(())
    };
    let mut env_files: Vec<&String> = g.envs.iter().collect();
    if let Some(e) = &g.env {
        env_files.push(e);
    }
    for env in env_files {
        let text = loader.read_local(dir, env).map_err(|e| err(e.message))?;
        let text =
            String::from_utf8(text).map_err(|_| err(format!("env file {env:?} is not UTF-8")))?;
        // As Kustomize: a byte-order mark is dropped from the first line only, and a line
        // with an empty key (`=value`) is skipped like a blank one.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // A line without `=` is a key whose value kubectl takes from its own process
            // environment; the engine reads no environment, so the value is empty (what
            // kubectl prints when the variable is unset).
            let (k, v) = line
                .split_once('=')
                .unwrap_or((line.trim_end_matches('\r'), ""));
            if k.is_empty() {
                continue;
            }
            add(k.to_string(), v.trim_end_matches('\r').as_bytes().to_vec())?;
        }
    }
    for lit in &g.literals {
        let Some((k, v)) = lit.split_once('=') else {
            return Err(err(format!("literal {lit:?} is not key=value")));
        };
        add(k.to_string(), unquote(v).as_bytes().to_vec())?;
    }
    for f in &g.files {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                Path::new(f)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                f.as_str(),
            ),
        };
        let bytes = loader.read_local(dir, path).map_err(|e| err(e.message))?;
        add(key, bytes)?;
    }

    let mut obj = Map::new();
    let mut meta = Map::new();
    meta.insert("name".into(), json!(g.name));
    if let Some(ns) = &g.namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    let options = merge_options(global, g.options.as_ref());
    if !options.labels.is_empty() {
        meta.insert("labels".into(), json!(options.labels));
    }
    if !options.annotations.is_empty() {
        meta.insert("annotations".into(), json!(options.annotations));
    }
    obj.insert("apiVersion".into(), json!("v1"));
    match kind {
        GenKind::ConfigMap => {
            obj.insert("kind".into(), json!("ConfigMap"));
            let mut text = Map::new();
            let mut binary = Map::new();
            for (k, v) in data {
                match String::from_utf8(v) {
                    Ok(s) => text.insert(k, Value::String(s)),
                    Err(e) => binary.insert(k, Value::String(encode_base64(&e.into_bytes()))),
                };
            }
            if !text.is_empty() {
                obj.insert("data".into(), Value::Object(text));
            }
            if !binary.is_empty() {
                obj.insert("binaryData".into(), Value::Object(binary));
            }
        }
        GenKind::Secret => {
            obj.insert("kind".into(), json!("Secret"));
            obj.insert(
                "type".into(),
                json!(g.type_.clone().unwrap_or_else(|| "Opaque".into())),
            );
            let encoded: Map<String, Value> = data
                .into_iter()
                .map(|(k, v)| (k, Value::String(encode_base64(&v))))
                .collect();
            if !encoded.is_empty() {
                obj.insert("data".into(), Value::Object(encoded));
            }
        }
    }
    if options.immutable == Some(true) {
        obj.insert("immutable".into(), json!(true));
    }
    obj.insert("metadata".into(), Value::Object(meta));
    let mut res = Resource::new(Value::Object(obj));
    res.needs_hash = options.disable_name_suffix_hash != Some(true);
    Ok(res)
}

/// Base64 as Kustomize writes Secret data and binaryData: values of 70 characters or more
/// are split into 70-character lines, each ending in a newline.
fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Combines the kustomization's `generatorOptions` with a generator's own: maps merge, the
/// local entry winning.
fn merge_options(
    global: Option<&GeneratorOptions>,
    local: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut out = global.cloned().unwrap_or_default();
    if let Some(l) = local {
        out.labels.extend(l.labels.clone());
        out.annotations.extend(l.annotations.clone());
        // Either level can switch these on; neither can switch the other off.
        if l.disable_name_suffix_hash == Some(true) {
            out.disable_name_suffix_hash = Some(true);
        }
        if l.immutable == Some(true) {
            out.immutable = Some(true);
        }
    }
    out
}

/// Strips one pair of matching surrounding quotes, as Kustomize does for literal values.
fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Kustomize's name-suffix hash of a ConfigMap or Secret: SHA-256 of a JSON summary (kind,
/// type and data; Kustomize's lookup of the name never matches, so the name is always empty),
/// first ten hex digits with vowel-free substitutions.
pub fn content_hash(value: &Value) -> String {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let field = |k: &str| {
        value
            .get(k)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    m.insert("name".into(), json!(""));
    m.insert("data".into(), field("data"));
    if kind == "Secret" {
        m.insert("type".into(), field("type"));
        if value.get("stringData").is_some_and(Value::is_object) {
            m.insert("stringData".into(), field("stringData"));
        }
    } else if value.get("binaryData").is_some_and(Value::is_object) {
        m.insert("binaryData".into(), field("binaryData"));
    }
    let encoded = go_json(&Value::Object(m));
    let hex = hex::encode(Sha256::digest(encoded.as_bytes()));
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: sorted keys, no spaces, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped.
pub fn go_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", go_string(k), go_json(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(go_json).collect::<Vec<_>>().join(",")),
        Value::String(s) => go_string(s),
        other => other.to_string(),
    }
}

fn go_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_kubectl_kustomize() {
        // Names printed by `kubectl kustomize` (Kustomize v5.5) for these generators.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gen"}, "data": {"a": "1"}});
        assert_eq!(content_hash(&cm), "h29d89cmmt");
        let cm2 = json!({"kind": "ConfigMap", "data": {"a": "1", "b": "on"}});
        assert_eq!(content_hash(&cm2), "7hh9764tdg");
        let secret = json!({"kind": "Secret", "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(content_hash(&secret), "ftgtgc4t9f");
    }

    #[test]
    fn go_json_escapes_html() {
        assert_eq!(
            go_json(&json!({"b": "<&>", "a": 1})),
            r#"{"a":1,"b":"\u003c\u0026\u003e"}"#
        );
    }
}
