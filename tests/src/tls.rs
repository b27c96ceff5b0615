//! A TLS front for the local engine: `https://` to a DynamoDB-compatible endpoint whose
//! certificate comes from a throwaway CA. The trust-store tests use it to show which
//! authorities the functions' client accepts; `make bench` uses it so a function's first
//! request pays a full TLS handshake, as against `https://dynamodb.<region>.amazonaws.com`
//! (on loopback, so without the network round trips). A client trusts the CA through
//! `SSL_CERT_FILE` with `SESSIONS_TLS_ROOTS=system`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A running front; dropping it stops accepting.
pub struct TlsFront {
    /// The value for `AWS_ENDPOINT_URL_DYNAMODB`.
    pub endpoint: String,
    /// The CA certificate (PEM) to trust, for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Terminates TLS on a free loopback port and forwards each connection to `upstream`
    /// (`host:port` of the engine). Writes the CA certificate into `dir`.
    pub async fn start(upstream: &str, dir: &Path) -> Result<TlsFront, String> {
        let e = |what: &str| {
            let what = what.to_string();
            move |err: &dyn std::fmt::Display| format!("TLS front: {what}: {err}")
        };
        let ca_key = KeyPair::generate().map_err(|x| e("CA key")(&x))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|x| e("CA")(&x))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sessions-tests throwaway CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|x| e("CA")(&x))?;
        let leaf_key = KeyPair::generate().map_err(|x| e("key")(&x))?;
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .and_then(|p| p.signed_by(&leaf_key, &ca))
            .map_err(|x| e("certificate")(&x))?;

        let ca_file = dir.join("throwaway-ca.pem");
        std::fs::write(&ca_file, ca.pem()).map_err(|x| e("write CA")(&x))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|x| e("protocols")(&x))?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .map_err(|x| e("server config")(&x))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|x| e("bind")(&x))?;
        let port = listener.local_addr().map_err(|x| e("bind")(&x))?.port();
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // No Nagle: with it, a response written in pieces waits on delayed ACKs
                    // (tens of milliseconds) that DynamoDB's endpoint would not add.
                    let _ = tcp.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut engine) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = engine.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
                });
            }
        });
        Ok(TlsFront {
            endpoint: format!("https://127.0.0.1:{port}"),
            ca_file,
            task,
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
