//! Helm chart repositories and chart packages, as source-controller's HelmRepository and
//! HelmChart need them (pure: the caller downloads, this module reads and writes bytes).
//!
//! - [`index`]: `index.yaml` read as Helm reads it ([`IndexFile::parse`]), versions sorted
//!   newest first, a version chosen for a constraint ([`IndexFile::get`], Helm's `Get`), and
//!   the canonical JSON whose sha256 is the HelmRepository's revision
//!   ([`IndexFile::to_canonical_json`]).
//! - [`resolve_chart_url`]: an entry's URL made absolute against the repository URL, as
//!   Helm's `ResolveReferenceURL`.
//! - [`package`]: `.tgz` packages as `helm package` makes them, with reproducible bytes
//!   ([`package_files`], [`package_dir`]); Flux's `valuesFiles` merge
//!   ([`merge_values_files`]) and version metadata rule ([`version_with_metadata`]); the
//!   check of a downloaded archive ([`check_chart_archive`]).

pub mod index;
pub mod package;
mod time;
mod url;

pub use index::{ChartVersion, IndexError, IndexFile, ResolveError, SkippedEntry};
pub use package::{
    PackageError, PackageOptions, PackagedChart, ValuesFileError, chart_dir_files,
    chart_dir_files_within, chart_yaml, check_chart_archive, merge_values_files, package_dir,
    package_files, version_with_metadata,
};
pub use url::resolve_chart_url;
