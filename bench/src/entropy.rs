//! The TLS stack's one-time start-up costs, each in a fresh process because they are paid once
//! per process, for the stack the functions use and for the SDK's default, which they replaced
//! (`shared/src/store/transport.rs`):
//! - the first random bytes: *ring* (the functions' provider) asks the OS (`getrandom`);
//!   AWS-LC (the SDK default) seeds its DRBG on first use, from CPU jitter entropy as well as
//!   the OS since aws-lc-sys 0.32 unless built with `AWS_LC_SYS_NO_JITTER_ENTROPY=1`. Against a
//!   real endpoint this lands on a function's first request (the handshake needs randomness);
//! - the trust store: parsing the five embedded Amazon Trust Services roots (the functions'
//!   default) against loading the platform's whole store (the SDK default, and
//!   `SESSIONS_TLS_ROOTS=system`), which the SDK does while building its client, at init.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use sessions::store::transport;

use crate::process::json_of;
use crate::stats::ms;

/// One fresh process's figures (milliseconds).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Probe {
    /// AWS-LC's first and second random bytes.
    pub first_random_ms: f64,
    pub second_random_ms: f64,
    /// *ring*'s first and second random bytes.
    pub ring_first_random_ms: f64,
    pub ring_second_random_ms: f64,
    pub native_roots_ms: f64,
    pub native_roots: usize,
    /// Parsing the embedded Amazon Trust Services bundle into trust anchors.
    pub amazon_roots_ms: f64,
    pub amazon_roots: usize,
}

/// Runs in the probe process (`sessions-bench probe-tls`): nothing else has touched AWS-LC or
/// *ring* yet.
pub fn probe() -> Probe {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    let system = ring::rand::SystemRandom::new();
    let started = Instant::now();
    let ring_first = system.fill(&mut bytes);
    let ring_first_random_ms = ms(started.elapsed());
    let started = Instant::now();
    let ring_second = system.fill(&mut bytes);
    let ring_second_random_ms = ms(started.elapsed());
    assert!(
        ring_first.is_ok() && ring_second.is_ok(),
        "ring could not produce random bytes"
    );
    let started = Instant::now();
    let first = aws_lc_rs::rand::fill(&mut bytes);
    let first_random_ms = ms(started.elapsed());
    let started = Instant::now();
    let second = aws_lc_rs::rand::fill(&mut bytes);
    let second_random_ms = ms(started.elapsed());
    assert!(
        first.is_ok() && second.is_ok(),
        "AWS-LC could not produce random bytes"
    );
    let started = Instant::now();
    let roots = rustls_native_certs::load_native_certs();
    let native_roots_ms = ms(started.elapsed());
    let started = Instant::now();
    let amazon = amazon_trust_anchors();
    let amazon_roots_ms = ms(started.elapsed());
    Probe {
        first_random_ms,
        second_random_ms,
        ring_first_random_ms,
        ring_second_random_ms,
        native_roots_ms,
        native_roots: roots.certs.len(),
        amazon_roots_ms,
        amazon_roots: amazon,
    }
}

/// What the functions' client does with its default trust store: PEM to DER, then each
/// certificate to a trust anchor (as rustls's root store does). Returns how many.
fn amazon_trust_anchors() -> usize {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    CertificateDer::pem_slice_iter(transport::AMAZON_TRUST_SERVICES_PEM.as_bytes())
        .filter_map(Result::ok)
        .filter(|der| webpki::anchor_from_trusted_cert(der).is_ok())
        .count()
}

/// `runs` fresh probe processes of this executable.
pub fn measure(exe: &Path, runs: usize) -> Result<Vec<Probe>, String> {
    (0..runs)
        .map(|_| {
            let mut command = Command::new(exe);
            command.arg("probe-tls");
            json_of(command, "probe-tls")
        })
        .collect()
}

/// AWS-LC's seeding alone, from the generated probe (`bench/jitter/main.rs`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Seeding {
    pub first_random_ms: f64,
    #[allow(dead_code)]
    pub second_random_ms: f64,
}

/// `runs` fresh processes of each probe binary, alternating; returns (default, no jitter).
pub fn measure_seeding(
    default: &Path,
    no_jitter: &Path,
    runs: usize,
) -> Result<(Vec<Seeding>, Vec<Seeding>), String> {
    let once = |binary: &Path| -> Result<Seeding, String> {
        json_of(Command::new(binary), &binary.display().to_string())
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(once(default)?);
        b.push(once(no_jitter)?);
    }
    Ok((a, b))
}
