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

#ifndef FLOW_STATS_H
#define FLOW_STATS_H 1

/* flow-stats: per-rule and per-isolated-pod statistics, aggregated from the
 * counters the switch keeps on our flows.
 *
 * Where it sits: switch -> ofctrl_dump_stats() (the raw counters, one
 * 'struct flow_stats_entry' per flow) -> [flow_stats_compute()] -> the
 * "stats" control command and the metrics endpoint.  It is pure: no I/O,
 * no clock, nothing kept between calls, so tests/test-flow-stats.c checks
 * it with made-up entries.
 *
 * Derivation
 * ==========
 *
 * As pipeline.h's "Statistics" section defines it, from each flow's cookie
 * (role and ID) and table:
 *
 *   - a rule's new connections are the packets of its rule flows (cookie
 *     role "rule": its conj_id=ID flows, or the direct allows of a rule with
 *     a single dimension), in the egress or ingress table;
 *
 *   - the packets and bytes of the connections a rule allowed are those of
 *     its rule flows plus those of its stats flow (role "stats", in the
 *     ct_state table: the established packets of connections whose
 *     ct_label names the rule, in both directions).  A connection that
 *     passed an egress and an ingress rule counts its established packets
 *     for the ingress rule only (pipeline.h); its egress rule counts its
 *     new connections and their first packets;
 *
 *   - an isolated pod's drops in a direction are the packets and bytes of
 *     its isolation flows (role "isolation", ID its OpenFlow port) in the
 *     egress or ingress table.
 *
 * Flows shared by several rules carry the lowest rule's ID in their cookie
 * (pods that share an address share their isolation drop, which names the
 * lowest port); they count for that rule or pod only.
 *
 * What the numbers mean
 * =====================
 *
 * The counters are what the switch reports now for the flows it holds now:
 * they are not kept across flow changes.  When a rule's flows are deleted
 * and added again (the rule went away and came back, a pod was re-plugged,
 * the switch restarted, `ovs-netpolctl flush`), its counters start again
 * from zero; a flow that is only modified in place (a shared flow whose
 * action list changed) keeps its counters.  Readers that need monotonic
 * series (Prometheus) see such a reset as a counter reset, which they
 * handle.
 *
 * A rule is named from the agent's conjunction IDs (conj-ids.h) at the time
 * of the aggregation: a rule deleted since the dump is still named while its
 * ID is retired, and reported as retired; an ID the agent does not know at
 * all (retired long ago, or flows of an earlier agent before the first
 * sync) is reported with its number only.  Every live rule is reported,
 * with zeros if the switch holds none of its flows.  An isolation drop is
 * named from the pod that its OpenFlow port carries now; a port no longer
 * known is reported with its number only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ovs-netpol/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cluster;
struct conj_ids;
struct ds;
struct np_config;

/* One flow's counters as the switch reported them. */
struct flow_stats_entry {
    uint64_t cookie;
    uint8_t table_id;
    uint16_t priority;
    uint64_t n_packets;         /* UINT64_MAX if the switch does not know. */
    uint64_t n_bytes;           /* Likewise. */
};

/* What a rule ID refers to at the time of the aggregation. */
enum flow_stats_rule_state {
    FLOW_STATS_RULE_LIVE,       /* A rule of the current policies. */
    FLOW_STATS_RULE_RETIRED,    /* A rule deleted recently (still named). */
    FLOW_STATS_RULE_UNKNOWN,    /* An ID the agent does not know. */
};

const char *flow_stats_rule_state_name(enum flow_stats_rule_state);

/* One rule (one conjunction ID: a rule, or one variant of a rule with named
 * ports). */
struct flow_stats_rule {
    uint32_t conj_id;
    enum flow_stats_rule_state state;

    /* The rule's key, all NULL when 'state' is FLOW_STATS_RULE_UNKNOWN. */
    char *namespace;
    char *policy;
    enum np_direction dir;
    unsigned int index;
    char *variant;              /* "" for a rule's main conjunction. */

    uint64_t n_connections;     /* New connections allowed. */
    uint64_t n_packets;         /* Packets of the connections it allowed. */
    uint64_t n_bytes;           /* Bytes of those packets. */
    size_t n_flows;             /* Flows counted (rule and stats flows). */
};

/* The isolation drops of one pod in one direction. */
struct flow_stats_drop {
    uint32_t ofport;            /* The port the flows' cookie names. */
    enum np_direction dir;

    /* The port's pod, both NULL if the port is not a known pod's. */
    char *pod_namespace;
    char *pod_name;

    uint64_t n_packets;
    uint64_t n_bytes;
    size_t n_flows;
};

struct flow_stats {
    /* Sorted by namespace, policy, direction (ingress first), index and
     * variant; unknown IDs last, by number. */
    struct flow_stats_rule *rules;
    size_t n_rules;

    /* Sorted by pod namespace and name, then direction (ingress first);
     * ports of no known pod last, by number. */
    struct flow_stats_drop *drops;
    size_t n_drops;

    size_t n_entries;           /* Entries aggregated. */
    size_t n_ignored;           /* Of those, not ours, or of other roles or
                                 * tables than the ones above. */
};

void flow_stats_init(struct flow_stats *);
void flow_stats_destroy(struct flow_stats *);
void flow_stats_swap(struct flow_stats *, struct flow_stats *);

/* Replaces the content of 'stats' by the aggregation of the 'n' entries of
 * 'entries', named with 'ids' (rules) and 'cluster' (ports), with the
 * tables of 'config'.  Borrows nothing: 'stats' owns copies of every name.
 * Cost: O(n + live rules) plus sorting. */
void flow_stats_compute(struct flow_stats *stats,
                        const struct flow_stats_entry *entries, size_t n,
                        const struct np_config *config,
                        const struct conj_ids *ids,
                        const struct cluster *cluster);

/* Appends "NS/POLICY rule N" (plus " [VARIANT]" when set) or, for an
 * unknown ID, "conjunction 0xID". */
void flow_stats_rule_format(const struct flow_stats_rule *, struct ds *);

/* Returns 'stats' as JSON (a new reference), as the "stats" control command
 * answers:
 *
 *   {"rules": [{"conj_id": N, "state": "live"|"retired"|"unknown",
 *               "namespace": S, "policy": S, "direction": S, "index": N,
 *               "variant": S,            (these five only when known)
 *               "connections": N, "packets": N, "bytes": N, "flows": N},
 *              ...],
 *    "isolation": [{"ofport": N, "direction": S,
 *                   "namespace": S, "pod": S,   (only when known)
 *                   "packets": N, "bytes": N, "flows": N}, ...],
 *    "entries": N, "ignored": N} */
json_t *flow_stats_to_json(const struct flow_stats *);

#ifdef __cplusplus
}
#endif

#endif /* flow-stats.h */
