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

/* k8s-client.c: libcurl's multi interface on the agent's libevent loop
 * (k8s-client.h).  API server bytes -> k8s-source.c.  It never blocks, never
 * calls back from inside libcurl (completions are read after
 * curl_multi_socket_action() returns), and never lets a token reach a log
 * message or libcurl's verbose output. */

#include <config.h>
#include "k8s-client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "k8s-config.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(k8s_client);

static struct vlog_rate_limit token_rl = VLOG_RATE_LIMIT_INIT(2, 2);

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_IDLE_SEC 30
#define KEEPALIVE_INTERVAL_SEC 10

/* A buffered request whose body stays below this rate for
 * LOW_SPEED_TIME_SEC is ended (a list page that stopped coming). */
#define LOW_SPEED_LIMIT 1
#define LOW_SPEED_TIME_SEC 60

/* A token file larger than this is not a token. */
#define TOKEN_MAX_SIZE (64 * 1024)

struct k8s_client {
    struct event_base *base;
    const struct k8s_config *config;
    CURLM *multi;
    struct event *timer;        /* libcurl's timeout. */
    struct ovs_list requests;   /* Contains struct k8s_request. */

    /* The bearer token (secret), from the configuration or its file. */
    char *token;
    struct stat token_st;       /* Of the file as last read. */
    bool token_st_valid;        /* False: read the file before the next
                                 * request. */
    uint64_t n_token_reads;
};

struct k8s_request {
    struct ovs_list node;       /* In 'client->requests'. */
    struct k8s_client *client;
    CURL *easy;
    struct curl_slist *headers; /* Holds the token: wiped when freed. */
    k8s_client_data_cb *data;   /* NULL: buffered. */
    k8s_client_done_cb *done;
    void *aux;

    size_t max_size;            /* Of 'body'. */
    char *body;
    size_t body_size, body_allocated;
    uint64_t n_bytes;

    long status;                /* 0 until the body starts. */
    int retry_after;            /* -1: none. */
    bool aborted;               /* 'data' returned false. */
    bool too_big;               /* 'body' went over 'max_size'. */
    bool finishing;             /* 'done' is running. */
    struct event *defer;        /* Reports a failed start, or NULL. */
    char errbuf[CURL_ERROR_SIZE];
};

/* One socket libcurl asked us to watch. */
struct sock_watch {
    struct event *event;
};

static void check_done(struct k8s_client *);

/* libcurl initialization, once per process. */
static void
global_init(void)
{
    static bool done;
    if (!done) {
        CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (code) {
            VLOG_FATAL("libcurl initialization failed: %s",
                       curl_easy_strerror(code));
        }
        done = true;
    }
}

/* Sockets and timers: libcurl <-> libevent. */

static void
socket_event_cb(evutil_socket_t fd, short events, void *client_)
{
    struct k8s_client *client = client_;
    int flags = ((events & EV_READ ? CURL_CSELECT_IN : 0)
                 | (events & EV_WRITE ? CURL_CSELECT_OUT : 0));
    int running;

    curl_multi_socket_action(client->multi, fd, flags, &running);
    check_done(client);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *client_,
          void *watch_)
{
    struct k8s_client *client = client_;
    struct sock_watch *watch = watch_;

    if (what == CURL_POLL_REMOVE) {
        if (watch) {
            event_free(watch->event);
            free(watch);
            curl_multi_assign(client->multi, fd, NULL);
        }
        return 0;
    }
    if (!watch) {
        watch = np_xzalloc(sizeof *watch);
        curl_multi_assign(client->multi, fd, watch);
    } else {
        event_free(watch->event);
    }
    short events = (EV_PERSIST
                    | (what & CURL_POLL_IN ? EV_READ : 0)
                    | (what & CURL_POLL_OUT ? EV_WRITE : 0));
    watch->event = event_new(client->base, fd, events, socket_event_cb,
                             client);
    event_add(watch->event, NULL);
    return 0;
}

static void
timer_event_cb(evutil_socket_t fd, short events, void *client_)
{
    struct k8s_client *client = client_;
    int running;

    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0,
                             &running);
    check_done(client);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *client_)
{
    struct k8s_client *client = client_;

    if (timeout_ms < 0) {
        evtimer_del(client->timer);
    } else {
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        evtimer_add(client->timer, &tv);
    }
    return 0;
}

/* The token. */

static void
set_token(struct k8s_client *client, char *token)
{
    if (client->token) {
        explicit_bzero(client->token, strlen(client->token));
        free(client->token);
    }
    client->token = token;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return (a->st_dev == b->st_dev && a->st_ino == b->st_ino
            && a->st_size == b->st_size
            && a->st_mtim.tv_sec == b->st_mtim.tv_sec
            && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec);
}

/* Reads the token file into a malloc'd string without trailing white
 * space.  Returns 0 or an errno value. */
static int
read_token_file(const char *path, char **tokenp)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno;
    }
    char *buf = np_xmalloc(TOKEN_MAX_SIZE + 1);
    size_t n = fread(buf, 1, TOKEN_MAX_SIZE + 1, f);
    int error = ferror(f) ? EIO : n > TOKEN_MAX_SIZE ? EFBIG : 0;
    fclose(f);
    while (!error && n && isspace((unsigned char) buf[n - 1])) {
        n--;
    }
    if (!error && (!n || memchr(buf, '\n', n) || memchr(buf, '\0', n))) {
        error = EINVAL;
    }
    if (error) {
        explicit_bzero(buf, TOKEN_MAX_SIZE + 1);
        free(buf);
        return error;
    }
    buf[n] = '\0';
    *tokenp = buf;
    return 0;
}

/* Re-reads the token file if it changed since it was last read (or after a
 * 401).  On failure keeps the token we have. */
static void
refresh_token(struct k8s_client *client)
{
    const char *path = client->config->token_file;
    struct stat st;
    char *token = NULL;

    if (!path) {
        return;
    }
    if (stat(path, &st)) {
        VLOG_WARN_RL(&token_rl, "token file %s: %s; keeping the last token "
                     "read", path, np_strerror(errno));
        return;
    }
    if (client->token_st_valid && same_file(&st, &client->token_st)) {
        return;
    }
    int error = read_token_file(path, &token);
    if (error) {
        VLOG_WARN_RL(&token_rl, "token file %s: %s; keeping the last token "
                     "read", path, error == EINVAL ? "not a token (empty, "
                     "or several lines)" : np_strerror(error));
        return;
    }
    bool first = !client->n_token_reads++;
    if (!first && client->token && !strcmp(token, client->token)) {
        explicit_bzero(token, strlen(token));
        free(token);
    } else {
        if (!first) {
            VLOG_INFO("token file %s changed; using the new token", path);
        }
        set_token(client, token);
    }
    client->token_st = st;
    client->token_st_valid = true;
}

/* Requests. */

static void
request_free(struct k8s_request *req)
{
    struct k8s_client *client = req->client;

    ovs_list_remove(&req->node);
    if (req->easy) {
        curl_multi_remove_handle(client->multi, req->easy);
        curl_easy_cleanup(req->easy);
    }
    for (struct curl_slist *h = req->headers; h; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }
    curl_slist_free_all(req->headers);
    if (req->defer) {
        event_free(req->defer);
    }
    free(req->body);
    free(req);
}

/* Appends to the body what fits below 'limit' bytes; drops the rest. */
static void
body_append(struct k8s_request *req, const char *data, size_t n,
            size_t limit)
{
    n = NP_MIN(n, limit - req->body_size);
    if (!n) {
        return;
    }
    if (req->body_size + n + 1 > req->body_allocated) {
        size_t want = NP_MAX(req->body_allocated * 2, 4096);
        while (want < req->body_size + n + 1) {
            want *= 2;
        }
        req->body_allocated = NP_MIN(want, limit + 1);
        req->body = np_xrealloc(req->body, req->body_allocated);
    }
    memcpy(req->body + req->body_size, data, n);
    req->body_size += n;
    req->body[req->body_size] = '\0';
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *req_)
{
    struct k8s_request *req = req_;
    size_t n = size * nmemb;

    if (!req->status) {
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
    }
    req->n_bytes += n;
    if (req->data && req->status >= 200 && req->status < 300) {
        if (!req->data(data, n, req->aux)) {
            req->aborted = true;
            return 0;
        }
    } else if (req->data) {
        /* An error body: keep its start for the message. */
        body_append(req, data, n, K8S_CLIENT_MAX_ERROR_BODY);
    } else if (req->body_size + n > req->max_size) {
        req->too_big = true;
        return 0;
    } else {
        body_append(req, data, n, req->max_size);
    }
    return n;
}

static size_t
header_cb(char *line, size_t size, size_t nitems, void *req_)
{
    struct k8s_request *req = req_;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";

    if (n > 5 && !strncmp(line, "HTTP/", 5)) {
        req->retry_after = -1;          /* A new response begins. */
    } else if (n > sizeof name - 1
               && !strncasecmp(line, name, sizeof name - 1)) {
        char buf[32];
        size_t len = NP_MIN(n - (sizeof name - 1), sizeof buf - 1);
        memcpy(buf, line + sizeof name - 1, len);
        buf[len] = '\0';
        char *end;
        long secs = strtol(buf, &end, 10);
        if (end != buf && secs >= 0) {
            req->retry_after = NP_MIN(secs, 3600);
        }
    }
    return n;
}

static bool
is_tls_error(CURLcode code)
{
    switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* Calls back and frees 'req', which ended with libcurl result 'code'. */
static void
finish(struct k8s_request *req, CURLcode code)
{
    struct k8s_response r = {
        .status = req->status,
        .retry_after = req->retry_after,
        .n_bytes = req->n_bytes,
        .body = req->body ? req->body : "",
        .body_size = req->body_size,
    };

    if (req->easy && !r.status) {
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &r.status);
    }
    if (code == CURLE_OK) {
        r.result = K8S_CLIENT_OK;
    } else if (req->aborted) {
        r.result = K8S_CLIENT_ABORTED;
    } else if (req->too_big) {
        r.result = K8S_CLIENT_TOO_BIG;
    } else {
        r.result = is_tls_error(code) ? K8S_CLIENT_TLS : K8S_CLIENT_TRANSPORT;
        r.error = req->errbuf[0] ? req->errbuf : curl_easy_strerror(code);
    }
    if (r.status == 401) {
        /* Perhaps the token rotated under us: read the file again. */
        req->client->token_st_valid = false;
    }
    req->finishing = true;
    req->done(&r, req->aux);
    request_free(req);
}

/* Reads libcurl's completed transfers, one at a time: a 'done' callback may
 * start or cancel requests, and cancelling one removes its message. */
static void
check_done(struct k8s_client *client)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(client->multi, &left))) {
        if (msg->msg == CURLMSG_DONE) {
            struct k8s_request *req;
            CURLcode code = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **) &req);
            finish(req, code);
        }
    }
}

static void
defer_cb(evutil_socket_t fd, short events, void *req_)
{
    finish(req_, CURLE_FAILED_INIT);
}

/* Sets the TLS options of 'easy'.  Returns false, with a message in
 * 'req->errbuf', if libcurl refuses one. */
static bool
set_tls_options(struct k8s_request *req, const struct k8s_config *c)
{
    CURL *easy = req->easy;
    CURLcode code = CURLE_OK;

#define SETOPT(OPT, VALUE)                              \
    if (!code) {                                        \
        code = curl_easy_setopt(easy, OPT, VALUE);      \
        if (code) {                                     \
            snprintf(req->errbuf, sizeof req->errbuf,   \
                     "libcurl refuses %s: %s", #OPT,    \
                     curl_easy_strerror(code));         \
        }                                               \
    }
    struct curl_blob ca = { c->ca_data.data, c->ca_data.size,
                            CURL_BLOB_COPY };
    struct curl_blob cert = { c->cert_data.data, c->cert_data.size,
                              CURL_BLOB_COPY };
    struct curl_blob key = { c->key_data.data, c->key_data.size,
                             CURL_BLOB_COPY };

    if (c->insecure) {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (c->ca_file || c->ca_data.data) {
        /* Only this CA, as kubectl: not the system's directory too. */
        SETOPT(CURLOPT_CAPATH, NULL);
    }
    if (c->ca_file) {
        SETOPT(CURLOPT_CAINFO, c->ca_file);
    }
    if (c->ca_data.data) {
        SETOPT(CURLOPT_CAINFO_BLOB, &ca);
    }
    if (c->cert_file) {
        SETOPT(CURLOPT_SSLCERT, c->cert_file);
    }
    if (c->cert_data.data) {
        SETOPT(CURLOPT_SSLCERT_BLOB, &cert);
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c->key_file) {
        SETOPT(CURLOPT_SSLKEY, c->key_file);
    }
    if (c->key_data.data) {
        SETOPT(CURLOPT_SSLKEY_BLOB, &key);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
    }
#undef SETOPT
    return !code;
}

static void
set_headers(struct k8s_request *req)
{
    struct k8s_client *client = req->client;

    req->headers = curl_slist_append(NULL, "Accept: application/json");
    refresh_token(client);
    if (client->token) {
        char *h = np_xasprintf("Authorization: Bearer %s", client->token);
        req->headers = curl_slist_append(req->headers, h);
        explicit_bzero(h, strlen(h));
        free(h);
    }
    if (!req->headers) {
        VLOG_FATAL("out of memory");
    }
}

static bool
set_options(struct k8s_request *req, const char *path)
{
    const struct k8s_config *c = req->client->config;
    CURL *easy = req->easy;
    char *url = np_xasprintf("%s%s", c->server, path);

    curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_USERAGENT,
                     "ovs-netpol-agent/" PACKAGE_VERSION);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, (long) KEEPALIVE_IDLE_SEC);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL,
                     (long) KEEPALIVE_INTERVAL_SEC);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
    if (!req->data) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT,
                         (long) LOW_SPEED_LIMIT);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                         (long) LOW_SPEED_TIME_SEC);
    }
    set_headers(req);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    return set_tls_options(req, c);
}

struct k8s_request *
k8s_client_get(struct k8s_client *client, const char *path, size_t max_size,
               k8s_client_data_cb *data, k8s_client_done_cb *done, void *aux)
{
    struct k8s_request *req = np_xzalloc(sizeof *req);

    req->client = client;
    req->data = data;
    req->done = done;
    req->aux = aux;
    req->max_size = max_size;
    req->retry_after = -1;
    ovs_list_push_back(&client->requests, &req->node);

    req->easy = curl_easy_init();
    if (!req->easy) {
        VLOG_FATAL("curl_easy_init failed");
    }
    bool ok = set_options(req, path);
    if (ok) {
        CURLMcode mc = curl_multi_add_handle(client->multi, req->easy);
        if (mc) {
            snprintf(req->errbuf, sizeof req->errbuf,
                     "curl_multi_add_handle: %s", curl_multi_strerror(mc));
            ok = false;
        }
    }
    if (!ok) {
        /* Report it from the loop, as every other completion. */
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        req->defer = evtimer_new(client->base, defer_cb, req);
        struct timeval tv = { 0, 0 };
        evtimer_add(req->defer, &tv);
    }
    return req;
}

void
k8s_request_cancel(struct k8s_request *req)
{
    if (req && !req->finishing) {
        request_free(req);
    }
}

/* The client. */

static void
check_libcurl(const struct k8s_config *c)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    if (!(v->features & CURL_VERSION_SSL)
        && !strncmp(c->server, "https:", 6)) {
        VLOG_ERR("libcurl %s has no TLS support; https will fail",
                 v->version);
    }
    /* CURLOPT_CAINFO_BLOB came in 7.77.0, the certificate and key blobs in
     * 7.71.0. */
    if (v->version_num < 0x074d00
        && (c->ca_data.data || c->cert_data.data || c->key_data.data)) {
        VLOG_ERR("libcurl %s is older than 7.77.0 and cannot use "
                 "certificate-authority-data, client-certificate-data or "
                 "client-key-data; use files instead", v->version);
    }
}

struct k8s_client *
k8s_client_create(struct event_base *base, const struct k8s_config *config)
{
    struct k8s_client *client = np_xzalloc(sizeof *client);

    global_init();
    client->base = base;
    client->config = config;
    ovs_list_init(&client->requests);
    client->timer = evtimer_new(base, timer_event_cb, client);
    client->multi = curl_multi_init();
    if (!client->multi) {
        VLOG_FATAL("curl_multi_init failed");
    }
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);

    if (config->token) {
        client->token = np_xstrdup(config->token);
    }
    check_libcurl(config);
    if (config->insecure) {
        VLOG_WARN("%s: TLS certificate verification is OFF "
                  "(insecure-skip-tls-verify in %s)", config->server,
                  config->origin ? config->origin : "the configuration");
    } else if (!strncmp(config->server, "http:", 5)) {
        VLOG_WARN("%s: plain HTTP, no TLS", config->server);
    }
    return client;
}

void
k8s_client_destroy(struct k8s_client *client)
{
    if (!client) {
        return;
    }
    struct k8s_request *req;
    LIST_FOR_EACH_SAFE (req, node, &client->requests) {
        request_free(req);
    }
    curl_multi_cleanup(client->multi);
    event_free(client->timer);
    set_token(client, NULL);
    free(client);
}

uint64_t
k8s_client_token_reads(const struct k8s_client *client)
{
    return client->n_token_reads;
}

const char *
k8s_client_result_name(enum k8s_client_result result)
{
    switch (result) {
    case K8S_CLIENT_OK:
        return "ok";
    case K8S_CLIENT_TRANSPORT:
        return "transport";
    case K8S_CLIENT_TLS:
        return "tls";
    case K8S_CLIENT_TOO_BIG:
        return "too_big";
    case K8S_CLIENT_ABORTED:
        return "aborted";
    }
    return "unknown";
}
