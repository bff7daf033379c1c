//! The TLS client settings of outbound HTTPS, shared by JS `fetch` (`outbound.rs`) and
//! components' `wasi:http/outgoing-handler` (`component/outbound.rs`): rustls with ring, the
//! Mozilla roots (`webpki-roots`), plus the certificates of `[net] ca_file` for a private CA.

use crate::config::NetConfig;
use anyhow::{Context, Result, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;

/// The client configuration for outbound TLS under `net`.
pub fn client_config(net: &NetConfig) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if !net.ca_file.is_empty() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&net.ca_file)
            .with_context(|| format!("reading {}", net.ca_file))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: not a PEM certificate file", net.ca_file))?;
        if certs.is_empty() {
            bail!("{}: no PEM certificate in it", net.ca_file);
        }
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("{}: a certificate rustls refuses", net.ca_file))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map_err(|e| anyhow::anyhow!("configuring TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() {
        let net = NetConfig {
            ca_file: "/nonexistent/ca.pem".into(),
            ..NetConfig::default()
        };
        assert!(client_config(&net).is_err());
        let dir = std::env::temp_dir().join(format!("wisp-tls-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").unwrap();
        let net = NetConfig {
            ca_file: dir.to_str().unwrap().into(),
            ..NetConfig::default()
        };
        let err = format!("{:#}", client_config(&net).unwrap_err());
        std::fs::remove_file(&dir).unwrap();
        assert!(err.contains("no PEM certificate"), "{err}");
        assert!(client_config(&NetConfig::default()).is_ok());
    }
}
