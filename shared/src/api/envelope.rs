//! The envelope every request passes through, whatever its route: one request id, one clock
//! (a single `now` and the invocation's deadline), the contract's headers, the log line and the
//! metrics.

use std::time::Instant;

use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use uuid::Uuid;

use crate::config::MetricsConfig;
use crate::error::ApiError;
use crate::metrics;
use crate::route::Route;
use crate::time::{self, Timestamp};

/// How long a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;
/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What a request did, for its log line.
#[derive(Debug, Default)]
pub(super) struct Facts {
    pub organization_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub count: Option<u64>,
    /// Items left out because they did not decode.
    pub skipped: u32,
}

/// One request's identity and clock: a single `now` for the whole request, and the Lambda
/// invocation's deadline when there is one.
pub(super) struct Exchange {
    pub request_id: String,
    pub route: Route,
    started: Instant,
    pub now: Timestamp,
    pub deadline: Option<Instant>,
}

/// A successful response: 200 unless a handler says otherwise.
pub(super) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// A 200 with `value` as its JSON body.
pub(super) fn to_json(value: &impl Serialize) -> Result<Reply, ApiError> {
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

/// A path parameter that must be a UUID: hyphenated, any case (always lowercase on output).
///
/// API Gateway's HTTP API percent-decodes the path before it routes, and `lambda_http` passes
/// `pathParameters` through as they are, so the function does not decode again: a value that
/// still holds a `%`, or anything but 36 hex digits and hyphens (`..%2F`, unicode, a 10 kB
/// string), is the same 400, and never reaches a key or a log line.
pub(super) fn path_uuid(req: &Request, name: &str) -> Result<Uuid, ApiError> {
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
    pub fn begin(req: &Request, route: Route) -> Self {
        Exchange {
            request_id: request_id(req),
            route,
            started: Instant::now(),
            now: time::now(),
            deadline: lambda_deadline(req),
        }
    }

    pub fn finish(
        self,
        outcome: Result<Reply, ApiError>,
        facts: &Facts,
        sink: &MetricsConfig,
    ) -> Response<Body> {
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
            route = self.route.name(),
            status,
            code,
            latency_ms,
            organization_id = facts.organization_id.map(|o| o.to_string()),
            application_id = facts.application_id.map(|a| a.to_string()),
            count = facts.count,
            skipped = facts.skipped,
            "request"
        );
        metrics::emit(
            sink,
            &metrics::RequestMetrics {
                route: self.route,
                status,
                error_code: code,
                latency_ms,
                sessions_revoked: facts.count.filter(|_| self.route.revokes()),
                skipped_items: facts.skipped,
                request_id: &self.request_id,
            },
        );
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
