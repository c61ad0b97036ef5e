//! Inputs the engine refuses on purpose, with an error naming the field or entry and the
//! file — never silently ignored.

use std::path::Path;

use weir_kustomize::build;

fn build_tree(files: &[(&str, &str)]) -> Result<usize, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (path, body) in files {
        let full = dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&full, body).map_err(|e| e.to_string())?;
    }
    build(dir.path(), dir.path())
        .map(|r| r.len())
        .map_err(|e| e.to_string())
}

fn refused(kustomization: &str) -> String {
    build_tree(&[("kustomization.yaml", kustomization)]).expect_err("must be refused")
}

#[test]
fn plugins_helm_and_remote_bases_are_refused_with_the_field_and_file() {
    let cases = [
        ("helmCharts:\n- name: x\n", "\"helmCharts\""),
        (
            "transformers:\n- |-\n  apiVersion: example.com/v1\n  kind: Exec\n  metadata: {name: e}\n",
            "code-running plugins are not supported",
        ),
        (
            "generators:\n- |-\n  apiVersion: fn.example.com/v1\n  kind: Render\n  metadata: {name: r}\n",
            "code-running plugins are not supported",
        ),
        (
            "resources:\n- https://github.com/org/repo//deploy?ref=v1\n",
            "remote resource",
        ),
        (
            "resources:\n- github.com/org/repo/deploy\n",
            "remote resource",
        ),
        (
            "components:\n- git@github.com:org/repo.git\n",
            "remote component",
        ),
    ];
    for (k, needle) in cases {
        let err = refused(k);
        assert!(err.contains(needle), "{k:?}: {err}");
        assert!(
            err.starts_with("kustomization.yaml:"),
            "names the file: {err}"
        );
    }
}

#[test]
fn absolute_paths_and_symlink_escapes_are_refused() {
    let err = refused("resources:\n- /etc/passwd\n");
    assert!(err.contains("absolute paths are not allowed"), "{err}");

    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path().join("cm.yaml"), dir.path().join("link.yaml"))
        .expect("symlink");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- link.yaml\n",
    )
    .expect("write");
    let err = build(dir.path(), dir.path())
        .expect_err("escape")
        .to_string();
    assert!(err.contains("outside the build root"), "{err}");
    assert!(Path::new(&outside.path().join("cm.yaml")).exists());
}

#[test]
fn a_component_under_resources_and_a_kustomization_under_components_are_refused() {
    let err = build_tree(&[
        ("kustomization.yaml", "resources:\n- comp\n"),
        ("comp/kustomization.yaml", "kind: Component\n"),
    ])
    .expect_err("component as resource");
    assert!(err.contains("is a Component"), "{err}");
    let err = build_tree(&[
        ("kustomization.yaml", "components:\n- base\n"),
        ("base/kustomization.yaml", "resources: []\n"),
    ])
    .expect_err("kustomization as component");
    assert!(err.contains("not Component"), "{err}");
}

#[test]
fn malformed_kustomization_yaml_reports_line_and_column() {
    let err = refused("resources:\n  - a.yaml\n bad: [\n");
    assert!(err.contains("malformed YAML: line"), "{err}");
}
