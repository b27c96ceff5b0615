//! Measurements turned into the summary's figures: each key's value and the notes that say
//! how it was measured, plus the details behind it. No measuring happens here.

use serde_json::json;

use crate::artefacts::{self, Artefact};
use crate::capacity;
use crate::coldstart;
use crate::entropy;
use crate::gateway;
use crate::initprobe;
use crate::load;
use crate::overhead;
use crate::report::{self, Summary};
use crate::revoke;
use crate::stats::{median, quantile, round, Spread};

/// `zip_bytes_max` and every artefact's sizes.
pub fn package_figures(
    summary: &mut Summary,
    functions: &[Artefact],
    deployed: Option<&[Artefact]>,
    hello: &Artefact,
) {
    let (weighed, target, why) = match deployed {
        Some(arm64) => (
            arm64,
            artefacts::ARM64,
            "the architecture the template deploys",
        ),
        None => (
            functions,
            artefacts::HOST,
            "because the arm64 Rust target is not installed here \
             (rustup target add aarch64-unknown-linux-gnu)",
        ),
    };
    let largest = weighed.iter().max_by_key(|a| a.zip_bytes);
    summary.figure(
        "zip_bytes_max",
        largest.map(|a| a.zip_bytes as f64),
        format!(
            "largest `cargo lambda build --release --output-format zip` artefact ({}), built for \
             {}, {why}",
            largest.map(|a| a.name.as_str()).unwrap_or("none"),
            target.label
        ),
    );
    summary.extra("zip_target", json!(target.label));
    let mut sizes = serde_json::Map::new();
    let labelled = functions
        .iter()
        .chain([hello])
        .map(|a| (artefacts::HOST, a))
        .chain(
            deployed
                .unwrap_or(&[])
                .iter()
                .map(|a| (artefacts::ARM64, a)),
        );
    for (target, a) in labelled {
        sizes.insert(
            format!("{}@{}", a.name, target.label),
            json!({
                "zip_bytes": a.zip_bytes,
                "binary_bytes": a.binary_bytes,
                "zip": a.zip.display().to_string(),
            }),
        );
    }
    summary.extra("packages", serde_json::Value::Object(sizes));
}

/// `init_ms_median`, `init_ratio_vs_hello`, and first-vs-second request latencies.
pub fn cold_figures(summary: &mut Summary, cold: &coldstart::ColdStarts) {
    let hello = median(
        cold.init_ms
            .get(coldstart::HELLO)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
    );
    let slowest = cold
        .init_ms
        .iter()
        .filter(|(name, _)| name.as_str() != coldstart::HELLO)
        .map(|(name, xs)| (name.clone(), median(xs)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let (slowest_name, slowest_ms) = slowest.unwrap_or_else(|| ("none".into(), f64::NAN));
    let runs = cold.init_ms.get(coldstart::HELLO).map_or(0, Vec::len);
    summary.figure(
        "init_ms_median",
        Some(round(slowest_ms, 3)),
        format!(
            "exec of the release binary to its first GET /invocation/next on a local Runtime API \
             emulator; median of {runs} cold starts; the slowest function ({slowest_name}); every \
             function in init_ms"
        ),
    );
    summary.figure(
        "init_ratio_vs_hello",
        Some(round(slowest_ms / hello, 3)),
        format!(
            "init_ms_median / the same median for an empty lambda_http hello-world built with \
             the same profile, lockfile and cargo lambda, started in the same rounds ({} ms)",
            round(hello, 3)
        ),
    );
    let per_binary = |m: &std::collections::BTreeMap<String, Vec<f64>>| {
        serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json!(Spread::of(v))))
                .collect(),
        )
    };
    summary.extra("init_ms", per_binary(&cold.init_ms));
    let mut warming = serde_json::Map::new();
    for (name, first) in &cold.first_ms {
        let second = cold.second_ms.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let (f, s) = (median(first), median(second));
        warming.insert(
            name.clone(),
            json!({
                "first_request_ms": Spread::of(first),
                "second_request_ms": Spread::of(second),
                "first_minus_second_ms": round(f - s, 3),
            }),
        );
    }
    summary.extra(
        "first_request_vs_second",
        serde_json::Value::Object(warming),
    );
}

/// The handler-overhead ratios, the request counts and round trips of get, list, heartbeat
/// and connect.
pub fn overhead_figures(summary: &mut Summary, o: &overhead::Overhead) {
    let (h, g, b) = (
        median(&o.get_handler),
        median(&o.get_raw_get_item),
        median(&o.get_raw_replay),
    );
    let (lh, lr) = (median(&o.list_handler), median(&o.list_raw));
    let (hh, hr) = (median(&o.heartbeat_handler), median(&o.heartbeat_raw));
    let (ch, cr) = (median(&o.connect_handler), median(&o.connect_raw));
    let n = o.get_handler.len();
    let failed = |what: &str| {
        o.replay_errors
            .iter()
            .find(|e| e.starts_with(what))
            .map(|e| format!("replaying the store's requests failed: {e}"))
    };
    let ratio = |num: f64, den: f64, what: &str| match failed(what) {
        Some(e) => Err(e),
        None => Ok(round(num / den, 3)),
    };
    summary.figure(
        "get_overhead_ratio",
        Some(round(h / g, 3)),
        format!(
            "warm get-session through Api::handle (the real event parsed from JSON each time) \
             / a raw SDK GetItem of the same session item, same engine and client, interleaved; \
             medians of {n}: {} ms / {} ms. Against the requests the store actually sends, \
             replayed ({:?}): {}",
            round(h, 3),
            round(g, 3),
            o.get.shape,
            round(h / b, 3)
        ),
    );
    summary.figure_or_error(
        "list_overhead_ratio",
        ratio(lh, lr, "list"),
        format!(
            "warm first page of {} sessions through Api::handle / the store's requests for it \
             replayed raw, in the same waves ({:?}); medians of {n}: {} ms / {} ms",
            o.list_items,
            o.list_page.shape,
            round(lh, 3),
            round(lr, 3)
        ),
    );
    summary.figure_or_error(
        "heartbeat_overhead_ratio",
        ratio(hh, hr, "heartbeat"),
        format!(
            "warm heartbeat (body with lastActiveAt) through Api::handle / the store's requests \
             for it replayed raw ({:?}); a warm instance: the application comes from the store's \
             one-second cache, and the handler's iterations include the GetItem of each cache \
             miss; medians of {n}: {} ms / {} ms",
            o.heartbeat.shape,
            round(hh, 3),
            round(hr, 3)
        ),
    );
    summary.figure_or_error(
        "connect_overhead_ratio",
        ratio(ch, cr, "connect"),
        format!(
            "connect (a realistic body: name, hostname, userAgent, clientInfo, tokenExpiresAt; no \
             Idempotency-Key) through Api::handle, a new session each time / the store's \
             requests for one connect replayed raw with a new session id each time ({:?}); \
             medians of {n}: {} ms / {} ms",
            o.connect.shape,
            round(ch, 3),
            round(cr, 3)
        ),
    );
    let counted = |calls: &overhead::Calls, what: &str| {
        format!(
            "DynamoDB requests for {what}, counted by an SDK interceptor: {:?}",
            calls.by_operation
        )
    };
    summary.figure(
        "ddb_calls_get",
        Some(o.get.total as f64),
        counted(&o.get, "one get-session"),
    );
    summary.figure(
        "ddb_calls_list_page",
        Some(o.list_page.total as f64),
        format!(
            "{} (reported: the goal is on round trips, ddb_round_trips_list_page)",
            counted(&o.list_page, "a first list page (default status and limit)")
        ),
    );
    summary.figure(
        "ddb_calls_heartbeat",
        Some(o.heartbeat.total as f64),
        counted(
            &o.heartbeat,
            "one heartbeat on a warm instance (a cold one adds a GetItem of the application, \
             cached for a second)",
        ),
    );
    summary.figure(
        "ddb_calls_connect",
        Some(o.connect.total as f64),
        counted(&o.connect, "one connect (no Idempotency-Key)"),
    );
    let trips = |calls: &overhead::Calls, what: &str| {
        format!(
            "sequential steps among the DynamoDB requests of {what} (requests in flight together \
             count once; from the interceptor's send and answer times): {:?}",
            calls.shape
        )
    };
    summary.figure(
        "ddb_round_trips_get",
        Some(o.get.round_trips as f64),
        trips(&o.get, "one get-session"),
    );
    summary.figure(
        "ddb_round_trips_list_page",
        Some(o.list_page.round_trips as f64),
        trips(&o.list_page, "a first list page"),
    );
    summary.extra(
        "handler_overhead_ms",
        json!({
            "get_handler": Spread::of(&o.get_handler),
            "get_raw_get_item": Spread::of(&o.get_raw_get_item),
            "get_raw_store_requests": Spread::of(&o.get_raw_replay),
            "get_ratio_vs_store_requests": round(h / b, 3),
            "get_store_only": Spread::of(&o.get_store),
            "get_event_parse_only": Spread::of(&o.get_parse),
            "list_handler": Spread::of(&o.list_handler),
            "list_raw_store_requests": Spread::of(&o.list_raw),
            "list_store_only": Spread::of(&o.list_store),
            "heartbeat_handler": Spread::of(&o.heartbeat_handler),
            "heartbeat_raw_store_requests": Spread::of(&o.heartbeat_raw),
            "connect_handler": Spread::of(&o.connect_handler),
            "connect_raw_store_requests": Spread::of(&o.connect_raw),
            "replay_errors": o.replay_errors,
            "round_trips": {
                "get": o.get.round_trips,
                "list_page": o.list_page.round_trips,
                "heartbeat": o.heartbeat.round_trips,
                "connect": o.connect.round_trips,
            },
        }),
    );
}

/// The capacity model's peaks for the two workloads of the connection side.
pub fn capacity_figures(
    summary: &mut Summary,
    heartbeats: &Result<load::Workload, String>,
    reconnects: &Result<load::Workload, String>,
) {
    let value = |w: &load::Workload, peak: &Option<capacity::Peak>| -> Result<f64, String> {
        if w.error_count > 0 {
            return Err(format!(
                "{} of {} requests failed: {:?}",
                w.error_count, w.requests, w.errors
            ));
        }
        Ok(peak.as_ref().map_or(0.0, |p| round(p.units, 2)))
    };
    let hottest = |peak: &Option<capacity::Peak>| match peak {
        Some(p) => format!(
            "{} ({} in second {})",
            p.pattern,
            round(p.units, 2),
            p.second
        ),
        None => "none".into(),
    };
    let check = |w: &load::Workload| {
        let e = &w.peaks.engine;
        format!(
            "the engine's ConsumedCapacity agrees with the model on {} of {} requests",
            e.agreed, e.compared
        )
    };
    let described = |w: &load::Workload, what: &str| {
        format!(
            "{what}: {} requests at {} per simulated second ({} s), charged by the capacity \
             model (docs/benchmarks.md) to every partition key value and index key they touch",
            w.requests,
            round(w.rate, 2),
            round(w.simulated_seconds, 2)
        )
    };
    match heartbeats {
        Ok(w) => {
            summary.figure_or_error(
                "peak_wcu_per_key_heartbeats",
                value(w, &w.peaks.wcu),
                format!(
                    "{}; {} sessions connected first; the hottest key: {}; {}",
                    described(w, "heartbeats of 100,000 sessions every 30 s"),
                    w.sessions,
                    hottest(&w.peaks.wcu),
                    check(w)
                ),
            );
            summary.figure_or_error(
                "peak_rcu_per_key_heartbeats",
                value(w, &w.peaks.rcu),
                format!(
                    "the same heartbeats' reads; the hottest key: {}",
                    hottest(&w.peaks.rcu)
                ),
            );
        }
        Err(e) => {
            summary.figure_or_error("peak_wcu_per_key_heartbeats", Err(e.clone()), "");
            summary.figure_or_error("peak_rcu_per_key_heartbeats", Err(e.clone()), "");
        }
    }
    match reconnects {
        Ok(w) => summary.figure_or_error(
            "peak_wcu_per_key_reconnect",
            value(w, &w.peaks.wcu),
            format!(
                "{} (each with an Idempotency-Key), after a revoke-all of {} sessions; the \
                 hottest key: {}; with ConditionCheck charged as a write, as the engine charges \
                 it: {}; reads (ConditionCheck as a read): {}; {}",
                described(w, "100,000 reconnects within 60 s"),
                w.sessions,
                hottest(&w.peaks.wcu),
                hottest(&w.peaks.wcu_cc_as_write),
                hottest(&w.peaks.rcu),
                check(w)
            ),
        ),
        Err(e) => summary.figure_or_error("peak_wcu_per_key_reconnect", Err(e.clone()), ""),
    }
    let detail = |w: &Result<load::Workload, String>| match w {
        Ok(w) => json!({
            "rate_per_second": round(w.rate, 2),
            "requests": w.requests,
            "simulated_seconds": round(w.simulated_seconds, 3),
            "sessions_connected_first": w.sessions,
            "setup_wall_seconds": round(w.setup_seconds, 2),
            "run_wall_seconds": round(w.run_seconds, 2),
            "failed_requests": w.error_count,
            "failures": w.errors,
            "peak_wcu": w.peaks.wcu,
            "peak_rcu": w.peaks.rcu,
            "peak_wcu_condition_check_as_write": w.peaks.wcu_cc_as_write,
            "peak_rcu_condition_check_as_write": w.peaks.rcu_cc_as_write,
            "by_kind_of_key": w.peaks.by_kind,
            "per_second_totals": w.peaks.per_second,
            "engine_check": w.peaks.engine,
            "dynamodb_failures": w.peaks.failures,
            "dynamodb_requests": w.peaks.requests,
        }),
        Err(e) => json!({ "error": e }),
    };
    summary.extra(
        "capacity",
        json!({
            "heartbeats": detail(heartbeats),
            "reconnect_after_revoke_all": detail(reconnects),
            "notes": "per simulated second and per key: table keys by partition key value \
                      (local indexes share it), global index keys by the index's partition key \
                      value; the kind of a key hides ids and numbers",
        }),
    );
}

/// `revoke_10k_seconds` and `revoke_speedup_vs_sequential`.
pub fn revoke_figures(summary: &mut Summary, r: &revoke::Revoke) {
    let revoke_s = median(&r.revoke_seconds);
    let sequential_s = median(&r.sequential_seconds);
    let scaled = sequential_s * r.sessions as f64 / r.sequential_sessions.max(1) as f64;
    let all_counted = r.disconnected.iter().all(|d| *d == r.sessions as u64);
    summary.figure(
        "revoke_10k_seconds",
        Some(round(revoke_s, 3)).filter(|_| all_counted),
        format!(
            "DELETE /sessions through Api::handle over {} connected sessions on the local \
             engine (watermark, shard heads, connected-marker query pages, {} sessions in \
             flight, each a conditional update then its marker's delete; the table's stream \
             off, see world::create_table); median of {} repeats {:?}; {} DynamoDB requests \
             {:?}; disconnectedCount {:?}{}",
            r.sessions,
            sessions::store::REVOKE_CONCURRENCY,
            r.revoke_seconds.len(),
            r.revoke_seconds
                .iter()
                .map(|s| round(*s, 3))
                .collect::<Vec<_>>(),
            r.calls,
            r.calls_by_operation,
            r.disconnected,
            if all_counted {
                ""
            } else {
                " (WRONG: not every session was counted)"
            }
        ),
    );
    summary.figure(
        "revoke_speedup_vs_sequential",
        Some(round(scaled / revoke_s, 2)),
        format!(
            "a plain loop over {} sessions whose keys are known, awaiting each request: the \
             conditional UpdateItem of the session, then the DeleteItem of its connected marker \
             (median {} s of {} repeats), scaled linearly to {} sessions ({} s), / \
             revoke_10k_seconds. The local engine serialises writes and shares 2 cores with the \
             client, so little is gained here; with a network round trip per request, see \
             revoke_with_round_trip",
            r.sequential_sessions,
            round(sequential_s, 3),
            r.sequential_seconds.len(),
            r.sessions,
            round(scaled, 2)
        ),
    );
}

/// The TLS stack's one-time start-up costs (details only).
pub fn tls_figures(summary: &mut Summary, probes: &[entropy::Probe]) {
    let pick = |f: fn(&entropy::Probe) -> f64| -> Vec<f64> { probes.iter().map(f).collect() };
    summary.extra(
        "tls_startup_ms",
        json!({
            "ring_first_random_bytes": Spread::of(&pick(|p| p.ring_first_random_ms)),
            "ring_second_random_bytes": Spread::of(&pick(|p| p.ring_second_random_ms)),
            "aws_lc_first_random_bytes": Spread::of(&pick(|p| p.first_random_ms)),
            "aws_lc_second_random_bytes": Spread::of(&pick(|p| p.second_random_ms)),
            "parse_amazon_roots": Spread::of(&pick(|p| p.amazon_roots_ms)),
            "amazon_roots": probes.first().map(|p| p.amazon_roots),
            "load_native_roots": Spread::of(&pick(|p| p.native_roots_ms)),
            "native_roots": probes.first().map(|p| p.native_roots),
            "notes": "fresh processes of this binary; ring and the Amazon Trust Services roots are \
                      what the functions use, AWS-LC and the platform's store what the SDK's default \
                      client would (AWS-LC's first random bytes seed its DRBG, with CPU jitter \
                      entropy unless built with AWS_LC_SYS_NO_JITTER_ENTROPY=1). The random bytes \
                      are paid on a function's first TLS handshake, the trust store at init"
        }),
    );
}

/// Where init time goes, step by step (details only).
pub fn init_steps_figures(summary: &mut Summary, steps: &[initprobe::InitSteps]) {
    let pick = |f: fn(&initprobe::InitSteps) -> f64| -> serde_json::Value {
        json!(Spread::of(&steps.iter().map(f).collect::<Vec<_>>()))
    };
    summary.extra(
        "init_steps_ms",
        json!({
            "tokio_runtime": pick(|s| s.runtime),
            "telemetry_init": pick(|s| s.telemetry),
            "config_from_env": pick(|s| s.config),
            "aws_config_load": pick(|s| s.sdk_config),
            "dynamodb_client_new": pick(|s| s.sdk_client),
            "api_new": pick(|s| s.api),
            "notes": "a function's init steps timed one by one in fresh processes with its \
                      environment (Api::from_env split as DynamoStore::from_env does it); the \
                      rest of init_ms is exec, loading the binary and the first poll",
        }),
    );
}

/// `gateway_overhead_ratio`: a tool call through the gateway against the same call straight to
/// the upstream.
pub fn gateway_overhead_figures(summary: &mut Summary, o: &Result<gateway::Overhead, String>) {
    let o = match o {
        Ok(o) => o,
        Err(e) => {
            summary.figure_or_error("gateway_overhead_ratio", Err(e.clone()), "");
            return;
        }
    };
    let (through, direct) = (median(&o.gateway_ms), median(&o.direct_ms));
    summary.figure(
        "gateway_overhead_ratio",
        Some(round(through / direct, 3)),
        format!(
            "tools/call of the example MCP server's add (official Python SDK, Streamable HTTP, SSE \
             answers) through the gateway as its binary serves it (sessions_gateway::serve: \
             TCP_NODELAY on its connections, token verified, session touched, answer streamed \
             back) / the same call straight to the server; one MCP session per path opened \
             alike, {} calls each, interleaved, the order rotating; medians: {} ms / {} ms",
            o.gateway_ms.len(),
            round(through, 3),
            round(direct, 3),
        ),
    );
    summary.extra(
        "gateway_overhead_ms",
        json!({
            "through_gateway": Spread::of(&o.gateway_ms),
            "direct": Spread::of(&o.direct_ms),
            "added_median_ms": round(through - direct, 3),
            "notes": "the gateway's answers are streamed (head, then body chunks) over \
                      connections with TCP_NODELAY; the added time is one more loopback HTTP \
                      hop each way, the token's verification and the session's touch",
        }),
    );
}

/// `cutoff_seconds_p50` and `cutoff_seconds_p99` (heartbeats), or `cutoff_event_seconds_p50`
/// and `cutoff_event_seconds_p99` (a pushed Shared Signals event): from a revoke-all's answer
/// to each connected client's first refused request.
pub fn cutoff_figures(summary: &mut Summary, c: &Result<gateway::Cutoffs, String>, pushed: bool) {
    let (key, extra) = if pushed {
        ("cutoff_event_seconds", "cutoff_event")
    } else {
        ("cutoff_seconds", "cutoff")
    };
    let (key_p50, key_p99) = (format!("{key}_p50"), format!("{key}_p99"));
    let c = match c {
        Ok(c) => c,
        Err(e) => {
            summary.figure_or_error(&key_p50, Err(e.clone()), "");
            summary.figure_or_error(&key_p99, Err(e.clone()), "");
            return;
        }
    };
    let (p50, p99) = (quantile(&c.seconds, 0.5), quantile(&c.seconds, 0.99));
    let max = quantile(&c.seconds, 1.0);
    // Heartbeats: within one interval plus a margin. A pushed event: the goal of its key.
    let goal = if c.pushed_event {
        match report::spec(&key_p99).1 {
            report::Goal::AtMost(x) => x,
            _ => f64::INFINITY,
        }
    } else {
        c.heartbeat_seconds + gateway::CUTOFF_MARGIN_SECONDS
    };
    let how = if c.pushed_event {
        format!(
            "the gateway a Shared Signals receiver (heartbeat every {} s, so only the pushed \
             event cuts a session off within the measurement; the slowest was cut off after {} \
             s): the revoke-all's change of the table, the stream consumer, the push worker, \
             the signed CAEP session-revoked SET pushed to the gateway's stream",
            c.heartbeat_seconds,
            round(max, 3)
        )
    } else {
        format!("heartbeat every {} s, jittered", c.heartbeat_seconds)
    };
    let method = format!(
        "{} MCP sessions open through the gateway ({how}), each holding its GET stream and \
         pinging every {} ms, or at once when the stream ends; a revoke-all through the API; \
         per session, from its answer to the session's first refused request (401 or 404, or \
         a request whose answer's stream ended first)",
        c.sessions,
        gateway::POLL_PAUSE.as_millis()
    );
    summary.figure(&key_p50, Some(round(p50, 3)), method);
    let judged = if c.pushed_event {
        format!("goal: within {goal} s")
    } else {
        format!(
            "goal: within one heartbeat interval plus {} s ({goal} s)",
            gateway::CUTOFF_MARGIN_SECONDS
        )
    };
    summary.figure(
        &key_p99,
        Some(round(p99, 3)),
        format!(
            "the same sessions' 99th percentile; {judged}: {}",
            if p99 <= goal { "holds" } else { "MISSED" }
        ),
    );
    summary.extra(
        extra,
        json!({
            "sessions": c.sessions,
            "heartbeat_seconds": c.heartbeat_seconds,
            "pushed_event": c.pushed_event,
            "cut_off_on_the_pushed_event": c.event_cutoffs,
            "poll_pause_ms": gateway::POLL_PAUSE.as_millis() as u64,
            "goal_p99_seconds": goal,
            "p99_within_goal": p99 <= goal,
            "seconds": {
                "p50": round(p50, 3),
                "p90": round(quantile(&c.seconds, 0.9), 3),
                "p99": round(p99, 3),
                "max": round(quantile(&c.seconds, 1.0), 3),
                "min": round(quantile(&c.seconds, 0.0), 3),
            },
            "seconds_from_the_request": {
                "p50": round(quantile(&c.seconds_from_request, 0.5), 3),
                "p99": round(quantile(&c.seconds_from_request, 0.99), 3),
            },
            "revoke_all_seconds": round(c.revoke_all_seconds, 3),
            "refused_before_the_answer": c.before_answer,
            "streams_ended_first": c.streams_ended_first,
            "refusals": c.refusals,
            "bracket_ms": Spread::of(&c.bracket_ms),
            "pings_served_before": c.served_before,
            "revoke_all_disconnected_count": c.disconnected_count,
            "open_seconds": round(c.open_seconds, 3),
            "notes": "bracket: per session, from sending its last served ping to its first \
                      refused answer, the window pings alone would place the cut-off in (the \
                      stream's end places it closer); a session refused before the revoke-all's \
                      answer arrived counts 0",
        }),
    );
}
