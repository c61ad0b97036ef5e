//! The pure parts of the reconcile driver: summarising `Ready` from the step outcome and the
//! conditions a kind declares, the requeue policy for each error kind, interval jitter,
//! per-object backoff, the `requestedAt` protocol and the one status write per reconcile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use weir_api::conditions::{reasons, types};

use crate::conditions::{self, Setter};
use crate::duration;
use crate::error::{Next, ReconcileError};

/// The conditions a kind owns besides `Ready`, `Reconciling` and `Stalled`, declared as data
/// (as Flux's source-controller does): which ones feed `Ready`, and which are bad when True.
#[derive(Clone, Copy, Debug)]
pub struct ConditionSet {
    /// Every type the controller writes; any other type found in status is dropped.
    pub owned: &'static [&'static str],
    /// Types that summarise into `Ready`, most important first.
    pub summarized: &'static [&'static str],
    /// Types with negative polarity: True means something is wrong (e.g. `FetchFailed`).
    pub negative: &'static [&'static str],
}

impl ConditionSet {
    fn is_bad(&self, c: &Condition) -> bool {
        if self.negative.contains(&c.type_.as_str()) {
            c.status == "True"
        } else {
            c.status == "False"
        }
    }
}

/// Sets `Ready`, `Reconciling` and `Stalled` from the outcome of the steps and the declared
/// conditions, and drops condition types the kind does not own.
///
/// A failed step decides `Ready` (its reason and message) and `Stalled` or `Reconciling`. After
/// successful steps, the first summarised condition that is bad (a negative-polarity one that
/// is True, a positive one that is False) makes `Ready` False with its reason; otherwise
/// `Ready` is True with `success`'s message.
pub fn summarize(
    conds: &mut Vec<Condition>,
    outcome: &Result<String, ReconcileError>,
    set: &ConditionSet,
    setter: Setter,
) {
    conds.retain(|c| {
        [types::READY, types::RECONCILING, types::STALLED].contains(&c.type_.as_str())
            || set.owned.contains(&c.type_.as_str())
    });
    match outcome {
        Ok(message) => {
            let bad = set
                .summarized
                .iter()
                .find_map(|t| conditions::get(conds, t).filter(|c| set.is_bad(c)))
                .map(|c| (c.reason.clone(), c.message.clone()));
            match bad {
                Some((reason, msg)) => setter.mark_false(conds, types::READY, &reason, msg),
                None => setter.mark_true(conds, types::READY, reasons::SUCCEEDED, message.clone()),
            }
            conditions::remove(conds, types::RECONCILING);
            conditions::remove(conds, types::STALLED);
        }
        Err(err) => {
            setter.mark_false(conds, types::READY, err.reason, err.message.clone());
            let (on, off) = if err.next == Next::Stalled {
                (types::STALLED, types::RECONCILING)
            } else {
                (types::RECONCILING, types::STALLED)
            };
            conditions::remove(conds, off);
            setter.mark_true(conds, on, err.reason, err.message.clone());
        }
    }
}

/// When an object is reconciled again: at `interval` after a success (with jitter), with
/// exponential backoff capped at `retry_interval` after a transient failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requeue {
    /// The object's `spec.interval`.
    pub interval: Duration,
    /// The backoff cap of transient failures (`spec.retryInterval`, else the interval).
    pub retry_interval: Duration,
}

impl Requeue {
    /// Parses `spec.interval` and the optional `spec.retryInterval`.
    ///
    /// # Errors
    /// Stalled with `InvalidSpec` naming the field and value.
    pub fn from_spec(interval: &str, retry_interval: Option<&str>) -> Result<Self, ReconcileError> {
        let interval = parse_field("interval", interval)?;
        let retry_interval = retry_interval
            .map(|r| parse_field("retryInterval", r))
            .transpose()?
            .unwrap_or(interval);
        Ok(Self {
            interval,
            retry_interval,
        })
    }
}

/// Parses the duration field `spec.<field>`.
///
/// # Errors
/// Stalled with `InvalidSpec` naming the field and value.
pub fn parse_field(field: &str, value: &str) -> Result<Duration, ReconcileError> {
    duration::parse(value)
        .map_err(|m| ReconcileError::stalled(reasons::INVALID_SPEC, format!("spec.{field}: {m}")))
}

/// Adds up to ±10% random jitter to an interval, so that many objects created together do not
/// reconcile in lock step.
pub fn jitter(interval: Duration) -> Duration {
    let spread = interval.as_secs_f64() * 0.1;
    if spread <= 0.0 {
        return interval;
    }
    let delta = rand::rng().random_range(-spread..=spread);
    Duration::from_secs_f64((interval.as_secs_f64() + delta).max(0.001))
}

/// Per-object consecutive failure counts, for exponential backoff of transient errors.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// First retry delay.
    const BASE: Duration = Duration::from_secs(1);

    /// Records a failure of `key` and returns the delay before the next try:
    /// 1s, 2s, 4s, ... capped at `cap`.
    pub fn failed(&self, key: &str, cap: Duration) -> Duration {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(key.to_string()).or_insert(0);
        let delay = Self::BASE.saturating_mul(2u32.saturating_pow((*n).min(20)));
        *n = n.saturating_add(1);
        delay.min(cap).max(Self::BASE.min(cap))
    }

    /// Forgets the failures of `key` after a success or deletion.
    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// The requeue decision after a reconcile whose outcome is `outcome`.
pub fn next_action(
    outcome: &Result<String, ReconcileError>,
    key: &str,
    requeue: &Requeue,
    dependency_requeue: Duration,
    backoff: &Backoff,
) -> Action {
    match outcome {
        Ok(_) => {
            backoff.reset(key);
            Action::requeue(jitter(requeue.interval))
        }
        Err(e) => match e.next {
            Next::Stalled => {
                backoff.reset(key);
                Action::await_change()
            }
            Next::Waiting => Action::requeue(dependency_requeue),
            Next::Transient => Action::requeue(backoff.failed(key, requeue.retry_interval)),
        },
    }
}

/// Whether a failed reconcile publishes an error event: not while waiting for a dependency
/// (that is not a failure), and not when `Ready` already said the same before (the same
/// error every retry would flood the notification channels).
pub fn publishes_failure_event(err: &ReconcileError, previous: &[Condition]) -> bool {
    err.next != Next::Waiting
        && conditions::get(previous, types::READY).is_none_or(|c| c.message != err.message)
}

/// The `reconcile.weir.dev/requestedAt` annotation's value, echoed into
/// `status.lastHandledReconcileAt` after the reconcile that handled it.
pub fn requested_at<K: ResourceExt>(obj: &K) -> Option<String> {
    obj.annotations()
        .get(weir_api::RECONCILE_REQUEST_ANNOTATION)
        .cloned()
}

/// A stable key for an object: `namespace/name`.
pub fn object_key<K: ResourceExt>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Writes the whole status subresource in one merge patch.
///
/// A merge patch (not server-side apply) because `x-kubernetes-list-map-keys` on custom
/// resources is broken before Kubernetes 1.21, which makes SSA of `status.conditions` unreliable.
///
/// # Errors
/// A transient error naming the object when the API server refuses the patch.
pub async fn patch_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), ReconcileError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = serde_json::json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| ReconcileError::kube(&format!("writing status of {name}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn setter(generation: i64, s: i64) -> Setter {
        Setter::new(
            Some(generation),
            Timestamp::from_second(s).expect("valid timestamp"),
        )
    }

    const SOURCE: ConditionSet = ConditionSet {
        owned: &["ArtifactInStorage", "FetchFailed"],
        summarized: &["FetchFailed", "ArtifactInStorage"],
        negative: &["FetchFailed"],
    };

    fn kinds(c: &[Condition]) -> Vec<(&str, &str, &str)> {
        c.iter()
            .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
            .collect()
    }

    #[test]
    fn summary_follows_outcome_and_declared_conditions() {
        struct Case {
            name: &'static str,
            before: Vec<(&'static str, &'static str)>,
            outcome: Result<String, ReconcileError>,
            after: Vec<(&'static str, &'static str, &'static str)>,
        }
        let cases = [
            Case {
                name: "transient failure reconciles",
                before: vec![],
                outcome: Err(ReconcileError::transient("GitOperationFailed", "down")),
                after: vec![
                    ("Ready", "False", "GitOperationFailed"),
                    ("Reconciling", "True", "GitOperationFailed"),
                ],
            },
            Case {
                name: "stalled drops reconciling",
                before: vec![("Reconciling", "True")],
                outcome: Err(ReconcileError::stalled("URLInvalid", "bad url")),
                after: vec![
                    ("Ready", "False", "URLInvalid"),
                    ("Stalled", "True", "URLInvalid"),
                ],
            },
            Case {
                name: "waiting reconciles, is not stalled",
                before: vec![("Stalled", "True")],
                outcome: Err(ReconcileError::waiting("DependencyNotReady", "dep")),
                after: vec![
                    ("Ready", "False", "DependencyNotReady"),
                    ("Reconciling", "True", "DependencyNotReady"),
                ],
            },
            Case {
                name: "success with good conditions is ready",
                before: vec![("Stalled", "True"), ("ArtifactInStorage", "True")],
                outcome: Ok("stored".into()),
                after: vec![
                    ("Ready", "True", "Succeeded"),
                    ("ArtifactInStorage", "True", "X"),
                ],
            },
            Case {
                name: "a negative condition left True keeps Ready False",
                before: vec![("FetchFailed", "True"), ("ArtifactInStorage", "True")],
                outcome: Ok("stored".into()),
                after: vec![
                    ("Ready", "False", "X"),
                    ("ArtifactInStorage", "True", "X"),
                    ("FetchFailed", "True", "X"),
                ],
            },
            Case {
                name: "a positive condition False keeps Ready False",
                before: vec![("ArtifactInStorage", "False")],
                outcome: Ok("stored".into()),
                after: vec![("Ready", "False", "X"), ("ArtifactInStorage", "False", "X")],
            },
            Case {
                name: "types the kind does not own are dropped",
                before: vec![("Healthy", "True")],
                outcome: Ok("stored".into()),
                after: vec![("Ready", "True", "Succeeded")],
            },
        ];
        for case in cases {
            let mut c = Vec::new();
            for (t, s) in &case.before {
                let set = setter(1, 1);
                if *s == "True" {
                    set.mark_true(&mut c, t, "X", "earlier");
                } else {
                    set.mark_false(&mut c, t, "X", "earlier");
                }
            }
            summarize(&mut c, &case.outcome, &SOURCE, setter(2, 2));
            assert_eq!(kinds(&c), case.after, "{}", case.name);
            assert!(
                c.iter().all(|c| c.observed_generation.is_some()),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn requeue_parses_interval_and_retry_interval() -> Result<(), ReconcileError> {
        let r = Requeue::from_spec("10m", None)?;
        assert_eq!(r.retry_interval, Duration::from_secs(600));
        let r = Requeue::from_spec("10m", Some("30s"))?;
        assert_eq!(r.retry_interval, Duration::from_secs(30));
        let err = Requeue::from_spec("soon", None).expect_err("invalid");
        assert_eq!((err.next, err.reason), (Next::Stalled, "InvalidSpec"));
        assert!(err.message.starts_with("spec.interval:"), "{}", err.message);
        let err = Requeue::from_spec("1m", Some("x")).expect_err("invalid");
        assert!(
            err.message.starts_with("spec.retryInterval:"),
            "{}",
            err.message
        );
        Ok(())
    }

    #[test]
    fn each_error_kind_requeues_by_its_policy() {
        let b = Backoff::default();
        let requeue = Requeue {
            interval: Duration::from_secs(600),
            retry_interval: Duration::from_secs(2),
        };
        let dep = Duration::from_secs(30);
        let stalled = Err(ReconcileError::stalled("InvalidSpec", "x"));
        assert_eq!(
            next_action(&stalled, "k", &requeue, dep, &b),
            Action::await_change()
        );
        let waiting = Err(ReconcileError::waiting("DependencyNotReady", "x"));
        assert_eq!(
            next_action(&waiting, "k", &requeue, dep, &b),
            Action::requeue(dep)
        );
        let transient = Err(ReconcileError::transient("ArtifactFailed", "x"));
        let delays: Vec<_> = (0..3)
            .map(|_| next_action(&transient, "k", &requeue, dep, &b))
            .collect();
        assert_eq!(
            delays,
            [
                Action::requeue(Duration::from_secs(1)),
                Action::requeue(Duration::from_secs(2)),
                Action::requeue(Duration::from_secs(2))
            ]
        );
    }

    #[test]
    fn failure_events_skip_waiting_and_repeats() {
        let mut previous = Vec::new();
        setter(1, 1).mark_false(&mut previous, "Ready", "BuildFailed", "same");
        let same = ReconcileError::transient("BuildFailed", "same");
        let new = ReconcileError::transient("BuildFailed", "new");
        let waiting = ReconcileError::waiting("DependencyNotReady", "new");
        assert!(!publishes_failure_event(&same, &previous));
        assert!(publishes_failure_event(&new, &previous));
        assert!(!publishes_failure_event(&waiting, &previous));
        assert!(publishes_failure_event(&same, &[]));
    }

    #[test]
    fn backoff_doubles_and_caps_at_interval() {
        let b = Backoff::default();
        let cap = Duration::from_secs(10);
        let delays: Vec<_> = (0..6).map(|_| b.failed("ns/a", cap).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        b.reset("ns/a");
        assert_eq!(b.failed("ns/a", cap), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(100)).as_secs_f64();
            assert!((90.0..=110.0).contains(&d), "{d}");
        }
    }
}
