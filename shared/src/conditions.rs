//! kstatus conditions: setting, reading and summarising them with stable transition times.
//!
//! `Ready` is always present; `Reconciling` and `Stalled` are present only while True and are
//! never both present. A condition's `lastTransitionTime` changes only when its status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types shared by every kind.
pub mod types {
    /// The object's summary condition.
    pub const READY: &str = "Ready";
    /// Present (True) while a reconcile is in progress or must be retried.
    pub const RECONCILING: &str = "Reconciling";
    /// Present (True) when the object cannot progress without a spec change.
    pub const STALLED: &str = "Stalled";
    /// Source: the artifact in status is present in storage.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Source: the last fetch failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
}

/// CamelCase reasons shared by conditions and events.
pub mod reasons {
    /// Everything worked.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A reconcile is running.
    pub const PROGRESSING: &str = "Progressing";
    /// A Git operation (connect, fetch, resolve) failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// The remote refused the credentials.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The spec is invalid.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A URL in the spec is invalid or not allowed.
    pub const URL_INVALID: &str = "URLInvalid";
    /// The referenced Secret could not be read or lacks a key.
    pub const SECRET_INVALID: &str = "SecretInvalid";
    /// Writing or reading an artifact failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// A new artifact was written.
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency or source is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// Talking to the Kubernetes API failed.
    pub const KUBERNETES_API_FAILED: &str = "KubernetesAPIFailed";
}

/// Condition status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}

impl Status {
    /// The API string for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// Sets (adds or replaces) the condition `type_`, keeping its `lastTransitionTime` unless the
/// status changes.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let message = message.into();
    let existing = conditions.iter_mut().find(|c| c.type_ == type_);
    match existing {
        Some(c) => {
            if c.status != status.as_str() {
                c.last_transition_time = Time(now);
                c.status = status.as_str().to_string();
            }
            c.reason = reason.to_string();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status: status.as_str().to_string(),
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
    sort(conditions);
}

/// Removes the condition `type_` if present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Returns the condition `type_` if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True if the condition `type_` is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Keeps the summary conditions first (Ready, Reconciling, Stalled), then the rest by type, so
/// that status diffs are stable.
fn sort(conditions: &mut [Condition]) {
    fn rank(t: &str) -> usize {
        match t {
            types::READY => 0,
            types::RECONCILING => 1,
            types::STALLED => 2,
            _ => 3,
        }
    }
    conditions.sort_by(|a, b| {
        rank(&a.type_)
            .cmp(&rank(&b.type_))
            .then_with(|| a.type_.cmp(&b.type_))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn transition_time_changes_only_with_status() {
        let mut c = Vec::new();
        set(
            &mut c,
            types::READY,
            Status::False,
            "A",
            "first",
            Some(1),
            at(10),
        );
        set(
            &mut c,
            types::READY,
            Status::False,
            "B",
            "second",
            Some(2),
            at(20),
        );
        let ready = get(&c, types::READY).expect("ready");
        assert_eq!(ready.last_transition_time, Time(at(10)));
        assert_eq!(
            (ready.reason.as_str(), ready.message.as_str()),
            ("B", "second")
        );
        assert_eq!(ready.observed_generation, Some(2));
        set(
            &mut c,
            types::READY,
            Status::True,
            "C",
            "third",
            Some(2),
            at(30),
        );
        assert_eq!(
            get(&c, types::READY).expect("ready").last_transition_time,
            Time(at(30))
        );
    }

    #[test]
    fn summary_conditions_sort_first() {
        let mut c = Vec::new();
        set(
            &mut c,
            types::FETCH_FAILED,
            Status::True,
            "X",
            "",
            None,
            at(1),
        );
        set(&mut c, types::STALLED, Status::True, "X", "", None, at(1));
        set(&mut c, types::READY, Status::False, "X", "", None, at(1));
        let order: Vec<_> = c.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(order, ["Ready", "Stalled", "FetchFailed"]);
        remove(&mut c, types::STALLED);
        assert!(!is_true(&c, types::STALLED));
        assert!(is_true(&c, types::FETCH_FAILED));
    }
}
