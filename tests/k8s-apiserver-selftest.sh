#!/bin/bash
# k8s-apiserver-selftest.sh -- check tests/k8s-apiserver.py with curl.
#
# Starts the fake API server (TLS, test PKI from k8s-test-pki.sh) in a
# temporary directory and checks, with curl as the client: paginated lists
# served from one snapshot while objects change; watches from a
# resourceVersion (order, kinds, bookmarks, selectors); 410 on compaction
# for watches and continue tokens; 401/403; every injected fault; TLS server
# and client certificate verification; token rotation; clean SIGTERM.
#
# Prints one "ok N - what" / "not ok N - what" line per check.  Exit status:
# 0 all passed, 1 some failed, 77 skipped (curl, openssl or python3 missing).
# shellcheck disable=SC2317  # cleanup and jqa are called indirectly
set -u

for tool in curl openssl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done

srcdir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/k8s-apiserver-selftest.XXXXXX")
server_pid=
bg_pids=

# Stopping the server also ends every watch (curl sees EOF).
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    for pid in $bg_pids; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

n=0
failed=0
# check WHAT COMMAND...: run COMMAND, report it as check WHAT.
check() {
    local what=$1
    shift
    n=$((n + 1))
    if "$@" >"$work/check.out" 2>&1; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        sed 's/^/#   /' "$work/check.out" | head -20
        failed=$((failed + 1))
    fi
}

# A small Python helper for looking into JSON replies and watch streams:
#   jq.py FILE EXPR      prints EXPR, evaluated with d = the JSON document
#   jq.py -a FILE EXPR   exits 0 if EXPR is true, else prints the inputs
# For a watch stream, `lines` holds the raw lines and `ev` the parsed events
# (None for a line that is not JSON); a line may start with "<unix time> "
# when the stream went through stamp.py.
cat >"$work/jq.py" <<'EOF'
import json, sys
assert_mode = sys.argv[1] == "-a"
args = sys.argv[2:] if assert_mode else sys.argv[1:]
text = open(args[0], encoding="utf-8", errors="replace").read()
try:
    d = json.loads(text)
except ValueError:
    d = None
lines, ev, ts = [], [], []
for ln in text.splitlines(keepends=True):
    t = None
    head, _, rest = ln.partition(" ")
    if head.replace(".", "").isdigit() and rest:
        t, ln = float(head), rest
    lines.append(ln)
    ts.append(t)
    try:
        ev.append(json.loads(ln))
    except ValueError:
        ev.append(None)
events = [e for e in ev if e and e.get("type") != "BOOKMARK"]
bookmarks = [e for e in ev if e and e.get("type") == "BOOKMARK"]
rv = lambda e: int(e["object"]["metadata"]["resourceVersion"])
val = eval("(" + args[1] + "\n)")
if assert_mode:
    if not val:
        print("assertion failed:", args[1])
        print(text[:3000])
        sys.exit(1)
else:
    print(val)
EOF
jq() { python3 "$work/jq.py" "$@"; }
jqa() { python3 "$work/jq.py" -a "$@"; }

# stamp.py: prefix each line of stdin with the time it arrived.
cat >"$work/stamp.py" <<'EOF'
import sys, time
while True:
    ln = sys.stdin.buffer.readline()
    if not ln:
        break
    sys.stdout.write("%.3f %s" % (time.time(), ln.decode(errors="replace")))
    sys.stdout.flush()
EOF

# --- PKI, tokens, server --------------------------------------------------------

pki=$work/pki
if ! sh "$srcdir/k8s-test-pki.sh" "$pki" >"$work/pki.log" 2>&1; then
    cat "$work/pki.log"
    echo "not ok 1 - k8s-test-pki.sh"
    exit 1
fi

cat >"$work/tokens.json" <<'EOF'
{"pods-only": {"user": "system:serviceaccount:kube-system:ovs-netpol",
               "allow": {"pods": ["list", "watch"]}}}
EOF

python3 "$srcdir/k8s-apiserver.py" --port 0 --control-port 0 \
    --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" \
    --token good-token --tokens-file "$work/tokens.json" \
    --bookmark-interval 1 --too-large-wait 0.5 \
    --pidfile "$work/server.pid" >"$work/ports.json" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    [ -s "$work/ports.json" ] && break
    sleep 0.1
done
if [ ! -s "$work/ports.json" ]; then
    cat "$work/server.log"
    echo "not ok 1 - server starts and prints its ports"
    exit 1
fi
port=$(jq "$work/ports.json" 'd["port"]')
cport=$(jq "$work/ports.json" 'd["control_port"]')
api_url="https://127.0.0.1:$port"
ctl_url="http://127.0.0.1:$cport"
token=good-token

# api PATH [curl options...]: GET from the API with the good token.
api() {
    local path=$1
    shift
    curl -sS --max-time 40 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" \
        "$@" "$api_url$path"
}
# api_to FILE PATH [curl options...]: body to FILE, prints the HTTP code.
api_to() {
    local file=$1 path=$2
    shift 2
    api "$path" -o "$file" -w '%{http_code}' "$@"
}
# ctl METHOD PATH [JSON]: call the control API.
ctl() {
    curl -sS --max-time 20 -X "$1" --data-binary "${3:-}" -H 'Content-Type: application/json' "$ctl_url$2"
}
# watch_bg NAME QUERY-PATH: start a watch into $work/NAME (times stamped);
# its curl exit status lands in $work/NAME.rc.
watch_bg() {
    local name=$1 path=$2
    (
        api "$path" -N 2>"$work/$name.err" | python3 "$work/stamp.py" >"$work/$name"
        echo "${PIPESTATUS[0]}" >"$work/$name.rc"
    ) &
    bg_pids="$bg_pids $!"
}
# wait_watch NAME SECONDS: wait for that watch to end.
wait_watch() {
    local i
    for i in $(seq $(($2 * 10))); do
        [ -s "$work/$1.rc" ] && return 0
        sleep 0.1
    done
    return 1
}
# wait_open N: wait until N watches are open on the server.
wait_open() {
    local i
    for i in $(seq 50); do
        [ "$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["open_watches_total"])')" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
now() { python3 -c 'import time; print("%.3f" % time.time())'; }
pod() { # pod NS NAME [LABELS-JSON]
    printf '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s","labels":%s},"spec":{"nodeName":"node-1"},"status":{"podIP":"10.0.0.1"}}' \
        "$2" "$1" "${3:-{\}}"
}

# --- basics ----------------------------------------------------------------------

check "/healthz and /version answer without credentials" \
    sh -c "curl -sS --cacert '$pki/ca.crt' '$api_url/healthz' | grep -qx ok &&
           curl -sS --cacert '$pki/ca.crt' '$api_url/version' | grep -q gitVersion"

# Preload: 2 namespaces, 25 pods in ns-a, 5 in ns-b, one policy.
{
    echo '{"kind":"List","items":['
    echo '{"kind":"Namespace","metadata":{"name":"ns-a"}},{"kind":"Namespace","metadata":{"name":"ns-b"}},'
    for i in $(seq -w 1 25); do pod ns-a "p$i" '{"app":"web"}'; echo ,; done
    for i in $(seq 1 5); do pod ns-b "q$i" '{"app":"db"}'; echo ,; done
    echo '{"kind":"NetworkPolicy","apiVersion":"networking.k8s.io/v1","metadata":{"name":"deny","namespace":"ns-a"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}'
    echo ']}'
} >"$work/preload.json"
ctl POST /objects "$(cat "$work/preload.json")" >"$work/preload.out"
check "control POST /objects creates a List of objects" \
    jqa "$work/preload.out" 'd["changed"] == 33 and d["resourceVersion"] == "33"'

code=$(api_to "$work/ns.json" /api/v1/namespaces)
check "namespace list: NamespaceList, RV, items without kind/apiVersion, server-set label" \
    jqa "$work/ns.json" "'$code' == '200' and d['kind'] == 'NamespaceList' and d['apiVersion'] == 'v1'
        and d['metadata']['resourceVersion'] == '33' and 'continue' not in d['metadata']
        and len(d['items']) == 2 and all('kind' not in i and 'apiVersion' not in i for i in d['items'])
        and d['items'][0]['metadata']['labels']['kubernetes.io/metadata.name'] == 'ns-a'
        and all(k in d['items'][0]['metadata'] for k in ('uid', 'resourceVersion', 'creationTimestamp'))"

api_to "$work/np.json" /apis/networking.k8s.io/v1/namespaces/ns-a/networkpolicies >/dev/null
check "namespaced networkpolicy list (networking.k8s.io/v1)" \
    jqa "$work/np.json" "d['kind'] == 'NetworkPolicyList' and d['apiVersion'] == 'networking.k8s.io/v1'
        and [i['metadata']['name'] for i in d['items']] == ['deny']"

code=$(api_to "$work/get.json" /api/v1/namespaces/ns-b/pods/q3)
code404=$(api_to "$work/404.json" /api/v1/namespaces/ns-b/pods/nope)
check "GET one object carries kind/apiVersion; a missing one is 404 NotFound" \
    jqa "$work/get.json" "'$code' == '200' and d['kind'] == 'Pod' and d['metadata']['name'] == 'q3'
        and '$code404' == '404' and '\"reason\":\"NotFound\"' in open('$work/404.json').read()"

api_to "$work/sel.json" '/api/v1/pods?labelSelector=app%3Ddb&fieldSelector=spec.nodeName%3Dnode-1' >/dev/null
check "labelSelector and fieldSelector filter a list" \
    jqa "$work/sel.json" "sorted(i['metadata']['name'] for i in d['items']) == ['q1','q2','q3','q4','q5']"

# --- pagination from one snapshot ---------------------------------------------------

api_to "$work/page1.json" '/api/v1/pods?limit=10' >/dev/null
snap=$(jq "$work/page1.json" 'd["metadata"]["resourceVersion"]')
cont=$(jq "$work/page1.json" 'd["metadata"]["continue"]')
check "page 1: 10 items, continue token, remainingItemCount 20" \
    jqa "$work/page1.json" "len(d['items']) == 10 and d['metadata']['remainingItemCount'] == 20"

# Change things the later pages would show: delete p15, modify p20, add p30a
# and a pod in ns-b (which sorts after ns-a).
ctl DELETE /objects/pods/ns-a/p15 >/dev/null
ctl POST /objects "$(pod ns-a p20 '{"app":"changed"}')" >/dev/null
ctl POST /objects "$(pod ns-a p30a)" >/dev/null
ctl POST /objects "$(pod ns-b q9)" >/dev/null
api_to "$work/page2.json" "/api/v1/pods?limit=10&continue=$cont" >/dev/null
cont2=$(jq "$work/page2.json" 'd["metadata"].get("continue", "")')
api_to "$work/page3.json" "/api/v1/pods?limit=10&continue=$cont2" >/dev/null
check "pages 2 and 3 come from page 1's snapshot despite changes in between" \
    python3 - "$work" "$snap" <<'EOF'
import json, sys
w, snap = sys.argv[1], sys.argv[2]
pages = [json.load(open("%s/page%d.json" % (w, i))) for i in (1, 2, 3)]
names = [i["metadata"]["namespace"] + "/" + i["metadata"]["name"] for p in pages for i in p["items"]]
want = ["ns-a/p%02d" % i for i in range(1, 26)] + ["ns-b/q%d" % i for i in range(1, 6)]
assert names == want, names
assert all(p["metadata"]["resourceVersion"] == snap for p in pages)
assert "continue" not in pages[2]["metadata"]
p20 = [i for p in pages for i in p["items"] if i["metadata"]["name"] == "p20"][0]
assert p20["metadata"]["labels"] == {"app": "web"}, p20
EOF
api_to "$work/latest.json" '/api/v1/pods?resourceVersion=0' >/dev/null
check "a new list (resourceVersion=0) sees the changes" \
    jqa "$work/latest.json" "int(d['metadata']['resourceVersion']) == $snap + 4 and len(d['items']) == 31"
api_to "$work/exact.json" "/api/v1/pods?resourceVersion=$snap&resourceVersionMatch=Exact" >/dev/null
check "resourceVersionMatch=Exact serves the old snapshot" \
    jqa "$work/exact.json" "d['metadata']['resourceVersion'] == '$snap' and len(d['items']) == 30"
code=$(api_to "$work/cont-rv.json" "/api/v1/pods?limit=10&continue=$cont&resourceVersion=5")
check "continue together with resourceVersion is 400 BadRequest" \
    jqa "$work/cont-rv.json" "'$code' == '400' and d['reason'] == 'BadRequest'"
code=$(api_to "$work/toolarge.json" "/api/v1/pods?resourceVersion=99999&resourceVersionMatch=NotOlderThan")
check "a resourceVersion from the future is 504 Too large resource version" \
    jqa "$work/toolarge.json" "'$code' == '504' and d['message'].startswith('Too large resource version')"

# --- watch ----------------------------------------------------------------------------

# From the snapshot: the four changes above, in order; then live ones.
watch_bg w1 "/api/v1/pods?watch=1&resourceVersion=$snap&timeoutSeconds=3"
wait_open 1
ctl POST /objects "$(pod ns-b q9 '{"app":"db","v":"2"}')" >/dev/null
ctl DELETE /objects/Pod/ns-b/q9 >/dev/null
wait_watch w1 6
check "watch from RV: DELETED, MODIFIED, ADDED, ADDED, then live MODIFIED, DELETED, in RV order" \
    jqa "$work/w1" "[(e['type'], e['object']['metadata']['name']) for e in events] ==
        [('DELETED','p15'), ('MODIFIED','p20'), ('ADDED','p30a'), ('ADDED','q9'), ('MODIFIED','q9'), ('DELETED','q9')]
        and [rv(e) for e in events] == list(range($snap + 1, $snap + 7))
        and all(e['object']['kind'] == 'Pod' and e['object']['apiVersion'] == 'v1' for e in events)
        and not bookmarks"
check "watch ends cleanly at timeoutSeconds" \
    sh -c "[ \"\$(cat '$work/w1.rc')\" = 0 ]"

watch_bg w2 "/api/v1/namespaces/ns-a/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=3"
wait_watch w2 6
check "watch without RV: synthetic ADDED for current state, then BOOKMARKs with only metadata.resourceVersion" \
    jqa "$work/w2" "len(events) == 25 and all(e['type'] == 'ADDED' for e in events)
        and len(bookmarks) >= 2 and all(b['object'] == {'kind': 'Pod', 'apiVersion': 'v1',
        'metadata': {'resourceVersion': b['object']['metadata']['resourceVersion']}} for b in bookmarks)
        and rv(bookmarks[-1]) >= max(rv(e) for e in events)"

rv_now=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
watch_bg w3 "/api/v1/pods?watch=1&resourceVersion=$rv_now&labelSelector=app%3Dweb&timeoutSeconds=2"
wait_open 1
ctl POST /objects "$(pod ns-a p01 '{"app":"other"}')" >/dev/null
ctl POST /objects "$(pod ns-a p01 '{"app":"web"}')" >/dev/null
ctl POST /objects "$(pod ns-b q1 '{"app":"db","x":"y"}')" >/dev/null
wait_watch w3 5
check "selector watch: leaving the selection is DELETED, entering is ADDED, others unseen" \
    jqa "$work/w3" "[(e['type'], e['object']['metadata']['name']) for e in events] == [('DELETED','p01'), ('ADDED','p01')]"

api_to "$work/noop.json" /api/v1/namespaces/ns-a/pods/p02 >/dev/null
ctl POST /objects "$(pod ns-a p02 '{"app":"web"}')" >"$work/noop.out"
check "re-posting an identical object is a no-op (no new resourceVersion)" \
    jqa "$work/noop.out" "d['changed'] == 0 and d['objects'][0]['resourceVersion'] == '$(jq "$work/noop.json" 'd["metadata"]["resourceVersion"]')'"

# --- compaction -----------------------------------------------------------------------

old_rv=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
api_to "$work/c1.json" '/api/v1/pods?limit=5' >/dev/null
ccont=$(jq "$work/c1.json" 'd["metadata"]["continue"]')
ctl POST /objects "$(pod ns-a p40)" >/dev/null
ctl POST /faults '{"compact": true}' >/dev/null
compacted=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["compacted_rv"])')
watch_bg w4 "/api/v1/pods?watch=1&resourceVersion=$old_rv&timeoutSeconds=5"
wait_watch w4 3
check "watch from a compacted RV: 200, then ERROR 410 Expired 'too old resource version' and the end" \
    jqa "$work/w4" "len(ev) == 1 and ev[0]['type'] == 'ERROR' and ev[0]['object']['kind'] == 'Status'
        and ev[0]['object']['code'] == 410 and ev[0]['object']['reason'] == 'Expired'
        and ev[0]['object']['message'] == 'too old resource version: $old_rv ($compacted)'
        and open('$work/w4.rc').read().strip() == '0'"
code=$(api_to "$work/c2.json" "/api/v1/pods?limit=5&continue=$ccont")
check "expired continue token: HTTP 410 Status Expired, with an inconsistent-continue token" \
    jqa "$work/c2.json" "'$code' == '410' and d['kind'] == 'Status' and d['reason'] == 'Expired'
        and d['code'] == 410 and d['metadata']['continue']"
inc=$(jq "$work/c2.json" 'd["metadata"]["continue"]')
code=$(api_to "$work/c3.json" "/api/v1/pods?limit=5&continue=$inc")
check "the inconsistent-continue token goes on from the latest state" \
    jqa "$work/c3.json" "'$code' == '200' and d['metadata']['resourceVersion'] == '$compacted'
        and d['items'][0]['metadata']['name'] == 'p06'"
code=$(api_to "$work/c4.json" "/api/v1/pods?resourceVersion=$old_rv&resourceVersionMatch=Exact")
check "an Exact list older than the compaction point is 410" \
    jqa "$work/c4.json" "'$code' == '410' and d['reason'] == 'Expired'"

# --- authentication and authorization --------------------------------------------------

code=$(curl -sS --cacert "$pki/ca.crt" -o "$work/a1.json" -w '%{http_code}' "$api_url/api/v1/pods")
check "no token: 401 Status Unauthorized" \
    jqa "$work/a1.json" "'$code' == '401' and d == {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
        'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401}"
code=$(token=wrong api_to "$work/a2.json" /api/v1/pods)
check "wrong token: 401" jqa "$work/a2.json" "'$code' == '401' and d['reason'] == 'Unauthorized'"
code=$(token=pods-only api_to "$work/a3.json" /api/v1/namespaces)
check "token without permission: 403 with the RBAC message (cluster scope)" \
    jqa "$work/a3.json" "'$code' == '403' and d['reason'] == 'Forbidden' and d['details'] == {'kind': 'namespaces'}
        and d['message'] == 'namespaces is forbidden: User \"system:serviceaccount:kube-system:ovs-netpol\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope'"
code=$(token=pods-only api_to "$work/a4.json" '/apis/networking.k8s.io/v1/namespaces/ns-a/networkpolicies?watch=1')
check "403 for a watch in a namespace names the group and namespace" \
    jqa "$work/a4.json" "'$code' == '403' and d['message'] == 'networkpolicies.networking.k8s.io is forbidden: User \"system:serviceaccount:kube-system:ovs-netpol\" cannot watch resource \"networkpolicies\" in API group \"networking.k8s.io\" in the namespace \"ns-a\"'"
code=$(token=pods-only api_to "$work/a5.json" /api/v1/pods)
check "the limited token may list pods" sh -c "[ $code = 200 ]"

ctl POST /tokens '{"tokens": {"rotated": {}}}' >/dev/null
code1=$(token=rotated api_to /dev/null /api/v1/pods)
ctl POST /tokens '{"tokens": {"rotated": null}}' >/dev/null
code2=$(token=rotated api_to /dev/null /api/v1/pods)
check "POST /tokens adds a token at run time, and removes it (then 401)" \
    sh -c "[ $code1 = 200 ] && [ $code2 = 401 ]"

# --- TLS ----------------------------------------------------------------------------------

check "TLS: the right CA verifies the server (127.0.0.1 and localhost)" \
    sh -c "curl -sS --cacert '$pki/ca.crt' https://127.0.0.1:$port/healthz &&
           curl -sS --cacert '$pki/ca.crt' https://localhost:$port/healthz"
curl -sS --cacert "$pki/wrong-ca.crt" "$api_url/healthz" >/dev/null 2>&1
rc=$?
check "TLS: the wrong CA does not (curl exit 60)" sh -c "[ $rc = 60 ]"
code=$(curl -sS --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
    -o /dev/null -w '%{http_code}' "$api_url/api/v1/namespaces")
ctl GET /requests >"$work/reqs.json"
check "a client certificate signed by the CA authenticates (user = its CN)" \
    jqa "$work/reqs.json" "'$code' == '200' and d['requests'][-1]['user'] == 'ovs-netpol-test-client'"
code=$(curl -sS --cacert "$pki/ca.crt" --cert "$pki/wrong-client.crt" --key "$pki/wrong-client.key" \
    -o /dev/null -w '%{http_code}' "$api_url/api/v1/namespaces" 2>/dev/null)
check "a client certificate from another CA is refused in the handshake" sh -c "[ '$code' = 000 ]"

# --- injected HTTP statuses ----------------------------------------------------------------

ctl POST /faults '{"http_status": 503, "count": 2}' >/dev/null
c1=$(api_to "$work/f1.json" /api/v1/namespaces -D "$work/f1.hdr")
c2=$(api_to /dev/null /api/v1/pods)
c3=$(api_to /dev/null /api/v1/pods)
check "fault http_status 503 x2: two 503 ServiceUnavailable with Retry-After, then 200" \
    jqa "$work/f1.json" "('$c1', '$c2', '$c3') == ('503', '503', '200') and d['reason'] == 'ServiceUnavailable'
        and 'retry-after: 1' in open('$work/f1.hdr').read().lower()"
ctl POST /faults '{"http_status": 500, "paths": "/api/v1/pods"}' >/dev/null
c1=$(api_to /dev/null /api/v1/namespaces)
c2=$(api_to "$work/f2.json" /api/v1/pods)
check "fault http_status 500 limited to a path prefix" \
    jqa "$work/f2.json" "('$c1', '$c2') == ('200', '500') and d['reason'] == 'InternalError'"
for st in 410:Expired 401:Unauthorized 403:Forbidden 429:TooManyRequests; do
    ctl POST /faults "{\"http_status\": ${st%%:*}, \"verb\": \"list\"}" >/dev/null
    c=$(api_to "$work/f3.json" /api/v1/pods)
    check "fault http_status ${st%%:*}: Status reason ${st#*:}" \
        jqa "$work/f3.json" "'$c' == '${st%%:*}' and d['kind'] == 'Status' and d['reason'] == '${st#*:}' and d['code'] == ${st%%:*}"
done

# --- watch faults ----------------------------------------------------------------------------

rv_now=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
watch_bg d1 "/api/v1/pods?watch=1&resourceVersion=$rv_now&timeoutSeconds=5"
wait_open 1
ctl POST /faults '{"drop_stream_mid_event": true}' >/dev/null
ctl POST /objects "$(pod ns-a p50)" >/dev/null
wait_watch d1 6
check "fault drop_stream_mid_event: half an event, then the connection is cut (curl fails)" \
    jqa "$work/d1" "len(ev) == 1 and ev[0] is None and lines[0].startswith('{\"type\":\"ADDED\"')
        and not lines[0].endswith('\n') and open('$work/d1.rc').read().strip() not in ('', '0')"

watch_bg g1 "/api/v1/pods?watch=1&resourceVersion=$rv_now&timeoutSeconds=20"
watch_bg g2 "/api/v1/namespaces?watch=1&resourceVersion=$rv_now&timeoutSeconds=3"
wait_open 2
ctl POST /faults '{"watch_gone": true, "resource": "pods"}' >/dev/null
wait_watch g1 3
wait_watch g2 5
check "fault watch_gone: the pod watch gets ERROR 410 Expired and ends; the namespace watch does not" \
    jqa "$work/g1" "ev[-1]['type'] == 'ERROR' and ev[-1]['object']['code'] == 410
        and ev[-1]['object']['reason'] == 'Expired' and rv(events[0]) == $rv_now + 1
        and ev[-1]['object']['message'].startswith('too old resource version: ')
        and all(e['type'] != 'ERROR' for e in [x for x in open('$work/g2')])"
ctl POST /faults '{"watch_gone": true, "count": 1}' >/dev/null
watch_bg g3 "/api/v1/pods?watch=1&resourceVersion=$rv_now&timeoutSeconds=20"
wait_watch g3 3
check "fault watch_gone with no watch open hits the next watch at once" \
    jqa "$work/g3" "len(ev) == 1 and ev[0]['type'] == 'ERROR' and ev[0]['object']['code'] == 410"

watch_bg k1 "/api/v1/pods?watch=1&timeoutSeconds=20"
wait_open 1
ctl POST /faults '{"close_watches": true}' >/dev/null
wait_watch k1 3
check "fault close_watches: streams end cleanly and early" \
    jqa "$work/k1" "all(e and e['type'] == 'ADDED' for e in ev) and open('$work/k1.rc').read().strip() == '0'"

rv_now=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
watch_bg m1 "/api/v1/pods?watch=1&resourceVersion=$rv_now&timeoutSeconds=2"
wait_open 1
ctl POST /faults '{"malformed_event": true}' >/dev/null
ctl POST /objects "$(pod ns-a p51)" >/dev/null
ctl POST /faults '{"malformed_event": "missing_object"}' >/dev/null
ctl POST /objects "$(pod ns-a p52)" >/dev/null
wait_watch m1 4
check "fault malformed_event: a non-JSON line and an event without object, the stream goes on" \
    jqa "$work/m1" "ev[0] is None and ev[1]['object']['metadata']['name'] == 'p51'
        and ev[2] == {'type': 'MODIFIED'} and ev[3]['object']['metadata']['name'] == 'p52'
        and open('$work/m1.rc').read().strip() == '0'"

rv_now=$(ctl GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
watch_bg s1 "/api/v1/pods?watch=1&resourceVersion=$rv_now&allowWatchBookmarks=true&timeoutSeconds=6"
wait_open 1
sleep 1.5
t0=$(now)
ctl POST /faults '{"stall": 2.5}' >/dev/null
t1=$(now)
ctl POST /objects "$(pod ns-a p53)" >/dev/null
wait_watch s1 8
check "fault stall: nothing (no event, no bookmark) for 2.5 s, then the event and bookmarks" \
    jqa "$work/s1" "any(e and e['type'] == 'BOOKMARK' and t < $t0 for e, t in zip(ev, ts))
        and not [t for t in ts if $t1 + 0.05 < t < $t0 + 2.3]
        and [t for e, t in zip(ev, ts) if e and e['type'] == 'ADDED'][0] > $t0 + 2.3
        and any(e and e['type'] == 'BOOKMARK' and t > $t0 + 2.5 for e, t in zip(ev, ts))"

# --- stats, shutdown ---------------------------------------------------------------------------

ctl GET /stats >"$work/stats.json"
check "GET /stats counts lists, watches, continue pages and requests" \
    jqa "$work/stats.json" "d['list_calls'] > 10 and d['watch_calls'] >= 10 and d['continue_pages'] >= 3
        and d['requests']['GET /api/v1/pods'] > 5 and d['open_watches_total'] == 0"

watch_bg t1 "/api/v1/pods?watch=1&timeoutSeconds=30"
wait_open 1
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
wait_watch t1 3
check "SIGTERM: clean exit 0, pidfile removed, open watch ended" \
    sh -c "[ $rc = 0 ] && [ ! -e '$work/server.pid' ] && [ -s '$work/t1.rc' ]"

if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed; server log:"
    sed 's/^/#   /' "$work/server.log" | tail -20
    exit 1
fi
echo "# all $n checks passed"
exit 0
