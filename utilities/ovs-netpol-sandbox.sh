#!/bin/bash
# ovs-netpol-sandbox.sh: a private Open vSwitch (userspace datapath) with
# "pods" plugged into it, for tests, the demo and developers.  Run as root.
#
#   ovs-netpol-sandbox.sh [-v] start DIR [--bridge BR]
#   ovs-netpol-sandbox.sh stop DIR
#   ovs-netpol-sandbox.sh kill-switch DIR         (SIGKILL ovs-vswitchd)
#   ovs-netpol-sandbox.sh start-switch DIR        (start it again, same db)
#   ovs-netpol-sandbox.sh restart-switch DIR      (kill-switch, start-switch)
#   ovs-netpol-sandbox.sh kill-ovsdb DIR          (SIGKILL ovsdb-server)
#   ovs-netpol-sandbox.sh start-ovsdb DIR         (start it again, same db)
#   ovs-netpol-sandbox.sh restart-ovsdb DIR       (kill-ovsdb, start-ovsdb)
#   ovs-netpol-sandbox.sh env DIR                 (eval "$(... env DIR)")
#   ovs-netpol-sandbox.sh add-pod DIR NS/NAME [--ip ADDR/LEN]... [--mac MAC]
#                         [--ofport N] [--style antrea|ovn|none]
#                         [--serve PORT[,PORT]...] [--no-wait]
#   ovs-netpol-sandbox.sh del-pod DIR NS/NAME [--no-wait]
#   ovs-netpol-sandbox.sh probe DIR NS/NAME ADDR PORT tcp|udp
#                         [--timeout SECONDS] [--print]
#   ovs-netpol-sandbox.sh exec DIR NS/NAME CMD...
#   ovs-netpol-sandbox.sh pods DIR
#   ovs-netpol-sandbox.sh vsctl|ofctl|appctl DIR ARGS...
#
# Layout.  Everything a sandbox owns is recorded under DIR, so `stop`
# removes exactly that and several sandboxes can live side by side:
#   DIR/sandbox.conf      hash, bridge and switch netns name (written first)
#   DIR/run DIR/db DIR/log DIR/etc
#                         OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR;
#                         DIR/run holds both daemons' pidfiles and sockets
#   DIR/pods/NS_NAME/     one per pod: `info` (names, addresses, MAC) and
#                         `server.pid` (the responder, with --serve)
#
# Global names (network namespaces; veth names, at most 15 characters) are
# made of a short hash of the absolute DIR, so two sandboxes never collide:
#   onp-HHHHHHHH-sw       the switch's netns: ovs-vswitchd, the bridge's
#                         internal port, the host ends of the veths
#   onp-HHHHHHHH-PPPPPPPP a pod's netns (P: hash of NS/NAME); its eth0
#   vHHHHHHPPPPPPPP       the host end of a pod's veth (in the switch netns)
#
# Why ovs-vswitchd gets its own netns: the userspace datapath creates a
# device named `ovs-netdev` (and one per bridge), so two userspace switches
# in one netns collide.  ovsdb-server only talks over a unix socket and
# stays in the caller's netns.  TX checksum offload is turned off on both
# veth ends: the userspace datapath does not complete partial checksums and
# its conntrack would mark every such packet invalid.
#
# Crashing the switch.  kill-switch sends ovs-vswitchd SIGKILL and waits for
# it to die, leaving what a crash leaves: its stale pidfile and sockets, the
# bridge's devices and the veths in the switch netns, the database (ports,
# ofports, external_ids) and ovsdb-server.  start-switch starts ovs-vswitchd
# again on that database and returns once it has applied it (an ovs-vsctl
# write waits for that): the bridge is back with the same ofports and no
# flows, as after a real restart (userspace conntrack state is gone too).
#
# Crashing the database.  kill-ovsdb sends ovsdb-server SIGKILL and waits
# for it to die; start-ovsdb starts it again on the same database file (its
# stale pidfile, lock file and socket are taken over) and returns once it
# answers.  ovs-vswitchd and every other client reconnect by themselves,
# after their own back-off.
#
# Pods while the switch is down.  ovs-vsctl normally waits for ovs-vswitchd
# to apply each change; add-pod and del-pod --no-wait only write the
# database (the port rows), so they work while ovs-vswitchd is down.  The
# switch gives the port its ofport (ofport_request) when it comes back, so
# add-pod --no-wait neither checks nor reports the ofport.
#
# Exit status: 0 success; 1 failure (for `probe`: no reply); 2 usage error.

set -eu

prog=ovs-netpol-sandbox
here=$(cd "$(dirname "$0")" && pwd -P)
verbose=0
no_wait=''                      # --no-wait of add-pod and del-pod.

# Debian's python3 starts in ~20 ms; a pyenv shim on PATH takes much longer.
if [ -n "${OVS_NETPOL_PYTHON:-}" ]; then
    python=$OVS_NETPOL_PYTHON
elif [ -x /usr/bin/python3 ]; then
    python=/usr/bin/python3
else
    python=python3
fi

die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s: %s\n' "$prog" "$*" >&2
    printf "Try '%s help'.\n" "$0" >&2
    exit 2
}

say() {
    [ "$verbose" = 0 ] || printf '%s\n' "$*"
}

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

# Quotes $1 for the shell (single quotes).
shquote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

short_hash() {
    printf '%s' "$1" | sha256sum | cut -c1-"$2"
}

# --- processes ---------------------------------------------------------

# True if PID exists and is not a zombie (a killed daemon stays a zombie
# until its parent, often init, reaps it).
alive() {
    local line state
    read -r line 2>/dev/null </proc/"$1"/stat || return 1
    state=${line##*) }
    state=${state%% *}
    [ "$state" != Z ]
}

# True if PID is a live process of this sandbox: every process we start has
# a path under DIR on its command line, which guards against a stale pidfile
# whose pid was reused by something else.
ours() {
    local cmdline
    alive "$1" || return 1
    cmdline=$(tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null) || return 1
    case $cmdline in
        *"$dir/"*) return 0 ;;
    esac
    return 1
}

# Prints the pid in pidfile $1 if it names a live process of this sandbox.
pidfile_pid() {
    local pid
    [ -f "$1" ] || return 1
    read -r pid <"$1" 2>/dev/null || return 1
    case $pid in
        '' | *[!0-9]*) return 1 ;;
    esac
    ours "$pid" || return 1
    printf '%s\n' "$pid"
}

# Prints those of the given pids that are still alive.
still_alive() {
    local pid
    for pid in "$@"; do
        if alive "$pid"; then printf '%s\n' "$pid"; fi
    done
}

# Waits up to $1 tenths of a second for the other pids to die; prints the
# survivors.
wait_gone() {
    local tenths=$1 left
    shift
    while :; do
        left=$(still_alive "$@")
        if [ -z "$left" ] || [ "$tenths" -le 0 ]; then break; fi
        sleep 0.1
        tenths=$((tenths - 1))
    done
    # One line: callers pass it on as a word list.
    printf '%s' "$left" | tr '\n' ' '
}

# Terminates the given pids: TERM, up to 5 s of grace, then KILL.
terminate() {
    local left
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    left=$(wait_gone 50 "$@")
    [ -n "$left" ] || return 0
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    # shellcheck disable=SC2086
    left=$(wait_gone 20 $left)
    [ -n "$left" ] || return 0
    printf '%s: pids still alive after KILL: %s\n' "$prog" "$left" >&2
    return 1
}

# Runs a daemon-starting command with the file descriptors above 2 closed,
# so a detached daemon cannot hold a caller's pipe open (a test harness
# reading it would never see EOF).
run_detached() {
    "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- </dev/null
}

# --- the sandbox directory ---------------------------------------------

# Sets $dir (absolute, physical) from $1, which must exist.
set_dir() {
    [ -n "$1" ] || usage_error "missing DIR"
    [ -d "$1" ] || die "$1: no such directory"
    dir=$(cd "$1" && pwd -P)
}

# Sets the sandbox's paths and exports OVS's environment for every ovs-*
# command run from here on.
set_paths() {
    run=$dir/run
    conf=$dir/sandbox.conf
    export OVS_RUNDIR=$dir/run OVS_DBDIR=$dir/db OVS_LOGDIR=$dir/log \
        OVS_SYSCONFDIR=$dir/etc
}

write_conf() {
    {
        printf 'hash=%s\n' "$hash"
        printf 'bridge=%s\n' "$bridge"
        printf 'swns=%s\n' "$swns"
    } >"$conf.tmp"
    mv "$conf.tmp" "$conf"
}

# Reads sandbox.conf: $hash, $bridge, $swns.  Returns 1 if there is none.
read_conf() {
    local k v
    hash='' bridge='' swns=''
    [ -f "$conf" ] || return 1
    while IFS='=' read -r k v; do
        case $k in
            hash) hash=$v ;;
            bridge) bridge=$v ;;
            swns) swns=$v ;;
        esac
    done <"$conf"
    [ -n "$hash" ] && [ -n "$bridge" ] && [ -n "$swns" ]
}

# For every command but start/stop: DIR must hold a sandbox.
load_sandbox() {
    set_dir "$1"
    set_paths
    read_conf || die "$dir: not a sandbox (no sandbox.conf); run start first"
}

vsctl() {
    # --timeout: ovs-vsctl waits for ovs-vswitchd to apply each change and
    # would wait forever if it died.  --no-wait: only the database.
    ovs-vsctl --db="unix:$run/db.sock" --timeout=10 ${no_wait:+--no-wait} "$@"
}

netns_exists() {
    [ -e "/run/netns/$1" ]
}

# --- start / stop ------------------------------------------------------

cmd_start() {
    local d='' vspid dbpid
    bridge=br-int
    while [ $# -gt 0 ]; do
        case $1 in
            --bridge) [ $# -ge 2 ] || usage_error "--bridge needs a value"
                      bridge=$2; shift ;;
            --bridge=*) bridge=${1#--bridge=} ;;
            -v | --verbose) verbose=1 ;;
            -*) usage_error "start: unknown option $1" ;;
            *) [ -z "$d" ] || usage_error "start: extra argument $1"
               d=$1 ;;
        esac
        shift
    done
    [ -n "$d" ] || usage_error "start: missing DIR"
    # A bridge name is also a device name in the switch netns.
    case $bridge in
        '' | *[!A-Za-z0-9_.-]*) usage_error "bad bridge name '$bridge'" ;;
    esac
    [ ${#bridge} -le 15 ] || usage_error "bridge name longer than 15"
    [ "$(id -u)" = 0 ] || die "start: must run as root"
    for p in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ip nsenter \
             ethtool; do
        command -v "$p" >/dev/null || die "start: $p not found"
    done

    mkdir -p "$d"
    set_dir "$d"
    set_paths
    local want_bridge=$bridge
    if read_conf; then
        if pidfile_pid "$run/ovsdb-server.pid" >/dev/null \
           || pidfile_pid "$run/ovs-vswitchd.pid" >/dev/null; then
            die "$dir: sandbox already running (stop it first)"
        fi
        # Remains of an earlier sandbox here (stopped, or a start that
        # half-failed): clear them before reusing the directory.
        stop_sandbox
    fi
    bridge=$want_bridge
    hash=$(short_hash "$dir" 8)
    swns=onp-$hash-sw
    # Not ours to reuse or delete: this DIR does not record it.
    ! netns_exists "$swns" \
        || die "netns $swns exists but $dir does not own it; remove it by hand"
    # Recorded before anything is created, so stop can always clean up.
    write_conf

    # From here on, a failure undoes whatever was started.
    trap 'rc=$?; if [ $rc != 0 ]; then stop_sandbox || true; fi' EXIT

    mkdir -p "$dir/run" "$dir/db" "$dir/log" "$dir/etc" "$dir/pods"
    rm -f "$dir/db/conf.db" "$dir/db/.conf.db.~lock~"
    ovsdb-tool create "$dir/db/conf.db" \
        /usr/share/openvswitch/vswitch.ovsschema
    start_ovsdb
    vsctl --no-wait init

    ip netns add "$swns"
    # No IPv6 on the switch's own devices (bridge port, host veth ends):
    # they would only add router solicitations and MLD reports.
    nsenter --net="/run/netns/$swns" sysctl -q -w \
        net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null
    start_vswitchd

    # fail_mode=secure: no flows means no forwarding until someone installs
    # some (the agent, or a test's NORMAL).  OpenFlow 1.5 for the agent.
    vsctl add-br "$bridge" -- set Bridge "$bridge" datapath_type=netdev \
        fail_mode=secure \
        protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15 \
        other_config:disable-in-band=true
    [ -S "$run/$bridge.mgmt" ] || die "start: $run/$bridge.mgmt missing"
    trap - EXIT

    dbpid=$(pidfile_pid "$run/ovsdb-server.pid") || dbpid='?'
    vspid=$(pidfile_pid "$run/ovs-vswitchd.pid") || vspid='?'
    say "sandbox $dir: bridge $bridge, switch netns $swns," \
        "ovsdb-server pid $dbpid, ovs-vswitchd pid $vspid"
}

# Starts ovsdb-server on the sandbox's database.
start_ovsdb() {
    run_detached ovsdb-server "$dir/db/conf.db" \
        --remote="punix:$run/db.sock" \
        --pidfile="$run/ovsdb-server.pid" \
        -vconsole:off -vsyslog:off --log-file="$dir/log/ovsdb-server.log" \
        --no-chdir --detach
}

# Starts ovs-vswitchd in the switch netns on the sandbox's database.
start_vswitchd() {
    # `ip netns exec` (not nsenter) also gives the daemon a /sys of its own
    # netns, which netdev code reads.
    run_detached ip netns exec "$swns" ovs-vswitchd "unix:$run/db.sock" \
        --pidfile="$run/ovs-vswitchd.pid" \
        -vconsole:off -vsyslog:off --log-file="$dir/log/ovs-vswitchd.log" \
        --no-chdir --detach
}

cmd_kill_switch() {
    [ $# = 1 ] || usage_error "usage: kill-switch DIR"
    load_sandbox "$1"
    local pid left
    pid=$(pidfile_pid "$run/ovs-vswitchd.pid") \
        || die "kill-switch: ovs-vswitchd is not running"
    kill -KILL "$pid" 2>/dev/null || true
    left=$(wait_gone 50 "$pid")
    [ -z "$left" ] || die "kill-switch: ovs-vswitchd pid $pid survived SIGKILL"
    say "ovs-vswitchd pid $pid killed"
}

cmd_start_switch() {
    [ $# = 1 ] || usage_error "usage: start-switch DIR"
    load_sandbox "$1"
    local pid
    ! pid=$(pidfile_pid "$run/ovs-vswitchd.pid") \
        || die "start-switch: ovs-vswitchd is running already (pid $pid)"
    pidfile_pid "$run/ovsdb-server.pid" >/dev/null \
        || die "start-switch: ovsdb-server is not running"
    netns_exists "$swns" || die "start-switch: switch netns $swns is gone"
    start_vswitchd
    # ovs-vsctl waits for ovs-vswitchd to apply a write (next_cfg, cur_cfg)
    # but not a write that changes nothing, so this one changes a key of its
    # own, which nothing else reads.  When it returns, the daemon has read
    # the whole database and built the bridge and its ports.
    vsctl set Open_vSwitch . \
        "external_ids:ovs-netpol-sandbox-switch-start=\"$EPOCHREALTIME\"" \
        || die "start-switch: ovs-vswitchd did not apply the database"
    [ -S "$run/$bridge.mgmt" ] || die "start-switch: $run/$bridge.mgmt missing"
    pid=$(pidfile_pid "$run/ovs-vswitchd.pid") || pid='?'
    say "ovs-vswitchd restarted: pid $pid"
}

cmd_restart_switch() {
    [ $# = 1 ] || usage_error "usage: restart-switch DIR"
    cmd_kill_switch "$1"
    cmd_start_switch "$1"
}

cmd_kill_ovsdb() {
    [ $# = 1 ] || usage_error "usage: kill-ovsdb DIR"
    load_sandbox "$1"
    local pid left
    pid=$(pidfile_pid "$run/ovsdb-server.pid") \
        || die "kill-ovsdb: ovsdb-server is not running"
    kill -KILL "$pid" 2>/dev/null || true
    left=$(wait_gone 50 "$pid")
    [ -z "$left" ] || die "kill-ovsdb: ovsdb-server pid $pid survived SIGKILL"
    say "ovsdb-server pid $pid killed"
}

cmd_start_ovsdb() {
    [ $# = 1 ] || usage_error "usage: start-ovsdb DIR"
    load_sandbox "$1"
    local pid
    ! pid=$(pidfile_pid "$run/ovsdb-server.pid") \
        || die "start-ovsdb: ovsdb-server is running already (pid $pid)"
    [ -f "$dir/db/conf.db" ] || die "start-ovsdb: $dir/db/conf.db is gone"
    # --detach returns once the server listens.
    start_ovsdb || die "start-ovsdb: ovsdb-server did not start"
    vsctl --no-wait get Open_vSwitch . _uuid >/dev/null \
        || die "start-ovsdb: ovsdb-server does not answer"
    pid=$(pidfile_pid "$run/ovsdb-server.pid") || pid='?'
    say "ovsdb-server restarted: pid $pid"
}

cmd_restart_ovsdb() {
    [ $# = 1 ] || usage_error "usage: restart-ovsdb DIR"
    cmd_kill_ovsdb "$1"
    cmd_start_ovsdb "$1"
}

# Removes everything recorded under $dir: processes, netns (and with them
# the veths and the bridge's devices).  Safe to run on any remains.
stop_sandbox() {
    local pids='' pid p ns rc=0
    for p in "$dir"/pods/*/server.pid "$run/ovs-vswitchd.pid" \
             "$run/ovsdb-server.pid"; do
        if pid=$(pidfile_pid "$p"); then pids="$pids $pid"; fi
    done
    # shellcheck disable=SC2086
    terminate $pids || rc=1
    for p in "$dir"/pods/*/info; do
        [ -f "$p" ] || continue
        ns=$(pod_field "$p" netns)
        if [ -n "$ns" ] && netns_exists "$ns"; then
            ip netns del "$ns" || rc=1
        fi
        rm -rf "${p%/info}"
    done
    if [ -n "${swns:-}" ] && netns_exists "$swns"; then
        ip netns del "$swns" || rc=1
    fi
    rm -f "$run"/*.pid "$run"/*.ctl "$run"/*.mgmt "$run"/*.snoop \
        "$run/db.sock"
    return $rc
}

cmd_stop() {
    [ $# = 1 ] || usage_error "usage: stop DIR"
    # Idempotent: nothing to do for a directory that is gone.
    [ -d "$1" ] || return 0
    set_dir "$1"
    set_paths
    read_conf || true
    stop_sandbox
    say "sandbox $dir stopped"
}

cmd_env() {
    [ $# = 1 ] || usage_error "usage: env DIR"
    load_sandbox "$1"
    local v
    for v in OVS_RUNDIR OVS_DBDIR OVS_LOGDIR OVS_SYSCONFDIR; do
        printf 'export %s=%s\n' "$v" "$(shquote "${!v}")"
    done
    printf 'export OVS_NETPOL_BRIDGE=%s\n' "$(shquote "$bridge")"
    printf 'export OVS_NETPOL_SANDBOX=%s\n' "$(shquote "$dir")"
}

# --- pods --------------------------------------------------------------

# Sets $pod_ns, $pod_name, $pod_dir, $pod_netns, $pod_veth from NS/NAME.
# Kubernetes names never contain "_", so NS_NAME names the pod directory
# unambiguously.
set_pod() {
    case $1 in
        */*) ;;
        *) usage_error "pod must be NS/NAME, not '$1'" ;;
    esac
    pod_ns=${1%%/*}
    pod_name=${1#*/}
    local part
    for part in "$pod_ns" "$pod_name"; do
        case $part in
            '' | [!A-Za-z0-9]* | *[!A-Za-z0-9.-]*)
                usage_error "bad pod name '$1' (NS/NAME, [A-Za-z0-9.-])" ;;
        esac
    done
    local ph
    ph=$(short_hash "$1" 8)
    pod_dir=$dir/pods/${pod_ns}_$pod_name
    pod_netns=onp-$hash-$ph
    pod_veth=v${hash:0:6}$ph
}

# Prints field $2 of pod info file $1.
pod_field() {
    local k v
    while IFS='=' read -r k v; do
        if [ "$k" = "$2" ]; then printf '%s\n' "$v"; return 0; fi
    done <"$1"
}

# Loads an existing pod's recorded names.  Builtins only: probe runs this
# and must stay cheap.
load_pod() {
    local k v
    case $1 in
        */*) pod_dir=$dir/pods/${1%%/*}_${1#*/} ;;
        *) usage_error "pod must be NS/NAME, not '$1'" ;;
    esac
    [ -f "$pod_dir/info" ] || die "no pod $1 in $dir"
    pod_netns='' pod_veth=''
    while IFS='=' read -r k v; do
        case $k in
            netns) pod_netns=$v ;;
            veth) pod_veth=$v ;;
        esac
    done <"$pod_dir/info"
}

# Removes a pod's port, responder, netns (taking the veth pair with it) and
# directory; each step tolerates its part being already gone.
remove_pod() {
    local pid
    vsctl --if-exists del-port "$bridge" "$pod_veth" || true
    if pid=$(pidfile_pid "$pod_dir/server.pid"); then
        terminate "$pid" || true
    fi
    # Deleting the veth takes both ends at once; a netns deleted with the
    # veth still in it would free it only later, asynchronously.
    if netns_exists "$swns"; then
        ip -n "$swns" link del "$pod_veth" 2>/dev/null || true
    fi
    if netns_exists "$pod_netns"; then
        ip netns del "$pod_netns" || true
    fi
    rm -rf "$pod_dir"
}

# A deterministic, locally administered unicast MAC for this DIR and pod.
pod_mac() {
    local h
    h=$(short_hash "$dir $1" 10)
    printf '02:%s:%s:%s:%s:%s\n' "${h:0:2}" "${h:2:2}" "${h:4:2}" \
        "${h:6:2}" "${h:8:2}"
}

cmd_add_pod() {
    local d='' pod='' ips='' mac='' ofport='' style=antrea serve='' a
    while [ $# -gt 0 ]; do
        case $1 in
            --ip | --mac | --ofport | --style | --serve)
                [ $# -ge 2 ] || usage_error "$1 needs a value" ;;
        esac
        case $1 in
            --ip) ips="$ips $2"; shift ;;
            --mac) mac=$2; shift ;;
            --ofport) ofport=$2; shift ;;
            --style) style=$2; shift ;;
            --serve) serve=$2; shift ;;
            --no-wait) no_wait=1 ;;
            -v | --verbose) verbose=1 ;;
            -*) usage_error "add-pod: unknown option $1" ;;
            *) if [ -z "$d" ]; then d=$1
               elif [ -z "$pod" ]; then pod=$1
               else usage_error "add-pod: extra argument $1"; fi ;;
        esac
        shift
    done
    [ -n "$pod" ] || usage_error "usage: add-pod DIR NS/NAME [--ip ADDR/LEN]..."
    load_sandbox "$d"
    set_pod "$pod"
    case $style in
        antrea | ovn | none) ;;
        *) usage_error "--style must be antrea, ovn or none" ;;
    esac
    case $ofport in
        0* | *[!0-9]*) usage_error "bad --ofport '$ofport'" ;;
    esac
    [ -n "$mac" ] || mac=$(pod_mac "$pod")
    printf '%s\n' "$mac" | grep -Eqi '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' \
        || usage_error "bad --mac '$mac'"
    mac=$(printf '%s' "$mac" | tr 'A-F' 'a-f')
    case ,$serve, in
        *,,*) [ -z "$serve" ] || usage_error "bad --serve '$serve'" ;;
    esac
    case $serve in *[!0-9,]*) usage_error "bad --serve '$serve'" ;; esac

    # Normalise addresses: a bare address gets a host prefix (the on-link
    # default routes below still reach every pod on the bridge).
    local cidrs='' addrs='' v4=0 v6=0
    for a in $ips; do
        case $a in
            *:*) v6=1; case $a in */*) ;; *) a=$a/128 ;; esac ;;
            *.*) v4=1; case $a in */*) ;; *) a=$a/32 ;; esac ;;
            *) usage_error "bad --ip '$a'" ;;
        esac
        case $a in *[!0-9a-fA-F.:/]*) usage_error "bad --ip '$a'" ;; esac
        cidrs="$cidrs${cidrs:+,}$a"
        addrs="$addrs${addrs:+,}${a%/*}"
    done

    [ ! -e "$pod_dir" ] || die "pod $pod already exists in $dir"
    # Not ours to reuse or delete: it is not recorded in this sandbox.
    ! netns_exists "$pod_netns" || die "netns $pod_netns exists already"
    mkdir -p "$pod_dir"
    # Recorded before anything is created, so del-pod and stop can always
    # clean up; a failure below undoes the pod.
    {
        printf 'pod=%s\nnetns=%s\nveth=%s\nmac=%s\nips=%s\nstyle=%s\n' \
            "$pod" "$pod_netns" "$pod_veth" "$mac" "$cidrs" "$style"
        printf 'serve=%s\n' "$serve"
    } >"$pod_dir/info"
    trap 'rc=$?; if [ $rc != 0 ]; then remove_pod; fi' EXIT

    ip netns add "$pod_netns"
    # Created directly across the two netns: no name ever appears in the
    # caller's netns, so parallel sandboxes cannot collide there.
    ip -n "$swns" link add "$pod_veth" type veth peer name eth0 \
        netns "$pod_netns"
    configure_pod_side "$cidrs" "$v4" "$v6"
    nsenter --net="/run/netns/$swns" ethtool -K "$pod_veth" tx off \
        >/dev/null 2>&1
    ip -n "$swns" link set "$pod_veth" up

    # The port and its identity in one transaction: an agent watching OVSDB
    # never sees this port without its pod.
    local ext=()
    case $style in
        antrea)
            ext=("external_ids:pod-namespace=\"$pod_ns\""
                 "external_ids:pod-name=\"$pod_name\""
                 "external_ids:mac=\"$mac\""
                 "external_ids:attached-mac=\"$mac\"")
            [ -z "$addrs" ] || ext+=("external_ids:ip=\"$addrs\"") ;;
        ovn)
            ext=("external_ids:iface-id=\"${pod_ns}_$pod_name\""
                 "external_ids:attached_mac=\"$mac\"")
            [ -z "$cidrs" ] || ext+=("external_ids:ip_addresses=\"$cidrs\"") ;;
    esac
    [ -z "$ofport" ] || ext+=("ofport_request=$ofport")
    if [ ${#ext[@]} -gt 0 ]; then
        vsctl add-port "$bridge" "$pod_veth" \
            -- set Interface "$pod_veth" "${ext[@]}"
    else
        vsctl add-port "$bridge" "$pod_veth"
    fi
    local got err
    got=$(vsctl get Interface "$pod_veth" ofport)
    if [ -n "$no_wait" ]; then
        got='(when the switch applies it)'
    elif [ "$got" = -1 ] || [ "$got" = '[]' ]; then
        err=$(vsctl get Interface "$pod_veth" error)
        die "add-pod: OVS could not add $pod_veth: $err"
    fi
    if [ -z "$no_wait" ] && [ -n "$ofport" ] && [ "$got" != "$ofport" ]; then
        die "add-pod: got ofport $got instead of $ofport (in use?)"
    fi

    [ -z "$serve" ] || start_responder "$pod" "$addrs" "$serve"
    trap - EXIT
    say "pod $pod: netns $pod_netns, port $pod_veth ofport $got," \
        "mac $mac, ips ${cidrs:-none}"
}

# Sets up eth0 inside the pod: MAC, addresses, routes, no DAD, no TX
# checksum offload.  One nsenter runs it all.
configure_pod_side() {
    local cidrs=$1 v4=$2 v6=$3
    # The script gets its values as positional parameters, never spliced
    # into its text.
    # shellcheck disable=SC2016
    nsenter --net="/run/netns/$pod_netns" sh -eu -c '
        mac=$1 cidrs=$2 v4=$3 v6=$4
        # DAD would leave fresh addresses "tentative" (unusable) for ~1 s;
        # link-local included.  The link-local address is the EUI-64 one
        # of the MAC set below (addr_gen_mode 0, whatever the defaults of
        # the host): the agent allows neighbour discovery from no other.
        sysctl -q -w net.ipv6.conf.eth0.accept_dad=0 \
            net.ipv6.conf.eth0.addr_gen_mode=0 >/dev/null
        # Retry unanswered ARP / neighbour solicitations every 100 ms, not
        # every second: resolution that started while no flows forwarded
        # (a fail-secure bridge, a policy being installed) recovers within
        # a probe timeout once forwarding works.
        sysctl -q -w net.ipv4.neigh.eth0.retrans_time_ms=100 \
            net.ipv6.neigh.eth0.retrans_time_ms=100 >/dev/null
        ip link set lo up
        ip link set eth0 address "$mac"
        old_ifs=$IFS; IFS=,
        for a in $cidrs; do
            case $a in
                *:*) ip -6 addr add "$a" dev eth0 nodad ;;
                *) ip addr add "$a" dev eth0 ;;
            esac
        done
        IFS=$old_ifs
        ethtool -K eth0 tx off >/dev/null 2>&1
        ip link set eth0 up
        # Everything is one L2 segment: on-link default routes reach every
        # other pod whatever its subnet (ARP / neighbour discovery on eth0).
        if [ "$v4" = 1 ]; then ip route add default dev eth0; fi
        if [ "$v6" = 1 ]; then ip -6 route add default dev eth0; fi
    ' sh "$mac" "$cidrs" "$v4" "$v6"
}

start_responder() {
    local pod=$1 addrs=$2 ports=$3 args=() a
    local old_ifs=$IFS
    IFS=,
    for a in $addrs; do args+=(--addr "$a"); done
    # shellcheck disable=SC2086
    set -- $ports
    IFS=$old_ifs
    # The server binds every socket before it detaches, so when this
    # returns the pod answers.
    # -I -S: no site or user packages: faster, and a megabyte less each.
    run_detached nsenter --net="/run/netns/$pod_netns" "$python" -I -S \
        "$here/ovs-netpol-podserver.py" --reply "$pod" \
        --pidfile "$pod_dir/server.pid" "${args[@]}" "$@" \
        || die "add-pod: responder for $pod failed to start"
}

cmd_del_pod() {
    local args=()
    while [ $# -gt 0 ]; do
        case $1 in
            --no-wait) no_wait=1 ;;
            -v | --verbose) verbose=1 ;;
            -*) usage_error "del-pod: unknown option $1" ;;
            *) args+=("$1") ;;
        esac
        shift
    done
    [ ${#args[@]} = 2 ] || usage_error "usage: del-pod DIR NS/NAME [--no-wait]"
    load_sandbox "${args[0]}"
    load_pod "${args[1]}"
    remove_pod
}

# The probe, run by bash inside the pod's netns.  bash's /dev/tcp and
# /dev/udp need no extra program, so a probe costs three short execs
# (timeout, nsenter, bash) and ~100 of them can run at once.  A TCP probe
# only reads; a UDP probe sends one datagram and connect()s, so an ICMP port
# unreachable fails it at once instead of at the timeout.  Success means
# at least one byte of a reply arrived ("read -n 1": bash reads sockets
# one byte at a time, and a bigger read of a datagram would be needed to
# print it whole, hence dd with --print).
# shellcheck disable=SC2016
probe_script='
    addr=$1 port=$2 proto=$3 secs=$4 print=$5 verbose=$6
    [ "$verbose" = 1 ] || exec 2>/dev/null
    exec 3<>"/dev/$proto/$addr/$port" || exit 1
    if [ "$proto" = udp ]; then printf "probe\n" >&3 || exit 1; fi
    if [ "$print" = 1 ]; then
        reply=$(dd bs=65536 count=1 status=none <&3) || exit 1
        [ -n "$reply" ] || exit 1
        printf "%s\n" "$reply"
    else
        read -r -n 1 -t "$secs" c <&3 || exit 1
    fi
'

cmd_probe() {
    local args=() secs=1 print=0
    while [ $# -gt 0 ]; do
        case $1 in
            --timeout) [ $# -ge 2 ] || usage_error "--timeout needs a value"
                       secs=$2; shift ;;
            --timeout=*) secs=${1#--timeout=} ;;
            --print) print=1 ;;
            -v | --verbose) verbose=1 ;;
            -*) usage_error "probe: unknown option $1" ;;
            *) args+=("$1") ;;
        esac
        shift
    done
    [ ${#args[@]} = 5 ] \
        || usage_error "usage: probe DIR NS/NAME ADDR PORT tcp|udp [--timeout S]"
    local addr=${args[2]} port=${args[3]} proto=${args[4]}
    case $proto in tcp | udp) ;; *) usage_error "protocol must be tcp or udp" ;; esac
    case $port in '' | *[!0-9]*) usage_error "bad port '$port'" ;; esac
    case $addr in '' | */* | *[!0-9a-fA-F.:]*) usage_error "bad address '$addr'" ;; esac
    case $secs in
        '' | . | *[!0-9.]* | *.*.*) usage_error "bad timeout '$secs'" ;;
        *[1-9]*) ;;
        # timeout(1) takes 0 for "no timeout at all".
        *) usage_error "timeout must be more than 0" ;;
    esac
    load_sandbox "${args[0]}"
    load_pod "${args[1]}"
    netns_exists "$pod_netns" || die "pod netns $pod_netns is gone"
    # timeout bounds everything, the TCP connect() included (a dropped SYN
    # would otherwise block for minutes); -k in case TERM is not enough.
    if timeout -k 1 "$secs" nsenter --net="/run/netns/$pod_netns" \
            bash -c "$probe_script" probe "$addr" "$port" "$proto" "$secs" \
            "$print" "$verbose"; then
        return 0
    fi
    [ "$verbose" = 0 ] || printf '%s: no reply from %s %s port %s\n' \
        "$prog" "$addr" "$proto" "$port" >&2
    return 1
}

cmd_exec() {
    [ $# -ge 3 ] || usage_error "usage: exec DIR NS/NAME CMD..."
    load_sandbox "$1"
    load_pod "$2"
    shift 2
    # `ip netns exec` rather than nsenter: the command also sees the pod's
    # own /sys/class/net.
    exec ip netns exec "$pod_netns" "$@"
}

cmd_pods() {
    [ $# = 1 ] || usage_error "usage: pods DIR"
    load_sandbox "$1"
    local ports info name ofport
    # One OVSDB query for all ofports.
    ports=$(vsctl --no-headings --data=bare --format=csv \
        --columns=name,ofport list Interface)
    for info in "$dir"/pods/*/info; do
        [ -f "$info" ] || continue
        name=$(pod_field "$info" veth)
        ofport=$(printf '%s\n' "$ports" | sed -n "s/^$name,//p")
        printf '%s %s %s %s\n' "$(pod_field "$info" pod)" "${ofport:--}" \
            "$(pod_field "$info" ips | sed 's/^$/-/')" \
            "$(pod_field "$info" mac)"
    done
}

# --- OVS tools against this sandbox ------------------------------------

cmd_vsctl() {
    [ $# -ge 1 ] || usage_error "usage: vsctl DIR ARGS..."
    load_sandbox "$1"
    shift
    exec ovs-vsctl --db="unix:$run/db.sock" "$@"
}

cmd_appctl() {
    [ $# -ge 1 ] || usage_error "usage: appctl DIR ARGS..."
    load_sandbox "$1"
    shift
    # With OVS_RUNDIR exported, the default target (ovs-vswitchd) and
    # `-t ovsdb-server` resolve through this sandbox's pidfiles.
    exec ovs-appctl "$@"
}

# ovs-ofctl [OPTIONS] COMMAND SWITCH [ARGS]: insert this bridge's
# management socket after COMMAND unless the caller named a switch there
# (the bridge's name or a connection method), and default to OpenFlow 1.5
# unless the caller chose a version.
cmd_ofctl() {
    [ $# -ge 1 ] || usage_error "usage: ofctl DIR [OPTIONS] COMMAND [ARGS]..."
    load_sandbox "$1"
    shift
    local out=() have_o=0 seen_cmd=0 need_arg=0 a
    local mgmt="unix:$run/$bridge.mgmt"
    while [ $# -gt 0 ]; do
        a=$1
        shift
        if [ "$need_arg" = 1 ]; then
            out+=("$a"); need_arg=0; continue
        fi
        case $a in
            -O | --protocols) have_o=1; need_arg=1; out+=("$a"); continue ;;
            -O* | --protocols=*) have_o=1; out+=("$a"); continue ;;
            -t | --timeout | -F | --flow-format | -P | --packet-in-format)
                need_arg=1; out+=("$a"); continue ;;
            --) out+=("$a"); continue ;;
            -?*) out+=("$a"); continue ;;
        esac
        out+=("$a")
        if [ "$seen_cmd" = 0 ]; then
            seen_cmd=1
            case ${1:-} in
                "$bridge" | unix:* | tcp:* | ssl:* | /*) ;;
                *) out+=("$mgmt") ;;
            esac
        fi
    done
    if [ "$have_o" = 0 ]; then
        exec ovs-ofctl -O OpenFlow15 "${out[@]}"
    fi
    exec ovs-ofctl "${out[@]}"
}

# --- main --------------------------------------------------------------

main() {
    while [ $# -gt 0 ]; do
        case $1 in
            -v | --verbose) verbose=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) break ;;
        esac
    done
    [ $# -ge 1 ] || usage_error "missing command"
    local cmd=$1
    shift
    case $cmd in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        kill-switch) cmd_kill_switch "$@" ;;
        start-switch) cmd_start_switch "$@" ;;
        restart-switch) cmd_restart_switch "$@" ;;
        kill-ovsdb) cmd_kill_ovsdb "$@" ;;
        start-ovsdb) cmd_start_ovsdb "$@" ;;
        restart-ovsdb) cmd_restart_ovsdb "$@" ;;
        env) cmd_env "$@" ;;
        add-pod) cmd_add_pod "$@" ;;
        del-pod) cmd_del_pod "$@" ;;
        probe) cmd_probe "$@" ;;
        exec) cmd_exec "$@" ;;
        pods) cmd_pods "$@" ;;
        vsctl) cmd_vsctl "$@" ;;
        ofctl) cmd_ofctl "$@" ;;
        appctl) cmd_appctl "$@" ;;
        help) usage ;;
        *) usage_error "unknown command '$cmd'" ;;
    esac
}

main "$@"
