//! The Shared Signals transmitter's HTTP routes (SSF 1.0): the discovery document and the keys
//! (public), and a receiver's stream management (scope `ssf:manage`): the configuration, status
//! and verification endpoints. A receiver's organization comes from its verified token only;
//! another organization's stream is 404, exactly as one that does not exist.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Request, RequestExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::envelope::{to_json, Exchange, Facts, Reply};
use super::{store_error, Api};
use crate::error::ApiError;
use crate::ssf::signer::Jwks;
use crate::ssf::stream::{self, Stream, StreamStatus};
use crate::ssf::transmitter::Transmitter;
use crate::ssf::PUSH_METHOD;

/// Every member a stream management body may hold; [`crate::ssf::stream`] says which each
/// request takes.
const STREAM_MEMBERS: [&str; 8] = [
    "stream_id",
    "iss",
    "aud",
    "delivery",
    "events_supported",
    "events_requested",
    "events_delivered",
    "description",
];
const STATUS_MEMBERS: [&str; 3] = ["stream_id", "status", "reason"];
const VERIFY_MEMBERS: [&str; 2] = ["stream_id", "state"];

/// A management request's caller (authenticated, with `ssf:manage`), and the transmitter.
struct Receiver<'a> {
    transmitter: &'a Transmitter,
    organization_id: Uuid,
    subject: Option<String>,
}

fn with_status(mut reply: Reply, status: u16) -> Reply {
    reply.status = status;
    reply
}

fn no_content() -> Reply {
    Reply {
        status: 204,
        body: Vec::new(),
        headers: Vec::new(),
    }
}

impl Api {
    fn transmitter(&self) -> Result<&Transmitter, ApiError> {
        self.ssf.as_deref().ok_or_else(|| {
            tracing::error!("a Shared Signals route in a function built without the transmitter");
            ApiError::Internal
        })
    }

    fn receiver(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Receiver<'_>, ApiError> {
        let transmitter = self.transmitter()?;
        let caller = self.auth.authenticate(req)?;
        facts.organization_id = Some(caller.organization_id);
        caller.require(x.route.scope())?;
        Ok(Receiver {
            transmitter,
            organization_id: caller.organization_id,
            subject: caller.subject,
        })
    }

    /// Writes back a stream that exists (404 when it was deleted meanwhile).
    async fn save(&self, x: &Exchange, stream: &Stream) -> Result<(), ApiError> {
        self.store
            .save_stream(stream)
            .await
            .map_err(|e| store_error(x, e))
    }

    /// The request's JSON body, its members among `accepted` (400, 413, 415 otherwise).
    fn ssf_body(req: &Request, accepted: &[&str]) -> Result<Value, ApiError> {
        let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes());
        let fields = crate::body::fields(content_type, req.body().as_ref(), accepted)?;
        Ok(Value::Object(fields))
    }

    /// `stream_id` of the query, required.
    fn query_stream_id(req: &Request) -> Result<Uuid, ApiError> {
        Self::optional_query_stream_id(req)?
            .ok_or_else(|| ApiError::invalid("stream_id is required"))
    }

    fn optional_query_stream_id(req: &Request) -> Result<Option<Uuid>, ApiError> {
        req.query_string_parameters_ref()
            .and_then(|q| q.first("stream_id"))
            .map(stream::parse_stream_id)
            .transpose()
    }

    async fn stream_of(&self, x: &Exchange, org: Uuid, id: Uuid) -> Result<Stream, ApiError> {
        self.store
            .get_stream(org, id)
            .await
            .map_err(|e| store_error(x, e))
    }

    /// `GET /.well-known/ssf-configuration`.
    pub(super) async fn ssf_configuration(
        &self,
        _req: &Request,
        _x: &Exchange,
        _facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let issuer = &self.transmitter()?.issuer;
        to_json(&json!({
            "spec_version": "1_0",
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/ssf/jwks"),
            "delivery_methods_supported": [PUSH_METHOD],
            "configuration_endpoint": format!("{issuer}/ssf/stream"),
            "status_endpoint": format!("{issuer}/ssf/status"),
            "verification_endpoint": format!("{issuer}/ssf/verify"),
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        }))
    }

    /// `GET /ssf/jwks`.
    pub(super) async fn ssf_jwks(
        &self,
        _req: &Request,
        _x: &Exchange,
        _facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        to_json(&Jwks {
            keys: vec![self.transmitter()?.signer.jwk().clone()],
        })
    }

    /// `POST /ssf/stream`: 201 with the new stream.
    pub(super) async fn ssf_stream_create(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let transmitter = receiver.transmitter;
        let body = Self::ssf_body(req, &STREAM_MEMBERS)?;
        let (delivery, events_requested, description) =
            stream::read_create(&body, transmitter.endpoints)?;
        let created = Stream {
            stream_id: Uuid::new_v4(),
            organization_id: receiver.organization_id,
            aud: Transmitter::audience_for(receiver.subject.as_deref(), receiver.organization_id),
            delivery,
            events_requested,
            description,
            status: StreamStatus::Enabled,
            status_reason: None,
            created_at: x.now,
        };
        self.store
            .create_stream(&created)
            .await
            .map_err(|e| store_error(x, e))?;
        Ok(with_status(
            to_json(&created.view(&transmitter.issuer))?,
            201,
        ))
    }

    /// `GET /ssf/stream`: the stream `stream_id` names, or every stream of the receiver's
    /// organization (a list) without it.
    pub(super) async fn ssf_stream_read(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let issuer = &receiver.transmitter.issuer;
        match Self::optional_query_stream_id(req)? {
            Some(id) => {
                let found = self.stream_of(x, receiver.organization_id, id).await?;
                to_json(&found.view(issuer))
            }
            None => {
                let all = self
                    .store
                    .list_streams(receiver.organization_id)
                    .await
                    .map_err(|e| store_error(x, e))?;
                facts.count = Some(all.len() as u64);
                to_json(&all.iter().map(|s| s.view(issuer)).collect::<Vec<_>>())
            }
        }
    }

    /// `PATCH /ssf/stream` (update) and `PUT /ssf/stream` (replace): 200 with the stream.
    pub(super) async fn ssf_stream_change(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let transmitter = receiver.transmitter;
        let body = Self::ssf_body(req, &STREAM_MEMBERS)?;
        let id = stream::stream_id(body.get("stream_id"))?;
        let current = self.stream_of(x, receiver.organization_id, id).await?;
        let replace = x.route == crate::route::Route::SsfStreamReplace;
        let next = stream::apply_change(
            &current,
            &transmitter.issuer,
            &body,
            replace,
            transmitter.endpoints,
        )?;
        self.save(x, &next).await?;
        to_json(&next.view(&transmitter.issuer))
    }

    /// `DELETE /ssf/stream?stream_id=…`: 204.
    pub(super) async fn ssf_stream_delete(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let id = Self::query_stream_id(req)?;
        self.store
            .delete_stream(receiver.organization_id, id)
            .await
            .map_err(|e| store_error(x, e))?;
        Ok(no_content())
    }

    /// `GET /ssf/status?stream_id=…`.
    pub(super) async fn ssf_status_read(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let id = Self::query_stream_id(req)?;
        let found = self.stream_of(x, receiver.organization_id, id).await?;
        to_json(&found.status_view())
    }

    /// `POST /ssf/status`: the stream's new status, and its reason.
    pub(super) async fn ssf_status_update(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let body = Self::ssf_body(req, &STATUS_MEMBERS)?;
        let (id, status, reason) = stream::read_status_change(&body)?;
        let mut found = self.stream_of(x, receiver.organization_id, id).await?;
        found.status = status;
        found.status_reason = reason;
        self.save(x, &found).await?;
        to_json(&found.status_view())
    }

    /// `POST /ssf/verify`: 204 once the verification SET was pushed (whatever the receiver
    /// answered; a receiver that did not get it asks again).
    pub(super) async fn ssf_verify(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let receiver = self.receiver(req, x, facts)?;
        let transmitter = receiver.transmitter;
        let body = Self::ssf_body(req, &VERIFY_MEMBERS)?;
        let (id, state) = stream::read_verification(&body)?;
        let found = self.stream_of(x, receiver.organization_id, id).await?;
        if let Err(e) = transmitter.verify(&found, state.as_deref()).await {
            tracing::warn!(request_id = %x.request_id, stream_id = %id, error = %e,
                "verification SET not delivered");
        }
        Ok(no_content())
    }
}
