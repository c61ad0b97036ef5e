//! kustomize-controller: reconciles Kustomizations ([`controller`]) with the native Kustomize
//! engine ([`kustomize`]), the YAML layer that reads and prints exactly like Kustomize
//! ([`yaml`]), post-build substitution and health checks.

pub mod controller;
pub mod health;
pub mod kustomize;
pub mod postbuild;
pub mod run;
pub mod yaml;
