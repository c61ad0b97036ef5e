//! The budget of one artifact. Whoever can push to a watched repository controls what a commit
//! contains, so the walk of its tree and the packing of its files are bounded: by entries
//! visited, by bytes packed, by depth and by the size of the few objects read whole.

/// Reason of `Ready=False` (and of `FetchFailed=True`) when a commit exceeds a budget. Retried
/// with backoff: a new commit, or a larger limit, fixes it.
pub use weir_api::source::conditions::reasons::ARTIFACT_TOO_LARGE;

/// Default of `--artifact-max-files`.
pub const DEFAULT_MAX_FILES: u64 = 100_000;
/// Default of `--artifact-max-bytes`: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Deepest directory nesting below the repository root.
pub const MAX_TREE_DEPTH: usize = 128;
/// Longest name of one tree entry, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Largest `.sourceignore` file read.
pub const MAX_SOURCEIGNORE_BYTES: u64 = 64 * 1024;
/// Largest encoding of one tree entry: mode (up to 6 digits), space, a name of
/// [`MAX_NAME_BYTES`], NUL, a 32-byte object id. A tree object larger than this many bytes per
/// entry still allowed is refused before it is read.
pub const MAX_TREE_ENTRY_BYTES: u64 = 6 + 1 + MAX_NAME_BYTES as u64 + 1 + 32;

/// Budgets applied to every commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Tree entries (files, directories, symlinks, submodules) visited while walking a
    /// commit's tree, ignored or not (`--artifact-max-files`).
    pub max_files: u64,
    /// Total size of the files that go into the artifact, after ignore rules
    /// (`--artifact-max-bytes`).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: DEFAULT_MAX_FILES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Limits {
    /// The message of an exceeded `--artifact-max-files`.
    pub fn files_exceeded(&self, commit: &str, reached: u64, path: &str) -> String {
        format!(
            "commit {commit} has more than {max} files and directories, the limit of \
             --artifact-max-files: the walk stopped at entry {reached} ({path:?}); remove files \
             in a new commit or raise the limit",
            max = self.max_files
        )
    }

    /// The message of an exceeded `--artifact-max-bytes`.
    pub fn bytes_exceeded(&self, commit: &str, reached: u64, path: &str) -> String {
        format!(
            "the files of commit {commit} total more than {max}, the limit of \
             --artifact-max-bytes: {reached} reached at {path:?}; remove or ignore files in a \
             new commit or raise the limit",
            max = format_size(self.max_bytes),
            reached = format_size(reached)
        )
    }
}

/// Parses a size: bytes, or a number with `KiB`, `MiB`, `GiB` (also `Ki`, `Mi`, `Gi`).
///
/// # Errors
/// A message naming the value.
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "Ki" | "KiB" => 1 << 10,
        "Mi" | "MiB" => 1 << 20,
        "Gi" | "GiB" => 1 << 30,
        "Ti" | "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {raw:?}: use bytes or a number with KiB, MiB, GiB or TiB"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid size {raw:?}: must be a positive number of bytes"))
}

/// `1073741824 bytes (1.0 GiB)`-style rendering for messages.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            #[allow(clippy::cast_precision_loss)]
            let value = bytes as f64 / size as f64;
            return format!("{bytes} bytes ({value:.1} {unit})");
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64Mi"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "0", "1GB", "-1", "1.5GiB", "99999999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_size(64 << 20), "67108864 bytes (64.0 MiB)");
    }
}
