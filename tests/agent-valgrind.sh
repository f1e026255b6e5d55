#!/bin/bash
# tests/agent-valgrind.sh: ovs-netpol-agent under valgrind's memcheck, in a
# sandbox (real ovsdb-server and ovs-vswitchd), through a run of ordinary
# changes, to a SIGTERM exit.
#
# The agent runs as
#
#     valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
#              --error-exitcode=99 ovs-netpol-agent --manifests=DIR ...
#
# and is driven through: pods plugged in and unplugged (OVSDB), policies
# added, changed and removed, a namespace relabelled, a file with a syntax
# error and one with an invalid object, ovs-netpolctl status, rules, flows,
# recompute, resync and wait-sync, and an ovs-vswitchd restart.  After
# each change it waits for the switch to hold exactly the agent's flows.
# Then SIGTERM: the agent must exit 0 (valgrind exits 99 on any memory
# error or definite or indirect leak), and the valgrind log must say "ERROR
# SUMMARY: 0 errors" with nothing definitely or indirectly lost.  "Still
# reachable" memory at exit (libopenvswitch's and libevent's globals) does
# not count.  The LEAK SUMMARY is printed; with KEEP_LOGS=1 a failing run
# keeps the whole log.
#
# Slow: valgrind runs the agent about 20 to 50 times slower; about a minute.
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch, no valgrind, or a sanitizer build, which valgrind cannot
# run), 99 programs not built.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-valgrind
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init
command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
if ldd "$AGENT" 2>/dev/null | grep -q 'lib[atl]san\|libubsan' \
   || grep -q '__asan_init' "$AGENT" 2>/dev/null; then
    skip "$AGENT is a sanitizer build; valgrind needs a plain one"
fi

A=10.1.0.1 B=10.1.0.2 C=10.1.0.3
M=$T/m
VLOG=$T/valgrind.log
# Under valgrind everything takes longer.
SYNC_TIMEOUT=60

write_policy() { # v1|v2
    local extra=''
    if [ "$1" = v2 ]; then
        extra='
  - from: [{namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchExpressions: [{key: app, operator: In, values: [c, d]}]}}]
    ports: [{protocol: TCP, port: 80, endPort: 90}, {protocol: UDP}]'
    fi
    write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.3/32]}}]
    ports: [{protocol: TCP, port: 80}, {port: http}]$extra
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
}

write_cluster() { # TEAM
    {
        yaml_namespace x "team: $1"
        yaml_pod x a $A "app: a"
        yaml_pod x b $B "app: b"
        yaml_pod x c $C "app: c"
    } | write_file "$M/cluster.yaml"
}

synced() {
    wait_sync 5 >/dev/null 2>&1 && switch_matches_agent >/dev/null
}

# step DESCRIPTION: waits for the agent to catch up with a change (polling:
# after a switch restart, wait-sync can answer before the agent has even
# noticed).
step() {
    check "$1: synced, the switch holds exactly the agent's flows" \
        wait_until "$SYNC_TIMEOUT" synced
}

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 --serve 80
mkdir -p "$M"
write_cluster red
write_policy v1

agent_pidfiles+=("$T/agent.pid")
t0=$(now)
valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --error-exitcode=99 \
    --num-callers=30 --log-file="$VLOG" \
    "$AGENT" --pidfile="$T/agent.pid" --log-file="$T/agent.log" \
    -vconsole:off --manifests="$M" </dev/null >>"$T/agent.out" 2>&1 \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
agent_pid=$!
if ! wait_until 60 agent_answers "$agent_pid"; then
    fail "setup: the agent did not start under valgrind"
    sed 's/^/#   /' "$T/agent.out" "$VLOG" | tail -n 30
    exit 1
fi
printf '# agent started under valgrind in %s ms\n' "$(ms_since "$t0")"
step "start"
queue_probe pass x/a $B 80
queue_probe pass x/b $A 80
run_probes "start"

# --- changes -------------------------------------------------------------

must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80
step "pod c plugged in"
write_policy v2
step "policy changed"
write_cluster blue
step "namespace relabelled"
printf 'kind: [unclosed\n' | write_file "$M/garbage.yaml"
step "a file with a syntax error"
write_file "$M/invalid.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Maybe}]}
  ingress: [{ports: [{port: 70000}]}]
EOF
step "a file with an invalid object"
rm -f "$M/garbage.yaml" "$M/invalid.yaml"
step "bad files removed"
check "ovs-netpolctl status" quietly ctl status
check "ovs-netpolctl status --format=json" quietly ctl status --format=json
check "ovs-netpolctl rules" quietly ctl rules
check "ovs-netpolctl flows" quietly ctl flows
check "ovs-netpolctl recompute" quietly ctl recompute
step "recompute"
check "ovs-netpolctl resync" quietly ctl resync
step "resync"
must "$sb" del-pod "$SB" x/c
step "pod c unplugged"
rm -f "$M/policy.yaml"
step "policies removed"
write_policy v1
step "policies back"
must "$sb" restart-switch "$SB"
step "ovs-vswitchd restarted"
queue_probe pass x/a $B 80
queue_probe pass x/b $A 80
run_probes "end"

# --- exit and the report -------------------------------------------------

t0=$(now)
kill -TERM "$agent_pid"
if wait_gone 120 "$agent_pid"; then
    agent_rc=0
    wait "$agent_pid" 2>/dev/null || agent_rc=$?
    printf '# the agent exited %s ms after SIGTERM\n' "$(ms_since "$t0")"
    check "the agent exits 0 under valgrind (99: memory errors or leaks)" \
        equals "$agent_rc" 0
else
    fail "the agent did not exit within 120 s of SIGTERM"
fi

grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed' \
    "$VLOG" | sed 's/^==[0-9]*== */#   /'
check "valgrind: ERROR SUMMARY: 0 errors" \
    grep -q 'ERROR SUMMARY: 0 errors' "$VLOG"
no_leak() { # KIND
    ! grep -E "$1 lost: [0-9,]*[1-9][0-9,]* bytes" "$VLOG" >/dev/null
}
check "valgrind: nothing definitely lost" no_leak definitely
check "valgrind: nothing indirectly lost" no_leak indirectly
if [ "$failures" != 0 ]; then
    # The first error or leak records, with their stacks.
    awk '/^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and destination)/ || /are (definitely|indirectly) lost/ {n = 40} n-- > 0' \
        "$VLOG" | head -n 120 | sed 's/^==[0-9]*== */#   /'
fi

lib_finish
