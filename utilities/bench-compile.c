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

/* bench-compile: times a cold start of the core in one process, for `make
 * bench` (utilities/ovs-netpol-bench.sh).  It is not installed.
 *
 *   bench-compile [--node NAME | --ports FILE] [--repeat N] [--flows FILE]
 *                 [--events N [--seed S]] MANIFEST...
 *
 * Parse: read each manifest file and turn it into cluster state
 * (manifest_parse() and cluster_set_object(), what the agent's manifest
 * source does).  Compile: compile_full() into an empty flow set with fresh
 * conjunction IDs, 'N' times (default 1), each from scratch; the figures
 * are the median and the fastest, in wall-clock time, and the median in
 * CPU time (which other processes on a busy machine hardly inflate).  Peak
 * RSS is getrusage()'s ru_maxrss, the high-water mark of the whole process
 * (parsed cluster included), also sampled after parsing so the compile's
 * own share shows.
 *
 * The local pods are those of --ports FILE, in the format of
 * `ovs-netpol-gencluster.py --emit-local-ports` ("NS/NAME OFPORT IPS MAC",
 * IPS comma-separated), i.e. the ports the agent learns from OVSDB, or else
 * the pods whose nodeName is --node, numbered from 1 in namespace/name
 * order as `ovs-netpolctl compile` does.  The host port is always there.
 *
 * Output: one line of KEY=VALUE words on stdout (times in milliseconds,
 * memory in KiB), problems on stderr.  --flows writes the flow set in
 * `ovs-ofctl add-flows` syntax.
 *
 * --events N then runs N events of each kind through the incremental
 * engine (bench-incremental.c), one more line per kind. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/cidr.h"
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/compiler.h"
#include "ovs-netpol/conj-ids.h"
#include "ovs-netpol/flow-set.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/pipeline.h"
#include "ovs-netpol/util.h"
#include "utilities/bench-incremental.h"

static void NP_PRINTF_FORMAT(1, 2)
fatal(const char *format, ...)
{
    va_list args;

    fputs("bench-compile: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static long
peak_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
}

/* CPU time of the process, in microseconds: unlike the wall clock, hardly
 * affected by other processes competing for the CPUs. */
static long long int
cpu_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long int) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *
read_whole_file(const char *path, size_t *sizep)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fatal("%s: %s", path, strerror(errno));
    }
    size_t size = 0, allocated = 1 << 20;
    char *buf = np_xmalloc(allocated);
    size_t n;
    while ((n = fread(buf + size, 1, allocated - size, f)) > 0) {
        size += n;
        if (size == allocated) {
            allocated *= 2;
            buf = np_xrealloc(buf, allocated);
        }
    }
    if (ferror(f)) {
        fatal("%s: read error", path);
    }
    fclose(f);
    *sizep = size;
    return buf;
}

static void
add_object(struct np_object *obj, void *cluster_)
{
    cluster_set_object(cluster_, obj);
    np_object_destroy(obj);
    free(obj);
}

static int
compare_pods(const void *a_, const void *b_)
{
    const struct np_pod *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->namespace, (*b)->namespace);
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static struct local_port *
pod_port(uint32_t ofport, const char *ns, const char *name)
{
    char *port_name = np_xasprintf("%s_%s", ns, name);
    struct local_port *port = local_port_create(ofport, port_name);
    free(port_name);
    port->pod_namespace = np_xstrdup(ns);
    port->pod_name = np_xstrdup(name);
    return port;
}

/* The pods of node 'node', as `ovs-netpolctl compile --node` numbers
 * them. */
static void
add_node_ports(struct cluster *cluster, const char *node)
{
    size_t n = hmap_count(&cluster->pods);
    const struct np_pod **pods = np_xmalloc((n + 1) * sizeof *pods);
    const struct np_pod *pod;
    size_t n_local = 0;

    HMAP_FOR_EACH (pod, node, &cluster->pods) {
        if (pod->node_name && !strcmp(pod->node_name, node)
            && !pod->host_network) {
            pods[n_local++] = pod;
        }
    }
    np_qsort(pods, n_local, sizeof *pods, compare_pods);
    for (size_t i = 0; i < n_local; i++) {
        cluster_set_port(cluster, pod_port(i + 1, pods[i]->namespace,
                                           pods[i]->name));
    }
    free(pods);
}

/* The pods of a --emit-local-ports file: "NS/NAME OFPORT IPS MAC". */
static void
add_file_ports(struct cluster *cluster, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fatal("%s: %s", path, strerror(errno));
    }
    char line[1024];
    int line_number = 0;
    while (fgets(line, sizeof line, f)) {
        char id[512], ips[256];
        unsigned int ofport, m[6];

        line_number++;
        if (sscanf(line, "%511s %u %255s %x:%x:%x:%x:%x:%x", id, &ofport,
                   ips, &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 9
            || !strchr(id, '/') || !ofport || ofport >= 0xff00) {
            fatal("%s:%d: expected \"NS/NAME OFPORT IPS MAC\"", path,
                  line_number);
        }
        char *slash = strchr(id, '/');
        *slash = '\0';
        struct local_port *port = pod_port(ofport, id, slash + 1);
        for (int i = 0; i < 6; i++) {
            port->mac[i] = m[i];
        }
        port->has_mac = true;
        char *save = NULL;
        for (char *ip = strtok_r(ips, ",", &save); ip;
             ip = strtok_r(NULL, ",", &save)) {
            port->ips = np_xrealloc(port->ips,
                                    (port->n_ips + 1) * sizeof *port->ips);
            if (!cidr_parse_address(ip, &port->ips[port->n_ips])) {
                fatal("%s:%d: %s: not an address", path, line_number, ip);
            }
            port->n_ips++;
        }
        cluster_set_port(cluster, port);
    }
    fclose(f);
}

static int
compare_llong(const void *a_, const void *b_)
{
    const long long int *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static void
usage(void)
{
    printf("bench-compile: time parsing and compiling manifests in one "
           "process\n"
           "usage: bench-compile [OPTIONS] MANIFEST...\n"
           "  --node NAME      local pods: those with nodeName NAME\n"
           "  --ports FILE     local pods: NS/NAME OFPORT IPS MAC lines\n"
           "  --repeat N       compile N times (default 1)\n"
           "  --flows FILE     write the flows (ovs-ofctl add-flows "
           "syntax)\n"
           "  --events N       then N events of each kind through the "
           "incremental engine\n"
           "  --seed S         which events (default 1)\n"
           "  --parse-threads N  threads for big manifests (default: one\n"
           "                   per CPU, as the agent)\n");
}

int
main(int argc, char *argv[])
{
    const char *node = NULL, *ports = NULL, *flows_file = NULL;
    int repeat = 1, events = 0;
    long parse_threads = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t seed = 1;
    static const struct option long_options[] = {
        {"node", required_argument, NULL, 'n'},
        {"ports", required_argument, NULL, 'p'},
        {"repeat", required_argument, NULL, 'r'},
        {"flows", required_argument, NULL, 'f'},
        {"events", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 's'},
        {"parse-threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = getopt_long(argc, argv, "h", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'n': node = optarg; break;
        case 'p': ports = optarg; break;
        case 'r': repeat = atoi(optarg); break;
        case 'f': flows_file = optarg; break;
        case 'e': events = atoi(optarg); break;
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 't': parse_threads = atoi(optarg); break;
        case 'h': usage(); return 0;
        default: return 2;
        }
    }
    if (optind >= argc || (!node == !ports) || repeat < 1) {
        fprintf(stderr, "bench-compile: need MANIFEST..., exactly one of "
                "--node and --ports, and --repeat >= 1 (try --help)\n");
        return 2;
    }

    /* Parse. */
    struct cluster cluster;
    struct np_problems problems;
    cluster_init(&cluster);
    np_problems_init(&problems);
    long long int t0 = np_time_usec();
    long long int c0 = cpu_usec();
    for (int i = optind; i < argc; i++) {
        size_t size;
        char *buf = read_whole_file(argv[i], &size);
        if (!manifest_parse_threads(buf, size, argv[i], add_object, &cluster,
                                    &problems, (int) parse_threads)) {
            fatal("%s: could not be parsed", argv[i]);
        }
        free(buf);
    }
    if (ports) {
        add_file_ports(&cluster, ports);
    } else {
        add_node_ports(&cluster, node);
    }
    cluster_set_port(&cluster, local_port_create(LOCAL_PORT_HOST, "host"));
    long long int parse_usec = np_time_usec() - t0;
    long long int parse_cpu_usec = cpu_usec() - c0;
    long rss_parse = peak_rss_kb();
    size_t parse_problems = problems.n;

    /* Compile, 'repeat' times from scratch. */
    struct np_config config;
    np_config_init(&config);
    long long int *usec = np_xmalloc(repeat * sizeof *usec);
    long long int *cpu = np_xmalloc(repeat * sizeof *cpu);
    struct compile_stats stats;
    struct flow_set flows;
    for (int i = 0; i < repeat; i++) {
        struct conj_ids ids;

        conj_ids_init(&ids);
        flow_set_init(&flows);
        np_problems_clear(&problems);
        t0 = np_time_usec();
        c0 = cpu_usec();
        compile_full(&cluster, &config, &ids, &flows, &problems, &stats);
        usec[i] = np_time_usec() - t0;
        cpu[i] = cpu_usec() - c0;
        conj_ids_destroy(&ids);
        if (i + 1 < repeat) {
            flow_set_destroy(&flows);
        }
    }
    long rss_peak = peak_rss_kb();
    for (size_t i = 0; i < problems.n && i < 5; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        np_problem_format(&problems.items[i], &s);
        fprintf(stderr, "bench-compile: %s\n", ds_cstr(&s));
        ds_destroy(&s);
    }

    if (flows_file) {
        FILE *f = fopen(flows_file, "w");
        if (!f) {
            fatal("%s: %s", flows_file, strerror(errno));
        }
        struct ds s = DS_EMPTY_INITIALIZER;
        flow_set_format(&flows, &s);
        fputs(ds_cstr(&s), f);
        ds_destroy(&s);
        if (fclose(f)) {
            fatal("%s: write error", flows_file);
        }
    }

    qsort(usec, repeat, sizeof *usec, compare_llong);
    qsort(cpu, repeat, sizeof *cpu, compare_llong);
    printf("parse_ms=%.1f parse_cpu_ms=%.1f compile_ms=%.1f "
           "compile_min_ms=%.1f compile_cpu_ms=%.1f repeat=%d "
           "flows=%zu conjunctions=%zu bands=%zu local_pods=%zu "
           "policies=%zu policies_local=%zu pods=%zu namespaces=%zu "
           "problems=%zu rss_parse_kb=%ld peak_rss_kb=%ld\n",
           parse_usec / 1e3, parse_cpu_usec / 1e3, usec[repeat / 2] / 1e3,
           usec[0] / 1e3, cpu[repeat / 2] / 1e3, repeat, stats.n_flows,
           stats.n_conjunctions, stats.n_bands,
           stats.n_local_pods, stats.n_policies, stats.n_policies_local,
           hmap_count(&cluster.pods), hmap_count(&cluster.namespaces),
           parse_problems + problems.n, rss_parse, rss_peak);

    free(cpu);
    free(usec);
    flow_set_destroy(&flows);

    int status = 0;
    if (events > 0) {
        fflush(stdout);
        status = bench_incremental(&cluster, &config, node, events, seed);
    }
    np_problems_destroy(&problems);
    cluster_destroy(&cluster);
    return status;
}
