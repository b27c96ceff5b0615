//! `make bench`: proves, on this machine and in one run, what Rust is chosen for here — cold
//! start, package size, memory, handler overhead, round trips and revoke throughput — what
//! the connection side would ask of DynamoDB's partitions at the contract's scale, and what the
//! session gateway costs a tool call and how soon it cuts revoked clients off, against
//! the goals in `docs/benchmarks.md`, and writes `target/bench/summary.json` plus a table on stdout.
//!
//! Every figure comes from the artefacts that would be deployed (`cargo lambda build --release`)
//! or from the shared crate's own handlers, on a local DynamoDB-compatible engine; every timing
//! is a median of repeats; every goal is a ratio or bound measured in the same run. A missed
//! goal is reported and the bench still exits 0; it exits non-zero only when something could
//! not be measured at all. Method and latest figures: `docs/benchmarks.md`.

mod artefacts;
mod capacity;
mod coldstart;
mod emulator;
mod entropy;
mod figures;
mod gateway;
mod initprobe;
mod latency;
mod load;
mod overhead;
mod process;
mod replay;
mod report;
mod revoke;
mod stats;
mod world;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use serde_json::json;
use sessions::route::Route;

use crate::artefacts::Artefact;
use crate::report::Summary;
use crate::stats::{median, round, Spread};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of the Sessions API's Lambda functions (make bench)")]
struct Args {
    /// Where the summary, logs and generated crates go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Cold starts per binary (cheap: a few milliseconds each; many, because neighbours'
    /// builds make single starts noisy).
    #[arg(long, default_value_t = 60)]
    rounds: usize,
    /// Of those, how many also time a first and a second request (read functions).
    #[arg(long, default_value_t = 12)]
    invoke_rounds: usize,
    /// Invocations each function serves in one environment for its peak RSS.
    #[arg(long, default_value_t = 200)]
    invocations: usize,
    /// Timed iterations of the in-process handler-overhead comparison.
    #[arg(long, default_value_t = 400)]
    iterations: usize,
    /// Connected sessions revoke-all disconnects.
    #[arg(long, default_value_t = 10_000)]
    revoke_sessions: usize,
    /// Sessions the sequential baseline updates (its time is scaled to `revoke_sessions`).
    #[arg(long, default_value_t = 2_000)]
    sequential_sessions: usize,
    /// Repeats of the revoke comparison.
    #[arg(long, default_value_t = 3)]
    revoke_repeats: usize,
    /// Connected sessions of the heartbeat workload (each heartbeats once; the contract's
    /// 100,000 only set the rate). At least the heartbeats simulated: 3,333 per second.
    #[arg(long, default_value_t = 10_000)]
    capacity_sessions: usize,
    /// Simulated seconds of each connection-side workload on the capacity model.
    #[arg(long, default_value_t = 3.0)]
    capacity_seconds: f64,
    /// Round trip added to every DynamoDB request for the second revoke comparison
    /// (milliseconds; 0 skips it).
    #[arg(long, default_value_t = 5)]
    rtt_ms: u64,
    /// Fresh processes for the TLS start-up probe.
    #[arg(long, default_value_t = 20)]
    tls_probes: usize,
    /// Also build get-session with these release-profile settings, one at a time, and compare:
    /// `KEY=VALUE` (`opt-level=z`, `lto=thin`, `codegen-units=16`, `panic=unwind`,
    /// `strip=false`), or a bare opt-level (`3,z`). Each is a full release build in its own
    /// target directory: minutes apiece.
    #[arg(long, value_delimiter = ',')]
    profiles: Vec<String>,
    /// Also build a tiny AWS-LC probe with and without `AWS_LC_SYS_NO_JITTER_ENTROPY=1` and
    /// compare the seeding cost (two builds of aws-lc-sys: minutes).
    #[arg(long)]
    jitter_variant: bool,
    /// Only the in-process measurements (handler overhead, round trips, revoke, probes):
    /// no builds, no function processes. For working on the bench itself.
    #[arg(long)]
    in_process_only: bool,
    /// Timed tool calls on each path of the gateway-overhead comparison.
    #[arg(long, default_value_t = 400)]
    gateway_calls: usize,
    /// MCP sessions open through the gateway when a revoke-all cuts them off.
    #[arg(long, default_value_t = 64)]
    cutoff_sessions: usize,
    /// The gateway's heartbeat interval in the gateway phase (seconds).
    #[arg(long, default_value_t = 1.0)]
    gateway_heartbeat_seconds: f64,
    /// The receiving gateway's heartbeat interval when a pushed event cuts sessions off
    /// (seconds): long enough that no heartbeat does within the measurement.
    #[arg(long, default_value_t = 30.0)]
    event_heartbeat_seconds: f64,
    /// Only the gateway phase (overhead and cut-off): for working on it.
    #[arg(long)]
    gateway_only: bool,
    /// Use the artefacts of an earlier run instead of building.
    #[arg(long)]
    skip_build: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// (internal) Print the TLS start-up probe of this fresh process as JSON.
    #[command(hide = true)]
    ProbeTls,
    /// (internal) Time a function's init steps in this fresh process; print them as JSON.
    #[command(hide = true)]
    ProbeInit,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Some(Command::ProbeTls) => {
            println!("{}", json!(entropy::probe()));
            return ExitCode::SUCCESS;
        }
        Some(Command::ProbeInit) => {
            println!("{}", json!(initprobe::probe()));
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(args))
}

/// The workspace root: this crate lives in `bench/`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

async fn run(args: Args) -> ExitCode {
    let started = Instant::now();
    let root = workspace_root();
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("bench: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let log = out.join("functions.log");
    let _ = std::fs::remove_file(&log);
    install_log_sink();

    let mut summary = Summary::default();
    let mut errors: Vec<String> = Vec::new();

    if args.gateway_only {
        gateway_phase(&args, started, &mut summary, &mut errors).await;
        return conclude(&mut summary, &out, &errors, started);
    }

    let functions = if args.in_process_only {
        Vec::new()
    } else {
        match process_phases(&args, &root, &out, &log, started, &mut summary, &mut errors).await {
            Some(functions) => functions,
            None => {
                finish(&mut summary, &out, &errors, started);
                return ExitCode::FAILURE;
            }
        }
    };

    phase(
        started,
        &format!("handler overhead, {} iterations", args.iterations),
    );
    let engine = sessions_tests::Engine::start().await;
    let o = overhead::measure(&engine.endpoint, args.iterations).await;
    drop(engine);
    figures::overhead_figures(&mut summary, &o);

    phase(
        started,
        &format!(
            "capacity model: {} s of heartbeats of {} connected sessions, {} s of reconnects",
            args.capacity_seconds, args.capacity_sessions, args.capacity_seconds
        ),
    );
    let heartbeats = load::heartbeats(args.capacity_sessions, args.capacity_seconds).await;
    let reconnects = load::reconnects(args.capacity_seconds).await;
    for (what, r) in [("heartbeats", &heartbeats), ("reconnects", &reconnects)] {
        if let Err(e) = r {
            errors.push(format!("capacity model, {what}: {e}"));
        }
    }
    figures::capacity_figures(&mut summary, &heartbeats, &reconnects);

    phase(
        started,
        &format!(
            "revoke-all over {} sessions vs a sequential loop over {}, {} repeats",
            args.revoke_sessions, args.sequential_sessions, args.revoke_repeats
        ),
    );
    let r = revoke::measure(
        args.revoke_sessions,
        args.sequential_sessions,
        args.revoke_repeats,
        None,
    )
    .await;
    figures::revoke_figures(&mut summary, &r);
    if args.rtt_ms > 0 {
        phase(
            started,
            &format!(
                "the same with a {} ms round trip per request ({} and {} sessions)",
                args.rtt_ms,
                args.revoke_sessions / 5,
                args.sequential_sessions / 10
            ),
        );
        summary.extra("revoke_with_round_trip", revoke_with_rtt(&args).await);
    }

    gateway_phase(&args, started, &mut summary, &mut errors).await;

    phase(
        started,
        &format!(
            "TLS and init start-up probes, {} processes each",
            args.tls_probes
        ),
    );
    match std::env::current_exe().map_err(|e| e.to_string()) {
        Ok(exe) => {
            match entropy::measure(&exe, args.tls_probes) {
                Ok(probes) => figures::tls_figures(&mut summary, &probes),
                Err(e) => errors.push(format!("TLS probe: {e}")),
            }
            match initprobe::measure(&exe, &coldstart::probe_env("get-session"), args.tls_probes) {
                Ok(steps) => figures::init_steps_figures(&mut summary, &steps),
                Err(e) => errors.push(format!("init probe: {e}")),
            }
        }
        Err(e) => errors.push(format!("probes: {e}")),
    }

    if args.jitter_variant {
        let (root2, out2) = (root.clone(), out.clone());
        let built =
            tokio::task::spawn_blocking(move || artefacts::build_jitter_probes(&root2, &out2))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
        match built.and_then(|(d, n)| entropy::measure_seeding(&d, &n, args.tls_probes)) {
            Ok((default, no_jitter)) => summary.extra(
                "aws_lc_seeding_ms",
                json!({
                    "default": Spread::of(&default.iter().map(|s| s.first_random_ms).collect::<Vec<_>>()),
                    "no_jitter_entropy": Spread::of(&no_jitter.iter().map(|s| s.first_random_ms).collect::<Vec<_>>()),
                    "notes": "first random bytes of a fresh process of a tiny aws-lc-rs probe built \
                              with the workspace profile, as is and with AWS_LC_SYS_NO_JITTER_ENTROPY=1",
                }),
            ),
            Err(e) => errors.push(format!("jitter variant: {e}")),
        }
    }

    if !args.profiles.is_empty() {
        let get = functions.iter().find(|a| a.name == "get-session").cloned();
        match get {
            Some(get) => {
                let engine = sessions_tests::Engine::start().await;
                let fixture = coldstart::Fixture::seed(
                    &world::counting_client(&engine.endpoint, world::CallCounter::default()),
                    &engine.endpoint,
                    10,
                )
                .await;
                let compared =
                    profiles(&root, &out, &get, &args.profiles, &fixture, &args, &log).await;
                summary.extra("profile_alternatives", compared);
            }
            None => errors.push("profiles: no get-session artefact".into()),
        }
    }

    conclude(&mut summary, &out, &errors, started)
}

/// Writes the summary; the exit code says whether everything could be measured.
fn conclude(summary: &mut Summary, out: &Path, errors: &[String], started: Instant) -> ExitCode {
    finish(summary, out, errors, started);
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        for e in errors {
            eprintln!("bench: error: {e}");
        }
        ExitCode::from(2)
    }
}

/// The session gateway in front of the example MCP server: a tool call's overhead, then how
/// soon a revoke-all cuts connected clients off, by heartbeats, then by a pushed Shared Signals
/// event on a second stack whose gateway is a receiver.
async fn gateway_phase(
    args: &Args,
    started: Instant,
    summary: &mut Summary,
    errors: &mut Vec<String>,
) {
    phase(
        started,
        &format!(
            "gateway: {} tool calls each way, then {} sessions cut off by a revoke-all \
             (heartbeat every {} s)",
            args.gateway_calls, args.cutoff_sessions, args.gateway_heartbeat_seconds
        ),
    );
    let (overhead, cutoffs) =
        match gateway::Stack::start(args.gateway_heartbeat_seconds, false).await {
            Ok(stack) => {
                let overhead = gateway::overhead(&stack, args.gateway_calls).await;
                let cutoffs = gateway::cutoff(&stack, args.cutoff_sessions).await;
                stack.stop().await;
                (overhead, cutoffs)
            }
            Err(e) => (Err(e.clone()), Err(e)),
        };
    phase(
        started,
        &format!(
            "gateway: {} sessions cut off by a revoke-all pushed as a Shared Signals event \
             (heartbeat every {} s)",
            args.cutoff_sessions, args.event_heartbeat_seconds
        ),
    );
    let pushed = match gateway::Stack::start(args.event_heartbeat_seconds, true).await {
        Ok(stack) => {
            let cutoffs = gateway::cutoff(&stack, args.cutoff_sessions).await;
            stack.stop().await;
            cutoffs
        }
        Err(e) => Err(e),
    };
    for (what, r) in [
        ("overhead", overhead.as_ref().err()),
        ("cut-off", cutoffs.as_ref().err()),
        ("pushed-event cut-off", pushed.as_ref().err()),
    ] {
        if let Some(e) = r {
            errors.push(format!("gateway {what}: {e}"));
        }
    }
    figures::gateway_overhead_figures(summary, &overhead);
    figures::cutoff_figures(summary, &cutoffs, false);
    figures::cutoff_figures(summary, &pushed, true);
}

/// Everything measured on the built binaries: package sizes, cold starts (plain and over TLS),
/// peak memory and warm latency. Returns the functions' artefacts, or `None` when they could
/// not be built.
async fn process_phases(
    args: &Args,
    root: &Path,
    out: &Path,
    log: &Path,
    started: Instant,
    summary: &mut Summary,
    errors: &mut Vec<String>,
) -> Option<Vec<Artefact>> {
    // Artefacts: the four functions and the baseline, as they would be deployed.
    let built = build(root, out, args.skip_build).await;
    let Built {
        functions,
        hello,
        deployed,
    } = match built {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e}");
            errors.push(e);
            return None;
        }
    };
    figures::package_figures(summary, &functions, deployed.as_deref(), &hello);

    // One engine and one seeded table for every function process.
    let engine = sessions_tests::Engine::start().await;
    let seeding_client = world::counting_client(&engine.endpoint, world::CallCounter::default());
    phase(started, "seeding the functions' table");
    let fixture =
        coldstart::Fixture::seed(&seeding_client, &engine.endpoint, args.invocations).await;

    let mut binaries: Vec<(String, PathBuf)> =
        vec![(coldstart::HELLO.to_string(), hello.binary.clone())];
    binaries.extend(functions.iter().map(|a| (a.name.clone(), a.binary.clone())));
    phase(
        started,
        &format!(
            "{} cold starts of each of {} binaries",
            args.rounds,
            binaries.len()
        ),
    );
    match coldstart::measure(&binaries, &fixture, args.rounds, args.invoke_rounds, log).await {
        Ok(cold) => figures::cold_figures(summary, &cold),
        Err(e) => {
            errors.push(format!("cold starts: {e}"));
            summary.figure_or_error("init_ms_median", Err(e.clone()), "");
            summary.figure_or_error("init_ratio_vs_hello", Err(e), "");
        }
    }

    phase(started, "first and second requests over TLS");
    let reads: Vec<(String, PathBuf)> = binaries
        .iter()
        .filter(|(name, _)| name == "get-session" || name == "list-sessions")
        .cloned()
        .collect();
    match first_requests_over_tls(
        &engine.endpoint,
        out,
        &fixture,
        &reads,
        args.invoke_rounds,
        log,
    )
    .await
    {
        Ok(v) => summary.extra("first_request_vs_second_tls", v),
        Err(e) => errors.push(format!("first requests over TLS: {e}")),
    }

    phase(
        started,
        &format!("{} invocations of each binary, peak RSS", args.invocations),
    );
    serving_figures(summary, &binaries, &fixture, args.invocations, log, errors).await;
    drop(engine);

    Some(functions)
}

/// Progress on stderr, with the time since the start: the run is long and the machine shared.
fn phase(started: Instant, what: &str) {
    eprintln!(
        "bench [{:>4.0} s]: {what} ...",
        started.elapsed().as_secs_f64()
    );
}

/// The handlers log one JSON line per request, as in a function; format them (that is part of
/// the per-request work) but write them nowhere.
fn install_log_sink() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true)
        .with_writer(std::io::sink)
        .try_init();
}

/// The artefacts: the four functions and the baseline for this machine (they are run), and
/// the functions again for arm64, the architecture the template deploys, when its target is
/// installed (they are only weighed).
struct Built {
    functions: Vec<Artefact>,
    hello: Artefact,
    deployed: Option<Vec<Artefact>>,
}

/// Every deployed function: one per route, and the scheduled sweep.
fn function_names() -> Vec<&'static str> {
    Route::ALL
        .iter()
        .map(|r| r.name())
        .chain([coldstart::SWEEP])
        .collect()
}

async fn build(root: &Path, out: &Path, skip_build: bool) -> Result<Built, String> {
    let (root, out) = (root.to_path_buf(), out.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let names = function_names();
        let functions = artefacts::build_functions(
            &root,
            artefacts::HOST,
            &names,
            &out,
            &out.join("build"),
            &[],
            skip_build,
        )?;
        let hello = artefacts::build_hello(&root, &out, skip_build)?;
        let deployed = if artefacts::installed(artefacts::ARM64) {
            let dir = out.join(artefacts::ARM64.label);
            Some(artefacts::build_functions(
                &root,
                artefacts::ARM64,
                &names,
                &dir,
                &out.join("build"),
                &[],
                skip_build,
            )?)
        } else {
            None
        };
        Ok(Built {
            functions,
            hello,
            deployed,
        })
    })
    .await
    .map_err(|e| format!("build task: {e}"))?
}

async fn serving_figures(
    summary: &mut Summary,
    binaries: &[(String, PathBuf)],
    fixture: &coldstart::Fixture,
    invocations: usize,
    log: &Path,
    errors: &mut Vec<String>,
) {
    let mut details = serde_json::Map::new();
    let mut peak: Option<(String, f64)> = None;
    let mut failure = None;
    for (name, binary) in binaries {
        match coldstart::serve(name, binary, fixture, invocations, log).await {
            Ok(s) => {
                let mb = s.peak_rss_kb as f64 / 1024.0;
                details.insert(
                    name.clone(),
                    json!({
                        "peak_rss_mb": round(mb, 2),
                        "warm_latency_ms": Spread::of(&s.warm_ms),
                        "non_200": s.non_200,
                    }),
                );
                if s.non_200 > 0 && name != coldstart::HELLO {
                    errors.push(format!("{name}: {} answers were not a success", s.non_200));
                }
                if name != coldstart::HELLO && peak.as_ref().is_none_or(|(_, p)| mb > *p) {
                    peak = Some((name.clone(), mb));
                }
            }
            Err(e) => {
                errors.push(format!("serving {name}: {e}"));
                failure = Some(e);
            }
        }
    }
    let notes = |who: &str| {
        format!(
            "VmHWM of a function process after {invocations} realistic invocations through the \
             emulator (get: one of 150 sessions; list: a full page of 100; revoke-all: 1,000 \
             connected sessions per application, then empty ones; revoke-one and disconnect: a \
             new session each; connect: a new session each; heartbeat: one of {invocations}; \
             sweep: 1,000 timed-out sessions, then none); the largest ({who}); every function \
             in serving"
        )
    };
    match (peak, failure) {
        (Some((who, mb)), None) => {
            summary.figure("peak_rss_mb_max", Some(round(mb, 2)), notes(&who))
        }
        (_, Some(e)) => summary.figure_or_error("peak_rss_mb_max", Err(e), ""),
        (None, None) => {
            summary.figure_or_error("peak_rss_mb_max", Err("no function served".into()), "")
        }
    }
    summary.extra("serving", serde_json::Value::Object(details));
}

/// The read functions' first and second requests when DynamoDB is reached over TLS, as in AWS.
async fn first_requests_over_tls(
    engine_endpoint: &str,
    out: &Path,
    fixture: &coldstart::Fixture,
    reads: &[(String, PathBuf)],
    rounds: usize,
    log: &Path,
) -> Result<serde_json::Value, String> {
    let upstream = engine_endpoint.trim_start_matches("http://");
    let front = sessions_tests::tls::TlsFront::start(upstream, out).await?;
    let over_tls = fixture.over_tls(&front.endpoint, &front.ca_file);
    let cold = coldstart::measure(reads, &over_tls, rounds, rounds, log).await?;
    let mut by_function = serde_json::Map::new();
    for (name, first) in &cold.first_ms {
        let second = cold.second_ms.get(name).map(Vec::as_slice).unwrap_or(&[]);
        by_function.insert(
            name.clone(),
            json!({
                "init_ms": Spread::of(cold.init_ms.get(name).map(Vec::as_slice).unwrap_or(&[])),
                "first_request_ms": Spread::of(first),
                "second_request_ms": Spread::of(second),
                "first_minus_second_ms": round(median(first) - median(second), 3),
            }),
        );
    }
    Ok(serde_json::Value::Object(by_function))
}

/// Revoke-all against the sequential loop when every request costs a network round trip, as
/// against DynamoDB: what the writes in flight are for.
async fn revoke_with_rtt(args: &Args) -> serde_json::Value {
    let rtt = std::time::Duration::from_millis(args.rtt_ms);
    let (n, m) = (
        (args.revoke_sessions / 5).max(1),
        (args.sequential_sessions / 10).max(1),
    );
    let r = revoke::measure(n, m, args.revoke_repeats, Some(rtt)).await;
    let (concurrent, sequential) = (median(&r.revoke_seconds), median(&r.sequential_seconds));
    let sequential_scaled = sequential * n as f64 / m as f64;
    json!({
        "round_trip_ms": args.rtt_ms,
        "revoke_all_sessions": n,
        "revoke_all_seconds": round(concurrent, 3),
        "sequential_sessions": m,
        "sequential_seconds": round(sequential, 3),
        "sequential_scaled_seconds": round(sequential_scaled, 3),
        "speedup": round(sequential_scaled / concurrent, 2),
        "disconnected": r.disconnected,
        "notes": "every answer of the local engine held back by the round trip (a loopback \
                  proxy); the sequential loop's time scaled linearly to the revoke-all's count; \
                  revoke-all is then bounded by the engine's own throughput on this machine",
    })
}

/// Builds get-session with other opt-levels and compares size, init and warm latency with the
/// workspace profile, in interleaved rounds.
async fn profiles(
    root: &Path,
    out: &Path,
    get: &Artefact,
    levels: &[String],
    fixture: &coldstart::Fixture,
    args: &Args,
    log: &Path,
) -> serde_json::Value {
    let mut variants: Vec<(String, Artefact)> = vec![("workspace".into(), get.clone())];
    for spec in levels {
        let (label, env_key, value) = match profile_override(spec) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("bench: profile {spec}: {e}");
                continue;
            }
        };
        let dir = out.join(format!("profile-{}", label.replace('=', "-")));
        let (root, skip) = (root.to_path_buf(), args.skip_build);
        let built = tokio::task::spawn_blocking(move || {
            artefacts::build_functions(
                &root,
                artefacts::HOST,
                &["get-session"],
                &dir,
                &dir.join("target"),
                &[(env_key, value)],
                skip,
            )
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match built {
            Ok(mut a) if !a.is_empty() => variants.push((label, a.remove(0))),
            Ok(_) => {}
            Err(e) => eprintln!("bench: profile {label}: {e}"),
        }
    }
    let binaries: Vec<(String, PathBuf)> = variants
        .iter()
        .map(|(label, a)| (format!("get-session@{label}"), a.binary.clone()))
        .collect();
    let cold = coldstart::measure(&binaries, fixture, args.rounds, 0, log).await;
    let mut rows = Vec::new();
    for (label, a) in &variants {
        let key = format!("get-session@{label}");
        let init = cold
            .as_ref()
            .ok()
            .and_then(|c| c.init_ms.get(&key))
            .map(|xs| round(median(xs), 3));
        let warm = coldstart::serve(&key, &a.binary, fixture, args.invocations, log)
            .await
            .ok()
            .map(|s| {
                (
                    round(median(&s.warm_ms), 3),
                    round(s.peak_rss_kb as f64 / 1024.0, 2),
                )
            });
        rows.push(json!({
            "profile": label,
            "zip_bytes": a.zip_bytes,
            "binary_bytes": a.binary_bytes,
            "init_ms_median": init,
            "warm_get_ms_median": warm.map(|w| w.0),
            "peak_rss_mb": warm.map(|w| w.1),
        }));
    }
    json!(rows)
}

/// A `--profiles` entry as (label, the `CARGO_PROFILE_RELEASE_*` variable, its value).
fn profile_override(spec: &str) -> Result<(String, String, String), String> {
    const KEYS: [&str; 5] = ["opt-level", "lto", "codegen-units", "panic", "strip"];
    let (key, value) = spec.split_once('=').unwrap_or(("opt-level", spec));
    let (key, value) = (key.trim(), value.trim());
    if !KEYS.contains(&key) {
        return Err(format!("{key} is not one of {}", KEYS.join(", ")));
    }
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("{value:?} is not a profile value"));
    }
    let variable = format!(
        "CARGO_PROFILE_RELEASE_{}",
        key.to_ascii_uppercase().replace('-', "_")
    );
    Ok((format!("{key}={value}"), variable, value.to_string()))
}

fn finish(summary: &mut Summary, out: &Path, errors: &[String], started: Instant) {
    summary.ensure_every_key();
    summary.extra("errors", json!(errors));
    summary.extra(
        "machine",
        json!({
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        }),
    );
    summary.extra(
        "wall_seconds",
        json!(round(started.elapsed().as_secs_f64(), 1)),
    );
    summary.extra("generated_at", json!(chrono::Utc::now().to_rfc3339()));
    let path = out.join("summary.json");
    match serde_json::to_string_pretty(&summary.to_json()) {
        Ok(text) => {
            if let Err(e) = std::fs::write(&path, text + "\n") {
                eprintln!("bench: {}: {e}", path.display());
            }
        }
        Err(e) => eprintln!("bench: summary: {e}"),
    }
    println!("{}", summary.table());
    println!(
        "\nsummary: {} (wall time {:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::profile_override;

    #[test]
    fn profile_overrides_name_one_release_setting() {
        assert_eq!(
            profile_override("z"),
            Ok((
                "opt-level=z".into(),
                "CARGO_PROFILE_RELEASE_OPT_LEVEL".into(),
                "z".into()
            ))
        );
        assert_eq!(
            profile_override("codegen-units=16").map(|o| o.1),
            Ok("CARGO_PROFILE_RELEASE_CODEGEN_UNITS".into())
        );
        assert_eq!(
            profile_override("lto=thin").map(|o| o.0),
            Ok("lto=thin".into())
        );
        for bad in ["debug=2", "lto=", "opt-level=3;rm", "incremental=true"] {
            assert!(profile_override(bad).is_err(), "{bad}");
        }
    }
}
