//! YAML exactly as Kustomize reads and writes it, so that our output is byte-for-byte what
//! `kubectl kustomize` prints.
//!
//! Kustomize reads YAML with Go's yaml.v3 and prints each resource by converting it to JSON
//! and back with sigs.k8s.io/yaml (yaml.v2's emitter). That round trip decides scalar types
//! (`0755` is the integer 493, `on` is a string, `2001-12-14` becomes a timestamp string),
//! sorts keys in yaml.v2's natural order, quotes strings that YAML 1.1 would read as
//! something else, and folds long lines at 80 columns. [`read`] and [`write`] reproduce both
//! halves over `serde_json::Value`.

mod emit;
mod read;

pub use emit::{scalar_text, to_string, to_string_multi};
pub use read::{YamlError, from_str, from_str_multi, from_str_yaml11};
