//! Artifact extraction: any bytes must unpack into the destination or be refused, never
//! panic, and what an accepted archive wrote is regular files and directories below the
//! destination. The size limits are small so that an archive within them cannot reach the
//! runner's memory limit legitimately; the other limits keep their defaults.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_fuzz::untar::{Limits, unpack};

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let limits = Limits {
        max_archive_bytes: 1 << 20,
        max_unpacked_bytes: 8 << 20,
        max_entries: 1_000,
        ..Limits::default()
    };
    if unpack(data, &dest, limits).is_ok() {
        for entry in walk(tmp.path()) {
            assert!(entry.starts_with(&dest), "{} escaped", entry.display());
            let meta = std::fs::symlink_metadata(&entry).unwrap();
            assert!(
                !meta.file_type().is_symlink(),
                "{} is a link",
                entry.display()
            );
        }
    }
});

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
