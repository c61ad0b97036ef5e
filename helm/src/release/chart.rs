//! The chart inside a release, in the shape Helm serialises `chart.Chart` (`pkg/chart/v2`):
//! metadata, lock, templates and files as `{name, data (base64), modtime}`, default values and
//! schema. Subcharts are not part of it — Helm keeps them in an unexported field, so a stored
//! release has the root chart only (its values already hold what the subcharts contributed).
//!
//! [`ReleaseChart::from_chart`] maps a chart loaded by [`crate::chart`]; pass it the chart
//! as rendered, after [`crate::chart::dependencies::process_dependencies`], as Helm stores the
//! processed chart (dependencies `enabled`, aliases as names, `import-values` as
//! `{child, parent}`, imported values merged into the values).

use serde::{Deserialize, Serialize, Serializer};

use crate::chart::{self, Chart, Values};

use super::null_as_default;
use super::time::{self, Timestamp};

/// A chart as a release stores it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChart {
    /// `Chart.yaml`.
    #[serde(default)]
    pub metadata: Option<ChartMetadata>,
    /// `Chart.lock`, when the chart has one.
    #[serde(default)]
    pub lock: Option<ChartLock>,
    /// The files under `templates/`, in load order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub templates: Vec<ChartFile>,
    /// Default values (Helm writes `null` for a chart without `values.yaml`; an empty map is
    /// written so too).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_values_as_null"
    )]
    pub values: Values,
    /// `values.schema.json`, raw.
    #[serde(default, with = "optional_bytes")]
    pub schema: Option<Vec<u8>>,
    /// When `values.schema.json` was last modified (Helm 4; written as Go's zero time when
    /// unknown).
    #[serde(default, rename = "schemamodtime", with = "time")]
    pub schema_modified: Option<Timestamp>,
    /// Every other file of the chart (what `.Files` sees).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub files: Vec<ChartFile>,
    /// When `Chart.yaml` was last modified (Helm 4; absent when unknown).
    #[serde(
        default,
        rename = "modtime",
        skip_serializing_if = "Option::is_none",
        with = "time"
    )]
    pub modified: Option<Timestamp>,
}

/// One file of a stored chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartFile {
    /// Path relative to the chart root (`templates/deployment.yaml`).
    pub name: String,
    /// Contents (base64 in the JSON).
    #[serde(default, with = "bytes")]
    pub data: Vec<u8>,
    /// When the file was last modified (Helm 4; absent when unknown).
    #[serde(
        default,
        rename = "modtime",
        skip_serializing_if = "Option::is_none",
        with = "time"
    )]
    pub modified: Option<Timestamp>,
}

/// `Chart.yaml` as a release stores it (every field left out when empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// Chart name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Home page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// Source URLs.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub sources: Vec<String>,
    /// Chart version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// One-sentence description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Keywords.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub keywords: Vec<String>,
    /// Maintainers.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub maintainers: Vec<ChartMaintainer>,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// `apiVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Condition (Helm 2 leftover).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// Tags (Helm 2 leftover).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// Version of the packaged application.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// Whether the chart is deprecated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
    /// Free-form annotations.
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Semver constraint on the Kubernetes version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// Declared dependencies (after processing: `enabled`, aliases as names).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub dependencies: Vec<ChartDependency>,
    /// `application` or `library` (absent when not written).
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
}

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartMaintainer {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A dependency as `Chart.yaml` or `Chart.lock` lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartDependency {
    /// Chart name (always written).
    #[serde(default)]
    pub name: String,
    /// Version or range.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Repository URL (always written).
    #[serde(default)]
    pub repository: String,
    /// Enabling condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// Enabling tags.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tags: Vec<String>,
    /// Whether condition and tags kept it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// `import-values`, raw.
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub import_values: Vec<serde_json::Value>,
    /// Alias.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
}

/// `Chart.lock`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartLock {
    /// When the lock was generated (written as Go's zero time when unset).
    #[serde(default, with = "time")]
    pub generated: Option<Timestamp>,
    /// Digest of the dependencies in `Chart.yaml`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub digest: String,
    /// The locked dependencies.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub dependencies: Vec<ChartDependency>,
}

/// A `Chart.lock` Helm cannot read, so cannot install the chart with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot load Chart.lock: {0}")]
pub struct LockError(pub String);

impl ReleaseChart {
    /// The chart as Helm stores it in a release (the root chart; see the module docs).
    /// Modification times are unknown (`None`).
    ///
    /// # Errors
    /// A `Chart.lock` that is not YAML of a lock (Helm fails to load such a chart).
    pub fn from_chart(chart: &Chart) -> Result<ReleaseChart, LockError> {
        let lock = chart.lock.as_deref().map(parse_lock).transpose()?;
        let file = |f: &chart::File| ChartFile {
            name: f.name.clone(),
            data: f.data.clone(),
            modified: None,
        };
        Ok(ReleaseChart {
            metadata: Some(ChartMetadata::from(&chart.metadata)),
            lock,
            templates: chart.templates.iter().map(file).collect(),
            values: chart.values.clone(),
            schema: chart.schema.clone(),
            schema_modified: None,
            files: chart.files.iter().map(file).collect(),
            modified: None,
        })
    }

    /// `Chart.yaml` `name` (empty without metadata).
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }

    /// `Chart.yaml` `version`.
    pub fn version(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.version.as_str())
    }

    /// `Chart.yaml` `appVersion`.
    pub fn app_version(&self) -> &str {
        self.metadata
            .as_ref()
            .map_or("", |m| m.app_version.as_str())
    }
}

/// Reads `Chart.lock` as Helm does (sigs.k8s.io/yaml: YAML 1.1, a repeated key's later value
/// wins, `generated` an RFC 3339 string).
fn parse_lock(data: &[u8]) -> Result<ChartLock, LockError> {
    let text = std::str::from_utf8(data).map_err(|e| LockError(e.to_string()))?;
    let docs = weir_yaml::from_str_multi_with(text, true, weir_yaml::DuplicateKeys::LaterWins)
        .map_err(|e| LockError(format!("line {}: {}", e.line, e.message)))?;
    match docs.into_iter().next() {
        None | Some(serde_json::Value::Null) => Ok(ChartLock::default()),
        Some(doc) => serde_json::from_value(doc).map_err(|e| LockError(e.to_string())),
    }
}

impl From<&chart::Metadata> for ChartMetadata {
    fn from(m: &chart::Metadata) -> Self {
        ChartMetadata {
            name: m.name.clone(),
            home: m.home.clone(),
            sources: m.sources.clone(),
            version: m.version.clone(),
            description: m.description.clone(),
            keywords: m.keywords.clone(),
            maintainers: m
                .maintainers
                .iter()
                .map(|x| ChartMaintainer {
                    name: x.name.clone(),
                    email: x.email.clone(),
                    url: x.url.clone(),
                })
                .collect(),
            icon: m.icon.clone(),
            api_version: m.api_version.clone(),
            condition: m.condition.clone(),
            tags: m.tags.clone(),
            app_version: m.app_version.clone(),
            deprecated: m.deprecated,
            annotations: m.annotations.clone(),
            kube_version: m.kube_version.clone(),
            dependencies: m.dependencies.iter().map(ChartDependency::from).collect(),
            chart_type: m.chart_type.clone(),
        }
    }
}

impl From<&chart::Dependency> for ChartDependency {
    fn from(d: &chart::Dependency) -> Self {
        ChartDependency {
            name: d.name.clone(),
            version: d.version.clone(),
            repository: d.repository.clone(),
            condition: d.condition.clone(),
            tags: d.tags.clone(),
            enabled: d.enabled,
            import_values: d.import_values.clone(),
            alias: d.alias.clone(),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Go writes a nil slice as `null`; a chart without files has nil slices.
// serde hands `serialize_with` the field itself, a `&Vec`.
#[allow(clippy::ptr_arg)]
fn empty_as_null<T: Serialize, S: Serializer>(items: &Vec<T>, s: S) -> Result<S::Ok, S::Error> {
    if items.is_empty() {
        s.serialize_none()
    } else {
        items.serialize(s)
    }
}

/// Go writes a nil map as `null`; a chart without `values.yaml` has a nil map.
fn empty_values_as_null<S: Serializer>(values: &Values, s: S) -> Result<S::Ok, S::Error> {
    if values.is_empty() {
        s.serialize_none()
    } else {
        values.serialize(s)
    }
}

/// Go's `[]byte` in JSON: standard base64 (null reads as empty).
mod bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// A Go `[]byte` that may be nil: `null` when `None`.
mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match data {
            Some(data) => super::bytes::serialize(data, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        use base64::Engine as _;
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{File, load_files};
    use serde_json::json;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_bare_chart_has_nulls_where_helm_writes_them() {
        // As helm 4.1.4 stored a chart of Chart.yaml and one template.
        let chart = load_files(vec![
            file("Chart.yaml", "apiVersion: v2\nname: bare\nversion: 0.1.0\n"),
            file(
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bare\n",
            ),
        ])
        .expect("chart");
        let stored = ReleaseChart::from_chart(&chart).expect("stored");
        let text = String::from_utf8(super::super::go_json::to_vec(&stored).expect("json"))
            .expect("utf-8");
        assert_eq!(
            text,
            r#"{"metadata":{"name":"bare","version":"0.1.0","apiVersion":"v2"},"lock":null,"templates":[{"name":"templates/cm.yaml","data":"YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnTWFwCm1ldGFkYXRhOgogIG5hbWU6IGJhcmUK"}],"values":null,"schema":null,"schemamodtime":"0001-01-01T00:00:00Z","files":null}"#
        );
        let back: ReleaseChart = serde_json::from_str(&text).expect("read back");
        assert_eq!(back, stored);
    }

    #[test]
    fn metadata_lock_schema_and_files() {
        let chart = load_files(vec![
            file(
                "Chart.yaml",
                "apiVersion: v2\nname: par\nversion: 0.2.0\nappVersion: \"1.0\"\nkubeVersion: \">=1.20.0-0\"\nkeywords: [a, b]\nmaintainers:\n  - name: Me\n    email: me@x.io\nannotations:\n  foo: bar\ndependencies:\n  - name: sub\n    version: 0.1.0\n    repository: file://charts/sub\n",
            ),
            file(
                "Chart.lock",
                "dependencies:\n- name: sub\n  repository: file://charts/sub\n  version: 0.1.0\ndigest: sha256:abc\ngenerated: \"2024-05-06T07:08:09.123456Z\"\n",
            ),
            file("values.yaml", "x: 1\n"),
            file("values.schema.json", "{\"type\":\"object\"}\n"),
            file("README.md", "hello\n"),
            file("templates/cm.yaml", "kind: ConfigMap\n"),
            file("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
        ])
        .expect("chart");
        let stored = ReleaseChart::from_chart(&chart).expect("stored");
        let v = serde_json::from_slice::<serde_json::Value>(
            &super::super::go_json::to_vec(&stored).expect("json"),
        )
        .expect("json");
        assert_eq!(
            v["metadata"],
            json!({"name":"par","version":"0.2.0","keywords":["a","b"],"maintainers":[{"name":"Me","email":"me@x.io"}],"apiVersion":"v2","appVersion":"1.0","annotations":{"foo":"bar"},"kubeVersion":">=1.20.0-0","dependencies":[{"name":"sub","version":"0.1.0","repository":"file://charts/sub"}]})
        );
        assert_eq!(
            v["lock"],
            json!({"generated":"2024-05-06T07:08:09.123456Z","digest":"sha256:abc","dependencies":[{"name":"sub","version":"0.1.0","repository":"file://charts/sub"}]})
        );
        assert_eq!(v["schema"], json!("eyJ0eXBlIjoib2JqZWN0In0K"));
        assert_eq!(v["values"], json!({"x": 1}));
        assert_eq!(v["files"], json!([{"name":"README.md","data":"aGVsbG8K"}]));
        assert_eq!(stored.name(), "par");
        assert_eq!(stored.app_version(), "1.0");
    }

    #[test]
    fn a_lock_helm_cannot_read_is_an_error() {
        let chart = Chart {
            lock: Some(b"generated: yesterday\n".to_vec()),
            ..Chart::default()
        };
        assert!(ReleaseChart::from_chart(&chart).is_err());
    }
}
