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

/* port-range.c: turns a NetworkPolicy port range ("port" to "endPort") into
 * the value/mask tp_dst matches that the compiler puts in a port clause.
 * Pure: no I/O, no global state. */

#include <config.h>
#include "port-range.h"

#include <openvswitch/util.h>

size_t
port_range_to_masks(uint16_t lo, uint16_t hi, struct port_mask *out)
{
    /* 32 bits, so that the end of the range (hi + 1) and a block of all
     * 65,536 ports are representable. */
    uint32_t port = lo;
    uint32_t end = (uint32_t) hi + 1;
    size_t n = 0;

    if (lo > hi) {
        return 0;
    }

    /* Greedily take the largest aligned block that starts at 'port' and
     * stays inside the range: as large as the alignment of 'port' (its
     * lowest set bit) allows, and no larger than what is left.  Every exact
     * tiling has a block starting at 'port' and none can have a larger one,
     * so the greedy tiling is the minimal one.  Block sizes first grow, then
     * shrink, which is why no range needs more than 30 (2 * 16 - 2). */
    while (port < end) {
        uint32_t size = port ? port & -port : 0x10000;
        while (size > end - port) {
            size >>= 1;
        }

        ovs_assert(n < PORT_RANGE_MAX_MASKS);
        out[n].value = (uint16_t) port;
        out[n].mask = (uint16_t) ~(size - 1);
        n++;
        port += size;
    }
    return n;
}
