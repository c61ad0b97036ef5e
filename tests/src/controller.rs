//! A controller process under test: the real binary built by `cargo xtask test`
//! (`WEIR_BIN_DIR`), its own storage folder and ports, watching only objects labelled for
//! this test. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The label every test object carries so that only its own controller reconciles it.
pub const TEST_LABEL: &str = "weir.dev/test";

/// Path of a workspace binary.
pub fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("WEIR_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::cluster::workspace_root().join("target/debug"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build it first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// A running source-controller.
pub struct SourceController {
    child: Option<Child>,
    /// Storage root.
    pub storage: PathBuf,
    /// `host:port` of the artifact server.
    pub storage_addr: String,
    /// `host:port` of metrics and health.
    pub metrics_addr: String,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// Options for starting a source-controller.
pub struct Options<'a> {
    /// Value of [`TEST_LABEL`] this controller watches.
    pub selector: &'a str,
    /// Namespace of the leader-election Lease; None disables leader election.
    pub leader_namespace: Option<&'a str>,
    /// Storage folder to use (a temporary one when None).
    pub storage: Option<&'a Path>,
    /// Extra flags.
    pub extra: &'a [&'a str],
}

/// Starts a controller binary watching objects labelled for `selector`, logging to `log`.
pub fn spawn(
    name: &str,
    selector: &str,
    metrics_addr: &str,
    leader_namespace: Option<&str>,
    args: &[String],
    log: &Path,
) -> Child {
    let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("log file: {e}"));
    let mut cmd = Command::new(binary(name));
    cmd.env("KUBECONFIG", crate::cluster::kubeconfig())
        .args(["--metrics-addr", metrics_addr])
        .args([
            "--watch-label-selector",
            &format!("{TEST_LABEL}={selector}"),
        ])
        .args([
            "--log-format",
            "text",
            "--log-level",
            &format!("info,{}=debug", name.replace('-', "_")),
        ])
        .args(args);
    match leader_namespace {
        Some(ns) => cmd.args(["--leader-elect=true", "--leader-election-namespace", ns]),
        None => cmd.arg("--leader-elect=false"),
    };
    cmd.stdin(Stdio::null())
        .stdout(
            log_file
                .try_clone()
                .unwrap_or_else(|e| panic!("log file: {e}")),
        )
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"))
}

/// Waits until a controller's `/healthz` answers.
pub async fn wait_healthy(metrics_addr: &str, name: &str) {
    let url = format!("http://{metrics_addr}/healthz");
    crate::wait::until(Duration::from_secs(30), &format!("{name} /healthz"), || {
        let url = url.clone();
        async move {
            reqwest::get(&url)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
}

/// A free TCP port on 127.0.0.1.
///
/// Ports come from a per-process sequence below the kernel's ephemeral range, so that two
/// controllers started at the same moment never get the same port (asking the kernel for
/// port 0 and releasing it would let a concurrent caller receive it too).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + u16::try_from(std::process::id() % 500).unwrap_or(0) * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = base + (n % 10000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl SourceController {
    /// Starts the controller and waits until `/readyz` answers (or, with leader election,
    /// until the process is up).
    pub async fn start(opts: Options<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let storage = opts
            .storage
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("storage"));
        let storage_addr = format!("127.0.0.1:{}", free_port());
        let metrics_addr = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join("controller.log");
        let mut args: Vec<String> = vec!["--storage-path".into(), storage.display().to_string()];
        args.extend(["--storage-addr", &storage_addr].map(String::from));
        args.extend(opts.extra.iter().map(|s| (*s).to_string()));
        let child = spawn(
            "source-controller",
            opts.selector,
            &metrics_addr,
            opts.leader_namespace,
            &args,
            &log,
        );
        let this = Self {
            child: Some(child),
            storage,
            storage_addr,
            metrics_addr,
            log,
            _dir: Some(dir),
        };
        wait_healthy(&this.metrics_addr, "source-controller").await;
        this
    }
    /// The controller's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit success.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for SourceController {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running consumer controller (kustomize-controller, helm-controller): a process with
/// its own work folder and log, killed when dropped.
pub struct ConsumerController {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ConsumerController {
    /// Starts the binary `name` for objects labelled `selector`, with a fresh `--work-dir`
    /// and `--requeue-dependency requeue`, and waits until it is healthy.
    async fn start(name: &str, selector: &str, requeue: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let metrics_addr = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join(format!("{name}.log"));
        let mut args = vec![
            "--work-dir".to_string(),
            dir.path().join("work").display().to_string(),
            "--requeue-dependency".to_string(),
            requeue.to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_string()));
        let child = spawn(name, selector, &metrics_addr, None, &args, &log);
        wait_healthy(&metrics_addr, name).await;
        Self {
            child: Some(child),
            log,
            _dir: dir,
        }
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ConsumerController {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running kustomize-controller.
pub struct KustomizeController(ConsumerController);

impl KustomizeController {
    /// Starts the controller for objects labelled `selector` and waits until it is healthy.
    pub async fn start(selector: &str, extra: &[&str]) -> Self {
        Self(ConsumerController::start("kustomize-controller", selector, "2s", extra).await)
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        self.0.log()
    }
}

/// A running helm-controller.
pub struct HelmController(ConsumerController);

impl HelmController {
    /// Starts the controller for objects labelled `selector` and waits until it is healthy.
    pub async fn start(selector: &str, extra: &[&str]) -> Self {
        Self(ConsumerController::start("helm-controller", selector, "1s", extra).await)
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        self.0.log()
    }
}
