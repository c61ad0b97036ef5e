//! Sprig's cryptographic functions: keys (`genPrivateKey`), certificates (`genCA`,
//! `genSelfSignedCert`, `genSignedCert` and their `WithKey` forms, `buildCustomCert`),
//! `htpasswd`/`bcrypt`, `derivePassword` (the Master Password algorithm), `encryptAES`/
//! `decryptAES` (AES-256-CBC as Sprig does it) and `randBytes`.
//!
//! Keys and certificates are PEM text as Go's `encoding/pem` writes it. As in Sprig, RSA
//! keys are 4096 bits from `genPrivateKey` and 2048 bits for generated certificates, ECDSA
//! keys are P-256, certificates carry server and client auth usages.

use std::net::IpAddr;
use std::sync::Arc;

use aes::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use base64::Engine as _;
use hmac::Mac as _;
use rand::Rng as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::EncodePrivateKey as _;

use super::convert::strval;
use super::{Registry, Result, arg, err, int_arg, str_arg};
use crate::template::{FuncError, Param};
use crate::value::{Object, Value};

use Param::{Any, Int, List, String as Str};

/// Sprig's `certificate` struct: `.Cert` and `.Key` PEM strings.
#[derive(Debug, Clone)]
struct Certificate {
    cert: String,
    key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }

    fn kind(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(self.cert.as_str().into()),
            "Key" => Some(self.key.as_str().into()),
            _ => None,
        }
    }

    fn to_data(&self) -> Value {
        let mut m = std::collections::BTreeMap::new();
        m.insert("Cert".to_string(), Value::from(self.cert.as_str()));
        m.insert("Key".to_string(), Value::from(self.key.as_str()));
        Value::map(m)
    }

    fn fmt_v(&self, _plus: bool) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
}

fn cert_value(c: Certificate) -> Value {
    Value::Object(Arc::new(c))
}

/// The `certificate` behind an argument (a Sprig certificate, or any value with `Cert`
/// and `Key` fields or keys).
fn certificate_of(v: &Value) -> Result<Certificate> {
    let get = |name: &str| -> Option<String> {
        match v {
            Value::Object(o) => o.field(name).map(|f| strval(&f)),
            Value::Map(m) => m.get(name).map(|v| strval(&v)),
            _ => None,
        }
    };
    match (get("Cert"), get("Key")) {
        (Some(cert), Some(key)) => Ok(Certificate { cert, key }),
        _ => err(format!(
            "wrong type for value; expected sprig.certificate; got {}",
            v.type_name()
        )),
    }
}

fn fail(e: impl std::fmt::Display) -> FuncError {
    FuncError::new(e.to_string())
}

/// PEM as Go's `pem.EncodeToMemory` writes it (64-column base64, `\n` line ends).
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM block of `text`: its label and contents.
fn parse_pem(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    let body: String = rest[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A private key as Sprig makes and reads them.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    /// P-256: the private scalar and the uncompressed public point.
    Ec([u8; 32], [u8; 65]),
    Ed25519([u8; 32]),
    /// DSA, as its `DSA PRIVATE KEY` DER: Go makes and reads it but cannot sign with it.
    Dsa(Vec<u8>),
}

/// What Go's `x509.CreateCertificate` answers for a DSA signing key.
const DSA_NOT_SIGNER: &str =
    "error creating certificate: x509: certificate private key does not implement crypto.Signer";

impl Key {
    fn generate(kind: &str) -> Result<Key> {
        match kind {
            "rsa" => Key::rsa(4096),
            "ecdsa" => {
                let rng = ring::rand::SystemRandom::new();
                let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &rng,
                )
                .map_err(|_| FuncError::new("error generating ecdsa key"))?;
                Key::ec_from_pkcs8(doc.as_ref())
            }
            "ed25519" => Ok(Key::Ed25519(rand::rng().random())),
            other => err(format!("Unknown type {other}")),
        }
    }

    /// Go's `dsa.GenerateParameters(.., dsa.L1024N160)` and `dsa.GenerateKey`, as Sprig's
    /// `genPrivateKey "dsa"` does, in Sprig's `DSA PRIVATE KEY` PEM: the ASN.1 SEQUENCE
    /// {0, P, Q, G, Y, X} (OpenSSL's DSA private key form).
    fn dsa() -> Key {
        let rng = &mut rsa::rand_core::OsRng;
        // The size Go uses (and Sprig asks for); the crate marks it deprecated as weak.
        #[allow(deprecated)]
        let size = dsa::KeySize::DSA_1024_160;
        let components = dsa::Components::generate(rng, size);
        let key = dsa::SigningKey::generate(rng, components);
        let public = key.verifying_key();
        let c = public.components();
        let mut body = der_integer(&[0]);
        for n in [c.p(), c.q(), c.g(), public.y(), key.x()] {
            body.extend(der_integer(&n.to_bytes_be()));
        }
        Key::Dsa(der_tlv(0x30, &body))
    }

    fn rsa(bits: usize) -> Result<Key> {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).map_err(fail)?;
        Ok(Key::Rsa(Box::new(key)))
    }

    fn ec_from_pkcs8(der: &[u8]) -> Result<Key> {
        let bad = || FuncError::new("x509: failed to parse EC private key");
        let p = find(der, &[0x02, 0x01, 0x01, 0x04, 0x20]).ok_or_else(bad)? + 5;
        let q = find(der, &[0x03, 0x42, 0x00, 0x04]).ok_or_else(bad)? + 3;
        let private: [u8; 32] = der
            .get(p..p + 32)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        let public: [u8; 65] = der
            .get(q..q + 65)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        Ok(Key::Ec(private, public))
    }

    /// Reads `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `DSA PRIVATE KEY` and `PRIVATE KEY` PEM.
    fn from_pem(text: &str) -> Result<Key> {
        let Some((label, der)) = parse_pem(text) else {
            return err("no PEM data found");
        };
        match label.as_str() {
            "RSA PRIVATE KEY" => Ok(Key::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs1_der(&der).map_err(fail)?,
            ))),
            "EC PRIVATE KEY" => Key::ec_from_pkcs8(&der),
            "DSA PRIVATE KEY" => Ok(Key::Dsa(der)),
            "PRIVATE KEY" => {
                if find(&der, &[0x06, 0x03, 0x2b, 0x65, 0x70]).is_some() {
                    let p = find(&der, &[0x04, 0x22, 0x04, 0x20])
                        .ok_or_else(|| FuncError::new("x509: invalid Ed25519 private key"))?
                        + 4;
                    let seed: [u8; 32] = der
                        .get(p..p + 32)
                        .and_then(|s| s.try_into().ok())
                        .ok_or_else(|| FuncError::new("x509: invalid Ed25519 private key"))?;
                    Ok(Key::Ed25519(seed))
                } else if find(&der, &P256_OID).is_some() {
                    Key::ec_from_pkcs8(&der)
                } else {
                    use rsa::pkcs8::DecodePrivateKey as _;
                    Ok(Key::Rsa(Box::new(
                        rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(fail)?,
                    )))
                }
            }
            other => err(format!("unsupported PEM block type: {other}")),
        }
    }

    /// The PEM Sprig prints for the key.
    fn to_pem(&self) -> Result<String> {
        Ok(match self {
            Key::Rsa(k) => pem(
                "RSA PRIVATE KEY",
                k.to_pkcs1_der().map_err(fail)?.as_bytes(),
            ),
            Key::Ec(private, public) => pem("EC PRIVATE KEY", &sec1(private, public)),
            Key::Ed25519(seed) => {
                let mut der = vec![
                    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
                    0x22, 0x04, 0x20,
                ];
                der.extend_from_slice(seed);
                pem("PRIVATE KEY", &der)
            }
            Key::Dsa(der) => pem("DSA PRIVATE KEY", der),
        })
    }

    /// The key as an `rcgen` signing key.
    fn key_pair(&self) -> Result<KeyPair> {
        let (der, alg) = match self {
            Key::Rsa(k) => (
                k.to_pkcs8_der().map_err(fail)?.as_bytes().to_vec(),
                &rcgen::PKCS_RSA_SHA256,
            ),
            Key::Ec(private, public) => {
                // PKCS#8 around the SEC1 key without its parameters, as ring reads it.
                let mut inner = vec![0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20];
                inner.extend_from_slice(private);
                inner.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
                inner.extend_from_slice(public);
                let mut der = vec![
                    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                    0xce, 0x3d, 0x02, 0x01,
                ];
                der.extend_from_slice(&P256_OID);
                der.extend_from_slice(&[0x04, 0x6d]);
                der.extend_from_slice(&inner);
                (der, &rcgen::PKCS_ECDSA_P256_SHA256)
            }
            Key::Ed25519(seed) => {
                let doc = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
                    .map_err(|_| FuncError::new("x509: invalid Ed25519 private key"))?;
                let public = ring::signature::KeyPair::public_key(&doc).as_ref().to_vec();
                // PKCS#8 v2 with the public key, as ring reads it.
                let mut der = vec![
                    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
                    0x22, 0x04, 0x20,
                ];
                der.extend_from_slice(seed);
                der.extend_from_slice(&[0x81, 0x21, 0x00]);
                der.extend_from_slice(&public);
                (der, &rcgen::PKCS_ED25519)
            }
            Key::Dsa(_) => return err(DSA_NOT_SIGNER),
        };
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der);
        KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).map_err(fail)
    }
}

/// A DER element: tag, definite length, contents.
fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 0x80 {
        out.push(u8::try_from(body.len()).unwrap_or(0));
    } else {
        let len = body.len().to_be_bytes();
        let skip = len.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(len.len() - skip).unwrap_or(0));
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// A DER INTEGER of the non-negative big-endian magnitude `be`.
fn der_integer(be: &[u8]) -> Vec<u8> {
    let digits = be
        .iter()
        .position(|b| *b != 0)
        .map_or(&[0u8][..], |i| &be[i..]);
    let mut body = Vec::with_capacity(digits.len() + 1);
    if digits[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(digits);
    der_tlv(0x02, &body)
}

/// Go's `x509.MarshalECPrivateKey` for P-256.
fn sec1(private: &[u8; 32], public: &[u8; 65]) -> Vec<u8> {
    let mut der = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    der.extend_from_slice(private);
    der.extend_from_slice(&[0xa0, 0x0a]);
    der.extend_from_slice(&P256_OID);
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    der.extend_from_slice(public);
    der
}

/// Sprig's certificate template: random 128-bit serial, the common name, IPs and DNS names,
/// valid from now for `days`, digital signature and key encipherment, server and client auth.
fn base_params(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
    ca: bool,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    let list = |v: &Value| -> Vec<String> {
        v.as_list()
            .map(|l| l.items.iter().map(strval).collect())
            .unwrap_or_default()
    };
    for ip in list(ips) {
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| FuncError::new(format!("error parsing ip: {ip}")))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for name in list(dns) {
        let name = name.try_into().map_err(fail)?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    let mut serial: [u8; 16] = rand::rng().random();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    let days = days.clamp(-3_000_000, 3_000_000);
    params.not_after = now.checked_add(time::Duration::days(days)).unwrap_or(now);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if ca {
        params.key_usages.push(KeyUsagePurpose::KeyCertSign);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
    }
    Ok(params)
}

fn self_signed(params: &CertificateParams, key: &Key) -> Result<Certificate> {
    let pair = key.key_pair()?;
    let cert = params.self_signed(&pair).map_err(fail)?;
    Ok(Certificate {
        cert: pem("CERTIFICATE", cert.der()),
        key: key.to_pem()?,
    })
}

fn signed(params: &CertificateParams, key: &Key, ca: &Certificate) -> Result<Certificate> {
    let ca_key =
        Key::from_pem(&ca.key).map_err(|e| FuncError::new(format!("error parsing CA key: {e}")))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key.key_pair()?)
        .map_err(|e| FuncError::new(format!("error parsing CA cert: {e}")))?;
    if matches!(key, Key::Dsa(_)) {
        return err(
            "error creating certificate: x509: unsupported public key type: *dsa.PublicKey",
        );
    }
    let pair = key.key_pair()?;
    let cert = params.signed_by(&pair, &issuer).map_err(fail)?;
    Ok(Certificate {
        cert: pem("CERTIFICATE", cert.der()),
        key: key.to_pem()?,
    })
}

pub(super) fn register(m: &mut Registry) {
    m.fixed("genPrivateKey", &[Str], |a| {
        if str_arg(a, 0) == "dsa" {
            return Ok(Key::dsa().to_pem()?.into());
        }
        match Key::generate(str_arg(a, 0)) {
            Ok(k) => Ok(k.to_pem()?.into()),
            // Sprig returns its error text as the result.
            Err(e) => Ok(e.message.into()),
        }
    });
    m.fixed("genCA", &[Str, Int], |a| {
        let params = base_params(str_arg(a, 0), &Value::Nil, &Value::Nil, int_arg(a, 1), true)?;
        Ok(cert_value(self_signed(&params, &Key::rsa(2048)?)?))
    });
    m.fixed("genCAWithKey", &[Str, Int, Str], |a| {
        let key = Key::from_pem(str_arg(a, 2))
            .map_err(|e| FuncError::new(format!("parse private key: {e}")))?;
        let params = base_params(str_arg(a, 0), &Value::Nil, &Value::Nil, int_arg(a, 1), true)?;
        Ok(cert_value(self_signed(&params, &key)?))
    });
    m.fixed("genSelfSignedCert", &[Str, List, List, Int], |a| {
        let params = base_params(str_arg(a, 0), arg(a, 1), arg(a, 2), int_arg(a, 3), false)?;
        Ok(cert_value(self_signed(&params, &Key::rsa(2048)?)?))
    });
    m.fixed(
        "genSelfSignedCertWithKey",
        &[Str, List, List, Int, Str],
        |a| {
            let key = Key::from_pem(str_arg(a, 4))
                .map_err(|e| FuncError::new(format!("parse private key: {e}")))?;
            let params = base_params(str_arg(a, 0), arg(a, 1), arg(a, 2), int_arg(a, 3), false)?;
            Ok(cert_value(self_signed(&params, &key)?))
        },
    );
    m.fixed("genSignedCert", &[Str, List, List, Int, Any], |a| {
        let ca = certificate_of(arg(a, 4))?;
        let params = base_params(str_arg(a, 0), arg(a, 1), arg(a, 2), int_arg(a, 3), false)?;
        Ok(cert_value(signed(&params, &Key::rsa(2048)?, &ca)?))
    });
    m.fixed(
        "genSignedCertWithKey",
        &[Str, List, List, Int, Any, Str],
        |a| {
            let ca = certificate_of(arg(a, 4))?;
            let key = Key::from_pem(str_arg(a, 5))
                .map_err(|e| FuncError::new(format!("parse private key: {e}")))?;
            let params = base_params(str_arg(a, 0), arg(a, 1), arg(a, 2), int_arg(a, 3), false)?;
            Ok(cert_value(signed(&params, &key, &ca)?))
        },
    );
    m.fixed("buildCustomCert", &[Str, Str], |a| {
        let decode = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| FuncError::new(format!("unable to decode base64: {e}")))
        };
        let cert = String::from_utf8_lossy(&decode(str_arg(a, 0))?).into_owned();
        let key = String::from_utf8_lossy(&decode(str_arg(a, 1))?).into_owned();
        if parse_pem(&cert).is_none_or(|(label, _)| label != "CERTIFICATE") {
            return err("error parsing certificate: no PEM data found");
        }
        Key::from_pem(&key)
            .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
        Ok(cert_value(Certificate { cert, key }))
    });
    m.fixed("bcrypt", &[Str], |a| Ok(bcrypt_hash(str_arg(a, 0))?.into()));
    m.fixed("htpasswd", &[Str, Str], |a| {
        let user = str_arg(a, 0);
        if user.contains(':') {
            return Ok(format!("invalid username: {user}").into());
        }
        Ok(format!("{user}:{}", bcrypt_hash(str_arg(a, 1))?).into())
    });
    m.fixed("derivePassword", &[Param::Int, Str, Str, Str, Str], |a| {
        let counter = u32::try_from(int_arg(a, 0) & 0xffff_ffff).unwrap_or(0);
        Ok(derive_password(
            counter,
            str_arg(a, 1),
            str_arg(a, 2),
            str_arg(a, 3),
            str_arg(a, 4),
        )
        .into())
    });
    m.fixed("encryptAES", &[Str, Str], |a| {
        Ok(encrypt_aes(str_arg(a, 0), str_arg(a, 1)).into())
    });
    m.fixed("decryptAES", &[Str, Str], |a| {
        Ok(decrypt_aes(str_arg(a, 0), str_arg(a, 1))?.into())
    });
    m.fixed("randBytes", &[Int], |a| {
        let Ok(n) = usize::try_from(int_arg(a, 0)) else {
            return err("randBytes: negative count");
        };
        super::check_len("randBytes", n)?;
        let mut bytes = vec![0u8; n];
        rand::rng().fill(bytes.as_mut_slice());
        Ok(base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into())
    });
}

/// Go's `bcrypt.GenerateFromPassword` at its default cost, 10, in the `$2a$` form.
fn bcrypt_hash(password: &str) -> Result<String> {
    let parts = bcrypt::hash_with_result(password, 10).map_err(fail)?;
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

const MASTER_PASSWORD_SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// The Master Password algorithm (v3) as Sprig's `derivePassword` runs it.
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    salt.extend_from_slice(&u32::try_from(user.len()).unwrap_or(u32::MAX).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let Ok(params) = scrypt::Params::new(15, 8, 2, 64) else {
        return "failed to derive password".into();
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut message = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    message.extend_from_slice(&u32::try_from(site.len()).unwrap_or(u32::MAX).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password".into();
    };
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_chars(c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

/// The AES-256 key Sprig uses: the password's bytes, zero-padded or cut to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

fn encrypt_aes(password: &str, plaintext: &str) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let iv: [u8; 16] = rand::rng().random();
    let ciphertext =
        Enc::new(&aes_key(password).into(), &iv.into())
            .encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(plaintext.as_bytes());
    let mut out = iv.to_vec();
    out.extend_from_slice(&ciphertext);
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn decrypt_aes(password: &str, crypt64: &str) -> Result<String> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| FuncError::new(e.to_string()))?;
    if data.len() < 16 || data.len() % 16 != 0 || data.len() == 16 {
        return err("crypto/cipher: input not full blocks");
    }
    let (iv, body) = data.split_at(16);
    let iv: [u8; 16] = iv.try_into().map_err(|_| FuncError::new("bad iv"))?;
    let mut buf = body.to_vec();
    Dec::new(&aes_key(password).into(), &iv.into())
        .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
        .map_err(|_| FuncError::new("crypto/cipher: input not full blocks"))?;
    // Sprig strips as many bytes as the last byte says, without checking the padding.
    let pad = usize::from(buf.last().copied().unwrap_or(0));
    let Some(keep) = buf.len().checked_sub(pad) else {
        return err(format!(
            "runtime error: slice bounds out of range [:-{}]",
            pad - buf.len()
        ));
    };
    buf.truncate(keep);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips() {
        let c = encrypt_aes("secretkey", "plaintext");
        assert_eq!(decrypt_aes("secretkey", &c).expect("decrypt"), "plaintext");
        assert_eq!(encrypt_aes("k", ""), "");
    }

    #[test]
    fn pem_is_go_encoding_pem() {
        let p = pem("X", &[0u8; 60]);
        assert!(p.starts_with("-----BEGIN X-----\n"));
        assert!(p.lines().all(|l| l.len() <= 64));
        assert_eq!(parse_pem(&p).expect("pem").1, vec![0u8; 60]);
    }
}
