# utilities/: the operator's tools and the scripts around the build.
dist_noinst_SCRIPTS += utilities/ovs-netpol-setup.sh
