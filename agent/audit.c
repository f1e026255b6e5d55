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

/* audit.c: the audit log (audit.h).  A sink of the agent: packet-ins from
 * the switch -> named, deduplicated lines -> a file or the agent's log.
 * Three stages, each bounded, none of which may ever wait for the next:
 * the receiver thread (OpenFlow), the loop thread (names, deduplication),
 * the writer thread (the file).  Only the loop thread reads the cluster
 * state; the threads share nothing but the two queues and the counters,
 * under 'mutex'. */

#include <config.h>
#include "audit.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/flow.h>
#include <openvswitch/hmap.h>
#include <openvswitch/list.h>
#include <openvswitch/ofp-connection.h>
#include <openvswitch/ofp-errors.h>
#include <openvswitch/ofp-meter.h>
#include <openvswitch/ofp-msgs.h>
#include <openvswitch/ofp-packet.h>
#include <openvswitch/ofp-switch.h>
#include <openvswitch/ofp-util.h>
#include <openvswitch/ofpbuf.h>
#include <openvswitch/poll-loop.h>
#include <openvswitch/vconn.h>
#include <openvswitch/vlog.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

/* Operational messages (connection, meter, drops) go to "audit_conn"; the
 * audit lines themselves, without --audit-log, to "audit", so that
 * -vaudit:... sets their level alone. */
VLOG_DEFINE_THIS_MODULE(audit_conn);

/* The "audit" module, spelled out as VLOG_DEFINE_THIS_MODULE does (a file
 * has one "this module"). */
static struct vlog_module audit_lines_module = {
    OVS_LIST_INITIALIZER(&audit_lines_module.list),
    "audit",
    { VLL_INFO, VLL_INFO, VLL_INFO },
    VLL_INFO,
    true,
};
OVS_CONSTRUCTOR(init_audit_lines_module) {
    vlog_insert_module(&audit_lines_module.list);
}
extern struct vlog_module *VLM_audit;
struct vlog_module *VLM_audit = &audit_lines_module;

/* libopenvswitch builds struct flow from packet bytes with flow_extract(),
 * which needs a 'struct dp_packet'.  Neither lib/flow.h nor lib/dp-packet.h
 * is installed, so these three exported functions are declared here; they
 * have had these signatures since OVS 2.3.  The packet is only handled
 * through a pointer, so its layout does not matter to us.
 *
 * XXX: use the headers if libopenvswitch ever installs them. */
struct dp_packet;
struct dp_packet *dp_packet_clone_data(const void *, size_t);
void dp_packet_uninit(struct dp_packet *);
void flow_extract(struct dp_packet *, struct flow *);

#define PROTOCOL_VERSION OFP15_VERSION
#define MISS_SEND_LEN 128       /* Nonzero: a service connection receives
                                 * asynchronous messages (connmgr.c). */
#define RX_QUEUE_MAX 1024       /* Events received, not yet named. */
#define RX_BATCH 64             /* Messages read per turn of the poll loop. */
#define DEDUP_MAX 10000         /* Open deduplication windows. */
#define WRITE_QUEUE_MAX 4096    /* Lines not yet written. */
#define MIN_BACKOFF_MSEC 100
#define MAX_BACKOFF_MSEC 5000
#define INDEX_REBUILD_MSEC 1000 /* At most one rebuild of names a second. */

/* One packet-in, as the receiver decodes it: plain data, no names. */
struct audit_event {
    long long int wall_msec;    /* When it arrived, msec since the epoch. */
    long long int mono_msec;    /* The same, np_time_msec(). */
    uint64_t cookie;
    uint32_t in_port;
    uint8_t table_id;
    uint8_t family;             /* AF_INET, AF_INET6, or 0 if not IP. */
    uint8_t nw_proto;
    uint16_t dl_type;           /* Host byte order. */
    uint8_t src[16], dst[16];   /* Network byte order; IPv4 in [0..3]. */
    uint16_t tp_src, tp_dst;    /* Host byte order; 0 if not TCP, UDP or
                                 * SCTP. */
};

/* What makes two events one line.  Zeroed before it is filled, so that
 * padding compares equal. */
struct dedup_key {
    uint64_t cookie;
    uint8_t table_id;
    uint8_t family;
    uint8_t nw_proto;
    uint16_t dl_type;
    uint16_t tp_dst;
    uint8_t src[16], dst[16];
};

/* An open deduplication window: one line to be written when it closes. */
struct dedup_entry {
    struct hmap_node node;      /* In 'audit->dedup', by key hash. */
    struct ovs_list fifo_node;  /* In 'audit->fifo', oldest first. */
    struct dedup_key key;
    long long int deadline;     /* np_time_msec() when the window closes. */
    char *text;                 /* The line, up to " count=". */
    uint64_t count;
};

/* An address of a pod, for naming. */
struct addr_name {
    struct hmap_node node;      /* In 'audit->names', by address hash. */
    uint8_t family;
    uint8_t addr[16];
    char *name;                 /* "NAMESPACE/POD", escaped. */
};

/* A line waiting for the writer. */
struct audit_line {
    struct ovs_list node;       /* In 'audit->lines'. */
    size_t size;                /* Bytes of 'text', with its new-line. */
    char text[];
};

struct audit {
    struct event_base *base;
    char *target;
    char *log_file;             /* NULL: vlog module "audit". */
    uint32_t meter_id;
    uint32_t rate;
    unsigned int dedup_msec;
    uint8_t first_table;
    const struct cluster *cluster;
    const struct conj_ids *ids;

    /* Loop thread only. */
    struct event *rx_event;     /* Activated by the receiver. */
    struct event *window_timer; /* The oldest window's deadline. */
    struct hmap dedup;          /* Contains struct dedup_entry, by key. */
    struct ovs_list fifo;       /* Contains struct dedup_entry, oldest
                                 * first. */
    struct hmap names;          /* Contains struct addr_name, by address. */
    bool names_stale;           /* The cluster changed since the build. */
    long long int names_built;  /* np_time_msec() of the build, or 0. */
    uint64_t n_deduplicated;    /* Events folded into another's line. */
    uint64_t n_evicted;         /* Windows closed early: table full. */
    uint64_t n_unnamed;         /* Events of a cookie role we do not log
                                 * (none of our flows sends them); counted
                                 * as ignored. */

    /* Threads. */
    pthread_t rx_thread;
    pthread_t writer_thread;
    int wake_fds[2];            /* Wakes the receiver's poll loop. */

    /* Shared, under 'mutex'. */
    pthread_mutex_t mutex;
    pthread_cond_t writer_cond;
    bool exiting;
    bool may_connect;           /* ofctrl has connected once (see
                                 * audit_setup_switch()). */
    struct audit_event *rx_queue;   /* Ring of RX_QUEUE_MAX events. */
    size_t rx_head, rx_count;
    struct ovs_list lines;      /* Contains struct audit_line. */
    size_t n_lines;
    bool reopen;                /* The writer should reopen the file. */
    int fd;                     /* The --audit-log file, or -1. */

    /* Counters, under 'mutex'. */
    bool rx_connected;
    uint64_t n_rx_connects, n_rx_disconnects;
    char *rx_last_error;
    uint64_t n_received;        /* Packet-ins received. */
    uint64_t n_ignored;         /* Not ours, or malformed. */
    uint64_t n_rx_dropped;      /* Receiver queue full. */
    uint64_t n_logged;          /* Lines written. */
    uint64_t n_write_dropped;   /* Lines dropped: writer queue full. */
    uint64_t n_write_errors;    /* Lines lost to write errors. */
    uint64_t n_meter_installs;  /* Meter added or modified. */
    uint64_t n_meter_errors;
    char *meter_last_error;
};

static void set_error(char **errorp, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);

static void
set_error(char **errorp, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    free(*errorp);
    *errorp = np_xvasprintf(format, args);
    va_end(args);
}

/* Formatting. */

void
audit_escape(const char *name, const char *extra, struct ds *s)
{
    for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
            || *p == '_' || (extra && strchr(extra, *p))) {
            ds_put_char(s, *p);
        } else {
            ds_put_format(s, "\\x%02x", *p);
        }
    }
}

static void
format_pod_name(const char *ns, const char *name, struct ds *s)
{
    audit_escape(ns, NULL, s);
    ds_put_char(s, '/');
    audit_escape(name, NULL, s);
}

static bool
has_ports(const struct audit_event *e)
{
    return (e->family
            && (e->nw_proto == IPPROTO_TCP || e->nw_proto == IPPROTO_UDP
                || e->nw_proto == IPPROTO_SCTP));
}

static void
format_proto(const struct audit_event *e, struct ds *s)
{
    if (!e->family) {
        ds_put_format(s, "eth_type_0x%04"PRIx16, e->dl_type);
        return;
    }
    switch (e->nw_proto) {
    case IPPROTO_TCP: ds_put_cstr(s, "TCP"); break;
    case IPPROTO_UDP: ds_put_cstr(s, "UDP"); break;
    case IPPROTO_SCTP: ds_put_cstr(s, "SCTP"); break;
    case IPPROTO_ICMP: ds_put_cstr(s, "ICMP"); break;
    case IPPROTO_ICMPV6: ds_put_cstr(s, "ICMPv6"); break;
    default: ds_put_format(s, "%"PRIu8, e->nw_proto); break;
    }
}

static void
format_time(long long int wall_msec, struct ds *s)
{
    time_t secs = wall_msec / 1000;
    struct tm tm;
    char buf[32];

    gmtime_r(&secs, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    ds_put_format(s, "%s.%03dZ", buf, (int) (wall_msec % 1000));
}

/* Names of addresses. */

static uint32_t
addr_hash(uint8_t family, const uint8_t addr[16])
{
    return np_hash_bytes(addr, 16, family);
}

static const struct addr_name *
names_find(const struct hmap *names, uint8_t family, const uint8_t addr[16])
{
    const struct addr_name *an;
    HMAP_FOR_EACH_WITH_HASH (an, node, addr_hash(family, addr), names) {
        if (an->family == family && !memcmp(an->addr, addr, 16)) {
            return an;
        }
    }
    return NULL;
}

static void
names_add(struct hmap *names, const struct cidr *ip, const char *ns,
          const char *pod)
{
    if (!cidr_is_host(ip)
        || names_find(names, ip->family, ip->addr)) {
        return;
    }
    struct addr_name *an = np_xzalloc(sizeof *an);
    an->family = ip->family;
    memcpy(an->addr, ip->addr, 16);
    struct ds s = DS_EMPTY_INITIALIZER;
    format_pod_name(ns, pod, &s);
    an->name = ds_steal_cstr(&s);
    hmap_insert(names, &an->node, addr_hash(an->family, an->addr));
}

static void
names_clear(struct hmap *names)
{
    struct addr_name *an;
    HMAP_FOR_EACH_POP (an, node, names) {
        free(an->name);
        free(an);
    }
}

/* Rebuilds the address -> pod index from the cluster: the addresses local
 * ports name first (the CNI knows first, as the compiler has it), then
 * every pod's status.podIPs.  hostNetwork pods (their address is the
 * node's) and terminated pods (theirs may be someone else's already) name
 * nothing, as they are no peers (README, "Semantics"). */
static void
names_rebuild(struct audit *audit)
{
    const struct cluster *cluster = audit->cluster;

    names_clear(&audit->names);
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        if (local_port_is_pod(port)) {
            for (size_t i = 0; i < port->n_ips; i++) {
                names_add(&audit->names, &port->ips[i], port->pod_namespace,
                          port->pod_name);
            }
        }
    }
    const struct np_pod *pod;
    HMAP_FOR_EACH (pod, node, &cluster->pods) {
        if (!pod->host_network && !pod->terminated) {
            for (size_t i = 0; i < pod->n_ips; i++) {
                names_add(&audit->names, &pod->ips[i], pod->namespace,
                          pod->name);
            }
        }
    }
    audit->names_stale = false;
    audit->names_built = np_time_msec();
}

static const char *
name_of_addr(struct audit *audit, uint8_t family, const uint8_t addr[16])
{
    if (audit->names_stale
        && (!audit->names_built
            || np_time_msec() - audit->names_built >= INDEX_REBUILD_MSEC)) {
        names_rebuild(audit);
    }
    const struct addr_name *an = names_find(&audit->names, family, addr);
    return an ? an->name : NULL;
}

/* Appends "NS/POD(ADDR)" or "ADDR", then ":PORT" if 'port' >= 0.  'pod' is
 * the escaped pod name, or NULL. */
static void
format_endpoint(const char *pod, const struct audit_event *e,
                const uint8_t addr[16], int port, struct ds *s)
{
    char text[INET6_ADDRSTRLEN];

    if (!e->family) {
        ds_put_char(s, '-');
        return;
    }
    inet_ntop(e->family, addr, text, sizeof text);
    if (pod) {
        ds_put_format(s, "%s(%s)", pod, text);
    } else if (e->family == AF_INET6 && port >= 0) {
        ds_put_format(s, "[%s]", text);
    } else {
        ds_put_cstr(s, text);
    }
    if (port >= 0) {
        ds_put_format(s, ":%d", port);
    }
}

/* Appends the line for 'e', up to " count=", to 's'.  Returns false if the
 * cookie's role is none our audit actions use. */
static bool
format_event(struct audit *audit, const struct audit_event *e,
             struct ds *s)
{
    enum np_role role = np_cookie_role(e->cookie);
    uint32_t id = np_cookie_id(e->cookie);
    const char *dir = (e->table_id == audit->first_table + NP_TABLE_EGRESS
                       ? "egress"
                       : e->table_id == audit->first_table + NP_TABLE_INGRESS
                       ? "ingress" : "unknown");
    const struct rule_ref *rule = NULL;

    if (role == NP_ROLE_RULE) {
        rule = conj_ids_find(audit->ids, id);
        if (rule) {
            dir = np_direction_name(rule->dir);
        }
    } else if (role != NP_ROLE_ISOLATION) {
        return false;
    }

    format_time(e->wall_msec, s);
    ds_put_format(s, " verdict=%s dir=%s src=",
                  role == NP_ROLE_RULE ? "allow" : "deny", dir);

    /* The source: the pod of the port it came from, else its address. */
    const struct local_port *in_port = cluster_find_port(audit->cluster,
                                                         e->in_port);
    const char *src_name = NULL;
    struct ds src_pod = DS_EMPTY_INITIALIZER;
    if (in_port && local_port_is_pod(in_port)) {
        format_pod_name(in_port->pod_namespace, in_port->pod_name, &src_pod);
        src_name = ds_cstr(&src_pod);
    } else if (e->family) {
        src_name = name_of_addr(audit, e->family, e->src);
    }
    bool ports = has_ports(e);
    format_endpoint(src_name, e, e->src, ports ? e->tp_src : -1, s);
    ds_destroy(&src_pod);

    ds_put_cstr(s, " dst=");
    format_endpoint(e->family ? name_of_addr(audit, e->family, e->dst) : NULL,
                    e, e->dst, ports ? e->tp_dst : -1, s);

    ds_put_cstr(s, " proto=");
    format_proto(e, s);

    ds_put_cstr(s, " by=");
    if (role == NP_ROLE_ISOLATION) {
        const struct local_port *port = cluster_find_port(audit->cluster, id);
        ds_put_cstr(s, "isolation:");
        if (port && local_port_is_pod(port)) {
            format_pod_name(port->pod_namespace, port->pod_name, s);
        } else {
            ds_put_format(s, "port%"PRIu32, id);
        }
    } else if (rule) {
        ds_put_cstr(s, "rule:");
        format_pod_name(rule->namespace, rule->policy, s);
        ds_put_format(s, "/%s/%u", np_direction_name(rule->dir), rule->index);
        if (rule->variant[0]) {
            ds_put_char(s, '[');
            audit_escape(rule->variant, ":,", s);
            ds_put_char(s, ']');
        }
    } else {
        ds_put_format(s, "rule:%#"PRIx32, id);
    }
    return true;
}

/* The writer's queue (loop thread side). */

/* Hands "TEXT count=N\n" to the writer, or drops it if the writer's queue
 * is full. */
static void
queue_line(struct audit *audit, const char *text, uint64_t count)
{
    char *s = np_xasprintf("%s count=%"PRIu64"\n", text, count);
    size_t size = strlen(s);
    struct audit_line *line = np_xmalloc(sizeof *line + size + 1);
    line->size = size;
    memcpy(line->text, s, size + 1);
    free(s);

    pthread_mutex_lock(&audit->mutex);
    if (audit->n_lines < WRITE_QUEUE_MAX) {
        ovs_list_push_back(&audit->lines, &line->node);
        audit->n_lines++;
        pthread_cond_signal(&audit->writer_cond);
        line = NULL;
    } else {
        audit->n_write_dropped++;
    }
    pthread_mutex_unlock(&audit->mutex);

    if (line) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "audit log writer is behind: dropping lines");
        free(line);
    }
}

/* Deduplication (loop thread). */

static void
dedup_close(struct audit *audit, struct dedup_entry *entry)
{
    queue_line(audit, entry->text, entry->count);
    hmap_remove(&audit->dedup, &entry->node);
    ovs_list_remove(&entry->fifo_node);
    free(entry->text);
    free(entry);
}

static void
schedule_window_timer(struct audit *audit)
{
    if (ovs_list_is_empty(&audit->fifo)) {
        evtimer_del(audit->window_timer);
        return;
    }
    const struct dedup_entry *oldest = CONTAINER_OF(
        ovs_list_front(&audit->fifo), struct dedup_entry, fifo_node);
    long long int msec = NP_MAX(oldest->deadline - np_time_msec(), 0);
    struct timeval tv = { msec / 1000, (msec % 1000) * 1000 };
    evtimer_add(audit->window_timer, &tv);
}

/* Closes every window whose deadline has passed (all of them if 'all'). */
static void
dedup_expire(struct audit *audit, bool all)
{
    long long int now = np_time_msec();
    struct dedup_entry *entry;
    LIST_FOR_EACH_SAFE (entry, fifo_node, &audit->fifo) {
        if (!all && entry->deadline > now) {
            break;
        }
        dedup_close(audit, entry);
    }
}

static void
window_timer_cb(evutil_socket_t fd, short events, void *audit_)
{
    struct audit *audit = audit_;
    dedup_expire(audit, false);
    schedule_window_timer(audit);
}

static void
dedup_key_init(struct dedup_key *key, const struct audit_event *e)
{
    memset(key, 0, sizeof *key);
    key->cookie = e->cookie;
    key->table_id = e->table_id;
    key->family = e->family;
    key->nw_proto = e->nw_proto;
    key->dl_type = e->dl_type;
    key->tp_dst = e->tp_dst;
    memcpy(key->src, e->src, 16);
    memcpy(key->dst, e->dst, 16);
}

static void
handle_event(struct audit *audit, const struct audit_event *e)
{
    struct dedup_key key;
    uint32_t hash = 0;

    if (audit->dedup_msec) {
        dedup_key_init(&key, e);
        hash = np_hash_bytes(&key, sizeof key, 0);
        struct dedup_entry *entry;
        HMAP_FOR_EACH_WITH_HASH (entry, node, hash, &audit->dedup) {
            if (!memcmp(&entry->key, &key, sizeof key)) {
                entry->count++;
                audit->n_deduplicated++;
                return;
            }
        }
    }

    struct ds text = DS_EMPTY_INITIALIZER;
    if (!format_event(audit, e, &text)) {
        audit->n_unnamed++;
        ds_destroy(&text);
        return;
    }
    if (!audit->dedup_msec) {
        queue_line(audit, ds_cstr(&text), 1);
        ds_destroy(&text);
        return;
    }

    if (hmap_count(&audit->dedup) >= DEDUP_MAX) {
        /* Full: the oldest window closes early.  Its line is written, just
         * less collapsed than it could have been. */
        audit->n_evicted++;
        dedup_close(audit, CONTAINER_OF(ovs_list_front(&audit->fifo),
                                        struct dedup_entry, fifo_node));
    }
    struct dedup_entry *entry = np_xzalloc(sizeof *entry);
    entry->key = key;
    entry->deadline = e->mono_msec + audit->dedup_msec;
    entry->text = ds_steal_cstr(&text);
    entry->count = 1;
    hmap_insert(&audit->dedup, &entry->node, hash);
    bool was_empty = ovs_list_is_empty(&audit->fifo);
    ovs_list_push_back(&audit->fifo, &entry->fifo_node);
    if (was_empty) {
        schedule_window_timer(audit);
    }
}

/* Takes the events the receiver queued. */
static void
rx_event_cb(evutil_socket_t fd, short events, void *audit_)
{
    struct audit *audit = audit_;
    struct audit_event batch[RX_BATCH];

    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&audit->mutex);
        while (n < RX_BATCH && audit->rx_count) {
            batch[n++] = audit->rx_queue[audit->rx_head];
            audit->rx_head = (audit->rx_head + 1) % RX_QUEUE_MAX;
            audit->rx_count--;
        }
        pthread_mutex_unlock(&audit->mutex);
        if (!n) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            handle_event(audit, &batch[i]);
        }
    }
}

/* The receiver thread.
 *
 * libopenvswitch's vconn does not give its file descriptor away, so the
 * receiver runs libopenvswitch's own poll loop (poll_block()) on a thread,
 * without ever blocking in a vconn call: the pipe 'wake_fds' interrupts
 * poll_block() when the agent exits. */

enum rx_state {
    RX_IDLE,                    /* Not connected. */
    RX_CONNECTING,              /* vconn_connect() in progress. */
    RX_CONFIGURING,             /* Set-up sent, waiting for the barrier. */
    RX_RECEIVING,               /* Packet-ins arrive. */
};

struct rx {
    struct vconn *vconn;
    enum rx_state state;
    struct ovs_list txq;        /* Contains struct ofpbuf, to send. */
    ovs_be32 config_xid;        /* OFPT_GET_CONFIG_REQUEST. */
    ovs_be32 barrier_xid;       /* The barrier after the set-up. */
    int backoff_msec;
    long long int next_connect; /* np_time_msec(). */
};

static void
rx_set_error(struct audit *audit, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);

static void
rx_set_error(struct audit *audit, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = np_xvasprintf(format, args);
    va_end(args);

    pthread_mutex_lock(&audit->mutex);
    free(audit->rx_last_error);
    audit->rx_last_error = msg;
    pthread_mutex_unlock(&audit->mutex);
}

static void
rx_send(struct rx *rx, struct ofpbuf *msg)
{
    ovs_list_push_back(&rx->txq, &msg->list_node);
}

static ovs_be32
rx_send_xid(struct rx *rx, struct ofpbuf *msg)
{
    ovs_be32 xid = ((const struct ofp_header *) msg->data)->xid;
    rx_send(rx, msg);
    return xid;
}

static void
rx_close(struct audit *audit, struct rx *rx, int error)
{
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, &rx->txq) {
        ofpbuf_delete(msg);
    }
    if (rx->vconn) {
        vconn_close(rx->vconn);
        rx->vconn = NULL;
    }
    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "%s: audit connection %s (%s), reconnecting",
                     audit->target,
                     rx->state == RX_RECEIVING ? "lost" : "failed",
                     error == EOF ? "closed by the switch"
                                  : np_strerror(error));
        rx_set_error(audit, "%s: %s", audit->target,
                     error == EOF ? "closed by the switch"
                                  : np_strerror(error));
    }
    pthread_mutex_lock(&audit->mutex);
    if (audit->rx_connected) {
        audit->n_rx_disconnects++;
    }
    audit->rx_connected = false;
    pthread_mutex_unlock(&audit->mutex);

    rx->state = RX_IDLE;
    rx->next_connect = np_time_msec() + rx->backoff_msec;
    rx->backoff_msec = NP_MIN(rx->backoff_msec * 2, MAX_BACKOFF_MSEC);
}

/* Decodes a packet-in into an event and queues it for the loop thread. */
static void
rx_packet_in(struct audit *audit, const struct ofp_header *oh)
{
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;
    enum ofperr error = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                                 &total_len, &buffer_id,
                                                 NULL);
    uint64_t cookie = error ? 0 : be64toh((OVS_FORCE uint64_t) pin.cookie);
    if (error || !np_cookie_is_ours(cookie)) {
        /* Another controller's packet-in (a CNI's controller() action or
         * table miss reaches every connection that asked for them). */
        pthread_mutex_lock(&audit->mutex);
        audit->n_received++;
        audit->n_ignored++;
        pthread_mutex_unlock(&audit->mutex);
        return;
    }

    struct audit_event e;
    memset(&e, 0, sizeof e);
    e.wall_msec = np_time_wall_msec();
    e.mono_msec = np_time_msec();
    e.cookie = cookie;
    e.table_id = pin.table_id;
    e.in_port = (OVS_FORCE uint16_t) pin.flow_metadata.flow.in_port.ofp_port;

    struct flow flow;
    struct dp_packet *packet = dp_packet_clone_data(pin.packet,
                                                    pin.packet_len);
    flow_extract(packet, &flow);
    dp_packet_uninit(packet);
    free(packet);

    e.dl_type = ntohs(flow.dl_type);
    if (flow.dl_type == htons(0x0800)) {
        e.family = AF_INET;
        memcpy(e.src, &flow.nw_src, 4);
        memcpy(e.dst, &flow.nw_dst, 4);
    } else if (flow.dl_type == htons(0x86dd)) {
        e.family = AF_INET6;
        memcpy(e.src, &flow.ipv6_src, 16);
        memcpy(e.dst, &flow.ipv6_dst, 16);
    }
    if (e.family) {
        e.nw_proto = flow.nw_proto;
        if (has_ports(&e)) {
            e.tp_src = ntohs(flow.tp_src);
            e.tp_dst = ntohs(flow.tp_dst);
        }
    }

    pthread_mutex_lock(&audit->mutex);
    audit->n_received++;
    bool wake = !audit->rx_count;
    if (audit->rx_count < RX_QUEUE_MAX) {
        size_t tail = (audit->rx_head + audit->rx_count) % RX_QUEUE_MAX;
        audit->rx_queue[tail] = e;
        audit->rx_count++;
    } else {
        audit->n_rx_dropped++;
        wake = false;
    }
    pthread_mutex_unlock(&audit->mutex);
    if (wake) {
        event_active(audit->rx_event, EV_READ, 0);
    }
}

/* Handles one message from the switch.  Returns 0 or a positive errno
 * value (the connection must be reset). */
static int
rx_handle(struct audit *audit, struct rx *rx, const struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;

    if (ofptype_decode(&type, oh)) {
        return 0;
    }
    switch (type) {
    case OFPTYPE_PACKET_IN:
        rx_packet_in(audit, oh);
        break;
    case OFPTYPE_ECHO_REQUEST:
        rx_send(rx, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_GET_CONFIG_REPLY:
        if (oh->xid == rx->config_xid && rx->state == RX_CONFIGURING) {
            /* The same configuration (fragment handling is the switch's,
             * shared by every connection), with a miss_send_len: only that
             * makes a service connection receive packet-ins. */
            struct ofputil_switch_config config;
            ofputil_decode_get_config_reply(oh, &config);
            config.miss_send_len = MISS_SEND_LEN;
            rx_send(rx, ofputil_encode_set_config(&config,
                                                  PROTOCOL_VERSION));
            rx->barrier_xid = rx_send_xid(
                rx, ofputil_encode_barrier_request(PROTOCOL_VERSION));
        }
        break;
    case OFPTYPE_BARRIER_REPLY:
        if (oh->xid == rx->barrier_xid && rx->state == RX_CONFIGURING) {
            rx->state = RX_RECEIVING;
            rx->backoff_msec = MIN_BACKOFF_MSEC;
            pthread_mutex_lock(&audit->mutex);
            audit->rx_connected = true;
            audit->n_rx_connects++;
            pthread_mutex_unlock(&audit->mutex);
            VLOG_INFO("%s: receiving audit packet-ins", audit->target);
        }
        break;
    case OFPTYPE_ERROR: {
        enum ofperr error = ofperr_decode_msg(oh, NULL);
        if (rx->state == RX_CONFIGURING) {
            VLOG_WARN("%s: the switch refused the audit connection's "
                      "set-up: %s", audit->target,
                      error ? ofperr_to_string(error) : "unknown error");
            rx_set_error(audit, "set-up refused: %s",
                         error ? ofperr_to_string(error) : "unknown error");
            return EPROTO;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static int
rx_flush(struct rx *rx)
{
    while (!ovs_list_is_empty(&rx->txq)) {
        struct ofpbuf *msg = CONTAINER_OF(ovs_list_front(&rx->txq),
                                          struct ofpbuf, list_node);
        ovs_list_remove(&msg->list_node);
        int error = vconn_send(rx->vconn, msg);
        if (error == EAGAIN) {
            ovs_list_push_front(&rx->txq, &msg->list_node);
            break;
        } else if (error) {
            ofpbuf_delete(msg);
            return error;
        }
    }
    return 0;
}

/* Runs the connection one step.  Returns 0 or a positive errno value (the
 * connection must be reset). */
static int
rx_run(struct audit *audit, struct rx *rx)
{
    vconn_run(rx->vconn);
    if (rx->state == RX_CONNECTING) {
        int error = vconn_connect(rx->vconn);
        if (error) {
            return error == EAGAIN ? 0 : error;
        }
        rx->state = RX_CONFIGURING;

        /* Packet-ins of reason "action" only: no port status, no flow
         * removed, no table misses. */
        struct ofputil_async_cfg ac = OFPUTIL_ASYNC_CFG_INIT;
        ac.primary[OAM_PACKET_IN] = 1u << OFPR_ACTION;
        ac.secondary[OAM_PACKET_IN] = 1u << OFPR_ACTION;
        rx_send(rx, ofputil_encode_set_async_config(
                    &ac, (1u << OAM_N_TYPES) - 1, PROTOCOL_VERSION));
        rx->config_xid = rx_send_xid(
            rx, ofpraw_alloc(OFPRAW_OFPT_GET_CONFIG_REQUEST, PROTOCOL_VERSION,
                             0));
    }

    for (int i = 0; i < RX_BATCH; i++) {
        int error = rx_flush(rx);
        if (error) {
            return error;
        }
        struct ofpbuf *msg;
        error = vconn_recv(rx->vconn, &msg);
        if (error == EAGAIN) {
            break;
        } else if (error) {
            return error;
        }
        error = rx_handle(audit, rx, msg);
        ofpbuf_delete(msg);
        if (error) {
            return error;
        }
    }
    return rx_flush(rx);
}

static void *
rx_main(void *audit_)
{
    struct audit *audit = audit_;
    struct rx rx = {
        .state = RX_IDLE,
        .backoff_msec = MIN_BACKOFF_MSEC,
    };
    ovs_list_init(&rx.txq);

    for (;;) {
        pthread_mutex_lock(&audit->mutex);
        bool exiting = audit->exiting;
        bool may_connect = audit->may_connect;
        pthread_mutex_unlock(&audit->mutex);
        if (exiting) {
            break;
        }
        char buf[64];
        while (read(audit->wake_fds[0], buf, sizeof buf) > 0) {
            continue;
        }

        long long int now = np_time_msec();
        if (rx.state == RX_IDLE && may_connect && now >= rx.next_connect) {
            int error = vconn_open(audit->target, 1u << PROTOCOL_VERSION, 0,
                                   &rx.vconn);
            if (error) {
                rx_close(audit, &rx, error);
            } else {
                rx.state = RX_CONNECTING;
            }
        }
        if (rx.vconn) {
            int error = rx_run(audit, &rx);
            if (error) {
                rx_close(audit, &rx, error);
            }
        }

        poll_fd_wait(audit->wake_fds[0], POLLIN);
        if (rx.vconn) {
            vconn_run_wait(rx.vconn);
            if (rx.state == RX_CONNECTING) {
                vconn_connect_wait(rx.vconn);
            } else {
                vconn_recv_wait(rx.vconn);
                if (!ovs_list_is_empty(&rx.txq)) {
                    vconn_send_wait(rx.vconn);
                }
            }
        } else if (may_connect) {
            poll_timer_wait(NP_MAX(rx.next_connect - np_time_msec(), 0));
        }
        poll_block();
    }
    rx_close(audit, &rx, 0);
    return NULL;
}

static void
rx_wake(struct audit *audit)
{
    ssize_t retval;
    do {
        retval = write(audit->wake_fds[1], "", 1);
    } while (retval < 0 && errno == EINTR);
}

/* The writer thread. */

static int
open_log(const char *path, int *fdp)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        return errno;
    }
    *fdp = fd;
    return 0;
}

/* Writes 'size' bytes of 'data' to 'fd'.  Returns 0 or a positive errno
 * value. */
static int
write_fully(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        data += n;
        size -= n;
    }
    return 0;
}

static void *
writer_main(void *audit_)
{
    struct audit *audit = audit_;
    struct ovs_list batch;
    struct ds buf = DS_EMPTY_INITIALIZER;

    ovs_list_init(&batch);
    pthread_mutex_lock(&audit->mutex);
    for (;;) {
        while (ovs_list_is_empty(&audit->lines) && !audit->reopen
               && !audit->exiting) {
            pthread_cond_wait(&audit->writer_cond, &audit->mutex);
        }
        bool reopen = audit->reopen;
        audit->reopen = false;
        /* On exit, what is queued is still written. */
        if (ovs_list_is_empty(&audit->lines) && !reopen && audit->exiting) {
            break;
        }
        ovs_list_push_back_all(&batch, &audit->lines);
        size_t n = audit->n_lines;
        audit->n_lines = 0;
        int fd = audit->fd;
        pthread_mutex_unlock(&audit->mutex);

        if (reopen && audit->log_file) {
            int new_fd = -1;
            int error = open_log(audit->log_file, &new_fd);
            if (error) {
                VLOG_WARN("%s: cannot reopen the audit log (%s); still "
                          "writing to the old file", audit->log_file,
                          np_strerror(error));
            } else {
                /* Only this thread writes to 'fd' and swaps it. */
                pthread_mutex_lock(&audit->mutex);
                audit->fd = new_fd;
                pthread_mutex_unlock(&audit->mutex);
                close(fd);
                fd = new_fd;
            }
        }

        /* One write() for the whole batch. */
        struct audit_line *line;
        ds_clear(&buf);
        LIST_FOR_EACH_POP (line, node, &batch) {
            if (fd >= 0) {
                ds_put_buffer(&buf, line->text, line->size);
            } else {
                vlog(VLM_audit, VLL_INFO, "%.*s", (int) line->size - 1,
                     line->text);
            }
            free(line);
        }
        int error = fd >= 0 && buf.length
                    ? write_fully(fd, buf.string, buf.length) : 0;
        if (error) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            VLOG_WARN_RL(&rl, "%s: writing the audit log failed (%s)",
                         audit->log_file, np_strerror(error));
        }

        pthread_mutex_lock(&audit->mutex);
        if (error) {
            audit->n_write_errors += n;
        } else {
            audit->n_logged += n;
        }
    }
    pthread_mutex_unlock(&audit->mutex);
    ds_destroy(&buf);
    return NULL;
}

/* The meter (ofctrl's worker thread). */

static void
meter_set_error(struct audit *audit, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);

static void
meter_set_error(struct audit *audit, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = np_xvasprintf(format, args);
    va_end(args);

    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
    VLOG_WARN_RL(&rl, "%s", msg);
    pthread_mutex_lock(&audit->mutex);
    audit->n_meter_errors++;
    free(audit->meter_last_error);
    audit->meter_last_error = msg;
    pthread_mutex_unlock(&audit->mutex);
}

/* Sends a meter mod with 'command' and waits for the barrier.  Returns 0
 * (and '*errp' the switch's error, 0 for none) or a positive errno value
 * if the connection failed. */
static int
meter_mod(const struct audit *audit, struct vconn *vconn, uint16_t command,
          enum ofperr *errp)
{
    struct ofputil_meter_band band = {
        .type = OFPMBT13_DROP,
        .rate = audit->rate,
        .burst_size = audit->rate,
    };
    struct ofputil_meter_mod mm = {
        .command = command,
        .meter = {
            .meter_id = audit->meter_id,
            .flags = OFPMF13_PKTPS | OFPMF13_BURST | OFPMF13_STATS,
            .n_bands = 1,
            .bands = &band,
        },
    };
    struct ofpbuf *reply;
    int error = vconn_transact_noreply(
        vconn, ofputil_encode_meter_mod(vconn_get_version(vconn), &mm),
        &reply);
    *errp = 0;
    if (!error && reply) {
        *errp = ofperr_decode_msg(reply->data, NULL);
        if (!*errp) {
            *errp = OFPERR_OFPBRC_BAD_TYPE;     /* Not an error message. */
        }
        ofpbuf_delete(reply);
    }
    return error;
}

int
audit_setup_switch(struct vconn *vconn, void *audit_)
{
    struct audit *audit = audit_;
    enum ofperr err;

    /* Add; if it exists (an earlier agent's), modify: a modify keeps the
     * switch's provider meter, so flows already using it stay metered. */
    int error = meter_mod(audit, vconn, OFPMC13_ADD, &err);
    if (!error && err == OFPERR_OFPMMFC_METER_EXISTS) {
        error = meter_mod(audit, vconn, OFPMC13_MODIFY, &err);
    }
    if (error) {
        return error;
    }
    if (err) {
        meter_set_error(audit, "meter %"PRIu32" refused by the switch (%s): "
                        "audit packet-ins are not rate-limited",
                        audit->meter_id, ofperr_to_string(err));
    } else {
        pthread_mutex_lock(&audit->mutex);
        audit->n_meter_installs++;
        free(audit->meter_last_error);
        audit->meter_last_error = NULL;
        pthread_mutex_unlock(&audit->mutex);
    }

    /* libopenvswitch's fatal_signal_init() runs on the first blocking
     * vconn call and is not thread-safe; ofctrl's worker has made it by
     * now, so the receiver may start. */
    pthread_mutex_lock(&audit->mutex);
    bool first = !audit->may_connect;
    audit->may_connect = true;
    pthread_mutex_unlock(&audit->mutex);
    if (first) {
        rx_wake(audit);
    }
    return 0;
}

/* Life cycle. */

struct audit *
audit_create(struct event_base *base, const struct audit_options *opts,
             const struct cluster *cluster, const struct conj_ids *ids,
             char **errorp)
{
    int fd = -1;
    int wake_fds[2];

    *errorp = NULL;
    if (opts->log_file) {
        int error = open_log(opts->log_file, &fd);
        if (error) {
            set_error(errorp, "%s: cannot open the audit log (%s)",
                      opts->log_file, np_strerror(error));
            return NULL;
        }
    }
    if (pipe(wake_fds)) {
        set_error(errorp, "audit log: pipe failed (%s)",
                  np_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(wake_fds[i], F_SETFL, O_NONBLOCK);
        fcntl(wake_fds[i], F_SETFD, FD_CLOEXEC);
    }

    struct audit *audit = np_xzalloc(sizeof *audit);
    audit->base = base;
    audit->target = np_xstrdup(opts->target);
    audit->log_file = opts->log_file ? np_xstrdup(opts->log_file) : NULL;
    audit->meter_id = opts->meter_id;
    audit->rate = opts->rate;
    audit->dedup_msec = opts->dedup_msec;
    audit->first_table = opts->first_table;
    audit->cluster = cluster;
    audit->ids = ids;
    audit->fd = fd;

    audit->rx_event = event_new(base, -1, 0, rx_event_cb, audit);
    audit->window_timer = evtimer_new(base, window_timer_cb, audit);
    hmap_init(&audit->dedup);
    ovs_list_init(&audit->fifo);
    hmap_init(&audit->names);
    audit->names_stale = true;

    pthread_mutex_init(&audit->mutex, NULL);
    pthread_cond_init(&audit->writer_cond, NULL);
    audit->rx_queue = np_xcalloc(RX_QUEUE_MAX, sizeof *audit->rx_queue);
    ovs_list_init(&audit->lines);

    audit->wake_fds[0] = wake_fds[0];
    audit->wake_fds[1] = wake_fds[1];
    pthread_create(&audit->rx_thread, NULL, rx_main, audit);
    pthread_create(&audit->writer_thread, NULL, writer_main, audit);
    VLOG_INFO("audit log to %s, meter %"PRIu32" at %"PRIu32" packets/s, "
              "deduplication window %u ms",
              audit->log_file ? audit->log_file : "the agent's log",
              audit->meter_id, audit->rate, audit->dedup_msec);
    return audit;
}

void
audit_destroy(struct audit *audit)
{
    if (!audit) {
        return;
    }

    /* The receiver first, so that nothing new arrives; then what it
     * queued, and every open window, go to the writer, which writes them
     * before it exits. */
    pthread_mutex_lock(&audit->mutex);
    audit->exiting = true;
    pthread_mutex_unlock(&audit->mutex);
    rx_wake(audit);
    pthread_join(audit->rx_thread, NULL);

    rx_event_cb(-1, 0, audit);
    dedup_expire(audit, true);

    pthread_mutex_lock(&audit->mutex);
    pthread_cond_signal(&audit->writer_cond);
    pthread_mutex_unlock(&audit->mutex);
    pthread_join(audit->writer_thread, NULL);

    event_free(audit->rx_event);
    event_free(audit->window_timer);
    hmap_destroy(&audit->dedup);
    names_clear(&audit->names);
    hmap_destroy(&audit->names);
    close(audit->wake_fds[0]);
    close(audit->wake_fds[1]);
    if (audit->fd >= 0) {
        close(audit->fd);
    }
    pthread_mutex_destroy(&audit->mutex);
    pthread_cond_destroy(&audit->writer_cond);
    free(audit->rx_queue);
    free(audit->rx_last_error);
    free(audit->meter_last_error);
    free(audit->target);
    free(audit->log_file);
    free(audit);
}

void
audit_cluster_changed(struct audit *audit)
{
    if (audit) {
        audit->names_stale = true;
    }
}

void
audit_reopen(struct audit *audit)
{
    if (audit && audit->log_file) {
        pthread_mutex_lock(&audit->mutex);
        audit->reopen = true;
        pthread_cond_signal(&audit->writer_cond);
        pthread_mutex_unlock(&audit->mutex);
    }
}

json_t *
audit_status(const struct audit *audit_)
{
    if (!audit_) {
        return json_pack("{sb}", "enabled", false);
    }
    struct audit *audit = CONST_CAST(struct audit *, audit_);

    pthread_mutex_lock(&audit->mutex);
    uint64_t dropped = (audit->n_rx_dropped + audit->n_write_dropped
                        + audit->n_write_errors);
    json_t *j = json_pack(
        "{sbsssIsIsIsIsIsIsIsIsIsIsIsI}",
        "enabled", true,
        "log", audit->log_file ? audit->log_file : "vlog",
        "dedup_msec", (json_int_t) audit->dedup_msec,
        "received", (json_int_t) audit->n_received,
        "ignored", (json_int_t) (audit->n_ignored + audit->n_unnamed),
        "logged", (json_int_t) audit->n_logged,
        "deduplicated", (json_int_t) audit->n_deduplicated,
        "pending", (json_int_t) hmap_count(&audit->dedup),
        "dropped", (json_int_t) dropped,
        "dropped_receive_queue", (json_int_t) audit->n_rx_dropped,
        "dropped_write_queue", (json_int_t) audit->n_write_dropped,
        "write_errors", (json_int_t) audit->n_write_errors,
        "evicted", (json_int_t) audit->n_evicted,
        "queued_lines", (json_int_t) audit->n_lines);
    json_t *meter = json_pack(
        "{sIsIsIsIsI}",
        "id", (json_int_t) audit->meter_id,
        "rate_pps", (json_int_t) audit->rate,
        "burst", (json_int_t) audit->rate,
        "installs", (json_int_t) audit->n_meter_installs,
        "errors", (json_int_t) audit->n_meter_errors);
    if (audit->meter_last_error) {
        json_object_set_new(meter, "last_error",
                            json_string(audit->meter_last_error));
    }
    json_object_set_new(j, "meter", meter);
    json_t *conn = json_pack(
        "{sssbsIsI}",
        "target", audit->target,
        "connected", audit->rx_connected,
        "connects", (json_int_t) audit->n_rx_connects,
        "disconnects", (json_int_t) audit->n_rx_disconnects);
    if (audit->rx_last_error) {
        json_object_set_new(conn, "last_error",
                            json_string(audit->rx_last_error));
    }
    json_object_set_new(j, "connection", conn);
    pthread_mutex_unlock(&audit->mutex);
    return j;
}
