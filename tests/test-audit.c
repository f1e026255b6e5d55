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

/* test-audit.c: unit tests for agent/audit.c (check suite "audit"): the
 * escaping that keeps every audit line one line of printable ASCII whose
 * fields split on spaces and '=', whatever the names in Kubernetes objects
 * (audit.h, "The line format").  tests/agent-audit.sh covers the rest with
 * real packets. */

#include <config.h>
#include "agent/audit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <openvswitch/dynamic-string.h>

static char *
escape(const char *name, const char *extra)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    audit_escape(name, extra, &s);
    return ds_steal_cstr(&s);
}

#define CHECK_ESCAPE(NAME, EXTRA, WANT)                                 \
    do {                                                                \
        char *got_ = escape(NAME, EXTRA);                               \
        ck_assert_str_eq(got_, WANT);                                   \
        free(got_);                                                     \
    } while (0)

START_TEST(test_names_unchanged)
{
    /* What Kubernetes allows in names (DNS labels and subdomains). */
    CHECK_ESCAPE("kube-system", NULL, "kube-system");
    CHECK_ESCAPE("web-7d4b9c.abc_1", NULL, "web-7d4b9c.abc_1");
    CHECK_ESCAPE("", NULL, "");
}
END_TEST

START_TEST(test_odd_bytes)
{
    /* The separators of the line format, control characters, the escape
     * character itself, and bytes above ASCII. */
    CHECK_ESCAPE("a b", NULL, "a\\x20b");
    CHECK_ESCAPE("a=b", NULL, "a\\x3db");
    CHECK_ESCAPE("a/b", NULL, "a\\x2fb");
    CHECK_ESCAPE("a\nverdict=allow", NULL, "a\\x0averdict\\x3dallow");
    CHECK_ESCAPE("tab\tcr\r", NULL, "tab\\x09cr\\x0d");
    CHECK_ESCAPE("back\\slash", NULL, "back\\x5cslash");
    CHECK_ESCAPE("(x):80", NULL, "\\x28x\\x29\\x3a80");
    CHECK_ESCAPE("caf\xc3\xa9", NULL, "caf\\xc3\\xa9");
    CHECK_ESCAPE("\x7f\x01", NULL, "\\x7f\\x01");
}
END_TEST

START_TEST(test_extra)
{
    /* Named-port variants keep their ':' and ','. */
    CHECK_ESCAPE("TCP:8080,UDP:53", ":,", "TCP:8080,UDP:53");
    CHECK_ESCAPE("TCP:8080 x", ":,", "TCP:8080\\x20x");
    CHECK_ESCAPE("TCP:8080", NULL, "TCP\\x3a8080");
}
END_TEST

START_TEST(test_printable)
{
    /* Every byte value comes out as printable ASCII without ' ' or '='. */
    for (int c = 1; c < 256; c++) {
        char name[2] = { c, 0 };
        char *got = escape(name, ":,");
        for (const char *p = got; *p; p++) {
            ck_assert_msg(*p > ' ' && *p < 0x7f && *p != '=',
                          "byte %#x escaped to \"%s\"", c, got);
        }
        free(got);
    }
}
END_TEST

static Suite *
audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("escape");
    tcase_add_test(tc, test_names_unchanged);
    tcase_add_test(tc, test_odd_bytes);
    tcase_add_test(tc, test_extra);
    tcase_add_test(tc, test_printable);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(audit_suite());
    srunner_run_all(sr, CK_ENV);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
