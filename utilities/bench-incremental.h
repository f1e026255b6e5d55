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

#ifndef BENCH_INCREMENTAL_H
#define BENCH_INCREMENTAL_H 1

#include <stdint.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/pipeline.h"

/* Builds the incremental engine on 'cluster' and applies 'n_events' events
 * of each kind (chosen from 'seed'), printing one "incremental ..." line of
 * figures per kind.  'node' names this node for pods that appear locally.
 * Leaves 'cluster' as it found it.  Returns 0, or 1 if the cluster is too
 * empty to edit. */
int bench_incremental(struct cluster *, const struct np_config *,
                      const char *node, int n_events, uint32_t seed);

#endif /* bench-incremental.h */
