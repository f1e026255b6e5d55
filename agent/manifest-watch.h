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

#ifndef MANIFEST_WATCH_H
#define MANIFEST_WATCH_H 1

/* Manifests mode: the agent's source of Namespaces, Pods and
 * NetworkPolicies when it runs without a Kubernetes API server.
 *
 * Where it sits: manifest files -> [manifest_watch] -> cluster state.
 *
 * It watches the --manifests paths (files or directories) with inotify and
 * re-reads a file when it changes (a short debounce gathers the events of
 * one editor save or `kubectl`-style rename).  A periodic rescan catches
 * what inotify cannot see (network filesystems, a path that did not exist
 * yet).
 *
 * Safety rules, so that files never open or close traffic by accident:
 *
 *   - A file that fails to parse as a whole (syntax error, half written,
 *     over a limit) is reported, and the objects it last held are kept.
 *     Within a file that parses, invalid objects are reported and skipped;
 *     if an invalid object existed before in valid form, that last valid
 *     form is kept.
 *
 *   - A file that changes while it is read is read again.  A file is read
 *     only once it has been left alone for 100 ms (a writer may still be
 *     at it), and a file that held objects and is now empty only after
 *     1 s: a file written in place is empty between its truncation and
 *     the first write, and that must not drop its policies.  A file
 *     written without pause keeps its last objects (with a warning after
 *     5 s) until it is left alone.
 *
 *   - A file deleted from a directory that still exists takes its objects
 *     with it (that is how an operator removes a policy).  A --manifests
 *     path that vanishes entirely (a directory being replaced, a volume
 *     remounting) keeps every object it held until it comes back.
 *
 *   - The same object in two files: the later file (in path order) wins,
 *     with a warning.
 *
 * All calls run on the agent's loop thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/cluster.h"

struct event_base;
struct manifest_watch;

/* Called when the objects changed; apply them with manifest_watch_apply(). */
typedef void manifest_watch_cb(void *aux);

struct manifest_watch *manifest_watch_create(struct event_base *,
                                             char **paths, size_t n_paths,
                                             manifest_watch_cb *, void *aux);
void manifest_watch_destroy(struct manifest_watch *);

/* Re-reads every changed file that has settled now (synchronously) and
 * calls the callback if the objects changed. */
void manifest_watch_rescan(struct manifest_watch *);

/* Calls 'cb(aux)' once no file read by the last rescan was still settling:
 * then every write made before that rescan has been passed to the callback.
 * At once if none was.  Pending barriers are dropped, without a call, by
 * manifest_watch_destroy(). */
void manifest_watch_barrier(struct manifest_watch *,
                            void (*cb)(void *aux), void *aux);

/* Brings the Namespaces, Pods and NetworkPolicies of 'cluster' in line with
 * the manifests: sets what is new or changed, deletes what is gone, calling
 * 'changed' (if nonnull) after each.  Leaves ports alone.  Returns the
 * number of objects changed. */
size_t manifest_watch_apply(struct manifest_watch *, struct cluster *,
                            void (*changed)(enum np_kind, const char *ns,
                                            const char *name, void *aux),
                            void *aux);

/* True once the manifests have been read completely: every --manifests
 * path exists and every file in them has parsed at least once.  Until
 * then the view is incomplete, and acting on it could open traffic that a
 * policy in a missing or broken file closes (fail closed: the agent waits).
 * If not synced, stores in '*why' (if nonnull) a malloc'd reason. */
bool manifest_watch_is_synced(const struct manifest_watch *, char **why);

struct manifest_watch_stats {
    uint64_t n_scans;           /* Rescans. */
    uint64_t n_file_reads;      /* Files read (changed or new). */
    uint64_t n_file_errors;     /* Files that failed to parse. */
    uint64_t n_object_errors;   /* Invalid objects skipped. */
    size_t n_files;
    size_t n_objects;
};
void manifest_watch_get_stats(const struct manifest_watch *,
                              struct manifest_watch_stats *);

#endif /* manifest-watch.h */
