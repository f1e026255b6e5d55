# agent/: the daemon, its event loop and its I/O (OVSDB, OpenFlow,
# manifests, Kubernetes API, control socket).  agent/libagent.a holds the
# modules; ovs-netpol-agent.c is only main().

noinst_LIBRARIES += agent/libagent.a
agent_libagent_a_SOURCES = \
	agent/agent.c \
	agent/agent.h \
	agent/agent-explain.c \
	agent/agent-explain.h \
	agent/audit.c \
	agent/audit.h \
	agent/callback-list.c \
	agent/callback-list.h \
	agent/control.c \
	agent/control.h \
	agent/flow-stats.c \
	agent/flow-stats.h \
	agent/k8s-client.c \
	agent/k8s-client.h \
	agent/k8s-config.c \
	agent/k8s-config.h \
	agent/k8s-source.c \
	agent/k8s-source.h \
	agent/manifest-files.c \
	agent/ofctrl.c \
	agent/ofctrl.h \
	agent/manifest-files.h \
	agent/manifest-watch.c \
	agent/manifest-watch.h \
	agent/metrics.c \
	agent/metrics.h \
	agent/ovsdb-monitor.c \
	agent/ovsdb-monitor.h

agent_ldadd = agent/libagent.a flows/libnetpol.a $(OVS_LIBS) \
	$(JANSSON_LIBS) $(YAML_LIBS) $(EVENT_LIBS) $(CURL_LIBS)

sbin_PROGRAMS += agent/ovs-netpol-agent
agent_ovs_netpol_agent_SOURCES = agent/ovs-netpol-agent.c
agent_ovs_netpol_agent_LDADD = $(agent_ldadd)
