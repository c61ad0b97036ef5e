//! `cargo xtask bench chart-source`: resolving and downloading one chart from a 5,000-entry
//! Helm repository index, source-controller's `weir-chart-once` versus `helm pull`, in the
//! same run on the same machine.
//!
//! The repository is generated under `target/bench/chart-source/repo/`: one real chart
//! (`bench-app`) packaged with helm in 20 versions, indexed with `helm repo index`, and the
//! index extended with generated entries of other charts (whose files do not exist: only
//! `bench-app` is downloaded) to 5,000 chart versions in total. It is served over plain HTTP
//! on 127.0.0.1 by a small thread-per-connection file server in this process that counts,
//! per path, the requests and the complete responses, so that each timed run is checked to
//! have fetched the whole index and the chart once.
//!
//! Both tools start cold on every run: helm gets a fresh `HELM_CACHE_HOME` (no cached index,
//! no content cache) and `weir-chart-once` a fresh storage folder. Before timing, one run of
//! each must yield the same chart file (same sha256) at the expected version.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::bench::{Measure, measure};
use crate::util::{self, workspace_root};

/// The chart that is resolved and downloaded.
const CHART: &str = "bench-app";
/// Versions of it packaged with helm: `1.0.0` ... `1.19.0`.
const REAL_VERSIONS: usize = 20;
/// Chart versions in the whole index (the real ones included).
const ENTRIES: usize = 5000;
/// Versions of each generated chart.
const VERSIONS_PER_GENERATED: usize = 20;
/// The version range both tools resolve, and what it must resolve to (not the latest).
const RANGE: &str = ">=1.2.0 <1.15.0";
const EXPECTED_VERSION: &str = "1.14.0";

pub fn run() -> anyhow::Result<()> {
    util::ensure_debian_packages(&["time"])?;
    let root = workspace_root();
    let helm_bin = crate::helm::helm_binary()?;
    let runs: usize = std::env::var("WEIR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);
    let work = root.join("target/bench/chart-source");
    let _ = std::fs::remove_dir_all(&work);
    let repo = work.join("repo");
    let helm = HelmHome::new(&helm_bin, &work.join("helm-build"))?;
    let expected_tgz = make_repository(&helm, &work.join("src"), &repo)?;
    let index = repo.join("index.yaml");
    let index_bytes = std::fs::metadata(&index)?.len();
    check_index(&index)?;

    let server = FileServer::start(&repo)?;
    let url = format!("http://127.0.0.1:{}", server.port);
    let chart_file = format!("{CHART}-{EXPECTED_VERSION}.tgz");
    let mut run_id = 0usize;
    let mut fresh = |tag: &str| -> anyhow::Result<PathBuf> {
        run_id += 1;
        let dir = work.join("runs").join(format!("{tag}-{run_id:02}"));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    };

    // The reference, checked once before timing.
    let pull = |dir: &Path| -> anyhow::Result<Command> {
        let home = HelmHome::new(&helm_bin, &dir.join("home"))?;
        let dest = dir.join("out");
        std::fs::create_dir_all(&dest)?;
        let mut cmd = home.command(&["pull", CHART, "--repo", &url, "--version", RANGE, "-d"]);
        cmd.arg(&dest);
        Ok(cmd)
    };
    let dir = fresh("helm")?;
    let out = pull(&dir)?.output().context("running helm pull")?;
    if !out.status.success() {
        bail!(
            "helm pull {CHART} --repo {url} --version '{RANGE}' failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let helm_tgz = dir.join("out").join(&chart_file);
    let helm_sha = sha256(&helm_tgz)
        .with_context(|| format!("helm pull did not write {}", helm_tgz.display()))?;
    if helm_sha != sha256(&expected_tgz)? {
        bail!("helm pull wrote a chart that differs from the packaged {chart_file}");
    }
    server.expect_served(1, 1, &chart_file, "helm pull (check run)")?;

    // Weir, checked the same way.
    let weir_bin = weir_binary(&root)?;
    let weir = |dir: &Path| -> Command {
        let mut cmd = Command::new(&weir_bin);
        cmd.args([
            "--url",
            &url,
            "--chart",
            CHART,
            "--version",
            RANGE,
            "--storage",
        ])
        .arg(dir.join("storage"));
        cmd
    };
    let dir = fresh("weir")?;
    let out = weir(&dir)
        .output()
        .with_context(|| format!("running {}", weir_bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            weir_bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let artifact = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(PathBuf::from)
        .with_context(|| format!("{} printed no artifact path", weir_bin.display()))?;
    let weir_sha = sha256(&artifact)
        .with_context(|| format!("reading the artifact {}", artifact.display()))?;
    if weir_sha != helm_sha {
        bail!(
            "different charts: helm pull wrote {chart_file} with sha256 {helm_sha}, weir stored {} \
             with sha256 {weir_sha}",
            artifact.display()
        );
    }
    server.expect_served(1, 1, &chart_file, "weir-chart-once (check run)")?;

    // Warm-up (page cache, binaries), then alternating timed runs, each checked to have
    // downloaded the whole index and the chart.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        let w = measure(&mut weir(&fresh("weir")?))?;
        server.expect_served(1, 1, &chart_file, "weir-chart-once")?;
        let h = measure(&mut pull(&fresh("helm")?)?)?;
        server.expect_served(1, 1, &chart_file, "helm pull")?;
        if i > 0 {
            ours.push(w);
            theirs.push(h);
        }
    }

    let (w, h) = (Stats::of(&ours), Stats::of(&theirs));
    println!(
        "bench chart-source: resolve '{RANGE}' of {CHART} in a {ENTRIES}-entry index ({:.1} MB, \
         {} charts) over HTTP on 127.0.0.1, download and verify the chart; {runs} timed runs \
         after 1 warm-up, alternating, medians; both fetch the whole index every run",
        index_bytes as f64 / 1e6,
        1 + (ENTRIES - REAL_VERSIONS) / VERSIONS_PER_GENERATED,
    );
    println!(
        "  same chart: {chart_file}, sha256:{helm_sha} (helm pull and weir-chart-once, packaged \
         by helm {})",
        helm.version()
    );
    for (name, s) in [("weir-chart-once", &w), ("helm pull      ", &h)] {
        println!(
            "  {name}: {:>7.3}s wall {:>7.3}s CPU {:>7.1} MiB peak (max {:.1} MiB)",
            s.wall,
            s.cpu,
            mib(s.peak_kib),
            mib(s.max_peak_kib)
        );
    }
    println!(
        "  weir faster ×{:.1} (wall), weir less memory ×{:.1} (peak RSS), less CPU ×{:.1}",
        h.wall / w.wall.max(1e-6),
        h.peak_kib as f64 / w.peak_kib.max(1) as f64,
        h.cpu / w.cpu.max(1e-3)
    );
    println!("repository and runs left in {}", work.display());
    Ok(())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Medians of wall seconds, CPU seconds and peak RSS (KiB), and the largest peak RSS.
struct Stats {
    wall: f64,
    cpu: f64,
    peak_kib: u64,
    max_peak_kib: u64,
}

impl Stats {
    fn of(runs: &[Measure]) -> Self {
        fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            v[v.len() / 2]
        }
        Self {
            wall: median(runs.iter().map(|m| m.seconds).collect()),
            cpu: median(runs.iter().map(|m| m.cpu).collect()),
            peak_kib: median(runs.iter().map(|m| m.peak_kib).collect()),
            max_peak_kib: runs.iter().map(|m| m.peak_kib).max().unwrap_or(0),
        }
    }
}

/// `weir-chart-once`: `WEIR_BENCH_CHART_ONCE`, or a fresh release build.
fn weir_binary(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("WEIR_BENCH_CHART_ONCE") {
        return Ok(PathBuf::from(bin));
    }
    util::run(Command::new(env!("CARGO")).current_dir(root).args([
        "build",
        "--release",
        "-p",
        "source-controller",
        "--bin",
        "weir-chart-once",
    ]))?;
    Ok(root.join("target/release/weir-chart-once"))
}

/// A helm binary with its own cache, config and data folders.
struct HelmHome {
    bin: PathBuf,
    home: PathBuf,
}

impl HelmHome {
    fn new(bin: &Path, home: &Path) -> anyhow::Result<Self> {
        for sub in ["cache", "config", "data"] {
            std::fs::create_dir_all(home.join(sub))
                .with_context(|| format!("creating {}", home.join(sub).display()))?;
        }
        Ok(Self {
            bin: bin.to_path_buf(),
            home: home.to_path_buf(),
        })
    }

    /// `helm <args>` through `env`, which sets the helm home and execs helm (same process,
    /// so `/usr/bin/time` measures helm itself; `measure` passes no environment).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("env");
        for (var, sub) in [
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ] {
            cmd.arg(format!("{var}={}", self.home.join(sub).display()));
        }
        cmd.arg(&self.bin).args(args);
        cmd
    }

    fn run(&self, args: &[&str], extra: &[&Path]) -> anyhow::Result<()> {
        let mut cmd = self.command(args);
        cmd.args(extra);
        let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn version(&self) -> String {
        self.command(&["version", "--short"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }
}

/// Packages `bench-app` in [`REAL_VERSIONS`] versions into `repo` with helm, indexes them
/// with `helm repo index`, then extends the index to [`ENTRIES`] chart versions. Returns the
/// package the range must resolve to.
fn make_repository(helm: &HelmHome, src: &Path, repo: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(repo)?;
    let chart = src.join(CHART);
    write_chart(&chart)?;
    for minor in 0..REAL_VERSIONS {
        let version = format!("1.{minor}.0");
        let app_version = format!("2.{minor}.1");
        helm.run(
            &[
                "package",
                "--version",
                &version,
                "--app-version",
                &app_version,
                "--destination",
            ],
            &[repo, &chart],
        )?;
    }
    helm.run(&["repo", "index"], &[repo])?;
    let index_path = repo.join("index.yaml");
    let index = std::fs::read_to_string(&index_path)?;
    std::fs::write(&index_path, extend_index(&index)?)?;
    let expected = repo.join(format!("{CHART}-{EXPECTED_VERSION}.tgz"));
    if !expected.is_file() {
        bail!("helm package wrote no {}", expected.display());
    }
    Ok(expected)
}

/// A chart like real ones: helpers, a Deployment, a Service, a ConfigMap, a values file of
/// a few dozen keys, a README.
fn write_chart(dir: &Path) -> anyhow::Result<()> {
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write(
        "Chart.yaml",
        &format!(
            "apiVersion: v2\nname: {CHART}\ndescription: The chart cargo xtask bench chart-source downloads\ntype: application\nversion: 1.0.0\nappVersion: \"2.0.1\"\nkeywords:\n- bench\n- weir\nhome: https://weir.dev\nmaintainers:\n- name: weir\n  email: dev@weir.dev\n"
        ),
    )?;
    write(
        "values.yaml",
        "replicaCount: 2\nimage:\n  repository: ghcr.io/example/bench-app\n  pullPolicy: IfNotPresent\n  tag: \"\"\nservice:\n  type: ClusterIP\n  port: 8080\nresources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\n  requests:\n    cpu: 100m\n    memory: 64Mi\nconfig:\n  level: info\n  retries: 3\n  timeout: 30s\n  endpoint: https://api.example.com\n",
    )?;
    write(
        "templates/_helpers.tpl",
        "{{- define \"bench-app.fullname\" -}}\n{{- printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" }}\n{{- end }}\n{{- define \"bench-app.labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\nhelm.sh/chart: {{ printf \"%s-%s\" .Chart.Name .Chart.Version }}\n{{- end }}\n",
    )?;
    write(
        "templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"bench-app.fullname\" . }}\n  labels:\n    {{- include \"bench-app.labels\" . | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {{ .Chart.Name }}\n  template:\n    metadata:\n      labels:\n        {{- include \"bench-app.labels\" . | nindent 8 }}\n    spec:\n      containers:\n        - name: app\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n          ports:\n            - containerPort: {{ .Values.service.port }}\n          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n",
    )?;
    write(
        "templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"bench-app.fullname\" . }}\nspec:\n  type: {{ .Values.service.type }}\n  ports:\n    - port: {{ .Values.service.port }}\n  selector:\n    app.kubernetes.io/name: {{ .Chart.Name }}\n",
    )?;
    write(
        "templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"bench-app.fullname\" . }}\ndata:\n  {{- range $k, $v := .Values.config }}\n  {{ $k }}: {{ $v | quote }}\n  {{- end }}\n",
    )?;
    write(
        "README.md",
        "# bench-app\n\nThe chart `cargo xtask bench chart-source` resolves and downloads.\n",
    )
}

/// Adds generated chart entries (in the layout `helm repo index` writes) to helm's index:
/// half before the real chart, half after, so that the index has [`ENTRIES`] versions.
fn extend_index(index: &str) -> anyhow::Result<String> {
    let entries_at = index
        .find("\nentries:\n")
        .context("helm's index.yaml has no `entries:`")?
        + "\nentries:\n".len();
    // The next top-level key after `entries:` (helm writes `generated:` there).
    let end = index[entries_at..]
        .find("\ngenerated:")
        .map(|i| entries_at + i + 1)
        .context("helm's index.yaml has no `generated:` after `entries:`")?;
    let generated = (ENTRIES - REAL_VERSIONS) / VERSIONS_PER_GENERATED;
    if generated * VERSIONS_PER_GENERATED + REAL_VERSIONS != ENTRIES {
        bail!("{ENTRIES} entries do not split into charts of {VERSIONS_PER_GENERATED} versions");
    }
    let mut rng = SplitMix(0x5745_4952_4348);
    let mut before = String::new();
    let mut after = String::new();
    for c in 0..generated {
        let out = if c < generated / 2 {
            &mut before
        } else {
            &mut after
        };
        generated_chart(out, &mut rng, c);
    }
    Ok(format!(
        "{}{before}{}{after}{}",
        &index[..entries_at],
        &index[entries_at..end],
        &index[end..]
    ))
}

/// One generated chart with [`VERSIONS_PER_GENERATED`] versions, newest first, as helm
/// writes an entry.
fn generated_chart(out: &mut String, rng: &mut SplitMix, c: usize) {
    const KINDS: &[&str] = &[
        "api", "worker", "gateway", "cache", "operator", "exporter", "ui", "db",
    ];
    let name = format!("{}-{c:03}", KINDS[c % KINDS.len()]);
    let _ = writeln!(out, "  {name}:");
    for v in (0..VERSIONS_PER_GENERATED).rev() {
        let version = format!("{}.{}.{}", c % 4, v, (c * 7 + v) % 10);
        let digest: String = (0..4).map(|_| format!("{:016x}", rng.next())).collect();
        let _ = write!(
            out,
            "  - annotations:\n      category: Infrastructure\n      licenses: Apache-2.0\n    apiVersion: v2\n    appVersion: {app}\n    created: \"2025-{month:02}-{day:02}T10:{min:02}:00.123456789Z\"\n    dependencies:\n    - name: common\n      repository: oci://registry.example.com/charts\n      tags:\n      - shared\n      version: 2.x.x\n    description: Generated chart {c} of the chart-source benchmark, version {version}\n    digest: {digest}\n    home: https://example.com/charts/{name}\n    icon: https://example.com/icons/{name}.svg\n    keywords:\n    - {kind}\n    - bench\n    maintainers:\n    - name: team-{team}\n      url: https://example.com/teams/{team}\n    name: {name}\n    sources:\n    - https://github.com/example/{name}\n    type: application\n    urls:\n    - {name}-{version}.tgz\n    version: {version}\n",
            app = format_args!("{}.{}.0", 1 + c % 3, v),
            month = 1 + v % 12,
            day = 1 + c % 28,
            min = (c + v) % 60,
            kind = KINDS[c % KINDS.len()],
            team = c % 13,
        );
    }
}

/// Checks that the index is YAML with [`ENTRIES`] chart versions, [`REAL_VERSIONS`] of them
/// the real chart.
fn check_index(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    // A 5,000-entry index is beyond the parser's default budget for untrusted input.
    let mut options = serde_yaml::Options::default();
    options.budget = None;
    let index: serde_json::Value = serde_yaml::from_str_with_options(&text, options)
        .with_context(|| format!("parsing {}", path.display()))?;
    let entries = index
        .get("entries")
        .and_then(serde_json::Value::as_object)
        .context("index has no entries mapping")?;
    let total: usize = entries
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    let real = entries
        .get(CHART)
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    if total != ENTRIES || real != REAL_VERSIONS {
        bail!(
            "{} has {total} chart versions ({real} of {CHART}), expected {ENTRIES} ({REAL_VERSIONS})",
            path.display()
        );
    }
    Ok(())
}

/// A deterministic generator (SplitMix64), so that every run indexes the same bytes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `sha256sum <path>`: the hex digest.
fn sha256(path: &Path) -> anyhow::Result<String> {
    if !path.is_file() {
        bail!("{} does not exist", path.display());
    }
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum")?;
    if !out.status.success() {
        bail!(
            "sha256sum {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
        .context("sha256sum printed nothing")
}

/// Requests and complete responses for one path.
#[derive(Clone, Copy, Default, Debug)]
struct Served {
    requests: usize,
    complete: usize,
}

/// A plain-HTTP file server on 127.0.0.1: one thread per connection, one request per
/// connection (`Connection: close`), files read at request time. Lives as long as xtask.
struct FileServer {
    port: u16,
    served: Arc<Mutex<BTreeMap<String, Served>>>,
}

impl FileServer {
    fn start(root: &Path) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        let served = Arc::new(Mutex::new(BTreeMap::new()));
        let (root, log) = (root.to_path_buf(), served.clone());
        std::thread::Builder::new()
            .name("bench-chart-server".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (root, log) = (root.clone(), log.clone());
                    let _ = std::thread::Builder::new()
                        .name("bench-chart-conn".into())
                        .spawn(move || serve(stream, &root, &log));
                }
            })?;
        Ok(Self { port, served })
    }

    /// Checks that since the last call `index.yaml` was sent in full `index` times and
    /// `chart` `charts` times (requests that did not complete are reported too), then
    /// forgets the counts.
    fn expect_served(
        &self,
        index: usize,
        charts: usize,
        chart: &str,
        who: &str,
    ) -> anyhow::Result<()> {
        let counts =
            std::mem::take(&mut *self.served.lock().unwrap_or_else(PoisonError::into_inner));
        let got = |path: &str| counts.get(path).copied().unwrap_or_default();
        let (i, c) = (got("/index.yaml"), got(&format!("/{chart}")));
        if i.complete != index || c.complete != charts {
            bail!(
                "{who}: expected the whole index.yaml {index}× and {chart} {charts}×, the server \
                 sent index.yaml {}× ({} requests) and {chart} {}× ({} requests); all: {counts:?}",
                i.complete,
                i.requests,
                c.complete,
                c.requests
            );
        }
        Ok(())
    }
}

/// Answers one request on `stream`: `GET`/`HEAD` of a file under `root` (the query string
/// ignored), 404 otherwise; counts it under its path.
fn serve(stream: TcpStream, root: &Path, log: &Mutex<BTreeMap<String, Served>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The rest of the head, up to the blank line.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/").to_string();
    let file = path
        .strip_prefix('/')
        .filter(|rel| {
            !rel.is_empty()
                && rel
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..")
        })
        .map(|rel| root.join(rel));
    let body = match (method, file) {
        ("GET" | "HEAD", Some(file)) => std::fs::read(file).ok(),
        _ => None,
    };
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(path.clone())
        .or_default()
        .requests += 1;
    let mut stream = stream;
    let ok = match body {
        Some(body) => {
            let kind = if path.ends_with(".yaml") {
                "application/x-yaml"
            } else {
                "application/gzip"
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).is_ok()
                && (method == "HEAD" || stream.write_all(&body).is_ok())
                && stream.flush().is_ok()
                && method == "GET"
        }
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n",
            );
            false
        }
    };
    if ok {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path)
            .or_default()
            .complete += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal index as helm writes it, extended to 5,000 versions with the real ones kept.
    #[test]
    fn extends_an_index_to_5000_versions() {
        let helm = "apiVersion: v1\nentries:\n  bench-app:\n  - apiVersion: v2\n    name: bench-app\n    urls:\n    - bench-app-1.0.0.tgz\n    version: 1.0.0\ngenerated: \"2025-01-01T00:00:00Z\"\n";
        // Pretend helm indexed all 20 real versions.
        let mut real = String::new();
        for minor in 0..REAL_VERSIONS {
            let _ = write!(
                real,
                "  - apiVersion: v2\n    name: bench-app\n    urls:\n    - bench-app-1.{minor}.0.tgz\n    version: 1.{minor}.0\n"
            );
        }
        let helm = helm.replacen(
            "  - apiVersion: v2\n    name: bench-app\n    urls:\n    - bench-app-1.0.0.tgz\n    version: 1.0.0\n",
            &real,
            1,
        );
        let extended = extend_index(&helm).expect("extends");
        assert!(extended.starts_with("apiVersion: v1\nentries:\n  api-000:\n"));
        assert!(extended.ends_with("generated: \"2025-01-01T00:00:00Z\"\n"));
        assert!(extended.contains(&real));
        let dir = std::env::temp_dir().join(format!("weir-xtask-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("index.yaml");
        std::fs::write(&path, &extended).expect("write");
        check_index(&path).expect("5,000 versions, 20 of bench-app");
        std::fs::remove_dir_all(&dir).ok();
        // The same bytes every time.
        assert_eq!(extend_index(&helm).expect("extends"), extended);
    }
}
