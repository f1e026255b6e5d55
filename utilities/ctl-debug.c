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

/* ctl-debug.c: the ovs-netpolctl commands for debugging a node:
 *
 *   annotate   names the pod, policy and rule behind every flow of a dump
 *              (flows/annotate.c does the naming);
 *   trace      one connection through the switch (ofproto/trace) and
 *              through the agent's model ("explain"), side by side;
 *   verify     trace against the model for a sample of connections
 *              (flows/verify-plan.c, the agent's "explain-plan").
 *
 * They read three things: the agent (control socket: rule and port names,
 * the model), the bridge (OpenFlow: annotate --live) and ovs-vswitchd
 * (unixctl: ofproto/trace, dpif/show; ovs-unixctl.h says why the library
 * client and not ovs-appctl).  Nothing here changes any of them. */

#include <config.h>
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-msgs.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofpbuf.h>
#include <openvswitch/vconn.h>
#include "ovs-netpol/annotate.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/util.h"
#include "ovs-unixctl.h"

/* MACs for the ends of a traced packet that have none we know: a remote
 * peer behind the uplink, and a pod whose port does not say.  Locally
 * administered; the pipeline never matches a destination MAC, and NORMAL
 * floods an unknown one. */
#define TRACE_REMOTE_MAC "02:00:00:00:00:fe"
#define TRACE_UNKNOWN_MAC "02:00:00:00:00:fd"

/* The source port of traced connections. */
#define TRACE_SOURCE_PORT 43210

static const char *
rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    return dir && *dir ? dir : "/var/run/openvswitch";
}

static const char *
json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* --- Names ------------------------------------------------------------- */

/* Reads the pipeline's layout from the agent into 'config' and returns the
 * agent's answer (the caller decrefs). */
static json_t *
agent_pipeline(const struct ctl_options *opts, struct np_config *config)
{
    json_t *p = ctl_transact(opts, "pipeline", NULL);
    *config = opts->config;
    config->first_table = json_integer_value(json_object_get(p,
                                                             "first_table"));
    config->next_table = json_integer_value(json_object_get(p,
                                                            "next_table"));
    config->ct_zone = json_integer_value(json_object_get(p, "ct_zone"));
    config->egress_reg = json_integer_value(json_object_get(p,
                                                            "egress_reg"));
    config->ingress_reg = json_integer_value(json_object_get(p,
                                                             "ingress_reg"));
    config->audit = json_is_true(json_object_get(p, "audit"));
    return p;
}

/* Adds the ports and rules of the agent's "status" answer to 'names'. */
static void
names_add_status(struct annotate_names *names, const json_t *status)
{
    size_t i;
    const json_t *p;
    json_array_foreach (json_object_get(status, "ports"), i, p) {
        annotate_names_add_port(names, json_integer_value(
                                    json_object_get(p, "ofport")),
                                json_str(p, "name"), json_str(p, "pod"));
    }
    const json_t *r;
    json_array_foreach (json_object_get(status, "rules"), i, r) {
        const char *dir = json_str(r, "direction");
        if (!json_str(r, "namespace") || !json_str(r, "policy")) {
            continue;
        }
        annotate_names_add_rule(
            names, json_integer_value(json_object_get(r, "conj_id")),
            json_str(r, "namespace"), json_str(r, "policy"),
            dir && !strcmp(dir, "egress") ? NP_EGRESS : NP_INGRESS,
            json_integer_value(json_object_get(r, "index")),
            json_str(r, "variant"));
    }
}

/* The running agent's names.  Returns its "pipeline" answer (the caller
 * decrefs), which names the bridge and its OpenFlow target. */
static json_t *
names_from_agent(const struct ctl_options *opts,
                 struct annotate_names *names)
{
    struct np_config config;
    json_t *pipeline = agent_pipeline(opts, &config);
    json_t *status = ctl_transact(opts, "status", NULL);

    annotate_names_init(names, &config);
    names_add_status(names, status);
    json_decref(status);
    return pipeline;
}

/* The names of the manifests' flows for --node, compiled here. */
static void
names_from_manifests(const struct ctl_options *opts,
                     struct annotate_names *names)
{
    struct cluster cluster;
    struct conj_ids ids;
    struct flow_set flows;
    struct np_problems problems;

    if (!opts->node) {
        ctl_fatal(2, "annotate -f needs --node NAME (which pods are local), "
                  "with the same --ofport, --uplink and pipeline options as "
                  "compile");
    }
    cluster_init(&cluster);
    ctl_load_manifests(opts, &cluster);
    ctl_add_node_ports(opts, &cluster);
    conj_ids_init(&ids);
    flow_set_init(&flows);
    np_problems_init(&problems);
    compile_full(&cluster, &opts->config, &ids, &flows, &problems, NULL);

    annotate_names_init(names, &opts->config);
    annotate_names_add_cluster(names, &cluster, &ids);

    np_problems_destroy(&problems);
    flow_set_destroy(&flows);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
}

/* --- annotate ---------------------------------------------------------- */

/* Prints 'line' (without its new-line) and its annotation. */
static void
annotate_line(const struct annotate_names *names, const char *line,
              struct annotate_flow *flow)
{
    puts(line);
    if (annotate_flow_parse_dump(flow, line)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        annotate_flow_format(flow, names, "    # ", &s);
        fputs(ds_cstr(&s), stdout);
        ds_destroy(&s);
    }
}

static void
annotate_stream(const struct annotate_names *names, FILE *stream,
                const char *name)
{
    struct annotate_flow flow;
    char *line = NULL;
    size_t allocated = 0;
    ssize_t n;

    annotate_flow_init(&flow);
    while ((n = getline(&line, &allocated, stream)) >= 0) {
        if (n && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        annotate_line(names, line, &flow);
    }
    if (ferror(stream)) {
        ctl_fatal(2, "%s: read error (%s)", name, np_strerror(errno));
    }
    free(line);
    annotate_flow_destroy(&flow);
}

/* Dumps every flow of the bridge at 'target' and annotates each as it
 * arrives.  The flow is printed by libopenvswitch as `ovs-ofctl
 * dump-flows` prints it, and that very text is what gets annotated: a live
 * dump and a dump on stdin are annotated by the same code. */
static void
annotate_live(const struct annotate_names *names, const char *target)
{
    struct vconn *vconn;
    int error = vconn_open_block(target, 1u << OFP15_VERSION, 0, 5000,
                                 &vconn);
    if (error) {
        ctl_fatal(2, "%s: cannot connect (%s)", target, np_strerror(error));
    }

    struct ofputil_flow_stats_request fsr;
    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = 0xff;
    struct ofpbuf *request = ofputil_encode_flow_stats_request(
        &fsr, OFPUTIL_P_OF15_OXM);
    ovs_be32 xid = ((struct ofp_header *) request->data)->xid;
    error = vconn_send_block(vconn, request);

    struct annotate_flow flow;
    struct ofpbuf ofpacts;
    annotate_flow_init(&flow);
    ofpbuf_init(&ofpacts, 0);
    for (bool more = true; more && !error; ) {
        struct ofpbuf *reply;
        error = vconn_recv_block(vconn, &reply);
        if (error) {
            break;
        }
        const struct ofp_header *oh = reply->data;
        enum ofptype type;
        if (oh->xid != xid) {
            ofpbuf_delete(reply);
            continue;
        }
        if (ofptype_decode(&type, oh) || type != OFPTYPE_FLOW_STATS_REPLY) {
            error = EPROTO;
            ofpbuf_delete(reply);
            break;
        }
        more = ofpmp_more(oh);
        for (;;) {
            struct ofputil_flow_stats fs;
            int retval = ofputil_decode_flow_stats_reply(&fs, reply, false,
                                                         &ofpacts);
            if (retval == EOF) {
                break;
            } else if (retval) {
                error = EPROTO;
                break;
            }
            struct ds s = DS_EMPTY_INITIALIZER;
            ds_put_char(&s, ' ');
            ofputil_flow_stats_format(&s, &fs, NULL, NULL, true);
            annotate_line(names, ds_cstr(&s), &flow);
            ds_destroy(&s);
        }
        ofpbuf_delete(reply);
    }
    ofpbuf_uninit(&ofpacts);
    annotate_flow_destroy(&flow);
    vconn_close(vconn);
    if (error) {
        ctl_fatal(2, "%s: dumping flows failed (%s)", target,
                  np_strerror(error));
    }
}

int
ctl_annotate(struct ctl_options *opts)
{
    struct annotate_names names;
    json_t *pipeline = NULL;

    if (opts->n_files) {
        names_from_manifests(opts, &names);
    } else {
        pipeline = names_from_agent(opts, &names);
    }

    const char *file = opts->n_args ? opts->args[0] : NULL;
    if (opts->n_args > 1) {
        ctl_fatal(2, "annotate takes at most one FILE");
    }
    if (opts->live || (!file && isatty(STDIN_FILENO))) {
        const char *agent_target = (pipeline ? json_str(pipeline, "openflow")
                                    : NULL);
        char *target = (opts->openflow ? np_xstrdup(opts->openflow)
                        : !opts->bridge && agent_target
                        ? np_xstrdup(agent_target)
                        : np_xasprintf("unix:%s/%s.mgmt", rundir(),
                                       opts->bridge ? opts->bridge
                                                    : "br-int"));
        annotate_live(&names, target);
        free(target);
    } else if (!file || !strcmp(file, "-")) {
        annotate_stream(&names, stdin, "stdin");
    } else {
        FILE *stream = fopen(file, "r");
        if (!stream) {
            ctl_fatal(2, "%s: %s", file, np_strerror(errno));
        }
        annotate_stream(&names, stream, file);
        fclose(stream);
    }
    json_decref(pipeline);
    annotate_names_destroy(&names);
    return 0;
}

/* --- ovs-vswitchd ------------------------------------------------------ */

struct vswitchd {
    struct jsonrpc *rpc;
    char *path;                 /* Its unixctl socket. */
    const char *bridge;
    struct odp_port {
        uint32_t odp;
        uint32_t ofport;
        char *name;
    } *ports;                   /* The bridge's datapath ports. */
    size_t n_ports;
};

/* Finds ovs-vswitchd's unixctl socket as ovs-appctl does: --vswitchd is a
 * socket path (with a '/') or a program name (default ovs-vswitchd), whose
 * pidfile in the run directory gives RUNDIR/NAME.PID.ctl. */
static char *
vswitchd_socket(const struct ctl_options *opts)
{
    const char *target = opts->vswitchd ? opts->vswitchd : "ovs-vswitchd";
    if (strchr(target, '/')) {
        return np_xstrdup(target);
    }

    char *pidfile = np_xasprintf("%s/%s.pid", rundir(), target);
    FILE *stream = fopen(pidfile, "r");
    long pid;
    if (!stream || fscanf(stream, "%ld", &pid) != 1 || pid <= 0) {
        ctl_fatal(2, "%s: cannot read %s's pid (%s); is it running? "
                  "(--vswitchd=SOCKET|NAME, OVS_RUNDIR)", pidfile, target,
                  stream ? "not a pid" : np_strerror(errno));
    }
    fclose(stream);
    free(pidfile);
    return np_xasprintf("%s/%s.%ld.ctl", rundir(), target, pid);
}

/* Runs 'command' with its arguments.  Returns its output (the caller
 * frees), or exits with ovs-vswitchd's error. */
static char *
vswitchd_run(struct vswitchd *vs, const char *command, int argc,
             char *argv[])
{
    char *result, *error;
    int retval = unixctl_client_transact(vs->rpc, command, argc, argv,
                                         &result, &error);
    if (retval) {
        ctl_fatal(2, "%s: %s", vs->path, np_strerror(retval));
    } else if (error) {
        ctl_fatal(2, "%s: %s", command, error);
    }
    return result ? result : np_xstrdup("");
}

/* Reads the bridge's datapath port numbers from "dpif/show": ofproto/trace
 * reports where a packet goes in those. */
static void
vswitchd_read_ports(struct vswitchd *vs)
{
    char *out = vswitchd_run(vs, "dpif/show", 0, NULL);
    size_t allocated = 0;
    bool in_bridge = false;
    char *save;

    for (char *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        /* "  BRIDGE:" starts a bridge, "    NAME OFPORT/ODP: ..." is a
         * port of it. */
        size_t indent = strspn(line, " ");
        if (indent == 2) {
            size_t len = strlen(vs->bridge);
            in_bridge = (!strncmp(line + 2, vs->bridge, len)
                         && !strcmp(line + 2 + len, ":"));
            continue;
        }
        char name[256];
        unsigned int ofport, odp;
        if (in_bridge && indent == 4
            && sscanf(line, " %255s %u/%u:", name, &ofport, &odp) == 3) {
            vs->ports = np_x2nrealloc(vs->ports, &allocated,
                                      vs->n_ports + 1, sizeof *vs->ports);
            vs->ports[vs->n_ports++] = (struct odp_port) {
                .odp = odp, .ofport = ofport, .name = np_xstrdup(name),
            };
        }
    }
    free(out);
    if (!vs->n_ports) {
        ctl_fatal(2, "dpif/show: ovs-vswitchd has no bridge %s", vs->bridge);
    }
}

static void
vswitchd_open(struct vswitchd *vs, const struct ctl_options *opts,
              const char *bridge)
{
    memset(vs, 0, sizeof *vs);
    vs->path = vswitchd_socket(opts);
    vs->bridge = bridge;
    int error = unixctl_client_create(vs->path, &vs->rpc);
    if (error) {
        ctl_fatal(2, "%s: cannot connect to ovs-vswitchd (%s)", vs->path,
                  np_strerror(error));
    }
    vswitchd_read_ports(vs);
}

static void
vswitchd_close(struct vswitchd *vs)
{
    jsonrpc_close(vs->rpc);
    for (size_t i = 0; i < vs->n_ports; i++) {
        free(vs->ports[i].name);
    }
    free(vs->ports);
    free(vs->path);
}

static const struct odp_port *
vswitchd_find_odp(const struct vswitchd *vs, uint32_t odp)
{
    for (size_t i = 0; i < vs->n_ports; i++) {
        if (vs->ports[i].odp == odp) {
            return &vs->ports[i];
        }
    }
    return NULL;
}

/* --- Tracing ----------------------------------------------------------- */

/* One connection to trace, and what the model says about it. */
struct conn {
    char *src_name, *dst_name;  /* "x/a (10.0.0.1)" or "10.0.0.1". */
    const char *src_ip, *dst_ip;
    const char *src_mac, *dst_mac;
    bool src_local, dst_local;
    uint32_t in_port;           /* The source pod's port, or the uplink. */
    uint32_t dst_ofport;        /* The destination pod's port, if local. */
    int family;                 /* 4 or 6. */
    const char *protocol;       /* "TCP", "UDP", "SCTP". */
    int port;
    bool expected;              /* The model: this node should forward. */
    bool allowed;               /* The model, cluster-wide. */
};

/* What the switch did with it. */
struct trace_result {
    struct ds steps;            /* One line per flow the packet met. */
    struct ds outputs;          /* Where it went: "x/b (port 12)", ... */
    char *last_step;            /* The last flow it met. */
    char *dp_actions;           /* Datapath actions of the last pass. */
    bool committed;             /* It passed our commit table: our
                                 * pipeline allows it.  This is the
                                 * verdict compared with the model. */
    bool delivered;             /* The switch forwards it to the
                                 * destination (a remote one: anywhere);
                                 * after our tables that is forwarding
                                 * (NORMAL, or a CNI's tables), not
                                 * policy. */
};

static void
trace_result_destroy(struct trace_result *r)
{
    ds_destroy(&r->steps);
    ds_destroy(&r->outputs);
    free(r->last_step);
    free(r->dp_actions);
}

static char *
endpoint_name(const json_t *pod, const char *ip)
{
    return (json_is_string(pod)
            ? np_xasprintf("%s (%s)", json_string_value(pod), ip)
            : np_xstrdup(ip));
}

/* Fills 'c' from the agent's description of the two ends ("pod", "local",
 * "ofport", "mac") and their addresses.  Returns false, with a message in
 * '*why', if the node cannot see such a packet. */
static bool
conn_init(struct conn *c, const json_t *src, const char *src_ip,
          const json_t *dst, const char *dst_ip, int family,
          const char *protocol, int port, const json_t *uplink, char **why)
{
    memset(c, 0, sizeof *c);
    c->src_name = endpoint_name(json_object_get(src, "pod"), src_ip);
    c->dst_name = endpoint_name(json_object_get(dst, "pod"), dst_ip);
    c->src_ip = src_ip;
    c->dst_ip = dst_ip;
    c->family = family;
    c->protocol = protocol;
    c->port = port;
    c->src_local = json_is_true(json_object_get(src, "local"));
    c->dst_local = json_is_true(json_object_get(dst, "local"));
    c->src_mac = json_str(src, "mac");
    c->dst_mac = json_str(dst, "mac");
    if (!c->src_mac) {
        c->src_mac = c->src_local ? TRACE_UNKNOWN_MAC : TRACE_REMOTE_MAC;
    }
    if (!c->dst_mac) {
        c->dst_mac = c->dst_local ? TRACE_UNKNOWN_MAC : TRACE_REMOTE_MAC;
    }
    if (c->dst_local) {
        c->dst_ofport = json_integer_value(json_object_get(dst, "ofport"));
    }
    if (c->src_local) {
        c->in_port = json_integer_value(json_object_get(src, "ofport"));
    } else if (json_is_integer(uplink)) {
        c->in_port = json_integer_value(uplink);
    } else {
        *why = np_xasprintf("%s is not a pod of this node and the bridge has "
                            "no uplink port for it to arrive on (from the "
                            "host, everything is allowed)", c->src_name);
        return false;
    }
    return true;
}

static void
conn_destroy(struct conn *c)
{
    free(c->src_name);
    free(c->dst_name);
}

/* The flow ofproto/trace traces: a new connection's first packet. */
static char *
conn_flow(const struct conn *c)
{
    char proto[8];
    size_t i;
    for (i = 0; c->protocol[i] && i < sizeof proto - 2; i++) {
        proto[i] = c->protocol[i] | 0x20;   /* Lower case. */
    }
    proto[i] = '\0';

    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "%s%s,in_port=%"PRIu32",dl_src=%s,dl_dst=%s,", proto,
                  c->family == 6 ? "6" : "", c->in_port, c->src_mac,
                  c->dst_mac);
    ds_put_format(&s, c->family == 6 ? "ipv6_src=%s,ipv6_dst=%s,"
                                     : "nw_src=%s,nw_dst=%s,",
                  c->src_ip, c->dst_ip);
    /* ofproto/trace wants each protocol's own port fields (sctp_dst, not
     * tp_dst). */
    ds_put_format(&s, "nw_ttl=64,%s_src=%d,%s_dst=%d", proto,
                  TRACE_SOURCE_PORT, proto, c->port);
    if (!strcmp(proto, "tcp")) {
        ds_put_cstr(&s, ",tcp_flags=0x002");     /* SYN. */
    }
    return ds_steal_cstr(&s);
}

/* Appends a step: table 'table', priority 'priority' (-1 for a table miss)
 * did what 'text' says. */
static void
trace_add_text(struct trace_result *r, int table, int priority,
               const char *text)
{
    ds_put_format(&r->steps, "table %-3d ", table);
    if (priority >= 0) {
        ds_put_format(&r->steps, "prio %-5d ", priority);
    } else {
        ds_put_cstr(&r->steps, "           ");
    }
    /* Continuation lines (a conj_id's rule), indented. */
    for (const char *p = text; *p; p++) {
        ds_put_char(&r->steps, *p);
        if (*p == '\n') {
            ds_put_cstr(&r->steps, "                      ");
        }
    }
    ds_put_char(&r->steps, '\n');

    free(r->last_step);
    r->last_step = (priority >= 0
                    ? np_xasprintf("table %d, priority %d: %s", table,
                                   priority, text)
                    : np_xasprintf("table %d: %s", table, text));
}

/* Appends one step: the flow in 'line' (whose actions start on
 * 'next_line'), named as annotate names it. */
static void
trace_add_step(struct trace_result *r, const struct annotate_names *names,
               struct annotate_flow *flow, const char *line,
               const char *next_line)
{
    struct ds text = DS_EMPTY_INITIALIZER;

    annotate_flow_parse_actions(flow, next_line ? next_line : "drop");
    if (np_cookie_is_ours(flow->cookie)) {
        annotate_flow_format(flow, names, "", &text);
        ds_chomp(&text, '\n');
    } else {
        while (*line == ' ') {
            line++;
        }
        ds_put_format(&text, "not ovs-netpol's (cookie %#"PRIx64"): %s",
                      flow->cookie, line);
    }
    if (flow->table_id == names->config.first_table + NP_TABLE_COMMIT
        && np_cookie_is_ours(flow->cookie)) {
        r->committed = true;
    }
    trace_add_text(r, flow->table_id, flow->priority, ds_cstr(&text));
    ds_destroy(&text);
}

/* Returns the odp ports the datapath actions 'actions' output to: the
 * top-level actions that are plain numbers. */
static void
trace_read_outputs(struct trace_result *r, const struct vswitchd *vs,
                   const struct annotate_names *names, const struct conn *c,
                   const char *actions)
{
    int depth = 0;
    const char *start = actions;
    for (const char *p = actions; ; p++) {
        if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if ((*p == ',' || !*p) && !depth) {
            size_t len = p - start;
            if (len && strspn(start, "0123456789") == len) {
                uint32_t odp = strtoul(start, NULL, 10);
                const struct odp_port *port = vswitchd_find_odp(vs, odp);
                uint32_t ofport = port ? port->ofport : UINT32_MAX;
                if (r->outputs.length) {
                    ds_put_cstr(&r->outputs, ", ");
                }
                if (port && annotate_names_find_port(names, ofport)) {
                    annotate_port_format(names, ofport, &r->outputs);
                } else if (port) {
                    ds_put_format(&r->outputs, "port %"PRIu32" (%s)",
                                  ofport, port->name);
                }
                if (c->dst_local ? ofport == c->dst_ofport
                    : port && ofport != c->in_port) {
                    r->delivered = true;
                }
                if (!port) {
                    ds_put_format(&r->outputs, "datapath port %"PRIu32,
                                  odp);
                }
            }
            if (!*p) {
                break;
            }
            start = p + 1;
        }
    }
}

/* Traces 'c' on the bridge into 'r'. */
static void
trace_conn(struct vswitchd *vs, const struct annotate_names *names,
           const struct conn *c, struct trace_result *r)
{
    memset(r, 0, sizeof *r);
    ds_init(&r->steps);
    ds_init(&r->outputs);

    char *flow_s = conn_flow(c);
    char *argv[] = {
        CONST_CAST(char *, vs->bridge), flow_s, "--ct-next", "trk,new",
    };
    char *out = vswitchd_run(vs, "ofproto/trace", NP_ARRAY_SIZE(argv), argv);
    free(flow_s);

    struct annotate_flow flow;
    annotate_flow_init(&flow);
    char *save;
    char *line = strtok_r(out, "\n", &save);
    while (line) {
        char *next = strtok_r(NULL, "\n", &save);
        size_t digits = strspn(line + strspn(line, " "), "0123456789");
        const char *after = line + strspn(line, " ") + digits;
        if (annotate_flow_parse_trace(&flow, line)) {
            const char *actions = next;
            while (actions && *actions == ' ') {
                actions++;
            }
            trace_add_step(r, names, &flow, line, actions);
        } else if (digits && !strncmp(after, ". No match", 10)) {
            trace_add_text(r, atoi(line), -1,
                           "no flow matched: drop (table miss)");
        } else if (!strncmp(line, "Datapath actions: ", 18)) {
            free(r->dp_actions);
            r->dp_actions = np_xstrdup(line + 18);
        }
        line = next;
    }
    annotate_flow_destroy(&flow);
    free(out);

    if (!r->dp_actions) {
        ctl_fatal(2, "ofproto/trace printed no datapath actions");
    }
    trace_read_outputs(r, vs, names, c, r->dp_actions);
}

static void
print_indented(const char *text, const char *indent)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? nl - p : strlen(p);
        printf("%s%.*s\n", indent, (int) len, p);
        p += len + (nl != NULL);
    }
}

static void
print_switch_verdict(const struct conn *c, const struct trace_result *r)
{
    if (r->committed && r->delivered) {
        printf("  switch: FORWARDED to %s\n", ds_cstr_ro(&r->outputs));
    } else if (r->committed) {
        printf("  switch: ALLOWED by the policy tables (committed), but not "
               "delivered to %s (forwarding, not policy): %s%s\n",
               c->dst_name, r->outputs.length ? "it went to " : "dropped",
               ds_cstr_ro(&r->outputs));
    } else {
        printf("  switch: DROPPED at %s\n",
               r->last_step ? r->last_step : "the first table");
    }
    print_indented(ds_cstr_ro(&r->steps), "    ");
    printf("    datapath actions: %s\n", r->dp_actions);
}

/* The model's verdict and reasons, as `ovs-netpolctl explain` prints
 * them. */
static void
print_model(const json_t *model)
{
    const char *text = json_str(model, "text");
    const char *nl = strchr(text, '\n');
    printf("  model: %.*s\n", (int) (nl ? nl - text : strlen(text)), text);
    if (nl) {
        print_indented(nl + 1, "  ");
    }
}

/* What the node should do, in one line. */
static void
print_expectation(const struct conn *c)
{
    printf("  this node enforces ");
    if (c->src_local && c->dst_local) {
        printf("egress of %s and ingress of %s", c->src_name, c->dst_name);
    } else if (c->src_local) {
        printf("egress of %s only (the destination is not a pod of this "
               "node)", c->src_name);
    } else if (c->dst_local) {
        printf("ingress of %s only (the source is not a pod of this node; "
               "its egress is checked where it runs)", c->dst_name);
    } else {
        printf("nothing: neither end is a pod of this node");
    }
    printf(": it should %s it\n", c->expected ? "ALLOW" : "DROP");
}

static void
print_disagreement(const struct conn *c, const struct trace_result *r)
{
    static const char bar[] =
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        "!!!!!!!!!!";
    printf("%s\n!!! DISAGREEMENT: the switch %s %s -> %s %d/%s (IPv%d),\n"
           "!!! but the model says this node must %s it.\n%s\n", bar,
           r->committed ? "ALLOWS" : "DROPS", c->src_name, c->dst_name,
           c->port, c->protocol, c->family,
           c->expected ? "ALLOW" : "DROP", bar);
}

/* The ovs-vswitchd connection and names trace and verify share. */
struct debug_session {
    struct annotate_names names;
    struct vswitchd vs;
    json_t *pipeline;
};

static void
debug_session_open(struct debug_session *ds, const struct ctl_options *opts)
{
    ds->pipeline = names_from_agent(opts, &ds->names);
    const char *bridge = (opts->bridge ? opts->bridge
                          : json_str(ds->pipeline, "bridge"));
    vswitchd_open(&ds->vs, opts, bridge ? bridge : "br-int");
}

static void
debug_session_close(struct debug_session *ds)
{
    vswitchd_close(&ds->vs);
    annotate_names_destroy(&ds->names);
    json_decref(ds->pipeline);
}

/* --- trace ------------------------------------------------------------- */

static json_t *
explain_args(const char *from, const char *to, const char *port, int family)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "from", from, "to", to,
                     "port", port,
                     "family", family == AF_INET ? 4
                               : family == AF_INET6 ? 6 : family);
}

int
ctl_trace(struct ctl_options *opts)
{
    ctl_error_status = 2;
    if (!opts->from || !opts->to || !opts->port) {
        ctl_fatal(2, "trace needs --from NS/POD|IP, --to NS/POD|IP and "
                  "--port PORT[/PROTO]");
    }

    struct debug_session session;
    debug_session_open(&session, opts);
    json_t *model = ctl_transact(opts, "explain",
                                 explain_args(opts->from, opts->to,
                                              opts->port, opts->family));
    const json_t *src = json_object_get(model, "from");
    const json_t *dst = json_object_get(model, "to");

    struct conn c;
    char *why = NULL;
    if (!conn_init(&c, src, json_str(src, "ip"), dst, json_str(dst, "ip"),
                   json_integer_value(json_object_get(model, "family")),
                   json_str(model, "protocol"),
                   json_integer_value(json_object_get(model, "port")),
                   json_object_get(model, "uplink"), &why)) {
        ctl_fatal(2, "cannot trace: %s", why);
    }
    c.expected = json_is_true(json_object_get(model, "expected"));
    c.allowed = json_is_true(json_object_get(model, "allowed"));

    struct trace_result r;
    trace_conn(&session.vs, &session.names, &c, &r);

    char *flow_s = conn_flow(&c);
    printf("trace: %s -> %s %d/%s (IPv%d) on bridge %s\n", c.src_name,
           c.dst_name, c.port, c.protocol, c.family, session.vs.bridge);
    printf("  packet: %s\n", flow_s);
    free(flow_s);
    print_switch_verdict(&c, &r);
    print_model(model);
    print_expectation(&c);

    int status;
    if (r.committed == c.expected) {
        printf("AGREE: the switch and the model both %s it.\n",
               c.expected ? "allow" : "drop");
        status = c.expected ? 0 : 1;
    } else {
        print_disagreement(&c, &r);
        status = 3;
    }

    trace_result_destroy(&r);
    conn_destroy(&c);
    json_decref(model);
    debug_session_close(&session);
    return status;
}

/* --- verify ------------------------------------------------------------ */

static const char *
endpoint_ip(const json_t *endpoint, int family)
{
    return json_str(endpoint, family == 6 ? "ipv6" : "ipv4");
}

/* Prints everything about a disagreement: the switch's path and the
 * model's reasons. */
static void
verify_report(const struct ctl_options *opts, const struct conn *c,
              const struct trace_result *r, const json_t *src,
              const json_t *dst)
{
    print_disagreement(c, r);
    char *port = np_xasprintf("%d/%s", c->port, c->protocol);
    const char *from = json_str(src, "pod") ? json_str(src, "pod")
                                            : c->src_ip;
    const char *to = json_str(dst, "pod") ? json_str(dst, "pod")
                                          : c->dst_ip;
    json_t *model = ctl_transact(opts, "explain",
                                 explain_args(from, to, port, c->family));
    char *flow_s = conn_flow(c);
    printf("  packet: %s\n", flow_s);
    free(flow_s);
    print_switch_verdict(c, r);
    print_model(model);
    print_expectation(c);
    putchar('\n');
    json_decref(model);
    free(port);
}

int
ctl_verify(struct ctl_options *opts)
{
    ctl_error_status = 2;
    /* The switch must hold the flows of the state the model reads. */
    json_t *args = json_object();
    json_object_set_new(args, "timeout",
                        json_integer(opts->timeout ? opts->timeout : 30));
    json_decref(ctl_transact(opts, "wait-sync", args));

    struct debug_session session;
    debug_session_open(&session, opts);
    json_t *plan = ctl_transact(opts, "explain-plan", NULL);
    const json_t *endpoints = json_object_get(plan, "endpoints");
    const json_t *ports = json_object_get(plan, "ports");
    const json_t *checks = json_object_get(plan, "checks");
    const json_t *uplink = json_object_get(plan, "uplink");
    size_t n_local = json_integer_value(json_object_get(plan, "n_local"));

    printf("verify: bridge %s, %zu local pods, %zu remote peers, ports",
           session.vs.bridge, n_local,
           json_array_size(endpoints) - n_local);
    size_t i;
    const json_t *p;
    json_array_foreach (ports, i, p) {
        printf("%s%"JSON_INTEGER_FORMAT"/%s", i ? ", " : " ",
               json_integer_value(json_object_get(p, "port")),
               json_str(p, "protocol"));
    }
    putchar('\n');
    fflush(stdout);

    size_t n_checks = 0, n_disagreements = 0;
    const json_t *check;
    json_array_foreach (checks, i, check) {
        const json_t *src = json_array_get(endpoints, json_integer_value(
                                               json_array_get(check, 0)));
        const json_t *dst = json_array_get(endpoints, json_integer_value(
                                               json_array_get(check, 1)));
        const json_t *port = json_array_get(ports, json_integer_value(
                                                json_array_get(check, 2)));
        int family = json_integer_value(json_array_get(check, 3));
        struct conn c;
        char *why = NULL;
        if (!conn_init(&c, src, endpoint_ip(src, family), dst,
                       endpoint_ip(dst, family), family,
                       json_str(port, "protocol"),
                       json_integer_value(json_object_get(port, "port")),
                       uplink, &why)) {
            /* The plan only has those when there is an uplink. */
            ctl_fatal(2, "cannot trace: %s", why);
        }
        c.expected = json_integer_value(json_array_get(check, 4));
        c.allowed = json_integer_value(json_array_get(check, 5));

        struct trace_result r;
        trace_conn(&session.vs, &session.names, &c, &r);
        n_checks++;
        if (r.committed != c.expected) {
            n_disagreements++;
            verify_report(opts, &c, &r, src, dst);
        }
        trace_result_destroy(&r);
        conn_destroy(&c);
    }

    json_int_t no_uplink = json_integer_value(json_object_get(plan,
                                                              "no_uplink"));
    json_int_t truncated = json_integer_value(json_object_get(plan,
                                                              "truncated"));
    if (no_uplink) {
        printf("(%"JSON_INTEGER_FORMAT" checks from remote peers skipped: "
               "the bridge has no uplink port)\n", no_uplink);
    }
    if (truncated) {
        printf("(%"JSON_INTEGER_FORMAT" more checks not run: the plan's "
               "limit)\n", truncated);
    }
    printf("%zu checks, %zu disagreements\n", n_checks, n_disagreements);

    json_decref(plan);
    debug_session_close(&session);
    return n_disagreements ? 1 : 0;
}
