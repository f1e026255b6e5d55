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

/* ovs-netpolctl: the operator's tool for ovs-netpol.  This file is the
 * command line: options, usage, dispatch.  The commands are in
 * ctl-offline.c (no agent needed) and ctl-online.c (talk to a running agent
 * over its control socket). */

#include <config.h>
#include "ctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ovs-netpol/util.h"

struct command {
    const char *name;
    int (*run)(struct ctl_options *);
    const char *summary;
};

/* Commands that only print the agent's answer. */
#define SIMPLE_COMMAND(NAME, COMMAND)           \
    static int                                  \
    NAME(struct ctl_options *opts)              \
    {                                           \
        return ctl_simple(opts, COMMAND);       \
    }
SIMPLE_COMMAND(ctl_rules, "rules")
SIMPLE_COMMAND(ctl_flows, "flows")
SIMPLE_COMMAND(ctl_recompute, "recompute")
SIMPLE_COMMAND(ctl_resync, "resync")

static const struct command commands[] = {
    { "compile", ctl_compile,
      "print the flows for the manifests' pods on --node" },
    { "explain", ctl_explain,
      "print the model's verdict for --from/--to/--port and why" },
    { "status", ctl_status,
      "show a running agent's pods, rules, flows, sync state, errors" },
    { "wait-sync", ctl_wait_sync,
      "wait until the switch holds every change the agent's sources have" },
    { "rules", ctl_rules,
      "list the agent's rules with their conjunction IDs (JSON)" },
    { "flows", ctl_flows,
      "print the flows the agent wants in the switch" },
    { "annotate", ctl_annotate,
      "name the pod, policy and rule behind every flow of a dump" },
    { "trace", ctl_trace,
      "ofproto/trace one connection; compare with the agent's model" },
    { "verify", ctl_verify,
      "trace a sample of connections; report switch/model disagreements" },
    { "recompute", ctl_recompute, "make the agent recompute everything" },
    { "resync", ctl_resync,
      "make the agent read its flows back from the switch" },
    { "stats", ctl_stats,
      "per-rule connections, packets and bytes; isolation drops per pod" },
    { "flush", ctl_flush,
      "delete every ovs-netpol flow from the bridge (no agent needed)" },
};

int ctl_error_status = 1;

void
ctl_fatal(int status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("ovs-netpolctl: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(status);
}

static void
usage(void)
{
    printf("ovs-netpolctl: the operator's tool for ovs-netpol\n"
           "usage: ovs-netpolctl COMMAND [OPTIONS]\n\n"
           "Commands:\n");
    for (size_t i = 0; i < NP_ARRAY_SIZE(commands); i++) {
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    printf("\nManifests and node (compile, explain, annotate -f):\n"
           "  -f, --file=FILE|DIR      manifests (JSON or YAML; repeatable)\n"
           "  --node=NAME              pods with spec.nodeName=NAME are "
           "local\n"
           "  --ofport=NS/POD=N        OpenFlow port of a local pod "
           "(default:\n"
           "                           1, 2, ... in namespace/name order)\n"
           "  --mac=NS/POD=MAC         MAC of a local pod (default: not "
           "checked)\n"
           "  --uplink=N               an uplink or tunnel port "
           "(repeatable)\n"
           "  --strict                 exit 1 if any object is invalid\n"
           "\nPipeline (must match the agent's):\n"
           "  --first-table=N          first of our 5 tables (default 0)\n"
           "  --next-table=N           allowed traffic goes to table N\n"
           "                           (default: NORMAL)\n"
           "  --ct-zone=N              conntrack zone (default %d)\n"
           "  --registers=E,I          registers for rule IDs (default "
           "%d,%d)\n"
           "  --audit                  send denied (and opted-in allowed) "
           "new\n"
           "                           connections to the audit log\n"
           "  --audit-meter=N          OpenFlow meter limiting them "
           "(default %d)\n"
           "\nConnections (explain, trace):\n"
           "  --from=NS/POD|IP, --to=NS/POD|IP, --port=PORT[/PROTO]\n"
           "  --family=4|6             address family of pods (default: "
           "first)\n"
           "\nRunning agent (status, wait-sync, rules, flows, recompute, "
           "resync,\nstats):\n"
           "  --control=PATH           the agent's control socket (default\n"
           "                           $OVS_RUNDIR/ovs-netpol.ctl)\n"
           "  --timeout=SECONDS        give up after SECONDS (default: "
           "wait)\n"
           "  --format=json            print the agent's raw answer\n"
           "\nDebugging (annotate, trace, verify; names and the model come "
           "from the\nrunning agent, or for annotate -f ... --node from the "
           "manifests):\n"
           "  annotate [FILE|-]        reads `ovs-ofctl dump-flows` output "
           "(any\n"
           "                           OpenFlow version, --names or not) and "
           "prints\n"
           "                           each line unchanged; after each flow "
           "of ours,\n"
           "                           lines \"    # ROLE [DIR]: what it "
           "does\" and\n"
           "                           \"    #   conjunction(ID,k/n): "
           "NS/POLICY DIR rule N\";\n"
           "                           '#' lines are comments to ovs-ofctl\n"
           "  --live                   annotate the bridge's flows (also "
           "when stdin is\n"
           "                           a terminal): --openflow, --bridge or "
           "the agent's\n"
           "  --vswitchd=SOCKET|NAME   ovs-vswitchd's unixctl target, as "
           "ovs-appctl -t\n"
           "                           (alias --appctl-target; default "
           "ovs-vswitchd:\n"
           "                           $OVS_RUNDIR/NAME.PID.ctl)\n"
           "  trace exits 0 if switch and model agree it is allowed, 1 if "
           "they\n"
           "  agree it is denied, 3 if they DISAGREE; verify exits 1 on any\n"
           "  disagreement; both exit 2 on an error\n"
           "\nflush, annotate --live, trace, verify:\n"
           "  --bridge=BR              the bridge (default br-int, or the "
           "agent's)\n"
           "  --openflow=unix:PATH     its OpenFlow socket (default\n"
           "                           unix:$OVS_RUNDIR/BR.mgmt)\n"
           "\nExit status: 0 success (explain: allowed), 1 failure "
           "(explain:\n"
           "denied), 2 usage or environment error.\n",
           NP_CONFIG_DEFAULT_CT_ZONE, NP_CONFIG_DEFAULT_EGRESS_REG,
           NP_CONFIG_DEFAULT_INGRESS_REG, NP_CONFIG_DEFAULT_AUDIT_METER);
}

static void
pod_options_destroy(struct pod_option *options, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(options[i].ns);
        free(options[i].name);
        free(options[i].value);
    }
    free(options);
}

static void
ctl_options_destroy(struct ctl_options *opts)
{
    free(opts->files);
    pod_options_destroy(opts->ofports, opts->n_ofports);
    pod_options_destroy(opts->macs, opts->n_macs);
    free(opts->uplinks);
}

static struct pod_option
parse_pod_option(const char *option, const char *arg)
{
    const char *slash = strchr(arg, '/');
    const char *equals = slash ? strchr(slash, '=') : NULL;
    if (!slash || !equals || slash == arg || equals == slash + 1
        || !equals[1]) {
        ctl_fatal(2, "--%s=%s: expected NAMESPACE/POD=VALUE", option, arg);
    }
    return (struct pod_option) {
        .ns = np_xstrndup(arg, slash - arg),
        .name = np_xstrndup(slash + 1, equals - slash - 1),
        .value = np_xstrdup(equals + 1),
    };
}

static long
parse_number(const char *option, const char *arg, long min, long max)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (end == arg || *end || n < min || n > max) {
        ctl_fatal(2, "--%s=%s: expected a number from %ld to %ld", option,
                  arg, min, max);
    }
    return n;
}

static void
parse_registers(struct np_config *config, const char *arg)
{
    int e, i;
    char extra;
    if (sscanf(arg, "%d,%d%c", &e, &i, &extra) != 2
        || e < 0 || e > 15 || i < 0 || i > 15 || e == i) {
        ctl_fatal(2, "--registers=%s: expected two different register "
                  "numbers 0...15, e.g. 8,9", arg);
    }
    config->egress_reg = e;
    config->ingress_reg = i;
}

enum {
    OPT_NODE = 256,
    OPT_OFPORT,
    OPT_MAC,
    OPT_UPLINK,
    OPT_FIRST_TABLE,
    OPT_NEXT_TABLE,
    OPT_CT_ZONE,
    OPT_REGISTERS,
    OPT_STRICT,
    OPT_FROM,
    OPT_TO,
    OPT_PORT,
    OPT_FAMILY,
    OPT_CONTROL,
    OPT_TIMEOUT,
    OPT_FORMAT,
    OPT_AUDIT,
    OPT_AUDIT_METER,
    OPT_BRIDGE,
    OPT_OPENFLOW,
    OPT_LIVE,
    OPT_VSWITCHD,
};

static void
parse_options(int argc, char *argv[], struct ctl_options *opts)
{
    static const struct option long_options[] = {
        { "file", required_argument, NULL, 'f' },
        { "node", required_argument, NULL, OPT_NODE },
        { "ofport", required_argument, NULL, OPT_OFPORT },
        { "mac", required_argument, NULL, OPT_MAC },
        { "uplink", required_argument, NULL, OPT_UPLINK },
        { "first-table", required_argument, NULL, OPT_FIRST_TABLE },
        { "next-table", required_argument, NULL, OPT_NEXT_TABLE },
        { "ct-zone", required_argument, NULL, OPT_CT_ZONE },
        { "registers", required_argument, NULL, OPT_REGISTERS },
        { "strict", no_argument, NULL, OPT_STRICT },
        { "from", required_argument, NULL, OPT_FROM },
        { "to", required_argument, NULL, OPT_TO },
        { "port", required_argument, NULL, OPT_PORT },
        { "family", required_argument, NULL, OPT_FAMILY },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "audit", no_argument, NULL, OPT_AUDIT },
        { "audit-meter", required_argument, NULL, OPT_AUDIT_METER },
        { "bridge", required_argument, NULL, OPT_BRIDGE },
        { "openflow", required_argument, NULL, OPT_OPENFLOW },
        { "live", no_argument, NULL, OPT_LIVE },
        { "vswitchd", required_argument, NULL, OPT_VSWITCHD },
        { "appctl-target", required_argument, NULL, OPT_VSWITCHD },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };

    for (;;) {
        int c = getopt_long(argc, argv, "+f:hV", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'f':
            opts->files = np_x2nrealloc(opts->files, &opts->allocated_files,
                                        opts->n_files + 1,
                                        sizeof *opts->files);
            opts->files[opts->n_files++] = optarg;
            break;
        case OPT_NODE:
            opts->node = optarg;
            break;
        case OPT_OFPORT:
            opts->ofports = np_x2nrealloc(opts->ofports,
                                          &opts->allocated_ofports,
                                          opts->n_ofports + 1,
                                          sizeof *opts->ofports);
            opts->ofports[opts->n_ofports++] = parse_pod_option("ofport",
                                                                optarg);
            break;
        case OPT_MAC:
            opts->macs = np_x2nrealloc(opts->macs, &opts->allocated_macs,
                                       opts->n_macs + 1, sizeof *opts->macs);
            opts->macs[opts->n_macs++] = parse_pod_option("mac", optarg);
            break;
        case OPT_UPLINK:
            opts->uplinks = np_x2nrealloc(opts->uplinks,
                                          &opts->allocated_uplinks,
                                          opts->n_uplinks + 1,
                                          sizeof *opts->uplinks);
            opts->uplinks[opts->n_uplinks++] = parse_number("uplink", optarg,
                                                            1, 0xfeff);
            break;
        case OPT_FIRST_TABLE:
            opts->config.first_table = parse_number("first-table", optarg,
                                                    0, 250);
            break;
        case OPT_NEXT_TABLE:
            opts->config.next_table = parse_number("next-table", optarg,
                                                   0, 254);
            break;
        case OPT_CT_ZONE:
            opts->config.ct_zone = parse_number("ct-zone", optarg, 0, 65535);
            break;
        case OPT_REGISTERS:
            parse_registers(&opts->config, optarg);
            break;
        case OPT_STRICT:
            opts->strict = true;
            break;
        case OPT_FROM:
            opts->from = optarg;
            break;
        case OPT_TO:
            opts->to = optarg;
            break;
        case OPT_PORT:
            opts->port = optarg;
            break;
        case OPT_FAMILY:
            opts->family = parse_number("family", optarg, 4, 6) == 4
                           ? AF_INET : AF_INET6;
            break;
        case OPT_CONTROL:
            opts->control = optarg;
            break;
        case OPT_TIMEOUT:
            opts->timeout = parse_number("timeout", optarg, 0, 86400);
            break;
        case OPT_AUDIT:
            opts->config.audit = true;
            break;
        case OPT_AUDIT_METER:
            opts->config.audit_meter = parse_number("audit-meter", optarg, 1,
                                                    0x7fffffff);
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
                ctl_fatal(2, "--format=%s: expected json or text", optarg);
            }
            opts->json = !strcmp(optarg, "json");
            break;
        case OPT_BRIDGE:
            opts->bridge = optarg;
            break;
        case OPT_OPENFLOW:
            opts->openflow = optarg;
            break;
        case OPT_LIVE:
            opts->live = true;
            break;
        case OPT_VSWITCHD:
            opts->vswitchd = optarg;
            break;
        case 'h':
            usage();
            exit(0);
        case 'V':
            printf("ovs-netpolctl (ovs-netpol) %s\n", PACKAGE_VERSION);
            exit(0);
        default:
            ctl_fatal(2, "try --help");
        }
    }
}

int
main(int argc, char *argv[])
{
    struct ctl_options opts;

    memset(&opts, 0, sizeof opts);
    np_config_init(&opts.config);
    if (argc < 2) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return 0;
    }

    const char *name = argv[1];
    const struct command *command = NULL;
    for (size_t i = 0; i < NP_ARRAY_SIZE(commands); i++) {
        if (!strcmp(commands[i].name, name)) {
            command = &commands[i];
        }
    }
    if (!command) {
        ctl_fatal(2, "unknown command '%s'; try --help", name);
    }

    parse_options(argc - 1, argv + 1, &opts);
    opts.args = &argv[optind + 1];
    opts.n_args = argc - 1 - optind;

    char *error = np_config_check(&opts.config);
    if (error) {
        ctl_fatal(2, "%s", error);
    }
    int status = command->run(&opts);
    ctl_options_destroy(&opts);
    return status;
}
