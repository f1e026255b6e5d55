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

/* label-index.c: items by label value, built one key at a time on demand
 * (label-index.h), for the compiler's and the engine's peer selection.
 * Pure: no I/O. */

#include <config.h>
#include "label-index.h"

#include <stdlib.h>
#include <string.h>
#include "ovs-netpol/util.h"

/* One key: its values. */
struct label_key {
    struct hmap_node node;      /* In 'index->keys', by key. */
    char *key;
    struct hmap values;         /* Contains struct label_value. */
};

/* One value of a key: the items that have it. */
struct label_value {
    struct hmap_node node;      /* In 'key->values', by value. */
    const char *value;          /* Points into the labels of an item. */
    uint32_t *items;            /* Ascending. */
    size_t n, allocated;
};

void
label_index_init(struct label_index *index, size_t n_items,
                 const struct labels *(*get_labels)(const void *aux,
                                                    size_t item),
                 const void *aux)
{
    index->n_items = n_items;
    index->get_labels = get_labels;
    index->aux = aux;
    hmap_init(&index->keys);
}

void
label_index_destroy(struct label_index *index)
{
    if (index) {
        struct label_key *k;
        HMAP_FOR_EACH_POP (k, node, &index->keys) {
            struct label_value *v;
            HMAP_FOR_EACH_POP (v, node, &k->values) {
                free(v->items);
                free(v);
            }
            hmap_destroy(&k->values);
            free(k->key);
            free(k);
        }
        hmap_destroy(&index->keys);
    }
}

static struct label_value *
label_value_find(const struct label_key *k, const char *value)
{
    struct label_value *v;
    HMAP_FOR_EACH_WITH_HASH (v, node, np_hash_string(value, 0), &k->values) {
        if (!strcmp(v->value, value)) {
            return v;
        }
    }
    return NULL;
}

/* Returns the index of 'key', building it if needed. */
static const struct label_key *
label_key_get(struct label_index *index, const char *key)
{
    uint32_t hash = np_hash_string(key, 0);
    struct label_key *k;
    HMAP_FOR_EACH_WITH_HASH (k, node, hash, &index->keys) {
        if (!strcmp(k->key, key)) {
            return k;
        }
    }

    k = np_xzalloc(sizeof *k);
    k->key = np_xstrdup(key);
    hmap_init(&k->values);
    for (size_t i = 0; i < index->n_items; i++) {
        const struct labels *labels = index->get_labels(index->aux, i);
        const char *value = labels_get(labels, key);
        if (!value) {
            continue;
        }
        struct label_value *v = label_value_find(k, value);
        if (!v) {
            v = np_xzalloc(sizeof *v);
            v->value = value;
            hmap_insert(&k->values, &v->node, np_hash_string(value, 0));
        }
        v->items = np_x2nrealloc(v->items, &v->allocated, v->n + 1,
                                 sizeof *v->items);
        v->items[v->n++] = i;
    }
    hmap_insert(&index->keys, &k->node, hash);
    return k;
}

const uint32_t *
label_index_lookup(struct label_index *index, const char *key,
                   const char *value, size_t *n)
{
    const struct label_key *k = label_key_get(index, key);
    const struct label_value *v = label_value_find(k, value);
    *n = v ? v->n : 0;
    return v ? v->items : NULL;
}

size_t
label_index_best_req(struct label_index *index, const struct selector *sel,
                     size_t max, size_t *n)
{
    size_t best = SIZE_MAX;
    *n = 0;
    for (size_t i = 0; i < sel->n_reqs; i++) {
        const struct selector_req *req = &sel->reqs[i];
        if (req->op != SELECTOR_IN) {
            continue;
        }
        size_t count = 0;
        for (size_t j = 0; j < req->n_values; j++) {
            size_t n_items;
            label_index_lookup(index, req->key, req->values[j], &n_items);
            count += n_items;
        }
        if (count < max) {
            best = i;
            max = count;
            *n = count;
        }
    }
    return best;
}
