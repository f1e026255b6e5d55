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

/* test-cidr.c: unit tests for flows/cidr.c (check suite "cidr").
 *
 * Parsing and formatting are checked against tables of good and bad text
 * and exact error messages.  The prefix arithmetic is checked against an
 * independent reference that treats a prefix as an interval of 128-bit
 * integers, and cidr_difference() is checked against brute force: random
 * prefixes and exceptions inside a 4,096-address IPv4 or IPv6 subspace,
 * whose every address is enumerated.  Random cases use a fixed seed, printed
 * at start and overridable with NP_TEST_SEED, so that failures reproduce. */

#include <config.h>
#include "ovs-netpol/cidr.h"

#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>

/* Random numbers (splitmix64), seeded afresh by each test so that a case run
 * alone with CK_RUN_CASE sees the same numbers as in a full run. */

static uint64_t test_seed = 0x6f76732d6e6574ULL;
static uint64_t rng_state;

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

static unsigned int
rng_below(unsigned int n)
{
    return rng_next() % n;
}

/* The reference model: a prefix as the interval ['first', 'last'] of
 * addresses, each address an integer (IPv4 in the low 32 bits).  It shares
 * no code with cidr.c. */

typedef unsigned __int128 u128;

static int
family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* The mask of the bits past a prefix of length 'plen'. */
static u128
host_mask(int family, int plen)
{
    int width = family_bits(family) - plen;
    return width >= 128 ? ~(u128) 0 : ((u128) 1 << width) - 1;
}

static u128
addr_value(const struct cidr *c)
{
    int n_bytes = family_bits(c->family) / 8;
    u128 value = 0;

    for (int i = 0; i < n_bytes; i++) {
        value = (value << 8) | c->addr[i];
    }
    return value;
}

static u128
span_first(const struct cidr *c)
{
    return addr_value(c) & ~host_mask(c->family, c->plen);
}

static u128
span_last(const struct cidr *c)
{
    return addr_value(c) | host_mask(c->family, c->plen);
}

/* Returns the prefix of length 'plen' that holds address 'value'. */
static struct cidr
make_cidr(int family, u128 value, int plen)
{
    struct cidr c;
    int n_bytes = family_bits(family) / 8;

    memset(&c, 0, sizeof c);
    c.family = family;
    c.plen = plen;
    value &= ~host_mask(family, plen);
    for (int i = n_bytes - 1; i >= 0; i--) {
        c.addr[i] = value & 0xff;
        value >>= 8;
    }
    return c;
}

static bool
ref_contains(const struct cidr *outer, const struct cidr *inner)
{
    return (outer->family == inner->family
            && span_first(outer) <= span_first(inner)
            && span_last(inner) <= span_last(outer));
}

static bool
ref_overlaps(const struct cidr *a, const struct cidr *b)
{
    u128 first = span_first(a) > span_first(b) ? span_first(a)
                                               : span_first(b);
    u128 last = span_last(a) < span_last(b) ? span_last(a) : span_last(b);
    return a->family == b->family && first <= last;
}

/* True if 'c' is in the canonical form model.h promises: a known family, a
 * length in range and no bits set past it (nor past byte 4 for IPv4). */
static bool
is_canonical(const struct cidr *c)
{
    if ((c->family != AF_INET && c->family != AF_INET6)
        || c->plen > family_bits(c->family)) {
        return false;
    }
    struct cidr copy = make_cidr(c->family, addr_value(c), c->plen);
    return !memcmp(&copy, c, sizeof copy);
}

static u128
random_u128(void)
{
    return ((u128) rng_next() << 64) | rng_next();
}

/* Returns a random prefix of length 'plen' inside 'outer' (whose length must
 * not exceed 'plen'). */
static struct cidr
random_inside(const struct cidr *outer, int plen)
{
    u128 value = span_first(outer)
                 | (random_u128() & host_mask(outer->family, outer->plen));
    return make_cidr(outer->family, value, plen);
}

static struct cidr
random_cidr(int family, int plen)
{
    struct cidr all = make_cidr(family, 0, 0);
    return random_inside(&all, plen);
}

static void
format_list(const struct cidr *list, size_t n, struct ds *s)
{
    ds_put_char(s, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) {
            ds_put_cstr(s, ", ");
        }
        cidr_format(&list[i], false, s);
    }
    ds_put_char(s, '}');
}

static char *
list_to_string(const struct cidr *list, size_t n)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    format_list(list, n, &s);
    return ds_steal_cstr(&s);
}

static struct cidr
parse_ok(const char *s)
{
    struct cidr c;
    char *error = cidr_parse(s, true, &c);
    ck_assert_msg(!error, "cidr_parse(\"%s\") failed: %s", s, error);
    return c;
}

/* Parsing and formatting. */

struct parse_case {
    const char *input;
    bool allow_host;
    const char *output;         /* cidr_to_string(), or NULL for an error. */
};

static const struct parse_case parse_cases[] = {
    /* IPv4. */
    { "10.0.0.0/8", false, "10.0.0.0/8" },
    { "0.0.0.0/0", false, "0.0.0.0/0" },
    { "255.255.255.255/32", false, "255.255.255.255/32" },
    { "1.2.3.4/32", false, "1.2.3.4/32" },
    { "1.2.3.4/0", false, "0.0.0.0/0" },
    { "10.1.2.3/8", false, "10.0.0.0/8" },
    { "192.168.1.255/23", false, "192.168.0.0/23" },
    { "172.31.255.255/12", false, "172.16.0.0/12" },
    { "10.0.0.0/08", false, "10.0.0.0/8" },   /* As Go's ParseCIDR(). */
    { "10.0.0.0/0032", false, "10.0.0.0/32" },
    { "10.0.0.1", true, "10.0.0.1/32" },
    { "10.0.0.1/24", true, "10.0.0.0/24" },

    /* IPv6. */
    { "::/0", false, "::/0" },
    { "2001:DB8::1/32", false, "2001:db8::/32" },
    { "2001:db8:0:0:1:0:0:1/128", false, "2001:db8::1:0:0:1/128" },
    { "2001:db8:0:1:1:1:1:1/128", false, "2001:db8:0:1:1:1:1:1/128" },
    { "0:0:0:0:0:0:0:1/128", false, "::1/128" },
    { "fe80::1:2:3:4/64", false, "fe80::/64" },
    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127", false,
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127" },
    { "::ffff:10.1.2.3/120", false, "::ffff:10.1.2.0/120" },
    { "0000:0000:0000:0000:0000:ffff:255.255.255.255/128", false,
      "::ffff:255.255.255.255/128" },
    { "::1", true, "::1/128" },

    /* Bad lengths. */
    { "10.0.0.0/33", false, NULL },
    { "10.0.0.0/33", true, NULL },
    { "::/129", false, NULL },
    { "10.0.0.0/", false, NULL },
    { "10.0.0.0/-1", false, NULL },
    { "10.0.0.0/+8", false, NULL },
    { "10.0.0.0/ 8", false, NULL },
    { "10.0.0.0/8 ", false, NULL },
    { "10.0.0.0/0x8", false, NULL },
    { "10.0.0.0/8/8", false, NULL },
    { "10.0.0.0/99999999999999999999999", false, NULL },
    { "10.0.0.0/4294967304", false, NULL },   /* 2**32 + 8. */
    { "10.0.0.0/255.0.0.0", false, NULL },

    /* Bad addresses. */
    { "", false, NULL },
    { "", true, NULL },
    { "/8", false, NULL },
    { "10.0.0.0", false, NULL },
    { "::", false, NULL },
    { " 10.0.0.0/8", false, NULL },
    { "10.0.0/8", false, NULL },
    { "10/8", false, NULL },
    { "010.0.0.0/8", false, NULL },
    { "10.0.0.256/8", false, NULL },
    { "10.0.0.0.0/8", false, NULL },
    { "fe80::1%eth0/64", false, NULL },
    { "fe80::1%eth0", true, NULL },
    { "2001:db8::g/32", false, NULL },
    { "1:2:3:4:5:6:7:8:9/64", false, NULL },
    { "[::1]/128", false, NULL },
    { "example.com/24", false, NULL },
    { "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.1/128", false, NULL },
};

START_TEST(test_parse)
{
    for (size_t i = 0; i < NP_ARRAY_SIZE(parse_cases); i++) {
        const struct parse_case *pc = &parse_cases[i];
        struct cidr c;
        char *error = cidr_parse(pc->input, pc->allow_host, &c);

        if (pc->output) {
            ck_assert_msg(!error, "\"%s\": unexpected error \"%s\"",
                          pc->input, error);
            ck_assert_msg(is_canonical(&c), "\"%s\": not canonical",
                          pc->input);
            char *s = cidr_to_string(&c);
            ck_assert_str_eq(s, pc->output);
            free(s);
        } else {
            char *expected = np_xasprintf("invalid CIDR address: %s",
                                          pc->input);
            ck_assert_msg(error, "\"%s\": parsed but should not",
                          pc->input);
            ck_assert_str_eq(error, expected);
            free(expected);
            free(error);
        }
    }
}
END_TEST

START_TEST(test_parse_error_text)
{
    struct cidr c;
    char *error;

    /* Unprintable bytes are escaped and long input is cut short, since the
     * message quotes text from the Kubernetes API into logs. */
    error = cidr_parse("10.0.0.0/8\n", false, &c);
    ck_assert_str_eq(error, "invalid CIDR address: 10.0.0.0/8\\x0a");
    free(error);

    error = cidr_parse("10.0.0.0/\x1b[31m", false, &c);
    ck_assert_str_eq(error, "invalid CIDR address: 10.0.0.0/\\x1b[31m");
    free(error);

    char long_input[200];
    memset(long_input, '1', sizeof long_input - 1);
    long_input[sizeof long_input - 1] = '\0';
    error = cidr_parse(long_input, true, &c);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strlen(error) < 100, "message too long: %s", error);
    ck_assert_msg(np_str_ends_with(error, "..."), "not cut: %s", error);
    free(error);
}
END_TEST

START_TEST(test_parse_address)
{
    static const char *good[][2] = {
        { "10.0.0.1", "10.0.0.1/32" },
        { "0.0.0.0", "0.0.0.0/32" },
        { "::1", "::1/128" },
        { "2001:DB8::", "2001:db8::/128" },
    };
    static const char *bad[] = {
        "", "10.0.0.1/32", "::1/128", "10.0.0", "1.2.3.4 ", "01.2.3.4",
        "fe80::1%lo", "localhost",
    };
    struct cidr c;

    for (size_t i = 0; i < NP_ARRAY_SIZE(good); i++) {
        ck_assert_msg(cidr_parse_address(good[i][0], &c), "%s", good[i][0]);
        ck_assert(is_canonical(&c));
        ck_assert(cidr_is_host(&c));
        char *s = cidr_to_string(&c);
        ck_assert_str_eq(s, good[i][1]);
        free(s);
    }
    for (size_t i = 0; i < NP_ARRAY_SIZE(bad); i++) {
        ck_assert_msg(!cidr_parse_address(bad[i], &c), "\"%s\"", bad[i]);
    }
}
END_TEST

START_TEST(test_format)
{
    struct cidr c;
    struct ds s = DS_EMPTY_INITIALIZER;

    c = parse_ok("10.0.0.1");
    cidr_format(&c, true, &s);
    ck_assert_str_eq(ds_cstr(&s), "10.0.0.1");
    ds_clear(&s);
    cidr_format(&c, false, &s);
    ck_assert_str_eq(ds_cstr(&s), "10.0.0.1/32");

    /* cidr_format() appends. */
    c = parse_ok("10.0.0.0/31");
    ds_put_cstr(&s, " ");
    cidr_format(&c, true, &s);
    ck_assert_str_eq(ds_cstr(&s), "10.0.0.1/32 10.0.0.0/31");

    ds_clear(&s);
    c = parse_ok("fd00::1");
    cidr_format(&c, true, &s);
    ck_assert_str_eq(ds_cstr(&s), "fd00::1");
    ds_clear(&s);
    c = parse_ok("::/0");
    cidr_format(&c, true, &s);
    ck_assert_str_eq(ds_cstr(&s), "::/0");
    ds_destroy(&s);
}
END_TEST

/* Formats random prefixes of every length and parses them back. */
START_TEST(test_format_round_trip)
{
    int n_bad = 0;
    char *first_bad = NULL;

    rng_seed(1);
    for (int iter = 0; iter < 20; iter++) {
        for (int f = 0; f < 2; f++) {
            int family = f ? AF_INET6 : AF_INET;
            for (int plen = 0; plen <= family_bits(family); plen++) {
                struct cidr c = random_cidr(family, plen);
                char *s = cidr_to_string(&c);
                struct cidr back, host_back;
                char *error = cidr_parse(s, false, &back);
                bool ok = !error && cidr_equal(&c, &back)
                          && !memcmp(&c, &back, sizeof c);

                /* The short host form must parse back with 'allow_host'. */
                struct ds host = DS_EMPTY_INITIALIZER;
                cidr_format(&c, true, &host);
                char *error2 = cidr_parse(ds_cstr(&host), true, &host_back);
                bool has_slash = strchr(ds_cstr(&host), '/') != NULL;
                ok = ok && !error2 && cidr_equal(&c, &host_back);
                ok = ok && has_slash == (plen != family_bits(family));

                /* IPv4 text is easy to build independently. */
                if (family == AF_INET) {
                    char expected[32];
                    snprintf(expected, sizeof expected, "%d.%d.%d.%d/%d",
                             c.addr[0], c.addr[1], c.addr[2], c.addr[3],
                             plen);
                    ok = ok && !strcmp(s, expected);
                }
                if (!ok && !n_bad++) {
                    first_bad = np_xasprintf("%s (%s)", s, ds_cstr(&host));
                }
                ds_destroy(&host);
                free(error);
                free(error2);
                free(s);
            }
        }
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d round trips failed, first %s",
                  test_seed, n_bad, first_bad);
    free(first_bad);
}
END_TEST

/* Properties and comparisons. */

START_TEST(test_basics)
{
    struct cidr v4 = parse_ok("10.1.0.0/16");
    struct cidr v6 = parse_ok("2001:db8::/32");
    struct cidr host4 = parse_ok("10.1.2.3");
    struct cidr host6 = parse_ok("2001:db8::1");

    ck_assert_int_eq(cidr_max_plen(&v4), 32);
    ck_assert_int_eq(cidr_max_plen(&v6), 128);
    ck_assert(!cidr_is_host(&v4));
    ck_assert(!cidr_is_host(&v6));
    ck_assert(cidr_is_host(&host4));
    ck_assert(cidr_is_host(&host6));

    /* 10.1.2.3 is 00001010 00000001 00000010 00000011. */
    static const int ones4[] = { 4, 6, 15, 22, 30, 31 };
    for (int i = 0, j = 0; i < 32; i++) {
        bool expected = j < NP_ARRAY_SIZE(ones4) && ones4[j] == i;
        ck_assert_msg(cidr_get_bit(&host4, i) == expected, "bit %d", i);
        j += expected;
    }
    /* 2001:db8::1: bit 2 (0x2000), bit 15 (0x0001), bit 127. */
    ck_assert(!cidr_get_bit(&host6, 0));
    ck_assert(cidr_get_bit(&host6, 2));
    ck_assert(cidr_get_bit(&host6, 15));
    ck_assert(cidr_get_bit(&host6, 127));
    ck_assert(!cidr_get_bit(&host6, 126));

    /* IPv4 sorts before IPv6, whatever the addresses. */
    struct cidr big4 = parse_ok("255.255.255.255");
    struct cidr zero6 = parse_ok("::/0");
    ck_assert_int_lt(cidr_compare(&big4, &zero6), 0);
    ck_assert_int_gt(cidr_compare(&zero6, &big4), 0);
    ck_assert(!cidr_equal(&big4, &zero6));

    /* 0.0.0.0/0 and ::/0 are not the same prefix, nor do they meet. */
    struct cidr zero4 = parse_ok("0.0.0.0/0");
    ck_assert(!cidr_equal(&zero4, &zero6));
    ck_assert(!cidr_overlaps(&zero4, &zero6));
    ck_assert(!cidr_contains(&zero4, &host6));
    ck_assert(!cidr_contains(&zero6, &host4));
    ck_assert(cidr_contains(&zero4, &host4));
    ck_assert(cidr_contains(&zero6, &host6));

    /* A prefix sorts before the longer prefixes that start where it
     * does. */
    struct cidr p8 = parse_ok("10.0.0.0/8");
    struct cidr p9 = parse_ok("10.0.0.0/9");
    struct cidr p32 = parse_ok("10.0.0.0/32");
    ck_assert_int_lt(cidr_compare(&p8, &p9), 0);
    ck_assert_int_lt(cidr_compare(&p9, &p32), 0);
    ck_assert_int_lt(cidr_compare(&p32, &host4), 0);
}
END_TEST

START_TEST(test_contains_overlaps_table)
{
    static const struct {
        const char *a, *b;
        bool a_contains_b, overlaps;
    } cases[] = {
        { "10.0.0.0/8", "10.0.0.0/8", true, true },
        { "10.0.0.0/8", "10.255.255.255", true, true },
        { "10.0.0.0/8", "11.0.0.0", false, false },
        { "10.0.0.0/8", "9.255.255.255", false, false },
        { "10.0.0.0/8", "10.0.0.0/7", false, true },
        { "10.0.0.0/7", "11.0.0.0/8", true, true },
        { "10.0.0.0/24", "10.0.1.0/24", false, false },
        { "0.0.0.0/0", "255.255.255.255", true, true },
        { "10.0.0.0/8", "::a00:0/104", false, false },
        { "2001:db8::/32", "2001:db8:ffff::/48", true, true },
        { "2001:db8::/32", "2001:db9::/32", false, false },
        { "2001:db8::/33", "2001:db8:8000::/33", false, false },
        { "2001:db8::1", "2001:db8::/127", false, true },
        { "::/0", "ffff::1", true, true },
    };

    for (size_t i = 0; i < NP_ARRAY_SIZE(cases); i++) {
        struct cidr a = parse_ok(cases[i].a);
        struct cidr b = parse_ok(cases[i].b);

        ck_assert_msg(cidr_contains(&a, &b) == cases[i].a_contains_b,
                      "contains(%s, %s)", cases[i].a, cases[i].b);
        ck_assert_msg(cidr_overlaps(&a, &b) == cases[i].overlaps,
                      "overlaps(%s, %s)", cases[i].a, cases[i].b);
        ck_assert_msg(cidr_overlaps(&b, &a) == cases[i].overlaps,
                      "overlaps(%s, %s)", cases[i].b, cases[i].a);
    }
}
END_TEST

/* Returns a random prefix in or near 'universe' (a prefix of 12 host bits):
 * mostly inside it, sometimes containing it or beside it, sometimes of the
 * other family. */
static struct cidr
random_near(const struct cidr *universe)
{
    int max = family_bits(universe->family);
    unsigned int r = rng_below(100);

    if (r < 5) {
        int other = universe->family == AF_INET ? AF_INET6 : AF_INET;
        int plen = family_bits(other) - 12 + rng_below(13);
        struct cidr c = random_cidr(other, plen);
        if (other == AF_INET6 && rng_below(2)) {
            /* The same leading bytes as 'universe', an IPv4 prefix. */
            memcpy(c.addr, universe->addr, 4);
            c = make_cidr(AF_INET6, addr_value(&c), plen);
        }
        return c;
    } else if (r < 15) {
        /* Shorter than 'universe': contains it, or, with a bit flipped
         * above it, lies beside it. */
        int plen = rng_below(universe->plen + 1);
        u128 value = addr_value(universe);
        if (plen && rng_below(2)) {
            value ^= (u128) 1 << (max - 1 - rng_below(plen));
        }
        return make_cidr(universe->family, value, plen);
    } else {
        return random_inside(universe, universe->plen
                                       + rng_below(max - universe->plen + 1));
    }
}

/* Checks cidr_contains(), cidr_overlaps(), cidr_compare(), cidr_equal(),
 * cidr_hash() and cidr_get_bit() on random pairs against the interval
 * model.  Pairs are drawn from a small universe, so that equal, nested,
 * adjacent and disjoint pairs are all common. */
START_TEST(test_relations_random)
{
    int n_bad = 0;
    char *first_bad = NULL;

    rng_seed(2);
    for (int iter = 0; iter < 20000; iter++) {
        int family = iter % 2 ? AF_INET6 : AF_INET;
        int max = family_bits(family);
        struct cidr universe = random_cidr(family, max - 12);
        struct cidr a = random_near(&universe);
        struct cidr b = iter % 7 ? random_near(&universe) : a;
        bool ok = true;

        ok = ok && cidr_contains(&a, &b) == ref_contains(&a, &b);
        ok = ok && cidr_contains(&b, &a) == ref_contains(&b, &a);
        ok = ok && cidr_overlaps(&a, &b) == ref_overlaps(&a, &b);
        ok = ok && cidr_overlaps(&b, &a) == ref_overlaps(&a, &b);

        bool same = (a.family == b.family && a.plen == b.plen
                     && addr_value(&a) == addr_value(&b));
        int expected_cmp;
        if (a.family != b.family) {
            expected_cmp = a.family == AF_INET ? -1 : 1;
        } else if (addr_value(&a) != addr_value(&b)) {
            expected_cmp = addr_value(&a) < addr_value(&b) ? -1 : 1;
        } else {
            expected_cmp = a.plen < b.plen ? -1 : a.plen > b.plen;
        }
        int cmp = cidr_compare(&a, &b);
        int rcmp = cidr_compare(&b, &a);
        ok = ok && (cmp > 0) - (cmp < 0) == expected_cmp;
        ok = ok && (rcmp > 0) - (rcmp < 0) == -expected_cmp;
        ok = ok && cidr_equal(&a, &b) == same;
        ok = ok && (!same || cidr_hash(&a, 7) == cidr_hash(&b, 7));

        for (int i = 0; i < family_bits(a.family); i++) {
            int shift = family_bits(a.family) - 1 - i;
            ok = ok && cidr_get_bit(&a, i) == ((addr_value(&a) >> shift) & 1);
        }

        if (!ok && !n_bad++) {
            char *sa = cidr_to_string(&a);
            char *sb = cidr_to_string(&b);
            first_bad = np_xasprintf("iteration %d: %s vs %s", iter, sa, sb);
            free(sa);
            free(sb);
        }
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d failures, first %s",
                  test_seed, n_bad, first_bad);
    free(first_bad);
}
END_TEST

/* cidr_difference(). */

/* Returns the result of cidr_difference() as text, for golden tests. */
static char *
difference_string(const char *cidr_s, const char *const excepts[],
                  size_t n)
{
    struct cidr cidr = parse_ok(cidr_s);
    struct cidr *ex = np_xcalloc(n ? n : 1, sizeof *ex);
    struct cidr *out;
    size_t n_out;

    for (size_t i = 0; i < n; i++) {
        ex[i] = parse_ok(excepts[i]);
    }
    cidr_difference(&cidr, ex, n, &out, &n_out);
    ck_assert_msg((out == NULL) == (n_out == 0), "'out' must be NULL iff "
                  "the result is empty");
    char *s = list_to_string(out, n_out);
    free(out);
    free(ex);
    return s;
}

START_TEST(test_difference_rfc1918)
{
    static const char *rfc1918[] = {
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    };
    /* From Python's ipaddress.address_exclude(), applied in turn. */
    static const char *expected =
        "{0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, "
        "32.0.0.0/3, 64.0.0.0/2, 128.0.0.0/3, 160.0.0.0/5, 168.0.0.0/6, "
        "172.0.0.0/12, 172.32.0.0/11, 172.64.0.0/10, 172.128.0.0/9, "
        "173.0.0.0/8, 174.0.0.0/7, 176.0.0.0/4, 192.0.0.0/9, "
        "192.128.0.0/11, 192.160.0.0/13, 192.169.0.0/16, 192.170.0.0/15, "
        "192.172.0.0/14, 192.176.0.0/12, 192.192.0.0/10, 193.0.0.0/8, "
        "194.0.0.0/7, 196.0.0.0/6, 200.0.0.0/5, 208.0.0.0/4, 224.0.0.0/3}";

    char *s = difference_string("0.0.0.0/0", rfc1918, 3);
    ck_assert_str_eq(s, expected);
    free(s);

    /* The order of the exceptions does not matter. */
    static const char *reversed[] = {
        "192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8",
    };
    s = difference_string("0.0.0.0/0", reversed, 3);
    ck_assert_str_eq(s, expected);
    free(s);

    /* 31 prefixes, as the design brief says. */
    struct cidr all = parse_ok("0.0.0.0/0");
    struct cidr ex[3];
    struct cidr *out;
    size_t n_out;
    for (int i = 0; i < 3; i++) {
        ex[i] = parse_ok(rfc1918[i]);
    }
    cidr_difference(&all, ex, 3, &out, &n_out);
    ck_assert_uint_eq(n_out, 31);
    free(out);
}
END_TEST

START_TEST(test_difference_golden)
{
    static const struct {
        const char *cidr;
        const char *excepts[4];
        const char *expected;
    } cases[] = {
        /* Nothing to remove. */
        { "10.0.0.0/8", { NULL }, "{10.0.0.0/8}" },
        { "10.0.0.0/8", { "11.0.0.0/8", "9.0.0.0/8" }, "{10.0.0.0/8}" },
        { "10.0.0.0/8", { "::/0", "::a00:0/104" }, "{10.0.0.0/8}" },
        { "::/0", { "0.0.0.0/0" }, "{::/0}" },

        /* Everything removed. */
        { "10.0.0.0/8", { "10.0.0.0/8" }, "{}" },
        { "10.0.0.0/8", { "0.0.0.0/0" }, "{}" },
        { "10.0.0.0/8", { "10.1.0.0/16", "8.0.0.0/6" }, "{}" },
        { "10.0.0.0/31", { "10.0.0.0/32", "10.0.0.1/32" }, "{}" },
        { "1.2.3.4/32", { "1.2.3.4/32" }, "{}" },

        /* One exception. */
        { "10.0.0.0/8", { "10.0.0.0/9" }, "{10.128.0.0/9}" },
        { "10.0.0.0/8", { "10.128.0.0/9" }, "{10.0.0.0/9}" },
        { "10.0.0.0/30", { "10.0.0.2/32" },
          "{10.0.0.0/31, 10.0.0.3/32}" },
        { "2001:db8::/32", { "2001:db8::/33" }, "{2001:db8:8000::/33}" },
        { "::/0", { "::/1" }, "{8000::/1}" },
        { "::/0", { "fc00::/7" },
          "{::/1, 8000::/2, c000::/3, e000::/4, f000::/5, f800::/6, "
          "fe00::/7}" },

        /* Sibling exceptions merge into their parent. */
        { "10.0.0.0/24", { "10.0.0.5/32", "10.0.0.4/32" },
          "{10.0.0.0/30, 10.0.0.6/31, 10.0.0.8/29, 10.0.0.16/28, "
          "10.0.0.32/27, 10.0.0.64/26, 10.0.0.128/25}" },

        /* Nested and repeated exceptions count once. */
        { "10.0.0.0/29", { "10.0.0.4/30", "10.0.0.5/32", "10.0.0.4/30",
                           "10.0.0.0/8" },
          "{}" },
        { "10.0.0.0/29", { "10.0.0.4/30", "10.0.0.5/32", "10.0.0.4/30" },
          "{10.0.0.0/30}" },
        { "10.0.0.0/28", { "10.0.0.1/32", "10.0.0.14/32" },
          "{10.0.0.0/32, 10.0.0.2/31, 10.0.0.4/30, 10.0.0.8/30, "
          "10.0.0.12/31, 10.0.0.15/32}" },
    };

    for (size_t i = 0; i < NP_ARRAY_SIZE(cases); i++) {
        size_t n = 0;
        while (n < NP_ARRAY_SIZE(cases[i].excepts) && cases[i].excepts[n]) {
            n++;
        }
        char *s = difference_string(cases[i].cidr, cases[i].excepts, n);
        ck_assert_msg(!strcmp(s, cases[i].expected),
                      "case %zu (%s): got %s, expected %s",
                      i, cases[i].cidr, s, cases[i].expected);
        free(s);
    }
}
END_TEST

/* Removing one prefix of length q from a prefix of length p costs q - p
 * prefixes, for every p <= q, in both families. */
START_TEST(test_difference_cost)
{
    int n_bad = 0;
    char *first_bad = NULL;

    rng_seed(3);
    for (int f = 0; f < 2; f++) {
        int family = f ? AF_INET6 : AF_INET;
        for (int p = 0; p <= family_bits(family); p++) {
            for (int q = p; q <= family_bits(family); q++) {
                struct cidr cidr = random_cidr(family, p);
                struct cidr ex = random_inside(&cidr, q);
                struct cidr *out;
                size_t n_out;

                cidr_difference(&cidr, &ex, 1, &out, &n_out);
                if (n_out != q - p && !n_bad++) {
                    first_bad = np_xasprintf("p=%d q=%d gave %zu", p, q,
                                             n_out);
                }
                free(out);
            }
        }
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d failures, first %s",
                  test_seed, n_bad, first_bad);
    free(first_bad);
}
END_TEST

/* The number of addresses in a universe. */
#define UNIVERSE_BITS 12
#define UNIVERSE_SIZE (1 << UNIVERSE_BITS)

/* Sets to 'value' the entries of 'map' (indexed by address within
 * 'universe') for the addresses of 'c' that lie in 'universe'. */
static void
mark_span(const struct cidr *universe, const struct cidr *c,
          unsigned char value, unsigned char map[UNIVERSE_SIZE])
{
    if (!ref_overlaps(universe, c)) {
        return;
    }

    u128 first = span_first(c) > span_first(universe) ? span_first(c)
                                                      : span_first(universe);
    u128 last = span_last(c) < span_last(universe) ? span_last(c)
                                                   : span_last(universe);
    for (u128 a = first; a <= last; a++) {
        map[a - span_first(universe)] = value;
    }
}

/* Checks one result of cidr_difference() against brute force over every
 * address of 'universe', which must contain 'cidr'.  Returns NULL if it is
 * right, otherwise a malloc'd description of the first problem. */
static char *
check_difference(const struct cidr *universe, const struct cidr *cidr,
                 const struct cidr *ex, size_t n_ex,
                 const struct cidr *out, size_t n_out)
{
    static unsigned char expected[UNIVERSE_SIZE];
    static unsigned char covered[UNIVERSE_SIZE];
    static int prefix_sum[UNIVERSE_SIZE + 1];
    u128 base = span_first(universe);

    /* Which addresses should remain: those of 'cidr', less those of each
     * exception of the same family, clipped to 'universe'. */
    memset(expected, 0, sizeof expected);
    mark_span(universe, cidr, 1, expected);
    for (size_t i = 0; i < n_ex; i++) {
        mark_span(universe, &ex[i], 0, expected);
    }

    /* The output: canonical, inside 'cidr', strictly sorted, pairwise
     * disjoint, and covering each address once if expected, else never. */
    if ((out == NULL) != (n_out == 0)) {
        return np_xasprintf("'out' is %s with %zu prefixes",
                            out ? "nonnull" : "NULL", n_out);
    }
    memset(covered, 0, sizeof covered);
    for (size_t i = 0; i < n_out; i++) {
        if (!is_canonical(&out[i]) || out[i].family != cidr->family) {
            return np_xasprintf("output %zu is malformed", i);
        }
        if (!ref_contains(cidr, &out[i])) {
            return np_xasprintf("output %zu lies outside the cidr", i);
        }
        if (i && cidr_compare(&out[i - 1], &out[i]) >= 0) {
            return np_xasprintf("outputs %zu and %zu are out of order",
                                i - 1, i);
        }
        for (size_t j = 0; j < i; j++) {
            if (ref_overlaps(&out[i], &out[j])) {
                return np_xasprintf("outputs %zu and %zu overlap", j, i);
            }
            if (out[i].plen == out[j].plen
                && (span_first(&out[i]) ^ span_first(&out[j]))
                   == host_mask(out[i].family, out[i].plen) + 1) {
                return np_xasprintf("outputs %zu and %zu are siblings that "
                                    "should merge", j, i);
            }
        }
        for (u128 a = span_first(&out[i]); ; a++) {
            covered[a - base]++;
            if (a == span_last(&out[i])) {
                break;
            }
        }
    }
    for (int i = 0; i < UNIVERSE_SIZE; i++) {
        if (covered[i] != expected[i]) {
            struct cidr addr = make_cidr(universe->family, base + i,
                                         family_bits(universe->family));
            char *s = cidr_to_string(&addr);
            char *msg = np_xasprintf("%s is covered %d times, expected %d",
                                     s, covered[i], expected[i]);
            free(s);
            return msg;
        }
    }

    /* Minimal: the output must be exactly the maximal aligned blocks of the
     * expected set, found here by splitting the universe top down. */
    prefix_sum[0] = 0;
    for (int i = 0; i < UNIVERSE_SIZE; i++) {
        prefix_sum[i + 1] = prefix_sum[i] + expected[i];
    }
    struct {
        int start, size;
    } stack[2 * UNIVERSE_BITS + 2];
    int n_stack = 0;
    size_t n_ref = 0;
    stack[n_stack].start = 0;
    stack[n_stack++].size = UNIVERSE_SIZE;
    while (n_stack) {
        int start = stack[--n_stack].start;
        int size = stack[n_stack].size;
        int ones = prefix_sum[start + size] - prefix_sum[start];

        if (ones == size) {
            int plen = family_bits(universe->family);
            for (int s = size; s > 1; s /= 2) {
                plen--;
            }
            struct cidr block = make_cidr(universe->family, base + start,
                                          plen);
            if (n_ref >= n_out || !cidr_equal(&block, &out[n_ref])) {
                char *s = cidr_to_string(&block);
                char *msg = np_xasprintf("prefix %zu should be %s", n_ref,
                                         s);
                free(s);
                return msg;
            }
            n_ref++;
        } else if (ones) {
            /* Push the upper half first so the lower one is done first. */
            stack[n_stack].start = start + size / 2;
            stack[n_stack++].size = size / 2;
            stack[n_stack].start = start;
            stack[n_stack++].size = size / 2;
        }
    }
    if (n_ref != n_out) {
        return np_xasprintf("%zu prefixes, but %zu would do", n_out, n_ref);
    }
    return NULL;
}

/* Random prefixes and exceptions in a random 4,096-address subspace of
 * 'family', checked address by address. */
static void
difference_random(int family, int n_iterations)
{
    int max = family_bits(family);
    int n_bad = 0;
    char *first_bad = NULL;
    size_t total_out = 0;

    for (int iter = 0; iter < n_iterations; iter++) {
        struct cidr universe = random_cidr(family, max - UNIVERSE_BITS);
        /* Mostly short prefixes, where the results are interesting. */
        int plen = universe.plen + (rng_below(4)
                                    ? rng_below(5)
                                    : rng_below(UNIVERSE_BITS + 1));
        struct cidr cidr = random_inside(&universe, plen);
        struct cidr ex[12];
        size_t n_ex = rng_below(NP_ARRAY_SIZE(ex) + 1);

        for (size_t i = 0; i < n_ex; i++) {
            if (i && !rng_below(10)) {
                ex[i] = ex[rng_below(i)];       /* A duplicate. */
            } else if (rng_below(2)) {
                ex[i] = random_inside(&cidr, cidr.plen
                                             + rng_below(max - cidr.plen + 1));
            } else {
                ex[i] = random_near(&universe);
            }
        }

        struct cidr *out;
        size_t n_out;
        cidr_difference(&cidr, ex, n_ex, &out, &n_out);
        total_out += n_out;

        char *problem = check_difference(&universe, &cidr, ex, n_ex,
                                         out, n_out);
        if (problem && !n_bad++) {
            struct ds s = DS_EMPTY_INITIALIZER;
            ds_put_format(&s, "iteration %d: ", iter);
            cidr_format(&cidr, false, &s);
            ds_put_cstr(&s, " minus ");
            format_list(ex, n_ex, &s);
            ds_put_cstr(&s, " gave ");
            format_list(out, n_out, &s);
            ds_put_format(&s, ": %s", problem);
            first_bad = ds_steal_cstr(&s);
        }
        free(problem);
        free(out);
    }
    ck_assert_msg(!n_bad, "seed %"PRIu64": %d of %d failed, first %s",
                  test_seed, n_bad, n_iterations, first_bad);
    free(first_bad);

    /* Guard against a generator so tame that the test proves nothing. */
    ck_assert_msg(total_out > 3 * n_iterations, "only %zu prefixes in all",
                  total_out);
}

START_TEST(test_difference_random_ipv4)
{
    rng_seed(4);
    difference_random(AF_INET, 3000);
}
END_TEST

START_TEST(test_difference_random_ipv6)
{
    rng_seed(6);
    difference_random(AF_INET6, 3000);
}
END_TEST

/* Many exceptions at once: the output must still tile the prefix exactly
 * (checked with intervals, since the space is too big to enumerate) and
 * cost no more than the exceptions would one at a time. */

struct span {
    u128 first, last;
};

static int
span_compare(const void *a_, const void *b_)
{
    const struct span *a = a_;
    const struct span *b = b_;
    return a->first < b->first ? -1 : a->first > b->first;
}

static void
difference_many(const char *cidr_s, int min_plen, int max_plen, size_t n)
{
    struct cidr cidr = parse_ok(cidr_s);
    struct cidr *ex = np_xmalloc(n * sizeof *ex);
    struct span *spans = np_xmalloc(n * sizeof *spans);
    size_t n_spans = 0;
    size_t max_cost = 0;
    bool ok = true;

    /* Exceptions inside a prefix one bit shorter than 'cidr', so that half
     * of them miss it. */
    struct cidr parent = cidr;
    if (parent.plen) {
        parent = make_cidr(cidr.family, addr_value(&cidr), cidr.plen - 1);
    }
    for (size_t i = 0; i < n; i++) {
        int plen = min_plen + rng_below(max_plen - min_plen + 1);
        ex[i] = random_inside(&parent, plen);
        if (ref_overlaps(&ex[i], &cidr)) {
            ok = ok && ref_contains(&cidr, &ex[i]);
            spans[n_spans].first = span_first(&ex[i]);
            spans[n_spans++].last = span_last(&ex[i]);
            max_cost += ex[i].plen - cidr.plen;
        }
    }

    long long int start = np_time_usec();
    struct cidr *out;
    size_t n_out;
    cidr_difference(&cidr, ex, n, &out, &n_out);
    long long int elapsed = np_time_usec() - start;
    printf("%s minus %zu prefixes of /%d to /%d: %zu prefixes in %lld us\n",
           cidr_s, n, min_plen, max_plen, n_out, elapsed);

    ck_assert_msg(ok, "bad test: an exception overlaps the cidr partly");
    ck_assert_msg(n_out <= max_cost, "%zu prefixes, more than %zu", n_out,
                  max_cost);
    spans = np_xrealloc(spans, (n_spans + n_out) * sizeof *spans);
    for (size_t i = 0; i < n_out; i++) {
        ok = ok && is_canonical(&out[i]) && ref_contains(&cidr, &out[i]);
        ok = ok && (!i || span_last(&out[i - 1]) < span_first(&out[i]));
        spans[n_spans].first = span_first(&out[i]);
        spans[n_spans++].last = span_last(&out[i]);
    }
    ck_assert_msg(ok, "output malformed, outside the cidr or unsorted");

    /* Merge the exceptions, which may nest or repeat, into disjoint spans;
     * then the output spans must fill the gaps between them exactly. */
    size_t n_ex_spans = n_spans - n_out;
    qsort(spans, n_ex_spans, sizeof *spans, span_compare);
    size_t n_merged = 0;
    for (size_t i = 0; i < n_ex_spans; i++) {
        if (n_merged && spans[i].first <= spans[n_merged - 1].last) {
            if (spans[i].last > spans[n_merged - 1].last) {
                spans[n_merged - 1].last = spans[i].last;
            }
        } else {
            spans[n_merged++] = spans[i];
        }
    }
    memmove(&spans[n_merged], &spans[n_ex_spans], n_out * sizeof *spans);
    n_spans = n_merged + n_out;
    qsort(spans, n_spans, sizeof *spans, span_compare);

    u128 next = span_first(&cidr);
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < n_spans && bad == SIZE_MAX; i++) {
        if (spans[i].first != next) {
            bad = i;
        }
        next = spans[i].last + 1;
    }
    ck_assert_msg(bad == SIZE_MAX, "gap or overlap at span %zu", bad);
    ck_assert_msg(n_spans && spans[n_spans - 1].last == span_last(&cidr),
                  "the spans stop short of the end");

    free(out);
    free(spans);
    free(ex);
}

START_TEST(test_difference_many)
{
    rng_seed(5);
    difference_many("0.0.0.0/0", 12, 32, 10000);
    difference_many("10.0.0.0/8", 16, 32, 10000);
    difference_many("::/0", 16, 128, 10000);
    difference_many("2001:db8::/32", 40, 128, 10000);
}
END_TEST

static Suite *
cidr_suite(void)
{
    Suite *s = suite_create("cidr");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_parse_error_text);
    tcase_add_test(tc, test_parse_address);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_format_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("relations");
    tcase_add_test(tc, test_basics);
    tcase_add_test(tc, test_contains_overlaps_table);
    tcase_add_test(tc, test_relations_random);
    suite_add_tcase(s, tc);

    tc = tcase_create("difference");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_difference_rfc1918);
    tcase_add_test(tc, test_difference_golden);
    tcase_add_test(tc, test_difference_cost);
    tcase_add_test(tc, test_difference_random_ipv4);
    tcase_add_test(tc, test_difference_random_ipv6);
    tcase_add_test(tc, test_difference_many);
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
    printf("test-cidr: seed %"PRIu64" (set NP_TEST_SEED to change)\n",
           test_seed);
    fflush(stdout);

    SRunner *sr = srunner_create(cidr_suite());
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
