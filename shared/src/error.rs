//! The API's errors and their one mapping to HTTP: status, stable code, message.

use serde::Serialize;

/// Every way a request can fail, as the caller sees it. Messages never carry internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A parameter is malformed or out of range; the message names it and what is accepted.
    #[error("{0}")]
    InvalidRequest(String),
    /// No credentials at all: no `Authorization` header (and no authorizer claims).
    #[error("missing or invalid bearer token")]
    MissingCredentials,
    /// A token that was sent but does not verify or carries no usable organization.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token without the scope the route needs.
    #[error("{0}")]
    Forbidden(String),
    /// Missing and foreign applications are indistinguishable on purpose.
    #[error("Application not found")]
    ApplicationNotFound,
    #[error("Session not found")]
    SessionNotFound,
    /// A Shared Signals stream that is not the caller's organization's (or does not exist).
    #[error("Stream not found")]
    StreamNotFound,
    /// The request contradicts an earlier one: an `Idempotency-Key` reused with another body.
    #[error("{0}")]
    Conflict(String),
    /// A heartbeat for a session that is disconnected (closed, revoked, revoked by a
    /// revoke-all, or timed out): the caller closes the connection.
    #[error("Session is disconnected")]
    SessionDisconnected,
    /// A request body over the limit.
    #[error("the request body must be at most {max_bytes} bytes")]
    PayloadTooLarge { max_bytes: usize },
    /// A request body that is not declared `application/json`.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// A dependency is down or throttling; the caller should retry after `retry_after_seconds`.
    #[error("The service is temporarily unavailable, retry later")]
    Unavailable { retry_after_seconds: u32 },
    /// Anything else. Details go to the log with the request id, never to the caller.
    #[error("Internal server error")]
    Internal,
}

/// The contract's error body: Kontext's `message` and `statusCode`, plus `code` and `requestId`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    pub message: String,
    pub status_code: u16,
    pub code: &'static str,
    pub request_id: &'a str,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest(message.into())
    }

    pub fn status_code(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_) => 400,
            ApiError::MissingCredentials | ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::ApplicationNotFound
            | ApiError::SessionNotFound
            | ApiError::StreamNotFound => 404,
            ApiError::Conflict(_) | ApiError::SessionDisconnected => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal => 500,
        }
    }

    /// Stable, snake_case, for programs.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::MissingCredentials | ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::ApplicationNotFound
            | ApiError::SessionNotFound
            | ApiError::StreamNotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::SessionDisconnected => "session_disconnected",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    /// The extra headers an error carries: `WWW-Authenticate` (RFC 6750) and `Retry-After`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            // RFC 6750, section 3.1: no error code when the request had no credentials.
            ApiError::MissingCredentials => vec![("www-authenticate", "Bearer".to_string())],
            ApiError::Unauthorized(_) => vec![(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.to_string(),
            )],
            ApiError::Forbidden(_) => vec![(
                "www-authenticate",
                r#"Bearer error="insufficient_scope""#.to_string(),
            )],
            ApiError::Unavailable {
                retry_after_seconds,
            } => vec![("retry-after", retry_after_seconds.to_string())],
            _ => Vec::new(),
        }
    }

    pub fn body<'a>(&self, request_id: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            message: self.to_string(),
            status_code: self.status_code(),
            code: self.code(),
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status_and_code() {
        let cases = [
            (ApiError::invalid("x"), 400, "invalid_request"),
            (ApiError::Unauthorized("x".into()), 401, "unauthorized"),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
            (ApiError::ApplicationNotFound, 404, "not_found"),
            (ApiError::SessionNotFound, 404, "not_found"),
            (ApiError::StreamNotFound, 404, "not_found"),
            (ApiError::Conflict("x".into()), 409, "conflict"),
            (ApiError::SessionDisconnected, 409, "session_disconnected"),
            (
                ApiError::PayloadTooLarge { max_bytes: 16384 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::Unavailable {
                    retry_after_seconds: 1,
                },
                503,
                "unavailable",
            ),
            (ApiError::Internal, 500, "internal"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status_code(), status, "{err:?}");
            assert_eq!(err.code(), code, "{err:?}");
        }
    }

    #[test]
    fn body_has_the_contract_shape() {
        let body =
            serde_json::to_value(ApiError::invalid("limit is bad").body("req-1")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"message": "limit is bad", "statusCode": 400,
                "code": "invalid_request", "requestId": "req-1"})
        );
    }

    #[test]
    fn not_found_messages_are_the_documented_ones() {
        assert_eq!(
            ApiError::ApplicationNotFound.to_string(),
            "Application not found"
        );
        assert_eq!(ApiError::SessionNotFound.to_string(), "Session not found");
    }

    #[test]
    fn connection_side_messages_name_what_is_accepted() {
        assert_eq!(
            ApiError::PayloadTooLarge { max_bytes: 16384 }.to_string(),
            "the request body must be at most 16384 bytes"
        );
        assert_eq!(
            ApiError::UnsupportedMediaType.to_string(),
            "Content-Type must be application/json"
        );
        assert_eq!(
            ApiError::SessionDisconnected.to_string(),
            "Session is disconnected"
        );
        for err in [
            ApiError::Conflict("x".into()),
            ApiError::SessionDisconnected,
            ApiError::PayloadTooLarge { max_bytes: 1 },
            ApiError::UnsupportedMediaType,
        ] {
            assert!(err.headers().is_empty(), "{err:?}");
        }
    }

    #[test]
    fn unavailable_carries_retry_after_and_auth_errors_carry_www_authenticate() {
        let h = ApiError::Unavailable {
            retry_after_seconds: 2,
        }
        .headers();
        assert_eq!(h, vec![("retry-after", "2".to_string())]);
        let h = ApiError::Unauthorized("no".into()).headers();
        assert_eq!(h[0].0, "www-authenticate");
        assert!(h[0].1.starts_with("Bearer"));
    }
}
