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

/* test-conformance-model.c: the policy model against the upstream
 * Kubernetes network-policy e2e cases (tests/netpol-e2e/).
 *
 * For each case, in order: fresh namespaces x, y, z with pods a, b, c,
 * then each step's deletes, applies and relabels, and after each step every
 * non-null cell of every truth table must be what explain() says.  Runs
 * twice, with IPv4 and with IPv6 pod addresses (the ipBlock templates of the
 * cases are filled from them).  No switch here: the same cases run with
 * real packets against the agent in conformance.py. */

#include <config.h>

#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/explain.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

static char *corpus_dir;
static json_t *model;
static int family;

/* Pod addresses: every pod in 10.0.0.0/8 or fd00::/8, so that the /4 of
 * any pod holds all of them (cases 035 and 036 rely on it). */
static char *
pod_address(const char *ns, const char *pod)
{
    int n = ns[0] - 'x' + 1, p = pod[0] - 'a' + 1;
    return family == AF_INET ? np_xasprintf("10.0.%d.%d", n, p)
                             : np_xasprintf("fd00::%d:%d", n, p);
}

static json_t *
load_json(const char *path)
{
    json_error_t error;
    json_t *json = json_load_file(path, 0, &error);
    ck_assert_msg(json != NULL, "%s: %s", path, error.text);
    return json;
}

/* Applies 'obj' (reference stolen) to 'cluster'. */
static void
apply_json(struct cluster *cluster, json_t *obj)
{
    struct np_object parsed;
    struct np_problems problems;
    np_problems_init(&problems);
    enum np_parse_status status = np_object_from_json(obj, "case", &parsed,
                                                      &problems);
    if (status != NP_PARSE_OK) {
        struct ds s = DS_EMPTY_INITIALIZER;
        if (problems.n) {
            np_problem_format(&problems.items[0], &s);
        }
        ck_abort_msg("object not accepted: %s", ds_cstr(&s));
    }
    cluster_set_object(cluster, &parsed);
    np_problems_destroy(&problems);
    json_decref(obj);
}

/* Creates the model's namespaces and pods, with default labels. */
static void
load_model(struct cluster *cluster)
{
    size_t i;
    json_t *ns, *pod;

    json_array_foreach (json_object_get(model, "namespaces"), i, ns) {
        apply_json(cluster, json_pack("{sssss{sOsO}}",
                                      "apiVersion", "v1", "kind", "Namespace",
                                      "metadata",
                                      "name", json_object_get(ns, "name"),
                                      "labels",
                                      json_object_get(ns, "labels")));
    }
    json_array_foreach (json_object_get(model, "pods"), i, pod) {
        const char *ns_name = json_string_value(json_object_get(pod,
                                                                "namespace"));
        const char *name = json_string_value(json_object_get(pod, "name"));
        char *ip = pod_address(ns_name, name);
        json_t *obj = json_pack(
            "{sssss{sOsOsO}s{sssO}s{s[{ss}]}}",
            "apiVersion", "v1", "kind", "Pod",
            "metadata", "namespace", json_object_get(pod, "namespace"),
            "name", json_object_get(pod, "name"),
            "labels", json_object_get(pod, "labels"),
            "spec", "nodeName", "node-1",
            "containers", json_object_get(pod, "containers"),
            "status", "podIPs", "ip", ip);
        free(ip);
        apply_json(cluster, obj);
    }
}

/* Returns the filled-in value of a template string ("{{hostCIDR ns/pod}}"
 * or "{{netCIDR ns/pod N}}"), or NULL if 's' is not one. */
static json_t *
fill_template(const char *s)
{
    char kind[16], ns[16], pod[16];
    int plen = 0;
    if (sscanf(s, "{{%15s %15[^/]/%15[^ }] %d}}", kind, ns, pod, &plen) < 3) {
        return NULL;
    }

    char *ip = pod_address(ns, pod);
    struct cidr c;
    ck_assert(cidr_parse_address(ip, &c));
    if (!strcmp(kind, "netCIDR")) {
        char *text = np_xasprintf("%s/%d", ip, plen);
        char *error = cidr_parse(text, false, &c);
        ck_assert_ptr_null(error);
        free(text);
    }
    free(ip);
    char *text = cidr_to_string(&c);
    json_t *value = json_string(text);
    free(text);
    return value;
}

static void
fill_templates(json_t *json)
{
    size_t i;
    const char *key;
    json_t *value, *filled;

    if (json_is_object(json)) {
        json_object_foreach (json, key, value) {
            if (json_is_string(value)
                && (filled = fill_template(json_string_value(value)))) {
                json_object_set_new(json, key, filled);
            } else {
                fill_templates(value);
            }
        }
    } else if (json_is_array(json)) {
        json_array_foreach (json, i, value) {
            if (json_is_string(value)
                && (filled = fill_template(json_string_value(value)))) {
                json_array_set_new(json, i, filled);
            } else {
                fill_templates(value);
            }
        }
    }
}

static void
relabel(struct cluster *cluster, const json_t *r)
{
    const char *kind = json_string_value(json_object_get(r, "kind"));
    struct labels *labels;

    if (!strcmp(kind, "Namespace")) {
        const char *name = json_string_value(json_object_get(r, "name"));
        struct np_namespace *ns = cluster_find_namespace(cluster, name);
        ck_assert_ptr_nonnull(ns);
        labels = &ns->labels;
    } else {
        const char *ns = json_string_value(json_object_get(r, "namespace"));
        const char *name = json_string_value(json_object_get(r, "name"));
        struct np_pod *pod = cluster_find_pod(cluster, ns, name);
        ck_assert_ptr_nonnull(pod);
        labels = &pod->labels;
    }

    const char *key;
    json_t *value;
    json_object_foreach (json_object_get(r, "addLabels"), key, value) {
        labels_set(labels, key, json_string_value(value));
    }
    size_t i;
    json_array_foreach (json_object_get(r, "removeLabels"), i, value) {
        labels_remove(labels, json_string_value(value));
    }
}

static uint8_t
protocol_number(const char *name)
{
    return (!strcmp(name, "TCP") ? NP_TCP : !strcmp(name, "UDP") ? NP_UDP
            : NP_SCTP);
}

static struct explain_endpoint
endpoint(const struct cluster *cluster, const char *key)
{
    struct explain_endpoint ep;
    char *error = explain_endpoint_parse(cluster, key, family, &ep);
    ck_assert_msg(!error, "%s", error);
    return ep;
}

/* Checks every cell of one truth table; returns the number checked. */
static size_t
check_table(const struct cluster *cluster, const char *case_name,
            size_t step, const json_t *table)
{
    int port = json_integer_value(json_object_get(table, "port"));
    uint8_t proto = protocol_number(json_string_value(
                                        json_object_get(table, "protocol")));
    const char *from, *to;
    json_t *row, *cell;
    size_t n = 0;

    json_object_foreach (json_object_get(table, "allowed"), from, row) {
        json_object_foreach (row, to, cell) {
            if (json_is_null(cell)) {
                continue;
            }
            struct explain_endpoint src = endpoint(cluster, from);
            struct explain_endpoint dst = endpoint(cluster, to);
            struct explain_result result;
            explain(cluster, &src, &dst, proto, port, &result);
            if (result.allowed != json_is_true(cell)) {
                struct ds s = DS_EMPTY_INITIALIZER;
                explain_result_format(&result, &src, &dst, proto, port, NULL,
                                      &s);
                ck_abort_msg("%s step %zu (IPv%d): %s -> %s %d/%s: expected "
                             "%s\n%s", case_name, step,
                             family == AF_INET ? 4 : 6, from, to, port,
                             np_protocol_name(proto),
                             json_is_true(cell) ? "allowed" : "denied",
                             ds_cstr(&s));
            }
            explain_result_destroy(&result);
            n++;
        }
    }
    return n;
}

static size_t
run_case(const char *path)
{
    json_t *c = load_json(path);
    const char *name = json_string_value(json_object_get(c, "name"));
    struct cluster cluster;
    size_t i, n_cells = 0;
    json_t *step;

    cluster_init(&cluster);
    load_model(&cluster);
    json_array_foreach (json_object_get(c, "steps"), i, step) {
        size_t j;
        json_t *x;
        json_array_foreach (json_object_get(step, "delete"), j, x) {
            cluster_delete_policy(
                &cluster, json_string_value(json_object_get(x, "namespace")),
                json_string_value(json_object_get(x, "name")));
        }
        json_array_foreach (json_object_get(step, "apply"), j, x) {
            json_t *copy = json_deep_copy(x);
            fill_templates(copy);
            apply_json(&cluster, copy);
        }
        json_array_foreach (json_object_get(step, "relabel"), j, x) {
            relabel(&cluster, x);
        }
        json_array_foreach (json_object_get(step, "expect"), j, x) {
            n_cells += check_table(&cluster, name, i, x);
        }
    }
    cluster_destroy(&cluster);
    json_decref(c);
    return n_cells;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
run_all(int f)
{
    char *dir = np_xasprintf("%s/cases/upstream", corpus_dir);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s: cannot open", dir);

    char *paths[256];
    size_t n_paths = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n_paths < 256) {
        if (np_str_ends_with(de->d_name, ".json")) {
            paths[n_paths++] = np_xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    qsort(paths, n_paths, sizeof *paths, compare_strings);

    family = f;
    size_t n_cells = 0;
    for (size_t i = 0; i < n_paths; i++) {
        n_cells += run_case(paths[i]);
        free(paths[i]);
    }
    printf("IPv%d: %zu cases, %zu cells, all as upstream expects\n",
           f == AF_INET ? 4 : 6, n_paths, n_cells);
    ck_assert_uint_eq(n_paths, 48);
    ck_assert_uint_eq(n_cells, 65 * 72);     /* Every non-null cell. */
    free(dir);
}

START_TEST(test_upstream_ipv4)
{
    run_all(AF_INET);
}
END_TEST

START_TEST(test_upstream_ipv6)
{
    run_all(AF_INET6);
}
END_TEST

int
main(void)
{
    const char *srcdir = getenv("srcdir");
    corpus_dir = np_xasprintf("%s/tests/netpol-e2e", srcdir ? srcdir : ".");
    char *model_path = np_xasprintf("%s/models/upstream-e2e-netpol.json",
                                    corpus_dir);
    json_error_t error;
    model = json_load_file(model_path, 0, &error);
    if (!model) {
        fprintf(stderr, "%s: %s\n", model_path, error.text);
        return EXIT_FAILURE;
    }
    free(model_path);

    Suite *s = suite_create("conformance_model");
    TCase *tc = tcase_create("upstream");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_upstream_ipv4);
    tcase_add_test(tc, test_upstream_ipv6);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    json_decref(model);
    free(corpus_dir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
