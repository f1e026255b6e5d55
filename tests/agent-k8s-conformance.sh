#!/bin/bash
# tests/agent-k8s-conformance.sh: upstream Kubernetes network-policy
# conformance cases (tests/netpol-e2e/cases/upstream/) with real packets,
# the objects coming from the API server's watch instead of files.
#
# It reuses tests/conformance.py (the sandbox with nine dual-stack pods x/a
# .. z/c, the probes, the truth tables) and replaces only how objects reach
# the agent: the agent runs with --kubeconfig against the fake API server
# (tests/k8s-apiserver.py), and every "write" of the runner becomes POSTs
# (create or replace; an unchanged object is a no-op) and DELETEs of
# policies through the server's control API.  So policies arrive as ADDED,
# MODIFIED and DELETED watch events and relabelled pods and namespaces as
# MODIFIED events; the runner's `ovs-netpolctl wait-sync` after each step
# waits for the API server's current resourceVersion (k8s_source_barrier).
#
# Cases: 001 default deny, 009 podSelector OR namespaceSelector, 017 named
# port, 021 ingress from an updated namespace, 022 from an updated pod, 025
# egress deny by podSelector, 034 egress to a CIDR; IPv4 and IPv6.
# K8S_CONFORMANCE_CASES="001 002 ..." picks others ("all" for every case);
# K8S_CONFORMANCE_ARGS adds options of conformance.py (e.g. "--family
# 4", "--keep").
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, a
# program missing), 99 the runner could not work.

test_name=agent-k8s-conformance
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
lib_init
k8s_setup

cases=${K8S_CONFORMANCE_CASES:-001 009 017 021 022 025 034}
case_args=()
if [ "$cases" != all ]; then
    for c in $cases; do
        case_args+=(--case "$c-")
    done
fi

apiserver_start api
echo "$K8S_TOKEN" >"$T/token"
kubeconfig "$T/kc" ca="$T/pki/ca.crt" token_file="$T/token"

# shellcheck disable=SC2206  # options, split on purpose
extra_args=(${K8S_CONFORMANCE_ARGS:-})

t0=$(now)
rc=0
export top
K8S_KUBECONFIG=$T/kc K8S_CONTROL=$K8S_CONTROL \
    "$python" - --corpus "$top/tests/netpol-e2e" \
    --builddir "$(dirname "$(dirname "$AGENT")")" "${case_args[@]}" \
    "${extra_args[@]}" \
    <<'EOF' || rc=$?
import json
import os
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True        # No __pycache__ in the source tree.
sys.path.insert(0, os.path.join(os.environ["top"], "tests"))
import conformance  # noqa: E402

CONTROL = os.environ["K8S_CONTROL"]
KUBECONFIG = os.environ["K8S_KUBECONFIG"]


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(CONTROL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


class K8sSandbox(conformance.Sandbox):
    """conformance.Sandbox whose objects go through the API server."""

    def write(self, name, obj):
        items = obj["items"]
        key = json.dumps(items, sort_keys=True)
        if self.written.get(name) == key:
            return
        if name == "policies.json":
            have = control("GET", "/objects/networkpolicies")["items"]
            want = {(o["metadata"].get("namespace", "default"),
                     o["metadata"]["name"]) for o in items}
            gone = [{"kind": "NetworkPolicy",
                     "namespace": o["metadata"]["namespace"],
                     "name": o["metadata"]["name"]} for o in have
                    if (o["metadata"]["namespace"],
                        o["metadata"]["name"]) not in want]
            if gone:
                control("POST", "/objects/delete", gone)
        if items:
            control("POST", "/objects", items)
        self.written[name] = key

    def start_agent(self):
        with open(os.path.join(self.dir, "log", "agent.stderr"), "w") as err:
            p = subprocess.run(
                [self.paths.agent, "--bridge=" + conformance.BRIDGE,
                 "--kubeconfig=" + KUBECONFIG,
                 "--node-name=" + conformance.NODE,
                 "--ovsdb=unix:%s/run/db.sock" % self.dir,
                 "--openflow=unix:%s/run/%s.mgmt" % (self.dir,
                                                      conformance.BRIDGE),
                 "--control=" + self.control, "--pidfile=" + self.pidfile,
                 "--log-file=" + self.agent_log, "--detach"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                env=self.env, timeout=60)
        if p.returncode:
            raise conformance.RunnerError(
                "ovs-netpol-agent failed to start (exit %d); see %s"
                % (p.returncode, self.agent_log))
        with open(self.pidfile) as f:
            self.agent_pid = int(f.read().strip())

    def agent_problems(self):
        out = super().agent_problems()
        p = self.ctl("status", "--format=json", check=False)
        try:
            k8s = json.loads(p.stdout)["sources"]["k8s"]
        except (ValueError, KeyError):
            return out + ["status: no Kubernetes source"]
        errors = {k: v for k, v in k8s["errors"].items() if v}
        if errors or k8s["relists"]:
            out.append("k8s source: errors %s, %d relists"
                       % (errors, k8s["relists"]))
        return out


conformance.Sandbox = K8sSandbox
sys.exit(conformance.main(sys.argv[1:]))
EOF
printf '# conformance through the API server: exit %s in %s ms\n' "$rc" \
    "$(ms_since "$t0")"
case $rc in
    0) pass "conformance cases ($cases) through API server events" ;;
    77) skip "conformance runner skipped" ;;
    *) fail "conformance cases ($cases) through API server events: exit $rc" ;;
esac
lib_finish
