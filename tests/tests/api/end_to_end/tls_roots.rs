//! Which certificate authorities the functions' DynamoDB client trusts, over real TLS: the
//! engine behind a TLS front whose certificate comes from a throwaway CA that the process's
//! `SSL_CERT_FILE` names. By default (`amazon`) the client refuses it, as it would any
//! non-Amazon certificate for the DynamoDB endpoint, and the API answers 503; with
//! `SESSIONS_TLS_ROOTS=system` the same request succeeds through the same front.
//!
//! The client is built the way a function builds it (`DynamoStore::from_env`, from the
//! process environment), so the test sets environment variables, and the system store is read
//! once per process: it runs in a process of its own (`sessions_tests::process::alone`).

use chrono::Duration;
use sessions::api::Api;
use sessions::config::{self, env, TrustRoots};
use sessions::model::Application;
use sessions::store::DynamoStore;
use sessions::time;
use sessions_tests::process::alone;
use sessions_tests::tls::TlsFront;
use sessions_tests::{call, config as api_config, env as api_env, session_of, Engine, Event};
use uuid::Uuid;

#[test]
fn only_amazon_roots_by_default_and_the_system_store_on_request() {
    let name = concat!(
        module_path!(),
        "::only_amazon_roots_by_default_and_the_system_store_on_request"
    );
    if alone(name, std::time::Duration::from_secs(120)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(roots());
    }
}

/// The test, alone in its process: nothing else reads the environment it sets.
async fn roots() {
    // The environment first: the system store is read once per process, at the first client
    // that uses it, and it must see the throwaway CA.
    let engine = Engine::start().await;
    let dir = std::env::temp_dir().join(format!("tls-roots-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let upstream = engine.endpoint.trim_start_matches("http://").to_string();
    let front = TlsFront::start(&upstream, &dir).await.expect("TLS front");
    for (name, value) in [
        ("AWS_ENDPOINT_URL_DYNAMODB", front.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("SSL_CERT_FILE", &front.ca_file.display().to_string()),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("SSL_CERT_DIR");
    std::env::remove_var("SESSIONS_TLS_ROOTS");
    let default_roots = config::tls_roots(env("SESSIONS_TLS_ROOTS")).expect("valid");
    assert_eq!(default_roots, TrustRoots::Amazon);

    // A table with one session, written over plain HTTP.
    let table = format!("sessions-{}", Uuid::new_v4().simple());
    let direct = DynamoStore::new(engine.client(), table.clone());
    direct.create_table().await.expect("create table");
    let org = Uuid::new_v4();
    let app = Application {
        id: Uuid::new_v4(),
        organization_id: org,
        name: "tls".into(),
        created_at: time::now(),
        revoked_before: None,
    };
    direct.create_application(&app).await.expect("application");
    let session = session_of(&app, time::now() - Duration::seconds(5));
    direct.create_session(&session).await.expect("session");
    let list = || Event::list(&app.id.to_string()).claims(org, "sessions:read");

    // The same request through the TLS front, as a function builds its client.
    let api_over = |store: DynamoStore| {
        Api::new(&api_config(&api_env(&table)), store).expect("the API builds")
    };
    let amazon = api_over(
        DynamoStore::from_env(table.clone(), default_roots)
            .await
            .expect("client"),
    );
    let refused = call(&amazon, list()).await;
    refused.expect_error(503, "unavailable");
    refused.retry_after();

    let system = api_over(
        DynamoStore::from_env(table.clone(), TrustRoots::System)
            .await
            .expect("client"),
    );
    let listed = call(&system, list()).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.ids(), vec![session.id.to_string()]);

    drop(front);
    let _ = std::fs::remove_dir_all(&dir);
}
