//! `weir_helm::repo` against the real helm v4 (`WEIR_HELM`, else `~/.cache/weir/helm/helm`
//! as `cargo xtask test` installs it; these tests fail, never skip, without it).
//!
//! - indexes made by `helm repo index` (recorded by `tests/repo/record.sh`) read with every
//!   entry, in helm's order, each digest the sha256 of its archive;
//! - packages of the fixture charts against `helm package` of the same directories: the same
//!   files, the same `helm show chart`/`show values`, the same `helm template` output;
//! - version resolution and chart URLs against what `helm pull --repo` downloads from a
//!   small HTTP server in the test.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use weir_helm::chart::archive::Limits;
use weir_helm::chart::{load_archive, load_dir};
use weir_helm::repo::{
    IndexFile, PackageOptions, check_chart_archive, merge_values_files, package_dir,
    resolve_chart_url,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repo")
}

fn helm_binary() -> PathBuf {
    let path = match std::env::var_os("WEIR_HELM") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("weir/helm/helm"),
    };
    assert!(
        path.is_file(),
        "helm v4 not found at {}: run `cargo xtask test` (it installs helm into \
         ~/.cache/weir/helm/) or set WEIR_HELM to a helm v4 binary",
        path.display()
    );
    path
}

/// The real helm with a private cache, config and data home.
struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    fn new() -> Helm {
        Helm {
            bin: helm_binary(),
            home: tempfile::tempdir().expect("helm home"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let h = self.home.path();
        Command::new(&self.bin)
            .args(args)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()))
    }

    /// stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }
}

/// The entries of a `.tgz`: path to contents.
fn tgz_files(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        out.insert(path, data);
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

const CHARTS: [&str; 4] = ["simple", "parent", "ignored", "legacy"];

#[test]
fn repo_indexes_made_by_helm_read_with_every_entry_in_helms_order() {
    let repo = fixtures().join("repository");
    let text = std::fs::read_to_string(repo.join("index.yaml")).expect("index.yaml");
    let index = IndexFile::parse(text.as_bytes()).expect("helm's index parses");
    assert!(index.skipped.is_empty(), "{:?}", index.skipped);
    assert_eq!(index.api_version, "v1");
    assert!(index.generated.is_some());
    let names: Vec<&str> = index.entries.keys().map(String::as_str).collect();
    assert_eq!(names, ["ignored", "legacy", "parent", "simple"]);

    // `helm repo index` writes every chart's versions sorted (SortEntries): ours must agree.
    let raw = weir_yaml::from_str_yaml11(&text).expect("yaml");
    for (name, versions) in &index.entries {
        let helm_order: Vec<&str> = raw["entries"][name]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v["version"].as_str().expect("version"))
            .collect();
        let ours: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(ours, helm_order, "{name}");
    }
    assert_eq!(
        index.entries["simple"]
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        [
            "2.0.0-alpha.1",
            "1.2.0-beta.1",
            "1.1.0",
            "1.0.0",
            "1.0.0-rc.1",
            "0.10.0",
            "0.2.0",
            "0.1.0"
        ]
    );

    // Every entry: its archive exists at the relative URL, the digest is its sha256, and the
    // metadata is the archive's own.
    for versions in index.entries.values() {
        for v in versions {
            assert_eq!(v.urls.len(), 1);
            let bytes = std::fs::read(repo.join(&v.urls[0])).expect("archive of the entry");
            assert_eq!(
                v.digest.as_deref(),
                Some(sha256_hex(&bytes).as_str()),
                "{}",
                v.urls[0]
            );
            let metadata = check_chart_archive(&bytes, Limits::default()).expect("valid chart");
            assert_eq!(v.metadata, metadata, "{}", v.urls[0]);
            assert!(v.created.is_some());
        }
    }

    // The same archives indexed with `--url`: same entries, absolute URLs.
    let absolute = IndexFile::parse(
        &std::fs::read(fixtures().join("index-absolute.yaml")).expect("index-absolute.yaml"),
    )
    .expect("parses");
    for (name, versions) in &index.entries {
        let other = &absolute.entries[name];
        assert_eq!(other.len(), versions.len());
        for (a, b) in versions.iter().zip(other) {
            assert_eq!(a.metadata, b.metadata);
            assert_eq!(a.digest, b.digest);
            assert_eq!(
                b.urls,
                [format!("https://charts.example.com/stable/{}", a.urls[0])]
            );
        }
    }

    // Canonical bytes read back to the same index.
    let bytes = index.to_canonical_json();
    let back = IndexFile::from_canonical_json(&bytes).expect("reads back");
    assert_eq!(back.entries, index.entries);
    assert_eq!(back.to_canonical_json(), bytes);
}

/// `helm package` of a fixture chart into a temporary folder: the archive's bytes and name.
fn helm_package(helm: &Helm, dir: &Path, extra: &[&str]) -> (String, Vec<u8>) {
    let out = tempfile::tempdir().expect("out");
    let dest = out.path().to_string_lossy().into_owned();
    let mut args = vec!["package", dir.to_str().expect("utf-8 path"), "-d", &dest];
    args.extend_from_slice(extra);
    helm.ok(&args);
    let entry = std::fs::read_dir(out.path())
        .expect("out dir")
        .next()
        .expect("one archive")
        .expect("entry");
    let name = entry.file_name().to_string_lossy().into_owned();
    (name, std::fs::read(entry.path()).expect("archive"))
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn repo_packages_match_helm_package() {
    let helm = Helm::new();
    let tmp = tempfile::tempdir().expect("tmp");
    for chart in CHARTS {
        let dir = fixtures().join("charts").join(chart);
        let ours = package_dir(&dir, &PackageOptions::default()).expect("packages");
        let (helm_name, theirs) = helm_package(&helm, &dir, &[]);
        assert_eq!(ours.file_name(), helm_name, "{chart}");

        // The same files; the same bytes except the two files helm re-marshals.
        let our_files = tgz_files(&ours.bytes);
        let their_files = tgz_files(&theirs);
        assert_eq!(
            our_files.keys().collect::<Vec<_>>(),
            their_files.keys().collect::<Vec<_>>(),
            "{chart}"
        );
        for (path, data) in &our_files {
            if path.ends_with("/Chart.yaml") || path.ends_with("/Chart.lock") {
                continue;
            }
            assert_eq!(data, &their_files[path], "{chart}: {path}");
        }
        let our_tgz = write_temp(tmp.path(), &format!("ours-{chart}.tgz"), &ours.bytes);
        let their_tgz = write_temp(tmp.path(), &format!("theirs-{chart}.tgz"), &theirs);
        for cmd in [
            &["show", "chart"][..],
            &["show", "values"],
            &["template", "rel"],
        ] {
            let with = |path: &str| {
                let mut args = cmd.to_vec();
                args.push(path);
                helm.ok(&args)
            };
            let mine = with(&our_tgz);
            assert!(!mine.is_empty());
            assert_eq!(mine, with(&their_tgz), "{chart}: helm {cmd:?}");
            if cmd[0] == "template" {
                assert_eq!(
                    mine,
                    with(dir.to_str().expect("utf-8")),
                    "{chart}: from the folder"
                );
            }
        }

        // It loads with our own loader, as the folder does.
        let loaded = load_archive(&ours.bytes).expect("loads");
        let from_dir = load_dir(&dir).expect("loads");
        assert_eq!(loaded.metadata, from_dir.metadata, "{chart}");
        assert_eq!(loaded.values, from_dir.values, "{chart}");
        let subcharts = |c: &weir_helm::chart::Chart| {
            let mut names: Vec<String> = c
                .dependencies
                .iter()
                .map(|d| d.name().to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(subcharts(&loaded), subcharts(&from_dir), "{chart}");

        // Reproducible: a copy of the folder (new paths, new mtimes) gives the same bytes.
        let copy = tmp.path().join(format!("copy-{chart}"));
        copy_dir(&dir, &copy);
        let again = package_dir(&copy, &PackageOptions::default()).expect("packages");
        assert_eq!(sha256_hex(&again.bytes), sha256_hex(&ours.bytes), "{chart}");
    }
}

#[test]
fn repo_packages_hold_the_files_helm_packages() {
    // Spelled out once, so that a change of rules shows here.
    let dir = fixtures().join("charts");
    let list = |chart: &str| {
        let packaged = package_dir(&dir.join(chart), &PackageOptions::default()).expect("packages");
        tgz_files(&packaged.bytes).into_keys().collect::<Vec<_>>()
    };
    assert_eq!(
        list("ignored"),
        [
            "ignored/.helmignore",
            "ignored/Chart.yaml",
            "ignored/files/config.txt",
            "ignored/templates/keep.yaml",
            "ignored/values.yaml",
        ]
    );
    assert_eq!(
        list("parent"),
        [
            "parent/Chart.yaml",
            "parent/charts/child/Chart.yaml",
            "parent/charts/child/templates/configmap.yaml",
            "parent/charts/child/values.yaml",
            "parent/charts/packaged/Chart.yaml",
            "parent/charts/packaged/templates/configmap.yaml",
            "parent/charts/packaged/values.yaml",
            "parent/templates/configmap.yaml",
            "parent/values.yaml",
        ]
    );
    assert_eq!(
        list("legacy"),
        [
            "legacy/Chart.yaml",
            "legacy/charts/dep/Chart.yaml",
            "legacy/charts/dep/templates/configmap.yaml",
            "legacy/charts/dep/values.yaml",
            "legacy/requirements.lock",
            "legacy/requirements.yaml",
            "legacy/templates/configmap.yaml",
            "legacy/values.yaml",
        ]
    );
}

#[test]
fn repo_package_with_a_new_version_rewrites_chart_yaml_as_helm_does() {
    let helm = Helm::new();
    for (chart, version) in [
        ("simple", "3.1.4+build.9"),
        ("legacy", "1.0.1"),
        ("parent", "0.4.0-rc.1"),
    ] {
        let dir = fixtures().join("charts").join(chart);
        let ours = package_dir(
            &dir,
            &PackageOptions {
                values_override: None,
                version: Some(version.into()),
            },
        )
        .expect("packages");
        let (helm_name, theirs) = helm_package(&helm, &dir, &["--version", version]);
        assert_eq!(ours.file_name(), helm_name);
        assert_eq!(ours.version, version);
        let path = format!("{chart}/Chart.yaml");
        assert_eq!(
            String::from_utf8(tgz_files(&ours.bytes)[&path].clone()).expect("utf-8"),
            String::from_utf8(tgz_files(&theirs)[&path].clone()).expect("utf-8"),
            "{chart}"
        );
    }
}

#[test]
fn repo_package_with_merged_values_renders_as_helm_with_values_files() {
    let helm = Helm::new();
    let dir = fixtures().join("charts/simple");
    let read = |n: &str| std::fs::read(dir.join(n)).expect("values file");
    let merged = merge_values_files(&[
        ("values.yaml", read("values.yaml")),
        ("values-prod.yaml", read("values-prod.yaml")),
    ])
    .expect("merges");
    let ours = package_dir(
        &dir,
        &PackageOptions {
            values_override: Some(merged.clone()),
            version: Some("0.1.0+1".into()),
        },
    )
    .expect("packages");
    let tmp = tempfile::tempdir().expect("tmp");
    let tgz = write_temp(tmp.path(), "simple.tgz", &ours.bytes);
    let values_yaml = "features:\n- c\nimage:\n  repository: example/web\n  tag: \"2.0\"\nlabels:\n  env: prod\n  team: web\nreplicas: 3\n";
    assert_eq!(
        tgz_files(&ours.bytes)["simple/values.yaml"],
        values_yaml.as_bytes()
    );
    // `helm show values` prints the file and a newline.
    assert_eq!(
        helm.ok(&["show", "values", &tgz]),
        format!("{values_yaml}\n")
    );
    // The chart with merged defaults renders as helm renders the folder with `-f prod`.
    let prod = dir.join("values-prod.yaml");
    assert_eq!(
        helm.ok(&["template", "rel", &tgz])
            .replace("0.1.0_1", "0.1.0"),
        helm.ok(&[
            "template",
            "rel",
            dir.to_str().expect("utf-8"),
            "-f",
            prod.to_str().expect("utf-8")
        ])
    );
}

// ---------------------------------------------------------------------------------------
// A chart repository over HTTP, for `helm pull --repo`.

/// A minimal HTTP/1.1 server: `index.yaml` under any path gives the index it holds, any
/// other path gives the archive of the fixture repository with that file name; every
/// request target is recorded.
struct Server {
    addr: SocketAddr,
    index: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(index: Vec<u8>) -> Server {
        let mut archives = BTreeMap::new();
        let repo = fixtures().join("repository");
        for dir in [repo.clone(), repo.join("old")] {
            for entry in std::fs::read_dir(&dir).expect("repository") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "tgz") {
                    let name = path
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned();
                    archives.insert(name, std::fs::read(&path).expect("archive"));
                }
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let index = Arc::new(Mutex::new(index));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (served, log, halt) = (Arc::clone(&index), Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let index = served
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    serve(stream, &index, &archives, &log);
                }
            }
        });
        Server {
            addr,
            index,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn set_index(&self, bytes: Vec<u8>) {
        *self.index.lock().unwrap_or_else(PoisonError::into_inner) = bytes;
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last request for an archive.
    fn last_archive_request(&self) -> Option<String> {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| !r.split('?').next().unwrap_or("").ends_with("/index.yaml"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    index: &[u8],
    archives: &BTreeMap<String, Vec<u8>>,
    log: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(target.clone());
    let path = target.split('?').next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    let body = if file == "index.yaml" {
        Some(index)
    } else {
        archives.get(file).map(Vec::as_slice)
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", &b"not found\n"[..]),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// `helm pull <chart> --repo <repo> [--version <c>]`: the file name it saved, or `None` when
/// helm found no such version.
fn helm_pull(helm: &Helm, repo: &str, chart: &str, constraint: &str) -> Option<String> {
    let out = tempfile::tempdir().expect("out");
    let dest = out.path().to_string_lossy().into_owned();
    let mut args = vec!["pull", chart, "--repo", repo, "-d", &dest];
    if !constraint.is_empty() {
        args.extend_from_slice(&["--version", constraint]);
    }
    let result = helm.run(&args);
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains("not found"), "helm {args:?}: {stderr}");
        return None;
    }
    let entry = std::fs::read_dir(out.path())
        .expect("out dir")
        .next()
        .expect("one archive")
        .expect("entry");
    Some(entry.file_name().to_string_lossy().into_owned())
}

/// Path and query of an absolute URL (what a client puts in the request line).
fn target_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_string())
}

#[test]
fn repo_versions_resolve_as_helm_pull_picks_them() {
    let helm = Helm::new();
    let index_bytes = std::fs::read(fixtures().join("repository/index.yaml")).expect("index");
    let index = IndexFile::parse(&index_bytes).expect("parses");
    let server = Server::start(index_bytes);
    let repo = server.url("/charts?token=s3cret");
    for constraint in [
        "",
        "*",
        "^0.1",
        "~0.1",
        "0.x",
        "1.x",
        ">=0.2.0 <1.0.0",
        "<0.2",
        ">=1.0.0-0",
        "^1.0.0-0",
        "~1.2.0-0",
        "1.0.0-rc.1",
        "1.0.0",
        "0.10.0",
        "v0.2",
        "1.0",
        ">0.1.0, <0.10.0 || >=2.0.0-0",
        ">9",
        "^3",
    ] {
        let picked = helm_pull(&helm, &repo, "simple", constraint);
        let ours = index.get("simple", constraint).ok();
        assert_eq!(
            ours.map(|v| format!("simple-{}.tgz", v.version)),
            picked,
            "constraint {constraint:?}"
        );
        if let Some(v) = ours {
            // helm asked for the archive at the URL we resolve, the token carried along.
            let url = resolve_chart_url(&repo, &v.urls[0]).expect("resolves");
            assert_eq!(server.last_archive_request(), Some(target_of(&url)));
            assert!(url.ends_with("?token=s3cret"), "{url}");
        }
    }
    // A chart one folder down in the repository.
    assert_eq!(
        helm_pull(&helm, &repo, "legacy", "").as_deref(),
        Some("legacy-1.0.0.tgz")
    );
    assert_eq!(
        server.last_archive_request().as_deref(),
        Some("/charts/old/legacy-1.0.0.tgz?token=s3cret")
    );
    // The index itself was asked for with the token too.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r == "/charts/index.yaml?token=s3cret")
    );
}

#[test]
fn repo_chart_urls_resolve_as_helm_requests_them() {
    // An index whose entries spell their URLs in every way Helm allows.
    let text = std::fs::read_to_string(fixtures().join("repository/index.yaml")).expect("index");
    let mut doc = weir_yaml::from_str_yaml11(&text).expect("yaml");
    let placeholder = "http://HOST";
    let forms = [
        ("0.1.0", format!("{placeholder}/abs/simple-0.1.0.tgz")),
        ("0.2.0", "//HOSTPORT/other/simple-0.2.0.tgz".to_string()),
        ("0.10.0", "sub/../simple-0.10.0.tgz?sig=1".to_string()),
        ("1.0.0", "/rooted/simple-1.0.0.tgz".to_string()),
        ("1.1.0", "with space/simple-1.1.0.tgz".to_string()),
        (
            "1.0.0-rc.1",
            "./deep/./er/simple-1.0.0-rc.1.tgz#frag".to_string(),
        ),
    ];
    // The server's address is known once it runs; the index is written for it.
    let server = Server::start(Vec::new());
    let host = server.addr.to_string();
    for entry in doc["entries"]["simple"].as_array_mut().expect("list") {
        let version = entry["version"].as_str().expect("version").to_string();
        if let Some((_, url)) = forms.iter().find(|(v, _)| *v == version) {
            let url = url
                .replace("http://HOST", &format!("http://{host}"))
                .replace("HOSTPORT", &host);
            entry["urls"] = serde_json::json!([url]);
        }
    }
    let yaml = weir_yaml::to_string(&doc);
    let index = IndexFile::parse(yaml.as_bytes()).expect("parses");
    server.set_index(yaml.into_bytes());
    let helm = Helm::new();
    for repo in [
        server.url("/charts?token=s3cret"),
        server.url("/charts/"),
        server.url(""),
    ] {
        for (version, _) in &forms {
            let picked = helm_pull(&helm, &repo, "simple", version);
            assert_eq!(
                picked,
                Some(format!("simple-{version}.tgz")),
                "{repo} {version}"
            );
            let entry = index.get("simple", version).expect("entry");
            let url = resolve_chart_url(&repo, &entry.urls[0]).expect("resolves");
            let target = target_of(&url);
            // A fragment never reaches the server.
            let target = target.split('#').next().unwrap_or("").to_string();
            assert_eq!(
                server.last_archive_request(),
                Some(target),
                "{repo} + {}",
                entry.urls[0]
            );
        }
    }
}

#[test]
fn repo_canonical_index_is_an_index_helm_reads() {
    let index =
        IndexFile::parse(&std::fs::read(fixtures().join("repository/index.yaml")).expect("index"))
            .expect("parses");
    let server = Server::start(index.to_canonical_json());
    let helm = Helm::new();
    let repo = server.url("/charts");
    for constraint in ["", ">=1.0.0-0", "~0.1"] {
        assert_eq!(
            helm_pull(&helm, &repo, "simple", constraint),
            Some(format!(
                "simple-{}.tgz",
                index.get("simple", constraint).expect("ours").version
            )),
            "{constraint:?}"
        );
    }
}
