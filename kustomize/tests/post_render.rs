//! `build_resources`, the post-renderer entry point: a list of rendered objects plus a
//! kustomization that lists no resources must build exactly as `kubectl kustomize` builds the
//! same kustomization with those objects written to a file it lists.
//!
//! Fixture `tests/post-render/`: `objects.yaml` (the rendered objects), `kustomization.yaml`
//! (no `resources`), `limits-patch.yaml` (a patch file it names), and `expected.yaml`, what
//! kubectl v1.32 printed. A second test re-runs kubectl (skip with WEIR_SKIP_KUBECTL=1).

use std::path::{Path, PathBuf};
use std::process::Command;

use weir_kustomize::{DiskFs, MemoryFs, build_resources, kustomization};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/post-render")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture().join(name))
        .unwrap_or_else(|e| panic!("reading post-render/{name}: {e}"))
}

fn objects() -> Vec<serde_json::Value> {
    weir_yaml::from_str_multi(&read("objects.yaml")).expect("objects.yaml is valid YAML")
}

fn kustomization() -> kustomization::Kustomization {
    kustomization::parse(Path::new("kustomization.yaml"), &read("kustomization.yaml"))
        .expect("a valid kustomization")
}

#[test]
fn rendered_objects_build_like_a_kustomization_listing_them() {
    let fs = MemoryFs::from_files([("limits-patch.yaml", read("limits-patch.yaml").as_bytes())])
        .expect("valid path");
    let out = build_resources(objects(), &kustomization(), &fs).expect("builds");
    assert_eq!(weir_yaml::to_string_multi(&out), read("expected.yaml"));

    let disk = DiskFs::new(&fixture()).expect("fixture exists");
    let from_disk = build_resources(objects(), &kustomization(), &disk).expect("builds");
    assert_eq!(from_disk, out, "patch files read from disk or memory alike");
}

#[test]
fn objects_without_a_name_or_twice_the_same_are_refused() {
    let fs = MemoryFs::new();
    let k = kustomization::Kustomization::default();
    let unnamed = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"});
    let err = build_resources(vec![unnamed], &k, &fs).expect_err("no name");
    assert!(err.message.contains("missing metadata.name"), "{err}");
    let cm =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let err = build_resources(vec![cm.clone(), cm], &k, &fs).expect_err("duplicate");
    assert!(err.message.contains("already registered id"), "{err}");
}

#[test]
fn patch_files_outside_the_tree_are_refused() {
    let fs = MemoryFs::new();
    let k = kustomization::parse(
        Path::new("kustomization.yaml"),
        "patches:\n- path: ../secret.yaml\n",
    )
    .expect("valid");
    let err = build_resources(objects(), &k, &fs).expect_err("outside");
    assert!(err.message.contains("outside the build root"), "{err}");
}

/// The recorded expectation is what the real kubectl prints for the same objects listed as a
/// file resource.
#[test]
fn expectation_is_what_kubectl_prints() {
    if std::env::var_os("WEIR_SKIP_KUBECTL").is_some() {
        eprintln!("WEIR_SKIP_KUBECTL is set: not re-checking against kubectl");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["objects.yaml", "limits-patch.yaml"] {
        std::fs::write(dir.path().join(name), read(name)).expect("write");
    }
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("{}resources:\n- objects.yaml\n", read("kustomization.yaml")),
    )
    .expect("write");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("running kubectl (or set WEIR_SKIP_KUBECTL=1): {e}"));
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), read("expected.yaml"));
}
