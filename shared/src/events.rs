//! Events: a Kubernetes Event (events.k8s.io/v1) for `kubectl describe`, and, when
//! `--events-addr` is set, the same event POSTed as Flux-shaped JSON to the
//! notification-controller.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
pub use weir_api::event::{EventPayload, Severity};

/// Publishes events to Kubernetes and, optionally, to the notification endpoint.
///
/// Every call creates a new Event: kube-runtime's recorder folds events with the same reason
/// into one series and keeps the first message, which would hide a new revision's message.
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    sink: Option<(reqwest::Client, String)>,
}

impl EventRecorder {
    /// A recorder for `controller`; `events_addr` is the notification-controller's address.
    pub fn new(client: Client, controller: &str, events_addr: Option<&str>) -> Self {
        let sink = events_addr.filter(|a| !a.is_empty()).and_then(|addr| {
            let http = crate::tls::client_builder().timeout(Duration::from_secs(10));
            http.build()
                .inspect_err(|e| tracing::error!(error = %e, "not sending events to {addr}"))
                .ok()
                .map(|http| (http, addr.to_string()))
        });
        Self {
            client,
            controller: controller.to_string(),
            instance: crate::instance_name(),
            sink,
        }
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
        let now = Timestamp::now();
        let namespace = object
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    object.name.as_deref().unwrap_or("object"),
                    now.as_nanosecond()
                )),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(
                if severity == Severity::Error {
                    "Warning"
                } else {
                    "Normal"
                }
                .to_string(),
            ),
            reason: Some(reason.to_string()),
            note: Some(truncate(message, 1024)),
            action: Some("Reconcile".to_string()),
            regarding: Some(object.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
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
                reporting_controller: self.controller.clone(),
                reporting_instance: self.instance.clone(),
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
