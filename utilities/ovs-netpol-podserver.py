#!/usr/bin/python3
"""ovs-netpol-podserver: the tiny responder behind `ovs-netpol-sandbox.sh
add-pod --serve`.

Listens on every given port for TCP and UDP, IPv4 and IPv6, and answers
every TCP connection and every UDP datagram with one line (the reply text,
normally the pod's NS/NAME).  Python 3 standard library only.

    ovs-netpol-podserver.py --reply TEXT --pidfile FILE
                            [--addr ADDR]... [--foreground] PORT...

It binds everything first and only then detaches, writes FILE (its pid)
and lets the starting process return: when the command returns, every
socket is already listening, so a probe right after `add-pod` cannot race
the server.

UDP sockets are bound to each --addr (the pod's addresses) rather than to
the wildcard, so a reply always leaves from the address the request was
sent to; a connected UDP client (such as the sandbox's probe) drops
replies from any other source address.  TCP always answers from the
connection's own address, so it listens on the wildcards.
"""

import os
import selectors
import socket
import sys
import time

# A TCP peer that sent nothing and never closes is dropped after this long,
# so idle connections cannot pile up.
TCP_LINGER_S = 5.0


class Args:
    reply = None
    pidfile = None
    foreground = False

    def __init__(self):
        self.addr = []
        self.ports = []


def parse_args(argv):
    """Hand-rolled (argparse costs a megabyte per responder, and a sandbox
    may run a hundred of them)."""
    args = Args()
    it = iter(argv)
    for a in it:
        if a in ("--reply", "--pidfile", "--addr"):
            v = next(it, None)
            if v is None:
                raise SystemExit("ovs-netpol-podserver: %s needs a value" % a)
            if a == "--addr":
                args.addr.append(v)
            else:
                setattr(args, a[2:], v)
        elif a == "--foreground":
            args.foreground = True
        elif a.isdigit() and 0 < int(a) < 65536:
            args.ports.append(int(a))
        else:
            raise SystemExit("ovs-netpol-podserver: bad argument %r" % a)
    if args.reply is None or args.pidfile is None or not args.ports:
        raise SystemExit("usage: ovs-netpol-podserver.py --reply TEXT "
                         "--pidfile FILE [--addr ADDR]... PORT...")
    return args


def tcp_listener(family, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    else:
        s.bind(("0.0.0.0", port))
    s.listen(128)
    s.setblocking(False)
    return s


def udp_socket(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.setblocking(False)
    return s


def bind_all(args):
    """Returns [(socket, kind)] with kind "listen" or "udp"."""
    socks = []
    # Without explicit addresses, answer UDP on the wildcards (fine for a
    # pod with one address per family).
    udp_addrs = args.addr or ["0.0.0.0", "::"]
    for port in args.ports:
        for family in (socket.AF_INET, socket.AF_INET6):
            socks.append((tcp_listener(family, port), "listen"))
        for addr in udp_addrs:
            socks.append((udp_socket(addr, port), "udp"))
    return socks


def detach(pidfile, keep):
    """Forks; the parent writes the child's pid and exits 0, the child
    becomes a session leader with its standard streams on /dev/null and no
    other file descriptor than `keep` (an inherited pipe held open by a
    daemon would keep its reader from ever seeing EOF)."""
    pid = os.fork()
    if pid:
        tmp = pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % pid)
        os.rename(tmp, pidfile)
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, already closed


def serve(socks, reply):
    sel = selectors.DefaultSelector()
    for s, kind in socks:
        sel.register(s, selectors.EVENT_READ, kind)
    # Connections that got their reply and are waiting for the peer's FIN:
    # closing right away with unread request bytes would send an RST that
    # can destroy the reply before the peer reads it.
    conns = {}
    while True:
        timeout = None
        if conns:
            timeout = max(0.0, min(conns.values()) - time.monotonic())
        for key, _ in sel.select(timeout):
            s, kind = key.fileobj, key.data
            if kind == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                try:
                    c.send(reply)
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    c.close()
                    continue
                sel.register(c, selectors.EVENT_READ, "conn")
                conns[c] = time.monotonic() + TCP_LINGER_S
            elif kind == "conn":
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    del conns[s]
                    s.close()
            else:
                try:
                    _, peer = s.recvfrom(65536)
                    s.sendto(reply, peer)
                except OSError:
                    # EAGAIN, or an ICMP error for an earlier reply (the
                    # client went away): nothing to do either way.
                    pass
        now = time.monotonic()
        for c in [c for c, t in conns.items() if t <= now]:
            sel.unregister(c)
            del conns[c]
            c.close()


def main():
    args = parse_args(sys.argv[1:])
    reply = (args.reply + "\n").encode()
    try:
        socks = bind_all(args)
    except OSError as e:
        sys.stderr.write("ovs-netpol-podserver: %s\n" % e)
        return 1
    if args.foreground:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    else:
        detach(args.pidfile, {s.fileno() for s, _ in socks})
    serve(socks, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
