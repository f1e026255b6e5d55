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

#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H 1

/* HTTP GET requests to the Kubernetes API server, asynchronous, on the
 * agent's libevent loop.
 *
 * Where it sits: API server -> [k8s_client] -> k8s-source.c -> cluster
 * state.  It moves bytes and reports statuses; it knows nothing of
 * Kubernetes objects.
 *
 * How
 * ===
 *
 * One libcurl multi handle, driven by libevent: libcurl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); we call curl_multi_socket_action() from the
 * matching events.  Nothing blocks: DNS, connecting, TLS and transfers all
 * progress from the loop.
 *
 * Every request carries the configuration's TLS settings (CA file or data,
 * client certificate and key, files or data; peer and host verification on
 * unless the kubeconfig said insecure-skip-tls-verify), "Accept:
 * application/json", gzip, TCP keepalive and a connect timeout, and, when
 * the configuration has one, "Authorization: Bearer TOKEN".  A token file
 * is re-read (stat() before each request) when it changes, and at once
 * after a 401; an unreadable or empty file keeps the last good token.
 *
 * Two kinds of request:
 *
 *   - buffered: the body of the response, whatever its status, is collected
 *     up to 'max_size' bytes and handed to 'done' (list pages, small GETs);
 *
 *   - streamed: the body of a 2xx response is handed to 'data' as it comes
 *     (watches); the body of any other status is collected, up to
 *     K8S_CLIENT_MAX_ERROR_BODY bytes, for 'done'.
 *
 * A body over its limit ends the request with K8S_CLIENT_TOO_BIG.
 *
 * Never
 * =====
 *
 * The token never reaches a log message, not even at debug level, and
 * libcurl's own verbose output is never enabled (it would print the
 * Authorization header).  Buffers that held a token are wiped before they
 * are freed.
 *
 * All calls run on the loop thread.  Callbacks come from the loop, never
 * from inside a call to this module's functions. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct k8s_config;
struct k8s_client;
struct k8s_request;

/* Longest body of a non-2xx response kept for the message. */
#define K8S_CLIENT_MAX_ERROR_BODY (64 * 1024)

/* How a request ended. */
enum k8s_client_result {
    K8S_CLIENT_OK,              /* Response complete (any HTTP status). */
    K8S_CLIENT_TRANSPORT,       /* DNS, connect, reset, truncated body... */
    K8S_CLIENT_TLS,             /* TLS handshake or verification failed. */
    K8S_CLIENT_TOO_BIG,         /* Body over its limit. */
    K8S_CLIENT_ABORTED,         /* The 'data' callback returned false. */
};

struct k8s_response {
    enum k8s_client_result result;
    long status;                /* HTTP status; 0 if none arrived. */
    const char *error;          /* Transport or TLS: libcurl's message. */
    const char *body;           /* Buffered body (null-terminated), or the
                                 * error body of a streamed request. */
    size_t body_size;
    int retry_after;            /* Seconds from Retry-After, or -1. */
    uint64_t n_bytes;           /* Body bytes received. */
};

/* Body bytes of a 2xx response to a streamed request.  Return false to end
 * the request (then 'done' reports K8S_CLIENT_ABORTED). */
typedef bool k8s_client_data_cb(const char *data, size_t size, void *aux);

/* The request ended.  The request is freed right after this returns;
 * 'response' and what it points to are valid only during the call. */
typedef void k8s_client_done_cb(const struct k8s_response *, void *aux);

/* Creates a client for the server and credentials of 'config', which must
 * outlive it.  Logs a warning when TLS is not verified. */
struct k8s_client *k8s_client_create(struct event_base *,
                                     const struct k8s_config *config);

/* Cancels every request, without calling back, and frees the client.
 * Accepts NULL. */
void k8s_client_destroy(struct k8s_client *);

/* Starts a GET of 'path' (with its query, starting with '/'; it is
 * appended to the server URL).  Buffered when 'data' is NULL, with body
 * limit 'max_size'; streamed otherwise.  'done' is called exactly once,
 * unless the request is cancelled.  Never fails: errors come through
 * 'done'. */
struct k8s_request *k8s_client_get(struct k8s_client *, const char *path,
                                   size_t max_size,
                                   k8s_client_data_cb *data,
                                   k8s_client_done_cb *done, void *aux);

/* Ends 'request' without calling 'done' and frees it.  Accepts NULL.  Must
 * not be called from that request's own 'data' callback (return false
 * instead). */
void k8s_request_cancel(struct k8s_request *);

/* The number of times the token file was read successfully. */
uint64_t k8s_client_token_reads(const struct k8s_client *);

/* Short names for K8S_CLIENT_* results, for stats: "ok", "transport",
 * "tls", "too_big", "aborted". */
const char *k8s_client_result_name(enum k8s_client_result);

#endif /* k8s-client.h */
