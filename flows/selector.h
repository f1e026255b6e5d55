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

#ifndef SELECTOR_H
#define SELECTOR_H 1

/* Evaluating and printing label selectors ('struct selector', model.h).
 *
 * A selector is the conjunction of its requirements; one with none selects
 * everything.  Kubernetes semantics (k8s.io/apimachinery/pkg/labels):
 *
 *   In            the key exists and its value is one of the values;
 *   NotIn         the key is absent, or its value is none of the values;
 *   Exists        the key exists (any value);
 *   DoesNotExist  the key is absent.
 *
 * Pure functions: no I/O, no global state. */

#include <stdbool.h>
#include <stdint.h>
#include "ovs-netpol/model.h"

struct ds;

bool selector_matches(const struct selector *, const struct labels *);
/* The same, leaving out requirement 'skip' (an index into 'reqs'), which
 * the caller knows 'labels' satisfies. */
bool selector_matches_except(const struct selector *, const struct labels *,
                             size_t skip);
bool selector_is_empty(const struct selector *);
uint32_t selector_hash(const struct selector *, uint32_t basis);

/* Appends the selector in kubectl's string syntax ("app=web,tier in (a,b),
 * !debug"), or "<all>" for the empty selector. */
void selector_format(const struct selector *, struct ds *);

#endif /* selector.h */
