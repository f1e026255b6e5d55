# tests/fuzz/: libFuzzer targets, one per parser or core invariant (see
# tests/fuzz/README.md).  Built only by a build configured with
#
#     CC=clang ../configure --enable-fuzzing
#
# which instruments everything for libFuzzer and the sanitizers.  Then
#
#     make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS='manifest yaml'] \
#               [FUZZ_JOBS=1] [FUZZ_MERGE=1]
#
# runs each target for FUZZ_SECONDS on a copy of its seed corpus
# (tests/fuzz/corpus/TARGET/) and prints its executions per second,
# coverage and crashes; FUZZ_MERGE=1 merges what it learnt back into the
# corpus.  tests/fuzz-smoke.sh is the short run of the test suite.

fuzz_targets = \
	tests/fuzz/fuzz-compiler \
	tests/fuzz/fuzz-manifest \
	tests/fuzz/fuzz-ovsdb \
	tests/fuzz/fuzz-selector \
	tests/fuzz/fuzz-watch-event \
	tests/fuzz/fuzz-yaml

fuzz_cflags = $(AM_CFLAGS)
fuzz_ldflags = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_ldadd = flows/libnetpol.a $(OVS_LIBS) $(JANSSON_LIBS) $(YAML_LIBS)
fuzz_headers = tests/fuzz/fuzz-util.h tests/fuzz/fuzz-model.h

tests_fuzz_fuzz_compiler_SOURCES = tests/fuzz/fuzz-compiler.c $(fuzz_headers)
tests_fuzz_fuzz_compiler_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_compiler_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_compiler_LDADD = $(fuzz_ldadd)

tests_fuzz_fuzz_manifest_SOURCES = tests/fuzz/fuzz-manifest.c $(fuzz_headers)
tests_fuzz_fuzz_manifest_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_manifest_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_manifest_LDADD = $(fuzz_ldadd)

# The OVSDB monitor is compiled in (not agent/libagent.a): it needs only
# libevent besides flows/, and its test hook.
tests_fuzz_fuzz_ovsdb_SOURCES = tests/fuzz/fuzz-ovsdb.c \
	agent/ovsdb-monitor.c agent/ovsdb-monitor.h $(fuzz_headers)
tests_fuzz_fuzz_ovsdb_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_ovsdb_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_ovsdb_LDADD = $(fuzz_ldadd) $(EVENT_LIBS)

tests_fuzz_fuzz_selector_SOURCES = tests/fuzz/fuzz-selector.c $(fuzz_headers)
tests_fuzz_fuzz_selector_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_selector_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_selector_LDADD = $(fuzz_ldadd)

tests_fuzz_fuzz_watch_event_SOURCES = tests/fuzz/fuzz-watch-event.c \
	$(fuzz_headers)
tests_fuzz_fuzz_watch_event_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_watch_event_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_watch_event_LDADD = $(fuzz_ldadd)

tests_fuzz_fuzz_yaml_SOURCES = tests/fuzz/fuzz-yaml.c $(fuzz_headers)
tests_fuzz_fuzz_yaml_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_yaml_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_yaml_LDADD = $(fuzz_ldadd)

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run-fuzz.sh \
	tests/fuzz/make-corpus.py tests/fuzz/capture-ovsdb.py \
	tests/fuzz/corpus

FUZZ_SECONDS = 60
FUZZ_TARGETS =
FUZZ_JOBS = 1
FUZZ_MERGE =

if FUZZING
noinst_PROGRAMS += $(fuzz_targets)

fuzz-programs: $(fuzz_targets)
fuzz: $(fuzz_targets)
	@FUZZ_MERGE='$(FUZZ_MERGE)' $(SHELL) $(srcdir)/tests/fuzz/run-fuzz.sh \
		--bindir=tests/fuzz --corpus=$(srcdir)/tests/fuzz/corpus \
		--seconds=$(FUZZ_SECONDS) --jobs=$(FUZZ_JOBS) $(FUZZ_TARGETS)
else
fuzz-programs fuzz:
	@echo "The fuzz targets need a build configured with" >&2; \
	echo "    CC=clang ../configure --enable-fuzzing" >&2; \
	exit 1
endif
.PHONY: fuzz fuzz-programs
