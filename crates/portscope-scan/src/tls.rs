//! The TLS probe's client side: a rustls client that accepts any
//! certificate, and reading the names, issuer and expiry out of the one the
//! server sent. We identify the server; we do not trust it, so nothing here
//! may be used to protect a connection.

use std::sync::{Arc, OnceLock};

use portscope::Text;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ProtocolVersion, SignatureScheme};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// What a TLS handshake showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// Negotiated version: `TLSv1.2`, `TLSv1.3`.
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher: Option<String>,
    /// The certificate's names: subject common name, then DNS and IP
    /// subject alternative names, without repeats.
    /// Chosen by whoever made the certificate: shown only escaped.
    pub names: Vec<Text>,
    /// The certificate's subject, as `CN=…, O=…`.
    pub subject: Option<Text>,
    /// The certificate's issuer.
    pub issuer: Option<Text>,
    /// Whether subject and issuer are the same (self-signed, as far as names go).
    pub self_signed: bool,
    /// End of validity, RFC 2822 form.
    pub not_after: Option<String>,
}

/// Accepts every certificate: the probe wants to read it, not to trust it.
/// Handshake signatures are still checked with the provider's algorithms,
/// so a server must hold the key of the certificate it shows.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The probe's client configuration (built once). `None` if rustls refuses
/// the protocol versions, which cannot happen with the ring provider.
pub fn client_config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let algs = provider.signature_verification_algorithms;
            let cfg = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(algs)))
                .with_no_client_auth();
            Some(Arc::new(cfg))
        })
        .clone()
}

/// `TLSv1.3` style name of a protocol version.
pub fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".into(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".into(),
        other => format!("{other:?}"),
    }
}

/// Fills the certificate fields of `info` from the end-entity certificate.
pub fn read_certificate(der: &[u8], info: &mut TlsInfo) {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    for cn in cert.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            push(s.to_string());
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        push(std::net::Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        push(std::net::Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    info.names = names.into_iter().map(Text::from).collect();
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    info.self_signed = subject == issuer;
    info.subject = Some(subject).filter(|s| !s.is_empty()).map(Text::from);
    info.issuer = Some(issuer).filter(|s| !s.is_empty()).map(Text::from);
    info.not_after = cert.validity().not_after.to_rfc2822().ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_generated_certificate() {
        let key = rcgen::generate_simple_self_signed(vec![
            "scan.test".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        let mut info = TlsInfo::default();
        read_certificate(key.cert.der(), &mut info);
        assert!(info.names.contains(&"scan.test".into()), "{info:?}");
        assert!(info.names.contains(&"127.0.0.1".into()), "{info:?}");
        assert!(info.self_signed);
        assert!(info.not_after.is_some());
    }

    #[test]
    fn garbage_certificate_is_ignored() {
        let mut info = TlsInfo::default();
        read_certificate(b"\x30\x03\x02\x01", &mut info);
        assert_eq!(info, TlsInfo::default());
        assert!(client_config().is_some());
    }
}
