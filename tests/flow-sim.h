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

#ifndef FLOW_SIM_H
#define FLOW_SIM_H 1

/* A small, obviously correct simulator of our flow tables, for tests: it
 * walks a packet through a flow set the way OVS would (highest priority
 * wins; conjunction() clauses at one priority combine; conj_id lookups) and
 * interprets the few actions the compiler emits.  It is slow (every lookup
 * scans every flow) and that is the point: it shares no code with the
 * compiler and little cleverness with OVS's classifier, so a disagreement
 * between it and explain() is a bug in one of them.  The real switch is
 * checked the same way with ofproto/trace and real packets. */

#include <stdbool.h>
#include <stdint.h>
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/model.h"
#include "ovs-netpol/pipeline.h"

struct flow_sim_packet {
    uint32_t in_port;
    uint8_t src_mac[6];
    struct cidr src, dst;       /* Host prefixes, same family. */
    uint8_t protocol;           /* NP_TCP, NP_UDP, NP_SCTP, or 1 (ICMP). */
    uint16_t dst_port;
    bool established;           /* Conntrack says established (a reply). */
};

enum flow_sim_verdict {
    SIM_DROP,
    SIM_ALLOW,                  /* Reached the final allow action. */
    SIM_ERROR,                  /* Loop, unknown action, no table miss. */
};

/* Runs 'packet' through 'flows' from 'config->first_table'.  On SIM_ALLOW,
 * '*egress_rule' and '*ingress_rule' (if nonnull) receive the rule IDs the
 * pipeline recorded in its registers. */
enum flow_sim_verdict flow_sim_run(const struct flow_set *,
                                   const struct np_config *,
                                   const struct flow_sim_packet *,
                                   uint32_t *egress_rule,
                                   uint32_t *ingress_rule);

#endif /* flow-sim.h */
