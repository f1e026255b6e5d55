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

#ifndef AUDIT_H
#define AUDIT_H 1

/* audit: the audit log of denied (and, per namespace, allowed) new
 * connections.
 *
 * Where it sits: a sink of the agent.  With the agent's --audit, the
 * compiler turns isolation drops into controller(max_len=128,meter_id=M)
 * and gives the rule flows of namespaces annotated
 * "ovs-netpol.io/log-allowed: true" the same action (pipeline.h, "Audit").
 * The switch sends those packets here, rate-limited by OpenFlow meter M;
 * audit names them with the agent's cluster state and conjunction IDs and
 * writes one line per connection (or per group of identical ones).
 *
 *   switch --packet-in--> [receiver thread] --queue--> [loop: name, dedup]
 *          --queue--> [writer thread] --> --audit-log FILE, or the agent's
 *                                         log (vlog module "audit")
 *
 * It must never change forwarding and never be a way to overload the
 * agent:
 *
 *   - The meter (installed through ofctrl's setup hook, audit_setup_switch(),
 *     on every connection before any flow that uses it) limits the
 *     packet-ins in the switch.  OVS resolves a controller action's meter
 *     when the flow is added: a flow added before its meter exists is never
 *     metered, hence the ordering.
 *
 *   - The receiver is a second OpenFlow connection to the bridge's
 *     management socket, on its own thread with libopenvswitch's poll loop
 *     (vconn has no file descriptor to give libevent); it never blocks the
 *     agent's loop.  A service connection receives no asynchronous message
 *     until it sets a nonzero miss_send_len (OFPT_SET_CONFIG, after reading
 *     the switch's configuration so that fragment handling stays as it is);
 *     it also asks (OFPT_SET_ASYNC) for packet-ins of reason "action" only.
 *
 *   - Every stage is bounded: the receiver's queue (events), the
 *     deduplication table (entries; the oldest line is written early when
 *     full) and the writer's queue (lines).  What does not fit is dropped
 *     and counted, never waited for, so a slow log file slows nothing but
 *     the log.
 *
 * Deduplication: events with the same source and destination address,
 * protocol, destination port, verdict and decider (the flow's cookie and
 * table) within 'dedup_msec' of the first one are one line, written when
 * the window closes, whose count says how many there were.  With
 * 'dedup_msec' 0 every event is its own line, written at once.
 *
 * The line format
 * ===============
 *
 * One line per event (or group), space-separated KEY=VALUE fields after a
 * timestamp, always in this order:
 *
 *   2026-11-26T15:00:00.123Z verdict=deny dir=ingress
 *       src=x/a(10.0.1.1):34567 dst=y/b(10.0.2.2):80 proto=TCP
 *       by=isolation:y/b count=1
 *
 * (on one line).  The timestamp (UTC, milliseconds) is when the first
 * packet arrived.  'verdict' is "deny" (an isolation drop) or "allow" (a
 * rule of a namespace that logs what it allows); 'dir' "ingress" or
 * "egress".  'src' and 'dst' are NAMESPACE/POD(ADDRESS) when the address
 * (for the source: the OpenFlow port it came from) belongs to a known pod,
 * else the bare address (IPv6 in brackets when a port follows), then
 * :PORT for TCP, UDP and SCTP (the source port is the first packet's).
 * 'proto' is TCP, UDP, SCTP, ICMP, ICMPv6 or the IP protocol number.
 * 'by' is "isolation:NAMESPACE/POD" (the isolated pod of that direction;
 * "isolation:portN" for a port that names no pod now) or
 * "rule:NAMESPACE/POLICY/DIRECTION/INDEX" (plus "[VARIANT]" for a named
 * port variant; "rule:0xID" for a conjunction ID the agent does not know).
 * 'count' is the number of packets (new connections and their retries)
 * the line stands for.  Names are Kubernetes names: every byte other than
 * letters, digits, '.', '-' and '_' (and ':' and ',' in a variant) is
 * written as \xHH, so a line is always one line of printable ASCII.
 *
 * Threads: audit_create(), audit_destroy() and the other calls run on the
 * agent's loop thread, except audit_setup_switch(), which ofctrl calls on
 * its worker thread. */

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct cluster;
struct conj_ids;
struct ds;
struct event_base;
struct vconn;

struct audit_options {
    const char *target;         /* The bridge's OpenFlow socket. */
    const char *log_file;       /* Where lines go, or NULL for the agent's
                                 * log (vlog module "audit"). */
    uint32_t meter_id;          /* OpenFlow meter of the audit actions. */
    uint32_t rate;              /* Meter rate, packets/s (also its burst). */
    unsigned int dedup_msec;    /* Deduplication window; 0: none. */
    uint8_t first_table;        /* The pipeline's first table. */
};

#define AUDIT_DEFAULT_RATE 100
#define AUDIT_DEFAULT_DEDUP_MSEC 1000

/* Creates the audit log: opens 'opts->log_file' and starts the receiver and
 * writer threads.  'cluster' and 'ids' name what the switch sends; they
 * must outlive the audit object, and are read on the loop thread only.
 * The receiver connects once audit_setup_switch() has run once.  Returns
 * NULL and a malloc'd message in '*errorp' if the log file cannot be
 * opened. */
struct audit *audit_create(struct event_base *, const struct audit_options *,
                           const struct cluster *, const struct conj_ids *,
                           char **errorp);

/* Writes the lines of every open deduplication window, waits for the
 * writer to write what it holds, and frees 'audit'.  Must be called after
 * ofctrl is destroyed (ofctrl's worker may be in audit_setup_switch()). */
void audit_destroy(struct audit *);

/* ofctrl's setup hook (ofctrl_setup_cb): installs the meter on 'vconn'
 * (add, or modify if it exists: a modify keeps the flows that use it
 * metered).  A meter the switch refuses is logged and reported in the
 * status, and the connection goes on (the flows are still installed:
 * logging never changes forwarding).  Returns 0, or a positive errno value
 * if the connection failed.  Runs on ofctrl's worker thread. */
int audit_setup_switch(struct vconn *, void *audit);

/* The cluster state changed: names are looked up again (at most once a
 * second). */
void audit_cluster_changed(struct audit *);

/* Reopens the --audit-log file (SIGHUP, after a log rotation). */
void audit_reopen(struct audit *);

/* The "audit" section of the agent's status (a new reference); with a
 * NULL 'audit', {"enabled": false}. */
json_t *audit_status(const struct audit *);

/* For tests: appends 'name' to 's', escaped as the line format says
 * ('extra' lists the punctuation allowed besides ".-_"). */
void audit_escape(const char *name, const char *extra, struct ds *s);

#endif /* audit.h */
