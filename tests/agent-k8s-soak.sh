#!/bin/bash
# tests/agent-k8s-soak.sh: 100,000 watch events through ovs-netpol-agent in
# Kubernetes mode, against the fake API server and a real ovs-vswitchd.
# Root only.
#
# The cluster: namespaces x (three pods on this node's bridge), y and z
# (1,000 pods on other nodes), and four policies whose peers select pods of
# y and z by label, so that remote pods' labels and addresses decide flows.
# The churn: batches of 1,000 pod updates, each giving pods of y and z new
# random labels (app=a0..a9) and new addresses; every tenth batch also
# deletes 100 pods and creates them again.  K8S_SOAK_EVENTS (default
# 100000) sets the total.
#
# Checks:
#   - every event arrives (the source's added + modified + deleted);
#   - memory stays flat: the agent's RSS after all events is at most 4 MiB
#     plus 10 % above its RSS after the first 10,000 events (the warm-up:
#     hash tables and allocator pools at their working size).  The number
#     of objects is constant, so anything above that is a leak.  (Not in an
#     AddressSanitizer build, whose quarantine holds freed memory; there
#     LeakSanitizer checks the agent when it exits.);
#   - the final state is right: after wait-sync, the switch holds exactly
#     the agent's flows, which are exactly what `ovs-netpolctl compile`
#     gives for the objects dumped from the API server; and a forced
#     `ovs-netpolctl recompute` followed by wait-sync sends no flow mod.
#
# Prints the RSS before (after the initial sync), after the warm-up and at
# the end, the events per second, and the agent's CPU time.
#
# Exit status: 0 pass, 1 fail, 77 skip, 99 not built.

# shellcheck disable=SC2317
test_name=agent-k8s-soak
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
lib_init
k8s_setup

EVENTS=${K8S_SOAK_EVENTS:-100000}
NODE=node-1

sandbox_start
must "$sb" add-pod "$SB" x/a --ip 10.1.0.1/16 --ofport 11
must "$sb" add-pod "$SB" x/b --ip 10.1.0.2/16 --ofport 12
must "$sb" add-pod "$SB" x/c --ip 10.1.0.3/16 --ofport 13

apiserver_start api
echo "$K8S_TOKEN" >"$T/token"
kubeconfig "$T/kc" ca="$T/pki/ca.crt" token_file="$T/token"

# churn.py init|batch N|...: writes the objects of the initial state, or
# batch N of the churn, as a JSON array to stdout; deletions for batch N
# with "deletes N".
cat >"$T/churn.py" <<'EOF'
import json, random, sys

REMOTE = [("y" if i % 2 else "z", "p%d" % i) for i in range(1000)]


def pod(ns, name, app, ip, node):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": app, "tier": "t%d" % (sum(map(ord, name)) % 3)}},
            "spec": {"nodeName": node,
                     "containers": [{"name": "c", "image": "i",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIPs": [{"ip": ip}]}}


def remote(rng, ns, name):
    ip = "10.%d.%d.%d" % (rng.randint(2, 200), rng.randint(0, 255), rng.randint(1, 254))
    return pod(ns, name, "a%d" % rng.randint(0, 9), ip, "node-2")


def policy(ns, name, spec):
    return {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


cmd, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
rng = random.Random(n)
if cmd == "init":
    out = [{"kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
           for ns in ("x", "y", "z")]
    out += [pod("x", p, p, "10.1.0.%d" % (i + 1), "node-1")
            for i, p in enumerate("abc")]
    out += [remote(rng, ns, name) for ns, name in REMOTE]
    sel = lambda apps: {"matchExpressions": [{"key": "app", "operator": "In", "values": apps}]}
    out += [
        policy("x", "b-from-a0-a2", {"podSelector": {"matchLabels": {"app": "b"}},
            "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": sel(["a0", "a1", "a2"])}],
                         "ports": [{"port": 80}]}]}),
        policy("x", "c-from-y-a5", {"podSelector": {"matchLabels": {"app": "c"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "y"}},
                                   "podSelector": {"matchLabels": {"app": "a5"}}}]}]}),
        policy("x", "a-egress", {"podSelector": {"matchLabels": {"app": "a"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": sel(["a3", "a7"]), "namespaceSelector": {}}],
                        "ports": [{"port": "http"}]},
                       {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.2.0.0/16"]}}],
                        "ports": [{"protocol": "UDP", "port": 53}]}]}),
        policy("y", "y-default-deny", {"podSelector": {}}),
    ]
elif cmd == "batch":
    picks = rng.sample(REMOTE, 1000)
    out = [remote(rng, ns, name) for ns, name in picks]
elif cmd == "deletes":
    out = [{"kind": "Pod", "namespace": ns, "name": name}
           for ns, name in rng.sample(REMOTE, 100)]
json.dump(out, sys.stdout)
EOF

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' /proc/"$agent_pid"/status
}

cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
        /proc/"$agent_pid"/stat
}

events_seen() {
    k8s_get '.events.added + .events.modified + .events.deleted'
}

"$python" "$T/churn.py" init >"$T/init.json"
must k8s_objects_file "$T/init.json"
agent_start agent --kubeconfig="$T/kc" --node-name=$NODE
must wait_sync 30
rss0=$(rss_kb)
printf '# initial sync: %s pods, %s flows, agent RSS %s KiB\n' \
    "$(status_get .counts.pods)" "$(n_switch_flows)" "$rss0"

# post_batch N: one batch of updates (and every tenth, deletions and
# re-creations).  Prints the number of events it makes.
post_batch() {
    "$python" "$T/churn.py" batch "$1" >"$T/batch.json"
    k8s_objects_file "$T/batch.json" || return 1
    if [ $(($1 % 10)) = 0 ]; then
        "$python" "$T/churn.py" deletes "$1" >"$T/deletes.json"
        curl -sSf --max-time 60 -H 'Content-Type: application/json' \
            --data-binary @"$T/deletes.json" "$K8S_CONTROL/objects/delete" \
            >/dev/null || return 1
        # Back, with the addresses of the next batch's generator.
        jq -c '[.[] | {kind, apiVersion: "v1", metadata: {name, namespace: .namespace, labels: {app: "a0"}}, spec: {nodeName: "node-2", containers: [{name: "c", image: "i"}]}, status: {phase: "Running", podIPs: [{ip: "10.3.0.1"}]}}]' \
            "$T/deletes.json" >"$T/readd.json"
        k8s_objects_file "$T/readd.json" || return 1
    fi
}

# Events the API server has made so far (its resourceVersion counts them).
server_rv() {
    k8s_api GET /stats | jq -r .rv
}

rv0=$(server_rv)
t0=$(now)
cpu0=$(cpu_ms)
n=0
rss_warm=''
while [ $(($(server_rv) - rv0)) -lt "$EVENTS" ]; do
    n=$((n + 1))
    must post_batch $n
    if [ -z "$rss_warm" ] && [ $(($(server_rv) - rv0)) -ge 10000 ]; then
        must wait_sync 60
        rss_warm=$(rss_kb)
        printf '# warm-up: %s events, agent RSS %s KiB\n' \
            "$(($(server_rv) - rv0))" "$rss_warm"
    fi
done
total=$(($(server_rv) - rv0))
printf '# %s events posted in %s batches in %s ms\n' "$total" "$n" "$(ms_since "$t0")"
check "final wait-sync" wait_sync 120
elapsed=$(ms_since "$t0")
cpu=$(($(cpu_ms) - cpu0))
rss_end=$(rss_kb)
seen=$(events_seen)
printf '# %s events applied in %s ms (%s events/s); agent CPU %s ms (%s us/event)\n' \
    "$seen" "$elapsed" "$((seen * 1000 / (elapsed + 1)))" "$cpu" \
    "$((cpu * 1000 / (seen + 1)))"
printf '# agent RSS: %s KiB after the initial sync, %s KiB after the warm-up, %s KiB at the end (%+d KiB)\n' \
    "$rss0" "$rss_warm" "$rss_end" "$((rss_end - rss_warm))"
printf '# source: %s relists, %s watch restarts, %s errors, %s objects changed; switch: %s bundles, %s flow mods\n' \
    "$(k8s_get .relists)" "$(k8s_get .watch_restarts)" \
    "$(k8s_get '[.errors[]] | add')" "$(k8s_get .applied)" \
    "$(switch_counter bundles)" "$(switch_counter flow_mods)"

check "every event arrived ($total made by the server)" \
    test "$seen" -ge "$total"
check "at least $EVENTS events" test "$seen" -ge "$EVENTS"
if ldd "$AGENT" 2>/dev/null | grep -q libasan; then
    # ASan keeps freed memory in quarantine (256 MiB by default): RSS says
    # nothing there; LeakSanitizer checks the agent at exit instead.
    pass "memory flat: not measured under AddressSanitizer (LeakSanitizer checks at exit)"
else
    check "memory flat: end RSS <= warm-up RSS + 4 MiB + 10 %" \
        test "$rss_end" -le $((rss_warm + 4096 + rss_warm / 10))
fi
check "no relist, no error" equals \
    "$(k8s_get '.relists + ([.errors[]] | add)')" 0
check "the switch holds exactly the agent's flows" switch_matches_agent
check "the agent's flows are a full compile of the API server's objects" \
    compile_matches_agent "$NODE"
bundles=$(switch_counter bundles)
flow_mods=$(switch_counter flow_mods)
must ctl recompute >/dev/null
check "recompute + wait-sync" wait_sync
check "recompute changes nothing: no bundle" \
    equals "$(switch_counter bundles)" "$bundles"
check "recompute changes nothing: no flow mod" \
    equals "$(switch_counter flow_mods)" "$flow_mods"

must agent_signal TERM
check "agent exited 0, no sanitizer report" no_sanitizer_reports
lib_finish
