//! The chart repository harness against the real tools only (helm v4, curl): what helm
//! packages and indexes is served as written, `helm repo add` + `helm pull` work over HTTPS
//! with the test CA and basic auth, wrong credentials get 401, URL prefixes, query strings,
//! plain HTTP and charts added while the server runs all work. No Kubernetes needed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use weir_tests::chart_repo::{ChartRepoServer, ChartSource, Helm, chart};

/// `curl` of `url` with the server's CA (when HTTPS) and, when `auth`, its credentials;
/// returns the HTTP status and the body.
fn curl(server: &ChartRepoServer, dir: &Path, url: &str, auth: bool) -> (u16, Vec<u8>) {
    let body = dir.join("curl.body");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o"])
        .arg(&body)
        .args(["-w", "%{http_code}"]);
    if !server.ca_pem.is_empty() {
        let ca = dir.join("curl-ca.pem");
        std::fs::write(&ca, &server.ca_pem).expect("write CA");
        cmd.arg("--cacert").arg(ca);
    }
    if auth {
        cmd.arg("-u")
            .arg(format!("{}:{}", server.username, server.password));
    }
    let out = cmd.arg(url).output().expect("curl runs (install curl)");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("curl printed the status");
    (status, std::fs::read(&body).unwrap_or_default())
}

/// `helm repo add <name> <server> --ca-file --username --password` with `password`.
fn repo_add(
    helm: &Helm,
    name: &str,
    server: &ChartRepoServer,
    password: &str,
) -> std::process::Output {
    let ca = helm.home().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).expect("write CA");
    helm.output(&[
        OsStr::new("repo"),
        OsStr::new("add"),
        OsStr::new(name),
        OsStr::new(&server.base_url),
        OsStr::new("--ca-file"),
        ca.as_os_str(),
        OsStr::new("--username"),
        OsStr::new(&server.username),
        OsStr::new("--password"),
        OsStr::new(password),
    ])
}

#[test]
fn helm_repo_add_and_pull_over_https_with_basic_auth() {
    let source = ChartSource::new();
    let v1 = source.package(&chart("podinfo").version("6.5.0").app_version("6.5.0"));
    source.package(&chart("podinfo").version("6.6.0").app_version("6.6.0"));
    source.index();
    let server = ChartRepoServer::options(source.repo_dir())
        .prefix("/charts")
        .start();
    assert!(server.base_url.starts_with("https://127.0.0.1:"));
    assert!(server.base_url.ends_with("/charts"));

    let client = Helm::new();
    let added = repo_add(&client, "weirtest", &server, &server.password);
    assert!(
        added.status.success(),
        "helm repo add: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert_eq!(server.hits("index.yaml"), 1, "{:?}", server.requests());

    let dest = tempfile::tempdir().expect("tempdir");
    client.run(&[
        OsStr::new("pull"),
        OsStr::new("weirtest/podinfo"),
        OsStr::new("--version"),
        OsStr::new("6.5.0"),
        OsStr::new("-d"),
        dest.path().as_os_str(),
    ]);
    let pulled =
        std::fs::read(dest.path().join("podinfo-6.5.0.tgz")).expect("helm pulled the chart");
    assert_eq!(
        pulled,
        std::fs::read(&v1).expect("packaged chart"),
        "helm pull got the .tgz helm package wrote"
    );
    assert_eq!(server.hits("podinfo-6.5.0.tgz"), 1);
    assert_eq!(server.hits("podinfo-6.6.0.tgz"), 0);
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.authorization && r.status == 200),
        "every request authenticated and answered: {requests:?}"
    );
    assert_eq!(server.hits_with_authorization("podinfo-6.5.0.tgz"), 1);
}

#[test]
fn a_wrong_password_gets_401() {
    let source = ChartSource::new();
    source.package(&chart("podinfo").version("1.0.0"));
    source.index();
    let server = ChartRepoServer::start(&source.repo_dir());

    let client = Helm::new();
    let added = repo_add(&client, "weirtest", &server, "not-the-password");
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(
        !added.status.success(),
        "helm repo add with a wrong password succeeded"
    );
    assert!(stderr.contains("401"), "helm reports the 401: {stderr}");
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.status == 401 && r.authorization),
        "credentials were sent and refused: {requests:?}"
    );

    // Without credentials at all: 401 as well, and recorded as such.
    server.clear_requests();
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _) = curl(&server, dir.path(), &server.url("index.yaml"), false);
    assert_eq!(status, 401);
    assert!(!server.authorization_seen());
    assert_eq!(server.hits("index.yaml"), 1);
}

#[test]
fn the_index_served_is_byte_identical_to_the_file_helm_wrote() {
    let source = ChartSource::new();
    source.package(&chart("podinfo").version("1.0.0"));
    source.package(&chart("redis").version("17.0.1").app_version("7.0.5"));
    let server = ChartRepoServer::options(source.repo_dir())
        .prefix("/charts/")
        .start();
    let written = source.index_with_url(&server.base_url);
    let text = String::from_utf8_lossy(&written);
    assert!(
        text.contains(&format!("- {}/redis-17.0.1.tgz", server.base_url)),
        "absolute URLs in the index: {text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (status, served) = curl(&server, dir.path(), &server.url("index.yaml"), true);
    assert_eq!(status, 200);
    assert_eq!(served, written, "served index differs from helm's file");

    // A query string is accepted (and recorded); the same bytes come back.
    let (status, with_query) = curl(
        &server,
        dir.path(),
        &format!("{}?token=x", server.url("index.yaml")),
        true,
    );
    assert_eq!(status, 200);
    assert_eq!(with_query, written);
    let last = server.requests().pop().expect("a request");
    assert_eq!(last.query.as_deref(), Some("token=x"));
    assert_eq!(last.path, "/charts/index.yaml");
    assert_eq!(server.hits("index.yaml"), 2);

    // Nothing outside the prefix, nothing that escapes the folder.
    let origin = server.base_url.trim_end_matches("/charts");
    for outside in [
        format!("{origin}/index.yaml"),
        format!("{}/%2e%2e/repo/index.yaml", server.base_url),
        format!("{}/missing-1.0.0.tgz", server.base_url),
    ] {
        let (status, _) = curl(&server, dir.path(), &outside, true);
        assert_eq!(status, 404, "{outside}");
    }
}

#[test]
fn plain_http_without_auth_serves_charts_added_while_running() {
    let source = ChartSource::new();
    let v1 = source.package(&chart("podinfo").version("1.0.0"));
    let server = ChartRepoServer::options(source.repo_dir())
        .prefix("charts")
        .plain_http()
        .no_auth()
        .start();
    assert!(server.base_url.starts_with("http://127.0.0.1:"));
    assert!(server.ca_pem.is_empty());
    source.index_with_url(&server.base_url);

    let client = Helm::new();
    let pull = |version: &str, dest: &Path| {
        client.run(&[
            OsStr::new("pull"),
            OsStr::new("podinfo"),
            OsStr::new("--repo"),
            OsStr::new(&server.base_url),
            OsStr::new("--version"),
            OsStr::new(version),
            OsStr::new("-d"),
            dest.as_os_str(),
        ])
    };
    let dest = tempfile::tempdir().expect("tempdir");
    pull("1.x", dest.path());
    assert_eq!(
        std::fs::read(dest.path().join("podinfo-1.0.0.tgz")).expect("pulled 1.0.0"),
        std::fs::read(&v1).expect("packaged 1.0.0")
    );

    // A new version, indexed while the server runs, is served at once.
    let v2 = source.package(&chart("podinfo").version("1.1.0"));
    source.index_with_url(&server.base_url);
    pull(">=1.0.0 <2.0.0", dest.path());
    assert_eq!(
        std::fs::read(dest.path().join("podinfo-1.1.0.tgz")).expect("pulled 1.1.0"),
        std::fs::read(&v2).expect("packaged 1.1.0")
    );
    assert_eq!(server.hits("podinfo-1.0.0.tgz"), 1);
    assert_eq!(server.hits("podinfo-1.1.0.tgz"), 1);
    assert!(server.hits("index.yaml") >= 2);
    assert!(
        !server.authorization_seen(),
        "no credentials were given, none sent: {:?}",
        server.requests()
    );
}

#[test]
fn subcharts_and_extra_values_files_are_packaged() {
    let source = ChartSource::new();
    let tgz = source.package(
        &chart("umbrella")
            .version("2.0.0")
            .values("data:\n  tier: default\n")
            .values_file("values-prod.yaml", "data:\n  tier: prod\n")
            .subchart(
                chart("redis")
                    .version("17.0.1")
                    .values("data:\n  role: cache\n"),
            ),
    );
    let index = String::from_utf8(source.index()).expect("UTF-8 index");
    assert!(
        index.contains("- umbrella-2.0.0.tgz"),
        "relative URL: {index}"
    );
    assert!(index.contains("name: redis"), "dependency listed: {index}");

    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&tgz)
        .output()
        .expect("tar runs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for entry in [
        "umbrella/Chart.yaml",
        "umbrella/values.yaml",
        "umbrella/values-prod.yaml",
        "umbrella/templates/configmap.yaml",
        "umbrella/charts/redis/Chart.yaml",
        "umbrella/charts/redis/templates/configmap.yaml",
    ] {
        assert!(listing.lines().any(|l| l == entry), "{entry} in {listing}");
    }

    // helm renders both charts; the extra values file is what a valuesFiles entry would use.
    let helm = source.helm();
    let rendered = helm.run(&[OsStr::new("template"), OsStr::new("rel"), tgz.as_os_str()]);
    assert!(rendered.contains("name: rel-umbrella"), "{rendered}");
    assert!(rendered.contains("name: rel-redis"), "{rendered}");
    assert!(rendered.contains("tier: \"default\""), "{rendered}");
    assert!(rendered.contains("role: \"cache\""), "{rendered}");
    assert!(rendered.contains("chartVersion: \"2.0.0\""), "{rendered}");
}
