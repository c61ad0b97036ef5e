//! Trees written by an attacker who can push to a watched repository: each must fail with
//! an error naming the file — never overflow the controller's 2 MiB stack, run out of
//! memory, hang or read outside the root — and legitimate edge cases must build as
//! `kubectl kustomize` (v1.32, Kustomize v5.5) builds them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use weir_kustomize::{
    BuildError, FileSystem, Kustomization, MemoryFs, build, build_in, build_resources,
};

/// The stack of the controller's blocking threads.
const CONTROLLER_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with the controller's stack, failing the test if it takes longer
/// than `secs` (a hang) — a stack overflow aborts the whole test binary.
fn on_controller_thread<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(CONTROLLER_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the build must finish quickly")
}

fn memory(files: Vec<(String, String)>) -> MemoryFs {
    let mut fs = MemoryFs::new();
    for (p, b) in files {
        fs.insert(&p, b).expect("valid path");
    }
    fs
}

fn build_memory(files: Vec<(String, String)>) -> Result<Vec<Value>, BuildError> {
    on_controller_thread(20, move || {
        build_in(&memory(files), Path::new(""), None, false)
    })
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"1\"\n";

#[test]
fn a_chain_of_a_thousand_kustomizations_stops_at_max_depth_naming_the_chain() {
    let mut files = vec![(
        "kustomization.yaml".to_string(),
        "resources: [k1]\n".to_string(),
    )];
    for i in 1..1000 {
        files.push((
            format!("k{i}/kustomization.yaml"),
            format!("resources: [../k{}]\n", i + 1),
        ));
    }
    files.push((
        "k1000/kustomization.yaml".into(),
        "resources: [cm.yaml]\n".into(),
    ));
    files.push(("k1000/cm.yaml".into(), CM.into()));
    let err = build_memory(files).expect_err("too deep").to_string();
    assert!(
        err.contains("nested more than 100 deep (MAX_DEPTH)"),
        "{err}"
    );
    assert!(
        err.contains(". -> k1 -> k2 -> ... -> k98 -> k99 -> k100"),
        "{err}"
    );
    assert!(err.starts_with("k100:"), "names the directory: {err}");
}

#[test]
fn a_thousand_nested_folders_stop_at_max_depth() {
    let mut files = Vec::new();
    let mut dir = String::new();
    for _ in 0..1000 {
        files.push((
            format!("{dir}kustomization.yaml"),
            "resources: [d]\n".into(),
        ));
        dir.push_str("d/");
    }
    files.push((
        format!("{dir}kustomization.yaml"),
        "resources: [cm.yaml]\n".into(),
    ));
    files.push((format!("{dir}cm.yaml"), CM.into()));
    let err = build_memory(files.clone())
        .expect_err("too deep")
        .to_string();
    assert!(err.contains("(MAX_DEPTH)"), "{err}");

    // The same folders without kustomization files, synthesized.
    let synthesized: Vec<(String, String)> = files
        .into_iter()
        .filter(|(p, _)| p.ends_with("cm.yaml"))
        .collect();
    let err = on_controller_thread(20, move || {
        build_in(&memory(synthesized), Path::new(""), None, true)
    })
    .expect_err("too deep")
    .to_string();
    assert!(err.contains("(MAX_DEPTH)"), "{err}");
}

#[test]
fn a_chain_at_the_limit_still_builds_on_the_controller_stack() {
    // 99 nested kustomizations, each with a patch, prefix and labels.
    let mut files = vec![];
    for i in 0..99 {
        files.push((
            format!("k{i}/kustomization.yaml"),
            format!(
                "resources: [../k{}]\nnamePrefix: p-\ncommonLabels: {{l{i}: v}}\npatches:\n- patch: |-\n    [{{\"op\": \"add\", \"path\": \"/data/k{i}\", \"value\": \"v\"}}]\n  target: {{kind: ConfigMap}}\n",
                i + 1
            ),
        ));
    }
    files.push((
        "k99/kustomization.yaml".into(),
        "resources: [cm.yaml]\n".into(),
    ));
    files.push(("k99/cm.yaml".into(), CM.into()));
    let out = on_controller_thread(60, move || {
        build_in(&memory(files), Path::new("k0"), None, false)
    })
    .expect("99 deep is fine");
    assert_eq!(out.len(), 1);
    assert!(
        out[0]["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.len() == 99 * 2 + 2)
    );
}

#[test]
fn a_deeply_nested_resource_is_refused_not_walked() {
    let mut deep = json!("leaf");
    for _ in 0..10_000 {
        deep = Value::Array(vec![deep]);
    }
    let mut resource = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    resource["data"] = deep;
    let k: Kustomization = serde_json::from_value(json!({
        "commonLabels": {"a": "b"}, "images": [{"name": "nginx", "newTag": "1"}],
    }))
    .expect("kustomization");
    let err = on_controller_thread(20, move || {
        build_resources(vec![resource], &k, &MemoryFs::new()).map_err(|e| e.to_string())
    })
    .expect_err("too deep");
    assert!(err.contains("(MAX_NESTING)"), "{err}");
}

#[test]
fn a_replacement_delimiter_index_far_past_the_end_appends_as_kubectl_does() {
    // kubectl v1.32: 100000000000 and 2 both give "a-b-nginx"; -1 gives "nginx-a-b".
    for (index, want) in [
        ("100000000000", "a-b-nginx"),
        ("9223372036854775807", "a-b-nginx"),
        ("-1", "nginx-a-b"),
    ] {
        let files = vec![
            (
                "kustomization.yaml".to_string(),
                format!(
                    "resources: [cm.yaml, d.yaml]\nreplacements:\n- source: {{kind: ConfigMap, name: src, fieldPath: data.img}}\n  targets:\n  - select: {{kind: Deployment}}\n    fieldPaths: [metadata.annotations.x]\n    options: {{delimiter: \"-\", index: {index}}}\n"
                ),
            ),
            (
                "cm.yaml".into(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: src\ndata:\n  img: nginx\n".into(),
            ),
            (
                "d.yaml".into(),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    x: a-b\nspec: {}\n".into(),
            ),
        ];
        let out = build_memory(files).expect("builds");
        assert_eq!(out[1]["metadata"]["annotations"]["x"], want, "{index}");
    }
}

#[test]
fn replacement_list_indexes_match_kubectl() {
    let tree = |path: &str, create: bool| {
        vec![
            (
                "kustomization.yaml".to_string(),
                format!(
                    "resources: [cm.yaml, d.yaml]\nreplacements:\n- source: {{kind: ConfigMap, name: src, fieldPath: data.img}}\n  targets:\n  - select: {{kind: Deployment}}\n    fieldPaths: [{path}]\n    options: {{create: {create}}}\n"
                ),
            ),
            (
                "cm.yaml".into(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: src\ndata:\n  img: nginx\n".into(),
            ),
            (
                "d.yaml".into(),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n".into(),
            ),
        ]
    };
    // kubectl: "index 100000000000 specified but only 1 elements found", with or without create.
    for create in [false, true] {
        for idx in ["100000000000", "9223372036854775807", "5"] {
            let err = build_memory(tree(
                &format!("spec.template.spec.containers.{idx}.image"),
                create,
            ))
            .expect_err("out of range")
            .to_string();
            assert!(
                err.contains(&format!("index {idx} specified but only 1 elements found")),
                "{err}"
            );
        }
    }
    // kubectl appends at the index just past the end with create.
    let out = build_memory(tree("spec.template.spec.containers.1.image", true)).expect("appends");
    assert_eq!(
        out[1]["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "x"}, {"image": "nginx"}])
    );
}

fn env_tree(env: &str) -> Vec<(String, String)> {
    vec![
        (
            "kustomization.yaml".into(),
            "configMapGenerator:\n- name: c\n  envs: [e.env]\n".into(),
        ),
        ("e.env".into(), env.into()),
    ]
}

#[test]
fn env_files_with_an_empty_key_or_a_byte_order_mark_build_as_kubectl_does() {
    // Outputs of `kubectl kustomize` v1.32 for the same env files.
    for (env, want) in [
        ("=value\nA=1\n", json!({"A": "1"})),
        ("   =value\nA=1\n", json!({"A": "1"})),
        ("\u{feff}A=1\nB=2\n", json!({"A": "1", "B": "2"})),
        ("\u{feff}\n#c\nA=1\n", json!({"A": "1"})),
        ("A=1\n\u{feff}B=2\n", json!({"A": "1", "\u{feff}B": "2"})),
    ]
    .map(|(e, w)| (e, w))
    {
        let out = build_memory(env_tree(env)).expect("builds");
        assert_eq!(out[0]["data"], want, "{env:?}");
        let name = match want.as_object().map(|m| m.len()) {
            _ if env.starts_with("A=1\n\u{feff}") => "c-99m2879mb7",
            Some(2) => "c-66h9cbh964",
            _ => "c-89g4tffbfk",
        };
        assert_eq!(out[0]["metadata"]["name"], name, "{env:?}");
    }
    // `=` alone: no data at all.
    let out = build_memory(env_tree("=\n")).expect("builds");
    assert_eq!(
        out[0],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c-6ct58987ht"}})
    );
}

fn root_patch(value: &str) -> Result<Vec<Value>, BuildError> {
    build_memory(vec![
        (
            "kustomization.yaml".into(),
            format!(
                "resources: [cm.yaml]\npatches:\n- target: {{kind: ConfigMap}}\n  patch: |-\n    [{{\"op\": \"replace\", \"path\": \"\", \"value\": {value}}}]\n"
            ),
        ),
        (
            "cm.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n".into(),
        ),
    ])
}

#[test]
fn replacing_the_whole_document_matches_kubectl() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}});
    // kubectl leaves the object alone for a scalar or null.
    for scalar in ["\"str\"", "42", "null"] {
        assert_eq!(
            root_patch(scalar).expect("kubectl succeeds"),
            vec![cm.clone()],
            "{scalar}"
        );
    }
    // kubectl: "json: cannot unmarshal array into Go value of type map[string]interface {}".
    let err = root_patch("[1, 2]").expect_err("a list").to_string();
    assert!(
        err.contains("cannot replace the whole document with a list"),
        "{err}"
    );
    // kubectl: "missing kind in object" and "missing metadata.name".
    let err = root_patch("{}").expect_err("no kind").to_string();
    assert!(err.contains("missing kind"), "{err}");
    let err = root_patch("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {}}")
        .expect_err("no name")
        .to_string();
    assert!(err.contains("missing metadata.name"), "{err}");
    // An object replaces the resource, kind and name included.
    let out = root_patch(
        "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"y\"}}",
    )
    .expect("replaced");
    assert_eq!(
        out,
        vec![json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "y"}})]
    );
}

/// A file system with no confinement of its own, to show the engine's checks suffice.
struct Unconfined(PathBuf);

impl FileSystem for Unconfined {
    fn root(&self) -> &Path {
        &self.0
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        path.canonicalize()
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(path)?
            .flatten()
            .map(|e| e.path())
            .collect())
    }
}

const SECRET: &str = "hunter2-TOPSECRET";

/// A root and, next to it, a secret file the root links to.
fn linked_tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::write(
        dir.path().join("secret.yaml"),
        format!("{SECRET}: 1\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {SECRET}\n"),
    )
    .expect("write");
    (dir, root.canonicalize().expect("canonical"))
}

#[test]
fn a_symlinked_kustomization_file_outside_the_root_is_refused_without_its_content() {
    let (dir, root) = linked_tree();
    std::os::unix::fs::symlink(
        dir.path().join("secret.yaml"),
        root.join("app/kustomization.yaml"),
    )
    .expect("symlink");
    let err = build(&root, &root.join("app"))
        .expect_err("outside")
        .to_string();
    assert!(
        err.contains("outside the build root") && !err.contains(SECRET),
        "{err}"
    );
    let fs = Unconfined(root.clone());
    let err = build_in(&fs, &root.join("app"), None, false)
        .expect_err("outside")
        .to_string();
    assert!(
        err.contains("outside the build root") && !err.contains(SECRET),
        "{err}"
    );
}

#[test]
fn symlinked_manifests_outside_the_root_are_refused_in_synthesized_builds() {
    let (dir, root) = linked_tree();
    std::os::unix::fs::symlink(dir.path().join("secret.yaml"), root.join("app/x.yaml"))
        .expect("symlink");
    for fs in [
        Box::new(weir_kustomize::DiskFs::new(&root).expect("root")) as Box<dyn FileSystem>,
        Box::new(Unconfined(root.clone())),
    ] {
        let err = build_in(fs.as_ref(), &root, None, true)
            .expect_err("outside")
            .to_string();
        assert!(
            err.contains("outside the build root") && !err.contains(SECRET),
            "{err}"
        );
    }
}

#[test]
fn a_fifo_as_resource_generator_file_or_env_file_fails_quickly() {
    for kustomization in [
        "resources: [fifo.yaml]\n",
        "configMapGenerator:\n- name: c\n  files: [fifo.yaml]\n",
        "configMapGenerator:\n- name: c\n  envs: [fifo.yaml]\n",
        "patches:\n- path: fifo.yaml\n",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kustomization.yaml"), kustomization).expect("write");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo.yaml"))
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let root = dir.path().to_path_buf();
        let err = on_controller_thread(5, move || build(&root, &root))
            .expect_err("not a regular file")
            .to_string();
        assert!(err.contains("not a regular file"), "{kustomization}: {err}");
    }
}

#[test]
fn the_deepest_chain_with_the_most_nested_objects_fits_the_controller_stack() {
    // 99 nested kustomizations, the last patching an object nested just within MAX_NESTING
    // with a strategic merge patch as deep, each level rewriting images (which walks
    // everything) and adding labels. (It also fits in 1 MiB in a debug build.)
    let depth = weir_kustomize::MAX_NESTING - 5;
    let chain = 98;
    let nest = |leaf: &str| {
        let mut s = leaf.to_string();
        for _ in 0..depth {
            s = format!("{{a: {s}}}");
        }
        s
    };
    let mut files = vec![];
    for i in 0..chain {
        files.push((
            format!("k{i}/kustomization.yaml"),
            format!(
                "resources: [../k{}]\ncommonLabels: {{l{i}: v}}\nimages: [{{name: nginx, newTag: \"{i}\"}}]\n",
                i + 1
            ),
        ));
    }
    files.push((
        format!("k{chain}/kustomization.yaml"),
        "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n".into(),
    ));
    files.push((
        format!("k{chain}/cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {}\n",
            nest("x")
        ),
    ));
    files.push((
        format!("k{chain}/patch.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {}\n",
            nest("y")
        ),
    ));
    let out = on_controller_thread(60, move || {
        build_in(&memory(files), Path::new("k0"), None, false).map(|o| o.len())
    })
    .expect("builds");
    assert_eq!(out, 1);
}
