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

/* flow-build.c: what the compiler's parts share to build flows: the node's
 * ports as the compiler sees them, address matches and common actions
 * (flow-build.h).  Pure: no I/O. */

#include <config.h>
#include "flow-build.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/meta-flow.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/ofp-protocol.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/util.h"

static int
compare_local_pods(const void *a_, const void *b_)
{
    const struct local_pod *a = a_, *b = b_;
    return a->port->ofport < b->port->ofport ? -1
           : a->port->ofport > b->port->ofport;
}

static int
compare_port_ptrs(const void *a_, const void *b_)
{
    const struct local_port *const *a = a_, *const *b = b_;
    return (*a)->ofport < (*b)->ofport ? -1 : (*a)->ofport > (*b)->ofport;
}

void
local_ports_collect(const struct cluster *cluster, struct local_ports *lp)
{
    size_t n = hmap_count(&cluster->ports);
    memset(lp, 0, sizeof *lp);
    lp->pods = np_xcalloc(n, sizeof *lp->pods);
    lp->others = np_xcalloc(n, sizeof *lp->others);

    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        if (!local_port_is_pod(port)) {
            lp->others[lp->n_others++] = port;
            continue;
        }

        struct local_pod *lpod = &lp->pods[lp->n_pods++];
        lpod->port = port;
        lpod->pod = cluster_find_pod(cluster, port->pod_namespace,
                                     port->pod_name);
        if (port->n_ips || !lpod->pod) {
            lpod->ips = port->ips;
            lpod->n_ips = port->n_ips;
        } else {
            lpod->ips = lpod->pod->ips;
            lpod->n_ips = lpod->pod->n_ips;
        }
        for (size_t i = 0; i < lpod->n_ips; i++) {
            lp->has_family[family_index(lpod->ips[i].family)] = true;
        }
    }
    np_qsort(lp->pods, lp->n_pods, sizeof *lp->pods, compare_local_pods);
    np_qsort(lp->others, lp->n_others, sizeof *lp->others, compare_port_ptrs);
}

void
local_ports_destroy(struct local_ports *lp)
{
    if (lp) {
        free(lp->pods);
        free(lp->others);
        memset(lp, 0, sizeof *lp);
    }
}

void
match_set_cidr(struct match *match, const struct cidr *cidr, bool src)
{
    if (cidr->family == AF_INET) {
        match_set_dl_type(match, htons(ETH_TYPE_IPV4));
        if (cidr->plen) {
            ovs_be32 addr, mask;
            memcpy(&addr, cidr->addr, 4);
            mask = htonl(UINT32_MAX << (32 - cidr->plen));
            if (src) {
                match_set_nw_src_masked(match, addr, mask);
            } else {
                match_set_nw_dst_masked(match, addr, mask);
            }
        }
    } else {
        match_set_dl_type(match, htons(ETH_TYPE_IPV6));
        if (cidr->plen) {
            struct in6_addr addr, mask;
            memcpy(&addr, cidr->addr, 16);
            memset(&mask, 0, sizeof mask);
            for (int i = 0; i < cidr->plen; i++) {
                mask.s6_addr[i / 8] |= 0x80 >> (i % 8);
            }
            if (src) {
                match_set_ipv6_src_masked(match, &addr, &mask);
            } else {
                match_set_ipv6_dst_masked(match, &addr, &mask);
            }
        }
    }
}

void
put_actions_text(struct ofpbuf *ofpacts, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = np_xvasprintf(format, args);
    va_end(args);

    enum ofputil_protocol usable;
    struct ofpact_parse_params pp = {
        .ofpacts = ofpacts,
        .usable_protocols = &usable,
    };
    char *error = ofpacts_parse_instructions(text, &pp);
    if (error) {
        fprintf(stderr, "ovs-netpol: bad built-in actions \"%s\": %s\n",
                text, error);
        abort();
    }
    free(text);
}

void
put_audit_action(const struct np_config *config, struct ofpbuf *ofpacts)
{
    /* 128 bytes hold every header the audit log reports. */
    put_actions_text(ofpacts, "controller(max_len=128,meter_id=%"PRIu32")",
                     config->audit_meter);
}

void
put_goto(uint8_t table, struct ofpbuf *ofpacts)
{
    ofpact_put_GOTO_TABLE(ofpacts)->table_id = table;
}

void
put_load_reg(uint8_t reg, uint32_t value, struct ofpbuf *ofpacts)
{
    /* Filled in by hand: with a value, ofpact_put_set_field() leaves its
     * padding uninitialized, and our flows must be the same bytes every
     * time. */
    const struct mf_field *field = mf_from_id(MFF_REG0 + reg);
    struct ofpact_set_field *sf = ofpact_put_set_field(ofpacts, field, NULL,
                                                       NULL);
    ovs_be32 be_value = htonl(value), mask = OVS_BE32_MAX;
    memcpy(sf->value, &be_value, sizeof be_value);
    memcpy(ofpact_set_field_mask(sf), &mask, sizeof mask);
}

void
put_allow_actions(const struct np_config *config, uint8_t current_table,
                  struct ofpbuf *ofpacts)
{
    if (config->next_table < 0) {
        ofpact_put_OUTPUT(ofpacts)->port = OFPP_NORMAL;
    } else if (config->next_table > current_table) {
        put_goto(config->next_table, ofpacts);
    } else {
        struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(ofpacts);
        resubmit->in_port = OFPP_IN_PORT;
        resubmit->table_id = config->next_table;
    }
}

static bool
is_wildcard(const void *mask, size_t size)
{
    const uint8_t *p = mask;
    for (size_t i = 0; i < size; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* Returns true if 'match' names a field that only Ethernet packets have
 * (anything but in_port, registers, metadata, conj_id and conntrack state,
 * among the fields we use: eth_type and the VLAN tag count). */
static bool
match_has_prereq_fields(const struct match *match)
{
    const struct flow *m = &match->wc.masks;
    return (m->dl_type
            || m->vlans[0].tci
            || !is_wildcard(&m->dl_src, sizeof m->dl_src)
            || !is_wildcard(&m->dl_dst, sizeof m->dl_dst)
            || m->nw_src || m->nw_dst || m->nw_proto
            || !is_wildcard(&m->ipv6_src, sizeof m->ipv6_src)
            || !is_wildcard(&m->ipv6_dst, sizeof m->ipv6_dst)
            || m->tp_src || m->tp_dst
            || !is_wildcard(&m->nd_target, sizeof m->nd_target)
            || !is_wildcard(&m->arp_sha, sizeof m->arp_sha)
            || !is_wildcard(&m->arp_tha, sizeof m->arp_tha));
}

struct np_flow *
build_flow_from_scratch(uint8_t table, uint16_t priority,
                        struct match *match, uint64_t cookie,
                        const struct ofpbuf *ofpacts)
{
    /* When a flow names a field with prerequisites, the switch adds
     * packet_type=eth as it decodes it (nx_pull_raw()), and reports the
     * flow that way: say it too, so that the flow we build and the flow we
     * read back are the same flow.  test-compiler's round-trip test keeps
     * this list honest. */
    if (match_has_prereq_fields(match)) {
        match_set_default_packet_type(match);
    }
    return np_flow_create(table, priority, match, cookie, ofpacts->data,
                          ofpacts->size);
}

struct np_flow *
build_flow(uint8_t table, uint16_t priority, const struct match *match_,
           uint64_t cookie, const struct ofpbuf *ofpacts)
{
    struct match match = *match_;
    return build_flow_from_scratch(table, priority, &match, cookie, ofpacts);
}

void
add_flow(struct flow_set *flows, uint8_t table, uint16_t priority,
         const struct match *match, uint64_t cookie,
         const struct ofpbuf *ofpacts)
{
    flow_set_insert(flows, build_flow(table, priority, match, cookie,
                                      ofpacts));
}

void
add_flow_from_scratch(struct flow_set *flows, uint8_t table,
                      uint16_t priority, struct match *match,
                      uint64_t cookie, const struct ofpbuf *ofpacts)
{
    flow_set_insert(flows, build_flow_from_scratch(table, priority, match,
                                                   cookie, ofpacts));
}
