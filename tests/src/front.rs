//! The API over real HTTP, in the test process: each request becomes the API Gateway HTTP API
//! event of its route (as `cargo lambda watch` makes one) and goes to the same handler code the
//! functions run. Something that calls the API over HTTP (the gateway) is tested against it
//! without building and starting the functions.
//!
//! [`Front::set_down`] makes every call answer 503 with `Retry-After`, the way a failing
//! dependency reaches a caller, until it is set up again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use sessions::api::Api;
use sessions::route::Route;

use crate::{Event, Reply};

struct Shared {
    api: Api,
    down: AtomicBool,
    calls: AtomicUsize,
}

/// A running front; it stops when dropped.
pub struct Front {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    pub async fn start(api: Api) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the API front");
        Front::start_on(listener, api)
    }

    /// The front on `listener` (bound beforehand when the API must know its own URL, as the
    /// Shared Signals transmitter's issuer does).
    pub fn start_on(listener: tokio::net::TcpListener, api: Api) -> Front {
        let addr: SocketAddr = listener.local_addr().expect("front address");
        let shared = Arc::new(Shared {
            api,
            down: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
        });
        let state = shared.clone();
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = state.clone();
            async move { handle(&state, request).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Front {
            url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// While down, every call is answered 503 with `Retry-After: 1`.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Calls that reached a handler (not those answered 503 while down).
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }
}

/// The route and its path parameters a method and path name, if any (an application id is
/// empty on the routes without one).
fn route_of(method: &str, path: &str) -> Option<(Route, String, Option<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let routes = Route::ALL.into_iter().chain(Route::SHARED_SIGNALS);
    routes.into_iter().find_map(|route| {
        if route.method() != method {
            return None;
        }
        let template: Vec<&str> = route.path().trim_matches('/').split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let (mut app, mut session) = (None, None);
        for (t, s) in template.iter().zip(&segments) {
            match *t {
                "{applicationId}" => app = Some(s.to_string()),
                "{sessionId}" => session = Some(s.to_string()),
                literal if literal == *s => {}
                _ => return None,
            }
        }
        Some((route, app.unwrap_or_default(), session))
    })
}

async fn handle(shared: &Shared, request: Request<Body>) -> Response {
    if shared.down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1"), ("content-type", "application/json")],
            r#"{"message":"the front is down","statusCode":503,"code":"unavailable"}"#,
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let Some((route, app, session)) = route_of(parts.method.as_str(), parts.uri.path()) else {
        return (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#).into_response();
    };
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut event = Event::new(route, &app, session.as_deref())
        .without_authorizer()
        .without_header("authorization")
        .without_body();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            event = event.header(name.as_str(), value);
        }
    }
    if let Some(query) = parts.uri.query() {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            event = event.query(k, v);
        }
    }
    if !body.is_empty() {
        event = event.body(&String::from_utf8_lossy(&body));
    }
    let reply: Reply = crate::call(&shared.api, event).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name.clone(), value.clone());
    }
    let text = if reply.body.is_null() {
        String::new()
    } else {
        reply.body.to_string()
    };
    response
        .body(Body::from(text))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes() {
        let app = "550e8400-e29b-41d4-a716-446655440000";
        let sessions = format!("/api/v1/applications/{app}/sessions");
        assert_eq!(
            route_of("POST", &sessions).map(|r| r.0),
            Some(Route::ConnectSession)
        );
        assert_eq!(
            route_of("POST", &format!("{sessions}/s1/heartbeat")),
            Some((Route::HeartbeatSession, app.to_string(), Some("s1".into())))
        );
        assert_eq!(route_of("PUT", &sessions), None);
        assert_eq!(
            route_of("GET", "/.well-known/ssf-configuration").map(|r| r.0),
            Some(Route::SsfConfiguration)
        );
        assert_eq!(route_of("GET", "/api/v1/other"), None);
    }
}
