//! `DELETE /api/v1/applications/{applicationId}/sessions/{sessionId}`: wiring only; the
//! handler lives in `sessions_shared::api`.

use lambda_http::{run, service_fn, Error, Request};
use sessions_shared::{api::Api, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let api = Api::from_env().await?;
    run(service_fn(|req: Request| {
        let api = &api;
        async move { Ok::<_, Error>(api.revoke_session(req).await) }
    }))
    .await
}
