//! The reconcile driver's shared parts: summarising `Ready` from a step result, the requeue
//! policy for each error kind, interval jitter, per-object backoff, the `requestedAt`
//! protocol and the one status write per reconcile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conditions::{self, Status, reasons, types};
use crate::error::{Next, ReconcileError};

/// Sets `Ready`, `Reconciling` and `Stalled` from the outcome of the reconcile steps.
/// `success` is the Ready message when every step succeeded.
pub fn summarize(
    conds: &mut Vec<Condition>,
    outcome: &Result<String, ReconcileError>,
    generation: Option<i64>,
    now: Timestamp,
) {
    match outcome {
        Ok(message) => {
            conditions::set(
                conds,
                types::READY,
                Status::True,
                reasons::SUCCEEDED,
                message.clone(),
                generation,
                now,
            );
            conditions::remove(conds, types::RECONCILING);
            conditions::remove(conds, types::STALLED);
        }
        Err(err) => {
            conditions::set(
                conds,
                types::READY,
                Status::False,
                err.reason,
                err.message.clone(),
                generation,
                now,
            );
            if err.next == Next::Stalled {
                conditions::remove(conds, types::RECONCILING);
                conditions::set(
                    conds,
                    types::STALLED,
                    Status::True,
                    err.reason,
                    err.message.clone(),
                    generation,
                    now,
                );
            } else {
                conditions::remove(conds, types::STALLED);
                conditions::set(
                    conds,
                    types::RECONCILING,
                    Status::True,
                    err.reason,
                    err.message.clone(),
                    generation,
                    now,
                );
            }
        }
    }
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

/// The requeue policy: what the controller does after a reconcile of an object whose interval
/// is `interval`.
pub fn next_action(
    outcome: &Result<String, ReconcileError>,
    key: &str,
    interval: Duration,
    dependency_requeue: Duration,
    backoff: &Backoff,
) -> Action {
    match outcome {
        Ok(_) => {
            backoff.reset(key);
            Action::requeue(jitter(interval))
        }
        Err(e) => match e.next {
            Next::Stalled => {
                backoff.reset(key);
                Action::await_change()
            }
            Next::Waiting => Action::requeue(dependency_requeue),
            Next::Transient => Action::requeue(backoff.failed(key, interval)),
        },
    }
}

/// What a controller does when its top-level reconcile itself failed (finalizer or status
/// write, not a step): log, count, and retry with backoff of up to a minute.
pub fn top_level_failure<K: ResourceExt>(
    kind: &str,
    obj: &K,
    err: &dyn std::fmt::Display,
    metrics: &crate::metrics::Metrics,
    backoff: &Backoff,
) -> Action {
    tracing::warn!(kind, name = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err, "reconcile failed");
    metrics.reconcile_failed(kind);
    Action::requeue(backoff.failed(&object_key(obj), Duration::from_secs(60)))
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
        .map_err(|e| ReconcileError::kube(&format!("writing status of {name}"), &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("valid timestamp")
    }

    #[test]
    fn stalled_sets_stalled_and_drops_reconciling() {
        let mut c = Vec::new();
        summarize(
            &mut c,
            &Err(ReconcileError::transient("GitOperationFailed", "down")),
            Some(1),
            at(1),
        );
        assert!(conditions::is_true(&c, types::RECONCILING));
        summarize(
            &mut c,
            &Err(ReconcileError::stalled("URLInvalid", "bad url")),
            Some(2),
            at(2),
        );
        assert!(conditions::is_true(&c, types::STALLED));
        assert!(conditions::get(&c, types::RECONCILING).is_none());
        let ready = conditions::get(&c, types::READY).expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "URLInvalid")
        );
        summarize(&mut c, &Ok("stored artifact".into()), Some(3), at(3));
        let types: Vec<_> = c.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Ready"]);
        assert!(conditions::is_true(&c, types::READY));
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
