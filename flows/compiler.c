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
 * are built as libopenvswitch matches.
 *
 * Indexes.  At 100,000 pods and 10,000 policies a compile must take well
 * under a second, so nothing may look at every pod once per rule.  Before
 * the policies, one pass over the pods builds, for this compile only:
 *
 *   - the peer pods: every pod that can be a peer, with its addresses (the
 *     few pods that pod ports name are looked up once), grouped by
 *     namespace ('pods_by_ns');
 *
 *   - the address index: all their addresses sorted as clause matches sort.
 *     A pod's addresses are known by their ranks there, so the peer
 *     dimension of any rule (the union of the addresses of its peer sets)
 *     comes out sorted and unique from a bitmap of ranks, with no sort per
 *     rule; ranks also cache the pending flow of each address
 *     ('rank_pfs'), so a match shared by many rules is hashed once, and
 *     ipBlocks find the pod addresses inside them by binary search;
 *
 *   - on demand: a label index (label-index.h), so that a selector such as
 *     app=web tests only the pods with that label; the namespaces each
 *     namespaceSelector matches; and the named-port profiles (pods with the
 *     same named container ports), so that egress rules with named ports
 *     resolve them once per profile, not once per pod.
 *
 * The pods a (namespace, selectors) triple picks are cached across rules,
 * as before, and so is the order of every output: a flow's conjunction()
 * actions are sorted when it is built, and nothing else depends on the
 * order in which pods are visited.  Rules are compiled in the same order as
 * ever, so conjunction IDs and priority bands do not change. */

#include <config.h>
#include "ovs-netpol/compiler.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/ofp-actions.h>
#include "clause.h"
#include "flow-build.h"
#include "label-index.h"
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

/* Peer pods.
 *
 * Every pod that can be a peer is looked at once per compile: its addresses
 * (from its pod port if it has one, see pod_peer_addresses()), its
 * namespace, its named container ports.  All their addresses, sorted as
 * clause matches sort, form the address index: a pod's addresses are known
 * by their ranks in it, so that the union of the addresses of any set of
 * pods comes out sorted and unique from one pass over a bitmap of ranks,
 * instead of a sort per rule. */

struct peer_pod {
    const struct np_pod *pod;
    const struct cidr *addrs;   /* pod_peer_addresses(); never empty. */
    size_t n_addrs;
    size_t first_slot;          /* addrs[i] has rank addr_ranks[first_slot
                                 * + i] in 'addr_index'. */
    const struct ns_pods *nsp;  /* Its namespace. */
    struct port_profile *profile;       /* Its named ports, or NULL. */
};

/* One address of a peer pod, in the address index. */
struct addr_entry {
    struct cidr cidr;
    uint32_t pod;               /* Index in 'peer_pods'. */
    uint32_t slot;              /* peer_pods[pod].first_slot + i. */
};

/* A run of the address index with one family and prefix length. */
struct addr_run {
    uint8_t family;
    uint8_t plen;
    size_t start, end;
};

/* The candidate peer pods of one namespace. */
struct ns_pods {
    struct hmap_node node;      /* In 'pods_by_ns', by name. */
    size_t id;                  /* 0, 1, ... in order of creation. */
    const char *name;
    const struct labels *labels;        /* namespace_labels(). */
    struct labels scratch;              /* Their storage, sometimes. */
    uint32_t *pods;                     /* Indexes in 'peer_pods'. */
    size_t n, allocated;
};

/* The namespaces one namespaceSelector matches. */
struct ns_sel_entry {
    struct hmap_node node;      /* In 'ns_sel_cache', by selector_hash(). */
    const struct selector *sel;
    const struct ns_pods **namespaces;
    size_t n;
    size_t n_pods;              /* In all of 'namespaces'. */
    bool *matched;              /* By namespace ID. */
};

/* The pods that a (namespace, selectors) triple picks.  Generated and real
 * policies repeat the same selectors a lot. */
struct peer_cache_entry {
    struct hmap_node node;      /* In 'peer_cache', by peer_cache_hash(). */
    const char *policy_ns;      /* Only when 'ns_sel' is NULL. */
    const struct selector *ns_sel;
    const struct selector *pod_sel;
    uint32_t *pods;             /* Indexes in 'peer_pods'. */
    size_t n, allocated;
};

/* Pods with the same named container ports (in the same order) resolve
 * every named port the same way: egress rules resolve each profile once
 * instead of each pod. */
struct port_profile {
    struct hmap_node node;      /* In 'profiles', by profile_hash(). */
    const struct np_pod *pod;   /* The first pod seen with them. */
    unsigned int stamp;         /* 'compiler->stamp' when 'group' was set. */
    int group;                  /* Index of the named group of the current
                                 * rule, or -1 if it resolves nothing. */
};

/* The local pods of one namespace, in port order: the only possible
 * targets of its policies. */
struct ns_targets {
    struct hmap_node node;      /* In 'local_by_ns', by name. */
    const char *name;
    const struct local_pod **pods;
    size_t n, allocated;
};

/* Ranks in the address index, parallel to a clause array. */
struct rank_array {
    uint32_t *ranks;            /* RANK_NONE: not a pod address. */
    size_t n, allocated;
};
#define RANK_NONE UINT32_MAX

static void
rank_array_add(struct rank_array *array, uint32_t rank)
{
    array->ranks = np_x2nrealloc(array->ranks, &array->allocated,
                                 array->n + 1, sizeof *array->ranks);
    array->ranks[array->n++] = rank;
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
    struct hmap local_by_ns;    /* Contains struct ns_targets. */

    struct peer_pod *peer_pods;
    size_t n_peer_pods;
    struct addr_entry *addr_index;      /* Sorted by clause match order. */
    uint32_t *addr_ranks;               /* By slot: rank in 'addr_index'. */
    size_t n_addrs;
    struct addr_run *addr_runs;
    size_t n_addr_runs;
    uint64_t *rank_bitmap;      /* Scratch, all zero between uses. */
    struct pending_flow **rank_pfs[NP_N_DIRECTIONS];
                                /* By rank: the band 0 clause flow of the
                                 * address in the direction's rule table,
                                 * once known. */
    struct rank_array peer_ranks;       /* Scratch for emit_variant(). */

    struct hmap pods_by_ns;     /* Contains struct ns_pods. */
    struct hmap ns_sel_cache;   /* Contains struct ns_sel_entry. */
    struct label_index pods_by_label;   /* Of 'peer_pods'. */
    struct hmap peer_cache;     /* Contains struct peer_cache_entry. */
    struct hmap profiles;       /* Contains struct port_profile. */
    bool have_profiles;         /* 'profiles' and 'peer_pods[].profile' are
                                 * filled (on first use). */
    unsigned int stamp;         /* Bumped for each rule grouped by named
                                 * ports. */

    struct hmap pending;        /* Contains struct pending_flow. */
    size_t max_band;

    /* Scratch for add_clauses(). */
    struct pending_flow **pfs;
    uint32_t *hashes;
    size_t allocated_scratch;
};

static struct pending_flow *
pending_find__(const struct compiler *c, uint8_t table, uint16_t priority,
               const struct clause_match *m, uint32_t hash)
{
    struct pending_flow *pf;
    HMAP_FOR_EACH_WITH_HASH (pf, node, hash, &c->pending) {
        if (pf->table == table && pf->priority == priority
            && !clause_match_compare(&pf->match, m)) {
            return pf;
        }
    }
    return NULL;
}

static struct pending_flow *
pending_find(const struct compiler *c, uint8_t table, uint16_t priority,
             const struct clause_match *m)
{
    return pending_find__(c, table, priority, m,
                          pending_hash(table, priority, m));
}

static struct pending_flow *
pending_create(struct compiler *c, uint8_t table, uint16_t priority,
               const struct clause_match *m, uint32_t hash, enum np_role role)
{
    struct pending_flow *pf = np_xzalloc(sizeof *pf);
    pf->table = table;
    pf->priority = priority;
    pf->match = *m;
    pf->role = role;
    hmap_insert(&c->pending, &pf->node, hash);
    return pf;
}

static struct pending_flow *
pending_get(struct compiler *c, uint8_t table, uint16_t priority,
            const struct clause_match *m, enum np_role role)
{
    uint32_t hash = pending_hash(table, priority, m);
    struct pending_flow *pf = pending_find__(c, table, priority, m, hash);
    return pf ? pf : pending_create(c, table, priority, m, hash, role);
}

static void
pending_flow_add_conj(struct pending_flow *pf, uint32_t id, int clause,
                      int n_clauses)
{
    pf->conjs = np_x2nrealloc(pf->conjs, &pf->allocated_conjs,
                              pf->n_conjs + 1, sizeof *pf->conjs);
    pf->conjs[pf->n_conjs++] = (struct conj_ref) {
        .id = id, .clause = clause, .n_clauses = n_clauses,
    };
}

static void
pending_add_conj(struct compiler *c, uint8_t table, uint16_t priority,
                 const struct clause_match *m, uint32_t id, int clause,
                 int n_clauses)
{
    pending_flow_add_conj(pending_get(c, table, priority, m, NP_ROLE_CLAUSE),
                          id, clause, n_clauses);
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

/* Indexing the peer pods. */

/* A pod that a pod port names, and that port. */
struct ported_pod {
    struct hmap_node node;      /* By pointer. */
    const struct np_pod *pod;
    const struct local_port *port;
};

static uint32_t
hash_pointer(const void *p)
{
    return np_hash_bytes(&p, sizeof p, 0);
}

static const struct local_port *
ported_pod_find(const struct hmap *ported, const struct np_pod *pod)
{
    const struct ported_pod *pp;
    HMAP_FOR_EACH_WITH_HASH (pp, node, hash_pointer(pod), ported) {
        if (pp->pod == pod) {
            return pp->port;
        }
    }
    return NULL;
}

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

static struct ns_pods *
ns_pods_get(struct compiler *c, const char *name)
{
    struct ns_pods *nsp = ns_pods_find(&c->pods_by_ns, name);
    if (!nsp) {
        nsp = np_xzalloc(sizeof *nsp);
        nsp->id = hmap_count(&c->pods_by_ns);
        nsp->name = name;
        labels_init(&nsp->scratch);
        nsp->labels = namespace_labels(c->cluster, name, &nsp->scratch);
        hmap_insert(&c->pods_by_ns, &nsp->node, np_hash_string(name, 0));
    }
    return nsp;
}

static const struct labels *
peer_pod_labels(const void *c_, size_t i)
{
    const struct compiler *c = c_;
    return &c->peer_pods[i].pod->labels;
}

/* The order of clause matches of one field (clause_match_compare()): the
 * bytes of the prefix. */
static int
compare_cidr_bytes(const struct cidr *a, const struct cidr *b)
{
    return memcmp(a, b, sizeof *a);
}

static int
compare_addr_entries(const void *a_, const void *b_)
{
    const struct addr_entry *a = a_, *b = b_;
    int cmp = compare_cidr_bytes(&a->cidr, &b->cidr);
    return cmp ? cmp : a->slot < b->slot ? -1 : a->slot > b->slot;
}

static void
index_peer_pods(struct compiler *c)
{
    /* The few pods that pod ports name may take their addresses from the
     * port: look those ports up once, not once per pod. */
    struct hmap ported = HMAP_INITIALIZER(&ported);
    for (size_t i = 0; i < c->ports.n_pods; i++) {
        const struct np_pod *pod = c->ports.pods[i].pod;
        if (pod && !ported_pod_find(&ported, pod)) {
            struct ported_pod *pp = np_xmalloc(sizeof *pp);
            pp->pod = pod;
            pp->port = cluster_find_pod_port(c->cluster, pod->namespace,
                                             pod->name);
            hmap_insert(&ported, &pp->node, hash_pointer(pod));
        }
    }

    size_t n = hmap_count(&c->cluster->pods);
    c->peer_pods = np_xmalloc((n + 1) * sizeof *c->peer_pods);
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &c->cluster->pods) {
        const struct local_port *port = (hmap_is_empty(&ported) ? NULL
                                         : ported_pod_find(&ported, pod));
        size_t n_addrs;
        const struct cidr *addrs = pod_peer_addresses_via_port(pod, port,
                                                               &n_addrs);
        if (!n_addrs) {
            continue;
        }
        uint32_t index = c->n_peer_pods++;
        c->peer_pods[index] = (struct peer_pod) {
            .pod = pod,
            .addrs = addrs,
            .n_addrs = n_addrs,
            .first_slot = c->n_addrs,
        };
        c->n_addrs += n_addrs;

        struct ns_pods *nsp = ns_pods_get(c, pod->namespace);
        c->peer_pods[index].nsp = nsp;
        nsp->pods = np_x2nrealloc(nsp->pods, &nsp->allocated, nsp->n + 1,
                                  sizeof *nsp->pods);
        nsp->pods[nsp->n++] = index;
    }

    struct ported_pod *pp;
    HMAP_FOR_EACH_POP (pp, node, &ported) {
        free(pp);
    }
    hmap_destroy(&ported);

    /* The address index. */
    c->addr_index = np_xmalloc((c->n_addrs + 1) * sizeof *c->addr_index);
    for (size_t i = 0; i < c->n_peer_pods; i++) {
        const struct peer_pod *p = &c->peer_pods[i];
        for (size_t j = 0; j < p->n_addrs; j++) {
            struct addr_entry *ae = &c->addr_index[p->first_slot + j];
            ae->cidr = p->addrs[j];
            ae->pod = i;
            ae->slot = p->first_slot + j;
        }
    }
    np_qsort(c->addr_index, c->n_addrs, sizeof *c->addr_index,
             compare_addr_entries);
    c->addr_ranks = np_xmalloc((c->n_addrs + 1) * sizeof *c->addr_ranks);
    size_t allocated_runs = 0;
    for (size_t i = 0; i < c->n_addrs; i++) {
        const struct addr_entry *ae = &c->addr_index[i];
        c->addr_ranks[ae->slot] = i;

        struct addr_run *run = (c->n_addr_runs
                                ? &c->addr_runs[c->n_addr_runs - 1] : NULL);
        if (!run || run->family != ae->cidr.family
            || run->plen != ae->cidr.plen) {
            c->addr_runs = np_x2nrealloc(c->addr_runs, &allocated_runs,
                                         c->n_addr_runs + 1,
                                         sizeof *c->addr_runs);
            run = &c->addr_runs[c->n_addr_runs++];
            run->family = ae->cidr.family;
            run->plen = ae->cidr.plen;
            run->start = i;
        }
        run->end = i + 1;
    }
    c->rank_bitmap = np_xcalloc(c->n_addrs / 64 + 1,
                                sizeof *c->rank_bitmap);
    label_index_init(&c->pods_by_label, c->n_peer_pods, peer_pod_labels, c);
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        c->rank_pfs[dir] = np_xcalloc(c->n_addrs + 1,
                                      sizeof *c->rank_pfs[dir]);
    }
}

static void
mark_rank(struct compiler *c, size_t rank, size_t *lo, size_t *hi)
{
    c->rank_bitmap[rank / 64] |= UINT64_C(1) << (rank % 64);
    *lo = NP_MIN(*lo, rank / 64);
    *hi = NP_MAX(*hi, rank / 64 + 1);
}

/* Appends to 'out' the addresses of the peer pods of 'sets' and those of
 * 'ranks' in the address index, in families 'families', as 'field'
 * matches: sorted and unique, as clause_array_normalize() leaves them.
 * Appends their ranks to 'out_ranks'. */
static void
add_peer_addresses(struct compiler *c,
                   const struct peer_cache_entry *const *sets, size_t n_sets,
                   const uint32_t *ranks, size_t n_ranks,
                   enum clause_field field, unsigned int families,
                   struct clause_array *out, struct rank_array *out_ranks)
{
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < n_sets; i++) {
        const struct peer_cache_entry *e = sets[i];
        for (size_t j = 0; j < e->n; j++) {
            const struct peer_pod *p = &c->peer_pods[e->pods[j]];
            for (size_t k = 0; k < p->n_addrs; k++) {
                mark_rank(c, c->addr_ranks[p->first_slot + k], &lo, &hi);
            }
        }
    }
    for (size_t i = 0; i < n_ranks; i++) {
        mark_rank(c, ranks[i], &lo, &hi);
    }

    const struct cidr *last = NULL;
    for (size_t w = lo; w < hi; w++) {
        uint64_t word = c->rank_bitmap[w];
        c->rank_bitmap[w] = 0;
        while (word) {
            size_t rank = w * 64 + __builtin_ctzll(word);
            const struct cidr *cidr = &c->addr_index[rank].cidr;
            word &= word - 1;
            if (FAMILY_BIT(cidr->family) & families
                && (!last || compare_cidr_bytes(last, cidr))) {
                clause_array_add(out, field)->cidr = *cidr;
                rank_array_add(out_ranks, rank);
                last = cidr;
            }
        }
    }
}

/* Peer selection. */

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

/* Returns the namespaces (with candidate pods) that 'sel' matches, whether
 * or not the cluster holds their Namespace objects (see
 * namespace_labels()). */
static const struct ns_sel_entry *
select_namespaces(struct compiler *c, const struct selector *sel)
{
    uint32_t hash = selector_hash(sel, 0);
    struct ns_sel_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash, &c->ns_sel_cache) {
        if (selector_equal(e->sel, sel)) {
            return e;
        }
    }

    size_t n_ns = hmap_count(&c->pods_by_ns);
    e = np_xzalloc(sizeof *e);
    e->sel = sel;
    e->namespaces = np_xmalloc((n_ns + 1) * sizeof *e->namespaces);
    e->matched = np_xcalloc(n_ns + 1, sizeof *e->matched);
    const struct ns_pods *nsp;
    HMAP_FOR_EACH (nsp, node, &c->pods_by_ns) {
        if (selector_matches(sel, nsp->labels)) {
            e->namespaces[e->n++] = nsp;
            e->n_pods += nsp->n;
            e->matched[nsp->id] = true;
        }
    }
    hmap_insert(&c->ns_sel_cache, &e->node, hash);
    return e;
}

/* Fills 'e' through the label index, if one of the "In" requirements of
 * its pod selector names fewer pods than 'n_scan' (the pods of the
 * namespaces to look in: 'nsp', or those 'nse' matches).  Returns false
 * if none does. */
static bool
peer_cache_select_indexed(struct compiler *c, struct peer_cache_entry *e,
                          const struct ns_pods *nsp,
                          const struct ns_sel_entry *nse, size_t n_scan)
{
    const struct selector *sel = e->pod_sel;
    if (!sel || n_scan < LABEL_INDEX_MIN_SCAN) {
        return false;
    }
    size_t n;
    size_t best = label_index_best_req(&c->pods_by_label, sel, n_scan, &n);
    if (best == SIZE_MAX) {
        return false;
    }

    const struct selector_req *req = &sel->reqs[best];
    e->pods = np_x2nrealloc(e->pods, &e->allocated, n, sizeof *e->pods);
    for (size_t j = 0; j < req->n_values; j++) {
        size_t n_pods;
        const uint32_t *pods = label_index_lookup(&c->pods_by_label,
                                                  req->key, req->values[j],
                                                  &n_pods);
        for (size_t i = 0; i < n_pods; i++) {
            const struct peer_pod *p = &c->peer_pods[pods[i]];
            if ((nse ? nse->matched[p->nsp->id] : p->nsp == nsp)
                && selector_matches_except(sel, &p->pod->labels, best)) {
                e->pods[e->n++] = pods[i];
            }
        }
    }
    return true;
}

static void
peer_cache_add_pods(const struct compiler *c, struct peer_cache_entry *e,
                    const struct ns_pods *nsp)
{
    if (!nsp) {
        return;
    }
    e->pods = np_x2nrealloc(e->pods, &e->allocated, e->n + nsp->n,
                            sizeof *e->pods);
    for (size_t i = 0; i < nsp->n; i++) {
        uint32_t index = nsp->pods[i];
        if (!e->pod_sel
            || selector_matches(e->pod_sel,
                                &c->peer_pods[index].pod->labels)) {
            e->pods[e->n++] = index;
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
        const struct ns_pods *nsp = ns_pods_find(&c->pods_by_ns, policy_ns);
        if (nsp && !peer_cache_select_indexed(c, e, nsp, NULL, nsp->n)) {
            peer_cache_add_pods(c, e, nsp);
        }
    } else {
        const struct ns_sel_entry *nse = select_namespaces(c,
                                                           peer->ns_selector);
        if (!peer_cache_select_indexed(c, e, NULL, nse, nse->n_pods)) {
            for (size_t i = 0; i < nse->n; i++) {
                peer_cache_add_pods(c, e, nse->namespaces[i]);
            }
        }
    }
    return e;
}

/* Named ports. */

/* Named-port groups: the pods (targets for ingress) or peer addresses (for
 * egress) that resolve a rule's named ports to the same list, one group per
 * list. */
struct named_group {
    struct port_list ports;
    const struct local_pod **targets;   /* Ingress: target pods. */
    uint32_t *ranks;                    /* Egress: peer addresses, by rank
                                         * in the address index. */
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
        free(groups->groups[i].ranks);
    }
    free(groups->groups);
}

static uint32_t
profile_hash(const struct np_pod *pod)
{
    uint32_t hash = 0;
    for (size_t i = 0; i < pod->n_ports; i++) {
        const struct np_container_port *cp = &pod->ports[i];
        if (cp->name) {
            hash = np_hash_add(hash, ((uint32_t) cp->protocol << 16)
                                     | cp->port);
            hash = np_hash_string(cp->name, hash);
        }
    }
    return hash;
}

/* Returns the next named container port of 'pod' from '*i' on, or NULL,
 * and advances '*i' past it. */
static const struct np_container_port *
next_named_port(const struct np_pod *pod, size_t *i)
{
    while (*i < pod->n_ports) {
        const struct np_container_port *cp = &pod->ports[(*i)++];
        if (cp->name) {
            return cp;
        }
    }
    return NULL;
}

static bool
profile_equal(const struct np_pod *a, const struct np_pod *b)
{
    size_t i = 0, j = 0;
    for (;;) {
        const struct np_container_port *x = next_named_port(a, &i);
        const struct np_container_port *y = next_named_port(b, &j);
        if (!x || !y) {
            return x == y;
        }
        if (x->port != y->port || x->protocol != y->protocol
            || strcmp(x->name, y->name)) {
            return false;
        }
    }
}

static void
index_port_profiles(struct compiler *c)
{
    if (c->have_profiles) {
        return;
    }
    c->have_profiles = true;
    for (size_t i = 0; i < c->n_peer_pods; i++) {
        struct peer_pod *p = &c->peer_pods[i];
        size_t j = 0;
        if (!next_named_port(p->pod, &j)) {
            continue;           /* Resolves nothing. */
        }

        uint32_t hash = profile_hash(p->pod);
        struct port_profile *profile;
        HMAP_FOR_EACH_WITH_HASH (profile, node, hash, &c->profiles) {
            if (profile_equal(profile->pod, p->pod)) {
                break;
            }
        }
        if (!profile) {
            profile = np_xzalloc(sizeof *profile);
            profile->pod = p->pod;
            hmap_insert(&c->profiles, &profile->node, hash);
        }
        p->profile = profile;
    }
}

/* Adds the address of rank 'rank', an address of peer pod 'p', to the
 * named group of 'rule' that 'p' resolves to, if any. */
static void
named_group_add_rank(struct compiler *c, const struct np_rule *rule,
                     const struct peer_pod *p, uint32_t rank,
                     struct named_groups *groups)
{
    struct port_profile *profile = p->profile;
    if (!profile) {
        return;
    }
    if (profile->stamp != c->stamp) {
        struct port_list resolved = { NULL, 0, 0 };
        resolve_named_ports(rule, profile->pod, &resolved);
        profile->stamp = c->stamp;
        if (resolved.n) {
            profile->group = named_groups_find_or_add(groups, &resolved)
                             - groups->groups;
        } else {
            profile->group = -1;
            free(resolved.entries);
        }
    }
    if (profile->group < 0) {
        return;
    }

    struct named_group *g = &groups->groups[profile->group];
    g->ranks = np_x2nrealloc(g->ranks, &g->allocated, g->n + 1,
                             sizeof *g->ranks);
    g->ranks[g->n++] = rank;
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
    const struct peer_cache_entry *const *peer_sets;  /* Their pods'
                                                       * addresses are
                                                       * peers... */
    size_t n_peer_sets;
    const uint32_t *peer_ranks;         /* ...and the addresses of these
                                         * ranks in the address index... */
    size_t n_peer_ranks;
    const struct cidr *peer_blocks;     /* ...and these prefixes. */
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
    for (size_t i = 0; i < dim->n && families != ALL_FAMILIES; i++) {
        const struct clause_match *m = &dim->matches[i];
        if (m->field == CLAUSE_IN_PORT) {
            return ALL_FAMILIES;
        }
        families |= FAMILY_BIT(m->cidr.family);
    }
    return families;
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

/* Builds the peer dimension of 'v' in 'families', sorted and unique, and
 * the ranks of its matches in 'ranks'. */
static void
build_peer_dim(struct compiler *c, const struct variant *v,
               unsigned int families, struct clause_array *dim,
               struct rank_array *ranks)
{
    enum clause_field field = v->dir == NP_INGRESS ? CLAUSE_SRC : CLAUSE_DST;

    ranks->n = 0;
    add_peer_addresses(c, v->peer_sets, v->n_peer_sets, v->peer_ranks,
                       v->n_peer_ranks, field, families, dim, ranks);
    if (!v->n_peer_blocks) {
        return;
    }

    struct clause_array blocks = { NULL, 0, 0 };
    for (size_t i = 0; i < v->n_peer_blocks; i++) {
        if (FAMILY_BIT(v->peer_blocks[i].family) & families) {
            clause_array_add(&blocks, field)->cidr = v->peer_blocks[i];
        }
    }
    clause_array_normalize(&blocks);

    /* Merge, keeping the rank of a pod address equal to a block. */
    struct clause_array pods = *dim;
    struct rank_array pod_ranks = *ranks;
    size_t i = 0, j = 0;
    memset(dim, 0, sizeof *dim);
    memset(ranks, 0, sizeof *ranks);
    while (i < pods.n || j < blocks.n) {
        int cmp = (i >= pods.n ? 1 : j >= blocks.n ? -1
                   : clause_match_compare(&pods.matches[i],
                                          &blocks.matches[j]));
        if (cmp <= 0) {
            *clause_array_add(dim, field) = pods.matches[i];
            rank_array_add(ranks, pod_ranks.ranks[i++]);
            j += !cmp;
        } else {
            *clause_array_add(dim, field) = blocks.matches[j++];
            rank_array_add(ranks, RANK_NONE);
        }
    }
    clause_array_destroy(&pods);
    clause_array_destroy(&blocks);
    free(pod_ranks.ranks);
}

/* Returns the lowest band from 'band' on in which every clause of the
 * variant still has room for one more conjunction action, or -1 if none
 * has. */
static int
find_band(const struct compiler *c, uint8_t table,
          const struct clause_array *dims, size_t n_dims, int band)
{
    for (; band < NP_MAX_BANDS; band++) {
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

/* Adds conjunction 'id' to the flows of every clause match in 'dims', in
 * the lowest band where they all have room.  Returns the band, or -1 if
 * none has room. */
static int
add_clauses(struct compiler *c, enum np_direction dir, uint8_t table,
            const struct clause_array *dims, size_t n_dims,
            const struct rank_array *peer_ranks, uint32_t id)
{
    size_t n = 0;
    for (size_t d = 0; d < n_dims; d++) {
        n += dims[d].n;
    }
    if (n > c->allocated_scratch) {
        c->allocated_scratch = NP_MAX(n, 2 * c->allocated_scratch);
        free(c->pfs);
        free(c->hashes);
        c->pfs = np_xmalloc(c->allocated_scratch * sizeof *c->pfs);
        c->hashes = np_xmalloc(c->allocated_scratch * sizeof *c->hashes);
    }

    /* Band 0, the usual case, with one lookup per match.  (No match
     * repeats: each dimension is unique and they match different
     * fields.) */
    struct pending_flow **rank_pfs = c->rank_pfs[dir];
    bool fits = true;
    size_t k = 0;
    for (size_t d = 0; d < n_dims && fits; d++) {
        const uint32_t *ranks = peer_ranks && d == 1 ? peer_ranks->ranks
                                                     : NULL;
        for (size_t i = 0; i < dims[d].n && fits; i++, k++) {
            const struct clause_match *m = &dims[d].matches[i];
            uint32_t rank = ranks ? ranks[i] : RANK_NONE;
            struct pending_flow *pf = (rank != RANK_NONE ? rank_pfs[rank]
                                       : NULL);
            if (!pf) {
                c->hashes[k] = pending_hash(table, NP_PRIO_CLAUSE, m);
                pf = pending_find__(c, table, NP_PRIO_CLAUSE, m,
                                    c->hashes[k]);
                if (pf && rank != RANK_NONE) {
                    rank_pfs[rank] = pf;
                }
            }
            c->pfs[k] = pf;
            fits = !pf || pf->n_conjs < NP_MAX_CONJS_PER_FLOW;
        }
    }
    if (fits) {
        k = 0;
        for (size_t d = 0; d < n_dims; d++) {
            const uint32_t *ranks = peer_ranks && d == 1 ? peer_ranks->ranks
                                                         : NULL;
            for (size_t i = 0; i < dims[d].n; i++, k++) {
                struct pending_flow *pf = c->pfs[k];
                if (!pf) {
                    pf = pending_create(c, table, NP_PRIO_CLAUSE,
                                        &dims[d].matches[i], c->hashes[k],
                                        NP_ROLE_CLAUSE);
                    if (ranks && ranks[i] != RANK_NONE) {
                        rank_pfs[ranks[i]] = pf;
                    }
                }
                pending_flow_add_conj(pf, id, d, n_dims);
            }
        }
        return 0;
    }

    int band = find_band(c, table, dims, n_dims, 1);
    if (band > 0) {
        for (size_t d = 0; d < n_dims; d++) {
            for (size_t i = 0; i < dims[d].n; i++) {
                pending_add_conj(c, table, NP_PRIO_CLAUSE - band,
                                 &dims[d].matches[i], id, d, n_dims);
            }
        }
    }
    return band;
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
        build_peer_dim(c, v, families, &dims[n_dims], &c->peer_ranks);
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

    int band = add_clauses(c, v->dir, table, dims, n_dims,
                           v->any_peer ? NULL : &c->peer_ranks, id);
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

/* The peers of one rule: the pods of peer sets and ipBlock prefixes. */
struct rule_peers {
    bool any;
    const struct peer_cache_entry **sets;      /* Distinct. */
    size_t n_sets;
    struct cidr *blocks;
    size_t n_blocks, allocated_blocks;
};

static void
collect_rule_peers(struct compiler *c, const struct np_policy *policy,
                   const struct np_rule *rule, struct rule_peers *peers)
{
    memset(peers, 0, sizeof *peers);
    peers->any = !rule->n_peers;
    peers->sets = np_xmalloc((rule->n_peers + 1) * sizeof *peers->sets);

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
            size_t j;
            for (j = 0; j < peers->n_sets && peers->sets[j] != e; j++) {
                continue;
            }
            if (j >= peers->n_sets) {
                peers->sets[peers->n_sets++] = e;
            }
        }
    }
}

static void
rule_peers_destroy(struct rule_peers *peers)
{
    free(peers->sets);
    free(peers->blocks);
}

static int
compare_cidrs(const void *a, const void *b)
{
    return cidr_compare(a, b);
}

/* Adds to the named groups the addresses in the address index that 'block'
 * contains. */
static void
group_block_by_named_ports(struct compiler *c, const struct np_rule *rule,
                           const struct cidr *block,
                           struct named_groups *groups)
{
    size_t addr_size = block->family == AF_INET ? 4 : 16;
    for (size_t r = 0; r < c->n_addr_runs; r++) {
        const struct addr_run *run = &c->addr_runs[r];
        if (run->family != block->family || run->plen < block->plen) {
            continue;
        }

        /* The addresses inside 'block' are a range of the run, starting
         * at the first one not below the block's own address. */
        size_t lo = run->start, hi = run->end;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (memcmp(c->addr_index[mid].cidr.addr, block->addr,
                       addr_size) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (size_t i = lo; i < run->end; i++) {
            const struct addr_entry *ae = &c->addr_index[i];
            if (!cidr_contains(block, &ae->cidr)) {
                break;
            }
            named_group_add_rank(c, rule, &c->peer_pods[ae->pod], i, groups);
        }
    }
}

/* Egress named ports resolve on the destination pod, however the rule names
 * it: selected by a peer (all its addresses), inside an ipBlock (the
 * addresses inside), or, for a rule with no "to", any pod at all. */
static void
group_peers_by_named_ports(struct compiler *c, const struct np_rule *rule,
                           const struct rule_peers *peers,
                           struct named_groups *groups)
{
    index_port_profiles(c);
    c->stamp++;

    if (peers->any) {
        /* In address order, so that each group's addresses come out
         * sorted. */
        for (size_t i = 0; i < c->n_addrs; i++) {
            const struct addr_entry *ae = &c->addr_index[i];
            named_group_add_rank(c, rule, &c->peer_pods[ae->pod], i, groups);
        }
        return;
    }

    for (size_t i = 0; i < peers->n_sets; i++) {
        const struct peer_cache_entry *e = peers->sets[i];
        for (size_t j = 0; j < e->n; j++) {
            const struct peer_pod *p = &c->peer_pods[e->pods[j]];
            for (size_t k = 0; k < p->n_addrs; k++) {
                named_group_add_rank(c, rule, p,
                                     c->addr_ranks[p->first_slot + k],
                                     groups);
            }
        }
    }
    if (peers->n_blocks) {
        struct cidr *blocks = np_xmemdup(peers->blocks,
                                         peers->n_blocks * sizeof *blocks);
        np_qsort(blocks, peers->n_blocks, sizeof *blocks, compare_cidrs);
        for (size_t i = 0; i < peers->n_blocks; i++) {
            group_block_by_named_ports(c, rule, &blocks[i], groups);
        }
        free(blocks);
    }
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
            v.peer_sets = NULL;
            v.n_peer_sets = 0;
            v.peer_ranks = g->ranks;
            v.n_peer_ranks = g->n;
            v.peer_blocks = NULL;
            v.n_peer_blocks = 0;
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
        .peer_sets = peers.sets,
        .n_peer_sets = peers.n_sets,
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

/* Policies. */

static struct ns_targets *
ns_targets_find(const struct hmap *local_by_ns, const char *name)
{
    struct ns_targets *nst;
    HMAP_FOR_EACH_WITH_HASH (nst, node, np_hash_string(name, 0),
                             local_by_ns) {
        if (!strcmp(nst->name, name)) {
            return nst;
        }
    }
    return NULL;
}

static void
index_local_pods_by_namespace(struct compiler *c)
{
    for (size_t i = 0; i < c->ports.n_pods; i++) {
        const struct local_pod *lpod = &c->ports.pods[i];
        if (!lpod->pod) {
            continue;
        }
        struct ns_targets *nst = ns_targets_find(&c->local_by_ns,
                                                 lpod->pod->namespace);
        if (!nst) {
            nst = np_xzalloc(sizeof *nst);
            nst->name = lpod->pod->namespace;
            hmap_insert(&c->local_by_ns, &nst->node,
                        np_hash_string(nst->name, 0));
        }
        nst->pods = np_x2nrealloc(nst->pods, &nst->allocated, nst->n + 1,
                                  sizeof *nst->pods);
        nst->pods[nst->n++] = lpod;
    }
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
    /* Only local pods of the policy's namespace can be its targets. */
    const struct ns_targets *nst = ns_targets_find(&c->local_by_ns,
                                                   policy->namespace);
    if (!nst) {
        return;
    }

    const struct local_pod **targets = np_xmalloc(
        (nst->n + 1) * sizeof *targets);
    size_t n_targets = 0;
    for (size_t i = 0; i < nst->n; i++) {
        const struct local_pod *lpod = nst->pods[i];
        if (policy_selects_pod(policy, lpod->pod)) {
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
    const struct np_policy **policies = np_xmalloc((n + 1)
                                                   * sizeof *policies);
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
        add_flow_from_scratch(flows, pf->table, pf->priority, &match, cookie,
                              &ofpacts);
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
    hmap_init(&c->local_by_ns);
    hmap_init(&c->pods_by_ns);
    hmap_init(&c->ns_sel_cache);
    hmap_init(&c->peer_cache);
    hmap_init(&c->profiles);
    hmap_init(&c->pending);
    label_index_init(&c->pods_by_label, 0, peer_pod_labels, c);
}

/* Frees the indexes and caches of the policies' peers (which leaves them
 * empty), so that building the flows can reuse their memory. */
static void
compiler_destroy_indexes(struct compiler *c)
{
    struct ns_pods *nsp;
    HMAP_FOR_EACH_POP (nsp, node, &c->pods_by_ns) {
        labels_destroy(&nsp->scratch);
        free(nsp->pods);
        free(nsp);
    }

    struct ns_sel_entry *nse;
    HMAP_FOR_EACH_POP (nse, node, &c->ns_sel_cache) {
        free(nse->namespaces);
        free(nse->matched);
        free(nse);
    }

    label_index_destroy(&c->pods_by_label);
    label_index_init(&c->pods_by_label, 0, peer_pod_labels, c);

    struct peer_cache_entry *e;
    HMAP_FOR_EACH_POP (e, node, &c->peer_cache) {
        free(e->pods);
        free(e);
    }

    struct port_profile *profile;
    HMAP_FOR_EACH_POP (profile, node, &c->profiles) {
        free(profile);
    }

    free(c->pfs);
    free(c->hashes);
    free(c->peer_pods);
    free(c->addr_index);
    free(c->addr_ranks);
    free(c->addr_runs);
    free(c->rank_bitmap);
    free(c->rank_pfs[NP_INGRESS]);
    free(c->rank_pfs[NP_EGRESS]);
    free(c->peer_ranks.ranks);
    c->pfs = NULL;
    c->hashes = NULL;
    c->peer_pods = NULL;
    c->addr_index = NULL;
    c->addr_ranks = NULL;
    c->addr_runs = NULL;
    c->rank_bitmap = NULL;
    c->rank_pfs[NP_INGRESS] = c->rank_pfs[NP_EGRESS] = NULL;
    c->peer_ranks.ranks = NULL;
}

static void
compiler_destroy(struct compiler *c)
{
    struct ns_targets *nst;
    HMAP_FOR_EACH_POP (nst, node, &c->local_by_ns) {
        free(nst->pods);
        free(nst);
    }
    hmap_destroy(&c->local_by_ns);

    compiler_destroy_indexes(c);
    label_index_destroy(&c->pods_by_label);
    hmap_destroy(&c->pods_by_ns);
    hmap_destroy(&c->ns_sel_cache);
    hmap_destroy(&c->peer_cache);
    hmap_destroy(&c->profiles);
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

    index_local_pods_by_namespace(&c);
    index_peer_pods(&c);
    compile_policies(&c);
    compiler_destroy_indexes(&c);
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
