//! A real Helm chart repository for tests: small charts written to a temporary folder,
//! packaged with the real `helm package` and indexed with `helm repo index` (so the
//! `index.yaml` and every `.tgz` are what helm itself produces), served in-process over HTTPS
//! (certificate from a CA generated for the test, optionally requiring a client certificate
//! from the same CA) or plain HTTP, with or without HTTP basic auth, optionally answering
//! after a delay, and pushed to OCI registries with `helm push`.
//!
//! ```no_run
//! use weir_tests::chart_repo::{ChartRepoServer, ChartSource, chart};
//! let source = ChartSource::new();
//! source.package(&chart("podinfo").version("6.5.0").values_file("values-prod.yaml", "a: 1\n"));
//! let server = ChartRepoServer::options(source.repo_dir()).prefix("/charts").start();
//! source.index_with_url(&server.base_url);
//! assert_eq!(server.hits("index.yaml"), 0);
//! ```
//!
//! Every helm command runs with `HELM_CACHE_HOME`, `HELM_CONFIG_HOME` and `HELM_DATA_HOME` in
//! a temporary folder of its [`Helm`], so nothing is read from or left in the user's home.

use std::ffi::OsStr;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::tls_server::{Handler, TlsIdentity, accept_loop, basic_auth, reply, unauthorized};

/// The real helm v4: `WEIR_HELM`, else `~/.cache/weir/helm/helm` (where `cargo xtask test`
/// installs it, see `xtask/src/helm.rs`).
///
/// # Panics
/// When the binary is missing: the chart tests need the real helm and never skip.
pub fn helm_binary() -> PathBuf {
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
        "helm v4 not found at {}: run the tests with `cargo xtask test` (it installs helm into \
         ~/.cache/weir/helm/) or set WEIR_HELM to a helm v4 binary",
        path.display()
    );
    path
}

/// The real helm with a private home (cache, config, data) that is removed when dropped.
pub struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Default for Helm {
    fn default() -> Self {
        Self::new()
    }
}

impl Helm {
    /// Finds helm ([`helm_binary`]) and creates its private home.
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("helm home: {e}"));
        for sub in ["cache", "config", "data"] {
            std::fs::create_dir_all(home.path().join(sub))
                .unwrap_or_else(|e| panic!("helm home {sub}: {e}"));
        }
        Self {
            bin: helm_binary(),
            home,
        }
    }

    /// The private home folder (holds `cache/`, `config/`, `data/`); a good place for files
    /// that helm commands take, such as a CA file.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `helm` with the private home in its environment and no arguments yet.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_DATA_HOME", self.home.path().join("data"))
            .env_remove("HELM_REGISTRY_CONFIG")
            .env_remove("HELM_REPOSITORY_CONFIG")
            .env_remove("HELM_REPOSITORY_CACHE")
            .env_remove("HELM_CONTENT_CACHE")
            .env_remove("HELM_KUBECONTEXT")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `helm <args>` and returns its output, whether it succeeded or not.
    pub fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()))
    }

    /// Runs `helm <args>` and returns its stdout.
    ///
    /// # Panics
    /// When helm exits non-zero (with its stderr in the message).
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.output(args);
        assert_success(&out, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm registry login <host> --username <user> --password-stdin`, with `--plain-http`
    /// for a registry that speaks plain HTTP and `--ca-file` for one with a test CA.
    pub fn registry_login(&self, host: &str, user: &str, password: &str, opts: &PushOptions) {
        let mut cmd = self.command();
        cmd.args([
            "registry",
            "login",
            host,
            "--username",
            user,
            "--password-stdin",
        ]);
        registry_flags(&mut cmd, opts);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running helm registry login: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(password.as_bytes())
                .unwrap_or_else(|e| panic!("writing the password to helm: {e}"));
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for helm registry login: {e}"));
        assert!(
            out.status.success(),
            "helm registry login {host} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    /// `helm push <chart_tgz> <oci_url>` (after `helm registry login` when `opts.creds` is
    /// set). `oci_url` is the repository prefix, e.g. `oci://127.0.0.1:5000/charts`; the chart
    /// lands at `<prefix>/<chart name>:<chart version>`.
    pub fn push(&self, chart_tgz: &Path, oci_url: &str, opts: &PushOptions) -> PushedChart {
        let host = oci_url
            .strip_prefix("oci://")
            .unwrap_or_else(|| panic!("{oci_url} is not an oci:// URL"))
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some((user, password)) = &opts.creds {
            self.registry_login(&host, user, password, opts);
        }
        let mut cmd = self.command();
        cmd.arg("push").arg(chart_tgz).arg(oci_url);
        registry_flags(&mut cmd, opts);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running helm push: {e}"));
        assert!(
            out.status.success(),
            "helm push {} {oci_url} failed: {}",
            chart_tgz.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        // helm prints `Pushed: <ref>` and `Digest: <digest>` (on stderr in v4; read both).
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_else(|| panic!("helm push printed no {name:?} line:\n{text}"))
        };
        PushedChart {
            reference: field("Pushed:"),
            digest: field("Digest:"),
        }
    }
}

fn registry_flags(cmd: &mut Command, opts: &PushOptions) {
    if opts.plain_http {
        cmd.arg("--plain-http");
    }
    if let Some(ca) = &opts.ca_file {
        cmd.arg("--ca-file").arg(ca);
    }
}

fn assert_success<S: AsRef<OsStr>>(out: &Output, args: &[S]) {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    assert!(
        out.status.success(),
        "helm {} failed ({}): {}",
        shown.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// How [`Helm::push`] reaches a registry.
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    /// The registry speaks plain HTTP (`--plain-http`).
    pub plain_http: bool,
    /// User name and password for `helm registry login` (none: anonymous push).
    pub creds: Option<(String, String)>,
    /// A CA file for a registry whose certificate a test CA issued (`--ca-file`).
    pub ca_file: Option<PathBuf>,
}

/// What `helm push` reported.
#[derive(Clone, Debug)]
pub struct PushedChart {
    /// `<host>/<path>/<name>:<version>`, without `oci://`.
    pub reference: String,
    /// `sha256:<hex>` of the chart's OCI manifest.
    pub digest: String,
}

/// Runs the real `helm push <chart_tgz> <oci_url>` with a private helm home: `oci_url` is
/// `oci://<host>[/<path>]`, `plain_http` adds `--plain-http` (to login and push), `creds`
/// logs in first with `helm registry login --password-stdin`.
///
/// # Panics
/// When login or push fail.
pub fn helm_push(
    chart_tgz: &Path,
    oci_url: &str,
    plain_http: bool,
    creds: Option<(&str, &str)>,
) -> PushedChart {
    Helm::new().push(
        chart_tgz,
        oci_url,
        &PushOptions {
            plain_http,
            creds: creds.map(|(u, p)| (u.to_string(), p.to_string())),
            ca_file: None,
        },
    )
}

/// The template every chart has: a ConfigMap naming the chart, its versions, and the keys
/// of `.Values.data`.
const CONFIGMAP_TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    chart: {{ .Chart.Name }}-{{ .Chart.Version }}
data:
  chartVersion: {{ .Chart.Version | quote }}
  appVersion: {{ .Chart.AppVersion | quote }}
  {{- range $k, $v := .Values.data }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
";

/// A small chart to write and package: `Chart.yaml`, `values.yaml`,
/// `templates/configmap.yaml`, extra files (values files such as `values-prod.yaml`) and
/// subcharts under `charts/`. Start with [`chart`].
#[derive(Clone, Debug)]
pub struct Chart {
    name: String,
    version: String,
    app_version: String,
    values: String,
    files: Vec<(String, String)>,
    subcharts: Vec<Chart>,
}

/// A chart named `name`, version `0.1.0`, appVersion `1.0.0`, values
/// `data: {greeting: hello}`.
pub fn chart(name: &str) -> Chart {
    Chart {
        name: name.to_string(),
        version: "0.1.0".to_string(),
        app_version: "1.0.0".to_string(),
        values: "data:\n  greeting: hello\n".to_string(),
        files: Vec::new(),
        subcharts: Vec::new(),
    }
}

impl Chart {
    /// The chart's `version` (SemVer).
    #[must_use]
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }

    /// The chart's `appVersion`.
    #[must_use]
    pub fn app_version(mut self, app_version: &str) -> Self {
        self.app_version = app_version.to_string();
        self
    }

    /// The whole `values.yaml`.
    #[must_use]
    pub fn values(mut self, yaml: &str) -> Self {
        self.values = yaml.to_string();
        self
    }

    /// An extra values file at the chart root, e.g. `values-prod.yaml`.
    #[must_use]
    pub fn values_file(self, name: &str, yaml: &str) -> Self {
        self.file(name, yaml)
    }

    /// Any extra file, at `path` relative to the chart root (e.g. `templates/extra.yaml`).
    #[must_use]
    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.to_string(), content.to_string()));
        self
    }

    /// A subchart under `charts/<name>/`, also listed in `dependencies` (without a
    /// repository, so `helm package` checks it is there and fetches nothing).
    #[must_use]
    pub fn subchart(mut self, sub: Chart) -> Self {
        self.subcharts.push(sub);
        self
    }

    /// The chart's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file `helm package` writes: `<name>-<version>.tgz`.
    pub fn package_name(&self) -> String {
        format!("{}-{}.tgz", self.name, self.version)
    }

    /// Writes the chart to `<parent>/<name>/` (replacing what was there) and returns that
    /// folder.
    pub fn write(&self, parent: &Path) -> PathBuf {
        let dir = parent.join(&self.name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("removing {}: {e}", dir.display()));
        }
        let mut chart_yaml = format!(
            "apiVersion: v2\nname: {}\ndescription: A chart for Weir's tests\ntype: application\nversion: {}\nappVersion: \"{}\"\n",
            self.name, self.version, self.app_version
        );
        if !self.subcharts.is_empty() {
            chart_yaml.push_str("dependencies:\n");
            for sub in &self.subcharts {
                chart_yaml.push_str(&format!(
                    "- name: {}\n  version: {}\n",
                    sub.name, sub.version
                ));
            }
        }
        write_file(&dir.join("Chart.yaml"), &chart_yaml);
        write_file(&dir.join("values.yaml"), &self.values);
        write_file(&dir.join("templates/configmap.yaml"), CONFIGMAP_TEMPLATE);
        for (path, content) in &self.files {
            write_file(&dir.join(path), content);
        }
        for sub in &self.subcharts {
            sub.write(&dir.join("charts"));
        }
        dir
    }
}

fn write_file(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    }
    std::fs::write(path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A chart repository folder built with the real helm: charts are packaged into it with
/// `helm package` and indexed with `helm repo index`. Serve [`repo_dir`](Self::repo_dir) with
/// [`ChartRepoServer`]. Removed when dropped.
pub struct ChartSource {
    helm: Helm,
    dir: tempfile::TempDir,
}

impl Default for ChartSource {
    fn default() -> Self {
        Self::new()
    }
}

impl ChartSource {
    /// An empty repository folder (no `index.yaml` until [`index`](Self::index)).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("chart source dir: {e}"));
        for sub in ["src", "repo"] {
            std::fs::create_dir_all(dir.path().join(sub))
                .unwrap_or_else(|e| panic!("chart source {sub}: {e}"));
        }
        Self {
            helm: Helm::new(),
            dir,
        }
    }

    /// The helm that packages and indexes (its home is private to this source).
    pub fn helm(&self) -> &Helm {
        &self.helm
    }

    /// The repository folder: the packaged charts and `index.yaml`.
    pub fn repo_dir(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Writes `chart` and packages it with `helm package` into the repository folder;
    /// returns the `.tgz`. The index is not updated: call [`index`](Self::index) after.
    pub fn package(&self, chart: &Chart) -> PathBuf {
        let src = chart.write(&self.dir.path().join("src").join(&chart.version));
        let repo = self.repo_dir();
        self.helm.run(&[
            OsStr::new("package"),
            src.as_os_str(),
            OsStr::new("--destination"),
            repo.as_os_str(),
        ]);
        let tgz = repo.join(chart.package_name());
        assert!(
            tgz.is_file(),
            "helm package wrote no {} in {}",
            chart.package_name(),
            repo.display()
        );
        tgz
    }

    /// `helm repo index <repo>`: an index whose chart URLs are relative to the index
    /// (`podinfo-1.0.0.tgz`). Returns the bytes of `index.yaml`.
    pub fn index(&self) -> Vec<u8> {
        let repo = self.repo_dir();
        self.helm
            .run(&[OsStr::new("repo"), OsStr::new("index"), repo.as_os_str()]);
        self.index_yaml()
    }

    /// `helm repo index <repo> --url <base>`: chart URLs are absolute
    /// (`<base>/podinfo-1.0.0.tgz`). Returns the bytes of `index.yaml`.
    pub fn index_with_url(&self, base: &str) -> Vec<u8> {
        let repo = self.repo_dir();
        self.helm.run(&[
            OsStr::new("repo"),
            OsStr::new("index"),
            repo.as_os_str(),
            OsStr::new("--url"),
            OsStr::new(base),
        ]);
        self.index_yaml()
    }

    /// The current `index.yaml`, as helm wrote it.
    pub fn index_yaml(&self) -> Vec<u8> {
        let path = self.repo_dir().join("index.yaml");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The URL path as sent (with the prefix, percent-encoded, without the query).
    pub path: String,
    /// The query string, when there was one.
    pub query: Option<String>,
    /// Whether the request carried an `Authorization` header (right or wrong).
    pub authorization: bool,
    /// The status the server answered with.
    pub status: u16,
}

/// How a [`ChartRepoServer`] listens and what it requires; start with
/// [`ChartRepoServer::options`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    root: PathBuf,
    host: String,
    prefix: String,
    basic_auth: bool,
    tls: bool,
    client_cert: bool,
    delay: Option<Duration>,
}

impl ServerOptions {
    /// Listen on `host` (an IP address, also in the certificate), e.g. the node IP for a
    /// repository that Pods must reach. Default `127.0.0.1`.
    #[must_use]
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_string();
        self
    }

    /// Serve the folder under a URL path prefix such as `/charts` (then `base_url` ends with
    /// it and nothing outside it is served).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = format!("/{}", prefix.trim_matches('/'));
        if self.prefix == "/" {
            self.prefix.clear();
        }
        self
    }

    /// Accept requests without credentials (the server still has a user name and password,
    /// which it does not check, and still records whether a request sent any).
    #[must_use]
    pub fn no_auth(mut self) -> Self {
        self.basic_auth = false;
        self
    }

    /// Plain HTTP instead of HTTPS (`ca_pem` is then empty).
    #[must_use]
    pub fn plain_http(mut self) -> Self {
        self.tls = false;
        self
    }

    /// Require a client certificate issued by the test CA (HTTPS only): a handshake without
    /// one fails. The server's `client_cert_pem` and `client_key_pem` are such a certificate.
    #[must_use]
    pub fn require_client_cert(mut self) -> Self {
        self.client_cert = true;
        self
    }

    /// Wait `delay` before answering each request (without blocking other connections), to
    /// exceed a client's timeout.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Binds a random port and starts serving on a thread of its own (so that the test may
    /// block, e.g. on a helm command, while the server answers).
    pub fn start(self) -> ChartRepoServer {
        ChartRepoServer::start_with(self)
    }
}

/// A chart repository served in-process: files of a folder, read at request time (a test
/// may add a chart and re-run `helm repo index` while it runs), over HTTPS with a test CA or
/// plain HTTP, with or without basic auth. Records every request. Stops when dropped.
pub struct ChartRepoServer {
    /// The repository URL: `https://<host>:<port>[<prefix>]` (`http://` in plain mode), no
    /// trailing slash.
    pub base_url: String,
    /// PEM of the CA that issued the server certificate (the Secret's `ca.crt`); empty in
    /// plain-HTTP mode.
    pub ca_pem: String,
    /// PEM of a client certificate the same CA issued (the Secret's `tls.crt`), which a
    /// server started with [`ServerOptions::require_client_cert`] accepts; empty in
    /// plain-HTTP mode.
    pub client_cert_pem: String,
    /// PEM of that client certificate's key (the Secret's `tls.key`); empty in plain-HTTP
    /// mode.
    pub client_key_pem: String,
    /// The user name basic auth accepts.
    pub username: String,
    /// The password basic auth accepts.
    pub password: String,
    /// Whether the server requires basic auth.
    pub auth_required: bool,
    prefix: String,
    log: Arc<Mutex<Vec<RequestRecord>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ChartRepoServer {
    /// Serves `root` at the URL root over HTTPS with basic auth, on 127.0.0.1.
    pub fn start(root: &Path) -> Self {
        Self::options(root).start()
    }

    /// Options for serving `root`: HTTPS, basic auth, no prefix, 127.0.0.1 unless changed.
    pub fn options(root: impl Into<PathBuf>) -> ServerOptions {
        ServerOptions {
            root: root.into(),
            host: "127.0.0.1".to_string(),
            prefix: String::new(),
            basic_auth: true,
            tls: true,
            client_cert: false,
            delay: None,
        }
    }

    fn start_with(opts: ServerOptions) -> Self {
        assert!(
            opts.tls || !opts.client_cert,
            "a client certificate needs HTTPS: drop plain_http() or require_client_cert()"
        );
        let identity = opts.tls.then(|| {
            if opts.client_cert {
                TlsIdentity::requiring_client_cert(&opts.host)
            } else {
                TlsIdentity::generate(&opts.host)
            }
        });
        let listener = std::net::TcpListener::bind((opts.host.as_str(), 0))
            .unwrap_or_else(|e| panic!("binding {}: {e}", opts.host));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking listener: {e}"));
        let addr: SocketAddr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("listener address: {e}"));
        let (username, password) = ("weir".to_string(), format!("pw-{}", crate::random_id()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let site = Arc::new(Site {
            root: opts.root.clone(),
            prefix: opts.prefix.clone(),
            expected: opts.basic_auth.then(|| basic_auth(&username, &password)),
            log: log.clone(),
        });
        let delay = opts.delay;
        let handler: Handler = Arc::new(move |req| {
            let site = site.clone();
            Box::pin(async move {
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                site.handle(&req)
            })
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ca_pem, client_cert_pem, client_key_pem, acceptor) = match identity {
            Some(id) => (
                id.ca_pem,
                id.client_cert_pem,
                id.client_key_pem,
                Some(id.acceptor),
            ),
            None => (String::new(), String::new(), String::new(), None),
        };
        let thread = std::thread::Builder::new()
            .name(format!("chart-repo-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("chart repository runtime: {e}"));
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .unwrap_or_else(|e| panic!("chart repository listener: {e}"));
                    tokio::select! {
                        () = accept_loop(listener, acceptor, handler) => {}
                        _ = stopped => {}
                    }
                });
            })
            .unwrap_or_else(|e| panic!("chart repository thread: {e}"));
        let scheme = if opts.tls { "https" } else { "http" };
        Self {
            base_url: format!("{scheme}://{addr}{}", opts.prefix),
            ca_pem,
            client_cert_pem,
            client_key_pem,
            username,
            password,
            auth_required: opts.basic_auth,
            prefix: opts.prefix,
            log,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The URL of `file` (relative to the repository, e.g. `index.yaml`).
    pub fn url(&self, file: &str) -> String {
        format!("{}/{}", self.base_url, file.trim_start_matches('/'))
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many requests asked for `file` (relative to the repository; any query, any
    /// status).
    pub fn hits(&self, file: &str) -> usize {
        let path = self.path_of(file);
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// How many requests for `file` carried an `Authorization` header.
    pub fn hits_with_authorization(&self, file: &str) -> usize {
        let path = self.path_of(file);
        self.requests()
            .iter()
            .filter(|r| r.path == path && r.authorization)
            .count()
    }

    /// Whether any request so far carried an `Authorization` header.
    pub fn authorization_seen(&self) -> bool {
        self.requests().iter().any(|r| r.authorization)
    }

    fn path_of(&self, file: &str) -> String {
        format!("{}/{}", self.prefix, file.trim_start_matches('/'))
    }
}

impl Drop for ChartRepoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the request handler needs: the folder, the prefix, the accepted `Authorization`
/// value (none: anything goes) and the request log.
struct Site {
    root: PathBuf,
    prefix: String,
    expected: Option<String>,
    log: Arc<Mutex<Vec<RequestRecord>>>,
}

impl Site {
    fn handle(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let given = req.headers().get(hyper::header::AUTHORIZATION);
        let response = self.respond(req, given.and_then(|v| v.to_str().ok()));
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RequestRecord {
                method: req.method().to_string(),
                path: req.uri().path().to_string(),
                query: req.uri().query().map(str::to_string),
                authorization: given.is_some(),
                status: response.status().as_u16(),
            });
        response
    }

    fn respond(&self, req: &Request<Incoming>, given: Option<&str>) -> Response<Full<Bytes>> {
        if let Some(expected) = &self.expected
            && given != Some(expected.as_str())
        {
            return unauthorized("charts");
        }
        if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        }
        let Some(file) = self.file_of(req.uri().path()) else {
            return reply(StatusCode::NOT_FOUND, "not found\n");
        };
        let Ok(body) = std::fs::read(&file) else {
            return reply(StatusCode::NOT_FOUND, "not found\n");
        };
        let content_type = match file.extension().and_then(OsStr::to_str) {
            Some("yaml" | "yml") => "application/x-yaml",
            Some("tgz" | "gz") => "application/gzip",
            _ => "application/octet-stream",
        };
        let mut r = Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        r
    }

    /// The file a URL path names: under the prefix, percent-decoded, made of normal
    /// components only (no empty ones, `.`, `..` or backslashes), and a regular file.
    fn file_of(&self, url_path: &str) -> Option<PathBuf> {
        let rest = url_path.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let decoded = percent_decode(rest)?;
        let mut path = self.root.clone();
        for part in decoded.split('/') {
            if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
                return None;
            }
            path.push(part);
        }
        path.is_file().then_some(path)
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("app-1.0.0%2Bbuild.1.tgz").as_deref(),
            Some("app-1.0.0+build.1.tgz")
        );
        assert_eq!(percent_decode("plain.tgz").as_deref(), Some("plain.tgz"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
