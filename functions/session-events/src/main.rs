//! `session-events`, fed by the table's DynamoDB stream (template.yaml,
//! `SessionEventsFunction`): wiring only; the handler lives in the library beside it.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use session_events::{EventBridge, Handler};

// One thread, like the other functions: Lambda sends an environment one batch at a time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    sessions::telemetry::init();
    // A bad configuration fails the init, before any batch is accepted.
    let handler = Handler::new(EventBridge::from_env().await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handler = &handler;
        async move { handler.handle(event).await }
    }))
    .await
}
