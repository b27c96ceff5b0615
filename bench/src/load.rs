//! The connection side at the contract's scale, on the capacity model ([`crate::capacity`]):
//! one application with 100,000 connected sessions heartbeating every 30 s, and 100,000
//! reconnects within a minute of a revoke-all. Nothing here is timed; every request goes
//! through the store's own calls (`connect`, `heartbeat`, `revoke_all`) on a client whose
//! interceptor records it, and request `i` of a workload at `R` requests per second belongs to
//! simulated second `floor(i / R)`: the workload's clock (the `now` the store is given) runs
//! at that rate, however fast the local engine answers.
//!
//! A heartbeat touches only its own session's items and index entries, so a sample of
//! `rate × seconds` heartbeats from distinct sessions charges every key exactly as the same
//! seconds of the full population would, provided the sample reaches every shard the layout
//! spreads keys over (the summary counts the keys of each kind it saw).

use std::time::Instant;

use aws_sdk_dynamodb::Client;
use chrono::Duration;
use sessions::model::Application;
use sessions::store::{DynamoStore, Heartbeat, Idempotency};
use sessions::time::{self, Timestamp};
use uuid::Uuid;

use crate::capacity::{Model, Peaks, Recorder, Schema};
use crate::world;

/// The contract's load: sessions of one application, and how often each heartbeats.
pub const POPULATION: usize = 100_000;
pub const HEARTBEAT_PERIOD_S: f64 = 30.0;
/// All of them reconnect within this after a revoke-all.
pub const RECONNECT_WINDOW_S: f64 = 60.0;
/// Sessions the reconnect workload's revoke-all disconnects first.
const REVOKED: usize = 1_000;
/// Connects in flight while creating the heartbeat workload's sessions.
const SETUP_CONCURRENCY: usize = 8;
/// Requests between two settlements of the model during set-up.
const SETTLE_EVERY: usize = 500;

/// One workload on the model.
#[derive(Debug)]
pub struct Workload {
    /// Requests per simulated second.
    pub rate: f64,
    pub requests: usize,
    pub simulated_seconds: f64,
    /// Sessions connected before the workload.
    pub sessions: usize,
    /// Wall time to connect them (through the store, with the model recording).
    pub setup_seconds: f64,
    /// Wall time of the workload itself (with the model's read-backs).
    pub run_seconds: f64,
    /// API-level failures (the store's errors), the first few.
    pub errors: Vec<String>,
    pub error_count: usize,
    pub peaks: Peaks,
}

/// A fresh engine, table and application, a client that records, and the model.
struct Bench {
    _engine: sessions_tests::Engine,
    recorder: Recorder,
    plain: Client,
    store: DynamoStore,
    model: Model,
    app: Application,
}

impl Bench {
    async fn start() -> Result<Bench, String> {
        let engine = sessions_tests::Engine::start().await;
        let recorder = Recorder::asking_capacity();
        let client = Client::from_conf(
            sessions_tests::local_config(&engine.endpoint)
                .interceptor(recorder.clone())
                .build(),
        );
        let plain = sessions_tests::client_for(&engine.endpoint);
        let table = format!("bench-capacity-{}", Uuid::new_v4().simple());
        let store = world::create_table(&client, &table).await;
        let schema = Schema::describe(&plain, &table).await?;
        let app = world::create_app(&store, Uuid::new_v4(), "at scale").await;
        let mut bench = Bench {
            _engine: engine,
            recorder,
            plain,
            store,
            model: Model::new(schema),
            app,
        };
        bench.settle().await;
        Ok(bench)
    }

    async fn settle(&mut self) {
        let records = self.recorder.take();
        self.model.settle(&self.plain, records).await;
    }

    /// `count` sessions connected at `at` and a millisecond apart after, `concurrency` at a
    /// time. Returns their ids and the wall time taken.
    async fn connect_many(
        &mut self,
        count: usize,
        at: Timestamp,
    ) -> Result<(Vec<Uuid>, f64), String> {
        use futures::stream::{self, StreamExt};
        let started = Instant::now();
        let mut ids = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(SETTLE_EVERY) {
            let (store, app) = (&self.store, &self.app);
            let created: Vec<Result<Uuid, String>> = stream::iter(chunk.iter().copied())
                .map(|i| async move {
                    let now = at + Duration::milliseconds(i as i64);
                    store
                        .connect(&world::realistic_connect(app, i, now), now, None)
                        .await
                        .map(|c| connected_id(&c))
                        .map_err(|e| format!("connect: {e}"))
                })
                .buffer_unordered(SETUP_CONCURRENCY)
                .collect()
                .await;
            for c in created {
                ids.push(c?);
            }
            self.settle().await;
        }
        Ok((ids, started.elapsed().as_secs_f64()))
    }
}

fn connected_id(c: &sessions::store::Connected) -> Uuid {
    match c {
        sessions::store::Connected::Created(s) | sessions::store::Connected::Replayed(s) => s.id,
    }
}

/// `seconds` of heartbeats of a population heartbeating every 30 s, from `sessions`
/// connected sessions (at least `rate × seconds` of them, each heartbeating once).
pub async fn heartbeats(sessions: usize, seconds: f64) -> Result<Workload, String> {
    let rate = POPULATION as f64 / HEARTBEAT_PERIOD_S;
    let requests = ((rate * seconds).round() as usize).min(sessions);
    let mut bench = Bench::start().await?;
    let base = time::now();
    let (mut ids, setup_seconds) = bench.connect_many(sessions, base).await?;
    shuffle(&mut ids);
    bench.model.reset_charges();

    // Thirty seconds after they connected, each heartbeats once, in random order.
    let first_beat = base + Duration::seconds(HEARTBEAT_PERIOD_S as i64);
    let (org, app) = (bench.app.organization_id, bench.app.id);
    let started = Instant::now();
    let (mut errors, mut error_count) = (Vec::new(), 0);
    for (i, id) in ids.iter().take(requests).enumerate() {
        let offset = i as f64 / rate;
        bench.recorder.set_second(offset.floor() as u64);
        let now = first_beat + Duration::microseconds((offset * 1e6) as i64);
        let beat = Heartbeat {
            last_active_at: Some(now - Duration::seconds(2)),
            token_expires_at: None,
        };
        let timeout = Some(Duration::seconds(90));
        if let Err(e) = bench
            .store
            .heartbeat(org, app, *id, &beat, now, timeout)
            .await
        {
            error_count += 1;
            if errors.len() < 5 {
                errors.push(format!("heartbeat: {e}"));
            }
        }
        bench.settle().await;
    }
    Ok(Workload {
        rate,
        requests,
        simulated_seconds: requests as f64 / rate,
        sessions,
        setup_seconds,
        run_seconds: started.elapsed().as_secs_f64(),
        errors,
        error_count,
        peaks: bench.model.peaks(),
    })
}

/// `seconds` of the reconnect storm after a revoke-all: 100,000 connects in 60 s, each with
/// an `Idempotency-Key` as a careful gateway sends them.
pub async fn reconnects(seconds: f64) -> Result<Workload, String> {
    let rate = POPULATION as f64 / RECONNECT_WINDOW_S;
    let requests = (rate * seconds).round() as usize;
    let mut bench = Bench::start().await?;
    let base = time::now();
    let (_, setup_seconds) = bench.connect_many(REVOKED, base).await?;
    let (org, app) = (bench.app.organization_id, bench.app.id);
    let revoked_at = base + Duration::seconds(1);
    bench
        .store
        .revoke_all(org, app, revoked_at, None)
        .await
        .map_err(|e| format!("revoke_all: {e}"))?;
    bench.settle().await;
    bench.model.reset_charges();

    let first = revoked_at + Duration::seconds(1);
    let started = Instant::now();
    let (mut errors, mut error_count) = (Vec::new(), 0);
    for i in 0..requests {
        let offset = i as f64 / rate;
        bench.recorder.set_second(offset.floor() as u64);
        let now = first + Duration::microseconds((offset * 1e6) as i64);
        let key = Uuid::new_v4();
        let idempotency = Idempotency {
            key: key.to_string(),
            fingerprint: fingerprint(key),
        };
        let new = world::realistic_connect(&bench.app, i, now);
        if let Err(e) = bench.store.connect(&new, now, Some(&idempotency)).await {
            error_count += 1;
            if errors.len() < 5 {
                errors.push(format!("connect: {e}"));
            }
        }
        if i % 50 == 49 {
            bench.settle().await;
        }
    }
    bench.settle().await;
    Ok(Workload {
        rate,
        requests,
        simulated_seconds: requests as f64 / rate,
        sessions: REVOKED,
        setup_seconds,
        run_seconds: started.elapsed().as_secs_f64(),
        errors,
        error_count,
        peaks: bench.model.peaks(),
    })
}

/// Thirty-two bytes standing in for the SHA-256 of a request body.
fn fingerprint(key: Uuid) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(key.as_bytes());
    out[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    out
}

/// A fixed-seed Fisher–Yates shuffle (xorshift), so runs heartbeat in the same order.
fn shuffle(ids: &mut [Uuid]) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        ids.swap(i, j);
    }
}
