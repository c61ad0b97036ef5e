//! The images tests run on the real node, built by `cargo xtask image` and pushed to the local
//! registry (`cargo xtask test` does both before the tests), and the node check.

use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::Api;

/// The local registry the test cluster's containerd pulls from.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// The node's address on the pod bridge: servers that Pods must reach listen here.
pub const NODE_IP: &str = "10.88.0.1";

/// `hello` (examples/hello): an HTTP server on port 8080 printing `GREETING`; `/readyz` fails
/// with `READY=false`; `hello exit N` exits with N.
pub fn hello() -> String {
    format!("{REGISTRY}/weir/hello:dev")
}

/// The image of a controller (`source-controller`, `kustomize-controller`).
pub fn controller(name: &str) -> String {
    format!("{REGISTRY}/weir/{name}:dev")
}

/// The node tests schedule on, which must be Ready. Panics with instructions when the
/// cluster has none: tests that need running Pods never skip.
pub async fn require_node(client: &Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let ready = nodes
        .get_opt("weir-node")
        .await
        .ok()
        .flatten()
        .is_some_and(|n| {
            n.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    assert!(
        ready,
        "this test runs Pods and needs the test cluster's real node `weir-node` (Ready): \
         start the cluster with `cargo xtask cluster up` (not `--no-node`)"
    );
}

/// Panics with instructions unless the local registry holds `weir/<name>:dev` for each name.
pub async fn require_images(names: &[&str]) {
    for name in names {
        let url = format!("http://{REGISTRY}/v2/weir/{name}/manifests/dev");
        let found = reqwest::Client::new()
            .head(&url)
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        assert!(
            found,
            "the image {REGISTRY}/weir/{name}:dev is not in the local registry: \
             `cargo xtask test` builds and pushes it (`cargo xtask image` alone does too)"
        );
    }
}
