//! Sprig's random and cryptographic functions, by their properties (their outputs differ on
//! every run, in Helm too), and the deterministic ones against `helm template` (v4.1.4).

use weir_helm::sprig::functions;
use weir_helm::template::TemplateSet;
use weir_helm::value::Value;

fn render(text: &str) -> String {
    let mut set = TemplateSet::new(functions());
    set.add("t", text).expect("parses");
    set.execute("t", &Value::Nil).expect("renders")
}

#[test]
fn random_strings_have_the_asked_length_and_alphabet() {
    let out = render(
        r#"{{ randAlphaNum 40 }}
{{ randAlpha 40 }}
{{ randNumeric 40 }}
{{ randAscii 40 }}"#,
    );
    let parts: Vec<&str> = out.split('\n').collect();
    assert_eq!(parts.len(), 4, "{out}");
    assert!(parts[0].len() == 40 && parts[0].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(parts[1].len() == 40 && parts[1].bytes().all(|b| b.is_ascii_alphabetic()));
    assert!(parts[2].len() == 40 && parts[2].bytes().all(|b| b.is_ascii_digit()));
    assert!(parts[3].len() == 40 && parts[3].bytes().all(|b| (32..127).contains(&b)));
    assert_eq!(render("{{ randAlpha -1 }}"), "");
}

#[test]
fn uuids_are_version_4() {
    let u = render("{{ uuidv4 }}");
    let groups: Vec<&str> = u.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{u}"
    );
    assert!(groups[2].starts_with('4'), "{u}");
    assert!(
        matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
        "{u}"
    );
    assert_ne!(u, render("{{ uuidv4 }}"));
}

#[test]
fn oversized_requests_fail_instead_of_exhausting_memory() {
    let mut set = TemplateSet::new(functions());
    for text in [
        r#"{{ repeat 100000000 "ab" }}"#,
        "{{ randAlphaNum 1000000000 }}",
        "{{ until 100000000 }}",
        "{{ untilStep 0 9000000000000000000 1 }}",
    ] {
        set.add("t", text).expect("parses");
        assert!(set.execute("t", &Value::Nil).is_err(), "{text}");
    }
}

#[test]
fn bcrypt_and_htpasswd_make_2a_hashes() {
    let h = render(r#"{{ htpasswd "admin" "secret" }}"#);
    let (user, hash) = h.split_once(':').expect("user:hash");
    assert_eq!(user, "admin");
    assert!(hash.starts_with("$2a$10$") && hash.len() == 60, "{hash}");
    assert!(bcrypt::verify("secret", hash).expect("valid hash"));
    assert_eq!(
        render(r#"{{ htpasswd "a:b" "x" }}"#),
        "invalid username: a:b"
    );
}

#[test]
fn aes_decrypts_what_helm_encrypted_and_round_trips() {
    // {{ encryptAES "secretkey" "plaintext" }} printed by helm:
    let from_helm = "D/c5ISZb07X8VyUaWUUpi/RTNStpkWGOolFs+3XNjF8=";
    assert_eq!(
        render(&format!(
            r#"{{{{ decryptAES "secretkey" "{from_helm}" }}}}"#
        )),
        "plaintext"
    );
    assert_eq!(
        render(r#"{{ encryptAES "k" "hello world" | decryptAES "k" }}"#),
        "hello world"
    );
}

#[test]
fn private_keys_are_pem_of_the_asked_type() {
    let ec = render(r#"{{ genPrivateKey "ecdsa" }}"#);
    assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{ec}");
    let ed = render(r#"{{ genPrivateKey "ed25519" }}"#);
    assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{ed}");
    assert_eq!(render(r#"{{ genPrivateKey "nope" }}"#), "Unknown type nope");
}

/// The contents of each DER element in `der`, a run of (tag, length, contents).
fn der_elements(mut der: &[u8], tag: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !der.is_empty() {
        assert_eq!(der[0], tag, "{der:02x?}");
        let (len, head) = match der[1] {
            n if n < 0x80 => (usize::from(n), 2),
            n => {
                let k = usize::from(n & 0x7f);
                let len = der[2..2 + k]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                (len, 2 + k)
            }
        };
        out.push(&der[head..head + len]);
        der = &der[head + len..];
    }
    out
}

#[test]
fn dsa_keys_are_openssl_dsa_private_keys_of_go_size() {
    // Sprig: `DSA PRIVATE KEY` PEM of asn1.Marshal({Version 0, P, Q, G, Y, X}), L1024N160.
    let text = render(r#"{{ genPrivateKey "dsa" }}"#);
    assert!(
        text.starts_with("-----BEGIN DSA PRIVATE KEY-----\n"),
        "{text}"
    );
    assert!(text.ends_with("-----END DSA PRIVATE KEY-----\n"), "{text}");
    let block = pem::parse(&text).expect("PEM");
    let outer = der_elements(block.contents(), 0x30);
    assert_eq!(outer.len(), 1);
    let ints = der_elements(outer[0], 0x02);
    assert_eq!(ints.len(), 6);
    assert_eq!(ints[0], [0]);
    for n in &ints[1..] {
        // Minimal DER: no needless leading zero, and non-negative.
        assert!(n[0] & 0x80 == 0 && !(n[0] == 0 && n.len() > 1 && n[1] & 0x80 == 0));
    }
    let [p, q, g, y, x] = [1, 2, 3, 4, 5].map(|i| dsa::BigUint::from_bytes_be(ints[i]));
    assert_eq!(p.bits(), 1024);
    assert_eq!(q.bits(), 160);
    assert_eq!((&p - 1u32) % &q, dsa::BigUint::from(0u32));
    assert!(x < q);
    assert_eq!(g.modpow(&x, &p), y);
}

#[test]
fn certificates_chain_and_carry_the_asked_names() {
    use x509_parser::prelude::*;
    let out = render(
        r#"{{ $ca := genCA "my-ca" 365 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns.svc") 30 $ca }}{{ $ca.Cert }}@{{ $c.Cert }}@{{ $c.Key }}"#,
    );
    let parts: Vec<&str> = out.split('@').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[2].starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let ca_pem = ::pem::parse(parts[0]).expect("ca pem");
    let cert_pem = ::pem::parse(parts[1]).expect("cert pem");
    let (_, ca) = X509Certificate::from_der(ca_pem.contents()).expect("ca der");
    let (_, cert) = X509Certificate::from_der(cert_pem.contents()).expect("cert der");
    assert!(ca.is_ca());
    assert_eq!(ca.subject().to_string(), "CN=my-ca");
    assert_eq!(cert.issuer().to_string(), "CN=my-ca");
    assert!(!cert.is_ca());
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the CA");
    let san = cert
        .subject_alternative_name()
        .expect("parses")
        .expect("present");
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert!(names.iter().any(|n| n.contains("svc.ns.svc")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("0a:00:00:01")), "{names:?}");
    let days =
        (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86400;
    assert_eq!(days, 30);
}

#[test]
fn self_signed_certificates_can_use_a_given_key() {
    let out = render(
        r#"{{ $k := genPrivateKey "ecdsa" }}{{ $c := genSelfSignedCertWithKey "x" nil (list "x.example") 10 $k }}{{ eq $c.Key $k }}"#,
    );
    assert_eq!(out, "true");
}

#[test]
fn dsa_keys_are_read_but_cannot_make_certificates() {
    // Messages as `helm template` (v4.1.4) printed them.
    let fails = |text: &str| {
        let mut set = TemplateSet::new(functions());
        set.add("t", text).expect("parses");
        set.execute("t", &Value::Nil)
            .expect_err("fails")
            .to_string()
    };
    let signer = "error creating certificate: x509: certificate private key does not implement crypto.Signer";
    let e = fails(r#"{{ genCAWithKey "x" 1 (genPrivateKey "dsa") }}"#);
    assert!(
        e.ends_with(&format!("error calling genCAWithKey: {signer}")),
        "{e}"
    );
    let e = fails(r#"{{ genSelfSignedCertWithKey "x" nil nil 1 (genPrivateKey "dsa") }}"#);
    assert!(e.ends_with(signer), "{e}");
    let e = fails(
        r#"{{ $ca := genCA "c" 1 }}{{ genSignedCertWithKey "x" nil nil 1 $ca (genPrivateKey "dsa") }}"#,
    );
    assert!(
        e.ends_with(
            "error creating certificate: x509: unsupported public key type: *dsa.PublicKey"
        ),
        "{e}"
    );
    let custom = r#"{{ $ca := genCA "c" 1 }}{{ $k := genPrivateKey "dsa" }}{{ $c := buildCustomCert (b64enc $ca.Cert) (b64enc $k) }}"#;
    assert_eq!(render(&format!("{custom}{{{{ eq $c.Key $k }}}}")), "true");
    let e = fails(&format!(
        "{custom}{{{{ genSignedCert \"x\" nil nil 1 $c }}}}"
    ));
    assert!(e.ends_with(signer), "{e}");
}
