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

#ifndef CONTROL_H
#define CONTROL_H 1

/* The agent's control socket: how `ovs-netpolctl` talks to a running agent.
 *
 * Protocol: a Unix stream socket (mode 0600: only root, or whoever runs the
 * agent, may talk to it).  Each request is one line of JSON,
 *
 *     {"id": 1, "command": "status", "args": {...}}
 *
 * and each reply one line,
 *
 *     {"id": 1, "result": ...}      or      {"id": 1, "error": "text"}
 *
 * A connection may send several requests; replies come in the order the
 * commands finish (a "wait-sync" may answer after a later "status"), with the
 * request's id.  Lines longer than CONTROL_MAX_LINE close the connection.
 *
 * A command handler answers at once or later: it gets a 'struct
 * control_request' and calls control_request_reply() or
 * control_request_error() exactly once, whenever it is ready.  If the
 * client has gone away by then, the reply is dropped quietly.
 *
 * All calls run on the agent's loop thread. */

#include <jansson.h>
#include <stdbool.h>
#include "ovs-netpol/util.h"

struct event_base;
struct control_server;
struct control_request;

#define CONTROL_MAX_LINE (1024 * 1024)

typedef void control_handler(struct control_request *, const json_t *args,
                             void *aux);

/* Listens on 'path' (replacing a stale socket there).  Returns NULL and a
 * malloc'd message in '*errorp' on failure. */
struct control_server *control_server_create(struct event_base *,
                                             const char *path,
                                             char **errorp);
void control_server_destroy(struct control_server *);

void control_server_register(struct control_server *, const char *command,
                             control_handler *, void *aux);

/* Answers 'request' with 'result' (reference stolen) and frees it. */
void control_request_reply(struct control_request *, json_t *result);
/* Answers 'request' with an error and frees it. */
void control_request_error(struct control_request *, const char *format, ...)
    NP_PRINTF_FORMAT(2, 3);

#endif /* control.h */
