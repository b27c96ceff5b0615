//! MCP pieces for tests and the bench: the project venv's Python, the example MCP server
//! (`scripts/mcp/example_server.py`, the official MCP Python SDK) as a process, and client
//! tokens for a gateway.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::process::Guard;
use crate::workspace_root;

/// The issuer of clients' tokens in tests and the bench.
pub const ISSUER: &str = "https://auth.example.test/";

/// The project venv's Python (`make venv` pins the MCP SDK there).
pub fn python() -> PathBuf {
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run `make venv` (make test does)",
        venv.display()
    );
    venv
}

pub async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    listener.local_addr().expect("address").port()
}

pub async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not listen on {port} within 15 s");
}

/// The example MCP server, as its own process.
pub struct Upstream {
    pub url: String,
    pub port: u16,
    _process: Guard,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::start_on(free_port().await).await
    }

    pub async fn start_on(port: u16) -> Upstream {
        let mut command = std::process::Command::new(python());
        command
            .arg(workspace_root().join("scripts/mcp/example_server.py"))
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let process = Guard::spawn(command).expect("start the example MCP server");
        wait_for_port(port, "the example MCP server").await;
        Upstream {
            url: format!("http://127.0.0.1:{port}/mcp"),
            port,
            _process: process,
        }
    }
}

/// An HS256 client token for `audience`, as the dev authorization server would mint it.
pub fn client_token(audience: &str, subject: &str, secret: &str) -> String {
    use jsonwebtoken::{EncodingKey, Header};
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": ISSUER, "aud": audience, "sub": subject, "iat": now, "exp": now + 3600,
        "jti": Uuid::new_v4().to_string(),
    });
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("an HS256 key");
    jsonwebtoken::encode(&Header::default(), &claims, &key).expect("mint a client token")
}
