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

/* agent.c: the agent's core (agent.h): the cluster state, the run that
 * compiles it and hands the flows to ofctrl, and the control commands.  Its
 * inputs are the sources (ovsdb-monitor.c, manifest-watch.c,
 * k8s-source.c), its output
 * ofctrl.c; it does no I/O of its own. */

#include <config.h>
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <event2/event.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "agent-explain.h"
#include "audit.h"
#include "control.h"
#include "flow-stats.h"
#include "k8s-source.h"
#include "manifest-watch.h"
#include "metrics.h"
#include "ofctrl.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"
#include "ovsdb-monitor.h"

VLOG_DEFINE_THIS_MODULE(agent);

/* A "wait-sync" request waiting for the switch to catch up. */
struct waiter {
    struct ovs_list node;       /* In 'agent->waiters'. */
    struct agent *agent;
    struct control_request *req;
    bool sources_pending;       /* Waiting for the sources to catch up. */
    int n_barriers;             /* Source barriers not yet completed. */
    uint64_t target_seq;        /* Then, for the switch to hold this. */
    long long int deadline;     /* msec, or LLONG_MAX. */
};

struct agent {
    struct event_base *base;
    struct agent_options opts;
    struct np_config config;

    struct cluster cluster;
    struct conj_ids ids;
    struct engine *engine;      /* Built after the first install. */
    struct flow_set *first_flows;       /* Until then: compile_full() of the
                                         * first full view... */
    struct np_problems first_problems;  /* ...and what it reported. */
    long long int first_compile_usec;   /* How long that compile took. */
    struct flow_set tracked;    /* Flows the engine changed since the last
                                 * put... */
    bool full_put;              /* ...unless everything must be compared. */

    uint64_t change_seq;        /* Bumped by every change of 'cluster'. */
    uint64_t desired_seq;       /* The change_seq 'desired' reflects. */
    bool dirty;                 /* Changes not yet taken from the engine. */
    bool synced_once;           /* Every source delivered a full view. */

    long long int last_install_wall;    /* msec since the epoch, or 0. */

    struct ovsdb_monitor *ovsdb;
    struct manifest_watch *manifests;
    struct k8s_source *k8s;
    struct ofctrl *ofctrl;
    struct control_server *control;
    struct metrics *metrics;    /* --metrics, or NULL. */
    struct audit *audit;        /* --audit, or NULL. */
    struct ovs_list stats_requests;     /* Contains struct stats_request. */

    struct event *run_event;
    struct event *engine_event; /* Builds the engine after the first
                                 * install. */
    struct event *waiter_timer;
    struct ovs_list waiters;    /* Contains struct waiter. */
};

static void agent_run(struct agent *);
static void log_problems(const struct agent *);

void
agent_changed(struct agent *agent)
{
    agent->change_seq++;
    agent->dirty = true;
    audit_cluster_changed(agent->audit);
    event_active(agent->run_event, EV_TIMEOUT, 0);
}

void
agent_reopen_logs(struct agent *agent)
{
    audit_reopen(agent->audit);
}

/* Sources. */

/* A source changed one object in the cluster: tell the engine. */
static void
object_changed_cb(enum np_kind kind, const char *ns, const char *name,
                  void *agent_)
{
    struct agent *agent = agent_;
    if (agent->engine) {
        engine_object_changed(agent->engine, kind, ns, name);
    }
}

static void
ports_changed_cb(void *agent_)
{
    struct agent *agent = agent_;
    const struct hmap *ports = ovsdb_monitor_ports(agent->ovsdb);
    struct cluster *cluster = &agent->cluster;
    bool changed = false;

    struct local_port *port;
    HMAP_FOR_EACH_SAFE (port, node, &cluster->ports) {
        if (!ovsdb_monitor_find_port(agent->ovsdb, port->ofport)) {
            uint32_t ofport = port->ofport;
            cluster_delete_port(cluster, ofport);
            if (agent->engine) {
                engine_port_changed(agent->engine, ofport);
            }
            changed = true;
        }
    }
    const struct local_port *new;
    HMAP_FOR_EACH (new, node, ports) {
        const struct local_port *old = cluster_find_port(cluster,
                                                         new->ofport);
        if (!old || !local_port_equal(old, new)) {
            cluster_set_port(cluster, local_port_clone(new));
            if (agent->engine) {
                engine_port_changed(agent->engine, new->ofport);
            }
            changed = true;
        }
    }
    if (changed && agent->k8s) {
        k8s_source_check_node(agent->k8s, cluster);
    }
    if (changed || !agent->synced_once) {
        agent_changed(agent);
    }
}

static void
manifests_changed_cb(void *agent_)
{
    struct agent *agent = agent_;
    if (manifest_watch_apply(agent->manifests, &agent->cluster,
                             object_changed_cb, agent)
        || !agent->synced_once) {
        agent_changed(agent);
    }
}

static void
k8s_changed_cb(void *agent_)
{
    struct agent *agent = agent_;
    if (k8s_source_apply(agent->k8s, &agent->cluster, object_changed_cb,
                         agent)
        || !agent->synced_once) {
        k8s_source_check_node(agent->k8s, &agent->cluster);
        agent_changed(agent);
    }
}

static bool
sources_synced(const struct agent *agent)
{
    return (ovsdb_monitor_is_synced(agent->ovsdb)
            && (!agent->manifests
                || manifest_watch_is_synced(agent->manifests, NULL))
            && (!agent->k8s || k8s_source_is_synced(agent->k8s)));
}

/* The run. */

/* The flows the switch should hold now. */
static const struct flow_set *
agent_desired_flows(const struct agent *agent)
{
    return agent->engine ? engine_flows(agent->engine) : agent->first_flows;
}

static void
agent_get_problems(const struct agent *agent, struct np_problems *problems)
{
    if (agent->engine) {
        engine_get_problems(agent->engine, problems);
    } else {
        np_problems_append(problems, &agent->first_problems);
    }
}

/* The first full view is compiled with compile_full(), which is several
 * times faster than building the engine, so that the first install (an
 * agent start, a node boot) does not wait for the engine; the engine is
 * built right after, from the same cluster and conjunction IDs, and gives
 * the same flows. */
static void
agent_compile_first(struct agent *agent)
{
    agent->first_flows = np_xmalloc(sizeof *agent->first_flows);
    flow_set_init(agent->first_flows);
    long long int start = np_time_usec();
    compile_full(&agent->cluster, &agent->config, &agent->ids,
                 agent->first_flows, &agent->first_problems, NULL);
    agent->first_compile_usec = np_time_usec() - start;
    agent->desired_seq = agent->change_seq;
    agent->dirty = false;
    agent->full_put = true;
    log_problems(agent);
}

/* Builds the engine from the current cluster, which includes every change
 * since the first compile; the next put compares everything. */
static void
agent_build_engine(struct agent *agent)
{
    if (agent->engine) {
        return;
    }
    agent->engine = engine_create(&agent->cluster, &agent->config,
                                  &agent->ids);
    flow_set_destroy(agent->first_flows);
    free(agent->first_flows);
    agent->first_flows = NULL;
    np_problems_clear(&agent->first_problems);
    agent->full_put = true;
    flow_set_clear(&agent->tracked);
}

static void
engine_event_cb(evutil_socket_t fd, short events, void *agent_)
{
    struct agent *agent = agent_;
    if (agent->synced_once) {
        agent_build_engine(agent);
    }
}

static void
log_problems(const struct agent *agent)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 20);
    struct np_problems problems;

    np_problems_init(&problems);
    agent_get_problems(agent, &problems);
    for (size_t i = 0; i < problems.n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems.items[i], &s);
        VLOG_WARN_RL(&rl, "%s", ds_cstr(&s));
        ds_destroy(&s);
    }
    np_problems_destroy(&problems);
}

/* Takes what the engine changed since the last time into 'tracked'. */
static void
agent_take_changes(struct agent *agent)
{
    struct flow_set tracked;
    flow_set_init(&tracked);
    if (!engine_take_tracked(agent->engine, &tracked)) {
        agent->full_put = true;
    }
    struct np_flow *flow;
    HMAP_FOR_EACH_POP (flow, node, &tracked.flows) {
        if (flow_set_find_flow(&agent->tracked, flow)) {
            np_flow_destroy(flow);
        } else {
            flow_set_insert(&agent->tracked, flow);
        }
    }
    flow_set_destroy(&tracked);
    agent->desired_seq = agent->change_seq;
    agent->dirty = false;
    log_problems(agent);
}

static void
answer_waiters(struct agent *agent)
{
    uint64_t installed = ofctrl_installed_seq(agent->ofctrl);
    long long int now = np_time_msec();
    struct waiter *w;

    LIST_FOR_EACH_SAFE (w, node, &agent->waiters) {
        if (!w->req) {
            /* Already answered (timed out); kept until its source
             * barriers, which point to it, have completed. */
            if (!w->sources_pending) {
                ovs_list_remove(&w->node);
                free(w);
            }
            continue;
        }
        bool done = (!w->sources_pending && agent->synced_once
                     && !agent->dirty && installed >= w->target_seq);
        if (done) {
            control_request_reply(w->req, json_pack("{sI}", "seq",
                                                    (json_int_t) installed));
        } else if (now >= w->deadline) {
            control_request_error(w->req, "timed out waiting for the switch "
                                  "(installed %"PRIu64", wanted %"PRIu64
                                  "; switch %s)", installed, w->target_seq,
                                  ofctrl_state_name(agent->ofctrl));
        } else {
            continue;
        }
        w->req = NULL;
        if (!w->sources_pending) {
            ovs_list_remove(&w->node);
            free(w);
        }
    }
}

static void
agent_run(struct agent *agent)
{
    if (!agent->synced_once) {
        if (!sources_synced(agent)) {
            return;
        }
        agent->synced_once = true;
        VLOG_INFO("every source has delivered its first full view; "
                  "installing policy");
        agent_compile_first(agent);
    } else if (agent->dirty) {
        agent_build_engine(agent);
        agent_take_changes(agent);
    }

    /* Only what the engine changed, unless the switch needs everything
     * compared (the first install, a reconnection, a refused bundle, a
     * rebuild). */
    const struct flow_set *desired = agent_desired_flows(agent);
    struct ofctrl *ofctrl = agent->ofctrl;
    if (ofctrl_installed_seq(ofctrl) < agent->desired_seq
        && (agent->full_put || ofctrl_wants_full(ofctrl)
            ? ofctrl_put(ofctrl, desired, agent->desired_seq)
            : ofctrl_put_tracked(ofctrl, desired, &agent->tracked,
                                 agent->desired_seq))) {
        agent->full_put = false;
        flow_set_clear(&agent->tracked);
        if (ofctrl_installed_seq(ofctrl) >= agent->desired_seq) {
            agent->last_install_wall = np_time_wall_msec();
        }
    }
    answer_waiters(agent);
    if (!agent->engine
        && ofctrl_installed_seq(ofctrl) >= agent->desired_seq) {
        /* After a poll of the sockets, so that the replies to the waiters
         * just answered go out first. */
        struct timeval soon = { 0, 10 * 1000 };
        evtimer_add(agent->engine_event, &soon);
    }
}

static void
run_cb(evutil_socket_t fd, short events, void *agent_)
{
    agent_run(agent_);
}

static void
switch_ready_cb(void *agent_)
{
    struct agent *agent = agent_;
    if (ofctrl_installed_seq(agent->ofctrl) >= agent->desired_seq
        && agent->desired_seq) {
        agent->last_install_wall = np_time_wall_msec();
    }
    event_active(agent->run_event, EV_TIMEOUT, 0);
}

static void
waiter_timer_cb(evutil_socket_t fd, short events, void *agent_)
{
    struct agent *agent = agent_;
    struct timeval tv = { 0, 200 * 1000 };
    answer_waiters(agent);
    if (!ovs_list_is_empty(&agent->waiters)) {
        evtimer_add(agent->waiter_timer, &tv);
    }
}

/* Control commands. */

/* A barrier of a "wait-sync" is done (the OVSDB round trip, the API
 * server's current resourceVersion reached, the manifests settled, or a
 * round trip to the switch).  Once all are, every change made before the
 * request has been applied, and a switch that restarted before it has been
 * noticed. */
static void
waiter_sources_done(void *w_)
{
    struct waiter *w = w_;
    if (--w->n_barriers) {
        return;
    }
    w->sources_pending = false;
    w->target_seq = w->agent->change_seq;
    event_active(w->agent->run_event, EV_TIMEOUT, 0);
}

static void
cmd_wait_sync(struct control_request *req, const json_t *args, void *agent_)
{
    struct agent *agent = agent_;

    /* Catch up with the sources first: a manifest written or a port added
     * just before the request must count. */
    if (agent->manifests) {
        manifest_watch_rescan(agent->manifests);
    }

    struct waiter *w = np_xzalloc(sizeof *w);
    json_t *timeout = json_object_get(args, "timeout");
    w->agent = agent;
    w->req = req;
    w->sources_pending = true;
    w->target_seq = agent->change_seq;
    w->deadline = (json_is_number(timeout) && json_number_value(timeout) > 0
                   ? np_time_msec() + json_number_value(timeout) * 1000
                   : LLONG_MAX);
    ovs_list_push_back(&agent->waiters, &w->node);
    w->n_barriers = 2 + (agent->k8s != NULL) + (agent->manifests != NULL);
    ovsdb_monitor_barrier(agent->ovsdb, waiter_sources_done, w);
    ofctrl_barrier(agent->ofctrl, waiter_sources_done, w);
    if (agent->k8s) {
        k8s_source_barrier(agent->k8s, waiter_sources_done, w);
    }
    if (agent->manifests) {
        manifest_watch_barrier(agent->manifests, waiter_sources_done, w);
    }

    struct timeval tv = { 0, 200 * 1000 };
    evtimer_add(agent->waiter_timer, &tv);
    event_active(agent->run_event, EV_TIMEOUT, 0);
}

static json_t *
cidrs_to_json(const struct cidr *cidrs, size_t n)
{
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++) {
        char *s = cidr_to_string(&cidrs[i]);
        char *slash = cidr_is_host(&cidrs[i]) ? strchr(s, '/') : NULL;
        if (slash) {
            *slash = '\0';
        }
        json_array_append_new(array, json_string(s));
        free(s);
    }
    return array;
}

static json_t *
ports_to_json(const struct agent *agent)
{
    json_t *array = json_array();
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &agent->cluster.ports) {
        json_t *p = json_pack("{sIss}", "ofport", (json_int_t) port->ofport,
                              "name", port->name);
        if (local_port_is_pod(port)) {
            const struct np_pod *pod = cluster_find_pod(
                &agent->cluster, port->pod_namespace, port->pod_name);
            char *name = np_xasprintf("%s/%s", port->pod_namespace,
                                      port->pod_name);
            json_object_set_new(p, "pod", json_string(name));
            free(name);
            json_object_set_new(p, "known", json_boolean(pod != NULL));
            json_object_set_new(p, "ips", port->n_ips || !pod
                                ? cidrs_to_json(port->ips, port->n_ips)
                                : cidrs_to_json(pod->ips, pod->n_ips));
            if (port->has_mac) {
                char mac[18];
                snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x",
                         port->mac[0], port->mac[1], port->mac[2],
                         port->mac[3], port->mac[4], port->mac[5]);
                json_object_set_new(p, "mac", json_string(mac));
            }
        } else {
            json_object_set_new(p, "role", json_string(
                                    port->ofport == LOCAL_PORT_HOST
                                    ? "host" : "uplink"));
        }
        json_array_append_new(array, p);
    }
    return array;
}

static json_t *
rules_to_json(const struct agent *agent)
{
    json_t *array = json_array();
    const struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &agent->ids.by_id) {
        if (!ref->retired) {
            json_array_append_new(array, json_pack(
                "{sIsssssssIss}", "conj_id", (json_int_t) ref->id,
                "namespace", ref->namespace, "policy", ref->policy,
                "direction", np_direction_name(ref->dir),
                "index", (json_int_t) ref->index,
                "variant", ref->variant));
        }
    }
    return array;
}

static json_t *
problems_to_json(const struct np_problems *problems, json_t *array)
{
    for (size_t i = 0; i < problems->n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems->items[i], &s);
        json_array_append_new(array, json_string(ds_cstr(&s)));
        ds_destroy(&s);
    }
    return array;
}

static json_t *
switch_to_json(const struct agent *agent)
{
    const struct ofctrl_stats *s = ofctrl_get_stats(agent->ofctrl);
    json_t *j = json_pack(
        "{sssssbsIsIsIsIsIsIsIsIsIsIsIsI}",
        "target", agent->opts.openflow,
        "state", ofctrl_state_name(agent->ofctrl),
        "connected", ofctrl_is_connected(agent->ofctrl),
        "installed_flows",
        (json_int_t) flow_set_count(ofctrl_installed(agent->ofctrl)),
        "installed_seq", (json_int_t) ofctrl_installed_seq(agent->ofctrl),
        "connects", (json_int_t) s->n_connects,
        "disconnects", (json_int_t) s->n_disconnects,
        "bundles", (json_int_t) s->n_bundles,
        "bundle_errors", (json_int_t) s->n_bundle_errors,
        "flow_mods", (json_int_t) s->n_flow_mods,
        "adds", (json_int_t) s->n_adds,
        "modifies", (json_int_t) s->n_modifies,
        "deletes", (json_int_t) s->n_deletes,
        "last_bundle_flow_mods", (json_int_t) s->last_bundle_flow_mods,
        "last_bundle_usec", (json_int_t) s->last_bundle_usec);
    json_object_set_new(j, "foreign_changes",
                        json_integer(s->n_foreign_changes));
    if (s->last_error) {
        json_object_set_new(j, "last_error", json_string(s->last_error));
    }
    return j;
}

static json_t *
sources_to_json(const struct agent *agent)
{
    struct ovsdb_monitor_stats os;
    ovsdb_monitor_get_stats(agent->ovsdb, &os);
    json_t *j = json_object();
    json_object_set_new(j, "ovsdb", json_pack(
        "{sssbsbsIsIsI}", "remote", agent->opts.ovsdb,
        "connected", ovsdb_monitor_is_connected(agent->ovsdb),
        "synced", ovsdb_monitor_is_synced(agent->ovsdb),
        "connects", (json_int_t) os.n_connects,
        "updates", (json_int_t) os.n_updates,
        "parse_errors", (json_int_t) os.n_parse_errors));
    const char *fail_mode = ovsdb_monitor_fail_mode(agent->ovsdb);
    json_object_set_new(json_object_get(j, "ovsdb"), "bridge_fail_mode",
                        fail_mode ? json_string(*fail_mode ? fail_mode
                                                : "standalone (unset)")
                                  : json_null());
    if (agent->manifests) {
        struct manifest_watch_stats ms;
        manifest_watch_get_stats(agent->manifests, &ms);
        char *why;
        bool synced = manifest_watch_is_synced(agent->manifests, &why);
        json_object_set_new(j, "manifests", json_pack(
            "{sbsIsIsIsIsI}",
            "synced", synced,
            "files", (json_int_t) ms.n_files,
            "objects", (json_int_t) ms.n_objects,
            "scans", (json_int_t) ms.n_scans,
            "file_errors", (json_int_t) ms.n_file_errors,
            "object_errors", (json_int_t) ms.n_object_errors));
        if (why) {
            json_object_set_new(json_object_get(j, "manifests"),
                                "waiting_for", json_string(why));
            free(why);
        }
    }
    if (agent->k8s) {
        json_object_set_new(j, "k8s", k8s_source_status(agent->k8s));
    }
    return j;
}

static void
cmd_status(struct control_request *req, const json_t *args, void *agent_)
{
    struct agent *agent = agent_;
    struct engine_stats es;
    memset(&es, 0, sizeof es);
    if (agent->engine) {
        engine_get_stats(agent->engine, &es);
    }
    json_t *status = json_object();

    json_object_set_new(status, "synced", json_boolean(
                            agent->synced_once && !agent->dirty
                            && ofctrl_installed_seq(agent->ofctrl)
                               >= agent->desired_seq));
    json_object_set_new(status, "node_name", agent->opts.node_name
                        ? json_string(agent->opts.node_name) : json_null());
    json_object_set_new(status, "change_seq",
                        json_integer(agent->change_seq));
    json_object_set_new(status, "desired_seq",
                        json_integer(agent->desired_seq));
    json_object_set_new(status, "last_install_wall_msec",
                        json_integer(agent->last_install_wall));
    json_object_set_new(status, "first_compile_usec",
                        json_integer(agent->first_compile_usec));
    json_object_set_new(status, "engine", json_pack(
        "{sIsIsIsIsIsIsIsIsIsI}",
        "events", (json_int_t) es.n_events,
        "rebuilds", (json_int_t) es.n_rebuilds,
        "last_event_usec", (json_int_t) es.last_event_usec,
        "max_event_usec", (json_int_t) es.max_event_usec,
        "last_rebuild_usec", (json_int_t) es.last_rebuild_usec,
        "flows", (json_int_t) es.n_flows,
        "policies_local", (json_int_t) es.n_active_policies,
        "conjunctions", (json_int_t) es.n_variants,
        "peer_sets", (json_int_t) es.n_peer_sets,
        "bands", (json_int_t) es.n_bands));
    json_object_set_new(status, "counts", json_pack(
        "{sIsIsI}",
        "namespaces", (json_int_t) hmap_count(&agent->cluster.namespaces),
        "pods", (json_int_t) hmap_count(&agent->cluster.pods),
        "policies", (json_int_t) hmap_count(&agent->cluster.policies)));
    json_object_set_new(status, "sources", sources_to_json(agent));
    json_object_set_new(status, "switch", switch_to_json(agent));
    json_object_set_new(status, "audit", audit_status(agent->audit));
    json_object_set_new(status, "ports", ports_to_json(agent));
    json_object_set_new(status, "rules", rules_to_json(agent));
    struct np_problems problems;
    np_problems_init(&problems);
    agent_get_problems(agent, &problems);
    json_object_set_new(status, "problems",
                        problems_to_json(&problems, json_array()));
    np_problems_destroy(&problems);
    control_request_reply(req, status);
}

static void
cmd_rules(struct control_request *req, const json_t *args, void *agent_)
{
    control_request_reply(req, rules_to_json(agent_));
}

static void
cmd_flows(struct control_request *req, const json_t *args, void *agent_)
{
    struct agent *agent = agent_;
    struct ds s = DS_EMPTY_INITIALIZER;
    if (agent_desired_flows(agent)) {
        flow_set_format(agent_desired_flows(agent), &s);
    }
    control_request_reply(req, json_string(ds_cstr(&s)));
    ds_destroy(&s);
}

static void
cmd_recompute(struct control_request *req, const json_t *args, void *agent_)
{
    struct agent *agent = agent_;
    if (agent->synced_once) {
        agent_build_engine(agent);
        engine_rebuild(agent->engine);
    }
    agent_changed(agent);
    control_request_reply(req, json_pack("{sI}", "change_seq",
                                         (json_int_t) agent->change_seq));
}

static void
cmd_resync(struct control_request *req, const json_t *args, void *agent_)
{
    struct agent *agent = agent_;
    ofctrl_resync(agent->ofctrl);
    control_request_reply(req, json_string(ofctrl_state_name(agent->ofctrl)));
}

/* Flow statistics and the view for metrics. */

/* A caller of agent_dump_stats() waiting for the switch. */
struct stats_request {
    struct ovs_list node;       /* In 'agent->stats_requests'. */
    struct agent *agent;
    agent_stats_cb *cb;
    void *aux;
};

/* Names the counters with the rules and ports as they are now: a rule
 * deleted since the dump is still named while its ID is retired. */
static void
stats_dumped_cb(int error, const struct flow_stats_entry *entries, size_t n,
                void *sr_)
{
    struct stats_request *sr = sr_;
    struct agent *agent = sr->agent;
    struct flow_stats stats;

    flow_stats_init(&stats);
    if (!error) {
        flow_stats_compute(&stats, entries, n, &agent->config, &agent->ids,
                           &agent->cluster);
    }
    ovs_list_remove(&sr->node);
    sr->cb(error, &stats, sr->aux);
    flow_stats_destroy(&stats);
    free(sr);
}

void
agent_dump_stats(struct agent *agent, agent_stats_cb *cb, void *aux)
{
    struct stats_request *sr = np_xmalloc(sizeof *sr);
    sr->agent = agent;
    sr->cb = cb;
    sr->aux = aux;
    ovs_list_push_back(&agent->stats_requests, &sr->node);
    ofctrl_dump_stats(agent->ofctrl, stats_dumped_cb, sr);
}

/* Drops the requests ofctrl will never answer (it is gone). */
static void
cancel_stats_requests(struct agent *agent)
{
    struct stats_request *sr;
    LIST_FOR_EACH_POP (sr, node, &agent->stats_requests) {
        struct flow_stats empty;
        flow_stats_init(&empty);
        sr->cb(ECANCELED, &empty, sr->aux);
        free(sr);
    }
}

void
agent_get_view(const struct agent *agent, struct agent_view *view)
{
    view->config = &agent->config;
    view->cluster = &agent->cluster;
    view->synced = (agent->synced_once && !agent->dirty
                    && ofctrl_installed_seq(agent->ofctrl)
                       >= agent->desired_seq);
    /* Set only once the switch held a desired state (desired_seq >= 1). */
    view->first_sync_done = agent->last_install_wall != 0;
    view->last_install_wall = agent->last_install_wall;
    view->ofctrl = agent->ofctrl;
    view->engine = agent->engine;
    view->ovsdb = agent->ovsdb;
    view->manifests = agent->manifests;
    view->k8s = agent->k8s;
}

static void
stats_reply_cb(int error, struct flow_stats *stats, void *req_)
{
    struct control_request *req = req_;
    if (!error) {
        control_request_reply(req, flow_stats_to_json(stats));
    } else if (error == ENOTCONN) {
        control_request_error(req, "not connected to the switch");
    } else if (error == ECANCELED) {
        control_request_error(req, "agent exiting");
    } else {
        control_request_error(req, "reading flow statistics failed (%s)",
                              np_strerror(error));
    }
}

static void
cmd_stats(struct control_request *req, const json_t *args, void *agent_)
{
    agent_dump_stats(agent_, stats_reply_cb, req);
}

static void
register_commands(struct agent *agent)
{
    static const struct {
        const char *name;
        control_handler *handler;
    } commands[] = {
        { "status", cmd_status },
        { "wait-sync", cmd_wait_sync },
        { "rules", cmd_rules },
        { "flows", cmd_flows },
        { "recompute", cmd_recompute },
        { "resync", cmd_resync },
        { "stats", cmd_stats },
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(commands); i++) {
        control_server_register(agent->control, commands[i].name,
                                commands[i].handler, agent);
    }
    agent_explain_register(agent->control, &agent->cluster, &agent->ids,
                           &agent->opts);
}

/* Life cycle. */

struct agent *
agent_create(struct event_base *base, const struct agent_options *opts)
{
    struct agent *agent = np_xzalloc(sizeof *agent);
    char *error;

    agent->base = base;
    agent->opts = *opts;
    agent->config = opts->config;
    cluster_init(&agent->cluster);
    conj_ids_init(&agent->ids);
    flow_set_init(&agent->tracked);
    ovs_list_init(&agent->waiters);
    ovs_list_init(&agent->stats_requests);
    agent->run_event = event_new(base, -1, 0, run_cb, agent);
    agent->engine_event = evtimer_new(base, engine_event_cb, agent);
    np_problems_init(&agent->first_problems);
    agent->waiter_timer = evtimer_new(base, waiter_timer_cb, agent);

    agent->control = control_server_create(base, opts->control, &error);
    if (!agent->control) {
        VLOG_ERR("%s", error);
        free(error);
        agent_destroy(agent);
        return NULL;
    }
    register_commands(agent);
    if (opts->metrics) {
        agent->metrics = metrics_create(base, opts->metrics, agent, &error);
        if (!agent->metrics) {
            VLOG_ERR("%s", error);
            free(error);
            agent_destroy(agent);
            return NULL;
        }
    }

    if (opts->config.audit) {
        struct audit_options ao = {
            .target = opts->openflow,
            .log_file = opts->audit_log,
            .meter_id = opts->config.audit_meter,
            .rate = opts->audit_rate,
            .dedup_msec = opts->audit_dedup_msec,
            .first_table = opts->config.first_table,
        };
        agent->audit = audit_create(base, &ao, &agent->cluster, &agent->ids,
                                    &error);
        if (!agent->audit) {
            VLOG_ERR("%s", error);
            free(error);
            agent_destroy(agent);
            return NULL;
        }
    }

    agent->ovsdb = ovsdb_monitor_create(base, opts->ovsdb, opts->bridge,
                                        ports_changed_cb, agent);
    if (!agent->ovsdb) {
        agent_destroy(agent);
        return NULL;
    }
    if (opts->n_manifests) {
        agent->manifests = manifest_watch_create(base, opts->manifests,
                                                 opts->n_manifests,
                                                 manifests_changed_cb, agent);
    } else if (opts->k8s) {
        agent->k8s = k8s_source_create(base, opts->k8s, k8s_changed_cb,
                                       agent);
    }
    agent->ofctrl = ofctrl_create(base, opts->openflow, switch_ready_cb,
                                  agent);
    ofctrl_set_flow_check(agent->ofctrl, opts->flow_check_sec);
    if (agent->audit) {
        /* The meter before any flow that uses it, on every connection. */
        ofctrl_set_setup(agent->ofctrl, audit_setup_switch, agent->audit);
    }
    agent->change_seq = 1;
    return agent;
}

void
agent_destroy(struct agent *agent)
{
    if (!agent) {
        return;
    }
    /* The sources go first: their pending barriers point to waiters, and
     * destroying them drops the barriers without calling back. */
    ovsdb_monitor_destroy(agent->ovsdb);
    agent->ovsdb = NULL;
    k8s_source_destroy(agent->k8s);
    agent->k8s = NULL;
    manifest_watch_destroy(agent->manifests);
    agent->manifests = NULL;
    struct waiter *w;
    LIST_FOR_EACH_POP (w, node, &agent->waiters) {
        if (w->req) {
            control_request_error(w->req, "agent exiting");
        }
        free(w);
    }
    ofctrl_destroy(agent->ofctrl);
    agent->ofctrl = NULL;
    audit_destroy(agent->audit);    /* After ofctrl: its worker calls it. */
    agent->audit = NULL;
    cancel_stats_requests(agent);
    metrics_destroy(agent->metrics);
    control_server_destroy(agent->control);
    event_free(agent->run_event);
    event_free(agent->engine_event);
    event_free(agent->waiter_timer);
    engine_destroy(agent->engine);
    if (agent->first_flows) {
        flow_set_destroy(agent->first_flows);
        free(agent->first_flows);
    }
    np_problems_destroy(&agent->first_problems);
    flow_set_destroy(&agent->tracked);
    conj_ids_destroy(&agent->ids);
    cluster_destroy(&agent->cluster);
    free(agent);
}
