//! The connection side: the component that holds the MCP connections reports a connect, a
//! heartbeat and a disconnect. Bodies are read by [`crate::body`], after the caller and the
//! path are checked (so a caller without the right token learns nothing from them either).

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::Request;
use serde::Serialize;
use uuid::Uuid;

use super::envelope::{path_uuid, to_json, Exchange, Facts, Reply};
use super::{store_error, Api};
use crate::body::{self, ConnectBody, HeartbeatBody};
use crate::error::ApiError;
use crate::model::{DisconnectReason, SessionView};
use crate::store::{Connected, Heartbeat, Idempotency, NewSession};

/// The request header that makes a connect safe to retry.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// `{"session": Session}`: the answer of a connect and of a heartbeat.
#[derive(Serialize)]
struct SessionBody<'a> {
    session: SessionView<'a>,
}

/// A header's raw bytes (API Gateway joins repeated headers with commas into one value).
fn header<'r>(req: &'r Request, name: &str) -> Option<&'r [u8]> {
    req.headers().get(name).map(|v| v.as_bytes())
}

/// The body as received; `lambda_http` has already undone API Gateway's base64.
fn body_bytes(req: &Request) -> &[u8] {
    req.body().as_ref()
}

impl Api {
    /// `POST …/sessions`: 201 with the new session and its `Location`, or 200 with the session
    /// an earlier connect with the same `Idempotency-Key` and body created.
    pub(super) async fn connect(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let raw = body_bytes(req);
        let given = ConnectBody::parse(header(req, CONTENT_TYPE.as_str()), raw, x.now)?;
        let idempotency =
            body::idempotency_key(header(req, IDEMPOTENCY_KEY_HEADER))?.map(|key| Idempotency {
                key,
                fingerprint: body::fingerprint(raw),
            });
        let new = NewSession {
            organization_id: org,
            application_id,
            name: given.name,
            hostname: given.hostname,
            user_agent: given.user_agent,
            client_info: given.client_info,
            token_expires_at: given.token_expires_at,
        };
        let connected = self
            .store
            .connect(&new, x.now, idempotency.as_ref())
            .await
            .map_err(|e| store_error(x, e))?;
        let (status, session, revoked_before) = match connected {
            // Connected after any revocation (the store checked the watermark).
            Connected::Created(session) => (201, session, None),
            // Judged as of now: it may have been revoked or closed since it was created.
            Connected::Replayed(session) => {
                let application = self
                    .store
                    .get_application(org, application_id)
                    .await
                    .map_err(|e| store_error(x, e))?;
                (200, session, application.revoked_before)
            }
        };
        let ctx = self.status_context(x.now, revoked_before);
        let mut reply = to_json(&SessionBody {
            session: session.view(&ctx),
        })?;
        reply.status = status;
        reply
            .headers
            .push(("location", session_location(application_id, session.id)));
        Ok(reply)
    }

    /// `POST …/sessions/{sessionId}/heartbeat`: 200 with the session, or 409
    /// `session_disconnected` when it is disconnected for any reason.
    pub(super) async fn heartbeat(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        let given =
            HeartbeatBody::parse(header(req, CONTENT_TYPE.as_str()), body_bytes(req), x.now)?;
        let beat = Heartbeat {
            last_active_at: given.last_active_at,
            token_expires_at: given.token_expires_at,
        };
        let (application, session) = self
            .store
            .heartbeat(
                org,
                application_id,
                session_id,
                &beat,
                x.now,
                self.heartbeat_timeout,
            )
            .await
            .map_err(|e| store_error(x, e))?;
        let ctx = self.status_context(x.now, application.revoked_before);
        to_json(&SessionBody {
            session: session.view(&ctx),
        })
    }

    /// `POST …/sessions/{sessionId}/disconnect`: the transport closed. Idempotent like
    /// revoke-one, with the reason `closed`.
    pub(super) async fn disconnect(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        body::parse_disconnect(header(req, CONTENT_TYPE.as_str()), body_bytes(req))?;
        self.end_session(
            (org, application_id, session_id),
            DisconnectReason::Closed,
            x,
            facts,
        )
        .await
    }
}

/// Where a session can be read: `/api/v1/applications/{applicationId}/sessions/{id}`.
fn session_location(application_id: Uuid, session_id: Uuid) -> String {
    crate::route::Route::GetSession
        .path()
        .replace("{applicationId}", &application_id.to_string())
        .replace("{sessionId}", &session_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_the_get_route_of_the_session() {
        let app = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440000").expect("uuid");
        let session = Uuid::parse_str("6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B").expect("uuid");
        assert_eq!(
            session_location(app, session),
            "/api/v1/applications/550e8400-e29b-41d4-a716-446655440000/sessions/\
             6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
        );
    }
}
