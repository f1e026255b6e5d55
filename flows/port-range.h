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

#ifndef PORT_RANGE_H
#define PORT_RANGE_H 1

/* Turning a range of transport ports into value/mask matches.
 *
 * OpenFlow matches tp_dst with a bitwise mask, not a range, so a range
 * lo...hi becomes the smallest set of aligned power-of-two blocks that tile
 * it exactly: each block is a value whose low k bits are free and a mask
 * with those k bits clear.  8080...8090 is 3 blocks (8080/0xfff8,
 * 8088/0xfffe, 8090/0xffff); 1...65535 is 16; no 16-bit range needs more
 * than 30.
 *
 * Pure functions: no I/O, no global state. */

#include <stddef.h>
#include <stdint.h>

/* A match on a 16-bit port: a port p matches when (p & mask) == value.
 * 'value' has no bits set outside 'mask'. */
struct port_mask {
    uint16_t value;
    uint16_t mask;
};

/* The most blocks any range 'lo'...'hi' can need. */
#define PORT_RANGE_MAX_MASKS 32

/* Stores into 'out' (room for PORT_RANGE_MAX_MASKS) the blocks that tile
 * 'lo'...'hi' exactly, in increasing order, and returns how many there are.
 * Returns 0 if 'lo' > 'hi'.  0...65535 is the single block 0/0. */
size_t port_range_to_masks(uint16_t lo, uint16_t hi, struct port_mask *out);

#endif /* port-range.h */
