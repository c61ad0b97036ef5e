//! `Chart.yaml`: the chart's metadata, read as Helm reads it.
//!
//! Helm decodes `Chart.yaml` with sigs.k8s.io/yaml into a Go struct: YAML 1.1 scalars, and a
//! scalar written where the struct wants a string becomes that string as Go formats the
//! scalar — `version: 1.10` is `"1.1"` (the float, printed as a 32-bit float), `on` is
//! `"true"`, `0x10` is `"16"`. Unknown keys are ignored, keys match case-insensitively, and a
//! value of the wrong shape fails with Go's `json: cannot unmarshal ...` message.

use serde_json::Value;

use super::Values;

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintainer {
    /// Name of the person or organisation.
    pub name: String,
    /// Contact e-mail.
    pub email: String,
    /// Contact URL.
    pub url: String,
}

/// A dependency as `Chart.yaml` (or `requirements.yaml`) declares it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dependency {
    /// Chart name (after alias processing, the alias).
    pub name: String,
    /// Version or semver range the subchart must satisfy.
    pub version: String,
    /// Repository URL (not used for rendering).
    pub repository: String,
    /// Comma-separated value paths; the first that holds a boolean enables or disables.
    pub condition: String,
    /// Tags: enabled unless every tag that is set is `false`.
    pub tags: Vec<String>,
    /// Whether the dependency survived condition and tag processing.
    pub enabled: bool,
    /// `import-values`: strings (`exports.<name>`) or `{child, parent}` maps, raw.
    pub import_values: Vec<Value>,
    /// Name the subchart is known by in this chart.
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// `apiVersion`: `v1` or `v2` (an absent one reads as `v1`, as Helm 2 charts had none).
    pub api_version: String,
    /// Chart name.
    pub name: String,
    /// Chart version (semver).
    pub version: String,
    /// Home page.
    pub home: String,
    /// Source URLs.
    pub sources: Vec<String>,
    /// One-sentence description.
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Maintainers.
    pub maintainers: Vec<Maintainer>,
    /// Icon URL.
    pub icon: String,
    /// Condition (Helm 2 leftover, kept for `.Chart.Condition`).
    pub condition: String,
    /// Tags (Helm 2 leftover, kept for `.Chart.Tags`).
    pub tags: String,
    /// Version of the packaged application.
    pub app_version: String,
    /// Whether the chart is deprecated.
    pub deprecated: bool,
    /// Free-form annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Semver constraint on the Kubernetes version.
    pub kube_version: String,
    /// Declared dependencies.
    pub dependencies: Vec<Dependency>,
    /// `application` (also when empty) or `library`.
    pub chart_type: String,
}

/// A `Chart.yaml` that is not valid: the message Helm prints (without Helm's
/// `cannot load Chart.yaml: ` prefix, which [`super::load`] adds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl Metadata {
    /// Decodes a `Chart.yaml` document already read as YAML 1.1.
    ///
    /// # Errors
    /// A value of the wrong shape, with Go's message.
    pub fn from_value(doc: &Value) -> Result<Metadata, DecodeError> {
        let mut md = Metadata::default();
        let map = match doc {
            Value::Null => return Ok(md),
            Value::Object(m) => m,
            other => return Err(type_error(other, "", "chart.Metadata")),
        };
        for (key, v) in map {
            let at = |f: &str| format!("Metadata.{f}");
            match field(key, METADATA_FIELDS) {
                Some("name") => set_string(&mut md.name, v, &at("name"))?,
                Some("home") => set_string(&mut md.home, v, &at("home"))?,
                Some("sources") => set_strings(&mut md.sources, v, &at("sources"))?,
                Some("version") => set_string(&mut md.version, v, &at("version"))?,
                Some("description") => set_string(&mut md.description, v, &at("description"))?,
                Some("keywords") => set_strings(&mut md.keywords, v, &at("keywords"))?,
                Some("maintainers") => md.maintainers = maintainers(v)?,
                Some("icon") => set_string(&mut md.icon, v, &at("icon"))?,
                Some("apiVersion") => set_string(&mut md.api_version, v, &at("apiVersion"))?,
                Some("condition") => set_string(&mut md.condition, v, &at("condition"))?,
                Some("tags") => set_string(&mut md.tags, v, &at("tags"))?,
                Some("appVersion") => set_string(&mut md.app_version, v, &at("appVersion"))?,
                Some("deprecated") => set_bool(&mut md.deprecated, v, &at("deprecated"))?,
                Some("annotations") => annotations(&mut md, v)?,
                Some("kubeVersion") => set_string(&mut md.kube_version, v, &at("kubeVersion"))?,
                Some("dependencies") => md.dependencies = dependencies(v, "Metadata")?,
                Some("type") => set_string(&mut md.chart_type, v, &at("type"))?,
                _ => {}
            }
        }
        Ok(md)
    }

    /// Folds `requirements.yaml` (a document with `dependencies:`) into this metadata, as
    /// Helm does for every chart (it warns for `apiVersion: v2`).
    ///
    /// # Errors
    /// A value of the wrong shape, with Go's message.
    pub fn apply_requirements(&mut self, doc: &Value) -> Result<(), DecodeError> {
        // Helm decodes requirements.yaml into the same Metadata struct: any Chart.yaml key
        // in it overrides. Only `dependencies` is meaningful there.
        let Value::Object(map) = doc else {
            return match doc {
                Value::Null => Ok(()),
                other => Err(type_error(other, "", "chart.Metadata")),
            };
        };
        let mut with = Metadata::from_value(doc)?;
        for (key, _) in map {
            match field(key, METADATA_FIELDS) {
                Some("dependencies") => self.dependencies = std::mem::take(&mut with.dependencies),
                Some("name") => self.name = std::mem::take(&mut with.name),
                Some("version") => self.version = std::mem::take(&mut with.version),
                Some("apiVersion") => self.api_version = std::mem::take(&mut with.api_version),
                _ => {}
            }
        }
        Ok(())
    }

    /// Helm's `Metadata.Validate`: normalises text fields (whitespace becomes a space,
    /// unprintable characters go) and checks the required fields.
    ///
    /// # Errors
    /// `validation: ...` messages as Helm prints them.
    pub fn validate(&mut self) -> Result<(), String> {
        for s in [
            &mut self.name,
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.condition,
            &mut self.tags,
            &mut self.app_version,
            &mut self.kube_version,
        ] {
            *s = sanitize(s);
        }
        for s in self.sources.iter_mut().chain(self.keywords.iter_mut()) {
            *s = sanitize(s);
        }
        if self.api_version.is_empty() {
            return Err("validation: chart.metadata.apiVersion is required".into());
        }
        if self.name.is_empty() {
            return Err("validation: chart.metadata.name is required".into());
        }
        // Go's `name != filepath.Base(name)`: any separator, except a name that is only one.
        if self.name.contains('/') && self.name.chars().any(|c| c != '/') {
            return Err(format!(
                "validation: chart.metadata.name {} is invalid",
                go_quote(&self.name)
            ));
        }
        if self.version.is_empty() {
            return Err("validation: chart.metadata.version is required".into());
        }
        if crate::sprig::semver::Version::parse(&self.version).is_err() {
            return Err(format!(
                "validation: chart.metadata.version {} is invalid",
                go_quote(&self.version)
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return Err("validation: chart.metadata.type must be application or library".into());
        }
        for m in &mut self.maintainers {
            m.name = sanitize(&m.name);
            m.email = sanitize(&m.email);
            m.url = sanitize(&m.url);
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &mut self.dependencies {
            d.name = sanitize(&d.name);
            d.version = sanitize(&d.version);
            d.repository = sanitize(&d.repository);
            d.condition = sanitize(&d.condition);
            for t in &mut d.tags {
                *t = sanitize(t);
            }
            if !d.alias.is_empty() && !valid_alias(&d.alias) {
                return Err(format!(
                    "validation: dependency {} has disallowed characters in the alias",
                    go_quote(&d.name)
                ));
            }
            let key = if d.alias.is_empty() {
                d.name.clone()
            } else {
                d.alias.clone()
            };
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "validation: more than one dependency with name or alias {}. Try using distinct aliases for dependencies with the same chart name.",
                    go_quote(&key)
                ));
            }
        }
        Ok(())
    }

    /// `.Chart` as templates see it: Go field names (`Name`, `AppVersion`, ...), every field
    /// present, empty lists as `[]`, plus `IsRoot`.
    pub fn to_template_value(&self, is_root: bool) -> Values {
        let strs = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let mut m = Values::new();
        m.insert("APIVersion".into(), self.api_version.clone().into());
        m.insert(
            "Annotations".into(),
            Value::Object(
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        m.insert("AppVersion".into(), self.app_version.clone().into());
        m.insert("Condition".into(), self.condition.clone().into());
        m.insert(
            "Dependencies".into(),
            Value::Array(
                self.dependencies
                    .iter()
                    .map(|d| Value::Object(d.to_template_value()))
                    .collect(),
            ),
        );
        m.insert("Deprecated".into(), self.deprecated.into());
        m.insert("Description".into(), self.description.clone().into());
        m.insert("Home".into(), self.home.clone().into());
        m.insert("Icon".into(), self.icon.clone().into());
        m.insert("IsRoot".into(), is_root.into());
        m.insert("Keywords".into(), strs(&self.keywords));
        m.insert("KubeVersion".into(), self.kube_version.clone().into());
        m.insert(
            "Maintainers".into(),
            Value::Array(
                self.maintainers
                    .iter()
                    .map(|x| {
                        let mut o = Values::new();
                        o.insert("Email".into(), x.email.clone().into());
                        o.insert("Name".into(), x.name.clone().into());
                        o.insert("URL".into(), x.url.clone().into());
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
        m.insert("Name".into(), self.name.clone().into());
        m.insert("Sources".into(), strs(&self.sources));
        m.insert("Tags".into(), self.tags.clone().into());
        m.insert("Type".into(), self.chart_type.clone().into());
        m.insert("Version".into(), self.version.clone().into());
        m
    }
}

impl Dependency {
    /// A dependency as a template sees it in `.Chart.Dependencies` (Go field names).
    pub fn to_template_value(&self) -> Values {
        let mut o = Values::new();
        o.insert("Alias".into(), self.alias.clone().into());
        o.insert("Condition".into(), self.condition.clone().into());
        o.insert("Enabled".into(), self.enabled.into());
        o.insert(
            "ImportValues".into(),
            Value::Array(self.import_values.clone()),
        );
        o.insert("Name".into(), self.name.clone().into());
        o.insert("Repository".into(), self.repository.clone().into());
        o.insert(
            "Tags".into(),
            Value::Array(self.tags.iter().cloned().map(Value::String).collect()),
        );
        o.insert("Version".into(), self.version.clone().into());
        o
    }
}

/// The fields of `chart.Metadata` (Chart.yaml), also embedded in repository index entries.
pub(crate) const METADATA_FIELDS: &[&str] = &[
    "name",
    "home",
    "sources",
    "version",
    "description",
    "keywords",
    "maintainers",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "deprecated",
    "annotations",
    "kubeVersion",
    "dependencies",
    "type",
];

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

const MAINTAINER_FIELDS: &[&str] = &["name", "email", "url"];

/// Go's `encoding/json` field matching: the exact name, else a case-insensitive match.
fn field(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

/// The JSON kind Go names in `cannot unmarshal <kind>`.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(v: &Value, at: &str, go_type: &str) -> DecodeError {
    let base = "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal";
    if at.is_empty() {
        DecodeError(format!(
            "{base} {} into Go value of type {go_type}",
            kind(v)
        ))
    } else {
        DecodeError(format!(
            "{base} {} into Go struct field {at} of type {go_type}",
            kind(v)
        ))
    }
}

/// A YAML scalar as sigs.k8s.io/yaml turns it into a string for a string field, or `None`
/// for a collection. `null` leaves the field as it was (`Some(None)`).
fn scalar_string(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::Bool(b) => Some(Some(b.to_string())),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(if let Some(i) = n.as_i64() {
            i.to_string()
        } else if let Some(u) = n.as_u64() {
            u.to_string()
        } else {
            go_format_float32(n.as_f64().unwrap_or(0.0))
        })),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn set_string(slot: &mut String, v: &Value, at: &str) -> Result<(), DecodeError> {
    match scalar_string(v) {
        Some(Some(s)) => *slot = s,
        Some(None) => {}
        None => return Err(type_error(v, at, "string")),
    }
    Ok(())
}

fn set_strings(slot: &mut Vec<String>, v: &Value, at: &str) -> Result<(), DecodeError> {
    match v {
        Value::Null => slot.clear(),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match scalar_string(item) {
                    Some(s) => out.push(s.unwrap_or_default()),
                    None => return Err(type_error(item, at, "string")),
                }
            }
            *slot = out;
        }
        other => return Err(type_error(other, at, "[]string")),
    }
    Ok(())
}

fn set_bool(slot: &mut bool, v: &Value, at: &str) -> Result<(), DecodeError> {
    match v {
        Value::Null => {}
        Value::Bool(b) => *slot = *b,
        other => return Err(type_error(other, at, "bool")),
    }
    Ok(())
}

fn annotations(md: &mut Metadata, v: &Value) -> Result<(), DecodeError> {
    match v {
        Value::Null => md.annotations.clear(),
        Value::Object(m) => {
            for (k, item) in m {
                match scalar_string(item) {
                    Some(s) => {
                        md.annotations.insert(k.clone(), s.unwrap_or_default());
                    }
                    None => return Err(type_error(item, "Metadata.annotations", "string")),
                }
            }
        }
        other => {
            return Err(type_error(
                other,
                "Metadata.annotations",
                "map[string]string",
            ));
        }
    }
    Ok(())
}

fn maintainers(v: &Value) -> Result<Vec<Maintainer>, DecodeError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(type_error(
                other,
                "Metadata.maintainers",
                "[]*v2.Maintainer",
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let mut m = Maintainer::default();
        match item {
            Value::Null => {
                return Err(DecodeError(
                    "validation: maintainers must not contain empty or null nodes".into(),
                ));
            }
            Value::Object(map) => {
                for (k, x) in map {
                    let at = |f: &str| format!("Metadata.maintainers.{f}");
                    match field(k, MAINTAINER_FIELDS) {
                        Some("name") => set_string(&mut m.name, x, &at("name"))?,
                        Some("email") => set_string(&mut m.email, x, &at("email"))?,
                        Some("url") => set_string(&mut m.url, x, &at("url"))?,
                        _ => {}
                    }
                }
            }
            other => return Err(type_error(other, "Metadata.maintainers", "v2.Maintainer")),
        }
        out.push(m);
    }
    Ok(out)
}

fn dependencies(v: &Value, owner: &str) -> Result<Vec<Dependency>, DecodeError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(type_error(
                other,
                &format!("{owner}.dependencies"),
                "[]*v2.Dependency",
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let mut d = Dependency::default();
        match item {
            Value::Null => {
                return Err(DecodeError(
                    "validation: dependencies must not contain empty or null nodes".into(),
                ));
            }
            Value::Object(map) => {
                for (k, x) in map {
                    let at = |f: &str| format!("{owner}.dependencies.{f}");
                    match field(k, DEPENDENCY_FIELDS) {
                        Some("name") => set_string(&mut d.name, x, &at("name"))?,
                        Some("version") => set_string(&mut d.version, x, &at("version"))?,
                        Some("repository") => {
                            set_string(&mut d.repository, x, &at("repository"))?;
                        }
                        Some("condition") => set_string(&mut d.condition, x, &at("condition"))?,
                        Some("tags") => set_strings(&mut d.tags, x, &at("tags"))?,
                        Some("enabled") => set_bool(&mut d.enabled, x, &at("enabled"))?,
                        Some("import-values") => match x {
                            Value::Null => d.import_values.clear(),
                            Value::Array(a) => d.import_values = a.clone(),
                            other => {
                                return Err(type_error(
                                    other,
                                    &at("import-values"),
                                    "[]interface {}",
                                ));
                            }
                        },
                        Some("alias") => set_string(&mut d.alias, x, &at("alias"))?,
                        _ => {}
                    }
                }
            }
            other => {
                return Err(type_error(
                    other,
                    &format!("{owner}.dependencies"),
                    "v2.Dependency",
                ));
            }
        }
        out.push(d);
    }
    Ok(out)
}

/// Helm's alias rule: `^[a-zA-Z0-9_-]+$`.
fn valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Every whitespace character becomes a space; unprintable characters are dropped.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// Go's `%q` for the plain strings chart names are (escapes `"` and `\`).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest text that reads back as the same
/// 32-bit float, in exponent form when the exponent is below -4 or at least 6.
pub fn go_format_float32(f: f64) -> String {
    // Rounding to the nearest 32-bit float is what Go's FormatFloat(.., 32) does first.
    #[allow(clippy::cast_possible_truncation)]
    let x = f as f32;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // `{:e}` prints the shortest round-trip digits: "1.2345678e7", "-5e-1", "0e0".
    let text = format!("{x:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if x == 0.0 {
        return format!("{sign}0");
    }
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e_sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{e_sign}{:02}", exp.unsigned_abs()));
        return out;
    }
    // Fixed notation with the decimal point after `exp + 1` digits.
    let point = exp + 1;
    let mut out = String::from(sign);
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..(-point) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = point.unsigned_abs() as usize;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_float32() {
        // Recorded from `helm template` of a Chart.yaml with these values in string fields.
        assert_eq!(go_format_float32(1.0), "1");
        assert_eq!(go_format_float32(1.10), "1.1");
        assert_eq!(go_format_float32(1.50), "1.5");
        assert_eq!(go_format_float32(1e40), "+Inf");
        assert_eq!(go_format_float32(1.0e7), "1e+07");
        assert_eq!(go_format_float32(12_345_678.5), "1.2345678e+07");
        assert_eq!(go_format_float32(0.123_456_789_123_4), "0.12345679");
        assert_eq!(go_format_float32(2.5), "2.5");
        assert_eq!(go_format_float32(123_456.0), "123456");
        assert_eq!(go_format_float32(0.0001), "0.0001");
        assert_eq!(go_format_float32(0.00001), "1e-05");
        assert_eq!(go_format_float32(-0.5), "-0.5");
    }
}
