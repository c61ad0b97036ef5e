//! Readiness of applied objects, kstatus-style: current (ready), in progress, or failed.
//! [`health`] and [`verdict`] are pure: they look at objects' status, not at the cluster;
//! [`wait_healthy`] only fetches the objects and feeds them to them until a verdict.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apply::Applier;
use crate::inventory::ObjectRef;

/// The health of a set of objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every object is ready.
    Healthy,
    /// Some are not ready yet: `<object>: <why>` for each.
    Pending(Vec<String>),
    /// One object will not become ready: `<object>: <why>`.
    Failed(String),
}

/// The verdict over objects as observed (`None`: not found). The first failed object decides;
/// otherwise every object not yet ready is listed.
pub fn verdict(observed: &[(ObjectRef, Option<Value>)]) -> Verdict {
    let mut pending = Vec::new();
    for (r, obj) in observed {
        let Some(obj) = obj else {
            pending.push(format!("{r}: not found"));
            continue;
        };
        match health(obj) {
            Health::Current => {}
            Health::InProgress(m) => pending.push(format!("{r}: {m}")),
            Health::Failed(m) => return Verdict::Failed(format!("{r}: {m}")),
        }
    }
    if pending.is_empty() {
        Verdict::Healthy
    } else {
        Verdict::Pending(pending)
    }
}

/// Why waiting for health ended without every object ready.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HealthError {
    /// An object failed: `<object>: <why>`.
    #[error("health check failed: {0}")]
    Failed(String),
    /// The timeout passed with objects still pending.
    #[error("health check timed out after {}: {}", crate::duration::format(*.timeout), .pending.join("; "))]
    TimedOut {
        /// The timeout.
        timeout: Duration,
        /// `<object>: <why>` of each pending object.
        pending: Vec<String>,
    },
    /// The objects could not be read.
    #[error("health check: {0}")]
    Api(String),
}

/// Polls `refs` every second until all are ready (Ok), one fails, or `timeout` passes.
///
/// # Errors
/// [`HealthError`].
pub async fn wait_healthy(
    applier: &Applier,
    refs: &[ObjectRef],
    timeout: Duration,
) -> Result<(), HealthError> {
    let start = Instant::now();
    loop {
        let mut observed = Vec::with_capacity(refs.len());
        for r in refs {
            let api = applier
                .api_for(r)
                .await
                .map_err(|e| HealthError::Api(e.to_string()))?;
            let current = api
                .get_opt(&r.name)
                .await
                .map_err(|e| HealthError::Api(e.to_string()))?;
            observed.push((
                r.clone(),
                current.map(|c| serde_json::to_value(&c).unwrap_or(Value::Null)),
            ));
        }
        match verdict(&observed) {
            Verdict::Healthy => return Ok(()),
            Verdict::Failed(m) => return Err(HealthError::Failed(m)),
            Verdict::Pending(pending) if start.elapsed() >= timeout => {
                return Err(HealthError::TimedOut { timeout, pending });
            }
            Verdict::Pending(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Readiness of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Ready.
    Current,
    /// Not ready yet; the reason.
    InProgress(String),
    /// Will not become ready without a change; the reason.
    Failed(String),
}

fn int(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn cond_status(c: Option<&Value>) -> Option<&str> {
    c.and_then(|c| c.get("status")).and_then(Value::as_str)
}

fn cond_message(c: Option<&Value>) -> String {
    c.and_then(|c| c.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Computes readiness from an object as read from the API server.
pub fn health(obj: &Value) -> Health {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let generation = int(obj, "/metadata/generation");
    let observed = obj
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if observed.is_some_and(|o| o < generation) {
        return Health::InProgress("the controller has not observed the latest generation".into());
    }
    match kind {
        "Deployment" => {
            let progressing = condition(obj, "Progressing");
            if cond_status(progressing) == Some("False")
                && progressing
                    .and_then(|c| c.get("reason"))
                    .and_then(Value::as_str)
                    == Some("ProgressDeadlineExceeded")
            {
                return Health::Failed(format!(
                    "progress deadline exceeded: {}",
                    cond_message(progressing)
                ));
            }
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let (updated, available) = (
                int(obj, "/status/updatedReplicas"),
                int(obj, "/status/availableReplicas"),
            );
            if observed.is_none() {
                return Health::InProgress("waiting for the Deployment controller".into());
            }
            if updated < want || available < want || int(obj, "/status/replicas") > want {
                return Health::InProgress(format!(
                    "{available}/{want} replicas available, {updated} updated"
                ));
            }
            Health::Current
        }
        "StatefulSet" => {
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let ready = int(obj, "/status/readyReplicas");
            let current = obj.pointer("/status/currentRevision");
            if observed.is_none()
                || ready < want
                || (want > 0 && current != obj.pointer("/status/updateRevision"))
            {
                return Health::InProgress(format!("{ready}/{want} replicas ready"));
            }
            Health::Current
        }
        "DaemonSet" => {
            let desired = int(obj, "/status/desiredNumberScheduled");
            let (ready, updated) = (
                int(obj, "/status/numberReady"),
                int(obj, "/status/updatedNumberScheduled"),
            );
            if observed.is_none() || ready < desired || updated < desired {
                return Health::InProgress(format!("{ready}/{desired} pods ready"));
            }
            Health::Current
        }
        "Job" => {
            if cond_status(condition(obj, "Failed")) == Some("True") {
                return Health::Failed(format!(
                    "job failed: {}",
                    cond_message(condition(obj, "Failed"))
                ));
            }
            if cond_status(condition(obj, "Complete")) == Some("True") {
                return Health::Current;
            }
            Health::InProgress("job not complete".into())
        }
        "PersistentVolumeClaim" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Health::Current,
            Some("Lost") => Health::Failed("claim lost its volume".into()),
            other => Health::InProgress(format!("phase {}", other.unwrap_or("unknown"))),
        },
        "Service" => {
            if obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
                && obj
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            {
                return Health::InProgress("waiting for a load balancer address".into());
            }
            Health::Current
        }
        "CustomResourceDefinition" => {
            if cond_status(condition(obj, "Established")) == Some("True") {
                Health::Current
            } else {
                Health::InProgress("not established".into())
            }
        }
        "Pod" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Health::Current,
            Some("Failed") => Health::Failed("pod failed".into()),
            _ if cond_status(condition(obj, "Ready")) == Some("True") => Health::Current,
            _ => Health::InProgress("pod not ready".into()),
        },
        _ => {
            // Custom resources (including Weir's own): the Ready condition decides; Stalled
            // means failed.
            if cond_status(condition(obj, "Stalled")) == Some("True") {
                return Health::Failed(cond_message(condition(obj, "Stalled")));
            }
            match cond_status(condition(obj, "Ready")) {
                Some("True") => Health::Current,
                Some(_) => Health::InProgress(cond_message(condition(obj, "Ready"))),
                None => Health::Current,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdict_table() {
        let r = |name: &str| ObjectRef {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: "ns".into(),
            name: name.into(),
        };
        let ready = json!({"kind": "ConfigMap", "metadata": {"name": "x"}});
        let failed = json!({"kind": "Job", "metadata": {"generation": 1}, "status": {"conditions": [{"type": "Failed", "status": "True", "message": "boom"}]}});
        type Observed = Vec<(ObjectRef, Option<Value>)>;
        let cases: Vec<(&str, Observed, Verdict)> = vec![
            ("nothing to check", vec![], Verdict::Healthy),
            (
                "all ready",
                vec![(r("a"), Some(ready.clone()))],
                Verdict::Healthy,
            ),
            (
                "missing is pending",
                vec![(r("a"), Some(ready.clone())), (r("b"), None)],
                Verdict::Pending(vec!["Deployment/ns/b: not found".into()]),
            ),
            (
                "a failure decides over pending ones",
                vec![(r("a"), None), (r("b"), Some(failed))],
                Verdict::Failed("Deployment/ns/b: job failed: boom".into()),
            ),
        ];
        for (name, observed, want) in cases {
            assert_eq!(verdict(&observed), want, "{name}");
        }
    }

    #[test]
    fn deployments() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}});
        assert!(matches!(health(&d), Health::InProgress(m) if m.contains("1/2")));
        d["status"]["availableReplicas"] = json!(2);
        assert_eq!(health(&d), Health::Current);
        d["status"]["observedGeneration"] = json!(1);
        assert!(matches!(health(&d), Health::InProgress(_)));
        d["status"]["observedGeneration"] = json!(2);
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]);
        assert!(matches!(health(&d), Health::Failed(m) if m.contains("timed out")));
    }

    #[test]
    fn jobs_claims_and_custom_resources() {
        assert!(matches!(
            health(
                &json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True"}]}})
            ),
            Health::Failed(_)
        ));
        assert_eq!(
            health(&json!({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}})),
            Health::Current
        );
        assert_eq!(health(&json!({"kind": "ConfigMap"})), Health::Current);
        let ks = json!({"kind": "Kustomization", "status": {"conditions": [{"type": "Ready", "status": "False", "message": "building"}]}});
        assert_eq!(health(&ks), Health::InProgress("building".into()));
        let stalled = json!({"kind": "Kustomization", "status": {"conditions": [{"type": "Stalled", "status": "True", "message": "bad"}]}});
        assert_eq!(health(&stalled), Health::Failed("bad".into()));
    }
}
