//! An OCI registry for tests: Debian's `docker-registry` (CNCF distribution, the same binary
//! `cargo xtask cluster up` runs for the node's images) on a free loopback port, with its own
//! temporary storage and generated config, either anonymous or behind htpasswd basic auth.
//! Plain HTTP; [`Registry::start_tls`] adds an HTTPS endpoint with a certificate from a CA
//! generated for the test (a second process serving the same storage). Killed when dropped;
//! a missing binary fails the test with what to install.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

/// A running registry; killed when dropped.
pub struct Registry {
    /// `127.0.0.1:<port>` (the host of its `oci://` URLs).
    pub base: String,
    /// The accepted user name and password, for a registry started with
    /// [`Registry::start_with_auth`].
    pub credentials: Option<(String, String)>,
    /// The HTTPS endpoint of a registry started with [`Registry::start_tls`].
    pub tls: Option<RegistryTls>,
    child: Child,
    dir: tempfile::TempDir,
}

/// A second docker-registry process serving the same storage over HTTPS, with a server
/// certificate (for `127.0.0.1` and `localhost`) issued by a CA generated for the test.
/// Killed when dropped.
pub struct RegistryTls {
    /// `127.0.0.1:<port>` of the HTTPS endpoint.
    pub base: String,
    /// PEM of the CA that issued the server certificate (a Secret's `ca.crt`).
    pub ca_pem: String,
    child: Child,
}

impl Drop for RegistryTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry binary: `docker-registry` on `PATH` (Debian's package installs it in
/// `/usr/bin`).
fn binary() -> PathBuf {
    let found = Command::new("sh")
        .args(["-c", "command -v docker-registry"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| !p.is_empty());
    match found {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "docker-registry not found on PATH: install Debian's docker-registry package \
             (`apt-get install docker-registry`; `cargo xtask test` installs it)"
        ),
    }
}

impl Registry {
    /// An anonymous registry on 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1", false).await
    }

    /// A registry on 127.0.0.1 that accepts only [`Registry::credentials`] (htpasswd basic
    /// auth: distribution reads bcrypt entries only).
    pub async fn start_with_auth() -> Self {
        Self::start_on("127.0.0.1", true).await
    }

    /// A registry listening on `host` (an IP address), with basic auth when `auth`.
    pub async fn start_on(host: &str, auth: bool) -> Self {
        weir_shared::install_crypto_provider();
        let bin = binary();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = crate::controller::free_port();
        let base = format!("{host}:{port}");
        let credentials = auth.then(|| ("weir".to_string(), format!("pw-{}", crate::random_id())));
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  \
             filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  \
             addr: {base}\n  secret: {secret}\n",
            storage = dir.path().join("storage").display(),
            secret = crate::random_id(),
        );
        if let Some((user, password)) = &credentials {
            // The lowest bcrypt cost: these are throwaway test passwords.
            let hash = bcrypt::hash(password, 4).unwrap_or_else(|e| panic!("bcrypt: {e}"));
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n"))
                .unwrap_or_else(|e| panic!("writing htpasswd: {e}"));
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: weir-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let child = serve(&bin, dir.path(), "registry", &config);
        let mut registry = Registry {
            base,
            credentials,
            tls: None,
            child,
            dir,
        };
        registry.wait_ready().await;
        registry
    }

    /// An anonymous registry on 127.0.0.1 reachable both over plain HTTP at
    /// [`Registry::base`] (where `weir push artifact --insecure-registry` and the test's
    /// own requests go) and over HTTPS at [`RegistryTls::base`] (a second docker-registry
    /// process on the same storage, its certificate issued by [`RegistryTls::ca_pem`]).
    pub async fn start_tls() -> Self {
        let mut registry = Self::start().await;
        let identity = crate::tls_server::TlsIdentity::generate("127.0.0.1");
        let dir = registry.dir.path();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &identity.server_cert_pem)
            .unwrap_or_else(|e| panic!("writing {}: {e}", cert.display()));
        std::fs::write(&key, &identity.server_key_pem)
            .unwrap_or_else(|e| panic!("writing {}: {e}", key.display()));
        let base = format!("127.0.0.1:{}", crate::controller::free_port());
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  \
             filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  \
             addr: {base}\n  secret: {secret}\n  tls:\n    certificate: {cert}\n    key: {key}\n",
            storage = dir.join("storage").display(),
            secret = crate::random_id(),
            cert = cert.display(),
            key = key.display(),
        );
        let child = serve(&binary(), dir, "registry-tls", &config);
        registry.tls = Some(RegistryTls {
            base,
            ca_pem: identity.ca_pem,
            child,
        });
        registry.wait_tls_ready().await;
        registry
    }

    /// `oci://<HTTPS endpoint>/<repo>` of a registry started with [`Registry::start_tls`].
    pub fn tls_oci_url(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.tls_endpoint().base)
    }

    fn tls_endpoint(&self) -> &RegistryTls {
        self.tls
            .as_ref()
            .unwrap_or_else(|| panic!("the registry was not started with Registry::start_tls"))
    }

    /// Waits until `GET https://<tls base>/v2/` answers 200 to a client trusting only the
    /// test CA (so the certificate chain is right before any test relies on it).
    async fn wait_tls_ready(&mut self) {
        let (url, ca_pem) = {
            let tls = self.tls_endpoint();
            (format!("https://{}/v2/", tls.base), tls.ca_pem.clone())
        };
        let roots = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
            .unwrap_or_else(|e| panic!("the test CA: {e}"));
        let http = reqwest::Client::builder()
            .tls_certs_only(roots)
            .build()
            .unwrap_or_else(|e| panic!("HTTPS client: {e}"));
        let started = std::time::Instant::now();
        loop {
            if let Some(tls) = self.tls.as_mut()
                && let Ok(Some(status)) = tls.child.try_wait()
            {
                panic!(
                    "docker-registry (TLS) exited ({status}) before serving {url}:\n{}",
                    self.tls_log()
                );
            }
            let answered = http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if matches!(answered, Ok(200)) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not answer {url} within 20s (last: {answered:?}):\n{}",
                self.tls_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the HTTPS registry process logged so far.
    pub fn tls_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry-tls.log")).unwrap_or_default()
    }

    /// Waits until `GET /v2/` answers (200, or 401 behind auth); panics with the registry's
    /// log if it exits or does not answer within 20 seconds.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let url = format!("http://{}/v2/", self.base);
        let started = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "docker-registry exited ({status}) before serving {url}:\n{}",
                    self.log()
                );
            }
            let answered = http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16());
            if matches!(answered, Some(200 | 401)) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not answer {url} within 20s (last: {answered:?}):\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The manifest digest the registry reports for `repo:tag` (`Docker-Content-Digest` of a
    /// `HEAD` over plain HTTP, with the login when there is one).
    pub async fn manifest_digest(&self, repo: &str, tag: &str) -> String {
        let url = format!("http://{}/v2/{repo}/manifests/{tag}", self.base);
        let mut req = reqwest::Client::new()
            .head(&url)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json");
        if let Some((u, p)) = &self.credentials {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("HEAD {url}: {e}"));
        assert!(resp.status().is_success(), "HEAD {url}: {}", resp.status());
        resp.headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Docker-Content-Digest from {url}"))
            .to_string()
    }

    /// `oci://<base>/<repo>`.
    pub fn oci_url(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.base)
    }

    /// The accepted credentials as `user:password` (the CLI's `--creds`); empty for an
    /// anonymous registry.
    pub fn creds(&self) -> String {
        self.credentials
            .as_ref()
            .map(|(u, p)| format!("{u}:{p}"))
            .unwrap_or_default()
    }

    /// A `.dockerconfigjson` holding the accepted credentials (for a
    /// `kubernetes.io/dockerconfigjson` Secret).
    pub fn docker_config_json(&self) -> String {
        let auth = base64::engine::general_purpose::STANDARD.encode(self.creds());
        serde_json::json!({ "auths": { &self.base: { "auth": auth } } }).to_string()
    }
}

/// Writes `config` to `<dir>/<name>.yml` and starts `docker-registry serve` with it, its
/// stderr in `<dir>/<name>.log`.
fn serve(bin: &std::path::Path, dir: &std::path::Path, name: &str, config: &str) -> Child {
    let config_path = dir.join(format!("{name}.yml"));
    std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("registry config: {e}"));
    let log = std::fs::File::create(dir.join(format!("{name}.log")))
        .unwrap_or_else(|e| panic!("registry log: {e}"));
    Command::new(bin)
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
