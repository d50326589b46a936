//! A throwaway PKI for the TLS tests (included with `#[path]` by the Rust TLS tests and by
//! the `tls_certs` example, which writes it to files for the C, Python, CLI and Go tests).
//!
//! Two CAs: `ca` (trusted by the tests) and `other_ca` (trusted by nobody). Leaf certificates
//! signed by `ca`: `server` (for `localhost`, `127.0.0.1` and `::1`, valid now), `expired`
//! (the same names, valid only in 2000), `client` (a client certificate), and `other_client`
//! signed by `other_ca` (a client certificate a mutual-TLS server must refuse).
#![allow(dead_code)]

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Pem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// Every certificate the tests use.
pub struct TestPki {
    pub ca: Pem,
    pub other_ca: Pem,
    pub server: Pem,
    pub expired: Pem,
    pub client: Pem,
    pub other_client: Pem,
}

/// The names every server certificate is valid for.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

struct Issuer {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Issuer {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).unwrap();
    Issuer { cert, key }
}

fn leaf(
    issuer: &Issuer,
    common_name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> Pem {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name.push(DnType::CommonName, common_name);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![usage];
    if expired {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2000, 12, 31);
    }
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Pem {
        cert: cert.pem().into_bytes(),
        key: key.serialize_pem().into_bytes(),
    }
}

impl TestPki {
    /// Generates a fresh PKI (ECDSA P-256 keys: fast).
    pub fn generate() -> TestPki {
        let ca_issuer = ca("rpcx test CA");
        let other_issuer = ca("rpcx untrusted CA");
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        let client = ExtendedKeyUsagePurpose::ClientAuth;
        TestPki {
            server: leaf(&ca_issuer, "localhost", SERVER_NAMES, server.clone(), false),
            expired: leaf(&ca_issuer, "localhost", SERVER_NAMES, server, true),
            client: leaf(&ca_issuer, "rpcx test client", &[], client.clone(), false),
            other_client: leaf(&other_issuer, "rpcx untrusted client", &[], client, false),
            ca: Pem {
                cert: ca_issuer.cert.pem().into_bytes(),
                key: ca_issuer.key.serialize_pem().into_bytes(),
            },
            other_ca: Pem {
                cert: other_issuer.cert.pem().into_bytes(),
                key: other_issuer.key.serialize_pem().into_bytes(),
            },
        }
    }

    /// Writes `<name>.pem` and `<name>.key` for every certificate into `dir` (created):
    /// `ca`, `other-ca`, `server`, `expired`, `client`, `other-client`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, pem) in [
            ("ca", &self.ca),
            ("other-ca", &self.other_ca),
            ("server", &self.server),
            ("expired", &self.expired),
            ("client", &self.client),
            ("other-client", &self.other_client),
        ] {
            std::fs::write(dir.join(format!("{name}.pem")), &pem.cert)?;
            std::fs::write(dir.join(format!("{name}.key")), &pem.key)?;
        }
        Ok(())
    }
}
