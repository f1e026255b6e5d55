# agent/: the daemon, its event loop and its I/O (OVSDB, OpenFlow,
# manifests, Kubernetes API, control socket).
