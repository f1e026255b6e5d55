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

/* test-compiler.c: unit tests of the rule compiler (compiler.h).
 *
 * Besides cases for each rule of the design (absent vs empty, sum not
 * product, named ports, except, endPort, determinism, stable IDs, the 64 KiB
 * message limit), "random_vs_explain" builds random clusters and checks, for
 * every pair of pods, port and protocol, that the compiled flows (run through
 * the reference simulator in flow-sim.c) give the verdict explain() gives
 * from the model.  NP_TEST_SEED and NP_TEST_ROUNDS change its seed and size.
 */

#include <config.h>

#include <check.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofpbuf.h>
#include "flow-sim.h"
#include "random-cluster.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/explain.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

static struct cluster cluster;
static struct conj_ids ids;
static struct flow_set flows;
static struct np_problems problems;
static struct np_config config;
static struct compile_stats stats;

static void
setup(void)
{
    cluster_init(&cluster);
    conj_ids_init(&ids);
    flow_set_init(&flows);
    np_problems_init(&problems);
    np_config_init(&config);
}

static void
teardown(void)
{
    np_problems_destroy(&problems);
    flow_set_destroy(&flows);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
}

static void
load_object(struct np_object *obj, void *cluster_)
{
    cluster_set_object(cluster_, obj);
    free(obj);
}

/* Loads manifest text; every object must be valid. */
static void
load(const char *text)
{
    struct np_problems p;
    np_problems_init(&p);
    ck_assert(manifest_parse(text, strlen(text), "test", load_object,
                             &cluster, &p));
    if (p.n) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&p.items[0], &s);
        ck_abort_msg("unexpected problem: %s", ds_cstr(&s));
    }
    np_problems_destroy(&p);
}

static void
loadf(const char *format, ...) __attribute__((__format__(__printf__, 1, 2)));

static void
loadf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = np_xvasprintf(format, args);
    va_end(args);
    load(text);
    free(text);
}

/* Adds pod NS/NAME with labels (JSON object text) and addresses (comma
 * separated), optionally container ports (JSON array text). */
static void
add_pod(const char *ns, const char *name, const char *labels,
        const char *ips, const char *ports)
{
    struct ds json = DS_EMPTY_INITIALIZER;
    ds_put_format(&json, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                  "\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\","
                  "\"labels\":%s},\"spec\":{\"containers\":[{\"name\":\"c\","
                  "\"ports\":%s}]},\"status\":{\"podIPs\":[",
                  ns, name, labels ? labels : "{}", ports ? ports : "[]");
    char *copy = np_xstrdup(ips), *save = NULL;
    int i = 0;
    for (char *ip = strtok_r(copy, ",", &save); ip;
         ip = strtok_r(NULL, ",", &save)) {
        ds_put_format(&json, "%s{\"ip\":\"%s\"}", i++ ? "," : "", ip);
    }
    free(copy);
    ds_put_cstr(&json, "]}}");
    load(ds_cstr(&json));
    ds_destroy(&json);
}

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

static void
compile(void)
{
    flow_set_clear(&flows);
    np_problems_clear(&problems);
    compile_full(&cluster, &config, &ids, &flows, &problems, &stats);
}

/* Counts the flows in table 'table' whose text contains every one of the
 * null-terminated list of substrings. */
static size_t
count_flows(int table, ...)
{
    size_t n = 0;
    const struct np_flow *flow;
    HMAP_FOR_EACH (flow, node, &flows.flows) {
        if (table >= 0 && flow->table_id != table) {
            continue;
        }
        struct ds s = DS_EMPTY_INITIALIZER;
        np_flow_format(flow, &s);
        va_list args;
        va_start(args, table);
        bool all = true;
        for (const char *sub; (sub = va_arg(args, const char *)); ) {
            all = all && strstr(ds_cstr(&s), sub);
        }
        va_end(args);
        ds_destroy(&s);
        n += all;
    }
    return n;
}

static char *
flows_text(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    flow_set_format(&flows, &s);
    return ds_steal_cstr(&s);
}

/* Runs one packet from local pod port 'ofport' (or an uplink) through the
 * flows. */
static enum flow_sim_verdict
sim(uint32_t in_port, const char *src, const char *dst, uint8_t proto,
    uint16_t port)
{
    struct flow_sim_packet p;
    memset(&p, 0, sizeof p);
    p.in_port = in_port;
    ck_assert(cidr_parse_address(src, &p.src));
    ck_assert(cidr_parse_address(dst, &p.dst));
    p.protocol = proto;
    p.dst_port = port;
    return flow_sim_run(&flows, &config, &p, NULL, NULL);
}

#define NP_INGRESS_TABLE (config.first_table + NP_TABLE_INGRESS)
#define NP_EGRESS_TABLE (config.first_table + NP_TABLE_EGRESS)

/* Policies. */

static const char *deny_all_ingress =
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
    "\"metadata\":{\"namespace\":\"x\",\"name\":\"deny\"},"
    "\"spec\":{\"podSelector\":{}}}";

START_TEST(test_no_policy_allows_everything)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_pod("x", "b", NULL, "10.0.0.2", NULL);
    add_local_port(1, "x", "a");
    add_local_port(2, "x", "b");
    compile();
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.0.2", NP_TCP, 80), SIM_ALLOW);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "drop", NULL), 0);
    ck_assert_int_eq(problems.n, 0);
}
END_TEST

START_TEST(test_default_deny_isolates)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_pod("x", "b", NULL, "10.0.0.2", NULL);
    add_local_port(1, "x", "a");
    add_local_port(2, "x", "b");
    load(deny_all_ingress);
    compile();
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.0.2", NP_TCP, 80), SIM_DROP);
    /* Egress is not isolated by an Ingress-only policy. */
    ck_assert_int_eq(count_flows(NP_EGRESS_TABLE, "actions=drop", NULL), 0);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "priority=100",
                                 "actions=drop", NULL), 2);
    /* A reply of an established connection is not checked again. */
    struct flow_sim_packet p;
    memset(&p, 0, sizeof p);
    p.in_port = 1;
    ck_assert(cidr_parse_address("10.0.0.1", &p.src));
    ck_assert(cidr_parse_address("10.0.0.2", &p.dst));
    p.protocol = NP_TCP;
    p.dst_port = 80;
    p.established = true;
    ck_assert_int_eq(flow_sim_run(&flows, &config, &p, NULL, NULL),
                     SIM_ALLOW);
}
END_TEST

START_TEST(test_empty_peers_allow_nothing)
{
    add_pod("x", "a", "{\"app\":\"db\"}", "10.0.0.1", NULL);
    add_pod("x", "b", "{\"app\":\"web\"}", "10.0.0.2", NULL);
    add_local_port(1, "x", "a");
    add_local_port(2, "x", "b");
    /* The peer selects app=nobody: present, but empty. */
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":"
         "\"db\"}},\"ingress\":[{\"from\":[{\"podSelector\":{"
         "\"matchLabels\":{\"app\":\"nobody\"}}}]}]}}");
    compile();
    ck_assert_int_eq(sim(2, "10.0.0.2", "10.0.0.1", NP_TCP, 80), SIM_DROP);
    ck_assert_int_eq(sim(2, "10.0.0.2", "10.0.0.1", NP_UDP, 53), SIM_DROP);
    /* No rule flows at all: no conjunction, no direct allow. */
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "conj", NULL), 0);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "priority=2000", NULL),
                     0);
    ck_assert_int_eq(stats.n_conjunctions, 0);

    /* Once a pod matches, it is allowed, and only it. */
    add_pod("x", "c", "{\"app\":\"nobody\"}", "10.0.0.3", NULL);
    compile();
    ck_assert_int_eq(sim(LOCAL_PORT_HOST + 1, "10.0.0.3", "10.0.0.1",
                         NP_TCP, 80), SIM_DROP);   /* Unknown port. */
    add_local_port(7, NULL, NULL);                 /* An uplink. */
    compile();
    ck_assert_int_eq(sim(7, "10.0.0.3", "10.0.0.1", NP_TCP, 80), SIM_ALLOW);
    ck_assert_int_eq(sim(7, "10.0.0.4", "10.0.0.1", NP_TCP, 80), SIM_DROP);
}
END_TEST

START_TEST(test_absent_peers_and_ports_allow_all)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    add_local_port(9, NULL, NULL);
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"all\"},\"spec\":{\"podSelector\":{},\"ingress\":[{}]}}");
    compile();
    /* One dimension: a direct allow, no conjunction. */
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "priority=2000",
                                 "nw_dst=10.0.0.1", NULL), 1);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "conjunction", NULL), 0);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_SCTP, 9), SIM_ALLOW);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", 1, 0), SIM_ALLOW);
}
END_TEST

/* A rule with 100 peers, 10 local targets and 5 ports costs 100 + 10 + 5
 * clause flows plus one conj_id flow, not 5,000. */
START_TEST(test_sum_not_product)
{
    struct ds ports = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < 100; i++) {
        char name[16], ip[32];
        snprintf(name, sizeof name, "peer%d", i);
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 250, i % 250 + 1);
        add_pod("y", name, "{\"role\":\"client\"}", ip, NULL);
    }
    for (int i = 0; i < 10; i++) {
        char name[16], ip[32];
        snprintf(name, sizeof name, "server%d", i);
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        add_pod("x", name, "{\"role\":\"server\"}", ip, NULL);
        add_local_port(i + 1, "x", name);
    }
    for (int i = 0; i < 5; i++) {
        ds_put_format(&ports, "%s{\"port\":%d}", i ? "," : "", 8000 + i * 7);
    }
    loadf("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
          "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
          "\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"role\":"
          "\"server\"}},\"ingress\":[{\"from\":[{\"namespaceSelector\":{},"
          "\"podSelector\":{\"matchLabels\":{\"role\":\"client\"}}}],"
          "\"ports\":[%s]}]}}", ds_cstr(&ports));
    ds_destroy(&ports);
    compile();

    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "conjunction(", NULL),
                     100 + 10 + 5);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, ",1/3)", NULL), 10);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, ",2/3)", NULL), 100);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, ",3/3)", NULL), 5);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "conj_id=", NULL), 1);
    add_local_port(99, NULL, NULL);
    compile();
    ck_assert_int_eq(sim(99, "10.1.0.7", "10.0.0.3", NP_TCP, 8014),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(99, "10.1.0.7", "10.0.0.3", NP_TCP, 8015),
                     SIM_DROP);
}
END_TEST

/* Named ports resolve per target pod; pods that resolve "http" to different
 * numbers get separate conjunctions, and a pod without it gets none. */
START_TEST(test_named_ports_per_pod)
{
    add_pod("x", "a", "{\"app\":\"web\"}", "10.0.0.1",
            "[{\"name\":\"http\",\"containerPort\":8080}]");
    add_pod("x", "b", "{\"app\":\"web\"}", "10.0.0.2",
            "[{\"name\":\"http\",\"containerPort\":9090}]");
    add_pod("x", "c", "{\"app\":\"web\"}", "10.0.0.3",
            "[{\"name\":\"metrics\",\"containerPort\":8080}]");
    add_pod("x", "d", "{\"app\":\"web\"}", "10.0.0.4",
            "[{\"name\":\"http\",\"containerPort\":8080}]");
    for (int i = 0; i < 4; i++) {
        char name[2] = { 'a' + i, '\0' };
        add_local_port(i + 1, "x", name);
    }
    add_local_port(9, NULL, NULL);
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"named\"},\"spec\":{\"podSelector\":{},\"ingress\":[{"
         "\"ports\":[{\"port\":\"http\"}]}]}}");
    compile();

    ck_assert_int_eq(stats.n_conjunctions, 2);  /* 8080 and 9090. */
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_TCP, 8080),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_TCP, 9090),
                     SIM_DROP);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.2", NP_TCP, 9090),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.2", NP_TCP, 8080),
                     SIM_DROP);
    /* "http" resolves nowhere on c: nothing allowed, not everything. */
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.3", NP_TCP, 8080),
                     SIM_DROP);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.4", NP_TCP, 8080),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.4", NP_UDP, 8080),
                     SIM_DROP);

    /* The variants carry their resolution in their key. */
    bool found_8080 = false, found_9090 = false;
    const struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &ids.by_id) {
        found_8080 |= !ref->retired && !strcmp(ref->variant, "TCP:8080");
        found_9090 |= !ref->retired && !strcmp(ref->variant, "TCP:9090");
    }
    ck_assert(found_8080 && found_9090);
}
END_TEST

START_TEST(test_egress_named_port_resolves_on_peer)
{
    add_pod("x", "client", NULL, "10.0.0.1", NULL);
    add_pod("y", "dns1", "{\"k8s-app\":\"dns\"}", "10.0.1.1",
            "[{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"}]");
    add_pod("y", "dns2", "{\"k8s-app\":\"dns\"}", "10.0.1.2",
            "[{\"name\":\"dns\",\"containerPort\":5353,"
            "\"protocol\":\"UDP\"}]");
    add_local_port(1, "x", "client");
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"dns\"},\"spec\":{\"podSelector\":{},\"policyTypes\":"
         "[\"Egress\"],\"egress\":[{\"to\":[{\"namespaceSelector\":{}}],"
         "\"ports\":[{\"port\":\"dns\",\"protocol\":\"UDP\"}]}]}}");
    compile();
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.1.1", NP_UDP, 53), SIM_ALLOW);
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.1.1", NP_UDP, 5353),
                     SIM_DROP);
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.1.2", NP_UDP, 5353),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.1.2", NP_UDP, 53), SIM_DROP);
    ck_assert_int_eq(sim(1, "10.0.0.1", "192.0.2.1", NP_UDP, 53), SIM_DROP);
}
END_TEST

/* ipBlock except becomes disjoint prefixes: 0.0.0.0/0 minus the RFC 1918
 * blocks is 31 prefixes. */
START_TEST(test_except_is_cidr_difference)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"internet\"},\"spec\":{\"podSelector\":{},\"policyTypes\":"
         "[\"Egress\"],\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
         "\"0.0.0.0/0\",\"except\":[\"10.0.0.0/8\",\"172.16.0.0/12\","
         "\"192.168.0.0/16\"]}}]}]}}");
    compile();
    ck_assert_int_eq(count_flows(NP_EGRESS_TABLE, "nw_dst=", "conjunction",
                                 NULL), 31);
    ck_assert_int_eq(sim(1, "10.0.0.1", "8.8.8.8", NP_UDP, 53), SIM_ALLOW);
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.9.9.9", NP_UDP, 53), SIM_DROP);
    ck_assert_int_eq(sim(1, "10.0.0.1", "172.31.255.255", NP_TCP, 1),
                     SIM_DROP);
    ck_assert_int_eq(sim(1, "10.0.0.1", "172.32.0.0", NP_TCP, 1),
                     SIM_ALLOW);
}
END_TEST

START_TEST(test_end_port_masks)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    add_local_port(9, NULL, NULL);
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"range\"},\"spec\":{\"podSelector\":{},\"ingress\":[{"
         "\"ports\":[{\"port\":8080,\"endPort\":8090},{\"protocol\":"
         "\"SCTP\"}]}]}}");
    compile();
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "tcp,tp_dst=", NULL), 3);
    ck_assert_int_eq(count_flows(NP_INGRESS_TABLE, "sctp", NULL), 1);
    for (int port = 8070; port < 8100; port++) {
        ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_TCP, port),
                         port >= 8080 && port <= 8090 ? SIM_ALLOW
                                                       : SIM_DROP);
    }
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_SCTP, 1), SIM_ALLOW);
    ck_assert_int_eq(sim(9, "192.0.2.1", "10.0.0.1", NP_UDP, 8080),
                     SIM_DROP);
}
END_TEST

START_TEST(test_unknown_pod_is_isolated)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    struct local_port *port = local_port_create(2, "ghost");
    port->pod_namespace = np_xstrdup("x");
    port->pod_name = np_xstrdup("ghost");
    port->ips = np_xmalloc(sizeof *port->ips);
    ck_assert(cidr_parse_address("10.0.0.2", port->ips));
    port->n_ips = 1;
    cluster_set_port(&cluster, port);
    compile();

    ck_assert_int_eq(problems.n, 1);
    ck_assert_ptr_nonnull(strstr(problems.items[0].message, "not known"));
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.0.2", NP_TCP, 80), SIM_DROP);
    ck_assert_int_eq(sim(2, "10.0.0.2", "10.0.0.1", NP_TCP, 80), SIM_DROP);
}
END_TEST

START_TEST(test_spoofed_source_is_dropped)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_pod("x", "b", NULL, "10.0.0.2", NULL);
    add_local_port(1, "x", "a");
    add_local_port(2, "x", "b");
    compile();
    ck_assert_int_eq(sim(1, "10.0.0.1", "10.0.0.2", NP_TCP, 80), SIM_ALLOW);
    ck_assert_int_eq(sim(1, "10.0.0.2", "10.0.0.1", NP_TCP, 80), SIM_DROP);
    ck_assert_int_eq(sim(1, "10.9.9.9", "10.0.0.2", NP_TCP, 80), SIM_DROP);
}
END_TEST

/* The same input gives the same bytes, whatever order it arrived in, and a
 * fresh allocator gives the same conjunction IDs. */
START_TEST(test_deterministic)
{
    static const char *policies[] = {
        "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
        "\"metadata\":{\"namespace\":\"x\",\"name\":\"p1\"},\"spec\":{"
        "\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}],"
        "\"ports\":[{\"port\":80}]}]}}",
        "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
        "\"metadata\":{\"namespace\":\"x\",\"name\":\"p2\"},\"spec\":{"
        "\"podSelector\":{},\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
        "\"10.0.0.0/8\"}}]}]}}",
        "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
        "\"metadata\":{\"namespace\":\"x\",\"name\":\"p3\"},\"spec\":{"
        "\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":81}]}]}}",
    };
    char *texts[2];
    for (int round = 0; round < 2; round++) {
        teardown();
        setup();
        add_pod("x", "a", NULL, "10.0.0.1,fd00::1", NULL);
        add_pod("x", "b", NULL, "10.0.0.2,fd00::2", NULL);
        add_local_port(1, "x", "a");
        add_local_port(2, "x", "b");
        for (int i = 0; i < 3; i++) {
            load(policies[round ? 2 - i : i]);
        }
        compile();
        texts[round] = flows_text();
    }
    ck_assert_str_eq(texts[0], texts[1]);
    free(texts[0]);
    free(texts[1]);
}
END_TEST

/* Adding an unrelated policy does not renumber the existing rules. */
START_TEST(test_conj_ids_stable)
{
    add_pod("x", "a", NULL, "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"web\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":"
         "[{\"port\":80}]}]}}");
    compile();
    uint32_t before = conj_ids_alloc(&ids, "x", "web", NP_INGRESS, 0, "");

    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"aaa\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":"
         "[{\"port\":81}]}]}}");
    compile();
    ck_assert_uint_eq(conj_ids_alloc(&ids, "x", "web", NP_INGRESS, 0, ""),
                      before);

    /* And a fresh allocator (an agent restart) agrees. */
    struct conj_ids fresh;
    conj_ids_init(&fresh);
    struct flow_set other;
    flow_set_init(&other);
    compile_full(&cluster, &config, &fresh, &other, &problems, NULL);
    if (!flow_set_equal(&flows, &other)) {
        struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
        flow_set_format(&flows, &a);
        flow_set_format(&other, &b);
        fprintf(stderr, "%s\n----\n%s", ds_cstr(&a), ds_cstr(&b));
        ck_abort_msg("a fresh allocator gives other flows");
    }
    flow_set_destroy(&other);
    conj_ids_destroy(&fresh);
}
END_TEST

/* Thousands of rules sharing one match are spread over priority bands so
 * that no flow_mod exceeds OpenFlow's 64 KiB, and they still all work. */
START_TEST(test_message_size_limit)
{
    add_pod("x", "a", "{\"app\":\"db\"}", "10.0.0.1", NULL);
    add_local_port(1, "x", "a");
    add_local_port(9, NULL, NULL);
    int n = 2 * NP_MAX_CONJS_PER_FLOW + 100;
    for (int i = 0; i < n; i++) {
        loadf("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
              "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
              "\"p%d\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":"
              "\"db\"}},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
              "\"11.%d.%d.0/24\"}}],\"ports\":[{\"port\":%d}]}]}}",
              i, i / 256, i % 256, 1000 + i % 7);
    }
    compile();
    ck_assert_int_eq(stats.n_conjunctions, n);
    ck_assert_int_eq(stats.n_bands, 3);

    const struct np_flow *flow;
    HMAP_FOR_EACH (flow, node, &flows.flows) {
        struct ofputil_flow_mod fm;
        memset(&fm, 0, sizeof fm);
        fm.match = flow->match;
        fm.priority = flow->priority;
        fm.table_id = flow->table_id;
        fm.command = OFPFC_ADD;
        fm.new_cookie = htobe64(flow->cookie);
        fm.buffer_id = UINT32_MAX;
        fm.out_port = OFPP_ANY;
        fm.out_group = OFPG_ANY;
        fm.ofpacts = flow->ofpacts;
        fm.ofpacts_len = flow->ofpacts_len;
        struct ofpbuf *msg = ofputil_encode_flow_mod(&fm,
                                                     OFPUTIL_P_OF15_OXM);
        /* Room for the 16-byte bundle-add header around it. */
        ck_assert_uint_lt(msg->size + 16, 65536);
        ofpbuf_delete(msg);
    }
    /* The last rule, in the last band, still allows its peer. */
    int last = n - 1;
    char src[32];
    snprintf(src, sizeof src, "11.%d.%d.9", last / 256, last % 256);
    ck_assert_int_eq(sim(9, src, "10.0.0.1", NP_TCP, 1000 + last % 7),
                     SIM_ALLOW);
    ck_assert_int_eq(sim(9, src, "10.0.0.1", NP_TCP, 999), SIM_DROP);
}
END_TEST

/* Every flow we build is the flow the switch will report back: it survives
 * an OpenFlow 1.5 encode and decode unchanged (same identity, same
 * content).  Otherwise an agent restart would rewrite flows that are
 * already right. */
START_TEST(test_flows_round_trip)
{
    add_pod("x", "a", "{\"app\":\"db\"}", "10.0.0.1,fd00::1",
            "[{\"name\":\"http\",\"containerPort\":80}]");
    add_pod("x", "b", NULL, "10.0.0.2,fd00::2", NULL);
    add_pod("y", "c", NULL, "10.0.1.3,fd00::1:3", NULL);
    add_local_port(1, "x", "a");
    add_local_port(2, "x", "b");
    add_local_port(9, NULL, NULL);
    add_local_port(LOCAL_PORT_HOST, NULL, NULL);
    struct local_port *port = local_port_create(3, "nomac");
    port->pod_namespace = np_xstrdup("y");
    port->pod_name = np_xstrdup("c");
    cluster_set_port(&cluster, port);
    port = local_port_clone(cluster_find_port(&cluster, 1));
    port->has_mac = true;
    memcpy(port->mac, "\x02\x00\x00\x00\x00\x01", 6);
    cluster_set_port(&cluster, port);
    port = local_port_create(4, "noip");        /* Isolated by MAC. */
    port->pod_namespace = np_xstrdup("x");
    port->pod_name = np_xstrdup("ghost");
    port->has_mac = true;
    memcpy(port->mac, "\x02\x00\x00\x00\x00\x04", 6);
    cluster_set_port(&cluster, port);
    load("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
         "\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
         "\"p\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{"
         "\"namespaceSelector\":{}},{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\","
         "\"except\":[\"10.1.0.0/16\"]}}],\"ports\":[{\"port\":\"http\"},"
         "{\"port\":1000,\"endPort\":1010},{\"protocol\":\"SCTP\"}]},{}],"
         "\"egress\":[{\"to\":[{\"podSelector\":{}}]}]}}");
    compile();

    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 0);
    const struct np_flow *flow;
    size_t n = 0;
    HMAP_FOR_EACH (flow, node, &flows.flows) {
        struct ofputil_flow_mod fm, back;
        memset(&fm, 0, sizeof fm);
        fm.match = flow->match;
        fm.priority = flow->priority;
        fm.table_id = flow->table_id;
        fm.command = OFPFC_ADD;
        fm.new_cookie = htobe64(flow->cookie);
        fm.buffer_id = UINT32_MAX;
        fm.out_port = OFPP_ANY;
        fm.out_group = OFPG_ANY;
        fm.ofpacts = flow->ofpacts;
        fm.ofpacts_len = flow->ofpacts_len;
        struct ofpbuf *msg = ofputil_encode_flow_mod(&fm,
                                                     OFPUTIL_P_OF15_OXM);
        ofpbuf_clear(&ofpacts);
        ck_assert_int_eq(ofputil_decode_flow_mod(&back, msg->data,
                                                 OFPUTIL_P_OF15_OXM, NULL,
                                                 NULL, &ofpacts, OFPP_MAX,
                                                 255), 0);
        struct np_flow *copy = np_flow_create_nocopy(
            back.table_id, back.priority, &back.match,
            be64toh(back.new_cookie),
            np_xmemdup(back.ofpacts, back.ofpacts_len), back.ofpacts_len);
        struct ds s = DS_EMPTY_INITIALIZER;
        np_flow_format(flow, &s);
        ck_assert_msg(np_flow_same_identity(flow, copy), "identity: %s",
                      ds_cstr(&s));
        ck_assert_msg(np_flow_same_content(flow, copy), "content: %s",
                      ds_cstr(&s));
        ds_destroy(&s);
        np_flow_destroy(copy);
        ofpbuf_delete(msg);
        n++;
    }
    ofpbuf_uninit(&ofpacts);
    ck_assert_uint_gt(n, 50);
}
END_TEST

/* Random clusters: flows and model agree. */

static void
random_cluster(int n_pods, int n_local, int n_policies)
{
    for (int ns = 0; ns < 3; ns++) {
        char name[8];
        snprintf(name, sizeof name, "ns%d", ns);
        char *json = rc_namespace_json(name);
        rc_load(&cluster, json);
        free(json);
    }
    for (int i = 0; i < n_pods; i++) {
        char ns[8], name[8];
        snprintf(ns, sizeof ns, "ns%d", rc_range(3));
        snprintf(name, sizeof name, "p%d", i);
        char *json = rc_pod_json(ns, name, i);
        rc_load(&cluster, json);
        free(json);
        if (i < n_local) {
            add_local_port(i + 1, ns, name);
        }
    }
    for (int i = 0; i < n_policies; i++) {
        char ns[8], name[8];
        snprintf(ns, sizeof ns, "ns%d", rc_range(3));
        snprintf(name, sizeof name, "np%d", i);
        char *json = rc_policy_json(ns, name);
        rc_load(&cluster, json);
        free(json);
    }
}

/* The node's verdict for a packet, from the model: the source's egress if
 * the source is local, the destination's ingress if it is local. */
static bool
model_verdict(const struct np_pod *src, const struct np_pod *dst, int family,
              bool src_local, bool dst_local, uint8_t proto, uint16_t port)
{
    struct explain_endpoint s = { .pod = src }, d = { .pod = dst };
    for (size_t i = 0; i < src->n_ips; i++) {
        if (src->ips[i].family == family) {
            s.address = src->ips[i];
        }
    }
    for (size_t i = 0; i < dst->n_ips; i++) {
        if (dst->ips[i].family == family) {
            d.address = dst->ips[i];
        }
    }
    struct explain_result r;
    explain(&cluster, &s, &d, proto, port, &r);
    bool allowed = ((!src_local || r.dirs[NP_EGRESS].allowed)
                    && (!dst_local || r.dirs[NP_INGRESS].allowed));
    explain_result_destroy(&r);
    return allowed;
}

static size_t n_checked, n_allowed;

/* Prints the model's account of a cell the flows disagree with. */
static void
explain_mismatch(const struct np_pod *src, const struct np_pod *dst,
                 int family, uint8_t proto, uint16_t port)
{
    struct explain_endpoint s = { .pod = src }, d = { .pod = dst };
    for (size_t i = 0; i < src->n_ips; i++) {
        if (src->ips[i].family == family) {
            s.address = src->ips[i];
        }
    }
    for (size_t i = 0; i < dst->n_ips; i++) {
        if (dst->ips[i].family == family) {
            d.address = dst->ips[i];
        }
    }
    struct explain_result r;
    struct ds text = DS_EMPTY_INITIALIZER;
    explain(&cluster, &s, &d, proto, port, &r);
    explain_result_format(&r, &s, &d, proto, port, &ids, &text);
    fprintf(stderr, "%s", ds_cstr(&text));
    for (size_t i = 0; i < dst->n_ports; i++) {
        fprintf(stderr, "  %s/%s port %s %u/%s%s\n", dst->namespace,
                dst->name, dst->ports[i].name ? dst->ports[i].name : "-",
                dst->ports[i].port, np_protocol_name(dst->ports[i].protocol),
                dst->terminated ? " (terminated)" : "");
    }
    ds_destroy(&text);
    explain_result_destroy(&r);
}

static void
check_random_cluster(int round)
{
    enum { N_PODS = 9, N_LOCAL = 5, UPLINK = 100 };
    random_cluster(N_PODS, N_LOCAL, 5);
    add_local_port(UPLINK, NULL, NULL);
    compile();

    static const uint8_t protos[] = { NP_TCP, NP_UDP, NP_SCTP };
    static const uint16_t ports[] = { 80, 81 };
    static const int families[] = { AF_INET, AF_INET6 };
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster.ports) {
        const struct np_pod *src = port->pod_name
            ? cluster_find_pod(&cluster, port->pod_namespace, port->pod_name)
            : NULL;
        const struct np_pod *dst;
        HMAP_FOR_EACH (dst, node, &cluster.pods) {
            const struct local_port *dport = cluster_find_pod_port(
                &cluster, dst->namespace, dst->name);
            for (int p = 0; p < 3; p++) {
                for (int q = 0; q < 2; q++) {
                    for (int f = 0; f < 2; f++) {
                        /* From the uplink: pretend to be remote pod p8. */
                        const struct np_pod *from = src ? src
                            : cluster_find_pod(&cluster, "ns0", "p8")
                              ? cluster_find_pod(&cluster, "ns0", "p8")
                            : cluster_find_pod(&cluster, "ns1", "p8")
                              ? cluster_find_pod(&cluster, "ns1", "p8")
                            : cluster_find_pod(&cluster, "ns2", "p8");
                        if (from == dst || (!src && !dport)) {
                            continue;
                        }
                        bool expected = model_verdict(
                            from, dst, families[f], src != NULL,
                            dport != NULL, protos[p], ports[q]);

                        struct flow_sim_packet pkt;
                        memset(&pkt, 0, sizeof pkt);
                        pkt.in_port = port->ofport;
                        for (size_t i = 0; i < from->n_ips; i++) {
                            if (from->ips[i].family == families[f]) {
                                pkt.src = from->ips[i];
                            }
                        }
                        for (size_t i = 0; i < dst->n_ips; i++) {
                            if (dst->ips[i].family == families[f]) {
                                pkt.dst = dst->ips[i];
                            }
                        }
                        pkt.protocol = protos[p];
                        pkt.dst_port = ports[q];
                        enum flow_sim_verdict v = flow_sim_run(
                            &flows, &config, &pkt, NULL, NULL);
                        ck_assert_int_ne(v, SIM_ERROR);
                        n_checked++;
                        n_allowed += v == SIM_ALLOW;
                        if ((v == SIM_ALLOW) != expected) {
                            if (getenv("NP_TEST_VERBOSE")) {
                                char *text = flows_text();
                                fprintf(stderr, "%s", text);
                                free(text);
                            }
                            explain_mismatch(from, dst, families[f],
                                             protos[p], ports[q]);
                            ck_abort_msg("round %d: %s/%s -> %s/%s "
                                         "%s %u/%d: flows say %s, model %s",
                                         round, from->namespace, from->name,
                                         dst->namespace, dst->name,
                                         families[f] == AF_INET ? "v4"
                                                                : "v6",
                                         ports[q], protos[p],
                                         v == SIM_ALLOW ? "allow" : "drop",
                                         expected ? "allow" : "drop");
                        }
                    }
                }
            }
        }
    }
}

START_TEST(test_random_vs_explain)
{
    const char *env_seed = getenv("NP_TEST_SEED");
    const char *env_rounds = getenv("NP_TEST_ROUNDS");
    uint32_t base = env_seed ? strtoul(env_seed, NULL, 10) : 20261126;
    int rounds = env_rounds ? atoi(env_rounds) : 40;

    printf("random_vs_explain: seed %"PRIu32", %d rounds\n", base, rounds);
    for (int i = 0; i < rounds; i++) {
        teardown();
        setup();
        rc_seed(base + i * 7919);
        check_random_cluster(i);
    }
    printf("random_vs_explain: %zu packets checked, %zu allowed, %zu "
           "dropped\n", n_checked, n_allowed, n_checked - n_allowed);
    /* A generator that only ever allows (or denies) tests nothing. */
    ck_assert_uint_gt(n_allowed, n_checked / 10);
    ck_assert_uint_gt(n_checked - n_allowed, n_checked / 10);
}
END_TEST

static Suite *
compiler_suite(void)
{
    Suite *s = suite_create("compiler");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_no_policy_allows_everything);
    tcase_add_test(tc, test_default_deny_isolates);
    tcase_add_test(tc, test_empty_peers_allow_nothing);
    tcase_add_test(tc, test_absent_peers_and_ports_allow_all);
    tcase_add_test(tc, test_sum_not_product);
    tcase_add_test(tc, test_named_ports_per_pod);
    tcase_add_test(tc, test_egress_named_port_resolves_on_peer);
    tcase_add_test(tc, test_except_is_cidr_difference);
    tcase_add_test(tc, test_end_port_masks);
    tcase_add_test(tc, test_unknown_pod_is_isolated);
    tcase_add_test(tc, test_spoofed_source_is_dropped);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_conj_ids_stable);
    tcase_add_test(tc, test_message_size_limit);
    tcase_add_test(tc, test_flows_round_trip);
    tcase_add_test(tc, test_random_vs_explain);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(compiler_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
