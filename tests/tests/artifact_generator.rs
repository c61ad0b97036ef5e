//! ArtifactGenerator and ExternalArtifact against the real API server, real Git servers and
//! both controllers: a monorepo split into per-folder artifacts where a commit to one folder
//! reconciles only that folder's consumer, composition from two repositories with the Merge
//! strategy, ExternalArtifacts written by a third party, each error case, suspension,
//! removal of an output and deletion.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use weir_api::kustomize::Kustomization;
use weir_api::source::{ExternalArtifact, HelmChart, HelmRepository};
use weir_api::source_extensions::{ArtifactGenerator, GENERATOR_LABEL, RECONCILE_ANNOTATION};
use weir_shared::conditions;
use weir_tests::chart_repo::{ChartRepoServer, ChartSource, chart};
use weir_tests::controller::TEST_LABEL;
use weir_tests::git_https::GitHttpsServer;
use weir_tests::gitops::GitOps;
use weir_tests::gitrepo::SourceRepo;
use weir_tests::objects::{self, GitRepositoryBuilder};

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// The reference monorepo layout: a base, a staging overlay and infrastructure.
fn monorepo() -> Vec<(&'static str, String)> {
    vec![
        (
            "apps/base/kustomization.yaml",
            "resources:\n- app.yaml\n".to_string(),
        ),
        ("apps/base/app.yaml", configmap("app", "base")),
        (
            "apps/staging/kustomization.yaml",
            "resources:\n- ../base\n- staging.yaml\n".to_string(),
        ),
        ("apps/staging/staging.yaml", configmap("staging", "v1")),
        (
            "infrastructure/controllers/kustomization.yaml",
            "resources:\n- controllers.yaml\n".to_string(),
        ),
        (
            "infrastructure/controllers/controllers.yaml",
            configmap("controllers", "v1"),
        ),
        ("README.md", "the monorepo\n".to_string()),
    ]
}

const SPLIT: &str = "apiVersion: source.extensions.weir.dev/v1beta1
kind: ArtifactGenerator
metadata:
  name: split
spec:
  sources:
  - alias: mono
    kind: GitRepository
    name: repo
  artifacts:
  - name: apps
    originRevision: '@mono'
    copy:
    - from: '@mono/apps/**'
      to: '@artifact/'
  - name: infrastructure
    copy:
    - from: '@mono/infrastructure/**'
      to: '@artifact/'
      exclude: ['*.md']
";

async fn create_generator(g: &GitOps, yaml: &str) -> ArtifactGenerator {
    create_labelled(g, yaml).await
}

/// Creates an object from YAML in the test namespace, labelled for this test's controllers.
async fn create_labelled<K>(g: &GitOps, yaml: &str) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let mut obj: K = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    obj.meta_mut()
        .labels
        .get_or_insert_with(Default::default)
        .insert(TEST_LABEL.into(), g.source.selector.clone());
    Api::<K>::namespaced(g.client().clone(), g.ns())
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {yaml}: {e}"))
}

fn generators(g: &GitOps) -> Api<ArtifactGenerator> {
    Api::namespaced(g.client().clone(), g.ns())
}

fn external_artifacts(g: &GitOps) -> Api<ExternalArtifact> {
    Api::namespaced(g.client().clone(), g.ns())
}

fn ready(
    conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<(String, String, String)> {
    conditions::get(conds, "Ready").map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the generator's Ready condition (at its generation) satisfies `check`.
async fn wait_generator(
    g: &GitOps,
    name: &str,
    what: &str,
    check: impl Fn(&str, &str, &str, &ArtifactGenerator) -> bool,
) -> ArtifactGenerator {
    let api = generators(g);
    weir_tests::wait::until(
        Duration::from_secs(60),
        &format!("generator {name} {what}"),
        || {
            let api = api.clone();
            let check = &check;
            async move {
                let o = api.get(name).await.ok()?;
                let st = o.status.clone().unwrap_or_default();
                let (status, reason, message) = ready(&st.conditions)?;
                (st.observed_generation == o.metadata.generation
                    && check(&status, &reason, &message, &o))
                .then_some(o)
            }
        },
    )
    .await
}

/// Waits until the ExternalArtifact exists and is Ready with an artifact accepted by `check`.
async fn wait_artifact(
    g: &GitOps,
    name: &str,
    what: &str,
    check: impl Fn(&weir_api::meta::Artifact) -> bool,
) -> ExternalArtifact {
    let api = external_artifacts(g);
    weir_tests::wait::until(
        Duration::from_secs(60),
        &format!("ExternalArtifact {name} {what}"),
        || {
            let api = api.clone();
            let check = &check;
            async move {
                let o = api.get(name).await.ok()?;
                let st = o.status.clone()?;
                (conditions::is_true(&st.conditions, "Ready")
                    && st.artifact.as_ref().is_some_and(check))
                .then_some(o)
            }
        },
    )
    .await
}

fn revision_of(ea: &ExternalArtifact) -> String {
    ea.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
        .unwrap_or_default()
}

fn revision_url(ea: &ExternalArtifact) -> String {
    ea.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.url.clone())
        .unwrap_or_default()
}

fn ea_kustomization(g: &GitOps, name: &str, artifact: &str, path: &str) -> Kustomization {
    let mut k = g.kustomization(name, path);
    k.spec.source_ref.kind = "ExternalArtifact".into();
    k.spec.source_ref.name = artifact.into();
    k
}

/// How many times the Kustomization has reconciled (its history's counters).
fn reconciles(k: &Kustomization) -> i64 {
    k.status
        .as_ref()
        .map(|s| s.history.iter().map(|h| h.total_reconciliations).sum())
        .unwrap_or(0)
}

async fn configmap_value(g: &GitOps, name: &str) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.data?.get("value").cloned())
}

async fn finish(g: GitOps) {
    weir_tests::wait::delete_all(&g.ks, Duration::from_secs(60), "Kustomizations").await;
    weir_tests::wait::delete_all(
        &generators(&g),
        Duration::from_secs(60),
        "ArtifactGenerators",
    )
    .await;
    g.finish().await;
}

#[tokio::test]
async fn a_monorepo_split_by_a_generator_reconciles_only_the_consumer_of_the_changed_folder() {
    let files = monorepo();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, b)| (*p, b.as_str())).collect();
    let g = GitOps::new("ag-split", &refs).await;
    let first = g
        .source
        .wait_revision("repo", &format!("main@sha1:{}", g.source.repo.head()))
        .await;
    let commit = first
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.revision)
        .unwrap_or_default();
    create_generator(&g, SPLIT).await;
    let generator = wait_generator(&g, "split", "Ready", |s, _, _, _| s == "True").await;
    let st = generator.status.clone().unwrap_or_default();
    assert_eq!(
        ready(&st.conditions).map(|r| r.1),
        Some("Succeeded".to_string())
    );
    assert_eq!(st.inventory.len(), 2, "{:?}", st.inventory);
    assert!(
        st.observed_sources_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    weir_tests::sources::kubectl_wait("artifactgenerator", "split", g.ns());

    let apps = wait_artifact(&g, "apps", "ready", |_| true).await;
    let infra = wait_artifact(&g, "infrastructure", "ready", |_| true).await;
    let apps_artifact = apps
        .status
        .clone()
        .and_then(|s| s.artifact)
        .expect("artifact");
    assert_eq!(
        apps_artifact.revision,
        format!("latest@{}", apps_artifact.digest),
        "content-addressed revision"
    );
    assert_eq!(
        apps_artifact
            .metadata
            .get("org.opencontainers.image.revision"),
        Some(&commit),
        "originRevision carries the source commit"
    );
    assert!(
        apps.labels().get(GENERATOR_LABEL) == generator.metadata.uid.as_ref(),
        "labelled with the generator's UID: {:?}",
        apps.metadata.labels
    );
    let owner = apps.metadata.owner_references.clone().unwrap_or_default();
    assert!(
        owner
            .iter()
            .any(|o| o.kind == "ArtifactGenerator" && o.name == "split"),
        "{owner:?}"
    );
    // The archive holds exactly the folder's contents, served by source-controller with
    // the digest it announces.
    let bytes = weir_tests::sources::download(&apps_artifact.url).await;
    assert_eq!(weir_tests::sources::sha256(&bytes), apps_artifact.digest);
    assert_eq!(
        weir_tests::sources::file_in_tgz(&bytes, "staging/staging.yaml").as_deref(),
        Some(configmap("staging", "v1").as_str())
    );
    assert!(weir_tests::sources::file_in_tgz(&bytes, "README.md").is_none());
    assert!(
        weir_tests::sources::file_in_tgz(&bytes, "apps/base/app.yaml").is_none(),
        "/** strips the folder"
    );

    g.create(&ea_kustomization(&g, "staging", "apps", "./staging"))
        .await;
    g.create(&ea_kustomization(
        &g,
        "infra",
        "infrastructure",
        "./controllers",
    ))
    .await;
    let staging = g
        .wait_applied("staging", Some(&apps_artifact.revision))
        .await;
    assert_eq!(
        staging
            .status
            .as_ref()
            .and_then(|s| s.last_applied_origin_revision.clone()),
        Some(commit.clone()),
        "the consumer reports the commit as origin revision"
    );
    let infra_revision = revision_of(&infra);
    let infra_before = g.wait_applied("infra", Some(&infra_revision)).await;
    assert_eq!(configmap_value(&g, "staging").await.as_deref(), Some("v1"));
    assert_eq!(
        configmap_value(&g, "controllers").await.as_deref(),
        Some("v1")
    );

    // A commit touching only apps/staging: a new apps artifact, the same infrastructure one.
    g.source
        .repo
        .write("apps/staging/staging.yaml", &configmap("staging", "v2"));
    let second = g.commit("staging v2").await;
    g.source.wait_revision("repo", &second).await;
    let apps2 = wait_artifact(&g, "apps", "at a new revision", |a| {
        a.revision != apps_artifact.revision
    })
    .await;
    g.wait_applied("staging", Some(&revision_of(&apps2))).await;
    assert_eq!(configmap_value(&g, "staging").await.as_deref(), Some("v2"));
    // Give a wrongly woken consumer time to show up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let infra_ea = external_artifacts(&g)
        .get("infrastructure")
        .await
        .expect("infrastructure");
    assert_eq!(
        revision_of(&infra_ea),
        infra_revision,
        "unchanged content, unchanged revision"
    );
    assert_eq!(
        infra_ea.metadata.resource_version, infra.metadata.resource_version,
        "the unchanged ExternalArtifact was not written at all"
    );
    let infra_after = g.ks.get("infra").await.expect("infra");
    let (before, after) = (
        infra_before.status.clone().unwrap_or_default(),
        infra_after.status.clone().unwrap_or_default(),
    );
    assert_eq!(
        after.last_attempted_revision,
        before.last_attempted_revision
    );
    assert_eq!(
        reconciles(&infra_after),
        reconciles(&infra_before),
        "the other folder's consumer did not reconcile"
    );

    // A commit touching nothing either artifact copies: no new revision anywhere.
    let digest_of = |o: &ArtifactGenerator| {
        o.status
            .as_ref()
            .and_then(|st| st.observed_sources_digest.clone())
    };
    let after_second = wait_generator(&g, "split", "at the second commit", |s, _, _, o| {
        s == "True" && digest_of(o) != st.observed_sources_digest
    })
    .await;
    let second_digest = digest_of(&after_second);
    g.source.repo.write("README.md", "still the monorepo\n");
    let third = g.commit("docs").await;
    g.source.wait_revision("repo", &third).await;
    wait_generator(&g, "split", "at the third commit", |s, _, _, o| {
        s == "True" && digest_of(o) != second_digest
    })
    .await;
    let apps3 = external_artifacts(&g).get("apps").await.expect("apps");
    assert_eq!(revision_of(&apps3), revision_of(&apps2));

    // Removing an output deletes its ExternalArtifact and its storage.
    let mut spec = generators(&g).get("split").await.expect("split").spec;
    spec.artifacts.retain(|a| a.name != "infrastructure");
    generators(&g)
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .expect("patch");
    let infra_url = infra_ea
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .unwrap_or_default();
    weir_tests::wait::until(
        Duration::from_secs(60),
        "infrastructure ExternalArtifact deleted",
        || async {
            external_artifacts(&g)
                .get_opt("infrastructure")
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    let status = reqwest::get(&infra_url).await.expect("GET").status();
    assert_eq!(status.as_u16(), 404, "its storage is gone");
    let generator = wait_generator(&g, "split", "with one artifact", |s, _, _, o| {
        s == "True" && o.status.as_ref().is_some_and(|st| st.inventory.len() == 1)
    })
    .await;
    assert_eq!(
        generator.status.unwrap_or_default().inventory[0].name,
        "apps"
    );

    // Deleting the generator deletes what it generated, storage included.
    let apps_url = revision_url(&apps3);
    weir_tests::wait::delete_all(&g.ks, Duration::from_secs(60), "Kustomizations").await;
    objects::delete_and_wait_any(&generators(&g), "split").await;
    let status = reqwest::get(&apps_url).await.expect("GET").status();
    assert_eq!(status.as_u16(), 404, "the generator's storage is gone");
    assert!(
        external_artifacts(&g)
            .get_opt("apps")
            .await
            .expect("get")
            .is_none()
    );
    finish(g).await;
}

#[tokio::test]
async fn two_repositories_compose_into_one_artifact_with_merged_values() {
    let g = GitOps::new(
        "ag-compose",
        &[
            ("deploy/kustomization.yaml", "resources:\n- app.yaml\nconfigMapGenerator:\n- name: settings\n  files:\n  - values.yaml\n  options:\n    disableNameSuffixHash: true\n"),
            ("deploy/app.yaml", &configmap("app", "from-backend")),
            ("deploy/values.yaml", "replicas: 1\nimage:\n  tag: v1\n  pullPolicy: Always\n"),
        ],
    )
    .await;
    // A second repository, on its own server, holds environment overrides.
    let other = SourceRepo::new("env");
    other.write("prod/values.yaml", "image:\n  tag: v2\nreplicas: 3\n");
    other.write("prod/extra.yaml", &configmap("extra", "from-env"));
    other.commit("prod");
    let server = GitHttpsServer::start(other.root()).await;
    objects::secret(
        g.client(),
        g.ns(),
        "env-auth",
        &[
            ("username", &server.username),
            ("password", &server.password),
            ("ca.crt", &server.ca_pem),
        ],
    )
    .await;
    objects::create(
        &g.source.api,
        &objects::git_repository("env", &g.source.selector)
            .url(&server.url("env"))
            .secret("env-auth")
            .branch("main")
            .interval("1h"),
    )
    .await;
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1
kind: ArtifactGenerator
metadata:
  name: compose
spec:
  commonMetadata:
    labels:
      team: platform
  sources:
  - {alias: backend, kind: GitRepository, name: repo}
  - {alias: env, kind: GitRepository, name: env}
  artifacts:
  - name: app-prod
    revision: '@env'
    copy:
    - {from: '@backend/deploy/**', to: '@artifact/'}
    - {from: '@env/prod/values.yaml', to: '@artifact/values.yaml', strategy: Merge}
    - {from: '@env/prod/extra.yaml', to: '@artifact/extra/'}
",
    )
    .await;
    wait_generator(&g, "compose", "Ready", |s, _, _, _| s == "True").await;
    let env_revision = format!("main@sha1:{}", other.head());
    let ea = wait_artifact(&g, "app-prod", "ready", |a| a.revision == env_revision).await;
    assert_eq!(
        ea.labels().get("team").map(String::as_str),
        Some("platform")
    );
    let artifact = ea.status.and_then(|s| s.artifact).expect("artifact");
    let bytes = weir_tests::sources::download(&artifact.url).await;
    // Maps merged, scalars replaced, keys sorted as sigs.k8s.io/yaml writes them.
    assert_eq!(
        weir_tests::sources::file_in_tgz(&bytes, "values.yaml").as_deref(),
        Some("image:\n  pullPolicy: Always\n  tag: v2\nreplicas: 3\n")
    );
    assert!(weir_tests::sources::file_in_tgz(&bytes, "extra/extra.yaml").is_some());

    let mut k = ea_kustomization(&g, "app", "app-prod", "./");
    k.spec.path = Some("./".into());
    g.create(&k).await;
    g.wait_applied("app", Some(&env_revision)).await;
    let settings: Api<ConfigMap> = Api::namespaced(g.client().clone(), g.ns());
    let values = settings
        .get("settings")
        .await
        .expect("settings")
        .data
        .and_then(|d| d.get("values.yaml").cloned());
    assert_eq!(
        values.as_deref(),
        Some("image:\n  pullPolicy: Always\n  tag: v2\nreplicas: 3\n")
    );

    // A generated ExternalArtifact is itself a source: a second generator narrows it.
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1
kind: ArtifactGenerator
metadata:
  name: narrow
spec:
  sources:
  - {alias: prod, kind: ExternalArtifact, name: app-prod}
  artifacts:
  - name: extra-only
    revision: '@prod'
    copy:
    - {from: '@prod/extra/*.yaml', to: '@artifact/'}
",
    )
    .await;
    let narrow = wait_artifact(&g, "extra-only", "at the source's revision", |a| {
        a.revision == env_revision
    })
    .await;
    let bytes = weir_tests::sources::download(&revision_url(&narrow)).await;
    assert_eq!(
        weir_tests::sources::file_in_tgz(&bytes, "extra/extra.yaml").as_deref(),
        Some(configmap("extra", "from-env").as_str()),
        "a glob keeps the matched path relative to the source root"
    );
    assert!(weir_tests::sources::file_in_tgz(&bytes, "values.yaml").is_none());

    // A label dropped from commonMetadata is removed from the generated object.
    generators(&g)
        .patch(
            "compose",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"commonMetadata": null}})),
        )
        .await
        .expect("patch");
    weir_tests::wait::until(
        Duration::from_secs(60),
        "the team label removed",
        || async {
            let ea = external_artifacts(&g).get("app-prod").await.ok()?;
            (!ea.labels().contains_key("team") && ea.labels().contains_key(GENERATOR_LABEL))
                .then_some(())
        },
    )
    .await;
    finish(g).await;
}

#[tokio::test]
async fn bad_generators_fail_with_precise_conditions_and_keep_what_was_served() {
    let g = GitOps::new("ag-errors", &[("apps/one/cm.yaml", &configmap("one", "1"))]).await;
    g.source
        .wait_revision("repo", &format!("main@sha1:{}", g.source.repo.head()))
        .await;
    let cases = [
        (
            "alias",
            "  - name: out\n    copy:\n    - {from: '@nope/apps/**', to: '@artifact/'}\n",
            "Stalled",
            "ValidationFailed",
            "source alias 'nope' not found",
        ),
        (
            "escape",
            "  - name: out\n    copy:\n    - {from: '@mono/apps/**', to: '@artifact/../../etc/'}\n",
            "Stalled",
            "ValidationFailed",
            "..",
        ),
        (
            "nomatch",
            "  - name: out\n    copy:\n    - {from: '@mono/missing/*.yaml', to: '@artifact/'}\n",
            "Retrying",
            "BuildFailed",
            "no files match pattern 'missing/*.yaml' in source 'mono'",
        ),
        (
            "dupe",
            "  - name: out\n    copy:\n    - {from: '@mono/apps/**', to: '@artifact/'}\n  - name: out\n    copy:\n    - {from: '@mono/apps/**', to: '@artifact/'}\n",
            "Stalled",
            "ValidationFailed",
            "duplicate artifact name 'out' found",
        ),
    ];
    for (name, artifacts, next, reason, needle) in cases {
        create_generator(
            &g,
            &format!("apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: {name}\nspec:\n  sources:\n  - {{alias: mono, kind: GitRepository, name: repo}}\n  artifacts:\n{artifacts}"),
        )
        .await;
        let o = wait_generator(&g, name, &format!("failing with {reason}"), |s, r, _, _| {
            s == "False" && r == reason
        })
        .await;
        let st = o.status.unwrap_or_default();
        let message = ready(&st.conditions).map(|r| r.2).unwrap_or_default();
        assert!(message.contains(needle), "{name}: {message}");
        assert_eq!(
            conditions::is_true(&st.conditions, "Stalled"),
            next == "Stalled",
            "{name}: {:?}",
            st.conditions
        );
    }
    // A source that does not exist: waiting, not stalled.
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: missing\nspec:\n  sources:\n  - {alias: gone, kind: OCIRepository, name: gone}\n  artifacts:\n  - name: out2\n    copy:\n    - {from: '@gone/**', to: '@artifact/'}\n",
    )
    .await;
    let o = wait_generator(&g, "missing", "waiting for its source", |s, r, _, _| {
        s == "False" && r == "SourceFetchFailed"
    })
    .await;
    let st = o.status.unwrap_or_default();
    assert!(!conditions::is_true(&st.conditions, "Stalled"));
    assert!(
        ready(&st.conditions)
            .is_some_and(|r| r.2.contains("OCIRepository/") && r.2.contains("/gone")),
        "{:?}",
        st.conditions
    );

    // A working generator whose later commit breaks its copy keeps serving the last
    // artifact, and recovers with the next good commit.
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: good\nspec:\n  sources:\n  - {alias: mono, kind: GitRepository, name: repo}\n  artifacts:\n  - name: one\n    copy:\n    - {from: '@mono/apps/one/*.yaml', to: '@artifact/'}\n",
    )
    .await;
    let served = wait_artifact(&g, "one", "ready", |_| true).await;
    g.source.repo.git(&["rm", "-q", "apps/one/cm.yaml"]);
    g.source.repo.write("apps/one/README", "moved\n");
    let broken = g.commit("remove the manifests").await;
    g.source.wait_revision("repo", &broken).await;
    wait_generator(&g, "good", "failing to build", |s, r, _, _| {
        s == "False" && r == "BuildFailed"
    })
    .await;
    let still = external_artifacts(&g).get("one").await.expect("one");
    assert_eq!(
        revision_of(&still),
        revision_of(&served),
        "the last artifact keeps serving"
    );
    let url = still
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .unwrap_or_default();
    assert!(!weir_tests::sources::download(&url).await.is_empty());
    g.source
        .repo
        .write("apps/one/cm.yaml", &configmap("one", "2"));
    let fixed = g.commit("restore").await;
    g.source.wait_revision("repo", &fixed).await;
    wait_generator(&g, "good", "recovered", |s, _, _, _| s == "True").await;
    wait_artifact(&g, "one", "at the fixed content", |a| {
        a.revision != revision_of(&served)
    })
    .await;
    finish(g).await;
}

#[tokio::test]
async fn cross_namespace_sources_are_refused_under_the_flag() {
    let g = GitOps::with_source_args("ag-xns", &[], &["--no-cross-namespace-refs"]).await;
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: xns\nspec:\n  sources:\n  - {alias: other, kind: GitRepository, name: repo, namespace: elsewhere}\n  artifacts:\n  - name: out\n    copy:\n    - {from: '@other/**', to: '@artifact/'}\n",
    )
    .await;
    let o = wait_generator(&g, "xns", "refused", |s, r, _, _| {
        s == "False" && r == "AccessDenied"
    })
    .await;
    let st = o.status.unwrap_or_default();
    assert!(conditions::is_true(&st.conditions, "Stalled"));
    assert!(
        ready(&st.conditions).is_some_and(|r| r.2.contains("GitRepository/elsewhere/repo")
            && r.2.contains("--no-cross-namespace-refs")),
        "{:?}",
        st.conditions
    );
    finish(g).await;
}

#[tokio::test]
async fn a_suspended_generator_waits_and_resumes_when_the_annotation_goes() {
    let g = GitOps::new("ag-suspend", &[("apps/cm.yaml", &configmap("cm", "1"))]).await;
    g.source
        .wait_revision("repo", &format!("main@sha1:{}", g.source.repo.head()))
        .await;
    // Created suspended, so that no event ordering can let a build slip through.
    create_generator(
        &g,
        &format!("apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: paused\n  annotations:\n    {RECONCILE_ANNOTATION}: disabled\nspec:\n  sources:\n  - {{alias: mono, kind: GitRepository, name: repo}}\n  artifacts:\n  - name: apps\n    copy:\n    - {{from: '@mono/apps/', to: '@artifact/'}}\n"),
    )
    .await;
    g.source.repo.write("apps/cm.yaml", &configmap("cm", "2"));
    let second = g.commit("cm 2").await;
    g.source.wait_revision("repo", &second).await;
    // A wrongly running generator writes its output within a second or two of the commit.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        external_artifacts(&g)
            .get_opt("apps")
            .await
            .expect("get")
            .is_none(),
        "suspended: nothing generated"
    );
    let paused = generators(&g).get("paused").await.expect("paused");
    assert!(
        paused.status.is_none_or(|s| s.inventory.is_empty()),
        "suspended: no inventory"
    );
    let annotate =
        |value: Option<&str>| json!({"metadata": {"annotations": {RECONCILE_ANNOTATION: value}}});
    generators(&g)
        .patch(
            "paused",
            &PatchParams::default(),
            &Patch::Merge(annotate(None)),
        )
        .await
        .expect("resume");
    let after = wait_artifact(&g, "apps", "generated once resumed", |_| true).await;
    let bytes = weir_tests::sources::download(
        &after
            .status
            .and_then(|s| s.artifact)
            .map(|a| a.url)
            .unwrap_or_default(),
    )
    .await;
    // A literal folder is copied as a folder of its name.
    assert_eq!(
        weir_tests::sources::file_in_tgz(&bytes, "apps/cm.yaml").as_deref(),
        Some(configmap("cm", "2").as_str())
    );
    finish(g).await;
}

#[tokio::test]
async fn an_external_artifact_written_by_another_controller_is_a_source() {
    let g = GitOps::new(
        "ea-third-party",
        &[("deploy/cm.yaml", &configmap("third", "party"))],
    )
    .await;
    let repo = g
        .source
        .wait_revision("repo", &format!("main@sha1:{}", g.source.repo.head()))
        .await;
    let artifact = repo.status.and_then(|s| s.artifact).expect("artifact");
    // A producer that only writes objects and status: here, the test.
    let write = |name: &str, digest: &str| {
        let (api, artifact, digest, name) = (
            external_artifacts(&g),
            artifact.clone(),
            digest.to_string(),
            name.to_string(),
        );
        async move {
            let ea: ExternalArtifact = serde_json::from_value(json!({
                "apiVersion": "source.weir.dev/v1", "kind": "ExternalArtifact",
                "metadata": {"name": name},
                "spec": {"sourceRef": {"apiVersion": "example.com/v1", "kind": "Release", "name": "r1"}}
            }))
            .expect("ea");
            api.create(&PostParams::default(), &ea)
                .await
                .expect("create");
            let status = json!({"status": {
                "artifact": {
                    "url": artifact.url, "path": artifact.path, "revision": "v1.0.0@sha256:abc",
                    "digest": digest, "lastUpdateTime": artifact.last_update_time,
                    "metadata": {"org.opencontainers.image.revision": "v1.0.0"}
                },
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok", "lastTransitionTime": artifact.last_update_time}]
            }});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .expect("status");
        }
    };
    write("release", &artifact.digest).await;
    g.create(&ea_kustomization(&g, "third", "release", "./deploy"))
        .await;
    let k = g.wait_applied("third", Some("v1.0.0@sha256:abc")).await;
    assert_eq!(
        k.status
            .and_then(|s| s.last_applied_origin_revision)
            .as_deref(),
        Some("v1.0.0")
    );
    assert_eq!(configmap_value(&g, "third").await.as_deref(), Some("party"));

    // A generator never takes over an ExternalArtifact it did not create.
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: clash\nspec:\n  sources:\n  - {alias: mono, kind: GitRepository, name: repo}\n  artifacts:\n  - name: release\n    copy:\n    - {from: '@mono/deploy/', to: '@artifact/'}\n",
    )
    .await;
    let o = wait_generator(&g, "clash", "refusing to take over", |s, r, _, _| {
        s == "False" && r == "ReconciliationFailed"
    })
    .await;
    let message = ready(&o.status.unwrap_or_default().conditions)
        .map(|r| r.2)
        .unwrap_or_default();
    assert!(
        message.contains("release already exists and is not generated by this ArtifactGenerator"),
        "{message}"
    );
    let untouched = external_artifacts(&g)
        .get("release")
        .await
        .expect("release");
    assert_eq!(revision_of(&untouched), "v1.0.0@sha256:abc");
    assert!(untouched.labels().get(GENERATOR_LABEL).is_none());

    // A digest that does not match the bytes is refused before anything is applied.
    write("tampered", &format!("sha256:{}", "0".repeat(64))).await;
    g.create(&ea_kustomization(&g, "tampered", "tampered", "./deploy"))
        .await;
    let k = g.wait_failed("tampered", "ArtifactFailed").await;
    assert!(
        GitOps::message(&k).contains("digest"),
        "{}",
        GitOps::message(&k)
    );
    finish(g).await;
}

#[tokio::test]
async fn a_helm_chart_is_a_source_and_its_package_is_unpacked_for_copying() {
    let g = GitOps::new("ag-chart", &[("deploy/cm.yaml", &configmap("cm", "1"))]).await;
    let charts = ChartSource::new();
    charts.package(
        &chart("app")
            .version("1.2.3")
            .values("replicas: 1\nimage:\n  tag: v1\n"),
    );
    charts.index();
    let server = ChartRepoServer::options(charts.repo_dir())
        .no_auth()
        .start();
    objects::secret(
        g.client(),
        g.ns(),
        "charts-tls",
        &[("ca.crt", &server.ca_pem)],
    )
    .await;
    create_labelled::<HelmRepository>(
        &g,
        &format!(
            "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: charts\nspec:\n  url: {}\n  interval: 1h\n  certSecretRef:\n    name: charts-tls\n",
            server.base_url
        ),
    )
    .await;
    create_labelled::<HelmChart>(
        &g,
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: app\nspec:\n  chart: app\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  interval: 1h\n",
    )
    .await;
    // The chart's values are patched from Git with Merge: a chart with site defaults.
    g.source
        .repo
        .write("overrides/values.yaml", "image:\n  tag: v2\n");
    let commit = g.commit("overrides").await;
    g.source.wait_revision("repo", &commit).await;
    create_generator(
        &g,
        "apiVersion: source.extensions.weir.dev/v1beta1
kind: ArtifactGenerator
metadata:
  name: chart
spec:
  sources:
  - {alias: chart, kind: HelmChart, name: app}
  - {alias: site, kind: GitRepository, name: repo}
  artifacts:
  - name: app-chart
    revision: '@chart'
    copy:
    - {from: '@chart/app/', to: '@artifact/'}
    - {from: '@site/overrides/values.yaml', to: '@artifact/app/values.yaml', strategy: Merge}
",
    )
    .await;
    let ea = wait_artifact(&g, "app-chart", "at the chart version", |a| {
        a.revision == "1.2.3"
    })
    .await;
    let bytes = weir_tests::sources::download(
        &ea.status
            .and_then(|s| s.artifact)
            .map(|a| a.url)
            .unwrap_or_default(),
    )
    .await;
    assert!(
        weir_tests::sources::file_in_tgz(&bytes, "app/Chart.yaml")
            .is_some_and(|c| c.contains("version: 1.2.3")),
        "the chart package is unpacked as its folder"
    );
    assert_eq!(
        weir_tests::sources::file_in_tgz(&bytes, "app/values.yaml").as_deref(),
        Some("image:\n  tag: v2\nreplicas: 1\n")
    );
    weir_tests::wait::delete_all(
        &generators(&g),
        Duration::from_secs(60),
        "ArtifactGenerators",
    )
    .await;
    let api: Api<HelmChart> = Api::namespaced(g.client().clone(), g.ns());
    weir_tests::wait::delete_all(&api, Duration::from_secs(30), "HelmCharts").await;
    let api: Api<HelmRepository> = Api::namespaced(g.client().clone(), g.ns());
    weir_tests::wait::delete_all(&api, Duration::from_secs(30), "HelmRepositories").await;
    finish(g).await;
}
