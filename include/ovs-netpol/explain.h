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

#ifndef OVS_NETPOL_EXPLAIN_H
#define OVS_NETPOL_EXPLAIN_H 1

/* Explain: the verdict of the policy model for one connection, and why.
 *
 * Given a source and a destination (each a pod, or a bare address) and a
 * protocol and port, explain() answers from the model alone, with the
 * plain semantics of policy-match.h and no flows: it is the reference the
 * switch's behaviour is checked against (`ovs-netpolctl explain`, `trace`
 * and `verify`, and the conformance tests).
 *
 * A connection is allowed when both directions allow it:
 *
 *   egress    the source is a pod; if some policy selecting it isolates
 *             egress, some egress rule of those policies must allow the
 *             destination and port;
 *
 *   ingress   the destination is a pod; likewise with ingress rules and
 *             the source.
 *
 * Both directions are decided cluster-wide, as if both ends were enforced
 * (a real node enforces egress of its own pods and ingress to its own
 * pods).  Connections from the host to a pod are always allowed by the
 * agent's pipeline, but explain does not know which address is a host: ask
 * with pods.
 *
 * All calls run on one thread; no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/model.h"
#include "ovs-netpol/util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct conj_ids;
struct ds;

struct explain_endpoint {
    const struct np_pod *pod;   /* NULL for a bare address. */
    struct cidr address;        /* Host prefix; for a pod, one of its IPs. */
};

/* One rule that allows the connection. */
struct explain_rule {
    const struct np_policy *policy;
    size_t index;
};

struct explain_direction {
    bool applies;               /* The endpoint this direction restricts is a
                                 * pod (egress: source; ingress: dest). */
    bool isolated;
    bool allowed;               /* !isolated, or some rule allows. */
    const struct np_policy **isolating;  /* Policies that isolate it. */
    size_t n_isolating;
    struct explain_rule *rules;         /* Rules that allow. */
    size_t n_rules;
};

struct explain_result {
    bool allowed;
    struct explain_direction dirs[NP_N_DIRECTIONS];
};

/* Decides 'protocol'/'port' from 'src' to 'dst' in 'cluster'.  The caller
 * must eventually call explain_result_destroy(). */
void explain(const struct cluster *, const struct explain_endpoint *src,
             const struct explain_endpoint *dst, uint8_t protocol,
             uint16_t port, struct explain_result *);
void explain_result_destroy(struct explain_result *);

/* Appends a human-readable account: the verdict, then each direction with
 * the policies that isolate and the rules that allow.  With 'ids', rules are
 * named with their conjunction IDs as installed (IDs of rules that produce
 * no flows on this node are not shown). */
void explain_result_format(const struct explain_result *,
                           const struct explain_endpoint *src,
                           const struct explain_endpoint *dst,
                           uint8_t protocol, uint16_t port,
                           const struct conj_ids *ids, struct ds *);

/* Resolves "NAMESPACE/POD" or an IPv4/IPv6 address to an endpoint.  For a
 * pod, picks its first address of 'family' (AF_INET or AF_INET6; 0 for
 * any).  Returns NULL on success, else a malloc'd message. */
char *explain_endpoint_parse(const struct cluster *, const char *s,
                             int family, struct explain_endpoint *)
    NP_WARN_UNUSED_RESULT;

/* Parses "80/TCP", "53/udp", "80" (TCP).  Returns NULL on success, else a
 * malloc'd message. */
char *explain_port_parse(const char *s, uint8_t *protocol, uint16_t *port)
    NP_WARN_UNUSED_RESULT;

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/explain.h */
