//! The local push worker (`sessions-admin ssf-push`, and the tests): the delivery code of
//! `ssf-push` behind a loopback HTTP endpoint. A `POST` of a delivery-queue message (an
//! EventBridge envelope, as the local stream poller forwards every event; or a dead letter, to
//! replay it) answers `202` at once; retries wait in memory with the same backoff, and dead
//! letters are appended, one JSON object per line, to a file and logged.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::queue::{handle_message, Message};
use super::transmitter::{DeadLetter, Job, Scheduler, Transmitter};

/// Retries in memory (a sleeping task each) and dead letters into a file.
#[derive(Debug, Clone)]
pub struct LocalScheduler {
    transmitter: Arc<Transmitter>,
    dead_letters: Arc<Mutex<PathBuf>>,
}

impl LocalScheduler {
    pub fn new(transmitter: Transmitter, dead_letters: PathBuf) -> LocalScheduler {
        LocalScheduler {
            transmitter: Arc::new(transmitter),
            dead_letters: Arc::new(Mutex::new(dead_letters)),
        }
    }

    /// Handles one message in the background.
    pub fn accept(&self, message: Message) {
        let scheduler = self.clone();
        let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            if let Err(e) = handle_message(&scheduler.transmitter, &scheduler, message).await {
                tracing::error!(error = %e, "delivery message failed");
            }
        });
        tokio::spawn(task);
    }
}

impl Scheduler for LocalScheduler {
    async fn retry(&self, job: Job, delay: Duration) -> Result<(), String> {
        tracing::info!(stream_id = %job.stream_id, jti = %job.jti, attempt = job.attempt,
            delay_ms = delay.as_millis() as u64, "SET push retry scheduled");
        spawn_retry(self.clone(), job, delay);
        Ok(())
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), String> {
        let mut line = serde_json::to_vec(&letter).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let path = self.dead_letters.lock().await;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
            .await
            .map_err(|e| format!("the dead-letter file {}: {e}", path.display()))?;
        file.write_all(&line)
            .await
            .map_err(|e| format!("the dead-letter file {}: {e}", path.display()))?;
        tracing::warn!(file = %path.display(), stream_id = %letter.job.stream_id,
            jti = %letter.job.jti, "dead letter written; POST the line back to replay it");
        Ok(())
    }
}

/// Attempts `job` again after `delay`, in a task of its own. (A plain function: inside the
/// async `retry` the task's type would have to contain `retry`'s own.)
fn spawn_retry(scheduler: LocalScheduler, job: Job, delay: Duration) {
    let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
        tokio::time::sleep(delay).await;
        if let Err(e) = scheduler.transmitter.run(job, &scheduler).await {
            tracing::error!(error = %e, "SET retry failed");
        }
    });
    tokio::spawn(task);
}

/// The worker's HTTP endpoint: `POST /` (or any path) with one message as JSON.
pub fn router(scheduler: LocalScheduler) -> Router {
    async fn receive(State(scheduler): State<LocalScheduler>, body: String) -> StatusCode {
        match serde_json::from_str::<Message>(&body) {
            Ok(message) => {
                scheduler.accept(message);
                StatusCode::ACCEPTED
            }
            Err(e) => {
                tracing::warn!(error = %e, "not a delivery message");
                StatusCode::BAD_REQUEST
            }
        }
    }
    Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .with_state(scheduler)
}

/// Serves the worker on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    scheduler: LocalScheduler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(scheduler))
        .with_graceful_shutdown(shutdown)
        .await
}
