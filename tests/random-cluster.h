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

#ifndef RANDOM_CLUSTER_H
#define RANDOM_CLUSTER_H 1

/* Random but valid Kubernetes objects, as JSON text, for tests: a small
 * vocabulary of labels so that selectors often match, every peer and port
 * shape (selectors, both, ipBlocks with except, numeric, named, ranges,
 * protocols only), unknown fields.  Deterministic from rc_seed(). */

#include <stdint.h>

struct cluster;

void rc_seed(uint32_t);
uint32_t rc_next(void);
int rc_range(int n);                    /* 0...n-1. */

/* malloc'd JSON text of one object. */
char *rc_namespace_json(const char *name);
/* Pod 'index' gets addresses derived from 'index' (10.0.I%3.I+1 and the
 * same in fd00::), so pods with the same index share addresses. */
char *rc_pod_json(const char *ns, const char *name, int index);
char *rc_policy_json(const char *ns, const char *name);

/* Parses 'json' and puts its object into 'cluster'; aborts if it is not a
 * valid object. */
void rc_load(struct cluster *, const char *json);

#endif /* random-cluster.h */
