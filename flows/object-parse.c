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

/* object-parse.c: one Kubernetes object, in its JSON form, validated and
 * converted to the policy model (model.h).  This is where sources (manifest
 * files, the API server's watch) become cluster state: nothing invalid gets
 * past it, so the compiler can trust every object it sees.
 *
 * The rules are the API server's (k8s.io/kubernetes/pkg/apis/networking/
 * validation, the v1 defaults, and apimachinery's checks of names, label
 * keys and values and IANA service names), restated in our own words:
 *
 *   - kinds are Namespace (v1), Pod (v1) and NetworkPolicy
 *     (networking.k8s.io/v1); any other kind is ignored, a known kind with
 *     another apiVersion is a problem;
 *
 *   - metadata.namespace defaults to "default"; Namespace names are DNS-1123
 *     labels, Pod and NetworkPolicy names DNS-1123 subdomains;
 *
 *   - every Namespace gets the label kubernetes.io/metadata.name=<name>,
 *     which the API server sets (and keeps) on every namespace, so that
 *     namespaceSelectors on it work with manifests too;
 *
 *   - JSON null is the same as an absent field, as in Go; a null element of
 *     a list is the element's zero value (an empty rule, peer or port);
 *
 *   - fields we do not know are ignored; a known field of the wrong JSON type
 *     is a problem.
 *
 * Every problem names the object ("NetworkPolicy x/deny") and the path of
 * the field ("spec.ingress[0].from[1].ipBlock.except[0]").  All problems of
 * an object are reported, up to MAX_PROBLEMS_PER_OBJECT (then one more
 * problem says how many were left out, so that a hostile object cannot make
 * the list huge); values quoted in messages are escaped and shortened.
 *
 * Part of the core library (flows/): no I/O, no global state. */

#include <config.h>
#include "object-parse.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/model.h"
#include "ovs-netpol/util.h"

#define MAX_PROBLEMS_PER_OBJECT 100

/* How much of a value to quote in a message, and of a name to show in an
 * object's label.  Anything longer is invalid anyway. */
#define MAX_QUOTED_SIZE 64
#define MAX_NAME_SIZE 253

#define DNS_LABEL_MAX_LENGTH 63
#define DNS_SUBDOMAIN_MAX_LENGTH 253
#define LABEL_NAME_MAX_LENGTH 63
#define LABEL_VALUE_MAX_LENGTH 63
#define PORT_NAME_MAX_LENGTH 15

/* The label that the API server puts on every namespace. */
#define NAMESPACE_NAME_LABEL "kubernetes.io/metadata.name"

/* The kinds we read, with their only supported apiVersion. */
static const struct kind_info {
    enum np_kind kind;
    const char *api_version;
    bool namespaced;
} kind_infos[] = {
    { NP_KIND_NAMESPACE, "v1", false },
    { NP_KIND_POD, "v1", true },
    { NP_KIND_POLICY, "networking.k8s.io/v1", true },
};

/* The state of reading one object. */
struct parse_ctx {
    const char *source;
    char *object;               /* "NetworkPolicy x/deny". */
    struct ds path;             /* Field being read, "spec.ingress[0]". */
    struct np_problems *problems;
    size_t n_problems;          /* Problems found in this object. */
};

/* JSON types that a field may require. */
enum json_want {
    WANT_OBJECT,
    WANT_LIST,
    WANT_STRING,
    WANT_INTEGER,
    WANT_BOOLEAN,
};

static const struct kind_info *find_kind(const char *name);
static const char *get_kind(const json_t *, const char *default_kind,
                            bool *bad_type);
static bool check_api_version(struct parse_ctx *, const json_t *,
                              const struct kind_info *,
                              const char *default_kind,
                              const char *default_api_version);
static const char *json_type_name(const json_t *);
static void put_sanitized(struct ds *, const char *, size_t max);
static char *object_label(const json_t *, const char *kind,
                          const struct kind_info *);
static void problem(struct parse_ctx *, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);
static struct np_namespace *parse_namespace(struct parse_ctx *,
                                            const json_t *);
static struct np_pod *parse_pod(struct parse_ctx *, const json_t *);
static struct np_policy *parse_policy(struct parse_ctx *, const json_t *);

enum np_parse_status
np_object_from_json(const json_t *json, const char *source,
                    struct np_object *obj, struct np_problems *problems)
{
    return object_parse(json, NULL, NULL, source, obj, problems);
}

bool
np_object_identify(const json_t *json, enum np_kind *kindp,
                   const char **namespacep, const char **namep)
{
    const char *kind = json_string_value(json_object_get(json, "kind"));
    const char *api_version = json_string_value(json_object_get(
                                                    json, "apiVersion"));
    const struct kind_info *info = kind ? find_kind(kind) : NULL;
    if (!info || (api_version && strcmp(api_version, info->api_version))) {
        return false;
    }

    const json_t *metadata = json_object_get(json, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    if (!name || !name[0]) {
        return false;
    }

    const char *namespace = "";
    if (info->namespaced) {
        namespace = json_string_value(json_object_get(metadata,
                                                      "namespace"));
        if (!namespace || !namespace[0]) {
            namespace = "default";
        }
    }

    *kindp = info->kind;
    *namespacep = namespace;
    *namep = name;
    return true;
}

enum np_parse_status
object_parse(const json_t *json, const char *default_kind,
             const char *default_api_version, const char *source,
             struct np_object *obj, struct np_problems *problems)
{
    if (!json_is_object(json)) {
        np_problems_add(problems, source, NULL, NULL,
                        "must be an object, not %s", json_type_name(json));
        return NP_PARSE_INVALID;
    }

    struct parse_ctx ctx = {
        .source = source,
        .path = DS_EMPTY_INITIALIZER,
        .problems = problems,
    };
    bool bad_kind_type;
    const char *kind = get_kind(json, default_kind, &bad_kind_type);
    const struct kind_info *info = kind ? find_kind(kind) : NULL;
    enum np_parse_status status = NP_PARSE_INVALID;

    if (kind && kind[0] && !info) {
        return NP_PARSE_IGNORED;
    }

    ctx.object = object_label(json, kind, info);
    if (!info) {
        ds_put_cstr(&ctx.path, "kind");
        if (bad_kind_type) {
            problem(&ctx, "must be a string, not %s",
                    json_type_name(json_object_get(json, "kind")));
        } else {
            problem(&ctx, "required");
        }
    } else if (check_api_version(&ctx, json, info, default_kind,
                                 default_api_version)) {
        obj->kind = info->kind;
        switch (info->kind) {
        case NP_KIND_NAMESPACE:
            obj->ns = parse_namespace(&ctx, json);
            break;
        case NP_KIND_POD:
            obj->pod = parse_pod(&ctx, json);
            break;
        case NP_KIND_POLICY:
            obj->policy = parse_policy(&ctx, json);
            break;
        }
        if (ctx.n_problems) {
            np_object_destroy(obj);
        } else {
            status = NP_PARSE_OK;
        }
    }

    if (ctx.n_problems > MAX_PROBLEMS_PER_OBJECT) {
        np_problems_add(problems, source, ctx.object, NULL,
                        "%zu more problems not shown",
                        ctx.n_problems - MAX_PROBLEMS_PER_OBJECT);
    }
    free(ctx.object);
    ds_destroy(&ctx.path);
    return status;
}

bool
object_kind_is_list(const char *kind)
{
    return np_str_ends_with(kind, "List");
}

char *
object_list_item_kind(const char *list_kind)
{
    size_t length = strlen(list_kind);
    return (length > 4 && object_kind_is_list(list_kind)
            ? np_xstrndup(list_kind, length - 4)
            : NULL);
}

/* Objects and their labels in problems. */

/* Returns the kind that 'json' declares, or 'default_kind' if it declares
 * none.  Sets '*bad_type' if "kind" is there but not a string. */
static const char *
get_kind(const json_t *json, const char *default_kind, bool *bad_type)
{
    const json_t *kind = json_object_get(json, "kind");

    *bad_type = false;
    if (!kind || json_is_null(kind)) {
        return default_kind;
    } else if (!json_is_string(kind)) {
        *bad_type = true;
        return NULL;
    }
    return json_string_value(kind);
}

/* Checks the apiVersion of an object of kind 'info', taking
 * 'default_api_version' when the object gives none and its kind is the
 * list's 'default_kind'. */
static bool
check_api_version(struct parse_ctx *ctx, const json_t *json,
                  const struct kind_info *info, const char *default_kind,
                  const char *default_api_version)
{
    const json_t *api_version = json_object_get(json, "apiVersion");
    const char *value;

    if (!api_version || json_is_null(api_version)) {
        value = (default_kind
                 && !strcmp(default_kind, np_kind_name(info->kind))
                 ? default_api_version : NULL);
    } else if (!json_is_string(api_version)) {
        ds_put_cstr(&ctx->path, "apiVersion");
        problem(ctx, "must be a string, not %s",
                json_type_name(api_version));
        ds_clear(&ctx->path);
        return false;
    } else {
        value = json_string_value(api_version);
    }

    if (!value || !value[0]) {
        ds_put_cstr(&ctx->path, "apiVersion");
        problem(ctx, "required");
        ds_clear(&ctx->path);
        return false;
    } else if (strcmp(value, info->api_version)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        put_sanitized(&s, value, MAX_QUOTED_SIZE);
        problem(ctx, "apiVersion %s not supported", ds_cstr(&s));
        ds_destroy(&s);
        return false;
    }
    return true;
}

static const struct kind_info *
find_kind(const char *name)
{
    for (size_t i = 0; i < NP_ARRAY_SIZE(kind_infos); i++) {
        if (!strcmp(name, np_kind_name(kind_infos[i].kind))) {
            return &kind_infos[i];
        }
    }
    return NULL;
}

/* Appends 's' to 'out' with quotes, backslashes and control characters
 * escaped, cut (at a character boundary) after about 'max' bytes, so that
 * input cannot forge or flood a log line. */
static void
put_sanitized(struct ds *out, const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && (i < max || ((unsigned char) s[i] & 0xc0) == 0x80);
         i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            ds_put_char(out, '\\');
            ds_put_char(out, c);
        } else if (c < 0x20 || c == 0x7f) {
            ds_put_format(out, "\\x%02x", c);
        } else {
            ds_put_char(out, c);
        }
    }
    if (s[i]) {
        ds_put_cstr(out, "...");
    }
}

static void
put_quoted(struct ds *out, const char *s)
{
    ds_put_char(out, '"');
    put_sanitized(out, s, MAX_QUOTED_SIZE);
    ds_put_char(out, '"');
}

/* Returns the label that problems give the object 'json': its kind, then
 * "namespace/name" or "name"; "<unnamed>" stands for a missing name. */
static char *
object_label(const json_t *json, const char *kind,
             const struct kind_info *info)
{
    const json_t *metadata = json_object_get(json, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    const char *namespace = json_string_value(json_object_get(metadata,
                                                              "namespace"));
    struct ds s = DS_EMPTY_INITIALIZER;

    if (info) {
        ds_put_cstr(&s, np_kind_name(info->kind));
    } else {
        ds_put_cstr(&s, "object");
    }
    ds_put_char(&s, ' ');
    if (info ? info->namespaced : (namespace && namespace[0])) {
        put_sanitized(&s, namespace && namespace[0] ? namespace : "default",
                      MAX_NAME_SIZE);
        ds_put_char(&s, '/');
    }
    if (name && name[0]) {
        put_sanitized(&s, name, MAX_NAME_SIZE);
    } else {
        ds_put_cstr(&s, "<unnamed>");
    }
    return ds_steal_cstr(&s);
}

/* Problems and field paths. */

static void
problem(struct parse_ctx *ctx, const char *format, ...)
{
    if (++ctx->n_problems <= MAX_PROBLEMS_PER_OBJECT) {
        va_list args;
        va_start(args, format);
        char *message = np_xvasprintf(format, args);
        va_end(args);

        np_problems_add(ctx->problems, ctx->source, ctx->object,
                        ds_cstr(&ctx->path), "%s", message);
        free(message);
    }
}

/* Adds the problem 'what' "VALUE": 'reasons', e.g.
 * invalid value "Foo": must consist of ... */
static void
invalid_value(struct parse_ctx *ctx, const char *what, const char *value,
              const char *reasons)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    put_quoted(&s, value);
    problem(ctx, "%s %s: %s", what, ds_cstr(&s), reasons);
    ds_destroy(&s);
}

/* Adds the problem unsupported value "VALUE": must be 'choices'. */
static void
unsupported_value(struct parse_ctx *ctx, const char *value,
                  const char *choices)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    put_quoted(&s, value);
    problem(ctx, "unsupported value %s: must be %s", ds_cstr(&s), choices);
    ds_destroy(&s);
}

static void
duplicate_value(struct parse_ctx *ctx, const char *value)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    put_quoted(&s, value);
    problem(ctx, "duplicate value %s", ds_cstr(&s));
    ds_destroy(&s);
}

static void
port_range_problem(struct parse_ctx *ctx, long long int value)
{
    problem(ctx, "must be between 1 and 65535, not %lld", value);
}

/* The path functions append a step to the path and return the length to
 * give path_pop() to remove it again. */
static size_t
path_field(struct parse_ctx *ctx, const char *name)
{
    size_t length = ctx->path.length;
    if (length) {
        ds_put_char(&ctx->path, '.');
    }
    ds_put_cstr(&ctx->path, name);
    return length;
}

static size_t
path_index(struct parse_ctx *ctx, size_t index)
{
    size_t length = ctx->path.length;
    ds_put_format(&ctx->path, "[%zu]", index);
    return length;
}

static size_t
path_key(struct parse_ctx *ctx, const char *key)
{
    size_t length = ctx->path.length;
    ds_put_char(&ctx->path, '[');
    put_sanitized(&ctx->path, key, MAX_NAME_SIZE);
    ds_put_char(&ctx->path, ']');
    return length;
}

static void
path_pop(struct parse_ctx *ctx, size_t length)
{
    ds_truncate(&ctx->path, length);
}

/* JSON types. */

static const char *
json_type_name(const json_t *json)
{
    switch (json ? json_typeof(json) : JSON_NULL) {
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

static const char *
want_name(enum json_want want)
{
    switch (want) {
    case WANT_OBJECT: return "an object";
    case WANT_LIST: return "a list";
    case WANT_STRING: return "a string";
    case WANT_INTEGER: return "an integer";
    case WANT_BOOLEAN: return "a boolean";
    }
    return "unknown";
}

static bool
json_is_wanted(const json_t *json, enum json_want want)
{
    switch (want) {
    case WANT_OBJECT: return json_is_object(json);
    case WANT_LIST: return json_is_array(json);
    case WANT_STRING: return json_is_string(json);
    case WANT_INTEGER: return json_is_integer(json);
    case WANT_BOOLEAN: return json_is_boolean(json);
    }
    return false;
}

/* Returns true if 'parent' has a member 'name' that is not null. */
static bool
has_member(const json_t *parent, const char *name)
{
    const json_t *member = json_object_get(parent, name);
    return member && !json_is_null(member);
}

/* Checks that 'json', at the current path, is of the type 'want'. */
static bool
check_type(struct parse_ctx *ctx, const json_t *json, enum json_want want)
{
    if (!json_is_wanted(json, want)) {
        problem(ctx, "must be %s, not %s", want_name(want),
                json_type_name(json));
        return false;
    }
    return true;
}

/* Returns the member 'name' of 'parent' (which may be NULL, for an absent
 * object) if it is there, not null and of type 'want'.  If it has another
 * type, adds a problem and returns NULL. */
static const json_t *
get_member(struct parse_ctx *ctx, const json_t *parent, const char *name,
           enum json_want want)
{
    const json_t *member = json_object_get(parent, name);

    if (!member || json_is_null(member)) {
        return NULL;
    }

    size_t length = path_field(ctx, name);
    bool ok = check_type(ctx, member, want);
    path_pop(ctx, length);
    return ok ? member : NULL;
}

/* Returns member 'name' of 'parent' as a string, or NULL if it is absent,
 * null or not a string (which adds a problem). */
static const char *
get_string(struct parse_ctx *ctx, const json_t *parent, const char *name)
{
    return json_string_value(get_member(ctx, parent, name, WANT_STRING));
}

/* For a list element 'json': stores in '*objectp' the object to read, or
 * NULL (an empty object) for null, and returns true; adds a problem and
 * returns false for other types. */
static bool
get_element_object(struct parse_ctx *ctx, const json_t *json,
                   const json_t **objectp)
{
    *objectp = json_is_null(json) ? NULL : json;
    return json_is_null(json) || check_type(ctx, json, WANT_OBJECT);
}

/* Returns list element 'json' as a string ("" for null, as in Go), or NULL
 * after adding a problem. */
static const char *
get_element_string(struct parse_ctx *ctx, const json_t *json)
{
    if (json_is_null(json)) {
        return "";
    }
    return check_type(ctx, json, WANT_STRING) ? json_string_value(json)
                                              : NULL;
}

/* Name and label syntax.  Each *_reasons() function appends to 'reasons'
 * why its input is invalid (nothing if it is valid). */

static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static void
add_reason(struct ds *reasons, const char *prefix, const char *reason)
{
    if (reasons->length) {
        ds_put_cstr(reasons, "; ");
    }
    ds_put_format(reasons, "%s%s", prefix, reason);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool
matches_dns_label(const char *s, size_t n)
{
    if (!n || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

/* One or more DNS labels separated by dots. */
static bool
matches_dns_subdomain(const char *s, size_t n)
{
    const char *end = s + n;

    for (;;) {
        const char *dot = memchr(s, '.', end - s);
        const char *label_end = dot ? dot : end;
        if (!matches_dns_label(s, label_end - s)) {
            return false;
        } else if (!dot) {
            return true;
        }
        s = dot + 1;
    }
}

static void
dns_label_reasons(const char *s, size_t n, struct ds *reasons)
{
    if (n > DNS_LABEL_MAX_LENGTH) {
        add_reason(reasons, "", "must be no more than 63 characters");
    }
    if (!matches_dns_label(s, n)) {
        add_reason(reasons, "",
                   matches_dns_subdomain(s, n)
                   ? "must not contain dots"
                   : "must consist of lower case alphanumeric characters "
                     "or '-', and must start and end with an alphanumeric "
                     "character");
    }
}

static void
dns_subdomain_reasons(const char *s, size_t n, const char *prefix,
                      struct ds *reasons)
{
    if (n > DNS_SUBDOMAIN_MAX_LENGTH) {
        add_reason(reasons, prefix, "must be no more than 253 characters");
    }
    if (!matches_dns_subdomain(s, n)) {
        add_reason(reasons, prefix,
                   "must consist of lower case alphanumeric characters, "
                   "'-' or '.', and must start and end with an "
                   "alphanumeric character");
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]: the name part of a label key,
 * and a non-empty label value. */
static bool
matches_label_name(const char *s, size_t n)
{
    if (!n || !is_alnum(s[0]) || !is_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

#define LABEL_NAME_SYNTAX "consist of alphanumeric characters, '-', '_' " \
    "or '.', and must start and end with an alphanumeric character"

/* A label key (Kubernetes calls it a qualified name): an optional DNS
 * subdomain prefix and '/', then a name of at most 63 characters. */
static void
label_key_reasons(const char *key, struct ds *reasons)
{
    const char *name = key;
    const char *slash = strchr(key, '/');

    if (slash) {
        if (strchr(slash + 1, '/')) {
            add_reason(reasons, "", "must contain at most one '/'");
            return;
        } else if (slash == key) {
            add_reason(reasons, "", "prefix must not be empty");
        } else {
            dns_subdomain_reasons(key, slash - key, "prefix ", reasons);
        }
        name = slash + 1;
    }

    size_t n = strlen(name);
    if (!n) {
        add_reason(reasons, "", "name must not be empty");
        return;
    }
    if (n > LABEL_NAME_MAX_LENGTH) {
        add_reason(reasons, "", "name must be no more than 63 characters");
    }
    if (!matches_label_name(name, n)) {
        add_reason(reasons, "", "name must " LABEL_NAME_SYNTAX);
    }
}

static void
label_value_reasons(const char *value, struct ds *reasons)
{
    size_t n = strlen(value);

    if (n > LABEL_VALUE_MAX_LENGTH) {
        add_reason(reasons, "", "must be no more than 63 characters");
    }
    if (n && !matches_label_name(value, n)) {
        add_reason(reasons, "", "must be empty or " LABEL_NAME_SYNTAX);
    }
}

/* A port name, an IANA_SVC_NAME (RFC 6335) in lower case. */
static void
port_name_reasons(const char *name, struct ds *reasons)
{
    size_t n = strlen(name);
    bool only_valid_chars = n > 0, has_letter = false;

    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'a' && c <= 'z') {
            has_letter = true;
        } else if (!is_lower_alnum(c) && c != '-') {
            only_valid_chars = false;
        }
    }

    if (n > PORT_NAME_MAX_LENGTH) {
        add_reason(reasons, "", "must be no more than 15 characters");
    }
    if (!only_valid_chars) {
        add_reason(reasons, "", "must contain only lower case alphanumeric "
                   "characters and '-'");
    }
    if (!has_letter) {
        add_reason(reasons, "", "must contain at least one letter");
    }
    if (strstr(name, "--")) {
        add_reason(reasons, "", "must not contain consecutive hyphens");
    }
    if (n && (name[0] == '-' || name[n - 1] == '-')) {
        add_reason(reasons, "", "must not begin or end with a hyphen");
    }
}

typedef void name_check_func(const char *, struct ds *reasons);

static void
dns_label_check(const char *s, struct ds *reasons)
{
    dns_label_reasons(s, strlen(s), reasons);
}

static void
dns_subdomain_check(const char *s, struct ds *reasons)
{
    dns_subdomain_reasons(s, strlen(s), "", reasons);
}

/* Checks 'value' with 'check' and adds the problem 'what' "VALUE": REASONS
 * if it is invalid.  Returns true if it is valid. */
static bool
check_syntax(struct parse_ctx *ctx, const char *value, const char *what,
             name_check_func *check)
{
    struct ds reasons = DS_EMPTY_INITIALIZER;

    check(value, &reasons);
    bool ok = !reasons.length;
    if (!ok) {
        invalid_value(ctx, what, value, ds_cstr(&reasons));
    }
    ds_destroy(&reasons);
    return ok;
}

/* Metadata and labels. */

struct label_ref {
    const char *key;
    const char *value;
};

static int
compare_label_refs(const void *a_, const void *b_)
{
    const struct label_ref *a = a_, *b = b_;
    return strcmp(a->key, b->key);
}

/* Reads the label map 'map' (at the current path) into 'labels', checking
 * each key and value.  Also used for a selector's matchLabels. */
static void
parse_label_map(struct parse_ctx *ctx, const json_t *map,
                struct labels *labels)
{
    size_t n = json_object_size(map);
    if (n > MANIFEST_MAX_LABELS) {
        problem(ctx, "more than %d labels", MANIFEST_MAX_LABELS);
        return;
    }

    struct label_ref *refs = np_xcalloc(n, sizeof *refs);
    size_t n_refs = 0;
    const char *key;
    json_t *value;

    json_object_foreach ((json_t *) map, key, value) {
        bool ok = check_syntax(ctx, key, "invalid key", label_key_reasons);

        size_t length = path_key(ctx, key);
        if (check_type(ctx, value, WANT_STRING)) {
            ok = check_syntax(ctx, json_string_value(value), "invalid value",
                              label_value_reasons) && ok;
        } else {
            ok = false;
        }
        path_pop(ctx, length);

        if (ok) {
            refs[n_refs].key = key;
            refs[n_refs].value = json_string_value(value);
            n_refs++;
        }
    }

    /* Sorted first, so that labels_set() always appends. */
    np_qsort(refs, n_refs, sizeof *refs, compare_label_refs);
    for (size_t i = 0; i < n_refs; i++) {
        labels_set(labels, refs[i].key, refs[i].value);
    }
    free(refs);
}

/* Reads metadata.name (checked with 'check_name'), metadata.namespace (for
 * namespaced objects, into '*namespacep'; "default" when absent) and
 * metadata.labels (into 'labels', if nonnull).  Output strings are
 * malloc'd, "" when missing. */
static void
parse_metadata(struct parse_ctx *ctx, const json_t *json,
               name_check_func *check_name, char **namespacep, char **namep,
               struct labels *labels)
{
    const json_t *metadata = get_member(ctx, json, "metadata", WANT_OBJECT);
    size_t length = path_field(ctx, "metadata");

    bool bad_metadata = has_member(json, "metadata") && !metadata;
    const char *name = get_string(ctx, metadata, "name");
    size_t name_length = path_field(ctx, "name");
    if (name && name[0]) {
        check_syntax(ctx, name, "invalid value", check_name);
    } else if (!bad_metadata && (name || !has_member(metadata, "name"))) {
        /* Absent, null or "" (a name of the wrong type was reported). */
        problem(ctx, "required");
    }
    path_pop(ctx, name_length);
    *namep = np_xstrdup(name ? name : "");

    if (namespacep) {
        const char *namespace = get_string(ctx, metadata, "namespace");
        if (namespace && namespace[0]) {
            size_t ns_length = path_field(ctx, "namespace");
            check_syntax(ctx, namespace, "invalid value", dns_label_check);
            path_pop(ctx, ns_length);
        } else {
            namespace = "default";
        }
        *namespacep = np_xstrdup(namespace);
    }

    const json_t *labels_json = get_member(ctx, metadata, "labels",
                                           WANT_OBJECT);
    if (labels_json) {
        /* Labels are checked even where the model keeps none (policies),
         * as the API server checks them on every object. */
        struct labels unused;
        size_t labels_length = path_field(ctx, "labels");

        labels_init(&unused);
        parse_label_map(ctx, labels_json, labels ? labels : &unused);
        labels_destroy(&unused);
        path_pop(ctx, labels_length);
    }
    path_pop(ctx, length);
}

/* Namespaces. */

static struct np_namespace *
parse_namespace(struct parse_ctx *ctx, const json_t *json)
{
    struct np_namespace *ns = np_xzalloc(sizeof *ns);

    labels_init(&ns->labels);
    parse_metadata(ctx, json, dns_label_check, NULL, &ns->name, &ns->labels);

    /* The API server sets this label on every namespace and overrides any
     * other value; namespaceSelectors rely on it. */
    labels_set(&ns->labels, NAMESPACE_NAME_LABEL, ns->name);

    /* Opt-in audit of the connections policies allow in this namespace
     * (anything but "true" leaves it off: annotations are free text). */
    const json_t *annotations = json_object_get(json_object_get(json,
                                                                "metadata"),
                                                "annotations");
    const char *log_allowed = json_string_value(
        json_object_get(annotations, NP_LOG_ALLOWED_ANNOTATION));
    ns->log_allowed = log_allowed && !strcmp(log_allowed, "true");
    return ns;
}

/* Pods. */

/* Parses a protocol name at the current path into '*protocol'. */
static void
parse_protocol(struct parse_ctx *ctx, const char *name, uint8_t *protocol)
{
    if (!strcmp(name, "TCP")) {
        *protocol = NP_TCP;
    } else if (!strcmp(name, "UDP")) {
        *protocol = NP_UDP;
    } else if (!strcmp(name, "SCTP")) {
        *protocol = NP_SCTP;
    } else {
        unsupported_value(ctx, name, "TCP, UDP or SCTP");
    }
}

/* Reads the optional member "protocol" of 'json' (default TCP). */
static uint8_t
parse_protocol_member(struct parse_ctx *ctx, const json_t *json)
{
    uint8_t protocol = NP_TCP;
    const char *name = get_string(ctx, json, "protocol");

    if (name) {
        size_t length = path_field(ctx, "protocol");
        parse_protocol(ctx, name, &protocol);
        path_pop(ctx, length);
    }
    return protocol;
}

/* Reads one of spec.containers[].ports[] into 'port'.  'previous' are the
 * container's ports read so far, to find duplicate names. */
static void
parse_container_port(struct parse_ctx *ctx, const json_t *json,
                     const struct np_container_port *previous,
                     size_t n_previous, struct np_container_port *port)
{
    const json_t *number = get_member(ctx, json, "containerPort",
                                      WANT_INTEGER);
    size_t length = path_field(ctx, "containerPort");
    if (number) {
        long long int value = json_integer_value(number);
        if (value < 1 || value > 65535) {
            port_range_problem(ctx, value);
        } else {
            port->port = value;
        }
    } else if (!has_member(json, "containerPort")) {
        problem(ctx, "required");
    }
    path_pop(ctx, length);

    const char *name = get_string(ctx, json, "name");
    if (name && name[0]) {
        length = path_field(ctx, "name");
        if (check_syntax(ctx, name, "invalid value", port_name_reasons)) {
            for (size_t i = 0; i < n_previous; i++) {
                if (previous[i].name && !strcmp(previous[i].name, name)) {
                    duplicate_value(ctx, name);
                    break;
                }
            }
        }
        path_pop(ctx, length);
        port->name = np_xstrdup(name);
    }

    port->protocol = parse_protocol_member(ctx, json);
}

static void
parse_containers(struct parse_ctx *ctx, const json_t *spec,
                 struct np_pod *pod)
{
    const json_t *containers = get_member(ctx, spec, "containers",
                                          WANT_LIST);
    size_t length = path_field(ctx, "containers");
    size_t i;
    const json_t *container_json;

    json_array_foreach (containers, i, container_json) {
        size_t c_length = path_index(ctx, i);
        const json_t *container;

        if (get_element_object(ctx, container_json, &container)) {
            const json_t *ports = get_member(ctx, container, "ports",
                                             WANT_LIST);
            size_t p_length = path_field(ctx, "ports");
            size_t first = pod->n_ports;
            size_t j;
            const json_t *port_json;

            pod->ports = np_xrealloc(pod->ports,
                                     (pod->n_ports + json_array_size(ports))
                                     * sizeof *pod->ports);
            json_array_foreach (ports, j, port_json) {
                size_t j_length = path_index(ctx, j);
                const json_t *port;

                if (get_element_object(ctx, port_json, &port)) {
                    struct np_container_port *p = &pod->ports[pod->n_ports];
                    memset(p, 0, sizeof *p);
                    parse_container_port(ctx, port, &pod->ports[first],
                                         pod->n_ports - first, p);
                    pod->n_ports++;
                }
                path_pop(ctx, j_length);
            }
            path_pop(ctx, p_length);
        }
        path_pop(ctx, c_length);
    }
    path_pop(ctx, length);
}

/* Adds the address 'ip' (at the current path) to 'pod''s addresses. */
static void
add_pod_ip(struct parse_ctx *ctx, const char *ip, struct np_pod *pod)
{
    struct cidr cidr;

    if (!cidr_parse_address(ip, &cidr)) {
        invalid_value(ctx, "invalid value", ip, "not an IP address");
        return;
    }
    pod->ips = np_xrealloc(pod->ips, (pod->n_ips + 1) * sizeof *pod->ips);
    pod->ips[pod->n_ips++] = cidr;
}

static int
compare_cidrs(const void *a, const void *b)
{
    return cidr_compare(a, b);
}

static void
sort_unique_ips(struct np_pod *pod)
{
    size_t n = 0;

    np_qsort(pod->ips, pod->n_ips, sizeof *pod->ips, compare_cidrs);
    for (size_t i = 0; i < pod->n_ips; i++) {
        if (!n || !cidr_equal(&pod->ips[n - 1], &pod->ips[i])) {
            pod->ips[n++] = pod->ips[i];
        }
    }
    pod->n_ips = n;
}

/* Reads status.podIPs[].ip, or status.podIP when there are no podIPs (older
 * API servers), and status.phase. */
static void
parse_pod_status(struct parse_ctx *ctx, const json_t *status,
                 struct np_pod *pod)
{
    const json_t *pod_ips = get_member(ctx, status, "podIPs", WANT_LIST);
    size_t length = path_field(ctx, "podIPs");
    size_t i;
    const json_t *entry_json;

    json_array_foreach (pod_ips, i, entry_json) {
        size_t i_length = path_index(ctx, i);
        const json_t *entry;

        if (get_element_object(ctx, entry_json, &entry)) {
            const char *ip = get_string(ctx, entry, "ip");
            size_t ip_length = path_field(ctx, "ip");
            if (ip && ip[0]) {
                add_pod_ip(ctx, ip, pod);
            } else if (!has_member(entry, "ip") || ip) {
                problem(ctx, "required");
            }
            path_pop(ctx, ip_length);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);

    const char *pod_ip = get_string(ctx, status, "podIP");
    if (!json_array_size(pod_ips) && pod_ip && pod_ip[0]) {
        length = path_field(ctx, "podIP");
        add_pod_ip(ctx, pod_ip, pod);
        path_pop(ctx, length);
    }
    sort_unique_ips(pod);
    if (!pod->ips) {
        /* XXX: np_pod_equal() (model.c) memcmp()s 'ips' even when it is
         * empty, which is undefined for a null pointer. */
        pod->ips = np_xmalloc(sizeof *pod->ips);
    }

    const char *phase = get_string(ctx, status, "phase");
    pod->terminated = phase && (!strcmp(phase, "Succeeded")
                                || !strcmp(phase, "Failed"));
}

static struct np_pod *
parse_pod(struct parse_ctx *ctx, const json_t *json)
{
    struct np_pod *pod = np_xzalloc(sizeof *pod);

    labels_init(&pod->labels);
    parse_metadata(ctx, json, dns_subdomain_check, &pod->namespace,
                   &pod->name, &pod->labels);

    const json_t *spec = get_member(ctx, json, "spec", WANT_OBJECT);
    size_t length = path_field(ctx, "spec");
    const char *node_name = get_string(ctx, spec, "nodeName");
    if (node_name && node_name[0]) {
        size_t n_length = path_field(ctx, "nodeName");
        check_syntax(ctx, node_name, "invalid value", dns_subdomain_check);
        path_pop(ctx, n_length);
        pod->node_name = np_xstrdup(node_name);
    }
    pod->host_network = json_is_true(get_member(ctx, spec, "hostNetwork",
                                                WANT_BOOLEAN));
    parse_containers(ctx, spec, pod);
    path_pop(ctx, length);

    const json_t *status = get_member(ctx, json, "status", WANT_OBJECT);
    length = path_field(ctx, "status");
    parse_pod_status(ctx, status, pod);
    path_pop(ctx, length);
    return pod;
}

/* Selectors. */

static bool
parse_selector_op(const char *name, enum selector_op *op)
{
    static const struct {
        const char *name;
        enum selector_op op;
    } ops[] = {
        { "In", SELECTOR_IN },
        { "NotIn", SELECTOR_NOT_IN },
        { "Exists", SELECTOR_EXISTS },
        { "DoesNotExist", SELECTOR_DOES_NOT_EXIST },
    };

    for (size_t i = 0; i < NP_ARRAY_SIZE(ops); i++) {
        if (!strcmp(name, ops[i].name)) {
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;
    return strcmp(*a, *b);
}

static void
sort_unique_values(struct selector_req *req)
{
    size_t n = 0;

    np_qsort(req->values, req->n_values, sizeof *req->values, compare_strings);
    for (size_t i = 0; i < req->n_values; i++) {
        if (n && !strcmp(req->values[n - 1], req->values[i])) {
            free(req->values[i]);
        } else {
            req->values[n++] = req->values[i];
        }
    }
    req->n_values = n;
}

static int
compare_reqs(const void *a_, const void *b_)
{
    const struct selector_req *a = a_, *b = b_;
    int cmp = strcmp(a->key, b->key);

    if (cmp) {
        return cmp;
    } else if (a->op != b->op) {
        return a->op < b->op ? -1 : 1;
    }
    for (size_t i = 0; i < a->n_values && i < b->n_values; i++) {
        cmp = strcmp(a->values[i], b->values[i]);
        if (cmp) {
            return cmp;
        }
    }
    return (a->n_values < b->n_values ? -1
            : a->n_values > b->n_values);
}

static void
free_req(struct selector_req *req)
{
    free(req->key);
    for (size_t i = 0; i < req->n_values; i++) {
        free(req->values[i]);
    }
    free(req->values);
}

/* Sorts the requirements of 'sel' by key, operator and values, and drops
 * exact duplicates, so that equal selectors compare equal. */
static void
normalize_selector(struct selector *sel)
{
    size_t n = 0;

    for (size_t i = 0; i < sel->n_reqs; i++) {
        sort_unique_values(&sel->reqs[i]);
    }
    np_qsort(sel->reqs, sel->n_reqs, sizeof *sel->reqs, compare_reqs);
    for (size_t i = 0; i < sel->n_reqs; i++) {
        if (n && !compare_reqs(&sel->reqs[n - 1], &sel->reqs[i])) {
            free_req(&sel->reqs[i]);
        } else {
            sel->reqs[n++] = sel->reqs[i];
        }
    }
    sel->n_reqs = n;
}

static struct selector_req *
add_req(struct selector *sel, size_t *allocated, const char *key,
        enum selector_op op)
{
    sel->reqs = np_x2nrealloc(sel->reqs, allocated, sel->n_reqs + 1,
                              sizeof *sel->reqs);

    struct selector_req *req = &sel->reqs[sel->n_reqs++];
    req->key = np_xstrdup(key);
    req->op = op;
    req->values = NULL;
    req->n_values = 0;
    return req;
}

static void
parse_match_labels(struct parse_ctx *ctx, const json_t *map,
                   struct selector *sel, size_t *allocated)
{
    struct labels labels;

    labels_init(&labels);
    parse_label_map(ctx, map, &labels);
    for (size_t i = 0; i < labels.n; i++) {
        struct selector_req *req = add_req(sel, allocated,
                                           labels.items[i].key, SELECTOR_IN);
        req->values = np_xmalloc(sizeof *req->values);
        req->values[0] = np_xstrdup(labels.items[i].value);
        req->n_values = 1;
    }
    labels_destroy(&labels);
}

/* Reads the "values" of a requirement with operator 'op_name' (NULL if the
 * operator is invalid) into 'req'. */
static void
parse_req_values(struct parse_ctx *ctx, const json_t *values,
                 const char *op_name, struct selector_req *req)
{
    size_t n = json_array_size(values);
    size_t length = path_field(ctx, "values");
    size_t i;
    const json_t *value_json;

    if (!op_name) {
        /* The operator's problem is enough. */
    } else if ((req->op == SELECTOR_IN || req->op == SELECTOR_NOT_IN)
               && !n) {
        problem(ctx, "must not be empty for operator %s", op_name);
    } else if ((req->op == SELECTOR_EXISTS
                || req->op == SELECTOR_DOES_NOT_EXIST) && n) {
        problem(ctx, "must be empty for operator %s", op_name);
    }

    req->values = np_xcalloc(n, sizeof *req->values);
    json_array_foreach (values, i, value_json) {
        size_t i_length = path_index(ctx, i);
        const char *value = get_element_string(ctx, value_json);
        if (value && check_syntax(ctx, value, "invalid value",
                                  label_value_reasons)) {
            req->values[req->n_values++] = np_xstrdup(value);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);
}

/* Reads one of matchExpressions[] (the current path). */
static void
parse_match_expression(struct parse_ctx *ctx, const json_t *json,
                       struct selector *sel, size_t *allocated)
{
    const char *key = get_string(ctx, json, "key");
    size_t length = path_field(ctx, "key");
    if (key) {
        check_syntax(ctx, key, "invalid value", label_key_reasons);
    } else if (!has_member(json, "key")) {
        problem(ctx, "required");
    }
    path_pop(ctx, length);

    enum selector_op op = SELECTOR_IN;
    const char *op_name = get_string(ctx, json, "operator");
    length = path_field(ctx, "operator");
    if (op_name && !parse_selector_op(op_name, &op)) {
        unsupported_value(ctx, op_name,
                          "In, NotIn, Exists or DoesNotExist");
        op_name = NULL;
    } else if (!op_name && !has_member(json, "operator")) {
        problem(ctx, "required");
    }
    path_pop(ctx, length);

    struct selector_req *req = add_req(sel, allocated, key ? key : "", op);
    parse_req_values(ctx, get_member(ctx, json, "values", WANT_LIST),
                     op_name, req);
}

/* Reads the label selector 'json' (NULL for an empty one) at the current
 * path into 'sel'. */
static void
parse_selector(struct parse_ctx *ctx, const json_t *json,
               struct selector *sel)
{
    size_t allocated = 0;

    sel->reqs = NULL;
    sel->n_reqs = 0;

    const json_t *match_labels = get_member(ctx, json, "matchLabels",
                                            WANT_OBJECT);
    if (match_labels) {
        size_t length = path_field(ctx, "matchLabels");
        parse_match_labels(ctx, match_labels, sel, &allocated);
        path_pop(ctx, length);
    }

    const json_t *exprs = get_member(ctx, json, "matchExpressions",
                                     WANT_LIST);
    size_t length = path_field(ctx, "matchExpressions");
    size_t i;
    const json_t *expr_json;
    json_array_foreach (exprs, i, expr_json) {
        size_t i_length = path_index(ctx, i);
        const json_t *expr;
        if (get_element_object(ctx, expr_json, &expr)) {
            parse_match_expression(ctx, expr, sel, &allocated);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);

    normalize_selector(sel);
}

/* Reads the optional selector member 'name' of 'json' into a new selector,
 * or returns NULL if it is absent or null. */
static struct selector *
parse_optional_selector(struct parse_ctx *ctx, const json_t *json,
                        const char *name)
{
    const json_t *sel_json = get_member(ctx, json, name, WANT_OBJECT);
    if (!sel_json) {
        return NULL;
    }

    struct selector *sel = np_xmalloc(sizeof *sel);
    size_t length = path_field(ctx, name);
    parse_selector(ctx, sel_json, sel);
    path_pop(ctx, length);
    return sel;
}

/* NetworkPolicies. */

/* Parses 's' (at the current path) as a CIDR into '*cidr'. */
static bool
parse_cidr(struct parse_ctx *ctx, const char *s, struct cidr *cidr)
{
    char *error = cidr_parse(s, false, cidr);
    if (error) {
        problem(ctx, "%s", error);      /* It quotes 's'. */
        free(error);
        return false;
    }
    return true;
}

/* Checks that 'except' lies strictly within 'cidr', as Kubernetes
 * requires: inside it and with a longer prefix. */
static void
check_except(struct parse_ctx *ctx, const struct cidr *cidr,
             const struct cidr *except)
{
    if (!cidr_contains(cidr, except) || except->plen <= cidr->plen) {
        char *s = cidr_to_string(cidr);
        problem(ctx, "%s %s",
                cidr_contains(except, cidr) ? "not strictly within"
                                            : "not within", s);
        free(s);
    }
}

static void
parse_ip_block(struct parse_ctx *ctx, const json_t *json,
               struct np_peer *peer)
{
    peer->is_ip_block = true;

    const char *cidr = get_string(ctx, json, "cidr");
    size_t length = path_field(ctx, "cidr");
    bool cidr_ok = false;
    if (cidr && cidr[0]) {
        cidr_ok = parse_cidr(ctx, cidr, &peer->cidr);
    } else if (cidr || !has_member(json, "cidr")) {
        problem(ctx, "required");
    }
    path_pop(ctx, length);

    const json_t *excepts = get_member(ctx, json, "except", WANT_LIST);
    length = path_field(ctx, "except");
    size_t i;
    const json_t *except_json;
    peer->except = np_xcalloc(json_array_size(excepts),
                              sizeof *peer->except);
    json_array_foreach (excepts, i, except_json) {
        size_t i_length = path_index(ctx, i);
        const char *s = get_element_string(ctx, except_json);
        struct cidr *except = &peer->except[peer->n_except];

        if (s && parse_cidr(ctx, s, except)) {
            if (cidr_ok) {
                check_except(ctx, &peer->cidr, except);
            }
            peer->n_except++;
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);
}

/* Reads one "from" or "to" entry (the current path) into 'peer'. */
static void
parse_peer(struct parse_ctx *ctx, const json_t *json, struct np_peer *peer)
{
    bool has_pod = has_member(json, "podSelector");
    bool has_ns = has_member(json, "namespaceSelector");
    bool has_ip_block = has_member(json, "ipBlock");

    peer->pod_selector = parse_optional_selector(ctx, json, "podSelector");
    peer->ns_selector = parse_optional_selector(ctx, json,
                                                "namespaceSelector");

    const json_t *ip_block = get_member(ctx, json, "ipBlock", WANT_OBJECT);
    if (ip_block) {
        size_t length = path_field(ctx, "ipBlock");
        parse_ip_block(ctx, ip_block, peer);
        path_pop(ctx, length);
    }

    if (!has_pod && !has_ns && !has_ip_block) {
        problem(ctx, "must specify podSelector, namespaceSelector or "
                "ipBlock");
    } else if (has_ip_block && (has_pod || has_ns)) {
        problem(ctx, "may not combine ipBlock with podSelector or "
                "namespaceSelector");
    }
}

/* Reads one of "ports" (the current path) into 'port'. */
static void
parse_port(struct parse_ctx *ctx, const json_t *json, struct np_port *port)
{
    port->protocol = parse_protocol_member(ctx, json);
    port->kind = NP_PORT_ALL;

    const json_t *number = json_object_get(json, "port");
    size_t length = path_field(ctx, "port");
    if (!number || json_is_null(number)) {
        /* Every port of the protocol. */
    } else if (json_is_integer(number)) {
        long long int value = json_integer_value(number);
        if (value < 1 || value > 65535) {
            port_range_problem(ctx, value);
        }
        port->kind = NP_PORT_NUMBER;
        port->port = port->end_port = value;
    } else if (json_is_string(number)) {
        const char *name = json_string_value(number);
        check_syntax(ctx, name, "invalid value", port_name_reasons);
        port->kind = NP_PORT_NAMED;
        port->name = np_xstrdup(name);
    } else {
        problem(ctx, "must be an integer or a string, not %s",
                json_type_name(number));
    }
    path_pop(ctx, length);

    const json_t *end = get_member(ctx, json, "endPort", WANT_INTEGER);
    if (!end) {
        return;
    }
    long long int end_port = json_integer_value(end);
    length = path_field(ctx, "endPort");
    if (port->kind == NP_PORT_ALL) {
        problem(ctx, "may not be set without port");
    } else if (port->kind == NP_PORT_NAMED) {
        problem(ctx, "may not be set when port is a name");
    } else {
        if (end_port < json_integer_value(number)) {
            problem(ctx, "must be greater than or equal to port (%lld)",
                    json_integer_value(number));
        }
        if (end_port < 1 || end_port > 65535) {
            port_range_problem(ctx, end_port);
        }
        port->end_port = end_port;
    }
    path_pop(ctx, length);
}

/* Reads one rule (the current path) with peers in 'peers_field' ("from" or
 * "to"). */
static void
parse_rule(struct parse_ctx *ctx, const json_t *json,
           const char *peers_field, struct np_rule *rule)
{
    const json_t *peers = get_member(ctx, json, peers_field, WANT_LIST);
    size_t length = path_field(ctx, peers_field);
    size_t i;
    const json_t *element;

    rule->n_peers = json_array_size(peers);
    rule->peers = np_xcalloc(rule->n_peers, sizeof *rule->peers);
    json_array_foreach (peers, i, element) {
        size_t i_length = path_index(ctx, i);
        const json_t *peer;
        if (get_element_object(ctx, element, &peer)) {
            parse_peer(ctx, peer, &rule->peers[i]);
        }
        if (!rule->peers[i].except) {
            /* XXX: np_peer_equal() (model.c) memcmp()s 'except' even when
             * it is empty, which is undefined for a null pointer. */
            rule->peers[i].except = np_xmalloc(sizeof *rule->peers[i].except);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);

    const json_t *ports = get_member(ctx, json, "ports", WANT_LIST);
    length = path_field(ctx, "ports");
    rule->n_ports = json_array_size(ports);
    rule->ports = np_xcalloc(rule->n_ports, sizeof *rule->ports);
    json_array_foreach (ports, i, element) {
        size_t i_length = path_index(ctx, i);
        const json_t *port;
        rule->ports[i].protocol = NP_TCP;
        if (get_element_object(ctx, element, &port)) {
            parse_port(ctx, port, &rule->ports[i]);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);
}

/* Reads spec.ingress or spec.egress. */
static void
parse_rules(struct parse_ctx *ctx, const json_t *spec, const char *name,
            const char *peers_field, struct np_rule **rulesp,
            size_t *n_rulesp)
{
    const json_t *rules = get_member(ctx, spec, name, WANT_LIST);
    size_t length = path_field(ctx, name);
    size_t i;
    const json_t *element;

    *n_rulesp = json_array_size(rules);
    *rulesp = *n_rulesp ? np_xcalloc(*n_rulesp, sizeof **rulesp) : NULL;
    json_array_foreach (rules, i, element) {
        size_t i_length = path_index(ctx, i);
        const json_t *rule;
        if (get_element_object(ctx, element, &rule)) {
            parse_rule(ctx, rule, peers_field, &(*rulesp)[i]);
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);
}

/* Reads spec.policyTypes into 'policy->isolates', or defaults it as the API
 * server does: Ingress always, Egress if there are egress rules. */
static void
parse_policy_types(struct parse_ctx *ctx, const json_t *spec,
                   struct np_policy *policy)
{
    const json_t *types = get_member(ctx, spec, "policyTypes", WANT_LIST);
    if (!json_array_size(types)) {
        policy->isolates[NP_INGRESS] = true;
        policy->isolates[NP_EGRESS] = policy->n_rules[NP_EGRESS] > 0;
        return;
    }

    size_t length = path_field(ctx, "policyTypes");
    size_t i;
    const json_t *element;
    json_array_foreach (types, i, element) {
        size_t i_length = path_index(ctx, i);
        const char *type = get_element_string(ctx, element);
        enum np_direction dir = NP_INGRESS;

        if (!type) {
            /* Wrong JSON type, already reported. */
        } else if (strcmp(type, "Ingress") && strcmp(type, "Egress")) {
            unsupported_value(ctx, type, "Ingress or Egress");
        } else {
            dir = !strcmp(type, "Ingress") ? NP_INGRESS : NP_EGRESS;
            if (policy->isolates[dir]) {
                duplicate_value(ctx, type);
            }
            policy->isolates[dir] = true;
        }
        path_pop(ctx, i_length);
    }
    path_pop(ctx, length);
}

static struct np_policy *
parse_policy(struct parse_ctx *ctx, const json_t *json)
{
    struct np_policy *policy = np_xzalloc(sizeof *policy);

    parse_metadata(ctx, json, dns_subdomain_check, &policy->namespace,
                   &policy->name, NULL);

    const json_t *spec = get_member(ctx, json, "spec", WANT_OBJECT);
    size_t length = path_field(ctx, "spec");

    /* An absent podSelector is the empty one: every pod of the
     * namespace. */
    const json_t *selector = get_member(ctx, spec, "podSelector",
                                        WANT_OBJECT);
    size_t s_length = path_field(ctx, "podSelector");
    parse_selector(ctx, selector, &policy->pod_selector);
    path_pop(ctx, s_length);

    parse_rules(ctx, spec, "ingress", "from", &policy->rules[NP_INGRESS],
                &policy->n_rules[NP_INGRESS]);
    parse_rules(ctx, spec, "egress", "to", &policy->rules[NP_EGRESS],
                &policy->n_rules[NP_EGRESS]);
    parse_policy_types(ctx, spec, policy);
    path_pop(ctx, length);
    return policy;
}
