//! The local test cluster: etcd (Debian's `etcd-server`), kube-apiserver,
//! kube-controller-manager and kube-scheduler v1.20.2, and a real node (kubelet, kube-proxy,
//! containerd, a CNI bridge, a local image registry; see [`node`]) — all built once from
//! Debian's `kubernetes` source package into `~/.cache/weir/kubernetes-v1.20.2`.
//!
//! `--no-node` (or `WEIR_NO_NODE=1`) starts only the control plane on 127.0.0.1, for machines
//! where containers cannot run. `KUBEBUILDER_ASSETS` (a folder with `etcd` and
//! `kube-apiserver`, optionally `kube-controller-manager`) skips the build and implies
//! `--no-node`. State lives in `target/weir-cluster/`.

pub mod node;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::util::{self, cache_dir, free_port, workspace_root};

#[derive(Subcommand, Clone, Copy)]
pub enum Action {
    /// Start the cluster (building the binaries once if needed).
    Up {
        /// Only the control plane: no kubelet, containerd or registry (Pods stay Pending).
        #[arg(long)]
        no_node: bool,
    },
    /// Stop everything `up` started and delete its state.
    Down,
    /// Print `export KUBECONFIG=...` for a shell.
    Env,
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Up { no_node } => {
            let kubeconfig = up_with(if no_node {
                Mode::ControlPlane
            } else {
                Mode::from_env()
            })?;
            println!("export KUBECONFIG={}", kubeconfig.display());
            Ok(())
        }
        Action::Down => down(),
        Action::Env => {
            let kc = state_dir().join("kubeconfig");
            if !kc.exists() {
                bail!("no local cluster is running: run `cargo xtask cluster up`");
            }
            println!("export KUBECONFIG={}", kc.display());
            Ok(())
        }
    }
}

/// Whether the cluster gets a node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Control plane and a real node.
    WithNode,
    /// Control plane only.
    ControlPlane,
}

impl Mode {
    /// `WEIR_NO_NODE=1` or `KUBEBUILDER_ASSETS` select the node-less control plane.
    pub fn from_env() -> Self {
        let no_node = std::env::var("WEIR_NO_NODE").is_ok_and(|v| v == "1" || v == "true");
        if no_node || std::env::var_os("KUBEBUILDER_ASSETS").is_some() {
            Mode::ControlPlane
        } else {
            Mode::WithNode
        }
    }
}

/// Folder holding the running cluster's certificates, data, logs and PIDs.
pub fn state_dir() -> PathBuf {
    workspace_root().join("target/weir-cluster")
}

/// Path of the kubeconfig of the local cluster.
pub fn kubeconfig_path() -> PathBuf {
    state_dir().join("kubeconfig")
}

/// Whether the running cluster has a node (tests and the quickstart ask).
pub fn has_node() -> bool {
    state_dir().join("node").exists()
}

/// The folder with the Kubernetes binaries (built once) and etcd.
fn binaries(mode: Mode) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from) {
        if dir.join("kube-apiserver").exists() && dir.join("etcd").exists() {
            return Ok(dir);
        }
        bail!(
            "KUBEBUILDER_ASSETS={} lacks etcd or kube-apiserver",
            dir.display()
        );
    }
    let dir = cache_dir().join("kubernetes-v1.20.2");
    let mut needed = vec![
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ];
    if mode == Mode::WithNode {
        needed.extend(["kubelet", "kube-proxy", "pause"]);
    }
    if !needed.iter().all(|b| dir.join(b).exists()) {
        eprintln!(
            "xtask: building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy v1.20.2 from Debian's source package (once; ~7 min on an idle machine)"
        );
        let started = Instant::now();
        let script = workspace_root().join("xtask/scripts/build-kubernetes.sh");
        util::run(Command::new("bash").arg(script).arg(&dir))?;
        eprintln!(
            "xtask: Kubernetes binaries built in {:.0}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(dir)
}

/// Starts the cluster the environment asks for ([`Mode::from_env`]).
pub fn up() -> anyhow::Result<PathBuf> {
    up_with(Mode::from_env())
}

/// Starts the cluster and returns the kubeconfig path. Idempotent: a healthy running cluster
/// of the same mode is reused.
pub fn up_with(mode: Mode) -> anyhow::Result<PathBuf> {
    let state = state_dir();
    let kubeconfig = kubeconfig_path();
    if kubeconfig.exists() && healthy(&state) && has_node() == (mode == Mode::WithNode) {
        eprintln!("xtask: cluster already running");
        return Ok(kubeconfig);
    }
    down()?;
    if mode == Mode::WithNode {
        util::ensure_debian_packages(node::PACKAGES)?;
    }
    let bin = binaries(mode)?;
    let started = Instant::now();
    fs::create_dir_all(&state)?;
    let certs = state.join("certs");
    fs::create_dir_all(&certs)?;
    // The API server listens where pods reach it: the node IP on the bridge.
    let address = match mode {
        Mode::WithNode => {
            fs::write(state.join("node"), node::NODE)?;
            node::network_up(&state)?;
            node::certificates(&certs)?;
            node::NODE_IP
        }
        Mode::ControlPlane => "127.0.0.1",
    };
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
    let token = random_token()?;
    let proxy_token = random_token()?;
    fs::write(
        state.join("tokens.csv"),
        format!("{token},admin,admin,system:masters\n{proxy_token},system:kube-proxy,kube-proxy\n"),
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
    // With a node: the Node authorizer for the kubelet, client certificates, and the endpoint
    // reconciler, so the `kubernetes` Service points at the node address for pods. Without
    // one, the Service has no endpoints (127.0.0.1 cannot be one).
    let client_ca = format!("--client-ca-file={}", certs.join("client-ca.crt").display());
    let (authorization, api_node_args): (&str, Vec<&str>) = match mode {
        Mode::WithNode => (
            "Node,RBAC",
            vec![
                &client_ca,
                "--kubelet-preferred-address-types=InternalIP,Hostname",
            ],
        ),
        Mode::ControlPlane => ("RBAC", vec!["--endpoint-reconciler-type=none"]),
    };
    spawn(
        &state,
        "kube-apiserver",
        Command::new(bin.join("kube-apiserver"))
            .args(["--etcd-servers", &format!("http://127.0.0.1:{etcd_port}")])
            .args([
                "--secure-port",
                &api_port.to_string(),
                "--bind-address",
                address,
                "--insecure-port",
                "0",
            ])
            .arg("--cert-dir")
            .arg(&certs)
            .arg("--token-auth-file")
            .arg(state.join("tokens.csv"))
            .args([
                "--authorization-mode",
                authorization,
                "--allow-privileged=true",
            ])
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
                address,
            ])
            .args(api_node_args)
            .args(["--v", "1"]),
    )?;
    let server = format!("https://{address}:{api_port}");
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
                // Without it, service-account secrets get an empty ca.crt (the kubeconfig
                // gives the controller-manager no CA of its own).
                .arg("--root-ca-file")
                .arg(&ca)
                .arg("--flex-volume-plugin-dir")
                .arg(state.join("kcm-flex"))
                .args(["--use-service-account-credentials=false", "--v", "1"]),
        )?;
    }
    if bin.join("kube-scheduler").exists() {
        spawn(
            &state,
            "kube-scheduler",
            Command::new(bin.join("kube-scheduler"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args([
                    "--leader-elect=false",
                    "--secure-port",
                    "0",
                    "--port",
                    "0",
                    "--v",
                    "1",
                ]),
        )?;
    }
    if mode == Mode::WithNode {
        node::up(
            &state,
            &node::Binaries { dir: &bin },
            &server,
            &ca,
            &proxy_token,
        )?;
        wait_for(Duration::from_secs(120), "node weir-node Ready", || {
            kubectl_ok(
                &kubeconfig,
                &[
                    "get",
                    "node",
                    node::NODE,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ],
                "True",
            )
        })?;
    }
    // Pods cannot be created before the default ServiceAccount has its token.
    wait_for(
        Duration::from_secs(60),
        "the default ServiceAccount's token",
        || {
            kubectl_ok(
                &kubeconfig,
                &["get", "sa", "default", "-o", "jsonpath={.secrets[0].name}"],
                "",
            )
        },
    )?;
    let what = if mode == Mode::WithNode {
        "cluster with node weir-node"
    } else {
        "control plane (no node)"
    };
    eprintln!(
        "xtask: {what} up at {server} (apiserver ready in {:.1}s, all ready in {:.1}s)\nxtask: export KUBECONFIG={}",
        api_ready.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        kubeconfig.display()
    );
    Ok(kubeconfig)
}

/// Whether `kubectl ARGS` succeeds and prints `want` (any non-empty output when `want` is
/// empty).
fn kubectl_ok(kubeconfig: &Path, args: &[&str], want: &str) -> bool {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            let out = String::from_utf8_lossy(&o.stdout);
            o.status.success()
                && if want.is_empty() {
                    !out.trim().is_empty()
                } else {
                    out.trim() == want
                }
        })
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

/// Stops a process `up` started, by the PID it recorded: TERM, then KILL after 4 s.
fn stop(state: &Path, name: &str) {
    let Ok(pid) = fs::read_to_string(state.join(format!("{name}.pid"))) else {
        return;
    };
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
    let _ = fs::remove_file(state.join(format!("{name}.pid")));
}

/// Stops everything `up` started and deletes its state. Safe to run twice, and after a
/// failed `up`.
pub fn down() -> anyhow::Result<()> {
    let state = state_dir();
    if !state.exists() {
        return Ok(());
    }
    // No new pods while the node tears its pods down.
    stop(&state, "kube-scheduler");
    stop(&state, "kube-controller-manager");
    if has_node() {
        let alive = healthy(&state);
        node::down(&state, &kubeconfig_path(), alive);
    }
    for name in ["kube-apiserver", "etcd"] {
        stop(&state, name);
    }
    if let Ok(data) = fs::read_to_string(state.join("etcd-data-dir")) {
        let _ = fs::remove_dir_all(data.trim());
    }
    fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
    Ok(())
}
