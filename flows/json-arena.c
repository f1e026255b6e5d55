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

#include <config.h>
#include "json-arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>
#include <openvswitch/compiler.h>
#include "ovs-netpol/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ENABLED 0
#endif
#endif
#ifndef ARENA_ENABLED
#define ARENA_ENABLED 1
#endif

#define ARENA_ALIGN 16          /* What malloc() guarantees on x86-64. */

/* The arena of this thread, between begin and end. */
static __thread struct json_arena *current;

static void *
arena_malloc(size_t n)
{
    struct json_arena *a = current;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
    if (!a || rounded < n || rounded > a->size - a->used) {
        return malloc(n);
    }
    void *p = a->base + a->used;
    a->used += rounded;
    return p;
}

static void
arena_free(void *p)
{
    struct json_arena *a = current;
    uintptr_t u = (uintptr_t) p, base = a ? (uintptr_t) a->base : 0;
    if (a && u >= base && u < base + a->size) {
        return;                 /* Reclaimed by the next begin. */
    }
    free(p);
}

/* Installed once for the whole process: outside an arena the two
 * functions are malloc() and free(). */
static void
install_alloc_funcs(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void
json_arena_init(struct json_arena *a, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_alloc_funcs);
    a->size = ARENA_ENABLED ? size : 0;
    a->base = a->size ? np_xmalloc(a->size) : NULL;
    a->used = 0;
}

void
json_arena_destroy(struct json_arena *a)
{
    free(a->base);
    a->base = NULL;
    a->size = a->used = 0;
}

void
json_arena_begin(struct json_arena *a)
{
    a->used = 0;
    current = a->size ? a : NULL;
}

void
json_arena_end(struct json_arena *a OVS_UNUSED)
{
    current = NULL;
}
