//! kustomize-controller: reconciles Kustomizations on the shared driver ([`controller`]), with
//! its pure decisions in [`plan`] and process wiring in [`run`]. The Kustomize engine,
//! post-build substitution and the spec -> kustomization generator live in `weir-kustomize`;
//! the YAML that reads and prints exactly like Kustomize lives in `weir-yaml`.

pub mod controller;
pub mod plan;
pub mod run;
