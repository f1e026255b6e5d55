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

#ifndef OVS_NETPOL_CONJ_IDS_H
#define OVS_NETPOL_CONJ_IDS_H 1

/* Conjunction IDs: a stable number for every rule, and the way back from a
 * number to the rule.
 *
 * A rule is identified by its key: namespace, policy name, direction, index
 * in the policy's list of rules of that direction, and a variant (empty,
 * except for the extra conjunctions a rule with named ports needs when the
 * name resolves to different port numbers on different pods: then the
 * variant is the resolved port list, e.g. "TCP:8080").
 *
 * The ID is a hash of the key, so the same rule gets the same ID across
 * recompiles and agent restarts, and flows already in the switch stay
 * valid.  On a collision the allocator probes to the next free number; the
 * compiler allocates in a fixed order (policies sorted by namespace and
 * name), so even then the result is the same every time for the same rule
 * set.  IDs are never 0.
 *
 * A rule that disappears is retired, not forgotten: its ID is not handed to
 * a different rule while retired (logs, statistics and conntrack entries
 * that carry the old ID would otherwise name the wrong rule), and it comes
 * back if the same rule returns.  Retired entries are purged oldest first
 * once they outnumber live ones.
 *
 * Cost: O(1) per allocation and lookup, expected.
 * All calls run on one thread; no I/O. */

#include <stdbool.h>
#include <stdint.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ds;

struct rule_ref {
    struct hmap_node id_node;   /* In 'struct conj_ids' 'by_id'. */
    struct hmap_node key_node;  /* In 'struct conj_ids' 'by_key'. */
    uint32_t id;
    char *namespace;
    char *policy;
    enum np_direction dir;
    unsigned int index;
    char *variant;              /* "" for a rule's main conjunction. */
    unsigned long long int generation;  /* Last conj_ids_begin() that saw it
                                         * allocated; for retirement. */
    bool retired;
};

struct conj_ids {
    struct hmap by_id;          /* Contains struct rule_ref, by id. */
    struct hmap by_key;         /* Contains struct rule_ref, by key hash. */
    unsigned long long int generation;
    size_t n_retired;
};

void conj_ids_init(struct conj_ids *);
void conj_ids_destroy(struct conj_ids *);

/* Full recompiles: conj_ids_begin(), then conj_ids_alloc() for every rule
 * in use, then conj_ids_sweep() retires every rule not allocated since the
 * conj_ids_begin(). */
void conj_ids_begin(struct conj_ids *);
void conj_ids_sweep(struct conj_ids *);

/* Returns the ID of the rule with the given key, allocating one if the rule
 * has none, reviving it if it was retired. */
uint32_t conj_ids_alloc(struct conj_ids *, const char *namespace,
                        const char *policy, enum np_direction,
                        unsigned int index, const char *variant);

/* Retires the rule with ID 'id' (incremental updates). */
void conj_ids_release(struct conj_ids *, uint32_t id);

/* Returns the live or retired rule with ID 'id', or NULL. */
const struct rule_ref *conj_ids_find(const struct conj_ids *, uint32_t id);

size_t conj_ids_count_live(const struct conj_ids *);

/* Appends "NS/POLICY ingress rule N" (plus " [VARIANT]" when set). */
void rule_ref_format(const struct rule_ref *, struct ds *);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/conj-ids.h */
