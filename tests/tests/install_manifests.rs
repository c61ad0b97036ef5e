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
