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

/* annotate.c: what an ovs-netpol flow is for, in words (annotate.h).  It
 * reads the flows the compiler writes (pipeline.h documents their cookies,
 * tables and priorities) the way an operator sees them, in `ovs-ofctl
 * dump-flows` or `ofproto/trace` output, and names the pod, policy and
 * rule behind each one; `ovs-netpolctl annotate`, `trace` and `verify` are
 * its users.  Pure: no I/O. */

#include <config.h>
#include "ovs-netpol/annotate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/util.h"

/* OpenFlow's default priority: ovs-ofctl omits "priority=" for it. */
#define DEFAULT_PRIORITY 32768

/* Names. */

void
annotate_names_init(struct annotate_names *names,
                    const struct np_config *config)
{
    hmap_init(&names->rules);
    hmap_init(&names->ports);
    if (config) {
        names->config = *config;
    } else {
        np_config_init(&names->config);
    }
}

static void
annotate_rule_destroy(struct annotate_rule *rule)
{
    free(rule->namespace);
    free(rule->policy);
    free(rule->variant);
    free(rule);
}

static void
annotate_port_destroy(struct annotate_port *port)
{
    free(port->name);
    free(port->pod);
    free(port);
}

void
annotate_names_destroy(struct annotate_names *names)
{
    if (names) {
        struct annotate_rule *rule;
        HMAP_FOR_EACH_POP (rule, node, &names->rules) {
            annotate_rule_destroy(rule);
        }
        hmap_destroy(&names->rules);

        struct annotate_port *port;
        HMAP_FOR_EACH_POP (port, node, &names->ports) {
            annotate_port_destroy(port);
        }
        hmap_destroy(&names->ports);
    }
}

static struct annotate_rule *
find_rule(const struct annotate_names *names, uint32_t id)
{
    struct annotate_rule *rule;
    HMAP_FOR_EACH_WITH_HASH (rule, node, np_hash_add(0, id), &names->rules) {
        if (rule->id == id) {
            return rule;
        }
    }
    return NULL;
}

static struct annotate_port *
find_port(const struct annotate_names *names, uint32_t ofport)
{
    struct annotate_port *port;
    HMAP_FOR_EACH_WITH_HASH (port, node, np_hash_add(0, ofport),
                             &names->ports) {
        if (port->ofport == ofport) {
            return port;
        }
    }
    return NULL;
}

const struct annotate_rule *
annotate_names_find_rule(const struct annotate_names *names, uint32_t id)
{
    return find_rule(names, id);
}

const struct annotate_port *
annotate_names_find_port(const struct annotate_names *names, uint32_t ofport)
{
    return find_port(names, ofport);
}

void
annotate_names_add_rule(struct annotate_names *names, uint32_t id,
                        const char *namespace, const char *policy,
                        enum np_direction dir, unsigned int index,
                        const char *variant)
{
    struct annotate_rule *old = find_rule(names, id);
    if (old) {
        hmap_remove(&names->rules, &old->node);
        annotate_rule_destroy(old);
    }

    struct annotate_rule *rule = np_xzalloc(sizeof *rule);
    rule->id = id;
    rule->namespace = np_xstrdup(namespace);
    rule->policy = np_xstrdup(policy);
    rule->dir = dir;
    rule->index = index;
    rule->variant = np_xstrdup(variant ? variant : "");
    hmap_insert(&names->rules, &rule->node, np_hash_add(0, id));
}

void
annotate_names_add_port(struct annotate_names *names, uint32_t ofport,
                        const char *name, const char *pod)
{
    struct annotate_port *old = find_port(names, ofport);
    if (old) {
        hmap_remove(&names->ports, &old->node);
        annotate_port_destroy(old);
    }

    struct annotate_port *port = np_xzalloc(sizeof *port);
    port->ofport = ofport;
    port->name = name ? np_xstrdup(name) : NULL;
    port->pod = pod ? np_xstrdup(pod) : NULL;
    hmap_insert(&names->ports, &port->node, np_hash_add(0, ofport));
}

void
annotate_names_add_cluster(struct annotate_names *names,
                           const struct cluster *cluster,
                           const struct conj_ids *ids)
{
    const struct local_port *port;
    HMAP_FOR_EACH (port, node, &cluster->ports) {
        char *pod = (local_port_is_pod(port)
                     ? np_xasprintf("%s/%s", port->pod_namespace,
                                    port->pod_name)
                     : NULL);
        annotate_names_add_port(names, port->ofport, port->name, pod);
        free(pod);
    }

    const struct rule_ref *ref;
    HMAP_FOR_EACH (ref, id_node, &ids->by_id) {
        if (!ref->retired) {
            annotate_names_add_rule(names, ref->id, ref->namespace,
                                    ref->policy, ref->dir, ref->index,
                                    ref->variant);
        }
    }
}

void
annotate_rule_format(const struct annotate_names *names, uint32_t id,
                     struct ds *s)
{
    const struct annotate_rule *rule = annotate_names_find_rule(names, id);
    if (rule) {
        ds_put_format(s, "%s/%s %s rule %u", rule->namespace, rule->policy,
                      np_direction_name(rule->dir), rule->index);
        if (rule->variant[0]) {
            ds_put_format(s, " [%s]", rule->variant);
        }
        ds_put_format(s, " (conj %#"PRIx32")", id);
    } else {
        ds_put_format(s, "conj %#"PRIx32" (not a rule the agent knows: "
                      "stale?)", id);
    }
}

void
annotate_port_format(const struct annotate_names *names, uint32_t ofport,
                     struct ds *s)
{
    const struct annotate_port *port = annotate_names_find_port(names,
                                                                ofport);
    if (ofport == LOCAL_PORT_HOST) {
        ds_put_cstr(s, "the host (LOCAL)");
    } else if (!port) {
        ds_put_format(s, "port %"PRIu32" (not a port the agent knows)",
                      ofport);
    } else if (port->pod) {
        ds_put_format(s, "%s (port %"PRIu32")", port->pod, ofport);
    } else if (port->name) {
        ds_put_format(s, "uplink port %"PRIu32" (%s)", ofport, port->name);
    } else {
        ds_put_format(s, "uplink port %"PRIu32, ofport);
    }
}

/* Flows. */

void
annotate_flow_init(struct annotate_flow *flow)
{
    memset(flow, 0, sizeof *flow);
    flow->priority = DEFAULT_PRIORITY;
}

void
annotate_flow_destroy(struct annotate_flow *flow)
{
    if (flow) {
        free(flow->conjs);
        memset(flow, 0, sizeof *flow);
    }
}

static void
annotate_flow_reset(struct annotate_flow *flow)
{
    struct annotate_conj *conjs = flow->conjs;
    size_t allocated = flow->allocated_conjs;

    annotate_flow_init(flow);
    flow->conjs = conjs;
    flow->allocated_conjs = allocated;
}

void
annotate_flow_add_conj(struct annotate_flow *flow, uint32_t id,
                       uint8_t clause, uint8_t n_clauses)
{
    flow->conjs = np_x2nrealloc(flow->conjs, &flow->allocated_conjs,
                                flow->n_conjs + 1, sizeof *flow->conjs);
    flow->conjs[flow->n_conjs++] = (struct annotate_conj) {
        .id = id, .clause = clause, .n_clauses = n_clauses,
    };
}

/* Parses the unsigned number in 'p' (decimal, or hex with "0x") up to
 * 'end', which must be consumed entirely.  Returns false if it is not
 * one or does not fit in 'max'. */
static bool
parse_number(const char *p, const char *end, unsigned long long int max,
             unsigned long long int *value)
{
    if (p >= end || !isdigit((unsigned char) *p)) {
        return false;
    }
    char *copy = np_xstrndup(p, end - p);
    char *tail;
    unsigned long long int n = strtoull(copy, &tail, 0);
    bool ok = !*tail && n <= max;
    free(copy);
    if (ok) {
        *value = n;
    }
    return ok;
}

/* Skips a double-quoted string at 'p' (ovs-ofctl quotes names with odd
 * characters and escapes with backslashes); returns the character after
 * it. */
static const char *
skip_quoted(const char *p)
{
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        }
    }
    return *p ? p + 1 : p;
}

/* Returns where "actions=" starts in a dump-flows line, or NULL. */
static const char *
find_actions(const char *line)
{
    for (const char *p = line; *p; ) {
        if (*p == '"') {
            p = skip_quoted(p);
        } else if ((p == line || *(p - 1) == ' ')
                   && !strncmp(p, "actions=", 8)) {
            return p;
        } else {
            p++;
        }
    }
    return NULL;
}

/* Reads one "key" or "key=value" field of a flow's match or of the fields
 * before it. */
static void
parse_field(struct annotate_flow *flow, const char *p, const char *end)
{
    const char *eq = memchr(p, '=', end - p);
    if (!eq) {
        return;
    }
    size_t key_len = eq - p;
    const char *value = eq + 1;
    unsigned long long int n;

#define KEY_IS(KEY) (key_len == strlen(KEY) && !memcmp(p, KEY, key_len))
    if (KEY_IS("cookie")) {
        if (parse_number(value, end, UINT64_MAX, &n)) {
            flow->cookie = n;
        }
    } else if (KEY_IS("table")) {
        flow->table_id = parse_number(value, end, 254, &n) ? (int) n : -1;
    } else if (KEY_IS("priority")) {
        if (parse_number(value, end, UINT16_MAX, &n)) {
            flow->priority = n;
        }
    } else if (KEY_IS("conj_id")) {
        if (parse_number(value, end, UINT32_MAX, &n)) {
            flow->has_conj_id = true;
            flow->conj_id = n;
        }
    }
#undef KEY_IS
}

/* Reads the fields between 'p' and 'end', separated by commas and
 * spaces outside quotes. */
static void
parse_fields(struct annotate_flow *flow, const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '\t')) {
            p++;
        }
        const char *start = p;
        while (p < end && *p != ' ' && *p != ',' && *p != '\t') {
            p = *p == '"' ? skip_quoted(p) : p + 1;
        }
        if (p > end) {
            p = end;
        }
        if (p > start) {
            parse_field(flow, start, p);
        }
    }
}

/* Parses "ID,K/N)" after "conjunction(". */
static void
parse_conjunction(struct annotate_flow *flow, const char *p,
                  const char *end)
{
    const char *comma = memchr(p, ',', end - p);
    const char *slash = comma ? memchr(comma, '/', end - comma) : NULL;
    const char *close = slash ? memchr(slash, ')', end - slash) : NULL;
    unsigned long long int id, k, n;

    if (close
        && parse_number(p, comma, UINT32_MAX, &id)
        && parse_number(comma + 1, slash, 64, &k)
        && parse_number(slash + 1, close, 64, &n)) {
        annotate_flow_add_conj(flow, id, k, n);
    }
}

static bool
starts_with(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return end - p >= n && !strncasecmp(p, prefix, n);
}

void
annotate_flow_parse_actions(struct annotate_flow *flow, const char *actions)
{
    bool any = false, controller = false, ct_first = false;
    size_t n_other = 0;

    for (const char *p = actions; *p && *p != '\n'; ) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (!*p || *p == '\n') {
            break;
        }

        /* One action: up to a comma outside parentheses and quotes. */
        const char *start = p;
        int depth = 0;
        while (*p && *p != '\n' && (depth || (*p != ',' && *p != ' '))) {
            if (*p == '"') {
                p = skip_quoted(p);
                continue;
            } else if (*p == '(' || *p == '[') {
                depth++;
            } else if ((*p == ')' || *p == ']') && depth) {
                depth--;
            }
            p++;
        }
        const char *end = p;

        if (starts_with(start, end, "conjunction(")) {
            parse_conjunction(flow, start + 12, end);
        } else if (starts_with(start, end, "drop") && end - start == 4) {
            /* Nothing. */
        } else if (starts_with(start, end, "controller")) {
            controller = true;
        } else {
            if (!any && starts_with(start, end, "ct(")) {
                ct_first = true;
            }
            n_other++;
        }
        any = true;
    }

    flow->logs = false;
    if (ct_first) {
        flow->action = ANNOTATE_ACTION_CT;
    } else if (controller && !n_other) {
        flow->action = ANNOTATE_ACTION_CONTROLLER;
    } else if (!n_other && !flow->n_conjs) {
        flow->action = ANNOTATE_ACTION_DROP;
    } else {
        flow->action = ANNOTATE_ACTION_OTHER;
        flow->logs = controller;
    }
}

bool
annotate_flow_parse_dump(struct annotate_flow *flow, const char *line)
{
    annotate_flow_reset(flow);

    const char *actions = find_actions(line);
    if (!actions) {
        return false;
    }
    parse_fields(flow, line, actions);
    annotate_flow_parse_actions(flow, actions + strlen("actions="));
    return true;
}

bool
annotate_flow_parse_trace(struct annotate_flow *flow, const char *line)
{
    annotate_flow_reset(flow);

    /* " 3. MATCH, priority P, cookie C" (the cookie only when not 0). */
    const char *p = line;
    while (*p == ' ') {
        p++;
    }
    const char *digits = p;
    while (isdigit((unsigned char) *p)) {
        p++;
    }
    unsigned long long int n;
    if (p == digits || p[0] != '.' || p[1] != ' '
        || !parse_number(digits, p, 254, &n)) {
        return false;
    }
    flow->table_id = n;
    p += 2;

    const char *match = p;
    const char *prio = strstr(match, "priority ");
    while (prio && prio != match && strncmp(prio - 2, ", ", 2)) {
        prio = strstr(prio + 1, "priority ");
    }
    if (!prio) {
        return false;
    }
    const char *match_end = prio == match ? match : prio - 2;
    p = prio + strlen("priority ");
    const char *prio_end = p;
    while (isdigit((unsigned char) *prio_end)) {
        prio_end++;
    }
    if (!parse_number(p, prio_end, UINT16_MAX, &n)) {
        return false;
    }
    flow->priority = n;

    p = prio_end;
    if (!strncmp(p, ", cookie ", 9)) {
        p += 9;
        const char *cookie_end = p;
        while (isxdigit((unsigned char) *cookie_end)
               || *cookie_end == 'x') {
            cookie_end++;
        }
        if (parse_number(p, cookie_end, UINT64_MAX, &n)) {
            flow->cookie = n;
        }
    }
    parse_fields(flow, match, match_end);
    return true;
}

/* Descriptions. */

/* Returns the pipeline table of 'flow' (NP_TABLE_*), or NP_N_TABLES if it
 * is not one of ours or unknown. */
static enum np_table
flow_np_table(const struct annotate_flow *flow,
              const struct annotate_names *names)
{
    int offset = flow->table_id - names->config.first_table;
    return (flow->table_id >= 0 && offset >= 0 && offset < NP_N_TABLES
            ? (enum np_table) offset : NP_N_TABLES);
}

static const char *
table_direction(enum np_table table)
{
    return (table == NP_TABLE_EGRESS ? "egress"
            : table == NP_TABLE_INGRESS ? "ingress"
            : NULL);
}

static bool
is_pod_port(const struct annotate_names *names, uint32_t ofport)
{
    const struct annotate_port *port = annotate_names_find_port(names,
                                                                ofport);
    return port && port->pod;
}

const char *
annotate_flow_role(const struct annotate_flow *flow,
                   const struct annotate_names *names)
{
    if (!np_cookie_is_ours(flow->cookie)) {
        return NULL;
    }
    switch (np_cookie_role(flow->cookie)) {
    case NP_ROLE_PIPELINE:
        return (flow_np_table(flow, names) == NP_TABLE_CT_STATE
                ? "conntrack" : "pipeline");
    case NP_ROLE_PORT:
        /* A pod's flows in the ct_state table guard its MAC. */
        return (flow_np_table(flow, names) == NP_TABLE_CT_STATE
                ? "conntrack"
                : is_pod_port(names, np_cookie_id(flow->cookie))
                ? "spoof guard" : "classify");
    case NP_ROLE_ISOLATION:
        return "isolation drop";
    case NP_ROLE_CLAUSE:
        return "clause";
    case NP_ROLE_RULE:
        return "allow rule";
    case NP_ROLE_STATS:
        return "stats";
    }
    return "ovs-netpol";
}

static void
format_pipeline(const struct annotate_flow *flow,
                const struct annotate_names *names, struct ds *s)
{
    enum np_table table = flow_np_table(flow, names);
    int prio = flow->priority;

    switch (table) {
    case NP_TABLE_CLASSIFY:
        ds_put_cstr(s, prio == NP_PRIO_DEFAULT
                    ? "from a port the agent does not know: drop (fail "
                      "closed)"
                    : "classify");
        return;
    case NP_TABLE_CT_STATE:
        if (prio == NP_PRIO_CT_INVALID) {
            ds_put_cstr(s, "invalid: drop");
        } else if (prio == NP_PRIO_CT_ESTABLISHED) {
            ds_put_cstr(s, "established or related: allowed without a rule "
                        "lookup (replies of allowed connections)");
        } else if (prio == NP_PRIO_CT_SCOPE
                   && np_cookie_id(flow->cookie) == NP_PIPELINE_GROUP) {
            ds_put_cstr(s, "new to a broadcast or multicast address: drop, "
                        "even from the host (NetworkPolicy cannot express "
                        "it)");
        } else if (prio == NP_PRIO_CT_SCOPE
                   && np_cookie_id(flow->cookie) == NP_PIPELINE_LINK_LOCAL) {
            ds_put_cstr(s, "new IPv6 to or from a link-local address: drop, "
                        "even from the host (NetworkPolicy cannot express "
                        "it)");
        } else if (prio == NP_PRIO_CT_HOST) {
            ds_put_cstr(s, "new from the host: allowed (kubelet probes)");
        } else if (prio == NP_PRIO_DEFAULT) {
            ds_put_cstr(s, "new: to the egress and ingress rules");
        } else {
            ds_put_format(s, "ct_state table, priority %d", prio);
        }
        return;
    case NP_TABLE_EGRESS:
    case NP_TABLE_INGRESS:
        ds_put_format(s, "no %s rule matched and the pod is not isolated "
                      "for %s: go on", table_direction(table),
                      table_direction(table));
        return;
    case NP_TABLE_COMMIT:
        ds_put_cstr(s, "commit: the connection is allowed: ct(commit) with "
                    "the rule IDs in ct_label, then forward");
        return;
    case NP_N_TABLES:
        break;
    }
    ds_put_format(s, "table %d, priority %d (not one of the pipeline's "
                  "tables %d-%d: other --first-table?)", flow->table_id,
                  prio, names->config.first_table,
                  names->config.first_table + NP_N_TABLES - 1);
}

/* A pod's flows in the ct_state table, about new connections in frames to
 * its MAC. */
static void
format_pod_mac(const struct annotate_flow *flow,
               const struct annotate_names *names, struct ds *s)
{
    uint32_t ofport = np_cookie_id(flow->cookie);

    ds_put_cstr(s, "new to the MAC of ");
    annotate_port_format(names, ofport, s);
    if (flow->priority == NP_PRIO_CT_POD_ADDR) {
        ds_put_cstr(s, " and one of its addresses: to the egress and "
                    "ingress rules");
    } else if (flow->priority == NP_PRIO_CT_POD_MAC) {
        ds_put_cstr(s, " but not to one of its addresses (a subnet "
                    "broadcast, another address): drop");
    } else {
        ds_put_format(s, ", priority %d", flow->priority);
    }
}

static void
format_port(const struct annotate_flow *flow,
            const struct annotate_names *names, struct ds *s)
{
    uint32_t ofport = np_cookie_id(flow->cookie);
    bool pod = is_pod_port(names, ofport);

    if (flow_np_table(flow, names) == NP_TABLE_CT_STATE) {
        format_pod_mac(flow, names, s);
        return;
    }
    if (pod && flow->priority <= NP_PRIO_POD_DROP) {
        ds_put_cstr(s, "anything else from ");
        annotate_port_format(names, ofport, s);
        ds_put_cstr(s, ": drop (spoofed, or an address the agent does not "
                    "know)");
        return;
    }
    if (pod && flow->priority == NP_PRIO_POD_ND_DROP) {
        ds_put_cstr(s, "other neighbour discovery from ");
        annotate_port_format(names, ofport, s);
        ds_put_cstr(s, flow->action == ANNOTATE_ACTION_DROP
                    ? ": drop (about another address, from another source, "
                      "router advertisements, redirects)"
                    : ": about another address, from another source, "
                      "router advertisements, redirects");
        return;
    }
    if (pod) {
        ds_put_cstr(s, "own traffic of ");
        annotate_port_format(names, ofport, s);
        ds_put_cstr(s, flow->action == ANNOTATE_ACTION_CT
                    ? ": its own MAC and IP, to conntrack"
                    : flow->priority == NP_PRIO_POD_ND
                    ? ": neighbour discovery about itself, allowed"
                    : ": ARP about itself, allowed");
        return;
    }
    ds_put_cstr(s, "from ");
    annotate_port_format(names, ofport, s);
    ds_put_cstr(s, flow->action == ANNOTATE_ACTION_CT
                ? ": IP, to conntrack"
                : flow->action == ANNOTATE_ACTION_DROP ? ": drop"
                : ": allowed (not IP, or neighbour discovery)");
}

static void
format_isolation(const struct annotate_flow *flow,
                 const struct annotate_names *names, struct ds *s)
{
    const char *dir = table_direction(flow_np_table(flow, names));

    annotate_port_format(names, np_cookie_id(flow->cookie), s);
    if (dir) {
        ds_put_format(s, " is isolated for %s and no %s rule allowed the "
                      "packet", dir, dir);
    } else {
        ds_put_cstr(s, " is isolated and no rule allowed the packet");
    }
    ds_put_cstr(s, flow->action == ANNOTATE_ACTION_CONTROLLER
                ? ": to the audit log, not forwarded" : ": drop");
}

static void
format_rule(const struct annotate_flow *flow,
            const struct annotate_names *names, struct ds *s)
{
    uint32_t id = np_cookie_id(flow->cookie);

    annotate_rule_format(names, id, s);
    if (flow->has_conj_id) {
        ds_put_format(s, ": conj_id=%"PRIu32" complete, allowed",
                      flow->conj_id);
        if (flow->conj_id != id) {
            ds_put_cstr(s, "; BUT conj_id is ");
            annotate_rule_format(names, flow->conj_id, s);
        }
    } else {
        ds_put_cstr(s, ": allowed (a rule of one dimension, no "
                    "conjunction)");
    }
    if (flow->logs) {
        ds_put_cstr(s, ", and logged");
    }
}

static void
format_conjs(const struct annotate_flow *flow,
             const struct annotate_names *names, const char *prefix,
             struct ds *s)
{
    for (size_t i = 0; i < flow->n_conjs; i++) {
        const struct annotate_conj *c = &flow->conjs[i];
        ds_put_format(s, "%s  conjunction(%"PRIu32",%u/%u): ", prefix,
                      c->id, c->clause, c->n_clauses);
        annotate_rule_format(names, c->id, s);
        ds_put_char(s, '\n');
    }
}

void
annotate_flow_format(const struct annotate_flow *flow,
                     const struct annotate_names *names, const char *prefix,
                     struct ds *s)
{
    const char *role = annotate_flow_role(flow, names);
    if (!role) {
        return;
    }

    /* The direction, where the role leaves it open. */
    enum np_role r = np_cookie_role(flow->cookie);
    const char *dir = table_direction(flow_np_table(flow, names));
    ds_put_format(s, "%s%s", prefix, role);
    if (dir) {
        ds_put_format(s, " [%s]", dir);
    }
    ds_put_cstr(s, ": ");

    switch (r) {
    case NP_ROLE_PIPELINE:
        format_pipeline(flow, names, s);
        break;
    case NP_ROLE_PORT:
        format_port(flow, names, s);
        break;
    case NP_ROLE_ISOLATION:
        format_isolation(flow, names, s);
        break;
    case NP_ROLE_CLAUSE:
        ds_put_format(s, "a clause of %zu conjunction%s", flow->n_conjs,
                      flow->n_conjs == 1 ? "" : "s");
        break;
    case NP_ROLE_RULE:
        format_rule(flow, names, s);
        break;
    case NP_ROLE_STATS:
        ds_put_cstr(s, "established packets of ");
        annotate_rule_format(names, np_cookie_id(flow->cookie), s);
        break;
    default:
        ds_put_format(s, "unknown role %d (a newer agent?)", (int) r);
        break;
    }
    ds_put_char(s, '\n');

    if (flow->has_conj_id && r != NP_ROLE_RULE) {
        ds_put_format(s, "%s  conj_id=%"PRIu32": ", prefix, flow->conj_id);
        annotate_rule_format(names, flow->conj_id, s);
        ds_put_char(s, '\n');
    }
    format_conjs(flow, names, prefix, s);
}
