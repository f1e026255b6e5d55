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

/* fuzz-watch-event.c: libFuzzer target for Kubernetes watch events, the
 * newline-delimited {"type": ..., "object": ...} lines of a watch stream.
 *
 * XXX agent/k8s-source.c keeps its line and event handling static
 * (handle_line(), handle_event(), record_object()), so this target cannot
 * call it.  It does what those functions do with the calls they make into
 * flows/, which is where the parsing is: json_loadb() of each line,
 * np_object_identify() to name the object of every event (DELETED ones
 * too), np_object_from_json() for ADDED and MODIFIED, the kind filled in
 * from the stream's resource when the object lacks one, and the change
 * applied to a cluster followed by the incremental engine.  Once
 * k8s-source.c exposes its line handler (say
 * k8s_source_feed_for_testing()), feed the same corpus to it.
 *
 * The input is lines.  A watch stream is of one resource, which fills in
 * the kind of objects that lack one; so that one input can hold the three
 * streams, a line "@namespaces", "@pods" or "@networkpolicies" (not part of
 * the watch format) starts the events of that resource, pods until the
 * first such line.  An ERROR event ends its stream: the lines up to the
 * next '@' line are skipped.  Checked:
 *
 *   - every object accepted satisfies model.h (fuzz-model.h) and is named
 *     by np_object_identify() as np_object_from_json() names it;
 *
 *   - after the stream, the engine, told of each change, has exactly the
 *     flow set of compile_full() of the resulting cluster (with a few pod
 *     ports on the node, for pods of the upstream e2e model that the corpus
 *     uses: x/a, x/b, y/a, z/c). */

#include <config.h>

#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/engine.h"
#include "ovs-netpol/manifest.h"
#include "fuzz-model.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

struct resource {
    const char *line;           /* The line that starts its stream. */
    const char *kind;
    const char *api_version;
    enum np_kind np_kind;
};

static const struct resource resources[] = {
    { "@namespaces", "Namespace", "v1", NP_KIND_NAMESPACE },
    { "@pods", "Pod", "v1", NP_KIND_POD },
    { "@networkpolicies", "NetworkPolicy", "networking.k8s.io/v1",
      NP_KIND_POLICY },
};

struct stream {
    const struct resource *res;
    bool stopped;               /* An ERROR event ended the stream. */
    struct cluster *cluster;
    struct engine *engine;
    size_t n_changes;
};

static bool
equals_cluster(const struct cluster *cluster, const struct np_object *obj)
{
    const struct np_namespace *ns;
    const struct np_pod *pod;
    const struct np_policy *policy;

    switch (obj->kind) {
    case NP_KIND_NAMESPACE:
        ns = cluster_find_namespace(cluster, obj->ns->name);
        return ns && labels_equal(&ns->labels, &obj->ns->labels);
    case NP_KIND_POD:
        pod = cluster_find_pod(cluster, obj->pod->namespace, obj->pod->name);
        return pod && np_pod_equal(pod, obj->pod);
    case NP_KIND_POLICY:
        policy = cluster_find_policy(cluster, obj->policy->namespace,
                                     obj->policy->name);
        return policy && np_policy_equal(policy, obj->policy);
    }
    return false;
}

/* An ADDED or MODIFIED object. */
static void
record_object(struct stream *s, json_t *json)
{
    enum np_kind kind;
    const char *ns, *name;

    if (!json_object_get(json, "kind")) {
        json_object_set_new(json, "kind", json_string(s->res->kind));
        json_object_set_new(json, "apiVersion",
                            json_string(s->res->api_version));
    }
    if (!np_object_identify(json, &kind, &ns, &name)
        || kind != s->res->np_kind) {
        return;                 /* Malformed. */
    }

    struct np_problems problems;
    struct np_object obj;
    np_problems_init(&problems);
    if (np_object_from_json(json, "watch event", &obj, &problems)
        == NP_PARSE_OK) {
        fuzz_check_object(&obj);
        fuzz_check_identify(json, &obj);
        if (equals_cluster(s->cluster, &obj)) {
            np_object_destroy(&obj);
        } else {
            char *obj_ns = np_xstrdup(np_object_namespace(&obj));
            char *obj_name = np_xstrdup(np_object_name(&obj));
            cluster_set_object(s->cluster, &obj);
            engine_object_changed(s->engine, kind, obj_ns, obj_name);
            free(obj_ns);
            free(obj_name);
            s->n_changes++;
        }
    } else {
        FUZZ_CHECK(problems.n, "an invalid object without a problem");
    }
    fuzz_check_problems(&problems);
    np_problems_destroy(&problems);
}

static void
delete_object(struct stream *s, json_t *json)
{
    enum np_kind kind;
    const char *ns, *name;

    if (!json_object_get(json, "kind")) {
        json_object_set_new(json, "kind", json_string(s->res->kind));
    }
    if (np_object_identify(json, &kind, &ns, &name)
        && kind == s->res->np_kind) {
        char *ns_copy = np_xstrdup(ns), *name_copy = np_xstrdup(name);
        if (cluster_delete_object(s->cluster, kind, ns_copy, name_copy)) {
            engine_object_changed(s->engine, kind, ns_copy, name_copy);
            s->n_changes++;
        }
        free(ns_copy);
        free(name_copy);
    }
}

static void
handle_line(struct stream *s, const char *line, size_t len)
{
    if (len && line[0] == '@') {
        for (size_t i = 0; i < NP_ARRAY_SIZE(resources); i++) {
            if (len == strlen(resources[i].line)
                && !memcmp(line, resources[i].line, len)) {
                s->res = &resources[i];
                s->stopped = false;
            }
        }
        return;
    }
    if (s->stopped) {
        return;
    }

    /* What k8s-source.c's handle_line() does. */
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }
    if (!len) {
        return;
    }

    json_error_t jerr;
    json_t *event = json_loadb(line, len, 0, &jerr);
    if (json_is_object(event)) {
        const char *type = json_string_value(json_object_get(event, "type"));
        json_t *obj = json_object_get(event, "object");
        if (!type || !json_is_object(obj)) {
            /* Malformed. */
        } else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
            record_object(s, obj);
        } else if (!strcmp(type, "DELETED")) {
            delete_object(s, obj);
        } else if (!strcmp(type, "ERROR")) {
            s->stopped = true;
        }
    }
    json_decref(event);
}

static void
add_pod_port(struct cluster *cluster, uint32_t ofport, const char *ns,
             const char *name)
{
    struct local_port *port = local_port_create(ofport, name);
    port->pod_namespace = np_xstrdup(ns);
    port->pod_name = np_xstrdup(name);
    cluster_set_port(cluster, port);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster cluster;
    struct conj_ids ids;
    struct np_config config;

    cluster_init(&cluster);
    conj_ids_init(&ids);
    np_config_init(&config);
    add_pod_port(&cluster, 1, "x", "a");
    add_pod_port(&cluster, 2, "x", "b");
    add_pod_port(&cluster, 3, "y", "a");
    add_pod_port(&cluster, 4, "z", "c");
    cluster_set_port(&cluster, local_port_create(100, "uplink"));
    cluster_set_port(&cluster, local_port_create(LOCAL_PORT_HOST, "br-int"));

    struct stream s = {
        .res = &resources[1],
        .cluster = &cluster,
        .engine = engine_create(&cluster, &config, &ids),
    };
    const char *p = (const char *) data;
    const char *end = (const char *) data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
        handle_line(&s, p, len);
        p += len + 1;
    }

    if (s.n_changes) {
        struct conj_ids fresh;
        struct flow_set reference;
        struct np_problems problems;

        conj_ids_init(&fresh);
        flow_set_init(&reference);
        np_problems_init(&problems);
        compile_full(&cluster, &config, &fresh, &reference, &problems, NULL);
        FUZZ_CHECK(flow_set_equal(engine_flows(s.engine), &reference),
                   "after %zu changes, the engine differs from "
                   "compile_full()", s.n_changes);
        np_problems_destroy(&problems);
        flow_set_destroy(&reference);
        conj_ids_destroy(&fresh);
    }

    engine_destroy(s.engine);
    conj_ids_destroy(&ids);
    cluster_destroy(&cluster);
    return 0;
}
