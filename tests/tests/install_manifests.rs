//! The install manifests in `config/` and the samples are accepted by the real API server.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use weir_tests::cluster;

fn kubectl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", cluster::kubeconfig())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running kubectl: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn config_and_samples_pass_server_side_validation() {
    let client = cluster::client().await;
    // A dry run does not create the namespace the other objects live in.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("weir-system".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = namespaces.create(&PostParams::default(), &ns).await;
    let root = cluster::workspace_root();
    let config = root.join("config");
    let (ok, out) = kubectl(&["apply", "--dry-run=server", "-k", &config.to_string_lossy()]);
    assert!(ok, "config/ is rejected:\n{out}");
    for kind in [
        "deployment.apps/source-controller",
        "service/source-controller",
        "clusterrole.rbac.authorization.k8s.io/weir-source-controller",
    ] {
        assert!(out.contains(kind), "{kind} missing from config/:\n{out}");
    }
    let samples = root.join("config/samples");
    let (ok, out) = kubectl(&[
        "apply",
        "--dry-run=server",
        "-f",
        &samples.to_string_lossy(),
    ]);
    assert!(ok, "config/samples is rejected:\n{out}");
}

/// Every `kubectl apply` in the README's shell blocks, run as written (from the workspace
/// root, with a server-side dry run added so that the cluster is left as it is).
#[tokio::test]
async fn readme_kubectl_apply_commands_work_as_written() {
    let client = cluster::client().await;
    // The README creates it with `kubectl create namespace weir-system` first.
    let namespaces: Api<Namespace> = Api::all(client);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("weir-system".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = namespaces.create(&PostParams::default(), &ns).await;
    let root = cluster::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md"))
        .unwrap_or_else(|e| panic!("reading README.md: {e}"));
    let mut in_shell = false;
    let mut commands = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = !in_shell && (line == "```sh" || line == "```console");
            continue;
        }
        let command = line.trim().trim_start_matches("$ ");
        if in_shell && command.starts_with("kubectl apply ") {
            let command = command.split('#').next().unwrap_or(command).trim();
            commands.push(command.to_string());
        }
    }
    assert!(!commands.is_empty(), "no kubectl apply in README.md");
    for command in commands {
        let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
        args.insert(1, "--dry-run=server");
        let out = std::process::Command::new("kubectl")
            .current_dir(&root)
            .env("KUBECONFIG", cluster::kubeconfig())
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("running {command}: {e}"));
        assert!(
            out.status.success(),
            "README command `{command}` fails:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
