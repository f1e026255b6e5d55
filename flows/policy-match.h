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

#ifndef POLICY_MATCH_H
#define POLICY_MATCH_H 1

/* The meaning of a NetworkPolicy, one question at a time: does this policy
 * select this pod, does this peer include this pod or address, does this
 * port entry allow this port on this pod.
 *
 * These are the Kubernetes semantics in their plainest form.  explain.c
 * answers questions with nothing but these functions; the compiler uses
 * them too (with indexes around them for speed), so the flows and the
 * model cannot disagree about what a selector means.
 *
 * Choices where the API leaves room (Antrea, OVN-Kubernetes and Calico
 * agree on each):
 *
 *   - Pods that cannot be peers: pods without an address, pods that have
 *     terminated (phase Succeeded or Failed: their address may already
 *     belong to another pod), and hostNetwork pods (their address is the
 *     node's, which selectors do not name; reach them with an ipBlock).
 *
 *   - A namespace that the cluster state does not hold (manifests that list
 *     pods but not their Namespace) has only the label Kubernetes gives
 *     every namespace, kubernetes.io/metadata.name=NAME.
 *
 *   - A named port resolves against the pod that serves it: the
 *     destination pod (the local target for ingress; the peer for egress,
 *     if it can be a peer).  It matches the container ports with that name
 *     and the rule's protocol; a name that resolves nowhere matches nothing
 *     (never "any").
 *
 * Pure functions: no I/O, no global state. */

#include <stdbool.h>
#include <stdint.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/model.h"

struct labels;

/* The well-known label every namespace carries. */
#define NS_NAME_LABEL "kubernetes.io/metadata.name"

/* Returns the labels of namespace 'ns' in 'cluster', or, when the cluster
 * does not hold it, 'scratch' filled with just NS_NAME_LABEL=ns.  The
 * caller destroys 'scratch' (labels_destroy()) after using the result. */
const struct labels *namespace_labels(const struct cluster *,
                                      const char *ns,
                                      struct labels *scratch);

/* Returns the addresses 'pod' has as a peer, storing their number in '*n':
 * those its pod port on this node names, if it has one that names any
 * (the CNI knows first), else its status.podIPs.  None (NULL, 0) if the pod
 * cannot be a peer (see above). */
const struct cidr *pod_peer_addresses(const struct cluster *,
                                      const struct np_pod *, size_t *n);

/* The same, given the pod port that cluster_find_pod_port() returns for
 * 'pod' ('port' NULL when none names it): for callers that look pod ports
 * up once for many pods. */
const struct cidr *pod_peer_addresses_via_port(const struct np_pod *,
                                               const struct local_port *port,
                                               size_t *n);

/* Returns true if 'policy' applies to 'pod' (same namespace, podSelector
 * matches).  Says nothing about whether the pod is local. */
bool policy_selects_pod(const struct np_policy *, const struct np_pod *);

/* Returns true if 'peer', in a policy of namespace 'policy_ns', includes
 * 'pod', whose namespace has labels 'pod_ns_labels'.  False for ipBlock
 * peers: those match addresses, see peer_contains_address(). */
bool peer_selects_pod(const struct np_peer *, const char *policy_ns,
                      const struct np_pod *,
                      const struct labels *pod_ns_labels);

/* Returns true if 'peer' is an ipBlock that contains 'address' (a host
 * prefix) and no except entry does. */
bool peer_contains_address(const struct np_peer *,
                           const struct cidr *address);

/* Returns true if port entry 'port' allows 'protocol'/'number' on the
 * destination pod 'dst' (needed only to resolve a named port; may be NULL,
 * and then a named port matches nothing). */
bool port_allows(const struct np_port *, const struct np_pod *dst,
                 uint8_t protocol, uint16_t number);

/* Returns true if 'rule' allows 'protocol'/'number' to 'dst' (see
 * port_allows()); a rule without ports allows every port. */
bool rule_allows_port(const struct np_rule *, const struct np_pod *dst,
                      uint8_t protocol, uint16_t number);

#endif /* policy-match.h */
