# flows/: the pure core.  Objects in, a flow set out; no I/O (no sockets, no
# files, no event loop, no logging), so every piece is unit-testable and
# `ovs-netpolctl compile` can run it offline.  tests/check-flows-purity.sh
# enforces that.

noinst_LIBRARIES += flows/libnetpol.a
flows_libnetpol_a_SOURCES = \
	flows/annotate.c \
	flows/cidr.c \
	flows/clause.c \
	flows/clause.h \
	flows/cluster.c \
	flows/compiler.c \
	flows/conj-ids.c \
	flows/engine.c \
	flows/explain.c \
	flows/flow-build.c \
	flows/flow-build.h \
	flows/flow-set.c \
	flows/json-arena.c \
	flows/json-arena.h \
	flows/label-index.c \
	flows/label-index.h \
	flows/manifest.c \
	flows/model.c \
	flows/object-parse.c \
	flows/object-parse.h \
	flows/pipeline.c \
	flows/policy-match.c \
	flows/policy-match.h \
	flows/port-range.c \
	flows/port-range.h \
	flows/problems.c \
	flows/selector.c \
	flows/selector.h \
	flows/util.c \
	flows/verify-plan.c \
	flows/yaml.c
