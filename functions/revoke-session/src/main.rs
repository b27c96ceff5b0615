//! `DELETE /api/v1/applications/{applicationId}/sessions/{sessionId} (revoke one)`: wiring only; the handler lives in `sessions::api`.

use sessions::api::{endpoint, serve, Endpoint};
use sessions::route::Route;

/// This function's route; chosen at compile time, so no other route's code is linked.
const ENDPOINT: Endpoint = endpoint(Route::RevokeSession);

// One thread: Lambda sends an environment one event at a time, and 256-512 MB functions get a
// fraction of a vCPU, so worker threads would only add start-up (docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    serve(ENDPOINT).await
}
