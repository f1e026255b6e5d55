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

/* fuzz-selector.c: libFuzzer target for label selectors: their parsing and
 * normalisation (object-parse.c) and their evaluation (selector.c).
 *
 * The fuzz bytes choose a selector (matchLabels entries and
 * matchExpressions, keys and values from a small vocabulary or spelled out
 * by the bytes) and a few label sets.  The selector goes into a
 * NetworkPolicy, as its podSelector and as a peer's namespaceSelector, and
 * through np_object_from_json().  Checked:
 *
 *   - validation agrees with an independent reading of the Kubernetes rules
 *     (label keys and values, operators, values present exactly for In and
 *     NotIn): a valid selector is accepted, an invalid one refused;
 *
 *   - selector_matches() agrees with a direct evaluation of the
 *     requirements as written, on every label set, and
 *     selector_matches_except() with the other requirements;
 *
 *   - In and NotIn with the same values, and Exists and DoesNotExist, are
 *     complements; matchLabels {k: v} is the selector "k In (v)" (equal,
 *     same hash, same result);
 *
 *   - normalisation: the requirements in reverse order with one repeated
 *     give an equal selector with the same hash; the peer's copy equals
 *     the podSelector; clones are equal; the empty selector matches
 *     everything;
 *
 *   - labels_set(), labels_get() and labels_remove() agree with a plain
 *     list. */

#include <config.h>

#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include "flows/selector.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/model.h"
#include "fuzz-model.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* The Kubernetes rules, written again from the API documentation. */

static bool
ref_alnum(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'));
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63. */
static bool
ref_label_name(const char *s, size_t n)
{
    if (!n || n > 63 || !ref_alnum(s[0]) || !ref_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ref_alnum(s[i]) && !strchr("-_.", s[i])) {
            return false;
        }
    }
    return true;
}

/* RFC 1123 subdomain: dot-separated labels of [a-z0-9-], each starting and
 * ending with [a-z0-9]; at most 253. */
static bool
ref_dns_subdomain(const char *s, size_t n)
{
    if (!n || n > 253) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - start;
            if (!len) {
                return false;
            }
            char first = s[start], last = s[i - 1];
            if (!((first >= 'a' && first <= 'z')
                  || (first >= '0' && first <= '9'))
                || !((last >= 'a' && last <= 'z')
                     || (last >= '0' && last <= '9'))) {
                return false;
            }
            start = i + 1;
        } else if (!((s[i] >= 'a' && s[i] <= 'z')
                     || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

static bool
ref_label_key(const char *key)
{
    const char *slash = strchr(key, '/');
    if (!slash) {
        return ref_label_name(key, strlen(key));
    }
    return (!strchr(slash + 1, '/')
            && ref_dns_subdomain(key, slash - key)
            && ref_label_name(slash + 1, strlen(slash + 1)));
}

static bool
ref_label_value(const char *value)
{
    size_t n = strlen(value);
    return !n || ref_label_name(value, n);
}

/* Selectors as written. */

enum req_type {
    REQ_MATCH_LABEL,            /* matchLabels entry. */
    REQ_IN,
    REQ_NOT_IN,
    REQ_EXISTS,
    REQ_DOES_NOT_EXIST,
    REQ_BAD_OP,                 /* An operator that does not exist. */
};

static const char *const op_names[] = {
    [REQ_IN] = "In", [REQ_NOT_IN] = "NotIn", [REQ_EXISTS] = "Exists",
    [REQ_DOES_NOT_EXIST] = "DoesNotExist", [REQ_BAD_OP] = "in",
};

#define MAX_VALUES 4
#define MAX_REQS 6
#define MAX_LABEL_SETS 6
#define MAX_LABELS 5

struct raw_req {
    enum req_type type;
    char *key;
    char *values[MAX_VALUES];
    size_t n_values;
};

struct raw_selector {
    struct raw_req reqs[MAX_REQS];
    size_t n_reqs;
};

static const char *const keys[] = {
    "app", "tier", "team", "example.com/role", "kubernetes.io/metadata.name",
    "a", "A-b_c.d", "", "-app", "app-", "a/b/c", "/app", "Example.com/x",
    "x.y/", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static const char *const values[] = {
    "web", "db", "cache", "", "a", "b", "x", "v1.2", "-x", "x-", "a b",
    "A_b-c.D", "y",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

/* A string spelled by the fuzz bytes in an alphabet that makes valid and
 * invalid names equally easy to reach. */
static char *
spelled_string(struct fuzz_bytes *in)
{
    static const char alphabet[] = "abcxyz019-_./AZ é";
    size_t n = fuzz_range(in, 70);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        s[i] = alphabet[fuzz_range(in, sizeof alphabet - 1)];
    }
    s[n] = '\0';
    return s;
}

static char *
choose_key(struct fuzz_bytes *in)
{
    unsigned int i = fuzz_range(in, NP_ARRAY_SIZE(keys) + 2);
    return i < NP_ARRAY_SIZE(keys) ? strdup(keys[i]) : spelled_string(in);
}

static char *
choose_value(struct fuzz_bytes *in)
{
    unsigned int i = fuzz_range(in, NP_ARRAY_SIZE(values) + 1);
    return i < NP_ARRAY_SIZE(values) ? strdup(values[i]) : spelled_string(in);
}

static void
raw_selector_generate(struct fuzz_bytes *in, struct raw_selector *raw)
{
    raw->n_reqs = fuzz_range(in, MAX_REQS + 1);
    for (size_t i = 0; i < raw->n_reqs; i++) {
        struct raw_req *req = &raw->reqs[i];
        req->type = fuzz_range(in, REQ_BAD_OP + 1);
        if (req->type == REQ_BAD_OP && fuzz_bool(in)) {
            req->type = REQ_IN;     /* Keep bad operators rare. */
        }
        req->key = choose_key(in);
        for (size_t j = 0; j < i && req->type == REQ_MATCH_LABEL; j++) {
            if (raw->reqs[j].type == REQ_MATCH_LABEL
                && !strcmp(raw->reqs[j].key, req->key)) {
                /* matchLabels is a JSON object: one entry per key. */
                req->type = REQ_IN;
            }
        }
        req->n_values = (req->type == REQ_MATCH_LABEL ? 1
                         : fuzz_range(in, MAX_VALUES + 1));
        for (size_t j = 0; j < req->n_values; j++) {
            req->values[j] = choose_value(in);
        }
    }
}

static void
raw_selector_destroy(struct raw_selector *raw)
{
    for (size_t i = 0; i < raw->n_reqs; i++) {
        free(raw->reqs[i].key);
        for (size_t j = 0; j < raw->reqs[i].n_values; j++) {
            free(raw->reqs[i].values[j]);
        }
    }
}

/* Whether the API server would accept 'raw'. */
static bool
raw_selector_valid(const struct raw_selector *raw)
{
    for (size_t i = 0; i < raw->n_reqs; i++) {
        const struct raw_req *req = &raw->reqs[i];
        if (!ref_label_key(req->key)) {
            return false;
        }
        for (size_t j = 0; j < req->n_values; j++) {
            if (!ref_label_value(req->values[j])) {
                return false;
            }
        }
        switch (req->type) {
        case REQ_MATCH_LABEL:
            break;
        case REQ_IN:
        case REQ_NOT_IN:
            if (!req->n_values) {
                return false;
            }
            break;
        case REQ_EXISTS:
        case REQ_DOES_NOT_EXIST:
            if (req->n_values) {
                return false;
            }
            break;
        case REQ_BAD_OP:
            return false;
        }
    }
    return true;
}

/* Evaluates requirement 'i' of 'raw' as Kubernetes defines it. */
static bool
raw_req_matches(const struct raw_selector *raw, size_t i,
                const struct labels *labels)
{
    const struct raw_req *req = &raw->reqs[i];
    const char *value = labels_get(labels, req->key);
    bool in = false;

    for (size_t j = 0; value && j < req->n_values; j++) {
        in = in || !strcmp(value, req->values[j]);
    }
    switch (req->type) {
    case REQ_MATCH_LABEL:
    case REQ_IN:
        return value && in;
    case REQ_NOT_IN:
        return !value || !in;
    case REQ_EXISTS:
        return value != NULL;
    case REQ_DOES_NOT_EXIST:
        return value == NULL;
    case REQ_BAD_OP:
        break;
    }
    FUZZ_CHECK(false, "evaluating an invalid selector");
}

static bool
raw_selector_matches(const struct raw_selector *raw,
                     const struct labels *labels)
{
    for (size_t i = 0; i < raw->n_reqs; i++) {
        if (!raw_req_matches(raw, i, labels)) {
            return false;
        }
    }
    return true;
}

/* JSON. */

static json_t *
raw_req_to_json(const struct raw_req *req, enum req_type type)
{
    json_t *values_json = json_array();
    for (size_t j = 0; j < req->n_values; j++) {
        /* Unchecked: invalid UTF-8 is one more invalid value. */
        json_array_append_new(values_json,
                              json_string_nocheck(req->values[j]));
    }
    json_t *expr = json_object();
    json_object_set_new(expr, "key", json_string_nocheck(req->key));
    json_object_set_new(expr, "operator", json_string(op_names[type]));
    if (req->n_values || type == REQ_IN) {
        json_object_set_new(expr, "values", values_json);
    } else {
        json_decref(values_json);
    }
    return expr;
}

/* The selector 'raw' as JSON; 'order' lists the requirements to write (an
 * index may repeat). */
static json_t *
raw_selector_to_json(const struct raw_selector *raw, const size_t *order,
                     size_t n)
{
    json_t *sel = json_object();
    json_t *match_labels = NULL;
    json_t *exprs = NULL;

    for (size_t k = 0; k < n; k++) {
        const struct raw_req *req = &raw->reqs[order[k]];
        if (req->type == REQ_MATCH_LABEL) {
            if (!match_labels) {
                match_labels = json_object();
            }
            json_object_set_new_nocheck(match_labels, req->key,
                                        json_string_nocheck(req->values[0]));
        } else {
            if (!exprs) {
                exprs = json_array();
            }
            json_array_append_new(exprs, raw_req_to_json(req, req->type));
        }
    }
    if (match_labels) {
        json_object_set_new(sel, "matchLabels", match_labels);
    }
    if (exprs) {
        json_object_set_new(sel, "matchExpressions", exprs);
    }
    return sel;
}

/* Parses a NetworkPolicy whose podSelector is 'sel' (taking the
 * reference), also used as the namespaceSelector of its only ingress peer.
 * Returns the policy, or NULL if it is invalid. */
static struct np_policy *
parse_policy(json_t *sel)
{
    json_t *peer = json_pack("{s:O}", "namespaceSelector", sel);
    json_t *policy = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:o, s:[{s:[o]}]}}",
        "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy",
        "metadata", "namespace", "ns", "name", "p",
        "spec", "podSelector", sel, "ingress", "from", peer);
    FUZZ_CHECK(policy, "json_pack failed");

    struct np_problems problems;
    struct np_object obj;
    np_problems_init(&problems);
    enum np_parse_status status = np_object_from_json(policy, "fuzz", &obj,
                                                      &problems);
    fuzz_check_problems(&problems);
    np_problems_destroy(&problems);
    json_decref(policy);
    if (status != NP_PARSE_OK) {
        FUZZ_CHECK(status == NP_PARSE_INVALID, "status %d", (int) status);
        return NULL;
    }
    FUZZ_CHECK(obj.kind == NP_KIND_POLICY, "kind %d", (int) obj.kind);
    fuzz_check_object(&obj);
    return obj.policy;
}

static void
check_equal_selectors(const struct selector *a, const struct selector *b,
                      const char *what)
{
    struct ds sa = DS_EMPTY_INITIALIZER, sb = DS_EMPTY_INITIALIZER;
    selector_format(a, &sa);
    selector_format(b, &sb);
    FUZZ_CHECK(selector_equal(a, b), "%s: \"%s\" != \"%s\"", what,
               ds_cstr(&sa), ds_cstr(&sb));
    FUZZ_CHECK(selector_hash(a, 7) == selector_hash(b, 7),
               "%s: equal selectors \"%s\" hash differently", what,
               ds_cstr(&sa));
    FUZZ_CHECK(!strcmp(ds_cstr(&sa), ds_cstr(&sb)),
               "%s: equal selectors format differently", what);
    ds_destroy(&sa);
    ds_destroy(&sb);
}

/* A selector of requirement 'req' alone, with operator 'type'. */
static struct np_policy *
parse_single(const struct raw_req *req, enum req_type type)
{
    json_t *sel = json_object();
    if (type == REQ_MATCH_LABEL) {
        json_t *match_labels = json_object();
        json_object_set_new_nocheck(match_labels, req->key,
                                    json_string_nocheck(req->values[0]));
        json_object_set_new(sel, "matchLabels", match_labels);
    } else {
        json_object_set_new(sel, "matchExpressions",
                            json_pack("[o]", raw_req_to_json(req, type)));
    }
    return parse_policy(sel);
}

/* Label sets. */

struct ref_labels {
    char *keys[MAX_LABELS];
    char *values[MAX_LABELS];
    size_t n;
};

static const char *
ref_labels_get(const struct ref_labels *ref, const char *key)
{
    for (size_t i = 0; i < ref->n; i++) {
        if (!strcmp(ref->keys[i], key)) {
            return ref->values[i];
        }
    }
    return NULL;
}

/* Builds 'labels' by labels_set() and labels_remove() calls that the bytes
 * choose, checking each against a plain list. */
static void
generate_labels(struct fuzz_bytes *in, const struct raw_selector *raw,
                struct labels *labels)
{
    struct ref_labels ref = { .n = 0 };
    size_t n_ops = fuzz_range(in, 2 * MAX_LABELS);

    labels_init(labels);
    for (size_t op = 0; op < n_ops; op++) {
        /* Mostly keys and values the selector uses. */
        char *key, *value;
        if (raw->n_reqs && fuzz_range(in, 4)) {
            const struct raw_req *req = &raw->reqs[fuzz_range(in,
                                                              raw->n_reqs)];
            key = strdup(req->key);
            value = (req->n_values && fuzz_range(in, 3)
                     ? strdup(req->values[fuzz_range(in, req->n_values)])
                     : choose_value(in));
        } else {
            key = choose_key(in);
            value = choose_value(in);
        }

        const char *old = ref_labels_get(&ref, key);
        if (fuzz_range(in, 4) == 0) {
            FUZZ_CHECK(labels_remove(labels, key) == (old != NULL),
                       "labels_remove(%s)", key);
            for (size_t i = 0; i < ref.n; i++) {
                if (!strcmp(ref.keys[i], key)) {
                    free(ref.keys[i]);
                    free(ref.values[i]);
                    ref.keys[i] = ref.keys[ref.n - 1];
                    ref.values[i] = ref.values[ref.n - 1];
                    ref.n--;
                    break;
                }
            }
            free(key);
            free(value);
        } else if (old || ref.n < MAX_LABELS) {
            labels_set(labels, key, value);
            if (old) {
                for (size_t i = 0; i < ref.n; i++) {
                    if (!strcmp(ref.keys[i], key)) {
                        free(ref.values[i]);
                        ref.values[i] = value;
                    }
                }
                free(key);
            } else {
                ref.keys[ref.n] = key;
                ref.values[ref.n++] = value;
            }
        } else {
            free(key);
            free(value);
        }

        FUZZ_CHECK(labels->n == ref.n, "%zu labels, expected %zu",
                   labels->n, ref.n);
        fuzz_check_labels(labels);
        for (size_t i = 0; i < ref.n; i++) {
            const char *got = labels_get(labels, ref.keys[i]);
            FUZZ_CHECK(got && !strcmp(got, ref.values[i]),
                       "labels_get(%s)", ref.keys[i]);
        }
    }
    for (size_t i = 0; i < ref.n; i++) {
        free(ref.keys[i]);
        free(ref.values[i]);
    }

    struct labels clone;
    labels_clone(&clone, labels);
    FUZZ_CHECK(labels_equal(&clone, labels), "labels_clone() differs");
    labels_destroy(&clone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_bytes in = { data, size };
    struct raw_selector raw;
    size_t order[MAX_REQS + 1];

    raw_selector_generate(&in, &raw);
    for (size_t i = 0; i < raw.n_reqs; i++) {
        order[i] = i;
    }
    bool valid = raw_selector_valid(&raw);
    struct np_policy *policy = parse_policy(
        raw_selector_to_json(&raw, order, raw.n_reqs));
    FUZZ_CHECK(valid == (policy != NULL), "a%s selector is %s",
               valid ? " valid" : "n invalid",
               policy ? "accepted" : "refused");
    if (!policy) {
        raw_selector_destroy(&raw);
        return 0;
    }

    const struct selector *sel = &policy->pod_selector;
    const struct np_rule *rule = &policy->rules[NP_INGRESS][0];
    FUZZ_CHECK(policy->n_rules[NP_INGRESS] == 1 && rule->n_peers == 1
               && rule->peers[0].ns_selector
               && !rule->peers[0].pod_selector, "peer lost");
    check_equal_selectors(sel, rule->peers[0].ns_selector, "peer");

    struct selector clone;
    selector_clone(&clone, sel);
    check_equal_selectors(sel, &clone, "clone");
    selector_destroy(&clone);

    /* Reversed, with the first requirement written twice. */
    size_t n = 0;
    for (size_t i = raw.n_reqs; i-- > 0; ) {
        order[n++] = i;
    }
    if (raw.n_reqs) {
        order[n++] = 0;
    }
    struct np_policy *reordered = parse_policy(
        raw_selector_to_json(&raw, order, n));
    FUZZ_CHECK(reordered, "reordered selector refused");
    check_equal_selectors(sel, &reordered->pod_selector, "reordered");
    np_policy_destroy(reordered);

    /* Single requirements: complements, and matchLabels as In. */
    struct np_policy *single[MAX_REQS][2];
    for (size_t i = 0; i < raw.n_reqs; i++) {
        const struct raw_req *req = &raw.reqs[i];
        enum req_type pair[2];
        switch (req->type) {
        case REQ_MATCH_LABEL:
            pair[0] = REQ_MATCH_LABEL;
            pair[1] = REQ_IN;
            break;
        case REQ_IN:
        case REQ_NOT_IN:
            pair[0] = REQ_IN;
            pair[1] = REQ_NOT_IN;
            break;
        case REQ_EXISTS:
        case REQ_DOES_NOT_EXIST:
        case REQ_BAD_OP:
        default:
            pair[0] = REQ_EXISTS;
            pair[1] = REQ_DOES_NOT_EXIST;
            break;
        }
        for (int k = 0; k < 2; k++) {
            single[i][k] = parse_single(req, pair[k]);
            FUZZ_CHECK(single[i][k], "requirement %zu alone refused", i);
        }
        if (req->type == REQ_MATCH_LABEL) {
            check_equal_selectors(&single[i][0]->pod_selector,
                                  &single[i][1]->pod_selector,
                                  "matchLabels vs In");
        }
    }

    /* Evaluation. */
    size_t n_sets = 1 + fuzz_range(&in, MAX_LABEL_SETS);
    for (size_t s = 0; s < n_sets; s++) {
        struct labels labels;
        generate_labels(&in, &raw, &labels);

        bool expected = raw_selector_matches(&raw, &labels);
        FUZZ_CHECK(selector_matches(sel, &labels) == expected,
                   "selector_matches() says %d, expected %d",
                   !expected, expected);
        FUZZ_CHECK(selector_matches(rule->peers[0].ns_selector, &labels)
                   == expected, "the peer's copy disagrees");
        struct selector empty = { NULL, 0 };
        FUZZ_CHECK(selector_matches(&empty, &labels), "empty selector");

        /* selector_matches_except() leaves out one requirement. */
        for (size_t i = 0; i < sel->n_reqs; i++) {
            bool others = true;
            for (size_t j = 0; j < sel->n_reqs; j++) {
                struct selector one = { &sel->reqs[j], 1 };
                others = others && (j == i || selector_matches(&one,
                                                               &labels));
            }
            FUZZ_CHECK(selector_matches_except(sel, &labels, i) == others,
                       "selector_matches_except(%zu) says %d", i, !others);
        }

        for (size_t i = 0; i < raw.n_reqs; i++) {
            const struct raw_req *req = &raw.reqs[i];
            bool a = selector_matches(&single[i][0]->pod_selector, &labels);
            bool b = selector_matches(&single[i][1]->pod_selector, &labels);
            if (req->type == REQ_MATCH_LABEL) {
                FUZZ_CHECK(a == b, "matchLabels and In disagree on %s",
                           req->key);
            } else {
                FUZZ_CHECK(a != b, "requirement %zu (%s) and its "
                           "complement agree", i, req->key);
            }
        }
        labels_destroy(&labels);
    }

    for (size_t i = 0; i < raw.n_reqs; i++) {
        np_policy_destroy(single[i][0]);
        np_policy_destroy(single[i][1]);
    }
    np_policy_destroy(policy);
    raw_selector_destroy(&raw);
    return 0;
}
