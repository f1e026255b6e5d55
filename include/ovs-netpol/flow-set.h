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

#ifndef OVS_NETPOL_FLOW_SET_H
#define OVS_NETPOL_FLOW_SET_H 1

/* A set of OpenFlow flows: what the compiler wants in the switch, or what
 * the agent knows the switch holds.
 *
 * Identity
 * ========
 *
 * A flow is identified by its table, its priority and its match, exactly as
 * OpenFlow identifies it for a strict modify or delete.  The match is a
 * libopenvswitch 'struct minimatch', so it is normalised the way OVS
 * normalises it: "nw_src=1.2.3.4" and "nw_src=1.2.3.4/32" are one flow, and
 * prerequisites are explicit.  Two flows with the same identity cannot be
 * in one set; the compiler merges what would collide (for example, every
 * conjunction() action that shares one match lands on one flow).
 *
 * Content
 * =======
 *
 * A flow's content is its cookie and its actions (libopenvswitch ofpacts).
 * Conjunction actions are kept sorted by (id, clause), so equal sets of
 * actions are equal byte for byte.
 *
 * Output
 * ======
 *
 * flow_set_format() prints every flow in `ovs-ofctl add-flows` syntax,
 * sorted by table, then priority (highest first), then match text, so the
 * same set always prints the same bytes.
 *
 * Differences
 * ===========
 *
 * flow_set_diff() compares two sets and lists what turns the first into the
 * second: additions, modifications (same identity, other cookie or actions)
 * and deletions.  That list is what the agent sends to the switch in one
 * bundle.
 *
 * All calls run on one thread; no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openvswitch/hmap.h>
#include <openvswitch/match.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ds;
struct ofpact;

struct np_flow {
    struct hmap_node node;      /* In 'struct flow_set', by np_flow_hash(). */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    uint64_t cookie;
    struct ofpact *ofpacts;     /* Owned, malloc'd. */
    size_t ofpacts_len;         /* In bytes. */
};

/* Creates a flow from a full match and a copy of 'ofpacts'. */
struct np_flow *np_flow_create(uint8_t table_id, uint16_t priority,
                               const struct match *, uint64_t cookie,
                               const struct ofpact *ofpacts,
                               size_t ofpacts_len);
/* Creates a flow, taking ownership of 'match' (moved out, left empty) and
 * of the malloc'd 'ofpacts'. */
struct np_flow *np_flow_create_nocopy(uint8_t table_id, uint16_t priority,
                                      struct minimatch *match,
                                      uint64_t cookie,
                                      struct ofpact *ofpacts,
                                      size_t ofpacts_len);
struct np_flow *np_flow_clone(const struct np_flow *);
void np_flow_destroy(struct np_flow *);

uint32_t np_flow_hash(uint8_t table_id, uint16_t priority,
                      const struct minimatch *);
/* Same table, priority and match. */
bool np_flow_same_identity(const struct np_flow *, const struct np_flow *);
/* Same cookie and actions. */
bool np_flow_same_content(const struct np_flow *, const struct np_flow *);

/* Appends the flow in `ovs-ofctl add-flows` syntax (no newline). */
void np_flow_format(const struct np_flow *, struct ds *);
/* Appends only the match ("table=N,priority=P,..."), no cookie or
 * actions, as `ovs-ofctl --strict del-flows` wants it. */
void np_flow_format_identity(const struct np_flow *, struct ds *);

struct flow_set {
    struct hmap flows;          /* Contains struct np_flow. */
};

void flow_set_init(struct flow_set *);
void flow_set_destroy(struct flow_set *);   /* Destroys every flow. */
void flow_set_clear(struct flow_set *);
void flow_set_swap(struct flow_set *, struct flow_set *);
size_t flow_set_count(const struct flow_set *);

struct np_flow *flow_set_find(const struct flow_set *, uint8_t table_id,
                              uint16_t priority, const struct minimatch *);
struct np_flow *flow_set_find_flow(const struct flow_set *,
                                   const struct np_flow *);

/* Inserts 'flow', which must not collide with a flow already in 'set'.
 * The set takes ownership. */
void flow_set_insert(struct flow_set *, struct np_flow *flow);
/* Inserts 'flow', replacing and destroying any flow of the same identity. */
void flow_set_replace(struct flow_set *, struct np_flow *flow);
/* Removes 'flow' from 'set'; the caller owns it afterwards. */
void flow_set_remove(struct flow_set *, struct np_flow *flow);

/* Returns a malloc'd array of the flows of 'set' in output order (table,
 * priority descending, match text).  The caller frees the array only. */
const struct np_flow **flow_set_sorted(const struct flow_set *);

/* Appends every flow, one per line, in output order. */
void flow_set_format(const struct flow_set *, struct ds *);

bool flow_set_equal(const struct flow_set *, const struct flow_set *);

/* Differences. */

enum flow_change_type {
    FLOW_ADD,
    FLOW_MODIFY,
    FLOW_DELETE,
};

struct flow_change {
    enum flow_change_type type;
    const struct np_flow *old;  /* NULL for FLOW_ADD. */
    const struct np_flow *new;  /* NULL for FLOW_DELETE. */
};

struct flow_changes {
    struct flow_change *changes;
    size_t n, allocated;
};

void flow_changes_init(struct flow_changes *);
void flow_changes_destroy(struct flow_changes *);
void flow_changes_add(struct flow_changes *, enum flow_change_type,
                      const struct np_flow *old, const struct np_flow *new);

/* Appends to 'changes' what turns 'old' into 'new'.  The changes point into
 * both sets, which must outlive them.  Deletions come first, then
 * modifications, then additions. */
void flow_set_diff(const struct flow_set *old, const struct flow_set *new,
                   struct flow_changes *changes);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/flow-set.h */
