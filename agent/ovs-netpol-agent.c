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

/* ovs-netpol-agent: the daemon.  This file is only the process: options,
 * logging, pidfile, detaching, signals and the event loop.  Everything the
 * agent does is in agent.c and the modules it drives. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openvswitch/poll-loop.h>
#include <openvswitch/util.h>
#include <openvswitch/vlog.h>
#include "agent.h"
#include "audit.h"
#include "k8s-config.h"
#include "metrics.h"
#include "ofctrl.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(main);

struct daemon_options {
    struct agent_options agent;
    char *pidfile;              /* NULL: no pidfile. */
    bool detach;
    size_t allocated_manifests;
    char *kubeconfig;           /* --kubeconfig, or NULL. */
    struct k8s_config k8s;      /* Kubernetes mode's configuration. */

    /* The strings 'agent' points to that we allocated. */
    char *control, *ovsdb, *openflow, *audit_log;
    bool audit_options;         /* An --audit-* option was given. */
};

static const char *
rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    return dir && *dir ? dir : "/var/run/openvswitch";
}

static void
usage(void)
{
    printf("ovs-netpol-agent: Kubernetes NetworkPolicy on an Open vSwitch "
           "bridge\n"
           "usage: ovs-netpol-agent [OPTIONS]\n\n"
           "Where:\n"
           "  --bridge=BR            the bridge (default br-int)\n"
           "  --ovsdb=unix:PATH      ovsdb-server (default "
           "unix:$OVS_RUNDIR/db.sock)\n"
           "  --openflow=unix:PATH   the bridge's OpenFlow socket (default\n"
           "                         unix:$OVS_RUNDIR/BR.mgmt)\n"
           "  --control=PATH         control socket for ovs-netpolctl "
           "(default\n"
           "                         $OVS_RUNDIR/ovs-netpol.ctl)\n"
           "  --metrics=[ADDR:]PORT  serve Prometheus /metrics and /healthz "
           "over HTTP\n"
           "                         (ADDR default 127.0.0.1)\n"
           "\nPolicy source (exactly one):\n"
           "  --manifests=PATH       read objects from a file or directory "
           "(repeatable),\n"
           "                         reloaded when it changes\n"
           "  --kubeconfig=FILE      list and watch the Kubernetes API "
           "server of FILE's\n"
           "                         current-context; without either "
           "option, in a pod\n"
           "                         (KUBERNETES_SERVICE_HOST set), the "
           "service account's\n"
           "                         in-cluster configuration\n"
           "  --node-name=NAME       this node (default $NODE_NAME); pods "
           "on OVS ports that\n"
           "                         the API server places elsewhere are "
           "reported\n"
           "  --k8s-stall-timeout=S  restart a watch silent for S seconds "
           "(default %d,\n"
           "                         twice the API server's bookmark "
           "interval)\n"
           "\nPipeline:\n"
           "  --first-table=N        first of our 5 tables (default 0)\n"
           "  --next-table=N         allowed traffic goes to table N "
           "(default NORMAL)\n"
           "  --ct-zone=N            conntrack zone (default %d)\n"
           "  --registers=E,I        registers for rule IDs (default %d,%d)\n"
           "  --flow-check=S         every S seconds, count our flows in "
           "the switch and\n"
           "                         read them back if someone changed "
           "them (default %d;\n"
           "                         0: never)\n"
           "\nAudit log (README, \"Audit log\"):\n"
           "  --audit                log denied new connections (and those "
           "allowed in\n"
           "                         namespaces annotated "
           "ovs-netpol.io/log-allowed)\n"
           "  --audit-log=FILE       write audit lines to FILE (default: "
           "the agent's\n"
           "                         log, vlog module \"audit\"); "
           "reopened on SIGHUP\n"
           "  --audit-rate=PPS       at most PPS packets/s to the agent, "
           "burst PPS\n"
           "                         (default %d)\n"
           "  --audit-meter=ID       the OpenFlow meter doing that "
           "(default %d)\n"
           "  --audit-dedup=MSEC     one line for identical events within "
           "MSEC\n"
           "                         (default %d; 0: a line per event)\n"
           "\nDaemon:\n"
           "  --pidfile[=FILE]       write a pidfile (default "
           "$OVS_RUNDIR/ovs-netpol-agent.pid)\n"
           "  --detach               run in the background\n"
           "  --log-file[=FILE]      log to FILE (default "
           "$OVS_LOGDIR/ovs-netpol-agent.log)\n"
           "  -v, --verbose[=SPEC]   log levels, as in Open vSwitch's "
           "daemons\n"
           "  -h, --help, -V, --version\n\n"
           "OVS_RUNDIR defaults to /var/run/openvswitch.  SIGTERM stops the "
           "agent\nand leaves its flows in place (pods stay protected); "
           "SIGHUP reopens\nthe log files.\n",
           K8S_DEFAULT_STALL_TIMEOUT_MS / 1000,
           NP_CONFIG_DEFAULT_CT_ZONE, NP_CONFIG_DEFAULT_EGRESS_REG,
           NP_CONFIG_DEFAULT_INGRESS_REG, OFCTRL_DEFAULT_FLOW_CHECK,
           AUDIT_DEFAULT_RATE,
           NP_CONFIG_DEFAULT_AUDIT_METER, AUDIT_DEFAULT_DEDUP_MSEC);
}

static void __attribute__((__noreturn__, __format__(__printf__, 1, 2)))
fatal(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("ovs-netpol-agent: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(EXIT_FAILURE);
}

static long
parse_number(const char *option, const char *arg, long min, long max)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (end == arg || *end || n < min || n > max) {
        fatal("--%s=%s: expected a number from %ld to %ld", option, arg,
              min, max);
    }
    return n;
}

/* Rejects a malformed --metrics at once (binding comes later). */
static void
check_metrics_target(const char *target)
{
    char *host, *port;
    char *error = metrics_parse_target(target, &host, &port);
    if (error) {
        fatal("--metrics=%s", error);
    }
    free(host);
    free(port);
}

/* 'path' made absolute (the agent may --detach to /), without resolving
 * symbolic links. */
static char *
absolute_path_as_given(const char *path)
{
    if (path[0] == '/') {
        return np_xstrdup(path);
    }
    char cwd[4096];
    return np_xasprintf("%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", path);
}

/* 'path' made absolute, with symbolic links resolved when it exists. */
static char *
absolute_path(const char *path)
{
    char *resolved = realpath(path, NULL);
    return resolved ? resolved : absolute_path_as_given(path);
}

enum {
    OPT_BRIDGE = UCHAR_MAX + 1,
    OPT_OVSDB,
    OPT_OPENFLOW,
    OPT_CONTROL,
    OPT_METRICS,
    OPT_MANIFESTS,
    OPT_KUBECONFIG,
    OPT_NODE_NAME,
    OPT_K8S_STALL_TIMEOUT,
    OPT_FIRST_TABLE,
    OPT_NEXT_TABLE,
    OPT_CT_ZONE,
    OPT_REGISTERS,
    OPT_AUDIT,
    OPT_AUDIT_LOG,
    OPT_AUDIT_RATE,
    OPT_AUDIT_METER,
    OPT_AUDIT_DEDUP,
    OPT_FLOW_CHECK,
    OPT_PIDFILE,
    OPT_DETACH,
    VLOG_OPTION_ENUMS,
};

static void
parse_options(int argc, char *argv[], struct daemon_options *d)
{
    static const struct option long_options[] = {
        { "bridge", required_argument, NULL, OPT_BRIDGE },
        { "ovsdb", required_argument, NULL, OPT_OVSDB },
        { "openflow", required_argument, NULL, OPT_OPENFLOW },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "metrics", required_argument, NULL, OPT_METRICS },
        { "manifests", required_argument, NULL, OPT_MANIFESTS },
        { "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
        { "node-name", required_argument, NULL, OPT_NODE_NAME },
        { "k8s-stall-timeout", required_argument, NULL,
          OPT_K8S_STALL_TIMEOUT },
        { "first-table", required_argument, NULL, OPT_FIRST_TABLE },
        { "next-table", required_argument, NULL, OPT_NEXT_TABLE },
        { "ct-zone", required_argument, NULL, OPT_CT_ZONE },
        { "registers", required_argument, NULL, OPT_REGISTERS },
        { "audit", no_argument, NULL, OPT_AUDIT },
        { "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
        { "audit-rate", required_argument, NULL, OPT_AUDIT_RATE },
        { "audit-meter", required_argument, NULL, OPT_AUDIT_METER },
        { "audit-dedup", required_argument, NULL, OPT_AUDIT_DEDUP },
        { "flow-check", required_argument, NULL, OPT_FLOW_CHECK },
        { "pidfile", optional_argument, NULL, OPT_PIDFILE },
        { "detach", no_argument, NULL, OPT_DETACH },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        VLOG_LONG_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct agent_options *a = &d->agent;
    int e, i;
    char extra;

    for (;;) {
        int c = getopt_long(argc, argv, "hVv::", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_BRIDGE:
            a->bridge = optarg;
            break;
        case OPT_OVSDB:
            a->ovsdb = optarg;
            break;
        case OPT_OPENFLOW:
            a->openflow = optarg;
            break;
        case OPT_CONTROL:
            free(d->control);
            /* Not resolved: a symbolic link there must be refused, not
             * followed to someone else's socket. */
            a->control = d->control = absolute_path_as_given(optarg);
            break;
        case OPT_MANIFESTS:
            a->manifests = np_x2nrealloc(a->manifests,
                                         &d->allocated_manifests,
                                         a->n_manifests + 1,
                                         sizeof *a->manifests);
            a->manifests[a->n_manifests++] = absolute_path(optarg);
            break;
        case OPT_KUBECONFIG:
            free(d->kubeconfig);
            d->kubeconfig = absolute_path(optarg);
            break;
        case OPT_NODE_NAME:
            a->node_name = optarg;
            break;
        case OPT_METRICS:
            check_metrics_target(optarg);
            a->metrics = optarg;
            break;
        case OPT_K8S_STALL_TIMEOUT:
            d->k8s.stall_timeout_ms = parse_number("k8s-stall-timeout",
                                                   optarg, 1, 86400) * 1000;
            break;
        case OPT_FIRST_TABLE:
            a->config.first_table = parse_number("first-table", optarg, 0,
                                                 250);
            break;
        case OPT_NEXT_TABLE:
            a->config.next_table = parse_number("next-table", optarg, 0,
                                                254);
            break;
        case OPT_CT_ZONE:
            a->config.ct_zone = parse_number("ct-zone", optarg, 0, 65535);
            break;
        case OPT_REGISTERS:
            if (sscanf(optarg, "%d,%d%c", &e, &i, &extra) != 2
                || e < 0 || e > 15 || i < 0 || i > 15 || e == i) {
                fatal("--registers=%s: expected two different register "
                      "numbers 0...15, e.g. 8,9", optarg);
            }
            a->config.egress_reg = e;
            a->config.ingress_reg = i;
            break;
        case OPT_AUDIT:
            a->config.audit = true;
            break;
        case OPT_AUDIT_LOG:
            free(d->audit_log);
            a->audit_log = d->audit_log = absolute_path(optarg);
            d->audit_options = true;
            break;
        case OPT_AUDIT_RATE:
            a->audit_rate = parse_number("audit-rate", optarg, 1, 1000000);
            d->audit_options = true;
            break;
        case OPT_AUDIT_METER:
            /* OFPM13_MAX: above are the switch's virtual meters. */
            a->config.audit_meter = parse_number("audit-meter", optarg, 1,
                                                 0xffff0000);
            d->audit_options = true;
            break;
        case OPT_FLOW_CHECK:
            a->flow_check_sec = parse_number("flow-check", optarg, 0, 3600);
            break;
        case OPT_AUDIT_DEDUP:
            a->audit_dedup_msec = parse_number("audit-dedup", optarg, 0,
                                               3600000);
            d->audit_options = true;
            break;
        case OPT_PIDFILE:
            free(d->pidfile);
            d->pidfile = optarg ? absolute_path(optarg)
                                : np_xasprintf("%s/ovs-netpol-agent.pid",
                                               rundir());
            break;
        case OPT_DETACH:
            d->detach = true;
            break;
        case 'h':
            usage();
            exit(EXIT_SUCCESS);
        case 'V':
            printf("ovs-netpol-agent (ovs-netpol) %s\n", PACKAGE_VERSION);
            exit(EXIT_SUCCESS);
        VLOG_OPTION_HANDLERS
        default:
            fatal("try --help");
        }
    }
    if (optind < argc) {
        fatal("unexpected argument '%s'; try --help", argv[optind]);
    }
}

/* Chooses the policy source: --manifests, --kubeconfig, or in a pod the
 * in-cluster configuration; exactly one. */
static void
set_source(struct daemon_options *d)
{
    struct agent_options *a = &d->agent;
    char *error = NULL;

    if (!a->node_name) {
        const char *env = getenv("NODE_NAME");
        a->node_name = env && *env ? env : NULL;
    }
    if (d->kubeconfig && a->n_manifests) {
        fatal("--manifests and --kubeconfig are exclusive: give one "
              "policy source");
    } else if (d->kubeconfig) {
        error = k8s_config_from_kubeconfig(&d->k8s, d->kubeconfig);
        free(d->kubeconfig);
        d->kubeconfig = NULL;
    } else if (a->n_manifests) {
        return;
    } else if (k8s_config_in_cluster_available()) {
        error = k8s_config_in_cluster(&d->k8s);
    } else {
        fatal("no policy source: give --manifests=PATH or "
              "--kubeconfig=FILE (or run in a pod, for the in-cluster "
              "configuration)");
    }
    if (error) {
        fatal("%s", error);
    }
    d->k8s.node_name = a->node_name ? np_xstrdup(a->node_name) : NULL;
    a->k8s = &d->k8s;
}

static void
daemon_options_destroy(struct daemon_options *d)
{
    for (size_t i = 0; i < d->agent.n_manifests; i++) {
        free(d->agent.manifests[i]);
    }
    free(d->agent.manifests);
    free(d->pidfile);
    free(d->kubeconfig);
    free(d->control);
    free(d->ovsdb);
    free(d->openflow);
    free(d->audit_log);
}

static void
set_defaults(struct daemon_options *d)
{
    struct agent_options *a = &d->agent;

    if (!a->bridge) {
        a->bridge = "br-int";
    }
    if (!a->ovsdb) {
        a->ovsdb = d->ovsdb = np_xasprintf("unix:%s/db.sock", rundir());
    }
    if (!a->openflow) {
        a->openflow = d->openflow = np_xasprintf("unix:%s/%s.mgmt", rundir(),
                                                 a->bridge);
    }
    if (!a->control) {
        a->control = d->control = np_xasprintf("%s/ovs-netpol.ctl",
                                               rundir());
    }
    if (d->audit_options && !a->config.audit) {
        fatal("--audit-log, --audit-rate, --audit-meter and --audit-dedup "
              "need --audit");
    }
    char *error = np_config_check(&a->config);
    if (error) {
        fatal("%s", error);
    }
}

/* Pidfile.
 *
 * Locked with fcntl() for the life of the process, as Open vSwitch's
 * daemons do: the lock, not the pid written in the file, says whether an
 * agent runs, so a stale file (a killed agent, a reused pid) never blocks a
 * start, and two agents can never share a pidfile. */

static int pidfile_fd = -1;

static void
write_pidfile(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fatal("%s: cannot open pidfile (%s)", path, strerror(errno));
    }
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_SETLK, &lock) < 0) {
        if (errno == EACCES || errno == EAGAIN) {
            struct flock holder = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
            if (!fcntl(fd, F_GETLK, &holder) && holder.l_type != F_UNLCK) {
                fatal("%s: already running as pid %ld", path,
                      (long) holder.l_pid);
            }
            fatal("%s: already running", path);
        }
        fatal("%s: cannot lock pidfile (%s)", path, strerror(errno));
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long) getpid());
    if (ftruncate(fd, 0) || write(fd, text, len) != len) {
        fatal("%s: cannot write pidfile (%s)", path, strerror(errno));
    }
    pidfile_fd = fd;
}

static void
remove_pidfile(const char *path)
{
    if (pidfile_fd >= 0) {
        unlink(path);
        close(pidfile_fd);
        pidfile_fd = -1;
    }
}

/* Detaching: the parent waits until the child has started the agent (or
 * failed to), so that `ovs-netpol-agent --detach && ovs-netpolctl status`
 * works. */
static int
detach_start(void)
{
    int fds[2];
    if (pipe(fds)) {
        fatal("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        fatal("fork: %s", strerror(errno));
    } else if (pid > 0) {
        char status = 1;
        close(fds[1]);
        if (read(fds[0], &status, 1) != 1) {
            status = 1;
        }
        _exit(status);
    }
    close(fds[0]);
    setsid();
    return fds[1];
}

static void
detach_finish(int fd, bool ok)
{
    char status = ok ? 0 : 1;
    if (write(fd, &status, 1) != 1) {
        /* The parent is gone; nothing to tell. */
    }
    close(fd);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            close(null);
        }
    }
}

/* libopenvswitch sets up its fatal-signal pipe the first time a thread
 * polls, without a lock: it relies on its own thread creation to refuse a
 * second thread before then, and ours (pthread_create()) does not.  The
 * OpenFlow worker and the audit receiver polling for the first time at
 * once could poll fd 0 and abort ("assertion !fd != !wevent failed", seen
 * once in CI).  One empty poll here, before any thread exists, does the
 * set-up once.  The signal handlers it installs are replaced by the event
 * loop's, as they were when a worker thread got there first. */
static void
init_libopenvswitch_polling(void)
{
    poll_immediate_wake();
    poll_block();
}

/* libopenvswitch's "timeval" module warns when a thread goes over a second
 * between two of its poll loops ("Unreasonably long poll interval", with a
 * dump of coverage counters).  Our OpenFlow worker thread waits on a
 * condition variable between jobs, which it counts as one long interval:
 * the warning would fire every second and mean nothing.  -v can still turn
 * it back on. */
static void
quiet_libopenvswitch_timing(void)
{
    static const char *const modules[] = { "timeval", "coverage" };
    for (size_t i = 0; i < NP_ARRAY_SIZE(modules); i++) {
        struct vlog_module *module = vlog_module_from_name(modules[i]);
        if (module) {
            vlog_set_levels(module, VLF_ANY_DESTINATION, VLL_ERR);
        }
    }
}

/* Signals. */

static void
exit_signal_cb(evutil_socket_t sig, short events, void *base)
{
    VLOG_INFO("%s: exiting, leaving the flows in place",
              strsignal(sig));
    event_base_loopexit(base, NULL);
}

static void
hup_signal_cb(evutil_socket_t sig, short events, void *agent)
{
    vlog_reopen_log_file();
    agent_reopen_logs(agent);
    VLOG_INFO("SIGHUP: log file reopened");
}

int
main(int argc, char *argv[])
{
    struct daemon_options d;

    memset(&d, 0, sizeof d);
    ovs_set_program_name(argv[0], PACKAGE_VERSION);
    quiet_libopenvswitch_timing();
    np_config_init(&d.agent.config);
    d.agent.audit_rate = AUDIT_DEFAULT_RATE;
    d.agent.audit_dedup_msec = AUDIT_DEFAULT_DEDUP_MSEC;
    d.agent.flow_check_sec = OFCTRL_DEFAULT_FLOW_CHECK;
    k8s_config_init(&d.k8s);
    parse_options(argc, argv, &d);
    set_source(&d);
    set_defaults(&d);
    signal(SIGPIPE, SIG_IGN);

    int detach_fd = d.detach ? detach_start() : -1;
    if (d.pidfile) {
        write_pidfile(d.pidfile);
    }

    init_libopenvswitch_polling();
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    struct agent *agent = agent_create(base, &d.agent);
    if (detach_fd >= 0) {
        detach_finish(detach_fd, agent != NULL);
    }
    if (!agent) {
        if (d.pidfile) {
            remove_pidfile(d.pidfile);
        }
        k8s_config_destroy(&d.k8s);
        event_base_free(base);
        daemon_options_destroy(&d);
        return EXIT_FAILURE;
    }
    VLOG_INFO("ovs-netpol-agent %s started: bridge %s, control %s",
              PACKAGE_VERSION, d.agent.bridge, d.agent.control);

    struct event *sigs[] = {
        evsignal_new(base, SIGTERM, exit_signal_cb, base),
        evsignal_new(base, SIGINT, exit_signal_cb, base),
        evsignal_new(base, SIGHUP, hup_signal_cb, agent),
    };
    for (size_t i = 0; i < NP_ARRAY_SIZE(sigs); i++) {
        event_add(sigs[i], NULL);
    }

    event_base_dispatch(base);

    for (size_t i = 0; i < NP_ARRAY_SIZE(sigs); i++) {
        event_free(sigs[i]);
    }
    agent_destroy(agent);
    k8s_config_destroy(&d.k8s);
    event_base_free(base);
    if (d.pidfile) {
        remove_pidfile(d.pidfile);
    }
    daemon_options_destroy(&d);
    return EXIT_SUCCESS;
}
