//! `GET /ssf/jwks`: wiring only; the handlers live in `sessions::api`.

use sessions::api::{endpoint, serve_methods, Endpoint};
use sessions::route::Route;

/// This function's routes; chosen at compile time, so no other route's code is linked.
const ENDPOINTS: &[Endpoint] = &[endpoint(Route::SsfJwks)];

// One thread: Lambda sends an environment one event at a time (docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    serve_methods(ENDPOINTS).await
}
