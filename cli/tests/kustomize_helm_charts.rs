//! `helmCharts` through `weir build kustomization` (the Kustomize engine with the weir-helm
//! inflator) on the `helm-charts-*` fixtures of the Kustomize corpus
//! (`kustomize/tests/kustomize`, fixture.json `"helm": true`): byte for byte what
//! `kubectl kustomize --enable-helm` printed with helm v4 (see
//! `kustomize/tests/record-helm-fixtures.sh`), or a failure where kubectl fails. The
//! Kustomize crate's own corpus runner builds without an inflator, so it leaves these to
//! this test.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Fixture {
    name: String,
    dir: PathBuf,
    build: PathBuf,
    error_contains: Option<String>,
}

fn fixtures() -> Vec<Fixture> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kustomize/tests/kustomize");
    let mut out: Vec<Fixture> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("reading {}: {e}", corpus.display()))
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("fixture.json")).ok()?;
            let meta: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: fixture.json: {err}", e.path().display()));
            if meta["helm"] != serde_json::Value::Bool(true) {
                return None;
            }
            Some(Fixture {
                name: e.file_name().to_string_lossy().into_owned(),
                build: e
                    .path()
                    .join("in")
                    .join(meta["build"].as_str().unwrap_or(".")),
                dir: e.path(),
                error_contains: meta["error_contains"].as_str().map(str::to_string),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 8,
        "the helm-charts fixtures are missing: {}",
        out.len()
    );
    out
}

fn weir(f: &Fixture) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["build", "kustomization"])
        .arg(&f.build)
        .arg("--root")
        .arg(f.dir.join("in"))
        .arg("--no-remote-bases")
        .output()
        .expect("running weir")
}

#[test]
fn helm_charts_fixtures_match_kubectl_kustomize_enable_helm() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let out = weir(&f);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = std::fs::read_to_string(f.dir.join("expected.yaml")).ok();
        match (out.status.success(), expected, &f.error_contains) {
            (true, Some(want), _) if stdout == want => {}
            (true, Some(want), _) => failures.push(format!(
                "{}: output differs\n--- weir\n{stdout}\n--- kubectl\n{want}",
                f.name
            )),
            (false, Some(_), _) => failures.push(format!(
                "{}: kubectl builds it but weir fails: {stderr}",
                f.name
            )),
            (false, None, Some(needle)) if stderr.contains(needle.as_str()) => {
                assert!(
                    f.dir.join("expected-error.txt").exists(),
                    "{}: kubectl's error is not recorded",
                    f.name
                );
            }
            (false, None, Some(needle)) => failures.push(format!(
                "{}: error {stderr:?} does not mention {needle:?}",
                f.name
            )),
            (true, None, _) => {
                failures.push(format!("{}: kubectl fails but weir builds it", f.name))
            }
            (false, None, None) => failures.push(format!(
                "{}: no expected.yaml; run kustomize/tests/record-helm-fixtures.sh",
                f.name
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} helm-charts fixtures differ from kubectl:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_chart_outside_the_kustomization_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app");
    let chart = dir.path().join("charts/web/templates");
    std::fs::create_dir_all(&app).expect("mkdir");
    std::fs::create_dir_all(&chart).expect("mkdir");
    std::fs::write(
        dir.path().join("charts/web/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("charts/web/values.yaml"), "").expect("write");
    std::fs::write(
        app.join("kustomization.yaml"),
        "helmGlobals:\n  chartHome: ../charts\nhelmCharts:\n- name: web\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["build", "kustomization"])
        .arg(&app)
        .arg("--root")
        .arg(dir.path())
        .output()
        .expect("running weir");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is not in or below the kustomization's directory"),
        "{stderr}"
    );
}
