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

#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H 1

/* What model.h promises about every object the parser returns, checked on
 * objects built from fuzz input (fuzz-manifest.c, fuzz-watch-event.c):
 * labels sorted with unique keys, selectors normalised, ports and prefixes
 * in range, ipBlock except entries strictly inside their cidr, every
 * namespace carrying kubernetes.io/metadata.name, and clones equal to
 * their originals.  Header-only. */

#include <sys/socket.h>
#include <jansson.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/model.h"
#include "fuzz-util.h"

static inline void
fuzz_check_labels(const struct labels *labels)
{
    for (size_t i = 0; i < labels->n; i++) {
        FUZZ_CHECK(labels->items[i].key && labels->items[i].value,
                   "label %zu is NULL", i);
        FUZZ_CHECK(!i || strcmp(labels->items[i - 1].key,
                                labels->items[i].key) < 0,
                   "labels not sorted or not unique at %zu (%s)", i,
                   labels->items[i].key);
        FUZZ_CHECK(labels_get(labels, labels->items[i].key)
                   == labels->items[i].value, "labels_get(%s) misses",
                   labels->items[i].key);
    }
    FUZZ_CHECK(labels->n <= MANIFEST_MAX_LABELS, "%zu labels", labels->n);
}

static inline void
fuzz_check_selector(const struct selector *sel)
{
    for (size_t i = 0; i < sel->n_reqs; i++) {
        const struct selector_req *req = &sel->reqs[i];
        FUZZ_CHECK(req->key, "requirement %zu has no key", i);
        if (i) {
            const struct selector_req *prev = &sel->reqs[i - 1];
            int cmp = strcmp(prev->key, req->key);
            FUZZ_CHECK(cmp < 0 || (!cmp && prev->op <= req->op),
                       "requirements not sorted at %zu", i);
        }
        switch (req->op) {
        case SELECTOR_IN:
        case SELECTOR_NOT_IN:
            FUZZ_CHECK(req->n_values, "In/NotIn without values");
            for (size_t j = 1; j < req->n_values; j++) {
                FUZZ_CHECK(strcmp(req->values[j - 1], req->values[j]) < 0,
                           "values not sorted or not unique");
            }
            break;
        case SELECTOR_EXISTS:
        case SELECTOR_DOES_NOT_EXIST:
            FUZZ_CHECK(!req->n_values, "Exists/DoesNotExist with values");
            break;
        default:
            FUZZ_CHECK(false, "operator %d", (int) req->op);
        }
    }
}

static inline void
fuzz_check_cidr(const struct cidr *cidr, bool host)
{
    FUZZ_CHECK(cidr->family == AF_INET || cidr->family == AF_INET6,
               "family %d", cidr->family);
    int max = cidr_max_plen(cidr);
    FUZZ_CHECK(cidr->plen <= max, "prefix length %d", cidr->plen);
    FUZZ_CHECK(!host || cidr->plen == max, "not a host prefix");
    for (int i = cidr->plen; i < 128; i++) {
        if (i < max) {
            FUZZ_CHECK(!cidr_get_bit(cidr, i), "host bit %d set", i);
        } else {
            FUZZ_CHECK(!(cidr->addr[i / 8] & (0x80 >> (i % 8))),
                       "bit %d past the address set", i);
        }
    }
}

static inline bool
fuzz_protocol_ok(uint8_t protocol)
{
    return protocol == NP_TCP || protocol == NP_UDP || protocol == NP_SCTP;
}

static inline void
fuzz_check_policy(const struct np_policy *p)
{
    FUZZ_CHECK(p->namespace[0] && p->name[0], "policy without a name");
    fuzz_check_selector(&p->pod_selector);
    for (int d = 0; d < NP_N_DIRECTIONS; d++) {
        FUZZ_CHECK(!p->n_rules[d] || p->rules[d], "rules NULL");
        for (size_t r = 0; r < p->n_rules[d]; r++) {
            const struct np_rule *rule = &p->rules[d][r];
            for (size_t i = 0; i < rule->n_peers; i++) {
                const struct np_peer *peer = &rule->peers[i];
                if (peer->is_ip_block) {
                    FUZZ_CHECK(!peer->pod_selector && !peer->ns_selector,
                               "an ipBlock with a selector");
                    fuzz_check_cidr(&peer->cidr, false);
                    for (size_t e = 0; e < peer->n_except; e++) {
                        fuzz_check_cidr(&peer->except[e], false);
                        FUZZ_CHECK(cidr_contains(&peer->cidr,
                                                 &peer->except[e])
                                   && peer->except[e].plen
                                      > peer->cidr.plen,
                                   "except not strictly inside its cidr");
                    }
                } else {
                    FUZZ_CHECK(peer->pod_selector || peer->ns_selector,
                               "a peer with nothing");
                    FUZZ_CHECK(!peer->n_except, "except without ipBlock");
                    if (peer->pod_selector) {
                        fuzz_check_selector(peer->pod_selector);
                    }
                    if (peer->ns_selector) {
                        fuzz_check_selector(peer->ns_selector);
                    }
                }
            }
            for (size_t i = 0; i < rule->n_ports; i++) {
                const struct np_port *port = &rule->ports[i];
                FUZZ_CHECK(fuzz_protocol_ok(port->protocol), "protocol %d",
                           port->protocol);
                switch (port->kind) {
                case NP_PORT_ALL:
                    break;
                case NP_PORT_NUMBER:
                    FUZZ_CHECK(port->port >= 1
                               && port->end_port >= port->port,
                               "port range %d-%d", port->port,
                               port->end_port);
                    break;
                case NP_PORT_NAMED:
                    FUZZ_CHECK(port->name && port->name[0], "empty name");
                    break;
                default:
                    FUZZ_CHECK(false, "port kind %d", (int) port->kind);
                }
            }
        }
    }
    struct np_policy *clone = np_policy_clone(p);
    FUZZ_CHECK(np_policy_equal(p, clone), "clone differs");
    np_policy_destroy(clone);
}

static inline void
fuzz_check_pod(const struct np_pod *pod)
{
    FUZZ_CHECK(pod->namespace[0] && pod->name[0], "pod without a name");
    fuzz_check_labels(&pod->labels);
    for (size_t i = 0; i < pod->n_ips; i++) {
        fuzz_check_cidr(&pod->ips[i], true);
    }
    for (size_t i = 0; i < pod->n_ports; i++) {
        FUZZ_CHECK(pod->ports[i].port >= 1, "container port 0");
        FUZZ_CHECK(fuzz_protocol_ok(pod->ports[i].protocol), "protocol");
    }
    struct np_pod *clone = np_pod_clone(pod);
    FUZZ_CHECK(np_pod_equal(pod, clone), "clone differs");
    np_pod_destroy(clone);
}

static inline void
fuzz_check_namespace(const struct np_namespace *ns)
{
    FUZZ_CHECK(ns->name[0], "namespace without a name");
    fuzz_check_labels(&ns->labels);
    const char *name = labels_get(&ns->labels, "kubernetes.io/metadata.name");
    FUZZ_CHECK(name && !strcmp(name, ns->name),
               "kubernetes.io/metadata.name missing or wrong");
    struct np_namespace *clone = np_namespace_clone(ns);
    FUZZ_CHECK(!strcmp(clone->name, ns->name)
               && labels_equal(&clone->labels, &ns->labels),
               "clone differs");
    np_namespace_destroy(clone);
}

/* Checks 'obj' against model.h. */
static inline void
fuzz_check_object(const struct np_object *obj)
{
    switch (obj->kind) {
    case NP_KIND_NAMESPACE:
        FUZZ_CHECK(obj->ns, "NULL namespace");
        fuzz_check_namespace(obj->ns);
        break;
    case NP_KIND_POD:
        FUZZ_CHECK(obj->pod, "NULL pod");
        fuzz_check_pod(obj->pod);
        break;
    case NP_KIND_POLICY:
        FUZZ_CHECK(obj->policy, "NULL policy");
        fuzz_check_policy(obj->policy);
        break;
    default:
        FUZZ_CHECK(false, "kind %d", (int) obj->kind);
    }
    FUZZ_CHECK(np_object_name(obj) && np_object_name(obj)[0], "no name");
    FUZZ_CHECK(np_object_namespace(obj), "no namespace");
}

/* np_object_identify() names every object np_object_from_json() accepts,
 * the same way. */
static inline void
fuzz_check_identify(const json_t *json, const struct np_object *obj)
{
    enum np_kind kind;
    const char *ns, *name;
    FUZZ_CHECK(np_object_identify(json, &kind, &ns, &name),
               "a valid %s is not identified", np_kind_name(obj->kind));
    FUZZ_CHECK(kind == obj->kind, "identified as %s, parsed as %s",
               np_kind_name(kind), np_kind_name(obj->kind));
    FUZZ_CHECK(!strcmp(ns, np_object_namespace(obj))
               && !strcmp(name, np_object_name(obj)),
               "identified as %s/%s, parsed as %s/%s", ns, name,
               np_object_namespace(obj), np_object_name(obj));
}

/* Every problem formats, and has a message. */
static inline void
fuzz_check_problems(const struct np_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        const struct np_problem *p = &problems->items[i];
        FUZZ_CHECK(p->source && p->object && p->path && p->message,
                   "problem %zu has a NULL part", i);
        FUZZ_CHECK(p->message[0], "problem %zu has no message", i);
    }
}

#endif /* fuzz-model.h */
