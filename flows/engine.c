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

/* engine.c: the incremental engine (engine.h).
 *
 * Where it sits: cluster state -> [engine] -> flow set (+ what changed)
 * -> ofctrl.  It computes what compile_full() computes, but keeps its
 * intermediate results so that one change costs what it affects.  It must
 * never do I/O, and never keep a pointer to a pod or namespace of the
 * cluster across calls (see the contract in engine.h).
 *
 * The pieces, from the output back to the input:
 *
 *   contribution   (table, priority, clause match) -> what the flows of
 *                  rules want there: conjunction() actions, rule IDs of
 *                  direct allows, isolation drops.  Reference counted; a
 *                  dirty contribution is turned into its flow (or none) in
 *                  flush_dirty().
 *
 *   variant        one conjunction: a rule, or one named-port resolution
 *                  of it.  Dimensions: targets (a multiset of matches),
 *                  peers (peer sets plus ipBlock prefixes, or, for egress
 *                  named ports, a multiset of addresses), ports (a list).
 *                  Installed when every dimension has something in the
 *                  address families it can match; then it contributes.
 *
 *   peer set       the addresses of the pods one (namespace,
 *                  namespaceSelector, podSelector) selects; shared by every
 *                  variant whose rule has that peer.
 *
 *   rule, policy   a policy's copy, its local targets, its rules; built
 *                  when the policy selects its first local pod, torn down
 *                  when it selects none.
 *
 *   local pod      a pod port: its classify flows, its isolation drops,
 *                  the policies that target it.
 *
 *   namespace      the names of the pods of each namespace ('struct
 *   index          ns_pod'), the records that peer set members and named
 *                  egress members point to; and the pods grouped by their
 *                  named container ports ('struct named_profile').
 *
 * What keeps it fast at 100,000 pods (the same ideas as compiler.c):
 *
 *   - A pod is looked up in the cluster once per call, not once per peer
 *     set or rule that asks ('struct pod_view', cached in its 'ns_pod' for
 *     the call's 'epoch').
 *
 *   - Egress rules with named ports and no "to" (or ipBlocks) resolve the
 *     names once per named-port profile and visit only the pods whose
 *     profile resolves them.
 *
 *   - A rebuild indexes the pods by label (label-index.h), so that a new
 *     peer set tests only the pods with the label its selector asks for.
 *
 *   - A peer set's addresses are sorted once per call for all the variants
 *     that use it, and merged, not sorted again per variant.
 *
 *   - A contribution's conjunctions stay sorted, so adding or removing one
 *     is a binary search; its flow in the output is updated in place.
 *
 *   - A pod relabel that leaves its port and addresses alone changes only
 *     the policies whose selection of it changes (lp_retarget()), and a
 *     namespace relabel revisits named egress rules only when one of their
 *     peer sets changed.
 *
 *   - Between rebuilds, a live label index, kept up to date by pod
 *     events, spares new peer sets the scan of big namespaces once such
 *     scans have cost as much as the index does (peer_set_fill_live()).
 *
 *   - engine_clear() throws everything away at once instead of undoing it
 *     piece by piece.
 *
 *   - A rebuild that an event needs waits until the result is read, so
 *     that a batch of events costs at most one (engine_finish_event()).
 */

#include <config.h>
#include "ovs-netpol/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/list.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/util.h>
#include "clause.h"
#include "flow-build.h"
#include "label-index.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/util.h"
#include "policy-match.h"
#include "selector.h"

/* Structures. */

/* What the rules want at one (table, priority, match). */
struct contrib {
    struct hmap_node node;      /* In 'engine->contribs'. */
    uint8_t table;
    uint16_t priority;
    struct clause_match match;
    enum np_role role;

    struct conj_ref *conjs;     /* NP_ROLE_CLAUSE: a set, sorted by
                                 * conj_ref_compare() (so that adding and
                                 * removing one is a binary search)... */
    size_t n_conjs, allocated_conjs;
    bool conjs_unsorted;        /* ...except while rebuilding, which appends
                                 * and sorts once, when it needs to. */

    uint32_t *ids;              /* NP_ROLE_RULE, NP_ROLE_STATS: a multiset
                                 * of rule IDs. */
    size_t n_ids, allocated_ids;
    size_t n_log;               /* NP_ROLE_RULE: how many of 'ids' audit
                                 * what they allow (it does if any does). */

    uint32_t *ofports;          /* NP_ROLE_ISOLATION: a multiset of the
                                 * ports of the pods that want it. */
    size_t n_ofports, allocated_ofports;

    struct ovs_list dirty_node; /* In 'engine->dirty', if dirty. */
    bool dirty;
    struct np_flow *flow;       /* Its flow in 'engine->flows', if any. */
};

/* A clause match with a count: one entry of a multiset. */
struct counted_match {
    struct hmap_node node;
    struct clause_match match;
    size_t count;
};

struct multiset {
    struct hmap entries;        /* Contains struct counted_match. */
    size_t n_family[2];         /* Distinct entries of each family. */
    size_t n_any_family;        /* Distinct entries with no family
                                 * (in_port). */
};

struct variant;

/* A variant's use of a peer set. */
struct peer_set_use {
    struct ovs_list node;       /* In 'peer_set->users'. */
    struct variant *variant;
    struct peer_set *set;
};

/* The pods one peer selects, and their addresses. */
struct peer_set {
    struct hmap_node node;      /* In 'engine->peer_sets'. */
    char *policy_ns;            /* Significant without 'ns_sel'. */
    struct selector *ns_sel;    /* Owned copies; NULL if absent. */
    struct selector *pod_sel;
    size_t n_refs;              /* Rules that have this peer. */

    struct hmap members;        /* Contains struct member, by pod key. */
    struct multiset addrs;      /* CLAUSE_SRC matches: the addresses. */
    uint8_t *ns_match;          /* By namespace ID: NS_MATCH_*, whether
                                 * 'ns_sel' matches the namespace. */
    size_t n_ns_match;
    struct ovs_list users;      /* Contains struct peer_set_use. */
    bool ns_changed;            /* Scratch for handle_namespace(). */

    /* 'addrs' sorted, for the variants installed or removed during one
     * call: valid while 'sorted_epoch' is 'engine->epoch', freed at the
     * end of the call. */
    struct clause_array sorted;
    unsigned long long int sorted_epoch;
    struct ovs_list sorted_node;        /* In 'engine->sorted_sets'. */
};

struct ns_pod;

/* A pod and the addresses it contributes (to a peer set, or to a named
 * egress variant). */
struct member {
    struct hmap_node node;      /* By the pod's 'key_hash'. */
    struct ns_pod *pod;         /* The pod's record in the namespace index,
                                 * which outlives every member of it. */
    struct cidr *addrs;         /* 'inline_addrs' when they fit there. */
    size_t n_addrs;
    struct variant *variant;    /* Named egress: the variant it is in. */
    struct cidr inline_addrs[2];
};

/* 'peer_set->ns_match' values. */
enum {
    NS_MATCH_UNKNOWN = 0,       /* Not evaluated yet. */
    NS_MATCH_NO,
    NS_MATCH_YES,
};

struct rule;

struct variant {
    struct hmap_node node;      /* In 'rule->named', if named. */
    struct rule *rule;
    char *key;                  /* "" or the resolved port list. */

    struct multiset targets;    /* CLAUSE_DST (ingress) or CLAUSE_IN_PORT. */
    bool any_peer;
    struct peer_set_use *uses;  /* The rule's peer sets... */
    size_t n_uses;
    struct multiset own_peers;  /* ...or, for named egress variants, their
                                 * own addresses (CLAUSE_SRC form). */
    bool own;                   /* Whether 'own_peers' is the peer dim. */
    const struct cidr *blocks;  /* The rule's ipBlock prefixes, sorted. */
    size_t n_blocks;
    struct port_list ports;
    bool any_port;

    /* While installed. */
    bool installed;
    unsigned int families;      /* Address families it matches. */
    int band;
    uint32_t conj_id;
    int n_dims;
    bool log;                   /* Its rule flows audit what they allow. */
    bool failed;                /* No band had room: not installed. */
};

struct policy;

struct rule {
    struct policy *policy;
    enum np_direction dir;
    size_t index;
    const struct np_rule *rule; /* In 'policy->copy'. */

    struct peer_set **sets;     /* Of its selector peers, deduplicated. */
    size_t n_sets;
    struct cidr *blocks;        /* Its ipBlocks minus excepts, sorted. */
    size_t n_blocks;
    bool any_peer;
    bool has_named;

    struct variant *main;       /* Numeric ports, or no ports at all. */
    struct hmap named;          /* Contains struct variant, by key. */
    struct hmap named_members;  /* Egress: struct member, by pod key. */
    struct ovs_list egress_named_node;  /* In 'engine->egress_named'. */
};

struct local_pod_state;

struct target {
    struct hmap_node node;      /* In 'policy->targets', by ofport. */
    struct local_pod_state *lp;
};

struct policy {
    struct hmap_node node;      /* In 'engine->policies', by ns/name. */
    struct ovs_list ns_node;    /* In the namespace's 'policies'. */
    struct np_policy *copy;
    struct hmap targets;        /* Contains struct target. */
    struct rule *rules[NP_N_DIRECTIONS];
    size_t n_rules[NP_N_DIRECTIONS];
    bool active;                /* Has targets, so rules are built. */
};

/* A policy's reference to a local pod it targets. */
struct policy_ref {
    struct hmap_node node;      /* In 'lp->policies', by policy pointer. */
    struct policy *policy;
};

/* A port of the bridge. */
struct local_pod_state {
    struct hmap_node node;      /* In 'engine->ports', by ofport. */
    uint32_t ofport;
    struct local_port *port;    /* Our copy. */
    bool is_pod;

    /* Pod ports only. */
    bool known;                 /* The Pod object exists. */
    struct cidr *ips;           /* Effective addresses. */
    size_t n_ips;
    unsigned int n_isolating[NP_N_DIRECTIONS];
    struct hmap policies;       /* Contains struct policy_ref. */

    struct flow_set classify;   /* Its classify flows (copies). */
    struct np_container_port *pod_ports;        /* The Pod's, copies (they
                                                 * decide its ingress
                                                 * named ports). */
    size_t n_pod_ports;
};

/* A namespace as the index of pods and policies sees it. */
struct ns_index {
    struct hmap_node node;      /* In 'engine->namespaces', by name. */
    size_t id;                  /* 0, 1, ... until the next rebuild. */
    char *name;
    bool log_allowed;           /* As its policies' rule flows say it. */
    struct hmap pods;           /* Contains struct ns_pod, by name. */
    struct ovs_list policies;   /* Contains struct policy. */
};

struct ns_pod {
    struct hmap_node node;      /* In 'ns->pods', by name. */
    struct ns_index *ns;
    char *name;
    uint32_t key_hash;          /* pod_key_hash() of the pod. */
    struct named_profile *profile;      /* Its named ports, or NULL. */
    struct ovs_list profile_node;       /* In 'profile->pods', if any. */

    /* The pod and its peer addresses, looked up once per call for every
     * peer set and rule that asks: valid only while 'view_epoch' is
     * 'engine->epoch' (the cluster may free them between calls). */
    unsigned long long int view_epoch;
    const struct np_pod *view_pod;
    const struct cidr *view_addrs;
    size_t view_n_addrs;

    /* Where the live label index lists it, by 'live_key->id'. */
    struct live_slot *live_slots;
    size_t n_live_slots;
};

/* The live label index: the pods of the namespace index by the value of a
 * label, one key at a time (see peer_set_fill_live()). */
struct live_key {
    struct hmap_node node;      /* In 'engine->live_keys', by key. */
    char *key;
    size_t id;                  /* In each 'ns_pod->live_slots'. */
    struct hmap values;         /* Contains struct live_value. */
};

struct live_value {
    struct hmap_node node;      /* In 'key->values', by value. */
    char *value;
    struct ns_pod **pods;       /* In no order. */
    size_t n_pods, allocated_pods;
};

/* Where a pod is listed for one key. */
struct live_slot {
    struct live_value *value;   /* NULL if it is not (no such label). */
    size_t pos;                 /* In 'value->pods'. */
};

/* Pods with the same named container ports, in the same order: they
 * resolve every named port the same way, so egress rules with named ports
 * and no "to" (or ipBlocks) look only at the pods whose profile resolves
 * something. */
struct named_profile {
    struct hmap_node node;      /* In 'engine->profiles'. */
    struct np_container_port *ports;    /* Copies of the named ones. */
    size_t n_ports;
    struct ovs_list pods;       /* Contains struct ns_pod. */
};

/* A pod as one call of the engine sees it, looked up once for every peer
 * set and rule that asks. */
struct pod_view {
    struct ns_pod *np;          /* NULL if the index has no such pod (and
                                 * then no member of it exists). */
    const char *ns, *name;
    const struct np_pod *pod;   /* NULL if the cluster holds none. */
    const struct cidr *addrs;   /* pod_peer_addresses(). */
    size_t n_addrs;
};

struct engine {
    const struct cluster *cluster;
    struct np_config config;
    struct conj_ids *ids;

    struct hmap namespaces;     /* Contains struct ns_index. */
    size_t n_ns_ids;            /* Namespace IDs given out. */
    struct hmap profiles;       /* Contains struct named_profile. */
    struct hmap ports;          /* Contains struct local_pod_state. */
    unsigned int node_families; /* Of the local pods' addresses. */
    struct hmap policies;       /* Contains struct policy. */
    struct hmap peer_sets;      /* Contains struct peer_set. */
    struct ovs_list egress_named;   /* Contains struct rule. */
    struct ovs_list no_policies;    /* Always empty. */
    struct ovs_list sorted_sets;    /* Contains struct peer_set with a
                                     * 'sorted' array. */

    struct hmap contribs;       /* Contains struct contrib. */
    struct ovs_list dirty;      /* Contains struct contrib. */
    struct flow_set flows;      /* The output. */
    struct flow_set tracked;    /* Identities changed since taken. */
    bool rebuilt;               /* Rebuilt since the tracked were taken. */

    bool rebuilding;            /* Inside engine_rebuild(). */
    unsigned long long int epoch;       /* Bumped by every call from the
                                         * outside: see 'struct ns_pod'. */
    bool clearing;              /* Inside engine_clear(): everything goes,
                                 * so nothing needs undoing one piece at a
                                 * time. */
    bool needs_rebuild;         /* The current event needs a rebuild. */
    bool stale;                 /* The output is out of date: events are
                                 * not applied until the next read rebuilds
                                 * (see engine_finish_event()). */
    int max_band;
    size_t n_variants;

    /* While rebuilding: every pod of the namespace index, and an index of
     * them by label for peer_set_ref(). */
    struct ns_pod **rebuild_pods;
    struct label_index rebuild_index;

    /* Between rebuilds: the live label index (see peer_set_fill_live()). */
    struct hmap live_keys;      /* Contains struct live_key. */
    size_t n_live_keys;
    size_t n_live_scanned;      /* Pods tested by new peer sets that an
                                 * index of a key not indexed yet would
                                 * have spared. */

    /* Scratch for variant_install(). */
    struct contrib **scratch_contribs;
    uint32_t *scratch_hashes;
    size_t allocated_scratch;
    struct engine_stats stats;
};

static void engine_rebuild__(struct engine *);
static void variant_reinstall(struct engine *, struct variant *);

static uint32_t
pod_key_hash(const char *ns, const char *name)
{
    return cluster_hash_name(ns, name);
}

/* Contributions. */

static uint32_t
contrib_hash(uint8_t table, uint16_t priority, const struct clause_match *m)
{
    return clause_match_hash(m, ((uint32_t) table << 16) | priority);
}

static void
contrib_mark_dirty(struct engine *e, struct contrib *c)
{
    if (!c->dirty) {
        c->dirty = true;
        ovs_list_push_back(&e->dirty, &c->dirty_node);
    }
}

static struct contrib *
contrib_find__(const struct engine *e, uint8_t table, uint16_t priority,
               const struct clause_match *m, uint32_t hash)
{
    struct contrib *c;
    HMAP_FOR_EACH_WITH_HASH (c, node, hash, &e->contribs) {
        if (c->table == table && c->priority == priority
            && !clause_match_compare(&c->match, m)) {
            return c;
        }
    }
    return NULL;
}

static struct contrib *
contrib_find(const struct engine *e, uint8_t table, uint16_t priority,
             const struct clause_match *m)
{
    return contrib_find__(e, table, priority, m,
                          contrib_hash(table, priority, m));
}

static struct contrib *
contrib_create(struct engine *e, uint8_t table, uint16_t priority,
               const struct clause_match *m, uint32_t hash,
               enum np_role role)
{
    struct contrib *c = np_xzalloc(sizeof *c);
    c->table = table;
    c->priority = priority;
    c->match = *m;
    c->role = role;
    hmap_insert(&e->contribs, &c->node, hash);
    return c;
}

static struct contrib *
contrib_get(struct engine *e, uint8_t table, uint16_t priority,
            const struct clause_match *m, enum np_role role)
{
    uint32_t hash = contrib_hash(table, priority, m);
    struct contrib *c = contrib_find__(e, table, priority, m, hash);
    if (!c) {
        c = contrib_create(e, table, priority, m, hash, role);
    }
    contrib_mark_dirty(e, c);
    return c;
}

static void
contrib_sort_conjs(struct contrib *c)
{
    if (c->conjs_unsorted) {
        np_qsort(c->conjs, c->n_conjs, sizeof *c->conjs, conj_ref_compare);
        c->conjs_unsorted = false;
    }
}

/* Returns the index of the first conjunction of 'c' not below 'ref'. */
static size_t
contrib_conj_lower_bound(const struct contrib *c, const struct conj_ref *ref)
{
    size_t lo = 0, hi = c->n_conjs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (conj_ref_compare(&c->conjs[mid], ref) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Bands outside a rebuild.
 *
 * compile_full() gives each conjunction, in rule order, the lowest band in
 * which every match has room.  Outside a rebuild the engine puts new
 * conjunctions in band 0 and changes the others in their bands.  Starting
 * from compile_full()'s result, both agree after an event that
 *
 *   - adds conjunctions to flows without taking any beyond
 *     NP_MAX_CONJS_PER_FLOW: counts only grow along the rule order, so such
 *     a flow had room for every rule placed in it and keeps out no rule it
 *     did not keep out before; no rule moves, and one that gains a match
 *     keeps its band;
 *
 *   - removes conjunctions only from band-0 flows that were not full, or
 *     from any flow while there is one band: no such flow ever kept a rule
 *     out of band 0.
 *
 * Anything else (a flow beyond the limit, a full flow losing a conjunction
 * while there are several bands, a rule of band 1 or beyond losing a
 * match, which may let it fit in an earlier band) needs a rebuild, which
 * assigns bands as compile_full() does.  Called after adding a conjunction
 * to 'c', or before removing one. */
static void
contrib_check_bands(struct engine *e, const struct contrib *c, bool add)
{
    if (!e->rebuilding
        && (add
            ? c->n_conjs > NP_MAX_CONJS_PER_FLOW
            : (c->priority != NP_PRIO_CLAUSE
               || (c->n_conjs >= NP_MAX_CONJS_PER_FLOW && e->max_band > 0)))) {
        e->needs_rebuild = true;
    }
}

static void
contrib_add_conj__(struct engine *e, struct contrib *c, uint32_t id,
                   int clause, int n_clauses)
{
    struct conj_ref ref = {
        .id = id, .clause = clause, .n_clauses = n_clauses,
    };
    c->conjs = np_x2nrealloc(c->conjs, &c->allocated_conjs, c->n_conjs + 1,
                             sizeof *c->conjs);
    if (e->rebuilding) {
        c->conjs[c->n_conjs++] = ref;
        c->conjs_unsorted = c->n_conjs > 1;
    } else {
        contrib_sort_conjs(c);
        size_t i = contrib_conj_lower_bound(c, &ref);
        memmove(&c->conjs[i + 1], &c->conjs[i],
                (c->n_conjs - i) * sizeof *c->conjs);
        c->conjs[i] = ref;
        c->n_conjs++;
    }
    contrib_mark_dirty(e, c);
    contrib_check_bands(e, c, true);
}

static void
contrib_add_conj(struct engine *e, uint8_t table, uint16_t priority,
                 const struct clause_match *m, uint32_t id, int clause,
                 int n_clauses)
{
    contrib_add_conj__(e, contrib_get(e, table, priority, m, NP_ROLE_CLAUSE),
                       id, clause, n_clauses);
}

static void
contrib_remove_conj(struct engine *e, uint8_t table, uint16_t priority,
                    const struct clause_match *m, uint32_t id, int clause)
{
    struct contrib *c = contrib_find(e, table, priority, m);
    if (c) {
        struct conj_ref ref = { .id = id, .clause = clause };
        contrib_sort_conjs(c);
        size_t i = contrib_conj_lower_bound(c, &ref);
        if (i < c->n_conjs && !conj_ref_compare(&c->conjs[i], &ref)) {
            contrib_check_bands(e, c, false);
            memmove(&c->conjs[i], &c->conjs[i + 1],
                    (c->n_conjs - i - 1) * sizeof *c->conjs);
            c->n_conjs--;
            contrib_mark_dirty(e, c);
            return;
        }
    }
    NP_NOT_REACHED();
}

/* Adds rule 'id' to the flow of a rule ('role' NP_ROLE_RULE, 'log' whether
 * it audits what it allows) or to its stats flow (NP_ROLE_STATS). */
static void
contrib_add_id(struct engine *e, uint8_t table, uint16_t priority,
               const struct clause_match *m, enum np_role role, uint32_t id,
               bool log)
{
    struct contrib *c = contrib_get(e, table, priority, m, role);
    c->ids = np_x2nrealloc(c->ids, &c->allocated_ids, c->n_ids + 1,
                           sizeof *c->ids);
    c->ids[c->n_ids++] = id;
    c->n_log += log;
}

static void
contrib_remove_id(struct engine *e, uint8_t table, uint16_t priority,
                  const struct clause_match *m, uint32_t id, bool log)
{
    struct contrib *c = contrib_find(e, table, priority, m);
    for (size_t i = 0; c && i < c->n_ids; i++) {
        if (c->ids[i] == id) {
            c->ids[i] = c->ids[--c->n_ids];
            c->n_log -= log;
            contrib_mark_dirty(e, c);
            return;
        }
    }
    NP_NOT_REACHED();
}

static void
contrib_add_drop(struct engine *e, uint8_t table,
                 const struct clause_match *m, uint32_t ofport)
{
    struct contrib *c = contrib_get(e, table, NP_PRIO_ISOLATION, m,
                                    NP_ROLE_ISOLATION);
    c->ofports = np_x2nrealloc(c->ofports, &c->allocated_ofports,
                               c->n_ofports + 1, sizeof *c->ofports);
    c->ofports[c->n_ofports++] = ofport;
}

static void
contrib_remove_drop(struct engine *e, uint8_t table,
                    const struct clause_match *m, uint32_t ofport)
{
    struct contrib *c = contrib_find(e, table, NP_PRIO_ISOLATION, m);
    for (size_t i = 0; c && i < c->n_ofports; i++) {
        if (c->ofports[i] == ofport) {
            c->ofports[i] = c->ofports[--c->n_ofports];
            contrib_mark_dirty(e, c);
            return;
        }
    }
    NP_NOT_REACHED();
}

static bool
contrib_is_empty(const struct contrib *c)
{
    return !c->n_conjs && !c->n_ids && !c->n_ofports;
}

static void
contrib_destroy(struct contrib *c)
{
    free(c->conjs);
    free(c->ids);
    free(c->ofports);
    free(c);
}

/* The output. */

/* Records that the flow with the identity of 'flow' changed.  'hash' is
 * its np_flow_hash(). */
static void
track(struct engine *e, const struct np_flow *flow, uint32_t hash)
{
    const struct np_flow *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash, &e->tracked.flows) {
        if (np_flow_same_identity(t, flow)) {
            e->stats.n_flow_changes++;
            return;
        }
    }

    /* The identity only: no actions. */
    struct minimatch match;
    minimatch_clone(&match, &flow->match);
    struct np_flow *copy = np_flow_create_nocopy(flow->table_id,
                                                 flow->priority, &match, 0,
                                                 NULL, 0);
    hmap_insert(&e->tracked.flows, &copy->node, hash);
    e->stats.n_flow_changes++;
}

static uint32_t
flow_hash(const struct np_flow *flow)
{
    return np_flow_hash(flow->table_id, flow->priority, &flow->match);
}

/* Makes the output hold 'new' (taking ownership) in place of 'old', a flow
 * of the output with its identity, or NULL if there is none.  Returns the
 * flow the output holds. */
static struct np_flow *
output_put__(struct engine *e, struct np_flow *old, struct np_flow *new)
{
    if (old && np_flow_same_content(old, new)) {
        np_flow_destroy(new);
        return old;
    }
    if (old) {
        track(e, new, old->node.hash);
        hmap_replace(&e->flows.flows, &old->node, &new->node);
        np_flow_destroy(old);
    } else {
        uint32_t hash = flow_hash(new);
        track(e, new, hash);
        hmap_insert(&e->flows.flows, &new->node, hash);
    }
    return new;
}

/* Makes the output hold 'new' (taking ownership) in place of any flow with
 * its identity. */
static void
output_put(struct engine *e, struct np_flow *new)
{
    output_put__(e, flow_set_find_flow(&e->flows, new), new);
}

/* Removes 'old', a flow of the output. */
static void
output_remove__(struct engine *e, struct np_flow *old)
{
    track(e, old, old->node.hash);
    flow_set_remove(&e->flows, old);
    np_flow_destroy(old);
}

/* Removes the flow with the identity of 'flow' from the output. */
static void
output_remove(struct engine *e, const struct np_flow *flow)
{
    struct np_flow *old = flow_set_find_flow(&e->flows, flow);
    if (old) {
        output_remove__(e, old);
    }
}

/* Appends the actions of the flow of 'c' to 'ofpacts' and returns its
 * cookie. */
static uint64_t
contrib_actions(const struct engine *e, struct contrib *c,
                struct ofpbuf *ofpacts)
{
    switch (c->role) {
    case NP_ROLE_CLAUSE:
        contrib_sort_conjs(c);
        put_conjunctions(c->conjs, c->n_conjs, ofpacts);
        return np_cookie(NP_ROLE_CLAUSE, 0);
    case NP_ROLE_RULE:
    case NP_ROLE_STATS: {
        uint32_t id = c->ids[0];
        for (size_t i = 1; i < c->n_ids; i++) {
            id = NP_MIN(id, c->ids[i]);
        }
        if (c->role == NP_ROLE_STATS) {
            put_allow_actions(&e->config, c->table, ofpacts);
            return np_cookie(NP_ROLE_STATS, id);
        }
        if (c->n_log) {
            put_audit_action(&e->config, ofpacts);
        }
        put_load_reg(c->table == np_table(&e->config, NP_TABLE_EGRESS)
                     ? e->config.egress_reg : e->config.ingress_reg, id,
                     ofpacts);
        put_goto(c->table + 1, ofpacts);
        return np_cookie(NP_ROLE_RULE, id);
    }
    case NP_ROLE_ISOLATION: {
        /* Pods that share an address share the drop; name the lowest
         * port, as compile_full() does. */
        uint32_t ofport = c->ofports[0];
        for (size_t i = 1; i < c->n_ofports; i++) {
            ofport = NP_MIN(ofport, c->ofports[i]);
        }
        if (e->config.audit) {
            put_audit_action(&e->config, ofpacts);
        }
        return np_cookie(NP_ROLE_ISOLATION, ofport);
    }
    case NP_ROLE_PIPELINE:
    case NP_ROLE_PORT:
        break;
    }
    NP_NOT_REACHED();
}

/* Brings the flow of 'c' in the output up to date.  A flow that keeps its
 * identity is changed in place: only its cookie and actions can differ. */
static void
contrib_output(struct engine *e, struct contrib *c)
{
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    uint64_t cookie = contrib_actions(e, c, &ofpacts);

    struct np_flow *flow = c->flow;
    if (flow) {
        /* Every action this engine builds has a fixed size, so actions of
         * another size are other actions. */
        struct np_flow now = *flow;
        now.cookie = cookie;
        now.ofpacts = ofpacts.data;
        now.ofpacts_len = ofpacts.size;
        if (flow->ofpacts_len != now.ofpacts_len
            || !np_flow_same_content(flow, &now)) {
            track(e, flow, flow->node.hash);
            free(flow->ofpacts);
            flow->cookie = cookie;
            flow->ofpacts_len = ofpacts.size;
            flow->ofpacts = (ofpacts.size
                             ? np_xmemdup(ofpacts.data, ofpacts.size)
                             : NULL);
        }
    } else {
        struct match match;
        clause_match_to_match(&c->match, &match);
        flow = build_flow_from_scratch(c->table, c->priority, &match, cookie,
                                       &ofpacts);
        c->flow = output_put__(e, flow_set_find_flow(&e->flows, flow), flow);
    }
    ofpbuf_uninit(&ofpacts);
}

/* Turns every dirty contribution into its flow, or removes it. */
static void
flush_dirty(struct engine *e)
{
    struct contrib *c;
    LIST_FOR_EACH_POP (c, dirty_node, &e->dirty) {
        c->dirty = false;
        if (contrib_is_empty(c)) {
            if (c->flow) {
                output_remove__(e, c->flow);
            }
            hmap_remove(&e->contribs, &c->node);
            contrib_destroy(c);
        } else {
            contrib_output(e, c);
        }
    }
}

/* Replaces the flows of one port ('*old', owned by the port) with 'new'. */
static void
output_replace_set(struct engine *e, struct flow_set *old,
                   struct flow_set *new)
{
    struct np_flow *flow;
    HMAP_FOR_EACH (flow, node, &old->flows) {
        if (!flow_set_find_flow(new, flow)) {
            output_remove(e, flow);
        }
    }
    HMAP_FOR_EACH (flow, node, &new->flows) {
        output_put(e, np_flow_clone(flow));
    }
    flow_set_swap(old, new);
    flow_set_clear(new);
}

/* Multisets of clause matches. */

static void
multiset_init(struct multiset *ms)
{
    hmap_init(&ms->entries);
    ms->n_family[0] = ms->n_family[1] = ms->n_any_family = 0;
}

static void
multiset_destroy(struct multiset *ms)
{
    struct counted_match *cm;
    HMAP_FOR_EACH_POP (cm, node, &ms->entries) {
        free(cm);
    }
    hmap_destroy(&ms->entries);
}

static struct counted_match *
multiset_find(const struct multiset *ms, const struct clause_match *m)
{
    struct counted_match *cm;
    HMAP_FOR_EACH_WITH_HASH (cm, node, clause_match_hash(m, 0),
                             &ms->entries) {
        if (!clause_match_compare(&cm->match, m)) {
            return cm;
        }
    }
    return NULL;
}

static bool
multiset_contains(const struct multiset *ms, const struct clause_match *m)
{
    return multiset_find(ms, m) != NULL;
}

static size_t *
family_counter(struct multiset *ms, const struct clause_match *m)
{
    unsigned int families = clause_match_families(m);
    return (families == ALL_FAMILIES ? &ms->n_any_family
            : &ms->n_family[families == FAMILY_BIT(AF_INET) ? 0 : 1]);
}

/* Adds one 'm'; returns its count after. */
static size_t
multiset_add(struct multiset *ms, const struct clause_match *m)
{
    struct counted_match *cm = multiset_find(ms, m);
    if (!cm) {
        cm = np_xzalloc(sizeof *cm);
        cm->match = *m;
        hmap_insert(&ms->entries, &cm->node, clause_match_hash(m, 0));
        (*family_counter(ms, m))++;
    }
    return ++cm->count;
}

/* Removes one 'm', which must be there; returns its count after. */
static size_t
multiset_remove(struct multiset *ms, const struct clause_match *m)
{
    struct counted_match *cm = multiset_find(ms, m);
    ovs_assert(cm);
    size_t count = --cm->count;
    if (!count) {
        hmap_remove(&ms->entries, &cm->node);
        (*family_counter(ms, m))--;
        free(cm);
    }
    return count;
}

/* Bits 0 and 1: the families present; bit 2: entries without family. */
static unsigned int
multiset_presence(const struct multiset *ms)
{
    return ((ms->n_family[0] ? 1 : 0) | (ms->n_family[1] ? 2 : 0)
            | (ms->n_any_family ? 4 : 0));
}

static unsigned int
presence_to_families(unsigned int presence)
{
    return presence & 4 ? ALL_FAMILIES : presence & ALL_FAMILIES;
}

/* Whether adding 'm' (if 'add') or removing one 'm' would change which
 * families 'ms' holds. */
static bool
multiset_presence_changes(struct multiset *ms, const struct clause_match *m,
                          bool add)
{
    const struct counted_match *cm = multiset_find(ms, m);
    size_t n = *family_counter(ms, m);
    return add ? !cm && !n : cm && cm->count == 1 && n == 1;
}

/* Variants. */

static uint8_t
rule_table(const struct engine *e, const struct rule *r)
{
    return np_table(&e->config, r->dir == NP_INGRESS ? NP_TABLE_INGRESS
                                                      : NP_TABLE_EGRESS);
}

/* Peer matches are stored as sources (CLAUSE_SRC); egress rules match
 * them as destinations. */
static struct clause_match
peer_match(const struct rule *r, const struct clause_match *stored)
{
    struct clause_match m = *stored;
    m.field = r->dir == NP_INGRESS ? CLAUSE_SRC : CLAUSE_DST;
    return m;
}

static struct clause_match
cidr_to_match(const struct cidr *cidr)
{
    struct clause_match m;
    clause_match_init(&m, CLAUSE_SRC);
    m.cidr = *cidr;
    return m;
}

static int
compare_cidrs(const void *a, const void *b)
{
    return cidr_compare(a, b);
}

static bool
blocks_contain_exactly(const struct variant *v, const struct cidr *cidr)
{
    return v->n_blocks && bsearch(cidr, v->blocks, v->n_blocks,
                                  sizeof *v->blocks, compare_cidrs);
}

/* Whether the peer dimension of 'v' has 'm' from a source other than
 * 'except' (a peer set of 'v', or NULL). */
static bool
variant_has_peer(const struct variant *v, const struct clause_match *m,
                 const struct peer_set *except)
{
    if (v->own) {
        return multiset_contains(&v->own_peers, m);
    }
    for (size_t i = 0; i < v->n_uses; i++) {
        if (v->uses[i].set != except
            && multiset_contains(&v->uses[i].set->addrs, m)) {
            return true;
        }
    }
    return blocks_contain_exactly(v, &m->cidr);
}

static unsigned int
variant_peer_families(const struct variant *v)
{
    if (v->any_peer) {
        return ALL_FAMILIES;
    }
    if (v->own) {
        return presence_to_families(multiset_presence(&v->own_peers));
    }
    unsigned int families = 0;
    for (size_t i = 0; i < v->n_uses; i++) {
        families |= presence_to_families(
            multiset_presence(&v->uses[i].set->addrs));
    }
    for (size_t i = 0; i < v->n_blocks; i++) {
        families |= FAMILY_BIT(v->blocks[i].family);
    }
    return families;
}

static int
variant_n_dims(const struct variant *v)
{
    return 1 + !v->any_peer + !v->any_port;
}

/* The families 'v' can match: those of the node, its targets and its
 * peers.  0 means it cannot match anything and is not installed. */
static unsigned int
variant_families(const struct engine *e, const struct variant *v)
{
    return (e->node_families
            & presence_to_families(multiset_presence(&v->targets))
            & variant_peer_families(v));
}

static void
peer_set_forget_sorted(struct peer_set *set)
{
    if (set->sorted_epoch) {
        clause_array_destroy(&set->sorted);
        ovs_list_remove(&set->sorted_node);
        set->sorted_epoch = 0;
    }
}

/* Frees the sorted arrays of the peer sets (see 'struct peer_set'). */
static void
forget_sorted_sets(struct engine *e)
{
    struct peer_set *set;
    LIST_FOR_EACH_SAFE (set, sorted_node, &e->sorted_sets) {
        peer_set_forget_sorted(set);
    }
}

/* Returns the addresses of 'set', sorted and unique. */
static const struct clause_array *
peer_set_sorted(struct engine *e, struct peer_set *set)
{
    if (set->sorted_epoch != e->epoch) {
        peer_set_forget_sorted(set);
        const struct counted_match *cm;
        HMAP_FOR_EACH (cm, node, &set->addrs.entries) {
            *clause_array_add(&set->sorted, CLAUSE_SRC) = cm->match;
        }
        clause_array_normalize(&set->sorted);
        set->sorted_epoch = e->epoch;
        ovs_list_push_back(&e->sorted_sets, &set->sorted_node);
    }
    return &set->sorted;
}

/* Sets 'out' to the union of 'out' and the matches of 'in' in 'families',
 * both sorted and unique. */
static void
clause_array_merge(struct clause_array *out, const struct clause_array *in,
                   unsigned int families)
{
    struct clause_array a = *out;
    size_t i = 0, j = 0;

    memset(out, 0, sizeof *out);
    out->allocated = a.n + in->n;
    out->matches = np_xmalloc((out->allocated + 1) * sizeof *out->matches);
    while (i < a.n || j < in->n) {
        if (j < in->n
            && !(clause_match_families(&in->matches[j]) & families)) {
            j++;
            continue;
        }
        int cmp = (i >= a.n ? 1 : j >= in->n ? -1
                   : clause_match_compare(&a.matches[i], &in->matches[j]));
        if (cmp <= 0) {
            out->matches[out->n++] = a.matches[i++];
            j += !cmp;
        } else {
            out->matches[out->n++] = in->matches[j++];
        }
    }
    clause_array_destroy(&a);
}

/* Appends the peer matches of 'v' in 'families', each once ('out' must be
 * empty). */
static void
variant_collect_peers(struct engine *e, const struct variant *v,
                      unsigned int families, struct clause_array *out)
{
    const struct counted_match *cm;
    if (v->own) {
        HMAP_FOR_EACH (cm, node, &v->own_peers.entries) {
            if (clause_match_families(&cm->match) & families) {
                *clause_array_add(out, CLAUSE_SRC) = cm->match;
            }
        }
        return;
    }

    /* Each peer set is sorted already (and shared by many variants): merge
     * them with the ipBlocks. */
    struct clause_array blocks = { NULL, 0, 0 };
    for (size_t i = 0; i < v->n_blocks; i++) {
        if (FAMILY_BIT(v->blocks[i].family) & families) {
            clause_array_add(&blocks, CLAUSE_SRC)->cidr = v->blocks[i];
        }
    }
    clause_array_normalize(&blocks);
    for (size_t i = 0; i < v->n_uses; i++) {
        clause_array_merge(out, peer_set_sorted(e, v->uses[i].set),
                           families);
    }
    clause_array_merge(out, &blocks, ALL_FAMILIES);
    clause_array_destroy(&blocks);
}

/* The lowest band in which every match has room for one more conjunction
 * (as compile_full() finds it), or -1. */
static int
find_band(const struct engine *e, uint8_t table,
          const struct clause_array *dims, int n_dims, int band)
{
    for (; band < NP_MAX_BANDS; band++) {
        bool fits = true;
        for (int d = 0; d < n_dims && fits; d++) {
            for (size_t i = 0; i < dims[d].n && fits; i++) {
                const struct contrib *c = contrib_find(
                    e, table, NP_PRIO_CLAUSE - band, &dims[d].matches[i]);
                fits = !c || c->n_conjs < NP_MAX_CONJS_PER_FLOW;
            }
        }
        if (fits) {
            return band;
        }
    }
    return -1;
}

/* Whether the rule flows of 'v' audit what they allow (see pipeline.h). */
static bool
variant_logs(const struct engine *e, const struct variant *v)
{
    const struct np_namespace *ns = cluster_find_namespace(
        e->cluster, v->rule->policy->copy->namespace);
    return e->config.audit && ns && ns->log_allowed;
}

/* Adds (or removes) the flow that counts the established packets of an
 * installed variant. */
static void
variant_change_stats(struct engine *e, const struct variant *v, bool add)
{
    struct clause_match m;
    clause_match_init(&m, CLAUSE_CT_LABEL);
    m.value = v->conj_id;
    m.proto = v->rule->dir;
    uint8_t table = np_table(&e->config, NP_TABLE_CT_STATE);
    uint16_t priority = (v->rule->dir == NP_INGRESS
                         ? NP_PRIO_CT_STATS_INGRESS : NP_PRIO_CT_STATS_EGRESS);
    if (add) {
        contrib_add_id(e, table, priority, &m, NP_ROLE_STATS, v->conj_id,
                       false);
    } else {
        contrib_remove_id(e, table, priority, &m, v->conj_id, false);
    }
}

static void
variant_install(struct engine *e, struct variant *v)
{
    const struct rule *r = v->rule;
    uint8_t table = rule_table(e, r);
    int n_dims = variant_n_dims(v);

    ovs_assert(!v->installed);
    v->failed = false;
    if (n_dims == 1) {
        /* Only targets: allow directly, in every family. */
        if (hmap_is_empty(&v->targets.entries)) {
            return;
        }
        v->conj_id = conj_ids_alloc(e->ids, r->policy->copy->namespace,
                                    r->policy->copy->name, r->dir, r->index,
                                    v->key);
        v->log = variant_logs(e, v);
        const struct counted_match *cm;
        HMAP_FOR_EACH (cm, node, &v->targets.entries) {
            contrib_add_id(e, table, NP_PRIO_RULE_ALLOW, &cm->match,
                           NP_ROLE_RULE, v->conj_id, v->log);
        }
        variant_change_stats(e, v, true);
        v->installed = true;
        v->n_dims = 1;
        e->n_variants++;
        return;
    }

    unsigned int families = variant_families(e, v);
    if (!families) {
        return;                 /* A dimension matches nothing. */
    }

    /* The dimensions as compile_full() builds them: every target, the
     * peers and ports of the families that can match. */
    struct clause_array dims[3];
    memset(dims, 0, sizeof dims);
    const struct counted_match *cm;
    HMAP_FOR_EACH (cm, node, &v->targets.entries) {
        *clause_array_add(&dims[0], cm->match.field) = cm->match;
    }
    int k = 1;
    if (!v->any_peer) {
        variant_collect_peers(e, v, families, &dims[k]);
        for (size_t i = 0; i < dims[k].n; i++) {
            dims[k].matches[i] = peer_match(r, &dims[k].matches[i]);
        }
        k++;
    }
    if (!v->any_port) {
        /* Overlapping ranges can give one match twice. */
        clause_array_add_ports(&dims[k], &v->ports, families);
        clause_array_normalize(&dims[k]);
    }

    /* Band 0 (the only one outside a rebuild) with one lookup per match,
     * which is unique: each dimension is, and they match different
     * fields. */
    size_t n = dims[0].n + dims[1].n + dims[2].n;
    if (n > e->allocated_scratch) {
        e->allocated_scratch = NP_MAX(n, 2 * e->allocated_scratch);
        free(e->scratch_contribs);
        free(e->scratch_hashes);
        e->scratch_contribs = np_xmalloc(e->allocated_scratch
                                         * sizeof *e->scratch_contribs);
        e->scratch_hashes = np_xmalloc(e->allocated_scratch
                                       * sizeof *e->scratch_hashes);
    }
    bool fits = true;
    k = 0;
    for (int d = 0; d < n_dims; d++) {
        for (size_t i = 0; i < dims[d].n; i++, k++) {
            const struct clause_match *m = &dims[d].matches[i];
            uint32_t hash = contrib_hash(table, NP_PRIO_CLAUSE, m);
            struct contrib *c = contrib_find__(e, table, NP_PRIO_CLAUSE, m,
                                               hash);
            e->scratch_hashes[k] = hash;
            e->scratch_contribs[k] = c;
            fits = fits && (!c || c->n_conjs < NP_MAX_CONJS_PER_FLOW);
        }
    }
    int band = !e->rebuilding || fits ? 0 : find_band(e, table, dims,
                                                      n_dims, 1);
    if (band < 0) {
        v->failed = true;
    } else {
        v->conj_id = conj_ids_alloc(e->ids, r->policy->copy->namespace,
                                    r->policy->copy->name, r->dir, r->index,
                                    v->key);
        k = 0;
        for (int d = 0; d < n_dims; d++) {
            for (size_t i = 0; i < dims[d].n; i++, k++) {
                const struct clause_match *m = &dims[d].matches[i];
                if (band) {
                    contrib_add_conj(e, table, NP_PRIO_CLAUSE - band, m,
                                     v->conj_id, d, n_dims);
                    continue;
                }
                struct contrib *c = e->scratch_contribs[k];
                if (!c) {
                    c = contrib_create(e, table, NP_PRIO_CLAUSE, m,
                                       e->scratch_hashes[k],
                                       NP_ROLE_CLAUSE);
                }
                contrib_add_conj__(e, c, v->conj_id, d, n_dims);
            }
        }
        struct clause_match conj_match;
        clause_match_init(&conj_match, CLAUSE_CONJ_ID);
        conj_match.value = v->conj_id;
        v->log = variant_logs(e, v);
        contrib_add_id(e, table, NP_PRIO_RULE_MATCH, &conj_match,
                       NP_ROLE_RULE, v->conj_id, v->log);
        variant_change_stats(e, v, true);
        v->installed = true;
        v->families = families;
        v->band = band;
        v->n_dims = n_dims;
        e->max_band = NP_MAX(e->max_band, band);
        e->n_variants++;
    }
    for (int d = 0; d < 3; d++) {
        clause_array_destroy(&dims[d]);
    }
}

static void
variant_uninstall(struct engine *e, struct variant *v)
{
    const struct rule *r = v->rule;
    uint8_t table = rule_table(e, r);
    const struct counted_match *cm;

    v->failed = false;
    if (!v->installed) {
        return;
    }
    if (e->clearing) {
        v->installed = false;
        e->n_variants--;
        return;
    }
    variant_change_stats(e, v, false);
    if (v->n_dims == 1) {
        HMAP_FOR_EACH (cm, node, &v->targets.entries) {
            contrib_remove_id(e, table, NP_PRIO_RULE_ALLOW, &cm->match,
                              v->conj_id, v->log);
        }
    } else {
        uint16_t prio = NP_PRIO_CLAUSE - v->band;
        HMAP_FOR_EACH (cm, node, &v->targets.entries) {
            contrib_remove_conj(e, table, prio, &cm->match, v->conj_id, 0);
        }
        int k = 1;
        if (!v->any_peer) {
            struct clause_array peers = { NULL, 0, 0 };
            variant_collect_peers(e, v, v->families, &peers);
            for (size_t i = 0; i < peers.n; i++) {
                struct clause_match m = peer_match(r, &peers.matches[i]);
                contrib_remove_conj(e, table, prio, &m, v->conj_id, k);
            }
            clause_array_destroy(&peers);
            k++;
        }
        if (!v->any_port) {
            struct clause_array ports = { NULL, 0, 0 };
            clause_array_add_ports(&ports, &v->ports, v->families);
            clause_array_normalize(&ports);
            for (size_t i = 0; i < ports.n; i++) {
                contrib_remove_conj(e, table, prio, &ports.matches[i],
                                    v->conj_id, k);
            }
            clause_array_destroy(&ports);
        }
        struct clause_match conj_match;
        clause_match_init(&conj_match, CLAUSE_CONJ_ID);
        conj_match.value = v->conj_id;
        contrib_remove_id(e, table, NP_PRIO_RULE_MATCH, &conj_match,
                          v->conj_id, v->log);
    }
    if (!e->rebuilding) {
        conj_ids_release(e->ids, v->conj_id);
    }
    v->installed = false;
    e->n_variants--;
}

static void
variant_reinstall(struct engine *e, struct variant *v)
{
    variant_uninstall(e, v);
    variant_install(e, v);
}

/* Adds or removes the contribution of one target match of an installed
 * variant. */
static void
variant_emit_target(struct engine *e, struct variant *v,
                    const struct clause_match *m, bool add)
{
    uint8_t table = rule_table(e, v->rule);
    if (v->n_dims == 1) {
        if (add) {
            contrib_add_id(e, table, NP_PRIO_RULE_ALLOW, m, NP_ROLE_RULE,
                           v->conj_id, v->log);
        } else {
            contrib_remove_id(e, table, NP_PRIO_RULE_ALLOW, m, v->conj_id,
                              v->log);
        }
    } else if (add) {
        contrib_add_conj(e, table, NP_PRIO_CLAUSE - v->band, m, v->conj_id,
                         0, v->n_dims);
    } else {
        contrib_remove_conj(e, table, NP_PRIO_CLAUSE - v->band, m,
                            v->conj_id, 0);
    }
}

/* Adds or removes the contribution of one peer match (stored form). */
static void
variant_emit_peer(struct engine *e, struct variant *v,
                  const struct clause_match *stored, bool add)
{
    if (!v->installed || !(clause_match_families(stored) & v->families)) {
        return;
    }
    uint8_t table = rule_table(e, v->rule);
    struct clause_match m = peer_match(v->rule, stored);
    if (add) {
        contrib_add_conj(e, table, NP_PRIO_CLAUSE - v->band, &m, v->conj_id,
                         1, v->n_dims);
    } else {
        contrib_remove_conj(e, table, NP_PRIO_CLAUSE - v->band, &m,
                            v->conj_id, 1);
    }
}

/* Changes one of the variant's own multisets ('targets' or 'own_peers')
 * by one 'm': a change of the families it holds reinstalls the variant,
 * any other change is one contribution. */
static void
variant_change(struct engine *e, struct variant *v, struct multiset *ms,
               const struct clause_match *m, bool add)
{
    bool is_target = ms == &v->targets;

    if (v->failed || multiset_presence_changes(ms, m, add)) {
        variant_uninstall(e, v);
        if (add) {
            multiset_add(ms, m);
        } else {
            multiset_remove(ms, m);
        }
        variant_install(e, v);
        return;
    }

    size_t count = add ? multiset_add(ms, m) : multiset_remove(ms, m);
    if ((add && count == 1) || (!add && !count)) {
        if (!v->installed) {
            return;
        }
        if (is_target) {
            variant_emit_target(e, v, m, add);
        } else {
            variant_emit_peer(e, v, m, add);
        }
    }
}

static struct variant *
variant_create(struct rule *r, const char *key)
{
    struct variant *v = np_xzalloc(sizeof *v);
    v->rule = r;
    v->key = np_xstrdup(key);
    multiset_init(&v->targets);
    multiset_init(&v->own_peers);
    v->any_peer = r->any_peer;
    v->blocks = r->blocks;
    v->n_blocks = r->n_blocks;
    return v;
}

/* Makes 'v' use the peer sets of its rule. */
static void
variant_use_sets(struct variant *v)
{
    const struct rule *r = v->rule;
    v->n_uses = r->n_sets;
    v->uses = np_xcalloc(r->n_sets + 1, sizeof *v->uses);
    for (size_t i = 0; i < r->n_sets; i++) {
        v->uses[i].variant = v;
        v->uses[i].set = r->sets[i];
        ovs_list_push_back(&r->sets[i]->users, &v->uses[i].node);
    }
}

static void
variant_destroy(struct engine *e, struct variant *v)
{
    if (v) {
        variant_uninstall(e, v);
        for (size_t i = 0; i < v->n_uses; i++) {
            ovs_list_remove(&v->uses[i].node);
        }
        free(v->uses);
        multiset_destroy(&v->targets);
        multiset_destroy(&v->own_peers);
        port_list_destroy(&v->ports);
        free(v->key);
        free(v);
    }
}

/* Namespaces index. */

static struct ns_index *
ns_find(const struct engine *e, const char *name)
{
    struct ns_index *ns;
    HMAP_FOR_EACH_WITH_HASH (ns, node, np_hash_string(name, 0),
                             &e->namespaces) {
        if (!strcmp(ns->name, name)) {
            return ns;
        }
    }
    return NULL;
}

static struct ns_index *
ns_get(struct engine *e, const char *name)
{
    struct ns_index *ns = ns_find(e, name);
    if (!ns) {
        ns = np_xzalloc(sizeof *ns);
        ns->id = e->n_ns_ids++;
        ns->name = np_xstrdup(name);
        hmap_init(&ns->pods);
        ovs_list_init(&ns->policies);
        const struct np_namespace *obj = cluster_find_namespace(e->cluster,
                                                                name);
        ns->log_allowed = obj && obj->log_allowed;
        hmap_insert(&e->namespaces, &ns->node, np_hash_string(name, 0));
    }
    return ns;
}

static struct ns_pod *
ns_find_pod(const struct ns_index *ns, const char *name)
{
    struct ns_pod *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, np_hash_string(name, 0), &ns->pods) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

/* Named profiles. */

static uint32_t
named_ports_hash(const struct np_container_port *ports, size_t n)
{
    uint32_t hash = 0;
    for (size_t i = 0; i < n; i++) {
        if (ports[i].name) {
            hash = np_hash_add(hash, ((uint32_t) ports[i].protocol << 16)
                                     | ports[i].port);
            hash = np_hash_string(ports[i].name, hash);
        }
    }
    return hash;
}

/* Whether the named ports of 'pod' are 'profile->ports'. */
static bool
named_profile_matches(const struct named_profile *profile,
                      const struct np_pod *pod)
{
    size_t j = 0;
    for (size_t i = 0; i < pod->n_ports; i++) {
        const struct np_container_port *cp = &pod->ports[i];
        if (!cp->name) {
            continue;
        }
        if (j >= profile->n_ports) {
            return false;
        }
        const struct np_container_port *x = &profile->ports[j++];
        if (x->port != cp->port || x->protocol != cp->protocol
            || strcmp(x->name, cp->name)) {
            return false;
        }
    }
    return j == profile->n_ports;
}

static void
ns_pod_clear_profile(struct engine *e, struct ns_pod *np)
{
    struct named_profile *profile = np->profile;
    if (!profile) {
        return;
    }
    ovs_list_remove(&np->profile_node);
    np->profile = NULL;
    if (ovs_list_is_empty(&profile->pods)) {
        hmap_remove(&e->profiles, &profile->node);
        for (size_t i = 0; i < profile->n_ports; i++) {
            free(profile->ports[i].name);
        }
        free(profile->ports);
        free(profile);
    }
}

/* Puts 'np' in the profile of the named ports of 'pod'. */
static void
ns_pod_set_profile(struct engine *e, struct ns_pod *np,
                   const struct np_pod *pod)
{
    uint32_t hash = named_ports_hash(pod->ports, pod->n_ports);
    struct named_profile *profile = NULL;
    size_t n_named = 0;
    for (size_t i = 0; i < pod->n_ports; i++) {
        n_named += pod->ports[i].name != NULL;
    }
    if (n_named) {
        HMAP_FOR_EACH_WITH_HASH (profile, node, hash, &e->profiles) {
            if (named_profile_matches(profile, pod)) {
                break;
            }
        }
    }
    if (profile && profile == np->profile) {
        return;
    }
    ns_pod_clear_profile(e, np);
    if (!n_named) {
        return;
    }
    if (!profile) {
        profile = np_xzalloc(sizeof *profile);
        profile->ports = np_xmalloc(n_named * sizeof *profile->ports);
        for (size_t i = 0; i < pod->n_ports; i++) {
            const struct np_container_port *cp = &pod->ports[i];
            if (cp->name) {
                profile->ports[profile->n_ports] = *cp;
                profile->ports[profile->n_ports++].name
                    = np_xstrdup(cp->name);
            }
        }
        ovs_list_init(&profile->pods);
        hmap_insert(&e->profiles, &profile->node, hash);
    }
    np->profile = profile;
    ovs_list_push_back(&profile->pods, &np->profile_node);
}

/* Live label index.
 *
 * Outside a rebuild, a new peer set tests every pod of the namespaces it
 * looks in: a batch of policies with peers in a big namespace (or with a
 * namespaceSelector) costs the policies times the pods.  The live index
 * lists the pods by the value of a label, like the rebuild's label index,
 * but lasts from one call to the next: a key is indexed when a new peer set
 * asks about it once new peer sets have tested, since the last rebuild, as
 * many pods as there are (so indexing never costs more than the scanning
 * it saves), is kept up to date by pod events, and is dropped by the next
 * rebuild.
 *
 * It lists a pod under its labels as of its last event (or as of the
 * indexing of the key): a pod changed in the cluster, whose event is still
 * to come, may be listed under an old value.  That does not matter: the
 * index only proposes pods, which peer_set_refresh_pod() tests against the
 * cluster, and the pod's event brings it up to date in every peer set. */

/* Returns the slot of key 'id' of 'np'. */
static struct live_slot *
live_slot(const struct engine *e, struct ns_pod *np, size_t id)
{
    if (id >= np->n_live_slots) {
        size_t n = NP_MAX(e->n_live_keys, id + 1);
        np->live_slots = np_xrealloc(np->live_slots,
                                     n * sizeof *np->live_slots);
        memset(&np->live_slots[np->n_live_slots], 0,
               (n - np->n_live_slots) * sizeof *np->live_slots);
        np->n_live_slots = n;
    }
    return &np->live_slots[id];
}

static struct live_value *
live_value_find(const struct live_key *k, const char *value, uint32_t hash)
{
    struct live_value *v;
    HMAP_FOR_EACH_WITH_HASH (v, node, hash, &k->values) {
        if (!strcmp(v->value, value)) {
            return v;
        }
    }
    return NULL;
}

static void
live_value_destroy(struct live_value *v)
{
    free(v->value);
    free(v->pods);
    free(v);
}

/* Takes 'np' off the list of its value of 'k'. */
static void
live_unlist(struct live_key *k, struct ns_pod *np)
{
    struct live_slot *slot = (k->id < np->n_live_slots
                              ? &np->live_slots[k->id] : NULL);
    struct live_value *v = slot ? slot->value : NULL;
    if (!v) {
        return;
    }
    struct ns_pod *last = v->pods[--v->n_pods];
    v->pods[slot->pos] = last;
    last->live_slots[k->id].pos = slot->pos;
    slot->value = NULL;
    if (!v->n_pods) {
        hmap_remove(&k->values, &v->node);
        live_value_destroy(v);
    }
}

/* Lists 'np' under its value of 'k' in 'labels' (NULL if the pod is
 * gone). */
static void
live_list(struct engine *e, struct live_key *k, struct ns_pod *np,
          const struct labels *labels)
{
    const char *value = labels ? labels_get(labels, k->key) : NULL;
    struct live_slot *slot = live_slot(e, np, k->id);
    if (slot->value ? value && !strcmp(slot->value->value, value) : !value) {
        return;
    }
    live_unlist(k, np);
    if (value) {
        uint32_t hash = np_hash_string(value, 0);
        struct live_value *v = live_value_find(k, value, hash);
        if (!v) {
            v = np_xzalloc(sizeof *v);
            v->value = np_xstrdup(value);
            hmap_insert(&k->values, &v->node, hash);
        }
        v->pods = np_x2nrealloc(v->pods, &v->allocated_pods, v->n_pods + 1,
                                sizeof *v->pods);
        slot->value = v;
        slot->pos = v->n_pods;
        v->pods[v->n_pods++] = np;
    }
}

/* Brings the lists of 'np' up to date after an event of its pod, whose
 * labels are now 'labels' (NULL if it is gone). */
static void
live_index_pod(struct engine *e, struct ns_pod *np,
               const struct labels *labels)
{
    struct live_key *k;
    HMAP_FOR_EACH (k, node, &e->live_keys) {
        live_list(e, k, np, labels);
    }
}

static struct live_key *
live_key_find(const struct engine *e, const char *key)
{
    struct live_key *k;
    HMAP_FOR_EACH_WITH_HASH (k, node, np_hash_string(key, 0),
                             &e->live_keys) {
        if (!strcmp(k->key, key)) {
            return k;
        }
    }
    return NULL;
}

/* Throws the live index away (a rebuild, or the end). */
static void
live_index_clear(struct engine *e)
{
    struct live_key *k;
    HMAP_FOR_EACH_POP (k, node, &e->live_keys) {
        struct live_value *v;
        HMAP_FOR_EACH_POP (v, node, &k->values) {
            live_value_destroy(v);
        }
        hmap_destroy(&k->values);
        free(k->key);
        free(k);
    }
    e->n_live_keys = 0;
    e->n_live_scanned = 0;
}

/* Adds pod 'name' to 'ns' (it must not be there). */
static struct ns_pod *
ns_add_pod(struct ns_index *ns, const char *name)
{
    struct ns_pod *np = np_xzalloc(sizeof *np);
    np->ns = ns;
    np->name = np_xstrdup(name);
    np->key_hash = pod_key_hash(ns->name, name);
    hmap_insert(&ns->pods, &np->node, np_hash_string(name, 0));
    return np;
}

static void
ns_pod_destroy(struct engine *e, struct ns_pod *np)
{
    ns_pod_clear_profile(e, np);
    if (!e->clearing) {
        live_index_pod(e, np, NULL);
    }
    free(np->live_slots);
    free(np->name);
    free(np);
}

/* Looks pod 'ns'/'name' up in the cluster, and keeps the index of pods in
 * step: a pod the cluster holds gets its record (which then stays until
 * pod_view_finish()). */
static void
pod_view_lookup(struct engine *e, const char *ns_name, const char *name,
                struct pod_view *pv)
{
    const struct np_pod *pod = cluster_find_pod(e->cluster, ns_name, name);
    struct ns_index *ns = pod ? ns_get(e, ns_name) : ns_find(e, ns_name);
    struct ns_pod *np = ns ? ns_find_pod(ns, name) : NULL;

    if (pod) {
        if (!np) {
            np = ns_add_pod(ns, name);
        }
        ns_pod_set_profile(e, np, pod);
    }
    if (np) {
        live_index_pod(e, np, pod ? &pod->labels : NULL);
    }
    pv->np = np;
    pv->ns = ns_name;
    pv->name = name;
    pv->pod = pod;
    pv->n_addrs = 0;
    pv->addrs = pod ? pod_peer_addresses(e->cluster, pod, &pv->n_addrs)
                    : NULL;
    if (np) {
        np->view_epoch = e->epoch;
        np->view_pod = pv->pod;
        np->view_addrs = pv->addrs;
        np->view_n_addrs = pv->n_addrs;
    }
}

/* Forgets the record of a pod the cluster no longer holds, once every
 * member of it is gone. */
static void
pod_view_finish(struct engine *e, struct pod_view *pv)
{
    if (!pv->pod && pv->np) {
        hmap_remove(&pv->np->ns->pods, &pv->np->node);
        ns_pod_destroy(e, pv->np);
        pv->np = NULL;
    }
}

/* The view of a pod the index holds. */
static void
pod_view_of(const struct engine *e, struct ns_pod *np, struct pod_view *pv)
{
    if (np->view_epoch != e->epoch) {
        np->view_epoch = e->epoch;
        np->view_pod = cluster_find_pod(e->cluster, np->ns->name, np->name);
        np->view_n_addrs = 0;
        np->view_addrs = (np->view_pod
                          ? pod_peer_addresses(e->cluster, np->view_pod,
                                               &np->view_n_addrs)
                          : NULL);
    }
    pv->np = np;
    pv->ns = np->ns->name;
    pv->name = np->name;
    pv->pod = np->view_pod;
    pv->addrs = np->view_addrs;
    pv->n_addrs = np->view_n_addrs;
}

static void
ns_index_destroy(struct engine *e, struct ns_index *ns)
{
    struct ns_pod *p;
    HMAP_FOR_EACH_POP (p, node, &ns->pods) {
        ns_pod_destroy(e, p);
    }
    hmap_destroy(&ns->pods);
    free(ns->name);
    free(ns);
}

/* Members: pods and the addresses they contribute. */

static struct member *
member_find(const struct hmap *members, const struct ns_pod *np)
{
    struct member *m;
    HMAP_FOR_EACH_WITH_HASH (m, node, np->key_hash, members) {
        if (m->pod == np) {
            return m;
        }
    }
    return NULL;
}

/* Adds a member for 'np' with a copy of 'addrs' to 'members'. */
static struct member *
member_create(struct hmap *members, struct ns_pod *np,
              const struct cidr *addrs, size_t n_addrs)
{
    struct member *m = np_xzalloc(sizeof *m);
    m->pod = np;
    m->addrs = (n_addrs <= NP_ARRAY_SIZE(m->inline_addrs)
                ? m->inline_addrs : np_xmalloc(n_addrs * sizeof *m->addrs));
    memcpy(m->addrs, addrs, n_addrs * sizeof *m->addrs);
    m->n_addrs = n_addrs;
    hmap_insert(members, &m->node, np->key_hash);
    return m;
}

static void
member_destroy(struct member *m)
{
    if (m->addrs != m->inline_addrs) {
        free(m->addrs);
    }
    free(m);
}

static bool
same_addrs(const struct cidr *a, size_t n_a, const struct cidr *b,
           size_t n_b)
{
    return n_a == n_b && (!n_a || !memcmp(a, b, n_a * sizeof *a));
}

/* Peer sets. */

static bool
optional_selector_equal(const struct selector *a, const struct selector *b)
{
    return (!a || !b) ? a == b : selector_equal(a, b);
}

static uint32_t
peer_set_hash(const char *policy_ns, const struct np_peer *peer)
{
    uint32_t hash = peer->ns_selector ? selector_hash(peer->ns_selector, 1)
                                      : np_hash_string(policy_ns, 2);
    return peer->pod_selector ? selector_hash(peer->pod_selector, hash)
                              : np_hash_add(hash, 3);
}

static struct selector *
selector_clone_ptr(const struct selector *src)
{
    if (!src) {
        return NULL;
    }
    struct selector *dst = np_xmalloc(sizeof *dst);
    selector_clone(dst, src);
    return dst;
}

/* Returns the NS_MATCH_* slot of namespace 'ns' in 'set'. */
static uint8_t *
peer_set_ns_match(const struct engine *e, struct peer_set *set,
                  const struct ns_index *ns)
{
    if (ns->id >= set->n_ns_match) {
        size_t n = NP_MAX(e->n_ns_ids, ns->id + 1);
        set->ns_match = np_xrealloc(set->ns_match, n);
        memset(&set->ns_match[set->n_ns_match], NS_MATCH_UNKNOWN,
               n - set->n_ns_match);
        set->n_ns_match = n;
    }
    return &set->ns_match[ns->id];
}

/* Whether 'set' selects namespace 'ns' (cached). */
static bool
peer_set_selects_ns(const struct engine *e, struct peer_set *set,
                    const struct ns_index *ns)
{
    if (!set->ns_sel) {
        return !strcmp(ns->name, set->policy_ns);
    }
    uint8_t *match = peer_set_ns_match(e, set, ns);
    if (*match == NS_MATCH_UNKNOWN) {
        struct labels scratch;
        labels_init(&scratch);
        *match = (selector_matches(set->ns_sel,
                                   namespace_labels(e->cluster, ns->name,
                                                    &scratch))
                  ? NS_MATCH_YES : NS_MATCH_NO);
        labels_destroy(&scratch);
    }
    return *match == NS_MATCH_YES;
}

/* Adds one address to 'set', updating every variant that uses it. */
static void
peer_set_addr_change(struct engine *e, struct peer_set *set,
                     const struct cidr *cidr, bool add)
{
    struct clause_match m = cidr_to_match(cidr);
    struct peer_set_use *use;

    if (multiset_presence_changes(&set->addrs, &m, add)) {
        /* The set gains or loses a family: its users may match other
         * families now, or start or stop matching anything. */
        LIST_FOR_EACH (use, node, &set->users) {
            variant_uninstall(e, use->variant);
        }
        if (add) {
            multiset_add(&set->addrs, &m);
        } else {
            multiset_remove(&set->addrs, &m);
        }
        peer_set_forget_sorted(set);
        LIST_FOR_EACH (use, node, &set->users) {
            variant_install(e, use->variant);
        }
        return;
    }

    size_t count = add ? multiset_add(&set->addrs, &m)
                       : multiset_remove(&set->addrs, &m);
    peer_set_forget_sorted(set);
    if ((add && count == 1) || (!add && !count)) {
        LIST_FOR_EACH (use, node, &set->users) {
            struct variant *v = use->variant;
            if (v->failed) {
                variant_reinstall(e, v);
            } else if (!variant_has_peer(v, &m, set)) {
                variant_emit_peer(e, v, &m, add);
            }
        }
    }
}

/* Brings the membership of pod 'pv' in 'set' up to date. */
static void
peer_set_refresh_pod(struct engine *e, struct peer_set *set,
                     const struct pod_view *pv)
{
    const struct cidr *new_addrs = pv->addrs;
    size_t n_new = pv->n_addrs;
    bool selected = (n_new && peer_set_selects_ns(e, set, pv->np->ns)
                     && (!set->pod_sel
                         || selector_matches(set->pod_sel,
                                             &pv->pod->labels)));
    if (!selected) {
        new_addrs = NULL;
        n_new = 0;
    }
    struct member *m = pv->np ? member_find(&set->members, pv->np) : NULL;

    if (m ? same_addrs(m->addrs, m->n_addrs, new_addrs, n_new) : !n_new) {
        return;
    }
    if (m) {
        hmap_remove(&set->members, &m->node);
        for (size_t i = 0; i < m->n_addrs; i++) {
            peer_set_addr_change(e, set, &m->addrs[i], false);
        }
        member_destroy(m);
    }
    if (n_new) {
        member_create(&set->members, pv->np, new_addrs, n_new);
        for (size_t i = 0; i < n_new; i++) {
            peer_set_addr_change(e, set, &new_addrs[i], true);
        }
    }
}

static void
peer_set_refresh_namespace(struct engine *e, struct peer_set *set,
                           const struct ns_index *ns)
{
    struct ns_pod *p;
    HMAP_FOR_EACH (p, node, &ns->pods) {
        struct pod_view pv;
        pod_view_of(e, p, &pv);
        peer_set_refresh_pod(e, set, &pv);
    }
}

/* Fills new peer set 'set' through the rebuild's label index, if one of
 * the "In" requirements of its pod selector names fewer pods than 'n_scan'
 * (those of the namespaces it looks in).  Returns false if it did not. */
static bool
peer_set_fill_indexed(struct engine *e, struct peer_set *set, size_t n_scan)
{
    const struct selector *sel = set->pod_sel;
    if (!e->rebuild_pods || !sel || n_scan < LABEL_INDEX_MIN_SCAN) {
        return false;
    }
    size_t n;
    size_t best = label_index_best_req(&e->rebuild_index, sel, n_scan, &n);
    if (best == SIZE_MAX) {
        return false;
    }

    const struct selector_req *req = &sel->reqs[best];
    for (size_t i = 0; i < req->n_values; i++) {
        size_t n_items;
        const uint32_t *items = label_index_lookup(&e->rebuild_index,
                                                   req->key, req->values[i],
                                                   &n_items);
        for (size_t j = 0; j < n_items; j++) {
            struct ns_pod *np = e->rebuild_pods[items[j]];
            if (peer_set_selects_ns(e, set, np->ns)
                && selector_matches_except(sel, &np->view_pod->labels,
                                           best)) {
                struct pod_view pv;
                pod_view_of(e, np, &pv);
                peer_set_refresh_pod(e, set, &pv);
            }
        }
    }
    return true;
}

/* Returns the live index of 'key', indexing every pod for it if needed. */
static struct live_key *
live_key_get(struct engine *e, const char *key)
{
    struct live_key *k = live_key_find(e, key);
    if (k) {
        return k;
    }
    k = np_xzalloc(sizeof *k);
    k->key = np_xstrdup(key);
    k->id = e->n_live_keys++;
    hmap_init(&k->values);
    hmap_insert(&e->live_keys, &k->node, np_hash_string(key, 0));
    e->n_live_scanned = 0;

    struct ns_index *ns;
    HMAP_FOR_EACH (ns, node, &e->namespaces) {
        struct ns_pod *np;
        HMAP_FOR_EACH (np, node, &ns->pods) {
            struct pod_view pv;
            pod_view_of(e, np, &pv);
            live_list(e, k, np, pv.pod ? &pv.pod->labels : NULL);
        }
    }
    return k;
}

/* Fills new peer set 'set', outside a rebuild, through the live label index
 * (see above), if one of the "In" requirements of its pod selector names
 * fewer pods than 'n_scan' (those of the namespaces it looks in).  Returns
 * false if it did not. */
static bool
peer_set_fill_live(struct engine *e, struct peer_set *set, size_t n_scan)
{
    const struct selector *sel = set->pod_sel;
    if (e->rebuild_pods || !sel || n_scan < LABEL_INDEX_MIN_SCAN) {
        return false;
    }

    /* The requirement that names the fewest pods.  A key not indexed yet
     * is indexed once the scans an index would have spared add up to every
     * pod (and then the count starts again, for the next key). */
    bool worth_indexing = (e->n_live_scanned
                           >= hmap_count(&e->cluster->pods));
    size_t best = SIZE_MAX, best_n = n_scan;
    bool missing = false;
    for (size_t i = 0; i < sel->n_reqs; i++) {
        const struct selector_req *req = &sel->reqs[i];
        if (req->op != SELECTOR_IN) {
            continue;
        }
        struct live_key *k = live_key_find(e, req->key);
        if (!k) {
            if (!worth_indexing) {
                missing = true;
                continue;
            }
            k = live_key_get(e, req->key);
        }
        size_t n = 0;
        for (size_t j = 0; j < req->n_values; j++) {
            const char *value = req->values[j];
            const struct live_value *v = live_value_find(
                k, value, np_hash_string(value, 0));
            n += v ? v->n_pods : 0;
        }
        if (n < best_n) {
            best = i;
            best_n = n;
        }
    }
    if (best == SIZE_MAX) {
        if (missing) {
            e->n_live_scanned += n_scan;
        }
        return false;
    }

    /* Refreshing a pod in a peer set never changes the index. */
    const struct selector_req *req = &sel->reqs[best];
    struct live_key *k = live_key_find(e, req->key);
    for (size_t i = 0; i < req->n_values; i++) {
        const char *value = req->values[i];
        const struct live_value *v = live_value_find(
            k, value, np_hash_string(value, 0));
        for (size_t j = 0; v && j < v->n_pods; j++) {
            struct ns_pod *np = v->pods[j];
            if (peer_set_selects_ns(e, set, np->ns)) {
                struct pod_view pv;
                pod_view_of(e, np, &pv);
                peer_set_refresh_pod(e, set, &pv);
            }
        }
    }
    return true;
}

/* Returns the peer set of 'peer' of a policy in 'policy_ns', creating and
 * filling it if needed, with one more reference. */
static struct peer_set *
peer_set_ref(struct engine *e, const char *policy_ns,
             const struct np_peer *peer)
{
    uint32_t hash = peer_set_hash(policy_ns, peer);
    struct peer_set *set;
    HMAP_FOR_EACH_WITH_HASH (set, node, hash, &e->peer_sets) {
        if (optional_selector_equal(set->ns_sel, peer->ns_selector)
            && optional_selector_equal(set->pod_sel, peer->pod_selector)
            && (set->ns_sel || !strcmp(set->policy_ns, policy_ns))) {
            set->n_refs++;
            return set;
        }
    }

    set = np_xzalloc(sizeof *set);
    set->policy_ns = np_xstrdup(policy_ns);
    set->ns_sel = selector_clone_ptr(peer->ns_selector);
    set->pod_sel = selector_clone_ptr(peer->pod_selector);
    set->n_refs = 1;
    hmap_init(&set->members);
    multiset_init(&set->addrs);
    ovs_list_init(&set->users);
    hmap_insert(&e->peer_sets, &set->node, hash);

    /* The namespaces to look in, and how many pods that is. */
    const struct ns_index *ns;
    size_t n_scan = 0;
    if (set->ns_sel) {
        HMAP_FOR_EACH (ns, node, &e->namespaces) {
            if (peer_set_selects_ns(e, set, ns)) {
                n_scan += hmap_count(&ns->pods);
            }
        }
    } else if ((ns = ns_find(e, policy_ns)) != NULL) {
        n_scan = hmap_count(&ns->pods);
    }
    if (!n_scan || peer_set_fill_indexed(e, set, n_scan)
        || peer_set_fill_live(e, set, n_scan)) {
        return set;
    }
    if (set->ns_sel) {
        HMAP_FOR_EACH (ns, node, &e->namespaces) {
            if (peer_set_selects_ns(e, set, ns)) {
                peer_set_refresh_namespace(e, set, ns);
            }
        }
    } else {
        peer_set_refresh_namespace(e, set, ns);
    }
    return set;
}

static void
peer_set_unref(struct engine *e, struct peer_set *set)
{
    if (--set->n_refs) {
        return;
    }
    ovs_assert(ovs_list_is_empty(&set->users));
    peer_set_forget_sorted(set);
    hmap_remove(&e->peer_sets, &set->node);
    struct member *m;
    HMAP_FOR_EACH_POP (m, node, &set->members) {
        member_destroy(m);
    }
    hmap_destroy(&set->members);
    multiset_destroy(&set->addrs);
    free(set->ns_match);
    free(set->policy_ns);
    if (set->ns_sel) {
        selector_destroy(set->ns_sel);
        free(set->ns_sel);
    }
    if (set->pod_sel) {
        selector_destroy(set->pod_sel);
        free(set->pod_sel);
    }
    free(set);
}

/* Rules. */

/* The target matches of local pod 'lp' in a rule of direction 'dir'. */
static void
target_matches(const struct local_pod_state *lp, enum np_direction dir,
               struct clause_array *out)
{
    if (dir == NP_EGRESS) {
        clause_array_add(out, CLAUSE_IN_PORT)->value = lp->ofport;
    } else {
        for (size_t i = 0; i < lp->n_ips; i++) {
            clause_array_add(out, CLAUSE_DST)->cidr = lp->ips[i];
        }
    }
}

static void
variant_change_targets(struct engine *e, struct variant *v,
                       const struct local_pod_state *lp, bool add)
{
    struct clause_array matches = { NULL, 0, 0 };
    target_matches(lp, v->rule->dir, &matches);
    for (size_t i = 0; i < matches.n; i++) {
        variant_change(e, v, &v->targets, &matches.matches[i], add);
    }
    clause_array_destroy(&matches);
}

static int
compare_variants_by_key(const void *a_, const void *b_)
{
    const struct variant *const *a = a_, *const *b = b_;
    return port_list_compare(&(*a)->ports, &(*b)->ports);
}

/* Installs the named variants of 'r', in key order as compile_full()
 * does. */
static void
rule_install_named(struct engine *e, struct rule *r)
{
    size_t n = hmap_count(&r->named), i = 0;
    struct variant **variants = np_xmalloc((n + 1) * sizeof *variants);
    struct variant *v;
    HMAP_FOR_EACH (v, node, &r->named) {
        variants[i++] = v;
    }
    np_qsort(variants, n, sizeof *variants, compare_variants_by_key);
    for (i = 0; i < n; i++) {
        variant_install(e, variants[i]);
    }
    free(variants);
}

static void
rule_destroy_named(struct engine *e, struct rule *r)
{
    struct variant *v;
    HMAP_FOR_EACH_POP (v, node, &r->named) {
        variant_destroy(e, v);
    }
}

static struct variant *
rule_find_named(const struct rule *r, const char *key)
{
    struct variant *v;
    HMAP_FOR_EACH_WITH_HASH (v, node, np_hash_string(key, 0), &r->named) {
        if (!strcmp(v->key, key)) {
            return v;
        }
    }
    return NULL;
}

/* Ingress named ports resolve on the targets: one variant per resolution,
 * each holding the targets that resolve that way.  Rebuilt whenever the
 * targets change (they are local pods: few). */
static void
rule_regroup_ingress_named(struct engine *e, struct rule *r, bool install)
{
    rule_destroy_named(e, r);

    struct target *t;
    HMAP_FOR_EACH (t, node, &r->policy->targets) {
        const struct local_pod_state *lp = t->lp;
        const struct np_pod *pod = cluster_find_pod(
            e->cluster, lp->port->pod_namespace, lp->port->pod_name);
        struct port_list resolved = { NULL, 0, 0 };
        if (pod) {
            resolve_named_ports(r->rule, pod, &resolved);
        }
        if (!resolved.n) {
            port_list_destroy(&resolved);
            continue;
        }
        struct ds key = DS_EMPTY_INITIALIZER;
        port_list_format(&resolved, &key);
        struct variant *v = rule_find_named(r, ds_cstr(&key));
        if (!v) {
            v = variant_create(r, ds_cstr(&key));
            v->ports = resolved;
            variant_use_sets(v);
            hmap_insert(&r->named, &v->node, np_hash_string(v->key, 0));
        } else {
            port_list_destroy(&resolved);
        }
        ds_destroy(&key);

        struct clause_array matches = { NULL, 0, 0 };
        target_matches(lp, r->dir, &matches);
        for (size_t i = 0; i < matches.n; i++) {
            multiset_add(&v->targets, &matches.matches[i]);
        }
        clause_array_destroy(&matches);
    }
    if (install) {
        rule_install_named(e, r);
    }
}

static bool
addr_in_blocks(const struct rule *r, const struct cidr *addr)
{
    for (size_t i = 0; i < r->n_blocks; i++) {
        if (cidr_contains(&r->blocks[i], addr)) {
            return true;
        }
    }
    return false;
}

static bool
pod_in_rule_sets(const struct rule *r, const struct ns_pod *np)
{
    for (size_t i = 0; i < r->n_sets; i++) {
        if (member_find(&r->sets[i]->members, np)) {
            return true;
        }
    }
    return false;
}

/* Egress named ports resolve on the destination: brings pod 'pv' up to
 * date in the named variants of 'r' (see compiler.c), given that the pod
 * resolves the rule's named ports to 'resolved' (empty if to nothing),
 * whose port_list_format() is 'key'. */
static void
rule_named_update(struct engine *e, struct rule *r,
                  const struct pod_view *pv, bool install,
                  const struct port_list *resolved, const char *key)
{
    const struct cidr *pod_addrs = pv->addrs;
    size_t n_pod_addrs = pv->n_addrs;
    struct cidr *addrs = NULL;
    size_t n_addrs = 0;
    struct member *m = (pv->np ? member_find(&r->named_members, pv->np)
                        : NULL);

    if (!m && (!resolved->n || !n_pod_addrs)) {
        return;                 /* The usual case: nothing before or after. */
    }
    if (resolved->n && n_pod_addrs) {
        bool whole = r->any_peer || pod_in_rule_sets(r, pv->np);
        addrs = np_xcalloc(n_pod_addrs + 1, sizeof *addrs);
        for (size_t i = 0; i < n_pod_addrs; i++) {
            if (whole || addr_in_blocks(r, &pod_addrs[i])) {
                addrs[n_addrs++] = pod_addrs[i];
            }
        }
    }

    if (m ? (n_addrs && !strcmp(m->variant->key, key)
             && same_addrs(m->addrs, m->n_addrs, addrs, n_addrs))
          : !n_addrs) {
        goto out;
    }
    if (m) {
        struct variant *old = m->variant;
        for (size_t i = 0; i < m->n_addrs; i++) {
            struct clause_match cm = cidr_to_match(&m->addrs[i]);
            variant_change(e, old, &old->own_peers, &cm, false);
        }
        if (hmap_is_empty(&old->own_peers.entries)) {
            hmap_remove(&r->named, &old->node);
            variant_destroy(e, old);
        }
        hmap_remove(&r->named_members, &m->node);
        member_destroy(m);
    }
    if (n_addrs) {
        struct variant *v = rule_find_named(r, key);
        bool created = !v;
        if (!v) {
            v = variant_create(r, key);
            v->own = true;
            v->any_peer = false;
            v->ports.n = v->ports.allocated = resolved->n;
            v->ports.entries = np_xmemdup(resolved->entries,
                                          resolved->n
                                          * sizeof *resolved->entries);
            struct target *t;
            HMAP_FOR_EACH (t, node, &r->policy->targets) {
                struct clause_array matches = { NULL, 0, 0 };
                target_matches(t->lp, r->dir, &matches);
                for (size_t i = 0; i < matches.n; i++) {
                    multiset_add(&v->targets, &matches.matches[i]);
                }
                clause_array_destroy(&matches);
            }
            hmap_insert(&r->named, &v->node, np_hash_string(v->key, 0));
        }
        for (size_t i = 0; i < n_addrs; i++) {
            /* While the rule is being built ('!install'), its variants are
             * installed afterwards, all at once. */
            struct clause_match cm = cidr_to_match(&addrs[i]);
            if (created || !install) {
                multiset_add(&v->own_peers, &cm);
            } else {
                variant_change(e, v, &v->own_peers, &cm, true);
            }
        }
        if (created && install) {
            variant_install(e, v);
        }
        m = member_create(&r->named_members, pv->np, addrs, n_addrs);
        m->variant = v;
    }
out:
    free(addrs);
}

/* Brings pod 'pv' up to date in the named variants of egress rule 'r'. */
static void
rule_refresh_named_pod(struct engine *e, struct rule *r,
                       const struct pod_view *pv, bool install)
{
    struct port_list resolved = { NULL, 0, 0 };
    struct ds key = DS_EMPTY_INITIALIZER;

    if (pv->n_addrs) {
        resolve_named_ports(r->rule, pv->pod, &resolved);
        port_list_format(&resolved, &key);
    }
    rule_named_update(e, r, pv, install, &resolved, ds_cstr(&key));
    port_list_destroy(&resolved);
    ds_destroy(&key);
}

static void
rule_collect_blocks(struct rule *r)
{
    size_t allocated = 0;
    for (size_t i = 0; i < r->rule->n_peers; i++) {
        const struct np_peer *peer = &r->rule->peers[i];
        if (!peer->is_ip_block) {
            continue;
        }
        struct cidr *prefixes;
        size_t n;
        cidr_difference(&peer->cidr, peer->except, peer->n_except,
                        &prefixes, &n);
        r->blocks = np_x2nrealloc(r->blocks, &allocated, r->n_blocks + n,
                                  sizeof *r->blocks);
        if (n) {
            memcpy(&r->blocks[r->n_blocks], prefixes, n * sizeof *prefixes);
            r->n_blocks += n;
        }
        free(prefixes);
    }
    np_qsort(r->blocks, r->n_blocks, sizeof *r->blocks, compare_cidrs);
    size_t n = 0;
    for (size_t i = 0; i < r->n_blocks; i++) {
        if (!n || cidr_compare(&r->blocks[i], &r->blocks[n - 1])) {
            r->blocks[n++] = r->blocks[i];
        }
    }
    r->n_blocks = n;
}

/* Egress named ports: every pod that may resolve them gets its record. */
static void
rule_collect_named_pods(struct engine *e, struct rule *r)
{
    if (r->any_peer || r->n_blocks) {
        /* Only the pods whose profile resolves something. */
        const struct named_profile *profile;
        HMAP_FOR_EACH (profile, node, &e->profiles) {
            struct np_pod model = {
                .ports = profile->ports,
                .n_ports = profile->n_ports,
            };
            struct port_list resolved = { NULL, 0, 0 };
            resolve_named_ports(r->rule, &model, &resolved);
            if (resolved.n) {
                struct ds key = DS_EMPTY_INITIALIZER;
                port_list_format(&resolved, &key);
                struct ns_pod *np;
                LIST_FOR_EACH (np, profile_node, &profile->pods) {
                    struct pod_view pv;
                    pod_view_of(e, np, &pv);
                    /* A pod whose ports changed without notice yet may
                     * be in its old profile: its notice will bring its
                     * record up to date. */
                    if (pv.pod) {
                        rule_named_update(e, r, &pv, false, &resolved,
                                          ds_cstr(&key));
                    }
                }
                ds_destroy(&key);
            }
            port_list_destroy(&resolved);
        }
        return;
    }
    for (size_t i = 0; i < r->n_sets; i++) {
        const struct member *m;
        HMAP_FOR_EACH (m, node, &r->sets[i]->members) {
            if (!member_find(&r->named_members, m->pod)) {
                struct pod_view pv;
                pod_view_of(e, m->pod, &pv);
                rule_refresh_named_pod(e, r, &pv, false);
            }
        }
    }
}

static void
rule_init(struct engine *e, struct rule *r, struct policy *p,
          enum np_direction dir, size_t index)
{
    memset(r, 0, sizeof *r);
    r->policy = p;
    r->dir = dir;
    r->index = index;
    r->rule = &p->copy->rules[dir][index];
    r->any_peer = !r->rule->n_peers;
    r->has_named = rule_has_named_ports(r->rule);
    hmap_init(&r->named);
    hmap_init(&r->named_members);
    ovs_list_init(&r->egress_named_node);

    r->sets = np_xcalloc(r->rule->n_peers + 1, sizeof *r->sets);
    for (size_t i = 0; i < r->rule->n_peers; i++) {
        const struct np_peer *peer = &r->rule->peers[i];
        if (peer->is_ip_block) {
            continue;
        }
        struct peer_set *set = peer_set_ref(e, p->copy->namespace, peer);
        bool dup = false;
        for (size_t j = 0; j < r->n_sets; j++) {
            dup |= r->sets[j] == set;
        }
        if (dup) {
            peer_set_unref(e, set);
        } else {
            r->sets[r->n_sets++] = set;
        }
    }
    rule_collect_blocks(r);

    struct port_list numeric = { NULL, 0, 0 };
    rule_numeric_ports(r->rule, &numeric);
    if (!r->rule->n_ports || numeric.n) {
        r->main = variant_create(r, "");
        r->main->ports = numeric;
        r->main->any_port = !r->rule->n_ports;
        variant_use_sets(r->main);
        struct target *t;
        HMAP_FOR_EACH (t, node, &p->targets) {
            struct clause_array matches = { NULL, 0, 0 };
            target_matches(t->lp, dir, &matches);
            for (size_t i = 0; i < matches.n; i++) {
                multiset_add(&r->main->targets, &matches.matches[i]);
            }
            clause_array_destroy(&matches);
        }
    } else {
        port_list_destroy(&numeric);
    }

    if (r->has_named && dir == NP_INGRESS) {
        rule_regroup_ingress_named(e, r, false);
    } else if (r->has_named) {
        rule_collect_named_pods(e, r);
        ovs_list_push_back(&e->egress_named, &r->egress_named_node);
    }

    if (r->main) {
        variant_install(e, r->main);
    }
    rule_install_named(e, r);
}

static void
rule_destroy(struct engine *e, struct rule *r)
{
    variant_destroy(e, r->main);
    rule_destroy_named(e, r);
    hmap_destroy(&r->named);
    struct member *m;
    HMAP_FOR_EACH_POP (m, node, &r->named_members) {
        member_destroy(m);
    }
    hmap_destroy(&r->named_members);
    if (!ovs_list_is_empty(&r->egress_named_node)) {
        ovs_list_remove(&r->egress_named_node);
    }
    for (size_t i = 0; i < r->n_sets; i++) {
        peer_set_unref(e, r->sets[i]);
    }
    free(r->sets);
    free(r->blocks);
}

static void
rule_change_target(struct engine *e, struct rule *r,
                   const struct local_pod_state *lp, bool add)
{
    if (r->main) {
        variant_change_targets(e, r->main, lp, add);
    }
    if (r->has_named && r->dir == NP_INGRESS) {
        rule_regroup_ingress_named(e, r, true);
    } else if (r->has_named) {
        struct variant *v;
        HMAP_FOR_EACH (v, node, &r->named) {
            variant_change_targets(e, v, lp, add);
        }
    }
}

/* Policies. */

static struct policy *
policy_find(const struct engine *e, const char *ns, const char *name)
{
    struct policy *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, cluster_hash_name(ns, name),
                             &e->policies) {
        if (!strcmp(p->copy->name, name)
            && !strcmp(p->copy->namespace, ns)) {
            return p;
        }
    }
    return NULL;
}

static void lp_update_drops(struct engine *, struct local_pod_state *,
                            bool add);

static void
policy_activate(struct engine *e, struct policy *p)
{
    p->active = true;
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        if (!p->copy->isolates[dir]) {
            continue;
        }
        p->n_rules[dir] = p->copy->n_rules[dir];
        p->rules[dir] = np_xcalloc(p->n_rules[dir] + 1,
                                   sizeof *p->rules[dir]);
        for (size_t i = 0; i < p->n_rules[dir]; i++) {
            rule_init(e, &p->rules[dir][i], p, dir, i);
        }
    }
}

static void
policy_deactivate(struct engine *e, struct policy *p)
{
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        for (size_t i = 0; i < p->n_rules[dir]; i++) {
            rule_destroy(e, &p->rules[dir][i]);
        }
        free(p->rules[dir]);
        p->rules[dir] = NULL;
        p->n_rules[dir] = 0;
    }
    p->active = false;
}

static struct policy_ref *
lp_find_policy(const struct local_pod_state *lp, const struct policy *p)
{
    struct policy_ref *ref;
    HMAP_FOR_EACH_WITH_HASH (ref, node, np_hash_bytes(&p, sizeof p, 0),
                             &lp->policies) {
        if (ref->policy == p) {
            return ref;
        }
    }
    return NULL;
}

/* Makes 'lp' a target of 'p' (or no longer, with !add). */
static void
policy_change_target(struct engine *e, struct policy *p,
                     struct local_pod_state *lp, bool add)
{
    lp_update_drops(e, lp, false);
    if (add) {
        struct target *t = np_xzalloc(sizeof *t);
        t->lp = lp;
        hmap_insert(&p->targets, &t->node, np_hash_add(0, lp->ofport));
        struct policy_ref *ref = np_xzalloc(sizeof *ref);
        ref->policy = p;
        hmap_insert(&lp->policies, &ref->node,
                    np_hash_bytes(&p, sizeof p, 0));
    } else {
        struct target *t;
        HMAP_FOR_EACH_WITH_HASH (t, node, np_hash_add(0, lp->ofport),
                                 &p->targets) {
            if (t->lp == lp) {
                hmap_remove(&p->targets, &t->node);
                free(t);
                break;
            }
        }
        struct policy_ref *ref = lp_find_policy(lp, p);
        hmap_remove(&lp->policies, &ref->node);
        free(ref);
    }
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        if (p->copy->isolates[dir]) {
            lp->n_isolating[dir] += add ? 1 : -1;
        }
    }

    if (add && !p->active) {
        policy_activate(e, p);
    } else if (!add && hmap_is_empty(&p->targets)) {
        policy_deactivate(e, p);
    } else {
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            for (size_t i = 0; i < p->n_rules[dir]; i++) {
                rule_change_target(e, &p->rules[dir][i], lp, add);
            }
        }
    }
    lp_update_drops(e, lp, true);
}

static bool
policy_selects_local(const struct engine *e, const struct policy *p,
                     const struct local_pod_state *lp)
{
    if (!lp->is_pod || !lp->known
        || strcmp(lp->port->pod_namespace, p->copy->namespace)) {
        return false;
    }
    const struct np_pod *pod = cluster_find_pod(
        e->cluster, lp->port->pod_namespace, lp->port->pod_name);
    return pod && policy_selects_pod(p->copy, pod);
}

static int
compare_lps(const void *a_, const void *b_)
{
    const struct local_pod_state *const *a = a_, *const *b = b_;
    return (*a)->ofport < (*b)->ofport ? -1 : (*a)->ofport > (*b)->ofport;
}

static void
policy_add(struct engine *e, const struct np_policy *src)
{
    struct policy *p = np_xzalloc(sizeof *p);
    p->copy = np_policy_clone(src);
    hmap_init(&p->targets);
    hmap_insert(&e->policies, &p->node,
                cluster_hash_name(src->namespace, src->name));
    ovs_list_push_back(&ns_get(e, src->namespace)->policies, &p->ns_node);

    /* Targets first (in port order, as compile_full()), then the rules. */
    size_t n = hmap_count(&e->ports), n_targets = 0;
    struct local_pod_state **lps = np_xmalloc((n + 1) * sizeof *lps);
    struct local_pod_state *lp;
    HMAP_FOR_EACH (lp, node, &e->ports) {
        if (policy_selects_local(e, p, lp)) {
            lps[n_targets++] = lp;
        }
    }
    np_qsort(lps, n_targets, sizeof *lps, compare_lps);
    for (size_t i = 0; i < n_targets; i++) {
        lp_update_drops(e, lps[i], false);
        struct target *t = np_xzalloc(sizeof *t);
        t->lp = lps[i];
        hmap_insert(&p->targets, &t->node, np_hash_add(0, lps[i]->ofport));
        struct policy_ref *ref = np_xzalloc(sizeof *ref);
        ref->policy = p;
        hmap_insert(&lps[i]->policies, &ref->node,
                    np_hash_bytes(&p, sizeof p, 0));
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            lps[i]->n_isolating[dir] += p->copy->isolates[dir];
        }
        lp_update_drops(e, lps[i], true);
    }
    if (n_targets) {
        policy_activate(e, p);
    }
    free(lps);
}

static void
policy_remove(struct engine *e, struct policy *p)
{
    if (p->active) {
        policy_deactivate(e, p);
    }
    struct target *t;
    HMAP_FOR_EACH_POP (t, node, &p->targets) {
        struct local_pod_state *lp = t->lp;
        lp_update_drops(e, lp, false);
        struct policy_ref *ref = lp_find_policy(lp, p);
        hmap_remove(&lp->policies, &ref->node);
        free(ref);
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            lp->n_isolating[dir] -= p->copy->isolates[dir];
        }
        lp_update_drops(e, lp, true);
        free(t);
    }
    hmap_destroy(&p->targets);
    hmap_remove(&e->policies, &p->node);
    ovs_list_remove(&p->ns_node);
    np_policy_destroy(p->copy);
    free(p);
}

/* Local pods and other ports. */

static bool
lp_isolated(const struct local_pod_state *lp, enum np_direction dir)
{
    return lp->is_pod && (!lp->known || lp->n_isolating[dir]);
}

/* Adds (or removes) the isolation drops 'lp' needs in its current state.
 * Called with !add before a change of that state, with add after. */
static void
lp_update_drops(struct engine *e, struct local_pod_state *lp, bool add)
{
    struct clause_match m;

    if (e->clearing) {
        return;
    }
    if (lp_isolated(lp, NP_EGRESS)) {
        clause_match_init(&m, CLAUSE_IN_PORT);
        m.value = lp->ofport;
        uint8_t table = np_table(&e->config, NP_TABLE_EGRESS);
        if (add) {
            contrib_add_drop(e, table, &m, lp->ofport);
        } else {
            contrib_remove_drop(e, table, &m, lp->ofport);
        }
    }
    if (lp_isolated(lp, NP_INGRESS)) {
        uint8_t table = np_table(&e->config, NP_TABLE_INGRESS);
        struct clause_array matches = { NULL, 0, 0 };
        for (size_t i = 0; i < lp->n_ips; i++) {
            clause_array_add(&matches, CLAUSE_DST)->cidr = lp->ips[i];
        }
        if (!lp->n_ips && lp->port->has_mac) {
            memcpy(clause_array_add(&matches, CLAUSE_DL_DST)->cidr.addr,
                   lp->port->mac, 6);
        }
        for (size_t i = 0; i < matches.n; i++) {
            if (add) {
                contrib_add_drop(e, table, &matches.matches[i], lp->ofport);
            } else {
                contrib_remove_drop(e, table, &matches.matches[i],
                                    lp->ofport);
            }
        }
        clause_array_destroy(&matches);
    }
}

static struct local_pod_state *
lp_find(const struct engine *e, uint32_t ofport)
{
    struct local_pod_state *lp;
    HMAP_FOR_EACH_WITH_HASH (lp, node, np_hash_add(0, ofport), &e->ports) {
        if (lp->ofport == ofport) {
            return lp;
        }
    }
    return NULL;
}

static unsigned int
compute_node_families(const struct engine *e)
{
    unsigned int families = 0;
    const struct local_pod_state *lp;
    HMAP_FOR_EACH (lp, node, &e->ports) {
        for (size_t i = 0; i < lp->n_ips; i++) {
            families |= FAMILY_BIT(lp->ips[i].family);
        }
    }
    return families;
}

/* Computes the classify flows of 'lp' into a fresh set. */
static void
lp_classify_flows(const struct engine *e, const struct local_pod_state *lp,
                  struct flow_set *flows)
{
    if (lp->is_pod) {
        /* The classify flows need the port and its addresses only. */
        struct local_pod lpod = {
            .port = lp->port,
            .ips = lp->ips,
            .n_ips = lp->n_ips,
        };
        pipeline_add_pod_port_flows(&e->config, &lpod, flows);
    } else {
        pipeline_add_other_port_flows(&e->config, lp->port, flows);
    }
}

/* Detaches a port from everything (targets, drops, flows) and forgets
 * it. */
static void
lp_remove(struct engine *e, struct local_pod_state *lp)
{
    struct policy_ref *ref;
    HMAP_FOR_EACH_SAFE (ref, node, &lp->policies) {
        policy_change_target(e, ref->policy, lp, false);
    }
    lp_update_drops(e, lp, false);
    if (!e->clearing) {
        struct flow_set empty;
        flow_set_init(&empty);
        output_replace_set(e, &lp->classify, &empty);
        flow_set_destroy(&empty);
    }
    flow_set_destroy(&lp->classify);
    hmap_destroy(&lp->policies);
    hmap_remove(&e->ports, &lp->node);
    local_port_destroy(lp->port);
    free(lp->ips);
    for (size_t i = 0; i < lp->n_pod_ports; i++) {
        free(lp->pod_ports[i].name);
    }
    free(lp->pod_ports);
    free(lp);
}

/* Adds port 'port' of the cluster: its flows, its drops, and, if it is a
 * pod's, its policies ('with_policies' false while rebuilding, which adds
 * policies after all ports). */
static void
lp_add(struct engine *e, const struct local_port *port, bool with_policies)
{
    struct local_pod_state *lp = np_xzalloc(sizeof *lp);
    lp->ofport = port->ofport;
    lp->port = local_port_clone(port);
    lp->is_pod = local_port_is_pod(port);
    hmap_init(&lp->policies);
    flow_set_init(&lp->classify);
    hmap_insert(&e->ports, &lp->node, np_hash_add(0, lp->ofport));

    if (lp->is_pod) {
        const struct np_pod *pod = cluster_find_pod(
            e->cluster, port->pod_namespace, port->pod_name);
        lp->known = pod != NULL;
        const struct cidr *ips = port->n_ips || !pod ? port->ips : pod->ips;
        lp->n_ips = port->n_ips || !pod ? port->n_ips : pod->n_ips;
        lp->ips = np_xmemdup(ips, lp->n_ips * sizeof *ips);
        if (pod) {
            lp->n_pod_ports = pod->n_ports;
            lp->pod_ports = np_xmemdup(pod->ports,
                                       pod->n_ports * sizeof *pod->ports);
            for (size_t i = 0; i < pod->n_ports; i++) {
                lp->pod_ports[i].name = (pod->ports[i].name
                                         ? np_xstrdup(pod->ports[i].name)
                                         : NULL);
            }
        }
    }

    struct flow_set flows;
    flow_set_init(&flows);
    lp_classify_flows(e, lp, &flows);
    output_replace_set(e, &lp->classify, &flows);
    flow_set_destroy(&flows);
    lp_update_drops(e, lp, true);

    struct ns_index *ns = lp->is_pod ? ns_find(e, port->pod_namespace)
                                     : NULL;
    if (with_policies && ns && lp->known) {
        struct policy *p;
        LIST_FOR_EACH (p, ns_node, &ns->policies) {
            if (policy_selects_local(e, p, lp)) {
                policy_change_target(e, p, lp, true);
            }
        }
    }
}

/* Brings port 'ofport' up to date with the cluster. */
static void refresh_pod_as_peer(struct engine *, const char *ns,
                                const char *name);

/* Brings port 'ofport' up to date with the cluster.  With 'peers', also
 * the pods it names (before and after) as peers: their addresses may come
 * from the port. */
static void
port_refresh(struct engine *e, uint32_t ofport, bool peers)
{
    struct local_pod_state *lp = lp_find(e, ofport);
    char *old_ns = NULL, *old_name = NULL;
    if (lp) {
        if (lp->is_pod) {
            old_ns = np_xstrdup(lp->port->pod_namespace);
            old_name = np_xstrdup(lp->port->pod_name);
        }
        lp_remove(e, lp);
    }
    const struct local_port *port = cluster_find_port(e->cluster, ofport);
    if (port) {
        lp_add(e, port, true);
    }
    if (peers && old_ns) {
        refresh_pod_as_peer(e, old_ns, old_name);
    }
    if (peers && port && local_port_is_pod(port)
        && (!old_ns || strcmp(old_ns, port->pod_namespace)
            || strcmp(old_name, port->pod_name))) {
        refresh_pod_as_peer(e, port->pod_namespace, port->pod_name);
    }
    free(old_ns);
    free(old_name);
    if (compute_node_families(e) != e->node_families) {
        /* Every variant may match other families now. */
        e->needs_rebuild = true;
    }
}

/* Brings the targets of local pod 'lp' up to date after a change of its
 * Pod object that left its port and its addresses alone (a relabel, say):
 * only the policies whose selection of it changes are touched, where
 * port_refresh() would take every policy off the pod and put it back.
 * Returns false, doing nothing, if more than that may have changed. */
static bool
lp_retarget(struct engine *e, struct local_pod_state *lp)
{
    const struct local_port *port = cluster_find_port(e->cluster, lp->ofport);
    if (!port || !lp->is_pod || !lp->known
        || !local_port_equal(port, lp->port)) {
        return false;
    }
    const struct np_pod *pod = cluster_find_pod(e->cluster,
                                                port->pod_namespace,
                                                port->pod_name);
    if (!pod) {
        return false;
    }
    const struct cidr *ips = port->n_ips ? port->ips : pod->ips;
    size_t n_ips = port->n_ips ? port->n_ips : pod->n_ips;
    if (!same_addrs(ips, n_ips, lp->ips, lp->n_ips)
        || pod->n_ports != lp->n_pod_ports) {
        return false;
    }
    for (size_t i = 0; i < pod->n_ports; i++) {
        const struct np_container_port *a = &pod->ports[i];
        const struct np_container_port *b = &lp->pod_ports[i];
        if (a->port != b->port || a->protocol != b->protocol
            || (a->name && b->name ? strcmp(a->name, b->name)
                                   : a->name != b->name)) {
            return false;
        }
    }

    struct ns_index *ns = ns_find(e, port->pod_namespace);
    struct policy *p;
    LIST_FOR_EACH (p, ns_node, ns ? &ns->policies : &e->no_policies) {
        bool selected = policy_selects_local(e, p, lp);
        if (selected != (lp_find_policy(lp, p) != NULL)) {
            policy_change_target(e, p, lp, selected);
        }
    }
    return true;
}

/* Events. */

static void
refresh_pod_as_peer(struct engine *e, const char *ns, const char *name)
{
    struct pod_view pv;
    pod_view_lookup(e, ns, name, &pv);

    struct peer_set *set;
    HMAP_FOR_EACH (set, node, &e->peer_sets) {
        if (set->ns_sel || !strcmp(set->policy_ns, ns)) {
            peer_set_refresh_pod(e, set, &pv);
        }
    }
    struct rule *r;
    LIST_FOR_EACH (r, egress_named_node, &e->egress_named) {
        rule_refresh_named_pod(e, r, &pv, true);
    }
    pod_view_finish(e, &pv);
}

static void
handle_pod(struct engine *e, const char *ns, const char *name)
{
    refresh_pod_as_peer(e, ns, name);

    /* A local pod: its flows and its policies follow its labels and
     * addresses. */
    uint32_t ofports[64];
    size_t n = 0;
    struct local_pod_state *lp;
    HMAP_FOR_EACH (lp, node, &e->ports) {
        if (lp->is_pod && n < NP_ARRAY_SIZE(ofports)
            && !strcmp(lp->port->pod_name, name)
            && !strcmp(lp->port->pod_namespace, ns)) {
            ofports[n++] = lp->ofport;
        }
    }
    for (size_t i = 0; i < n; i++) {
        lp = lp_find(e, ofports[i]);
        if (!lp_retarget(e, lp)) {
            port_refresh(e, ofports[i], false);
        }
    }
}

static void handle_policy(struct engine *, const char *ns, const char *name);

static void
handle_namespace(struct engine *e, const char *name)
{
    struct ns_index *ns = ns_find(e, name);
    if (!ns) {
        return;                 /* No pod or policy there. */
    }
    struct labels scratch;
    labels_init(&scratch);
    const struct labels *labels = namespace_labels(e->cluster, name,
                                                   &scratch);
    struct peer_set *set;
    HMAP_FOR_EACH (set, node, &e->peer_sets) {
        if (!set->ns_sel) {
            continue;
        }
        bool now = selector_matches(set->ns_sel, labels);
        uint8_t *match = peer_set_ns_match(e, set, ns);
        bool changed = (*match == NS_MATCH_UNKNOWN
                        || (*match == NS_MATCH_YES) != now);
        *match = now ? NS_MATCH_YES : NS_MATCH_NO;
        if (changed) {
            set->ns_changed = true;
            peer_set_refresh_namespace(e, set, ns);
        }
    }
    labels_destroy(&scratch);

    /* Named egress records depend on peer set membership, which changed
     * only in the sets that select the namespace now and did not before,
     * or the reverse. */
    struct rule *r;
    LIST_FOR_EACH (r, egress_named_node, &e->egress_named) {
        bool affected = false;
        for (size_t i = 0; i < r->n_sets; i++) {
            affected |= r->sets[i]->ns_changed;
        }
        if (!affected) {
            continue;
        }
        struct ns_pod *p;
        HMAP_FOR_EACH (p, node, &ns->pods) {
            struct pod_view pv;
            pod_view_of(e, p, &pv);
            rule_refresh_named_pod(e, r, &pv, true);
        }
    }
    HMAP_FOR_EACH (set, node, &e->peer_sets) {
        set->ns_changed = false;
    }

    /* The audit annotation decides the actions of the namespace's rule
     * flows: rebuild its policies when it changes (rare). */
    const struct np_namespace *obj = cluster_find_namespace(e->cluster, name);
    bool log_allowed = obj && obj->log_allowed;
    if (log_allowed != ns->log_allowed) {
        ns->log_allowed = log_allowed;
        if (e->config.audit) {
            size_t n = ovs_list_size(&ns->policies), i = 0;
            char **names = np_xmalloc((n + 1) * sizeof *names);
            struct policy *p;
            LIST_FOR_EACH (p, ns_node, &ns->policies) {
                names[i++] = np_xstrdup(p->copy->name);
            }
            for (i = 0; i < n; i++) {
                handle_policy(e, name, names[i]);
                free(names[i]);
            }
            free(names);
        }
    }
}

static void
handle_policy(struct engine *e, const char *ns, const char *name)
{
    struct policy *p = policy_find(e, ns, name);
    if (p) {
        policy_remove(e, p);
    }
    const struct np_policy *src = cluster_find_policy(e->cluster, ns, name);
    if (src) {
        policy_add(e, src);
    }
}

/* Rebuilding. */

static void
engine_clear(struct engine *e)
{
    /* Torn down without releasing conjunction IDs: the rebuild that
     * follows allocates them again (conj_ids_begin()/sweep()). */
    e->clearing = true;
    struct policy *p;
    HMAP_FOR_EACH_SAFE (p, node, &e->policies) {
        policy_remove(e, p);
    }
    struct local_pod_state *lp;
    HMAP_FOR_EACH_SAFE (lp, node, &e->ports) {
        lp_remove(e, lp);
    }
    ovs_assert(hmap_is_empty(&e->peer_sets));
    struct ns_index *ns;
    HMAP_FOR_EACH_POP (ns, node, &e->namespaces) {
        ns_index_destroy(e, ns);
    }
    e->n_ns_ids = 0;
    ovs_assert(hmap_is_empty(&e->profiles));
    struct contrib *c;
    HMAP_FOR_EACH_POP (c, node, &e->contribs) {
        contrib_destroy(c);
    }
    ovs_list_init(&e->dirty);
    live_index_clear(e);
    flow_set_clear(&e->flows);
    flow_set_clear(&e->tracked);
    e->max_band = 0;
    e->n_variants = 0;
    e->clearing = false;
}

static int
compare_policy_copies(const void *a_, const void *b_)
{
    const struct np_policy *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static int
compare_ports(const void *a_, const void *b_)
{
    const struct local_port *const *a = a_, *const *b = b_;
    return (*a)->ofport < (*b)->ofport ? -1 : (*a)->ofport > (*b)->ofport;
}

static const struct labels *
rebuild_pod_labels(const void *e_, size_t i)
{
    const struct engine *e = e_;
    return &e->rebuild_pods[i]->view_pod->labels;
}

static void
engine_rebuild__(struct engine *e)
{
    long long int start = np_time_usec();

    e->epoch++;
    e->rebuilding = true;
    engine_clear(e);
    conj_ids_begin(e->ids);

    struct flow_set fixed;
    flow_set_init(&fixed);
    pipeline_add_fixed_flows(&e->config, &fixed);
    struct np_flow *flow;
    HMAP_FOR_EACH_POP (flow, node, &fixed.flows) {
        flow_set_insert(&e->flows, flow);
    }
    flow_set_destroy(&fixed);

    size_t n_pods = hmap_count(&e->cluster->pods), i = 0;
    e->rebuild_pods = np_xmalloc((n_pods + 1) * sizeof *e->rebuild_pods);
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &e->cluster->pods) {
        struct ns_pod *np = ns_add_pod(ns_get(e, pod->namespace), pod->name);
        ns_pod_set_profile(e, np, pod);
        np->view_epoch = e->epoch;
        np->view_pod = pod;
        np->view_addrs = pod_peer_addresses(e->cluster, pod,
                                            &np->view_n_addrs);
        e->rebuild_pods[i++] = np;
    }
    label_index_init(&e->rebuild_index, n_pods, rebuild_pod_labels, e);

    /* Ports, then policies, in the order compile_full() uses. */
    size_t n = hmap_count(&e->cluster->ports);
    i = 0;
    const struct local_port **ports = np_xmalloc((n + 1) * sizeof *ports);
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &e->cluster->ports) {
        ports[i++] = port;
    }
    np_qsort(ports, n, sizeof *ports, compare_ports);
    for (i = 0; i < n; i++) {
        lp_add(e, ports[i], false);
    }
    free(ports);
    e->node_families = compute_node_families(e);

    n = hmap_count(&e->cluster->policies);
    i = 0;
    const struct np_policy **policies = np_xmalloc((n + 1)
                                                   * sizeof *policies);
    const struct np_policy *policy;
    HMAP_FOR_EACH (policy, node, &e->cluster->policies) {
        policies[i++] = policy;
    }
    np_qsort(policies, n, sizeof *policies, compare_policy_copies);
    for (i = 0; i < n; i++) {
        policy_add(e, policies[i]);
    }
    free(policies);

    label_index_destroy(&e->rebuild_index);
    free(e->rebuild_pods);
    e->rebuild_pods = NULL;

    conj_ids_sweep(e->ids);
    flush_dirty(e);
    forget_sorted_sets(e);
    flow_set_clear(&e->tracked);
    e->rebuilt = true;
    e->rebuilding = false;
    e->needs_rebuild = false;
    e->stale = false;
    e->stats.n_rebuilds++;
    e->stats.last_rebuild_usec = np_time_usec() - start;
}

/* The public interface. */

struct engine *
engine_create(const struct cluster *cluster, const struct np_config *config,
              struct conj_ids *ids)
{
    struct engine *e = np_xzalloc(sizeof *e);
    e->cluster = cluster;
    e->config = *config;
    e->ids = ids;
    hmap_init(&e->namespaces);
    hmap_init(&e->profiles);
    hmap_init(&e->ports);
    hmap_init(&e->policies);
    hmap_init(&e->peer_sets);
    ovs_list_init(&e->egress_named);
    ovs_list_init(&e->no_policies);
    ovs_list_init(&e->sorted_sets);
    hmap_init(&e->contribs);
    ovs_list_init(&e->dirty);
    hmap_init(&e->live_keys);
    flow_set_init(&e->flows);
    flow_set_init(&e->tracked);
    engine_rebuild__(e);
    return e;
}

void
engine_destroy(struct engine *e)
{
    if (e) {
        e->rebuilding = true;
        engine_clear(e);
        hmap_destroy(&e->namespaces);
        hmap_destroy(&e->profiles);
        hmap_destroy(&e->ports);
        hmap_destroy(&e->policies);
        hmap_destroy(&e->peer_sets);
        hmap_destroy(&e->contribs);
        hmap_destroy(&e->live_keys);
        flow_set_destroy(&e->flows);
        flow_set_destroy(&e->tracked);
        free(e->scratch_contribs);
        free(e->scratch_hashes);
        free(e);
    }
}

void
engine_rebuild(struct engine *e)
{
    engine_rebuild__(e);
}

/* Starts an event: returns false if the engine is stale, and then the event
 * is not worth handling (the next read rebuilds from the cluster anyway). */
static bool
engine_start_event(struct engine *e, long long int *start)
{
    *start = np_time_usec();
    e->epoch++;
    return !e->stale;
}

/* Runs after every event: what the event left to do. */
static void
engine_finish_event(struct engine *e, long long int start)
{
    if (e->needs_rebuild) {
        /* Rules move between priority bands, or the node has other address
         * families: only a rebuild does it the way compile_full() does.
         * Not now: a batch of events (the rules of a big manifest, say)
         * costs one rebuild, when the caller reads the result. */
        e->needs_rebuild = false;
        e->stale = true;
    } else if (!e->stale) {
        flush_dirty(e);
    }
    forget_sorted_sets(e);
    long long int usec = np_time_usec() - start;
    e->stats.n_events++;
    e->stats.last_event_usec = usec;
    e->stats.max_event_usec = NP_MAX(e->stats.max_event_usec, usec);
}

/* Before the caller reads the state: the rebuild that stale events left. */
static void
engine_refresh(const struct engine *e_)
{
    /* Reading is const for the caller: the rebuild only brings the state
     * to what it already stands for.  Every engine comes from
     * engine_create(), never const, so the cast is safe. */
    struct engine *e = CONST_CAST(struct engine *, e_);
    if (e->stale) {
        engine_rebuild__(e);
    }
}

void
engine_namespace_changed(struct engine *e, const char *name)
{
    long long int start;
    if (engine_start_event(e, &start)) {
        handle_namespace(e, name);
    }
    engine_finish_event(e, start);
}

void
engine_pod_changed(struct engine *e, const char *ns, const char *name)
{
    long long int start;
    if (engine_start_event(e, &start)) {
        handle_pod(e, ns, name);
    }
    engine_finish_event(e, start);
}

void
engine_policy_changed(struct engine *e, const char *ns, const char *name)
{
    long long int start;
    if (engine_start_event(e, &start)) {
        handle_policy(e, ns, name);
    }
    engine_finish_event(e, start);
}

void
engine_port_changed(struct engine *e, uint32_t ofport)
{
    long long int start;
    if (engine_start_event(e, &start)) {
        port_refresh(e, ofport, true);
    }
    engine_finish_event(e, start);
}

void
engine_object_changed(struct engine *e, enum np_kind kind, const char *ns,
                      const char *name)
{
    switch (kind) {
    case NP_KIND_NAMESPACE:
        engine_namespace_changed(e, name);
        break;
    case NP_KIND_POD:
        engine_pod_changed(e, ns, name);
        break;
    case NP_KIND_POLICY:
        engine_policy_changed(e, ns, name);
        break;
    }
}

const struct flow_set *
engine_flows(const struct engine *e)
{
    engine_refresh(e);
    return &e->flows;
}

bool
engine_take_tracked(struct engine *e, struct flow_set *tracked)
{
    engine_refresh(e);
    bool incremental = !e->rebuilt;
    e->rebuilt = false;
    if (incremental) {
        flow_set_swap(&e->tracked, tracked);
    }
    flow_set_clear(&e->tracked);
    return incremental;
}

void
engine_get_problems(const struct engine *e, struct np_problems *problems)
{
    engine_refresh(e);
    const struct local_pod_state *lp;
    HMAP_FOR_EACH (lp, node, &e->ports) {
        if (lp->is_pod && !lp->known) {
            np_problems_add(problems, NULL, NULL, NULL,
                            "port %s (%"PRIu32") belongs to pod %s/%s, "
                            "which is not known yet: isolated",
                            lp->port->name, lp->ofport,
                            lp->port->pod_namespace, lp->port->pod_name);
        }
    }
    const struct policy *p;
    HMAP_FOR_EACH (p, node, &e->policies) {
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            for (size_t i = 0; i < p->n_rules[dir]; i++) {
                const struct rule *r = &p->rules[dir][i];
                bool failed = r->main && r->main->failed;
                const struct variant *v;
                HMAP_FOR_EACH (v, node, &r->named) {
                    failed |= v->failed;
                }
                if (failed) {
                    np_problems_add(problems, NULL, NULL, NULL,
                                    "NetworkPolicy %s/%s: %s rule %zu: too "
                                    "many rules share its matches; it is "
                                    "not installed", p->copy->namespace,
                                    p->copy->name, np_direction_name(dir),
                                    i);
                }
            }
        }
    }
}

void
engine_get_stats(const struct engine *e, struct engine_stats *stats)
{
    engine_refresh(e);
    *stats = e->stats;
    stats->n_flows = flow_set_count(&e->flows);
    stats->n_variants = e->n_variants;
    stats->n_peer_sets = hmap_count(&e->peer_sets);
    stats->n_bands = e->max_band + 1;
    stats->n_active_policies = 0;
    const struct policy *p;
    HMAP_FOR_EACH (p, node, &e->policies) {
        stats->n_active_policies += p->active;
    }
}
