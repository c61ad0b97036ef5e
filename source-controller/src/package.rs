//! Turns a commit's files into the artifact: apply ignore rules, then pack reproducibly.

use weir_shared::archive::{self, FileEntry};

use crate::git::TreeFile;
use crate::sourceignore::{IgnoreError, IgnoreRules, SOURCEIGNORE};

/// Why a commit could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// An ignore pattern is invalid.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// Writing the archive failed.
    #[error("packing artifact: {0}")]
    Archive(#[source] std::io::Error),
}

/// Filters `files` through the default exclusions, `.sourceignore` files and `spec.ignore`,
/// and packs the rest.
///
/// # Errors
/// [`PackError`]: an invalid ignore pattern (naming its file and line) or an I/O error.
pub fn pack(files: Vec<TreeFile>, spec_ignore: Option<&str>) -> Result<Vec<u8>, PackError> {
    let sourceignores: Vec<(String, String)> = files
        .iter()
        .filter(|f| f.path == SOURCEIGNORE || f.path.ends_with(&format!("/{SOURCEIGNORE}")))
        .map(|f| {
            let dir = f
                .path
                .strip_suffix(SOURCEIGNORE)
                .unwrap_or("")
                .trim_end_matches('/')
                .to_string();
            (dir, String::from_utf8_lossy(&f.contents).into_owned())
        })
        .collect();
    let rules = IgnoreRules::new(&sourceignores, spec_ignore)?;
    let kept = files
        .into_iter()
        .filter(|f| !rules.is_ignored(&f.path, false))
        .map(|f| FileEntry {
            path: f.path,
            executable: f.executable,
            contents: f.contents,
        })
        .collect();
    archive::pack(kept).map_err(PackError::Archive)
}
