//! Reading YAML into `serde_json::Value`: Go yaml.v3's scalar resolution (what Kustomize
//! uses for resources and kustomization files), or yaml.v2's YAML 1.1 rules (what Helm uses
//! for values files and Kustomize for JSON 6902 patches).
//!
//! Anyone who can push to a watched repository writes the text read here, so reading is
//! bounded by the input's size, whatever the input says:
//!
//! - Nesting is refused past [`MAX_DEPTH`] levels, counting what aliases bring in; the builder
//!   keeps its own stack, so no input recurses on the thread's stack.
//! - Aliases are refused as yaml.v3 refuses them ("document contains excessive aliasing": more
//!   than 99% of a document's nodes from aliases, falling to 10% for huge documents), and
//!   anchors and aliases together may copy at most [`MAX_ALIAS_EXPANSION`] nodes and
//!   [`MAX_ALIAS_EXPANSION_BYTES`] bytes of strings per call, over all its documents.
//! - Mappings and sequences cannot be keys, as in Go ("invalid map key").
//!
//! Merge keys (`<<`) follow Kustomize: the mapping's own keys win wherever they are written,
//! and of a sequence of merged mappings the earlier wins.

use std::borrow::Cow;
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
    /// Whether the text is YAML whose data JSON cannot hold (a null key, see
    /// [`from_str_helm_values`]), rather than a syntax or limit error: Helm's reader says so
    /// without a line.
    pub conversion: bool,
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

/// Deepest nesting of collections (mappings and sequences) a document may reach, counting
/// the collections that aliases bring in: an alias of a 10-level value inside 995 levels is
/// 1005 levels deep and refused. yaml.v3 stops at 10000 source levels; Kubernetes objects
/// stay far below 100.
pub const MAX_DEPTH: usize = 1000;

/// Most nodes (scalars, collections and mapping keys) that anchors and aliases may copy in one
/// call, over all its documents together. Every alias copies its anchor's value, and every
/// anchor keeps a copy of the value it names, so both count.
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// Most bytes of strings (keys and scalar text) that anchors and aliases may copy in one call,
/// over all its documents together: an alias of a long string copies the whole string.
pub const MAX_ALIAS_EXPANSION_BYTES: usize = 16 * 1024 * 1024;

/// What the reader does with a mapping key written twice in one mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// An error, as yaml.v3 reports it (the default of every reader here).
    #[default]
    Refuse,
    /// The later value replaces the earlier one, as yaml.v2 and sigs.k8s.io/yaml read
    /// (Kustomize reads kustomization files this way).
    LaterWins,
    /// The earlier value is kept, as kyaml's field lookup finds it (Kustomize reads strategic
    /// merge patches this way).
    FirstWins,
}

/// [`from_str_multi`] (or, with `yaml11`, [`from_str_yaml11_multi`]) with `duplicates`
/// deciding what a repeated mapping key means.
///
/// # Errors
/// Syntax errors, and duplicate keys with [`DuplicateKeys::Refuse`], with line and column.
pub fn from_str_multi_with(
    text: &str,
    yaml11: bool,
    duplicates: DuplicateKeys,
) -> Result<Vec<Value>, YamlError> {
    parse_with(text, yaml11, duplicates)
}

/// Every document as Helm reads a values file (sigs.k8s.io/yaml over yaml.v2): YAML 1.1
/// rules, a repeated key's later value wins, and a null key (`~: x`) is refused, as the
/// conversion to JSON refuses it ([`YamlError::conversion`]).
///
/// # Errors
/// Syntax errors with line and column; null keys.
pub fn from_str_helm_values(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_with_null_keys(text, true, DuplicateKeys::LaterWins, true)
}

fn parse(text: &str, yaml11: bool) -> Result<Vec<Value>, YamlError> {
    parse_with(text, yaml11, DuplicateKeys::Refuse)
}

fn parse_with(
    text: &str,
    yaml11: bool,
    duplicates: DuplicateKeys,
) -> Result<Vec<Value>, YamlError> {
    parse_with_null_keys(text, yaml11, duplicates, false)
}

fn parse_with_null_keys(
    text: &str,
    yaml11: bool,
    duplicates: DuplicateKeys,
    refuse_null_keys: bool,
) -> Result<Vec<Value>, YamlError> {
    let mut builder = Builder {
        yaml11,
        refuse_null_keys,
        duplicates,
        ..Default::default()
    };
    // The parser's own nesting limits (255 by default) are raised to ours, which the builder
    // enforces on the expanded depth.
    let options = granit_parser::options! {
        flow_nesting_limit: MAX_DEPTH,
        block_nesting_limit: MAX_DEPTH,
    };
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|e| YamlError {
            conversion: false,
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: match e.kind() {
                granit_parser::ErrorKind::RecursionLimitExceeded => depth_message(),
                _ => e.info().to_string(),
            },
        })?;
        builder.position = (span.start.line(), span.start.col() + 1);
        builder.event(event)?;
    }
    Ok(builder.docs)
}

fn depth_message() -> String {
    format!("exceeded max depth of {MAX_DEPTH}")
}

/// The key of the mapping entry being read.
enum Key {
    /// An ordinary key.
    Plain(String),
    /// `<<` (plain or tagged `!!merge`): the value is merged.
    Merge,
    /// A quoted `"<<"`, which Kustomize drops together with its value.
    Drop,
    /// A null key read for Helm ([`from_str_helm_values`]): an error once its value is
    /// known, as sigs.k8s.io/yaml refuses it when converting to JSON.
    Null,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        /// Collection levels of the deepest item, plus one.
        height: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<Key>,
        anchor: usize,
        height: usize,
        /// Mappings merged in with `<<`, applied at the end so that the mapping's own keys
        /// win wherever they are written, and earlier sources win over later ones.
        merges: Vec<Map<String, Value>>,
        merged: bool,
    },
}

/// A value an anchor names, with what copying it costs.
struct Anchor {
    value: Value,
    nodes: usize,
    bytes: usize,
    height: usize,
}

/// What the builder knows about a finished node besides its value.
#[derive(Clone, Copy, Default)]
struct NodeInfo {
    /// Collection levels inside the value (0 for a scalar).
    height: usize,
    /// The value is an alias.
    alias: bool,
    /// As a key: a plain or `!!merge` `<<` (Some(true)), a quoted `"<<"` (Some(false)).
    merge_key: Option<bool>,
}

#[derive(Default)]
struct Builder {
    docs: Vec<Value>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchor>,
    position: (usize, usize),
    root: Option<Value>,
    yaml11: bool,
    /// See [`from_str_helm_values`].
    refuse_null_keys: bool,
    duplicates: DuplicateKeys,
    /// Nodes decoded in this document, and how many of them came through aliases
    /// (yaml.v3's `decodeCount` and `aliasCount`).
    decoded: usize,
    aliased: usize,
    /// Nodes and string bytes copied by anchors and aliases in the whole stream.
    copied_nodes: usize,
    copied_bytes: usize,
}

/// yaml.v3's `allowedAliasRatio`: up to 99% of a document's nodes may come from aliases while
/// it has at most 400000 nodes, falling linearly to 10% at 4000000.
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let d = decoded as f64;
    if d <= LOW {
        0.99
    } else if d >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((d - LOW) / (HIGH - LOW))
    }
}

/// Nodes and string bytes of a value, as an alias of it copies them.
fn size(value: &Value) -> (usize, usize) {
    let mut nodes = 0usize;
    let mut bytes = 0usize;
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        nodes += 1;
        match v {
            Value::String(s) => bytes += s.len(),
            Value::Array(items) => todo.extend(items.iter()),
            Value::Object(map) => {
                for (k, v) in map {
                    nodes += 1;
                    bytes += k.len();
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    (nodes, bytes)
}

impl Builder {
    fn error(&self, message: String) -> YamlError {
        YamlError {
            line: self.position.0,
            column: self.position.1,
            message,
            conversion: false,
        }
    }

    /// Counts nodes as yaml.v3 does and refuses a document that is mostly alias expansion,
    /// with yaml.v3's rule, then the stream-wide copy budget.
    fn count(&mut self, nodes: usize, aliased: usize) -> Result<(), YamlError> {
        self.decoded += nodes;
        self.aliased += aliased;
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err(self.error("document contains excessive aliasing".into()));
        }
        Ok(())
    }

    /// Charges a copy of `nodes` nodes and `bytes` string bytes to the stream's budget.
    fn copy(&mut self, nodes: usize, bytes: usize) -> Result<(), YamlError> {
        self.copied_nodes = self.copied_nodes.saturating_add(nodes);
        self.copied_bytes = self.copied_bytes.saturating_add(bytes);
        if self.copied_nodes > MAX_ALIAS_EXPANSION || self.copied_bytes > MAX_ALIAS_EXPANSION_BYTES
        {
            return Err(self.error(format!(
                "excessive aliasing: anchors and aliases copy more than {MAX_ALIAS_EXPANSION} \
                 nodes or {MAX_ALIAS_EXPANSION_BYTES} bytes"
            )));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(depth_message()));
        }
        self.count(1, 0)?;
        self.stack.push(frame);
        Ok(())
    }

    fn event(&mut self, event: Event<'_>) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(..) => {
                self.anchors.clear();
                self.root = None;
                self.decoded = 0;
                self.aliased = 0;
            }
            Event::DocumentEnd => self.docs.push(self.root.take().unwrap_or(Value::Null)),
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, 0)?;
                let tag = tag.map(|t| format!("{}{}", t.handle(), t.suffix()));
                let merge_key = (self.awaiting_key() && text == "<<").then(|| match &tag {
                    Some(t) => t == "tag:yaml.org,2002:merge" || t == "!!merge",
                    None => style == ScalarStyle::Plain,
                });
                let merge_key = match merge_key {
                    // yaml.v2 reads a quoted "<<" as an ordinary key.
                    Some(false) if self.yaml11 => None,
                    // A `!!merge` tag on a key is resolved here, not by `resolve`.
                    Some(true) if tag.is_some() => {
                        let info = NodeInfo {
                            merge_key,
                            ..Default::default()
                        };
                        return self.node(Value::String(text.into_owned()), anchor, info);
                    }
                    m => m,
                };
                let value = self.scalar(text, style, tag.as_deref())?;
                let info = NodeInfo {
                    merge_key,
                    ..Default::default()
                };
                self.node(value, anchor, info)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(self.error("unknown alias".into()));
                };
                let (nodes, bytes, height) = (target.nodes, target.bytes, target.height);
                if self.stack.len() + height > MAX_DEPTH {
                    return Err(
                        self.error(format!("alias expands beyond the max depth of {MAX_DEPTH}"))
                    );
                }
                // yaml.v3 counts the alias node itself, then every node of its target.
                self.count(1 + nodes, nodes)?;
                self.copy(nodes, bytes)?;
                let value = self.anchors.get(&id).map(|a| a.value.clone());
                let info = NodeInfo {
                    height,
                    alias: true,
                    merge_key: None,
                };
                self.node(value.unwrap_or(Value::Null), 0, info)?;
            }
            Event::SequenceStart(_, anchor, _) => self.push(Frame::Seq {
                items: Vec::new(),
                anchor,
                height: 1,
            })?,
            Event::MappingStart(_, anchor, _) => self.push(Frame::Map {
                map: Map::new(),
                key: None,
                anchor,
                height: 1,
                merges: Vec::new(),
                merged: false,
            })?,
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    anchor,
                    height,
                }) = self.stack.pop()
                {
                    let info = NodeInfo {
                        height,
                        ..Default::default()
                    };
                    self.node(Value::Array(items), anchor, info)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    anchor,
                    height,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    for source in merges {
                        for (k, v) in source {
                            map.entry(k).or_insert(v);
                        }
                    }
                    let info = NodeInfo {
                        height,
                        ..Default::default()
                    };
                    self.node(Value::Object(map), anchor, info)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The value of a scalar (not a merge key).
    fn scalar(
        &self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<&str>,
    ) -> Result<Value, YamlError> {
        if tag.is_none() && style != ScalarStyle::Plain {
            // An untagged quoted or block scalar is its text: keep the parser's string (block
            // scalars and escaped ones are built by the parser) instead of copying it.
            return Ok(Value::String(text.into_owned()));
        }
        let mut value = resolve(&text, style, tag).map_err(|m| self.error(m))?;
        // Kustomize rewrites top-level annotations as strings from their source text
        // (`2` stays "2", `0755` stays "0755"), so keep that text here.
        if !self.yaml11 && !value.is_string() && tag.is_none() && self.in_annotations() {
            value = Value::String(text.into_owned());
        } else if self.yaml11 && style == ScalarStyle::Plain && tag.is_none() {
            value = match text.as_ref() {
                // yaml.v2 hands timestamps to an untyped value as their text.
                t if timestamp(t).is_some() => Value::String(t.to_string()),
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Value::Bool(false),
                _ => value,
            };
        }
        Ok(value)
    }

    /// True when the next node is a key of the innermost mapping.
    fn awaiting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// True when the next scalar is a value of `metadata.annotations` of a document (or of
    /// an item of a `kind: List` document).
    fn in_annotations(&self) -> bool {
        fn key(f: &Frame) -> Option<&str> {
            match f {
                Frame::Map {
                    key: Some(Key::Plain(k)),
                    ..
                } => Some(k.as_str()),
                _ => None,
            }
        }
        let path = |frames: &[Frame], want: &[Option<&str>]| {
            frames.len() == want.len()
                && frames.iter().zip(want).all(|(f, w)| match w {
                    Some(w) => key(f) == Some(*w),
                    None => matches!(f, Frame::Seq { .. }),
                })
        };
        let Some(last) = self.stack.last() else {
            return false;
        };
        if key(last).is_none() {
            return false;
        }
        let outer = &self.stack[..self.stack.len() - 1];
        path(outer, &[Some("metadata"), Some("annotations")])
            || path(
                outer,
                &[Some("items"), None, Some("metadata"), Some("annotations")],
            )
    }

    fn node(&mut self, value: Value, anchor: usize, info: NodeInfo) -> Result<(), YamlError> {
        if anchor != 0 {
            // The anchor keeps its own copy, which costs what an alias of it costs.
            let (nodes, bytes) = size(&value);
            self.copy(nodes, bytes)?;
            self.anchors.insert(
                anchor,
                Anchor {
                    value: value.clone(),
                    nodes,
                    bytes,
                    height: info.height,
                },
            );
        }
        let position = self.position;
        let at = |message: String| YamlError {
            line: position.0,
            column: position.1,
            message,
            conversion: false,
        };
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, height, .. }) => {
                *height = (*height).max(info.height + 1);
                items.push(value);
            }
            Some(Frame::Map {
                map,
                key,
                height,
                merges,
                merged,
                ..
            }) => match key.take() {
                None => {
                    *key = Some(match info.merge_key {
                        Some(true) if *merged => return Err(at("duplicate merge key".into())),
                        Some(true) => {
                            *merged = true;
                            Key::Merge
                        }
                        Some(false) => Key::Drop,
                        None if self.refuse_null_keys && value.is_null() => Key::Null,
                        None => Key::Plain(key_string(value).map_err(at)?),
                    });
                }
                Some(Key::Drop) => {}
                Some(Key::Null) => {
                    return Err(YamlError {
                        conversion: true,
                        ..at(format!(
                            "unsupported map key of type: %!s(<nil>), key: <nil>, value: {}",
                            go_sharp_v(&value)
                        ))
                    });
                }
                Some(Key::Merge) => {
                    // Merged entries sit one level up: the source mapping's height.
                    *height = (*height).max(info.height);
                    merges.extend(merge_sources(value, info.alias).map_err(at)?);
                }
                Some(Key::Plain(k)) => {
                    if map.contains_key(&k) {
                        match self.duplicates {
                            DuplicateKeys::Refuse => {
                                return Err(at(format!("mapping key {k:?} already defined")));
                            }
                            DuplicateKeys::FirstWins => return Ok(()),
                            DuplicateKeys::LaterWins => {}
                        }
                    }
                    *height = (*height).max(info.height + 1);
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

/// The mappings `<<: value` merges: a mapping, or a sequence of mappings (not an alias of one).
fn merge_sources(value: Value, alias: bool) -> Result<Vec<Map<String, Value>>, String> {
    const WANT_MAP: &str = "map merge requires map or sequence of maps as the value";
    match value {
        Value::Object(m) => Ok(vec![m]),
        _ if alias => Err("invalid map merge: received alias for a non-map value".into()),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err(WANT_MAP.to_string()),
            })
            .collect(),
        _ => Err(WANT_MAP.into()),
    }
}

/// Go's `%+#v` of a decoded value, for the message above (scalars exactly, collections
/// as yaml.v2's types print them).
fn go_sharp_v(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[]interface {{}}{{{}}}",
            items.iter().map(go_sharp_v).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "map[interface {{}}]interface {{}}{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    serde_json::to_string(k).unwrap_or_default(),
                    go_sharp_v(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A scalar key as text. Go cannot use a mapping or sequence as a key ("invalid map key"),
/// and writing one as JSON would grow exponentially with nesting (each level escapes the
/// quotes of the level inside), so such keys are refused.
fn key_string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok("null".into()),
        Value::Array(_) => Err("invalid map key: a sequence cannot be a key".into()),
        Value::Object(_) => Err("invalid map key: a mapping cannot be a key".into()),
        other => Ok(other.to_string()),
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
pub fn resolve_plain(text: &str) -> Value {
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
pub(crate) mod tests {
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

    /// Runs `f` on a thread with a 256 KiB stack, proving it does not recurse per level.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        on_stack(256 * 1024, f)
    }

    /// Runs `f` on a thread with a stack of `size` bytes.
    pub(crate) fn on_stack<T: Send + 'static>(
        size: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        std::thread::Builder::new()
            .stack_size(size)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no stack overflow")
    }

    fn laughs(levels: usize) -> String {
        let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..levels {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        doc
    }

    #[test]
    fn billion_laughs_fail_fast_at_the_alias() {
        let started = std::time::Instant::now();
        let err = from_str(&laughs(9)).expect_err("excessive aliasing");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.message, "document contains excessive aliasing");
        // The fourth level is where expansion passes 99% of the document.
        assert_eq!(err.line, 4, "{err}");
        assert!(from_str_yaml11(&laughs(9)).is_err());
        // Three levels (729 copied scalars) are allowed, as in yaml.v3.
        assert!(from_str(&laughs(3)).is_ok());
    }

    #[test]
    fn legitimate_aliases_still_parse() {
        let doc = from_str(
            "defaults: &d {image: nginx, pull: Always}\nweb:\n  <<: *d\n  replicas: 2\n\
             api: {<<: *d, image: api}\nports: &p [80, 443]\nsvc: {ports: *p}\n",
        )
        .expect("valid");
        assert_eq!(
            doc["web"],
            json!({"image": "nginx", "pull": "Always", "replicas": 2})
        );
        assert_eq!(doc["api"], json!({"image": "api", "pull": "Always"}));
        assert_eq!(doc["svc"], json!({"ports": [80, 443]}));
    }

    #[test]
    fn alias_copies_are_bounded_across_a_stream() {
        // Each document stays under yaml.v3's ratio (about 95% aliased); together they copy
        // more than MAX_ALIAS_EXPANSION nodes.
        let items = vec!["x"; 1000].join(", ");
        let aliases = vec!["*a"; 20].join(", ");
        let doc = format!("a: &a [{items}]\nb: [{aliases}]\n");
        assert!(from_str(&doc).is_ok());
        let stream = vec![doc; 6].join("---\n");
        let err = from_str_multi(&stream).expect_err("budget");
        assert!(err.message.contains("excessive aliasing"), "{err}");
        // A long string copied by a few aliases is bounded by bytes, not nodes.
        let big = "x".repeat(1 << 20);
        let aliases = vec!["*s"; 20].join(", ");
        let err = from_str(&format!("s: &s {big}\nt: [{aliases}]\n")).expect_err("bytes");
        assert!(err.message.contains("excessive aliasing"), "{err}");
        // The anchor keeps 1 MiB, so the sixteenth alias passes 16 MiB.
        assert_eq!((err.line, err.column), (2, 5 + 4 * 15), "{err}");
        // Nested anchors each keep a copy of everything inside them.
        let doc = format!("{}{big}{}", "&n [".repeat(40), "]".repeat(40));
        let err = from_str(&doc).expect_err("nested anchors");
        assert!(err.message.contains("excessive aliasing"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let started = std::time::Instant::now();
        let cases = [
            "[".repeat(100_000),
            "{a: ".repeat(100_000),
            "- ".repeat(100_000),
            (0..1500)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect(),
        ];
        for doc in cases {
            let err = on_small_stack(move || from_str(&doc)).expect_err("too deep");
            assert_eq!(err.message, "exceeded max depth of 1000", "{err}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(on_small_stack(move || from_str(&ok).map(|v| v.is_array())).expect("at the limit"));
    }

    #[test]
    fn aliases_count_toward_the_depth() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let doc = format!(
            "a: &a {}\nb: {}*a{}\n",
            deep(600),
            "[".repeat(600),
            "]".repeat(600)
        );
        // Values up to MAX_DEPTH exist here, and serde_json clones and drops them recursively:
        // half of a default 2 MiB thread is enough.
        let err = on_stack(1024 * 1024, move || from_str(&doc)).expect_err("too deep");
        assert_eq!(err.message, "alias expands beyond the max depth of 1000");
        assert_eq!((err.line, err.column), (2, 604), "{err}");
        // The merged entries of a deep mapping are as deep as the mapping.
        let doc = format!("a: &a {{k: {}}}\nb:\n{}  <<: *a\n", deep(600), "");
        assert!(from_str(&doc).is_ok());
    }

    #[test]
    fn collection_keys_are_refused() {
        let err = from_str("? [a, b]\n: 1\n").expect_err("invalid key");
        assert!(err.message.starts_with("invalid map key"), "{err}");
        // Written as JSON, each level would double the escapes of the level inside.
        let started = std::time::Instant::now();
        let doc = format!("{}a\n", "? ".repeat(60));
        assert!(from_str(&doc).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }

    /// Expected values are what `kubectl kustomize` (v1.32.4, Kustomize v5.5.0) printed for the
    /// same mappings in a resource.
    #[test]
    fn merge_keys_match_kubectl() {
        let doc = from_str(
            "base: &base {a: 1, b: 2}\nbase2: &base2 {b: 20, c: 30}\n\
             override_after:\n  <<: *base\n  b: override\n\
             override_before:\n  b: before\n  <<: *base\n\
             seq:\n  <<: [*base, *base2]\n\
             seq_rev:\n  <<: [*base2, *base]\n\
             seq_override:\n  <<: [*base, *base2]\n  c: own\n\
             inline:\n  <<: {x: 1, y: 1}\n  x: 2\n\
             tagged:\n  !!merge <<: *base\n  a: tagged\n\
             nested: &nm\n  <<: *base\n  d: 4\n\
             uses_nested:\n  <<: *nm\n  a: top\n\
             null_override:\n  <<: *base\n  a:\n\
             quoted:\n  \"<<\": *base\n  z: 1\n\
             quoted_scalar:\n  '<<': plain\n",
        )
        .expect("valid");
        assert_eq!(
            doc,
            json!({
                "base": {"a": 1, "b": 2}, "base2": {"b": 20, "c": 30},
                "override_after": {"a": 1, "b": "override"},
                "override_before": {"a": 1, "b": "before"},
                "seq": {"a": 1, "b": 2, "c": 30},
                "seq_rev": {"a": 1, "b": 20, "c": 30},
                "seq_override": {"a": 1, "b": 2, "c": "own"},
                "inline": {"x": 2, "y": 1},
                "tagged": {"a": "tagged", "b": 2},
                "nested": {"a": 1, "b": 2, "d": 4},
                "uses_nested": {"a": "top", "b": 2, "d": 4},
                "null_override": {"a": null, "b": 2},
                "quoted": {"z": 1},
                "quoted_scalar": {},
            })
        );
        for (doc, want) in [
            (
                "b: &b {a: 1}\nc: &c {b: 1}\nm:\n  <<: *b\n  <<: *c\n",
                "duplicate merge key",
            ),
            (
                "m:\n  <<: 5\n",
                "map merge requires map or sequence of maps as the value",
            ),
            (
                "s: &s [{a: 1}]\nm:\n  <<: *s\n",
                "invalid map merge: received alias for a non-map value",
            ),
            ("m:\n  a: 1\n  a: 2\n", "mapping key \"a\" already defined"),
        ] {
            let err = from_str(doc).expect_err(doc);
            assert_eq!(err.message, want, "{doc}");
        }
        // yaml.v2 reads a quoted "<<" as an ordinary key.
        let doc = from_str_yaml11("b: &b {a: 1}\nm:\n  \"<<\": *b\n").expect("valid");
        assert_eq!(doc["m"], json!({"<<": {"a": 1}}));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = from_str("a: 1\nb: [unclosed\n").expect_err("invalid");
        assert!(err.line >= 2, "{err}");
        let dup = from_str("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(dup.line, 2, "{dup}");
        assert!(dup.message.contains("\"a\" already defined"), "{dup}");
    }

    #[test]
    fn repeated_keys_can_keep_the_later_or_the_earlier_value() {
        let text = "a: 1\nm: {x: 1, x: 2}\na: 2\n";
        let later = from_str_multi_with(text, false, DuplicateKeys::LaterWins).expect("later");
        assert_eq!(later, vec![serde_json::json!({"a": 2, "m": {"x": 2}})]);
        let first = from_str_multi_with(text, true, DuplicateKeys::FirstWins).expect("first");
        assert_eq!(first, vec![serde_json::json!({"a": 1, "m": {"x": 1}})]);
        assert!(from_str_multi_with(text, false, DuplicateKeys::Refuse).is_err());
    }
}
