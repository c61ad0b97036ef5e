//! With no CA certificate on the system (a `FROM scratch` image without a bundle), HTTP
//! clients still build and plain-HTTP fetches work. The roots are chosen once per process from
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`, so the check runs in a child process of this test binary
//! whose variables point at an empty file and an empty folder.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use weir_shared::tls::{self, RootSource, TrustRoots};

const CHILD: &str = "WEIR_TLS_TEST_CHILD";

#[test]
fn clients_build_and_plain_http_works_when_the_system_has_no_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, certs) = (dir.path().join("empty.pem"), dir.path().join("certs"));
    std::fs::write(&file, "").expect("empty bundle");
    std::fs::create_dir(&certs).expect("empty folder");
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["--exact", "child_fetches_over_plain_http", "--nocapture"])
        .env(CHILD, "1")
        .env("SSL_CERT_FILE", &file)
        .env("SSL_CERT_DIR", &certs)
        .output()
        .expect("running the child");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{output}");
    assert!(
        output.contains("1 passed"),
        "the child did not run:\n{output}"
    );
}

/// The child's half: does nothing unless started by the test above.
#[test]
fn child_fetches_over_plain_http() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    weir_shared::install_crypto_provider();
    assert_eq!(TrustRoots::get().source(), RootSource::None);
    let url = serve_hello(2);

    let blocking = tls::trust_blocking(reqwest::blocking::Client::builder(), Vec::new())
        .build()
        .expect("blocking client (Git over HTTP)");
    let body = blocking.get(&url).send().expect("blocking GET").text();
    assert_eq!(body.expect("body"), "hello");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = tls::client_builder().build().expect("async client");
        let body = client.get(&url).send().await.expect("async GET").text();
        assert_eq!(body.await.expect("body"), "hello");
    });
}

/// A plain-HTTP server on 127.0.0.1 answering `hello` to `n` requests.
fn serve_hello(n: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            );
        }
    });
    url
}
