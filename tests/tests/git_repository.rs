//! source-controller against the real API server and real Git servers (HTTPS via
//! git http-backend, SSH via OpenSSH).

use std::time::Duration;

use kube::api::Api;
use sha2::{Digest, Sha256};
use weir_api::conditions::types;
use weir_api::source::GitRepository;
use weir_api::source::conditions::types as source_types;
use weir_shared::conditions;
use weir_tests::cluster::{self, TestNamespace};
use weir_tests::controller::{Options, SourceController};
use weir_tests::fixture::Fixture;
use weir_tests::git_ssh::GitSshServer;
use weir_tests::gitrepo::SourceRepo;
use weir_tests::objects::{
    self, GitRepositoryBuilder, git_repository, ready_is, ready_message, wait_for, wait_ready,
};
use weir_tests::random_id;

const MANIFEST: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: hello\n";

async fn controller(selector: &str) -> SourceController {
    SourceController::start(Options {
        selector,
        leader_namespace: None,
        storage: None,
        extra: &[],
    })
    .await
}

/// A repository with one commit on `main`.
fn app_repo() -> SourceRepo {
    let repo = SourceRepo::new("app");
    repo.write("deploy/configmap.yaml", MANIFEST)
        .write("README.md", "# app\n")
        .write(".github/workflows/ci.yaml", "on: push\n");
    repo.commit("initial");
    repo
}

async fn download(url: &str) -> Vec<u8> {
    let resp = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.bytes()
        .await
        .unwrap_or_else(|e| panic!("reading {url}: {e}"))
        .to_vec()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn archive_paths(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .unwrap_or_else(|e| panic!("reading archive: {e}"));
    entries
        .map(|e| {
            e.and_then(|e| e.path().map(|p| p.to_string_lossy().to_string()))
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn https_with_right_credentials_serves_an_artifact_matching_its_digest() {
    let f = Fixture::new("https").await;
    f.repo
        .write("README.md", "# app\n")
        .write(".github/workflows/ci.yaml", "on: push\n");
    f.repo.commit("docs and CI");
    objects::create(&f.api, &f.git_repository("app").branch("main")).await;

    let obj = wait_ready(&f.api, "app").await;
    let status = obj.status.clone().unwrap_or_default();
    let artifact = status
        .artifact
        .clone()
        .unwrap_or_else(|| panic!("no artifact; log:\n{}", f.ctl.log()));
    assert_eq!(artifact.revision, format!("main@sha1:{}", f.repo.head()));
    assert!(conditions::is_true(
        &status.conditions,
        source_types::ARTIFACT_IN_STORAGE
    ));
    assert_eq!(
        artifact.path,
        format!("gitrepository/{}/app/{}.tar.gz", f.ns.name, f.repo.head())
    );

    let bytes = download(&artifact.url).await;
    assert_eq!(
        sha256(&bytes),
        artifact.digest,
        "served bytes must hash to status.artifact.digest"
    );
    assert_eq!(Some(bytes.len() as i64), artifact.size);
    assert_eq!(
        archive_paths(&bytes),
        ["README.md", "deploy/", "deploy/configmap.yaml"],
        "default exclusions drop .github/"
    );

    // `kubectl wait` understands our conditions.
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", cluster::kubeconfig())
        .args([
            "wait",
            "--for=condition=Ready",
            "gitrepository/app",
            "-n",
            &f.ns.name,
            "--timeout=30s",
        ])
        .output()
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert!(
        out.status.success(),
        "kubectl wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Only GET and HEAD of artifacts: no listing, no escape, no hidden folders.
    let base = format!("http://{}", f.ctl.storage_addr);
    for path in [
        "/",
        "/gitrepository/",
        "/gitrepository/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/.git-cache/x.tar.gz",
    ] {
        let status = reqwest::get(format!("{base}{path}"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(status, 404, "{path}");
    }
    let head = reqwest::Client::new()
        .head(&artifact.url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD: {e}"));
    assert_eq!(
        head.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(bytes.len().to_string().as_str())
    );
    f.finish().await;
}

#[tokio::test]
async fn https_with_wrong_credentials_reports_authentication_failed() {
    let f = Fixture::new("badauth").await;
    objects::secret(
        &f.client,
        &f.ns.name,
        "wrong",
        &[
            ("username", &f.server.username),
            ("password", "not-the-password"),
            ("ca.crt", &f.server.ca_pem),
        ],
    )
    .await;
    objects::create(
        &f.api,
        &f.git_repository("app").branch("main").secret("wrong"),
    )
    .await;
    let obj = wait_for(
        &f.api,
        "app",
        Duration::from_secs(60),
        "AuthenticationFailed",
        |o| ready_is(o, "False", "AuthenticationFailed"),
    )
    .await;
    let status = obj.status.unwrap_or_default();
    assert!(
        conditions::is_true(&status.conditions, types::RECONCILING),
        "auth failures are retried"
    );
    assert!(conditions::is_true(
        &status.conditions,
        source_types::FETCH_FAILED
    ));
    let message = conditions::get(&status.conditions, types::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(&f.server.url("app")),
        "message names the URL: {message}"
    );
    assert!(
        !message.contains("not-the-password"),
        "message never contains secrets: {message}"
    );
    assert!(status.artifact.is_none());
    f.finish().await;
}

#[tokio::test]
async fn https_without_the_ca_is_refused() {
    let f = Fixture::new("noca").await;
    objects::secret(
        &f.client,
        &f.ns.name,
        "noca",
        &[
            ("username", &f.server.username),
            ("password", &f.server.password),
        ],
    )
    .await;
    objects::create(
        &f.api,
        &f.git_repository("app").branch("main").secret("noca"),
    )
    .await;
    let obj = wait_for(&f.api, "app", Duration::from_secs(60), "failing", |o| {
        ready_is(o, "False", "GitOperationFailed")
    })
    .await;
    assert!(
        ready_message(&obj).contains(&f.server.url("app")),
        "{}",
        ready_message(&obj)
    );
    f.finish().await;
}

#[tokio::test]
async fn https_with_a_bearer_token_fetches() {
    let f = Fixture::new("bearer").await;
    objects::secret(
        &f.client,
        &f.ns.name,
        "token",
        &[
            ("bearerToken", &f.server.bearer_token),
            ("ca.crt", &f.server.ca_pem),
        ],
    )
    .await;
    objects::create(
        &f.api,
        &f.git_repository("app").branch("main").secret("token"),
    )
    .await;
    let obj = wait_ready(&f.api, "app").await;
    assert_eq!(
        obj.status.and_then(|s| s.artifact).map(|a| a.revision),
        Some(format!("main@sha1:{}", f.repo.head()))
    );

    // The object's conditions and the reconcile histogram are on /metrics.
    let metrics = reqwest::get(format!("http://{}/metrics", f.ctl.metrics_addr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = metrics.text().await.unwrap_or_default();
    let ready = format!(
        r#"weir_reconcile_condition{{kind="GitRepository",namespace="{}",name="app",type="Ready",status="True"}} 1"#,
        f.ns.name
    );
    assert!(text.contains(&ready), "{text}");
    assert!(
        text.contains("weir_reconcile_duration_seconds_count{kind=\"GitRepository\"}"),
        "{text}"
    );
    let readyz = reqwest::get(format!("http://{}/readyz", f.ctl.metrics_addr))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(readyz, 200);
    f.finish().await;
}

async fn ssh_case(
    name: &str,
    identity: impl FnOnce(&GitSshServer) -> String,
    known_hosts: impl FnOnce(&GitSshServer) -> String,
) -> (GitRepository, SourceRepo) {
    let client = cluster::client().await;
    let ns = TestNamespace::new(&client, name).await;
    let repo = app_repo();
    let server = GitSshServer::start().await;
    let (id, kh) = (identity(&server), known_hosts(&server));
    objects::secret(
        &client,
        &ns.name,
        "ssh",
        &[("identity", &id), ("known_hosts", &kh)],
    )
    .await;
    let sel = random_id();
    let _ctl = controller(&sel).await;
    let api: Api<GitRepository> = Api::namespaced(client.clone(), &ns.name);
    objects::create(
        &api,
        &git_repository("app", &sel)
            .url(&server.url(&repo.dir()))
            .branch("main")
            .secret("ssh"),
    )
    .await;
    let obj = wait_for(&api, "app", Duration::from_secs(60), "reconciled", |o| {
        ready_is(o, "True", "Succeeded")
            || ready_is(o, "False", "AuthenticationFailed")
            || ready_is(o, "False", "GitOperationFailed")
    })
    .await;
    ns.delete().await;
    (obj, repo)
}

#[tokio::test]
async fn ssh_with_the_right_key_fetches() {
    let (obj, repo) = ssh_case(
        "ssh-ok",
        |s| s.client_key.clone(),
        |s| s.known_hosts.clone(),
    )
    .await;
    assert!(
        ready_is(&obj, "True", "Succeeded"),
        "{}",
        ready_message(&obj)
    );
    assert_eq!(
        obj.status.and_then(|s| s.artifact).map(|a| a.revision),
        Some(format!("main@sha1:{}", repo.head()))
    );
}

#[tokio::test]
async fn ssh_with_a_wrong_key_reports_authentication_failed() {
    let (obj, _) = ssh_case("ssh-badkey", GitSshServer::unknown_client_key, |s| {
        s.known_hosts.clone()
    })
    .await;
    assert!(
        ready_is(&obj, "False", "AuthenticationFailed"),
        "{}",
        ready_message(&obj)
    );
}

#[tokio::test]
async fn ssh_with_a_mismatching_known_hosts_is_refused() {
    let (obj, _) = ssh_case(
        "ssh-badhost",
        |s| s.client_key.clone(),
        |s| format!("[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIZ6l3HV6eGGjNYY8cNFoDr2nyJOmMVdH8aafz2cfaKX\n", s.port),
    )
    .await;
    assert!(
        ready_is(&obj, "False", "AuthenticationFailed"),
        "{}",
        ready_message(&obj)
    );
    assert!(
        ready_message(&obj).to_lowercase().contains("host key"),
        "{}",
        ready_message(&obj)
    );
}

#[tokio::test]
async fn https_urls_containing_401_and_403_are_classified_by_what_the_server_answers() {
    let f = Fixture::new("url-401").await;
    // A second repository next to `app`, served by the same server with the same credentials.
    let served = f.repo.root().join("app-401-403");
    f.repo.git(&[
        "clone",
        "-q",
        &f.repo.dir().display().to_string(),
        &served.display().to_string(),
    ]);
    let present = f.server.url("app-401-403");
    objects::create(
        &f.api,
        &f.git_repository("present").url(&present).branch("main"),
    )
    .await;
    let missing = f.server.url("missing-401.git");
    objects::create(
        &f.api,
        &f.git_repository("missing").url(&missing).branch("main"),
    )
    .await;

    let obj = wait_ready(&f.api, "present").await;
    assert_eq!(
        obj.status.and_then(|s| s.artifact).map(|a| a.revision),
        Some(format!("main@sha1:{}", f.repo.head())),
        "a URL with 401 and 403 in it fetches with the right credentials"
    );
    let obj = wait_for(
        &f.api,
        "missing",
        Duration::from_secs(60),
        "GitOperationFailed",
        |o| ready_is(o, "False", "GitOperationFailed"),
    )
    .await;
    assert!(
        ready_message(&obj).starts_with(&format!("fetching {missing} failed: ")),
        "a 404 is no authentication failure, whatever the URL says: {}",
        ready_message(&obj)
    );
    f.finish().await;
}
