//! The deployed side of authorization, read from `template.yaml`: the development verifier is
//! never switched on, and API Gateway's scopes for each route agree with the scope the
//! function itself requires (API Gateway lets a route through when the token holds ANY of the
//! route's `AuthorizationScopes`, so each route lists its own scope and `management:all`).

use std::collections::BTreeMap;

use sessions_shared::auth::{Scope, MANAGEMENT_ALL};

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    std::fs::read_to_string(path).expect("template.yaml at the workspace root")
}

/// The template's lines without comments (a `#` at the start or after a space).
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let cut = if line.trim_start().starts_with('#') {
                0
            } else {
                line.find(" #").unwrap_or(line.len())
            };
            line[..cut].trim_end().to_string()
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn value_of(line: &str, key: &str) -> Option<String> {
    line.trim()
        .strip_prefix(key)
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// (method, path) → the route's `AuthorizationScopes`, in flow (`[a, b]`) or block style.
fn route_scopes(lines: &[String]) -> BTreeMap<(String, String), Vec<String>> {
    let mut routes = BTreeMap::new();
    let (mut method, mut path) = (None, None);
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if let Some(v) = value_of(line, "Method:") {
            method = Some(v);
        } else if let Some(v) = value_of(line, "Path:") {
            path = Some(v);
        } else if let Some(v) = value_of(line, "AuthorizationScopes:") {
            let mut scopes: Vec<String> = v
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .filter(|s| !s.is_empty())
                .collect();
            while let Some(item) = lines.get(i + 1).and_then(|l| l.trim().strip_prefix("- ")) {
                scopes.push(item.trim().trim_matches('"').to_string());
                i += 1;
            }
            scopes.sort();
            let key = (
                method.take().expect("Method before AuthorizationScopes"),
                path.take().expect("Path before AuthorizationScopes"),
            );
            routes.insert(key, scopes);
        }
        i += 1;
    }
    routes
}

#[test]
fn the_template_never_switches_on_the_development_verifier() {
    for line in code_lines(&template()) {
        assert!(!line.contains("SESSIONS_DEV_JWT"), "{line}");
    }
}

#[test]
fn every_route_is_behind_the_jwt_authorizer() {
    let lines = code_lines(&template());
    assert!(
        lines
            .iter()
            .any(|l| value_of(l, "DefaultAuthorizer:").as_deref() == Some("JwtAuthorizer")),
        "the HttpApi's default authorizer is the JWT authorizer"
    );
    for key in ["issuer:", "audience:", "IdentitySource:"] {
        assert!(
            lines.iter().any(|l| value_of(l, key).is_some()),
            "JwtConfiguration has {key}"
        );
    }
    for line in &lines {
        if let Some(v) = value_of(line, "Authorizer:") {
            assert_eq!(v, "JwtAuthorizer", "a route opts out of the authorizer");
        }
    }
}

#[test]
fn the_template_and_the_functions_agree_on_scopes() {
    let base = "/api/v1/applications/{applicationId}/sessions";
    let one = format!("{base}/{{sessionId}}");
    let with_management = |scope: Scope| {
        let mut scopes = vec![scope.as_str().to_string(), MANAGEMENT_ALL.to_string()];
        scopes.sort();
        scopes
    };
    let expected = BTreeMap::from([
        (
            ("GET".into(), base.into()),
            with_management(Scope::SessionsRead),
        ),
        (
            ("GET".into(), one.clone()),
            with_management(Scope::SessionsRead),
        ),
        (
            ("DELETE".into(), base.into()),
            with_management(Scope::SessionsWrite),
        ),
        (
            ("DELETE".into(), one),
            with_management(Scope::SessionsWrite),
        ),
    ]);
    assert_eq!(route_scopes(&code_lines(&template())), expected);
}
