//! Cold starts and memory of the real binaries: each function (and the hello-world baseline)
//! started again and again under the Runtime API emulator against one seeded engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::Client;
use sessions::model::Application;
use sessions::route::Route;
use sessions::time;
use sessions_tests::{caller_scopes, Event};
use uuid::Uuid;

use crate::process::{lambda_env, Running};
use crate::stats::ms;
use crate::world;

pub const HELLO: &str = "hello-baseline";
/// The scheduled function: not behind API Gateway, invoked with a Scheduler event.
pub const SWEEP: &str = "sweep-sessions";
const CURSOR_KEY: &str = "bench-cursor-key-0123456789abcdef0123";
/// Sessions of the application the read functions serve: more than one default page (100).
const READ_SESSIONS: usize = 150;
/// Applications revoke-sessions empties, and the sessions each holds.
const REVOKE_APPS: usize = 4;
const SESSIONS_PER_REVOKE_APP: usize = 1_000;
/// Sessions whose heartbeat timed out an hour ago, for the sweep's first invocation.
const TIMED_OUT_SESSIONS: usize = 1_000;

/// The data the function processes serve, on the bench's engine.
#[derive(Debug, Clone)]
pub struct Fixture {
    endpoint: String,
    extra_env: Vec<(String, String)>,
    table: String,
    org: Uuid,
    read_app: Application,
    read_sessions: Vec<Uuid>,
    one_app: Application,
    one_sessions: Vec<Uuid>,
    revoke_apps: Vec<Application>,
    connect_app: Application,
    closing_app: Application,
    closing_sessions: Vec<Uuid>,
}

impl Fixture {
    /// Seeds one table: an application to read, one to revoke sessions of one by one, a few to
    /// revoke all sessions of, one to connect to, one whose sessions heartbeat and then close,
    /// and sessions that timed out for the sweep. `pool` is how many single revocations (and
    /// closes) to prepare.
    pub async fn seed(client: &Client, endpoint: &str, pool: usize) -> Fixture {
        let table = format!("bench-functions-{}", Uuid::new_v4().simple());
        let store = world::create_table(client, &table).await;
        let org = Uuid::new_v4();
        let read_app = world::create_app(&store, org, "read").await;
        let read_sessions = world::seed_sessions(&store, &read_app, READ_SESSIONS).await;
        let one_app = world::create_app(&store, org, "revoke-one").await;
        let one_sessions = world::seed_sessions(&store, &one_app, pool).await;
        let mut revoke_apps = Vec::new();
        for i in 0..REVOKE_APPS {
            let app = world::create_app(&store, org, &format!("revoke-all-{i}")).await;
            world::seed_sessions(&store, &app, SESSIONS_PER_REVOKE_APP).await;
            revoke_apps.push(app);
        }
        let connect_app = world::create_app(&store, org, "connect").await;
        let closing_app = world::create_app(&store, org, "disconnect").await;
        let closing_sessions = world::seed_sessions(&store, &closing_app, pool).await;
        let sweep_app = world::create_app(&store, org, "timed-out").await;
        let an_hour_ago = time::now() - chrono::Duration::hours(1);
        world::seed_these(
            &store,
            (0..TIMED_OUT_SESSIONS)
                .map(|i| {
                    let mut s = world::realistic_session(&sweep_app, i + 3_600);
                    s.last_seen_at = Some(an_hour_ago);
                    s
                })
                .collect(),
        )
        .await;
        Fixture {
            endpoint: endpoint.to_string(),
            extra_env: Vec::new(),
            table,
            org,
            read_app,
            read_sessions,
            one_app,
            one_sessions,
            revoke_apps,
            connect_app,
            closing_app,
            closing_sessions,
        }
    }

    /// The function's environment. A name may carry a variant (`get-session@opt-level=3`).
    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let mut env = lambda_env(function_of(name), &self.endpoint, &self.table, CURSOR_KEY);
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// The same data reached through `https://` (the TLS front), trusting `ca_file`. The
    /// functions trust only Amazon's roots by default; the front's throwaway CA needs the
    /// system-store mode, pointed at that one certificate (the same size of trust store to
    /// load, so the same start-up work).
    pub fn over_tls(&self, endpoint: &str, ca_file: &Path) -> Fixture {
        Fixture {
            endpoint: endpoint.to_string(),
            extra_env: vec![
                ("SESSIONS_TLS_ROOTS".to_string(), "system".to_string()),
                ("SSL_CERT_FILE".to_string(), ca_file.display().to_string()),
            ],
            ..self.clone()
        }
    }

    /// The `i`-th realistic event for `function`: a real API Gateway event from `events/` with
    /// the seeded ids and an authorizer's claims (the scheduled sweep: a Scheduler event).
    pub fn event(&self, name: &str, i: usize) -> serde_json::Value {
        let function = function_of(name);
        let app = |a: &Application| a.id.to_string();
        let pick = |ids: &[Uuid]| ids[i % ids.len()].to_string();
        if function == SWEEP {
            return serde_json::json!({
                "version": "0",
                "id": Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": "123456789012",
                "time": time::format(&time::now()),
                "region": "us-east-1",
                "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/sweep-sessions"],
                "detail": {}
            });
        }
        // The hello-world baseline answers any API Gateway event: it gets a list's.
        let route = Route::from_name(function).unwrap_or(Route::ListSessions);
        let event = match route {
            Route::GetSession => Event::get(&app(&self.read_app), &pick(&self.read_sessions)),
            Route::RevokeSession => {
                Event::revoke_one(&app(&self.one_app), &pick(&self.one_sessions))
            }
            Route::RevokeSessions => {
                Event::revoke_all(&app(&self.revoke_apps[i % self.revoke_apps.len()]))
            }
            Route::ListSessions => Event::list(&app(&self.read_app)),
            Route::ConnectSession => {
                let new = world::realistic_connect(&self.connect_app, i, time::now());
                Event::new(route, &app(&self.connect_app), None).json_body(&serde_json::json!({
                    "name": new.name,
                    "hostname": new.hostname,
                    "userAgent": new.user_agent,
                    "clientInfo": new.client_info,
                }))
            }
            Route::HeartbeatSession => Event::new(
                route,
                &app(&self.closing_app),
                Some(&pick(&self.closing_sessions)),
            )
            .json_body(&serde_json::json!({
                "lastActiveAt": time::format(&time::now()),
            })),
            Route::DisconnectSession => Event::new(
                route,
                &app(&self.closing_app),
                Some(&pick(&self.closing_sessions)),
            ),
            // `Route::from_name` names the Sessions API's functions only: the transmitter's
            // routes never get here, and would take their own example event.
            Route::SsfConfiguration
            | Route::SsfJwks
            | Route::SsfStreamCreate
            | Route::SsfStreamRead
            | Route::SsfStreamUpdate
            | Route::SsfStreamReplace
            | Route::SsfStreamDelete
            | Route::SsfStatusRead
            | Route::SsfStatusUpdate
            | Route::SsfVerify => Event::new(route, "", None),
        };
        event.claims(self.org, caller_scopes(route)).json()
    }
}

/// A function's environment for a process that builds its API but sends no request.
pub fn probe_env(function: &str) -> Vec<(String, String)> {
    lambda_env(function, "http://127.0.0.1:9", "bench-probe", CURSOR_KEY)
}

/// The function a binary's name stands for: `get-session@opt-level=3` is a get-session.
fn function_of(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// Init times, and first/second invocation latencies, per binary (milliseconds).
#[derive(Debug, Default)]
pub struct ColdStarts {
    pub init_ms: BTreeMap<String, Vec<f64>>,
    pub first_ms: BTreeMap<String, Vec<f64>>,
    pub second_ms: BTreeMap<String, Vec<f64>>,
}

/// `rounds` cold starts of every binary, in an order that rotates each round so drift on the
/// machine spreads evenly. In the first `invoke_rounds` rounds, the read functions (get and
/// list) also serve
/// two requests: the first pays for the connection to DynamoDB and any lazy set-up, the
/// second does not; their difference is what warming the connection during init could save.
pub async fn measure(
    binaries: &[(String, PathBuf)],
    fixture: &Fixture,
    rounds: usize,
    invoke_rounds: usize,
    log: &Path,
) -> Result<ColdStarts, String> {
    let mut out = ColdStarts::default();
    for round in 0..rounds {
        for k in 0..binaries.len() {
            let (name, binary) = &binaries[(round + k) % binaries.len()];
            let mut running = Running::start(binary, &fixture.env(name), log).await?;
            out.init_ms
                .entry(name.clone())
                .or_default()
                .push(ms(running.init));
            let reads = matches!(
                Route::from_name(function_of(name)),
                Some(Route::GetSession | Route::ListSessions)
            );
            if reads && round < invoke_rounds {
                for (n, into) in [(0, &mut out.first_ms), (1, &mut out.second_ms)] {
                    let answer = running.invoke(&fixture.event(name, round * 2 + n)).await?;
                    if !answer.succeeded() {
                        return Err(format!("{name} answered {}", answer.status));
                    }
                    into.entry(name.clone())
                        .or_default()
                        .push(ms(answer.latency));
                }
            }
            running.stop().await;
        }
    }
    Ok(out)
}

/// One function serving a run of invocations in one environment.
#[derive(Debug)]
pub struct Serving {
    pub peak_rss_kb: u64,
    /// Latencies after the first few (the warm ones), in milliseconds.
    pub warm_ms: Vec<f64>,
    /// Answers that were not a success (2xx).
    pub non_200: usize,
}

/// Serves `invocations` realistic events with one process, then reads its peak RSS.
pub async fn serve(
    name: &str,
    binary: &Path,
    fixture: &Fixture,
    invocations: usize,
    log: &Path,
) -> Result<Serving, String> {
    let mut running = Running::start(binary, &fixture.env(name), log).await?;
    let mut warm_ms = Vec::with_capacity(invocations);
    let mut non_200 = 0;
    for i in 0..invocations {
        let answer = running.invoke(&fixture.event(name, i)).await?;
        if !answer.succeeded() {
            non_200 += 1;
        }
        if i >= 5 {
            warm_ms.push(ms(answer.latency));
        }
    }
    let peak_rss_kb = running
        .peak_rss_kb()
        .ok_or_else(|| format!("{name}: no VmHWM in /proc"))?;
    running.stop().await;
    Ok(Serving {
        peak_rss_kb,
        warm_ms,
        non_200,
    })
}
