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

/* agent-explain.c: the agent's model over the control socket, for
 * `ovs-netpolctl trace` and `verify` (agent-explain.h).  A sink of the
 * agent: it reads the cluster state and conjunction IDs agent.c owns,
 * through flows/explain.c and flows/verify-plan.c, and never changes
 * them. */

#include <config.h>
#include "agent-explain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include "agent.h"
#include "control.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/explain.h"
#include "ovs-netpol/util.h"
#include "ovs-netpol/verify-plan.h"

/* verify's defaults: enough remote peers and checks to cover a node's
 * policies, few enough to trace in seconds. */
#define DEFAULT_MAX_REMOTE 16
#define DEFAULT_MAX_CHECKS 5000

struct explain_context {
    const struct cluster *cluster;
    const struct conj_ids *ids;
    const struct agent_options *opts;
};

static struct explain_context context;

/* One end of a connection, as the switch sees it. */
struct endpoint {
    struct explain_endpoint ep;
    const struct local_port *port;      /* The local pod's port, or NULL. */
};

static json_t *
address_to_json(const struct cidr *address)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    cidr_format(address, true, &s);
    json_t *j = json_string(ds_cstr(&s));
    ds_destroy(&s);
    return j;
}

static json_t *
mac_to_json(const struct local_port *port)
{
    char mac[18];
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x",
             port->mac[0], port->mac[1], port->mac[2], port->mac[3],
             port->mac[4], port->mac[5]);
    return json_string(mac);
}

/* Adds "pod", "local", "ofport" and "mac" to 'j'. */
static void
put_pod_fields(json_t *j, const struct np_pod *pod,
               const struct local_port *port)
{
    json_object_set_new(j, "pod", pod ? json_sprintf("%s/%s", pod->namespace,
                                                     pod->name)
                                      : json_null());
    json_object_set_new(j, "local", json_boolean(port != NULL));
    if (port) {
        json_object_set_new(j, "ofport", json_integer(port->ofport));
        if (port->has_mac) {
            json_object_set_new(j, "mac", mac_to_json(port));
        }
    }
}

/* Resolves 's' ("NS/POD" or an address) in 'family' (0: any). */
static char *
resolve_endpoint(const struct cluster *cluster, const char *s, int family,
                 struct endpoint *e)
{
    memset(e, 0, sizeof *e);
    char *error = explain_endpoint_parse(cluster, s, family, &e->ep);
    if (error) {
        return error;
    }
    if (family && e->ep.address.family != family) {
        return np_xasprintf("%s: not an IPv%d address", s,
                            family == AF_INET ? 4 : 6);
    }
    if (!e->ep.pod) {
        /* The switch matches addresses: a pod's address is the pod. */
        e->ep.pod = verify_plan_find_pod(cluster, &e->ep.address);
    }
    if (e->ep.pod) {
        e->port = cluster_find_pod_port(cluster, e->ep.pod->namespace,
                                        e->ep.pod->name);
    }
    return NULL;
}

static json_t *
endpoint_to_json(const struct endpoint *e)
{
    json_t *j = json_object();
    json_object_set_new(j, "ip", address_to_json(&e->ep.address));
    put_pod_fields(j, e->ep.pod, e->port);
    return j;
}

/* The conjunction IDs of 'rule' (every variant), as installed. */
static json_t *
rule_ids_to_json(const struct conj_ids *ids, const struct explain_rule *rule,
                 enum np_direction dir)
{
    json_t *array = json_array();
    const struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (!ref->retired && ref->dir == dir && ref->index == rule->index
            && !strcmp(ref->namespace, rule->policy->namespace)
            && !strcmp(ref->policy, rule->policy->name)) {
            json_array_append_new(array, json_integer(ref->id));
        }
    }
    return array;
}

static json_t *
direction_to_json(const struct explain_direction *d, enum np_direction dir,
                  bool enforced_here, const struct conj_ids *ids)
{
    json_t *isolating = json_array();
    for (size_t i = 0; i < d->n_isolating; i++) {
        json_array_append_new(isolating, json_sprintf(
                                  "%s/%s", d->isolating[i]->namespace,
                                  d->isolating[i]->name));
    }
    json_t *rules = json_array();
    for (size_t i = 0; i < d->n_rules; i++) {
        const struct explain_rule *r = &d->rules[i];
        json_array_append_new(rules, json_pack(
            "{s:s++, s:I, s:o}",
            "policy", r->policy->namespace, "/", r->policy->name,
            "index", (json_int_t) r->index,
            "conj_ids", rule_ids_to_json(ids, r, dir)));
    }
    return json_pack("{s:b, s:b, s:b, s:b, s:o, s:o}",
                     "applies", d->applies,
                     "enforced_here", enforced_here,
                     "isolated", d->isolated,
                     "allowed", d->allowed,
                     "isolating", isolating,
                     "rules", rules);
}

/* What this node's switch should do: it enforces egress of its own pods
 * and ingress to its own pods, nothing else. */
static bool
expected_here(const struct explain_result *result, bool src_local,
              bool dst_local)
{
    return ((!src_local || result->dirs[NP_EGRESS].allowed)
            && (!dst_local || result->dirs[NP_INGRESS].allowed));
}

static uint32_t
find_uplink(const struct cluster *cluster)
{
    uint32_t uplink = 0;
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        if (!local_port_is_pod(port) && port->ofport != LOCAL_PORT_HOST
            && (!uplink || port->ofport < uplink)) {
            uplink = port->ofport;
        }
    }
    return uplink;
}

static int
family_arg(const json_t *args)
{
    json_int_t family = json_integer_value(json_object_get(args, "family"));
    return family == 4 ? AF_INET : family == 6 ? AF_INET6 : 0;
}

static void
cmd_explain(struct control_request *req, const json_t *args, void *ctx_)
{
    const struct explain_context *ctx = ctx_;
    const char *from = json_string_value(json_object_get(args, "from"));
    const char *to = json_string_value(json_object_get(args, "to"));
    const char *port_s = json_string_value(json_object_get(args, "port"));
    if (!from || !to || !port_s) {
        control_request_error(req, "explain needs \"from\", \"to\" and "
                              "\"port\"");
        return;
    }

    struct endpoint src, dst;
    uint8_t protocol;
    uint16_t port;
    int family = family_arg(args);
    char *error = resolve_endpoint(ctx->cluster, from, family, &src);
    if (!error) {
        /* The destination in the source's family. */
        error = resolve_endpoint(ctx->cluster, to, src.ep.address.family,
                                 &dst);
    }
    if (!error) {
        error = explain_port_parse(port_s, &protocol, &port);
    }
    if (error) {
        control_request_error(req, "%s", error);
        free(error);
        return;
    }

    struct explain_result result;
    explain(ctx->cluster, &src.ep, &dst.ep, protocol, port, &result);

    struct ds text = DS_EMPTY_INITIALIZER;
    explain_result_format(&result, &src.ep, &dst.ep, protocol, port,
                          ctx->ids, &text);
    uint32_t uplink = find_uplink(ctx->cluster);
    json_t *reply = json_pack(
        "{s:b, s:b, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:s}",
        "allowed", result.allowed,
        "expected", expected_here(&result, src.port, dst.port),
        "protocol", np_protocol_name(protocol),
        "port", (int) port,
        "family", src.ep.address.family == AF_INET6 ? 6 : 4,
        "from", endpoint_to_json(&src),
        "to", endpoint_to_json(&dst),
        "egress", direction_to_json(&result.dirs[NP_EGRESS], NP_EGRESS,
                                    src.port != NULL, ctx->ids),
        "ingress", direction_to_json(&result.dirs[NP_INGRESS], NP_INGRESS,
                                     dst.port != NULL, ctx->ids),
        "text", ds_cstr(&text));
    json_object_set_new(reply, "uplink",
                        uplink ? json_integer(uplink) : json_null());
    ds_destroy(&text);
    explain_result_destroy(&result);
    control_request_reply(req, reply);
}

static json_t *
plan_endpoint_to_json(const struct verify_endpoint *e)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(e->name));
    put_pod_fields(j, e->pod, e->port);
    if (e->has_addr[0]) {
        json_object_set_new(j, "ipv4", address_to_json(&e->addr[0]));
    }
    if (e->has_addr[1]) {
        json_object_set_new(j, "ipv6", address_to_json(&e->addr[1]));
    }
    return j;
}

static size_t
size_arg(const json_t *args, const char *name, size_t default_value)
{
    const json_t *j = json_object_get(args, name);
    return (json_is_integer(j) && json_integer_value(j) > 0
            ? (size_t) json_integer_value(j) : default_value);
}

static void
cmd_explain_plan(struct control_request *req, const json_t *args,
                 void *ctx_)
{
    const struct explain_context *ctx = ctx_;
    struct verify_plan plan;
    verify_plan_build(ctx->cluster,
                      size_arg(args, "max_remote", DEFAULT_MAX_REMOTE),
                      size_arg(args, "max_checks", DEFAULT_MAX_CHECKS),
                      &plan);

    json_t *endpoints = json_array();
    for (size_t i = 0; i < plan.n_endpoints; i++) {
        json_array_append_new(endpoints,
                              plan_endpoint_to_json(&plan.endpoints[i]));
    }
    json_t *ports = json_array();
    for (size_t i = 0; i < plan.n_ports; i++) {
        json_array_append_new(ports, json_pack(
            "{s:s, s:i}", "protocol",
            np_protocol_name(plan.ports[i].protocol),
            "port", (int) plan.ports[i].port));
    }
    json_t *checks = json_array();
    for (size_t i = 0; i < plan.n_checks; i++) {
        const struct verify_check *c = &plan.checks[i];
        const struct verify_endpoint *s = &plan.endpoints[c->src];
        const struct verify_endpoint *d = &plan.endpoints[c->dst];
        int fi = verify_family_index(c->family);
        struct explain_endpoint src = {
            .pod = s->pod, .address = s->addr[fi],
        };
        struct explain_endpoint dst = {
            .pod = d->pod, .address = d->addr[fi],
        };
        const struct verify_port *p = &plan.ports[c->port];
        struct explain_result result;

        explain(ctx->cluster, &src, &dst, p->protocol, p->port, &result);
        json_array_append_new(checks, json_pack(
            "[I, I, I, i, i, i]", (json_int_t) c->src, (json_int_t) c->dst,
            (json_int_t) c->port, c->family == AF_INET6 ? 6 : 4,
            expected_here(&result, s->port, d->port), result.allowed));
        explain_result_destroy(&result);
    }

    json_t *reply = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I}",
                              "endpoints", endpoints, "ports", ports,
                              "checks", checks,
                              "n_local", (json_int_t) plan.n_local,
                              "no_uplink", (json_int_t) plan.n_no_uplink,
                              "truncated", (json_int_t) plan.n_truncated);
    json_object_set_new(reply, "uplink", plan.uplink
                        ? json_integer(plan.uplink) : json_null());
    verify_plan_destroy(&plan);
    control_request_reply(req, reply);
}

static void
cmd_pipeline(struct control_request *req, const json_t *args, void *ctx_)
{
    const struct explain_context *ctx = ctx_;
    const struct agent_options *opts = ctx->opts;
    const struct np_config *c = &opts->config;

    control_request_reply(req, json_pack(
        "{s:s?, s:s?, s:s?, s:i, s:i, s:i, s:i, s:i, s:b, s:I}",
        "bridge", opts->bridge,
        "openflow", opts->openflow,
        "node_name", opts->node_name,
        "first_table", c->first_table,
        "next_table", c->next_table,
        "ct_zone", c->ct_zone,
        "egress_reg", c->egress_reg,
        "ingress_reg", c->ingress_reg,
        "audit", c->audit,
        "audit_meter", (json_int_t) c->audit_meter));
}

void
agent_explain_register(struct control_server *control,
                       const struct cluster *cluster,
                       const struct conj_ids *ids,
                       const struct agent_options *opts)
{
    context = (struct explain_context) {
        .cluster = cluster, .ids = ids, .opts = opts,
    };
    control_server_register(control, "pipeline", cmd_pipeline, &context);
    control_server_register(control, "explain", cmd_explain, &context);
    control_server_register(control, "explain-plan", cmd_explain_plan,
                            &context);
}
