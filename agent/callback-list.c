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

#include <config.h>
#include "callback-list.h"

#include <stdlib.h>
#include "ovs-netpol/util.h"

struct callback {
    struct ovs_list node;
    void (*cb)(void *aux);
    void *aux;
};

void
callback_list_add(struct ovs_list *list, void (*cb)(void *aux), void *aux)
{
    struct callback *c = np_xmalloc(sizeof *c);
    c->cb = cb;
    c->aux = aux;
    ovs_list_push_back(list, &c->node);
}

void
callback_list_call(struct ovs_list *list)
{
    struct callback *c;
    LIST_FOR_EACH_POP (c, node, list) {
        c->cb(c->aux);
        free(c);
    }
}

void
callback_list_clear(struct ovs_list *list)
{
    struct callback *c;
    LIST_FOR_EACH_POP (c, node, list) {
        free(c);
    }
}
