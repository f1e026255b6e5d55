#!/bin/sh
# ovs-netpol-demo.sh: ovs-netpol enforcing NetworkPolicies on a live, private
# Open vSwitch with real "pods" (network namespaces), then cleaning up.
#
# It starts a sandbox switch (utilities/ovs-netpol-sandbox.sh) with the nine
# pods of the upstream Kubernetes e2e model (x/a ... z/c) and the pods of the
# documentation's "role=db" example, runs ovs-netpol-agent in manifests mode
# on utilities/examples/, and shows what the agent installed and what
# actually gets through, measured with real TCP connections.
#
# Run it through `utilities/ovs-netpol-setup.sh demo` (which builds first),
# as root.  Nothing is left behind: the sandbox lives in a temporary
# directory and its processes, namespaces and veths go with it.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${OVS_NETPOL_BUILD:-$top/_build}
sandbox=$top/utilities/ovs-netpol-sandbox.sh
ctl=$build/utilities/ovs-netpolctl
agent=$build/agent/ovs-netpol-agent

[ "$(id -u)" = 0 ] || { echo "ovs-netpol-demo: run as root" >&2; exit 1; }
[ -x "$agent" ] || { echo "ovs-netpol-demo: build first" >&2; exit 1; }

dir=$(mktemp -d /tmp/ovs-netpol-demo.XXXXXX)
cleanup() {
    if [ -f "$dir/agent.pid" ]; then
        kill "$(cat "$dir/agent.pid")" 2>/dev/null || true
    fi
    "$sandbox" stop "$dir/sandbox" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

section() {
    printf '\n=== %s\n\n' "$*"
}

section "A private Open vSwitch (userspace datapath) with 13 pods"
"$sandbox" start "$dir/sandbox"
eval "$("$sandbox" env "$dir/sandbox")"

# The nine pods of the upstream model, and the db example's pods, with the
# addresses their Pod objects give.
i=0
model_pods=""
for ns in x y z; do
    for pod in a b c; do
        i=$((i + 1))
        model_pods="$model_pods $ns/$pod"
        "$sandbox" add-pod "$dir/sandbox" "$ns/$pod" \
            --ip "10.244.10.$i/16" --ip "fd00:10:244::a:$i/64" \
            --serve 80 &
    done
done
"$sandbox" add-pod "$dir/sandbox" default/db --ip 10.244.1.10/16 \
    --serve 6379 &
"$sandbox" add-pod "$dir/sandbox" default/frontend-1 --ip 10.244.1.11/16 &
"$sandbox" add-pod "$dir/sandbox" default/other --ip 10.244.1.12/16 &
"$sandbox" add-pod "$dir/sandbox" myproject/client --ip 10.244.2.20/16 &
wait
"$sandbox" pods "$dir/sandbox"

# The manifests the agent watches: the cluster, then the example policies.
mkdir "$dir/manifests"
{
    echo "apiVersion: v1"
    echo "kind: List"
    echo "items:"
    for ns in x y z; do
        printf -- '- {apiVersion: v1, kind: Namespace, metadata: {name: %s, labels: {ns: %s}}}\n' "$ns" "$ns"
    done
    i=0
    for ns in x y z; do
        for pod in a b c; do
            i=$((i + 1))
            printf -- '- apiVersion: v1\n  kind: Pod\n'
            printf '  metadata: {namespace: %s, name: %s, labels: {pod: %s}}\n' "$ns" "$pod" "$pod"
            printf '  spec: {nodeName: demo-node, containers: [{name: web, ports: [{name: http, containerPort: 80}]}]}\n'
            printf '  status: {podIPs: [{ip: 10.244.10.%d}, {ip: "fd00:10:244::a:%d"}]}\n' "$i" "$i"
        done
    done
} > "$dir/manifests/cluster.yaml"
cp "$top"/utilities/examples/*.yaml "$dir/manifests/"

section "ovs-netpol-agent in manifests mode on utilities/examples/"
ls "$dir/manifests"
"$agent" -vconsole:off --manifests="$dir/manifests" --pidfile="$dir/agent.pid" \
    --log-file="$dir/agent.log" --detach
"$ctl" wait-sync --timeout=30
"$ctl" status | sed -n '1,6p;/^rules/,$p'

section "The flows it installed (ovs-ofctl dump-flows, our cookie)"
"$sandbox" ofctl "$dir/sandbox" dump-flows --no-stats \
    cookie=0x4e50000000000000/0xffff000000000000 | sed 's/^ *//' |
    sort -t, -k2,2 -s

section "What gets through: real TCP connections to port 80"
# Probe all pairs at once; each answer lands in a file of its own.
mkdir "$dir/probes"
ip_of() {
    "$sandbox" pods "$dir/sandbox" | awk -v p="$1" '$1 == p { split($3, a, "[,/]"); print a[1] }'
}
for from in $model_pods; do
    for to in $model_pods; do
        [ "$from" = "$to" ] && continue
        (
            if "$sandbox" probe "$dir/sandbox" "$from" "$(ip_of "$to")" 80 tcp \
                   --timeout 1; then r=ok; else r=--; fi
            echo "$r" > "$dir/probes/$(echo "$from-$to" | tr / _)"
        ) &
    done
done
wait
printf '%-6s' "from\\to"
for to in $model_pods; do printf '%5s' "$to"; done
echo
for from in $model_pods; do
    printf '%-6s' "$from"
    for to in $model_pods; do
        if [ "$from" = "$to" ]; then
            printf '%5s' "."
        else
            printf '%5s' "$(cat "$dir/probes/$(echo "$from-$to" | tr / _)")"
        fi
    done
    echo
done
cat <<'TXT'

  x accepts nothing (default-deny-ingress) except on x/a, which serves
  port 80 to namespaces y and z and to x/b (allow-web); z may only open
  connections to x (egress-only-to-x), so z reaches x/a and nothing else.
TXT

section "The db example: TCP 6379 to default/db"
for from in default/frontend-1 default/other myproject/client; do
    if "$sandbox" probe "$dir/sandbox" "$from" 10.244.1.10 6379 tcp \
           --timeout 1; then r=allowed; else r=denied; fi
    printf '  %-20s -> default/db:6379  %s\n' "$from" "$r"
done

section "Why z/a cannot reach y/a (ovs-netpolctl explain)"
"$ctl" explain -f "$dir/manifests" --from z/a --to y/a --port 80/TCP || true

section "Done; cleaning up"
