#!/bin/bash
# tests/agent-faults.sh: ovs-netpol-agent under faults, against a real
# ovs-vswitchd (userspace datapath) with pods in network namespaces.
#
# Three pods in namespace x: a, b, c.  Policy v1: b accepts TCP 80 and 8080
# from a only; a may send only to b on TCP 80 and 8080.  So a->b passes,
# c->b and a->c are denied, b->a passes.
#
#   (f) Fail closed before the first sync: a fresh bridge forwards nothing;
#       an agent that cannot reach ovsdb-server, or whose --manifests path
#       does not exist yet, installs nothing (no flow at all) and nothing
#       passes; once the path appears, the policy is installed.
#   (e) An agent restart (SIGTERM, start) with nothing changed sends no
#       flow mod and leaves the switch's flows as they were; an agent that
#       cannot reach ovsdb-server leaves a previous agent's flows alone.
#   (a) SIGKILL and restart of the agent while a TCP stream a->b:8080
#       carries a line every 50 ms: the stream never stalls for 1 s and keeps
#       growing; new allowed connections keep passing and denied ones keep
#       failing, probed in loops through the whole restart.
#   (c) A manifest rewritten with garbage, then with an invalid object: an
#       error is logged, enforcement (the flows) does not change; a later
#       valid version is applied.  A writer that truncates the file in place
#       and stalls before writing: the empty file is never applied; a file
#       emptied on purpose is, and wait-sync waits for it.
#   (d) Pod a's port removed and re-added with another ofport: the flows
#       follow it (nothing mentions the old ofport) and a is enforced on the
#       new port.
#   (b) ovs-vswitchd killed (SIGKILL) and restarted: our flows come back
#       (the switch holds exactly `ovs-netpolctl flows`), verdicts are right
#       again; the time to recover is printed and must be under 5 s.  A
#       wait-sync right after a restart returns only once the flows are
#       back (three times).
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-faults
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.1.0.1 B=10.1.0.2 C=10.1.0.3
M=$T/m                          # The agent's --manifests directory.

write_cluster() { # DIR
    {
        yaml_namespace x
        yaml_pod x a $A "app: a"
        yaml_pod x b $B "app: b"
        yaml_pod x c $C "app: c"
    } | write_file "$1/cluster.yaml"
}

# Policy v1 (see the header); v2 also lets c reach b on TCP 80.
write_policy() { # DIR v1|v2
    yaml_ab_policies "$2" | write_file "$1/policy.yaml"
}

# The verdicts of policy v1, and of v2.
queue_v1() {
    queue_probe pass x/a $B 80
    queue_probe fail x/a $B 81
    queue_probe fail x/c $B 80
    queue_probe fail x/a $C 80
    queue_probe pass x/b $A 80
    queue_probe pass x/c $A 80
}

queue_v2() {
    queue_probe pass x/a $B 80
    queue_probe fail x/a $B 81
    queue_probe pass x/c $B 80
    queue_probe fail x/c $B 81
    queue_probe fail x/a $C 80
    queue_probe pass x/b $A 80
}

# Until the first sync nothing passes, in any direction.
queue_nothing() {
    queue_probe fail x/a $B 80
    queue_probe fail x/b $A 80
    queue_probe fail x/c $A 80
}

switch_idle() {
    case $(status_get .switch.state) in
        idle | probing) return 0 ;;
    esac
    return 1
}

no_flows() {
    equals "$(n_switch_flows)" 0
}

main_agent_start() {
    agent_start agent --manifests="$M"
}

# --- set-up --------------------------------------------------------------

sandbox_start
t0=$(now)
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 --serve 80,81
must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80,81
printf '# 3 pods in %s ms\n' "$(ms_since "$t0")"
mkdir -p "$T/staged"
write_cluster "$T/staged"
write_policy "$T/staged" v1

# A TCP echo server on b:8080 for the stream of (a).
write_stream_py
background "$sb" exec "$SB" x/b "$python" -I -S "$T/stream.py" serve 8080 \
    "$T/stream.ready"
must wait_until 5 test -e "$T/stream.ready"

# --- (f) fail closed before the first sync -------------------------------

t0=$(now)
queue_nothing
run_probes "(f) no agent yet"

# An agent that cannot reach ovsdb-server: it connects to the switch and
# reads it back, but must install nothing.
CTL_CONTROL=$T/f-noovsdb.ctl
agent_start f-noovsdb --manifests="$T/staged" --ovsdb="unix:$T/nowhere.sock" \
    --control="$CTL_CONTROL"
check "(f) agent without ovsdb-server: connected to the switch" \
    wait_until 5 switch_idle
check_not "(f) agent without ovsdb-server: wait-sync times out" \
    quiet wait_sync 1
check "(f) agent without ovsdb-server: status says not synced" \
    equals "$(status_get .synced)" false
check "(f) agent without ovsdb-server: no flow in the switch" no_flows
queue_nothing
run_probes "(f) agent without ovsdb-server"
check "(f) agent without ovsdb-server: SIGTERM stops it" agent_signal TERM
CTL_CONTROL=''

# An agent whose --manifests path does not exist yet.
main_agent_start
check "(f) agent before its manifests exist: connected to the switch" \
    wait_until 5 switch_idle
check "(f) agent before its manifests exist: ovsdb synced" \
    wait_until 5 status_is .sources.ovsdb.synced true
check_not "(f) agent before its manifests exist: wait-sync times out" \
    quiet wait_sync 1
check "(f) agent before its manifests exist: manifests not synced" \
    equals "$(status_get .sources.manifests.synced)" false
check "(f) agent before its manifests exist: no flow in the switch" no_flows
queue_nothing
run_probes "(f) agent before its manifests exist"

# The path appears: the periodic rescan must find it (no wait-sync, which
# would rescan by itself).
policy_installed() {
    status_is .counts.policies 2 && status_is .synced true
}
t1=$(now)
mv "$T/staged" "$M"
check "(f) manifests appear: installed without being asked" \
    wait_until 10 policy_installed
printf '# (f) manifests picked up %s ms after they appeared\n' "$(ms_since "$t1")"
must wait_sync
check "(f) manifests appear: the switch holds exactly the agent's flows" \
    switch_matches_agent
check "(f) status: the sandbox bridge's fail_mode is secure" \
    status_is .sources.ovsdb.bridge_fail_mode secure
queue_v1
run_probes "(f) policy v1"
printf '# (f) done in %s ms\n' "$(ms_since "$t0")"

# --- (e) restart with nothing changed ------------------------------------

t0=$(now)
switch_flows >"$T/e-before.flows"
check "(e) SIGTERM stops the agent" agent_signal TERM
check "(e) ... which says it leaves the flows" \
    grep -q 'exiting, leaving the flows in place' "$T/agent.log"
switch_flows >"$T/e-stopped.flows"
check "(e) the flows stay while no agent runs" \
    same_file "$T/e-before.flows" "$T/e-stopped.flows"

main_agent_start
check "(e) restarted agent: wait-sync" wait_sync
check "(e) restarted agent: 0 flow mods" \
    equals "$(status_get .switch.flow_mods)" 0
check "(e) restarted agent: 0 bundles" \
    equals "$(status_get .switch.bundles)" 0
check "(e) restarted agent read back every flow" \
    equals "$(status_get .switch.installed_flows)" "$(wc -l <"$T/e-before.flows")"
switch_flows >"$T/e-after.flows"
check "(e) the switch's flows are unchanged ($(wc -l <"$T/e-after.flows") flows)" \
    same_file "$T/e-before.flows" "$T/e-after.flows"
printf '# (e) done in %s ms
' "$(ms_since "$t0")"

# --- (f) again: an agent without a complete view over a previous agent's
# flows must leave them alone (agent.h: "the switch keeps whatever it had").

t0=$(now)
must agent_signal TERM

# It cannot reach ovsdb-server.
CTL_CONTROL=$T/f-noovsdb2.ctl
agent_start f-noovsdb2 --manifests="$M" --ovsdb="unix:$T/nowhere.sock" \
    --control="$CTL_CONTROL"
must wait_until 5 switch_idle
check_not "(f) agent without ovsdb-server over old flows: wait-sync times out" \
    quiet wait_sync 1
switch_flows >"$T/f-noovsdb2.flows"
check "(f) agent without ovsdb-server leaves the old flows alone" \
    same_file "$T/e-before.flows" "$T/f-noovsdb2.flows"
check "(f) ... and sends no flow mod" \
    equals "$(status_get .switch.flow_mods)" 0
queue_v1
run_probes "(f) old flows, agent without ovsdb-server"
must agent_signal TERM

# Its --manifests path is missing (a volume not mounted yet).
CTL_CONTROL=$T/f-nomanifests.ctl
agent_start f-nomanifests --manifests="$T/missing" --control="$CTL_CONTROL"
must wait_until 5 switch_idle
check_not "(f) agent without its manifests over old flows: wait-sync times out" \
    quiet wait_sync 1
switch_flows >"$T/f-nomanifests.flows"
check "(f) agent without its manifests leaves the old flows alone" \
    same_file "$T/e-before.flows" "$T/f-nomanifests.flows"
queue_v1
run_probes "(f) old flows, agent without its manifests"
must agent_signal TERM
CTL_CONTROL=''

# The real agent again (it repairs whatever the others did).
main_agent_start
must wait_sync
check "(f) the main agent is back: the switch holds exactly its flows" \
    switch_matches_agent
printf '# (f) over old flows: done in %s ms\n' "$(ms_since "$t0")"

# --- (a) SIGKILL and restart under traffic -------------------------------

t0=$(now)
# probe_loop OUT POD ADDR PORT TIMEOUT: probes until $T/stop exists, one
# line per probe ("pass" or "fail") in OUT.
probe_loop() {
    local r
    while [ ! -e "$T/stop" ]; do
        if probe "$2" "$3" "$4" tcp "$5"; then r=pass; else r=fail; fi
        printf '%s\n' "$r" >>"$1"
    done
}
n_lines() {
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}
progress() { # field 1: bytes, 2: max gap (ms), 3: lines, 4: final state
    [ -f "$T/stream.progress" ] || { echo 0; return; }
    awk -v f="$1" '{ print $f }' "$T/stream.progress"
}
# loops_reach N: every probe loop has done at least N more probes than
# counted in $mark_*.
loops_reach() {
    [ "$(n_lines "$T/allowed.out")" -ge $((mark_allowed + $1)) ] \
        && [ "$(n_lines "$T/denied-c.out")" -ge $((mark_denied_c + $1)) ] \
        && [ "$(n_lines "$T/denied-port.out")" -ge $((mark_denied_port + $1)) ]
}
mark_loops() {
    mark_allowed=$(n_lines "$T/allowed.out")
    mark_denied_c=$(n_lines "$T/denied-c.out")
    mark_denied_port=$(n_lines "$T/denied-port.out")
}
stream_grows() { # past BYTES by at least 10 lines (0.5 s)
    [ "$(progress 1)" -ge $(($1 + 90)) ]
}

rm -f "$T/stop"
background "$sb" exec "$SB" x/a "$python" -I -S "$T/stream.py" client $B 8080 \
    "$T/stream.progress" "$T/stop"
client_pid=$!
# Allowed probes get 1 s: a dropped SYN is retransmitted only after 1 s, so
# a single lost packet fails the probe.
background probe_loop "$T/allowed.out" x/a $B 80 1
loop_pids=($!)
background probe_loop "$T/denied-c.out" x/c $B 80 0.3
loop_pids+=($!)
background probe_loop "$T/denied-port.out" x/a $B 81 0.3
loop_pids+=($!)

mark_allowed=0 mark_denied_c=0 mark_denied_port=0
check "(a) the stream a->b:8080 is flowing" wait_until 5 stream_grows 0
must wait_until 10 loops_reach 1

bytes_kill=$(progress 1)
check "(a) SIGKILL: the agent is gone" agent_signal KILL
mark_loops
# While no agent runs: traffic goes on.
check "(a) no agent: the stream keeps flowing" \
    wait_until 5 stream_grows "$bytes_kill"
must wait_until 10 loops_reach 2

t1=$(now)
main_agent_start
check "(a) restarted agent: wait-sync" wait_sync
printf '# (a) restart to synced: %s ms\n' "$(ms_since "$t1")"
bytes_restart=$(progress 1)
mark_loops
check "(a) restarted agent: the stream keeps flowing" \
    wait_until 5 stream_grows "$bytes_restart"
must wait_until 10 loops_reach 2

touch "$T/stop"
if wait "$client_pid"; then client_rc=0; else client_rc=$?; fi
for pid in "${loop_pids[@]}"; do wait "$pid" || true; done
printf '# (a) stream: %s bytes, %s lines, largest gap %s ms, end: %s\n' \
    "$(progress 1)" "$(progress 3)" "$(progress 2)" "$(progress 4)"
check "(a) the stream's connection survived (client exit $client_rc)" \
    equals "$client_rc/$(progress 4)" "0/done"
check "(a) the stream never stalled for 1 s (largest gap $(progress 2) ms)" \
    test "$(progress 2)" -lt 1000
check "(a) the stream grew across the kill and the restart" \
    test "$(progress 1)" -gt "$bytes_restart" -a "$bytes_restart" -gt "$bytes_kill"
for f in allowed:pass denied-c:fail denied-port:fail; do
    name=${f%:*} want=${f#*:}
    n=$(n_lines "$T/$name.out")
    bad=$(grep -cvx "$want" "$T/$name.out" || true)
    check "(a) $name probes during the restart: all $n $want (wrong: $bad)" \
        test "$bad" = 0 -a "$n" -ge 3
done
check "(a) restart after SIGKILL with nothing changed: 0 flow mods" \
    equals "$(status_get .switch.flow_mods)" 0
check "(a) the switch holds exactly the agent's flows" switch_matches_agent
printf '# (a) done in %s ms\n' "$(ms_since "$t0")"

# --- (c) a manifest rewritten with garbage -------------------------------

t0=$(now)
switch_flows >"$T/c-before.flows"
log_lines=$(wc -l <"$T/agent.log")
errors_before=$(status_get .sources.manifests.file_errors)
# Written in place, not renamed: what a careless editor does.
printf 'apiVersion: networking.k8s.io/v1\nkind: [NetworkPolicy\nspec: {{{ garbage\n' \
    >"$M/policy.yaml"
check "(c) garbage: wait-sync" wait_sync
garbage_logged() {
    tail -n +$((log_lines + 1)) "$T/agent.log" \
        | grep -E '\|(WARN|ERR)\|' | grep -q 'policy\.yaml'
}
check "(c) garbage: an error naming policy.yaml is logged" \
    wait_until 5 garbage_logged
tail -n +$((log_lines + 1)) "$T/agent.log" | grep -E '\|(WARN|ERR)\|' \
    | grep -v '|timeval|' | head -n 3 | sed 's/^/#   /'
check "(c) garbage: counted as a file error" \
    test "$(status_get .sources.manifests.file_errors)" -gt "$errors_before"
switch_flows >"$T/c-garbage.flows"
check "(c) garbage: the flows do not change" \
    same_file "$T/c-before.flows" "$T/c-garbage.flows"
queue_v1
run_probes "(c) garbage"

# The agent restarts while the file is garbage: it has never seen the
# file's policies, so it must not install a flow set without them (that
# would open what they deny); the old flows must stay.
check "(c) garbage: SIGTERM" agent_signal TERM
main_agent_start
must wait_until 5 switch_idle
wait_sync 1 2>/dev/null || true
switch_flows >"$T/c-garbage-restart.flows"
check "(c) restart with garbage: the flows do not change" \
    same_file "$T/c-before.flows" "$T/c-garbage-restart.flows"
queue_v1
run_probes "(c) restart with garbage"

# The valid file again: back to where (c) started.
write_policy "$M" v1
must wait_sync
switch_flows >"$T/c-v1.flows"
check "(c) valid v1 again: the flows are as before the garbage" \
    same_file "$T/c-before.flows" "$T/c-v1.flows"

# Valid YAML, but b-ingress is invalid: its last valid form is kept.
log_lines=$(wc -l <"$T/agent.log")
sed -i 's/port: 8080}]$/port: 8080}, {protocol: TCP, port: 70000}]/' \
    "$M/policy.yaml"
must grep -q 70000 "$M/policy.yaml"
check "(c) invalid object: wait-sync" wait_sync
invalid_logged() {
    tail -n +$((log_lines + 1)) "$T/agent.log" \
        | grep -E '\|(WARN|ERR)\|' | grep -q 'b-ingress'
}
check "(c) invalid object: an error naming b-ingress is logged" \
    wait_until 5 invalid_logged
switch_flows >"$T/c-invalid.flows"
check "(c) invalid object: the flows do not change" \
    same_file "$T/c-before.flows" "$T/c-invalid.flows"

write_policy "$M" v2
check "(c) valid v2: wait-sync" wait_sync
check "(c) valid v2: the switch holds exactly the agent's flows" \
    switch_matches_agent
queue_v2
run_probes "(c) policy v2"

# A writer that truncates policy.yaml in place and stalls 0.5 s before it
# writes: the empty file must never be applied (that would drop both
# policies, i.e. open what they deny).
switch_flows >"$T/c-v2.flows"
log_lines=$(wc -l <"$T/agent.log")
applied_empty() {
    tail -n +$((log_lines + 1)) "$T/agent.log" \
        | grep -q 'policy\.yaml: 0 objects'
}
never_applied_empty() { ! applied_empty; }
: >"$M/policy.yaml"
sleep 0.5
switch_flows >"$T/c-stalled.flows"
yaml_ab_policies v2 >"$M/policy.yaml"
check "(c) stalled writer: the flows do not change while the file is empty" \
    same_file "$T/c-v2.flows" "$T/c-stalled.flows"
check "(c) stalled writer: wait-sync" wait_sync
check "(c) stalled writer: the empty file was never applied" \
    never_applied_empty
switch_flows >"$T/c-stalled-after.flows"
check "(c) stalled writer: the flows are those of v2" \
    same_file "$T/c-v2.flows" "$T/c-stalled-after.flows"

# A file emptied on purpose is applied once it stays empty (1 s), and a
# wait-sync issued at once waits for that.
: >"$M/policy.yaml"
t1=$(now)
check "(c) emptied file: wait-sync" wait_sync
printf '# (c) emptied file: wait-sync returned after %s ms\n' "$(ms_since "$t1")"
check "(c) emptied file: applied when wait-sync returns" applied_empty
queue_probe pass x/a $B 81
queue_probe pass x/c $B 80
queue_probe pass x/a $C 80
run_probes "(c) emptied file: no policy"
write_policy "$M" v2
must wait_sync
switch_flows >"$T/c-v2-again.flows"
check "(c) v2 again: the flows are those of v2" \
    same_file "$T/c-v2.flows" "$T/c-v2-again.flows"
printf '# (c) done in %s ms\n' "$(ms_since "$t0")"

# --- (d) a pod's port re-added with another ofport -----------------------

t0=$(now)
veth_a=$(veth_of x/a)
old_ofport=$(ofport_of x/a)
ext_a=$("$sb" vsctl "$SB" get Interface "$veth_a" external_ids)
must "$sb" vsctl "$SB" --timeout=10 del-port br-int "$veth_a"
must "$sb" vsctl "$SB" --timeout=10 add-port br-int "$veth_a" \
    -- set Interface "$veth_a" ofport_request=21 "external_ids=$ext_a"
check "(d) a's port is back as ofport 21" equals "$(ofport_of x/a)" 21
agent_sees_21() {
    test "$(status_get '.ports[] | select(.pod == "x/a") | .ofport')" = 21
}
check "(d) the agent sees a on ofport 21" wait_until 5 agent_sees_21
check "(d) wait-sync" wait_sync
check "(d) the switch holds exactly the agent's flows" switch_matches_agent
old_hex=$(printf '%08x' "$old_ofport")
mentions_old() {
    grep -E "in_port=${old_ofport}[, ]|cookie=0x4e500[23]00${old_hex}," \
        "$T/sw.flows"
}
check_not "(d) no flow mentions the old ofport $old_ofport" mentions_old
check "(d) flows match in_port=21" grep -q 'in_port=21[, ]' "$T/sw.flows"
queue_v2
run_probes "(d) a on its new port"
printf '# (d) done in %s ms\n' "$(ms_since "$t0")"

# --- (b) ovs-vswitchd killed and restarted -------------------------------

t0=$(now)
n_flows=$(n_switch_flows)
connects=$(status_get .switch.connects)
must "$sb" kill-switch "$SB"
t1=$(now)
must "$sb" start-switch "$SB"
printf '# (b) ovs-vswitchd down for %s ms\n' "$(ms_since "$t1")"
t1=$(now)
a_reaches_b() {
    probe x/a "$B" 80 tcp 0.5
}
check "(b) a->b:80 passes again" wait_until 15 a_reaches_b
recovery_ms=$(ms_since "$t1")
printf '# (b) a->b:80 answered %s ms after ovs-vswitchd was back (%s ms after the kill)\n' \
    "$recovery_ms" "$(ms_since "$t0")"
check "(b) recovered within 5 s ($recovery_ms ms)" test "$recovery_ms" -lt 5000
check "(b) wait-sync" wait_sync
check "(b) the agent reconnected once" \
    equals "$(status_get .switch.connects)" $((connects + 1))
check "(b) the switch holds exactly the agent's flows again" switch_matches_agent
check "(b) as many flows as before ($n_flows)" equals "$(n_switch_flows)" "$n_flows"
queue_v2
run_probes "(b) after the switch restart"

# wait-sync at once after a restart: it must not answer from before the
# restart (the agent has not noticed yet; its own probe comes once a
# second), but after the flows are back.
for i in 1 2 3; do
    must "$sb" kill-switch "$SB"
    must "$sb" start-switch "$SB"
    check "(b) restart $i: wait-sync at once" wait_sync
    check "(b) restart $i: then the switch holds exactly the agent's flows" \
        switch_matches_agent
done
printf '# (b) done in %s ms\n' "$(ms_since "$t0")"

lib_finish
