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

/* model.c: the life cycle of the policy objects of model.h (labels,
 * selectors, namespaces, pods, policies): destroy, clone, compare.  Pure
 * data handling, part of the core library (flows/); no I/O. */

#include <config.h>
#include "ovs-netpol/model.h"

#include <stdlib.h>
#include <string.h>
#include "ovs-netpol/util.h"

const char *
np_protocol_name(uint8_t protocol)
{
    switch (protocol) {
    case NP_TCP: return "TCP";
    case NP_UDP: return "UDP";
    case NP_SCTP: return "SCTP";
    default: return "unknown";
    }
}

const char *
np_direction_name(enum np_direction dir)
{
    return dir == NP_INGRESS ? "ingress" : "egress";
}

const char *
np_kind_name(enum np_kind kind)
{
    switch (kind) {
    case NP_KIND_NAMESPACE: return "Namespace";
    case NP_KIND_POD: return "Pod";
    case NP_KIND_POLICY: return "NetworkPolicy";
    }
    return "unknown";
}

/* Labels. */

void
labels_init(struct labels *labels)
{
    labels->items = NULL;
    labels->n = 0;
}

/* Sets 'label' to copies of 'key' and 'value', in one block (see 'struct
 * label'). */
static void
label_init(struct label *label, const char *key, const char *value)
{
    size_t key_len = strlen(key), value_len = strlen(value);
    label->key = np_xmalloc(key_len + value_len + 2);
    memcpy(label->key, key, key_len + 1);
    label->value = label->key + key_len + 1;
    memcpy(label->value, value, value_len + 1);
}

void
labels_destroy(struct labels *labels)
{
    if (labels) {
        for (size_t i = 0; i < labels->n; i++) {
            free(labels->items[i].key);
        }
        free(labels->items);
        labels_init(labels);
    }
}

void
labels_clone(struct labels *dst, const struct labels *src)
{
    dst->n = src->n;
    dst->items = src->n ? np_xmalloc(src->n * sizeof *dst->items) : NULL;
    for (size_t i = 0; i < src->n; i++) {
        label_init(&dst->items[i], src->items[i].key, src->items[i].value);
    }
}

bool
labels_equal(const struct labels *a, const struct labels *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->items[i].key, b->items[i].key)
            || strcmp(a->items[i].value, b->items[i].value)) {
            return false;
        }
    }
    return true;
}

/* Returns the index of 'key' in 'labels', or -(insertion point) - 1. */
static long
labels_search(const struct labels *labels, const char *key)
{
    size_t lo = 0, hi = labels->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(key, labels->items[mid].key);
        if (!cmp) {
            return mid;
        } else if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return -(long) lo - 1;
}

const char *
labels_get(const struct labels *labels, const char *key)
{
    long idx = labels_search(labels, key);
    return idx >= 0 ? labels->items[idx].value : NULL;
}

void
labels_set(struct labels *labels, const char *key, const char *value)
{
    long idx = labels_search(labels, key);
    if (idx >= 0) {
        char *old = labels->items[idx].key;
        label_init(&labels->items[idx], key, value);
        free(old);
        return;
    }

    size_t pos = -(idx + 1);
    labels->items = np_xrealloc(labels->items,
                                (labels->n + 1) * sizeof *labels->items);
    memmove(&labels->items[pos + 1], &labels->items[pos],
            (labels->n - pos) * sizeof *labels->items);
    label_init(&labels->items[pos], key, value);
    labels->n++;
}

bool
labels_remove(struct labels *labels, const char *key)
{
    long idx = labels_search(labels, key);
    if (idx < 0) {
        return false;
    }
    free(labels->items[idx].key);
    memmove(&labels->items[idx], &labels->items[idx + 1],
            (labels->n - idx - 1) * sizeof *labels->items);
    labels->n--;
    return true;
}

/* Selectors. */

static void
selector_req_destroy(struct selector_req *req)
{
    free(req->key);
    for (size_t i = 0; i < req->n_values; i++) {
        free(req->values[i]);
    }
    free(req->values);
}

void
selector_destroy(struct selector *sel)
{
    if (sel) {
        for (size_t i = 0; i < sel->n_reqs; i++) {
            selector_req_destroy(&sel->reqs[i]);
        }
        free(sel->reqs);
        sel->reqs = NULL;
        sel->n_reqs = 0;
    }
}

void
selector_clone(struct selector *dst, const struct selector *src)
{
    dst->n_reqs = src->n_reqs;
    dst->reqs = src->n_reqs ? np_xmalloc(src->n_reqs * sizeof *dst->reqs)
                            : NULL;
    for (size_t i = 0; i < src->n_reqs; i++) {
        const struct selector_req *s = &src->reqs[i];
        struct selector_req *d = &dst->reqs[i];

        d->key = np_xstrdup(s->key);
        d->op = s->op;
        d->n_values = s->n_values;
        d->values = s->n_values ? np_xmalloc(s->n_values * sizeof *d->values)
                                : NULL;
        for (size_t j = 0; j < s->n_values; j++) {
            d->values[j] = np_xstrdup(s->values[j]);
        }
    }
}

bool
selector_equal(const struct selector *a, const struct selector *b)
{
    if (a->n_reqs != b->n_reqs) {
        return false;
    }
    for (size_t i = 0; i < a->n_reqs; i++) {
        const struct selector_req *x = &a->reqs[i], *y = &b->reqs[i];
        if (x->op != y->op || strcmp(x->key, y->key)
            || x->n_values != y->n_values) {
            return false;
        }
        for (size_t j = 0; j < x->n_values; j++) {
            if (strcmp(x->values[j], y->values[j])) {
                return false;
            }
        }
    }
    return true;
}

static struct selector *
selector_clone_ptr(const struct selector *src)
{
    if (!src) {
        return NULL;
    }
    struct selector *dst = np_xmalloc(sizeof *dst);
    selector_clone(dst, src);
    return dst;
}

static bool
optional_selector_equal(const struct selector *a, const struct selector *b)
{
    return (!a || !b) ? a == b : selector_equal(a, b);
}

/* Namespaces. */

void
np_namespace_destroy(struct np_namespace *ns)
{
    if (ns && ns->n_shares) {
        ns->n_shares--;
    } else if (ns) {
        free(ns->name);
        labels_destroy(&ns->labels);
        free(ns);
    }
}

struct np_namespace *
np_namespace_clone(const struct np_namespace *src)
{
    struct np_namespace *ns = np_xzalloc(sizeof *ns);
    ns->name = np_xstrdup(src->name);
    labels_clone(&ns->labels, &src->labels);
    ns->log_allowed = src->log_allowed;
    return ns;
}

/* Pods. */

void
np_pod_destroy(struct np_pod *pod)
{
    if (pod && pod->n_shares) {
        pod->n_shares--;
    } else if (pod) {
        free(pod->namespace);
        free(pod->name);
        labels_destroy(&pod->labels);
        free(pod->node_name);
        free(pod->ips);
        for (size_t i = 0; i < pod->n_ports; i++) {
            free(pod->ports[i].name);
        }
        free(pod->ports);
        free(pod);
    }
}

static char *
nullable_strdup(const char *s)
{
    return s ? np_xstrdup(s) : NULL;
}

static bool
nullable_streq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : !strcmp(a, b);
}

struct np_pod *
np_pod_clone(const struct np_pod *src)
{
    struct np_pod *pod = np_xzalloc(sizeof *pod);
    pod->namespace = np_xstrdup(src->namespace);
    pod->name = np_xstrdup(src->name);
    labels_clone(&pod->labels, &src->labels);
    pod->node_name = nullable_strdup(src->node_name);
    pod->n_ips = src->n_ips;
    pod->ips = np_xmemdup(src->ips, src->n_ips * sizeof *src->ips);
    pod->n_ports = src->n_ports;
    pod->ports = np_xmemdup(src->ports, src->n_ports * sizeof *src->ports);
    for (size_t i = 0; i < pod->n_ports; i++) {
        pod->ports[i].name = nullable_strdup(src->ports[i].name);
    }
    pod->host_network = src->host_network;
    pod->terminated = src->terminated;
    return pod;
}

bool
np_namespace_equal(const struct np_namespace *a,
                   const struct np_namespace *b)
{
    return (!strcmp(a->name, b->name)
            && labels_equal(&a->labels, &b->labels)
            && a->log_allowed == b->log_allowed);
}

bool
np_object_equal(const struct np_object *a, const struct np_object *b)
{
    if (a->kind != b->kind) {
        return false;
    } else if (a->ns == b->ns) {
        return true;            /* Shared (or both NULL). */
    }
    switch (a->kind) {
    case NP_KIND_NAMESPACE:
        return np_namespace_equal(a->ns, b->ns);
    case NP_KIND_POD:
        return np_pod_equal(a->pod, b->pod);
    case NP_KIND_POLICY:
        return np_policy_equal(a->policy, b->policy);
    }
    return false;
}

bool
np_pod_equal(const struct np_pod *a, const struct np_pod *b)
{
    if (strcmp(a->namespace, b->namespace) || strcmp(a->name, b->name)
        || !labels_equal(&a->labels, &b->labels)
        || !nullable_streq(a->node_name, b->node_name)
        || a->n_ips != b->n_ips
        || (a->n_ips && memcmp(a->ips, b->ips, a->n_ips * sizeof *a->ips))
        || a->n_ports != b->n_ports
        || a->host_network != b->host_network
        || a->terminated != b->terminated) {
        return false;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct np_container_port *x = &a->ports[i], *y = &b->ports[i];
        if (x->port != y->port || x->protocol != y->protocol
            || !nullable_streq(x->name, y->name)) {
            return false;
        }
    }
    return true;
}

/* Policies. */

static void
np_peer_destroy(struct np_peer *peer)
{
    if (peer->pod_selector) {
        selector_destroy(peer->pod_selector);
        free(peer->pod_selector);
    }
    if (peer->ns_selector) {
        selector_destroy(peer->ns_selector);
        free(peer->ns_selector);
    }
    free(peer->except);
}

static void
np_rule_destroy(struct np_rule *rule)
{
    for (size_t i = 0; i < rule->n_peers; i++) {
        np_peer_destroy(&rule->peers[i]);
    }
    free(rule->peers);
    for (size_t i = 0; i < rule->n_ports; i++) {
        free(rule->ports[i].name);
    }
    free(rule->ports);
}

void
np_policy_destroy(struct np_policy *policy)
{
    if (policy && policy->n_shares) {
        policy->n_shares--;
    } else if (policy) {
        free(policy->namespace);
        free(policy->name);
        selector_destroy(&policy->pod_selector);
        for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
            for (size_t i = 0; i < policy->n_rules[dir]; i++) {
                np_rule_destroy(&policy->rules[dir][i]);
            }
            free(policy->rules[dir]);
        }
        free(policy);
    }
}

static bool
np_peer_equal(const struct np_peer *a, const struct np_peer *b)
{
    return (optional_selector_equal(a->pod_selector, b->pod_selector)
            && optional_selector_equal(a->ns_selector, b->ns_selector)
            && a->is_ip_block == b->is_ip_block
            && !memcmp(&a->cidr, &b->cidr, sizeof a->cidr)
            && a->n_except == b->n_except
            && (!a->n_except
                || !memcmp(a->except, b->except,
                           a->n_except * sizeof *a->except)));
}

static bool
np_port_equal(const struct np_port *a, const struct np_port *b)
{
    return (a->protocol == b->protocol && a->kind == b->kind
            && a->port == b->port && a->end_port == b->end_port
            && nullable_streq(a->name, b->name));
}

static bool
np_rule_equal(const struct np_rule *a, const struct np_rule *b)
{
    if (a->n_peers != b->n_peers || a->n_ports != b->n_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_peers; i++) {
        if (!np_peer_equal(&a->peers[i], &b->peers[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        if (!np_port_equal(&a->ports[i], &b->ports[i])) {
            return false;
        }
    }
    return true;
}

bool
np_policy_equal(const struct np_policy *a, const struct np_policy *b)
{
    if (strcmp(a->namespace, b->namespace) || strcmp(a->name, b->name)
        || !selector_equal(&a->pod_selector, &b->pod_selector)) {
        return false;
    }
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        if (a->isolates[dir] != b->isolates[dir]
            || a->n_rules[dir] != b->n_rules[dir]) {
            return false;
        }
        for (size_t i = 0; i < a->n_rules[dir]; i++) {
            if (!np_rule_equal(&a->rules[dir][i], &b->rules[dir][i])) {
                return false;
            }
        }
    }
    return true;
}

/* Clones a policy.  Used by tests and by the incremental engine, which keeps
 * the previous version of a changed policy until the change is handled. */
static struct np_rule *
np_rules_clone(const struct np_rule *src, size_t n)
{
    struct np_rule *rules = n ? np_xcalloc(n, sizeof *rules) : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct np_rule *s = &src[i];
        struct np_rule *d = &rules[i];

        d->n_peers = s->n_peers;
        d->peers = s->n_peers ? np_xcalloc(s->n_peers, sizeof *d->peers)
                              : NULL;
        for (size_t j = 0; j < s->n_peers; j++) {
            const struct np_peer *sp = &s->peers[j];
            struct np_peer *dp = &d->peers[j];

            dp->pod_selector = selector_clone_ptr(sp->pod_selector);
            dp->ns_selector = selector_clone_ptr(sp->ns_selector);
            dp->is_ip_block = sp->is_ip_block;
            dp->cidr = sp->cidr;
            dp->n_except = sp->n_except;
            dp->except = np_xmemdup(sp->except,
                                    sp->n_except * sizeof *sp->except);
        }
        d->n_ports = s->n_ports;
        d->ports = np_xmemdup(s->ports, s->n_ports * sizeof *s->ports);
        for (size_t j = 0; j < s->n_ports; j++) {
            d->ports[j].name = nullable_strdup(s->ports[j].name);
        }
    }
    return rules;
}

struct np_policy *
np_policy_clone(const struct np_policy *src)
{
    struct np_policy *policy = np_xzalloc(sizeof *policy);
    policy->namespace = np_xstrdup(src->namespace);
    policy->name = np_xstrdup(src->name);
    selector_clone(&policy->pod_selector, &src->pod_selector);
    for (int dir = 0; dir < NP_N_DIRECTIONS; dir++) {
        policy->isolates[dir] = src->isolates[dir];
        policy->n_rules[dir] = src->n_rules[dir];
        policy->rules[dir] = np_rules_clone(src->rules[dir],
                                            src->n_rules[dir]);
    }
    return policy;
}

/* Objects. */

void
np_object_destroy(struct np_object *obj)
{
    if (obj) {
        switch (obj->kind) {
        case NP_KIND_NAMESPACE:
            np_namespace_destroy(obj->ns);
            break;
        case NP_KIND_POD:
            np_pod_destroy(obj->pod);
            break;
        case NP_KIND_POLICY:
            np_policy_destroy(obj->policy);
            break;
        }
        obj->ns = NULL;
    }
}

struct np_namespace *
np_namespace_share(struct np_namespace *ns)
{
    ns->n_shares++;
    return ns;
}

struct np_pod *
np_pod_share(struct np_pod *pod)
{
    pod->n_shares++;
    return pod;
}

struct np_policy *
np_policy_share(struct np_policy *policy)
{
    policy->n_shares++;
    return policy;
}

struct np_object
np_object_share(const struct np_object *obj)
{
    struct np_object share = { .kind = obj->kind };
    switch (obj->kind) {
    case NP_KIND_NAMESPACE:
        share.ns = np_namespace_share(obj->ns);
        break;
    case NP_KIND_POD:
        share.pod = np_pod_share(obj->pod);
        break;
    case NP_KIND_POLICY:
        share.policy = np_policy_share(obj->policy);
        break;
    }
    return share;
}

const char *
np_object_namespace(const struct np_object *obj)
{
    switch (obj->kind) {
    case NP_KIND_NAMESPACE: return "";
    case NP_KIND_POD: return obj->pod->namespace;
    case NP_KIND_POLICY: return obj->policy->namespace;
    }
    return "";
}

const char *
np_object_name(const struct np_object *obj)
{
    switch (obj->kind) {
    case NP_KIND_NAMESPACE: return obj->ns->name;
    case NP_KIND_POD: return obj->pod->name;
    case NP_KIND_POLICY: return obj->policy->name;
    }
    return "";
}
