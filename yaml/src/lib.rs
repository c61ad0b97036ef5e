//! YAML exactly as the Go tools we match read and write it, over `serde_json::Value`, so that
//! our output is byte-for-byte what `kubectl kustomize` (and Helm's `toYaml`) prints.
//!
//! Kustomize reads YAML with Go's yaml.v3 ([`from_str`], [`from_str_multi`]) and prints each
//! resource by converting it to JSON and back with sigs.k8s.io/yaml, i.e. yaml.v2's emitter
//! ([`to_string`], [`to_string_multi`]). That round trip decides scalar types (`0755` is the
//! integer 493, `on` is a string, `2001-12-14` becomes a timestamp string), sorts keys in
//! yaml.v2's natural order, quotes strings that YAML 1.1 would read as something else, and
//! folds long lines at 80 columns.
//!
//! Helm (and Kustomize for JSON 6902 patches) reads with yaml.v2's YAML 1.1 rules instead
//! ([`from_str_yaml11`]: `yes`/`no`/`on`/`off` are booleans, timestamps stay text), and its
//! `toYaml` prints through sigs.k8s.io/yaml with keys sorted at every level
//! ([`to_string_sorted`]).
//!
//! Pure: no I/O beyond the strings given. Reading hostile text is bounded: nesting stops at
//! [`MAX_DEPTH`], alias expansion is refused as yaml.v3 refuses it and past
//! [`MAX_ALIAS_EXPANSION`] nodes or [`MAX_ALIAS_EXPANSION_BYTES`] bytes per call, and the
//! emitter (recursive, one frame per level) prints any value the reader accepts on a 1 MiB
//! stack.

mod emit;
mod read;

pub use emit::{
    natural_order, scalar_text, to_string, to_string_multi, to_string_sorted, to_writer_multi,
};
pub use read::{
    DuplicateKeys, MAX_ALIAS_EXPANSION, MAX_ALIAS_EXPANSION_BYTES, MAX_DEPTH, YamlError, from_str,
    from_str_helm_values, from_str_multi, from_str_multi_with, from_str_yaml11,
    from_str_yaml11_multi, resolve_plain,
};
