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

#ifndef METRICS_H
#define METRICS_H 1

/* metrics: the agent's HTTP endpoint for Prometheus and health probes
 * (--metrics=[ADDR:]PORT).
 *
 * Where it sits: a sink, beside the control socket: it reads the agent's
 * state (agent_get_view()) and its flow statistics (agent_dump_stats()) and
 * serves them; it changes nothing.
 *
 *   GET /metrics   Prometheus text exposition format 0.0.4: per-rule and
 *                  per-isolated-pod counters from the switch's flow
 *                  statistics (flow-stats.h), and the agent's health: sync
 *                  state and durations, flows by table, flow mods, errors,
 *                  connections, engine counters.  README.md lists every
 *                  metric.
 *   GET /healthz   200 "ok" once the agent has completed its first full
 *                  sync (every source delivered its first complete view and
 *                  the switch held the resulting flows), 503 before.  It
 *                  does not go back to 503 afterwards: the agent keeps
 *                  enforcing what it has while a source or the switch is
 *                  away, and ovs_netpol_synced says whether it is current.
 *   anything else  404 (405 for a method other than GET).
 *
 * A scrape never blocks the event loop: it asks ofctrl for a flow
 * statistics dump and answers when the dump is done, or after
 * METRICS_DUMP_TIMEOUT_MSEC without the flow statistics (and with
 * ovs_netpol_flow_stats_up 0), so health metrics are served even while the
 * switch does not answer.  Scrapes that arrive together share one dump, and
 * a dump younger than METRICS_DUMP_REUSE_MSEC is reused, so scrapers cannot
 * make the agent hammer the switch.
 *
 * The endpoint has no authentication: it listens only where it is told,
 * 127.0.0.1 unless the option names an address.
 *
 * All calls run on the agent's loop thread. */

#include "ovs-netpol/util.h"

struct agent;
struct event_base;
struct metrics;

#define METRICS_DUMP_TIMEOUT_MSEC 5000
#define METRICS_DUMP_REUSE_MSEC 1000

/* Splits 'target', "[ADDR:]PORT" (ADDR a host name, an IPv4 address or an
 * IPv6 address in brackets; 127.0.0.1 when only ":PORT" or "PORT" is
 * given), into malloc'd '*hostp' and '*portp'.  Returns NULL, or a malloc'd
 * explanation and NULLs. */
char *metrics_parse_target(const char *target, char **hostp, char **portp)
    NP_WARN_UNUSED_RESULT;

/* Listens on 'target' ("[ADDR:]PORT") for HTTP and serves 'agent'.  Returns
 * NULL and a malloc'd message in '*errorp' if 'target' is malformed or
 * cannot be bound. */
struct metrics *metrics_create(struct event_base *, const char *target,
                               struct agent *, char **errorp);

/* Answers the scrapes in progress with 503 and closes every connection.
 * Accepts NULL.  Its agent_dump_stats() requests must be over: the agent
 * cancels them before it destroys the metrics. */
void metrics_destroy(struct metrics *);

#endif /* metrics.h */
