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

#ifndef OFCTRL_H
#define OFCTRL_H 1

/* ofctrl: the agent's OpenFlow connection to ovs-vswitchd, and its record of
 * which of our flows the switch holds.
 *
 * Where it sits: compiler -> desired flow set -> [ofctrl] -> ovs-vswitchd.
 *
 * The connection
 * ==============
 *
 * One OpenFlow 1.5 connection (libopenvswitch's vconn) to the bridge's
 * management socket.  libopenvswitch's vconn calls block, so they run on a
 * worker thread, one job at a time; the agent's event loop only hands jobs
 * over and takes results back, so it keeps answering its control socket
 * even while a big bundle is in flight.
 *
 *       DISCONNECTED --connect--> DUMPING --ok--> IDLE <--> INSTALLING
 *            ^                       |             |  \
 *            +------- any error -----+-------------+   +--> PROBING (echo,
 *                                                            every second)
 *
 * After every (re)connection ofctrl reads back our flows (those whose cookie
 * carries NP_COOKIE_PREFIX) into 'installed', so what it sends next is the
 * difference from what the switch really holds: an agent restart with
 * nothing changed sends nothing, and an ovs-vswitchd restart (an empty
 * switch) gets everything back.
 *
 * Installing
 * ==========
 *
 * ofctrl_put() computes the difference between a desired flow set and
 * 'installed' and sends it as one atomic, ordered bundle (adds, strict
 * modifies, strict deletes restricted to our cookie).  'installed' is
 * updated only after the switch commits the bundle.  A bundle the switch
 * rejects changes nothing (it is atomic); every error is logged decoded,
 * with the text of the flow it names, and the agent retries later.  If the
 * connection fails mid-bundle we cannot know whether the commit happened,
 * so the doubt is resolved the same way as after a restart: reconnect and
 * read back.
 *
 * All calls run on the agent's loop thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/flow-set.h"

struct event_base;

struct ofctrl;

/* Called on the loop thread whenever ofctrl becomes ready for
 * ofctrl_put() (connected and read back, or a bundle finished). */
typedef void ofctrl_ready_cb(void *aux);

struct ofctrl_stats {
    uint64_t n_connects;        /* Successful connections. */
    uint64_t n_disconnects;     /* Connections lost or failed. */
    uint64_t n_bundles;         /* Bundles committed. */
    uint64_t n_bundle_errors;   /* Bundles refused or failed. */
    uint64_t n_flow_mods;       /* Flow mods in committed bundles. */
    uint64_t n_adds, n_modifies, n_deletes;
    uint64_t last_bundle_flow_mods;
    long long int last_bundle_usec;     /* Duration of the last commit. */
    long long int last_dump_usec;       /* Duration of the last read-back. */
    uint64_t last_dump_flows;
    char *last_error;           /* Last error, or NULL.  Owned by ofctrl. */
};

struct ofctrl *ofctrl_create(struct event_base *, const char *target,
                             ofctrl_ready_cb *, void *aux);
void ofctrl_destroy(struct ofctrl *);

/* Returns true if ofctrl is connected, has read back the switch, and has
 * no bundle in flight: ofctrl_put() would act now. */
bool ofctrl_is_ready(const struct ofctrl *);
bool ofctrl_is_connected(const struct ofctrl *);
const char *ofctrl_state_name(const struct ofctrl *);

/* Makes the switch hold exactly 'desired' among our flows.  'seq' names the
 * state 'desired' was computed from; once the switch holds it,
 * ofctrl_installed_seq() returns 'seq'.  Returns false, doing nothing, if
 * ofctrl is not ready; the ready callback says when to try again.
 * 'desired' need not outlive the call. */
bool ofctrl_put(struct ofctrl *, const struct flow_set *desired,
                uint64_t seq);

/* Like ofctrl_put(), but compares only the flows whose identities are in
 * 'tracked' (as engine_take_tracked() reports them): the cost is
 * proportional to the change, not to the flow set.  The caller must use
 * ofctrl_put() instead while ofctrl_wants_full() is true. */
bool ofctrl_put_tracked(struct ofctrl *, const struct flow_set *desired,
                        const struct flow_set *tracked, uint64_t seq);

/* Whether the next put must compare everything: after a (re)connection or
 * a refused bundle, what changed since the last put is not enough. */
bool ofctrl_wants_full(const struct ofctrl *);

/* The sequence number of the last desired state the switch holds, or 0. */
uint64_t ofctrl_installed_seq(const struct ofctrl *);

/* Our flows as the switch holds them (as of the last read-back plus the
 * bundles committed since). */
const struct flow_set *ofctrl_installed(const struct ofctrl *);

/* Forgets what the switch holds and reads it back again (e.g. when an
 * operator suspects someone changed our flows by hand). */
void ofctrl_resync(struct ofctrl *);

const struct ofctrl_stats *ofctrl_get_stats(const struct ofctrl *);

#endif /* ofctrl.h */
