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

/* k8s-config.c: kubeconfig and in-cluster configuration (k8s-config.h).
 * Start-up only: local files -> 'struct k8s_config' for the Kubernetes
 * source.  It never talks to the network, and never puts a token, a key or
 * any value of a credential field into a message. */

#include <config.h>
#include "k8s-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/manifest.h"

/* A kubeconfig larger than this is refused. */
#define KUBECONFIG_MAX_SIZE (16u << 20)

void
k8s_config_init(struct k8s_config *c)
{
    memset(c, 0, sizeof *c);
    c->page_size = K8S_DEFAULT_PAGE_SIZE;
    c->stall_timeout_ms = K8S_DEFAULT_STALL_TIMEOUT_MS;
    c->max_line_size = K8S_DEFAULT_MAX_LINE_SIZE;
    c->max_page_size = K8S_DEFAULT_MAX_PAGE_SIZE;
}

void
k8s_blob_wipe(struct k8s_blob *blob)
{
    if (blob->data) {
        explicit_bzero(blob->data, blob->size);
        free(blob->data);
    }
    blob->data = NULL;
    blob->size = 0;
}

static void
wipe_string(char **s)
{
    if (*s) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
k8s_config_destroy(struct k8s_config *c)
{
    if (!c) {
        return;
    }
    free(c->origin);
    free(c->context);
    free(c->server);
    free(c->ca_file);
    k8s_blob_wipe(&c->ca_data);
    free(c->cert_file);
    k8s_blob_wipe(&c->cert_data);
    free(c->key_file);
    k8s_blob_wipe(&c->key_data);
    wipe_string(&c->token);
    free(c->token_file);
    free(c->node_name);
    memset(c, 0, sizeof *c);
}

static char *
nullable_strdup(const char *s)
{
    return s ? np_xstrdup(s) : NULL;
}

static struct k8s_blob
blob_clone(const struct k8s_blob *b)
{
    struct k8s_blob copy = { NULL, b->size };
    if (b->data) {
        copy.data = np_xmalloc(b->size + 1);
        memcpy(copy.data, b->data, b->size);
        copy.data[b->size] = '\0';
    }
    return copy;
}

void
k8s_config_clone(struct k8s_config *dst, const struct k8s_config *src)
{
    *dst = *src;
    dst->origin = nullable_strdup(src->origin);
    dst->context = nullable_strdup(src->context);
    dst->server = nullable_strdup(src->server);
    dst->ca_file = nullable_strdup(src->ca_file);
    dst->ca_data = blob_clone(&src->ca_data);
    dst->cert_file = nullable_strdup(src->cert_file);
    dst->cert_data = blob_clone(&src->cert_data);
    dst->key_file = nullable_strdup(src->key_file);
    dst->key_data = blob_clone(&src->key_data);
    dst->token = nullable_strdup(src->token);
    dst->token_file = nullable_strdup(src->token_file);
    dst->node_name = nullable_strdup(src->node_name);
}

/* Base64. */

static int
base64_value(unsigned char c)
{
    return (c >= 'A' && c <= 'Z' ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+' ? 62
            : c == '/' ? 63
            : -1);
}

bool
k8s_base64_decode(const char *in, struct k8s_blob *out)
{
    size_t len = strlen(in);
    char *buf = np_xmalloc(len / 4 * 3 + 4);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    bool padding = false;

    for (const char *p = in; *p; p++) {
        unsigned char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '=') {
            padding = true;
            continue;
        }
        int v = base64_value(c);
        if (v < 0 || padding) {
            explicit_bzero(buf, n);
            free(buf);
            return false;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (acc >> bits) & 0xff;
        }
    }
    /* Leftover bits must be padding zeros, and at most 4 of them. */
    if (bits >= 6 || (acc & ((1u << bits) - 1))) {
        explicit_bzero(buf, n);
        free(buf);
        return false;
    }
    buf[n] = '\0';
    out->data = buf;
    out->size = n;
    return true;
}

/* Files. */

/* Reads the file at 'path' (at most 'max' bytes) into a malloc'd,
 * null-terminated buffer.  Returns 0 or an errno value (EFBIG when too
 * large). */
static int
read_small_file(const char *path, size_t max, char **bufp, size_t *sizep)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return errno;
    }
    size_t allocated = 4096, n = 0;
    char *buf = np_xmalloc(allocated);
    int error = 0;
    for (;;) {
        if (n + 1 >= allocated) {
            if (allocated > max) {
                error = EFBIG;
                break;
            }
            allocated *= 2;
            buf = np_xrealloc(buf, allocated);
        }
        size_t got = fread(buf + n, 1, allocated - n - 1, f);
        n += got;
        if (!got) {
            error = ferror(f) ? EIO : 0;
            break;
        }
    }
    fclose(f);
    if (!error && n > max) {
        error = EFBIG;
    }
    if (error) {
        explicit_bzero(buf, n);
        free(buf);
        return error;
    }
    buf[n] = '\0';
    *bufp = buf;
    *sizep = n;
    return 0;
}

/* 'path' as is if absolute, else relative to the directory of 'base'. */
static char *
resolve_path(const char *base, const char *path)
{
    const char *slash = strrchr(base, '/');
    if (path[0] == '/' || !slash) {
        return np_xstrdup(path);
    }
    return np_xasprintf("%.*s/%s", (int) (slash - base), base, path);
}

/* Kubeconfig. */

/* The 'field' member of the element of list 'list' of 'root' whose "name"
 * is 'name', e.g. contexts[name=X].context.  NULL if absent. */
static const json_t *
find_named(const json_t *root, const char *list, const char *name,
           const char *field)
{
    const json_t *array = json_object_get(root, list);
    const json_t *item;
    size_t i;

    json_array_foreach (array, i, item) {
        const char *s = json_string_value(json_object_get(item, "name"));
        if (s && !strcmp(s, name)) {
            const json_t *value = json_object_get(item, field);
            return json_is_object(value) ? value : NULL;
        }
    }
    return NULL;
}

/* Reads string field 'key' of 'obj' into '*out' (malloc'd; left NULL when
 * absent or empty).  Returns an error if the field is there but not a
 * string.  Never quotes the value. */
static char *
get_string(const json_t *obj, const char *what, const char *key,
           char **out)
{
    const json_t *value = json_object_get(obj, key);
    if (!value || json_is_null(value)) {
        return NULL;
    } else if (!json_is_string(value)) {
        return np_xasprintf("%s: \"%s\" must be a string", what, key);
    }
    if (json_string_length(value)) {
        *out = np_xstrdup(json_string_value(value));
    }
    return NULL;
}

/* Like get_string() for a path, resolved against the kubeconfig's
 * directory. */
static char *
get_path(const json_t *obj, const char *what, const char *key,
         const char *kubeconfig, char **out)
{
    char *s = NULL;
    char *error = get_string(obj, what, key, &s);
    if (!error && s) {
        *out = resolve_path(kubeconfig, s);
        free(s);
    }
    return error;
}

/* Reads base64 field 'key' of 'obj' into '*out'. */
static char *
get_data(const json_t *obj, const char *what, const char *key,
         struct k8s_blob *out)
{
    char *s = NULL;
    char *error = get_string(obj, what, key, &s);
    if (error || !s) {
        return error;
    }
    if (!k8s_base64_decode(s, out)) {
        error = np_xasprintf("%s: \"%s\" is not valid base64", what, key);
    }
    explicit_bzero(s, strlen(s));
    free(s);
    return error;
}

/* Reads boolean field 'key' of 'obj' (true, false, "true", "false", or
 * absent: false) into '*out'. */
static char *
get_bool(const json_t *obj, const char *what, const char *key, bool *out)
{
    const json_t *value = json_object_get(obj, key);
    const char *s = json_string_value(value);

    if (!value || json_is_null(value) || json_is_false(value)
        || (s && !strcmp(s, "false"))) {
        *out = false;
    } else if (json_is_true(value) || (s && !strcmp(s, "true"))) {
        *out = true;
    } else {
        return np_xasprintf("%s: \"%s\" must be true or false", what, key);
    }
    return NULL;
}

static char *
parse_cluster(struct k8s_config *c, const json_t *cluster, const char *what,
              const char *path)
{
    char *error;

    if ((error = get_string(cluster, what, "server", &c->server))
        || (error = get_path(cluster, what, "certificate-authority", path,
                             &c->ca_file))
        || (error = get_data(cluster, what, "certificate-authority-data",
                             &c->ca_data))
        || (error = get_bool(cluster, what, "insecure-skip-tls-verify",
                             &c->insecure))) {
        return error;
    }
    if (!c->server) {
        return np_xasprintf("%s: no \"server\"", what);
    }
    if (strncmp(c->server, "https://", 8)
        && strncmp(c->server, "http://", 7)) {
        return np_xasprintf("%s: \"server\" must be an http:// or https:// "
                            "URL", what);
    }
    size_t len = strlen(c->server);
    while (len > 8 && c->server[len - 1] == '/') {
        c->server[--len] = '\0';
    }
    if (c->insecure && (c->ca_file || c->ca_data.data)) {
        return np_xasprintf("%s: a certificate authority cannot be combined "
                            "with insecure-skip-tls-verify", what);
    }
    static const char *const unsupported[] = {
        "tls-server-name", "proxy-url",
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(unsupported); i++) {
        if (json_object_get(cluster, unsupported[i])) {
            return np_xasprintf("%s: \"%s\" is not supported", what,
                                unsupported[i]);
        }
    }
    return NULL;
}

static char *
parse_user(struct k8s_config *c, const json_t *user, const char *what,
           const char *path)
{
    static const char *const unsupported[] = {
        "exec", "auth-provider", "username", "password", "as",
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(unsupported); i++) {
        const json_t *v = json_object_get(user, unsupported[i]);
        if (v && !json_is_null(v)) {
            return np_xasprintf("%s: \"%s\" is not supported; give the "
                                "agent a token, a tokenFile or a client "
                                "certificate", what, unsupported[i]);
        }
    }

    char *error;
    if ((error = get_path(user, what, "client-certificate", path,
                          &c->cert_file))
        || (error = get_data(user, what, "client-certificate-data",
                             &c->cert_data))
        || (error = get_path(user, what, "client-key", path, &c->key_file))
        || (error = get_data(user, what, "client-key-data", &c->key_data))
        || (error = get_string(user, what, "token", &c->token))
        || (error = get_path(user, what, "tokenFile", path,
                             &c->token_file))) {
        return error;
    }
    bool has_cert = c->cert_file || c->cert_data.data;
    bool has_key = c->key_file || c->key_data.data;
    if (has_cert != has_key) {
        return np_xasprintf("%s: a client certificate needs its key, and "
                            "a key its certificate", what);
    }
    if (c->token_file && c->token) {
        /* As client-go: the file wins, and is re-read when it rotates. */
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
        c->token = NULL;
    }
    return NULL;
}

static char *
parse_kubeconfig(struct k8s_config *c, const json_t *root, const char *path)
{
    const char *ctx_name = json_string_value(json_object_get(
                                                 root, "current-context"));
    const json_t *contexts = json_object_get(root, "contexts");
    if ((!ctx_name || !*ctx_name) && json_array_size(contexts) == 1) {
        ctx_name = json_string_value(json_object_get(
                                         json_array_get(contexts, 0),
                                         "name"));
    }
    if (!ctx_name || !*ctx_name) {
        return np_xstrdup("no current-context");
    }
    c->context = np_xstrdup(ctx_name);

    const json_t *ctx = find_named(root, "contexts", ctx_name, "context");
    if (!ctx) {
        return np_xasprintf("context \"%s\" not found", ctx_name);
    }
    const char *cluster_name = json_string_value(json_object_get(ctx,
                                                                 "cluster"));
    const char *user_name = json_string_value(json_object_get(ctx, "user"));
    if (!cluster_name) {
        return np_xasprintf("context \"%s\" names no cluster", ctx_name);
    }

    const json_t *cluster = find_named(root, "clusters", cluster_name,
                                       "cluster");
    if (!cluster) {
        return np_xasprintf("cluster \"%s\" not found", cluster_name);
    }
    char *what = np_xasprintf("cluster \"%s\"", cluster_name);
    char *error = parse_cluster(c, cluster, what, path);
    free(what);
    if (error || !user_name || !*user_name) {
        return error;
    }

    const json_t *user = find_named(root, "users", user_name, "user");
    if (!user) {
        return np_xasprintf("user \"%s\" not found", user_name);
    }
    what = np_xasprintf("user \"%s\"", user_name);
    error = parse_user(c, user, what, path);
    free(what);
    return error;
}

/* A token or a client key sent without TLS is readable by anyone on the
 * path: refuse, as kubectl's own warnings suggest, rather than send it. */
static char *
check_credentials_over_tls(const struct k8s_config *c)
{
    bool has_credentials = (c->token || c->token_file || c->key_file
                            || c->key_data.data);
    if (has_credentials && !strncmp(c->server, "http://", 7)) {
        return np_xasprintf("server %s is plain http:// but the user has "
                            "credentials; refusing to send them without TLS "
                            "(use https://)", c->server);
    }
    return NULL;
}

char *
k8s_config_from_kubeconfig(struct k8s_config *c, const char *path)
{
    char *buf = NULL, *error;
    size_t size = 0;

    c->origin = np_xstrdup(path);
    int err = read_small_file(path, KUBECONFIG_MAX_SIZE, &buf, &size);
    if (err) {
        return np_xasprintf("%s: %s", path, np_strerror(err));
    }

    json_t **docs = NULL;
    size_t n_docs = 0;
    error = yaml_to_json(buf, size, &docs, &n_docs);
    explicit_bzero(buf, size);
    free(buf);
    if (error) {
        char *msg = np_xasprintf("%s: %s", path, error);
        free(error);
        return msg;
    }

    if (n_docs != 1 || !json_is_object(docs[0])) {
        error = np_xstrdup("expected one YAML document holding a mapping");
    } else {
        error = parse_kubeconfig(c, docs[0], path);
    }
    if (!error) {
        error = check_credentials_over_tls(c);
    }
    for (size_t i = 0; i < n_docs; i++) {
        json_decref(docs[i]);
    }
    free(docs);
    if (error) {
        char *msg = np_xasprintf("%s: %s", path, error);
        free(error);
        return msg;
    }
    return NULL;
}

/* In-cluster. */

bool
k8s_config_in_cluster_available(void)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    return host && *host;
}

char *
k8s_config_in_cluster(struct k8s_config *c)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv("OVS_NETPOL_SERVICE_ACCOUNT_DIR");

    c->origin = np_xstrdup("in-cluster");
    if (!host || !*host || !port || !*port) {
        return np_xstrdup("in-cluster configuration: KUBERNETES_SERVICE_HOST "
                          "and KUBERNETES_SERVICE_PORT must be set");
    }
    if (strspn(port, "0123456789") != strlen(port)) {
        return np_xstrdup("in-cluster configuration: KUBERNETES_SERVICE_PORT "
                          "is not a port number");
    }
    if (!dir || !*dir) {
        dir = K8S_SERVICE_ACCOUNT_DIR;
    }
    c->server = np_xasprintf(strchr(host, ':') ? "https://[%s]:%s"
                             : "https://%s:%s", host, port);
    c->ca_file = np_xasprintf("%s/ca.crt", dir);
    c->token_file = np_xasprintf("%s/token", dir);

    FILE *f = fopen(c->token_file, "r");
    if (!f) {
        return np_xasprintf("in-cluster configuration: %s: %s",
                            c->token_file, np_strerror(errno));
    }
    fclose(f);
    return NULL;
}

char *
k8s_config_describe_auth(const struct k8s_config *c)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    if (c->token_file) {
        ds_put_format(&s, "token file %s", c->token_file);
    } else if (c->token) {
        ds_put_cstr(&s, "static token");
    }
    if (c->cert_file || c->cert_data.data) {
        ds_put_format(&s, "%sclient certificate", s.length ? " and " : "");
    }
    if (!s.length) {
        ds_put_cstr(&s, "none");
    }
    return ds_steal_cstr(&s);
}
