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

/* test-port-range.c: unit tests for flows/port-range.c (check suite
 * "port_range").
 *
 * Each result is checked two ways: against a reference tiling computed by
 * splitting the port space top down (which shares no code with the greedy
 * algorithm under test), and, for a few thousand ranges, by matching every
 * one of the 65,536 ports against every block as OpenFlow would.  Random
 * ranges use a fixed seed, printed at start and overridable with
 * NP_TEST_SEED, so that failures reproduce. */

#include <config.h>
#include "flows/port-range.h"

#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ovs-netpol/util.h"

static uint64_t test_seed = 0x706f72742d72ULL;
static uint64_t rng_state;

/* splitmix64, seeded afresh by each test so that a case run alone with
 * CK_RUN_CASE sees the same numbers as in a full run. */
static void
rng_seed(uint64_t salt)
{
    rng_state = test_seed ^ (salt * 0x9e3779b97f4a7c15ULL);
}

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Returns a random range, biased towards the shapes that cost most: ends
 * near powers of two, and short or very long ranges. */
static void
random_range(uint16_t *lo, uint16_t *hi)
{
    uint32_t a = rng_next() & 0xffff;
    uint32_t b = rng_next() & 0xffff;

    switch (rng_next() % 4) {
    case 0:
        b = a + rng_next() % 64;
        break;
    case 1:
        a = (1u << (rng_next() % 17)) + (uint32_t) (rng_next() % 5) - 2;
        b = (1u << (rng_next() % 17)) + (uint32_t) (rng_next() % 5) - 2;
        break;
    default:
        break;
    }
    a &= 0xffff;
    b &= 0xffff;
    *lo = a < b ? a : b;
    *hi = a < b ? b : a;
}

/* The reference: the maximal aligned blocks inside 'lo'...'hi', found by
 * splitting [0, 65536) in halves until each piece lies wholly inside or
 * outside the range.  Appends them to 'out' in increasing order. */
static void
reference_tiling(uint32_t start, uint32_t size, uint32_t lo, uint32_t hi,
                 struct port_mask *out, size_t *n)
{
    uint32_t last = start + size - 1;

    if (last < lo || start > hi) {
        return;
    } else if (lo <= start && last <= hi) {
        struct port_mask *block = &out[(*n)++];
        block->value = start;
        block->mask = 0xffff & ~(size - 1);
    } else {
        reference_tiling(start, size / 2, lo, hi, out, n);
        reference_tiling(start + size / 2, size / 2, lo, hi, out, n);
    }
}

/* Runs port_range_to_masks() on 'lo'...'hi' and checks it against the
 * reference tiling, and, if 'every_port', against all 65,536 ports.  Stores
 * the number of blocks in '*n_masks'.  Returns NULL if all is well,
 * otherwise a malloc'd description of the first problem. */
static char *
check_range(uint16_t lo, uint16_t hi, bool every_port, size_t *n_masks)
{
    struct port_mask masks[PORT_RANGE_MAX_MASKS + 8];
    struct port_mask ref[64];
    size_t n_ref = 0;

    /* Poison the slots past the output, to see it stays in bounds. */
    memset(masks, 0x5a, sizeof masks);
    size_t n = port_range_to_masks(lo, hi, masks);
    *n_masks = n;
    for (size_t i = PORT_RANGE_MAX_MASKS; i < NP_ARRAY_SIZE(masks); i++) {
        if (masks[i].value != 0x5a5a || masks[i].mask != 0x5a5a) {
            return np_xasprintf("%u-%u: wrote past %d masks", lo, hi,
                                PORT_RANGE_MAX_MASKS);
        }
    }
    if (n > PORT_RANGE_MAX_MASKS) {
        return np_xasprintf("%u-%u: %zu masks", lo, hi, n);
    }

    if (lo <= hi) {
        reference_tiling(0, 0x10000, lo, hi, ref, &n_ref);
    }
    if (n != n_ref) {
        return np_xasprintf("%u-%u: %zu masks, expected %zu", lo, hi, n,
                            n_ref);
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t low_bits = ~masks[i].mask;
        if (masks[i].value & low_bits) {
            return np_xasprintf("%u-%u: block %zu has value %#x outside its "
                                "mask %#x", lo, hi, i, masks[i].value,
                                masks[i].mask);
        }
        if (low_bits & (low_bits + 1)) {
            return np_xasprintf("%u-%u: block %zu has a mask %#x that is not "
                                "a prefix", lo, hi, i, masks[i].mask);
        }
        if (i && masks[i].value <= masks[i - 1].value) {
            return np_xasprintf("%u-%u: blocks %zu and %zu out of order",
                                lo, hi, i - 1, i);
        }
        if (masks[i].value != ref[i].value || masks[i].mask != ref[i].mask) {
            return np_xasprintf("%u-%u: block %zu is %#x/%#x, expected "
                                "%#x/%#x", lo, hi, i, masks[i].value,
                                masks[i].mask, ref[i].value, ref[i].mask);
        }
    }

    if (every_port) {
        for (uint32_t port = 0; port <= 0xffff; port++) {
            int n_matches = 0;
            for (size_t i = 0; i < n; i++) {
                n_matches += (port & masks[i].mask) == masks[i].value;
            }
            if (n_matches != (lo <= port && port <= hi)) {
                return np_xasprintf("%u-%u: port %"PRIu32" matches %d "
                                    "blocks", lo, hi, port, n_matches);
            }
        }
    }
    return NULL;
}

/* Asserts that 'lo'...'hi' tiles as 'expected' (of 'n_expected' blocks). */
static void
check_golden(uint16_t lo, uint16_t hi, const struct port_mask *expected,
             size_t n_expected)
{
    struct port_mask masks[PORT_RANGE_MAX_MASKS];
    size_t n = port_range_to_masks(lo, hi, masks);

    ck_assert_msg(n == n_expected, "%u-%u: %zu blocks, expected %zu", lo, hi,
                  n, n_expected);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(masks[i].value == expected[i].value
                      && masks[i].mask == expected[i].mask,
                      "%u-%u: block %zu is %#x/%#x, expected %#x/%#x",
                      lo, hi, i, masks[i].value, masks[i].mask,
                      expected[i].value, expected[i].mask);
    }
}

START_TEST(test_golden)
{
    static const struct port_mask http_alt[] = {
        { 8080, 0xfff8 }, { 8088, 0xfffe }, { 8090, 0xffff },
    };
    check_golden(8080, 8090, http_alt, NP_ARRAY_SIZE(http_alt));

    static const struct port_mask all[] = { { 0, 0 } };
    check_golden(0, 65535, all, 1);

    static const struct port_mask one[] = { { 443, 0xffff } };
    check_golden(443, 443, one, 1);

    static const struct port_mask zero[] = { { 0, 0xffff } };
    check_golden(0, 0, zero, 1);

    static const struct port_mask top[] = { { 65535, 0xffff } };
    check_golden(65535, 65535, top, 1);

    static const struct port_mask high_half[] = { { 32768, 0x8000 } };
    check_golden(32768, 65535, high_half, 1);

    static const struct port_mask low_half[] = { { 0, 0x8000 } };
    check_golden(0, 32767, low_half, 1);

    static const struct port_mask unprivileged[] = {
        { 1024, 0xfc00 }, { 2048, 0xf800 }, { 4096, 0xf000 },
        { 8192, 0xe000 }, { 16384, 0xc000 }, { 32768, 0x8000 },
    };
    check_golden(1024, 65535, unprivileged, NP_ARRAY_SIZE(unprivileged));

    /* 1...65535: one block for each bit, 1/0xffff up to 32768/0x8000. */
    struct port_mask nonzero[16];
    for (int i = 0; i < 16; i++) {
        nonzero[i].value = 1u << i;
        nonzero[i].mask = 0xffff << i;
    }
    check_golden(1, 65535, nonzero, 16);
}
END_TEST

START_TEST(test_empty)
{
    struct port_mask masks[PORT_RANGE_MAX_MASKS];

    ck_assert_uint_eq(port_range_to_masks(1, 0, masks), 0);
    ck_assert_uint_eq(port_range_to_masks(8090, 8080, masks), 0);
    ck_assert_uint_eq(port_range_to_masks(65535, 0, masks), 0);
}
END_TEST

/* The worst ranges cost 30 blocks, and none costs more. */
START_TEST(test_worst_case)
{
    struct port_mask masks[PORT_RANGE_MAX_MASKS];

    ck_assert_uint_eq(port_range_to_masks(1, 65534, masks), 30);
    ck_assert_uint_eq(port_range_to_masks(0, 65534, masks), 16);
    ck_assert_uint_eq(port_range_to_masks(1, 65535, masks), 16);
}
END_TEST

/* Every single port, and every range that starts at 0 or ends at 65535, or
 * starts at 1 or ends at 65534, against the reference tiling. */
START_TEST(test_exhaustive_edges)
{
    int n_bad = 0;
    char *first_bad = NULL;
    size_t max_masks = 0;

    for (uint32_t p = 0; p <= 0xffff; p++) {
        const uint16_t ranges[][2] = {
            { p, p }, { 0, p }, { p, 65535 }, { 1, p }, { p, 65534 },
        };
        for (size_t i = 0; i < NP_ARRAY_SIZE(ranges); i++) {
            size_t n;
            char *problem = check_range(ranges[i][0], ranges[i][1], false,
                                        &n);
            if (problem && !n_bad++) {
                first_bad = problem;
            } else {
                free(problem);
            }
            if (n > max_masks) {
                max_masks = n;
            }
        }
    }
    ck_assert_msg(!n_bad, "%d failures, first %s", n_bad, first_bad);
    free(first_bad);
    ck_assert_uint_eq(max_masks, 30);
}
END_TEST

/* Random ranges against the reference tiling, and the bound of 30. */
START_TEST(test_random)
{
    int n_bad = 0;
    char *first_bad = NULL;
    size_t max_masks = 0;

    rng_seed(1);
    for (int iter = 0; iter < 500000; iter++) {
        uint16_t lo, hi;
        size_t n;

        random_range(&lo, &hi);
        char *problem = check_range(lo, hi, false, &n);
        if (problem && !n_bad++) {
            first_bad = problem;
        } else {
            free(problem);
        }
        if (n > max_masks) {
            max_masks = n;
        }
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d failures, first %s",
                  test_seed, n_bad, first_bad);
    free(first_bad);
    ck_assert_msg(max_masks <= 30, "a range needed %zu blocks", max_masks);

    /* The generator must reach the costly ranges for the bound to mean
     * anything. */
    ck_assert_msg(max_masks >= 28, "seed %"PRIu64": at most %zu blocks",
                  test_seed, max_masks);
}
END_TEST

/* Every port against every block, as the switch would match them. */
START_TEST(test_every_port)
{
    static const uint16_t ends[] = {
        0, 1, 2, 3, 7, 8, 80, 443, 1023, 1024, 1025, 8080, 8090, 32767,
        32768, 32769, 49151, 49152, 65533, 65534, 65535,
    };
    int n_bad = 0;
    char *first_bad = NULL;

    for (size_t i = 0; i < NP_ARRAY_SIZE(ends); i++) {
        for (size_t j = 0; j < NP_ARRAY_SIZE(ends); j++) {
            size_t n;
            char *problem = check_range(ends[i], ends[j], true, &n);
            if (problem && !n_bad++) {
                first_bad = problem;
            } else {
                free(problem);
            }
        }
    }

    rng_seed(2);
    for (int iter = 0; iter < 300; iter++) {
        uint16_t lo, hi;
        size_t n;

        random_range(&lo, &hi);
        char *problem = check_range(lo, hi, true, &n);
        if (problem && !n_bad++) {
            first_bad = problem;
        } else {
            free(problem);
        }
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d failures, first %s",
                  test_seed, n_bad, first_bad);
    free(first_bad);
}
END_TEST

static Suite *
port_range_suite(void)
{
    Suite *s = suite_create("port_range");
    TCase *tc;

    tc = tcase_create("golden");
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_worst_case);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exhaustive_edges);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_every_port);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    const char *seed = getenv("NP_TEST_SEED");
    if (seed) {
        test_seed = strtoull(seed, NULL, 0);
    }
    printf("test-port-range: seed %"PRIu64" (set NP_TEST_SEED to change)\n",
           test_seed);
    fflush(stdout);

    SRunner *sr = srunner_create(port_range_suite());
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
