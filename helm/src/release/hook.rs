//! A release's hooks as Helm stores them (`pkg/release/v1/hook.go`): what each hook is, when
//! it runs, how it is cleaned up, and how its last run went.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chart::output;

use super::{null_as_default, time};

/// When a hook runs: the values of the `helm.sh/hook` annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    /// `pre-install`.
    PreInstall,
    /// `post-install`.
    PostInstall,
    /// `pre-delete`.
    PreDelete,
    /// `post-delete`.
    PostDelete,
    /// `pre-upgrade`.
    PreUpgrade,
    /// `post-upgrade`.
    PostUpgrade,
    /// `pre-rollback`.
    PreRollback,
    /// `post-rollback`.
    PostRollback,
    /// `test` (Helm 2's `test-success` reads as this, as Helm reads it).
    #[serde(alias = "test-success")]
    Test,
}

impl HookEvent {
    /// The annotation value Helm stores.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }
}

impl FromStr for HookEvent {
    type Err = UnknownHookEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            other => return Err(UnknownHookEvent(other.to_string())),
        })
    }
}

impl fmt::Display for HookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `helm.sh/hook` value Helm does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook event {0:?}")]
pub struct UnknownHookEvent(pub String);

/// When a hook's object is deleted: `helm.sh/hook-delete-policy`. Helm stores whatever the
/// annotation says, so a value it does not know is kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum HookDeletePolicy {
    /// `hook-succeeded`: after the hook succeeded.
    HookSucceeded,
    /// `hook-failed`: after the hook failed.
    HookFailed,
    /// `before-hook-creation`: before the next run creates it again (Helm's default when the
    /// annotation is absent, set when the hook runs).
    BeforeHookCreation,
    /// Any other value, as written.
    Other(String),
}

impl From<String> for HookDeletePolicy {
    fn from(s: String) -> Self {
        match s.as_str() {
            "hook-succeeded" => HookDeletePolicy::HookSucceeded,
            "hook-failed" => HookDeletePolicy::HookFailed,
            "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
            _ => HookDeletePolicy::Other(s),
        }
    }
}

impl From<HookDeletePolicy> for String {
    fn from(p: HookDeletePolicy) -> String {
        match p {
            HookDeletePolicy::HookSucceeded => "hook-succeeded".into(),
            HookDeletePolicy::HookFailed => "hook-failed".into(),
            HookDeletePolicy::BeforeHookCreation => "before-hook-creation".into(),
            HookDeletePolicy::Other(s) => s,
        }
    }
}

/// When a hook's logs are copied to Helm's output: `helm.sh/hook-output-log-policy`. Kept as
/// written when Helm does not know the value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum HookOutputLogPolicy {
    /// `hook-succeeded`.
    HookSucceeded,
    /// `hook-failed`.
    HookFailed,
    /// Any other value, as written.
    Other(String),
}

impl From<String> for HookOutputLogPolicy {
    fn from(s: String) -> Self {
        match s.as_str() {
            "hook-succeeded" => HookOutputLogPolicy::HookSucceeded,
            "hook-failed" => HookOutputLogPolicy::HookFailed,
            _ => HookOutputLogPolicy::Other(s),
        }
    }
}

impl From<HookOutputLogPolicy> for String {
    fn from(p: HookOutputLogPolicy) -> String {
        match p {
            HookOutputLogPolicy::HookSucceeded => "hook-succeeded".into(),
            HookOutputLogPolicy::HookFailed => "hook-failed".into(),
            HookOutputLogPolicy::Other(s) => s,
        }
    }
}

/// How a hook's last run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HookPhase {
    /// The state is not known.
    Unknown,
    /// Running now.
    Running,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
}

/// The last run of a hook. A hook that never ran (a `test` hook after install) has no times
/// and no phase; Helm writes that as `{"phase":""}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookExecution {
    /// When the run started.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time",
        rename = "started_at"
    )]
    pub started_at: Option<time::Timestamp>,
    /// When the run completed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time",
        rename = "completed_at"
    )]
    pub completed_at: Option<time::Timestamp>,
    /// How it went; `None` before the first run.
    #[serde(default, with = "phase_or_empty")]
    pub phase: Option<HookPhase>,
}

/// `phase` is a string that is empty before the first run.
mod phase_or_empty {
    use super::*;

    pub fn serialize<S: Serializer>(phase: &Option<HookPhase>, s: S) -> Result<S::Ok, S::Error> {
        match phase {
            Some(p) => p.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HookPhase>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        HookPhase::deserialize(serde::de::value::StringDeserializer::<D::Error>::new(text))
            .map(Some)
    }
}

/// A hook of a release: one rendered document with the `helm.sh/hook` annotation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// `metadata.name` of the hook's object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its `kind`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The template it came from, with the chart prefix (`mychart/templates/job.yaml`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The rendered document (trimmed, no `---` or `# Source:` line).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// When it runs, in annotation order.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub events: Vec<HookEvent>,
    /// Its last run (always written, as Go writes a struct field).
    #[serde(default, rename = "last_run")]
    pub last_run: HookExecution,
    /// `helm.sh/hook-weight`: order among hooks of one event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub delete_policies: Vec<HookDeletePolicy>,
    /// `helm.sh/hook-output-log-policy` values.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub output_log_policies: Vec<HookOutputLogPolicy>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The annotation that names a hook's output log policies.
const OUTPUT_LOG_POLICY_ANNOTATION: &str = "helm.sh/hook-output-log-policy";

impl Hook {
    /// The hook Helm records for a rendered hook document (see
    /// [`output::sort_manifests`]), not yet run. Delete policies are as annotated: Helm adds
    /// its default `before-hook-creation` only when it runs the hook.
    pub fn from_rendered(rendered: &output::Hook) -> Hook {
        Hook {
            name: rendered.manifest.name.clone(),
            kind: rendered.manifest.kind.clone(),
            path: rendered.manifest.source.clone(),
            manifest: rendered.manifest.content.clone(),
            events: rendered
                .events
                .iter()
                .filter_map(|e| e.parse().ok())
                .collect(),
            last_run: HookExecution::default(),
            weight: rendered.weight,
            delete_policies: rendered
                .delete_policies
                .iter()
                .map(|p| HookDeletePolicy::from(p.clone()))
                .collect(),
            output_log_policies: output_log_policies(&rendered.manifest.content),
        }
    }
}

/// `helm.sh/hook-output-log-policy` of a hook document, split on commas, trimmed and
/// lower-cased as Helm reads every hook annotation (`output::Hook` does not carry it).
fn output_log_policies(document: &str) -> Vec<HookOutputLogPolicy> {
    let Ok(docs) =
        weir_yaml::from_str_multi_with(document, true, weir_yaml::DuplicateKeys::LaterWins)
    else {
        return Vec::new();
    };
    let annotation = docs.first().and_then(|d| {
        d.get("metadata")?
            .get("annotations")?
            .get(OUTPUT_LOG_POLICY_ANNOTATION)?
            .as_str()
            .map(str::to_string)
    });
    annotation
        .map(|a| {
            a.split(',')
                .map(|p| HookOutputLogPolicy::from(p.trim().to_lowercase()))
                .collect()
        })
        .unwrap_or_default()
}

/// The release's `manifest`: every ordinary rendered document (already in install order,
/// see [`output::sort_manifests`]) as `---\n# Source: <path>\n<document>\n`, as Helm joins
/// them. Hooks and `crds/` are not part of it.
pub fn join_manifests(manifests: &[output::Manifest]) -> String {
    let mut text = String::new();
    for m in manifests {
        text.push_str("---\n# Source: ");
        text.push_str(&m.source);
        text.push('\n');
        text.push_str(&m.content);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered_hook() -> output::Hook {
        let files = [(
            "mychart/templates/hook.yaml".to_string(),
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade,test-success\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: hook-succeeded, Before-Hook-Creation\n    helm.sh/hook-output-log-policy: hook-failed\n".to_string(),
        )];
        let sorted = output::sort_manifests(&files).expect("sorted");
        sorted.hooks.into_iter().next().expect("a hook")
    }

    #[test]
    fn a_rendered_hook_as_helm_records_it() {
        let hook = Hook::from_rendered(&rendered_hook());
        assert_eq!(hook.name, "migrate");
        assert_eq!(hook.kind, "Job");
        assert_eq!(hook.path, "mychart/templates/hook.yaml");
        assert_eq!(hook.events, [HookEvent::PreUpgrade, HookEvent::Test]);
        assert_eq!(hook.weight, -5);
        assert_eq!(
            hook.delete_policies,
            [
                HookDeletePolicy::HookSucceeded,
                HookDeletePolicy::BeforeHookCreation
            ]
        );
        assert_eq!(hook.output_log_policies, [HookOutputLogPolicy::HookFailed]);
        let json = serde_json::to_value(&hook).expect("json");
        assert_eq!(json["last_run"], serde_json::json!({"phase": ""}));
        assert_eq!(json["events"], serde_json::json!(["pre-upgrade", "test"]));
    }

    #[test]
    fn hook_json_round_trip_keeps_unknown_policies() {
        let text = r#"{"name":"h","kind":"Pod","path":"c/templates/t.yaml","manifest":"kind: Pod","events":["test"],"last_run":{"started_at":"2026-12-01T21:31:51.225851428Z","completed_at":"2026-12-01T21:31:51.2506112Z","phase":"Succeeded"},"weight":5,"delete_policies":["hook-succeeded","made-up"]}"#;
        let hook: Hook = serde_json::from_str(text).expect("hook");
        assert_eq!(hook.last_run.phase, Some(HookPhase::Succeeded));
        assert_eq!(
            hook.delete_policies[1],
            HookDeletePolicy::Other("made-up".into())
        );
        let again = super::super::go_json::to_vec(&hook).expect("json");
        assert_eq!(String::from_utf8_lossy(&again), text);
    }

    #[test]
    fn manifests_joined_as_helm_joins_them() {
        let files = [
            (
                "c/templates/b.yaml".to_string(),
                "kind: Service\nmetadata:\n  name: s\n".to_string(),
            ),
            (
                "c/templates/a.yaml".to_string(),
                "kind: ConfigMap\nmetadata:\n  name: m\n".to_string(),
            ),
        ];
        let sorted = output::sort_manifests(&files).expect("sorted");
        assert_eq!(
            join_manifests(&sorted.manifests),
            "---\n# Source: c/templates/a.yaml\nkind: ConfigMap\nmetadata:\n  name: m\n---\n# Source: c/templates/b.yaml\nkind: Service\nmetadata:\n  name: s\n"
        );
    }
}
