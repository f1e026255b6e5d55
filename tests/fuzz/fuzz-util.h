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

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H 1

/* Helpers shared by the libFuzzer targets in tests/fuzz/ (see README.md
 * there).  Header-only: each target is one .c file plus this.
 *
 *   - FUZZ_CHECK(COND, ...) reports a broken invariant and aborts, which
 *     libFuzzer records as a crash with the input that caused it;
 *
 *   - 'struct fuzz_bytes' turns the fuzz input into choices ("structured
 *     fuzzing"): each choice consumes bytes from the front, and an
 *     exhausted input reads as zeros, so every input is valid and short
 *     inputs mean small, simple cases;
 *
 *   - fuzz_quiet_logs() turns libopenvswitch's logging off: a target that
 *     prints for each input runs a hundred times slower. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/vlog.h>

#define FUZZ_CHECK(COND, ...)                                           \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: invariant \"%s\" broken: ",         \
                    __FILE__, __LINE__, #COND);                         \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
            abort();                                                    \
        }                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline void
fuzz_quiet_logs(void)
{
    /* FUZZ_VERBOSE=1 keeps the logs, to see why an input is refused. */
    if (!getenv("FUZZ_VERBOSE")) {
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    }
}

struct fuzz_bytes {
    const uint8_t *data;
    size_t size;
};

static inline uint8_t
fuzz_u8(struct fuzz_bytes *in)
{
    if (!in->size) {
        return 0;
    }
    in->size--;
    return *in->data++;
}

static inline uint16_t
fuzz_u16(struct fuzz_bytes *in)
{
    uint16_t hi = fuzz_u8(in);
    return (hi << 8) | fuzz_u8(in);
}

/* 0...n-1 (n <= 65536). */
static inline unsigned int
fuzz_range(struct fuzz_bytes *in, unsigned int n)
{
    return n <= 1 ? 0 : n <= 256 ? fuzz_u8(in) % n : fuzz_u16(in) % n;
}

static inline bool
fuzz_bool(struct fuzz_bytes *in)
{
    return fuzz_u8(in) & 1;
}

static inline const char *
fuzz_pick(struct fuzz_bytes *in, const char *const *choices, size_t n)
{
    return choices[fuzz_range(in, n)];
}
#define FUZZ_PICK(IN, ARRAY) \
    fuzz_pick(IN, ARRAY, sizeof (ARRAY) / sizeof *(ARRAY))

/* Takes up to 'max' bytes as a string: a length byte, then the bytes,
 * with NULs turned into 'x'.  The caller frees the result. */
static inline char *
fuzz_string(struct fuzz_bytes *in, size_t max)
{
    size_t n = fuzz_u8(in) % (max + 1);
    if (n > in->size) {
        n = in->size;
    }
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        s[i] = in->data[i] ? (char) in->data[i] : 'x';
    }
    s[n] = '\0';
    in->data += n;
    in->size -= n;
    return s;
}

#endif /* fuzz-util.h */
