//! `index.yaml` of a Helm chart repository: reading it as Helm does, sorting it, choosing a
//! chart version for a constraint, and the canonical bytes source-controller stores.
//!
//! Reading follows Helm 4.1's `loadIndex` (recorded with the real `helm repo index --merge`,
//! which loads an index through the same function):
//!
//! - Empty input is refused (`empty index.yaml file`). Input that is valid JSON is read as
//!   JSON, leniently: unknown fields are ignored. Anything else is read as YAML (yaml.v2's
//!   YAML 1.1 rules, first document only) strictly: an unknown field, or a key written twice,
//!   is an error.
//! - In YAML, a scalar written where the index itself wants a string (`apiVersion`,
//!   `publicKeys`, `annotations`, an entry's `urls` and `digest`) becomes that string as Go
//!   formats it (`1.10` is `"1.1"`, `yes` is `"true"`). The chart metadata fields of an entry
//!   (`version`, `appVersion`, `description`, ...) get no such conversion: `version: 1.10` is
//!   an error, as in Helm.
//! - `generated` and `created` must be RFC 3339 timestamps (or absent or null).
//! - Entries that fail Helm's chart metadata validation (an empty or non-semver version, no
//!   name, a bad type, a null maintainer...) are skipped, not fatal, and listed in
//!   [`IndexFile::skipped`] for the caller to log; a repeated dependency name is tolerated
//!   (Helm's exception for indexes that lost their aliases). Null entries are skipped too.
//! - The versions of every chart are sorted newest first ([`IndexFile::sort_entries`]), and a
//!   missing `apiVersion` is an error (`no API version specified`), after everything else.
//!
//! Hostile input is bounded by the caller's size check and by `weir-yaml`'s limits on
//! nesting and alias expansion; raw values inside entries (`import-values`) may nest at most
//! [`MAX_RAW_DEPTH`] levels.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::chart::metadata::go_format_float32;
use crate::chart::{Dependency, Maintainer, Metadata};
use crate::sprig::semver::{Constraints, Version};

use super::time::parse_rfc3339;

/// Deepest nesting of a raw value inside an entry (a dependency's `import-values`). Helm has
/// no limit; real indexes nest two levels there.
pub const MAX_RAW_DEPTH: usize = 64;

/// How many versions a "no version matches" message lists before "and N more".
const LISTED_VERSIONS: usize = 10;

/// A repository index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexFile {
    /// `apiVersion` (Helm writes `v1`; any non-empty value is accepted, as Helm does).
    pub api_version: String,
    /// `generated`, as written (RFC 3339). Not part of the canonical form.
    pub generated: Option<String>,
    /// Chart name (the key under `entries`) to its versions, newest first once sorted.
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    /// `publicKeys`.
    pub public_keys: Vec<String>,
    /// `annotations` of the index itself.
    pub annotations: BTreeMap<String, String>,
    /// Entries [`IndexFile::parse`] left out, for the caller to log. Not part of the index's
    /// content: never written by [`IndexFile::to_canonical_json`].
    pub skipped: Vec<SkippedEntry>,
}

/// One version of a chart in the index: its `Chart.yaml` metadata plus where to get it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartVersion {
    /// The chart's metadata, as Helm embeds it in the entry.
    pub metadata: Metadata,
    /// Download URLs, absolute or relative to the repository URL (see
    /// [`super::resolve_chart_url`]); Helm uses the first.
    pub urls: Vec<String>,
    /// `created`, as written (RFC 3339); `None` when absent.
    pub created: Option<String>,
    /// `digest`: the hex sha256 of the `.tgz`; `None` when absent or empty.
    pub digest: Option<String>,
    /// `removed`.
    pub removed: bool,
}

impl std::ops::Deref for ChartVersion {
    type Target = Metadata;

    /// The metadata, as Go's embedding exposes it (`entry.version`, `entry.name`).
    fn deref(&self) -> &Metadata {
        &self.metadata
    }
}

impl std::ops::DerefMut for ChartVersion {
    fn deref_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }
}

/// An entry [`IndexFile::parse`] skipped, as Helm logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The chart name it was listed under.
    pub chart: String,
    /// Its version as written; `None` for a null entry.
    pub version: Option<String>,
    /// Why: Helm's validation message, or `empty entry`.
    pub reason: String,
}

impl fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(
                f,
                "skipping loading invalid entry for chart {:?} {v:?}: {}",
                self.chart, self.reason
            ),
            None => write!(
                f,
                "skipping loading invalid entry for chart {:?}: {}",
                self.chart, self.reason
            ),
        }
    }
}

/// An index that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// No bytes at all.
    #[error("empty index.yaml file")]
    Empty,
    /// No `apiVersion`.
    #[error("no API version specified")]
    NoApiVersion,
    /// Not UTF-8 (and not JSON).
    #[error("index.yaml is not UTF-8 text")]
    NotText,
    /// Not YAML: the parser's message and position.
    #[error("error converting YAML to JSON: yaml: line {line}: {message}")]
    Yaml {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A field of the wrong shape, an unknown field (YAML), or a bad timestamp.
    #[error("{at}: {message}")]
    Field {
        /// Where, e.g. `entries.podinfo[2].version`.
        at: String,
        /// What is wrong, e.g. `expected a string, found a number`.
        message: String,
    },
}

/// A chart version that cannot be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No chart of that name in the index.
    #[error(
        "no chart named {name:?} in the repository index{}",
        similar_hint(similar)
    )]
    NoChart {
        /// The name asked for.
        name: String,
        /// Up to five chart names that differ from it only in case or punctuation.
        similar: Vec<String>,
    },
    /// The chart is there but no version satisfies the constraint.
    #[error("{}", no_version_message(name, constraint, available))]
    NoVersion {
        /// The chart.
        name: String,
        /// The constraint as given (empty: the latest stable version).
        constraint: String,
        /// Every version of the chart, newest first.
        available: Vec<String>,
    },
    /// The constraint is not a semver constraint.
    #[error("invalid version constraint {constraint:?} for chart {name:?}: {reason}")]
    InvalidConstraint {
        /// The chart.
        name: String,
        /// The constraint as given.
        constraint: String,
        /// The semver parser's message.
        reason: String,
    },
}

fn similar_hint(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", quoted_list(similar))
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn listed(available: &[String]) -> String {
    let mut out = available
        .iter()
        .take(LISTED_VERSIONS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if available.len() > LISTED_VERSIONS {
        out.push_str(&format!(" and {} more", available.len() - LISTED_VERSIONS));
    }
    out
}

fn no_version_message(name: &str, constraint: &str, available: &[String]) -> String {
    if available.is_empty() {
        return format!("chart {name:?} has no versions in the repository index");
    }
    let mut out = if constraint.is_empty() || constraint == "*" {
        format!(
            "chart {name:?} has no stable version (available, newest first: {})",
            listed(available)
        )
    } else {
        format!(
            "no version of chart {name:?} matches {constraint:?} (available, newest first: {})",
            listed(available)
        )
    };
    if prerelease_would_match(constraint, available) {
        out.push_str(
            "; pre-releases only match a constraint that names a pre-release, e.g. \
             \">=1.0.0-0\"",
        );
    }
    out
}

/// Whether some pre-release would match if pre-releases were allowed: the hint a user needs
/// when `^2.0.0` finds nothing while `2.0.0-rc.1` is there.
fn prerelease_would_match(constraint: &str, available: &[String]) -> bool {
    let text = if constraint.is_empty() {
        "*"
    } else {
        constraint
    };
    let Ok(c) = Constraints::parse(text) else {
        return false;
    };
    available.iter().any(|v| {
        Version::parse(v).is_ok_and(|v| {
            !v.prerelease().is_empty()
                && Version::parse(&format!("{}.{}.{}", v.major(), v.minor(), v.patch()))
                    .is_ok_and(|release| c.matches(&release))
        })
    })
}

/// How the decoder treats what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Helm's YAML path: strict fields, scalar-to-string conversion for the index's own
    /// string fields.
    Yaml,
    /// Helm's JSON path: unknown fields ignored, no conversions.
    Json,
    /// Our own canonical JSON: as JSON, and trusted (no validation, no sorting).
    Canonical,
}

impl IndexFile {
    /// Reads an `index.yaml` (YAML or JSON) as Helm does, validates every entry (skipping
    /// invalid ones, see [`IndexFile::skipped`]) and sorts the versions newest first.
    ///
    /// # Errors
    /// Empty input, YAML syntax errors, fields of the wrong shape or unknown fields (YAML),
    /// bad timestamps, and a missing `apiVersion`.
    pub fn parse(bytes: &[u8]) -> Result<IndexFile, IndexError> {
        if bytes.is_empty() {
            return Err(IndexError::Empty);
        }
        let (doc, mode) = match serde_json::from_slice::<Value>(bytes) {
            Ok(doc) => (doc, Mode::Json),
            Err(_) => {
                let text = std::str::from_utf8(bytes).map_err(|_| IndexError::NotText)?;
                let docs =
                    weir_yaml::from_str_multi_with(text, true, weir_yaml::DuplicateKeys::Refuse)
                        .map_err(|e| IndexError::Yaml {
                            line: e.line,
                            message: e.message,
                        })?;
                (docs.into_iter().next().unwrap_or(Value::Null), Mode::Yaml)
            }
        };
        let mut index = decode_index(&doc, mode)?;
        index.sort_entries();
        if index.api_version.is_empty() {
            return Err(IndexError::NoApiVersion);
        }
        Ok(index)
    }

    /// Reads what [`IndexFile::to_canonical_json`] wrote, without validating or sorting
    /// again: the fast path for an index already checked. For anything else use
    /// [`IndexFile::parse`].
    ///
    /// # Errors
    /// Bytes that are not JSON, fields of the wrong shape, a missing `apiVersion`.
    pub fn from_canonical_json(bytes: &[u8]) -> Result<IndexFile, IndexError> {
        if bytes.is_empty() {
            return Err(IndexError::Empty);
        }
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| IndexError::Field {
            at: "index".into(),
            message: format!("not canonical JSON: {e}"),
        })?;
        let index = decode_index(&doc, Mode::Canonical)?;
        if index.api_version.is_empty() {
            return Err(IndexError::NoApiVersion);
        }
        Ok(index)
    }

    /// [`IndexFile::from_canonical_json`] reading only the versions of chart `name` (the other
    /// entries are skipped unparsed): what a HelmChart needs from a large stored index.
    ///
    /// # Errors
    /// As [`IndexFile::from_canonical_json`].
    pub fn chart_from_canonical_json(bytes: &[u8], name: &str) -> Result<IndexFile, IndexError> {
        #[derive(serde::Deserialize)]
        struct Canonical<'a> {
            #[serde(rename = "apiVersion", default)]
            api_version: String,
            #[serde(borrow, default)]
            entries: BTreeMap<String, &'a serde_json::value::RawValue>,
        }
        if bytes.is_empty() {
            return Err(IndexError::Empty);
        }
        let not_canonical = |e: serde_json::Error| IndexError::Field {
            at: "index".into(),
            message: format!("not canonical JSON: {e}"),
        };
        let canonical: Canonical<'_> = serde_json::from_slice(bytes).map_err(not_canonical)?;
        let mut entries = serde_json::Map::new();
        if let Some(raw) = canonical.entries.get(name) {
            let versions: Value = serde_json::from_str(raw.get()).map_err(not_canonical)?;
            entries.insert(name.to_string(), versions);
        }
        let mut doc = serde_json::Map::new();
        doc.insert("apiVersion".into(), Value::String(canonical.api_version));
        doc.insert("entries".into(), Value::Object(entries));
        let index = decode_index(&Value::Object(doc), Mode::Canonical)?;
        if index.api_version.is_empty() {
            return Err(IndexError::NoApiVersion);
        }
        Ok(index)
    }

    /// Helm's `SortEntries`: every chart's versions newest first by semver precedence;
    /// versions that are not semver go last. Ties (versions equal but for build metadata)
    /// are broken as Flux breaks them, the newer `created` first, and then by the version
    /// text and the entry's content, so that the order never depends on the input order.
    pub fn sort_entries(&mut self) {
        for versions in self.entries.values_mut() {
            sort_versions(versions);
        }
    }

    /// Helm's `IndexFile.Get`: the version of `name` for `constraint`. An empty constraint
    /// means `*` (the newest stable version); a version written exactly as `constraint` wins
    /// first; otherwise the first (newest, once sorted) version satisfying the constraint.
    /// Pre-releases only satisfy a constraint that names one.
    ///
    /// # Errors
    /// No such chart, an invalid constraint, or no matching version (listing the available
    /// ones).
    pub fn get(&self, name: &str, constraint: &str) -> Result<&ChartVersion, ResolveError> {
        let Some(versions) = self.entries.get(name) else {
            return Err(ResolveError::NoChart {
                name: name.to_string(),
                similar: self.similar_names(name),
            });
        };
        let no_version = || ResolveError::NoVersion {
            name: name.to_string(),
            constraint: constraint.to_string(),
            available: versions.iter().map(|v| v.version.clone()).collect(),
        };
        if versions.is_empty() {
            return Err(no_version());
        }
        let text = if constraint.is_empty() {
            "*"
        } else {
            constraint
        };
        let constraints =
            Constraints::parse(text).map_err(|e| ResolveError::InvalidConstraint {
                name: name.to_string(),
                constraint: constraint.to_string(),
                reason: e.to_string(),
            })?;
        if !constraint.is_empty()
            && let Some(exact) = versions.iter().find(|v| v.version == constraint)
        {
            return Ok(exact);
        }
        versions
            .iter()
            .find(|v| Version::parse(&v.version).is_ok_and(|parsed| constraints.matches(&parsed)))
            .ok_or_else(no_version)
    }

    fn similar_names(&self, name: &str) -> Vec<String> {
        let fold = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        };
        let wanted = fold(name);
        self.entries
            .keys()
            .filter(|k| k.as_str() != name && fold(k) == wanted)
            .take(5)
            .cloned()
            .collect()
    }

    /// The index as deterministic JSON: `apiVersion`, `annotations`, `publicKeys` and the
    /// entries by chart name, each chart's versions in their current order (sort first), keys
    /// in a fixed (alphabetical) order, empty fields left out, `generated` and
    /// [`IndexFile::skipped`] never written. Two indexes with the same content give the same
    /// bytes, whatever their entry order or generation time; the real helm reads the result
    /// as an index too.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let mut w = Json::default();
        w.open('{');
        if !self.annotations.is_empty() {
            w.key("annotations");
            w.string_map(&self.annotations);
        }
        w.key("apiVersion");
        w.string(&self.api_version);
        w.key("entries");
        w.open('{');
        for (name, versions) in &self.entries {
            w.key(name);
            w.open('[');
            for v in versions {
                w.comma();
                write_chart_version(&mut w, v);
            }
            w.close(']');
        }
        w.close('}');
        if !self.public_keys.is_empty() {
            w.key("publicKeys");
            w.strings(&self.public_keys);
        }
        w.close('}');
        w.out.push('\n');
        w.out.into_bytes()
    }
}

/// An entry with what sorting compares: its parsed version and its `created` instant.
type SortKeyed = (Option<Version>, Option<(i64, u32)>, ChartVersion);

fn sort_versions(versions: &mut Vec<ChartVersion>) {
    let mut keyed: Vec<SortKeyed> = std::mem::take(versions)
        .into_iter()
        .map(|v| {
            let parsed = Version::parse(&v.version).ok();
            let created = v.created.as_deref().and_then(parse_rfc3339);
            (parsed, created, v)
        })
        .collect();
    keyed.sort_by(|(pa, ca, a), (pb, cb, b)| {
        let by_version = match (pa, pb) {
            (Some(x), Some(y)) => y.compare(x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_version
            .then_with(|| cb.cmp(ca))
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| {
                let mut x = Json::default();
                write_chart_version(&mut x, a);
                let mut y = Json::default();
                write_chart_version(&mut y, b);
                x.out.cmp(&y.out)
            })
    });
    *versions = keyed.into_iter().map(|(_, _, v)| v).collect();
}

// ---------------------------------------------------------------------------------------
// Decoding

/// Where the decoder is, for error messages.
struct At<'a> {
    path: &'a str,
}

impl At<'_> {
    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }
}

fn field_error(at: impl Into<String>, message: impl Into<String>) -> IndexError {
    IndexError::Field {
        at: at.into(),
        message: message.into(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

fn expected(at: String, what: &str, v: &Value) -> IndexError {
    let hint = if what == "a string" && matches!(v, Value::Number(_) | Value::Bool(_)) {
        " (quote it)"
    } else {
        ""
    };
    field_error(at, format!("expected {what}, found {}{hint}", kind(v)))
}

/// Go's `encoding/json` field matching: the exact name, else an ASCII case-insensitive one.
fn field_name(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

fn unknown(mode: Mode, at: &At<'_>, key: &str) -> Result<(), IndexError> {
    if mode == Mode::Yaml {
        return Err(field_error(
            at.field(key),
            format!("unknown field {key:?} (helm refuses unknown fields in index.yaml)"),
        ));
    }
    Ok(())
}

fn as_object(v: &Value, at: String) -> Result<Option<&Map<String, Value>>, IndexError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(expected(at, "a mapping", other)),
    }
}

/// A string field. `convert`: a YAML scalar becomes its Go text (sigs.k8s.io/yaml's
/// conversion for fields that are plain strings of the index itself). `null` leaves it.
fn string(slot: &mut String, v: &Value, at: String, convert: bool) -> Result<(), IndexError> {
    match v {
        Value::Null => {}
        Value::String(s) => slot.clone_from(s),
        Value::Bool(b) if convert => *slot = b.to_string(),
        Value::Number(n) if convert => *slot = go_number_text(n),
        other => return Err(expected(at, "a string", other)),
    }
    Ok(())
}

fn go_number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        go_format_float32(n.as_f64().unwrap_or(0.0))
    }
}

fn strings(v: &Value, at: String, convert: bool) -> Result<Vec<String>, IndexError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut s = String::new();
                string(&mut s, item, format!("{at}[{i}]"), convert)?;
                out.push(s);
            }
            Ok(out)
        }
        other => Err(expected(at, "a sequence of strings", other)),
    }
}

fn string_map(
    v: &Value,
    at: String,
    convert: bool,
) -> Result<BTreeMap<String, String>, IndexError> {
    let mut out = BTreeMap::new();
    if let Some(m) = as_object(v, at.clone())? {
        for (k, item) in m {
            let mut s = String::new();
            string(&mut s, item, format!("{at}.{k}"), convert)?;
            out.insert(k.clone(), s);
        }
    }
    Ok(out)
}

fn boolean(slot: &mut bool, v: &Value, at: String) -> Result<(), IndexError> {
    match v {
        Value::Null => {}
        Value::Bool(b) => *slot = *b,
        other => return Err(expected(at, "a boolean", other)),
    }
    Ok(())
}

/// An RFC 3339 timestamp field (Go's `time.Time`): a string, or null.
fn timestamp(v: &Value, at: String) -> Result<Option<String>, IndexError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            if parse_rfc3339(s).is_none() {
                return Err(field_error(
                    at,
                    format!("{s:?} is not an RFC 3339 timestamp (like 2006-01-02T15:04:05Z)"),
                ));
            }
            Ok(Some(s.clone()))
        }
        other => Err(expected(at, "an RFC 3339 timestamp string", other)),
    }
}

fn check_raw_depth(v: &Value, at: &str, depth: usize) -> Result<(), IndexError> {
    if depth > MAX_RAW_DEPTH {
        return Err(field_error(
            at,
            format!("nested deeper than {MAX_RAW_DEPTH} levels"),
        ));
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_raw_depth(x, at, depth + 1)),
        Value::Object(m) => m
            .values()
            .try_for_each(|x| check_raw_depth(x, at, depth + 1)),
        _ => Ok(()),
    }
}

const INDEX_FIELDS: &[&str] = &[
    "serverInfo",
    "apiVersion",
    "generated",
    "entries",
    "publicKeys",
    "annotations",
];

fn decode_index(doc: &Value, mode: Mode) -> Result<IndexFile, IndexError> {
    let mut index = IndexFile::default();
    let Some(map) = as_object(doc, "index".into())? else {
        return Ok(index);
    };
    let top = At { path: "" };
    let convert = mode == Mode::Yaml;
    for (key, v) in map {
        match field_name(key, INDEX_FIELDS) {
            Some("apiVersion") => string(&mut index.api_version, v, top.field(key), convert)?,
            Some("generated") => index.generated = timestamp(v, top.field(key))?,
            Some("publicKeys") => index.public_keys = strings(v, top.field(key), convert)?,
            Some("annotations") => index.annotations = string_map(v, top.field(key), convert)?,
            Some("serverInfo") => {
                // Chartmuseum's; Helm reads it as a map and drops it.
                as_object(v, top.field(key))?;
            }
            Some("entries") => decode_entries(&mut index, v, mode)?,
            _ => unknown(mode, &top, key)?,
        }
    }
    Ok(index)
}

fn decode_entries(index: &mut IndexFile, v: &Value, mode: Mode) -> Result<(), IndexError> {
    let Some(map) = as_object(v, "entries".into())? else {
        return Ok(());
    };
    for (name, list) in map {
        let at = format!("entries.{name}");
        let items = match list {
            Value::Null => &Vec::new(),
            Value::Array(items) => items,
            other => return Err(expected(at, "a sequence of chart versions", other)),
        };
        let mut versions = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{at}[{i}]");
            let Some(fields) = as_object(item, item_at.clone())? else {
                if mode != Mode::Canonical {
                    index.skipped.push(SkippedEntry {
                        chart: name.clone(),
                        version: None,
                        reason: "empty entry".into(),
                    });
                }
                continue;
            };
            let decoded = decode_chart_version(fields, &item_at, mode)?;
            if mode == Mode::Canonical {
                versions.push(decoded.entry);
                continue;
            }
            let mut decoded = decoded;
            match validate_entry(&mut decoded) {
                Ok(()) => versions.push(decoded.entry),
                Err(reason) => index.skipped.push(SkippedEntry {
                    chart: name.clone(),
                    version: Some(decoded.entry.version.clone()),
                    reason,
                }),
            }
        }
        index.entries.insert(name.clone(), versions);
    }
    Ok(())
}

/// A decoded entry with what validation needs to know about null list items, which the
/// entry itself cannot hold.
struct Decoded {
    entry: ChartVersion,
    null_maintainer: bool,
    /// Index of the first null dependency (every dependency before it is in the entry).
    first_null_dependency: Option<usize>,
}

/// `repo.ChartVersion`'s own fields; the embedded `chart.Metadata` fields are
/// [`crate::chart::metadata::METADATA_FIELDS`], as `Chart.yaml` reads them.
const CHART_VERSION_OWN_FIELDS: &[&str] = &[
    "urls",
    "created",
    "removed",
    "digest",
    // Deprecated fields Helm still accepts and ignores.
    "checksum",
    "engine",
    "tillerVersion",
    "url",
];

fn decode_chart_version(
    fields: &Map<String, Value>,
    at: &str,
    mode: Mode,
) -> Result<Decoded, IndexError> {
    let at = At { path: at };
    let convert = mode == Mode::Yaml;
    let mut d = Decoded {
        entry: ChartVersion::default(),
        null_maintainer: false,
        first_null_dependency: None,
    };
    let md = &mut d.entry.metadata;
    for (key, v) in fields {
        let here = || at.field(key);
        let field = field_name(key, crate::chart::metadata::METADATA_FIELDS)
            .or_else(|| field_name(key, CHART_VERSION_OWN_FIELDS));
        match field {
            // Metadata fields: never converted (sigs.k8s.io/yaml does not see through the
            // embedded pointer), so `version: 1.0` is an error, as in Helm.
            Some("name") => string(&mut md.name, v, here(), false)?,
            Some("home") => string(&mut md.home, v, here(), false)?,
            Some("sources") => md.sources = strings(v, here(), false)?,
            Some("version") => string(&mut md.version, v, here(), false)?,
            Some("description") => string(&mut md.description, v, here(), false)?,
            Some("keywords") => md.keywords = strings(v, here(), false)?,
            Some("maintainers") => {
                let (list, null) = maintainers(v, &here(), mode)?;
                md.maintainers = list;
                d.null_maintainer = null;
            }
            Some("icon") => string(&mut md.icon, v, here(), false)?,
            Some("apiVersion") => string(&mut md.api_version, v, here(), false)?,
            Some("condition") => string(&mut md.condition, v, here(), false)?,
            Some("tags") => string(&mut md.tags, v, here(), false)?,
            Some("appVersion") => string(&mut md.app_version, v, here(), false)?,
            Some("deprecated") => boolean(&mut md.deprecated, v, here())?,
            Some("annotations") => md.annotations = string_map(v, here(), false)?,
            Some("kubeVersion") => string(&mut md.kube_version, v, here(), false)?,
            Some("dependencies") => {
                let (list, first_null) = dependencies(v, &here(), mode)?;
                md.dependencies = list;
                d.first_null_dependency = first_null;
            }
            Some("type") => string(&mut md.chart_type, v, here(), false)?,
            Some("urls") => d.entry.urls = strings(v, here(), convert)?,
            Some("created") => d.entry.created = timestamp(v, here())?,
            Some("removed") => boolean(&mut d.entry.removed, v, here())?,
            Some("digest") => {
                let mut s = String::new();
                string(&mut s, v, here(), convert)?;
                d.entry.digest = (!s.is_empty()).then_some(s);
            }
            Some(_) => {
                // checksum, engine, tillerVersion, url: checked as strings, then dropped.
                let mut ignored = String::new();
                string(&mut ignored, v, here(), convert)?;
            }
            None => unknown(mode, &at, key)?,
        }
    }
    Ok(d)
}

const MAINTAINER_FIELDS: &[&str] = &["name", "email", "url"];

fn maintainers(v: &Value, at: &str, mode: Mode) -> Result<(Vec<Maintainer>, bool), IndexError> {
    let items = match v {
        Value::Null => return Ok((Vec::new(), false)),
        Value::Array(items) => items,
        other => return Err(expected(at.to_string(), "a sequence of maintainers", other)),
    };
    let mut out = Vec::with_capacity(items.len());
    let mut null = false;
    for (i, item) in items.iter().enumerate() {
        let item_at = format!("{at}[{i}]");
        let Some(fields) = as_object(item, item_at.clone())? else {
            null = true;
            continue;
        };
        let here = At { path: &item_at };
        let mut m = Maintainer::default();
        for (key, x) in fields {
            match field_name(key, MAINTAINER_FIELDS) {
                Some("name") => string(&mut m.name, x, here.field(key), false)?,
                Some("email") => string(&mut m.email, x, here.field(key), false)?,
                Some("url") => string(&mut m.url, x, here.field(key), false)?,
                _ => unknown(mode, &here, key)?,
            }
        }
        out.push(m);
    }
    Ok((out, null))
}

const DEPENDENCY_FIELDS: &[&str] = &[
    "name",
    "version",
    "repository",
    "condition",
    "tags",
    "enabled",
    "import-values",
    "alias",
];

fn dependencies(
    v: &Value,
    at: &str,
    mode: Mode,
) -> Result<(Vec<Dependency>, Option<usize>), IndexError> {
    let items = match v {
        Value::Null => return Ok((Vec::new(), None)),
        Value::Array(items) => items,
        other => {
            return Err(expected(
                at.to_string(),
                "a sequence of dependencies",
                other,
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    let mut first_null = None;
    for (i, item) in items.iter().enumerate() {
        let item_at = format!("{at}[{i}]");
        let Some(fields) = as_object(item, item_at.clone())? else {
            first_null.get_or_insert(out.len());
            continue;
        };
        let here = At { path: &item_at };
        let mut d = Dependency::default();
        for (key, x) in fields {
            match field_name(key, DEPENDENCY_FIELDS) {
                Some("name") => string(&mut d.name, x, here.field(key), false)?,
                Some("version") => string(&mut d.version, x, here.field(key), false)?,
                Some("repository") => string(&mut d.repository, x, here.field(key), false)?,
                Some("condition") => string(&mut d.condition, x, here.field(key), false)?,
                Some("tags") => d.tags = strings(x, here.field(key), false)?,
                Some("enabled") => boolean(&mut d.enabled, x, here.field(key))?,
                Some("import-values") => match x {
                    Value::Null => d.import_values.clear(),
                    Value::Array(a) => {
                        check_raw_depth(x, &here.field(key), 0)?;
                        d.import_values.clone_from(a);
                    }
                    other => return Err(expected(here.field(key), "a sequence", other)),
                },
                Some("alias") => string(&mut d.alias, x, here.field(key), false)?,
                _ => unknown(mode, &here, key)?,
            }
        }
        out.push(d);
    }
    Ok((out, first_null))
}

/// Helm's check of an entry: `apiVersion` defaults to `v1`, then `Metadata.Validate` (which
/// also normalises the text fields), with the null list items the entry cannot hold checked
/// where Helm checks them, and a repeated dependency name tolerated.
fn validate_entry(d: &mut Decoded) -> Result<(), String> {
    const NULL_MAINTAINER: &str = "validation: maintainers must not contain empty or null nodes";
    const NULL_DEPENDENCY: &str = "validation: dependencies must not contain empty or null nodes";
    let md = &mut d.entry.metadata;
    if md.api_version.is_empty() {
        md.api_version = "v1".into();
    }
    let probe = md.clone();
    // Normalises every field whatever the verdict (Helm normalises as it goes).
    let full = md.validate();
    let verdict = if d.null_maintainer {
        // Maintainers are checked after the scalar fields and before the dependencies.
        let mut before = probe;
        before.maintainers.clear();
        before.dependencies.clear();
        before.validate().and(Err(NULL_MAINTAINER.to_string()))
    } else if let Some(first_null) = d.first_null_dependency {
        let mut before = probe;
        before.dependencies.truncate(first_null);
        before.validate().and(Err(NULL_DEPENDENCY.to_string()))
    } else {
        full
    };
    match verdict {
        Err(e) if e.starts_with("validation: more than one dependency with name or alias") => {
            Ok(())
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Canonical JSON

/// A small JSON writer with the key order decided by the caller.
#[derive(Default)]
struct Json {
    out: String,
    /// Whether the current container already has a member (a comma is due).
    has_member: Vec<bool>,
}

impl Json {
    fn open(&mut self, c: char) {
        self.out.push(c);
        self.has_member.push(false);
    }

    fn close(&mut self, c: char) {
        self.out.push(c);
        self.has_member.pop();
    }

    /// A comma before every member but the first.
    fn comma(&mut self) {
        if let Some(has) = self.has_member.last_mut() {
            if *has {
                self.out.push(',');
            }
            *has = true;
        }
    }

    fn key(&mut self, k: &str) {
        self.comma();
        self.string(k);
        self.out.push(':');
    }

    fn string(&mut self, s: &str) {
        // serde_json's escaping of a string is plain JSON; it cannot fail for a `str`.
        self.out
            .push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
    }

    fn strings(&mut self, items: &[String]) {
        self.open('[');
        for s in items {
            self.comma();
            self.string(s);
        }
        self.close(']');
    }

    fn string_map(&mut self, m: &BTreeMap<String, String>) {
        self.open('{');
        for (k, v) in m {
            self.key(k);
            self.string(v);
        }
        self.close('}');
    }

    /// A raw value with object keys sorted, whatever the map's own order.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                self.open('{');
                for k in keys {
                    self.key(k);
                    self.value(&m[k]);
                }
                self.close('}');
            }
            Value::Array(a) => {
                self.open('[');
                for x in a {
                    self.comma();
                    self.value(x);
                }
                self.close(']');
            }
            Value::String(s) => self.string(s),
            other => self.out.push_str(&other.to_string()),
        }
    }

    fn opt_string(&mut self, k: &str, s: &str) {
        if !s.is_empty() {
            self.key(k);
            self.string(s);
        }
    }

    fn opt_strings(&mut self, k: &str, items: &[String]) {
        if !items.is_empty() {
            self.key(k);
            self.strings(items);
        }
    }

    fn opt_true(&mut self, k: &str, b: bool) {
        if b {
            self.key(k);
            self.out.push_str("true");
        }
    }
}

fn write_chart_version(w: &mut Json, v: &ChartVersion) {
    let md = &v.metadata;
    w.open('{');
    if !md.annotations.is_empty() {
        w.key("annotations");
        w.string_map(&md.annotations);
    }
    w.opt_string("apiVersion", &md.api_version);
    w.opt_string("appVersion", &md.app_version);
    w.opt_string("condition", &md.condition);
    w.opt_string("created", v.created.as_deref().unwrap_or(""));
    if !md.dependencies.is_empty() {
        w.key("dependencies");
        w.open('[');
        for d in &md.dependencies {
            w.comma();
            w.open('{');
            w.opt_string("alias", &d.alias);
            w.opt_string("condition", &d.condition);
            w.opt_true("enabled", d.enabled);
            if !d.import_values.is_empty() {
                w.key("import-values");
                w.value(&Value::Array(d.import_values.clone()));
            }
            w.opt_string("name", &d.name);
            w.opt_string("repository", &d.repository);
            w.opt_strings("tags", &d.tags);
            w.opt_string("version", &d.version);
            w.close('}');
        }
        w.close(']');
    }
    w.opt_true("deprecated", md.deprecated);
    w.opt_string("description", &md.description);
    w.opt_string("digest", v.digest.as_deref().unwrap_or(""));
    w.opt_string("home", &md.home);
    w.opt_string("icon", &md.icon);
    w.opt_strings("keywords", &md.keywords);
    w.opt_string("kubeVersion", &md.kube_version);
    if !md.maintainers.is_empty() {
        w.key("maintainers");
        w.open('[');
        for m in &md.maintainers {
            w.comma();
            w.open('{');
            w.opt_string("email", &m.email);
            w.opt_string("name", &m.name);
            w.opt_string("url", &m.url);
            w.close('}');
        }
        w.close(']');
    }
    w.opt_string("name", &md.name);
    w.opt_true("removed", v.removed);
    w.opt_strings("sources", &md.sources);
    w.opt_string("tags", &md.tags);
    w.opt_string("type", &md.chart_type);
    w.opt_strings("urls", &v.urls);
    w.opt_string("version", &md.version);
    w.close('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IndexFile {
        IndexFile::parse(text.as_bytes()).unwrap_or_else(|e| panic!("parse: {e}\n{text}"))
    }

    fn parse_err(text: &str) -> String {
        IndexFile::parse(text.as_bytes())
            .expect_err("must fail")
            .to_string()
    }

    fn versions(index: &IndexFile, name: &str) -> Vec<String> {
        index.entries[name]
            .iter()
            .map(|v| v.version.clone())
            .collect()
    }

    const SMALL: &str = "\
apiVersion: v1
entries:
  web:
  - name: web
    version: 1.0.0
    appVersion: \"2.0\"
    urls: [web-1.0.0.tgz]
    digest: abc
    created: 2024-01-01T00:00:00Z
  - name: web
    version: 1.10.0
    urls: [web-1.10.0.tgz]
  - name: web
    version: 1.2.0
  - name: web
    version: 2.0.0-rc.1
  - name: web
    version: v1.9
generated: 2024-02-01T10:00:00.123456789+01:00
";

    #[test]
    fn reads_and_sorts_newest_first() {
        let index = parse(SMALL);
        assert_eq!(index.api_version, "v1");
        assert_eq!(
            index.generated.as_deref(),
            Some("2024-02-01T10:00:00.123456789+01:00")
        );
        assert_eq!(
            versions(&index, "web"),
            ["2.0.0-rc.1", "1.10.0", "v1.9", "1.2.0", "1.0.0"]
        );
        let v1 = &index.entries["web"][4];
        assert_eq!(v1.app_version, "2.0");
        assert_eq!(v1.urls, ["web-1.0.0.tgz"]);
        assert_eq!(v1.digest.as_deref(), Some("abc"));
        assert_eq!(v1.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        // apiVersion defaults to v1 on every entry, as Helm sets it.
        assert!(index.entries["web"].iter().all(|v| v.api_version == "v1"));
        assert!(index.skipped.is_empty());
    }

    #[test]
    fn json_is_read_leniently_yaml_strictly() {
        // Recorded with helm 4.1.4 (`helm repo index --merge`): unknown fields are an error
        // in YAML, ignored in JSON.
        let json = r#"{"apiVersion":"v1","foo":1,"entries":{"a":[{"name":"a","version":"1.0.0","bogus":2}]}}"#;
        let index = parse(json);
        assert_eq!(versions(&index, "a"), ["1.0.0"]);
        assert_eq!(
            parse_err("apiVersion: v1\nfoo: bar\nentries: {}\n"),
            "foo: unknown field \"foo\" (helm refuses unknown fields in index.yaml)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    bogus: 1\n"
            ),
            "entries.a[0].bogus: unknown field \"bogus\" (helm refuses unknown fields in index.yaml)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    maintainers: [{name: x, foo: 1}]\n"
            ),
            "entries.a[0].maintainers[0].foo: unknown field \"foo\" (helm refuses unknown fields in index.yaml)"
        );
        // A key written twice is refused in YAML (yaml.v2 strict), later-wins in JSON.
        assert!(parse_err("apiVersion: v1\napiVersion: v1\nentries: {}\n").contains("line"));
        let index = parse(r#"{"apiVersion":"v0","apiVersion":"v1","entries":{}}"#);
        assert_eq!(index.api_version, "v1");
    }

    #[test]
    fn index_string_fields_convert_scalars_metadata_fields_do_not() {
        // helm 4.1.4: `digest: 12`, `urls: [1, true, 1.10, null]`, `apiVersion: 1.10` are
        // read as strings; `version: 1.10`, `description: 1` are errors.
        let index = parse(
            "apiVersion: 1.10\npublicKeys: [1]\nannotations: {a: 1}\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    digest: 12\n    urls: [1, true, 1.10, null]\n",
        );
        assert_eq!(index.api_version, "1.1");
        assert_eq!(index.public_keys, ["1"]);
        assert_eq!(index.annotations["a"], "1");
        let v = &index.entries["a"][0];
        assert_eq!(v.digest.as_deref(), Some("12"));
        assert_eq!(v.urls, ["1", "true", "1.1", ""]);
        assert_eq!(
            parse_err("apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.10\n"),
            "entries.a[0].version: expected a string, found a number (quote it)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    description: 1\n"
            ),
            "entries.a[0].description: expected a string, found a number (quote it)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    removed: 'yes'\n"
            ),
            "entries.a[0].removed: expected a boolean, found a string"
        );
        // YAML 1.1 booleans are booleans.
        let index = parse(
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    removed: yes\n    deprecated: on\n",
        );
        assert!(index.entries["a"][0].removed && index.entries["a"][0].deprecated);
        // JSON gets no conversion at all.
        assert_eq!(
            parse_err(r#"{"apiVersion": 1, "entries": {}}"#),
            "apiVersion: expected a string, found a number (quote it)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls: http://x\n"
            ),
            "entries.a[0].urls: expected a sequence of strings, found a string"
        );
        assert_eq!(
            parse_err("apiVersion: v1\nentries: []\n"),
            "entries: expected a mapping, found a sequence"
        );
        assert_eq!(
            parse_err("apiVersion: v1\nentries:\n  c: {}\n"),
            "entries.c: expected a sequence of chart versions, found a mapping"
        );
        assert_eq!(
            parse_err("- a\n"),
            "index: expected a mapping, found a sequence"
        );
        assert_eq!(
            parse_err("apiVersion: v1\nserverInfo: 7\nentries: {}\n"),
            "serverInfo: expected a mapping, found a number"
        );
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        assert_eq!(
            parse_err("apiVersion: v1\ngenerated: notatime\nentries: {}\n"),
            "generated: \"notatime\" is not an RFC 3339 timestamp (like 2006-01-02T15:04:05Z)"
        );
        assert_eq!(
            parse_err(
                "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    created: 1\n"
            ),
            "entries.a[0].created: expected an RFC 3339 timestamp string, found a number"
        );
        let index = parse(
            "apiVersion: v1\ngenerated: null\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    created: 2020-01-01T00:00:00.5+02:00\n",
        );
        assert_eq!(index.generated, None);
        assert_eq!(
            index.entries["a"][0].created.as_deref(),
            Some("2020-01-01T00:00:00.5+02:00")
        );
    }

    #[test]
    fn skips_invalid_entries_as_helm_does() {
        // The entries and messages helm 4.1.4 skips and logs for the same index.
        let index = parse(
            "apiVersion: v1
entries:
  a:
  - name: a
    version: 1.0.0
  - name: a
    version: \"\"
  - name: a
    version: abc
  - null
  - name: b
    version: 2.0.0
  - version: 3.0.0
  - name: a
    version: 1.5.0
    type: foo
  - name: a
    version: 1.6.0
    maintainers: [null]
  - name: a
    version: 1.7.0
    dependencies: [{name: x}, {name: x}]
  - name: a/b
    version: 1.8.0
  - name: a
    version: v1.9
    apiVersion: v3
  a2: null
",
        );
        assert_eq!(versions(&index, "a"), ["2.0.0", "v1.9", "1.7.0", "1.0.0"]);
        // The entry keeps its own name even when listed under another.
        assert_eq!(index.entries["a"][0].name, "b");
        assert!(index.entries["a2"].is_empty());
        let skipped: Vec<String> = index.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "skipping loading invalid entry for chart \"a\" \"\": validation: chart.metadata.version is required",
                "skipping loading invalid entry for chart \"a\" \"abc\": validation: chart.metadata.version \"abc\" is invalid",
                "skipping loading invalid entry for chart \"a\": empty entry",
                "skipping loading invalid entry for chart \"a\" \"3.0.0\": validation: chart.metadata.name is required",
                "skipping loading invalid entry for chart \"a\" \"1.5.0\": validation: chart.metadata.type must be application or library",
                "skipping loading invalid entry for chart \"a\" \"1.6.0\": validation: maintainers must not contain empty or null nodes",
                "skipping loading invalid entry for chart \"a\" \"1.8.0\": validation: chart.metadata.name \"a/b\" is invalid",
            ]
        );
    }

    #[test]
    fn null_dependencies_follow_helm_order() {
        // A repeated name before a null dependency stops validation there (tolerated, kept);
        // a null before it is an error (skipped).
        let index = parse(
            "apiVersion: v1
entries:
  a:
  - {name: a, version: 1.0.0, dependencies: [{name: x}, {name: x}, null]}
  - {name: a, version: 2.0.0, dependencies: [{name: x}, null, {name: x}]}
  - {name: a, version: 3.0.0, dependencies: [{name: x, alias: 'bad alias'}]}
",
        );
        assert_eq!(versions(&index, "a"), ["1.0.0"]);
        assert_eq!(
            index.skipped[0].reason,
            "validation: dependencies must not contain empty or null nodes"
        );
        assert_eq!(
            index.skipped[1].reason,
            "validation: dependency \"x\" has disallowed characters in the alias"
        );
    }

    #[test]
    fn entries_are_normalised_as_helm_validates() {
        let index = parse(
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    description: \"two\\twords\\u0007\"\n",
        );
        assert_eq!(index.entries["a"][0].description, "two words");
    }

    #[test]
    fn errors_helm_reports() {
        assert_eq!(parse_err(""), "empty index.yaml file");
        assert_eq!(parse_err("entries: {}\n"), "no API version specified");
        assert_eq!(parse_err("  \n"), "no API version specified");
        assert!(
            parse_err("apiVersion: [\n").starts_with("error converting YAML to JSON: yaml: line")
        );
        assert_eq!(
            IndexFile::parse(b"\xff\xfe: x")
                .expect_err("binary")
                .to_string(),
            "index.yaml is not UTF-8 text"
        );
        // Only the first YAML document is read, as yaml.v2 does.
        let index = parse("apiVersion: v1\nentries: {}\n---\napiVersion: v2\n");
        assert_eq!(index.api_version, "v1");
    }

    #[test]
    fn hostile_yaml_is_bounded() {
        let deep = format!(
            "apiVersion: v1\nx: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(IndexFile::parse(deep.as_bytes()).is_err());
        let mut laughs = String::from("apiVersion: v1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            laughs.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = IndexFile::parse(laughs.as_bytes()).expect_err("alias bomb");
        assert!(err.to_string().contains("aliasing"), "{err}");
        let deep_import = format!(
            "{{\"apiVersion\":\"v1\",\"entries\":{{\"a\":[{{\"name\":\"a\",\"version\":\"1.0.0\",\"dependencies\":[{{\"name\":\"d\",\"import-values\":[{}1{}]}}]}}]}}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(
            IndexFile::parse(deep_import.as_bytes())
                .expect_err("deep")
                .to_string(),
            "entries.a[0].dependencies[0].import-values: nested deeper than 64 levels"
        );
    }

    #[test]
    fn get_chooses_as_helm() {
        let index = parse(SMALL);
        let pick = |c: &str| index.get("web", c).map(|v| v.version.clone());
        assert_eq!(pick("").as_deref(), Ok("1.10.0"));
        assert_eq!(pick("*").as_deref(), Ok("1.10.0"));
        assert_eq!(pick("^1.2").as_deref(), Ok("1.10.0"));
        assert_eq!(pick("~1.2.0").as_deref(), Ok("1.2.0"));
        assert_eq!(pick("<1.5").as_deref(), Ok("1.2.0"));
        assert_eq!(pick(">=2.0.0-0").as_deref(), Ok("2.0.0-rc.1"));
        // An exact string match wins before the constraint is applied.
        assert_eq!(pick("v1.9").as_deref(), Ok("v1.9"));
        assert_eq!(pick("1.9.0").as_deref(), Ok("v1.9"));
        assert_eq!(pick("2.0.0-rc.1").as_deref(), Ok("2.0.0-rc.1"));
    }

    #[test]
    fn get_errors_say_what_to_do() {
        let index = parse(SMALL);
        assert_eq!(
            index.get("Web", "").expect_err("case").to_string(),
            "no chart named \"Web\" in the repository index (did you mean \"web\"?)"
        );
        assert_eq!(
            index.get("nope", "").expect_err("missing").to_string(),
            "no chart named \"nope\" in the repository index"
        );
        assert_eq!(
            index.get("web", ">3").expect_err("none").to_string(),
            "no version of chart \"web\" matches \">3\" (available, newest first: 2.0.0-rc.1, 1.10.0, v1.9, 1.2.0, 1.0.0)"
        );
        assert_eq!(
            index.get("web", "^2.0.0").expect_err("pre").to_string(),
            "no version of chart \"web\" matches \"^2.0.0\" (available, newest first: 2.0.0-rc.1, 1.10.0, v1.9, 1.2.0, 1.0.0); pre-releases only match a constraint that names a pre-release, e.g. \">=1.0.0-0\""
        );
        let err = index.get("web", "1..2").expect_err("invalid");
        assert!(
            matches!(&err, ResolveError::InvalidConstraint { constraint, .. } if constraint == "1..2"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "invalid version constraint \"1..2\" for chart \"web\": improper constraint: 1..2"
        );
        let index =
            parse("apiVersion: v1\nentries:\n  e: []\n  p:\n  - {name: p, version: 1.0.0-beta}\n");
        assert_eq!(
            index.get("e", "").expect_err("empty").to_string(),
            "chart \"e\" has no versions in the repository index"
        );
        assert_eq!(
            index.get("p", "").expect_err("stable").to_string(),
            "chart \"p\" has no stable version (available, newest first: 1.0.0-beta); pre-releases only match a constraint that names a pre-release, e.g. \">=1.0.0-0\""
        );
    }

    #[test]
    fn long_version_lists_are_cut() {
        let mut text = String::from("apiVersion: v1\nentries:\n  a:\n");
        for i in 0..15 {
            text.push_str(&format!("  - {{name: a, version: 1.{i}.0}}\n"));
        }
        let err = parse(&text).get("a", "^2").expect_err("none").to_string();
        assert!(
            err.ends_with("1.14.0, 1.13.0, 1.12.0, 1.11.0, 1.10.0, 1.9.0, 1.8.0, 1.7.0, 1.6.0, 1.5.0 and 5 more)"),
            "{err}"
        );
    }

    #[test]
    fn ties_are_broken_by_created_then_content() {
        let index = parse(
            "apiVersion: v1
entries:
  a:
  - {name: a, version: 1.0.0+b, created: '2024-01-01T00:00:00Z'}
  - {name: a, version: 1.0.0+a, created: '2024-01-01T01:00:00+02:00'}
  - {name: a, version: 1.0.0+c, created: '2024-01-02T00:00:00Z'}
  - {name: a, version: 1.0.0}
",
        );
        assert_eq!(
            versions(&index, "a"),
            ["1.0.0+c", "1.0.0+b", "1.0.0+a", "1.0.0"]
        );
    }

    #[test]
    fn canonical_json_ignores_order_and_generation() {
        let a = parse(SMALL);
        // The same content, entries and keys in another order, another generation time.
        let mut reordered: Vec<&str> = SMALL.lines().collect();
        reordered.retain(|l| !l.starts_with("generated"));
        let mut b_text = String::from("generated: 2030-01-01T00:00:00Z\n");
        b_text.push_str("apiVersion: v1\nentries:\n  web:\n");
        let body = SMALL
            .split("  web:\n")
            .nth(1)
            .unwrap_or_default()
            .split("generated:")
            .next()
            .unwrap_or_default();
        let mut items: Vec<String> = body
            .split("  - ")
            .filter(|s| !s.trim().is_empty())
            .map(|s| format!("  - {s}"))
            .collect();
        items.reverse();
        b_text.push_str(&items.concat());
        let b = parse(&b_text);
        assert_ne!(a.generated, b.generated);
        assert_eq!(a.to_canonical_json(), b.to_canonical_json());
        let text = String::from_utf8(a.to_canonical_json()).expect("utf-8");
        assert!(text.starts_with("{\"apiVersion\":\"v1\",\"entries\":{\"web\":[{\"apiVersion\":\"v1\",\"name\":\"web\",\"version\":\"2.0.0-rc.1\"},"), "{text}");
        assert!(!text.contains("generated"));
    }

    #[test]
    fn canonical_json_round_trips() {
        let text = "apiVersion: v1
annotations: {team: web}
publicKeys: [k1]
entries:
  full:
  - name: full
    version: 1.2.3
    apiVersion: v2
    appVersion: \"4.5\"
    description: everything
    home: https://h
    icon: https://h/i.png
    keywords: [a, \"\"]
    sources: [https://s]
    maintainers: [{name: m, email: m@x, url: https://m}, {}]
    annotations: {\"x/y\": \"z\", empty: \"\"}
    kubeVersion: \">=1.20\"
    type: application
    deprecated: true
    condition: c
    tags: t
    dependencies:
    - name: d
      version: ^1
      repository: https://r
      condition: d.enabled
      tags: [t1]
      enabled: true
      alias: dd
      import-values: [data, {child: a, parent: b, n: 1.5}]
    urls: [full-1.2.3.tgz, https://mirror/full-1.2.3.tgz]
    created: 2024-01-01T00:00:00Z
    digest: abc
    removed: true
  bare:
  - name: bare
    version: 0.1.0
";
        let index = parse(text);
        let bytes = index.to_canonical_json();
        let back = IndexFile::from_canonical_json(&bytes).expect("reads back");
        assert_eq!(back.to_canonical_json(), bytes);
        let mut expected = index.clone();
        expected.generated = None;
        expected.skipped.clear();
        assert_eq!(back, expected);
        // And a canonical index parses as an ordinary (JSON) index to the same content.
        assert_eq!(parse(std::str::from_utf8(&bytes).expect("utf-8")), expected);
        assert_eq!(
            IndexFile::from_canonical_json(b"{\"entries\":{}}")
                .expect_err("no api")
                .to_string(),
            "no API version specified"
        );
        assert!(IndexFile::from_canonical_json(b"apiVersion: v1").is_err());
        // Reading one chart gives exactly that chart's entries.
        let one = IndexFile::chart_from_canonical_json(&bytes, "full").expect("one chart");
        assert_eq!(one.entries.keys().collect::<Vec<_>>(), ["full"]);
        assert_eq!(one.entries["full"], expected.entries["full"]);
        assert_eq!(one.api_version, "v1");
        let none = IndexFile::chart_from_canonical_json(&bytes, "absent").expect("no chart");
        assert!(matches!(
            none.get("absent", "*"),
            Err(ResolveError::NoChart { .. })
        ));
    }

    #[test]
    fn parses_a_5000_entry_index() {
        let mut text = String::from("apiVersion: v1\nentries:\n");
        let charts = 50;
        let per_chart = 100;
        for c in 0..charts {
            text.push_str(&format!("  chart-{c:02}:\n"));
            // Written oldest first, so that sorting has work to do.
            for v in 0..per_chart {
                let version = format!("{}.{}.{}", v / 10, v % 10, c % 3);
                text.push_str(&format!(
                    "  - apiVersion: v2\n    name: chart-{c:02}\n    version: {version}\n    appVersion: \"{v}\"\n    description: chart {c} version {v}\n    maintainers:\n    - name: team-{c}\n      email: team{c}@example.com\n    urls:\n    - https://charts.example.com/chart-{c:02}-{version}.tgz\n    digest: {:064x}\n    created: \"2024-01-{:02}T00:00:{:02}Z\"\n",
                    c * 1000 + v,
                    1 + v % 28,
                    v % 60
                ));
            }
        }
        let index = parse(&text);
        assert_eq!(index.entries.len(), charts);
        let total: usize = index.entries.values().map(Vec::len).sum();
        assert_eq!(total, charts * per_chart);
        assert!(index.skipped.is_empty());
        for (name, list) in &index.entries {
            let c: usize = name["chart-".len()..].parse().expect("number");
            // Newest first: 9.9.x down to 0.0.x.
            assert_eq!(list[0].version, format!("9.9.{}", c % 3), "{name}");
            assert_eq!(list[per_chart - 1].version, format!("0.0.{}", c % 3));
            for pair in list.windows(2) {
                let a = Version::parse(&pair[0].version).expect("semver");
                let b = Version::parse(&pair[1].version).expect("semver");
                assert_eq!(a.compare(&b), Ordering::Greater, "{name}");
            }
            let newest = &list[0];
            assert_eq!(newest.name, *name);
            assert_eq!(newest.maintainers[0].email, format!("team{c}@example.com"));
            assert_eq!(
                newest.urls,
                [format!(
                    "https://charts.example.com/{name}-{}.tgz",
                    newest.version
                )]
            );
        }
        let hit = index.get("chart-07", "~4.2").expect("found");
        assert_eq!(hit.version, "4.2.1");
        assert_eq!(hit.app_version, "42");
        let bytes = index.to_canonical_json();
        assert_eq!(
            IndexFile::from_canonical_json(&bytes)
                .expect("reads back")
                .to_canonical_json(),
            bytes
        );
    }
}
