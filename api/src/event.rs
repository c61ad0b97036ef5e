//! The event wire format: the JSON body every controller POSTs to the notification-controller
//! (`--events-addr`), in Flux's shape so that Flux's providers and tools recognise it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use serde::{Deserialize, Serialize};

/// Severity of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Normal progress.
    Info,
    /// A failure.
    Error,
}

/// The JSON body POSTed to the event sink.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// CamelCase reason, the same as the condition reason it reports.
    pub reason: String,
    /// Extra data, e.g. `source.weir.dev/revision`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The controller's name.
    pub reporting_controller: String,
    /// The controller's instance (pod or host name).
    #[serde(default)]
    pub reporting_instance: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_flux_shaped_json() -> Result<(), serde_json::Error> {
        let body = r#"{"involvedObject":{"apiVersion":"kustomize.weir.dev/v1","kind":"Kustomization","name":"app","namespace":"ns","uid":"u"},"severity":"error","timestamp":"2026-01-01T00:00:00Z","message":"m","reason":"BuildFailed","metadata":{"kustomize.weir.dev/revision":"main@sha1:1"},"reportingController":"kustomize-controller","reportingInstance":"pod"}"#;
        let event: EventPayload = serde_json::from_str(body)?;
        assert_eq!(event.severity, Severity::Error);
        assert_eq!(event.involved_object.kind.as_deref(), Some("Kustomization"));
        let back: serde_json::Value = serde_json::to_value(&event)?;
        let want: serde_json::Value = serde_json::from_str(body)?;
        assert_eq!(back, want);
        Ok(())
    }
}
