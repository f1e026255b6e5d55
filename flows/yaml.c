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

/* yaml.c: YAML to jansson values, for the manifest reader (manifest.c).
 * Kubernetes reads YAML by converting it to JSON (sigs.k8s.io/yaml); so do
 * we, with libyaml's event API, so that we control every allocation: nesting
 * is bounded by MANIFEST_MAX_DEPTH and values, aliases expanded, by
 * MANIFEST_MAX_OBJECT_NODES, which defeats the "billion laughs".  An alias
 * shares the anchored jansson value (a reference, not a copy), so expansion
 * costs no memory, only its count.  Nesting is counted through aliases too:
 * an alias of a 60-deep value, used 60 levels down, is 120 levels deep,
 * and a chain of such aliases would otherwise nest thousands deep.
 *
 * Scalars are typed as sigs.k8s.io/yaml types them: plain scalars by the
 * YAML 1.2 core schema (null, ~ and the empty scalar; true and false;
 * decimal, 0o and 0x integers; floats) plus the YAML 1.1 booleans yes/no
 * and on/off; quoted and block scalars are strings; explicit tags (!!str,
 * !!int, !!float, !!bool, !!null) win.  Three deliberate differences: a
 * lone y or n is a string (see parse_bool_word()), mapping keys are kept as
 * written ("on: x" has the key "on", where sigs.k8s.io/yaml would turn it
 * into "true"), and infinities and NaN are refused, since JSON cannot hold
 * them.  Merge keys ("<<: *base") are
 * supported; explicit keys win over merged ones.
 *
 * Part of the core library (flows/): no I/O, no global state. */

#include <config.h>
#include "object-parse.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/util.h"

#define YAML_CORE_TAG "tag:yaml.org,2002:"

/* A YAML anchor ("&name"): a node that aliases ("*name") refer back to. */
struct yaml_anchor {
    struct hmap_node node;      /* In 'struct yaml_builder' 'anchors'. */
    char *name;
    json_t *value;
    size_t n_nodes;             /* Values in 'value', aliases expanded. */
    int height;                 /* Levels of collections in 'value' (0 for
                                 * a scalar), aliases expanded. */
};

/* Builds jansson values from the events of one libyaml parser. */
struct yaml_builder {
    yaml_parser_t parser;
    struct hmap anchors;        /* Contains struct yaml_anchor, by name: the
                                 * anchors of the current document. */
    size_t n_nodes;             /* Values in the current unit (a document,
                                 * or one streamed list item). */
    size_t n_total;             /* Values in the current document, never
                                 * reset: measures anchored subtrees. */
    int deepest;                /* Deepest collection level reached so far
                                 * in the node being built, aliases
                                 * expanded: measures anchored subtrees. */
    char *error;                /* First error, or NULL. */

    /* Streaming of the items of a list document. */
    yaml_item_cb *item_cb;      /* NULL: read documents whole. */
    void *aux;
    const char *list_kind;      /* The document's list kind, or NULL. */
    const char *list_api_version;
    bool streamed;              /* Items of this document went to
                                 * 'item_cb'. */
};

struct yaml_reader {
    struct yaml_builder builder;
    yaml_parser_t lookahead;    /* One document ahead of 'builder', when
                                 * streaming. */
    char *kind;                 /* Root "kind" of the current document. */
    char *api_version;          /* Root "apiVersion" of the same. */
    bool done;                  /* End of stream reached. */
};

static char *format_error(const yaml_mark_t *, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);
static char *parser_error(const yaml_parser_t *);
static char *lookahead_document(yaml_parser_t *, char **kind,
                                char **api_version, bool *end);
static bool builder_read_document(struct yaml_builder *, json_t **);
static json_t *scalar_to_json(const yaml_event_t *, char **error);

char *
yaml_to_json(const char *buf, size_t size, json_t ***docsp, size_t *n_docsp)
{
    *docsp = NULL;
    *n_docsp = 0;
    if (size > MANIFEST_MAX_SIZE) {
        return np_xasprintf("input of %zu bytes is larger than the limit "
                            "of %u bytes", size, MANIFEST_MAX_SIZE);
    }

    struct yaml_reader *reader = yaml_reader_create(buf, size, NULL, NULL);
    json_t **docs = NULL;
    size_t n_docs = 0, allocated = 0;
    char *error;

    for (;;) {
        json_t *doc;
        bool streamed;

        error = yaml_reader_next(reader, &doc, &streamed);
        if (error || !doc) {
            break;
        }
        docs = np_x2nrealloc(docs, &allocated, n_docs + 1, sizeof *docs);
        docs[n_docs++] = doc;
    }
    yaml_reader_destroy(reader);

    if (error) {
        for (size_t i = 0; i < n_docs; i++) {
            json_decref(docs[i]);
        }
        free(docs);
        return error;
    }
    *docsp = docs;
    *n_docsp = n_docs;
    return NULL;
}

struct yaml_reader *
yaml_reader_create(const char *buf, size_t size,
                   yaml_item_cb *item_cb, void *aux)
{
    struct yaml_reader *reader = np_xzalloc(sizeof *reader);
    struct yaml_builder *b = &reader->builder;

    if (!yaml_parser_initialize(&b->parser)
        || !yaml_parser_initialize(&reader->lookahead)) {
        /* libyaml fails only when out of memory. */
        abort();
    }
    yaml_parser_set_input_string(&b->parser, (const unsigned char *) buf,
                                 size);
    yaml_parser_set_input_string(&reader->lookahead,
                                 (const unsigned char *) buf, size);
    hmap_init(&b->anchors);
    b->item_cb = item_cb;
    b->aux = aux;
    return reader;
}

static void
clear_anchors(struct hmap *anchors)
{
    struct yaml_anchor *anchor;

    HMAP_FOR_EACH_POP (anchor, node, anchors) {
        free(anchor->name);
        json_decref(anchor->value);
        free(anchor);
    }
}

void
yaml_reader_destroy(struct yaml_reader *reader)
{
    if (reader) {
        struct yaml_builder *b = &reader->builder;

        yaml_parser_delete(&b->parser);
        yaml_parser_delete(&reader->lookahead);
        clear_anchors(&b->anchors);
        hmap_destroy(&b->anchors);
        free(b->error);
        free(reader->kind);
        free(reader->api_version);
        free(reader);
    }
}

char *
yaml_reader_next(struct yaml_reader *reader, json_t **docp, bool *streamed)
{
    struct yaml_builder *b = &reader->builder;

    *docp = NULL;
    *streamed = false;
    if (reader->done) {
        return NULL;
    }

    /* Learn the document's kind before building it: a list's "kind" may
     * follow its "items". */
    free(reader->kind);
    free(reader->api_version);
    reader->kind = reader->api_version = NULL;
    if (b->item_cb) {
        bool end;
        char *error = lookahead_document(&reader->lookahead, &reader->kind,
                                         &reader->api_version, &end);
        if (error) {
            return error;
        } else if (end) {
            reader->done = true;
            return NULL;
        }
    }
    b->list_kind = (reader->kind && object_kind_is_list(reader->kind)
                    ? reader->kind : NULL);
    b->list_api_version = reader->api_version;
    b->streamed = false;

    if (!builder_read_document(b, docp)) {
        char *error = b->error;
        b->error = NULL;
        return error ? error : np_xstrdup("YAML error");
    }
    if (!*docp) {
        reader->done = true;
    }
    *streamed = b->streamed;
    return NULL;
}

/* Errors. */

static char *
format_error(const yaml_mark_t *mark, const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;

    ds_put_format(&s, "line %zu, column %zu: ", mark->line + 1,
                  mark->column + 1);
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    return ds_steal_cstr(&s);
}

static char *
parser_error(const yaml_parser_t *parser)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    if (parser->error == YAML_READER_ERROR) {
        /* Bad encoding: libyaml knows only the byte offset. */
        ds_put_format(&s, "byte %zu: %s", parser->problem_offset,
                      parser->problem ? parser->problem : "read error");
    } else if (parser->problem) {
        ds_put_format(&s, "line %zu, column %zu: %s",
                      parser->problem_mark.line + 1,
                      parser->problem_mark.column + 1, parser->problem);
        if (parser->context) {
            ds_put_format(&s, " (%s at line %zu, column %zu)",
                          parser->context, parser->context_mark.line + 1,
                          parser->context_mark.column + 1);
        }
    } else {
        ds_put_cstr(&s, "YAML syntax error");
    }
    return ds_steal_cstr(&s);
}

static char *
depth_error(const yaml_mark_t *mark)
{
    return format_error(mark, "nesting deeper than %d levels",
                        MANIFEST_MAX_DEPTH);
}

/* Lookahead: the root's "kind" and "apiVersion", read without building. */

static bool
is_collection_start(yaml_event_type_t type)
{
    return (type == YAML_MAPPING_START_EVENT
            || type == YAML_SEQUENCE_START_EVENT);
}

static bool
is_collection_end(yaml_event_type_t type)
{
    return (type == YAML_MAPPING_END_EVENT
            || type == YAML_SEQUENCE_END_EVENT);
}

/* Returns a copy of scalar 'event' if it reads as a JSON string, else
 * NULL. */
static char *
scalar_string(const yaml_event_t *event)
{
    char *error = NULL;
    json_t *value = scalar_to_json(event, &error);
    char *s = (json_is_string(value)
               ? np_xstrdup(json_string_value(value)) : NULL);

    json_decref(value);
    free(error);
    return s;
}

/* Tracks the keys and values of the root mapping of a document, one level
 * below the root, to find "kind" and "apiVersion". */
struct root_scan {
    bool root_is_mapping;
    bool expect_key;            /* Next root child is a key. */
    char **want;                /* Where the pending key's value goes. */
    char **kind;
    char **api_version;
};

/* Called for each event that starts or is a child of the root mapping. */
static void
root_scan_child(struct root_scan *scan, const yaml_event_t *event)
{
    if (scan->expect_key) {
        scan->want = NULL;
        if (event->type == YAML_SCALAR_EVENT) {
            const char *key = (const char *) event->data.scalar.value;
            if (!strcmp(key, "kind")) {
                scan->want = scan->kind;
            } else if (!strcmp(key, "apiVersion")) {
                scan->want = scan->api_version;
            }
        }
    } else if (scan->want) {
        /* Only a string will do: anything else (even an alias) leaves the
         * kind unknown, and the builder then reads the document whole. */
        free(*scan->want);
        *scan->want = (event->type == YAML_SCALAR_EVENT
                       ? scalar_string(event) : NULL);
    }
    if (!is_collection_start(event->type)) {
        scan->expect_key = !scan->expect_key;
    }
}

/* Reads one document's events with 'parser'.  Stores the root mapping's
 * "kind" and "apiVersion", when they are strings, in '*kind' and
 * '*api_version' (malloc'd), and sets '*end' if the stream ended instead.
 * Returns NULL, or an error message: the same one the builder would give
 * for a syntax error or excessive nesting. */
static char *
lookahead_document(yaml_parser_t *parser, char **kind, char **api_version,
                   bool *end)
{
    struct root_scan scan = { .kind = kind, .api_version = api_version };
    int depth = 0;
    bool in_document = false;

    *end = false;
    for (;;) {
        yaml_event_t event;
        char *error = NULL;
        bool finished = false;

        if (!yaml_parser_parse(parser, &event)) {
            return parser_error(parser);
        }
        if (event.type == YAML_STREAM_END_EVENT
            || event.type == YAML_NO_EVENT) {
            *end = true;
            finished = true;
        } else if (event.type == YAML_DOCUMENT_START_EVENT) {
            in_document = true;
        } else if (event.type == YAML_DOCUMENT_END_EVENT) {
            finished = in_document;
        } else if (is_collection_start(event.type)) {
            if (depth == 1 && scan.root_is_mapping) {
                root_scan_child(&scan, &event);
            }
            if (++depth > MANIFEST_MAX_DEPTH) {
                error = depth_error(&event.start_mark);
            } else if (depth == 1) {
                scan.root_is_mapping
                    = event.type == YAML_MAPPING_START_EVENT;
                scan.expect_key = true;
            }
        } else if (is_collection_end(event.type)) {
            if (--depth == 1 && scan.root_is_mapping) {
                /* A key or value that was a collection is complete. */
                scan.expect_key = !scan.expect_key;
            }
        } else if (depth == 1 && scan.root_is_mapping) {
            root_scan_child(&scan, &event);
        }
        yaml_event_delete(&event);

        if (error || finished) {
            return error;
        }
    }
}

/* Building jansson values. */

static json_t *build_node(struct yaml_builder *, yaml_event_t *, int depth);

static void
set_error(struct yaml_builder *b, char *error)
{
    if (!b->error) {
        b->error = error;
    } else {
        free(error);
    }
}

static bool
next_event(struct yaml_builder *b, yaml_event_t *event)
{
    if (!yaml_parser_parse(&b->parser, event)) {
        set_error(b, parser_error(&b->parser));
        return false;
    }
    return true;
}

/* Adds 'n' values to the counts; false if that passes the limit. */
static bool
count_nodes(struct yaml_builder *b, size_t n, const yaml_mark_t *mark)
{
    b->n_total += n;
    b->n_nodes += n;
    if (b->n_nodes > MANIFEST_MAX_OBJECT_NODES) {
        set_error(b, format_error(mark, "more than %d values in one object "
                                  "(counting every expansion of a YAML "
                                  "alias)", MANIFEST_MAX_OBJECT_NODES));
        return false;
    }
    return true;
}

static struct yaml_anchor *
find_anchor(const struct yaml_builder *b, const char *name)
{
    struct yaml_anchor *anchor;

    HMAP_FOR_EACH_WITH_HASH (anchor, node, np_hash_string(name, 0),
                             &b->anchors) {
        if (!strcmp(anchor->name, name)) {
            return anchor;
        }
    }
    return NULL;
}

/* Remembers 'value' (adding a reference) under 'name'.  A later anchor of
 * the same name replaces an earlier one, as YAML says. */
static void
add_anchor(struct yaml_builder *b, const char *name, json_t *value,
           size_t n_nodes, int height)
{
    struct yaml_anchor *anchor = find_anchor(b, name);

    if (anchor) {
        json_decref(anchor->value);
    } else {
        anchor = np_xmalloc(sizeof *anchor);
        anchor->name = np_xstrdup(name);
        hmap_insert(&b->anchors, &anchor->node, np_hash_string(name, 0));
    }
    anchor->value = json_incref(value);
    anchor->n_nodes = n_nodes;
    anchor->height = height;
}

/* Reads the next document into '*docp', or sets '*docp' to NULL at the end
 * of the stream.  Returns false on error ('b->error'). */
static bool
builder_read_document(struct yaml_builder *b, json_t **docp)
{
    yaml_event_t event;

    *docp = NULL;
    for (;;) {
        if (!next_event(b, &event)) {
            return false;
        }
        yaml_event_type_t type = event.type;
        yaml_event_delete(&event);
        if (type == YAML_STREAM_END_EVENT || type == YAML_NO_EVENT) {
            return true;
        } else if (type == YAML_DOCUMENT_START_EVENT) {
            break;
        }
    }

    b->n_nodes = b->n_total = 0;
    b->deepest = 0;
    if (!next_event(b, &event)) {
        return false;
    }
    json_t *root = build_node(b, &event, 1);
    if (root && !next_event(b, &event)) {
        json_decref(root);
        root = NULL;
    } else if (root) {
        /* DOCUMENT-END is all libyaml can produce here. */
        yaml_event_delete(&event);
    }
    clear_anchors(&b->anchors);   /* Anchors live within one document. */
    *docp = root;
    return root != NULL;
}

static bool
enter_collection(struct yaml_builder *b, const yaml_event_t *start,
                 int depth)
{
    if (depth > MANIFEST_MAX_DEPTH) {
        set_error(b, depth_error(&start->start_mark));
        return false;
    }
    b->deepest = NP_MAX(b->deepest, depth);
    return count_nodes(b, 1, &start->start_mark);
}

static json_t *
build_sequence(struct yaml_builder *b, const yaml_event_t *start,
               int depth)
{
    if (!enter_collection(b, start, depth)) {
        return NULL;
    }

    json_t *array = json_array();
    for (;;) {
        yaml_event_t event;

        if (!next_event(b, &event)) {
            break;
        } else if (event.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&event);
            return array;
        }

        json_t *child = build_node(b, &event, depth + 1);
        if (!child) {
            break;
        }
        json_array_append_new(array, child);
    }
    json_decref(array);
    return NULL;
}

/* Builds the sequence that 'start' opens, the "items" of a list document,
 * handing each item to the callback instead of keeping it.  Each item is
 * counted against the object limit on its own. */
static bool
stream_items(struct yaml_builder *b, const yaml_event_t *start, int depth)
{
    if (!enter_collection(b, start, depth)) {
        return false;
    }

    size_t saved_n_nodes = b->n_nodes;
    for (size_t index = 0; ; index++) {
        yaml_event_t event;

        if (!next_event(b, &event)) {
            return false;
        } else if (event.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&event);
            break;
        }

        b->n_nodes = 0;
        json_t *item = build_node(b, &event, depth + 1);
        if (!item) {
            return false;
        }
        b->item_cb(item, b->list_kind, b->list_api_version, index, b->aux);
        json_decref(item);
    }
    b->n_nodes = saved_n_nodes;
    b->streamed = true;
    return true;
}

static bool
is_merge_key(const yaml_event_t *key)
{
    return (key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
            && !key->data.scalar.tag
            && !strcmp((const char *) key->data.scalar.value, "<<"));
}

/* Copies into 'object' the members of the mapping 'source' whose keys
 * 'object' lacks.  Returns false if 'source' is not a mapping. */
static bool
merge_mapping(json_t *object, const json_t *source)
{
    const char *key;
    json_t *value;

    if (!json_is_object(source)) {
        return false;
    }
    json_object_foreach ((json_t *) source, key, value) {
        if (!json_object_get(object, key)) {
            json_object_set(object, key, value);
        }
    }
    return true;
}

/* Applies the merge keys ("<<") of a mapping, in order: explicit keys win
 * over merged ones, and earlier sources over later ones. */
static bool
apply_merges(struct yaml_builder *b, json_t *object, const json_t *merges,
             const yaml_mark_t *mark)
{
    size_t i;
    json_t *source;

    json_array_foreach (merges, i, source) {
        bool ok = true;

        if (json_is_array(source)) {
            size_t j;
            json_t *element;

            json_array_foreach (source, j, element) {
                ok = ok && merge_mapping(object, element);
            }
        } else {
            ok = merge_mapping(object, source);
        }
        if (!ok) {
            set_error(b, format_error(mark, "a merge key (<<) needs a "
                                      "mapping or a list of mappings"));
            return false;
        }
    }
    return true;
}

/* Reads one key of a mapping.  Returns the key as a malloc'd string and
 * sets '*is_merge', or returns NULL at the end of the mapping (with
 * '*end') or on error. */
static char *
read_mapping_key(struct yaml_builder *b, bool *is_merge, bool *end)
{
    yaml_event_t event;
    char *key = NULL;

    *end = false;
    if (!next_event(b, &event)) {
        return NULL;
    }
    if (event.type == YAML_MAPPING_END_EVENT) {
        *end = true;
    } else if (event.type != YAML_SCALAR_EVENT) {
        set_error(b, format_error(&event.start_mark,
                                  "mapping keys must be scalars"));
    } else if (memchr(event.data.scalar.value, '\0',
                      event.data.scalar.length)) {
        set_error(b, format_error(&event.start_mark,
                                  "NUL characters are not supported"));
    } else {
        key = np_xstrdup((const char *) event.data.scalar.value);
        *is_merge = is_merge_key(&event);
        if (event.data.scalar.anchor) {
            json_t *value = json_string(key);
            if (value) {
                add_anchor(b, (const char *) event.data.scalar.anchor,
                           value, 1, 0);
                json_decref(value);
            }
        }
    }
    yaml_event_delete(&event);
    return key;
}

static json_t *
build_mapping(struct yaml_builder *b, const yaml_event_t *start, int depth)
{
    if (!enter_collection(b, start, depth)) {
        return NULL;
    }

    json_t *object = json_object();
    json_t *merges = NULL;
    for (;;) {
        bool is_merge = false, end;
        char *key = read_mapping_key(b, &is_merge, &end);
        if (!key) {
            if (end) {
                break;
            }
            goto error;
        }

        yaml_event_t event;
        if (!next_event(b, &event)) {
            free(key);
            goto error;
        }
        if (depth == 1 && b->list_kind && !strcmp(key, "items")
            && event.type == YAML_SEQUENCE_START_EVENT
            && !event.data.sequence_start.anchor) {
            bool ok = stream_items(b, &event, depth + 1);
            yaml_event_delete(&event);
            free(key);
            if (!ok) {
                goto error;
            }
            continue;
        }

        json_t *value = build_node(b, &event, depth + 1);
        if (!value) {
            free(key);
            goto error;
        } else if (is_merge) {
            if (!merges) {
                merges = json_array();
            }
            json_array_append_new(merges, value);
        } else {
            json_object_set_new(object, key, value);
        }
        free(key);
    }
    if (merges && !apply_merges(b, object, merges, &start->start_mark)) {
        goto error;
    }
    json_decref(merges);
    return object;

error:
    json_decref(merges);
    json_decref(object);
    return NULL;
}

/* Builds the alias 'event', found at nesting level 'depth'. */
static json_t *
build_alias(struct yaml_builder *b, const yaml_event_t *event, int depth)
{
    const char *name = (const char *) event->data.alias.anchor;
    struct yaml_anchor *anchor = find_anchor(b, name);

    if (!anchor) {
        set_error(b, format_error(&event->start_mark,
                                  "unknown anchor \"%.64s\"", name));
        return NULL;
    }

    /* The anchored value's 'height' levels of collections start at level
     * 'depth'.  (A merge key's value is checked the same way, one level
     * too strictly: its members land one level up.) */
    int deepest = depth - 1 + anchor->height;
    if (deepest > MANIFEST_MAX_DEPTH) {
        set_error(b, format_error(&event->start_mark, "nesting deeper than "
                                  "%d levels (expanding alias \"%.64s\")",
                                  MANIFEST_MAX_DEPTH, name));
        return NULL;
    } else if (!count_nodes(b, anchor->n_nodes, &event->start_mark)) {
        return NULL;
    }
    b->deepest = NP_MAX(b->deepest, deepest);
    return json_incref(anchor->value);
}

static json_t *
build_scalar(struct yaml_builder *b, const yaml_event_t *event)
{
    char *error = NULL;
    json_t *value = scalar_to_json(event, &error);

    if (!value) {
        set_error(b, format_error(&event->start_mark, "%s", error));
        free(error);
        return NULL;
    } else if (!count_nodes(b, 1, &event->start_mark)) {
        json_decref(value);
        return NULL;
    }
    return value;
}

/* Builds the node that 'event' starts, reading the rest of it from the
 * parser.  Deletes 'event'.  Returns a new reference, or NULL on error. */
static json_t *
build_node(struct yaml_builder *b, yaml_event_t *event, int depth)
{
    size_t n_before = b->n_total;
    int saved_deepest = b->deepest;
    const yaml_char_t *anchor = NULL;
    json_t *value = NULL;

    b->deepest = depth - 1;     /* Nothing of this node yet. */
    switch (event->type) {
    case YAML_ALIAS_EVENT:
        value = build_alias(b, event, depth);
        break;
    case YAML_SCALAR_EVENT:
        anchor = event->data.scalar.anchor;
        value = build_scalar(b, event);
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = event->data.sequence_start.anchor;
        value = build_sequence(b, event, depth);
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = event->data.mapping_start.anchor;
        value = build_mapping(b, event, depth);
        break;
    default:
        set_error(b, format_error(&event->start_mark,
                                  "unexpected YAML event"));
        break;
    }
    if (value && anchor) {
        add_anchor(b, (const char *) anchor, value, b->n_total - n_before,
                   b->deepest - (depth - 1));
    }
    b->deepest = NP_MAX(saved_deepest, b->deepest);
    yaml_event_delete(event);
    return value;
}

/* Scalars. */

static bool
in_list(const char *s, const char *const list[])
{
    for (size_t i = 0; list[i]; i++) {
        if (!strcmp(s, list[i])) {
            return true;
        }
    }
    return false;
}

static bool
is_null_word(const char *s)
{
    static const char *const words[] = {
        "", "~", "null", "Null", "NULL", NULL
    };
    return in_list(s, words);
}

/* Parses the booleans of YAML 1.2 and, as sigs.k8s.io/yaml does, the
 * yes/no and on/off of YAML 1.1.  Unlike sigs.k8s.io/yaml, a lone y, Y, n
 * or N stays a string: NetworkPolicy manifests name namespaces x, y and z
 * (as the upstream e2e tests do), and "kubernetes.io/metadata.name: y"
 * should select namespace y, not fail. */
static bool
parse_bool_word(const char *s, bool *value)
{
    static const char *const trues[] = {
        "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL
    };
    static const char *const falses[] = {
        "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF",
        NULL
    };

    if (in_list(s, trues)) {
        *value = true;
        return true;
    } else if (in_list(s, falses)) {
        *value = false;
        return true;
    }
    return false;
}

static bool
is_inf_or_nan_word(const char *s)
{
    static const char *const words[] = {
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
        "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL
    };
    return in_list(s, words);
}

static int
digit_value(char c)
{
    return (c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : 99);
}

enum int_parse {
    INT_OK,
    INT_NOT_INT,
    INT_OVERFLOW,
};

/* Parses 's' as a YAML 1.2 core schema integer: decimal with an optional
 * sign, "0o" octal or "0x" hexadecimal. */
static enum int_parse
parse_int(const char *s, long long int *valuep)
{
    const char *p = s;
    bool negative = false;
    int base = 10;

    if (*p == '-' || *p == '+') {
        negative = *p++ == '-';
    } else if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && p[1] == 'o') {
        base = 8;
        p += 2;
    }
    if (!*p) {
        return INT_NOT_INT;
    }

    uint64_t limit = negative ? (uint64_t) INT64_MAX + 1 : INT64_MAX;
    uint64_t value = 0;
    bool overflow = false;
    for (; *p; p++) {
        int d = digit_value(*p);
        if (d >= base) {
            return INT_NOT_INT;
        }
        if (value > (limit - d) / base) {
            overflow = true;
        } else {
            value = value * base + d;
        }
    }
    if (overflow) {
        return INT_OVERFLOW;
    }
    *valuep = (negative
               ? (value == (uint64_t) INT64_MAX + 1
                  ? INT64_MIN : -(long long int) value)
               : (long long int) value);
    return INT_OK;
}

static size_t
count_digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        n++;
    }
    return n;
}

/* Returns true if 's' is a YAML 1.2 core schema float (not counting
 * infinities and NaN). */
static bool
is_float(const char *s)
{
    const char *p = s;

    if (*p == '-' || *p == '+') {
        p++;
    }
    size_t n_int = count_digits(p);
    p += n_int;
    size_t n_frac = 0;
    if (*p == '.') {
        p++;
        n_frac = count_digits(p);
        p += n_frac;
    }
    if (!n_int && !n_frac) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        size_t n_exp = count_digits(p);
        if (!n_exp) {
            return false;
        }
        p += n_exp;
    }
    return !*p;
}

/* What number_to_json() accepts. */
enum number_type {
    NUMBER_ANY,                 /* An integer, else a real. */
    NUMBER_INT,                 /* Only an integer (!!int). */
    NUMBER_FLOAT,               /* Any number, as a real (!!float). */
};

/* Converts 's' to a JSON integer or real, as 'type' says.  Returns NULL if
 * 's' is not such a number, setting '*error' if it is one that is out of
 * range. */
static json_t *
number_to_json(const char *s, enum number_type type, char **error)
{
    long long int n;

    switch (parse_int(s, &n)) {
    case INT_OK:
        return type == NUMBER_FLOAT ? json_real(n) : json_integer(n);
    case INT_OVERFLOW:
        *error = np_xasprintf("integer %.64s is out of range", s);
        return NULL;
    case INT_NOT_INT:
        break;
    }
    if (type != NUMBER_INT && is_float(s)) {
        /* strtod() follows the locale's decimal point; the core library
         * never changes the locale from "C". */
        json_t *real = json_real(strtod(s, NULL));
        if (!real) {
            *error = np_xasprintf("number %.64s is out of range", s);
        }
        return real;
    }
    return NULL;
}

/* Types a plain scalar without a tag. */
static json_t *
resolve_plain(const char *s, size_t length, char **error)
{
    bool b;

    if (is_null_word(s)) {
        return json_null();
    } else if (parse_bool_word(s, &b)) {
        return json_boolean(b);
    } else if (is_inf_or_nan_word(s)) {
        *error = np_xasprintf("%s cannot be represented in JSON", s);
        return NULL;
    }

    json_t *number = number_to_json(s, NUMBER_ANY, error);
    if (number || *error) {
        return number;
    }
    return json_stringn(s, length);
}

/* Types a scalar with the explicit tag 'tag' ("!!" already expanded). */
static json_t *
resolve_tagged(const char *tag, const char *s, size_t length, char **error)
{
    const char *type = (!strncmp(tag, YAML_CORE_TAG, strlen(YAML_CORE_TAG))
                        ? tag + strlen(YAML_CORE_TAG) : NULL);
    json_t *value = NULL;
    bool b;

    if (!strcmp(tag, "!") || (type && (!strcmp(type, "str")
                                       || !strcmp(type, "binary")
                                       || !strcmp(type, "timestamp")))) {
        return json_stringn(s, length);
    } else if (!type) {
        *error = np_xasprintf("unsupported tag %.64s", tag);
        return NULL;
    } else if (!strcmp(type, "null")) {
        value = is_null_word(s) ? json_null() : NULL;
    } else if (!strcmp(type, "bool")) {
        value = parse_bool_word(s, &b) ? json_boolean(b) : NULL;
    } else if (!strcmp(type, "int")) {
        value = number_to_json(s, NUMBER_INT, error);
    } else if (!strcmp(type, "float")) {
        value = number_to_json(s, NUMBER_FLOAT, error);
    } else {
        *error = np_xasprintf("unsupported tag !!%.64s", type);
        return NULL;
    }
    if (!value && !*error) {
        *error = np_xasprintf("\"%.64s\" is not a valid !!%s", s, type);
    }
    return value;
}

/* Converts scalar 'event' to a JSON value.  Returns NULL and sets '*error'
 * (malloc'd) if it cannot be converted. */
static json_t *
scalar_to_json(const yaml_event_t *event, char **error)
{
    const char *s = (const char *) event->data.scalar.value;
    size_t length = event->data.scalar.length;
    const char *tag = (const char *) event->data.scalar.tag;
    json_t *value;

    *error = NULL;
    if (memchr(s, '\0', length)) {
        /* Only a double-quoted "\0" gets here; jansson strings are C
         * strings to the rest of ovs-netpol. */
        *error = np_xstrdup("NUL characters are not supported");
        return NULL;
    } else if (tag) {
        value = resolve_tagged(tag, s, length, error);
    } else if (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        value = resolve_plain(s, length, error);
    } else {
        value = json_stringn(s, length);
    }
    if (!value && !*error) {
        *error = np_xstrdup("invalid UTF-8");
    }
    return value;
}
