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

#ifndef OVSDB_MONITOR_H
#define OVSDB_MONITOR_H 1

/* The agent's OVSDB source: the ports of this node's bridge.
 *
 *
 * What?
 * =====
 *
 * An ovsdb_monitor is a client of ovsdb-server that keeps, for one bridge,
 * the set of its ports as 'struct local_port' (ovs-netpol/cluster.h), keyed
 * by OpenFlow port number.  It is one of the agent's sources: OVSDB ->
 * cluster state.  The agent copies the set into its 'struct cluster' when the
 * monitor says it changed; the monitor itself never touches the cluster, the
 * compiler or the switch.
 *
 * A CNI plugs a pod into the bridge and describes it in the OVSDB Interface
 * row's external_ids.  Two conventions are understood:
 *
 *     - Antrea: "pod-namespace" and "pod-name" (both non-empty), optionally
 *       "ip" and "mac" (or "attached-mac").
 *
 *     - OVN-Kubernetes: "iface-id" = "<namespace>_<pod>", split at the first
 *       underscore (a namespace cannot contain one), optionally
 *       "ip_addresses" and "attached_mac".
 *
 * The identity comes from Antrea's keys when both are present, otherwise from
 * "iface-id"; an "iface-id" without an underscore, or with an empty side, is
 * not a pod identity (OVN uses "iface-id" for other things too).  Address
 * keys are looked up one by one, Antrea's first: the IPs come from "ip", else
 * "ip_addresses"; the MAC from "mac", else "attached-mac", else
 * "attached_mac".  An IP list is comma-separated, IPv4 and IPv6 mixed, each
 * entry optionally carrying a "/LENGTH" that is checked and then dropped;
 * duplicates are dropped, the order is kept.  A malformed entry (an IP that
 * does not parse, a bad length, a MAC that is not a unicast
 * "xx:xx:xx:xx:xx:xx") is logged (rate-limited, naming the interface and the
 * key) and ignored, the rest of the row still counts.  So is half an Antrea
 * identity (one of "pod-namespace" and "pod-name" without the other), after
 * which "iface-id" is tried.
 *
 * Which interfaces count
 * ======================
 *
 * Only interfaces of the ports of the Bridge row named 'bridge'.  Of those,
 * only interfaces whose "ofport" is a port number ovs-vswitchd assigns (1 to
 * 65279, or 65534 for LOCAL): it leaves the column empty until it has
 * assigned one and writes -1 when the interface could not be added, and such
 * interfaces are skipped until they get a port number.  The bridge's own
 * internal interface (type "internal", named like the bridge, normally
 * ofport 65534 = LOCAL_PORT_HOST) is the host port and is reported without
 * pod identity whatever its external_ids say.  Every other interface without
 * pod identity is reported too, without addresses: the compiler treats it as
 * an uplink or tunnel.  When two interfaces claim the same ofport (possible
 * only transiently or through a broken database), the one with the smaller
 * name wins and the conflict is logged.
 *
 *
 * Protocol
 * ========
 *
 * The monitor speaks RFC 7047 JSON-RPC over a Unix socket ("unix:PATH"): one
 * "monitor" request for the Bridge (name, ports), Port (name, interfaces) and
 * Interface (name, type, ofport, external_ids) tables of the Open_vSwitch
 * database, then "update" notifications, and replies to the server's "echo"
 * requests.  It keeps a replica of those columns only and, after each batch
 * of messages read from the socket that changed the replica, recomputes the
 * bridge's port set from scratch and compares it with the published one.
 * That is linear in the number of interfaces of the bridge (about a hundred
 * on a node), which is cheaper than getting incremental bookkeeping wrong.
 *
 * A message larger than OVSDB_MONITOR_MAX_MESSAGE_SIZE, a message that is not
 * JSON, or a message that breaks the protocol (an update for an unknown
 * monitor, a table-updates object of the wrong shape, an error reply to the
 * "monitor" request) is logged, counted as a parse error, and drops the
 * connection, which is then re-established as after any other failure: the
 * replica cannot be trusted once one message has been lost.
 *
 *
 * Connection and publication
 * ==========================
 *
 * The monitor connects as soon as it is created and reconnects whenever the
 * connection fails or is lost, after an exponential backoff with jitter
 * (first about 100 ms, doubling up to about 5 s, reset once a connection
 * delivers its snapshot).  Each new connection starts a new monitor, whose
 * initial snapshot replaces the whole port set.
 *
 * While disconnected, the last published port set stays as it was: the agent
 * must neither open nor drop traffic because ovsdb-server restarted.  Use
 * ovsdb_monitor_is_connected() and ovsdb_monitor_is_synced() to tell a fresh
 * set from a stale one.
 *
 * The 'changed' callback runs from the event loop:
 *
 *     - after every initial snapshot (even one equal to the previous set,
 *       because ovsdb_monitor_is_synced() just became true);
 *
 *     - after a batch of updates that changed the set of ports or the
 *       content of any port (ofport, name, pod identity, MAC, IPs).  Updates
 *       that change nothing the monitor reports do not call it.  Updates that
 *       arrive together may be reported by one call.
 *
 * The callback may read the monitor (ports, state, stats) but must not
 * destroy it.
 *
 * The process must ignore SIGPIPE, as OVS daemons do: libevent writes with
 * writev(), and a reply to "echo" sent as the server exits would otherwise
 * kill the agent.
 *
 *
 * Thread safety
 * =============
 *
 * None.  Every call, and the callback, runs on the thread that runs the
 * event_base. */

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct hmap;
struct local_port;

/* Largest JSON-RPC message accepted from ovsdb-server, in bytes. */
#define OVSDB_MONITOR_MAX_MESSAGE_SIZE (64u * 1024 * 1024)

/* Counters since creation.  They only grow. */
struct ovsdb_monitor_stats {
    uint64_t n_connects;        /* Connections established. */
    uint64_t n_connect_failures; /* Attempts that failed before connecting. */
    uint64_t n_disconnects;     /* Established connections lost or dropped. */
    uint64_t n_snapshots;       /* Initial snapshots received. */
    uint64_t n_updates;         /* "update" notifications received. */
    uint64_t n_changes;         /* Calls of the 'changed' callback. */
    uint64_t n_parse_errors;    /* Messages that dropped the connection:
                                 * oversized, not JSON, protocol errors. */
    uint64_t n_bad_values;      /* Malformed external_ids values ignored. */
};

/* Constructor and destructor. */

/* Creates a monitor of the ports of bridge 'bridge' in the ovsdb-server
 * reached at 'remote' ("unix:PATH"), running on 'base'.  Connecting starts
 * from the event loop; the first call of 'changed' (with 'aux'; 'changed'
 * may be NULL) comes after the first snapshot.  Copies 'remote' and
 * 'bridge'; 'base' must outlive the monitor.  Returns NULL, after logging
 * why, if 'remote' is not a usable "unix:PATH". */
struct ovsdb_monitor *ovsdb_monitor_create(struct event_base *base,
                                           const char *remote,
                                           const char *bridge,
                                           void (*changed)(void *aux),
                                           void *aux);

/* Closes the connection and frees the monitor and every port it reported.
 * Accepts NULL.  Must not be called from the 'changed' callback. */
void ovsdb_monitor_destroy(struct ovsdb_monitor *);

/* Queries.  None of them calls back. */

/* Returns the bridge's ports: an hmap of 'struct local_port', by ofport
 * (hashed with ovsdb_monitor_hash_ofport()).  The monitor owns the map and
 * the ports: the caller only reads them, and copies what it keeps (e.g. with
 * local_port_clone()).  They stay valid and unchanged until the monitor next
 * calls 'changed' (the set is replaced right before that call) or is
 * destroyed.  Empty until the first snapshot. */
const struct hmap *ovsdb_monitor_ports(const struct ovsdb_monitor *);

/* Returns the port with OpenFlow port number 'ofport', or NULL.  Same
 * lifetime as ovsdb_monitor_ports(). */
const struct local_port *ovsdb_monitor_find_port(const struct ovsdb_monitor *,
                                                 uint32_t ofport);

/* The hash of 'ofport' in the map returned by ovsdb_monitor_ports(). */
uint32_t ovsdb_monitor_hash_ofport(uint32_t ofport);

/* Returns true if the initial snapshot of the current connection has been
 * received, that is, if ovsdb_monitor_ports() reflects the database as of
 * the last update.  False while disconnected or not yet monitoring. */
bool ovsdb_monitor_is_synced(const struct ovsdb_monitor *);

/* Returns the bridge's "fail_mode" column as of the last update ("secure",
 * "standalone", or "" if unset, which ovs-vswitchd treats as standalone),
 * or NULL if the bridge row has not been seen.  Logs a warning whenever it
 * becomes anything but "secure". */
const char *ovsdb_monitor_fail_mode(const struct ovsdb_monitor *);

/* Returns true while a connection to ovsdb-server is established (even
 * before its snapshot has arrived). */
bool ovsdb_monitor_is_connected(const struct ovsdb_monitor *);

/* Calls 'cb' with 'aux' once the monitor has seen every change the database
 * held when this was called: after the round trip of an "echo" request, and
 * after the 'changed' callback for what arrived before its reply.  While not
 * synced, calls 'cb' at once (there is nothing newer to wait for).  Used by
 * "wait-sync". */
void ovsdb_monitor_barrier(struct ovsdb_monitor *, void (*cb)(void *aux),
                           void *aux);

/* Copies the monitor's counters into '*stats'. */
void ovsdb_monitor_get_stats(const struct ovsdb_monitor *,
                             struct ovsdb_monitor_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* agent/ovsdb-monitor.h */
