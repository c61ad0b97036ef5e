//! The reproducible artifact archive: a gzip tar of regular files and directories only,
//! entries sorted by path, mtime 0, uid/gid 0, no user or group names, modes normalised to
//! 0644/0755. The same tree always gives the same bytes, hence the same digest.
//!
//! [`ArchiveWriter`] streams entries given in archive order into any writer, so that a large
//! tree never has to be held in memory; [`pack`] sorts a list of in-memory files and uses it.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::GzBuilder;
use flate2::write::GzEncoder;

/// A regular file to put in an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// `/`-separated path relative to the archive root, without leading `/`.
    pub path: String,
    /// Whether the file is executable (mode 0755 instead of 0644).
    pub executable: bool,
    /// File contents.
    pub contents: Vec<u8>,
}

/// Packs files into a reproducible tar.gz. Parent directories are added as entries; the input
/// order does not matter.
///
/// # Errors
/// I/O errors of the in-memory writer, or a path that is absolute or contains `..`.
pub fn pack(files: Vec<FileEntry>) -> std::io::Result<Vec<u8>> {
    let mut entries: BTreeMap<String, Option<FileEntry>> = BTreeMap::new();
    for file in files {
        check_path(&file.path)?;
        let mut parent = String::new();
        let parts: Vec<&str> = file.path.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            parent.push_str(dir);
            parent.push('/');
            entries.entry(parent.clone()).or_insert(None);
        }
        entries.insert(file.path.clone(), Some(file));
    }
    let mut writer = ArchiveWriter::new(Vec::new());
    for (path, entry) in entries {
        match entry {
            None => writer.add_dir(path.trim_end_matches('/'))?,
            Some(file) => writer.add_file(
                &path,
                file.executable,
                file.contents.len() as u64,
                file.contents.as_slice(),
            )?,
        }
    }
    writer.finish()
}

/// Writes a reproducible tar.gz entry by entry. Entries must come in archive order: sorted by
/// path, where a directory `d` sorts as `d/` (Git's tree order walked depth first), each
/// directory before what it contains. Parent directories are not added implicitly.
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<GzEncoder<W>>,
    /// The last entry's sort key, to refuse out-of-order or duplicate entries.
    last: String,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive written to `out`.
    pub fn new(out: W) -> Self {
        // Compression level is fixed: the digest must not depend on defaults of the day.
        let gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(out, Compression::new(6));
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        Self {
            tar,
            last: String::new(),
        }
    }

    /// Adds the directory `path` (no trailing `/`).
    ///
    /// # Errors
    /// An unsafe or out-of-order path, or a write error.
    pub fn add_dir(&mut self, path: &str) -> std::io::Result<()> {
        check_path(path)?;
        let key = format!("{path}/");
        self.advance(&key)?;
        let mut header = header();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        self.tar.append_data(&mut header, &key, std::io::empty())
    }

    /// Adds the regular file `path` of `size` bytes read from `contents`.
    ///
    /// # Errors
    /// An unsafe or out-of-order path, a reader shorter than `size`, or a write error.
    pub fn add_file(
        &mut self,
        path: &str,
        executable: bool,
        size: u64,
        contents: impl Read,
    ) -> std::io::Result<()> {
        check_path(path)?;
        self.advance(path)?;
        let mut header = header();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_size(size);
        self.tar.append_data(&mut header, path, contents.take(size))
    }

    /// Finishes the tar and gzip streams and returns the writer.
    ///
    /// # Errors
    /// Write errors.
    pub fn finish(self) -> std::io::Result<W> {
        let mut gz = self.tar.into_inner()?;
        gz.flush()?;
        gz.finish()
    }

    fn advance(&mut self, key: &str) -> std::io::Result<()> {
        if !self.last.is_empty() && key <= self.last.as_str() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "archive entry {key:?} is not after {:?}: entries must be sorted and unique",
                    self.last
                ),
            ));
        }
        self.last.clear();
        self.last.push_str(key);
        Ok(())
    }
}

fn header() -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn check_path(path: &str) -> std::io::Result<()> {
    if path.starts_with('/')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unsafe path {path:?}"),
        ));
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, body: &str) -> FileEntry {
        FileEntry {
            path: path.into(),
            executable: false,
            contents: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn same_tree_same_bytes_in_any_order() -> std::io::Result<()> {
        let a = pack(vec![
            file("b/x.yaml", "x"),
            file("a.yaml", "a"),
            file("b/c/y.yaml", "y"),
        ])?;
        let b = pack(vec![
            file("b/c/y.yaml", "y"),
            file("a.yaml", "a"),
            file("b/x.yaml", "x"),
        ])?;
        assert_eq!(a, b);
        let c = pack(vec![
            file("b/c/y.yaml", "Y"),
            file("a.yaml", "a"),
            file("b/x.yaml", "x"),
        ])?;
        assert_ne!(a, c);
        Ok(())
    }

    #[test]
    fn entries_are_sorted_normalised_and_include_directories() -> std::io::Result<()> {
        let mut exe = file("bin/run.sh", "#!/bin/sh");
        exe.executable = true;
        let bytes = pack(vec![exe, file("a.yaml", "a")])?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries()? {
            let entry = entry?;
            let h = entry.header();
            assert_eq!((h.mtime()?, h.uid()?, h.gid()?), (0, 0, 0));
            assert_eq!(h.username().ok().flatten().unwrap_or(""), "");
            seen.push((entry.path()?.to_string_lossy().to_string(), h.mode()?));
        }
        assert_eq!(
            seen,
            [
                ("a.yaml".to_string(), 0o644),
                ("bin/".to_string(), 0o755),
                ("bin/run.sh".to_string(), 0o755)
            ]
        );
        Ok(())
    }

    #[test]
    fn refuses_escaping_paths() {
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b"] {
            assert!(pack(vec![file(bad, "")]).is_err(), "{bad}");
        }
    }
}
