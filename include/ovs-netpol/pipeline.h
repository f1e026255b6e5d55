/*
 * Copyright (c) 2026 The ovs-netpol Authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#ifndef OVS_NETPOL_PIPELINE_H
#define OVS_NETPOL_PIPELINE_H 1

/* The OpenFlow pipeline ovs-netpol installs: its tables, priorities,
 * cookies and registers.  This header is the reference for anyone reading
 * `ovs-ofctl dump-flows`.
 *
 * Tables
 * ======
 *
 * The pipeline is five consecutive tables starting at 'first_table' (0 by
 * default; set it to sit inside a CNI's pipeline).  A packet walks them in
 * order:
 *
 *   +0 classify   Where does the packet come from?  From a pod port, only
 *                 untagged frames from the pod's own MAC pass (spoof guard):
 *                 IP traffic from the pod's own addresses goes to conntrack,
 *                 ARP only about the pod's own MAC and IPv4 address, IPv6
 *                 neighbour discovery only about its own addresses (see
 *                 "Neighbour discovery" below); other neighbour discovery
 *                 and everything else from a pod port is dropped.
 *                 From the host port (LOCAL) or an uplink/tunnel port, IP goes
 *                 to conntrack and the rest is allowed.  Packets from a port
 *                 we do not know (not yet in OVSDB) are dropped: fail closed.
 *
 *   +1 ct_state   After ct(zone=Z): invalid is dropped; packets of allowed
 *                 connections (established or related, not new) are allowed
 *                 without looking at rules, which is how replies flow; they
 *                 are counted per rule (one flow per rule matches its half
 *                 of ct_label: the ingress rule if there was one, else the
 *                 egress rule); new connections to a group address and new
 *                 IPv6 connections to or from a link-local address are
 *                 dropped, whoever sends them (see "Traffic NetworkPolicy
 *                 cannot express" below); other new connections from the
 *                 host are always allowed (kubelet probes); new connections
 *                 in a frame to a local pod's MAC but to an address that is
 *                 not the pod's are dropped (same section); every other new
 *                 connection goes on to the rules.
 *
 *   +2 egress     Egress rules of local source pods, matched on the source
 *                 port (in_port) and the destination address.  A packet that
 *                 completes a rule's conjunction records the rule in a
 *                 register and goes on; a packet from an egress-isolated pod
 *                 that completes none is dropped; others go on.
 *
 *   +3 ingress    Ingress rules of local destination pods, matched on the
 *                 destination and source addresses.  The same shape.
 *
 *   +4 commit     ct(commit) with both rules' IDs in ct_label (so the
 *                 connection can be traced back to them), then the packet is
 *                 allowed.
 *
 * "Allowed" means the configured final action: NORMAL standalone, or
 * resubmit into the CNI's next table.
 *
 * Neighbour discovery
 * ===================
 *
 * ARP and IPv6 neighbour discovery (ND) are allowed in the classify table,
 * before conntrack (which calls ND invalid), and whatever the policies,
 * like ARP.  From a pod port, untagged and from the pod's own MAC:
 *
 *   - neighbour solicitations (NS) from one of the pod's own IPv6
 *     addresses, its link-local address (below) or the unspecified address
 *     (duplicate address detection), whose source link-layer option is the
 *     pod's MAC or absent (absent only from the unspecified address):
 *     receivers learn "IPv6 source -> link-layer option" from an NS;
 *   - router solicitations (RS) from the same sources (OVS does not parse
 *     an RS's link-layer option, so it is not checked);
 *   - neighbour advertisements (NA) whose target is one of the pod's own
 *     IPv6 addresses or its link-local address, whose target link-layer
 *     option is the pod's MAC or absent.
 *
 * Kubernetes does not publish a pod's link-local address.  When the pod's
 * port names its MAC, its link-local address is taken to be the one
 * derived from that MAC, as OVN's port security does: fe80::/64 with the
 * modified EUI-64 interface identifier (the MAC with the universal/local
 * bit flipped and ff:fe inserted in its middle; RFC 4291, 2.5.1), e.g.
 * fe80::4f:1ff:fe1b:665 for 02:4f:01:1b:06:65.  That is what Linux gives a
 * veth with the default addr_gen_mode 0.  A pod that uses another
 * link-local address (addr_gen_mode 2 or 3, "stable privacy", or 1 with
 * one configured by hand) loses IPv6 neighbour discovery from it: its NS
 * and RS from that address and its NA for it are dropped, so it cannot
 * resolve a link-local neighbour (such as an IPv6 default gateway at
 * fe80::1) nor be resolved at that address; neighbour discovery about its
 * global addresses, from them, still works.  When the port does not name
 * the pod's MAC, any link-local address (fe80::/10) is allowed (see "Known
 * gaps").
 *
 * Every other ICMPv6 message of types 133 to 137 from a pod port (router
 * solicitations and neighbour discovery about other addresses, router
 * advertisements, redirects) is dropped at NP_PRIO_POD_ND_DROP, between the
 * ND allows and the pod's IP flow, so it never reaches conntrack.  From the
 * host and uplink ports, types 133 to 136 are allowed.
 *
 * Traffic NetworkPolicy cannot express
 * ====================================
 *
 * NetworkPolicy speaks of unicast connections between pods and address
 * blocks.  Broadcast and multicast reach many pods at once, whatever their
 * ingress isolation (which matches a pod's own addresses as destination),
 * and IPv6 link-local addresses are not pod addresses at all.  So, in the
 * ct_state table at NP_PRIO_CT_SCOPE (above new connections from the host,
 * below established and related ones, so that ICMPv6 errors from a
 * router's link-local address still reach the connections they are about):
 *
 *   - new connections whose Ethernet destination is a group address
 *     (dl_dst=01:00:00:00:00:00/01:00:00:00:00:00: broadcast, IPv4 and IPv6
 *     multicast) are dropped, and so are those to an IP group address in a
 *     unicast frame, which the receiver's stack accepts as well
 *     (255.255.255.255, 224.0.0.0/4, ff00::/8): cookie ID
 *     NP_PIPELINE_GROUP;
 *   - new IPv6 connections from or to fe80::/10 are dropped, cookie ID
 *     NP_PIPELINE_LINK_LOCAL.
 *
 * Both apply to every source, the host included.  Then, per local pod
 * whose port names its MAC, below new connections from the host (which may
 * open any connection to a pod anyway), cookie role "port" with the pod's
 * OpenFlow port:
 *
 *   - new IPv4 and IPv6 connections in a frame to the pod's MAC whose
 *     destination is not one of the pod's addresses are dropped
 *     (NP_PRIO_CT_POD_MAC), those to one of its addresses go on to the
 *     rules (NP_PRIO_CT_POD_ADDR, one flow per address).  Above all, a
 *     subnet-directed broadcast (10.0.0.255 for 10.0.0.0/24) in a unicast
 *     frame: the agent does not know the pods' subnets, the isolation drops
 *     match the pod's own addresses only, and the pod's stack accepts it on
 *     a wildcard socket.  So a pod is never a router: new connections
 *     through it are dropped, as the spoof guard drops those it would
 *     forward.  A pod whose addresses are not known yet receives no new
 *     connection but the host's.
 *
 * All of these are plain drops even with 'audit' (they are not rules).
 * OVN-Kubernetes likewise drops multicast unless a namespace enables it.
 * ARP and ND never reach conntrack (see above), so they are unaffected.
 *
 * Known gaps
 * ==========
 *
 *   - Pods whose port does not name their MAC (no "mac", "attached-mac"
 *     or "attached_mac" in its external_ids):
 *       - Link-local addresses in ND.  Without the MAC there is no
 *         link-local address to derive (see "Neighbour discovery"), so the
 *         pod may send an NA for any link-local target and an NS or RS
 *         from any link-local source.  It can thus claim another pod's
 *         link-local address, or a router's (an IPv6 default gateway is
 *         usually link-local), and make its neighbours send it the frames
 *         meant for that address: neighbour cache poisoning of link-local
 *         entries.  New connections to link-local addresses are dropped,
 *         but routed traffic sent through a poisoned gateway entry is not.
 *       - A subnet-directed broadcast (such as 10.0.0.255 for
 *         10.0.0.0/24) in a unicast frame to the pod: without the pod's
 *         MAC there are no per-pod drops in the ct_state table, so it goes
 *         through the rules like any other address; the isolation drops
 *         of an ingress-isolated pod match only the pod's own addresses, so
 *         it reaches the pod, whose stack accepts it.  (In a broadcast
 *         frame it is dropped like any broadcast.)
 *   - Two local pods whose ports name the same MAC (which NORMAL's MAC
 *     learning does not survive either) share its ct_state drops: both
 *     pods' addresses are allowed in frames to it, and the flows name the
 *     lowest port.  The incremental engine may then name another port, or
 *     lose the shared drop when one of the pods goes.
 *   - An RS's source link-layer option is not checked (see above).
 *   - An NA's IPv6 source is not checked (receivers learn from its target
 *     and link-layer option, which are).
 *
 * Rules
 * =====
 *
 * Each rule (or each variant of a rule with named ports that resolve to
 * different numbers) has a conjunction ID.  Its dimensions become clauses:
 * ingress {local target addresses} x {peer addresses} x {ports}, egress
 * {local source ports} x {peer addresses} x {ports}; a dimension the rule
 * leaves out (no peers: any peer; no ports: any port) is not a clause.  So
 * flows grow with the sum of the sets, never their product.  A rule with
 * only the target dimension needs no conjunction: its flows allow directly.
 * A dimension that selects nothing (peers that match no pod yet) makes the
 * rule allow nothing: it gets no flows at all.
 *
 * Clause flows are shared: one flow per distinct match carries the
 * conjunction() actions of every rule that uses it.  OpenFlow limits a
 * message to 64 KiB, so a flow carries at most NP_MAX_CONJS_PER_FLOW
 * conjunction actions; rules beyond that move to the next lower clause
 * priority (a "band"), where the shared match is repeated.  OVS evaluates
 * conjunctions band by band, so a packet that completes a rule in any band
 * is allowed.
 *
 * Cookies
 * =======
 *
 * Every flow we install has a cookie whose high 16 bits are NP_COOKIE_PREFIX,
 * so we dump, compare and delete exactly our flows and never a CNI's.  The
 * next 8 bits say the flow's role, the low 32 bits an ID:
 *
 *   role        ID                   flows
 *   pipeline    NP_PIPELINE_FIXED    fixed flows of the pipeline, but:
 *               NP_PIPELINE_GROUP    drops of new connections to group
 *                                    addresses
 *               NP_PIPELINE_LINK_LOCAL  drops of new IPv6 connections to or
 *                                    from link-local addresses
 *   port        OpenFlow port        classify flows of one port, and the
 *                                    ct_state flows of a pod's MAC
 *   isolation   OpenFlow port        drops of an isolated pod
 *   clause      0                    shared conjunction clauses; their
 *                                    conjunction() actions name the rules
 *   rule        conjunction ID       conj_id=ID flows and direct allows
 *   stats       conjunction ID       established packets of the rule
 *
 * Statistics
 * ==========
 *
 * Per rule: new connections are the packets of its rule flows (a rule's
 * conj_id=ID flow, or its direct allows), and the packets and bytes of the
 * connections it allowed are those plus its stats flow's.  Per isolated pod
 * and direction: the packets of its isolation drops.
 *
 * Audit
 * =====
 *
 * With 'audit' set, isolation drops become controller(meter_id=M): a denied
 * new connection is still never forwarded, and the agent receives it (rate
 * limited by OVS meter M) to log it.  Rules of namespaces annotated
 * "ovs-netpol.io/log-allowed: true" send the same copy of the new
 * connections they allow before going on.  The packet-in's cookie and
 * table name the rule or the isolated pod and the direction.
 *
 * Registers
 * =========
 *
 * Two 32-bit registers (reg8 and reg9 by default) carry the egress and the
 * ingress rule ID from the rule tables to the commit table; the commit
 * stores them in ct_label[0..31] (egress) and ct_label[32..63] (ingress).
 */

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum np_table {
    NP_TABLE_CLASSIFY,
    NP_TABLE_CT_STATE,
    NP_TABLE_EGRESS,
    NP_TABLE_INGRESS,
    NP_TABLE_COMMIT,
    NP_N_TABLES
};

const char *np_table_name(enum np_table);

/* Priorities in the classify table. */
#define NP_PRIO_POD_ND 210      /* A pod's neighbour discovery, checked.
                                 * Above its IP flows: conntrack would call
                                 * ND invalid and drop it. */
#define NP_PRIO_POD_ND_DROP 205 /* A pod's other neighbour discovery, router
                                 * advertisements and redirects (ICMPv6
                                 * types 133-137): drop, before its IP flow
                                 * sends them to conntrack. */
#define NP_PRIO_POD_GUARD 200   /* A pod's own traffic, checked. */
#define NP_PRIO_POD_DROP 100    /* Everything else from a pod port. */
#define NP_PRIO_PORT_ND 60      /* Neighbour discovery from other ports. */
#define NP_PRIO_PORT_IP 50      /* IP from the host or an uplink. */
#define NP_PRIO_PORT_OTHER 40   /* Non-IP from the host or an uplink. */

/* Priorities in the ct_state table. */
#define NP_PRIO_CT_INVALID 200
#define NP_PRIO_CT_STATS_INGRESS 196    /* Established, by ingress rule. */
#define NP_PRIO_CT_STATS_EGRESS 195     /* Established, by egress rule. */
#define NP_PRIO_CT_ESTABLISHED 190
#define NP_PRIO_CT_SCOPE 185    /* New to a group address, new IPv6 to or
                                 * from link-local: drop, even from the
                                 * host. */
#define NP_PRIO_CT_HOST 180
#define NP_PRIO_CT_POD_ADDR 175 /* New in a frame to a local pod's MAC, to
                                 * one of its addresses: to the rules. */
#define NP_PRIO_CT_POD_MAC 170  /* New in a frame to a local pod's MAC, to
                                 * another address: drop. */

/* Priorities in the egress and ingress tables. */
#define NP_PRIO_RULE_MATCH 3000 /* conj_id=ID: a rule matched. */
#define NP_PRIO_RULE_ALLOW 2000 /* Single-dimension rules. */
#define NP_PRIO_CLAUSE 1000     /* Conjunction clauses, band 0; band b is at
                                 * NP_PRIO_CLAUSE - b. */
#define NP_MAX_BANDS 800
#define NP_PRIO_ISOLATION 100   /* Drops of isolated pods. */

#define NP_PRIO_DEFAULT 0       /* Table miss of each table. */

/* At most this many conjunction() actions on one flow, so that a flow_mod
 * (16 bytes per action) stays well under OpenFlow's 64 KiB. */
#define NP_MAX_CONJS_PER_FLOW 3500

/* Cookies. */
#define NP_COOKIE_PREFIX UINT64_C(0x4e50000000000000)   /* "NP" */
#define NP_COOKIE_PREFIX_MASK UINT64_C(0xffff000000000000)

enum np_role {
    NP_ROLE_PIPELINE = 1,
    NP_ROLE_PORT = 2,
    NP_ROLE_ISOLATION = 3,
    NP_ROLE_CLAUSE = 4,
    NP_ROLE_RULE = 5,
    NP_ROLE_STATS = 6,
};

const char *np_role_name(enum np_role);

/* IDs of the cookies of role NP_ROLE_PIPELINE. */
enum np_pipeline_id {
    NP_PIPELINE_FIXED = 0,      /* The fixed flows, except: */
    NP_PIPELINE_GROUP = 1,      /* Drops of new connections to a group
                                 * (broadcast, multicast) Ethernet
                                 * address. */
    NP_PIPELINE_LINK_LOCAL = 2, /* Drops of new IPv6 connections to or from
                                 * fe80::/10. */
};

static inline uint64_t
np_cookie(enum np_role role, uint32_t id)
{
    return NP_COOKIE_PREFIX | ((uint64_t) role << 40) | id;
}

static inline bool
np_cookie_is_ours(uint64_t cookie)
{
    return (cookie & NP_COOKIE_PREFIX_MASK) == NP_COOKIE_PREFIX;
}

static inline enum np_role
np_cookie_role(uint64_t cookie)
{
    return (enum np_role) ((cookie >> 40) & 0xff);
}

static inline uint32_t
np_cookie_id(uint64_t cookie)
{
    return cookie & 0xffffffff;
}

/* Pipeline configuration. */
struct np_config {
    uint8_t first_table;        /* First of our NP_N_TABLES tables. */
    int next_table;             /* Where allowed traffic goes: -1 for NORMAL,
                                 * otherwise resubmit(,next_table). */
    uint16_t ct_zone;           /* Conntrack zone of our ct() actions. */
    uint8_t egress_reg;         /* Register for the egress rule ID. */
    uint8_t ingress_reg;        /* Register for the ingress rule ID. */
    bool audit;                 /* Send denied (and opted-in allowed) new
                                 * connections to the controller. */
    uint32_t audit_meter;       /* OpenFlow meter that rate-limits them. */
};

#define NP_CONFIG_DEFAULT_CT_ZONE 1
#define NP_CONFIG_DEFAULT_EGRESS_REG 8
#define NP_CONFIG_DEFAULT_INGRESS_REG 9
#define NP_CONFIG_DEFAULT_AUDIT_METER 20048     /* 0x4e50, "NP". */

void np_config_init(struct np_config *);

/* Returns NULL if 'config' is usable, else a malloc'd explanation. */
char *np_config_check(const struct np_config *);

static inline uint8_t
np_table(const struct np_config *config, enum np_table table)
{
    return config->first_table + table;
}

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/pipeline.h */
