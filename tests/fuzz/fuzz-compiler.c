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

/* fuzz-compiler.c: libFuzzer target for the compiler (compiler.h) and the
 * incremental engine (engine.h).
 *
 * The fuzz bytes are read as choices (fuzz-util.h) that build a random but
 * valid cluster: up to 4 namespaces (and pods in one that has no object),
 * 14 pods with labels, IPv4 and IPv6 addresses that sometimes collide,
 * named container ports, terminated and hostNetwork pods; up to 7 policies
 * with every peer shape (selectors, both, ipBlocks of either family with
 * except entries drawn inside their cidr), numeric, named and ranged ports
 * of the three protocols, absent and empty lists; up to 10 node ports, pod
 * ports with and without addresses and MACs, ports of unknown pods, an
 * uplink and the host; and a pipeline configuration.  Objects go through
 * manifest_parse() as JSON, which must accept them all.
 *
 * compile_full() of that cluster must give a flow set where:
 *
 *   - every conjunction is complete: for each conjunction ID in a
 *     conjunction() action, at each (table, priority) where it appears,
 *     clauses 1...n all appear (n the same everywhere), and the table has a
 *     conj_id=ID flow;
 *
 *   - no two flows have the same identity (table, priority, match), and the
 *     conjunction() actions of a flow are sorted by (id, clause), unique;
 *
 *   - every cookie carries the "NP" prefix, and clause flows carry only
 *     conjunction() actions;
 *
 *   - every flow survives an OpenFlow 1.5 flow_mod encode and decode
 *     (libopenvswitch checks the actions against the match there) with the
 *     same identity and content.
 *
 * Then the incremental engine follows a second cluster that reaches the
 * same state through a sequence of events (each object set, sometimes first
 * set to another version or deleted, transient objects added and removed,
 * in an order the bytes choose) and must end with exactly compile_full()'s
 * flow set, and agree with a fresh compile_full() at a few points on the
 * way. */

#include <config.h>

#include <endian.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include <openvswitch/match.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofpbuf.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"
#include "fuzz-util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* Generating objects as JSON. */

#define N_NAMESPACES 4          /* ns0...ns3; pods may also be in ns4. */
#define MAX_PODS 14
#define MAX_POLICIES 7
#define MAX_PORTS 10

static const char *const apps[] = { "web", "db", "cache" };
static const char *const teams[] = { "a", "b" };

static void
gen_selector(struct fuzz_bytes *in, struct ds *s, bool namespace)
{
    const char *key = namespace ? "team" : "app";
    const char *const *vals = namespace ? teams : apps;
    size_t n_vals = namespace ? NP_ARRAY_SIZE(teams) : NP_ARRAY_SIZE(apps);
    int n = fuzz_range(in, 3);

    ds_put_char(s, '{');
    if (n && fuzz_bool(in)) {
        ds_put_format(s, "\"matchLabels\":{\"%s\":\"%s\"}", key,
                      vals[fuzz_range(in, n_vals)]);
        n--;
        if (n) {
            ds_put_char(s, ',');
        }
    }
    if (n) {
        ds_put_cstr(s, "\"matchExpressions\":[");
        for (int i = 0; i < n; i++) {
            static const char *const ops[] = {
                "In", "NotIn", "Exists", "DoesNotExist"
            };
            int op = fuzz_range(in, 4);
            const char *k = (fuzz_range(in, 4) ? key
                             : namespace ? "kubernetes.io/metadata.name"
                             : "tier");
            ds_put_format(s, "%s{\"key\":\"%s\",\"operator\":\"%s\"",
                          i ? "," : "", k, ops[op]);
            if (op < 2) {
                int n_values = 1 + fuzz_range(in, 2);
                ds_put_cstr(s, ",\"values\":[");
                for (int j = 0; j < n_values; j++) {
                    const char *v;
                    if (!strcmp(k, "kubernetes.io/metadata.name")) {
                        static const char *const nss[] = {
                            "ns0", "ns1", "ns2", "ns3", "ns4"
                        };
                        v = FUZZ_PICK(in, nss);
                    } else {
                        v = vals[fuzz_range(in, n_vals)];
                    }
                    ds_put_format(s, "%s\"%s\"", j ? "," : "", v);
                }
                ds_put_char(s, ']');
            }
            ds_put_char(s, '}');
        }
        ds_put_char(s, ']');
    }
    ds_put_char(s, '}');
}

/* A prefix strictly inside 'outer', with random bits. */
static struct cidr
gen_inner_cidr(struct fuzz_bytes *in, const struct cidr *outer)
{
    struct cidr inner = *outer;
    int max = cidr_max_plen(outer);
    inner.plen = outer->plen + 1 + fuzz_range(in, max - outer->plen);
    for (int i = outer->plen; i < inner.plen; i++) {
        if (fuzz_bool(in)) {
            inner.addr[i / 8] |= 0x80 >> (i % 8);
        }
    }
    return inner;
}

static void
gen_ip_block(struct fuzz_bytes *in, struct ds *s)
{
    static const char *const cidrs[] = {
        "10.0.0.0/16", "10.0.0.0/8", "0.0.0.0/0", "10.0.1.0/24",
        "10.0.0.5/32", "10.0.2.0/23", "fd00::/64", "::/0", "fd00::/112",
        "fd00::1:0/120", "fd00::2/128",
    };
    struct cidr cidr;
    char *error = cidr_parse(FUZZ_PICK(in, cidrs), false, &cidr);
    FUZZ_CHECK(!error, "%s", error);

    char *text = cidr_to_string(&cidr);
    ds_put_format(s, "{\"ipBlock\":{\"cidr\":\"%s\"", text);
    free(text);
    int n_except = cidr.plen < cidr_max_plen(&cidr) ? fuzz_range(in, 4) : 0;
    if (n_except) {
        ds_put_cstr(s, ",\"except\":[");
        for (int i = 0; i < n_except; i++) {
            struct cidr except = gen_inner_cidr(in, &cidr);
            text = cidr_to_string(&except);
            ds_put_format(s, "%s\"%s\"", i ? "," : "", text);
            free(text);
        }
        ds_put_char(s, ']');
    }
    ds_put_cstr(s, "}}");
}

static void
gen_peer(struct fuzz_bytes *in, struct ds *s)
{
    int kind = fuzz_range(in, 4);
    if (kind == 3) {
        gen_ip_block(in, s);
        return;
    }
    ds_put_char(s, '{');
    if (kind != 1) {
        ds_put_cstr(s, "\"podSelector\":");
        gen_selector(in, s, false);
    }
    if (kind >= 1) {
        ds_put_format(s, "%s\"namespaceSelector\":", kind == 2 ? "," : "");
        gen_selector(in, s, true);
    }
    ds_put_char(s, '}');
}

static void
gen_port(struct fuzz_bytes *in, struct ds *s)
{
    static const char *const protocols[] = {
        "", ",\"protocol\":\"TCP\"", ",\"protocol\":\"UDP\"",
        ",\"protocol\":\"SCTP\"",
    };
    static const char *const names[] = { "http", "dns", "metrics", "nope" };

    ds_put_format(s, "{\"x\":0%s", FUZZ_PICK(in, protocols));
    switch (fuzz_range(in, 4)) {
    case 0:
        break;                  /* Every port of the protocol. */
    case 1:
        ds_put_format(s, ",\"port\":\"%s\"", FUZZ_PICK(in, names));
        break;
    default: {
        static const int numbers[] = { 80, 81, 53, 443, 1, 65535, 9090 };
        int port = (fuzz_bool(in) ? numbers[fuzz_range(in, 7)]
                    : 1 + (int) fuzz_range(in, 65535));
        ds_put_format(s, ",\"port\":%d", port);
        if (fuzz_bool(in)) {
            int end = port + (fuzz_bool(in) ? fuzz_range(in, 16)
                              : fuzz_range(in, 65536));
            ds_put_format(s, ",\"endPort\":%d", end > 65535 ? 65535 : end);
        }
        break;
    }
    }
    ds_put_char(s, '}');
}

/* "absent", [] or a few of them. */
static bool
gen_list_start(struct fuzz_bytes *in, struct ds *s, const char *name,
               int max, int *n)
{
    int choice = fuzz_range(in, 4);
    if (!choice) {
        return false;
    }
    *n = choice == 1 ? 0 : 1 + fuzz_range(in, max);
    ds_put_format(s, ",\"%s\":[", name);
    return true;
}

static void
gen_rules(struct fuzz_bytes *in, struct ds *s, const char *dir,
          const char *peers_key)
{
    int n_rules;
    if (!gen_list_start(in, s, dir, 3, &n_rules)) {
        return;
    }
    for (int i = 0; i < n_rules; i++) {
        int n;
        ds_put_format(s, "%s{\"x\":0", i ? "," : "");
        if (gen_list_start(in, s, peers_key, 3, &n)) {
            for (int j = 0; j < n; j++) {
                if (j) {
                    ds_put_char(s, ',');
                }
                gen_peer(in, s);
            }
            ds_put_char(s, ']');
        }
        if (gen_list_start(in, s, "ports", 3, &n)) {
            for (int j = 0; j < n; j++) {
                if (j) {
                    ds_put_char(s, ',');
                }
                gen_port(in, s);
            }
            ds_put_char(s, ']');
        }
        ds_put_char(s, '}');
    }
    ds_put_char(s, ']');
}

static char *
gen_policy(struct fuzz_bytes *in, const char *ns, const char *name)
{
    static const char *const types[] = {
        "", ",\"policyTypes\":[\"Ingress\"]",
        ",\"policyTypes\":[\"Egress\"]",
        ",\"policyTypes\":[\"Ingress\",\"Egress\"]",
    };
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "{\"apiVersion\":\"networking.k8s.io/v1\","
                  "\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":"
                  "\"%s\",\"name\":\"%s\"},\"spec\":{\"podSelector\":",
                  ns, name);
    gen_selector(in, &s, false);
    ds_put_cstr(&s, FUZZ_PICK(in, types));
    gen_rules(in, &s, "ingress", "from");
    gen_rules(in, &s, "egress", "to");
    ds_put_cstr(&s, "}}");
    return ds_steal_cstr(&s);
}

static char *
gen_namespace(struct fuzz_bytes *in, const char *name)
{
    return np_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                        "\"metadata\":{\"name\":\"%s\",\"labels\":{"
                        "\"team\":\"%s\"}}}", name, FUZZ_PICK(in, teams));
}

static char *
gen_pod(struct fuzz_bytes *in, const char *ns, const char *name)
{
    static const char *const container_ports[] = {
        "{\"name\":\"http\",\"containerPort\":80}",
        "{\"name\":\"http\",\"containerPort\":81}",
        "{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"}",
        "{\"name\":\"metrics\",\"containerPort\":9090}",
        "{\"containerPort\":8080}",
        "{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"SCTP\"}",
    };
    static const char *const phases[] = {
        "Running", "Running", "Running", "Pending", "Succeeded", "Failed",
    };
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
                  "{\"namespace\":\"%s\",\"name\":\"%s\",\"labels\":{",
                  ns, name);
    int labels = fuzz_range(in, 4);
    if (labels & 1) {
        ds_put_format(&s, "\"app\":\"%s\"", FUZZ_PICK(in, apps));
    }
    if (labels & 2) {
        ds_put_format(&s, "%s\"tier\":\"%s\"", labels & 1 ? "," : "",
                      FUZZ_PICK(in, apps));
    }
    ds_put_cstr(&s, "}},\"spec\":{\"containers\":[{\"name\":\"c\","
                "\"ports\":[");
    /* Port names are unique in a pod: at most one "http". */
    static const int https[] = { -1, 0, 1, 5 };
    int http = https[fuzz_range(in, 4)];
    int others = fuzz_range(in, 8);
    bool first = true;
    for (int i = 0; i < NP_ARRAY_SIZE(container_ports); i++) {
        if (i == http || (i >= 2 && i <= 4 && others & (1 << (i - 2)))) {
            ds_put_format(&s, "%s%s", first ? "" : ",", container_ports[i]);
            first = false;
        }
    }
    ds_put_cstr(&s, "]}]");
    if (fuzz_range(in, 16) == 0) {
        ds_put_cstr(&s, ",\"hostNetwork\":true");
    }
    ds_put_format(&s, "},\"status\":{\"phase\":\"%s\",\"podIPs\":[",
                  FUZZ_PICK(in, phases));
    /* Few distinct addresses, so that pods sometimes share one. */
    int x = fuzz_range(in, 3), y = 1 + fuzz_range(in, 10);
    switch (fuzz_range(in, 5)) {
    case 0:
        break;
    case 1:
        ds_put_format(&s, "{\"ip\":\"10.0.%d.%d\"}", x, y);
        break;
    case 2:
        ds_put_format(&s, "{\"ip\":\"fd00::%d:%d\"}", x, y);
        break;
    default:
        ds_put_format(&s, "{\"ip\":\"10.0.%d.%d\"},{\"ip\":\"fd00::%d:%d\"}",
                      x, y, x, y);
        break;
    }
    ds_put_cstr(&s, "]}}");
    return ds_steal_cstr(&s);
}

static struct local_port *
gen_port_row(struct fuzz_bytes *in, uint32_t ofport, int n_pods)
{
    char name[32];
    snprintf(name, sizeof name, "veth%"PRIu32, ofport);
    struct local_port *port = local_port_create(ofport, name);
    if (fuzz_range(in, 5)) {
        /* A pod's port; sometimes of a pod the cluster does not hold. */
        char ns[16], pod[16];
        snprintf(ns, sizeof ns, "ns%d", (int) fuzz_range(in, 5));
        snprintf(pod, sizeof pod, "p%d", (int) fuzz_range(in, n_pods + 1));
        port->pod_namespace = np_xstrdup(ns);
        port->pod_name = np_xstrdup(pod);
        if (fuzz_range(in, 4) == 0) {
            char ip[64];
            if (fuzz_bool(in)) {
                snprintf(ip, sizeof ip, "10.0.%d.%d", (int) fuzz_range(in, 3),
                         1 + (int) fuzz_range(in, 10));
            } else {
                snprintf(ip, sizeof ip, "fd00::%d:%d",
                         (int) fuzz_range(in, 3),
                         1 + (int) fuzz_range(in, 10));
            }
            port->ips = np_xmalloc(sizeof *port->ips);
            FUZZ_CHECK(cidr_parse_address(ip, port->ips), "%s", ip);
            port->n_ips = 1;
        }
        if (fuzz_bool(in)) {
            port->has_mac = true;
            memcpy(port->mac, "\x02\x00\x00\x00\x00", 5);
            port->mac[5] = ofport;
        }
    }
    return port;
}

/* The cluster as a list of objects. */

enum object_type { OBJ_NAMESPACE, OBJ_POD, OBJ_POLICY, OBJ_PORT };

struct object {
    enum object_type type;
    char *ns, *name;            /* OBJ_NAMESPACE: 'name' only. */
    uint32_t ofport;            /* OBJ_PORT. */
    char *json;                 /* The final version, or NULL if the
                                 * object is deleted in the end. */
    struct local_port *port;    /* Same, for OBJ_PORT. */
    bool transient;             /* Deleted in the end. */
};

struct scenario {
    struct object objects[N_NAMESPACES + MAX_PODS + MAX_POLICIES
                          + MAX_PORTS + 2 + 2];
    size_t n;
    struct np_config config;
};

static void
store_object(struct np_object *obj, void *cluster_)
{
    cluster_set_object(cluster_, obj);
    free(obj);
}

static void
load_json(struct cluster *cluster, const char *json)
{
    struct np_problems problems;
    np_problems_init(&problems);
    bool ok = manifest_parse(json, strlen(json), "fuzz", store_object,
                             cluster, &problems);
    if (!ok || problems.n) {
        struct ds s = DS_EMPTY_INITIALIZER;
        for (size_t i = 0; i < problems.n; i++) {
            np_problem_format(&problems.items[i], &s);
            ds_put_char(&s, '\n');
        }
        FUZZ_CHECK(false, "a generated object is refused:\n%s%s", json,
                   ds_cstr(&s));
    }
    np_problems_destroy(&problems);
}

static void
gen_config(struct fuzz_bytes *in, struct np_config *config)
{
    np_config_init(config);
    if (fuzz_range(in, 4)) {
        return;
    }
    static const uint8_t firsts[] = { 0, 10, 200, 250 };
    config->first_table = firsts[fuzz_range(in, 4)];
    config->next_table = (fuzz_bool(in) ? -1
                          : (int) (config->first_table + 5) % 255);
    config->ct_zone = fuzz_u16(in);
    config->egress_reg = fuzz_range(in, 16);
    config->ingress_reg = fuzz_range(in, 16);
    config->audit = fuzz_bool(in);
    char *error = np_config_check(config);
    if (error) {
        free(error);
        np_config_init(config);
    }
}

static void
gen_scenario(struct fuzz_bytes *in, struct scenario *sc)
{
    sc->n = 0;
    gen_config(in, &sc->config);

    int n_ns = fuzz_range(in, N_NAMESPACES + 1);
    for (int i = 0; i < n_ns; i++) {
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) { .type = OBJ_NAMESPACE };
        o->name = np_xasprintf("ns%d", i);
        o->json = gen_namespace(in, o->name);
    }
    int n_pods = fuzz_range(in, MAX_PODS + 1);
    for (int i = 0; i < n_pods; i++) {
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) { .type = OBJ_POD };
        o->ns = np_xasprintf("ns%d", (int) fuzz_range(in, N_NAMESPACES + 1));
        o->name = np_xasprintf("p%d", i);
        o->json = gen_pod(in, o->ns, o->name);
    }
    int n_policies = fuzz_range(in, MAX_POLICIES + 1);
    for (int i = 0; i < n_policies; i++) {
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) { .type = OBJ_POLICY };
        o->ns = np_xasprintf("ns%d", (int) fuzz_range(in, N_NAMESPACES));
        o->name = np_xasprintf("np%d", i);
        o->json = gen_policy(in, o->ns, o->name);
    }
    int n_ports = fuzz_range(in, MAX_PORTS + 1);
    uint32_t used = 0;
    for (int i = 0; i < n_ports; i++) {
        uint32_t ofport = 1 + fuzz_range(in, 12);
        if (used & (1u << ofport)) {
            continue;
        }
        used |= 1u << ofport;
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) { .type = OBJ_PORT, .ofport = ofport };
        o->port = gen_port_row(in, ofport, n_pods);
    }
    /* Objects that come and go: their final version is "deleted". */
    int n_transient = fuzz_range(in, 3);
    for (int i = 0; i < n_transient; i++) {
        struct object *o = &sc->objects[sc->n++];
        int type = fuzz_range(in, 3);
        *o = (struct object) { .type = (type == 0 ? OBJ_POD
                                        : type == 1 ? OBJ_POLICY
                                        : OBJ_PORT),
                               .transient = true };
        if (o->type == OBJ_PORT) {
            o->ofport = 13 + i;
        } else {
            o->ns = np_xasprintf("ns%d", (int) fuzz_range(in, N_NAMESPACES));
            o->name = np_xasprintf("t%d", i);
        }
    }
    if (fuzz_range(in, 4)) {
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) { .type = OBJ_PORT, .ofport = 100,
                               .port = local_port_create(100, "uplink") };
    }
    if (fuzz_range(in, 4)) {
        struct object *o = &sc->objects[sc->n++];
        *o = (struct object) {
            .type = OBJ_PORT, .ofport = LOCAL_PORT_HOST,
            .port = local_port_create(LOCAL_PORT_HOST, "br-int"),
        };
    }
}

static void
scenario_destroy(struct scenario *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->objects[i].ns);
        free(sc->objects[i].name);
        free(sc->objects[i].json);
        local_port_destroy(sc->objects[i].port);
    }
}

/* Puts object 'o' in its final version into 'cluster' (or deletes it), and
 * tells 'engine', if nonnull. */
static void
apply_final(struct cluster *cluster, struct engine *engine,
            const struct object *o)
{
    if (o->transient) {
        if (o->type == OBJ_PORT) {
            cluster_delete_port(cluster, o->ofport);
            if (engine) {
                engine_port_changed(engine, o->ofport);
            }
        } else {
            enum np_kind kind = o->type == OBJ_POD ? NP_KIND_POD
                                : NP_KIND_POLICY;
            cluster_delete_object(cluster, kind, o->ns, o->name);
            if (engine) {
                engine_object_changed(engine, kind, o->ns, o->name);
            }
        }
        return;
    }
    switch (o->type) {
    case OBJ_NAMESPACE:
        load_json(cluster, o->json);
        if (engine) {
            engine_namespace_changed(engine, o->name);
        }
        break;
    case OBJ_POD:
        load_json(cluster, o->json);
        if (engine) {
            engine_pod_changed(engine, o->ns, o->name);
        }
        break;
    case OBJ_POLICY:
        load_json(cluster, o->json);
        if (engine) {
            engine_policy_changed(engine, o->ns, o->name);
        }
        break;
    case OBJ_PORT:
        cluster_set_port(cluster, local_port_clone(o->port));
        if (engine) {
            engine_port_changed(engine, o->ofport);
        }
        break;
    }
}

/* A version of 'o' the cluster holds on the way: another random one, or
 * none (deleted). */
static void
apply_noise(struct fuzz_bytes *in, struct cluster *cluster,
            struct engine *engine, const struct object *o, int n_pods)
{
    bool delete = fuzz_range(in, 3) == 0;
    char *json = NULL;

    switch (o->type) {
    case OBJ_NAMESPACE:
        if (delete) {
            cluster_delete_namespace(cluster, o->name);
        } else {
            json = gen_namespace(in, o->name);
        }
        break;
    case OBJ_POD:
        if (delete) {
            cluster_delete_pod(cluster, o->ns, o->name);
        } else {
            json = gen_pod(in, o->ns, o->name);
        }
        break;
    case OBJ_POLICY:
        if (delete) {
            cluster_delete_policy(cluster, o->ns, o->name);
        } else {
            json = gen_policy(in, o->ns, o->name);
        }
        break;
    case OBJ_PORT:
        if (delete) {
            cluster_delete_port(cluster, o->ofport);
        } else {
            cluster_set_port(cluster, gen_port_row(in, o->ofport, n_pods));
        }
        break;
    }
    if (json) {
        load_json(cluster, json);
        free(json);
    }
    if (o->type == OBJ_PORT) {
        engine_port_changed(engine, o->ofport);
    } else {
        engine_object_changed(engine, (o->type == OBJ_NAMESPACE
                                       ? NP_KIND_NAMESPACE
                                       : o->type == OBJ_POD ? NP_KIND_POD
                                       : NP_KIND_POLICY),
                              o->ns ? o->ns : "", o->name);
    }
}

/* Checking a flow set. */

struct conj_key {
    struct hmap_node node;
    uint32_t id;
    uint8_t table;
    uint16_t priority;
    uint8_t n_clauses;
    uint64_t clauses;           /* Bit i: clause i (0-based) seen. */
};

static struct conj_key *
conj_key_get(struct hmap *conjs, uint32_t id, uint8_t table,
             uint16_t priority)
{
    uint32_t hash = np_hash_add(np_hash_add(id, table), priority);
    struct conj_key *k;
    HMAP_FOR_EACH_WITH_HASH (k, node, hash, conjs) {
        if (k->id == id && k->table == table && k->priority == priority) {
            return k;
        }
    }
    k = np_xzalloc(sizeof *k);
    k->id = id;
    k->table = table;
    k->priority = priority;
    hmap_insert(conjs, &k->node, hash);
    return k;
}

static void
flow_to_string(const struct np_flow *flow, char *buf, size_t size)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    np_flow_format(flow, &s);
    snprintf(buf, size, "%s", ds_cstr(&s));
    ds_destroy(&s);
}

static void
check_round_trip(const struct np_flow *flow, struct ofpbuf *ofpacts)
{
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
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, OFPUTIL_P_OF15_OXM);

    char text[2048];
    ofpbuf_clear(ofpacts);
    enum ofperr error = ofputil_decode_flow_mod(&back, msg->data,
                                                OFPUTIL_P_OF15_OXM, NULL,
                                                NULL, ofpacts, OFPP_MAX,
                                                255);
    if (error) {
        flow_to_string(flow, text, sizeof text);
        FUZZ_CHECK(false, "flow_mod does not decode (%s): %s",
                   ofperr_to_string(error), text);
    }
    struct np_flow *copy = np_flow_create_nocopy(
        back.table_id, back.priority, &back.match, be64toh(back.new_cookie),
        np_xmemdup(back.ofpacts, back.ofpacts_len), back.ofpacts_len);
    if (!np_flow_same_identity(flow, copy)
        || !np_flow_same_content(flow, copy)) {
        flow_to_string(flow, text, sizeof text);
        FUZZ_CHECK(false, "flow changes through OpenFlow: %s", text);
    }
    np_flow_destroy(copy);
    ofpbuf_delete(msg);
}

static void
check_flows(const struct flow_set *flows)
{
    struct hmap conjs = HMAP_INITIALIZER(&conjs);
    struct hmap seen = HMAP_INITIALIZER(&seen);
    struct ofpbuf ofpacts;
    const struct np_flow *flow;
    char text[2048];

    ofpbuf_init(&ofpacts, 0);
    HMAP_FOR_EACH (flow, node, &flows->flows) {
        FUZZ_CHECK(np_cookie_is_ours(flow->cookie), "cookie %#"PRIx64,
                   flow->cookie);
        FUZZ_CHECK(flow->node.hash == np_flow_hash(flow->table_id,
                                                   flow->priority,
                                                   &flow->match),
                   "a flow is filed under the wrong hash");

        /* Identity: no other flow like it. */
        struct np_flow *key = np_flow_clone(flow);
        struct np_flow *other;
        HMAP_FOR_EACH_WITH_HASH (other, node, flow->node.hash, &seen) {
            if (np_flow_same_identity(other, key)) {
                flow_to_string(flow, text, sizeof text);
                FUZZ_CHECK(false, "two flows with one identity: %s", text);
            }
        }
        hmap_insert(&seen, &key->node, flow->node.hash);

        /* Conjunction actions. */
        const struct ofpact *a;
        bool has_conj = false, has_other = false;
        uint32_t prev_id = 0;
        int prev_clause = -1;
        OFPACT_FOR_EACH (a, flow->ofpacts, flow->ofpacts_len) {
            if (a->type != OFPACT_CONJUNCTION) {
                has_other = true;
                continue;
            }
            const struct ofpact_conjunction *oc = ofpact_get_CONJUNCTION(a);
            if (has_conj) {
                FUZZ_CHECK(oc->id > prev_id
                           || (oc->id == prev_id
                               && oc->clause > prev_clause),
                           "conjunction actions out of order or repeated");
            }
            has_conj = true;
            prev_id = oc->id;
            prev_clause = oc->clause;

            FUZZ_CHECK(oc->n_clauses >= 2 && oc->n_clauses <= 64
                       && oc->clause < oc->n_clauses,
                       "conjunction(%"PRIu32",%d/%d)", oc->id,
                       oc->clause + 1, oc->n_clauses);
            struct conj_key *k = conj_key_get(&conjs, oc->id,
                                              flow->table_id,
                                              flow->priority);
            FUZZ_CHECK(!k->n_clauses || k->n_clauses == oc->n_clauses,
                       "conjunction %"PRIu32" has %d and %d clauses",
                       oc->id, k->n_clauses, oc->n_clauses);
            k->n_clauses = oc->n_clauses;
            k->clauses |= UINT64_C(1) << oc->clause;
        }
        if (has_conj && has_other) {
            flow_to_string(flow, text, sizeof text);
            FUZZ_CHECK(false, "conjunction() mixed with other actions: %s",
                       text);
        }
        if (has_conj) {
            FUZZ_CHECK(np_cookie_role(flow->cookie) == NP_ROLE_CLAUSE,
                       "a clause flow with role %d",
                       (int) np_cookie_role(flow->cookie));
        }
        check_round_trip(flow, &ofpacts);
    }

    /* Every conjunction complete, and matched by a conj_id flow. */
    struct conj_key *k;
    HMAP_FOR_EACH (k, node, &conjs) {
        uint64_t all = (k->n_clauses == 64 ? UINT64_MAX
                        : (UINT64_C(1) << k->n_clauses) - 1);
        FUZZ_CHECK(k->clauses == all, "conjunction %"PRIu32" in table %d "
                   "priority %d has clauses %#"PRIx64" of %d", k->id,
                   k->table, k->priority, k->clauses, k->n_clauses);

        bool found = false;
        HMAP_FOR_EACH (flow, node, &flows->flows) {
            if (flow->table_id != k->table) {
                continue;
            }
            struct match m;
            minimatch_expand(&flow->match, &m);
            if (m.wc.masks.conj_id == UINT32_MAX
                && m.flow.conj_id == k->id) {
                found = true;
                break;
            }
        }
        FUZZ_CHECK(found, "no conj_id=%"PRIu32" flow in table %d", k->id,
                   k->table);
    }

    struct np_flow *f;
    HMAP_FOR_EACH_POP (f, node, &seen) {
        np_flow_destroy(f);
    }
    hmap_destroy(&seen);
    HMAP_FOR_EACH_POP (k, node, &conjs) {
        free(k);
    }
    hmap_destroy(&conjs);
    ofpbuf_uninit(&ofpacts);
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

static void
check_engine(const struct engine *engine, const struct cluster *cluster,
             const struct np_config *config, const char *when)
{
    struct conj_ids ids;
    struct flow_set reference;
    struct np_problems problems;

    conj_ids_init(&ids);
    flow_set_init(&reference);
    np_problems_init(&problems);
    compile_full(cluster, config, &ids, &reference, &problems, NULL);
    if (!flow_set_equal(engine_flows(engine), &reference)) {
        print_difference(engine_flows(engine), &reference);
        FUZZ_CHECK(false, "%s: the engine differs from compile_full()",
                   when);
    }
    np_problems_destroy(&problems);
    flow_set_destroy(&reference);
    conj_ids_destroy(&ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_bytes in = { data, size };
    struct scenario sc;

    gen_scenario(&in, &sc);
    int n_pods = 0;
    for (size_t i = 0; i < sc.n; i++) {
        n_pods += sc.objects[i].type == OBJ_POD;
    }

    /* The reference: everything at once. */
    struct cluster cluster;
    struct conj_ids ids;
    struct flow_set flows;
    struct np_problems problems;
    struct compile_stats stats;

    cluster_init(&cluster);
    for (size_t i = 0; i < sc.n; i++) {
        apply_final(&cluster, NULL, &sc.objects[i]);
    }
    conj_ids_init(&ids);
    flow_set_init(&flows);
    np_problems_init(&problems);
    compile_full(&cluster, &sc.config, &ids, &flows, &problems, &stats);
    FUZZ_CHECK(stats.n_flows == flow_set_count(&flows), "%zu flows, stats "
               "say %zu", flow_set_count(&flows), stats.n_flows);
    check_flows(&flows);

    /* The engine, through events.  Each object gets up to two versions
     * ("noise") before its final one; the bytes interleave the objects. */
    struct cluster inc;
    struct conj_ids inc_ids;
    cluster_init(&inc);
    conj_ids_init(&inc_ids);
    struct engine *engine = engine_create(&inc, &sc.config, &inc_ids);

    int remaining[NP_ARRAY_SIZE(sc.objects)];
    size_t n_left = 0;
    for (size_t i = 0; i < sc.n; i++) {
        remaining[i] = (sc.objects[i].transient ? 2
                        : 1 + fuzz_range(&in, 4) / 2);  /* 1, 1, 2, 2. */
        n_left += remaining[i];
    }
    size_t n_events = n_left;
    size_t checkpoint = fuzz_range(&in, n_events + 1);
    for (size_t event = 0; n_left; event++) {
        size_t i = fuzz_range(&in, sc.n);
        while (!remaining[i]) {
            i = (i + 1) % sc.n;
        }
        if (--remaining[i]) {
            apply_noise(&in, &inc, engine, &sc.objects[i], n_pods);
        } else {
            apply_final(&inc, engine, &sc.objects[i]);
        }
        n_left--;
        if (event == checkpoint || n_events <= 6) {
            check_engine(engine, &inc, &sc.config, "on the way");
        }
    }
    if (!flow_set_equal(engine_flows(engine), &flows)) {
        print_difference(engine_flows(engine), &flows);
        FUZZ_CHECK(false, "after %zu events, the engine differs from "
                   "compile_full() of the same state", n_events);
    }

    engine_destroy(engine);
    conj_ids_destroy(&inc_ids);
    cluster_destroy(&inc);
    np_problems_destroy(&problems);
    flow_set_destroy(&flows);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
    scenario_destroy(&sc);
    return 0;
}
