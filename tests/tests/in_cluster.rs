//! Weir as its users run it: source-controller and kustomize-controller installed as
//! Deployments from `config/` (an overlay sets the local images, a test namespace and the
//! pod-IP artifact address), with leader election, probes and their service accounts, then
//! the GitOps loop through them: a Git repository on the node address, a real app whose Pods
//! become Ready, and a commit that reaches the running app.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use weir_tests::cluster::{self, TestNamespace};
use weir_tests::controller::TEST_LABEL;
use weir_tests::git_https::GitHttpsServer;
use weir_tests::gitrepo::SourceRepo;
use weir_tests::images::{self, NODE_IP};
use weir_tests::wait;

fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", cluster::kubeconfig())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running kubectl: {e}"));
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("kubectl stdin: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The install overlay (in `target/<dir>`): `config/` with the local images, every object in `ns`, controllers
/// watching only this test's objects, and artifacts advertised on the pod IP (the test node
/// has no cluster DNS).
fn write_overlay(dir: &Path, ns: &str, selector: &str) {
    // Kustomize takes only relative paths: the overlay lives in target/, two levels down.
    let config = "../../config";
    // Both controllers watch only this test's objects.
    let watch_args = [
        "--log-format=json".to_string(),
        format!("--watch-label-selector={TEST_LABEL}={selector}"),
    ]
    .iter()
    .map(|a| {
        format!(
            "    - {{op: add, path: /spec/template/spec/containers/0/args/-, value: \"{a}\"}}\n"
        )
    })
    .collect::<String>();
    // source-controller advertises artifacts on its pod IP (no cluster DNS on the test node).
    let adv_addr = "    - {op: test, path: /spec/template/spec/containers/0/args/2, value: \"--storage-adv-addr=source-controller.$(POD_NAMESPACE).svc.cluster.local.\"}\n    - {op: replace, path: /spec/template/spec/containers/0/args/2, value: \"--storage-adv-addr=$(POD_IP):9090\"}\n";
    let sc = images::controller("source-controller");
    let kc = images::controller("kustomize-controller");
    let (sc, kc) = (sc.trim_end_matches(":dev"), kc.trim_end_matches(":dev"));
    let kustomization = format!(
        "namespace: {ns}\nresources:\n- {config}\nimages:\n- name: weir/source-controller\n  newName: {sc}\n- name: weir/kustomize-controller\n  newName: {kc}\npatches:\n- target: {{kind: Deployment, name: source-controller}}\n  patch: |\n    - {{op: add, path: /spec/template/spec/containers/0/env/-, value: {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}}}\n    - {{op: add, path: /spec/template/spec/containers/0/imagePullPolicy, value: Always}}\n{adv_addr}{watch_args}- target: {{kind: Deployment, name: kustomize-controller}}\n  patch: |\n    - {{op: add, path: /spec/template/spec/containers/0/imagePullPolicy, value: Always}}\n{watch_args}",
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization)
        .unwrap_or_else(|e| panic!("writing the overlay: {e}"));
}

fn app(greeting: &str) -> Vec<(String, String)> {
    let hello = images::hello();
    vec![
        (
            "app/kustomization.yaml".into(),
            "resources:\n- web.yaml\nconfigMapGenerator:\n- name: greeting\n  literals:\n"
                .to_string()
                + &format!("  - GREETING={greeting}\n"),
        ),
        (
            "app/web.yaml".into(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: {hello}\n        imagePullPolicy: Always\n        envFrom:\n        - configMapRef:\n            name: greeting\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: 8080\n          periodSeconds: 1\n          timeoutSeconds: 2\n"
            ),
        ),
    ]
}

/// What the running Pods of `web` answer, read from each Pod's IP (the host reaches pods on
/// the bridge).
async fn greetings(pods: &Api<Pod>) -> Vec<String> {
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap_or_else(|e| panic!("listing pods: {e}"));
    let mut out = Vec::new();
    for pod in list.items {
        let status = pod.status.unwrap_or_default();
        let ready = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if pod.metadata.deletion_timestamp.is_some() || !ready {
            continue;
        }
        if let Some(ip) = status.pod_ip {
            let body = reqwest::get(format!("http://{ip}:8080/"))
                .await
                .and_then(|r| r.error_for_status());
            if let Ok(r) = body {
                out.push(r.text().await.unwrap_or_default().trim().to_string());
            }
        }
    }
    out
}

// Several threads: kubectl runs blocking while the test's Git server serves the Pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_run_as_deployments_and_a_commit_reaches_the_running_app() {
    let client = cluster::client().await;
    images::require_node(&client).await;
    images::require_images(&["source-controller", "kustomize-controller", "hello"]).await;
    let ns = TestNamespace::new(&client, "incluster").await;
    let selector = format!("incluster-{}", weir_tests::random_id());

    // Install from config/ as a user would, with server-side apply (client-side apply of the
    // same manifests is checked by the install-manifests test).
    let overlay = tempfile::Builder::new()
        .prefix("in-cluster-")
        .tempdir_in(cluster::workspace_root().join("target"))
        .unwrap_or_else(|e| panic!("{e}"));
    write_overlay(overlay.path(), &ns.name, &selector);
    kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-k",
            &overlay.path().display().to_string(),
        ],
        None,
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    for name in ["source-controller", "kustomize-controller"] {
        let d = deployments.clone();
        wait::until(
            Duration::from_secs(120),
            &format!("Deployment {name} available"),
            || {
                let d = d.clone();
                async move {
                    let status = d.get(name).await.ok()?.status?;
                    (status.available_replicas? >= 1).then_some(())
                }
            },
        )
        .await;
    }
    // Leader election is on: each controller holds its Lease in its own namespace.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    wait::until(Duration::from_secs(60), "both controllers' leases", || {
        let leases = leases.clone();
        async move {
            let list = leases.list(&ListParams::default()).await.ok()?;
            let held = list
                .items
                .iter()
                .filter(|l| {
                    l.spec
                        .as_ref()
                        .and_then(|s| s.holder_identity.as_ref())
                        .is_some()
                })
                .count();
            (held >= 2).then_some(())
        }
    })
    .await;

    // A Git repository the source-controller Pod reaches on the node address, over HTTPS with
    // a CA of the test's own (there are no other roots in the image that could verify it).
    let repo = SourceRepo::new("app");
    for (path, body) in app("hello from Git") {
        repo.write(&path, &body);
    }
    repo.commit("the app");
    let server = GitHttpsServer::start_on(repo.root(), NODE_IP).await;
    let manifests = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: git\n  namespace: {ns}\nstringData:\n  username: {user}\n  password: {password}\n  ca.crt: |\n{ca}\n---\napiVersion: source.weir.dev/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: {ns}\n  labels: {{{TEST_LABEL}: {selector}}}\nspec:\n  url: {url}\n  interval: 1h\n  ref: {{branch: main}}\n  secretRef: {{name: git}}\n---\napiVersion: kustomize.weir.dev/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: {ns}\n  labels: {{{TEST_LABEL}: {selector}}}\nspec:\n  sourceRef: {{kind: GitRepository, name: app}}\n  path: ./app\n  interval: 1h\n  prune: true\n  wait: true\n  timeout: 2m\n  targetNamespace: {ns}\n",
        ns = ns.name,
        user = server.username,
        password = server.password,
        ca = server
            .ca_pem
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        url = server.url(&repo.name),
    );
    kubectl(&["apply", "-f", "-"], Some(&manifests));
    let first = repo.head();
    kubectl(
        &[
            "wait",
            "--for=condition=Ready",
            "kustomization/app",
            "-n",
            &ns.name,
            "--timeout=180s",
        ],
        None,
    );
    let url = kubectl(
        &[
            "get",
            "gitrepository/app",
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.status.artifact.url}",
        ],
        None,
    );
    assert!(
        url.starts_with("http://10.88."),
        "artifacts are advertised on the pod IP: {url}"
    );
    let applied = kubectl(
        &[
            "get",
            "kustomization/app",
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.status.lastAppliedRevision}",
        ],
        None,
    );
    assert!(applied.contains(&first), "{applied} applies {first}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    let now = greetings(&pods).await;
    assert_eq!(
        now,
        vec!["hello from Git"; 2],
        "both Pods are Ready and serve Git's greeting"
    );

    // A commit reaches the running app: new ConfigMap (new hash), rollout, new greeting.
    for (path, body) in app("hello from a commit") {
        repo.write(&path, &body);
    }
    let second = repo.commit("a new greeting");
    kubectl(
        &[
            "annotate",
            "--overwrite",
            "gitrepository/app",
            "-n",
            &ns.name,
            &format!("reconcile.weir.dev/requestedAt={second}"),
        ],
        None,
    );
    let p = pods.clone();
    wait::until(
        Duration::from_secs(180),
        "the new greeting from every Pod",
        || {
            let p = p.clone();
            async move {
                let g = greetings(&p).await;
                (g.len() == 2 && g.iter().all(|s| s == "hello from a commit")).then_some(())
            }
        },
    )
    .await;
    // Ready again at the new revision once its health check saw the new Pods Ready.
    let ks_ns = ns.name.clone();
    wait::until(
        Duration::from_secs(120),
        "the Kustomization applied at the new revision",
        || {
            let ks_ns = ks_ns.clone();
            let second = second.clone();
            async move {
                let applied = kubectl(
                    &[
                        "get",
                        "kustomization/app",
                        "-n",
                        &ks_ns,
                        "-o",
                        "jsonpath={.status.lastAppliedRevision}",
                    ],
                    None,
                );
                applied.contains(&second).then_some(())
            }
        },
    )
    .await;

    // Finalizers run while the controllers still do; then the namespace goes.
    kubectl(
        &[
            "delete",
            "kustomization/app",
            "gitrepository/app",
            "-n",
            &ns.name,
            "--timeout=60s",
        ],
        None,
    );
    ns.delete().await;
}
