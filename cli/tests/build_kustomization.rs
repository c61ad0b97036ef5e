//! `weir build kustomization` end to end through the real binary.

use std::process::Command;

fn weir(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("running weir")
}

/// A Git work tree with `base/` and `overlay/` (which names `../base`).
fn tree() -> tempfile::TempDir {
    let dir = plain_tree();
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("git init");
    assert!(init.success());
    dir
}

/// [`tree`] outside any Git work tree.
fn plain_tree() -> tempfile::TempDir {
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

const PROD_CM: &str =
    "apiVersion: v1\ndata:\n  \"on\": \"on\"\nkind: ConfigMap\nmetadata:\n  name: prod-cm\n";

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_default_root_is_the_work_tree_of_path_from_any_directory() {
    let dir = tree();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let overlay = dir.path().join("overlay");
    let base = dir.path().join("base");
    let absolute = overlay.display().to_string();
    // (cwd, PATH) pairs kubectl accepts: absolute, relative from elsewhere, `.`, `..`-laden.
    let relative = format!("{}/overlay", pathdiff(elsewhere.path(), dir.path()));
    let cases: Vec<(&std::path::Path, &str)> = vec![
        (elsewhere.path(), absolute.as_str()),
        (std::path::Path::new("/"), absolute.as_str()),
        (elsewhere.path(), relative.as_str()),
        (overlay.as_path(), "."),
        (base.as_path(), "../overlay"),
    ];
    for (cwd, path) in cases {
        let out = weir(&["build", "kustomization", path], cwd);
        assert_eq!(ok(&out), PROD_CM, "from {} with {path}", cwd.display());
    }
}

/// `to` relative to `from` (both absolute), with `..`.
fn pathdiff(from: &std::path::Path, to: &std::path::Path) -> String {
    let from = from.canonicalize().expect("exists");
    let to = to.canonicalize().expect("exists");
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    parts.join("/")
}

#[test]
fn outside_a_work_tree_bases_may_live_anywhere_unless_a_root_is_given() {
    let dir = plain_tree();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let overlay = dir.path().join("overlay").display().to_string();
    // As with kubectl: `../base` outside any Git work tree builds.
    let out = weir(&["build", "kustomization", &overlay], elsewhere.path());
    assert_eq!(ok(&out), PROD_CM);
    // An explicit root confines the build.
    let root = dir.path().join("overlay").display().to_string();
    let out = weir(
        &["build", "kustomization", &overlay, "--root", &root],
        elsewhere.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside the build root"), "{err}");
    let base = dir.path().join("base").display().to_string();
    let out = weir(&["build", "kustomization", &base], elsewhere.path());
    assert!(ok(&out).contains("name: cm"));
}

#[test]
fn remote_bases_are_fetched_unless_refused() {
    // A `file://` repository: the CLI builds remote bases as kubectl does.
    let repo = tree();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(repo.path())
            .status()
            .expect("git");
        assert!(st.success(), "git {args:?}");
    };
    git(&["add", "."]);
    git(&["commit", "-qm", "init"]);
    git(&["tag", "v1"]);
    let app = plain_tree();
    let entry = format!("file://{}//overlay?ref=v1", repo.path().display());
    std::fs::write(
        app.path().join("overlay/kustomization.yaml"),
        format!("resources:\n- {entry}\nnamePrefix: app-\n"),
    )
    .expect("write");
    let overlay = app.path().join("overlay").display().to_string();
    let out = weir(&["build", "kustomization", &overlay], app.path());
    assert!(ok(&out).contains("name: app-prod-cm"));

    let out = weir(
        &["build", "kustomization", &overlay, "--no-remote-bases"],
        app.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("kustomization.yaml: remote resource {entry:?}"))
            && err.contains("disabled"),
        "{err}"
    );

    std::fs::write(
        app.path().join("overlay/kustomization.yaml"),
        format!(
            "resources:\n- file://{}//overlay?ref=no-such-ref\n",
            repo.path().display()
        ),
    )
    .expect("write");
    let out = weir(&["build", "kustomization", &overlay], app.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no ref \"no-such-ref\""), "{err}");

    // A remote target as PATH, like `kubectl kustomize <url>`.
    let out = weir(&["build", "kustomization", &entry], app.path());
    assert_eq!(ok(&out), PROD_CM);
}
