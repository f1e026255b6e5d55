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

/* problems.c: the list of validation problems that the manifest reader
 * (manifest.c, object-parse.c, yaml.c) hands back to its caller.  Problems
 * are plain data, so that the core library (flows/) never logs: the agent
 * logs them, rate-limited, and ovs-netpolctl prints them.  No I/O. */

#include <config.h>
#include "ovs-netpol/manifest.h"

#include <stdarg.h>
#include <stdlib.h>
#include <openvswitch/dynamic-string.h>
#include "ovs-netpol/util.h"

void
np_problems_init(struct np_problems *problems)
{
    problems->items = NULL;
    problems->n = 0;
    problems->allocated = 0;
}

static void
np_problem_destroy(struct np_problem *problem)
{
    free(problem->source);
    free(problem->object);
    free(problem->path);
    free(problem->message);
}

void
np_problems_destroy(struct np_problems *problems)
{
    if (problems) {
        np_problems_clear(problems);
        free(problems->items);
        np_problems_init(problems);
    }
}

/* Forgets every problem but keeps the allocated array for reuse. */
void
np_problems_clear(struct np_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        np_problem_destroy(&problems->items[i]);
    }
    problems->n = 0;
}

void
np_problems_add(struct np_problems *problems, const char *source,
                const char *object, const char *path,
                const char *format, ...)
{
    problems->items = np_x2nrealloc(problems->items, &problems->allocated,
                                    problems->n + 1,
                                    sizeof *problems->items);

    struct np_problem *problem = &problems->items[problems->n++];
    problem->source = np_xstrdup(source ? source : "");
    problem->object = np_xstrdup(object ? object : "");
    problem->path = np_xstrdup(path ? path : "");

    va_list args;
    va_start(args, format);
    problem->message = np_xvasprintf(format, args);
    va_end(args);
}

void
np_problems_append(struct np_problems *dst, const struct np_problems *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct np_problem *p = &src->items[i];
        np_problems_add(dst, p->source, p->object, p->path, "%s",
                        p->message);
    }
}

void
np_problem_format(const struct np_problem *problem, struct ds *s)
{
    const char *parts[] = {
        problem->source, problem->object, problem->path, problem->message,
    };
    bool first = true;

    for (size_t i = 0; i < NP_ARRAY_SIZE(parts); i++) {
        if (parts[i] && parts[i][0]) {
            if (!first) {
                ds_put_cstr(s, ": ");
            }
            ds_put_cstr(s, parts[i]);
            first = false;
        }
    }
}
