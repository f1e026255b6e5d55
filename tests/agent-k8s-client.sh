#!/bin/bash
# tests/agent-k8s-client.sh: the Kubernetes source of ovs-netpol-agent
# against the fake API server (tests/k8s-apiserver.py), without a switch and
# without root.  What the agent applies is read from `ovs-netpolctl status`
# (object counts, the source's counters), what it asked from the server's
# request log.  tests/agent-k8s.sh checks flows and packets.
#
#   (a) Configuration: bad kubeconfigs and option combinations are refused
#       at start with a clear message that never quotes the token.
#   (b) The initial list spans several pages (1,200 pods, limit=500: two
#       continue pages), then watches from the list's resourceVersion with
#       bookmarks.
#   (c) Watch events add, change and delete objects.
#   (d) A watch stream cut in the middle of an event: the agent resumes from
#       the last resourceVersion, without a relist and without losing an
#       event.
#   (e) 410 (watch_gone) relists every resource, and applies nothing when
#       nothing changed; a 410 after changes the watch never delivered
#       (history compacted) applies exactly those changes.
#   (f) Malformed events of every kind are logged and skipped; the stream
#       goes on.
#   (g) 503s back off exponentially (with jitter), then recover.
#   (h) A stalled stream is detected and the watch restarted; no event is
#       lost.
#   (i) 401, then 403 naming the missing permission, then recovery once the
#       token file holds a good token; the token never reaches the log,
#       even at debug level.
#   (j) TLS: a wrong CA and a certificate for another host are refused, no
#       object applied, with a clear log line.
#   (k) Client certificates from kubeconfig data (no token); and
#       insecure-skip-tls-verify, logged as a warning.
#   (l) In-cluster configuration, and service account token rotation.
#   (m) An event longer than the line limit (16 MiB) relists instead of
#       buffering without bound.
#
# Exit status: 0 pass, 1 fail, 77 skip (python3, openssl, curl or jq
# missing), 99 programs not built.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-k8s-client
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
k8s_init
k8s_setup

apiserver_start api
echo "$K8S_TOKEN" >"$T/token"
kubeconfig "$T/kc" ca="$T/pki/ca.crt" token_file="$T/token"

# --- (a) configuration ---------------------------------------------------

# refused WHAT EXPECT ARGS...: the agent exits non-zero, says EXPECT, and
# never prints the secret token.
refused() {
    local what=$1 expect=$2 rc=0
    shift 2
    timeout 10 "$AGENT" --control="$T/bad.ctl" -vconsole:off "$@" \
        </dev/null >"$T/bad.out" 2>&1 || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$expect" "$T/bad.out" \
       && ! grep -q "s3cr3t" "$T/bad.out"; then
        pass "$what: \"$(head -n 1 "$T/bad.out")\""
    else
        fail "$what: exit $rc:"
        sed 's/^/#   /' "$T/bad.out"
    fi
}

refused "no policy source" "no policy source" --pidfile="$T/bad.pid"
refused "--manifests with --kubeconfig" "exclusive" \
    --manifests="$T" --kubeconfig="$T/kc"
refused "missing kubeconfig" "No such file" --kubeconfig="$T/none"
printf 'current-context: [oops\n  token: s3cr3t\n' >"$T/kc-bad"
refused "kubeconfig not YAML" "kc-bad" --kubeconfig="$T/kc-bad"
kubeconfig "$T/kc-exec" token=s3cr3t
sed -i 's/^    token: s3cr3t$/    token: s3cr3t\n    exec: {command: get-token}/' "$T/kc-exec"
refused "exec credential plugin" '"exec" is not supported' --kubeconfig="$T/kc-exec"
kubeconfig "$T/kc-both" ca="$T/pki/ca.crt" insecure=true token=s3cr3t
refused "CA with insecure-skip-tls-verify" "cannot be combined" \
    --kubeconfig="$T/kc-both"
kubeconfig "$T/kc-b64" token=s3cr3t
sed -i 's/^    server: .*/&\n    certificate-authority-data: "not*base64"/' "$T/kc-b64"
refused "bad certificate-authority-data" "not valid base64" \
    --kubeconfig="$T/kc-b64"
sed "s/^current-context: test/current-context: nope/" "$T/kc" >"$T/kc-ctx"
refused "unknown current-context" 'context "nope" not found' \
    --kubeconfig="$T/kc-ctx"
help_mentions_k8s() {
    "$AGENT" --help | grep -q -- --kubeconfig \
        && "$AGENT" --help | grep -q -- --node-name \
        && "$AGENT" --help | grep -q -- --k8s-stall-timeout
}
check "--help lists --kubeconfig, --node-name, --k8s-stall-timeout" \
    help_mentions_k8s

# --- (b) a paginated initial list ------------------------------------------

# 1,200 pods in namespace x (three pages of 500), 3 namespaces, 1 policy.
"$python" - "$T/cluster.json" <<'EOF'
import json, sys
items = [{"kind": "Namespace", "metadata": {"name": n, "labels": {"team": n}}}
         for n in ("x", "y", "z")]
for i in range(1200):
    items.append({"kind": "Pod", "metadata": {
        "name": "p%d" % i, "namespace": "x",
        "labels": {"app": "a%d" % (i % 3)}},
        "spec": {"nodeName": "node-%d" % (i % 10),
                 "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running",
                   "podIPs": [{"ip": "10.1.%d.%d" % (i // 250, i % 250 + 1)}]}})
items.append({"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
              "metadata": {"name": "np", "namespace": "x"},
              "spec": {"podSelector": {"matchLabels": {"app": "a0"}},
                       "ingress": [{"from": [{"podSelector": {}}]}]}})
json.dump(items, open(sys.argv[1], "w"))
EOF
must k8s_objects_file "$T/cluster.json"

t0=$(now)
k8s_agent_start agent --kubeconfig="$T/kc" --node-name=node-1 \
    -vk8s_source:file:dbg -vk8s_client:file:dbg
check "initial sync: 3 namespaces, 1200 pods, 1 policy" \
    wait_until 10 counts_are 3 1200 1
check "source reports synced" k8s_is .synced true
printf '# initial list and sync in %s ms\n' "$(ms_since "$t0")"

pod_pages() {
    local first cont
    first=$(requests '[.[] | select(.path | startswith("/api/v1/pods?limit=500")) | select(.path | contains("continue=") | not)] | length')
    cont=$(requests '[.[] | select(.path | startswith("/api/v1/pods?limit=500&continue="))] | length')
    printf '#   pod list requests: %s first pages, %s continue pages\n' "$first" "$cont"
    [ "$first" = 1 ] && [ "$cont" = 2 ]
}
check "pods listed in 3 pages of 500 (2 continue pages)" pod_pages
check "the source counted 3 pod pages" k8s_is .resources.pods.pages 3
watch_from_list_rv() {
    local rv
    rv=$(k8s_get .resources.pods.resource_version)
    api_started | grep -q \
        "^/api/v1/pods?watch=1&allowWatchBookmarks=true.*&resourceVersion=$rv\$"
}
check "pods watched from the list's resourceVersion, with bookmarks" \
    watch_from_list_rv
check "bookmarks arrive" wait_until 5 k8s_ge .events.bookmarks 3
check "node name in status" equals "$(status_get .node_name)" node-1

# --- (c) watch events --------------------------------------------------------

must k8s_objects "[$(pod_json x new1 10.9.0.1 '{"app":"a1"}'),$(ns_json w)]"
check "ADDED: pod and namespace" wait_until 5 counts_are 4 1201 1
must k8s_objects "$(pod_json x new1 10.9.0.2 '{"app":"a2"}')"
check "MODIFIED counted" wait_until 5 k8s_ge .events.modified 1
must k8s_api DELETE /objects/Pod/x/new1 >/dev/null
must k8s_api DELETE /objects/Namespace/w >/dev/null
check "DELETED: pod and namespace" wait_until 5 counts_are 3 1200 1
applied_is() { # N
    local a
    a=$(k8s_get .applied)
    [ "$a" = "$1" ] || { printf '#   applied %s, want %s\n' "$a" "$1"; return 1; }
}
check "each event applied once (1204 + 5 changes)" applied_is 1209

# --- (d) a stream cut in the middle of an event ------------------------------

lists_before=$(k8s_get .lists)
api_mark
must k8s_fault '{"drop_stream_mid_event": true, "resource": "pods"}'
batch='['
for i in 1 2 3 4 5; do
    batch="$batch$(pod_json x cut$i 10.8.0.$i '{"app":"a1"}'),"
done
batch="${batch%,}]"
must k8s_objects "$batch"
check "after the cut: every pod of the batch arrives" \
    wait_until 10 counts_are 3 1205 1
check "the cut counted as a transport error" k8s_ge .resources.pods.errors.transport 1
check "no relist after the cut" equals "$(k8s_get .lists)" "$lists_before"
resumed_with_rv() {
    api_started >"$T/started"
    sed 's/^/#   started: /' "$T/started"
    grep -q '^/api/v1/pods?watch=1&.*&resourceVersion=[0-9]*$' "$T/started" \
        && ! grep -q '^/api/v1/pods?limit' "$T/started"
}
check "resumed by a watch from a resourceVersion, no list request" resumed_with_rv
check "nothing applied twice (5 new pods)" applied_is 1214

# --- (e) 410 Gone: relist with the difference only --------------------------

relists_before=$(k8s_get .relists)
must k8s_fault '{"watch_gone": true}'
check "410: every resource relists" \
    wait_until 10 k8s_ge .relists $((relists_before + 3))
check "410 counted" k8s_ge .errors.gone 3
check "streaming again after the relist" \
    wait_until 5 k8s_is '[.resources[].streaming] | all' true
check "relist with nothing new applies nothing" applied_is 1214

# A plain HTTP 410 on a watch request relists too.
ns_relists=$(k8s_get .resources.namespaces.relists)
must k8s_fault '{"http_status": 410, "count": 1, "verb": "watch", "paths": "/api/v1/namespaces"}'
must k8s_fault '{"close_watches": true, "resource": "namespaces", "count": 0}'
check "HTTP 410 on a watch: namespaces relist" \
    wait_until 10 k8s_ge .resources.namespaces.relists $((ns_relists + 1))
check "HTTP 410 on a watch: nothing applied" applied_is 1214

# Changes the watch never sees: a stall holds the pods stream while we
# change things, then the history is compacted under it (410).
must k8s_fault '{"stall": 3, "resource": "pods"}'
sleep 0.3
must k8s_objects "$(pod_json x p1 10.7.0.1 '{"app":"changed"}')"
must k8s_api DELETE /objects/Pod/x/p2 >/dev/null
must k8s_objects "$(pod_json x p1 10.7.0.1 '{"app":"changed"}')"
must k8s_api POST /compact '{}' >/dev/null
check "compacted: pods relist" wait_until 10 k8s_ge .resources.pods.relists 2
check "the relist applies exactly the 2 changes" wait_until 5 applied_is 1216
check "counts after the relist" counts_are 3 1204 1

# --- (f) malformed events -------------------------------------------------

malformed_before=$(k8s_get .errors.malformed)
for mode in garbage missing_object missing_type unknown_type \
            object_not_object missing_metadata; do
    must k8s_fault "{\"malformed_event\": \"$mode\", \"resource\": \"pods\"}"
done
must k8s_objects "$(pod_json x after-bad 10.6.0.1 '{"app":"a1"}')"
check "6 malformed events counted" \
    wait_until 10 k8s_ge .errors.malformed $((malformed_before + 6))
check "the event after them is applied" wait_until 5 counts_are 3 1205 1
check "malformed events logged" agent_log_has agent "malformed event skipped"
check "no relist for malformed events" \
    equals "$(k8s_get .resources.pods.relists)" 2

# --- (g) 5xx: exponential backoff with jitter ---------------------------------

must k8s_api DELETE /requests >/dev/null
must k8s_fault '{"http_status": 500, "count": 5, "verb": "watch", "paths": "/api/v1/namespaces"}'
must k8s_fault '{"close_watches": true, "resource": "namespaces", "count": 0}'
check "500s counted" wait_until 15 k8s_ge .resources.namespaces.errors.server 5
check "recovers after the 500s" \
    wait_until 15 k8s_is .resources.namespaces.streaming true
# gaps CODE: the gaps (ms) between the failed namespace watches.
gaps() {
    requests "[.[] | select(.path | startswith(\"/api/v1/namespaces?watch=1\")) | select(.code == $1) | .time]" \
        | jq -r '[range(1; length) as $i | (.[$i] - .[$i - 1])] | map(. * 1000 | floor) | join(" ")'
}
backoff_doubles() {
    local g1 g2 g3 g4
    read -r g1 g2 g3 g4 <<<"$(gaps 500)"
    printf '#   gaps between failed watches (ms): %s %s %s %s\n' "$g1" "$g2" "$g3" "$g4"
    # Each in [b/2, b], b doubling from 250 ms, plus up to 1 s of
    # latency (a loaded machine; the lower bounds show the doubling).
    [ -n "$g4" ] && [ "$g1" -ge 120 ] && [ "$g1" -le 1250 ] \
        && [ "$g2" -ge 245 ] && [ "$g2" -le 1500 ] \
        && [ "$g3" -ge 495 ] && [ "$g3" -le 2000 ] \
        && [ "$g4" -ge 995 ] && [ "$g4" -le 3000 ]
}
check "backoff doubles from 250 ms, with jitter" backoff_doubles
must k8s_api DELETE /requests >/dev/null
must k8s_fault '{"http_status": 503, "count": 2, "verb": "watch", "paths": "/api/v1/namespaces", "retry_after": 2}'
must k8s_fault '{"close_watches": true, "resource": "namespaces", "count": 0}'
check "503 with Retry-After: recovers" wait_until 15 k8s_ge .resources.namespaces.errors.server 7
retry_after_honoured() {
    local g
    g=$(gaps 503)
    printf '#   gap between the 503s (ms): %s\n' "$g"
    [ -n "$g" ] && [ "$g" -ge 1990 ]
}
check "Retry-After honoured" wait_until 5 retry_after_honoured
check "streaming again" wait_until 15 k8s_is .resources.namespaces.streaming true

# --- (h) a stalled stream ------------------------------------------------------

agent_signal TERM
k8s_agent_start agent2 --kubeconfig="$T/kc" --k8s-stall-timeout=2
check "restarted agent synced" wait_until 10 k8s_is .synced true
must k8s_fault '{"stall": 5, "resource": "pods"}'
must k8s_objects "$(pod_json x during-stall 10.6.0.2 '{"app":"a1"}')"
check "stall detected" wait_until 8 k8s_ge .resources.pods.errors.stall 1
check "the event sent during the stall arrives" \
    wait_until 10 counts_are 3 1206 1
check "no relist for a stall" equals "$(k8s_get .relists)" 0
agent_signal TERM

# --- (i) 401, 403, then recovery ------------------------------------------------

echo "wrong-s3cr3t" >"$T/token"
k8s_api POST /tokens '{"tokens": {"pods-only-s3cr3t": {"allow": {"pods": ["get", "list", "watch"]}}}}' >/dev/null
k8s_agent_start agent3 --kubeconfig="$T/kc" -vk8s_source:file:dbg \
    -vk8s_client:file:dbg
check "401 counted" wait_until 10 k8s_ge .errors.unauthorized 1
check "401 logged clearly" agent_log_has agent3 \
    "cannot list namespaces: 401 Unauthorized: Unauthorized; the API server does not accept the agent's credentials (token file $T/token)"
check "not synced without credentials" k8s_is .synced false
echo "pods-only-s3cr3t" >"$T/token.new"
mv "$T/token.new" "$T/token"
check "403 counted" wait_until 30 k8s_ge .errors.forbidden 2
check "403 names the missing permission" agent_log_has agent3 \
    "cannot list networkpolicies.networking.k8s.io: 403 Forbidden: networkpolicies.networking.k8s.io is forbidden: User \"system:serviceaccount:kube-system:ovs-netpol\" cannot list resource \"networkpolicies\" in API group \"networking.k8s.io\" at the cluster scope; the agent's service account needs get/list/watch on networkpolicies.networking.k8s.io"
check "pods listed meanwhile" wait_until 5 k8s_is .resources.pods.listed true
echo "$K8S_TOKEN" >"$T/token.new"
mv "$T/token.new" "$T/token"
check "recovers once the token file is fixed" wait_until 40 k8s_is .synced true
check "all objects after recovery" wait_until 5 counts_are 3 1206 1
check "token file read 3 times" k8s_ge .token_reads 3
no_secret_logged() {
    ! grep -rq -e s3cr3t -e "$K8S_TOKEN" "$T"/agent*.log "$T"/agent*.out
}
check "no token in any agent log (debug level)" no_secret_logged
agent_signal TERM

# --- (j) TLS refused ---------------------------------------------------------

kubeconfig "$T/kc-wrongca" ca="$T/pki/wrong-ca.crt" token="$K8S_TOKEN"
k8s_agent_start agent4 --kubeconfig="$T/kc-wrongca"
check "wrong CA: TLS errors" wait_until 10 k8s_ge .errors.tls 3
check "wrong CA: nothing applied" counts_are 0 0 0
check "wrong CA: logged with the CA used" agent_log_has agent4 \
    "cannot list .*: SSL certificate problem.*(server $K8S_URL, CA $T/pki/wrong-ca.crt)"
agent_signal TERM

apiserver_start badhost --cert "$T/pki/badhost-server.crt" \
    --key "$T/pki/badhost-server.key"
kubeconfig "$T/kc-badhost" server="$K8S_URL" ca="$T/pki/ca.crt" \
    token="$K8S_TOKEN"
k8s_agent_start agent5 --kubeconfig="$T/kc-badhost"
check "certificate for another host: TLS errors" \
    wait_until 10 k8s_ge .errors.tls 3
check "certificate for another host: nothing applied" counts_are 0 0 0
agent_signal TERM
stop_pid "$K8S_PID"
apiserver_use api

# --- (k) client certificates from data; insecure-skip-tls-verify --------------

kubeconfig "$T/kc-certs" ca_data="$T/pki/ca.crt" \
    cert_data="$T/pki/client.crt" key_data="$T/pki/client.key"
must k8s_api DELETE /requests >/dev/null
k8s_agent_start agent6 --kubeconfig="$T/kc-certs"
check "client certificate from data: synced" wait_until 10 k8s_is .synced true
check "authenticated as the certificate's CN" equals \
    "$(requests '[.[] | select(.path | contains("watch=") | not) | .user] | unique | join(",")')" \
    ovs-netpol-test-client
check "auth described without secrets" equals "$(k8s_get .auth)" \
    "client certificate"
agent_signal TERM

kubeconfig "$T/kc-insecure" insecure=true token="$K8S_TOKEN"
k8s_agent_start agent7 --kubeconfig="$T/kc-insecure"
check "insecure-skip-tls-verify: synced" wait_until 10 k8s_is .synced true
check "insecure-skip-tls-verify: warned" agent_log_has agent7 \
    "TLS certificate verification is OFF"
check "insecure-skip-tls-verify: in status" k8s_is .tls_verified false
agent_signal TERM

# --- (l) in-cluster, and token rotation -----------------------------------------

mkdir -p "$T/sa/..2026_01" && cp "$T/pki/ca.crt" "$T/sa/..2026_01/ca.crt"
echo "$K8S_TOKEN" >"$T/sa/..2026_01/token"
ln -s ..2026_01 "$T/sa/..data"
ln -s ..data/ca.crt "$T/sa/ca.crt"
ln -s ..data/token "$T/sa/token"
export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$K8S_PORT \
    OVS_NETPOL_SERVICE_ACCOUNT_DIR=$T/sa NODE_NAME=node-in-cluster
k8s_agent_start agent8
check "in-cluster: synced" wait_until 10 k8s_is .synced true
check "in-cluster: NODE_NAME taken" k8s_is .node_name node-in-cluster
check "in-cluster: auth from the token file" k8s_is .auth \
    "token file $T/sa/token"
# Rotation as the kubelet does it: a new directory, then ..data swapped.
must k8s_api POST /tokens '{"tokens": {"rotated-token": {"user": "rotated"}}}' >/dev/null
mkdir "$T/sa/..2026_02" && cp "$T/pki/ca.crt" "$T/sa/..2026_02/ca.crt"
echo rotated-token >"$T/sa/..2026_02/token"
ln -s ..2026_02 "$T/sa/..data.tmp" && mv -T "$T/sa/..data.tmp" "$T/sa/..data"
must k8s_api POST /tokens "{\"tokens\": {\"$K8S_TOKEN\": null}}" >/dev/null
must k8s_api DELETE /requests >/dev/null
must k8s_fault '{"close_watches": true, "count": 0}'
must k8s_objects "$(pod_json x after-rotation 10.6.0.3 '{"app":"a1"}')"
check "rotated token: the new pod arrives" wait_until 10 counts_are 3 1207 1
check "rotated token: no request refused" equals \
    "$(requests '[.[] | select(.code == 401)] | length')" 0
check "rotated token: logged" agent_log_has agent8 "token file .* changed"
must k8s_api POST /tokens "{\"tokens\": {\"$K8S_TOKEN\": {}}}" >/dev/null
agent_signal TERM
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT \
    OVS_NETPOL_SERVICE_ACCOUNT_DIR NODE_NAME

# --- (m) an event over the line limit ------------------------------------------

k8s_agent_start agent9 --kubeconfig="$T/kc"
check "synced again" wait_until 10 k8s_is .synced true
"$python" - "$T/big.json" <<'EOF'
import json, sys
pod = {"kind": "Pod", "metadata": {"name": "big", "namespace": "x",
       "labels": {"app": "a1"}, "annotations": {"junk": "x" * (17 << 20)}},
       "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]},
       "status": {"phase": "Running", "podIPs": [{"ip": "10.6.0.9"}]}}
json.dump(pod, open(sys.argv[1], "w"))
EOF
must k8s_objects_file "$T/big.json"
check "17 MiB event: counted as oversized" \
    wait_until 20 k8s_ge .resources.pods.errors.oversized 1
check "17 MiB event: relisted instead" \
    wait_until 20 k8s_ge .resources.pods.relists 1
check "17 MiB event: the pod is there after the relist" \
    wait_until 20 counts_are 3 1208 1
agent_signal TERM
check "agents exited 0, no sanitizer report" no_sanitizer_reports

lib_finish
