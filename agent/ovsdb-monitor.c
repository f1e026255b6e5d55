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

/* ovsdb-monitor.c: a source of the agent, OVSDB -> cluster state.  It keeps
 * a replica of the Bridge, Port and Interface columns it needs, received
 * over an RFC 7047 JSON-RPC connection to ovsdb-server, and publishes the
 * ports of one bridge as 'struct local_port' (see ovsdb-monitor.h for the
 * contract).
 *
 * What it must never do: write to the database, touch the switch or the
 * cluster state, report ports gone because the connection went away, block
 * the event loop, trust the size or the content of what the server sends
 * (every message is bounded, every value checked, every log line that input
 * can trigger is rate-limited), or call back from inside a parse.
 *
 * libopenvswitch's JSON-RPC client and IDL are not installed, so this file
 * carries the small subset of the protocol it needs: framing of a stream of
 * JSON texts, one "monitor" request, "update" notifications and "echo".
 * (Nor is ovs_strerror(); strerror() is fine on the agent's one thread.) */

#include <config.h>
#include "agent/ovsdb-monitor.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>
#include <openvswitch/hmap.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>

#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(ovsdb_monitor);

/* Connection problems and hostile or broken input.  Both can repeat as fast
 * as the peer likes, so both are rate-limited. */
static struct vlog_rate_limit conn_rl = VLOG_RATE_LIMIT_INIT(5, 10);
static struct vlog_rate_limit input_rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit value_rl = VLOG_RATE_LIMIT_INIT(10, 50);

/* The database, and the name under which our monitor's updates come. */
#define DB_NAME "Open_vSwitch"
#define MONITOR_NAME "ovs-netpol"

/* Reconnection backoff bounds, in milliseconds. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* Input buffers larger than this are freed once empty. */
#define INPUT_KEEP_SIZE (1024 * 1024)

/* Longest string value quoted in a log message. */
#define LOG_VALUE_MAX 64

/* Connection states. */
#define MONITOR_STATES                                                  \
    /* Waiting for the reconnect timer; no socket. */                   \
    MONITOR_STATE(BACKOFF, "backoff")                                   \
    /* connect() in progress. */                                        \
    MONITOR_STATE(CONNECTING, "connecting")                             \
    /* Connected, "monitor" sent, waiting for its reply. */             \
    MONITOR_STATE(MONITORING, "monitoring")                             \
    /* Snapshot received; following "update" notifications. */          \
    MONITOR_STATE(SYNCED, "synced")

enum monitor_state {
#define MONITOR_STATE(ENUM, NAME) S_##ENUM,
    MONITOR_STATES
#undef MONITOR_STATE
};

/* The tables we replicate, and the columns we ask for. */
enum db_table_id {
    T_BRIDGE,
    T_PORT,
    T_INTERFACE,
    N_TABLES
};

struct db_table_def {
    const char *name;           /* OVSDB table name. */
    const char *refs_column;    /* Column of UUIDs kept in 'refs', or NULL. */
    const char *columns[5];     /* Monitored columns, NULL-terminated. */
};

static const struct db_table_def db_tables[N_TABLES] = {
    [T_BRIDGE] = { "Bridge", "ports", { "name", "ports", "fail_mode",
                                        NULL } },
    [T_PORT] = { "Port", "interfaces", { "name", "interfaces", NULL } },
    [T_INTERFACE] = { "Interface", NULL,
                      { "name", "type", "ofport", "external_ids", NULL } },
};

/* One row of the replica.  One structure serves the three tables: a Bridge
 * row refers to its ports, a Port row to its interfaces, and an Interface
 * row carries what it would report as a port. */
struct db_row {
    struct hmap_node node;      /* In 'tables[]', by hash of 'uuid'. */
    char *uuid;                 /* Row UUID, as received. */
    char *name;                 /* "name" column. */
    char **refs;                /* Bridge: Port UUIDs; Port: Interface
                                 * UUIDs; Interface: none. */
    size_t n_refs;
    char *fail_mode;            /* Bridge only: "fail_mode", "" if unset. */
    struct local_port *port;    /* Interface only: the port this interface
                                 * is, with 'ofport' 0 if it has no usable
                                 * OpenFlow port number yet. */
};

/* Framing of the incoming byte stream into JSON texts.
 *
 * Bytes are appended to 'buf'.  The scanner walks each byte once, tracking
 * string, escape and nesting depth; when the depth returns to zero, the text
 * between 'start' and the scan position is exactly one message, which is
 * parsed on its own.  Consumed bytes are dropped before the next append, so
 * an incomplete message is moved at most once and the work stays linear in
 * the input size. */
struct input {
    char *buf;
    size_t len;                 /* Bytes in 'buf'. */
    size_t allocated;           /* Bytes allocated for 'buf'. */
    size_t start;               /* Offset of the message being scanned. */
    size_t pos;                 /* Offset of the next byte to scan. */
    size_t depth;               /* Nesting of '{' and '['. */
    bool in_string;             /* Inside a JSON string? */
    bool escape;                /* After a backslash inside a string? */
};

struct ovsdb_monitor {
    /* Configuration. */
    struct event_base *base;
    char *remote;               /* "unix:PATH", for log messages. */
    struct sockaddr_un addr;    /* The server's socket. */
    socklen_t addr_len;
    char *bridge;               /* Name of the bridge whose ports count. */
    void (*changed)(void *aux);
    void *aux;

    /* Connection. */
    enum monitor_state state;
    struct bufferevent *bev;    /* Nonnull unless in S_BACKOFF. */
    struct event *timer;        /* Reconnect timer. */
    int backoff_ms;             /* Upper bound of the next backoff. */
    uint32_t rng;               /* State of the jitter generator. */
    json_int_t next_id;         /* Id of the next request we send. */
    json_int_t monitor_id;      /* Id of the "monitor" request in flight. */
    struct input input;

    /* Replica of the monitored columns of the current connection. */
    struct hmap tables[N_TABLES]; /* Contain struct db_row, by UUID. */
    bool dirty;                 /* Replica changed since last publish()? */
    bool snapshot;              /* A snapshot arrived since last publish()? */

    /* What the monitor reports. */
    struct hmap ports;          /* Contains struct local_port, by ofport. */
    char *fail_mode;            /* The bridge's fail_mode ("" if unset), or
                                 * NULL if not known (no bridge row). */

    struct ovs_list barriers;   /* Contains struct barrier, oldest first. */

    struct ovsdb_monitor_stats stats;
};

/* A caller waiting until the monitor has seen everything the database held
 * when it asked (ovsdb_monitor_barrier()). */
struct barrier {
    struct ovs_list node;       /* In 'barriers'. */
    json_int_t id;              /* Of our "echo"; 0 once answered. */
    void (*cb)(void *aux);
    void *aux;
};

/* Connection. */
static void start_connect(struct ovsdb_monitor *);
static void disconnect(struct ovsdb_monitor *, const char *reason);
static void schedule_reconnect(struct ovsdb_monitor *);
static void reconnect_cb(evutil_socket_t, short, void *);
static void event_cb(struct bufferevent *, short events, void *);
static void read_cb(struct bufferevent *, void *);
static void handle_input(struct ovsdb_monitor *, struct evbuffer *);
static void send_json(struct ovsdb_monitor *, json_t *);
static void send_monitor_request(struct ovsdb_monitor *);
static const char *state_name(enum monitor_state);

/* Input framing and message dispatch. */
static void input_append(struct input *, struct evbuffer *);
static int input_run(struct ovsdb_monitor *);
static void input_reset(struct input *);
static int handle_message(struct ovsdb_monitor *, json_t *);
static int handle_request(struct ovsdb_monitor *, const char *method,
                          json_t *params, json_t *id);
static int handle_reply(struct ovsdb_monitor *, json_t *msg, json_t *id);
static int apply_table_updates(struct ovsdb_monitor *, json_t *updates);

/* Replica. */
static struct db_row *row_parse(struct ovsdb_monitor *, enum db_table_id,
                                const char *uuid, json_t *row);
static struct db_row *row_find(const struct ovsdb_monitor *,
                               enum db_table_id, const char *uuid);
static void row_destroy(struct db_row *);
static void replica_clear(struct ovsdb_monitor *);

/* Interface rows: pod identity and addresses. */
static struct local_port *iface_parse(struct ovsdb_monitor *,
                                      const char *name, json_t *row);
static void iface_parse_ips(struct ovsdb_monitor *, struct local_port *,
                            const char *key, const char *value);
static void iface_parse_mac(struct ovsdb_monitor *, struct local_port *,
                            const char *key, const char *value);
static void log_bad_value(struct ovsdb_monitor *, const char *iface,
                          const char *key, const char *value,
                          const char *why);
static bool parse_ip_entry(const char *entry, struct cidr *);
static bool parse_mac(const char *s, uint8_t mac[6]);
static bool ofport_is_valid(json_int_t);

/* OVSDB datum helpers (RFC 7047 section 5.1). */
static const char *datum_string(const json_t *);
static bool datum_integer(const json_t *, json_int_t *);
static size_t datum_uuids(const json_t *, char ***uuids);
static const char *datum_map_get(const json_t *, const char *key);

/* Publication. */
static void publish(struct ovsdb_monitor *);
static void update_fail_mode(struct ovsdb_monitor *);
static void complete_barriers(struct ovsdb_monitor *, bool all);
static void compute_ports(const struct ovsdb_monitor *, struct hmap *);
static bool ports_equal(const struct hmap *, const struct hmap *);
static void ports_clear(struct hmap *);

/* Constructor and destructor. */

struct ovsdb_monitor *
ovsdb_monitor_create(struct event_base *base, const char *remote,
                     const char *bridge, void (*changed)(void *aux),
                     void *aux)
{
    static const char prefix[] = "unix:";
    struct sockaddr_un addr;

    if (strncmp(remote, prefix, strlen(prefix))) {
        VLOG_ERR("%s: unsupported OVSDB remote (only \"unix:PATH\")",
                 remote);
        return NULL;
    }
    const char *path = remote + strlen(prefix);
    if (!path[0] || strlen(path) >= sizeof addr.sun_path) {
        VLOG_ERR("%s: socket path empty or too long", remote);
        return NULL;
    }

    struct ovsdb_monitor *m = np_xzalloc(sizeof *m);
    m->base = base;
    m->remote = np_xstrdup(remote);
    memset(&m->addr, 0, sizeof m->addr);
    m->addr.sun_family = AF_UNIX;
    memcpy(m->addr.sun_path, path, strlen(path) + 1);
    m->addr_len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
    m->bridge = np_xstrdup(bridge);
    m->changed = changed;
    m->aux = aux;

    m->state = S_BACKOFF;
    m->backoff_ms = BACKOFF_MIN_MS;
    m->rng = (uint32_t) np_time_usec() ^ ((uint32_t) getpid() << 16)
             ^ (uint32_t) (uintptr_t) m;
    if (!m->rng) {
        m->rng = 1;
    }
    m->next_id = 1;
    m->timer = evtimer_new(base, reconnect_cb, m);
    if (!m->timer) {
        VLOG_ABORT("%s: evtimer_new failed", remote);
    }

    for (int i = 0; i < N_TABLES; i++) {
        hmap_init(&m->tables[i]);
    }
    hmap_init(&m->ports);
    ovs_list_init(&m->barriers);

    /* Connect from the event loop, never from here. */
    struct timeval now = { 0, 0 };
    evtimer_add(m->timer, &now);
    return m;
}

void
ovsdb_monitor_destroy(struct ovsdb_monitor *m)
{
    if (!m) {
        return;
    }
    if (m->bev) {
        bufferevent_free(m->bev);
    }
    event_free(m->timer);
    input_reset(&m->input);
    free(m->input.buf);
    replica_clear(m);
    for (int i = 0; i < N_TABLES; i++) {
        hmap_destroy(&m->tables[i]);
    }
    ports_clear(&m->ports);
    hmap_destroy(&m->ports);
    struct barrier *b;
    LIST_FOR_EACH_POP (b, node, &m->barriers) {
        free(b);
    }
    free(m->remote);
    free(m->fail_mode);
    free(m->bridge);
    free(m);
}

void
ovsdb_monitor_barrier(struct ovsdb_monitor *m, void (*cb)(void *aux),
                      void *aux)
{
    struct barrier *b = np_xzalloc(sizeof *b);
    b->cb = cb;
    b->aux = aux;
    ovs_list_push_back(&m->barriers, &b->node);
    if (m->state != S_SYNCED) {
        /* Nothing newer to wait for: the next snapshot replaces all. */
        complete_barriers(m, true);
        return;
    }
    /* ovsdb-server sends every update it owes us before the reply to a
     * later request, so once "echo" comes back we have seen them all. */
    b->id = m->next_id++;
    send_json(m, json_pack("{s:s, s:[], s:I}", "method", "echo", "params",
                           "id", (json_int_t) b->id));
}

/* Calls back the barriers that were answered (or every one, with 'all'). */
static void
complete_barriers(struct ovsdb_monitor *m, bool all)
{
    struct barrier *b;
    LIST_FOR_EACH_SAFE (b, node, &m->barriers) {
        if (all || !b->id) {
            ovs_list_remove(&b->node);
            b->cb(b->aux);
            free(b);
        }
    }
}

/* Queries. */

const struct hmap *
ovsdb_monitor_ports(const struct ovsdb_monitor *m)
{
    return &m->ports;
}

const struct local_port *
ovsdb_monitor_find_port(const struct ovsdb_monitor *m, uint32_t ofport)
{
    const struct local_port *port;

    HMAP_FOR_EACH_WITH_HASH (port, node, ovsdb_monitor_hash_ofport(ofport),
                             &m->ports) {
        if (port->ofport == ofport) {
            return port;
        }
    }
    return NULL;
}

uint32_t
ovsdb_monitor_hash_ofport(uint32_t ofport)
{
    return np_hash_add(0, ofport);
}

bool
ovsdb_monitor_is_synced(const struct ovsdb_monitor *m)
{
    return m->state == S_SYNCED;
}

const char *
ovsdb_monitor_fail_mode(const struct ovsdb_monitor *m)
{
    return m->fail_mode;
}

bool
ovsdb_monitor_is_connected(const struct ovsdb_monitor *m)
{
    return m->state == S_MONITORING || m->state == S_SYNCED;
}

void
ovsdb_monitor_get_stats(const struct ovsdb_monitor *m,
                        struct ovsdb_monitor_stats *stats)
{
    *stats = m->stats;
}

/* Connection. */

static const char *
state_name(enum monitor_state state)
{
    switch (state) {
#define MONITOR_STATE(ENUM, NAME) case S_##ENUM: return NAME;
        MONITOR_STATES
#undef MONITOR_STATE
    }
    return "<unknown>";
}

static void
reconnect_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
             void *m_)
{
    start_connect(m_);
}

static void
start_connect(struct ovsdb_monitor *m)
{
    m->bev = bufferevent_socket_new(m->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!m->bev) {
        disconnect(m, "cannot create socket");
        return;
    }
    bufferevent_setcb(m->bev, read_cb, NULL, event_cb, m);
    bufferevent_enable(m->bev, EV_READ);
    m->state = S_CONNECTING;
    VLOG_DBG("%s: connecting", m->remote);

    if (bufferevent_socket_connect(m->bev, (struct sockaddr *) &m->addr,
                                   m->addr_len) < 0) {
        disconnect(m, strerror(EVUTIL_SOCKET_ERROR()));
    }
}

/* Closes the connection, if any, forgets the replica (never the published
 * ports) and schedules the next attempt.  'reason' is for the log. */
static void
disconnect(struct ovsdb_monitor *m, const char *reason)
{
    bool was_connected = ovsdb_monitor_is_connected(m);

    VLOG_DBG("%s: disconnecting in state %s", m->remote,
             state_name(m->state));
    if (m->bev) {
        bufferevent_free(m->bev);
        m->bev = NULL;
    }
    input_reset(&m->input);
    replica_clear(m);
    m->dirty = m->snapshot = false;

    if (was_connected) {
        m->stats.n_disconnects++;
        VLOG_WARN_RL(&conn_rl, "%s: connection dropped (%s); keeping the "
                     "last %zu known ports of %s until resynced",
                     m->remote, reason, hmap_count(&m->ports), m->bridge);
    } else {
        m->stats.n_connect_failures++;
        VLOG_WARN_RL(&conn_rl, "%s: connection attempt failed (%s)",
                     m->remote, reason);
    }
    m->state = S_BACKOFF;
    schedule_reconnect(m);
    complete_barriers(m, true);
}

/* Arms the reconnect timer for a random delay in [backoff / 2, backoff],
 * then doubles the backoff up to its maximum.  The jitter keeps the agents
 * of many nodes, or many clients of one restarted server, from coming back
 * in lockstep. */
static void
schedule_reconnect(struct ovsdb_monitor *m)
{
    /* xorshift32: plenty for jitter. */
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 17;
    m->rng ^= m->rng << 5;

    int half = m->backoff_ms / 2;
    int delay = half + (int) (m->rng % (uint32_t) (m->backoff_ms - half + 1));
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    evtimer_add(m->timer, &tv);
    VLOG_DBG("%s: reconnecting in %d ms", m->remote, delay);

    m->backoff_ms = m->backoff_ms >= BACKOFF_MAX_MS / 2
                    ? BACKOFF_MAX_MS : m->backoff_ms * 2;
}

static void
event_cb(struct bufferevent *bev OVS_UNUSED, short events, void *m_)
{
    struct ovsdb_monitor *m = m_;

    if (events & BEV_EVENT_CONNECTED) {
        m->state = S_MONITORING;
        m->stats.n_connects++;
        VLOG_INFO_RL(&conn_rl, "%s: connected", m->remote);
        send_monitor_request(m);
    } else if (events & BEV_EVENT_EOF) {
        disconnect(m, "connection closed by peer");
    } else if (events & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        int error = EVUTIL_SOCKET_ERROR();
        disconnect(m, error ? strerror(error) : "socket error");
    }
}

static void
read_cb(struct bufferevent *bev, void *m_)
{
    handle_input(m_, bufferevent_get_input(bev));
}

/* Handles the bytes in 'evb' (all of them) as what the socket delivered. */
static void
handle_input(struct ovsdb_monitor *m, struct evbuffer *evb)
{
    input_append(&m->input, evb);
    int error = input_run(m);
    if (!error) {
        publish(m);
        complete_barriers(m, false);
    } else {
        /* The replica may be half-updated; publish nothing of it.  The next
         * connection's snapshot will replace the whole set. */
        m->stats.n_parse_errors++;
        disconnect(m, error == EMSGSIZE ? "message too long"
                      : "protocol error");
    }
}

/* Sends 'msg' and releases the caller's reference to it. */
static void
send_json(struct ovsdb_monitor *m, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s) {
        VLOG_ABORT("%s: json_dumps failed", m->remote);
    }
    if (m->bev) {
        bufferevent_write(m->bev, s, strlen(s));
    }
    free(s);
}

static void
send_monitor_request(struct ovsdb_monitor *m)
{
    json_t *requests = json_object();
    for (int i = 0; i < N_TABLES; i++) {
        const struct db_table_def *def = &db_tables[i];
        json_t *columns = json_array();
        for (const char *const *c = def->columns; *c; c++) {
            json_array_append_new(columns, json_string(*c));
        }
        json_object_set_new(requests, def->name,
                            json_pack("{s:o}", "columns", columns));
    }

    m->monitor_id = m->next_id++;
    send_json(m, json_pack("{s:s, s:[s, s, o], s:I}",
                           "method", "monitor",
                           "params", DB_NAME, MONITOR_NAME, requests,
                           "id", (json_int_t) m->monitor_id));
}

/* Test hook.
 *
 * XXX Only for tests/fuzz/fuzz-ovsdb.c, which has no ovsdb-server: it feeds
 * bytes to the same framing and message handling as read_cb(), so that
 * whatever a server could send is covered.  Not declared in ovsdb-monitor.h;
 * the agent never calls it.  A monitor that is not connected is first put
 * in the state a new connection reaches: "monitor" request sent (its id is
 * the next request id, 1 for a new monitor; nothing is written, there is no
 * socket), waiting for the snapshot.  An error drops the "connection" as
 * usual (the reconnect timer is armed but the fuzzer never runs the event
 * loop), and the next call starts a new one. */
void ovsdb_monitor_feed_for_testing(struct ovsdb_monitor *, const void *data,
                                    size_t size);

void
ovsdb_monitor_feed_for_testing(struct ovsdb_monitor *m, const void *data,
                               size_t size)
{
    if (!ovsdb_monitor_is_connected(m)) {
        evtimer_del(m->timer);
        m->state = S_MONITORING;
        m->stats.n_connects++;
        send_monitor_request(m);
    }

    if (!size) {
        return;                 /* A read delivers at least one byte. */
    }
    struct evbuffer *evb = evbuffer_new();
    if (!evb) {
        VLOG_ABORT("%s: evbuffer_new failed", m->remote);
    }
    evbuffer_add(evb, data, size);
    handle_input(m, evb);
    evbuffer_free(evb);
}

/* Input framing and message dispatch. */

/* Moves everything buffered in 'evb' to the end of 'in', first dropping the
 * messages already handled. */
static void
input_append(struct input *in, struct evbuffer *evb)
{
    if (in->start) {
        memmove(in->buf, in->buf + in->start, in->len - in->start);
        in->len -= in->start;
        in->pos -= in->start;
        in->start = 0;
    }
    if (!in->len && in->allocated > INPUT_KEEP_SIZE) {
        /* Give back what a big snapshot needed. */
        free(in->buf);
        in->buf = NULL;
        in->allocated = 0;
    }

    size_t n = evbuffer_get_length(evb);
    if (in->len + n > in->allocated) {
        in->buf = np_x2nrealloc(in->buf, &in->allocated, in->len + n, 1);
    }
    int retval = evbuffer_remove(evb, in->buf + in->len, n);
    if (retval > 0) {
        in->len += retval;
    }
}

/* Forgets any partial message, and gives back a large buffer. */
static void
input_reset(struct input *in)
{
    if (in->allocated > INPUT_KEEP_SIZE) {
        free(in->buf);
        in->buf = NULL;
        in->allocated = 0;
    }
    in->len = in->start = in->pos = in->depth = 0;
    in->in_string = in->escape = false;
}

/* Scans the bytes received since the last call and handles every complete
 * message, in order.  Returns 0 if successful, EMSGSIZE if a message exceeds
 * OVSDB_MONITOR_MAX_MESSAGE_SIZE, EPROTO if the stream is not a sequence of
 * JSON objects or a message breaks the protocol. */
static int
input_run(struct ovsdb_monitor *m)
{
    struct input *in = &m->input;

    for (; in->pos < in->len; in->pos++) {
        unsigned char c = in->buf[in->pos];

        if (in->pos - in->start >= OVSDB_MONITOR_MAX_MESSAGE_SIZE) {
            VLOG_WARN_RL(&input_rl, "%s: message longer than %u bytes",
                         m->remote, OVSDB_MONITOR_MAX_MESSAGE_SIZE);
            return EMSGSIZE;
        }

        if (in->in_string) {
            if (in->escape) {
                in->escape = false;
            } else if (c == '\\') {
                in->escape = true;
            } else if (c == '"') {
                in->in_string = false;
            }
            continue;
        }

        switch (c) {
        case '{':
        case '[':
            in->depth++;
            break;

        case '}':
        case ']':
            if (!in->depth) {
                goto garbage;
            }
            if (!--in->depth) {
                size_t size = in->pos + 1 - in->start;
                json_error_t jerr;
                json_t *msg = json_loadb(in->buf + in->start, size, 0, &jerr);
                in->start = in->pos + 1;
                if (!msg) {
                    VLOG_WARN_RL(&input_rl, "%s: received invalid JSON "
                                 "(%s at byte %d of a %zu-byte "
                                 "message)", m->remote, jerr.text,
                                 jerr.position, size);
                    return EPROTO;
                }
                int error = handle_message(m, msg);
                json_decref(msg);
                if (error) {
                    in->pos++;
                    return error;
                }
            }
            break;

        case '"':
            if (!in->depth) {
                goto garbage;
            }
            in->in_string = true;
            break;

        case ' ':
        case '\t':
        case '\r':
        case '\n':
            if (!in->depth) {
                in->start = in->pos + 1;
            }
            break;

        default:
            if (!in->depth) {
                goto garbage;
            }
            break;
        }
    }
    return 0;

garbage:
    VLOG_WARN_RL(&input_rl, "%s: received byte 0x%02x outside any JSON "
                 "object", m->remote, (unsigned char) in->buf[in->pos]);
    return EPROTO;
}

/* Handles one JSON-RPC message 'msg' (RFC 7047 section 4: a request, a
 * notification, or a reply).  Returns 0 or EPROTO. */
static int
handle_message(struct ovsdb_monitor *m, json_t *msg)
{
    if (!json_is_object(msg)) {
        VLOG_WARN_RL(&input_rl, "%s: received a JSON-RPC message that is "
                     "not an object", m->remote);
        return EPROTO;
    }

    json_t *method = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    if (method) {
        if (!json_is_string(method)) {
            VLOG_WARN_RL(&input_rl, "%s: received a request whose method "
                         "is not a string", m->remote);
            return EPROTO;
        }
        return handle_request(m, json_string_value(method),
                              json_object_get(msg, "params"), id);
    } else if (id && (json_object_get(msg, "result")
                      || json_object_get(msg, "error"))) {
        return handle_reply(m, msg, id);
    } else {
        VLOG_WARN_RL(&input_rl, "%s: received a JSON-RPC message that is "
                     "neither a request nor a reply", m->remote);
        return EPROTO;
    }
}

static int
handle_request(struct ovsdb_monitor *m, const char *method, json_t *params,
               json_t *id)
{
    if (!strcmp(method, "update")) {
        m->stats.n_updates++;
        if (m->state != S_SYNCED
            || !json_is_array(params) || json_array_size(params) != 2
            || !json_is_string(json_array_get(params, 0))
            || strcmp(json_string_value(json_array_get(params, 0)),
                      MONITOR_NAME)) {
            VLOG_WARN_RL(&input_rl, "%s: received an \"update\" that does "
                         "not belong to our monitor", m->remote);
            return EPROTO;
        }
        return apply_table_updates(m, json_array_get(params, 1));
    } else if (!strcmp(method, "echo")) {
        /* The reply to "echo" carries the request's params as its result
         * (RFC 7047 section 4.1.11). */
        if (id && !json_is_null(id)) {
            send_json(m, json_pack("{s:O, s:O, s:n}",
                                   "id", id,
                                   "result", params ? params : json_null(),
                                   "error"));
        }
        return 0;
    } else if (id && !json_is_null(id)) {
        VLOG_DBG_RL(&input_rl, "%s: rejecting unknown request \"%.*s\"",
                    m->remote, LOG_VALUE_MAX, method);
        send_json(m, json_pack("{s:O, s:n, s:s}",
                               "id", id, "result", "error",
                               "unknown method"));
        return 0;
    } else {
        VLOG_DBG_RL(&input_rl, "%s: ignoring notification \"%.*s\"",
                    m->remote, LOG_VALUE_MAX, method);
        return 0;
    }
}

static int
handle_reply(struct ovsdb_monitor *m, json_t *msg, json_t *id)
{
    struct barrier *b;
    LIST_FOR_EACH (b, node, &m->barriers) {
        if (json_is_integer(id) && b->id == json_integer_value(id)) {
            /* Answered: it completes once this batch is published. */
            b->id = 0;
            return 0;
        }
    }
    if (m->state != S_MONITORING || !json_is_integer(id)
        || json_integer_value(id) != m->monitor_id) {
        /* We send no other requests, but nothing breaks if a reply we do
         * not wait for shows up. */
        VLOG_DBG_RL(&input_rl, "%s: ignoring unexpected reply", m->remote);
        return 0;
    }

    json_t *error = json_object_get(msg, "error");
    if (error && !json_is_null(error)) {
        char *s = json_dumps(error, JSON_COMPACT | JSON_ENCODE_ANY);
        VLOG_WARN_RL(&input_rl, "%s: \"monitor\" request failed: %.*s",
                     m->remote, 4 * LOG_VALUE_MAX, s ? s : "");
        free(s);
        return EPROTO;
    }

    /* The replica is empty here: disconnect() cleared it. */
    int retval = apply_table_updates(m, json_object_get(msg, "result"));
    if (!retval) {
        m->state = S_SYNCED;
        m->snapshot = true;
        m->backoff_ms = BACKOFF_MIN_MS;
        m->stats.n_snapshots++;
        VLOG_INFO_RL(&conn_rl, "%s: monitoring bridge %s (%zu"
                     " interfaces in the database)", m->remote, m->bridge,
                     hmap_count(&m->tables[T_INTERFACE]));
    }
    return retval;
}

/* Applies 'updates', a <table-updates> object (RFC 7047 section 4.1.6), to
 * the replica.  A "new" row replaces the whole row, since the "monitor"
 * method sends every monitored column in it; a row update without "new" is
 * a deletion.  Returns 0 or EPROTO; on error the replica is partly updated
 * and must be thrown away. */
static int
apply_table_updates(struct ovsdb_monitor *m, json_t *updates)
{
    const char *table_name;
    json_t *table_update;

    if (!json_is_object(updates)) {
        goto error;
    }
    json_object_foreach (updates, table_name, table_update) {
        int t;
        for (t = 0; t < N_TABLES; t++) {
            if (!strcmp(table_name, db_tables[t].name)) {
                break;
            }
        }
        if (t >= N_TABLES || !json_is_object(table_update)) {
            goto error;
        }

        const char *uuid;
        json_t *row_update;
        json_object_foreach (table_update, uuid, row_update) {
            json_t *new = (json_is_object(row_update)
                           ? json_object_get(row_update, "new") : NULL);
            if (!json_is_object(row_update) || (new && !json_is_object(new))) {
                goto error;
            }

            struct db_row *row = row_find(m, t, uuid);
            if (row) {
                hmap_remove(&m->tables[t], &row->node);
                row_destroy(row);
            }
            if (new) {
                row = row_parse(m, t, uuid, new);
                hmap_insert(&m->tables[t], &row->node,
                            np_hash_string(uuid, 0));
            }
            m->dirty = true;
        }
    }
    return 0;

error:
    VLOG_WARN_RL(&input_rl, "%s: received malformed table updates",
                 m->remote);
    return EPROTO;
}

/* Replica. */

/* Returns a new row of table 't' with UUID 'uuid' made of the monitored
 * columns in 'row'.  A column of the wrong type counts as empty. */
static struct db_row *
row_parse(struct ovsdb_monitor *m, enum db_table_id t, const char *uuid,
          json_t *row)
{
    struct db_row *r = np_xzalloc(sizeof *r);
    r->uuid = np_xstrdup(uuid);

    const char *name = datum_string(json_object_get(row, "name"));
    r->name = np_xstrdup(name ? name : "");

    if (db_tables[t].refs_column) {
        r->n_refs = datum_uuids(json_object_get(row,
                                                db_tables[t].refs_column),
                                &r->refs);
    }
    if (t == T_INTERFACE) {
        r->port = iface_parse(m, r->name, row);
    } else if (t == T_BRIDGE) {
        const char *mode = datum_string(json_object_get(row, "fail_mode"));
        r->fail_mode = np_xstrdup(mode ? mode : "");
    }
    return r;
}

static struct db_row *
row_find(const struct ovsdb_monitor *m, enum db_table_id t, const char *uuid)
{
    struct db_row *row;

    HMAP_FOR_EACH_WITH_HASH (row, node, np_hash_string(uuid, 0),
                             &m->tables[t]) {
        if (!strcmp(row->uuid, uuid)) {
            return row;
        }
    }
    return NULL;
}

static void
row_destroy(struct db_row *row)
{
    if (row) {
        for (size_t i = 0; i < row->n_refs; i++) {
            free(row->refs[i]);
        }
        free(row->refs);
        local_port_destroy(row->port);
        free(row->fail_mode);
        free(row->name);
        free(row->uuid);
        free(row);
    }
}

static void
replica_clear(struct ovsdb_monitor *m)
{
    for (int i = 0; i < N_TABLES; i++) {
        struct db_row *row;
        HMAP_FOR_EACH_POP (row, node, &m->tables[i]) {
            row_destroy(row);
        }
    }
}

/* Interface rows: pod identity and addresses. */

/* Returns the port that Interface row 'row', named 'name', stands for: its
 * OpenFlow port number (0 if it has none that is usable), and the pod
 * identity and addresses its external_ids give (see ovsdb-monitor.h).
 * Logs and counts malformed values, and leaves them out. */
static struct local_port *
iface_parse(struct ovsdb_monitor *m, const char *name, json_t *row)
{
    json_int_t ofport;
    if (!datum_integer(json_object_get(row, "ofport"), &ofport)
        || !ofport_is_valid(ofport)) {
        ofport = 0;
    }
    struct local_port *port = local_port_create((uint32_t) ofport, name);

    /* The bridge's own internal interface is the host, whatever its
     * external_ids say. */
    const char *type = datum_string(json_object_get(row, "type"));
    if (type && !strcmp(type, "internal") && !strcmp(name, m->bridge)) {
        return port;
    }

    const json_t *ids = json_object_get(row, "external_ids");
    const char *ns = datum_map_get(ids, "pod-namespace");
    const char *pod = datum_map_get(ids, "pod-name");
    const char *iface_id = datum_map_get(ids, "iface-id");
    if (ns && ns[0] && pod && pod[0]) {
        port->pod_namespace = np_xstrdup(ns);
        port->pod_name = np_xstrdup(pod);
    } else {
        if ((ns && ns[0]) || (pod && pod[0])) {
            log_bad_value(m, name, ns && ns[0] ? "pod-namespace"
                          : "pod-name", ns && ns[0] ? ns : pod,
                          "without its pod-name/pod-namespace pair");
        }

        const char *underscore = iface_id ? strchr(iface_id, '_') : NULL;
        if (underscore && underscore > iface_id && underscore[1]) {
            port->pod_namespace = np_xstrndup(iface_id,
                                              underscore - iface_id);
            port->pod_name = np_xstrdup(underscore + 1);
        } else if (iface_id) {
            VLOG_DBG("interface %s: external_ids:iface-id \"%.*s\" is not a "
                     "pod identity", name, LOG_VALUE_MAX, iface_id);
        }
    }
    if (!port->pod_namespace) {
        /* Addresses without an identity describe nothing we use. */
        return port;
    }

    /* Antrea's keys first, key by key. */
    const char *ips = datum_map_get(ids, "ip");
    iface_parse_ips(m, port, ips ? "ip" : "ip_addresses",
                    ips ? ips : datum_map_get(ids, "ip_addresses"));

    static const char *const mac_keys[] = {
        "mac", "attached-mac", "attached_mac",
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(mac_keys); i++) {
        const char *mac = datum_map_get(ids, mac_keys[i]);
        if (mac) {
            iface_parse_mac(m, port, mac_keys[i], mac);
            break;
        }
    }
    return port;
}

/* Parses 'value', the comma-separated address list in external_ids:'key',
 * into 'port''s IPs.  Keeps the order, drops duplicates and, after logging
 * them, malformed entries. */
static void
iface_parse_ips(struct ovsdb_monitor *m, struct local_port *port,
                const char *key, const char *value)
{
    if (!value) {
        return;
    }

    size_t allocated = 0;
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *end = p + n;

        /* Trim blanks around the entry. */
        const char *s = p;
        while (s < end && (*s == ' ' || *s == '\t')) {
            s++;
        }
        const char *e = end;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if (e > s) {
            char *entry = np_xstrndup(s, e - s);
            struct cidr cidr;
            if (parse_ip_entry(entry, &cidr)) {
                bool dup = false;
                for (size_t i = 0; i < port->n_ips; i++) {
                    if (cidr_equal(&port->ips[i], &cidr)) {
                        dup = true;
                        break;
                    }
                }
                if (!dup) {
                    port->ips = np_x2nrealloc(port->ips, &allocated,
                                              port->n_ips + 1,
                                              sizeof *port->ips);
                    port->ips[port->n_ips++] = cidr;
                }
            } else {
                log_bad_value(m, port->name, key, entry,
                              "not an IP address");
            }
            free(entry);
        }

        if (!*end) {
            break;
        }
        p = end + 1;
    }
}

static void
iface_parse_mac(struct ovsdb_monitor *m, struct local_port *port,
                const char *key, const char *value)
{
    if (parse_mac(value, port->mac)) {
        port->has_mac = true;
    } else {
        memset(port->mac, 0, sizeof port->mac);
        log_bad_value(m, port->name, key, value, "not a unicast MAC address");
    }
}

static void
log_bad_value(struct ovsdb_monitor *m, const char *iface, const char *key,
              const char *value, const char *why)
{
    m->stats.n_bad_values++;
    VLOG_WARN_RL(&value_rl, "%s: interface %.*s: external_ids:%s=\"%.*s\" "
                 "ignored: %s", m->remote, LOG_VALUE_MAX, iface, key,
                 LOG_VALUE_MAX, value, why);
}

/* Parses "ADDRESS" or "ADDRESS/LENGTH" (whose length must be valid for the
 * family and is then dropped) into a host prefix. */
static bool
parse_ip_entry(const char *entry, struct cidr *cidr)
{
    const char *slash = strchr(entry, '/');
    if (!slash) {
        return cidr_parse_address(entry, cidr);
    }

    const char *len = slash + 1;
    size_t n_digits = strspn(len, "0123456789");
    if (!n_digits || n_digits > 3 || len[n_digits]) {
        return false;
    }

    char *address = np_xstrndup(entry, slash - entry);
    bool ok = cidr_parse_address(address, cidr);
    free(address);
    return ok && atoi(len) <= cidr_max_plen(cidr);
}

/* Parses 's' as "xx:xx:xx:xx:xx:xx" (hex digits of either case) into 'mac'.
 * A pod's MAC is unicast and not all-zero; anything else is refused. */
static bool
parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        uint8_t byte = 0;
        for (int j = 0; j < 2; j++) {
            char c = *s++;
            int digit = (c >= '0' && c <= '9' ? c - '0'
                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                         : -1);
            if (digit < 0) {
                return false;
            }
            byte = (byte << 4) | digit;
        }
        mac[i] = byte;
        if (*s++ != (i < 5 ? ':' : '\0')) {
            return false;
        }
    }

    static const uint8_t zero[6];
    return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

/* OpenFlow port numbers ovs-vswitchd assigns: 1 to 0xfeff (the largest
 * ofport_request), and LOCAL for the bridge's internal port.  -1 means the
 * interface failed. */
static bool
ofport_is_valid(json_int_t ofport)
{
    return (ofport >= 1 && ofport <= 0xfeff) || ofport == LOCAL_PORT_HOST;
}

/* OVSDB datum helpers (RFC 7047 section 5.1).
 *
 * An optional value ("min": 0, "max": 1) comes either as the atom itself or
 * as ["set", []] or ["set", [atom]]; a set as an atom or ["set", [...]]; a
 * map as ["map", [[key, value], ...]]; a UUID as ["uuid", "..."]. */

/* If 'datum' is ["set", [...]] returns the inner array, otherwise NULL. */
static const json_t *
datum_set_items(const json_t *datum)
{
    if (json_is_array(datum) && json_array_size(datum) == 2
        && json_is_string(json_array_get(datum, 0))
        && !strcmp(json_string_value(json_array_get(datum, 0)), "set")
        && json_is_array(json_array_get(datum, 1))) {
        return json_array_get(datum, 1);
    }
    return NULL;
}

static const char *
datum_string(const json_t *datum)
{
    const json_t *items = datum_set_items(datum);
    if (items && json_array_size(items) == 1) {
        datum = json_array_get(items, 0);
    }
    return json_is_string(datum) ? json_string_value(datum) : NULL;
}

static bool
datum_integer(const json_t *datum, json_int_t *value)
{
    const json_t *items = datum_set_items(datum);
    if (items && json_array_size(items) == 1) {
        datum = json_array_get(items, 0);
    }
    if (json_is_integer(datum)) {
        *value = json_integer_value(datum);
        return true;
    }
    return false;
}

static const char *
uuid_atom(const json_t *atom)
{
    if (json_is_array(atom) && json_array_size(atom) == 2
        && json_is_string(json_array_get(atom, 0))
        && !strcmp(json_string_value(json_array_get(atom, 0)), "uuid")
        && json_is_string(json_array_get(atom, 1))) {
        return json_string_value(json_array_get(atom, 1));
    }
    return NULL;
}

/* Stores in '*uuids' a malloc'd array of the UUIDs in 'datum' (each string
 * malloc'd too) and returns their number.  Anything but UUIDs is skipped. */
static size_t
datum_uuids(const json_t *datum, char ***uuids)
{
    const json_t *items = datum_set_items(datum);
    size_t n_items = items ? json_array_size(items) : 1;
    size_t n = 0;

    *uuids = np_xcalloc(n_items, sizeof **uuids);
    for (size_t i = 0; i < n_items; i++) {
        const char *uuid = uuid_atom(items ? json_array_get(items, i) : datum);
        if (uuid) {
            (*uuids)[n++] = np_xstrdup(uuid);
        }
    }
    return n;
}

/* Returns the string value of 'key' in map 'datum', or NULL. */
static const char *
datum_map_get(const json_t *datum, const char *key)
{
    if (!json_is_array(datum) || json_array_size(datum) != 2
        || !json_is_string(json_array_get(datum, 0))
        || strcmp(json_string_value(json_array_get(datum, 0)), "map")) {
        return NULL;
    }

    const json_t *pairs = json_array_get(datum, 1);
    size_t i;
    json_t *pair;
    json_array_foreach (pairs, i, pair) {
        const json_t *k = json_array_get(pair, 0);
        const json_t *v = json_array_get(pair, 1);
        if (json_is_string(k) && !strcmp(json_string_value(k), key)) {
            return json_is_string(v) ? json_string_value(v) : NULL;
        }
    }
    return NULL;
}

/* Publication. */

/* Recomputes the bridge's ports from the replica after a batch of messages
 * and, if they differ from the published ones or a snapshot arrived,
 * publishes them and calls back. */
static void
publish(struct ovsdb_monitor *m)
{
    if (!m->dirty && !m->snapshot) {
        return;
    }

    update_fail_mode(m);

    struct hmap ports = HMAP_INITIALIZER(&ports);
    compute_ports(m, &ports);
    bool snapshot = m->snapshot;
    m->dirty = m->snapshot = false;
    if (!snapshot && ports_equal(&m->ports, &ports)) {
        ports_clear(&ports);
        hmap_destroy(&ports);
        return;
    }

    hmap_swap(&m->ports, &ports);
    ports_clear(&ports);
    hmap_destroy(&ports);

    VLOG_DBG("%s: bridge %s has %zu ports", m->remote, m->bridge,
             hmap_count(&m->ports));
    m->stats.n_changes++;
    if (m->changed) {
        m->changed(m->aux);
    }
}

static const struct db_row *
find_bridge(const struct ovsdb_monitor *m)
{
    const struct db_row *row;
    HMAP_FOR_EACH (row, node, &m->tables[T_BRIDGE]) {
        if (!strcmp(row->name, m->bridge)) {
            return row;
        }
    }
    return NULL;
}

/* Follows the bridge's fail_mode and warns when it is not "secure": then
 * ovs-vswitchd gives a bridge without flows a NORMAL flow (forward
 * everything) at its creation and after every restart, until our flows
 * are back. */
static void
update_fail_mode(struct ovsdb_monitor *m)
{
    const struct db_row *br = find_bridge(m);
    const char *mode = br ? br->fail_mode : NULL;
    if (mode && m->fail_mode && !strcmp(mode, m->fail_mode)) {
        return;
    }
    free(m->fail_mode);
    m->fail_mode = mode ? np_xstrdup(mode) : NULL;
    if (!mode) {
        return;
    } else if (!strcmp(mode, "secure")) {
        VLOG_INFO("%s: bridge %s has fail_mode=secure", m->remote,
                  m->bridge);
    } else {
        VLOG_WARN("%s: bridge %s has fail_mode=%s: ovs-vswitchd forwards "
                  "everything through it before our flows are installed "
                  "(at its creation, after each ovs-vswitchd restart); "
                  "unless a CNI's flows come first, set it with "
                  "\"ovs-vsctl set Bridge %s fail_mode=secure\"",
                  m->remote, m->bridge, *mode ? mode : "standalone (unset)",
                  m->bridge);
    }
}

/* Fills 'ports' with a copy of every port of the monitored bridge that has an
 * OpenFlow port number. */
static void
compute_ports(const struct ovsdb_monitor *m, struct hmap *ports)
{
    const struct db_row *br = find_bridge(m);
    if (!br) {
        return;
    }

    for (size_t i = 0; i < br->n_refs; i++) {
        const struct db_row *port_row = row_find(m, T_PORT, br->refs[i]);
        if (!port_row) {
            continue;
        }
        for (size_t j = 0; j < port_row->n_refs; j++) {
            const struct db_row *iface = row_find(m, T_INTERFACE,
                                                  port_row->refs[j]);
            if (!iface || !iface->port->ofport) {
                continue;
            }

            uint32_t ofport = iface->port->ofport;
            uint32_t hash = ovsdb_monitor_hash_ofport(ofport);
            struct local_port *old = NULL, *p;
            HMAP_FOR_EACH_WITH_HASH (p, node, hash, ports) {
                if (p->ofport == ofport) {
                    old = p;
                    break;
                }
            }
            if (old) {
                int cmp = strcmp(iface->port->name, old->name);
                if (!cmp) {
                    continue;
                }
                VLOG_WARN_RL(&input_rl, "%s: interfaces %.*s and %.*s both "
                             "claim OpenFlow port %"PRIu32"; using %.*s",
                             m->remote, LOG_VALUE_MAX, old->name,
                             LOG_VALUE_MAX, iface->port->name, ofport,
                             LOG_VALUE_MAX,
                             cmp < 0 ? iface->port->name : old->name);
                if (cmp > 0) {
                    continue;
                }
                hmap_remove(ports, &old->node);
                local_port_destroy(old);
            }
            struct local_port *copy = local_port_clone(iface->port);
            hmap_insert(ports, &copy->node, hash);
        }
    }
}

static bool
ports_equal(const struct hmap *a, const struct hmap *b)
{
    if (hmap_count(a) != hmap_count(b)) {
        return false;
    }

    const struct local_port *pa;
    HMAP_FOR_EACH (pa, node, a) {
        const struct local_port *pb = NULL, *p;
        HMAP_FOR_EACH_WITH_HASH (p, node, pa->node.hash, b) {
            if (p->ofport == pa->ofport) {
                pb = p;
                break;
            }
        }
        if (!pb || !local_port_equal(pa, pb)) {
            return false;
        }
    }
    return true;
}

static void
ports_clear(struct hmap *ports)
{
    struct local_port *port;
    HMAP_FOR_EACH_POP (port, node, ports) {
        local_port_destroy(port);
    }
}
