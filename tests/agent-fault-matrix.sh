#!/bin/bash
# tests/agent-fault-matrix.sh: ovs-netpol-agent against a matrix of faults,
# one result line per fault, with a real ovs-vswitchd (userspace datapath)
# and pods in network namespaces.
#
# Pods in namespace x: a, b, c.  Policy v1: b accepts TCP 80 and 8080 from
# a only; a may send only to b on TCP 80 and 8080.  v2 also lets c reach
# b on TCP 80.  Always allowed: a->b:80, b->a:80, c->a:80.  Always denied:
# a->b:81, a->c:80, c->b:81.
#
# Every fault runs with probe loops in the background: the always-denied
# pairs must never pass (not one probe, during the fault or the recovery:
# nothing was opened), and, unless the fault stops the switch, the
# always-allowed pair a->b:80 must never fail.  After the fault: wait-sync,
# the switch holds exactly the agent's desired flows (`ovs-netpolctl flows`
# against a dump of our cookie), and every verdict of the policy in force
# is right (nothing was lost).
#
#   ovsdb     ovsdb-server SIGKILLed and restarted on the same database:
#             the agent and ovs-vswitchd reconnect; not one flow mod.
#   switch    ovs-vswitchd SIGKILLed and restarted: the agent reinstalls.
#   kill      The agent SIGKILLed in the middle of a big change (a file of
#             2,000 policies): right after the file is written, and as soon
#             as `status` says "installing" (or, if the install is too fast
#             to see, once it is done), when the policies come and when
#             they go; each time restarted and checked.
#   inflight  The same with a bundle surely in flight: ovs-vswitchd is
#             stopped (SIGSTOP) before the change, the agent SIGKILLed
#             while it says "installing", then ovs-vswitchd continues.
#             (A change that comes while the agent's probe of the idle
#             switch waits for the stopped switch is held back behind it:
#             then it is undone and made again, up to 3 times.)
#   dir       The manifest directory moved away and back, removed (rm -rf)
#             and re-created at once, and removed, noticed by the agent,
#             then re-created: not one flow mod.
#   log       The log file on a full disk (--log-file=/dev/full, then a
#             full tmpfs in a private mount namespace) with debug logging:
#             the agent enforces policy changes, answers wait-sync and
#             survives SIGHUP.
#   flap      A policy flapping 1,000 times as fast as python can write
#             (alternately v2 and v1, ending on v1), renamed into place,
#             then again written in place (truncate and write).  The
#             agent's RSS is printed before and after and must not grow by
#             more than 8 MiB; an empty policy file is never applied.
#   big       10,000 policies in one file, all selecting pod b (c may reach
#             b on TCP 20000-29999): one flow would carry 10,000
#             conjunction actions, so they must spread over priority bands
#             (64 KiB OpenFlow messages).  Into a running agent, then at a
#             cold start: wait-sync within 30 s each (the time is
#             printed), no OpenFlow error, rules of the first, middle and
#             last band pass real packets; then removed (30 s).
#   churn     Pods churning while ovs-vswitchd is down: a pod deleted, two
#             added (ovs-vsctl --no-wait), the Pod objects changed; then
#             the switch starts: the flows follow, every verdict is right,
#             nothing mentions the deleted pod's port.
#
# FAULTS="ovsdb big" runs only those (in the order above).
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per fault ("ok - fault N
# NAME: ..." or "FAIL - fault N NAME: what went wrong; ..."), "#" lines for
# timings and details.

# Many functions are only called through fcheck and wait_until.
# shellcheck disable=SC2317
test_name=agent-fault-matrix
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.8.0.1 B=10.8.0.2 C=10.8.0.3 D=10.8.0.4 E=10.8.0.5
# The agent's --manifests directory, in a directory of its own: the agent
# watches the parent too, and the probe loops write into $T all the time
# (see the busy-parent case of fault "dir").
M=$T/quiet/m
BIG_PORT=20000                  # big: c -> b on 20000-29999
MID_PORT=30000                  # kill, inflight: c -> b on 30000-31999

# write_cluster [POD...]: namespace x and its pods, each NAME:IP:APP
# (default: a, b and c).
write_cluster() {
    local spec name ip app
    [ $# -gt 0 ] || set -- a:$A:a b:$B:b c:$C:c
    {
        yaml_namespace x
        for spec in "$@"; do
            IFS=: read -r name ip app <<<"$spec"
            yaml_pod x "$name" "$ip" "app: $app"
        done
    } | write_file "$M/cluster.yaml"
}


write_policy() { # v1|v2
    yaml_ab_policies "$1" | write_file "$M/policy.yaml"
}

# Adds FILE to the manifests (renamed into place).
add_manifest() { # FILE
    cp "$1" "$M/${1##*/}.tmp"
    mv "$M/${1##*/}.tmp" "$M/${1##*/}"
}

main_agent_start() {
    agent_start agent --manifests="$M"
}

# A status field, or nothing if the agent does not answer within 5 s (it
# may be busy computing).
sget() { # JQ-FILTER
    timeout 5 "$CTL" status --format=json 2>/dev/null | jq -r "$1"
}

sget_is() { # JQ-FILTER VALUE
    [ "$(sget "$1")" = "$2" ]
}

sget_ge() { # JQ-FILTER N
    local v
    v=$(sget "$1") && [ -n "$v" ] && [ "$v" != null ] && [ "$v" -ge "$2" ]
}

flow_mods() {
    sget .switch.flow_mods
}

# SIGTERM, or SIGKILL if the agent does not stop within 5 s.
agent_stop() {
    agent_signal TERM || agent_signal KILL
}

# --- verdicts ------------------------------------------------------------

# verdicts_ok SPEC...: runs the probes "pass|fail POD ADDR PORT" in
# parallel; prints the wrong ones; true if none is.
verdicts_ok() {
    local spec expect pod addr port i=0 pids=() bad=0 pid
    mkdir -p "$T/verdicts"
    for spec in "$@"; do
        i=$((i + 1))
        read -r expect pod addr port <<<"$spec"
        (
            if [ "$expect" = pass ]; then t=3; else t=0.5; fi
            if probe "$pod" "$addr" "$port" tcp "$t"; then got=pass; else got=fail; fi
            [ "$got" = "$expect" ] && exit 0
            printf '#   %s -> %s:%s expected %s, got %s\n' "$pod" "$addr" \
                "$port" "$expect" "$got"
            exit 1
        ) >"$T/verdicts/$i" &
        pids+=($!)
    done
    i=0
    for pid in "${pids[@]}"; do
        i=$((i + 1))
        wait "$pid" || bad=1
        cat "$T/verdicts/$i"
    done
    return "$bad"
}

V_ALWAYS=("pass x/a $B 80" "pass x/b $A 80" "pass x/c $A 80"
          "fail x/a $B 81" "fail x/a $C 80" "fail x/c $B 81")
V1=("${V_ALWAYS[@]}" "fail x/c $B 80")
V2=("${V_ALWAYS[@]}" "pass x/c $B 80")

# --- one fault -------------------------------------------------------------

# fault_begin NAME DESCRIPTION [LOOP...]: starts the probe loops, each
# deny|allow:POD:TARGET:PORT (default: the always-denied pairs and
# a->b:80), and returns after their first probes.
declare -A pod_ip=([a]=$A [b]=$B [c]=$C [d]=$D [e]=$E)
fault_n=0
fault_begin() {
    local spec kind pod target port
    fault_n=$((fault_n + 1))
    fault_name="$1: $2"
    shift 2
    [ $# -gt 0 ] || set -- deny:a:b:81 deny:a:c:80 deny:c:b:81 allow:a:b:80
    fault_problems=()
    fault_notes=()
    : >"$T/fault.details"
    loop_names=()
    for spec in "$@"; do
        IFS=: read -r kind pod target port <<<"$spec"
        if [ "$kind" = deny ]; then
            loop_start "$kind-$pod-$target:$port" "x/$pod" "${pod_ip[$target]}" "$port" tcp 0.3
        else
            loop_start "$kind-$pod-$target:$port" "x/$pod" "${pod_ip[$target]}" "$port" tcp 1
        fi
    done
    loops_mark
    must wait_until 10 loops_reach 1
    fault_t0=$(now)
}

# fcheck DESC CMD...: a check of the current fault; a failure goes into
# the fault's result line, with what CMD printed.  Always returns 0.
fcheck() {
    local desc=$1
    shift
    "$@" >"$T/fcheck.out" 2>&1 && return 0
    fault_problems+=("$desc")
    {
        printf '#   %s:\n' "$desc"
        head -n 20 "$T/fcheck.out" | sed 's/^#   /#     /; /^#/!s/^/#     /'
    } >>"$T/fault.details"
}

note() {
    fault_notes+=("$*")
}

# The probes of loop NAME that gave RESULT, with their times relative to
# the fault's start.
loop_times() { # NAME RESULT
    awk -v r="$2" -v t0="$fault_t0" '$1 == r { printf "%+.2fs ", $2 - t0 }' \
        "$T/loop.$1"
}

# The longest time between the starts of two probes of loop NAME, in ms:
# how long the pair was stuck.
loop_max_gap() { # NAME
    awk 'NR > 1 && $2 - t > max { max = $2 - t } { t = $2 }
         END { printf "%.0f", max * 1000 }' "$T/loop.$1"
}

# Failures of loop NAME that started outside [FROM, TO] (epoch seconds).
fails_outside() { # NAME FROM TO
    awk -v from="$2" -v to="$3" '$1 == "fail" && ($2 < from || $2 > to)' \
        "$T/loop.$1" | wc -l
}

# fault_end kept|lost-while-down|window:FROM:TO: waits for more probes,
# stops the loops, checks them (denied: never passed; allowed: never failed
# if "kept", or never failed outside [FROM, TO]), then wait-sync, the flows
# and the verdicts; prints the line.
fault_end() {
    local kept=$1 name n pass fail ms line from to
    shift
    loops_mark
    wait_until 10 loops_reach 2 || fcheck "the probe loops went on" false
    loops_stop
    ms=$(ms_since "$fault_t0")
    for name in "${loop_names[@]}"; do
        n=$(wc -l <"$T/loop.$name")
        pass=$(loop_count "$name" pass)
        fail=$(loop_count "$name" fail)
        case $name in
            deny-*)
                fcheck "denied ${name#deny-} passed $pass of $n probes (at $(loop_times "$name" pass))" \
                    test "$pass" = 0
                note "${name#deny-} $pass/$n passed" ;;
            allow-*)
                case $kept in
                    kept)
                        fcheck "allowed ${name#allow-} failed $fail of $n probes (at $(loop_times "$name" fail))" \
                            test "$fail" = 0 ;;
                    window:*)
                        IFS=: read -r _ from to <<<"$kept"
                        fcheck "allowed ${name#allow-} failed outside the outage (at $(loop_times "$name" fail))" \
                            test "$(fails_outside "$name" "$from" "$to")" = 0 ;;
                esac
                note "${name#allow-} $pass/$n passed, longest gap $(loop_max_gap "$name") ms" ;;
        esac
    done
    fcheck "wait-sync" wait_sync 30
    fcheck "the switch holds exactly the agent's flows" switch_matches_agent
    note "$(n_switch_flows) flows = desired"
    fcheck "verdicts of policy $policy" verdicts_ok "${verdicts[@]}"
    line="fault $fault_n $fault_name"
    if [ ${#fault_problems[@]} = 0 ]; then
        pass "$line: $(join '; ' "${fault_notes[@]}") ($ms ms)"
    else
        fail "$line: $(join '; ' "${fault_problems[@]}") ($ms ms)"
        printf '#   notes: %s\n' "$(join '; ' "${fault_notes[@]}")"
        cat "$T/fault.details"
    fi
    printf '# fault %d (%s) took %s ms\n' "$fault_n" "${fault_name%%:*}" "$ms"
}

join() { # SEPARATOR WORD...
    local sep=$1 out=''
    shift
    for w in "$@"; do out=${out:+$out$sep}$w; done
    printf '%s' "$out"
}

# --- the faults ------------------------------------------------------------

# While ovsdb-server is down, until it reconnects, ovs-vswitchd's userspace
# datapath stalls (packets wait, for seconds: also without any agent), so
# a probe of an allowed pair may fail then; not before, not after.
fault_ovsdb() {
    local mods connects t1 t_kill
    fault_begin ovsdb "ovsdb-server SIGKILL and restart"
    mods=$(flow_mods)
    connects=$(sget .sources.ovsdb.connects)
    # A probe that started up to its timeout (1 s) before may fail too.
    t_kill=$(awk -v t="$EPOCHREALTIME" 'BEGIN { printf "%.6f", t - 1.1 }')
    must "$sb" kill-ovsdb "$SB"
    t1=$(now)
    fcheck "the agent sees ovsdb-server gone" \
        wait_until 10 sget_is .sources.ovsdb.connected false
    loops_mark
    fcheck "probes while ovsdb-server is down" wait_until 10 loops_reach 1
    must "$sb" start-ovsdb "$SB"
    note "ovsdb-server down $(ms_since "$t1") ms"
    t1=$(now)
    fcheck "the agent reconnects to ovsdb-server" \
        wait_until 15 sget_ge .sources.ovsdb.connects $((connects + 1))
    fcheck "wait-sync after the restart" wait_sync 15
    note "agent resynced $(ms_since "$t1") ms after the restart"
    # An ovs-vsctl write returns once ovs-vswitchd has applied it: it is
    # back on the database too.
    fcheck "ovs-vswitchd reconnects to ovsdb-server" \
        "$sb" vsctl "$SB" --timeout=15 set Open_vSwitch . \
        "external_ids:onp-fault-matrix=$fault_n"
    note "ovs-vswitchd reconnected $(ms_since "$t1") ms after the restart"
    fcheck "no flow mod" equals "$(flow_mods)" "$mods"
    note "$(($(flow_mods) - mods)) flow mods"
    fault_end "window:$t_kill:$EPOCHREALTIME"
}

fault_switch() {
    local connects n_flows t1
    fault_begin switch "ovs-vswitchd SIGKILL and restart"
    connects=$(sget .switch.connects)
    n_flows=$(n_switch_flows)
    must "$sb" kill-switch "$SB"
    t1=$(now)
    must "$sb" start-switch "$SB"
    note "switch down $(ms_since "$t1") ms"
    t1=$(now)
    fcheck "a->b:80 passes again within 10 s" wait_until 10 a_reaches_b
    note "a->b:80 back $(ms_since "$t1") ms after the switch"
    fcheck "wait-sync" wait_sync 15
    fcheck "the agent reconnected once" \
        equals "$(sget .switch.connects)" $((connects + 1))
    fcheck "as many flows as before ($n_flows)" \
        equals "$(n_switch_flows)" "$n_flows"
    fault_end lost-while-down
}

a_reaches_b() {
    probe x/a "$B" 80 tcp 0.5
}

installing() {
    timeout 5 "$CTL" status --format=json 2>/dev/null \
        | grep -q '"state": *"installing"'
}

# kill_when_installing WHAT POLICIES: polls `status` for 5 s and SIGKILLs
# the agent as soon as it says "installing"; or, if the install was too
# fast to see, once it is done (POLICIES in force and synced).
kill_when_installing() {
    local deadline polls=0 seen=''
    deadline=$(deadline_in 5)
    while ! past "$deadline"; do
        polls=$((polls + 1))
        if installing; then
            agent_signal KILL
            note "$1: SIGKILL while installing (poll $polls)"
            return 0
        fi
        seen=$(sget '"\(.synced) \(.counts.policies)"')
        if [ "$seen" = "true $2" ]; then
            agent_signal KILL
            note "$1: installed before poll $polls saw it; SIGKILL after"
            return 0
        fi
    done
    agent_signal KILL
    note "$1: SIGKILL after 5 s of polling ($polls polls, last: $seen)"
    fcheck "$1: the change was seen within 5 s" false
}

# restart_and_check POLICIES: restarts the agent, checks it syncs with
# POLICIES policies and the switch holds exactly its flows.
restart_and_check() {
    local t1
    t1=$(now)
    main_agent_start
    fcheck "wait-sync after the restart" wait_sync 30
    note "restart to synced $(ms_since "$t1") ms"
    fcheck "$1 policies after the restart" \
        equals "$(sget .counts.policies)" "$1"
    fcheck "the switch holds exactly the agent's flows after the restart" \
        switch_matches_agent
}

mid_verdicts() { # pass|fail
    verdicts_ok "$1 x/c $B $MID_PORT" "$1 x/c $B 31999" "fail x/c $B 81" \
        "fail x/a $B $MID_PORT"
}

fault_kill() {
    fault_begin kill "agent SIGKILL during a big change (2,000 policies)"
    # Right after the file appears.
    add_manifest "$T/mid.yaml"
    agent_signal KILL
    note "added: SIGKILL right after the write"
    restart_and_check 2002
    fcheck "2,000 policies in force" mid_verdicts pass
    # While they go.
    rm "$M/mid.yaml"
    kill_when_installing removed 2
    restart_and_check 2
    fcheck "2,000 policies gone" mid_verdicts fail
    # While they come.
    add_manifest "$T/mid.yaml"
    kill_when_installing added 2002
    restart_and_check 2002
    fcheck "2,000 policies in force again" mid_verdicts pass
    rm "$M/mid.yaml"
    fcheck "wait-sync after removing them" wait_sync 30
    fault_end kept
}

# The pid of the sandbox's ovs-vswitchd.
switch_pid() {
    cat "$SB/run/ovs-vswitchd.pid"
}

# Whether the change in the agent is being installed ("installing") or held
# back ("held": a probe of the switch, sent just before the change came,
# waits for the stopped switch, and the change waits behind it); else "".
inflight_state() {
    sget 'if .switch.state == "installing" then "installing"
          elif .switch.state == "probing"
               and .desired_seq > .switch.installed_seq then "held"
          else "" end'
}

inflight_seen() {
    inflight=$(inflight_state)
    [ -n "$inflight" ]
}

# kill_in_flight SWITCH-PID WHAT DO UNDO: stops ovs-vswitchd, makes the
# change (command DO), waits for "installing", SIGKILLs the agent and lets
# ovs-vswitchd continue.  A change held back behind a probe is undone
# (UNDO) and made again, up to 3 times: the agent probes an idle switch
# every second, so that happens now and then.
kill_in_flight() {
    local pid=$1 attempt inflight=''
    for attempt in 1 2 3; do
        kill -STOP "$pid"
        "$3"
        if ! wait_until 10 inflight_seen; then
            break
        elif [ "$inflight" = installing ]; then
            agent_signal KILL
            note "$2: SIGKILL while installing (attempt $attempt)"
            kill -CONT "$pid"
            return 0
        fi
        kill -CONT "$pid"
        "$4"
        fcheck "$2: wait-sync after a change held back by a probe" \
            wait_sync 30
    done
    agent_signal KILL
    kill -CONT "$pid"
    fcheck "$2: the agent says installing (last: '$inflight')" false
}

add_mid() { add_manifest "$T/mid.yaml"; }
remove_mid() { rm "$M/mid.yaml"; }

fault_inflight() {
    fault_begin inflight "agent SIGKILL with a bundle in flight (ovs-vswitchd stopped)" \
        deny:a:b:81 deny:a:c:80 deny:c:b:81 allow:a:b:80
    kill_in_flight "$(switch_pid)" added add_mid remove_mid
    restart_and_check 2002
    fcheck "2,000 policies in force" mid_verdicts pass
    kill_in_flight "$(switch_pid)" removed remove_mid add_mid
    restart_and_check 2
    fcheck "2,000 policies gone" mid_verdicts fail
    # A stopped userspace switch forwards nothing.
    fault_end lost-while-down
}

fault_dir() {
    local mods
    fault_begin dir "manifest directory moved away and back, removed and re-created"
    mods=$(flow_mods)
    mkdir -p "$T/saved"
    cp "$M"/*.yaml "$T/saved/"
    # mv away, noticed by the agent, and back.
    mv "$M" "$M.away"
    fcheck "the agent notices the directory is away" \
        wait_until 10 dir_missing
    mv "$M.away" "$M"
    fcheck "wait-sync after mv back" wait_sync 15
    # rm -rf and re-create at once, as a script would.
    rm -rf "$M"
    mkdir "$M"
    cp "$T/saved"/*.yaml "$M/"
    fcheck "wait-sync after rm -rf and re-create" wait_sync 15
    # rm -rf, noticed by the agent, then re-created.
    rm -rf "$M"
    fcheck "the agent notices the directory is gone" \
        wait_until 10 dir_missing
    mkdir "$M"
    cp "$T/saved"/*.yaml "$M/"
    fcheck "wait-sync after the re-creation" wait_sync 15
    fcheck "no flow mod" equals "$(flow_mods)" "$mods"
    note "$(($(flow_mods) - mods)) flow mods"
    # A busy parent directory (a file there written every 10 ms): changes
    # of the manifests are still picked up, without wait-sync (which would
    # rescan by itself).
    background busy_parent
    busy_pid=$!
    local t1
    t1=$(now)
    write_policy v2
    if wait_until 10 c_reaches_b; then
        note "busy parent: v2 applied after $(ms_since "$t1") ms"
    else
        fcheck "busy parent (a file written every 10 ms next to the manifests): v2 not applied within 10 s without wait-sync" \
            false
    fi
    write_policy v1
    fcheck "busy parent: v1 not applied again within 10 s without wait-sync" \
        wait_until 10 c_denied_b
    touch "$T/quiet/busy.stop"
    wait "$busy_pid" || true
    rm -f "$T/quiet/busy.stop" "$T/quiet/busy"
    fault_end kept
}

busy_parent() {
    "$python" -I -S -c '
import os, sys, time
while not os.path.exists(sys.argv[1] + ".stop"):
    with open(sys.argv[1], "a") as f:
        f.write("busy\n")
    time.sleep(0.01)
' "$T/quiet/busy"
}

c_reaches_b() {
    probe x/c "$B" 80 tcp 0.5
}

c_denied_b() {
    ! probe x/c "$B" 80 tcp 0.3
}

dir_missing() {
    [ -n "$(sget '.sources.manifests.waiting_for // empty')" ]
}

# log_fault NAME OPTION...: an agent with debug logging into a full disk
# applies v2 then v1, answers wait-sync, survives SIGHUP.
log_fault() {
    local name=$1 t1
    shift
    t1=$(now)
    agent_start "$name" --manifests="$M" -vfile:dbg "$@"
    fcheck "$name: wait-sync at start" wait_sync 15
    write_policy v2
    fcheck "$name: wait-sync after v2" wait_sync 15
    fcheck "$name: verdicts of v2" verdicts_ok "${V2[@]}"
    kill -HUP "$agent_pid"
    write_policy v1
    fcheck "$name: wait-sync after v1 and SIGHUP" wait_sync 15
    fcheck "$name: verdicts of v1" verdicts_ok "${V1[@]}"
    fcheck "$name: still running" alive "$agent_pid"
    fcheck "$name: the switch holds exactly the agent's flows" \
        switch_matches_agent
    fcheck "$name: SIGTERM stops it" agent_signal TERM
    note "$name: $(ms_since "$t1") ms"
}

fault_log() {
    local real_agent=$AGENT
    fault_begin log "log file on a full disk"
    must agent_stop
    log_fault devfull --log-file=/dev/full
    # A 64 KiB tmpfs, filled up, in the agent's own mount namespace (gone
    # with the agent).
    cat >"$T/full-disk.sh" <<'EOF'
#!/bin/sh
# full-disk.sh DIR AGENT ARGS...: mounts a full tmpfs on DIR, runs AGENT.
set -e
dir=$1
shift
mount -t tmpfs -o size=64k tmpfs "$dir"
dd if=/dev/zero of="$dir/filler" bs=4096 2>/dev/null || true
exec "$@"
EOF
    mkdir -p "$T/full"
    AGENT=$T/agent-on-full-disk
    printf '#!/bin/sh\nexec unshare -m --propagation private sh %s %s %s "$@"\n' \
        "$T/full-disk.sh" "$T/full" "$real_agent" >"$AGENT"
    chmod +x "$AGENT"
    log_fault tmpfs --log-file="$T/full/agent.log"
    AGENT=$real_agent
    main_agent_start
    fault_end kept
}

# flap N renamed|in-place: N writes of policy.yaml, alternately v2 and v1
# (an even N ends on v1).
flap() {
    "$python" -I -S - "$M/policy.yaml" "$T/p.v1" "$T/p.v2" "$1" "$2" <<'EOF'
import os, sys
path, v1, v2, n, mode = sys.argv[1:]
texts = [open(v1).read(), open(v2).read()]
for i in range(1, int(n) + 1):
    text = texts[i % 2]
    if mode == "renamed":
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    else:
        with open(path, "w") as f:
            f.write(text)
EOF
}

# Whether policy.yaml was ever applied empty since log line $1.
never_empty() { # LINE
    ! tail -n +"$1" "$T/agent.log" | grep -E 'policy\.yaml: 0 objects'
}

fault_flap() {
    local mode=$1 rss0 rss1 log_lines t1
    fault_begin "flap-$mode" "a policy flapping 1,000 times ($mode)"
    must wait_sync
    flap 100 "$mode"
    must wait_sync
    rss0=$(rss_kib "$agent_pid")
    log_lines=$(wc -l <"$T/agent.log")
    t1=$(now)
    flap 1000 "$mode"
    note "1000 writes in $(ms_since "$t1") ms"
    t1=$(now)
    fcheck "wait-sync after the flapping" wait_sync 30
    note "synced $(ms_since "$t1") ms later"
    rss1=$(rss_kib "$agent_pid")
    note "RSS $rss0 -> $rss1 KiB"
    printf '# fault %d (flap-%s): agent RSS %s KiB before, %s KiB after 1,000 writes\n' \
        "$fault_n" "$mode" "$rss0" "$rss1"
    fcheck "RSS grew by $((rss1 - rss0)) KiB (at most 8192)" \
        test $((rss1 - rss0)) -le 8192
    fcheck "policy.yaml holds v1" cmp -s "$M/policy.yaml" "$T/p.v1"
    fcheck "an empty policy.yaml was never applied" \
        never_empty $((log_lines + 1))
    fault_end kept
}

big_verdicts() { # pass|fail
    verdicts_ok "$1 x/c $B $BIG_PORT" "$1 x/c $B 25000" "$1 x/c $B 29999" \
        "fail x/c $B 81" "fail x/a $B $BIG_PORT"
}

log_mark() {
    agent_log_line=$(($(wc -l <"$T/agent.log") + 1))
    switch_log_line=$(($(wc -l <"$SB/log/ovs-vswitchd.log") + 1))
}

# No OpenFlow error since log_mark: none counted by the agent, none in its
# log or ovs-vswitchd's.
no_openflow_error() {
    local bad=0
    equals "$(sget .switch.bundle_errors)" 0 || bad=1
    if tail -n +"$agent_log_line" "$T/agent.log" \
        | grep -E '\|(ERR|EMER)\||OFPBRC|OFPBFC|OFPFMFC'; then
        bad=1
    fi
    if tail -n +"$switch_log_line" "$SB/log/ovs-vswitchd.log" \
        | grep -E '\|(WARN|ERR)\|.*(OFP|bundle|flow_mod)'; then
        bad=1
    fi
    return "$bad"
}

# big_installed WHEN MS: the checks once the 10,000 policies are in.
big_installed() {
    note "$1: synced in $2 ms, $(n_switch_flows) flows, $(sget .engine.bands) bands"
    printf '# fault %d (big): 10,000 policies, %s: wait-sync after %s ms\n' \
        "$fault_n" "$1" "$2"
    fcheck "$1: no OpenFlow error" no_openflow_error
    fcheck "$1: the switch holds exactly the agent's flows" switch_matches_agent
    fcheck "$1: at least 3 bands" test "$(sget .engine.bands)" -ge 3
    fcheck "$1: rules of every band pass packets" big_verdicts pass
}

# big_timeout WHAT: the agent did not sync within 30 s: says so, shows
# what it does, and gets it out of the way.
big_timeout() {
    fcheck "$1: wait-sync within 30 s" false
    local st
    st=$(timeout 5 "$CTL" status --format=json 2>/dev/null \
         | jq -c '{synced, engine}')
    printf '# fault %d (big): %s: no wait-sync within 30 s; status: %s\n' \
        "$fault_n" "$1" "${st:-no answer within 5 s}"
    printf '# fault %d (big): agent %s: %s of CPU\n' "$fault_n" "$agent_pid" \
        "$(ps -o time= -p "$agent_pid")"
    agent_stop
}

fault_big() {
    local t1
    fault_begin big "10,000 policies in one file, all selecting pod b"
    # Into a running agent.
    log_mark
    t1=$(now)
    add_manifest "$T/big.yaml"
    if wait_sync 30; then
        big_installed "running agent" "$(ms_since "$t1")"
        agent_stop
    else
        big_timeout "running agent"
    fi
    # At a cold start.
    log_mark
    t1=$(now)
    main_agent_start
    if wait_sync 30; then
        big_installed "cold start" "$(ms_since "$t1")"
    else
        big_timeout "cold start"
        main_agent_start
        fcheck "cold start: wait-sync after a restart" wait_sync 30
    fi
    # Removed.
    t1=$(now)
    rm "$M/big.yaml"
    if wait_sync 30; then
        note "removed: synced in $(ms_since "$t1") ms"
    else
        big_timeout "removed"
        main_agent_start
        fcheck "removed: wait-sync after a restart" wait_sync 30
    fi
    fcheck "removed: the rules are gone" big_verdicts fail
    # While ovs-vswitchd commits a bundle of tens of thousands of flows its
    # userspace datapath stalls (for seconds): a->b:80 may time out then.
    fault_end lost-while-down
}

fault_churn() {
    local t1
    # No loop from c, which goes away.
    fault_begin churn "pods churning while ovs-vswitchd is down" \
        deny:a:b:81 deny:a:c:80 allow:a:b:80
    c_port=$(ofport_of x/c)
    must "$sb" kill-switch "$SB"
    t1=$(now)
    must "$sb" del-pod "$SB" x/c --no-wait
    must "$sb" add-pod "$SB" x/d --ip "$D/24" --ofport 14 --serve 80,81 --no-wait
    must "$sb" add-pod "$SB" x/e --ip "$E/24" --ofport 15 --serve 80,81 --no-wait
    # d is labelled like c (v1: may not reach b), e like a (may reach b:80
    # only).
    write_cluster "a:$A:a" "b:$B:b" "d:$D:c" "e:$E:a"
    must "$sb" start-switch "$SB"
    note "switch down $(ms_since "$t1") ms"
    fcheck "d got ofport 14" equals "$(ofport_of x/d)" 14
    fcheck "e got ofport 15" equals "$(ofport_of x/e)" 15
    fcheck "wait-sync" wait_sync 30
    switch_flows >"$T/sw.flows"
    fcheck "no flow mentions the deleted pod's port $c_port" no_c_port
    verdicts=("pass x/a $B 80" "pass x/b $A 80" "fail x/a $B 81"
              "pass x/e $B 80" "fail x/e $B 81" "fail x/e $A 80"
              "fail x/d $B 80" "fail x/d $B 81" "pass x/b $D 80"
              "pass x/b $E 80" "pass x/d $A 80")
    fault_end lost-while-down
}

no_c_port() {
    ! grep -E "in_port=${c_port}[, ]|cookie=0x4e500[23]00$(printf '%08x' "$c_port")," \
        "$T/sw.flows"
}

# --- set-up ------------------------------------------------------------------

sandbox_start
t0=$(now)
must "$sb" add-pod "$SB" x/a --ip $A/24 --ofport 11 --serve 80,81
must "$sb" add-pod "$SB" x/b --ip $B/24 --ofport 12 \
    --serve 80,81,8080,$BIG_PORT,25000,29999,$MID_PORT,31999
must "$sb" add-pod "$SB" x/c --ip $C/24 --ofport 13 --serve 80,81
printf '# 3 pods in %s ms\n' "$(ms_since "$t0")"
mkdir -p "$M"
write_cluster
write_policy v1
yaml_ab_policies v1 >"$T/p.v1"
yaml_ab_policies v2 >"$T/p.v2"
gen_policies 2000 mid $MID_PORT b c >"$T/mid.yaml"
gen_policies 10000 big $BIG_PORT b c >"$T/big.yaml"
policy=v1 verdicts=("${V1[@]}")
main_agent_start
must wait_sync
check "set-up: the switch holds exactly the agent's flows" switch_matches_agent
check "set-up: verdicts of policy v1" verdicts_ok "${V1[@]}"

t_all=$(now)
for f in ${FAULTS:-ovsdb switch kill inflight dir log flap big churn}; do
    case $f in
        flap) fault_flap renamed; fault_flap in-place ;;
        ovsdb | switch | kill | inflight | dir | log | big | churn) "fault_$f" ;;
        *) hard_error "unknown fault $f" ;;
    esac
done
printf '# %d faults in %s ms\n' "$fault_n" "$(ms_since "$t_all")"
lib_finish
