//! `DELETE /api/v1/applications/{applicationId}/sessions`: wiring only; the handler lives in `sessions_shared::api`.

use sessions_shared::api::{serve, Endpoint};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serve(Endpoint::RevokeSessions).await
}
