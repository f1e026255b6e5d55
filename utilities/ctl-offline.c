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

/* ctl-offline.c: the ovs-netpolctl commands that need no agent: compile
 * (manifests -> flows in `ovs-ofctl add-flows` syntax) and explain
 * (manifests -> the model's verdict for one connection). */

#include <config.h>
#include "ctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "agent/manifest-files.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/explain.h"
#include "ovs-netpol/util.h"

static void
print_problems(const struct np_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems->items[i], &s);
        fprintf(stderr, "ovs-netpolctl: %s\n", ds_cstr(&s));
        ds_destroy(&s);
    }
}

size_t
ctl_load_manifests(const struct ctl_options *opts, struct cluster *cluster)
{
    struct np_problems problems;

    if (!opts->n_files) {
        ctl_fatal(2, "no manifests given (use -f FILE|DIR)");
    }
    np_problems_init(&problems);
    bool ok = manifest_load_paths(opts->files, opts->n_files, cluster,
                                  &problems);
    print_problems(&problems);
    size_t n = problems.n;
    np_problems_destroy(&problems);
    if (!ok) {
        ctl_fatal(1, "could not read the manifests");
    }
    return n;
}

static const struct pod_option *
find_pod_option(const struct pod_option *options, size_t n,
                const struct np_pod *pod)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(options[i].ns, pod->namespace)
            && !strcmp(options[i].name, pod->name)) {
            return &options[i];
        }
    }
    return NULL;
}

static int
compare_pods(const void *a_, const void *b_)
{
    const struct np_pod *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static bool
ofport_taken(const struct cluster *cluster, const struct ctl_options *opts,
             uint32_t ofport)
{
    for (size_t i = 0; i < opts->n_ofports; i++) {
        if (strtoul(opts->ofports[i].value, NULL, 10) == ofport) {
            return true;
        }
    }
    return cluster_find_port(cluster, ofport) != NULL;
}

static uint32_t
parse_ofport(const char *s)
{
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*end || !n || n >= 0xff00) {
        ctl_fatal(2, "%s: not an OpenFlow port number (1...65279)", s);
    }
    return n;
}

static void
set_port_mac(struct local_port *port, const char *s)
{
    unsigned int b[6];
    char extra;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
               &b[5], &extra) != 6) {
        ctl_fatal(2, "%s: not a MAC address", s);
    }
    for (int i = 0; i < 6; i++) {
        if (b[i] > 0xff) {
            ctl_fatal(2, "%s: not a MAC address", s);
        }
        port->mac[i] = b[i];
    }
    port->has_mac = true;
}

void
ctl_add_node_ports(const struct ctl_options *opts, struct cluster *cluster)
{
    size_t n = hmap_count(&cluster->pods);
    const struct np_pod **pods = np_xmalloc((n + 1) * sizeof *pods);
    const struct np_pod *pod;
    size_t n_local = 0;

    HMAP_FOR_EACH (pod, node, &cluster->pods) {
        if (pod->node_name && !strcmp(pod->node_name, opts->node)
            && !pod->host_network) {
            pods[n_local++] = pod;
        }
    }
    np_qsort(pods, n_local, sizeof *pods, compare_pods);

    uint32_t next = 1;
    for (size_t i = 0; i < n_local; i++) {
        pod = pods[i];
        const struct pod_option *o = find_pod_option(opts->ofports,
                                                     opts->n_ofports, pod);
        uint32_t ofport;
        if (o) {
            ofport = parse_ofport(o->value);
        } else {
            while (ofport_taken(cluster, opts, next)) {
                next++;
            }
            ofport = next++;
        }
        char *name = np_xasprintf("%s_%s", pod->namespace, pod->name);
        struct local_port *port = local_port_create(ofport, name);
        free(name);
        port->pod_namespace = np_xstrdup(pod->namespace);
        port->pod_name = np_xstrdup(pod->name);
        o = find_pod_option(opts->macs, opts->n_macs, pod);
        if (o) {
            set_port_mac(port, o->value);
        }
        cluster_set_port(cluster, port);
    }
    free(pods);

    cluster_set_port(cluster, local_port_create(LOCAL_PORT_HOST, "host"));
    for (size_t i = 0; i < opts->n_uplinks; i++) {
        char *name = np_xasprintf("uplink%"PRIu32, opts->uplinks[i]);
        cluster_set_port(cluster, local_port_create(opts->uplinks[i], name));
        free(name);
    }
}

int
ctl_compile(struct ctl_options *opts)
{
    struct cluster cluster;
    struct conj_ids ids;
    struct flow_set flows;
    struct np_problems problems;
    struct compile_stats stats;

    if (!opts->node) {
        ctl_fatal(2, "compile needs --node NAME (which pods are local)");
    }
    cluster_init(&cluster);
    size_t n_problems = ctl_load_manifests(opts, &cluster);
    ctl_add_node_ports(opts, &cluster);

    conj_ids_init(&ids);
    flow_set_init(&flows);
    np_problems_init(&problems);
    compile_full(&cluster, &opts->config, &ids, &flows, &problems, &stats);
    print_problems(&problems);
    n_problems += problems.n;

    struct ds s = DS_EMPTY_INITIALIZER;
    flow_set_format(&flows, &s);
    fputs(ds_cstr(&s), stdout);
    ds_destroy(&s);
    fprintf(stderr, "ovs-netpolctl: %zu flows for %zu local pods, "
            "%zu of %zu policies apply here, %zu conjunctions\n",
            stats.n_flows, stats.n_local_pods, stats.n_policies_local,
            stats.n_policies, stats.n_conjunctions);

    np_problems_destroy(&problems);
    flow_set_destroy(&flows);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
    return opts->strict && n_problems ? 1 : 0;
}

int
ctl_explain(struct ctl_options *opts)
{
    struct cluster cluster;
    struct explain_endpoint src, dst;
    uint8_t protocol;
    uint16_t port;
    char *error;

    if (!opts->from || !opts->to || !opts->port) {
        ctl_fatal(2, "explain needs --from, --to and --port");
    }
    cluster_init(&cluster);
    ctl_load_manifests(opts, &cluster);

    error = explain_endpoint_parse(&cluster, opts->from, opts->family, &src);
    if (!error) {
        /* Make the destination the same family as the source. */
        int family = opts->family ? opts->family : src.address.family;
        error = explain_endpoint_parse(&cluster, opts->to, family, &dst);
    }
    if (!error) {
        error = explain_port_parse(opts->port, &protocol, &port);
    }
    if (error) {
        ctl_fatal(2, "%s", error);
    }

    /* With --node, compile too, to name the rules by conjunction ID as the
     * switch sees them. */
    struct conj_ids ids;
    conj_ids_init(&ids);
    if (opts->node) {
        struct flow_set flows;
        struct np_problems problems;
        ctl_add_node_ports(opts, &cluster);
        flow_set_init(&flows);
        np_problems_init(&problems);
        compile_full(&cluster, &opts->config, &ids, &flows, &problems, NULL);
        np_problems_destroy(&problems);
        flow_set_destroy(&flows);
    }

    struct explain_result result;
    explain(&cluster, &src, &dst, protocol, port, &result);
    struct ds s = DS_EMPTY_INITIALIZER;
    explain_result_format(&result, &src, &dst, protocol, port,
                          opts->node ? &ids : NULL, &s);
    fputs(ds_cstr(&s), stdout);
    ds_destroy(&s);

    bool allowed = result.allowed;
    explain_result_destroy(&result);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
    return allowed ? 0 : 1;
}
