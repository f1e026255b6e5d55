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

#ifndef OVS_NETPOL_ENGINE_H
#define OVS_NETPOL_ENGINE_H 1

/* The incremental engine: the flow set of compile_full(), kept up to date
 * one change at a time.
 *
 * What?
 * =====
 *
 * The engine follows a 'struct cluster'.  After the caller changes one
 * object in the cluster (a namespace, pod, policy or port, added, replaced
 * or deleted), it tells the engine which, and the engine updates its flow
 * set and remembers which flows it touched.  The flow set is always exactly
 * what compile_full() would compute from the same cluster (and the same
 * conjunction IDs): the random-event test in test-engine.c checks that
 * after every event.
 *
 * Cost
 * ====
 *
 * An event costs work proportional to what it affects, not to the cluster:
 *
 *   - Peers are kept in shared "peer sets", one per distinct (namespace,
 *     namespaceSelector, podSelector) of any rule that applies to a local
 *     pod, like OVN's address sets.  A pod change re-evaluates each peer set
 *     once (a few selector checks) and touches only the sets whose
 *     membership or addresses change; a namespace relabel touches only the
 *     sets whose namespaceSelector result changes, and then only the pods of
 *     that namespace.
 *
 *   - A rule is compiled into variants (one per named-port resolution),
 *     each a conjunction whose clauses are contributions to shared flows.
 *     Contributions are reference counted by (table, priority, match), so an
 *     address that appears or disappears in a peer set adds or removes one
 *     conjunction() action on one flow per variant using it: one flow mod.
 *
 *   - A new peer set finds its pods through a label index (built by a
 *     rebuild, or between rebuilds kept up to date by pod events once
 *     scanning namespaces has cost as much), not by testing every pod of
 *     the namespaces it looks in.
 *
 *   - Policies that select no local pod cost nothing but their copy.
 *
 * Some events need a full rebuild (counted in the statistics): a change of
 * the address families the node's pods have, and, when rules share a flow
 * beyond NP_MAX_CONJS_PER_FLOW conjunction actions, a change that may move
 * rules between priority bands (only a rebuild assigns bands the way
 * compile_full() does, over the whole rule set in its order).  While there
 * are several bands, changes that leave the full flows alone (most pods,
 * other local pods' policies) stay incremental.
 *
 * The rebuild waits: the engine marks itself stale, ignores the events
 * that follow (the rebuild reads the whole cluster anyway), and rebuilds
 * once, when the caller next reads its state (engine_flows(),
 * engine_take_tracked(), engine_get_problems(), engine_get_stats()).  So a
 * batch of events, such as the thousands of policies of one manifest,
 * costs at most one rebuild, whether it creates the overload, happens
 * during it or removes it.
 *
 * Contract
 * ========
 *
 * Call the matching engine_*_changed() after each change of the cluster,
 * before changing the same object again.  The engine keeps its own copies
 * of policies and looks pods and namespaces up by name, so it never reads
 * an object the cluster has freed; changes to several objects may be made
 * before notifying them one by one.
 *
 * All calls run on one thread; no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

struct engine;

struct engine_stats {
    uint64_t n_events;          /* Notifications handled (or ignored
                                 * while stale). */
    uint64_t n_rebuilds;        /* Full rebuilds (including the first). */
    uint64_t n_flow_changes;    /* Flows added, changed or removed. */
    long long int last_event_usec;      /* Not counting a rebuild left to
                                         * the next read, which... */
    long long int max_event_usec;
    long long int last_rebuild_usec;    /* ...counts here. */
    size_t n_flows;
    size_t n_active_policies;   /* Policies selecting a local pod. */
    size_t n_variants;          /* Installed conjunctions and allows. */
    size_t n_peer_sets;
    size_t n_bands;
};

/* Creates an engine following 'cluster' (which must outlive it), builds the
 * flow set from scratch, and allocates conjunction IDs from 'ids'. */
struct engine *engine_create(const struct cluster *, const struct np_config *,
                             struct conj_ids *ids);
void engine_destroy(struct engine *);

/* Notifications: the named object was added, changed or deleted in the
 * cluster. */
void engine_namespace_changed(struct engine *, const char *name);
void engine_pod_changed(struct engine *, const char *ns, const char *name);
void engine_policy_changed(struct engine *, const char *ns,
                           const char *name);
void engine_port_changed(struct engine *, uint32_t ofport);
void engine_object_changed(struct engine *, enum np_kind, const char *ns,
                           const char *name);

/* Throws everything away and builds again from the cluster, now. */
void engine_rebuild(struct engine *);

/* The current flow set, as of this call: after notifications, call it
 * again (the set may be brought up to date only then).
 *
 * This and the other functions below that read the state are const for the
 * caller, but carry out the rebuild that notifications left pending, if
 * any (see "Cost" above). */
const struct flow_set *engine_flows(const struct engine *);

/* Moves into 'tracked' (which must be empty) one flow, with its identity
 * only (table, priority, match), for each flow added, changed or removed
 * since the last call.  Returns false, leaving 'tracked' empty, if the set
 * was rebuilt since: then every flow may have changed. */
bool engine_take_tracked(struct engine *, struct flow_set *tracked);

/* Appends what the caller should report about the current state (e.g. a
 * pod port whose pod is unknown). */
void engine_get_problems(const struct engine *, struct np_problems *);

void engine_get_stats(const struct engine *, struct engine_stats *);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/engine.h */
