//! The per-build budgets of [`BuildLimits`]: amplifying trees fail on them, with an error
//! naming the limit and the file, while the work done stays bounded.

use std::path::Path;
use std::time::{Duration, Instant};

use weir_kustomize::{BuildLimits, MemoryFs, build_with_limits};

fn memory(files: &[(String, String)]) -> MemoryFs {
    let mut fs = MemoryFs::new();
    for (p, b) in files {
        fs.insert(p, b.as_bytes()).expect("valid path");
    }
    fs
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";

/// Level `i` includes level `i - 1` twice, under prefixes `a-` and `b-`: 2^levels resources.
fn exponential(levels: usize) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "l0/kustomization.yaml".to_string(),
            "resources: [cm.yaml]\n".to_string(),
        ),
        ("l0/cm.yaml".into(), CM.into()),
    ];
    for i in 1..=levels {
        files.push((
            format!("l{i}/kustomization.yaml"),
            "resources: [a, b]\n".into(),
        ));
        for p in ["a", "b"] {
            files.push((
                format!("l{i}/{p}/kustomization.yaml"),
                format!("namePrefix: {p}-\nresources: [../../l{}]\n", i - 1),
            ));
        }
    }
    files
}

#[test]
fn an_exponential_graph_fails_on_the_kustomization_or_resource_budget() {
    let fs = memory(&exponential(30));
    let started = Instant::now();
    let err = build_with_limits(&fs, Path::new("l30"), None, false, &BuildLimits::default())
        .expect_err("2^30 resources")
        .to_string();
    assert!(err.contains("max_kustomizations"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let limits = BuildLimits {
        max_resources: 1000,
        ..BuildLimits::default()
    };
    let err = build_with_limits(&fs, Path::new("l30"), None, false, &limits)
        .expect_err("2^30 resources")
        .to_string();
    assert!(
        err.contains("more than 1000 resources") && err.contains("cm.yaml"),
        "{err}"
    );
    // Within the budgets, the same graph builds.
    let out = build_with_limits(&fs, Path::new("l8"), None, false, &BuildLimits::default())
        .expect("256 resources");
    assert_eq!(out.len(), 256);
}

#[test]
fn repeated_json_6902_copies_fail_on_the_byte_budget() {
    let mut ops =
        vec![r#"{"op": "add", "path": "/data", "value": {"x": "0123456789"}}"#.to_string()];
    for i in 0..40 {
        ops.push(format!(
            r#"{{"op": "copy", "from": "/data", "path": "/data/c{i}"}}"#
        ));
    }
    let files = vec![
        (
            "kustomization.yaml".to_string(),
            format!(
                "resources: [cm.yaml]\npatches:\n- target: {{kind: ConfigMap}}\n  patch: '[{}]'\n",
                ops.join(", ")
            ),
        ),
        ("cm.yaml".into(), CM.into()),
    ];
    let limits = BuildLimits {
        max_bytes: 16 << 20,
        ..BuildLimits::default()
    };
    let err = build_with_limits(&memory(&files), Path::new(""), None, false, &limits)
        .expect_err("2^40 copies")
        .to_string();
    assert!(
        err.contains("max_bytes") && err.starts_with("kustomization.yaml:"),
        "{err}"
    );
}

#[test]
fn large_labels_on_many_resources_fail_on_the_byte_budget() {
    let mut files = vec![(
        "kustomization.yaml".to_string(),
        format!(
            "resources: [cms.yaml]\ncommonAnnotations: {{big: {}}}\n",
            "x".repeat(100_000)
        ),
    )];
    let cms: Vec<String> = (0..200)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"))
        .collect();
    files.push(("cms.yaml".into(), cms.join("---\n")));
    let limits = BuildLimits {
        max_bytes: 10 << 20,
        ..BuildLimits::default()
    };
    let err = build_with_limits(&memory(&files), Path::new(""), None, false, &limits)
        .expect_err("20 MB of annotations")
        .to_string();
    assert!(err.contains("max_bytes"), "{err}");
}

#[test]
fn a_passed_deadline_fails_the_build() {
    let files = vec![
        (
            "kustomization.yaml".to_string(),
            "resources: [cm.yaml]\n".to_string(),
        ),
        ("cm.yaml".into(), CM.into()),
    ];
    let limits = BuildLimits {
        deadline: Some(Instant::now()),
        ..BuildLimits::default()
    };
    let err = build_with_limits(&memory(&files), Path::new(""), None, false, &limits)
        .expect_err("late")
        .to_string();
    assert!(err.contains("deadline"), "{err}");
    let out = build_with_limits(
        &memory(&files),
        Path::new(""),
        None,
        false,
        &BuildLimits::default(),
    )
    .expect("no deadline");
    assert_eq!(out.len(), 1);
}
