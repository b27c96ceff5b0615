//! The command line: every flag, and the parsers that refuse bad values before anything runs.
//!
//! Values are checked at parse time (clap exits with status 2 and names the flag), so the
//! commands only ever see well-formed UUIDs, timestamps and JSON.

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use sessions::model::SessionStatus;
use sessions::time::{self, Timestamp};
use uuid::Uuid;

/// Longest token lifetime `token` mints: a day, so a leaked dev token does not live on.
pub const MAX_TOKEN_TTL_SECONDS: u32 = 86_400;
/// Most sessions one `seed` writes; more is a load test, not demo data.
pub const MAX_SEED_COUNT: u32 = 10_000;
/// The scopes a development token carries unless told otherwise: every route of the API.
pub const DEFAULT_TOKEN_SCOPE: &str = "sessions:read sessions:write";

/// Administer the Sessions API's table: create it, add applications and sessions, seed demo
/// data, mint development tokens, and connect, heartbeat, disconnect and sweep sessions as the
/// connection side and the scheduled sweep do. Prints one JSON document on stdout.
#[derive(Debug, Parser)]
#[command(name = "sessions-admin", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process arguments, exiting with status 2 on anything clap or the cross-flag
    /// checks refuse, so a bad combination never reaches the table.
    pub fn parse_checked() -> Cli {
        let cli = Cli::parse();
        if let Err(message) = cli.check() {
            Cli::command()
                .error(ErrorKind::ArgumentConflict, message)
                .exit();
        }
        cli
    }

    /// The checks clap cannot express: they depend on the values of several flags.
    pub fn check(&self) -> Result<(), String> {
        match &self.command {
            Command::CreateSession(a) => a.resolve_status(time::now()).map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// One subcommand per job; each prints one JSON document.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the table (with its indexes and change stream); does nothing if it exists.
    CreateTable,
    /// Register an application (an agent) for an organization.
    CreateApp(CreateAppArgs),
    /// Write one session, exactly as given, and print it as the API returns it.
    CreateSession(Box<CreateSessionArgs>),
    /// Write a realistic mix of sessions covering every derived status.
    Seed(SeedArgs),
    /// Mint an HS256 development token (needs SESSIONS_DEV_JWT_SECRET, no table).
    Token(TokenArgs),
    /// Open a session as the connection side does (POST …/sessions), with the API's checks and
    /// defaults, and print it.
    Connect(Box<ConnectArgs>),
    /// Report a session alive (POST …/sessions/{id}/heartbeat) and print it.
    Heartbeat(HeartbeatArgs),
    /// Report a session's transport closed (POST …/sessions/{id}/disconnect).
    Disconnect(SessionRefArgs),
    /// Heartbeat every connected session of an application once (`make dev` keeps its demo
    /// sessions alive with it).
    HeartbeatAll(AppArgs),
    /// Store the sessions whose heartbeat timed out as disconnected, once: what the
    /// sweep-sessions function does every minute.
    Sweep,
    /// Publish the table's changes as session events, as the session-events function does on
    /// EventBridge: poll the table's stream, print each event's envelope as one JSON line and
    /// POST it to every --forward URL. Runs until stopped.
    Events(EventsArgs),
    /// Write a P-256 signing key for the Shared Signals transmitter (kept if the file exists).
    SsfKeygen(crate::ssf::KeygenArgs),
    /// Run the local Shared Signals push worker: POST it EventBridge envelopes; it pushes the
    /// revocations to the receivers' streams, retries, and writes dead letters to a file.
    SsfPush(crate::ssf::PushArgs),
}

/// `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// POST each event's EventBridge envelope (JSON) to this URL, as a rule's target gets it,
    /// retrying with backoff until it answers 2xx. Repeatable.
    #[arg(long, value_name = "URL", value_parser = parse_http_url)]
    pub forward: Vec<String>,
    /// Where to start: every record the stream holds, or only changes from now on.
    #[arg(long, value_enum, default_value_t = StartArg::TrimHorizon)]
    pub from: StartArg,
}

/// `events --from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartArg {
    TrimHorizon,
    Latest,
}

/// `create-app`.
#[derive(Debug, Args)]
pub struct CreateAppArgs {
    /// Organization that owns the application.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub org: Uuid,
    /// Application id; a fresh random one when omitted.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub id: Option<Uuid>,
    /// Display name; `app-<first 8 characters of the id>` when omitted.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `create-session`: every stored field of a session can be set, for tests of edge cases.
#[derive(Debug, Args)]
pub struct CreateSessionArgs {
    /// Application the session belongs to (its organization is looked up).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub app: Uuid,
    /// Session id; a fresh random one when omitted.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub id: Option<Uuid>,
    /// Session name; `session-<first 8 characters of the id>` when omitted.
    #[arg(long, value_name = "S")]
    pub name: Option<String>,
    /// Stored status; `disconnected` without --disconnected-at disconnects it now.
    /// Defaults to `disconnected` when --disconnected-at is given, `active` otherwise.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// When the session was created; now when omitted.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub created_at: Option<Timestamp>,
    /// When the transport connected; revocation compares against it (createdAt when omitted).
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub connected_at: Option<Timestamp>,
    /// Last activity; idleness is measured from it (connectedAt, then createdAt, when omitted).
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub last_active_at: Option<Timestamp>,
    /// When the session's token expires; at or before now reads as `expired`.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub token_expires_at: Option<Timestamp>,
    /// When the session disconnected; implies --status disconnected.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub disconnected_at: Option<Timestamp>,
    /// Hostname the MCP client reported.
    #[arg(long, value_name = "S")]
    pub hostname: Option<String>,
    /// User agent the MCP client reported.
    #[arg(long, value_name = "S")]
    pub user_agent: Option<String>,
    /// The MCP client's `Implementation` object, e.g. '{"name":"claude-ai","version":"0.1.0"}'.
    #[arg(long, value_name = "JSON", value_parser = parse_client_info)]
    pub client_info: Option<serde_json::Value>,
}

impl CreateSessionArgs {
    /// The stored status and disconnection time the flags ask for, given one `now`.
    ///
    /// An `active` session with a `disconnectedAt` is a contradiction the API would serve as
    /// is, so it is refused here rather than written.
    pub fn resolve_status(
        &self,
        now: Timestamp,
    ) -> Result<(SessionStatus, Option<Timestamp>), String> {
        match (self.status, self.disconnected_at) {
            (Some(StatusArg::Active), Some(_)) => Err(
                "--disconnected-at needs --status disconnected (an active session has no disconnection time)"
                    .into(),
            ),
            (Some(StatusArg::Active), None) | (None, None) => Ok((SessionStatus::Active, None)),
            (Some(StatusArg::Disconnected) | None, Some(at)) => {
                Ok((SessionStatus::Disconnected, Some(at)))
            }
            (Some(StatusArg::Disconnected), None) => Ok((SessionStatus::Disconnected, Some(now))),
        }
    }
}

/// `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Application to seed (its organization is looked up).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub app: Uuid,
    /// How many sessions to write; 4 or more covers every derived status.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_SEED_COUNT as i64))]
    pub count: u32,
}

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Organization the token speaks for (in the SESSIONS_ORG_CLAIM claim, `org_id` by default).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub org: Uuid,
    /// Space-separated scopes (`sessions:read`, `sessions:write`, `management:all`).
    #[arg(long, value_name = "SCOPES", default_value = DEFAULT_TOKEN_SCOPE)]
    pub scope: String,
    /// Lifetime of the token.
    #[arg(long, value_name = "N", default_value_t = 3600,
          value_parser = clap::value_parser!(u32).range(1..=MAX_TOKEN_TTL_SECONDS as i64))]
    pub ttl_seconds: u32,
    /// Subject (`sub` claim).
    #[arg(long, value_name = "S", default_value = "dev-user")]
    pub sub: String,
}

/// `connect`: the fields of a connect's body, and its `Idempotency-Key`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Application to connect to (its organization is looked up).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub app: Uuid,
    /// Session name, 1 to 200 characters; built from --client-info and --hostname when omitted,
    /// as the API builds it.
    #[arg(long, value_name = "S")]
    pub name: Option<String>,
    /// Hostname the MCP client reported.
    #[arg(long, value_name = "S")]
    pub hostname: Option<String>,
    /// User agent the MCP client reported.
    #[arg(long, value_name = "S")]
    pub user_agent: Option<String>,
    /// The MCP client's `Implementation` object, e.g. '{"name":"claude-ai","version":"0.1.0"}'.
    #[arg(long, value_name = "JSON", value_parser = parse_client_info)]
    pub client_info: Option<serde_json::Value>,
    /// When the client's token expires; must be after now.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub token_expires_at: Option<Timestamp>,
    /// Makes a repeated connect answer the session the first one created (1 to 255 visible
    /// ASCII characters; the same key with other fields is refused).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// `heartbeat`.
#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    #[command(flatten)]
    pub session: SessionRefArgs,
    /// The last MCP activity seen; never moves lastActiveAt back, a future time counts as now.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub last_active_at: Option<Timestamp>,
    /// The client's refreshed token expiry; must be after now.
    #[arg(long, value_name = "TS", value_parser = parse_timestamp)]
    pub token_expires_at: Option<Timestamp>,
}

/// One session of an application.
#[derive(Debug, Args)]
pub struct SessionRefArgs {
    /// Application the session belongs to (its organization is looked up).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub app: Uuid,
    /// The session.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub session: Uuid,
}

/// One application.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The application (its organization is looked up).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub app: Uuid,
}

/// The stored statuses, as flag values (the model's enum stays free of CLI concerns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Active,
    Disconnected,
}

/// A UUID in any case; printed back lowercase and hyphenated like every API output.
/// An `http://` or `https://` URL.
fn parse_http_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("expected an http:// or https:// URL, got {s:?}"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{s:?} names no host"));
    }
    Ok(s.to_string())
}

fn parse_uuid(s: &str) -> Result<Uuid, String> {
    Uuid::try_parse(s.trim())
        .map_err(|e| format!("expected a UUID like 550e8400-e29b-41d4-a716-446655440000 ({e})"))
}

/// An RFC 3339 timestamp in any offset, kept at the wire format's millisecond precision.
fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    time::parse(s.trim())
        .map_err(|e| format!("expected an RFC 3339 timestamp like 2026-11-30T23:36:03.123Z ({e})"))
}

/// `clientInfo` is the MCP `Implementation` object: anything but a JSON object is refused.
fn parse_client_info(s: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => {
            Err(r#"expected a JSON object such as {"name":"claude-ai","version":"0.1.0"}"#.into())
        }
        Err(e) => Err(format!("not valid JSON ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "550e8400-e29b-41d4-a716-446655440000";

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sessions-admin").chain(args.iter().copied()))
    }

    fn session_args(extra: &[&str]) -> Result<CreateSessionArgs, clap::Error> {
        let mut args = vec!["create-session", "--app", APP];
        args.extend_from_slice(extra);
        match parse(&args)?.command {
            Command::CreateSession(a) => Ok(*a),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn refused(args: &[&str], flag: &str) {
        let err = parse(args).expect_err("should be refused");
        assert_eq!(err.kind(), ErrorKind::ValueValidation, "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains(flag),
            "message names {flag}: {err}"
        );
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn non_uuid_app_is_refused() {
        refused(&["create-session", "--app", "not-a-uuid"], "--app");
        refused(&["seed", "--app", "1234", "--count", "4"], "--app");
        refused(&["token", "--org", "acme"], "--org");
    }

    #[test]
    fn uuids_in_any_case_are_accepted_and_normalised() {
        let a = session_args(&[]).expect("valid");
        assert_eq!(a.app.to_string(), APP);
        let upper = APP.to_uppercase();
        let a = parse(&["create-session", "--app", &upper]).expect("valid");
        match a.command {
            Command::CreateSession(a) => assert_eq!(a.app.to_string(), APP),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn bad_timestamps_are_refused_naming_the_flag() {
        for flag in [
            "--created-at",
            "--connected-at",
            "--last-active-at",
            "--token-expires-at",
            "--disconnected-at",
        ] {
            refused(&["create-session", "--app", APP, flag, "yesterday"], flag);
        }
        refused(
            &[
                "create-session",
                "--app",
                APP,
                "--created-at",
                "2026-13-01T00:00:00Z",
            ],
            "--created-at",
        );
    }

    #[test]
    fn timestamps_are_normalised_to_utc_milliseconds() {
        let a = session_args(&["--created-at", "2026-12-01T01:36:03.123456+02:00"]).expect("ok");
        let created = a.created_at.expect("set");
        assert_eq!(time::format(&created), "2026-11-30T23:36:03.123Z");
    }

    #[test]
    fn client_info_must_be_a_json_object() {
        for bad in ["[1,2]", "\"claude\"", "42", "null", "{not json"] {
            refused(
                &["create-session", "--app", APP, "--client-info", bad],
                "--client-info",
            );
        }
        let a = session_args(&[
            "--client-info",
            r#"{"name":"cursor-vscode","version":"1.0.0"}"#,
        ])
        .expect("object");
        assert_eq!(
            a.client_info,
            Some(serde_json::json!({"name": "cursor-vscode", "version": "1.0.0"}))
        );
    }

    #[test]
    fn unknown_status_is_refused() {
        let err = parse(&["create-session", "--app", APP, "--status", "idle"]).expect_err("bad");
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn status_and_disconnection_time_resolve_consistently() {
        let now = time::parse("2026-12-01T10:00:00Z").expect("ts");
        let at = time::parse("2026-12-01T09:00:00Z").expect("ts");
        let resolve = |extra: &[&str]| session_args(extra).expect("parse").resolve_status(now);
        assert_eq!(resolve(&[]), Ok((SessionStatus::Active, None)));
        assert_eq!(
            resolve(&["--status", "disconnected"]),
            Ok((SessionStatus::Disconnected, Some(now)))
        );
        assert_eq!(
            resolve(&["--disconnected-at", "2026-12-01T09:00:00Z"]),
            Ok((SessionStatus::Disconnected, Some(at)))
        );
        assert!(resolve(&[
            "--status",
            "active",
            "--disconnected-at",
            "2026-12-01T09:00:00Z"
        ])
        .is_err());
    }

    #[test]
    fn seed_count_and_token_ttl_are_bounded() {
        refused(&["seed", "--app", APP, "--count", "0"], "--count");
        refused(&["seed", "--app", APP, "--count", "lots"], "--count");
        let org = "0b7e0d4e-5d6f-4f7a-9a53-1d2b3c4d5e6f";
        refused(
            &["token", "--org", org, "--ttl-seconds", "0"],
            "--ttl-seconds",
        );
        refused(
            &["token", "--org", org, "--ttl-seconds", "86401"],
            "--ttl-seconds",
        );
        match parse(&["token", "--org", org]).expect("defaults").command {
            Command::Token(t) => {
                assert_eq!(t.ttl_seconds, 3600);
                assert_eq!(t.scope, DEFAULT_TOKEN_SCOPE);
                assert_eq!(t.sub, "dev-user");
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn connection_side_commands_parse_and_check_their_flags() {
        let session = "3f2a1b9c-0000-4000-8000-000000000001";
        match parse(&[
            "connect",
            "--app",
            APP,
            "--hostname",
            "alice-mbp",
            "--client-info",
            r#"{"name":"claude-ai","version":"0.1.0"}"#,
            "--idempotency-key",
            "retry-1",
        ])
        .expect("valid")
        .command
        {
            Command::Connect(a) => {
                assert_eq!(a.app.to_string(), APP);
                assert_eq!(a.hostname.as_deref(), Some("alice-mbp"));
                assert_eq!(a.idempotency_key.as_deref(), Some("retry-1"));
                assert_eq!(a.name, None);
            }
            other => panic!("parsed as {other:?}"),
        }
        match parse(&[
            "heartbeat",
            "--app",
            APP,
            "--session",
            session,
            "--last-active-at",
            "2026-12-01T09:00:00Z",
        ])
        .expect("valid")
        .command
        {
            Command::Heartbeat(a) => {
                assert_eq!(a.session.session.to_string(), session);
                assert!(a.last_active_at.is_some() && a.token_expires_at.is_none());
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(matches!(
            parse(&["disconnect", "--app", APP, "--session", session])
                .expect("valid")
                .command,
            Command::Disconnect(_)
        ));
        assert!(matches!(
            parse(&["heartbeat-all", "--app", APP])
                .expect("valid")
                .command,
            Command::HeartbeatAll(_)
        ));
        assert!(matches!(
            parse(&["sweep"]).expect("valid").command,
            Command::Sweep
        ));

        refused(
            &["connect", "--app", APP, "--client-info", "[]"],
            "--client-info",
        );
        refused(
            &["connect", "--app", APP, "--token-expires-at", "soon"],
            "--token-expires-at",
        );
        refused(&["heartbeat", "--app", APP, "--session", "s1"], "--session");
        refused(
            &[
                "heartbeat",
                "--app",
                APP,
                "--session",
                session,
                "--last-active-at",
                "now",
            ],
            "--last-active-at",
        );
        let err = parse(&["disconnect", "--app", APP]).expect_err("no --session");
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn required_flags_are_required() {
        let err = parse(&["create-app"]).expect_err("no --org");
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        let err = parse(&["seed", "--app", APP]).expect_err("no --count");
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
    }
}
