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

/* util.c: allocation that aborts on exhaustion, hashing, time.  Shared by
 * every layer (flows/, agent/, utilities/); it must never do I/O beyond
 * reporting a fatal out-of-memory on stderr. */

#include <config.h>
#include "ovs-netpol/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void __attribute__((__noreturn__))
out_of_memory(void)
{
    fputs("ovs-netpol: virtual memory exhausted\n", stderr);
    abort();
}

void
np_abort_at(const char *file, int line)
{
    fprintf(stderr, "ovs-netpol: %s:%d: this cannot happen\n", file, line);
    abort();
}

void *
np_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
np_xzalloc(size_t size)
{
    return np_xcalloc(1, size);
}

void *
np_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
np_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
np_xmemdup(const void *p, size_t size)
{
    void *copy = np_xmalloc(size);
    if (size) {
        memcpy(copy, p, size);
    }
    return copy;
}

char *
np_xstrdup(const char *s)
{
    return np_xmemdup(s, strlen(s) + 1);
}

char *
np_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = np_xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *
np_xvasprintf(const char *format, va_list args)
{
    va_list args2;
    va_copy(args2, args);
    int needed = vsnprintf(NULL, 0, format, args);
    char *s = np_xmalloc(needed + 1);
    vsnprintf(s, needed + 1, format, args2);
    va_end(args2);
    return s;
}

char *
np_xasprintf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *s = np_xvasprintf(format, args);
    va_end(args);
    return s;
}

void *
np_x2nrealloc(void *array, size_t *allocated, size_t n, size_t elem_size)
{
    if (n <= *allocated) {
        return array;
    }
    size_t new_allocated = *allocated ? *allocated : 4;
    while (new_allocated < n) {
        if (new_allocated > SIZE_MAX / 2 / elem_size) {
            out_of_memory();
        }
        new_allocated *= 2;
    }
    *allocated = new_allocated;
    return np_xrealloc(array, new_allocated * elem_size);
}

/* Murmur3-style mixing: cheap, and good enough spread for hmap buckets. */
static inline uint32_t
mix(uint32_t hash, uint32_t data)
{
    data *= 0xcc9e2d51;
    data = (data << 15) | (data >> 17);
    data *= 0x1b873593;
    hash ^= data;
    hash = (hash << 13) | (hash >> 19);
    return hash * 5 + 0xe6546b64;
}

static inline uint32_t
finish(uint32_t hash, uint32_t n_bytes)
{
    hash ^= n_bytes;
    hash ^= hash >> 16;
    hash *= 0x85ebca6b;
    hash ^= hash >> 13;
    hash *= 0xc2b2ae35;
    hash ^= hash >> 16;
    return hash;
}

uint32_t
np_hash_add(uint32_t hash, uint32_t data)
{
    return finish(mix(hash, data), 4);
}

uint32_t
np_hash_bytes(const void *p_, size_t n, uint32_t basis)
{
    const uint8_t *p = p_;
    uint32_t hash = basis;
    size_t i;

    for (i = 0; i + 4 <= n; i += 4) {
        uint32_t word;
        memcpy(&word, p + i, 4);
        hash = mix(hash, word);
    }
    if (i < n) {
        uint32_t word = 0;
        memcpy(&word, p + i, n - i);
        hash = mix(hash, word);
    }
    return finish(hash, n);
}

uint32_t
np_hash_string(const char *s, uint32_t basis)
{
    return np_hash_bytes(s, strlen(s), basis);
}

void
np_qsort(void *array, size_t n, size_t size,
         int (*compare)(const void *, const void *))
{
    if (n > 1) {
        qsort(array, n, size, compare);
    }
}

const char *
np_strerror(int error)
{
    return error == EOF ? "end of file" : strerror(error);
}

int
np_str_ends_with(const char *s, const char *suffix)
{
    size_t s_len = strlen(s);
    size_t suffix_len = strlen(suffix);
    return s_len >= suffix_len && !strcmp(s + s_len - suffix_len, suffix);
}

long long int
np_time_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long int) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long int
np_time_msec(void)
{
    return np_time_usec() / 1000;
}

long long int
np_time_wall_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
