//! The error taxonomy of every reconcile: each error says what happens next.
//!
//! - **Stalled**: nothing happens until the object changes; only for faults in the spec.
//! - **Waiting**: a dependency or source is not ready; requeue after the dependency interval.
//! - **Transient**: retry with exponential backoff, capped at the object's retry interval.
//!   Faults outside the spec (a commit's content, a Secret's keys, the network) are transient:
//!   the fix does not change the object, so only a retry can see it.

use std::fmt;
use std::sync::Arc;

/// What the controller does after this error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for a spec change.
    Stalled,
    /// Requeue after the dependency interval; not a failure.
    Waiting,
    /// Retry with backoff.
    Transient,
}

/// The typed cause of a reconcile error.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a reconcile step, with its condition reason, next step and typed cause.
#[derive(Clone, Debug)]
pub struct ReconcileError {
    /// What happens next.
    pub next: Next,
    /// CamelCase condition/event reason.
    pub reason: &'static str,
    /// Human message: what failed, with which input, what to do.
    pub message: String,
    /// The underlying error, kept typed for logs and for callers that classify it.
    pub cause: Option<Cause>,
}

impl PartialEq for ReconcileError {
    fn eq(&self, other: &Self) -> bool {
        self.next == other.next && self.reason == other.reason && self.message == other.message
    }
}

impl Eq for ReconcileError {}

impl ReconcileError {
    fn new(next: Next, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            next,
            reason,
            message: message.into(),
            cause: None,
        }
    }
    /// The user must change the spec.
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Next::Stalled, reason, message)
    }
    /// Something this object depends on is not ready yet.
    pub fn waiting(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Next::Waiting, reason, message)
    }
    /// A failure that a retry may fix.
    pub fn transient(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Next::Transient, reason, message)
    }
    /// Keeps `cause` as the typed source of this error.
    #[must_use]
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }
    /// A failed call to the Kubernetes API: transient, with the kube error as cause.
    pub fn kube(context: &str, err: kube::Error) -> Self {
        Self::transient(
            weir_api::conditions::reasons::KUBERNETES_API_FAILED,
            format!("{context}: {err}"),
        )
        .with_cause(err)
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next = match self.next {
            Next::Stalled => "stalled",
            Next::Waiting => "waiting",
            Next::Transient => "will retry",
        };
        write!(f, "{} ({}, {next})", self.message, self.reason)
    }
}

impl std::error::Error for ReconcileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_stays_typed_and_is_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err =
            ReconcileError::transient("ArtifactFailed", "downloading x: refused").with_cause(io);
        let source = std::error::Error::source(&err).expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        // Equality is about what the user sees: next step, reason and message.
        assert_eq!(
            err,
            ReconcileError::transient("ArtifactFailed", "downloading x: refused")
        );
        assert_eq!(
            err.to_string(),
            "downloading x: refused (ArtifactFailed, will retry)"
        );
    }
}
