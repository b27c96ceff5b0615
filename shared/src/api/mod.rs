//! The HTTP entrypoints: an API Gateway request in, a contract-shaped response out.
//!
//! Each handler authenticates, checks the route's scope, validates the request, calls the store
//! and maps the outcome. Every error, including a failing dependency, becomes a response in the
//! contract's error shape: a handler never returns `Err` to the runtime, so API Gateway never
//! turns a crashed invocation into a bare 502.
//!
//! - [`envelope`]: what every request gets (request id, clock, headers, log line, metrics);
//! - [`page`]: the list's read-ahead rules, pure;
//! - `read`: list and get; `revoke`: revoke-all and revoke-one;
//! - [`connect`]: the connection side (connect, heartbeat, disconnect), whose bodies
//!   [`crate::body`] reads;
//! - `ssf`: the Shared Signals transmitter's discovery, keys and stream management.

pub mod connect;
pub mod envelope;
pub mod page;
mod read;
mod revoke;
mod ssf;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Duration;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError, MetricsConfig};
use crate::cursor::CursorCodec;
use crate::error::ApiError;
use crate::model::StatusContext;
use crate::route::Route;
use crate::ssf::settings::SsfSettings;
use crate::ssf::transmitter::Transmitter;
use crate::store::{DynamoStore, StoreError};
use crate::time::Timestamp;
use envelope::{path_uuid, Exchange, Facts, Reply, RETRY_AFTER_SECONDS};

pub use envelope::REQUEST_ID_HEADER;

/// Everything a handler needs, built once per Lambda instance (outside the handler).
#[derive(Debug, Clone)]
pub struct Api {
    store: DynamoStore,
    auth: Authenticator,
    cursors: CursorCodec,
    idle_window: Duration,
    heartbeat_timeout: Option<Duration>,
    metrics: MetricsConfig,
    /// The Shared Signals transmitter, in the functions that serve its routes.
    ssf: Option<Arc<Transmitter>>,
}

/// A route's handler, boxed: a route's future (SDK calls under time bounds) is large, and a
/// debug build or a small thread stack should not have to hold it.
type HandlerFn = for<'a> fn(
    &'a Api,
    &'a Request,
    &'a Exchange,
    &'a mut Facts,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// One route and its handler, chosen at compile time ([`endpoint`]), so that a function's
/// binary holds its own route's code and not the others'.
#[derive(Clone, Copy)]
pub struct Endpoint {
    route: Route,
    handler: HandlerFn,
}

/// The endpoint of `route`; call it in a `const` so that only that handler is linked.
pub const fn endpoint(route: Route) -> Endpoint {
    let handler: HandlerFn = match route {
        Route::ListSessions => |api, req, x, facts| Box::pin(api.list(req, x, facts)),
        Route::GetSession => |api, req, x, facts| Box::pin(api.get(req, x, facts)),
        Route::RevokeSessions => |api, req, x, facts| Box::pin(api.revoke_all(req, x, facts)),
        Route::RevokeSession => |api, req, x, facts| Box::pin(api.revoke_one(req, x, facts)),
        Route::ConnectSession => |api, req, x, facts| Box::pin(api.connect(req, x, facts)),
        Route::HeartbeatSession => |api, req, x, facts| Box::pin(api.heartbeat(req, x, facts)),
        Route::DisconnectSession => |api, req, x, facts| Box::pin(api.disconnect(req, x, facts)),
        Route::SsfConfiguration => {
            |api, req, x, facts| Box::pin(api.ssf_configuration(req, x, facts))
        }
        Route::SsfJwks => |api, req, x, facts| Box::pin(api.ssf_jwks(req, x, facts)),
        Route::SsfStreamCreate => {
            |api, req, x, facts| Box::pin(api.ssf_stream_create(req, x, facts))
        }
        Route::SsfStreamRead => |api, req, x, facts| Box::pin(api.ssf_stream_read(req, x, facts)),
        Route::SsfStreamUpdate | Route::SsfStreamReplace => {
            |api, req, x, facts| Box::pin(api.ssf_stream_change(req, x, facts))
        }
        Route::SsfStreamDelete => {
            |api, req, x, facts| Box::pin(api.ssf_stream_delete(req, x, facts))
        }
        Route::SsfStatusRead => |api, req, x, facts| Box::pin(api.ssf_status_read(req, x, facts)),
        Route::SsfStatusUpdate => {
            |api, req, x, facts| Box::pin(api.ssf_status_update(req, x, facts))
        }
        Route::SsfVerify => |api, req, x, facts| Box::pin(api.ssf_verify(req, x, facts)),
    };
    Endpoint { route, handler }
}

/// A function's whole `main`: logging, configuration and the SDK client once per instance
/// (outside the handler), then the Lambda runtime loop for `endpoint`. A bad configuration
/// fails the init, before any request is accepted.
pub async fn serve(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    serve_methods(&[endpoint]).await
}

/// [`serve`] for a function that serves several methods of one path (`ssf-stream`): each
/// request goes to the endpoint of its method. A function of the Shared Signals routes also
/// reads the transmitter's configuration and key at init.
pub async fn serve_methods(endpoints: &[Endpoint]) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let mut api = Api::from_env().await?;
    if endpoints.iter().any(|e| e.route.is_shared_signals()) {
        api = api.with_shared_signals_from_env().await?;
    }
    lambda_http::run(lambda_http::service_fn(|req: Request| {
        let api = &api;
        // API Gateway (and the watch router) send a function only its routes' methods; anything
        // else would get the first endpoint, whose handler reads what it needs and no more.
        let endpoint = endpoints
            .iter()
            .find(|e| e.route.method() == req.method().as_str())
            .or(endpoints.first())
            .copied();
        async move {
            Ok::<_, std::convert::Infallible>(match endpoint {
                Some(endpoint) => api.answer(endpoint, req).await,
                None => lambda_http::Response::new(Body::Empty),
            })
        }
    }))
    .await
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
            heartbeat_timeout: config.heartbeat_timeout,
            metrics: config.metrics.clone(),
            ssf: None,
        })
    }

    /// The same API with the Shared Signals transmitter, which its routes need.
    pub fn with_transmitter(mut self, transmitter: Transmitter) -> Self {
        self.ssf = Some(Arc::new(transmitter));
        self
    }

    /// [`Api::with_transmitter`] configured from the environment
    /// ([`crate::ssf::settings`]), over this API's store.
    pub async fn with_shared_signals_from_env(self) -> Result<Self, ConfigError> {
        let settings = SsfSettings::from_env()?;
        let roots = crate::config::tls_roots(crate::config::env("SESSIONS_TLS_ROOTS"))?;
        let transmitter = Transmitter::new(&settings, self.store.clone(), roots).await?;
        Ok(self.with_transmitter(transmitter))
    }

    /// Answers one request for `route`: the one place every route passes through, so each gets
    /// the same request id, clock, error mapping, headers, log line and metrics.
    pub async fn handle(&self, route: Route, req: Request) -> Response<Body> {
        self.answer(endpoint(route), req).await
    }

    async fn answer(&self, endpoint: Endpoint, req: Request) -> Response<Body> {
        let x = Exchange::begin(&req, endpoint.route);
        let mut facts = Facts::default();
        let outcome = (endpoint.handler)(self, &req, &x, &mut facts).await;
        x.finish(outcome, &facts, &self.metrics)
    }

    /// Who is calling, and on which application: authenticates, checks the route's scope, then
    /// reads the application id, in that order, so a caller without the right token learns
    /// nothing from the path. The organization comes from the verified token only.
    fn target(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<(Uuid, Uuid), ApiError> {
        let caller = self.auth.authenticate(req)?;
        facts.organization_id = Some(caller.organization_id);
        caller.require(x.route.scope())?;
        let application_id = path_uuid(req, "applicationId")?;
        facts.application_id = Some(application_id);
        Ok((caller.organization_id, application_id))
    }

    /// What the derived status of this request's sessions is judged by: its one `now`, the
    /// configured idle window and heartbeat timeout, and the application's watermark.
    fn status_context(&self, now: Timestamp, revoked_before: Option<Timestamp>) -> StatusContext {
        StatusContext {
            now,
            idle_window: self.idle_window,
            revoked_before,
            heartbeat_timeout: self.heartbeat_timeout,
        }
    }
}

/// Store failures as the API answers them: not found is 404, a disconnected session or a
/// reused idempotency key 409, retryable ones 503 with `Retry-After`; the rest 500, details
/// only logged.
fn store_error(x: &Exchange, e: StoreError) -> ApiError {
    match e {
        StoreError::ApplicationNotFound => ApiError::ApplicationNotFound,
        StoreError::SessionNotFound => ApiError::SessionNotFound,
        StoreError::StreamNotFound => ApiError::StreamNotFound,
        StoreError::TooManyStreams => ApiError::Conflict(format!(
            "an organization holds at most {} streams",
            crate::ssf::stream::MAX_STREAMS_PER_ORGANIZATION
        )),
        StoreError::SessionDisconnected => ApiError::SessionDisconnected,
        StoreError::IdempotencyConflict => ApiError::Conflict(
            "Idempotency-Key was already used with a different request body".into(),
        ),
        StoreError::Unavailable(detail) => {
            tracing::warn!(request_id = %x.request_id, route = x.route.name(), error = %detail, "dependency unavailable");
            ApiError::Unavailable {
                retry_after_seconds: RETRY_AFTER_SECONDS,
            }
        }
        other => {
            tracing::error!(request_id = %x.request_id, route = x.route.name(), error = %other, "store failure");
            ApiError::Internal
        }
    }
}
