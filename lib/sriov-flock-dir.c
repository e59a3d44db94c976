/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov-flock.h"

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

void sriov_flock_file_adopt_group(int fd, const char *dir) {
        struct stat fst, dst;

        /* Where the folder could not be made set-group-ID (systemd's RestrictSUIDSGID=), a
         * file root creates gets root's group: give it the folder's, so the admin group can
         * still open it. Files of other users are left alone. */
        if (geteuid() == 0 && fstat(fd, &fst) == 0 && stat(dir ? dir : SRIOV_FLOCK_DIR, &dst) == 0 &&
            fst.st_uid == 0 && fst.st_gid != dst.st_gid)
                (void) fchown(fd, (uid_t) -1, dst.st_gid);
}

int sriov_flock_dir_prepare(const char *dir, gid_t gid) {
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;
        DIR *d;
        int r;

        if (!dir)
                dir = SRIOV_FLOCK_DIR;
        r = mkdir_parents(dir);
        if (r < 0)
                return r;
        if (mkdir(dir, SRIOV_FLOCK_DIR_MODE & ~S_ISGID) < 0 && errno != EEXIST)
                return negative_errno();
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (fstat(dfd, &st) < 0)
                return negative_errno();
        /* Group first: chown may clear the set-group-ID bit, fchmod sets it. */
        if (fchown(dfd, 0, gid == (gid_t) -1 ? 0 : gid) < 0 && errno != EPERM)
                return negative_errno();
        /* systemd's RestrictSUIDSGID= refuses the set-group-ID bit: then 0750, and the lock
         * files get the folder's group when they are created (open_lock_file()). */
        if (fchmod(dfd, SRIOV_FLOCK_DIR_MODE) < 0 &&
            (errno != EPERM || fchmod(dfd, SRIOV_FLOCK_DIR_MODE & ~S_ISGID) < 0))
                return negative_errno();

        int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        d = fdopendir(dup_fd);
        if (!d) {
                r = negative_errno();
                close(dup_fd);
                return r;
        }
        for (struct dirent *de; (de = readdir(d));) {
                size_t n = strlen(de->d_name);
                _cleanup_close_ int fd = -EBADF;

                if (n < 6 || !streq(de->d_name + n - 5, ".lock"))
                        continue;
                /* O_PATH would not allow fchown/fchmod; read-only does, and takes no lock. */
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                (void) fchown(fd, 0, gid == (gid_t) -1 ? 0 : gid);
                (void) fchmod(fd, SRIOV_FLOCK_FILE_MODE);
        }
        closedir(d);
        return 0;
}

/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters are listed as "1: -> FLOCK ...". */
static bool parse_locks_line(const char *line, pid_t *ret_pid, unsigned long *ret_ino) {
        char type[16], adv[16], mode[16];
        unsigned maj, min;
        unsigned long ino;
        int pid;

        if (strstr(line, "->"))
                return false;
        const char *p = strchr(line, ':');
        if (!p)
                return false;
        if (sscanf(p + 1, " %15s %15s %15s %d %x:%x:%lu", type, adv, mode, &pid, &maj, &min, &ino) != 7)
                return false;
        if (!streq(type, "FLOCK"))
                return false;
        *ret_pid = pid;
        *ret_ino = ino;
        return true;
}

int sriov_flock_find_holder(const char *dir, const struct sriov_flock_spec *spec, pid_t *ret_pid, char **ret_path) {
        struct { enum sriov_lock_level level; const struct sriov_addr *addr; } files[2 + 1];
        unsigned long inos[ELEMENTSOF(files)] = {};
        _cleanup_free_ char *line = NULL;
        size_t n = 0, cap = 0;
        FILE *f;
        int r = -ENOENT;

        if (!spec || !ret_pid)
                return -EINVAL;
        files[n++] = (typeof(files[0])) { SRIOV_LOCK_HIERARCHY, &spec->hierarchy };
        if (spec->pf)
                files[n++] = (typeof(files[0])) { SRIOV_LOCK_PF, spec->pf };
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (sriov_flock_path(dir, files[i].level, files[i].addr, &path) >= 0 && stat(path, &st) == 0)
                        inos[i] = (unsigned long) st.st_ino;
        }

        f = fopen("/proc/locks", "re");
        if (!f)
                return -ENOENT;
        while (getline(&line, &cap, f) > 0) {
                pid_t pid;
                unsigned long ino;
                if (!parse_locks_line(line, &pid, &ino))
                        continue;
                for (size_t i = 0; i < n; i++) {
                        if (!inos[i] || inos[i] != ino || pid == getpid())
                                continue;
                        if (ret_path) {
                                r = sriov_flock_path(dir, files[i].level, files[i].addr, ret_path);
                                if (r < 0)
                                        break;
                        }
                        *ret_pid = pid;
                        r = 0;
                        break;
                }
                if (r == 0 || r == -ENOMEM)
                        break;
        }
        fclose(f);
        return r;
}

int sriov_flock_touch(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = sriov_flock_path(dir, level, addr, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, SRIOV_FLOCK_FILE_MODE);
        if (fd < 0)
                return negative_errno();
        sriov_flock_file_adopt_group(fd, dir);
        close(fd);
        return 0;
}
