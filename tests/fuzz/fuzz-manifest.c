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

/* fuzz-manifest.c: libFuzzer target for the manifest reader
 * (ovs-netpol/manifest.h): manifest_parse() on arbitrary bytes, which
 * covers the JSON walker of manifest.c, the YAML reader of yaml.c and the
 * validation of object-parse.c, then np_object_from_json() and
 * np_object_identify() on the same bytes read as JSON or YAML.
 *
 * Checked on every input:
 *
 *   - every object returned satisfies model.h (fuzz-model.h), is named the
 *     same by np_object_identify(), and survives a clone;
 *
 *   - every problem has a message;
 *
 *   - the streaming reader agrees with the plain one: when the whole input
 *     is one JSON object (jansson reads it) or YAML documents
 *     (yaml_to_json() reads them), none of them a list, manifest_parse()
 *     returns exactly the objects np_object_from_json() makes of them, in
 *     order;
 *
 *   - the objects compile: with a port for each of the first pods,
 *     compile_full() runs and every flow carries our cookie.  (The
 *     invariants of the flows themselves are fuzz-compiler.c's.) */

#include <config.h>

#include <inttypes.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/pipeline.h"
#include "fuzz-model.h"

/* Objects returned by manifest_parse(), in order. */
struct objects {
    struct np_object **items;
    size_t n, allocated;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static void
collect_object(struct np_object *obj, void *objects_)
{
    struct objects *objects = objects_;

    fuzz_check_object(obj);
    if (objects->n >= objects->allocated) {
        objects->allocated = objects->allocated ? 2 * objects->allocated : 8;
        objects->items = realloc(objects->items,
                                 objects->allocated * sizeof *objects->items);
    }
    objects->items[objects->n++] = obj;
}

static void
objects_destroy(struct objects *objects)
{
    for (size_t i = 0; i < objects->n; i++) {
        np_object_destroy(objects->items[i]);
        free(objects->items[i]);
    }
    free(objects->items);
}

/* True if 'json' is an object that declares a list kind, which
 * manifest_parse() unwraps and np_object_from_json() does not. */
static bool
is_list(const json_t *json)
{
    const char *kind = json_string_value(json_object_get(json, "kind"));
    return kind && strlen(kind) >= 4 && !strcmp(kind + strlen(kind) - 4,
                                                "List");
}

/* Appends to 'expected' what np_object_from_json() makes of document
 * 'doc', as manifest_parse() reads a document: an object, a list of
 * objects, or nothing (null).  Returns false if the document holds a list
 * object, whose unwrapping is not compared. */
static bool
expect_document(const json_t *doc, struct objects *expected)
{
    const json_t *items[1] = { doc };
    const json_t *const *values = items;
    size_t n = 1;

    if (json_is_null(doc)) {
        return true;
    } else if (json_is_array(doc)) {
        n = json_array_size(doc);
        values = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *value = values ? values[i] : json_array_get(doc, i);
        struct np_problems problems;
        struct np_object obj;

        if (is_list(value)) {
            return false;
        }
        np_problems_init(&problems);
        if (np_object_from_json(value, "fuzz", &obj, &problems)
            == NP_PARSE_OK) {
            fuzz_check_object(&obj);
            fuzz_check_identify(value, &obj);
            collect_object(np_xmemdup(&obj, sizeof obj), expected);
        }
        fuzz_check_problems(&problems);
        np_problems_destroy(&problems);
    }
    return true;
}

static void
compare_objects(const struct objects *got, const struct objects *expected,
                const char *how)
{
    FUZZ_CHECK(got->n == expected->n, "manifest_parse() returns %zu "
               "objects, %s %zu", got->n, how, expected->n);
    for (size_t i = 0; i < got->n; i++) {
        FUZZ_CHECK(np_object_equal(got->items[i], expected->items[i]),
                   "object %zu (%s %s/%s) differs from %s", i,
                   np_kind_name(got->items[i]->kind),
                   np_object_namespace(got->items[i]),
                   np_object_name(got->items[i]), how);
    }
}

/* The same objects through jansson alone, or yaml_to_json() and
 * np_object_from_json(). */
static void
check_plain_reader(const uint8_t *data, size_t size,
                   const struct objects *got)
{
    struct objects expected = { NULL, 0, 0 };
    size_t pos = 0;

    if (size >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        pos = 3;
    }
    while (pos < size && strchr(" \t\r\n", data[pos]) && data[pos]) {
        pos++;
    }
    if (pos < size && (data[pos] == '{' || data[pos] == '[')) {
        json_t *json = json_loadb((const char *) data + pos, size - pos, 0,
                                  NULL);
        if (json && expect_document(json, &expected)) {
            compare_objects(got, &expected, "jansson and "
                            "np_object_from_json()");
        }
        json_decref(json);
    } else {
        json_t **docs;
        size_t n_docs;
        char *error = yaml_to_json((const char *) data, size, &docs,
                                   &n_docs);
        if (!error) {
            bool comparable = true;
            for (size_t i = 0; i < n_docs; i++) {
                comparable = comparable
                             && expect_document(docs[i], &expected);
                json_decref(docs[i]);
            }
            free(docs);
            if (comparable) {
                compare_objects(got, &expected, "yaml_to_json() and "
                                "np_object_from_json()");
            }
        }
        free(error);
    }
    objects_destroy(&expected);
}

/* Puts the objects into a cluster, gives the first pods ports, compiles. */
static void
check_compile(const struct objects *objects)
{
    struct cluster cluster;
    size_t n_pods = 0, n_policies = 0;

    cluster_init(&cluster);
    for (size_t i = 0; i < objects->n; i++) {
        const struct np_object *obj = objects->items[i];
        struct np_object copy = { .kind = obj->kind };

        switch (obj->kind) {
        case NP_KIND_NAMESPACE:
            copy.ns = np_namespace_clone(obj->ns);
            break;
        case NP_KIND_POD:
            copy.pod = np_pod_clone(obj->pod);
            if (n_pods < 8) {
                struct local_port *port = local_port_create(n_pods + 1,
                                                            "p");
                port->pod_namespace = np_xstrdup(obj->pod->namespace);
                port->pod_name = np_xstrdup(obj->pod->name);
                cluster_set_port(&cluster, port);
            }
            n_pods++;
            break;
        case NP_KIND_POLICY:
            copy.policy = np_policy_clone(obj->policy);
            n_policies++;
            break;
        }
        cluster_set_object(&cluster, &copy);
    }
    cluster_set_port(&cluster, local_port_create(LOCAL_PORT_HOST, "host"));
    cluster_set_port(&cluster, local_port_create(100, "uplink"));

    /* Large except lists and many pods make a big flow set: compiling it
     * is fuzz-compiler.c's job, at a size that keeps the fuzzer fast. */
    if (n_pods <= 32 && n_policies <= 16) {
        struct np_config config;
        struct conj_ids ids;
        struct flow_set flows;
        struct np_problems problems;

        np_config_init(&config);
        conj_ids_init(&ids);
        flow_set_init(&flows);
        np_problems_init(&problems);
        compile_full(&cluster, &config, &ids, &flows, &problems, NULL);
        const struct np_flow *flow;
        HMAP_FOR_EACH (flow, node, &flows.flows) {
            FUZZ_CHECK(np_cookie_is_ours(flow->cookie), "cookie %#"PRIx64,
                       flow->cookie);
        }
        np_problems_destroy(&problems);
        flow_set_destroy(&flows);
        conj_ids_destroy(&ids);
    }
    cluster_destroy(&cluster);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct objects objects = { NULL, 0, 0 };
    struct np_problems problems;

    np_problems_init(&problems);
    bool ok = manifest_parse((const char *) data, size, "fuzz",
                             collect_object, &objects, &problems);
    fuzz_check_problems(&problems);
    FUZZ_CHECK(ok || problems.n, "failed without saying why");
    for (size_t i = 0; i < problems.n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems.items[i], &s);
        FUZZ_CHECK(s.length, "problem %zu formats to nothing", i);
        ds_destroy(&s);
    }
    np_problems_destroy(&problems);

    if (ok) {
        check_plain_reader(data, size, &objects);
    }
    check_compile(&objects);
    objects_destroy(&objects);
    return 0;
}
