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

/* test-annotate.c: unit tests for flows/annotate.c (check suite
 * "annotate") and flows/verify-plan.c (suite "verify_plan").
 *
 * The dump parser is fed lines as ovs-ofctl prints them in every shape we
 * know (OpenFlow 1.0 and 1.5, --names with quoted names, --no-stats, table
 * names, headers), and ofproto/trace's flow lines.  The annotation is
 * checked phrase by phrase for every role, and as a whole on a compiled
 * cluster: every flow of the flow set, printed, parsed back and annotated,
 * gets a role, and every conjunction and conj_id in it names its policy.
 * The verify plan is checked on a small cluster whose every sample is
 * predictable. */

#include <config.h>
#include "ovs-netpol/annotate.h"

#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"
#include "ovs-netpol/verify-plan.h"

static struct annotate_names names;
static struct annotate_flow flow;

static void
setup(void)
{
    struct np_config config;
    np_config_init(&config);
    config.first_table = 10;
    annotate_names_init(&names, &config);
    annotate_names_add_port(&names, 12, "veth-b", "x/b");
    annotate_names_add_port(&names, 20, "eth1", NULL);
    annotate_names_add_port(&names, LOCAL_PORT_HOST, "br-int", NULL);
    annotate_names_add_rule(&names, 0x7cb231f8, "x", "web", NP_INGRESS, 0,
                            "TCP:8080");
    annotate_names_add_rule(&names, 27007364, "x", "web", NP_INGRESS, 1, "");
    annotate_names_add_rule(&names, 5, "z", "out", NP_EGRESS, 2, NULL);
    annotate_flow_init(&flow);
}

static void
teardown(void)
{
    annotate_flow_destroy(&flow);
    annotate_names_destroy(&names);
}

/* Parses dump line 'line' (which must be a flow) and returns its
 * annotation (the caller frees it). */
static char *
annotate(const char *line)
{
    ck_assert_msg(annotate_flow_parse_dump(&flow, line), "%s", line);
    struct ds s = DS_EMPTY_INITIALIZER;
    annotate_flow_format(&flow, &names, "# ", &s);
    return ds_steal_cstr(&s);
}

/* Asserts that the annotation of 'line' contains each of the
 * null-terminated list of substrings. */
static void
check_annotation(const char *line, ...)
{
    char *text = annotate(line);
    va_list args;
    va_start(args, line);
    for (const char *sub; (sub = va_arg(args, const char *)); ) {
        ck_assert_msg(strstr(text, sub), "annotation of\n  %s\nis\n%s"
                      "which lacks \"%s\"", line, text, sub);
    }
    va_end(args);
    free(text);
}

/* --- Parsing ----------------------------------------------------------- */

START_TEST(test_parse_of10)
{
    ck_assert(annotate_flow_parse_dump(
        &flow, " cookie=0x4e5003000000000c, duration=2.289s, table=13, "
        "n_packets=0, n_bytes=0, idle_age=2, priority=100,ip,"
        "nw_dst=10.2.0.2 actions=drop"));
    ck_assert_uint_eq(flow.cookie, 0x4e5003000000000cULL);
    ck_assert_int_eq(flow.table_id, 13);
    ck_assert_int_eq(flow.priority, 100);
    ck_assert(!flow.has_conj_id);
    ck_assert_uint_eq(flow.n_conjs, 0);
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_DROP);
}
END_TEST

START_TEST(test_parse_no_stats)
{
    /* --no-stats leaves out table 0 and the default priority. */
    ck_assert(annotate_flow_parse_dump(
        &flow, " cookie=0x4e50010000000000, actions=drop"));
    ck_assert_int_eq(flow.table_id, 0);
    ck_assert_int_eq(flow.priority, 32768);
    ck_assert(annotate_flow_parse_dump(&flow, "priority=0 actions=drop"));
    ck_assert_uint_eq(flow.cookie, 0);
    ck_assert_int_eq(flow.priority, 0);
}
END_TEST

START_TEST(test_parse_names)
{
    /* OpenFlow 1.3 with --names: quoted port names may hold anything,
     * flags come without a value, a table may have a name. */
    ck_assert(annotate_flow_parse_dump(
        &flow, " cookie=0x4e5002000000000b, duration=1.5s, table=classify, "
        "n_packets=3, n_bytes=180, reset_counts priority=100,"
        "in_port=\"a b, actions=x\" actions=drop"));
    ck_assert_uint_eq(flow.cookie, 0x4e5002000000000bULL);
    ck_assert_int_eq(flow.table_id, -1);
    ck_assert_int_eq(flow.priority, 100);
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_DROP);
}
END_TEST

START_TEST(test_parse_conjunctions)
{
    ck_assert(annotate_flow_parse_dump(
        &flow, " cookie=0x4e50040000000000, table=13, priority=1000,ip,"
        "nw_src=10.3.0.9 actions=conjunction(27007364,2/3),"
        "conjunction(4294967295,3/3)"));
    ck_assert_uint_eq(flow.n_conjs, 2);
    ck_assert_uint_eq(flow.conjs[0].id, 27007364);
    ck_assert_uint_eq(flow.conjs[0].clause, 2);
    ck_assert_uint_eq(flow.conjs[0].n_clauses, 3);
    ck_assert_uint_eq(flow.conjs[1].id, UINT32_MAX);
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_OTHER);

    /* Parsing again forgets the previous flow's conjunctions. */
    ck_assert(annotate_flow_parse_dump(
        &flow, " cookie=0x4e5005007cb231f8, table=13, priority=3000,"
        "conj_id=2092052984 actions=set_field:0x7cb231f8->reg9,"
        "goto_table:14"));
    ck_assert_uint_eq(flow.n_conjs, 0);
    ck_assert(flow.has_conj_id);
    ck_assert_uint_eq(flow.conj_id, 2092052984);
}
END_TEST

START_TEST(test_parse_actions)
{
    annotate_flow_parse_actions(&flow, "ct(table=11,zone=1)");
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_CT);
    annotate_flow_parse_actions(&flow,
                                "controller(max_len=128,meter_id=20048)");
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_CONTROLLER);
    annotate_flow_parse_actions(&flow, "controller(max_len=128,meter_id=7),"
                                "set_field:0x5->reg9,goto_table:14");
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_OTHER);
    ck_assert(flow.logs);
    annotate_flow_parse_actions(&flow, "NORMAL");
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_OTHER);
    ck_assert(!flow.logs);
    annotate_flow_parse_actions(&flow, "");
    ck_assert_int_eq(flow.action, ANNOTATE_ACTION_DROP);
}
END_TEST

START_TEST(test_parse_not_flows)
{
    ck_assert(!annotate_flow_parse_dump(&flow, "NXST_FLOW reply (xid=0x4):"));
    ck_assert(!annotate_flow_parse_dump(
        &flow, "OFPST_FLOW reply (OF1.5) (xid=0x2):"));
    ck_assert(!annotate_flow_parse_dump(&flow, ""));
    ck_assert(!annotate_flow_parse_dump(&flow, "# a comment"));
}
END_TEST

START_TEST(test_parse_trace)
{
    ck_assert(annotate_flow_parse_trace(
        &flow, " 13. ip,nw_dst=10.2.0.2, priority 100, "
        "cookie 0x4e5003000000000c"));
    ck_assert_int_eq(flow.table_id, 13);
    ck_assert_int_eq(flow.priority, 100);
    ck_assert_uint_eq(flow.cookie, 0x4e5003000000000cULL);

    ck_assert(annotate_flow_parse_trace(
        &flow, " 11. priority 0, cookie 0x4e50010000000000"));
    ck_assert_int_eq(flow.table_id, 11);
    ck_assert_int_eq(flow.priority, 0);

    ck_assert(annotate_flow_parse_trace(
        &flow, " 13. conj_id=2092052984, priority 3000, "
        "cookie 0x4e5005007cb231f8"));
    ck_assert(flow.has_conj_id);
    ck_assert_uint_eq(flow.conj_id, 2092052984);

    /* A CNI's flow without a cookie, nested under a resubmit. */
    ck_assert(annotate_flow_parse_trace(
        &flow, "        20. dl_dst=02:00:00:00:00:01, priority 100"));
    ck_assert_uint_eq(flow.cookie, 0);
    ck_assert_int_eq(flow.table_id, 20);

    ck_assert(!annotate_flow_parse_trace(&flow, " 13. No match."));
    ck_assert(!annotate_flow_parse_trace(&flow, "    drop"));
    ck_assert(!annotate_flow_parse_trace(&flow, "Flow: tcp,in_port=1"));
    ck_assert(!annotate_flow_parse_trace(
        &flow, "Datapath actions: ct(zone=1),recirc(0x2)"));
}
END_TEST

/* --- Annotation -------------------------------------------------------- */

START_TEST(test_not_ours)
{
    char *text = annotate(" cookie=0x1234, table=0, priority=10,ip "
                          "actions=goto_table:10");
    ck_assert_str_eq(text, "");
    free(text);
    /* A neighbour of our prefix is not ours either. */
    text = annotate(" cookie=0x4e51000000000020, table=20, priority=50 "
                    "actions=FLOOD");
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert(!annotate_flow_role(&flow, &names));
}
END_TEST

START_TEST(test_pipeline)
{
    check_annotation(" cookie=0x4e50010000000000, table=10, priority=0 "
                     "actions=drop", "# pipeline: ",
                     "does not know: drop (fail closed)", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=11, priority=200,"
                     "ct_state=+inv+trk actions=drop", "# conntrack: ",
                     "invalid: drop", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=11, priority=190,"
                     "ct_state=-new+est+trk actions=NORMAL",
                     "# conntrack: established or related", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=11, priority=180,"
                     "ct_state=+new+trk,in_port=LOCAL actions=goto_table:14",
                     "new from the host: allowed", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=11, priority=0 "
                     "actions=set_field:0->reg8,set_field:0->reg9,"
                     "goto_table:12", "new: to the egress and ingress",
                     NULL);
    /* The drops of what NetworkPolicy cannot express, by cookie ID. */
    check_annotation(" cookie=0x4e50010000000001, table=11, priority=185,"
                     "ct_state=+new+trk,dl_dst=01:00:00:00:00:00/"
                     "01:00:00:00:00:00 actions=drop",
                     "# conntrack: new to a broadcast or multicast address: "
                     "drop, even from the host", NULL);
    check_annotation(" cookie=0x4e50010000000001, table=11, priority=185,"
                     "ct_state=+new+trk,ip,nw_dst=224.0.0.0/4 actions=drop",
                     "# conntrack: new to a broadcast or multicast address: "
                     "drop", NULL);
    check_annotation(" cookie=0x4e50010000000002, table=11, priority=185,"
                     "ct_state=+new+trk,ipv6,ipv6_src=fe80::/10 "
                     "actions=drop", "# conntrack: new IPv6 to or from a "
                     "link-local address: drop, even from the host", NULL);
    /* An ID this agent does not know still gets its table and priority. */
    check_annotation(" cookie=0x4e50010000000007, table=11, priority=185,"
                     "ct_state=+new+trk actions=drop",
                     "# conntrack: ct_state table, priority 185", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=12, priority=0 "
                     "actions=goto_table:13", "# pipeline [egress]: no "
                     "egress rule matched", NULL);
    check_annotation(" cookie=0x4e50010000000000, table=14, priority=0,ip "
                     "actions=ct(commit,zone=1),NORMAL", "# pipeline: commit",
                     NULL);
    /* Outside the tables of --first-table. */
    check_annotation(" cookie=0x4e50010000000000, table=3, priority=0 "
                     "actions=drop", "not one of the pipeline's tables 10-14",
                     NULL);
}
END_TEST

START_TEST(test_ports)
{
    check_annotation(" cookie=0x4e5002000000000c, table=10, priority=200,"
                     "ip,in_port=12,nw_src=10.2.0.2 actions=ct(table=11,"
                     "zone=1)", "# spoof guard: own traffic of x/b (port 12)",
                     "to conntrack", NULL);
    check_annotation(" cookie=0x4e5002000000000c, table=10, priority=210,"
                     "icmp6,in_port=12,icmp_type=135 actions=NORMAL",
                     "# spoof guard: own traffic of x/b (port 12): "
                     "neighbour discovery about itself, allowed", NULL);
    check_annotation(" cookie=0x4e5002000000000c, table=10, priority=200,"
                     "arp,in_port=12,vlan_tci=0x0000/0x1fff,"
                     "dl_src=02:00:00:00:00:0c,arp_spa=10.2.0.2,"
                     "arp_sha=02:00:00:00:00:0c actions=NORMAL",
                     "# spoof guard: own traffic of x/b (port 12): ARP "
                     "about itself, allowed", NULL);
    /* Neighbour discovery that the flows above do not allow is dropped,
     * and must not read as allowed. */
    char *text = annotate(" cookie=0x4e5002000000000c, table=10, "
                          "priority=205,icmp6,in_port=12,icmp_type=136 "
                          "actions=drop");
    ck_assert_str_eq(text, "# spoof guard: other neighbour discovery from "
                     "x/b (port 12): drop (about another address, from "
                     "another source, router advertisements, "
                     "redirects)\n");
    free(text);
    check_annotation(" cookie=0x4e5002000000000c, table=10, priority=100,"
                     "in_port=12 actions=drop", "# spoof guard: anything "
                     "else from x/b (port 12): drop", NULL);
    check_annotation(" cookie=0x4e5002000000fffe, table=10, priority=50,ip,"
                     "in_port=LOCAL actions=ct(table=11,zone=1)",
                     "# classify: from the host (LOCAL): IP, to conntrack",
                     NULL);
    check_annotation(" cookie=0x4e50020000000014, table=10, priority=40,"
                     "in_port=20 actions=NORMAL", "# classify: from uplink "
                     "port 20 (eth1): allowed", NULL);
    check_annotation(" cookie=0x4e50020000000007, table=10, priority=40,"
                     "in_port=7 actions=NORMAL",
                     "port 7 (not a port the agent knows)", NULL);

    /* A pod's flows in the ct_state table, about frames to its MAC. */
    check_annotation(" cookie=0x4e5002000000000c, table=11, priority=175,"
                     "ct_state=+new+trk,ip,dl_dst=02:00:00:00:00:0c,"
                     "nw_dst=10.2.0.2 actions=set_field:0->reg8,"
                     "set_field:0->reg9,goto_table:12",
                     "# conntrack: new to the MAC of x/b (port 12) and one "
                     "of its addresses: to the egress and ingress rules",
                     NULL);
    text = annotate(" cookie=0x4e5002000000000c, table=11, priority=170,"
                    "ct_state=+new+trk,ip,dl_dst=02:00:00:00:00:0c "
                    "actions=drop");
    ck_assert_str_eq(text, "# conntrack: new to the MAC of x/b (port 12) "
                     "but not to one of its addresses (a subnet broadcast, "
                     "another address): drop\n");
    free(text);
    ck_assert_str_eq(annotate_flow_role(&flow, &names), "conntrack");
}
END_TEST

START_TEST(test_isolation)
{
    check_annotation(" cookie=0x4e5003000000000c, table=13, priority=100,"
                     "ip,nw_dst=10.2.0.2 actions=drop",
                     "# isolation drop [ingress]: x/b (port 12) is isolated "
                     "for ingress and no ingress rule allowed the packet: "
                     "drop", NULL);
    check_annotation(" cookie=0x4e5003000000000c, table=12, priority=100,"
                     "in_port=12 actions=controller(max_len=128,"
                     "meter_id=20048)", "# isolation drop [egress]: ",
                     "for egress", "to the audit log, not forwarded", NULL);
}
END_TEST

START_TEST(test_clauses_and_rules)
{
    char *text = annotate(
        " cookie=0x4e50040000000000, table=13, priority=1000,ip,"
        "nw_dst=10.2.0.2 actions=conjunction(27007364,1/3),"
        "conjunction(2092052984,1/2),conjunction(99,1/2)");
    ck_assert_str_eq(
        text,
        "# clause [ingress]: a clause of 3 conjunctions\n"
        "#   conjunction(27007364,1/3): x/web ingress rule 1 "
        "(conj 0x19c1984)\n"
        "#   conjunction(2092052984,1/2): x/web ingress rule 0 [TCP:8080] "
        "(conj 0x7cb231f8)\n"
        "#   conjunction(99,1/2): conj 0x63 (not a rule the agent knows: "
        "stale?)\n");
    free(text);

    text = annotate(" cookie=0x4e5005007cb231f8, table=13, priority=3000,"
                    "conj_id=2092052984 actions=set_field:0x7cb231f8->reg9,"
                    "goto_table:14");
    ck_assert_str_eq(text, "# allow rule [ingress]: x/web ingress rule 0 "
                     "[TCP:8080] (conj 0x7cb231f8): conj_id=2092052984 "
                     "complete, allowed\n");
    free(text);

    /* A rule of one dimension allows without a conjunction; this one
     * also logs. */
    check_annotation(" cookie=0x4e50050000000005, table=12, priority=2000,"
                     "in_port=3 actions=controller(max_len=128,meter_id=1),"
                     "set_field:0x5->reg8,goto_table:13",
                     "# allow rule [egress]: z/out egress rule 2 (conj 0x5): "
                     "allowed (a rule of one dimension", "and logged", NULL);

    /* A conj_id that is not the cookie's rule is pointed out. */
    check_annotation(" cookie=0x4e50050000000005, table=12, priority=3000,"
                     "conj_id=27007364 actions=goto_table:13",
                     "BUT conj_id is x/web ingress rule 1", NULL);

    check_annotation(" cookie=0x4e5006007cb231f8, table=11, priority=196,"
                     "ct_state=-new+est+trk,ct_label=0x7cb231f800000000/"
                     "0xffffffff00000000 actions=NORMAL",
                     "# stats: established packets of x/web ingress rule 0 "
                     "[TCP:8080]", NULL);
    check_annotation(" cookie=0x4e50090000000000, table=11, priority=1 "
                     "actions=drop", "unknown role 9", NULL);
}
END_TEST

/* --- A compiled cluster ------------------------------------------------ */

static void
load_object(struct np_object *obj, void *cluster_)
{
    cluster_set_object(cluster_, obj);
    free(obj);
}

static const char manifests[] =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {t: x}}\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata: {name: a, namespace: x, labels: {app: a}}\n"
    "spec: {nodeName: n1, containers: [{name: c, image: i}]}\n"
    "status: {podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata: {name: b, namespace: x, labels: {app: b}}\n"
    "spec: {nodeName: n1, containers: [{name: c, image: i, ports: "
    "[{name: http, containerPort: 8080}]}]}\n"
    "status: {podIPs: [{ip: 10.0.0.2}]}\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata: {name: r, namespace: x, labels: {app: a}}\n"
    "spec: {nodeName: n2, containers: [{name: c, image: i, ports: "
    "[{name: http, containerPort: 8081}]}]}\n"
    "status: {podIPs: [{ip: 10.1.0.9}]}\n"
    "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
    "metadata: {name: web, namespace: x}\n"
    "spec:\n"
    "  podSelector: {matchLabels: {app: b}}\n"
    "  ingress:\n"
    "  - from: [{podSelector: {matchLabels: {app: a}}}]\n"
    "    ports: [{port: http}, {protocol: UDP, port: 53, endPort: 55}]\n"
    "  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: "
    "[192.168.1.0/24]}}]\n"
    "  - {}\n"
    "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
    "metadata: {name: out, namespace: x}\n"
    "spec:\n"
    "  podSelector: {matchLabels: {app: a}}\n"
    "  policyTypes: [Egress]\n"
    "  egress:\n"
    "  - to: [{podSelector: {matchLabels: {app: b}}}]\n"
    "    ports: [{port: http}, {protocol: SCTP}]\n";

static struct cluster cluster;

static void
load_cluster(bool uplink)
{
    struct np_problems problems;
    np_problems_init(&problems);
    cluster_init(&cluster);
    ck_assert(manifest_parse(manifests, strlen(manifests), "test",
                             load_object, &cluster, &problems));
    ck_assert_uint_eq(problems.n, 0);
    np_problems_destroy(&problems);

    static const struct {
        uint32_t ofport;
        const char *pod;
    } ports[] = {
        { 1, "a" }, { 2, "b" }, { LOCAL_PORT_HOST, NULL }, { 9, NULL },
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(ports); i++) {
        if (ports[i].ofport == 9 && !uplink) {
            continue;
        }
        struct local_port *port = local_port_create(ports[i].ofport, "p");
        if (ports[i].pod) {
            port->pod_namespace = np_xstrdup("x");
            port->pod_name = np_xstrdup(ports[i].pod);
            port->has_mac = true;
            memcpy(port->mac, "\x02\x00\x00\x00\x00", 5);
            port->mac[5] = ports[i].ofport;
        }
        cluster_set_port(&cluster, port);
    }
}

START_TEST(test_compiled_flows)
{
    struct conj_ids ids;
    struct flow_set flows;
    struct np_problems problems;
    struct np_config config;

    load_cluster(true);
    np_config_init(&config);
    config.first_table = 20;
    config.audit = true;
    conj_ids_init(&ids);
    flow_set_init(&flows);
    np_problems_init(&problems);
    compile_full(&cluster, &config, &ids, &flows, &problems, NULL);

    struct annotate_names cnames;
    annotate_names_init(&cnames, &config);
    annotate_names_add_cluster(&cnames, &cluster, &ids);

    size_t n_roles[7] = { 0 };
    size_t n_mac_drops = 0, n_nd_drops = 0;
    const struct np_flow **sorted = flow_set_sorted(&flows);
    for (size_t i = 0; i < flow_set_count(&flows); i++) {
        struct ds line = DS_EMPTY_INITIALIZER;
        struct ds text = DS_EMPTY_INITIALIZER;
        np_flow_format(sorted[i], &line);
        ck_assert(annotate_flow_parse_dump(&flow, ds_cstr(&line)));
        ck_assert_uint_eq(flow.cookie, sorted[i]->cookie);
        ck_assert_int_eq(flow.table_id, sorted[i]->table_id);
        ck_assert_int_eq(flow.priority, sorted[i]->priority);

        const char *role = annotate_flow_role(&flow, &cnames);
        ck_assert_msg(role, "no role: %s", ds_cstr(&line));
        n_roles[np_cookie_role(flow.cookie)]++;
        annotate_flow_format(&flow, &cnames, "# ", &text);
        ck_assert_msg(!strncmp(ds_cstr(&text), "# ", 2)
                      && !strncmp(ds_cstr(&text) + 2, role, strlen(role)),
                      "%s\n%s", ds_cstr(&line), ds_cstr(&text));
        ck_assert_msg(!strstr(ds_cstr(&text), "not a rule the agent knows")
                      && !strstr(ds_cstr(&text), "not a port the agent "
                                 "knows")
                      && !strstr(ds_cstr(&text), "unknown role")
                      && !strstr(ds_cstr(&text), "not one of the "
                                 "pipeline's"),
                      "%s\n%s", ds_cstr(&line), ds_cstr(&text));

        /* One line per conjunction, naming its policy. */
        for (size_t j = 0; j < flow.n_conjs; j++) {
            char *want = np_xasprintf("#   conjunction(%"PRIu32",%u/%u): x/",
                                      flow.conjs[j].id, flow.conjs[j].clause,
                                      flow.conjs[j].n_clauses);
            ck_assert_msg(strstr(ds_cstr(&text), want), "%s\n%s",
                          ds_cstr(&line), ds_cstr(&text));
            free(want);
        }
        if (flow.has_conj_id) {
            ck_assert(strstr(ds_cstr(&text), "(conj 0x"));
        }

        /* The drops that guard a pod's MAC and its neighbour discovery
         * say so. */
        if (strstr(ds_cstr(&line), "dl_dst=02:00:00:00:00:0")) {
            ck_assert_msg(strstr(ds_cstr(&text), "# conntrack: new to the "
                                 "MAC of x/"), "%s\n%s", ds_cstr(&line),
                          ds_cstr(&text));
            n_mac_drops += flow.action == ANNOTATE_ACTION_DROP;
        }
        if (flow.priority == NP_PRIO_POD_ND_DROP
            && flow.table_id == config.first_table) {
            ck_assert_msg(strstr(ds_cstr(&text), "# spoof guard: other "
                                 "neighbour discovery from x/a (port 1): "
                                 "drop"), "%s\n%s", ds_cstr(&line),
                          ds_cstr(&text));
            n_nd_drops++;
        }
        ds_destroy(&line);
        ds_destroy(&text);
    }
    free(sorted);
    for (int role = NP_ROLE_PIPELINE; role <= NP_ROLE_STATS; role++) {
        ck_assert_msg(n_roles[role], "no flow of role %d", role);
    }
    /* a and b: IPv4 and IPv6 each; a has IPv6: ICMPv6 types 133-137. */
    ck_assert_uint_eq(n_mac_drops, 4);
    ck_assert_uint_eq(n_nd_drops, 5);

    annotate_names_destroy(&cnames);
    np_problems_destroy(&problems);
    flow_set_destroy(&flows);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
}
END_TEST

/* --- The verify plan --------------------------------------------------- */

static size_t
find_endpoint(const struct verify_plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->n_endpoints; i++) {
        if (!strcmp(plan->endpoints[i].name, name)) {
            return i;
        }
    }
    ck_abort_msg("no endpoint %s", name);
}

static bool
has_port(const struct verify_plan *plan, uint8_t protocol, uint16_t port)
{
    for (size_t i = 0; i < plan->n_ports; i++) {
        if (plan->ports[i].protocol == protocol
            && plan->ports[i].port == port) {
            return true;
        }
    }
    return false;
}

START_TEST(test_plan)
{
    struct verify_plan plan;
    load_cluster(true);
    verify_plan_build(&cluster, 16, 100000, &plan);

    /* Local pods first, then the remote pod the policies select, the
     * widest part of the ipBlock, an address in its except, and the two
     * addresses no policy names. */
    ck_assert_uint_eq(plan.n_local, 2);
    ck_assert_str_eq(plan.endpoints[0].name, "x/a");
    ck_assert_str_eq(plan.endpoints[1].name, "x/b");
    ck_assert_uint_eq(plan.endpoints[0].port->ofport, 1);
    ck_assert(plan.endpoints[0].has_addr[1]);
    ck_assert(!plan.endpoints[1].has_addr[1]);
    size_t r = find_endpoint(&plan, "x/r");
    ck_assert(!plan.endpoints[r].port);
    find_endpoint(&plan, "192.168.128.1");
    find_endpoint(&plan, "192.168.1.1");
    find_endpoint(&plan, "192.0.2.1");
    find_endpoint(&plan, "2001:db8::1");
    ck_assert_uint_eq(plan.n_endpoints, 7);
    ck_assert_uint_eq(plan.uplink, 9);

    /* Named ports resolve on every pod; ranges give both ends; a whole
     * protocol gives one port; one TCP port is named by nobody. */
    ck_assert(has_port(&plan, NP_TCP, 8080));
    ck_assert(has_port(&plan, NP_TCP, 8081));
    ck_assert(has_port(&plan, NP_UDP, 53));
    ck_assert(has_port(&plan, NP_UDP, 55));
    ck_assert(!has_port(&plan, NP_UDP, 54));
    ck_assert(has_port(&plan, NP_SCTP, 9));
    ck_assert(has_port(&plan, NP_TCP, 9));
    ck_assert_uint_eq(plan.n_ports, 6);

    /* a <-> b: IPv4 only (b has no IPv6); every pair and port. */
    size_t n = plan.n_ports;
    size_t want = 2 * n                 /* a -> b, b -> a */
                  + 2 * 4 * n           /* local -> remote IPv4 */
                  + 1 * 1 * n           /* a -> 2001:db8::1 */
                  + (2 * 4 + 1) * n;    /* remote -> local */
    ck_assert_uint_eq(plan.n_checks, want);
    ck_assert_uint_eq(plan.n_no_uplink, 0);
    ck_assert_uint_eq(plan.n_truncated, 0);
    for (size_t i = 0; i < plan.n_checks; i++) {
        const struct verify_check *c = &plan.checks[i];
        int fi = verify_family_index(c->family);
        ck_assert(plan.endpoints[c->src].has_addr[fi]);
        ck_assert(plan.endpoints[c->dst].has_addr[fi]);
        ck_assert(c->src < plan.n_local || c->dst < plan.n_local);
        ck_assert_uint_ne(c->src, c->dst);
    }
    verify_plan_destroy(&plan);

    /* Limits. */
    verify_plan_build(&cluster, 1, 10, &plan);
    ck_assert_uint_eq(plan.n_endpoints, 3);
    ck_assert_uint_eq(plan.n_checks, 10);
    ck_assert_uint_gt(plan.n_truncated, 0);
    verify_plan_destroy(&plan);
    cluster_destroy(&cluster);

    /* Without an uplink, nothing can come from a remote peer. */
    load_cluster(false);
    verify_plan_build(&cluster, 16, 100000, &plan);
    ck_assert_uint_eq(plan.uplink, 0);
    ck_assert_uint_eq(plan.n_checks, want - (2 * 4 + 1) * n);
    ck_assert_uint_eq(plan.n_no_uplink, (2 * 4 + 1) * n);
    verify_plan_destroy(&plan);

    /* An address of a pod is the pod. */
    struct cidr address;
    ck_assert(cidr_parse_address("10.1.0.9", &address));
    const struct np_pod *pod = verify_plan_find_pod(&cluster, &address);
    ck_assert(pod && !strcmp(pod->name, "r"));
    ck_assert(cidr_parse_address("10.1.0.10", &address));
    ck_assert(!verify_plan_find_pod(&cluster, &address));
    cluster_destroy(&cluster);
}
END_TEST

static Suite *
annotate_suite(void)
{
    Suite *s = suite_create("annotate");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parse_of10);
    tcase_add_test(tc, test_parse_no_stats);
    tcase_add_test(tc, test_parse_names);
    tcase_add_test(tc, test_parse_conjunctions);
    tcase_add_test(tc, test_parse_actions);
    tcase_add_test(tc, test_parse_not_flows);
    tcase_add_test(tc, test_parse_trace);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_not_ours);
    tcase_add_test(tc, test_pipeline);
    tcase_add_test(tc, test_ports);
    tcase_add_test(tc, test_isolation);
    tcase_add_test(tc, test_clauses_and_rules);
    tcase_add_test(tc, test_compiled_flows);
    suite_add_tcase(s, tc);

    return s;
}

static Suite *
verify_plan_suite(void)
{
    Suite *s = suite_create("verify_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_plan);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(annotate_suite());
    srunner_add_suite(sr, verify_plan_suite());
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
