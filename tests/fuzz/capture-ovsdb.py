#!/usr/bin/env python3
# tests/fuzz/capture-ovsdb.py: records what a real ovsdb-server sends to
# the agent's OVSDB monitor, as seeds for tests/fuzz/fuzz-ovsdb.c.
#
# It starts a private ovsdb-server on a fresh Open_vSwitch database (in a
# temporary directory; it needs ovsdb-tool, ovsdb-server and
# vswitch.ovsschema, not root), sends the "monitor" request that
# agent/ovsdb-monitor.c sends (id 1, the same tables and columns), then
# changes the database through a second connection the way a CNI and
# ovs-vswitchd do (bridges, internal port, Antrea and OVN-Kubernetes
# external_ids, ofport assigned late or -1, malformed values, deletions),
# and writes the server's bytes, exactly as received, to
# tests/fuzz/corpus/ovsdb/ovsdb-session-*.  The first byte of each seed is
# fuzz-ovsdb.c's mode byte (how the stream is cut), the rest the stream.
#
#     python3 tests/fuzz/capture-ovsdb.py

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "ovsdb")
SCHEMAS = ["/usr/share/openvswitch/vswitch.ovsschema",
           "/usr/local/share/openvswitch/vswitch.ovsschema"]


def uuid_name(n):
    return ["named-uuid", n]


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.raw = b""

    def send(self, msg):
        self.s.sendall(json.dumps(msg).encode())

    def drain(self, quiet=0.3):
        """Reads until the server has been quiet for 'quiet' seconds."""
        got = b""
        while True:
            r, _, _ = select.select([self.s], [], [], quiet)
            if not r:
                break
            data = self.s.recv(65536)
            if not data:
                break
            got += data
        self.raw += got
        return got

    def call(self, msg):
        self.send(msg)
        data = b""
        dec = json.JSONDecoder()
        while True:
            data += self.s.recv(65536)
            try:
                obj, _ = dec.raw_decode(data.decode())
                return obj
            except ValueError:
                continue


def main():
    schema = next((s for s in SCHEMAS if os.path.exists(s)), None)
    if not schema or not shutil.which("ovsdb-server"):
        sys.exit("needs ovsdb-server and vswitch.ovsschema "
                 "(Debian package openvswitch-common)")
    d = tempfile.mkdtemp(prefix="onp-capture-")
    db, sock = os.path.join(d, "conf.db"), os.path.join(d, "db.sock")
    subprocess.run(["ovsdb-tool", "create", db, schema], check=True)
    server = subprocess.Popen(["ovsdb-server", db, "--remote=punix:" + sock,
                               "--unixctl=" + d + "/ctl", "--no-chdir",
                               "-vconsole:off", "-vfile:info",
                               "--log-file=" + d + "/s.log"],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        capture(sock)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(d)


def capture(sock):
    ctl = Conn(sock)
    next_id = [100]

    def transact(*ops):
        next_id[0] += 1
        reply = ctl.call({"method": "transact",
                          "params": ["Open_vSwitch"] + list(ops),
                          "id": next_id[0]})
        for r in reply.get("result") or []:
            if r and "error" in r:
                sys.exit("transact failed: %s" % reply)
        return reply

    # The root row and a bridge with its internal port, as ovs-vsctl
    # add-br does, before the monitor connects: they are in its snapshot.
    transact({"op": "insert", "table": "Interface", "uuid-name": "ibr",
              "row": {"name": "br-int", "type": "internal",
                      "ofport": 65534}},
             {"op": "insert", "table": "Port", "uuid-name": "pbr",
              "row": {"name": "br-int", "interfaces": uuid_name("ibr")}},
             {"op": "insert", "table": "Bridge", "uuid-name": "br",
              "row": {"name": "br-int", "ports": uuid_name("pbr")}},
             {"op": "insert", "table": "Open_vSwitch", "row": {
                 "bridges": ["set", [uuid_name("br")]]}})
    transact({"op": "insert", "table": "Interface", "uuid-name": "i1",
              "row": {"name": "veth-x-a", "ofport": 1, "external_ids":
                      ["map", [["pod-namespace", "x"], ["pod-name", "a"],
                               ["ip", "10.0.0.1,fd00::1"],
                               ["mac", "02:00:00:00:00:01"]]]}},
             {"op": "insert", "table": "Port", "uuid-name": "p1",
              "row": {"name": "veth-x-a", "interfaces": uuid_name("i1")}},
             {"op": "mutate", "table": "Bridge",
              "where": [["name", "==", "br-int"]],
              "mutations": [["ports", "insert",
                             ["set", [uuid_name("p1")]]]]})

    mon = Conn(sock)
    mon.send({"method": "monitor", "params": [
        "Open_vSwitch", "ovs-netpol", {
            "Bridge": {"columns": ["name", "ports"]},
            "Port": {"columns": ["name", "interfaces"]},
            "Interface": {"columns": ["name", "type", "ofport",
                                      "external_ids"]}}], "id": 1})
    mon.drain()
    snapshot = mon.raw

    # An OVN-Kubernetes pod whose ofport comes later.
    transact({"op": "insert", "table": "Interface", "uuid-name": "i2",
              "row": {"name": "ovn-y-b", "external_ids":
                      ["map", [["iface-id", "y_b"],
                               ["ip_addresses", "10.0.1.2/24"],
                               ["attached_mac", "0a:58:0a:00:01:02"]]]}},
             {"op": "insert", "table": "Port", "uuid-name": "p2",
              "row": {"name": "ovn-y-b", "interfaces": uuid_name("i2")}},
             {"op": "mutate", "table": "Bridge",
              "where": [["name", "==", "br-int"]],
              "mutations": [["ports", "insert",
                             ["set", [uuid_name("p2")]]]]})
    mon.drain()
    transact({"op": "update", "table": "Interface",
              "where": [["name", "==", "ovn-y-b"]], "row": {"ofport": 2}})
    mon.drain()
    # A new address, and malformed values that are logged and ignored.
    transact({"op": "update", "table": "Interface",
              "where": [["name", "==", "veth-x-a"]],
              "row": {"external_ids": ["map", [
                  ["pod-namespace", "x"], ["pod-name", "a"],
                  ["ip", "10.0.0.9, bogus, 10.0.0.9/33, fd00::9/64"],
                  ["mac", "01:00:00:00:00:01"]]]}})
    mon.drain()
    # A port that failed (ofport -1), an uplink, a second bridge.
    transact({"op": "insert", "table": "Interface", "uuid-name": "i3",
              "row": {"name": "bad", "ofport": -1, "external_ids":
                      ["map", [["pod-name", "half"]]]}},
             {"op": "insert", "table": "Interface", "uuid-name": "i4",
              "row": {"name": "eth1", "ofport": 7}},
             {"op": "insert", "table": "Port", "uuid-name": "p3",
              "row": {"name": "bond", "interfaces": ["set", [
                  uuid_name("i3"), uuid_name("i4")]]}},
             {"op": "mutate", "table": "Bridge",
              "where": [["name", "==", "br-int"]],
              "mutations": [["ports", "insert",
                             ["set", [uuid_name("p3")]]]]},
             {"op": "insert", "table": "Interface", "uuid-name": "i5",
              "row": {"name": "br-ex", "type": "internal", "ofport": 65534}},
             {"op": "insert", "table": "Port", "uuid-name": "p5",
              "row": {"name": "br-ex", "interfaces": uuid_name("i5")}},
             {"op": "insert", "table": "Bridge", "uuid-name": "brex",
              "row": {"name": "br-ex", "ports": uuid_name("p5")}},
             {"op": "mutate", "table": "Open_vSwitch", "where": [],
              "mutations": [["bridges", "insert",
                             ["set", [uuid_name("brex")]]]]})
    mon.drain()
    # The pod goes away.
    transact({"op": "mutate", "table": "Bridge",
              "where": [["name", "==", "br-int"]],
              "mutations": [["ports", "delete", ["set", [
                  ["uuid", port_uuid(ctl, "veth-x-a")]]]]]},
             {"op": "delete", "table": "Port",
              "where": [["name", "==", "veth-x-a"]]})
    mon.drain()
    # A request from the server ("echo"), answered by the monitor.
    session = mon.raw + b'{"id":"echo","method":"echo","params":[]}\n'

    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "snapshot": (0x40, snapshot),
        "session": (0x40, session),
        "session-bytes": (0x00, session),
        "session-64": (0x3f, session),
        "session-barriers": (0xc0, session),
    }
    for name, (mode, data) in seeds.items():
        with open(os.path.join(OUT, "ovsdb-session-" + name), "wb") as f:
            f.write(bytes([mode]) + data)
    print("wrote %d seeds (%d bytes of session) to %s"
          % (len(seeds), len(session), OUT))


def port_uuid(conn, name):
    reply = conn.call({"method": "transact", "params": [
        "Open_vSwitch", {"op": "select", "table": "Port",
                         "where": [["name", "==", name]],
                         "columns": ["_uuid"]}], "id": 999})
    return reply["result"][0]["rows"][0]["_uuid"][1]


if __name__ == "__main__":
    main()
