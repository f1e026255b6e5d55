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

/* bench-incremental.c: the "Incremental" figures of `make bench`.
 *
 * On an already parsed cluster, builds the incremental engine once, then
 * applies events of each kind to randomly chosen objects, the way the agent
 * does: change the cluster, notify the engine, take the flows it changed.
 * For each kind it prints the median and worst engine CPU time per event
 * (the computation; changing the cluster, which a source does anyway, is
 * not counted) and the flow-mods one event causes (median and worst).
 *
 * Events are realistic edits made from the cluster's own objects: a pod
 * takes the "app" label of another pod, a pod moves to a new address, a pod
 * is created as a copy of another (new name and address) and deleted again,
 * a namespace takes the "env" label of another, a policy takes another's
 * pod selector, a policy is created as a copy of another and deleted again,
 * and a local pod appears on a new port and goes away.  Every event is
 * undone right after (its own "undo" is timed as an event of the same kind
 * for adds and deletes, and not counted for edits), so the cluster keeps
 * its size and shape for the whole run. */

#include <config.h>
#include "utilities/bench-incremental.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/util.h"

struct name {
    char *ns;
    char *name;
};

struct bench {
    struct cluster *cluster;
    struct engine *engine;
    struct name *pods;          /* Every pod at the start. */
    size_t n_pods;
    struct name *policies;      /* Every policy at the start. */
    size_t n_policies;
    char **namespaces;
    size_t n_namespaces;
    const char *node;
    uint32_t rng;
    unsigned int serial;        /* For new names and addresses. */
};

/* One measured event. */
struct sample {
    long long int cpu_usec;
    size_t flow_mods;
};

static uint32_t
bench_random(struct bench *b)
{
    /* xorshift32: the same events for the same seed, on any libc. */
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 17;
    b->rng ^= b->rng << 5;
    return b->rng;
}

static size_t
bench_pick(struct bench *b, size_t n)
{
    return bench_random(b) % n;
}

static long long int
thread_cpu_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* A fresh address in 100.64.0.0/10 (or fd64::/16 for IPv6 pods), which the
 * generator never uses, so a moved or new pod is really somewhere new. */
static void
fresh_address(struct bench *b, int family, struct cidr *cidr)
{
    unsigned int n = ++b->serial;
    char s[64];

    if (family == AF_INET6) {
        snprintf(s, sizeof s, "fd64::%x:%x", n >> 16, n & 0xffff);
    } else {
        snprintf(s, sizeof s, "100.%u.%u.%u", 64 + ((n >> 16) & 63),
                 (n >> 8) & 255, n & 255);
    }
    if (!cidr_parse_address(s, cidr)) {
        NP_NOT_REACHED();
    }
}

/* Runs 'notify' on the engine and returns what it cost and changed. */
#define MEASURE(B, SAMPLE, NOTIFY)                                      \
    do {                                                                \
        long long int start__ = thread_cpu_usec();                      \
        NOTIFY;                                                         \
        (SAMPLE)->cpu_usec = thread_cpu_usec() - start__;               \
        (SAMPLE)->flow_mods = take_flow_mods(B);                        \
    } while (0)

static size_t
take_flow_mods(struct bench *b)
{
    struct flow_set tracked;

    flow_set_init(&tracked);
    size_t n = (engine_take_tracked(b->engine, &tracked)
                ? flow_set_count(&tracked)
                : flow_set_count(engine_flows(b->engine)));
    flow_set_destroy(&tracked);
    return n;
}

static const struct np_pod *
random_pod(struct bench *b)
{
    for (;;) {
        const struct name *n = &b->pods[bench_pick(b, b->n_pods)];
        const struct np_pod *pod = cluster_find_pod(b->cluster, n->ns,
                                                    n->name);
        if (pod) {
            return pod;
        }
    }
}

static void
set_pod_and_measure(struct bench *b, struct np_pod *pod, struct sample *s)
{
    char *ns = np_xstrdup(pod->namespace), *name = np_xstrdup(pod->name);

    cluster_set_pod(b->cluster, pod);
    MEASURE(b, s, engine_pod_changed(b->engine, ns, name));
    free(ns);
    free(name);
}

static void
event_pod_relabel(struct bench *b, struct sample *s)
{
    const struct np_pod *old = random_pod(b);
    const char *app = labels_get(&random_pod(b)->labels, "app");
    struct np_pod *pod = np_pod_clone(old);
    struct np_pod *undo = np_pod_clone(old);

    labels_set(&pod->labels, "app", app ? app : "bench-relabelled");
    set_pod_and_measure(b, pod, s);

    struct sample ignored;
    set_pod_and_measure(b, undo, &ignored);
}

static void
event_pod_move(struct bench *b, struct sample *s)
{
    const struct np_pod *old = random_pod(b);
    struct np_pod *pod = np_pod_clone(old);
    struct np_pod *undo = np_pod_clone(old);

    for (size_t i = 0; i < pod->n_ips; i++) {
        fresh_address(b, pod->ips[i].family, &pod->ips[i]);
    }
    set_pod_and_measure(b, pod, s);

    struct sample ignored;
    set_pod_and_measure(b, undo, &ignored);
}

static void
event_pod_add_delete(struct bench *b, struct sample *add,
                     struct sample *del)
{
    struct np_pod *pod = np_pod_clone(random_pod(b));

    free(pod->name);
    pod->name = np_xasprintf("bench-pod-%u", ++b->serial);
    for (size_t i = 0; i < pod->n_ips; i++) {
        fresh_address(b, pod->ips[i].family, &pod->ips[i]);
    }
    char *ns = np_xstrdup(pod->namespace), *name = np_xstrdup(pod->name);
    set_pod_and_measure(b, pod, add);

    cluster_delete_pod(b->cluster, ns, name);
    MEASURE(b, del, engine_pod_changed(b->engine, ns, name));
    free(ns);
    free(name);
}

static void
event_namespace_relabel(struct bench *b, struct sample *s)
{
    const char *name = b->namespaces[bench_pick(b, b->n_namespaces)];
    const char *other = b->namespaces[bench_pick(b, b->n_namespaces)];
    const struct np_namespace *old = cluster_find_namespace(b->cluster,
                                                            name);
    const char *env = labels_get(
        &cluster_find_namespace(b->cluster, other)->labels, "env");
    struct np_namespace *ns = np_namespace_clone(old);
    struct np_namespace *undo = np_namespace_clone(old);

    labels_set(&ns->labels, "env", env ? env : "bench-relabelled");
    cluster_set_namespace(b->cluster, ns);
    MEASURE(b, s, engine_namespace_changed(b->engine, name));

    cluster_set_namespace(b->cluster, undo);
    engine_namespace_changed(b->engine, name);
    take_flow_mods(b);
}

static const struct np_policy *
random_policy(struct bench *b)
{
    const struct name *n = &b->policies[bench_pick(b, b->n_policies)];
    return cluster_find_policy(b->cluster, n->ns, n->name);
}

static void
set_policy_and_measure(struct bench *b, struct np_policy *policy,
                       struct sample *s)
{
    char *ns = np_xstrdup(policy->namespace);
    char *name = np_xstrdup(policy->name);

    cluster_set_policy(b->cluster, policy);
    MEASURE(b, s, engine_policy_changed(b->engine, ns, name));
    free(ns);
    free(name);
}

static void
event_policy_change(struct bench *b, struct sample *s)
{
    const struct np_policy *old = random_policy(b);
    const struct np_policy *other = random_policy(b);
    struct np_policy *policy = np_policy_clone(old);
    struct np_policy *undo = np_policy_clone(old);

    selector_destroy(&policy->pod_selector);
    selector_clone(&policy->pod_selector, &other->pod_selector);
    set_policy_and_measure(b, policy, s);

    struct sample ignored;
    set_policy_and_measure(b, undo, &ignored);
}

static void
event_policy_add_delete(struct bench *b, struct sample *add,
                        struct sample *del)
{
    struct np_policy *policy = np_policy_clone(random_policy(b));

    free(policy->name);
    policy->name = np_xasprintf("bench-policy-%u", ++b->serial);
    char *ns = np_xstrdup(policy->namespace);
    char *name = np_xstrdup(policy->name);
    set_policy_and_measure(b, policy, add);

    cluster_delete_policy(b->cluster, ns, name);
    MEASURE(b, del, engine_policy_changed(b->engine, ns, name));
    free(ns);
    free(name);
}

/* A pod is created on this node and plugged into a new port, then both go
 * away: what the agent sees when a pod starts and stops here. */
static void
event_local_pod(struct bench *b, struct sample *add, struct sample *del)
{
    struct np_pod *pod = np_pod_clone(random_pod(b));
    uint32_t ofport = 60000 + (b->serial % 5000);

    free(pod->name);
    pod->name = np_xasprintf("bench-local-%u", ++b->serial);
    free(pod->node_name);
    pod->node_name = np_xstrdup(b->node);
    for (size_t i = 0; i < pod->n_ips; i++) {
        fresh_address(b, pod->ips[i].family, &pod->ips[i]);
    }
    char *ns = np_xstrdup(pod->namespace), *name = np_xstrdup(pod->name);
    struct local_port *port = local_port_create(ofport, "bench-port");
    port->pod_namespace = np_xstrdup(ns);
    port->pod_name = np_xstrdup(name);

    cluster_set_pod(b->cluster, pod);
    cluster_set_port(b->cluster, port);
    MEASURE(b, add, (engine_pod_changed(b->engine, ns, name),
                     engine_port_changed(b->engine, ofport)));

    cluster_delete_port(b->cluster, ofport);
    cluster_delete_pod(b->cluster, ns, name);
    MEASURE(b, del, (engine_port_changed(b->engine, ofport),
                     engine_pod_changed(b->engine, ns, name)));
    free(ns);
    free(name);
}

enum event_kind {
    EV_POD_RELABEL,
    EV_POD_MOVE,
    EV_POD_ADD,
    EV_POD_DELETE,
    EV_NAMESPACE_RELABEL,
    EV_POLICY_CHANGE,
    EV_POLICY_ADD,
    EV_POLICY_DELETE,
    EV_LOCAL_POD_ADD,
    EV_LOCAL_POD_DELETE,
    N_EVENT_KINDS
};

static const char *const event_names[N_EVENT_KINDS] = {
    [EV_POD_RELABEL] = "pod-relabel",
    [EV_POD_MOVE] = "pod-new-ip",
    [EV_POD_ADD] = "pod-add",
    [EV_POD_DELETE] = "pod-delete",
    [EV_NAMESPACE_RELABEL] = "namespace-relabel",
    [EV_POLICY_CHANGE] = "policy-change",
    [EV_POLICY_ADD] = "policy-add",
    [EV_POLICY_DELETE] = "policy-delete",
    [EV_LOCAL_POD_ADD] = "local-pod-add",
    [EV_LOCAL_POD_DELETE] = "local-pod-delete",
};

static int
compare_llong(const void *a_, const void *b_)
{
    const long long int *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static void
print_kind(const char *kind, const struct sample *samples, size_t n)
{
    long long int *cpu = np_xmalloc(n * sizeof *cpu);
    long long int *mods = np_xmalloc(n * sizeof *mods);

    for (size_t i = 0; i < n; i++) {
        cpu[i] = samples[i].cpu_usec;
        mods[i] = samples[i].flow_mods;
    }
    qsort(cpu, n, sizeof *cpu, compare_llong);
    qsort(mods, n, sizeof *mods, compare_llong);
    printf("incremental kind=%s events=%zu median_us=%lld p99_us=%lld "
           "worst_us=%lld flow_mods_median=%lld flow_mods_max=%lld\n",
           kind, n, cpu[n / 2], cpu[(n * 99) / 100], cpu[n - 1],
           mods[n / 2], mods[n - 1]);
    free(cpu);
    free(mods);
}

static void
collect_names(struct bench *b)
{
    const struct np_pod *pod;
    const struct np_policy *policy;
    const struct np_namespace *ns;

    b->pods = np_xmalloc((hmap_count(&b->cluster->pods) + 1)
                         * sizeof *b->pods);
    HMAP_FOR_EACH (pod, node, &b->cluster->pods) {
        if (!pod->host_network && pod->n_ips) {
            b->pods[b->n_pods].ns = np_xstrdup(pod->namespace);
            b->pods[b->n_pods++].name = np_xstrdup(pod->name);
        }
    }
    b->policies = np_xmalloc((hmap_count(&b->cluster->policies) + 1)
                             * sizeof *b->policies);
    HMAP_FOR_EACH (policy, node, &b->cluster->policies) {
        b->policies[b->n_policies].ns = np_xstrdup(policy->namespace);
        b->policies[b->n_policies++].name = np_xstrdup(policy->name);
    }
    b->namespaces = np_xmalloc((hmap_count(&b->cluster->namespaces) + 1)
                               * sizeof *b->namespaces);
    HMAP_FOR_EACH (ns, node, &b->cluster->namespaces) {
        b->namespaces[b->n_namespaces++] = np_xstrdup(ns->name);
    }
}

static void
free_names(struct name *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i].ns);
        free(names[i].name);
    }
    free(names);
}

int
bench_incremental(struct cluster *cluster, const struct np_config *config,
                  const char *node, int n_events, uint32_t seed)
{
    struct bench b = {
        .cluster = cluster,
        .node = node ? node : "bench-node",
        .rng = seed ? seed : 1,
    };
    collect_names(&b);
    if (!b.n_pods || !b.n_policies || !b.n_namespaces) {
        fprintf(stderr, "bench-incremental: the cluster needs pods with "
                "addresses, policies and namespaces\n");
        free_names(b.pods, b.n_pods);
        free_names(b.policies, b.n_policies);
        for (size_t i = 0; i < b.n_namespaces; i++) {
            free(b.namespaces[i]);
        }
        free(b.namespaces);
        return 1;
    }

    struct conj_ids ids;
    conj_ids_init(&ids);
    long long int start = thread_cpu_usec();
    b.engine = engine_create(cluster, config, &ids);
    long long int build_usec = thread_cpu_usec() - start;
    take_flow_mods(&b);

    struct sample *samples[N_EVENT_KINDS];
    for (int k = 0; k < N_EVENT_KINDS; k++) {
        samples[k] = np_xmalloc(n_events * sizeof *samples[k]);
    }
    for (int i = 0; i < n_events; i++) {
        event_pod_relabel(&b, &samples[EV_POD_RELABEL][i]);
        event_pod_move(&b, &samples[EV_POD_MOVE][i]);
        event_pod_add_delete(&b, &samples[EV_POD_ADD][i],
                             &samples[EV_POD_DELETE][i]);
        event_namespace_relabel(&b, &samples[EV_NAMESPACE_RELABEL][i]);
        event_policy_change(&b, &samples[EV_POLICY_CHANGE][i]);
        event_policy_add_delete(&b, &samples[EV_POLICY_ADD][i],
                                &samples[EV_POLICY_DELETE][i]);
        event_local_pod(&b, &samples[EV_LOCAL_POD_ADD][i],
                        &samples[EV_LOCAL_POD_DELETE][i]);
    }

    struct engine_stats stats;
    engine_get_stats(b.engine, &stats);
    printf("incremental build_cpu_ms=%.1f flows=%zu peer_sets=%zu "
           "rebuilds=%"PRIu64" events=%"PRIu64"\n", build_usec / 1e3,
           stats.n_flows, stats.n_peer_sets, stats.n_rebuilds,
           stats.n_events);
    for (int k = 0; k < N_EVENT_KINDS; k++) {
        print_kind(event_names[k], samples[k], n_events);
        free(samples[k]);
    }

    engine_destroy(b.engine);
    conj_ids_destroy(&ids);
    free_names(b.pods, b.n_pods);
    free_names(b.policies, b.n_policies);
    for (size_t i = 0; i < b.n_namespaces; i++) {
        free(b.namespaces[i]);
    }
    free(b.namespaces);
    return 0;
}
