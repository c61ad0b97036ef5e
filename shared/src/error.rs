//! The error taxonomy of every reconcile: each error says what happens next.
//!
//! - **Stalled**: the user must change the spec; no retry until the object changes.
//! - **Waiting**: a dependency or source is not ready; requeue after the dependency interval.
//! - **Transient**: retry with exponential backoff, capped at the object's interval.

use std::fmt;

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

/// An error from a reconcile step, with its condition reason and next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileError {
    /// What happens next.
    pub next: Next,
    /// CamelCase condition/event reason.
    pub reason: &'static str,
    /// Human message: what failed, with which input, what to do.
    pub message: String,
}

impl ReconcileError {
    /// The user must change the spec.
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            next: Next::Stalled,
            reason,
            message: message.into(),
        }
    }
    /// Something this object depends on is not ready yet.
    pub fn waiting(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            next: Next::Waiting,
            reason,
            message: message.into(),
        }
    }
    /// A failure that a retry may fix.
    pub fn transient(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            next: Next::Transient,
            reason,
            message: message.into(),
        }
    }
    /// A failed call to the Kubernetes API: transient.
    pub fn kube(context: &str, err: &kube::Error) -> Self {
        Self::transient(
            crate::conditions::reasons::KUBERNETES_API_FAILED,
            format!("{context}: {err}"),
        )
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

impl std::error::Error for ReconcileError {}
