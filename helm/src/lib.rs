//! `weir-helm`: renders Helm charts natively, with output identical to `helm template`.
//!
//! - [`value`]: the dynamic value templates work on (Go's `interface{}` as Helm sees it).
//! - [`template`]: Go's `text/template` — parser and executor with Go's exact semantics.
//! - [`sprig`]: the Sprig v3 function library as Helm registers it.
//! - [`chart`]: charts (directories and `.tgz`), dependencies, values coalescing, `--set`.
//! - [`render`]: every template of a chart executed with Helm's built-in objects.
//! - [`action`]: `helm template` end to end, from user values to the printed manifests.
//! - [`inflator`]: Kustomize's `helmCharts:` rendered by this engine.
//!
//! The crate is pure: no Kubernetes client, no network, no async runtime.

pub mod action;
pub mod chart;
pub mod inflator;
mod parallel;
pub mod release;
pub mod render;
pub mod repo;
pub mod sprig;
pub mod template;
pub mod value;
