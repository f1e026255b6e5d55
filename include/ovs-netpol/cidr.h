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

#ifndef OVS_NETPOL_CIDR_H
#define OVS_NETPOL_CIDR_H 1

/* IPv4 and IPv6 prefixes ('struct cidr', defined in model.h) and the
 * arithmetic NetworkPolicy needs: parsing, containment, and the difference
 * of a prefix and a list of prefixes (ipBlock "cidr" minus "except").
 *
 * The difference is returned as a list of disjoint prefixes that covers
 * exactly the addresses in 'cidr' and in no 'except' entry, so it can be
 * installed as plain OpenFlow matches that never overlap one another.
 * Removing one prefix of length q from a prefix of length p < q costs q - p
 * prefixes (one sibling for each bit between them); removing several costs
 * at most the sum, less where they share a path.
 *
 * Pure functions: no I/O, no global state. */

#include <stdbool.h>
#include <stddef.h>
#include "ovs-netpol/model.h"
#include "ovs-netpol/util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ds;

/* Parses 's' as "ADDRESS/LENGTH" (IPv4 or IPv6).  With 'allow_host', a bare
 * address is accepted as a /32 or /128.  Host bits set in the address are
 * cleared, as Kubernetes' net.ParseCIDR() does.  Returns NULL on success,
 * otherwise a malloc'd message such as "invalid CIDR address" (the caller
 * frees it), leaving '*cidr' unspecified. */
char *cidr_parse(const char *s, bool allow_host, struct cidr *cidr)
    NP_WARN_UNUSED_RESULT;

/* Makes the host prefix (/32 or /128) of the textual address 's'.  Returns
 * false if 's' is not an IPv4 or IPv6 address. */
bool cidr_parse_address(const char *s, struct cidr *cidr);

/* Appends "10.0.0.0/8" (or "10.0.0.1" for a host prefix when
 * 'omit_host_plen') to 's'. */
void cidr_format(const struct cidr *, bool omit_host_plen, struct ds *s);
char *cidr_to_string(const struct cidr *);      /* Caller frees. */

int cidr_max_plen(const struct cidr *);         /* 32 or 128. */
bool cidr_is_host(const struct cidr *);
bool cidr_equal(const struct cidr *, const struct cidr *);
int cidr_compare(const struct cidr *, const struct cidr *);  /* qsort()able
                                                              * total order. */
uint32_t cidr_hash(const struct cidr *, uint32_t basis);

/* Returns true if every address of 'inner' lies in 'outer'. */
bool cidr_contains(const struct cidr *outer, const struct cidr *inner);

/* Returns true if 'a' and 'b' share at least one address. */
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);

/* Returns the value of bit 'i' of the address (0 is the most significant). */
bool cidr_get_bit(const struct cidr *, int i);

/* Computes 'cidr' minus every prefix in 'except' (which may overlap each
 * other, lie partly or wholly outside 'cidr', or be of the other family:
 * those parts simply remove nothing).  Stores a malloc'd array of disjoint
 * prefixes, sorted by cidr_compare(), in '*out' and its length in '*n_out'
 * ('*out' is NULL when the result is empty).  The caller frees '*out'. */
void cidr_difference(const struct cidr *cidr,
                     const struct cidr *except, size_t n_except,
                     struct cidr **out, size_t *n_out);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/cidr.h */
