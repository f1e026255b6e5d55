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

/* k8s-source.c: Kubernetes mode, the agent's API server source
 * (k8s-source.h).  API server -> list/watch -> store and pending changes ->
 * cluster state.  It never computes flows, never blocks, never trusts a
 * length or a line from the network without a limit, and never logs a
 * credential.
 *
 * Sections: the resources and the reflector state machine; the store and
 * pending changes; lists; watches; errors and backoff; barriers; applying;
 * status.  Callbacks from k8s-client.c arrive from the event loop; the
 * watch data callback runs inside libcurl, so it only records changes and
 * schedules 'notify_event', which calls 'changed' and completes barriers on
 * the next turn of the loop. */

#include <config.h>
#include "k8s-source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "k8s-client.h"
#include "k8s-config.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(k8s_source);

/* Everything below can be triggered from outside, as often as the server
 * likes: rate-limited. */
static struct vlog_rate_limit error_rl = VLOG_RATE_LIMIT_INIT(20, 20);
static struct vlog_rate_limit event_rl = VLOG_RATE_LIMIT_INIT(10, 20);
static struct vlog_rate_limit info_rl = VLOG_RATE_LIMIT_INIT(20, 40);
static struct vlog_rate_limit node_rl = VLOG_RATE_LIMIT_INIT(5, 10);

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

/* Watch durations asked of the server (timeoutSeconds), chosen at random in
 * this range, as client-go does, so that the agents of many nodes do not
 * reconnect together. */
#define WATCH_TIMEOUT_MIN_SEC 300
#define WATCH_TIMEOUT_MAX_SEC 600

/* A watch that ends cleanly sooner than this without delivering anything is
 * retried after a backoff, not at once: a server closing every watch must
 * not turn the agent into a busy loop. */
#define WATCH_MIN_USEFUL_MSEC 1000

/* Longest server message quoted in a log line. */
#define MESSAGE_MAX 400

/* The resources. */

enum resource_id {
    RES_NAMESPACES,
    RES_PODS,
    RES_POLICIES,
    N_RESOURCES
};

struct resource_def {
    const char *plural;         /* As in RBAC rules and messages. */
    const char *qualified;      /* "networkpolicies.networking.k8s.io". */
    const char *kind;           /* Of the items. */
    const char *api_version;
    const char *path;           /* Collection URL path, all namespaces. */
    enum np_kind np_kind;
};

static const struct resource_def resources[N_RESOURCES] = {
    [RES_NAMESPACES] = { "namespaces", "namespaces", "Namespace", "v1",
                         "/api/v1/namespaces", NP_KIND_NAMESPACE },
    [RES_PODS] = { "pods", "pods", "Pod", "v1", "/api/v1/pods",
                   NP_KIND_POD },
    [RES_POLICIES] = { "networkpolicies",
                       "networkpolicies.networking.k8s.io",
                       "NetworkPolicy", "networking.k8s.io/v1",
                       "/apis/networking.k8s.io/v1/networkpolicies",
                       NP_KIND_POLICY },
};

/* Reflector states. */
#define REFLECTOR_STATES                                                \
    /* Waiting for the retry timer after an error. */                   \
    REFLECTOR_STATE(BACKOFF, "backoff")                                 \
    /* A list page is in flight. */                                     \
    REFLECTOR_STATE(LISTING, "listing")                                 \
    /* A watch is open (or being opened). */                            \
    REFLECTOR_STATE(WATCHING, "watching")

enum reflector_state {
#define REFLECTOR_STATE(ENUM, NAME) S_##ENUM,
    REFLECTOR_STATES
#undef REFLECTOR_STATE
};

static const char *
reflector_state_name(enum reflector_state state)
{
    switch (state) {
#define REFLECTOR_STATE(ENUM, NAME) case S_##ENUM: return NAME;
        REFLECTOR_STATES
#undef REFLECTOR_STATE
    }
    return "unknown";
}

/* Watch event types, counted. */
#define EVENT_TYPES                             \
    EVENT_TYPE(ADDED, "added")                  \
    EVENT_TYPE(MODIFIED, "modified")            \
    EVENT_TYPE(DELETED, "deleted")              \
    EVENT_TYPE(BOOKMARK, "bookmarks")           \
    EVENT_TYPE(ERROR, "errors")

enum event_type {
#define EVENT_TYPE(ENUM, NAME) EV_TYPE_##ENUM,
    EVENT_TYPES
#undef EVENT_TYPE
    N_EVENT_TYPES
};

static const char *const event_type_names[N_EVENT_TYPES] = {
#define EVENT_TYPE(ENUM, NAME) NAME,
    EVENT_TYPES
#undef EVENT_TYPE
};

/* Kinds of error, counted. */
#define ERROR_KINDS                                                     \
    ERROR_KIND(TRANSPORT, "transport")  /* DNS, connect, reset, cut. */ \
    ERROR_KIND(TLS, "tls")              /* Handshake, verification. */  \
    ERROR_KIND(UNAUTHORIZED, "unauthorized")    /* 401. */              \
    ERROR_KIND(FORBIDDEN, "forbidden")  /* 403. */                      \
    ERROR_KIND(GONE, "gone")            /* 410, HTTP or ERROR event. */ \
    ERROR_KIND(SERVER, "server")        /* 5xx and 429. */              \
    ERROR_KIND(HTTP, "http")            /* Any other status. */         \
    ERROR_KIND(STALL, "stall")          /* Watch silent too long. */    \
    ERROR_KIND(OVERSIZED, "oversized")  /* Line or page over limit. */ \
    ERROR_KIND(BAD_RESPONSE, "bad_response")  /* List not a list. */    \
    ERROR_KIND(MALFORMED, "malformed")  /* Watch line skipped. */       \
    ERROR_KIND(INVALID, "invalid")      /* Object failed validation. */

enum error_kind {
#define ERROR_KIND(ENUM, NAME) ERR_##ENUM,
    ERROR_KINDS
#undef ERROR_KIND
    N_ERROR_KINDS
};

static const char *const error_kind_names[N_ERROR_KINDS] = {
#define ERROR_KIND(ENUM, NAME) NAME,
    ERROR_KINDS
#undef ERROR_KIND
};

struct reflector_stats {
    uint64_t n_lists, n_relists, n_pages;
    uint64_t n_watches, n_watch_restarts;
    uint64_t n_events[N_EVENT_TYPES];
    uint64_t n_errors[N_ERROR_KINDS];
    uint64_t n_bytes;
};

/* What the store remembers of an object. */
struct store_entry {
    struct hmap_node node;      /* In 'reflector->store', by ns/name. */
    char *ns;                   /* "" for a Namespace. */
    char *name;
    char *rv;                   /* metadata.resourceVersion, or NULL. */
    uint64_t gen;               /* 'list_gen' of the last list it was in. */
};

/* A change waiting for k8s_source_apply(). */
struct pending_change {
    struct hmap_node node;      /* In 'reflector->pending', by ns/name. */
    char *ns;
    char *name;
    bool deleted;               /* Else 'obj' holds the new object. */
    struct np_object obj;
};

/* A watch line being assembled. */
struct line_buf {
    char *buf;
    size_t len, allocated;
};

/* The list/watch machine of one resource. */
struct reflector {
    struct k8s_source *src;
    const struct resource_def *def;
    enum reflector_state state;
    struct k8s_request *req;    /* List page or watch in flight, or NULL. */
    struct event *retry_timer;
    struct event *stall_timer;

    char *rv;                   /* Last resourceVersion delivered, or NULL
                                 * before the first list. */
    uint64_t rv_num;            /* 'rv' as a number, 0 if it is not one. */
    char *continue_token;       /* Of the list in progress, or NULL. */
    uint64_t list_gen;          /* Bumped by each list from the start. */
    bool listed;                /* A list has completed. */
    bool relist;                /* The next request is a list from the
                                 * start (410, or an oversized line). */
    bool watch_progress;        /* The open watch delivered something. */
    long long int watch_start;  /* msec. */
    int backoff_ms;             /* Upper bound of the next backoff. */
    unsigned int n_failures;    /* Failures in a row, since the last
                                 * progress (see reflector_unreachable()). */
    struct line_buf line;

    struct hmap store;          /* Contains struct store_entry. */
    struct hmap pending;        /* Contains struct pending_change. */

    char *last_error;           /* Of the last failure, or NULL. */
    long long int last_error_wall;      /* Seconds since the epoch. */
    struct reflector_stats stats;
};

/* One resource's part of a barrier. */
struct barrier_part {
    struct barrier *barrier;
    enum resource_id id;
    struct k8s_request *req;    /* The GET ...?limit=1, while in flight. */
    bool have_target;
    uint64_t target;            /* The server's resourceVersion then. */
    bool done;
};

/* A caller of k8s_source_barrier(). */
struct barrier {
    struct ovs_list node;       /* In 'src->barriers'. */
    struct k8s_source *src;
    void (*cb)(void *aux);
    void *aux;
    struct barrier_part parts[N_RESOURCES];
};

struct k8s_source {
    struct event_base *base;
    struct k8s_config config;
    struct k8s_client *client;
    void (*changed)(void *aux);
    void *aux;

    struct reflector reflectors[N_RESOURCES];
    bool synced;                /* See k8s_source_is_synced(). */
    struct event *notify_event; /* Calls 'changed', completes barriers. */
    struct ovs_list barriers;   /* Contains struct barrier. */
    uint32_t rng;               /* Jitter. */
    uint64_t n_applied;
    uint64_t n_barriers;
};

static void start_list(struct reflector *);
static void start_watch(struct reflector *);
static void schedule_retry(struct reflector *, int retry_after);
static bool reflector_unreachable(const struct reflector *);
static void complete_barrier_parts(struct reflector *);

/* Small helpers. */

static uint32_t
random_next(struct k8s_source *src)
{
    /* xorshift32: plenty for jitter. */
    src->rng ^= src->rng << 13;
    src->rng ^= src->rng >> 17;
    src->rng ^= src->rng << 5;
    return src->rng;
}

static long long int
wall_sec(void)
{
    return time(NULL);
}

/* Parses a resourceVersion as the decimal number it is in practice (an etcd
 * revision); 0 if it is not one.  Only barriers compare versions. */
static uint64_t
parse_rv(const char *rv)
{
    if (!rv || !*rv || strspn(rv, "0123456789") != strlen(rv)
        || strlen(rv) > 19) {
        return 0;
    }
    return strtoull(rv, NULL, 10);
}

/* Percent-encodes 's' for a URL query value. */
static void
put_query_value(struct ds *url, const char *s)
{
    for (; *s; s++) {
        unsigned char c = *s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~') {
            ds_put_char(url, c);
        } else {
            ds_put_format(url, "%%%02X", c);
        }
    }
}

static void
schedule_notify(struct k8s_source *src)
{
    event_active(src->notify_event, EV_TIMEOUT, 0);
}

static uint32_t
name_hash(const char *ns, const char *name)
{
    return cluster_hash_name(ns, name);
}

/* The store and pending changes. */

static struct store_entry *
store_find(const struct reflector *r, const char *ns, const char *name)
{
    struct store_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, name_hash(ns, name), &r->store) {
        if (!strcmp(e->name, name) && !strcmp(e->ns, ns)) {
            return e;
        }
    }
    return NULL;
}

static void
store_entry_free(struct store_entry *e)
{
    free(e->ns);
    free(e->name);
    free(e->rv);
    free(e);
}

static struct pending_change *
pending_get(struct reflector *r, const char *ns, const char *name)
{
    struct pending_change *pc;
    uint32_t hash = name_hash(ns, name);
    HMAP_FOR_EACH_WITH_HASH (pc, node, hash, &r->pending) {
        if (!strcmp(pc->name, name) && !strcmp(pc->ns, ns)) {
            if (!pc->deleted) {
                np_object_destroy(&pc->obj);
            }
            return pc;
        }
    }
    pc = np_xzalloc(sizeof *pc);
    pc->ns = np_xstrdup(ns);
    pc->name = np_xstrdup(name);
    hmap_insert(&r->pending, &pc->node, hash);
    return pc;
}

static void
pending_free(struct pending_change *pc)
{
    if (!pc->deleted) {
        np_object_destroy(&pc->obj);
    }
    free(pc->ns);
    free(pc->name);
    free(pc);
}

/* Records that 'ns'/'name' is now 'obj' (taking its contents). */
static void
pending_set(struct reflector *r, const char *ns, const char *name,
            struct np_object *obj)
{
    struct pending_change *pc = pending_get(r, ns, name);
    pc->deleted = false;
    pc->obj = *obj;
    obj->ns = NULL;
}

static void
pending_delete(struct reflector *r, const char *ns, const char *name)
{
    pending_get(r, ns, name)->deleted = true;
}

static void
count_error(struct reflector *r, enum error_kind kind)
{
    r->stats.n_errors[kind]++;
}

static void
log_problems(const struct np_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems->items[i], &s);
        VLOG_WARN_RL(&error_rl, "%s", ds_cstr(&s));
        ds_destroy(&s);
    }
}

static const char *
get_rv(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                             "resourceVersion"));
}

/* Moves the reflector's resourceVersion to 'rv', never backwards when both
 * are numbers. */
static void
set_rv(struct reflector *r, const char *rv)
{
    if (!rv || !*rv) {
        return;
    }
    uint64_t n = parse_rv(rv);
    if (n && r->rv_num && n < r->rv_num) {
        return;
    }
    free(r->rv);
    r->rv = np_xstrdup(rv);
    r->rv_num = n;
}

/* Records object 'json' (an ADDED or MODIFIED event's, or a list item,
 * 'from_list'), whose kind must be the reflector's.  Returns false if it
 * does not even identify itself (a malformed event). */
static bool
record_object(struct reflector *r, json_t *json, bool from_list)
{
    const struct resource_def *def = r->def;
    enum np_kind kind;
    const char *ns, *name;

    if (json_is_object(json) && !json_object_get(json, "kind")) {
        /* List items carry no kind; fill it in as manifest_parse() does. */
        json_object_set_new(json, "kind", json_string(def->kind));
        json_object_set_new(json, "apiVersion",
                            json_string(def->api_version));
    }
    if (!np_object_identify(json, &kind, &ns, &name)
        || kind != def->np_kind) {
        return false;
    }

    const char *rv = get_rv(json);
    struct store_entry *e = store_find(r, ns, name);
    if (e && from_list && rv && e->rv && !strcmp(e->rv, rv)) {
        /* Unchanged since we last saw it: nothing to parse. */
        e->gen = r->list_gen;
        return true;
    }
    if (!e) {
        e = np_xzalloc(sizeof *e);
        e->ns = np_xstrdup(ns);
        e->name = np_xstrdup(name);
        hmap_insert(&r->store, &e->node, name_hash(ns, name));
    }
    free(e->rv);
    e->rv = rv ? np_xstrdup(rv) : NULL;
    e->gen = r->list_gen;

    struct np_problems problems;
    struct np_object obj;
    np_problems_init(&problems);
    enum np_parse_status status = np_object_from_json(
        json, from_list ? "list" : "watch event", &obj, &problems);
    if (status == NP_PARSE_OK) {
        pending_set(r, e->ns, e->name, &obj);
    } else {
        /* Keep what the cluster has (the last valid form, if any). */
        count_error(r, ERR_INVALID);
        log_problems(&problems);
    }
    np_problems_destroy(&problems);
    return true;
}

/* Forgets 'ns'/'name' and records its deletion. */
static void
forget_object(struct reflector *r, const char *ns, const char *name)
{
    struct store_entry *e = store_find(r, ns, name);
    if (e) {
        hmap_remove(&r->store, &e->node);
        store_entry_free(e);
    }
    pending_delete(r, ns, name);
}

/* Errors and backoff. */

static const char *
http_reason(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* Appends the "message" of a Status body (or the start of a body that is
 * not one), made printable and bounded. */
static void
put_server_message(struct ds *s, const char *body, size_t size)
{
    json_t *status = size ? json_loadb(body, size, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(status, "message"));
    size_t len;

    if (!msg) {
        msg = body;
        len = size;
    } else {
        len = strlen(msg);
    }
    size_t start = s->length;
    for (size_t i = 0; i < len && s->length - start < MESSAGE_MAX; i++) {
        unsigned char c = msg[i];
        ds_put_char(s, c >= 0x20 && c < 0x7f ? c : c == '\n' ? ' ' : '?');
    }
    if (len > MESSAGE_MAX) {
        ds_put_cstr(s, "...");
    }
    json_decref(status);
}

static void
set_last_error(struct reflector *r, const char *error)
{
    free(r->last_error);
    r->last_error = np_xstrdup(error);
    r->last_error_wall = wall_sec();
}

/* Logs and counts a failed request: 'verb' is "list" or "watch".
 * 'status' is the HTTP status (0: 'error' says what failed instead). */
static void
report_failure(struct reflector *r, const char *verb, long status,
               enum error_kind kind, const char *error,
               const char *body, size_t body_size)
{
    const struct k8s_config *c = &r->src->config;
    struct ds s = DS_EMPTY_INITIALIZER;

    count_error(r, kind);
    ds_put_format(&s, "cannot %s %s: ", verb, r->def->qualified);
    if (status) {
        ds_put_format(&s, "%ld %s: ", status, http_reason(status));
        put_server_message(&s, body, body_size);
    } else {
        ds_put_cstr(&s, error);
    }
    if (kind == ERR_FORBIDDEN) {
        ds_put_format(&s, "; the agent's service account needs "
                      "get/list/watch on %s", r->def->qualified);
    } else if (kind == ERR_UNAUTHORIZED) {
        char *auth = k8s_config_describe_auth(c);
        ds_put_format(&s, "; the API server does not accept the agent's "
                      "credentials (%s)", auth);
        free(auth);
    } else if (kind == ERR_TLS) {
        ds_put_format(&s, " (server %s, CA %s)", c->server,
                      c->ca_file ? c->ca_file
                      : c->ca_data.data ? "from certificate-authority-data"
                      : c->insecure ? "not verified" : "the system's");
    } else if (kind == ERR_TRANSPORT) {
        ds_put_format(&s, " (server %s)", c->server);
    }
    VLOG_WARN_RL(&error_rl, "%s", ds_cstr(&s));
    set_last_error(r, ds_cstr(&s));
    ds_destroy(&s);
}

static enum error_kind
classify_status(long status)
{
    return (status == 401 ? ERR_UNAUTHORIZED
            : status == 403 ? ERR_FORBIDDEN
            : status == 410 ? ERR_GONE
            : status >= 500 || status == 429 ? ERR_SERVER
            : ERR_HTTP);
}

/* True if 'body' (of a 504) says our resourceVersion is newer than the
 * server's: it lost history (an etcd restore, a new API server).  client-go
 * relists then, and so do we. */
static bool
is_rv_too_large(long status, const char *body)
{
    return (status == 504 && body
            && (strstr(body, "ResourceVersionTooLarge")
                || strstr(body, "Too large resource version")));
}

/* True if the watch that just ended was worth something: it delivered an
 * event or a bookmark, or at least lasted a while.  One that was not must
 * not be followed at once by another request: a server that fails every
 * watch at once would otherwise keep us relisting in a tight loop. */
static bool
watch_was_useful(const struct reflector *r)
{
    return (r->watch_progress
            || np_time_msec() - r->watch_start >= WATCH_MIN_USEFUL_MSEC);
}

/* Handles a request that ended without the expected 200.  Relists after a
 * 410 or a "too large resource version" (at once after a useful watch),
 * otherwise backs off. */
static void
request_failed(struct reflector *r, const char *verb,
               const struct k8s_response *resp)
{
    if (resp->result == K8S_CLIENT_OK) {
        enum error_kind kind = classify_status(resp->status);
        report_failure(r, verb, resp->status, kind, NULL, resp->body,
                       resp->body_size);
        if (kind == ERR_GONE || is_rv_too_large(resp->status, resp->body)) {
            r->relist = true;
            if (r->state == S_WATCHING && watch_was_useful(r)) {
                start_list(r);
                return;
            }
        }
    } else {
        enum error_kind kind = (resp->result == K8S_CLIENT_TLS ? ERR_TLS
                                : resp->result == K8S_CLIENT_TOO_BIG
                                ? ERR_OVERSIZED : ERR_TRANSPORT);
        const char *error = (resp->result == K8S_CLIENT_TOO_BIG
                             ? "response over the size limit"
                             : resp->error ? resp->error : "failed");
        report_failure(r, verb, 0, kind, error, NULL, 0);
    }
    schedule_retry(r, resp->retry_after);
}

static void
retry_cb(evutil_socket_t fd, short events, void *r_)
{
    struct reflector *r = r_;
    if (r->relist || !r->listed) {
        start_list(r);
    } else {
        r->stats.n_watch_restarts++;
        start_watch(r);
    }
}

/* Waits a random delay in [backoff / 2, backoff], and at least
 * 'retry_after' seconds if positive, then doubles the backoff. */
static void
schedule_retry(struct reflector *r, int retry_after)
{
    int half = r->backoff_ms / 2;
    int delay = half + (int) (random_next(r->src)
                              % (uint32_t) (r->backoff_ms - half + 1));
    if (retry_after > 0) {
        delay = NP_MAX(delay, NP_MIN(retry_after, 300) * 1000);
    }
    r->backoff_ms = NP_MIN(r->backoff_ms * 2, BACKOFF_MAX_MS);
    r->n_failures++;

    r->state = S_BACKOFF;
    free(r->continue_token);
    r->continue_token = NULL;
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    evtimer_add(r->retry_timer, &tv);
    VLOG_DBG("%s: retrying in %d ms", r->def->plural, delay);

    if (reflector_unreachable(r)) {
        /* Barriers need not wait for this resource. */
        complete_barrier_parts(r);
    }
}

/* True if 'r' has failed again since it last made progress: the API
 * server is down or keeps failing, so a barrier waiting for this resource
 * could wait for as long.  After one failure (a watch cut, a stalled
 * stream) the retry comes within BACKOFF_MIN_MS and usually resumes where
 * the watch was: barriers wait for it, or wait-sync could answer before a
 * change made before it (one that the cut watch had not delivered). */
static bool
reflector_unreachable(const struct reflector *r)
{
    return r->state == S_BACKOFF && r->n_failures >= 2;
}

static void
backoff_reset(struct reflector *r)
{
    r->backoff_ms = BACKOFF_MIN_MS;
    r->n_failures = 0;
}

/* Lists. */

/* Deletes what the list that just completed did not hold. */
static size_t
sweep_store(struct reflector *r)
{
    struct store_entry *e;
    size_t n = 0;

    HMAP_FOR_EACH_SAFE (e, node, &r->store) {
        if (e->gen != r->list_gen) {
            hmap_remove(&r->store, &e->node);
            pending_delete(r, e->ns, e->name);
            store_entry_free(e);
            n++;
        }
    }
    return n;
}

static void
finish_list(struct reflector *r, const char *rv)
{
    size_t n_deleted = sweep_store(r);
    bool first = !r->listed;

    r->stats.n_lists++;
    r->stats.n_relists += !first;
    r->listed = true;
    r->relist = false;
    r->rv_num = 0;          /* A list may go back (e.g. after a restore). */
    free(r->rv);
    r->rv = NULL;
    set_rv(r, rv);
    if (first) {
        VLOG_INFO("%s: listed %zu objects at resourceVersion %s",
                  r->def->plural, hmap_count(&r->store),
                  r->rv ? r->rv : "(none)");
    } else {
        VLOG_INFO_RL(&info_rl, "%s: relisted %zu objects at "
                     "resourceVersion %s (%zu gone, %zu new or with a new "
                     "resourceVersion)",
                     r->def->plural, hmap_count(&r->store),
                     r->rv ? r->rv : "(none)", n_deleted,
                     hmap_count(&r->pending));
    }
    schedule_notify(r->src);
    start_watch(r);
}

/* Processes one page; returns false if it is not a list. */
static bool
process_page(struct reflector *r, const struct k8s_response *resp)
{
    json_error_t jerr;
    json_t *list = json_loadb(resp->body, resp->body_size, 0, &jerr);
    json_t *items = json_object_get(list, "items");
    json_t *metadata = json_object_get(list, "metadata");

    if (!json_is_object(list)
        || (items && !json_is_array(items) && !json_is_null(items))) {
        json_decref(list);
        return false;
    }

    size_t i;
    json_t *item;
    size_t n_bad = 0;
    json_array_foreach (items, i, item) {
        if (!record_object(r, item, true)) {
            n_bad++;
        }
    }
    if (n_bad) {
        count_error(r, ERR_BAD_RESPONSE);
        VLOG_WARN_RL(&error_rl, "%s: list: %zu items without kind or name "
                     "skipped", r->def->plural, n_bad);
    }

    const char *cont = json_string_value(json_object_get(metadata,
                                                         "continue"));
    const char *rv = json_string_value(json_object_get(metadata,
                                                       "resourceVersion"));
    free(r->continue_token);
    r->continue_token = cont && *cont ? np_xstrdup(cont) : NULL;
    if (r->continue_token) {
        start_list(r);
    } else {
        finish_list(r, rv);
    }
    json_decref(list);
    return true;
}

static void
list_done(const struct k8s_response *resp, void *r_)
{
    struct reflector *r = r_;

    r->req = NULL;
    r->stats.n_bytes += resp->n_bytes;
    if (resp->result == K8S_CLIENT_OK && resp->status == 410
        && r->continue_token) {
        /* The snapshot of our continue token is gone: start over (after
         * the short backoff of a list that makes progress). */
        count_error(r, ERR_GONE);
        VLOG_INFO_RL(&info_rl, "%s: list continuation expired; listing "
                     "again from the start", r->def->plural);
        schedule_retry(r, -1);
    } else if (resp->result != K8S_CLIENT_OK || resp->status != 200) {
        request_failed(r, "list", resp);
    } else {
        r->stats.n_pages++;
        backoff_reset(r);
        if (!process_page(r, resp)) {
            report_failure(r, "list", 0, ERR_BAD_RESPONSE,
                           "the response is not a list", NULL, 0);
            schedule_retry(r, -1);
        }
    }
}

static void
start_list(struct reflector *r)
{
    const struct k8s_config *c = &r->src->config;
    struct ds path = DS_EMPTY_INITIALIZER;

    if (!r->continue_token) {
        r->list_gen++;
    }
    r->state = S_LISTING;
    ds_put_format(&path, "%s?limit=%d", r->def->path, c->page_size);
    if (r->continue_token) {
        ds_put_cstr(&path, "&continue=");
        put_query_value(&path, r->continue_token);
    }
    VLOG_DBG("%s: GET %s", r->def->plural, ds_cstr(&path));
    r->req = k8s_client_get(r->src->client, ds_cstr(&path),
                            c->max_page_size, NULL, list_done, r);
    ds_destroy(&path);
}

/* Watches. */

enum line_result {
    LINE_OK,                    /* Go on. */
    LINE_STOP,                  /* End the watch (an ERROR event). */
};

static enum line_result
malformed(struct reflector *r, const char *why)
{
    count_error(r, ERR_MALFORMED);
    VLOG_WARN_RL(&event_rl, "%s: watch: malformed event skipped: %s",
                 r->def->plural, why);
    return LINE_OK;
}

static enum line_result
handle_error_event(struct reflector *r, const json_t *status)
{
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    const char *msg = json_string_value(json_object_get(status, "message"));

    if (code == 410) {
        count_error(r, ERR_GONE);
        VLOG_INFO_RL(&info_rl, "%s: watch: resourceVersion %s expired "
                     "(%s); relisting", r->def->plural,
                     r->rv ? r->rv : "(none)", msg ? msg : "410 Gone");
        r->relist = true;
    } else {
        char *text = json_dumps(status, JSON_COMPACT);
        report_failure(r, "watch", code > 0 && code < 1000 ? code : 500,
                       classify_status(code), NULL, text,
                       text ? strlen(text) : 0);
        r->relist = is_rv_too_large(code, text);
        free(text);
    }
    return LINE_STOP;
}

static enum line_result
handle_event(struct reflector *r, json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *obj = json_object_get(event, "object");

    if (!type) {
        return malformed(r, "no \"type\"");
    } else if (!json_is_object(obj)) {
        return malformed(r, "\"object\" missing or not an object");
    }

    if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
        if (!record_object(r, obj, false)) {
            return malformed(r, "object without kind, metadata or name");
        }
        r->stats.n_events[type[0] == 'A' ? EV_TYPE_ADDED
                          : EV_TYPE_MODIFIED]++;
    } else if (!strcmp(type, "DELETED")) {
        enum np_kind kind;
        const char *ns, *name;
        if (!json_object_get(obj, "kind")) {
            json_object_set_new(obj, "kind", json_string(r->def->kind));
        }
        if (!np_object_identify(obj, &kind, &ns, &name)
            || kind != r->def->np_kind) {
            return malformed(r, "object without kind, metadata or name");
        }
        forget_object(r, ns, name);
        r->stats.n_events[EV_TYPE_DELETED]++;
    } else if (!strcmp(type, "BOOKMARK")) {
        if (!get_rv(obj)) {
            return malformed(r, "bookmark without resourceVersion");
        }
        r->stats.n_events[EV_TYPE_BOOKMARK]++;
    } else if (!strcmp(type, "ERROR")) {
        r->stats.n_events[EV_TYPE_ERROR]++;
        return handle_error_event(r, obj);
    } else {
        return malformed(r, "unknown type");
    }
    set_rv(r, get_rv(obj));
    r->watch_progress = true;
    backoff_reset(r);
    return LINE_OK;
}

static enum line_result
handle_line(struct reflector *r, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }
    if (!len) {
        return LINE_OK;
    }

    json_error_t jerr;
    json_t *event = json_loadb(line, len, 0, &jerr);
    enum line_result result;
    if (!json_is_object(event)) {
        char why[JSON_ERROR_TEXT_LENGTH + 32];
        snprintf(why, sizeof why, "not a JSON object (%s)",
                 event ? "another JSON value" : jerr.text);
        result = malformed(r, why);
    } else {
        result = handle_event(r, event);
    }
    json_decref(event);
    return result;
}

/* Appends 'n' bytes to the line buffer (the caller checked the limit). */
static void
line_append(struct reflector *r, const char *data, size_t n)
{
    struct line_buf *lb = &r->line;
    if (lb->len + n > lb->allocated) {
        lb->allocated = NP_MAX(lb->len + n, lb->allocated * 2);
        lb->buf = np_xrealloc(lb->buf, lb->allocated);
    }
    memcpy(lb->buf + lb->len, data, n);
    lb->len += n;
}

/* An event longer than the limit: we cannot read it, so we cannot know
 * what it changed.  End the watch and relist, whose page limit is the
 * larger one. */
static enum line_result
line_too_long(struct reflector *r)
{
    count_error(r, ERR_OVERSIZED);
    VLOG_WARN_RL(&error_rl, "%s: watch: event longer than %zu bytes; "
                 "relisting", r->def->plural, r->src->config.max_line_size);
    set_last_error(r, "watch event over the size limit");
    r->relist = true;
    return LINE_STOP;
}

static void
line_reset(struct reflector *r)
{
    /* Keep a small buffer for the next line; give back a large one. */
    r->line.len = 0;
    if (r->line.allocated > 1024 * 1024) {
        free(r->line.buf);
        r->line.buf = NULL;
        r->line.allocated = 0;
    }
}

static void
arm_stall_timer(struct reflector *r)
{
    int ms = r->src->config.stall_timeout_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(r->stall_timer, &tv);
}

/* Called from inside libcurl with bytes of the watch stream: splits lines
 * and handles each.  Records changes only; 'notify_event' does the rest. */
static bool
watch_data(const char *data, size_t size, void *r_)
{
    struct reflector *r = r_;
    const char *end = data + size;
    size_t max = r->src->config.max_line_size;
    enum line_result result = LINE_OK;

    r->stats.n_bytes += size;
    arm_stall_timer(r);
    while (result == LINE_OK && data < end) {
        const char *nl = memchr(data, '\n', end - data);
        size_t n = (nl ? nl : end) - data;

        if (r->line.len + n > max) {
            result = line_too_long(r);
        } else if (!nl) {
            line_append(r, data, n);
        } else if (r->line.len) {
            line_append(r, data, n);
            result = handle_line(r, r->line.buf, r->line.len);
            line_reset(r);
        } else {
            /* The whole line is here: no copy. */
            result = handle_line(r, data, n);
        }
        data += n + (nl != NULL);
    }
    schedule_notify(r->src);
    return result == LINE_OK;
}

static void
watch_done(const struct k8s_response *resp, void *r_)
{
    struct reflector *r = r_;
    r->req = NULL;
    evtimer_del(r->stall_timer);
    line_reset(r);
    if (r->relist) {
        /* 410 (or an event too long to read). */
        if (watch_was_useful(r)) {
            start_list(r);
        } else {
            schedule_retry(r, -1);
        }
    } else if (resp->result == K8S_CLIENT_ABORTED) {
        /* An ERROR event other than 410, already reported. */
        schedule_retry(r, -1);
    } else if (resp->result != K8S_CLIENT_OK || resp->status != 200) {
        request_failed(r, "watch", resp);
    } else if (watch_was_useful(r)) {
        /* The server ended the watch (its timeout): resume at once. */
        VLOG_DBG("%s: watch ended after %lld ms; resuming from %s",
                 r->def->plural, np_time_msec() - r->watch_start, r->rv);
        r->stats.n_watch_restarts++;
        start_watch(r);
    } else {
        schedule_retry(r, -1);
    }
}

static void
stall_cb(evutil_socket_t fd, short events, void *r_)
{
    struct reflector *r = r_;
    char msg[128];

    snprintf(msg, sizeof msg, "nothing received for %d ms, not even a "
             "bookmark; reconnecting", r->src->config.stall_timeout_ms);
    report_failure(r, "watch", 0, ERR_STALL, msg, NULL, 0);
    k8s_request_cancel(r->req);
    r->req = NULL;
    line_reset(r);
    schedule_retry(r, -1);
}

static void
start_watch(struct reflector *r)
{
    struct k8s_source *src = r->src;
    struct ds path = DS_EMPTY_INITIALIZER;
    int timeout = (WATCH_TIMEOUT_MIN_SEC
                   + (int) (random_next(src) % (WATCH_TIMEOUT_MAX_SEC
                                                - WATCH_TIMEOUT_MIN_SEC + 1)));

    r->state = S_WATCHING;
    r->watch_progress = false;
    r->watch_start = np_time_msec();
    r->stats.n_watches++;
    ds_put_format(&path, "%s?watch=1&allowWatchBookmarks=true"
                  "&timeoutSeconds=%d", r->def->path, timeout);
    if (r->rv) {
        ds_put_cstr(&path, "&resourceVersion=");
        put_query_value(&path, r->rv);
    }
    VLOG_DBG("%s: GET %s", r->def->plural, ds_cstr(&path));
    r->req = k8s_client_get(src->client, ds_cstr(&path), 0, watch_data,
                            watch_done, r);
    arm_stall_timer(r);
    ds_destroy(&path);
}

/* Barriers. */

static void
barrier_get_done(const struct k8s_response *resp, void *part_)
{
    struct barrier_part *part = part_;
    struct reflector *r = &part->barrier->src->reflectors[part->id];

    part->req = NULL;
    r->stats.n_bytes += resp->n_bytes;
    if (resp->result == K8S_CLIENT_OK && resp->status == 200) {
        json_t *list = json_loadb(resp->body, resp->body_size, 0, NULL);
        uint64_t target = parse_rv(get_rv(list));
        json_decref(list);
        if (target) {
            part->target = target;
            part->have_target = true;
        } else {
            part->done = true;
        }
    } else {
        /* Nothing to wait for that we could name. */
        VLOG_DBG("%s: barrier: no resourceVersion (status %ld, %s)",
                 r->def->plural, resp->status,
                 k8s_client_result_name(resp->result));
        part->done = true;
    }
    schedule_notify(part->barrier->src);
}

/* Completes the parts of barriers waiting for 'r', which just lost its
 * connection. */
static void
complete_barrier_parts(struct reflector *r)
{
    struct k8s_source *src = r->src;
    enum resource_id id = r - src->reflectors;
    struct barrier *b;

    LIST_FOR_EACH (b, node, &src->barriers) {
        struct barrier_part *part = &b->parts[id];
        if (!part->done) {
            k8s_request_cancel(part->req);
            part->req = NULL;
            part->done = true;
        }
    }
    schedule_notify(src);
}

static bool
barrier_part_done(struct barrier_part *part)
{
    const struct reflector *r = &part->barrier->src->reflectors[part->id];

    if (!part->done && part->have_target && r->state == S_WATCHING
        && (!r->rv_num || r->rv_num >= part->target)) {
        part->done = true;
    }
    return part->done;
}

static void
barrier_free(struct barrier *b)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        k8s_request_cancel(b->parts[i].req);
    }
    free(b);
}

static void
complete_barriers(struct k8s_source *src)
{
    struct barrier *b;

    LIST_FOR_EACH_SAFE (b, node, &src->barriers) {
        bool done = true;
        for (size_t i = 0; i < N_RESOURCES; i++) {
            done &= barrier_part_done(&b->parts[i]);
        }
        if (done) {
            ovs_list_remove(&b->node);
            b->cb(b->aux);
            barrier_free(b);
        }
    }
}

void
k8s_source_barrier(struct k8s_source *src, void (*cb)(void *aux),
                   void *aux)
{
    struct barrier *b = np_xzalloc(sizeof *b);

    src->n_barriers++;
    b->src = src;
    b->cb = cb;
    b->aux = aux;
    ovs_list_push_back(&src->barriers, &b->node);
    for (size_t i = 0; i < N_RESOURCES; i++) {
        struct reflector *r = &src->reflectors[i];
        struct barrier_part *part = &b->parts[i];

        part->barrier = b;
        part->id = i;
        if (reflector_unreachable(r)) {
            part->done = true;
        } else {
            char *path = np_xasprintf("%s?limit=1", r->def->path);
            part->req = k8s_client_get(src->client, path,
                                       src->config.max_page_size, NULL,
                                       barrier_get_done, part);
            free(path);
        }
    }
    schedule_notify(src);
}

/* Notification. */

static bool
has_pending(const struct k8s_source *src)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        if (!hmap_is_empty(&src->reflectors[i].pending)) {
            return true;
        }
    }
    return false;
}

static bool
all_listed(const struct k8s_source *src)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        if (!src->reflectors[i].listed) {
            return false;
        }
    }
    return true;
}

static void
notify_cb(evutil_socket_t fd, short events, void *src_)
{
    struct k8s_source *src = src_;

    if (has_pending(src) || (!src->synced && all_listed(src))) {
        src->changed(src->aux);
    }
    /* After 'changed': what a barrier waited for is in the cluster. */
    complete_barriers(src);
}

/* Applying. */

/* Applies one pending change; returns true if the cluster changed. */
static bool
apply_change(struct cluster *cluster, enum np_kind kind,
             struct pending_change *pc)
{
    if (pc->deleted) {
        return cluster_delete_object(cluster, kind, pc->ns, pc->name);
    } else if (cluster_holds_object(cluster, &pc->obj)) {
        return false;
    }
    cluster_set_object(cluster, &pc->obj);
    pc->deleted = true;         /* 'obj' is the cluster's now. */
    return true;
}

size_t
k8s_source_apply(struct k8s_source *src, struct cluster *cluster,
                 k8s_object_changed_cb *object_changed, void *aux)
{
    size_t n = 0;

    for (size_t i = 0; i < N_RESOURCES; i++) {
        struct reflector *r = &src->reflectors[i];
        struct pending_change *pc;

        HMAP_FOR_EACH_POP (pc, node, &r->pending) {
            if (apply_change(cluster, r->def->np_kind, pc)) {
                n++;
                if (object_changed) {
                    object_changed(r->def->np_kind, pc->ns, pc->name, aux);
                }
            }
            pending_free(pc);
        }
    }
    src->n_applied += n;
    if (!src->synced && all_listed(src)) {
        src->synced = true;
        VLOG_INFO("synced with %s: %zu namespaces, %zu pods, %zu "
                  "networkpolicies", src->config.server,
                  hmap_count(&src->reflectors[RES_NAMESPACES].store),
                  hmap_count(&src->reflectors[RES_PODS].store),
                  hmap_count(&src->reflectors[RES_POLICIES].store));
    }
    return n;
}

bool
k8s_source_is_synced(const struct k8s_source *src)
{
    return src->synced;
}

void
k8s_source_check_node(const struct k8s_source *src,
                      const struct cluster *cluster)
{
    const char *node = src->config.node_name;
    const struct local_port *port;

    if (!node) {
        return;
    }
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        const struct np_pod *pod = (local_port_is_pod(port)
                                    ? cluster_find_pod(cluster,
                                                       port->pod_namespace,
                                                       port->pod_name)
                                    : NULL);
        if (pod && pod->node_name && strcmp(pod->node_name, node)) {
            VLOG_WARN_RL(&node_rl, "port %s (OpenFlow port %"PRIu32") is "
                         "pod %s/%s, which the API server places on node "
                         "%s, not on this node %s", port->name, port->ofport,
                         pod->namespace, pod->name, pod->node_name, node);
        }
    }
}

/* Life cycle. */

static void
reflector_init(struct k8s_source *src, struct reflector *r,
               enum resource_id id)
{
    r->src = src;
    r->def = &resources[id];
    r->state = S_BACKOFF;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->relist = true;
    hmap_init(&r->store);
    hmap_init(&r->pending);
    r->retry_timer = evtimer_new(src->base, retry_cb, r);
    r->stall_timer = evtimer_new(src->base, stall_cb, r);
}

static void
reflector_destroy(struct reflector *r)
{
    struct store_entry *e;
    struct pending_change *pc;

    k8s_request_cancel(r->req);
    HMAP_FOR_EACH_POP (e, node, &r->store) {
        store_entry_free(e);
    }
    hmap_destroy(&r->store);
    HMAP_FOR_EACH_POP (pc, node, &r->pending) {
        pending_free(pc);
    }
    hmap_destroy(&r->pending);
    event_free(r->retry_timer);
    event_free(r->stall_timer);
    free(r->rv);
    free(r->continue_token);
    free(r->line.buf);
    free(r->last_error);
}

struct k8s_source *
k8s_source_create(struct event_base *base, const struct k8s_config *config,
                  void (*changed)(void *aux), void *aux)
{
    struct k8s_source *src = np_xzalloc(sizeof *src);
    char *auth;

    src->base = base;
    k8s_config_clone(&src->config, config);
    src->changed = changed;
    src->aux = aux;
    src->rng = (uint32_t) np_time_usec() ^ ((uint32_t) getpid() << 16);
    src->rng |= 1;
    ovs_list_init(&src->barriers);
    src->notify_event = event_new(base, -1, 0, notify_cb, src);
    src->client = k8s_client_create(base, &src->config);

    auth = k8s_config_describe_auth(&src->config);
    VLOG_INFO("Kubernetes API server %s (%s%s%s), authentication: %s, "
              "node %s", src->config.server,
              src->config.origin ? src->config.origin : "configuration",
              src->config.context ? ", context " : "",
              src->config.context ? src->config.context : "", auth,
              src->config.node_name ? src->config.node_name : "(not set)");
    free(auth);

    for (size_t i = 0; i < N_RESOURCES; i++) {
        struct reflector *r = &src->reflectors[i];
        struct timeval now = { 0, 0 };
        reflector_init(src, r, i);
        evtimer_add(r->retry_timer, &now);
    }
    return src;
}

void
k8s_source_destroy(struct k8s_source *src)
{
    if (!src) {
        return;
    }
    struct barrier *b;
    LIST_FOR_EACH_POP (b, node, &src->barriers) {
        barrier_free(b);
    }
    for (size_t i = 0; i < N_RESOURCES; i++) {
        reflector_destroy(&src->reflectors[i]);
    }
    k8s_client_destroy(src->client);
    event_free(src->notify_event);
    k8s_config_destroy(&src->config);
    free(src);
}

/* Stats and status. */

static void
add_stats(struct k8s_source_stats *s, const struct reflector_stats *rs)
{
    s->n_lists += rs->n_lists;
    s->n_relists += rs->n_relists;
    s->n_pages += rs->n_pages;
    s->n_watches += rs->n_watches;
    s->n_watch_restarts += rs->n_watch_restarts;
    s->n_added += rs->n_events[EV_TYPE_ADDED];
    s->n_modified += rs->n_events[EV_TYPE_MODIFIED];
    s->n_deleted += rs->n_events[EV_TYPE_DELETED];
    s->n_bookmarks += rs->n_events[EV_TYPE_BOOKMARK];
    s->n_error_events += rs->n_events[EV_TYPE_ERROR];
    s->n_malformed += rs->n_errors[ERR_MALFORMED];
    s->n_invalid += rs->n_errors[ERR_INVALID];
    for (size_t i = 0; i < N_ERROR_KINDS; i++) {
        if (i != ERR_MALFORMED && i != ERR_INVALID) {
            s->n_errors += rs->n_errors[i];
        }
    }
    s->n_bytes += rs->n_bytes;
}

void
k8s_source_get_stats(const struct k8s_source *src,
                     struct k8s_source_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    for (size_t i = 0; i < N_RESOURCES; i++) {
        add_stats(stats, &src->reflectors[i].stats);
    }
    stats->n_applied = src->n_applied;
}

static json_t *
counters_to_json(const uint64_t *counters, const char *const *names,
                 size_t n)
{
    json_t *j = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(j, names[i], json_integer(counters[i]));
    }
    return j;
}

static json_t *
reflector_to_json(const struct reflector *r)
{
    const struct reflector_stats *s = &r->stats;
    json_t *j = json_pack(
        "{sssbsssIsIsIsIsIsIsIsIsI}",
        "state", reflector_state_name(r->state),
        "listed", r->listed,
        "resource_version", r->rv ? r->rv : "",
        "objects", (json_int_t) hmap_count(&r->store),
        "pending", (json_int_t) hmap_count(&r->pending),
        "lists", (json_int_t) s->n_lists,
        "relists", (json_int_t) s->n_relists,
        "pages", (json_int_t) s->n_pages,
        "watches", (json_int_t) s->n_watches,
        "watch_restarts", (json_int_t) s->n_watch_restarts,
        "bytes", (json_int_t) s->n_bytes,
        "backoff_ms", (json_int_t) r->backoff_ms);
    /* "watching" is set when a watch starts; "streaming" once it has
     * delivered an event or a bookmark. */
    json_object_set_new(j, "streaming", json_boolean(
                            r->state == S_WATCHING && r->watch_progress));
    json_object_set_new(j, "events", counters_to_json(
                            s->n_events, event_type_names, N_EVENT_TYPES));
    json_object_set_new(j, "errors", counters_to_json(
                            s->n_errors, error_kind_names, N_ERROR_KINDS));
    if (r->last_error) {
        json_object_set_new(j, "last_error", json_string(r->last_error));
        json_object_set_new(j, "last_error_wall_sec",
                            json_integer(r->last_error_wall));
    }
    return j;
}

json_t *
k8s_source_status(const struct k8s_source *src)
{
    const struct k8s_config *c = &src->config;
    struct k8s_source_stats st;
    char *auth = k8s_config_describe_auth(c);

    k8s_source_get_stats(src, &st);
    json_t *j = json_pack(
        "{sssssssbsbsI}",
        "server", c->server,
        "config", c->origin ? c->origin : "",
        "auth", auth,
        "synced", src->synced,
        "tls_verified", !c->insecure && strncmp(c->server, "http:", 5),
        "barriers", (json_int_t) src->n_barriers);
    free(auth);
    if (c->context) {
        json_object_set_new(j, "context", json_string(c->context));
    }
    json_object_set_new(j, "node_name", c->node_name
                        ? json_string(c->node_name) : json_null());

    uint64_t errors[N_ERROR_KINDS] = { 0 };
    uint64_t events[N_EVENT_TYPES] = { 0 };
    json_t *res = json_object();
    for (size_t i = 0; i < N_RESOURCES; i++) {
        const struct reflector *r = &src->reflectors[i];
        json_object_set_new(res, r->def->plural, reflector_to_json(r));
        for (size_t k = 0; k < N_ERROR_KINDS; k++) {
            errors[k] += r->stats.n_errors[k];
        }
        for (size_t k = 0; k < N_EVENT_TYPES; k++) {
            events[k] += r->stats.n_events[k];
        }
    }
    json_object_set_new(j, "resources", res);
    json_object_set_new(j, "lists", json_integer(st.n_lists));
    json_object_set_new(j, "relists", json_integer(st.n_relists));
    json_object_set_new(j, "pages", json_integer(st.n_pages));
    json_object_set_new(j, "watches", json_integer(st.n_watches));
    json_object_set_new(j, "watch_restarts",
                        json_integer(st.n_watch_restarts));
    json_object_set_new(j, "events", counters_to_json(
                            events, event_type_names, N_EVENT_TYPES));
    json_object_set_new(j, "errors", counters_to_json(
                            errors, error_kind_names, N_ERROR_KINDS));
    json_object_set_new(j, "bytes", json_integer(st.n_bytes));
    json_object_set_new(j, "applied", json_integer(st.n_applied));
    json_object_set_new(j, "token_reads", json_integer(
                            k8s_client_token_reads(src->client)));
    return j;
}
