#!/bin/bash
# tests/agent-spoof.sh: the spoof guard (table 0, classify) with real
# packets, crafted with python3's AF_PACKET raw sockets inside the pods'
# network namespaces (no extra package).
#
# Pods in namespace x: a (the attacker), b, c (ingress-isolated: accepts
# only b, on TCP 80 and UDP 7777) and d, a pod whose port is in OVSDB with
# its identity but without an address, and which has no Pod object yet (so
# the agent knows no IP for it).  b and c are made as credulous as a host
# can be: arp_accept=1 and accept_untracked_na=1 (they learn neighbours
# from unsolicited ARP and NA).
#
#   (a) IP from an address a does not own: b's (to c, which accepts b),
#       a random one, an unused one of the pods' subnet; IPv4 and IPv6.
#   (b) Frames from a MAC a does not own: b's, a random one; b's MAC and
#       address together; a non-IP ethertype; 802.1Q-tagged frames.
#   (c) ARP claiming b's address: gratuitous requests and replies,
#       unsolicited unicast replies, requests with b's address as sender;
#       a's own address with a foreign MAC in the ARP body.
#   (d) IPv6 neighbour discovery claiming b's address, from a's link-local
#       address: unsolicited and solicited NAs, with and without the
#       link-layer option; an NA for a's own address with a forged MAC; an
#       NS with a forged source link-layer option; an NS whose source is
#       b's address (receivers learn source -> link-layer option from it,
#       RFC 4861 7.2.3); an NA for b's link-local address and an NS from
#       it (a pod may use only the EUI-64 link-local address of its MAC,
#       which every pod here has); an NA for b's address sent from a's own
#       global address (which a's IP flow, to conntrack, also matches).
#       And each pod's legitimate NS and NA, traced (ofproto/trace), take
#       the neighbour discovery flows, not the IP flow (conntrack marks
#       neighbour discovery invalid); so do a's NS from its own link-local
#       address and its NA for it.
#   (e) d, whose address the agent does not know, sends: UDP, ARP, NS/NA
#       and a real TCP connection attempt, from the address it configured
#       itself.  Once the address is published (OVSDB external_ids and the
#       Pod object), d's traffic passes, and spoofs from it still do not.
#   (f) Ways around c's ingress isolation without spoofing (a's own MAC and
#       address): IPv4 limited and subnet broadcast, IPv4 and IPv6
#       multicast, c's IPv6 link-local address; IPv4 limited broadcast,
#       IPv4 and IPv6 multicast, IPv4 subnet broadcast and an IPv6 address
#       of the subnet that is not c's in a unicast frame to c's MAC:
#       nothing may arrive in c (its capture, and a UDP socket bound to the
#       wildcard addresses).  The last two are dropped by c's flows in
#       table 1 (ct_state: new to c's MAC, not to c's address), whose
#       n_packets count them.
#
# For every spoof of (a)-(e): the sender port's drop flows in table 0
# (in_port; priority 100, everything else, and 205, neighbour discovery
# that is not allowed) count the packets (their n_packets grow by at least
# as many as were sent), and nothing of it arrives in b or c: an
# AF_PACKET capture in each (running from before the first spoof until a
# sentinel, a legitimate ARP request sent after the drop counters have
# caught up, arrives) never sees it.  After (c) and (d): the neighbour
# caches of b and c (`ip neigh`) hold no entry that points another pod's
# address at a's MAC or at a forged MAC.  After (b) and at the end: the
# switch's MAC table keeps b's MAC on b's port.  A positive control (b's
# legitimate UDP to c:7777) shows the captures work; the allowed pairs
# still pass and the denied ones still fail, IPv4 and IPv6; the switch
# holds exactly the agent's flows.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch), 99 programs not built.  One line per check.

# Many functions are only called through check and wait_until.
# shellcheck disable=SC2317
test_name=agent-spoof
# shellcheck source=tests/lib-agent.sh
. "$(dirname "$0")/lib-agent.sh"
lib_init

A=10.7.0.1 B=10.7.0.2 C=10.7.0.3 D=10.7.0.4
A6=fd00:7::1 B6=fd00:7::2 C6=fd00:7::3 D6=fd00:7::4
# Forged MACs (locally administered, never a pod's) and the marker of
# forged ARP bodies (their target hardware address, which receivers
# ignore).
FAKE1=02:5e:00:00:00:01 FAKE2=02:5e:00:00:00:02
ARPMARK=02:5e:00:00:00:99
SENTINEL=10.7.0.250             # A legitimate ARP request for this ends
                                # the captures.
M=$T/m

# --- the packet tool -----------------------------------------------------

# pkt.py send IFACE SPEC...   sends one frame (count=N: N times) per SPEC,
#                             a string of key=value words (see build()).
# pkt.py hex SPEC            prints the frame in hex (for ofproto/trace).
# pkt.py listen IFACE OUT READY SENTINEL TIMEOUT
#                             writes one summary line per received frame
#                             to OUT until an ARP request for SENTINEL
#                             arrives (exit 0) or TIMEOUT seconds pass
#                             (exit 1); READY appears once it listens.
write_pkt_py() {
    cat >"$T/pkt.py" <<'EOF'
import socket, struct, sys, time

def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))

def mac_str(b):
    return ":".join("%02x" % x for x in b)

def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def eth(spec, etype, payload):
    hdr = mac(spec.get("dmac", "ff:ff:ff:ff:ff:ff")) + mac(spec["smac"])
    if "vlan" in spec:
        hdr += struct.pack("!HH", 0x8100, int(spec["vlan"]))
    frame = hdr + struct.pack("!H", etype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))

def ipv4(src, dst, proto, l4):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0x1234, 0x4000,
                      64, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + l4

def ipv6(src, dst, nh, l4, hlim=64):
    return (struct.pack("!IHBB", 0x60000000, len(l4), nh, hlim) + a6(src)
            + a6(dst) + l4)

def udp(src, dst, dport, data, v6):
    u = struct.pack("!HHHH", 40000, dport, 8 + len(data), 0) + data
    if v6:
        pseudo = a6(src) + a6(dst) + struct.pack("!IxxxB", len(u), 17)
    else:
        pseudo = (socket.inet_aton(src) + socket.inet_aton(dst)
                  + struct.pack("!BBH", 0, 17, len(u)))
    return u[:6] + struct.pack("!H", csum(pseudo + u) or 0xffff) + u[8:]

def icmp6(src, dst, typ, body):
    m = struct.pack("!BBH", typ, 0, 0) + body
    pseudo = a6(src) + a6(dst) + struct.pack("!IxxxB", len(m), 58)
    return m[:2] + struct.pack("!H", csum(pseudo + m)) + m[4:]

def solicited_node(addr):
    return socket.inet_ntop(socket.AF_INET6,
                            bytes.fromhex("ff0200000000000000000001ff")
                            + a6(addr)[13:])

def build(spec):
    kind = spec["kind"]
    data = spec.get("data", "").encode()
    if kind in ("udp4", "udp6"):
        v6 = kind == "udp6"
        l4 = udp(spec["src"], spec["dst"], int(spec["dport"]), data, v6)
        if v6:
            return eth(spec, 0x86dd, ipv6(spec["src"], spec["dst"], 17, l4))
        return eth(spec, 0x0800, ipv4(spec["src"], spec["dst"], 17, l4))
    if kind == "raw":
        return eth(spec, int(spec["etype"], 0), data)
    if kind == "arp":
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, int(spec["op"]),
                           mac(spec.get("sha", spec["smac"])),
                           socket.inet_aton(spec["spa"]),
                           mac(spec.get("tha", "00:00:00:00:00:00")),
                           socket.inet_aton(spec["tpa"]))
        return eth(spec, 0x0806, body)
    if kind in ("na", "ns"):
        src, target = spec["src"], spec["target"]
        if kind == "na":
            dst = spec.get("dst", "ff02::1")
            body = struct.pack("!B3x", int(spec.get("flags", "0x20"), 0))
            lla, opt, typ = spec.get("tll", spec["smac"]), 2, 136
        else:
            dst = spec.get("dst", solicited_node(target))
            body = b"\0" * 4
            lla, opt, typ = spec.get("sll", spec["smac"]), 1, 135
        body += a6(target)
        if lla != "none":
            body += struct.pack("!BB", opt, 1) + mac(lla)
        if "dmac" not in spec and dst.startswith("ff"):
            spec["dmac"] = "33:33:" + mac_str(a6(dst)[12:])
        return eth(spec, 0x86dd,
                   ipv6(src, dst, 58, icmp6(src, dst, typ, body), hlim=255))
    raise SystemExit("pkt.py: unknown kind " + kind)

def text(b):
    return b.split(b"\0")[0].decode("ascii", "replace")

def summary(f):
    head = "esrc=%s edst=%s" % (mac_str(f[6:12]), mac_str(f[0:6]))
    et, p = struct.unpack("!H", f[12:14])[0], f[14:]
    if et == 0x8100 and len(p) >= 4:
        head += " vlan=%d" % (struct.unpack("!H", p[:2])[0] & 0xfff)
        et, p = struct.unpack("!H", p[2:4])[0], p[4:]
    if et == 0x0806 and len(p) >= 28:
        op, sha, spa, tha, tpa = struct.unpack("!6xH6s4s6s4s", p[:28])
        return "arp op=%d sha=%s spa=%s tha=%s tpa=%s %s" % (
            op, mac_str(sha), socket.inet_ntoa(spa), mac_str(tha),
            socket.inet_ntoa(tpa), head)
    if et == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 15) * 4
        line = "ip4 src=%s dst=%s proto=%d %s" % (
            socket.inet_ntoa(p[12:16]), socket.inet_ntoa(p[16:20]), p[9], head)
        if p[9] == 17:
            line += " data=" + text(p[ihl + 8:])
        return line
    if et == 0x86dd and len(p) >= 40:
        nh, l4 = p[6], p[40:]
        src = socket.inet_ntop(socket.AF_INET6, p[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, p[24:40])
        if nh == 58 and len(l4) >= 24 and l4[0] in (135, 136):
            lla = "none"
            if len(l4) >= 32 and l4[24] in (1, 2):
                lla = mac_str(l4[26:32])
            return "%s src=%s dst=%s target=%s lla=%s %s" % (
                "ns" if l4[0] == 135 else "na", src, dst,
                socket.inet_ntop(socket.AF_INET6, l4[8:24]), lla, head)
        line = "ip6 src=%s dst=%s nh=%d %s" % (src, dst, nh, head)
        if nh == 17:
            line += " data=" + text(l4[8:])
        return line
    return "other type=0x%04x %s data=%s" % (et, head, text(p))

def main():
    if sys.argv[1] == "hex":
        print(build(dict(kv.split("=", 1) for kv in sys.argv[2].split())).hex())
        return 0
    if sys.argv[1] == "send":
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((sys.argv[2], 0))
        for arg in sys.argv[3:]:
            spec = dict(kv.split("=", 1) for kv in arg.split())
            frame = build(spec)
            for _ in range(int(spec.get("count", "1"))):
                s.send(frame)
        return 0
    iface, out, ready, sentinel, timeout = sys.argv[2:7]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((iface, 0))
    s.settimeout(0.2)
    open(ready, "w").close()
    deadline = time.monotonic() + float(timeout)
    with open(out, "w") as o:
        while time.monotonic() < deadline:
            try:
                f, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            line = summary(f)
            o.write(line + "\n")
            o.flush()
            if line.startswith("arp op=1 ") and " tpa=%s " % sentinel in line:
                return 0
    return 1

sys.exit(main())
EOF
}

# --- helpers -------------------------------------------------------------

# n_packets of table 0's drop flows of OFPORT, together: priority 100
# (in_port, everything else) and 205 (its neighbour discovery that the
# neighbour discovery flows do not allow).
drop_packets() {
    "$sb" ofctl "$SB" dump-flows "table=0,in_port=$1" \
        | awk -v port="$1" '
            / priority=(100|205),/ && $0 ~ ",in_port=" port "[, ]" \
                && / actions=drop$/ {
                sub(/.*n_packets=/, ""); sub(/,.*/, ""); n += $0; found = 1
            }
            END { if (found) print n }'
}

drop_packets_ge() { # OFPORT N
    local n
    n=$(drop_packets "$1")
    [ -n "$n" ] && [ "$n" -ge "$2" ]
}

send_from() { # POD SPEC...
    local pod=$1
    shift
    "$sb" exec "$SB" "$pod" "$python" -I -S "$T/pkt.py" send eth0 "$@"
}

# spoof POD LABEL PATTERN SPEC...: sends every SPEC 3 times from POD and
# checks that POD's drop flows in table 0 counted them.  PATTERN (grep -E)
# matches what b's or c's capture would show if any of it got through;
# check_captures looks for it once the captures are complete.
patterns=()
spoof() {
    local pod=$1 label=$2 pattern=$3 port before n spec specs=()
    shift 3
    for spec in "$@"; do specs+=("$spec count=3"); done
    n=$((3 * $#))
    port=$(ofport_of "$pod")
    before=$(drop_packets "$port")
    if ! send_from "$pod" "${specs[@]}"; then
        fail "$label: could not send"
        return
    fi
    if wait_until 3 drop_packets_ge "$port" $((before + n)); then
        pass "$label: dropped at table 0 (drop flows of port $port: +$(($(drop_packets "$port") - before)), $n sent)"
    else
        fail "$label: dropped at table 0 (drop flows of port $port: +$(($(drop_packets "$port") - before)), $n sent)"
    fi
    patterns+=("$label|$pattern")
}

# arrived PATTERN: b's or c's capture matches; prints the first match.
arrived() {
    local f rc=1
    for f in "$T/cap.b" "$T/cap.c"; do
        if grep -E -- "$1" "$f" >"$T/found"; then
            printf '#   in %s: %s\n' "${f##*.}" "$(head -n 1 "$T/found")"
            rc=0
        fi
    done
    return "$rc"
}

# The neighbour entries of POD that point an address that is not a's at
# a's MAC, or any address at a forged MAC; prints them.
poisoned() { # POD
    "$sb" exec "$SB" "$1" ip -j neigh show dev eth0 \
        | jq -r --arg amac "$AMAC" --arg a "$A" --arg a6 "$A6" \
             --arg all "$A_LL" '.[]
            | select(.lladdr != null)
            | select((.lladdr == $amac and (.dst | IN($a, $a6, $all) | not))
                     or (.lladdr | startswith("02:5e:")))
            | "#   \(.dst) lladdr \(.lladdr) \(.state | join(","))"' \
        | tee "$T/poisoned"
    [ -s "$T/poisoned" ]
}

neigh_of() { # POD ADDR: the MAC POD's cache holds for ADDR, if any.
    "$sb" exec "$SB" "$1" ip -j neigh show dev eth0 to "$2" \
        | jq -r '.[0].lladdr // "none"'
}

neigh_is_not() { # POD ADDR MAC: POD's cache does not map ADDR to MAC.
    local got
    got=$(neigh_of "$1" "$2")
    [ "$got" != "$3" ] && return 0
    printf '#   %s: %s lladdr %s\n' "$1" "$2" "$got"
    return 1
}

link_local_of() { # POD
    "$sb" exec "$SB" "$1" ip -j -6 addr show dev eth0 scope link \
        | jq -r '[.[0].addr_info[] | select(.local)][0].local'
}

# The EUI-64 link-local address of MAC (RFC 4291, 2.5.1): the only one the
# agent allows in a pod's neighbour discovery.
eui64_of() { # MAC
    "$python" -I -S -c '
import socket, sys
m = bytes(int(x, 16) for x in sys.argv[1].split(":"))
iid = bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]
print(socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + b"\0" * 6 + iid))
' "$1"
}

# n_packets of table 1's drops of new connections to MAC that are not to
# the pod's addresses (priority 170, dl_dst=MAC), together.
mac_drop_packets() { # MAC
    "$sb" ofctl "$SB" dump-flows "table=1,dl_dst=$1" \
        | awk '/ priority=170,/ && / actions=drop$/ {
                   sub(/.*n_packets=/, ""); sub(/,.*/, ""); n += $0
                   found = 1
               }
               END { if (found) print n }'
}

mac_drop_packets_ge() { # MAC N
    local n
    n=$(mac_drop_packets "$1")
    [ -n "$n" ] && [ "$n" -ge "$2" ]
}

# The ports the switch's MAC table holds for MAC.
fdb_ports() { # MAC
    "$sb" appctl "$SB" fdb/show br-int | awk -v m="$1" '$3 == m { print $1 }'
}

# --- set-up --------------------------------------------------------------

write_pkt_py
sandbox_start
# Flow statistics reach OpenFlow on every revalidation: every 100 ms
# rather than 500, so the drop counters catch up fast.
must "$sb" vsctl "$SB" set Open_vSwitch . other_config:max-revalidator=100
t0=$(now)
must "$sb" add-pod "$SB" x/a --ip $A/24 --ip $A6/64 --ofport 1 --serve 80
must "$sb" add-pod "$SB" x/b --ip $B/24 --ip $B6/64 --ofport 2 --serve 80
must "$sb" add-pod "$SB" x/c --ip $C/24 --ip $C6/64 --ofport 3 --serve 80
# d: identity in OVSDB, no address there, no Pod object; it configures its
# addresses itself.
must "$sb" add-pod "$SB" x/d --ofport 4 --serve 80
must "$sb" exec "$SB" x/d sh -ec "
    ip addr add $D/24 dev eth0; ip -6 addr add $D6/64 dev eth0 nodad
    ip route add default dev eth0; ip -6 route add default dev eth0"
printf '# 4 pods in %s ms\n' "$(ms_since "$t0")"
AMAC=$(mac_of x/a) BMAC=$(mac_of x/b) CMAC=$(mac_of x/c) DMAC=$(mac_of x/d)
for p in x/b x/c; do
    # Credulous neighbours; accept_untracked_na needs Linux 5.19.
    "$sb" exec "$SB" $p sysctl -q -w net.ipv4.conf.eth0.arp_accept=1 \
        >/dev/null
    "$sb" exec "$SB" $p sysctl -q -w net.ipv6.conf.eth0.accept_untracked_na=1 \
        >/dev/null 2>&1 || true
done

mkdir -p "$M"
{
    yaml_namespace x
    yaml_pod x a $A "app: a"
    yaml_pod x b $B "app: b"
    yaml_pod x c $C "app: c"
} | write_file "$M/cluster.yaml"
write_file "$M/policy.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{protocol: TCP, port: 80}, {protocol: UDP, port: 7777}]
EOF
agent_start agent --manifests="$M"
must wait_sync

queue_legit() {
    queue_probe pass x/a $B 80
    queue_probe pass x/a $B6 80
    queue_probe pass x/b $C 80
    queue_probe pass x/b $C6 80
    queue_probe pass x/c $B 80
    queue_probe pass x/c $B6 80
    queue_probe fail x/a $C 80
    queue_probe fail x/a $C6 80
}
# Also fills the neighbour caches: b and c know each other, c knows a.
queue_legit
queue_probe fail x/d $B 80
run_probes "before"
A_LL=$(link_local_of x/a) B_LL=$(link_local_of x/b) C_LL=$(link_local_of x/c)
for p in a b c; do
    v=${p^^}_LL m=${p^^}MAC
    check "$p's link-local address ${!v} is the EUI-64 one of its MAC" \
        equals "${!v}" "$(eui64_of "${!m}")"
done
check "c has b's IPv4 address in its neighbour cache" \
    equals "$(neigh_of x/c $B)" "$BMAC"
check "c has b's IPv6 address in its neighbour cache" \
    equals "$(neigh_of x/c $B6)" "$BMAC"

# Captures in b and c, until the sentinel.
declare -A listener
for p in b c; do
    background "$sb" exec "$SB" x/$p "$python" -I -S "$T/pkt.py" listen eth0 \
        "$T/cap.$p" "$T/ready.$p" $SENTINEL 120
    listener[$p]=$!
    must wait_until 5 test -e "$T/ready.$p"
done
# c's applications' view: a UDP socket on the wildcard addresses, port 7777.
background "$sb" exec "$SB" x/c "$python" -I -S -c '
import select, socket, sys
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.bind(("0.0.0.0", 7777))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.bind(("::", 7777))
out = open(sys.argv[1], "w")
open(sys.argv[2], "w").close()
while True:
    for s in select.select([s4, s6], [], [])[0]:
        data, peer = s.recvfrom(65535)
        out.write("%s from %s\n" % (data.decode("ascii", "replace"), peer[0]))
        out.flush()
' "$T/udp.c" "$T/udp.ready"
must wait_until 5 test -e "$T/udp.ready"
t0=$(now)

# --- (a) IP from an address a does not own -------------------------------

spoof x/a "(a) IPv4 from b's address to c (c accepts b)" 'data=ONP-SPOOF-a1' \
    "kind=udp4 smac=$AMAC dmac=$CMAC src=$B dst=$C dport=7777 data=ONP-SPOOF-a1"
spoof x/a "(a) IPv4 from a random address to b" 'data=ONP-SPOOF-a2' \
    "kind=udp4 smac=$AMAC dmac=$BMAC src=198.51.100.7 dst=$B dport=80 data=ONP-SPOOF-a2"
spoof x/a "(a) IPv4 from an unused address of the subnet to c" 'data=ONP-SPOOF-a3' \
    "kind=udp4 smac=$AMAC dmac=$CMAC src=10.7.0.99 dst=$C dport=7777 data=ONP-SPOOF-a3"
spoof x/a "(a) IPv6 from b's address to c (c accepts b)" 'data=ONP-SPOOF-a4' \
    "kind=udp6 smac=$AMAC dmac=$CMAC src=$B6 dst=$C6 dport=7777 data=ONP-SPOOF-a4"
spoof x/a "(a) IPv6 from a random address to b" 'data=ONP-SPOOF-a5' \
    "kind=udp6 smac=$AMAC dmac=$BMAC src=2001:db8::7 dst=$B6 dport=80 data=ONP-SPOOF-a5"

# --- (b) frames from a MAC a does not own --------------------------------

spoof x/a "(b) b's MAC, a's IPv4 address, to b" 'data=ONP-SPOOF-b1' \
    "kind=udp4 smac=$BMAC dmac=$BMAC src=$A dst=$B dport=80 data=ONP-SPOOF-b1"
spoof x/a "(b) a random MAC, a's IPv4 address, to b" 'data=ONP-SPOOF-b2' \
    "kind=udp4 smac=$FAKE1 dmac=$BMAC src=$A dst=$B dport=80 data=ONP-SPOOF-b2"
spoof x/a "(b) b's MAC and b's IPv4 address, to c (c accepts b)" 'data=ONP-SPOOF-b3' \
    "kind=udp4 smac=$BMAC dmac=$CMAC src=$B dst=$C dport=7777 data=ONP-SPOOF-b3"
spoof x/a "(b) a random MAC, a's IPv6 address, to b" 'data=ONP-SPOOF-b4' \
    "kind=udp6 smac=$FAKE1 dmac=$BMAC src=$A6 dst=$B6 dport=80 data=ONP-SPOOF-b4"
spoof x/a "(b) a non-IP ethertype (0x88b5), a's own MAC, broadcast" 'data=ONP-SPOOF-b5' \
    "kind=raw etype=0x88b5 smac=$AMAC data=ONP-SPOOF-b5"
spoof x/a "(b) 802.1Q-tagged IPv4 (VLAN 100) from b's address to c" 'data=ONP-SPOOF-b6' \
    "kind=udp4 vlan=100 smac=$AMAC dmac=$CMAC src=$B dst=$C dport=7777 data=ONP-SPOOF-b6"
spoof x/a "(b) 802.1Q-tagged IPv4 (VLAN 100), a's own MAC and address, to b" \
    'data=ONP-SPOOF-b7' \
    "kind=udp4 vlan=100 smac=$AMAC dmac=$BMAC src=$A dst=$B dport=80 data=ONP-SPOOF-b7"
check "(b) the switch's MAC table has b's MAC on b's port only" \
    equals "$(fdb_ports "$BMAC" | tr '\n' ' ')" "2 "
check "(b) the switch's MAC table never learned the forged MAC" \
    equals "$(fdb_ports "$FAKE1")" ""

# --- (c) ARP claiming b's address ----------------------------------------

spoof x/a "(c) gratuitous ARP request claiming b's address" \
    "tha=$ARPMARK" \
    "kind=arp smac=$AMAC op=1 spa=$B tha=$ARPMARK tpa=$B"
spoof x/a "(c) gratuitous ARP reply claiming b's address" \
    "tha=$ARPMARK" \
    "kind=arp smac=$AMAC op=2 spa=$B tha=$ARPMARK tpa=$B"
spoof x/a "(c) unsolicited ARP reply to c claiming b's address" \
    "tha=$ARPMARK" \
    "kind=arp smac=$AMAC dmac=$CMAC op=2 spa=$B tha=$ARPMARK tpa=$C"
spoof x/a "(c) ARP request to c with b's address as sender" \
    "tha=$ARPMARK" \
    "kind=arp smac=$AMAC op=1 spa=$B tha=$ARPMARK tpa=$C"
spoof x/a "(c) ARP reply, a's own address, a forged MAC in the ARP body" \
    "sha=$FAKE2" \
    "kind=arp smac=$AMAC dmac=$CMAC op=2 sha=$FAKE2 spa=$A tha=$ARPMARK tpa=$C"
spoof x/a "(c) ARP reply claiming b's address with b's MAC as frame source" \
    "tha=$ARPMARK" \
    "kind=arp smac=$BMAC dmac=$CMAC op=2 sha=$AMAC spa=$B tha=$ARPMARK tpa=$C"
check "(c) c's neighbour cache: b's address is still b's MAC" \
    equals "$(neigh_of x/c $B)" "$BMAC"
for p in x/b x/c; do
    check_not "(c) $p's neighbour cache: nothing points at a's MAC or a forged one" \
        poisoned $p
done

# --- (d) IPv6 neighbour discovery claiming b's address --------------------

# From a's link-local address, the usual source of neighbour discovery.
spoof x/a "(d) unsolicited NA (override) for b's address" \
    "^na .* target=$B6 lla=$AMAC " \
    "kind=na smac=$AMAC src=$A_LL target=$B6 flags=0x20"
spoof x/a "(d) solicited NA for b's address, unicast to c" \
    "^na .* target=$B6 lla=$AMAC " \
    "kind=na smac=$AMAC dmac=$CMAC src=$A_LL dst=$C_LL target=$B6 flags=0x60"
spoof x/a "(d) NA for b's address without a link-layer option" \
    "^na .* target=$B6 lla=none esrc=$AMAC " \
    "kind=na smac=$AMAC src=$A_LL target=$B6 tll=none flags=0x20"
spoof x/a "(d) NA for a's own address announcing a forged MAC" \
    "^na .* lla=$FAKE2 " \
    "kind=na smac=$AMAC src=$A_LL target=$A6 tll=$FAKE2 flags=0x20"
spoof x/a "(d) NS with a forged MAC in its source link-layer option" \
    "^ns .* lla=$FAKE2 " \
    "kind=ns smac=$AMAC src=$A_LL target=$C6 sll=$FAKE2"
# The same claim from a's own global address, which a's IPv6 guard flow
# (ipv6_src=A6, to conntrack) also matches.
spoof x/a "(d) NA for b's address, sent from a's own global address" \
    "^na src=$A6 .* target=$B6 lla=$AMAC " \
    "kind=na smac=$AMAC src=$A6 target=$B6 flags=0x20"
# Receivers learn "IPv6 source -> source link-layer option" from an NS.
spoof x/a "(d) NS from b's address with a's MAC (poisons the target's entry for b)" \
    "^ns src=$B6 .* lla=$AMAC " \
    "kind=ns smac=$AMAC src=$B6 target=$C6"
check "(d) ... c's neighbour cache does not point b's address at a" \
    neigh_is_not x/c "$B6" "$AMAC"
spoof x/a "(d) NA for b's link-local address $B_LL" \
    "^na .* target=$B_LL lla=$AMAC " \
    "kind=na smac=$AMAC src=$A_LL target=$B_LL flags=0x20"
check "(d) ... c's neighbour cache does not point b's link-local address at a" \
    neigh_is_not x/c "$B_LL" "$AMAC"
spoof x/a "(d) NS from b's link-local address with a's MAC" \
    "^ns src=$B_LL .* lla=$AMAC " \
    "kind=ns smac=$AMAC src=$B_LL target=$C6"
check "(d) ... c's neighbour cache does not point b's link-local address at a" \
    neigh_is_not x/c "$B_LL" "$AMAC"
for p in x/b x/c; do
    check_not "(d) $p's neighbour cache: nothing points at a's MAC or a forged one" \
        poisoned $p
done

# Legitimate neighbour discovery from a pod's global address must take the
# neighbour discovery guard flows, not the IP flow to conntrack (which
# marks neighbour discovery invalid and drops it): both are at priority
# 200, and OpenFlow leaves overlapping flows of equal priority undefined.
nd_takes_nd_flow() { # POD ADDR TARGET KIND
    local mac hex
    mac=$(mac_of "$1")
    hex=$("$python" -I -S "$T/pkt.py" hex \
          "kind=$4 smac=$mac src=$2 target=$3 flags=0x60") || return 1
    "$sb" appctl "$SB" ofproto/trace br-int "in_port=$(ofport_of "$1")" \
        "$hex" >"$T/trace"
    if grep -q 'ct(' "$T/trace"; then
        sed -n 's/^ *0\. /#   table 0: /p' "$T/trace"
        return 1
    fi
}
for p in a b c; do
    v=${p^^}6
    addr=${!v}
    check "(d) $p's own NS (from $addr) takes the neighbour discovery flow" \
        nd_takes_nd_flow x/$p "$addr" "$B6" ns
    check "(d) $p's own NA (from $addr, for it) takes the neighbour discovery flow" \
        nd_takes_nd_flow x/$p "$addr" "$addr" na
done
# And from a's own (EUI-64) link-local address: allowed by a neighbour
# discovery flow (priority 210), not the drops.
nd_allowed() { # POD ADDR TARGET KIND
    local mac hex
    mac=$(mac_of "$1")
    hex=$("$python" -I -S "$T/pkt.py" hex \
          "kind=$4 smac=$mac src=$2 target=$3 flags=0x60") || return 1
    "$sb" appctl "$SB" ofproto/trace br-int "in_port=$(ofport_of "$1")" \
        "$hex" >"$T/trace"
    if ! grep -Eq '^ *0\. .*, priority 210, cookie ' "$T/trace" \
            || grep -q '^Datapath actions: drop' "$T/trace"; then
        sed -n 's/^ *0\. /#   table 0: /p' "$T/trace"
        return 1
    fi
}
check "(d) a's own NS from its link-local address $A_LL is allowed" \
    nd_allowed x/a "$A_LL" "$C6" ns
check "(d) a's own NA for its link-local address $A_LL is allowed" \
    nd_allowed x/a "$A_LL" "$A_LL" na

# --- (e) d, whose address the agent does not know ------------------------

spoof x/d "(e) d without a known address: UDP from its own IPv4 address to b" \
    "esrc=$DMAC" \
    "kind=udp4 smac=$DMAC dmac=$BMAC src=$D dst=$B dport=80 data=ONP-SPOOF-e1"
spoof x/d "(e) d without a known address: UDP from its own IPv6 address to b" \
    "esrc=$DMAC" \
    "kind=udp6 smac=$DMAC dmac=$BMAC src=$D6 dst=$B6 dport=80 data=ONP-SPOOF-e2"
spoof x/d "(e) d without a known address: ARP request and gratuitous ARP" \
    "esrc=$DMAC" \
    "kind=arp smac=$DMAC op=1 spa=$D tpa=$B" \
    "kind=arp smac=$DMAC op=1 spa=$D tpa=$D"
spoof x/d "(e) d without a known address: NS and NA" \
    "esrc=$DMAC" \
    "kind=ns smac=$DMAC src=$D6 target=$B6" \
    "kind=na smac=$DMAC src=$D6 target=$D6"
d_port=$(ofport_of x/d)
before=$(drop_packets "$d_port")
check_not "(e) d without a known address: a TCP connection to b fails" \
    probe x/d $B 80 tcp 1
check "(e) ... and its packets hit d's drop flow" \
    wait_until 3 drop_packets_ge "$d_port" $((before + 1))
patterns+=("(e) d's TCP connection attempt|esrc=$DMAC")

# --- (f) around c's isolation, without spoofing ---------------------------

patterns+=("(f) IPv4 limited broadcast from a to isolated c|data=ONP-BYPASS-f1")
patterns+=("(f) IPv4 subnet broadcast from a to isolated c|data=ONP-BYPASS-f2")
patterns+=("(f) IPv4 multicast 224.0.0.1 from a to isolated c|data=ONP-BYPASS-f3")
patterns+=("(f) IPv6 multicast ff02::1 from a to isolated c|data=ONP-BYPASS-f4")
patterns+=("(f) IPv6 to c's link-local address from a|data=ONP-BYPASS-f5")
patterns+=("(f) IPv4 limited broadcast in a unicast frame to c|data=ONP-BYPASS-f6")
patterns+=("(f) IPv4 multicast in a unicast frame to c|data=ONP-BYPASS-f7")
patterns+=("(f) IPv6 multicast in a unicast frame to c|data=ONP-BYPASS-f8")
patterns+=("(f) IPv4 subnet broadcast in a unicast frame to c|data=ONP-BYPASS-f9")
patterns+=("(f) IPv6 to an address of c's subnet that is not c's, in a unicast frame to c|data=ONP-BYPASS-f10")
# Only c's capture counts here: b is not isolated and may get the
# broadcasts.
bypass_specs=(
    "kind=udp4 smac=$AMAC src=$A dst=255.255.255.255 dport=7777 data=ONP-BYPASS-f1"
    "kind=udp4 smac=$AMAC src=$A dst=10.7.0.255 dport=7777 data=ONP-BYPASS-f2"
    "kind=udp4 smac=$AMAC dmac=01:00:5e:00:00:01 src=$A dst=224.0.0.1 dport=7777 data=ONP-BYPASS-f3"
    "kind=udp6 smac=$AMAC dmac=33:33:00:00:00:01 src=$A6 dst=ff02::1 dport=7777 data=ONP-BYPASS-f4"
    "kind=udp6 smac=$AMAC dmac=$CMAC src=$A6 dst=$C_LL dport=7777 data=ONP-BYPASS-f5"
    "kind=udp4 smac=$AMAC dmac=$CMAC src=$A dst=255.255.255.255 dport=7777 data=ONP-BYPASS-f6"
    "kind=udp4 smac=$AMAC dmac=$CMAC src=$A dst=224.0.0.1 dport=7777 data=ONP-BYPASS-f7"
    "kind=udp6 smac=$AMAC dmac=$CMAC src=$A6 dst=ff02::1 dport=7777 data=ONP-BYPASS-f8"
    "kind=udp4 smac=$AMAC dmac=$CMAC src=$A dst=10.7.0.255 dport=7777 data=ONP-BYPASS-f9"
    "kind=udp6 smac=$AMAC dmac=$CMAC src=$A6 dst=fd00:7::99 dport=7777 data=ONP-BYPASS-f10"
)
# One at a time: the userspace datapath reorders packets of one burst that
# take different flows.
before=$(mac_drop_packets "$CMAC")
for spec in "${bypass_specs[@]}"; do
    must send_from x/a "$spec"
done
label="(f) c's drops of new connections to its MAC, not to its addresses"
if [ -n "$before" ] && wait_until 3 mac_drop_packets_ge "$CMAC" $((before + 2)); then
    pass "$label (table 1), counted the last two: +$(($(mac_drop_packets "$CMAC") - before))"
else
    fail "$label (table 1), counted the last two: was ${before:-no flow}, now $(mac_drop_packets "$CMAC")"
fi

# A positive control: b's legitimate UDP to c:7777 must be captured.
must send_from x/b "kind=udp4 smac=$BMAC dmac=$CMAC src=$B dst=$C dport=7777 data=ONP-LEGIT"

# --- the captures --------------------------------------------------------

# Every spoof above has been counted by a drop flow, so the switch is done
# with them: a legitimate broadcast sent now arrives after anything they
# could have become.
must send_from x/a "kind=arp smac=$AMAC op=1 spa=$A tpa=$SENTINEL"
for p in b c; do
    if wait "${listener[$p]}"; then rc=0; else rc=$?; fi
    check "capture in $p: complete (the sentinel arrived; $(wc -l <"$T/cap.$p") frames)" \
        equals "$rc" 0
done
printf '# spoofs sent and checked in %s ms\n' "$(ms_since "$t0")"
check "capture in c: b's legitimate UDP to c:7777 arrived (positive control)" \
    grep -q 'data=ONP-LEGIT' "$T/cap.c"
check "c's UDP socket on port 7777 got it (positive control)" \
    grep -q "^ONP-LEGIT from $B\$" "$T/udp.c"
for entry in "${patterns[@]}"; do
    label=${entry%%|*} pattern=${entry#*|}
    case $label in
        "(f)"*)
            if grep -E -- "$pattern" "$T/cap.c" >"$T/found"; then
                fail "$label: nothing arrives in c"
                printf '#   %s\n' "$(head -n 1 "$T/found")"
                grep -F -- "${pattern#data=}" "$T/udp.c" \
                    | sed 's/^/#   c'"'"'s UDP socket on port 7777 got: /'
            else
                pass "$label: nothing arrives in c"
            fi ;;
        *) check_not "$label: nothing arrives in b or c" \
               arrived "$pattern" ;;
    esac
done

# --- the switch's MAC table ----------------------------------------------

check "the switch's MAC table still has b's MAC on b's port only" \
    equals "$(fdb_ports "$BMAC" | tr '\n' ' ')" "2 "

# --- legitimate traffic --------------------------------------------------

# Whatever the spoofs did to the caches, the flows are what is tested now.
for p in x/a x/b x/c; do
    "$sb" exec "$SB" $p ip neigh flush dev eth0 || true
done
queue_legit
run_probes "after the spoofs"

# d's address becomes known: its traffic passes, spoofs from it still not.
t0=$(now)
must "$sb" vsctl "$SB" set Interface "$(veth_of x/d)" \
    "external_ids:ip=\"$D,$D6\""
yaml_pod x d $D "app: d" | write_file "$M/d.yaml"
must wait_sync
queue_probe pass x/d $B 80
queue_probe pass x/d $B6 80
queue_probe pass x/b $D 80
queue_probe fail x/d $C 80
run_probes "d's address known"
spoof x/d "(e) d, once known, still cannot use b's address" "esrc=$DMAC.*ONP-SPOOF-e9" \
    "kind=udp4 smac=$DMAC dmac=$CMAC src=$B dst=$C dport=7777 data=ONP-SPOOF-e9"
printf '# d known and checked in %s ms\n' "$(ms_since "$t0")"

check "the switch holds exactly the agent's flows" switch_matches_agent
lib_finish
