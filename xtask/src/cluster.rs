//! The local control plane on 127.0.0.1: etcd (Debian's `etcd-server`), kube-apiserver and
//! kube-controller-manager v1.20.2 built once from Debian's `kubernetes` source package.
//!
//! `KUBEBUILDER_ASSETS` (a folder with `etcd` and `kube-apiserver`, optionally
//! `kube-controller-manager`) skips the build. State lives in `target/weir-cluster/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::util::{self, cache_dir, free_port, workspace_root};

#[derive(Subcommand, Clone, Copy)]
pub enum Action {
    /// Start the control plane (building the binaries once if needed).
    Up,
    /// Stop it and delete its state.
    Down,
    /// Print `export KUBECONFIG=...` for a shell.
    Env,
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Up => {
            let kubeconfig = up()?;
            println!("export KUBECONFIG={}", kubeconfig.display());
            Ok(())
        }
        Action::Down => down(),
        Action::Env => {
            let kc = state_dir().join("kubeconfig");
            if !kc.exists() {
                bail!("no local control plane is running: run `cargo xtask cluster up`");
            }
            println!("export KUBECONFIG={}", kc.display());
            Ok(())
        }
    }
}

/// Folder holding the running control plane's certificates, data, logs and PIDs.
pub fn state_dir() -> PathBuf {
    workspace_root().join("target/weir-cluster")
}

/// Path of the kubeconfig of the local control plane.
pub fn kubeconfig_path() -> PathBuf {
    state_dir().join("kubeconfig")
}

/// The folder with `etcd`, `kube-apiserver`, `kube-controller-manager`.
fn binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from) {
        if dir.join("kube-apiserver").exists() && dir.join("etcd").exists() {
            return Ok(dir);
        }
        bail!(
            "KUBEBUILDER_ASSETS={} lacks etcd or kube-apiserver",
            dir.display()
        );
    }
    let dir = cache_dir().join("control-plane");
    let ready = ["etcd", "kube-apiserver", "kube-controller-manager"]
        .iter()
        .all(|b| dir.join(b).exists());
    if !ready {
        eprintln!(
            "xtask: building kube-apiserver and kube-controller-manager v1.20.2 from Debian's source package (once; ~10 min)"
        );
        let started = Instant::now();
        let script = workspace_root().join("xtask/scripts/build-control-plane.sh");
        util::run(Command::new("bash").arg(script).arg(&dir))?;
        eprintln!(
            "xtask: control plane built in {:.0}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(dir)
}

/// Starts the control plane and returns the kubeconfig path. Idempotent: a healthy running
/// control plane is reused.
pub fn up() -> anyhow::Result<PathBuf> {
    let state = state_dir();
    let kubeconfig = kubeconfig_path();
    if kubeconfig.exists() && healthy(&state) {
        eprintln!("xtask: control plane already running");
        return Ok(kubeconfig);
    }
    down()?;
    let bin = binaries()?;
    let started = Instant::now();
    fs::create_dir_all(&state)?;
    let certs = state.join("certs");
    fs::create_dir_all(&certs)?;
    util::run(
        Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(certs.join("sa.key"))
            .arg("2048")
            .stderr(Stdio::null()),
    )?;
    util::run(
        Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(certs.join("sa.key"))
            .arg("-out")
            .arg(certs.join("sa.pub"))
            .stderr(Stdio::null()),
    )?;
    let token = format!(
        "weir-{:x}",
        std::process::id() as u64 * 7919 + started.elapsed().as_nanos() as u64
    );
    fs::write(
        state.join("tokens.csv"),
        format!("{token},admin,admin,system:masters\n"),
    )?;

    // etcd's data lives in memory-backed /dev/shm when available: Debian's etcd 3.4 has no
    // --unsafe-no-fsync, and fsync on a shared disk dominates API latency.
    let shm = Path::new("/dev/shm");
    let data = if shm.is_dir() {
        shm.join(format!("weir-etcd-{}", std::process::id()))
    } else {
        state.join("etcd")
    };
    fs::write(
        state.join("etcd-data-dir"),
        data.to_string_lossy().as_bytes(),
    )?;
    let (etcd_port, peer_port, api_port) = (free_port()?, free_port()?, free_port()?);
    spawn(
        &state,
        "etcd",
        Command::new(bin.join("etcd"))
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
            ])
            .args([
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
            ])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
            ])
            .args([
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer_port}"),
            ])
            .args(["--logger", "zap", "--log-level", "error"]),
    )?;
    spawn(
        &state,
        "kube-apiserver",
        Command::new(bin.join("kube-apiserver"))
            .args(["--etcd-servers", &format!("http://127.0.0.1:{etcd_port}")])
            .args([
                "--secure-port",
                &api_port.to_string(),
                "--bind-address",
                "127.0.0.1",
                "--insecure-port",
                "0",
            ])
            .arg("--cert-dir")
            .arg(&certs)
            .arg("--token-auth-file")
            .arg(state.join("tokens.csv"))
            .args(["--authorization-mode", "RBAC", "--allow-privileged=true"])
            .args([
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
            ])
            .arg("--service-account-key-file")
            .arg(certs.join("sa.pub"))
            .arg("--service-account-signing-key-file")
            .arg(certs.join("sa.key"))
            .args([
                "--service-cluster-ip-range",
                "10.0.0.0/16",
                "--advertise-address",
                "127.0.0.1",
            ])
            .args(["--endpoint-reconciler-type", "none", "--v", "1"]),
    )?;
    let server = format!("https://127.0.0.1:{api_port}");
    let ca = certs.join("apiserver.crt");
    wait_for(
        Duration::from_secs(90),
        "kube-apiserver certificate",
        || ca.exists(),
    )?;
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: weir-local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: weir-local\n  context:\n    cluster: weir-local\n    user: admin\ncurrent-context: weir-local\n",
        ca = ca.display()
    );
    fs::write(&kubeconfig, kc)?;
    wait_for(Duration::from_secs(120), "kube-apiserver /readyz", || {
        healthy(&state)
    })?;
    let api_ready = started.elapsed();
    if bin.join("kube-controller-manager").exists() {
        spawn(
            &state,
            "kube-controller-manager",
            Command::new(bin.join("kube-controller-manager"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["--leader-elect=false", "--secure-port", "0", "--port", "0"])
                .arg("--service-account-private-key-file")
                .arg(certs.join("sa.key"))
                .arg("--root-ca-file")
                .arg(&ca)
                .args(["--use-service-account-credentials=false", "--v", "1"]),
        )?;
    }
    eprintln!(
        "xtask: control plane up at {server} (apiserver ready in {:.1}s)\nxtask: export KUBECONFIG={}",
        api_ready.as_secs_f64(),
        kubeconfig.display()
    );
    Ok(kubeconfig)
}

fn spawn(state: &Path, name: &str, cmd: &mut Command) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let log = fs::File::create(state.join(format!("{name}.log")))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    fs::write(state.join(format!("{name}.pid")), child.id().to_string())?;
    Ok(())
}

fn healthy(state: &Path) -> bool {
    let Ok(tokens) = fs::read_to_string(state.join("tokens.csv")) else {
        return false;
    };
    let token = tokens.split(',').next().unwrap_or_default();
    let Ok(kc) = fs::read_to_string(state.join("kubeconfig")) else {
        return false;
    };
    let Some(server) = kc.lines().find_map(|l| l.trim().strip_prefix("server: ")) else {
        return false;
    };
    Command::new("curl")
        .args([
            "-sfk",
            "--max-time",
            "5",
            "-H",
            &format!("Authorization: Bearer {token}"),
            &format!("{server}/readyz"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let logs = state_dir();
    bail!(
        "timed out after {limit:?} waiting for {what}; see the logs in {}",
        logs.display()
    )
}

/// Stops the control plane and deletes its state.
pub fn down() -> anyhow::Result<()> {
    let state = state_dir();
    if !state.exists() {
        return Ok(());
    }
    for name in ["kube-controller-manager", "kube-apiserver", "etcd"] {
        if let Ok(pid) = fs::read_to_string(state.join(format!("{name}.pid"))) {
            let pid = pid.trim();
            let _ = Command::new("kill").arg(pid).stderr(Stdio::null()).status();
            for _ in 0..40 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill")
                .args(["-9", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
    if let Ok(data) = fs::read_to_string(state.join("etcd-data-dir")) {
        let _ = fs::remove_dir_all(data.trim());
    }
    fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
    Ok(())
}
