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

#ifndef OBJECT_PARSE_H
#define OBJECT_PARSE_H 1

/* Private interfaces of the manifest reader (ovs-netpol/manifest.h).
 *
 * The reader has three parts, all pure (no I/O, no global state):
 *
 *   - manifest.c splits a buffer into objects: JSON read one list item at a
 *     time, YAML through the reader below, "kind: List" unwrapped;
 *
 *   - object-parse.c validates one object and converts it to the model
 *     (model.h), with the defaults a list gives its items;
 *
 *   - yaml.c turns YAML into jansson values, one document (or one item of a
 *     document's list) at a time.
 *
 * This header is what they share; nothing outside flows/ should include it.
 * (The YAML reader would deserve a yaml.h of its own; it lives here only to
 * keep the set of files in flows/automake.mk unchanged.) */

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "ovs-netpol/manifest.h"

/* Objects (object-parse.c). */

/* Like np_object_from_json(), but an object without "kind" is taken to be
 * 'default_kind' and one without "apiVersion" to be 'default_api_version'
 * (either may be NULL for "no default").  That is how the items of an API
 * list response ("kind": "PodList", items without a kind) are read. */
enum np_parse_status object_parse(const json_t *, const char *default_kind,
                                  const char *default_api_version,
                                  const char *source, struct np_object *,
                                  struct np_problems *);

/* Returns true if 'kind' names a list: "List" or "<Something>List". */
bool object_kind_is_list(const char *kind);

/* Returns the kind of the items of a list of kind 'list_kind' ("Pod" for
 * "PodList") as a malloc'd string, or NULL for the generic "List", whose
 * items must say what they are. */
char *object_list_item_kind(const char *list_kind);

/* Reading YAML one document at a time (yaml.c).
 *
 * A document whose root is a mapping with a list "kind" ("List",
 * "PodList", ...) and an "items" sequence can be read one item at a time:
 * each item is passed to a callback as soon as it is complete and then
 * freed, so memory stays proportional to the largest item.  The list's
 * "kind" may come after its "items" (kubectl sorts keys), so the reader
 * runs a second libyaml parser one document ahead that only looks for the
 * root's "kind" and "apiVersion"; that costs a second pass over the text but
 * no memory.  The limits of manifest.h apply: MANIFEST_MAX_DEPTH to the
 * nesting of each document, MANIFEST_MAX_OBJECT_NODES to each streamed item
 * and to the rest of its document, and to each other document as a whole,
 * counting every expansion of a YAML alias. */

struct yaml_reader;

/* Called for item number 'index' (from 0) of a streamed list whose "kind"
 * and "apiVersion" are 'list_kind' and 'list_api_version' (the latter may be
 * NULL).  'item' is freed after the call; take a reference to keep it. */
typedef void yaml_item_cb(const json_t *item, const char *list_kind,
                          const char *list_api_version, size_t index,
                          void *aux);

/* Creates a reader of the 'size' bytes in 'buf', which must stay unchanged
 * until the reader is destroyed.  Items of lists are streamed to 'item_cb'
 * with 'aux' if 'item_cb' is nonnull; otherwise documents are read whole. */
struct yaml_reader *yaml_reader_create(const char *buf, size_t size,
                                       yaml_item_cb *item_cb, void *aux);
void yaml_reader_destroy(struct yaml_reader *);

/* Reads the next document.  On success returns NULL and stores in '*doc'
 * the document (json_null() for an empty document; the caller decrefs it),
 * or NULL at the end of the stream, and in '*streamed' whether the items of
 * the document's list went to the callback (then '*doc' lacks "items").
 * On failure returns a malloc'd message naming the line and column; the
 * reader must then be destroyed. */
char *yaml_reader_next(struct yaml_reader *, json_t **doc, bool *streamed)
    NP_WARN_UNUSED_RESULT;

#endif /* object-parse.h */
