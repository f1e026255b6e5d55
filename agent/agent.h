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

#ifndef AGENT_H
#define AGENT_H 1

/* The agent: sources -> cluster state -> compiler -> ofctrl -> switch.
 *
 * The agent owns the cluster state.  Its sources (OVSDB ports, and either
 * manifest files or the Kubernetes API) write into it and call
 * agent_changed(); that schedules one run on the next turn of the event loop,
 * however many changes arrive in one turn (Redis's beforeSleep idea).  A run
 * computes the flow set and hands it to ofctrl, which sends only the
 * difference from what the switch holds.
 *
 * Fail closed: nothing is sent to the switch before every source has
 * delivered its first complete view.  Until then the switch keeps whatever it
 * had (the flows of a previous agent, or none: a fresh bridge with
 * fail_mode=secure and our empty tables drop everything).
 *
 * Sequence numbers say what the switch holds: every change bumps the change
 * sequence; ofctrl reports the sequence of the last state it installed.  A
 * "wait-sync" request first makes the sources catch up with the world, then
 * answers once the installed sequence reaches the change sequence.
 *
 * All calls run on the loop thread. */

#include <stdbool.h>
#include <stddef.h>
#include "ovs-netpol/pipeline.h"

struct event_base;
struct agent;
struct cluster;
struct engine;
struct flow_stats;
struct k8s_config;
struct k8s_source;
struct manifest_watch;
struct ofctrl;
struct ovsdb_monitor;

struct agent_options {
    const char *bridge;             /* --bridge. */
    const char *ovsdb;              /* --ovsdb: "unix:PATH". */
    const char *openflow;           /* --openflow: "unix:PATH". */
    char **manifests;               /* --manifests (repeatable). */
    size_t n_manifests;
    const char *control;            /* --control: socket path. */
    const struct k8s_config *k8s;   /* Kubernetes mode (--kubeconfig or
                                     * in-cluster), or NULL. */
    const char *node_name;          /* --node-name, or NULL. */
    const char *metrics;            /* --metrics: "[ADDR:]PORT", or NULL. */
    struct np_config config;        /* config.audit: --audit (audit.h). */
    const char *audit_log;          /* --audit-log=FILE, or NULL. */
    uint32_t audit_rate;            /* --audit-rate, packets/s. */
    unsigned int audit_dedup_msec;  /* --audit-dedup. */
    unsigned int flow_check_sec;    /* --flow-check. */
};

/* Creates the agent and starts its sources.  Returns NULL, having logged
 * why, if something cannot start (e.g. the control socket). */
struct agent *agent_create(struct event_base *, const struct agent_options *);
void agent_destroy(struct agent *);

/* A source changed the cluster state. */
void agent_changed(struct agent *);

/* Reopens the agent's own log files (the audit log's; SIGHUP). */
void agent_reopen_logs(struct agent *);

/* For the sinks that report on the agent (metrics.c): its parts, read-only,
 * valid until the loop turns. */
struct agent_view {
    const struct np_config *config;
    const struct cluster *cluster;
    bool synced;                    /* The switch holds every change the
                                     * sources delivered. */
    bool first_sync_done;           /* It did once: every source delivered
                                     * a full view and the switch held the
                                     * resulting flows. */
    long long int last_install_wall;    /* When the switch last caught up
                                         * (msec since the epoch), or 0. */
    struct ofctrl *ofctrl;
    const struct engine *engine;    /* NULL before the first full view. */
    struct ovsdb_monitor *ovsdb;
    struct manifest_watch *manifests;   /* NULL in Kubernetes mode. */
    struct k8s_source *k8s;             /* NULL in manifests mode. */
};

void agent_get_view(const struct agent *, struct agent_view *);

/* Reads the flow statistics of our rules and isolated pods from the switch
 * (flow-stats.h) and calls 'cb' with 'aux' once, from the event loop: with
 * 'error' 0 and the statistics (which 'cb' may take with flow_stats_swap()),
 * or with a positive errno value and empty statistics (ENOTCONN: the switch
 * is not connected; ECANCELED: the agent is being destroyed, and 'cb' must
 * not call the agent). */
typedef void agent_stats_cb(int error, struct flow_stats *, void *aux);
void agent_dump_stats(struct agent *, agent_stats_cb *cb, void *aux);

#endif /* agent.h */
