#!/bin/bash
# tests/agent-cni-chain.sh: ovs-netpol-agent inside a CNI's pipeline.
#
# A stand-in CNI owns table 0 (it classifies, then hands everything to our
# first table, 10) and table 20 (where our allowed traffic goes: it forwards
# unicast by destination MAC to the pod's port and floods the rest).  Its
# flows carry cookie 0x1234, and one carries 0x4e51000000000020, a neighbour
# of our cookie prefix 0x4e50/16.  The agent runs with --first-table=10
# --next-table=20.
#
# Checks: the policies hold (a denied pair is denied, an allowed pair passes
# and its replies come back, over TCP and UDP), allowed traffic really goes
# through the CNI's table 20, our flows stay in tables 10-14 and never
# forward by themselves; the CNI's flows are byte-identical (dump-flows
# --no-stats) before the agent starts, after its first sync, after a policy
# change, after restarts (SIGTERM and SIGKILL); `ovs-netpolctl flush`
# removes exactly our flows and leaves the CNI's.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-cni-chain
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.2.0.1 B=10.2.0.2 C=10.2.0.3
M=$T/m

write_policy() { # v1|v2: v2 also lets c reach b
    local extra=''
    if [ "$1" = v2 ]; then
        extra='
  - from: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: TCP, port: 80}]'
    fi
    write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{protocol: TCP, port: 80}, {protocol: UDP, port: 80}]$extra
EOF
}

# b accepts a on 80 (TCP, UDP): a's probes pass only if b's replies come
# back, though a itself is isolated (default-deny).
queue_v1() {
    queue_probe pass x/a $B 80 tcp
    queue_probe pass x/a $B 80 udp
    queue_probe fail x/a $B 81 tcp
    queue_probe fail x/c $B 80 tcp
    queue_probe fail x/b $A 80 tcp
    queue_probe fail x/b $A 80 udp
    queue_probe fail x/c $A 80 tcp
}

queue_v2() {
    queue_probe pass x/a $B 80 tcp
    queue_probe pass x/c $B 80 tcp
    queue_probe fail x/c $B 81 tcp
    queue_probe fail x/b $A 80 tcp
    queue_probe fail x/b $C 80 tcp
}

# The CNI's flows, normalised, into FILE.
cni_flows() {
    other_flows >"$1"
}

cni_unchanged() { # LABEL
    cni_flows "$T/cni.$1"
    same_file "$T/cni.0" "$T/cni.$1"
}

# Our flows live in tables 10-14 only.
only_our_tables() {
    ! switch_flows | grep -Ev '^table=1[0-4],'
}

# Our flows never forward by themselves: they drop, go to conntrack, go to
# our next table or hand over to table 20.
never_forward() {
    ! switch_flows | grep -E ' actions=.*(NORMAL|FLOOD|ALL|output|resubmit\(,(0|20)\)|goto_table:(0|1[5-9]|2[1-9]))'
}

# n_packets of the CNI's table-20 flow to MAC.
table20_packets() { # MAC
    "$sb" ofctl "$SB" dump-flows "table=20,dl_dst=$1" \
        | sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p'
}

main_agent_start() {
    agent_start agent --manifests="$M" --first-table=10 --next-table=20
}

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 --serve 80,81
must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80,81
mkdir -p "$M"
{
    yaml_namespace x
    yaml_pod x a $A "app: a"
    yaml_pod x b $B "app: b"
    yaml_pod x c $C "app: c"
} | write_file "$M/cluster.yaml"
write_policy v1

# The CNI.
cat >"$T/cni.flows" <<EOF
table=0,cookie=0x1234,priority=100,dl_type=0x88cc,actions=drop
table=0,cookie=0x1234,priority=10,ip,actions=load:0x1->NXM_NX_REG0[],goto_table:10
table=0,cookie=0x1234,priority=0,actions=goto_table:10
table=20,cookie=0x1234,priority=100,dl_dst=$(mac_of x/a),actions=output:11
table=20,cookie=0x1234,priority=100,dl_dst=$(mac_of x/b),actions=output:12
table=20,cookie=0x1234,priority=100,dl_dst=$(mac_of x/c),actions=output:13
table=20,cookie=0x4e51000000000020,priority=50,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=FLOOD
table=20,cookie=0x1234,priority=0,actions=drop
EOF
must "$sb" ofctl "$SB" add-flows - <"$T/cni.flows"
cni_flows "$T/cni.0"
check "the CNI's 8 flows are in" equals "$(wc -l <"$T/cni.0")" 8

queue_probe fail x/a $B 80 tcp
queue_probe fail x/c $A 80 tcp
run_probes "CNI alone (table 10 empty)"

# --- the agent's first sync ----------------------------------------------

t0=$(now)
main_agent_start
check "first sync: wait-sync" wait_sync
printf '# first sync in %s ms\n' "$(ms_since "$t0")"
check "first sync: the CNI's flows are unchanged" cni_unchanged 1
check "first sync: the switch holds exactly the agent's flows" \
    switch_matches_agent
check "our flows are only in tables 10-14 ($(n_switch_flows) flows)" \
    only_our_tables
check "our flows never forward by themselves (they hand over to table 20)" \
    never_forward
b_packets=$(table20_packets "$(mac_of x/b)")
queue_v1
run_probes "policy v1"
check "allowed traffic went through the CNI's table 20 (to b: $b_packets -> $(table20_packets "$(mac_of x/b)") packets)" \
    test "$(table20_packets "$(mac_of x/b)")" -gt "$b_packets"

# --- a policy change -----------------------------------------------------

write_policy v2
check "policy v2: wait-sync" wait_sync
check "policy v2: the agent changed flows" \
    test "$(status_get .switch.bundles)" -ge 2
check "policy v2: the CNI's flows are unchanged" cni_unchanged 2
check "policy v2: the switch holds exactly the agent's flows" \
    switch_matches_agent
queue_v2
run_probes "policy v2"

# --- restarts ------------------------------------------------------------

switch_flows >"$T/ours.before"
check "SIGTERM stops the agent" agent_signal TERM
main_agent_start
check "restart: wait-sync" wait_sync
check "restart: 0 flow mods" equals "$(status_get .switch.flow_mods)" 0
check "restart: the CNI's flows are unchanged" cni_unchanged 3
switch_flows >"$T/ours.after"
check "restart: our flows are unchanged" \
    same_file "$T/ours.before" "$T/ours.after"

check "SIGKILL kills the agent" agent_signal KILL
main_agent_start
check "restart after SIGKILL: wait-sync" wait_sync
check "restart after SIGKILL: 0 flow mods" \
    equals "$(status_get .switch.flow_mods)" 0
check "restart after SIGKILL: the CNI's flows are unchanged" cni_unchanged 4
queue_v2
run_probes "after the restarts"

# --- flush ---------------------------------------------------------------

check "SIGTERM stops the agent" agent_signal TERM
check "flush" quietly "$CTL" flush
check "flush: none of our flows is left" equals "$(n_switch_flows)" 0
check "flush: the CNI's flows are unchanged" cni_unchanged 5
check "flush: nothing but the CNI's flows is left" \
    equals "$("$sb" ofctl "$SB" dump-flows --no-stats | normalize_flows | wc -l)" \
    "$(wc -l <"$T/cni.0")"
queue_probe fail x/a $B 80 tcp
run_probes "after flush (table 10 empty again)"

lib_finish
