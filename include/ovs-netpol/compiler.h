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

#ifndef OVS_NETPOL_COMPILER_H
#define OVS_NETPOL_COMPILER_H 1

/* The rule compiler: cluster state in, the complete desired flow set out.
 *
 * This is the reference computation: a pure function of the cluster state
 * (cluster.h) and the pipeline configuration (pipeline.h, which also
 * describes the tables the flows fill).  The agent computes it in full at
 * start-up and after a resync; anything incremental must always produce
 * exactly the flow set compile_full() produces for the same state.
 *
 * What it guarantees:
 *
 *   - Kubernetes semantics: a pod is isolated for a direction when any
 *     policy that selects it has that policyType; an isolated pod's traffic
 *     in that direction is allowed only when some rule of such a policy
 *     allows it (the union of all rules); other traffic is not restricted.
 *     Replies of allowed connections flow through conntrack.
 *
 *   - Absent means any, present but empty means nothing: a rule with no
 *     peers or no ports allows any peer or port; a rule whose peers select
 *     nothing (yet) allows nothing.
 *
 *   - Fail closed: a pod port that names a pod the cluster state does not
 *     hold is isolated in both directions (a problem says so) until the Pod
 *     object arrives.
 *
 *   - Determinism: the same input gives the same flows byte for byte, and
 *     the same conjunction IDs (given the same 'conj_ids' history, or a
 *     fresh one).
 *
 * All calls run on one thread; no I/O. */

#include <stddef.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

struct compile_stats {
    size_t n_local_pods;        /* Pod ports. */
    size_t n_policies;          /* Policies in the cluster. */
    size_t n_policies_local;    /* Policies selecting at least one local
                                 * pod. */
    size_t n_conjunctions;      /* Rule conjunctions (and direct allows). */
    size_t n_bands;             /* Clause priority bands in use (1 unless
                                 * some flow hit NP_MAX_CONJS_PER_FLOW). */
    size_t n_flows;
};

/* Computes the complete flow set for 'cluster' under 'config' into 'flows'
 * (which must be empty), allocating conjunction IDs from 'ids' (retiring
 * those of rules that no longer produce flows).  Appends to 'problems'
 * what the caller should report (e.g. a pod port whose pod is unknown).
 * 'stats' may be NULL. */
void compile_full(const struct cluster *, const struct np_config *,
                  struct conj_ids *ids, struct flow_set *flows,
                  struct np_problems *problems, struct compile_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* ovs-netpol/compiler.h */
