//! The bench's data: the embedded DynamoDB-compatible engine the tests use, the test harness's
//! SDK client whose interceptor counts the requests it sends, and seeding of realistic
//! sessions through the store.

use aws_sdk_dynamodb::Client;
use chrono::Duration;
use futures::stream::{self, StreamExt, TryStreamExt};
use sessions::model::{Application, Session};
use sessions::store::{DynamoStore, NewSession};
use sessions::time::{self, Timestamp};
pub use sessions_tests::calls::{counting_client, CallCounter};
use uuid::Uuid;

/// Sessions written at once while seeding.
const SEED_CONCURRENCY: usize = 8;

/// A fresh table with the service's schema, on the bench's engine, without its change stream:
/// dynoxide finds the next stream sequence number by scanning every stream record it holds, so
/// with the stream on each write costs time in proportion to all the writes before it, and
/// 10,000 updates would measure that scan rather than the code (DynamoDB's stream is off the
/// write path). See `DynamoStore::create_table_with_stream`.
pub async fn create_table(client: &Client, table: &str) -> DynamoStore {
    let store = DynamoStore::new(client.clone(), table);
    store
        .create_table_with_stream(false)
        .await
        .expect("create the bench table");
    store
}

/// A new application of `organization_id`.
pub async fn create_app(store: &DynamoStore, organization_id: Uuid, name: &str) -> Application {
    let app = Application {
        id: Uuid::new_v4(),
        organization_id,
        name: name.into(),
        created_at: time::now() - Duration::days(1),
        revoked_before: None,
    };
    store
        .create_application(&app)
        .await
        .expect("create a bench application");
    app
}

/// A connected session as the gateway would record it, with every optional field set so items
/// and responses have their real size. Session `i` is `i` seconds older than the newest.
pub fn realistic_session(app: &Application, i: usize) -> Session {
    let created_at = time::now() - Duration::seconds(i as i64 + 1);
    let mut session = sessions_tests::session_of(app, created_at);
    session.hostname = Some(format!("laptop-{:04}.corp.example.com", i % 10_000));
    session.user_agent = Some("claude-code/1.0.83 (linux; x86_64)".into());
    session.client_info = Some(serde_json::json!({"name": "claude-ai", "version": "0.1.0"}));
    session.token_expires_at = Some(created_at + Duration::hours(1));
    session.last_active_at = Some(created_at);
    // Heartbeating throughout the run: its last sign of life stays ahead of the heartbeat
    // timeout however long the bench takes, so it reads (and lists) as connected.
    session.last_seen_at = Some(time::now() + Duration::days(1));
    session
}

/// Writes `count` connected sessions of `app` through the store's `create_session` (one
/// transaction each: the session, its markers and its place in the `live` index, as the
/// service writes them), a few in flight. Returns their ids, newest first.
pub async fn seed_sessions(store: &DynamoStore, app: &Application, count: usize) -> Vec<Uuid> {
    seed_these(
        store,
        (0..count).map(|i| realistic_session(app, i)).collect(),
    )
    .await
}

/// Writes `sessions` as they are, a few in flight; their ids in the same order.
pub async fn seed_these(store: &DynamoStore, sessions: Vec<Session>) -> Vec<Uuid> {
    let ids = sessions.iter().map(|s| s.id).collect();
    stream::iter(sessions)
        .map(|session| async move {
            store
                .create_session(&session)
                .await
                .map_err(|e| format!("create_session: {e}"))
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .expect("seed sessions");
    ids
}

/// What a connection gateway reports for a new client: every optional field set, so items and
/// responses have their real size.
pub fn realistic_connect(app: &Application, i: usize, now: Timestamp) -> NewSession {
    let hostname = format!("laptop-{:04}.corp.example.com", i % 10_000);
    NewSession {
        organization_id: app.organization_id,
        application_id: app.id,
        name: format!("claude-ai on {hostname}"),
        hostname: Some(hostname),
        user_agent: Some("claude-code/1.0.83 (linux; x86_64)".into()),
        client_info: Some(serde_json::json!({"name": "claude-ai", "version": "0.1.0"})),
        token_expires_at: Some(now + Duration::hours(1)),
    }
}
