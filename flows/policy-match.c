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

/* policy-match.c: NetworkPolicy semantics as single questions
 * (policy-match.h), shared by explain and the compiler.  Pure: no I/O. */

#include <config.h>
#include "policy-match.h"

#include <string.h>
#include "ovs-netpol/cidr.h"
#include "selector.h"

const struct labels *
namespace_labels(const struct cluster *cluster, const char *ns,
                 struct labels *scratch)
{
    const struct np_namespace *namespace = cluster_find_namespace(cluster,
                                                                  ns);
    if (namespace) {
        return &namespace->labels;
    }
    labels_init(scratch);
    labels_set(scratch, NS_NAME_LABEL, ns);
    return scratch;
}

const struct cidr *
pod_peer_addresses(const struct cluster *cluster, const struct np_pod *pod,
                   size_t *n)
{
    if (pod->terminated || pod->host_network) {
        *n = 0;
        return NULL;
    }
    return pod_peer_addresses_via_port(
        pod, cluster_find_pod_port(cluster, pod->namespace, pod->name), n);
}

const struct cidr *
pod_peer_addresses_via_port(const struct np_pod *pod,
                            const struct local_port *port, size_t *n)
{
    *n = 0;
    if (pod->terminated || pod->host_network) {
        return NULL;
    }
    if (port && port->n_ips) {
        *n = port->n_ips;
        return port->ips;
    }
    *n = pod->n_ips;
    return pod->ips;
}

bool
policy_selects_pod(const struct np_policy *policy, const struct np_pod *pod)
{
    return (!strcmp(policy->namespace, pod->namespace)
            && selector_matches(&policy->pod_selector, &pod->labels));
}

bool
peer_selects_pod(const struct np_peer *peer, const char *policy_ns,
                 const struct np_pod *pod,
                 const struct labels *pod_ns_labels)
{
    if (peer->is_ip_block) {
        return false;
    }
    if (peer->ns_selector) {
        if (!selector_matches(peer->ns_selector, pod_ns_labels)) {
            return false;
        }
    } else if (strcmp(pod->namespace, policy_ns)) {
        /* A podSelector alone looks only in the policy's namespace. */
        return false;
    }
    return !peer->pod_selector || selector_matches(peer->pod_selector,
                                                   &pod->labels);
}

bool
peer_contains_address(const struct np_peer *peer, const struct cidr *address)
{
    if (!peer->is_ip_block || !cidr_contains(&peer->cidr, address)) {
        return false;
    }
    for (size_t i = 0; i < peer->n_except; i++) {
        if (cidr_contains(&peer->except[i], address)) {
            return false;
        }
    }
    return true;
}

bool
port_allows(const struct np_port *port, const struct np_pod *dst,
            uint8_t protocol, uint16_t number)
{
    if (port->protocol != protocol) {
        return false;
    }
    switch (port->kind) {
    case NP_PORT_ALL:
        return true;
    case NP_PORT_NUMBER:
        return number >= port->port && number <= port->end_port;
    case NP_PORT_NAMED:
        if (!dst) {
            return false;
        }
        for (size_t i = 0; i < dst->n_ports; i++) {
            const struct np_container_port *cp = &dst->ports[i];
            if (cp->name && !strcmp(cp->name, port->name)
                && cp->protocol == protocol && cp->port == number) {
                return true;
            }
        }
        return false;
    }
    return false;
}

bool
rule_allows_port(const struct np_rule *rule, const struct np_pod *dst,
                 uint8_t protocol, uint16_t number)
{
    if (!rule->n_ports) {
        return true;
    }
    for (size_t i = 0; i < rule->n_ports; i++) {
        if (port_allows(&rule->ports[i], dst, protocol, number)) {
            return true;
        }
    }
    return false;
}
