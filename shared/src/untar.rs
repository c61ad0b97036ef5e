//! Safe extraction of artifact archives: regular files and directories only; absolute paths,
//! `..`, links, devices and oversize content are refused before anything is written outside
//! the destination.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

/// Size limits of one archive.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Compressed size.
    pub max_archive_bytes: u64,
    /// Total uncompressed size.
    pub max_unpacked_bytes: u64,
    /// Number of entries.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 100 << 20,
            max_unpacked_bytes: 500 << 20,
            max_entries: 100_000,
        }
    }
}

/// Unpacks a tar.gz into `dest` (created; must not exist). Returns the bytes written.
///
/// # Errors
/// A message naming the offending entry.
pub fn unpack(bytes: &[u8], dest: &Path, limits: Limits) -> Result<u64, String> {
    std::fs::create_dir(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    for entry in archive
        .entries()
        .map_err(|e| format!("reading archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("reading archive: {e}"))?;
        count += 1;
        if count > limits.max_entries {
            return Err(format!(
                "archive has more than {} entries",
                limits.max_entries
            ));
        }
        let path = entry
            .path()
            .map_err(|e| format!("entry path: {e}"))?
            .to_path_buf();
        let rel = safe_relative(&path)?;
        let target = dest.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry
                    .header()
                    .size()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                total = total.saturating_add(size);
                if total > limits.max_unpacked_bytes {
                    return Err(format!(
                        "archive unpacks to more than {} bytes (at {})",
                        limits.max_unpacked_bytes,
                        path.display()
                    ));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                entry
                    .by_ref()
                    .take(size)
                    .read_to_end(&mut contents)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                std::fs::write(&target, contents)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            other => {
                return Err(format!(
                    "entry {} is a {other:?}: only regular files and directories are allowed",
                    path.display()
                ));
            }
        }
    }
    Ok(total)
}

fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "entry {} escapes the destination (absolute or ..)",
                    path.display()
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("entry with an empty path".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{FileEntry, pack};

    fn raw_tar(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            // Write the name bytes directly: the tar crate refuses `..` in set_path.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_entry_type(*kind);
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").expect("link");
                h.set_size(0);
            }
            h.set_cksum();
            builder
                .append(
                    &h,
                    if *kind == tar::EntryType::Symlink {
                        &[][..]
                    } else {
                        *body
                    },
                )
                .expect("append");
        }
        builder
            .into_inner()
            .and_then(|gz| gz.finish())
            .expect("finish")
    }

    #[test]
    fn unpacks_a_packed_tree() -> Result<(), String> {
        let bytes = pack(vec![FileEntry {
            path: "a/b.yaml".into(),
            executable: false,
            contents: b"x".to_vec(),
        }])
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        unpack(&bytes, &dir.path().join("out"), Limits::default())?;
        assert_eq!(
            std::fs::read(dir.path().join("out/a/b.yaml")).map_err(|e| e.to_string())?,
            b"x"
        );
        Ok(())
    }

    #[test]
    fn refuses_traversal_absolute_paths_links_and_oversize() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                raw_tar(&[("../escape.yaml", tar::EntryType::Regular, b"x")]),
                "escapes",
            ),
            (
                raw_tar(&[("/etc/cron.d/x", tar::EntryType::Regular, b"x")]),
                "escapes",
            ),
            (
                raw_tar(&[("link", tar::EntryType::Symlink, b"")]),
                "Symlink",
            ),
        ];
        for (i, (bytes, needle)) in cases.into_iter().enumerate() {
            let err = unpack(&bytes, &dir.path().join(format!("c{i}")), Limits::default())
                .expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
        assert!(!dir.path().join("escape.yaml").exists());
        let big = raw_tar(&[("big", tar::EntryType::Regular, &[0u8; 2048])]);
        let limits = Limits {
            max_unpacked_bytes: 1024,
            ..Limits::default()
        };
        let err = unpack(&big, &dir.path().join("big"), limits).expect_err("oversize");
        assert!(err.contains("more than 1024 bytes"), "{err}");
    }
}
