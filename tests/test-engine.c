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

/* test-engine.c: the incremental engine (engine.h) against the reference
 * compiler.
 *
 * "random_events" applies long random sequences of changes (pods added,
 * removed, relabelled, moved to other addresses, terminated; namespaces
 * relabelled or deleted; policies added, replaced, removed; ports added,
 * removed, renumbered, renamed, with and without addresses) and checks after
 * EVERY event that:
 *
 *   - the engine's flow set equals compile_full() of the same cluster, with
 *     a fresh conjunction ID allocator (so IDs are also restart-stable);
 *
 *   - the tracked changes are complete: a mirror of the flow set updated
 *     only from what engine_take_tracked() reports stays equal to it.
 *
 * Other cases check that common events are handled without a rebuild (as
 * OVN's tests check "norecompute").  NP_TEST_SEED and NP_TEST_EVENTS change
 * the seed and the length.
 *
 * The "overload" cases put more rules on one pod than a flow can carry
 * (NP_MAX_CONJS_PER_FLOW), so that the rules spread over priority bands,
 * and notify changes in batches, as the agent does with a big manifest: the
 * flow set read after each batch equals compile_full(), and a batch costs
 * at most one rebuild however long it is.  NP_TEST_BATCHES changes the
 * number of random batches. */

#include <config.h>

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/util.h"
#include "random-cluster.h"

static struct cluster cluster;
static struct conj_ids ids;
static struct np_config config;
static struct engine *engine;
static struct flow_set mirror;

static void
setup(void)
{
    cluster_init(&cluster);
    conj_ids_init(&ids);
    np_config_init(&config);
    flow_set_init(&mirror);
    engine = NULL;
}

static void
teardown(void)
{
    engine_destroy(engine);
    flow_set_destroy(&mirror);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
}

static void
print_difference(const struct flow_set *a, const struct flow_set *b)
{
    struct flow_changes changes;
    flow_changes_init(&changes);
    flow_set_diff(a, b, &changes);
    for (size_t i = 0; i < changes.n && i < 20; i++) {
        const struct flow_change *c = &changes.changes[i];
        struct ds s = DS_EMPTY_INITIALIZER;
        if (c->old) {
            np_flow_format(c->old, &s);
            fprintf(stderr, "  engine:    %s\n", ds_cstr(&s));
            ds_clear(&s);
        }
        if (c->new) {
            np_flow_format(c->new, &s);
            fprintf(stderr, "  reference: %s\n", ds_cstr(&s));
        }
        ds_destroy(&s);
    }
    fprintf(stderr, "  (%zu differences)\n", changes.n);
    flow_changes_destroy(&changes);
}

/* Replays what the engine says changed onto 'mirror'.  Returns the number
 * of flows it says changed, or SIZE_MAX after a rebuild. */
static size_t
update_mirror(void)
{
    struct flow_set tracked;
    size_t n = SIZE_MAX;
    flow_set_init(&tracked);
    if (!engine_take_tracked(engine, &tracked)) {
        flow_set_clear(&mirror);
        const struct np_flow *flow;
        HMAP_FOR_EACH (flow, node, &engine_flows(engine)->flows) {
            flow_set_insert(&mirror, np_flow_clone(flow));
        }
    } else {
        const struct np_flow *t;
        n = flow_set_count(&tracked);
        HMAP_FOR_EACH (t, node, &tracked.flows) {
            struct np_flow *old = flow_set_find_flow(&mirror, t);
            if (old) {
                flow_set_remove(&mirror, old);
                np_flow_destroy(old);
            }
            const struct np_flow *now = flow_set_find_flow(
                engine_flows(engine), t);
            if (now) {
                flow_set_insert(&mirror, np_flow_clone(now));
            }
        }
    }
    flow_set_destroy(&tracked);
    return n;
}

/* The engine agrees with a fresh full compile, and the mirror with the
 * engine.  Returns what update_mirror() returns. */
static size_t
check_equivalence(const char *event, size_t step)
{
    struct conj_ids fresh;
    struct flow_set reference;
    struct np_problems problems;

    conj_ids_init(&fresh);
    flow_set_init(&reference);
    np_problems_init(&problems);
    compile_full(&cluster, &config, &fresh, &reference, &problems, NULL);
    if (!flow_set_equal(engine_flows(engine), &reference)) {
        print_difference(engine_flows(engine), &reference);
        ck_abort_msg("step %zu (%s): the engine differs from a full "
                     "compile", step, event);
    }
    size_t n_tracked = update_mirror();
    if (!flow_set_equal(&mirror, engine_flows(engine))) {
        print_difference(&mirror, engine_flows(engine));
        ck_abort_msg("step %zu (%s): the tracked changes miss something",
                     step, event);
    }
    np_problems_destroy(&problems);
    flow_set_destroy(&reference);
    conj_ids_destroy(&fresh);
    return n_tracked;
}

/* Random events. */

#define N_NAMESPACES 4
#define N_PODS 16
#define N_POLICIES 8
#define N_OFPORTS 8

static void
random_name(char *buf, size_t size, const char *prefix, int n)
{
    snprintf(buf, size, "%s%d", prefix, rc_range(n));
}

static void
event_pod(struct ds *what)
{
    char ns[16], name[16];
    random_name(ns, sizeof ns, "ns", N_NAMESPACES);
    random_name(name, sizeof name, "p", N_PODS);
    if (rc_range(4) == 0) {
        cluster_delete_pod(&cluster, ns, name);
        ds_put_format(what, "delete pod %s/%s", ns, name);
    } else {
        /* The index picks the addresses: pods move between addresses and
         * sometimes share one with another pod. */
        char *json = rc_pod_json(ns, name, rc_range(N_PODS + 4));
        rc_load(&cluster, json);
        free(json);
        ds_put_format(what, "set pod %s/%s", ns, name);
    }
    engine_pod_changed(engine, ns, name);
}

static void
event_namespace(struct ds *what)
{
    char ns[16];
    random_name(ns, sizeof ns, "ns", N_NAMESPACES);
    if (rc_range(5) == 0) {
        cluster_delete_namespace(&cluster, ns);
        ds_put_format(what, "delete namespace %s", ns);
    } else {
        char *json = rc_namespace_json(ns);
        rc_load(&cluster, json);
        free(json);
        ds_put_format(what, "set namespace %s", ns);
    }
    engine_namespace_changed(engine, ns);
}

static void
event_policy(struct ds *what)
{
    char ns[16], name[16];
    random_name(ns, sizeof ns, "ns", N_NAMESPACES);
    random_name(name, sizeof name, "np", N_POLICIES);
    if (rc_range(3) == 0) {
        cluster_delete_policy(&cluster, ns, name);
        ds_put_format(what, "delete policy %s/%s", ns, name);
    } else {
        char *json = rc_policy_json(ns, name);
        rc_load(&cluster, json);
        free(json);
        ds_put_format(what, "set policy %s/%s", ns, name);
    }
    engine_policy_changed(engine, ns, name);
}

static void
event_port(struct ds *what)
{
    uint32_t ofport = rc_range(N_OFPORTS) + 1;
    if (rc_range(10) == 0) {
        ofport = 100;           /* The uplink. */
    }
    int kind = rc_range(6);
    if (kind == 0) {
        cluster_delete_port(&cluster, ofport);
        ds_put_format(what, "delete port %"PRIu32, ofport);
    } else {
        char name[16];
        snprintf(name, sizeof name, "eth%"PRIu32, ofport);
        struct local_port *port = local_port_create(ofport, name);
        if (kind > 1 && ofport != 100) {
            char ns[16], pod[16];
            random_name(ns, sizeof ns, "ns", N_NAMESPACES);
            random_name(pod, sizeof pod, "p", N_PODS);
            port->pod_namespace = np_xstrdup(ns);
            port->pod_name = np_xstrdup(pod);
            if (kind == 3) {
                /* Addresses from the CNI, not from the Pod object. */
                char ip[32];
                snprintf(ip, sizeof ip, "10.0.%d.%d", rc_range(3),
                         rc_range(30) + 1);
                port->ips = np_xmalloc(sizeof *port->ips);
                ck_assert(cidr_parse_address(ip, port->ips));
                port->n_ips = 1;
            }
            if (rc_range(2)) {
                port->has_mac = true;
                memcpy(port->mac, "\x02\x00\x00\x00\x00", 5);
                port->mac[5] = ofport;
            }
            ds_put_format(what, "set port %"PRIu32" for %s/%s%s",
                          ofport, ns, pod, kind == 3 ? " with an IP" : "");
        } else {
            ds_put_format(what, "set uplink port %"PRIu32, ofport);
        }
        cluster_set_port(&cluster, port);
    }
    engine_port_changed(engine, ofport);
}

static void
random_initial_cluster(void)
{
    for (int i = 0; i < N_NAMESPACES; i++) {
        char ns[16];
        snprintf(ns, sizeof ns, "ns%d", i);
        char *json = rc_namespace_json(ns);
        rc_load(&cluster, json);
        free(json);
    }
    for (int i = 0; i < N_PODS; i++) {
        char ns[16], name[16];
        random_name(ns, sizeof ns, "ns", N_NAMESPACES);
        snprintf(name, sizeof name, "p%d", i);
        char *json = rc_pod_json(ns, name, i);
        rc_load(&cluster, json);
        free(json);
        if (i < 5) {
            struct local_port *port = local_port_create(i + 1, name);
            port->pod_namespace = np_xstrdup(ns);
            port->pod_name = np_xstrdup(name);
            cluster_set_port(&cluster, port);
        }
    }
    for (int i = 0; i < N_POLICIES / 2; i++) {
        char ns[16], name[16];
        random_name(ns, sizeof ns, "ns", N_NAMESPACES);
        snprintf(name, sizeof name, "np%d", i);
        char *json = rc_policy_json(ns, name);
        rc_load(&cluster, json);
        free(json);
    }
    cluster_set_port(&cluster, local_port_create(100, "uplink"));
    cluster_set_port(&cluster, local_port_create(LOCAL_PORT_HOST, "host"));
}

START_TEST(test_random_events)
{
    const char *env_seed = getenv("NP_TEST_SEED");
    const char *env_events = getenv("NP_TEST_EVENTS");
    uint32_t seed = env_seed ? strtoul(env_seed, NULL, 10) : 1126;
    size_t n_events = env_events ? strtoul(env_events, NULL, 10) : 3000;
    size_t n_rebuilds_before, counts[4] = { 0 };

    printf("random_events: seed %"PRIu32", %zu events\n", seed, n_events);
    rc_seed(seed);
    config.audit = true;        /* Covers the audit actions too. */
    random_initial_cluster();
    engine = engine_create(&cluster, &config, &ids);
    check_equivalence("initial", 0);

    struct engine_stats stats;
    engine_get_stats(engine, &stats);
    n_rebuilds_before = stats.n_rebuilds;
    for (size_t step = 1; step <= n_events; step++) {
        struct ds what = DS_EMPTY_INITIALIZER;
        int kind = rc_range(10);
        if (kind < 4) {
            event_pod(&what);
        } else if (kind < 6) {
            event_policy(&what);
        } else if (kind < 8) {
            event_port(&what);
        } else {
            event_namespace(&what);
        }
        counts[kind < 4 ? 0 : kind < 6 ? 1 : kind < 8 ? 2 : 3]++;
        check_equivalence(ds_cstr(&what), step);
        ds_destroy(&what);
    }
    engine_get_stats(engine, &stats);
    printf("random_events: %zu pod, %zu policy, %zu port, %zu namespace "
           "events, all equal to a full compile; %"PRIu64" rebuilds, "
           "%"PRIu64" flow changes, worst event %lld us\n",
           counts[0], counts[1], counts[2], counts[3],
           stats.n_rebuilds - n_rebuilds_before, stats.n_flow_changes,
           stats.max_event_usec);
}
END_TEST

/* Ordinary events are incremental: no rebuild. */
START_TEST(test_no_rebuild_for_ordinary_events)
{
    rc_seed(7);
    random_initial_cluster();
    rc_load(&cluster, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
            "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"ns0\",\"name\":"
            "\"all\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{"
            "\"namespaceSelector\":{}}],\"ports\":[{\"port\":80}]}]}}");
    struct local_port *port = local_port_create(9, "p9");
    port->pod_namespace = np_xstrdup("ns0");
    port->pod_name = np_xstrdup("local");
    cluster_set_port(&cluster, port);
    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns0\",\"name\":\"local\"},\"status\":{"
            "\"podIPs\":[{\"ip\":\"10.0.9.9\"},{\"ip\":\"fd00::9:9\"}]}}");
    engine = engine_create(&cluster, &config, &ids);

    struct engine_stats before, after;
    engine_get_stats(engine, &before);

    /* A remote pod appears, changes labels and address, disappears. */
    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns1\",\"name\":\"new\"},\"status\":{"
            "\"podIPs\":[{\"ip\":\"10.0.1.77\"},{\"ip\":\"fd00::1:77\"}]}}");
    engine_pod_changed(engine, "ns1", "new");
    check_equivalence("remote pod added", 1);

    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns1\",\"name\":\"new\"},\"status\":{"
            "\"podIPs\":[{\"ip\":\"10.0.1.78\"},{\"ip\":\"fd00::1:78\"}]}}");
    engine_pod_changed(engine, "ns1", "new");
    /* Exactly the two old and two new source address flows. */
    ck_assert_uint_eq(check_equivalence("remote pod moved", 2), 4);

    cluster_delete_pod(&cluster, "ns1", "new");
    engine_pod_changed(engine, "ns1", "new");
    check_equivalence("remote pod deleted", 3);

    char *json = rc_namespace_json("ns2");
    rc_load(&cluster, json);
    free(json);
    engine_namespace_changed(engine, "ns2");
    check_equivalence("namespace relabelled", 4);

    rc_load(&cluster, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
            "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"ns0\",\"name\":"
            "\"more\"},\"spec\":{\"podSelector\":{},\"egress\":[{\"ports\":"
            "[{\"port\":53,\"protocol\":\"UDP\"}]}]}}");
    engine_policy_changed(engine, "ns0", "more");
    check_equivalence("policy added", 5);

    engine_get_stats(engine, &after);
    ck_assert_uint_eq(after.n_rebuilds, before.n_rebuilds);
    ck_assert_uint_eq(after.n_events, before.n_events + 5);
}
END_TEST

/* Overload: more rules on one pod than one flow can carry. */

/* More than NP_MAX_CONJS_PER_FLOW, so that one band is not enough. */
#define N_BIG (NP_MAX_CONJS_PER_FLOW + 500)

/* The "hot" pod, which the big policies select: in ns0, on port 9 (which
 * the random events leave alone), labelled with a key they never use; and
 * a "web" pod of ns0, a peer of most of them, which they leave alone too. */
static void
add_hot_pod(void)
{
    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns0\",\"name\":\"web\",\"labels\":{\"app\":"
            "\"web\"}},\"status\":{\"podIPs\":[{\"ip\":\"10.0.8.8\"}]}}");
    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns0\",\"name\":\"hot\",\"labels\":{\"role\":"
            "\"hot\"}},\"status\":{\"podIPs\":[{\"ip\":\"10.0.9.9\"},{\"ip\":"
            "\"fd00::9:9\"}]}}");
    struct local_port *port = local_port_create(9, "hot");
    port->pod_namespace = np_xstrdup("ns0");
    port->pod_name = np_xstrdup("hot");
    cluster_set_port(&cluster, port);
}

/* Big policy 'i' (in ns0, on the hot pod): ingress from the "web" pods of
 * ns0 on port 20000 + i; every fifth also egress to them on the same port,
 * every seventh from 10.0.0.0/16 instead.  They all share the hot pod's
 * address flows, most also the web pods' address flows. */
static void
set_big_policy(int i)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
                  "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"ns0\","
                  "\"name\":\"big-%04d\"},\"spec\":{\"podSelector\":{"
                  "\"matchLabels\":{\"role\":\"hot\"}},\"policyTypes\":["
                  "\"Ingress\"%s],\"ingress\":[{\"from\":[%s],\"ports\":[{"
                  "\"port\":%d}]}]", i, i % 5 ? "" : ",\"Egress\"",
                  (i % 7
                   ? "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}"
                   : "{\"ipBlock\":{\"cidr\":\"10.0.0.0/16\"}}"),
                  20000 + i);
    if (!(i % 5)) {
        ds_put_format(&s, ",\"egress\":[{\"to\":[{\"podSelector\":{"
                      "\"matchLabels\":{\"app\":\"web\"}}}],\"ports\":[{"
                      "\"port\":%d}]}]", 20000 + i);
    }
    ds_put_cstr(&s, "}}");
    rc_load(&cluster, ds_cstr(&s));
    ds_destroy(&s);
}

static void
notify_big_policy(int i)
{
    char name[16];
    snprintf(name, sizeof name, "big-%04d", i);
    engine_policy_changed(engine, "ns0", name);
}

static void
delete_big_policy(int i)
{
    char name[16];
    snprintf(name, sizeof name, "big-%04d", i);
    cluster_delete_policy(&cluster, "ns0", name);
    engine_policy_changed(engine, "ns0", name);
}

static uint64_t
n_rebuilds(void)
{
    struct engine_stats stats;
    engine_get_stats(engine, &stats);
    return stats.n_rebuilds;
}

static size_t
n_bands(void)
{
    struct engine_stats stats;
    engine_get_stats(engine, &stats);
    return stats.n_bands;
}

/* Checks the flow set after a batch ('what', 'step'), and that the batch
 * cost at most one rebuild since 'rebuilds' (the count before it, which it
 * updates).  Returns what check_equivalence() returns. */
static size_t
check_batch(const char *what, size_t step, uint64_t *rebuilds)
{
    size_t n_tracked = check_equivalence(what, step);
    uint64_t now = n_rebuilds();
    ck_assert_msg(now - *rebuilds <= 1, "step %zu (%s): %"PRIu64" rebuilds "
                  "for one batch", step, what, now - *rebuilds);
    *rebuilds = now;
    return n_tracked;
}

/* Batches of big changes, and single events that do not concern the bands,
 * which stay incremental even while there are several. */
START_TEST(test_overload_batches)
{
    rc_seed(11);
    random_initial_cluster();
    add_hot_pod();
    rc_load(&cluster, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
            "{\"namespace\":\"ns0\",\"name\":\"cold\",\"labels\":{\"role\":"
            "\"cold\"}},\"status\":{\"podIPs\":[{\"ip\":\"10.0.9.10\"}]}}");
    struct local_port *port = local_port_create(10, "cold");
    port->pod_namespace = np_xstrdup("ns0");
    port->pod_name = np_xstrdup("cold");
    cluster_set_port(&cluster, port);
    /* Keep the random policies away from the hot pod. */
    for (int i = 0; i < N_POLICIES; i++) {
        char ns[16], name[16];
        snprintf(ns, sizeof ns, "ns%d", i % N_NAMESPACES);
        snprintf(name, sizeof name, "np%d", i);
        cluster_delete_policy(&cluster, ns, name);
    }
    engine = engine_create(&cluster, &config, &ids);
    check_equivalence("initial", 0);
    uint64_t rebuilds = n_rebuilds();
    ck_assert_uint_eq(n_bands(), 1);

    /* Every big policy at once: more than one band. */
    for (int i = 0; i < N_BIG; i++) {
        set_big_policy(i);
        notify_big_policy(i);
    }
    check_batch("big policies added", 1, &rebuilds);
    ck_assert_uint_ge(n_bands(), 2);

    /* While there are several bands, events that change no clause flow
     * of theirs are incremental. */
    uint64_t rebuilds_before = rebuilds;
    char *json = rc_pod_json("ns3", "far", 40);
    rc_load(&cluster, json);
    free(json);
    engine_pod_changed(engine, "ns3", "far");
    check_batch("remote pod added", 2, &rebuilds);
    rc_load(&cluster, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
            "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"ns0\",\"name\":"
            "\"small\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"role\":"
            "\"cold\"}},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
            "\"192.168.0.0/16\"}}],\"ports\":[{\"port\":53}]}]}}");
    engine_policy_changed(engine, "ns0", "small");
    check_batch("policy added to another local pod", 3, &rebuilds);
    cluster_delete_policy(&cluster, "ns0", "small");
    engine_policy_changed(engine, "ns0", "small");
    check_batch("that policy deleted", 4, &rebuilds);
    ck_assert_uint_eq(rebuilds, rebuilds_before);
    ck_assert_uint_ge(n_bands(), 2);

    /* A change in a full flow moves rules between bands: one rebuild. */
    delete_big_policy(0);
    check_batch("big policy deleted", 5, &rebuilds);
    set_big_policy(0);
    notify_big_policy(0);
    check_batch("big policy added", 6, &rebuilds);

    /* Mixed batches: many big policies go and come back, web pods come,
     * move and go, in one batch each. */
    for (int round = 0; round < 3; round++) {
        int first = round * 1100;
        for (int i = first; i < first + 1000; i++) {
            delete_big_policy(i);
        }
        json = rc_pod_json("ns0", "web-new", 41 + round);
        rc_load(&cluster, json);
        free(json);
        engine_pod_changed(engine, "ns0", "web-new");
        for (int i = first; i < first + 400; i++) {
            set_big_policy(i);
            notify_big_policy(i);
        }
        check_batch("mixed batch", 7 + round, &rebuilds);
    }

    /* Every big policy gone at once: back to one band, and incremental. */
    for (int i = 0; i < N_BIG; i++) {
        delete_big_policy(i);
    }
    check_batch("big policies deleted", 10, &rebuilds);
    ck_assert_uint_eq(n_bands(), 1);
    rebuilds_before = rebuilds;
    cluster_delete_pod(&cluster, "ns3", "far");
    engine_pod_changed(engine, "ns3", "far");
    check_batch("remote pod deleted", 11, &rebuilds);
    set_big_policy(0);
    notify_big_policy(0);
    check_batch("one big policy added", 12, &rebuilds);
    ck_assert_uint_eq(rebuilds, rebuilds_before);
}
END_TEST

/* Three bands: a change in a full flow of a band other than the first
 * moves rules too. */
START_TEST(test_overload_three_bands)
{
    int n = 2 * NP_MAX_CONJS_PER_FLOW + 200;

    rc_seed(5);
    random_initial_cluster();
    add_hot_pod();
    engine = engine_create(&cluster, &config, &ids);
    uint64_t rebuilds = n_rebuilds();
    for (int i = 0; i < n; i++) {
        set_big_policy(i);
        notify_big_policy(i);
    }
    check_batch("big policies added", 1, &rebuilds);
    ck_assert_uint_ge(n_bands(), 3);

    /* In the middle band (rules are placed in name order). */
    int middle = NP_MAX_CONJS_PER_FLOW + NP_MAX_CONJS_PER_FLOW / 2;
    delete_big_policy(middle);
    check_batch("big policy of the middle band deleted", 2, &rebuilds);
    set_big_policy(middle);
    notify_big_policy(middle);
    check_batch("and added again", 3, &rebuilds);

    for (int i = 0; i < n; i += 2) {
        delete_big_policy(i);
    }
    check_batch("every other big policy deleted", 4, &rebuilds);
    ck_assert_uint_eq(n_bands(), 2);
}
END_TEST

/* Random batches of random events (those of "random_events", and big
 * policies added and deleted) on a pod with more rules than one band
 * holds. */
START_TEST(test_overload_random)
{
    const char *env_seed = getenv("NP_TEST_SEED");
    const char *env_batches = getenv("NP_TEST_BATCHES");
    uint32_t seed = env_seed ? strtoul(env_seed, NULL, 10) : 2026;
    size_t n_batches = env_batches ? strtoul(env_batches, NULL, 10) : 40;
    size_t n_events = 0, n_incremental = 0;
    /* Random big policies are set twice as often as deleted, so about 2/3
     * of them are there at any time: more than one band holds. */
    int n_big = 2 * NP_MAX_CONJS_PER_FLOW;

    printf("overload_random: seed %"PRIu32", %zu batches\n", seed,
           n_batches);
    rc_seed(seed);
    random_initial_cluster();
    add_hot_pod();
    for (int i = 0; i < n_big; i++) {
        set_big_policy(i);
    }
    engine = engine_create(&cluster, &config, &ids);
    check_equivalence("initial", 0);
    ck_assert_uint_ge(n_bands(), 2);

    uint64_t rebuilds = n_rebuilds();
    for (size_t batch = 1; batch <= n_batches; batch++) {
        struct ds what = DS_EMPTY_INITIALIZER;
        /* Mostly short batches, sometimes long ones. */
        int n = rc_range(4) ? 1 + rc_range(4) : 1 + rc_range(200);
        for (int i = 0; i < n; i++) {
            int kind = rc_range(12);
            ds_clear(&what);
            if (kind < 4) {
                event_pod(&what);
            } else if (kind < 6) {
                event_policy(&what);
            } else if (kind < 8) {
                event_port(&what);
            } else if (kind < 9) {
                event_namespace(&what);
            } else {
                int big = rc_range(n_big);
                if (kind < 11) {
                    set_big_policy(big);
                    notify_big_policy(big);
                } else {
                    delete_big_policy(big);
                }
                ds_put_format(&what, "big policy %d", big);
            }
        }
        n_events += n;
        uint64_t before = rebuilds;
        char *label = np_xasprintf("batch of %d, last %s", n, ds_cstr(&what));
        check_batch(label, batch, &rebuilds);
        n_incremental += rebuilds == before;
        free(label);
        ds_destroy(&what);
    }
    printf("overload_random: %zu events in %zu batches, all equal to a "
           "full compile; %zu batches without a rebuild, %zu bands at the "
           "end\n", n_events, n_batches, n_incremental, n_bands());
}
END_TEST

/* Peer sets created between rebuilds in namespaces of many pods, which
 * take the live label index once they have tested enough pods, while pods
 * change (notified at once, or later in the same batch). */

#define N_WIDE_PODS 150         /* Per namespace. */

static void
set_wide_pod(int ns, int i)
{
    static const char *const labels[] = {
        "\"app\":\"web\"", "\"app\":\"db\"", "\"app\":\"cache\"",
        "\"app\":\"queue\"", "\"other\":\"x\"",
    };
    char *json = np_xasprintf(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
        "\"namespace\":\"ns%d\",\"name\":\"w%d\",\"labels\":{%s}},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":["
        "{\"name\":\"http\",\"containerPort\":%d}]}]},"
        "\"status\":{\"podIPs\":[{\"ip\":\"10.%d.0.%d\"}]}}",
        ns, i, labels[rc_range(5)], 80 + rc_range(2), 100 + ns,
        1 + i + rc_range(2) * 100);
    rc_load(&cluster, json);
    free(json);
}

START_TEST(test_live_label_index)
{
    const char *env_seed = getenv("NP_TEST_SEED");
    const char *env_batches = getenv("NP_TEST_BATCHES");
    uint32_t seed = env_seed ? strtoul(env_seed, NULL, 10) : 77;
    size_t n_batches = env_batches ? strtoul(env_batches, NULL, 10) : 60;

    rc_seed(seed);
    random_initial_cluster();
    for (int ns = 0; ns < N_NAMESPACES; ns++) {
        for (int i = 0; i < N_WIDE_PODS; i++) {
            set_wide_pod(ns, i);
        }
    }
    engine = engine_create(&cluster, &config, &ids);
    check_equivalence("initial", 0);

    uint64_t rebuilds = n_rebuilds();
    for (size_t batch = 1; batch <= n_batches; batch++) {
        struct ds what = DS_EMPTY_INITIALIZER;
        char *later[8];
        int n_later = 0;
        int n = 1 + rc_range(rc_range(3) ? 4 : 30);
        for (int e = 0; e < n; e++) {
            int kind = rc_range(10);
            ds_clear(&what);
            if (kind < 3) {
                /* A pod of a big namespace changes, or goes; its
                 * notification may come later in the batch. */
                int ns = rc_range(N_NAMESPACES), i = rc_range(N_WIDE_PODS);
                char ns_name[16], name[16];
                snprintf(ns_name, sizeof ns_name, "ns%d", ns);
                snprintf(name, sizeof name, "w%d", i);
                if (rc_range(6)) {
                    set_wide_pod(ns, i);
                } else {
                    cluster_delete_pod(&cluster, ns_name, name);
                }
                ds_put_format(&what, "pod %s/%s", ns_name, name);
                if (n_later < NP_ARRAY_SIZE(later) && rc_range(2)) {
                    later[n_later++] = np_xasprintf("%s/%s", ns_name, name);
                } else {
                    engine_pod_changed(engine, ns_name, name);
                }
            } else if (kind < 7) {
                event_policy(&what);
            } else if (kind < 8) {
                event_namespace(&what);
            } else if (kind < 9) {
                event_pod(&what);
            } else {
                event_port(&what);
            }
        }
        for (int i = 0; i < n_later; i++) {
            char *slash = strchr(later[i], '/');
            *slash = '\0';
            engine_pod_changed(engine, later[i], slash + 1);
            free(later[i]);
        }
        char *label = np_xasprintf("batch of %d, last %s", n, ds_cstr(&what));
        check_batch(label, batch, &rebuilds);
        free(label);
        ds_destroy(&what);
    }
}
END_TEST

static Suite *
engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_no_rebuild_for_ordinary_events);
    tcase_add_test(tc, test_random_events);
    tcase_add_test(tc, test_overload_batches);
    tcase_add_test(tc, test_overload_three_bands);
    tcase_add_test(tc, test_overload_random);
    tcase_add_test(tc, test_live_label_index);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(engine_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
