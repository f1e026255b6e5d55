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

#ifndef FLOW_BUILD_H
#define FLOW_BUILD_H 1

/* Helpers that the compiler's parts share to build flows: the ports of this
 * node as the compiler sees them, and the few actions every part uses.
 * Private to flows/.  Pure: no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openvswitch/match.h>
#include <openvswitch/ofpbuf.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/pipeline.h"

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_IPV6 0x86dd

/* A pod port together with what the compiler needs to know about it. */
struct local_pod {
    const struct local_port *port;
    const struct np_pod *pod;   /* NULL: the Pod object is unknown, so the
                                 * port is isolated both ways. */
    const struct cidr *ips;     /* The port's addresses if it names any, else
                                 * the pod's. */
    size_t n_ips;
};

/* This node's ports, split by role. */
struct local_ports {
    struct local_pod *pods;     /* Pod ports, by ofport. */
    size_t n_pods;
    const struct local_port **others;   /* Host and uplink ports, by
                                         * ofport. */
    size_t n_others;
    bool has_family[2];         /* [0]: some pod has IPv4, [1]: IPv6. */
};

void local_ports_collect(const struct cluster *, struct local_ports *);
void local_ports_destroy(struct local_ports *);

/* Index into 'has_family' for AF_INET or AF_INET6. */
static inline int
family_index(int family)
{
    return family == AF_INET ? 0 : 1;
}

/* Sets 'match' to match IP packets of the family of 'cidr' whose source
 * ('src' true) or destination address lies in 'cidr'. */
void match_set_cidr(struct match *, const struct cidr *, bool src);

/* Appends the action that hands allowed traffic on (NORMAL, or the CNI's
 * next table). */
void put_allow_actions(const struct np_config *, uint8_t current_table,
                       struct ofpbuf *ofpacts);
/* Appends the audit action: a copy of the packet to the controller, rate
 * limited by the configured meter. */
void put_audit_action(const struct np_config *, struct ofpbuf *ofpacts);

/* Appends "goto_table:TABLE". */
void put_goto(uint8_t table, struct ofpbuf *ofpacts);
/* Appends "load:VALUE->regREG[]". */
void put_load_reg(uint8_t reg, uint32_t value, struct ofpbuf *ofpacts);

/* Parses OpenFlow action text ('format' is printf-like); aborts on a parse
 * error, which can only be a bug in the caller. */
void put_actions_text(struct ofpbuf *ofpacts, const char *format, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* Builds a flow from 'match' and 'ofpacts', normalized as the switch
 * reports it. */
struct np_flow *build_flow(uint8_t table, uint16_t priority,
                           const struct match *, uint64_t cookie,
                           const struct ofpbuf *ofpacts);

/* The same, for a caller done with 'match' afterwards: it may be changed,
 * which saves copying its 3 kB. */
struct np_flow *build_flow_from_scratch(uint8_t table, uint16_t priority,
                                        struct match *, uint64_t cookie,
                                        const struct ofpbuf *ofpacts);

/* Adds a flow built from 'match' and 'ofpacts' to 'flows'.  A flow with the
 * same identity must not be there yet. */
void add_flow(struct flow_set *flows, uint8_t table, uint16_t priority,
              const struct match *, uint64_t cookie,
              const struct ofpbuf *ofpacts);
/* The same, for a caller done with 'match' afterwards: it may be changed,
 * which saves copying its 3 kB. */
void add_flow_from_scratch(struct flow_set *flows, uint8_t table,
                           uint16_t priority, struct match *, uint64_t cookie,
                           const struct ofpbuf *ofpacts);

/* The fixed flows of the pipeline (pipeline.c). */
void pipeline_add_fixed_flows(const struct np_config *, struct flow_set *);

/* The flows of a pod port (in the classify table, and in the ct_state
 * table for a pod with a known MAC: all of them carry the port's cookie),
 * and of a host or uplink port (pipeline.c). */
void pipeline_add_pod_port_flows(const struct np_config *,
                                 const struct local_pod *,
                                 struct flow_set *);
void pipeline_add_other_port_flows(const struct np_config *,
                                   const struct local_port *,
                                   struct flow_set *);

#endif /* flow-build.h */
