//! Demo data: sessions that look like real MCP clients and cover every derived status.
//!
//! Everything here is pure (time and randomness come in as arguments), so the tests can check
//! that each generated session really reads as the status it was made for.

use chrono::Duration;
use rand::seq::IndexedRandom;
use rand::Rng;
use sessions::model::{Application, Session, SessionStatus, StatusContext};
use sessions::time::Timestamp;
use uuid::Uuid;

/// How far back seeded sessions start: "the last few hours".
const HISTORY: Duration = Duration::hours(6);
/// Idle sessions went quiet at least this long ago (and always longer than the idle window).
const IDLE_QUIET_MIN: Duration = Duration::minutes(10);
/// ... and at most this much longer than that.
const IDLE_QUIET_SPAN: Duration = Duration::minutes(50);
/// Seeded tokens live this long when nothing else constrains them, like a typical access token.
const TOKEN_LIFETIME: Duration = Duration::hours(1);

/// The derived status a seeded session is made to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeedKind {
    Active,
    Idle,
    Expired,
    Disconnected,
}

impl SeedKind {
    /// Round-robin order: the first four sessions of any seed are one of each.
    pub const ALL: [SeedKind; 4] = [
        SeedKind::Active,
        SeedKind::Idle,
        SeedKind::Expired,
        SeedKind::Disconnected,
    ];

    /// A realistic share for the sessions after the first four: mostly connected, some closed.
    fn weight(self) -> u32 {
        match self {
            SeedKind::Active => 4,
            SeedKind::Idle => 2,
            SeedKind::Expired => 1,
            SeedKind::Disconnected => 3,
        }
    }
}

/// Which kinds `count` sessions get: one of each kind first (so every status appears whenever
/// `count >= 4`), then a weighted random draw for the rest.
pub fn plan_kinds(count: usize, rng: &mut impl Rng) -> Vec<SeedKind> {
    let total: u32 = SeedKind::ALL.iter().map(|k| k.weight()).sum();
    (0..count)
        .map(|i| match SeedKind::ALL.get(i) {
            Some(kind) => *kind,
            None => {
                let mut pick = rng.random_range(0..total);
                let mut chosen = SeedKind::Active;
                for kind in SeedKind::ALL {
                    if pick < kind.weight() {
                        chosen = kind;
                        break;
                    }
                    pick -= kind.weight();
                }
                chosen
            }
        })
        .collect()
}

/// The moment of seeding and what the derived status depends on.
#[derive(Debug, Clone, Copy)]
pub struct SeedClock {
    pub now: Timestamp,
    pub idle_window: Duration,
    /// The application's revocation watermark: a session that is still connected must have
    /// connected after it, or the store refuses it (and the API would call it disconnected).
    pub revoked_before: Option<Timestamp>,
}

impl SeedClock {
    /// The context the API will derive statuses with at this moment.
    pub fn status_context(&self) -> StatusContext {
        StatusContext {
            now: self.now,
            idle_window: self.idle_window,
            revoked_before: self.revoked_before,
            // Every seeded session is written now, its last sign of life (see `create_session`).
            heartbeat_timeout: None,
        }
    }

    /// How long ago a still-connected session may have connected: within the history, after
    /// the last revoke-all.
    fn max_connected_age(&self) -> Duration {
        match self.revoked_before {
            Some(watermark) => (self.now - watermark - Duration::seconds(1)).min(HISTORY),
            None => HISTORY,
        }
    }

    /// The quiet period of an idle session: 10 to 60 minutes, and always past the idle window.
    fn idle_quiet_range(&self) -> (Duration, Duration) {
        let low = IDLE_QUIET_MIN.max(self.idle_window + Duration::minutes(1));
        (low, low + IDLE_QUIET_SPAN)
    }

    /// The kind actually generated. A recent revoke-all (or a huge idle window) can leave too
    /// little time since the watermark to build an idle or expired session that connected
    /// after it; those become the nearest kind that fits, and the output says what was made.
    fn feasible(&self, kind: SeedKind) -> SeedKind {
        let room = self.max_connected_age();
        let fits = |kind| match kind {
            SeedKind::Active => room >= Duration::seconds(5),
            SeedKind::Idle => room >= self.idle_quiet_range().0 + Duration::minutes(2),
            SeedKind::Expired => room >= Duration::minutes(20),
            SeedKind::Disconnected => true,
        };
        [kind, SeedKind::Active, SeedKind::Disconnected]
            .into_iter()
            .find(|k| fits(*k))
            .unwrap_or(SeedKind::Disconnected)
    }
}

/// A kind of MCP client, as it reports itself.
struct ClientProfile {
    /// What a person would call it; session names start with it.
    label: &'static str,
    name: &'static str,
    title: Option<&'static str>,
    version: &'static str,
    user_agent: &'static str,
}

impl ClientProfile {
    /// The MCP `Implementation` object (`name`, optional `title`, `version`).
    fn client_info(&self) -> serde_json::Value {
        let mut info = serde_json::Map::new();
        info.insert("name".into(), self.name.into());
        if let Some(title) = self.title {
            info.insert("title".into(), title.into());
        }
        info.insert("version".into(), self.version.into());
        serde_json::Value::Object(info)
    }
}

const CLIENTS: &[ClientProfile] = &[
    ClientProfile {
        label: "Claude Desktop",
        name: "claude-ai",
        title: None,
        version: "0.1.0",
        user_agent: "Claude-Desktop/0.13.64 (macOS 15.5; arm64)",
    },
    ClientProfile {
        label: "Claude Code",
        name: "claude-code",
        title: None,
        version: "1.0.43",
        user_agent: "claude-code/1.0.43 (cli; linux x64)",
    },
    ClientProfile {
        label: "Cursor",
        name: "cursor-vscode",
        title: None,
        version: "1.0.0",
        user_agent: "Cursor/1.0.0 (darwin arm64)",
    },
    ClientProfile {
        label: "Windsurf",
        name: "windsurf",
        title: Some("Windsurf"),
        version: "1.2.3",
        user_agent: "Windsurf/1.2.3 (linux x64)",
    },
    ClientProfile {
        label: "VS Code",
        name: "Visual Studio Code",
        title: None,
        version: "1.101.2",
        user_agent: "Code/1.101.2 (win32 x64)",
    },
    ClientProfile {
        label: "MCP Inspector",
        name: "mcp-inspector",
        title: Some("MCP Inspector"),
        version: "0.16.1",
        user_agent: "node",
    },
];

const HOSTS: &[&str] = &[
    "alice-mbp.local",
    "bob-thinkpad",
    "carol-xps-13",
    "dan-mac-mini.local",
    "devbox-eu-west-3",
    "ci-runner-7f2c.internal",
    "build-agent-12.corp.example.com",
    "erin-workstation",
];

/// One in this many clients reports no hostname (the API serves `null`).
const NO_HOSTNAME_ONE_IN: u32 = 8;

/// A random duration in `[low, high]` at millisecond precision (`low` when the range is empty).
fn between(rng: &mut impl Rng, low: Duration, high: Duration) -> Duration {
    let (low, high) = (low.num_milliseconds(), high.num_milliseconds());
    if high <= low {
        return Duration::milliseconds(low);
    }
    Duration::milliseconds(rng.random_range(low..=high))
}

/// One session of the given kind for `app`, with every timestamp in the past and ordered as a
/// real connection's would be: created, connected, active, then expired or disconnected.
/// Returns the kind actually made (see [`SeedClock::feasible`]).
pub fn seed_session(
    kind: SeedKind,
    app: &Application,
    clock: &SeedClock,
    rng: &mut impl Rng,
) -> (SeedKind, Session) {
    let kind = clock.feasible(kind);
    let now = clock.now;
    let room = clock.max_connected_age();
    let ago = |d: Duration| now - d;

    // Ages (how long before `now`) of creation, last activity and the end of the token.
    let (created_ago, last_active_ago, token_expires_at, disconnected_at) = match kind {
        SeedKind::Active => {
            let created_ago = between(rng, Duration::minutes(1).min(room), room);
            let quiet_max = (clock.idle_window / 2)
                .min(Duration::minutes(2))
                .min(created_ago / 2);
            let last_active_ago = between(rng, Duration::milliseconds(1), quiet_max);
            let expires_in = between(rng, Duration::minutes(5), TOKEN_LIFETIME);
            (created_ago, last_active_ago, now + expires_in, None)
        }
        SeedKind::Idle => {
            let (low, high) = clock.idle_quiet_range();
            let last_active_ago = between(rng, low, high.min(room - Duration::minutes(1)));
            let created_ago = between(rng, last_active_ago + Duration::minutes(1), room);
            let expires_in = between(rng, Duration::minutes(5), TOKEN_LIFETIME);
            (created_ago, last_active_ago, now + expires_in, None)
        }
        SeedKind::Expired => {
            let created_ago = between(rng, Duration::minutes(20), room);
            let lifetime = between(
                rng,
                Duration::minutes(10),
                TOKEN_LIFETIME.min(created_ago - Duration::minutes(1)),
            );
            let expired_ago = created_ago - lifetime;
            // Last used some time before the token ran out.
            let last_active_ago = expired_ago + between(rng, Duration::zero(), lifetime / 2);
            (created_ago, last_active_ago, ago(expired_ago), None)
        }
        SeedKind::Disconnected => {
            let created_ago = between(rng, Duration::minutes(20), HISTORY);
            let disconnected_ago = between(
                rng,
                Duration::minutes(1),
                created_ago - Duration::minutes(10),
            );
            let last_active_ago =
                disconnected_ago + between(rng, Duration::zero(), Duration::minutes(1));
            let created_at = ago(created_ago);
            (
                created_ago,
                last_active_ago,
                created_at + TOKEN_LIFETIME,
                Some(ago(disconnected_ago)),
            )
        }
    };

    let created_at = ago(created_ago);
    // The transport finishes its handshake a moment after the record is created.
    let connected_at =
        created_at + between(rng, Duration::milliseconds(20), Duration::milliseconds(900));
    let last_active_at = ago(last_active_ago).max(connected_at);

    let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    let client = CLIENTS.choose(rng).unwrap_or(&CLIENTS[0]);
    let hostname = if rng.random_ratio(1, NO_HOSTNAME_ONE_IN) {
        None
    } else {
        HOSTS.choose(rng).map(|h| h.to_string())
    };
    let name = session_name(client.label, hostname.as_deref(), id);

    let session = Session {
        id,
        application_id: app.id,
        organization_id: app.organization_id,
        name,
        status: if kind == SeedKind::Disconnected {
            SessionStatus::Disconnected
        } else {
            SessionStatus::Active
        },
        token_expires_at: Some(token_expires_at),
        last_active_at: Some(last_active_at),
        connected_at: Some(connected_at),
        disconnected_at,
        created_at,
        hostname,
        user_agent: Some(client.user_agent.to_string()),
        client_info: Some(client.client_info()),
        last_seen_at: None,
        disconnect_reason: None,
    };
    (kind, session)
}

/// `Cursor on alice-mbp`, or `Cursor 3f2a1b9c` when the client reported no hostname.
fn session_name(label: &str, hostname: Option<&str>, id: Uuid) -> String {
    match hostname.and_then(|h| h.split('.').next()) {
        Some(host) => format!("{label} on {host}"),
        None => format!("{label} {}", &id.simple().to_string()[..8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use sessions::model::DerivedStatus;
    use sessions::time;
    use std::collections::HashSet;

    fn at(s: &str) -> Timestamp {
        time::parse(s).expect("test timestamp")
    }

    /// The status the API must derive for a session of this kind, right after seeding.
    fn expected(kind: SeedKind) -> DerivedStatus {
        match kind {
            SeedKind::Active => DerivedStatus::Active,
            SeedKind::Idle => DerivedStatus::Idle,
            SeedKind::Expired => DerivedStatus::Expired,
            SeedKind::Disconnected => DerivedStatus::Disconnected,
        }
    }

    fn app(revoked_before: Option<Timestamp>) -> Application {
        Application {
            id: Uuid::from_u128(2),
            organization_id: Uuid::from_u128(1),
            name: "demo".into(),
            created_at: at("2026-11-01T00:00:00Z"),
            revoked_before,
        }
    }

    fn clock(idle_seconds: i64, revoked_before: Option<Timestamp>) -> SeedClock {
        SeedClock {
            now: at("2026-12-01T12:00:00Z"),
            idle_window: Duration::seconds(idle_seconds),
            revoked_before,
        }
    }

    #[test]
    fn every_kind_is_planned_whenever_there_are_four_or_more() {
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            for count in 4..=60 {
                let plan = plan_kinds(count, &mut rng);
                assert_eq!(plan.len(), count);
                let kinds: HashSet<_> = plan.iter().copied().collect();
                assert_eq!(kinds.len(), 4, "seed {seed}, count {count}: {plan:?}");
            }
        }
    }

    #[test]
    fn small_plans_are_distinct_kinds() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(plan_kinds(0, &mut rng), []);
        assert_eq!(
            plan_kinds(3, &mut rng),
            [SeedKind::Active, SeedKind::Idle, SeedKind::Expired]
        );
    }

    #[test]
    fn the_rest_of_a_plan_is_random_not_a_cycle() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = plan_kinds(200, &mut rng);
        let b = plan_kinds(200, &mut rng);
        assert_ne!(a, b);
        let active = a.iter().filter(|k| **k == SeedKind::Active).count();
        assert!((40..=120).contains(&active), "{active} active of 200");
    }

    /// Seeds many sessions and checks the API would derive exactly the intended status.
    fn check_kinds_hold(clock: SeedClock) {
        let app = app(clock.revoked_before);
        let ctx = clock.status_context();
        let mut rng = StdRng::seed_from_u64(42);
        for kind in SeedKind::ALL.iter().cycle().take(400) {
            let (made, s) = seed_session(*kind, &app, &clock, &mut rng);
            assert_eq!(made, *kind, "nothing forces a fallback here");
            assert_eq!(s.derived_status(&ctx), expected(*kind), "{s:?}");
        }
    }

    #[test]
    fn seeded_sessions_read_as_their_kind() {
        check_kinds_hold(clock(300, None));
    }

    #[test]
    fn seeded_sessions_respect_a_configured_idle_window() {
        check_kinds_hold(clock(20, None));
        check_kinds_hold(clock(3600, None));
    }

    #[test]
    fn connected_sessions_are_seeded_after_the_last_revocation() {
        let watermark = at("2026-12-01T10:30:00Z");
        check_kinds_hold(clock(300, Some(watermark)));
        let app = app(Some(watermark));
        let c = clock(300, Some(watermark));
        let mut rng = StdRng::seed_from_u64(3);
        for kind in SeedKind::ALL.iter().cycle().take(200) {
            let (_, s) = seed_session(*kind, &app, &c, &mut rng);
            if s.status == SessionStatus::Active {
                assert!(s.connected_since() > watermark, "{s:?}");
            }
        }
    }

    #[test]
    fn a_very_recent_revocation_degrades_to_kinds_that_fit() {
        let cases = [
            ("2026-12-01T11:55:00Z", SeedKind::Active),
            ("2026-12-01T11:59:50Z", SeedKind::Active),
            ("2026-12-01T11:59:58Z", SeedKind::Disconnected),
        ];
        for (watermark, fallback) in cases {
            let c = clock(300, Some(at(watermark)));
            let app = app(c.revoked_before);
            let mut rng = StdRng::seed_from_u64(5);
            for kind in SeedKind::ALL.iter().cycle().take(100) {
                let (made, s) = seed_session(*kind, &app, &c, &mut rng);
                // A disconnected session may predate the watermark; the others must not.
                let want = if *kind == SeedKind::Disconnected {
                    SeedKind::Disconnected
                } else {
                    fallback
                };
                assert_eq!(made, want, "{watermark} {kind:?}");
                assert_eq!(s.derived_status(&c.status_context()), expected(made));
                assert!(s.created_at < c.now);
                if s.status == SessionStatus::Active {
                    assert!(s.connected_since() > at(watermark), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn timestamps_are_in_the_past_and_in_a_sensible_order() {
        let c = clock(300, None);
        let app = app(None);
        let mut rng = StdRng::seed_from_u64(9);
        for kind in SeedKind::ALL.iter().cycle().take(400) {
            let (_, s) = seed_session(*kind, &app, &c, &mut rng);
            assert!(s.created_at < c.now);
            assert!(s.created_at >= c.now - HISTORY);
            let connected = s.connected_at.expect("connected");
            let last = s.last_active_at.expect("active");
            assert!(
                s.created_at <= connected && connected <= last && last < c.now,
                "{s:?}"
            );
            if let Some(d) = s.disconnected_at {
                assert!(last <= d && d < c.now, "{s:?}");
            }
            assert_eq!(
                s.disconnected_at.is_some(),
                s.status == SessionStatus::Disconnected
            );
            assert_eq!(time::to_millis_precision(s.created_at), s.created_at);
        }
    }

    #[test]
    fn sessions_look_like_real_mcp_clients() {
        let c = clock(300, None);
        let app = app(None);
        let mut rng = StdRng::seed_from_u64(11);
        let mut ids = HashSet::new();
        let mut clients = HashSet::new();
        for kind in SeedKind::ALL.iter().cycle().take(200) {
            let (_, s) = seed_session(*kind, &app, &c, &mut rng);
            assert!(ids.insert(s.id), "ids are unique");
            assert_eq!(s.id.get_version_num(), 4);
            assert_eq!(
                (s.application_id, s.organization_id),
                (app.id, app.organization_id)
            );
            let info = s
                .client_info
                .as_ref()
                .and_then(|i| i.as_object())
                .expect("object");
            assert!(info["name"].is_string() && info["version"].is_string());
            clients.insert(info["name"].as_str().unwrap_or_default().to_string());
            assert!(!s.name.is_empty() && s.user_agent.is_some());
        }
        assert!(clients.len() >= 4, "{clients:?}");
        assert!(clients.contains("claude-ai") && clients.contains("windsurf"));
    }

    #[test]
    fn names_use_the_short_hostname_or_the_id() {
        let id = Uuid::parse_str("3f2a1b9c-0000-4000-8000-000000000000").expect("uuid");
        assert_eq!(
            session_name("Cursor", Some("alice-mbp.local"), id),
            "Cursor on alice-mbp"
        );
        assert_eq!(session_name("Cursor", None, id), "Cursor 3f2a1b9c");
    }
}
