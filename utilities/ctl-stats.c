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

/* ctl-stats.c: `ovs-netpolctl stats`, the per-rule and per-isolated-pod
 * counters a running agent reads from the switch's flow statistics (the
 * agent's "stats" command; agent/flow-stats.h defines the numbers).  It
 * only prints what the agent answers. */

#include <config.h>
#include "ctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "ovs-netpol/util.h"

/* A table of text cells, printed with aligned columns: the first column
 * left-aligned, the others (numbers) right-aligned after the second. */
struct table {
    size_t n_columns;
    char **cells;               /* Row-major, n_rows * n_columns. */
    size_t n_rows, allocated_rows;
};

static void
table_init(struct table *t, size_t n_columns)
{
    memset(t, 0, sizeof *t);
    t->n_columns = n_columns;
}

/* Adds a row of 'n_columns' malloc'd cells (ownership moves). */
static void
table_add_row(struct table *t, char **cells)
{
    t->cells = np_x2nrealloc(t->cells, &t->allocated_rows,
                             (t->n_rows + 1) * t->n_columns,
                             sizeof *t->cells);
    memcpy(&t->cells[t->n_rows * t->n_columns], cells,
           t->n_columns * sizeof *cells);
    t->n_rows++;
}

static void
table_print_and_destroy(struct table *t)
{
    size_t *widths = np_xcalloc(t->n_columns, sizeof *widths);
    for (size_t i = 0; i < t->n_rows * t->n_columns; i++) {
        widths[i % t->n_columns] = NP_MAX(widths[i % t->n_columns],
                                          strlen(t->cells[i]));
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        char **row = &t->cells[r * t->n_columns];
        for (size_t c = 0; c < t->n_columns; c++) {
            int width = widths[c];
            const char *sep = c + 1 < t->n_columns ? "  " : "";
            if (c < 2) {
                printf("%-*s%s", sep[0] ? width : 0, row[c], sep);
            } else {
                printf("%*s%s", width, row[c], sep);
            }
            free(row[c]);
        }
        putchar('\n');
    }
    free(widths);
    free(t->cells);
}

static char *
json_int_text(const json_t *obj, const char *key)
{
    return np_xasprintf("%"JSON_INTEGER_FORMAT,
                        json_integer_value(json_object_get(obj, key)));
}

static const char *
json_text(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static char *
rule_name(const json_t *r)
{
    const char *state = json_text(r, "state");
    if (!strcmp(state, "unknown")) {
        json_int_t id = json_integer_value(json_object_get(r, "conj_id"));
        return np_xasprintf("conjunction %#llx (unknown)",
                            (unsigned long long int) id);
    }
    const char *variant = json_text(r, "variant");
    return np_xasprintf("%s/%s rule %"JSON_INTEGER_FORMAT"%s%s%s%s",
                        json_text(r, "namespace"), json_text(r, "policy"),
                        json_integer_value(json_object_get(r, "index")),
                        *variant ? " [" : "", variant, *variant ? "]" : "",
                        !strcmp(state, "retired") ? " (deleted)" : "");
}

static void
print_stats(const json_t *stats)
{
    struct table t;
    size_t i;
    const json_t *j;

    table_init(&t, 5);
    table_add_row(&t, (char *[]) {
        np_xstrdup("RULE"), np_xstrdup("DIRECTION"),
        np_xstrdup("NEW CONNECTIONS"), np_xstrdup("PACKETS"),
        np_xstrdup("BYTES"),
    });
    json_array_foreach (json_object_get(stats, "rules"), i, j) {
        const char *dir = json_text(j, "direction");
        table_add_row(&t, (char *[]) {
            rule_name(j), np_xstrdup(*dir ? dir : "?"),
            json_int_text(j, "connections"), json_int_text(j, "packets"),
            json_int_text(j, "bytes"),
        });
    }
    table_print_and_destroy(&t);

    putchar('\n');
    table_init(&t, 4);
    table_add_row(&t, (char *[]) {
        np_xstrdup("ISOLATED POD"), np_xstrdup("DIRECTION"),
        np_xstrdup("DROPPED PACKETS"), np_xstrdup("BYTES"),
    });
    json_array_foreach (json_object_get(stats, "isolation"), i, j) {
        const char *pod = json_text(j, "pod");
        table_add_row(&t, (char *[]) {
            *pod ? np_xasprintf("%s/%s", json_text(j, "namespace"), pod)
                 : np_xasprintf("ofport %"JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(
                                                       j, "ofport"))),
            np_xstrdup(json_text(j, "direction")),
            json_int_text(j, "packets"), json_int_text(j, "bytes"),
        });
    }
    table_print_and_destroy(&t);
}

int
ctl_stats(struct ctl_options *opts)
{
    json_t *stats = ctl_transact(opts, "stats", NULL);
    if (opts->json) {
        char *text = json_dumps(stats, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(text);
        free(text);
    } else {
        print_stats(stats);
    }
    json_decref(stats);
    return 0;
}
