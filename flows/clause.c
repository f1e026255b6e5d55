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

/* clause.c: clause matches, conjunction actions, port lists and named-port
 * resolution (clause.h), shared by the compiler and the engine.  Pure: no
 * I/O. */

#include <config.h>
#include "clause.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/match.h>
#include <openvswitch/ofp-actions.h>
#include "flow-build.h"
#include "ovs-netpol/util.h"
#include "port-range.h"

/* Clause matches. */

void
clause_match_init(struct clause_match *m, enum clause_field field)
{
    memset(m, 0, sizeof *m);
    m->field = field;
}

int
clause_match_compare(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct clause_match));
}

uint32_t
clause_match_hash(const struct clause_match *m, uint32_t basis)
{
    return np_hash_bytes(m, sizeof *m, basis);
}

unsigned int
clause_match_families(const struct clause_match *m)
{
    switch ((enum clause_field) m->field) {
    case CLAUSE_SRC:
    case CLAUSE_DST:
        return FAMILY_BIT(m->cidr.family);
    case CLAUSE_L4:
        return FAMILY_BIT(m->family);
    case CLAUSE_IN_PORT:
    case CLAUSE_CONJ_ID:
    case CLAUSE_DL_DST:
    case CLAUSE_CT_LABEL:
        break;
    }
    return ALL_FAMILIES;
}

void
clause_match_to_match(const struct clause_match *cm, struct match *match)
{
    match_init_catchall(match);
    switch ((enum clause_field) cm->field) {
    case CLAUSE_IN_PORT:
        match_set_in_port(match, OFP_PORT_C(cm->value));
        break;
    case CLAUSE_SRC:
        match_set_cidr(match, &cm->cidr, true);
        break;
    case CLAUSE_DST:
        match_set_cidr(match, &cm->cidr, false);
        break;
    case CLAUSE_L4:
        match_set_dl_type(match, htons(cm->family == AF_INET
                                       ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6));
        match_set_nw_proto(match, cm->proto);
        if (cm->tp_mask) {
            match_set_tp_dst_masked(match, htons(cm->tp_value),
                                    htons(cm->tp_mask));
        }
        break;
    case CLAUSE_CONJ_ID:
        match_set_conj_id(match, cm->value);
        break;
    case CLAUSE_DL_DST: {
        struct eth_addr mac;
        memcpy(mac.ea, cm->cidr.addr, 6);
        match_set_dl_dst(match, mac);
        break;
    }
    case CLAUSE_CT_LABEL: {
        /* ct_label[0..31] holds the egress rule, [32..63] the ingress
         * rule (see the commit table). */
        ovs_u128 label = { .u64 = { .lo = 0, .hi = 0 } };
        ovs_u128 mask = label;
        int shift = cm->proto == NP_INGRESS ? 32 : 0;
        label.u64.lo = (uint64_t) cm->value << shift;
        mask.u64.lo = UINT64_C(0xffffffff) << shift;
        match_set_ct_state_masked(match, 0x22 /* -new+est+trk */, 0x23);
        match_set_ct_label_masked(match, label, mask);
        break;
    }
    }
}

struct clause_match *
clause_array_add(struct clause_array *array, enum clause_field field)
{
    array->matches = np_x2nrealloc(array->matches, &array->allocated,
                                   array->n + 1, sizeof *array->matches);
    struct clause_match *m = &array->matches[array->n++];
    clause_match_init(m, field);
    return m;
}

void
clause_array_normalize(struct clause_array *array)
{
    if (array->n < 2) {
        return;
    }

    /* Big arrays often come already sorted and unique (the compiler builds
     * peer addresses in order): one pass proves it. */
    size_t i;
    for (i = 1; i < array->n; i++) {
        if (clause_match_compare(&array->matches[i - 1],
                                 &array->matches[i]) >= 0) {
            break;
        }
    }
    if (i >= array->n) {
        return;
    }

    np_qsort(array->matches, array->n, sizeof *array->matches,
             clause_match_compare);
    size_t n = 1;
    for (i = 1; i < array->n; i++) {
        if (clause_match_compare(&array->matches[i],
                                 &array->matches[n - 1])) {
            array->matches[n++] = array->matches[i];
        }
    }
    array->n = n;
}

void
clause_array_destroy(struct clause_array *array)
{
    free(array->matches);
    memset(array, 0, sizeof *array);
}

/* Conjunction actions. */

int
conj_ref_compare(const void *a_, const void *b_)
{
    const struct conj_ref *a = a_, *b = b_;
    if (a->id != b->id) {
        return a->id < b->id ? -1 : 1;
    }
    return a->clause < b->clause ? -1 : a->clause > b->clause;
}

/* Sorts 'keys' in place ('tmp' is scratch of the same size): a radix sort
 * of the low 48 bits for big arrays, insertion for small ones. */
static void
sort_conj_keys(uint64_t *keys, uint64_t *tmp, size_t n)
{
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint64_t key = keys[i];
            size_t j = i;
            for (; j > 0 && keys[j - 1] > key; j--) {
                keys[j] = keys[j - 1];
            }
            keys[j] = key;
        }
        return;
    }

    /* An even number of passes leaves the result in 'keys'. */
    enum { N_PASSES = 6 };
    size_t (*counts)[256] = np_xcalloc(N_PASSES, sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < N_PASSES; b++) {
            counts[b][(keys[i] >> (8 * b)) & 0xff]++;
        }
    }
    for (int b = 0; b < N_PASSES; b++) {
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t count = counts[b][d];
            counts[b][d] = sum;
            sum += count;
        }
        for (size_t i = 0; i < n; i++) {
            tmp[counts[b][(keys[i] >> (8 * b)) & 0xff]++] = keys[i];
        }
        uint64_t *swap = keys;
        keys = tmp;
        tmp = swap;
    }
    free(counts);
}

void
put_conjunctions(struct conj_ref *refs, size_t n, struct ofpbuf *ofpacts)
{
    uint64_t stub[128];
    uint64_t *keys = (n <= NP_ARRAY_SIZE(stub) / 2 ? stub
                      : np_xmalloc(2 * n * sizeof *keys));

    /* Sorted by ID, then clause (as conj_ref_compare() orders them), then
     * number of clauses, which is the same for every ref of one ID. */
    for (size_t j = 0; j < n; j++) {
        keys[j] = (((uint64_t) refs[j].id << 16)
                   | ((uint64_t) refs[j].clause << 8) | refs[j].n_clauses);
    }
    size_t i;
    for (i = 1; i < n && keys[i - 1] <= keys[i]; i++) {
        continue;
    }
    if (i < n) {
        sort_conj_keys(keys, keys + n, n);
    }
    for (i = 0; i < n; i++) {
        refs[i] = (struct conj_ref) {
            .id = keys[i] >> 16,
            .clause = keys[i] >> 8,
            .n_clauses = keys[i],
        };
    }
    if (keys != stub) {
        free(keys);
    }

    ofpbuf_prealloc_tailroom(ofpacts,
                             n * OFPACT_ALIGN(sizeof(struct
                                                     ofpact_conjunction)));
    for (i = 0; i < n; i++) {
        if (i && !conj_ref_compare(&refs[i], &refs[i - 1])) {
            continue;
        }
        struct ofpact_conjunction *oc = ofpact_put_CONJUNCTION(ofpacts);
        oc->id = refs[i].id;
        oc->clause = refs[i].clause;
        oc->n_clauses = refs[i].n_clauses;
    }
}

/* Port lists. */

void
port_list_add(struct port_list *list, uint8_t proto, uint16_t lo,
              uint16_t hi)
{
    list->entries = np_x2nrealloc(list->entries, &list->allocated,
                                  list->n + 1, sizeof *list->entries);
    list->entries[list->n++] = (struct port_entry) {
        .proto = proto, .lo = lo, .hi = hi,
    };
}

static int
compare_port_entries(const void *a_, const void *b_)
{
    const struct port_entry *a = a_, *b = b_;
    if (a->proto != b->proto) {
        return a->proto < b->proto ? -1 : 1;
    }
    if (a->lo != b->lo) {
        return a->lo < b->lo ? -1 : 1;
    }
    return a->hi < b->hi ? -1 : a->hi > b->hi;
}

void
port_list_normalize(struct port_list *list)
{
    np_qsort(list->entries, list->n, sizeof *list->entries,
             compare_port_entries);
    size_t n = 0;
    for (size_t i = 0; i < list->n; i++) {
        if (!n || compare_port_entries(&list->entries[i],
                                       &list->entries[n - 1])) {
            list->entries[n++] = list->entries[i];
        }
    }
    list->n = n;
}

bool
port_list_equal(const struct port_list *a, const struct port_list *b)
{
    return !port_list_compare(a, b);
}

int
port_list_compare(const struct port_list *a, const struct port_list *b)
{
    size_t n = NP_MIN(a->n, b->n);
    for (size_t i = 0; i < n; i++) {
        int cmp = compare_port_entries(&a->entries[i], &b->entries[i]);
        if (cmp) {
            return cmp;
        }
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

void
port_list_format(const struct port_list *list, struct ds *s)
{
    for (size_t i = 0; i < list->n; i++) {
        const struct port_entry *e = &list->entries[i];
        ds_put_format(s, "%s%s:%"PRIu16, i ? "," : "",
                      np_protocol_name(e->proto), e->lo);
        if (e->hi != e->lo) {
            ds_put_format(s, "-%"PRIu16, e->hi);
        }
    }
}

void
port_list_destroy(struct port_list *list)
{
    free(list->entries);
    memset(list, 0, sizeof *list);
}

void
clause_array_add_ports(struct clause_array *array,
                       const struct port_list *list, unsigned int families)
{
    static const int all_families[] = { AF_INET, AF_INET6 };

    for (size_t i = 0; i < list->n; i++) {
        const struct port_entry *e = &list->entries[i];
        struct port_mask masks[PORT_RANGE_MAX_MASKS];
        size_t n_masks = port_range_to_masks(e->lo, e->hi, masks);

        for (size_t f = 0; f < NP_ARRAY_SIZE(all_families); f++) {
            if (!(families & FAMILY_BIT(all_families[f]))) {
                continue;
            }
            for (size_t j = 0; j < n_masks; j++) {
                struct clause_match *m = clause_array_add(array, CLAUSE_L4);
                m->family = all_families[f];
                m->proto = e->proto;
                m->tp_value = masks[j].value;
                m->tp_mask = masks[j].mask;
            }
        }
    }
}

void
rule_numeric_ports(const struct np_rule *rule, struct port_list *list)
{
    for (size_t i = 0; i < rule->n_ports; i++) {
        const struct np_port *port = &rule->ports[i];
        if (port->kind == NP_PORT_ALL) {
            port_list_add(list, port->protocol, 0, UINT16_MAX);
        } else if (port->kind == NP_PORT_NUMBER) {
            port_list_add(list, port->protocol, port->port, port->end_port);
        }
    }
    port_list_normalize(list);
}

bool
rule_has_named_ports(const struct np_rule *rule)
{
    for (size_t i = 0; i < rule->n_ports; i++) {
        if (rule->ports[i].kind == NP_PORT_NAMED) {
            return true;
        }
    }
    return false;
}

void
resolve_named_ports(const struct np_rule *rule, const struct np_pod *pod,
                    struct port_list *list)
{
    for (size_t i = 0; i < rule->n_ports; i++) {
        const struct np_port *port = &rule->ports[i];
        if (port->kind != NP_PORT_NAMED) {
            continue;
        }
        for (size_t j = 0; j < pod->n_ports; j++) {
            const struct np_container_port *cp = &pod->ports[j];
            if (cp->name && !strcmp(cp->name, port->name)
                && cp->protocol == port->protocol) {
                port_list_add(list, cp->protocol, cp->port, cp->port);
            }
        }
    }
    port_list_normalize(list);
}
