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

/* cidr.c: IPv4 and IPv6 prefix arithmetic.  The object parser uses it to
 * read ipBlock and pod addresses, and the compiler uses cidr_difference() to
 * turn "cidr minus except" into prefixes that never overlap, so that they can
 * be installed as plain conjunctive matches.  Pure: no I/O, no global
 * state. */

#include <config.h>
#include "ovs-netpol/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/util.h>

/* Error messages quote the input, which comes from the Kubernetes API, so
 * they quote at most this many bytes (and escape unprintable ones) to stay
 * short and safe to log. */
#define CIDR_QUOTE_MAX 64

/* Returns the number of bytes of 'cidr->addr' that its family uses. */
static size_t
cidr_addr_size__(const struct cidr *cidr)
{
    return cidr->family == AF_INET ? 4 : 16;
}

/* Returns true if the first 'n_bits' bits of 'a' and 'b' are equal. */
static bool
cidr_bits_equal__(const uint8_t *a, const uint8_t *b, int n_bits)
{
    int n_bytes = n_bits / 8;
    int rest = n_bits % 8;

    if (memcmp(a, b, n_bytes)) {
        return false;
    }
    if (rest) {
        uint8_t mask = 0xff << (8 - rest);
        return !((a[n_bytes] ^ b[n_bytes]) & mask);
    }
    return true;
}

/* Zeroes every bit of 'cidr->addr' past 'cidr->plen', which keeps the
 * invariant from model.h that equal prefixes are equal bytes. */
static void
cidr_clear_host_bits__(struct cidr *cidr)
{
    int plen = cidr->plen;
    int i = plen / 8;

    ovs_assert(plen <= cidr_max_plen(cidr));
    if (plen % 8) {
        cidr->addr[i] &= 0xff << (8 - plen % 8);
        i++;
    }
    memset(&cidr->addr[i], 0, sizeof cidr->addr - i);
}

static void
cidr_set_bit__(struct cidr *cidr, int i)
{
    cidr->addr[i / 8] |= 0x80 >> (i % 8);
}

static char *
cidr_parse_error__(const char *s)
{
    struct ds error = DS_EMPTY_INITIALIZER;
    size_t i;

    ds_put_cstr(&error, "invalid CIDR address: ");
    for (i = 0; s[i] && i < CIDR_QUOTE_MAX; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f) {
            ds_put_char(&error, c);
        } else {
            ds_put_format(&error, "\\x%02x", c);
        }
    }
    if (s[i]) {
        ds_put_cstr(&error, "...");
    }
    return ds_steal_cstr(&error);
}

char *
cidr_parse(const char *s, bool allow_host, struct cidr *cidr)
{
    const char *slash = strchr(s, '/');

    if (!slash) {
        if (allow_host && cidr_parse_address(s, cidr)) {
            return NULL;
        }
        return cidr_parse_error__(s);
    }

    /* The longest valid address text is shorter than INET6_ADDRSTRLEN, so
     * anything longer is an error without a copy. */
    char addr[INET6_ADDRSTRLEN];
    size_t addr_len = slash - s;
    if (addr_len >= sizeof addr) {
        return cidr_parse_error__(s);
    }
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';

    struct cidr parsed;
    if (!cidr_parse_address(addr, &parsed)) {
        return cidr_parse_error__(s);
    }

    /* Decimal digits only: no sign, no spaces, no "0x", as Go's
     * net.ParseCIDR() (which Kubernetes uses) demands.  Go accepts leading
     * zeros ("/08"), so we do too.  Stop accumulating once past the maximum
     * so that a long run of digits cannot overflow. */
    const char *p = slash + 1;
    int max_plen = cidr_max_plen(&parsed);
    int plen = 0;
    if (!*p) {
        return cidr_parse_error__(s);
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return cidr_parse_error__(s);
        }
        if (plen <= max_plen) {
            plen = plen * 10 + (*p - '0');
        }
    }
    if (plen > max_plen) {
        return cidr_parse_error__(s);
    }

    parsed.plen = plen;
    cidr_clear_host_bits__(&parsed);
    *cidr = parsed;
    return NULL;
}

/* inet_pton() is strict in the ways we want: no leading zeros in IPv4
 * octets, no whitespace, no IPv6 zone ("%eth0"). */
bool
cidr_parse_address(const char *s, struct cidr *cidr)
{
    memset(cidr, 0, sizeof *cidr);
    if (inet_pton(AF_INET, s, cidr->addr) == 1) {
        cidr->family = AF_INET;
        cidr->plen = 32;
        return true;
    } else if (inet_pton(AF_INET6, s, cidr->addr) == 1) {
        cidr->family = AF_INET6;
        cidr->plen = 128;
        return true;
    }
    memset(cidr, 0, sizeof *cidr);
    return false;
}

void
cidr_format(const struct cidr *cidr, bool omit_host_plen, struct ds *s)
{
    char buf[INET6_ADDRSTRLEN];

    if (!inet_ntop(cidr->family, cidr->addr, buf, sizeof buf)) {
        /* Only a corrupt 'family' gets here; show it rather than crash. */
        ds_put_format(s, "<family %d>/%d", cidr->family, cidr->plen);
        return;
    }
    ds_put_cstr(s, buf);
    if (!omit_host_plen || !cidr_is_host(cidr)) {
        ds_put_format(s, "/%d", cidr->plen);
    }
}

char *
cidr_to_string(const struct cidr *cidr)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    cidr_format(cidr, false, &s);
    return ds_steal_cstr(&s);
}

int
cidr_max_plen(const struct cidr *cidr)
{
    return cidr->family == AF_INET ? 32 : 128;
}

bool
cidr_is_host(const struct cidr *cidr)
{
    return cidr->plen == cidr_max_plen(cidr);
}

bool
cidr_equal(const struct cidr *a, const struct cidr *b)
{
    return (a->family == b->family
            && a->plen == b->plen
            && !memcmp(a->addr, b->addr, cidr_addr_size__(a)));
}

/* Orders by family (IPv4 first), then address, then length, so that a list
 * of disjoint prefixes sorts in address order and a prefix sorts just before
 * the longer prefixes that start at the same address. */
int
cidr_compare(const struct cidr *a, const struct cidr *b)
{
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }

    int cmp = memcmp(a->addr, b->addr, cidr_addr_size__(a));
    if (cmp) {
        return cmp < 0 ? -1 : 1;
    }
    return a->plen < b->plen ? -1 : a->plen > b->plen;
}

uint32_t
cidr_hash(const struct cidr *cidr, uint32_t basis)
{
    uint32_t hash = np_hash_bytes(cidr->addr, cidr_addr_size__(cidr), basis);
    return np_hash_add(hash, ((uint32_t) cidr->family << 8) | cidr->plen);
}

bool
cidr_contains(const struct cidr *outer, const struct cidr *inner)
{
    return (outer->family == inner->family
            && outer->plen <= inner->plen
            && cidr_bits_equal__(outer->addr, inner->addr, outer->plen));
}

bool
cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
    /* Two prefixes either nest or are disjoint, so they overlap exactly when
     * they agree on the bits of the shorter one. */
    return (a->family == b->family
            && cidr_bits_equal__(a->addr, b->addr,
                                 a->plen < b->plen ? a->plen : b->plen));
}

bool
cidr_get_bit(const struct cidr *cidr, int i)
{
    ovs_assert(i >= 0 && i < cidr_max_plen(cidr));
    return (cidr->addr[i / 8] >> (7 - i % 8)) & 1;
}

/* cidr_difference(). */

/* The growing output of cidr_difference(). */
struct cidr_list {
    struct cidr *items;
    size_t n;
    size_t allocated;
};

static void
cidr_list_push__(struct cidr_list *list, const struct cidr *cidr)
{
    list->items = np_x2nrealloc(list->items, &list->allocated, list->n + 1,
                                sizeof *list->items);
    list->items[list->n++] = *cidr;
}

static int
cidr_compare_qsort__(const void *a, const void *b)
{
    return cidr_compare(a, b);
}

/* Appends to 'out' the prefixes that cover 'prefix' minus the 'n' prefixes
 * in 'ex', which must lie inside 'prefix', be sorted by cidr_compare() and
 * not nest in one another.
 *
 * This walks the binary trie of prefixes: a prefix holding no exception is
 * emitted whole; one equal to an exception is dropped; any other is split in
 * its two halves, and since 'ex' is sorted, the exceptions in the lower half
 * are a leading run.  A prefix is split only when an exception lies strictly
 * inside it, so the two halves are never both emitted: the output is the
 * minimal set of prefixes, already in address order.  Each exception is
 * visited once per bit between 'prefix' and itself, so the cost is
 * O(n * address bits) and the output is at most that long. */
static void
cidr_difference__(const struct cidr *prefix,
                  const struct cidr *ex, size_t n, struct cidr_list *out)
{
    if (!n) {
        cidr_list_push__(out, prefix);
        return;
    }
    if (ex[0].plen == prefix->plen) {
        /* 'ex[0]' is 'prefix' itself, and no other exception can nest in
         * it, so nothing remains. */
        ovs_assert(n == 1);
        return;
    }
    ovs_assert(prefix->plen < cidr_max_plen(prefix));

    struct cidr low = *prefix;
    low.plen++;
    struct cidr high = low;
    cidr_set_bit__(&high, prefix->plen);

    size_t n_low = 0;
    while (n_low < n && !cidr_get_bit(&ex[n_low], prefix->plen)) {
        n_low++;
    }
    cidr_difference__(&low, ex, n_low, out);
    cidr_difference__(&high, ex + n_low, n - n_low, out);
}

void
cidr_difference(const struct cidr *cidr,
                const struct cidr *except, size_t n_except,
                struct cidr **out, size_t *n_out)
{
    struct cidr_list list = { NULL, 0, 0 };
    struct cidr base = *cidr;
    bool all_removed = false;
    size_t n_ex = 0;
    size_t i;

    cidr_clear_host_bits__(&base);

    /* Keep only the exceptions that lie inside 'base'.  Prefixes nest or are
     * disjoint, so each of the others removes either nothing or
     * everything. */
    struct cidr *ex = np_xmalloc(n_except * sizeof *ex);
    for (i = 0; i < n_except; i++) {
        const struct cidr *e = &except[i];

        if (!cidr_overlaps(&base, e)) {
            continue;
        } else if (cidr_contains(e, &base)) {
            all_removed = true;
            break;
        }
        ex[n_ex] = *e;
        cidr_clear_host_bits__(&ex[n_ex]);
        n_ex++;
    }

    if (!all_removed) {
        /* Sort, then drop exceptions that nest in another one.  A prefix
         * sorts after any prefix that contains it, and a prefix disjoint
         * from the last one kept starts past its end, so comparing with the
         * last one kept is enough. */
        np_qsort(ex, n_ex, sizeof *ex, cidr_compare_qsort__);
        size_t n_kept = 0;
        for (i = 0; i < n_ex; i++) {
            if (!n_kept || !cidr_contains(&ex[n_kept - 1], &ex[i])) {
                ex[n_kept++] = ex[i];
            }
        }
        cidr_difference__(&base, ex, n_kept, &list);
    }
    free(ex);

    *out = list.items;
    *n_out = list.n;
}
