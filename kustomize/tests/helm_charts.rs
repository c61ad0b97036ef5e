//! `helmCharts` with an injected [`ChartInflator`]: what the engine asks it (chart files read
//! through the build's file system, values merged as Kustomize merges them, `helm template`
//! options) and where the rendered objects go. The rendering itself (weir-helm) is checked
//! against kubectl in `cli/tests/kustomize_helm_charts.rs`.

use std::cell::RefCell;
use std::path::Path;

use weir_kustomize::{self as kustomize, BuildOptions, ChartInflator, HelmChartRequest, MemoryFs};

#[derive(Default)]
struct Recorder {
    seen: RefCell<Vec<HelmChartRequest>>,
}

impl ChartInflator for Recorder {
    fn inflate(&self, request: &HelmChartRequest) -> Result<String, String> {
        self.seen.borrow_mut().push(request.clone());
        Ok(format!(
            "---\n# Source: {0}/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {1}-{0}\n",
            request.chart,
            request.release_name.as_deref().unwrap_or("release-name")
        ))
    }
}

fn tree(kustomization: &str) -> MemoryFs {
    MemoryFs::from_files(
        [
            ("app/kustomization.yaml", kustomization),
            (
                "app/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n",
            ),
            (
                "app/charts/web/Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\n",
            ),
            ("app/charts/web/values.yaml", "a: 1\nm: {x: 1, z: 2}\n"),
            ("app/charts/web/templates/cm.yaml", "kind: ConfigMap\n"),
            ("app/more.yaml", "b: 2\n"),
            ("secret.yaml", "outside: true\n"),
            ("other/Chart.yaml", "outside: true\n"),
        ]
        .map(|(p, t)| (p, t.as_bytes())),
    )
    .expect("tree")
}

fn build(
    fs: &MemoryFs,
    charts: Option<&dyn ChartInflator>,
) -> Result<Vec<serde_json::Value>, String> {
    let options = BuildOptions {
        charts,
        ..Default::default()
    };
    kustomize::build_with_options(fs, Path::new("app"), &options).map_err(|e| e.to_string())
}

#[test]
fn the_inflator_gets_the_chart_files_values_and_options() {
    let fs = tree(
        "resources: [cm.yaml]\nnamePrefix: p-\nhelmCharts:\n- name: web\n  releaseName: r\n  namespace: ns\n  \
         includeCRDs: true\n  skipHooks: true\n  kubeVersion: '1.30'\n  apiVersions: [a/v1]\n  \
         valuesInline: {m: {z: 3}}\n  additionalValuesFiles: [more.yaml]\nsortOptions: {order: fifo}\n",
    );
    let inflator = Recorder::default();
    let out = build(&fs, Some(&inflator)).expect("builds");
    let names: Vec<&str> = out
        .iter()
        .filter_map(|v| v.pointer("/metadata/name").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(names, ["p-own", "p-r-web"]);
    let seen = inflator.seen.borrow();
    let r = &seen[0];
    let files: Vec<&str> = r.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(files, ["Chart.yaml", "templates/cm.yaml", "values.yaml"]);
    assert_eq!(r.chart_dir, "app/charts/web");
    assert_eq!(r.release_name.as_deref(), Some("r"));
    assert_eq!(r.namespace.as_deref(), Some("ns"));
    assert!(r.include_crds && r.skip_hooks && !r.skip_tests);
    assert_eq!(r.kube_version.as_deref(), Some("1.30"));
    assert_eq!(r.api_versions, ["a/v1"]);
    let merged: serde_json::Value = serde_json::from_str(&r.values[0].text).expect("JSON");
    assert_eq!(merged, serde_json::json!({"a": 1, "m": {"x": 1, "z": 3}}));
    assert_eq!(r.values[1].name, "more.yaml");
    assert_eq!(r.values[1].text, "b: 2\n");
}

#[test]
fn without_an_inflator_helm_charts_are_refused() {
    let fs = tree("helmCharts:\n- name: web\n");
    let err = build(&fs, None).expect_err("refused");
    assert!(err.contains("\"helmCharts\""), "{err}");
    assert!(err.starts_with("app/kustomization.yaml:"), "{err}");
}

#[test]
fn charts_and_values_files_outside_the_kustomization_are_refused() {
    let inflator = Recorder::default();
    for (k, needle) in [
        (
            "helmGlobals: {chartHome: ..}\nhelmCharts:\n- name: other\n",
            "not in or below the kustomization's directory",
        ),
        (
            "helmCharts:\n- name: web\n  valuesFile: ../secret.yaml\n",
            "not in or below",
        ),
        (
            "helmCharts:\n- name: web\n  valuesFile: https://example.com/v.yaml\n",
            "does not download",
        ),
        (
            "helmCharts:\n- name: web\n  valuesMerge: deep\n  valuesInline: {a: 2}\n",
            "valuesMerge must be one of",
        ),
        (
            "helmCharts:\n- name: gone\n  repo: https://charts.example.com\n  version: 1.0.0\n",
            "charts/gone-1.0.0/gone",
        ),
    ] {
        let err = build(&tree(k), Some(&inflator)).expect_err(k);
        assert!(err.contains(needle), "{k}: {err}");
        assert!(!err.contains("outside: true"), "{err}");
    }
}
