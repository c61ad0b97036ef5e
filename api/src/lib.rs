//! Weir's custom resource types, one module per API group.
//!
//! These are plain data: the controllers own behaviour. Every field carries a doc comment
//! because the docs become the CRD's OpenAPI descriptions (`kubectl explain`).

pub mod conditions;
pub mod event;
pub mod helm;
pub mod kustomize;
pub mod meta;
pub mod source;
pub mod source_extensions;

/// The finalizer every Weir controller puts on the objects it owns.
pub const FINALIZER: &str = "finalizers.weir.dev";

/// Annotation a user (or `weir reconcile`) sets to request an immediate reconcile.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "reconcile.weir.dev/requestedAt";
