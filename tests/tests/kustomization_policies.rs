//! Per-object apply policies, generated kustomizations, variables from ConfigMaps and
//! Secrets, and refusing cross-namespace sources.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use weir_api::kustomize::{PostBuild, SubstituteReference};
use weir_tests::controller::{KustomizeController, TEST_LABEL};
use weir_tests::gitops::GitOps;

fn cm(name: &str, value: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    note: test\n{annotations}data:\n  value: \"{value}\"\n"
    )
}

async fn value(api: &Api<ConfigMap>, name: &str) -> Option<String> {
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.data)
        .and_then(|d| d.get("value").cloned())
}

#[tokio::test]
async fn ssa_annotations_ignore_create_once_and_merge() {
    let files = |v: &str| {
        vec![
            (
                "app/ignored.yaml".to_string(),
                cm("ignored", v, "    kustomize.weir.dev/ssa: Ignore\n"),
            ),
            (
                "app/once.yaml".to_string(),
                cm("once", v, "    kustomize.weir.dev/ssa: IfNotPresent\n"),
            ),
            (
                "app/merged.yaml".to_string(),
                cm("merged", v, "    kustomize.weir.dev/ssa: Merge\n"),
            ),
            ("app/normal.yaml".to_string(), cm("normal", v, "")),
        ]
    };
    let initial = files("1");
    let refs: Vec<(&str, &str)> = initial
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    // No kustomization.yaml: one is generated over every manifest in the path.
    let g = GitOps::new("ks-ssa", &refs).await;
    g.create(&g.kustomization("app", "./app")).await;
    g.wait_applied("app", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    assert_eq!(
        value(&cms, "ignored").await,
        None,
        "ssa: Ignore is never applied"
    );
    assert_eq!(value(&cms, "once").await.as_deref(), Some("1"));

    for name in ["merged", "normal"] {
        let out = std::process::Command::new("kubectl")
            .env("KUBECONFIG", weir_tests::cluster::kubeconfig())
            .args(["label", "configmap", name, "handmade=yes", "-n", g.ns()])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (path, body) in files("2") {
        g.source.repo.write(&path, &body);
    }
    let rev = g.commit("values 2").await;
    g.wait_applied("app", Some(&rev)).await;
    assert_eq!(
        value(&cms, "once").await.as_deref(),
        Some("1"),
        "IfNotPresent does not update"
    );
    assert_eq!(value(&cms, "normal").await.as_deref(), Some("2"));
    assert_eq!(value(&cms, "merged").await.as_deref(), Some("2"));
    let label = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get(name)
                .await
                .ok()
                .and_then(|c| c.metadata.labels)
                .and_then(|l| l.get("handmade").cloned())
        }
    };
    assert_eq!(
        label("merged").await.as_deref(),
        Some("yes"),
        "Merge keeps fields other managers added"
    );
    assert_eq!(
        label("normal").await,
        None,
        "Override takes hand-made fields back"
    );
    g.finish().await;
}

#[tokio::test]
async fn variables_come_from_configmaps_and_secrets() {
    let g = GitOps::new(
        "ks-substfrom",
        &[("app/kustomization.yaml", "resources:\n- cm.yaml\n"), ("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: ${a}\n  b: ${b}\n  c: ${c}\n")],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let vars = ConfigMap {
        metadata: ObjectMeta {
            name: Some("vars".into()),
            ..Default::default()
        },
        data: Some(
            [
                ("a".to_string(), "from-configmap".to_string()),
                ("b".to_string(), "overridden".to_string()),
            ]
            .into(),
        ),
        ..Default::default()
    };
    cms.create(&PostParams::default(), &vars)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    weir_tests::objects::secret(g.client(), g.ns(), "secret-vars", &[("b", "from-secret")]).await;
    let mut k = g.kustomization("app", "./app");
    k.spec.post_build = Some(PostBuild {
        substitute: [("c".to_string(), "inline".to_string())].into(),
        substitute_from: vec![
            SubstituteReference {
                kind: "ConfigMap".into(),
                name: "vars".into(),
                optional: false,
            },
            SubstituteReference {
                kind: "Secret".into(),
                name: "secret-vars".into(),
                optional: false,
            },
            SubstituteReference {
                kind: "ConfigMap".into(),
                name: "absent".into(),
                optional: true,
            },
        ],
    });
    g.create(&k).await;
    g.wait_applied("app", None).await;
    let data = cms
        .get("cm")
        .await
        .ok()
        .and_then(|c| c.data)
        .unwrap_or_default();
    let get = |k: &str| data.get(k).map(String::as_str);
    assert_eq!(
        (get("a"), get("b"), get("c")),
        (Some("from-configmap"), Some("from-secret"), Some("inline"))
    );

    // Changing the ConfigMap reconciles at once (the interval is an hour).
    let patch = serde_json::json!({"data": {"a": "changed"}});
    cms.patch(
        "vars",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    weir_tests::wait::until(
        std::time::Duration::from_secs(30),
        "the new variable applied",
        || {
            let cms = cms.clone();
            async move { (cms.get("cm").await.ok()?.data?.get("a")? == "changed").then_some(()) }
        },
    )
    .await;
    g.finish().await;
}

#[tokio::test]
async fn cross_namespace_sources_can_be_refused() {
    let g = GitOps::new("ks-xns", &[("app/kustomization.yaml", "resources: []\n")]).await;
    let selector = weir_tests::random_id();
    let _strict = KustomizeController::start(&selector, &["--no-cross-namespace-refs"]).await;
    let mut k = g.kustomization("app", "./app");
    k.metadata.labels = Some([(TEST_LABEL.to_string(), selector.clone())].into());
    k.spec.source_ref.namespace = Some("somewhere-else".into());
    g.create(&k).await;
    let refused = g.wait_failed("app", "AccessDenied").await;
    assert!(
        GitOps::message(&refused).contains("--no-cross-namespace-refs"),
        "{}",
        GitOps::message(&refused)
    );
    let stalled = refused.status.unwrap_or_default();
    assert!(weir_shared::conditions::is_true(
        &stalled.conditions,
        "Stalled"
    ));
    g.finish().await;
}

#[tokio::test]
async fn spec_overrides_history_and_the_force_annotation() {
    let job = |image: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\n  annotations:\n    kustomize.weir.dev/force: Enabled\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: {image}\n"
        )
    };
    let g = GitOps::new(
        "ks-overrides",
        &[
            (
                "app/kustomization.yaml",
                "resources:\n- cm.yaml\n- job.yaml\n",
            ),
            ("app/cm.yaml", &cm("settings", "1", "")),
            ("app/job.yaml", &job("busybox:1")),
            (
                "app/extra/kustomization.yaml",
                "kind: Component\nresources:\n- extra.yaml\n",
            ),
            ("app/extra/extra.yaml", &cm("extra", "x", "")),
        ],
    )
    .await;
    let mut k = g.kustomization("app", "./app");
    k.spec.name_prefix = Some("p-".into());
    k.spec.components = vec!["extra".into()];
    k.spec.images = vec![weir_api::kustomize::Image {
        name: "busybox".into(),
        new_tag: Some("1.36".into()),
        ..Default::default()
    }];
    k.spec.common_metadata = Some(weir_api::kustomize::CommonMetadata {
        labels: [("team".to_string(), "platform".to_string())].into(),
        annotations: [("owner".to_string(), "weir".to_string())].into(),
    });
    k.spec.patches = vec![weir_api::kustomize::Patch {
        patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  patched: \"yes\"\n".into(),
        target: Some(weir_api::kustomize::Selector { kind: Some("ConfigMap".into()), name: Some("settings".into()), ..Default::default() }),
    }];
    g.create(&k).await;
    let applied = g.wait_applied("app", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let settings = cms
        .get("p-settings")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        settings
            .data
            .unwrap_or_default()
            .get("patched")
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        settings
            .metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("platform")
    );
    assert_eq!(
        settings
            .metadata
            .annotations
            .unwrap_or_default()
            .get("owner")
            .map(String::as_str),
        Some("weir")
    );
    assert!(
        value(&cms, "p-extra").await.is_some(),
        "the component was applied"
    );
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(g.client().clone(), g.ns());
    let image = jobs
        .get("p-once")
        .await
        .ok()
        .and_then(|j| j.spec?.template.spec?.containers.first()?.image.clone());
    assert_eq!(image.as_deref(), Some("busybox:1.36"));
    let history = applied.status.clone().unwrap_or_default().history;
    assert_eq!(history.len(), 1);
    assert!(
        history[0].digest.starts_with("sha256:")
            && history[0].last_reconciled_status == "Succeeded",
        "{history:?}"
    );

    // An immutable change with the force annotation recreates the Job without spec.force.
    g.source.repo.write("app/job.yaml", &job("alpine:3"));
    let rev = g.commit("new job image").await;
    let second = g.wait_applied("app", Some(&rev)).await;
    let image = jobs
        .get("p-once")
        .await
        .ok()
        .and_then(|j| j.spec?.template.spec?.containers.first()?.image.clone());
    assert_eq!(image.as_deref(), Some("alpine:3"));
    assert_eq!(
        second.status.unwrap_or_default().history.len(),
        2,
        "a new build is a new history entry"
    );
    g.finish().await;
}
