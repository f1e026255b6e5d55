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

/* manifest-files.c: reading manifest files and directories from disk
 * (manifest-files.h).  A source of the agent and of `ovs-netpolctl`: disk ->
 * objects -> cluster state.  It parses nothing itself; flows/manifest.c
 * does. */

#include <config.h>
#include "manifest-files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ovs-netpol/util.h"

static bool
is_manifest_name(const char *name)
{
    return (name[0] != '.'
            && (np_str_ends_with(name, ".yaml")
                || np_str_ends_with(name, ".yml")
                || np_str_ends_with(name, ".json")));
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_, *const *b = b_;
    return strcmp(*a, *b);
}

static void
add_path(char ***paths, size_t *n, size_t *allocated, char *path)
{
    *paths = np_x2nrealloc(*paths, allocated, *n + 1, sizeof **paths);
    (*paths)[(*n)++] = path;
}

static int
collect_dir(const char *dir, char ***paths, size_t *n, size_t *allocated,
            int depth)
{
    if (depth > 16) {
        return ELOOP;
    }
    DIR *d = opendir(dir);
    if (!d) {
        return errno;
    }

    char **names = NULL;
    size_t n_names = 0, allocated_names = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            add_path(&names, &n_names, &allocated_names,
                     np_xstrdup(de->d_name));
        }
    }
    closedir(d);
    np_qsort(names, n_names, sizeof *names, compare_strings);

    for (size_t i = 0; i < n_names; i++) {
        char *path = np_xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st)) {
            free(path);
        } else if (S_ISDIR(st.st_mode)) {
            /* Unreadable subdirectories are skipped, not fatal. */
            int error = collect_dir(path, paths, n, allocated, depth + 1);
            (void) error;
            free(path);
        } else if (S_ISREG(st.st_mode) && is_manifest_name(names[i])) {
            add_path(paths, n, allocated, path);
        } else {
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

int
manifest_collect_paths(const char *path, char ***paths, size_t *n)
{
    size_t allocated = *n;
    struct stat st;

    if (stat(path, &st)) {
        return errno;
    }
    if (S_ISDIR(st.st_mode)) {
        return collect_dir(path, paths, n, &allocated, 0);
    }
    add_path(paths, n, &allocated, np_xstrdup(path));
    return 0;
}

int
read_file_limited(const char *path, size_t max, char **bufp, size_t *sizep)
{
    *bufp = NULL;
    *sizep = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }

    size_t size = 0, allocated = 64 * 1024;
    char *buf = np_xmalloc(allocated + 1);
    for (;;) {
        if (size == allocated) {
            if (allocated >= max + 1) {
                break;
            }
            allocated = allocated * 2 > max + 1 ? max + 1 : allocated * 2;
            buf = np_xrealloc(buf, allocated + 1);
        }
        ssize_t n = read(fd, buf + size, allocated - size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int error = errno;
            close(fd);
            free(buf);
            return error;
        } else if (!n) {
            break;
        }
        size += n;
    }
    close(fd);

    if (size > max) {
        free(buf);
        return EFBIG;
    }
    buf[size] = '\0';
    *bufp = buf;
    *sizep = size;
    return 0;
}

static void
collect_object(struct np_object *obj, void *file_)
{
    struct manifest_file *file = file_;
    file->objects = np_x2nrealloc(file->objects, &file->allocated,
                                  file->n_objects + 1,
                                  sizeof *file->objects);
    file->objects[file->n_objects++] = *obj;
    free(obj);
}

/* Threads for the items of a big manifest: one per CPU, within the
 * parser's limit. */
static int
parse_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MANIFEST_MAX_THREADS ? MANIFEST_MAX_THREADS : n;
}

bool
manifest_file_load(const char *path, struct manifest_file *file,
                   struct np_problems *problems)
{
    memset(file, 0, sizeof *file);
    file->path = np_xstrdup(path);

    char *buf;
    size_t size;
    int error = read_file_limited(path, MANIFEST_MAX_SIZE, &buf, &size);
    if (error) {
        np_problems_add(problems, path, NULL, NULL, "%s",
                        error == EFBIG ? "file larger than the 64 MiB limit"
                                       : strerror(error));
        return false;
    }

    file->ok = manifest_parse_threads(buf, size, path, collect_object, file,
                                      problems, parse_threads());
    free(buf);
    if (!file->ok) {
        /* Never half of a file: drop what was read before the error. */
        for (size_t i = 0; i < file->n_objects; i++) {
            np_object_destroy(&file->objects[i]);
        }
        file->n_objects = 0;
    }
    return file->ok;
}

void
manifest_file_destroy(struct manifest_file *file)
{
    if (file) {
        for (size_t i = 0; i < file->n_objects; i++) {
            np_object_destroy(&file->objects[i]);
        }
        free(file->objects);
        free(file->path);
        memset(file, 0, sizeof *file);
    }
}

bool
manifest_load_paths(char **paths, size_t n_paths, struct cluster *cluster,
                    struct np_problems *problems)
{
    bool ok = true;
    for (size_t i = 0; i < n_paths; i++) {
        char **files = NULL;
        size_t n_files = 0;
        int error = manifest_collect_paths(paths[i], &files, &n_files);
        if (error) {
            np_problems_add(problems, paths[i], NULL, NULL, "%s",
                            strerror(error));
            ok = false;
        }
        for (size_t j = 0; j < n_files; j++) {
            struct manifest_file file;
            manifest_file_load(files[j], &file, problems);
            for (size_t k = 0; k < file.n_objects; k++) {
                cluster_set_object(cluster, &file.objects[k]);
            }
            file.n_objects = 0;
            manifest_file_destroy(&file);
            free(files[j]);
        }
        free(files);
    }
    return ok;
}
