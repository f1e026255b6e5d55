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

/* control.c: the agent's control socket (control.h): JSON lines over a Unix
 * socket, dispatched to the handlers the agent registers.  It knows no
 * command itself. */

#include <config.h>
#include "control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openvswitch/list.h>
#include <openvswitch/vlog.h>
#include "ovs-netpol/util.h"

VLOG_DEFINE_THIS_MODULE(control);

struct command_entry {
    char *name;
    control_handler *handler;
    void *aux;
};

struct control_server {
    struct evconnlistener *listener;
    char *path;
    dev_t dev;                  /* The socket file we created, so that we */
    ino_t ino;                  /* never remove another's. */
    struct command_entry *commands;
    size_t n_commands;
    struct ovs_list conns;      /* Contains struct control_conn. */
};

struct control_conn {
    struct ovs_list node;       /* In 'server->conns'. */
    struct control_server *server;
    struct bufferevent *bev;
    struct ovs_list requests;   /* Contains struct control_request. */
};

/* A request outlives its connection if the handler still holds it. */
struct control_request {
    struct ovs_list node;       /* In 'conn->requests', if 'conn'. */
    struct control_conn *conn;  /* NULL once the client went away. */
    json_t *id;
};

static void
request_finish(struct control_request *req, json_t *reply)
{
    if (req->conn) {
        json_object_set(reply, "id", req->id ? req->id : json_null());
        char *text = json_dumps(reply, JSON_COMPACT);
        if (text) {
            bufferevent_write(req->conn->bev, text, strlen(text));
            bufferevent_write(req->conn->bev, "\n", 1);
            free(text);
        }
        ovs_list_remove(&req->node);
    }
    json_decref(reply);
    json_decref(req->id);
    free(req);
}

void
control_request_reply(struct control_request *req, json_t *result)
{
    json_t *reply = json_object();
    json_object_set_new(reply, "result", result ? result : json_null());
    request_finish(req, reply);
}

void
control_request_error(struct control_request *req, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = np_xvasprintf(format, args);
    va_end(args);

    json_t *reply = json_object();
    json_object_set_new(reply, "error", json_string(msg));
    free(msg);
    request_finish(req, reply);
}

static void
conn_destroy(struct control_conn *conn)
{
    struct control_request *req;
    LIST_FOR_EACH_POP (req, node, &conn->requests) {
        req->conn = NULL;       /* The handler still owns it. */
    }
    ovs_list_remove(&conn->node);
    bufferevent_free(conn->bev);
    free(conn);
}

static void
dispatch(struct control_conn *conn, const char *line)
{
    json_error_t jerror;
    json_t *msg = json_loads(line, 0, &jerror);
    struct control_request *req = np_xzalloc(sizeof *req);
    req->conn = conn;
    ovs_list_push_back(&conn->requests, &req->node);

    if (!msg || !json_is_object(msg)) {
        control_request_error(req, "request is not a JSON object: %s",
                              msg ? "wrong type" : jerror.text);
        json_decref(msg);
        return;
    }
    req->id = json_incref(json_object_get(msg, "id"));
    const char *command = json_string_value(json_object_get(msg, "command"));
    const json_t *args = json_object_get(msg, "args");
    if (!command) {
        control_request_error(req, "request has no \"command\"");
        json_decref(msg);
        return;
    }

    const struct control_server *server = conn->server;
    for (size_t i = 0; i < server->n_commands; i++) {
        const struct command_entry *c = &server->commands[i];
        if (!strcmp(c->name, command)) {
            json_t *empty = json_object();
            c->handler(req, args && json_is_object(args) ? args : empty,
                       c->aux);
            json_decref(empty);
            json_decref(msg);
            return;
        }
    }
    control_request_error(req, "unknown command \"%s\"", command);
    json_decref(msg);
}

static void
conn_read_cb(struct bufferevent *bev, void *conn_)
{
    struct control_conn *conn = conn_;
    struct evbuffer *input = bufferevent_get_input(bev);

    for (;;) {
        size_t len;
        char *line = evbuffer_readln(input, &len, EVBUFFER_EOL_LF);
        if (!line) {
            break;
        }
        dispatch(conn, line);
        free(line);
    }
    if (evbuffer_get_length(input) > CONTROL_MAX_LINE) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "control client sent a line over %d bytes; "
                     "closing", CONTROL_MAX_LINE);
        conn_destroy(conn);
    }
}

static void
conn_event_cb(struct bufferevent *bev, short events, void *conn_)
{
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        conn_destroy(conn_);
    }
}

static void
accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
          struct sockaddr *sa, int socklen, void *server_)
{
    struct control_server *server = server_;
    struct event_base *base = evconnlistener_get_base(listener);
    struct control_conn *conn = np_xzalloc(sizeof *conn);

    conn->server = server;
    conn->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    ovs_list_init(&conn->requests);
    ovs_list_push_back(&server->conns, &conn->node);
    bufferevent_setcb(conn->bev, conn_read_cb, NULL, conn_event_cb, conn);
    bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

/* Returns true if something accepts connections on 'sun'. */
static bool
socket_is_live(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool live = !connect(fd, (const struct sockaddr *) sun, sizeof *sun);
    close(fd);
    return live;
}

struct control_server *
control_server_create(struct event_base *base, const char *path,
                      char **errorp)
{
    struct sockaddr_un sun;

    *errorp = NULL;
    if (strlen(path) >= sizeof sun.sun_path) {
        *errorp = np_xasprintf("%s: path too long for a Unix socket", path);
        return NULL;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);

    /* A socket left by an agent that died is in the way; a socket someone
     * still listens on is not ours to take, and anything else (a file, a
     * symbolic link) is not ours to remove. */
    struct stat st;
    if (!lstat(path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            *errorp = np_xasprintf("%s: exists and is not a socket; "
                                   "not replacing it", path);
            return NULL;
        }
        if (socket_is_live(&sun)) {
            *errorp = np_xasprintf("%s: another process (an agent?) is "
                                   "listening there", path);
            return NULL;
        }
        unlink(path);
    }

    /* Created 0600 from the start, not chmod'ed afterwards: no window in
     * which someone else could connect. */
    mode_t old_umask = umask(0177);
    struct evconnlistener *listener = evconnlistener_new_bind(
        base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        16, (struct sockaddr *) &sun, sizeof sun);
    int error = errno;
    umask(old_umask);
    if (!listener) {
        *errorp = np_xasprintf("%s: cannot listen (%s)", path,
                               np_strerror(error));
        return NULL;
    }

    struct control_server *server = np_xzalloc(sizeof *server);
    server->listener = listener;
    server->path = np_xstrdup(path);
    if (!lstat(path, &st)) {
        server->dev = st.st_dev;
        server->ino = st.st_ino;
    }
    ovs_list_init(&server->conns);
    evconnlistener_set_cb(listener, accept_cb, server);
    return server;
}

void
control_server_destroy(struct control_server *server)
{
    if (!server) {
        return;
    }
    struct control_conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        conn_destroy(conn);
    }
    evconnlistener_free(server->listener);
    struct stat st;
    if (!lstat(server->path, &st) && st.st_dev == server->dev
        && st.st_ino == server->ino) {
        unlink(server->path);
    }
    for (size_t i = 0; i < server->n_commands; i++) {
        free(server->commands[i].name);
    }
    free(server->commands);
    free(server->path);
    free(server);
}

void
control_server_register(struct control_server *server, const char *command,
                        control_handler *handler, void *aux)
{
    server->commands = np_xrealloc(server->commands,
                                   (server->n_commands + 1)
                                   * sizeof *server->commands);
    server->commands[server->n_commands++] = (struct command_entry) {
        .name = np_xstrdup(command), .handler = handler, .aux = aux,
    };
}
