//! OCI sources against the real API server and a real registry (Debian's docker-registry):
//! charts pushed with the real `helm push` read through an `oci` HelmRepository, manifests
//! pushed with `weir push artifact` read through an OCIRepository and applied by a
//! Kustomization that reports the origin revision.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use weir_api::kustomize::Kustomization;
use weir_api::source::{HelmChart, HelmRepository, OCIRepository};
use weir_tests::chart_repo::{ChartSource, PushOptions, chart};
use weir_tests::controller::KustomizeController;
use weir_tests::registry::Registry;
use weir_tests::sources::{
    Setup, chart_ready, chart_revision, condition, download, file_in_tgz, ready_message,
    repo_ready, sha256,
};

#[path = "support/weir_push.rs"]
mod push;
use push::{SOURCE, weir_push};

fn oci_ready(o: &OCIRepository, status: &str, reason: &str) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && condition(&s.conditions, "Ready")
                .is_some_and(|c| c.status == status && c.reason == reason)
    })
}

fn oci_revision(o: &OCIRepository) -> String {
    o.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn charts_pushed_with_helm_are_pulled_from_an_oci_helm_repository() {
    let s = Setup::new("ocichart").await;
    let registry = Registry::start_with_auth().await;
    let (user, password) = registry.credentials.clone().expect("auth registry");
    let source = ChartSource::new();
    let opts = PushOptions {
        plain_http: true,
        creds: Some((user.clone(), password.clone())),
        ca_file: None,
    };
    let mut pushed = Vec::new();
    for version in ["1.0.0", "1.0.1", "1.1.0"] {
        let tgz = source.package(
            &chart("app")
                .version(version)
                .values("replicas: 1\n")
                .values_file("values-prod.yaml", "replicas: 3\n"),
        );
        source.helm().push(&tgz, &registry.oci_url("charts"), &opts);
        pushed.push(tgz);
    }
    s.secret("login", &[("username", &user), ("password", &password)])
        .await;
    s.secret("wrong", &[("username", &user), ("password", "nope")])
        .await;
    s.create::<HelmRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: registry\nspec:\n  type: oci\n  url: {}\n  insecure: true\n  secretRef:\n    name: login\n",
        registry.oci_url("charts")
    ))
    .await;
    let repo: HelmRepository = s
        .wait("registry", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    assert!(
        repo.status.and_then(|st| st.artifact).is_none(),
        "an oci HelmRepository has no artifact"
    );

    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  version: '~1.0'\n  sourceRef:\n    kind: HelmRepository\n    name: registry\n  interval: 1h\n",
    )
    .await;
    let app: HelmChart = s
        .wait("app", "at 1.0.1", |o| {
            chart_revision(o) == "1.0.1" && chart_ready(o, "True", "Succeeded")
        })
        .await;
    let artifact = app.status.and_then(|st| st.artifact).expect("artifact");
    let tgz = download(&artifact.url).await;
    assert_eq!(sha256(&tgz), artifact.digest);
    assert_eq!(
        tgz,
        std::fs::read(&pushed[1]).expect("pushed chart"),
        "the chart layer is stored as pushed"
    );

    // An exact version is pulled by tag; values files are merged into the package.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: prod\nspec:\n  chart: app\n  version: 1.1.0\n  valuesFiles: [values.yaml, values-prod.yaml]\n  sourceRef:\n    kind: HelmRepository\n    name: registry\n  interval: 1h\n",
    )
    .await;
    let prod: HelmChart = s
        .wait("prod", "at 1.1.0+1", |o| chart_revision(o) == "1.1.0+1")
        .await;
    let url = prod
        .status
        .and_then(|st| st.artifact)
        .expect("artifact")
        .url;
    let values = file_in_tgz(&download(&url).await, "app/values.yaml").expect("values.yaml");
    assert!(values.contains("replicas: 3"), "{values}");

    // No matching tag: the versions that exist are listed, and it is retried.
    s.create::<HelmChart>(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: none\nspec:\n  chart: app\n  version: '>=2'\n  sourceRef:\n    kind: HelmRepository\n    name: registry\n  interval: 1h\n",
    )
    .await;
    let none: HelmChart = s
        .wait("none", "failing", |o| {
            chart_ready(o, "False", "ChartPullError")
        })
        .await;
    let st = none.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(message.contains("1.1.0, 1.0.1, 1.0.0"), "{message}");
    assert!(condition(&st.conditions, "Stalled").is_none());

    // Wrong credentials: AuthenticationFailed, and the stored chart stays.
    let patch = serde_json::json!({"spec": {"secretRef": {"name": "wrong"}}});
    s.api::<HelmRepository>()
        .patch("registry", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let patch = serde_json::json!({"spec": {"version": "1.0.0"}});
    s.api::<HelmChart>()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let failing: HelmChart = s
        .wait("app", "failing", |o| {
            chart_ready(o, "False", "AuthenticationFailed")
        })
        .await;
    let st = failing.status.unwrap_or_default();
    assert_eq!(st.artifact.map(|a| a.revision).as_deref(), Some("1.0.1"));
    s.finish().await;
}

#[tokio::test]
async fn manifests_pushed_with_weir_are_applied_from_an_oci_repository() {
    let s = Setup::new("ocirepo").await;
    let registry = Registry::start_with_auth().await;
    let dir = tempfile::tempdir().expect("tmp");
    let write = |rel: &str, body: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    };
    write("kustomization.yaml", "resources:\n- app.yaml\n");
    write(
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: hello\n",
    );
    write("notes.md", "not a manifest\n");
    let rev1 = "main@sha1:1111111111111111111111111111111111111111";
    let reference = format!("{}:v1.0.0", registry.oci_url("manifests/app"));
    weir_push(&registry, &reference, dir.path(), rev1).await;
    let digest1 = registry.manifest_digest("manifests/app", "v1.0.0").await;

    s.secret(
        "registry",
        &[(".dockerconfigjson", &registry.docker_config_json())],
    )
    .await;
    s.create::<OCIRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: OCIRepository\nmetadata:\n  name: app\nspec:\n  url: {}\n  ref:\n    semver: '>=1.0.0'\n  insecure: true\n  secretRef:\n    name: registry\n  ignore: '*.md'\n  interval: 1h\n",
        registry.oci_url("manifests/app")
    ))
    .await;
    let expected = format!("v1.0.0@{digest1}");
    let repo: OCIRepository = s
        .wait("app", &format!("at {expected}"), |o| {
            oci_revision(o) == expected && oci_ready(o, "True", "Succeeded")
        })
        .await;
    weir_tests::sources::kubectl_wait("ocirepository", "app", &s.ns.name);
    let artifact = repo
        .status
        .clone()
        .and_then(|st| st.artifact)
        .expect("artifact");
    assert_eq!(
        artifact
            .metadata
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some(rev1)
    );
    assert_eq!(
        artifact
            .metadata
            .get("org.opencontainers.image.source")
            .map(String::as_str),
        Some(SOURCE)
    );
    let tgz = download(&artifact.url).await;
    assert_eq!(sha256(&tgz), artifact.digest);
    assert!(file_in_tgz(&tgz, "app.yaml").is_some());
    assert!(
        file_in_tgz(&tgz, "notes.md").is_none(),
        "spec.ignore applied"
    );

    // A Kustomization applies it and reports the origin revision.
    let kctl = KustomizeController::start(&s.selector, &[]).await;
    s.create::<Kustomization>(&format!(
        "apiVersion: kustomize.weir.dev/v1\nkind: Kustomization\nmetadata:\n  name: app\nspec:\n  sourceRef:\n    kind: OCIRepository\n    name: app\n  path: ./\n  interval: 1h\n  prune: true\n  targetNamespace: {}\n",
        s.ns.name
    ))
    .await;
    let applied: Kustomization = s
        .wait("app", "applied", |k: &Kustomization| {
            k.status
                .as_ref()
                .is_some_and(|st| st.last_applied_revision.as_deref() == Some(expected.as_str()))
        })
        .await;
    assert_eq!(
        applied
            .status
            .as_ref()
            .and_then(|st| st.last_applied_origin_revision.as_deref()),
        Some(rev1),
        "log:\n{}",
        kctl.log()
    );
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = s.api();
    let cm = cms.get("app").await.expect("ConfigMap applied");
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("greeting")
            .map(String::as_str),
        Some("hello")
    );

    // A higher tag is a new revision, applied with its origin revision.
    write(
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: bonjour\n",
    );
    let rev2 = "main@sha1:2222222222222222222222222222222222222222";
    let reference = format!("{}:v1.1.0", registry.oci_url("manifests/app"));
    weir_push(&registry, &reference, dir.path(), rev2).await;
    let digest2 = registry.manifest_digest("manifests/app", "v1.1.0").await;
    s.request_reconcile::<OCIRepository>("app").await;
    let expected = format!("v1.1.0@{digest2}");
    s.wait::<OCIRepository>("app", &format!("at {expected}"), |o| {
        oci_revision(o) == expected
    })
    .await;
    s.wait::<Kustomization>("app", "at the new origin revision", |k| {
        k.status
            .as_ref()
            .is_some_and(|st| st.last_applied_origin_revision.as_deref() == Some(rev2))
    })
    .await;
    wait_greeting(&cms, "bonjour").await;

    // A layer media type that is not there: a precise error, the artifact stays.
    let patch =
        serde_json::json!({"spec": {"layerSelector": {"mediaType": "application/x-missing"}}});
    s.api::<OCIRepository>()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let bad: OCIRepository = s
        .wait("app", "failing", |o| {
            oci_ready(o, "False", "OCIArtifactLayerOperationFailed")
        })
        .await;
    let st = bad.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(
        message.contains("application/x-missing")
            && message.contains("application/vnd.cncf.flux.content.v1.tar+gzip"),
        "{message}"
    );
    assert_eq!(st.artifact.map(|a| a.revision), Some(expected.clone()));

    // Copy keeps the layer's bytes as pushed.
    let patch = serde_json::json!({"spec": {"layerSelector": {"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "operation": "copy"}}});
    s.api::<OCIRepository>()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let copied: OCIRepository = s
        .wait("app", "copied", |o| oci_ready(o, "True", "Succeeded"))
        .await;
    let artifact = copied.status.and_then(|st| st.artifact).expect("artifact");
    let client = weir_shared::oci::RegistryClient::new(&weir_shared::oci::RegistryOptions {
        insecure: true,
        auth: weir_shared::oci::RegistryAuth::Basic {
            username: registry.credentials.clone().expect("creds").0,
            password: registry.credentials.clone().expect("creds").1,
        },
        ..Default::default()
    })
    .expect("client");
    let url = weir_shared::oci::OciUrl::parse(&registry.oci_url("manifests/app")).expect("url");
    let manifest = client
        .resolve(&url, &weir_shared::oci::Selector::Tag("v1.1.0".into()))
        .await
        .expect("manifest");
    assert_eq!(
        artifact.digest, manifest.layers[0].digest,
        "the stored file is the layer itself"
    );

    // A digest ref pins the first push: revision is the bare digest.
    let patch = serde_json::json!({"spec": {"layerSelector": null, "ref": {"digest": digest1}}});
    s.api::<OCIRepository>()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    s.wait::<OCIRepository>("app", "pinned to the digest", |o| {
        oci_revision(o) == digest1 && oci_ready(o, "True", "Succeeded")
    })
    .await;

    // Wrong login: AuthenticationFailed.
    s.secret(
        "wrong",
        &[(
            ".dockerconfigjson",
            &registry
                .docker_config_json()
                .replace(&base64_of(&registry.creds()), &base64_of("user:wrong")),
        )],
    )
    .await;
    let patch = serde_json::json!({"spec": {"secretRef": {"name": "wrong"}, "ref": {"tag": "v1.0.0", "semver": null, "digest": null}}});
    s.api::<OCIRepository>()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    s.wait::<OCIRepository>("app", "failing", |o| {
        oci_ready(o, "False", "AuthenticationFailed")
    })
    .await;
    weir_tests::wait::delete_all(
        &s.api::<Kustomization>(),
        Duration::from_secs(30),
        "Kustomizations",
    )
    .await;
    drop(kctl);
    s.finish().await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn wait_greeting(cms: &kube::Api<k8s_openapi::api::core::v1::ConfigMap>, want: &str) {
    weir_tests::wait::until(Duration::from_secs(30), &format!("greeting {want}"), || {
        let cms = cms.clone();
        async move {
            let cm = cms.get("app").await.ok()?;
            (cm.data?.get("greeting").map(String::as_str) == Some(want)).then_some(())
        }
    })
    .await;
}

/// The README's `weir push artifact` and `weir pull artifact` commands, run as written from
/// the workspace root against the local cluster's registry (127.0.0.1:5000, started by
/// `cargo xtask cluster up`), give back the pushed files.
#[test]
fn the_readme_push_and_pull_commands_work_as_written() {
    let root = weir_tests::cluster::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("cargo run -p weir-cli -- push artifact ")
                || l.starts_with("cargo run -p weir-cli -- pull artifact ")
        })
        .collect();
    assert_eq!(
        commands.len(),
        2,
        "the README shows a push and a pull: {commands:?}"
    );
    let reachable = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5000".parse().expect("address"),
        Duration::from_secs(2),
    );
    assert!(
        reachable.is_ok(),
        "the cluster's registry on 127.0.0.1:5000 is not running: start it with `cargo xtask cluster up`"
    );
    for command in &commands {
        let args: Vec<&str> = command
            .trim_start_matches("cargo run -p weir-cli -- ")
            .split_whitespace()
            .collect();
        let out = std::process::Command::new(weir_tests::controller::binary("weir"))
            .args(&args)
            .current_dir(&root)
            .output()
            .expect("weir runs");
        assert!(
            out.status.success(),
            "`{command}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for sample in [
        "gitrepository.yaml",
        "helmrepository.yaml",
        "ocirepository.yaml",
    ] {
        let pulled = std::fs::read(root.join("target/weir-samples").join(sample))
            .unwrap_or_else(|e| panic!("{sample} was not pulled: {e}"));
        let original = std::fs::read(root.join("config/samples").join(sample)).expect("sample");
        assert_eq!(pulled, original, "{sample}");
    }
}
