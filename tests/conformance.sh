#!/bin/sh
# tests/conformance.sh: the upstream Kubernetes network-policy conformance
# cases (tests/netpol-e2e, 48 cases) against a live ovs-netpol-agent
# with real packets, for IPv4 and then IPv6.  The work is done by
# tests/conformance.py; this wrapper is what `make check` runs.
#
# Exit status (automake's): 0 pass, 1 fail, 77 skip (not root, no network
# namespaces, Open vSwitch or our binaries missing), 99 hard error (no
# corpus, or the runner could not set up or talk to the sandbox or agent).
#
# Environment:
#   top_builddir        set by `make check` (TESTS_ENVIRONMENT); otherwise
#                       the source tree's _build
#   OVS_NETPOL_CONFORMANCE
#                       the corpus (default: SRCDIR/tests/netpol-e2e)
#   CONFORMANCE_ARGS    extra arguments for conformance.py, e.g.
#                       "--case 014 --family 6 --keep"
#   CONFORMANCE_EVIDENCE
#                       a directory: save manifests, status, flows, traces
#                       and explain output of every failed table there
#   OVS_NETPOL_PYTHON   the python3 to use
# Arguments are passed on to conformance.py too.

top=$(cd "$(dirname "$0")/.." && pwd -P)

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

if [ -n "${top_builddir:-}" ]; then
    builddir=$(cd "$top_builddir" && pwd -P) || skip "no $top_builddir"
else
    builddir=$top/_build
fi

if [ -n "${OVS_NETPOL_PYTHON:-}" ]; then
    python=$OVS_NETPOL_PYTHON
elif [ -x /usr/bin/python3 ]; then
    # Debian's python3 starts fast; a pyenv shim on PATH does not.
    python=/usr/bin/python3
else
    python=python3
fi

[ "$(id -u)" = 0 ] || skip "not root"
command -v "$python" >/dev/null 2>&1 || skip "no python3"
for p in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl \
         ip nsenter ethtool timeout unshare; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not installed"
done
for b in agent/ovs-netpol-agent utilities/ovs-netpolctl; do
    [ -x "$builddir/$b" ] || skip "$builddir/$b not built"
done
ip netns list >/dev/null 2>&1 || skip "no 'ip netns' support"
unshare --net true 2>/dev/null || skip "cannot create network namespaces"
corpus=${OVS_NETPOL_CONFORMANCE:-$top/tests/netpol-e2e}
if [ ! -d "$corpus/cases/upstream" ]; then
    echo "ERROR: no conformance corpus at $corpus" >&2
    exit 99
fi

# CONFORMANCE_ARGS is split into words on purpose.
# shellcheck disable=SC2086
set -- --srcdir "$top" --builddir "$builddir" --corpus "$corpus" \
    ${CONFORMANCE_EVIDENCE:+--evidence "$CONFORMANCE_EVIDENCE"} \
    ${CONFORMANCE_ARGS:-} "$@"
# Not exec: the runner's own summary is followed by one line for make's log.
"$python" "$top/tests/conformance.py" "$@"
rc=$?
case $rc in
    0) printf 'conformance: PASS\n' ;;
    77) ;;
    99) printf 'conformance: ERROR (the runner could not work)\n' ;;
    *) printf 'conformance: FAIL (exit %d)\n' "$rc" ;;
esac
exit $rc
