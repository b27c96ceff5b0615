//! A release binary running as Lambda runs it: a fresh process with the function's environment,
//! polling its own Runtime API emulator. Gives its init time (exec to first poll), the latency of
//! each invocation, and its peak resident memory. Also [`json_of`], for the probes that run
//! once in a fresh process and print what they measured.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::emulator::{Outcome, RuntimeApi};

/// Runs `command` to the end and decodes the last line it printed as JSON (a probe's figures;
/// anything printed before them, such as log lines, is skipped). `what` names it in errors.
pub fn json_of<T: serde::de::DeserializeOwned>(
    mut command: std::process::Command,
    what: &str,
) -> Result<T, String> {
    let output = command.output().map_err(|e| format!("{what}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{what} output: {e}"))
}

/// A function that has not polled by then is reported as failed to start.
const INIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest an invocation may take (revoke-all over thousands of sessions included).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// What Lambda (`provided.al2023`) sets, plus the function's own configuration.
pub fn lambda_env(
    function: &str,
    engine_endpoint: &str,
    table: &str,
    cursor_key: &str,
) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
        ("AWS_ENDPOINT_URL_DYNAMODB", engine_endpoint),
        ("SESSIONS_TABLE", table),
        ("SESSIONS_CURSOR_KEY", cursor_key),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "AWS_LAMBDA_LOG_GROUP_NAME".to_string(),
        format!("/aws/lambda/{function}"),
    )])
    .collect()
}

/// One execution environment: the process and its Runtime API.
pub struct Running {
    child: Child,
    api: RuntimeApi,
    /// From just before exec to the first `GET /invocation/next`.
    pub init: Duration,
}

/// One answered invocation.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The HTTP status the function returned to API Gateway (200 for the scheduled sweep's
    /// answer).
    pub status: u16,
    /// From handing out the event to receiving the response.
    pub latency: Duration,
}

impl Answer {
    /// A 2xx: 200, or 201 for a connect.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Running {
    /// Starts `binary` with exactly `env` (nothing inherited) and waits for its first poll.
    /// Its stderr is appended to `log`; its stdout (one JSON line per request) is discarded.
    pub async fn start(
        binary: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<Running, String> {
        let mut api = RuntimeApi::start()
            .await
            .map_err(|e| format!("start the Runtime API emulator: {e}"))?;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);

        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let polled = tokio::select! {
            polled = api.next_poll() => polled,
            status = child.wait() => {
                let reported = api.reported_init_error().unwrap_or_default();
                return Err(format!(
                    "{} exited during init ({status:?}) {reported}; see {}",
                    binary.display(),
                    log.display()
                ));
            }
            _ = tokio::time::sleep(INIT_TIMEOUT) => None,
        };
        let Some(polled) = polled else {
            let _ = child.kill().await;
            return Err(format!(
                "{} did not poll within {INIT_TIMEOUT:?}",
                binary.display()
            ));
        };
        Ok(Running {
            child,
            api,
            init: polled.duration_since(started),
        })
    }

    /// Sends one API Gateway event and waits for the function's answer.
    pub async fn invoke(&mut self, event: &serde_json::Value) -> Result<Answer, String> {
        let bytes = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        match self.api.invoke(bytes, INVOKE_TIMEOUT).await? {
            Outcome::Response { body, latency } => {
                let response: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| format!("the response is not JSON: {e}"))?;
                // A function behind API Gateway answers with a status; the scheduled sweep
                // answers what it did, and an answer (not an error) is its success.
                let status = match response.get("statusCode") {
                    Some(code) => code
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .ok_or_else(|| format!("bad statusCode in {response}"))?,
                    None if response.is_object() => 200,
                    None => return Err(format!("no statusCode in {response}")),
                };
                Ok(Answer { status, latency })
            }
            Outcome::Error { body } => Err(format!(
                "invocation error: {}",
                String::from_utf8_lossy(&body)
            )),
            Outcome::InitError { body } => {
                Err(format!("init error: {}", String::from_utf8_lossy(&body)))
            }
        }
    }

    /// Peak resident set size so far, in kB (`VmHWM`), as Lambda's "Max Memory Used" reports.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Ends the environment (SIGKILL, as Lambda does to an idle one) and reaps the process.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
