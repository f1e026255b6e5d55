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

#ifndef AGENT_EXPLAIN_H
#define AGENT_EXPLAIN_H 1

/* The agent's model, asked over the control socket: what `ovs-netpolctl
 * trace` and `verify` compare the switch with.
 *
 * Commands (control.h has the protocol):
 *
 *   "pipeline"   {} -> the bridge, OpenFlow target, node name and table
 *                layout (first_table, next_table, ct_zone, registers,
 *                audit): what annotate and trace need to read flows.
 *
 *   "explain"    {"from": "NS/POD"|IP, "to": "NS/POD"|IP, "port":
 *                "80/TCP", "family": 0|4|6} -> the model's verdict
 *                (explain.h) with both ends resolved as the switch sees
 *                them (ofport, MAC, address; an address that is a pod's
 *                stands for the pod, since the switch matches addresses),
 *                each direction's isolating policies and allowing rules
 *                with their conjunction IDs, the text `ovs-netpolctl
 *                explain` prints, and "expected": what this node's switch
 *                should do.  A node enforces egress of its own pods and
 *                ingress to its own pods only, so "expected" counts only
 *                those directions; "allowed" is the cluster-wide verdict.
 *
 *   "explain-plan" {"max_remote": N, "max_checks": N} -> the checks of
 *                `verify` (verify-plan.h) with the model's verdict on each:
 *                {"endpoints": [...], "ports": [...], "uplink": N|null,
 *                 "checks": [[SRC, DST, PORT, FAMILY, EXPECTED, ALLOWED],
 *                 ...], "no_uplink": N, "truncated": N}, SRC and DST
 *                indexes into "endpoints", PORT into "ports", FAMILY 4 or
 *                6, EXPECTED and ALLOWED 0 or 1.
 *
 * The answers reflect the cluster state as the agent holds it when the
 * request arrives; `ovs-netpolctl` does a wait-sync first, so that the
 * switch holds the flows of that state.
 *
 * All calls run on the agent's loop thread. */

struct agent_options;
struct cluster;
struct conj_ids;
struct control_server;

/* Registers the commands above on 'control'.  They read 'cluster', 'ids'
 * and 'opts', which must outlive 'control'.  There is one agent per
 * process, so this keeps its context in static storage: registering costs
 * agent.c one line and there is nothing to free. */
void agent_explain_register(struct control_server *control,
                            const struct cluster *cluster,
                            const struct conj_ids *ids,
                            const struct agent_options *opts);

#endif /* agent-explain.h */
