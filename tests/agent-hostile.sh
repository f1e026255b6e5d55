#!/bin/bash
# tests/agent-hostile.sh: ovs-netpol-agent in manifests mode against
# hostile manifest files, with real packets through a real ovs-vswitchd.
#
# Three pods in namespace x: a, b, c.  A valid policy file lets b accept
# TCP 80 from a only (a->b:80 passes, a->b:81 and c->b:80 are denied, b->a
# passes).  Then, one
# at a time, hostile files are dropped into the agent's manifests
# directory (each written elsewhere and renamed in, as a tool would):
#
#   billion-laughs.yaml  nine levels of nine aliases (10^9 strings)
#   huge.yaml            100 MB (over the 64 MiB limit)
#   labels.yaml          one pod with 10^6 labels (about 16 MB)
#   deep.yaml, deep.json 10,000 nested sequences, in YAML and in JSON
#   policy.yaml          the valid policy file itself overwritten with 10,000
#                        nested sequences (its policy must stay in force)
#
# For each: a warning naming the file is logged within HOSTILE_MAX_SECONDS
# (default 10 s, tripled for a sanitizer build; the time is printed), the
# agent keeps running and answering, the flows in the switch do not change,
# and the verdicts of probes with real packets do not change.  At the end
# the agent's peak RSS (VmHWM) must be under HOSTILE_MAX_RSS_MB (default
# 200, four times that for a sanitizer build), and a valid change to the
# policy file still applies.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-hostile
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.1.0.1 B=10.1.0.2 C=10.1.0.3
M=$T/m                          # The agent's --manifests directory.
max_seconds=${HOSTILE_MAX_SECONDS:-10}
max_rss_mb=${HOSTILE_MAX_RSS_MB:-200}
if ldd "$AGENT" 2>/dev/null | grep -q 'lib[at]san'; then
    # A sanitizer build: ASan's shadow memory and quarantine, and every
    # instrumented step several times slower.
    max_rss_mb=$((max_rss_mb * 4))
    max_seconds=$((max_seconds * 3))
fi

write_policy() { # FILE
    write_file "$1" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
}

queue_verdicts() {
    queue_probe pass x/a $B 80
    queue_probe fail x/a $B 81
    queue_probe fail x/c $B 80
    queue_probe pass x/b $A 80
}

# --- hostile files --------------------------------------------------------

make_laughs() { # FILE
    {
        printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\n'
        printf '  namespace: x\nspec:\n'
        printf '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        local prev=a l
        for l in b c d e f g h i; do
            printf '  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' \
                "$l" "$l" "$prev" "$prev" "$prev" "$prev" "$prev" "$prev" \
                "$prev" "$prev" "$prev"
            prev=$l
        done
    } >"$1"
}

make_huge() { # FILE
    # Valid YAML all the way (comments), 100 MB.
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: huge}\n' >"$1"
    yes '# padding padding padding padding padding padding padding padding' \
        | head -c 100000000 >>"$1"
}

make_labels() { # FILE
    "$python" - "$1" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: labels\n"
            "  namespace: x\n  labels:\n")
    f.write("".join("    k%d: v\n" % i for i in range(1000000)))
    f.write("status: {phase: Running, podIPs: [{ip: 10.1.0.99}]}\n")
EOF
}

make_deep_yaml() { # FILE
    {
        printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: deep, namespace: x}\nspec: '
        head -c 10000 /dev/zero | tr '\0' '['
        head -c 10000 /dev/zero | tr '\0' ']'
        printf '\n'
    } >"$1"
}

make_deep_json() { # FILE
    {
        printf '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "deepj", "namespace": "x"}, "spec": '
        head -c 10000 /dev/zero | tr '\0' '['
        head -c 10000 /dev/zero | tr '\0' ']'
        printf '}\n'
    } >"$1"
}

# refused_logged NAME LINES: true once a warning naming NAME appears in the
# agent's log after its first LINES lines.
refused_logged() {
    tail -n +$(($2 + 1)) "$T/agent.log" | grep -E '\|(WARN|ERR)\|' \
        | grep -q -F "$1"
}

rss_kb() { # FIELD
    sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/"$agent_pid"/status
}

agent_alive() {
    alive "$agent_pid" && ctl status >/dev/null 2>&1
}

# drop NAME MAKER [REPLACE]: makes the file with MAKER in $T, renames it into
# $M (as $M/NAME) and checks the agent's reaction.
drop() {
    local name=$1 maker=$2 lines t0 ms
    "$maker" "$T/$name.new"
    printf '# %s: %s bytes\n' "$name" "$(stat -c %s "$T/$name.new")"
    lines=$(wc -l <"$T/agent.log")
    t0=$(now)
    mv -f "$T/$name.new" "$M/$name"
    if wait_until "$max_seconds" refused_logged "$M/$name" "$lines"; then
        ms=$(ms_since "$t0")
        pass "$name: refused, logged within ${max_seconds} s ($ms ms)"
        tail -n +$((lines + 1)) "$T/agent.log" | grep -E '\|(WARN|ERR)\|' \
            | grep -F "$M/$name" | head -n 2 | cut -c 1-240 | sed 's/^/#   /'
    else
        fail "$name: no warning naming $M/$name within ${max_seconds} s"
    fi
    check "$name: the agent keeps running and answering" agent_alive
    check "$name: wait-sync" wait_sync 20
    switch_flows >"$T/$name.flows"
    check "$name: the flows do not change" \
        same_file "$T/before.flows" "$T/$name.flows"
    check "$name: the switch holds exactly the agent's flows" \
        switch_matches_agent
    queue_verdicts
    run_probes "$name"
    printf '# %s: agent VmRSS %s kB, VmHWM %s kB\n' "$name" \
        "$(rss_kb VmRSS)" "$(rss_kb VmHWM)"
}

# --- set-up --------------------------------------------------------------

sandbox_start
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 --serve 80,81
must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80
mkdir -p "$M"
{
    yaml_namespace x
    yaml_pod x a $A "app: a"
    yaml_pod x b $B "app: b"
    yaml_pod x c $C "app: c"
} | write_file "$M/cluster.yaml"
write_policy "$M/policy.yaml"

agent_start agent --manifests="$M"
must wait_sync
check "the switch holds exactly the agent's flows" switch_matches_agent
switch_flows >"$T/before.flows"
check "flows installed" test -s "$T/before.flows"
queue_verdicts
run_probes "valid policy"
printf '# agent started: VmRSS %s kB, VmHWM %s kB\n' "$(rss_kb VmRSS)" \
    "$(rss_kb VmHWM)"

# --- hostile files -------------------------------------------------------

drop billion-laughs.yaml make_laughs
drop huge.yaml make_huge
rm -f "$M/huge.yaml"            # 100 MB of disk, no need to keep it.
drop labels.yaml make_labels
drop deep.yaml make_deep_yaml
drop deep.json make_deep_json

# The valid file itself replaced by hostile content: its policy stays.
drop policy.yaml make_deep_yaml
check "policy.yaml: its last objects are kept" \
    grep -q -F "$M/policy.yaml: not applied; keeping the 1 objects" \
    "$T/agent.log"

# --- the end -------------------------------------------------------------

hwm_kb=$(rss_kb VmHWM)
printf '# agent peak RSS (VmHWM): %s kB; limit %s MB\n' "$hwm_kb" "$max_rss_mb"
check "the agent's peak RSS stays under $max_rss_mb MB ($((hwm_kb / 1024)) MB)" \
    test "$hwm_kb" -lt $((max_rss_mb * 1024))

# A valid change still applies: c may now reach b too.
write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}, {podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
check "a valid change after all that: wait-sync" wait_sync
check "a valid change: the switch holds exactly the agent's flows" \
    switch_matches_agent
queue_probe pass x/a $B 80
queue_probe pass x/c $B 80
queue_probe fail x/c $B 81
run_probes "valid change"
check "SIGTERM stops the agent" agent_signal TERM
check "exit status 0" equals "$agent_rc" 0

lib_finish
