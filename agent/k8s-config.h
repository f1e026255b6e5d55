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

#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H 1

/* How to reach the Kubernetes API server: in-cluster configuration or a
 * kubeconfig file, reduced to what the Kubernetes source (k8s-source.h)
 * needs.
 *
 * Where it sits: command line -> [k8s_config] -> k8s-client -> API server.
 * It only reads local files, once, at start-up; the token file it names is
 * re-read later by k8s-client.c, whenever it changes.
 *
 * In-cluster
 * ==========
 *
 * As client-go's rest.InClusterConfig(): the server is
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host is
 * bracketed), the CA is the service account's ca.crt, the credential its
 * token file.  Both files are in K8S_SERVICE_ACCOUNT_DIR; the environment
 * variable OVS_NETPOL_SERVICE_ACCOUNT_DIR names another directory (for
 * tests).  The token file is re-read when it changes, because the kubelet
 * rotates projected service account tokens.
 *
 * Kubeconfig
 * ==========
 *
 * The file is YAML (or JSON), read with our own YAML reader (yaml_to_json()
 * in manifest.h).  The context is "current-context" (or the only context, if
 * there is exactly one).  From its cluster: "server",
 * "certificate-authority" (a file) or "certificate-authority-data"
 * (base64 PEM), "insecure-skip-tls-verify".  From its user:
 * "client-certificate"/"client-certificate-data",
 * "client-key"/"client-key-data", "token", "tokenFile" (which, as in
 * client-go, wins over "token" and is re-read when it changes).  Relative
 * paths are relative to the kubeconfig's directory.  Credential plugins
 * ("exec", "auth-provider") and basic authentication are refused with a
 * clear message rather than silently ignored.
 *
 * TLS is always verified, against the given CA or else the system's, unless
 * the kubeconfig says "insecure-skip-tls-verify: true" (which, as kubectl
 * insists, cannot be combined with a CA).  A plain "http://" server is
 * accepted (it is what a local proxy such as `kubectl proxy` serves) and
 * logged as a warning by the source.
 *
 * Secrets
 * =======
 *
 * A static token and private key data are held in memory only as long as
 * the configuration lives and are wiped by k8s_config_destroy().  Error
 * messages from this module name files and fields, never their contents.
 *
 * All calls run on one thread. */

#include <stdbool.h>
#include <stddef.h>
#include "ovs-netpol/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define K8S_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Defaults of the tunables below. */
#define K8S_DEFAULT_PAGE_SIZE 500
#define K8S_DEFAULT_STALL_TIMEOUT_MS (120 * 1000)  /* 2 x ~1 min bookmarks. */
#define K8S_DEFAULT_MAX_LINE_SIZE (16u << 20)      /* One watch event. */
#define K8S_DEFAULT_MAX_PAGE_SIZE (64u << 20)      /* One list response. */

/* Bytes, for the *-data fields, which may hold anything. */
struct k8s_blob {
    char *data;                 /* NULL when absent. */
    size_t size;
};

struct k8s_config {
    /* Where the configuration came from, for messages: "in-cluster" or the
     * kubeconfig's path, and the context used (NULL in-cluster). */
    char *origin;
    char *context;

    char *server;               /* "https://host:port[/prefix]", without a
                                 * trailing slash. */

    /* Server verification. */
    char *ca_file;              /* PEM bundle, or NULL. */
    struct k8s_blob ca_data;    /* PEM, or absent. */
    bool insecure;              /* Skip verification (only if the
                                 * kubeconfig says so). */

    /* Client credentials (any combination). */
    char *cert_file;
    struct k8s_blob cert_data;
    char *key_file;
    struct k8s_blob key_data;   /* Secret. */
    char *token;                /* Secret; NULL when absent. */
    char *token_file;           /* Re-read when it changes; NULL if none. */

    /* This node (--node-name), or NULL. */
    char *node_name;

    /* Tunables. */
    int page_size;              /* "limit" of list requests. */
    int stall_timeout_ms;       /* A watch silent this long is restarted. */
    size_t max_line_size;       /* Longest watch event accepted. */
    size_t max_page_size;       /* Largest list response accepted. */
};

/* Initializes 'config' empty, with the default tunables. */
void k8s_config_init(struct k8s_config *);

/* Frees what 'config' holds, wiping secrets first.  Accepts NULL. */
void k8s_config_destroy(struct k8s_config *);

/* Copies 'src' into 'dst' (uninitialized). */
void k8s_config_clone(struct k8s_config *dst, const struct k8s_config *src);

/* Fills in the connection fields of 'config' from the kubeconfig at 'path'.
 * Returns NULL on success, else a malloc'd message (and leaves 'config'
 * partly filled: destroy it). */
char *k8s_config_from_kubeconfig(struct k8s_config *, const char *path)
    NP_WARN_UNUSED_RESULT;

/* Fills in the connection fields of 'config' for a pod's service account:
 * KUBERNETES_SERVICE_HOST and _PORT, and the service account files in
 * $OVS_NETPOL_SERVICE_ACCOUNT_DIR or else K8S_SERVICE_ACCOUNT_DIR.  Returns
 * NULL on success, else a malloc'd message. */
char *k8s_config_in_cluster(struct k8s_config *) NP_WARN_UNUSED_RESULT;

/* True if the environment says we run in a pod (KUBERNETES_SERVICE_HOST is
 * set). */
bool k8s_config_in_cluster_available(void);

/* Describes how the agent authenticates, without secrets: "token file
 * PATH", "static token", "client certificate", combinations, or "none".
 * The caller frees the result. */
char *k8s_config_describe_auth(const struct k8s_config *);

/* Decodes base64 (standard alphabet, padding optional, whitespace ignored)
 * into a malloc'd buffer, null-terminated for convenience.  Returns false
 * on malformed input. */
bool k8s_base64_decode(const char *in, struct k8s_blob *out);

/* Clears and frees 'blob'. */
void k8s_blob_wipe(struct k8s_blob *);

#ifdef __cplusplus
}
#endif

#endif /* k8s-config.h */
