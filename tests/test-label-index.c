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

/* test-label-index.c: the label index (flows/label-index.h), and the
 * indexes the compiler and the engine build at scale.
 *
 *   - "lookup_vs_scan" compares every lookup with a scan of the items, and
 *     "best_req" the choice of requirement with counting by hand.
 *
 *   - The compiler and the engine's rebuild take the indexed paths (label
 *     index, address index, named-port profiles) only when a selector
 *     would otherwise test many pods, which the small clusters of
 *     test-compiler and test-engine never reach.  "scale_vs_explain" runs
 *     clusters of a few hundred pods through the flow simulator against
 *     explain() (as test-compiler's random_vs_explain does, on a sample of
 *     packets), and "scale_engine" checks that the engine, rebuilt from
 *     scratch and then after random events, equals compile_full().
 *
 * NP_TEST_SEED and NP_TEST_ROUNDS change the seed and the number of
 * clusters. */

#include <config.h>

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include "flow-sim.h"
#include "flows/label-index.h"
#include "flows/selector.h"
#include "random-cluster.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/explain.h"
#include "ovs-netpol/util.h"

/* The index itself. */

static const char *const keys[] = { "app", "tier", "team", "none" };
static const char *const values[] = { "a", "b", "c", "d", "e" };

static const struct labels *
item_labels(const void *items_, size_t i)
{
    const struct labels *items = items_;
    return &items[i];
}

static struct labels *
random_items(size_t n)
{
    struct labels *items = np_xcalloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        labels_init(&items[i]);
        /* Never "none": a key no item has. */
        for (size_t k = 0; k < NP_ARRAY_SIZE(keys) - 1; k++) {
            if (rc_range(4)) {
                labels_set(&items[i], keys[k],
                           values[rc_range(NP_ARRAY_SIZE(values))]);
            }
        }
    }
    return items;
}

static void
destroy_items(struct labels *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        labels_destroy(&items[i]);
    }
    free(items);
}

START_TEST(test_lookup_vs_scan)
{
    enum { N = 500 };
    rc_seed(42);
    struct labels *items = random_items(N);
    struct label_index index;
    label_index_init(&index, N, item_labels, items);

    for (int round = 0; round < 2; round++) {
        /* The second round finds every key indexed already. */
        for (size_t k = 0; k < NP_ARRAY_SIZE(keys); k++) {
            for (size_t v = 0; v <= NP_ARRAY_SIZE(values); v++) {
                const char *value = (v < NP_ARRAY_SIZE(values) ? values[v]
                                     : "missing");
                size_t n;
                const uint32_t *list = label_index_lookup(&index, keys[k],
                                                          value, &n);
                size_t j = 0;
                for (size_t i = 0; i < N; i++) {
                    const char *have = labels_get(&items[i], keys[k]);
                    if (have && !strcmp(have, value)) {
                        ck_assert_uint_lt(j, n);
                        ck_assert_uint_eq(list[j], i);
                        j++;
                    }
                }
                ck_assert_uint_eq(j, n);
            }
        }
    }
    label_index_destroy(&index);
    destroy_items(items, N);
}
END_TEST

/* Makes 'sel' hold one requirement per 'specs' entry: "KEY=V1,V2" (In),
 * "KEY!=V" (NotIn), "KEY" (Exists). */
static void
make_selector(struct selector *sel, const char *const *specs, size_t n)
{
    sel->reqs = np_xcalloc(n, sizeof *sel->reqs);
    sel->n_reqs = n;
    for (size_t i = 0; i < n; i++) {
        struct selector_req *req = &sel->reqs[i];
        char *copy = np_xstrdup(specs[i]);
        char *not = strstr(copy, "!=");
        char *eq = strchr(copy, '=');
        if (not) {
            *not = '\0';
            req->op = SELECTOR_NOT_IN;
            eq = not + 1;
        } else if (eq) {
            *eq = '\0';
            req->op = SELECTOR_IN;
        } else {
            req->op = SELECTOR_EXISTS;
        }
        req->key = np_xstrdup(copy);
        if (eq) {
            char *save = NULL;
            for (char *v = strtok_r(eq + 1, ",", &save); v;
                 v = strtok_r(NULL, ",", &save)) {
                req->values = np_xrealloc(req->values, (req->n_values + 1)
                                          * sizeof *req->values);
                req->values[req->n_values++] = np_xstrdup(v);
            }
        }
        free(copy);
    }
}

static size_t
count_with(const struct labels *items, size_t n, const char *key,
           const char *value)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *have = labels_get(&items[i], key);
        count += have && !strcmp(have, value);
    }
    return count;
}

START_TEST(test_best_req)
{
    enum { N = 300 };
    rc_seed(7);
    struct labels *items = random_items(N);
    struct label_index index;
    label_index_init(&index, N, item_labels, items);

    size_t app_a = count_with(items, N, "app", "a");
    size_t tier_bc = (count_with(items, N, "tier", "b")
                      + count_with(items, N, "tier", "c"));
    static const char *const specs[] = { "team", "app=a", "tier=b,c",
                                         "app!=b" };
    struct selector sel;
    make_selector(&sel, specs, NP_ARRAY_SIZE(specs));

    size_t n;
    size_t best = label_index_best_req(&index, &sel, N, &n);
    size_t want = app_a <= tier_bc ? 1 : 2;
    ck_assert_uint_eq(best, want);
    ck_assert_uint_eq(n, want == 1 ? app_a : tier_bc);

    /* Not worth it when the caller has fewer candidates. */
    ck_assert_uint_eq(label_index_best_req(&index, &sel,
                                           NP_MIN(app_a, tier_bc), &n),
                      SIZE_MAX);
    selector_destroy(&sel);

    /* No "In" requirement: nothing to index by. */
    static const char *const specs2[] = { "team", "app!=a" };
    make_selector(&sel, specs2, NP_ARRAY_SIZE(specs2));
    ck_assert_uint_eq(label_index_best_req(&index, &sel, N, &n), SIZE_MAX);
    selector_destroy(&sel);

    /* A key no item has: nobody matches, which is the best plan. */
    static const char *const specs3[] = { "none=a" };
    make_selector(&sel, specs3, NP_ARRAY_SIZE(specs3));
    ck_assert_uint_eq(label_index_best_req(&index, &sel, N, &n), 0);
    ck_assert_uint_eq(n, 0);
    selector_destroy(&sel);

    label_index_destroy(&index);
    destroy_items(items, N);
}
END_TEST

/* Clusters at scale. */

static struct cluster cluster;
static struct np_config config;

static void
setup(void)
{
    cluster_init(&cluster);
    np_config_init(&config);
}

static void
teardown(void)
{
    cluster_destroy(&cluster);
}

enum {
    N_NAMESPACES = 3,
    N_PODS = 240,               /* rc_pod_json() makes addresses for up to
                                 * 254. */
    N_LOCAL = 12,
    N_POLICIES = 30,
};

static void
add_local_port(uint32_t ofport, const char *ns, const char *name)
{
    char *port_name = np_xasprintf("p%"PRIu32, ofport);
    struct local_port *port = local_port_create(ofport, port_name);
    free(port_name);
    if (ns) {
        port->pod_namespace = np_xstrdup(ns);
        port->pod_name = np_xstrdup(name);
    }
    cluster_set_port(&cluster, port);
}

/* Pods spread over few namespaces, so that the namespaces hold far more
 * pods than LABEL_INDEX_MIN_SCAN. */
static void
random_big_cluster(void)
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
        snprintf(ns, sizeof ns, "ns%d", rc_range(N_NAMESPACES));
        snprintf(name, sizeof name, "p%d", i);
        char *json = rc_pod_json(ns, name, i);
        rc_load(&cluster, json);
        free(json);
        if (i < N_LOCAL) {
            add_local_port(i + 1, ns, name);
        }
    }
    for (int i = 0; i < N_POLICIES; i++) {
        char ns[16], name[16];
        snprintf(ns, sizeof ns, "ns%d", rc_range(N_NAMESPACES));
        snprintf(name, sizeof name, "np%d", i);
        char *json = rc_policy_json(ns, name);
        rc_load(&cluster, json);
        free(json);
    }
    add_local_port(100, NULL, NULL);    /* An uplink. */
}

static uint32_t
base_seed(void)
{
    const char *env = getenv("NP_TEST_SEED");
    return env ? strtoul(env, NULL, 10) : 20261127;
}

static int
n_rounds(int default_rounds)
{
    const char *env = getenv("NP_TEST_ROUNDS");
    return env ? atoi(env) : default_rounds;
}

/* Whether explain() allows 'src' to 'dst' on this node: the source's
 * egress if it is local, the destination's ingress if it is. */
static bool
model_verdict(const struct np_pod *src, const struct np_pod *dst,
              const struct cidr *src_addr, const struct cidr *dst_addr,
              bool src_local, bool dst_local, uint8_t proto, uint16_t port)
{
    struct explain_endpoint s = { .pod = src, .address = *src_addr };
    struct explain_endpoint d = { .pod = dst, .address = *dst_addr };
    struct explain_result r;
    explain(&cluster, &s, &d, proto, port, &r);
    bool allowed = ((!src_local || r.dirs[NP_EGRESS].allowed)
                    && (!dst_local || r.dirs[NP_INGRESS].allowed));
    explain_result_destroy(&r);
    return allowed;
}

static const struct cidr *
address_of(const struct np_pod *pod, int family)
{
    for (size_t i = 0; i < pod->n_ips; i++) {
        if (pod->ips[i].family == family) {
            return &pod->ips[i];
        }
    }
    return NULL;
}

START_TEST(test_scale_vs_explain)
{
    static const uint8_t protos[] = { NP_TCP, NP_UDP, NP_SCTP };
    static const uint16_t ports[] = { 80, 81 };
    static const int families[] = { AF_INET, AF_INET6 };
    int rounds = n_rounds(4);
    size_t n_checked = 0, n_allowed = 0;

    for (int round = 0; round < rounds; round++) {
        teardown();
        setup();
        rc_seed(base_seed() + round * 7919);
        random_big_cluster();

        struct conj_ids ids;
        struct flow_set flows;
        struct np_problems problems;
        conj_ids_init(&ids);
        flow_set_init(&flows);
        np_problems_init(&problems);
        compile_full(&cluster, &config, &ids, &flows, &problems, NULL);

        size_t n = hmap_count(&cluster.pods), i = 0;
        const struct np_pod **pods = np_xmalloc(n * sizeof *pods);
        const struct np_pod *pod;
        HMAP_FOR_EACH (pod, node, &cluster.pods) {
            pods[i++] = pod;
        }

        /* From every local pod and from the uplink (as some remote pod),
         * to a sample of destinations. */
        const struct local_port *port;
        HMAP_FOR_EACH (port, node, &cluster.ports) {
            const struct np_pod *src = (port->pod_name
                                        ? cluster_find_pod(&cluster,
                                                           port->pod_namespace,
                                                           port->pod_name)
                                        : NULL);
            for (int k = 0; k < 150; k++) {
                const struct np_pod *from = src ? src : pods[rc_range(n)];
                const struct np_pod *dst = pods[rc_range(n)];
                const struct local_port *dport = cluster_find_pod_port(
                    &cluster, dst->namespace, dst->name);
                int family = families[rc_range(2)];
                const struct cidr *sa = address_of(from, family);
                const struct cidr *da = address_of(dst, family);
                if (from == dst || (!src && !dport) || !sa || !da) {
                    continue;
                }
                uint8_t proto = protos[rc_range(3)];
                uint16_t dst_port = ports[rc_range(2)];
                bool expected = model_verdict(from, dst, sa, da, src != NULL,
                                              dport != NULL, proto,
                                              dst_port);

                struct flow_sim_packet pkt;
                memset(&pkt, 0, sizeof pkt);
                pkt.in_port = port->ofport;
                pkt.src = *sa;
                pkt.dst = *da;
                pkt.protocol = proto;
                pkt.dst_port = dst_port;
                enum flow_sim_verdict v = flow_sim_run(&flows, &config, &pkt,
                                                       NULL, NULL);
                ck_assert_int_ne(v, SIM_ERROR);
                ck_assert_msg((v == SIM_ALLOW) == expected,
                              "round %d: %s/%s -> %s/%s %s %u/%u: flows "
                              "say %s, model %s", round, from->namespace,
                              from->name, dst->namespace, dst->name,
                              family == AF_INET ? "v4" : "v6", dst_port,
                              proto, v == SIM_ALLOW ? "allow" : "drop",
                              expected ? "allow" : "drop");
                n_checked++;
                n_allowed += expected;
            }
        }
        free(pods);
        np_problems_destroy(&problems);
        flow_set_destroy(&flows);
        conj_ids_destroy(&ids);
    }
    printf("scale_vs_explain: %zu packets checked, %zu allowed\n",
           n_checked, n_allowed);
    ck_assert_uint_gt(n_allowed, n_checked / 20);
    ck_assert_uint_gt(n_checked - n_allowed, n_checked / 20);
}
END_TEST

static void
check_engine(struct engine *engine, const char *what, int round)
{
    struct conj_ids fresh;
    struct flow_set reference;
    struct np_problems problems;

    conj_ids_init(&fresh);
    flow_set_init(&reference);
    np_problems_init(&problems);
    compile_full(&cluster, &config, &fresh, &reference, &problems, NULL);
    ck_assert_msg(flow_set_equal(engine_flows(engine), &reference),
                  "round %d, %s: the engine differs from a full compile",
                  round, what);
    np_problems_destroy(&problems);
    flow_set_destroy(&reference);
    conj_ids_destroy(&fresh);
}

START_TEST(test_scale_engine)
{
    int rounds = n_rounds(4);

    for (int round = 0; round < rounds; round++) {
        teardown();
        setup();
        rc_seed(base_seed() + round * 104729);
        random_big_cluster();

        struct conj_ids ids;
        conj_ids_init(&ids);
        struct engine *engine = engine_create(&cluster, &config, &ids);
        check_engine(engine, "rebuilt", round);

        for (int step = 0; step < 40; step++) {
            char ns[16], name[16];
            snprintf(ns, sizeof ns, "ns%d", rc_range(N_NAMESPACES));
            switch (rc_range(3)) {
            case 0: {
                /* A pod moves, is relabelled, or goes. */
                int i = rc_range(N_PODS);
                snprintf(name, sizeof name, "p%d", i);
                if (rc_range(5)) {
                    char *json = rc_pod_json(ns, name, i);
                    rc_load(&cluster, json);
                    free(json);
                } else {
                    cluster_delete_pod(&cluster, ns, name);
                }
                engine_pod_changed(engine, ns, name);
                break;
            }
            case 1: {
                snprintf(name, sizeof name, "np%d", rc_range(N_POLICIES));
                char *json = rc_policy_json(ns, name);
                rc_load(&cluster, json);
                free(json);
                engine_policy_changed(engine, ns, name);
                break;
            }
            default: {
                char *json = rc_namespace_json(ns);
                rc_load(&cluster, json);
                free(json);
                engine_namespace_changed(engine, ns);
                break;
            }
            }
            check_engine(engine, "an event", round);
        }
        engine_rebuild(engine);
        check_engine(engine, "rebuilt again", round);
        engine_destroy(engine);
        conj_ids_destroy(&ids);
    }
}
END_TEST

static Suite *
label_index_suite(void)
{
    Suite *s = suite_create("label_index");
    TCase *tc = tcase_create("label_index");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lookup_vs_scan);
    tcase_add_test(tc, test_best_req);
    tcase_add_test(tc, test_scale_vs_explain);
    tcase_add_test(tc, test_scale_engine);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(label_index_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
