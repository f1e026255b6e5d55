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

/* flow-stats.c: per-rule and per-isolated-pod statistics from the switch's
 * flow counters (flow-stats.h).  It sits between ofctrl's stats dump and
 * the sinks that report (the "stats" command, metrics.c).  Pure: it must
 * never do I/O, log, or keep state between calls. */

#include <config.h>
#include "flow-stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

const char *
flow_stats_rule_state_name(enum flow_stats_rule_state state)
{
    switch (state) {
    case FLOW_STATS_RULE_LIVE: return "live";
    case FLOW_STATS_RULE_RETIRED: return "retired";
    case FLOW_STATS_RULE_UNKNOWN: return "unknown";
    }
    return "unknown";
}

void
flow_stats_init(struct flow_stats *stats)
{
    memset(stats, 0, sizeof *stats);
}

static void
flow_stats_clear(struct flow_stats *stats)
{
    for (size_t i = 0; i < stats->n_rules; i++) {
        struct flow_stats_rule *r = &stats->rules[i];
        free(r->namespace);
        free(r->policy);
        free(r->variant);
    }
    free(stats->rules);
    for (size_t i = 0; i < stats->n_drops; i++) {
        free(stats->drops[i].pod_namespace);
        free(stats->drops[i].pod_name);
    }
    free(stats->drops);
    flow_stats_init(stats);
}

void
flow_stats_destroy(struct flow_stats *stats)
{
    if (stats) {
        flow_stats_clear(stats);
    }
}

void
flow_stats_swap(struct flow_stats *a, struct flow_stats *b)
{
    struct flow_stats tmp = *a;
    *a = *b;
    *b = tmp;
}

/* Aggregation. */

/* Counters of one rule or one (port, direction) while aggregating. */
struct counter {
    struct hmap_node node;
    uint32_t id;                /* Conjunction ID or OpenFlow port. */
    enum np_direction dir;      /* Drops only. */
    uint64_t n_connections;     /* Rules only. */
    uint64_t n_packets;
    uint64_t n_bytes;
    size_t n_flows;
};

static uint32_t
counter_hash(uint32_t id, enum np_direction dir)
{
    return np_hash_add(np_hash_add(0, id), dir);
}

static struct counter *
counter_get(struct hmap *counters, uint32_t id, enum np_direction dir)
{
    uint32_t hash = counter_hash(id, dir);
    struct counter *c;
    HMAP_FOR_EACH_WITH_HASH (c, node, hash, counters) {
        if (c->id == id && c->dir == dir) {
            return c;
        }
    }
    c = np_xzalloc(sizeof *c);
    c->id = id;
    c->dir = dir;
    hmap_insert(counters, &c->node, hash);
    return c;
}

/* The switch reports UINT64_MAX for a counter it does not keep. */
static uint64_t
known_count(uint64_t n)
{
    return n == UINT64_MAX ? 0 : n;
}

static int
compare_strings(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int
compare_rules(const void *a_, const void *b_)
{
    const struct flow_stats_rule *a = a_;
    const struct flow_stats_rule *b = b_;
    bool a_unknown = a->state == FLOW_STATS_RULE_UNKNOWN;
    bool b_unknown = b->state == FLOW_STATS_RULE_UNKNOWN;
    int cmp;

    if (a_unknown != b_unknown) {
        return a_unknown ? 1 : -1;
    }
    if (!a_unknown) {
        if ((cmp = compare_strings(a->namespace, b->namespace))
            || (cmp = compare_strings(a->policy, b->policy))) {
            return cmp;
        }
        if (a->dir != b->dir) {
            return a->dir < b->dir ? -1 : 1;
        }
        if (a->index != b->index) {
            return a->index < b->index ? -1 : 1;
        }
        if ((cmp = compare_strings(a->variant, b->variant))) {
            return cmp;
        }
    }
    return a->conj_id < b->conj_id ? -1 : a->conj_id > b->conj_id;
}

static int
compare_drops(const void *a_, const void *b_)
{
    const struct flow_stats_drop *a = a_;
    const struct flow_stats_drop *b = b_;
    bool a_unknown = !a->pod_name;
    bool b_unknown = !b->pod_name;
    int cmp;

    if (a_unknown != b_unknown) {
        return a_unknown ? 1 : -1;
    }
    if (!a_unknown
        && ((cmp = compare_strings(a->pod_namespace, b->pod_namespace))
            || (cmp = compare_strings(a->pod_name, b->pod_name)))) {
        return cmp;
    }
    if (a->dir != b->dir) {
        return a->dir < b->dir ? -1 : 1;
    }
    return a->ofport < b->ofport ? -1 : a->ofport > b->ofport;
}

/* Adds one entry to 'rules' or 'drops'; returns false if it is none of
 * ours to count. */
static bool
count_entry(const struct flow_stats_entry *e, const struct np_config *config,
            struct hmap *rules, struct hmap *drops)
{
    if (!np_cookie_is_ours(e->cookie)) {
        return false;
    }

    uint8_t egress = np_table(config, NP_TABLE_EGRESS);
    uint8_t ingress = np_table(config, NP_TABLE_INGRESS);
    uint32_t id = np_cookie_id(e->cookie);
    uint64_t n_packets = known_count(e->n_packets);
    uint64_t n_bytes = known_count(e->n_bytes);
    struct counter *c;

    switch (np_cookie_role(e->cookie)) {
    case NP_ROLE_RULE:
        if (e->table_id != egress && e->table_id != ingress) {
            return false;
        }
        c = counter_get(rules, id, 0);
        c->n_connections += n_packets;
        break;
    case NP_ROLE_STATS:
        if (e->table_id != np_table(config, NP_TABLE_CT_STATE)) {
            return false;
        }
        c = counter_get(rules, id, 0);
        break;
    case NP_ROLE_ISOLATION:
        if (e->table_id != egress && e->table_id != ingress) {
            return false;
        }
        c = counter_get(drops, id,
                        e->table_id == egress ? NP_EGRESS : NP_INGRESS);
        break;
    case NP_ROLE_PIPELINE:
    case NP_ROLE_PORT:
    case NP_ROLE_CLAUSE:
    default:
        return false;
    }
    c->n_packets += n_packets;
    c->n_bytes += n_bytes;
    c->n_flows++;
    return true;
}

static void
fill_rule(struct flow_stats_rule *r, const struct counter *c,
          const struct conj_ids *ids)
{
    const struct rule_ref *ref = conj_ids_find(ids, c->id);

    memset(r, 0, sizeof *r);
    r->conj_id = c->id;
    if (ref) {
        r->state = ref->retired ? FLOW_STATS_RULE_RETIRED
                                : FLOW_STATS_RULE_LIVE;
        r->namespace = np_xstrdup(ref->namespace);
        r->policy = np_xstrdup(ref->policy);
        r->dir = ref->dir;
        r->index = ref->index;
        r->variant = np_xstrdup(ref->variant);
    } else {
        r->state = FLOW_STATS_RULE_UNKNOWN;
    }
    r->n_connections = c->n_connections;
    r->n_packets = c->n_packets;
    r->n_bytes = c->n_bytes;
    r->n_flows = c->n_flows;
}

static void
fill_drop(struct flow_stats_drop *d, const struct counter *c,
          const struct cluster *cluster)
{
    const struct local_port *port = cluster_find_port(cluster, c->id);

    memset(d, 0, sizeof *d);
    d->ofport = c->id;
    d->dir = c->dir;
    if (port && local_port_is_pod(port)) {
        d->pod_namespace = np_xstrdup(port->pod_namespace);
        d->pod_name = np_xstrdup(port->pod_name);
    }
    d->n_packets = c->n_packets;
    d->n_bytes = c->n_bytes;
    d->n_flows = c->n_flows;
}

void
flow_stats_compute(struct flow_stats *stats,
                   const struct flow_stats_entry *entries, size_t n,
                   const struct np_config *config,
                   const struct conj_ids *ids, const struct cluster *cluster)
{
    struct hmap rules = HMAP_INITIALIZER(&rules);
    struct hmap drops = HMAP_INITIALIZER(&drops);
    size_t n_ignored = 0;

    for (size_t i = 0; i < n; i++) {
        if (!count_entry(&entries[i], config, &rules, &drops)) {
            n_ignored++;
        }
    }

    /* Every live rule has a row, with zeros if the switch holds none of
     * its flows. */
    const struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (!ref->retired) {
            counter_get(&rules, ref->id, 0);
        }
    }

    flow_stats_clear(stats);
    stats->n_entries = n;
    stats->n_ignored = n_ignored;

    struct counter *c;
    stats->rules = np_xcalloc(hmap_count(&rules), sizeof *stats->rules);
    HMAP_FOR_EACH_POP (c, node, &rules) {
        fill_rule(&stats->rules[stats->n_rules++], c, ids);
        free(c);
    }
    hmap_destroy(&rules);
    np_qsort(stats->rules, stats->n_rules, sizeof *stats->rules,
             compare_rules);

    stats->drops = np_xcalloc(hmap_count(&drops), sizeof *stats->drops);
    HMAP_FOR_EACH_POP (c, node, &drops) {
        fill_drop(&stats->drops[stats->n_drops++], c, cluster);
        free(c);
    }
    hmap_destroy(&drops);
    np_qsort(stats->drops, stats->n_drops, sizeof *stats->drops,
             compare_drops);
}

/* Output. */

void
flow_stats_rule_format(const struct flow_stats_rule *r, struct ds *s)
{
    if (r->state == FLOW_STATS_RULE_UNKNOWN) {
        ds_put_format(s, "conjunction %#"PRIx32, r->conj_id);
    } else {
        ds_put_format(s, "%s/%s rule %u", r->namespace, r->policy, r->index);
        if (r->variant && r->variant[0]) {
            ds_put_format(s, " [%s]", r->variant);
        }
    }
}

json_t *
flow_stats_to_json(const struct flow_stats *stats)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < stats->n_rules; i++) {
        const struct flow_stats_rule *r = &stats->rules[i];
        json_t *j = json_pack("{sIss}", "conj_id", (json_int_t) r->conj_id,
                              "state", flow_stats_rule_state_name(r->state));
        if (r->state != FLOW_STATS_RULE_UNKNOWN) {
            json_object_set_new(j, "namespace", json_string(r->namespace));
            json_object_set_new(j, "policy", json_string(r->policy));
            json_object_set_new(j, "direction",
                                json_string(np_direction_name(r->dir)));
            json_object_set_new(j, "index", json_integer(r->index));
            json_object_set_new(j, "variant", json_string(r->variant));
        }
        json_object_set_new(j, "connections",
                            json_integer(r->n_connections));
        json_object_set_new(j, "packets", json_integer(r->n_packets));
        json_object_set_new(j, "bytes", json_integer(r->n_bytes));
        json_object_set_new(j, "flows", json_integer(r->n_flows));
        json_array_append_new(rules, j);
    }

    json_t *drops = json_array();
    for (size_t i = 0; i < stats->n_drops; i++) {
        const struct flow_stats_drop *d = &stats->drops[i];
        json_t *j = json_pack("{sIss}", "ofport", (json_int_t) d->ofport,
                              "direction", np_direction_name(d->dir));
        if (d->pod_name) {
            json_object_set_new(j, "namespace",
                                json_string(d->pod_namespace));
            json_object_set_new(j, "pod", json_string(d->pod_name));
        }
        json_object_set_new(j, "packets", json_integer(d->n_packets));
        json_object_set_new(j, "bytes", json_integer(d->n_bytes));
        json_object_set_new(j, "flows", json_integer(d->n_flows));
        json_array_append_new(drops, j);
    }

    return json_pack("{soso sIsI}", "rules", rules, "isolation", drops,
                     "entries", (json_int_t) stats->n_entries,
                     "ignored", (json_int_t) stats->n_ignored);
}
