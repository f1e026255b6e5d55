#!/bin/bash
# tests/agent-audit.sh: the audit log (ovs-netpol-agent --audit, README
# "Audit log"), with real packets.
#
# Pods: x/a, x/b and x/h in namespace x (not annotated), y/c in namespace y
# (annotated ovs-netpol.io/log-allowed: "true"), z/d, z/e and z/f in
# namespace z (no policy), and z/g, a port without pod identity (an
# uplink, whose addresses name no pod).  Every x and y pod is isolated for
# ingress; b accepts a on TCP and UDP 80; c accepts anyone on TCP 80; h is
# isolated for egress and may only reach c on TCP 80.
#
# Checks:
#   - logging does not change forwarding: the same matrix of TCP and UDP,
#     IPv4 and IPv6 probes gives identical results without --audit, with
#     --audit (the agent's log) and with --audit-log=FILE, and the results
#     are the policy's;
#   - the meter is in the switch with the configured rate before the flows
#     that use it, and our flows use it;
#   - denied connections (TCP and UDP, IPv4 and IPv6, ingress and egress)
#     are logged with the right pods (or bare addresses), ports,
#     protocol, verdict and isolating pod; an allowed connection of the
#     annotated namespace is logged with verdict allow and its rule;
#     allowed connections of other namespaces are not; identical events
#     within the window are one line with their count; the status counts
#     them; SIGHUP reopens the file;
#   - after an ovs-vswitchd restart, the meter, the flows and the audit
#     connection come back, the meter before the flows;
#   - a flood: z/f sends 10,000 denied UDP packets/s for 10 s while z/d
#     opens TCP connections to z/e and ovs-netpolctl status is timed, with
#     and without the flood.  Asserted: every allowed connection succeeds,
#     the agent answers, the events logged are at most the meter's rate x
#     the duration + its burst (+ slack), the agent's CPU time stays small.
#     The timings are printed, not asserted.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-audit
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.4.0.1 B=10.4.0.2 C=10.4.0.3 H=10.4.0.4 D=10.4.0.5 E=10.4.0.6
F=10.4.0.7 G=10.4.0.9 G6=fd04::9
A6=fd04::1 B6=fd04::2 C6=fd04::3 H6=fd04::4
M=$T/m
RATE=100                        # --audit-rate of the flood phase.
FLOOD_PPS=10000
FLOOD_SECS=10

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/16 --ip $A6/64 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/16 --ip $B6/64 --serve 80,81,82,83
must "$sb" add-pod "$SB" y/c --ip $C/16 --ip $C6/64 --serve 80,81
must "$sb" add-pod "$SB" x/h --ip $H/16 --ip $H6/64 --serve 80
must "$sb" add-pod "$SB" z/d --ip $D/16 --serve 80
must "$sb" add-pod "$SB" z/e --ip $E/16 --serve 80
must "$sb" add-pod "$SB" z/f --ip $F/16
# A port without pod identity (an "uplink"): its address names no pod.
must "$sb" add-pod "$SB" z/g --ip $G/16 --ip $G6/64 --style none

mkdir -p "$M"
pod_ips() { # IP...
    local ip sep=''
    printf '['
    for ip in "$@"; do printf '%s{ip: "%s"}' "$sep" "$ip"; sep=', '; done
    printf ']'
}
pod() { # NS NAME APP IP...
    local ns=$1 name=$2 app=$3
    shift 3
    printf -- '---\napiVersion: v1\nkind: Pod\n'
    printf 'metadata: {name: %s, namespace: %s, labels: {app: %s}}\n' \
        "$name" "$ns" "$app"
    printf 'spec: {nodeName: node-1, containers: [{name: c, image: i}]}\n'
    printf 'status: {phase: Running, podIPs: %s}\n' "$(pod_ips "$@")"
}
{
    yaml_namespace x
    printf -- '---\napiVersion: v1\nkind: Namespace\n'
    printf 'metadata: {name: y, annotations: {ovs-netpol.io/log-allowed: "true"}}\n'
    yaml_namespace z
    pod x a a $A $A6
    pod x b b $B $B6
    pod y c c $C $C6
    pod x h h $H $H6
    pod z d d $D
    pod z e e $E
    pod z f f $F
    cat <<'EOF'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
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
    ports: [{protocol: TCP, port: 80}, {protocol: UDP, port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: h-out, namespace: x}
spec:
  podSelector: {matchLabels: {app: h}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{protocol: TCP, port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-web, namespace: y}
spec:
  podSelector: {}
  ingress:
  - ports: [{protocol: TCP, port: 80}]
EOF
} | write_file "$M/cluster.yaml"

# sender.py burst ADDR PORT N: N UDP datagrams from one socket, at once.
# sender.py flood ADDR PORT PPS SECS: UDP datagrams at PPS for SECS (paced
# every millisecond); prints "SENT SECONDS ERRORS".
cat >"$T/sender.py" <<'EOF'
import socket, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
if mode == "burst":
    for i in range(int(sys.argv[4])):
        s.sendto(b"audit", (addr, port))
    sys.exit(0)
pps, secs = int(sys.argv[4]), float(sys.argv[5])
sent = errors = 0
start = time.monotonic()
while True:
    elapsed = time.monotonic() - start
    if elapsed >= secs:
        break
    due = int(elapsed * pps) + 1
    while sent < due:
        try:
            s.sendto(b"flood", (addr, port))
        except OSError:
            errors += 1
        sent += 1
    time.sleep(0.0005)
print(sent, "%.3f" % (time.monotonic() - start), errors)
EOF

# tcpbench.py ADDR PORT N PER_SEC: N TCP connections one after the other,
# started PER_SEC a second, each reading the server's reply; prints "OK
# FAILED P50_MS P90_MS MAX_MS".
cat >"$T/tcpbench.py" <<'EOF'
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per_sec = float(sys.argv[4])
times, failed = [], 0
start = time.monotonic()
for i in range(n):
    time.sleep(max(0, start + i / per_sec - time.monotonic()))
    t0 = time.monotonic()
    try:
        c = socket.create_connection((addr, port), timeout=3)
        c.settimeout(3)
        if not c.recv(1):
            raise OSError("no reply")
        c.close()
        times.append((time.monotonic() - t0) * 1000)
    except OSError:
        failed += 1
times.sort()
def pct(p):
    return times[min(len(times) - 1, int(len(times) * p))] if times else -1
print(len(times), failed, "%.2f %.2f %.2f" % (pct(0.5), pct(0.9), pct(1.0)))
EOF

# --- helpers ---------------------------------------------------------------

# The matrix: "POD ADDR PORT PROTO EXPECTED", one per line.
matrix() {
    cat <<EOF
x/a $B 80 tcp pass
x/a $B 80 udp pass
x/a $B 81 tcp fail
x/a $B 81 udp fail
x/a $B6 80 tcp pass
x/a $B6 81 tcp fail
x/a $B6 81 udp fail
x/b $A 80 tcp fail
x/a $C 80 tcp pass
x/a $C 81 tcp fail
x/a $C6 80 tcp pass
x/h $C 80 tcp pass
x/h $B 80 tcp fail
x/h $C 81 tcp fail
z/d $E 80 tcp pass
z/d $A 80 tcp fail
z/d $B 80 tcp fail
z/g $B 81 tcp fail
z/g $B6 81 udp fail
EOF
}

# run_matrix OUT: runs the matrix in parallel; OUT gets "SPEC GOT" lines,
# sorted.
run_matrix() {
    local out=$1 pod addr port proto expect i=0 pids=()
    mkdir -p "$T/matrix"
    rm -f "$T/matrix/"*
    while read -r pod addr port proto expect; do
        i=$((i + 1))
        (
            if [ "$expect" = pass ]; then t=3; else t=0.5; fi
            if probe "$pod" "$addr" "$port" "$proto" "$t"; then
                got=pass
            else
                got=fail
            fi
            printf '%s %s %s %s %s\n' "$pod" "$addr" "$port" "$proto" \
                "$got" >"$T/matrix/$i"
        ) &
        pids+=($!)
    done < <(matrix)
    wait "${pids[@]}"
    cat "$T/matrix/"* | LC_ALL=C sort >"$out"
}

# The matrix's expected results, in run_matrix's format.
expected_matrix() {
    matrix | awk '{ print $1, $2, $3, $4, $5 }' | LC_ALL=C sort
}

# audit_lines FILE REGEX: the lines of FILE (the audit part of each) that
# match the extended regular expression REGEX.
audit_lines() {
    grep -E "$2" "$1" 2>/dev/null || true
}

# logged FILE REGEX: true once FILE has a line matching REGEX.
logged() {
    grep -Eq "$2" "$1" 2>/dev/null
}

# expect_line FILE DESCRIPTION REGEX: checks (waiting up to 5 s) that FILE
# gets a line matching REGEX.
expect_line() {
    if wait_until 5 logged "$1" "$3"; then
        pass "$2"
        audit_lines "$1" "$3" | head -n 1 | sed 's/^/#   /'
    else
        fail "$2"
        printf '#   no line matches: %s\n' "$3"
        sed 's/^/#   /' "$1" 2>/dev/null | tail -n 10
    fi
}

# Regular expression pieces.
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
re_ip() { printf '%s' "$1" | sed 's/\./\\./g'; }
ep() { # NS/POD ADDR [PORT]: the regex of an endpoint
    printf '%s\(%s\)' "$1" "$(re_ip "$2")"
    if [ -n "${3:-}" ]; then printf ':%s' "$3"; fi
}

cpu_ticks() { # PID: utime + stime, in clock ticks
    awk '{ print $14 + $15 }' /proc/"$1"/stat
}

vswitchd_pid() {
    cat "$OVS_RUNDIR/ovs-vswitchd.pid"
}

# Times N `ovs-netpolctl status` calls, SECS apart; prints "MEDIAN_MS
# MAX_MS FAILED".
status_latency() {
    local n=$1 secs=$2 i t0 times=() failed=0
    for ((i = 0; i < n; i++)); do
        [ "$i" = 0 ] || sleep "$secs"
        t0=$(now)
        if ctl status >/dev/null 2>&1; then
            times+=("$(ms_since "$t0")")
        else
            failed=$((failed + 1))
        fi
    done
    printf '%s\n' "${times[@]}" | sort -n \
        | awk -v f="$failed" '{ v[NR] = $1 }
              END { printf "%s %s %d\n", v[int((NR + 1) / 2)], v[NR], f }'
}

# --- 1. without --audit: the reference ------------------------------------

agent_start plain --manifests="$M"
check "without --audit: wait-sync" wait_sync
check "without --audit: no controller action in our flows" \
    test "$(switch_flows | grep -c controller)" = 0
run_matrix "$T/matrix.plain"
check "without --audit: the matrix is the policy's" \
    same_file <(expected_matrix) "$T/matrix.plain"
check "SIGTERM stops the agent" agent_signal TERM

# --- 2. --audit to the agent's log ------------------------------------------

agent_start vlog --manifests="$M" --audit --audit-rate=50
check "--audit: wait-sync" wait_sync
check "--audit: the audit connection receives" \
    wait_until 5 status_is .audit.connection.connected true
check "--audit: the switch holds exactly the agent's flows" \
    switch_matches_agent
meter_line() {
    "$sb" ofctl "$SB" -O OpenFlow15 dump-meters br-int | tr '\n' ' '
}
check "--audit: meter 20048 is in the switch at 50 packets/s, burst 50" \
    grep -Eq 'meter=20048 pktps burst stats bands= *type=drop rate=50 burst_size=50' \
    <(meter_line)
n_ctl=$(switch_flows | grep -c 'controller(max_len=128,meter_id=20048)' \
    || true)
check "--audit: isolation drops and y's rule flows use it ($n_ctl flows)" \
    test "$n_ctl" -ge 6
run_matrix "$T/matrix.vlog"
check "--audit: the matrix is the same as without it" \
    same_file "$T/matrix.plain" "$T/matrix.vlog"
expect_line "$T/vlog.log" \
    "--audit: a denied connection is in the agent's log (module audit)" \
    "\|audit\|INFO\|[0-9T:.Z-]+ verdict=deny dir=ingress src=$(ep x/a $A '[0-9]+') dst=$(ep x/b $B 81) proto=TCP by=isolation:x/b count=[0-9]+$"
check "--audit: status shows the audit section" \
    status_is '.audit.enabled and .audit.connection.connected' true
check "SIGTERM stops the agent" agent_signal TERM

# --- 3. --audit-log=FILE: what is logged --------------------------------------

LOG=$T/audit.log
agent_start file --manifests="$M" --audit --audit-log="$LOG" \
    --audit-rate=$RATE
check "--audit-log: wait-sync" wait_sync
check "--audit-log: the audit connection receives" \
    wait_until 5 status_is .audit.connection.connected true
check "--audit-log: the meter was modified in place (rate $RATE)" \
    grep -Eq "meter=20048 .*rate=$RATE burst_size=$RATE" <(meter_line)
run_matrix "$T/matrix.file"
check "--audit-log: the matrix is the same as without --audit" \
    same_file "$T/matrix.plain" "$T/matrix.file"

any='[0-9]+'
expect_line "$LOG" "denied TCP over IPv4: x/a -> x/b:81, isolation of x/b" \
    "$ts verdict=deny dir=ingress src=$(ep x/a $A "$any") dst=$(ep x/b $B 81) proto=TCP by=isolation:x/b count=$any$"
expect_line "$LOG" "denied UDP over IPv4: x/a -> x/b:81" \
    "$ts verdict=deny dir=ingress src=$(ep x/a $A "$any") dst=$(ep x/b $B 81) proto=UDP by=isolation:x/b count=$any$"
expect_line "$LOG" "denied TCP over IPv6: x/a -> x/b:81" \
    "$ts verdict=deny dir=ingress src=$(ep x/a $A6 "$any") dst=$(ep x/b $B6 81) proto=TCP by=isolation:x/b count=$any$"
expect_line "$LOG" "denied UDP over IPv6: x/a -> x/b:81" \
    "$ts verdict=deny dir=ingress src=$(ep x/a $A6 "$any") dst=$(ep x/b $B6 81) proto=UDP by=isolation:x/b count=$any$"
expect_line "$LOG" "denied ingress from another namespace: z/d -> x/a:80" \
    "$ts verdict=deny dir=ingress src=$(ep z/d $D "$any") dst=$(ep x/a $A 80) proto=TCP by=isolation:x/a count=$any$"
expect_line "$LOG" "an unknown source is its address: 10.4.0.9 -> x/b:81" \
    "$ts verdict=deny dir=ingress src=$(re_ip $G):$any dst=$(ep x/b $B 81) proto=TCP by=isolation:x/b count=$any$"
expect_line "$LOG" "an unknown IPv6 source is its address, in brackets" \
    "$ts verdict=deny dir=ingress src=\\[$G6\\]:$any dst=$(ep x/b $B6 81) proto=UDP by=isolation:x/b count=$any$"
expect_line "$LOG" "denied egress: x/h -> x/b:80, egress isolation of x/h" \
    "$ts verdict=deny dir=egress src=$(ep x/h $H "$any") dst=$(ep x/b $B 80) proto=TCP by=isolation:x/h count=$any$"
expect_line "$LOG" "allowed in annotated y: x/a -> y/c:80 by rule y/c-web ingress 0" \
    "$ts verdict=allow dir=ingress src=$(ep x/a $A "$any") dst=$(ep y/c $C 80) proto=TCP by=rule:y/c-web/ingress/0 count=$any$"
expect_line "$LOG" "allowed in annotated y over IPv6" \
    "$ts verdict=allow dir=ingress src=$(ep x/a $A6 "$any") dst=$(ep y/c $C6 80) proto=TCP by=rule:y/c-web/ingress/0 count=$any$"
expect_line "$LOG" "allowed in annotated y from x/h (its egress rule, in x, is not logged)" \
    "$ts verdict=allow dir=ingress src=$(ep x/h $H "$any") dst=$(ep y/c $C 80) proto=TCP by=rule:y/c-web/ingress/0 count=$any$"
sleep 1.2                       # Every window of the matrix has closed.
check "allowed in x (not annotated) is not logged: no line to x/b:80" \
    test -z "$(audit_lines "$LOG" "dst=x/b\([^)]*\):80 proto=(TCP|UDP) by=rule")"
check "x/h's egress rule (in x) is not logged" \
    test -z "$(audit_lines "$LOG" 'by=rule:x/')"
check "unannotated z's traffic (not isolated) is not logged" \
    test -z "$(audit_lines "$LOG" "dst=z/e")"
check "every line is one line of printable ASCII" \
    test -z "$(LC_ALL=C grep -n '[^ -~]' "$LOG")"

# Deduplication: 20 identical datagrams within the window are one line.
check "dedup: 20 UDP datagrams x/a -> x/b:83" \
    "$sb" exec "$SB" x/a "$python" "$T/sender.py" burst $B 83 20
dedup_re="verdict=deny dir=ingress src=$(ep x/a $A "$any") dst=$(ep x/b $B 83) proto=UDP by=isolation:x/b"
expect_line "$LOG" "dedup: one line with count=20" "$dedup_re count=20$"
check "dedup: and only one" \
    equals "$(audit_lines "$LOG" "$dedup_re" | wc -l)" 1
check "status: received, logged and deduplicated counted" \
    status_is '.audit.received >= 29 and .audit.logged >= 10
               and .audit.deduplicated >= 19 and .audit.dropped == 0' true
ctl status --format=json | jq -c '.audit | {received, ignored, logged,
    deduplicated, dropped}' | sed 's/^/# status: /'
check "ovs-netpolctl status shows the audit line" \
    grep -q '^audit: ' <(ctl status)

# SIGHUP: rotate the file.
mv "$LOG" "$LOG.1"
check "SIGHUP" kill -HUP "$agent_pid"
wait_until 5 test -e "$LOG" || true
queue_probe fail x/a $B 82 tcp
run_probes "after SIGHUP"
expect_line "$LOG" "after SIGHUP, lines go to the new file" \
    "dst=$(ep x/b $B 82) proto=TCP by=isolation:x/b"
check "and not to the rotated one" \
    test -z "$(audit_lines "$LOG.1" "dst=$(ep x/b $B 82)")"

# --- 4. ovs-vswitchd restarts: meter, flows and connection come back -------

# The restarted switch has no meter and no flow.  OVS resolves a controller
# action's meter when the flow is added, so the meter must be back first:
# the flood below, after this restart, would not be rate-limited otherwise.
connects=$(status_get .switch.connects)
must "$sb" restart-switch "$SB"
check "switch restart: the agent reconnected" \
    wait_until 15 status_is ".switch.connects > $connects" true
check "switch restart: wait-sync" wait_sync
check "switch restart: the meter is back" \
    grep -Eq "meter=20048 .*rate=$RATE burst_size=$RATE" <(meter_line)
check "switch restart: the switch holds exactly the agent's flows" \
    switch_matches_agent
check "switch restart: the audit connection is back" \
    wait_until 10 status_is \
    '.audit.connection.connected and .audit.connection.connects >= 2' true
queue_probe fail x/a $B6 82 tcp
run_probes "after the switch restart"
expect_line "$LOG" "switch restart: denied connections are logged again" \
    "dst=$(ep x/b $B6 82) proto=TCP by=isolation:x/b"

# --- 5. the flood ----------------------------------------------------------

# measure LABEL N: allowed traffic (z/d -> z/e, N connections at 50/s) and
# the agent's answers (N / 10 status calls over the same time), at once.
measure() {
    local label=$1 n=$2 st
    "$sb" exec "$SB" z/d "$python" "$T/tcpbench.py" $E 80 "$n" 50 \
        >"$T/tcpbench.out" &
    local bench=$!
    st=$(status_latency $((n / 10)) 0.2)
    wait "$bench" || true
    read -r tcp_ok tcp_failed tcp_p50 tcp_p90 tcp_max <"$T/tcpbench.out"
    read -r st_p50 st_max st_failed <<<"$st"
    printf '# %s: TCP connections z/d -> z/e: %s ok, %s failed, ' \
        "$label" "$tcp_ok" "$tcp_failed"
    printf 'setup+reply p50 %s ms, p90 %s ms, max %s ms\n' \
        "$tcp_p50" "$tcp_p90" "$tcp_max"
    printf '# %s: ovs-netpolctl status: median %s ms, max %s ms, %s failed\n' \
        "$label" "$st_p50" "$st_max" "$st_failed"
}

measure "no flood" 150
check "no flood: every allowed connection succeeded" \
    test "$tcp_failed" = 0 -a "$tcp_ok" = 150
check "no flood: the agent answered every status" test "$st_failed" = 0

received0=$(status_get .audit.received)
hz=$(getconf CLK_TCK)
agent_cpu0=$(cpu_ticks "$agent_pid")
vsd_cpu0=$(cpu_ticks "$(vswitchd_pid)")
t_flood=$(now)
"$sb" exec "$SB" z/f "$python" "$T/sender.py" flood $B 9999 $FLOOD_PPS \
    $FLOOD_SECS >"$T/flood.out" 2>&1 &
flood_pid=$!
bg_pids+=("$flood_pid")
sleep 0.5
measure "flood" 400             # 8 s of the flood's 10.
wait "$flood_pid" || true
flood_ms=$(ms_since "$t_flood")
agent_cpu=$(( $(cpu_ticks "$agent_pid") - agent_cpu0 ))
vsd_cpu=$(( $(cpu_ticks "$(vswitchd_pid)") - vsd_cpu0 ))
read -r sent secs errors <"$T/flood.out" || true
printf '# flood: z/f sent %s UDP packets to x/b:9999 in %s s (%s/s, %s send errors)\n' \
    "$sent" "$secs" "$(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
    "$errors"
printf '# flood: agent CPU %s ms, ovs-vswitchd CPU %s ms, in %s ms\n' \
    "$((agent_cpu * 1000 / hz))" "$((vsd_cpu * 1000 / hz))" "$flood_ms"
check "flood: every allowed connection succeeded" \
    test "$tcp_failed" = 0 -a "$tcp_ok" = 400
check "flood: the agent answered every status" test "$st_failed" = 0

sleep 1.5                       # The last window closes.
flood_re="dst=$(ep x/b $B 9999) proto=UDP by=isolation:x/b"
flood_lines=$(audit_lines "$LOG" "$flood_re" | wc -l)
flood_events=$(audit_lines "$LOG" "$flood_re" \
    | sed -E 's/.* count=([0-9]+)$/\1/' | awk '{ s += $1 } END { print s + 0 }')
received=$(( $(status_get .audit.received) - received0 ))
# The meter lets through RATE/s plus a burst of RATE; slack for the
# measurement's edges (the duration, the bucket refilling meanwhile).
bound=$(awk -v r=$RATE -v ms="$flood_ms" 'BEGIN { printf "%d", r * (ms / 1000 + 1) + r + 20 }')
printf '# flood: %s events in %s lines (received %s packet-ins), bound %s\n' \
    "$flood_events" "$flood_lines" "$received" "$bound"
"$sb" ofctl "$SB" -O OpenFlow15 meter-stats br-int | tr -s ' \n' ' ' \
    | sed 's/^/# meter: /'
echo
check "flood: logged" test "$flood_events" -gt 0
check "flood: events logged <= meter rate x duration + burst (+ slack)" \
    test "$flood_events" -le "$bound"
check "flood: packet-ins received <= the same bound" \
    test "$received" -le "$bound"
check "flood: deduplicated into few lines (<= one per window)" \
    test "$flood_lines" -le $((flood_ms / 1000 + 2))
check "flood: the agent's CPU time stayed small (< 20% of one CPU)" \
    test $((agent_cpu * 1000 / hz)) -lt $((flood_ms / 5))
check "flood: nothing dropped in the agent" status_is .audit.dropped 0
check "flood: the agent still holds the switch in sync" wait_sync

check "SIGTERM stops the agent" agent_signal TERM
lib_finish
