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

/* verify-plan.c: the sample of connections `ovs-netpolctl verify` checks
 * (verify-plan.h).  It reads the cluster state with the semantics of
 * policy-match.h, as explain does; the agent answers "explain-plan" with
 * it and the model's verdict on each check.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/verify-plan.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/util.h"
#include "policy-match.h"

/* Two remote pods per pod peer are enough to tell a selector that works
 * from one that does not. */
#define PODS_PER_PEER 2

/* More ports than this would only repeat what the first ones show. */
#define MAX_PORTS 64

int
verify_family_index(int family)
{
    return family == AF_INET6;
}

struct builder {
    const struct cluster *cluster;
    struct verify_plan *plan;
    size_t allocated_endpoints;
    size_t allocated_ports;
    size_t allocated_checks;
    size_t max_remote;
    size_t max_checks;
    const struct np_pod **pods; /* Every pod, by namespace/name. */
    size_t n_pods;
};

static int
compare_pods(const void *a_, const void *b_)
{
    const struct np_pod *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static int
compare_policies(const void *a_, const void *b_)
{
    const struct np_policy *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

/* Returns the local pod port of 'pod', or NULL if it is not local. */
static const struct local_port *
local_port_of(const struct cluster *cluster, const struct np_pod *pod)
{
    return cluster_find_pod_port(cluster, pod->namespace, pod->name);
}

static struct verify_endpoint *
add_endpoint(struct builder *b, const char *name, const struct np_pod *pod,
             const struct local_port *port)
{
    struct verify_plan *plan = b->plan;
    plan->endpoints = np_x2nrealloc(plan->endpoints,
                                    &b->allocated_endpoints,
                                    plan->n_endpoints + 1,
                                    sizeof *plan->endpoints);
    struct verify_endpoint *ep = &plan->endpoints[plan->n_endpoints++];
    memset(ep, 0, sizeof *ep);
    ep->name = np_xstrdup(name);
    ep->pod = pod;
    ep->port = port;
    return ep;
}

static void
endpoint_set_addresses(struct verify_endpoint *ep, const struct cidr *addrs,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int fi = verify_family_index(addrs[i].family);
        if (!ep->has_addr[fi]) {
            ep->has_addr[fi] = true;
            ep->addr[fi] = addrs[i];
        }
    }
}

static bool
has_remote_room(const struct builder *b)
{
    return b->plan->n_endpoints - b->plan->n_local < b->max_remote;
}

/* Adds remote pod 'pod' unless it is local, cannot be a peer or is
 * already there. */
static void
add_remote_pod(struct builder *b, const struct np_pod *pod)
{
    size_t n_addrs;
    const struct cidr *addrs = pod_peer_addresses(b->cluster, pod, &n_addrs);
    if (!n_addrs || local_port_of(b->cluster, pod) || !has_remote_room(b)) {
        return;
    }
    for (size_t i = 0; i < b->plan->n_endpoints; i++) {
        if (b->plan->endpoints[i].pod == pod) {
            return;
        }
    }
    char *name = np_xasprintf("%s/%s", pod->namespace, pod->name);
    endpoint_set_addresses(add_endpoint(b, name, pod, NULL), addrs, n_addrs);
    free(name);
}

const struct np_pod *
verify_plan_find_pod(const struct cluster *cluster,
                     const struct cidr *address)
{
    const struct np_pod *best = NULL;
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &cluster->pods) {
        size_t n;
        const struct cidr *addrs = pod_peer_addresses(cluster, pod, &n);
        for (size_t j = 0; j < n; j++) {
            if (cidr_equal(&addrs[j], address)
                && (!best || compare_pods(&pod, &best) < 0)) {
                best = pod;
            }
        }
    }
    return best;
}

/* Adds remote address 'address' (a pod's stands for the pod). */
static void
add_remote_address(struct builder *b, const struct cidr *address)
{
    const struct np_pod *pod = verify_plan_find_pod(b->cluster, address);
    if (pod) {
        add_remote_pod(b, pod);
        return;
    }
    if (!has_remote_room(b)) {
        return;
    }
    for (size_t i = 0; i < b->plan->n_endpoints; i++) {
        const struct verify_endpoint *ep = &b->plan->endpoints[i];
        int fi = verify_family_index(address->family);
        if (!ep->pod && ep->has_addr[fi]
            && cidr_equal(&ep->addr[fi], address)) {
            return;
        }
    }
    char *name = cidr_to_string(address);
    char *slash = strchr(name, '/');
    if (slash) {
        *slash = '\0';
    }
    endpoint_set_addresses(add_endpoint(b, name, NULL, NULL), address, 1);
    free(name);
}

/* Returns an address of 'prefix' as a host prefix: its first address but
 * one, so that 10.0.0.0/8 gives 10.0.0.1 rather than the network's own. */
static struct cidr
sample_address(const struct cidr *prefix)
{
    struct cidr host = *prefix;
    int max = cidr_max_plen(prefix);
    if (prefix->plen < max) {
        host.addr[max / 8 - 1] |= 1;
    }
    host.plen = max;
    return host;
}

static void
add_ip_block_samples(struct builder *b, const struct np_peer *peer)
{
    struct cidr *diff;
    size_t n_diff;
    cidr_difference(&peer->cidr, peer->except, peer->n_except, &diff,
                    &n_diff);
    if (n_diff) {
        /* The widest part of what the block allows. */
        size_t best = 0;
        for (size_t i = 1; i < n_diff; i++) {
            if (diff[i].plen < diff[best].plen) {
                best = i;
            }
        }
        struct cidr host = sample_address(&diff[best]);
        add_remote_address(b, &host);
    }
    free(diff);

    for (size_t i = 0; i < peer->n_except; i++) {
        if (cidr_overlaps(&peer->except[i], &peer->cidr)) {
            struct cidr host = sample_address(&peer->except[i]);
            if (cidr_contains(&peer->cidr, &host)) {
                add_remote_address(b, &host);
            }
        }
    }
}

static void
add_pod_peer_samples(struct builder *b, const struct np_policy *policy,
                     const struct np_peer *peer)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_pods && n < PODS_PER_PEER; i++) {
        const struct np_pod *pod = b->pods[i];
        size_t n_addrs;
        if (local_port_of(b->cluster, pod)
            || !pod_peer_addresses(b->cluster, pod, &n_addrs) || !n_addrs) {
            continue;
        }
        struct labels scratch;
        labels_init(&scratch);
        const struct labels *ns_labels = namespace_labels(
            b->cluster, pod->namespace, &scratch);
        bool selected = peer_selects_pod(peer, policy->namespace, pod,
                                         ns_labels);
        labels_destroy(&scratch);
        if (selected) {
            add_remote_pod(b, pod);
            n++;
        }
    }
}

/* Ports. */

static void
add_port(struct builder *b, uint8_t protocol, uint16_t port)
{
    struct verify_plan *plan = b->plan;
    for (size_t i = 0; i < plan->n_ports; i++) {
        if (plan->ports[i].protocol == protocol
            && plan->ports[i].port == port) {
            return;
        }
    }
    if (plan->n_ports < MAX_PORTS) {
        plan->ports = np_x2nrealloc(plan->ports, &b->allocated_ports,
                                    plan->n_ports + 1, sizeof *plan->ports);
        plan->ports[plan->n_ports++] = (struct verify_port) {
            .protocol = protocol, .port = port,
        };
    }
}

/* Adds what port entry 'p' names. */
static void
add_rule_port(struct builder *b, const struct np_port *p)
{
    switch (p->kind) {
    case NP_PORT_NUMBER:
        add_port(b, p->protocol, p->port);
        if (p->end_port != p->port) {
            add_port(b, p->protocol, p->end_port);
        }
        break;
    case NP_PORT_NAMED:
        for (size_t i = 0; i < b->n_pods; i++) {
            const struct np_pod *pod = b->pods[i];
            for (size_t j = 0; j < pod->n_ports; j++) {
                const struct np_container_port *cp = &pod->ports[j];
                if (cp->name && cp->protocol == p->protocol
                    && !strcmp(cp->name, p->name)) {
                    add_port(b, cp->protocol, cp->port);
                }
            }
        }
        break;
    case NP_PORT_ALL:
        add_port(b, p->protocol, 9);
        break;
    }
}

/* Returns true if some policy names TCP port 'port' (a number or range;
 * named ports were resolved into the plan already). */
static bool
tcp_port_named(const struct builder *b, const struct np_policy **policies,
               size_t n_policies, uint16_t port)
{
    for (size_t i = 0; i < b->plan->n_ports; i++) {
        if (b->plan->ports[i].protocol == NP_TCP
            && b->plan->ports[i].port == port) {
            return true;
        }
    }
    for (size_t i = 0; i < n_policies; i++) {
        const struct np_policy *policy = policies[i];
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            for (size_t j = 0; j < policy->n_rules[dir]; j++) {
                const struct np_rule *rule = &policy->rules[dir][j];
                for (size_t k = 0; k < rule->n_ports; k++) {
                    const struct np_port *p = &rule->ports[k];
                    if (p->protocol == NP_TCP && p->kind == NP_PORT_NUMBER
                        && port >= p->port && port <= p->end_port) {
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

static int
compare_ports(const void *a_, const void *b_)
{
    const struct verify_port *a = a_, *b = b_;
    return (a->protocol != b->protocol ? (a->protocol < b->protocol ? -1 : 1)
            : a->port != b->port ? (a->port < b->port ? -1 : 1)
            : 0);
}

/* Checks. */

/* Returns the number of checks between 'src' and 'dst': every port, in
 * every family both have an address in. */
static size_t
count_checks(const struct verify_plan *plan, size_t src, size_t dst)
{
    const struct verify_endpoint *s = &plan->endpoints[src];
    const struct verify_endpoint *d = &plan->endpoints[dst];
    size_t n = 0;
    for (int fi = 0; fi < 2; fi++) {
        n += s->has_addr[fi] && d->has_addr[fi] ? plan->n_ports : 0;
    }
    return n;
}

static void
add_checks(struct builder *b, size_t src, size_t dst)
{
    struct verify_plan *plan = b->plan;
    const struct verify_endpoint *s = &plan->endpoints[src];
    const struct verify_endpoint *d = &plan->endpoints[dst];
    static const int families[] = { AF_INET, AF_INET6 };

    for (size_t f = 0; f < NP_ARRAY_SIZE(families); f++) {
        int fi = verify_family_index(families[f]);
        if (!s->has_addr[fi] || !d->has_addr[fi]) {
            continue;
        }
        for (size_t p = 0; p < plan->n_ports; p++) {
            if (plan->n_checks >= b->max_checks) {
                plan->n_truncated++;
                continue;
            }
            plan->checks = np_x2nrealloc(plan->checks, &b->allocated_checks,
                                         plan->n_checks + 1,
                                         sizeof *plan->checks);
            plan->checks[plan->n_checks++] = (struct verify_check) {
                .src = src, .dst = dst, .port = p, .family = families[f],
            };
        }
    }
}

static bool
policy_selects_local_pod(const struct verify_plan *plan,
                         const struct np_policy *policy)
{
    for (size_t i = 0; i < plan->n_local; i++) {
        if (policy_selects_pod(policy, plan->endpoints[i].pod)) {
            return true;
        }
    }
    return false;
}

void
verify_plan_build(const struct cluster *cluster, size_t max_remote,
                  size_t max_checks, struct verify_plan *plan)
{
    struct builder b = {
        .cluster = cluster,
        .plan = plan,
        .max_remote = max_remote,
        .max_checks = max_checks,
    };
    memset(plan, 0, sizeof *plan);

    b.pods = np_xmalloc((hmap_count(&cluster->pods) + 1) * sizeof *b.pods);
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &cluster->pods) {
        b.pods[b.n_pods++] = pod;
    }
    np_qsort(b.pods, b.n_pods, sizeof *b.pods, compare_pods);

    size_t n_policies = 0;
    const struct np_policy **policies = np_xmalloc(
        (hmap_count(&cluster->policies) + 1) * sizeof *policies);
    const struct np_policy *policy;
    HMAP_FOR_EACH (policy, node, &cluster->policies) {
        policies[n_policies++] = policy;
    }
    np_qsort(policies, n_policies, sizeof *policies, compare_policies);

    /* Local pods, and the uplink. */
    for (size_t i = 0; i < b.n_pods; i++) {
        pod = b.pods[i];
        const struct local_port *port = local_port_of(cluster, pod);
        size_t n_addrs;
        const struct cidr *addrs = pod_peer_addresses(cluster, pod,
                                                      &n_addrs);
        if (port && n_addrs) {
            char *name = np_xasprintf("%s/%s", pod->namespace, pod->name);
            endpoint_set_addresses(add_endpoint(&b, name, pod, port), addrs,
                                   n_addrs);
            free(name);
        }
    }
    plan->n_local = plan->n_endpoints;
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        if (!local_port_is_pod(port) && port->ofport != LOCAL_PORT_HOST
            && (!plan->uplink || port->ofport < plan->uplink)) {
            plan->uplink = port->ofport;
        }
    }

    /* Remote peers and ports of the policies that apply here. */
    for (size_t i = 0; i < n_policies; i++) {
        policy = policies[i];
        bool local = policy_selects_local_pod(plan, policy);
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            for (size_t j = 0; j < policy->n_rules[dir]; j++) {
                const struct np_rule *rule = &policy->rules[dir][j];
                for (size_t k = 0; k < rule->n_ports; k++) {
                    add_rule_port(&b, &rule->ports[k]);
                }
                for (size_t k = 0; local && k < rule->n_peers; k++) {
                    const struct np_peer *peer = &rule->peers[k];
                    if (peer->is_ip_block) {
                        add_ip_block_samples(&b, peer);
                    } else {
                        add_pod_peer_samples(&b, policy, peer);
                    }
                }
            }
        }
    }
    static const struct cidr outside[] = {
        { .family = AF_INET, .plen = 32, .addr = { 192, 0, 2, 1 } },
        { .family = AF_INET6, .plen = 128,
          .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(outside); i++) {
        add_remote_address(&b, &outside[i]);
    }

    /* A TCP port no policy names. */
    uint16_t unnamed = 9;
    while (unnamed < UINT16_MAX
           && tcp_port_named(&b, policies, n_policies, unnamed)) {
        unnamed++;
    }
    add_port(&b, NP_TCP, unnamed);
    np_qsort(plan->ports, plan->n_ports, sizeof *plan->ports, compare_ports);

    /* Checks. */
    for (size_t s = 0; s < plan->n_local; s++) {
        for (size_t d = 0; d < plan->n_endpoints; d++) {
            if (s != d) {
                add_checks(&b, s, d);
            }
        }
    }
    for (size_t s = plan->n_local; s < plan->n_endpoints; s++) {
        for (size_t d = 0; d < plan->n_local; d++) {
            if (plan->uplink) {
                add_checks(&b, s, d);
            } else {
                plan->n_no_uplink += count_checks(plan, s, d);
            }
        }
    }

    free(policies);
    free(b.pods);
}

void
verify_plan_destroy(struct verify_plan *plan)
{
    if (plan) {
        for (size_t i = 0; i < plan->n_endpoints; i++) {
            free(plan->endpoints[i].name);
        }
        free(plan->endpoints);
        free(plan->ports);
        free(plan->checks);
        memset(plan, 0, sizeof *plan);
    }
}
