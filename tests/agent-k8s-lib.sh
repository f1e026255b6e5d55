# shellcheck shell=bash disable=SC2034,SC2154
# tests/agent-k8s-lib.sh: helpers of the Kubernetes-mode tests
# (tests/agent-k8s*.sh), on top of tests/lib-agent.sh.  Sourced, not run.
#
# A test sets 'test_name', sources this file, then calls k8s_init (no root
# needed: a private $T, no sandbox) or lib_init (root, for a sandbox) and
# then k8s_setup, which checks the tools (exit 77 without python3, openssl,
# curl or jq) and makes a test PKI in $T/pki (tests/k8s-test-pki.sh).
#
#   apiserver_start NAME [ARGS...]
#                    starts tests/k8s-apiserver.py (TLS with $T/pki, token
#                    $K8S_TOKEN with full access, bookmarks every second)
#                    and sets K8S_URL, K8S_PORT, K8S_CONTROL (its control
#                    URL) and K8S_PID; stopped at exit like every process
#                    we start
#   k8s_api METHOD PATH [JSON]
#                    calls the control API; fails on an HTTP error
#   k8s_objects JSON / k8s_fault JSON
#                    POST /objects, POST /faults
#   kubeconfig FILE KEY=VALUE...
#                    writes a kubeconfig: server=, ca=FILE, ca_data=FILE
#                    (base64 of the file), insecure=true, cert= key=
#                    cert_data=FILE key_data=FILE, token=, token_file=
#   k8s_agent_start NAME [OPTIONS...]
#                    agent_start for a test without a sandbox: private
#                    control socket, OVSDB and OpenFlow targets that do not
#                    exist (the source works without them)
#   k8s_get FILTER   jq FILTER over the agent's .sources.k8s status
#   requests FILTER  jq FILTER over the API server's request log
#                    (an array of {method, path, user, code, time}); it
#                    logs a request when it ends, so open watches are not
#                    there yet
#   api_mark / api_started
#                    API paths requested since the mark, from the server's
#                    verbose log, which names a request when it starts
#
# Objects: ns_json NAME [LABELS], pod_json NS NAME IP LABELS [NODE],
# policy_json NS NAME SPEC print JSON objects (LABELS and SPEC are JSON).

# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"

K8S_TOKEN=ovs-netpol-test-token
k8s_srcdir=$top/tests

# No root: a private directory and no sandbox.
k8s_init() {
    find_programs
    T=$(mktemp -d "${TMPDIR:-/tmp}/onp-$test_name.XXXXXX")
    trap lib_cleanup EXIT
    trap 'exit 1' INT TERM HUP
    CTL_CONTROL=$T/agent.ctl
}

k8s_setup() {
    local p
    for p in python3 openssl curl jq; do
        command -v "$p" >/dev/null 2>&1 || skip "$p not installed"
    done
    must quietly sh "$k8s_srcdir/k8s-test-pki.sh" "$T/pki"
}

# --- the fake API server ---------------------------------------------------

apiserver_start() {
    local name=$1 i
    shift
    rm -f "$T/$name.ports"
    background "$python" "$k8s_srcdir/k8s-apiserver.py" \
        --cert "$T/pki/server.crt" --key "$T/pki/server.key" \
        --ca "$T/pki/ca.crt" --token "$K8S_TOKEN" --bookmark-interval 1 \
        --pidfile "$T/$name.pid" -v "$@" >"$T/$name.ports" 2>"$T/$name.err"
    K8S_PID=$!
    # Up to 20 s: a loaded machine (make -j2 check) starts python slowly.
    for i in $(seq 400); do
        [ -s "$T/$name.ports" ] && break
        sleep 0.05
    done
    if [ ! -s "$T/$name.ports" ]; then
        fail "setup: API server $name did not start"
        cat "$T/$name.err"
        exit 1
    fi
    K8S_URL=$(jq -r .url "$T/$name.ports")
    K8S_PORT=$(jq -r .port "$T/$name.ports")
    K8S_CONTROL=$(jq -r .control_url "$T/$name.ports")
    k8s_server=$name
    api_mark=0
}

# Makes the server started as NAME (still running) the current one again.
apiserver_use() {
    K8S_URL=$(jq -r .url "$T/$1.ports")
    K8S_PORT=$(jq -r .port "$T/$1.ports")
    K8S_CONTROL=$(jq -r .control_url "$T/$1.ports")
    k8s_server=$1
    api_mark
}

k8s_api() { # METHOD PATH [JSON]
    curl -sSf --max-time 120 -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} "$K8S_CONTROL$2"
}

k8s_objects() {
    k8s_api POST /objects "$1" >/dev/null
}

# Objects from a file (large batches).
k8s_objects_file() {
    curl -sSf --max-time 300 -H 'Content-Type: application/json' \
        --data-binary @"$1" "$K8S_CONTROL/objects" >/dev/null
}

k8s_fault() {
    k8s_api POST /faults "$1" >/dev/null
}

# requests FILTER: jq over the request log.
requests() {
    k8s_api GET /requests | jq -r ".requests | $1"
}

api_mark=0
api_mark() {
    api_mark=$(wc -l <"$T/$k8s_server.err")
}

api_started() {
    tail -n +$((api_mark + 1)) "$T/$k8s_server.err" \
        | sed -n 's|^[^"]*"GET \(/api[^ ]*\) HTTP.*|\1|p'
}

ns_json() { # NAME [LABELS]
    printf '{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"%s","labels":%s}}' \
        "$1" "${2:-{\}}"
}

pod_json() { # NS NAME IP LABELS [NODE]
    printf '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s","labels":%s},' \
        "$2" "$1" "$4"
    printf '"spec":{"nodeName":"%s","containers":[{"name":"c","image":"i"}]},' \
        "${5:-node-1}"
    printf '"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}' \
        "$3" "$3"
}

policy_json() { # NS NAME SPEC
    printf '{"kind":"NetworkPolicy","apiVersion":"networking.k8s.io/v1","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
        "$2" "$1" "$3"
}

# --- kubeconfig ------------------------------------------------------------

kubeconfig() { # FILE KEY=VALUE...
    local file=$1 kv key value server='' cluster='' user=''
    shift
    for kv in "$@"; do
        key=${kv%%=*}
        value=${kv#*=}
        case $key in
            server) server=$value ;;
            ca) cluster="$cluster    certificate-authority: $value
" ;;
            ca_data) cluster="$cluster    certificate-authority-data: $(base64 -w0 "$value")
" ;;
            insecure) cluster="$cluster    insecure-skip-tls-verify: $value
" ;;
            cert) user="$user    client-certificate: $value
" ;;
            key) user="$user    client-key: $value
" ;;
            cert_data) user="$user    client-certificate-data: $(base64 -w0 "$value")
" ;;
            key_data) user="$user    client-key-data: $(base64 -w0 "$value")
" ;;
            token) user="$user    token: $value
" ;;
            token_file) user="$user    tokenFile: $value
" ;;
            *) hard_error "kubeconfig: unknown key $key" ;;
        esac
    done
    {
        printf 'apiVersion: v1\nkind: Config\ncurrent-context: test\n'
        printf 'contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n'
        printf -- '- name: test\n  context: {cluster: test-cluster, user: test-user}\n'
        printf 'clusters:\n- name: nowhere\n  cluster: {server: "https://192.0.2.1:1"}\n'
        printf -- '- name: test-cluster\n  cluster:\n    server: %s\n%s' \
            "${server:-$K8S_URL}" "$cluster"
        printf 'users:\n- name: nobody\n  user: {}\n'
        printf -- '- name: test-user\n  user:\n%s' "${user:-    {\}
}"
    } >"$file"
}

# --- the agent -------------------------------------------------------------

k8s_agent_start() { # NAME [OPTIONS...]
    local name=$1
    shift
    agent_start "$name" --control="$CTL_CONTROL" \
        --ovsdb="unix:$T/no-ovsdb.sock" --openflow="unix:$T/no-switch.mgmt" \
        "$@"
}

# k8s_get FILTER: from the agent's Kubernetes source status.
k8s_get() {
    ctl status --format=json | jq -r ".sources.k8s | $1"
}

# k8s_is FILTER VALUE: for wait_until.
k8s_is() {
    [ "$(k8s_get "$1" 2>/dev/null)" = "$2" ]
}

# k8s_ge FILTER N: for wait_until.
k8s_ge() {
    local v
    v=$(k8s_get "$1" 2>/dev/null) || return 1
    [ -n "$v" ] && [ "$v" != null ] && [ "$v" -ge "$2" ]
}

# counts_are NS PODS POLICIES: the agent's cluster holds that many objects.
counts_are() {
    [ "$(ctl status --format=json 2>/dev/null \
         | jq -r '.counts | "\(.namespaces) \(.pods) \(.policies)"')" = "$1 $2 $3" ]
}

# The agent's log (without the timestamps' noise).
agent_log_has() { # NAME PATTERN
    grep -q -- "$2" "$T/$1.log"
}

# True if no agent output (stderr) holds an AddressSanitizer, LeakSanitizer
# or UBSan report (in a --enable-sanitizers build).  Stop the agents first.
no_sanitizer_reports() {
    local f bad=0
    for f in "$T"/*.out; do
        [ -f "$f" ] || continue
        if grep -q -e 'Sanitizer' -e 'runtime error:' "$f"; then
            printf '#   %s:\n' "${f#"$T"/}"
            grep -A 12 -e 'Sanitizer' -e 'runtime error:' "$f" | head -n 40 \
                | sed 's/^/#     /'
            bad=1
        fi
    done
    [ "$bad" = 0 ]
}

# --- flows against a full recompute -----------------------------------------

# compile_matches_agent NODE: dumps the API server's objects, compiles them
# offline (`ovs-netpolctl compile`) for node NODE with the sandbox's pod
# ports (OpenFlow port and MAC of each), and compares with the flows the
# agent wants.  Together with switch_matches_agent: the switch holds exactly
# what a fresh full compile of the API server's state gives.
compile_matches_agent() {
    local k pod ofport ips mac args=()
    mkdir -p "$T/dump"
    for k in namespaces pods networkpolicies; do
        k8s_api GET "/objects/$k" >"$T/dump/$k.json" || return 1
    done
    while read -r pod ofport ips mac; do
        args+=("--ofport=$pod=$ofport" "--mac=$pod=$mac")
    done < <("$sb" pods "$SB")
    "$CTL" compile -f "$T/dump" --node="$1" "${args[@]}" 2>"$T/compile.err" \
        | LC_ALL=C sort >"$T/compiled.flows" || return 1
    agent_flows >"$T/agent.flows"
    printf '#   %s flows compiled offline, %s wanted by the agent\n' \
        "$(wc -l <"$T/compiled.flows")" "$(wc -l <"$T/agent.flows")"
    same_file "$T/compiled.flows" "$T/agent.flows"
}

# The switch's counters.
switch_counter() { # bundles|flow_mods|...
    status_get ".switch.$1"
}
