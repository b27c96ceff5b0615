//! `sweep-sessions`, invoked every minute by EventBridge Scheduler (template.yaml,
//! `SweepSessionsSchedule`): wiring only; the handler lives in the library beside it.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use sweep_sessions::Sweeper;

// One thread, like the HTTP functions: Lambda sends an environment one event at a time
// (docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    sessions::telemetry::init();
    // A bad configuration fails the init, before any event is accepted.
    let sweeper = Sweeper::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let sweeper = &sweeper;
        async move { sweeper.handle(event).await }
    }))
    .await
}
