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

#ifndef CLAUSE_H
#define CLAUSE_H 1

/* The vocabulary of rule compilation, shared by the reference compiler
 * (compiler.c) and the incremental engine (engine.c): compact clause
 * matches and how they become OpenFlow matches, conjunction actions, port
 * lists and named-port resolution.  Private to flows/.  Pure: no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "ovs-netpol/model.h"

struct ds;
struct match;
struct ofpbuf;

/* Address families as a bit mask: bit 0 IPv4, bit 1 IPv6. */
#define FAMILY_BIT(FAMILY) ((FAMILY) == AF_INET ? 1u : 2u)
#define ALL_FAMILIES 3u

/* Clause matches.
 *
 * The compact form of the matches rule tables use, 32 bytes instead of a
 * 3 kB 'struct match'.  Always zeroed before being filled (use
 * clause_match_init()), so that equal matches are equal byte for byte: they
 * are hashed and compared as bytes. */

enum clause_field {
    CLAUSE_IN_PORT,             /* 'value' is the OpenFlow port. */
    CLAUSE_SRC,                 /* 'cidr' is the source prefix. */
    CLAUSE_DST,                 /* 'cidr' is the destination prefix. */
    CLAUSE_L4,                  /* 'family', 'proto', 'tp_value/tp_mask'. */
    CLAUSE_CONJ_ID,             /* 'value' is the conjunction ID. */
    CLAUSE_DL_DST,              /* 'cidr.addr' holds a MAC (isolation of a
                                 * pod whose address is unknown). */
    CLAUSE_CT_LABEL,            /* Established packets whose ct_label holds
                                 * rule 'value' for direction 'proto'. */
};

struct clause_match {
    uint8_t field;
    uint8_t family;
    uint8_t proto;
    uint8_t pad;
    uint16_t tp_value;
    uint16_t tp_mask;
    uint32_t value;
    struct cidr cidr;
};

void clause_match_init(struct clause_match *, enum clause_field);
int clause_match_compare(const void *, const void *);   /* qsort()able. */
uint32_t clause_match_hash(const struct clause_match *, uint32_t basis);
/* The families a packet matching 'm' can have (ALL_FAMILIES for in_port and
 * the like). */
unsigned int clause_match_families(const struct clause_match *);
/* Sets 'match' (initialized here) to the OpenFlow match of 'm'. */
void clause_match_to_match(const struct clause_match *m, struct match *);

/* A growable array of clause matches. */
struct clause_array {
    struct clause_match *matches;
    size_t n, allocated;
};

struct clause_match *clause_array_add(struct clause_array *,
                                      enum clause_field);
void clause_array_normalize(struct clause_array *);   /* Sort, dedup. */
void clause_array_destroy(struct clause_array *);

/* Conjunction actions. */

struct conj_ref {
    uint32_t id;
    uint8_t clause;             /* 0-based, as in struct ofpact_conjunction. */
    uint8_t n_clauses;
};

int conj_ref_compare(const void *, const void *);       /* qsort()able. */
/* Sorts 'refs' and appends one conjunction() action for each distinct one:
 * the same set of conjunctions always gives the same bytes. */
void put_conjunctions(struct conj_ref *refs, size_t n, struct ofpbuf *);

/* Port lists. */

/* A protocol and a range of destination ports ('lo' 0 and 'hi' 65535 for
 * every port of the protocol). */
struct port_entry {
    uint8_t proto;
    uint16_t lo, hi;
};

struct port_list {
    struct port_entry *entries;
    size_t n, allocated;
};

void port_list_add(struct port_list *, uint8_t proto, uint16_t lo,
                   uint16_t hi);
void port_list_normalize(struct port_list *);           /* Sort, dedup. */
bool port_list_equal(const struct port_list *, const struct port_list *);
int port_list_compare(const struct port_list *, const struct port_list *);
/* Appends "TCP:8080,UDP:53-55": the key of a named-port variant. */
void port_list_format(const struct port_list *, struct ds *);
void port_list_destroy(struct port_list *);

/* Appends to 'array' the L4 matches (value/mask blocks) of every entry of
 * 'list', for each family in 'families'. */
void clause_array_add_ports(struct clause_array *,
                            const struct port_list *list,
                            unsigned int families);

/* The numeric ports of 'rule' (and protocol-only entries), normalized. */
void rule_numeric_ports(const struct np_rule *, struct port_list *);
bool rule_has_named_ports(const struct np_rule *);
/* Sets 'list' (initialized by the caller) to the ports the named entries of
 * 'rule' resolve to on 'pod', normalized. */
void resolve_named_ports(const struct np_rule *, const struct np_pod *pod,
                         struct port_list *list);

#endif /* clause.h */
