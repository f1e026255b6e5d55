#!/bin/bash
# tests/agent-debug.sh: ovs-netpolctl annotate, trace and verify against a
# live agent and its bridge.
#
# Pods x/a, x/b, x/c (dual-stack) and an uplink port x/gw (no pod identity,
# address 10.3.0.254: a remote peer), remote pod x/r on another node.
# Policies: default deny ingress in x; b accepts a on its named port http
# (80/TCP), 80/UDP and 80/SCTP, and 10.3.0.240/28 on 81/TCP; c accepts
# everything (a rule of one dimension: a direct allow flow); a may only
# send to b (egress).
#
# Checks:
#   annotate   on a live dump (--live), every flow with our cookie gets an
#              annotation with a role, every conjunction(ID,...) action
#              and conj_id=ID match names a policy of namespace x, and a
#              planted foreign flow is printed untouched and unannotated;
#              the same for `ovs-ofctl -O OpenFlow13 --names dump-flows`
#              and `-O OpenFlow15 dump-flows` on stdin, whose lines come
#              out unchanged and whose annotations equal the live ones;
#              and with names compiled offline from the manifests.
#   trace      agrees with real packets (probes between the pods' network
#              namespaces): allowed and denied TCP, UDP, IPv6, from the
#              uplink, egress isolation; SCTP through trace only.  Its exit
#              status says the verdict (0 allowed, 1 denied; 3 would be a
#              disagreement; an error, e.g. an unknown pod, is 2) and it
#              names the deciding flow.
#   verify     zero disagreements in three policy states; after an allow
#              flow is deleted by hand (ovs-ofctl del-flows --strict) it
#              reports the planted disagreement (exit 1, names the pair)
#              until `ovs-netpolctl resync` puts the flow back.
#   repair     with --flow-check=1 the agent puts a flow deleted by hand
#              back by itself.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-debug
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.3.0.1 B=10.3.0.2 C=10.3.0.3 GW=10.3.0.254
A6=fd03::1 B6=fd03::2 C6=fd03::3
M=$T/m

write_cluster() {
    write_file "$M/cluster.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {nodeName: node-1, containers: [{name: c, image: i}]}
status: {phase: Running, podIPs: [{ip: $A}, {ip: "$A6"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec: {nodeName: node-1, containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
status: {phase: Running, podIPs: [{ip: $B}, {ip: "$B6"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: x, labels: {app: c}}
spec: {nodeName: node-1, containers: [{name: c, image: i}]}
status: {phase: Running, podIPs: [{ip: $C}, {ip: "$C6"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: r, namespace: x, labels: {app: a}}
spec: {nodeName: node-2, containers: [{name: c, image: i}]}
status: {phase: Running, podIPs: [{ip: 10.3.1.9}]}
EOF
}

write_policy() { # v1|v2|v3
    local b_extra='' a_extra='' b_policy
    if [ "$1" = v2 ]; then
        b_extra='
  - from: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: TCP, port: 81}]'
        a_extra='
  - to: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: TCP, port: 80}]'
    fi
    b_policy="---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: http}, {protocol: UDP, port: 80}, {protocol: SCTP, port: 80}]
  - from: [{ipBlock: {cidr: 10.3.0.240/28}}]
    ports: [{protocol: TCP, port: 81}]$b_extra"
    if [ "$1" = v3 ]; then
        b_policy=''
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
metadata: {name: c-open, namespace: x}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress:
  - {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]$a_extra
$b_policy
EOF
}

# --- annotate ------------------------------------------------------------

# check_annotated FILE: every flow with our cookie is followed by an
# annotation that starts with a role, every conjunction and conj_id of it
# names a rule of namespace x; no other line is followed by one.  Prints
# "#   ..." diagnostics and the number of flows of ours on success.
write_check_py() {
    cat >"$T/check.py" <<'EOF'
import re, sys

ROLES = ("pipeline", "conntrack", "spoof guard", "classify",
         "isolation drop", "clause", "allow rule", "stats")
lines = open(sys.argv[1]).read().split("\n")
errors, ours, foreign, i = [], 0, 0, 0
while i < len(lines):
    line = lines[i]
    i += 1
    notes = []
    while i < len(lines) and lines[i].startswith("    # "):
        notes.append(lines[i][6:])
        i += 1
    if "actions=" not in line:
        if notes:
            errors.append("annotation after a non-flow line: " + line)
        continue
    if not re.search(r"cookie=0x4e50[0-9a-f]{12}\b", line):
        foreign += 1
        if notes:
            errors.append("foreign flow annotated: " + line)
        continue
    ours += 1
    if not notes:
        errors.append("no annotation: " + line)
        continue
    role = notes[0].split(":")[0].split(" [")[0]
    if role not in ROLES:
        errors.append("no role in '%s' for %s" % (notes[0], line))
    text = "\n".join(notes)
    if "not a rule the agent knows" in text \
            or "not a port the agent knows" in text:
        errors.append("unknown name: %s\n%s" % (line, text))
    for cid, k, n in re.findall(r"conjunction\((\d+),(\d+)/(\d+)\)",
                                line.split(" actions=", 1)[1]):
        want = "  conjunction(%s,%s/%s): x/" % (cid, k, n)
        if want not in text:
            errors.append("%s not named: %s\n%s" % (want, line, text))
    m = re.search(r"conj_id=(\d+)", line)
    if m and not re.search(r"x/\S+ (ingress|egress) rule \d+.*\(conj 0x%x\)"
                           % int(m.group(1)), text):
        errors.append("conj_id %s not named: %s\n%s"
                      % (m.group(1), line, text))
for e in errors[:10]:
    print("#   " + e.replace("\n", "\n#   "))
print("#   %d flows of ours annotated, %d foreign flows untouched, "
      "%d errors" % (ours, foreign, len(errors)))
sys.exit(1 if errors or not ours or not foreign else 0)
EOF
}

check_annotated() { # FILE
    "$python" "$T/check.py" "$1"
}

# The annotation lines alone, sorted (flow lines differ in their counters
# from one dump to the next).
annotations() { # FILE
    grep '^    # ' "$1" | LC_ALL=C sort
}

# The input lines come out unchanged: the output without its annotations
# is the input.
unchanged() { # IN OUT
    grep -v '^    # ' "$2" >"$T/stripped"
    same_file "$1" "$T/stripped"
}

same_annotations() { # A B
    annotations "$1" >"$T/ann.a"
    annotations "$2" >"$T/ann.b"
    same_file "$T/ann.a" "$T/ann.b"
}

# --- trace against real packets ----------------------------------------

# agree pass|fail FROM ADDR PORT PROTO TO [TRACE OPTIONS...]: a real probe
# from pod FROM to ADDR (skipped for SCTP) gets what EXPECT says, and
# `trace --from FROM --to TO` agrees (exit 0 for pass, 1 for fail).
agree() {
    local expect=$1 from=$2 addr=$3 port=$4 proto=$5 to=$6 got rc=0
    shift 6
    local desc="$from -> $to $port/$proto ${*:-} $expect"
    if [ "$proto" != sctp ]; then
        if [ "$expect" = pass ]; then t=3; else t=0.5; fi
        if probe "$from" "$addr" "$port" "$proto" "$t"; then
            got=pass
        else
            got=fail
        fi
        check "packets: $desc" equals "$got" "$expect"
    fi
    local trace_from=$from
    [ "$from" != x/gw ] || trace_from=$GW
    ctl trace --from "$trace_from" --to "$to" --port "$port/$proto" "$@" \
        >"$T/trace.out" 2>&1 || rc=$?
    if [ "$expect" = pass ]; then want=0; else want=1; fi
    if check "trace agrees: $desc (exit $rc)" equals "$rc" "$want"; then
        :
    else
        sed 's/^/#   /' "$T/trace.out"
    fi
}

trace_says() { # PATTERN: the last trace's output matches PATTERN
    grep -q -- "$1" "$T/trace.out" || { sed 's/^/#   /' "$T/trace.out"; return 1; }
}

# --- verify --------------------------------------------------------------

verify_clean() { # MIN-CHECKS
    local rc=0 t0
    t0=$(now)
    ctl verify >"$T/verify.out" 2>&1 || rc=$?
    printf '#   %s (%s ms)\n' "$(tail -n 1 "$T/verify.out")" "$(ms_since "$t0")"
    if [ "$rc" != 0 ] || ! grep -q '^[0-9][0-9]* checks, 0 disagreements$' "$T/verify.out"; then
        sed 's/^/#   /' "$T/verify.out" | head -n 60
        return 1
    fi
    local n
    n=$(sed -n 's/^\([0-9]*\) checks, .*/\1/p' "$T/verify.out")
    [ "$n" -ge "$1" ] || { printf '#   only %s checks\n' "$n"; return 1; }
}

# --- set-up --------------------------------------------------------------

write_check_py
sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --ip $A6/64 --ofport 11 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/24 --ip $B6/64 --ofport 12 --serve 80,81
must "$sb" add-pod "$SB" x/c --ip $C/24 --ip $C6/64 --ofport 13 --serve 80,81
must "$sb" add-pod "$SB" x/gw --style none --ip $GW/24 --ofport 20
mkdir -p "$M"
write_cluster
write_policy v1
# --flow-check=0: the agent must not repair the planted disagreement below
# before verify sees it (the last part checks that it does repair it).
agent_start agent --manifests="$M" --flow-check=0
check "wait-sync" wait_sync 20

# A flow of someone else's, which annotate must leave alone.
FOREIGN='table=0,cookie=0x1234,priority=1,dl_type=0x88cc,actions=drop'
must "$sb" ofctl "$SB" add-flow "$FOREIGN"

# --- annotate ------------------------------------------------------------

check "annotate --live exits 0" quietly ctl annotate --live
ctl annotate --live >"$T/live.ann" 2>&1 || true
check "annotate --live: every flow of ours named, the foreign one untouched" \
    check_annotated "$T/live.ann"
check "annotate --live: the foreign flow is printed as it is" \
    grep -q 'cookie=0x1234, .*priority=1,dl_type=0x88cc actions=drop' \
    "$T/live.ann"
check "annotate --live: an isolation drop names its pod and direction" \
    grep -q '^    # isolation drop \[ingress\]: x/b (port 12) is isolated for ingress' \
    "$T/live.ann"
check "annotate --live: a named-port variant is named" \
    grep -q '^    #   conjunction([0-9]*,[0-9]/[0-9]): x/b-ingress ingress rule 0 \[TCP:80\]' \
    "$T/live.ann"
check "annotate --live: the direct allow of c-open is an allow rule" \
    grep -q '^    # allow rule \[ingress\]: x/c-open ingress rule 0 .*one dimension' \
    "$T/live.ann"

"$sb" ofctl "$SB" -O OpenFlow13 --names dump-flows br-int >"$T/of13.dump"
ctl annotate <"$T/of13.dump" >"$T/of13.ann"
check "annotate stdin, OpenFlow 1.3 --names: every flow named" \
    check_annotated "$T/of13.ann"
check "annotate stdin, OpenFlow 1.3 --names: lines unchanged" \
    unchanged "$T/of13.dump" "$T/of13.ann"
check "annotate stdin, OpenFlow 1.3 --names: the same annotations as live" \
    same_annotations "$T/live.ann" "$T/of13.ann"

"$sb" ofctl "$SB" -O OpenFlow15 dump-flows br-int >"$T/of15.dump"
ctl annotate - <"$T/of15.dump" >"$T/of15.ann"
check "annotate stdin, OpenFlow 1.5: every flow named" \
    check_annotated "$T/of15.ann"
check "annotate stdin, OpenFlow 1.5: lines unchanged" \
    unchanged "$T/of15.dump" "$T/of15.ann"
check "annotate stdin, OpenFlow 1.5: the same annotations as live" \
    same_annotations "$T/live.ann" "$T/of15.ann"

# Offline: names compiled from the manifests, as `compile` would.
"$CTL" annotate -f "$M" --node node-1 --ofport x/a=11 --ofport x/b=12 \
    --ofport x/c=13 --uplink 20 "$T/of15.dump" >"$T/offline.ann" 2>/dev/null
check "annotate -f --node (offline names): every flow named" \
    check_annotated "$T/offline.ann"

# --- trace against real packets ----------------------------------------

agree pass x/a $B 80 tcp x/b
check "trace names the rule that allowed it" \
    trace_says 'allow rule \[ingress\]: x/b-ingress ingress rule 0 \[TCP:80\]'
check "trace says where it went" trace_says 'switch: FORWARDED to x/b (port 12)'
agree fail x/c $B 80 tcp x/b
check "trace names the isolation drop" \
    trace_says 'switch: DROPPED at table 3, priority 100: isolation drop \[ingress\]: x/b'
agree pass x/a $B 80 udp x/b
agree fail x/c $B 80 udp x/b
agree pass x/a $B6 80 tcp x/b --family 6
check "trace of IPv6 uses IPv6" trace_says "ipv6_src=$A6,ipv6_dst=$B6"
agree fail x/c $B6 80 tcp x/b --family 6
agree pass x/gw $B 81 tcp x/b
check "trace from a remote address enters on the uplink" \
    trace_says 'classify: from uplink port 20'
agree fail x/gw $B 80 tcp x/b
agree fail x/a $C 80 tcp x/c
check "trace names the egress isolation" \
    trace_says 'isolation drop \[egress\]: x/a (port 11) is isolated for egress'
agree pass x/b $C 81 tcp x/c
agree pass x/a $B 80 sctp x/b
check "trace of SCTP uses sctp_dst" trace_says 'sctp_dst=80'
agree fail x/c $B 80 sctp x/b
agree pass x/a $B6 80 sctp x/b --family 6

# An error is not a verdict: exit 2, never 0 or 1.
trace_error() { # WHAT ARGS...: trace fails with exit 2 and says why
    local what=$1 rc=0
    shift
    ctl trace "$@" >"$T/trace-error.out" 2>&1 || rc=$?
    check "trace with $what exits 2 (exit $rc)" equals "$rc" 2
    sed 's/^/#   /' "$T/trace-error.out" | tail -n 2
}
trace_error "an unknown pod" --from x/nope --to x/b --port 80/tcp
trace_error "an unknown protocol" --from x/a --to x/b --port 80/icmp
CTL_CONTROL=$T/no-agent.ctl \
    trace_error "no agent" --from x/a --to x/b --port 80/tcp

# --- verify --------------------------------------------------------------

# 3 local pods (6 ordered pairs), remote x/r, 10.3.0.241 (ipBlock),
# 192.0.2.1, 2001:db8::1; 9/TCP (no policy names it), 80/TCP (http),
# 80/UDP, 80/SCTP, 81/TCP: 180 checks.
check "verify, policy v1: 0 disagreements" verify_clean 180
write_policy v2
check "policy v2: wait-sync" wait_sync 20
check "verify, policy v2: 0 disagreements" verify_clean 180
write_policy v3
check "policy v3: wait-sync" wait_sync 20
# No ports named and no peers left: 9/TCP between the pods and the two
# outside addresses only.
check "verify, policy v3: 0 disagreements" verify_clean 24

# Plant a disagreement: delete c-open's allow flow for IPv4 by hand.
plant() {
    ctl annotate --live >"$T/plant.ann"
    grep -B1 '^    # allow rule \[ingress\]: x/c-open ingress rule 0' \
        "$T/plant.ann" | grep -o 'table=[0-9]*, .*priority=2000,ip,[^ ]*' \
        | sed -E 's/table=([0-9]+), .* (priority=)/table=\1,\2/' | head -n 1
}
victim=$(plant)
check "found c-open's IPv4 allow flow ($victim)" test -n "$victim"
check "ovs-ofctl --strict del-flows $victim" \
    "$sb" ofctl "$SB" --strict del-flows br-int "$victim"
rc=0
ctl verify >"$T/verify.out" 2>&1 || rc=$?
check "verify reports the planted disagreement (exit $rc)" equals "$rc" 1
check "... loudly, naming a pair" \
    grep -q "^!!! DISAGREEMENT: the switch DROPS .* -> x/c ($C)" "$T/verify.out"
check "... with both verdicts" \
    grep -q "this node enforces .*ingress of x/c ($C).*: it should ALLOW it" \
    "$T/verify.out"
check "... and the summary" \
    grep -q '^[0-9]* checks, [1-9][0-9]* disagreements$' "$T/verify.out"
printf '#   %s\n' "$(tail -n 1 "$T/verify.out")"
grep -m 1 '^!!! DISAGREEMENT' "$T/verify.out" | sed 's/^/#   /'
rc=0
ctl trace --from x/b --to x/c --port 80/TCP >"$T/trace.out" 2>&1 || rc=$?
check "trace reports it too (exit $rc)" equals "$rc" 3

check "resync" quietly ctl resync
check "resync puts the flow back" wait_until 10 switch_matches_agent
check "verify after resync: 0 disagreements" verify_clean 24

# With the flow check on, the agent notices a flow deleted by hand (its
# count of our flows in the switch drops) and puts it back by itself.
stop_pid "$agent_pid"
agent_start agent2 --manifests="$M" --flow-check=1
check "agent with --flow-check=1 synced" wait_sync
victim=$(plant)
check "found the allow flow again ($victim)" test -n "$victim"
check "ovs-ofctl --strict del-flows $victim" \
    "$sb" ofctl "$SB" --strict del-flows br-int "$victim"
check "the agent puts it back without being asked" \
    wait_until 10 switch_matches_agent
check "... and counts it (switch.foreign_changes)" \
    test "$(status_get .switch.foreign_changes)" -ge 1
check "verify after the repair: 0 disagreements" verify_clean 24

lib_finish
