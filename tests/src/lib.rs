//! The integration-test harness: a client for the test cluster (which must be running —
//! tests fail loudly without it), temporary namespaces, controller processes, Git servers
//! over HTTPS (git http-backend) and SSH (OpenSSH + git-shell), a Helm chart repository built
//! and indexed with the real helm, an OCI registry (docker-registry), the images of the real
//! node, and wait helpers.

pub mod chart_repo;
pub mod cluster;
pub mod controller;
pub mod event_sink;
pub mod fixture;
pub mod git_https;
pub mod git_ssh;
pub mod gitops;
pub mod gitrepo;
pub mod images;
pub mod objects;
pub mod registry;
pub mod sources;
pub mod tls_server;
pub mod wait;

/// A short random lowercase id for names.
pub fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}
