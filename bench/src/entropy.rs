//! The TLS stack's one-time start-up costs, each in a fresh process because they are paid once
//! per process: AWS-LC's first random bytes (its DRBG is seeded on first use, from CPU jitter
//! entropy as well as the OS since aws-lc-sys 0.32 unless built with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=1`), and loading the platform's root certificates, which the
//! SDK's HTTPS client does before its first request. Against a real DynamoDB endpoint both land
//! on a function's first request (the TLS handshake needs randomness); against the local
//! `http://` engine only the certificates do.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::stats::ms;

/// One fresh process's figures (milliseconds).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Probe {
    pub first_random_ms: f64,
    pub second_random_ms: f64,
    pub native_roots_ms: f64,
    pub native_roots: usize,
}

/// Runs in the probe process (`sessions-bench probe-tls`): nothing else has touched AWS-LC yet.
pub fn probe() -> Probe {
    let mut bytes = [0u8; 32];
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
    Probe {
        first_random_ms,
        second_random_ms,
        native_roots_ms,
        native_roots: roots.certs.len(),
    }
}

/// `runs` fresh probe processes of this executable.
pub fn measure(exe: &Path, runs: usize) -> Result<Vec<Probe>, String> {
    (0..runs)
        .map(|_| {
            let output = Command::new(exe)
                .arg("probe-tls")
                .output()
                .map_err(|e| format!("probe-tls: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "probe-tls failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            serde_json::from_slice(&output.stdout).map_err(|e| format!("probe-tls output: {e}"))
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
        let output = Command::new(binary)
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        serde_json::from_slice(&output.stdout).map_err(|e| format!("{}: {e}", binary.display()))
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(once(default)?);
        b.push(once(no_jitter)?);
    }
    Ok((a, b))
}
