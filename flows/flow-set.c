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

/* flow-set.c: sets of OpenFlow flows, their canonical text and their
 * differences (flow-set.h).  The compiler's output and the agent's record of
 * the switch are both flow sets.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/flow-set.h"

#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/ofp-actions.h>
#include "ovs-netpol/util.h"

/* Flows. */

static struct ofpact *
ofpacts_copy(const struct ofpact *ofpacts, size_t len)
{
    return len ? np_xmemdup(ofpacts, len) : NULL;
}

struct np_flow *
np_flow_create(uint8_t table_id, uint16_t priority, const struct match *match,
               uint64_t cookie, const struct ofpact *ofpacts,
               size_t ofpacts_len)
{
    struct np_flow *flow = np_xzalloc(sizeof *flow);
    flow->table_id = table_id;
    flow->priority = priority;
    minimatch_init(&flow->match, match);
    flow->cookie = cookie;
    flow->ofpacts = ofpacts_copy(ofpacts, ofpacts_len);
    flow->ofpacts_len = ofpacts_len;
    return flow;
}

struct np_flow *
np_flow_create_nocopy(uint8_t table_id, uint16_t priority,
                      struct minimatch *match, uint64_t cookie,
                      struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct np_flow *flow = np_xzalloc(sizeof *flow);
    flow->table_id = table_id;
    flow->priority = priority;
    minimatch_move(&flow->match, match);
    flow->cookie = cookie;
    flow->ofpacts = ofpacts;
    flow->ofpacts_len = ofpacts_len;
    return flow;
}

struct np_flow *
np_flow_clone(const struct np_flow *src)
{
    struct np_flow *flow = np_xzalloc(sizeof *flow);
    flow->table_id = src->table_id;
    flow->priority = src->priority;
    minimatch_clone(&flow->match, &src->match);
    flow->cookie = src->cookie;
    flow->ofpacts = ofpacts_copy(src->ofpacts, src->ofpacts_len);
    flow->ofpacts_len = src->ofpacts_len;
    return flow;
}

void
np_flow_destroy(struct np_flow *flow)
{
    if (flow) {
        minimatch_destroy(&flow->match);
        free(flow->ofpacts);
        free(flow);
    }
}

uint32_t
np_flow_hash(uint8_t table_id, uint16_t priority,
             const struct minimatch *match)
{
    return minimatch_hash(match, ((uint32_t) table_id << 16) | priority);
}

bool
np_flow_same_identity(const struct np_flow *a, const struct np_flow *b)
{
    return (a->table_id == b->table_id && a->priority == b->priority
            && minimatch_equal(&a->match, &b->match));
}

/* Actions compare by their OpenFlow 1.5 encoding, not with
 * ofpacts_equal(): that is a memcmp() of the internal form, which holds
 * padding that libopenvswitch leaves uninitialized (set_field values) and
 * the wire form each action was decoded from ('raw'), so the same actions
 * built here and read back from the switch would compare unequal. */
static void
encode_actions(const struct np_flow *flow, struct ofpbuf *buf)
{
    ofpbuf_clear(buf);
    if (flow->ofpacts_len) {
        ofpacts_put_openflow_instructions(flow->ofpacts, flow->ofpacts_len,
                                          buf, OFP15_VERSION);
    }
}

bool
np_flow_same_content(const struct np_flow *a, const struct np_flow *b)
{
    if (a->cookie != b->cookie) {
        return false;
    }
    if (a->ofpacts_len == b->ofpacts_len
        && (!a->ofpacts_len
            || !memcmp(a->ofpacts, b->ofpacts, a->ofpacts_len))) {
        /* The same bytes encode the same way (the usual case when both
         * were built here). */
        return true;
    }

    uint64_t a_stub[1024 / 8], b_stub[1024 / 8];
    struct ofpbuf a_buf, b_buf;
    ofpbuf_use_stub(&a_buf, a_stub, sizeof a_stub);
    ofpbuf_use_stub(&b_buf, b_stub, sizeof b_stub);
    encode_actions(a, &a_buf);
    encode_actions(b, &b_buf);
    bool equal = (a_buf.size == b_buf.size
                  && !memcmp(a_buf.data, b_buf.data, a_buf.size));
    ofpbuf_uninit(&a_buf);
    ofpbuf_uninit(&b_buf);
    return equal;
}

void
np_flow_format_identity(const struct np_flow *flow, struct ds *s)
{
    ds_put_format(s, "table=%"PRIu8",", flow->table_id);
    minimatch_format(&flow->match, NULL, NULL, s, flow->priority);
}

void
np_flow_format(const struct np_flow *flow, struct ds *s)
{
    ds_put_format(s, "table=%"PRIu8",cookie=%#"PRIx64",",
                  flow->table_id, flow->cookie);
    minimatch_format(&flow->match, NULL, NULL, s, flow->priority);
    ds_put_cstr(s, " actions=");
    if (flow->ofpacts_len) {
        struct ofpact_format_params fp = { .s = s };
        ofpacts_format(flow->ofpacts, flow->ofpacts_len, &fp);
    } else {
        ds_put_cstr(s, "drop");
    }
}

/* Flow sets. */

void
flow_set_init(struct flow_set *set)
{
    hmap_init(&set->flows);
}

void
flow_set_clear(struct flow_set *set)
{
    struct np_flow *flow;
    HMAP_FOR_EACH_POP (flow, node, &set->flows) {
        np_flow_destroy(flow);
    }
}

void
flow_set_destroy(struct flow_set *set)
{
    if (set) {
        flow_set_clear(set);
        hmap_destroy(&set->flows);
    }
}

void
flow_set_swap(struct flow_set *a, struct flow_set *b)
{
    hmap_swap(&a->flows, &b->flows);
}

size_t
flow_set_count(const struct flow_set *set)
{
    return hmap_count(&set->flows);
}

struct np_flow *
flow_set_find(const struct flow_set *set, uint8_t table_id,
              uint16_t priority, const struct minimatch *match)
{
    struct np_flow *flow;
    HMAP_FOR_EACH_WITH_HASH (flow, node,
                             np_flow_hash(table_id, priority, match),
                             &set->flows) {
        if (flow->table_id == table_id && flow->priority == priority
            && minimatch_equal(&flow->match, match)) {
            return flow;
        }
    }
    return NULL;
}

struct np_flow *
flow_set_find_flow(const struct flow_set *set, const struct np_flow *flow)
{
    return flow_set_find(set, flow->table_id, flow->priority, &flow->match);
}

void
flow_set_insert(struct flow_set *set, struct np_flow *flow)
{
    hmap_insert(&set->flows, &flow->node,
                np_flow_hash(flow->table_id, flow->priority, &flow->match));
}

void
flow_set_replace(struct flow_set *set, struct np_flow *flow)
{
    struct np_flow *old = flow_set_find_flow(set, flow);
    if (old) {
        flow_set_remove(set, old);
        np_flow_destroy(old);
    }
    flow_set_insert(set, flow);
}

void
flow_set_remove(struct flow_set *set, struct np_flow *flow)
{
    hmap_remove(&set->flows, &flow->node);
}

struct sort_entry {
    const struct np_flow *flow;
    char *match_text;
};

static int
compare_sort_entries(const void *a_, const void *b_)
{
    const struct sort_entry *a = a_, *b = b_;
    if (a->flow->table_id != b->flow->table_id) {
        return a->flow->table_id < b->flow->table_id ? -1 : 1;
    }
    if (a->flow->priority != b->flow->priority) {
        return a->flow->priority > b->flow->priority ? -1 : 1;
    }
    return strcmp(a->match_text, b->match_text);
}

const struct np_flow **
flow_set_sorted(const struct flow_set *set)
{
    size_t n = flow_set_count(set);
    struct sort_entry *entries = np_xmalloc(n * sizeof *entries);
    const struct np_flow *flow;
    size_t i = 0;

    HMAP_FOR_EACH (flow, node, &set->flows) {
        entries[i].flow = flow;
        entries[i].match_text = minimatch_to_string(&flow->match, NULL, 0);
        i++;
    }
    np_qsort(entries, n, sizeof *entries, compare_sort_entries);

    const struct np_flow **flows = np_xmalloc(n * sizeof *flows);
    for (i = 0; i < n; i++) {
        flows[i] = entries[i].flow;
        free(entries[i].match_text);
    }
    free(entries);
    return flows;
}

void
flow_set_format(const struct flow_set *set, struct ds *s)
{
    const struct np_flow **flows = flow_set_sorted(set);
    size_t n = flow_set_count(set);
    for (size_t i = 0; i < n; i++) {
        np_flow_format(flows[i], s);
        ds_put_char(s, '\n');
    }
    free(flows);
}

bool
flow_set_equal(const struct flow_set *a, const struct flow_set *b)
{
    if (flow_set_count(a) != flow_set_count(b)) {
        return false;
    }
    const struct np_flow *flow;
    HMAP_FOR_EACH (flow, node, &a->flows) {
        const struct np_flow *other = flow_set_find_flow(b, flow);
        if (!other || !np_flow_same_content(flow, other)) {
            return false;
        }
    }
    return true;
}

/* Differences. */

void
flow_changes_init(struct flow_changes *changes)
{
    changes->changes = NULL;
    changes->n = changes->allocated = 0;
}

void
flow_changes_destroy(struct flow_changes *changes)
{
    if (changes) {
        free(changes->changes);
        flow_changes_init(changes);
    }
}

void
flow_changes_add(struct flow_changes *changes, enum flow_change_type type,
                 const struct np_flow *old, const struct np_flow *new)
{
    changes->changes = np_x2nrealloc(changes->changes, &changes->allocated,
                                     changes->n + 1,
                                     sizeof *changes->changes);
    struct flow_change *change = &changes->changes[changes->n++];
    change->type = type;
    change->old = old;
    change->new = new;
}

void
flow_set_diff(const struct flow_set *old, const struct flow_set *new,
              struct flow_changes *changes)
{
    const struct np_flow *flow;

    HMAP_FOR_EACH (flow, node, &old->flows) {
        if (!flow_set_find_flow(new, flow)) {
            flow_changes_add(changes, FLOW_DELETE, flow, NULL);
        }
    }
    HMAP_FOR_EACH (flow, node, &new->flows) {
        const struct np_flow *prev = flow_set_find_flow(old, flow);
        if (prev && !np_flow_same_content(prev, flow)) {
            flow_changes_add(changes, FLOW_MODIFY, prev, flow);
        }
    }
    HMAP_FOR_EACH (flow, node, &new->flows) {
        if (!flow_set_find_flow(old, flow)) {
            flow_changes_add(changes, FLOW_ADD, NULL, flow);
        }
    }
}
