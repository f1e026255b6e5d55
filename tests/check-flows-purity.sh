#!/bin/sh
# check-flows-purity.sh: flows/ is the pure core (flows/automake.mk): no
# I/O, no event loop, no logging.  Fails if flows/libnetpol.a calls any
# function that would break that: files, sockets, polling, processes,
# sleeping, libevent, libcurl, vlog.  (fprintf/fwrite are allowed: the
# "cannot happen" aborts write to stderr before abort().)

set -u
top_builddir=${top_builddir:-.}
lib=$top_builddir/flows/libnetpol.a
[ -f "$lib" ] || { echo "$lib: not built" >&2; exit 99; }
command -v nm >/dev/null 2>&1 || { echo "no nm: skipped"; exit 77; }

forbidden='^(open|open64|openat|fopen|fopen64|fdopen|creat|read|pread|readv|write|pwrite|writev|close|fclose|fread|fgets|getline|stat|stat64|fstat|lstat|access|opendir|readdir|unlink|rename|mkdir|rmdir|socket|connect|bind|listen|accept|accept4|send|sendto|sendmsg|recv|recvfrom|recvmsg|poll|ppoll|select|epoll_[a-z_]+|inotify_[a-z_0-9]+|fork|execv|execve|execvp|system|popen|kill|sleep|usleep|nanosleep|event_[a-z_]+|evtimer_[a-z_]+|bufferevent_[a-z_]+|evhttp_[a-z_]+|curl_[a-z_]+|vlog_[a-z_]+|vconn_[a-z_]+|rconn_[a-z_]+|stream_[a-z_]+|jsonrpc_[a-z_]+|ovsdb_[a-z_]+)$'

undefined=$(nm -u "$lib" | awk '{ print $NF }' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -E "$forbidden")
if [ -n "$bad" ]; then
    echo "flows/ calls functions that do I/O or wait:"
    for sym in $bad; do
        printf '  %s, from: %s\n' "$sym" "$(nm -A -u "$lib" \
            | awk -v s="$sym" '$NF == s { split($1, p, ":"); print p[2] }' \
            | sort -u | tr '\n' ' ')"
    done
    exit 1
fi
echo "ok - flows/libnetpol.a calls no I/O: $(printf '%s\n' "$undefined" | wc -l) external symbols checked"
