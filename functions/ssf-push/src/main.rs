//! `ssf-push`, triggered by the delivery queue (template.yaml, `SsfDeliveryQueue`): wiring
//! only; the worker lives in `sessions::ssf::queue`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use sessions::ssf::queue::PushWorker;

// One thread, like the HTTP functions: Lambda sends an environment one event at a time
// (docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    sessions::telemetry::init();
    // A bad configuration or an unreadable key fails the init, before any message is taken.
    let worker = PushWorker::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = &worker;
        async move { Ok::<SqsBatchResponse, lambda_runtime::Error>(worker.handle(event.payload).await) }
    }))
    .await
}
