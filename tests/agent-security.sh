#!/bin/bash
# tests/agent-security.sh: what ovs-netpol-agent exposes, and to whom.
#
#   (a) The control socket is mode 0600 and owned by root; an unprivileged
#       user (nobody, through setpriv), who can reach the socket's
#       directory and run ovs-netpolctl, can neither read the agent's
#       status nor wait-sync nor flush our flows.  The log file is not
#       world-readable.  A --control path that is a symlink planted by
#       someone else is refused, and its target left alone.
#   (b) --metrics (if the agent has it) listens on 127.0.0.1 when given
#       only a port (`ss -ltnp`: the agent's only TCP listener), on every
#       address only when told (0.0.0.0:PORT); malformed values are refused.
#   (c) Secrets (if the agent has --kubeconfig): against the fake API
#       server (tests/k8s-apiserver.py) with the token SECRET-TOKEN-12345,
#       in a kubeconfig and in a token file, accepted, rejected (401), and
#       over TLS that fails, with every log module at debug level
#       (-vANY:dbg): the token appears in no log file, not on the agent's
#       stdout or stderr, not in `ovs-netpolctl status` (text or JSON), not
#       in /metrics, not on its command line.
#   (d) Unknown and insecure options are refused with a message naming the
#       problem, before anything starts: unknown options, stray arguments,
#       out-of-range values, two policy sources, credential plugins,
#       user names and passwords, a CA with insecure-skip-tls-verify, and
#       credentials over plain http://.  insecure-skip-tls-verify alone is
#       accepted with a warning in the log and `status`.
#
# Parts (b) and (c) print "# SKIP ..." when the agent lacks the option; the
# whole test exits 77 only if nothing ran.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-security
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
lib_init

SECRET='SECRET-TOKEN-12345'
M=$T/m
A=10.9.0.1 B=10.9.0.2
help=$("$AGENT" --help)
has_option() {
    grep -q -- "$1" <<<"$help"
}

# What the agent prints on stdout or stderr when it refuses to start.
# refused WHAT EXPECT ARGS...: it exits non-zero within 10 s (never
# "timeout"), says EXPECT, and never quotes $SECRET.
refused() {
    local what=$1 expect=$2 rc=0
    shift 2
    # Nowhere to connect to, should it start after all.
    timeout 10 "$AGENT" --control="$T/refused.ctl" --pidfile="$T/refused.pid" \
        --ovsdb="unix:$T/none.sock" --openflow="unix:$T/none.mgmt" \
        "$@" </dev/null >"$T/refused.out" 2>&1 || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] \
       && grep -qF -- "$expect" "$T/refused.out" \
       && ! grep -qF -- "$SECRET" "$T/refused.out"; then
        pass "$what: refused: \"$(grep -v '|vlog|' "$T/refused.out" | head -n 1)\""
    else
        fail "$what: refused (exit $rc; want a message with \"$expect\")"
        grep -v -e 'connection attempt failed' -e 'connection failed' \
            "$T/refused.out" | sed 's/^/#   /' | head -n 10
    fi
    rm -f "$T/refused.pid" "$T/refused.ctl"
}

# --- (a) the control socket ----------------------------------------------

# $T (mode 0700) is opened to traversal and $T/pub made public, so that only
# the socket's own mode stands between nobody and the agent.
chmod 711 "$T"
mkdir -m 755 "$T/pub"
cp "$CTL" "$T/pub/ovs-netpolctl"
chmod 755 "$T/pub/ovs-netpolctl"
as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --serve 80
mkdir -p "$M"
{
    yaml_namespace x
    yaml_pod x a $A "app: a"
    yaml_pod x b $B "app: b"
} | write_file "$M/cluster.yaml"
write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-isolated, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
EOF
CTL_CONTROL=$T/pub/ovs-netpol.ctl
agent_start agent --manifests="$M" --control="$CTL_CONTROL"
must wait_sync

check "control socket: mode 0600, owner root:root" \
    equals "$(stat -c '%a %U:%G %F' "$CTL_CONTROL")" "600 root:root socket"
check "control socket: root's ovs-netpolctl status works" quietly ctl status
check "nobody can run ovs-netpolctl (--help)" \
    quietly as_nobody "$T/pub/ovs-netpolctl" --help
denied_to_nobody() { # COMMAND...
    if as_nobody "$T/pub/ovs-netpolctl" "$@" >"$T/nobody.out" 2>&1; then
        printf '#   nobody: ovs-netpolctl %s succeeded:\n' "$*"
        sed 's/^/#     /' "$T/nobody.out" | head -n 5
        return 1
    fi
    # Refused for the right reason: the socket, not the program or a
    # directory.
    grep -q 'Permission denied' "$T/nobody.out" \
        || { sed 's/^/#   /' "$T/nobody.out"; return 1; }
    printf '#   %s\n' "$(head -n 1 "$T/nobody.out")"
}
check "nobody: ovs-netpolctl status is refused" \
    denied_to_nobody status --control="$CTL_CONTROL"
check "nobody: ovs-netpolctl wait-sync is refused" \
    denied_to_nobody wait-sync --timeout=2 --control="$CTL_CONTROL"
check "nobody: ovs-netpolctl rules is refused" \
    denied_to_nobody rules --control="$CTL_CONTROL"
n_flows=$(n_switch_flows)
if as_nobody "$T/pub/ovs-netpolctl" flush >"$T/nobody.out" 2>&1; then
    fail "nobody: ovs-netpolctl flush is refused"
    sed 's/^/#   /' "$T/nobody.out" | head -n 5
else
    pass "nobody: ovs-netpolctl flush is refused: \"$(head -n 1 "$T/nobody.out")\""
fi
check "nobody: our $n_flows flows are all still there" \
    equals "$(n_switch_flows)" "$n_flows"
check "the log file is not world-readable ($(stat -c %a "$T/agent.log"))" \
    test "$(( $(stat -c '%#a' "$T/agent.log") & 07 ))" = 0

# A second agent given the same control socket (another pidfile): it must
# not take the socket from the running one.
ino=$(stat -c %i "$CTL_CONTROL")
refused "a second agent on the running agent's control socket" "ovs-netpol.ctl" \
    --manifests="$M" --control="$CTL_CONTROL"
check "... the running agent keeps its socket (inode $ino: $(stat -c %i "$CTL_CONTROL" 2>&1))" \
    equals "$(stat -c %i "$CTL_CONTROL" 2>&1)" "$ino"
check "... and answers on it" quietly ctl status

# Someone who can write the socket's directory plants a symlink where the
# socket goes: the agent must neither follow it nor delete what it names,
# a file or another program's socket.
echo precious >"$T/precious"
ln -s "$T/precious" "$T/pub/planted.ctl"
refused "a symlink to a file planted at --control" "is not a socket" \
    --manifests="$M" --control="$T/pub/planted.ctl"
check "... the symlink and the file are untouched" \
    test -L "$T/pub/planted.ctl" -a "$(cat "$T/precious")" = precious
# Another program's socket (the switch's database: ovsdb-server's).
db_ino=$(stat -c %i "$SB/run/db.sock")
ln -s "$SB/run/db.sock" "$T/pub/planted-db.ctl"
refused "a symlink to ovsdb-server's socket planted at --control" "is not a socket" \
    --manifests="$M" --control="$T/pub/planted-db.ctl"
check "... ovsdb-server keeps its socket (inode $db_ino: $(stat -c %i "$SB/run/db.sock" 2>&1))" \
    equals "$(stat -c %i "$SB/run/db.sock" 2>&1)" "$db_ino"
if [ "$(stat -c %i "$SB/run/db.sock" 2>&1)" != "$db_ino" ]; then
    # Put the database back where the switch and the agent expect it.
    must "$sb" restart-ovsdb "$SB"
fi
must agent_signal TERM
CTL_CONTROL=

# --- (b) --metrics ---------------------------------------------------------

# The TCP sockets PID listens on: "ADDRESS:PORT" lines.
listeners() { # PID
    ss -Hltnp | awk -v pid="pid=$1," 'index($0, pid) { print $4 }'
}
metrics_port() { # PID
    listeners "$1" | head -n 1 | sed 's/.*://'
}
listening() { # PID
    [ -n "$(listeners "$1")" ]
}

if ! has_option --metrics; then
    printf '# SKIP (b): the agent has no --metrics option yet\n'
    metrics=0
else
    metrics=1
    for spec in 0 :0; do
        agent_start metrics --manifests="$M" --metrics="$spec"
        must wait_until 5 listening "$agent_pid"
        check "--metrics=$spec listens on 127.0.0.1 only: $(listeners "$agent_pid" | tr '\n' ' ')" \
            equals "$(listeners "$agent_pid" | sed 's/:[0-9]*$//' | sort -u)" 127.0.0.1
        port=$(metrics_port "$agent_pid")
        check "--metrics=$spec: /metrics answers on 127.0.0.1:$port" \
            quietly curl -sf --max-time 5 "http://127.0.0.1:$port/metrics"
        must agent_signal TERM
    done
    agent_start metrics-all --manifests="$M" --metrics=0.0.0.0:0
    must wait_until 5 listening "$agent_pid"
    check "--metrics=0.0.0.0:0 listens on every address, as told: $(listeners "$agent_pid")" \
        equals "$(listeners "$agent_pid" | sed 's/:[0-9]*$//' | sort -u)" 0.0.0.0
    must agent_signal TERM
    refused "--metrics=bogus" "--metrics" --manifests="$M" --metrics=bogus
    refused "--metrics=127.0.0.1:70000" "--metrics" --manifests="$M" \
        --metrics=127.0.0.1:70000
    refused "--metrics=::1:9" "--metrics" --manifests="$M" --metrics=::1:9
fi

# --- (d) options -------------------------------------------------------------

refused "an unknown option" "--bogus" --manifests="$M" --bogus
refused "a stray argument" "stray" --manifests="$M" stray
refused "--ct-zone=70000" "ct-zone" --manifests="$M" --ct-zone=70000
refused "--first-table=251" "first-table" --manifests="$M" --first-table=251
refused "--registers=8,8" "registers" --manifests="$M" --registers=8,8
refused "no policy source" "no policy source"

# --- (c) secrets in Kubernetes mode ---------------------------------------------

k8s_tools=1
for p in python3 openssl curl jq; do
    command -v "$p" >/dev/null 2>&1 || k8s_tools=0
done
if ! has_option --kubeconfig; then
    printf '# SKIP (c): the agent has no --kubeconfig option yet\n'
    k8s=0
elif [ "$k8s_tools" = 0 ]; then
    printf '# SKIP (c): python3, openssl, curl or jq missing\n'
    k8s=0
else
    k8s=1
    K8S_TOKEN=$SECRET
    k8s_setup
    apiserver_start api
    k8s_objects "[$(ns_json x),$(pod_json x a $A '{"app":"a"}')]"
    CTL_CONTROL=$T/k8s.ctl
    metrics_opt=()
    [ "$metrics" = 0 ] || metrics_opt=(--metrics=0)

    # secret_free NAME: no trace of $SECRET anywhere the agent NAME
    # writes or shows.
    secret_free() {
        local where=() f found=0
        for f in "$T/$1.log" "$T/$1.out"; do
            [ -f "$f" ] && where+=("$f")
        done
        ctl status >"$T/$1.status" 2>&1 || true
        ctl status --format=json >"$T/$1.status.json" 2>&1 || true
        where+=("$T/$1.status" "$T/$1.status.json")
        if [ "$metrics" = 1 ] && listening "$agent_pid"; then
            curl -s --max-time 5 "http://127.0.0.1:$(metrics_port "$agent_pid")/metrics" \
                >"$T/$1.metrics" || true
            where+=("$T/$1.metrics")
        fi
        tr '\0' ' ' <"/proc/$agent_pid/cmdline" >"$T/$1.cmdline"
        where+=("$T/$1.cmdline")
        for f in "${where[@]}"; do
            if grep -qF -- "$SECRET" "$f"; then
                printf '#   %s: %s\n' "${f##*/}" "$(grep -F -- "$SECRET" "$f" | head -n 1)"
                found=1
            fi
        done
        printf '#   searched: %s\n' "$(printf '%s ' "${where[@]##*/}")"
        [ "$found" = 0 ]
    }
    # The log really is at debug level and the source really ran.
    debug_logged() { # NAME
        grep -q '|k8s_[a-z]*|DBG|' "$T/$1.log"
    }

    # The token in the kubeconfig, accepted.
    kubeconfig "$T/kc-token" ca="$T/pki/ca.crt" token="$SECRET"
    k8s_agent_start token --kubeconfig="$T/kc-token" "${metrics_opt[@]}" \
        -vANY:dbg
    check "token in kubeconfig: synced" wait_until 10 k8s_is .synced true
    check "token in kubeconfig: the server saw the token's user" \
        test "$(requests '[.[] | select(.code == 200)] | length')" -gt 0
    check "token in kubeconfig: debug messages logged" debug_logged token
    check "token in kubeconfig: the token is nowhere" secret_free token
    must agent_signal TERM

    # The token in a file, rejected (401) then accepted.
    echo "SECRET-WRONG-67890" >"$T/token"
    kubeconfig "$T/kc-file" ca="$T/pki/ca.crt" token_file="$T/token"
    k8s_agent_start tokenfile --kubeconfig="$T/kc-file" "${metrics_opt[@]}" \
        -vANY:dbg
    check "wrong token in a file: 401 logged" \
        wait_until 10 agent_log_has tokenfile "401"
    echo "$SECRET" >"$T/token.new"
    mv "$T/token.new" "$T/token"
    check "token file fixed: synced" wait_until 40 k8s_is .synced true
    no_wrong_token() {
        ! grep -rqF SECRET-WRONG-67890 "$T"/tokenfile.*
    }
    check "token file: the token is nowhere" secret_free tokenfile
    check "token file: the wrong token is nowhere either" no_wrong_token
    must agent_signal TERM

    # TLS that fails (a CA that did not sign the server): the request, and
    # its Authorization header, must not be logged either.
    kubeconfig "$T/kc-wrongca" ca="$T/pki/wrong-ca.crt" token="$SECRET"
    k8s_agent_start wrongca --kubeconfig="$T/kc-wrongca" -vANY:dbg
    check "wrong CA: the TLS failure is logged" \
        wait_until 10 agent_log_has wrongca "certificate"
    check "wrong CA: the token is nowhere" secret_free wrongca
    must agent_signal TERM

    # insecure-skip-tls-verify alone: accepted, loudly.
    kubeconfig "$T/kc-insecure" insecure=true token="$SECRET"
    k8s_agent_start insecure --kubeconfig="$T/kc-insecure"
    check "insecure-skip-tls-verify: synced" wait_until 10 k8s_is .synced true
    check "insecure-skip-tls-verify: a warning in the log" \
        grep -q '|WARN|.*TLS certificate verification is OFF' "$T/insecure.log"
    check "insecure-skip-tls-verify: status says so" \
        k8s_is .tls_verified false
    must agent_signal TERM

    # Refused configurations.
    kubeconfig "$T/kc-exec" ca="$T/pki/ca.crt" token="$SECRET"
    printf '    exec: {command: get-token}\n' >>"$T/kc-exec"
    refused "kubeconfig with a credential plugin (exec)" '"exec" is not supported' \
        --kubeconfig="$T/kc-exec"
    kubeconfig "$T/kc-password" ca="$T/pki/ca.crt" token=PLACEHOLDER
    sed -i "s/^    token: PLACEHOLDER\$/    username: admin\n    password: $SECRET/" \
        "$T/kc-password"
    must grep -q "password: $SECRET" "$T/kc-password"
    refused "kubeconfig with a user name and password" "is not supported" \
        --kubeconfig="$T/kc-password"
    kubeconfig "$T/kc-both" ca="$T/pki/ca.crt" insecure=true token="$SECRET"
    refused "kubeconfig with a CA and insecure-skip-tls-verify" \
        "cannot be combined" --kubeconfig="$T/kc-both"
    refused "--manifests and --kubeconfig together" "exclusive" \
        --manifests="$M" --kubeconfig="$T/kc-token"

    # A bearer token over plain HTTP: anyone on the path reads it.  A
    # listener records what it is sent, to show what would leak.
    "$python" -I -S -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[1], "a") as f:
            f.write("%s Authorization: %s\n" % (self.path,
                                               self.headers.get("Authorization")))
        self.send_response(401)
        self.end_headers()
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write("%d\n" % s.server_address[1])
s.serve_forever()
' "$T/plain.requests" "$T/plain.port" &
    bg_pids+=($!)
    must wait_until 5 test -s "$T/plain.port"
    kubeconfig "$T/kc-plain" server="http://127.0.0.1:$(cat "$T/plain.port")" \
        token="$SECRET"
    refused "kubeconfig with a token for an http:// server" "http" \
        --kubeconfig="$T/kc-plain"
    if [ -s "$T/plain.requests" ]; then
        printf '#   the plain-HTTP listener received: %s\n' \
            "$(head -n 1 "$T/plain.requests")"
    fi
    check "no token went over plain HTTP" test ! -s "$T/plain.requests"
fi

if [ "$k8s" = 0 ] && [ "$metrics" = 0 ]; then
    printf '# (b) and (c) skipped; (a) and (d) ran\n'
fi
lib_finish
