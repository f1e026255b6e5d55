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

#ifndef LABEL_INDEX_H
#define LABEL_INDEX_H 1

/* Items (pods) by the value of a label, one key at a time.
 *
 * Resolving the peers of a rule means testing selectors against pods, and a
 * selector such as app=web names a few pods of many: testing every pod of
 * every namespace a namespaceSelector matches is most of the work at scale.
 * A label index answers "which items have KEY=VALUE" with a list instead.
 *
 * The caller numbers its items 0...n-1 and says how to get their labels.
 * The index reads every item's value of a key the first time it is asked
 * about that key (one labels_get() per item), so keys that no selector uses
 * cost nothing.  Lists are in ascending item order.
 *
 * An index is valid as long as the items and their labels do not change:
 * the compiler and the engine's rebuild build one per call.  Private to
 * flows/.  Pure: no I/O. */

#include <stddef.h>
#include <stdint.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/model.h"

/* Below this many items to test, an index does not pay. */
#define LABEL_INDEX_MIN_SCAN 64

struct label_index {
    size_t n_items;
    const struct labels *(*get_labels)(const void *aux, size_t item);
    const void *aux;
    struct hmap keys;           /* Contains struct label_key (private). */
};

void label_index_init(struct label_index *, size_t n_items,
                      const struct labels *(*get_labels)(const void *aux,
                                                         size_t item),
                      const void *aux);
void label_index_destroy(struct label_index *);

/* Returns the items whose label 'key' has value 'value', in ascending
 * order, storing their number in '*n' (NULL and 0 if none). */
const uint32_t *label_index_lookup(struct label_index *, const char *key,
                                   const char *value, size_t *n);

/* Returns the index (in 'sel->reqs') of the "In" requirement of 'sel' that
 * the fewest items satisfy, if fewer than 'max' do, storing their number in
 * '*n'.  Returns SIZE_MAX if 'sel' has no such requirement: then testing
 * the 'max' candidates the caller has is the better plan. */
size_t label_index_best_req(struct label_index *, const struct selector *sel,
                            size_t max, size_t *n);

#endif /* label-index.h */
