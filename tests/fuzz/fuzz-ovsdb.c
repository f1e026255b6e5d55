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

/* fuzz-ovsdb.c: libFuzzer target for the OVSDB monitor's input
 * (agent/ovsdb-monitor.c): the framing of the byte stream into JSON texts,
 * the JSON-RPC messages ("monitor" reply, "update", "echo", errors), the
 * replica of the Bridge, Port and Interface tables, and the parsing of
 * external_ids into pods, addresses and MACs.
 *
 * The input is what ovsdb-server sends after the monitor's "monitor"
 * request, whose id is 1 (see ovsdb_monitor_feed_for_testing(), the hook
 * in ovsdb-monitor.c): the corpus holds real sessions captured from
 * ovsdb-server.  The first byte chooses how the stream is cut into reads
 * and whether "wait-sync" barriers are requested between reads; the rest is
 * the stream.  Checked:
 *
 *   - every port the monitor publishes is well formed: a usable OpenFlow
 *     port number, found by ovsdb_monitor_find_port(), a pod identity with
 *     both halves non-empty or none, host-prefix addresses without
 *     duplicates, a unicast MAC;
 *
 *   - the framing does not depend on how the stream is cut: when neither
 *     run drops the connection, the stream fed whole and the stream fed in
 *     pieces publish the same ports and the same sync state. */

#include <config.h>

#include <inttypes.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <openvswitch/hmap.h>
#include "agent/ovsdb-monitor.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "fuzz-util.h"

/* The test hook in agent/ovsdb-monitor.c. */
void ovsdb_monitor_feed_for_testing(struct ovsdb_monitor *, const void *data,
                                    size_t size);

static struct event_base *base;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    base = event_base_new();
    FUZZ_CHECK(base, "event_base_new failed");
    return 0;
}

static void
changed_cb(void *n_changes_)
{
    unsigned int *n_changes = n_changes_;
    ++*n_changes;
}

static void
barrier_cb(void *n_barriers_)
{
    unsigned int *n_barriers = n_barriers_;
    ++*n_barriers;
}

static struct ovsdb_monitor *
monitor_create(unsigned int *n_changes)
{
    struct ovsdb_monitor *m = ovsdb_monitor_create(
        base, "unix:/nonexistent/ovs-netpol-fuzz/db.sock", "br-int",
        changed_cb, n_changes);
    FUZZ_CHECK(m, "ovsdb_monitor_create failed");
    return m;
}

static void
check_port(const struct ovsdb_monitor *m, const struct local_port *port)
{
    FUZZ_CHECK((port->ofport >= 1 && port->ofport <= 0xfeff)
               || port->ofport == LOCAL_PORT_HOST,
               "ofport %"PRIu32, port->ofport);
    FUZZ_CHECK(port->node.hash == ovsdb_monitor_hash_ofport(port->ofport),
               "port %"PRIu32" hashed wrong", port->ofport);
    FUZZ_CHECK(ovsdb_monitor_find_port(m, port->ofport) == port,
               "port %"PRIu32" not found", port->ofport);
    FUZZ_CHECK(port->name, "port without a name");
    FUZZ_CHECK(!port->pod_namespace == !port->pod_name,
               "half a pod identity");
    FUZZ_CHECK(!port->pod_namespace
               || (port->pod_namespace[0] && port->pod_name[0]),
               "empty pod identity");
    FUZZ_CHECK(port->pod_namespace || (!port->n_ips && !port->has_mac),
               "addresses without a pod");
    for (size_t i = 0; i < port->n_ips; i++) {
        const struct cidr *ip = &port->ips[i];
        FUZZ_CHECK((ip->family == AF_INET || ip->family == AF_INET6)
                   && cidr_is_host(ip), "not a host address");
        for (size_t j = 0; j < i; j++) {
            FUZZ_CHECK(!cidr_equal(ip, &port->ips[j]), "duplicate IP");
        }
    }
    if (port->has_mac) {
        static const uint8_t zero[6];
        FUZZ_CHECK(!(port->mac[0] & 1) && memcmp(port->mac, zero, 6),
                   "not a unicast MAC");
    }
}

static void
check_ports(const struct ovsdb_monitor *m)
{
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, ovsdb_monitor_ports(m)) {
        check_port(m, port);
    }
}

static bool
same_ports(const struct ovsdb_monitor *a, const struct ovsdb_monitor *b)
{
    const struct hmap *pa = ovsdb_monitor_ports(a);
    const struct hmap *pb = ovsdb_monitor_ports(b);
    if (hmap_count(pa) != hmap_count(pb)) {
        return false;
    }
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, pa) {
        const struct local_port *other = ovsdb_monitor_find_port(
            b, port->ofport);
        if (!other || !local_port_equal(port, other)) {
            return false;
        }
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;

    /* Whole. */
    unsigned int n_changes_whole = 0;
    struct ovsdb_monitor *whole = monitor_create(&n_changes_whole);
    ovsdb_monitor_feed_for_testing(whole, data, size);
    check_ports(whole);

    /* In pieces of 1 to 64 bytes ('mode' & 63, plus one), or cut at each
     * newline ('mode' & 64), with a barrier requested after each piece
     * ('mode' & 128). */
    unsigned int n_changes_pieces = 0, n_barriers = 0, n_requested = 0;
    struct ovsdb_monitor *pieces = monitor_create(&n_changes_pieces);
    size_t piece = (mode & 63) + 1;
    for (size_t pos = 0; pos < size; ) {
        size_t n;
        if (mode & 64) {
            const uint8_t *nl = memchr(data + pos, '\n', size - pos);
            n = nl ? (size_t) (nl - (data + pos)) + 1 : size - pos;
        } else {
            n = size - pos < piece ? size - pos : piece;
        }
        ovsdb_monitor_feed_for_testing(pieces, data + pos, n);
        check_ports(pieces);
        pos += n;
        if (mode & 128) {
            ovsdb_monitor_barrier(pieces, barrier_cb, &n_barriers);
            n_requested++;
        }
    }

    struct ovsdb_monitor_stats sw, sp;
    ovsdb_monitor_get_stats(whole, &sw);
    ovsdb_monitor_get_stats(pieces, &sp);
    if (!sw.n_parse_errors && !sp.n_parse_errors) {
        FUZZ_CHECK(same_ports(whole, pieces), "the ports depend on how the "
                   "stream is cut");
        FUZZ_CHECK(ovsdb_monitor_is_synced(whole)
                   == ovsdb_monitor_is_synced(pieces),
                   "the sync state depends on how the stream is cut");
        FUZZ_CHECK(sw.n_snapshots == sp.n_snapshots
                   && sw.n_updates == sp.n_updates,
                   "the messages depend on how the stream is cut");
    }

    ovsdb_monitor_destroy(whole);
    ovsdb_monitor_destroy(pieces);
    /* Destroying a monitor forgets its barriers without calling them. */
    FUZZ_CHECK(n_barriers <= n_requested, "%u barriers called back, %u "
               "requested", n_barriers, n_requested);
    return 0;
}
