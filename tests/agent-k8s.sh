#!/bin/bash
# tests/agent-k8s.sh: ovs-netpol-agent in Kubernetes mode against the fake
# API server (tests/k8s-apiserver.py) and a real ovs-vswitchd (userspace
# datapath) with pods in network namespaces.  Root only.
#
# Pods x/a, x/b, x/c on this node (node-1), y/r on another (no port here).
# Policy b-ingress: x/b accepts TCP 80 from app=a only.
#
#   (a) Initial sync: wait-sync, every connection passes without policy.
#   (b) Watch events move flows: a policy created through the API server,
#       then a pod relabelled, each followed at once by wait-sync (no
#       sleep) and real packets; the switch holds exactly what a full
#       offline compile of the API server's objects gives.
#   (c) wait-sync is a consistent read: five policy flips, each probed
#       right after wait-sync returns.
#   (d) A watch stream cut in the middle of an event: the changes of the
#       batch all arrive, no relist, flows equal a full compile; 20 times a
#       cut followed at once by wait-sync, which waits for the reconnected
#       watch to deliver the change.
#   (e) 410 with nothing changed: every resource relists, zero bundles and
#       zero flow mods; 410 after changes the watches never saw (history
#       compacted under a stalled stream): one bundle with only the flow
#       mods of that change.
#   (f) A Pod on one of our ports that the API server places on another
#       node is reported.
#   (g) The API server goes away: flows stay, wait-sync still answers; it
#       comes back with a new history (a restore: older resourceVersions),
#       the agent relists ("too large resource version") and sends nothing.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces,
# Open vSwitch, python3, openssl, curl or jq missing), 99 not built.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-k8s
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
lib_init
k8s_setup

A=10.1.0.1 B=10.1.0.2 C=10.1.0.3 R=10.1.0.9
NODE=node-1

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 --serve 80,81
must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80,81

apiserver_start api --too-large-wait 1
K8S_FIRST_PORT=$K8S_PORT
must k8s_objects "[$(ns_json x '{"team":"x"}'),$(ns_json y '{"team":"y"}'),
    $(pod_json x a $A '{"app":"a"}' $NODE),$(pod_json x b $B '{"app":"b"}' $NODE),
    $(pod_json x c $C '{"app":"c"}' $NODE),$(pod_json y r $R '{"app":"r"}' node-2)]"
echo "$K8S_TOKEN" >"$T/token"
kubeconfig "$T/kc" ca="$T/pki/ca.crt" token_file="$T/token"

policy_v1() { # PORT
    policy_json x b-ingress "{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},
        \"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}}}],
                      \"ports\":[{\"protocol\":\"TCP\",\"port\":${1:-80}}]}]}"
}

label() { # NS NAME IP LABELS [NODE]
    k8s_objects "$(pod_json "$@")"
}

same_as_full_compile() {
    switch_matches_agent && compile_matches_agent "$NODE"
}

# --- (a) initial sync --------------------------------------------------------

t0=$(now)
agent_start agent --kubeconfig="$T/kc" --node-name=$NODE
check "(a) wait-sync after start" wait_sync
printf '# (a) started and synced in %s ms\n' "$(ms_since "$t0")"
check "(a) the source is synced" status_is .sources.k8s.synced true
check "(a) objects: 2 namespaces, 4 pods, 0 policies" equals \
    "$(status_get '.counts | "\(.namespaces) \(.pods) \(.policies)"')" "2 4 0"
queue_probe pass x/a $B 80
queue_probe pass x/c $B 80
queue_probe pass x/b $A 81
run_probes "(a) no policy"

# --- (b) watch events move flows --------------------------------------------

t0=$(now)
must k8s_objects "$(policy_v1 80)"
check "(b) policy created: wait-sync" wait_sync
printf '# (b) policy to switch in %s ms\n' "$(ms_since "$t0")"
queue_probe pass x/a $B 80
queue_probe fail x/a $B 81
queue_probe fail x/c $B 80
queue_probe pass x/b $A 80
run_probes "(b) policy v1"

t0=$(now)
must label x c $C '{"app":"a"}' $NODE
check "(b) x/c relabelled app=a: wait-sync" wait_sync
printf '# (b) label change to switch in %s ms\n' "$(ms_since "$t0")"
queue_probe pass x/c $B 80
queue_probe fail x/c $B 81
run_probes "(b) c is app=a"
check "(b) the switch holds a full compile of the API server's objects" \
    same_as_full_compile

# --- (c) wait-sync after each change, no sleep -------------------------------

t0=$(now)
for i in 1 2 3 4 5; do
    if [ $((i % 2)) = 1 ]; then port=81 other=80; else port=80 other=81; fi
    must k8s_objects "$(policy_v1 $port)"
    must wait_sync
    queue_probe pass x/a $B $port
    queue_probe fail x/a $B $other
    run_probes "(c) flip $i: port $port"
done
printf '# (c) 5 flips in %s ms\n' "$(ms_since "$t0")"
must k8s_objects "$(policy_v1 80)"
check "(c) barriers counted" test "$(status_get .sources.k8s.barriers)" -ge 5

# --- (d) a stream cut in the middle of an event -------------------------------

lists=$(status_get .sources.k8s.lists)
api_mark
must k8s_fault '{"drop_stream_mid_event": true, "resource": "pods"}'
must k8s_objects "[$(pod_json x c $C '{"app":"c"}' $NODE),
    $(pod_json y r $R '{"app":"a"}' node-2),
    $(pod_json y r2 10.1.0.10 '{"app":"a"}' node-2)]"
check "(d) wait-sync after the cut" wait_sync
check "(d) the cut was seen" k8s_ge .resources.pods.errors.transport 1
check "(d) no relist" equals "$(status_get .sources.k8s.lists)" "$lists"
api_started >"$T/started"
check "(d) resumed by a watch from a resourceVersion" \
    grep -q '^/api/v1/pods?watch=1&.*resourceVersion=[0-9]*$' "$T/started"
# List requests of pods; not wait-sync's barrier, which reads the current
# resourceVersion with limit=1.
pod_lists() {
    grep '^/api/v1/pods?limit=' "$T/started" | grep -v '?limit=1$'
}
check_not "(d) no list request" pod_lists
check "(d) every change of the batch arrived: 5 pods" \
    equals "$(status_get .counts.pods)" 5
queue_probe fail x/c $B 81
queue_probe fail x/c $B 80
queue_probe pass x/a $B 80
run_probes "(d) after the cut"
check "(d) the switch holds a full compile of the API server's objects" \
    same_as_full_compile

# wait-sync right after a cut: the cut watch has not delivered the change
# yet and is waiting to reconnect.  wait-sync must wait for it, even when
# the other resources' bookmarks (which also answer a barrier) come first.
# The cut lands at a random point of the bookmark period each time.
late=0
for i in $(seq 20); do
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    must k8s_fault '{"drop_stream_mid_event": true, "resource": "pods"}'
    must k8s_objects "$(pod_json y cut$i 10.1.1.$i '{"app":"z"}' node-2)"
    must wait_sync
    [ "$(status_get .counts.pods)" = $((5 + i)) ] || late=$((late + 1))
done
check "(d) 20 cuts, each followed at once by wait-sync: no change missing" \
    equals "$late" 0

# --- (e) 410 --------------------------------------------------------------------

must wait_sync
bundles=$(switch_counter bundles)
flow_mods=$(switch_counter flow_mods)
applied=$(status_get .sources.k8s.applied)
change_seq=$(status_get .change_seq)
relists=$(status_get .sources.k8s.relists)
must k8s_fault '{"watch_gone": true}'
check "(e) 410: every resource relists" wait_until 10 \
    status_is .sources.k8s.relists $((relists + 3))
check "(e) wait-sync after the relist" wait_sync
check "(e) relist of an unchanged state: 0 bundles" \
    equals "$(switch_counter bundles)" "$bundles"
check "(e) relist of an unchanged state: 0 flow mods" \
    equals "$(switch_counter flow_mods)" "$flow_mods"
check "(e) relist of an unchanged state: no object changed in the cluster" \
    equals "$(status_get .sources.k8s.applied)" "$applied"
check "(e) relist of an unchanged state: no change for the agent to run" \
    equals "$(status_get .change_seq)" "$change_seq"

relists=$(status_get .sources.k8s.resources.pods.relists)
must k8s_fault '{"stall": 3, "resource": "pods"}'
sleep 0.3
must label x c $C '{"app":"a"}' $NODE
must k8s_api POST /compact '{}' >/dev/null
check "(e) compacted under a stalled watch: pods relist" wait_until 10 \
    status_is .sources.k8s.resources.pods.relists $((relists + 1))
check "(e) wait-sync after the relist" wait_sync
new_bundles=$(($(switch_counter bundles) - bundles))
new_mods=$(($(switch_counter flow_mods) - flow_mods))
printf '# (e) relist with one change: %s bundle(s), %s flow mods (of %s flows)\n' \
    "$new_bundles" "$new_mods" "$(n_switch_flows)"
check "(e) relist with one change: one bundle" equals "$new_bundles" 1
check "(e) relist with one change: at most 4 flow mods" test "$new_mods" -le 4
queue_probe pass x/c $B 80
run_probes "(e) c is app=a again"
check "(e) the switch holds a full compile of the API server's objects" \
    same_as_full_compile

# --- (f) a pod port of another node --------------------------------------------

must label x c $C '{"app":"a"}' node-2
must wait_sync
check "(f) a local port whose Pod is on another node is reported" \
    agent_log_has agent "port .* is pod x/c, which the API server places on node node-2, not on this node node-1"
must label x c $C '{"app":"a"}' $NODE
must wait_sync

# --- (g) the API server goes away and comes back with a new history ------------

for k in namespaces pods networkpolicies; do
    k8s_api GET "/objects/$k" | jq -c '.items[]'
done | jq -s '{"kind": "List", "items": .}' >"$T/restore.json"
must wait_sync
switch_flows >"$T/g-before.flows"
bundles=$(switch_counter bundles)
relists=$(status_get .sources.k8s.relists)
stop_pid "$K8S_PID"
check "(g) API server down: transport errors" wait_until 10 \
    k8s_ge .errors.transport 1
check "(g) API server down: wait-sync still answers" wait_sync 5
switch_flows >"$T/g-down.flows"
check "(g) API server down: the flows stay" \
    same_file "$T/g-before.flows" "$T/g-down.flows"
queue_probe pass x/a $B 80
queue_probe fail x/a $B 81
run_probes "(g) API server down"

apiserver_start api2 --port "$K8S_FIRST_PORT" --too-large-wait 1 \
    --initial "$T/restore.json"
check "(g) restored API server: the agent relists" wait_until 40 \
    status_is .sources.k8s.relists $((relists + 3))
check "(g) restored API server: wait-sync" wait_sync
check "(g) restored API server, same objects: 0 bundles" \
    equals "$(switch_counter bundles)" "$bundles"
switch_flows >"$T/g-after.flows"
check "(g) restored API server: the flows are unchanged" \
    same_file "$T/g-before.flows" "$T/g-after.flows"
t0=$(now)
must k8s_objects "$(policy_v1 81)"
check "(g) restored API server: new changes arrive" wait_sync
printf '# (g) change after the restore in the switch in %s ms\n' "$(ms_since "$t0")"
queue_probe pass x/a $B 81
queue_probe fail x/a $B 80
run_probes "(g) after the restore"
check "(g) the switch holds a full compile of the API server's objects" \
    same_as_full_compile

must agent_signal TERM
check "agent exited 0, no sanitizer report" no_sanitizer_reports
lib_finish
