//! kustomize-controller's library: the native Kustomize engine ([`kustomize`]) and the YAML
//! layer that reads and prints exactly like Kustomize ([`yaml`]).

pub mod health;
pub mod kustomize;
pub mod postbuild;
pub mod yaml;
