//! The API's routes: the one list every caller goes through (handlers, metrics, the test
//! harness, the bench, the watch router and the template are checked against it).
//!
//! Each Sessions API route is served by one Lambda function of the same name; the Shared
//! Signals routes ([`Route::SHARED_SIGNALS`]) by one function per path (`ssf-stream` serves the
//! five methods of the configuration endpoint).

use crate::auth::Scope;

/// One route of the API, served by the function [`Route::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET …/sessions`: one page of an application's sessions.
    ListSessions,
    /// `GET …/sessions/{sessionId}`: one session.
    GetSession,
    /// `DELETE …/sessions`: revoke every session of an application.
    RevokeSessions,
    /// `DELETE …/sessions/{sessionId}`: revoke one session.
    RevokeSession,
    /// `POST …/sessions`: a client connected (the connection side).
    ConnectSession,
    /// `POST …/sessions/{sessionId}/heartbeat`: the connection is alive.
    HeartbeatSession,
    /// `POST …/sessions/{sessionId}/disconnect`: the transport closed.
    DisconnectSession,
    /// `GET /.well-known/ssf-configuration`: the transmitter's discovery document (public).
    SsfConfiguration,
    /// `GET /ssf/jwks`: the keys that sign SETs (public).
    SsfJwks,
    /// `POST /ssf/stream`: a receiver creates a stream.
    SsfStreamCreate,
    /// `GET /ssf/stream`: one stream (`stream_id`) or all of the receiver's.
    SsfStreamRead,
    /// `PATCH /ssf/stream`: change some members of a stream.
    SsfStreamUpdate,
    /// `PUT /ssf/stream`: replace a stream's configuration.
    SsfStreamReplace,
    /// `DELETE /ssf/stream`: delete a stream.
    SsfStreamDelete,
    /// `GET /ssf/status`: a stream's status.
    SsfStatusRead,
    /// `POST /ssf/status`: enable, pause or disable a stream.
    SsfStatusUpdate,
    /// `POST /ssf/verify`: send a stream the verification event.
    SsfVerify,
}

/// The collection path; the session routes add `/{sessionId}`, and heartbeat and disconnect
/// `/heartbeat` and `/disconnect` after that.
const SESSIONS_PATH: &str = "/api/v1/applications/{applicationId}/sessions";
const SESSION_PATH: &str = "/api/v1/applications/{applicationId}/sessions/{sessionId}";
const HEARTBEAT_PATH: &str = "/api/v1/applications/{applicationId}/sessions/{sessionId}/heartbeat";
const DISCONNECT_PATH: &str =
    "/api/v1/applications/{applicationId}/sessions/{sessionId}/disconnect";
/// The Shared Signals transmitter's paths (SSF 1.0): discovery, keys, the stream management.
const SSF_CONFIGURATION_PATH: &str = "/.well-known/ssf-configuration";
const SSF_JWKS_PATH: &str = "/ssf/jwks";
const SSF_STREAM_PATH: &str = "/ssf/stream";
const SSF_STATUS_PATH: &str = "/ssf/status";
const SSF_VERIFY_PATH: &str = "/ssf/verify";

impl Route {
    /// Every route, in the order the docs list them: the management routes, then the
    /// connection side.
    pub const ALL: [Route; 7] = [
        Route::ListSessions,
        Route::GetSession,
        Route::RevokeSessions,
        Route::RevokeSession,
        Route::ConnectSession,
        Route::HeartbeatSession,
        Route::DisconnectSession,
    ];

    /// The Shared Signals transmitter's routes: discovery and keys (public), then the stream
    /// management (scope `ssf:manage`).
    pub const SHARED_SIGNALS: [Route; 10] = [
        Route::SsfConfiguration,
        Route::SsfJwks,
        Route::SsfStreamCreate,
        Route::SsfStreamRead,
        Route::SsfStreamUpdate,
        Route::SsfStreamReplace,
        Route::SsfStreamDelete,
        Route::SsfStatusRead,
        Route::SsfStatusUpdate,
        Route::SsfVerify,
    ];

    /// The function's name: its folder under `functions/`, and the route label in logs and
    /// metrics.
    pub fn name(self) -> &'static str {
        match self {
            Route::ListSessions => "list-sessions",
            Route::GetSession => "get-session",
            Route::RevokeSessions => "revoke-sessions",
            Route::RevokeSession => "revoke-session",
            Route::ConnectSession => "connect-session",
            Route::HeartbeatSession => "heartbeat-session",
            Route::DisconnectSession => "disconnect-session",
            Route::SsfConfiguration => "ssf-configuration",
            Route::SsfJwks => "ssf-jwks",
            Route::SsfStreamCreate
            | Route::SsfStreamRead
            | Route::SsfStreamUpdate
            | Route::SsfStreamReplace
            | Route::SsfStreamDelete => "ssf-stream",
            Route::SsfStatusRead | Route::SsfStatusUpdate => "ssf-status",
            Route::SsfVerify => "ssf-verify",
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            Route::ListSessions | Route::GetSession => "GET",
            Route::RevokeSessions | Route::RevokeSession => "DELETE",
            Route::ConnectSession | Route::HeartbeatSession | Route::DisconnectSession => "POST",
            Route::SsfConfiguration
            | Route::SsfJwks
            | Route::SsfStreamRead
            | Route::SsfStatusRead => "GET",
            Route::SsfStreamCreate | Route::SsfStatusUpdate | Route::SsfVerify => "POST",
            Route::SsfStreamUpdate => "PATCH",
            Route::SsfStreamReplace => "PUT",
            Route::SsfStreamDelete => "DELETE",
        }
    }

    /// The path template, with `{applicationId}` and `{sessionId}` parameters.
    pub fn path(self) -> &'static str {
        match self {
            Route::ListSessions | Route::RevokeSessions | Route::ConnectSession => SESSIONS_PATH,
            Route::GetSession | Route::RevokeSession => SESSION_PATH,
            Route::HeartbeatSession => HEARTBEAT_PATH,
            Route::DisconnectSession => DISCONNECT_PATH,
            Route::SsfConfiguration => SSF_CONFIGURATION_PATH,
            Route::SsfJwks => SSF_JWKS_PATH,
            Route::SsfStreamCreate
            | Route::SsfStreamRead
            | Route::SsfStreamUpdate
            | Route::SsfStreamReplace
            | Route::SsfStreamDelete => SSF_STREAM_PATH,
            Route::SsfStatusRead | Route::SsfStatusUpdate => SSF_STATUS_PATH,
            Route::SsfVerify => SSF_VERIFY_PATH,
        }
    }

    /// Whether the route reads a JSON request body (the `POST`s, `PUT`s and `PATCH`es); the
    /// others ignore any body they are sent.
    pub fn reads_body(self) -> bool {
        matches!(self.method(), "POST" | "PUT" | "PATCH")
    }

    /// Whether the route belongs to the Shared Signals transmitter.
    pub fn is_shared_signals(self) -> bool {
        Route::SHARED_SIGNALS.contains(&self)
    }

    /// API Gateway's route key: `METHOD path`.
    pub fn route_key(self) -> String {
        format!("{} {}", self.method(), self.path())
    }

    /// The route a route key names, if it is one of ours (the transmitter's included).
    pub fn from_route_key(route_key: &str) -> Option<Route> {
        Route::ALL
            .into_iter()
            .chain(Route::SHARED_SIGNALS)
            .find(|r| r.route_key() == route_key)
    }

    /// The Sessions API route a function name names, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The scope a caller needs; [`Scope::accepted`] says which token scopes satisfy it
    /// (`management:all` for the management routes, nothing else for the connection side).
    pub fn scope(self) -> Scope {
        match self {
            Route::ListSessions | Route::GetSession => Scope::SessionsRead,
            Route::RevokeSessions | Route::RevokeSession => Scope::SessionsWrite,
            Route::ConnectSession | Route::HeartbeatSession | Route::DisconnectSession => {
                Scope::SessionsConnect
            }
            Route::SsfConfiguration | Route::SsfJwks => Scope::Public,
            Route::SsfStreamCreate
            | Route::SsfStreamRead
            | Route::SsfStreamUpdate
            | Route::SsfStreamReplace
            | Route::SsfStreamDelete
            | Route::SsfStatusRead
            | Route::SsfStatusUpdate
            | Route::SsfVerify => Scope::SsfManage,
        }
    }

    /// Whether the route's count is a number of sessions revoked (a read's is a page size).
    pub fn revokes(self) -> bool {
        matches!(self, Route::RevokeSessions | Route::RevokeSession)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_route_keys_find_their_route_and_nothing_else() {
        for route in Route::ALL {
            assert_eq!(Route::from_route_key(&route.route_key()), Some(route));
            assert_eq!(Route::from_name(route.name()), Some(route));
        }
        for unknown in [
            "PUT /api/v1/applications/{applicationId}/sessions",
            "POST /api/v1/applications/{applicationId}/sessions/{sessionId}",
            "GET /api/v1/applications/{applicationId}/sessions/{sessionId}/heartbeat",
            "DELETE /api/v1/applications/{applicationId}/sessions/{sessionId}/disconnect",
        ] {
            assert_eq!(Route::from_route_key(unknown), None, "{unknown}");
        }
        assert_eq!(Route::from_name("list"), None);
        assert_eq!(Route::from_name("connect"), None);
        let keys: std::collections::HashSet<_> = Route::ALL.map(Route::route_key).into();
        assert_eq!(keys.len(), Route::ALL.len(), "route keys are distinct");
    }

    #[test]
    fn the_transmitter_routes_are_found_by_key_and_only_discovery_is_public() {
        for route in Route::SHARED_SIGNALS {
            assert_eq!(Route::from_route_key(&route.route_key()), Some(route));
            assert!(route.is_shared_signals() && !Route::ALL.contains(&route));
            assert!(route.name().starts_with("ssf-"), "{route:?}");
            let public = matches!(route, Route::SsfConfiguration | Route::SsfJwks);
            assert_eq!(route.scope() == Scope::Public, public, "{route:?}");
            assert_eq!(route.scope() == Scope::SsfManage, !public, "{route:?}");
        }
        let keys: std::collections::HashSet<_> = Route::SHARED_SIGNALS.map(Route::route_key).into();
        assert_eq!(
            keys.len(),
            Route::SHARED_SIGNALS.len(),
            "route keys are distinct"
        );
        assert_eq!(Route::SsfStreamUpdate.route_key(), "PATCH /ssf/stream");
        assert!(Route::SsfStreamReplace.reads_body() && !Route::SsfStreamDelete.reads_body());
        assert!(Route::ALL.into_iter().all(|r| !r.is_shared_signals()));
    }

    #[test]
    fn only_the_revoke_routes_count_revocations() {
        let revoking: Vec<_> = Route::ALL.into_iter().filter(|r| r.revokes()).collect();
        assert_eq!(revoking, [Route::RevokeSessions, Route::RevokeSession]);
        assert!(Route::ALL
            .into_iter()
            .all(|r| r.revokes() == (r.scope() == Scope::SessionsWrite)));
    }

    #[test]
    fn the_connection_side_is_three_posts_under_its_own_scope() {
        let connection: Vec<_> = Route::ALL
            .into_iter()
            .filter(|r| r.scope() == Scope::SessionsConnect)
            .collect();
        assert_eq!(
            connection,
            [
                Route::ConnectSession,
                Route::HeartbeatSession,
                Route::DisconnectSession
            ]
        );
        for route in Route::ALL {
            assert_eq!(route.reads_body(), connection.contains(&route), "{route:?}");
            assert_eq!(route.method() == "POST", route.reads_body(), "{route:?}");
        }
        assert_eq!(
            Route::ConnectSession.route_key(),
            "POST /api/v1/applications/{applicationId}/sessions"
        );
        assert_eq!(
            Route::HeartbeatSession.route_key(),
            "POST /api/v1/applications/{applicationId}/sessions/{sessionId}/heartbeat"
        );
        assert_eq!(
            Route::DisconnectSession.route_key(),
            "POST /api/v1/applications/{applicationId}/sessions/{sessionId}/disconnect"
        );
        assert_eq!(
            Route::ALL.map(Route::name)[4..],
            ["connect-session", "heartbeat-session", "disconnect-session"]
        );
    }
}
