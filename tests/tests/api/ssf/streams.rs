//! Discovery, keys and the stream management (SSF 1.0, sections 7 and 8): what a receiver
//! sees, what it may change, and that it only ever sees its own organization's streams.

use serde_json::{json, Value};
use sessions::route::Route;
use sessions::ssf::{PUSH_METHOD, SESSION_REVOKED, VERIFICATION};
use sessions_tests::Event;
use uuid::Uuid;

use super::rig::{Receiver, Rig, ISSUER};

fn assert_error(reply: &sessions_tests::Reply, status: u16, code: &str, needle: &str) {
    assert_eq!(reply.status, status, "{:#}", reply.body);
    assert_eq!(reply.body["code"], code, "{:#}", reply.body);
    assert_eq!(reply.body["statusCode"], status);
    assert!(reply.body["requestId"].is_string());
    let message = reply.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should say {needle:?}"
    );
}

#[tokio::test]
async fn discovery_names_the_issuer_push_and_every_endpoint_without_a_token() {
    let rig = Rig::new(3).await;
    let reply = rig
        .call(Event::new(Route::SsfConfiguration, "", None))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "spec_version": "1_0",
            "issuer": ISSUER,
            "jwks_uri": format!("{ISSUER}/ssf/jwks"),
            "delivery_methods_supported": [PUSH_METHOD],
            "configuration_endpoint": format!("{ISSUER}/ssf/stream"),
            "status_endpoint": format!("{ISSUER}/ssf/status"),
            "verification_endpoint": format!("{ISSUER}/ssf/verify"),
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        })
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("x-request-id").is_some());

    let jwks = rig.jwks().await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
    assert!(key.get("d").is_none(), "no private part");
    assert!(key["kid"].as_str().is_some_and(|k| k.len() == 43));
}

#[tokio::test]
async fn a_receiver_creates_reads_updates_replaces_and_deletes_its_stream() {
    let rig = Rig::new(3).await;
    let created = rig
        .call(rig.event(Route::SsfStreamCreate).json_body(&json!({
            "delivery": {"method": PUSH_METHOD, "endpoint_url": "http://127.0.0.1:9/events",
                "authorization_header": "Bearer a"},
            "events_requested": [SESSION_REVOKED, "https://example.com/unsupported"],
            "description": "gateway",
        })))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["stream_id"]
        .as_str()
        .expect("stream_id")
        .to_string();
    assert!(Uuid::try_parse(&id).is_ok());
    assert_eq!(created.body["iss"], ISSUER);
    assert_eq!(created.body["aud"], "svc-test", "the receiver's client id");
    assert_eq!(created.body["events_supported"], json!([SESSION_REVOKED]));
    assert_eq!(created.body["events_delivered"], json!([SESSION_REVOKED]));
    assert_eq!(created.body["description"], "gateway");

    let read = rig
        .call(rig.event(Route::SsfStreamRead).query("stream_id", &id))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created.body);
    let all = rig.call(rig.event(Route::SsfStreamRead)).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body, json!([created.body]));

    let updated = rig
        .call(rig.event(Route::SsfStreamUpdate).json_body(&json!({
            "stream_id": id, "iss": ISSUER, "description": "gateway eu"
        })))
        .await;
    assert_eq!(updated.status, 200, "{:#}", updated.body);
    assert_eq!(updated.body["description"], "gateway eu");
    assert_eq!(
        updated.body["delivery"], created.body["delivery"],
        "untouched"
    );

    let replaced = rig
        .call(rig.event(Route::SsfStreamReplace).json_body(&json!({
            "stream_id": id,
            "delivery": {"method": PUSH_METHOD, "endpoint_url": "http://127.0.0.1:10/events"},
        })))
        .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.body["events_requested"], json!([]));
    assert_eq!(replaced.body["events_delivered"], json!([]));
    assert!(replaced.body.get("description").is_none());
    assert!(replaced.body["delivery"]
        .get("authorization_header")
        .is_none());

    let deleted = rig
        .call(rig.event(Route::SsfStreamDelete).query("stream_id", &id))
        .await;
    assert_eq!(deleted.status, 204);
    let gone = rig
        .call(rig.event(Route::SsfStreamRead).query("stream_id", &id))
        .await;
    assert_error(&gone, 404, "not_found", "Stream not found");
    let again = rig
        .call(rig.event(Route::SsfStreamDelete).query("stream_id", &id))
        .await;
    assert_error(&again, 404, "not_found", "Stream not found");
}

#[tokio::test]
async fn status_is_enabled_until_the_receiver_changes_it() {
    let rig = Rig::new(3).await;
    let id = rig.create_stream("http://127.0.0.1:9/events").await;
    let status = |rig: &Rig| rig.event(Route::SsfStatusRead).query("stream_id", &id);
    let read = rig.call(status(&rig)).await;
    assert_eq!(read.body, json!({"stream_id": id, "status": "enabled"}));
    let paused = rig
        .call(
            rig.event(Route::SsfStatusUpdate)
                .json_body(&json!({"stream_id": id, "status": "paused", "reason": "maintenance"})),
        )
        .await;
    assert_eq!(paused.status, 200, "{:#}", paused.body);
    assert_eq!(
        paused.body,
        json!({"stream_id": id, "status": "paused", "reason": "maintenance"})
    );
    assert_eq!(rig.call(status(&rig)).await.body, paused.body);
    let bad = rig
        .call(
            rig.event(Route::SsfStatusUpdate)
                .json_body(&json!({"stream_id": id, "status": "on"})),
        )
        .await;
    assert_error(&bad, 400, "invalid_request", "enabled, paused, disabled");
    let missing = rig.call(rig.event(Route::SsfStatusRead)).await;
    assert_error(&missing, 400, "invalid_request", "stream_id is required");
}

#[tokio::test]
async fn another_organizations_stream_is_not_found_on_every_route() {
    let rig = Rig::new(3).await;
    let id = rig.create_stream("http://127.0.0.1:9/events").await;
    let other = Uuid::new_v4();
    let as_other = |route: Route| rig.event_as(route, other);
    let body = json!({"stream_id": id});
    for (what, event) in [
        (
            "read",
            as_other(Route::SsfStreamRead).query("stream_id", &id),
        ),
        (
            "update",
            as_other(Route::SsfStreamUpdate)
                .json_body(&json!({"stream_id": id, "description": "x"})),
        ),
        (
            "replace",
            as_other(Route::SsfStreamReplace).json_body(&json!({"stream_id": id,
                "delivery": {"method": PUSH_METHOD, "endpoint_url": "http://127.0.0.1:1/x"}})),
        ),
        (
            "delete",
            as_other(Route::SsfStreamDelete).query("stream_id", &id),
        ),
        (
            "status",
            as_other(Route::SsfStatusRead).query("stream_id", &id),
        ),
        (
            "status update",
            as_other(Route::SsfStatusUpdate)
                .json_body(&json!({"stream_id": id, "status": "disabled"})),
        ),
        ("verify", as_other(Route::SsfVerify).json_body(&body)),
    ] {
        let reply = rig.call(event).await;
        assert_error(&reply, 404, "not_found", "Stream not found");
        assert!(
            !reply.body.to_string().contains(&rig.world.org.to_string()),
            "{what}"
        );
    }
    let listed = rig.call(as_other(Route::SsfStreamRead)).await;
    assert_eq!(listed.body, json!([]), "another organization lists none");
    // Still there, unchanged, for its own organization.
    let mine = rig
        .call(rig.event(Route::SsfStreamRead).query("stream_id", &id))
        .await;
    assert_eq!(mine.status, 200);
    let status = rig
        .call(rig.event(Route::SsfStatusRead).query("stream_id", &id))
        .await;
    assert_eq!(status.body["status"], "enabled");
}

#[tokio::test]
async fn management_needs_a_token_with_ssf_manage() {
    let rig = Rig::new(3).await;
    let no_token = rig
        .call(
            Event::new(Route::SsfStreamRead, "", None)
                .without_bearer()
                .without_authorizer(),
        )
        .await;
    assert_error(&no_token, 401, "unauthorized", "bearer token");
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));
    for scope in [
        "sessions:read sessions:write",
        "management:all",
        "sessions:connect",
    ] {
        let reply = rig
            .call(Event::new(Route::SsfStreamRead, "", None).claims(rig.world.org, scope))
            .await;
        assert_error(&reply, 403, "forbidden", "ssf:manage");
    }
}

#[tokio::test]
async fn malformed_requests_are_400s_that_name_the_problem() {
    let rig = Rig::new(3).await;
    let create = |body: Value| rig.event(Route::SsfStreamCreate).json_body(&body);
    let push = |url: &str| json!({"method": PUSH_METHOD, "endpoint_url": url});
    for (body, needle) in [
        (json!({}), "delivery is required"),
        (
            json!({"delivery": {"method": "urn:ietf:rfc:8936"}}),
            "(poll) is not offered",
        ),
        (
            json!({"delivery": {"method": "https://schemas.example/push"}}),
            "is not supported",
        ),
        (
            json!({"delivery": push("ftp://127.0.0.1/x")}),
            "http or https",
        ),
        (
            json!({"delivery": push("/relative")}),
            "absolute http(s) URL",
        ),
        (
            json!({"delivery": push("http://127.0.0.1/x"), "events_requested": "all"}),
            "events_requested",
        ),
        (
            json!({"delivery": push("http://127.0.0.1/x"), "stream_id": "x"}),
            "set by the transmitter",
        ),
        (
            json!({"delivery": push("http://127.0.0.1/x"), "colour": 1}),
            "colour",
        ),
    ] {
        let reply = rig.call(create(body.clone())).await;
        assert_error(&reply, 400, "invalid_request", needle);
    }
    let not_an_id = rig
        .call(rig.event(Route::SsfStreamRead).query("stream_id", "../x"))
        .await;
    assert_error(&not_an_id, 400, "invalid_request", "stream_id");
    let text = rig
        .call(
            rig.event(Route::SsfStreamCreate)
                .json_body(&json!({}))
                .header("content-type", "text/plain"),
        )
        .await;
    assert_eq!(text.status, 415, "{:#}", text.body);
}

#[tokio::test]
async fn private_endpoints_are_refused_unless_the_transmitter_allows_them() {
    let rig = Rig::new(3).await;
    let mut strict = rig.transmitter.clone();
    strict.endpoints.allow_private = false;
    let api = rig.world.api.clone().with_transmitter(strict);
    let reply = sessions_tests::call(
        &api,
        rig.event(Route::SsfStreamCreate).json_body(&json!({
            "delivery": {"method": PUSH_METHOD, "endpoint_url": "http://169.254.169.254/latest"}
        })),
    )
    .await;
    assert_error(&reply, 400, "invalid_request", "link-local");
}

#[tokio::test]
async fn verification_sends_the_receiver_a_signed_set_with_its_state() {
    let rig = Rig::new(3).await;
    let receiver = Receiver::start(202).await;
    let id = rig.create_stream(&receiver.url).await;
    let reply = rig
        .call(
            rig.event(Route::SsfVerify)
                .json_body(&json!({"stream_id": id, "state": "state-42"})),
        )
        .await;
    assert_eq!(reply.status, 204, "{:#}", reply.body);
    let pushed = receiver.wait_for(1).await;
    let verified = rig.verify_with_joserfc(&pushed).await;
    let (header, claims) = &verified[0];
    assert_eq!(header["typ"], "secevent+jwt");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "svc-test");
    assert_eq!(
        claims["events"],
        json!({VERIFICATION: {"state": "state-42"}})
    );
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}));
    assert_eq!(
        pushed[0].authorization.as_deref(),
        Some("Bearer receiver-secret")
    );
}

/// The properties and the required members of `openapi.yaml`'s schema `name`.
fn documented(spec: &Value, name: &str) -> (Vec<String>, Vec<String>) {
    let schema = &spec["components"]["schemas"][name];
    assert!(schema.is_object(), "openapi.yaml has the schema {name}");
    let properties = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    (properties, crate::spec_files::strings(&schema["required"]))
}

fn assert_documented(spec: &Value, name: &str, answer: &Value) {
    let (properties, required) = documented(spec, name);
    let members = answer
        .as_object()
        .unwrap_or_else(|| panic!("{name}: {answer}"));
    for member in members.keys() {
        assert!(
            properties.contains(member),
            "{name} does not document {member}"
        );
    }
    for member in &required {
        assert!(
            members.contains_key(member),
            "{name} requires {member}: {answer}"
        );
    }
}

#[tokio::test]
async fn the_answers_have_the_shapes_openapi_documents() {
    let spec = crate::spec_files::openapi();
    let text = serde_json::to_string(&spec).expect("json");
    for reference in text.split("\"$ref\":\"#").skip(1) {
        let pointer = &reference[..reference.find('"').expect("a closing quote")];
        assert!(
            spec.pointer(pointer).is_some(),
            "dangling reference #{pointer}"
        );
    }
    let rig = Rig::new(3).await;
    let discovery = rig
        .call(Event::new(Route::SsfConfiguration, "", None))
        .await;
    assert_documented(&spec, "SsfConfiguration", &discovery.body);
    assert_documented(&spec, "Jwks", &rig.jwks().await);
    let id = rig.create_stream("http://127.0.0.1:9/events").await;
    let read = rig
        .call(rig.event(Route::SsfStreamRead).query("stream_id", &id))
        .await;
    assert_documented(&spec, "SsfStream", &read.body);
    let status = rig
        .call(rig.event(Route::SsfStatusRead).query("stream_id", &id))
        .await;
    assert_documented(&spec, "SsfStatus", &status.body);
}
