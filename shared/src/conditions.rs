//! kstatus conditions: setting, reading and summarising them with stable transition times.
//!
//! `Ready` is always present; `Reconciling` and `Stalled` are present only while True and are
//! never both present. A condition's `lastTransitionTime` changes only when its status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use weir_api::conditions::types;

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

/// Sets conditions for one reconcile of one object: carries the object's generation and the
/// reconcile's clock, so that call sites name only the condition.
#[derive(Clone, Copy, Debug)]
pub struct Setter {
    generation: Option<i64>,
    now: Timestamp,
}

impl Setter {
    /// A setter for an object at `generation`, at time `now`.
    pub fn new(generation: Option<i64>, now: Timestamp) -> Self {
        Self { generation, now }
    }

    /// A setter for `obj` at its current generation, now.
    pub fn for_object<K: kube::Resource>(obj: &K) -> Self {
        Self::new(obj.meta().generation, Timestamp::now())
    }

    /// The generation conditions are recorded for.
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }

    /// Sets `type_` to True.
    pub fn mark_true(
        &self,
        conditions: &mut Vec<Condition>,
        type_: &str,
        reason: &str,
        message: impl Into<String>,
    ) {
        set(
            conditions,
            type_,
            Status::True,
            reason,
            message,
            self.generation,
            self.now,
        );
    }

    /// Sets `type_` to False.
    pub fn mark_false(
        &self,
        conditions: &mut Vec<Condition>,
        type_: &str,
        reason: &str,
        message: impl Into<String>,
    ) {
        set(
            conditions,
            type_,
            Status::False,
            reason,
            message,
            self.generation,
            self.now,
        );
    }
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
        set(&mut c, "FetchFailed", Status::True, "X", "", None, at(1));
        set(&mut c, types::STALLED, Status::True, "X", "", None, at(1));
        set(&mut c, types::READY, Status::False, "X", "", None, at(1));
        let order: Vec<_> = c.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(order, ["Ready", "Stalled", "FetchFailed"]);
        remove(&mut c, types::STALLED);
        assert!(!is_true(&c, types::STALLED));
        assert!(is_true(&c, "FetchFailed"));
    }
}
