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

/* conj-ids.c: stable conjunction IDs for rules, and the map back from an ID
 * to its rule (conj-ids.h).  Used by the compiler to number conjunctions
 * and by every tool that names the rule behind a flow.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/conj-ids.h"

#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/util.h"

static uint32_t
rule_key_hash(const char *ns, const char *policy, enum np_direction dir,
              unsigned int index, const char *variant)
{
    uint32_t hash = np_hash_string(ns, 0x6e70);
    hash = np_hash_string(policy, hash);
    hash = np_hash_add(hash, dir);
    hash = np_hash_add(hash, index);
    return np_hash_string(variant, hash);
}

static bool
rule_ref_has_key(const struct rule_ref *ref, const char *ns,
                 const char *policy, enum np_direction dir,
                 unsigned int index, const char *variant)
{
    return (ref->dir == dir && ref->index == index
            && !strcmp(ref->namespace, ns) && !strcmp(ref->policy, policy)
            && !strcmp(ref->variant, variant));
}

void
conj_ids_init(struct conj_ids *ids)
{
    hmap_init(&ids->by_id);
    hmap_init(&ids->by_key);
    ids->generation = 0;
    ids->n_retired = 0;
}

static void
rule_ref_destroy(struct rule_ref *ref)
{
    free(ref->namespace);
    free(ref->policy);
    free(ref->variant);
    free(ref);
}

void
conj_ids_destroy(struct conj_ids *ids)
{
    if (ids) {
        struct rule_ref *ref;
        HMAP_FOR_EACH_POP (ref, id_node, &ids->by_id) {
            rule_ref_destroy(ref);
        }
        hmap_destroy(&ids->by_id);
        hmap_destroy(&ids->by_key);
    }
}

const struct rule_ref *
conj_ids_find(const struct conj_ids *ids, uint32_t id)
{
    const struct rule_ref *ref;
    HMAP_FOR_EACH_WITH_HASH (ref, id_node, np_hash_add(0, id), &ids->by_id) {
        if (ref->id == id) {
            return ref;
        }
    }
    return NULL;
}

static struct rule_ref *
conj_ids_find_key(const struct conj_ids *ids, uint32_t hash, const char *ns,
                  const char *policy, enum np_direction dir,
                  unsigned int index, const char *variant)
{
    struct rule_ref *ref;
    HMAP_FOR_EACH_WITH_HASH (ref, key_node, hash, &ids->by_key) {
        if (rule_ref_has_key(ref, ns, policy, dir, index, variant)) {
            return ref;
        }
    }
    return NULL;
}

/* Removes the oldest half of the retired entries, once they outnumber the
 * live ones (and a floor, so that small clusters keep their history). */
static void
conj_ids_purge(struct conj_ids *ids)
{
    size_t n_live = hmap_count(&ids->by_id) - ids->n_retired;
    if (ids->n_retired <= 1024 || ids->n_retired <= n_live) {
        return;
    }

    unsigned long long int *gens = np_xmalloc(ids->n_retired * sizeof *gens);
    struct rule_ref *ref;
    size_t n = 0;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (ref->retired) {
            gens[n++] = ref->generation;
        }
    }
    /* The median generation: purge everything retired at or before it. */
    unsigned long long int lo = gens[0], hi = gens[0];
    for (size_t i = 0; i < n; i++) {
        lo = gens[i] < lo ? gens[i] : lo;
        hi = gens[i] > hi ? gens[i] : hi;
    }
    free(gens);
    unsigned long long int cutoff = lo + (hi - lo) / 2;

    HMAP_FOR_EACH_SAFE (ref, id_node, &ids->by_id) {
        if (ref->retired && ref->generation <= cutoff) {
            hmap_remove(&ids->by_id, &ref->id_node);
            hmap_remove(&ids->by_key, &ref->key_node);
            rule_ref_destroy(ref);
            ids->n_retired--;
        }
    }
}

uint32_t
conj_ids_alloc(struct conj_ids *ids, const char *ns, const char *policy,
               enum np_direction dir, unsigned int index,
               const char *variant)
{
    uint32_t hash = rule_key_hash(ns, policy, dir, index, variant);
    struct rule_ref *ref = conj_ids_find_key(ids, hash, ns, policy, dir,
                                             index, variant);
    if (ref) {
        if (ref->retired) {
            ref->retired = false;
            ids->n_retired--;
        }
        ref->generation = ids->generation;
        return ref->id;
    }

    /* Probe from the hash for a number nobody holds, live or retired. */
    uint32_t id = hash & 0x7fffffff;
    while (!id || conj_ids_find(ids, id)) {
        id = (id + 1) & 0x7fffffff;
    }

    ref = np_xzalloc(sizeof *ref);
    ref->id = id;
    ref->namespace = np_xstrdup(ns);
    ref->policy = np_xstrdup(policy);
    ref->dir = dir;
    ref->index = index;
    ref->variant = np_xstrdup(variant);
    ref->generation = ids->generation;
    hmap_insert(&ids->by_id, &ref->id_node, np_hash_add(0, id));
    hmap_insert(&ids->by_key, &ref->key_node, hash);
    return id;
}

void
conj_ids_release(struct conj_ids *ids, uint32_t id)
{
    struct rule_ref *ref = CONST_CAST(struct rule_ref *,
                                      conj_ids_find(ids, id));
    if (ref && !ref->retired) {
        ref->retired = true;
        ref->generation = ids->generation;
        ids->n_retired++;
        conj_ids_purge(ids);
    }
}

void
conj_ids_begin(struct conj_ids *ids)
{
    ids->generation++;
}

void
conj_ids_sweep(struct conj_ids *ids)
{
    struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (!ref->retired && ref->generation != ids->generation) {
            ref->retired = true;
            ids->n_retired++;
        }
    }
    conj_ids_purge(ids);
}

size_t
conj_ids_count_live(const struct conj_ids *ids)
{
    return hmap_count(&ids->by_id) - ids->n_retired;
}

void
rule_ref_format(const struct rule_ref *ref, struct ds *s)
{
    ds_put_format(s, "%s/%s %s rule %u", ref->namespace, ref->policy,
                  np_direction_name(ref->dir), ref->index);
    if (ref->variant[0]) {
        ds_put_format(s, " [%s]", ref->variant);
    }
}
