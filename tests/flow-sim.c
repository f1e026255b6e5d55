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

/* flow-sim.c: a reference simulator of our flow tables, for tests only
 * (flow-sim.h). */

#include <config.h>
#include "flow-sim.h"
#include "ovs-netpol/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <openvswitch/dynamic-string.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/flow.h>
#include <openvswitch/match.h>
#include <openvswitch/meta-flow.h>
#include <openvswitch/ofp-actions.h>

#define CS_NEW 0x01
#define CS_ESTABLISHED 0x02
#define CS_TRACKED 0x20

static void
packet_to_flow(const struct flow_sim_packet *p, struct flow *f)
{
    memset(f, 0, sizeof *f);
    f->in_port.ofp_port = OFP_PORT_C(p->in_port);
    memcpy(f->dl_src.ea, p->src_mac, 6);
    f->nw_proto = p->protocol;
    f->tp_dst = htons(p->dst_port);
    if (p->src.family == AF_INET) {
        f->dl_type = htons(0x0800);
        memcpy(&f->nw_src, p->src.addr, 4);
        memcpy(&f->nw_dst, p->dst.addr, 4);
    } else {
        f->dl_type = htons(0x86dd);
        memcpy(&f->ipv6_src, p->src.addr, 16);
        memcpy(&f->ipv6_dst, p->dst.addr, 16);
    }
}

static bool
is_conjunctive(const struct np_flow *flow)
{
    return (flow->ofpacts_len
            && flow->ofpacts->type == OFPACT_CONJUNCTION);
}

/* Finds the flow OVS would pick in 'table' for 'f'. */
static const struct np_flow *
lookup(const struct flow_set *flows, uint8_t table, struct flow *f,
       bool allow_conjunctions)
{
    /* Every priority that has a matching flow, highest first. */
    const struct np_flow *flow;
    int best_prio = -1;
    const struct np_flow *hard = NULL;

    /* Scan priorities from high to low. */
    for (int prio = 65535; prio >= 0; prio = best_prio - 1) {
        best_prio = -1;
        HMAP_FOR_EACH (flow, node, &flows->flows) {
            if (flow->table_id == table && flow->priority <= prio
                && flow->priority > best_prio
                && minimatch_matches_flow(&flow->match, f)
                && (allow_conjunctions || !is_conjunctive(flow))) {
                best_prio = flow->priority;
            }
        }
        if (best_prio < 0) {
            return NULL;
        }

        /* At 'best_prio': a plain flow, or conjunctions to combine.  For
         * each conjunction ID, a bit mask of the clauses seen. */
        hard = NULL;
        struct conj_seen {
            uint32_t id;
            uint32_t seen;
            uint8_t needed;
        } *conjs = NULL;
        size_t n_ids = 0, allocated = 0;
        HMAP_FOR_EACH (flow, node, &flows->flows) {
            if (flow->table_id != table || flow->priority != best_prio
                || !minimatch_matches_flow(&flow->match, f)) {
                continue;
            }
            if (!is_conjunctive(flow)) {
                if (!hard) {
                    hard = flow;
                }
                continue;
            }
            if (!allow_conjunctions) {
                continue;
            }
            const struct ofpact *a;
            OFPACT_FOR_EACH (a, flow->ofpacts, flow->ofpacts_len) {
                const struct ofpact_conjunction *oc
                    = ofpact_get_CONJUNCTION(a);
                size_t k;
                for (k = 0; k < n_ids && conjs[k].id != oc->id; k++) {
                    continue;
                }
                if (k == n_ids) {
                    conjs = np_x2nrealloc(conjs, &allocated, n_ids + 1,
                                          sizeof *conjs);
                    conjs[n_ids++] = (struct conj_seen) {
                        .id = oc->id, .needed = oc->n_clauses,
                    };
                }
                conjs[k].seen |= 1u << oc->clause;
            }
        }
        if (getenv("NP_SIM_DEBUG") && n_ids) {
            fprintf(stderr, "sim: table %d prio %d: %zu conjunctions\n",
                    table, best_prio, n_ids);
        }
        /* OVS prefers a plain flow over conjunctions at equal priority. */
        if (hard) {
            free(conjs);
            return hard;
        }
        for (size_t k = 0; k < n_ids; k++) {
            if (conjs[k].seen == (1u << conjs[k].needed) - 1) {
                uint32_t saved = f->conj_id;
                f->conj_id = conjs[k].id;
                const struct np_flow *target = lookup(flows, table, f,
                                                      false);
                f->conj_id = saved;
                if (target) {
                    free(conjs);
                    return target;
                }
            }
        }
        free(conjs);
    }
    return NULL;
}

enum flow_sim_verdict
flow_sim_run(const struct flow_set *flows, const struct np_config *config,
             const struct flow_sim_packet *packet, uint32_t *egress_rule,
             uint32_t *ingress_rule)
{
    struct flow f;
    uint8_t table = config->first_table;

    packet_to_flow(packet, &f);
    for (int steps = 0; steps < 64; steps++) {
        const struct np_flow *flow = lookup(flows, table, &f, true);
        if (getenv("NP_SIM_DEBUG") && flow) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(flow, &s);
            fprintf(stderr, "sim: %.200s\n", ds_cstr(&s));
            ds_destroy(&s);
        }
        if (!flow) {
            return SIM_ERROR;   /* Every table of ours has a miss flow. */
        }
        if (!flow->ofpacts_len) {
            return SIM_DROP;
        }

        int next_table = -1;
        const struct ofpact *a;
        OFPACT_FOR_EACH (a, flow->ofpacts, flow->ofpacts_len) {
            switch (a->type) {
            case OFPACT_CT: {
                const struct ofpact_conntrack *ct = ofpact_get_CT(a);
                if (!(ct->flags & NX_CT_F_COMMIT)) {
                    f.ct_state = CS_TRACKED | (packet->established
                                               ? CS_ESTABLISHED : CS_NEW);
                    next_table = ct->recirc_table;
                }
                break;
            }
            case OFPACT_GOTO_TABLE:
                next_table = ofpact_get_GOTO_TABLE(a)->table_id;
                break;
            case OFPACT_RESUBMIT:
                /* Only into the CNI's table, which is outside our set. */
                return SIM_ALLOW;
            case OFPACT_SET_FIELD: {
                const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
                unsigned int reg = sf->field->id - MFF_REG0;
                if (reg < FLOW_N_REGS) {
                    f.regs[reg] = ntohl(*(const ovs_be32 *) sf->value);
                }
                break;
            }
            case OFPACT_OUTPUT:
                if (egress_rule) {
                    *egress_rule = f.regs[config->egress_reg];
                }
                if (ingress_rule) {
                    *ingress_rule = f.regs[config->ingress_reg];
                }
                return SIM_ALLOW;
            default:
                return SIM_ERROR;
            }
        }
        if (next_table < 0) {
            return SIM_ERROR;
        }
        table = next_table;
    }
    return SIM_ERROR;
}
