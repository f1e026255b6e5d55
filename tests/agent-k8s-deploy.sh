#!/bin/bash
# tests/agent-k8s-deploy.sh: utilities/k8s/ovs-netpol.yaml, the DaemonSet
# and its RBAC, checked without a cluster.  No root needed.
#
#   - our own reader parses it (`ovs-netpolctl compile -f`, which skips the
#     kinds policy does not use, fails on a syntax error);
#   - the ClusterRole grants get/list/watch on pods, namespaces and
#     networking.k8s.io networkpolicies, and nothing else; the binding names
#     the DaemonSet's service account;
#   - the DaemonSet runs on the host network with the OVS run directory
#     mounted, NODE_NAME from the downward API, as root without any
#     capability or privilege escalation, ready through `ovs-netpolctl
#     wait-sync --timeout`;
#   - the agent accepts its command line.
#
# Exit status: 0 pass, 1 fail, 77 skip (python3 or its yaml module
# missing), 99 not built.

# shellcheck disable=SC2317
test_name=agent-k8s-deploy
# shellcheck source=tests/agent-k8s-lib.sh
. "$(dirname "$0")/agent-k8s-lib.sh"
k8s_init
"$python" -c 'import yaml' 2>/dev/null || skip "python3 yaml module missing"

yaml=$top/utilities/k8s/ovs-netpol.yaml

check "our YAML reader parses it (ovs-netpolctl compile)" \
    quiet quietly "$CTL" compile -f "$yaml" --node=node-1

# deploy.py: one line per finding; none means all is well.  Prints the
# agent's command line (command + args) on its last line, prefixed "argv".
cat >"$T/deploy.py" <<'EOF'
import sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)

for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"):
    want(len(by_kind.get(kind, [])) == 1, "exactly one %s" % kind)
want(len(docs) == 4, "four documents, found %d" % len(docs))

role = by_kind["ClusterRole"][0]
granted = set()
for rule in role["rules"]:
    want(set(rule) <= {"apiGroups", "resources", "verbs"},
         "rule with extra fields (resourceNames, nonResourceURLs...): %s" % rule)
    for g in rule.get("apiGroups", []):
        for r in rule.get("resources", []):
            for v in rule.get("verbs", []):
                granted.add((g, r, v))
expected = {(g, r, v) for g, r in (("", "pods"), ("", "namespaces"),
                                   ("networking.k8s.io", "networkpolicies"))
            for v in ("get", "list", "watch")}
want(granted == expected, "ClusterRole grants %s, expected exactly %s"
     % (sorted(granted - expected) or "no more", sorted(expected - granted) or "all"))

sa = by_kind["ServiceAccount"][0]
crb = by_kind["ClusterRoleBinding"][0]
want(crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole", "name": role["metadata"]["name"]},
     "binding refers to the ClusterRole")
want(crb["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                          "namespace": sa["metadata"]["namespace"]}],
     "binding's subject is the service account")

ds = by_kind["DaemonSet"][0]
pod = ds["spec"]["template"]["spec"]
want(ds["spec"]["selector"]["matchLabels"].items()
     <= ds["spec"]["template"]["metadata"]["labels"].items(),
     "selector matches the template")
want(pod.get("serviceAccountName") == sa["metadata"]["name"], "service account")
want(ds["metadata"]["namespace"] == sa["metadata"]["namespace"], "same namespace")
want(pod.get("hostNetwork") is True, "hostNetwork")
want(not pod.get("hostPID") and not pod.get("hostIPC"), "no hostPID/hostIPC")
want({"operator": "Exists"} in pod.get("tolerations", []), "runs on every node")
(c,) = pod["containers"]
env = {e["name"]: e for e in c.get("env", [])}
want(env.get("NODE_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "spec.nodeName"}},
     "NODE_NAME from the downward API")
sc = c.get("securityContext", {})
want(sc.get("runAsUser") == 0, "runs as root")
want(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False,
     "not privileged, no privilege escalation")
want(sc.get("capabilities") == {"drop": ["ALL"]}, "drops every capability, adds none")
want(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
run = env.get("OVS_RUNDIR", {}).get("value", "/var/run/openvswitch")
want(run in mounts and vols.get(mounts[run], {}).get("hostPath", {}).get("path")
     == "/var/run/openvswitch", "the OVS run directory is mounted at OVS_RUNDIR")
want(all("hostPath" not in v or v["name"] == mounts.get(run) for v in vols.values()),
     "no other host path")
probe = c.get("readinessProbe", {}).get("exec", {}).get("command", [])
want(probe[:2] == ["ovs-netpolctl", "wait-sync"]
     and any(a.startswith("--timeout=") for a in probe), "readiness: wait-sync --timeout")
timeout = [int(a.split("=")[1]) for a in probe if a.startswith("--timeout=")]
want(timeout and c["readinessProbe"].get("timeoutSeconds", 1) > timeout[0],
     "the probe's timeoutSeconds exceeds wait-sync's timeout")
for b in bad:
    print(b)
print("argv " + " ".join(c.get("command", []) + c.get("args", [])))
EOF

"$python" "$T/deploy.py" "$yaml" >"$T/deploy.out" 2>&1
findings() {
    if grep -v '^argv ' "$T/deploy.out" | grep -q .; then
        grep -v '^argv ' "$T/deploy.out" | sed 's/^/#   /'
        return 1
    fi
}
check "RBAC: get/list/watch on pods, namespaces, networkpolicies only; DaemonSet: host network, OVS run dir, NODE_NAME, root without capabilities, wait-sync readiness" \
    findings

# The agent accepts the DaemonSet's options ($(NODE_NAME) expanded as the
# kubelet does); --help stops it once they are parsed.
argv=$(sed -n 's/^argv //p' "$T/deploy.out")
accepts_args() {
    printf '#   %s\n' "$argv"
    # shellcheck disable=SC2086
    set -- ${argv//\$(NODE_NAME)/node-1}
    [ "$1" = ovs-netpol-agent ] || return 1
    shift
    "$AGENT" "$@" --help >/dev/null
}
check "the agent accepts the DaemonSet's command line" accepts_args

lib_finish
