//! Events: a Kubernetes Event (events.k8s.io/v1) for `kubectl describe`, and, when
//! `--events-addr` is set, the same event POSTed as Flux-shaped JSON to the
//! notification-controller.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde::Serialize;

/// Severity of an event, in the notification wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Normal progress.
    Info,
    /// A failure.
    Error,
}

/// The JSON body POSTed to the event sink (`--events-addr`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `info` or `error`.
    pub severity: Severity,
    /// RFC 3339 time of the event.
    pub timestamp: String,
    /// Human message.
    pub message: String,
    /// CamelCase reason.
    pub reason: String,
    /// Extra data, e.g. `source.weir.dev/revision`.
    pub metadata: BTreeMap<String, String>,
    /// The controller's name.
    pub reporting_controller: String,
    /// The controller's instance (pod or host name).
    pub reporting_instance: String,
}

/// Publishes events to Kubernetes and, optionally, to the notification endpoint.
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
    reporter: Reporter,
    sink: Option<(reqwest::Client, String)>,
}

impl EventRecorder {
    /// A recorder for `controller`; `events_addr` is the notification-controller's address.
    pub fn new(client: Client, controller: &str, events_addr: Option<&str>) -> Self {
        let reporter = Reporter { controller: controller.to_string(), instance: Some(crate::instance_name()) };
        let sink = events_addr.filter(|a| !a.is_empty()).map(|addr| {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new());
            (http, addr.to_string())
        });
        Self { recorder: Recorder::new(client, reporter.clone()), reporter, sink }
    }

    /// Publishes one event. Failures are logged, never returned: an unreachable event sink must
    /// not fail a reconcile.
    pub async fn publish(
        &self,
        object: &ObjectReference,
        severity: Severity,
        reason: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    ) {
        let event = Event {
            type_: if severity == Severity::Error { EventType::Warning } else { EventType::Normal },
            reason: reason.to_string(),
            note: Some(truncate(message, 1024)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::warn!(error = %e, reason, "could not record Kubernetes event");
        }
        if let Some((http, addr)) = &self.sink {
            let payload = EventPayload {
                involved_object: object.clone(),
                severity,
                timestamp: Timestamp::now().to_string(),
                message: message.to_string(),
                reason: reason.to_string(),
                metadata,
                reporting_controller: self.reporter.controller.clone(),
                reporting_instance: self.reporter.instance.clone().unwrap_or_default(),
            };
            match http.post(addr).json(&payload).send().await {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 429 => {}
                Ok(r) => tracing::warn!(status = %r.status(), addr, "event sink refused event"),
                Err(e) => tracing::warn!(error = %e, addr, "could not post event"),
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
