//! Helpers shared by the fuzz targets, and the two pure modules of crates too costly to
//! build with coverage instrumentation: `weir-shared` and `source-controller` pull in kube,
//! gix and reqwest, so their untar and Git-reference modules are compiled here from their
//! source files instead. The code under test is theirs, unchanged.

#![allow(clippy::unwrap_used)]

// `source-controller/src/reference.rs` imports `weir_api::source::{DEFAULT_BRANCH,
// GitRepositoryRef}`; `weir-api` needs kube and k8s-openapi, so this crate stands in for it
// with the two items (below) under the same path.
extern crate self as weir_api;

/// Stand-in for `weir_api::source`: the items `reference.rs` uses, with the same fields.
/// A field added upstream that `reference.rs` reads fails to compile here, so this cannot
/// silently drift from what is tested.
pub mod source {
    /// As `weir_api::source::DEFAULT_BRANCH`.
    pub const DEFAULT_BRANCH: &str = "master";

    /// As `weir_api::source::GitRepositoryRef`.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct GitRepositoryRef {
        pub branch: Option<String>,
        pub tag: Option<String>,
        pub semver: Option<String>,
        pub name: Option<String>,
        pub commit: Option<String>,
    }
}

/// `weir_shared::untar`, compiled from its source.
#[path = "../../shared/src/untar.rs"]
pub mod untar;

/// `source_controller::reference`, compiled from its source.
#[path = "../../source-controller/src/reference.rs"]
pub mod reference;

/// Splits a fuzz input into at most `n` parts at NUL bytes (the last part keeps any further
/// NULs), as text: invalid UTF-8 is replaced so that inputs are not wasted.
pub fn split_text(data: &[u8], n: usize) -> Vec<String> {
    data.splitn(n, |b| *b == 0)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// Equality of read values where a number equals another of the same numeric value
/// whatever its representation: the emitter prints the float `1e10` as `10000000000` (as
/// sigs.k8s.io/yaml does), which reads back as an integer.
pub fn same_values(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
                    _ => false,
                }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_values(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_values(vx, vy))
        }
        _ => a == b,
    }
}
