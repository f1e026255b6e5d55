#!/bin/bash
# tests/agent-stats.sh: flow statistics (`ovs-netpolctl stats`) and the
# metrics endpoint (--metrics: /metrics, /healthz), against a real
# ovs-vswitchd (userspace datapath) with pods in network namespaces.
#
# Namespace x, pods a, b, c.  Policies: every pod of x is ingress-isolated
# (default-deny); b accepts TCP 80 from a (b-from-a, ingress rule 0); a may
# send only TCP 80 to b (a-to-b, egress rule 0), so a is egress-isolated
# too.
#
#   (h) /healthz is 503 while the agent waits for its --manifests path and
#       200 once it has synced; /metrics answers before and after; the
#       endpoint listens on 127.0.0.1 only when --metrics gives a port
#       only; a port in use and a malformed --metrics stop the agent with a
#       clear message; other paths are 404, other methods 405.
#   (c) The counters move by exactly the traffic the test makes: N TCP
#       connections a->b:80 raise the ingress rule's and the egress rule's
#       new connections by exactly N, the ingress rule's packets by at
#       least 3N (SYN, SYN-ACK, ACK) with at least 54 bytes each, the
#       egress rule's packets by exactly N (the established packets of a
#       connection count for its ingress rule); M UDP datagrams c->b:80
#       raise b's ingress isolation drops by exactly M, and K datagrams
#       a->b:80 raise a's egress isolation drops by exactly K.
#   (m) /metrics is valid Prometheus text: Debian's python3-prometheus-
#       client parses it, and a strict check of our own passes (HELP and
#       TYPE before every family's samples, names and label names well
#       formed, label values escaped, counters end in _total, no duplicate
#       series); its rule and isolation series equal `ovs-netpolctl stats
#       --format=json`; the health metrics say synced and connected, and its
#       flows by table add up to the status's installed flows.
#   (r) A rule deleted (its policy removed) disappears from the statistics
#       without harm; when it comes back, its counters start from zero.
#   (s) With ovs-vswitchd killed, `stats` fails with a message and /metrics
#       still answers (health only, ovs_netpol_flow_stats_up 0); once it is
#       back, the counters start from zero (new flows).
#   (k) Kubernetes mode (tests/k8s-apiserver.py) with the switch
#       unreachable: /healthz is 503 (no first sync without the switch),
#       /metrics is valid and reports the API source connected and synced,
#       its events and errors, and the switch disconnected.  Skipped
#       without openssl or curl.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch, no python3-prometheus-client), 99 programs not built.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-stats
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
lib_init
"$python" -c 'import prometheus_client.parser' 2>/dev/null \
    || skip "python3-prometheus-client not installed"

A=10.4.0.1 B=10.4.0.2 C=10.4.0.3
M=$T/m                          # The agent's --manifests directory.
N=5                             # TCP connections a->b.
M_UDP=3                         # Denied datagrams c->b.
K_UDP=2                         # Denied datagrams a->b.

# --- helpers -------------------------------------------------------------

# prom.py: HTTP and exposition-format checks (Python 3 standard library,
# plus prometheus_client for the reference parser).
cat >"$T/prom.py" <<'EOF'
import json, re, sys, urllib.error, urllib.request

def fetch(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)

def strict(text):
    """Returns (problems, {(name, labels): value})."""
    problems, series, types, helps, done = [], {}, {}, set(), set()
    current = None
    if not text.endswith("\n"):
        problems.append("no newline at the end")
    for n, line in enumerate(text.splitlines(), 1):
        where = "line %d: %r" % (n, line[:100])
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
            if not m:
                problems.append("%s: bad comment" % where)
                continue
            kind, name, rest = m.groups()
            if name != current:
                if name in done:
                    problems.append("%s: family %s split" % (where, name))
                if current:
                    done.add(current)
                current = name
            if kind == "HELP":
                if name in helps:
                    problems.append("%s: second HELP" % where)
                helps.add(name)
                if re.search(r"\\[^\\n]", rest):
                    problems.append("%s: bad escape in HELP" % where)
            else:
                if name in types:
                    problems.append("%s: second TYPE" % where)
                if rest not in TYPES:
                    problems.append("%s: bad type" % where)
                if rest == "counter" and not name.endswith("_total"):
                    problems.append("%s: counter without _total" % where)
                types[name] = rest
            continue
        if not line.strip():
            problems.append("%s: empty line" % where)
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append("%s: malformed sample" % where)
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.groups()[-1]
        if name != current or name not in types:
            problems.append("%s: sample without its TYPE before it" % where)
        if name not in helps:
            problems.append("%s: sample without HELP" % where)
        pairs = re.findall(LABEL, labels)
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names):
            problems.append("%s: repeated label" % where)
        key = (name, tuple(sorted((k, unescape(v)) for k, v in pairs)))
        if key in series:
            problems.append("%s: duplicate series" % where)
        try:
            series[key] = float(value)
        except ValueError:
            problems.append("%s: bad value" % where)
    return problems, series

def reference(text):
    from prometheus_client.parser import text_string_to_metric_families
    return sum(len(f.samples) for f in text_string_to_metric_families(text))

def load(path):
    with open(path) as f:
        return f.read()

def get(series, name, **labels):
    return series.get((name, tuple(sorted(labels.items()))))

cmd = sys.argv[1]
if cmd == "get":                # get URL OUT [METHOD]: prints STATUS TYPE
    status, ctype, body = fetch(sys.argv[2], *sys.argv[4:5])
    with open(sys.argv[3], "wb") as f:
        f.write(body)
    print(status, ctype)
elif cmd == "get2":             # get2 URL OUT1 OUT2: back to back; prints ms
    import time
    t0 = time.monotonic()
    for out in sys.argv[3:5]:
        status, _, body = fetch(sys.argv[2])
        with open(out, "wb") as f:
            f.write(body)
    print("%.0f" % ((time.monotonic() - t0) * 1000))
elif cmd == "check":            # check FILE: both parsers agree, no problem
    text = load(sys.argv[2])
    problems, series = strict(text)
    try:
        n = reference(text)
        if n != len(series):
            problems.append("prometheus_client saw %d samples, we %d"
                            % (n, len(series)))
    except Exception as e:
        problems.append("prometheus_client: %s" % e)
    for p in problems[:20]:
        print("#   " + p)
    print("#   %d samples, %d problems" % (len(series), len(problems)))
    sys.exit(1 if problems else 0)
elif cmd == "value":            # value FILE NAME [LABEL=VALUE]...
    _, series = strict(load(sys.argv[2]))
    v = get(series, sys.argv[3],
            **dict(a.split("=", 1) for a in sys.argv[4:]))
    print("none" if v is None else "%.0f" % v if v == int(v) else v)
elif cmd == "sum":              # sum FILE NAME: over every series
    _, series = strict(load(sys.argv[2]))
    print("%.0f" % sum(v for (n, _), v in series.items() if n == sys.argv[3]))
elif cmd == "compare":          # compare METRICS STATS_JSON
    _, series = strict(load(sys.argv[2]))
    stats = json.loads(load(sys.argv[3]))
    want = {}
    for r in stats["rules"]:
        if r["state"] == "unknown":
            continue
        labels = dict(namespace=r["namespace"], policy=r["policy"],
                      direction=r["direction"], rule=str(r["index"]))
        for k in ("connections", "packets", "bytes"):
            key = ("ovs_netpol_rule_%s_total" % k,
                   tuple(sorted(labels.items())))
            want[key] = want.get(key, 0) + r[k]
    for d in stats["isolation"]:
        if "pod" not in d:
            continue
        labels = dict(namespace=d["namespace"], pod=d["pod"],
                      direction=d["direction"])
        for k in ("packets", "bytes"):
            key = ("ovs_netpol_isolation_dropped_%s_total" % k,
                   tuple(sorted(labels.items())))
            want[key] = want.get(key, 0) + d[k]
    got = {k: v for k, v in series.items()
           if k[0].startswith(("ovs_netpol_rule_",
                               "ovs_netpol_isolation_dropped_"))}
    bad = 0
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            print("#   %s%s: stats %s, metrics %s"
                  % (k[0], dict(k[1]), want.get(k), got.get(k)))
            bad += 1
    print("#   %d series compared, %d differ" % (len(want), bad))
    sys.exit(1 if bad or not want else 0)
EOF

prom() {
    "$python" "$T/prom.py" "$@"
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_get PATH [METHOD]: "STATUS CONTENT-TYPE"; the body goes to $T/body.
http_get() {
    prom get "http://127.0.0.1:$PORT$1" "$T/body" "${2:-GET}"
}

http_status() { # PATH [METHOD]
    local out
    out=$(http_get "$@") || return 1
    printf '%s\n' "${out%% *}"
}

healthz_is() { # STATUS
    [ "$(http_status /healthz)" = "$1" ]
}

# Fetches /metrics into FILE.
scrape() { # FILE
    local out
    out=$(http_get /metrics) || return 1
    cp "$T/body" "$1"
    [ "${out%% *}" = 200 ]
}

# A scrape past the reuse window of the last dump, into FILE.
scrape_fresh() { # FILE
    sleep 1.1
    scrape "$1"
}

metric() { # FILE NAME [LABEL=VALUE]...
    prom value "$@"
}

stats_json() {
    ctl stats --format=json
}

# rule_field POLICY DIRECTION FIELD: from `stats --format=json`, the field
# of rule 0 of x/POLICY in DIRECTION (summed over variants).
rule_field() {
    stats_json | jq -r --arg p "$1" --arg d "$2" --arg f "$3" \
        '[.rules[] | select(.namespace == "x" and .policy == $p
          and .direction == $d and .index == 0) | .[$f]] | add // "none"'
}

# drop_field POD DIRECTION FIELD
drop_field() {
    stats_json | jq -r --arg p "$1" --arg d "$2" --arg f "$3" \
        '[.isolation[] | select(.namespace == "x" and .pod == $p
          and .direction == $d) | .[$f]] | add // "none"'
}

# The switch's counters are updated by its revalidators, a fraction of a
# second after the packets: wait for the expected value, then make sure
# it stays there (nothing counted twice, nothing late).
value_is() { # WANT CMD...
    local want=$1
    shift
    [ "$("$@")" = "$want" ]
}

settles_at() { # WANT CMD...
    local want=$1 got
    shift
    if ! wait_until 15 value_is "$want" "$@"; then
        printf '#   got %s, want %s\n' "$("$@")" "$want"
        return 1
    fi
    sleep 1.5
    got=$("$@")
    [ "$got" = "$want" ] || { printf '#   then %s, want %s\n' "$got" "$want"; return 1; }
}

# Waits until two stats dumps 1 s apart are equal (closing packets of the
# connections have been counted).
stats_quiet() {
    local a b
    a=$(stats_json) || return 1
    sleep 1.2
    b=$(stats_json) || return 1
    [ "$a" = "$b" ]
}

write_cluster() { # DIR
    {
        yaml_namespace x
        yaml_pod x a $A "app: a"
        yaml_pod x b $B "app: b"
        yaml_pod x c $C "app: c"
    } | write_file "$1/cluster.yaml"
}

write_policies() { # DIR with|without (the egress policy a-to-b)
    {
        cat <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: x}
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
    ports: [{protocol: TCP, port: 80}]
EOF
        if [ "$2" = with ]; then
            cat <<EOF
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
        fi
    } | write_file "$1/policy.yaml"
}

# udp_burst POD ADDR PORT COUNT: COUNT datagrams, one socket each.
udp_burst() {
    # shellcheck disable=SC2016
    "$sb" exec "$SB" "$1" bash -c \
        'for i in $(seq "$3"); do printf x >"/dev/udp/$1/$2"; done' \
        sh "$2" "$3" "$4"
}

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --serve 80
must "$sb" add-pod "$SB" x/c --ip $C/24 --serve 80
mkdir -p "$T/staged"
write_cluster "$T/staged"
write_policies "$T/staged" with
PORT=$(free_port)

# --- (h) health before and after the first sync --------------------------

# Only a port: the endpoint must listen on 127.0.0.1 only.
agent_start agent --manifests="$M" --metrics="$PORT"
check "(h) the log names the endpoint" \
    grep -q "serving HTTP on 127.0.0.1:$PORT: /metrics and /healthz" "$T/agent.log"
listeners() {
    ss -Hltn "sport = :$PORT" | awk '{ print $4 }' | sort -u
}
check "(h) --metrics=PORT listens on 127.0.0.1 only ($(listeners | tr '\n' ' '))" \
    equals "$(listeners)" "127.0.0.1:$PORT"
check "(h) manifests missing: /healthz is 503" healthz_is 503
check "(h) manifests missing: /metrics answers" scrape "$T/m0.prom"
check "(h) manifests missing: /metrics is valid" prom check "$T/m0.prom"
check "(h) manifests missing: ovs_netpol_initial_sync_done 0" \
    equals "$(metric "$T/m0.prom" ovs_netpol_initial_sync_done)" 0
check "(h) manifests missing: ovs_netpol_synced 0" \
    equals "$(metric "$T/m0.prom" ovs_netpol_synced)" 0
check "(h) manifests missing: ovs_netpol_connected{manifests} 0" \
    equals "$(metric "$T/m0.prom" ovs_netpol_connected source=manifests)" 0
sleep 1
check "(h) manifests missing: /healthz still 503 a second later" \
    healthz_is 503

mv "$T/staged" "$M"
check "(h) manifests appear: wait-sync" wait_sync 20
check "(h) synced: /healthz is 200" wait_until 5 healthz_is 200
check "(h) /healthz says ok" equals "$(cat "$T/body")" ok
check "(h) /nope is 404" equals "$(http_status /nope)" 404
check "(h) / is 404" equals "$(http_status /)" 404
check "(h) POST /metrics is 405" equals "$(http_status /metrics POST)" 405
check "(h) /metrics has the Prometheus 0.0.4 content type" \
    equals "$(http_get /metrics | cut -d' ' -f2-)" \
    "text/plain; version=0.0.4; charset=utf-8"

# A second agent may not take the port; a malformed option stops at once.
second_agent() { # EXPECTED-MESSAGE OPTIONS...
    local expect=$1 rc=0
    shift
    timeout 10 "$AGENT" --control="$T/second.ctl" --manifests="$M" \
        -vconsole:err -vfile:off "$@" </dev/null >"$T/second.err" 2>&1 \
        || rc=$?
    printf '#   exit %s: %s\n' "$rc" "$(head -n 1 "$T/second.err")"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$expect" "$T/second.err"
}
check "(h) --metrics on a port in use: the agent refuses to start" \
    second_agent "cannot listen on 127.0.0.1 port $PORT (Address already in use)" \
    --metrics="127.0.0.1:$PORT"
check "(h) --metrics=abc: the agent refuses to start" \
    second_agent "--metrics=abc: expected [ADDRESS:]PORT" --metrics=abc
check "(h) --metrics=1:2:3: IPv6 needs brackets" \
    second_agent "in brackets" --metrics=1:2:3

# --- (c) the counters follow the traffic ---------------------------------

ctl stats >"$T/stats.txt"
check "(c) stats: the table names both rules" \
    grep -Eq '^x/b-from-a rule 0 +ingress ' "$T/stats.txt"
check "(c) stats: ... the egress one too" \
    grep -Eq '^x/a-to-b rule 0 +egress ' "$T/stats.txt"
sed 's/^/#   /' "$T/stats.txt"

conn0=$(rule_field b-from-a ingress connections)
pkts0=$(rule_field b-from-a ingress packets)
bytes0=$(rule_field b-from-a ingress bytes)
econn0=$(rule_field a-to-b egress connections)
epkts0=$(rule_field a-to-b egress packets)
bdrop0=$(drop_field b ingress packets)
adrop0=$(drop_field a egress packets)
printf '# before: ingress rule %s conns %s pkts %s bytes; egress rule %s conns %s pkts; drops b ingress %s, a egress %s\n' \
    "$conn0" "$pkts0" "$bytes0" "$econn0" "$epkts0" "$bdrop0" "$adrop0"

ok=0
for _ in $(seq $N); do
    if probe x/a $B 80 tcp 3; then ok=$((ok + 1)); fi
done
check "(c) $N TCP connections a->b:80 got through" equals "$ok" $N
check "(c) ingress rule x/b-from-a: new connections +$N exactly" \
    settles_at $((conn0 + N)) rule_field b-from-a ingress connections
check "(c) egress rule x/a-to-b: new connections +$N exactly" \
    settles_at $((econn0 + N)) rule_field a-to-b egress connections
check "(c) egress rule: packets +$N exactly (established ones count for the ingress rule)" \
    settles_at $((epkts0 + N)) rule_field a-to-b egress packets
wait_until 10 stats_quiet || true
pkts=$(rule_field b-from-a ingress packets)
bytes=$(rule_field b-from-a ingress bytes)
printf '# after: ingress rule %s conns, %s pkts (+%s), %s bytes (+%s)\n' \
    "$(rule_field b-from-a ingress connections)" "$pkts" "$((pkts - pkts0))" \
    "$bytes" "$((bytes - bytes0))"
check "(c) ingress rule: packets +$((pkts - pkts0)) >= 3 per connection" \
    test $((pkts - pkts0)) -ge $((3 * N))
check "(c) ingress rule: bytes +$((bytes - bytes0)) >= 54 per packet" \
    test $((bytes - bytes0)) -ge $((54 * (pkts - pkts0)))

must udp_burst x/c $B 80 $M_UDP
check "(c) $M_UDP UDP datagrams c->b:80: b's ingress isolation drops +$M_UDP exactly" \
    settles_at $((bdrop0 + M_UDP)) drop_field b ingress packets
must udp_burst x/a $B 80 $K_UDP
check "(c) $K_UDP UDP datagrams a->b:80: a's egress isolation drops +$K_UDP exactly" \
    settles_at $((adrop0 + K_UDP)) drop_field a egress packets
check "(c) ... and b's ingress drops did not move" \
    equals "$(drop_field b ingress packets)" $((bdrop0 + M_UDP))
ctl stats | sed 's/^/#   /'

# --- (m) /metrics --------------------------------------------------------

wait_until 10 stats_quiet || true
sleep 1.1                       # Past the metrics' reuse of a dump.
stats_json >"$T/stats.json"
check "(m) /metrics answers" scrape "$T/m1.prom"
check "(m) /metrics is valid Prometheus text (reference parser and strict check)" \
    prom check "$T/m1.prom"
check "(m) rule and isolation series equal ovs-netpolctl stats" \
    prom compare "$T/m1.prom" "$T/stats.json"
check "(m) ovs_netpol_rule_connections_total of x/b-from-a ingress rule 0" \
    equals "$(metric "$T/m1.prom" ovs_netpol_rule_connections_total \
             namespace=x policy=b-from-a direction=ingress rule=0)" $((conn0 + N))
check "(m) ovs_netpol_isolation_dropped_packets_total of x/b ingress" \
    equals "$(metric "$T/m1.prom" ovs_netpol_isolation_dropped_packets_total \
             namespace=x pod=b direction=ingress)" $((bdrop0 + M_UDP))
# NAME [LABEL=VALUE]... WANT
for m in "ovs_netpol_synced 1" "ovs_netpol_initial_sync_done 1" \
         "ovs_netpol_flow_stats_up 1" \
         "ovs_netpol_connected source=openflow 1" \
         "ovs_netpol_connected source=ovsdb 1" \
         "ovs_netpol_connected source=manifests 1" \
         "ovs_netpol_source_synced source=manifests 1" \
         "ovs_netpol_objects kind=pod 3" \
         "ovs_netpol_objects kind=networkpolicy 3"; do
    read -r -a words <<<"$m"
    want=${words[-1]}
    unset 'words[-1]'
    check "(m) $m" equals "$(metric "$T/m1.prom" "${words[@]}")" "$want"
done
check "(m) ovs_netpol_flows adds up to the installed flows" \
    equals "$(prom sum "$T/m1.prom" ovs_netpol_flows)" \
    "$(status_get .switch.installed_flows)"
check "(m) ovs_netpol_flow_mods_total{kind=add} > 0" \
    test "$(metric "$T/m1.prom" ovs_netpol_flow_mods_total kind=add)" -gt 0
check "(m) ovs_netpol_errors_total{openflow,bundle} is 0" \
    equals "$(metric "$T/m1.prom" ovs_netpol_errors_total source=openflow kind=bundle)" 0
sed -n '/^# HELP ovs_netpol_rule_connections_total/,/^# TYPE ovs_netpol_rule_bytes/p' \
    "$T/m1.prom" | sed 's/^/#   /'

# Scrapes within a second reuse one dump (unless the machine is so slow
# that two requests take a second).
dumps() { # FILE
    metric "$1" ovs_netpol_flow_stats_dumps_total
}
sleep 1.1
ms=$(prom get2 "http://127.0.0.1:$PORT/metrics" "$T/m2.prom" "$T/m3.prom")
if [ "$ms" -lt 900 ]; then
    check "(m) two scrapes $ms ms apart share a dump ($(dumps "$T/m2.prom"), $(dumps "$T/m3.prom"))" \
        equals "$(dumps "$T/m2.prom")" "$(dumps "$T/m3.prom")"
else
    printf '# (m) two scrapes took %s ms: not checking that they share a dump\n' "$ms"
fi

# --- (r) a rule deleted, then back ---------------------------------------

write_policies "$M" without
check "(r) a-to-b removed: wait-sync" wait_sync
check "(r) stats still answers" quietly ctl stats
check "(r) the deleted rule is gone from the statistics" \
    equals "$(rule_field a-to-b egress connections)" none
check "(r) /metrics still answers" scrape_fresh "$T/m4.prom"
check "(r) /metrics still valid" prom check "$T/m4.prom"
check "(r) ... without the deleted rule" \
    equals "$(metric "$T/m4.prom" ovs_netpol_rule_connections_total \
             namespace=x policy=a-to-b direction=egress rule=0)" none
write_policies "$M" with
check "(r) a-to-b back: wait-sync" wait_sync
check "(r) its counters start again from zero" \
    equals "$(rule_field a-to-b egress connections)/$(rule_field a-to-b egress packets)" 0/0
check "(r) the other rule kept its counters" \
    equals "$(rule_field b-from-a ingress connections)" $((conn0 + N))

# --- (s) the switch away -------------------------------------------------

must "$sb" kill-switch "$SB"
switch_gone() {
    ! ctl stats >/dev/null 2>&1
}
check "(s) switch killed: stats fails" wait_until 10 switch_gone
ctl stats 2>&1 | sed 's/^/#   /' || true
check "(s) switch killed: /metrics answers" scrape_fresh "$T/m5.prom"
check "(s) switch killed: /metrics is valid" prom check "$T/m5.prom"
check "(s) switch killed: ovs_netpol_flow_stats_up 0" \
    equals "$(metric "$T/m5.prom" ovs_netpol_flow_stats_up)" 0
check "(s) switch killed: ovs_netpol_connected{openflow} 0" \
    equals "$(metric "$T/m5.prom" ovs_netpol_connected source=openflow)" 0
check "(s) switch killed: /healthz stays 200" healthz_is 200
must "$sb" start-switch "$SB"
check "(s) switch back: wait-sync" wait_sync 20
check "(s) switch back: counters start again from zero" \
    equals "$(rule_field b-from-a ingress connections)" 0
check "(s) switch back: /metrics answers" scrape_fresh "$T/m6.prom"
check "(s) switch back: ovs_netpol_flow_stats_up 1" \
    equals "$(metric "$T/m6.prom" ovs_netpol_flow_stats_up)" 1

check "SIGTERM stops the agent" agent_signal TERM
check "the agent exited 0" equals "$agent_rc" 0

# --- (k) Kubernetes mode, switch unreachable -----------------------------

stats_refused() {
    ! ctl stats 2>"$T/stats.err" \
        && grep -q "not connected to the switch" "$T/stats.err"
}

k8s_mode() {
    local kport
    kport=$(free_port)
    apiserver_start api
    must k8s_objects "[$(ns_json x), $(pod_json x a $A '{"app":"a"}')]"
    kubeconfig "$T/kc" ca="$T/pki/ca.crt" token="$K8S_TOKEN"
    CTL_CONTROL=$T/k8s.ctl
    PORT=$kport
    agent_start k8s --control="$CTL_CONTROL" --kubeconfig="$T/kc" \
        --node-name=node-1 --openflow="unix:$T/no-switch.mgmt" \
        --metrics="127.0.0.1:$PORT"
    check "(k) the API source syncs" wait_until 10 k8s_is .synced true
    check "(k) switch unreachable: /healthz is 503" healthz_is 503
    check "(k) stats: not connected to the switch" stats_refused
    check "(k) /metrics answers" scrape "$T/k1.prom"
    check "(k) /metrics is valid" prom check "$T/k1.prom"
    for m in "ovs_netpol_connected source=k8s 1" \
             "ovs_netpol_source_synced source=k8s 1" \
             "ovs_netpol_connected source=openflow 0" \
             "ovs_netpol_initial_sync_done 0" \
             "ovs_netpol_flow_stats_up 0" \
             "ovs_netpol_objects kind=pod 1" \
             "ovs_netpol_errors_total source=k8s kind=transport 0" \
             "ovs_netpol_connected source=manifests none"; do
        read -r -a words <<<"$m"
        want=${words[-1]}
        unset 'words[-1]'
        check "(k) $m" equals "$(metric "$T/k1.prom" "${words[@]}")" "$want"
    done
    check "(k) ovs_netpol_k8s_events_total{type=added} is exported" \
        test "$(metric "$T/k1.prom" ovs_netpol_k8s_events_total type=added)" != none
    check "(k) SIGTERM stops the agent" agent_signal TERM
}
if command -v openssl >/dev/null && command -v curl >/dev/null; then
    k8s_setup
    k8s_mode
else
    printf '# (k) skipped: openssl or curl not installed\n'
fi
check "no sanitizer report in the agents' output" no_sanitizer_reports

lib_finish
