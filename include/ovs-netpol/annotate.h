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

#ifndef OVS_NETPOL_ANNOTATE_H
#define OVS_NETPOL_ANNOTATE_H 1

/* Annotate: what an ovs-netpol flow is for, in words, from its cookie, its
 * table and priority, its conj_id match and its conjunction() actions.
 *
 * What a flow says about itself
 * =============================
 *
 * Every flow we install carries a cookie 0x4e50RRxxIIIIIIII (pipeline.h):
 * the role RR and an ID.  With the names of this node's ports (ofport ->
 * pod, host or uplink) and of its rules (conjunction ID -> namespace,
 * policy, direction, rule index, named-port variant), the cookie alone
 * says what the flow is; the table (relative to the pipeline's first
 * table) says the direction of an isolation drop or a clause.  Clause
 * flows are shared, so their cookie carries no ID: each conjunction(ID,k/n)
 * action names one rule.
 *
 * Where the facts come from
 * =========================
 *
 * 'struct annotate_flow' holds only those facts.  It is filled from a line
 * of `ovs-ofctl dump-flows` output (annotate_flow_parse_dump()), from a
 * flow line of `ofproto/trace` (annotate_flow_parse_trace()), or by the
 * caller from a decoded flow stats reply.  The dump parser reads just the
 * few fields it needs and skips every other one, so it takes the output
 * of any OpenFlow version, with or without --names, --no-stats or
 * --rsort, and never needs the switch's port or table names: a line is
 * printed unchanged anyway.  (libopenvswitch's parse_ofp_str() would need
 * every port and table name a --names dump uses, and would reject fields a
 * newer ovs-ofctl prints.)
 *
 * Output
 * ======
 *
 * annotate_flow_format() appends one line per fact, each starting with a
 * caller-chosen prefix, e.g. with "    # ":
 *
 *     # isolation drop [ingress]: x/b (port 12) is isolated for ingress
 *       and no ingress rule allowed the packet: drop
 *     # clause [ingress]: 2 rules share this match
 *     #   conjunction(2092052984,2/3): x/web ingress rule 0 [TCP:8080]
 *         (conj 0x7cb231f8)
 *
 * (each on one line).  The first line always starts with the role: one of
 * "pipeline", "conntrack", "spoof guard", "classify", "isolation drop",
 * "clause", "allow rule", "stats".  Lines that begin with '#' are comments
 * to ovs-ofctl, so annotated output can still be fed to `ovs-ofctl
 * add-flows` or `diff-flows`.  Flows without our cookie prefix get no
 * annotation.
 *
 * All calls run on one thread; no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openvswitch/hmap.h>
#include "ovs-netpol/model.h"
#include "ovs-netpol/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cluster;
struct conj_ids;
struct ds;

/* Names: what the IDs in cookies and conjunctions stand for. */

struct annotate_rule {
    struct hmap_node node;      /* In 'struct annotate_names' 'rules'. */
    uint32_t id;                /* Conjunction ID. */
    char *namespace;
    char *policy;
    enum np_direction dir;
    unsigned int index;
    char *variant;              /* "" for a rule's main conjunction. */
};

struct annotate_port {
    struct hmap_node node;      /* In 'struct annotate_names' 'ports'. */
    uint32_t ofport;
    char *name;                 /* Interface name, or NULL. */
    char *pod;                  /* "NAMESPACE/POD" for a pod port, else
                                 * NULL: the host (LOCAL) or an uplink. */
};

struct annotate_names {
    struct hmap rules;          /* Contains struct annotate_rule, by id. */
    struct hmap ports;          /* Contains struct annotate_port, by
                                 * ofport. */
    struct np_config config;    /* Where the pipeline's tables are. */
};

void annotate_names_init(struct annotate_names *, const struct np_config *);
void annotate_names_destroy(struct annotate_names *);

/* Adds (or replaces) the rule with conjunction ID 'id'. */
void annotate_names_add_rule(struct annotate_names *, uint32_t id,
                             const char *namespace, const char *policy,
                             enum np_direction, unsigned int index,
                             const char *variant);
/* Adds (or replaces) port 'ofport'; 'name' and 'pod' ("NS/POD") may be
 * NULL. */
void annotate_names_add_port(struct annotate_names *, uint32_t ofport,
                             const char *name, const char *pod);
/* Adds every port of 'cluster' and every live rule of 'ids'. */
void annotate_names_add_cluster(struct annotate_names *,
                                const struct cluster *,
                                const struct conj_ids *);

const struct annotate_rule *annotate_names_find_rule(
    const struct annotate_names *, uint32_t id);
const struct annotate_port *annotate_names_find_port(
    const struct annotate_names *, uint32_t ofport);

/* Appends "x/web ingress rule 0 [TCP:8080] (conj 0x7cb231f8)", or, for an
 * ID 'names' does not know, "conj 0x... (not a rule the agent knows)". */
void annotate_rule_format(const struct annotate_names *, uint32_t id,
                          struct ds *);
/* Appends "x/a (port 11)", "the host (LOCAL)", "uplink port 20 (eth1)"
 * or "port 7 (not a port the agent knows)". */
void annotate_port_format(const struct annotate_names *, uint32_t ofport,
                          struct ds *);

/* The facts about one flow. */

struct annotate_conj {
    uint32_t id;
    uint8_t clause;             /* 1-based, as ovs-ofctl prints it. */
    uint8_t n_clauses;
};

enum annotate_action {
    ANNOTATE_ACTION_OTHER,      /* Goes on (goto_table, NORMAL, ...). */
    ANNOTATE_ACTION_DROP,       /* No actions. */
    ANNOTATE_ACTION_CT,         /* ct(): to conntrack. */
    ANNOTATE_ACTION_CONTROLLER, /* To the controller (audit). */
};

struct annotate_flow {
    uint64_t cookie;
    int table_id;               /* -1 if unknown (a table name). */
    int priority;
    bool has_conj_id;           /* Matches conj_id=... */
    uint32_t conj_id;
    enum annotate_action action;        /* What the first notable action
                                         * does. */
    bool logs;                  /* Also sends a copy to the controller. */
    struct annotate_conj *conjs;        /* The conjunction() actions. */
    size_t n_conjs, allocated_conjs;
};

void annotate_flow_init(struct annotate_flow *);
void annotate_flow_destroy(struct annotate_flow *);
void annotate_flow_add_conj(struct annotate_flow *, uint32_t id,
                            uint8_t clause, uint8_t n_clauses);

/* Parses one line of `ovs-ofctl dump-flows` output into 'flow' (which must
 * be initialised; it is reset first).  Returns false for a line that is
 * not a flow (a reply header, a blank line).  A flow without a printed
 * table is in table 0, one without a printed priority at 32768, as
 * ovs-ofctl means it. */
bool annotate_flow_parse_dump(struct annotate_flow *, const char *line);

/* Parses a flow line of `ofproto/trace` output, such as
 * " 3. ip,nw_dst=10.2.0.2, priority 100, cookie 0x4e5003000000000c", into
 * 'flow' (reset first; its actions are on the following lines: see
 * annotate_flow_parse_actions()).  Returns false for any other line,
 * including " 3. No match." */
bool annotate_flow_parse_trace(struct annotate_flow *, const char *line);

/* Reads actions in ovs-ofctl syntax ("conjunction(12,1/2),ct(...)",
 * "drop") into 'flow': its conjunctions and 'action'. */
void annotate_flow_parse_actions(struct annotate_flow *, const char *actions);

/* Returns the role label of 'flow' ("isolation drop", ...), or NULL if the
 * flow is not ours. */
const char *annotate_flow_role(const struct annotate_flow *,
                               const struct annotate_names *);

/* Appends the annotation of 'flow', one line per fact, each starting with
 * 'prefix' and ending with a new-line; nothing for a flow without our
 * cookie prefix. */
void annotate_flow_format(const struct annotate_flow *,
                          const struct annotate_names *, const char *prefix,
                          struct ds *);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/annotate.h */
