//! Reading a chart archive (`.tgz`) into memory, safely.
//!
//! The rules are Helm's (`LoadArchiveFiles`): the first path component of every entry is the
//! chart's folder and is dropped, directories and PAX headers are skipped, absolute paths,
//! `..` and drive letters are refused, a `Chart.yaml` outside the folder is refused. On top,
//! as `weir-shared`'s untar does for artifacts (this crate may not depend on it): links and
//! special files are refused, and every decompressed byte counts against [`Limits`], so that
//! neither a gzip bomb nor a million empty entries gets through.

use std::io::Read;

use flate2::read::GzDecoder;

use super::File;

/// Size limits for one archive (subchart archives inside it share the same budget only in
/// the sense that each is checked with the same limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Compressed size.
    pub max_archive_bytes: u64,
    /// Sum of file contents after decompression (Helm: 100 MiB).
    pub max_unpacked_bytes: u64,
    /// Decompressed bytes in all (headers, padding, extensions, contents).
    pub max_stream_bytes: u64,
    /// Tar headers, extension headers included.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 100 << 20,
            max_unpacked_bytes: 100 << 20,
            max_stream_bytes: 228 << 20,
            max_entries: 50_000,
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
        let room = self.limit.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(format!(
                "decompressed chart is larger than the maximum size {}",
                self.limit
            )));
        }
        Ok(n)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The files of a chart archive, names relative to the chart folder, in archive order.
///
/// # Errors
/// Helm's messages for bad paths (`chart illegally references parent directory`, ...),
/// `decompressed chart is larger than the maximum size N` past the limits, and a message
/// naming the entry for links and special files.
pub fn read_archive(bytes: &[u8], limits: Limits) -> Result<Vec<File>, String> {
    if bytes.len() as u64 > limits.max_archive_bytes {
        return Err(format!(
            "chart archive is larger than the maximum size {}",
            limits.max_archive_bytes
        ));
    }
    if !bytes.starts_with(b"\x1F\x8B") {
        return Err("gzip: invalid header".into());
    }
    let reader = Counted {
        inner: GzDecoder::new(bytes),
        read: 0,
        limit: limits.max_stream_bytes,
    };
    let mut archive = tar::Archive::new(reader);
    let mut files = Vec::new();
    let mut remaining = limits.max_unpacked_bytes;
    let mut entries_seen = 0u64;
    let entries = archive.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(format!(
                "chart archive has more than {} entries",
                limits.max_entries
            ));
        }
        let mut entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.header().entry_type();
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(format!(
                "chart archive entry {raw_name:?} is not a regular file (links and special files are refused)"
            ));
        }
        let name = entry_name(&raw_name)?;
        let size = entry.header().size().map_err(|e| e.to_string())?;
        if size > remaining {
            return Err(format!(
                "decompressed chart is larger than the maximum size {}",
                limits.max_unpacked_bytes
            ));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(remaining)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        remaining -= data.len() as u64;
        if (data.len() as u64) < size {
            return Err(format!("unexpected end of archive in entry {raw_name:?}"));
        }
        if let Some(rest) = data.strip_prefix(BOM) {
            data = rest.to_vec();
        }
        files.push(File { name, data });
    }
    if files.is_empty() {
        return Err("no files in chart archive".into());
    }
    Ok(files)
}

/// An entry's name inside the chart folder, checked as Helm checks it.
fn entry_name(raw: &str) -> Result<String, String> {
    let delimiter = if raw.contains('\\') { '\\' } else { '/' };
    let parts: Vec<&str> = raw.split(delimiter).collect();
    if parts.first() == Some(&"Chart.yaml") {
        return Err("chart yaml not in base directory".into());
    }
    let joined = parts.get(1..).unwrap_or_default().join("/");
    if joined.starts_with('/') {
        return Err(format!("chart illegally contains absolute paths: {raw:?}"));
    }
    let cleaned = clean(&joined);
    if cleaned == "." {
        return Err(format!(
            "chart illegally contains content outside the base directory: {raw:?}"
        ));
    }
    if cleaned.starts_with("..") {
        return Err(format!(
            "chart illegally references parent directory: {raw:?}"
        ));
    }
    let b = cleaned.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return Err(format!("chart contains illegally named files: {raw:?}"));
    }
    Ok(cleaned)
}

/// Go's `path.Clean` for relative paths.
pub(crate) fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A gzip tar with the given (path, contents, type) entries.
    pub(crate) fn tgz(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Write names byte for byte so that hostile names reach the reader unchanged.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).expect("append");
        }
        let tar = builder.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).expect("gzip");
        gz.finish().expect("gzip")
    }

    const F: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn strips_the_chart_folder_and_bom() {
        let bytes = tgz(&[
            ("c/Chart.yaml", b"name: c", F),
            ("c/templates/a.yaml", b"\xEF\xBB\xBFa: 1", F),
        ]);
        let files = read_archive(&bytes, Limits::default()).expect("reads");
        assert_eq!(files[0].name, "Chart.yaml");
        assert_eq!(files[1].name, "templates/a.yaml");
        assert_eq!(files[1].data, b"a: 1");
    }

    #[test]
    fn refuses_paths_helm_refuses() {
        let cases: &[(&str, &str)] = &[
            (
                "c/../../etc/x",
                "chart illegally references parent directory: \"c/../../etc/x\"",
            ),
            (
                "c//etc/x",
                "chart illegally contains absolute paths: \"c//etc/x\"",
            ),
            ("Chart.yaml", "chart yaml not in base directory"),
            ("c/C:/x", "chart contains illegally named files: \"c/C:/x\""),
            (
                "c/.",
                "chart illegally contains content outside the base directory: \"c/.\"",
            ),
        ];
        for (path, want) in cases {
            let bytes = tgz(&[(path, b"x", F)]);
            assert_eq!(
                read_archive(&bytes, Limits::default()).expect_err("fails"),
                *want,
                "{path}"
            );
        }
    }

    #[test]
    fn refuses_links_and_oversize() {
        let bytes = tgz(&[("c/l", b"", tar::EntryType::Symlink)]);
        assert!(
            read_archive(&bytes, Limits::default())
                .expect_err("fails")
                .contains("not a regular file")
        );
        let big = vec![b'a'; 2000];
        let bytes = tgz(&[("c/a", &big, F)]);
        let limits = Limits {
            max_unpacked_bytes: 1000,
            ..Limits::default()
        };
        assert_eq!(
            read_archive(&bytes, limits).expect_err("fails"),
            "decompressed chart is larger than the maximum size 1000"
        );
        let limits = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        let bytes = tgz(&[("c/a", b"", F), ("c/b", b"", F)]);
        assert!(
            read_archive(&bytes, limits)
                .expect_err("fails")
                .contains("entries")
        );
        assert_eq!(
            read_archive(b"not gzip", Limits::default()).expect_err("fails"),
            "gzip: invalid header"
        );
    }
}
