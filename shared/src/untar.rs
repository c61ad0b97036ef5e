//! Safe extraction of artifact archives: regular files and directories only; absolute paths,
//! `..`, links, devices and oversize content are refused before anything is written outside
//! the destination. [`unpack`] writes to a directory, [`read`] returns the entries in memory;
//! both run the same entry loop, so they accept and refuse exactly the same archives.
//!
//! Every byte the gzip stream decompresses to is counted, whatever tar entry it belongs to, so
//! no entry type (long names, PAX records, directory payloads, padding) gets around the size
//! limits, and nothing is ever allocated from a size an archive claims.
//!
//! # Limits (see [`Limits`])
//!
//! | limit | default | enforced |
//! |---|---|---|
//! | `max_archive_bytes` | [`DEFAULT_MAX_ARCHIVE_BYTES`] (100 MiB) | compressed size, while downloading ([`crate::fetch`]) and here |
//! | `max_unpacked_bytes` | [`DEFAULT_MAX_UNPACKED_BYTES`] (500 MiB) | sum of regular file contents |
//! | `max_metadata_bytes` | [`DEFAULT_MAX_METADATA_BYTES`] (128 MiB) | decompressed bytes that are not file contents (headers, padding, extensions, end of archive); the decompressed stream as a whole may not exceed `max_unpacked_bytes + max_metadata_bytes` |
//! | `max_entries` | [`DEFAULT_MAX_ENTRIES`] (100 000) | tar headers, extension headers included |
//! | `max_extension_bytes` | [`DEFAULT_MAX_EXTENSION_BYTES`] (64 KiB) | one GNU long name or PAX record set, checked before it is read |
//!
//! Also refused: data after the end of the first gzip member, non-zero bytes after the tar
//! end-of-archive marker, directory entries with a payload, PAX global headers, GNU long link
//! names (links are refused anyway) and a PAX `size` that disagrees with the header.

use std::io::{BufRead, Read};
use std::path::{Component, Path, PathBuf};

use flate2::bufread::GzDecoder;

/// Default of [`Limits::max_archive_bytes`]: 100 MiB compressed.
pub const DEFAULT_MAX_ARCHIVE_BYTES: u64 = 100 << 20;
/// Default of [`Limits::max_unpacked_bytes`]: 500 MiB of file contents.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 500 << 20;
/// Default of [`Limits::max_metadata_bytes`]: 128 MiB of headers and padding (enough for
/// [`DEFAULT_MAX_ENTRIES`] entries of one header block and one padding block each).
pub const DEFAULT_MAX_METADATA_BYTES: u64 = 128 << 20;
/// Default of [`Limits::max_entries`].
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// Default of [`Limits::max_extension_bytes`]: 64 KiB per long name or PAX record set.
pub const DEFAULT_MAX_EXTENSION_BYTES: u64 = 64 << 10;

/// Size limits of one archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Compressed size.
    pub max_archive_bytes: u64,
    /// Total size of the regular files' contents.
    pub max_unpacked_bytes: u64,
    /// Decompressed bytes that are not file contents (tar headers, padding, extension
    /// records, the end-of-archive blocks).
    pub max_metadata_bytes: u64,
    /// Number of tar headers, extension headers included.
    pub max_entries: u64,
    /// Size of one GNU long name or one PAX extended header.
    pub max_extension_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_archive_bytes: DEFAULT_MAX_ARCHIVE_BYTES,
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_extension_bytes: DEFAULT_MAX_EXTENSION_BYTES,
        }
    }
}

/// A reader that fails once more than `limit` bytes have come through it.
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Never ask for more than one byte past the limit, so that the decompressor does no
        // more work than needed to notice.
        let room = self.limit.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(format!(
                "archive decompresses to more than {} bytes (max_unpacked_bytes + max_metadata_bytes)",
                self.limit
            )));
        }
        Ok(n)
    }
}

/// Extension headers seen before the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

/// One entry of an archive read by [`read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated path relative to the archive root, without `.` or `..` components.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
}

/// A directory or a regular file, the only entry types an archive may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file.
    File {
        /// File contents.
        contents: Vec<u8>,
        /// Whether any execute bit is set in the entry's mode.
        executable: bool,
    },
}

/// Unpacks a tar.gz into `dest` (created; must not exist). Returns the bytes written.
///
/// # Errors
/// A message naming the offending entry or the limit that was reached.
pub fn unpack(bytes: &[u8], dest: &Path, limits: Limits) -> Result<u64, String> {
    check_archive_size(bytes, limits)?;
    std::fs::create_dir(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    extract(bytes, limits, &mut DiskSink { dest })
}

/// Reads a tar.gz into memory, with the checks and limits of [`unpack`]. Entries come in
/// archive order; a path may repeat (a later entry replaces an earlier one when unpacked).
///
/// # Errors
/// A message naming the offending entry or the limit that was reached.
pub fn read(bytes: &[u8], limits: Limits) -> Result<Vec<Entry>, String> {
    check_archive_size(bytes, limits)?;
    let mut sink = MemorySink::default();
    extract(bytes, limits, &mut sink)?;
    Ok(sink.entries)
}

fn check_archive_size(bytes: &[u8], limits: Limits) -> Result<(), String> {
    if bytes.len() as u64 > limits.max_archive_bytes {
        return Err(format!(
            "archive is larger than {} bytes (max_archive_bytes)",
            limits.max_archive_bytes
        ));
    }
    Ok(())
}

/// Where the entries of an archive go, once the entry loop has checked them. Paths are safe
/// and relative (normal components only).
trait Sink {
    /// Creates the directory `path` and its parents.
    fn directory(&mut self, path: &Path) -> std::io::Result<()>;
    /// Stores the regular file `path` with the bytes of `contents`; returns how many there
    /// were.
    fn file(
        &mut self,
        path: &Path,
        executable: bool,
        contents: &mut dyn Read,
    ) -> std::io::Result<u64>;
}

/// Writes entries under a directory.
struct DiskSink<'a> {
    dest: &'a Path,
}

impl Sink for DiskSink<'_> {
    fn directory(&mut self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(self.dest.join(path))
    }

    fn file(
        &mut self,
        path: &Path,
        _executable: bool,
        contents: &mut dyn Read,
    ) -> std::io::Result<u64> {
        let target = self.dest.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Streamed to disk: nothing is allocated from the size the header claims.
        let mut file = std::fs::File::create(&target)?;
        std::io::copy(contents, &mut file)
    }
}

/// Collects entries in memory.
#[derive(Default)]
struct MemorySink {
    entries: Vec<Entry>,
}

impl MemorySink {
    fn slash_path(path: &Path) -> String {
        let parts: Vec<_> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        parts.join("/")
    }
}

impl Sink for MemorySink {
    fn directory(&mut self, path: &Path) -> std::io::Result<()> {
        self.entries.push(Entry {
            path: Self::slash_path(path),
            kind: EntryKind::Directory,
        });
        Ok(())
    }

    fn file(
        &mut self,
        path: &Path,
        executable: bool,
        contents: &mut dyn Read,
    ) -> std::io::Result<u64> {
        // Grown as bytes arrive, never reserved from the size the header claims.
        let mut data = Vec::new();
        contents.read_to_end(&mut data)?;
        let read = data.len() as u64;
        self.entries.push(Entry {
            path: Self::slash_path(path),
            kind: EntryKind::File {
                contents: data,
                executable,
            },
        });
        Ok(read)
    }
}

/// The entry loop and the trailing-data checks shared by [`unpack`] and [`read`].
fn extract(bytes: &[u8], limits: Limits, sink: &mut dyn Sink) -> Result<u64, String> {
    let reader = Counted {
        inner: GzDecoder::new(bytes),
        read: 0,
        limit: limits
            .max_unpacked_bytes
            .saturating_add(limits.max_metadata_bytes),
    };
    let mut archive = tar::Archive::new(reader);
    let total = extract_entries(&mut archive, sink, limits)?;
    let mut reader = archive.into_inner();
    // After the end-of-archive marker only zero padding may follow, up to the end of the
    // gzip member; after the member, nothing.
    let mut buf = [0u8; 8192];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("reading archive: {e}"))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err("archive has data after the tar end-of-archive marker".into());
        }
    }
    let mut rest = reader.inner.into_inner();
    if !rest.fill_buf().map_err(|e| e.to_string())?.is_empty() {
        return Err(
            "archive has data after the end of the first gzip member (concatenated or trailing data)"
                .into(),
        );
    }
    Ok(total)
}

fn extract_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    sink: &mut dyn Sink,
    limits: Limits,
) -> Result<u64, String> {
    let read_err = |e: std::io::Error| format!("reading archive: {e}");
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    let mut pending = Pending::default();
    // Raw entries: the tar crate would read extension headers whole, whatever their size,
    // before we could look at them. We handle them here, bounded.
    for entry in archive.entries().map_err(read_err)?.raw(true) {
        let mut entry = entry.map_err(read_err)?;
        count += 1;
        if count > limits.max_entries {
            return Err(format!(
                "archive has more than {} entries (max_entries)",
                limits.max_entries
            ));
        }
        let kind = entry.header().entry_type();
        let size = entry.header().entry_size().map_err(read_err)?;
        if kind.is_gnu_longname() || kind.is_pax_local_extensions() {
            let what = if kind.is_gnu_longname() {
                "GNU long name"
            } else {
                "PAX extended header"
            };
            if size > limits.max_extension_bytes {
                return Err(format!(
                    "archive has a {what} of {size} bytes, more than {} (max_extension_bytes)",
                    limits.max_extension_bytes
                ));
            }
            let slot = if kind.is_gnu_longname() {
                &mut pending.long_name
            } else {
                &mut pending.pax
            };
            if slot.is_some() {
                return Err(format!("archive has two {what}s for one entry"));
            }
            let mut data = Vec::new();
            entry
                .by_ref()
                .take(size)
                .read_to_end(&mut data)
                .map_err(read_err)?;
            *slot = Some(data);
            continue;
        }
        if kind.is_gnu_longlink() || kind.is_pax_global_extensions() {
            return Err(format!(
                "archive has a {kind:?} header: only regular files and directories are allowed"
            ));
        }
        let pending = std::mem::take(&mut pending);
        let path_bytes = entry_path(&entry, &pending, size)?;
        let path = PathBuf::from(String::from_utf8_lossy(&path_bytes).into_owned());
        let rel = safe_relative(&path)?;
        let at = |e: std::io::Error| format!("{}: {e}", path.display());
        match kind {
            tar::EntryType::Directory => {
                if size != 0 {
                    return Err(format!(
                        "directory entry {} has a {size} byte payload",
                        path.display()
                    ));
                }
                sink.directory(&rel).map_err(at)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(size);
                if total > limits.max_unpacked_bytes {
                    return Err(format!(
                        "archive unpacks to more than {} bytes (max_unpacked_bytes, at {})",
                        limits.max_unpacked_bytes,
                        path.display()
                    ));
                }
                // A mode that does not parse is not executable: the mode is not checked
                // otherwise, so it must not make an archive fail.
                let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                let written = sink
                    .file(&rel, executable, &mut entry.by_ref().take(size))
                    .map_err(at)?;
                if written != size {
                    return Err(format!("entry {} is truncated", path.display()));
                }
            }
            other => {
                return Err(format!(
                    "entry {} is a {other:?}: only regular files and directories are allowed",
                    path.display()
                ));
            }
        }
    }
    if pending.long_name.is_some() || pending.pax.is_some() {
        return Err("archive ends with an extension header that describes no entry".into());
    }
    Ok(total)
}

/// The path of an entry: a GNU long name, else a PAX `path`, else the header's own. A PAX
/// `size` must agree with the header (readers that honour it would see a different archive).
fn entry_path<R: Read>(
    entry: &tar::Entry<'_, R>,
    pending: &Pending,
    size: u64,
) -> Result<Vec<u8>, String> {
    let mut path = None;
    if let Some(pax) = &pending.pax {
        for ext in tar::PaxExtensions::new(pax) {
            let ext = ext.map_err(|e| format!("reading PAX extended header: {e}"))?;
            match ext.key_bytes() {
                b"path" => path = Some(ext.value_bytes().to_vec()),
                b"size" => {
                    let claimed = std::str::from_utf8(ext.value_bytes())
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok());
                    if claimed != Some(size) {
                        return Err("PAX size record disagrees with the entry header".to_string());
                    }
                }
                b"linkpath" => {
                    return Err("PAX linkpath record: links are not allowed".to_string());
                }
                _ => {}
            }
        }
    }
    if let Some(long) = &pending.long_name {
        let end = long.iter().position(|b| *b == 0).unwrap_or(long.len());
        path = Some(long[..end].to_vec());
    }
    Ok(match path {
        Some(p) => p,
        None => entry.path_bytes().into_owned(),
    })
}

/// Longest entry path accepted, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Deepest entry path accepted, in components. Readers that keep every folder of a path
/// (the in-memory reader does) would otherwise turn one long path into thousands of entries.
pub const MAX_PATH_DEPTH: usize = 256;

fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    if path.as_os_str().len() > MAX_PATH_BYTES {
        return Err(format!(
            "entry path of {} bytes is longer than {MAX_PATH_BYTES}",
            path.as_os_str().len()
        ));
    }
    if path.components().count() > MAX_PATH_DEPTH {
        return Err(format!(
            "entry {} is more than {MAX_PATH_DEPTH} folders deep",
            path.display()
        ));
    }
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

    #[test]
    fn overlong_and_overdeep_paths_are_refused_by_both_readers() {
        let deep = vec!["d"; MAX_PATH_DEPTH + 1].join("/");
        let long = format!("{}/f", "x".repeat(MAX_PATH_BYTES));
        for path in [deep, long] {
            let bytes = pack(vec![FileEntry {
                path: path.clone(),
                executable: false,
                contents: b"x".to_vec(),
            }]);
            let bytes = bytes.expect("packed");
            let err = read(&bytes, Limits::default()).expect_err("refused");
            assert!(err.contains("deep") || err.contains("longer"), "{err}");
            let dir = tempfile::tempdir().expect("tmp");
            let err =
                unpack(&bytes, &dir.path().join("out"), Limits::default()).expect_err("refused");
            assert!(err.contains("deep") || err.contains("longer"), "{err}");
        }
    }

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
    fn read_returns_entries_in_archive_order() -> Result<(), String> {
        let bytes = pack(vec![
            FileEntry {
                path: "bin/run.sh".into(),
                executable: true,
                contents: b"#!/bin/sh".to_vec(),
            },
            FileEntry {
                path: "a.yaml".into(),
                executable: false,
                contents: b"a: 1".to_vec(),
            },
        ])
        .map_err(|e| e.to_string())?;
        let entries = read(&bytes, Limits::default())?;
        assert_eq!(
            entries,
            [
                Entry {
                    path: "a.yaml".into(),
                    kind: EntryKind::File {
                        contents: b"a: 1".to_vec(),
                        executable: false
                    }
                },
                Entry {
                    path: "bin".into(),
                    kind: EntryKind::Directory
                },
                Entry {
                    path: "bin/run.sh".into(),
                    kind: EntryKind::File {
                        contents: b"#!/bin/sh".to_vec(),
                        executable: true
                    }
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn read_normalises_dot_components() -> Result<(), String> {
        let mut raw = Vec::new();
        push(&mut raw, "./dir/./a.yaml", tar::EntryType::Regular, b"x");
        end(&mut raw);
        let entries = read(&gz(&raw), Limits::default())?;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "dir/a.yaml");
        Ok(())
    }

    #[test]
    fn read_refuses_what_unpack_refuses() {
        let limits = Limits {
            max_unpacked_bytes: 1024,
            ..Limits::default()
        };
        let mut huge_pax = Vec::new();
        push(
            &mut huge_pax,
            "././@PaxHeader",
            tar::EntryType::XHeader,
            &vec![b'a'; 128 << 10],
        );
        push(&mut huge_pax, "a.yaml", tar::EntryType::Regular, b"x");
        end(&mut huge_pax);
        let mut trailing = Vec::new();
        push(&mut trailing, "a.yaml", tar::EntryType::Regular, b"a");
        end(&mut trailing);
        let mut concatenated = gz(&trailing);
        concatenated.extend(gz(&trailing));
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
            (
                raw_tar(&[("big", tar::EntryType::Regular, &[0u8; 2048])]),
                "more than 1024 bytes",
            ),
            (gz(&huge_pax), "max_extension_bytes"),
            (concatenated, "after the end of the first gzip member"),
        ];
        for (bytes, needle) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let from_disk =
                unpack(&bytes, &dir.path().join("out"), limits).expect_err("unpack accepted");
            let from_memory = read(&bytes, limits).expect_err("read accepted");
            assert!(from_memory.contains(needle), "{from_memory}");
            assert_eq!(from_memory, from_disk);
        }
        let oversize_archive = Limits {
            max_archive_bytes: 10,
            ..Limits::default()
        };
        let err = read(&trailing, oversize_archive).expect_err("max_archive_bytes");
        assert!(err.contains("max_archive_bytes"), "{err}");
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

    /// One raw tar header block (ustar) for `name`, `kind` and `size`.
    fn header(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    /// Appends an entry (header, payload, padding) to a raw tar stream.
    fn push(tar: &mut Vec<u8>, name: &str, kind: tar::EntryType, body: &[u8]) {
        tar.extend(header(name, kind, body.len() as u64));
        tar.extend_from_slice(body);
        tar.resize(tar.len().next_multiple_of(512), 0);
    }

    fn end(tar: &mut Vec<u8>) {
        tar.resize(tar.len() + 1024, 0);
    }

    fn gz(raw: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(raw).expect("gzip");
        e.finish().expect("gzip")
    }

    fn unpack_err(bytes: &[u8], limits: Limits) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        unpack(bytes, &dir.path().join("out"), limits).expect_err("hostile archive accepted")
    }

    #[test]
    fn a_huge_pax_header_fails_fast_without_being_read() {
        // A PAX extended header of 100 MiB (highly compressible): the tar crate would read it
        // whole into memory before any of our limits applied.
        let size: u64 = 100 << 20;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        {
            use std::io::Write as _;
            e.write_all(&header("././@PaxHeader", tar::EntryType::XHeader, size))
                .expect("gzip");
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..100 {
                e.write_all(&chunk).expect("gzip");
            }
            let mut rest = Vec::new();
            push(&mut rest, "a.yaml", tar::EntryType::Regular, b"x");
            end(&mut rest);
            e.write_all(&rest).expect("gzip");
        }
        let bytes = e.finish().expect("gzip");
        let started = std::time::Instant::now();
        let err = unpack_err(&bytes, Limits::default());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
        assert!(err.contains("max_extension_bytes"), "{err}");
        assert!(err.contains("104857600 bytes"), "{err}");
    }

    #[test]
    fn a_long_gnu_name_is_capped() {
        let mut raw = Vec::new();
        push(
            &mut raw,
            "././@LongLink",
            tar::EntryType::GNULongName,
            &vec![b'a'; 1 << 20],
        );
        push(&mut raw, "short", tar::EntryType::Regular, b"x");
        end(&mut raw);
        let err = unpack_err(&gz(&raw), Limits::default());
        assert!(
            err.contains("GNU long name") && err.contains("max_extension_bytes"),
            "{err}"
        );
    }

    #[test]
    fn long_names_within_the_cap_still_unpack() -> Result<(), String> {
        let long = format!("{0}/{0}/{0}/file.yaml", "d".repeat(120));
        let bytes = pack(vec![FileEntry {
            path: long.clone(),
            executable: false,
            contents: b"x".to_vec(),
        }])
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        unpack(&bytes, &dir.path().join("out"), Limits::default())?;
        assert!(dir.path().join("out").join(long).is_file());
        Ok(())
    }

    #[test]
    fn directory_payloads_are_refused() {
        let mut raw = Vec::new();
        push(
            &mut raw,
            "dir/",
            tar::EntryType::Directory,
            &vec![7u8; 4096],
        );
        end(&mut raw);
        let err = unpack_err(&gz(&raw), Limits::default());
        assert!(
            err.contains("directory entry dir") && err.contains("payload"),
            "{err}"
        );
    }

    #[test]
    fn every_decompressed_byte_counts() {
        // Many PAX headers, each under the per-extension cap: file contents are tiny, but the
        // decompressed stream is not.
        let value = "c".repeat(32 << 10);
        let body = format!("{} comment={value}\n", value.len() + 15);
        assert!(tar::PaxExtensions::new(body.as_bytes()).all(|e| e.is_ok()));
        let mut raw = Vec::new();
        for _ in 0..64 {
            push(
                &mut raw,
                "././@PaxHeader",
                tar::EntryType::XHeader,
                body.as_bytes(),
            );
            push(&mut raw, "x", tar::EntryType::Regular, b"x");
        }
        end(&mut raw);
        let limits = Limits {
            max_unpacked_bytes: 1 << 20,
            max_metadata_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = unpack_err(&gz(&raw), limits);
        assert!(
            err.contains("decompresses to more than 2097152 bytes"),
            "{err}"
        );
    }

    #[test]
    fn data_after_the_first_gzip_member_is_refused() {
        let mut first = Vec::new();
        push(&mut first, "a.yaml", tar::EntryType::Regular, b"a");
        end(&mut first);
        let mut second = Vec::new();
        push(&mut second, "hidden.yaml", tar::EntryType::Regular, b"b");
        end(&mut second);
        let mut bytes = gz(&first);
        bytes.extend(gz(&second));
        let err = unpack_err(&bytes, Limits::default());
        assert!(
            err.contains("after the end of the first gzip member"),
            "{err}"
        );
        let mut junk = gz(&first);
        junk.extend_from_slice(b"trailing");
        let err = unpack_err(&junk, Limits::default());
        assert!(
            err.contains("after the end of the first gzip member"),
            "{err}"
        );
        // Non-zero bytes after the end-of-archive marker, inside the member.
        let mut hidden = first.clone();
        push(&mut hidden, "after-end.yaml", tar::EntryType::Regular, b"c");
        let err = unpack_err(&gz(&hidden), Limits::default());
        assert!(err.contains("after the tar end-of-archive marker"), "{err}");
    }

    #[test]
    fn a_size_claimed_by_a_header_is_never_allocated() {
        // A regular file whose header claims 400 MiB but whose data stops after a few bytes:
        // the old code reserved the claimed size up front.
        let mut raw = header("big", tar::EntryType::Regular, 400 << 20);
        raw.extend_from_slice(b"short");
        let started = std::time::Instant::now();
        let err = unpack_err(&gz(&raw), Limits::default());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(err.contains("big"), "{err}");
    }
}
