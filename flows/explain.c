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

/* explain.c: the model's verdict for one connection and the rules behind
 * it (explain.h).  Uses only policy-match.h, never the compiler, so that it
 * is an independent reference for the flows.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/explain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/util.h"
#include "policy-match.h"

/* Returns true if 'peer' of 'policy' includes endpoint 'ep'. */
static bool
peer_includes(const struct cluster *cluster, const struct np_policy *policy,
              const struct np_peer *peer, const struct explain_endpoint *ep)
{
    if (peer->is_ip_block) {
        return peer_contains_address(peer, &ep->address);
    }
    size_t n_addrs;
    if (!ep->pod || !pod_peer_addresses(cluster, ep->pod, &n_addrs)
        || !n_addrs) {
        return false;
    }
    struct labels scratch;
    labels_init(&scratch);
    const struct labels *ns_labels = namespace_labels(
        cluster, ep->pod->namespace, &scratch);
    bool selected = peer_selects_pod(peer, policy->namespace, ep->pod,
                                     ns_labels);
    labels_destroy(&scratch);
    return selected;
}

static bool
rule_includes_peer(const struct cluster *cluster,
                   const struct np_policy *policy, const struct np_rule *rule,
                   const struct explain_endpoint *peer)
{
    if (!rule->n_peers) {
        return true;
    }
    for (size_t i = 0; i < rule->n_peers; i++) {
        if (peer_includes(cluster, policy, &rule->peers[i], peer)) {
            return true;
        }
    }
    return false;
}

static int
compare_policy_ptrs(const void *a_, const void *b_)
{
    const struct np_policy *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

/* Decides one direction: 'self' is the pod it restricts, 'peer' the other
 * end, 'dst' the destination (where named ports resolve). */
static void
explain_direction(const struct cluster *cluster, enum np_direction dir,
                  const struct explain_endpoint *self,
                  const struct explain_endpoint *peer,
                  const struct explain_endpoint *dst, uint8_t protocol,
                  uint16_t port, struct explain_direction *out)
{
    memset(out, 0, sizeof *out);
    out->applies = self->pod != NULL;
    if (!out->applies) {
        out->allowed = true;
        return;
    }

    size_t n = hmap_count(&cluster->policies);
    out->isolating = np_xmalloc((n + 1) * sizeof *out->isolating);
    const struct np_policy *policy;
    HMAP_FOR_EACH (policy, node, &cluster->policies) {
        if (policy->isolates[dir] && policy_selects_pod(policy, self->pod)) {
            out->isolating[out->n_isolating++] = policy;
        }
    }
    np_qsort(out->isolating, out->n_isolating, sizeof *out->isolating,
          compare_policy_ptrs);
    out->isolated = out->n_isolating > 0;

    /* For egress, the destination is a peer, and a named port resolves on
     * it only if it can be one: a terminated pod's address may already be
     * someone else's.  (For ingress the destination is the target itself.) */
    size_t n_dst_addrs = 0;
    const struct np_pod *dst_pod = dst->pod;
    if (dst_pod && dir == NP_EGRESS) {
        pod_peer_addresses(cluster, dst_pod, &n_dst_addrs);
        if (!n_dst_addrs) {
            dst_pod = NULL;
        }
    }

    size_t allocated = 0;
    for (size_t i = 0; i < out->n_isolating; i++) {
        policy = out->isolating[i];
        for (size_t j = 0; j < policy->n_rules[dir]; j++) {
            const struct np_rule *rule = &policy->rules[dir][j];
            if (rule_includes_peer(cluster, policy, rule, peer)
                && rule_allows_port(rule, dst_pod, protocol, port)) {
                out->rules = np_x2nrealloc(out->rules, &allocated,
                                           out->n_rules + 1,
                                           sizeof *out->rules);
                out->rules[out->n_rules++] = (struct explain_rule) {
                    .policy = policy, .index = j,
                };
            }
        }
    }
    out->allowed = !out->isolated || out->n_rules > 0;
}

void
explain(const struct cluster *cluster, const struct explain_endpoint *src,
        const struct explain_endpoint *dst, uint8_t protocol, uint16_t port,
        struct explain_result *result)
{
    explain_direction(cluster, NP_EGRESS, src, dst, dst, protocol, port,
                      &result->dirs[NP_EGRESS]);
    explain_direction(cluster, NP_INGRESS, dst, src, dst, protocol, port,
                      &result->dirs[NP_INGRESS]);
    result->allowed = (result->dirs[NP_EGRESS].allowed
                       && result->dirs[NP_INGRESS].allowed);
}

void
explain_result_destroy(struct explain_result *result)
{
    if (result) {
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            free(result->dirs[dir].isolating);
            free(result->dirs[dir].rules);
        }
        memset(result, 0, sizeof *result);
    }
}

static void
endpoint_format(const struct explain_endpoint *ep, struct ds *s)
{
    if (ep->pod) {
        ds_put_format(s, "%s/%s (", ep->pod->namespace, ep->pod->name);
        cidr_format(&ep->address, true, s);
        ds_put_char(s, ')');
    } else {
        cidr_format(&ep->address, true, s);
    }
}

/* Appends the conjunction IDs 'ids' holds for 'rule', e.g. " [conj 0x12]". */
static void
format_rule_ids(const struct conj_ids *ids, const struct explain_rule *rule,
                enum np_direction dir, struct ds *s)
{
    const struct rule_ref *ref;
    bool any = false;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (!ref->retired && ref->dir == dir && ref->index == rule->index
            && !strcmp(ref->namespace, rule->policy->namespace)
            && !strcmp(ref->policy, rule->policy->name)) {
            ds_put_format(s, "%s%#"PRIx32, any ? "," : " [conj ", ref->id);
            any = true;
        }
    }
    if (any) {
        ds_put_char(s, ']');
    }
}

void
explain_result_format(const struct explain_result *result,
                      const struct explain_endpoint *src,
                      const struct explain_endpoint *dst, uint8_t protocol,
                      uint16_t port, const struct conj_ids *ids,
                      struct ds *s)
{
    ds_put_format(s, "%s: ", result->allowed ? "ALLOWED" : "DENIED");
    endpoint_format(src, s);
    ds_put_cstr(s, " -> ");
    endpoint_format(dst, s);
    ds_put_format(s, " %"PRIu16"/%s\n", port, np_protocol_name(protocol));

    static const enum np_direction order[] = { NP_EGRESS, NP_INGRESS };
    for (size_t k = 0; k < NP_ARRAY_SIZE(order); k++) {
        enum np_direction dir = order[k];
        const struct explain_direction *d = &result->dirs[dir];

        ds_put_format(s, "  %s: ", np_direction_name(dir));
        if (!d->applies) {
            ds_put_format(s, "not a pod, not restricted\n");
            continue;
        }
        if (!d->isolated) {
            ds_put_format(s, "allowed: no policy isolates %s/%s for %s\n",
                          (dir == NP_EGRESS ? src : dst)->pod->namespace,
                          (dir == NP_EGRESS ? src : dst)->pod->name,
                          np_direction_name(dir));
            continue;
        }
        ds_put_format(s, "%s; isolated by", d->allowed ? "allowed"
                                                       : "DENIED");
        for (size_t i = 0; i < d->n_isolating; i++) {
            ds_put_format(s, "%s %s/%s", i ? "," : "",
                          d->isolating[i]->namespace,
                          d->isolating[i]->name);
        }
        ds_put_char(s, '\n');
        if (!d->n_rules) {
            ds_put_format(s, "    no %s rule of those policies allows it\n",
                          np_direction_name(dir));
        }
        for (size_t i = 0; i < d->n_rules; i++) {
            const struct explain_rule *r = &d->rules[i];
            ds_put_format(s, "    allowed by %s/%s %s rule %zu",
                          r->policy->namespace, r->policy->name,
                          np_direction_name(dir), r->index);
            if (ids) {
                format_rule_ids(ids, r, dir, s);
            }
            ds_put_char(s, '\n');
        }
    }
}

char *
explain_endpoint_parse(const struct cluster *cluster, const char *s,
                       int family, struct explain_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    if (cidr_parse_address(s, &ep->address)) {
        return NULL;
    }

    const char *slash = strchr(s, '/');
    if (!slash) {
        return np_xasprintf("%s: not an address or NAMESPACE/POD", s);
    }
    char *ns = np_xstrndup(s, slash - s);
    const struct np_pod *pod = cluster_find_pod(cluster, ns, slash + 1);
    free(ns);
    if (!pod) {
        return np_xasprintf("%s: no such pod", s);
    }
    size_t n_addrs;
    const struct cidr *addrs = pod_peer_addresses(cluster, pod, &n_addrs);
    if (!addrs) {
        addrs = pod->ips;
        n_addrs = pod->n_ips;
    }
    for (size_t i = 0; i < n_addrs; i++) {
        if (!family || addrs[i].family == family) {
            ep->pod = pod;
            ep->address = addrs[i];
            return NULL;
        }
    }
    return np_xasprintf("%s: pod has no %saddress", s,
                        family == AF_INET ? "IPv4 "
                        : family == AF_INET6 ? "IPv6 " : "");
}

char *
explain_port_parse(const char *s, uint8_t *protocol, uint16_t *port)
{
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (end == s || n < 1 || n > 65535) {
        return np_xasprintf("%s: port must be 1...65535", s);
    }
    *port = n;
    if (!*end || !strcasecmp(end, "/tcp")) {
        *protocol = NP_TCP;
    } else if (!strcasecmp(end, "/udp")) {
        *protocol = NP_UDP;
    } else if (!strcasecmp(end, "/sctp")) {
        *protocol = NP_SCTP;
    } else {
        return np_xasprintf("%s: protocol must be TCP, UDP or SCTP", s);
    }
    return NULL;
}
