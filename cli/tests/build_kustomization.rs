//! `weir build kustomization` end to end through the real binary.

use std::process::Command;

fn weir(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("running weir")
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base");
    std::fs::create_dir_all(&base).expect("mkdir");
    std::fs::write(base.join("kustomization.yaml"), "resources:\n- cm.yaml\n").expect("write");
    std::fs::write(
        base.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  on: on\n",
    )
    .expect("write");
    let overlay = dir.path().join("overlay");
    std::fs::create_dir_all(&overlay).expect("mkdir");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "namePrefix: prod-\nresources:\n- ../base\n",
    )
    .expect("write");
    dir
}

#[test]
fn prints_yaml_on_stdout() {
    let dir = tree();
    let out = weir(&["build", "kustomization", "overlay"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "apiVersion: v1\ndata:\n  \"on\": \"on\"\nkind: ConfigMap\nmetadata:\n  name: prod-cm\n"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn prints_a_json_list_with_dash_o_json() {
    let dir = tree();
    let out = weir(
        &["build", "kustomization", "overlay", "-o", "json"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["metadata"]["name"], "prod-cm");
    assert_eq!(list[0]["data"]["on"], "on");
}

#[test]
fn errors_go_to_stderr_with_a_non_zero_exit() {
    let dir = tree();
    std::fs::write(
        dir.path().join("overlay/kustomization.yaml"),
        "resources:\n- missing.yaml\n",
    )
    .expect("write");
    let out = weir(&["build", "kustomization", "overlay"], dir.path());
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.yaml") && err.contains("overlay/kustomization.yaml"),
        "{err}"
    );
}
