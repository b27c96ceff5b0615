//! The HTTP entrypoints: an API Gateway request in, a contract-shaped response out.
//!
//! Each handler authenticates, checks the route's scope, validates the request, calls the store
//! and maps the outcome. Every error, including a failing dependency, becomes a response in the
//! contract's error shape: a handler never returns `Err` to the runtime, so API Gateway never
//! turns a crashed invocation into a bare 502.

use std::time::Instant;

use chrono::Duration;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::{Authenticator, Scope};
use crate::config::{Config, ConfigError};
use crate::cursor::{CursorBinding, CursorCodec, Position};
use crate::error::ApiError;
use crate::metrics;
use crate::model::{Session, SessionView, StatusContext};
use crate::params::{ListFilter, ListParams};
use crate::store::layout::position_of;
use crate::store::{DynamoStore, StoreError};
use crate::time::{self, Timestamp};

/// How long a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;
/// The largest query a filtered list issues while looking for matches.
const MAX_FILTER_CHUNK: i32 = 1000;
/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Everything a handler needs, built once per Lambda instance (outside the handler).
#[derive(Debug, Clone)]
pub struct Api {
    store: DynamoStore,
    auth: Authenticator,
    cursors: CursorCodec,
    idle_window: Duration,
}

/// The API's routes; each Lambda function serves one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListSessions,
    GetSession,
    RevokeSessions,
    RevokeSession,
}

impl Endpoint {
    /// The function's name: the route label in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListSessions => "list-sessions",
            Endpoint::GetSession => "get-session",
            Endpoint::RevokeSessions => "revoke-sessions",
            Endpoint::RevokeSession => "revoke-session",
        }
    }
}

/// A function's whole `main`: logging, configuration and the SDK client once per instance
/// (outside the handler), then the Lambda runtime loop for `endpoint`. A bad configuration
/// fails the init, before any request is accepted.
pub async fn serve(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let api = Api::from_env().await?;
    lambda_http::run(lambda_http::service_fn(|req: Request| {
        let api = &api;
        async move { Ok::<_, std::convert::Infallible>(api.handle(endpoint, req).await) }
    }))
    .await
}

/// What a request did, for its log line.
#[derive(Debug, Default)]
struct Facts {
    organization_id: Option<Uuid>,
    application_id: Option<Uuid>,
    count: Option<u64>,
}

/// One request's identity and clock: a single `now` for the whole request, and the Lambda
/// invocation's deadline when there is one.
struct Exchange {
    request_id: String,
    route: &'static str,
    started: Instant,
    now: Timestamp,
    deadline: Option<Instant>,
}

/// A successful response: 200 unless a handler says otherwise.
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Api {
    /// Reads the configuration and builds the SDK client. Fails on a bad configuration.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let store = DynamoStore::from_env(config.table.clone(), config.tls_roots).await?;
        Api::new(&config, store)
    }

    pub fn new(config: &Config, store: DynamoStore) -> Result<Self, ConfigError> {
        let auth = match &config.dev_jwt {
            Some(dev) => {
                tracing::warn!(
                    "SESSIONS_DEV_JWT_SECRET is set: verifying HS256 development tokens in the \
                     function. Never set it in a deployed environment."
                );
                Authenticator::dev_hs256(dev, config.org_claim.clone())
                    .map_err(|e| ConfigError(format!("SESSIONS_DEV_JWT_SECRET: {e}")))?
            }
            None => Authenticator::gateway(config.org_claim.clone()),
        };
        Ok(Api {
            store: store.with_retention(config.retention),
            auth,
            cursors: CursorCodec::new(config.cursor_keys.clone()),
            idle_window: config.idle_window,
        })
    }

    /// Answers one request for `endpoint`: the one place every route passes through, so
    /// each gets the same request id, clock, error mapping, headers, log line and metrics.
    pub async fn handle(&self, endpoint: Endpoint, req: Request) -> Response<Body> {
        let x = Exchange::begin(&req, endpoint.name());
        let mut facts = Facts::default();
        let outcome = match endpoint {
            Endpoint::ListSessions => self.list(&req, &x, &mut facts).await,
            Endpoint::GetSession => self.get(&req, &x, &mut facts).await,
            Endpoint::RevokeSessions => self.revoke_all(&req, &x, &mut facts).await,
            Endpoint::RevokeSession => self.revoke_one(&req, &x, &mut facts).await,
        };
        x.finish(outcome, &facts)
    }

    /// `GET /api/v1/applications/{applicationId}/sessions`
    pub async fn list_sessions(&self, req: Request) -> Response<Body> {
        self.handle(Endpoint::ListSessions, req).await
    }

    /// `GET /api/v1/applications/{applicationId}/sessions/{sessionId}`
    pub async fn get_session(&self, req: Request) -> Response<Body> {
        self.handle(Endpoint::GetSession, req).await
    }

    /// `DELETE /api/v1/applications/{applicationId}/sessions`
    pub async fn revoke_sessions(&self, req: Request) -> Response<Body> {
        self.handle(Endpoint::RevokeSessions, req).await
    }

    /// `DELETE /api/v1/applications/{applicationId}/sessions/{sessionId}` (beyond the reference)
    pub async fn revoke_session(&self, req: Request) -> Response<Body> {
        self.handle(Endpoint::RevokeSession, req).await
    }

    /// Who is calling, and on which application: authenticates, checks the route's scope, then
    /// reads the application id, in that order, so a caller without the right token learns
    /// nothing from the path. The organization comes from the verified token only.
    fn target(
        &self,
        req: &Request,
        scope: Scope,
        facts: &mut Facts,
    ) -> Result<(Uuid, Uuid), ApiError> {
        let caller = self.auth.authenticate(req)?;
        facts.organization_id = Some(caller.organization_id);
        caller.require(scope)?;
        let application_id = path_uuid(req, "applicationId")?;
        facts.application_id = Some(application_id);
        Ok((caller.organization_id, application_id))
    }

    fn status_context(&self, now: Timestamp, revoked_before: Option<Timestamp>) -> StatusContext {
        StatusContext {
            now,
            idle_window: self.idle_window,
            revoked_before,
        }
    }

    async fn list(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, Scope::SessionsRead, facts)?;
        let params =
            ListParams::parse(|name| req.query_string_parameters_ref().and_then(|q| q.all(name)))?;
        let binding = CursorBinding {
            organization_id: org,
            application_id,
            filter: params.filter,
        };
        let after = params
            .cursor
            .as_deref()
            .map(|c| self.cursors.decode(c, &binding, x.now))
            .transpose()?;

        let (sessions, ctx, more) = self.collect_page(&binding, after, params.limit, x).await?;
        let next_cursor = more
            .then(|| sessions.last().map(position_of))
            .flatten()
            .map(|p| self.cursors.encode(&binding, p, x.now));
        facts.count = Some(sessions.len() as u64);

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListBody<'a> {
            items: Vec<SessionView<'a>>,
            next_cursor: Option<String>,
        }
        to_json(&ListBody {
            items: sessions.iter().map(|s| s.view(&ctx)).collect(),
            next_cursor,
        })
    }

    /// Reads until the page holds `limit` matching sessions or the partition is exhausted.
    /// Returns the sessions, the status context they were judged with, and whether more match.
    async fn collect_page(
        &self,
        binding: &CursorBinding,
        after: Option<Position>,
        limit: u32,
        x: &Exchange,
    ) -> Result<(Vec<Session>, StatusContext, bool), ApiError> {
        let (org, app_id, filter) = (
            binding.organization_id,
            binding.application_id,
            binding.filter,
        );
        let want = limit as usize + 1; // one more than the page, to know whether more remain
        let mut chunk_size = i32::try_from(want + 1).unwrap_or(i32::MAX);
        let (application, mut chunk) = match after {
            // From the top, the application item comes first in the same query.
            None => {
                let chunk = self
                    .store
                    .query_sessions(org, app_id, filter, None, chunk_size)
                    .await
                    .map_err(|e| store_error(x, e))?;
                (chunk.application.clone(), chunk)
            }
            // Mid-list, read the application (for its watermark) alongside the page.
            Some(position) => {
                let (application, chunk) = tokio::try_join!(
                    self.store.get_application(org, app_id),
                    self.store
                        .query_sessions(org, app_id, filter, Some(position), chunk_size),
                )
                .map_err(|e| store_error(x, e))?;
                (application, chunk)
            }
        };
        let application = application.ok_or(ApiError::ApplicationNotFound)?;
        let ctx = self.status_context(x.now, application.revoked_before);

        let mut matched: Vec<Session> = Vec::with_capacity(want);
        loop {
            let last = chunk.sessions.last().map(position_of);
            matched.extend(
                chunk
                    .sessions
                    .into_iter()
                    .filter(|s| filter_matches(filter, s, &ctx)),
            );
            if matched.len() >= want || chunk.exhausted {
                break;
            }
            let Some(last) = last else { break };
            // The filter is dropping items: read further ahead each time, up to about a
            // DynamoDB page, so a sparse filter over a long history takes few round trips.
            chunk_size = chunk_size.saturating_mul(4).min(MAX_FILTER_CHUNK);
            chunk = self
                .store
                .query_sessions(org, app_id, filter, Some(last), chunk_size)
                .await
                .map_err(|e| store_error(x, e))?;
        }
        let more = matched.len() > limit as usize;
        matched.truncate(limit as usize);
        Ok((matched, ctx, more))
    }

    async fn get(&self, req: &Request, x: &Exchange, facts: &mut Facts) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, Scope::SessionsRead, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        let (application, session) = self
            .store
            .get_session(org, application_id, session_id)
            .await
            .map_err(|e| store_error(x, e))?;
        let application = application.ok_or(ApiError::ApplicationNotFound)?;
        let session = session.ok_or(ApiError::SessionNotFound)?;
        let ctx = self.status_context(x.now, application.revoked_before);

        #[derive(Serialize)]
        struct GetBody<'a> {
            session: SessionView<'a>,
        }
        to_json(&GetBody {
            session: session.view(&ctx),
        })
    }

    async fn revoke_all(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, Scope::SessionsWrite, facts)?;
        let outcome = self
            .store
            .revoke_all(org, application_id, x.now, x.deadline)
            .await
            .map_err(|e| store_error(x, e))?
            .ok_or(ApiError::ApplicationNotFound)?;
        facts.count = Some(outcome.disconnected);

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct RevokeBody {
            success: bool,
            disconnected_count: u64,
            /// Only on 202: `false`, the sweep stopped early.
            #[serde(skip_serializing_if = "Option::is_none")]
            complete: Option<bool>,
        }
        let mut reply = to_json(&RevokeBody {
            success: true,
            disconnected_count: outcome.disconnected,
            complete: (!outcome.complete).then_some(false),
        })?;
        if !outcome.complete {
            // Every session that connected before the call already reads as disconnected
            // (the watermark); calling again moves and counts the rest.
            reply.status = 202;
            reply
                .headers
                .push(("retry-after", RETRY_AFTER_SECONDS.to_string()));
        }
        Ok(reply)
    }
}

impl Api {
    async fn revoke_one(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, Scope::SessionsWrite, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        let changed = match self
            .store
            .disconnect_session(org, application_id, session_id, x.now)
            .await
            .map_err(|e| store_error(x, e))?
        {
            Some(changed) => changed,
            // Tell a missing application from a missing session, as get does.
            None => {
                let app = self
                    .store
                    .get_application(org, application_id)
                    .await
                    .map_err(|e| store_error(x, e))?;
                return Err(match app {
                    Some(_) => ApiError::SessionNotFound,
                    None => ApiError::ApplicationNotFound,
                });
            }
        };
        facts.count = Some(u64::from(changed));

        #[derive(Serialize)]
        struct RevokeOneBody {
            success: bool,
            disconnected: bool,
        }
        to_json(&RevokeOneBody {
            success: true,
            disconnected: changed,
        })
    }
}

fn filter_matches(filter: ListFilter, session: &Session, ctx: &StatusContext) -> bool {
    filter.matches(session.derived_status(ctx))
}

fn to_json(value: &impl Serialize) -> Result<Reply, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "response serialization failed");
        ApiError::Internal
    })?;
    Ok(Reply {
        status: 200,
        body,
        headers: Vec::new(),
    })
}

/// Store failures: retryable ones are 503 with `Retry-After`; the rest 500, details only logged.
fn store_error(x: &Exchange, e: StoreError) -> ApiError {
    match e {
        StoreError::ApplicationNotFound => ApiError::ApplicationNotFound,
        StoreError::Unavailable(detail) => {
            tracing::warn!(request_id = %x.request_id, route = x.route, error = %detail, "dependency unavailable");
            ApiError::Unavailable {
                retry_after_seconds: RETRY_AFTER_SECONDS,
            }
        }
        other => {
            tracing::error!(request_id = %x.request_id, route = x.route, error = %other, "store failure");
            ApiError::Internal
        }
    }
}

/// A path parameter that must be a UUID: hyphenated, any case (always lowercase on output).
///
/// API Gateway's HTTP API percent-decodes the path before it routes, and `lambda_http` passes
/// `pathParameters` through as they are, so the function does not decode again: a value that
/// still holds a `%`, or anything but 36 hex digits and hyphens (`..%2F`, unicode, a 10 kB
/// string), is the same 400, and never reaches a key or a log line.
fn path_uuid(req: &Request, name: &str) -> Result<Uuid, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|raw| is_hyphenated_uuid(raw))
        .and_then(|raw| Uuid::try_parse(raw).ok())
        .ok_or_else(|| ApiError::invalid(format!("{name} must be a UUID")))
}

/// 8-4-4-4-12 hex digits: the only form accepted (not the braced, URN or 32-digit ones).
fn is_hyphenated_uuid(raw: &str) -> bool {
    raw.len() == 36
        && raw.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl Exchange {
    fn begin(req: &Request, route: &'static str) -> Self {
        Exchange {
            request_id: request_id(req),
            route,
            started: Instant::now(),
            now: time::now(),
            deadline: lambda_deadline(req),
        }
    }

    fn finish(self, outcome: Result<Reply, ApiError>, facts: &Facts) -> Response<Body> {
        let (status, body, extra, code) = match outcome {
            Ok(reply) => (reply.status, reply.body, reply.headers, None),
            Err(err) => {
                let body = serde_json::to_vec(&err.body(&self.request_id)).unwrap_or_default();
                (err.status_code(), body, err.headers(), Some(err.code()))
            }
        };
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            request_id = %self.request_id,
            route = self.route,
            status,
            code,
            latency_ms,
            organization_id = facts.organization_id.map(|o| o.to_string()),
            application_id = facts.application_id.map(|a| a.to_string()),
            count = facts.count,
            "request"
        );
        metrics::emit(&metrics::RequestMetrics {
            route: self.route,
            status,
            error_code: code,
            latency_ms,
            sessions_revoked: facts.count.filter(|_| metrics::is_revoke_route(self.route)),
            request_id: &self.request_id,
        });
        let mut response = Response::new(Body::from(body));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            lambda_http::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            lambda_http::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        if let Ok(id) = HeaderValue::from_str(&self.request_id) {
            headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
        }
        for (name, value) in extra {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// 2001-09-09 in epoch milliseconds: anything smaller is not a wall-clock deadline.
const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

/// The invocation's deadline (epoch milliseconds in the Lambda context) as an `Instant`.
fn lambda_deadline(req: &Request) -> Option<Instant> {
    let deadline_ms = req.lambda_context_ref()?.deadline;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).ok()?;
    // Lambda sends epoch milliseconds; some local runners send a bare duration (cargo lambda
    // watch: 600000) or nothing. Only a plausible epoch (after 2001) counts as a deadline.
    (deadline_ms > PLAUSIBLE_EPOCH_MS).then(|| {
        Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    })
}

/// API Gateway's request id when there is one (it is what its access logs show), else the
/// Lambda invocation's, else a fresh one.
fn request_id(req: &Request) -> String {
    let usable = |id: &str| {
        !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b))
    };
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(id) = ctx.request_id.as_deref().filter(|id| usable(id)) {
            return id.to_string();
        }
    }
    if let Some(ctx) = req.lambda_context_ref() {
        if usable(&ctx.request_id) {
            return ctx.request_id.clone();
        }
    }
    Uuid::new_v4().to_string()
}
