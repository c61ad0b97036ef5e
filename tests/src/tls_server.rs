//! What the in-process test servers share: a CA generated for the test, the server
//! certificate and a client certificate it issues (a server may require the latter), the
//! `Authorization` value of HTTP basic auth, a 401 reply, and the accept loop that serves
//! hyper HTTP/1 over TLS or plain TCP.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A server certificate for `host` (and `localhost`) issued by a fresh CA, and a client
/// certificate the same CA issued, for servers that ask clients to present one.
pub struct TlsIdentity {
    /// PEM of the CA that issued the server certificate (what a client must trust).
    pub ca_pem: String,
    /// PEM of a client certificate the CA issued (a Secret's `tls.crt`).
    pub client_cert_pem: String,
    /// PEM (PKCS#8) of the client certificate's private key (a Secret's `tls.key`).
    pub client_key_pem: String,
    /// PEM of the server certificate (for a server that is not in-process, such as
    /// docker-registry's `http.tls.certificate`).
    pub server_cert_pem: String,
    /// PEM (PKCS#8) of the server certificate's private key (`http.tls.key`).
    pub server_key_pem: String,
    /// Accepts TLS connections with the server certificate.
    pub acceptor: TlsAcceptor,
}

impl TlsIdentity {
    /// Generates a CA and a certificate for `host` (an IP address or a DNS name) signed by it;
    /// clients are not asked for a certificate.
    pub fn generate(host: &str) -> Self {
        Self::build(host, false)
    }

    /// [`TlsIdentity::generate`], but the handshake fails unless the client presents a
    /// certificate the CA issued (such as [`TlsIdentity::client_cert_pem`]).
    pub fn requiring_client_cert(host: &str) -> Self {
        Self::build(host, true)
    }

    fn build(host: &str, require_client_cert: bool) -> Self {
        weir_shared::install_crypto_provider();
        let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("CA key: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("CA params: {e}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "weir test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
            .unwrap_or_else(|e| panic!("CA cert: {e}"));
        let server_key = KeyPair::generate().unwrap_or_else(|e| panic!("server key: {e}"));
        let server_params = CertificateParams::new(vec![host.to_string(), "localhost".to_string()])
            .unwrap_or_else(|e| panic!("server params: {e}"));
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .unwrap_or_else(|e| panic!("server cert: {e}"));
        let client_key = KeyPair::generate().unwrap_or_else(|e| panic!("client key: {e}"));
        let mut client_params = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("client params: {e}"));
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "weir test client");
        // WebPKI checks the usage when the extension is there; say it plainly.
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &ca)
            .unwrap_or_else(|e| panic!("client cert: {e}"));
        let builder = rustls::ServerConfig::builder();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(ca.der().clone())
                .unwrap_or_else(|e| panic!("CA as a client root: {e}"));
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap_or_else(|e| panic!("client certificate verifier: {e}"));
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let tls = builder
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .unwrap_or_else(|e| panic!("TLS config: {e}"));
        Self {
            ca_pem: ca.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            acceptor: TlsAcceptor::from(Arc::new(tls)),
        }
    }
}

/// The `Authorization` header value of HTTP basic auth for `username:password`.
pub fn basic_auth(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// A response with a static body.
pub fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// 401 with a basic-auth challenge for `realm`.
pub fn unauthorized(realm: &'static str) -> Response<Full<Bytes>> {
    let mut r = reply(StatusCode::UNAUTHORIZED, "authentication required\n");
    let challenge = format!("Basic realm=\"{realm}\"");
    if let Ok(value) = hyper::header::HeaderValue::from_str(&challenge) {
        r.headers_mut().insert("www-authenticate", value);
    }
    r
}

/// The future a handler returns.
pub type Reply = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;

/// A request handler shared by every connection.
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> Reply + Send + Sync>;

/// Accepts connections on `listener` forever, each on its own task, and serves HTTP/1 with
/// `handler`: over TLS when `tls` is given, else plain. A failed handshake or connection
/// ends only that connection.
pub async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, handler: Handler) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let tls = tls.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let reply = handler(req);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                None => {
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                }
            }
        });
    }
}
