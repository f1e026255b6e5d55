# tests/: `make check` runs everything below; `make check-unit` only the
# unit tests (C programs and scripts that need no root), which the set-up
# script also runs in the AddressSanitizer + UBSan build.
#
#   unit_tests          check(3) programs, one suite per flows/ module
#   unit_scripts        scripts driving our own binaries, no root needed
#   integration_tests   real ovs-vswitchd / ovsdb-server, network
#                       namespaces: root, exit 77 (SKIP) without it

unit_test_ldadd = flows/libnetpol.a $(OVS_LIBS) $(JANSSON_LIBS) \
	$(YAML_LIBS) $(CHECK_LIBS)
unit_test_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS)

unit_tests = \
	tests/test-annotate \
	tests/test-audit \
	tests/test-cidr \
	tests/test-compiler \
	tests/test-conformance-model \
	tests/test-engine \
	tests/test-flow-stats \
	tests/test-label-index \
	tests/test-manifest \
	tests/test-port-range

tests_test_audit_SOURCES = tests/test-audit.c
tests_test_audit_LDADD = agent/libagent.a $(unit_test_ldadd) $(EVENT_LIBS)
tests_test_audit_CFLAGS = $(unit_test_cflags)

tests_test_annotate_SOURCES = tests/test-annotate.c
tests_test_annotate_LDADD = $(unit_test_ldadd)
tests_test_annotate_CFLAGS = $(unit_test_cflags)

tests_test_cidr_SOURCES = tests/test-cidr.c
tests_test_cidr_LDADD = $(unit_test_ldadd)
tests_test_cidr_CFLAGS = $(unit_test_cflags)

tests_test_compiler_SOURCES = tests/test-compiler.c tests/flow-sim.c \
	tests/flow-sim.h tests/random-cluster.c tests/random-cluster.h
tests_test_compiler_LDADD = $(unit_test_ldadd)
tests_test_compiler_CFLAGS = $(unit_test_cflags)

tests_test_conformance_model_SOURCES = tests/test-conformance-model.c
tests_test_conformance_model_LDADD = $(unit_test_ldadd)
tests_test_conformance_model_CFLAGS = $(unit_test_cflags)

tests_test_engine_SOURCES = tests/test-engine.c tests/random-cluster.c \
	tests/random-cluster.h
tests_test_engine_LDADD = $(unit_test_ldadd)
tests_test_engine_CFLAGS = $(unit_test_cflags)

tests_test_flow_stats_SOURCES = tests/test-flow-stats.c
tests_test_flow_stats_LDADD = agent/libagent.a $(unit_test_ldadd)
tests_test_flow_stats_CFLAGS = $(unit_test_cflags)

tests_test_label_index_SOURCES = tests/test-label-index.c \
	tests/flow-sim.c tests/flow-sim.h tests/random-cluster.c \
	tests/random-cluster.h
tests_test_label_index_LDADD = $(unit_test_ldadd)
tests_test_label_index_CFLAGS = $(unit_test_cflags)

tests_test_manifest_SOURCES = tests/test-manifest.c
tests_test_manifest_LDADD = $(unit_test_ldadd)
tests_test_manifest_CFLAGS = $(unit_test_cflags)

tests_test_port_range_SOURCES = tests/test-port-range.c
tests_test_port_range_LDADD = $(unit_test_ldadd)
tests_test_port_range_CFLAGS = $(unit_test_cflags)

unit_scripts = \
	tests/check-flows-purity.sh \
	tests/compile-golden.sh

integration_tests = \
	tests/test-ovsdb-monitor \
	tests/agent-audit.sh \
	tests/agent-cni-chain.sh \
	tests/agent-daemon.sh \
	tests/agent-debug.sh \
	tests/agent-faults.sh \
	tests/agent-stats.sh \
	tests/compile-accepted.sh \
	tests/conformance.sh \
	tests/sandbox.sh \
	$(k8s_tests)

# Kubernetes mode, against tests/k8s-apiserver.py: the client without a
# switch (no root), the DaemonSet manifest, then flows and packets, the
# upstream conformance cases through watch events, and a soak of 100,000
# events (about 40 s), in a sandbox (root).
k8s_tests = \
	tests/agent-k8s-client.sh \
	tests/agent-k8s-deploy.sh \
	tests/agent-k8s.sh \
	tests/agent-k8s-conformance.sh \
	tests/agent-k8s-soak.sh

tests_test_ovsdb_monitor_SOURCES = tests/test-ovsdb-monitor.c
tests_test_ovsdb_monitor_LDADD = $(agent_ldadd) $(CHECK_LIBS)
tests_test_ovsdb_monitor_CFLAGS = $(unit_test_cflags)

check_PROGRAMS += $(unit_tests) tests/test-ovsdb-monitor
TESTS += $(unit_tests) $(unit_scripts) $(integration_tests)
dist_noinst_SCRIPTS += $(unit_scripts) tests/compile-accepted.sh \
	tests/sandbox.sh tests/agent-audit.sh tests/agent-cni-chain.sh \
	tests/agent-daemon.sh tests/agent-debug.sh \
	tests/agent-faults.sh tests/agent-stats.sh $(k8s_tests)
EXTRA_DIST += tests/compile tests/manifests tests/netpol-e2e \
	tests/lib-agent.sh tests/agent-k8s-lib.sh tests/k8s-apiserver.py \
	tests/k8s-test-pki.sh utilities/k8s/ovs-netpol.yaml

# Scripts find sources and binaries through these.
AM_TESTS_ENVIRONMENT = top_srcdir='$(top_srcdir)'; \
	top_builddir='$(top_builddir)'; export top_srcdir top_builddir;

check-unit: $(unit_tests) all
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(unit_tests) $(unit_scripts)'
.PHONY: check-unit

# The 48 upstream network-policy cases against a live agent with real
# packets, IPv4 and IPv6 (tests/conformance.py; about 3 minutes).
dist_noinst_SCRIPTS += tests/conformance.sh tests/conformance.py
check-conformance: all
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS='tests/conformance.sh'
.PHONY: check-conformance

# Hostile input against a live agent, the agent under valgrind, and each
# fuzz target for a few seconds (tests/fuzz/: `make fuzz` runs them long).
integration_tests += tests/agent-hostile.sh tests/agent-valgrind.sh
TESTS += tests/fuzz-smoke.sh
dist_noinst_SCRIPTS += tests/agent-hostile.sh tests/agent-valgrind.sh \
	tests/fuzz-smoke.sh

# What the agent exposes: the control socket, metrics, secrets, options.
integration_tests += tests/agent-security.sh
dist_noinst_SCRIPTS += tests/agent-security.sh

# Crafted packets (spoofing, broadcast, neighbour discovery) and faults
# (switch, database, agent, disk, 10,000 policies on one pod).
integration_tests += tests/agent-spoof.sh tests/agent-fault-matrix.sh
dist_noinst_SCRIPTS += tests/agent-spoof.sh tests/agent-fault-matrix.sh
