//! `cargo xtask kustomize-fixtures`: records what `kubectl kustomize` prints for every
//! fixture of the Kustomize conformance corpus (`expected.yaml`, or `expected-error.txt`
//! when kubectl fails).

use std::process::Command;

use anyhow::Context;

use crate::util::workspace_root;

pub fn write() -> anyhow::Result<()> {
    let dir = workspace_root().join("kustomize/tests/kustomize");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let fixture = entry?.path();
        let meta_path = fixture.join("fixture.json");
        if !meta_path.exists() {
            continue;
        }
        let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path)?)?;
        let build = fixture
            .join("in")
            .join(meta["build"].as_str().unwrap_or("."));
        let mut kubectl = Command::new("kubectl");
        kubectl.arg("kustomize").arg(&build);
        if meta["helm"].as_bool() == Some(true) {
            // `helmCharts` fixtures: kubectl's Kustomize runs helm (v4, behind the shim that
            // answers the v3-only version question; see kustomize/tests/helm-as-v3.sh).
            let helm = crate::helm::helm_binary()?;
            let shim = workspace_root().join("kustomize/tests/helm-as-v3.sh");
            kubectl
                .args(["--enable-helm", "--helm-command"])
                .arg(&shim)
                .env("WEIR_HELM", &helm);
        }
        let out = kubectl.output().context("running kubectl")?;
        let (ok_file, err_file) = (
            fixture.join("expected.yaml"),
            fixture.join("expected-error.txt"),
        );
        let _ = std::fs::remove_file(&ok_file);
        let _ = std::fs::remove_file(&err_file);
        if out.status.success() {
            std::fs::write(&ok_file, &out.stdout)?;
            if meta.get("error_contains").is_some() {
                eprintln!(
                    "warning: {} expects an error but kubectl builds it",
                    fixture.display()
                );
            }
        } else {
            let root = fixture.join("in").display().to_string();
            // kubectl prefixes its error with a time stamp and PID: keep only the message.
            let tests = workspace_root()
                .join("kustomize/tests")
                .display()
                .to_string();
            let stderr = String::from_utf8_lossy(&out.stderr)
                .replace(&root, "<fixture>")
                .replace(&tests, "<tests>");
            let message = match stderr.split_once("\"command failed\" ") {
                Some((_, rest)) => rest.to_string(),
                None => stderr,
            };
            std::fs::write(&err_file, message)?;
            if meta.get("error_contains").is_none() {
                eprintln!("warning: kubectl fails on {}", fixture.display());
            }
        }
        count += 1;
    }
    eprintln!("recorded kubectl output for {count} fixtures");
    Ok(())
}
