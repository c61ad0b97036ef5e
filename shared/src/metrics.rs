//! Prometheus metrics every controller exports on `/metrics`: reconcile duration, reconcile
//! errors, and one condition gauge per object and condition type.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    namespace: String,
    name: String,
    #[prometheus(flatten)]
    condition: ConditionStatusLabels,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionStatusLabels {
    #[allow(clippy::struct_field_names)]
    r#type: String,
    status: String,
}

/// The metric set of one controller process.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    duration: Family<KindLabels, Histogram>,
    errors: Family<ErrorLabels, Counter>,
    conditions: Family<ConditionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let errors = Family::<ErrorLabels, Counter>::default();
        let conditions = Family::<ConditionLabels, Gauge>::default();
        let mut registry = Registry::with_prefix("weir");
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconciles",
            duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that ended in an error, by kind and condition reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_condition",
            "1 for the current status of each condition type of each object",
            conditions.clone(),
        );
        Self {
            registry: Arc::new(registry),
            duration,
            errors,
            conditions,
        }
    }
}

impl Metrics {
    /// Starts timing a reconcile of `kind`; the time is recorded when the guard drops.
    pub fn reconcile_timer(&self, kind: &str) -> ReconcileTimer {
        ReconcileTimer {
            hist: self
                .duration
                .get_or_create(&KindLabels { kind: kind.into() })
                .clone(),
            start: Instant::now(),
        }
    }

    /// Counts a reconcile error of `kind` with the condition reason `reason`.
    pub fn reconcile_failed(&self, kind: &str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Records an object's condition: the gauge of the current status is 1, the others 0.
    pub fn set_condition(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        type_: &str,
        status: &str,
    ) {
        for s in ["True", "False", "Unknown", "Deleted"] {
            let labels = ConditionLabels {
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
                condition: ConditionStatusLabels {
                    r#type: type_.into(),
                    status: s.into(),
                },
            };
            self.conditions
                .get_or_create(&labels)
                .set(i64::from(s == status));
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Records a reconcile's duration when dropped.
pub struct ReconcileTimer {
    hist: Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.hist.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_three_metric_families() {
        let m = Metrics::default();
        drop(m.reconcile_timer("GitRepository"));
        m.reconcile_failed("GitRepository", "GitOperationFailed");
        m.set_condition("GitRepository", "ns", "podinfo", "Ready", "True");
        let text = m.encode();
        assert!(
            text.contains("weir_reconcile_duration_seconds_count{kind=\"GitRepository\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "weir_reconcile_errors_total{kind=\"GitRepository\",reason=\"GitOperationFailed\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"weir_reconcile_condition{kind="GitRepository",namespace="ns",name="podinfo",type="Ready",status="True"} 1"#),
            "{text}"
        );
    }
}
