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

/* ctl-online.c: the ovs-netpolctl commands that talk to a running agent over
 * its control socket (status, wait-sync, rules, flows, recompute, resync),
 * and flush, which talks to the switch directly. */

#include <config.h>
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofpbuf.h>
#include <openvswitch/vconn.h>
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

static const char *
rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    return dir && *dir ? dir : "/var/run/openvswitch";
}

static char *
control_path(const struct ctl_options *opts)
{
    return opts->control ? np_xstrdup(opts->control)
                         : np_xasprintf("%s/ovs-netpol.ctl", rundir());
}

static int
connect_agent(const struct ctl_options *opts)
{
    char *path = control_path(opts);
    struct sockaddr_un sun;

    if (strlen(path) >= sizeof sun.sun_path) {
        ctl_fatal(2, "%s: path too long", path);
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        ctl_fatal(2, "%s: cannot connect to the agent (%s); is "
                  "ovs-netpol-agent running? (--control=PATH)", path,
                  strerror(errno));
    }
    free(path);
    return fd;
}

/* Sends one request and returns its "result" (the caller decrefs), or exits
 * with the agent's error.  Waits at most opts->timeout seconds (0: no
 * limit). */
static json_t *
transact(const struct ctl_options *opts, const char *command, json_t *args)
{
    int fd = connect_agent(opts);
    json_t *request = json_pack("{sissso}", "id", 1, "command", command,
                                "args", args ? args : json_object());
    char *text = json_dumps(request, JSON_COMPACT);
    json_decref(request);

    size_t len = strlen(text);
    text[len++] = '\n';
    for (size_t done = 0; done < len; ) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno != EINTR) {
            ctl_fatal(2, "writing to the agent: %s", strerror(errno));
        }
        done += n > 0 ? n : 0;
    }
    free(text);

    /* Read one line. */
    char *buf = NULL;
    size_t size = 0, allocated = 0;
    long long int deadline = opts->timeout ? np_time_msec()
                                             + opts->timeout * 1000LL : 0;
    for (;;) {
        char *nl = size ? memchr(buf, '\n', size) : NULL;
        if (nl) {
            *nl = '\0';
            break;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int wait = deadline ? (int) NP_MAX(0, deadline - np_time_msec())
                            : -1;
        int retval = poll(&pfd, 1, wait);
        if (retval == 0) {
            free(buf);
            ctl_fatal(ctl_error_status, "%s: no answer within %d s", command,
                      opts->timeout);
        } else if (retval < 0) {
            if (errno == EINTR) {
                continue;
            }
            ctl_fatal(2, "poll: %s", strerror(errno));
        }
        buf = np_x2nrealloc(buf, &allocated, size + 65536, 1);
        ssize_t n = read(fd, buf + size, allocated - size);
        if (n <= 0) {
            ctl_fatal(2, "the agent closed the connection");
        }
        size += n;
    }
    close(fd);

    json_error_t error;
    json_t *reply = json_loads(buf, 0, &error);
    free(buf);
    if (!reply) {
        ctl_fatal(2, "bad reply from the agent: %s", error.text);
    }
    const char *err = json_string_value(json_object_get(reply, "error"));
    if (err) {
        /* Freed first: with LeakSanitizer a leak at exit changes the exit
         * status, which trace and verify give a meaning. */
        char msg[4096];
        snprintf(msg, sizeof msg, "%s", err);
        json_decref(reply);
        ctl_fatal(ctl_error_status, "%s: %s", command, msg);
    }
    json_t *result = json_incref(json_object_get(reply, "result"));
    json_decref(reply);
    return result;
}

json_t *
ctl_transact(const struct ctl_options *opts, const char *command,
             json_t *args)
{
    return transact(opts, command, args);
}

static void
print_json(const json_t *json)
{
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS);
    puts(text);
    free(text);
}

static json_int_t
get_int(const json_t *obj, const char *path)
{
    char *copy = np_xstrdup(path);
    const json_t *j = obj;
    for (char *key = strtok(copy, "."); key && j; key = strtok(NULL, ".")) {
        j = json_object_get(j, key);
    }
    free(copy);
    return json_integer_value(j);
}

/* The "audit" section (agent/audit.h), one line, or none when off. */
static void
print_audit(const json_t *a)
{
    if (!json_is_true(json_object_get(a, "enabled"))) {
        return;
    }
    printf("audit: to %s, meter %"JSON_INTEGER_FORMAT" (%"JSON_INTEGER_FORMAT
           "/s), %s; %"JSON_INTEGER_FORMAT" received, %"JSON_INTEGER_FORMAT
           " lines logged, %"JSON_INTEGER_FORMAT" deduplicated, %"
           JSON_INTEGER_FORMAT" dropped\n",
           json_string_value(json_object_get(a, "log")),
           get_int(a, "meter.id"), get_int(a, "meter.rate_pps"),
           json_is_true(json_object_get(json_object_get(a, "connection"),
                                        "connected"))
           ? "receiving" : "NOT CONNECTED",
           get_int(a, "received"), get_int(a, "logged"),
           get_int(a, "deduplicated"), get_int(a, "dropped"));
    const char *error = json_string_value(
        json_object_get(json_object_get(a, "meter"), "last_error"));
    if (error) {
        printf("  meter error: %s\n", error);
    }
}

static void
print_status(const json_t *s)
{
    const json_t *sw = json_object_get(s, "switch");
    const json_t *src = json_object_get(s, "sources");
    const json_t *ovsdb = json_object_get(src, "ovsdb");
    const json_t *man = json_object_get(src, "manifests");

    printf("synced: %s (changes seen %"JSON_INTEGER_FORMAT", computed %"
           JSON_INTEGER_FORMAT", in the switch %"JSON_INTEGER_FORMAT")\n",
           json_is_true(json_object_get(s, "synced")) ? "yes" : "NO",
           get_int(s, "change_seq"), get_int(s, "desired_seq"),
           get_int(sw, "installed_seq"));
    printf("switch: %s, %s; %"JSON_INTEGER_FORMAT" flows installed, %"
           JSON_INTEGER_FORMAT" bundles (%"JSON_INTEGER_FORMAT" flow mods), "
           "%"JSON_INTEGER_FORMAT" refused\n",
           json_string_value(json_object_get(sw, "target")),
           json_string_value(json_object_get(sw, "state")),
           get_int(sw, "installed_flows"), get_int(sw, "bundles"),
           get_int(sw, "flow_mods"), get_int(sw, "bundle_errors"));
    if (json_object_get(sw, "last_error")) {
        printf("  last error: %s\n",
               json_string_value(json_object_get(sw, "last_error")));
    }
    printf("ovsdb: %s, %s\n",
           json_string_value(json_object_get(ovsdb, "remote")),
           json_is_true(json_object_get(ovsdb, "synced")) ? "synced"
           : json_is_true(json_object_get(ovsdb, "connected"))
           ? "connected" : "DISCONNECTED");
    if (man) {
        printf("manifests: %"JSON_INTEGER_FORMAT" files, %"JSON_INTEGER_FORMAT
               " objects, %"JSON_INTEGER_FORMAT" file errors, %"
               JSON_INTEGER_FORMAT" invalid objects\n",
               get_int(man, "files"), get_int(man, "objects"),
               get_int(man, "file_errors"), get_int(man, "object_errors"));
        const char *why = json_string_value(json_object_get(man,
                                                            "waiting_for"));
        if (why) {
            printf("  NOT SYNCED, waiting for: %s\n", why);
        }
    }
    printf("cluster: %"JSON_INTEGER_FORMAT" namespaces, %"JSON_INTEGER_FORMAT
           " pods, %"JSON_INTEGER_FORMAT" policies (%"JSON_INTEGER_FORMAT
           " apply here)\n",
           get_int(s, "counts.namespaces"), get_int(s, "counts.pods"),
           get_int(s, "counts.policies"),
           get_int(s, "engine.policies_local"));
    printf("engine: %"JSON_INTEGER_FORMAT" flows, %"JSON_INTEGER_FORMAT
           " conjunctions, %"JSON_INTEGER_FORMAT" peer sets; %"
           JSON_INTEGER_FORMAT" events (last %"JSON_INTEGER_FORMAT" us, "
           "worst %"JSON_INTEGER_FORMAT" us), %"JSON_INTEGER_FORMAT
           " rebuilds (last %"JSON_INTEGER_FORMAT" us)\n",
           get_int(s, "engine.flows"), get_int(s, "engine.conjunctions"),
           get_int(s, "engine.peer_sets"), get_int(s, "engine.events"),
           get_int(s, "engine.last_event_usec"),
           get_int(s, "engine.max_event_usec"),
           get_int(s, "engine.rebuilds"),
           get_int(s, "engine.last_rebuild_usec"));
    print_audit(json_object_get(s, "audit"));

    const json_t *ports = json_object_get(s, "ports");
    size_t i;
    const json_t *p;
    printf("ports (%zu):\n", json_array_size(ports));
    json_array_foreach (ports, i, p) {
        const char *pod = json_string_value(json_object_get(p, "pod"));
        printf("  %5"JSON_INTEGER_FORMAT"  %-16s ", get_int(p, "ofport"),
               json_string_value(json_object_get(p, "name")));
        if (pod) {
            printf("pod %s", pod);
            const json_t *ip;
            size_t j;
            json_array_foreach (json_object_get(p, "ips"), j, ip) {
                printf("%s%s", j ? "," : " ", json_string_value(ip));
            }
            if (!json_is_true(json_object_get(p, "known"))) {
                printf(" (POD UNKNOWN: isolated)");
            }
        } else {
            printf("%s", json_string_value(json_object_get(p, "role")));
        }
        putchar('\n');
    }

    const json_t *rules = json_object_get(s, "rules");
    const json_t *r;
    printf("rules (%zu):\n", json_array_size(rules));
    json_array_foreach (rules, i, r) {
        const char *variant = json_string_value(json_object_get(r,
                                                                "variant"));
        printf("  conj %#10llx  %s/%s %s rule %"
               JSON_INTEGER_FORMAT"%s%s%s\n",
               (unsigned long long) get_int(r, "conj_id"),
               json_string_value(json_object_get(r, "namespace")),
               json_string_value(json_object_get(r, "policy")),
               json_string_value(json_object_get(r, "direction")),
               get_int(r, "index"), variant && *variant ? " [" : "",
               variant ? variant : "", variant && *variant ? "]" : "");
    }

    const json_t *problems = json_object_get(s, "problems");
    const json_t *msg;
    if (json_array_size(problems)) {
        printf("problems (%zu):\n", json_array_size(problems));
        json_array_foreach (problems, i, msg) {
            printf("  %s\n", json_string_value(msg));
        }
    }
}

int
ctl_status(struct ctl_options *opts)
{
    json_t *status = transact(opts, "status", NULL);
    if (opts->json) {
        print_json(status);
    } else {
        print_status(status);
    }
    json_decref(status);
    return 0;
}

int
ctl_wait_sync(struct ctl_options *opts)
{
    json_t *args = json_object();
    if (opts->timeout) {
        json_object_set_new(args, "timeout", json_integer(opts->timeout));
    }
    json_t *result = transact(opts, "wait-sync", args);
    json_decref(result);
    return 0;
}

int
ctl_simple(struct ctl_options *opts, const char *command)
{
    json_t *result = transact(opts, command, NULL);
    if (json_is_string(result)) {
        fputs(json_string_value(result), stdout);
        if (!np_str_ends_with(json_string_value(result), "\n")) {
            putchar('\n');
        }
    } else {
        print_json(result);
    }
    json_decref(result);
    return 0;
}

/* flush: delete every flow with our cookie from the bridge, straight over
 * OpenFlow (the agent need not run).  Used to uninstall. */
int
ctl_flush(struct ctl_options *opts)
{
    const char *bridge = opts->bridge ? opts->bridge : "br-int";
    char *target = opts->openflow ? np_xstrdup(opts->openflow)
                                  : np_xasprintf("unix:%s/%s.mgmt", rundir(),
                                                 bridge);
    struct vconn *vconn;
    int error = vconn_open_block(target, 1u << OFP15_VERSION, 0, 5000,
                                 &vconn);
    if (error) {
        ctl_fatal(2, "%s: cannot connect (%s)", target, np_strerror(error));
    }

    struct ofputil_flow_mod fm;
    struct match match;
    memset(&fm, 0, sizeof fm);
    match_init_catchall(&match);
    minimatch_init(&fm.match, &match);
    fm.command = OFPFC_DELETE;
    fm.table_id = OFPTT_ALL;
    fm.cookie = htobe64(NP_COOKIE_PREFIX);
    fm.cookie_mask = htobe64(NP_COOKIE_PREFIX_MASK);
    fm.new_cookie = OVS_BE64_MAX;
    fm.buffer_id = UINT32_MAX;
    fm.out_port = OFPP_ANY;
    fm.out_group = OFPG_ANY;

    struct ofpbuf *reply = NULL;
    error = vconn_transact_noreply(vconn,
                                   ofputil_encode_flow_mod(&fm,
                                                           OFPUTIL_P_OF15_OXM),
                                   &reply);
    minimatch_destroy(&fm.match);
    if (!error && reply) {
        error = EPROTO;
    }
    ofpbuf_delete(reply);
    vconn_close(vconn);
    if (error) {
        ctl_fatal(1, "%s: flush failed (%s)", target, np_strerror(error));
    }
    printf("deleted every ovs-netpol flow (cookie %#"PRIx64"/%#"PRIx64") "
           "from %s\n", NP_COOKIE_PREFIX, NP_COOKIE_PREFIX_MASK, target);
    free(target);
    return 0;
}
