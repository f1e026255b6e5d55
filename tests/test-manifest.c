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

/* test-manifest.c: unit tests (check, suite "manifest") for the manifest
 * reader: flows/manifest.c, object-parse.c, yaml.c and problems.c.
 *
 * Covered: one case per validation rule, each asserting the exact problem
 * text; defaulting; absent versus empty selectors and peers; YAML and JSON
 * reading the same; multi-document YAML, lists, nested lists, list items
 * without a kind; a bad object skipped while the others survive; unknown
 * fields; the namespace name label; YAML scalar typing, anchors and merge
 * keys; hostile input (billion laughs, 10,000-deep nesting, a buffer over
 * 64 MiB, 10^6 labels) refused quickly; and a 100,000-pod JSON list (and a
 * 50,000-pod YAML list) read with memory bounded by one item.
 *
 * Fixtures are in tests/manifests/, found through $srcdir (which the
 * Automake test harness exports) or, when run by hand, next to this file. */

#include <config.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openvswitch/dynamic-string.h>
#include "flows/object-parse.h"
#include "flows/selector.h"
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/model.h"
#include "ovs-netpol/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifdef UNDER_ASAN
/* From the sanitizer runtime; GCC does not always install its header,
 * <sanitizer/allocator_interface.h>. */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

/* Bytes of heap in use now. */
static size_t
heap_in_use(void)
{
#ifdef UNDER_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* "Quickly", for hostile input: the parser's own CPU time, so that a busy
 * machine does not count (wall-clock time does), generous for a sanitizer
 * build, yet far below what the attacks cost without limits (minutes). */
#define QUICK_MSEC 3000

static long long int
cpu_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Helpers. */

/* What manifest_parse() returned. */
struct result {
    struct np_object *objs;
    size_t n;
    struct np_problems problems;
    bool ok;
};

static void
collect(struct np_object *obj, void *result_)
{
    struct result *result = result_;
    result->objs = np_xrealloc(result->objs,
                               (result->n + 1) * sizeof *result->objs);
    result->objs[result->n++] = *obj;
    free(obj);
}

static void
parse_buf(const char *buf, size_t size, const char *source,
          struct result *result)
{
    memset(result, 0, sizeof *result);
    np_problems_init(&result->problems);
    result->ok = manifest_parse(buf, size, source, collect, result,
                                &result->problems);
}

static void
parse(const char *text, struct result *result)
{
    parse_buf(text, strlen(text), NULL, result);
}

static void
result_destroy(struct result *result)
{
    for (size_t i = 0; i < result->n; i++) {
        np_object_destroy(&result->objs[i]);
    }
    free(result->objs);
    np_problems_destroy(&result->problems);
}

/* Returns every problem, formatted, one per line (the caller frees). */
static char *
problems_text(const struct np_problems *problems)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < problems->n; i++) {
        if (i) {
            ds_put_char(&s, '\n');
        }
        np_problem_format(&problems->items[i], &s);
    }
    return ds_steal_cstr(&s);
}

static void
assert_problems(const struct result *result, const char *expected)
{
    char *text = problems_text(&result->problems);
    ck_assert_str_eq(text, expected);
    free(text);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    ck_assert_msg(strstr(haystack, needle), "\"%s\" does not contain \"%s\"",
                  haystack, needle);
}

static const struct np_policy *
get_policy(const struct result *result, size_t i)
{
    ck_assert_uint_gt(result->n, i);
    ck_assert_int_eq(result->objs[i].kind, NP_KIND_POLICY);
    return result->objs[i].policy;
}

static const struct np_pod *
get_pod(const struct result *result, size_t i)
{
    ck_assert_uint_gt(result->n, i);
    ck_assert_int_eq(result->objs[i].kind, NP_KIND_POD);
    return result->objs[i].pod;
}

static const struct np_namespace *
get_namespace(const struct result *result, size_t i)
{
    ck_assert_uint_gt(result->n, i);
    ck_assert_int_eq(result->objs[i].kind, NP_KIND_NAMESPACE);
    return result->objs[i].ns;
}

/* Parses exactly one policy from 'text', with no problems. */
static struct np_policy *
parse_one_policy(const char *text)
{
    struct result result;

    parse(text, &result);
    assert_problems(&result, "");
    ck_assert(result.ok);
    ck_assert_uint_eq(result.n, 1);
    struct np_policy *policy = np_policy_clone(get_policy(&result, 0));
    result_destroy(&result);
    return policy;
}

static char *
selector_string(const struct selector *sel)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    if (sel) {
        selector_format(sel, &s);
    } else {
        ds_put_cstr(&s, "(absent)");
    }
    return ds_steal_cstr(&s);
}

static void
assert_selector(const struct selector *sel, const char *expected)
{
    char *s = selector_string(sel);
    ck_assert_str_eq(s, expected);
    free(s);
}

static void
assert_cidr(const struct cidr *cidr, const char *expected)
{
    char *s = cidr_to_string(cidr);
    ck_assert_str_eq(s, expected);
    free(s);
}

static char *
read_fixture(const char *name, size_t *sizep)
{
    const char *srcdir = getenv("srcdir");
    char *path;

    if (srcdir) {
        path = np_xasprintf("%s/tests/manifests/%s", srcdir, name);
    } else {
        /* Run by hand: __FILE__ is this file's path as the compiler saw
         * it, relative to the build directory. */
        const char *file = __FILE__;
        const char *slash = strrchr(file, '/');
        path = np_xasprintf("%.*smanifests/%s",
                            slash ? (int) (slash - file + 1) : 0, file,
                            name);
    }

    FILE *stream = fopen(path, "rb");
    ck_assert_msg(stream != NULL, "cannot open %s", path);
    struct ds s = DS_EMPTY_INITIALIZER;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stream)) > 0) {
        ds_put_buffer(&s, chunk, n);
    }
    fclose(stream);
    free(path);
    *sizep = s.length;
    return ds_steal_cstr(&s);
}

static void
parse_fixture(const char *name, struct result *result)
{
    size_t size;
    char *buf = read_fixture(name, &size);
    parse_buf(buf, size, name, result);
    free(buf);
}

/* Problems. */

START_TEST(test_problem_format)
{
    struct np_problems problems;
    struct ds s = DS_EMPTY_INITIALIZER;

    np_problems_init(&problems);
    np_problems_add(&problems, "a.yaml", "Pod x/y", "spec.nodeName",
                    "bad %d", 42);
    np_problems_add(&problems, NULL, "Pod x/y", NULL, "whole object");
    np_problems_add(&problems, "a.yaml", NULL, NULL, "line 1, column 2: x");
    np_problems_add(&problems, "", "", "spec", "only a path");
    ck_assert_uint_eq(problems.n, 4);
    ck_assert_str_eq(problems.items[1].source, "");

    char *text = problems_text(&problems);
    ck_assert_str_eq(text,
                     "a.yaml: Pod x/y: spec.nodeName: bad 42\n"
                     "Pod x/y: whole object\n"
                     "a.yaml: line 1, column 2: x\n"
                     "spec: only a path");
    free(text);

    np_problems_clear(&problems);
    ck_assert_uint_eq(problems.n, 0);
    np_problems_add(&problems, NULL, NULL, NULL, "again");
    np_problem_format(&problems.items[0], &s);
    ck_assert_str_eq(ds_cstr(&s), "again");
    ds_destroy(&s);
    np_problems_destroy(&problems);
    np_problems_destroy(NULL);
}
END_TEST

START_TEST(test_source_prefix)
{
    const char *text = "apiVersion: v1\nkind: Pod\n"
                       "metadata: {name: p, namespace: Bad}\n";
    struct result result;

    parse_buf(text, strlen(text), "pods.yaml", &result);
    assert_problems(&result,
                    "pods.yaml: Pod Bad/p: metadata.namespace: invalid value "
                    "\"Bad\": must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an "
                    "alphanumeric character");
    ck_assert(result.ok);
    result_destroy(&result);
}
END_TEST

/* Validation rules: one case each, with the exact text of every problem. */

#define POLICY(SPEC)                                                    \
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"           \
    "metadata: {name: deny, namespace: x}\nspec: " SPEC "\n"
#define NP "NetworkPolicy x/deny: "
#define POD(REST) "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n" REST "\n"
#define PO "Pod default/p: "
#define FROM(PEER) POLICY("{ingress: [{from: [" PEER "]}]}")
#define PORT(P) POLICY("{ingress: [{ports: [" P "]}]}")
#define SEL(S) POLICY("{podSelector: " S "}")

#define DNS_LABEL_CHARS "must consist of lower case alphanumeric "    \
    "characters or '-', and must start and end with an alphanumeric "   \
    "character"
#define DNS_SUBDOMAIN_CHARS "must consist of lower case alphanumeric "  \
    "characters, '-' or '.', and must start and end with an "           \
    "alphanumeric character"
#define LABEL_CHARS "consist of alphanumeric characters, '-', '_' or " \
    "'.', and must start and end with an alphanumeric character"

#define X10 "xxxxxxxxxx"
#define X60 X10 X10 X10 X10 X10 X10
#define X250 X60 X60 X60 X60 X10

struct rule_case {
    const char *name;
    const char *input;
    const char *problems;
};

static const struct rule_case rule_cases[] = {
    /* ipBlock. */
    { "except outside cidr",
      FROM("{podSelector: {}}, "
           "{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/24]}}"),
      NP "spec.ingress[0].from[1].ipBlock.except[0]: not within "
      "10.0.0.0/8" },
    { "except equal to cidr",
      FROM("{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/24, "
           "10.0.0.0/8]}}"),
      NP "spec.ingress[0].from[0].ipBlock.except[1]: not strictly within "
      "10.0.0.0/8" },
    { "except shorter than cidr",
      FROM("{ipBlock: {cidr: 10.1.0.0/16, except: [10.0.0.0/8]}}"),
      NP "spec.ingress[0].from[0].ipBlock.except[0]: not strictly within "
      "10.1.0.0/16" },
    { "except of the other family",
      FROM("{ipBlock: {cidr: 10.0.0.0/8, except: ['fd00::/64']}}"),
      NP "spec.ingress[0].from[0].ipBlock.except[0]: not within "
      "10.0.0.0/8" },
    { "except not a cidr",
      FROM("{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.2.3]}}"),
      NP "spec.ingress[0].from[0].ipBlock.except[0]: invalid CIDR "
      "address: 10.1.2.3" },
    { "cidr invalid",
      FROM("{ipBlock: {cidr: 10.0.0.0/33}}"),
      NP "spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR address: "
      "10.0.0.0/33" },
    { "cidr missing",
      POLICY("{egress: [{to: [{ipBlock: {except: [10.0.0.0/16]}}]}]}"),
      NP "spec.egress[0].to[0].ipBlock.cidr: required" },
    { "cidr empty",
      FROM("{ipBlock: {cidr: ''}}"),
      NP "spec.ingress[0].from[0].ipBlock.cidr: required" },
    /* Peers. */
    { "ipBlock with podSelector",
      FROM("{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}"),
      NP "spec.ingress[0].from[0]: may not combine ipBlock with "
      "podSelector or namespaceSelector" },
    { "ipBlock with namespaceSelector",
      POLICY("{egress: [{to: [{ipBlock: {cidr: '::/0'}, "
             "namespaceSelector: {matchLabels: {a: b}}}]}]}"),
      NP "spec.egress[0].to[0]: may not combine ipBlock with "
      "podSelector or namespaceSelector" },
    { "empty peer",
      POLICY("{egress: [{to: [{}]}]}"),
      NP "spec.egress[0].to[0]: must specify podSelector, "
      "namespaceSelector or ipBlock" },
    { "peer with null selectors only",
      FROM("{podSelector: null, namespaceSelector: ~}"),
      NP "spec.ingress[0].from[0]: must specify podSelector, "
      "namespaceSelector or ipBlock" },
    { "peer not an object",
      FROM("web"),
      NP "spec.ingress[0].from[0]: must be an object, not a string" },
    /* Ports. */
    { "unknown protocol",
      PORT("{protocol: ICMP}"),
      NP "spec.ingress[0].ports[0].protocol: unsupported value \"ICMP\": "
      "must be TCP, UDP or SCTP" },
    { "protocol in lower case",
      PORT("{protocol: udp, port: 53}"),
      NP "spec.ingress[0].ports[0].protocol: unsupported value \"udp\": "
      "must be TCP, UDP or SCTP" },
    { "port zero",
      PORT("{port: 0}"),
      NP "spec.ingress[0].ports[0].port: must be between 1 and 65535, "
      "not 0" },
    { "port too big",
      PORT("{port: 80}, {port: 65536}"),
      NP "spec.ingress[0].ports[1].port: must be between 1 and 65535, "
      "not 65536" },
    { "port negative",
      PORT("{port: -1}"),
      NP "spec.ingress[0].ports[0].port: must be between 1 and 65535, "
      "not -1" },
    { "port not an integer",
      PORT("{port: 80.5}"),
      NP "spec.ingress[0].ports[0].port: must be an integer or a string, "
      "not a real number" },
    { "port name with capitals",
      PORT("{port: HTTP}"),
      NP "spec.ingress[0].ports[0].port: invalid value \"HTTP\": must "
      "contain only lower case alphanumeric characters and '-'; must "
      "contain at least one letter" },
    { "port name too long",
      PORT("{port: abcdefghijklmnop}"),
      NP "spec.ingress[0].ports[0].port: invalid value "
      "\"abcdefghijklmnop\": must be no more than 15 characters" },
    { "port name of digits",
      PORT("{port: '8080'}"),
      NP "spec.ingress[0].ports[0].port: invalid value \"8080\": must "
      "contain at least one letter" },
    { "port name with double hyphen",
      PORT("{port: a--b}"),
      NP "spec.ingress[0].ports[0].port: invalid value \"a--b\": must not "
      "contain consecutive hyphens" },
    { "port name starting with hyphen",
      PORT("{port: -web}"),
      NP "spec.ingress[0].ports[0].port: invalid value \"-web\": must not "
      "begin or end with a hyphen" },
    { "endPort with named port",
      PORT("{port: http, endPort: 90}"),
      NP "spec.ingress[0].ports[0].endPort: may not be set when port is a "
      "name" },
    { "endPort without port",
      PORT("{protocol: UDP, endPort: 90}"),
      NP "spec.ingress[0].ports[0].endPort: may not be set without "
      "port" },
    { "endPort below port",
      PORT("{port: 8080, endPort: 80}"),
      NP "spec.ingress[0].ports[0].endPort: must be greater than or equal "
      "to port (8080)" },
    { "endPort too big",
      PORT("{port: 8080, endPort: 70000}"),
      NP "spec.ingress[0].ports[0].endPort: must be between 1 and 65535, "
      "not 70000" },
    { "endPort not an integer",
      PORT("{port: 80, endPort: '90'}"),
      NP "spec.ingress[0].ports[0].endPort: must be an integer, not a "
      "string" },
    /* Selectors. */
    { "unknown operator",
      SEL("{matchExpressions: [{key: app, operator: Equals, "
          "values: [a]}]}"),
      NP "spec.podSelector.matchExpressions[0].operator: unsupported "
      "value \"Equals\": must be In, NotIn, Exists or DoesNotExist" },
    { "operator missing",
      SEL("{matchExpressions: [{key: app}]}"),
      NP "spec.podSelector.matchExpressions[0].operator: required" },
    { "In without values",
      SEL("{matchExpressions: [{key: app, operator: In}]}"),
      NP "spec.podSelector.matchExpressions[0].values: must not be empty "
      "for operator In" },
    { "NotIn with empty values",
      FROM("{namespaceSelector: {matchExpressions: [{key: app, "
           "operator: NotIn, values: []}]}}"),
      NP "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0]"
      ".values: must not be empty for operator NotIn" },
    { "Exists with values",
      SEL("{matchExpressions: [{key: app, operator: Exists, "
          "values: [a]}]}"),
      NP "spec.podSelector.matchExpressions[0].values: must be empty for "
      "operator Exists" },
    { "DoesNotExist with values",
      SEL("{matchExpressions: [{key: app, operator: DoesNotExist, "
          "values: [a]}]}"),
      NP "spec.podSelector.matchExpressions[0].values: must be empty for "
      "operator DoesNotExist" },
    { "expression key missing",
      SEL("{matchExpressions: [{operator: Exists}]}"),
      NP "spec.podSelector.matchExpressions[0].key: required" },
    { "expression key invalid",
      SEL("{matchExpressions: [{key: 'a b', operator: Exists}]}"),
      NP "spec.podSelector.matchExpressions[0].key: invalid value \"a b\": "
      "name must " LABEL_CHARS },
    { "expression value invalid",
      SEL("{matchExpressions: [{key: a, operator: In, "
          "values: [ok, 'not ok']}]}"),
      NP "spec.podSelector.matchExpressions[0].values[1]: invalid value "
      "\"not ok\": must be empty or " LABEL_CHARS },
    { "label key name invalid",
      SEL("{matchLabels: {-bad: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"-bad\": name must "
      LABEL_CHARS },
    { "label key prefix invalid",
      SEL("{matchLabels: {Example.com/app: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"Example.com/app\": "
      "prefix " DNS_SUBDOMAIN_CHARS },
    { "label key prefix empty",
      SEL("{matchLabels: {/app: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"/app\": prefix must "
      "not be empty" },
    { "label key with two slashes",
      SEL("{matchLabels: {a/b/c: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"a/b/c\": must "
      "contain at most one '/'" },
    { "label key name empty",
      SEL("{matchLabels: {example.com/: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"example.com/\": "
      "name must not be empty" },
    { "label key name too long",
      SEL("{matchLabels: {" X60 "xxxx: x}}"),
      NP "spec.podSelector.matchLabels: invalid key \"" X60 "xxxx\": name "
      "must be no more than 63 characters" },
    { "label value invalid",
      SEL("{matchLabels: {app: 'bad value'}}"),
      NP "spec.podSelector.matchLabels[app]: invalid value \"bad value\": "
      "must be empty or " LABEL_CHARS },
    { "label value too long",
      SEL("{matchLabels: {app: " X60 "xxxx}}"),
      NP "spec.podSelector.matchLabels[app]: invalid value \"" X60 "xxxx\": "
      "must be no more than 63 characters" },
    { "label value not a string",
      SEL("{matchLabels: {enabled: true}}"),
      NP "spec.podSelector.matchLabels[enabled]: must be a string, not a "
      "boolean" },
    { "metadata label value not a string",
      POD("metadata: {name: p, labels: {tier: 3}}"),
      PO "metadata.labels[tier]: must be a string, not an integer" },
    /* policyTypes. */
    { "unknown policy type",
      POLICY("{policyTypes: [Ingress, Both]}"),
      NP "spec.policyTypes[1]: unsupported value \"Both\": must be "
      "Ingress or Egress" },
    { "duplicate policy type",
      POLICY("{policyTypes: [Egress, Ingress, Egress]}"),
      NP "spec.policyTypes[2]: duplicate value \"Egress\"" },
    { "policyTypes not a list",
      POLICY("{policyTypes: Ingress}"),
      NP "spec.policyTypes: must be a list, not a string" },
    /* Kinds, versions, names. */
    { "NetworkPolicy of another apiVersion",
      "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\n"
      "metadata: {name: deny, namespace: x}\n",
      NP "apiVersion extensions/v1beta1 not supported" },
    { "Pod of another apiVersion",
      "apiVersion: v2\nkind: Pod\nmetadata: {name: p}\n",
      PO "apiVersion v2 not supported" },
    { "apiVersion missing",
      "kind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n",
      NP "apiVersion: required" },
    { "kind missing",
      "apiVersion: v1\nmetadata: {name: deny, namespace: x}\n",
      "object x/deny: kind: required" },
    { "kind not a string",
      "apiVersion: v1\nkind: [Pod]\nmetadata: {name: deny}\n",
      "object deny: kind: must be a string, not a list" },
    { "name missing",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
      "metadata: {namespace: x}\n",
      "NetworkPolicy x/<unnamed>: metadata.name: required" },
    { "metadata missing",
      "apiVersion: v1\nkind: Namespace\n",
      "Namespace <unnamed>: metadata.name: required" },
    { "metadata not an object",
      "apiVersion: v1\nkind: Namespace\nmetadata: [a]\n",
      "Namespace <unnamed>: metadata: must be an object, not a list" },
    { "policy name invalid",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
      "metadata: {name: Deny_All, namespace: x}\n",
      "NetworkPolicy x/Deny_All: metadata.name: invalid value "
      "\"Deny_All\": " DNS_SUBDOMAIN_CHARS },
    { "policy name too long",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
      "metadata: {name: " X250 "xxxx, namespace: x}\n",
      "NetworkPolicy x/" X250 "xxx...: metadata.name: invalid value \""
      X60 "xxxx...\": must be no more than 253 characters" },
    { "namespace name with dots",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n",
      "Namespace a.b: metadata.name: invalid value \"a.b\": must not "
      "contain dots" },
    { "namespace name too long",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: " X60 "xxxx}\n",
      "Namespace " X60 "xxxx: metadata.name: invalid value \"" X60 "xxxx\": "
      "must be no more than 63 characters" },
    { "metadata.namespace invalid",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
      "metadata: {name: deny, namespace: x_y}\n",
      "NetworkPolicy x_y/deny: metadata.namespace: invalid value \"x_y\": "
      DNS_LABEL_CHARS },
    { "name with control characters",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: \"a\\nb\"}\n",
      "Pod default/a\\x0ab: metadata.name: invalid value \"a\\x0ab\": "
      DNS_SUBDOMAIN_CHARS },
    /* JSON types of known fields. */
    { "rules not a list",
      POLICY("{ingress: {from: []}}"),
      NP "spec.ingress: must be a list, not an object" },
    { "rule not an object",
      POLICY("{egress: [42]}"),
      NP "spec.egress[0]: must be an object, not an integer" },
    { "spec not an object",
      POLICY("[]"),
      NP "spec: must be an object, not a list" },
    { "except not a list",
      FROM("{ipBlock: {cidr: 10.0.0.0/8, except: 10.0.0.0/16}}"),
      NP "spec.ingress[0].from[0].ipBlock.except: must be a list, not a "
      "string" },
    /* Pods. */
    { "containerPort zero",
      POD("spec: {containers: [{name: c, ports: [{containerPort: 0}]}]}"),
      PO "spec.containers[0].ports[0].containerPort: must be between 1 "
      "and 65535, not 0" },
    { "containerPort missing",
      POD("spec: {containers: [{name: c}, {ports: [{name: web}]}]}"),
      PO "spec.containers[1].ports[0].containerPort: required" },
    { "container port name invalid",
      POD("spec: {containers: [{ports: [{containerPort: 80, "
          "name: Web}]}]}"),
      PO "spec.containers[0].ports[0].name: invalid value \"Web\": must "
      "contain only lower case alphanumeric characters and '-'" },
    { "container port name duplicate",
      POD("spec: {containers: [{ports: [{containerPort: 80, name: web}, "
          "{containerPort: 81, name: web}]}]}"),
      PO "spec.containers[0].ports[1].name: duplicate value \"web\"" },
    { "container port protocol",
      POD("spec: {containers: [{ports: [{containerPort: 80, "
          "protocol: ICMP}]}]}"),
      PO "spec.containers[0].ports[0].protocol: unsupported value "
      "\"ICMP\": must be TCP, UDP or SCTP" },
    { "pod IP invalid",
      POD("status: {podIPs: [{ip: 10.0.0.1}, {ip: 10.0.0.300}]}"),
      PO "status.podIPs[1].ip: invalid value \"10.0.0.300\": not an IP "
      "address" },
    { "legacy podIP invalid",
      POD("status: {podIP: 'fd00::g'}"),
      PO "status.podIP: invalid value \"fd00::g\": not an IP address" },
    { "pod IP entry without ip",
      POD("status: {podIPs: [{}]}"),
      PO "status.podIPs[0].ip: required" },
    { "hostNetwork not a boolean",
      POD("spec: {hostNetwork: 'true'}"),
      PO "spec.hostNetwork: must be a boolean, not a string" },
    { "nodeName invalid",
      POD("spec: {nodeName: Node_1}"),
      PO "spec.nodeName: invalid value \"Node_1\": " DNS_SUBDOMAIN_CHARS },
    /* Every problem of an object, in order. */
    { "all problems reported",
      POLICY("{podSelector: {matchLabels: {a: 'b c'}}, "
             "ingress: [{ports: [{port: 0}, {protocol: X}], "
             "from: [{}]}], policyTypes: [Sideways]}"),
      NP "spec.podSelector.matchLabels[a]: invalid value \"b c\": must be "
      "empty or " LABEL_CHARS "\n"
      NP "spec.ingress[0].from[0]: must specify podSelector, "
      "namespaceSelector or ipBlock\n"
      NP "spec.ingress[0].ports[0].port: must be between 1 and 65535, "
      "not 0\n"
      NP "spec.ingress[0].ports[1].protocol: unsupported value \"X\": must "
      "be TCP, UDP or SCTP\n"
      NP "spec.policyTypes[0]: unsupported value \"Sideways\": must be "
      "Ingress or Egress" },
};

START_TEST(test_rule)
{
    const struct rule_case *c = &rule_cases[_i];
    struct result result;

    parse(c->input, &result);
    char *text = problems_text(&result.problems);
    ck_assert_msg(!strcmp(text, c->problems),
                  "case \"%s\":\n got: %s\nwant: %s", c->name, text,
                  c->problems);
    ck_assert_msg(result.n == 0, "case \"%s\": object not skipped", c->name);
    ck_assert_msg(result.ok, "case \"%s\": buffer refused", c->name);
    free(text);
    result_destroy(&result);
}
END_TEST

START_TEST(test_problem_cap)
{
    /* 150 bad except entries: 100 problems shown, then a count. */
    struct ds s = DS_EMPTY_INITIALIZER;
    struct result result;

    ds_put_cstr(&s, POLICY("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, "
                           "except: ["));
    ds_chomp(&s, '\n');
    for (int i = 0; i < 150; i++) {
        ds_put_format(&s, "%s11.0.0.%d/32", i ? ", " : "", i);
    }
    ds_put_cstr(&s, "]}}]}]}\n");
    parse(ds_cstr(&s), &result);
    ck_assert_uint_eq(result.problems.n, 101);
    ck_assert_str_eq(result.problems.items[99].path,
                     "spec.ingress[0].from[0].ipBlock.except[99]");
    ck_assert_str_eq(result.problems.items[100].message,
                     "50 more problems not shown");
    ck_assert_str_eq(result.problems.items[100].object,
                     "NetworkPolicy x/deny");
    ck_assert_uint_eq(result.n, 0);
    result_destroy(&result);
    ds_destroy(&s);
}
END_TEST

START_TEST(test_too_many_labels)
{
    /* More than MANIFEST_MAX_LABELS labels, given as JSON, say from the
     * API server: refused without looking at them one by one. */
    json_t *labels = json_object();
    for (int i = 0; i <= MANIFEST_MAX_LABELS; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(labels, key, json_string("v"));
    }
    json_t *pod = json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1",
                            "kind", "Pod", "metadata", "name", "p",
                            "labels", labels);
    struct np_problems problems;
    struct np_object obj;

    np_problems_init(&problems);
    long long int start = cpu_msec();
    ck_assert_int_eq(np_object_from_json(pod, "watch", &obj, &problems),
                     NP_PARSE_INVALID);
    ck_assert_int_lt(cpu_msec() - start, QUICK_MSEC);
    char *text = problems_text(&problems);
    ck_assert_str_eq(text, "watch: Pod default/p: metadata.labels: more "
                     "than 10000 labels");
    free(text);

    /* Exactly the limit is fine, and sorted. */
    np_problems_clear(&problems);
    json_object_del(labels, "k0");
    ck_assert_int_eq(np_object_from_json(pod, NULL, &obj, &problems),
                     NP_PARSE_OK);
    ck_assert_uint_eq(obj.pod->labels.n, MANIFEST_MAX_LABELS);
    for (size_t i = 1; i < obj.pod->labels.n; i++) {
        ck_assert_int_lt(strcmp(obj.pod->labels.items[i - 1].key,
                                obj.pod->labels.items[i].key), 0);
    }
    np_object_destroy(&obj);
    np_problems_destroy(&problems);
    json_decref(pod);
}
END_TEST

/* Defaults and normal forms. */

START_TEST(test_policy_defaults)
{
    struct np_policy *p = parse_one_policy(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny}\n");

    ck_assert_str_eq(p->namespace, "default");
    ck_assert_str_eq(p->name, "deny");
    ck_assert_uint_eq(p->pod_selector.n_reqs, 0);      /* Every pod. */
    ck_assert(p->isolates[NP_INGRESS]);
    ck_assert(!p->isolates[NP_EGRESS]);
    ck_assert_uint_eq(p->n_rules[NP_INGRESS], 0);
    ck_assert_uint_eq(p->n_rules[NP_EGRESS], 0);
    np_policy_destroy(p);

    /* Egress rules make the default include Egress; an empty policyTypes
     * list is no list. */
    p = parse_one_policy(POLICY("{policyTypes: [], egress: [{}]}"));
    ck_assert(p->isolates[NP_INGRESS]);
    ck_assert(p->isolates[NP_EGRESS]);
    ck_assert_uint_eq(p->n_rules[NP_EGRESS], 1);
    ck_assert_uint_eq(p->rules[NP_EGRESS][0].n_peers, 0);
    ck_assert_uint_eq(p->rules[NP_EGRESS][0].n_ports, 0);
    np_policy_destroy(p);

    /* An empty egress list does not. */
    p = parse_one_policy(POLICY("{egress: []}"));
    ck_assert(!p->isolates[NP_EGRESS]);
    np_policy_destroy(p);

    /* Explicit policyTypes win, and rules of the other direction stay. */
    p = parse_one_policy(POLICY("{policyTypes: [Egress], "
                                "ingress: [{}]}"));
    ck_assert(!p->isolates[NP_INGRESS]);
    ck_assert(p->isolates[NP_EGRESS]);
    ck_assert_uint_eq(p->n_rules[NP_INGRESS], 1);
    np_policy_destroy(p);
}
END_TEST

START_TEST(test_port_defaults)
{
    struct np_policy *p = parse_one_policy(PORT(
        "{}, {port: 80}, {protocol: UDP, port: 1000, endPort: 1010}, "
        "{port: dns, protocol: SCTP}, {protocol: UDP}, null"));
    const struct np_rule *rule = &p->rules[NP_INGRESS][0];

    ck_assert_uint_eq(rule->n_ports, 6);
    ck_assert_int_eq(rule->ports[0].protocol, NP_TCP);
    ck_assert_int_eq(rule->ports[0].kind, NP_PORT_ALL);
    ck_assert_int_eq(rule->ports[1].protocol, NP_TCP);
    ck_assert_int_eq(rule->ports[1].kind, NP_PORT_NUMBER);
    ck_assert_int_eq(rule->ports[1].port, 80);
    ck_assert_int_eq(rule->ports[1].end_port, 80);
    ck_assert_int_eq(rule->ports[2].protocol, NP_UDP);
    ck_assert_int_eq(rule->ports[2].port, 1000);
    ck_assert_int_eq(rule->ports[2].end_port, 1010);
    ck_assert_int_eq(rule->ports[3].protocol, NP_SCTP);
    ck_assert_int_eq(rule->ports[3].kind, NP_PORT_NAMED);
    ck_assert_str_eq(rule->ports[3].name, "dns");
    ck_assert_int_eq(rule->ports[4].protocol, NP_UDP);
    ck_assert_int_eq(rule->ports[4].kind, NP_PORT_ALL);
    /* A null element is the zero value, as in Go: every TCP port. */
    ck_assert_int_eq(rule->ports[5].protocol, NP_TCP);
    ck_assert_int_eq(rule->ports[5].kind, NP_PORT_ALL);
    ck_assert_uint_eq(rule->n_peers, 0);
    np_policy_destroy(p);

    /* endPort equal to port, and the extremes. */
    p = parse_one_policy(PORT("{port: 1, endPort: 65535}, "
                              "{port: 9, endPort: 9}"));
    rule = &p->rules[NP_INGRESS][0];
    ck_assert_int_eq(rule->ports[0].port, 1);
    ck_assert_int_eq(rule->ports[0].end_port, 65535);
    ck_assert_int_eq(rule->ports[1].end_port, 9);
    np_policy_destroy(p);
}
END_TEST

START_TEST(test_absent_vs_empty)
{
    struct np_policy *p = parse_one_policy(POLICY(
        "{ingress: [{from: [{podSelector: {}}, {namespaceSelector: {}}, "
        "{podSelector: {}, namespaceSelector: {}}, "
        "{namespaceSelector: {matchLabels: {a: b}}, podSelector: null}]}, "
        "{from: []}, {ports: []}, {}]}"));
    const struct np_rule *rules = p->rules[NP_INGRESS];

    ck_assert_uint_eq(p->n_rules[NP_INGRESS], 4);
    ck_assert_uint_eq(rules[0].n_peers, 4);
    assert_selector(rules[0].peers[0].pod_selector, "<all>");
    assert_selector(rules[0].peers[0].ns_selector, "(absent)");
    assert_selector(rules[0].peers[1].pod_selector, "(absent)");
    assert_selector(rules[0].peers[1].ns_selector, "<all>");
    assert_selector(rules[0].peers[2].pod_selector, "<all>");
    assert_selector(rules[0].peers[2].ns_selector, "<all>");
    assert_selector(rules[0].peers[3].pod_selector, "(absent)");
    assert_selector(rules[0].peers[3].ns_selector, "a=b");
    ck_assert(!rules[0].peers[0].is_ip_block);

    /* "from: []", "ports: []" and absent all mean any. */
    for (int i = 1; i < 4; i++) {
        ck_assert_uint_eq(rules[i].n_peers, 0);
        ck_assert_uint_eq(rules[i].n_ports, 0);
    }
    np_policy_destroy(p);
}
END_TEST

START_TEST(test_selector_normal_form)
{
    struct np_policy *p = parse_one_policy(SEL(
        "{matchLabels: {zone: a, app: web}, matchExpressions: ["
        "{key: tier, operator: NotIn, values: [b, a, b]}, "
        "{key: app, operator: Exists}, "
        "{key: tier, operator: In, values: [c]}, "
        "{key: app, operator: In, values: [web]}]}"));
    const struct selector *sel = &p->pod_selector;

    /* Sorted by key then operator; matchLabels become In; the duplicate
     * app In (web) is dropped; values sorted and unique. */
    ck_assert_uint_eq(sel->n_reqs, 5);
    ck_assert_str_eq(sel->reqs[0].key, "app");
    ck_assert_int_eq(sel->reqs[0].op, SELECTOR_IN);
    ck_assert_uint_eq(sel->reqs[0].n_values, 1);
    ck_assert_str_eq(sel->reqs[0].values[0], "web");
    ck_assert_str_eq(sel->reqs[1].key, "app");
    ck_assert_int_eq(sel->reqs[1].op, SELECTOR_EXISTS);
    ck_assert_uint_eq(sel->reqs[1].n_values, 0);
    ck_assert_str_eq(sel->reqs[2].key, "tier");
    ck_assert_int_eq(sel->reqs[2].op, SELECTOR_IN);
    ck_assert_str_eq(sel->reqs[3].key, "tier");
    ck_assert_int_eq(sel->reqs[3].op, SELECTOR_NOT_IN);
    ck_assert_uint_eq(sel->reqs[3].n_values, 2);
    ck_assert_str_eq(sel->reqs[3].values[0], "a");
    ck_assert_str_eq(sel->reqs[3].values[1], "b");
    ck_assert_str_eq(sel->reqs[4].key, "zone");

    /* The same selector written differently compares equal. */
    struct np_policy *q = parse_one_policy(SEL(
        "{matchExpressions: [{key: zone, operator: In, values: [a]}, "
        "{key: tier, operator: In, values: [c]}, "
        "{key: app, operator: Exists}, "
        "{key: tier, operator: NotIn, values: [a, b]}], "
        "matchLabels: {app: web}}"));
    ck_assert(selector_equal(&p->pod_selector, &q->pod_selector));
    ck_assert(np_policy_equal(p, q));
    np_policy_destroy(p);
    np_policy_destroy(q);
}
END_TEST

START_TEST(test_ip_block)
{
    struct np_policy *p = parse_one_policy(FROM(
        "{ipBlock: {cidr: 10.1.2.3/8, except: [10.1.0.0/16, 10.2.3.4/32]}}, "
        "{ipBlock: {cidr: 'fd00::/8', except: ['fd00:1::/32']}}, "
        "{ipBlock: {cidr: 0.0.0.0/0}}"));
    const struct np_peer *peers = p->rules[NP_INGRESS][0].peers;

    ck_assert(peers[0].is_ip_block);
    ck_assert_ptr_null(peers[0].pod_selector);
    ck_assert_ptr_null(peers[0].ns_selector);
    assert_cidr(&peers[0].cidr, "10.0.0.0/8");       /* Host bits cleared. */
    ck_assert_uint_eq(peers[0].n_except, 2);
    assert_cidr(&peers[0].except[0], "10.1.0.0/16");
    assert_cidr(&peers[0].except[1], "10.2.3.4/32");
    assert_cidr(&peers[1].cidr, "fd00::/8");
    assert_cidr(&peers[1].except[0], "fd00:1::/32");
    assert_cidr(&peers[2].cidr, "0.0.0.0/0");
    ck_assert_uint_eq(peers[2].n_except, 0);
    np_policy_destroy(p);
}
END_TEST

START_TEST(test_pod)
{
    struct result result;

    parse(POD("spec:\n  nodeName: node-1\n  hostNetwork: yes\n"
              "  containers:\n"
              "  - ports: [{name: http, containerPort: 8080}, "
              "{containerPort: 53, protocol: UDP}]\n"
              "  - ports: [{name: http, containerPort: 9090, "
              "protocol: SCTP}]\n"
              "status:\n  phase: Failed\n  podIP: 10.0.0.9\n"
              "  podIPs: [{ip: 'fd00::1'}, {ip: 10.0.0.2}, {ip: 10.0.0.2}, "
              "{ip: '::ffff:1.2.3.4'}]"), &result);
    assert_problems(&result, "");
    const struct np_pod *pod = get_pod(&result, 0);

    ck_assert_str_eq(pod->namespace, "default");
    ck_assert_str_eq(pod->node_name, "node-1");
    ck_assert(pod->host_network);
    ck_assert(pod->terminated);

    /* podIPs win over podIP; sorted, unique, as host prefixes. */
    ck_assert_uint_eq(pod->n_ips, 3);
    for (size_t i = 1; i < pod->n_ips; i++) {
        ck_assert_int_lt(cidr_compare(&pod->ips[i - 1], &pod->ips[i]), 0);
    }
    for (size_t i = 0; i < pod->n_ips; i++) {
        ck_assert(cidr_is_host(&pod->ips[i]));
    }

    ck_assert_uint_eq(pod->n_ports, 3);
    ck_assert_str_eq(pod->ports[0].name, "http");
    ck_assert_int_eq(pod->ports[0].port, 8080);
    ck_assert_int_eq(pod->ports[0].protocol, NP_TCP);
    ck_assert_ptr_null(pod->ports[1].name);
    ck_assert_int_eq(pod->ports[1].protocol, NP_UDP);
    ck_assert_int_eq(pod->ports[2].port, 9090);    /* Other container. */
    ck_assert_int_eq(pod->ports[2].protocol, NP_SCTP);
    result_destroy(&result);

    /* The legacy podIP alone; no spec at all; Running is not
     * terminated. */
    parse(POD("status: {phase: Running, podIP: 10.9.9.9}"), &result);
    assert_problems(&result, "");
    pod = get_pod(&result, 0);
    ck_assert_uint_eq(pod->n_ips, 1);
    assert_cidr(&pod->ips[0], "10.9.9.9/32");
    ck_assert_ptr_null(pod->node_name);
    ck_assert(!pod->host_network);
    ck_assert(!pod->terminated);
    ck_assert_uint_eq(pod->n_ports, 0);
    result_destroy(&result);
}
END_TEST

START_TEST(test_namespace_label)
{
    struct result result;

    /* Added when missing, overridden when wrong (the API server keeps it
     * equal to the name). */
    parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, "
          "labels: {team: a}}\n---\napiVersion: v1\nkind: Namespace\n"
          "metadata: {name: dev, labels: "
          "{kubernetes.io/metadata.name: prod}}\n", &result);
    assert_problems(&result, "");
    const struct np_namespace *ns = get_namespace(&result, 0);
    ck_assert_str_eq(ns->name, "prod");
    ck_assert_uint_eq(ns->labels.n, 2);
    ck_assert_str_eq(ns->labels.items[0].key, "kubernetes.io/metadata.name");
    ck_assert_str_eq(labels_get(&ns->labels, "kubernetes.io/metadata.name"),
                     "prod");
    ck_assert_str_eq(labels_get(&ns->labels, "team"), "a");

    ns = get_namespace(&result, 1);
    ck_assert_uint_eq(ns->labels.n, 1);
    ck_assert_str_eq(labels_get(&ns->labels, "kubernetes.io/metadata.name"),
                     "dev");

    /* A Namespace ignores metadata.namespace. */
    ck_assert_str_eq(np_object_namespace(&result.objs[1]), "");
    result_destroy(&result);
}
END_TEST

START_TEST(test_labels_sorted)
{
    struct result result;

    parse(POD("metadata: {name: p, labels: {zeta: '1', alpha: '2', "
              "example.com/mid: '', Beta: x.y_z-9}}"), &result);
    assert_problems(&result, "");
    const struct labels *labels = &get_pod(&result, 0)->labels;
    ck_assert_uint_eq(labels->n, 4);
    ck_assert_str_eq(labels->items[0].key, "Beta");
    ck_assert_str_eq(labels->items[1].key, "alpha");
    ck_assert_str_eq(labels->items[2].key, "example.com/mid");
    ck_assert_str_eq(labels->items[2].value, "");
    ck_assert_str_eq(labels->items[3].key, "zeta");
    result_destroy(&result);
}
END_TEST

START_TEST(test_unknown_fields_ignored)
{
    struct np_policy *p = parse_one_policy(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "status: {anything: [1, 2]}\nextra: 7\n"
        "metadata: {name: deny, namespace: x, uid: abc, generation: 3, "
        "annotations: {a: b}, finalizers: [x]}\n"
        "spec: {newField: true, podSelector: {matchLabels: {a: b}, "
        "futureThing: 1}, ingress: [{from: [{podSelector: {}, "
        "futurePeerField: {}}], ports: [{port: 80, futurePortField: 1}], "
        "futureRuleField: []}]}\n");
    struct np_policy *q = parse_one_policy(POLICY(
        "{podSelector: {matchLabels: {a: b}}, ingress: [{from: "
        "[{podSelector: {}}], ports: [{port: 80}]}]}"));

    ck_assert(np_policy_equal(p, q));
    np_policy_destroy(p);
    np_policy_destroy(q);
}
END_TEST

START_TEST(test_ignored_kinds)
{
    struct result result;

    parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
          "spec: {this: [is, not, checked]}\n---\n"
          "apiVersion: v1\nkind: Service\nmetadata: {name: 'Not Valid'}\n"
          "---\napiVersion: v1\nkind: ConfigMapList\nitems: []\n",
          &result);
    assert_problems(&result, "");
    ck_assert_uint_eq(result.n, 0);
    ck_assert(result.ok);
    result_destroy(&result);
}
END_TEST

START_TEST(test_object_identify)
{
    json_t *json = json_loads(
        "{\"kind\": \"NetworkPolicy\", \"apiVersion\": "
        "\"networking.k8s.io/v1\", \"metadata\": {\"name\": \"p\"}}",
        0, NULL);
    enum np_kind kind;
    const char *ns, *name;

    ck_assert(np_object_identify(json, &kind, &ns, &name));
    ck_assert_int_eq(kind, NP_KIND_POLICY);
    ck_assert_str_eq(ns, "default");
    ck_assert_str_eq(name, "p");

    json_object_set_new(json, "apiVersion",
                        json_string("extensions/v1beta1"));
    ck_assert(!np_object_identify(json, &kind, &ns, &name));
    json_decref(json);

    json = json_loads("{\"kind\": \"Namespace\", \"metadata\": "
                      "{\"name\": \"n\", \"namespace\": \"q\"}}", 0, NULL);
    ck_assert(np_object_identify(json, &kind, &ns, &name));
    ck_assert_int_eq(kind, NP_KIND_NAMESPACE);
    ck_assert_str_eq(ns, "");
    json_decref(json);

    json = json_loads("{\"kind\": \"Pod\", \"metadata\": "
                      "{\"namespace\": \"q\"}}", 0, NULL);
    ck_assert(!np_object_identify(json, &kind, &ns, &name));
    json_decref(json);

    json = json_loads("{\"kind\": \"Service\", \"metadata\": "
                      "{\"name\": \"s\"}}", 0, NULL);
    ck_assert(!np_object_identify(json, &kind, &ns, &name));
    json_decref(json);
}
END_TEST

START_TEST(test_object_from_json)
{
    json_t *json = json_loads(
        "{\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": "
        "{\"name\": \"p\", \"namespace\": \"n\"}}", 0, NULL);
    struct np_problems problems;
    struct np_object obj;

    np_problems_init(&problems);
    ck_assert_int_eq(np_object_from_json(json, NULL, &obj, &problems),
                     NP_PARSE_OK);
    ck_assert_int_eq(obj.kind, NP_KIND_POD);
    ck_assert_str_eq(np_object_namespace(&obj), "n");
    ck_assert_str_eq(np_object_name(&obj), "p");
    np_object_destroy(&obj);
    json_decref(json);

    /* A list is not an object policy cares about. */
    json = json_loads("{\"kind\": \"List\", \"items\": []}", 0, NULL);
    ck_assert_int_eq(np_object_from_json(json, NULL, &obj, &problems),
                     NP_PARSE_IGNORED);
    json_decref(json);

    json = json_loads("[1]", 0, NULL);
    ck_assert_int_eq(np_object_from_json(json, "w", &obj, &problems),
                     NP_PARSE_INVALID);
    char *text = problems_text(&problems);
    ck_assert_str_eq(text, "w: must be an object, not a list");
    free(text);
    json_decref(json);
    np_problems_destroy(&problems);
}
END_TEST

/* Documents, lists and the two syntaxes. */

START_TEST(test_yaml_json_equivalent)
{
    struct result yaml, json;

    parse_fixture("policies.yaml", &yaml);
    parse_fixture("policies.json", &json);
    assert_problems(&yaml, "");
    assert_problems(&json, "");
    ck_assert(yaml.ok && json.ok);
    ck_assert_uint_eq(yaml.n, 4);           /* The Deployment is skipped. */
    ck_assert_uint_eq(json.n, 4);

    ck_assert(np_policy_equal(get_policy(&yaml, 0), get_policy(&json, 0)));
    ck_assert(np_policy_equal(get_policy(&yaml, 1), get_policy(&json, 1)));
    ck_assert(labels_equal(&get_namespace(&yaml, 2)->labels,
                           &get_namespace(&json, 2)->labels));
    ck_assert(np_pod_equal(get_pod(&yaml, 3), get_pod(&json, 3)));

    /* And what they read is right. */
    const struct np_policy *p = get_policy(&yaml, 0);
    ck_assert_str_eq(p->namespace, "x");
    assert_selector(&p->pod_selector,
                    "app=web,!debug,tier in (backend,frontend)");
    ck_assert_uint_eq(p->n_rules[NP_INGRESS], 1);
    ck_assert_uint_eq(p->rules[NP_INGRESS][0].n_peers, 2);
    ck_assert_uint_eq(p->rules[NP_INGRESS][0].n_ports, 3);
    ck_assert_uint_eq(p->n_rules[NP_EGRESS], 2);
    ck_assert(p->isolates[NP_INGRESS] && p->isolates[NP_EGRESS]);

    p = get_policy(&yaml, 1);
    ck_assert_str_eq(p->namespace, "default");
    ck_assert_uint_eq(p->n_rules[NP_INGRESS], 0);

    const struct np_pod *pod = get_pod(&yaml, 3);
    ck_assert_uint_eq(pod->n_ips, 2);
    ck_assert_uint_eq(pod->n_ports, 2);
    result_destroy(&yaml);
    result_destroy(&json);
}
END_TEST

START_TEST(test_multi_document)
{
    struct result result;

    /* Empty documents (and a comment-only one) are skipped; "..." ends a
     * document. */
    parse("---\n---\n# nothing\n---\n"
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\n"
          "---\n~\n---\n"
          "{apiVersion: v1, kind: Namespace, metadata: {name: b}}\n---\n",
          &result);
    assert_problems(&result, "");
    ck_assert_uint_eq(result.n, 2);
    ck_assert_str_eq(get_namespace(&result, 0)->name, "a");
    ck_assert_str_eq(get_namespace(&result, 1)->name, "b");
    result_destroy(&result);

    /* Nothing at all. */
    parse("", &result);
    ck_assert(result.ok);
    ck_assert_uint_eq(result.n + result.problems.n, 0);
    result_destroy(&result);
    parse(" \n  \n# comment\n", &result);
    ck_assert(result.ok);
    ck_assert_uint_eq(result.n + result.problems.n, 0);
    result_destroy(&result);

    /* A document that is not an object. */
    parse("just text\n---\napiVersion: v1\nkind: Namespace\n"
          "metadata: {name: c}\n", &result);
    assert_problems(&result, "must be an object, not a string");
    ck_assert_uint_eq(result.n, 1);
    result_destroy(&result);
}
END_TEST

START_TEST(test_list_kinds)
{
    struct result result;

    parse_fixture("kubectl-list.yaml", &result);
    assert_problems(&result, "");
    ck_assert(result.ok);
    ck_assert_uint_eq(result.n, 4);
    ck_assert_str_eq(get_namespace(&result, 0)->name, "ns-b");
    ck_assert_str_eq(get_policy(&result, 1)->name, "p1");
    ck_assert_str_eq(get_policy(&result, 2)->name, "p2");
    ck_assert(get_policy(&result, 2)->isolates[NP_EGRESS]);
    ck_assert_str_eq(get_pod(&result, 3)->name, "c");
    result_destroy(&result);

    /* API list responses: items without kind or apiVersion. */
    parse_fixture("podlist-api.json", &result);
    assert_problems(&result, "");
    ck_assert_uint_eq(result.n, 2);
    ck_assert_str_eq(get_pod(&result, 0)->namespace, "y");
    ck_assert_str_eq(get_pod(&result, 0)->node_name, "node-2");
    ck_assert(get_pod(&result, 1)->host_network);
    ck_assert(get_pod(&result, 1)->terminated);
    result_destroy(&result);

    /* Nested lists in JSON, a bare JSON array, and a second JSON value. */
    parse("{\"kind\": \"List\", \"items\": [{\"kind\": \"NamespaceList\", "
          "\"apiVersion\": \"v1\", \"items\": [{\"metadata\": "
          "{\"name\": \"n1\"}}, {\"metadata\": {\"name\": \"n2\"}}]}, "
          "{\"kind\": \"List\", \"items\": null}, "
          "{\"kind\": \"List\", \"items\": [{\"kind\": \"List\", "
          "\"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
          "\"metadata\": {\"name\": \"n3\"}}]}]}]}\n"
          "[{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
          "\"metadata\": {\"name\": \"n4\"}}]\n"
          "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
          "\"metadata\": {\"name\": \"n5\"}}", &result);
    assert_problems(&result, "");
    ck_assert_uint_eq(result.n, 5);
    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", i + 1);
        ck_assert_str_eq(get_namespace(&result, i)->name, name);
    }
    result_destroy(&result);

    /* Items of a generic List need a kind; items of a typed list that
     * give another kind keep it. */
    parse("{\"kind\": \"List\", \"items\": [{\"metadata\": {\"name\": "
          "\"a\"}}, 7]}\n{\"kind\": \"PodList\", \"apiVersion\": \"v1\", "
          "\"items\": {}}\n{\"kind\": \"PodList\", \"apiVersion\": \"v1\", "
          "\"items\": [{\"kind\": \"Namespace\", \"metadata\": "
          "{\"name\": \"q\"}}]}", &result);
    assert_problems(&result,
                    "object a: kind: required\n"
                    "List: items[1]: must be an object, not an integer\n"
                    "PodList: items: must be a list, not an object\n"
                    "Namespace q: apiVersion: required");
    ck_assert_uint_eq(result.n, 0);
    ck_assert(result.ok);
    result_destroy(&result);
}
END_TEST

START_TEST(test_bad_object_skipped)
{
    struct result result;

    parse_fixture("mixed-bad.yaml", &result);
    ck_assert(result.ok);
    assert_problems(&result,
                    "mixed-bad.yaml: NetworkPolicy z/bad: spec.ingress[0]"
                    ".from[0]: must specify podSelector, namespaceSelector "
                    "or ipBlock\n"
                    "mixed-bad.yaml: NetworkPolicy z/bad: spec.ingress[0]"
                    ".ports[0].port: must be between 1 and 65535, not 0\n"
                    "mixed-bad.yaml: NetworkPolicy z/bad: spec.ingress[0]"
                    ".ports[1].endPort: may not be set when port is a name");
    ck_assert_uint_eq(result.n, 2);
    ck_assert_str_eq(get_namespace(&result, 0)->name, "z");
    ck_assert_str_eq(get_policy(&result, 1)->name, "good");
    result_destroy(&result);

    /* The same in a JSON list. */
    parse("{\"kind\": \"List\", \"items\": ["
          "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": "
          "{\"name\": \"ok1\"}},"
          "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": "
          "{\"name\": \"bad\"}, \"spec\": {\"hostNetwork\": 1}},"
          "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": "
          "{\"name\": \"ok2\"}}]}", &result);
    assert_problems(&result, "Pod default/bad: spec.hostNetwork: must be a "
                    "boolean, not an integer");
    ck_assert_uint_eq(result.n, 2);
    ck_assert_str_eq(get_pod(&result, 1)->name, "ok2");
    result_destroy(&result);
}
END_TEST

START_TEST(test_syntax_errors)
{
    struct result result;
    const char *yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n"
                       "  name: a\n    labels: {}\n";
    const char *json = "{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",\n"
                       " \"metadata\": {\"name\": \"a\",}}";

    parse_buf(yaml, strlen(yaml), "bad.yaml", &result);
    ck_assert(!result.ok);
    ck_assert_uint_eq(result.n, 0);
    ck_assert_uint_eq(result.problems.n, 1);
    assert_contains(result.problems.items[0].message, "line 5, column 11: ");
    ck_assert_str_eq(result.problems.items[0].source, "bad.yaml");
    result_destroy(&result);

    parse_buf(json, strlen(json), "bad.json", &result);
    ck_assert(!result.ok);
    ck_assert_uint_eq(result.problems.n, 1);
    assert_contains(result.problems.items[0].message, "line 3, column ");
    result_destroy(&result);

    /* Objects before the error were delivered; the caller decides. */
    parse("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": "
          "{\"name\": \"a\"}} {\"kind\": ", &result);
    ck_assert(!result.ok);
    ck_assert_uint_eq(result.n, 1);
    assert_problems(&result, "line 1, column 79: unexpected end of input");
    result_destroy(&result);

    parse("{\"kind\": \"List\", \"items\": [{}  {}]}", &result);
    ck_assert(!result.ok);
    assert_problems(&result, "object <unnamed>: kind: required\n"
                    "line 1, column 32: expected ',' or ']'");
    result_destroy(&result);

    parse("{\"kind\" \"List\"}", &result);
    assert_problems(&result, "line 1, column 9: expected ':'");
    result_destroy(&result);

    parse("[1, 2", &result);
    ck_assert(!result.ok);
    assert_problems(&result, "[0]: must be an object, not an integer\n"
                    "[1]: must be an object, not an integer\n"
                    "line 1, column 6: expected ',' or ']'");
    result_destroy(&result);

    /* Bad tokens inside a value: jansson's message. */
    parse("{\"a\": [tru]}", &result);
    ck_assert(!result.ok);
    assert_contains(result.problems.items[0].message, "line 1, column ");
    result_destroy(&result);

    /* Unterminated YAML flow, unknown alias, bad tag. */
    parse("a: [1, 2\n", &result);
    ck_assert(!result.ok);
    assert_contains(result.problems.items[0].message, "line 2, column 1: ");
    result_destroy(&result);
    parse("a: *nothing\n", &result);
    assert_problems(&result,
                    "line 1, column 4: unknown anchor \"nothing\"");
    result_destroy(&result);
    parse("a: !!int abc\n", &result);
    assert_problems(&result,
                    "line 1, column 4: \"abc\" is not a valid !!int");
    result_destroy(&result);
    parse("a: !custom x\n", &result);
    assert_problems(&result, "line 1, column 4: unsupported tag !custom");
    result_destroy(&result);
    parse("a: .inf\n", &result);
    assert_problems(&result,
                    "line 1, column 4: .inf cannot be represented in JSON");
    result_destroy(&result);
    parse("a: \"x\\0y\"\n", &result);
    assert_problems(&result,
                    "line 1, column 4: NUL characters are not supported");
    result_destroy(&result);
    parse("? [a]\n: b\n", &result);
    assert_problems(&result,
                    "line 1, column 3: mapping keys must be scalars");
    result_destroy(&result);
}
END_TEST

/* YAML scalars. */

/* Returns the JSON text of the one document in 'yaml'. */
static char *
yaml_doc_text(const char *yaml)
{
    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json(yaml, strlen(yaml), &docs, &n_docs);

    ck_assert_msg(!error, "%s", error);
    ck_assert_uint_eq(n_docs, 1);
    char *text = json_dumps(docs[0], JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(docs[0]);
    free(docs);
    return text;
}

static void
assert_yaml(const char *yaml, const char *expected_json)
{
    char *text = yaml_doc_text(yaml);
    ck_assert_msg(!strcmp(text, expected_json), "YAML \"%s\": got %s, "
                  "want %s", yaml, text, expected_json);
    free(text);
}

START_TEST(test_yaml_scalars)
{
    assert_yaml("[~, null, Null, NULL, '', !!null '']",
                "[null,null,null,null,\"\",null]");
    assert_yaml("{a: , b: \"\"}", "{\"a\":null,\"b\":\"\"}");
    assert_yaml("[true, True, TRUE, false, yes, Yes, YES, no, NO, on, On, "
                "off, OFF, y, Y, n, N, tRUE]",
                "[true,true,true,false,true,true,true,false,false,true,true,"
                "false,false,\"y\",\"Y\",\"n\",\"N\",\"tRUE\"]");
    assert_yaml("[0, -17, +5, 0x1F, 0o17, 080, 9223372036854775807, "
                "-9223372036854775808]",
                "[0,-17,5,31,15,80,9223372036854775807,"
                "-9223372036854775808]");
    assert_yaml("[1.5, -.5, 1e3, 2., 0.0]", "[1.5,-0.5,1000.0,2.0,0.0]");
    assert_yaml("a: 'yes'\nb: \"80\"\nc: |\n  block\n"
                "d: >-\n  folded\n  text\n",
                "{\"a\":\"yes\",\"b\":\"80\",\"c\":\"block\\n\","
                "\"d\":\"folded text\"}");
    assert_yaml("[!!str 80, !!str yes, !!int \"80\", !!float 1, "
                "!!bool \"on\", !!null ~, ! 12]",
                "[\"80\",\"yes\",80,1.0,true,null,\"12\"]");
    assert_yaml("[0x, 0o8, 1_000, 1.2.3, 12:30, 0b101, +.5e, 'a']",
                "[\"0x\",\"0o8\",\"1_000\",\"1.2.3\",\"12:30\",\"0b101\","
                "\"+.5e\",\"a\"]");
    /* Keys keep their text. */
    assert_yaml("{on: 1, 80: 2, null: 3, ~: 4}",
                "{\"on\":1,\"80\":2,\"null\":3,\"~\":4}");

    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json("a: 99999999999999999999\n", 24, &docs,
                               &n_docs);
    ck_assert_str_eq(error, "line 1, column 4: integer 99999999999999999999 "
                     "is out of range");
    ck_assert_ptr_null(docs);
    ck_assert_uint_eq(n_docs, 0);
    free(error);
}
END_TEST

START_TEST(test_yaml_scalars_in_objects)
{
    struct result result;

    /* hostNetwork: on is true; a quoted "true" is a string; !!str makes
     * a number a (bad) port name; 0x50 is port 80. */
    parse(POD("spec: {hostNetwork: on}"), &result);
    assert_problems(&result, "");
    ck_assert(get_pod(&result, 0)->host_network);
    result_destroy(&result);

    parse(PORT("{port: !!str 80}, {port: 0x50}"), &result);
    assert_problems(&result, NP "spec.ingress[0].ports[0].port: invalid "
                    "value \"80\": must contain at least one letter");
    result_destroy(&result);

    struct np_policy *p = parse_one_policy(PORT("{port: 0x50}"));
    ck_assert_int_eq(p->rules[NP_INGRESS][0].ports[0].port, 80);
    np_policy_destroy(p);

    /* An unquoted label value "yes" is a boolean, as kubectl says too. */
    parse(SEL("{matchLabels: {enabled: yes}}"), &result);
    assert_problems(&result, NP "spec.podSelector.matchLabels[enabled]: "
                    "must be a string, not a boolean");
    result_destroy(&result);
}
END_TEST

START_TEST(test_yaml_anchors)
{
    const char *text =
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: x}\n"
        "spec:\n"
        "  podSelector: &web {matchLabels: {app: web}}\n"
        "  ingress:\n"
        "  - from: [{podSelector: *web}, {podSelector: *web}]\n"
        "    ports: &ports [{port: 80}, {port: 443}]\n"
        "  egress:\n"
        "  - ports: *ports\n"
        "    to:\n"
        "    - <<: {podSelector: *web}\n"
        "      namespaceSelector: {}\n";
    struct np_policy *p = parse_one_policy(text);

    assert_selector(&p->pod_selector, "app=web");
    assert_selector(p->rules[NP_INGRESS][0].peers[1].pod_selector,
                    "app=web");
    ck_assert_uint_eq(p->rules[NP_EGRESS][0].n_ports, 2);
    ck_assert_int_eq(p->rules[NP_EGRESS][0].ports[1].port, 443);
    assert_selector(p->rules[NP_EGRESS][0].peers[0].pod_selector, "app=web");
    assert_selector(p->rules[NP_EGRESS][0].peers[0].ns_selector, "<all>");
    np_policy_destroy(p);

    /* Explicit keys win over merged ones, earlier merges over later. */
    assert_yaml("{a: &a {x: 1, y: 1}, b: &b {y: 2, z: 2}, "
                "c: {<<: [*a, *b], x: 3}}",
                "{\"a\":{\"x\":1,\"y\":1},\"b\":{\"y\":2,\"z\":2},"
                "\"c\":{\"x\":3,\"y\":1,\"z\":2}}");

    /* A list kind given by an alias: the list is read whole instead of
     * streamed, with the same result. */
    struct result result;
    parse("k: &k NamespaceList\nkind: *k\napiVersion: v1\nitems:\n"
          "- metadata: {name: a1}\n- metadata: {name: a2}\n", &result);
    assert_problems(&result, "");
    ck_assert_uint_eq(result.n, 2);
    ck_assert_str_eq(get_namespace(&result, 1)->name, "a2");
    result_destroy(&result);

    /* Anchors are per document. */
    parse("a: &x 1\n---\nb: *x\n", &result);
    ck_assert(!result.ok);
    assert_problems(&result, "object <unnamed>: kind: required\n"
                    "line 3, column 4: unknown anchor \"x\"");
    result_destroy(&result);
}
END_TEST

/* Hostile input. */

START_TEST(test_billion_laughs)
{
    const char *text =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
        "\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
        "kind: Pod\napiVersion: v1\nmetadata: {name: lol}\n";
    struct result result;
    long long int start = cpu_msec();

    parse(text, &result);
    ck_assert_int_lt(cpu_msec() - start, QUICK_MSEC);
    ck_assert(!result.ok);
    ck_assert_uint_eq(result.n, 0);
    ck_assert_uint_eq(result.problems.n, 1);
    assert_contains(result.problems.items[0].message,
                    "more than 200000 values in one object");
    result_destroy(&result);

    /* The same shape, small enough, is fine: aliases share values. */
    assert_yaml("a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n",
                "{\"a\":[1,2],\"b\":[[1,2],[1,2]],"
                "\"c\":[[[1,2],[1,2]],[[1,2],[1,2]]]}");
}
END_TEST

static void
assert_refused_quickly(const char *buf, size_t size, const char *message)
{
    struct result result;
    long long int start = cpu_msec();

    parse_buf(buf, size, "hostile", &result);
    ck_assert_int_lt(cpu_msec() - start, QUICK_MSEC);
    ck_assert(!result.ok);
    ck_assert_uint_eq(result.n, 0);
    ck_assert_uint_eq(result.problems.n, 1);
    assert_contains(result.problems.items[0].message, message);
    result_destroy(&result);
}

START_TEST(test_deep_nesting)
{
    const int depth = 10000;
    struct ds s = DS_EMPTY_INITIALIZER;

    /* JSON arrays. */
    ds_put_char_multiple(&s, '[', depth);
    ds_put_char_multiple(&s, ']', depth);
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "line 1, column 65: nesting deeper than 64 "
                           "levels");

    /* JSON objects. */
    ds_clear(&s);
    for (int i = 0; i < depth; i++) {
        ds_put_cstr(&s, "{\"a\":");
    }
    ds_put_cstr(&s, "1");
    ds_put_char_multiple(&s, '}', depth);
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "nesting deeper than 64 levels");

    /* JSON nesting inside a list item. */
    ds_clear(&s);
    ds_put_cstr(&s, "{\"kind\": \"List\", \"items\": [");
    ds_put_char_multiple(&s, '[', depth);
    ds_put_char_multiple(&s, ']', depth);
    ds_put_cstr(&s, "]}");
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "nesting deeper than 64 levels");

    /* YAML flow style. */
    ds_clear(&s);
    ds_put_cstr(&s, "a: ");
    ds_put_char_multiple(&s, '[', depth);
    ds_put_char_multiple(&s, ']', depth);
    ds_put_char(&s, '\n');
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "nesting deeper than 64 levels");

    /* YAML block style: "- - - - ... x". */
    ds_clear(&s);
    for (int i = 0; i < depth; i++) {
        ds_put_cstr(&s, "- ");
    }
    ds_put_cstr(&s, "x\n");
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "line 1, column 129: nesting deeper than 64 "
                           "levels");

    /* Exactly the limit is fine. */
    ds_clear(&s);
    ds_put_char_multiple(&s, '[', 64);
    ds_put_char_multiple(&s, ']', 64);
    struct result result;
    parse_buf(ds_cstr(&s), s.length, NULL, &result);
    ck_assert(result.ok);
    assert_problems(&result, "[0]: must be an object, not a list");
    result_destroy(&result);
    ds_destroy(&s);
}
END_TEST

/* Found with tests/fuzz/fuzz-yaml.c: an alias expands its anchored value
 * where it is used, so a chain of aliases of deeply nested values could
 * nest thousands of levels deep while staying within the value limit. */
START_TEST(test_deep_aliases)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (int i = 0; i < 80; i++) {
        ds_put_format(&s, "a%d: &a%d ", i, i);
        ds_put_char_multiple(&s, '[', 60);
        if (i) {
            ds_put_format(&s, "*a%d", i - 1);
        }
        ds_put_char_multiple(&s, ']', 60);
        ds_put_char(&s, '\n');
    }
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "line 2, column 69: nesting deeper than 64 "
                           "levels (expanding alias \"a0\")");

    /* Within the limit: an anchor 32 deep, used at level 32 (inside 31
     * sequences, in a mapping), reaches exactly level 64. */
    ds_clear(&s);
    ds_put_cstr(&s, "a: &a ");
    ds_put_char_multiple(&s, '[', 31);
    ds_put_cstr(&s, "[x]");
    ds_put_char_multiple(&s, ']', 31);
    ds_put_cstr(&s, "\nb: ");
    ds_put_char_multiple(&s, '[', 31);
    ds_put_cstr(&s, "*a");
    ds_put_char_multiple(&s, ']', 31);
    ds_put_char(&s, '\n');
    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json(ds_cstr(&s), s.length, &docs, &n_docs);
    ck_assert_msg(!error, "%s", error);
    ck_assert_uint_eq(n_docs, 1);
    json_decref(docs[0]);
    free(docs);

    /* One level more is refused. */
    ds_clear(&s);
    ds_put_cstr(&s, "a: &a ");
    ds_put_char_multiple(&s, '[', 32);
    ds_put_cstr(&s, "[x]");
    ds_put_char_multiple(&s, ']', 32);
    ds_put_cstr(&s, "\nb: ");
    ds_put_char_multiple(&s, '[', 31);
    ds_put_cstr(&s, "*a");
    ds_put_char_multiple(&s, ']', 31);
    ds_put_char(&s, '\n');
    error = yaml_to_json(ds_cstr(&s), s.length, &docs, &n_docs);
    ck_assert_ptr_nonnull(error);
    assert_contains(error, "nesting deeper than 64 levels (expanding alias "
                    "\"a\")");
    free(error);
    ds_destroy(&s);
}
END_TEST

START_TEST(test_huge_buffer)
{
    /* One allocation: the buffer is refused before it is read. */
    size_t size = MANIFEST_MAX_SIZE + 1;
    char *buf = np_xmalloc(size);
    memset(buf, ' ', size);

    assert_refused_quickly(buf, size, "input of 67108865 bytes is larger "
                           "than the limit of 64 MiB");

    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json(buf, size, &docs, &n_docs);
    ck_assert_ptr_nonnull(error);
    free(error);
    free(buf);
}
END_TEST

START_TEST(test_million_labels)
{
    const int n = 1000000;
    struct ds s = DS_EMPTY_INITIALIZER;

    /* JSON. */
    ds_put_cstr(&s, "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", "
                "\"metadata\": {\"name\": \"p\", \"labels\": {");
    for (int i = 0; i < n; i++) {
        ds_put_format(&s, "%s\"k%d\": \"v\"", i ? ", " : "", i);
    }
    ds_put_cstr(&s, "}}}");
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "more than 200000 values in one object");

    /* YAML. */
    ds_clear(&s);
    ds_put_cstr(&s, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                "  labels:\n");
    for (int i = 0; i < n; i++) {
        ds_put_format(&s, "    k%d: v\n", i);
    }
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "more than 200000 values in one object");
    ds_destroy(&s);
}
END_TEST

START_TEST(test_many_aliases)
{
    /* 300,000 aliases of one anchor in one object: cheap to expand (they
     * share), but still counted. */
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&s, "a: &x v\nb: [");
    for (int i = 0; i < 300000; i++) {
        ds_put_cstr(&s, "*x, ");
    }
    ds_put_cstr(&s, "]\n");
    assert_refused_quickly(ds_cstr(&s), s.length,
                           "more than 200000 values in one object");
    ds_destroy(&s);
}
END_TEST

/* Streaming. */

struct stream_stats {
    size_t n_pods;
    size_t baseline;
    size_t peak;
};

static void
count_and_drop(struct np_object *obj, void *stats_)
{
    struct stream_stats *stats = stats_;
    size_t in_use = heap_in_use();

    if (in_use > stats->peak) {
        stats->peak = in_use;
    }
    ck_assert_int_eq(obj->kind, NP_KIND_POD);
    stats->n_pods++;
    np_object_destroy(obj);
    free(obj);
}

/* Appends a pod, as the API server lists it (no kind), in JSON or YAML. */
static void
put_pod(struct ds *s, int i, bool yaml)
{
    if (yaml) {
        ds_put_format(s, "- metadata: {name: pod-%d, namespace: ns-%d, "
                      "labels: {app: app-%d, tier: t%d}}\n"
                      "  spec: {nodeName: node-%d, containers: [{name: c, "
                      "ports: [{name: http, containerPort: 8080}]}]}\n"
                      "  status: {podIP: 10.%d.%d.%d}\n",
                      i, i % 100, i % 1000, i % 3, i % 500,
                      (i >> 16) & 255, (i >> 8) & 255, i & 255);
    } else {
        ds_put_format(s, "%s{\"metadata\": {\"name\": \"pod-%d\", "
                      "\"namespace\": \"ns-%d\", \"labels\": {\"app\": "
                      "\"app-%d\", \"tier\": \"t%d\"}}, \"spec\": "
                      "{\"nodeName\": \"node-%d\", \"containers\": "
                      "[{\"name\": \"c\", \"ports\": [{\"name\": \"http\", "
                      "\"containerPort\": 8080}]}]}, \"status\": "
                      "{\"podIP\": \"10.%d.%d.%d\"}}\n",
                      i ? "," : "", i, i % 100, i % 1000, i % 3, i % 500,
                      (i >> 16) & 255, (i >> 8) & 255, i & 255);
    }
}

/* Reads a generated list of 'n' pods and checks that the heap never grew by
 * more than 'max_growth' bytes over what the buffer itself takes: a reader
 * that built the whole list would need hundreds of MB. */
static void
check_streaming(int n, bool yaml, size_t max_growth)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    if (yaml) {
        /* kubectl's key order: "items" before "kind". */
        ds_put_cstr(&s, "apiVersion: v1\nitems:\n");
        for (int i = 0; i < n; i++) {
            put_pod(&s, i, true);
        }
        ds_put_cstr(&s, "kind: PodList\nmetadata: {resourceVersion: '1'}\n");
    } else {
        ds_put_cstr(&s, "{\"kind\": \"PodList\", \"apiVersion\": \"v1\", "
                    "\"metadata\": {\"resourceVersion\": \"1\"}, "
                    "\"items\": [\n");
        for (int i = 0; i < n; i++) {
            put_pod(&s, i, false);
        }
        ds_put_cstr(&s, "]}\n");
    }

    struct np_problems problems;
    struct stream_stats stats = { .n_pods = 0 };
    np_problems_init(&problems);
    stats.baseline = stats.peak = heap_in_use();
    bool ok = manifest_parse(ds_cstr(&s), s.length, NULL, count_and_drop,
                             &stats, &problems);
    char *text = problems_text(&problems);
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert(ok);
    ck_assert_uint_eq(stats.n_pods, n);
    ck_assert_msg(stats.peak - stats.baseline < max_growth,
                  "heap grew by %zu bytes reading a %zu-byte list",
                  stats.peak - stats.baseline, s.length);
    np_problems_destroy(&problems);

    if (!yaml) {
        /* The probe works: holding the whole list costs far more. */
        json_t *whole = json_loadb(ds_cstr(&s), s.length, 0, NULL);
        ck_assert_ptr_nonnull(whole);
        ck_assert_uint_gt(heap_in_use() - stats.baseline, 10 * max_growth);
        json_decref(whole);
    }
    ds_destroy(&s);
}

START_TEST(test_stream_json)
{
    check_streaming(100000, false, 8 << 20);
}
END_TEST

START_TEST(test_stream_yaml)
{
    check_streaming(50000, true, 8 << 20);
}
END_TEST

/* np_object_equal() sees every field the agent acts on: a namespace that
 * only gains the audit annotation is a change (the agents compare with it
 * before applying an object). */
START_TEST(test_object_equal)
{
    struct result plain, annotated, relabelled;

    parse("{\"kind\": \"Namespace\", \"apiVersion\": \"v1\", \"metadata\": "
          "{\"name\": \"x\", \"labels\": {\"a\": \"1\"}}}", &plain);
    parse("{\"kind\": \"Namespace\", \"apiVersion\": \"v1\", \"metadata\": "
          "{\"name\": \"x\", \"labels\": {\"a\": \"1\"}, \"annotations\": "
          "{\"" NP_LOG_ALLOWED_ANNOTATION "\": \"true\"}}}", &annotated);
    parse("{\"kind\": \"Namespace\", \"apiVersion\": \"v1\", \"metadata\": "
          "{\"name\": \"x\", \"labels\": {\"a\": \"2\"}}}", &relabelled);
    ck_assert_uint_eq(plain.n, 1);
    ck_assert_uint_eq(annotated.n, 1);
    ck_assert_uint_eq(relabelled.n, 1);

    ck_assert(np_object_equal(&plain.objs[0], &plain.objs[0]));
    ck_assert(!np_object_equal(&plain.objs[0], &annotated.objs[0]));
    ck_assert(!np_object_equal(&plain.objs[0], &relabelled.objs[0]));

    struct cluster cluster;
    cluster_init(&cluster);
    struct np_object copy = {
        .kind = NP_KIND_NAMESPACE,
        .ns = np_namespace_clone(plain.objs[0].ns),
    };
    cluster_set_object(&cluster, &copy);
    ck_assert(cluster_holds_object(&cluster, &plain.objs[0]));
    ck_assert(!cluster_holds_object(&cluster, &annotated.objs[0]));
    ck_assert(!cluster_holds_object(&cluster, &relabelled.objs[0]));
    cluster_destroy(&cluster);

    result_destroy(&plain);
    result_destroy(&annotated);
    result_destroy(&relabelled);
}
END_TEST

/* A shared object outlives any one of its owners and is freed by the last
 * (ASan reports a leak, a double free or a use after free otherwise). */
START_TEST(test_object_share)
{
    struct result r;
    parse("{\"kind\": \"List\", \"items\": ["
          "{\"kind\": \"Namespace\", \"apiVersion\": \"v1\", "
          "\"metadata\": {\"name\": \"x\"}},"
          "{\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": "
          "{\"name\": \"a\", \"namespace\": \"x\", "
          "\"labels\": {\"app\": \"a\"}}},"
          "{\"kind\": \"NetworkPolicy\", "
          "\"apiVersion\": \"networking.k8s.io/v1\", \"metadata\": "
          "{\"name\": \"p\", \"namespace\": \"x\"}, "
          "\"spec\": {\"podSelector\": {}}}]}", &r);
    ck_assert_uint_eq(r.n, 3);

    struct cluster cluster;
    cluster_init(&cluster);
    for (size_t i = 0; i < r.n; i++) {
        struct np_object share = np_object_share(&r.objs[i]);
        ck_assert_ptr_eq(share.ns, r.objs[i].ns);
        ck_assert(np_object_equal(&share, &r.objs[i]));
        cluster_set_object(&cluster, &share);
        ck_assert(cluster_holds_object(&cluster, &r.objs[i]));
    }

    /* The parse result lets go first: the cluster's owners remain. */
    result_destroy(&r);
    const struct np_pod *pod = cluster_find_pod(&cluster, "x", "a");
    ck_assert_ptr_nonnull(pod);
    ck_assert_str_eq(pod->name, "a");
    ck_assert_uint_eq(pod->n_shares, 0);
    ck_assert_ptr_nonnull(cluster_find_namespace(&cluster, "x"));
    ck_assert_ptr_nonnull(cluster_find_policy(&cluster, "x", "p"));

    /* Shared twice, destroyed three times: freed once, by the last. */
    struct np_pod *shared = np_pod_share(np_pod_share(
                                cluster_find_pod(&cluster, "x", "a")));
    ck_assert_uint_eq(shared->n_shares, 2);
    np_pod_destroy(shared);
    np_pod_destroy(shared);
    ck_assert_uint_eq(cluster_find_pod(&cluster, "x", "a")->n_shares, 0);
    ck_assert(cluster_delete_pod(&cluster, "x", "a"));
    ck_assert_ptr_null(cluster_find_pod(&cluster, "x", "a"));
    cluster_destroy(&cluster);
}
END_TEST

/* Threads: the same objects and problems, in the same order. */

/* A "kind: List" of 'n' items, most of them valid pods and policies, some
 * invalid objects, non-objects and nested lists; 'broken' is put in place
 * of item 'broken_at' (if 'broken'). */
static void
put_mixed_list(struct ds *s, int n, int broken_at, const char *broken)
{
    ds_put_cstr(s, "{\"kind\": \"List\", \"apiVersion\": \"v1\", "
                "\"items\": [\n");
    for (int i = 0; i < n; i++) {
        if (i) {
            ds_put_cstr(s, ",\n");
        }
        if (broken && i == broken_at) {
            ds_put_cstr(s, broken);
        } else if (i % 97 == 5) {
            ds_put_format(s, "{\"kind\": \"NetworkPolicy\", \"apiVersion\": "
                          "\"networking.k8s.io/v1\", \"metadata\": {\"name\":"
                          " \"bad-%d\", \"namespace\": \"x\"}, \"spec\": "
                          "{\"podSelector\": {}, \"ingress\": [{\"from\": "
                          "[{\"ipBlock\": {\"cidr\": \"10.0.0.%d/33\"}}]}]}}",
                          i, i % 256);
        } else if (i % 101 == 7) {
            ds_put_format(s, "%d", i);
        } else if (i % 211 == 9) {
            ds_put_format(s, "{\"kind\": \"NamespaceList\", \"items\": "
                          "[{\"metadata\": {\"name\": \"ns-%d\", \"labels\":"
                          " {\"n\": \"%d\"}}}]}", i, i);
        } else if (i % 7 == 3) {
            ds_put_format(s, "{\"kind\": \"NetworkPolicy\", \"apiVersion\": "
                          "\"networking.k8s.io/v1\", \"metadata\": {\"name\":"
                          " \"p-%d\", \"namespace\": \"ns-%d\"}, \"spec\": "
                          "{\"podSelector\": {\"matchLabels\": {\"app\": "
                          "\"a%d\"}}, \"ingress\": [{\"ports\": [{\"port\": "
                          "%d}]}]}}", i, i % 50, i % 13, 1 + i % 65535);
        } else {
            struct ds pod = DS_EMPTY_INITIALIZER;
            put_pod(&pod, i, false);
            ds_put_format(s, "{\"kind\": \"Pod\", \"apiVersion\": \"v1\", %s",
                          ds_cstr(&pod) + (i ? 2 : 1));
            ds_destroy(&pod);
        }
    }
    ds_put_cstr(s, "]}\n");
}

/* Parses 'text' with 1 thread and with 'n_threads', and checks that both
 * give the same; returns how many objects they gave. */
static size_t
check_threads_same(const char *text, int n_threads, bool want_ok)
{
    struct result one, many;

    parse(text, &one);
    memset(&many, 0, sizeof many);
    np_problems_init(&many.problems);
    many.ok = manifest_parse_threads(text, strlen(text), NULL, collect,
                                     &many, &many.problems, n_threads);

    ck_assert_int_eq(one.ok, want_ok);
    ck_assert_int_eq(many.ok, one.ok);
    char *one_text = problems_text(&one.problems);
    char *many_text = problems_text(&many.problems);
    ck_assert_str_eq(many_text, one_text);
    free(one_text);
    free(many_text);
    ck_assert_uint_eq(many.n, one.n);
    for (size_t i = 0; i < one.n; i++) {
        ck_assert_msg(np_object_equal(&one.objs[i], &many.objs[i]),
                      "object %zu differs", i);
    }

    size_t n = one.n;
    result_destroy(&one);
    result_destroy(&many);
    return n;
}

START_TEST(test_threads_same_result)
{
    /* Three windows of items and then some. */
    int n = 3 * 4096 + 100;
    struct ds s = DS_EMPTY_INITIALIZER;

    put_mixed_list(&s, n, -1, NULL);
    size_t n_objects = check_threads_same(ds_cstr(&s), 4, true);
    ck_assert_uint_gt(n_objects, n * 9 / 10);

    /* Not valid JSON for jansson, in the second window: everything before
     * it, nothing after. */
    ds_clear(&s);
    put_mixed_list(&s, n, 5000, "{\"kind\": tru}");
    size_t n_before = check_threads_same(ds_cstr(&s), 3, false);
    ck_assert_uint_lt(n_before, 5000);
    ck_assert_uint_gt(n_before, 4000);

    /* A syntax error that the scan finds (no comma), in the third
     * window. */
    ds_clear(&s);
    put_mixed_list(&s, n, 9000, "{} {}");
    check_threads_same(ds_cstr(&s), 2, false);

    ds_destroy(&s);
}
END_TEST

/* Items whose jansson values outgrow the per-thread arena (json-arena.h:
 * 256 KiB, then malloc) between small ones: every object comes out whole,
 * on one thread and on several, and jansson still works afterwards. */
START_TEST(test_item_bigger_than_arena)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    int n = 600;

    ds_put_cstr(&s, "{\"kind\": \"List\", \"items\": [");
    for (int i = 0; i < n; i++) {
        ds_put_format(&s, "%s{\"kind\": \"Pod\", \"apiVersion\": \"v1\", "
                      "\"metadata\": {\"name\": \"p%d\", "
                      "\"namespace\": \"x\", \"labels\": {\"app\": \"a\"}, "
                      "\"annotations\": {", i ? ", " : "", i);
        /* Every 100th item: 20,000 annotations, megabytes of values. */
        int n_annotations = i % 100 ? 1 : 20000;
        for (int j = 0; j < n_annotations; j++) {
            ds_put_format(&s, "%s\"note-%d\": \"%040d\"", j ? ", " : "", j,
                          j);
        }
        ds_put_cstr(&s, "}}}");
    }
    ds_put_cstr(&s, "]}");

    ck_assert_uint_eq(check_threads_same(ds_cstr(&s), 2, true), n);

    struct result r;
    parse(ds_cstr(&s), &r);
    ck_assert_uint_eq(r.n, n);
    ck_assert_str_eq(r.objs[300].pod->name, "p300");
    ck_assert_str_eq(labels_get(&r.objs[300].pod->labels, "app"), "a");
    result_destroy(&r);
    ds_destroy(&s);

    json_t *after = json_pack("{s:[i,i]}", "a", 1, 2);
    ck_assert_int_eq(json_array_size(json_object_get(after, "a")), 2);
    json_decref(after);
}
END_TEST

static Suite *
manifest_suite(void)
{
    Suite *s = suite_create("manifest");

    TCase *tc = tcase_create("problems");
    tcase_add_test(tc, test_problem_format);
    tcase_add_test(tc, test_source_prefix);
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, NP_ARRAY_SIZE(rule_cases));
    tcase_add_test(tc, test_problem_cap);
    tcase_add_test(tc, test_too_many_labels);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_test(tc, test_policy_defaults);
    tcase_add_test(tc, test_port_defaults);
    tcase_add_test(tc, test_absent_vs_empty);
    tcase_add_test(tc, test_selector_normal_form);
    tcase_add_test(tc, test_ip_block);
    tcase_add_test(tc, test_pod);
    tcase_add_test(tc, test_namespace_label);
    tcase_add_test(tc, test_labels_sorted);
    tcase_add_test(tc, test_unknown_fields_ignored);
    tcase_add_test(tc, test_ignored_kinds);
    tcase_add_test(tc, test_object_identify);
    tcase_add_test(tc, test_object_from_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("documents");
    tcase_add_test(tc, test_yaml_json_equivalent);
    tcase_add_test(tc, test_multi_document);
    tcase_add_test(tc, test_list_kinds);
    tcase_add_test(tc, test_bad_object_skipped);
    tcase_add_test(tc, test_syntax_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("yaml");
    tcase_add_test(tc, test_yaml_scalars);
    tcase_add_test(tc, test_yaml_scalars_in_objects);
    tcase_add_test(tc, test_yaml_anchors);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_billion_laughs);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_deep_aliases);
    tcase_add_test(tc, test_huge_buffer);
    tcase_add_test(tc, test_million_labels);
    tcase_add_test(tc, test_many_aliases);
    suite_add_tcase(s, tc);

    tc = tcase_create("streaming");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stream_json);
    tcase_add_test(tc, test_stream_yaml);
    tcase_add_test(tc, test_threads_same_result);
    tcase_add_test(tc, test_item_bigger_than_arena);
    tcase_add_test(tc, test_object_equal);
    tcase_add_test(tc, test_object_share);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(manifest_suite());

    srunner_run_all(runner, CK_ENV);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
