//! The conformance corpus: every fixture under `tests/kustomize/` is built by our engine and
//! compared, byte for byte, with what `kubectl kustomize` (Kustomize v5.5) printed for it
//! (`expected.yaml`), or must fail where kubectl fails (`expected-error.txt`). A second test
//! re-runs kubectl over the corpus so that the expectations cannot drift from the real tool.

use std::path::{Path, PathBuf};
use std::process::Command;

use weir_kustomize as kustomize;
use weir_yaml as yaml;

struct Fixture {
    name: String,
    root: PathBuf,
    build: PathBuf,
    error_contains: Option<String>,
    /// `helmCharts` fixtures (`"helm": true`): recorded with `kubectl kustomize --enable-helm`
    /// and built with a chart inflator, which this crate does not have: the CLI's test
    /// `cli/tests/kustomize_helm_charts.rs` checks Weir's output for them.
    helm: bool,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize");
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().join("fixture.json").exists())
        .map(|e| {
            let meta: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(e.path().join("fixture.json")).unwrap_or_default(),
            )
            .unwrap_or_else(|err| panic!("{}: fixture.json: {err}", e.path().display()));
            let root = e.path().join("in");
            Fixture {
                name: e.file_name().to_string_lossy().to_string(),
                build: root.join(meta["build"].as_str().unwrap_or(".")),
                root,
                error_contains: meta["error_contains"].as_str().map(str::to_string),
                helm: meta["helm"] == serde_json::Value::Bool(true),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 45, "the corpus lost fixtures: {}", out.len());
    out
}

fn ours(f: &Fixture) -> Result<String, String> {
    kustomize::build(&f.root, &f.build)
        .map(|docs| yaml::to_string_multi(&docs))
        .map_err(|e| e.to_string())
}

fn expected_path(f: &Fixture, file: &str) -> PathBuf {
    f.root.parent().map(|p| p.join(file)).unwrap_or_default()
}

/// The first document that differs, for a readable failure.
fn first_difference(ours: &str, theirs: &str) -> String {
    let a: Vec<&str> = ours.split("\n---\n").collect();
    let b: Vec<&str> = theirs.split("\n---\n").collect();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x != y {
            return format!("document {i} differs:\n--- ours\n{x}\n--- kubectl\n{y}");
        }
    }
    format!(
        "document counts differ: ours {} vs kubectl {}",
        a.len(),
        b.len()
    )
}

#[test]
fn corpus_matches_kubectl_kustomize() {
    let mut failures = Vec::new();
    for f in fixtures() {
        if f.helm {
            // Without an inflator the engine refuses `helmCharts`, naming the field.
            match ours(&f) {
                Err(e) if e.contains("\"helmCharts\"") => {}
                other => failures.push(format!(
                    "{}: without a chart inflator helmCharts must be refused: {other:?}",
                    f.name
                )),
            }
            continue;
        }
        let expected = std::fs::read_to_string(expected_path(&f, "expected.yaml")).ok();
        match (ours(&f), expected, &f.error_contains) {
            (Ok(out), Some(want), _) if out == want => {}
            (Ok(out), Some(want), _) => {
                failures.push(format!("{}: {}", f.name, first_difference(&out, &want)))
            }
            (Err(e), Some(_), _) => {
                failures.push(format!("{}: kubectl builds it but we fail: {e}", f.name))
            }
            (Err(e), None, Some(needle)) if e.contains(needle.as_str()) => {}
            (Err(e), None, Some(needle)) => failures.push(format!(
                "{}: error {e:?} does not mention {needle:?}",
                f.name
            )),
            (Ok(_), None, Some(_)) => {
                failures.push(format!("{}: kubectl fails but we build it", f.name))
            }
            (_, None, None) => failures.push(format!(
                "{}: no expected.yaml; run `cargo xtask kustomize-fixtures`",
                f.name
            )),
        }
        if f.error_contains.is_some() {
            assert!(
                expected_path(&f, "expected-error.txt").exists(),
                "{}: kubectl's error is not recorded",
                f.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures differ from kubectl:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn building_twice_gives_identical_bytes() {
    for f in fixtures() {
        assert_eq!(ours(&f), ours(&f), "{}", f.name);
    }
}

/// Runs the real `kubectl kustomize` over every fixture and compares with the checked-in
/// expectations. kubectl is required: set WEIR_SKIP_KUBECTL=1 to skip on machines without it.
#[test]
fn expectations_are_what_kubectl_prints() {
    if std::env::var_os("WEIR_SKIP_KUBECTL").is_some() {
        eprintln!("WEIR_SKIP_KUBECTL is set: not re-checking expectations against kubectl");
        return;
    }
    let version = Command::new("kubectl")
        .args(["version", "--client"])
        .output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "kubectl is needed to check the corpus against the real Kustomize (or set WEIR_SKIP_KUBECTL=1)"
    );
    // kubectl's Kustomize asks `helm version -c` for a v3: the shim answers and hands
    // `helm template` to helm v4 ($WEIR_HELM, or the binary `cargo xtask test` installs).
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm-as-v3.sh");
    let helm = std::env::var_os("WEIR_HELM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/weir/helm/helm"))
        });
    let have_helm = helm.as_ref().is_some_and(|h| h.exists());
    let mut drift = Vec::new();
    for f in fixtures() {
        let mut kubectl = Command::new("kubectl");
        kubectl.arg("kustomize");
        if f.helm {
            if !have_helm {
                eprintln!("{}: no helm binary (WEIR_HELM): not re-checked", f.name);
                continue;
            }
            kubectl
                .arg("--enable-helm")
                .arg("--helm-command")
                .arg(&shim);
        }
        let out = kubectl
            .arg(&f.build)
            .output()
            .unwrap_or_else(|e| panic!("running kubectl: {e}"));
        let recorded = std::fs::read_to_string(expected_path(&f, "expected.yaml")).ok();
        match (out.status.success(), recorded) {
            (true, Some(want)) if String::from_utf8_lossy(&out.stdout) == want => {}
            (false, None) if expected_path(&f, "expected-error.txt").exists() => {}
            (ok, recorded) => drift.push(format!(
                "{}: kubectl success={ok}, recorded output={}",
                f.name,
                recorded.is_some()
            )),
        }
    }
    assert!(
        drift.is_empty(),
        "expectations drifted from kubectl (run `cargo xtask kustomize-fixtures`):\n{}",
        drift.join("\n")
    );
}
