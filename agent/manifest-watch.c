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

/* manifest-watch.c: manifests mode, the agent's file source
 * (manifest-watch.h).  Disk -> objects -> cluster state; it never computes
 * flows and never blocks on anything but reading local files. */

#include <config.h>
#include "manifest-watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "callback-list.h"
#include "manifest-files.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(manifest_watch);

#define DEBOUNCE_MSEC 50
#define MAX_DEBOUNCE_MSEC 500   /* Constant writes never delay a rescan
                                 * more. */
#define RESCAN_INTERVAL_MSEC 5000
#define MAX_UNSTABLE_READS 3

/* A file modified less than SETTLE_MSEC ago may still be being written (a
 * writer that truncates, then writes in chunks): it is read once it has
 * been left alone that long.  A file that held objects and is now empty
 * waits longer, EMPTIED_SETTLE_MSEC: that is also what a file written in
 * place looks like between its truncation and its first write, and
 * applying it would drop every policy it held (fail open). */
#define SETTLE_MSEC 100
#define EMPTIED_SETTLE_MSEC 1000
#define UNSETTLED_WARN_MSEC 5000

/* A file we read objects from. */
struct watched_file {
    struct hmap_node node;      /* In 'files', by path. */
    char *path;
    struct stat st;             /* As of the last successful read. */
    struct np_object *objects;  /* The last good objects, in file order. */
    size_t n_objects;
    struct np_problems problems;        /* Of the last read. */
    bool seen;                  /* Found by the current scan. */
    bool ever_parsed;           /* Has parsed as a whole at least once. */
    long long int unsettled_since;      /* When a change that has not
                                         * settled yet was first seen
                                         * (np_time_msec()), or 0. */
    bool unsettled_warned;      /* Warned about that change. */
};

struct manifest_watch {
    struct event_base *base;
    char **paths;               /* --manifests. */
    size_t n_paths;
    manifest_watch_cb *cb;
    void *aux;

    struct hmap files;          /* Contains struct watched_file. */
    bool scanned;               /* The first scan is done. */
    char *missing;              /* A --manifests path that does not exist
                                 * (as of the last scan), or NULL. */

    int inotify_fd;
    struct event *inotify_event;
    struct event *rescan_timer;
    long long int first_event_msec;     /* The first inotify event not yet
                                         * followed by a rescan, or 0. */
    long long int settle_msec;  /* As of the last scan: time until the
                                 * first settling file can be read, or 0 if
                                 * none is settling. */
    struct ovs_list barriers;   /* callback-list.h: manifest_watch_barrier()
                                 * callers. */
    struct manifest_watch_stats stats;
};

static struct watched_file *
find_file(const struct manifest_watch *mw, const char *path)
{
    struct watched_file *wf;
    HMAP_FOR_EACH_WITH_HASH (wf, node, np_hash_string(path, 0), &mw->files) {
        if (!strcmp(wf->path, path)) {
            return wf;
        }
    }
    return NULL;
}

static void
free_objects(struct np_object *objects, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        np_object_destroy(&objects[i]);
    }
    free(objects);
}

static void
watched_file_destroy(struct watched_file *wf)
{
    free_objects(wf->objects, wf->n_objects);
    np_problems_destroy(&wf->problems);
    free(wf->path);
    free(wf);
}

static bool
same_file_state(const struct stat *a, const struct stat *b)
{
    return (a->st_dev == b->st_dev && a->st_ino == b->st_ino
            && a->st_size == b->st_size
            && a->st_mtim.tv_sec == b->st_mtim.tv_sec
            && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec);
}

/* Appends "Kind ns/name" (or "Namespace name"), the way parse problems name
 * objects. */
static void
format_object_name(const struct np_object *obj, struct ds *s)
{
    ds_put_format(s, "%s ", np_kind_name(obj->kind));
    if (obj->kind != NP_KIND_NAMESPACE) {
        ds_put_format(s, "%s/", np_object_namespace(obj));
    }
    ds_put_cstr(s, np_object_name(obj));
}

static bool
object_has_problem(const struct np_object *obj,
                   const struct np_problems *problems)
{
    struct ds name = DS_EMPTY_INITIALIZER;
    bool found = false;

    format_object_name(obj, &name);
    for (size_t i = 0; i < problems->n && !found; i++) {
        found = !strcmp(problems->items[i].object, ds_cstr(&name));
    }
    ds_destroy(&name);
    return found;
}

/* An object that was valid in the previous version of a file but is invalid
 * in the new one keeps its last valid form. */
static void
keep_last_valid(const struct watched_file *wf, struct manifest_file *file,
                const struct np_problems *problems)
{
    for (size_t i = 0; i < wf->n_objects; i++) {
        const struct np_object *old = &wf->objects[i];
        if (object_has_problem(old, problems)) {
            file->objects = np_x2nrealloc(file->objects, &file->allocated,
                                          file->n_objects + 1,
                                          sizeof *file->objects);
            file->objects[file->n_objects++] = np_object_share(old);
            VLOG_WARN("%s: keeping the last valid %s %s/%s",
                      wf->path, np_kind_name(old->kind),
                      np_object_namespace(old), np_object_name(old));
        }
    }
}

static void
log_problems(const struct np_problems *problems)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(60, 120);
    for (size_t i = 0; i < problems->n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems->items[i], &s);
        VLOG_WARN_RL(&rl, "%s", ds_cstr(&s));
        ds_destroy(&s);
    }
}

/* How long to wait before reading 'wf', now in state 'st': 0 to read it
 * now.  st_mtim is wall-clock time; one in the future (a clock step,
 * `touch -d`) does not delay. */
static long long int
settle_wait_msec(const struct watched_file *wf, const struct stat *st)
{
    long long int settle = (st->st_size == 0 && wf->n_objects
                            ? EMPTIED_SETTLE_MSEC : SETTLE_MSEC);
    long long int mtime = (st->st_mtim.tv_sec * 1000LL
                           + st->st_mtim.tv_nsec / 1000000);
    long long int age = np_time_wall_msec() - mtime;
    return age >= 0 && age < settle ? settle - age : 0;
}

/* A file that never stays unwritten long enough is never read: its last
 * objects stay in force (reading it mid-write could drop them).  Says so
 * once it has gone on for UNSETTLED_WARN_MSEC. */
static void
note_unsettled(struct watched_file *wf)
{
    long long int now = np_time_msec();

    if (!wf->unsettled_since) {
        wf->unsettled_since = now;
        wf->unsettled_warned = false;
    } else if (now - wf->unsettled_since >= UNSETTLED_WARN_MSEC
               && !wf->unsettled_warned) {
        wf->unsettled_warned = true;
        VLOG_WARN("%s: written again and again for %lld s; keeping the "
                  "%zu objects it held until it is left alone for %d ms",
                  wf->path, (now - wf->unsettled_since) / 1000,
                  wf->n_objects, SETTLE_MSEC);
    }
}

/* Reads 'wf' if it changed since the last read and has settled.  Returns
 * true if its objects changed. */
static bool
refresh_file(struct manifest_watch *mw, struct watched_file *wf,
             const struct stat *st_now)
{
    if (wf->n_objects + wf->problems.n && same_file_state(&wf->st, st_now)) {
        return false;
    }
    long long int wait = settle_wait_msec(wf, st_now);
    if (wait) {
        note_unsettled(wf);
        VLOG_DBG("%s: modified %s; reading it in %lld ms", wf->path,
                 st_now->st_size ? "just now" : "and empty", wait);
        mw->settle_msec = (mw->settle_msec
                           ? NP_MIN(mw->settle_msec, wait) : wait);
        return false;
    }
    wf->unsettled_since = 0;

    for (int attempt = 0; attempt < MAX_UNSTABLE_READS; attempt++) {
        struct stat before, after;
        struct manifest_file file;
        struct np_problems problems;

        if (stat(wf->path, &before)) {
            return false;
        }
        np_problems_init(&problems);
        bool ok = manifest_file_load(wf->path, &file, &problems);
        if (stat(wf->path, &after) || !same_file_state(&before, &after)) {
            /* Written while we read it: read it again. */
            manifest_file_destroy(&file);
            np_problems_destroy(&problems);
            continue;
        }

        mw->stats.n_file_reads++;
        log_problems(&problems);
        np_problems_destroy(&wf->problems);
        wf->problems = problems;
        if (!ok) {
            mw->stats.n_file_errors++;
            VLOG_WARN("%s: not applied; keeping the %zu objects it held "
                      "before", wf->path, wf->n_objects);
            /* Remember the bad state so that it is not re-read until it
             * changes again. */
            wf->st = after;
            manifest_file_destroy(&file);
            return false;
        }
        mw->stats.n_object_errors += problems.n;
        keep_last_valid(wf, &file, &wf->problems);

        wf->ever_parsed = true;
        free_objects(wf->objects, wf->n_objects);
        wf->objects = file.objects;
        wf->n_objects = file.n_objects;
        file.objects = NULL;
        file.n_objects = 0;
        manifest_file_destroy(&file);
        wf->st = after;
        VLOG_INFO("%s: %zu objects", wf->path, wf->n_objects);
        return true;
    }
    VLOG_WARN("%s: keeps changing while being read; will retry", wf->path);
    mw->settle_msec = SETTLE_MSEC;
    return false;
}

static bool
scan_path(struct manifest_watch *mw, const char *top)
{
    char **paths = NULL;
    size_t n_paths = 0;
    bool changed = false;

    int error = manifest_collect_paths(top, &paths, &n_paths);
    if (error && !mw->missing) {
        mw->missing = np_xasprintf("%s: %s", top, np_strerror(error));
    }
    if (error) {
        /* The whole path is gone: keep what it held (see the header). */
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(2, 2);
        VLOG_WARN_RL(&rl, "%s: %s; keeping its objects", top,
                     np_strerror(error));
        struct watched_file *wf;
        size_t len = strlen(top);
        HMAP_FOR_EACH (wf, node, &mw->files) {
            if (!strncmp(wf->path, top, len)
                && (!wf->path[len] || wf->path[len] == '/')) {
                wf->seen = true;
            }
        }
        return false;
    }

    for (size_t i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st)) {
            free(paths[i]);
            continue;
        }
        struct watched_file *wf = find_file(mw, paths[i]);
        if (!wf) {
            wf = np_xzalloc(sizeof *wf);
            wf->path = paths[i];
            np_problems_init(&wf->problems);
            hmap_insert(&mw->files, &wf->node, np_hash_string(wf->path, 0));
        } else {
            free(paths[i]);
        }
        wf->seen = true;
        changed |= refresh_file(mw, wf, &st);
    }
    free(paths);
    return changed;
}

static void
add_inotify_watches(struct manifest_watch *mw)
{
    if (mw->inotify_fd < 0) {
        return;
    }
    /* Cheap enough to redo on each scan: watch every manifest path, its
     * parent (to see it appear, vanish or be renamed over) and the
     * directories that hold files. */
    uint32_t mask = (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE
                     | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
                     | IN_MODIFY | IN_ATTRIB);
    for (size_t i = 0; i < mw->n_paths; i++) {
        char *parent = np_xstrdup(mw->paths[i]);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = '\0';
        }
        inotify_add_watch(mw->inotify_fd, slash ? (*parent ? parent : "/")
                                                : ".", mask);
        free(parent);
        inotify_add_watch(mw->inotify_fd, mw->paths[i], mask);
    }
    struct watched_file *wf;
    HMAP_FOR_EACH (wf, node, &mw->files) {
        char *dir = np_xstrdup(wf->path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            inotify_add_watch(mw->inotify_fd, *dir ? dir : "/", mask);
        }
        free(dir);
    }
}

/* Re-reads every changed file that has settled.  Returns true if the
 * objects changed. */
static bool
rescan_files(struct manifest_watch *mw)
{
    struct watched_file *wf;
    bool changed = false;

    mw->stats.n_scans++;
    mw->settle_msec = 0;
    free(mw->missing);
    mw->missing = NULL;
    HMAP_FOR_EACH (wf, node, &mw->files) {
        wf->seen = false;
    }
    for (size_t i = 0; i < mw->n_paths; i++) {
        changed |= scan_path(mw, mw->paths[i]);
    }
    HMAP_FOR_EACH_SAFE (wf, node, &mw->files) {
        if (!wf->seen) {
            VLOG_INFO("%s: removed; dropping its %zu objects", wf->path,
                      wf->n_objects);
            hmap_remove(&mw->files, &wf->node);
            watched_file_destroy(wf);
            changed = true;
        }
    }
    add_inotify_watches(mw);
    if (!mw->scanned) {
        mw->scanned = true;
        changed = true;
    }
    return changed;
}

static void
arm_rescan_timer(struct manifest_watch *mw, long long int msec)
{
    struct timeval tv = { msec / 1000, (msec % 1000) * 1000 };
    evtimer_add(mw->rescan_timer, &tv);
}

void
manifest_watch_rescan(struct manifest_watch *mw)
{
    if (rescan_files(mw)) {
        mw->cb(mw->aux);
    }
    if (mw->settle_msec) {
        arm_rescan_timer(mw, mw->settle_msec);
    } else {
        callback_list_call(&mw->barriers);
    }
}

void
manifest_watch_barrier(struct manifest_watch *mw, void (*cb)(void *aux),
                       void *aux)
{
    if (!mw->settle_msec) {
        cb(aux);
        return;
    }
    callback_list_add(&mw->barriers, cb, aux);
}

static void
rescan_timer_cb(evutil_socket_t fd, short events, void *mw_)
{
    struct manifest_watch *mw = mw_;
    mw->first_event_msec = 0;
    /* Before the rescan, which arms it sooner for a settling file. */
    arm_rescan_timer(mw, RESCAN_INTERVAL_MSEC);
    manifest_watch_rescan(mw);
}

static void
inotify_cb(evutil_socket_t fd, short events, void *mw_)
{
    struct manifest_watch *mw = mw_;
    char buf[16 * 1024] __attribute__((aligned(__alignof__(struct
                                                           inotify_event))));

    /* The events themselves do not matter, only that something changed:
     * drain them and rescan shortly (one editor save is several events). */
    while (read(fd, buf, sizeof buf) > 0) {
        continue;
    }

    /* Each event pushes the rescan back, but never past MAX_DEBOUNCE_MSEC
     * after the first: a directory written to all the time (a log file
     * beside the manifests) must not starve the manifests. */
    long long int now = np_time_msec();
    if (!mw->first_event_msec) {
        mw->first_event_msec = now;
    }
    long long int delay = NP_MIN(DEBOUNCE_MSEC, mw->first_event_msec
                                                + MAX_DEBOUNCE_MSEC - now);
    delay = NP_MAX(delay, 0);
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    evtimer_add(mw->rescan_timer, &tv);
}

struct manifest_watch *
manifest_watch_create(struct event_base *base, char **paths, size_t n_paths,
                      manifest_watch_cb *cb, void *aux)
{
    struct manifest_watch *mw = np_xzalloc(sizeof *mw);
    mw->base = base;
    mw->paths = np_xcalloc(n_paths, sizeof *mw->paths);
    for (size_t i = 0; i < n_paths; i++) {
        /* Without trailing slashes, so that prefix tests work. */
        char *p = np_xstrdup(paths[i]);
        size_t len = strlen(p);
        while (len > 1 && p[len - 1] == '/') {
            p[--len] = '\0';
        }
        mw->paths[i] = p;
    }
    mw->n_paths = n_paths;
    mw->cb = cb;
    mw->aux = aux;
    hmap_init(&mw->files);
    ovs_list_init(&mw->barriers);

    mw->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (mw->inotify_fd < 0) {
        VLOG_WARN("inotify unavailable (%s); rescanning every %d ms only",
                  np_strerror(errno), RESCAN_INTERVAL_MSEC);
    } else {
        mw->inotify_event = event_new(base, mw->inotify_fd,
                                      EV_READ | EV_PERSIST, inotify_cb, mw);
        event_add(mw->inotify_event, NULL);
    }
    mw->rescan_timer = evtimer_new(base, rescan_timer_cb, mw);
    struct timeval now = { 0, 0 };
    evtimer_add(mw->rescan_timer, &now);
    return mw;
}

void
manifest_watch_destroy(struct manifest_watch *mw)
{
    if (!mw) {
        return;
    }
    struct watched_file *wf;
    HMAP_FOR_EACH_POP (wf, node, &mw->files) {
        watched_file_destroy(wf);
    }
    callback_list_clear(&mw->barriers);
    hmap_destroy(&mw->files);
    if (mw->inotify_event) {
        event_free(mw->inotify_event);
    }
    if (mw->inotify_fd >= 0) {
        close(mw->inotify_fd);
    }
    event_free(mw->rescan_timer);
    free(mw->missing);
    for (size_t i = 0; i < mw->n_paths; i++) {
        free(mw->paths[i]);
    }
    free(mw->paths);
    free(mw);
}

bool
manifest_watch_is_synced(const struct manifest_watch *mw, char **why)
{
    char *reason = NULL;
    if (!mw->scanned) {
        reason = np_xstrdup("not read yet");
    } else if (mw->missing) {
        reason = np_xstrdup(mw->missing);
    } else {
        const struct watched_file *wf;
        HMAP_FOR_EACH (wf, node, &mw->files) {
            if (!wf->ever_parsed) {
                reason = np_xasprintf("%s has never parsed", wf->path);
                break;
            }
        }
    }
    if (why) {
        *why = reason;
    } else {
        free(reason);
    }
    return !reason;
}

/* Applying to the cluster. */

static int
compare_files(const void *a_, const void *b_)
{
    const struct watched_file *const *a = a_, *const *b = b_;
    return strcmp((*a)->path, (*b)->path);
}

/* The merged view: every object of every file, the later file winning. */
struct merged_object {
    struct hmap_node node;
    const struct np_object *obj;
    const char *path;
};

static uint32_t
object_hash(enum np_kind kind, const char *ns, const char *name)
{
    return np_hash_add(cluster_hash_name(ns, name), kind);
}

static struct merged_object *
merged_find(const struct hmap *merged, enum np_kind kind, const char *ns,
            const char *name)
{
    struct merged_object *mo;
    HMAP_FOR_EACH_WITH_HASH (mo, node, object_hash(kind, ns, name), merged) {
        if (mo->obj->kind == kind
            && !strcmp(np_object_namespace(mo->obj), ns)
            && !strcmp(np_object_name(mo->obj), name)) {
            return mo;
        }
    }
    return NULL;
}

static void
merge_files(const struct manifest_watch *mw, struct hmap *merged)
{
    size_t n = hmap_count(&mw->files), i = 0;
    const struct watched_file **files = np_xmalloc((n + 1) * sizeof *files);
    const struct watched_file *wf;
    HMAP_FOR_EACH (wf, node, &mw->files) {
        files[i++] = wf;
    }
    np_qsort(files, n, sizeof *files, compare_files);

    for (i = 0; i < n; i++) {
        for (size_t j = 0; j < files[i]->n_objects; j++) {
            const struct np_object *obj = &files[i]->objects[j];
            const char *ns = np_object_namespace(obj);
            const char *name = np_object_name(obj);
            struct merged_object *mo = merged_find(merged, obj->kind, ns,
                                                   name);
            if (mo) {
                static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
                if (strcmp(mo->path, files[i]->path)) {
                    VLOG_WARN_RL(&rl, "%s %s%s%s is in both %s and %s; "
                                 "using %s", np_kind_name(obj->kind), ns,
                                 *ns ? "/" : "", name, mo->path,
                                 files[i]->path, files[i]->path);
                }
            } else {
                mo = np_xmalloc(sizeof *mo);
                hmap_insert(merged, &mo->node,
                            object_hash(obj->kind, ns, name));
            }
            mo->obj = obj;
            mo->path = files[i]->path;
        }
    }
    free(files);
}

/* Calls 'changed' for the object of 'kind' 'ns'/'name'. */
struct change_cb {
    void (*cb)(enum np_kind, const char *ns, const char *name, void *aux);
    void *aux;
};

static void
notify(const struct change_cb *cb, enum np_kind kind, const char *ns,
       const char *name)
{
    if (cb->cb) {
        cb->cb(kind, ns, name, cb->aux);
    }
}

size_t
manifest_watch_apply(struct manifest_watch *mw, struct cluster *cluster,
                     void (*changed)(enum np_kind, const char *ns,
                                     const char *name, void *aux),
                     void *aux)
{
    struct change_cb cb = { changed, aux };
    struct hmap merged = HMAP_INITIALIZER(&merged);
    size_t n_changes = 0;

    merge_files(mw, &merged);

    /* Deletions. */
    struct np_namespace *ns;
    HMAP_FOR_EACH_SAFE (ns, node, &cluster->namespaces) {
        if (!merged_find(&merged, NP_KIND_NAMESPACE, "", ns->name)) {
            char *name = np_xstrdup(ns->name);
            cluster_delete_namespace(cluster, name);
            notify(&cb, NP_KIND_NAMESPACE, "", name);
            free(name);
            n_changes++;
        }
    }
    struct np_pod *pod;
    HMAP_FOR_EACH_SAFE (pod, node, &cluster->pods) {
        if (!merged_find(&merged, NP_KIND_POD, pod->namespace, pod->name)) {
            char *pod_ns = np_xstrdup(pod->namespace);
            char *name = np_xstrdup(pod->name);
            cluster_delete_pod(cluster, pod_ns, name);
            notify(&cb, NP_KIND_POD, pod_ns, name);
            free(pod_ns);
            free(name);
            n_changes++;
        }
    }
    struct np_policy *policy;
    HMAP_FOR_EACH_SAFE (policy, node, &cluster->policies) {
        if (!merged_find(&merged, NP_KIND_POLICY, policy->namespace,
                         policy->name)) {
            char *policy_ns = np_xstrdup(policy->namespace);
            char *name = np_xstrdup(policy->name);
            cluster_delete_policy(cluster, policy_ns, name);
            notify(&cb, NP_KIND_POLICY, policy_ns, name);
            free(policy_ns);
            free(name);
            n_changes++;
        }
    }

    /* Additions and changes. */
    struct merged_object *mo;
    HMAP_FOR_EACH_POP (mo, node, &merged) {
        if (!cluster_holds_object(cluster, mo->obj)) {
            /* Shared, not copied: the file and the cluster hold one
             * object (objects never change once parsed). */
            struct np_object share = np_object_share(mo->obj);
            cluster_set_object(cluster, &share);
            notify(&cb, mo->obj->kind, np_object_namespace(mo->obj),
                   np_object_name(mo->obj));
            n_changes++;
        }
        free(mo);
    }
    hmap_destroy(&merged);

    mw->stats.n_files = hmap_count(&mw->files);
    mw->stats.n_objects = (hmap_count(&cluster->namespaces)
                           + hmap_count(&cluster->pods)
                           + hmap_count(&cluster->policies));
    return n_changes;
}

void
manifest_watch_get_stats(const struct manifest_watch *mw,
                         struct manifest_watch_stats *stats)
{
    *stats = mw->stats;
}
