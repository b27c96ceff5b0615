//! Forged tokens against the development verifier, and the claim shapes API Gateway's JWT
//! authorizer hands the functions.
//!
//! Every forged token is built by hand from a *control* token that the verifier accepts, with
//! exactly one thing changed, so that each refusal is for the reason the test names and not
//! for a mistake in the forgery.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sessions::auth::dev::{mint_dev_token, DevClaims};
use sessions::auth::MAX_TOKEN_BYTES;
use sessions::config::DevJwtConfig;
use sessions::model::Application;
use sessions::route::Route;
use sessions_tests::{Event, Reply, World, DEV_SECRET};
use uuid::Uuid;

const ISSUER: &str = "sessions-api-dev";
const AUDIENCE: &str = "sessions-api";
const INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;
const INSUFFICIENT_SCOPE: &str = r#"Bearer error="insufficient_scope""#;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS over `header` and `claims`, signed with HMAC-SHA256 under `secret` whatever
/// the header says.
fn forge(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// Claims the verifier accepts: the control every forgery departs from in one way.
fn claims(org: Uuid) -> Value {
    json!({
        "sub": "attacker",
        "org_id": org.to_string(),
        "scope": "sessions:read sessions:write",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 300,
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    if let Some(object) = claims.as_object_mut() {
        object.remove(name);
    }
    claims
}

async fn dev_world() -> World {
    World::with_env(|vars| {
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
    })
    .await
}

/// A list request carrying `token` and no authorizer claims, as `cargo lambda watch` sends it.
async fn list_with(world: &World, token: &str) -> Reply {
    world
        .call(
            world
                .event(Route::ListSessions)
                .without_authorizer()
                .bearer(token),
        )
        .await
}

/// A 401 for a token that was sent but not accepted: RFC 6750's `invalid_token` challenge.
fn assert_unauthorized(reply: &Reply, message: &str, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {:#}", reply.body);
    assert_eq!(reply.expect_error(401, "unauthorized"), message, "{case}");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(INVALID_TOKEN),
        "{case}"
    );
}

#[tokio::test]
async fn the_control_token_is_accepted() {
    let world = dev_world().await;
    let token = forge(&hs256(), &claims(world.org), DEV_SECRET.as_bytes());
    let reply = list_with(&world, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
}

#[tokio::test]
async fn algorithm_is_pinned_to_hs256() {
    let world = dev_world().await;
    let c = claims(world.org);
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            b64(json!({"alg": alg, "typ": "JWT"}).to_string()),
            b64(c.to_string())
        )
    };
    let mut tokens = vec![
        ("alg none, no signature", unsigned("none")),
        ("alg None, no signature", unsigned("None")),
        ("alg NONE, no signature", unsigned("NONE")),
        ("no alg at all", {
            let input = format!("{}.{}", b64(r#"{"typ":"JWT"}"#), b64(c.to_string()));
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(DEV_SECRET.as_bytes()).expect("key");
            mac.update(input.as_bytes());
            format!("{input}.{}", b64(mac.finalize().into_bytes()))
        }),
    ];
    // The classic confusion: a public-key algorithm in the header, HMAC'd with the secret.
    for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
        tokens.push((
            "asymmetric alg, HMAC signature",
            forge(
                &json!({"alg": alg, "typ": "JWT"}),
                &c,
                DEV_SECRET.as_bytes(),
            ),
        ));
    }
    // Another HMAC algorithm, correctly signed with the right secret, is still not HS256.
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS512", "typ": "JWT"}).to_string()),
        b64(c.to_string())
    );
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(DEV_SECRET.as_bytes()).expect("key");
    mac.update(input.as_bytes());
    tokens.push((
        "HS512, correctly signed",
        format!("{input}.{}", b64(mac.finalize().into_bytes())),
    ));

    for (case, token) in tokens {
        let reply = list_with(&world, &token).await;
        assert_unauthorized(&reply, "invalid or expired bearer token", case);
    }
}

#[tokio::test]
async fn signature_key_issuer_and_audience_are_checked() {
    let world = dev_world().await;
    let c = claims(world.org);
    let secret = DEV_SECRET.as_bytes();
    let control = forge(&hs256(), &c, secret);
    // The signature of one token over the claims of another (another organization's).
    let spliced = {
        let other = forge(&hs256(), &claims(Uuid::new_v4()), secret);
        let mut parts: Vec<&str> = control.split('.').collect();
        let other_parts: Vec<&str> = other.split('.').collect();
        parts[1] = other_parts[1];
        parts.join(".")
    };
    let cases = [
        (
            "wrong key",
            forge(&hs256(), &c, b"another-secret-0123456789abcdef0123"),
        ),
        (
            "key one byte short",
            forge(&hs256(), &c, &secret[..secret.len() - 1]),
        ),
        ("claims swapped under a valid signature", spliced),
        ("signature removed", {
            let (head, _) = control.rsplit_once('.').expect("three parts");
            format!("{head}.")
        }),
        ("two parts only", {
            let (head, _) = control.rsplit_once('.').expect("three parts");
            head.to_string()
        }),
        (
            "wrong issuer",
            forge(
                &hs256(),
                &with(c.clone(), "iss", json!("someone-else")),
                secret,
            ),
        ),
        (
            "issuer as a list holding ours",
            forge(
                &hs256(),
                &with(c.clone(), "iss", json!([ISSUER, "someone-else"])),
                secret,
            ),
        ),
        (
            "no issuer",
            forge(&hs256(), &without(c.clone(), "iss"), secret),
        ),
        (
            "wrong audience",
            forge(
                &hs256(),
                &with(c.clone(), "aud", json!("another-api")),
                secret,
            ),
        ),
        (
            "no audience",
            forge(&hs256(), &without(c.clone(), "aud"), secret),
        ),
        (
            "no expiry",
            forge(&hs256(), &without(c.clone(), "exp"), secret),
        ),
        (
            "expiry as a string",
            forge(
                &hs256(),
                &with(c.clone(), "exp", json!((now() + 300).to_string())),
                secret,
            ),
        ),
        ("not a JWT", "garbage".to_string()),
        ("empty segments", "..".to_string()),
    ];
    for (case, token) in cases {
        let reply = list_with(&world, &token).await;
        assert_unauthorized(&reply, "invalid or expired bearer token", case);
    }
    // An audience list that includes ours is how RFC 7519 allows several: accepted.
    let token = forge(
        &hs256(),
        &with(c, "aud", json!(["another-api", AUDIENCE])),
        secret,
    );
    assert_eq!(list_with(&world, &token).await.status, 200);
}

#[tokio::test]
async fn expiry_and_not_before_allow_only_a_small_leeway() {
    let world = dev_world().await;
    let c = claims(world.org);
    let secret = DEV_SECRET.as_bytes();
    // The leeway is 30 s: a few seconds of clock skew pass, minutes do not.
    let accepted = [
        ("expired 5 s ago", with(c.clone(), "exp", json!(now() - 5))),
        (
            "valid from in 5 s",
            with(c.clone(), "nbf", json!(now() + 5)),
        ),
        (
            "valid from a minute ago",
            with(c.clone(), "nbf", json!(now() - 60)),
        ),
    ];
    for (case, claims) in accepted {
        let reply = list_with(&world, &forge(&hs256(), &claims, secret)).await;
        assert_eq!(reply.status, 200, "{case}: {:#}", reply.body);
    }
    let refused = [
        (
            "expired 2 min ago",
            with(c.clone(), "exp", json!(now() - 120)),
        ),
        (
            "expired a day ago",
            with(c.clone(), "exp", json!(now() - 86_400)),
        ),
        (
            "valid from in 2 min",
            with(c.clone(), "nbf", json!(now() + 120)),
        ),
        ("nbf as a string", with(c.clone(), "nbf", json!("soon"))),
    ];
    for (case, claims) in refused {
        let reply = list_with(&world, &forge(&hs256(), &claims, secret)).await;
        assert_unauthorized(&reply, "invalid or expired bearer token", case);
    }
}

#[tokio::test]
async fn a_verified_token_still_needs_an_organization() {
    let world = dev_world().await;
    let c = claims(world.org);
    let secret = DEV_SECRET.as_bytes();
    for (case, claims) in [
        ("no organization", without(c.clone(), "org_id")),
        ("empty organization", with(c.clone(), "org_id", json!(""))),
        ("not a UUID", with(c.clone(), "org_id", json!("acme"))),
        ("a number", with(c.clone(), "org_id", json!(42))),
        (
            "a list",
            with(c.clone(), "org_id", json!([world.org.to_string()])),
        ),
        (
            "in another claim",
            with(
                without(c.clone(), "org_id"),
                "tenant",
                json!(world.org.to_string()),
            ),
        ),
        ("unicode", with(c.clone(), "org_id", json!("ørg-ünïcødé-✓"))),
    ] {
        let reply = list_with(&world, &forge(&hs256(), &claims, secret)).await;
        assert_unauthorized(&reply, "token carries no valid organization", case);
    }
}

#[tokio::test]
async fn scopes_as_a_string_or_a_list_and_nothing_else() {
    let world = dev_world().await;
    let c = claims(world.org);
    let secret = DEV_SECRET.as_bytes();
    // (scope claims, may list, may revoke)
    let cases = [
        (json!({"scope": "sessions:read"}), true, false),
        (json!({"scp": ["sessions:read"]}), true, false),
        (json!({"scp": "sessions:read sessions:write"}), true, true),
        (
            json!({"scp": ["sessions:read", "sessions:write"]}),
            true,
            true,
        ),
        (json!({"scp": ["management:all"]}), true, true),
        (json!({"scope": "management:all"}), true, true),
        (json!({"scope": "sessions:write"}), false, true),
        (
            json!({"scope": "sessions:read,sessions:write"}),
            false,
            false,
        ),
        (json!({"scope": "SESSIONS:READ"}), false, false),
        (
            json!({"scope": "sessions:read:extra management"}),
            false,
            false,
        ),
        (json!({"scp": [["sessions:read"]]}), false, false),
        (json!({"scp": 7}), false, false),
        (json!({}), false, false),
    ];
    for (scopes, read, write) in cases {
        let mut claims = without(c.clone(), "scope");
        if let Some(object) = scopes.as_object() {
            for (k, v) in object {
                claims[k] = v.clone();
            }
        }
        let token = forge(&hs256(), &claims, secret);
        for (route, allowed, missing) in [
            (Route::ListSessions, read, "sessions:read"),
            (Route::RevokeSessions, write, "sessions:write"),
        ] {
            let case = format!("{scopes} {route:?}");
            let event = |app: &Application| {
                Event::new(route, &app.id.to_string(), None)
                    .without_authorizer()
                    .bearer(&token)
            };
            if allowed {
                assert_allowed(&world, route, event, &case).await;
            } else {
                let refused = assert_refused(&world, event, &case).await;
                assert_eq!(
                    refused.expect_error(403, "forbidden"),
                    format!("token lacks the {missing} scope"),
                    "{case}"
                );
                assert_eq!(refused.header("www-authenticate"), Some(INSUFFICIENT_SCOPE));
            }
        }
    }
}

/// Sends `event` for a new application holding one active session, and asserts that `route`
/// did its work: the list shows the session, a revoke-all disconnects it.
async fn assert_allowed(
    world: &World,
    route: Route,
    event: impl Fn(&Application) -> Event,
    case: &str,
) {
    let (app, session) = world.app_with_session().await;
    let reply = world.call(event(&app)).await;
    assert_eq!(reply.status, 200, "{case}: {:#}", reply.body);
    match route {
        Route::ListSessions => assert_eq!(reply.ids(), [session.id.to_string()], "{case}"),
        Route::RevokeSessions => assert_eq!(
            reply.body,
            json!({"success": true, "disconnectedCount": 1}),
            "{case}"
        ),
        other => panic!("{other:?} is not a collection route"),
    }
}

/// Sends `event` for a new application holding one active session, and asserts that the
/// refusal changed nothing: no watermark, the session stored and read active. Returns the reply.
async fn assert_refused(world: &World, event: impl Fn(&Application) -> Event, case: &str) -> Reply {
    let (app, session) = world.app_with_session().await;
    let reply = world.call(event(&app)).await;
    assert!(
        reply.status == 401 || reply.status == 403,
        "{case}: {:#}",
        reply.body
    );
    world.assert_untouched(&app, &session, case).await;
    reply
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_they_are_parsed() {
    let world = dev_world().await;
    let secret = DEV_SECRET.as_bytes();
    // Pad a valid token with a junk claim to just under and just over the limit.
    let padded = |target: usize| {
        let mut pad = 0;
        loop {
            let claims = with(claims(world.org), "pad", json!("x".repeat(pad)));
            let token = forge(&hs256(), &claims, secret);
            if token.len() >= target {
                return token;
            }
            // Each byte of the claim adds about 4/3 bytes of base64.
            pad += ((target - token.len()) * 3 / 4).max(1);
        }
    };
    let under = padded(MAX_TOKEN_BYTES - 64);
    assert!(under.len() <= MAX_TOKEN_BYTES, "{}", under.len());
    assert_eq!(list_with(&world, &under).await.status, 200);
    let over = padded(MAX_TOKEN_BYTES + 1);
    assert!(over.len() > MAX_TOKEN_BYTES);
    assert_unauthorized(
        &list_with(&world, &over).await,
        "missing or invalid bearer token",
        "just over",
    );
    let huge = padded(64 * 1024);
    assert_unauthorized(
        &list_with(&world, &huge).await,
        "missing or invalid bearer token",
        "64 kB",
    );
}

#[tokio::test]
async fn the_authorization_header_must_be_one_bearer_token() {
    let world = dev_world().await;
    let token = forge(&hs256(), &claims(world.org), DEV_SECRET.as_bytes());
    let accepted = [format!("bearer {token}"), format!("BEARER  {token} ")];
    for value in &accepted {
        let reply = world
            .call(
                world
                    .event(Route::ListSessions)
                    .without_authorizer()
                    .header("authorization", value),
            )
            .await;
        assert_eq!(reply.status, 200, "{value}: {:#}", reply.body);
    }
    let refused = [
        (format!("Basic {token}"), "missing or invalid bearer token"),
        (token.clone(), "missing or invalid bearer token"),
        ("Bearer".to_string(), "missing or invalid bearer token"),
        ("Bearer ".to_string(), "missing or invalid bearer token"),
        (
            format!("Bearer {token} {token}"),
            "invalid or expired bearer token",
        ),
        (
            format!("Bearer {token}ü"),
            "missing or invalid bearer token",
        ),
    ];
    for (value, message) in refused {
        let reply = world
            .call(
                world
                    .event(Route::ListSessions)
                    .without_authorizer()
                    .header("authorization", &value),
            )
            .await;
        assert_unauthorized(&reply, message, &value);
    }
    // No credentials at all: RFC 6750, section 3.1, a challenge without an error code.
    let reply = world
        .call(
            world
                .event(Route::ListSessions)
                .without_authorizer()
                .without_bearer(),
        )
        .await;
    assert_eq!(
        reply.expect_error(401, "unauthorized"),
        "missing or invalid bearer token"
    );
    assert_eq!(reply.bearer_error(), None, "no header");
}

#[tokio::test]
async fn dev_tokens_follow_a_configured_organization_claim() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
        vars.insert("SESSIONS_ORG_CLAIM".into(), "tenant".into());
    })
    .await;
    let config = DevJwtConfig {
        secret: DEV_SECRET.as_bytes().to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    };
    let claims = DevClaims {
        sub: "dev".into(),
        organization_id: world.org.to_string(),
        scope: "sessions:read".into(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now(),
        exp: now() + 300,
    };
    let minted = mint_dev_token(&config, "tenant", &claims).expect("mint");
    assert_eq!(list_with(&world, &minted).await.status, 200);
    // The same organization under the default name is not what these functions read.
    let default = mint_dev_token(&config, "org_id", &claims).expect("mint");
    assert_unauthorized(
        &list_with(&world, &default).await,
        "token carries no valid organization",
        "org_id when tenant is configured",
    );
}

#[tokio::test]
async fn gateway_claim_shapes() {
    let world = World::new().await;
    let org = world.org.to_string();
    // (claims as API Gateway renders them, may list, may revoke); None: 401.
    let cases: Vec<(Value, Option<(bool, bool)>)> = vec![
        (
            json!({"org_id": org, "scp": "[sessions:read]"}),
            Some((true, false)),
        ),
        (
            json!({"org_id": org, "scp": "[sessions:read sessions:write]"}),
            Some((true, true)),
        ),
        (
            json!({"org_id": org, "scp": "[management:all]"}),
            Some((true, true)),
        ),
        (
            json!({"org_id": org, "scope": "sessions:read", "scp": "[sessions:write]"}),
            Some((true, true)),
        ),
        (
            json!({"org_id": org, "scope": "sessions:read,sessions:write"}),
            Some((false, false)),
        ),
        (
            json!({"org_id": org, "scp": "[[sessions:read]]"}),
            Some((false, false)),
        ),
        (json!({"org_id": org}), Some((false, false))),
        (
            json!({"org_id": org.to_uppercase(), "scope": ALL_SCOPES}),
            Some((true, true)),
        ),
        (json!({"scope": ALL_SCOPES}), None),
        (json!({"org_id": "", "scope": ALL_SCOPES}), None),
        (json!({"org_id": "acme", "scope": ALL_SCOPES}), None),
        (
            json!({"org_id": format!("[{org}]"), "scope": ALL_SCOPES}),
            None,
        ),
        (json!({"org_id": "ørg-✓", "scope": ALL_SCOPES}), None),
        (json!({"tenant": org, "scope": ALL_SCOPES}), None),
        (json!({}), None),
    ];
    for (claims, expected) in cases {
        for route in [Route::ListSessions, Route::RevokeSessions] {
            let case = format!("{claims} {route:?}");
            let event = |app: &Application| {
                Event::new(route, &app.id.to_string(), None).raw_claims(claims.clone())
            };
            match expected {
                None => {
                    let refused = assert_refused(&world, event, &case).await;
                    assert_unauthorized(
                        &refused,
                        if claims.as_object().is_some_and(|o| o.is_empty()) {
                            "missing or invalid bearer token"
                        } else {
                            "token carries no valid organization"
                        },
                        &case,
                    );
                }
                Some((read, write)) => {
                    let allowed = match route {
                        Route::ListSessions => read,
                        _ => write,
                    };
                    if allowed {
                        assert_allowed(&world, route, event, &case).await;
                    } else {
                        let refused = assert_refused(&world, event, &case).await;
                        refused.expect_error(403, "forbidden");
                        assert_eq!(
                            refused.header("www-authenticate"),
                            Some(INSUFFICIENT_SCOPE),
                            "{case}"
                        );
                    }
                }
            }
        }
    }
}

const ALL_SCOPES: &str = "management:all";

#[tokio::test]
async fn gateway_mode_reads_a_configured_organization_claim_only() {
    let world = World::with_env(|vars| {
        vars.insert(
            "SESSIONS_ORG_CLAIM".into(),
            "https://kontext.dev/org".into(),
        );
    })
    .await;
    let org = world.org.to_string();
    let ok = world
        .call(
            world
                .event(Route::ListSessions)
                .raw_claims(json!({"https://kontext.dev/org": org, "scope": "sessions:read"})),
        )
        .await;
    assert_eq!(ok.status, 200, "{:#}", ok.body);
    let default = world
        .call(
            world
                .event(Route::ListSessions)
                .raw_claims(json!({"org_id": org, "scope": "sessions:read"})),
        )
        .await;
    assert_unauthorized(&default, "token carries no valid organization", "org_id");
}

#[tokio::test]
async fn in_gateway_mode_a_bearer_header_alone_authenticates_nothing() {
    // A route deployed without the authorizer receives no claims: the function must not
    // fall back to reading the token itself, nor to a default tenant.
    let world = World::new().await;
    let token = forge(&hs256(), &claims(world.org), DEV_SECRET.as_bytes());
    for route in [Route::ListSessions, Route::RevokeSessions] {
        let case = format!("no authorizer, {route:?}");
        let event = |app: &Application| {
            Event::new(route, &app.id.to_string(), None)
                .without_authorizer()
                .bearer(&token)
        };
        let refused = assert_refused(&world, event, &case).await;
        assert_unauthorized(&refused, "missing or invalid bearer token", &case);
    }
}
