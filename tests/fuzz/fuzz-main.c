/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays files through a fuzz target when it is built without libFuzzer (as systemd's
 * src/fuzz/fuzz-main.c): every argument is a file, or a directory whose regular files
 * are each one input. A crash, an ASan report or an abort in the target fails the run;
 * so does an argument that cannot be read, or no input at all (a corpus that went
 * missing must not pass as an empty success). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "sriov-macros.h"

static int read_all(int fd, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        uint8_t *b = realloc(buf, allocated + 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated += 65536;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int run_file(int dirfd, const char *name, const char *shown) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t *copy;
        size_t size = 0;
        int r;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "%s: %m\n", shown);
                return -errno;
        }
        r = read_all(fd, &buf, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", shown, strerror(-r));
                return r;
        }
        /* An exactly sized copy, as libFuzzer gives, so that ASan sees a read past the end. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, buf, size);
        printf("%s (%zu bytes)\n", shown, size);
        fflush(stdout);
        (void) LLVMFuzzerTestOneInput(copy, size);
        free(copy);
        return 1;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The regular files of a directory, in name order (so that a failure is reproducible). */
static int run_dir(const char *path) {
        _cleanup_closedir_ DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int r = 0, total = 0;

        d = opendir(path);
        if (!d) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (n == allocated) {
                        char **p = realloc(names, (allocated = allocated * 2 + 16) * sizeof(char *));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        names = p;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r >= 0)
                qsort(names, n, sizeof(char *), compare_names);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *shown = NULL;

                if (asprintf(&shown, "%s/%s", path, names[i]) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = run_file(dirfd(d), names[i], shown);
                if (r > 0)
                        total++;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r < 0 ? r : total;
}

int main(int argc, char *argv[]) {
        int total = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                r = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(AT_FDCWD, argv[i], argv[i]);
                if (r < 0)
                        return EXIT_FAILURE;
                total += r;
        }
        if (total == 0) {
                fprintf(stderr, "no input replayed: give files or corpus directories\n");
                return EXIT_FAILURE;
        }
        printf("%d inputs replayed\n", total);
        return EXIT_SUCCESS;
}
