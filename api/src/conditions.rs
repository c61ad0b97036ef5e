//! Condition types and reasons every kind shares (kstatus and Flux's common `meta` set).
//! Group-specific ones live beside their kinds ([`crate::source::conditions`],
//! [`crate::kustomize::conditions`]). Reasons are shared by conditions and events: an event
//! about a failure carries the reason of the condition it explains.

/// Condition types shared by every kind.
pub mod types {
    /// The object's summary condition.
    pub const READY: &str = "Ready";
    /// Present (True) while a reconcile is in progress or must be retried.
    pub const RECONCILING: &str = "Reconciling";
    /// Present (True) when the object cannot progress without a spec change.
    pub const STALLED: &str = "Stalled";
}

/// CamelCase reasons shared by every kind.
pub mod reasons {
    /// Everything worked.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A reconcile is running.
    pub const PROGRESSING: &str = "Progressing";
    /// The remote refused the credentials.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The spec is invalid.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A URL in the spec is invalid or not allowed.
    pub const URL_INVALID: &str = "URLInvalid";
    /// The referenced Secret could not be read or lacks a key.
    pub const SECRET_INVALID: &str = "SecretInvalid";
    /// Writing, reading or fetching an artifact failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency or source is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// Talking to the Kubernetes API failed.
    pub const KUBERNETES_API_FAILED: &str = "KubernetesAPIFailed";
}
