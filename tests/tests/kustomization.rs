//! kustomize-controller end to end: Git commit → objects in the cluster, updates, prune,
//! revert, drift correction, CRDs with custom resources, dependencies, health checks,
//! failures that keep the last state, tampered artifacts, substitution, suspend, deletion
//! policies, immutable fields and objects the API server refuses.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use weir_api::kustomize::{
    DeletionPolicy, DependencyReference, NamespacedObjectKindReference, PostBuild,
};
use weir_shared::conditions;
use weir_tests::gitops::{GitOps, fake_source};
use weir_tests::images;

fn deployment(name: &str, replicas: u32, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n";

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.ok().flatten().is_some()
}

async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    weir_tests::wait::until(
        Duration::from_secs(30),
        &format!("{name} deleted"),
        || async move { (!exists(api, name).await).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn commits_apply_update_prune_and_revert() {
    let g = GitOps::new(
        "ks-loop",
        &[
            ("app/kustomization.yaml", "resources:\n- web.yaml\n- service.yaml\n- settings.yaml\n- keep.yaml\n"),
            ("app/web.yaml", &deployment("web", 0, "nginx:1.25")),
            ("app/service.yaml", SERVICE),
            ("app/settings.yaml", &configmap("settings", "one")),
            ("app/keep.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  annotations:\n    kustomize.weir.dev/prune: Disabled\n"),
        ],
    )
    .await;
    g.create(&g.kustomization("app", "./app")).await;
    let first = g.wait_applied("app", None).await;
    let first_revision = first
        .status
        .clone()
        .and_then(|s| s.last_applied_revision)
        .unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(g.client().clone(), g.ns());
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let web = deployments
        .get("web")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        web.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kustomize.weir.dev/name"))
            .map(String::as_str),
        Some("app")
    );
    let entries = first
        .status
        .and_then(|s| s.inventory)
        .map(|i| i.entries.len())
        .unwrap_or(0);
    assert_eq!(entries, 4, "inventory lists every applied object");

    // An edit in Git updates the cluster.
    g.source
        .repo
        .write("app/settings.yaml", &configmap("settings", "two"));
    let second = g.commit("two").await;
    g.wait_applied("app", Some(&second)).await;
    let value = cms
        .get("settings")
        .await
        .ok()
        .and_then(|c| c.data)
        .and_then(|d| d.get("value").cloned());
    assert_eq!(value.as_deref(), Some("two"));

    // A file removed in Git is pruned; the prune-disabled object survives.
    g.source.repo.write(
        "app/kustomization.yaml",
        "resources:\n- web.yaml\n- settings.yaml\n",
    );
    let third = g.commit("drop service and keep").await;
    g.wait_applied("app", Some(&third)).await;
    let services: Api<Service> = Api::namespaced(g.client().clone(), g.ns());
    wait_gone(&services, "web").await;
    assert!(
        exists(&cms, "keep").await,
        "kustomize.weir.dev/prune: Disabled keeps the object"
    );

    // git revert restores the previous state.
    g.source.repo.git(&["revert", "--no-edit", "HEAD"]);
    let reverted = g.commit("revert").await;
    let _ = reverted;
    let sha = g.source.repo.head();
    g.wait_applied("app", Some(&format!("main@sha1:{sha}")))
        .await;
    assert!(exists(&services, "web").await, "the service is back");
    assert_ne!(first_revision, format!("main@sha1:{sha}"));
    g.finish().await;
}

#[tokio::test]
async fn drift_from_kubectl_is_reverted() {
    let g = GitOps::new(
        "ks-drift",
        &[
            ("app/kustomization.yaml", "resources:\n- web.yaml\n"),
            ("app/web.yaml", &deployment("web", 1, "nginx:1.25")),
        ],
    )
    .await;
    g.create(&g.kustomization("app", "./app")).await;
    g.wait_applied("app", None).await;
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .env("KUBECONFIG", weir_tests::cluster::kubeconfig())
            .args(args)
            .args(["-n", g.ns()])
            .output()
            .unwrap_or_else(|e| panic!("kubectl: {e}"));
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kubectl(&["scale", "deployment/web", "--replicas=4"]);
    kubectl(&["label", "deployment/web", "drift=yes"]);
    g.request("app").await;
    let deployments: Api<Deployment> = Api::namespaced(g.client().clone(), g.ns());
    weir_tests::wait::until(Duration::from_secs(30), "drift reverted", || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("web").await.ok()?;
            let replicas = d.spec.and_then(|s| s.replicas);
            let labels = d.metadata.labels.unwrap_or_default();
            (replicas == Some(1) && !labels.contains_key("drift")).then_some(())
        }
    })
    .await;
    g.finish().await;
}

#[tokio::test]
async fn crd_and_custom_resource_in_one_kustomization() {
    let group = format!("{}.weir.test", weir_tests::random_id());
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.{group}\nspec:\n  group: {group}\n  names:\n    kind: Widget\n    plural: widgets\n    singular: widget\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
    );
    let cr =
        format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n");
    let g = GitOps::new(
        "ks-crd",
        &[
            (
                "app/kustomization.yaml",
                "resources:\n- crd.yaml\n- widget.yaml\n",
            ),
            ("app/crd.yaml", &crd),
            ("app/widget.yaml", &cr),
        ],
    )
    .await;
    let mut k = g.kustomization("app", "./app");
    k.spec.deletion_policy = Some(DeletionPolicy::Delete);
    g.create(&k).await;
    let applied = g.wait_applied("app", None).await;
    let ids: Vec<String> = applied
        .status
        .and_then(|s| s.inventory)
        .map(|i| i.entries.into_iter().map(|e| e.id).collect())
        .unwrap_or_default();
    assert!(
        ids.contains(&format!("{}_w_{group}_Widget", g.ns())),
        "{ids:?}"
    );
    assert!(
        ids.contains(&format!(
            "_widgets.{group}_apiextensions.k8s.io_CustomResourceDefinition"
        )),
        "{ids:?}"
    );
    g.finish().await;
}

#[tokio::test]
async fn dependencies_order_reconciles_and_cycles_stall() {
    let g = GitOps::new(
        "ks-deps",
        &[
            ("first/kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("first/cm.yaml", &configmap("first", "1")),
            ("second/kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("second/cm.yaml", &configmap("second", "2")),
        ],
    )
    .await;
    let mut second = g.kustomization("second", "./second");
    second.spec.depends_on = vec![DependencyReference {
        name: "first".into(),
        namespace: None,
    }];
    g.create(&second).await;
    let waiting = g.wait_failed("second", "DependencyNotReady").await;
    assert!(
        GitOps::message(&waiting).contains("first"),
        "{}",
        GitOps::message(&waiting)
    );
    g.create(&g.kustomization("first", "./first")).await;
    g.wait_applied("first", None).await;
    g.wait_applied("second", None).await;

    let mut a = g.kustomization("cycle-a", "./first");
    a.spec.depends_on = vec![DependencyReference {
        name: "cycle-b".into(),
        namespace: None,
    }];
    let mut b = g.kustomization("cycle-b", "./second");
    b.spec.depends_on = vec![DependencyReference {
        name: "cycle-a".into(),
        namespace: None,
    }];
    g.create(&a).await;
    g.create(&b).await;
    let stalled = g.wait_failed("cycle-a", "DependencyCycle").await;
    assert!(conditions::is_true(
        &stalled.status.clone().unwrap_or_default().conditions,
        "Stalled"
    ));
    assert!(
        GitOps::message(&stalled).contains("cycle-b"),
        "{}",
        GitOps::message(&stalled)
    );
    g.finish().await;
}

#[tokio::test]
async fn health_checks_pass_time_out_and_fail_fast() {
    // Real workloads on the real node: a Deployment whose Pods pass their readiness probe, one
    // whose probe always fails, and a Job whose container exits 1.
    let hello = images::hello();
    let ready_web = |name: &str, ready: bool| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {hello}\n        imagePullPolicy: Always\n        env:\n        - name: READY\n          value: \"{ready}\"\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: 8080\n          periodSeconds: 1\n          timeoutSeconds: 2\n"
        )
    };
    let failing_job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: {hello}\n        imagePullPolicy: Always\n        args: [exit, \"1\"]\n"
    );
    let g = GitOps::new(
        "ks-health",
        &[
            ("good/kustomization.yaml", "resources:\n- web.yaml\n"),
            ("good/web.yaml", &ready_web("web", true)),
            ("slow/kustomization.yaml", "resources:\n- slow.yaml\n"),
            ("slow/slow.yaml", &ready_web("slow", false)),
            ("bad/kustomization.yaml", "resources:\n- job.yaml\n"),
            ("bad/job.yaml", &failing_job),
        ],
    )
    .await;
    images::require_node(g.client()).await;
    // The readiness probe never passes: the Deployment never becomes available.
    let mut slow = g.kustomization("slow", "./slow");
    slow.spec.wait = true;
    slow.spec.timeout = Some("10s".into());
    g.create(&slow).await;
    let timed_out = g.wait_failed("slow", "HealthCheckFailed").await;
    assert!(
        GitOps::message(&timed_out).contains("timed out"),
        "{}",
        GitOps::message(&timed_out)
    );

    let mut good = g.kustomization("good", "./good");
    good.spec.health_checks = vec![NamespacedObjectKindReference {
        api_version: Some("apps/v1".into()),
        kind: "Deployment".into(),
        name: "web".into(),
        namespace: None,
    }];
    g.create(&good).await;
    let healthy = g.wait_applied("good", None).await;
    assert!(conditions::is_true(
        &healthy.status.unwrap_or_default().conditions,
        "Healthy"
    ));

    let mut bad = g.kustomization("bad", "./bad");
    bad.spec.wait = true;
    bad.spec.timeout = Some("90s".into());
    let started = std::time::Instant::now();
    g.create(&bad).await;
    let failed = g.wait_failed("bad", "HealthCheckFailed").await;
    assert!(
        GitOps::message(&failed).contains("job failed"),
        "fails fast, not by timeout: {}",
        GitOps::message(&failed)
    );
    assert!(started.elapsed() < Duration::from_secs(80));
    g.finish().await;
}

#[tokio::test]
async fn a_build_error_keeps_the_last_state_and_prunes_nothing() {
    let g = GitOps::new(
        "ks-builderr",
        &[
            ("app/kustomization.yaml", "resources:\n- a.yaml\n- b.yaml\n"),
            ("app/a.yaml", &configmap("a", "1")),
            ("app/b.yaml", &configmap("b", "1")),
        ],
    )
    .await;
    g.create(&g.kustomization("app", "./app")).await;
    let good = g.wait_applied("app", None).await;
    let good_revision = good.status.and_then(|s| s.last_applied_revision);
    // b.yaml is dropped and the kustomization broken in the same commit.
    g.source.repo.write(
        "app/kustomization.yaml",
        "resources:\n- a.yaml\n- missing.yaml\n",
    );
    g.commit("broken").await;
    let failed = g.wait_failed("app", "BuildFailed").await;
    assert!(
        GitOps::message(&failed).contains("missing.yaml"),
        "{}",
        GitOps::message(&failed)
    );
    let st = failed.status.unwrap_or_default();
    assert_eq!(
        st.last_applied_revision, good_revision,
        "the last applied revision stays"
    );
    assert_ne!(st.last_attempted_revision, good_revision);
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    assert!(
        exists(&cms, "b").await,
        "nothing is pruned after a failed build"
    );
    g.finish().await;
}

#[tokio::test]
async fn a_tampered_artifact_is_refused() {
    let g = GitOps::new(
        "ks-tamper",
        &[("app/kustomization.yaml", "resources: []\n")],
    )
    .await;
    let repos: Api<weir_api::source::GitRepository> = Api::namespaced(g.client().clone(), g.ns());
    let real = weir_tests::objects::wait_ready(&repos, "repo")
        .await
        .status
        .and_then(|s| s.artifact)
        .unwrap_or_else(|| panic!("no artifact"));
    let mut artifact = serde_json::to_value(&real).unwrap_or_default();
    artifact["digest"] = serde_json::json!(format!("sha256:{}", "0".repeat(64)));
    fake_source(g.client(), g.ns(), "tampered", artifact).await;
    let mut k = g.kustomization("app", "./app");
    k.spec.source_ref.name = "tampered".into();
    g.create(&k).await;
    let failed = g.wait_failed("app", "ArtifactFailed").await;
    assert!(
        GitOps::message(&failed).contains("refusing to use it"),
        "{}",
        GitOps::message(&failed)
    );
    g.finish().await;
}

#[tokio::test]
async fn substitution_is_strict_and_can_be_disabled_per_object() {
    let g = GitOps::new(
        "ks-subst",
        &[
            ("app/kustomization.yaml", "resources:\n- cm.yaml\n- raw.yaml\n"),
            ("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${env}\ndata:\n  region: ${region:=eu}\n  level: ${level}\n"),
            ("app/raw.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.weir.dev/substitute: disabled\ndata:\n  script: echo ${HOME}\n"),
        ],
    )
    .await;
    let mut k = g.kustomization("app", "./app");
    k.spec.post_build = Some(PostBuild {
        substitute: [("env".to_string(), "prod".to_string())].into(),
        substitute_from: vec![],
    });
    g.create(&k).await;
    let failed = g.wait_failed("app", "BuildFailed").await;
    assert!(
        GitOps::message(&failed).contains("\"level\""),
        "names the unset variable: {}",
        GitOps::message(&failed)
    );
    let patch = serde_json::json!({"spec": {"postBuild": {"substitute": {"env": "prod", "level": "debug"}}}});
    g.ks.patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_applied("app", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let cm = cms.get("cm-prod").await.unwrap_or_else(|e| panic!("{e}"));
    let data = cm.data.unwrap_or_default();
    assert_eq!(
        (
            data.get("region").map(String::as_str),
            data.get("level").map(String::as_str)
        ),
        (Some("eu"), Some("debug"))
    );
    let raw = cms
        .get("raw")
        .await
        .ok()
        .and_then(|c| c.data)
        .and_then(|d| d.get("script").cloned());
    assert_eq!(raw.as_deref(), Some("echo ${HOME}"));
    g.finish().await;
}

#[tokio::test]
async fn suspend_resume_and_deletion_policies() {
    let files: Vec<(String, String)> = ["orphan", "delete", "mirror"]
        .iter()
        .flat_map(|n| {
            vec![
                (
                    format!("{n}/kustomization.yaml"),
                    "resources:\n- cm.yaml\n".to_string(),
                ),
                (format!("{n}/cm.yaml"), configmap(&format!("cm-{n}"), "1")),
            ]
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let g = GitOps::new("ks-delete", &refs).await;
    for (name, policy) in [
        ("orphan", DeletionPolicy::Orphan),
        ("delete", DeletionPolicy::Delete),
        ("mirror", DeletionPolicy::MirrorPrune),
    ] {
        let mut k = g.kustomization(name, &format!("./{name}"));
        k.spec.deletion_policy = Some(policy);
        g.create(&k).await;
    }
    for name in ["orphan", "delete", "mirror"] {
        g.wait_applied(name, None).await;
    }
    // Suspended: a new commit is not applied.
    let patch = serde_json::json!({"spec": {"suspend": true}});
    g.ks.patch("mirror", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    g.source
        .repo
        .write("mirror/cm.yaml", &configmap("cm-mirror", "2"));
    let rev = g.commit("while suspended").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let value = |cms: Api<ConfigMap>| async move {
        cms.get("cm-mirror")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    assert_eq!(value(cms.clone()).await.as_deref(), Some("1"));
    let patch = serde_json::json!({"spec": {"suspend": false}});
    g.ks.patch("mirror", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_applied("mirror", Some(&rev)).await;
    assert_eq!(value(cms.clone()).await.as_deref(), Some("2"));

    for name in ["orphan", "delete", "mirror"] {
        g.ks.delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        wait_gone(&g.ks, name).await;
    }
    assert!(exists(&cms, "cm-orphan").await, "Orphan leaves objects");
    assert!(!exists(&cms, "cm-delete").await, "Delete removes objects");
    assert!(
        !exists(&cms, "cm-mirror").await,
        "MirrorPrune removes objects when prune is set"
    );
    g.finish().await;
}

#[tokio::test]
async fn immutable_changes_need_force_and_invalid_objects_are_named() {
    let job = |image: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: {image}\n"
        )
    };
    let g = GitOps::new(
        "ks-immutable",
        &[
            ("app/kustomization.yaml", "resources:\n- job.yaml\n"),
            ("app/job.yaml", &job("busybox:1")),
        ],
    )
    .await;
    g.create(&g.kustomization("app", "./app")).await;
    g.wait_applied("app", None).await;
    g.source.repo.write("app/job.yaml", &job("busybox:2"));
    let rev = g.commit("change immutable template").await;
    let failed = g.wait_failed("app", "ReconciliationFailed").await;
    assert!(
        GitOps::message(&failed).contains("Job/"),
        "names the object: {}",
        GitOps::message(&failed)
    );
    assert!(
        GitOps::message(&failed).contains("immutable"),
        "{}",
        GitOps::message(&failed)
    );
    let patch = serde_json::json!({"spec": {"force": true}});
    g.ks.patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_applied("app", Some(&rev)).await;

    g.source.repo.write(
        "app/job.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Invalid_Name\n",
    );
    g.commit("invalid name").await;
    let denied = g.wait_failed("app", "ReconciliationFailed").await;
    let message = GitOps::message(&denied);
    assert!(
        message.contains("Invalid_Name") && message.contains("RFC 1123"),
        "{message}"
    );
    g.finish().await;
}
