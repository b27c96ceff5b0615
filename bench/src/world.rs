//! The bench's data: the embedded DynamoDB-compatible engine the tests use, the test harness's
//! SDK client whose interceptor counts the requests it sends, and fast seeding of realistic
//! sessions.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::Duration;
use futures::stream::{self, StreamExt, TryStreamExt};
use sessions::model::{Application, Session};
use sessions::store::layout::session_to_item;
use sessions::store::DynamoStore;
use sessions::time;
pub use sessions_tests::calls::{counting_client, CallCounter};
use uuid::Uuid;

/// The largest batch `BatchWriteItem` takes.
const BATCH_WRITE_MAX: usize = 25;
/// Batches in flight while seeding.
const SEED_CONCURRENCY: usize = 4;

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
    session
}

/// Writes `count` connected sessions of `app` with `BatchWriteItem` (the gateway would create
/// them one transaction at a time; the bench needs thousands quickly). Returns their ids,
/// newest first.
pub async fn seed_sessions(
    client: &Client,
    table: &str,
    app: &Application,
    count: usize,
) -> Vec<Uuid> {
    let sessions: Vec<Session> = (0..count).map(|i| realistic_session(app, i)).collect();
    let ids = sessions.iter().map(|s| s.id).collect();
    let batches: Vec<Vec<WriteRequest>> = sessions
        .chunks(BATCH_WRITE_MAX)
        .map(|chunk| chunk.iter().map(write_request).collect())
        .collect();
    stream::iter(batches)
        .map(|batch| write_batch(client, table, batch))
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .expect("seed sessions");
    ids
}

fn write_request(session: &Session) -> WriteRequest {
    let item = session_to_item(session).expect("a session encodes");
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("a put request with an item"),
        )
        .build()
}

/// One batch, resubmitting whatever the engine leaves unprocessed.
async fn write_batch(
    client: &Client,
    table: &str,
    mut batch: Vec<WriteRequest>,
) -> Result<(), String> {
    for _ in 0..10 {
        let out = client
            .batch_write_item()
            .request_items(table, batch)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "BatchWriteItem: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        batch = out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        if batch.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err("BatchWriteItem: items left unprocessed".into())
}
