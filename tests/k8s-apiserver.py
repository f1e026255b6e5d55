#!/usr/bin/env python3
"""A fake Kubernetes API server for testing the ovs-netpol Kubernetes client.

It serves the three resources the agent reads (core/v1 Namespaces and Pods,
networking.k8s.io/v1 NetworkPolicies) over HTTPS, and a second plain-HTTP
"control" port on 127.0.0.1 through which a test drives the state and
injects faults.  Python 3 standard library only.

Conventions followed (the names are those of the upstream documents:
kubernetes/community contributors/devel/sig-architecture/api-conventions.md
and the kubernetes.io "API Concepts" page, reference/using-api/api-concepts):

* resourceVersion -- api-conventions.md "Concurrency Control and
  Consistency" and api-concepts "Resource versions".  The value is opaque to
  clients; here it is one global counter shared by every resource, like
  etcd's revision, incremented once per change.  Every stored object carries
  metadata.resourceVersion, metadata.uid and metadata.creationTimestamp.  An
  update that changes nothing is a no-op and does not bump it (as the real
  server).  A delete takes a fresh resourceVersion, which the object in the
  DELETED event carries.

* Lists -- api-conventions.md "Lists and Simple kinds": a list is kind
  "<Kind>List" with ListMeta (resourceVersion, continue, remainingItemCount)
  and "items"; the items carry no kind/apiVersion of their own.  The list's
  resourceVersion is the snapshot it was served from.

* Chunked lists -- api-concepts "Retrieving large results sets in chunks":
  ?limit=N returns at most N items and an opaque "continue" token when more
  remain.  Every page of one list is served from the same snapshot (history
  is kept, as etcd keeps revisions until compaction), so objects changing
  between pages do not show up in later pages.  A token whose snapshot is
  older than the compaction point gets HTTP 410 with a Status of reason
  "Expired"; like the real server, that Status carries in
  metadata.continue a token for an *inconsistent* continuation served from
  the latest state.  Giving resourceVersion (other than "0") together with
  continue is a 400, as upstream.

* resourceVersion semantics for list -- api-concepts "Semantics for get and
  list": unset = most recent; "0" = any (served latest here);
  resourceVersionMatch=NotOlderThan (or a bare non-zero value) = at least
  that fresh (waits up to 3 s, then 504 "Too large resource version", like
  the watch cache); resourceVersionMatch=Exact = exactly that snapshot
  (410 Expired once compacted).

* Watches -- api-concepts "Efficient detection of changes" and "Semantics
  for watch": ?watch=1|true.  resourceVersion=N streams every change strictly
  after N in resourceVersion order, then live ones; unset or "0" first sends
  synthetic ADDED events for the current state.  The response is 200,
  chunked, one JSON event per line, and watch objects DO carry kind and
  apiVersion.  With label/field selectors an object that starts matching is
  sent as ADDED and one that stops matching as DELETED, as the watch cache
  does.  sendInitialEvents=true ends the initial state with a BOOKMARK
  annotated "k8s.io/initial-events-end": "true" ("Streaming lists").

* Bookmarks -- api-concepts "Watch bookmarks": with allowWatchBookmarks=true
  the stream carries periodic BOOKMARK events whose object is of the watched
  kind with only metadata.resourceVersion set; a bookmark's version is only
  ever sent after every earlier change has been delivered.

* 410 Gone -- api-concepts "410 Gone responses" (and client-go's reflector,
  which relists on it): a watch from a resourceVersion older than the
  compaction point is answered 200 followed by one ERROR event whose object
  is a Status {code 410, reason "Expired", message "too old resource
  version: N (M)"}, and the stream ends.

* Errors -- api-conventions.md "Response Status Kind": every error body is a
  v1 Status (kind, apiVersion, metadata, status "Failure", message, reason,
  details, code).  401 is reason "Unauthorized"; 403 is reason "Forbidden"
  with the RBAC authorizer's wording ('pods is forbidden: User "..." cannot
  list resource "pods" in API group "" at the cluster scope').

* Timeouts -- a watch ends after timeoutSeconds, or by default after a random
  30..60 minutes (the real server's --min-request-timeout of 1800 s times
  1..2).

Differences a client should not notice: HTTP/1.1 only (ALPN offers only
"http/1.1"; the real server also speaks HTTP/2), JSON only (no protobuf),
no admission (a pod may name a namespace that does not exist), and deleting
a namespace does not delete what is in it.

Using it from a test:

    tests/k8s-test-pki.sh "$dir/pki"
    tests/k8s-apiserver.py --cert "$dir/pki/server.crt" \
        --key "$dir/pki/server.key" --ca "$dir/pki/ca.crt" --token T \
        --bookmark-interval 1 --pidfile "$dir/pid" > "$dir/ports" &
    # wait for the JSON line in $dir/ports: {"port": ..., "control_port":
    # ..., "url": "https://127.0.0.1:PORT", "control_url": ...}
    curl -d @objects.json "$control_url/objects"      # drive the state
    curl -d '{"watch_gone": true}' "$control_url/faults"
    curl "$control_url/stats"                          # what the client did
    kill "$(cat "$dir/pid")"                          # exits 0 on SIGTERM

tests/k8s-apiserver-selftest.sh exercises all of it.  Nothing here is
upstream code; it re-implements the documented behaviour for tests.  The
control API is described in ControlHandler's docstring.
"""

import argparse
import base64
import bisect
import collections
import datetime
import heapq
import json
import os
import random
import re
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_USER = "system:serviceaccount:kube-system:ovs-netpol"
TOO_LARGE_RV_WAIT = 3.0        # seconds the watch cache waits for a future RV
WATCH_BATCH = 4096             # events taken from the log per lock hold
CHUNK_BYTES = 256 * 1024       # watch lines are coalesced into chunks this big
OVERLAY_CACHE = 16             # snapshots whose "undo" maps are cached


def jdump(obj):
    """Compact JSON, as the real server writes it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Resources.

class Resource:
    """One served resource type: names, group/version, scope, and which
    field selectors the real server accepts for it."""

    def __init__(self, plural, kind, api_version, namespaced, fields):
        self.plural = plural
        self.kind = kind
        self.api_version = api_version
        self.group = api_version.rpartition("/")[0]      # "" for core/v1
        self.namespaced = namespaced
        self.list_kind = kind + "List"
        # "pods", "networkpolicies.networking.k8s.io": used in Forbidden.
        self.qualified = plural + ("." + self.group if self.group else "")
        self.fields = fields
        # Every stored object is serialised with kind and apiVersion first,
        # so a list item (which has neither) is "{" + the rest.
        self.json_prefix = jdump({"kind": kind, "apiVersion": api_version})[:-1] + b","

    def key(self, namespace, name):
        """Storage key; sorts like etcd's /registry/<plural>/<ns>/<name>."""
        return "%s/%s" % (namespace, name) if self.namespaced else name


RESOURCES = {r.plural: r for r in (
    Resource("namespaces", "Namespace", "v1", False,
             ("metadata.name", "status.phase")),
    Resource("pods", "Pod", "v1", True,
             ("metadata.name", "metadata.namespace", "spec.nodeName",
              "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
              "status.podIP", "status.nominatedNodeName")),
    Resource("networkpolicies", "NetworkPolicy", "networking.k8s.io/v1", True,
             ("metadata.name", "metadata.namespace")),
)}


def find_resource(name):
    """Resource by plural ("pods"), kind ("Pod") or lower-case kind."""
    if not isinstance(name, str):
        return None
    low = name.lower()
    for res in RESOURCES.values():
        if low in (res.plural, res.kind.lower()):
            return res
    return None


# ---------------------------------------------------------------------------
# Status bodies (api-conventions.md "Response Status Kind").

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired",
    422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}

DEFAULT_MESSAGES = {
    401: "Unauthorized",
    410: "The resourceVersion for the provided list is too old.",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "the server is currently unable to handle the request",
    504: "Timeout: request did not complete within the allotted timeout",
}


def status_obj(code, message, reason=None, details=None, meta=None):
    obj = {"kind": "Status", "apiVersion": "v1", "metadata": meta or {},
           "status": "Failure", "message": message,
           "reason": reason or REASONS.get(code, "Unknown")}
    if details:
        obj["details"] = details
    obj["code"] = code
    return obj


def too_old(rv, oldest):
    return status_obj(410, "too old resource version: %d (%d)" % (rv, oldest),
                      "Expired")


def too_large(rv, current):
    return status_obj(
        504, "Too large resource version: %d, current: %d" % (rv, current),
        "Timeout", {"causes": [{"reason": "ResourceVersionTooLarge",
                                "message": "Too large resource version"}],
                    "retryAfterSeconds": 1})


def forbidden(user, verb, res, namespace, name=None):
    what = res.qualified + (' "%s"' % name if name else "")
    scope = ('in the namespace "%s"' % namespace if namespace
             else "at the cluster scope")
    message = ('%s is forbidden: User "%s" cannot %s resource "%s" in API '
               'group "%s" %s' % (what, user, verb, res.plural, res.group, scope))
    details = {}
    if name:
        details["name"] = name
    if res.group:
        details["group"] = res.group
    details["kind"] = res.plural
    return status_obj(403, message, "Forbidden", details)


# ---------------------------------------------------------------------------
# Label and field selectors (the subset the real server accepts).

_LABEL_KEY = re.compile(r"^([a-z0-9A-Z.-]+/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")
_SET_REQ = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


def _split_top(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _field_value(obj, path):
    cur = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


class Selector:
    """labelSelector and fieldSelector of one request; raises ValueError
    with the real server's message when one does not parse."""

    def __init__(self, res, label_text, field_text):
        self.labels = []    # (key, op, values)
        self.fields = []    # (path, op, value)
        for req in _split_top(label_text):
            m = _SET_REQ.match(req)
            if m:
                key, op = m.group(1), m.group(2)
                vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            elif req.startswith("!"):
                key, op, vals = req[1:].strip(), "!exists", None
            elif "!=" in req:
                key, _, val = req.partition("!=")
                op, vals = "!=", val.strip()
            elif "=" in req:
                key, _, val = req.partition("==" if "==" in req else "=")
                op, vals = "=", val.strip()
            else:
                key, op, vals = req, "exists", None
            key = key.strip()
            if not _LABEL_KEY.match(key):
                raise ValueError("unable to parse requirement: invalid label key %r" % key)
            self.labels.append((key, op, vals))
        for req in _split_top(field_text):
            if "!=" in req:
                path, _, val = req.partition("!=")
                op = "!="
            elif "=" in req:
                path, _, val = req.partition("==" if "==" in req else "=")
                op = "="
            else:
                raise ValueError("invalid selector: '%s'; can't understand '%s'"
                                 % (field_text, req))
            path = path.strip()
            if path not in res.fields:
                raise ValueError('field label not supported: %s' % path)
            self.fields.append((path, op, val.strip()))

    def __bool__(self):
        return bool(self.labels or self.fields)

    def matches(self, obj):
        labels = obj.get("metadata", {}).get("labels") or {}
        for key, op, vals in self.labels:
            present = key in labels
            val = labels.get(key)
            if op == "=" and val != vals:
                return False
            if op == "!=" and val == vals:
                return False
            if op == "in" and val not in vals:
                return False
            if op == "notin" and present and val in vals:
                return False
            if op == "exists" and not present:
                return False
            if op == "!exists" and present:
                return False
        for path, op, want in self.fields:
            if (_field_value(obj, path) == want) != (op == "="):
                return False
        return True


# ---------------------------------------------------------------------------
# Storage: current objects, the event log (history) and snapshots.

class Record:
    """One immutable version of one object.  Its JSON is computed once,
    lazily, outside the store lock, and shared by every reader."""

    __slots__ = ("res", "key", "rv", "obj", "_json")

    def __init__(self, res, key, rv, obj):
        self.res, self.key, self.rv, self.obj = res, key, rv, obj
        self._json = None

    @property
    def json(self):
        j = self._json
        if j is None:
            j = self._json = jdump(self.obj)
        return j

    def item_parts(self):
        """The list-item form (no kind/apiVersion), as pieces for join()."""
        return (b"{", memoryview(self.json)[len(self.res.json_prefix):])


def event_line(etype, rec):
    return b'{"type":"%s","object":%s}\n' % (etype.encode(), rec.json)


class Event:
    """One change: the record after it (the DELETED event's record is the
    last state with the deletion's resourceVersion) and the one before it
    (None for a creation), which is how older snapshots are rebuilt."""

    __slots__ = ("rv", "res", "etype", "rec", "prev", "_line")

    def __init__(self, rv, res, etype, rec, prev):
        self.rv, self.res, self.etype, self.rec, self.prev = rv, res, etype, rec, prev
        self._line = None

    def line(self):
        ln = self._line
        if ln is None:
            ln = self._line = event_line(self.etype, self.rec)
        return ln


class Faults:
    """Pending injected faults.  Guarded by the store's lock."""

    def __init__(self):
        self.http = []          # dicts: status, count, paths, verb, message, retry_after
        self.drop = []          # (resource or None,), one per pending drop
        self.malformed = []     # (resource or None, mode)
        self.stalls = []        # (monotonic end, resource or None)
        self.actions = []       # (epoch, resource or None, "gone"|"close") for open watches
        self.epoch = 0
        self.pending_new = []   # (resource or None, "gone"|"close") for future watches

    @staticmethod
    def claim(lst, plural):
        """Remove and return the first entry, a (resource or None, ...)
        tuple, that applies to plural; None if there is none."""
        for i, entry in enumerate(lst):
            if entry[0] is None or entry[0] == plural:
                del lst[i]
                return entry
        return None

    def action_since(self, epoch, plural):
        for ep, r, action in self.actions:
            if ep > epoch and (r is None or r == plural):
                return action
        return None

    def stall_end(self, plural, now):
        self.stalls = [s for s in self.stalls if s[0] > now]
        ends = [end for end, r in self.stalls if r is None or r == plural]
        return max(ends) if ends else 0.0

    def summary(self):
        now = time.monotonic()
        return {"http": self.http, "drop_stream_mid_event": len(self.drop),
                "malformed_event": [m for _, m in self.malformed],
                "stall_remaining": max([e - now for e, _ in self.stalls] + [0.0]),
                "pending_new_watch_actions": [a for _, a in self.pending_new]}


class Store:
    """All objects, with etcd-like history.

    Every change appends one Event, so the event for resourceVersion r sits
    at events[r - compacted - 1].  "compacted" is the compaction point C:
    the state at C and every later state can be rebuilt, older ones cannot.

    A snapshot S (C <= S <= rv) is rebuilt lazily as an "overlay": for each
    key changed after S, its record at S (the prev of its first event after
    S), or None if it did not exist.  Overlays are cached per S and extended
    incrementally, so paging through a list costs O(page + changes since S).
    """

    def __init__(self, max_history=0):
        self.cond = threading.Condition()
        self.rv = 0
        self.compacted = 0
        self.events = []
        self.objs = {p: {} for p in RESOURCES}     # plural -> key -> Record
        self.keys = {p: [] for p in RESOURCES}     # plural -> sorted keys
        self.overlays = collections.OrderedDict()  # S -> [upto rv, {plural: {key: rec|None}}]
        self.max_history = max_history
        self.faults = Faults()
        self.open_watches = collections.Counter()
        self.closing = False

    # -- writes ------------------------------------------------------------

    @staticmethod
    def prepare(o):
        """Validate a posted object; return (res, key, normalised copy)."""
        if not isinstance(o, dict):
            raise ValueError("object is not a JSON object")
        res = find_resource(o.get("kind"))
        if res is None:
            raise ValueError("unsupported kind %r" % o.get("kind"))
        if o.get("apiVersion") not in (None, res.api_version):
            raise ValueError("%s must have apiVersion %s" % (res.kind, res.api_version))
        meta = o.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) \
                or not meta["name"]:
            raise ValueError("metadata.name is required")
        meta = dict(meta)
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        for k, v in o.items():
            if k not in obj:
                obj[k] = v
        if res.plural == "namespaces":
            # Since 1.21 the server sets this immutable label on every
            # namespace; NetworkPolicy namespaceSelectors rely on it.
            labels = dict(meta.get("labels") or {})
            labels["kubernetes.io/metadata.name"] = meta["name"]
            meta["labels"] = labels
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        return res, res.key(meta.get("namespace"), meta["name"]), obj

    def _put(self, res, key, obj):
        """Store one prepared object (lock held).  Returns (record,
        changed, is_new_key)."""
        meta = obj["metadata"]
        old = self.objs[res.plural].get(key)
        if old is not None:
            ometa = old.obj["metadata"]
            meta["uid"] = ometa["uid"]
            meta["creationTimestamp"] = ometa["creationTimestamp"]
            if "generation" in ometa:
                meta["generation"] = ometa["generation"] + (
                    obj.get("spec") != old.obj.get("spec"))
            meta["resourceVersion"] = ometa["resourceVersion"]
            if self._ordered(obj) == old.obj:
                return old, False, False           # no-op update
        else:
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or now_rfc3339()
            if res.plural == "networkpolicies":
                meta["generation"] = 1
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        rec = Record(res, key, self.rv, self._ordered(obj))
        self.objs[res.plural][key] = rec
        self.events.append(Event(self.rv, res, "MODIFIED" if old else "ADDED",
                                 rec, old))
        return rec, True, old is None

    @staticmethod
    def _ordered(obj):
        """kind, apiVersion, metadata (name, namespace, uid, ... first)."""
        meta = obj["metadata"]
        om = {}
        for k in ("name", "namespace", "uid", "resourceVersion", "generation",
                  "creationTimestamp"):
            if k in meta:
                om[k] = meta[k]
        om.update(meta)
        out = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "metadata": om}
        out.update(obj)
        out["metadata"] = om
        return out

    def put_many(self, prepared):
        """Create or replace prepared objects atomically; one event each."""
        results = []
        with self.cond:
            new_keys = collections.defaultdict(list)
            for res, key, obj in prepared:
                rec, changed, is_new = self._put(res, key, obj)
                if is_new:
                    new_keys[res.plural].append(key)
                results.append((rec, changed))
            for plural, ks in new_keys.items():
                if len(ks) > 256:
                    self.keys[plural] = sorted(self.objs[plural])
                else:
                    for k in ks:
                        bisect.insort(self.keys[plural], k)
            self._trim()
            self.cond.notify_all()
        return results

    def delete_many(self, refs):
        """Delete (res, key) pairs; returns the DELETED records (None for
        objects that did not exist)."""
        out = []
        with self.cond:
            for res, key in refs:
                rec = self.objs[res.plural].pop(key, None)
                if rec is None:
                    out.append(None)
                    continue
                keys = self.keys[res.plural]
                del keys[bisect.bisect_left(keys, key)]
                self.rv += 1
                obj = dict(rec.obj)
                obj["metadata"] = dict(obj["metadata"], resourceVersion=str(self.rv))
                drec = Record(res, key, self.rv, obj)
                self.events.append(Event(self.rv, res, "DELETED", drec, rec))
                out.append(drec)
            self._trim()
            self.cond.notify_all()
        return out

    def compact(self, to=None):
        """Move the compaction point to `to` (default: now)."""
        with self.cond:
            target = self.rv if to is None else max(0, min(int(to), self.rv))
            if target > self.compacted:
                del self.events[:target - self.compacted]
                self.compacted = target
                for s in [s for s in self.overlays if s < target]:
                    del self.overlays[s]
                self.cond.notify_all()
            return self.compacted

    def _trim(self):
        if self.max_history and len(self.events) > self.max_history:
            target = self.rv - self.max_history
            del self.events[:target - self.compacted]
            self.compacted = target
            for s in [s for s in self.overlays if s < target]:
                del self.overlays[s]

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()

    # -- reads (lock held by the caller) ---------------------------------------

    def _overlay(self, snap):
        if snap >= self.rv:
            return {}
        ent = self.overlays.get(snap)
        if ent is None:
            ent = self.overlays[snap] = [snap, {}]
            while len(self.overlays) > OVERLAY_CACHE:
                self.overlays.popitem(last=False)
        upto, ov = ent
        for i in range(upto - self.compacted, self.rv - self.compacted):
            ev = self.events[i]
            d = ov.setdefault(ev.res.plural, {})
            if ev.rec.key not in d:
                d[ev.rec.key] = ev.prev
        ent[0] = self.rv
        return ov

    def list_page(self, res, prefix, snap, after, limit, sel):
        """Items of the snapshot `snap` whose key starts with `prefix` and
        sorts after `after`; at most `limit` (0: all).  Returns (records,
        last key, more, remainingItemCount or None)."""
        ov = self._overlay(snap).get(res.plural, {})
        cur = self.objs[res.plural]
        keys = self.keys[res.plural]
        lo = prefix if after is None else max(prefix, after + "\x00")
        i = bisect.bisect_left(keys, lo)
        extras = sorted(k for k, r in ov.items()
                        if r is not None and k not in cur and k >= lo
                        and k.startswith(prefix))
        recs, last, more = [], None, False
        for k in heapq.merge((keys[j] for j in range(i, len(keys))), extras):
            if not k.startswith(prefix):
                break
            rec = ov[k] if k in ov else cur[k]
            if rec is None or (sel and not sel.matches(rec.obj)):
                continue
            if limit and len(recs) == limit:
                more = True
                break
            recs.append(rec)
            last = k
        remaining = None
        if more and not sel:
            if prefix:
                end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
                hi = bisect.bisect_left(keys, end)
            else:
                hi = len(keys)
            remaining = hi - bisect.bisect_right(keys, last)
            for k, r in ov.items():
                if k > last and k.startswith(prefix):
                    remaining += (r is not None) - (k in cur)
        return recs, last, more, remaining

    def events_after(self, pos, maxn):
        i = pos - self.compacted
        return self.events[i:i + maxn]


# ---------------------------------------------------------------------------
# Continue tokens: base64url(JSON) holding the snapshot and the last key,
# shaped like upstream's ({"v":"meta.k8s.io/v1","rv":N,"start":"key\x00"}).

def encode_continue(res, snap, key):
    tok = {"v": "meta.k8s.io/v1", "rv": snap,
           "start": "/registry/%s/%s\x00" % (res.plural, key)}
    return base64.urlsafe_b64encode(jdump(tok)).rstrip(b"=").decode()


def decode_continue(res, token, prefix):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        tok = json.loads(raw)
        snap, start = int(tok["rv"]), tok["start"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError("continue key is not valid: %s" % e)
    if tok.get("v") != "meta.k8s.io/v1":
        raise ValueError("continue key is not valid: server does not recognize this encoded version")
    base = "/registry/%s/" % res.plural
    if not start.startswith(base + prefix) or not start.endswith("\x00"):
        raise ValueError("continue key is not valid: key provided is not in the requested range")
    return snap, start[len(base):-1]


# ---------------------------------------------------------------------------
# Counters for GET /stats, and the request log for GET /requests.

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.log = collections.deque(maxlen=10000)
        self.reset()

    def reset(self):
        with self.lock:
            self.c = collections.Counter()
            self.requests = collections.Counter()
            self.log.clear()

    def add(self, name, n=1):
        with self.lock:
            self.c[name] += n

    def request(self, method, path):
        with self.lock:
            self.requests["%s %s" % (method, path)] += 1

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


# ---------------------------------------------------------------------------
# HTTP plumbing shared by both ports.

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    verbose = False

    def server_bind(self):
        # Skip HTTPServer's getfqdn(), which may do slow DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server_class(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return type("Server", (_Server,), {"address_family": family})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1"
    timeout = 120      # socket timeout: bounds writes to clients that stop reading

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def send_body(self, code, body, ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.code_sent = code


# ---------------------------------------------------------------------------
# The API port.

class Identity:
    def __init__(self, user, allow=None):
        self.user = user
        self.allow = allow          # None: everything; else plural -> verbs

    def can(self, verb, res):
        if self.allow is None:
            return True
        verbs = self.allow.get(res.plural, self.allow.get("*", []))
        return verbs == "*" or "*" in verbs or verb in verbs


class APIHandler(_Handler):
    """GET handlers of the Kubernetes API."""

    # -- entry points ------------------------------------------------------

    def do_GET(self):
        self.code_sent = self.user = None
        try:
            self._get()
        except (OSError, ssl.SSLError, ValueError) as e:
            # Client went away (BrokenPipe, reset, timeout, TLS error).
            self.close_connection = True
            if self.server.verbose:
                sys.stderr.write("request ended: %r\n" % e)
        finally:
            self._record()

    def _not_allowed(self):
        self.code_sent = self.user = None
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.stats.request(self.command, urlsplit(self.path).path)
        self.send_status(status_obj(
            405, "the server does not allow this method on the requested resource",
            "MethodNotAllowed"))
        self._record()

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed

    def _record(self):
        self.server.stats.record({
            "time": time.time(), "method": self.command, "path": self.path,
            "user": getattr(self, "user", None), "code": self.code_sent})

    def send_status(self, st, headers=()):
        self.send_body(st["code"], jdump(st), headers=headers)

    # -- routing -------------------------------------------------------------

    @staticmethod
    def route(path):
        """(Resource, namespace, name) for a resource path, else None."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif parts[:3] == ["apis", "networking.k8s.io", "v1"]:
            group, rest = "networking.k8s.io", parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return None
        res = RESOURCES.get(rest[0])
        if res is None or res.group != group or (ns is not None and not res.namespaced):
            return None
        return res, ns, (rest[1] if len(rest) == 2 else None)

    def _get(self):
        srv = self.server
        url = urlsplit(self.path)
        path = unquote(url.path)
        q = dict(parse_qsl(url.query, keep_blank_values=True))
        srv.stats.request("GET", path)
        route = self.route(path)
        watch = q.get("watch") in ("1", "true")
        verb = None
        if route:
            verb = "watch" if watch else ("get" if route[2] else "list")

        fault = self._take_http_fault(path, verb)
        if fault:
            return self._serve_fault(fault, route, verb)

        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_body(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_body(200, jdump(VERSION))

        ident = self._authenticate()
        if ident is None:
            srv.stats.add("unauthorized")
            return self.send_status(status_obj(401, "Unauthorized"))
        self.user = ident.user

        if route is None:
            return self._discovery(path)
        res, ns, name = route
        if not ident.can(verb, res):
            srv.stats.add("forbidden")
            authz_ns = ns or (name if res.plural == "namespaces" else None)
            return self.send_status(forbidden(ident.user, verb, res, authz_ns, name))

        try:
            sel = Selector(res, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        except ValueError as e:
            return self.send_status(status_obj(400, str(e)))
        if watch:
            if name:
                sel.fields.append(("metadata.name", "=", name))
            srv.stats.add("watch_calls")
            srv.stats.add("watch_calls." + res.plural)
            return self._serve_watch(res, ns, q, sel)
        if name:
            srv.stats.add("get_calls")
            return self._serve_get(res, ns, name)
        srv.stats.add("list_calls")
        srv.stats.add("list_calls." + res.plural)
        return self._serve_list(res, ns, q, sel)

    def _discovery(self, path):
        if path == "/api":
            return self.send_body(200, jdump({"kind": "APIVersions", "versions": ["v1"]}))
        if path == "/apis":
            return self.send_body(200, jdump({
                "kind": "APIGroupList", "apiVersion": "v1", "groups": [{
                    "name": "networking.k8s.io",
                    "versions": [{"groupVersion": "networking.k8s.io/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "networking.k8s.io/v1",
                                         "version": "v1"}}]}))
        for gv in ("v1", "networking.k8s.io/v1"):
            if path == ("/api/v1" if gv == "v1" else "/apis/" + gv):
                return self.send_body(200, jdump({
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": [{"name": r.plural, "namespaced": r.namespaced,
                                   "kind": r.kind, "verbs": ["get", "list", "watch"]}
                                  for r in RESOURCES.values() if r.api_version == gv]}))
        return self.send_status(status_obj(
            404, "the server could not find the requested resource", "NotFound",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))

    # -- authentication and faults -------------------------------------------------

    def _authenticate(self):
        srv = self.server
        # x509 first, then bearer tokens, as the real union authenticator.
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return Identity(v)
                return Identity("unknown-client-cert")
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            with srv.tokens_lock:
                spec = srv.tokens.get(auth[7:].strip())
            if spec is not None:
                return Identity(spec.get("user", srv.default_user), spec.get("allow"))
            return None
        if srv.anonymous:
            return Identity("system:anonymous")
        return None

    def _take_http_fault(self, path, verb):
        store = self.server.store
        with store.cond:
            for f in store.faults.http:
                if not any(path.startswith(p) for p in f["paths"]):
                    continue
                if f["verb"] and f["verb"] != verb:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    store.faults.http.remove(f)
                return dict(f)
        return None

    def _serve_fault(self, f, route, verb):
        self.server.stats.add("http_faults")
        code = f["status"]
        headers = []
        if code == 403 and route and not f.get("message"):
            res, ns, name = route
            st = forbidden(self.server.default_user, verb, res, ns, name)
        else:
            st = status_obj(code, f.get("message") or DEFAULT_MESSAGES.get(code, "injected fault"))
            if code == 500:
                st["details"] = {"causes": [{"message": "injected fault"}]}
        if code in (429, 503) or f.get("retry_after") is not None:
            ra = int(f.get("retry_after") or 1)
            st["details"] = dict(st.get("details") or {}, retryAfterSeconds=ra)
            headers.append(("Retry-After", str(ra)))
        self.send_status(st, headers)

    # -- get and list -------------------------------------------------------------

    def _serve_get(self, res, ns, name):
        store = self.server.store
        with store.cond:
            rec = store.objs[res.plural].get(res.key(ns, name))
        if rec is None:
            return self.send_status(status_obj(
                404, '%s "%s" not found' % (res.qualified, name), "NotFound",
                dict({"name": name, "kind": res.plural},
                     **({"group": res.group} if res.group else {}))))
        self.send_body(200, rec.json)

    def _wait_for_rv(self, rv):
        """Wait (lock held) until the store reaches rv; False on timeout."""
        store = self.server.store
        deadline = time.monotonic() + self.server.too_large_wait
        while store.rv < rv and not store.closing:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            store.cond.wait(left)
        return store.rv >= rv

    def _serve_list(self, res, ns, q, sel):
        store = self.server.store
        try:
            limit = max(0, int(q.get("limit") or 0))
        except ValueError:
            return self.send_status(status_obj(400, "limit: Invalid value: %r" % q["limit"]))
        token = q.get("continue", "")
        rvp = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        prefix = ns + "/" if ns else ""
        error = None
        with store.cond:
            after = None
            if token:
                if rvp not in ("", "0"):
                    error = status_obj(400, "specifying resource version is not allowed when using continue")
                else:
                    try:
                        snap, after = decode_continue(res, token, prefix)
                    except ValueError as e:
                        error = status_obj(400, str(e))
                    else:
                        self.server.stats.add("continue_pages")
                        if snap == -1:              # inconsistent continuation
                            snap = store.rv
                        elif snap < store.compacted:
                            error = status_obj(
                                410, "The provided continue parameter is too old to display a "
                                "consistent list result. You can start a new list without the "
                                "continue parameter, or use the continue token in this response "
                                "to retrieve the remainder of the results. Continuing with the "
                                "provided token results in an inconsistent list - objects that "
                                "were created, modified, or deleted between the time the first "
                                "chunk was returned and now may show up in the list.",
                                "Expired", meta={"continue": encode_continue(res, -1, after)})
                        elif snap > store.rv:
                            error = status_obj(400, "continue key is not valid: resource version from the future")
            else:
                try:
                    want = int(rvp) if rvp else 0
                except ValueError:
                    want = None
                if want is None or want < 0:
                    error = status_obj(400, "invalid resource version: %r" % rvp)
                elif match == "Exact":
                    if want < store.compacted:
                        error = too_old(want, store.compacted)
                    elif not self._wait_for_rv(want):
                        error = too_large(want, store.rv)
                    snap = want
                else:
                    # unset, "0", NotOlderThan: serve the latest state once
                    # it is at least as fresh as asked.
                    if want and not self._wait_for_rv(want):
                        error = too_large(want, store.rv)
                    snap = store.rv
            if error is None:
                recs, last, more, remaining = store.list_page(res, prefix, snap, after, limit, sel)
        if error is not None:
            return self.send_status(error)
        meta = {"resourceVersion": str(snap)}
        if more:
            meta["continue"] = encode_continue(res, snap, last)
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        head = jdump({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})
        parts = [head[:-1], b',"items":[']
        for i, rec in enumerate(recs):
            if i:
                parts.append(b",")
            parts.extend(rec.item_parts())
        parts.append(b"]}")
        self.send_body(200, b"".join(parts))

    # -- watch --------------------------------------------------------------------

    def _chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def _chunks(self, lines):
        buf, size = [], 0
        for ln in lines:
            buf.append(ln)
            size += len(ln)
            if size >= CHUNK_BYTES:
                self._chunk(b"".join(buf))
                buf, size = [], 0
        self._chunk(b"".join(buf))

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")

    def _abort(self):
        """Cut the connection without ending the chunked body."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _peer_closed(self):
        """True when the client has closed its end of an idle watch."""
        sock = self.connection
        poller = select.poll()      # not select(): descriptors may be >= 1024
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            if isinstance(sock, ssl.SSLSocket):
                old = sock.gettimeout()
                sock.settimeout(0)
                try:
                    return sock.recv(1) == b""
                except ssl.SSLWantReadError:
                    return False
                finally:
                    sock.settimeout(old)
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    @staticmethod
    def _bookmark(res, rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return jdump({"type": "BOOKMARK", "object": {
            "kind": res.kind, "apiVersion": res.api_version, "metadata": meta}}) + b"\n"

    @staticmethod
    def _error_line(st):
        return jdump({"type": "ERROR", "object": st}) + b"\n"

    @staticmethod
    def _malformed_line(res, mode):
        obj = jdump({"kind": res.kind, "apiVersion": res.api_version,
                     "metadata": {"name": "malformed", "namespace": "default",
                                  "resourceVersion": "1"}})
        lines = {
            "garbage": b'{"type":"MODIFIED","object":{"kind":"' + res.kind.encode() +
                       b'", this is not JSON\n',
            "missing_object": b'{"type":"MODIFIED"}\n',
            "missing_type": b'{"object":' + obj + b'}\n',
            "unknown_type": b'{"type":"SURPRISE","object":' + obj + b'}\n',
            "object_not_object": b'{"type":"ADDED","object":"not an object"}\n',
            "missing_metadata": b'{"type":"ADDED","object":{"kind":"' +
                                res.kind.encode() + b'"}}\n',
        }
        return lines.get(mode, lines["garbage"])

    @staticmethod
    def _filter(ev, res, prefix, sel):
        """The line to send a watcher for ev, or None."""
        if ev.res is not res or (prefix and not ev.rec.key.startswith(prefix)):
            return None
        if not sel:
            return ev.line()
        if ev.etype == "DELETED":
            return ev.line() if sel.matches(ev.prev.obj) else None
        now_ok = sel.matches(ev.rec.obj)
        was_ok = ev.prev is not None and sel.matches(ev.prev.obj)
        if now_ok:
            return ev.line() if was_ok or ev.etype == "ADDED" else event_line("ADDED", ev.rec)
        return event_line("DELETED", ev.rec) if was_ok else None

    def _serve_watch(self, res, ns, q, sel):
        srv = self.server
        store = srv.store
        stats = srv.stats
        rvp = q.get("resourceVersion", "")
        try:
            start = int(rvp) if rvp not in ("", "0") else None
            if start is not None and start < 0:
                raise ValueError
        except ValueError:
            return self.send_status(status_obj(400, "invalid resource version: %r" % rvp))
        try:
            timeout = int(q.get("timeoutSeconds") or 0)
        except ValueError:
            timeout = 0
        if timeout <= 0:
            timeout = srv.watch_timeout or random.uniform(1800, 3600)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        send_initial = q.get("sendInitialEvents") in ("1", "true")
        prefix = ns + "/" if ns else ""

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.code_sent = 200
        deadline = time.monotonic() + timeout

        counts = collections.Counter()
        with store.cond:
            store.open_watches[res.plural] += 1
        try:
            with store.cond:
                epoch = store.faults.epoch
                pending = Faults.claim(store.faults.pending_new, res.plural)
                initial, error, pos = None, None, store.rv
                if pending:
                    pos = start if start is not None else store.rv
                    error = too_old(pos, store.rv) if pending[1] == "gone" else "close"
                elif start is None:
                    initial, _, _, _ = store.list_page(res, prefix, store.rv, None, 0, sel)
                elif start < store.compacted:
                    error = too_old(start, store.compacted)
                elif not self._wait_for_rv(start):
                    error = too_large(start, store.rv)
                else:
                    pos = start
            if error == "close":
                return self._end_stream()
            if error is not None:
                self._chunk(self._error_line(error))
                counts["errors"] += 1
                return self._end_stream()
            if initial is not None:
                self._chunks(event_line("ADDED", rec) for rec in initial)
                counts["events"] += len(initial)
                if send_initial and bookmarks:
                    self._chunk(self._bookmark(res, pos, True))
                    counts["bookmarks"] += 1
            self._watch_loop(res, prefix, sel, pos, epoch, deadline, bookmarks, counts)
        finally:
            with store.cond:
                store.open_watches[res.plural] -= 1
            for k, n in counts.items():
                stats.add("watch_" + k + "_sent", n)

    def _watch_loop(self, res, prefix, sel, pos, epoch, deadline, bookmarks, counts):
        srv = self.server
        store = srv.store
        interval = srv.bookmark_interval
        next_bm = time.monotonic() + interval
        plural = res.plural
        while True:
            batch, bad, action, idle = None, None, None, False
            with store.cond:
                now = time.monotonic()
                faults = store.faults
                if store.closing or now >= deadline:
                    action = "close"
                elif faults.epoch > epoch:
                    action = faults.action_since(epoch, plural)
                    epoch = faults.epoch
                if action is None:
                    stall = faults.stall_end(plural, now)
                    if stall > now:
                        # A stalled stream sends nothing, not even bookmarks.
                        store.cond.wait(min(stall, deadline) - now)
                        continue
                    bad = Faults.claim(faults.malformed, plural)
                    if pos < store.compacted:
                        # History this watcher had not read yet was compacted.
                        action = "gone"
                    else:
                        batch = store.events_after(pos, WATCH_BATCH)
                        if not batch and bad is None and not (bookmarks and now >= next_bm):
                            wake = min(deadline, now + 1.0)
                            if bookmarks:
                                wake = min(wake, next_bm)
                            store.cond.wait(max(0.0, wake - now))
                            idle = True
                if action == "gone":
                    gone_st = too_old(pos, store.compacted if pos < store.compacted else store.rv)
            if action == "close":
                return self._end_stream()
            if action == "gone":
                self._chunk(self._error_line(gone_st))
                counts["errors"] += 1
                return self._end_stream()
            if idle:
                if self._peer_closed():
                    self.close_connection = True
                    return None
                continue
            if bad is not None:
                self._chunk(self._malformed_line(res, bad[1]))
                counts["malformed"] += 1
            if batch:
                lines = [ln for ln in (self._filter(ev, res, prefix, sel) for ev in batch) if ln]
                pos = batch[-1].rv
                if lines:
                    with store.cond:
                        drop = Faults.claim(store.faults.drop, plural) is not None
                    if drop:
                        self._chunk(lines[0][:len(lines[0]) // 2])
                        counts["dropped"] += 1
                        return self._abort()
                    self._chunks(lines)
                    counts["events"] += len(lines)
            if bookmarks and time.monotonic() >= next_bm:
                self._chunk(self._bookmark(res, pos))
                counts["bookmarks"] += 1
                next_bm = time.monotonic() + interval


VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake",
           "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z",
           "goVersion": "go1.22.0", "compiler": "gc", "platform": "linux/amd64"}


class TLSServerMixin:
    """Do the TLS handshake in the request's own thread, not in accept(),
    so that one slow or broken client cannot stall the others."""

    ssl_context = None

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.stats.add("tls_handshake_failures")
            if self.verbose:
                sys.stderr.write("TLS handshake with %s failed: %s\n" % (client_address, e))
            return None
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass
        return None


# ---------------------------------------------------------------------------
# The control port.

class ControlHandler(_Handler):
    """Control API (plain HTTP, 127.0.0.1, JSON bodies and replies).

    POST   /objects          create or replace: one object, a JSON array, or a
                             List ({"items": [...]}); ADDED / MODIFIED events;
                             identical content is a no-op.  Replies
                             {"resourceVersion", "changed", "unchanged",
                             "objects": [...] (when 1000 or fewer)}.
    DELETE /objects/KIND/NS/NAME, /objects/KIND/NAME (cluster scope)
                             DELETED event; 404 if absent.
    POST   /objects/delete   bulk delete: objects or {"kind","namespace","name"}.
    GET    /objects/KIND     current objects of KIND (a List), for debugging.
    POST   /faults           one fault object or an array of them; each has
                             one key of:
        {"http_status": 410|500|503|401|403|429|..., "count": n (1),
         "paths": prefix or [prefixes] (default "/api", i.e. /api and /apis),
         "verb": "list"|"watch"|"get" (any), "message": ..., "retry_after": s}
                             the next n matching API requests get that status
                             and a Status body (checked before authentication).
        {"drop_stream_mid_event": true, "count": n}
                             the next n watch events are cut in the middle and
                             the connection closed without ending the chunked body.
        {"watch_gone": true, "count": n}
                             every open watch gets ERROR 410 "too old resource
                             version" and ends; and the next n new watches get
                             it at once (n defaults to 1 when no watch is open,
                             else 0).
        {"close_watches": true, "count": n}
                             same, but the streams end cleanly (as on timeout).
        {"stall": seconds}   open and new watches send nothing, not even
                             bookmarks, for that long (events queue up).
        {"malformed_event": true|"garbage"|"missing_object"|"missing_type"|
                            "unknown_type"|"object_not_object"|"missing_metadata",
         "count": n}         one bad line on the next n watch streams; the
                             streams then go on normally.
        {"compact": true, "rv": N (optional)}
                             move the compaction point to N (default: now).
      Every watch fault takes an optional "resource" ("pods", "Pod", ...) to
      hit only watches of that resource.
    GET    /faults           pending faults.   DELETE /faults: clear them.
    POST   /compact          {"rv": N} optional; same as the compact fault.
    GET    /stats            counters (see Stats), rv, compacted_rv, open watches.
    DELETE /stats            reset the counters and the request log.
    GET    /requests         the last 10000 API requests (method, path with
                             query, user, code); DELETE /requests clears it.
    POST   /tokens           {"tokens": {TOKEN: {"user": ..., "allow":
                             {"pods": ["list", "watch"], ...}} | {} (full) |
                             null (remove)}, "replace": bool}.
    GET    /tokens           the configured tokens.
    """

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def reply(self, code, obj):
        self.send_body(code, jdump(obj))

    def _dispatch(self, method):
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as e:
            return self.reply(400, {"error": "body is not JSON: %s" % e})
        try:
            handler = getattr(self, "_%s_%s" % (method.lower(), path.strip("/").split("/")[0]), None)
            if handler is None:
                return self.reply(404, {"error": "no such control endpoint: %s %s" % (method, path)})
            return handler(path, body)
        except (ValueError, TypeError, KeyError) as e:
            return self.reply(400, {"error": str(e)})

    # -- objects -------------------------------------------------------------------

    @staticmethod
    def _items(body):
        if isinstance(body, list):
            return body
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            return body["items"]
        if isinstance(body, dict):
            return [body]
        raise ValueError("expected an object, an array or a List")

    def _post_objects(self, path, body):
        store = self.server.store
        if path == "/objects/delete":
            return self._bulk_delete(body)
        prepared = [Store.prepare(o) for o in self._items(body)]
        results = store.put_many(prepared)
        changed = sum(1 for _, c in results if c)
        out = {"resourceVersion": str(store.rv), "changed": changed,
               "unchanged": len(results) - changed}
        if len(results) <= 1000:
            out["objects"] = [{
                "kind": r.res.kind, "namespace": r.obj["metadata"].get("namespace"),
                "name": r.obj["metadata"]["name"], "uid": r.obj["metadata"]["uid"],
                "resourceVersion": r.obj["metadata"]["resourceVersion"],
                "changed": c} for r, c in results]
        self.reply(200, out)

    def _ref(self, item):
        res = find_resource(item.get("kind"))
        if res is None:
            raise ValueError("unsupported kind %r" % item.get("kind"))
        meta = item.get("metadata") or item
        ns = (meta.get("namespace") or "default") if res.namespaced else None
        return res, res.key(ns, meta["name"])

    def _bulk_delete(self, body):
        refs = [self._ref(i) for i in self._items(body)]
        out = self.server.store.delete_many(refs)
        self.reply(200, {"resourceVersion": str(self.server.store.rv),
                         "deleted": sum(1 for r in out if r),
                         "missing": sum(1 for r in out if r is None)})

    def _delete_objects(self, path, body):
        parts = path.split("/")[2:]
        res = find_resource(parts[0]) if parts else None
        if res is None or len(parts) not in (2, 3):
            raise ValueError("use DELETE /objects/KIND/NAMESPACE/NAME or /objects/KIND/NAME")
        name = parts[-1]
        ns = (parts[1] if len(parts) == 3 else "default") if res.namespaced else None
        rec = self.server.store.delete_many([(res, res.key(ns, name))])[0]
        if rec is None:
            return self.reply(404, {"error": "%s %s not found" % (res.plural, res.key(ns, name))})
        self.reply(200, {"resourceVersion": rec.obj["metadata"]["resourceVersion"]})

    def _get_objects(self, path, body):
        parts = path.split("/")[2:]
        res = find_resource(parts[0]) if parts else None
        if res is None:
            raise ValueError("use GET /objects/KIND")
        store = self.server.store
        with store.cond:
            recs = [store.objs[res.plural][k] for k in store.keys[res.plural]]
            rv = store.rv
        self.send_body(200, b'{"kind":"List","metadata":{"resourceVersion":"%d"},"items":[' % rv
                       + b",".join(r.json for r in recs) + b"]}")

    # -- faults ---------------------------------------------------------------------

    def _post_faults(self, path, body):
        for f in (body if isinstance(body, list) else [body]):
            if not isinstance(f, dict):
                raise ValueError("a fault is a JSON object")
            self._add_fault(f)
        with self.server.store.cond:
            self.reply(200, self.server.store.faults.summary())

    def _add_fault(self, f):
        store = self.server.store
        res = None
        if f.get("resource") is not None:
            r = find_resource(f["resource"])
            if r is None:
                raise ValueError("unknown resource %r" % f["resource"])
            res = r.plural
        count = int(f.get("count", 1))
        known = ("http_status", "drop_stream_mid_event", "watch_gone", "close_watches",
                 "stall", "malformed_event", "compact")
        kinds = [k for k in known if k in f and f[k] not in (False, None)]
        if len(kinds) != 1:
            raise ValueError("a fault needs exactly one of %s" % ", ".join(known))
        kind = kinds[0]
        if kind == "compact":
            store.compact(f.get("rv"))
            return
        with store.cond:
            faults = store.faults
            if kind == "http_status":
                paths = f.get("paths") or ["/api"]
                faults.http.append({
                    "status": int(f["http_status"]), "count": count,
                    "paths": [paths] if isinstance(paths, str) else list(paths),
                    "verb": f.get("verb"), "message": f.get("message"),
                    "retry_after": f.get("retry_after")})
            elif kind == "drop_stream_mid_event":
                faults.drop.extend([(res,)] * count)
            elif kind == "malformed_event":
                mode = f[kind] if isinstance(f[kind], str) else "garbage"
                faults.malformed.extend([(res, mode)] * count)
            elif kind == "stall":
                faults.stalls.append((time.monotonic() + float(f["stall"]), res))
            else:
                action = "gone" if kind == "watch_gone" else "close"
                faults.epoch += 1
                faults.actions.append((faults.epoch, res, action))
                del faults.actions[:-100]
                open_now = sum(n for p, n in store.open_watches.items()
                               if res is None or p == res)
                n = int(f["count"]) if "count" in f else (0 if open_now else 1)
                faults.pending_new.extend([(res, action)] * n)
            store.cond.notify_all()

    def _get_faults(self, path, body):
        with self.server.store.cond:
            self.reply(200, self.server.store.faults.summary())

    def _delete_faults(self, path, body):
        with self.server.store.cond:
            epoch = self.server.store.faults.epoch
            self.server.store.faults = Faults()
            self.server.store.faults.epoch = epoch
        self.reply(200, {})

    def _post_compact(self, path, body):
        rv = self.server.store.compact((body or {}).get("rv"))
        self.reply(200, {"compacted_rv": rv})

    # -- stats, requests, tokens ------------------------------------------------------

    def _get_stats(self, path, body):
        store, stats = self.server.store, self.server.stats
        with store.cond:
            out = {"rv": store.rv, "compacted_rv": store.compacted,
                   "history_events": len(store.events),
                   "objects": {p: len(d) for p, d in store.objs.items()},
                   "open_watches": dict(store.open_watches),
                   "open_watches_total": sum(store.open_watches.values())}
        with stats.lock:
            out["counters"] = dict(stats.c)
            out["requests"] = dict(stats.requests)
        for name in ("list_calls", "watch_calls", "continue_pages"):
            out[name] = out["counters"].get(name, 0)
        self.reply(200, out)

    def _delete_stats(self, path, body):
        self.server.stats.reset()
        self.reply(200, {})

    def _get_requests(self, path, body):
        with self.server.stats.lock:
            self.reply(200, {"requests": list(self.server.stats.log)})

    def _delete_requests(self, path, body):
        with self.server.stats.lock:
            self.server.stats.log.clear()
        self.reply(200, {})

    def _post_tokens(self, path, body):
        if not isinstance(body, dict) or not isinstance(body.get("tokens", {}), dict):
            raise ValueError('expected {"tokens": {TOKEN: spec|null}, "replace": bool}')
        api = self.server.api
        with api.tokens_lock:
            tokens = {} if body.get("replace") else dict(api.tokens)
            for tok, spec in body.get("tokens", {}).items():
                if spec is None:
                    tokens.pop(tok, None)
                else:
                    tokens[tok] = check_token_spec(spec)
            api.tokens = tokens
        self._get_tokens(path, body)

    def _get_tokens(self, path, body):
        api = self.server.api
        with api.tokens_lock:
            self.reply(200, {"tokens": api.tokens})

    def _get_healthz(self, path, body):
        self.reply(200, {"ok": True})


def check_token_spec(spec):
    if not isinstance(spec, dict):
        raise ValueError("a token spec is an object: {\"user\": ..., \"allow\": {...}}")
    allow = spec.get("allow")
    if allow is not None:
        if not isinstance(allow, dict):
            raise ValueError('"allow" maps resources to verb lists')
        for r in allow:
            if r != "*" and find_resource(r) is None:
                raise ValueError("unknown resource %r in allow" % r)
        allow = {(r if r == "*" else find_resource(r).plural): v for r, v in allow.items()}
    out = {"user": spec.get("user", DEFAULT_USER)}
    if allow is not None:
        out["allow"] = allow
    return out


# ---------------------------------------------------------------------------
# Start-up.

def load_initial(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        docs = [json.loads(text)]
    except ValueError:
        try:
            import yaml     # optional: python3-yaml
        except ImportError:
            raise SystemExit("%s: not JSON, and python3-yaml is not installed" % path)
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    items = []
    for d in docs:
        items.extend(ControlHandler._items(d))
    return items


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Fake Kubernetes API server for ovs-netpol client tests.",
        epilog="On start-up prints one JSON line with the chosen ports, e.g. "
               '{"port": 40123, "control_port": 40124, "url": "https://127.0.0.1:40123", ...}.')
    p.add_argument("--address", default="127.0.0.1", help="API listen address (default 127.0.0.1; ::1 for IPv6)")
    p.add_argument("--port", type=int, default=0, help="API port (0: pick a free one)")
    p.add_argument("--control-port", type=int, default=0, help="control port on 127.0.0.1 (0: pick)")
    p.add_argument("--cert", help="server certificate (PEM)")
    p.add_argument("--key", help="server private key (PEM)")
    p.add_argument("--ca", help="CA for verifying optional client certificates")
    p.add_argument("--plain", action="store_true", help="serve plain HTTP (debugging)")
    p.add_argument("--token", action="append", default=[], help="bearer token with full access (repeatable)")
    p.add_argument("--tokens-file", help='JSON {"TOKEN": {"user": ..., "allow": {...}}, ...}')
    p.add_argument("--user", default=DEFAULT_USER, help="user name of --token tokens")
    p.add_argument("--anonymous", action="store_true", help="let unauthenticated requests in")
    p.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between bookmarks (default 60)")
    p.add_argument("--watch-timeout", type=float, default=0,
                   help="default watch duration in seconds (default: random 1800..3600)")
    p.add_argument("--max-history", type=int, default=0,
                   help="compact automatically to keep at most this many events (0: never)")
    p.add_argument("--too-large-wait", type=float, default=TOO_LARGE_RV_WAIT,
                   help="seconds to wait for a future resourceVersion before 504 (default 3)")
    p.add_argument("--initial", help="JSON (or YAML, with python3-yaml) List of objects to preload")
    p.add_argument("--pidfile", help="write the process id here; removed on exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = p.parse_args(argv)
    if not args.plain and not (args.cert and args.key):
        p.error("--cert and --key are required unless --plain")
    return args


def main(argv=None):
    args = parse_args(argv)
    store = Store(max_history=args.max_history)
    stats = Stats()
    if args.initial:
        store.put_many([Store.prepare(o) for o in load_initial(args.initial)])

    tokens = {t: {"user": args.user} for t in args.token}
    if args.tokens_file:
        with open(args.tokens_file, encoding="utf-8") as f:
            for tok, spec in json.load(f).items():
                tokens[tok] = check_token_spec(spec)

    ctx = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.ca:
            ctx.load_verify_locations(args.ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL

    api_cls = type("APIHTTPServer", (TLSServerMixin, make_server_class(args.address)), {})
    api = api_cls((args.address, args.port), APIHandler)
    api.ssl_context = ctx
    api.store, api.stats, api.verbose = store, stats, args.verbose
    api.tokens, api.tokens_lock = tokens, threading.Lock()
    api.default_user, api.anonymous = args.user, args.anonymous
    api.bookmark_interval = args.bookmark_interval
    api.watch_timeout = args.watch_timeout
    api.too_large_wait = args.too_large_wait

    control = make_server_class("127.0.0.1")(("127.0.0.1", args.control_port), ControlHandler)
    control.store, control.stats, control.verbose = store, stats, args.verbose
    control.api = api          # the control handler edits api.tokens

    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as f:
            f.write("%d\n" % os.getpid())

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for srv in (api, control):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()

    port = api.server_address[1]
    host = "[%s]" % args.address if ":" in args.address else args.address
    print(json.dumps({"port": port, "control_port": control.server_address[1],
                      "address": args.address, "scheme": "http" if args.plain else "https",
                      "url": "%s://%s:%d" % ("http" if args.plain else "https", host, port),
                      "control_url": "http://127.0.0.1:%d" % control.server_address[1],
                      "pid": os.getpid(), "rv": store.rv}), flush=True)

    while not stop.wait(0.5):
        pass
    store.close()              # watches end their streams
    for srv in (api, control):
        srv.shutdown()
        srv.server_close()
    time.sleep(0.1)
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
