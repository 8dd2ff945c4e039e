//! TLS for both listeners and the client: rustls with the ring provider.
//!
//! Certificates and keys come from PEM. The server handshake runs on the
//! connection's worker after its permit is taken, bounded by the read
//! timeout; a failure (a cleartext peer included) is counted and ends that
//! connection only. With a client CA, a verified client certificate is a
//! credential: its DER digest maps to grants in the [`crate::Authenticator`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConnection, RootCertStore, ServerConnection, StreamOwned};

use crate::client::ClientError;
use crate::transport::{Conn, Halves};

/// Why a TLS configuration or handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The PEM input holds no certificate.
    #[error("no certificate in the PEM input")]
    NoCertificate,
    /// The PEM input could not be parsed or holds no private key.
    #[error("invalid PEM input: {reason}")]
    Pem {
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("tls configuration refused: {reason}")]
    Config {
        /// rustls's reason.
        reason: String,
    },
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The handshake failed or timed out.
    #[error("tls handshake failed: {reason}")]
    Handshake {
        /// What happened.
        reason: String,
    },
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            reason: error.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| TlsError::Pem {
        reason: error.to_string(),
    })
}

fn roots(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots.add(cert).map_err(|error| TlsError::Config {
            reason: error.to_string(),
        })?;
    }
    Ok(roots)
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::File {
        path: path.display().to_string(),
        source,
    })
}

fn config_error(error: rustls::Error) -> TlsError {
    TlsError::Config {
        reason: error.to_string(),
    }
}

/// Whether a TLS listener asks for client certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCertificates {
    /// Verified when presented; a client without one may still use a token.
    Optional,
    /// Every client must present one that verifies.
    Required,
}

/// A listener's TLS identity (and, optionally, the CA of client certificates).
///
/// ```no_run
/// use netbat::tls::TlsServerConfig;
/// let tls = TlsServerConfig::from_pem_files("server.crt", "server.key")?;
/// let config = netbat::ServerConfig::default().with_tls(tls);
/// # Ok::<(), netbat::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
    client_auth: Option<ClientCertificates>,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// Server certificate chain and private key, both PEM; no client certificates.
    ///
    /// # Errors
    /// [`TlsError`] when the PEM is unusable.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_no_client_auth()
            .with_single_cert(certificates(cert_chain_pem)?, private_key(key_pem)?)
            .map_err(config_error)?;
        Ok(Self {
            config: Arc::new(config),
            client_auth: None,
        })
    }

    /// As [`TlsServerConfig::from_pem`], also verifying client certificates
    /// against the CA certificates in `client_ca_pem` (mTLS).
    ///
    /// # Errors
    /// [`TlsError`] when the PEM is unusable.
    pub fn with_client_ca(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: &[u8],
        mode: ClientCertificates,
    ) -> Result<Self, TlsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(client_ca_pem)?),
            provider(),
        );
        let verifier = match mode {
            ClientCertificates::Optional => verifier.allow_unauthenticated(),
            ClientCertificates::Required => verifier,
        }
        .build()
        .map_err(|error| TlsError::Config {
            reason: error.to_string(),
        })?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certificates(cert_chain_pem)?, private_key(key_pem)?)
            .map_err(config_error)?;
        Ok(Self {
            config: Arc::new(config),
            client_auth: Some(mode),
        })
    }

    /// Whether every client must present a certificate that verifies
    /// against the client CA before a byte of NETBAT is read.
    #[must_use]
    pub fn requires_client_certificates(&self) -> bool {
        self.client_auth == Some(ClientCertificates::Required)
    }

    /// As [`TlsServerConfig::from_pem`], reading the PEM files.
    ///
    /// # Errors
    /// [`TlsError`] when a file cannot be read or is unusable.
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        Self::from_pem(
            &read_file(cert_chain_path.as_ref())?,
            &read_file(key_path.as_ref())?,
        )
    }

    /// Runs the server handshake, giving up at `deadline`.
    pub(crate) fn accept(
        &self,
        mut sock: TcpStream,
        deadline: Instant,
    ) -> Result<ServerTls, TlsError> {
        let mut conn = ServerConnection::new(Arc::clone(&self.config)).map_err(config_error)?;
        handshake(&mut conn, &mut sock, deadline)?;
        Ok(ServerTls {
            stream: StreamOwned::new(conn, sock),
        })
    }
}

/// Completes a server handshake, giving up at `deadline` however slowly
/// the peer trickles bytes.
fn handshake(
    conn: &mut ServerConnection,
    sock: &mut TcpStream,
    deadline: Instant,
) -> Result<(), TlsError> {
    let failed = |reason: String| TlsError::Handshake { reason };
    while conn.is_handshaking() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(failed("timed out".to_owned()));
        }
        sock.set_read_timeout(Some(remaining))
            .map_err(|error| failed(error.to_string()))?;
        match conn.complete_io(sock) {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => return Err(failed(error.to_string())),
        }
    }
    Ok(())
}

/// An accepted TLS connection.
pub(crate) struct ServerTls {
    stream: StreamOwned<ServerConnection, TcpStream>,
}

impl Read for ServerTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for ServerTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Conn for ServerTls {
    fn socket(&self) -> &TcpStream {
        &self.stream.sock
    }

    fn close_write(&mut self) {
        self.stream.conn.send_close_notify();
        let _ = self.stream.flush();
        let _ = self.stream.sock.shutdown(Shutdown::Write);
    }

    fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.stream
            .conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|cert| cert.as_ref().to_vec())
    }

    fn into_halves(self: Box<Self>) -> io::Result<Halves> {
        let StreamOwned { conn, sock } = self.stream;
        let shared = Arc::new(Mutex::new(conn));
        Ok(Halves {
            reader: Box::new(TlsReadHalf {
                conn: Arc::clone(&shared),
                sock: sock.try_clone()?,
                raw: vec![0; 16 * 1024],
                start: 0,
                end: 0,
            }),
            writer: Box::new(TlsWriteHalf {
                conn: shared,
                sock: sock.try_clone()?,
            }),
            socket: sock,
        })
    }
}

fn lock(conn: &Mutex<ServerConnection>) -> io::Result<MutexGuard<'_, ServerConnection>> {
    conn.lock()
        .map_err(|_| io::Error::other("tls connection lock poisoned"))
}

fn push_tls(conn: &mut ServerConnection, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    Ok(())
}

/// The reading half of a TLS connection shared with a writer: raw bytes are
/// read without the lock, then decrypted under it.
struct TlsReadHalf {
    conn: Arc<Mutex<ServerConnection>>,
    sock: TcpStream,
    raw: Vec<u8>,
    start: usize,
    end: usize,
}

impl Read for TlsReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = lock(&self.conn)?;
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(error) => return Err(error),
                }
                if self.start < self.end {
                    let mut pending = &self.raw[self.start..self.end];
                    let used = conn.read_tls(&mut pending)?;
                    self.start += used;
                    conn.process_new_packets()
                        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                    push_tls(&mut conn, &mut self.sock)?;
                    continue;
                }
            }
            let n = self.sock.read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.start = 0;
            self.end = n;
        }
    }
}

/// The writing half of a TLS connection shared with a reader.
struct TlsWriteHalf {
    conn: Arc<Mutex<ServerConnection>>,
    sock: TcpStream,
}

impl Write for TlsWriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut conn = lock(&self.conn)?;
        let n = conn.writer().write(buf)?;
        push_tls(&mut conn, &mut self.sock)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut conn = lock(&self.conn)?;
        conn.writer().flush()?;
        push_tls(&mut conn, &mut self.sock)
    }
}

/// How a [`crate::Client`] verifies the server (and, for mTLS, proves itself).
///
/// ```no_run
/// use netbat::tls::TlsClientConfig;
/// let ca = std::fs::read("ca.crt").unwrap();
/// let tls = TlsClientConfig::new(&ca, "netbat.example")?;
/// let config = netbat::ClientConfig::new("127.0.0.1:7443".parse().unwrap()).with_tls(tls);
/// # Ok::<(), netbat::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClientConfig {
    /// Trusts the CA certificates in `ca_pem` and expects `server_name`.
    ///
    /// # Errors
    /// [`TlsError`] when the PEM or the name is unusable.
    pub fn new(ca_pem: &[u8], server_name: &str) -> Result<Self, TlsError> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_root_certificates(roots(ca_pem)?)
            .with_no_client_auth();
        Self::finish(config, server_name)
    }

    /// As [`TlsClientConfig::new`], presenting a client certificate (mTLS).
    ///
    /// # Errors
    /// [`TlsError`] when the PEM or the name is unusable.
    pub fn with_client_certificate(
        ca_pem: &[u8],
        server_name: &str,
        cert_chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, TlsError> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_root_certificates(roots(ca_pem)?)
            .with_client_auth_cert(certificates(cert_chain_pem)?, private_key(key_pem)?)
            .map_err(config_error)?;
        Self::finish(config, server_name)
    }

    fn finish(config: rustls::ClientConfig, server_name: &str) -> Result<Self, TlsError> {
        let server_name =
            ServerName::try_from(server_name.to_owned()).map_err(|error| TlsError::Config {
                reason: error.to_string(),
            })?;
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }

    pub(crate) fn connect(
        &self,
        mut sock: TcpStream,
    ) -> Result<StreamOwned<ClientConnection, TcpStream>, ClientError> {
        let tls_error = |reason: String| ClientError::Tls { reason };
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(|error| tls_error(error.to_string()))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|error| tls_error(error.to_string()))?;
        }
        Ok(StreamOwned::new(conn, sock))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pem_is_refused() {
        assert!(matches!(
            TlsServerConfig::from_pem(b"not pem", b"not pem"),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            TlsClientConfig::new(b"", "localhost"),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            TlsServerConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem"),
            Err(TlsError::File { .. })
        ));
    }
}
