//! The Kustomize engine over an in-memory tree. The input is split at NUL bytes into
//! `kustomization.yaml`, `resource.yaml`, `patch.yaml` and `base/kustomization.yaml`, so a
//! kustomization can list the resource, patch it (strategic merge or JSON 6902, through
//! `patches:` or the legacy fields) and build on a base. Any tree must build or fail with an
//! error; the first byte of `kustomization.yaml` being `#` turns on synthesis for a tree
//! without one.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use weir_kustomize::MemoryFs;

const FILES: [&str; 4] = [
    "kustomization.yaml",
    "resource.yaml",
    "patch.yaml",
    "base/kustomization.yaml",
];

fuzz_target!(|data: &[u8]| {
    let parts = weir_fuzz::split_text(data, FILES.len());
    let mut fs = MemoryFs::new();
    for (name, text) in FILES.iter().zip(&parts) {
        if !text.is_empty() {
            fs.insert(name, text.as_bytes()).unwrap();
        }
    }
    let synthesize = parts[0].is_empty();
    let _ = weir_kustomize::build_in(&fs, Path::new(""), None, synthesize);
});
