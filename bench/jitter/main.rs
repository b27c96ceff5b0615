//! AWS-LC's first random bytes in a fresh process: the seeding of its random generator, which
//! since aws-lc-sys 0.32 draws on CPU jitter entropy unless the library was built with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=1`. `sessions-bench --jitter-variant` generates a crate from
//! this file under `target/bench/jitter/` and builds it both ways to compare.

use std::time::Instant;

fn main() {
    let mut bytes = [0u8; 32];
    let started = Instant::now();
    let first = aws_lc_rs::rand::fill(&mut bytes);
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let second = aws_lc_rs::rand::fill(&mut bytes);
    let second_ms = started.elapsed().as_secs_f64() * 1000.0;
    if first.is_err() || second.is_err() {
        eprintln!("AWS-LC could not produce random bytes");
        std::process::exit(1);
    }
    println!("{{\"first_random_ms\":{first_ms},\"second_random_ms\":{second_ms}}}");
}
