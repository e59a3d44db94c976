/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov-json.h"
#include "sriov-state.h"

static int mkdir_p(const char *dir) {
        _cleanup_free_ char *copy = NULL;

        if (!dir || dir[0] == '\0')
                return -EINVAL;
        copy = strdup(dir);
        if (!copy)
                return -ENOMEM;
        for (char *s = copy + 1; ; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = c;
                if (c == '\0')
                        break;
        }
        return 0;
}

int sriov_write_file_atomic(const char *dir, const char *name, const char *content) {
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        char tmp[256];
        size_t len = strlen(content), off = 0;
        int r;

        if (strchr(name, '/') || strlen(name) > 200)
                return -EINVAL;
        r = mkdir_p(dir);
        if (r < 0)
                return r;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();

        snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long) getpid());
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        while (off < len) {
                ssize_t n = write(fd, content + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                off += (size_t) n;
        }
        if (fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (renameat(dfd, tmp, dfd, name) < 0) {
                r = negative_errno();
                goto fail;
        }
        /* The rename is durable only once the directory is. */
        (void) fsync(dfd);
        return 0;

fail:
        (void) unlinkat(dfd, tmp, 0);
        return r;
}

/* json_object_from_file() stops after the first value; a file with anything but
 * whitespace after it is not ours to half-trust. */
static json_object *parse_whole_file(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        json_tokener *tok;
        json_object *o;
        size_t len;

        if (!f)
                return NULL;
        buf = malloc(1024 * 1024 + 1);
        if (!buf)
                return NULL;
        len = fread(buf, 1, 1024 * 1024 + 1, f);
        if (len > 1024 * 1024 || ferror(f))
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, buf, (int) len);
        size_t end = o && json_tokener_get_error(tok) == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
        json_tokener_free(tok);
        if (!o)
                return NULL;
        for (size_t i = end; i < len; i++)
                if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r') {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

int sriov_state_load(const char *dir, struct sriov_desired **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ struct sriov_desired *list = NULL;
        _cleanup_json_ json_object *root = NULL;
        json_object *pfs;
        size_t n = 0;

        if (asprintf(&path, "%s/%s", dir, SRIOV_STATE_FILE) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        root = parse_whole_file(path);
        if (!root || !json_object_object_get_ex(root, "pfs", &pfs) || !json_object_is_type(pfs, json_type_array))
                return -EBADMSG;

        size_t len = json_object_array_length(pfs);
        if (len > 0) {
                list = calloc(len, sizeof(*list));
                if (!list)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(pfs, i), *v;
                struct sriov_desired d = { .policy = SRIOV_POLICY_BEST_EFFORT };

                if (!json_object_object_get_ex(e, "pf", &v) || !json_object_is_type(v, json_type_string) ||
                    sriov_addr_parse(json_object_get_string(v), &d.pf) < 0)
                        return -EBADMSG;
                if (!json_object_object_get_ex(e, "num_vfs", &v) || !json_object_is_type(v, json_type_int) ||
                    json_object_get_int64(v) < 0 || json_object_get_int64(v) > SRIOV_NUM_VFS_MAX)
                        return -EBADMSG;
                d.num_vfs = (unsigned) json_object_get_int64(v);
                if (json_object_object_get_ex(e, "policy", &v)) {
                        if (!json_object_is_type(v, json_type_string) ||
                            (d.policy = sriov_policy_from_string(json_object_get_string(v))) < 0)
                                return -EBADMSG;
                }
                if (json_object_object_get_ex(e, "last_attempt_short", &v)) {
                        if (!json_object_is_type(v, json_type_boolean))
                                return -EBADMSG;
                        d.settled_short = json_object_get_boolean(v);
                }
                list[n++] = d;
        }
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int sriov_state_save(const char *dir, const struct sriov_desired *list, size_t n) {
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *pfs = json_object_new_array();

        json_object_object_add(root, "version", json_object_new_int(1));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "pf", sriov_addr_to_json(&list[i].pf));
                json_object_object_add(e, "num_vfs", json_object_new_int64(list[i].num_vfs));
                json_object_object_add(e, "policy", json_object_new_string(sriov_policy_to_string(list[i].policy)));
                if (list[i].settled_short)
                        json_object_object_add(e, "last_attempt_short", json_object_new_boolean(true));
                json_object_array_add(pfs, e);
        }
        json_object_object_add(root, "pfs", pfs);
        return sriov_write_file_atomic(dir, SRIOV_STATE_FILE,
                                       json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static bool is_stale_temp_name(const char *name) {
        size_t len = strlen(name);
        const char *dot;

        /* ".<name>.<digits>.tmp", as sriov_write_file_atomic() makes them. */
        if (name[0] != '.' || len < 7 || strcmp(name + len - 4, ".tmp") != 0)
                return false;
        dot = name + len - 5;
        if (*dot < '0' || *dot > '9')
                return false;
        while (dot > name && *dot >= '0' && *dot <= '9')
                dot--;
        return *dot == '.' && dot > name + 1;
}

int sriov_state_remove_stale_temp_files(const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        int n = 0;

        if (dfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        d = fdopendir(dfd);
        if (!d)
                return negative_errno();
        dfd = -EBADF;   /* owned by d now */
        for (struct dirent *de; (de = readdir(d)); ) {
                if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                        continue;
                if (!is_stale_temp_name(de->d_name))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        n++;
        }
        closedir(d);
        return n;
}
