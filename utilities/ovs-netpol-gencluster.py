#!/usr/bin/env python3
# Copyright (c) 2026 The ovs-netpol Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at:
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""ovs-netpol-gencluster: a synthetic Kubernetes cluster for benchmarks.

Writes Namespaces, Pods and NetworkPolicies as one `kind: List` JSON file
(compact, one item per line) that `ovs-netpol-agent --manifests` and
`ovs-netpolctl compile` read.  The same --seed and options give the same
file byte for byte (Python's `random` is stable across versions for the
calls used here).

The cluster
  Namespaces are labelled team (Zipf over ~30 teams), env (prod 50 %,
  staging 25 %, dev 25 %) and kubernetes.io/metadata.name.  One of them is
  kube-system with a few coredns pods (the target of DNS egress rules).
  Pods spread over namespaces by a Zipf law (a few big namespaces, a long
  tail of small ones); each namespace runs a Zipf-chosen handful of apps
  out of a global catalogue and its pods pick among them by a Zipf law too,
  so `app=X` selects thousands of pods for some X and a handful for others.
  Pod labels: app, tier (frontend, backend, data, system, batch), team and
  env (those of the namespace).  Containers declare named ports whose
  numbers depend on the app (http is 80, 8080, 8000, 3000, 5000 or 8081;
  metrics 9090, 9100, 9102, 9404 or 8081; grpc, db, redis, dns...), so one
  port name resolves to different numbers on different pods.

  --local-pods pods, chosen at random among all, run on --node; the others
  spread evenly over node-2, node-3, ... (about 110 pods per node).  Each
  node owns a block of addresses in 10.128.0.0/9 (and, with --ipv6, the same
  offsets in fd00:10:244::/64), so every address is unique.

The policies (default --mix, weights in percent of the policies)
  podsel=30   ingress from pods of the same namespace (podSelector)
  nssel=10    ingress from whole namespaces (namespaceSelector: team, env,
              a name, or matchExpressions)
  nspod=10    ingress from namespaceSelector AND podSelector in one peer
  ipblock=10  ingress or egress with an ipBlock, mostly with except
  egress=15   egress to pods (podSelector / namespaceSelector peers) plus
              DNS to kube-system's coredns
  both=15     ingress and egress rules in one policy
  deny=5      default deny: podSelector {} and no rules (Ingress, or both)
  allowns=5   ingress from every pod of the namespace, any port
  Ports of each rule that has any (weights among rules):
  numeric=45  one to three numeric ports (TCP mostly, some UDP and SCTP)
  named=25    named ports (http, metrics, grpc, db, dns)
  range=10    a port range (port + endPort)
  none=20     no ports: every port and protocol
  The policy's own podSelector is app=X 70 %, tier=X 15 %, app In [X, Y]
  10 %, {} 5 %.  Override any weight with --mix, e.g. --mix named=0,deny=0
  (the OVN peer's translator does not take named ports: use named=0).

Other outputs
  --policies-out FILE   the NetworkPolicies go to this second List file
                        (the main file keeps namespaces and pods)
  --emit-local-ports F  one line per local pod, sorted by namespace/name:
                        "NS/NAME OFPORT IP[,IP6] MAC" with OFPORT 1, 2, ...
                        in that order (the order `ovs-netpolctl compile`
                        gives ports by default) and MAC 0a:58:+IPv4 bytes

A one-line summary goes to stderr.  The output must stay under the
agent's 64 MiB manifest limit: exceeding it is an error (exit status 1).
"""

import argparse
import bisect
import itertools
import json
import os
import random
import sys
import time

MANIFEST_MAX_SIZE = 64 << 20
PODS_PER_NODE = 110

SHAPES = ("podsel", "nssel", "nspod", "ipblock", "egress", "both", "deny",
          "allowns")
PORT_KINDS = ("numeric", "named", "range", "none")
DEFAULT_MIX = {"podsel": 30, "nssel": 10, "nspod": 10, "ipblock": 10,
               "egress": 15, "both": 15, "deny": 5, "allowns": 5,
               "numeric": 45, "named": 25, "range": 10, "none": 20}

TEAMS = ("payments", "search", "identity", "checkout", "catalog", "ads",
         "ml", "data", "infra", "platform", "mobile", "web", "billing",
         "growth", "security", "support", "media", "maps", "social", "fraud",
         "logistics", "inventory", "pricing", "messaging", "video", "crm",
         "analytics", "compliance", "devtools", "storage")
ENVS = (("prod", 50), ("staging", 25), ("dev", 25))

# App kinds: base name, tier, ports (name, choices of number, protocol).
APP_KINDS = (
    ("web", "frontend", [("http", (80, 8080, 3000)), ("metrics", None)]),
    ("ui", "frontend", [("http", (80, 8080, 5000)), ("metrics", None)]),
    ("gateway", "frontend", [("http", (8080, 8000)), ("https", (8443, 443)),
                             ("metrics", None)]),
    ("api", "backend", [("http", (8000, 8080, 8081, 5000)),
                        ("grpc", (50051, 9000)), ("metrics", None)]),
    ("auth", "backend", [("http", (8080, 8000)), ("grpc", (50051,)),
                         ("metrics", None)]),
    ("orders", "backend", [("http", (8080, 3000)), ("metrics", None)]),
    ("users", "backend", [("http", (8080, 8081)), ("grpc", (50051, 9090)),
                          ("metrics", None)]),
    ("search", "backend", [("http", (9200, 8080)), ("metrics", None)]),
    ("worker", "batch", [("metrics", None)]),
    ("cron", "batch", [("metrics", None)]),
    ("postgres", "data", [("db", (5432,)), ("metrics", (9187,))]),
    ("mysql", "data", [("db", (3306,)), ("metrics", (9104,))]),
    ("redis", "data", [("redis", (6379,)), ("metrics", (9121,))]),
    ("kafka", "data", [("broker", (9092,)), ("metrics", (9308,))]),
    ("mongo", "data", [("db", (27017,)), ("metrics", (9216,))]),
)
METRICS_PORTS = (9090, 9100, 9102, 9404, 8081)
PORT_NAMES_USED = ("http", "http", "http", "metrics", "metrics", "grpc",
                   "db", "redis", "https")
COMMON_PORTS = ((80, "TCP"), (443, "TCP"), (8080, "TCP"), (8000, "TCP"),
                (3000, "TCP"), (5432, "TCP"), (6379, "TCP"), (9090, "TCP"),
                (50051, "TCP"), (53, "UDP"), (5353, "UDP"), (8125, "UDP"),
                (9999, "SCTP"), (3868, "SCTP"))
RANGES = ((8000, 8099), (30000, 32767), (9000, 9100), (1024, 65535),
          (5000, 5010), (6000, 6999))


def zipf_cum(n, s):
    """Cumulative Zipf weights 1/k^s for k = 1..n."""
    return list(itertools.accumulate(1.0 / (k ** s) for k in range(1, n + 1)))


class Zipf:
    def __init__(self, rng, items, s=1.0):
        self.rng, self.items = rng, list(items)
        self.cum = zipf_cum(len(self.items), s)

    def pick(self):
        x = self.rng.random() * self.cum[-1]
        return self.items[bisect.bisect_right(self.cum, x)]

    def sample(self, k):
        """k distinct items, Zipf-weighted (k <= len(items))."""
        k = min(k, len(self.items))
        out, seen = [], set()
        while len(out) < k:
            i = bisect.bisect_right(self.cum, self.rng.random() * self.cum[-1])
            if i not in seen:
                seen.add(i)
                out.append(self.items[i])
        return out


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def parse_mix(text):
    mix = dict(DEFAULT_MIX)
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or key not in mix:
            raise SystemExit("gencluster: --mix: bad item %r (keys: %s)"
                             % (part, ", ".join(mix)))
        try:
            mix[key] = float(value)
        except ValueError:
            raise SystemExit("gencluster: --mix: %r: not a number" % part)
        if mix[key] < 0:
            raise SystemExit("gencluster: --mix: %r: negative" % part)
    if not sum(mix[k] for k in SHAPES):
        raise SystemExit("gencluster: --mix: every policy shape has weight 0")
    if not sum(mix[k] for k in PORT_KINDS):
        raise SystemExit("gencluster: --mix: every port kind has weight 0")
    return mix


def v4(offset):
    a = (10 << 24) | (128 << 16) | offset
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def v6(offset):
    if offset >> 16:
        return "fd00:10:244::%x:%x" % (offset >> 16, offset & 0xffff)
    return "fd00:10:244::%x" % offset


def mac(offset):
    a = (10 << 24) | (128 << 16) | offset
    return "0a:58:%02x:%02x:%02x:%02x" % (
        a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


class Generator:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.mix = parse_mix(args.mix)
        self.shape_counts = dict.fromkeys(SHAPES, 0)

    # ------------------------------------------------------------ catalogue
    def make_apps(self):
        """The global app catalogue: enough apps for variety, each with its
        own port numbers."""
        rng = self.rng
        n_apps = max(len(APP_KINDS), min(400, self.a.pods // 100))
        apps = []
        for i in range(n_apps):
            base, tier, ports = APP_KINDS[i % len(APP_KINDS)]
            name = base if i < len(APP_KINDS) else "%s-%d" % (
                base, i // len(APP_KINDS))
            cports = []
            for pname, choices in ports:
                number = rng.choice(choices or METRICS_PORTS)
                cports.append({"name": pname, "containerPort": number,
                               "protocol": "TCP"})
            apps.append({"name": name, "tier": tier, "ports": cports})
        self.apps = apps
        self.app_zipf = Zipf(rng, apps, 1.0)
        self.dns_app = {"name": "coredns", "tier": "system", "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}]}

    def make_namespaces(self):
        rng, n = self.rng, self.a.namespaces
        teams = Zipf(rng, TEAMS, 1.0)
        self.namespaces = []
        for i in range(n):
            if i == 0:
                ns = {"name": "kube-system", "team": "platform",
                      "env": "prod", "apps": [self.dns_app]}
            else:
                team, env = teams.pick(), weighted(rng, ENVS)
                ns = {"name": "%s-%s-%d" % (team, env, i), "team": team,
                      "env": env}
            self.namespaces.append(ns)
        # Pod counts: kube-system gets a few dns pods, the others a Zipf law
        # (s = 0.7: the largest of 1,000 namespaces holds ~4 % of the pods).
        n_dns = min(self.a.pods, max(1, min(10, self.a.pods // 1000 + 2)))
        if n == 1:
            counts = [self.a.pods]
        else:
            rest = self.a.pods - n_dns
            w = [1.0 / (k ** 0.7) for k in range(1, n)]
            rng.shuffle(w)
            tot = sum(w)
            counts = [int(rest * x / tot) for x in w]
            for k in range(rest - sum(counts)):
                counts[k % (n - 1)] += 1
            counts = [n_dns] + counts
        for ns, c in zip(self.namespaces, counts):
            ns["n_pods"] = c
            if "apps" not in ns:
                k = max(1, min(30, 1 + c // 15))
                ns["apps"] = self.app_zipf.sample(k)
            ns["app_zipf"] = Zipf(rng, ns["apps"], 1.0)
        # Policies go to namespaces in proportion to their pods (to any
        # namespace when there are no pods at all).
        self.ns_zipf_by_size = ([ns for ns in self.namespaces if ns["n_pods"]]
                                or self.namespaces)
        self.ns_cum = list(itertools.accumulate(
            ns["n_pods"] or 1 for ns in self.ns_zipf_by_size))

    def make_pods(self):
        rng, a = self.rng, self.a
        pods = []
        used = set()
        for ns in self.namespaces:
            for _ in range(ns["n_pods"]):
                app = ns["app_zipf"].pick()
                while True:
                    name = "%s-%s" % (app["name"], "".join(
                        rng.choice("bcdfghjklmnpqrstvwxz2456789")
                        for _ in range(5)))
                    if (ns["name"], name) not in used:
                        used.add((ns["name"], name))
                        break
                pods.append({"ns": ns, "name": name, "app": app})
        n = len(pods)
        n_local = min(a.local_pods, n)
        local = set(rng.sample(range(n), n_local))
        n_other_nodes = -(-(n - n_local) // PODS_PER_NODE)
        others = []
        k = 2
        while len(others) < n_other_nodes:
            name = "node-%d" % k
            if name != a.node:
                others.append(name)
            k += 1
        by_node = {}
        for i, p in enumerate(pods):
            p["node"] = a.node if i in local else others[rng.randrange(
                n_other_nodes)]
            by_node.setdefault(p["node"], []).append(p)
        # Addresses: a block of whole /24s per node, .2 upwards.
        base = 0
        for node in [a.node] + others:
            members = by_node.get(node, [])
            for j, p in enumerate(members):
                p["offset"] = base + 2 + j
            base += 256 * (-(-(len(members) + 2) // 256))
        if base >= 1 << 23:
            raise SystemExit("gencluster: too many pods for 10.128.0.0/9")
        self.pods = pods
        self.local_pods = sorted((p for p in pods if p["node"] == a.node),
                                 key=lambda p: (p["ns"]["name"], p["name"]))
        self.n_nodes = 1 + n_other_nodes

    # ------------------------------------------------------------ objects
    def namespace_obj(self, ns):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns["name"], "labels": {
                "kubernetes.io/metadata.name": ns["name"],
                "team": ns["team"], "env": ns["env"]}}}

    def pod_ips(self, p):
        ips = [v4(p["offset"])]
        if self.a.ipv6:
            ips.append(v6(p["offset"]))
        return ips

    def pod_obj(self, p):
        ns, app = p["ns"], p["app"]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": p["name"], "namespace": ns["name"], "labels": {
                "app": app["name"], "tier": app["tier"], "team": ns["team"],
                "env": ns["env"]}},
            "spec": {"nodeName": p["node"], "containers": [
                {"name": "main", "image": "registry.example/%s:1" %
                 app["name"], "ports": app["ports"]}]},
            "status": {"phase": "Running", "podIPs": [
                {"ip": ip} for ip in self.pod_ips(p)]}}

    # ------------------------------------------------------------ selectors
    def target_selector(self, ns):
        rng = self.rng
        r = rng.random()
        if r < 0.70:
            return {"matchLabels": {"app": ns["app_zipf"].pick()["name"]}}
        if r < 0.85:
            return {"matchLabels": {"tier": ns["app_zipf"].pick()["tier"]}}
        if r < 0.95:
            vals = sorted({ns["app_zipf"].pick()["name"] for _ in range(2)})
            return {"matchExpressions": [
                {"key": "app", "operator": "In", "values": vals}]}
        return {}

    def peer_pod_selector(self, ns):
        rng = self.rng
        r = rng.random()
        if r < 0.65:
            return {"matchLabels": {"app": ns["app_zipf"].pick()["name"]}}
        if r < 0.85:
            return {"matchLabels": {"tier": rng.choice(
                ("frontend", "backend", "frontend", "batch"))}}
        vals = sorted({ns["app_zipf"].pick()["name"] for _ in range(3)})
        return {"matchExpressions": [
            {"key": "app", "operator": "In", "values": vals}]}

    def ns_selector(self):
        rng = self.rng
        r = rng.random()
        if r < 0.40:
            return {"matchLabels": {"team": self.pick_ns()["team"]}}
        if r < 0.55:
            return {"matchLabels": {"env": weighted(rng, ENVS)}}
        if r < 0.85:
            return {"matchLabels": {
                "kubernetes.io/metadata.name": self.pick_ns()["name"]}}
        if r < 0.95:
            return {"matchLabels": {"team": self.pick_ns()["team"],
                                    "env": "prod"}}
        return {"matchExpressions": [{"key": "env", "operator": "In",
                                      "values": ["prod", "staging"]}]}

    def pick_ns(self):
        x = self.rng.random() * self.ns_cum[-1]
        return self.ns_zipf_by_size[bisect.bisect_right(self.ns_cum, x)]

    def ip_block(self, egress):
        rng = self.rng
        r = rng.random()
        if egress and r < 0.5:
            blk = {"cidr": "0.0.0.0/0", "except": [
                "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}
        elif r < 0.65:
            blk = {"cidr": "10.0.0.0/8", "except": ["10.128.0.0/9"]}
        elif r < 0.85:
            k = rng.randrange(256)
            blk = {"cidr": "192.168.%d.0/22" % (k & ~3),
                   "except": ["192.168.%d.128/25" % (k & ~3)]}
        else:
            blk = {"cidr": "172.16.%d.0/24" % rng.randrange(256)}
        if self.a.ipv6 and rng.random() < 0.2:
            blk = {"cidr": "::/0", "except": ["fd00::/8"]}
        return {"ipBlock": blk}

    # ------------------------------------------------------------ ports
    def ports(self):
        rng, mix = self.rng, self.mix
        kind = weighted(rng, [(k, mix[k]) for k in PORT_KINDS])
        if kind == "none":
            return None
        if kind == "named":
            names = sorted({rng.choice(PORT_NAMES_USED)
                            for _ in range(rng.choice((1, 1, 2)))})
            return [{"protocol": "TCP", "port": n} for n in names]
        if kind == "range":
            lo, hi = rng.choice(RANGES)
            return [{"protocol": "TCP", "port": lo, "endPort": hi}]
        out = []
        for port, proto in sorted({rng.choice(COMMON_PORTS)
                                   for _ in range(rng.choice((1, 1, 2, 3)))}):
            out.append({"protocol": proto, "port": port})
        return out

    def rule(self, peers_key, peers):
        r = {}
        if peers is not None:
            r[peers_key] = peers
        ports = self.ports()
        if ports:
            r["ports"] = ports
        return r

    def dns_rule(self):
        named = self.mix["named"] > 0 and self.rng.random() < 0.5
        return {"to": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"app": "coredns"}}}],
            "ports": [{"protocol": "UDP", "port": "dns" if named else 53},
                      {"protocol": "TCP", "port": "dns-tcp" if named
                       else 53}]}

    def ingress_peer(self, ns):
        r = self.rng.random()
        if r < 0.6:
            return {"podSelector": self.peer_pod_selector(ns)}
        if r < 0.85:
            return {"namespaceSelector": self.ns_selector()}
        return {"namespaceSelector": self.ns_selector(),
                "podSelector": self.peer_pod_selector(self.pick_ns())}

    def egress_rules(self, ns):
        rng = self.rng
        rules = []
        for _ in range(rng.choice((1, 1, 2))):
            if rng.random() < 0.5:
                peer = {"podSelector": self.peer_pod_selector(ns)}
            else:
                other = self.pick_ns()
                peer = {"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": other["name"]}},
                    "podSelector": self.peer_pod_selector(other)}
            rules.append(self.rule("to", [peer]))
        if rng.random() < 0.7:
            rules.append(self.dns_rule())
        return rules

    def policy_obj(self, i):
        rng, mix = self.rng, self.mix
        ns = self.pick_ns()
        shape = weighted(rng, [(s, mix[s]) for s in SHAPES])
        self.shape_counts[shape] += 1
        spec = {"podSelector": self.target_selector(ns)}
        n_rules = rng.choice((1, 1, 1, 2))
        if shape == "podsel":
            spec["policyTypes"] = ["Ingress"]
            spec["ingress"] = [self.rule("from", [
                {"podSelector": self.peer_pod_selector(ns)}
                for _ in range(rng.choice((1, 1, 2)))])
                for _ in range(n_rules)]
        elif shape == "nssel":
            spec["policyTypes"] = ["Ingress"]
            spec["ingress"] = [self.rule("from", [
                {"namespaceSelector": self.ns_selector()}])
                for _ in range(n_rules)]
        elif shape == "nspod":
            spec["policyTypes"] = ["Ingress"]
            other = self.pick_ns()
            spec["ingress"] = [self.rule("from", [
                {"namespaceSelector": self.ns_selector(),
                 "podSelector": self.peer_pod_selector(other)}])
                for _ in range(n_rules)]
        elif shape == "ipblock":
            egress = rng.random() < 0.5
            key = "to" if egress else "from"
            d = "Egress" if egress else "Ingress"
            spec["policyTypes"] = [d]
            spec[d.lower()] = [self.rule(key, [self.ip_block(egress)])]
        elif shape == "egress":
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = self.egress_rules(ns)
        elif shape == "both":
            spec["policyTypes"] = ["Ingress", "Egress"]
            spec["ingress"] = [self.rule("from", [self.ingress_peer(ns)])
                               for _ in range(n_rules)]
            spec["egress"] = self.egress_rules(ns)
            if rng.random() < 0.2:
                spec["egress"].append(self.rule("to", [self.ip_block(True)]))
        elif shape == "deny":
            spec = {"podSelector": {}, "policyTypes": rng.choice(
                (["Ingress"], ["Ingress"], ["Ingress", "Egress"]))}
        else:  # allowns
            spec["policyTypes"] = ["Ingress"]
            spec["ingress"] = [{"from": [{"podSelector": {}}]}]
        name = "%s-%s-%d" % (shape, "np", i)
        return {"apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns["name"]},
                "spec": spec}

    # ------------------------------------------------------------ output
    def run(self):
        self.make_apps()
        self.make_namespaces()
        self.make_pods()
        enc = json.JSONEncoder(separators=(",", ":"), sort_keys=False)
        objs = [enc.encode(self.namespace_obj(ns)) for ns in self.namespaces]
        objs += [enc.encode(self.pod_obj(p)) for p in self.pods]
        pols = [enc.encode(self.policy_obj(i))
                for i in range(self.a.policies)]
        if self.a.policies_out:
            sizes = [write_list(self.a.output, objs),
                     write_list(self.a.policies_out, pols)]
        else:
            sizes = [write_list(self.a.output, objs + pols)]
        if self.a.emit_local_ports:
            with open(self.a.emit_local_ports, "w") as f:
                for n, p in enumerate(self.local_pods, 1):
                    f.write("%s/%s %d %s %s\n" % (
                        p["ns"]["name"], p["name"], n,
                        ",".join(self.pod_ips(p)), mac(p["offset"])))
        return sizes


def write_list(path, items):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write('{"apiVersion":"v1","kind":"List","items":[\n')
        f.write(",\n".join(items))
        f.write("\n]}\n")
    os.replace(tmp, path)
    return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(
        description="A deterministic synthetic Kubernetes cluster "
        "(Namespaces, Pods, NetworkPolicies) as one kind: List JSON file.",
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--policies", type=int, default=100)
    ap.add_argument("--local-pods", type=int, default=110,
                    help="pods on --node (default 110)")
    ap.add_argument("--node", default="node-1",
                    help="the local node (default node-1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ipv6", action="store_true",
                    help="dual-stack pods (IPv4 and IPv6 podIPs)")
    ap.add_argument("--mix", default="",
                    help="override weights: KEY=W,... (keys: %s)"
                    % ",".join(DEFAULT_MIX))
    ap.add_argument("-o", "--output", required=True,
                    help="the List JSON file to write")
    ap.add_argument("--policies-out", metavar="FILE",
                    help="write the NetworkPolicies to FILE instead")
    ap.add_argument("--emit-local-ports", metavar="FILE",
                    help='write "NS/NAME OFPORT IPS MAC" per local pod')
    a = ap.parse_args()
    if a.pods < 0 or a.policies < 0 or a.local_pods < 0:
        ap.error("counts must not be negative")
    if a.namespaces < 1:
        ap.error("--namespaces must be at least 1")

    t0 = time.monotonic()
    g = Generator(a)
    sizes = g.run()
    dt = time.monotonic() - t0
    shapes = " ".join("%s=%d" % (k, v) for k, v in g.shape_counts.items())
    print("gencluster: seed %d: %d namespaces, %d pods (%d on %s, %d nodes),"
          " %d policies (%s)%s -> %s in %.1f s"
          % (a.seed, len(g.namespaces), len(g.pods), len(g.local_pods),
             a.node, g.n_nodes, a.policies, shapes,
             ", dual-stack" if a.ipv6 else "",
             " + ".join("%.1f MiB" % (s / 1048576) for s in sizes), dt),
          file=sys.stderr)
    if max(sizes) >= MANIFEST_MAX_SIZE:
        print("gencluster: %s is over the 64 MiB manifest limit"
              % a.output, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
