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

#ifndef OVS_NETPOL_MANIFEST_H
#define OVS_NETPOL_MANIFEST_H 1

/* Reading Kubernetes objects from manifests (JSON or YAML) and from the API
 * server's JSON.
 *
 * Input forms
 * ===========
 *
 * A manifest buffer holds JSON or YAML (detected from its first
 * non-blank character: '{' or '[' is JSON, anything else YAML; YAML is a
 * superset of JSON, so either way a JSON file reads correctly).  It may hold:
 *
 *   - one object;
 *   - several YAML documents separated by "---";
 *   - a "kind: List" (or "NamespaceList", "PodList", "NetworkPolicyList")
 *     whose "items" are objects, nested to any depth the limits allow.
 *
 * Objects of kinds other than Namespace, Pod and networking.k8s.io/v1
 * NetworkPolicy are skipped silently (a manifest directory usually holds
 * Deployments and Services too).
 *
 * Validation
 * ==========
 *
 * NetworkPolicies are validated as strictly as the API server does
 * (k8s.io/kubernetes/pkg/apis/networking/validation): bad CIDR, except entry
 * not strictly inside its cidr, port outside 1...65535, endPort below port or
 * with a named port, an invalid port name, unknown protocol, unknown selector
 * operator, In/NotIn without values, Exists/DoesNotExist with values, invalid
 * label keys and values, a peer with an ipBlock and a selector, a peer with
 * nothing, unknown policyTypes.  Fields the API server does not know are
 * ignored, as it ignores them.  Pods and Namespaces get the checks policy
 * needs (names, labels, addresses, container ports).
 *
 * Each problem names the object and the field path, e.g.
 *
 *     NetworkPolicy x/deny: spec.ingress[0].from[1].ipBlock.except[0]:
 *     not within 10.0.0.0/8
 *
 * A bad object is skipped; every other object in the buffer is still
 * returned.  All problems of an object are reported (up to 100, then a
 * count).  Problems are data: this module logs nothing.
 *
 * Defaults
 * ========
 *
 * As the API server fills them in: metadata.namespace is "default" for Pods
 * and NetworkPolicies; a port's protocol is TCP; policyTypes is Ingress,
 * plus Egress when there are egress rules.  Every Namespace carries the
 * label kubernetes.io/metadata.name=<its name> (the API server adds it to
 * every namespace and keeps it equal to the name), so namespaceSelectors on
 * it work with manifests as they do with a cluster.  JSON null is the same
 * as an absent field.  The items of a "PodList" (etc.) that lack "kind" and
 * "apiVersion", as the API server's list responses do, take them from the
 * list.
 *
 * Limits
 * ======
 *
 * Hostile input is refused within bounded time and memory: buffers over
 * MANIFEST_MAX_SIZE bytes, nesting deeper than MANIFEST_MAX_DEPTH, one
 * object over MANIFEST_MAX_OBJECT_NODES values (which also bounds YAML alias
 * expansion, the "billion laughs"), more than MANIFEST_MAX_LABELS labels on
 * an object.  A large "kind: List" in JSON is read one item at a time (or
 * a bounded window of items at a time, with threads), so memory stays
 * proportional to the largest item, not to the file.
 *
 * Pure functions: no I/O (the caller reads files), no global state. */

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "ovs-netpol/model.h"
#include "ovs-netpol/util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ds;

#define MANIFEST_MAX_SIZE (64u << 20)          /* 64 MiB per buffer. */
#define MANIFEST_MAX_DEPTH 64                  /* Nesting of maps/lists. */
#define MANIFEST_MAX_OBJECT_NODES 200000       /* Values in one object. */
#define MANIFEST_MAX_LABELS 10000              /* Labels on one object. */

/* Problems. */

/* One problem with the input.  'object' is like "NetworkPolicy x/deny"
 * (empty when the problem is not in one object, e.g. a YAML syntax error),
 * 'path' like "spec.ingress[0].ports[1].port" (empty when the problem is with
 * the whole object), 'message' says what is wrong.  'source' names where the
 * input came from ("policies.yaml", "document 3 of policies.yaml", "watch
 * event"), or is empty. */
struct np_problem {
    char *source;
    char *object;
    char *path;
    char *message;
};

struct np_problems {
    struct np_problem *items;
    size_t n, allocated;
};

void np_problems_init(struct np_problems *);
void np_problems_destroy(struct np_problems *);
void np_problems_clear(struct np_problems *);
/* Appends a problem; copies every string.  'source', 'object' and 'path'
 * may be NULL (stored as ""). */
void np_problems_add(struct np_problems *, const char *source,
                     const char *object, const char *path,
                     const char *format, ...) NP_PRINTF_FORMAT(5, 6);
/* Appends a copy of every problem of 'src' to 'dst'. */
void np_problems_append(struct np_problems *dst,
                        const struct np_problems *src);
/* "source: object: path: message", leaving out empty parts. */
void np_problem_format(const struct np_problem *, struct ds *);

/* Objects from JSON. */

enum np_parse_status {
    NP_PARSE_OK,                /* '*obj' holds a new object. */
    NP_PARSE_IGNORED,           /* Not a kind that policy cares about. */
    NP_PARSE_INVALID,           /* Problems were appended. */
};

/* Converts one Kubernetes object, in its JSON form, to a model object.
 * 'source' is used only to label problems (may be NULL).  On NP_PARSE_OK
 * the caller owns '*obj' (np_object_destroy()). */
enum np_parse_status np_object_from_json(const json_t *, const char *source,
                                         struct np_object *obj,
                                         struct np_problems *);

/* Identifies the object a JSON value describes without validating it (for
 * DELETED watch events and for naming the object in a problem).  Returns
 * false if 'json' is not an object of a kind policy cares about or has no
 * metadata.name. */
bool np_object_identify(const json_t *, enum np_kind *kind,
                        const char **namespace, const char **name);

/* Manifests. */

/* Called for each object read from a manifest; takes ownership of 'obj',
 * which is malloc'd: the callee eventually calls np_object_destroy(obj) and
 * free(obj) (or keeps '*obj' by value and frees 'obj'). */
typedef void manifest_object_cb(struct np_object *obj, void *aux);

/* Parses the manifest in 'buf' ('size' bytes, need not be null-terminated),
 * calling 'cb' for each valid object in order of appearance and appending a
 * problem for each invalid one.  'source' names the buffer in problems.
 * Returns false if the buffer as a whole could not be read (syntax error,
 * limit exceeded); objects already passed to 'cb' stay valid, but a caller
 * that must not act on half a file should discard them. */
bool manifest_parse(const char *buf, size_t size, const char *source,
                    manifest_object_cb *cb, void *aux,
                    struct np_problems *);

/* Like manifest_parse(), but loads and validates the items of a big JSON
 * list on up to 'n_threads' threads (the calling thread included; at most
 * MANIFEST_MAX_THREADS).  The objects, the problems and their order are
 * exactly manifest_parse()'s, and 'cb' is called on the calling thread. */
#define MANIFEST_MAX_THREADS 8
bool manifest_parse_threads(const char *buf, size_t size, const char *source,
                            manifest_object_cb *cb, void *aux,
                            struct np_problems *, int n_threads);

/* Converts YAML to JSON values: one jansson value per YAML document, stored
 * in the malloc'd array '*docs' ('*n_docs' entries; the caller decrefs each
 * and frees the array).  Scalars are typed by the YAML 1.2 core schema
 * (plus the YAML 1.1 booleans yes/no/on/off, which Kubernetes' own
 * sigs.k8s.io/yaml also turns into booleans); quoted scalars are strings.
 * Returns NULL on success, otherwise a malloc'd message with the line and
 * column, and no documents. */
char *yaml_to_json(const char *buf, size_t size, json_t ***docs,
                   size_t *n_docs) NP_WARN_UNUSED_RESULT;

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/manifest.h */
