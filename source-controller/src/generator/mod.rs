//! The build engine of `ArtifactGenerator` artifacts (Flux's source-watcher): from the
//! unpacked trees of the sources, keyed by alias, and an artifact's `copy[]` operations,
//! the file tree of the artifact. Pure and in memory (no Kubernetes, no disk, no async), so
//! the controller fetches and stores, and everything here is unit-tested on its own.
//!
//! - [`tree`]: the in-memory file tree, read from a source artifact and turned into the
//!   files of the generated one (without Flux's default ignore list).
//! - [`copy`]: the copy operations and their semantics, with typed errors that tell spec
//!   errors from content errors.
//! - [`glob`]: Go `path.Match` and doublestar globs, as Flux uses each.
//! - [`merge`]: the Merge strategy's YAML deep merge.

pub mod copy;
pub mod glob;
pub mod merge;
pub mod tree;
