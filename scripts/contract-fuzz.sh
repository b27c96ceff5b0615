#!/usr/bin/env bash
# Contract fuzzing (`make test` runs it; `make fuzz` alone): schemathesis generates requests
# from openapi.yaml and sends them to the real functions under `cargo lambda watch`, over a
# dev-engine with seeded data, and checks every response against the spec: no 5xx, status
# codes, content types, headers and bodies as documented, invalid input refused, a request
# without a valid token refused.
#
#   1. starts dev-engine on a free loopback port (--port 0), seeds the demo application of
#      openapi.yaml's examples (its 40 sessions, plus the session id the spec names);
#   2. mints a development token with `sessions-admin token`;
#   3. starts `cargo lambda watch` on another free loopback port;
#   4. runs schemathesis (bounded: FUZZ_MAX_EXAMPLES per operation, FUZZ_SEED fixed) and
#      ends with a line `schemathesis: N passed, 0 failed`;
#   5. stops everything it started, whole process groups, however it exits.
#
# Settings: FUZZ_MAX_EXAMPLES (50), FUZZ_SEED, FUZZ_WORKERS (2), FUZZ_SPEC (openapi.yaml; a
# changed copy shows what the checks catch). About 20 s once the functions are built.
#
# Nothing listens beyond 127.0.0.1 and nothing is sent anywhere else. Logs and the JUnit
# report stay in target/contract-fuzz/ for a failed run. Expects the workspace built
# (`cargo build --workspace`, as `make test` does first) and the venv's schemathesis
# (`make venv`); builds what is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# --- settings ----------------------------------------------------------------
: "${FUZZ_MAX_EXAMPLES:=50}"
: "${FUZZ_SEED:=20261201}"
: "${FUZZ_WORKERS:=2}"
# The ids openapi.yaml gives as examples, so explicit-example cases hit real data.
DEMO_ORG=0b7e0d4e-5d6f-4f7a-9a53-1d2b3c4d5e6f
DEMO_APP=550e8400-e29b-41d4-a716-446655440000
DEMO_SESSION=6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b

OUT=$ROOT/target/contract-fuzz
ENGINE_LOG=$OUT/engine.log
WATCH_LOG=$OUT/watch.log
WATCH_ENV=$OUT/watch.env
FUNCTIONS=(list-sessions get-session revoke-sessions revoke-session)

say() { printf '==> contract-fuzz: %s\n' "$*" >&2; }
die() {
    printf 'contract-fuzz: error: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=scripts/processes.sh
source "$ROOT/scripts/processes.sh"

# --- cleanup: stop what we started, whole process groups --------------------
ENGINE_PID=""
WATCH_PID=""


cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [[ $status -ne 0 && -f $WATCH_LOG ]]; then
        echo "--- last lines of ${WATCH_LOG#"$ROOT"/} (the functions' logs)" >&2
        tail -n 20 "$WATCH_LOG" >&2
    fi
    [[ -n $WATCH_PID ]] && stop_group "$WATCH_PID"
    [[ -n $ENGINE_PID ]] && stop_group "$ENGINE_PID"
    wait 2>/dev/null || true
    if [[ $status -ne 0 ]]; then
        printf 'contract-fuzz: failed (exit %s); logs and reports in %s\n' "$status" "${OUT#"$ROOT"/}" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP


free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- tools -------------------------------------------------------------------
export PATH="$ROOT/.venv/bin:$PATH"
command -v schemathesis >/dev/null || die "schemathesis is not installed; run: make venv"
command -v cargo-lambda >/dev/null || die "cargo-lambda is not installed; run: make venv"

packages=(-p dev-engine -p sessions-admin)
for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
cargo build --quiet "${packages[@]}"

rm -rf "$OUT"
mkdir -p "$OUT"
chmod 700 "$OUT"

# --- engine on a free port -----------------------------------------------------
start_group target/debug/dev-engine --host 127.0.0.1 --port 0 2>"$ENGINE_LOG"
ENGINE_PID=$STARTED_PID
ENGINE_URL=""
for _ in $(seq 100); do
    kill -0 "$ENGINE_PID" 2>/dev/null || die "dev-engine exited: $(cat "$ENGINE_LOG")"
    ENGINE_URL=$(sed -n 's/^dev-engine listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$ENGINE_LOG")
    [[ -n $ENGINE_URL ]] && break
    sleep 0.1
done
[[ -n $ENGINE_URL ]] || die "dev-engine did not start within 10 s"
say "dev-engine on $ENGINE_URL"

export SESSIONS_TABLE=sessions
export AWS_ENDPOINT_URL_DYNAMODB=$ENGINE_URL
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
# Local only: the functions verify HS256 development tokens themselves, standing in for API
# Gateway's JWT authorizer (which template.yaml configures instead).
export SESSIONS_DEV_JWT_SECRET=contract-fuzz-dev-secret-0123456789abcdef
export SESSIONS_CURSOR_KEY=contract-fuzz-cursor-key-0123456789abcdef
# The Shared Signals functions: an issuer and a fresh local signing key (line breaks as \n for
# the env file).
export SESSIONS_SSF_ISSUER=http://127.0.0.1

# --- data and token ----------------------------------------------------------
admin=target/debug/sessions-admin
"$admin" create-table >/dev/null
"$admin" create-app --org "$DEMO_ORG" --id "$DEMO_APP" --name "Demo agent" >/dev/null
"$admin" seed --app "$DEMO_APP" --count 40 >/dev/null
"$admin" create-session --app "$DEMO_APP" --id "$DEMO_SESSION" --name claude-desktop \
    --hostname laptop --user-agent claude-desktop/0.9.3 \
    --client-info '{"name":"claude-ai","version":"0.1.0"}' >/dev/null
"$admin" ssf-keygen --out "$OUT/ssf-signing-key.pem" >/dev/null
SESSIONS_SSF_SIGNING_KEY_PEM=$(awk '{printf "%s\\n", $0}' "$OUT/ssf-signing-key.pem")
export SESSIONS_SSF_SIGNING_KEY_PEM
TOKEN=$("$admin" token --org "$DEMO_ORG" --scope "sessions:read sessions:write sessions:connect" --ttl-seconds 3600 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') ||
    die "sessions-admin token printed no token"

# --- the API -----------------------------------------------------------------
(
    umask 077
    for name in SESSIONS_TABLE AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID \
        AWS_SECRET_ACCESS_KEY SESSIONS_DEV_JWT_SECRET SESSIONS_CURSOR_KEY SESSIONS_SSF_ISSUER \
        SESSIONS_SSF_SIGNING_KEY_PEM; do
        # Single quotes (literal to the env file's parser) around a value with spaces: the PEM.
        if [[ ${!name} == *" "* ]]; then
            printf "%s='%s'\n" "$name" "${!name}"
        else
            printf '%s=%s\n' "$name" "${!name}"
        fi
    done
    echo "RUST_LOG=info"
) >"$WATCH_ENV"

API_PORT=$(free_port)
# cargo lambda keeps its own quiet log level; the functions get RUST_LOG from the env file.
start_group env -u RUST_LOG cargo lambda watch --ignore-changes \
    --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --env-file "$WATCH_ENV" \
    >"$WATCH_LOG" 2>&1
WATCH_PID=$STARTED_PID
API=http://127.0.0.1:$API_PORT

# Ready when a real request through the router answers 200 (the first one starts a function).
ready=""
for _ in $(seq 600); do
    kill -0 "$WATCH_PID" 2>/dev/null || die "cargo lambda watch exited"
    # watch builds a function on its first request and answers 502 while the build fails.
    grep -q '^error: could not compile' "$WATCH_LOG" && die "cargo lambda watch could not build the functions"
    if python3 - "$API/api/v1/applications/$DEMO_APP/sessions?limit=1" "$TOKEN" <<'EOF' 2>/dev/null; then
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
sys.exit(0 if urllib.request.urlopen(req, timeout=30).status == 200 else 1)
EOF
        ready=yes
        break
    fi
    sleep 0.5
done
[[ -n $ready ]] || die "the API did not answer on $API within 5 minutes"
say "API on $API (cargo lambda watch)"

# --- fuzz ----------------------------------------------------------------------
# Checks: the contract's (no 5xx; every status, content type, header and body as documented;
# invalid input is 4xx; a request without a valid token is 401). Not `use_after_free`: a
# revoked session stays readable (disconnected), by design. Not `positive_data_acceptance`:
# a cursor is opaque, so a schema-valid random one is rightly 400.
# Every warning but `validation_mismatch`: schema-valid random cursors are mostly refused, as
# they must be, and that is all it would report.
WARNINGS=missing_auth,missing_test_data,base_url_mismatch,missing_deserializer,unused_openapi_auth,unsupported_regex,method_not_allowed,unresolvable_reference
say "schemathesis: $FUZZ_MAX_EXAMPLES examples per operation, seed $FUZZ_SEED"
SPEC=$(realpath "${FUZZ_SPEC:-openapi.yaml}")
# From $OUT, so schemathesis' and hypothesis' caches (.schemathesis/, .hypothesis/) land there.
cd "$OUT"
# Requests the local emulator cannot carry (see the hooks' docstring) are not generated.
PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks \
schemathesis run "$SPEC" \
    --url "$API" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$FUZZ_MAX_EXAMPLES" \
    --seed "$FUZZ_SEED" \
    --workers "$FUZZ_WORKERS" \
    --request-timeout 30 \
    --generation-database none \
    --warnings "$WARNINGS" \
    --report junit --report-dir "$OUT" \
    --no-color | tee "$OUT/schemathesis.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || exit "${PIPESTATUS[0]}"

# The functions emitted CloudWatch embedded-metric-format lines under the Lambda emulation.
grep -q '"_aws":{' "$WATCH_LOG" || die "no embedded-metric-format line in the functions' output"
# A closing line in the plain form CI reads: how many generated cases passed.
passed=$(sed -n 's/^ *[0-9]* generated, \([0-9]*\) passed.*/\1/p' "$OUT/schemathesis.log" | tail -n 1)
[[ -n $passed && $passed -gt 0 ]] || die "schemathesis reported no passed test case"
echo "schemathesis: $passed passed, 0 failed"
