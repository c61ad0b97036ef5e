//! Secrets named by source specs: reading them, and the key names Flux gives them
//! (`username`/`password`, `ca.crt`, `tls.crt`/`tls.key`, the deprecated `caFile`,
//! `certFile`/`keyFile`, `.dockerconfigjson`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use weir_api::conditions::reasons;
use weir_shared::ReconcileError;

/// Secret data: key → bytes.
pub type SecretData = BTreeMap<String, ByteString>;

/// Reads Secret `ns/name`, named by the spec field `field` (e.g. `spec.secretRef`).
///
/// # Errors
/// Transient `AuthenticationFailed` naming the Secret and the field when it cannot be read or
/// does not exist: the fix is a change to the Secret, which does not change the source object,
/// so only a retry sees it.
pub async fn load(
    client: &kube::Client,
    ns: &str,
    name: &str,
    field: &str,
) -> Result<SecretData, ReconcileError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = secrets.get_opt(name).await.map_err(|e| {
        ReconcileError::transient(
            reasons::AUTHENTICATION_FAILED,
            format!("reading Secret {ns}/{name} named by {field}: {e}"),
        )
    })?;
    let Some(secret) = secret else {
        return Err(ReconcileError::transient(
            reasons::AUTHENTICATION_FAILED,
            format!("Secret {ns}/{name} named by {field} not found"),
        ));
    };
    let mut data = secret.data.unwrap_or_default();
    // stringData is write-only in the API, but a Secret read from a fake or an old server may
    // still carry it.
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.entry(k).or_insert_with(|| ByteString(v.into_bytes()));
    }
    Ok(data)
}

/// The error for a Secret whose content is unusable, naming it.
pub fn invalid(ns: &str, name: &str, message: impl std::fmt::Display) -> ReconcileError {
    ReconcileError::transient(
        reasons::AUTHENTICATION_FAILED,
        format!("Secret {ns}/{name}: {message}"),
    )
}

/// HTTP basic credentials from `username` and `password`.
///
/// # Errors
/// A message naming the key when a value is not UTF-8 or only one of the pair is set.
pub fn basic_auth(data: &SecretData) -> Result<Option<(String, String)>, String> {
    match (text(data, "username")?, text(data, "password")?) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        _ => Err("keys \"username\" and \"password\" must be set together".into()),
    }
}

/// TLS material for a client: a CA bundle to trust besides the system roots, and a client
/// certificate with its key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// PEM CA certificates.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain and private key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// TLS material from a `certSecretRef` Secret (`ca.crt`, `tls.crt` + `tls.key`), or, with
/// `deprecated_keys`, from a `secretRef` Secret's `caFile`, `certFile` + `keyFile`.
///
/// # Errors
/// A message naming the keys when only half of a certificate/key pair is present.
pub fn tls_material(data: &SecretData, deprecated_keys: bool) -> Result<TlsMaterial, String> {
    let (ca, cert, key) = if deprecated_keys {
        ("caFile", "certFile", "keyFile")
    } else {
        ("ca.crt", "tls.crt", "tls.key")
    };
    let bytes = |k: &str| data.get(k).map(|v| v.0.clone());
    let identity = match (bytes(cert), bytes(key)) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(format!("keys {cert:?} and {key:?} must be set together")),
    };
    Ok(TlsMaterial {
        ca_pem: bytes(ca),
        identity,
    })
}

/// A UTF-8 value of `key`, if present.
///
/// # Errors
/// A message naming the key when the value is not UTF-8.
pub fn text(data: &SecretData, key: &str) -> Result<Option<String>, String> {
    data.get(key)
        .map(|v| String::from_utf8(v.0.clone()).map_err(|_| format!("key {key:?} is not UTF-8")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn basic_auth_needs_both_keys() {
        assert_eq!(
            basic_auth(&data(&[("username", "u"), ("password", "p")])),
            Ok(Some(("u".into(), "p".into())))
        );
        assert_eq!(basic_auth(&data(&[])), Ok(None));
        let err = basic_auth(&data(&[("password", "p")])).expect_err("half");
        assert!(err.contains("\"username\""), "{err}");
    }

    #[test]
    fn tls_keys_follow_flux_and_the_deprecated_names() {
        let current = data(&[("ca.crt", "CA"), ("tls.crt", "C"), ("tls.key", "K")]);
        let m = tls_material(&current, false).expect("valid");
        assert_eq!(m.ca_pem.as_deref(), Some(b"CA".as_slice()));
        assert_eq!(m.identity, Some((b"C".to_vec(), b"K".to_vec())));
        let old = data(&[("caFile", "CA"), ("certFile", "C")]);
        let err = tls_material(&old, true).expect_err("half a pair");
        assert!(err.contains("\"keyFile\""), "{err}");
        assert_eq!(tls_material(&old, false), Ok(TlsMaterial::default()));
    }
}
