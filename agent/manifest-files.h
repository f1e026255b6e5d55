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

#ifndef MANIFEST_FILES_H
#define MANIFEST_FILES_H 1

/* Reading manifest files from disk: the I/O half of manifest mode (the
 * parsing half, pure, is flows/manifest.c).
 *
 * A manifest path is a file, or a directory whose *.yaml, *.yml and *.json
 * files (recursively, in name order; hidden files and directories are
 * skipped) are read.  Each file is read whole, up to MANIFEST_MAX_SIZE
 * bytes, and parsed; a file that cannot be read or parsed yields a problem
 * and no objects, so that a half-written file is never half-applied. */

#include <stdbool.h>
#include <stddef.h>
#include "ovs-netpol/cluster.h"
#include "ovs-netpol/manifest.h"
#include "ovs-netpol/util.h"

/* The objects read from one file. */
struct manifest_file {
    char *path;
    struct np_object *objects;
    size_t n_objects, allocated;
    bool ok;                    /* Read and parsed as a whole. */
};

/* Appends to '*paths' (a malloc'd array of malloc'd strings, '*n' long) the
 * manifest files that 'path' names.  Returns 0 or an errno value (the path
 * does not exist or cannot be listed). */
int manifest_collect_paths(const char *path, char ***paths, size_t *n)
    NP_WARN_UNUSED_RESULT;

/* Reads and parses 'path' into 'file' (initialized by this function).
 * Problems go to 'problems'.  Returns file->ok. */
bool manifest_file_load(const char *path, struct manifest_file *file,
                        struct np_problems *problems);
void manifest_file_destroy(struct manifest_file *);

/* Reads every file named by 'paths' (files or directories) and puts their
 * objects into 'cluster'; later files override earlier ones.  Returns false
 * if some path could not be read at all. */
bool manifest_load_paths(char **paths, size_t n_paths,
                         struct cluster *cluster,
                         struct np_problems *problems);

/* Reads at most 'max' bytes of 'path' into a malloc'd, null-terminated
 * '*buf'.  Returns 0, EFBIG if the file is larger, or another errno. */
int read_file_limited(const char *path, size_t max, char **buf,
                      size_t *size) NP_WARN_UNUSED_RESULT;

#endif /* manifest-files.h */
