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

/* metrics.c: the HTTP endpoint for Prometheus and health probes
 * (metrics.h), on libevent's evhttp.  A sink of the agent: it reads the
 * agent's state and flow statistics and must never change either, nor block
 * the event loop. */

#include <config.h>
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "agent.h"
#include "flow-stats.h"
#include "k8s-source.h"
#include "manifest-watch.h"
#include "ofctrl.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/pipeline.h"
#include "ovsdb-monitor.h"

VLOG_DEFINE_THIS_MODULE(metrics);

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

/* HTTP limits: a scraper sends a short GET and nothing else. */
#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE 1024
#define IDLE_TIMEOUT_SEC 30

struct metrics {
    struct event_base *base;
    struct agent *agent;
    struct evhttp *http;
    char *address;              /* Where we listen, "ADDR:PORT". */

    /* The last flow statistics dump. */
    struct flow_stats stats;
    bool have_stats;            /* 'stats' holds a successful dump. */
    long long int stats_msec;   /* When it completed (np_time_msec()). */
    bool dumping;               /* A dump is in flight. */
    struct ovs_list scrapes;    /* Contains struct scrape, waiting for it. */
};

/* A GET /metrics waiting for the flow statistics. */
struct scrape {
    struct ovs_list node;       /* In 'metrics->scrapes'. */
    struct metrics *metrics;
    struct evhttp_request *req;
    struct event *timeout;
};

/* The exposition format.
 *
 * Prometheus text format 0.0.4: for each family "# HELP NAME TEXT" and
 * "# TYPE NAME TYPE", then one line per series, "NAME{LABEL="VALUE",...}
 * VALUE".  Label values escape backslash, double quote and newline; help
 * texts backslash and newline.  A series whose labels repeat within a
 * family is summed into the first, so the output never holds duplicates
 * (e.g. the variants of a rule with named ports, which share its labels). */

struct series {
    struct hmap_node node;      /* In 'struct family' 'index', by labels. */
    char *labels;               /* "{...}" or "". */
    double value;
};

struct family {
    struct ds *out;
    const char *name;
    struct series **series;     /* In order of first appearance. */
    size_t n_series, allocated_series;
    struct hmap index;          /* Contains struct series. */
};

static void
put_escaped(struct ds *s, const char *text, bool quotes)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\') {
            ds_put_cstr(s, "\\\\");
        } else if (*p == '\n') {
            ds_put_cstr(s, "\\n");
        } else if (*p == '"' && quotes) {
            ds_put_cstr(s, "\\\"");
        } else {
            ds_put_char(s, *p);
        }
    }
}

static void
family_begin(struct family *f, struct ds *out, const char *name,
             const char *type, const char *help)
{
    f->out = out;
    f->name = name;
    f->series = NULL;
    f->n_series = f->allocated_series = 0;
    hmap_init(&f->index);
    ds_put_format(out, "# HELP %s ", name);
    put_escaped(out, help, false);
    ds_put_format(out, "\n# TYPE %s %s\n", name, type);
}

/* Adds 'value' to the series with the labels given as NULL-terminated
 * name, value pairs. */
static void family_add(struct family *, double value, ...)
    __attribute__((__sentinel__));

static void
family_add(struct family *f, double value, ...)
{
    struct ds labels = DS_EMPTY_INITIALIZER;
    va_list args;

    va_start(args, value);
    const char *name = va_arg(args, const char *);
    while (name) {
        const char *label_value = va_arg(args, const char *);
        ds_put_format(&labels, "%s%s=\"", labels.length ? "," : "{", name);
        put_escaped(&labels, label_value, true);
        ds_put_char(&labels, '"');
        name = va_arg(args, const char *);
    }
    va_end(args);
    if (labels.length) {
        ds_put_char(&labels, '}');
    }

    const char *text = ds_cstr(&labels);
    uint32_t hash = np_hash_string(text, 0);
    struct series *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash, &f->index) {
        if (!strcmp(s->labels, text)) {
            s->value += value;
            ds_destroy(&labels);
            return;
        }
    }
    s = np_xmalloc(sizeof *s);
    s->labels = ds_steal_cstr(&labels);
    s->value = value;
    hmap_insert(&f->index, &s->node, hash);
    f->series = np_x2nrealloc(f->series, &f->allocated_series,
                              f->n_series + 1, sizeof *f->series);
    f->series[f->n_series++] = s;
}

/* Prints integers as integers (exact up to 2**53, which no counter here
 * reaches), and everything else in the fewest digits that read back as the
 * same double (a timestamp keeps its milliseconds, 0.1 stays "0.1"). */
static void
put_value(struct ds *out, double value)
{
    if (value >= 0 && value < 9007199254740992.0
        && value == (double) (uint64_t) value) {
        ds_put_format(out, "%"PRIu64, (uint64_t) value);
        return;
    }

    char buf[32];
    for (int precision = 6; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, value);
        if (strtod(buf, NULL) == value) {
            break;
        }
    }
    ds_put_cstr(out, buf);
}

static void
family_end(struct family *f)
{
    for (size_t i = 0; i < f->n_series; i++) {
        struct series *s = f->series[i];
        ds_put_format(f->out, "%s%s ", f->name, s->labels);
        put_value(f->out, s->value);
        ds_put_char(f->out, '\n');
        free(s->labels);
        free(s);
    }
    free(f->series);
    hmap_destroy(&f->index);
}

/* A family with a single unlabelled series. */
static void
put_single(struct ds *out, const char *name, const char *type,
           const char *help, double value)
{
    struct family f;
    family_begin(&f, out, name, type, help);
    family_add(&f, value, (char *) NULL);
    family_end(&f);
}

static double
usec_to_sec(long long int usec)
{
    return usec / 1e6;
}

/* The metrics. */

static void
put_sync(struct ds *out, const struct agent_view *v)
{
    const struct ofctrl_stats *os = ofctrl_get_stats(v->ofctrl);
    struct family f;

    family_begin(&f, out, "ovs_netpol_build_info", "gauge",
                 "The agent's version; always 1.");
    family_add(&f, 1, "version", PACKAGE_VERSION, (char *) NULL);
    family_end(&f);

    put_single(out, "ovs_netpol_synced", "gauge",
               "1 if the switch holds every change the agent's sources "
               "have delivered, else 0.", v->synced);
    put_single(out, "ovs_netpol_initial_sync_done", "gauge",
               "1 once every source delivered its first full view and the "
               "switch held the resulting flows (/healthz is 200), else 0.",
               v->first_sync_done);
    put_single(out, "ovs_netpol_last_sync_timestamp_seconds", "gauge",
               "When the switch last caught up with the agent's sources "
               "(Unix time), 0 if never.", v->last_install_wall / 1e3);
    put_single(out, "ovs_netpol_last_install_duration_seconds", "gauge",
               "Duration of the last bundle of flow mods, from sending to "
               "the switch's commit.", usec_to_sec(os->last_bundle_usec));
    put_single(out, "ovs_netpol_last_readback_duration_seconds", "gauge",
               "Duration of the last read-back of our flows from the "
               "switch (after each connection).",
               usec_to_sec(os->last_dump_usec));
}

static void
put_engine(struct ds *out, const struct agent_view *v)
{
    struct engine_stats es;
    memset(&es, 0, sizeof es);
    if (v->engine) {
        engine_get_stats(v->engine, &es);
    }

    put_single(out, "ovs_netpol_engine_last_compute_duration_seconds",
               "gauge", "Duration of the last incremental computation of "
               "the flows.", usec_to_sec(es.last_event_usec));
    put_single(out, "ovs_netpol_engine_max_compute_duration_seconds",
               "gauge", "Longest incremental computation of the flows.",
               usec_to_sec(es.max_event_usec));
    put_single(out, "ovs_netpol_engine_last_rebuild_duration_seconds",
               "gauge", "Duration of the last full computation of the "
               "flows.", usec_to_sec(es.last_rebuild_usec));
    put_single(out, "ovs_netpol_engine_events_total", "counter",
               "Changes of objects and ports the engine handled.",
               es.n_events);
    put_single(out, "ovs_netpol_engine_rebuilds_total", "counter",
               "Full computations of the flows, the first included.",
               es.n_rebuilds);
    put_single(out, "ovs_netpol_engine_flow_changes_total", "counter",
               "Flows the engine added, changed or removed.",
               es.n_flow_changes);
    put_single(out, "ovs_netpol_engine_flows", "gauge",
               "Flows the agent wants in the switch.", es.n_flows);
    put_single(out, "ovs_netpol_engine_conjunctions", "gauge",
               "Installed conjunctions and direct allows (rules and their "
               "named-port variants).", es.n_variants);
    put_single(out, "ovs_netpol_engine_peer_sets", "gauge",
               "Distinct sets of peer addresses.", es.n_peer_sets);
    put_single(out, "ovs_netpol_engine_bands", "gauge",
               "Clause priority bands in use (more than 1 when a match is "
               "shared by more rules than one flow can carry).",
               es.n_bands);
    put_single(out, "ovs_netpol_engine_local_policies", "gauge",
               "Policies that select a pod on this node.",
               es.n_active_policies);

    struct family f;
    family_begin(&f, out, "ovs_netpol_objects", "gauge",
                 "Objects in the agent's cluster state, by kind.");
    family_add(&f, hmap_count(&v->cluster->namespaces),
               "kind", "namespace", (char *) NULL);
    family_add(&f, hmap_count(&v->cluster->pods),
               "kind", "pod", (char *) NULL);
    family_add(&f, hmap_count(&v->cluster->policies),
               "kind", "networkpolicy", (char *) NULL);
    family_end(&f);
    put_single(out, "ovs_netpol_ports", "gauge",
               "OpenFlow ports of the bridge the agent knows (pods, the "
               "host, uplinks).", hmap_count(&v->cluster->ports));
}

static void
put_switch(struct ds *out, const struct agent_view *v)
{
    const struct ofctrl_stats *os = ofctrl_get_stats(v->ofctrl);
    size_t per_table[NP_N_TABLES] = { 0 };
    struct family f;

    const struct np_flow *flow;
    HMAP_FOR_EACH (flow, node, &ofctrl_installed(v->ofctrl)->flows) {
        int table = flow->table_id - v->config->first_table;
        if (table >= 0 && table < NP_N_TABLES) {
            per_table[table]++;
        }
    }
    family_begin(&f, out, "ovs_netpol_flows", "gauge",
                 "Our flows in the switch, by table (as of the last "
                 "read-back and the bundles committed since).");
    for (int i = 0; i < NP_N_TABLES; i++) {
        char table[8];
        snprintf(table, sizeof table, "%d", np_table(v->config, i));
        family_add(&f, per_table[i], "table", table,
                   "stage", np_table_name(i), (char *) NULL);
    }
    family_end(&f);

    put_single(out, "ovs_netpol_bundles_total", "counter",
               "Bundles of flow mods the switch committed.", os->n_bundles);
    family_begin(&f, out, "ovs_netpol_flow_mods_total", "counter",
                 "Flow mods sent to the switch, by kind.");
    family_add(&f, os->n_adds, "kind", "add", (char *) NULL);
    family_add(&f, os->n_modifies, "kind", "modify", (char *) NULL);
    family_add(&f, os->n_deletes, "kind", "delete", (char *) NULL);
    family_end(&f);
}

/* Whether every resource of the Kubernetes source is listing or watching
 * (not backing off after an error), from its status. */
static bool
k8s_connected(const json_t *status)
{
    const char *name;
    const json_t *r;
    json_object_foreach ((json_t *) json_object_get(status, "resources"),
                         name, r) {
        const char *state = json_string_value(json_object_get(r, "state"));
        if (!state || !strcmp(state, "backoff")) {
            return false;
        }
    }
    return true;
}

static void
put_sources(struct ds *out, const struct agent_view *v)
{
    const struct ofctrl_stats *os = ofctrl_get_stats(v->ofctrl);
    struct ovsdb_monitor_stats ds;
    struct manifest_watch_stats ms;
    json_t *k8s = v->k8s ? k8s_source_status(v->k8s) : NULL;
    struct family f;

    ovsdb_monitor_get_stats(v->ovsdb, &ds);
    if (v->manifests) {
        manifest_watch_get_stats(v->manifests, &ms);
    }

    family_begin(&f, out, "ovs_netpol_connected", "gauge",
                 "1 if the agent is connected to the switch or source, else "
                 "0 (manifests: every path exists and every file has parsed "
                 "at least once).");
    family_add(&f, ofctrl_is_connected(v->ofctrl),
               "source", "openflow", (char *) NULL);
    family_add(&f, ovsdb_monitor_is_connected(v->ovsdb),
               "source", "ovsdb", (char *) NULL);
    if (v->manifests) {
        family_add(&f, manifest_watch_is_synced(v->manifests, NULL),
                   "source", "manifests", (char *) NULL);
    }
    if (k8s) {
        family_add(&f, k8s_connected(k8s), "source", "k8s", (char *) NULL);
    }
    family_end(&f);

    family_begin(&f, out, "ovs_netpol_source_synced", "gauge",
                 "1 once the source delivered a complete view, else 0.");
    family_add(&f, ovsdb_monitor_is_synced(v->ovsdb),
               "source", "ovsdb", (char *) NULL);
    if (v->manifests) {
        family_add(&f, manifest_watch_is_synced(v->manifests, NULL),
                   "source", "manifests", (char *) NULL);
    }
    if (k8s) {
        family_add(&f, json_is_true(json_object_get(k8s, "synced")),
                   "source", "k8s", (char *) NULL);
    }
    family_end(&f);

    family_begin(&f, out, "ovs_netpol_connects_total", "counter",
                 "Connections established to the switch and to "
                 "ovsdb-server.");
    family_add(&f, os->n_connects, "source", "openflow", (char *) NULL);
    family_add(&f, ds.n_connects, "source", "ovsdb", (char *) NULL);
    family_end(&f);

    family_begin(&f, out, "ovs_netpol_errors_total", "counter",
                 "Errors, by source and kind: bundles the switch refused or "
                 "that failed, lost connections, messages and files that "
                 "did not parse, invalid objects, API errors.");
    family_add(&f, os->n_bundle_errors,
               "source", "openflow", "kind", "bundle", (char *) NULL);
    family_add(&f, os->n_disconnects,
               "source", "openflow", "kind", "disconnect", (char *) NULL);
    family_add(&f, ds.n_disconnects,
               "source", "ovsdb", "kind", "disconnect", (char *) NULL);
    family_add(&f, ds.n_connect_failures,
               "source", "ovsdb", "kind", "connect", (char *) NULL);
    family_add(&f, ds.n_parse_errors,
               "source", "ovsdb", "kind", "parse", (char *) NULL);
    family_add(&f, ds.n_bad_values,
               "source", "ovsdb", "kind", "bad_value", (char *) NULL);
    if (v->manifests) {
        family_add(&f, ms.n_file_errors,
                   "source", "manifests", "kind", "parse", (char *) NULL);
        family_add(&f, ms.n_object_errors,
                   "source", "manifests", "kind", "invalid", (char *) NULL);
    }
    if (k8s) {
        const char *kind;
        const json_t *n;
        json_object_foreach (json_object_get(k8s, "errors"), kind, n) {
            family_add(&f, json_integer_value(n),
                       "source", "k8s", "kind", kind, (char *) NULL);
        }
    }
    family_end(&f);

    if (k8s) {
        const char *type;
        const json_t *n;
        family_begin(&f, out, "ovs_netpol_k8s_events_total", "counter",
                     "Watch events received from the API server, by "
                     "type.");
        json_object_foreach (json_object_get(k8s, "events"), type, n) {
            family_add(&f, json_integer_value(n), "type", type,
                       (char *) NULL);
        }
        family_end(&f);
        put_single(out, "ovs_netpol_k8s_relists_total", "counter",
                   "Lists after the first of a resource (410 Gone).",
                   json_integer_value(json_object_get(k8s, "relists")));
        put_single(out, "ovs_netpol_k8s_watch_restarts_total", "counter",
                   "Watches started to resume an ended one.",
                   json_integer_value(json_object_get(k8s,
                                                      "watch_restarts")));
    }
    json_decref(k8s);
}

enum rule_counter {
    RULE_CONNECTIONS,
    RULE_PACKETS,
    RULE_BYTES,
};

/* One family of per-rule counters.  The variants of a rule (named ports)
 * share its labels and are summed; rules the agent cannot name are left
 * out. */
static void
put_rule_family(struct ds *out, const struct flow_stats *stats,
                bool have_stats, enum rule_counter counter)
{
    static const char *const names[] = {
        [RULE_CONNECTIONS] = "ovs_netpol_rule_connections_total",
        [RULE_PACKETS] = "ovs_netpol_rule_packets_total",
        [RULE_BYTES] = "ovs_netpol_rule_bytes_total",
    };
    static const char *const helps[] = {
        [RULE_CONNECTIONS] = "New connections the rule allowed (packets of "
                             "its rule flows).",
        [RULE_PACKETS] = "Packets of the connections the rule allowed, "
                         "both directions.",
        [RULE_BYTES] = "Bytes of the connections the rule allowed, both "
                       "directions.",
    };
    struct family f;

    family_begin(&f, out, names[counter], "counter", helps[counter]);
    for (size_t i = 0; have_stats && i < stats->n_rules; i++) {
        const struct flow_stats_rule *r = &stats->rules[i];
        if (r->state == FLOW_STATS_RULE_UNKNOWN) {
            continue;
        }
        char index[16];
        snprintf(index, sizeof index, "%u", r->index);
        family_add(&f, (counter == RULE_CONNECTIONS ? r->n_connections
                        : counter == RULE_PACKETS ? r->n_packets
                        : r->n_bytes),
                   "namespace", r->namespace, "policy", r->policy,
                   "direction", np_direction_name(r->dir), "rule", index,
                   (char *) NULL);
    }
    family_end(&f);
}

static void
put_flow_stats(struct ds *out, const struct metrics *m,
               const struct agent_view *v, bool have_stats)
{
    const struct ofctrl_stats *os = ofctrl_get_stats(v->ofctrl);
    const struct flow_stats *stats = &m->stats;
    struct family f;

    put_single(out, "ovs_netpol_flow_stats_up", "gauge",
               "1 if this scrape read the flow statistics from the switch "
               "(the rule and isolation series are present), else 0.",
               have_stats);
    put_single(out, "ovs_netpol_flow_stats_dumps_total", "counter",
               "Flow statistics dumps from the switch.", os->n_stats_dumps);
    put_single(out, "ovs_netpol_flow_stats_dump_duration_seconds", "gauge",
               "Duration of the last flow statistics dump.",
               usec_to_sec(os->last_stats_usec));

    put_rule_family(out, stats, have_stats, RULE_CONNECTIONS);
    put_rule_family(out, stats, have_stats, RULE_PACKETS);
    put_rule_family(out, stats, have_stats, RULE_BYTES);

    for (int bytes = 0; bytes < 2; bytes++) {
        family_begin(&f, out,
                     bytes ? "ovs_netpol_isolation_dropped_bytes_total"
                           : "ovs_netpol_isolation_dropped_packets_total",
                     "counter",
                     bytes ? "Bytes of the packets dropped because the pod "
                             "is isolated in that direction."
                           : "Packets dropped because the pod is isolated "
                             "in that direction and no rule allowed them.");
        for (size_t j = 0; have_stats && j < stats->n_drops; j++) {
            const struct flow_stats_drop *d = &stats->drops[j];
            if (d->pod_name) {
                family_add(&f, bytes ? d->n_bytes : d->n_packets,
                           "namespace", d->pod_namespace,
                           "pod", d->pod_name,
                           "direction", np_direction_name(d->dir),
                           (char *) NULL);
            }
        }
        family_end(&f);
    }
}

static void
metrics_render(const struct metrics *m, bool have_stats, struct ds *out)
{
    struct agent_view v;
    agent_get_view(m->agent, &v);
    put_sync(out, &v);
    put_engine(out, &v);
    put_switch(out, &v);
    put_sources(out, &v);
    put_flow_stats(out, m, &v, have_stats);
}

/* HTTP. */

static void
send_text(struct evhttp_request *req, int code, const char *reason,
          const char *content_type, const char *body, size_t size)
{
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

    evhttp_add_header(headers, "Content-Type", content_type);
    evhttp_add_header(headers, "Cache-Control", "no-store");
    evbuffer_add(buf, body, size);
    evhttp_send_reply(req, code, reason, buf);
    evbuffer_free(buf);
}

static void
send_plain(struct evhttp_request *req, int code, const char *reason,
           const char *text)
{
    send_text(req, code, reason, CONTENT_TYPE_TEXT, text, strlen(text));
}

static void
send_metrics(struct metrics *m, struct evhttp_request *req, bool have_stats)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    metrics_render(m, have_stats, &out);
    send_text(req, 200, "OK", CONTENT_TYPE_METRICS, out.string, out.length);
    ds_destroy(&out);
}

static void
scrape_destroy(struct scrape *s)
{
    ovs_list_remove(&s->node);
    event_free(s->timeout);
    free(s);
}

/* A scrape waited too long for the switch: answer without flow statistics.
 * The dump goes on and serves the scrapes after it. */
static void
scrape_timeout_cb(evutil_socket_t fd, short events, void *s_)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
    struct scrape *s = s_;

    VLOG_WARN_RL(&rl, "no flow statistics from the switch within %d ms; "
                 "answering a scrape without them",
                 METRICS_DUMP_TIMEOUT_MSEC);
    send_metrics(s->metrics, s->req, false);
    scrape_destroy(s);
}

static void
stats_cb(int error, struct flow_stats *stats, void *m_)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
    struct metrics *m = m_;
    struct scrape *s;

    m->dumping = false;
    if (error == ECANCELED) {
        /* The agent is going away: its state may be half destroyed. */
        LIST_FOR_EACH_SAFE (s, node, &m->scrapes) {
            send_plain(s->req, 503, "Service Unavailable",
                       "agent exiting\n");
            scrape_destroy(s);
        }
        return;
    }
    if (error) {
        VLOG_WARN_RL(&rl, "cannot read flow statistics (%s); answering "
                     "scrapes without them", np_strerror(error));
        m->have_stats = false;
    } else {
        flow_stats_swap(&m->stats, stats);
        m->have_stats = true;
        m->stats_msec = np_time_msec();
    }
    LIST_FOR_EACH_SAFE (s, node, &m->scrapes) {
        send_metrics(m, s->req, m->have_stats);
        scrape_destroy(s);
    }
}

static void
handle_scrape(struct metrics *m, struct evhttp_request *req)
{
    if (m->have_stats
        && np_time_msec() - m->stats_msec < METRICS_DUMP_REUSE_MSEC) {
        send_metrics(m, req, true);
        return;
    }

    struct scrape *s = np_xmalloc(sizeof *s);
    struct timeval tv = {
        METRICS_DUMP_TIMEOUT_MSEC / 1000,
        METRICS_DUMP_TIMEOUT_MSEC % 1000 * 1000,
    };
    s->metrics = m;
    s->req = req;
    s->timeout = evtimer_new(m->base, scrape_timeout_cb, s);
    evtimer_add(s->timeout, &tv);
    ovs_list_push_back(&m->scrapes, &s->node);
    if (!m->dumping) {
        m->dumping = true;
        agent_dump_stats(m->agent, stats_cb, m);
    }
}

static void
handle_healthz(struct metrics *m, struct evhttp_request *req)
{
    struct agent_view v;
    agent_get_view(m->agent, &v);
    if (v.first_sync_done) {
        send_plain(req, 200, "OK", "ok\n");
    } else {
        send_plain(req, 503, "Service Unavailable", "not synced yet\n");
    }
}

static void
request_cb(struct evhttp_request *req, void *m_)
{
    struct metrics *m = m_;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    if (!path) {
        evhttp_send_error(req, HTTP_BADREQUEST, NULL);
    } else if (strcmp(path, "/metrics") && strcmp(path, "/healthz")) {
        send_plain(req, HTTP_NOTFOUND, "Not Found",
                   "not found; try /metrics or /healthz\n");
    } else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET");
        send_plain(req, 405, "Method Not Allowed", "only GET\n");
    } else if (!strcmp(path, "/metrics")) {
        handle_scrape(m, req);
    } else {
        handle_healthz(m, req);
    }
}

/* Listening. */

char *
metrics_parse_target(const char *target, char **hostp, char **portp)
{
    const char *colon;
    char *host, *port;

    *hostp = *portp = NULL;
    if (target[0] == '[') {
        const char *end = strchr(target, ']');
        if (!end || end[1] != ':') {
            return np_xasprintf("%s: expected [IPV6-ADDRESS]:PORT", target);
        }
        host = np_xstrndup(target + 1, end - target - 1);
        colon = end + 1;
    } else if ((colon = strrchr(target, ':'))) {
        if (memchr(target, ':', colon - target)) {
            return np_xasprintf("%s: write an IPv6 address in brackets, "
                                "[ADDRESS]:PORT", target);
        }
        host = np_xstrndup(target, colon - target);
    } else {
        host = np_xstrdup("");
        colon = target - 1;
    }
    port = np_xstrdup(colon + 1);

    char *end;
    long n = strtol(port, &end, 10);
    if (!port[0] || *end || n < 0 || n > 65535) {
        char *error = np_xasprintf("%s: expected [ADDRESS:]PORT with a port "
                                   "number from 0 to 65535", target);
        free(host);
        free(port);
        return error;
    }
    if (!host[0]) {
        free(host);
        host = np_xstrdup("127.0.0.1");
    }
    *hostp = host;
    *portp = port;
    return NULL;
}

/* Formats the address 'fd' is bound to as "ADDR:PORT" or "[ADDR]:PORT". */
static char *
bound_address(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getsockname(fd, (struct sockaddr *) &ss, &len)
        || getnameinfo((struct sockaddr *) &ss, len, host, sizeof host,
                       port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV)) {
        return np_xstrdup("?");
    }
    return np_xasprintf(ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                        host, port);
}

/* Binds a listening socket to 'target'.  Returns it, or -1 and a malloc'd
 * message in '*errorp'. */
static int
metrics_listen(const char *target, char **errorp)
{
    char *host, *port;
    *errorp = metrics_parse_target(target, &host, &port);
    if (*errorp) {
        return -1;
    }

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    struct addrinfo *ai;
    int retval = getaddrinfo(host, port, &hints, &ai);
    if (retval) {
        *errorp = np_xasprintf("--metrics=%s: cannot resolve %s (%s)",
                               target, host, gai_strerror(retval));
        free(host);
        free(port);
        return -1;
    }

    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int error = fd < 0 ? errno : 0;
    int on = 1;
    if (!error
        && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)
            || bind(fd, ai->ai_addr, ai->ai_addrlen)
            || listen(fd, 64))) {
        error = errno;
    }
    if (error) {
        *errorp = np_xasprintf("--metrics=%s: cannot listen on %s port %s "
                               "(%s)", target, host, port, np_strerror(error));
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    freeaddrinfo(ai);
    free(host);
    free(port);
    return fd;
}

struct metrics *
metrics_create(struct event_base *base, const char *target,
               struct agent *agent, char **errorp)
{
    int fd = metrics_listen(target, errorp);
    if (fd < 0) {
        return NULL;
    }

    struct metrics *m = np_xzalloc(sizeof *m);
    m->base = base;
    m->agent = agent;
    m->address = bound_address(fd);
    flow_stats_init(&m->stats);
    ovs_list_init(&m->scrapes);
    m->http = evhttp_new(base);
    evhttp_set_max_headers_size(m->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(m->http, MAX_BODY_SIZE);
    evhttp_set_timeout(m->http, IDLE_TIMEOUT_SEC);
    evhttp_set_gencb(m->http, request_cb, m);
    if (!evhttp_accept_socket_with_handle(m->http, fd)) {
        *errorp = np_xasprintf("--metrics=%s: cannot accept connections",
                               target);
        close(fd);
        metrics_destroy(m);
        return NULL;
    }
    VLOG_INFO("serving HTTP on %s: /metrics and /healthz", m->address);
    return m;
}

void
metrics_destroy(struct metrics *m)
{
    if (!m) {
        return;
    }
    /* Answered first: evhttp_free() frees the requests of open
     * connections. */
    struct scrape *s;
    LIST_FOR_EACH_SAFE (s, node, &m->scrapes) {
        send_plain(s->req, 503, "Service Unavailable", "agent exiting\n");
        scrape_destroy(s);
    }
    evhttp_free(m->http);
    flow_stats_destroy(&m->stats);
    free(m->address);
    free(m);
}
