/*
 * Copyright (c) 2026 The ovs-netpol Authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#ifndef OVS_UNIXCTL_H
#define OVS_UNIXCTL_H 1

/* libopenvswitch's unixctl client: how ovs-appctl talks to ovs-vswitchd.
 *
 * Why these prototypes are here: libopenvswitch.a exports the client (it is
 * what ovs-appctl itself links), but `make install` of Open vSwitch installs
 * neither lib/unixctl.h nor lib/jsonrpc.h.  These three declarations are
 * copied from Open vSwitch 3.1's, and we link statically against the
 * libopenvswitch.a whose other headers we compile with (configure.ac,
 * Makefile.am), so a mismatch would need an Open vSwitch release that
 * changed them; if one does, this is the file to update.
 *
 * Why not run ovs-appctl: `ovs-netpolctl verify` traces hundreds of
 * connections, and one unixctl connection serves them all; a fork and exec
 * of ovs-appctl per trace costs more than the trace itself, depends on
 * which ovs-appctl is first on PATH, and reports errors only as text on
 * stderr and an exit status.  The client returns the switch's error
 * message as a value. */

struct jsonrpc;

/* Connects to the unixctl server listening on 'path' (a Unix socket).
 * Returns 0 and the connection in '*client', or a positive errno value. */
int unixctl_client_create(const char *path, struct jsonrpc **client);

/* Runs 'command' with the 'argc' arguments in 'argv' on 'client'.  Returns
 * 0 if the server answered: then either '*result' (the command's output) or
 * '*error' (its error message) is a malloc'd string the caller frees, the
 * other NULL.  Returns a positive errno value if the connection failed. */
int unixctl_client_transact(struct jsonrpc *client, const char *command,
                            int argc, char *argv[], char **result,
                            char **error);

/* Closes 'client' (from lib/jsonrpc.h). */
void jsonrpc_close(struct jsonrpc *client);

#endif /* ovs-unixctl.h */
