//! The pod-readiness simulator: the test control plane has no kubelet, so this registers a
//! Node, binds pending Pods of one namespace to it and marks them Running and Ready — or
//! Failed when they carry the label `weir.dev/fail: "true"` — so that the real Deployment,
//! ReplicaSet and Job controllers report availability.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// Label that makes the simulator fail a Pod.
pub const FAIL_LABEL: &str = "weir.dev/fail";
const NODE: &str = "weir-simulated-node";

/// A running simulator; stops when dropped.
pub struct PodSimulator {
    task: tokio::task::JoinHandle<()>,
}

impl PodSimulator {
    /// Starts simulating the Pods of `namespace`.
    pub async fn start(client: &Client, namespace: &str) -> Self {
        let nodes: Api<Node> = Api::all(client.clone());
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}});
        let _ = nodes
            .create(
                &PostParams::default(),
                &serde_json::from_value(node).unwrap_or_default(),
            )
            .await;
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "simulated"}],
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"}, "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"}}});
        let _ = nodes
            .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&status))
            .await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let task = tokio::spawn(async move {
            loop {
                if let Ok(list) = pods.list(&ListParams::default()).await {
                    for pod in list.items {
                        simulate(&pods, &pod).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        Self { task }
    }
}

async fn simulate(pods: &Api<Pod>, pod: &Pod) {
    let name = pod.name_any();
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.node_name.is_none() {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}});
        let _ = pods
            .create_subresource::<serde_json::Value, serde_json::Value>(
                "binding",
                &name,
                &PostParams::default(),
                &binding,
            )
            .await;
        return;
    }
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase == "Running" || phase == "Failed" || phase == "Succeeded" {
        return;
    }
    let fail = pod.labels().get(FAIL_LABEL).map(String::as_str) == Some("true");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let containers: Vec<serde_json::Value> = spec
        .containers
        .iter()
        .map(|c| {
            if fail {
                json!({"name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
                       "state": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}})
            } else {
                json!({"name": c.name, "image": c.image, "imageID": "", "ready": true, "restartCount": 0, "started": true,
                       "state": {"running": {"startedAt": now}}})
            }
        })
        .collect();
    let status = if fail {
        json!({"status": {"phase": "Failed", "containerStatuses": containers,
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]}})
    } else {
        json!({"status": {"phase": "Running", "podIP": "10.1.0.1", "startTime": now, "containerStatuses": containers,
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                           {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                           {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                           {"type": "Ready", "status": "True", "lastTransitionTime": now}]}})
    };
    let _ = pods
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await;
}

impl Drop for PodSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
