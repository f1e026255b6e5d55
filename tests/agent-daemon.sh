#!/bin/bash
# tests/agent-daemon.sh: ovs-netpol-agent as a daemon.
#
#   - Bad command lines (unknown option, bad value, stray argument, missing
#     value) fail with a message naming the culprit and start nothing.
#   - --detach returns once the agent serves its control socket, releases
#     the caller's stdout and stderr, and leaves a session leader whose pid
#     is in the --pidfile.  The control socket is mode 0600 even under
#     umask 000.
#   - A second agent with the same pidfile refuses to start and disturbs
#     nothing.  A pidfile left by a dead agent does not block a start:
#     neither one naming a dead pid, nor one naming a SIGKILLed agent that
#     is still a zombie, nor one whose pid now belongs to another program
#     (OVS daemons lock their pidfiles for this reason).
#   - SIGHUP reopens the log: after `mv` of the log and SIGHUP, new lines go
#     to the new file and none to the old one.
#   - SIGTERM exits (status 0) and leaves the flows in the switch, still
#     enforcing; the pidfile and the control socket are removed.
#   - A healthy agent's log has no warnings or errors.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-daemon
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.3.0.1 B=10.3.0.2 C=10.3.0.3
M=$T/m

write_policy() { # v1|v2: v2 also lets c reach b
    local from='app: a'
    [ "$1" = v1 ] || from='app: c'
    write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {$from}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
}

# --- bad command lines ---------------------------------------------------

# bad_options WHAT EXPECT ARGS...: the agent fails (exit status not 0), says
# EXPECT on stderr, and creates no pidfile and no control socket.
bad_options() {
    local what=$1 expect=$2 rc=0
    shift 2
    rm -f "$T/bad.pid" "$T/bad.ctl"
    OVS_RUNDIR=$T timeout 10 "$AGENT" --pidfile="$T/bad.pid" \
        --control="$T/bad.ctl" "$@" \
        </dev/null >"$T/bad.out" 2>"$T/bad.err" || rc=$?
    local msg
    msg=$(grep -F -m 1 -- "$expect" "$T/bad.err" || true)
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$expect" "$T/bad.err" \
       && [ ! -e "$T/bad.pid" ] && [ ! -e "$T/bad.ctl" ]; then
        pass "$what: exit $rc, \"$msg\""
    else
        fail "$what: exit $rc, stderr:"
        sed 's/^/#   /' "$T/bad.err"
        find "$T" -maxdepth 1 -name 'bad.*' | sed 's/^/#   files: /'
    fi
}

bad_options "unknown option" "--bogus" --bogus
bad_options "unknown short option" "-- 'Z'" -Z
bad_options "bad number" "--first-table=abc" --first-table=abc
bad_options "number out of range" "--next-table=255" --next-table=255
bad_options "bad registers" "--registers=8,8" --registers=8,8
bad_options "stray argument" "foo" foo
bad_options "missing value" "--bridge" --bridge
help_lists_options() {
    "$AGENT" --help >"$T/help.out" \
        && grep -q -- '--pidfile' "$T/help.out" \
        && grep -q -- '--detach' "$T/help.out"
}
check "--help exits 0 and lists --pidfile and --detach" help_lists_options

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --serve 80
must "$sb" add-pod "$SB" x/c --ip $C/24 --serve 80
mkdir -p "$M"
{
    yaml_namespace x
    yaml_pod x a $A "app: a"
    yaml_pod x b $B "app: b"
    yaml_pod x c $C "app: c"
} | write_file "$M/cluster.yaml"
write_policy v1

queue_v1() {
    queue_probe pass x/a $B 80
    queue_probe fail x/c $B 80
    queue_probe pass x/b $C 80
}

ctl_sock=$OVS_RUNDIR/ovs-netpol.ctl
pidfile=$T/agent.pid
log=$T/agent.log

# --- --detach, --pidfile, the control socket -----------------------------

# Through a pipe: if the daemon kept the caller's stdout or stderr, `cat`
# would see no EOF and be killed by its timeout (status 124).
agent_pidfiles+=("$pidfile")
t0=$(now)
(
    umask 000
    "$AGENT" --detach --pidfile="$pidfile" --log-file="$log" \
        --manifests="$M" -vconsole:off </dev/null 2>&1 \
        3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- \
        | timeout 5 cat >"$T/detach.out"
    echo "${PIPESTATUS[0]} ${PIPESTATUS[1]}" >"$T/detach.rc"
)
read -r detach_rc cat_rc <"$T/detach.rc"
t_detached=$(now)
printf '# --detach returned after %s ms\n' "$(ms_since "$t0")"
check "--detach: exit status 0" equals "$detach_rc" 0
check "--detach: the caller's stdout and stderr are released" \
    equals "$cat_rc" 0
check "--detach: ready when it returns (status answers at once)" \
    quietly "$CTL" status
pid=$(cat "$pidfile" 2>/dev/null || true)
pid_is_agent() {
    alive "$pid" && tr '\0' ' ' </proc/"$pid"/cmdline | grep -q 'ovs-netpol-agent .*--detach'
}
check "--pidfile holds the pid of the running agent ($pid)" pid_is_agent
check "--detach: the agent is not this shell's child" \
    test "$(ps -o ppid= -p "$pid" | tr -d ' ')" != $$
check "--detach: the agent leads its own session" \
    equals "$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid"
check "control socket $ctl_sock is a socket" test -S "$ctl_sock"
check "control socket is mode 0600 (started under umask 000)" \
    equals "$(stat -c %a "$ctl_sock")" 600
check "wait-sync" wait_sync
queue_v1
run_probes "detached agent"
n_flows=$(n_switch_flows)

# --- a second agent with the same pidfile --------------------------------

second_refused() { # extra options...
    local rc=0
    rm -f "$T/second.ctl"
    timeout 10 "$AGENT" -vconsole:off --pidfile="$pidfile" \
        --control="$T/second.ctl" --log-file="$T/second.log" --manifests="$M" "$@" \
        </dev/null >"$T/second.out" 2>&1 || rc=$?
    printf '#   exit %s: %s\n' "$rc" "$(grep -v '|vlog|' "$T/second.out" | head -n 1)"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] \
        && grep -q "already running as pid $pid" "$T/second.out" \
        && [ ! -e "$T/second.ctl" ]
}
check "a second agent with the same pidfile refuses (--detach)" \
    second_refused --detach
check "a second agent with the same pidfile refuses (foreground)" \
    second_refused
check "... the first is still running" alive "$pid"
check "... the pidfile still names the first" equals "$(cat "$pidfile")" "$pid"
check "... the first still answers on its control socket" \
    quietly "$CTL" status
check "... the flows are untouched" equals "$(n_switch_flows)" "$n_flows"

# --- stale pidfiles ------------------------------------------------------

# stale_start NAME DESCRIPTION: an agent (control socket $T/NAME.ctl) started
# with pidfile $T/NAME.pid, which the caller prepared, must start and rewrite
# the pidfile with its own pid; then it is stopped.
stale_start() {
    local name=$1 desc=$2 rc=0 p
    timeout 10 "$AGENT" -vconsole:off --detach --pidfile="$T/$name.pid" \
        --control="$T/$name.ctl" --log-file="$T/$name.log" --manifests="$M" \
        </dev/null >"$T/$name.out" 2>&1 \
        3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- || rc=$?
    p=$(cat "$T/$name.pid" 2>/dev/null || true)
    if [ "$rc" = 0 ] && [ -n "$p" ] && ours "$p"; then
        pass "$desc starts (pid $p)"
        stop_pid "$p"
    else
        fail "$desc starts: exit $rc"
        sed 's/^/#   /' "$T/$name.out"
    fi
}

# A dead pid.
sleep 0 &
dead=$!
wait "$dead"
echo "$dead" >"$T/stale-dead.pid"
agent_pidfiles+=("$T/stale-dead.pid")
stale_start stale-dead "an agent with a pidfile naming a dead pid"

# A SIGKILLed agent that nobody has reaped yet (a zombie): what a restart
# sees when the dead agent's parent is slow to reap it, or is an init that
# never does.  Its parent here is a `sleep` (sh execs it after starting the
# agent), which never reaps.
agent_pidfiles+=("$T/zombie.pid")
# shellcheck disable=SC2016
background sh -c '"$@" & exec sleep 60' sh "$AGENT" -vconsole:off \
    --pidfile="$T/zombie.pid" --control="$T/zombie.ctl" \
    --log-file="$T/zombie.log" --manifests="$M" \
    </dev/null >"$T/zombie.out" 2>&1
zombie_parent=$!
zombie_ready() {
    test -S "$T/zombie.ctl" && test -s "$T/zombie.pid"
}
must wait_until 5 zombie_ready
zombie=$(cat "$T/zombie.pid")
kill -KILL "$zombie"
is_zombie() {
    local line state
    read -r line </proc/"$zombie"/stat || return 1
    state=${line##*) }
    [ "${state%% *}" = Z ]
}
must wait_until 5 is_zombie
agent_pidfiles+=("$T/stale-zombie.pid")
cp "$T/zombie.pid" "$T/stale-zombie.pid"
stale_start stale-zombie "an agent with the pidfile of a SIGKILLed agent not yet reaped ($zombie)"
stop_pid "$zombie_parent"

# A pid that now belongs to another program.
background sleep 60
other=$!
echo "$other" >"$T/stale-reused.pid"
agent_pidfiles+=("$T/stale-reused.pid")
stale_start stale-reused "an agent with a pidfile whose pid is now another program ($other)"
stop_pid "$other"

# --- SIGHUP reopens the log ----------------------------------------------

mv "$log" "$log.1"
kill -HUP "$pid"
reopened() {
    grep -q 'SIGHUP: log file reopened' "$log" 2>/dev/null
}
check "SIGHUP: the agent reopens $log" wait_until 5 reopened
old_size=$(stat -c %s "$log.1")
write_policy v2
check "policy v2: wait-sync" wait_sync
check "SIGHUP: new lines go to the new log" \
    wait_until 5 grep -q 'policy.yaml: 1 objects' "$log"
check "SIGHUP: nothing more goes to the old log" \
    equals "$(stat -c %s "$log.1")" "$old_size"
check_not "SIGHUP: the old log does not have the new lines" \
    grep -q 'SIGHUP: log file reopened' "$log.1"

# --- log hygiene ---------------------------------------------------------

# An observation window, not a wait for an event: the detached agent has
# been idle and healthy; give it 3 s of uptime to show what it logs then
# (periodic chores run every second).
while [ "$(ms_since "$t_detached")" -lt 3000 ]; do sleep 0.1; done
warnings() {
    cat "$log.1" "$log" | grep -E '\|(WARN|ERR|EMER)\|'
}
if warnings >"$T/warnings"; then
    fail "a healthy agent logs no warnings: $(wc -l <"$T/warnings") in $(ms_since "$t_detached") ms, e.g."
    cut -d'|' -f3- "$T/warnings" | sort | uniq -c | sort -rn | head -n 5 \
        | sed 's/^/#   /'
else
    pass "a healthy agent logs no warnings ($(ms_since "$t_detached") ms)"
fi

# --- SIGTERM -------------------------------------------------------------

switch_flows >"$T/before-term.flows"
kill -TERM "$pid"
check "SIGTERM: the detached agent exits" wait_gone 5 "$pid"
check "SIGTERM: it says it leaves the flows" \
    grep -q 'exiting, leaving the flows in place' "$log"
check "SIGTERM: the pidfile is removed" test ! -e "$pidfile"
check "SIGTERM: the control socket is removed" test ! -e "$ctl_sock"
switch_flows >"$T/after-term.flows"
check "SIGTERM: the flows stay ($(wc -l <"$T/after-term.flows") flows)" \
    same_file "$T/before-term.flows" "$T/after-term.flows"
queue_probe fail x/a $B 80
queue_probe pass x/c $B 80
queue_probe pass x/b $A 80
run_probes "no agent, its flows still enforce policy v2"

# Exit status, from an agent that is our child.
agent_start fg --manifests="$M"
must wait_sync
check "SIGTERM: a foreground agent exits" agent_signal TERM
check "SIGTERM: ... with status 0" equals "$agent_rc" 0

lib_finish
