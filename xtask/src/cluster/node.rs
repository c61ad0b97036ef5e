//! The cluster's real node: a bridge network, Debian's containerd and runc, a CNI bridge with
//! host-local IPAM, Debian's `docker-registry` on 127.0.0.1:5000, a kubelet with its own
//! client certificate and kube-proxy in iptables mode. Everything it changes on the host is
//! recorded in the state folder and undone by [`down`]: processes by PID, mounts, cgroups,
//! iptables chains, the bridge, sysctls, and the host folders kubelet, the shims and buildah
//! create outside the state folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::{spawn, wait_for};
use crate::util;

/// Node name, bridge, addresses. 10.88.0.1 is the node IP (kubelet's `--node-ip` cannot be a
/// loopback address), so the API server, kubelet and test servers pods talk to listen there.
pub const NODE: &str = "weir-node";
pub const BRIDGE: &str = "weir0";
pub const NODE_IP: &str = "10.88.0.1";
pub const POD_CIDR: &str = "10.88.0.0/16";
pub const SERVICE_CIDR: &str = "10.0.0.0/16";
/// The local image registry (plain HTTP on loopback; containerd treats it as insecure).
pub const REGISTRY: &str = "127.0.0.1:5000";
/// The pod sandbox image, built from the cached static pause binary at every start.
pub const PAUSE_IMAGE: &str = "127.0.0.1:5000/weir/pause:3.4.1";

/// Debian packages the node runs.
pub const PACKAGES: &[&str] = &[
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "docker-registry",
    "buildah",
];

/// Kernel settings kubelet and kube-proxy change at start (or that the node sets): saved at
/// `up`, restored at `down`.
const SYSCTLS: &[&str] = &[
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
];

/// Host folders created outside the state folder: kubelet hard-codes `/var/log/pods`,
/// `/var/log/containers` and `/var/lib/kubelet/device-plugins`; the shims use
/// `/run/containerd/s`; buildah creates `/etc/cni/net.d/cni.lock`, `/var/lib/containers/cache`
/// and `/run/containers`. Those absent before `up` are removed at `down`.
const HOST_DIRS: &[&str] = &[
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/kubelet",
    "/run/containerd",
    "/var/lib/cni",
    "/opt/containerd",
    "/etc/cni",
    "/var/lib/containers",
    "/run/containers",
    "/run/runc",
];

/// What `up` needs from the binary cache.
pub struct Binaries<'a> {
    pub dir: &'a Path,
}

impl Binaries<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Creates the bridge (before the API server, which listens on the node IP), saves what
/// `down` restores, and allows forwarding only between pods of the bridge (ClusterIP
/// Services route pod → node → pod). Pods get no default route: nothing leaves the machine.
pub fn network_up(state: &Path) -> anyhow::Result<()> {
    let saved: Vec<String> = SYSCTLS
        .iter()
        .map(|k| format!("{k}={}", sysctl_read(k).unwrap_or_default()))
        .collect();
    fs::write(state.join("sysctl.saved"), saved.join("\n"))?;
    let absent: Vec<&str> = HOST_DIRS
        .iter()
        .copied()
        .filter(|d| !Path::new(d).exists())
        .collect();
    fs::write(state.join("host-dirs.absent"), absent.join("\n"))?;
    if !sh("nft", &["list", "table", "ip", "nat"]) {
        fs::write(state.join("nat-table.absent"), "")?;
    }
    run("ip", &["link", "add", BRIDGE, "type", "bridge"])?;
    fs::write(state.join("bridge"), BRIDGE)?;
    run(
        "ip",
        &["addr", "add", &format!("{NODE_IP}/16"), "dev", BRIDGE],
    )?;
    run("ip", &["link", "set", BRIDGE, "up"])?;
    // Service IPs stay on the bridge (kube-proxy DNATs them), never out through eth0.
    run("ip", &["route", "add", SERVICE_CIDR, "dev", BRIDGE])?;
    run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
    run("iptables", &["-N", "WEIR-FORWARD"])?;
    for rule in [
        vec!["-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"],
        vec!["-i", BRIDGE, "-j", "DROP"],
        vec!["-o", BRIDGE, "-j", "DROP"],
    ] {
        let mut args = vec!["-A", "WEIR-FORWARD"];
        args.extend(rule);
        run("iptables", &args)?;
    }
    run("iptables", &["-I", "FORWARD", "-j", "WEIR-FORWARD"])?;
    Ok(())
}

/// A CA for client certificates, and the kubelet's certificate
/// (`system:node:weir-node` in `system:nodes`, what the Node authorizer expects).
pub fn certificates(certs: &Path) -> anyhow::Result<()> {
    let p = |f: &str| certs.join(f).display().to_string();
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=weir-cluster-client-ca",
            "-keyout",
            &p("client-ca.key"),
            "-out",
            &p("client-ca.crt"),
        ],
    )?;
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/O=system:nodes/CN=system:node:{NODE}"),
            "-keyout",
            &p("kubelet.key"),
            "-out",
            &p("kubelet.csr"),
        ],
    )?;
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            "30",
            "-in",
            &p("kubelet.csr"),
            "-CA",
            &p("client-ca.crt"),
            "-CAkey",
            &p("client-ca.key"),
            "-CAcreateserial",
            "-out",
            &p("kubelet.crt"),
        ],
    )?;
    Ok(())
}

/// Starts the registry and containerd, builds the pause image, then kubelet and kube-proxy.
pub fn up(
    state: &Path,
    bin: &Binaries,
    server: &str,
    ca: &Path,
    proxy_token: &str,
) -> anyhow::Result<()> {
    let certs = state.join("certs");
    for dir in [
        "registry",
        "containerd/certs.d/127.0.0.1:5000",
        "cni/net.d",
        "cni/ipam",
        "kubelet",
        "buildah",
    ] {
        fs::create_dir_all(state.join(dir))?;
    }
    fs::write(
        state.join("registry.yml"),
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {REGISTRY}\n",
            registry_storage().display()
        ),
    )?;
    spawn(
        state,
        "registry",
        Command::new("docker-registry")
            .arg("serve")
            .arg(state.join("registry.yml")),
    )?;
    fs::write(
        state.join("containerd/certs.d/127.0.0.1:5000/hosts.toml"),
        format!(
            "server = \"http://{REGISTRY}\"\n[host.\"http://{REGISTRY}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  skip_verify = true\n"
        ),
    )?;
    let s = state.display();
    fs::write(
        state.join("containerd/config.toml"),
        format!(
            r#"version = 2
root = "{s}/containerd/root"
state = "{s}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{s}/containerd/containerd.sock"
[ttrpc]
  address = "{s}/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{s}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  # These VMs lack CAP_SYS_RESOURCE: a negative oom_score_adj (CRI asks -998 for the pause
  # container) makes runc fail every sandbox. Clamp scores to containerd's own.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{s}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{s}/containerd/certs.d"
"#
        ),
    )?;
    // isGateway=false: the bridge already carries the node IP. Pods get the pod subnet and a
    // route to the Service range through the node, and no default route.
    fs::write(
        state.join("cni/net.d/10-weir.conflist"),
        format!(
            r#"{{
  "cniVersion": "0.4.0",
  "name": "weir",
  "plugins": [
    {{
      "type": "bridge", "bridge": "{BRIDGE}", "isGateway": false, "ipMasq": false, "hairpinMode": true,
      "ipam": {{
        "type": "host-local", "dataDir": "{s}/cni/ipam",
        "ranges": [[{{"subnet": "{POD_CIDR}", "gateway": "{NODE_IP}", "rangeStart": "10.88.1.1"}}]],
        "routes": [{{"dst": "{SERVICE_CIDR}", "gw": "{NODE_IP}"}}]
      }}
    }},
    {{"type": "portmap", "capabilities": {{"portMappings": true}}}}
  ]
}}
"#
        ),
    )?;
    let socket = state.join("containerd/containerd.sock");
    if socket.as_os_str().len() > 100 {
        bail!(
            "the containerd socket path {} is too long for a Unix socket: move the checkout to a shorter path",
            socket.display()
        );
    }
    spawn(
        state,
        "containerd",
        Command::new("containerd")
            .arg("--config")
            .arg(state.join("containerd/config.toml")),
    )?;
    wait_for(Duration::from_secs(30), "containerd", || {
        ctr(state, &["version"]).is_ok()
    })?;
    wait_for(Duration::from_secs(30), "the registry", || {
        sh("curl", &["-sf", &format!("http://{REGISTRY}/v2/")])
    })?;
    pause_image(state, &bin.path("pause"))?;

    let kubeconfig_for = |user: &str, auth: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: weir-local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n{auth}contexts:\n- name: weir-local\n  context:\n    cluster: weir-local\n    user: {user}\ncurrent-context: weir-local\n",
            ca = ca.display()
        )
    };
    fs::write(
        state.join("kubelet.kubeconfig"),
        kubeconfig_for(
            "kubelet",
            &format!(
                "    client-certificate: {}\n    client-key: {}\n",
                certs.join("kubelet.crt").display(),
                certs.join("kubelet.key").display()
            ),
        ),
    )?;
    fs::write(
        state.join("kube-proxy.kubeconfig"),
        kubeconfig_for("kube-proxy", &format!("    token: {proxy_token}\n")),
    )?;
    let kubelet_dir = state.join("kubelet");
    let healthz = util::free_port()?;
    spawn(
        state,
        "kubelet",
        Command::new(bin.path("kubelet"))
            .arg("--kubeconfig")
            .arg(state.join("kubelet.kubeconfig"))
            .arg("--root-dir")
            .arg(&kubelet_dir)
            .arg("--cert-dir")
            .arg(kubelet_dir.join("pki"))
            .args(["--container-runtime", "remote"])
            .arg(format!(
                "--container-runtime-endpoint=unix://{}",
                socket.display()
            ))
            .args(["--pod-infra-container-image", PAUSE_IMAGE])
            .args(["--cgroup-driver", "cgroupfs", "--fail-swap-on=false"])
            .args(["--hostname-override", NODE, "--node-ip", NODE_IP])
            .args([
                "--address",
                NODE_IP,
                "--port",
                "10250",
                "--read-only-port",
                "0",
            ])
            .args(["--healthz-bind-address", "127.0.0.1"])
            .args(["--healthz-port", &healthz.to_string()])
            // The API server calls the kubelet for logs, exec and port-forward without a
            // client certificate; the kubelet listens on the bridge only.
            .args([
                "--anonymous-auth=true",
                "--authorization-mode",
                "AlwaysAllow",
            ])
            .args(["--make-iptables-util-chains=false"])
            .arg("--volume-plugin-dir")
            .arg(kubelet_dir.join("volume-plugins"))
            .args([
                "--eviction-hard",
                "memory.available<100Mi,nodefs.available<2%,imagefs.available<2%",
            ])
            .args([
                "--image-gc-high-threshold",
                "99",
                "--image-gc-low-threshold",
                "98",
            ])
            .args(["--serialize-image-pulls=false", "--register-node=true"])
            // Ready on the first status update instead of the second (saves ~8 s).
            .args(["--node-status-update-frequency", "3s"])
            .args(["--v", "1"]),
    )?;
    let (proxy_health, proxy_metrics) = (util::free_port()?, util::free_port()?);
    spawn(
        state,
        "kube-proxy",
        Command::new(bin.path("kube-proxy"))
            .arg("--kubeconfig")
            .arg(state.join("kube-proxy.kubeconfig"))
            .args(["--proxy-mode", "iptables", "--hostname-override", NODE])
            .args(["--cluster-cidr", POD_CIDR])
            // Traffic to a Service is masqueraded, so a reply from a pod on the same bridge
            // comes back through the node (no br_netfilter needed) and is un-NATed.
            .args(["--masquerade-all=true"])
            // Leave the host's conntrack limits and timeouts alone.
            .args(["--conntrack-max-per-core", "0"])
            .args(["--conntrack-tcp-timeout-established", "0"])
            .args(["--conntrack-tcp-timeout-close-wait", "0"])
            .args(["--nodeport-addresses", POD_CIDR])
            .arg(format!("--healthz-bind-address=127.0.0.1:{proxy_health}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{proxy_metrics}"))
            .args(["--v", "1"]),
    )?;
    fs::write(
        state.join("kube-proxy.binary"),
        bin.path("kube-proxy").display().to_string(),
    )?;
    Ok(())
}

/// Where the registry keeps images: under the cache, so images pushed once (the controllers'
/// and the test images) survive `cluster down`.
pub fn registry_storage() -> PathBuf {
    util::cache_dir().join("registry")
}

/// A FROM-scratch image holding the static pause binary: pushed to the registry and
/// imported into containerd, so no sandbox ever needs a pull.
fn pause_image(state: &Path, pause: &Path) -> anyhow::Result<()> {
    let root = state.join("buildah");
    let buildah = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new("buildah")
            .arg("--root")
            .arg(root.join("root"))
            .arg("--runroot")
            .arg(root.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running buildah")?;
        if !out.status.success() {
            bail!(
                "buildah {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let container = buildah(&["from", "scratch"])?;
    buildah(&["copy", &container, &pause.display().to_string(), "/pause"])?;
    buildah(&["config", "--entrypoint", "[\"/pause\"]", &container])?;
    buildah(&["commit", "--quiet", &container, PAUSE_IMAGE])?;
    buildah(&[
        "push",
        "--quiet",
        "--tls-verify=false",
        PAUSE_IMAGE,
        &format!("docker://{PAUSE_IMAGE}"),
    ])?;
    let archive = state.join("pause.tar");
    buildah(&[
        "push",
        "--quiet",
        PAUSE_IMAGE,
        &format!("docker-archive:{}:{PAUSE_IMAGE}", archive.display()),
    ])?;
    ctr(
        state,
        &[
            "images",
            "import",
            "--snapshotter",
            "overlayfs",
            &archive.display().to_string(),
        ],
    )?;
    Ok(())
}

/// `ctr` against this node's containerd, in the CRI namespace.
pub fn ctr(state: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ctr")
        .arg("--address")
        .arg(state.join("containerd/containerd.sock"))
        .args(["-n", "k8s.io"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ctr")?;
    if !out.status.success() {
        bail!(
            "ctr {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Tears the node down, in an order that lets each part clean up after the one above: pods
/// deleted while the kubelet still runs (CNI DEL, unmounts), then the kubelet, the containers
/// containerd still holds, containerd, the registry; then what the kernel keeps.
pub fn down(state: &Path, kubeconfig: &Path, api_alive: bool) {
    if api_alive && state.join("kubelet.pid").exists() {
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "delete",
                "pods",
                "--all",
                "-A",
                "--grace-period=1",
                "--wait=false",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for _ in 0..60 {
            match ctr(state, &["tasks", "ls", "-q"]) {
                Ok(tasks) if !tasks.trim().is_empty() => std::thread::sleep(Duration::from_secs(1)),
                _ => break,
            }
        }
    }
    super::stop(state, "kubelet");
    if let Ok(tasks) = ctr(state, &["tasks", "ls", "-q"]) {
        for task in tasks.lines() {
            let _ = ctr(state, &["tasks", "kill", "-s", "SIGKILL", task]);
        }
        std::thread::sleep(Duration::from_millis(500));
        for task in tasks.lines() {
            let _ = ctr(state, &["tasks", "delete", "-f", task]);
        }
    }
    if let Ok(containers) = ctr(state, &["containers", "ls", "-q"]) {
        for c in containers.lines() {
            let _ = ctr(state, &["containers", "delete", c]);
        }
    }
    super::stop(state, "kube-proxy");
    if let Ok(binary) = fs::read_to_string(state.join("kube-proxy.binary")) {
        // Removes every rule kube-proxy wrote (KUBE-* chains in all tables).
        let _ = Command::new(binary.trim())
            .arg("--cleanup")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    super::stop(state, "containerd");
    super::stop(state, "registry");
    // The shims of this containerd outlive it.
    let socket = state
        .join("containerd/containerd.sock")
        .display()
        .to_string();
    if let Ok(procs) = fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("containerd-shim") && cmdline.contains(&socket) {
                let _ = Command::new("kill")
                    .args(["-9", &entry.file_name().to_string_lossy()])
                    .status();
            }
        }
    }
    // Mounts under the state folder (overlays, shm, netns, secret tmpfs), deepest first.
    let prefix = state.display().to_string();
    let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    mounts.sort();
    for m in mounts.iter().rev() {
        let _ = Command::new("umount")
            .args(["-l", m])
            .stderr(Stdio::null())
            .status();
    }
    // Pod cgroups (cgroupfs driver): the kubepods trees, bottom-up.
    if let Ok(controllers) = fs::read_dir("/sys/fs/cgroup") {
        for c in controllers.flatten() {
            let pods = c.path().join("kubepods");
            if pods.is_dir() {
                let _ = Command::new("find")
                    .arg(&pods)
                    .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    for args in [
        &["-D", "FORWARD", "-j", "WEIR-FORWARD"][..],
        &["-F", "WEIR-FORWARD"],
        &["-X", "WEIR-FORWARD"],
    ] {
        let _ = sh("iptables", args);
    }
    if state.join("nat-table.absent").exists() {
        let rules = Command::new("iptables-save")
            .args(["-t", "nat"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if !rules.lines().any(|l| l.starts_with("-A")) {
            let _ = sh("nft", &["delete", "table", "ip", "nat"]);
        }
    }
    if state.join("bridge").exists() {
        let _ = sh("ip", &["link", "del", BRIDGE]);
    }
    if let Ok(saved) = fs::read_to_string(state.join("sysctl.saved")) {
        for line in saved.lines().filter(|l| !l.ends_with('=')) {
            let _ = sh("sysctl", &["-qw", line]);
        }
    }
    if let Ok(absent) = fs::read_to_string(state.join("host-dirs.absent")) {
        for dir in absent.lines().filter(|d| !d.is_empty()) {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn sysctl_read(key: &str) -> Option<String> {
    let out = Command::new("sysctl").args(["-n", key]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn sh(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
