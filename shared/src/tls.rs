//! The roots every HTTPS client Weir builds trusts: artifact downloads, the event sink and Git
//! over HTTPS. Building a client never fails because the system has no CA store (a `FROM
//! scratch` image, a distroless image without `ca-certificates`), so plain-HTTP URLs and
//! servers signed by a Secret's own `ca.crt` keep working whatever the system provides.
//!
//! The roots are chosen once per process (see [`TrustRoots::choose`], and
//! `docs/security.md` for the reasoning):
//!
//! 1. **System**: the certificates of `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set,
//!    else of the usual locations (`/etc/ssl/certs/ca-certificates.crt`, ...), exactly what
//!    `rustls-native-certs` (and OpenSSL) read. When there are any, only they are trusted.
//! 2. **Bundled**: neither variable is set and the usual locations hold no certificate: the
//!    Mozilla roots compiled into the binary (`webpki-root-certs`), with a warning.
//! 3. **None**: a variable is set but names no certificate. The operator chose the trust
//!    store, so Weir does not widen it: HTTPS fails with `UnknownIssuer` unless the Secret has a
//!    `ca.crt`, plain HTTP works, and an error is logged.
//!
//! One TLS stack: rustls with ring. Verification is rustls' WebPKI verifier over these roots,
//! which is what `rustls-platform-verifier` (reqwest's default) does on Linux; the difference
//! is only that an empty store is not an error.

use std::sync::OnceLock;

use rustls::pki_types::CertificateDer;

/// Where the trusted roots come from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`, or the system's usual locations.
    System,
    /// The Mozilla roots compiled into the binary: the system has no CA store.
    Bundled,
    /// No roots: `SSL_CERT_FILE` / `SSL_CERT_DIR` name locations without certificates.
    None,
}

/// The roots one process trusts for HTTPS, chosen once (see the module docs).
#[derive(Debug, Clone)]
pub struct TrustRoots {
    source: RootSource,
    certs: Vec<CertificateDer<'static>>,
    /// What the loader complained about (unreadable files, certificates rustls refuses).
    problems: Vec<String>,
}

/// The environment variables that choose the system store (as OpenSSL reads them).
const CERT_ENV: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

impl TrustRoots {
    /// The process's roots: loaded, chosen and logged on first use, then shared.
    pub fn get() -> &'static TrustRoots {
        static ROOTS: OnceLock<TrustRoots> = OnceLock::new();
        ROOTS.get_or_init(|| {
            let explicit = CERT_ENV.iter().any(|v| std::env::var_os(v).is_some());
            let loaded = rustls_native_certs::load_native_certs();
            let errors = loaded.errors.iter().map(ToString::to_string).collect();
            let roots = Self::choose(explicit, loaded.certs, errors);
            roots.log();
            roots
        })
    }

    /// Chooses the roots from what the system store gave: `explicit` is true when
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set. Certificates rustls cannot use as a root are
    /// dropped (and named in the problems) rather than failing every client.
    pub fn choose(
        explicit: bool,
        system: Vec<CertificateDer<'static>>,
        mut problems: Vec<String>,
    ) -> TrustRoots {
        let total = system.len();
        let certs: Vec<_> = system
            .into_iter()
            .filter(|c| rustls::RootCertStore::empty().add(c.clone()).is_ok())
            .collect();
        if certs.len() < total {
            problems.push(format!(
                "{} of {total} system CA certificates are not usable as roots and were ignored",
                total - certs.len()
            ));
        }
        let (source, certs) = match (certs.is_empty(), explicit) {
            (false, _) => (RootSource::System, certs),
            (true, false) => (
                RootSource::Bundled,
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec(),
            ),
            (true, true) => (RootSource::None, Vec::new()),
        };
        TrustRoots {
            source,
            certs,
            problems,
        }
    }

    /// Where the roots come from.
    pub fn source(&self) -> RootSource {
        self.source
    }

    /// The trusted root certificates.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The roots as reqwest certificates, for `tls_certs_only`.
    fn reqwest_certificates(&self) -> Vec<reqwest::Certificate> {
        self.certs
            .iter()
            .filter_map(|c| reqwest::Certificate::from_der(c).ok())
            .collect()
    }

    fn log(&self) {
        for problem in &self.problems {
            tracing::warn!("loading system CA certificates: {problem}");
        }
        match self.source {
            RootSource::System => {
                tracing::debug!(
                    roots = self.certs.len(),
                    "trusting the system CA certificates"
                );
            }
            RootSource::Bundled => tracing::warn!(
                roots = self.certs.len(),
                "no CA certificates found on the system: trusting the Mozilla roots built into \
                 this binary; set SSL_CERT_FILE or SSL_CERT_DIR to choose the trusted roots"
            ),
            RootSource::None => tracing::error!(
                "SSL_CERT_FILE/SSL_CERT_DIR name no CA certificate: HTTPS works only with a \
                 Secret's ca.crt; plain HTTP is unaffected"
            ),
        }
    }
}

/// An async HTTP client builder that trusts [`TrustRoots::get`]. Never fails for lack of
/// system roots.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_certs_only(TrustRoots::get().reqwest_certificates())
}

/// Makes a blocking client builder trust [`TrustRoots::get`] and `extra` (a Secret's
/// `ca.crt`, added to the roots, never instead of them).
pub fn trust_blocking(
    builder: reqwest::blocking::ClientBuilder,
    extra: Vec<reqwest::Certificate>,
) -> reqwest::blocking::ClientBuilder {
    let mut certs = TrustRoots::get().reqwest_certificates();
    certs.extend(extra);
    builder.tls_certs_only(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> Vec<CertificateDer<'static>> {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec()
    }

    #[test]
    fn system_roots_win_and_are_never_mixed_with_bundled_ones() {
        let one = vec![bundled()[0].clone()];
        for explicit in [false, true] {
            let roots = TrustRoots::choose(explicit, one.clone(), Vec::new());
            assert_eq!(roots.source(), RootSource::System);
            assert_eq!(roots.certificates(), one.as_slice());
        }
    }

    #[test]
    fn an_empty_system_store_falls_back_to_bundled_roots_unless_the_operator_chose_one() {
        let roots = TrustRoots::choose(false, Vec::new(), Vec::new());
        assert_eq!(roots.source(), RootSource::Bundled);
        assert!(roots.certificates().len() > 100);
        let roots = TrustRoots::choose(true, Vec::new(), vec!["no such file".into()]);
        assert_eq!(roots.source(), RootSource::None);
        assert!(roots.certificates().is_empty());
        assert_eq!(roots.problems, ["no such file"]);
    }

    #[test]
    fn unusable_system_certificates_are_dropped_and_reported() {
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        let good = bundled()[0].clone();
        let roots = TrustRoots::choose(false, vec![garbage.clone(), good.clone()], Vec::new());
        assert_eq!(roots.source(), RootSource::System);
        assert_eq!(roots.certificates(), [good]);
        assert_eq!(roots.problems.len(), 1, "{:?}", roots.problems);
        // Only garbage: the store is empty, so the bundled roots are used.
        let roots = TrustRoots::choose(false, vec![garbage], Vec::new());
        assert_eq!(roots.source(), RootSource::Bundled);
    }

    #[test]
    fn clients_build_with_any_choice_of_roots() {
        crate::install_crypto_provider();
        for (explicit, system) in [(false, Vec::new()), (true, Vec::new())] {
            let roots = TrustRoots::choose(explicit, system, Vec::new());
            reqwest::Client::builder()
                .tls_certs_only(roots.reqwest_certificates())
                .build()
                .expect("async client");
        }
    }
}
