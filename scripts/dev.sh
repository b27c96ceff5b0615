#!/usr/bin/env bash
# Runs the Sessions API locally, from a fresh clone, in one command (`make dev`):
#
#   1. builds the engine, the admin CLI and the functions;
#   2. starts dev-engine (a DynamoDB-compatible endpoint) on 127.0.0.1:$DEV_ENGINE_PORT;
#   3. creates the table, a demo application and 40 sessions, mints two dev tokens (one
#      for the management routes, one with sessions:connect for the connection side);
#   4. keeps the demo's connected sessions alive: a background loop heartbeats every one
#      of them every $DEMO_KEEPALIVE_SECONDS s (`sessions-admin heartbeat-all`), as a
#      connection holder would, and once the API is up invokes the sweep-sessions
#      function every minute, as EventBridge Scheduler does in AWS;
#   5. starts the Shared Signals push worker (`sessions-admin ssf-push`) on
#      127.0.0.1:$DEV_SSF_PUSH_PORT, signing with a local P-256 key (target/dev/, made once);
#   6. publishes the session events as they happen (`sessions-admin events`: the
#      session-events function's handler over the engine's stream), one JSON line each
#      here and in .dev/events.log, POSTed to the push worker and every URL in
#      $DEV_EVENTS_FORWARD;
#   7. serves the API with `cargo lambda watch` on 127.0.0.1:$DEV_API_PORT at the real
#      /api/v1/... paths, calls each function once so that watch has built and started it;
#   8. starts the example MCP server (official MCP Python SDK) on 127.0.0.1:$DEV_MCP_PORT and
#      the session gateway in front of it on 127.0.0.1:$DEV_GATEWAY_PORT, reporting its MCP
#      sessions to the demo application and registered as a Shared Signals receiver; then
#      prints ready-to-run curl lines and how to point an MCP client at the gateway.
#
# Ctrl-C (or any exit) stops everything this script started. Every setting below
# can be overridden from the environment, e.g. `DEV_API_PORT=9100 make dev`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# --- settings (docs/development.md documents these) --------------------------
: "${DEV_ENGINE_PORT:=8000}"
: "${DEV_API_PORT:=9000}"
: "${DEV_GATEWAY_PORT:=9100}"
: "${DEV_MCP_PORT:=8765}"
# Seconds between two heartbeats of each MCP session the gateway holds (30 in production).
: "${DEV_GATEWAY_HEARTBEAT_SECONDS:=5}"
# The local Shared Signals push worker: the stream poller forwards every event here.
: "${DEV_SSF_PUSH_PORT:=9200}"
: "${DEMO_ORG:=0b7e0d4e-5d6f-4f7a-9a53-1d2b3c4d5e6f}"
: "${DEMO_APP:=550e8400-e29b-41d4-a716-446655440000}"
: "${DEMO_SESSIONS:=40}"
# Seconds between two heartbeats of every connected demo session; 0: none, so that they
# time out (after SESSIONS_HEARTBEAT_TIMEOUT_SECONDS, 90 by default) and the sweep stores them
# disconnected.
: "${DEMO_KEEPALIVE_SECONDS:=30}"
# Seconds between two sweeps (EventBridge Scheduler's rate in AWS: one minute).
: "${DEMO_SWEEP_SECONDS:=60}"
# Space-separated URLs that each session event's EventBridge envelope is POSTed to, as an
# EventBridge rule's targets get them (e.g. an event receiver of another component).
: "${DEV_EVENTS_FORWARD:=}"

: "${SESSIONS_TABLE:=sessions}"
: "${AWS_ENDPOINT_URL_DYNAMODB:=http://127.0.0.1:${DEV_ENGINE_PORT}}"
# Local runs only: lets the functions verify HS256 tokens themselves, standing in
# for API Gateway's JWT authorizer. template.yaml never sets it.
: "${SESSIONS_DEV_JWT_SECRET:=local-dev-secret-0123456789abcdef0123}"
: "${SESSIONS_CURSOR_KEY:=local-dev-cursor-key-0123456789abcdef}"
: "${AWS_REGION:=us-east-1}"
# The engine checks that credentials are present, never what they are.
: "${AWS_ACCESS_KEY_ID:=local}"
: "${AWS_SECRET_ACCESS_KEY:=local}"
: "${RUST_LOG:=info}"
# The Shared Signals transmitter: its issuer is the local API; receivers on loopback are allowed.
: "${SESSIONS_SSF_ISSUER:=http://127.0.0.1:${DEV_API_PORT}}"
: "${SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS:=true}"
SSF_KEY_FILE=$ROOT/target/dev/ssf-signing-key.pem
SSF_PUSH_URL=http://127.0.0.1:$DEV_SSF_PUSH_PORT/
export SESSIONS_TABLE AWS_ENDPOINT_URL_DYNAMODB SESSIONS_DEV_JWT_SECRET SESSIONS_CURSOR_KEY \
    AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY RUST_LOG SESSIONS_SSF_ISSUER \
    SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS SSF_PUSH_URL

# What the functions receive (besides the inherited environment); optional
# settings are passed only when set, so the functions' own defaults apply.
FUNCTION_ENV=(SESSIONS_TABLE AWS_ENDPOINT_URL_DYNAMODB SESSIONS_DEV_JWT_SECRET SESSIONS_CURSOR_KEY
    AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY RUST_LOG SESSIONS_SSF_ISSUER
    SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS SESSIONS_SSF_SIGNING_KEY_PEM)
OPTIONAL_FUNCTION_ENV=(SESSIONS_IDLE_SECONDS SESSIONS_HEARTBEAT_TIMEOUT_SECONDS SESSIONS_ORG_CLAIM
    SESSIONS_CURSOR_KEY_PREVIOUS SESSIONS_DEV_JWT_ISSUER SESSIONS_DEV_JWT_AUDIENCE
    SESSIONS_RETENTION_DAYS SESSIONS_SSF_MAX_ATTEMPTS SESSIONS_SSF_RETRY_BASE_MS)

STATE_DIR=$ROOT/.dev
ENGINE_LOG=$STATE_DIR/engine.log
WATCH_ENV=$STATE_DIR/watch.env
KEEPALIVE_LOG=$STATE_DIR/keepalive.log
MCP_LOG=$STATE_DIR/mcp-server.log
GATEWAY_LOG=$STATE_DIR/gateway.log
EVENTS_LOG=$STATE_DIR/events.log
SSF_PUSH_LOG=$STATE_DIR/ssf-push.log
SSF_DEAD_LETTERS=$STATE_DIR/ssf-dead-letters.jsonl
# The workspace's functions (root Cargo.toml, functions/*): the routes', then the scheduled one.
FUNCTIONS=(list-sessions get-session revoke-sessions revoke-session
    connect-session heartbeat-session disconnect-session sweep-sessions
    ssf-configuration ssf-jwks ssf-stream ssf-status ssf-verify)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'dev.sh: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/processes.sh
source "$ROOT/scripts/processes.sh"

# --- cleanup: stop what we started, whole process groups --------------------
ENGINE_PID=""
WATCH_PID=""
KEEPALIVE_PID=""
MCP_PID=""
GATEWAY_PID=""
EVENTS_PID=""
SSF_PUSH_PID=""

cleanup() {
    trap - EXIT INT TERM HUP
    # The gateway first (it reports its sessions closed through the API), then the MCP server.
    [[ -n $GATEWAY_PID ]] && stop_group "$GATEWAY_PID" "the session gateway"
    [[ -n $MCP_PID ]] && stop_group "$MCP_PID" "the example MCP server"
    # The keep-alive loop and watch next: they talk to the engine until they are gone.
    [[ -n $KEEPALIVE_PID ]] && stop_group "$KEEPALIVE_PID" "the keep-alive loop"
    [[ -n $EVENTS_PID ]] && stop_group "$EVENTS_PID" "the event publisher"
    [[ -n $SSF_PUSH_PID ]] && stop_group "$SSF_PUSH_PID" "the Shared Signals push worker"
    [[ -n $WATCH_PID ]] && stop_group "$WATCH_PID" "cargo lambda watch"
    [[ -n $ENGINE_PID ]] && stop_group "$ENGINE_PID" "dev-engine"
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP


port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# --- tools and build ---------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed (it reads the admin CLI's JSON)"
make --no-print-directory venv
export PATH="$ROOT/.venv/bin:$PATH"
cargo lambda --version >/dev/null || die "cargo lambda is not runnable; try: rm -rf .venv && make venv"

say "building dev-engine, sessions-admin, the gateway and the functions"
cargo build -p dev-engine -p sessions-admin -p sessions-gateway
# The functions alone, as `cargo lambda watch` builds them (without the tools' features), so
# that watch finds them built.
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
cargo build "${packages[@]}"

mkdir -p "$STATE_DIR"
chmod 700 "$STATE_DIR"

# Fail early and clearly rather than talk to someone else's server.
port_answers "$DEV_ENGINE_PORT" && die "port $DEV_ENGINE_PORT is in use (another make dev?); set DEV_ENGINE_PORT"
port_answers "$DEV_API_PORT" && die "port $DEV_API_PORT is in use; set DEV_API_PORT"
port_answers "$DEV_GATEWAY_PORT" && die "port $DEV_GATEWAY_PORT is in use; set DEV_GATEWAY_PORT"
port_answers "$DEV_MCP_PORT" && die "port $DEV_MCP_PORT is in use; set DEV_MCP_PORT"
port_answers "$DEV_SSF_PUSH_PORT" && die "port $DEV_SSF_PUSH_PORT is in use; set DEV_SSF_PUSH_PORT"

# --- engine ------------------------------------------------------------------
say "starting dev-engine on 127.0.0.1:$DEV_ENGINE_PORT (log: .dev/engine.log)"
start_group target/debug/dev-engine --host 127.0.0.1 --port "$DEV_ENGINE_PORT" 2>"$ENGINE_LOG"
ENGINE_PID=$STARTED_PID

# Ready means: our process said it listens, and the port answers.
for _ in $(seq 100); do
    kill -0 "$ENGINE_PID" 2>/dev/null || die "dev-engine exited: $(cat "$ENGINE_LOG")"
    if grep -q '^dev-engine listening on ' "$ENGINE_LOG" && port_answers "$DEV_ENGINE_PORT"; then
        break
    fi
    sleep 0.1
done
port_answers "$DEV_ENGINE_PORT" || die "dev-engine did not answer on port $DEV_ENGINE_PORT within 10 s"

# --- demo data ---------------------------------------------------------------
admin=target/debug/sessions-admin
say "creating table $SESSIONS_TABLE, application $DEMO_APP and $DEMO_SESSIONS sessions"
"$admin" create-table
"$admin" create-app --org "$DEMO_ORG" --id "$DEMO_APP" --name "Demo agent"
seed_json=$("$admin" seed --app "$DEMO_APP" --count "$DEMO_SESSIONS")
token_json=$("$admin" token --org "$DEMO_ORG" --scope "sessions:read sessions:write")
# The connection side's own scope: the management token does not grant it, nor it anything else.
connect_token_json=$("$admin" token --org "$DEMO_ORG" --scope "sessions:connect" --sub "dev-gateway")

# json_get KEY... < JSON: prints the string at that path (integers index arrays).
json_get() {
    python3 -c 'import json, sys
node = json.load(sys.stdin)
for key in sys.argv[1:]:
    node = node[int(key)] if isinstance(node, list) else node[key]
if not isinstance(node, str) or not node:
    sys.exit(1)
print(node)' "$@" 2>/dev/null
}
TOKEN=$(json_get token <<<"$token_json") || die "sessions-admin token printed no token: $token_json"
CONNECT_TOKEN=$(json_get token <<<"$connect_token_json") \
    || die "sessions-admin token printed no token: $connect_token_json"
SESSION_ID=$(json_get sessions 0 id <<<"$seed_json") || SESSION_ID=""

# --- Shared Signals ----------------------------------------------------------
# The signing key: made once into target/dev/ (kept across runs, so receivers keep trusting
# its kid), passed to the functions and the push worker by environment, line breaks as \n
# for the env file's one line per variable.
mkdir -p "$(dirname "$SSF_KEY_FILE")"
"$admin" ssf-keygen --out "$SSF_KEY_FILE" >/dev/null
SESSIONS_SSF_SIGNING_KEY_PEM=$(awk '{printf "%s\\n", $0}' "$SSF_KEY_FILE")
export SESSIONS_SSF_SIGNING_KEY_PEM
ssf_token_json=$("$admin" token --org "$DEMO_ORG" --scope "ssf:manage" --sub "dev-receiver")
SSF_TOKEN=$(json_get token <<<"$ssf_token_json") || die "sessions-admin token printed no token: $ssf_token_json"
say "starting the Shared Signals push worker on $SSF_PUSH_URL (log: .dev/ssf-push.log)"
start_group "$admin" ssf-push --listen "127.0.0.1:$DEV_SSF_PUSH_PORT" \
    --dead-letters "$SSF_DEAD_LETTERS" >"$SSF_PUSH_LOG" 2>&1
SSF_PUSH_PID=$STARTED_PID
for _ in $(seq 100); do
    kill -0 "$SSF_PUSH_PID" 2>/dev/null || die "the push worker exited: $(cat "$SSF_PUSH_LOG")"
    port_answers "$DEV_SSF_PUSH_PORT" && break
    sleep 0.1
done
port_answers "$DEV_SSF_PUSH_PORT" || die "the push worker did not answer on port $DEV_SSF_PUSH_PORT"

# --- session events ----------------------------------------------------------
# What Lambda's stream event source, the session-events function and EventBridge do in AWS:
# the function's own handler over the engine's stream, polled every 100 ms. Each event's
# envelope is one JSON line on this terminal and in .dev/events.log, and is POSTed to every
# URL in DEV_EVENTS_FORWARD, retried until it is taken. From now on: the seeded sessions'
# connects above are not replayed.
forward_args=()
for url in $SSF_PUSH_URL $DEV_EVENTS_FORWARD; do forward_args+=(--forward "$url"); done
say "publishing session events (also in .dev/events.log)"
: >"$EVENTS_LOG"
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's: the log, then the command.
start_group bash -c '"$@" | tee -a "$0"' "$EVENTS_LOG" \
    "$admin" events --from latest "${forward_args[@]}"
EVENTS_PID=$STARTED_PID

# --- keep-alive and sweep ----------------------------------------------------
# What the connection holder and EventBridge Scheduler do in AWS. Every seeded session's last
# sign of life is the moment it was written, so the first heartbeat goes out now, before the
# functions are built and served (which can take minutes), and then every
# $DEMO_KEEPALIVE_SECONDS s. The sweep is the sweep-sessions function itself, invoked through
# watch once it serves (the marker file), every $DEMO_SWEEP_SECONDS s. Output goes to
# .dev/keepalive.log; the functions' own log lines appear in watch's output.
SERVING=$STATE_DIR/serving
rm -f "$SERVING"
keep_alive() {
    local next_beat=0 next_sweep=0 now
    while :; do
        now=$SECONDS
        if ((DEMO_KEEPALIVE_SECONDS > 0 && now >= next_beat)); then
            "$admin" heartbeat-all --app "$DEMO_APP" >>"$KEEPALIVE_LOG" 2>&1 \
                || echo "heartbeat-all failed (see above)" >>"$KEEPALIVE_LOG"
            next_beat=$((now + DEMO_KEEPALIVE_SECONDS))
        fi
        if [[ -f $SERVING ]] && ((DEMO_SWEEP_SECONDS > 0 && now >= next_sweep)); then
            cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$DEV_API_PORT" \
                --data-ascii '{}' sweep-sessions >>"$KEEPALIVE_LOG" 2>&1 \
                || echo "sweep-sessions failed (see above)" >>"$KEEPALIVE_LOG"
            echo >>"$KEEPALIVE_LOG"
            next_sweep=$((now + DEMO_SWEEP_SECONDS))
        fi
        sleep 1
    done
}
: >"$KEEPALIVE_LOG"
start_group keep_alive
KEEPALIVE_PID=$STARTED_PID

# --- environment for the functions -------------------------------------------
# `cargo lambda watch` hands its own environment to the functions too; the file
# makes the set explicit and survives a watch started by hand:
#   cargo lambda watch --env-file .dev/watch.env
(
    umask 077
    {
        echo "# Written by scripts/dev.sh; environment for cargo lambda watch."
        for name in "${FUNCTION_ENV[@]}" "${OPTIONAL_FUNCTION_ENV[@]}"; do
            [[ -n ${!name:-} ]] || continue
            [[ ${!name} != *$'\n'* ]] || die "$name must be a single line"
            # Single quotes (literal to the env file's parser) around a value with spaces (the
            # signing key's PEM).
            if [[ ${!name} == *" "* ]]; then
                [[ ${!name} != *"'"* ]] || die "$name must not hold a single quote"
                printf "%s='%s'\n" "$name" "${!name}"
            else
                printf '%s=%s\n' "$name" "${!name}"
            fi
        done
    } >"$WATCH_ENV"
)

api="http://127.0.0.1:$DEV_API_PORT/api/v1/applications/$DEMO_APP/sessions"
# Warm-up requests name a session that does not exist: nothing is revoked.
WARM_SESSION=00000000-0000-4000-8000-000000000000

# --- serve -------------------------------------------------------------------
say "starting cargo lambda watch on 127.0.0.1:$DEV_API_PORT"
# cargo lambda takes RUST_LOG for its own logs as well, and at "info" it prints
# its whole configuration; it keeps its own quieter default (or $CARGO_LAMBDA_LOG)
# while the functions still get RUST_LOG from the env file.
if [[ -n ${CARGO_LAMBDA_LOG:-} ]]; then
    watch_env=(env "RUST_LOG=$CARGO_LAMBDA_LOG")
else
    watch_env=(env -u RUST_LOG)
fi
start_group "${watch_env[@]}" cargo lambda watch \
    --invoke-address 127.0.0.1 \
    --invoke-port "$DEV_API_PORT" \
    --env-file "$WATCH_ENV"
WATCH_PID=$STARTED_PID

# --- warm up -----------------------------------------------------------------
# cargo lambda watch builds and starts a function on its first request. One request each
# (unauthenticated: a 401 is an answer) before the banner, so the first curl answers at once.
say "starting each function (the first start after a change compiles it)"
base="http://127.0.0.1:$DEV_API_PORT"
for route in "GET $api" "GET $api/$WARM_SESSION" "DELETE $api/$WARM_SESSION" "DELETE $api" \
    "POST $api" "POST $api/$WARM_SESSION/heartbeat" "POST $api/$WARM_SESSION/disconnect" \
    "GET $base/.well-known/ssf-configuration" "GET $base/ssf/jwks" "GET $base/ssf/stream" \
    "GET $base/ssf/status" "POST $base/ssf/verify"; do
    method=${route%% *}
    url=${route#* }
    answered=""
    for _ in $(seq 600); do
        kill -0 "$WATCH_PID" 2>/dev/null || die "cargo lambda watch exited"
        code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" --max-time 300 "$url" || true)
        if [[ $code =~ ^[1-5][0-9][0-9]$ && $code != 502 && $code != 503 && $code != 504 ]]; then
            answered=$code
            break
        fi
        sleep 1
    done
    [[ -n $answered ]] || die "$method $url did not answer within 10 minutes"
done

# The scheduled function has no route: one invocation through watch's Lambda API, which also
# builds and starts it; from then on the keep-alive loop sweeps every $DEMO_SWEEP_SECONDS s.
swept=""
sweep_out=""
for _ in $(seq 60); do
    kill -0 "$WATCH_PID" 2>/dev/null || die "cargo lambda watch exited"
    if sweep_out=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$DEV_API_PORT" \
        --data-ascii '{}' sweep-sessions 2>&1); then
        swept=yes
        break
    fi
    sleep 2
done
[[ -n $swept ]] || die "sweep-sessions did not answer: $sweep_out"
touch "$SERVING"

# --- MCP server and gateway ----------------------------------------------------
# The example MCP server knows nothing of sessions; the gateway in front of it verifies each
# client's token (audience: the gateway's MCP endpoint), reports every MCP session to the demo
# application with the connect token, and cuts a revoked session's client off.
gateway_url="http://127.0.0.1:$DEV_GATEWAY_PORT"
say "starting the example MCP server on 127.0.0.1:$DEV_MCP_PORT and the gateway on $gateway_url"
start_group "$ROOT/.venv/bin/python" scripts/mcp/example_server.py --port "$DEV_MCP_PORT" \
    >"$MCP_LOG" 2>&1
MCP_PID=$STARTED_PID
# await_port PID PORT NAME LOG: waits up to 20 s for PID to listen on PORT.
await_port() {
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || die "$3 exited: $(cat "$4")"
        port_answers "$2" && return 0
        sleep 0.1
    done
    die "$3 did not listen on $2 within 20 s"
}
await_port "$MCP_PID" "$DEV_MCP_PORT" "the example MCP server" "$MCP_LOG"
gateway_issuer=${SESSIONS_DEV_JWT_ISSUER:-sessions-api-dev}
start_group env GATEWAY_LISTEN="127.0.0.1:$DEV_GATEWAY_PORT" \
    GATEWAY_PUBLIC_URL="$gateway_url" \
    GATEWAY_UPSTREAM_URL="http://127.0.0.1:$DEV_MCP_PORT/mcp" \
    GATEWAY_SESSIONS_API_URL="http://127.0.0.1:$DEV_API_PORT" \
    GATEWAY_APPLICATION_ID="$DEMO_APP" \
    GATEWAY_SESSIONS_TOKEN="$CONNECT_TOKEN" \
    GATEWAY_DEV_JWT_SECRET="$SESSIONS_DEV_JWT_SECRET" \
    GATEWAY_TOKEN_ISSUER="$gateway_issuer" \
    GATEWAY_HEARTBEAT_SECONDS="$DEV_GATEWAY_HEARTBEAT_SECONDS" \
    GATEWAY_SSF_TRANSMITTER_URL="http://127.0.0.1:$DEV_API_PORT" \
    GATEWAY_SSF_TOKEN="$SSF_TOKEN" \
    GATEWAY_LOG_FORMAT=text \
    target/debug/sessions-gateway 2>"$GATEWAY_LOG"
GATEWAY_PID=$STARTED_PID
await_port "$GATEWAY_PID" "$DEV_GATEWAY_PORT" "the gateway" "$GATEWAY_LOG"
# A client token for the gateway: the dev issuer, the gateway's MCP endpoint as audience.
mcp_token_json=$(SESSIONS_DEV_JWT_AUDIENCE="$gateway_url/mcp" "$admin" token --org "$DEMO_ORG" \
    --scope "mcp:tools" --sub "dev-mcp-user")
MCP_TOKEN=$(json_get token <<<"$mcp_token_json") || die "sessions-admin token printed no token: $mcp_token_json"

# --- how to call it ----------------------------------------------------------
# Single quotes: the printed lines say "$TOKEN" and "$CONNECT_TOKEN", set by the export lines
# above them.
auth='-H "Authorization: Bearer $TOKEN"'
conn='-H "Authorization: Bearer $CONNECT_TOKEN"'
json="-H 'Content-Type: application/json'"
if [[ ${SESSIONS_HEARTBEAT_TIMEOUT_SECONDS:-} == 0 ]]; then
    timeout_line="The heartbeat timeout is off (SESSIONS_HEARTBEAT_TIMEOUT_SECONDS=0): sessions never time out."
else
    timeout_line="A connected session without a connect or heartbeat for ${SESSIONS_HEARTBEAT_TIMEOUT_SECONDS:-90} s reads disconnected;
sweep-sessions (every $DEMO_SWEEP_SECONDS s here, every minute in AWS) then stores it so, reason timed_out."
fi
if ((DEMO_KEEPALIVE_SECONDS > 0)); then
    keepalive="make dev heartbeats every connected session of the demo application every ${DEMO_KEEPALIVE_SECONDS} s
(DEMO_KEEPALIVE_SECONDS=0 turns that off)."
else
    keepalive="No heartbeats are sent for you (DEMO_KEEPALIVE_SECONDS=0)."
fi
cat <<EOF

Sessions API (dev) on http://127.0.0.1:$DEV_API_PORT, DynamoDB engine on $AWS_ENDPOINT_URL_DYNAMODB
Organization $DEMO_ORG, application $DEMO_APP, $DEMO_SESSIONS sessions.

Token (sessions:read sessions:write):
  export TOKEN='$TOKEN'

List (active, first page):
  curl -s $auth '$api?limit=5'
List all statuses:
  curl -s $auth '$api?status=all'
EOF
if [[ -n $SESSION_ID ]]; then
    cat <<EOF
Get one session:
  curl -s $auth '$api/$SESSION_ID'
EOF
else
    cat <<EOF
Get one session (take an id from the list output):
  curl -s $auth '$api/SESSION_ID'
EOF
fi
cat <<EOF
Revoke one session:
  curl -s -X DELETE $auth '$api/${SESSION_ID:-SESSION_ID}'
Revoke all sessions:
  curl -s -X DELETE $auth '$api'

The connection side, as an MCP gateway reports its connections, with a token that holds
sessions:connect (and nothing else; the token above does not grant it):
  export CONNECT_TOKEN='$CONNECT_TOKEN'
Connect (201 with a Location; the same Idempotency-Key again answers 200 with the same session):
  curl -s -i -X POST $conn $json -H 'Idempotency-Key: demo-1' \\
    -d '{"hostname":"laptop","clientInfo":{"name":"claude-ai","version":"0.1.0"}}' '$api'
Heartbeat it (the id from the connect answer; 409 session_disconnected once it is not connected):
  curl -s -X POST $conn $json -d '{}' '$api/NEW_SESSION_ID/heartbeat'
Disconnect it (the transport closed):
  curl -s -X POST $conn '$api/NEW_SESSION_ID/disconnect'

An MCP server behind the session gateway: point any MCP client (Streamable HTTP) at
  $gateway_url/mcp   with the header   Authorization: Bearer \$MCP_TOKEN
  export MCP_TOKEN='$MCP_TOKEN'
The official MCP Python SDK's client, from this repository (lists the tools, calls one):
  .venv/bin/python scripts/mcp/client.py --url $gateway_url/mcp --token "\$MCP_TOKEN" --demo
Its session then shows in the list above (clientInfo sessions-example-client). The gateway is a
Shared Signals receiver: a revoke cuts its client off as the pushed CAEP session-revoked SET
arrives (and at the next heartbeat, every $DEV_GATEWAY_HEARTBEAT_SECONDS s here, if that is lost): its
token is refused (401 invalid_token) and a new token opens a new session. Without a token:
  curl -s -i -X POST $gateway_url/mcp
Gateway health and metrics:  curl -s $gateway_url/gateway/health   curl -s $gateway_url/gateway/metrics
Shared Signals (SSF 1.0 transmitter, CAEP session-revoked by push), with a receiver's token
(ssf:manage):
  export SSF_TOKEN='$SSF_TOKEN'
Discovery and keys (public):
  curl -s '$base/.well-known/ssf-configuration'
  curl -s '$base/ssf/jwks'
Register a receiver (its endpoint gets a SET per revocation of this organization):
  curl -s -X POST -H "Authorization: Bearer \$SSF_TOKEN" $json \\
    -d '{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"http://127.0.0.1:9300/events"},"events_requested":["https://schemas.openid.net/secevent/caep/event-type/session-revoked"]}' \\
    '$base/ssf/stream'
The push worker takes published events on $SSF_PUSH_URL (log: .dev/ssf-push.log; dead letters:
.dev/ssf-dead-letters.jsonl, POST a line back to replay it).

$timeout_line
$keepalive
Logs: .dev/keepalive.log (keep-alive, sweep), .dev/gateway.log, .dev/mcp-server.log.
Session events appear here as they happen, one JSON line each (also in .dev/events.log)$(
    [[ -n $DEV_EVENTS_FORWARD ]] && printf ',\nforwarded to %s' "$DEV_EVENTS_FORWARD").

Ctrl-C stops the API, the gateway, the MCP server, the engine, the keep-alive loop and the
event publisher.

EOF

# Returns when watch exits or a signal arrives; the EXIT trap cleans up either way.
wait "$WATCH_PID"
