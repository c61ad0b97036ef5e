//! `weir build kustomization` on hostile trees, through the real binary under a 1 GiB
//! address-space cap: each fails with exit code 1 and an error naming the problem on stderr
//! — never a signal or an abort — within a few seconds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SECRET: &str = "hunter2-TOPSECRET";

fn write(root: &Path, path: &str, body: &str) {
    let full = root.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(full, body).expect("write");
}

/// `weir build kustomization <dir> --root <root>` under a 1 GiB address-space cap and a
/// 30-second `timeout`.
fn capped(root: &Path, dir: &Path) -> std::process::Output {
    // `timeout` kills a hang, which then fails the exit-code assertions.
    Command::new("timeout")
        .args(["--signal=KILL", "30", "prlimit"])
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_weir"))
        .args(["build", "kustomization"])
        .arg(dir)
        .arg("--root")
        .arg(root)
        .output()
        .expect("running timeout and prlimit (coreutils, util-linux)")
}

/// Runs `weir build kustomization <dir> --root <root>` under `prlimit --as=1GiB` (and a
/// 30-second `timeout`) and returns stderr, asserting exit code 1 within 10 seconds.
fn fails(root: &Path, dir: &Path) -> String {
    let started = Instant::now();
    let out = capped(root, dir);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "not a clean failure: {:?}: {stderr}",
        out.status
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "too slow: {stderr}"
    );
    assert!(out.stdout.is_empty());
    stderr
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";

#[test]
fn a_thousand_nested_kustomizations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut path = String::new();
    for _ in 0..1000 {
        write(
            dir.path(),
            &format!("{path}kustomization.yaml"),
            "resources: [d]\n",
        );
        path.push_str("d/");
    }
    write(
        dir.path(),
        &format!("{path}kustomization.yaml"),
        "resources: [cm.yaml]\n",
    );
    write(dir.path(), &format!("{path}cm.yaml"), CM);
    let err = fails(dir.path(), dir.path());
    assert!(
        err.contains("nested more than 100 deep (MAX_DEPTH)"),
        "{err}"
    );
}

#[test]
fn an_exponential_graph() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "l0/kustomization.yaml",
        "resources: [cm.yaml]\n",
    );
    write(dir.path(), "l0/cm.yaml", CM);
    for i in 1..=30 {
        write(
            dir.path(),
            &format!("l{i}/kustomization.yaml"),
            "resources: [a, b]\n",
        );
        for p in ["a", "b"] {
            write(
                dir.path(),
                &format!("l{i}/{p}/kustomization.yaml"),
                &format!("namePrefix: {p}-\nresources: [../../l{}]\n", i - 1),
            );
        }
    }
    let err = fails(dir.path(), &dir.path().join("l30"));
    assert!(
        err.contains("build limit") && err.contains("max_kustomizations"),
        "{err}"
    );
}

#[test]
fn repeated_json_6902_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ops =
        vec![r#"{"op": "add", "path": "/data", "value": {"x": "0123456789"}}"#.to_string()];
    for i in 0..40 {
        ops.push(format!(
            r#"{{"op": "copy", "from": "/data", "path": "/data/c{i}"}}"#
        ));
    }
    write(
        dir.path(),
        "kustomization.yaml",
        &format!(
            "resources: [cm.yaml]\npatches:\n- target: {{kind: ConfigMap}}\n  patch: '[{}]'\n",
            ops.join(", ")
        ),
    );
    write(dir.path(), "cm.yaml", CM);
    let err = fails(dir.path(), dir.path());
    assert!(
        err.contains("max_bytes") && err.contains("kustomization.yaml"),
        "{err}"
    );
}

#[test]
fn a_huge_replacement_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "kustomization.yaml",
        "resources: [cm.yaml, d.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: cm, fieldPath: metadata.name}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.template.spec.containers.9223372036854775807.image]\n    options: {create: true}\n",
    );
    write(dir.path(), "cm.yaml", CM);
    write(
        dir.path(),
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n",
    );
    let err = fails(dir.path(), dir.path());
    assert!(
        err.contains("index 9223372036854775807 specified but only 1 elements found"),
        "{err}"
    );

    // A delimiter index far past the last part appends one part, as kubectl does, instead
    // of padding the value with 100 billion empty parts.
    write(
        dir.path(),
        "kustomization.yaml",
        "resources: [cm.yaml, d.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: cm, fieldPath: metadata.name}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.template.spec.containers.0.image]\n    options: {delimiter: ':', index: 100000000000}\n",
    );
    let out = capped(dir.path(), dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("image: x:cm\n"));
}

#[test]
fn a_fifo_as_a_resource() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "kustomization.yaml", "resources: [fifo.yaml]\n");
    let status = Command::new("mkfifo")
        .arg(dir.path().join("fifo.yaml"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let err = fails(dir.path(), dir.path());
    assert!(
        err.contains("fifo.yaml") && err.contains("not a regular file"),
        "{err}"
    );
}

#[test]
fn a_kustomization_file_linking_outside_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "secret.yaml", &format!("{SECRET}: 1\n"));
    std::fs::create_dir(dir.path().join("root")).expect("mkdir");
    std::os::unix::fs::symlink(
        dir.path().join("secret.yaml"),
        dir.path().join("root/kustomization.yaml"),
    )
    .expect("symlink");
    let root = dir.path().join("root");
    let err = fails(&root, &root);
    assert!(err.contains("outside the build root"), "{err}");
    assert!(!err.contains(SECRET), "echoes the secret: {err}");
}

#[test]
fn a_billion_laughs_resource() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut doc = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a0: &a0 \"lol\"\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        doc.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    write(dir.path(), "kustomization.yaml", "resources: [cm.yaml]\n");
    write(dir.path(), "cm.yaml", &doc);
    let err = fails(dir.path(), dir.path());
    assert!(err.contains("excessive aliasing"), "{err}");
}

#[test]
fn a_deeply_nested_resource() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(dir.path(), "kustomization.yaml", "resources: [cm.yaml]\n");
    write(dir.path(), "cm.yaml", &doc);
    let err = fails(dir.path(), dir.path());
    assert!(err.contains("depth"), "{err}");
}
