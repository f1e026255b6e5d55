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

/* pipeline.c: the fixed part of the pipeline and the flows of each port:
 * its classify flows and, for a pod with a known MAC, its ct_state flows
 * (pipeline.h describes the tables).  The compiler and the engine call it;
 * policy rules are compiled in compiler.c.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/pipeline.h"

#include <inttypes.h>
#include <string.h>
#include <openvswitch/ofp-actions.h>
#include "flow-build.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/util.h"

#define ICMPV6_PROTO 58
#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT 134
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_REDIRECT 137

static const struct cidr link_local = {
    .family = AF_INET6, .plen = 10, .addr = { 0xfe, 0x80 },
};

const char *
np_table_name(enum np_table table)
{
    switch (table) {
    case NP_TABLE_CLASSIFY: return "classify";
    case NP_TABLE_CT_STATE: return "ct_state";
    case NP_TABLE_EGRESS: return "egress";
    case NP_TABLE_INGRESS: return "ingress";
    case NP_TABLE_COMMIT: return "commit";
    case NP_N_TABLES: break;
    }
    return "unknown";
}

const char *
np_role_name(enum np_role role)
{
    switch (role) {
    case NP_ROLE_PIPELINE: return "pipeline";
    case NP_ROLE_PORT: return "port";
    case NP_ROLE_ISOLATION: return "isolation";
    case NP_ROLE_CLAUSE: return "clause";
    case NP_ROLE_RULE: return "rule";
    case NP_ROLE_STATS: return "stats";
    }
    return "unknown";
}

void
np_config_init(struct np_config *config)
{
    memset(config, 0, sizeof *config);
    config->first_table = 0;
    config->next_table = -1;
    config->ct_zone = NP_CONFIG_DEFAULT_CT_ZONE;
    config->egress_reg = NP_CONFIG_DEFAULT_EGRESS_REG;
    config->ingress_reg = NP_CONFIG_DEFAULT_INGRESS_REG;
    config->audit = false;
    config->audit_meter = NP_CONFIG_DEFAULT_AUDIT_METER;
}

char *
np_config_check(const struct np_config *config)
{
    int last = config->first_table + NP_N_TABLES - 1;
    if (last > 254) {
        return np_xasprintf("first table %d leaves no room for %d tables",
                            config->first_table, NP_N_TABLES);
    }
    if (config->next_table > 254) {
        return np_xasprintf("next table %d is not a table",
                            config->next_table);
    }
    if (config->next_table >= config->first_table
        && config->next_table <= last) {
        return np_xasprintf("next table %d is one of ours (%d-%d)",
                            config->next_table, config->first_table, last);
    }
    if (config->egress_reg > 15 || config->ingress_reg > 15
        || config->egress_reg == config->ingress_reg) {
        return np_xasprintf("registers %d and %d must be two of reg0-reg15",
                            config->egress_reg, config->ingress_reg);
    }
    return NULL;
}

/* The fixed flows. */

/* Appends the actions that send a new connection to the rules, with the
 * rule registers cleared (a CNI may hand us packets with anything in
 * them). */
static void
put_to_rules_actions(const struct np_config *config, struct ofpbuf *ofpacts)
{
    put_load_reg(config->egress_reg, 0, ofpacts);
    put_load_reg(config->ingress_reg, 0, ofpacts);
    put_goto(np_table(config, NP_TABLE_EGRESS), ofpacts);
}

static void
add_fixed_flow(const struct np_config *config, struct flow_set *flows,
               enum np_table table, uint16_t priority,
               const struct match *match, const struct ofpbuf *ofpacts)
{
    add_flow(flows, np_table(config, table), priority, match,
             np_cookie(NP_ROLE_PIPELINE, 0), ofpacts);
}

/* New connections that NetworkPolicy cannot express are dropped, from
 * every source, the host too (pipeline.h, "Traffic NetworkPolicy cannot
 * express"): to a group Ethernet address (broadcast, multicast), which
 * would reach pods whatever their ingress isolation, to an IP broadcast or
 * multicast address in a unicast frame, which the receiver's stack accepts
 * just as well, and IPv6 to or from a link-local address. */
static void
add_ct_scope_flows(const struct np_config *config, struct flow_set *flows)
{
    uint8_t table = np_table(config, NP_TABLE_CT_STATE);
    uint64_t group_cookie = np_cookie(NP_ROLE_PIPELINE, NP_PIPELINE_GROUP);
    struct ofpbuf drop;
    struct match match;

    ofpbuf_init(&drop, 0);

    static const struct eth_addr group = { .ea = { 0x01 } };
    match_init_catchall(&match);
    match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
    match_set_dl_dst_masked(&match, group, group);
    add_flow(flows, table, NP_PRIO_CT_SCOPE, &match, group_cookie, &drop);

    static const struct cidr group_ips[] = {
        { .family = AF_INET, .plen = 32, .addr = { 255, 255, 255, 255 } },
        { .family = AF_INET, .plen = 4, .addr = { 224 } },
        { .family = AF_INET6, .plen = 8, .addr = { 0xff } },
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(group_ips); i++) {
        match_init_catchall(&match);
        match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
        match_set_cidr(&match, &group_ips[i], false);
        add_flow(flows, table, NP_PRIO_CT_SCOPE, &match, group_cookie,
                 &drop);
    }

    for (int src = 0; src < 2; src++) {
        match_init_catchall(&match);
        match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
        match_set_cidr(&match, &link_local, src);
        add_flow(flows, table, NP_PRIO_CT_SCOPE, &match,
                 np_cookie(NP_ROLE_PIPELINE, NP_PIPELINE_LINK_LOCAL), &drop);
    }

    ofpbuf_uninit(&drop);
}

static void
add_ct_state_flows(const struct np_config *config, struct flow_set *flows)
{
    uint8_t table = np_table(config, NP_TABLE_CT_STATE);
    struct ofpbuf ofpacts;
    struct match match;

    /* Invalid packets are dropped (empty actions). */
    ofpbuf_init(&ofpacts, 64);
    match_init_catchall(&match);
    match_set_ct_state_masked(&match, 0x30 /* +inv+trk */, 0x30);
    add_fixed_flow(config, flows, NP_TABLE_CT_STATE, NP_PRIO_CT_INVALID,
                   &match, &ofpacts);

    /* Packets of connections already allowed: no rule lookup. */
    put_allow_actions(config, table, &ofpacts);
    static const uint32_t states[] = {
        0x22,                   /* -new+est+trk */
        0x24,                   /* -new+rel+trk */
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(states); i++) {
        match_init_catchall(&match);
        match_set_ct_state_masked(&match, states[i], states[i] | 0x01);
        add_fixed_flow(config, flows, NP_TABLE_CT_STATE,
                       NP_PRIO_CT_ESTABLISHED, &match, &ofpacts);
    }

    /* New connections from the host are always allowed: Kubernetes wants
     * kubelet's probes to reach every pod. */
    ofpbuf_clear(&ofpacts);
    put_goto(np_table(config, NP_TABLE_COMMIT), &ofpacts);
    match_init_catchall(&match);
    match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
    match_set_in_port(&match, OFPP_LOCAL);
    add_fixed_flow(config, flows, NP_TABLE_CT_STATE, NP_PRIO_CT_HOST,
                   &match, &ofpacts);

    add_ct_scope_flows(config, flows);

    /* Everything else goes to the rules. */
    ofpbuf_clear(&ofpacts);
    put_to_rules_actions(config, &ofpacts);
    match_init_catchall(&match);
    add_fixed_flow(config, flows, NP_TABLE_CT_STATE, NP_PRIO_DEFAULT,
                   &match, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

static void
add_commit_flows(const struct np_config *config, struct flow_set *flows)
{
    uint8_t table = np_table(config, NP_TABLE_COMMIT);
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    put_actions_text(&ofpacts,
                     "ct(commit,zone=%"PRIu16","
                     "exec(move:NXM_NX_REG%d[]->NXM_NX_CT_LABEL[0..31],"
                     "move:NXM_NX_REG%d[]->NXM_NX_CT_LABEL[32..63]))",
                     config->ct_zone, config->egress_reg,
                     config->ingress_reg);
    put_allow_actions(config, table, &ofpacts);

    static const uint16_t eth_types[] = { ETH_TYPE_IPV4, ETH_TYPE_IPV6 };
    for (size_t i = 0; i < NP_ARRAY_SIZE(eth_types); i++) {
        struct match match;
        match_init_catchall(&match);
        match_set_dl_type(&match, htons(eth_types[i]));
        add_fixed_flow(config, flows, NP_TABLE_COMMIT, NP_PRIO_DEFAULT,
                       &match, &ofpacts);
    }
    ofpbuf_uninit(&ofpacts);
}

void
pipeline_add_fixed_flows(const struct np_config *config,
                         struct flow_set *flows)
{
    struct ofpbuf ofpacts;
    struct match match;

    /* classify: a port we do not know is dropped until we do. */
    ofpbuf_init(&ofpacts, 64);
    match_init_catchall(&match);
    add_fixed_flow(config, flows, NP_TABLE_CLASSIFY, NP_PRIO_DEFAULT, &match,
                   &ofpacts);

    add_ct_state_flows(config, flows);

    /* egress and ingress: not isolated, not matched: go on. */
    static const enum np_table rule_tables[] = {
        NP_TABLE_EGRESS, NP_TABLE_INGRESS
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(rule_tables); i++) {
        ofpbuf_clear(&ofpacts);
        put_goto(np_table(config, rule_tables[i]) + 1, &ofpacts);
        add_fixed_flow(config, flows, rule_tables[i], NP_PRIO_DEFAULT,
                       &match, &ofpacts);
    }
    ofpbuf_uninit(&ofpacts);

    add_commit_flows(config, flows);
}

/* Classify flows of one port. */

static void
put_ct_actions(const struct np_config *config, struct ofpbuf *ofpacts)
{
    put_actions_text(ofpacts, "ct(table=%d,zone=%"PRIu16")",
                     np_table(config, NP_TABLE_CT_STATE), config->ct_zone);
}

/* Sets 'll' to the link-local address(es) 'lpod' may use in neighbour
 * discovery: with a known MAC, only the one derived from it (modified
 * EUI-64, RFC 4291 2.5.1 and appendix A: fe80::/64, the MAC with the U/L
 * bit flipped and ff:fe in its middle), as OVN's port security does; else
 * all of fe80::/10 (pipeline.h, "Known gaps"). */
static void
pod_link_local(const struct local_pod *lpod, struct cidr *ll)
{
    if (!lpod->port->has_mac) {
        *ll = link_local;
        return;
    }

    const uint8_t *mac = lpod->port->mac;
    memset(ll, 0, sizeof *ll);
    ll->family = AF_INET6;
    ll->plen = 128;
    ll->addr[0] = 0xfe;
    ll->addr[1] = 0x80;
    ll->addr[8] = mac[0] ^ 0x02;
    ll->addr[9] = mac[1];
    ll->addr[10] = mac[2];
    ll->addr[11] = 0xff;
    ll->addr[12] = 0xfe;
    ll->addr[13] = mac[3];
    ll->addr[14] = mac[4];
    ll->addr[15] = mac[5];
}

/* Sets 'match' to match frames from 'lpod''s port: untagged (a tagged
 * frame with the pod's own MAC and address would otherwise pass, and be
 * flooded in its VLAN), from the pod's MAC if we know it. */
static void
match_set_pod_source(struct match *match, const struct local_pod *lpod)
{
    match_set_in_port(match, OFP_PORT_C(lpod->port->ofport));
    match_set_vlan_vid(match, htons(0));
    if (lpod->port->has_mac) {
        struct eth_addr mac;
        memcpy(mac.ea, lpod->port->mac, 6);
        match_set_dl_src(match, mac);
    }
}

static void
add_pod_flow(const struct np_config *config, struct flow_set *flows,
             const struct local_pod *lpod, uint16_t priority,
             const struct match *match, const struct ofpbuf *ofpacts)
{
    add_flow(flows, np_table(config, NP_TABLE_CLASSIFY), priority, match,
             np_cookie(NP_ROLE_PORT, lpod->port->ofport), ofpacts);
}

/* Neighbour advertisements from a pod may announce only its own addresses
 * and its link-local address (pod_link_local()), with its own MAC or
 * none. */
static void
add_pod_na_flows(const struct np_config *config, struct flow_set *flows,
                 const struct local_pod *lpod, const struct cidr *target,
                 const struct ofpbuf *allow)
{
    struct in6_addr addr, mask;
    memcpy(&addr, target->addr, 16);
    memset(&mask, 0, sizeof mask);
    for (int i = 0; i < target->plen; i++) {
        mask.s6_addr[i / 8] |= 0x80 >> (i % 8);
    }

    int n_tll = lpod->port->has_mac ? 2 : 1;
    for (int i = 0; i < n_tll; i++) {
        struct match match;
        match_init_catchall(&match);
        match_set_pod_source(&match, lpod);
        match_set_dl_type(&match, htons(ETH_TYPE_IPV6));
        match_set_nw_proto(&match, ICMPV6_PROTO);
        match_set_icmp_type(&match, ND_NEIGHBOR_ADVERT);
        match_set_icmp_code(&match, 0);
        match_set_nd_target_masked(&match, &addr, &mask);
        if (lpod->port->has_mac) {
            struct eth_addr tll = { .ea = { 0 } };
            if (i == 0) {
                memcpy(tll.ea, lpod->port->mac, 6);
            }
            match_set_arp_tha(&match, tll);
        }
        add_pod_flow(config, flows, lpod, NP_PRIO_POD_ND, &match, allow);
    }
}

/* Router ('type' ND_ROUTER_SOLICIT) or neighbour solicitations from a pod:
 * from one of its own IPv6 addresses, its link-local address 'll' or the
 * unspecified one (duplicate address detection), announcing the pod's MAC
 * or none; none only from the unspecified address (RFC 4861, 4.3).  OVS
 * parses the link-layer option of neighbour solicitations only. */
static void
add_pod_solicit_flows(const struct np_config *config, struct flow_set *flows,
                      const struct local_pod *lpod, const struct cidr *ll,
                      uint8_t type, const struct ofpbuf *allow)
{
    static const struct cidr unspecified = {
        .family = AF_INET6, .plen = 128,
    };
    bool check_sll = lpod->port->has_mac && type == ND_NEIGHBOR_SOLICIT;

    for (size_t i = 0; i < lpod->n_ips + 2; i++) {
        const struct cidr *src = (i == lpod->n_ips ? ll
                                  : i == lpod->n_ips + 1 ? &unspecified
                                  : &lpod->ips[i]);
        if (src->family != AF_INET6
            || (i < lpod->n_ips && (cidr_equal(src, ll)
                                    || cidr_equal(src, &unspecified)))) {
            /* Not IPv6, or one of the two that follow (no flow twice). */
            continue;
        }

        int n_sll = check_sll && src != &unspecified ? 2 : 1;
        for (int j = 0; j < n_sll; j++) {
            struct match match;
            match_init_catchall(&match);
            match_set_pod_source(&match, lpod);
            match_set_cidr(&match, src, true);
            match_set_nw_proto(&match, ICMPV6_PROTO);
            match_set_icmp_type(&match, type);
            match_set_icmp_code(&match, 0);
            if (check_sll) {
                struct eth_addr sll = { .ea = { 0 } };
                if (j == 0 && src != &unspecified) {
                    memcpy(sll.ea, lpod->port->mac, 6);
                }
                match_set_arp_sha(&match, sll);
            }
            add_pod_flow(config, flows, lpod, NP_PRIO_POD_ND, &match, allow);
        }
    }
}

static void
add_pod_nd_flows(const struct np_config *config, struct flow_set *flows,
                 const struct local_pod *lpod, const struct ofpbuf *allow,
                 const struct ofpbuf *drop)
{
    struct cidr ll;
    pod_link_local(lpod, &ll);

    add_pod_solicit_flows(config, flows, lpod, &ll, ND_ROUTER_SOLICIT,
                          allow);
    add_pod_solicit_flows(config, flows, lpod, &ll, ND_NEIGHBOR_SOLICIT,
                          allow);

    add_pod_na_flows(config, flows, lpod, &ll, allow);
    for (size_t i = 0; i < lpod->n_ips; i++) {
        if (lpod->ips[i].family == AF_INET6
            && !cidr_equal(&lpod->ips[i], &ll)) {
            add_pod_na_flows(config, flows, lpod, &lpod->ips[i], allow);
        }
    }

    /* Neighbour discovery the flows above do not allow exactly (about
     * another address, from another source), router advertisements and
     * redirects: drop, here rather than after conntrack, where the pod's IP
     * flow would send what comes from its own address. */
    for (int type = ND_ROUTER_SOLICIT; type <= ND_REDIRECT; type++) {
        struct match match;
        match_init_catchall(&match);
        match_set_in_port(&match, OFP_PORT_C(lpod->port->ofport));
        match_set_dl_type(&match, htons(ETH_TYPE_IPV6));
        match_set_nw_proto(&match, ICMPV6_PROTO);
        match_set_icmp_type(&match, type);
        add_pod_flow(config, flows, lpod, NP_PRIO_POD_ND_DROP, &match, drop);
    }
}

/* Adds 'match' to 'flows' in the ct_state table, with the cookie of
 * 'lpod''s port, unless a flow with its identity is there already: another
 * local pod whose port names the same MAC (pipeline.h, "Known gaps"). */
static void
add_pod_ct_flow(const struct np_config *config, struct flow_set *flows,
                const struct local_pod *lpod, uint16_t priority,
                const struct match *match, const struct ofpbuf *ofpacts)
{
    struct np_flow *flow = build_flow(np_table(config, NP_TABLE_CT_STATE),
                                      priority, match,
                                      np_cookie(NP_ROLE_PORT,
                                                lpod->port->ofport),
                                      ofpacts);
    if (flow_set_find_flow(flows, flow)) {
        np_flow_destroy(flow);
    } else {
        flow_set_insert(flows, flow);
    }
}

/* New connections in a frame to 'lpod''s MAC must be to one of its own
 * addresses: anything else, such as its subnet's broadcast address (which
 * the agent cannot know, and which its stack accepts on a wildcard socket)
 * or another pod's address, is dropped in the ct_state table, whatever the
 * pod's isolation (pipeline.h, "Traffic NetworkPolicy cannot express").
 * Nothing to do without the pod's MAC. */
static void
add_pod_ct_flows(const struct np_config *config, struct flow_set *flows,
                 const struct local_pod *lpod)
{
    if (!lpod->port->has_mac) {
        return;
    }

    struct ofpbuf to_rules, drop;
    struct eth_addr mac;
    struct match match;

    memcpy(mac.ea, lpod->port->mac, 6);
    ofpbuf_init(&to_rules, 64);
    put_to_rules_actions(config, &to_rules);
    ofpbuf_init(&drop, 0);

    for (size_t i = 0; i < lpod->n_ips; i++) {
        match_init_catchall(&match);
        match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
        match_set_dl_dst(&match, mac);
        match_set_cidr(&match, &lpod->ips[i], false);
        add_pod_ct_flow(config, flows, lpod, NP_PRIO_CT_POD_ADDR, &match,
                        &to_rules);
    }

    static const uint16_t eth_types[] = { ETH_TYPE_IPV4, ETH_TYPE_IPV6 };
    for (size_t i = 0; i < NP_ARRAY_SIZE(eth_types); i++) {
        match_init_catchall(&match);
        match_set_ct_state_masked(&match, 0x21 /* +new+trk */, 0x21);
        match_set_dl_dst(&match, mac);
        match_set_dl_type(&match, htons(eth_types[i]));
        add_pod_ct_flow(config, flows, lpod, NP_PRIO_CT_POD_MAC, &match,
                        &drop);
    }

    ofpbuf_uninit(&to_rules);
    ofpbuf_uninit(&drop);
}

void
pipeline_add_pod_port_flows(const struct np_config *config,
                            const struct local_pod *lpod,
                            struct flow_set *flows)
{
    uint8_t table = np_table(config, NP_TABLE_CLASSIFY);
    struct ofpbuf to_ct, allow, drop;
    bool has_ipv6 = false;
    struct match match;

    ofpbuf_init(&to_ct, 64);
    put_ct_actions(config, &to_ct);
    ofpbuf_init(&allow, 64);
    put_allow_actions(config, table, &allow);
    ofpbuf_init(&drop, 0);

    for (size_t i = 0; i < lpod->n_ips; i++) {
        const struct cidr *ip = &lpod->ips[i];

        /* IP from the pod's own address goes to conntrack. */
        match_init_catchall(&match);
        match_set_pod_source(&match, lpod);
        match_set_cidr(&match, ip, true);
        add_pod_flow(config, flows, lpod, NP_PRIO_POD_GUARD, &match, &to_ct);

        if (ip->family == AF_INET) {
            /* ARP only about the pod's own address and MAC. */
            ovs_be32 addr;
            memcpy(&addr, ip->addr, 4);
            match_init_catchall(&match);
            match_set_pod_source(&match, lpod);
            match_set_dl_type(&match, htons(ETH_TYPE_ARP));
            match_set_nw_src(&match, addr);
            if (lpod->port->has_mac) {
                struct eth_addr mac;
                memcpy(mac.ea, lpod->port->mac, 6);
                match_set_arp_sha(&match, mac);
            }
            add_pod_flow(config, flows, lpod, NP_PRIO_POD_GUARD, &match,
                         &allow);
        } else {
            has_ipv6 = true;
        }
    }
    if (has_ipv6) {
        add_pod_nd_flows(config, flows, lpod, &allow, &drop);
    }

    /* Anything else from the pod is a spoof (or an address we do not know
     * yet): drop it. */
    match_init_catchall(&match);
    match_set_in_port(&match, OFP_PORT_C(lpod->port->ofport));
    add_pod_flow(config, flows, lpod, NP_PRIO_POD_DROP, &match, &drop);

    add_pod_ct_flows(config, flows, lpod);

    ofpbuf_uninit(&to_ct);
    ofpbuf_uninit(&allow);
    ofpbuf_uninit(&drop);
}

void
pipeline_add_other_port_flows(const struct np_config *config,
                              const struct local_port *port,
                              struct flow_set *flows)
{
    uint8_t table = np_table(config, NP_TABLE_CLASSIFY);
    uint64_t cookie = np_cookie(NP_ROLE_PORT, port->ofport);
    struct ofpbuf to_ct, allow;
    struct match match;

    ofpbuf_init(&to_ct, 64);
    put_ct_actions(config, &to_ct);
    ofpbuf_init(&allow, 64);
    put_allow_actions(config, table, &allow);

    /* Neighbour discovery must reach pods whatever their policies, like
     * ARP does. */
    for (int type = ND_ROUTER_SOLICIT; type <= ND_NEIGHBOR_ADVERT; type++) {
        match_init_catchall(&match);
        match_set_in_port(&match, OFP_PORT_C(port->ofport));
        match_set_dl_type(&match, htons(ETH_TYPE_IPV6));
        match_set_nw_proto(&match, ICMPV6_PROTO);
        match_set_icmp_type(&match, type);
        match_set_icmp_code(&match, 0);
        add_flow(flows, table, NP_PRIO_PORT_ND, &match, cookie, &allow);
    }

    static const uint16_t eth_types[] = { ETH_TYPE_IPV4, ETH_TYPE_IPV6 };
    for (size_t i = 0; i < NP_ARRAY_SIZE(eth_types); i++) {
        match_init_catchall(&match);
        match_set_in_port(&match, OFP_PORT_C(port->ofport));
        match_set_dl_type(&match, htons(eth_types[i]));
        add_flow(flows, table, NP_PRIO_PORT_IP, &match, cookie, &to_ct);
    }

    match_init_catchall(&match);
    match_set_in_port(&match, OFP_PORT_C(port->ofport));
    add_flow(flows, table, NP_PRIO_PORT_OTHER, &match, cookie, &allow);

    ofpbuf_uninit(&to_ct);
    ofpbuf_uninit(&allow);
}
