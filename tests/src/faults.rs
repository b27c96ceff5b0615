//! A stand-in DynamoDB endpoint that answers every request with one fixed error, for the
//! failure paths a real engine will not produce on demand (throttling, a rejected request).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Starts the endpoint on a free loopback port; it lives as long as the test's runtime.
pub async fn always(status: u16, error_type: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut read = 0;
                // Read the head, then as much body as Content-Length says.
                loop {
                    match conn.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    let text = String::from_utf8_lossy(&buf[..read]).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if read >= end + 4 + length {
                            break;
                        }
                    }
                    if read == buf.len() {
                        return;
                    }
                }
                let body = format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected {error_type}"}}"#
                );
                let response = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// An endpoint that is down: every connection is reset as soon as it is accepted, so the SDK
/// sees a connection failure, as with nothing listening. The port stays bound for the test's
/// runtime, so nothing else can take it meanwhile (a port bound and released could be).
pub async fn unreachable() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            // Linger 0: closing sends RST, not FIN; the client's read fails with a reset.
            let _ = conn.set_zero_linger();
            drop(conn);
        }
    });
    format!("http://{addr}")
}

/// How a [`proxy`] misbehaves on the requests it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer `ThrottlingException` without passing the request on.
    Throttle,
    /// Pass the request on (so the write happens), then answer 500 as if the reply was lost.
    LoseAnswer,
    /// Answer `TransactionConflictException` (an item inside a transaction in flight) without
    /// passing the request on.
    Conflict,
    /// Answer 500 `InternalServerError` without passing the request on.
    Fail,
}

/// Which requests a [`proxy_with`] picks: those for `operation` whose body contains
/// `body_contains`, after the first `skip`, at most `times` of them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub operation: &'static str,
    pub body_contains: String,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
}

/// A proxy in front of a real engine that injects `fault` into every `every`-th request whose
/// `X-Amz-Target` ends with `operation`, and passes everything else through unchanged.
pub struct FaultProxy {
    pub endpoint: String,
    injected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FaultProxy {
    /// How many faults were injected so far.
    pub fn injected(&self) -> usize {
        self.injected.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub async fn proxy(
    upstream: &str,
    operation: &'static str,
    every: usize,
    fault: Fault,
) -> FaultProxy {
    serve(upstream, operation, every, fault, None).await
}

/// A proxy that injects `plan.fault` into the requests `plan` picks.
pub async fn proxy_with(upstream: &str, plan: Plan) -> FaultProxy {
    serve(upstream, plan.operation, 1, plan.fault, Some(plan)).await
}

async fn serve(
    upstream: &str,
    operation: &'static str,
    every: usize,
    fault: Fault,
    plan: Option<Plan>,
) -> FaultProxy {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Clone)]
    struct State {
        upstream: String,
        http: reqwest::Client,
        seen: Arc<AtomicUsize>,
        injected: Arc<AtomicUsize>,
        operation: &'static str,
        every: usize,
        fault: Fault,
        plan: Option<Plan>,
        matched: Arc<AtomicUsize>,
    }

    fn error(status: StatusCode, kind: &str) -> axum::response::Response {
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected"}}"#
        );
        (
            status,
            [("content-type", "application/x-amz-json-1.0")],
            body,
        )
            .into_response()
    }

    async fn handle(
        axum::extract::State(st): axum::extract::State<State>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let picked = match &st.plan {
            None => {
                target.ends_with(st.operation)
                    && (st.seen.fetch_add(1, Ordering::SeqCst) + 1) % st.every.max(1) == 0
            }
            Some(plan) => {
                target.ends_with(plan.operation)
                    && String::from_utf8_lossy(&body).contains(plan.body_contains.as_str())
                    && {
                        let n = st.matched.fetch_add(1, Ordering::SeqCst);
                        n >= plan.skip && n < plan.skip + plan.times
                    }
            }
        };
        if picked {
            let refused = match st.fault {
                Fault::Throttle => Some((StatusCode::BAD_REQUEST, "ThrottlingException")),
                Fault::Conflict => Some((StatusCode::BAD_REQUEST, "TransactionConflictException")),
                Fault::Fail => Some((StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")),
                Fault::LoseAnswer => None,
            };
            if let Some((status, kind)) = refused {
                st.injected.fetch_add(1, Ordering::SeqCst);
                return error(status, kind);
            }
        }
        let mut request = st.http.post(&st.upstream).body(body.to_vec());
        for (name, value) in headers.iter() {
            if name != "host" && name != "content-length" {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        let upstream = match request.send().await {
            Ok(r) => r,
            Err(_) => return error(StatusCode::BAD_GATEWAY, "ServiceUnavailable"),
        };
        if picked {
            st.injected.fetch_add(1, Ordering::SeqCst);
            let _ = upstream.bytes().await;
            return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError");
        }
        let status = StatusCode::from_u16(upstream.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = upstream
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/x-amz-json-1.0")
            .to_string();
        let bytes = upstream.bytes().await.unwrap_or_default();
        (status, [("content-type", content_type)], bytes.to_vec()).into_response()
    }

    let injected = Arc::new(AtomicUsize::new(0));
    let state = State {
        upstream: upstream.to_string(),
        http: reqwest::Client::new(),
        seen: Arc::new(AtomicUsize::new(0)),
        injected: injected.clone(),
        operation,
        every,
        fault,
        plan,
        matched: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .fallback(axum::routing::any(handle))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FaultProxy {
        endpoint: format!("http://{addr}"),
        injected,
    }
}
