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

/* random-cluster.c: random Kubernetes objects for tests
 * (random-cluster.h). */

#include <config.h>
#include "random-cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

static uint32_t state = 1;

void
rc_seed(uint32_t seed)
{
    state = seed ? seed : 1;
}

uint32_t
rc_next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

int
rc_range(int n)
{
    return rc_next() % n;
}

static const char *
rc_of(const char *const *choices, int n)
{
    return choices[rc_range(n)];
}

static const char *const apps[] = { "web", "db", "cache" };
static const char *const teams[] = { "a", "b" };

static void
random_selector(struct ds *s, const char *key, const char *const *values,
                int n_values)
{
    switch (rc_range(4)) {
    case 0:
        ds_put_cstr(s, "{}");
        break;
    case 1:
        ds_put_format(s, "{\"matchLabels\":{\"%s\":\"%s\"}}", key,
                      rc_of(values, n_values));
        break;
    case 2:
        ds_put_format(s, "{\"matchExpressions\":[{\"key\":\"%s\","
                      "\"operator\":\"%s\",\"values\":[\"%s\"]}]}", key,
                      rc_range(2) ? "In" : "NotIn", rc_of(values, n_values));
        break;
    default:
        ds_put_format(s, "{\"matchExpressions\":[{\"key\":\"%s\","
                      "\"operator\":\"%s\"}]}", key,
                      rc_range(2) ? "Exists" : "DoesNotExist");
        break;
    }
}

static void
random_peer(struct ds *s)
{
    int kind = rc_range(5);
    if (kind == 0) {
        int third = rc_range(3);
        ds_put_format(s, "{\"ipBlock\":{\"cidr\":\"10.0.0.0/%d\"",
                      rc_range(2) ? 16 : 22);
        if (rc_range(2)) {
            ds_put_format(s, ",\"except\":[\"10.0.%d.0/24\"]", third);
        }
        ds_put_cstr(s, "}}");
        return;
    }
    ds_put_char(s, '{');
    if (kind != 2) {
        ds_put_cstr(s, "\"podSelector\":");
        random_selector(s, "app", apps, 3);
    }
    if (kind >= 2) {
        ds_put_format(s, "%s\"namespaceSelector\":", kind != 2 ? "," : "");
        random_selector(s, "team", teams, 2);
    }
    ds_put_char(s, '}');
}

static void
random_ports(struct ds *s)
{
    static const char *const choices[] = {
        "{\"port\":80}", "{\"port\":79,\"endPort\":81}",
        "{\"port\":\"http\"}", "{\"port\":\"dns\",\"protocol\":\"UDP\"}",
        "{\"protocol\":\"UDP\"}", "{\"port\":80,\"protocol\":\"SCTP\"}",
    };
    int n = rc_range(3);
    if (!n) {
        return;
    }
    ds_put_cstr(s, ",\"ports\":[");
    for (int i = 0; i < n; i++) {
        ds_put_format(s, "%s%s", i ? "," : "", rc_of(choices, 6));
    }
    ds_put_char(s, ']');
}

static void
random_rules(struct ds *s, const char *dir, const char *peers_key)
{
    int n = rc_range(3);
    if (!n && rc_range(2)) {
        return;
    }
    ds_put_format(s, ",\"%s\":[", dir);
    for (int i = 0; i < n; i++) {
        ds_put_format(s, "%s{", i ? "," : "");
        int n_peers = rc_range(3);
        if (n_peers) {
            ds_put_format(s, "\"%s\":[", peers_key);
            for (int j = 0; j < n_peers; j++) {
                if (j) {
                    ds_put_char(s, ',');
                }
                random_peer(s);
            }
            ds_put_char(s, ']');
        } else {
            ds_put_cstr(s, "\"x\":0");      /* An unknown field: ignored. */
        }
        random_ports(s);
        ds_put_char(s, '}');
    }
    ds_put_char(s, ']');
}

char *
rc_namespace_json(const char *name)
{
    return np_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                        "\"metadata\":{\"name\":\"%s\",\"labels\":{"
                        "\"team\":\"%s\"},\"annotations\":{"
                        "\"ovs-netpol.io/log-allowed\":\"%s\"}}}",
                        name, rc_of(teams, 2),
                        rc_range(3) ? "false" : "true");
}

char *
rc_pod_json(const char *ns, const char *name, int index)
{
    static const char *const ports[] = {
        "[{\"name\":\"http\",\"containerPort\":80}]",
        "[{\"name\":\"http\",\"containerPort\":81}]",
        "[{\"name\":\"dns\",\"containerPort\":80,\"protocol\":\"UDP\"}]",
        "[]",
    };
    char labels[64];
    snprintf(labels, sizeof labels, rc_range(4) ? "{\"app\":\"%s\"}"
             : "{\"other\":\"%s\"}", rc_of(apps, 3));
    return np_xasprintf(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
        "\"namespace\":\"%s\",\"name\":\"%s\",\"labels\":%s},\"spec\":{"
        "\"containers\":[{\"name\":\"c\",\"ports\":%s}]},\"status\":{"
        "\"phase\":\"%s\",\"podIPs\":[{\"ip\":\"10.0.%d.%d\"},"
        "{\"ip\":\"fd00::%d:%d\"}]}}",
        ns, name, labels, rc_of(ports, 4),
        rc_range(20) ? "Running" : "Succeeded",
        index % 3, index + 1, index % 3, index + 1);
}

char *
rc_policy_json(const char *ns, const char *name)
{
    static const char *const types[] = {
        "", ",\"policyTypes\":[\"Ingress\"]",
        ",\"policyTypes\":[\"Egress\"]",
        ",\"policyTypes\":[\"Ingress\",\"Egress\"]",
    };
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "{\"apiVersion\":\"networking.k8s.io/v1\","
                  "\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":"
                  "\"%s\",\"name\":\"%s\"},\"spec\":{\"podSelector\":",
                  ns, name);
    random_selector(&s, "app", apps, 3);
    ds_put_cstr(&s, rc_of(types, 4));
    random_rules(&s, "ingress", "from");
    random_rules(&s, "egress", "to");
    ds_put_cstr(&s, "}}");
    return ds_steal_cstr(&s);
}

static void
store_object(struct np_object *obj, void *cluster_)
{
    cluster_set_object(cluster_, obj);
    free(obj);
}

void
rc_load(struct cluster *cluster, const char *json)
{
    struct np_problems problems;
    np_problems_init(&problems);
    if (!manifest_parse(json, strlen(json), "random", store_object, cluster,
                        &problems) || problems.n) {
        fprintf(stderr, "random object rejected: %s\n", json);
        abort();
    }
    np_problems_destroy(&problems);
}
