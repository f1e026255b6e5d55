#!/usr/bin/env python3
# tests/fuzz/make-corpus.py: (re)writes the hand-made seeds of the fuzz
# corpora in tests/fuzz/corpus/ from the test data of the tree: manifests
# (tests/manifests, utilities/examples, tests/compile), the upstream e2e
# policies and model (tests/netpol-e2e), and a few YAML and JSON shapes that
# the parsers must refuse or bound (aliases, deep nesting, lists).  Seeds of
# the byte-driven targets (selector, compiler) and the OVSDB sessions
# (capture-ovsdb.py) are not made here.  Run from anywhere:
#
#     python3 tests/fuzz/make-corpus.py
#
# Files it writes are named "seed-*"; it leaves every other file alone.

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def files(*dirs, exts=(".yaml", ".json")):
    for d in dirs:
        for n in sorted(os.listdir(os.path.join(TOP, d))):
            if n.endswith(exts):
                yield os.path.join(TOP, d, n)


def e2e():
    model = json.load(open(os.path.join(
        TOP, "tests/netpol-e2e/models/upstream-e2e-netpol.json")))
    cases = []
    d = os.path.join(TOP, "tests/netpol-e2e/cases/upstream")
    for n in sorted(os.listdir(d)):
        case = json.load(open(os.path.join(d, n)))
        objs = [o for step in case.get("steps", [])
                for o in step.get("apply", [])]
        cases.append((n[:3], objs))
    return model, cases


def model_objects(model):
    objs = []
    for ns in model["namespaces"]:
        objs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns["name"],
                                  "labels": ns["labels"]}})
    for i, pod in enumerate(model["pods"]):
        objs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod["name"], "namespace": pod["namespace"],
                         "labels": pod["labels"], "resourceVersion": str(i)},
            "spec": {"nodeName": "node-1",
                     "containers": pod["containers"]},
            "status": {"phase": "Running",
                       "podIPs": [{"ip": "10.0.%d.%d" % (i // 3, i % 3 + 1)},
                                  {"ip": "fd00::%d:%d" % (i // 3, i % 3 + 1)}]},
        })
    return objs


def to_yaml(obj, indent=0):
    """A small YAML emitter (block style), enough for manifests."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 1)))
            else:
                out.append("%s%s: %s\n" % (pad, k, scalar(v)))
    elif isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                body = to_yaml(v, indent + 1)
                out.append("%s- %s" % (pad, body.lstrip()))
            else:
                out.append("%s- %s\n" % (pad, scalar(v)))
    return "".join(out)


def scalar(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


def manifest_and_yaml_seeds(model, cases):
    for path in files("tests/manifests", "utilities/examples",
                      "tests/compile"):
        name = os.path.basename(path)
        data = open(path, "rb").read()
        write("manifest", name, data)
        if name.endswith(".yaml"):
            write("yaml", name, data)

    objs = model_objects(model)
    write("manifest", "e2e-model.json", json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": objs}, indent=1))
    write("manifest", "e2e-model.yaml",
          "".join("---\n" + to_yaml(o) for o in objs))
    # A few cases, in both syntaxes: every peer and port shape is there.
    for num, pols in cases:
        if num in ("004", "009", "010", "017", "021", "030", "036", "044"):
            write("manifest", "e2e-%s.json" % num, json.dumps(
                {"apiVersion": "v1", "kind": "NetworkPolicyList",
                 "items": pols}))
            write("manifest", "e2e-%s.yaml" % num,
                  "".join("---\n" + to_yaml(p) for p in pols))
            write("yaml", "e2e-%s.yaml" % num,
                  "".join("---\n" + to_yaml(p) for p in pols))

    # Shapes the readers must bound or refuse.
    laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        laughs.append("a%d: &a%d [%s]" % (i, i, ", ".join(
            ["*a%d" % (i - 1)] * 9)))
    laughs = "\n".join(laughs) + "\n"
    write("yaml", "billion-laughs.yaml", laughs)
    write("manifest", "billion-laughs.yaml",
          "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
          "  labels: {}\n" + laughs.replace("a", "l"))
    deep = "[" * 70 + "]" * 70
    write("yaml", "deep-flow.yaml", "x: " + deep + "\n")
    write("manifest", "deep.json", '{"kind":"List","items":' + deep + "}")
    write("manifest", "deep.yaml", "kind: List\nitems: " + deep + "\n")
    block = "".join("  " * i + "k%d:\n" % i for i in range(70)) \
        + "  " * 70 + "v\n"
    write("yaml", "deep-block.yaml", block)
    # Found by fuzz-yaml: aliases nesting past the limit (test-manifest.c
    # test_deep_aliases).
    write("yaml", "deep-aliases.yaml", "".join(
        "a%d: &a%d %s%s%s\n" % (k, k, "[" * 60, "*a%d" % (k - 1) if k else "x",
                                "]" * 60) for k in range(4)))
    write("yaml", "anchors-merge.yaml", """\
base: &base {app: web, tier: front}
more: &more
  team: a
pod:
  <<: [*base, *more]
  app: db
list: &l [1, 2, 3]
again: *l
""")
    write("yaml", "scalars.yaml", """\
- null
- ~
- true
- yes
- Off
- y
- 0x1F
- 0o17
- -12
- 1.5e3
- .5
- "quoted 123"
- 'single'
- !!str 42
- !!int "7"
- !!float 3
- !!bool "on"
- !!null ""
- |
  literal
  block
- >
  folded
  block
- 99999999999999999999
- .inf
""")
    write("yaml", "multi-doc.yaml", "a: 1\n---\n---\n- x\n...\n--- b\n")
    write("yaml", "tags.yaml", "%TAG ! tag:example.com,2000:\n---\n"
          "a: !foo bar\nb: !<tag:yaml.org,2002:str> 5\n")
    write("yaml", "keys.yaml", "? [complex, key]\n: value\n"
          "on: 1\n\"quoted\": 2\n? |\n  block key\n: 3\n")
    write("yaml", "list-kind-after-items.yaml",
          "items:\n- kind: Namespace\n  apiVersion: v1\n"
          "  metadata: {name: a}\nkind: List\napiVersion: v1\n")
    write("manifest", "list-kind-after-items.yaml",
          "items:\n- kind: Namespace\n  apiVersion: v1\n"
          "  metadata: {name: a}\nkind: List\napiVersion: v1\n")
    write("manifest", "nested-lists.json", json.dumps({
        "kind": "List", "apiVersion": "v1", "items": [
            {"kind": "PodList", "apiVersion": "v1",
             "items": [{"metadata": {"name": "p", "namespace": "x"}}]},
            {"kind": "NamespaceList", "items": [{"metadata": {"name": "n"}}]},
            [1, 2], "str", None]}))
    write("manifest", "items-not-list.json",
          '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"},'
          '"items":[1,{"x":[2]}],"items":{"a":1}}')
    write("manifest", "bom-stream.json",
          b'\xef\xbb\xbf {"kind":"Namespace","apiVersion":"v1",'
          b'"metadata":{"name":"a"}}\n[{"kind":"Namespace","apiVersion":'
          b'"v1","metadata":{"name":"b"}}] {}')


def watch_seeds(model, cases):
    objs = model_objects(model)
    nss = [o for o in objs if o["kind"] == "Namespace"]
    pods = [o for o in objs if o["kind"] == "Pod"]

    def line(t, o):
        return json.dumps({"type": t, "object": o}, separators=(",", ":"))

    lines = ["@namespaces"] + [line("ADDED", o) for o in nss]
    lines += ["@pods"] + [line("ADDED", o) for o in pods]
    for num, pols in cases:
        if num not in ("004", "009", "010", "017", "030", "044"):
            continue
        ls = list(lines) + ["@networkpolicies"]
        for i, p in enumerate(pols):
            p = dict(p, metadata=dict(p["metadata"], resourceVersion=str(i)))
            ls.append(line("ADDED" if i % 2 == 0 else "MODIFIED", p))
        if pols:
            ls.append(line("DELETED", {"metadata": pols[0]["metadata"]}))
        write("watch-event", "e2e-%s.jsonl" % num, "\n".join(ls) + "\n")

    # Every event type, list items without kind, and malformed lines.
    pod = dict(pods[0])
    nokind = {k: v for k, v in pod.items() if k not in ("kind",
                                                        "apiVersion")}
    write("watch-event", "types.jsonl", "\n".join([
        "@pods",
        line("ADDED", nokind),
        line("MODIFIED", dict(nokind, metadata=dict(
            nokind["metadata"], labels={"pod": "b"}))),
        line("BOOKMARK", {"kind": "Pod", "apiVersion": "v1",
                          "metadata": {"resourceVersion": "12346"}}),
        line("DELETED", {"metadata": {"name": "a", "namespace": "x"}}),
        line("DELETED", {"kind": "Pod", "metadata": {"name": "nope"}}),
        "not json", "[1,2]", '{"type":"ADDED"}', '{"object":{}}',
        '{"type":"WHAT","object":{}}', "", "  \r",
        line("ADDED", {"kind": "Namespace", "apiVersion": "v1",
                       "metadata": {"name": "wrong-stream"}}),
        line("ERROR", {"kind": "Status", "apiVersion": "v1", "code": 410,
                       "message": "too old resource version"}),
        line("ADDED", nokind),
        "@namespaces",
        line("ADDED", {"metadata": {"name": "x", "labels": {"ns": "x"}}}),
        line("DELETED", {"metadata": {"name": "y"}}),
    ]) + "\n")


def main():
    model, cases = e2e()
    manifest_and_yaml_seeds(model, cases)
    watch_seeds(model, cases)


if __name__ == "__main__":
    main()
