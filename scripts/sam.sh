#!/usr/bin/env bash
# Runs the project venv's AWS SAM CLI (`make venv` installs it) without calling home, so the
# checks in `make test` stay offline and deterministic:
#
#   - SAM_CLI_TELEMETRY=0: no usage metrics sent to AWS;
#   - SAM keeps its settings in .venv/sam-cli/ instead of ~/.aws-sam/, with the "last version
#     check" set far in the future, so it skips its weekly look-up of the latest release
#     (`__SAM_CLI_APP_DIR` is how SAM's own tests relocate that directory; if a release drops
#     it, the only effect is that check coming back).
#
# Usage: scripts/sam.sh <sam arguments>, e.g. `scripts/sam.sh validate --lint`. Commands that
# talk to AWS (`deploy`, `logs`, ...) still do, with your credentials, as plain `sam` would.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAM=$ROOT/.venv/bin/sam
[[ -x $SAM ]] || {
    echo "scripts/sam.sh: $SAM is missing; run: make venv" >&2
    exit 1
}

# `sam build` runs the venv's cargo-lambda (BuildMethod rust-cargolambda).
export PATH="$ROOT/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
export __SAM_CLI_APP_DIR=$ROOT/.venv/sam-cli
if [[ ! -f $__SAM_CLI_APP_DIR/metadata.json ]]; then
    mkdir -p "$__SAM_CLI_APP_DIR"
    # 4102444800.0 is 2100-01-01T00:00:00Z; SAM reads it only as a float.
    printf '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}\n' \
        >"$__SAM_CLI_APP_DIR/metadata.json"
fi
exec "$SAM" "$@"
