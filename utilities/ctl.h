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

#ifndef CTL_H
#define CTL_H 1

/* ovs-netpolctl's commands share this: the parsed command line and the
 * helpers to load manifests and describe the node.  Offline commands live in
 * ctl-offline.c, commands that talk to a running agent in ctl-online.c,
 * the debugging commands (annotate, trace, verify) in ctl-debug.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/pipeline.h"

/* A "NAMESPACE/POD=VALUE" option. */
struct pod_option {
    char *ns;
    char *name;
    char *value;
};

struct ctl_options {
    char **files;               /* -f: manifest files and directories. */
    size_t n_files, allocated_files;
    const char *node;           /* --node. */
    struct pod_option *ofports; /* --ofport NS/POD=N. */
    size_t n_ofports, allocated_ofports;
    struct pod_option *macs;    /* --mac NS/POD=MAC. */
    size_t n_macs, allocated_macs;
    uint32_t *uplinks;          /* --uplink N. */
    size_t n_uplinks, allocated_uplinks;
    struct np_config config;    /* --first-table, --next-table, ... */
    bool strict;                /* --strict. */

    const char *from, *to, *port;       /* explain, trace. */
    int family;                 /* --family: 0, AF_INET, AF_INET6. */

    const char *control;        /* --control: the agent's socket. */
    int timeout;                /* --timeout, seconds (0: none). */
    bool json;                  /* --format=json. */
    const char *bridge;         /* --bridge (flush). */
    const char *openflow;       /* --openflow (flush, annotate). */
    bool live;                  /* annotate --live: dump the bridge. */
    const char *vswitchd;       /* --vswitchd: ovs-vswitchd's unixctl
                                 * socket or program name (trace, verify). */

    char **args;                /* Non-option arguments after the command. */
    size_t n_args;
};

/* The exit status of an error reported by the agent or of no answer from
 * it: 1, except for trace and verify, whose status 1 is a verdict ("denied",
 * "disagreements") and whose errors exit 2. */
extern int ctl_error_status;

/* Prints "ovs-netpolctl: MESSAGE" on stderr and exits with status 2 (usage
 * and environment errors) or 1. */
void ctl_fatal(int status, const char *format, ...)
    __attribute__((__format__(__printf__, 2, 3), __noreturn__));

/* Loads the manifests named by -f into 'cluster', printing problems on
 * stderr.  Returns the number of problems. */
size_t ctl_load_manifests(const struct ctl_options *, struct cluster *);

/* Adds this node's ports to 'cluster': a pod port for every pod whose
 * spec.nodeName is --node (OpenFlow ports from --ofport, the others
 * numbered from 1 in namespace/name order, skipping numbers taken), the
 * host port, and the --uplink ports. */
void ctl_add_node_ports(const struct ctl_options *, struct cluster *);

int ctl_compile(struct ctl_options *);
int ctl_explain(struct ctl_options *);
int ctl_status(struct ctl_options *);
int ctl_wait_sync(struct ctl_options *);
int ctl_flush(struct ctl_options *);
int ctl_simple(struct ctl_options *, const char *command);
int ctl_stats(struct ctl_options *);
int ctl_annotate(struct ctl_options *);        /* ctl-debug.c */
int ctl_trace(struct ctl_options *);           /* ctl-debug.c */
int ctl_verify(struct ctl_options *);          /* ctl-debug.c */

/* Sends 'command' with 'args' (a JSON object, reference stolen, or NULL) to
 * the agent and returns its result (the caller decrefs), or exits with the
 * agent's error (status 1) or a connection problem (status 2).  Waits at
 * most opts->timeout seconds (0: no limit). */
struct json_t *ctl_transact(const struct ctl_options *, const char *command,
                            struct json_t *args);

#endif /* ctl.h */
