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
