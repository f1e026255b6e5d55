# utilities/bench.mk: `make bench` and `make bench-peer`, the performance
# figures of ovs-netpol beside the design brief's targets.  They are not
# tests: `make check` never runs them, and they do not fail on a figure.
# utilities/ovs-netpol-bench.sh says what is measured and how.
#
#   make bench                        all sizes (a few minutes; root for the
#                                     live install, else that part is skipped)
#   make bench BENCH_SIZES=small      the quick run
#   make bench-peer                   one model through ovs-netpol and OVN
#                                     (OVN_PEER_DIR, BENCH_PEER_INSTALL=1)
#
# bench-compile is built with everything else (so it keeps compiling while
# flows/ changes) but never installed.

noinst_PROGRAMS += utilities/bench-compile
utilities_bench_compile_SOURCES = utilities/bench-compile.c \
	utilities/bench-incremental.c utilities/bench-incremental.h
utilities_bench_compile_LDADD = flows/libnetpol.a $(OVS_LIBS) \
	$(JANSSON_LIBS) $(YAML_LIBS)

dist_noinst_SCRIPTS += \
	utilities/ovs-netpol-bench.sh \
	utilities/ovs-netpol-gencluster.py

# The knobs the script reads, passed on only when set.
bench_env = top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	$(foreach v,BENCH_SIZES BENCH_SEED BENCH_REPEAT BENCH_EVENTS BENCH_LOCAL_PODS \
		BENCH_LIVE BENCH_DIR BENCH_KEEP BENCH_TIMEOUT BENCH_PEER_MODEL \
		BENCH_PEER_INSTALL OVN_PEER_DIR,$(if $($(v)),$(v)='$($(v))'))

bench: all
	@$(bench_env) bash $(top_srcdir)/utilities/ovs-netpol-bench.sh bench

bench-peer: all
	@$(bench_env) bash $(top_srcdir)/utilities/ovs-netpol-bench.sh peer

.PHONY: bench bench-peer
