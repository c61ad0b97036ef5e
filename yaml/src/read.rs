//! Reading YAML into `serde_json::Value`: Go yaml.v3's scalar resolution (what Kustomize
//! uses for resources and kustomization files), or yaml.v2's YAML 1.1 rules (what Helm uses
//! for values files and Kustomize for JSON 6902 patches).

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// A YAML syntax or structure error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a single-document YAML text. An empty document is `null`.
///
/// # Errors
/// Syntax errors and duplicate keys, with line and column.
pub fn from_str(text: &str) -> Result<Value, YamlError> {
    let mut docs = from_str_multi(text)?;
    Ok(if docs.is_empty() {
        Value::Null
    } else {
        docs.swap_remove(0)
    })
}

/// Parses every document of a multi-document YAML text (empty documents included as `null`).
///
/// # Errors
/// Syntax errors and duplicate keys, with line and column.
pub fn from_str_multi(text: &str) -> Result<Vec<Value>, YamlError> {
    parse(text, false)
}

/// Like [`from_str`], but with yaml.v2's YAML 1.1 rules, as sigs.k8s.io/yaml reads a whole
/// document: `y`, `yes`, `on` (any case variant yaml.v2 knows) are `true`, `n`, `no`, `off`
/// are `false`, and timestamp-like scalars stay the text they were written as. Kustomize's
/// quirk of keeping `metadata.annotations` values as source text does not apply. Helm reads
/// values files this way; Kustomize reads JSON 6902 patches this way.
///
/// # Errors
/// Syntax errors and duplicate keys, with line and column.
pub fn from_str_yaml11(text: &str) -> Result<Value, YamlError> {
    let mut docs = from_str_yaml11_multi(text)?;
    Ok(if docs.is_empty() {
        Value::Null
    } else {
        docs.swap_remove(0)
    })
}

/// Every document of a multi-document text, read with [`from_str_yaml11`]'s rules.
///
/// # Errors
/// Syntax errors and duplicate keys, with line and column.
pub fn from_str_yaml11_multi(text: &str) -> Result<Vec<Value>, YamlError> {
    parse(text, true)
}

fn parse(text: &str, yaml11: bool) -> Result<Vec<Value>, YamlError> {
    let mut builder = Builder {
        yaml11,
        ..Default::default()
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        builder.position = (span.start.line(), span.start.col() + 1);
        builder.event(event)?;
    }
    Ok(builder.docs)
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Value>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    position: (usize, usize),
    root: Option<Value>,
    yaml11: bool,
}

impl Builder {
    fn error(&self, message: String) -> YamlError {
        YamlError {
            line: self.position.0,
            column: self.position.1,
            message,
        }
    }

    fn event(&mut self, event: Event<'_>) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(..) => {
                self.anchors.clear();
                self.root = None;
            }
            Event::DocumentEnd => self.docs.push(self.root.take().unwrap_or(Value::Null)),
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle(), t.suffix()));
                let mut value = resolve(&text, style, tag.as_deref()).map_err(|m| self.error(m))?;
                // Kustomize rewrites top-level annotations as strings from their source text
                // (`2` stays "2", `0755` stays "0755"), so keep that text here.
                if !self.yaml11 && !value.is_string() && tag.is_none() && self.in_annotations() {
                    value = Value::String(text.to_string());
                }
                if self.yaml11 && style == ScalarStyle::Plain && tag.is_none() {
                    value = match text.as_ref() {
                        // yaml.v2 hands timestamps to an untyped value as their text.
                        t if timestamp(t).is_some() => Value::String(t.to_string()),
                        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
                        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                            Value::Bool(false)
                        }
                        _ => value,
                    };
                }
                self.node(value, anchor)?;
            }
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.error("unknown alias".into()))?;
                self.node(value, 0)?;
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(_, anchor, _) => {
                self.stack.push(Frame::Map(Map::new(), None, anchor));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor)) = self.stack.pop() {
                    self.node(Value::Array(items), anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(map, _, anchor)) = self.stack.pop() {
                    self.node(Value::Object(map), anchor)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// True when the next scalar is a value of `metadata.annotations` of a document (or of
    /// an item of a `kind: List` document).
    fn in_annotations(&self) -> bool {
        let keys: Vec<Option<&str>> = self
            .stack
            .iter()
            .map(|f| match f {
                Frame::Map(_, key, _) => key.as_deref(),
                Frame::Seq(..) => None,
            })
            .collect();
        let is_value = matches!(self.stack.last(), Some(Frame::Map(_, Some(_), _)));
        is_value
            && matches!(
                keys.as_slice(),
                [Some("metadata"), Some("annotations"), Some(_)]
                    | [
                        Some("items"),
                        None,
                        Some("metadata"),
                        Some("annotations"),
                        Some(_)
                    ]
            )
    }

    fn node(&mut self, value: Value, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        let position = self.position;
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => *key = Some(key_string(&value)),
                Some(k) if k == "<<" => merge(map, value).map_err(|m| YamlError {
                    line: position.0,
                    column: position.1,
                    message: m,
                })?,
                Some(k) => {
                    if map.contains_key(&k) {
                        return Err(YamlError {
                            line: position.0,
                            column: position.1,
                            message: format!("mapping key {k:?} already defined"),
                        });
                    }
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

/// `<<: *base` merges keys that the mapping does not define itself.
fn merge(map: &mut Map<String, Value>, value: Value) -> Result<(), String> {
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err("map merge requires a mapping or a list of mappings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("map merge requires a mapping or a list of mappings".into()),
    };
    for source in sources {
        for (k, v) in source {
            map.entry(k).or_insert(v);
        }
    }
    Ok(())
}

fn key_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

const CORE: &str = "tag:yaml.org,2002:";

/// Resolves a scalar as yaml.v3 does when decoding into an untyped value.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    let tag = tag.map(|t| {
        t.strip_prefix(CORE)
            .map(|s| format!("!!{s}"))
            .unwrap_or_else(|| t.to_string())
    });
    match tag.as_deref() {
        Some("!!str") | Some("!!binary") => return Ok(Value::String(text.to_string())),
        Some("!!null") => return Ok(Value::Null),
        Some("!!bool") | Some("!!int") | Some("!!float") | Some("!!timestamp") => {
            let v = resolve_plain(text);
            let ok = match (tag.as_deref(), &v) {
                (Some("!!bool"), Value::Bool(_)) | (Some("!!timestamp"), Value::String(_)) => true,
                (Some("!!int"), Value::Number(n)) => !n.is_f64(),
                (Some("!!float"), Value::Number(n)) => {
                    return Ok(n
                        .as_f64()
                        .and_then(Number::from_f64)
                        .map(Value::Number)
                        .unwrap_or(v));
                }
                _ => false,
            };
            return if ok {
                Ok(v)
            } else {
                Err(format!(
                    "cannot decode {text:?} as {}",
                    tag.unwrap_or_default()
                ))
            };
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let v = resolve_plain(text);
    if let Value::Number(n) = &v
        && n.as_f64().is_some_and(|f| !f.is_finite())
    {
        return Err(format!("{text:?} is not representable in JSON"));
    }
    Ok(v)
}

/// yaml.v3's implicit resolution of a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = special_float(text) {
            return Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::String(text.into()));
        }
        if is_yaml_float(text)
            && let Ok(f) = text.parse::<f64>()
        {
            return float(f, text);
        }
        return Value::String(text.into());
    }
    if !(first.is_ascii_digit() || first == b'-' || first == b'+') {
        return Value::String(text.into());
    }
    if let Some(f) = special_float(text) {
        return Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::String(text.into()));
    }
    if let Some(ts) = timestamp(text) {
        return Value::String(ts);
    }
    let plain = text.replace('_', "");
    if let Some(v) = go_parse_int(&plain) {
        return v;
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return float(f, text);
    }
    let (neg, rest) = match plain.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    for (prefix, radix) in [("0b", 2), ("0o", 8)] {
        if let Some(digits) = rest.strip_prefix(prefix)
            && let Ok(n) = i64::from_str_radix(digits, radix)
        {
            return Value::Number(Number::from(if neg { -n } else { n }));
        }
    }
    Value::String(text.into())
}

fn float(f: f64, text: &str) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(text.into()))
}

fn special_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => None,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
pub(crate) fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: base prefixes `0x`, `0o`, `0b`, and a
/// leading `0` for octal.
pub(crate) fn go_parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d.to_string(), 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d.to_string(), 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d.to_string(), 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (lower[1..].to_string(), 8)
    } else {
        (lower.clone(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(&digits, radix).ok()?;
    if neg {
        let v = i128::try_from(magnitude).ok().map(|m| -m)?;
        i64::try_from(v)
            .ok()
            .map(|v| Value::Number(Number::from(v)))
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Value::Number(Number::from(v)))
    } else {
        u64::try_from(magnitude)
            .ok()
            .map(|v| Value::Number(Number::from(v)))
    }
}

/// yaml.v3 timestamps (`2001-12-14`, `2001-12-14T21:59:43.10Z`, `2001-12-14 21:59:43.10`),
/// as Go's JSON encoding prints the resulting time: RFC 3339 with nanoseconds trimmed.
pub(crate) fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let date_part_ok = parts.next().is_none()
        && date
            .split('-')
            .skip(1)
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()));
    if !date_part_ok || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let Some(rest) = rest else {
        return Some(format!("{year:04}-{month:02}-{day:02}T00:00:00Z"));
    };
    // Time: h:m:s with optional fraction, then Z, ±hh:mm, or nothing (only with a space).
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if zone.is_empty() && s.as_bytes()[date.len()] != b' ' {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((h, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            (h, f)
        }
        Some(_) => return None,
        None => (time, ""),
    };
    let mut t = hms.split(':');
    let (h, m, sec): (u32, u32, u32) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if t.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let zone = match zone {
        "" | "Z" => "Z".to_string(),
        z => {
            let (sign, hm) = z.split_at(1);
            let (zh, zm) = hm.split_once(':')?;
            let (zh, zm): (u32, u32) = (zh.parse().ok()?, zm.parse().ok()?);
            if zh == 0 && zm == 0 {
                "Z".into()
            } else {
                format!("{sign}{zh:02}:{zm:02}")
            }
        }
    };
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}{frac}{zone}"
    ))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_resolve_like_yaml_v3() {
        let doc = from_str(
            "a: 0755\nb: on\nc: \"on\"\nd: 1.0\ne:\nf: 0x1F\ng: 2001-12-14\nh: 08\ni: 1_000\nj: yes\nk: ~\nl: -0\nm: 12345678901234567890\nn: 0o17\no: .5\np: 1e3\nq: True\nr: 2001-12-14 21:59:43.10\ns: 1.2.3\n",
        )
        .expect("valid");
        assert_eq!(
            doc,
            json!({"a": 493, "b": "on", "c": "on", "d": 1.0, "e": null, "f": 31, "g": "2001-12-14T00:00:00Z",
                   "h": 8.0, "i": 1000, "j": "yes", "k": null, "l": 0, "m": 12345678901234567890u64, "n": 15,
                   "o": 0.5, "p": 1000.0, "q": true, "r": "2001-12-14T21:59:43.1Z", "s": "1.2.3"})
        );
    }

    #[test]
    fn a_whole_document_resolves_like_yaml_v2() {
        let doc = from_str_yaml11(
            "enabled: yes\ndebug: off\nshort: n\nquoted: \"on\"\ntagged: !!str yes\nmode: 0755\n\
             date: 2001-12-14\nratio: 1e3\nname: web\nempty:\nnested:\n  - On\n  - {k: NO}\n\
             metadata:\n  annotations:\n    replicas: 2\n",
        )
        .expect("valid");
        assert_eq!(
            doc,
            json!({"enabled": true, "debug": false, "short": false, "quoted": "on", "tagged": "yes",
                   "mode": 493, "date": "2001-12-14", "ratio": 1000.0, "name": "web", "empty": null,
                   "nested": [true, {"k": false}], "metadata": {"annotations": {"replicas": 2}}})
        );
    }

    #[test]
    fn yaml11_reads_every_document() {
        let docs =
            from_str_yaml11_multi("a: yes\n---\nb: 2001-12-14 21:59:43.10\n").expect("valid");
        assert_eq!(
            docs,
            vec![json!({"a": true}), json!({"b": "2001-12-14 21:59:43.10"})]
        );
        assert_eq!(from_str_yaml11("").expect("valid"), Value::Null);
    }

    #[test]
    fn anchors_merges_and_multiple_documents() {
        let docs = from_str_multi("a: &x {k: v}\nb: *x\nc:\n  <<: *x\n  z: 1\n---\n---\n- 1\n")
            .expect("valid");
        assert_eq!(
            docs,
            vec![
                json!({"a": {"k": "v"}, "b": {"k": "v"}, "c": {"k": "v", "z": 1}}),
                Value::Null,
                json!([1])
            ]
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = from_str("a: 1\nb: [unclosed\n").expect_err("invalid");
        assert!(err.line >= 2, "{err}");
        let dup = from_str("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(dup.line, 2, "{dup}");
        assert!(dup.message.contains("\"a\" already defined"), "{dup}");
    }
}
