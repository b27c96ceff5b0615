//! Measurements turned into the summary's figures: each key's value and the notes that say
//! how it was measured, plus the details behind it. No measuring happens here.

use serde_json::json;

use crate::artefacts::{self, Artefact};
use crate::coldstart;
use crate::entropy;
use crate::initprobe;
use crate::overhead;
use crate::report::Summary;
use crate::revoke;
use crate::stats::{median, round, Spread};

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

/// `get_overhead_ratio`, `list_overhead_ratio`, `ddb_calls_get`, `ddb_calls_list_page`.
pub fn overhead_figures(summary: &mut Summary, o: &overhead::Overhead) {
    let (h, g, b) = (
        median(&o.get_handler),
        median(&o.get_raw_get_item),
        median(&o.get_raw_batch_get),
    );
    let (lh, lq) = (median(&o.list_handler), median(&o.list_raw_query));
    let n = o.get_handler.len();
    summary.figure(
        "get_overhead_ratio",
        Some(round(h / g, 3)),
        format!(
            "warm get-session through Api::get_session (the real event parsed from JSON each time) \
             / a raw SDK GetItem of the same session item, same engine and client, interleaved; \
             medians of {n}: {} ms / {} ms. Against the BatchGetItem the handler actually sends \
             (application + session in one round trip): {}",
            round(h, 3),
            round(g, 3),
            round(h / b, 3)
        ),
    );
    summary.figure(
        "list_overhead_ratio",
        Some(round(lh / lq, 3)),
        format!(
            "warm first page of {} sessions through Api::list_sessions / the raw SDK Query it \
             needs (connected index, newest first, consistent, Limit 102); medians of {n}: {} ms \
             / {} ms",
            o.list_items,
            round(lh, 3),
            round(lq, 3)
        ),
    );
    summary.figure(
        "ddb_calls_get",
        Some(o.calls_get as f64),
        format!(
            "DynamoDB requests for one get-session, counted by an SDK interceptor: {:?}",
            o.calls_get_by_operation
        ),
    );
    summary.figure(
        "ddb_calls_list_page",
        Some(o.calls_list_page as f64),
        format!(
            "DynamoDB requests for a first list page (default status and limit), counted by an \
             SDK interceptor: {:?}",
            o.calls_list_page_by_operation
        ),
    );
    summary.extra(
        "handler_overhead_ms",
        json!({
            "get_handler": Spread::of(&o.get_handler),
            "get_raw_get_item": Spread::of(&o.get_raw_get_item),
            "get_raw_batch_get_item": Spread::of(&o.get_raw_batch_get),
            "get_ratio_vs_batch_get_item": round(h / b, 3),
            "get_store_only": Spread::of(&o.get_store),
            "get_event_parse_only": Spread::of(&o.get_parse),
            "list_handler": Spread::of(&o.list_handler),
            "list_raw_query": Spread::of(&o.list_raw_query),
            "list_store_only": Spread::of(&o.list_store),
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
            "DELETE /sessions through Api::revoke_sessions over {} connected sessions on the \
             local engine (watermark, sparse-index query pages, 32 conditional updates in \
             flight; the table's stream off, see world::create_table); median of {} repeats \
             {:?}; {} DynamoDB requests; disconnectedCount {:?}{}",
            r.sessions,
            r.revoke_seconds.len(),
            r.revoke_seconds
                .iter()
                .map(|s| round(*s, 3))
                .collect::<Vec<_>>(),
            r.calls,
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
            "a plain loop of one conditional UpdateItem after another over {} sessions whose keys \
             are known (median {} s of {} repeats), scaled linearly to {} sessions ({} s), / \
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
