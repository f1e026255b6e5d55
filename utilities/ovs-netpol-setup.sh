#!/bin/sh
# ovs-netpol-setup.sh: take a fresh Debian 12 machine to a built ovs-netpol,
# then run what was asked for.  Run as root, from anywhere.
#
#   ovs-netpol-setup.sh deps    install Debian packages; build libopenvswitch
#   ovs-netpol-setup.sh build   deps, then configure and build in _build/
#   ovs-netpol-setup.sh check   build, then the whole test suite, twice:
#                               in _build/ and, built with ASan+UBSan, in
#                               _build-asan/
#   ovs-netpol-setup.sh demo    build, then the demo
#   ovs-netpol-setup.sh bench   build, then the benchmarks (not a test)
#
# Every step is skipped when it has nothing to do, so a second run costs
# seconds.  Debian 12 does not package libopenvswitch, so it is built from
# Debian's own openvswitch-source package into $OVS_NETPOL_OVS_PREFIX
# (default /opt/ovs-netpol/openvswitch), where configure looks for it.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ovs_prefix=${OVS_NETPOL_OVS_PREFIX:-/opt/ovs-netpol/openvswitch}
jobs=$(nproc 2>/dev/null || echo 2)

# Packages to build, test and run ovs-netpol.
packages="build-essential autoconf automake libtool pkg-config
  libcurl4-openssl-dev libjansson-dev libevent-dev libyaml-dev check libssl-dev
  openvswitch-source openvswitch-switch python3 python3-yaml
  python3-prometheus-client
  iproute2 iputils-ping netcat-openbsd ethtool procps psmisc kmod
  valgrind clang libclang-rt-14-dev"

say() {
    printf '==> %s\n' "$*"
}

die() {
    printf 'ovs-netpol-setup: %s\n' "$*" >&2
    exit 1
}

missing_packages() {
    for p in $packages; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) \
            || status=
        [ "$status" = installed ] || printf '%s ' "$p"
    done
}

install_packages() {
    missing=$(missing_packages)
    [ -n "$missing" ] || return 0
    [ "$(id -u)" = 0 ] || die "missing packages ($missing); run as root"
    say "installing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # The openvswitch-switch package would start its system services where
    # systemd runs; we never use them (tests run private daemons), so keep
    # them from starting.
    policy=/usr/sbin/policy-rc.d
    created_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null \
        || { [ -z "$created_policy" ] || rm -f "$policy"; \
             die "apt-get install failed"; }
    [ -z "$created_policy" ] || rm -f "$policy"
}

have_libopenvswitch() {
    PKG_CONFIG_PATH="$ovs_prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        pkg-config --exists 'libopenvswitch >= 2.17'
}

build_libopenvswitch() {
    have_libopenvswitch && return 0
    tarball=/usr/src/openvswitch/openvswitch.tar.gz
    [ -f "$tarball" ] || die "$tarball missing (package openvswitch-source)"
    say "building libopenvswitch from $tarball into $ovs_prefix (1-4 min)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    tar xzf "$tarball" -C "$work"
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    (cd "$src" \
        && ./configure --prefix="$ovs_prefix" --enable-static \
               --disable-shared >"$work/configure.log" 2>&1 \
        && make -j"$jobs" >"$work/make.log" 2>&1 \
        && make install >"$work/install.log" 2>&1) \
        || { tail -n 30 "$work"/*.log >&2; die "libopenvswitch build failed"; }
    rm -rf "$work"
    trap - EXIT
    have_libopenvswitch || die "libopenvswitch installed but not found"
}

deps() {
    install_packages
    build_libopenvswitch
}

# Configures (once) and builds the tree in directory $1 with configure
# options $2.
build_in() {
    dir=$1 opts=$2
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
        say "autoreconf"
        (cd "$top" && mkdir -p m4 && autoreconf -fi >/dev/null 2>&1) \
            || (cd "$top" && autoreconf -fi) || die "autoreconf failed"
    fi
    mkdir -p "$top/$dir"
    if [ ! -f "$top/$dir/Makefile" ]; then
        say "configure $opts ($dir)"
        # shellcheck disable=SC2086
        (cd "$top/$dir" && ../configure $opts --with-openvswitch="$ovs_prefix" \
             >configure.out 2>&1) \
            || { cat "$top/$dir/configure.out" >&2; die "configure failed"; }
    fi
    say "make ($dir)"
    make -s -C "$top/$dir" -j"$jobs" >/dev/null || make -C "$top/$dir" \
        || die "build failed"
}

build() {
    deps
    build_in _build "--enable-werror"
}

# Prints the end of the log of every test that failed in build
# directory $1, so a CI transcript alone explains the failure.
show_failed_logs() {
    for trs in "$top/$1"/tests/*.trs; do
        [ -f "$trs" ] || continue
        grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs" || continue
        log=${trs%.trs}.log
        say "log of failed test $1/tests/${log##*/} (last 150 lines)"
        tail -n 150 "$log" >&2
    done
}

check() {
    build
    status=0
    say "test suite (_build: make check)"
    make -C "$top/_build" -j"$jobs" check \
        || { status=1; show_failed_logs _build; }
    say "test suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer"
    build_in _build-asan "--enable-werror --enable-sanitizers"
    ASAN_OPTIONS=detect_leaks=1 make -C "$top/_build-asan" -j"$jobs" \
        check || { status=1; show_failed_logs _build-asan; }
    if [ $status = 0 ]; then
        say "all tests passed"
    else
        say "FAILED: see the test logs above (_build*/tests/*.log)"
    fi
    return $status
}

case ${1:-} in
deps) deps ;;
build) build ;;
check) check ;;
demo) build; exec "$top/utilities/ovs-netpol-demo.sh" ;;
bench) build; make -C "$top/_build" bench ;;
*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
