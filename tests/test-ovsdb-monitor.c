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

/* Integration test of agent/ovsdb-monitor.c, the agent's OVSDB source.
 *
 * Most cases run a real ovsdb-server (3.1's Open_vSwitch schema) in a
 * private directory and change the database with ovs-vsctl --no-wait.  With
 * no ovs-vswitchd, nothing assigns OpenFlow port numbers, so the test writes
 * "ofport" itself.  Each case gets its own server, started and killed (by
 * pid, always) by an unchecked fixture that runs in check's parent process.
 * The "protocol" case instead plays the server itself over a Unix socket, to
 * feed the monitor split, concatenated, malformed and oversized messages.
 *
 *   snapshot    the first snapshot: both pod conventions, host port, bond,
 *               interfaces without ofport or with -1, a second bridge whose
 *               ports must not show; updates that change nothing reported
 *               do not call back; the bridge's fail_mode followed and warned
 *               about; monitors of another and of a missing bridge.
 *   updates     a port added, identity, ofport and addresses changed, ports
 *               deleted, a bond rebuilt, an ofport assigned and one failed, a
 *               port moved to another bridge, the bridge deleted: each one
 *               exactly one callback.
 *   malformed   bad IPs, prefix lengths, MACs, half identities, iface-id
 *               edge cases, key precedence: ignored, counted, and logged
 *               (read back from the log file); two interfaces on one ofport.
 *   reconnect   ovsdb-server killed: disconnected, ports kept, retries; the
 *               database changed meanwhile; restart: one callback, the whole
 *               set replaced, updates followed again.
 *   protocol    "echo", a snapshot cut inside strings and escapes, updates
 *               back to back, invalid JSON, a foreign monitor, a message
 *               over the size limit, a refused "monitor", garbage between
 *               messages: each drops the connection and keeps the ports.
 *
 * Every wait runs the event loop until a condition holds or a deadline
 * passes; there are no fixed sleeps.  Exits 77 (skip) when ovsdb-server,
 * ovsdb-tool, ovs-vsctl or the schema are missing. */

#include <config.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include <openvswitch/vlog.h>

#include "agent/ovsdb-monitor.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/util.h"

/* These jansson constructors share their names with libopenvswitch's JSON
 * accessors, which win in a static link (see ovsdb-monitor.c). */
#pragma GCC poison json_array json_object json_string json_integer json_real
#pragma GCC poison json_equal

#define SCHEMA "/usr/share/openvswitch/vswitch.ovsschema"

/* How long any single wait may take.  Reconnecting can take up to the
 * monitor's maximum backoff (about 5 s) after a few failures. */
#define WAIT_MS 20000

/* The private directory of the current case, made by the fixture. */
static char test_dir[PATH_MAX];
static char *setup_error;       /* Why the fixture failed, or NULL. */

/* Shell helpers. */

static int NP_PRINTF_FORMAT(1, 2)
run(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *cmd = np_xvasprintf(format, args);
    va_end(args);

    int status = system(cmd);
    free(cmd);
    return status;
}

/* Runs ovs-vsctl against the case's server with 'args' (shell syntax). */
static void NP_PRINTF_FORMAT(1, 2)
vsctl(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *cmd = np_xvasprintf(format, args);
    va_end(args);

    int status = run("ovs-vsctl --db=unix:%s/db.sock --no-wait --timeout=10 "
                     "%s >>%s/vsctl.log 2>&1", test_dir, cmd, test_dir);
    ck_assert_msg(status == 0, "ovs-vsctl %s: failed (status %d, see %s)",
                  cmd, status, test_dir);
    free(cmd);
}

/* Starts an ovsdb-server on the case's conf.db listening on NAME.sock, with
 * NAME.pid, NAME.ctl and NAME.log.  Returns 0 or the shell's status. */
static int
start_server(const char *name)
{
    const char *d = test_dir;
    return run("ovsdb-server --remote=punix:%s/%s.sock --pidfile=%s/%s.pid "
               "--unixctl=%s/%s.ctl --detach --no-chdir --log-file=%s/%s.log "
               "%s/conf.db", d, name, d, name, d, name, d, name, d);
}

static pid_t
read_pidfile(const char *name)
{
    char *file = np_xasprintf("%s/%s.pid", test_dir, name);
    FILE *stream = fopen(file, "r");
    long pid = 0;

    free(file);
    if (stream) {
        if (fscanf(stream, "%ld", &pid) != 1) {
            pid = 0;
        }
        fclose(stream);
    }
    return pid;
}

/* Whether 'pid' has exited.  A detached daemon is nobody's child here, and
 * PID 1 of a container may not reap it, so a zombie counts as gone. */
static bool
process_gone(pid_t pid)
{
    if (kill(pid, 0) && errno == ESRCH) {
        return true;
    }

    char *file = np_xasprintf("/proc/%ld/stat", (long) pid);
    FILE *stream = fopen(file, "r");
    free(file);
    if (!stream) {
        return false;
    }
    char state = 0;
    int n = fscanf(stream, "%*d (%*[^)]) %c", &state);
    fclose(stream);
    return n == 1 && state == 'Z';
}

/* Kills the server whose pidfile is NAME.pid and waits until it is gone.
 * Returns true if it is gone (or was not running). */
static bool
stop_server(const char *name)
{
    pid_t pid = read_pidfile(name);
    if (pid <= 0) {
        return true;
    }

    kill(pid, SIGTERM);
    long long int deadline = np_time_msec() + WAIT_MS;
    while (!process_gone(pid)) {
        if (np_time_msec() > deadline) {
            kill(pid, SIGKILL);
            return false;
        }
        usleep(10 * 1000);      /* Polling a foreign process: no loop. */
    }
    /* A SIGKILLed server would leave its pidfile behind. */
    char *file = np_xasprintf("%s/%s.pid", test_dir, name);
    unlink(file);
    free(file);
    return true;
}

/* Unchecked fixtures: a fresh directory, and in it an empty Open_vSwitch
 * database served at db.sock.  Runs in the parent process, so it must not use
 * ck_assert(); a failure is reported by the test through 'setup_error'. */
static void
dir_setup(void)
{
    free(setup_error);
    setup_error = NULL;

    snprintf(test_dir, sizeof test_dir, "/tmp/test-ovsdb-monitor.XXXXXX");
    if (!mkdtemp(test_dir)) {
        setup_error = np_xasprintf("mkdtemp: %s", strerror(errno));
    }
}

static void
dir_teardown(void)
{
    if (!getenv("TEST_OVSDB_MONITOR_KEEP")) {
        run("rm -rf %s", test_dir);
    }
}

static void
server_setup(void)
{
    dir_setup();
    if (setup_error) {
        return;
    }
    setenv("OVS_RUNDIR", test_dir, 1);
    setenv("OVS_LOGDIR", test_dir, 1);
    setenv("OVS_DBDIR", test_dir, 1);
    setenv("OVS_SYSCONFDIR", test_dir, 1);

    if (run("ovsdb-tool create %s/conf.db %s >>%s/setup.log 2>&1",
            test_dir, SCHEMA, test_dir)) {
        setup_error = np_xasprintf("ovsdb-tool create failed (%s)", test_dir);
    } else if (start_server("db")) {
        setup_error = np_xasprintf("ovsdb-server failed to start (%s)",
                                   test_dir);
    } else if (run("ovs-vsctl --db=unix:%s/db.sock --no-wait --timeout=10 "
                   "init >>%s/setup.log 2>&1", test_dir, test_dir)) {
        setup_error = np_xasprintf("ovs-vsctl init failed (%s)", test_dir);
    }
}

static void
server_teardown(void)
{
    stop_server("db");
    stop_server("alt");
    dir_teardown();
}

/* Event loop helpers. */

struct harness {
    struct event_base *base;
    struct event *tick;         /* Wakes the loop up every few ms. */
    struct ovsdb_monitor *m;
    int n_changed;              /* Calls of the 'changed' callback. */
};

static void
tick_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
        void *aux OVS_UNUSED)
{
}

static void
changed_cb(void *h_)
{
    struct harness *h = h_;

    h->n_changed++;
    /* The ports must be readable from the callback. */
    ck_assert_ptr_nonnull(ovsdb_monitor_ports(h->m));
}

static void
harness_init(struct harness *h)
{
    memset(h, 0, sizeof *h);
    h->base = event_base_new();
    ck_assert_ptr_nonnull(h->base);
    h->tick = event_new(h->base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = { 0, 5 * 1000 };
    event_add(h->tick, &tv);
}

static void
harness_start(struct harness *h, const char *remote, const char *bridge)
{
    h->m = ovsdb_monitor_create(h->base, remote, bridge, changed_cb, h);
    ck_assert_ptr_nonnull(h->m);
}

static void
harness_destroy(struct harness *h)
{
    ovsdb_monitor_destroy(h->m);
    event_free(h->tick);
    event_base_free(h->base);
}

static char *
db_remote(void)
{
    return np_xasprintf("unix:%s/db.sock", test_dir);
}

static void
run_once(struct harness *h)
{
    event_base_loop(h->base, EVLOOP_ONCE);
}

/* Runs the loop until COND holds; fails the test after WAIT_MS. */
#define WAIT_UNTIL(H, COND)                                             \
    do {                                                                \
        long long int deadline__ = np_time_msec() + WAIT_MS;            \
        while (!(COND)) {                                               \
            ck_assert_msg(np_time_msec() < deadline__,                  \
                          "timed out waiting until %s", #COND);          \
            run_once(H);                                                \
        }                                                               \
    } while (0)

static struct ovsdb_monitor_stats
stats(const struct harness *h)
{
    struct ovsdb_monitor_stats s;
    ovsdb_monitor_get_stats(h->m, &s);
    return s;
}

/* Port sets as text.
 *
 * One line per port, by ofport: "OFPORT NAME NS/POD MAC IP,IP", with "-"
 * for what is absent.  The test formats addresses itself (inet_ntop) rather
 * than trusting the code under test. */

static int
compare_ports(const void *a_, const void *b_)
{
    const struct local_port *const *a = a_;
    const struct local_port *const *b = b_;
    return (*a)->ofport < (*b)->ofport ? -1 : (*a)->ofport > (*b)->ofport;
}

static char *
ports_to_string(const struct hmap *ports)
{
    size_t n = hmap_count(ports);
    const struct local_port **array = np_xcalloc(n, sizeof *array);
    const struct local_port *port;
    size_t i = 0;
    HMAP_FOR_EACH (port, node, ports) {
        array[i++] = port;
    }
    qsort(array, n, sizeof *array, compare_ports);

    struct ds s = DS_EMPTY_INITIALIZER;
    for (i = 0; i < n; i++) {
        port = array[i];
        ds_put_format(&s, "%"PRIu32" %s ", port->ofport, port->name);
        if (local_port_is_pod(port)) {
            ds_put_format(&s, "%s/%s ", port->pod_namespace, port->pod_name);
        } else {
            ds_put_cstr(&s, "- ");
        }
        if (port->has_mac) {
            const uint8_t *mac = port->mac;
            ds_put_format(&s, "%02x:%02x:%02x:%02x:%02x:%02x ",
                          mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        } else {
            ds_put_cstr(&s, "- ");
        }
        if (!port->n_ips) {
            ds_put_cstr(&s, "-");
        }
        for (size_t j = 0; j < port->n_ips; j++) {
            const struct cidr *ip = &port->ips[j];
            char buf[INET6_ADDRSTRLEN];
            inet_ntop(ip->family, ip->addr, buf, sizeof buf);
            ds_put_format(&s, "%s%s", j ? "," : "", buf);
            if (ip->plen != (ip->family == AF_INET ? 32 : 128)) {
                ds_put_format(&s, "/%d", ip->plen);
            }
        }
        ds_put_char(&s, '\n');
    }
    free(array);
    return ds_steal_cstr(&s);
}

static bool
ports_are(const struct harness *h, const char *expected, char **actualp)
{
    char *actual = ports_to_string(ovsdb_monitor_ports(h->m));
    bool equal = !strcmp(actual, expected);
    if (actualp) {
        *actualp = actual;
    } else {
        free(actual);
    }
    return equal;
}

/* Runs the loop until the monitor is synced and reports exactly 'expected'
 * (in the format of ports_to_string()). */
static void
wait_for_ports(struct harness *h, const char *expected)
{
    long long int deadline = np_time_msec() + WAIT_MS;
    for (;;) {
        char *actual;
        bool equal = ports_are(h, expected, &actual);
        bool done = equal && ovsdb_monitor_is_synced(h->m);
        if (!done) {
            ck_assert_msg(np_time_msec() < deadline,
                          "timed out; expected ports:\n%s\nactual "
                          "(synced=%d):\n%s", expected,
                          ovsdb_monitor_is_synced(h->m), actual);
        }
        free(actual);
        if (done) {
            return;
        }
        run_once(h);
    }
}

static void
check_ports(const struct harness *h, const char *expected)
{
    char *actual;
    bool equal = ports_are(h, expected, &actual);
    ck_assert_msg(equal, "expected ports:\n%s\nactual:\n%s", expected,
                  actual);
    free(actual);
}

/* The topology most cases start from. */
static void
make_topology(void)
{
    /* br-int with its host port, two pods (one per convention), an uplink,
     * a bond of two interfaces, an interface without an ofport yet and one
     * that failed. */
    vsctl("add-br br-int -- set Interface br-int ofport=65534");
    vsctl("add-port br-int p1 -- set Interface p1 ofport_request=5 ofport=5 "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=web "
          "'external_ids:ip=\"10.0.0.5/24,fd00::5\"' "
          "'external_ids:mac=\"0a:00:00:00:00:05\"'");
    vsctl("add-port br-int p2 -- set Interface p2 ofport=7 "
          "external_ids:iface-id=ns2_db_0 "
          "'external_ids:ip_addresses=\"10.0.1.7/24\"' "
          "'external_ids:attached_mac=\"0A:00:00:00:00:07\"'");
    vsctl("add-port br-int uplink -- set Interface uplink ofport=1");
    vsctl("add-bond br-int bond0 b1 b2 "
          "-- set Interface b1 ofport=11 -- set Interface b2 ofport=12");
    vsctl("add-port br-int pending -- set Interface pending "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=pending");
    vsctl("add-port br-int failed -- set Interface failed ofport=-1 "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=failed");

    /* Another bridge, whose ports must never show up. */
    vsctl("add-br br-ext -- set Interface br-ext ofport=65534");
    vsctl("add-port br-ext x1 -- set Interface x1 ofport=9 "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=other");
}

static const char topology_ports[] =
    "1 uplink - - -\n"
    "5 p1 ns1/web 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
    "7 p2 ns2/db_0 0a:00:00:00:00:07 10.0.1.7\n"
    "11 b1 - - -\n"
    "12 b2 - - -\n"
    "65534 br-int - - -\n";

/* Cases against a real ovsdb-server. */

/* Returns true if the monitor's log file contains 'needle'. */
static bool
log_contains(const char *file, const char *needle)
{
    FILE *stream = fopen(file, "r");
    if (!stream) {
        return false;
    }

    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, stream)) {
        found = strstr(line, needle) != NULL;
    }
    fclose(stream);
    return found;
}

START_TEST(test_snapshot)
{
    ck_assert_msg(!setup_error, "%s", setup_error);
    make_topology();

    struct harness h;
    harness_init(&h);
    char *remote = db_remote();
    harness_start(&h, remote, "br-int");
    ck_assert(!ovsdb_monitor_is_connected(h.m));
    ck_assert(!ovsdb_monitor_is_synced(h.m));

    wait_for_ports(&h, topology_ports);
    ck_assert(ovsdb_monitor_is_connected(h.m));
    ck_assert_int_eq(h.n_changed, 1);
    struct ovsdb_monitor_stats s = stats(&h);
    ck_assert_uint_eq(s.n_connects, 1);
    ck_assert_uint_eq(s.n_snapshots, 1);
    ck_assert_uint_eq(s.n_changes, 1);
    ck_assert_uint_eq(s.n_disconnects, 0);
    ck_assert_uint_eq(s.n_parse_errors, 0);
    ck_assert_uint_eq(s.n_bad_values, 0);

    const struct local_port *host = ovsdb_monitor_find_port(h.m,
                                                            LOCAL_PORT_HOST);
    ck_assert_ptr_nonnull(host);
    ck_assert(!local_port_is_pod(host));
    ck_assert_ptr_null(ovsdb_monitor_find_port(h.m, 9));

    /* Updates that change nothing reported: an unrelated key, a port of
     * the other bridge, a column of ours on an interface without ofport. */
    uint64_t n_updates = s.n_updates;
    vsctl("set Interface p1 external_ids:foo=bar");
    vsctl("set Interface x1 external_ids:pod-name=other2");
    vsctl("set Interface pending external_ids:pod-name=pending2");
    WAIT_UNTIL(&h, stats(&h).n_updates >= n_updates + 3);
    check_ports(&h, topology_ports);
    ck_assert_int_eq(h.n_changed, 1);

    /* The bridge's fail_mode is followed, and anything but "secure" is
     * warned about; the ports did not change, so no callback. */
    char *log_file = np_xasprintf("%s/monitor.log", test_dir);
    ck_assert_int_eq(vlog_set_log_file(log_file), 0);
    ck_assert_str_eq(ovsdb_monitor_fail_mode(h.m), "");
    vsctl("set Bridge br-int fail_mode=secure");
    WAIT_UNTIL(&h, !strcmp(ovsdb_monitor_fail_mode(h.m), "secure"));
    ck_assert(log_contains(log_file, "bridge br-int has fail_mode=secure"));
    vsctl("set Bridge br-int fail_mode=standalone");
    WAIT_UNTIL(&h, !strcmp(ovsdb_monitor_fail_mode(h.m), "standalone"));
    ck_assert(log_contains(log_file, "bridge br-int has fail_mode=standalone:"
                           " ovs-vswitchd forwards everything"));
    vsctl("del-fail-mode br-int");
    WAIT_UNTIL(&h, !*ovsdb_monitor_fail_mode(h.m));
    ck_assert(log_contains(log_file, "fail_mode=standalone (unset):"));
    ck_assert_int_eq(h.n_changed, 1);
    free(log_file);

    /* The same set seen by a monitor of the other bridge. */
    struct harness h2;
    harness_init(&h2);
    harness_start(&h2, remote, "br-ext");
    wait_for_ports(&h2, "9 x1 ns1/other2 - -\n65534 br-ext - - -\n");
    harness_destroy(&h2);

    /* A bridge that does not exist has no ports, and is synced; its
     * fail_mode is not known. */
    harness_init(&h2);
    harness_start(&h2, remote, "br-none");
    wait_for_ports(&h2, "");
    ck_assert_int_eq(h2.n_changed, 1);
    ck_assert_ptr_null(ovsdb_monitor_fail_mode(h2.m));
    harness_destroy(&h2);

    harness_destroy(&h);
    free(remote);
}
END_TEST

/* Runs 'command' through ovs-vsctl and waits until the ports are
 * 'expected', checking that it took exactly one callback. */
static void
change_and_expect(struct harness *h, const char *command,
                  const char *expected)
{
    int n_changed = h->n_changed;
    vsctl("%s", command);
    wait_for_ports(h, expected);
    ck_assert_msg(h->n_changed == n_changed + 1,
                  "\"%s\" took %d callbacks instead of 1", command,
                  h->n_changed - n_changed);
}

START_TEST(test_updates)
{
    ck_assert_msg(!setup_error, "%s", setup_error);
    make_topology();

    struct harness h;
    harness_init(&h);
    char *remote = db_remote();
    harness_start(&h, remote, "br-int");
    wait_for_ports(&h, topology_ports);

    /* A port appears. */
    change_and_expect(&h,
        "add-port br-int p3 -- set Interface p3 ofport=8 "
        "external_ids:pod-namespace=ns3 external_ids:pod-name=api "
        "external_ids:ip=10.0.3.8",
        "1 uplink - - -\n"
        "5 p1 ns1/web 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "7 p2 ns2/db_0 0a:00:00:00:00:07 10.0.1.7\n"
        "8 p3 ns3/api - 10.0.3.8\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "65534 br-int - - -\n");

    /* Identity changes. */
    change_and_expect(&h, "set Interface p1 external_ids:pod-name=web2",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "7 p2 ns2/db_0 0a:00:00:00:00:07 10.0.1.7\n"
        "8 p3 ns3/api - 10.0.3.8\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "65534 br-int - - -\n");
    change_and_expect(&h, "set Interface p2 external_ids:iface-id=ns9_x",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "7 p2 ns9/x 0a:00:00:00:00:07 10.0.1.7\n"
        "8 p3 ns3/api - 10.0.3.8\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "65534 br-int - - -\n");

    /* An ofport changes. */
    change_and_expect(&h, "set Interface p2 ofport=17",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "8 p3 ns3/api - 10.0.3.8\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "17 p2 ns9/x 0a:00:00:00:00:07 10.0.1.7\n"
        "65534 br-int - - -\n");

    /* Addresses change. */
    change_and_expect(&h,
        "set Interface p2 'external_ids:ip_addresses=\"fd00::17/64\"' "
        "-- remove Interface p2 external_ids attached_mac",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "8 p3 ns3/api - 10.0.3.8\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "65534 br-int - - -\n");

    /* A port is deleted, and a bond is rebuilt with another member (its
     * interfaces are new rows, so they need their ofports again). */
    change_and_expect(&h, "del-port br-int p3",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "11 b1 - - -\n"
        "12 b2 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "65534 br-int - - -\n");
    change_and_expect(&h, "del-port br-int bond0 "
                      "-- add-bond br-int bond0 b1 b3 "
                      "-- set Interface b1 ofport=11 "
                      "-- set Interface b3 ofport=13",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "11 b1 - - -\n"
        "13 b3 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "65534 br-int - - -\n");

    /* An interface gets its ofport; another one fails. */
    change_and_expect(&h, "set Interface pending ofport=20",
        "1 uplink - - -\n"
        "5 p1 ns1/web2 0a:00:00:00:00:05 10.0.0.5,fd00::5\n"
        "11 b1 - - -\n"
        "13 b3 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "20 pending ns1/pending - -\n"
        "65534 br-int - - -\n");
    change_and_expect(&h, "set Interface p1 ofport=-1",
        "1 uplink - - -\n"
        "11 b1 - - -\n"
        "13 b3 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "20 pending ns1/pending - -\n"
        "65534 br-int - - -\n");

    /* A port moves to the other bridge. */
    change_and_expect(&h, "del-port br-int pending "
                      "-- add-port br-ext pending "
                      "-- set Interface pending ofport=20",
        "1 uplink - - -\n"
        "11 b1 - - -\n"
        "13 b3 - - -\n"
        "17 p2 ns9/x - fd00::17\n"
        "65534 br-int - - -\n");

    /* The whole bridge goes: no ports at all. */
    change_and_expect(&h, "del-br br-int", "");

    struct ovsdb_monitor_stats s = stats(&h);
    ck_assert_uint_eq(s.n_connects, 1);
    ck_assert_uint_eq(s.n_disconnects, 0);
    ck_assert_uint_eq(s.n_parse_errors, 0);
    ck_assert_uint_eq(s.n_changes, (uint64_t) h.n_changed);

    harness_destroy(&h);
    free(remote);
}
END_TEST


START_TEST(test_malformed)
{
    ck_assert_msg(!setup_error, "%s", setup_error);

    char *log_file = np_xasprintf("%s/monitor.log", test_dir);
    ck_assert_int_eq(vlog_set_log_file(log_file), 0);

    vsctl("add-br br-int -- set Interface br-int ofport=65534 "
          /* The host port is never a pod, whatever it says. */
          "external_ids:pod-namespace=ns0 external_ids:pod-name=host");
    /* Bad IPs (out of range, bad length), blanks, a duplicate, a bad MAC. */
    vsctl("add-port br-int m1 -- set Interface m1 ofport=31 "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=bad "
          "'external_ids:ip=\"10.0.0.31,999.1.1.1,fd00::31/64,"
          "10.0.0.31/33, 10.0.0.32 ,,10.0.0.31\"' "
          "'external_ids:mac=\"zz:00:00:00:00:01\"'");
    /* iface-id without an underscore, or with an empty side: not pods. */
    vsctl("add-port br-int m2 -- set Interface m2 ofport=32 "
          "external_ids:iface-id=nounderscore "
          "external_ids:ip_addresses=10.0.0.40");
    vsctl("add-port br-int m3 -- set Interface m3 ofport=33 "
          "external_ids:iface-id=_pod");
    vsctl("add-port br-int m3b -- set Interface m3b ofport=38 "
          "external_ids:iface-id=ns_");
    /* Half an Antrea identity: logged, then iface-id is used. */
    vsctl("add-port br-int m4 -- set Interface m4 ofport=34 "
          "external_ids:pod-namespace=ns4 external_ids:iface-id=ns4_p4");
    /* Both conventions: Antrea's keys win, one by one. */
    vsctl("add-port br-int m5 -- set Interface m5 ofport=35 "
          "external_ids:pod-namespace=ns5 external_ids:pod-name=a "
          "external_ids:iface-id=nsx_b "
          "external_ids:ip=10.0.5.1 external_ids:ip_addresses=10.0.5.2 "
          "'external_ids:mac=\"0a:00:00:00:00:51\"' "
          "'external_ids:attached_mac=\"0a:00:00:00:00:52\"'");
    /* A multicast MAC is not a pod's; "attached-mac" is Antrea's fallback
     * and Antrea's "ip" wins over "ip_addresses" even when empty. */
    vsctl("add-port br-int m6 -- set Interface m6 ofport=36 "
          "external_ids:pod-namespace=ns6 external_ids:pod-name=m "
          "'external_ids:mac=\"01:00:5e:00:00:01\"'");
    vsctl("add-port br-int m7 -- set Interface m7 ofport=37 "
          "external_ids:pod-namespace=ns7 external_ids:pod-name=e "
          "'external_ids:ip=\"\"' external_ids:ip_addresses=10.0.7.1 "
          "'external_ids:attached-mac=\"0a:00:00:00:00:71\"'");

    struct harness h;
    harness_init(&h);
    char *remote = db_remote();
    harness_start(&h, remote, "br-int");
    wait_for_ports(&h,
        "31 m1 ns1/bad - 10.0.0.31,fd00::31,10.0.0.32\n"
        "32 m2 - - -\n"
        "33 m3 - - -\n"
        "34 m4 ns4/p4 - -\n"
        "35 m5 ns5/a 0a:00:00:00:00:51 10.0.5.1\n"
        "36 m6 ns6/m - -\n"
        "37 m7 ns7/e 0a:00:00:00:00:71 -\n"
        "38 m3b - - -\n"
        "65534 br-int - - -\n");

    /* 999.1.1.1, 10.0.0.31/33, zz:..., half identity, multicast MAC. */
    struct ovsdb_monitor_stats s = stats(&h);
    ck_assert_uint_eq(s.n_bad_values, 5);
    ck_assert_uint_eq(s.n_parse_errors, 0);

    static const char *const logged[] = {
        "interface m1: external_ids:ip=\"999.1.1.1\" ignored",
        "interface m1: external_ids:ip=\"10.0.0.31/33\" ignored",
        "interface m1: external_ids:mac=\"zz:00:00:00:00:01\" ignored",
        "interface m4: external_ids:pod-namespace=\"ns4\" ignored",
        "interface m6: external_ids:mac=\"01:00:5e:00:00:01\" ignored",
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(logged); i++) {
        ck_assert_msg(log_contains(log_file, logged[i]),
                      "%s does not contain '%s'", log_file, logged[i]);
    }

    /* Fixing a value takes effect; breaking one again is logged again. */
    change_and_expect(&h, "set Interface m1 "
                      "'external_ids:mac=\"0a:00:00:00:00:31\"' "
                      "external_ids:ip=10.0.0.31",
        "31 m1 ns1/bad 0a:00:00:00:00:31 10.0.0.31\n"
        "32 m2 - - -\n"
        "33 m3 - - -\n"
        "34 m4 ns4/p4 - -\n"
        "35 m5 ns5/a 0a:00:00:00:00:51 10.0.5.1\n"
        "36 m6 ns6/m - -\n"
        "37 m7 ns7/e 0a:00:00:00:00:71 -\n"
        "38 m3b - - -\n"
        "65534 br-int - - -\n");
    change_and_expect(&h, "set Interface m1 external_ids:ip=10.0.0.300",
        "31 m1 ns1/bad 0a:00:00:00:00:31 -\n"
        "32 m2 - - -\n"
        "33 m3 - - -\n"
        "34 m4 ns4/p4 - -\n"
        "35 m5 ns5/a 0a:00:00:00:00:51 10.0.5.1\n"
        "36 m6 ns6/m - -\n"
        "37 m7 ns7/e 0a:00:00:00:00:71 -\n"
        "38 m3b - - -\n"
        "65534 br-int - - -\n");
    ck_assert_uint_eq(stats(&h).n_bad_values, 6);
    ck_assert(log_contains(log_file,
                           "interface m1: external_ids:ip=\"10.0.0.300\""));

    /* Two interfaces claiming one ofport: the smaller name wins. */
    int n_changed = h.n_changed;
    vsctl("set Interface m2 ofport=33");
    WAIT_UNTIL(&h, h.n_changed > n_changed);
    check_ports(&h,
        "31 m1 ns1/bad 0a:00:00:00:00:31 -\n"
        "33 m2 - - -\n"
        "34 m4 ns4/p4 - -\n"
        "35 m5 ns5/a 0a:00:00:00:00:51 10.0.5.1\n"
        "36 m6 ns6/m - -\n"
        "37 m7 ns7/e 0a:00:00:00:00:71 -\n"
        "38 m3b - - -\n"
        "65534 br-int - - -\n");
    ck_assert(log_contains(log_file, "both claim OpenFlow port 33"));

    harness_destroy(&h);
    free(remote);
    free(log_file);
}
END_TEST

START_TEST(test_reconnect)
{
    ck_assert_msg(!setup_error, "%s", setup_error);
    vsctl("add-br br-int -- set Interface br-int ofport=65534");
    vsctl("add-port br-int p1 -- set Interface p1 ofport=5 "
          "external_ids:pod-namespace=ns1 external_ids:pod-name=web "
          "external_ids:ip=10.0.0.5");
    static const char before[] =
        "5 p1 ns1/web - 10.0.0.5\n"
        "65534 br-int - - -\n";
    static const char after[] =
        "9 p9 ns9/new - 10.0.0.9\n"
        "65534 br-int - - -\n";

    struct harness h;
    harness_init(&h);
    char *remote = db_remote();
    harness_start(&h, remote, "br-int");
    wait_for_ports(&h, before);
    ck_assert_int_eq(h.n_changed, 1);

    /* ovsdb-server goes away: the monitor notices, keeps the ports and
     * keeps trying. */
    ck_assert(stop_server("db"));
    WAIT_UNTIL(&h, !ovsdb_monitor_is_connected(h.m));
    ck_assert(!ovsdb_monitor_is_synced(h.m));
    WAIT_UNTIL(&h, stats(&h).n_connect_failures >= 2);
    check_ports(&h, before);
    ck_assert(!ovsdb_monitor_is_connected(h.m));
    ck_assert_int_eq(h.n_changed, 1);
    ck_assert_uint_eq(stats(&h).n_disconnects, 1);

    /* Change the database behind the monitor's back, through a server on
     * another socket, so that the next snapshot differs. */
    ck_assert_int_eq(start_server("alt"), 0);
    ck_assert_int_eq(run("ovs-vsctl --db=unix:%s/alt.sock --no-wait "
                         "--timeout=10 del-port br-int p1 "
                         "-- add-port br-int p9 "
                         "-- set Interface p9 ofport=9 "
                         "external_ids:iface-id=ns9_new "
                         "external_ids:ip_addresses=10.0.0.9/16 "
                         ">>%s/vsctl.log 2>&1", test_dir, test_dir), 0);
    ck_assert(stop_server("alt"));
    check_ports(&h, before);

    /* The server comes back on the same database: one callback, the new
     * set replaces the old one entirely. */
    ck_assert_int_eq(start_server("db"), 0);
    wait_for_ports(&h, after);
    ck_assert(ovsdb_monitor_is_connected(h.m));
    ck_assert_int_eq(h.n_changed, 2);
    struct ovsdb_monitor_stats s = stats(&h);
    ck_assert_uint_eq(s.n_connects, 2);
    ck_assert_uint_eq(s.n_disconnects, 1);
    ck_assert_uint_eq(s.n_snapshots, 2);
    ck_assert_uint_eq(s.n_parse_errors, 0);

    /* And it follows updates again. */
    change_and_expect(&h, "add-port br-int p10 -- set Interface p10 "
                      "ofport=10",
        "9 p9 ns9/new - 10.0.0.9\n"
        "10 p10 - - -\n"
        "65534 br-int - - -\n");

    /* A restart with the same content still reports the snapshot once. */
    ck_assert(stop_server("db"));
    WAIT_UNTIL(&h, !ovsdb_monitor_is_connected(h.m));
    ck_assert_int_eq(start_server("db"), 0);
    WAIT_UNTIL(&h, ovsdb_monitor_is_synced(h.m));
    ck_assert_int_eq(h.n_changed, 4);
    check_ports(&h,
        "9 p9 ns9/new - 10.0.0.9\n"
        "10 p10 - - -\n"
        "65534 br-int - - -\n");

    harness_destroy(&h);
    free(remote);
}
END_TEST

/* A fake ovsdb-server, for what a real one never sends. */

struct fake_server {
    struct evconnlistener *listener;
    struct bufferevent *conn;   /* Current connection, or NULL. */
    int n_accepts;
    char *buf;                  /* Input not yet parsed. */
    size_t len;
    json_t *received;           /* Messages received on 'conn'. */
};

static void
fake_read_cb(struct bufferevent *bev, void *fake_)
{
    struct fake_server *fake = fake_;
    struct evbuffer *input = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(input);

    fake->buf = np_xrealloc(fake->buf, fake->len + n);
    evbuffer_remove(input, fake->buf + fake->len, n);
    fake->len += n;

    /* Quadratic on partial messages, which is fine for tiny requests. */
    for (;;) {
        size_t skip = 0;
        while (skip < fake->len && strchr(" \t\r\n", fake->buf[skip])) {
            skip++;
        }
        json_error_t error;
        json_t *msg = (skip < fake->len
                       ? json_loadb(fake->buf + skip, fake->len - skip,
                                    JSON_DISABLE_EOF_CHECK, &error)
                       : NULL);
        if (!msg) {
            break;
        }
        json_array_append_new(fake->received, msg);
        size_t used = skip + error.position;
        memmove(fake->buf, fake->buf + used, fake->len - used);
        fake->len -= used;
    }
}

static void
fake_close(struct fake_server *fake)
{
    if (fake->conn) {
        bufferevent_free(fake->conn);
        fake->conn = NULL;
    }
    fake->len = 0;
    json_array_clear(fake->received);
}

static void
fake_event_cb(struct bufferevent *bev OVS_UNUSED, short events, void *fake_)
{
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        fake_close(fake_);
    }
}

static void
fake_accept_cb(struct evconnlistener *listener OVS_UNUSED,
               evutil_socket_t fd, struct sockaddr *sa OVS_UNUSED,
               int socklen OVS_UNUSED, void *fake_)
{
    struct fake_server *fake = fake_;

    fake_close(fake);
    fake->n_accepts++;
    fake->conn = bufferevent_socket_new(
        evconnlistener_get_base(fake->listener), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(fake->conn, fake_read_cb, NULL, fake_event_cb, fake);
    bufferevent_enable(fake->conn, EV_READ | EV_WRITE);
}

static void
fake_init(struct fake_server *fake, struct event_base *base,
          const char *path)
{
    struct sockaddr_un sun;

    memset(fake, 0, sizeof *fake);
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    ck_assert(strlen(path) < sizeof sun.sun_path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fake->received = json_pack("[]");
    fake->listener = evconnlistener_new_bind(
        base, fake_accept_cb, fake, LEV_OPT_CLOSE_ON_FREE, -1,
        (struct sockaddr *) &sun, sizeof sun);
    ck_assert_ptr_nonnull(fake->listener);
}

static void
fake_destroy(struct fake_server *fake)
{
    fake_close(fake);
    evconnlistener_free(fake->listener);
    json_decref(fake->received);
    free(fake->buf);
}

/* Returns the first received message whose 'key' is the string 'value'. */
static json_t *
fake_find(const struct fake_server *fake, const char *key, const char *value)
{
    size_t i;
    json_t *msg;
    json_array_foreach (fake->received, i, msg) {
        json_t *v = json_object_get(msg, key);
        if (json_is_string(v) && !strcmp(json_string_value(v), value)) {
            return msg;
        }
    }
    return NULL;
}

static void
fake_send(struct fake_server *fake, const char *s, size_t n)
{
    ck_assert_ptr_nonnull(fake->conn);
    bufferevent_write(fake->conn, s, n);
}

/* Sends 'n' bytes of 's' and runs the loop until the monitor has had the
 * chance to read them. */
static void
fake_send_and_flush(struct harness *h, struct fake_server *fake,
                    const char *s, size_t n)
{
    fake_send(fake, s, n);
    WAIT_UNTIL(h, !fake->conn
               || !evbuffer_get_length(bufferevent_get_output(fake->conn)));
    for (int i = 0; i < 5; i++) {
        event_base_loop(h->base, EVLOOP_NONBLOCK);
    }
}

/* Waits for a connection and its "monitor" request; returns the request's
 * id after checking what it asks for. */
static json_int_t
fake_wait_monitor(struct harness *h, struct fake_server *fake, int n_accepts)
{
    WAIT_UNTIL(h, fake->n_accepts == n_accepts && fake->conn
               && fake_find(fake, "method", "monitor"));
    json_t *req = fake_find(fake, "method", "monitor");
    json_t *params = json_object_get(req, "params");
    ck_assert_str_eq(json_string_value(json_array_get(params, 0)),
                     "Open_vSwitch");
    json_t *tables = json_array_get(params, 2);
    ck_assert_ptr_nonnull(json_object_get(tables, "Bridge"));
    ck_assert_ptr_nonnull(json_object_get(tables, "Port"));
    ck_assert_ptr_nonnull(json_object_get(tables, "Interface"));
    ck_assert(json_is_integer(json_object_get(req, "id")));
    return json_integer_value(json_object_get(req, "id"));
}

START_TEST(test_protocol)
{
    ck_assert_msg(!setup_error, "%s", setup_error);
    char *path = np_xasprintf("%s/fake.sock", test_dir);
    char *remote = np_xasprintf("unix:%s", path);

    struct harness h;
    harness_init(&h);
    struct fake_server fake;
    fake_init(&fake, h.base, path);
    harness_start(&h, remote, "br-int");

    /* Not JSON: dropped, counted, reconnected. */
    fake_wait_monitor(&h, &fake, 1);
    ck_assert(ovsdb_monitor_is_connected(h.m));
    fake_send(&fake, "{]", 2);
    WAIT_UNTIL(&h, stats(&h).n_parse_errors == 1);
    ck_assert(!ovsdb_monitor_is_connected(h.m));
    ck_assert_uint_eq(stats(&h).n_disconnects, 1);

    /* Second connection: answer "echo", then deliver the snapshot in
     * pieces cut inside strings, after a backslash and between messages.
     * Names and values hold brackets, quotes and backslashes. */
    json_int_t id = fake_wait_monitor(&h, &fake, 2);
    static const char echo[] =
        "{\"id\":\"echo-1\",\"method\":\"echo\",\"params\":[\"hi\"]}";
    fake_send(&fake, echo, strlen(echo));
    WAIT_UNTIL(&h, fake_find(&fake, "id", "echo-1"));
    json_t *reply = fake_find(&fake, "id", "echo-1");
    ck_assert(json_is_null(json_object_get(reply, "error")));
    json_t *result = json_object_get(reply, "result");
    ck_assert(json_is_array(result) && json_array_size(result) == 1);
    ck_assert_str_eq(json_string_value(json_array_get(result, 0)), "hi");

    char *snapshot = np_xasprintf(
        "  \n{\"id\":%lld,\"error\":null,\"result\":{"
        "\"Bridge\":{"
          "\"b1\":{\"new\":{\"name\":\"br-int\",\"ports\":[\"set\","
            "[[\"uuid\",\"p1\"],[\"uuid\",\"p2\"]]]}},"
          "\"b2\":{\"new\":{\"name\":\"other\",\"ports\":[\"uuid\","
            "\"p3\"]}}},"
        "\"Port\":{"
          "\"p1\":{\"new\":{\"name\":\"w\",\"interfaces\":[\"uuid\","
            "\"i1\"]}},"
          "\"p2\":{\"new\":{\"name\":\"q\",\"interfaces\":[\"set\","
            "[[\"uuid\",\"i2\"]]]}},"
          "\"p3\":{\"new\":{\"name\":\"z\",\"interfaces\":[\"uuid\","
            "\"i3\"]}}},"
        "\"Interface\":{"
          "\"i1\":{\"new\":{\"name\":\"w\\\"}{[\\\\\",\"type\":\"\","
            "\"ofport\":3,\"external_ids\":[\"map\",[[\"pod-namespace\","
            "\"ns\"],[\"pod-name\",\"p}]\"],[\"ip\",\"10.1.0.3\"]]]}},"
          "\"i2\":{\"new\":{\"name\":\"q\",\"type\":\"\","
            "\"ofport\":[\"set\",[]],\"external_ids\":[\"map\",[]]}},"
          "\"i3\":{\"new\":{\"name\":\"z\",\"type\":\"\","
            "\"ofport\":4,\"external_ids\":[\"map\",[]]}}}}}",
        (long long) id);
    const char *cuts[] = {
        strstr(snapshot, "w\\\"") + 2,  /* Right after a backslash. */
        strstr(snapshot, "}{[") + 1,    /* Brackets inside a string. */
        snapshot + strlen(snapshot) - 1, /* Before the last brace. */
    };
    const char *p = snapshot;
    for (size_t i = 0; i < NP_ARRAY_SIZE(cuts); i++) {
        fake_send_and_flush(&h, &fake, p, cuts[i] - p);
        ck_assert(!ovsdb_monitor_is_synced(h.m));
        ck_assert(ovsdb_monitor_is_connected(h.m));
        p = cuts[i];
    }
    fake_send(&fake, p, strlen(p));
    wait_for_ports(&h, "3 w\"}{[\\ ns/p}] - 10.1.0.3\n");
    ck_assert_int_eq(h.n_changed, 1);
    free(snapshot);

    /* Two updates in one write, back to back. */
    static const char updates[] =
        "{\"id\":null,\"method\":\"update\",\"params\":[\"ovs-netpol\","
        "{\"Interface\":{\"i2\":{\"old\":{\"ofport\":[\"set\",[]]},"
        "\"new\":{\"name\":\"q\",\"type\":\"\",\"ofport\":6,"
        "\"external_ids\":[\"map\",[]]}}}}]}"
        "{\"id\":null,\"method\":\"update\",\"params\":[\"ovs-netpol\","
        "{\"Bridge\":{\"b1\":{\"old\":{\"ports\":[\"set\",[[\"uuid\",\"p1\"],"
        "[\"uuid\",\"p2\"]]]},\"new\":{\"name\":\"br-int\","
        "\"ports\":[\"uuid\",\"p2\"]}}},"
        "\"Port\":{\"p1\":{\"old\":{\"name\":\"w\"}}},"
        "\"Interface\":{\"i1\":{\"old\":{\"name\":\"w\"}}}}]}\n";
    fake_send(&fake, updates, strlen(updates));
    wait_for_ports(&h, "6 q - - -\n");
    ck_assert_uint_eq(stats(&h).n_updates, 2);
    ck_assert(h.n_changed == 2 || h.n_changed == 3);

    /* An update for a monitor we never asked for breaks the protocol; the
     * ports stay. */
    int n_changed = h.n_changed;
    static const char bad_update[] =
        "{\"id\":null,\"method\":\"update\",\"params\":[\"x\",{}]}";
    fake_send(&fake, bad_update, strlen(bad_update));
    WAIT_UNTIL(&h, stats(&h).n_parse_errors == 2);
    ck_assert(!ovsdb_monitor_is_connected(h.m));
    check_ports(&h, "6 q - - -\n");
    ck_assert_int_eq(h.n_changed, n_changed);

    /* A message over the limit, never finished. */
    fake_wait_monitor(&h, &fake, 3);
    size_t big_size = OVSDB_MONITOR_MAX_MESSAGE_SIZE + 4096;
    char *big = np_xmalloc(big_size);
    memset(big, ' ', big_size);
    memcpy(big, "{\"x\":[", 6);
    fake_send(&fake, big, big_size);
    free(big);
    WAIT_UNTIL(&h, stats(&h).n_parse_errors == 3);
    ck_assert(!ovsdb_monitor_is_connected(h.m));
    check_ports(&h, "6 q - - -\n");

    /* The server refuses the monitor. */
    id = fake_wait_monitor(&h, &fake, 4);
    char *refusal = np_xasprintf("{\"id\":%lld,\"result\":null,"
                                 "\"error\":\"unknown database\"}",
                                 (long long) id);
    fake_send(&fake, refusal, strlen(refusal));
    free(refusal);
    WAIT_UNTIL(&h, stats(&h).n_parse_errors == 4);

    /* Garbage between messages. */
    fake_wait_monitor(&h, &fake, 5);
    static const char garbage[] =
        "{\"id\":\"e\",\"method\":\"echo\",\"params\":[]} x";
    fake_send(&fake, garbage, strlen(garbage));
    WAIT_UNTIL(&h, stats(&h).n_parse_errors == 5);
    check_ports(&h, "6 q - - -\n");
    ck_assert_int_eq(h.n_changed, n_changed);

    /* The fake's bufferevent must go before the event_base. */
    fake_destroy(&fake);
    harness_destroy(&h);
    free(path);
    free(remote);
}
END_TEST

START_TEST(test_bad_remote)
{
    struct event_base *base = event_base_new();
    ck_assert_ptr_null(ovsdb_monitor_create(base, "tcp:127.0.0.1:6640",
                                            "br-int", NULL, NULL));
    ck_assert_ptr_null(ovsdb_monitor_create(base, "unix:", "br-int",
                                            NULL, NULL));
    ovsdb_monitor_destroy(NULL);
    event_base_free(base);
}
END_TEST

static bool
have_program(const char *name)
{
    return !run("command -v %s >/dev/null 2>&1", name);
}

int
main(void)
{
    /* ovsdb-server lives in sbin. */
    const char *path = getenv("PATH");
    char *new_path = np_xasprintf("%s:/usr/sbin:/usr/local/sbin:/sbin",
                                  path ? path : "/usr/bin:/bin");
    setenv("PATH", new_path, 1);
    free(new_path);

    if (!have_program("ovsdb-server") || !have_program("ovsdb-tool")
        || !have_program("ovs-vsctl") || access(SCHEMA, R_OK)) {
        fprintf(stderr, "ovsdb-server, ovsdb-tool, ovs-vsctl or %s missing: "
                "skipping\n", SCHEMA);
        return 77;
    }

    /* Writing to a socket whose peer is gone must be an error, not death:
     * the agent ignores SIGPIPE the same way. */
    signal(SIGPIPE, SIG_IGN);

    Suite *s = suite_create("ovsdb_monitor");
    const struct {
        const char *name;
        const TTest *test;
        SFun setup, teardown;   /* Unchecked fixture. */
    } cases[] = {
        { "snapshot", test_snapshot, server_setup, server_teardown },
        { "updates", test_updates, server_setup, server_teardown },
        { "malformed", test_malformed, server_setup, server_teardown },
        { "reconnect", test_reconnect, server_setup, server_teardown },
        { "protocol", test_protocol, dir_setup, dir_teardown },
        { "bad_remote", test_bad_remote, NULL, NULL },
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(cases); i++) {
        TCase *tc = tcase_create(cases[i].name);
        if (cases[i].setup) {
            tcase_add_unchecked_fixture(tc, cases[i].setup,
                                        cases[i].teardown);
        }
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
