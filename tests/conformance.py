#!/usr/bin/python3
"""tests/conformance.py: the upstream Kubernetes network-policy conformance
cases, run against a live ovs-netpol-agent with real packets.

    conformance.py [--case SUBSTR]... [--family 4|6] [--keep] [--jobs N]
                   [--timeout S] [--evidence DIR] [--srcdir DIR]
                   [--builddir DIR] [--corpus DIR]

What it does.  One sandbox (utilities/ovs-netpol-sandbox.sh: a private
ovsdb-server and ovs-vswitchd with the userspace datapath) in a fresh
temporary directory, shared by every case and both address families:

  - nine pods x/a .. z/c, each dual-stack (x/a is 10.0.1.1 and fd01::1,
    y/b is 10.0.2.2 and fd02::2, ...), every IPv4 address inside 0.0.0.0/4
    and every IPv6 address inside f000::/4, so the corpus's
    {{netCIDR ns/pod 4}} template covers all pods in either family;
  - each pod runs the sandbox's TCP+UDP responder on ports 80 and 81;
  - one ovs-netpol-agent in manifests mode on a directory this script
    writes: the model's namespaces and pods (labels, container ports with
    their names, spec.nodeName of this node, status.podIPs) and the
    policies of the current step.

For every case (the files of the corpus's cases/upstream, in order) and
family: reset (no policies, the model's labels, conntrack flushed: fresh
pods have no connections), wait-sync; then each step as written (delete,
apply = create or replace, relabel), wait-sync, and probe every non-null
cell of each expected table.  TCP and UDP cells are real connections
(`ovs-netpol-sandbox.sh probe`), a table's cells in parallel; a cell that
should connect but did not is probed once more with a longer timeout, to
rule out a lost packet.  A cell that connected although it should not
have is a leak, which loss cannot cause: it fails whatever happens next,
and is probed once more only to tell the report whether it leaks again.
Before the cases of a family, a baseline without policies checks that all
TCP and UDP connections work (and warms up ARP/ND and MAC learning; a
failure is reported, not fatal).  SCTP cells go
through `ovs-appctl ofproto/trace` of a new connection (--ct-next trk,new):
allowed if the final datapath actions output to the destination pod's
datapath port.  The runner never sleeps to wait for the agent; it asks
`ovs-netpolctl wait-sync`.

Output: one line per case and family ("PASS 014-ports (v4: 1 table, 72
cells, 1.2 s)", or FAIL with one line per wrong cell: "case step N
PORT/PROTO from->to: expected X got Y"), then "conformance v4: 48/48 cases
passed" and the same for v6, and the elapsed time.  With --evidence DIR
(default SANDBOX/evidence with --keep), every failed table leaves its
manifests, the agent's status, OpenFlow and datapath flows, conntrack,
neighbour tables, logs, `ovs-netpolctl explain` and `ofproto/trace` of
each wrong cell under DIR.

Exit status: 0 every selected case passed on every selected family; 1 some
failed; 77 skipped (not root, no network namespaces, a program missing);
99 the runner itself could not work (sandbox, agent, corpus).

The sandbox and the agent are stopped on every exit path (normal end,
exception, SIGINT/SIGTERM/SIGHUP) unless --keep, which leaves both running
and prints how to clean up.  Python 3 standard library only.
"""

import argparse
import concurrent.futures
import copy
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

NODE = "conformance-node"
BRIDGE = "br-int"
NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
EXIT_SKIP = 77
EXIT_ERROR = 99

TEMPLATE_RE = re.compile(
    r"\{\{\s*(hostCIDR|netCIDR)\s+([A-Za-z0-9.-]+/[A-Za-z0-9.-]+)"
    r"(?:\s+(\d+))?\s*\}\}")


class RunnerError(Exception):
    """The runner cannot go on (not a conformance failure)."""


class Skip(Exception):
    """The environment cannot run these tests."""


class Interrupted(Exception):
    """A signal asked us to stop."""


def log(msg=""):
    print(msg, flush=True)


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


# --- pods and addresses ------------------------------------------------

def pod_addresses(ns, pod):
    """IPv4 and IPv6 address of pod NS/POD: x=1 y=2 z=3, a=1 b=2 c=3."""
    n = NAMESPACES.index(ns) + 1
    p = PODS.index(pod) + 1
    return {4: "10.0.%d.%d" % (n, p), 6: "fd0%d::%d" % (n, p)}


def all_pods():
    return ["%s/%s" % (ns, pod) for ns in NAMESPACES for pod in PODS]


# --- the environment ---------------------------------------------------

class Paths:
    def __init__(self, args):
        here = os.path.dirname(os.path.abspath(__file__))
        self.srcdir = os.path.abspath(args.srcdir or os.path.join(here, ".."))
        builddir = args.builddir or os.environ.get("top_builddir")
        if not builddir:
            builddir = os.path.join(self.srcdir, "_build")
        self.builddir = os.path.abspath(builddir)
        corpus = (args.corpus or os.environ.get("OVS_NETPOL_CONFORMANCE")
                  or os.path.join(self.srcdir, "tests", "netpol-e2e"))
        self.corpus = os.path.abspath(corpus)
        self.sandbox = os.path.join(self.srcdir, "utilities",
                                    "ovs-netpol-sandbox.sh")
        self.agent = os.path.join(self.builddir, "agent", "ovs-netpol-agent")
        self.ctl = os.path.join(self.builddir, "utilities", "ovs-netpolctl")

    def check(self):
        if os.geteuid() != 0:
            raise Skip("not root")
        for prog in ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd",
                     "ovs-vsctl", "ovs-ofctl", "ovs-appctl", "ip", "nsenter",
                     "ethtool", "timeout"):
            if not shutil.which(prog):
                raise Skip("%s not installed" % prog)
        for path in (self.agent, self.ctl):
            if not os.access(path, os.X_OK):
                raise Skip("%s not built" % path)
        if not os.access(self.sandbox, os.X_OK):
            raise Skip("%s missing" % self.sandbox)
        if not os.path.isdir(os.path.join(self.corpus, "cases", "upstream")):
            raise Skip("no conformance corpus at %s" % self.corpus)
        if subprocess.run(["unshare", "--net", "true"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode:
            raise Skip("cannot create network namespaces")


def load_cases(paths, filters):
    d = os.path.join(paths.corpus, "cases", "upstream")
    cases = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        slug = name[:-5]
        if filters and not any(f in slug for f in filters):
            continue
        with open(os.path.join(d, name)) as f:
            case = json.load(f)
        case["_slug"] = slug
        cases.append(case)
    return cases


def load_model(paths, name):
    path = os.path.join(paths.corpus, "models", name + ".json")
    with open(path) as f:
        model = json.load(f)
    got = sorted("%s/%s" % (p["namespace"], p["name"]) for p in model["pods"])
    if got != sorted(all_pods()):
        raise RunnerError("model %s: pods %s, expected x,y,z x a,b,c"
                          % (name, got))
    return model


# --- the sandbox, the agent and the tools ------------------------------

class Sandbox:
    def __init__(self, paths, directory):
        self.paths = paths
        self.dir = directory
        self.env = None
        self.agent_pid = None
        self.manifests = os.path.join(directory, "manifests")
        self.control = os.path.join(directory, "run", "ovs-netpol.ctl")
        self.pidfile = os.path.join(directory, "run", "ovs-netpol-agent.pid")
        self.agent_log = os.path.join(directory, "log", "ovs-netpol-agent.log")
        self.pods = {}          # "ns/pod" -> {"mac", "ofport", "odp", 4, 6}
        self.written = {}       # manifest file name -> its last content
        self.dp = "netdev@ovs-netdev"

    # Commands.

    def sb(self, *args, check=True, timeout=60):
        p = subprocess.run([self.paths.sandbox] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True,
                           timeout=timeout)
        if check and p.returncode:
            raise RunnerError("ovs-netpol-sandbox.sh %s: exit %d: %s"
                              % (" ".join(args), p.returncode,
                                 p.stderr.strip()))
        return p

    def tool(self, argv, check=True, timeout=60):
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           text=True, env=self.env, timeout=timeout)
        if check and p.returncode:
            raise RunnerError("%s: exit %d: %s"
                              % (" ".join(argv), p.returncode,
                                 (p.stderr or p.stdout).strip()))
        return p

    def ctl(self, *args, check=True, timeout=60):
        return self.tool([self.paths.ctl, args[0], "--control=" + self.control]
                         + list(args[1:]), check=check, timeout=timeout)

    def appctl(self, *args, check=True):
        return self.tool(["ovs-appctl"] + list(args), check=check)

    def ofctl(self, *args, check=True):
        mgmt = "unix:%s/run/%s.mgmt" % (self.dir, BRIDGE)
        return self.tool(["ovs-ofctl", "-O", "OpenFlow15", args[0], mgmt]
                         + list(args[1:]), check=check)

    # Set-up.

    def start(self, model):
        self.sb("start", self.dir, "--bridge", BRIDGE)
        env = dict(os.environ)
        for line in self.sb("env", self.dir).stdout.splitlines():
            m = re.match(r"export (\w+)='(.*)'$", line)
            if m:
                env[m.group(1)] = m.group(2)
        self.env = env
        for key in all_pods():
            a = pod_addresses(*key.split("/"))
            self.sb("add-pod", self.dir, key, "--ip", a[4] + "/16",
                    "--ip", a[6] + "/16", "--serve", "80,81")
        self.read_ports()
        os.makedirs(self.manifests)

    def read_ports(self):
        # "x/a 1 10.0.1.1/16,fd01::1/16 02:..:.."
        for line in self.sb("pods", self.dir).stdout.splitlines():
            key, ofport, _, mac = line.split()
            a = pod_addresses(*key.split("/"))
            self.pods[key] = {"ofport": int(ofport), "mac": mac,
                              4: a[4], 6: a[6]}
        if sorted(self.pods) != sorted(all_pods()):
            raise RunnerError("sandbox pods: %s" % sorted(self.pods))
        # Datapath port numbers, for reading ofproto/trace's datapath
        # actions: "    vXXXX 1/2: (system)" is OpenFlow port 1, odp 2.
        odp = {}
        for line in self.appctl("dpif/show").stdout.splitlines():
            m = re.match(r"\s+\S+ (\d+)/(\d+):", line)
            if m:
                odp[int(m.group(1))] = int(m.group(2))
            m = re.match(r"(\S+@\S+):", line)
            if m:
                # dpctl/ commands name it (or enumerate every datapath).
                self.dp = m.group(1)
        for key, pod in self.pods.items():
            if pod["ofport"] not in odp:
                raise RunnerError("no datapath port for %s (ofport %d)"
                                  % (key, pod["ofport"]))
            pod["odp"] = odp[pod["ofport"]]

    def start_agent(self):
        with open(os.path.join(self.dir, "log", "agent.stderr"), "w") as err:
            p = subprocess.run(
                [self.paths.agent, "--bridge=" + BRIDGE,
                 "--manifests=" + self.manifests,
                 "--ovsdb=unix:%s/run/db.sock" % self.dir,
                 "--openflow=unix:%s/run/%s.mgmt" % (self.dir, BRIDGE),
                 "--control=" + self.control,
                 "--pidfile=" + self.pidfile,
                 "--log-file=" + self.agent_log, "--detach"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                env=self.env, timeout=60)
        if p.returncode:
            raise RunnerError("ovs-netpol-agent failed to start (exit %d); "
                              "see %s" % (p.returncode, self.agent_log))
        with open(self.pidfile) as f:
            self.agent_pid = int(f.read().strip())

    def agent_alive(self):
        pid = self.agent_pid
        if not pid:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except (OSError, IndexError):
            return False
        return state != "Z" and self.dir in cmdline

    def stop_agent(self):
        """Stops the agent we started, by its pid, and only it."""
        if not self.agent_pid:
            # Interrupted between starting it and reading its pidfile?
            try:
                with open(self.pidfile) as f:
                    self.agent_pid = int(f.read().strip())
            except (OSError, ValueError):
                return
        if not self.agent_alive():
            self.agent_pid = None
            return
        pid = self.agent_pid
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.agent_alive():
                time.sleep(0.05)
            if not self.agent_alive():
                break
        self.agent_pid = None

    def stop(self):
        self.stop_agent()
        self.sb("stop", self.dir, check=False, timeout=120)

    # Manifests.

    def write(self, name, obj):
        """Writes manifests/NAME atomically (a dot file, which the agent
        ignores, renamed into place), if its content changed."""
        text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
        if self.written.get(name) == text:
            return
        tmp = os.path.join(self.manifests, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(self.manifests, name))
        self.written[name] = text

    def wait_sync(self):
        p = self.ctl("wait-sync", "--timeout=30", check=False, timeout=60)
        if p.returncode:
            alive = self.agent_alive()
            raise RunnerError("wait-sync failed (exit %d%s): %s"
                              % (p.returncode,
                                 "" if alive else ", the agent is dead",
                                 (p.stderr or p.stdout).strip()))

    def agent_problems(self):
        """Problems the agent reports about the objects we gave it."""
        p = self.ctl("status", "--format=json", check=False)
        if p.returncode:
            return ["status failed: " + (p.stderr or p.stdout).strip()]
        try:
            st = json.loads(p.stdout)
        except ValueError:
            return ["status: not JSON"]
        out = []
        m = st.get("sources", {}).get("manifests", {})
        if m.get("file_errors") or m.get("object_errors"):
            out.append("manifests: %s file errors, %s invalid objects"
                       % (m.get("file_errors"), m.get("object_errors")))
        for prob in st.get("problems") or []:
            out.append(json.dumps(prob, sort_keys=True)
                       if not isinstance(prob, str) else prob)
        return out

    def flush_conntrack(self):
        # No datapath name: OVS 3.1 takes it for a tuple field here.
        self.appctl("dpctl/flush-conntrack")


# --- cluster state ---------------------------------------------------

class Cluster:
    """The objects the agent reads: the model's namespaces and pods with
    their current labels, and the current policies."""

    def __init__(self, model):
        self.model = model
        self.reset()

    def reset(self):
        self.ns_labels = {ns["name"]: dict(ns.get("labels") or {})
                          for ns in self.model["namespaces"]}
        self.pod_labels = {"%s/%s" % (p["namespace"], p["name"]):
                           dict(p.get("labels") or {})
                           for p in self.model["pods"]}
        self.policies = {}      # (ns, name) -> object

    def relabel(self, r):
        kind = r.get("kind")
        if kind == "Namespace":
            labels = self.ns_labels.get(r["name"])
        elif kind == "Pod":
            labels = self.pod_labels.get("%s/%s" % (r["namespace"],
                                                    r["name"]))
        else:
            raise RunnerError("relabel: unknown kind %r" % kind)
        if labels is None:
            raise RunnerError("relabel: no %s %s" % (kind, r))
        labels.update(r.get("addLabels") or {})
        for k in r.get("removeLabels") or []:
            labels.pop(k, None)

    def cluster_objects(self):
        items = []
        for ns in self.model["namespaces"]:
            items.append({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": ns["name"],
                                       "labels": self.ns_labels[ns["name"]]}})
        for p in self.model["pods"]:
            key = "%s/%s" % (p["namespace"], p["name"])
            a = pod_addresses(p["namespace"], p["name"])
            containers = []
            for c in p.get("containers") or []:
                containers.append({"name": c["name"], "image": "agnhost",
                                   "ports": copy.deepcopy(c.get("ports")
                                                          or [])})
            items.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": p["name"], "namespace": p["namespace"],
                             "labels": self.pod_labels[key]},
                "spec": {"nodeName": NODE, "containers": containers},
                "status": {"phase": "Running", "podIP": a[4],
                           "podIPs": [{"ip": a[4]}, {"ip": a[6]}]}})
        return {"apiVersion": "v1", "kind": "List", "items": items}

    def policy_objects(self):
        return {"apiVersion": "v1", "kind": "List",
                "items": [self.policies[k] for k in sorted(self.policies)]}


def fill_templates(obj, family):
    """Replaces {{hostCIDR ns/pod}} and {{netCIDR ns/pod LEN}} in every
    string of OBJ with the live addresses of FAMILY."""
    def one(m):
        ns, _, pod = m.group(2).partition("/")
        if ns not in NAMESPACES or pod not in PODS:
            raise RunnerError("template %s: unknown pod" % m.group(0))
        addr = pod_addresses(ns, pod)[family]
        if m.group(1) == "hostCIDR":
            if m.group(3):
                raise RunnerError("template %s: hostCIDR takes no length"
                                  % m.group(0))
            return "%s/%d" % (addr, 32 if family == 4 else 128)
        if not m.group(3):
            raise RunnerError("template %s: netCIDR needs a length"
                              % m.group(0))
        net = ipaddress.ip_network("%s/%s" % (addr, m.group(3)),
                                   strict=False)
        return str(net)

    if isinstance(obj, str):
        out = TEMPLATE_RE.sub(one, obj)
        if "{{" in out:
            raise RunnerError("unknown template in %r" % obj)
        return out
    if isinstance(obj, list):
        return [fill_templates(v, family) for v in obj]
    if isinstance(obj, dict):
        return {k: fill_templates(v, family) for k, v in obj.items()}
    return obj


# --- probes ------------------------------------------------------------

class Prober:
    def __init__(self, sandbox, pool, timeout):
        self.sb = sandbox
        self.pool = pool
        self.timeout = timeout

    def probe(self, src, dst, port, proto, family, timeout):
        """True if SRC's connection to DST's PORT/PROTO got a reply."""
        addr = self.sb.pods[dst][family]
        argv = [self.sb.paths.sandbox, "probe", self.sb.dir, src, addr,
                str(port), proto.lower(), "--timeout", str(timeout)]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=timeout + 30)
        if p.returncode == 0:
            return True
        if p.returncode == 1 and "ovs-netpol-sandbox" not in p.stderr:
            return False
        raise RunnerError("probe %s -> %s %s/%s: exit %d: %s"
                          % (src, dst, port, proto, p.returncode,
                             p.stderr.strip()))

    def trace_flow(self, src, dst, port, proto, family, sport=None):
        s, d = self.sb.pods[src], self.sb.pods[dst]
        sport = sport or random.randint(32768, 60999)
        p = proto.lower()
        if family == 4:
            fields = ["%s" % p, "nw_src=%s" % s[4], "nw_dst=%s" % d[4]]
        else:
            fields = ["%s6" % p, "ipv6_src=%s" % s[6], "ipv6_dst=%s" % d[6]]
        fields[1:1] = ["in_port=%d" % s["ofport"], "dl_src=" + s["mac"],
                       "dl_dst=" + d["mac"]]
        fields += ["nw_ttl=64", "%s_src=%d" % (p, sport),
                   "%s_dst=%d" % (p, port)]
        if p == "tcp":
            fields.append("tcp_flags=0x002")
        return ",".join(fields)

    def trace(self, src, dst, port, proto, family):
        """ofproto/trace of a new connection; returns the full output."""
        flow = self.trace_flow(src, dst, port, proto, family)
        return self.sb.appctl("ofproto/trace", BRIDGE, flow, "--ct-next",
                              "trk,new").stdout

    def trace_delivers(self, src, dst, port, proto, family):
        out = self.trace(src, dst, port, proto, family)
        return delivers(out, self.sb.pods[dst]["odp"])

    def run_table(self, cells, port, proto, family):
        """CELLS: [(src, dst, expected)].  Returns {(src, dst): (got,
        note)}: note is 1 (one probe), 2 (probed again after a failure) or
        a string about a leak's second probe."""
        if proto == "SCTP":
            fn = lambda s, d, t: self.trace_delivers(s, d, port, proto,
                                                     family)
        else:
            fn = lambda s, d, t: self.probe(s, d, port, proto, family, t)
        futs = {(s, d): self.pool.submit(fn, s, d, self.timeout)
                for s, d, _ in cells}
        result = {k: (f.result(), 1) for k, f in futs.items()}
        if proto == "SCTP":
            return result
        # A cell that should connect but did not: once more, with time for
        # a retransmission, to rule out a lost packet.
        retry = [(s, d) for s, d, exp in cells
                 if exp and not result[(s, d)][0]]
        futs = {(s, d): self.pool.submit(fn, s, d, 2 * self.timeout)
                for s, d in retry}
        # A cell that connected but should not have is a leak, whatever a
        # second probe says; probe it again only to tell a persistent leak
        # from a transient one in the report.
        leaks = [(s, d) for s, d, exp in cells
                 if not exp and result[(s, d)][0]]
        again = {(s, d): self.pool.submit(fn, s, d, self.timeout)
                 for s, d in leaks}
        for k, f in futs.items():
            result[k] = (f.result(), 2)
        for k, f in again.items():
            result[k] = (True, "leaked again" if f.result()
                         else "denied on a second probe")
        return result


def split_actions(s):
    """Splits datapath actions at the commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [a.strip() for a in out]


def delivers(trace_output, odp_port):
    """True if the last pass of an ofproto/trace (after every conntrack
    recirculation) outputs to datapath port ODP_PORT."""
    lines = [l for l in trace_output.splitlines()
             if l.startswith("Datapath actions:")]
    if not lines:
        raise RunnerError("ofproto/trace: no datapath actions:\n"
                          + trace_output)
    actions = split_actions(lines[-1].split(":", 1)[1].strip())
    for a in actions:
        if a.startswith("recirc("):
            raise RunnerError("ofproto/trace ends in a recirculation:\n"
                              + trace_output)
    return str(odp_port) in actions


# --- the run ---------------------------------------------------------

def table_cells(table):
    cells = []
    for src in sorted(table["allowed"]):
        for dst in sorted(table["allowed"][src]):
            exp = table["allowed"][src][dst]
            if exp is not None:
                cells.append((src, dst, bool(exp)))
    return cells


def verdict(b):
    return "allowed" if b else "denied"


class Runner:
    def __init__(self, args, paths, sandbox, prober, cluster):
        self.args = args
        self.paths = paths
        self.sb = sandbox
        self.prober = prober
        self.cluster = cluster
        self.where = "set-up"   # For error messages.

    def push(self):
        self.sb.write("cluster.json", self.cluster.cluster_objects())
        self.sb.write("policies.json", self.cluster.policy_objects())
        self.sb.wait_sync()

    def reset(self):
        self.cluster.reset()
        self.sb.write("cluster.json", self.cluster.cluster_objects())
        self.sb.write("policies.json", self.cluster.policy_objects())
        self.sb.wait_sync()
        self.sb.flush_conntrack()

    def baseline(self, family):
        """Without policies every pod reaches every other on both ports
        and protocols: checks the sandbox and primes ARP/ND and the
        switch's MAC learning.  Returns the cells that failed."""
        self.where = "v%d baseline" % family
        self.reset()
        bad = []
        for port in (80, 81):
            for proto in ("TCP", "UDP"):
                cells = [(s, d, True) for s in all_pods()
                         for d in all_pods() if s != d]
                res = self.prober.run_table(cells, port, proto, family)
                bad += ["%d/%s %s->%s" % (port, proto, s, d)
                        for (s, d), (got, _) in sorted(res.items())
                        if not got]
        return bad

    def run_case(self, case, family):
        """Returns (ok, n_tables, n_cells, detail lines)."""
        slug = case["_slug"]
        fam = "v%d" % family
        self.where = "%s %s reset" % (fam, slug)
        self.reset()
        n_tables = n_cells = n_wrong = 0
        details = []
        for i, step in enumerate(case["steps"], 1):
            self.where = "%s %s step %d" % (fam, slug, i)
            for d in step.get("delete") or []:
                self.cluster.policies.pop((d["namespace"], d["name"]), None)
            for obj in step.get("apply") or []:
                obj = fill_templates(obj, family)
                md = obj["metadata"]
                self.cluster.policies[(md.get("namespace", "default"),
                                       md["name"])] = obj
            for r in step.get("relabel") or []:
                self.cluster.relabel(r)
            self.push()
            problems = self.sb.agent_problems()
            for prob in problems:
                details.append("    [%s] %s step %d: agent reports: %s"
                               % (fam, slug, i, prob))
            for table in step["expect"]:
                port, proto = table["port"], table["protocol"]
                cells = table_cells(table)
                n_tables += 1
                n_cells += len(cells)
                res = self.prober.run_table(cells, port, proto, family)
                wrong = []
                for src, dst, exp in cells:
                    got, note = res[(src, dst)]
                    if got != exp:
                        n_wrong += 1
                        wrong.append((src, dst, exp, got))
                        if note == 2:
                            note = "probed twice"
                        details.append(
                            "    [%s] %s step %d %d/%s %s->%s: expected %s "
                            "got %s%s" % (fam, slug, i, port, proto, src,
                                          dst, verdict(exp), verdict(got),
                                          " (%s)" % note
                                          if isinstance(note, str) else ""))
                if wrong and self.args.evidence:
                    self.collect(case, i, family, port, proto, wrong)
        return n_wrong == 0, n_tables, n_cells, details

    def save_logs(self, name):
        """Copies the daemons' logs and the agent's status to
        EVIDENCE/NAME."""
        d = os.path.join(self.args.evidence, name)
        os.makedirs(d, exist_ok=True)
        for log_name in ("ovs-vswitchd.log", "ovsdb-server.log",
                         "ovs-netpol-agent.log", "agent.stderr"):
            try:
                shutil.copy(os.path.join(self.sb.dir, "log", log_name), d)
            except OSError:
                pass
        try:
            with open(os.path.join(d, "status.txt"), "w") as f:
                f.write(self.sb.ctl("status", check=False,
                                    timeout=10).stdout)
            with open(os.path.join(d, "dump-flows.txt"), "w") as f:
                f.write(self.sb.ofctl("dump-flows", "--names",
                                      check=False).stdout)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def collect(self, case, step, family, port, proto, wrong):
        """Saves what a developer needs to look into a failed table."""
        d = os.path.join(self.args.evidence, "v%d-%s-step%d-%d%s"
                         % (family, case["_slug"], step, port, proto))
        os.makedirs(d, exist_ok=True)

        def save(name, text):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)

        shutil.copytree(self.sb.manifests, os.path.join(d, "manifests"),
                        dirs_exist_ok=True)
        save("status.txt", self.sb.ctl("status", check=False).stdout)
        save("status.json", self.sb.ctl("status", "--format=json",
                                        check=False).stdout)
        save("dump-flows.txt", self.sb.ofctl("dump-flows", "--names",
                                             check=False).stdout)
        save("dpctl-dump-flows.txt", self.sb.appctl(
            "dpctl/dump-flows", "-m", self.sb.dp, check=False).stdout)
        # Whether the datapath's cached flows lag behind the OpenFlow
        # tables: the same dump after the revalidators finished a round.
        self.sb.appctl("revalidator/wait", check=False)
        save("dpctl-dump-flows-after-revalidator-wait.txt", self.sb.appctl(
            "dpctl/dump-flows", "-m", self.sb.dp, check=False).stdout)
        save("upcall-show.txt", self.sb.appctl("upcall/show",
                                               check=False).stdout)
        save("coverage-show.txt", self.sb.appctl("coverage/show",
                                                 check=False).stdout)
        for log_name in ("ovs-vswitchd.log", "ovs-netpol-agent.log"):
            try:
                shutil.copy(os.path.join(self.sb.dir, "log", log_name), d)
            except OSError:
                pass
        save("conntrack.txt", self.sb.appctl(
            "dpctl/dump-conntrack", self.sb.dp, check=False).stdout)
        neigh = []
        for src in sorted({w[0] for w in wrong}):
            p = self.sb.sb("exec", self.sb.dir, src, "ip", "-%d" % family,
                           "neigh", "show", check=False)
            neigh.append("== %s\n%s" % (src, p.stdout))
        save("neighbours.txt", "".join(neigh))
        save("pods.txt", "".join(
            "%s ofport=%d odp=%d mac=%s %s %s\n"
            % (k, p["ofport"], p["odp"], p["mac"], p[4], p[6])
            for k, p in sorted(self.sb.pods.items())))
        lines = []
        for src, dst, exp, got in wrong[:8]:
            lines.append("=== %s -> %s %d/%s: expected %s got %s\n"
                         % (src, dst, port, proto, verdict(exp),
                            verdict(got)))
            p = self.sb.tool([self.paths.ctl, "explain", "-f",
                              self.sb.manifests, "--node=" + NODE,
                              "--family=%d" % family, "--from=" + src,
                              "--to=" + dst, "--port=%d/%s" % (port, proto)],
                             check=False)
            lines.append("$ ovs-netpolctl explain ... (exit %d)\n%s%s\n"
                         % (p.returncode, p.stdout, p.stderr))
            flow = self.prober.trace_flow(src, dst, port, proto, family)
            p = self.sb.appctl("ofproto/trace", BRIDGE, flow, "--ct-next",
                               "trk,new", check=False)
            lines.append("$ ovs-appctl ofproto/trace %s %s --ct-next "
                         "trk,new\n%s%s\n" % (BRIDGE, flow, p.stdout,
                                              p.stderr))
        save("cells.txt", "".join(lines))


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run the upstream network-policy conformance cases "
                    "against a live ovs-netpol-agent with real packets.")
    ap.add_argument("--case", action="append", default=[],
                    help="only cases whose name contains SUBSTR "
                         "(repeatable)", metavar="SUBSTR")
    ap.add_argument("--family", choices=("4", "6", "both"), default="both",
                    help="address family (default: 4 then 6)")
    ap.add_argument("--keep", action="store_true",
                    help="leave the sandbox and the agent running at the "
                         "end, and print how to clean them up")
    ap.add_argument("--jobs", type=int, default=40,
                    help="probes in parallel (default 40)")
    ap.add_argument("--timeout", type=float, default=1.0,
                    help="probe timeout in seconds (default 1; a retry "
                         "gets twice that)")
    ap.add_argument("--evidence", metavar="DIR",
                    help="for every failed table, save manifests, status, "
                         "flows, explain and traces under DIR (default with "
                         "--keep: SANDBOX/evidence)")
    ap.add_argument("--srcdir", help="the source tree (default: this "
                                     "script's ..)")
    ap.add_argument("--builddir", help="the build tree (default: "
                                       "$top_builddir, else SRCDIR/_build)")
    ap.add_argument("--corpus", help="the conformance corpus (default: "
                                     "$OVS_NETPOL_CONFORMANCE, else "
                                     "SRCDIR/tests/netpol-e2e)")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0:
        ap.error("--jobs and --timeout must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    t0 = time.monotonic()
    paths = Paths(args)
    try:
        paths.check()
    except Skip as e:
        log("SKIP: %s" % e)
        return EXIT_SKIP

    cases = load_cases(paths, args.case)
    if not cases:
        log("conformance: no case matches %s" % args.case)
        return EXIT_ERROR
    models = {c["model"] for c in cases}
    if len(models) != 1:
        log("conformance: cases use several models: %s" % sorted(models))
        return EXIT_ERROR
    model = load_model(paths, models.pop())
    families = [4, 6] if args.family == "both" else [int(args.family)]

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    directory = tempfile.mkdtemp(prefix="onp-conformance.")
    sandbox = Sandbox(paths, directory)
    if args.keep and not args.evidence:
        args.evidence = os.path.join(directory, "evidence")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    rc = EXIT_ERROR
    results = {}
    runner = None
    try:
        sandbox.start(model)
        cluster = Cluster(model)
        sandbox.write("cluster.json", cluster.cluster_objects())
        sandbox.write("policies.json", cluster.policy_objects())
        sandbox.start_agent()
        sandbox.wait_sync()
        prober = Prober(sandbox, pool, args.timeout)
        runner = Runner(args, paths, sandbox, prober, cluster)
        log("conformance: sandbox %s, agent pid %d, %s, %s"
            % (directory, sandbox.agent_pid, plural(len(cases), "case"),
               " and ".join("IPv%d" % f for f in families)))
        for family in families:
            bad = runner.baseline(family)
            if bad:
                # Not fatal: the cases show what it breaks.
                log("WARNING v%d: without any policy, %d of 288 connections "
                    "fail: %s%s" % (family, len(bad), ", ".join(bad[:12]),
                                    ", ..." if len(bad) > 12 else ""))
                if args.evidence:
                    runner.save_logs("v%d-baseline" % family)
            passed = 0
            for case in cases:
                t = time.monotonic()
                ok, n_tables, n_cells, details = runner.run_case(case, family)
                results[(family, case["_slug"])] = ok
                passed += ok
                log("%s %s (v%d: %s, %s, %.1f s)"
                    % ("PASS" if ok else "FAIL", case["_slug"], family,
                       plural(n_tables, "table"), plural(n_cells, "cell"),
                       time.monotonic() - t))
                for line in details:
                    log(line)
        rc = 0 if all(results.values()) else 1
    except Interrupted as e:
        log("conformance: interrupted by %s" % e)
        rc = 130
    except Exception as e:     # RunnerError, a tool's timeout, a bug here.
        if not isinstance(e, (RunnerError, subprocess.TimeoutExpired,
                              OSError)):
            traceback.print_exc(file=sys.stdout)
        log("conformance: ERROR%s: %s"
            % (" in " + runner.where if runner else "", e))
        if runner and args.evidence:
            runner.save_logs("error")
        rc = EXIT_ERROR
    finally:
        # Whatever comes now, the clean-up runs to its end.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        for family in families:
            n = sum(1 for (f, _) in results if f == family)
            ok = sum(1 for (f, _), v in results.items() if f == family and v)
            log("conformance v%d: %d/%d cases passed%s"
                % (family, ok, len(cases),
                   "" if n == len(cases)
                   else " (%d not run)" % (len(cases) - n)))
        pool.shutdown(wait=True, cancel_futures=True)
        if args.keep:
            log("conformance: kept sandbox %s (agent pid %s, log %s)"
                % (directory, sandbox.agent_pid, sandbox.agent_log))
            log("  use it:   eval \"$(%s env %s)\"; %s status"
                % (paths.sandbox, directory, paths.ctl))
            if args.evidence and os.path.isdir(args.evidence):
                log("  evidence: %s" % args.evidence)
            log("  clean up: kill %s; %s stop %s; rm -rf %s"
                % (sandbox.agent_pid, paths.sandbox, directory, directory))
        else:
            try:
                sandbox.stop()
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        log("conformance: elapsed %.1f s" % (time.monotonic() - t0))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
