//! What the logs hold: requests that succeed, fail authentication, carry cursors (good and
//! bad) and hit a failing dependency are run with every log line captured, at every level,
//! in the functions' JSON format; no token, secret, cursor key or cursor appears in them.
//!
//! The capture is a thread-local subscriber (`tracing::subscriber::set_default`), never a
//! global one, and the test runs in a process of its own (`sessions_tests::process::alone`):
//! `tracing` caches whether a log statement is wanted the first time any thread reaches it,
//! and while only one subscriber exists it asks the reaching thread's. A statement first
//! reached by another test's thread would be cached as unwanted, and its lines lost here.

use std::io::Write;
use std::sync::{Arc, Mutex};

use sessions::route::Route;
use sessions_tests::process::alone;
use sessions_tests::{
    api_at, call, dev_token, faults, Event, Reply, World, CURSOR_KEY, DEV_SECRET,
};
use uuid::Uuid;

/// A log sink shared by every writer the subscriber makes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().expect("not poisoned").clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Every piece of a secret that must not be logged: the whole, and each JWT segment.
fn pieces(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    out.extend(
        secret
            .split('.')
            .filter(|p| p.len() >= 16)
            .map(String::from),
    );
    out
}

#[test]
fn no_secret_token_or_cursor_is_ever_logged() {
    let name = concat!(module_path!(), "::no_secret_token_or_cursor_is_ever_logged");
    if alone(name, std::time::Duration::from_secs(180)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(logged());
    }
}

async fn logged() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread (tokio's current-thread runtime), so everything it polls,
    // the handlers, the SDK and the embedded engine, logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
    })
    .await;
    for age in 1..=3 {
        world
            .put(&world.session(chrono::Duration::seconds(age)))
            .await;
    }
    let good = dev_token(world.org, "sessions:read sessions:write", DEV_SECRET, 300);
    let forged = dev_token(
        world.org,
        "management:all",
        "a-guessed-secret-0123456789abcdef0123",
        300,
    );
    let expired = dev_token(world.org, "sessions:read", DEV_SECRET, -3600);
    let read_only = dev_token(world.org, "sessions:read", DEV_SECRET, 300);
    let as_dev = |e: Event, t: &str| e.without_authorizer().bearer(t);
    let mut replies: Vec<Reply> = Vec::new();

    // A first page, then the next one with its cursor.
    let first = world
        .call(as_dev(world.event(Route::ListSessions), &good).query("limit", "1"))
        .await;
    let cursor = first.next_cursor().expect("a next page");
    let second = world
        .call(
            as_dev(world.event(Route::ListSessions), &good)
                .query("limit", "1")
                .query("cursor", &cursor),
        )
        .await;
    let next_cursor = second.next_cursor().expect("a third page");
    replies.extend([first, second]);
    // An altered cursor, and the genuine one under another filter.
    let altered = format!("{}A", &cursor[..cursor.len() - 1]);
    for (bad, status) in [(&altered, "all"), (&cursor, "inactive")] {
        replies.push(
            world
                .call(
                    as_dev(world.event(Route::ListSessions), &good)
                        .query("status", status)
                        .query("cursor", bad),
                )
                .await,
        );
    }
    // Failing authentication, in every way, and a missing scope.
    for t in [&forged, &expired, &format!("{good}x")] {
        replies.push(
            world
                .call(as_dev(world.event(Route::ListSessions), t))
                .await,
        );
    }
    replies.push(
        world
            .call(
                world
                    .event(Route::ListSessions)
                    .without_authorizer()
                    .header("authorization", &format!("Basic {good}")),
            )
            .await,
    );
    replies.push(
        world
            .call(as_dev(world.event(Route::RevokeSessions), &read_only))
            .await,
    );
    // The other routes, successful.
    let id = Uuid::parse_str(&replies[0].ids()[0]).expect("an id");
    replies.push(world.call(as_dev(world.get_event(id), &good)).await);
    replies.push(world.call(as_dev(world.revoke_one_event(id), &good)).await);
    replies.push(
        world
            .call(as_dev(world.event(Route::RevokeSessions), &good))
            .await,
    );
    // Gateway mode: the raw header API Gateway forwards (the events' example token) too.
    let gateway = World::new().await;
    let event = gateway
        .event(Route::ListSessions)
        .query("cursor", &next_cursor);
    let forwarded = event.json()["headers"]["authorization"]
        .as_str()
        .expect("the example event carries a token")
        .trim_start_matches("Bearer ")
        .to_string();
    replies.push(gateway.call(event).await);
    // A failing dependency: its error is logged, with nothing secret in it.
    let down = api_at(&faults::unreachable().await, "sessions");
    replies.push(call(&down, gateway.event(Route::ListSessions)).await);

    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 400, 400, 401, 401, 401, 401, 403, 200, 200, 200, 400, 503]
    );

    let logs = capture.text();
    // The capture works: one line per request, and the dev-verifier warning.
    let request_lines = logs
        .lines()
        .filter(|l| l.contains(r#""message":"request""#) && l.contains(r#""route":""#))
        .count();
    assert_eq!(request_lines, replies.len(), "one log line per request");
    assert!(logs.contains("SESSIONS_DEV_JWT_SECRET is set"));
    assert!(logs.contains("dependency unavailable"));

    let mut secrets = vec![DEV_SECRET.to_string(), CURSOR_KEY.to_string()];
    for t in [&good, &forged, &expired, &read_only, &forwarded] {
        secrets.extend(pieces(t));
    }
    secrets.extend([cursor, next_cursor, altered]);
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "logged: {secret}");
    }
    // Nor the secrets' bytes as a `Debug` of `Vec<u8>` would show them.
    for key in [DEV_SECRET, CURSOR_KEY] {
        let bytes = format!("{:?}", &key.as_bytes()[..8]);
        let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
        assert!(!logs.contains(bytes), "logged the bytes of a key");
    }
}
