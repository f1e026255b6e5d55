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

#ifndef OVS_NETPOL_MODEL_H
#define OVS_NETPOL_MODEL_H 1

/* The Kubernetes objects that decide network policy, as ovs-netpol sees them.
 *
 * What?
 * =====
 *
 * Three kinds of object matter: Namespaces (their labels feed
 * namespaceSelectors), Pods (labels, addresses, container ports, node) and
 * networking.k8s.io/v1 NetworkPolicies.  Everything else in a manifest or on
 * the API server is ignored.  The structures below hold only what policy
 * needs, already validated and normalised:
 *
 *   - labels are sorted by key, so lookups are a binary search and two label
 *     sets compare with a merge;
 *
 *   - selectors are in one form: matchLabels entries become "In" requirements
 *     with one value, values are sorted and unique;
 *
 *   - policyTypes are defaulted as the API server does ("Ingress" always,
 *     "Egress" when the policy has egress rules);
 *
 *   - ports carry a protocol (TCP when the manifest omits it) and either no
 *     number (every port of the protocol), a number or range, or a name;
 *
 *   - an ipBlock's cidr and except entries are prefixes with their host bits
 *     cleared.
 *
 * "Absent" and "empty" are kept apart where Kubernetes keeps them apart: a
 * peer's podSelector or namespaceSelector is NULL when the manifest leaves it
 * out, and a selector with no requirements selects everything.  A rule with
 * no peers allows every peer; a rule with no ports allows every port.
 *
 * Objects are created by the manifest parser (manifest.h) and owned by
 * whoever holds them: usually a 'struct cluster' (cluster.h).
 *
 * Thread safety: none; objects are plain data. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openvswitch/hmap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* IP prefixes. */

/* An IPv4 or IPv6 address with a prefix length.  A single address is a
 * prefix of length 32 or 128.  Host bits (those past 'plen') are always
 * zero, so two equal prefixes compare equal with memcmp(). */
struct cidr {
    uint8_t family;             /* AF_INET or AF_INET6. */
    uint8_t plen;               /* 0...32 (IPv4) or 0...128 (IPv6). */
    uint8_t addr[16];           /* Network byte order; IPv4 uses addr[0..3]
                                 * and leaves the rest zero. */
};

/* Labels. */

/* 'key' and 'value' are one allocation (the value follows the key's null
 * terminator), which halves the allocations of a cluster's labels: create,
 * change and free them only with the labels_*() functions below. */
struct label {
    char *key;
    char *value;
};

/* A set of labels, sorted by key, keys unique. */
struct labels {
    struct label *items;
    size_t n;
};

void labels_init(struct labels *);
void labels_destroy(struct labels *);
void labels_clone(struct labels *dst, const struct labels *src);
bool labels_equal(const struct labels *, const struct labels *);
const char *labels_get(const struct labels *, const char *key);
/* Sets 'key' to 'value' (copies both), replacing any existing value. */
void labels_set(struct labels *, const char *key, const char *value);
/* Removes 'key'; returns false if it was not there. */
bool labels_remove(struct labels *, const char *key);

/* Label selectors. */

enum selector_op {
    SELECTOR_IN,
    SELECTOR_NOT_IN,
    SELECTOR_EXISTS,
    SELECTOR_DOES_NOT_EXIST,
};

/* One requirement of a selector.  For IN and NOT_IN, 'values' is sorted,
 * unique and non-empty; for EXISTS and DOES_NOT_EXIST it is empty. */
struct selector_req {
    char *key;
    enum selector_op op;
    char **values;
    size_t n_values;
};

/* A label selector: the conjunction of its requirements, sorted by key then
 * operator.  No requirements at all selects everything. */
struct selector {
    struct selector_req *reqs;
    size_t n_reqs;
};

/* Protocols. */

/* IP protocol numbers of the protocols NetworkPolicy knows. */
enum np_protocol {
    NP_TCP = 6,
    NP_UDP = 17,
    NP_SCTP = 132,
};

const char *np_protocol_name(uint8_t protocol);   /* "TCP", "UDP", "SCTP" */

/* Namespaces. */

/* A namespace annotated with this key, value "true", has the connections
 * that policies allow to its pods logged in the audit log (when the agent
 * writes one), not only the ones they deny. */
#define NP_LOG_ALLOWED_ANNOTATION "ovs-netpol.io/log-allowed"

struct np_namespace {
    struct hmap_node node;      /* In a 'struct cluster', by name. */
    unsigned int n_shares;      /* Owners beyond the first (np_*_share()). */
    char *name;
    struct labels labels;
    bool log_allowed;           /* NP_LOG_ALLOWED_ANNOTATION is "true". */
};

/* Pods. */

struct np_container_port {
    char *name;                 /* NULL when the port is not named. */
    uint16_t port;              /* 1...65535. */
    uint8_t protocol;           /* NP_TCP, NP_UDP or NP_SCTP. */
};

struct np_pod {
    struct hmap_node node;      /* In a 'struct cluster', by namespace/name. */
    unsigned int n_shares;      /* Owners beyond the first (np_*_share()). */
    char *namespace;
    char *name;
    struct labels labels;
    char *node_name;            /* spec.nodeName; NULL if not scheduled. */
    struct cidr *ips;           /* status.podIPs, as /32 or /128. */
    size_t n_ips;
    struct np_container_port *ports;    /* spec.containers[*].ports. */
    size_t n_ports;
    bool host_network;          /* spec.hostNetwork. */
    bool terminated;            /* status.phase is Succeeded or Failed. */
};

/* NetworkPolicies. */

enum np_direction {
    NP_INGRESS,
    NP_EGRESS,
};
#define NP_N_DIRECTIONS 2

const char *np_direction_name(enum np_direction);  /* "ingress", "egress" */

enum np_port_kind {
    NP_PORT_ALL,                /* Protocol only: every port. */
    NP_PORT_NUMBER,             /* 'port'...'end_port' ('end_port' == 'port'
                                 * when the manifest gives no endPort). */
    NP_PORT_NAMED,              /* 'name', resolved per pod. */
};

struct np_port {
    uint8_t protocol;           /* NP_TCP (the default), NP_UDP, NP_SCTP. */
    enum np_port_kind kind;
    uint16_t port;
    uint16_t end_port;
    char *name;                 /* Only for NP_PORT_NAMED. */
};

/* A peer ("from" or "to" entry).  Either an ipBlock, or one or both of the
 * selectors.  Kubernetes semantics:
 *
 *   pod_selector only     pods matching it in the policy's namespace;
 *   ns_selector only      every pod in the namespaces matching it;
 *   both                  pods matching pod_selector in namespaces matching
 *                         ns_selector;
 *   ip block              addresses in 'cidr' and not in any 'except'. */
struct np_peer {
    struct selector *pod_selector;      /* NULL if absent. */
    struct selector *ns_selector;       /* NULL if absent. */
    bool is_ip_block;
    struct cidr cidr;
    struct cidr *except;
    size_t n_except;
};

/* A rule.  'n_peers == 0' means every peer, 'n_ports == 0' every port of
 * every protocol (the manifest left "from"/"to" or "ports" out or empty). */
struct np_rule {
    struct np_peer *peers;
    size_t n_peers;
    struct np_port *ports;
    size_t n_ports;
};

struct np_policy {
    struct hmap_node node;      /* In a 'struct cluster', by namespace/name. */
    unsigned int n_shares;      /* Owners beyond the first (np_*_share()). */
    char *namespace;
    char *name;
    struct selector pod_selector;

    /* policyTypes after defaulting: whether the policy isolates the pods it
     * selects for each direction.  Rules of a direction whose type is not
     * set are kept (for display) but have no effect. */
    bool isolates[NP_N_DIRECTIONS];

    struct np_rule *rules[NP_N_DIRECTIONS];     /* Indexed by direction. */
    size_t n_rules[NP_N_DIRECTIONS];
};

/* Any of the above. */
enum np_kind {
    NP_KIND_NAMESPACE,
    NP_KIND_POD,
    NP_KIND_POLICY,
};

const char *np_kind_name(enum np_kind);  /* "Namespace", "Pod",
                                          * "NetworkPolicy" */

struct np_object {
    enum np_kind kind;
    union {
        struct np_namespace *ns;
        struct np_pod *pod;
        struct np_policy *policy;
    };
};

/* Destructors accept NULL.  Destroying a shared object drops one owner;
 * the last one frees it. */
void np_namespace_destroy(struct np_namespace *);
void np_pod_destroy(struct np_pod *);
void np_policy_destroy(struct np_policy *);
void np_object_destroy(struct np_object *);     /* Destroys the contents. */

struct np_namespace *np_namespace_clone(const struct np_namespace *);
struct np_pod *np_pod_clone(const struct np_pod *);
struct np_policy *np_policy_clone(const struct np_policy *);

/* Sharing instead of cloning: returns the same object with one more owner,
 * each of which destroys it once.  A shared object must not change (it
 * may sit in one cluster at most: 'node' is not shared), and is shared
 * and destroyed on one thread only. */
struct np_namespace *np_namespace_share(struct np_namespace *);
struct np_pod *np_pod_share(struct np_pod *);
struct np_policy *np_policy_share(struct np_policy *);
struct np_object np_object_share(const struct np_object *);

/* Returns the object's namespace ("" for a Namespace) and name. */
const char *np_object_namespace(const struct np_object *);
const char *np_object_name(const struct np_object *);

void selector_destroy(struct selector *);       /* Frees the contents. */
void selector_clone(struct selector *dst, const struct selector *src);
bool selector_equal(const struct selector *, const struct selector *);

bool np_namespace_equal(const struct np_namespace *,
                        const struct np_namespace *);
bool np_policy_equal(const struct np_policy *, const struct np_policy *);
bool np_pod_equal(const struct np_pod *, const struct np_pod *);
bool np_object_equal(const struct np_object *, const struct np_object *);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/model.h */
