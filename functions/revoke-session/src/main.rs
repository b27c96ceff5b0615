//! `DELETE /api/v1/applications/{applicationId}/sessions/{sessionId} (revoke one)`: wiring only; the handler lives in `sessions_shared::api`.

use sessions_shared::api::{serve, Endpoint};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serve(Endpoint::RevokeSession).await
}
