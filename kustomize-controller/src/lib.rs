//! kustomize-controller's library: the native Kustomize engine, starting with YAML that reads
//! and prints exactly like Kustomize.

pub mod yaml;
