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

int sriov_flock_dir_open(const char *dir, struct sriov_flock_dir *ret) {
        struct stat st;
        int fd;

        fd = open(dir ?: SRIOV_FLOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        /* What sriov_flock_file_adopt_group() decides per file, decided once: a file root
         * creates here gets the folder's group from the set-group-ID bit, or else from us. */
        *ret = (struct sriov_flock_dir) {
                .fd = fd,
                .gid = st.st_gid,
                .root = geteuid() == 0,
                .fix_group = geteuid() == 0 && !(st.st_mode & S_ISGID) && getegid() != st.st_gid,
        };
        return 0;
}

void sriov_flock_dir_close(struct sriov_flock_dir *d) {
        if (d && d->fd >= 0)
                d->fd = safe_close(d->fd);
}

int sriov_flock_touch_at(const struct sriov_flock_dir *d, enum sriov_lock_level level, const struct sriov_addr *addr) {
        char name[SRIOV_FLOCK_NAME_MAX];
        struct stat st;
        int r, fd;

        r = sriov_flock_name(level, addr, name);
        if (r < 0)
                return r;
        /* O_EXCL: a file that exists is not opened at all. sriov_flock_dir_prepare() gave
         * those left from before the group and mode; one root made since without them
         * (sriov_flock_acquire() in a folder without set-group-ID) is put right below. */
        fd = openat(d->fd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                    SRIOV_FLOCK_FILE_MODE);
        if (fd >= 0) {
                if (d->fix_group)
                        (void) fchown(fd, (uid_t) -1, d->gid);
                close(fd);
                return 0;
        }
        if (errno != EEXIST)
                return negative_errno();
        if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ELOOP;          /* what open(O_NOFOLLOW) said of a symlink */
        if (d->root && st.st_uid == 0 && st.st_gid != d->gid)
                (void) fchownat(d->fd, name, (uid_t) -1, d->gid, AT_SYMLINK_NOFOLLOW);
        return 0;
}

int sriov_flock_touch(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr) {
        struct sriov_flock_dir d;
        int r;

        r = sriov_flock_dir_open(dir, &d);
        if (r < 0)
                return r;
        r = sriov_flock_touch_at(&d, level, addr);
        sriov_flock_dir_close(&d);
        return r;
}
