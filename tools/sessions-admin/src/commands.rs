//! What each subcommand does: one function per command, returning the JSON document to print.
//!
//! The table is only reached through the shared crate's [`DynamoStore`], so the CLI writes
//! exactly the items the gateway and the API read; nothing here knows the item layout.

use std::fmt;

use chrono::DateTime;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use session_events::{local, Handler};
use sessions::auth::dev::{self, DevClaims};
use sessions::body::{self, ConnectBody};
use sessions::config::{self, ConfigError};
use sessions::model::{Application, DisconnectReason, Session, SessionStatus, StatusContext};
use sessions::params::ListFilter;
use sessions::store::{
    Budget, Connected, Disconnected, DynamoStore, Heartbeat, Idempotency, NewSession, StoreError,
};
use sessions::time::{self, Timestamp};
use uuid::Uuid;

use crate::args::{
    AppArgs, Command, ConnectArgs, CreateAppArgs, CreateSessionArgs, EventsArgs, HeartbeatArgs,
    SeedArgs, SessionRefArgs, StartArg, TokenArgs,
};
use crate::seed::{self, SeedClock};
use crate::settings;

/// Sessions a seed writes at once: enough to be quick, few enough not to be throttled.
const SEED_CONCURRENCY: usize = 16;
/// Heartbeats `heartbeat-all` keeps in flight.
const HEARTBEAT_CONCURRENCY: usize = 16;
/// Connected sessions `heartbeat-all` reads per page.
const HEARTBEAT_PAGE: i32 = 200;

/// A runtime failure, with a message meant for the person at the terminal (exit status 1).
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError(e.to_string())
    }
}

/// Runs one command and returns what it prints.
pub async fn run(command: Command) -> Result<Value, CliError> {
    match command {
        Command::CreateTable => create_table(&store().await?).await,
        Command::CreateApp(args) => create_app(&store().await?, args).await,
        Command::CreateSession(args) => create_session(&store().await?, *args).await,
        Command::Seed(args) => seed(&store().await?, args).await,
        Command::Token(args) => token(args),
        Command::Connect(args) => connect(&store().await?, *args).await,
        Command::Heartbeat(args) => heartbeat(&store().await?, args).await,
        Command::Disconnect(args) => disconnect(&store().await?, args).await,
        Command::HeartbeatAll(args) => heartbeat_all(&store().await?, args).await,
        Command::Sweep => sweep(&store().await?).await,
        Command::Events(args) => events(args).await,
        Command::SsfKeygen(args) => crate::ssf::keygen(args),
        Command::SsfPush(args) => crate::ssf::push(args).await,
    }
}

/// `events`: the session-events function's handler over the local engine's stream, with a
/// publisher that prints and forwards. Returns only when it cannot start.
async fn events(args: EventsArgs) -> Result<Value, CliError> {
    // Its own warnings (a receiver down, the stream unreadable) on stderr; stdout is events.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .try_init();
    let table = settings::table()?;
    let client = local::streams_client_from_env(settings::tls_roots()?).await?;
    let start = match args.from {
        StartArg::TrimHorizon => local::StartAt::TrimHorizon,
        StartArg::Latest => local::StartAt::Latest,
    };
    // The runner backs off and retries whole batches itself; no waits inside one.
    let handler =
        Handler::new(local::LocalPublisher::new(args.forward, true)?).with_retry_delays(Vec::new());
    eprintln!("sessions-admin: publishing the session events of table {table} (Ctrl-C stops)");
    local::StreamPoller::new(client, table, start)
        .run(&handler)
        .await;
    Ok(Value::Null)
}

/// The table named by `SESSIONS_TABLE`, through the standard AWS environment.
pub async fn store() -> Result<DynamoStore, CliError> {
    let table = settings::table()?;
    Ok(DynamoStore::from_env(table, settings::tls_roots()?).await?)
}

/// Idempotent, so scripts can run it on every start.
async fn create_table(store: &DynamoStore) -> Result<Value, CliError> {
    let created = store
        .create_table()
        .await
        .map_err(|e| store_failure(store, e))?;
    Ok(json!({ "table": store.table(), "created": created }))
}

async fn create_app(store: &DynamoStore, args: CreateAppArgs) -> Result<Value, CliError> {
    let id = args.id.unwrap_or_else(Uuid::new_v4);
    let app = Application {
        id,
        organization_id: args.org,
        name: args.name.unwrap_or_else(|| format!("app-{}", short_id(id))),
        created_at: time::now(),
        revoked_before: None,
    };
    store.create_application(&app).await.map_err(|e| match e {
        StoreError::AlreadyExists(_) => CliError(format!(
            "application {id} already exists (pick another --id, or omit it for a fresh one)"
        )),
        other => store_failure(store, other),
    })?;
    Ok(json!({
        "id": app.id,
        "organizationId": app.organization_id,
        "name": app.name,
        "createdAt": time::format(&app.created_at),
    }))
}

async fn create_session(store: &DynamoStore, args: CreateSessionArgs) -> Result<Value, CliError> {
    let app = application(store, args.app).await?;
    let idle_window = settings::idle_window()?;
    let now = time::now();
    let session = session_from_args(&args, &app, now)?;
    store.create_session(&session).await.map_err(|e| match e {
        StoreError::AlreadyExists(_) => CliError(format!(
            "session {} already exists in application {}",
            session.id, app.id
        )),
        StoreError::ApplicationNotFound => application_not_found(app.id),
        StoreError::RevokedAfterConnect => CliError(format!(
            "application {} was revoked at {}: an active session must have connected after that \
             (pass a later --connected-at, or --status disconnected)",
            app.id,
            app.revoked_before
                .map(|t| time::format(&t))
                .unwrap_or_else(|| "a moment ago".into()),
        )),
        other => store_failure(store, other),
    })?;
    let ctx = StatusContext {
        now,
        idle_window,
        revoked_before: app.revoked_before,
        heartbeat_timeout: sessions::config::heartbeat_timeout(sessions::config::env(
            "SESSIONS_HEARTBEAT_TIMEOUT_SECONDS",
        ))?,
    };
    to_json(session.view(&ctx))
}

/// The session the flags describe, with the documented defaults filled in from `now`.
fn session_from_args(
    args: &CreateSessionArgs,
    app: &Application,
    now: Timestamp,
) -> Result<Session, CliError> {
    let (status, disconnected_at) = args.resolve_status(now).map_err(CliError)?;
    let id = args.id.unwrap_or_else(Uuid::new_v4);
    Ok(Session {
        id,
        application_id: app.id,
        organization_id: app.organization_id,
        name: args
            .name
            .clone()
            .unwrap_or_else(|| format!("session-{}", short_id(id))),
        status,
        token_expires_at: args.token_expires_at,
        last_active_at: args.last_active_at,
        connected_at: args.connected_at,
        disconnected_at,
        created_at: args.created_at.unwrap_or(now),
        hostname: args.hostname.clone(),
        user_agent: args.user_agent.clone(),
        client_info: args.client_info.clone(),
        // Written now, whatever --connected-at says: the heartbeat timeout counts from here
        // (the store would fill in the same moment), so the printed status is the served one.
        last_seen_at: Some(now),
        disconnect_reason: None,
    })
}

async fn seed(store: &DynamoStore, args: SeedArgs) -> Result<Value, CliError> {
    let app = application(store, args.app).await?;
    let clock = SeedClock {
        now: time::now(),
        idle_window: settings::idle_window()?,
        revoked_before: app.revoked_before,
    };
    // Built up front: the random generator is not `Send`, and must not live across an await.
    let (sessions, substituted) = {
        let mut rng = rand::rng();
        let mut substituted = 0;
        let sessions: Vec<Session> = seed::plan_kinds(args.count as usize, &mut rng)
            .into_iter()
            .map(|kind| {
                let (made, session) = seed::seed_session(kind, &app, &clock, &mut rng);
                substituted += usize::from(made != kind);
                session
            })
            .collect();
        (sessions, substituted)
    };
    if let (true, Some(watermark)) = (substituted > 0, app.revoked_before) {
        eprintln!(
            "sessions-admin: note: application {} was revoked at {}, too recently for {substituted} \
             of the planned active, idle or expired sessions; they were seeded with another status",
            app.id,
            time::format(&watermark)
        );
    }

    let results: Vec<Result<(), StoreError>> = stream::iter(&sessions)
        .map(|session| store.create_session(session))
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    let written = results.iter().filter(|r| r.is_ok()).count();
    if let Some(err) = results.into_iter().find_map(Result::err) {
        return Err(CliError(format!(
            "seeded {written} of {} sessions before failing: {}",
            sessions.len(),
            store_failure(store, err)
        )));
    }

    let ctx = clock.status_context();
    let listed: Vec<Value> = sessions
        .iter()
        .map(|s| json!({ "id": s.id, "derivedStatus": s.derived_status(&ctx) }))
        .collect();
    Ok(json!({
        "applicationId": app.id,
        "created": sessions.len(),
        "sessions": listed,
    }))
}

/// The settings the functions read that decide what a session reads as, and how long a
/// disconnected one is kept: the CLI prints and writes what the API would.
struct Rules {
    idle_window: chrono::Duration,
    heartbeat_timeout: Option<chrono::Duration>,
    retention: Option<chrono::Duration>,
}

impl Rules {
    fn from_env() -> Result<Self, CliError> {
        Ok(Rules {
            idle_window: settings::idle_window()?,
            heartbeat_timeout: config::heartbeat_timeout(config::env(
                "SESSIONS_HEARTBEAT_TIMEOUT_SECONDS",
            ))?,
            retention: config::retention(config::env("SESSIONS_RETENTION_DAYS"))?,
        })
    }

    fn context(&self, now: Timestamp, revoked_before: Option<Timestamp>) -> StatusContext {
        StatusContext {
            now,
            idle_window: self.idle_window,
            revoked_before,
            heartbeat_timeout: self.heartbeat_timeout,
        }
    }
}

/// `connect`: the flags become the JSON body the API would receive, read by the API's own
/// parser (same checks, same default name), then the store's connect, as the route does.
async fn connect(store: &DynamoStore, args: ConnectArgs) -> Result<Value, CliError> {
    let rules = Rules::from_env()?;
    let app = application(store, args.app).await?;
    let now = time::now();
    let request = connect_body(&args);
    let given = ConnectBody::parse(Some(b"application/json"), &request, now)
        .map_err(|e| CliError(e.to_string()))?;
    let idempotency = body::idempotency_key(args.idempotency_key.as_deref().map(str::as_bytes))
        .map_err(|e| CliError(e.to_string()))?
        .map(|key| Idempotency {
            key,
            fingerprint: body::fingerprint(&request),
        });
    let new = NewSession {
        organization_id: app.organization_id,
        application_id: app.id,
        name: given.name,
        hostname: given.hostname,
        user_agent: given.user_agent,
        client_info: given.client_info,
        token_expires_at: given.token_expires_at,
    };
    let connected = store
        .connect(&new, now, idempotency.as_ref())
        .await
        .map_err(|e| match e {
            StoreError::ApplicationNotFound => application_not_found(app.id),
            StoreError::IdempotencyConflict => CliError(
                "that --idempotency-key was used for a connect with other fields (within 24 h)"
                    .into(),
            ),
            other => store_failure(store, other),
        })?;
    let (session, replayed, revoked_before) = match connected {
        Connected::Created(session) => (session, false, None),
        // As of now: it may have been revoked or closed since.
        Connected::Replayed(session) => (session, true, app.revoked_before),
    };
    let view = to_json(session.view(&rules.context(now, revoked_before)))?;
    Ok(json!({ "session": view, "replayed": replayed }))
}

/// The connect body the flags stand for, as compact JSON (the idempotency fingerprint is its
/// SHA-256, so the same flags always make the same body).
fn connect_body(args: &ConnectArgs) -> Vec<u8> {
    let mut fields = serde_json::Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name.into(), value);
        }
    };
    put("name", args.name.clone().map(Value::from));
    put("hostname", args.hostname.clone().map(Value::from));
    put("userAgent", args.user_agent.clone().map(Value::from));
    put("clientInfo", args.client_info.clone());
    put(
        "tokenExpiresAt",
        args.token_expires_at.map(|t| Value::from(time::format(&t))),
    );
    Value::Object(fields).to_string().into_bytes()
}

/// `heartbeat`: the session is alive; prints it as the API answers.
async fn heartbeat(store: &DynamoStore, args: HeartbeatArgs) -> Result<Value, CliError> {
    let rules = Rules::from_env()?;
    let app = application(store, args.session.app).await?;
    let now = time::now();
    if let Some(expiry) = args.token_expires_at.filter(|t| *t <= now) {
        return Err(CliError(format!(
            "--token-expires-at {} is not after now",
            time::format(&expiry)
        )));
    }
    let beat = Heartbeat {
        last_active_at: args.last_active_at,
        token_expires_at: args.token_expires_at,
    };
    let (app, session) = store
        .heartbeat(
            app.organization_id,
            app.id,
            args.session.session,
            &beat,
            now,
            rules.heartbeat_timeout,
        )
        .await
        .map_err(|e| session_failure(store, &app, args.session.session, e))?;
    let view = to_json(session.view(&rules.context(now, app.revoked_before)))?;
    Ok(json!({ "session": view }))
}

/// `disconnect`: the transport closed (reason `closed`); idempotent.
async fn disconnect(store: &DynamoStore, args: SessionRefArgs) -> Result<Value, CliError> {
    let rules = Rules::from_env()?;
    let store = store.clone().with_retention(rules.retention);
    let app = application(&store, args.app).await?;
    let outcome = store
        .disconnect_session(
            app.organization_id,
            app.id,
            args.session,
            time::now(),
            DisconnectReason::Closed,
        )
        .await
        .map_err(|e| session_failure(&store, &app, args.session, e))?;
    Ok(json!({ "success": true, "disconnected": outcome == Disconnected::Now }))
}

/// What one heartbeat of `heartbeat-all` found.
enum Beat {
    Alive,
    /// Disconnected meanwhile (revoked, closed, timed out) or gone.
    NotConnected,
}

/// `heartbeat-all`: one heartbeat for every connected session of the application, a page of
/// connected sessions at a time. A session that timed out or was revoked is counted, not an
/// error: that is what a connection holder would learn from a 409.
async fn heartbeat_all(store: &DynamoStore, args: AppArgs) -> Result<Value, CliError> {
    let rules = Rules::from_env()?;
    let app = application(store, args.app).await?;
    let (mut alive, mut not_connected) = (0u64, 0u64);
    let mut after = None;
    loop {
        let chunk = store
            .query_sessions(
                app.organization_id,
                app.id,
                ListFilter::Active,
                after,
                HEARTBEAT_PAGE,
                &Budget::unbounded(),
            )
            .await
            .map_err(|e| store_failure(store, e))?;
        let connected: Vec<Uuid> = chunk
            .sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Active)
            .map(|s| s.id)
            .collect();
        let now = time::now();
        let beats: Vec<Result<Beat, StoreError>> = stream::iter(connected)
            .map(|id| async move {
                match store
                    .heartbeat(
                        app.organization_id,
                        app.id,
                        id,
                        &Heartbeat::default(),
                        now,
                        rules.heartbeat_timeout,
                    )
                    .await
                {
                    Ok(_) => Ok(Beat::Alive),
                    Err(StoreError::SessionDisconnected | StoreError::SessionNotFound) => {
                        Ok(Beat::NotConnected)
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(HEARTBEAT_CONCURRENCY)
            .collect()
            .await;
        for beat in beats {
            match beat.map_err(|e| store_failure(store, e))? {
                Beat::Alive => alive += 1,
                Beat::NotConnected => not_connected += 1,
            }
        }
        if chunk.exhausted || chunk.last.is_none() {
            break;
        }
        after = chunk.last;
    }
    Ok(json!({
        "applicationId": app.id,
        "heartbeats": alive,
        "notConnected": not_connected,
    }))
}

/// `sweep`: what the sweep-sessions function does every minute, once, without a deadline.
async fn sweep(store: &DynamoStore) -> Result<Value, CliError> {
    let rules = Rules::from_env()?;
    let Some(timeout) = rules.heartbeat_timeout else {
        return Ok(
            json!({ "skipped": "heartbeat timeout off (SESSIONS_HEARTBEAT_TIMEOUT_SECONDS=0)" }),
        );
    };
    let store = store.clone().with_retention(rules.retention);
    let outcome = store
        .sweep_timed_out(time::now(), timeout, &Budget::unbounded())
        .await
        .map_err(|e| store_failure(&store, e))?;
    Ok(json!({ "disconnected": outcome.disconnected, "complete": outcome.complete }))
}

/// A store error of a command about one session, for the person at the terminal.
fn session_failure(
    store: &DynamoStore,
    app: &Application,
    session: Uuid,
    e: StoreError,
) -> CliError {
    match e {
        StoreError::ApplicationNotFound => application_not_found(app.id),
        StoreError::SessionNotFound => CliError(format!(
            "session {session} not found in application {}",
            app.id
        )),
        StoreError::SessionDisconnected => CliError(format!(
            "session {session} is disconnected (revoked, closed or timed out): the client must \
             connect again"
        )),
        other => store_failure(store, other),
    }
}

/// Needs only the dev JWT settings: it can run before any table or AWS configuration exists.
fn token(args: TokenArgs) -> Result<Value, CliError> {
    let config = settings::dev_jwt()?;
    let org_claim = settings::org_claim()?;
    let issued_at = time::now().timestamp();
    let expires = issued_at + i64::from(args.ttl_seconds);
    let expires_at = DateTime::from_timestamp(expires, 0)
        .ok_or_else(|| CliError(format!("token expiry {expires} is out of range")))?;
    let claims = DevClaims {
        sub: args.sub,
        organization_id: args.org.to_string(),
        scope: args.scope,
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat: issued_at,
        exp: expires,
    };
    let token = dev::mint_dev_token(&config, &org_claim, &claims)
        .map_err(|e| CliError(format!("could not sign the token: {e}")))?;
    Ok(json!({ "token": token, "expiresAt": time::format(&expires_at) }))
}

/// The application by id alone (the CLI is not told its organization).
async fn application(store: &DynamoStore, id: Uuid) -> Result<Application, CliError> {
    store.find_application(id).await.map_err(|e| match e {
        StoreError::ApplicationNotFound => application_not_found(id),
        other => store_failure(store, other),
    })
}

fn application_not_found(id: Uuid) -> CliError {
    CliError(format!(
        "application {id} not found (create it first: sessions-admin create-app --org ORG --id {id})"
    ))
}

/// Turns a store error no command handles itself into advice: the usual causes locally are an
/// engine that is not running and a table that was never created.
fn store_failure(store: &DynamoStore, err: StoreError) -> CliError {
    match err {
        StoreError::Unavailable(detail) => CliError(format!(
            "DynamoDB is unavailable (is AWS_ENDPOINT_URL_DYNAMODB right and the engine running?): {detail}"
        )),
        StoreError::TableNotFound(_) => CliError(format!(
            "table {:?} does not exist (run: sessions-admin create-table)",
            store.table()
        )),
        other => CliError(other.to_string()),
    }
}

/// The first 8 hex digits of an id, for readable default names.
fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

fn to_json(value: impl serde::Serialize) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|e| CliError(format!("could not encode the output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use chrono::Duration;
    use clap::Parser;
    use sessions::model::{DerivedStatus, SessionStatus};

    fn at(s: &str) -> Timestamp {
        time::parse(s).expect("test timestamp")
    }

    fn app() -> Application {
        Application {
            id: Uuid::from_u128(2),
            organization_id: Uuid::from_u128(1),
            name: "demo".into(),
            created_at: at("2026-11-01T00:00:00Z"),
            revoked_before: None,
        }
    }

    fn args(extra: &[&str]) -> CreateSessionArgs {
        let app = Uuid::from_u128(2).to_string();
        let mut argv = vec!["sessions-admin", "create-session", "--app", &app];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("valid").command {
            Command::CreateSession(a) => *a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_make_a_fresh_active_session_created_now() {
        let now = at("2026-12-01T10:00:00Z");
        let s = session_from_args(&args(&[]), &app(), now).expect("valid");
        assert_eq!(s.id.get_version_num(), 4);
        assert_eq!(s.name, format!("session-{}", &s.id.to_string()[..8]));
        assert_eq!(s.status, SessionStatus::Active);
        assert_eq!(s.created_at, now);
        assert_eq!(
            (s.application_id, s.organization_id),
            (app().id, app().organization_id)
        );
        assert_eq!(s.disconnected_at, None);
        assert_eq!(s.hostname, None);
        assert_eq!(
            s.last_seen_at,
            Some(now),
            "its last sign of life is its writing"
        );
    }

    #[test]
    fn a_back_dated_session_is_alive_as_of_its_writing() {
        let now = at("2026-12-01T10:00:00Z");
        let s = session_from_args(
            &args(&["--connected-at", "2026-01-01T00:00:00Z"]),
            &app(),
            now,
        )
        .expect("valid");
        let ctx = StatusContext {
            now,
            idle_window: Duration::seconds(300),
            revoked_before: None,
            heartbeat_timeout: Some(Duration::seconds(90)),
        };
        assert_eq!(s.derived_status(&ctx), DerivedStatus::Idle);
    }

    fn connect_args(extra: &[&str]) -> ConnectArgs {
        let app = Uuid::from_u128(2).to_string();
        let mut argv = vec!["sessions-admin", "connect", "--app", &app];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("valid").command {
            Command::Connect(a) => *a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn connect_flags_become_the_body_the_api_reads() {
        let now = at("2026-12-01T10:00:00Z");
        let parse =
            |a: &ConnectArgs| ConnectBody::parse(Some(b"application/json"), &connect_body(a), now);
        let none = parse(&connect_args(&[])).expect("an empty body is fine");
        assert_eq!(none.name, body::DEFAULT_NAME);
        let a = connect_args(&[
            "--hostname",
            "alice-mbp",
            "--user-agent",
            "Cursor/1.0.0",
            "--client-info",
            r#"{"name":"cursor-vscode","version":"1.0.0","title":"Cursor"}"#,
            "--token-expires-at",
            "2026-12-01T11:00:00Z",
        ]);
        let given = parse(&a).expect("valid");
        // The API's default name, from clientInfo and hostname.
        assert_eq!(
            given.name,
            body::default_name(a.client_info.as_ref(), Some("alice-mbp"))
        );
        assert_eq!(given.user_agent.as_deref(), Some("Cursor/1.0.0"));
        assert_eq!(
            given.client_info.as_ref().map(|c| c["title"].clone()),
            Some(json!("Cursor"))
        );
        assert_eq!(given.token_expires_at, Some(at("2026-12-01T11:00:00Z")));
        // The same flags make the same body, hence the same idempotency fingerprint.
        assert_eq!(connect_body(&a), connect_body(&a));
        // The API's limits apply.
        let long = "x".repeat(201);
        assert!(parse(&connect_args(&["--name", &long])).is_err());
        assert!(parse(&connect_args(&["--name", "tab\there"])).is_err());
        assert!(parse(&connect_args(&[
            "--token-expires-at",
            "2026-12-01T09:00:00Z"
        ]))
        .is_err());
        assert!(parse(&connect_args(&["--client-info", r#"{"name":"x"}"#])).is_err());
    }

    #[test]
    fn disconnected_without_a_time_is_disconnected_now() {
        let now = at("2026-12-01T10:00:00Z");
        let s =
            session_from_args(&args(&["--status", "disconnected"]), &app(), now).expect("valid");
        assert_eq!(s.status, SessionStatus::Disconnected);
        assert_eq!(s.disconnected_at, Some(now));
    }

    #[test]
    fn every_flag_reaches_the_session_and_its_view() {
        let now = at("2026-12-01T10:00:00Z");
        let a = args(&[
            "--id",
            "3F2A1B9C-0000-4000-8000-000000000001",
            "--name",
            "laptop",
            "--created-at",
            "2026-12-01T09:00:00Z",
            "--connected-at",
            "2026-12-01T09:00:01Z",
            "--last-active-at",
            "2026-12-01T09:58:00Z",
            "--token-expires-at",
            "2026-12-01T11:00:00Z",
            "--hostname",
            "alice-mbp",
            "--user-agent",
            "Cursor/1.0.0",
            "--client-info",
            r#"{"name":"cursor-vscode","version":"1.0.0"}"#,
        ]);
        let s = session_from_args(&a, &app(), now).expect("valid");
        let ctx = StatusContext {
            now,
            idle_window: Duration::seconds(300),
            revoked_before: None,
            heartbeat_timeout: None,
        };
        assert_eq!(s.derived_status(&ctx), DerivedStatus::Active);
        let view = to_json(s.view(&ctx)).expect("json");
        assert_eq!(view["id"], "3f2a1b9c-0000-4000-8000-000000000001");
        assert_eq!(view["name"], "laptop");
        assert_eq!(view["createdAt"], "2026-12-01T09:00:00.000Z");
        assert_eq!(view["connectedAt"], "2026-12-01T09:00:01.000Z");
        assert_eq!(view["lastActiveAt"], "2026-12-01T09:58:00.000Z");
        assert_eq!(view["tokenExpiresAt"], "2026-12-01T11:00:00.000Z");
        assert_eq!(view["hostname"], "alice-mbp");
        assert_eq!(view["userAgent"], "Cursor/1.0.0");
        assert_eq!(view["clientInfo"]["name"], "cursor-vscode");
        assert_eq!(view["agentId"], app().id.to_string());
        assert!(view.get("disconnectedAt").is_none());
    }
}
