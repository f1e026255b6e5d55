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

#ifndef OVS_NETPOL_VERIFY_PLAN_H
#define OVS_NETPOL_VERIFY_PLAN_H 1

/* Verify plan: which connections `ovs-netpolctl verify` checks, the switch
 * (ofproto/trace) against the model (explain.h).
 *
 * Every connection the switch decides cannot be tried, so the plan samples
 * the ones where a mistake would show:
 *
 *   endpoints   every local pod (a pod port of this node whose Pod is
 *               known and can be a peer), then a sample of remote peers,
 *               in this order: for every rule of a policy that selects a
 *               local pod, one address of each ipBlock outside its
 *               excepts, one address inside each except, and up to two
 *               remote pods each pod peer selects; then one address per
 *               family that is not a pod's (192.0.2.1, 2001:db8::1).  An
 *               address of a pod stands for that pod (the switch matches
 *               addresses); one of a local pod is not sampled again.
 *               At most 'max_remote' remote endpoints.
 *
 *   ports       every port number the policies name (both ends of an
 *               endPort range), every number a named port resolves to on
 *               any pod, one port of each protocol a rule allows whole,
 *               and one TCP port that no policy names.
 *
 *   checks      local -> local (every ordered pair of different pods),
 *               local -> remote, and remote -> local when the node has an
 *               uplink port (traffic from elsewhere arrives there; from
 *               the host it would always be allowed), each for every port
 *               and every family both ends have an address in.  At most
 *               'max_checks'; the rest are counted.
 *
 * The plan points into the cluster it was built from, which must not
 * change while the plan is in use.  Pure: no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cluster;
struct local_port;

struct verify_endpoint {
    char *name;                 /* "NAMESPACE/POD", or the address. */
    const struct np_pod *pod;   /* NULL for an address that is no pod's. */
    const struct local_port *port;      /* The local pod's port, or NULL
                                         * for a remote endpoint. */
    bool has_addr[2];           /* Indexed by verify_family_index(). */
    struct cidr addr[2];        /* Host prefixes. */
};

struct verify_port {
    uint8_t protocol;           /* NP_TCP, NP_UDP, NP_SCTP. */
    uint16_t port;
};

struct verify_check {
    size_t src, dst;            /* Indexes into 'endpoints'. */
    size_t port;                /* Index into 'ports'. */
    int family;                 /* AF_INET or AF_INET6. */
};

struct verify_plan {
    struct verify_endpoint *endpoints;  /* The local ones first. */
    size_t n_endpoints, n_local;
    struct verify_port *ports;
    size_t n_ports;
    struct verify_check *checks;
    size_t n_checks;
    uint32_t uplink;            /* Lowest uplink ofport, 0 if none. */
    size_t n_no_uplink;         /* Remote -> local checks left out: no
                                 * uplink. */
    size_t n_truncated;         /* Checks beyond 'max_checks'. */
};

/* Returns 0 for AF_INET, 1 for AF_INET6. */
int verify_family_index(int family);

/* Builds the plan for 'cluster' into 'plan' (the caller destroys it). */
void verify_plan_build(const struct cluster *, size_t max_remote,
                       size_t max_checks, struct verify_plan *plan);
void verify_plan_destroy(struct verify_plan *);

/* Returns the pod whose peer addresses include 'address' (a host prefix),
 * the first by namespace/name if several do, or NULL. */
const struct np_pod *verify_plan_find_pod(const struct cluster *,
                                          const struct cidr *address);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/verify-plan.h */
