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

/* compiler.c: NetworkPolicy rules to conjunctive flows (compiler.h).
 *
 * Where it sits: cluster state -> [compiler] -> flow set -> diff -> switch.
 * It reads the cluster state and writes a flow set; it must never do I/O
 * or keep state between calls (the conjunction ID allocator, passed in,
 * is the only memory).
 *
 * How it works:
 *
 *   1. The node's ports are split into pod ports and others (flow-build.c)
 *      and get their classify flows (pipeline.c).
 *
 *   2. For each policy, sorted by namespace and name, the local pods it
 *      selects are its targets.  A policy with no local target produces
 *      nothing here (its rules matter on other nodes).  For each direction
 *      the policy isolates, the targets are marked isolated and each rule
 *      is compiled into one or more "variants": the main one for numeric
 *      ports (or no ports), and one per distinct resolution of its named
 *      ports.  A variant is up to three dimensions of clause matches.
 *
 *   3. Each variant's clause matches are added to "pending flows", keyed by
 *      (table, priority, clause match), so that every rule using one match
 *      shares one flow carrying all their conjunction() actions.  A pending
 *      flow that would carry more than NP_MAX_CONJS_PER_FLOW actions pushes
 *      the variant to the next band (one lower priority).
 *
 *   4. Isolated pods get their drop flows, and every pending flow becomes a
 *      real flow (libopenvswitch match and ofpacts).
 *
 * Clause matches are kept in a compact form ('struct clause_match') while
 * compiling, because a full 'struct match' is 3 kB: only the final flows
 * are built as libopenvswitch matches. */

#include <config.h>
#include "ovs-netpol/compiler.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/ofp-actions.h>
#include "clause.h"
#include "flow-build.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/util.h"
#include "policy-match.h"
#include "port-range.h"
#include "selector.h"

/* Pending flows. */

struct pending_flow {
    struct hmap_node node;      /* In 'struct compiler' 'pending', by
                                 * pending_hash(). */
    uint8_t table;
    uint16_t priority;
    struct clause_match match;
    enum np_role role;

    struct conj_ref *conjs;     /* NP_ROLE_CLAUSE. */
    size_t n_conjs, allocated_conjs;

    uint32_t rule_id;           /* NP_ROLE_RULE, NP_ROLE_STATS: lowest rule
                                 * ID using it. */
    bool log;                   /* NP_ROLE_RULE: audit what it allows. */
    uint32_t ofport;            /* NP_ROLE_ISOLATION: the pod's port. */
};

static uint32_t
pending_hash(uint8_t table, uint16_t priority, const struct clause_match *m)
{
    return np_hash_bytes(m, sizeof *m, ((uint32_t) table << 16) | priority);
}

/* The state of one compile_full() call. */
struct compiler {
    const struct cluster *cluster;
    const struct np_config *config;
    struct conj_ids *ids;
    struct np_problems *problems;
    struct compile_stats stats;

    struct local_ports ports;
    bool (*isolated)[NP_N_DIRECTIONS];  /* Parallel to 'ports.pods'. */

    struct hmap pods_by_ns;     /* Contains struct ns_pods, by name. */
    struct hmap peer_cache;     /* Contains struct peer_cache_entry. */
    struct hmap pending;        /* Contains struct pending_flow. */
    size_t max_band;
};

static struct pending_flow *
pending_find(const struct compiler *c, uint8_t table, uint16_t priority,
             const struct clause_match *m)
{
    struct pending_flow *pf;
    HMAP_FOR_EACH_WITH_HASH (pf, node, pending_hash(table, priority, m),
                             &c->pending) {
        if (pf->table == table && pf->priority == priority
            && !clause_match_compare(&pf->match, m)) {
            return pf;
        }
    }
    return NULL;
}

static struct pending_flow *
pending_get(struct compiler *c, uint8_t table, uint16_t priority,
            const struct clause_match *m, enum np_role role)
{
    struct pending_flow *pf = pending_find(c, table, priority, m);
    if (!pf) {
        pf = np_xzalloc(sizeof *pf);
        pf->table = table;
        pf->priority = priority;
        pf->match = *m;
        pf->role = role;
        hmap_insert(&c->pending, &pf->node, pending_hash(table, priority, m));
    }
    return pf;
}

static void
pending_add_conj(struct compiler *c, uint8_t table, uint16_t priority,
                 const struct clause_match *m, uint32_t id, int clause,
                 int n_clauses)
{
    struct pending_flow *pf = pending_get(c, table, priority, m,
                                          NP_ROLE_CLAUSE);
    pf->conjs = np_x2nrealloc(pf->conjs, &pf->allocated_conjs,
                              pf->n_conjs + 1, sizeof *pf->conjs);
    pf->conjs[pf->n_conjs++] = (struct conj_ref) {
        .id = id, .clause = clause, .n_clauses = n_clauses,
    };
}

static void
pending_add_rule(struct compiler *c, uint8_t table, uint16_t priority,
                 const struct clause_match *m, uint32_t id, bool log)
{
    struct pending_flow *pf = pending_get(c, table, priority, m,
                                          NP_ROLE_RULE);
    if (!pf->rule_id || id < pf->rule_id) {
        pf->rule_id = id;
    }
    /* A flow shared by rules of several namespaces (pods that share an
     * address) logs if any of them does. */
    pf->log |= log;
}

/* The flow that counts the established packets of rule 'id'. */
static void
pending_add_stats(struct compiler *c, enum np_direction dir, uint32_t id)
{
    struct clause_match m;
    clause_match_init(&m, CLAUSE_CT_LABEL);
    m.value = id;
    m.proto = dir;
    struct pending_flow *pf = pending_get(
        c, np_table(c->config, NP_TABLE_CT_STATE),
        dir == NP_INGRESS ? NP_PRIO_CT_STATS_INGRESS
                          : NP_PRIO_CT_STATS_EGRESS, &m, NP_ROLE_STATS);
    pf->rule_id = id;
}

/* Whether rules of policies in namespace 'ns' log what they allow. */
static bool
namespace_logs_allowed(const struct compiler *c, const char *ns)
{
    const struct np_namespace *namespace = cluster_find_namespace(c->cluster,
                                                                  ns);
    return c->config->audit && namespace && namespace->log_allowed;
}

static void
pending_add_drop(struct compiler *c, uint8_t table,
                 const struct clause_match *m, uint32_t ofport)
{
    struct pending_flow *pf = pending_get(c, table, NP_PRIO_ISOLATION, m,
                                          NP_ROLE_ISOLATION);
    /* Pods that share an address share the drop; name the lowest port. */
    if (!pf->ofport || ofport < pf->ofport) {
        pf->ofport = ofport;
    }
}

/* Peer pods.
 *
 * Candidate peer pods are indexed by namespace once per compile, and the
 * pods a (namespace, selectors) triple picks are cached: generated and real
 * policies repeat the same selectors a lot. */

struct ns_pods {
    struct hmap_node node;      /* In 'pods_by_ns', by name. */
    const char *name;
    const struct np_pod **pods;
    size_t n, allocated;
};

struct peer_cache_entry {
    struct hmap_node node;      /* In 'peer_cache', by peer_cache_hash(). */
    const char *policy_ns;      /* Only when 'ns_sel' is NULL. */
    const struct selector *ns_sel;
    const struct selector *pod_sel;
    const struct np_pod **pods;
    size_t n, allocated;
};

static struct ns_pods *
ns_pods_find(const struct hmap *pods_by_ns, const char *name)
{
    struct ns_pods *nsp;
    HMAP_FOR_EACH_WITH_HASH (nsp, node, np_hash_string(name, 0), pods_by_ns) {
        if (!strcmp(nsp->name, name)) {
            return nsp;
        }
    }
    return NULL;
}

static void
index_pods_by_namespace(struct compiler *c)
{
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &c->cluster->pods) {
        size_t n_addrs;
        pod_peer_addresses(c->cluster, pod, &n_addrs);
        if (!n_addrs) {
            continue;
        }
        struct ns_pods *nsp = ns_pods_find(&c->pods_by_ns, pod->namespace);
        if (!nsp) {
            nsp = np_xzalloc(sizeof *nsp);
            nsp->name = pod->namespace;
            hmap_insert(&c->pods_by_ns, &nsp->node,
                        np_hash_string(nsp->name, 0));
        }
        nsp->pods = np_x2nrealloc(nsp->pods, &nsp->allocated, nsp->n + 1,
                                  sizeof *nsp->pods);
        nsp->pods[nsp->n++] = pod;
    }
}

static bool
optional_selector_equal(const struct selector *a, const struct selector *b)
{
    return (!a || !b) ? a == b : selector_equal(a, b);
}

static uint32_t
peer_cache_hash(const char *policy_ns, const struct np_peer *peer)
{
    uint32_t hash = peer->ns_selector ? selector_hash(peer->ns_selector, 1)
                                      : np_hash_string(policy_ns, 2);
    return peer->pod_selector ? selector_hash(peer->pod_selector, hash)
                              : np_hash_add(hash, 3);
}

static void
peer_cache_add_pods(struct peer_cache_entry *e, const struct ns_pods *nsp)
{
    for (size_t i = 0; nsp && i < nsp->n; i++) {
        const struct np_pod *pod = nsp->pods[i];
        if (!e->pod_sel || selector_matches(e->pod_sel, &pod->labels)) {
            e->pods = np_x2nrealloc(e->pods, &e->allocated, e->n + 1,
                                    sizeof *e->pods);
            e->pods[e->n++] = pod;
        }
    }
}

/* Returns the candidate pods that selector peer 'peer' of a policy in
 * namespace 'policy_ns' selects. */
static const struct peer_cache_entry *
select_peer_pods(struct compiler *c, const char *policy_ns,
                 const struct np_peer *peer)
{
    uint32_t hash = peer_cache_hash(policy_ns, peer);
    struct peer_cache_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash, &c->peer_cache) {
        if (optional_selector_equal(e->ns_sel, peer->ns_selector)
            && optional_selector_equal(e->pod_sel, peer->pod_selector)
            && (e->ns_sel || !strcmp(e->policy_ns, policy_ns))) {
            return e;
        }
    }

    e = np_xzalloc(sizeof *e);
    e->policy_ns = policy_ns;
    e->ns_sel = peer->ns_selector;
    e->pod_sel = peer->pod_selector;
    hmap_insert(&c->peer_cache, &e->node, hash);

    if (!peer->ns_selector) {
        peer_cache_add_pods(e, ns_pods_find(&c->pods_by_ns, policy_ns));
        return e;
    }
    /* Every namespace that has candidate pods, whether or not the cluster
     * holds its Namespace object (see namespace_labels()). */
    const struct ns_pods *nsp;
    HMAP_FOR_EACH (nsp, node, &c->pods_by_ns) {
        struct labels scratch;
        labels_init(&scratch);
        const struct labels *labels = namespace_labels(c->cluster, nsp->name,
                                                       &scratch);
        if (selector_matches(peer->ns_selector, labels)) {
            peer_cache_add_pods(e, nsp);
        }
        labels_destroy(&scratch);
    }
    return e;
}

/* Named-port groups: the pods (targets for ingress) or peer addresses (for
 * egress) that resolve a rule's named ports to the same list, one group per
 * list. */
struct named_group {
    struct port_list ports;
    const struct local_pod **targets;   /* Ingress: target pods. */
    struct cidr *addrs;                 /* Egress: peer addresses. */
    size_t n, allocated;
};

struct named_groups {
    struct named_group *groups;
    size_t n, allocated;
};

static struct named_group *
named_groups_find_or_add(struct named_groups *groups,
                         struct port_list *ports)
{
    for (size_t i = 0; i < groups->n; i++) {
        if (port_list_equal(&groups->groups[i].ports, ports)) {
            free(ports->entries);
            return &groups->groups[i];
        }
    }
    groups->groups = np_x2nrealloc(groups->groups, &groups->allocated,
                                   groups->n + 1, sizeof *groups->groups);
    struct named_group *g = &groups->groups[groups->n++];
    memset(g, 0, sizeof *g);
    g->ports = *ports;
    return g;
}

static int
compare_named_groups(const void *a_, const void *b_)
{
    const struct named_group *a = a_, *b = b_;
    return port_list_compare(&a->ports, &b->ports);
}

static void
named_groups_destroy(struct named_groups *groups)
{
    for (size_t i = 0; i < groups->n; i++) {
        free(groups->groups[i].ports.entries);
        free(groups->groups[i].targets);
        free(groups->groups[i].addrs);
    }
    free(groups->groups);
}

/* Variants. */

/* One conjunction to emit: a rule, or one named-port variant of it. */
struct variant {
    const struct np_policy *policy;
    enum np_direction dir;
    size_t index;
    const char *key;            /* "" or the resolved port list. */

    const struct local_pod **targets;
    size_t n_targets;

    bool any_peer;
    const struct np_pod **peer_pods;    /* Their addresses are peers... */
    size_t n_peer_pods;
    const struct cidr *peer_blocks;     /* ...and so are these prefixes. */
    size_t n_peer_blocks;

    bool any_port;
    const struct port_list *ports;
};

static unsigned int
node_families(const struct compiler *c)
{
    return ((c->ports.has_family[0] ? FAMILY_BIT(AF_INET) : 0)
            | (c->ports.has_family[1] ? FAMILY_BIT(AF_INET6) : 0));
}

/* Returns the families of the addresses in 'dim' (all of them for a
 * dimension of ports, which have no family). */
static unsigned int
dim_families(const struct clause_array *dim)
{
    unsigned int families = 0;
    for (size_t i = 0; i < dim->n; i++) {
        const struct clause_match *m = &dim->matches[i];
        if (m->field == CLAUSE_IN_PORT) {
            return ALL_FAMILIES;
        }
        families |= FAMILY_BIT(m->cidr.family);
    }
    return families;
}

/* Removes from 'dim' the addresses outside 'families'. */
static void
dim_filter_families(struct clause_array *dim, unsigned int families)
{
    size_t n = 0;
    for (size_t i = 0; i < dim->n; i++) {
        if (FAMILY_BIT(dim->matches[i].cidr.family) & families) {
            dim->matches[n++] = dim->matches[i];
        }
    }
    dim->n = n;
}

static void
build_target_dim(const struct variant *v, struct clause_array *dim)
{
    for (size_t i = 0; i < v->n_targets; i++) {
        const struct local_pod *t = v->targets[i];
        if (v->dir == NP_EGRESS) {
            clause_array_add(dim, CLAUSE_IN_PORT)->value = t->port->ofport;
        } else {
            for (size_t j = 0; j < t->n_ips; j++) {
                clause_array_add(dim, CLAUSE_DST)->cidr = t->ips[j];
            }
        }
    }
}

static void
build_peer_dim(const struct compiler *c, const struct variant *v,
               struct clause_array *dim)
{
    enum clause_field field = v->dir == NP_INGRESS ? CLAUSE_SRC : CLAUSE_DST;
    for (size_t i = 0; i < v->n_peer_pods; i++) {
        size_t n_addrs;
        const struct cidr *addrs = pod_peer_addresses(
            c->cluster, v->peer_pods[i], &n_addrs);
        for (size_t j = 0; j < n_addrs; j++) {
            clause_array_add(dim, field)->cidr = addrs[j];
        }
    }
    for (size_t i = 0; i < v->n_peer_blocks; i++) {
        clause_array_add(dim, field)->cidr = v->peer_blocks[i];
    }
}

/* Returns the lowest band in which every clause of the variant still has
 * room for one more conjunction action, or -1 if none has. */
static int
find_band(const struct compiler *c, uint8_t table,
          const struct clause_array *dims, size_t n_dims)
{
    for (int band = 0; band < NP_MAX_BANDS; band++) {
        bool fits = true;
        for (size_t d = 0; d < n_dims && fits; d++) {
            for (size_t i = 0; i < dims[d].n && fits; i++) {
                const struct pending_flow *pf = pending_find(
                    c, table, NP_PRIO_CLAUSE - band, &dims[d].matches[i]);
                fits = !pf || pf->n_conjs < NP_MAX_CONJS_PER_FLOW;
            }
        }
        if (fits) {
            return band;
        }
    }
    return -1;
}

static void
emit_variant(struct compiler *c, const struct variant *v)
{
    uint8_t table = np_table(c->config, v->dir == NP_INGRESS
                                        ? NP_TABLE_INGRESS : NP_TABLE_EGRESS);
    struct clause_array dims[3];
    size_t n_dims = 0;

    /* Only the address families that both the targets and the peers (and
     * this node) have can ever complete the conjunction. */
    memset(dims, 0, sizeof dims);
    build_target_dim(v, &dims[n_dims++]);
    unsigned int families = node_families(c) & dim_families(&dims[0]);
    if (!v->any_peer) {
        build_peer_dim(c, v, &dims[n_dims]);
        dim_filter_families(&dims[n_dims], families);
        families &= dim_families(&dims[n_dims]);
        n_dims++;
    }
    if (!v->any_port) {
        clause_array_add_ports(&dims[n_dims++], v->ports, families);
    }

    /* A dimension that matches nothing makes the rule allow nothing. */
    for (size_t d = 0; d < n_dims; d++) {
        clause_array_normalize(&dims[d]);
        if (!dims[d].n) {
            goto out;
        }
    }

    uint32_t id = conj_ids_alloc(c->ids, v->policy->namespace,
                                 v->policy->name, v->dir, v->index, v->key);
    bool log = namespace_logs_allowed(c, v->policy->namespace);
    c->stats.n_conjunctions++;

    if (n_dims == 1) {
        /* Only targets: no conjunction needed, allow directly. */
        for (size_t i = 0; i < dims[0].n; i++) {
            pending_add_rule(c, table, NP_PRIO_RULE_ALLOW,
                             &dims[0].matches[i], id, log);
        }
        pending_add_stats(c, v->dir, id);
        goto out;
    }

    int band = find_band(c, table, dims, n_dims);
    if (band < 0) {
        np_problems_add(c->problems, NULL, NULL, NULL,
                        "NetworkPolicy %s/%s: %s rule %zu: too many rules "
                        "share its matches; it is not installed",
                        v->policy->namespace, v->policy->name,
                        np_direction_name(v->dir), v->index);
        goto out;
    }
    if (band > (int) c->max_band) {
        c->max_band = band;
    }
    for (size_t d = 0; d < n_dims; d++) {
        for (size_t i = 0; i < dims[d].n; i++) {
            pending_add_conj(c, table, NP_PRIO_CLAUSE - band,
                             &dims[d].matches[i], id, d, n_dims);
        }
    }
    struct clause_match conj_match;
    clause_match_init(&conj_match, CLAUSE_CONJ_ID);
    conj_match.value = id;
    pending_add_rule(c, table, NP_PRIO_RULE_MATCH, &conj_match, id, log);
    pending_add_stats(c, v->dir, id);

out:
    for (size_t d = 0; d < n_dims; d++) {
        clause_array_destroy(&dims[d]);
    }
}

/* Rules. */

/* The peers of one rule: pods and ipBlock prefixes. */
struct rule_peers {
    bool any;
    const struct np_pod **pods;
    size_t n_pods, allocated_pods;
    struct cidr *blocks;
    size_t n_blocks, allocated_blocks;
};

static void
collect_rule_peers(struct compiler *c, const struct np_policy *policy,
                   const struct np_rule *rule, struct rule_peers *peers)
{
    memset(peers, 0, sizeof *peers);
    peers->any = !rule->n_peers;

    for (size_t i = 0; i < rule->n_peers; i++) {
        const struct np_peer *peer = &rule->peers[i];
        if (peer->is_ip_block) {
            struct cidr *prefixes;
            size_t n;
            cidr_difference(&peer->cidr, peer->except, peer->n_except,
                            &prefixes, &n);
            peers->blocks = np_x2nrealloc(peers->blocks,
                                          &peers->allocated_blocks,
                                          peers->n_blocks + n,
                                          sizeof *peers->blocks);
            if (n) {
                memcpy(&peers->blocks[peers->n_blocks], prefixes,
                       n * sizeof *prefixes);
                peers->n_blocks += n;
            }
            free(prefixes);
        } else {
            const struct peer_cache_entry *e = select_peer_pods(
                c, policy->namespace, peer);
            peers->pods = np_x2nrealloc(peers->pods, &peers->allocated_pods,
                                        peers->n_pods + e->n,
                                        sizeof *peers->pods);
            if (e->n) {
                memcpy(&peers->pods[peers->n_pods], e->pods,
                       e->n * sizeof *e->pods);
                peers->n_pods += e->n;
            }
        }
    }
}

static void
rule_peers_destroy(struct rule_peers *peers)
{
    free(peers->pods);
    free(peers->blocks);
}

static bool
address_in_blocks(const struct cidr *addr, const struct rule_peers *peers)
{
    for (size_t i = 0; i < peers->n_blocks; i++) {
        if (cidr_contains(&peers->blocks[i], addr)) {
            return true;
        }
    }
    return false;
}

static int
compare_pointers(const void *a_, const void *b_)
{
    const void *const *a = a_, *const *b = b_;
    return *a < *b ? -1 : *a > *b;
}

/* Egress named ports resolve on the destination pod, however the rule names
 * it: selected by a peer (all its addresses), inside an ipBlock (the
 * addresses inside), or, for a rule with no "to", any pod at all. */
static void
group_peers_by_named_ports(struct compiler *c, const struct np_rule *rule,
                           const struct rule_peers *peers,
                           struct named_groups *groups)
{
    bool scan_cluster = peers->any || peers->n_blocks;
    size_t n_pods = scan_cluster ? hmap_count(&c->cluster->pods)
                                 : peers->n_pods;
    const struct np_pod **pods = np_xmalloc((n_pods + 1) * sizeof *pods);

    /* Sorted, so that "is this pod selected?" is a binary search. */
    const struct np_pod **selected_pods = np_xmemdup(
        peers->pods, peers->n_pods * sizeof *peers->pods);
    np_qsort(selected_pods, peers->n_pods, sizeof *selected_pods,
          compare_pointers);

    if (scan_cluster) {
        const struct np_pod *pod;
        n_pods = 0;
        HMAP_FOR_EACH (pod, node, &c->cluster->pods) {
            size_t n_addrs;
            pod_peer_addresses(c->cluster, pod, &n_addrs);
            if (n_addrs) {
                pods[n_pods++] = pod;
            }
        }
    } else if (n_pods) {
        memcpy(pods, peers->pods, n_pods * sizeof *pods);
    }

    for (size_t i = 0; i < n_pods; i++) {
        const struct np_pod *pod = pods[i];
        bool selected = (peers->any || !scan_cluster
                         || (peers->n_pods
                             && bsearch(&pod, selected_pods, peers->n_pods,
                                        sizeof *selected_pods,
                                        compare_pointers)));
        struct port_list resolved = { NULL, 0, 0 };
        struct named_group *g = NULL;

        resolve_named_ports(rule, pod, &resolved);
        if (!resolved.n) {
            free(resolved.entries);
            continue;
        }
        size_t n_addrs;
        const struct cidr *addrs = pod_peer_addresses(c->cluster, pod,
                                                      &n_addrs);
        for (size_t j = 0; j < n_addrs; j++) {
            if (!selected && !address_in_blocks(&addrs[j], peers)) {
                continue;
            }
            if (!g) {
                g = named_groups_find_or_add(groups, &resolved);
            }
            g->addrs = np_x2nrealloc(g->addrs, &g->allocated, g->n + 1,
                                     sizeof *g->addrs);
            g->addrs[g->n++] = addrs[j];
        }
        if (!g) {
            free(resolved.entries);
        }
    }
    free(selected_pods);
    free(pods);
}

/* Ingress named ports resolve on the local targets. */
static void
group_targets_by_named_ports(const struct np_rule *rule,
                             const struct local_pod **targets,
                             size_t n_targets, struct named_groups *groups)
{
    for (size_t i = 0; i < n_targets; i++) {
        struct port_list resolved = { NULL, 0, 0 };
        resolve_named_ports(rule, targets[i]->pod, &resolved);
        if (!resolved.n) {
            free(resolved.entries);
            continue;
        }
        struct named_group *g = named_groups_find_or_add(groups, &resolved);
        g->targets = np_x2nrealloc(g->targets, &g->allocated, g->n + 1,
                                   sizeof *g->targets);
        g->targets[g->n++] = targets[i];
    }
}

static void
compile_named_variants(struct compiler *c, const struct variant *main_v,
                       const struct np_rule *rule,
                       const struct rule_peers *peers)
{
    struct named_groups groups = { NULL, 0, 0 };

    if (main_v->dir == NP_INGRESS) {
        group_targets_by_named_ports(rule, main_v->targets,
                                     main_v->n_targets, &groups);
    } else {
        group_peers_by_named_ports(c, rule, peers, &groups);
    }
    np_qsort(groups.groups, groups.n, sizeof *groups.groups,
          compare_named_groups);

    for (size_t i = 0; i < groups.n; i++) {
        const struct named_group *g = &groups.groups[i];
        struct variant v = *main_v;
        struct ds key = DS_EMPTY_INITIALIZER;

        port_list_format(&g->ports, &key);
        v.key = ds_cstr(&key);
        v.any_port = false;
        v.ports = &g->ports;
        if (main_v->dir == NP_INGRESS) {
            v.targets = g->targets;
            v.n_targets = g->n;
        } else {
            /* The peers are the addresses of the group. */
            v.any_peer = false;
            v.peer_pods = NULL;
            v.n_peer_pods = 0;
            v.peer_blocks = g->addrs;
            v.n_peer_blocks = g->n;
        }
        emit_variant(c, &v);
        ds_destroy(&key);
    }
    named_groups_destroy(&groups);
}

static void
compile_rule(struct compiler *c, const struct np_policy *policy,
             enum np_direction dir, size_t index,
             const struct local_pod **targets, size_t n_targets)
{
    const struct np_rule *rule = &policy->rules[dir][index];
    struct rule_peers peers;
    struct port_list numeric = { NULL, 0, 0 };

    collect_rule_peers(c, policy, rule, &peers);
    rule_numeric_ports(rule, &numeric);

    struct variant v = {
        .policy = policy,
        .dir = dir,
        .index = index,
        .key = "",
        .targets = targets,
        .n_targets = n_targets,
        .any_peer = peers.any,
        .peer_pods = peers.pods,
        .n_peer_pods = peers.n_pods,
        .peer_blocks = peers.blocks,
        .n_peer_blocks = peers.n_blocks,
        .any_port = !rule->n_ports,
        .ports = &numeric,
    };
    if (v.any_port || numeric.n) {
        emit_variant(c, &v);
    }
    if (rule_has_named_ports(rule)) {
        compile_named_variants(c, &v, rule, &peers);
    }

    free(numeric.entries);
    rule_peers_destroy(&peers);
}

static int
compare_policies(const void *a_, const void *b_)
{
    const struct np_policy *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static void
compile_policy(struct compiler *c, const struct np_policy *policy)
{
    const struct local_pod **targets = np_xmalloc(
        (c->ports.n_pods + 1) * sizeof *targets);
    size_t n_targets = 0;

    for (size_t i = 0; i < c->ports.n_pods; i++) {
        const struct local_pod *lpod = &c->ports.pods[i];
        if (lpod->pod && policy_selects_pod(policy, lpod->pod)) {
            targets[n_targets++] = lpod;
        }
    }
    if (n_targets) {
        c->stats.n_policies_local++;
    }

    for (int dir = 0; dir < NP_N_DIRECTIONS && n_targets; dir++) {
        if (!policy->isolates[dir]) {
            continue;
        }
        for (size_t i = 0; i < n_targets; i++) {
            c->isolated[targets[i] - c->ports.pods][dir] = true;
        }
        for (size_t i = 0; i < policy->n_rules[dir]; i++) {
            compile_rule(c, policy, dir, i, targets, n_targets);
        }
    }
    free(targets);
}

static void
compile_policies(struct compiler *c)
{
    size_t n = hmap_count(&c->cluster->policies);
    const struct np_policy **policies = np_xmalloc(n * sizeof *policies);
    const struct np_policy *policy;
    size_t i = 0;

    HMAP_FOR_EACH (policy, node, &c->cluster->policies) {
        policies[i++] = policy;
    }
    np_qsort(policies, n, sizeof *policies, compare_policies);
    for (i = 0; i < n; i++) {
        compile_policy(c, policies[i]);
    }
    free(policies);
}

/* Isolation. */

static void
add_isolation_drops(struct compiler *c)
{
    for (size_t i = 0; i < c->ports.n_pods; i++) {
        const struct local_pod *lpod = &c->ports.pods[i];
        uint32_t ofport = lpod->port->ofport;

        if (!lpod->pod) {
            /* Fail closed: we cannot know which policies apply. */
            c->isolated[i][NP_INGRESS] = c->isolated[i][NP_EGRESS] = true;
            np_problems_add(c->problems, NULL, NULL, NULL,
                            "port %s (%"PRIu32") belongs to pod %s/%s, which "
                            "is not known yet: isolated",
                            lpod->port->name, ofport,
                            lpod->port->pod_namespace, lpod->port->pod_name);
        }

        struct clause_match m;
        if (c->isolated[i][NP_EGRESS]) {
            clause_match_init(&m, CLAUSE_IN_PORT);
            m.value = ofport;
            pending_add_drop(c, np_table(c->config, NP_TABLE_EGRESS), &m,
                             ofport);
        }
        if (c->isolated[i][NP_INGRESS]) {
            uint8_t table = np_table(c->config, NP_TABLE_INGRESS);
            for (size_t j = 0; j < lpod->n_ips; j++) {
                clause_match_init(&m, CLAUSE_DST);
                m.cidr = lpod->ips[j];
                pending_add_drop(c, table, &m, ofport);
            }
            if (!lpod->n_ips && lpod->port->has_mac) {
                /* Without an address, the MAC that NORMAL delivers to still
                 * identifies the pod. */
                clause_match_init(&m, CLAUSE_DL_DST);
                memcpy(m.cidr.addr, lpod->port->mac, 6);
                pending_add_drop(c, table, &m, ofport);
            }
        }
    }
}

/* Turning pending flows into flows. */

static void
finish_pending_flows(struct compiler *c, struct flow_set *flows)
{
    uint8_t egress_table = np_table(c->config, NP_TABLE_EGRESS);
    struct pending_flow *pf;
    struct ofpbuf ofpacts;
    struct match match;
    uint64_t cookie = 0;

    ofpbuf_init(&ofpacts, 64);
    HMAP_FOR_EACH_POP (pf, node, &c->pending) {
        ofpbuf_clear(&ofpacts);
        switch (pf->role) {
        case NP_ROLE_CLAUSE:
            put_conjunctions(pf->conjs, pf->n_conjs, &ofpacts);
            cookie = np_cookie(NP_ROLE_CLAUSE, 0);
            break;
        case NP_ROLE_RULE:
            if (pf->log) {
                put_audit_action(c->config, &ofpacts);
            }
            put_load_reg(pf->table == egress_table ? c->config->egress_reg
                                                   : c->config->ingress_reg,
                         pf->rule_id, &ofpacts);
            put_goto(pf->table + 1, &ofpacts);
            cookie = np_cookie(NP_ROLE_RULE, pf->rule_id);
            break;
        case NP_ROLE_STATS:
            put_allow_actions(c->config, pf->table, &ofpacts);
            cookie = np_cookie(NP_ROLE_STATS, pf->rule_id);
            break;
        case NP_ROLE_ISOLATION:
            if (c->config->audit) {
                put_audit_action(c->config, &ofpacts);
            }
            cookie = np_cookie(NP_ROLE_ISOLATION, pf->ofport);
            break;
        case NP_ROLE_PIPELINE:
        case NP_ROLE_PORT:
            break;
        }
        clause_match_to_match(&pf->match, &match);
        add_flow(flows, pf->table, pf->priority, &match, cookie, &ofpacts);
        free(pf->conjs);
        free(pf);
    }
    ofpbuf_uninit(&ofpacts);
}

/* The whole compile. */

static void
compiler_init(struct compiler *c, const struct cluster *cluster,
              const struct np_config *config, struct conj_ids *ids,
              struct np_problems *problems)
{
    memset(c, 0, sizeof *c);
    c->cluster = cluster;
    c->config = config;
    c->ids = ids;
    c->problems = problems;
    local_ports_collect(cluster, &c->ports);
    c->isolated = np_xcalloc(c->ports.n_pods + 1, sizeof *c->isolated);
    hmap_init(&c->pods_by_ns);
    hmap_init(&c->peer_cache);
    hmap_init(&c->pending);
}

static void
compiler_destroy(struct compiler *c)
{
    struct ns_pods *nsp;
    HMAP_FOR_EACH_POP (nsp, node, &c->pods_by_ns) {
        free(nsp->pods);
        free(nsp);
    }
    hmap_destroy(&c->pods_by_ns);

    struct peer_cache_entry *e;
    HMAP_FOR_EACH_POP (e, node, &c->peer_cache) {
        free(e->pods);
        free(e);
    }
    hmap_destroy(&c->peer_cache);
    hmap_destroy(&c->pending);
    free(c->isolated);
    local_ports_destroy(&c->ports);
}

void
compile_full(const struct cluster *cluster, const struct np_config *config,
             struct conj_ids *ids, struct flow_set *flows,
             struct np_problems *problems, struct compile_stats *stats)
{
    struct compiler c;

    compiler_init(&c, cluster, config, ids, problems);
    conj_ids_begin(ids);

    pipeline_add_fixed_flows(config, flows);
    for (size_t i = 0; i < c.ports.n_pods; i++) {
        pipeline_add_pod_port_flows(config, &c.ports.pods[i], flows);
    }
    for (size_t i = 0; i < c.ports.n_others; i++) {
        pipeline_add_other_port_flows(config, c.ports.others[i], flows);
    }

    index_pods_by_namespace(&c);
    compile_policies(&c);
    add_isolation_drops(&c);
    finish_pending_flows(&c, flows);
    conj_ids_sweep(ids);

    c.stats.n_local_pods = c.ports.n_pods;
    c.stats.n_policies = hmap_count(&cluster->policies);
    c.stats.n_bands = c.max_band + 1;
    c.stats.n_flows = flow_set_count(flows);
    if (stats) {
        *stats = c.stats;
    }
    compiler_destroy(&c);
}
