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

/* test-flow-stats.c: unit tests for agent/flow-stats.c (check suite
 * "flow_stats"): the aggregation of the switch's per-flow counters into
 * per-rule and per-isolated-pod statistics, as pipeline.h's "Statistics"
 * section defines it.
 *
 * Each case builds the agent's naming state by hand (conjunction IDs and
 * local ports) and feeds made-up counters, as ofctrl would decode them from
 * a flow stats reply, so every number below can be checked by hand. */

#include <config.h>
#include "agent/flow-stats.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

/* The naming state of one case. */
struct fixture {
    struct np_config config;
    struct conj_ids ids;
    struct cluster cluster;
    struct flow_stats stats;
};

static void
fixture_init(struct fixture *f)
{
    np_config_init(&f->config);
    conj_ids_init(&f->ids);
    cluster_init(&f->cluster);
    flow_stats_init(&f->stats);
}

static void
fixture_destroy(struct fixture *f)
{
    flow_stats_destroy(&f->stats);
    cluster_destroy(&f->cluster);
    conj_ids_destroy(&f->ids);
}

static void
add_pod_port(struct fixture *f, uint32_t ofport, const char *ns,
             const char *name)
{
    struct local_port *port = local_port_create(ofport, "veth");
    if (ns) {
        port->pod_namespace = np_xstrdup(ns);
        port->pod_name = np_xstrdup(name);
    }
    cluster_set_port(&f->cluster, port);
}

static struct flow_stats_entry
entry(enum np_role role, uint32_t id, int table, uint64_t n_packets,
      uint64_t n_bytes)
{
    return (struct flow_stats_entry) {
        .cookie = np_cookie(role, id),
        .table_id = table,
        .priority = 1,
        .n_packets = n_packets,
        .n_bytes = n_bytes,
    };
}

static void
compute(struct fixture *f, const struct flow_stats_entry *entries, size_t n)
{
    flow_stats_compute(&f->stats, entries, n, &f->config, &f->ids,
                       &f->cluster);
}

static const struct flow_stats_rule *
find_rule(const struct flow_stats *stats, uint32_t id)
{
    for (size_t i = 0; i < stats->n_rules; i++) {
        if (stats->rules[i].conj_id == id) {
            return &stats->rules[i];
        }
    }
    return NULL;
}

static void
check_rule(const struct flow_stats_rule *r, uint64_t n_connections,
           uint64_t n_packets, uint64_t n_bytes, size_t n_flows)
{
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->n_connections, n_connections);
    ck_assert_uint_eq(r->n_packets, n_packets);
    ck_assert_uint_eq(r->n_bytes, n_bytes);
    ck_assert_uint_eq(r->n_flows, n_flows);
}

#define CT NP_TABLE_CT_STATE
#define EGRESS NP_TABLE_EGRESS
#define INGRESS NP_TABLE_INGRESS

/* New connections are the packets of a rule's rule flows (all of them:
 * one per family, or per target of a direct allow); packets and bytes add
 * its stats flow's established packets. */
START_TEST(test_rule_derivation)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t in = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 0, "");
    uint32_t out = conj_ids_alloc(&f.ids, "x", "p", NP_EGRESS, 0, "");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, in, INGRESS, 3, 222),      /* IPv4 conj_id. */
        entry(NP_ROLE_RULE, in, INGRESS, 2, 172),      /* IPv6 conj_id. */
        entry(NP_ROLE_STATS, in, CT, 40, 4000),
        entry(NP_ROLE_RULE, out, EGRESS, 5, 370),
        entry(NP_ROLE_STATS, out, CT, 0, 0),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    ck_assert_uint_eq(f.stats.n_rules, 2);
    ck_assert_uint_eq(f.stats.n_entries, 5);
    ck_assert_uint_eq(f.stats.n_ignored, 0);
    check_rule(find_rule(&f.stats, in), 5, 45, 4394, 3);
    check_rule(find_rule(&f.stats, out), 5, 5, 370, 2);

    const struct flow_stats_rule *r = find_rule(&f.stats, in);
    ck_assert_int_eq(r->state, FLOW_STATS_RULE_LIVE);
    ck_assert_str_eq(r->namespace, "x");
    ck_assert_str_eq(r->policy, "p");
    ck_assert_int_eq(r->dir, NP_INGRESS);
    ck_assert_uint_eq(r->index, 0);
    ck_assert_str_eq(r->variant, "");
    fixture_destroy(&f);
}
END_TEST

/* Flows of other roles, other tables or other owners are not counted. */
START_TEST(test_ignored)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t id = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 0, "");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_PIPELINE, 0, CT, 100, 100),
        entry(NP_ROLE_PORT, 7, NP_TABLE_CLASSIFY, 100, 100),
        entry(NP_ROLE_CLAUSE, 0, INGRESS, 100, 100),
        entry(NP_ROLE_RULE, id, NP_TABLE_CLASSIFY, 100, 100),
        entry(NP_ROLE_RULE, id, NP_TABLE_COMMIT, 100, 100),
        entry(NP_ROLE_STATS, id, INGRESS, 100, 100),
        entry(NP_ROLE_ISOLATION, 7, CT, 100, 100),
        { .cookie = 0x1234, .table_id = INGRESS, .n_packets = 100 },
        /* A neighbour of our prefix, with our role and ID. */
        { .cookie = ((np_cookie(NP_ROLE_RULE, id) & ~NP_COOKIE_PREFIX_MASK)
                     | UINT64_C(0x4e51) << 48),
          .table_id = INGRESS, .n_packets = 100 },
        entry(NP_ROLE_RULE, id, INGRESS, 1, 60),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    ck_assert_uint_eq(f.stats.n_entries, NP_ARRAY_SIZE(entries));
    ck_assert_uint_eq(f.stats.n_ignored, NP_ARRAY_SIZE(entries) - 1);
    ck_assert_uint_eq(f.stats.n_rules, 1);
    check_rule(find_rule(&f.stats, id), 1, 1, 60, 1);
    ck_assert_uint_eq(f.stats.n_drops, 0);
    fixture_destroy(&f);
}
END_TEST

/* The switch says UINT64_MAX for a counter it does not keep. */
START_TEST(test_unknown_counters)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t id = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 0, "");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, id, INGRESS, UINT64_MAX, UINT64_MAX),
        entry(NP_ROLE_STATS, id, CT, 7, UINT64_MAX),
        entry(NP_ROLE_ISOLATION, 3, INGRESS, UINT64_MAX, 9),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    check_rule(find_rule(&f.stats, id), 0, 7, 0, 2);
    ck_assert_uint_eq(f.stats.n_drops, 1);
    ck_assert_uint_eq(f.stats.drops[0].n_packets, 0);
    ck_assert_uint_eq(f.stats.drops[0].n_bytes, 9);
    fixture_destroy(&f);
}
END_TEST

/* Isolation drops: per port and direction (the table), summed over the
 * port's flows (one per address), named from the port's pod. */
START_TEST(test_drops)
{
    struct fixture f;
    fixture_init(&f);
    add_pod_port(&f, 11, "x", "a");
    add_pod_port(&f, 12, "x", "b");
    add_pod_port(&f, 13, NULL, NULL);          /* An uplink. */
    add_pod_port(&f, 14, "w", "z");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_ISOLATION, 12, INGRESS, 4, 400),     /* IPv4. */
        entry(NP_ROLE_ISOLATION, 12, INGRESS, 1, 90),      /* IPv6. */
        entry(NP_ROLE_ISOLATION, 12, EGRESS, 2, 120),
        entry(NP_ROLE_ISOLATION, 11, EGRESS, 3, 180),
        entry(NP_ROLE_ISOLATION, 99, INGRESS, 6, 360),     /* Port gone. */
        entry(NP_ROLE_ISOLATION, 13, INGRESS, 8, 480),     /* No pod. */
        entry(NP_ROLE_ISOLATION, 14, EGRESS, 0, 0),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    /* Sorted by pod, then ingress before egress; unnamed ports last. */
    static const struct {
        uint32_t ofport;
        const char *ns, *name;
        enum np_direction dir;
        uint64_t n_packets, n_bytes;
        size_t n_flows;
    } expected[] = {
        { 14, "w", "z", NP_EGRESS, 0, 0, 1 },
        { 11, "x", "a", NP_EGRESS, 3, 180, 1 },
        { 12, "x", "b", NP_INGRESS, 5, 490, 2 },
        { 12, "x", "b", NP_EGRESS, 2, 120, 1 },
        { 13, NULL, NULL, NP_INGRESS, 8, 480, 1 },
        { 99, NULL, NULL, NP_INGRESS, 6, 360, 1 },
    };
    ck_assert_uint_eq(f.stats.n_drops, NP_ARRAY_SIZE(expected));
    for (size_t i = 0; i < NP_ARRAY_SIZE(expected); i++) {
        const struct flow_stats_drop *d = &f.stats.drops[i];
        ck_assert_uint_eq(d->ofport, expected[i].ofport);
        ck_assert_int_eq(d->dir, expected[i].dir);
        ck_assert_uint_eq(d->n_packets, expected[i].n_packets);
        ck_assert_uint_eq(d->n_bytes, expected[i].n_bytes);
        ck_assert_uint_eq(d->n_flows, expected[i].n_flows);
        if (expected[i].ns) {
            ck_assert_str_eq(d->pod_namespace, expected[i].ns);
            ck_assert_str_eq(d->pod_name, expected[i].name);
        } else {
            ck_assert_ptr_null(d->pod_namespace);
            ck_assert_ptr_null(d->pod_name);
        }
    }
    ck_assert_uint_eq(f.stats.n_rules, 0);
    fixture_destroy(&f);
}
END_TEST

/* Every live rule has a row, in key order, even without flows (a rule the
 * switch does not hold yet, or whose flows were deleted by hand). */
START_TEST(test_live_rules_and_order)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t b1 = conj_ids_alloc(&f.ids, "y", "b", NP_INGRESS, 1, "");
    uint32_t a0e = conj_ids_alloc(&f.ids, "y", "a", NP_EGRESS, 0, "");
    uint32_t b0 = conj_ids_alloc(&f.ids, "y", "b", NP_INGRESS, 0, "");
    uint32_t b0v = conj_ids_alloc(&f.ids, "y", "b", NP_INGRESS, 0,
                                  "TCP:8080");
    uint32_t a0i = conj_ids_alloc(&f.ids, "y", "a", NP_INGRESS, 0, "");
    uint32_t x = conj_ids_alloc(&f.ids, "x", "z", NP_EGRESS, 3, "");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, b0v, INGRESS, 2, 120),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    const uint32_t order[] = { x, a0i, a0e, b0, b0v, b1 };
    ck_assert_uint_eq(f.stats.n_rules, NP_ARRAY_SIZE(order));
    for (size_t i = 0; i < NP_ARRAY_SIZE(order); i++) {
        ck_assert_uint_eq(f.stats.rules[i].conj_id, order[i]);
        ck_assert_int_eq(f.stats.rules[i].state, FLOW_STATS_RULE_LIVE);
    }
    check_rule(find_rule(&f.stats, b0v), 2, 2, 120, 1);
    check_rule(find_rule(&f.stats, b1), 0, 0, 0, 0);
    ck_assert_str_eq(find_rule(&f.stats, b0v)->variant, "TCP:8080");

    struct ds s = DS_EMPTY_INITIALIZER;
    flow_stats_rule_format(find_rule(&f.stats, b0v), &s);
    ck_assert_str_eq(ds_cstr(&s), "y/b rule 0 [TCP:8080]");
    ds_destroy(&s);
    fixture_destroy(&f);
}
END_TEST

/* Rules deleted since the dump must not crash the aggregation: a retired
 * ID is still named (and says so), an ID the agent never knew or forgot is
 * reported by number, after the named ones.  Retired rules without flows
 * are not listed. */
START_TEST(test_deleted_rules)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t live = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 0, "");
    uint32_t gone = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 1, "");
    uint32_t idle = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 2, "");
    conj_ids_release(&f.ids, gone);
    conj_ids_release(&f.ids, idle);
    uint32_t unknown = 1;
    while (conj_ids_find(&f.ids, unknown)) {
        unknown++;
    }

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, gone, INGRESS, 4, 240),
        entry(NP_ROLE_STATS, unknown, CT, 9, 900),
        entry(NP_ROLE_RULE, unknown, EGRESS, 1, 60),
        entry(NP_ROLE_RULE, live, INGRESS, 1, 60),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    ck_assert_uint_eq(f.stats.n_rules, 3);
    ck_assert_uint_eq(f.stats.rules[0].conj_id, live);
    ck_assert_uint_eq(f.stats.rules[1].conj_id, gone);
    ck_assert_int_eq(f.stats.rules[1].state, FLOW_STATS_RULE_RETIRED);
    ck_assert_str_eq(f.stats.rules[1].policy, "p");
    ck_assert_uint_eq(f.stats.rules[1].index, 1);
    check_rule(&f.stats.rules[1], 4, 4, 240, 1);

    const struct flow_stats_rule *r = &f.stats.rules[2];
    ck_assert_uint_eq(r->conj_id, unknown);
    ck_assert_int_eq(r->state, FLOW_STATS_RULE_UNKNOWN);
    ck_assert_ptr_null(r->namespace);
    ck_assert_ptr_null(r->policy);
    ck_assert_ptr_null(r->variant);
    check_rule(r, 1, 10, 960, 2);

    struct ds s = DS_EMPTY_INITIALIZER;
    flow_stats_rule_format(r, &s);
    ck_assert(!strncmp(ds_cstr(&s), "conjunction 0x", 14));
    ds_destroy(&s);
    fixture_destroy(&f);
}
END_TEST

/* With --first-table, the tables move and so does the classification. */
START_TEST(test_first_table)
{
    struct fixture f;
    fixture_init(&f);
    f.config.first_table = 10;
    uint32_t id = conj_ids_alloc(&f.ids, "x", "p", NP_EGRESS, 0, "");
    add_pod_port(&f, 5, "x", "a");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, id, 10 + EGRESS, 2, 120),
        entry(NP_ROLE_STATS, id, 10 + CT, 6, 600),
        entry(NP_ROLE_RULE, id, EGRESS, 50, 50),        /* Not ours. */
        entry(NP_ROLE_STATS, id, CT, 50, 50),
        entry(NP_ROLE_ISOLATION, 5, 10 + INGRESS, 3, 180),
        entry(NP_ROLE_ISOLATION, 5, INGRESS, 50, 50),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    check_rule(find_rule(&f.stats, id), 2, 8, 720, 2);
    ck_assert_uint_eq(f.stats.n_drops, 1);
    ck_assert_int_eq(f.stats.drops[0].dir, NP_INGRESS);
    ck_assert_uint_eq(f.stats.drops[0].n_packets, 3);
    ck_assert_uint_eq(f.stats.n_ignored, 3);
    fixture_destroy(&f);
}
END_TEST

/* Computing again replaces everything (the agent reuses one struct). */
START_TEST(test_recompute)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t id = conj_ids_alloc(&f.ids, "x", "p", NP_INGRESS, 0, "");
    add_pod_port(&f, 5, "x", "a");

    const struct flow_stats_entry first[] = {
        entry(NP_ROLE_RULE, id, INGRESS, 7, 420),
        entry(NP_ROLE_ISOLATION, 5, INGRESS, 3, 180),
    };
    compute(&f, first, NP_ARRAY_SIZE(first));
    ck_assert_uint_eq(f.stats.n_drops, 1);

    /* The rule's flows were deleted and added again: what the switch says
     * now is all there is. */
    const struct flow_stats_entry second[] = {
        entry(NP_ROLE_RULE, id, INGRESS, 1, 60),
    };
    compute(&f, second, NP_ARRAY_SIZE(second));
    ck_assert_uint_eq(f.stats.n_rules, 1);
    check_rule(&f.stats.rules[0], 1, 1, 60, 1);
    ck_assert_uint_eq(f.stats.n_drops, 0);
    ck_assert_uint_eq(f.stats.n_entries, 1);

    compute(&f, NULL, 0);
    ck_assert_uint_eq(f.stats.n_rules, 1);
    check_rule(&f.stats.rules[0], 0, 0, 0, 0);

    struct flow_stats other;
    flow_stats_init(&other);
    flow_stats_swap(&f.stats, &other);
    ck_assert_uint_eq(f.stats.n_rules, 0);
    ck_assert_uint_eq(other.n_rules, 1);
    flow_stats_destroy(&other);
    fixture_destroy(&f);
}
END_TEST

START_TEST(test_json)
{
    struct fixture f;
    fixture_init(&f);
    uint32_t id = conj_ids_alloc(&f.ids, "x", "p", NP_EGRESS, 2, "UDP:53");
    add_pod_port(&f, 5, "x", "a");

    const struct flow_stats_entry entries[] = {
        entry(NP_ROLE_RULE, id, EGRESS, 2, 120),
        entry(NP_ROLE_STATS, id, CT, 6, 600),
        entry(NP_ROLE_RULE, 77, EGRESS, 1, 60),
        entry(NP_ROLE_ISOLATION, 5, INGRESS, 3, 180),
        entry(NP_ROLE_ISOLATION, 6, EGRESS, 1, 70),
        entry(NP_ROLE_CLAUSE, 0, EGRESS, 1, 70),
    };
    compute(&f, entries, NP_ARRAY_SIZE(entries));

    json_t *j = flow_stats_to_json(&f.stats);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    char *expected = np_xasprintf(
        "{\"entries\":6,\"ignored\":1,"
        "\"isolation\":["
        "{\"bytes\":180,\"direction\":\"ingress\",\"flows\":1,"
        "\"namespace\":\"x\",\"ofport\":5,\"packets\":3,\"pod\":\"a\"},"
        "{\"bytes\":70,\"direction\":\"egress\",\"flows\":1,\"ofport\":6,"
        "\"packets\":1}],"
        "\"rules\":["
        "{\"bytes\":720,\"conj_id\":%u,\"connections\":2,"
        "\"direction\":\"egress\",\"flows\":2,\"index\":2,"
        "\"namespace\":\"x\",\"packets\":8,\"policy\":\"p\","
        "\"state\":\"live\",\"variant\":\"UDP:53\"},"
        "{\"bytes\":60,\"conj_id\":77,\"connections\":1,\"flows\":1,"
        "\"packets\":1,\"state\":\"unknown\"}]}", (unsigned int) id);
    ck_assert_str_eq(text, expected);
    free(expected);
    free(text);
    json_decref(j);
    fixture_destroy(&f);
}
END_TEST

static Suite *
flow_stats_suite(void)
{
    Suite *s = suite_create("flow_stats");
    TCase *tc = tcase_create("aggregate");
    tcase_add_test(tc, test_rule_derivation);
    tcase_add_test(tc, test_ignored);
    tcase_add_test(tc, test_unknown_counters);
    tcase_add_test(tc, test_drops);
    tcase_add_test(tc, test_live_rules_and_order);
    tcase_add_test(tc, test_deleted_rules);
    tcase_add_test(tc, test_first_table);
    tcase_add_test(tc, test_recompute);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_json);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(flow_stats_suite());
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
