# tests/: unit tests (check), integration tests against a real ovs-vswitchd,
# conformance.  `make check` runs them all; `make check-unit` only the unit
# tests (what the sanitizer build runs).

UNIT_TESTS =
unit_test_ldadd = flows/libnetpol.a $(OVS_LIBS) $(JANSSON_LIBS) $(YAML_LIBS) \
	$(CHECK_LIBS)
unit_test_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS)




check-unit: $(UNIT_TESTS)
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(UNIT_TESTS)'
.PHONY: check-unit

UNIT_TESTS += tests/test-cidr
tests_test_cidr_SOURCES = tests/test-cidr.c
tests_test_cidr_LDADD = $(unit_test_ldadd)
tests_test_cidr_CFLAGS = $(unit_test_cflags)

UNIT_TESTS += tests/test-port-range
tests_test_port_range_SOURCES = tests/test-port-range.c
tests_test_port_range_LDADD = $(unit_test_ldadd)
tests_test_port_range_CFLAGS = $(unit_test_cflags)

UNIT_TESTS += tests/test-manifest
tests_test_manifest_SOURCES = tests/test-manifest.c
tests_test_manifest_LDADD = $(unit_test_ldadd)
tests_test_manifest_CFLAGS = $(unit_test_cflags)

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

# Integration tests: real daemons, private run directories.
INTEGRATION_TESTS =

INTEGRATION_TESTS += tests/test-ovsdb-monitor
check_PROGRAMS += tests/test-ovsdb-monitor
tests_test_ovsdb_monitor_SOURCES = tests/test-ovsdb-monitor.c
tests_test_ovsdb_monitor_LDADD = $(agent_ldadd) $(CHECK_LIBS)
tests_test_ovsdb_monitor_CFLAGS = $(unit_test_cflags)

TESTS += $(INTEGRATION_TESTS)

UNIT_TESTS += tests/test-compiler
tests_test_compiler_SOURCES = tests/test-compiler.c tests/flow-sim.c \
	tests/flow-sim.h
tests_test_compiler_LDADD = $(unit_test_ldadd)
tests_test_compiler_CFLAGS = $(unit_test_cflags)

# Integration tests written as scripts: they need root and network
# namespaces, and exit 77 (SKIP) without them.
INTEGRATION_TESTS += tests/sandbox.sh
dist_noinst_SCRIPTS += tests/sandbox.sh
TESTS_ENVIRONMENT = top_srcdir='$(top_srcdir)' top_builddir='$(top_builddir)'

EXTRA_DIST += tests/manifests
