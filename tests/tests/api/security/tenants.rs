//! Tenant isolation, attacked: every route × (foreign application, foreign session, session of
//! a sibling application, foreign cursor). The attacker holds a valid token of its own
//! organization with `management:all`, the broadest scope there is; each refusal must be the
//! exact answer a missing object gets (same status, same body but for `requestId`), and nothing
//! of the victim may change.

use chrono::Duration;
use serde_json::{json, Value};
use sessions::model::Application;
use sessions_tests::{session_of, Event, Reply, World};
use uuid::Uuid;

const ALL: &str = "management:all";

/// Everything a tenant could observe about its application: the application item (its
/// revocation watermark included) and every session as the API shows it.
async fn snapshot(world: &World, org: Uuid, app: &Application) -> (Application, Value) {
    let application = world
        .store
        .get_application(org, app.id)
        .await
        .expect("read the application");
    let reply = world
        .call(
            Event::list(&app.id.to_string())
                .claims(org, "sessions:read")
                .query("status", "all")
                .query("limit", "200"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    (application, reply.body["items"].clone())
}

fn not_found(message: &str) -> Value {
    json!({"message": message, "statusCode": 404, "code": "not_found"})
}

fn invalid_cursor() -> Value {
    json!({"message": "invalid cursor", "statusCode": 400, "code": "invalid_request"})
}

/// Asserts the contract's error shape, the exact body, and that `control` (the same request
/// for something that does not exist) answers byte for byte the same but for `requestId`.
async fn refused(world: &World, case: &str, attack: Event, control: Event, expected: &Value) {
    let attack = world.call(attack).await;
    let control = world.call(control).await;
    for (which, reply) in [("attack", &attack), ("control", &control)] {
        let status = expected["statusCode"].as_u64().expect("status") as u16;
        let code = expected["code"].as_str().expect("code");
        reply.expect_error(status, code);
        assert_eq!(
            &reply.body_without_request_id(),
            expected,
            "{case}: {which}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{case}");
        assert_eq!(reply.header("www-authenticate"), None, "{case}");
    }
    assert_eq!(
        attack.body_without_request_id(),
        control.body_without_request_id(),
        "{case}: attack and control differ"
    );
    assert_eq!(
        header_names(&attack),
        header_names(&control),
        "{case}: headers differ"
    );
}

fn header_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply.headers.keys().map(|k| k.to_string()).collect();
    names.sort();
    names
}

/// The victim (the world's organization) has an application with three active sessions and a
/// sibling application with one; the attacker has its own organization and application.
struct Scene {
    world: World,
    victim_sessions: Vec<Uuid>,
    sibling: Application,
    sibling_session: Uuid,
    attacker: Uuid,
    attacker_app: Application,
    attacker_session: Uuid,
    /// A genuine `nextCursor` the victim got for its application (`status=all`).
    victim_cursor: String,
}

async fn scene() -> Scene {
    let world = World::new().await;
    let mut victim_sessions = Vec::new();
    for age in [30, 20, 10] {
        let s = world.session(Duration::seconds(age));
        world.put(&s).await;
        victim_sessions.push(s.id);
    }
    let sibling = world.add_app(world.org).await;
    let s = session_of(&sibling, sessions::time::now());
    world.put(&s).await;
    let sibling_session = s.id;

    let attacker = Uuid::new_v4();
    let attacker_app = world.add_app(attacker).await;
    let s = session_of(&attacker_app, sessions::time::now());
    world.put(&s).await;
    let attacker_session = s.id;

    let page = world.list(&[("status", "all"), ("limit", "1")]).await;
    let victim_cursor = page.next_cursor().expect("a second page");
    Scene {
        world,
        victim_sessions,
        sibling,
        sibling_session,
        attacker,
        attacker_app,
        attacker_session,
        victim_cursor,
    }
}

#[tokio::test]
async fn foreign_application_on_every_route_is_application_not_found() {
    let sc = scene().await;
    let w = &sc.world;
    let before = snapshot(w, w.org, &w.app).await;
    let victim_app = w.app.id.to_string();
    let missing_app = Uuid::new_v4().to_string();
    let victim_session = sc.victim_sessions[0].to_string();
    let expected = not_found("Application not found");

    let cases = [
        ("list", Event::list(&victim_app), Event::list(&missing_app)),
        (
            "get",
            Event::get(&victim_app, &victim_session),
            Event::get(&missing_app, &victim_session),
        ),
        (
            "revoke-all",
            Event::revoke_all(&victim_app),
            Event::revoke_all(&missing_app),
        ),
        (
            "revoke-one",
            Event::revoke_one(&victim_app, &victim_session),
            Event::revoke_one(&missing_app, &victim_session),
        ),
    ];
    for (case, attack, control) in cases {
        refused(
            w,
            case,
            attack.claims(sc.attacker, ALL),
            control.claims(sc.attacker, ALL),
            &expected,
        )
        .await;
    }
    assert_eq!(snapshot(w, w.org, &w.app).await, before, "victim changed");
}

#[tokio::test]
async fn foreign_session_in_the_attackers_own_application_is_session_not_found() {
    let sc = scene().await;
    let w = &sc.world;
    let before = snapshot(w, w.org, &w.app).await;
    let own_app = sc.attacker_app.id.to_string();
    let victim_session = sc.victim_sessions[0].to_string();
    let missing_session = Uuid::new_v4().to_string();
    let expected = not_found("Session not found");

    for (case, attack, control) in [
        (
            "get",
            Event::get(&own_app, &victim_session),
            Event::get(&own_app, &missing_session),
        ),
        (
            "revoke-one",
            Event::revoke_one(&own_app, &victim_session),
            Event::revoke_one(&own_app, &missing_session),
        ),
    ] {
        refused(
            w,
            case,
            attack.claims(sc.attacker, ALL),
            control.claims(sc.attacker, ALL),
            &expected,
        )
        .await;
    }

    // The collection routes of the attacker's application see only the attacker's session.
    let list = w
        .call(
            Event::list(&own_app)
                .claims(sc.attacker, ALL)
                .query("status", "all"),
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.ids(), [sc.attacker_session.to_string()]);
    assert_eq!(list.body["nextCursor"], Value::Null);
    let revoke = w
        .call(Event::revoke_all(&own_app).claims(sc.attacker, ALL))
        .await;
    assert_eq!(revoke.status, 200);
    assert_eq!(
        revoke.body,
        json!({"success": true, "disconnectedCount": 1})
    );

    assert_eq!(snapshot(w, w.org, &w.app).await, before, "victim changed");
}

#[tokio::test]
async fn session_of_a_sibling_application_is_session_not_found() {
    let sc = scene().await;
    let w = &sc.world;
    let sibling_before = snapshot(w, w.org, &sc.sibling).await;
    let app = w.app.id.to_string();
    let sibling_session = sc.sibling_session.to_string();
    let missing_session = Uuid::new_v4().to_string();
    let expected = not_found("Session not found");

    for (case, attack, control) in [
        (
            "get",
            Event::get(&app, &sibling_session),
            Event::get(&app, &missing_session),
        ),
        (
            "revoke-one",
            Event::revoke_one(&app, &sibling_session),
            Event::revoke_one(&app, &missing_session),
        ),
    ] {
        refused(
            w,
            case,
            attack.claims(w.org, ALL),
            control.claims(w.org, ALL),
            &expected,
        )
        .await;
    }

    // The collection routes stay within their application: the list does not show the
    // sibling's session, and revoke-all counts and changes only the application's own three.
    let list = w.list(&[("status", "all")]).await;
    assert_eq!(list.ids().len(), 3);
    assert!(!list.ids().contains(&sibling_session));
    let revoke = w.call(Event::revoke_all(&app).claims(w.org, ALL)).await;
    assert_eq!(
        revoke.body,
        json!({"success": true, "disconnectedCount": 3})
    );

    assert_eq!(
        snapshot(w, w.org, &sc.sibling).await,
        sibling_before,
        "sibling changed"
    );
    let reply = w
        .call(Event::get(&sc.sibling.id.to_string(), &sibling_session).claims(w.org, ALL))
        .await;
    assert_eq!(reply.body["session"]["derivedStatus"], "active");
}

#[tokio::test]
async fn foreign_cursor_is_invalid_cursor_and_the_other_routes_ignore_it() {
    let sc = scene().await;
    let w = &sc.world;
    let before = snapshot(w, w.org, &w.app).await;
    let cursor = sc.victim_cursor.as_str();
    let victim_app = w.app.id.to_string();
    let own_app = sc.attacker_app.id.to_string();
    let missing_app = Uuid::new_v4().to_string();

    // On the list, the cursor is checked before anything is read: replayed by another
    // organization (on the victim's application or its own), on a sibling application, or
    // under another filter, it is the same 400 as on an application that does not exist.
    let list = |app: &str, org: Uuid, status: &str| {
        Event::list(app)
            .claims(org, ALL)
            .query("status", status)
            .query("cursor", cursor)
    };
    let control = || list(&missing_app, sc.attacker, "all");
    for (case, attack) in [
        (
            "other org, victim's app",
            list(&victim_app, sc.attacker, "all"),
        ),
        ("other org, own app", list(&own_app, sc.attacker, "all")),
        (
            "same org, sibling app",
            list(&sc.sibling.id.to_string(), w.org, "all"),
        ),
        (
            "same org, other filter",
            list(&victim_app, w.org, "inactive"),
        ),
    ] {
        refused(w, case, attack, control(), &invalid_cursor()).await;
    }
    // The victim itself can still use it: the cursor is genuine.
    let page = w
        .call(list(&victim_app, w.org, "all").query("limit", "1"))
        .await;
    assert_eq!(page.status, 200, "{:#}", page.body);
    assert_eq!(page.ids(), [sc.victim_sessions[1].to_string()]);

    // The routes that take no cursor ignore one, like any unknown parameter: the foreign
    // application is still just not found.
    let victim_session = sc.victim_sessions[0].to_string();
    for (case, attack, control) in [
        (
            "get",
            Event::get(&victim_app, &victim_session),
            Event::get(&missing_app, &victim_session),
        ),
        (
            "revoke-all",
            Event::revoke_all(&victim_app),
            Event::revoke_all(&missing_app),
        ),
        (
            "revoke-one",
            Event::revoke_one(&victim_app, &victim_session),
            Event::revoke_one(&missing_app, &victim_session),
        ),
    ] {
        refused(
            w,
            case,
            attack.claims(sc.attacker, ALL).query("cursor", cursor),
            control.claims(sc.attacker, ALL).query("cursor", cursor),
            &not_found("Application not found"),
        )
        .await;
    }
    assert_eq!(snapshot(w, w.org, &w.app).await, before, "victim changed");
}

#[tokio::test]
async fn cursors_the_attacker_gets_for_its_own_application_open_nothing_else() {
    let sc = scene().await;
    let w = &sc.world;
    // Give the attacker a second session so that its own list has a next page.
    let s = session_of(&sc.attacker_app, sessions::time::now());
    w.put(&s).await;
    let own = w
        .call(
            Event::list(&sc.attacker_app.id.to_string())
                .claims(sc.attacker, ALL)
                .query("limit", "1"),
        )
        .await;
    let theirs = own.next_cursor().expect("a second page");
    // Its own cursor on the victim's application: refused like on a missing one, so it cannot
    // tell whether the victim's application exists.
    refused(
        w,
        "attacker's cursor on the victim's application",
        Event::list(&w.app.id.to_string())
            .claims(sc.attacker, ALL)
            .query("limit", "1")
            .query("cursor", &theirs),
        Event::list(&Uuid::new_v4().to_string())
            .claims(sc.attacker, ALL)
            .query("limit", "1")
            .query("cursor", &theirs),
        &invalid_cursor(),
    )
    .await;
    // Nor can the victim's organization use it on the attacker's application.
    let reply = w
        .call(
            Event::list(&sc.attacker_app.id.to_string())
                .claims(w.org, ALL)
                .query("limit", "1")
                .query("cursor", &theirs),
        )
        .await;
    assert_eq!(reply.expect_error(400, "invalid_request"), "invalid cursor");
}
