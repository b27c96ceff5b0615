//! End to end: real HTTP through `cargo lambda watch` at the API's real paths, with a dev
//! token, against a DynamoDB-compatible engine over HTTP. The functions read their settings
//! from the environment and reach the engine through `AWS_ENDPOINT_URL_DYNAMODB`, exactly as
//! they reach DynamoDB in AWS.
//!
//! The test builds the functions itself first (`cargo build` of the workspace's default
//! members, what `cargo lambda watch` runs), so it works alone: `cargo test -p sessions-tests e2e`.

use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use sessions::model::SessionStatus;
use sessions::store::DynamoStore;
use sessions::time;
use sessions_tests::process::Guard;
use sessions_tests::workspace_root;
use sessions_tests::{dev_token, session_of, Engine, CURSOR_KEY, DEV_SECRET};
use uuid::Uuid;

/// `CARGO_LAMBDA` (set by the Makefile to the project venv's binary), else the venv's binary
/// if `make venv` made it, else `cargo-lambda` on PATH.
fn cargo_lambda() -> String {
    std::env::var("CARGO_LAMBDA").unwrap_or_else(|_| {
        let venv = workspace_root().join(".venv/bin/cargo-lambda");
        if venv.is_file() {
            venv.display().to_string()
        } else {
            "cargo-lambda".into()
        }
    })
}

/// `CARGO` (set by cargo for what it runs), else `cargo` on PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the functions as `cargo lambda watch` will run them (`cargo run --bin <function>` in
/// the workspace, so the default members' features), so watch's first invocation of each
/// compiles nothing and answers well inside the request timeout. On a cold cache this is
/// minutes; the cargo lock also waits for any other build of the same target directory.
async fn build_the_functions(log: &std::path::Path) {
    const BUILD_TIMEOUT: StdDuration = StdDuration::from_secs(30 * 60);
    let mut command = tokio::process::Command::new(cargo());
    command.current_dir(workspace_root()).arg("build");
    for function in crate::spec_files::function_packages() {
        command.args(["--bin", &function]);
    }
    let out = std::fs::File::create(log).expect("build log");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().expect("build log handle")))
        .stderr(Stdio::from(out))
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run cargo build");
    let status = tokio::time::timeout(BUILD_TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("building the functions took over {BUILD_TIMEOUT:?}"))
        .expect("cargo build");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "building the functions failed:\n{text}");
    let _ = std::fs::remove_file(log);
}

/// A free loopback port for watch, below the kernel's ephemeral range: the ports handed out
/// for `bind(…:0)` (every other test's engine and fakes) and for outgoing connections come from
/// that range, so between this check and watch binding the port no other test is given it.
fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_001));
    for _ in 0..200 {
        let port = low + (Uuid::new_v4().as_u128() % u128::from(high - low)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port from {low} to {high}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_every_route_at_the_real_paths() {
    // Built first (minutes on a cold cache): the sessions below are written just before they
    // are served, so none has gone silent past the heartbeat timeout meanwhile.
    // Logs go to cargo's scratch directory for integration tests, inside whatever target
    // directory this build uses.
    let scratch = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    build_the_functions(&scratch.join(format!("e2e-build-{}.log", Uuid::new_v4().simple()))).await;

    let engine = Engine::start().await;
    let table = "sessions";
    let store = DynamoStore::new(engine.client(), table);
    store.create_table().await.expect("table");
    let org = Uuid::new_v4();
    let app = sessions::model::Application {
        id: Uuid::new_v4(),
        organization_id: org,
        name: "e2e agent".into(),
        created_at: time::now(),
        revoked_before: None,
    };
    store.create_application(&app).await.expect("app");
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = session_of(&app, time::now() - Duration::seconds(10 + i));
        store.create_session(&s).await.expect("session");
        ids.push(s.id.to_string());
    }
    let mut gone = session_of(&app, time::now() - Duration::minutes(5));
    gone.status = SessionStatus::Disconnected;
    gone.disconnected_at = Some(time::now());
    store.create_session(&gone).await.expect("session");

    let port = free_port();
    let log_path = scratch.join(format!("e2e-watch-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut command = Command::new(cargo_lambda());
    command
        .current_dir(workspace_root())
        .args(["lambda", "watch", "--ignore-changes"])
        .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .args([
            "--env-var",
            &format!("AWS_ENDPOINT_URL_DYNAMODB={}", engine.endpoint),
        ])
        .args(["--env-var", "AWS_REGION=us-east-1"])
        .args(["--env-var", "AWS_ACCESS_KEY_ID=local"])
        .args(["--env-var", "AWS_SECRET_ACCESS_KEY=local"])
        .args(["--env-var", &format!("SESSIONS_TABLE={table}")])
        .args([
            "--env-var",
            &format!("SESSIONS_DEV_JWT_SECRET={DEV_SECRET}"),
        ])
        .args(["--env-var", &format!("SESSIONS_CURSOR_KEY={CURSOR_KEY}")])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().expect("log handle")))
        .stderr(Stdio::from(log));
    let mut watch = match Guard::spawn(command) {
        Ok(guard) => guard,
        Err(e) => panic!(
            "cannot start `{} lambda watch` ({e}); `make venv` installs cargo-lambda into .venv, or set CARGO_LAMBDA",
            cargo_lambda()
        ),
    };
    let log_tail = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text[start..].to_string()
    };

    let base = format!("http://127.0.0.1:{port}/api/v1/applications/{}", app.id);
    let http = reqwest::Client::builder()
        .timeout(StdDuration::from_secs(120))
        .build()
        .expect("client");
    let reader = dev_token(org, "sessions:read", DEV_SECRET, 600);

    // The first call compiles nothing (built above) but may wait for watch to start.
    let started = Instant::now();
    let first = loop {
        match http
            .get(format!("{base}/sessions"))
            .bearer_auth(&reader)
            .send()
            .await
        {
            Ok(r) => break r,
            Err(_) if started.elapsed() < StdDuration::from_secs(300) && watch.running() => {
                tokio::time::sleep(StdDuration::from_millis(250)).await
            }
            Err(e) => panic!("cargo lambda watch never answered: {e}\n{}", log_tail()),
        }
    };
    assert_eq!(first.status(), 200, "{}", log_tail());
    assert_eq!(
        first
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = first.json().await.expect("json");
    let listed: Vec<String> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect();
    assert_eq!(listed, ids, "active sessions, newest first");

    let r = http
        .get(format!("{base}/sessions?status=all&limit=2"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("list all");
    let page: serde_json::Value = r.json().await.expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let cursor = page["nextCursor"].as_str().expect("a cursor").to_string();
    let r = http
        .get(format!("{base}/sessions"))
        .query(&[
            ("status", "all"),
            ("limit", "2"),
            ("cursor", cursor.as_str()),
        ])
        .bearer_auth(&reader)
        .send()
        .await
        .expect("page 2");
    let page: serde_json::Value = r.json().await.expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["nextCursor"], serde_json::Value::Null);

    let r = http
        .get(format!("{base}/sessions/{}", ids[0].to_uppercase()))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let got: serde_json::Value = r.json().await.expect("json");
    assert_eq!(got["session"]["id"], ids[0]);
    assert_eq!(got["session"]["derivedStatus"], "active");

    let r = http
        .get(format!("{base}/sessions?limit=0"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("bad limit");
    assert_eq!(r.status(), 400);
    let err: serde_json::Value = r.json().await.expect("json");
    assert_eq!(err["message"], "limit must be an integer from 1 to 200");

    let r = http
        .get(format!("{base}/sessions"))
        .send()
        .await
        .expect("no token");
    assert_eq!(r.status(), 401);
    // No credentials: RFC 6750, section 3.1, a Bearer challenge without an error code.
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_string();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );

    let r = http
        .delete(format!("{base}/sessions"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("revoke without scope");
    assert_eq!(r.status(), 403);

    let writer = dev_token(org, "sessions:read sessions:write", DEV_SECRET, 600);
    let r = http
        .delete(format!("{base}/sessions"))
        .bearer_auth(&writer)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200, "{}", log_tail());
    let revoked: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        revoked,
        serde_json::json!({"success": true, "disconnectedCount": 3})
    );

    let r = http
        .get(format!("{base}/sessions"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("list after revoke");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["items"], serde_json::json!([]));

    let other = dev_token(Uuid::new_v4(), "sessions:read", DEV_SECRET, 600);
    let r = http
        .get(format!("{base}/sessions"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("foreign org");
    assert_eq!(r.status(), 404);
    let err: serde_json::Value = r.json().await.expect("json");
    assert_eq!(err["message"], "Application not found");

    // The connection side, at its real paths: connect (and its retry), heartbeat, disconnect.
    let connector = dev_token(org, "sessions:connect", DEV_SECRET, 600);
    let connect = || {
        http.post(format!("{base}/sessions"))
            .bearer_auth(&connector)
            .header("content-type", "application/json")
            .header("idempotency-key", "e2e-connect-1")
            .body(r#"{"hostname":"e2e.local","clientInfo":{"name":"e2e","version":"1"}}"#)
    };
    let r = connect().send().await.expect("connect");
    assert_eq!(r.status(), 201, "{}", log_tail());
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_string();
    let created: serde_json::Value = r.json().await.expect("json");
    let session = created["session"]["id"].as_str().expect("id").to_string();
    assert_eq!(created["session"]["name"], "e2e on e2e.local");
    assert_eq!(
        location,
        format!("/api/v1/applications/{}/sessions/{session}", app.id)
    );
    let r = connect().send().await.expect("connect again");
    assert_eq!(r.status(), 200, "the same key and body: the same session");
    let replayed: serde_json::Value = r.json().await.expect("json");
    assert_eq!(replayed["session"]["id"], session.as_str());

    let r = http
        .post(format!("{base}/sessions/{session}/heartbeat"))
        .bearer_auth(&connector)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("heartbeat");
    assert_eq!(r.status(), 200, "{}", log_tail());
    let r = http
        .post(format!("{base}/sessions/{session}/heartbeat"))
        .bearer_auth(&connector)
        .header("content-type", "text/plain")
        .body("alive")
        .send()
        .await
        .expect("heartbeat as text");
    assert_eq!(r.status(), 415);
    let r = http
        .post(format!("{base}/sessions"))
        .bearer_auth(&writer)
        .send()
        .await
        .expect("connect without the scope");
    assert_eq!(r.status(), 403, "management scopes do not connect");

    let r = http
        .post(format!("{base}/sessions/{session}/disconnect"))
        .bearer_auth(&connector)
        .send()
        .await
        .expect("disconnect");
    assert_eq!(r.status(), 200, "{}", log_tail());
    let closed: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        closed,
        serde_json::json!({"success": true, "disconnected": true})
    );
    let r = http
        .post(format!("{base}/sessions/{session}/heartbeat"))
        .bearer_auth(&connector)
        .send()
        .await
        .expect("heartbeat after disconnect");
    assert_eq!(r.status(), 409);
    let err: serde_json::Value = r.json().await.expect("json");
    assert_eq!(err["code"], "session_disconnected");

    drop(watch);
    let _ = std::fs::remove_file(&log_path);
}
