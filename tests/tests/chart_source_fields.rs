//! source-controller fields of HelmRepository, HelmChart and OCIRepository that had no
//! integration test, each against real parts: the real API server, chart repositories packaged
//! and indexed by the real helm and served in-process (HTTPS with a test CA, optionally
//! requiring a client certificate, or plain HTTP), a real registry (Debian's docker-registry)
//! fed by `weir push artifact` — plain HTTP, or also HTTPS with a certificate from a test CA
//! (a second registry process on the same storage) — and a TCP listener that never answers.
//!
//! Covered: HelmRepository `timeout`, `suspend` (and HelmChart `suspend`), `passCredentials`,
//! a URL with a query string, `--helm-index-max-size`, client certificates from
//! `certSecretRef`; OCIRepository `ref.semverFilter`, `serviceAccountName`, `certSecretRef`
//! (`ca.crt`: trusted with it; a certificate error, not an authentication failure, without it
//! or with another CA), `timeout` (a registry that accepts and never answers), `suspend`;
//! `interval` of HelmRepository and OCIRepository (a new chart version and a new tag picked up
//! with no reconcile request); and an OCI HelmChart whose artifact is not a Helm chart.

use std::time::Duration;

use weir_api::source::{HelmChart, HelmRepository, OCIRepository};
use weir_tests::chart_repo::{ChartRepoServer, ChartSource, chart};
use weir_tests::registry::Registry;
use weir_tests::sources::{
    Setup, chart_ready, chart_revision, condition, download, file_in_tgz, index_revision,
    oci_ready, oci_revision, ready_message, repo_ready,
};
use weir_tests::tls_server::TlsIdentity;

#[path = "support/weir_push.rs"]
mod push;
use push::weir_push;

/// How long a suspended object is given to (wrongly) act on a reconcile request.
const SUSPENDED_GRACE: Duration = Duration::from_secs(4);

/// Pushes a one-ConfigMap folder whose data names `tag` (so every tag has its own digest) to
/// `<registry>/<repo>:<tag>` and returns the manifest digest the registry reports.
async fn push_manifests(registry: &Registry, repo: &str, tag: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("app.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  tag: \"{tag}\"\n"
        ),
    )
    .expect("write");
    let reference = format!("{}:{tag}", registry.oci_url(repo));
    weir_push(
        registry,
        &reference,
        dir.path(),
        "main@sha1:1111111111111111111111111111111111111111",
    )
    .await;
    registry.manifest_digest(repo, tag).await
}

/// A HelmRepository manifest: `url`, interval 1h, and `extra` spec lines (each indented by
/// two spaces, e.g. `"  timeout: 1s\n"`).
fn helm_repository(name: &str, url: &str, extra: &str) -> String {
    format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: {name}\nspec:\n  url: {url}\n  interval: 1h\n{extra}"
    )
}

/// A HelmChart manifest for chart `app` (`version`) from HelmRepository `repo`, interval 1h.
fn helm_chart(name: &str, repo: &str, version: &str) -> String {
    format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmChart\nmetadata:\n  name: {name}\nspec:\n  chart: app\n  version: '{version}'\n  sourceRef:\n    kind: HelmRepository\n    name: {repo}\n  interval: 1h\n"
    )
}

fn not_stalled(conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    condition(conds, "Stalled").is_none_or(|c| c.status != "True")
}

#[tokio::test]
async fn a_repository_slower_than_spec_timeout_fails_naming_the_timeout_without_stalling() {
    let s = Setup::new("helmtimeout").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    source.index();
    // Four times the timeout: the answer never comes in time.
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .delay(Duration::from_secs(4))
        .start();
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&helm_repository(
        "slow",
        &server.base_url,
        "  timeout: 1s\n  certSecretRef:\n    name: tls\n",
    ))
    .await;
    let slow: HelmRepository = s
        .wait("slow", "timed out", |o| {
            repo_ready(o, "False", "IndexationFailed")
        })
        .await;
    let st = slow.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(
        message.contains("timed out after 1s (spec.timeout)"),
        "{message}"
    );
    assert!(message.contains("index.yaml"), "names the URL: {message}");
    assert!(
        not_stalled(&st.conditions),
        "a slow server is retried, not stalled: {:?}",
        st.conditions
    );
    assert!(
        condition(&st.conditions, "FetchFailed").is_some_and(|c| c.status == "True"),
        "{:?}",
        st.conditions
    );
    assert!(
        st.artifact.is_none(),
        "nothing stored from a timed-out fetch"
    );
    s.finish().await;
}

#[tokio::test]
async fn suspended_repositories_and_charts_ignore_new_versions_until_resumed() {
    let s = Setup::new("helmsuspend").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .start();
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&helm_repository(
        "charts",
        &server.base_url,
        "  certSecretRef:\n    name: tls\n",
    ))
    .await;
    s.create::<HelmChart>(&helm_chart("app", "charts", "*"))
        .await;
    let repo: HelmRepository = s
        .wait("charts", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    s.wait::<HelmChart>("app", "at 1.0.0", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    let first_index = index_revision(&repo);

    // A suspended HelmRepository neither fetches the new index nor handles the request.
    s.patch::<HelmRepository>("charts", serde_json::json!({"spec": {"suspend": true}}))
        .await;
    // Let anything already queued finish before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let index_hits = server.hits("index.yaml");
    let handled_before = repo
        .status
        .as_ref()
        .and_then(|st| st.last_handled_reconcile_at.clone());
    source.package(&chart("app").version("1.1.0"));
    source.index();
    s.request_reconcile::<HelmRepository>("charts").await;
    tokio::time::sleep(SUSPENDED_GRACE).await;
    let suspended: HelmRepository = s.api().get("charts").await.expect("get");
    assert_eq!(index_revision(&suspended), first_index, "index unchanged");
    assert_eq!(
        server.hits("index.yaml"),
        index_hits,
        "no index request while suspended: {:?}",
        server.requests()
    );
    assert_eq!(
        suspended
            .status
            .as_ref()
            .and_then(|st| st.last_handled_reconcile_at.clone()),
        handled_before,
        "the reconcile request is not handled while suspended"
    );
    let app: HelmChart = s.api().get("app").await.expect("get");
    assert_eq!(chart_revision(&app), "1.0.0", "the chart saw no new index");

    // Resumed: the new index, and the chart follows it.
    s.patch::<HelmRepository>("charts", serde_json::json!({"spec": {"suspend": false}}))
        .await;
    let resumed: HelmRepository = s
        .wait("charts", "at a new index", |o| {
            repo_ready(o, "True", "Succeeded") && index_revision(o) != first_index
        })
        .await;
    s.wait::<HelmChart>("app", "at 1.1.0", |o| chart_revision(o) == "1.1.0")
        .await;
    let second_index = index_revision(&resumed);

    // A suspended HelmChart keeps its chart while its (running) repository moves on.
    s.patch::<HelmChart>("app", serde_json::json!({"spec": {"suspend": true}}))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    source.package(&chart("app").version("1.2.0"));
    source.index();
    s.request_reconcile::<HelmRepository>("charts").await;
    s.wait::<HelmRepository>("charts", "at the 1.2.0 index", |o| {
        repo_ready(o, "True", "Succeeded") && index_revision(o) != second_index
    })
    .await;
    s.request_reconcile::<HelmChart>("app").await;
    tokio::time::sleep(SUSPENDED_GRACE).await;
    let suspended: HelmChart = s.api().get("app").await.expect("get");
    let st = suspended.status.clone().unwrap_or_default();
    assert_eq!(chart_revision(&suspended), "1.1.0", "chart unchanged");
    assert_eq!(
        st.observed_source_artifact_revision.as_deref(),
        Some(second_index.as_str()),
        "the new index was not even looked at"
    );
    assert_eq!(
        server.hits("app-1.2.0.tgz"),
        0,
        "no chart download while suspended"
    );

    s.patch::<HelmChart>("app", serde_json::json!({"spec": {"suspend": false}}))
        .await;
    s.wait::<HelmChart>("app", "at 1.2.0", |o| {
        chart_revision(o) == "1.2.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    assert!(server.hits("app-1.2.0.tgz") >= 1);
    s.finish().await;
}

#[tokio::test]
async fn basic_credentials_reach_another_origin_only_with_pass_credentials() {
    let s = Setup::new("helmpass").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    // The index (HTTPS, basic auth) points at charts on another origin (plain HTTP, another
    // port): both serve the same folder, only the index server asks for credentials.
    let index_server = ChartRepoServer::options(source.repo_dir()).start();
    let chart_server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .plain_http()
        .start();
    let index = String::from_utf8(source.index_with_url(&chart_server.base_url)).expect("UTF-8");
    assert!(
        index.contains(&format!("{}/app-1.0.0.tgz", chart_server.base_url)),
        "{index}"
    );
    s.secret(
        "auth",
        &[
            ("username", &index_server.username),
            ("password", &index_server.password),
        ],
    )
    .await;
    s.secret("tls", &[("ca.crt", &index_server.ca_pem)]).await;
    let auth = "  secretRef:\n    name: auth\n  certSecretRef:\n    name: tls\n";

    s.create::<HelmRepository>(&helm_repository("own-origin", &index_server.base_url, auth))
        .await;
    s.create::<HelmChart>(&helm_chart("without", "own-origin", "1.0.0"))
        .await;
    s.wait::<HelmChart>("without", "Ready", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    assert_eq!(
        index_server.hits("app-1.0.0.tgz"),
        0,
        "the chart came from the other origin"
    );
    assert!(
        index_server.hits_with_authorization("index.yaml") >= 1,
        "the index server got the credentials"
    );
    assert!(chart_server.hits("app-1.0.0.tgz") >= 1);
    assert_eq!(
        chart_server.hits_with_authorization("app-1.0.0.tgz"),
        0,
        "no credentials to another origin without passCredentials: {:?}",
        chart_server.requests()
    );

    chart_server.clear_requests();
    s.create::<HelmRepository>(&helm_repository(
        "passing",
        &index_server.base_url,
        &format!("{auth}  passCredentials: true\n"),
    ))
    .await;
    s.create::<HelmChart>(&helm_chart("with", "passing", "1.0.0"))
        .await;
    s.wait::<HelmChart>("with", "Ready", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    assert!(
        chart_server.hits("app-1.0.0.tgz") >= 1,
        "{:?}",
        chart_server.requests()
    );
    assert_eq!(
        chart_server.hits_with_authorization("app-1.0.0.tgz"),
        chart_server.hits("app-1.0.0.tgz"),
        "passCredentials sends them to the chart's origin too: {:?}",
        chart_server.requests()
    );
    s.finish().await;
}

#[tokio::test]
async fn the_query_string_of_a_repository_url_reaches_the_index_and_chart_requests() {
    let s = Setup::new("helmquery").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .prefix("/charts")
        .no_auth()
        .start();
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&helm_repository(
        "tokens",
        &format!("{}?token=abc", server.base_url),
        "  certSecretRef:\n    name: tls\n",
    ))
    .await;
    s.create::<HelmChart>(&helm_chart("app", "tokens", "1.0.0"))
        .await;
    s.wait::<HelmRepository>("tokens", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    s.wait::<HelmChart>("app", "Ready", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    let requests = server.requests();
    let of = |path: &str| -> Vec<Option<String>> {
        requests
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.query.clone())
            .collect()
    };
    let index = of("/charts/index.yaml");
    assert!(!index.is_empty(), "{requests:?}");
    assert!(
        index.iter().all(|q| q.as_deref() == Some("token=abc")),
        "{requests:?}"
    );
    // The index holds a relative URL: resolved against the repository URL, query kept.
    let charts = of("/charts/app-1.0.0.tgz");
    assert!(!charts.is_empty(), "{requests:?}");
    assert!(
        charts.iter().all(|q| q.as_deref() == Some("token=abc")),
        "{requests:?}"
    );
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    s.finish().await;
}

#[tokio::test]
async fn an_index_over_helm_index_max_size_is_refused_naming_the_limit_and_the_flag() {
    let s = Setup::with_args("helmindexmax", &["--helm-index-max-size", "256"]).await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    let index = source.index();
    assert!(index.len() > 256, "the index is {} bytes", index.len());
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .start();
    s.secret("tls", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&helm_repository(
        "big",
        &server.base_url,
        "  certSecretRef:\n    name: tls\n",
    ))
    .await;
    let big: HelmRepository = s
        .wait("big", "refused", |o| {
            repo_ready(o, "False", "IndexationFailed")
        })
        .await;
    let st = big.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(
        message.contains("larger than the 256 byte limit (--helm-index-max-size)"),
        "{message}"
    );
    assert!(message.contains(&server.url("index.yaml")), "{message}");
    assert!(not_stalled(&st.conditions), "{:?}", st.conditions);
    assert!(st.artifact.is_none());
    s.finish().await;
}

#[tokio::test]
async fn a_client_certificate_from_cert_secret_ref_opens_a_repository_that_requires_one() {
    let s = Setup::new("helmmtls").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .require_client_cert()
        .start();
    s.secret(
        "mtls",
        &[
            ("ca.crt", &server.ca_pem),
            ("tls.crt", &server.client_cert_pem),
            ("tls.key", &server.client_key_pem),
        ],
    )
    .await;
    s.secret("ca-only", &[("ca.crt", &server.ca_pem)]).await;
    s.create::<HelmRepository>(&helm_repository(
        "mtls",
        &server.base_url,
        "  certSecretRef:\n    name: mtls\n",
    ))
    .await;
    s.create::<HelmChart>(&helm_chart("app", "mtls", "1.0.0"))
        .await;
    s.wait::<HelmRepository>("mtls", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    // The chart download presents the certificate too.
    s.wait::<HelmChart>("app", "Ready", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    let answered = server.requests().len();
    assert!(answered >= 2, "{:?}", server.requests());

    s.create::<HelmRepository>(&helm_repository(
        "no-client-cert",
        &server.base_url,
        "  certSecretRef:\n    name: ca-only\n",
    ))
    .await;
    let refused: HelmRepository = s
        .wait("no-client-cert", "refused", |o| {
            repo_ready(o, "False", "IndexationFailed")
        })
        .await;
    let st = refused.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(message.contains(&server.url("index.yaml")), "{message}");
    // TLS 1.3: the server answers a handshake without a client certificate with this alert.
    assert!(
        message.contains("received fatal alert: CertificateRequired"),
        "a TLS failure: {message}"
    );
    assert!(not_stalled(&st.conditions), "{:?}", st.conditions);
    assert_eq!(
        server.requests().len(),
        answered,
        "the handshake failed before any HTTP request: {:?}",
        server.requests()
    );
    s.finish().await;
}

/// An OCIRepository manifest for `url` (plain HTTP), interval 1h, with `extra` spec lines.
fn oci_repository(name: &str, url: &str, extra: &str) -> String {
    oci_repository_spec(
        name,
        url,
        &format!("  insecure: true\n  interval: 1h\n{extra}"),
    )
}

/// An OCIRepository manifest for `url` with exactly the spec lines `lines` besides the URL
/// (HTTPS unless they say `insecure: true`).
fn oci_repository_spec(name: &str, url: &str, lines: &str) -> String {
    format!(
        "apiVersion: source.weir.dev/v1\nkind: OCIRepository\nmetadata:\n  name: {name}\nspec:\n  url: {url}\n{lines}"
    )
}

/// The `tag` data of the `app.yaml` ConfigMap in an OCIRepository's stored artifact (what
/// [`push_manifests`] wrote), downloaded from the controller's artifact server.
async fn artifact_tag(o: &OCIRepository) -> String {
    let url = o
        .status
        .as_ref()
        .and_then(|st| st.artifact.as_ref())
        .map(|a| a.url.clone())
        .unwrap_or_else(|| panic!("no artifact: {:?}", o.status));
    let tgz = download(&url).await;
    let yaml = file_in_tgz(&tgz, "app.yaml").unwrap_or_else(|| panic!("no app.yaml in {url}"));
    let doc: serde_json::Value = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
    doc["data"]["tag"]
        .as_str()
        .unwrap_or_else(|| panic!("no data.tag: {yaml}"))
        .to_string()
}

#[tokio::test]
async fn semver_filter_narrows_the_tags_before_the_semver_range_picks_the_highest() {
    let s = Setup::new("ocifilter").await;
    let registry = Registry::start().await;
    let mut digests = std::collections::BTreeMap::new();
    for tag in ["1.0.0", "1.1.0-dev.1", "1.2.0"] {
        digests.insert(tag, push_manifests(&registry, "manifests/app", tag).await);
    }
    let url = registry.oci_url("manifests/app");
    // As Flux: the regular expression keeps the tags it matches, then the range picks.
    s.create::<OCIRepository>(&oci_repository(
        "dev",
        &url,
        "  ref:\n    semver: '>=1.0.0-0'\n    semverFilter: '.*-dev.*'\n",
    ))
    .await;
    // The same range without the filter: the highest of all tags.
    s.create::<OCIRepository>(&oci_repository(
        "all",
        &url,
        "  ref:\n    semver: '>=1.0.0-0'\n",
    ))
    .await;
    let dev_revision = format!("1.1.0-dev.1@{}", digests["1.1.0-dev.1"]);
    s.wait::<OCIRepository>("dev", &format!("at {dev_revision}"), |o| {
        oci_revision(o) == dev_revision && oci_ready(o, "True", "Succeeded")
    })
    .await;
    let all_revision = format!("1.2.0@{}", digests["1.2.0"]);
    s.wait::<OCIRepository>("all", &format!("at {all_revision}"), |o| {
        oci_revision(o) == all_revision && oci_ready(o, "True", "Succeeded")
    })
    .await;

    // A filter no tag passes: the message names it and the tags that exist.
    s.create::<OCIRepository>(&oci_repository(
        "none",
        &url,
        "  ref:\n    semver: '>=1.0.0-0'\n    semverFilter: '^2\\.'\n",
    ))
    .await;
    let none: OCIRepository = s
        .wait("none", "failing", |o| {
            oci_ready(o, "False", "OCIArtifactPullFailed")
        })
        .await;
    let message = ready_message(&none.status.unwrap_or_default().conditions);
    assert!(
        message.contains("after filter \"^2\\\\.\"") && message.contains("1.1.0-dev.1"),
        "{message}"
    );
    s.finish().await;
}

#[tokio::test]
async fn an_oci_repository_logs_in_with_its_service_accounts_image_pull_secrets() {
    let s = Setup::new("ocisa").await;
    let registry = Registry::start_with_auth().await;
    let digest = push_manifests(&registry, "manifests/app", "v1.0.0").await;
    let url = registry.oci_url("manifests/app");
    let expected = format!("v1.0.0@{digest}");
    s.docker_config_secret("registry-login", &registry.docker_config_json())
        .await;
    s.service_account("puller", &["registry-login"]).await;
    s.service_account("anonymous", &[]).await;
    s.service_account("dangling", &["login-to-come"]).await;

    s.create::<OCIRepository>(&oci_repository(
        "with-sa",
        &url,
        "  ref:\n    tag: v1.0.0\n  serviceAccountName: puller\n",
    ))
    .await;
    s.wait::<OCIRepository>("with-sa", &format!("at {expected}"), |o| {
        oci_revision(o) == expected && oci_ready(o, "True", "Succeeded")
    })
    .await;

    // A ServiceAccount without pull secrets: anonymous, which this registry refuses.
    s.create::<OCIRepository>(&oci_repository(
        "no-pull-secret",
        &url,
        "  ref:\n    tag: v1.0.0\n  serviceAccountName: anonymous\n",
    ))
    .await;
    let anonymous: OCIRepository = s
        .wait("no-pull-secret", "refused", |o| {
            oci_ready(o, "False", "AuthenticationFailed")
        })
        .await;
    let st = anonymous.status.unwrap_or_default();
    assert!(st.artifact.is_none());
    assert!(not_stalled(&st.conditions), "{:?}", st.conditions);

    // A pull secret that does not exist yet: named in the message; creating it fixes it.
    s.create::<OCIRepository>(&oci_repository(
        "missing-secret",
        &url,
        "  ref:\n    tag: v1.0.0\n  serviceAccountName: dangling\n",
    ))
    .await;
    let missing: OCIRepository = s
        .wait("missing-secret", "refused", |o| {
            oci_ready(o, "False", "AuthenticationFailed")
        })
        .await;
    let message = ready_message(&missing.status.unwrap_or_default().conditions);
    assert!(
        message.contains("login-to-come") && message.contains("imagePullSecrets"),
        "{message}"
    );
    s.docker_config_secret("login-to-come", &registry.docker_config_json())
        .await;
    // A new Secret does not change the OCIRepository: ask instead of waiting for the backoff.
    s.request_reconcile::<OCIRepository>("missing-secret").await;
    s.wait::<OCIRepository>("missing-secret", &format!("at {expected}"), |o| {
        oci_revision(o) == expected && oci_ready(o, "True", "Succeeded")
    })
    .await;
    s.finish().await;
}

#[tokio::test]
async fn an_oci_helm_chart_that_is_a_flux_artifact_is_refused_by_its_config_media_type() {
    let s = Setup::new("ocinotchart").await;
    let registry = Registry::start().await;
    // Where helm would push chart `app` 1.0.0 of repository `charts`.
    push_manifests(&registry, "charts/app", "1.0.0").await;
    s.create::<HelmRepository>(&format!(
        "apiVersion: source.weir.dev/v1\nkind: HelmRepository\nmetadata:\n  name: registry\nspec:\n  type: oci\n  url: {}\n  insecure: true\n",
        registry.oci_url("charts")
    ))
    .await;
    // An exact version (pulled by tag) and a range (resolved over the tags) end the same way.
    s.create::<HelmChart>(&helm_chart("exact", "registry", "1.0.0"))
        .await;
    s.create::<HelmChart>(&helm_chart("ranged", "registry", ">=1.0.0"))
        .await;
    for name in ["exact", "ranged"] {
        let refused: HelmChart = s
            .wait(name, "refused", |o| {
                chart_ready(o, "False", "ChartPullError")
            })
            .await;
        let st = refused.status.unwrap_or_default();
        let message = ready_message(&st.conditions);
        assert!(
            message.contains(&format!(
                "{}:1.0.0 is not a Helm chart: config media type \
                 \"application/vnd.cncf.flux.config.v1+json\", expected \
                 \"application/vnd.cncf.helm.config.v1+json\"",
                registry.oci_url("charts/app")
            )),
            "{name}: {message}"
        );
        assert!(
            condition(&st.conditions, "FetchFailed").is_some_and(|c| c.status == "True"),
            "{name}: {:?}",
            st.conditions
        );
        assert!(not_stalled(&st.conditions), "{name}: {:?}", st.conditions);
        assert!(st.artifact.is_none(), "{name}: nothing stored");
    }
    s.finish().await;
}

#[tokio::test]
async fn an_oci_repository_trusts_a_registry_certificate_only_through_cert_secret_ref() {
    let s = Setup::new("ocitls").await;
    let registry = Registry::start_tls().await;
    // Pushed over the registry's plain-HTTP endpoint; read over its HTTPS one (same storage).
    let digest = push_manifests(&registry, "manifests/app", "v1.0.0").await;
    let tls = registry.tls.as_ref().expect("a TLS registry");
    let url = registry.tls_oci_url("manifests/app");
    let expected = format!("v1.0.0@{digest}");
    let lines = |cert_secret: Option<&str>| {
        let mut l = "  interval: 1h\n  ref:\n    tag: v1.0.0\n".to_string();
        if let Some(name) = cert_secret {
            l.push_str(&format!("  certSecretRef:\n    name: {name}\n"));
        }
        l
    };
    s.secret("registry-ca", &[("ca.crt", &tls.ca_pem)]).await;
    let stranger = TlsIdentity::generate("127.0.0.1");
    s.secret("other-ca", &[("ca.crt", &stranger.ca_pem)]).await;

    s.create::<OCIRepository>(&oci_repository_spec(
        "trusted",
        &url,
        &lines(Some("registry-ca")),
    ))
    .await;
    let trusted: OCIRepository = s
        .wait("trusted", &format!("at {expected}"), |o| {
            oci_revision(o) == expected && oci_ready(o, "True", "Succeeded")
        })
        .await;
    assert_eq!(artifact_tag(&trusted).await, "v1.0.0");

    // Without the CA, and with a CA that did not issue the certificate: the handshake fails,
    // and the message says it is the certificate (not the credentials).
    s.create::<OCIRepository>(&oci_repository_spec("untrusted", &url, &lines(None)))
        .await;
    s.create::<OCIRepository>(&oci_repository_spec(
        "wrong-ca",
        &url,
        &lines(Some("other-ca")),
    ))
    .await;
    // Both test CAs are named "weir test CA": with the other one, the issuer is found by
    // name and its key does not verify the signature.
    for (name, failure) in [("untrusted", "UnknownIssuer"), ("wrong-ca", "BadSignature")] {
        let refused: OCIRepository = s
            .wait(name, "refused", |o| {
                oci_ready(o, "False", "OCIArtifactPullFailed")
            })
            .await;
        let st = refused.status.unwrap_or_default();
        let message = ready_message(&st.conditions);
        assert!(
            message.contains(&format!("invalid peer certificate: {failure}")),
            "{name}: a certificate error: {message}"
        );
        assert!(
            message.contains(&format!("{url}:v1.0.0")),
            "{name}: names the reference: {message}"
        );
        assert!(
            condition(&st.conditions, "FetchFailed").is_some_and(|c| c.status == "True"),
            "{name}: {:?}",
            st.conditions
        );
        assert!(not_stalled(&st.conditions), "{name}: {:?}", st.conditions);
        assert!(st.artifact.is_none(), "{name}: nothing stored");
    }
    s.finish().await;
}

#[tokio::test]
async fn a_registry_that_never_answers_fails_within_spec_timeout_and_is_retried() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let s = Setup::new("ocitimeout").await;
    // Accepts connections and holds them open without ever writing a byte.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        }
    });
    let url = format!("oci://127.0.0.1:{port}/x");
    let created = std::time::Instant::now();
    s.create::<OCIRepository>(&oci_repository(
        "silent",
        &url,
        "  timeout: 1s\n  ref:\n    tag: v1\n",
    ))
    .await;
    let silent_repo: OCIRepository = s
        .wait("silent", "timed out", |o| {
            oci_ready(o, "False", "OCIArtifactPullFailed")
        })
        .await;
    let took = created.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "failed after {took:?}, not about 1s"
    );
    let st = silent_repo.status.unwrap_or_default();
    let message = ready_message(&st.conditions);
    assert!(
        message.contains(&format!("{url}:v1: timed out after 1s")),
        "{message}"
    );
    assert!(not_stalled(&st.conditions), "{:?}", st.conditions);
    assert!(
        condition(&st.conditions, "FetchFailed").is_some_and(|c| c.status == "True"),
        "{:?}",
        st.conditions
    );
    assert!(st.artifact.is_none());
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the controller connected: it is the answer that never came"
    );
    // Retried with backoff (1s, then 2s...), each try on a new connection.
    let first = accepted.load(Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while accepted.load(Ordering::SeqCst) <= first {
        assert!(
            std::time::Instant::now() < deadline,
            "no retry within 20s ({first} connections)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    silent.abort();
    s.finish().await;
}

#[tokio::test]
async fn a_suspended_oci_repository_ignores_new_tags_until_resumed() {
    let s = Setup::new("ocisuspend").await;
    let registry = Registry::start().await;
    let first = push_manifests(&registry, "manifests/app", "1.0.0").await;
    let url = registry.oci_url("manifests/app");
    s.create::<OCIRepository>(&oci_repository(
        "app",
        &url,
        "  ref:\n    semver: '>=1.0.0'\n",
    ))
    .await;
    let at_first = format!("1.0.0@{first}");
    s.wait::<OCIRepository>("app", &format!("at {at_first}"), |o| {
        oci_revision(o) == at_first && oci_ready(o, "True", "Succeeded")
    })
    .await;

    s.patch::<OCIRepository>("app", serde_json::json!({"spec": {"suspend": true}}))
        .await;
    // Let anything already queued finish before taking the reference point.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before: OCIRepository = s.api().get("app").await.expect("get");
    let handled_before = before
        .status
        .as_ref()
        .and_then(|st| st.last_handled_reconcile_at.clone());
    let second = push_manifests(&registry, "manifests/app", "1.1.0").await;
    assert_ne!(first, second);
    s.request_reconcile::<OCIRepository>("app").await;
    tokio::time::sleep(SUSPENDED_GRACE).await;
    let suspended: OCIRepository = s.api().get("app").await.expect("get");
    assert_eq!(oci_revision(&suspended), at_first, "revision unchanged");
    let st = suspended.status.clone().unwrap_or_default();
    assert_eq!(
        st.last_handled_reconcile_at, handled_before,
        "the reconcile request is not handled while suspended"
    );
    assert_eq!(
        artifact_tag(&suspended).await,
        "1.0.0",
        "artifact unchanged"
    );

    s.patch::<OCIRepository>("app", serde_json::json!({"spec": {"suspend": false}}))
        .await;
    let at_second = format!("1.1.0@{second}");
    let resumed: OCIRepository = s
        .wait("app", &format!("at {at_second}"), |o| {
            oci_revision(o) == at_second && oci_ready(o, "True", "Succeeded")
        })
        .await;
    assert_eq!(artifact_tag(&resumed).await, "1.1.0");
    s.finish().await;
}

#[tokio::test]
async fn sources_with_a_short_interval_pick_up_new_versions_without_a_reconcile_request() {
    /// How long a 2s interval may take to notice a change (a few intervals, jitter, the
    /// fetch itself).
    const PICKUP: Duration = Duration::from_secs(15);
    let s = Setup::new("interval").await;
    let source = ChartSource::new();
    source.package(&chart("app").version("1.0.0"));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .no_auth()
        .plain_http()
        .start();
    let registry = Registry::start().await;
    let first = push_manifests(&registry, "manifests/app", "1.0.0").await;

    s.create::<HelmRepository>(
        &helm_repository("charts", &server.base_url, "").replace("interval: 1h", "interval: 2s"),
    )
    .await;
    // The chart keeps its 1h interval: it follows the repository's new index.
    s.create::<HelmChart>(&helm_chart("app", "charts", "*"))
        .await;
    s.create::<OCIRepository>(&oci_repository_spec(
        "manifests",
        &registry.oci_url("manifests/app"),
        "  insecure: true\n  interval: 2s\n  ref:\n    semver: '>=1.0.0'\n",
    ))
    .await;
    let repo: HelmRepository = s
        .wait("charts", "Ready", |o| repo_ready(o, "True", "Succeeded"))
        .await;
    let first_index = index_revision(&repo);
    s.wait::<HelmChart>("app", "at 1.0.0", |o| {
        chart_revision(o) == "1.0.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    let at_first = format!("1.0.0@{first}");
    s.wait::<OCIRepository>("manifests", &format!("at {at_first}"), |o| {
        oci_revision(o) == at_first && oci_ready(o, "True", "Succeeded")
    })
    .await;

    // Nothing changed yet: the index is fetched again every interval, same revision.
    let hits = server.hits("index.yaml");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.hits("index.yaml") < hits + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the index was not fetched twice more within 10s: {:?}",
            server.requests()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unchanged: HelmRepository = s.api().get("charts").await.expect("get");
    assert_eq!(
        index_revision(&unchanged),
        first_index,
        "same index, same revision"
    );

    source.package(&chart("app").version("1.1.0"));
    source.index();
    let second = push_manifests(&registry, "manifests/app", "1.1.0").await;
    let changed = std::time::Instant::now();
    let at_second = format!("1.1.0@{second}");
    let manifests: OCIRepository = s
        .wait("manifests", &format!("at {at_second}"), |o| {
            oci_revision(o) == at_second && oci_ready(o, "True", "Succeeded")
        })
        .await;
    let oci_took = changed.elapsed();
    let repo: HelmRepository = s
        .wait("charts", "at a new index", |o| {
            repo_ready(o, "True", "Succeeded") && index_revision(o) != first_index
        })
        .await;
    let helm_took = changed.elapsed();
    s.wait::<HelmChart>("app", "at 1.1.0", |o| {
        chart_revision(o) == "1.1.0" && chart_ready(o, "True", "Succeeded")
    })
    .await;
    assert!(oci_took < PICKUP, "OCIRepository took {oci_took:?}");
    assert!(helm_took < PICKUP, "HelmRepository took {helm_took:?}");
    assert_eq!(artifact_tag(&manifests).await, "1.1.0");
    // No reconcile request was ever made, so none was handled.
    assert_eq!(
        manifests
            .status
            .as_ref()
            .and_then(|st| st.last_handled_reconcile_at.clone()),
        None
    );
    assert_eq!(
        repo.status
            .as_ref()
            .and_then(|st| st.last_handled_reconcile_at.clone()),
        None
    );
    s.finish().await;
}
