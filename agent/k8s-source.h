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

#ifndef K8S_SOURCE_H
#define K8S_SOURCE_H 1

/* Kubernetes mode: the agent's source of Namespaces, Pods and
 * NetworkPolicies when it runs against an API server.
 *
 * Where it sits: API server -> k8s-client.c -> [k8s_source] -> cluster
 * state.  It is the sibling of manifest_watch (manifest-watch.h) and is
 * used the same way: it calls 'changed' when it has news, and the agent
 * then calls k8s_source_apply() to bring its 'struct cluster' up to date.
 * It never computes flows, never blocks, and never logs a credential.
 *
 *
 * List, then watch
 * ================
 *
 * One "reflector" per resource (core/v1 namespaces and pods,
 * networking.k8s.io/v1 networkpolicies, all namespaces), as client-go's:
 *
 *   1. List, in pages: GET ...?limit=N, then ...&continue=TOKEN until the
 *      server says there is no more.  Pages are consistent reads (no
 *      resourceVersion), so every page of one list comes from one snapshot.
 *      A continue token that expired (410) restarts the list.
 *
 *   2. Watch from the list's resourceVersion, with allowWatchBookmarks=true
 *      and a timeoutSeconds of 5 to 10 minutes: newline-delimited JSON
 *      events, each line parsed on its own.  Every event and bookmark moves
 *      the reflector's resourceVersion; when a watch ends (timeout, closed
 *      connection, a stream cut in the middle of an event, a stall) the next
 *      one resumes from it, so nothing is lost and nothing is listed again.
 *
 *   3. Relist only when the server says the resourceVersion is gone: HTTP
 *      410, or an ERROR event with code 410.
 *
 * The store
 * =========
 *
 * Each reflector remembers, for every object it has seen, its
 * namespace/name and resourceVersion (not the object: the cluster holds
 * that).  A relist compares each item with the store: an item whose
 * resourceVersion is unchanged is not even parsed; objects missing from the
 * relist are deleted.  Changes wait in a per-resource "pending" map keyed
 * like the store, where a later event for an object replaces an earlier one
 * (so memory is bounded by the number of objects, however fast they churn),
 * until k8s_source_apply(), which compares each one with what the cluster
 * holds and applies only real differences.  So a relist after 410 that finds
 * nothing new changes nothing, compiles nothing and sends no flow.
 *
 * Invalid objects (which an API server should never hold, since it validates
 * as strictly as we do) are logged and skipped; an object that was valid
 * before keeps its last valid form, as in manifests mode.
 *
 * Failures
 * ========
 *
 *   - Malformed events (not JSON, no type, unknown type, no object or no
 *     metadata) are logged, rate-limited, counted and skipped; the stream
 *     goes on.
 *
 *   - 5xx, 429, connection and TLS errors, and streams that stall (no byte,
 *     not even a bookmark, for the stall timeout, by default twice the API
 *     server's bookmark interval of about a minute) are retried after an
 *     exponential backoff with jitter (about 250 ms doubling to 30 s,
 *     at least the server's Retry-After; reset once a list page or a watch
 *     event arrives).
 *
 *   - 401 and 403 are logged with what is missing ("cannot list pods: 403
 *     Forbidden: ...; the agent's service account needs get/list/watch on
 *     pods") and retried with the same backoff; a token file is re-read
 *     whenever it changes, and after every 401.
 *
 *   - Every buffer fed from the network has a limit: a watch line
 *     ('max_line_size'), a list page ('max_page_size'), an error body
 *     (K8S_CLIENT_MAX_ERROR_BODY).  A watch line over the limit ends the
 *     watch and relists (the list's page limit is the larger one); a page
 *     over the limit fails the list, which is retried.
 *
 * While the API server is unreachable, the cluster keeps what it had: the
 * agent neither opens nor drops traffic because the API server restarted.
 *
 *
 * Thread safety
 * =============
 *
 * None.  Every call, and every callback, runs on the thread that runs the
 * event_base.  Callbacks come from the event loop, never from inside a
 * call to this module. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ovs-netpol/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cluster;
struct event_base;
struct k8s_config;
struct k8s_source;

/* Constructor and destructor. */

/* Creates the source and starts listing at once (from the event loop).
 * 'changed' (with 'aux') is called when there are changes to apply, and
 * when the first full view is ready to be applied.  Copies 'config'. */
struct k8s_source *k8s_source_create(struct event_base *,
                                     const struct k8s_config *,
                                     void (*changed)(void *aux), void *aux);

/* Cancels every request and frees the source.  Pending barriers are dropped
 * without calling back.  Accepts NULL.  Must not be called from a
 * callback of the source. */
void k8s_source_destroy(struct k8s_source *);

/* Applying changes. */

/* Called for each object k8s_source_apply() really changed (added,
 * modified or deleted).  'ns' is "" for a Namespace.  The strings are valid
 * only during the call. */
typedef void k8s_object_changed_cb(enum np_kind, const char *ns,
                                   const char *name, void *aux);

/* Brings the Namespaces, Pods and NetworkPolicies of 'cluster' up to date
 * with what the source has received since the last call: sets what is new
 * or changed (the cluster takes ownership of the objects), deletes what is
 * gone, and leaves equal objects and ports alone.  Calls 'object_changed'
 * (if nonnull) for each object actually changed.  Returns the number of
 * those.  The source's view must be the only writer of these three kinds
 * in 'cluster'. */
size_t k8s_source_apply(struct k8s_source *, struct cluster *,
                        k8s_object_changed_cb *object_changed, void *aux);

/* Queries. */

/* True once a complete list of each of the three resources has been
 * applied by k8s_source_apply().  Stays true through later errors (the
 * cluster keeps its last view). */
bool k8s_source_is_synced(const struct k8s_source *);

/* Calls 'cb' with 'aux' once the source has delivered (through 'changed')
 * everything the API server held when this was called: for each resource,
 * a GET with limit=1 learns the server's current resourceVersion, and that
 * resource's part completes once its watch has delivered events or a
 * bookmark at or beyond it.  Parts of resources that are not connected
 * (backing off after an error) or whose version cannot be learned complete
 * at once: there is nothing newer to wait for.  Used by "wait-sync".
 *
 * On a real API server a quiet resource moves only with bookmarks, about
 * once a minute, so a barrier may take that long; the agent's wait-sync
 * timeout bounds it. */
void k8s_source_barrier(struct k8s_source *, void (*cb)(void *aux),
                        void *aux);

/* Logs a warning (rate-limited) for each pod port of 'cluster' whose Pod
 * object names another node than the configured node name.  Does nothing
 * without a node name. */
void k8s_source_check_node(const struct k8s_source *,
                           const struct cluster *);

/* Counters since creation, summed over the three resources.  They only
 * grow. */
struct k8s_source_stats {
    uint64_t n_lists;           /* Complete lists, relists included. */
    uint64_t n_relists;         /* Lists after the first of a resource. */
    uint64_t n_pages;           /* List responses received. */
    uint64_t n_watches;         /* Watch requests started. */
    uint64_t n_watch_restarts;  /* Watches started to resume another. */
    uint64_t n_added, n_modified, n_deleted, n_bookmarks, n_error_events;
    uint64_t n_malformed;       /* Watch lines skipped. */
    uint64_t n_invalid;         /* Objects that failed validation. */
    uint64_t n_errors;          /* Failed requests, of every kind. */
    uint64_t n_bytes;           /* Response body bytes. */
    uint64_t n_applied;         /* Objects changed in the cluster. */
};
void k8s_source_get_stats(const struct k8s_source *,
                          struct k8s_source_stats *);

/* The source's state and counters, per resource and in total, for the
 * "status" command: a new reference. */
json_t *k8s_source_status(const struct k8s_source *);

#ifdef __cplusplus
}
#endif

#endif /* k8s-source.h */
