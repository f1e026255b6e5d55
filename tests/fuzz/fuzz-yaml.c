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

/* fuzz-yaml.c: libFuzzer target for yaml_to_json() (flows/yaml.c), the YAML
 * reader of manifest files, on arbitrary bytes.
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks the limits
 * of manifest.h on what comes out, counting every expansion of an alias:
 * each document holds at most MANIFEST_MAX_OBJECT_NODES values and nests at
 * most MANIFEST_MAX_DEPTH deep.  And it checks that the conversion is
 * stable: a document printed as JSON and read again as YAML gives the same
 * value (JSON is YAML), for documents whose strings libyaml can read back
 * (printable characters only, keys under libyaml's 1024-character limit
 * for implicit keys). */

#include <config.h>

#include <jansson.h>
#include "ovs-netpol/manifest.h"
#include "fuzz-util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* Counts the values in 'json' (aliases, which are shared references,
 * counted once per use, as the limit counts them; object keys are not
 * values) and the depth of its deepest collection ('depth' is the level of
 * 'json', 1 for a document's root).  Stops counting past
 * 'max_values' so that a broken limit cannot make this loop for long. */
static void
measure(const json_t *json, int depth, size_t max_values, size_t *n_values,
        int *max_depth)
{
    if (*n_values > max_values) {
        return;
    }
    ++*n_values;
    if ((json_is_object(json) || json_is_array(json)) && depth > *max_depth) {
        *max_depth = depth;
    }
    if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *) json, key, value) {
            measure(value, depth + 1, max_values, n_values, max_depth);
        }
    } else if (json_is_array(json)) {
        size_t i;
        json_t *value;
        json_array_foreach (json, i, value) {
            measure(value, depth + 1, max_values, n_values, max_depth);
        }
    }
}

/* Returns true if the UTF-8 string 's' ('n' bytes) holds only characters
 * that libyaml accepts in a stream once jansson has escaped the control
 * characters: not DEL, the C1 controls, surrogates, U+FEFF, U+FFFE or
 * U+FFFF. */
static bool
yaml_printable(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0; i < n; ) {
        unsigned int c = p[i];
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (i + len > n) {
            return false;
        }
        unsigned int cp = len == 1 ? c
                          : len == 2 ? c & 0x1f
                          : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t j = 1; j < len; j++) {
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if (cp == 0x7f || (cp >= 0x80 && cp <= 0x9f && cp != 0x85)
            || (cp >= 0xd800 && cp <= 0xdfff)
            || cp == 0xfeff || cp == 0xfffe || cp == 0xffff) {
            return false;
        }
        i += len;
    }
    return true;
}

/* Returns true if every string and key in 'json' passes yaml_printable()
 * and every key is short enough to be an implicit key. */
static bool
round_trippable(const json_t *json)
{
    if (json_is_string(json)) {
        return yaml_printable(json_string_value(json),
                              json_string_length(json));
    } else if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *) json, key, value) {
            if (strlen(key) > 500 || !yaml_printable(key, strlen(key))
                || !round_trippable(value)) {
                return false;
            }
        }
    } else if (json_is_array(json)) {
        size_t i;
        json_t *value;
        json_array_foreach (json, i, value) {
            if (!round_trippable(value)) {
                return false;
            }
        }
    }
    return true;
}

static void
check_round_trip(const json_t *doc)
{
    if (!round_trippable(doc)) {
        return;
    }
    char *text = json_dumps(doc, JSON_ENCODE_ANY);
    FUZZ_CHECK(text, "json_dumps failed");

    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json(text, strlen(text), &docs, &n_docs);
    FUZZ_CHECK(!error, "the JSON of a document does not read back as "
               "YAML: %s\n%.2000s", error, text);
    FUZZ_CHECK(n_docs == 1, "%zu documents read back from %.2000s", n_docs,
               text);
    FUZZ_CHECK(json_equal(docs[0], doc), "reads back differently: "
               "%.2000s", text);
    json_decref(docs[0]);
    free(docs);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t **docs;
    size_t n_docs;
    char *error = yaml_to_json((const char *) data, size, &docs, &n_docs);

    if (error) {
        FUZZ_CHECK(!docs && !n_docs, "documents returned with an error");
        FUZZ_CHECK(error[0], "empty error message");
        free(error);
        return 0;
    }
    for (size_t i = 0; i < n_docs; i++) {
        size_t n_values = 0;
        int depth = 0;

        FUZZ_CHECK(docs[i], "document %zu is NULL", i);
        measure(docs[i], 1, MANIFEST_MAX_OBJECT_NODES, &n_values, &depth);
        FUZZ_CHECK(n_values <= MANIFEST_MAX_OBJECT_NODES,
                   "document %zu has more than %d values", i,
                   MANIFEST_MAX_OBJECT_NODES);
        FUZZ_CHECK(depth <= MANIFEST_MAX_DEPTH,
                   "document %zu nests %d deep", i, depth);
        if (n_values < 2000) {
            check_round_trip(docs[i]);
        }
        json_decref(docs[i]);
    }
    free(docs);
    return 0;
}
