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

#ifndef OVS_NETPOL_CLUSTER_H
#define OVS_NETPOL_CLUSTER_H 1

/* The cluster state: everything the compiler reads.
 *
 * Sources (manifests, the Kubernetes API, OVSDB) write into it; the compiler
 * (compiler.h) and explain (explain.h) read it.  It holds:
 *
 *   - the Namespaces, Pods and NetworkPolicies of the whole cluster (peers
 *     of local pods can be anywhere);
 *
 *   - the ports of this node's bridge ('struct local_port'): pod ports, the
 *     host port (the bridge's internal port, OpenFlow port LOCAL) and every
 *     other port, which is an uplink or tunnel.
 *
 * A pod is local when a pod port names it.  Its addresses come from the
 * port when the port carries them (the CNI knows first), otherwise from the
 * Pod object's status.podIPs.
 *
 * Objects are owned by the cluster once inserted; the setters replace an
 * existing object of the same identity and destroy it.
 *
 * All calls run on one thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* OpenFlow port number of the bridge's own internal port. */
#define LOCAL_PORT_HOST 0xfffe

/* A port of this node's bridge. */
struct local_port {
    struct hmap_node node;      /* In 'struct cluster', by ofport. */
    struct hmap_node pod_node;  /* In 'struct cluster', by pod, if a pod's
                                 * port. */
    uint32_t ofport;            /* OpenFlow port number. */
    char *name;                 /* Interface name (for messages). */

    /* Pod identity, both NULL when the port is not a pod's. */
    char *pod_namespace;
    char *pod_name;

    bool has_mac;               /* Whether 'mac' is known. */
    uint8_t mac[6];             /* The pod's MAC (not the port's). */

    struct cidr *ips;           /* Pod addresses named by the port (may be
                                 * empty: then the Pod's podIPs are used). */
    size_t n_ips;
};

struct local_port *local_port_create(uint32_t ofport, const char *name);
void local_port_destroy(struct local_port *);
struct local_port *local_port_clone(const struct local_port *);
bool local_port_equal(const struct local_port *, const struct local_port *);
bool local_port_is_pod(const struct local_port *);

struct cluster {
    struct hmap namespaces;     /* Contains struct np_namespace, by name. */
    struct hmap pods;           /* Contains struct np_pod, by ns/name. */
    struct hmap policies;       /* Contains struct np_policy, by ns/name. */
    struct hmap ports;          /* Contains struct local_port, by ofport. */
    struct hmap pod_ports;      /* The pod ports of 'ports' again, by pod
                                 * namespace/name ('pod_node'). */
};

void cluster_init(struct cluster *);
void cluster_destroy(struct cluster *);
void cluster_clear(struct cluster *);

/* Lookups.  Return NULL when absent. */
struct np_namespace *cluster_find_namespace(const struct cluster *,
                                            const char *name);
struct np_pod *cluster_find_pod(const struct cluster *, const char *ns,
                                const char *name);
struct np_policy *cluster_find_policy(const struct cluster *, const char *ns,
                                      const char *name);
struct local_port *cluster_find_port(const struct cluster *, uint32_t ofport);

/* True if the cluster holds an object equal to 'obj' (same kind, namespace
 * and name, and np_object_equal()). */
bool cluster_holds_object(const struct cluster *, const struct np_object *);
/* Returns the pod port that names pod 'ns'/'name' (the one with the lowest
 * OpenFlow port, if several do), or NULL. */
struct local_port *cluster_find_pod_port(const struct cluster *,
                                         const char *ns, const char *name);

/* Modifiers.  Each takes ownership of the object it is given, and destroys
 * the object it replaces or deletes.  Deleting something absent is a
 * no-op that returns false. */
void cluster_set_namespace(struct cluster *, struct np_namespace *);
void cluster_set_pod(struct cluster *, struct np_pod *);
void cluster_set_policy(struct cluster *, struct np_policy *);
void cluster_set_port(struct cluster *, struct local_port *);
/* Takes the contents of 'obj' (and leaves it empty). */
void cluster_set_object(struct cluster *, struct np_object *obj);
bool cluster_delete_namespace(struct cluster *, const char *name);
bool cluster_delete_pod(struct cluster *, const char *ns, const char *name);
bool cluster_delete_policy(struct cluster *, const char *ns,
                           const char *name);
bool cluster_delete_port(struct cluster *, uint32_t ofport);
bool cluster_delete_object(struct cluster *, enum np_kind, const char *ns,
                           const char *name);

uint32_t cluster_hash_name(const char *ns, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/cluster.h */
