//! The engine over files in memory: the same overlay built through `MemoryFs` and `DiskFs`
//! gives identical output, and the in-memory tree has the same confinement as the disk.

use std::path::Path;

use weir_kustomize::{BuildError, DiskFs, MemoryFs, build_in};

const OVERLAY: &[(&str, &str)] = &[
    (
        "base/kustomization.yaml",
        "resources:\n- deployment.yaml\nconfigMapGenerator:\n- name: settings\n  envs:\n  - settings.env\n",
    ),
    (
        "base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        envFrom:\n        - configMapRef:\n            name: settings\n",
    ),
    ("base/settings.env", "MODE=dev\n"),
    (
        "components/probe/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: probe.yaml\n",
    ),
    (
        "components/probe/probe.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        readinessProbe:\n          httpGet:\n            path: /ready\n            port: 8080\n",
    ),
    (
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\ncomponents:\n- ../../components/probe\nnamespace: prod\nnamePrefix: prod-\nimages:\n- name: nginx\n  newTag: \"1.27\"\nbuildMetadata: [originAnnotations]\n",
    ),
];

fn memory(files: &[(&str, &str)]) -> MemoryFs {
    MemoryFs::from_files(files.iter().map(|(p, b)| (*p, b.as_bytes()))).expect("valid paths")
}

fn on_disk(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, body) in files {
        let full = dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(full, body).expect("write");
    }
    dir
}

#[test]
fn memory_and_disk_build_the_same_overlay_identically() {
    let dir = on_disk(OVERLAY);
    let disk = DiskFs::new(dir.path()).expect("root exists");
    let from_disk =
        build_in(&disk, &dir.path().join("overlays/prod"), None, false).expect("builds from disk");
    let from_memory = build_in(&memory(OVERLAY), Path::new("overlays/prod"), None, false)
        .expect("builds from memory");
    assert_eq!(
        weir_yaml::to_string_multi(&from_memory),
        weir_yaml::to_string_multi(&from_disk)
    );
    assert_eq!(from_memory.len(), 2);
    let text = weir_yaml::to_string_multi(&from_memory);
    assert!(text.contains("name: prod-settings-"), "{text}");
    assert!(
        text.contains("image: nginx:1.27") && text.contains("path: /ready"),
        "{text}"
    );
}

#[test]
fn synthesized_builds_agree_too() {
    let files = [
        (
            "apps/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        ),
        ("apps/notes.yaml", "just: data\n"),
        (
            "apps/nested/b.yml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n",
        ),
    ];
    let dir = on_disk(&files);
    let disk = DiskFs::new(dir.path()).expect("root exists");
    let from_disk = build_in(&disk, &dir.path().join("apps"), None, true).expect("disk");
    let from_memory = build_in(&memory(&files), Path::new("apps"), None, true).expect("memory");
    assert_eq!(from_memory, from_disk);
    assert_eq!(from_memory.len(), 2);
}

fn refused(files: &[(&str, &str)], dir: &str) -> BuildError {
    build_in(&memory(files), Path::new(dir), None, false).expect_err("must be refused")
}

#[test]
fn memory_refuses_dot_dot_escapes() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    let err = refused(
        &[("kustomization.yaml", "resources:\n- ../outside.yaml\n")],
        "",
    );
    assert!(err.message.contains("outside the build root"), "{err}");
    let err = refused(
        &[
            ("app/kustomization.yaml", "resources:\n- ../../base\n"),
            ("base/cm.yaml", cm),
        ],
        "app",
    );
    assert!(err.message.contains("outside the build root"), "{err}");
    let err = refused(
        &[(
            "kustomization.yaml",
            "configMapGenerator:\n- name: x\n  files:\n  - ../../etc/passwd\n",
        )],
        "",
    );
    assert!(err.to_string().contains("outside the build root"), "{err}");
    let err = build_in(&memory(&[("a/cm.yaml", cm)]), Path::new(".."), None, false)
        .expect_err("the kustomization itself is outside");
    assert!(err.message.contains("outside the build root"), "{err}");
}

#[test]
fn patches_must_stay_below_their_kustomization_in_memory_as_on_disk() {
    let files = [
        (
            "shared/patch.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        ),
        (
            "app/kustomization.yaml",
            "resources:\n- cm.yaml\npatches:\n- path: ../shared/patch.yaml\n",
        ),
        (
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        ),
    ];
    let dir = on_disk(&files);
    let disk = DiskFs::new(dir.path()).expect("root exists");
    let from_disk =
        build_in(&disk, &dir.path().join("app"), None, false).expect_err("refused on disk");
    let from_memory = refused(&files, "app");
    assert_eq!(from_memory, from_disk);
    assert!(
        from_memory.message.contains("is not in or below"),
        "{from_memory}"
    );
}
