//! Shutdown in every state: a controller whose API server is unreachable (connection refused,
//! or accepting connections and never answering) still exits promptly on SIGTERM, with leader
//! election on (stuck acquiring the Lease) and off (stuck in the watch's backoff). No cluster
//! needed: the kubeconfig points at 127.0.0.1.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::controller::{binary, free_port};

/// How the fake API server misbehaves.
#[derive(Clone, Copy, Debug)]
enum Api {
    /// Nothing listens: every connection is refused.
    Closed,
    /// Connections are accepted (by the kernel) and never answered.
    Silent,
}

/// Must be below `terminationGracePeriodSeconds` (30 s): the process's grace period is 10 s.
const EXIT_WITHIN: Duration = Duration::from_secs(15);

fn kubeconfig(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let config = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: unreachable
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
users:
- name: user
  user:
    token: not-a-real-token
contexts:
- name: unreachable
  context:
    cluster: unreachable
    user: user
    namespace: default
current-context: unreachable
"
    );
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("writing kubeconfig: {e}"));
    path
}

fn start(name: &str, leader: bool, dir: &Path, api_port: u16) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log")))
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let mut cmd = Command::new(binary(name));
    cmd.env_remove("KUBECONFIG")
        .arg("--kubeconfig")
        .arg(kubeconfig(dir, api_port))
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--log-format", "text", "--log-level", "debug"])
        .arg(format!("--leader-elect={leader}"))
        .args(["--leader-retry-period", "1s"]);
    if name == "source-controller" {
        cmd.arg("--storage-path")
            .arg(dir.join("storage"))
            .args(["--storage-addr", &format!("127.0.0.1:{}", free_port())]);
    } else {
        cmd.arg("--work-dir").arg(dir.join("work"));
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap_or_else(|e| panic!("log file: {e}")))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"))
}

fn assert_exits_on_sigterm(name: &str, leader: bool, api: Api) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    // Silent: keep the listener (never accepted: the kernel completes handshakes, nobody
    // answers). Closed: release the port.
    let _listener = match api {
        Api::Silent => Some(listener),
        Api::Closed => None,
    };
    let mut child = start(name, leader, dir.path(), port);
    // Let it get stuck: creating the client, acquiring the Lease, or backing off a watch.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "{name} exited before SIGTERM: {}",
        std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default()
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    let sent = Instant::now();
    while sent.elapsed() < EXIT_WITHIN {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "{name} (leader election {leader}, API {api:?}) did not exit within {EXIT_WITHIN:?} of SIGTERM; log:\n{}",
        std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default()
    );
}

#[test]
fn source_controller_exits_on_sigterm_while_the_api_is_unreachable() {
    for leader in [true, false] {
        for api in [Api::Closed, Api::Silent] {
            assert_exits_on_sigterm("source-controller", leader, api);
        }
    }
}

#[test]
fn kustomize_controller_exits_on_sigterm_while_the_api_is_unreachable() {
    for leader in [true, false] {
        for api in [Api::Closed, Api::Silent] {
            assert_exits_on_sigterm("kustomize-controller", leader, api);
        }
    }
}
