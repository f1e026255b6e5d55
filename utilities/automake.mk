# utilities/: the operator's tools and the scripts around the build.

bin_PROGRAMS += utilities/ovs-netpolctl
utilities_ovs_netpolctl_SOURCES = \
	utilities/ctl-debug.c \
	utilities/ctl-offline.c \
	utilities/ctl-online.c \
	utilities/ctl-stats.c \
	utilities/ctl.h \
	utilities/ovs-netpolctl.c \
	utilities/ovs-unixctl.h
utilities_ovs_netpolctl_LDADD = $(agent_ldadd)

dist_noinst_SCRIPTS += \
	utilities/ovs-netpol-podserver.py \
	utilities/ovs-netpol-sandbox.sh \
	utilities/ovs-netpol-setup.sh
