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

#ifndef CALLBACK_LIST_H
#define CALLBACK_LIST_H 1

/* Callers waiting for something (a barrier): each added 'cb(aux)' is
 * called once, when the owner calls them all, or dropped uncalled when the
 * owner goes away.  Used on the loop thread only. */

#include <openvswitch/list.h>

void callback_list_add(struct ovs_list *, void (*cb)(void *aux), void *aux);
void callback_list_call(struct ovs_list *);     /* Calls and removes all. */
void callback_list_clear(struct ovs_list *);    /* Removes all, uncalled. */

#endif /* callback-list.h */
