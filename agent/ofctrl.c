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

/* ofctrl.c: the OpenFlow connection to ovs-vswitchd and the record of our
 * flows in it (ofctrl.h).  A sink of the agent: desired flow set -> bundle
 * -> switch.  The worker thread does the blocking libopenvswitch calls and
 * nothing else: it never touches agent state, only the job it is given. */

#include <config.h>
#include "ofctrl.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/list.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/ofp-errors.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-msgs.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofp-util.h>
#include <openvswitch/ofpbuf.h>
#include <openvswitch/vconn.h>
#include <openvswitch/vlog.h>
#include "callback-list.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(ofctrl);

#define PROBE_INTERVAL_MSEC 1000
#define MIN_BACKOFF_MSEC 100
#define MAX_BACKOFF_MSEC 5000
#define RETRY_AFTER_ERROR_MSEC 5000
#define PROTOCOL OFPUTIL_P_OF15_OXM
#define COOKIE_ROLE_MASK (UINT64_C(0xff) << 40)     /* See np_cookie(). */

#define STATES                                  \
    STATE(DISCONNECTED, "disconnected")         \
    STATE(CONNECTING, "connecting")             \
    STATE(DUMPING, "reading back flows")        \
    STATE(IDLE, "idle")                         \
    STATE(INSTALLING, "installing")             \
    STATE(PROBING, "probing")                   \
    STATE(STATS, "reading flow statistics")

enum ofctrl_state {
#define STATE(ENUM, NAME) S_##ENUM,
    STATES
#undef STATE
};

/* Work for the worker thread: one at a time. */
enum job_type {
    JOB_CONNECT,                /* (Re)open the vconn. */
    JOB_DUMP,                   /* Read back our flows into 'dumped'. */
    JOB_BUNDLE,                 /* Send 'requests' as one bundle. */
    JOB_PROBE,                  /* Echo request and reply, or with
                                 * 'count_flows' a count of our flows. */
    JOB_STATS,                  /* Read our flows' counters into 'stats'. */
};

struct job {
    enum job_type type;
    struct ovs_list requests;   /* JOB_BUNDLE: struct ofpbuf flow_mods. */

    /* Results. */
    int error;                  /* 0 or a positive errno value. */
    struct ds details;          /* Decoded OpenFlow errors, for the log. */
    ovs_be32 *failed_xids;      /* xids the switch's errors refer to. */
    size_t n_failed_xids;
    struct flow_set dumped;     /* JOB_DUMP. */
    bool count_flows;           /* JOB_PROBE: count instead of echo. */
    uint64_t n_flows;           /* JOB_PROBE with 'count_flows'. */
    struct flow_stats_entry *stats;     /* JOB_STATS. */
    size_t n_stats, allocated_stats;
    long long int usec;         /* How long the job took. */
};

/* A caller of ofctrl_dump_stats() waiting for its answer. */
struct stats_waiter {
    struct ovs_list node;       /* In 'stats_waiters' or 'stats_running'. */
    ofctrl_stats_cb *cb;
    void *aux;
};

/* A change waiting for its bundle to commit; owns a copy of its flow. */
struct pending_change {
    enum flow_change_type type;
    struct np_flow *flow;
};

struct ofctrl {
    struct event_base *base;
    char *target;
    ofctrl_ready_cb *ready_cb;
    void *aux;

    enum ofctrl_state state;
    struct flow_set installed;
    uint64_t installed_seq;
    struct ofctrl_stats stats;

    /* The bundle in flight. */
    struct pending_change *pending;
    size_t n_pending;
    uint64_t pending_seq;

    struct event *timer;        /* Reconnect, probe and retry timer. */
    struct event *job_done;     /* Activated by the worker. */
    int backoff_msec;
    long long int retry_after;  /* No bundle before this time (msec). */
    bool wants_full;            /* The next put must compare everything. */
    unsigned int n_probes;      /* Probes so far. */
    unsigned int check_every;   /* Count our flows every this many probes
                                 * (0: never). */

    /* Flow statistics: requests wait in 'stats_waiters' for the next
     * JOB_STATS, then in 'stats_running' for the one in flight. */
    struct ovs_list stats_waiters;      /* Contains struct stats_waiter. */
    struct ovs_list stats_running;      /* Contains struct stats_waiter. */
    struct event *stats_event;  /* Starts or fails waiting requests. */

    /* Barriers (callback-list.h): waiting for a probe to start, then for
     * its reply. */
    struct ovs_list barriers_waiting;
    struct ovs_list barriers_probing;

    /* Shared with the worker thread, under 'mutex'. */
    pthread_t worker;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct job *job_in;         /* Submitted, not yet taken. */
    struct job *job_out;        /* Done, not yet collected. */
    bool exiting;

    /* Owned by the worker thread only. */
    struct vconn *vconn;

    /* ofctrl_set_setup(): set before the first connection, then only read
     * by the worker. */
    ofctrl_setup_cb *setup_cb;
    void *setup_aux;
};

static void ofctrl_submit(struct ofctrl *, struct job *);
static void ofctrl_schedule(struct ofctrl *, int msec);

/* The worker thread. */

static struct job *
job_create(enum job_type type)
{
    struct job *job = np_xzalloc(sizeof *job);
    job->type = type;
    ovs_list_init(&job->requests);
    ds_init(&job->details);
    flow_set_init(&job->dumped);
    return job;
}

static void
job_destroy(struct job *job)
{
    if (job) {
        struct ofpbuf *msg;
        LIST_FOR_EACH_POP (msg, list_node, &job->requests) {
            ofpbuf_delete(msg);
        }
        ds_destroy(&job->details);
        free(job->failed_xids);
        flow_set_destroy(&job->dumped);
        free(job->stats);
        free(job);
    }
}

static int
worker_connect(struct ofctrl *ofctrl)
{
    if (ofctrl->vconn) {
        vconn_close(ofctrl->vconn);
        ofctrl->vconn = NULL;
    }
    int error = vconn_open_block(ofctrl->target, 1u << OFP15_VERSION, 0,
                                 2000, &ofctrl->vconn);
    if (!error && ofctrl->setup_cb) {
        error = ofctrl->setup_cb(ofctrl->vconn, ofctrl->setup_aux);
        if (error) {
            vconn_close(ofctrl->vconn);
            ofctrl->vconn = NULL;
        }
    }
    return error;
}

/* Counts the flows with our cookie in the switch into '*n_flows' (an
 * aggregate statistics request: the switch counts, nothing is dumped). */
static int
worker_count_flows(struct ofctrl *ofctrl, uint64_t *n_flows)
{
    struct ofputil_flow_stats_request fsr;
    memset(&fsr, 0, sizeof fsr);
    fsr.aggregate = true;
    match_init_catchall(&fsr.match);
    fsr.cookie = htobe64(NP_COOKIE_PREFIX);
    fsr.cookie_mask = htobe64(NP_COOKIE_PREFIX_MASK);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = 0xff;

    struct ofpbuf *reply;
    int error = vconn_transact(ofctrl->vconn,
                               ofputil_encode_flow_stats_request(&fsr,
                                                                 PROTOCOL),
                               &reply);
    if (error) {
        return error;
    }
    struct ofputil_aggregate_stats asr;
    enum ofptype type;
    if (ofptype_decode(&type, reply->data)
        || type != OFPTYPE_AGGREGATE_STATS_REPLY
        || ofputil_decode_aggregate_stats_reply(&asr, reply->data)) {
        error = EPROTO;
    } else {
        *n_flows = asr.flow_count;
    }
    ofpbuf_delete(reply);
    return error;
}

static int
worker_probe(struct ofctrl *ofctrl)
{
    struct ofpbuf *reply;
    int error = vconn_transact(ofctrl->vconn,
                               ofputil_encode_echo_request(OFP15_VERSION),
                               &reply);
    ofpbuf_delete(reply);
    return error;
}

/* Called for each flow of a flow stats reply.  'fs' is valid only during
 * the call. */
typedef void flow_stats_handler(const struct ofputil_flow_stats *fs,
                                void *aux);

/* Room for the decoded actions of any flow we install (a clause flow
 * carries up to NP_MAX_CONJS_PER_FLOW conjunction actions). */
#define DUMP_OFPACTS_SIZE (256 * 1024)

/* Asks the switch for the flows, in every table, whose cookie is 'cookie'
 * under 'cookie_mask', and calls 'handle' for each of them, one reply
 * message at a time.  (libopenvswitch's vconn_dump_flows() would hold all
 * of them as 3 kB 'struct match'es at once; converting as they arrive keeps
 * a big table's read-back small.) */
static int
worker_dump_flows(struct vconn *vconn, uint64_t cookie, uint64_t cookie_mask,
                  flow_stats_handler *handle, void *aux)
{
    struct ofputil_flow_stats_request fsr;
    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.cookie = htobe64(cookie);
    fsr.cookie_mask = htobe64(cookie_mask);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = 0xff;

    struct ofpbuf *request = ofputil_encode_flow_stats_request(&fsr,
                                                               PROTOCOL);
    ovs_be32 xid = ((struct ofp_header *) request->data)->xid;
    int error = vconn_send_block(vconn, request);
    if (error) {
        ofpbuf_delete(request);     /* Still ours when sending failed. */
        return error;
    }

    /* Decoded actions go into zeroed memory, re-zeroed after each flow:
     * OVS leaves padding inside some actions (set_field) uninitialized,
     * and flow_set compares actions byte for byte first. */
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, DUMP_OFPACTS_SIZE);
    memset(ofpacts.base, 0, ofpacts.allocated);
    for (bool more = true; more && !error; ) {
        struct ofpbuf *reply;
        error = vconn_recv_block(vconn, &reply);
        if (error) {
            break;
        }
        const struct ofp_header *oh = reply->data;
        enum ofptype type;
        if (oh->xid != xid) {
            ofpbuf_delete(reply);
            continue;
        }
        if (ofptype_decode(&type, oh) || type != OFPTYPE_FLOW_STATS_REPLY) {
            error = EPROTO;
            ofpbuf_delete(reply);
            break;
        }
        more = ofpmp_more(oh);
        for (;;) {
            struct ofputil_flow_stats fs;
            memset(ofpacts.base, 0, NP_MIN(ofpacts.size, ofpacts.allocated));
            int retval = ofputil_decode_flow_stats_reply(&fs, reply, false,
                                                         &ofpacts);
            if (retval == EOF) {
                break;
            } else if (retval) {
                error = EPROTO;
                break;
            }
            handle(&fs, aux);
        }
        ofpbuf_delete(reply);
    }
    ofpbuf_uninit(&ofpacts);
    return error;
}

static void
add_to_flow_set(const struct ofputil_flow_stats *fs, void *flows)
{
    flow_set_replace(flows, np_flow_create(fs->table_id, fs->priority,
                                           &fs->match, be64toh(fs->cookie),
                                           fs->ofpacts, fs->ofpacts_len));
}

/* Reads back every flow whose cookie carries our prefix. */
static int
worker_dump(struct ofctrl *ofctrl, struct flow_set *flows)
{
    return worker_dump_flows(ofctrl->vconn, NP_COOKIE_PREFIX,
                             NP_COOKIE_PREFIX_MASK, add_to_flow_set, flows);
}

static void
add_to_stats(const struct ofputil_flow_stats *fs, void *job_)
{
    struct job *job = job_;
    job->stats = np_x2nrealloc(job->stats, &job->allocated_stats,
                               job->n_stats + 1, sizeof *job->stats);
    job->stats[job->n_stats++] = (struct flow_stats_entry) {
        .cookie = be64toh(fs->cookie),
        .table_id = fs->table_id,
        .priority = fs->priority,
        .n_packets = fs->packet_count,
        .n_bytes = fs->byte_count,
    };
}

/* Reads the counters of the flows that statistics are made of (pipeline.h,
 * "Statistics"): one request per role, matching the role byte of the cookie
 * too, so that the shared clause flows, the most numerous and the biggest
 * (up to NP_MAX_CONJS_PER_FLOW actions each), are never sent. */
static int
worker_dump_stats(struct ofctrl *ofctrl, struct job *job)
{
    static const enum np_role roles[] = {
        NP_ROLE_RULE, NP_ROLE_STATS, NP_ROLE_ISOLATION,
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(roles); i++) {
        int error = worker_dump_flows(ofctrl->vconn, np_cookie(roles[i], 0),
                                      NP_COOKIE_PREFIX_MASK | COOKIE_ROLE_MASK,
                                      add_to_stats, job);
        if (error) {
            return error;
        }
    }
    return 0;
}

/* Decodes the switch's error replies into 'job': text for the log, and the
 * xids of the requests they refer to. */
static void
worker_decode_errors(struct job *job, struct ovs_list *errors)
{
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, errors) {
        const struct ofp_header *oh = msg->data;
        struct ofpbuf payload;
        enum ofperr err = ofperr_decode_msg(oh, &payload);

        ds_put_format(&job->details, "%s%s", job->details.length ? "; " : "",
                      err ? ofperr_to_string(err) : "unknown error");
        job->failed_xids = np_xrealloc(job->failed_xids,
                                       (job->n_failed_xids + 1)
                                       * sizeof *job->failed_xids);
        job->failed_xids[job->n_failed_xids++] = oh->xid;
        ofpbuf_delete(msg);
    }
}

static int
worker_bundle(struct job *job, struct vconn *vconn)
{
    struct ovs_list errors;
    int error = vconn_bundle_transact(vconn, &job->requests,
                                      OFPBF_ATOMIC | OFPBF_ORDERED, &errors);
    worker_decode_errors(job, &errors);
    return error;
}

static void
worker_run_job(struct ofctrl *ofctrl, struct job *job)
{
    long long int start = np_time_usec();
    if (!ofctrl->vconn && job->type != JOB_CONNECT) {
        job->error = ENOTCONN;
        return;
    }
    switch (job->type) {
    case JOB_CONNECT:
        job->error = worker_connect(ofctrl);
        break;
    case JOB_DUMP:
        job->error = worker_dump(ofctrl, &job->dumped);
        break;
    case JOB_BUNDLE:
        job->error = worker_bundle(job, ofctrl->vconn);
        break;
    case JOB_PROBE:
        job->error = (job->count_flows
                      ? worker_count_flows(ofctrl, &job->n_flows)
                      : worker_probe(ofctrl));
        break;
    case JOB_STATS:
        job->error = worker_dump_stats(ofctrl, job);
        break;
    }
    job->usec = np_time_usec() - start;
}

static void *
worker_main(void *ofctrl_)
{
    struct ofctrl *ofctrl = ofctrl_;

    pthread_mutex_lock(&ofctrl->mutex);
    for (;;) {
        while (!ofctrl->job_in && !ofctrl->exiting) {
            pthread_cond_wait(&ofctrl->cond, &ofctrl->mutex);
        }
        if (ofctrl->exiting) {
            break;
        }
        struct job *job = ofctrl->job_in;
        ofctrl->job_in = NULL;
        pthread_mutex_unlock(&ofctrl->mutex);

        worker_run_job(ofctrl, job);

        pthread_mutex_lock(&ofctrl->mutex);
        ofctrl->job_out = job;
        event_active(ofctrl->job_done, EV_READ, 0);
    }
    pthread_mutex_unlock(&ofctrl->mutex);
    if (ofctrl->vconn) {
        vconn_close(ofctrl->vconn);
        ofctrl->vconn = NULL;
    }
    return NULL;
}

/* The loop thread. */

static const char *
state_name(enum ofctrl_state state)
{
    switch (state) {
#define STATE(ENUM, NAME) case S_##ENUM: return NAME;
        STATES
#undef STATE
    }
    return "unknown";
}

static void
set_last_error(struct ofctrl *ofctrl, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);

static void
set_last_error(struct ofctrl *ofctrl, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    free(ofctrl->stats.last_error);
    ofctrl->stats.last_error = np_xvasprintf(format, args);
    va_end(args);
}

static void
ofctrl_submit(struct ofctrl *ofctrl, struct job *job)
{
    pthread_mutex_lock(&ofctrl->mutex);
    ofctrl->job_in = job;
    pthread_cond_signal(&ofctrl->cond);
    pthread_mutex_unlock(&ofctrl->mutex);
}

static void
ofctrl_schedule(struct ofctrl *ofctrl, int msec)
{
    struct timeval tv = { msec / 1000, (msec % 1000) * 1000 };
    evtimer_add(ofctrl->timer, &tv);
}

static void
discard_pending(struct ofctrl *ofctrl)
{
    for (size_t i = 0; i < ofctrl->n_pending; i++) {
        np_flow_destroy(ofctrl->pending[i].flow);
    }
    free(ofctrl->pending);
    ofctrl->pending = NULL;
    ofctrl->n_pending = 0;
}

/* Flow statistics. */

/* Calls back every request in 'waiters' with 'error' (0: with the counters
 * of 'job') and frees them.  The callbacks may make new requests. */
static void
stats_answer(struct ovs_list *waiters, int error, const struct job *job)
{
    struct ovs_list list;
    struct stats_waiter *w;

    ovs_list_init(&list);
    ovs_list_push_back_all(&list, waiters);
    LIST_FOR_EACH_POP (w, node, &list) {
        if (error) {
            w->cb(error, NULL, 0, w->aux);
        } else {
            w->cb(0, job->stats, job->n_stats, w->aux);
        }
        free(w);
    }
}

static void
stats_free_all(struct ovs_list *waiters)
{
    struct stats_waiter *w;
    LIST_FOR_EACH_POP (w, node, waiters) {
        free(w);
    }
}

/* Starts a dump for every waiting request, if the connection is idle. */
static void
stats_start(struct ofctrl *ofctrl)
{
    if (ofctrl->state == S_IDLE
        && !ovs_list_is_empty(&ofctrl->stats_waiters)) {
        ovs_list_push_back_all(&ofctrl->stats_running,
                               &ofctrl->stats_waiters);
        ofctrl->state = S_STATS;
        evtimer_del(ofctrl->timer);
        ofctrl_submit(ofctrl, job_create(JOB_STATS));
    }
}

/* Serves waiting requests from the event loop, never from inside
 * ofctrl_dump_stats(): starts a dump if the connection is idle, fails them
 * if there is no connection, and otherwise leaves them for the end of the
 * job in flight (ofctrl_become_idle()). */
static void
stats_event_cb(evutil_socket_t fd, short events, void *ofctrl_)
{
    struct ofctrl *ofctrl = ofctrl_;

    switch (ofctrl->state) {
    case S_DISCONNECTED:
    case S_CONNECTING:
        stats_answer(&ofctrl->stats_waiters, ENOTCONN, NULL);
        break;
    case S_IDLE:
        stats_start(ofctrl);
        break;
    case S_DUMPING:
    case S_INSTALLING:
    case S_PROBING:
    case S_STATS:
        break;
    }
}

/* Sends an echo (or, with 'count_flows', a count of our flows) from
 * S_IDLE.  Its reply answers every barrier waiting now. */
static void
start_probe(struct ofctrl *ofctrl, bool count_flows)
{
    ovs_list_push_back_all(&ofctrl->barriers_probing,
                           &ofctrl->barriers_waiting);
    ofctrl->state = S_PROBING;
    evtimer_del(ofctrl->timer);
    struct job *probe = job_create(JOB_PROBE);
    probe->count_flows = count_flows;
    ofctrl_submit(ofctrl, probe);
}

static void
ofctrl_disconnected(struct ofctrl *ofctrl, int error)
{
    if (ofctrl->state != S_CONNECTING) {
        VLOG_WARN("%s: connection lost (%s), reconnecting", ofctrl->target,
                  np_strerror(error));
    }
    set_last_error(ofctrl, "%s: %s", ofctrl->target, np_strerror(error));
    ofctrl->stats.n_disconnects++;
    ofctrl->state = S_DISCONNECTED;
    /* Nothing is known of the switch until the read-back (it may have
     * restarted empty), so nothing desired counts as installed: otherwise
     * "wait-sync" would answer before the flows are back. */
    ofctrl->installed_seq = 0;
    discard_pending(ofctrl);
    ofctrl_schedule(ofctrl, ofctrl->backoff_msec);
    ofctrl->backoff_msec = NP_MIN(ofctrl->backoff_msec * 2, MAX_BACKOFF_MSEC);
    stats_answer(&ofctrl->stats_running, error, NULL);
    stats_answer(&ofctrl->stats_waiters, error, NULL);
    /* Whatever they wait for now comes with the next install. */
    callback_list_call(&ofctrl->barriers_probing);
    callback_list_call(&ofctrl->barriers_waiting);
}

static void
ofctrl_become_idle(struct ofctrl *ofctrl)
{
    ofctrl->state = S_IDLE;
    ofctrl_schedule(ofctrl, PROBE_INTERVAL_MSEC);
    if (ofctrl_is_ready(ofctrl)) {
        ofctrl->ready_cb(ofctrl->aux);
    }
    stats_start(ofctrl);
    if (ofctrl->state == S_IDLE
        && !ovs_list_is_empty(&ofctrl->barriers_waiting)) {
        start_probe(ofctrl, false);
    }
}

/* Returns the flow a failed request was about, from its xid, or NULL. */
static const struct np_flow *
pending_flow_by_xid(const struct ofctrl *ofctrl, ovs_be32 xid)
{
    uint32_t index = ntohl(xid);
    return index < ofctrl->n_pending ? ofctrl->pending[index].flow : NULL;
}

static void
log_bundle_errors(struct ofctrl *ofctrl, const struct job *job)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

    VLOG_WARN_RL(&rl, "bundle of %zu flow mods refused (%s): %s",
                 ofctrl->n_pending, np_strerror(job->error),
                 job->details.length ? ds_cstr_ro(&job->details)
                                     : "no details");
    for (size_t i = 0; i < job->n_failed_xids; i++) {
        const struct np_flow *flow = pending_flow_by_xid(
            ofctrl, job->failed_xids[i]);
        if (flow) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(flow, &s);
            VLOG_WARN_RL(&rl, "refused flow: %s", ds_cstr(&s));
            ds_destroy(&s);
        }
    }
    set_last_error(ofctrl, "bundle refused: %s",
                   job->details.length ? ds_cstr_ro(&job->details)
                                       : np_strerror(job->error));
}

static void
apply_pending(struct ofctrl *ofctrl)
{
    for (size_t i = 0; i < ofctrl->n_pending; i++) {
        struct pending_change *pc = &ofctrl->pending[i];
        if (pc->type == FLOW_DELETE) {
            struct np_flow *old = flow_set_find_flow(&ofctrl->installed,
                                                     pc->flow);
            if (old) {
                flow_set_remove(&ofctrl->installed, old);
                np_flow_destroy(old);
            }
            np_flow_destroy(pc->flow);
        } else {
            flow_set_replace(&ofctrl->installed, pc->flow);
        }
        pc->flow = NULL;
    }
    discard_pending(ofctrl);
}

static void
handle_bundle_done(struct ofctrl *ofctrl, struct job *job)
{
    if (!job->error) {
        ofctrl->stats.n_bundles++;
        ofctrl->stats.n_flow_mods += ofctrl->n_pending;
        ofctrl->stats.last_bundle_flow_mods = ofctrl->n_pending;
        ofctrl->stats.last_bundle_usec = job->usec;
        VLOG_INFO("installed %zu flow mods in %lld ms", ofctrl->n_pending,
                  job->usec / 1000);
        apply_pending(ofctrl);
        ofctrl->installed_seq = ofctrl->pending_seq;
        ofctrl_become_idle(ofctrl);
    } else if (job->n_failed_xids || job->error == EPROTO) {
        /* The switch refused the bundle, so nothing changed (atomic), and
         * the changes it held must be sent again. */
        ofctrl->stats.n_bundle_errors++;
        ofctrl->wants_full = true;
        log_bundle_errors(ofctrl, job);
        discard_pending(ofctrl);
        ofctrl->retry_after = np_time_msec() + RETRY_AFTER_ERROR_MSEC;
        ofctrl->state = S_IDLE;
        ofctrl_schedule(ofctrl, RETRY_AFTER_ERROR_MSEC);
        stats_start(ofctrl);
    } else {
        /* We do not know whether the switch committed: read it back. */
        ofctrl->stats.n_bundle_errors++;
        ofctrl_disconnected(ofctrl, job->error);
    }
}

static void
handle_stats_done(struct ofctrl *ofctrl, struct job *job)
{
    if (job->error) {
        /* The replies may be half read: start again from a new
         * connection (which fails the requests). */
        ofctrl_disconnected(ofctrl, job->error);
        return;
    }
    ofctrl->stats.n_stats_dumps++;
    ofctrl->stats.last_stats_usec = job->usec;
    ofctrl->stats.last_stats_flows = job->n_stats;
    stats_answer(&ofctrl->stats_running, 0, job);
    ofctrl_become_idle(ofctrl);
}

/* Someone else added or deleted flows with our cookie (by hand, or a CNI
 * that clears the bridge): read everything back, and the next put
 * restores what we want.  Only a count is checked, every few seconds; a
 * flow modified in place is noticed at the next read-back. */
static void
read_back_changed_flows(struct ofctrl *ofctrl, uint64_t n_switch)
{
    VLOG_WARN("%s: the switch holds %"PRIu64" of our flows, we installed "
              "%zu: they were changed behind our back; reading them back",
              ofctrl->target, n_switch, flow_set_count(&ofctrl->installed));
    ofctrl->stats.n_foreign_changes++;
    ofctrl->installed_seq = 0;
    ofctrl->state = S_DUMPING;
    ofctrl_submit(ofctrl, job_create(JOB_DUMP));
}

static void
job_done_cb(evutil_socket_t fd, short events, void *ofctrl_)
{
    struct ofctrl *ofctrl = ofctrl_;

    pthread_mutex_lock(&ofctrl->mutex);
    struct job *job = ofctrl->job_out;
    ofctrl->job_out = NULL;
    pthread_mutex_unlock(&ofctrl->mutex);
    if (!job) {
        return;
    }

    switch (job->type) {
    case JOB_CONNECT:
        if (job->error) {
            ofctrl_disconnected(ofctrl, job->error);
        } else {
            VLOG_INFO("%s: connected", ofctrl->target);
            ofctrl->stats.n_connects++;
            ofctrl->backoff_msec = MIN_BACKOFF_MSEC;
            ofctrl->state = S_DUMPING;
            ofctrl_submit(ofctrl, job_create(JOB_DUMP));
        }
        break;
    case JOB_DUMP:
        if (job->error) {
            ofctrl_disconnected(ofctrl, job->error);
        } else {
            flow_set_swap(&ofctrl->installed, &job->dumped);
            ofctrl->installed_seq = 0;
            ofctrl->wants_full = true;
            ofctrl->stats.last_dump_usec = job->usec;
            ofctrl->stats.last_dump_flows = flow_set_count(&ofctrl->installed);
            VLOG_INFO("%s: %zu of our flows in the switch",
                      ofctrl->target, flow_set_count(&ofctrl->installed));
            ofctrl_become_idle(ofctrl);
        }
        break;
    case JOB_BUNDLE:
        handle_bundle_done(ofctrl, job);
        break;
    case JOB_PROBE:
        if (job->error) {
            ofctrl_disconnected(ofctrl, job->error);
            break;
        }
        callback_list_call(&ofctrl->barriers_probing);
        if (job->count_flows
            && job->n_flows != flow_set_count(&ofctrl->installed)) {
            read_back_changed_flows(ofctrl, job->n_flows);
        } else {
            ofctrl_become_idle(ofctrl);
        }
        break;
    case JOB_STATS:
        handle_stats_done(ofctrl, job);
        break;
    }
    job_destroy(job);
}

static void
timer_cb(evutil_socket_t fd, short events, void *ofctrl_)
{
    struct ofctrl *ofctrl = ofctrl_;

    switch (ofctrl->state) {
    case S_DISCONNECTED:
        ofctrl->state = S_CONNECTING;
        ofctrl_submit(ofctrl, job_create(JOB_CONNECT));
        break;
    case S_IDLE:
        if (ofctrl->retry_after && np_time_msec() >= ofctrl->retry_after) {
            /* A refused bundle may be retried now. */
            ofctrl->retry_after = 0;
            ofctrl->ready_cb(ofctrl->aux);
            if (ofctrl->state != S_IDLE) {
                break;
            }
        }
        start_probe(ofctrl, (ofctrl->check_every
                             && !(++ofctrl->n_probes
                                  % ofctrl->check_every)));
        break;
    case S_CONNECTING:
    case S_DUMPING:
    case S_INSTALLING:
    case S_PROBING:
    case S_STATS:
        break;
    }
}

struct ofctrl *
ofctrl_create(struct event_base *base, const char *target,
              ofctrl_ready_cb *ready_cb, void *aux)
{
    struct ofctrl *ofctrl = np_xzalloc(sizeof *ofctrl);
    ofctrl->base = base;
    ofctrl->target = np_xstrdup(target);
    ofctrl->ready_cb = ready_cb;
    ofctrl->aux = aux;
    ofctrl->state = S_DISCONNECTED;
    ofctrl->backoff_msec = MIN_BACKOFF_MSEC;
    ofctrl->check_every = OFCTRL_DEFAULT_FLOW_CHECK * 1000
                          / PROBE_INTERVAL_MSEC;
    flow_set_init(&ofctrl->installed);
    ofctrl->timer = evtimer_new(base, timer_cb, ofctrl);
    ofctrl->job_done = event_new(base, -1, 0, job_done_cb, ofctrl);
    ovs_list_init(&ofctrl->stats_waiters);
    ovs_list_init(&ofctrl->stats_running);
    ovs_list_init(&ofctrl->barriers_waiting);
    ovs_list_init(&ofctrl->barriers_probing);
    ofctrl->stats_event = event_new(base, -1, 0, stats_event_cb, ofctrl);
    pthread_mutex_init(&ofctrl->mutex, NULL);
    pthread_cond_init(&ofctrl->cond, NULL);
    pthread_create(&ofctrl->worker, NULL, worker_main, ofctrl);
    ofctrl_schedule(ofctrl, 0);
    return ofctrl;
}

void
ofctrl_destroy(struct ofctrl *ofctrl)
{
    if (!ofctrl) {
        return;
    }
    /* A blocking call in flight finishes first: libopenvswitch's vconn has
     * no way to interrupt it. */
    pthread_mutex_lock(&ofctrl->mutex);
    ofctrl->exiting = true;
    pthread_cond_signal(&ofctrl->cond);
    pthread_mutex_unlock(&ofctrl->mutex);
    pthread_join(ofctrl->worker, NULL);

    job_destroy(ofctrl->job_in);
    job_destroy(ofctrl->job_out);
    event_free(ofctrl->timer);
    event_free(ofctrl->job_done);
    event_free(ofctrl->stats_event);
    stats_free_all(&ofctrl->stats_waiters);
    stats_free_all(&ofctrl->stats_running);
    callback_list_clear(&ofctrl->barriers_waiting);
    callback_list_clear(&ofctrl->barriers_probing);
    pthread_mutex_destroy(&ofctrl->mutex);
    pthread_cond_destroy(&ofctrl->cond);
    discard_pending(ofctrl);
    flow_set_destroy(&ofctrl->installed);
    free(ofctrl->stats.last_error);
    free(ofctrl->target);
    free(ofctrl);
}

void
ofctrl_set_flow_check(struct ofctrl *ofctrl, unsigned int seconds)
{
    ofctrl->check_every = seconds * 1000 / PROBE_INTERVAL_MSEC;
}

void
ofctrl_set_setup(struct ofctrl *ofctrl, ofctrl_setup_cb *cb, void *aux)
{
    pthread_mutex_lock(&ofctrl->mutex);
    ofctrl->setup_cb = cb;
    ofctrl->setup_aux = aux;
    pthread_mutex_unlock(&ofctrl->mutex);
}

bool
ofctrl_is_ready(const struct ofctrl *ofctrl)
{
    return ofctrl->state == S_IDLE && !ofctrl->retry_after;
}

void
ofctrl_barrier(struct ofctrl *ofctrl, void (*cb)(void *aux), void *aux)
{
    if (!ofctrl->installed_seq) {
        cb(aux);                /* Nothing installed to be wrong about. */
        return;
    }
    callback_list_add(&ofctrl->barriers_waiting, cb, aux);
    if (ofctrl->state == S_IDLE) {
        start_probe(ofctrl, false);
    }
}

bool
ofctrl_is_connected(const struct ofctrl *ofctrl)
{
    return ofctrl->state >= S_DUMPING;
}

const char *
ofctrl_state_name(const struct ofctrl *ofctrl)
{
    return state_name(ofctrl->state);
}

/* Encodes a flow_mod for 'change', with xid 'index'.  Deletes and modifies
 * name our exact cookie, so they can never touch anyone else's flow. */
static struct ofpbuf *
encode_change(const struct flow_change *change, uint32_t index)
{
    const struct np_flow *flow = change->new ? change->new : change->old;
    struct ofputil_flow_mod fm;

    memset(&fm, 0, sizeof fm);
    fm.match = flow->match;     /* Borrowed, not owned. */
    fm.priority = flow->priority;
    fm.table_id = flow->table_id;
    fm.buffer_id = UINT32_MAX;
    fm.out_port = OFPP_ANY;
    fm.out_group = OFPG_ANY;
    fm.new_cookie = OVS_BE64_MAX;

    if (change->type == FLOW_DELETE) {
        fm.command = OFPFC_DELETE_STRICT;
        fm.cookie = htobe64(change->old->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
    } else if (change->type == FLOW_MODIFY
               && change->old->cookie == change->new->cookie) {
        fm.command = OFPFC_MODIFY_STRICT;
        fm.cookie = htobe64(change->old->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
        fm.ofpacts = flow->ofpacts;
        fm.ofpacts_len = flow->ofpacts_len;
    } else {
        /* An add, or a modify that changes the cookie (OpenFlow 1.1+ cannot
         * modify a cookie): an add replaces the flow in place. */
        fm.command = OFPFC_ADD;
        fm.new_cookie = htobe64(flow->cookie);
        fm.ofpacts = flow->ofpacts;
        fm.ofpacts_len = flow->ofpacts_len;
    }

    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, PROTOCOL);
    ((struct ofp_header *) msg->data)->xid = htonl(index);
    return msg;
}

/* Sends 'changes' (which point into 'installed' and the desired set) as
 * one bundle, or records 'seq' at once if there are none. */
static void
ofctrl_send(struct ofctrl *ofctrl, const struct flow_changes *changes,
            uint64_t seq)
{
    if (!changes->n) {
        ofctrl->installed_seq = seq;
        return;
    }

    struct job *job = job_create(JOB_BUNDLE);
    ofctrl->pending = np_xmalloc(changes->n * sizeof *ofctrl->pending);
    ofctrl->n_pending = changes->n;
    for (size_t i = 0; i < changes->n; i++) {
        const struct flow_change *change = &changes->changes[i];
        struct pending_change *pc = &ofctrl->pending[i];

        pc->type = change->type;
        pc->flow = np_flow_clone(change->new ? change->new : change->old);
        ovs_list_push_back(&job->requests,
                           &encode_change(change, i)->list_node);
        if (VLOG_IS_DBG_ENABLED()) {
            struct ds text = DS_EMPTY_INITIALIZER;
            np_flow_format(pc->flow, &text);
            VLOG_DBG("%s %s", change->type == FLOW_ADD ? "add"
                     : change->type == FLOW_MODIFY ? "modify" : "delete",
                     ds_cstr(&text));
            ds_destroy(&text);
        }
        switch (change->type) {
        case FLOW_ADD: ofctrl->stats.n_adds++; break;
        case FLOW_MODIFY: ofctrl->stats.n_modifies++; break;
        case FLOW_DELETE: ofctrl->stats.n_deletes++; break;
        }
    }

    ofctrl->pending_seq = seq;
    ofctrl->state = S_INSTALLING;
    evtimer_del(ofctrl->timer);
    ofctrl_submit(ofctrl, job);
}

bool
ofctrl_put(struct ofctrl *ofctrl, const struct flow_set *desired,
           uint64_t seq)
{
    if (!ofctrl_is_ready(ofctrl)) {
        return false;
    }
    struct flow_changes changes;
    flow_changes_init(&changes);
    flow_set_diff(&ofctrl->installed, desired, &changes);
    ofctrl_send(ofctrl, &changes, seq);
    flow_changes_destroy(&changes);
    ofctrl->wants_full = false;
    return true;
}

bool
ofctrl_put_tracked(struct ofctrl *ofctrl, const struct flow_set *desired,
                   const struct flow_set *tracked, uint64_t seq)
{
    if (!ofctrl_is_ready(ofctrl)) {
        return false;
    }
    ovs_assert(!ofctrl->wants_full);

    struct flow_changes changes;
    flow_changes_init(&changes);
    const struct np_flow *t;
    HMAP_FOR_EACH (t, node, &tracked->flows) {
        const struct np_flow *old = flow_set_find_flow(&ofctrl->installed, t);
        const struct np_flow *new = flow_set_find_flow(desired, t);
        if (old && !new) {
            flow_changes_add(&changes, FLOW_DELETE, old, NULL);
        } else if (!old && new) {
            flow_changes_add(&changes, FLOW_ADD, NULL, new);
        } else if (old && new && !np_flow_same_content(old, new)) {
            flow_changes_add(&changes, FLOW_MODIFY, old, new);
        }
    }
    ofctrl_send(ofctrl, &changes, seq);
    flow_changes_destroy(&changes);
    return true;
}

bool
ofctrl_wants_full(const struct ofctrl *ofctrl)
{
    return ofctrl->wants_full;
}

uint64_t
ofctrl_installed_seq(const struct ofctrl *ofctrl)
{
    return ofctrl->installed_seq;
}

const struct flow_set *
ofctrl_installed(const struct ofctrl *ofctrl)
{
    return &ofctrl->installed;
}

void
ofctrl_resync(struct ofctrl *ofctrl)
{
    if (ofctrl->state == S_IDLE) {
        evtimer_del(ofctrl->timer);
        ofctrl->state = S_DUMPING;
        ofctrl_submit(ofctrl, job_create(JOB_DUMP));
    }
}

const struct ofctrl_stats *
ofctrl_get_stats(const struct ofctrl *ofctrl)
{
    return &ofctrl->stats;
}

void
ofctrl_dump_stats(struct ofctrl *ofctrl, ofctrl_stats_cb *cb, void *aux)
{
    struct stats_waiter *w = np_xmalloc(sizeof *w);
    w->cb = cb;
    w->aux = aux;
    ovs_list_push_back(&ofctrl->stats_waiters, &w->node);
    event_active(ofctrl->stats_event, EV_TIMEOUT, 0);
}
