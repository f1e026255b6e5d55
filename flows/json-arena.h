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

#ifndef JSON_ARENA_H
#define JSON_ARENA_H 1

/* A bump allocator for the jansson values of one manifest item.
 *
 * Loading a big "kind: List" parses each item with json_loadb(), turns it
 * into a model object and frees it: a dozen small mallocs and frees per
 * item, a fifth of the parse.  Between json_arena_begin() and
 * json_arena_end() the calling thread's jansson allocations come from the
 * arena (or from malloc() once it is full) and frees of them do nothing;
 * json_arena_begin() starts the arena over.  Other threads, and this one
 * outside the pair, allocate as usual.
 *
 * The rule that makes this safe: every jansson value allocated between
 * begin and end is freed before end (the item is loaded, read and
 * decref'd); nothing keeps a reference past it.
 *
 * Built with AddressSanitizer, the arena is off (plain malloc), so that the
 * sanitizer still sees every value's lifetime. */

#include <stddef.h>

struct json_arena {
    char *base;
    size_t size;
    size_t used;
};

void json_arena_init(struct json_arena *, size_t size);
void json_arena_destroy(struct json_arena *);

void json_arena_begin(struct json_arena *);
void json_arena_end(struct json_arena *);

#endif /* json-arena.h */
