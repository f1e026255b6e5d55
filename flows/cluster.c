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

/* cluster.c: the cluster state container (cluster.h).  Sources write into
 * it; the compiler and explain read it.  Pure data handling: no I/O. */

#include <config.h>
#include "ovs-netpol/cluster.h"

#include <stdlib.h>
#include <string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/util.h"

/* Local ports. */

struct local_port *
local_port_create(uint32_t ofport, const char *name)
{
    struct local_port *port = np_xzalloc(sizeof *port);
    port->ofport = ofport;
    port->name = np_xstrdup(name ? name : "");
    return port;
}

void
local_port_destroy(struct local_port *port)
{
    if (port) {
        free(port->name);
        free(port->pod_namespace);
        free(port->pod_name);
        free(port->ips);
        free(port);
    }
}

struct local_port *
local_port_clone(const struct local_port *src)
{
    struct local_port *port = local_port_create(src->ofport, src->name);
    port->pod_namespace = src->pod_namespace
                          ? np_xstrdup(src->pod_namespace) : NULL;
    port->pod_name = src->pod_name ? np_xstrdup(src->pod_name) : NULL;
    port->has_mac = src->has_mac;
    memcpy(port->mac, src->mac, sizeof port->mac);
    port->n_ips = src->n_ips;
    port->ips = np_xmemdup(src->ips, src->n_ips * sizeof *src->ips);
    return port;
}

static bool
nullable_streq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : !strcmp(a, b);
}

bool
local_port_equal(const struct local_port *a, const struct local_port *b)
{
    return (a->ofport == b->ofport
            && !strcmp(a->name, b->name)
            && nullable_streq(a->pod_namespace, b->pod_namespace)
            && nullable_streq(a->pod_name, b->pod_name)
            && a->has_mac == b->has_mac
            && (!a->has_mac || !memcmp(a->mac, b->mac, sizeof a->mac))
            && a->n_ips == b->n_ips
            && (!a->n_ips
                || !memcmp(a->ips, b->ips, a->n_ips * sizeof *a->ips)));
}

bool
local_port_is_pod(const struct local_port *port)
{
    return port->pod_namespace && port->pod_name;
}

/* The cluster. */

uint32_t
cluster_hash_name(const char *ns, const char *name)
{
    return np_hash_string(name, np_hash_string(ns, 0));
}

void
cluster_init(struct cluster *c)
{
    hmap_init(&c->namespaces);
    hmap_init(&c->pods);
    hmap_init(&c->policies);
    hmap_init(&c->ports);
    hmap_init(&c->pod_ports);
}

void
cluster_clear(struct cluster *c)
{
    struct np_namespace *ns;
    HMAP_FOR_EACH_POP (ns, node, &c->namespaces) {
        np_namespace_destroy(ns);
    }
    struct np_pod *pod;
    HMAP_FOR_EACH_POP (pod, node, &c->pods) {
        np_pod_destroy(pod);
    }
    struct np_policy *policy;
    HMAP_FOR_EACH_POP (policy, node, &c->policies) {
        np_policy_destroy(policy);
    }
    struct local_port *port;
    HMAP_FOR_EACH_POP (port, node, &c->ports) {
        local_port_destroy(port);
    }
    hmap_clear(&c->pod_ports);
}

void
cluster_destroy(struct cluster *c)
{
    if (c) {
        cluster_clear(c);
        hmap_destroy(&c->namespaces);
        hmap_destroy(&c->pods);
        hmap_destroy(&c->policies);
        hmap_destroy(&c->ports);
        hmap_destroy(&c->pod_ports);
    }
}

struct np_namespace *
cluster_find_namespace(const struct cluster *c, const char *name)
{
    struct np_namespace *ns;
    HMAP_FOR_EACH_WITH_HASH (ns, node, cluster_hash_name("", name),
                             &c->namespaces) {
        if (!strcmp(ns->name, name)) {
            return ns;
        }
    }
    return NULL;
}

struct np_pod *
cluster_find_pod(const struct cluster *c, const char *ns, const char *name)
{
    struct np_pod *pod;
    HMAP_FOR_EACH_WITH_HASH (pod, node, cluster_hash_name(ns, name),
                             &c->pods) {
        if (!strcmp(pod->name, name) && !strcmp(pod->namespace, ns)) {
            return pod;
        }
    }
    return NULL;
}

struct np_policy *
cluster_find_policy(const struct cluster *c, const char *ns,
                    const char *name)
{
    struct np_policy *policy;
    HMAP_FOR_EACH_WITH_HASH (policy, node, cluster_hash_name(ns, name),
                             &c->policies) {
        if (!strcmp(policy->name, name) && !strcmp(policy->namespace, ns)) {
            return policy;
        }
    }
    return NULL;
}

struct local_port *
cluster_find_port(const struct cluster *c, uint32_t ofport)
{
    struct local_port *port;
    HMAP_FOR_EACH_WITH_HASH (port, node, np_hash_add(0, ofport), &c->ports) {
        if (port->ofport == ofport) {
            return port;
        }
    }
    return NULL;
}

bool
cluster_holds_object(const struct cluster *c, const struct np_object *obj)
{
    struct np_object held = { .kind = obj->kind };

    switch (obj->kind) {
    case NP_KIND_NAMESPACE:
        held.ns = cluster_find_namespace(c, obj->ns->name);
        break;
    case NP_KIND_POD:
        held.pod = cluster_find_pod(c, obj->pod->namespace, obj->pod->name);
        break;
    case NP_KIND_POLICY:
        held.policy = cluster_find_policy(c, obj->policy->namespace,
                                          obj->policy->name);
        break;
    }
    return held.ns && np_object_equal(&held, obj);   /* Any kind's pointer. */
}

struct local_port *
cluster_find_pod_port(const struct cluster *c, const char *ns,
                      const char *name)
{
    struct local_port *port, *best = NULL;
    HMAP_FOR_EACH_WITH_HASH (port, pod_node, cluster_hash_name(ns, name),
                             &c->pod_ports) {
        if (!strcmp(port->pod_name, name) && !strcmp(port->pod_namespace, ns)
            && (!best || port->ofport < best->ofport)) {
            best = port;
        }
    }
    return best;
}

static void
index_pod_port(struct cluster *c, struct local_port *port)
{
    if (local_port_is_pod(port)) {
        hmap_insert(&c->pod_ports, &port->pod_node,
                    cluster_hash_name(port->pod_namespace, port->pod_name));
    }
}

static void
unindex_pod_port(struct cluster *c, struct local_port *port)
{
    if (local_port_is_pod(port)) {
        hmap_remove(&c->pod_ports, &port->pod_node);
    }
}

void
cluster_set_namespace(struct cluster *c, struct np_namespace *ns)
{
    struct np_namespace *old = cluster_find_namespace(c, ns->name);
    if (old) {
        hmap_replace(&c->namespaces, &old->node, &ns->node);
        np_namespace_destroy(old);
    } else {
        hmap_insert(&c->namespaces, &ns->node,
                    cluster_hash_name("", ns->name));
    }
}

void
cluster_set_pod(struct cluster *c, struct np_pod *pod)
{
    struct np_pod *old = cluster_find_pod(c, pod->namespace, pod->name);
    if (old) {
        hmap_replace(&c->pods, &old->node, &pod->node);
        np_pod_destroy(old);
    } else {
        hmap_insert(&c->pods, &pod->node,
                    cluster_hash_name(pod->namespace, pod->name));
    }
}

void
cluster_set_policy(struct cluster *c, struct np_policy *policy)
{
    struct np_policy *old = cluster_find_policy(c, policy->namespace,
                                                policy->name);
    if (old) {
        hmap_replace(&c->policies, &old->node, &policy->node);
        np_policy_destroy(old);
    } else {
        hmap_insert(&c->policies, &policy->node,
                    cluster_hash_name(policy->namespace, policy->name));
    }
}

void
cluster_set_port(struct cluster *c, struct local_port *port)
{
    struct local_port *old = cluster_find_port(c, port->ofport);
    if (old) {
        unindex_pod_port(c, old);
        hmap_replace(&c->ports, &old->node, &port->node);
        local_port_destroy(old);
    } else {
        hmap_insert(&c->ports, &port->node, np_hash_add(0, port->ofport));
    }
    index_pod_port(c, port);
}

void
cluster_set_object(struct cluster *c, struct np_object *obj)
{
    switch (obj->kind) {
    case NP_KIND_NAMESPACE:
        cluster_set_namespace(c, obj->ns);
        break;
    case NP_KIND_POD:
        cluster_set_pod(c, obj->pod);
        break;
    case NP_KIND_POLICY:
        cluster_set_policy(c, obj->policy);
        break;
    }
    obj->ns = NULL;
}

bool
cluster_delete_namespace(struct cluster *c, const char *name)
{
    struct np_namespace *ns = cluster_find_namespace(c, name);
    if (ns) {
        hmap_remove(&c->namespaces, &ns->node);
        np_namespace_destroy(ns);
    }
    return ns != NULL;
}

bool
cluster_delete_pod(struct cluster *c, const char *ns, const char *name)
{
    struct np_pod *pod = cluster_find_pod(c, ns, name);
    if (pod) {
        hmap_remove(&c->pods, &pod->node);
        np_pod_destroy(pod);
    }
    return pod != NULL;
}

bool
cluster_delete_policy(struct cluster *c, const char *ns, const char *name)
{
    struct np_policy *policy = cluster_find_policy(c, ns, name);
    if (policy) {
        hmap_remove(&c->policies, &policy->node);
        np_policy_destroy(policy);
    }
    return policy != NULL;
}

bool
cluster_delete_port(struct cluster *c, uint32_t ofport)
{
    struct local_port *port = cluster_find_port(c, ofport);
    if (port) {
        unindex_pod_port(c, port);
        hmap_remove(&c->ports, &port->node);
        local_port_destroy(port);
    }
    return port != NULL;
}

bool
cluster_delete_object(struct cluster *c, enum np_kind kind, const char *ns,
                      const char *name)
{
    switch (kind) {
    case NP_KIND_NAMESPACE:
        return cluster_delete_namespace(c, name);
    case NP_KIND_POD:
        return cluster_delete_pod(c, ns, name);
    case NP_KIND_POLICY:
        return cluster_delete_policy(c, ns, name);
    }
    return false;
}
