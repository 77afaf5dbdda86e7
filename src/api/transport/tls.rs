//! https for the replay's own connections: tokio-rustls on the ring provider, trusting what
//! reqwest's `rustls-tls` client trusts (the webpki roots, plus `--ca-cert`), ALPN http/1.1.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A client configuration and the server name every connection is verified against. Cloning
/// shares the configuration (and its session cache, so a dispatcher's reconnects resume).
#[derive(Clone)]
pub(super) struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Tls {
    /// For `host` (a DNS name or an IP address, without brackets), trusting the webpki roots
    /// and `extra_roots`.
    pub(super) fn new(host: &str, extra_roots: &[CertificateDer<'static>]) -> Result<Tls, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots.add(cert.clone()).map_err(|e| e.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // These connections speak HTTP/1.1 only (hyper's http1 client): a server that would
        // pick h2 through ALPN must not.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    pub(super) async fn connect(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), tcp).await
    }
}
