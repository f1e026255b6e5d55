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

/* manifest.c: splits a manifest buffer (JSON or YAML) into Kubernetes
 * objects and hands each to object-parse.c, which validates it and makes a
 * model object.  It is the first step from sources (manifest files, API
 * list responses) to cluster state.  The caller reads the files; this file
 * does no I/O and keeps no global state.
 *
 * Memory is bounded by the largest object, not by the buffer.  For JSON we
 * walk the punctuation of each top-level object ourselves: every value but
 * "items" goes to jansson whole (json_loadb() on exactly its bytes); if the
 * object turns out to be a list, its items go to jansson one at a time
 * (or, with threads, a bounded window at a time: "Items of big lists"),
 * otherwise "items" is loaded like any other value.  The walk also measures
 * each value's nesting and size before jansson builds it, so limits are
 * checked before anything is allocated.  YAML goes through yaml.c's reader,
 * which streams list items the same way. */

#include <config.h>
#include "ovs-netpol/manifest.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "json-arena.h"
#include "object-parse.h"
#include "ovs-netpol/util.h"

/* The state of reading one buffer. */
struct manifest_ctx {
    const char *buf;
    size_t size;
    const char *source;
    manifest_object_cb *cb;
    void *aux;
    struct np_problems *problems;
    int n_threads;              /* For the items of big JSON lists. */
};

/* The extent of one JSON value in the buffer, as the scanner finds it. */
struct json_extent {
    size_t start;               /* Offset of the first byte. */
    size_t end;                 /* Offset just past the last byte. */
    size_t n_values;            /* Values in it, itself included, object
                                 * keys not. */
};

static bool is_json_space(char);
static bool parse_json_stream(struct manifest_ctx *, size_t pos);
static bool parse_yaml_stream(struct manifest_ctx *);

bool
manifest_parse(const char *buf, size_t size, const char *source,
               manifest_object_cb *cb, void *aux,
               struct np_problems *problems)
{
    return manifest_parse_threads(buf, size, source, cb, aux, problems, 1);
}

bool
manifest_parse_threads(const char *buf, size_t size, const char *source,
                       manifest_object_cb *cb, void *aux,
                       struct np_problems *problems, int n_threads)
{
    struct manifest_ctx ctx = {
        .buf = buf,
        .size = size,
        .source = source,
        .cb = cb,
        .aux = aux,
        .problems = problems,
        .n_threads = NP_MAX(1, NP_MIN(n_threads, MANIFEST_MAX_THREADS)),
    };

    if (size > MANIFEST_MAX_SIZE) {
        np_problems_add(problems, source, NULL, NULL,
                        "input of %zu bytes is larger than the limit of "
                        "%u MiB", size, MANIFEST_MAX_SIZE >> 20);
        return false;
    }

    /* JSON or YAML, by the first character that is not blank or a UTF-8
     * byte order mark. */
    size_t pos = 0;
    if (size >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
        pos = 3;
    }
    while (pos < size && is_json_space(buf[pos])) {
        pos++;
    }
    if (pos < size && (buf[pos] == '{' || buf[pos] == '[')) {
        return parse_json_stream(&ctx, pos);
    }
    return parse_yaml_stream(&ctx);
}

/* Objects and lists, once they are jansson values. */

static void handle_value(struct manifest_ctx *, const json_t *,
                         const char *default_kind,
                         const char *default_api_version,
                         const char *container, struct ds *path);

static void
add_problem(struct manifest_ctx *ctx, const char *object, const char *path,
            const char *format, ...)
    NP_PRINTF_FORMAT(4, 5);

static void
add_problem(struct manifest_ctx *ctx, const char *object, const char *path,
            const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *message = np_xvasprintf(format, args);
    va_end(args);

    np_problems_add(ctx->problems, ctx->source, object, path, "%s",
                    message);
    free(message);
}

static const char *
json_type_name(const json_t *json)
{
    switch (json_typeof(json)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* Validates the object 'json' and passes it to the callback, or records
 * its problems. */
static void
handle_object(struct manifest_ctx *ctx, const json_t *json,
              const char *default_kind, const char *default_api_version)
{
    struct np_object obj;

    if (object_parse(json, default_kind, default_api_version, ctx->source,
                     &obj, ctx->problems) == NP_PARSE_OK) {
        ctx->cb(np_xmemdup(&obj, sizeof obj), ctx->aux);
    }
}

/* Handles item 'index' of a list (the path so far is 'path'). */
static void
handle_item(struct manifest_ctx *ctx, const json_t *item, size_t index,
            const char *item_kind, const char *api_version,
            const char *container, struct ds *path)
{
    size_t length = path->length;

    ds_put_format(path, "[%zu]", index);
    handle_value(ctx, item, item_kind, api_version, container, path);
    ds_truncate(path, length);
}

/* Handles the list object 'list' of kind 'kind': its items are objects (or
 * more lists) whose kind, when they lack one, is the list's item kind. */
static void
handle_list(struct manifest_ctx *ctx, const json_t *list, const char *kind,
            struct ds *path)
{
    const json_t *items = json_object_get(list, "items");
    const char *api_version = json_string_value(json_object_get(
                                                    list, "apiVersion"));
    char *item_kind = object_list_item_kind(kind);
    size_t length = path->length;

    ds_put_cstr(path, path->length ? ".items" : "items");
    if (json_is_array(items)) {
        size_t i;
        const json_t *item;

        json_array_foreach (items, i, item) {
            handle_item(ctx, item, i, item_kind, api_version, kind, path);
        }
    } else if (items && !json_is_null(items)) {
        add_problem(ctx, kind, ds_cstr(path), "must be a list, not %s",
                    json_type_name(items));
    }
    ds_truncate(path, length);
    free(item_kind);
}

/* Handles 'value', at 'path' within its document: an object or a list of
 * objects.  An object without "kind" is taken to be a 'default_kind' with
 * 'default_api_version'.  'container' names the list the value is in, for
 * problems that belong to no object. */
static void
handle_value(struct manifest_ctx *ctx, const json_t *value,
             const char *default_kind, const char *default_api_version,
             const char *container, struct ds *path)
{
    if (!json_is_object(value)) {
        add_problem(ctx, container, ds_cstr(path),
                    "must be an object, not %s", json_type_name(value));
        return;
    }

    const json_t *kind_json = json_object_get(value, "kind");
    const char *kind = (kind_json && !json_is_null(kind_json)
                        ? json_string_value(kind_json) : default_kind);
    if (kind && object_kind_is_list(kind)) {
        handle_list(ctx, value, kind, path);
    } else {
        handle_object(ctx, value, default_kind, default_api_version);
    }
}

/* Handles one document: nothing (an empty YAML document), an object, a
 * list object, or a list of objects. */
static void
handle_document(struct manifest_ctx *ctx, const json_t *doc)
{
    struct ds path = DS_EMPTY_INITIALIZER;

    if (json_is_array(doc)) {
        size_t i;
        const json_t *item;

        json_array_foreach (doc, i, item) {
            handle_item(ctx, item, i, NULL, NULL, NULL, &path);
        }
    } else if (!json_is_null(doc)) {
        handle_value(ctx, doc, NULL, NULL, NULL, &path);
    }
    ds_destroy(&path);
}

/* JSON. */

static void
line_and_column(const struct manifest_ctx *ctx, size_t offset,
                size_t *line, size_t *column)
{
    const char *p = ctx->buf;
    const char *end = ctx->buf + (offset < ctx->size ? offset : ctx->size);
    const char *line_start = p;

    *line = 1;
    for (;;) {
        const char *nl = memchr(p, '\n', end - p);
        if (!nl) {
            break;
        }
        (*line)++;
        p = line_start = nl + 1;
    }
    *column = end - line_start + 1;
}

/* Records a syntax or limit error at 'offset'.  Returns false, for the
 * caller to pass up. */
static bool
json_error(struct manifest_ctx *ctx, size_t offset, const char *format, ...)
    NP_PRINTF_FORMAT(3, 4);

static bool
json_error(struct manifest_ctx *ctx, size_t offset, const char *format, ...)
{
    size_t line, column;
    va_list args;

    line_and_column(ctx, offset, &line, &column);
    va_start(args, format);
    char *message = np_xvasprintf(format, args);
    va_end(args);

    add_problem(ctx, NULL, NULL, "line %zu, column %zu: %s",
                line, column, message);
    free(message);
    return false;
}

static bool
is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
skip_space(const struct manifest_ctx *ctx, size_t pos)
{
    while (pos < ctx->size && is_json_space(ctx->buf[pos])) {
        pos++;
    }
    return pos;
}

static bool
is_json_delimiter(char c)
{
    return strchr(" \t\r\n,:[]{}\"", c) != NULL;    /* '\0' too. */
}

/* Skips the string that starts at 'pos' (a '"').  Returns the offset just
 * past it, or 0 if it does not end. */
static size_t
skip_json_string(const struct manifest_ctx *ctx, size_t pos)
{
    for (pos++; pos < ctx->size; pos++) {
        if (ctx->buf[pos] == '\\') {
            pos++;
        } else if (ctx->buf[pos] == '"') {
            return pos + 1;
        }
    }
    return 0;
}

/* Finds the extent of the JSON value that starts at 'pos' (after any
 * space), inside 'depth' levels of nesting, without building it.  Fails,
 * recording a problem, if the value ends early, nests deeper than
 * MANIFEST_MAX_DEPTH in all or holds more than 'max_values' values.  The
 * scan checks only what it needs; jansson checks the rest when it loads the
 * value. */
static bool
scan_json_value(struct manifest_ctx *ctx, size_t pos, int depth,
                size_t max_values, struct json_extent *extent)
{
    const char *buf = ctx->buf;
    size_t n_values = 0, n_keys = 0;
    int level = 0;              /* Containers open within the value. */

    pos = skip_space(ctx, pos);
    extent->start = pos;
    if (pos < ctx->size && buf[pos] && strchr(",:]}", buf[pos])) {
        return json_error(ctx, pos, "expected a value");
    }
    do {
        if (pos >= ctx->size) {
            return json_error(ctx, pos, "unexpected end of input");
        }
        switch (buf[pos]) {
        case '{':
        case '[':
            if (depth + ++level > MANIFEST_MAX_DEPTH) {
                return json_error(ctx, pos, "nesting deeper than %d levels",
                                  MANIFEST_MAX_DEPTH);
            }
            n_values++;
            pos++;
            break;
        case '}':
        case ']':
            level--;
            pos++;
            break;
        case '"':
            n_values++;
            pos = skip_json_string(ctx, pos);
            if (!pos) {
                return json_error(ctx, ctx->size, "unterminated string");
            }
            break;
        case ':':
            n_keys++;           /* The string before it was a key. */
            pos++;
            break;
        case ',':
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            pos++;
            break;
        default:
            /* A number or a literal. */
            n_values++;
            do {
                pos++;
            } while (pos < ctx->size && !is_json_delimiter(buf[pos]));
            break;
        }
        /* A key counts as a value until its ':' turns up. */
        if (n_values > n_keys + 1 && n_values - n_keys - 1 > max_values) {
            return json_error(ctx, extent->start, "more than %d values in "
                              "one object", MANIFEST_MAX_OBJECT_NODES);
        }
    } while (level > 0);

    extent->end = pos;
    extent->n_values = n_values > n_keys ? n_values - n_keys : 0;
    if (extent->n_values > max_values) {
        return json_error(ctx, extent->start, "more than %d values in one "
                          "object", MANIFEST_MAX_OBJECT_NODES);
    }
    return true;
}

/* Builds the value in 'extent' with jansson.  Returns NULL, after recording
 * a problem, if it is not valid JSON. */
static json_t *
load_json_value(struct manifest_ctx *ctx, const struct json_extent *extent)
{
    json_error_t error;
    json_t *value = json_loadb(ctx->buf + extent->start,
                               extent->end - extent->start,
                               JSON_DECODE_ANY, &error);
    if (!value) {
        json_error(ctx, extent->start + error.position, "%s", error.text);
    }
    return value;
}

/* Items of big lists, on several threads.
 *
 * Loading an item with jansson and validating it are most of the time a
 * big manifest takes (a 100,000-pod cluster is about 50 MB of JSON), and
 * the items of a list are independent.  So the calling thread scans a
 * window of items (finding their extents is cheap), threads load and
 * validate them, each into its own results, and the calling thread passes
 * the results on in item order: the objects, the problems and their order
 * are those of a read one item at a time, and memory stays bounded by the
 * window. */

#define ITEMS_WINDOW 4096               /* Items scanned ahead, at most. */
#define ITEMS_PARALLEL_MIN 256          /* Fewer in a window: no threads. */
#define ITEMS_BATCH 32                  /* Items a thread takes at a time. */
#define ITEM_ARENA_SIZE (256 * 1024)    /* Most items need a few KiB. */

/* One item of a window, and what came of it. */
struct item_job {
    struct json_extent extent;
    bool loaded;                /* Valid JSON (else its problem says why). */
    struct np_object **objects; /* What it held, in order. */
    size_t n_objects, allocated_objects;
    struct np_problems problems;
};

struct items_window {
    const struct manifest_ctx *ctx;
    const char *list_kind;      /* NULL for a bare JSON array. */
    const char *item_kind;
    const char *api_version;
    size_t first_index;         /* Index in the list of 'jobs[0]'. */
    struct item_job jobs[ITEMS_WINDOW];
    size_t n_jobs;

    pthread_mutex_t mutex;
    size_t next_job;            /* The next job to take, under 'mutex'. */
};

static void
collect_job_object(struct np_object *obj, void *job_)
{
    struct item_job *job = job_;

    job->objects = np_x2nrealloc(job->objects, &job->allocated_objects,
                                 job->n_objects + 1, sizeof *job->objects);
    job->objects[job->n_objects++] = obj;
}

/* Loads and handles job 'i' of 'w', with 'path' (the list's path) as
 * scratch.  The item's jansson values live in 'arena' (json-arena.h): the
 * objects made from it copy what they keep. */
static void
run_item_job(struct items_window *w, size_t i, struct ds *path,
             struct json_arena *arena)
{
    struct item_job *job = &w->jobs[i];
    struct manifest_ctx ctx = *w->ctx;

    ctx.cb = collect_job_object;
    ctx.aux = job;
    ctx.problems = &job->problems;

    json_arena_begin(arena);
    json_t *item = load_json_value(&ctx, &job->extent);
    job->loaded = item != NULL;
    if (item) {
        handle_item(&ctx, item, w->first_index + i, w->item_kind,
                    w->api_version, w->list_kind, path);
        json_decref(item);
    }
    json_arena_end(arena);
}

/* Takes jobs of 'w' until there are none left. */
static void *
items_worker(void *w_)
{
    struct items_window *w = w_;
    struct ds path = DS_EMPTY_INITIALIZER;
    struct json_arena arena;

    json_arena_init(&arena, ITEM_ARENA_SIZE);

    if (w->list_kind) {
        ds_put_cstr(&path, "items");
    }
    for (;;) {
        pthread_mutex_lock(&w->mutex);
        size_t start = w->next_job;
        size_t end = NP_MIN(start + ITEMS_BATCH, w->n_jobs);
        w->next_job = end;
        pthread_mutex_unlock(&w->mutex);

        if (start >= end) {
            break;
        }
        for (size_t i = start; i < end; i++) {
            run_item_job(w, i, &path, &arena);
        }
    }
    json_arena_destroy(&arena);
    ds_destroy(&path);
    return NULL;
}

/* Runs every job of 'w', on several threads if it is worth it. */
static void
run_items_window(struct items_window *w)
{
    pthread_t threads[MANIFEST_MAX_THREADS];
    int n_started = 0;

    w->next_job = 0;
    if (w->ctx->n_threads > 1 && w->n_jobs >= ITEMS_PARALLEL_MIN) {
        /* jansson seeds its hash function on first use; do it here, not
         * racing in the threads. */
        json_object_seed(0);
        for (int i = 1; i < w->ctx->n_threads; i++) {
            if (pthread_create(&threads[n_started], NULL, items_worker, w)) {
                break;          /* Fewer threads, same result. */
            }
            n_started++;
        }
    }
    items_worker(w);
    for (int i = 0; i < n_started; i++) {
        pthread_join(threads[i], NULL);
    }
}

/* Passes on the results of the jobs of 'w', in order, to 'ctx', and clears
 * them.  Stops at the first item that was not valid JSON, as a sequential
 * read does: its problem is passed on, the later items are dropped.
 * Returns false if there was such an item. */
static bool
emit_items_window(struct manifest_ctx *ctx, struct items_window *w)
{
    bool ok = true;

    for (size_t i = 0; i < w->n_jobs; i++) {
        struct item_job *job = &w->jobs[i];

        if (ok) {
            np_problems_append(ctx->problems, &job->problems);
        }
        for (size_t j = 0; j < job->n_objects; j++) {
            if (ok) {
                ctx->cb(job->objects[j], ctx->aux);
            } else {
                np_object_destroy(job->objects[j]);
                free(job->objects[j]);
            }
        }
        ok = ok && job->loaded;

        free(job->objects);
        np_problems_destroy(&job->problems);
        memset(job, 0, sizeof *job);
    }
    w->n_jobs = 0;
    return ok;
}

/* Scans the items of the list at '*posp' (after its '[' and any items
 * before) into the empty window 'w', up to ITEMS_WINDOW of them, recording
 * problems in 'problems'.  Advances '*posp' past them.  Sets '*more' if
 * the list goes on.  Returns false on a syntax error. */
static bool
scan_items_window(const struct manifest_ctx *ctx, size_t *posp, int depth,
                  struct items_window *w, bool *more,
                  struct np_problems *problems)
{
    struct manifest_ctx scan_ctx = *ctx;
    size_t pos = *posp;

    scan_ctx.problems = problems;
    *more = false;
    while (w->n_jobs < ITEMS_WINDOW) {
        struct item_job *job = &w->jobs[w->n_jobs];

        if (!scan_json_value(&scan_ctx, pos, depth,
                             MANIFEST_MAX_OBJECT_NODES, &job->extent)) {
            *posp = pos;
            return false;
        }
        np_problems_init(&job->problems);
        w->n_jobs++;

        pos = skip_space(ctx, job->extent.end);
        if (pos < ctx->size && ctx->buf[pos] == ',') {
            pos++;
        } else if (pos < ctx->size && ctx->buf[pos] == ']') {
            *posp = pos + 1;
            return true;
        } else {
            *posp = pos;
            return json_error(&scan_ctx, pos, "expected ',' or ']'");
        }
    }
    *posp = pos;
    *more = true;
    return true;
}

/* Reads the JSON list at '*posp' (a '['), handling each item as an item of
 * a list of 'list_kind' (NULL for a bare JSON array) at 'depth' levels of
 * nesting.  Advances '*posp' past the list. */
static bool
parse_json_items(struct manifest_ctx *ctx, size_t *posp, int depth,
                 const char *list_kind, const char *api_version)
{
    size_t pos = skip_space(ctx, *posp + 1);

    if (pos < ctx->size && ctx->buf[pos] == ']') {
        *posp = pos + 1;
        return true;
    }

    struct items_window *w = np_xzalloc(sizeof *w);
    char *item_kind = list_kind ? object_list_item_kind(list_kind) : NULL;
    bool ok, more;

    w->ctx = ctx;
    w->list_kind = list_kind;
    w->item_kind = item_kind;
    w->api_version = api_version;
    pthread_mutex_init(&w->mutex, NULL);
    do {
        /* A syntax error found by the scan comes after the problems of
         * the items before it, and not at all after an item that jansson
         * refuses (a sequential read would have stopped there). */
        struct np_problems scan_problems;
        np_problems_init(&scan_problems);

        ok = scan_items_window(ctx, &pos, depth, w, &more, &scan_problems);
        size_t n_jobs = w->n_jobs;
        run_items_window(w);
        if (emit_items_window(ctx, w)) {
            np_problems_append(ctx->problems, &scan_problems);
        } else {
            ok = false;
        }
        np_problems_destroy(&scan_problems);
        w->first_index += n_jobs;
    } while (ok && more);

    pthread_mutex_destroy(&w->mutex);
    free(item_kind);
    free(w);
    *posp = pos;
    return ok;
}

/* Reads one member of the object being walked by parse_json_object(): the
 * key at 'pos' into '*keyp' (a new reference) and the value's extent into
 * '*value', with its values limited to 'max_values' unless the key is
 * "items".  Returns false on error. */
static bool
scan_json_member(struct manifest_ctx *ctx, size_t pos, size_t max_values,
                 json_t **keyp, struct json_extent *value)
{
    struct json_extent key_extent;

    pos = skip_space(ctx, pos);
    *keyp = NULL;
    if (pos >= ctx->size || ctx->buf[pos] != '"') {
        return json_error(ctx, pos, "expected a string (an object key)");
    } else if (!scan_json_value(ctx, pos, 1, 1, &key_extent)) {
        return false;
    }
    *keyp = load_json_value(ctx, &key_extent);
    if (!*keyp) {
        return false;
    }

    pos = skip_space(ctx, key_extent.end);
    if (pos >= ctx->size || ctx->buf[pos] != ':') {
        return json_error(ctx, pos, "expected ':'");
    }
    bool is_items = !strcmp(json_string_value(*keyp), "items");
    return scan_json_value(ctx, pos + 1, 1, is_items ? SIZE_MAX : max_values,
                           value);
}

/* Walks the JSON object at '*posp' (a '{'), a whole document, advancing
 * '*posp' past it.  Every member except an "items" list is loaded into
 * '*header'; the extent of "items", if it is a list, goes to '*items'. */
static bool
parse_json_object(struct manifest_ctx *ctx, size_t *posp, json_t *header,
                  struct json_extent *items, bool *has_items,
                  size_t *n_valuesp)
{
    size_t n_values = 1;
    size_t pos = skip_space(ctx, *posp + 1);

    *has_items = false;
    *n_valuesp = n_values;
    if (pos < ctx->size && ctx->buf[pos] == '}') {
        *posp = pos + 1;
        return true;
    }
    for (;;) {
        struct json_extent value;
        json_t *key;

        if (!scan_json_member(ctx, pos, MANIFEST_MAX_OBJECT_NODES - n_values,
                              &key, &value)) {
            json_decref(key);
            return false;
        }

        const char *name = json_string_value(key);
        if (!strcmp(name, "items") && ctx->buf[value.start] == '[') {
            *items = value;
            *has_items = true;
            json_object_del(header, name);
        } else {
            json_t *member = load_json_value(ctx, &value);
            if (!member) {
                json_decref(key);
                return false;
            }
            if (!strcmp(name, "items")) {
                *has_items = false;     /* The last "items" wins. */
            }
            n_values += value.n_values;
            json_object_set_new(header, name, member);
        }
        json_decref(key);

        pos = skip_space(ctx, value.end);
        if (pos < ctx->size && ctx->buf[pos] == ',') {
            pos++;
        } else if (pos < ctx->size && ctx->buf[pos] == '}') {
            *posp = pos + 1;
            *n_valuesp = n_values;
            return true;
        } else {
            return json_error(ctx, pos, "expected ',' or '}'");
        }
    }
}

/* Reads the JSON object at '*posp' (a '{'), advancing '*posp' past it: a
 * list, whose items are read one at a time, or a single object. */
static bool
parse_json_document(struct manifest_ctx *ctx, size_t *posp)
{
    size_t start = *posp;
    json_t *header = json_object();
    struct json_extent items;
    bool has_items;
    size_t n_values;
    bool ok = parse_json_object(ctx, posp, header, &items, &has_items,
                                &n_values);

    const char *kind = json_string_value(json_object_get(header, "kind"));
    if (!ok) {
        /* Already reported. */
    } else if (has_items && kind && object_kind_is_list(kind)) {
        size_t pos = items.start;
        const char *api_version = json_string_value(
            json_object_get(header, "apiVersion"));
        ok = parse_json_items(ctx, &pos, 2, kind, api_version);
    } else {
        if (has_items) {
            /* Not a list after all: "items" is an ordinary member. */
            json_t *member = NULL;
            if (n_values + items.n_values > MANIFEST_MAX_OBJECT_NODES) {
                ok = json_error(ctx, start, "more than %d values in one "
                                "object", MANIFEST_MAX_OBJECT_NODES);
            } else {
                member = load_json_value(ctx, &items);
                ok = member != NULL;
            }
            json_object_set_new(header, "items", member);
        }
        if (ok) {
            handle_document(ctx, header);
        }
    }
    json_decref(header);
    return ok;
}

/* Reads the JSON values (objects or lists of objects) of the buffer from
 * 'pos' on. */
static bool
parse_json_stream(struct manifest_ctx *ctx, size_t pos)
{
    for (;;) {
        bool ok;

        pos = skip_space(ctx, pos);
        if (pos >= ctx->size) {
            return true;
        } else if (ctx->buf[pos] == '{') {
            ok = parse_json_document(ctx, &pos);
        } else if (ctx->buf[pos] == '[') {
            ok = parse_json_items(ctx, &pos, 1, NULL, NULL);
        } else {
            ok = json_error(ctx, pos, "expected '{' or '['");
        }
        if (!ok) {
            return false;
        }
    }
}

/* YAML. */

static void
handle_yaml_item(const json_t *item, const char *list_kind,
                 const char *api_version, size_t index, void *ctx_)
{
    struct manifest_ctx *ctx = ctx_;
    struct ds path = DS_EMPTY_INITIALIZER;
    char *item_kind = object_list_item_kind(list_kind);

    ds_put_cstr(&path, "items");
    handle_item(ctx, item, index, item_kind, api_version, list_kind, &path);
    free(item_kind);
    ds_destroy(&path);
}

static bool
parse_yaml_stream(struct manifest_ctx *ctx)
{
    struct yaml_reader *reader = yaml_reader_create(ctx->buf, ctx->size,
                                                    handle_yaml_item, ctx);
    bool ok = true;

    for (;;) {
        json_t *doc;
        bool streamed;
        char *error = yaml_reader_next(reader, &doc, &streamed);

        if (error) {
            add_problem(ctx, NULL, NULL, "%s", error);
            free(error);
            ok = false;
            break;
        } else if (!doc) {
            break;
        }
        if (!streamed) {
            handle_document(ctx, doc);
        }
        json_decref(doc);
    }
    yaml_reader_destroy(reader);
    return ok;
}
