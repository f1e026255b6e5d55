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

/* selector.c: label selector evaluation and printing, used by the compiler
 * and by explain to decide which pods and namespaces a policy names.  Pure:
 * no I/O. */

#include <config.h>
#include "selector.h"

#include <string.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/util.h"

static bool
value_in(const struct selector_req *req, const char *value)
{
    size_t lo = 0, hi = req->n_values;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(value, req->values[mid]);
        if (!cmp) {
            return true;
        } else if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return false;
}

static bool
selector_req_matches(const struct selector_req *req,
                     const struct labels *labels)
{
    const char *value = labels_get(labels, req->key);
    switch (req->op) {
    case SELECTOR_IN:
        return value && value_in(req, value);
    case SELECTOR_NOT_IN:
        return !value || !value_in(req, value);
    case SELECTOR_EXISTS:
        return value != NULL;
    case SELECTOR_DOES_NOT_EXIST:
        return value == NULL;
    }
    return false;
}

bool
selector_matches(const struct selector *sel, const struct labels *labels)
{
    for (size_t i = 0; i < sel->n_reqs; i++) {
        if (!selector_req_matches(&sel->reqs[i], labels)) {
            return false;
        }
    }
    return true;
}

bool
selector_matches_except(const struct selector *sel,
                        const struct labels *labels, size_t skip)
{
    for (size_t i = 0; i < sel->n_reqs; i++) {
        if (i != skip && !selector_req_matches(&sel->reqs[i], labels)) {
            return false;
        }
    }
    return true;
}

bool
selector_is_empty(const struct selector *sel)
{
    return !sel->n_reqs;
}

uint32_t
selector_hash(const struct selector *sel, uint32_t basis)
{
    uint32_t hash = np_hash_add(basis, sel->n_reqs);
    for (size_t i = 0; i < sel->n_reqs; i++) {
        const struct selector_req *req = &sel->reqs[i];
        hash = np_hash_string(req->key, np_hash_add(hash, req->op));
        for (size_t j = 0; j < req->n_values; j++) {
            hash = np_hash_string(req->values[j], hash);
        }
    }
    return hash;
}

static void
format_values(const struct selector_req *req, struct ds *s)
{
    ds_put_cstr(s, " (");
    for (size_t j = 0; j < req->n_values; j++) {
        ds_put_format(s, "%s%s", j ? "," : "", req->values[j]);
    }
    ds_put_char(s, ')');
}

void
selector_format(const struct selector *sel, struct ds *s)
{
    if (!sel->n_reqs) {
        ds_put_cstr(s, "<all>");
        return;
    }
    for (size_t i = 0; i < sel->n_reqs; i++) {
        const struct selector_req *req = &sel->reqs[i];
        if (i) {
            ds_put_char(s, ',');
        }
        switch (req->op) {
        case SELECTOR_IN:
            if (req->n_values == 1) {
                ds_put_format(s, "%s=%s", req->key, req->values[0]);
            } else {
                ds_put_format(s, "%s in", req->key);
                format_values(req, s);
            }
            break;
        case SELECTOR_NOT_IN:
            if (req->n_values == 1) {
                ds_put_format(s, "%s!=%s", req->key, req->values[0]);
            } else {
                ds_put_format(s, "%s notin", req->key);
                format_values(req, s);
            }
            break;
        case SELECTOR_EXISTS:
            ds_put_cstr(s, req->key);
            break;
        case SELECTOR_DOES_NOT_EXIST:
            ds_put_format(s, "!%s", req->key);
            break;
        }
    }
}
