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
 *                                                  |         every second)
 *                                                  +<--> STATS (flow
 *                                                        statistics)
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
 * Flow statistics
 * ===============
 *
 * ofctrl_dump_stats() reads the counters of our rule, stats and isolation
 * flows (the ones pipeline.h's "Statistics" are made of; never the shared
 * clause flows) on the worker thread, between bundles, and hands them back
 * on the loop thread.  Requests that wait at the same time share one dump;
 * a request made while a dump is in flight waits for the next one, so its
 * answer was always read after it asked.  A dump delays the next bundle by
 * its own duration, and a bundle in flight delays a dump.
 *
 * All calls run on the agent's loop thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flow-stats.h"
#include "ovs-netpol/flow-set.h"

struct event_base;
struct vconn;

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
    uint64_t n_foreign_changes; /* Times our flows in the switch were found
                                 * changed by someone else, and read back. */
    uint64_t n_adds, n_modifies, n_deletes;
    uint64_t last_bundle_flow_mods;
    long long int last_bundle_usec;     /* Duration of the last commit. */
    long long int last_dump_usec;       /* Duration of the last read-back. */
    uint64_t last_dump_flows;
    uint64_t n_stats_dumps;     /* Flow statistics dumps completed. */
    long long int last_stats_usec;      /* Duration of the last one. */
    uint64_t last_stats_flows;  /* Flows it read. */
    char *last_error;           /* Last error, or NULL.  Owned by ofctrl. */
};

struct ofctrl *ofctrl_create(struct event_base *, const char *target,
                             ofctrl_ready_cb *, void *aux);
void ofctrl_destroy(struct ofctrl *);

/* Called on ofctrl's worker thread after every successful connection,
 * before the read-back and so before any flow is installed on it: what it
 * sets up in the switch (the audit log's meter, which OVS resolves when a
 * flow that uses it is added) exists before the flows that need it.  It
 * may use the blocking vconn calls on 'vconn'.  Returns 0, or a positive
 * errno value if the connection failed (ofctrl reconnects, with back-off).
 * It runs on another thread than the agent's loop: it may only touch what
 * 'aux' makes safe to share. */
typedef int ofctrl_setup_cb(struct vconn *, void *aux);

/* Sets the setup hook (NULL for none).  Call it right after
 * ofctrl_create(), before the event loop runs, so that it applies to the
 * first connection too. */
void ofctrl_set_setup(struct ofctrl *, ofctrl_setup_cb *, void *aux);

/* Every 'seconds' (0: never), instead of an echo, ofctrl asks the switch
 * how many flows with our cookie it holds.  If that is not how many it
 * installed, someone else added or deleted some (by hand, or a CNI that
 * clears the bridge): it reads everything back, and the next put restores
 * them.  A flow modified in place keeps the count and is noticed only at
 * the next read-back. */
#define OFCTRL_DEFAULT_FLOW_CHECK 10
void ofctrl_set_flow_check(struct ofctrl *, unsigned int seconds);

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

/* The sequence number of the last desired state the switch holds, or 0:
 * also from a lost connection until the put after the read-back, since the
 * switch may have restarted empty. */
uint64_t ofctrl_installed_seq(const struct ofctrl *);

/* Calls 'cb(aux)' once ofctrl knows whether the connection it had when
 * this was called still stands: after an echo sent after this call comes
 * back (or fails, which counts as a lost connection and sets the installed
 * sequence to 0).  At once if not connected (the sequence is already 0).
 * So a switch restart not yet noticed cannot make a "wait-sync" answer from
 * before it.  Barriers still waiting when ofctrl is destroyed are dropped
 * without calling back. */
void ofctrl_barrier(struct ofctrl *, void (*cb)(void *aux), void *aux);

/* Our flows as the switch holds them (as of the last read-back plus the
 * bundles committed since). */
const struct flow_set *ofctrl_installed(const struct ofctrl *);

/* Forgets what the switch holds and reads it back again (e.g. when an
 * operator suspects someone changed our flows by hand). */
void ofctrl_resync(struct ofctrl *);

const struct ofctrl_stats *ofctrl_get_stats(const struct ofctrl *);

/* Called on the loop thread with the counters of our rule, stats and
 * isolation flows: 'error' is 0 and 'entries' holds 'n' entries (valid only
 * during the call, in no particular order), or 'error' is a positive errno
 * value (ENOTCONN: not connected to the switch; others: the connection
 * failed during the dump and is being re-established), 'entries' NULL and
 * 'n' 0. */
typedef void ofctrl_stats_cb(int error,
                             const struct flow_stats_entry *entries,
                             size_t n, void *aux);

/* Reads the flow statistics from the switch and calls 'cb' with 'aux' once,
 * from the event loop (never from inside this call).  Requests still
 * waiting when ofctrl is destroyed are dropped without calling back. */
void ofctrl_dump_stats(struct ofctrl *, ofctrl_stats_cb *cb, void *aux);

#endif /* ofctrl.h */
