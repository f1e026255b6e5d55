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

#ifndef OVS_NETPOL_UTIL_H
#define OVS_NETPOL_UTIL_H 1

/* Small helpers shared by every part of ovs-netpol.
 *
 * Memory allocation aborts on exhaustion, as Open vSwitch's xmalloc() does:
 * error paths exist only for errors that really happen (bad input, I/O),
 * never for out-of-memory.  libopenvswitch exports its own xmalloc() but does
 * not install the header that declares it, so we keep our own, prefixed
 * 'np_' so that the two never collide at link time. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NP_WARN_UNUSED_RESULT __attribute__((__warn_unused_result__))
#define NP_PRINTF_FORMAT(FMT, ARG1) \
    __attribute__((__format__(__printf__, FMT, ARG1)))
#define NP_ARRAY_SIZE(ARRAY) (sizeof (ARRAY) / sizeof (ARRAY)[0])
/* Marks code that cannot be reached unless there is a bug: aborts with the
 * location, as Open vSwitch's OVS_NOT_REACHED() does (lib/util.h, which
 * libopenvswitch does not install). */
#define NP_NOT_REACHED() np_abort_at(__FILE__, __LINE__)
void np_abort_at(const char *file, int line) __attribute__((__noreturn__));

#define NP_MIN(A, B) ((A) < (B) ? (A) : (B))
#define NP_MAX(A, B) ((A) > (B) ? (A) : (B))

void *np_xmalloc(size_t size) __attribute__((__malloc__));
void *np_xzalloc(size_t size) __attribute__((__malloc__));
void *np_xcalloc(size_t n, size_t size) __attribute__((__malloc__));
void *np_xrealloc(void *p, size_t size);
void *np_xmemdup(const void *p, size_t size) __attribute__((__malloc__));
char *np_xstrdup(const char *s) __attribute__((__malloc__));
char *np_xstrndup(const char *s, size_t n) __attribute__((__malloc__));
char *np_xasprintf(const char *format, ...)
    NP_PRINTF_FORMAT(1, 2) __attribute__((__malloc__));
char *np_xvasprintf(const char *format, va_list)
    NP_PRINTF_FORMAT(1, 0) __attribute__((__malloc__));

/* Grows '*array' (of '*allocated' elements of 'elem_size' bytes) so that it
 * holds at least 'n' elements, doubling as it goes. */
void *np_x2nrealloc(void *array, size_t *allocated, size_t n,
                    size_t elem_size);

/* qsort(), except that an array of fewer than two elements (which may then
 * be a null pointer, as qsort() does not allow) is left alone. */
void np_qsort(void *array, size_t n, size_t size,
              int (*compare)(const void *, const void *));

/* Hashing for hmap keys.  These are not cryptographic: inputs that an
 * attacker controls (names, labels) only land in hash buckets, and hmap
 * stays correct (just slower) under collisions. */
uint32_t np_hash_bytes(const void *p, size_t n, uint32_t basis);
uint32_t np_hash_string(const char *s, uint32_t basis);
uint32_t np_hash_add(uint32_t hash, uint32_t data);

/* Like strerror(), but also knows EOF (end of stream), which
 * libopenvswitch returns where a connection closed. */
const char *np_strerror(int error);

/* Returns true if 's' ends with 'suffix'. */
int np_str_ends_with(const char *s, const char *suffix);

/* Monotonic time in milliseconds and in microseconds. */
long long int np_time_msec(void);
long long int np_time_usec(void);

/* Wall-clock time (since the epoch) in milliseconds. */
long long int np_time_wall_msec(void);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/util.h */
