//! An SSH Git server for tests: OpenSSH's `sshd` on a loopback port with a generated host
//! key, accepting one generated client key, and forcing `git-shell` for every session.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running sshd; killed when dropped.
pub struct GitSshServer {
    /// Port on 127.0.0.1.
    pub port: u16,
    /// The accepted client private key (OpenSSH PEM), for the Secret's `identity`.
    pub client_key: String,
    /// A `known_hosts` line matching the server's host key.
    pub known_hosts: String,
    dir: tempfile::TempDir,
    child: Child,
}

fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "weir-test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen: {e} (install openssh-client)"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap_or_else(|e| panic!("reading public key: {e}"))
}

fn which(program: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output();
    let path = out
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(!path.is_empty(), "{program} not found on PATH");
    PathBuf::from(path)
}

impl GitSshServer {
    /// Starts sshd and waits until it accepts connections.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let host_pub = keygen(&dir.path().join("host_key"));
        let client_pub = keygen(&dir.path().join("client_key"));
        std::fs::write(dir.path().join("authorized_keys"), &client_pub)
            .unwrap_or_else(|e| panic!("authorized_keys: {e}"));
        let port = crate::controller::free_port();
        let git_shell = which("git-shell");
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             StrictModes no\nUsePAM no\nLogLevel ERROR\nForceCommand {shell} -c \"$SSH_ORIGINAL_COMMAND\"\n",
            d = dir.path().display(),
            shell = git_shell.display()
        );
        std::fs::write(dir.path().join("sshd_config"), config)
            .unwrap_or_else(|e| panic!("sshd_config: {e}"));
        let _ = std::fs::create_dir_all("/run/sshd");
        let sshd = if Path::new("/usr/sbin/sshd").exists() {
            PathBuf::from("/usr/sbin/sshd")
        } else {
            which("sshd")
        };
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting sshd: {e} (install openssh-server)"));
        crate::wait::until(Duration::from_secs(20), "sshd to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        let host_key = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let client_key = std::fs::read_to_string(dir.path().join("client_key"))
            .unwrap_or_else(|e| panic!("client key: {e}"));
        Self {
            port,
            client_key,
            known_hosts: format!("[127.0.0.1]:{port} {host_key}\n"),
            dir,
            child,
        }
    }

    /// The `ssh://` URL of the repository at an absolute path.
    pub fn url(&self, repo_dir: &Path) -> String {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        format!("ssh://{user}@127.0.0.1:{}{}", self.port, repo_dir.display())
    }

    /// A fresh key pair the server does not accept.
    pub fn unknown_client_key(&self) -> String {
        let path = self
            .dir
            .path()
            .join(format!("other_{}", crate::random_id()));
        keygen(&path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading key: {e}"))
    }
}

impl Drop for GitSshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
