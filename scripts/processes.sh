# Sourced by scripts/dev.sh and scripts/contract-fuzz.sh: start background services in process
# groups of their own, and stop whole groups, so nothing they spawned outlives the script.

# start_group CMD...: runs CMD in the background as the leader of a new process group
# (pgid = its pid), so stopping the group also stops whatever it spawned. Sets STARTED_PID.
start_group() {
    set -m
    "$@" </dev/null &
    STARTED_PID=$!
    set +m
}

# stop_group PGID [NAME]: TERM to the group, up to 5 s for it to go, then KILL (saying so on
# stderr when NAME is given).
stop_group() {
    local pgid=$1 name=${2:-}
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- "-$pgid" 2>/dev/null || return 0
        sleep 0.1
    done
    [[ -n $name ]] && printf '==> %s did not stop within 5 s; killing it\n' "$name" >&2
    kill -KILL -- "-$pgid" 2>/dev/null || true
}
