# shellcheck shell=bash disable=SC2034,SC2154
# tests/lib-agent.sh: shared helpers of the agent integration tests
# (tests/agent-*.sh).  Sourced, not run.
#
# A test sources this after setting 'test_name', then calls lib_init, which
# checks the environment (exit 77, SKIP, without root, network namespaces or
# Open vSwitch; 99, ERROR, without the built programs) and makes:
#
#   $T          the test's own temporary directory (mktemp), so parallel
#               runs never collide; removed at exit (kept on failure with
#               KEEP_LOGS=1)
#   $SB         a sandbox directory under $T (ovs-netpol-sandbox.sh), started
#               by sandbox_start; its OVS_RUNDIR etc. are exported, so the
#               agent's and ovs-netpolctl's defaults (db.sock, br-int.mgmt,
#               ovs-netpol.ctl) point into it
#   $AGENT $CTL the built ovs-netpol-agent and ovs-netpolctl
#
# Cleanup runs on every exit path (EXIT trap; INT, TERM and HUP exit
# through it): it stops every process the test started, by pid (agents,
# background jobs, programs run inside pods), then the sandbox, and removes
# $T.  On failure it prints the tail of each agent log first.
#
# Output: one line per check, "ok - ..." or "FAIL - ...", and "# ..."
# comments (timings, diagnostics).  lib_finish exits 0 if nothing failed,
# else 1.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd -P)
sb=$top/utilities/ovs-netpol-sandbox.sh

# Debian's python3 starts fast; a pyenv shim on PATH is slow.
if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

hard_error() {
    printf 'ERROR: %s\n' "$*"
    exit 99
}

# Finds the built programs: $top_builddir (set by `make check`), else an
# in-tree build, else _build/.
find_programs() {
    local d
    for d in ${top_builddir:+"$top_builddir"} "$top" "$top/_build"; do
        if [ -x "$d/agent/ovs-netpol-agent" ] \
           && [ -x "$d/utilities/ovs-netpolctl" ]; then
            AGENT=$(cd "$d" && pwd -P)/agent/ovs-netpol-agent
            CTL=$(cd "$d" && pwd -P)/utilities/ovs-netpolctl
            return 0
        fi
    done
    hard_error "ovs-netpol-agent / ovs-netpolctl not built (top_builddir?)"
}

failures=0
T=''
SB=''
# Pids to stop at exit, and the pidfiles of the agents started.
bg_pids=()
agent_pidfiles=()

lib_init() {
    [ "$(id -u)" = 0 ] || skip "not root"
    local p
    for p in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl \
             ovs-appctl ip nsenter ethtool timeout jq; do
        command -v "$p" >/dev/null 2>&1 || skip "$p not installed"
    done
    ip netns list >/dev/null 2>&1 || skip "no 'ip netns' support"
    unshare --net true 2>/dev/null || skip "cannot create network namespaces"
    find_programs
    T=$(mktemp -d "${TMPDIR:-/tmp}/onp-$test_name.XXXXXX")
    SB=$T/sb
    trap lib_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# --- processes -----------------------------------------------------------

# True if PID exists and is not a zombie.
alive() {
    local line state
    read -r line 2>/dev/null </proc/"$1"/stat || return 1
    state=${line##*) }
    [ "${state%% *}" != Z ]
}

# True if PID is alive and its command line mentions $T: a process we
# started, not an unrelated one that reused a stale pid.
ours() {
    local cmdline
    [ -n "$T" ] || return 1
    alive "$1" || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null </proc/"$1"/cmdline) || return 1
    case $cmdline in *"$T/"*) return 0 ;; esac
    return 1
}

# wait_gone SECONDS PID: true once PID is dead (or a zombie).
wait_gone() {
    local deadline
    deadline=$(deadline_in "$1")
    while alive "$2"; do
        past "$deadline" && return 1
        sleep 0.02
    done
}

# stop_pid PID: TERM, 5 s of grace, then KILL.  Only for our own pids.
stop_pid() {
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait_gone 5 "$1" && return 0
    kill -KILL "$1" 2>/dev/null || true
    wait_gone 2 "$1"
}

# Runs "$@" in the background; remembers its pid (in $!) for cleanup.
background() {
    "$@" &
    bg_pids+=($!)
}

lib_cleanup() {
    local rc=$? pid f
    set +e
    trap - EXIT
    for f in "${agent_pidfiles[@]}"; do
        pid=$(cat "$f" 2>/dev/null) || continue
        if [ -n "$pid" ] && ours "$pid"; then stop_pid "$pid"; fi
    done
    for pid in "${bg_pids[@]}"; do
        stop_pid "$pid"
    done
    wait 2>/dev/null
    if [ "$rc" != 0 ] || [ "$failures" != 0 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            printf '# --- last lines of %s:\n' "${f#"$T"/}"
            grep -v '|timeval|\||coverage|' "$f" | tail -n 25 | sed 's/^/#   /'
        done
    fi
    if [ -n "$SB" ] && [ -d "$SB" ]; then "$sb" stop "$SB"; fi
    # Anything still running with $T on its command line after that is ours
    # too (e.g. an agent whose pidfile another one overwrote).
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        if [ "$pid" != $$ ] && ours "$pid"; then stop_pid "$pid"; fi
    done
    if [ -n "$T" ]; then
        if [ "$rc" != 0 ] && [ -n "${KEEP_LOGS:-}" ]; then
            printf '# kept %s\n' "$T"
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# --- checks --------------------------------------------------------------

pass() {
    printf 'ok - %s\n' "$*"
}

fail() {
    printf 'FAIL - %s\n' "$*"
    failures=$((failures + 1))
}

# check DESCRIPTION CMD...: passes if CMD succeeds.  What CMD prints on
# stdout (diagnostics: "#   ..." lines) follows the result line.
check() {
    local desc=$1
    shift
    if "$@" >"$T/check.out"; then pass "$desc"; else fail "$desc"; fi
    cat "$T/check.out"
}

# check_not DESCRIPTION CMD...: passes if CMD fails.
check_not() {
    local desc=$1
    shift
    if "$@" >"$T/check.out"; then fail "$desc"; else pass "$desc"; fi
    cat "$T/check.out"
}

# A set-up step the rest depends on.
must() {
    "$@" || { fail "setup: $*"; exit 1; }
}

# Runs CMD without its stderr (an expected failure's message).
quiet() {
    "$@" 2>/dev/null
}

# Runs CMD without its stdout.
quietly() {
    "$@" >/dev/null
}

equals() { # GOT WANT
    [ "$1" = "$2" ] || { printf '#   got  %s\n#   want %s\n' "$1" "$2"; return 1; }
}

# Compares two files; shows the difference.
same_file() { # A B
    diff -u "$1" "$2" >"$T/diff.out" && return 0
    sed 's/^/#   /' "$T/diff.out" | head -n 40
    return 1
}

lib_finish() {
    if [ "$failures" = 0 ]; then
        printf '# %s: all checks passed in %s ms\n' "$test_name" \
            "$(ms_since "$lib_t0")"
        exit 0
    fi
    printf '# %s: %d check(s) failed\n' "$test_name" "$failures"
    exit 1
}

# --- time ----------------------------------------------------------------

now() {
    printf '%s\n' "$EPOCHREALTIME"
}
lib_t0=$(now)

ms_since() {
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'
}

deadline_in() { # SECONDS
    awk -v a="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.6f", a + s }'
}

past() { # DEADLINE
    awk -v d="$1" -v n="$EPOCHREALTIME" 'BEGIN { exit !(n >= d) }'
}

# wait_until SECONDS CMD...: polls CMD (every 50 ms) until it succeeds;
# false if it still fails at the deadline.
wait_until() {
    local deadline
    deadline=$(deadline_in "$1")
    shift
    until "$@"; do
        past "$deadline" && return 1
        sleep 0.05
    done
}

# --- sandbox and pods ----------------------------------------------------

sandbox_start() {
    local t0
    t0=$(now)
    must "$sb" start "$SB"
    eval "$("$sb" env "$SB")"
    printf '# sandbox started in %s ms\n' "$(ms_since "$t0")"
}

# ofport_of NS/NAME
ofport_of() {
    "$sb" vsctl "$SB" get Interface "$(veth_of "$1")" ofport
}

veth_of() {
    sed -n 's/^veth=//p' "$SB/pods/${1%%/*}_${1#*/}/info"
}

mac_of() {
    sed -n 's/^mac=//p' "$SB/pods/${1%%/*}_${1#*/}/info"
}

# probe NS/NAME ADDR PORT [tcp|udp] [TIMEOUT]: true if the pod's connection
# gets an answer.
probe() {
    "$sb" probe "$SB" "$1" "$2" "$3" "${4:-tcp}" --timeout "${5:-1}"
}

# Probe batches, run in parallel.  queue_probe pass|fail NS/NAME ADDR PORT
# [PROTO]; run_probes LABEL prints a line per probe and counts failures.
queue=()
queue_probe() {
    queue+=("$*")
}

run_probes() {
    local label=$1 spec expect pod addr port proto pids=() pid i=0 t0
    t0=$(now)
    mkdir -p "$T/probes"
    for spec in "${queue[@]}"; do
        i=$((i + 1))
        read -r expect pod addr port proto <<<"$spec"
        proto=${proto:-tcp}
        (
            # Expected passes return as soon as the answer arrives;
            # expected failures cost their whole timeout.
            if [ "$expect" = pass ]; then t=3; else t=0.5; fi
            if probe "$pod" "$addr" "$port" "$proto" "$t"; then
                got=pass
            else
                got=fail
            fi
            if [ "$got" = "$expect" ]; then
                printf 'ok - %s: %s -> %s %s/%s %s\n' "$label" "$pod" \
                    "$addr" "$port" "$proto" "$expect"
            else
                printf 'FAIL - %s: %s -> %s %s/%s expected %s, got %s\n' \
                    "$label" "$pod" "$addr" "$port" "$proto" "$expect" "$got"
                exit 1
            fi
        ) >"$T/probes/$i" &
        pids+=($!)
    done
    i=0
    for pid in "${pids[@]}"; do
        i=$((i + 1))
        wait "$pid" || failures=$((failures + 1))
        cat "$T/probes/$i"
    done
    printf '# %s: %d probes in %s ms\n' "$label" "${#queue[@]}" \
        "$(ms_since "$t0")"
    queue=()
}

# --- manifests -----------------------------------------------------------

# Writes FILE atomically (temp file + rename) from stdin.
write_file() {
    cat >"$1.tmp.$$"
    mv -f "$1.tmp.$$" "$1"
}

# yaml_namespace NAME [LABELS]; yaml_pod NS NAME IP LABELS: print one
# document each.  LABELS is YAML flow mapping content, e.g. "app: a".
yaml_namespace() {
    printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s}}\n' \
        "$1" "${2:-}"
}

yaml_pod() {
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, labels: {%s}}\n' \
        "$2" "$1" "$4"
    printf 'spec: {nodeName: node-1, containers: [{name: c, image: i}]}\n'
    printf 'status: {phase: Running, podIPs: [{ip: %s}]}\n' "$3"
}

# yaml_ab_policies v1|v2: the policies of the fault tests, for pods a, b
# and c of namespace x labelled app=a/b/c.  v1: b accepts TCP 80 and 8080
# from a only; a may send only to b on TCP 80 and 8080.  v2 also lets c
# reach b on TCP 80.
yaml_ab_policies() { # v1|v2
    local extra=''
    if [ "$1" = v2 ]; then
        extra='
  - from: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: TCP, port: 80}]'
    fi
    cat <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 8080}]$extra
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 8080}]
EOF
}

# --- the agent -----------------------------------------------------------

# agent_start NAME [OPTIONS...]: starts an agent as a child of this shell,
# as a supervisor would (so that this shell reaps it when it dies), with
# pidfile $T/NAME.pid and log $T/NAME.log plus the given options, and waits
# (20 s) until its control socket ($CTL_CONTROL or the default) answers.
# Sets $agent_pid.  tests/agent-daemon.sh covers --detach.
agent_start() {
    local name=$1
    shift
    agent_pidfiles+=("$T/$name.pid")
    # Descriptors above 2 closed: the agent must not hold a pipe of the
    # harness open.
    "$AGENT" --pidfile="$T/$name.pid" --log-file="$T/$name.log" \
        -vconsole:off "$@" </dev/null >>"$T/$name.out" 2>&1 \
        3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    agent_pid=$!
    if ! wait_until 20 agent_answers "$agent_pid"; then
        fail "setup: agent $name did not start"
        sed 's/^/#   /' "$T/$name.out"
        exit 1
    fi
}

agent_answers() { # PID
    alive "$1" && ctl status >/dev/null 2>&1
}

# agent_signal SIG: signals $agent_pid, waits (5 s) for it to exit and reaps
# it; its exit status goes to $agent_rc.  (Quietly: bash reports on stderr
# a child killed by a signal.)
agent_signal() {
    local ok=0
    {
        kill -"$1" "$agent_pid"
        if wait_gone 5 "$agent_pid"; then
            agent_rc=0
            wait "$agent_pid" || agent_rc=$?
        else
            ok=1
        fi
    } 2>/dev/null
    return $ok
}

# ctl COMMAND [OPTIONS]: ovs-netpolctl against the agent whose control
# socket is $CTL_CONTROL, or the default one ($OVS_RUNDIR/ovs-netpol.ctl).
CTL_CONTROL=''
ctl() {
    "$CTL" "$@" ${CTL_CONTROL:+"--control=$CTL_CONTROL"}
}

wait_sync() {
    ctl wait-sync --timeout="${1:-10}"
}

# status_get JQ-FILTER: one field of `ovs-netpolctl status --format=json`.
status_get() {
    ctl status --format=json | jq -r "$1"
}

# status_is JQ-FILTER VALUE
status_is() {
    [ "$(status_get "$1")" = "$2" ]
}

# --- flows ---------------------------------------------------------------

NP_COOKIE=0x4e50000000000000/0xffff000000000000

# Normalises `ovs-ofctl dump-flows --no-stats` lines to the syntax of
# `ovs-netpolctl flows` ("table=N,cookie=C,priority=..."), sorted.
normalize_flows() {
    grep -v -e '^OFPST_FLOW' -e '^NXST_FLOW' \
        | sed -E 's/^ +//;
                  s/^cookie=([^,]*), (table=[0-9]+), /\2,cookie=\1,/;
                  s/^cookie=([^,]*), /table=0,cookie=\1,/' \
        | LC_ALL=C sort
}

# Our flows as the switch holds them, normalised.
switch_flows() {
    "$sb" ofctl "$SB" dump-flows --no-stats "cookie=$NP_COOKIE" \
        | normalize_flows
}

# Every flow in the switch that is not ours, normalised.
other_flows() {
    "$sb" ofctl "$SB" dump-flows --no-stats | normalize_flows \
        | grep -Ev '^table=[0-9]+,cookie=0x4e50[0-9a-f]{12},' || true
}

# The flows the agent wants, sorted.
agent_flows() {
    ctl flows | LC_ALL=C sort
}

n_switch_flows() {
    switch_flows | wc -l
}

# True if the switch holds exactly the agent's flows.
switch_matches_agent() {
    switch_flows >"$T/sw.flows" && agent_flows >"$T/ag.flows" \
        && same_file "$T/ag.flows" "$T/sw.flows"
}

# --- a long-lived TCP stream ---------------------------------------------

# stream.py serve PORT READYFILE: echoes lines on every TCP connection.
# stream.py client ADDR PORT PROGRESS STOPFILE: sends a line every 50 ms
# and reads the echoes; keeps "BYTES MAXGAP_MS LINES" in PROGRESS (the
# largest gap between two received echoes); exits 0 when STOPFILE appears,
# 1 if the connection breaks or stays silent for 10 s.
write_stream_py() {
    cat >"$T/stream.py" <<'EOF'
import os, select, socket, sys, time

def serve(port, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    open(ready, "w").close()
    conns = []
    while True:
        r, _, _ = select.select([s] + conns, [], [])
        for c in r:
            if c is s:
                conns.append(s.accept()[0])
                continue
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if data:
                c.sendall(data)
            else:
                conns.remove(c)
                c.close()

def client(addr, port, progress, stop):
    def report(nbytes, gap, lines, final=""):
        tmp = progress + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d %d %s\n" % (nbytes, gap * 1000, lines, final))
        os.replace(tmp, progress)
    s = socket.create_connection((addr, port), timeout=3)
    s.setblocking(False)
    nbytes = lines = seq = 0
    maxgap = 0.0
    last_rx = None
    next_tx = time.monotonic()
    while not os.path.exists(stop):
        now = time.monotonic()
        if now >= next_tx:
            s.send(b"%08d\n" % seq)
            seq += 1
            next_tx = now + 0.05
        r, _, _ = select.select([s], [], [], max(0, next_tx - now))
        now = time.monotonic()
        if r:
            data = s.recv(65536)
            if not data:
                report(nbytes, maxgap, lines, "closed")
                sys.exit(1)
            if last_rx is not None:
                maxgap = max(maxgap, now - last_rx)
            last_rx = now
            nbytes += len(data)
            lines += data.count(b"\n")
            report(nbytes, maxgap, lines)
        elif last_rx is not None and now - last_rx > 10:
            report(nbytes, now - last_rx, lines, "silent")
            sys.exit(1)
    report(nbytes, maxgap, lines, "done")

if sys.argv[1] == "serve":
    serve(int(sys.argv[2]), sys.argv[3])
else:
    client(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
EOF
}

# --- probe loops, policies in bulk, memory -------------------------------
# (tests/agent-fault-matrix.sh, tests/agent-spoof.sh, tests/agent-security.sh)

# loop_start NAME POD ADDR PORT [PROTO] [TIMEOUT]: probes in the background
# until loops_stop, one line per probe in $T/loop.NAME: "pass" or "fail"
# and the time it started ($EPOCHREALTIME).
loop_names=()
loop_pids=()
loop_start() {
    local name=$1 pod=$2 addr=$3 port=$4 proto=${5:-tcp} secs=${6:-0.5}
    rm -f "$T/loops.stop"
    : >"$T/loop.$name"
    (
        while [ ! -e "$T/loops.stop" ]; do
            t=$EPOCHREALTIME
            if probe "$pod" "$addr" "$port" "$proto" "$secs"; then
                echo "pass $t"
            else
                echo "fail $t"
            fi >>"$T/loop.$name"
        done
    ) &
    bg_pids+=($!)
    loop_pids+=($!)
    loop_names+=("$name")
}

# Stops every loop and waits for it (its last probe ends first).
loops_stop() {
    local pid
    touch "$T/loops.stop"
    for pid in "${loop_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    loop_pids=()
}

# loop_count NAME pass|fail: how many probes of the loop gave that result.
loop_count() {
    grep -c "^$2 " "$T/loop.$1" || true
}

# loops_reach N: every running loop has done at least N probes since
# loops_mark.
declare -A loop_mark
loops_mark() {
    local name
    for name in "${loop_names[@]}"; do
        loop_mark[$name]=$(wc -l <"$T/loop.$name")
    done
}

loops_reach() {
    local name
    for name in "${loop_names[@]}"; do
        [ "$(wc -l <"$T/loop.$name")" -ge $((${loop_mark[$name]:-0} + $1)) ] \
            || return 1
    done
}

# gen_policies N PREFIX PORT TARGET PEER: N NetworkPolicies in namespace x,
# PREFIX-0 ... PREFIX-(N-1); policy i lets pods labelled app=PEER reach the
# pods labelled app=TARGET on TCP port PORT+i.  YAML on stdout.
gen_policies() {
    awk -v n="$1" -v prefix="$2" -v port="$3" -v target="$4" -v peer="$5" '
        BEGIN {
            for (i = 0; i < n; i++) {
                printf "---\napiVersion: networking.k8s.io/v1\n"
                printf "kind: NetworkPolicy\n"
                printf "metadata: {name: %s-%d, namespace: x}\n", prefix, i
                printf "spec:\n  podSelector: {matchLabels: {app: %s}}\n", target
                printf "  policyTypes: [Ingress]\n  ingress:\n"
                printf "  - from: [{podSelector: {matchLabels: {app: %s}}}]\n", peer
                printf "    ports: [{protocol: TCP, port: %d}]\n", port + i
            }
        }'
}

# The resident set of PID, in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status
}
