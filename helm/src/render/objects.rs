//! The Go structs Helm hands templates, as [`Object`]s: `.Files` (`engine.files`),
//! `.Capabilities` (`*common.Capabilities`) with its `KubeVersion`, `APIVersions` and
//! `HelmVersion`.
//!
//! Types, field names, method names and what `%T` prints were recorded from helm v4.1.4.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;

use crate::template::{CallContext, FuncError, Param, Signature};
use crate::value::{Object, Value};

/// `.Files`: a chart's non-template files by path (Go's `engine.files`, a
/// `map[string][]byte` with methods).
#[derive(Debug, Clone)]
pub struct Files {
    files: Arc<BTreeMap<String, Arc<[u8]>>>,
    /// The same files as map data (`range $path, $bytes := .Files.Glob "x/*"`).
    data: Value,
}

impl Files {
    /// The files, by path inside the chart.
    pub fn new(files: BTreeMap<String, Arc<[u8]>>) -> Files {
        let data = Value::named_map(
            "engine.files",
            files
                .iter()
                .map(|(k, v)| (k.clone(), Value::Bytes(v.clone())))
                .collect(),
        );
        Files {
            files: Arc::new(files),
            data,
        }
    }

    fn get(&self, name: &str) -> &[u8] {
        self.files.get(name).map_or(&[], |b| b)
    }

    /// `Glob`: the files whose path matches a gobwas glob with `/` as separator.
    fn glob(&self, pattern: &str) -> Result<Files, FuncError> {
        let glob = Glob::compile(pattern).map_err(FuncError::new)?;
        Ok(Files::new(
            self.files
                .iter()
                .filter(|(name, _)| glob.matches(name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }

    /// `AsConfig` / `AsSecrets`: YAML of base name → text (or base64 of the bytes).
    fn as_map_yaml(&self, base64: bool) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let mut m = serde_json::Map::new();
        for (name, bytes) in self.files.iter() {
            let base = name.rsplit('/').next().unwrap_or(name).to_string();
            let text = if base64 {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            } else {
                String::from_utf8_lossy(bytes).into_owned()
            };
            m.insert(base, serde_json::Value::String(text));
        }
        let text = weir_yaml::to_string_sorted(&serde_json::Value::Object(m));
        text.strip_suffix('\n').unwrap_or(&text).to_string()
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }

    fn kind(&self) -> &'static str {
        "map"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(Signature::new(&[Param::String])),
            "AsConfig" | "AsSecrets" => Some(Signature::new(&[])),
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let arg = args.first().and_then(Value::as_str).unwrap_or("");
        Ok(match name {
            "Get" => Value::from(String::from_utf8_lossy(self.get(arg)).into_owned()),
            "GetBytes" => Value::bytes(self.get(arg).to_vec()),
            "Glob" => Value::Object(Arc::new(self.glob(arg)?)),
            "Lines" => {
                let Some(bytes) = self.files.get(arg) else {
                    return Ok(Value::string_list(Vec::<String>::new()));
                };
                let text = String::from_utf8_lossy(bytes);
                let text = text.strip_suffix('\n').unwrap_or(&text);
                Value::string_list(text.split('\n').map(str::to_string))
            }
            "AsConfig" => Value::from(self.as_map_yaml(false)),
            "AsSecrets" => Value::from(self.as_map_yaml(true)),
            _ => return Err(FuncError::new(format!("no method {name}"))),
        })
    }

    fn as_map(&self) -> Option<&crate::value::Map> {
        self.data.as_map()
    }

    fn to_data(&self) -> Value {
        self.data.clone()
    }

    fn fmt_v(&self, plus: bool) -> String {
        let _ = plus;
        self.data.to_string()
    }

    fn truth(&self) -> bool {
        !self.files.is_empty()
    }
}

/// A compiled gobwas/glob pattern with `/` as the separator: `*` and `?` stay within a path
/// segment, `**` crosses segments, `[abc]`, `[!a-z]`, `{a,b}` and `\` escapes.
#[derive(Debug)]
pub struct Glob(Vec<Token>);

#[derive(Debug)]
enum Token {
    Literal(char),
    Any,
    Star,
    SuperStar,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternatives(Vec<Glob>),
}

impl Glob {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// An unclosed `[` or `{`, or a pattern ending in `\`.
    pub fn compile(pattern: &str) -> Result<Glob, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let (glob, rest) = Self::parse(&chars, 0, false, 0)?;
        if rest != chars.len() {
            return Err(format!("unexpected {:?} in glob {pattern:?}", chars[rest]));
        }
        Ok(glob)
    }

    fn parse(
        chars: &[char],
        mut i: usize,
        in_alt: bool,
        depth: usize,
    ) -> Result<(Glob, usize), String> {
        if depth > 32 {
            return Err("glob nests too deeply".into());
        }
        let mut tokens = Vec::new();
        while i < chars.len() {
            match chars[i] {
                ',' | '}' if in_alt => break,
                '\\' => {
                    let c = *chars.get(i + 1).ok_or("glob ends with an escape")?;
                    tokens.push(Token::Literal(c));
                    i += 2;
                }
                '*' if chars.get(i + 1) == Some(&'*') => {
                    tokens.push(Token::SuperStar);
                    i += 2;
                }
                '*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                '[' => {
                    i += 1;
                    let negated = chars.get(i) == Some(&'!');
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let c = *chars.get(i).ok_or("unclosed [ in glob")?;
                        if c == ']' {
                            i += 1;
                            break;
                        }
                        if chars.get(i + 1) == Some(&'-')
                            && chars.get(i + 2).is_some_and(|c| *c != ']')
                        {
                            ranges.push((c, chars[i + 2]));
                            i += 3;
                        } else {
                            ranges.push((c, c));
                            i += 1;
                        }
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                '{' => {
                    let mut alts = Vec::new();
                    i += 1;
                    loop {
                        let (alt, next) = Self::parse(chars, i, true, depth + 1)?;
                        alts.push(alt);
                        match chars.get(next) {
                            Some(',') => i = next + 1,
                            Some('}') => {
                                i = next + 1;
                                break;
                            }
                            _ => return Err("unclosed { in glob".into()),
                        }
                    }
                    tokens.push(Token::Alternatives(alts));
                }
                c => {
                    tokens.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        Ok((Glob(tokens), i))
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        let mut budget = 100_000usize;
        match_tokens(&self.0, &chars, &[], &mut budget)
    }
}

/// Matches `tokens` followed by the continuation `rest` (tokens after an enclosing
/// alternative) against `name`. `budget` bounds backtracking on hostile patterns.
fn match_tokens(tokens: &[Token], name: &[char], rest: &[&[Token]], budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, tail)) = tokens.split_first() else {
        return match rest.split_first() {
            Some((next, more)) => match_tokens(next, name, more, budget),
            None => name.is_empty(),
        };
    };
    match first {
        Token::Literal(c) => {
            name.first() == Some(c) && match_tokens(tail, &name[1..], rest, budget)
        }
        Token::Any => {
            name.first().is_some_and(|c| *c != '/') && match_tokens(tail, &name[1..], rest, budget)
        }
        Token::Class { negated, ranges } => {
            name.first().is_some_and(|c| {
                let inside = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                inside != *negated && *c != '/'
            }) && match_tokens(tail, &name[1..], rest, budget)
        }
        Token::Star | Token::SuperStar => {
            let crosses = matches!(first, Token::SuperStar);
            for skip in 0..=name.len() {
                if match_tokens(tail, &name[skip..], rest, budget) {
                    return true;
                }
                if skip < name.len() && name[skip] == '/' && !crosses {
                    return false;
                }
            }
            false
        }
        Token::Alternatives(alts) => {
            let mut continuation: Vec<&[Token]> = Vec::with_capacity(rest.len() + 1);
            continuation.push(tail);
            continuation.extend_from_slice(rest);
            alts.iter()
                .any(|alt| match_tokens(&alt.0, name, &continuation, budget))
        }
    }
}

/// `.Capabilities.KubeVersion` (`common.KubeVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    /// `v1.35.0`: the given text with a `v` in front.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `35`.
    pub minor: String,
}

impl Default for KubeVersion {
    /// helm v4.1.4's default for `helm template`: v1.35.0.
    fn default() -> KubeVersion {
        KubeVersion {
            version: "v1.35.0".into(),
            major: "1".into(),
            minor: "35".into(),
        }
    }
}

impl KubeVersion {
    /// Reads `--kube-version` as Helm does (Kubernetes' generic version syntax: `v`, two or
    /// more dot-separated numbers, anything after ignored).
    ///
    /// # Errors
    /// Helm's `invalid kube version 'X': could not parse "X" as version` or
    /// `... illegal version string "X"`.
    pub fn parse(text: &str) -> Result<KubeVersion, String> {
        let fail = |why: String| format!("invalid kube version '{text}': {why}");
        let quoted = crate::template::fmt::quote(text);
        let trimmed = text.trim_start();
        let body = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let numbers_len = {
            let mut end = 0;
            let bytes = body.as_bytes();
            while end < bytes.len() {
                let digit = bytes[end].is_ascii_digit();
                let dot_before_digit = bytes[end] == b'.'
                    && end > 0
                    && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
                if !(digit || dot_before_digit) {
                    break;
                }
                end += 1;
            }
            end
        };
        if numbers_len == 0 {
            return Err(fail(format!("could not parse {quoted} as version")));
        }
        let components: Vec<&str> = body[..numbers_len].split('.').collect();
        if components.len() < 2 {
            return Err(fail(format!("illegal version string {quoted}")));
        }
        let number = |s: &str| {
            s.parse::<u64>()
                .map(|n| n.to_string())
                .map_err(|e| fail(format!("illegal version string {quoted}: {e}")))
        };
        Ok(KubeVersion {
            version: if text.starts_with('v') {
                text.to_string()
            } else {
                format!("v{text}")
            },
            major: number(components[0])?,
            minor: number(components[1])?,
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }

    fn kind(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" => Some(self.version.as_str().into()),
            "Major" => Some(self.major.as_str().into()),
            "Minor" => Some(self.minor.as_str().into()),
            _ => None,
        }
    }

    fn method(&self, name: &str) -> Option<Signature> {
        matches!(name, "String" | "GitVersion").then(|| Signature::new(&[]))
    }

    fn call_method(
        &self,
        _name: &str,
        _ctx: &mut CallContext<'_>,
        _args: &[Value],
    ) -> Result<Value, FuncError> {
        Ok(self.version.as_str().into())
    }

    fn to_data(&self) -> Value {
        Value::map(BTreeMap::from([
            ("Major".to_string(), self.major.as_str().into()),
            ("Minor".to_string(), self.minor.as_str().into()),
            ("Version".to_string(), self.version.as_str().into()),
        ]))
    }

    /// `%v`: the struct's fields (helm v4 keeps the version twice).
    fn fmt_v(&self, _plus: bool) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.version, self.version, self.major, self.minor
        )
    }

    /// What `{{ .Capabilities.KubeVersion }}` prints: its `String()`.
    fn print(&self) -> String {
        self.version.clone()
    }
}

/// `.Capabilities.APIVersions` (`common.VersionSet`, a `[]string` with `Has`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSet(pub Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }

    fn kind(&self) -> &'static str {
        "slice"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        (name == "Has").then(|| Signature::new(&[Param::String]))
    }

    fn call_method(
        &self,
        _name: &str,
        _ctx: &mut CallContext<'_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let wanted = args.first().and_then(Value::as_str).unwrap_or("");
        Ok(self.0.iter().any(|v| v == wanted).into())
    }

    fn to_data(&self) -> Value {
        Value::string_list(self.0.iter().map(String::as_str))
    }

    fn fmt_v(&self, _plus: bool) -> String {
        format!("[{}]", self.0.join(" "))
    }

    fn truth(&self) -> bool {
        !self.0.is_empty()
    }
}

/// The Kubernetes API versions helm v4.1.4 assumes under `helm template` (its client
/// library's built-in scheme), in its order.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Capabilities.HelmVersion`: the helm release whose behaviour Weir reproduces.
#[derive(Debug, Clone)]
pub struct HelmVersion;

impl HelmVersion {
    const FIELDS: [(&'static str, &'static str); 5] = [
        ("Version", "v4.1.4"),
        ("GitCommit", "05fa37973dc9e42b76e1d2883494c87174b6074f"),
        ("GitTreeState", "clean"),
        ("GoVersion", "go1.25.9"),
        ("KubeClientVersion", "v1.35"),
    ];
}

impl Object for HelmVersion {
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }

    fn kind(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Self::FIELDS
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| Value::from(*v))
    }

    fn to_data(&self) -> Value {
        let json_names = [
            "version",
            "git_commit",
            "git_tree_state",
            "go_version",
            "kube_client_version",
        ];
        Value::map(
            json_names
                .iter()
                .zip(Self::FIELDS)
                .map(|(k, (_, v))| (k.to_string(), Value::from(v)))
                .collect(),
        )
    }

    fn fmt_v(&self, _plus: bool) -> String {
        let values: Vec<&str> = Self::FIELDS.iter().map(|(_, v)| *v).collect();
        format!("{{{}}}", values.join(" "))
    }
}

/// `.Capabilities` (`*common.Capabilities`).
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// `KubeVersion`.
    pub kube_version: KubeVersion,
    /// `APIVersions`: [`DEFAULT_API_VERSIONS`] then `--api-versions`.
    pub api_versions: Vec<String>,
}

impl Capabilities {
    /// helm template's capabilities for a Kubernetes version and extra API versions.
    pub fn new(kube_version: KubeVersion, extra_api_versions: &[String]) -> Capabilities {
        let mut api_versions: Vec<String> =
            DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
        api_versions.extend(extra_api_versions.iter().cloned());
        Capabilities {
            kube_version,
            api_versions,
        }
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::Object(Arc::new(self.kube_version.clone()))),
            "APIVersions" => Some(Value::Object(Arc::new(VersionSet(
                self.api_versions.clone(),
            )))),
            "HelmVersion" => Some(Value::Object(Arc::new(HelmVersion))),
            _ => None,
        }
    }

    fn to_data(&self) -> Value {
        Value::map(BTreeMap::from([
            (
                "APIVersions".to_string(),
                VersionSet(self.api_versions.clone()).to_data(),
            ),
            ("HelmVersion".to_string(), HelmVersion.to_data()),
            ("KubeVersion".to_string(), self.kube_version.to_data()),
        ]))
    }

    fn fmt_v(&self, _plus: bool) -> String {
        format!(
            "&{{{} {} {}}}",
            KubeVersion::fmt_v(&self.kube_version, false),
            VersionSet(self.api_versions.clone()).fmt_v(false),
            HelmVersion.fmt_v(false)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_gobwas_with_a_slash_separator() {
        let cases = [
            ("*.json", "a.json", true),
            ("*.json", "dir/a.json", false),
            ("**.json", "dir/a.json", true),
            ("dir/*", "dir/a", true),
            ("dir/*", "dir/sub/a", false),
            ("dir/**", "dir/sub/a", true),
            ("conf/{a,b}.yaml", "conf/b.yaml", true),
            ("conf/{a,b}.yaml", "conf/c.yaml", false),
            ("f?.txt", "f1.txt", true),
            ("f[0-3].txt", "f4.txt", false),
            ("f[!0-3].txt", "f4.txt", true),
            ("files/\\*", "files/*", true),
        ];
        for (pattern, name, want) in cases {
            let glob = Glob::compile(pattern).expect(pattern);
            assert_eq!(glob.matches(name), want, "{pattern} ~ {name}");
        }
        assert!(Glob::compile("a[b").is_err());
        assert!(Glob::compile("a{b").is_err());
    }

    #[test]
    fn kube_versions_parse_as_helm_reads_them() {
        let v = KubeVersion::parse("1.29").expect("1.29");
        assert_eq!(
            (v.version.as_str(), v.major.as_str(), v.minor.as_str()),
            ("v1.29", "1", "29")
        );
        let v = KubeVersion::parse("v1.30.2-rc.1+x").expect("rc");
        assert_eq!(v.version, "v1.30.2-rc.1+x");
        assert_eq!(
            KubeVersion::parse("abc").expect_err("abc"),
            r#"invalid kube version 'abc': could not parse "abc" as version"#
        );
        assert_eq!(
            KubeVersion::parse("1").expect_err("1"),
            r#"invalid kube version '1': illegal version string "1""#
        );
    }
}
