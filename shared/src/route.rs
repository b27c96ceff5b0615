//! The API's routes: the one list every caller goes through (handlers, metrics, the test
//! harness, the bench, the watch router and the template are checked against it).
//!
//! Each route is served by one Lambda function of the same name.

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
}

/// The collection path; the session routes add `/{sessionId}`.
const SESSIONS_PATH: &str = "/api/v1/applications/{applicationId}/sessions";
const SESSION_PATH: &str = "/api/v1/applications/{applicationId}/sessions/{sessionId}";

impl Route {
    /// Every route, in the order the docs list them.
    pub const ALL: [Route; 4] = [
        Route::ListSessions,
        Route::GetSession,
        Route::RevokeSessions,
        Route::RevokeSession,
    ];

    /// The function's name: its folder under `functions/`, and the route label in logs and
    /// metrics.
    pub fn name(self) -> &'static str {
        match self {
            Route::ListSessions => "list-sessions",
            Route::GetSession => "get-session",
            Route::RevokeSessions => "revoke-sessions",
            Route::RevokeSession => "revoke-session",
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            Route::ListSessions | Route::GetSession => "GET",
            Route::RevokeSessions | Route::RevokeSession => "DELETE",
        }
    }

    /// The path template, with `{applicationId}` and `{sessionId}` parameters.
    pub fn path(self) -> &'static str {
        match self {
            Route::ListSessions | Route::RevokeSessions => SESSIONS_PATH,
            Route::GetSession | Route::RevokeSession => SESSION_PATH,
        }
    }

    /// API Gateway's route key: `METHOD path`.
    pub fn route_key(self) -> String {
        format!("{} {}", self.method(), self.path())
    }

    /// The route a route key names, if it is one of ours.
    pub fn from_route_key(route_key: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.route_key() == route_key)
    }

    /// The route a function name names, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The scope a caller needs (or `management:all`).
    pub fn scope(self) -> Scope {
        match self {
            Route::ListSessions | Route::GetSession => Scope::SessionsRead,
            Route::RevokeSessions | Route::RevokeSession => Scope::SessionsWrite,
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
        assert_eq!(
            Route::from_route_key("POST /api/v1/applications/{applicationId}/sessions"),
            None
        );
        assert_eq!(Route::from_name("list"), None);
        let keys: std::collections::HashSet<_> = Route::ALL.map(Route::route_key).into();
        assert_eq!(keys.len(), Route::ALL.len(), "route keys are distinct");
    }

    #[test]
    fn only_the_revoke_routes_count_revocations() {
        let revoking: Vec<_> = Route::ALL.into_iter().filter(|r| r.revokes()).collect();
        assert_eq!(revoking, [Route::RevokeSessions, Route::RevokeSession]);
        assert!(Route::ALL
            .into_iter()
            .all(|r| r.revokes() == (r.scope() == Scope::SessionsWrite)));
    }
}
