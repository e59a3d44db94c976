/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov-log.h"
#include "sriov-sysfs.h"

#define SYSFS_ATTR_MAX (64u * 1024u)

struct sriov_sysfs {
        char *root;
        int root_fd;
        int devices_fd;
};

int sriov_sysfs_new(const char *root, struct sriov_sysfs **ret) {
        _cleanup_close_ int root_fd = -EBADF, devices_fd = -EBADF;
        _cleanup_free_ char *copy = NULL;
        struct sriov_sysfs *s;

        if (!root || !ret)
                return -EINVAL;

        copy = strdup(root);
        if (!copy)
                return -ENOMEM;

        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return negative_errno();

        devices_fd = openat(root_fd, "bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (devices_fd < 0)
                return negative_errno();

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->root = TAKE_PTR(copy);
        s->root_fd = TAKE_FD(root_fd);
        s->devices_fd = TAKE_FD(devices_fd);
        *ret = s;
        return 0;
}

struct sriov_sysfs *sriov_sysfs_free(struct sriov_sysfs *s) {
        if (!s)
                return NULL;
        safe_close(s->root_fd);
        safe_close(s->devices_fd);
        free(s->root);
        free(s);
        return NULL;
}

const char *sriov_sysfs_root(const struct sriov_sysfs *s) {
        return s->root;
}

static int addr_cmp_qsort(const void *a, const void *b) {
        return sriov_addr_compare(a, b);
}

static int list_addresses(int dirfd, struct sriov_addr **ret, size_t *ret_n);

int sriov_sysfs_list_devices(struct sriov_sysfs *s, struct sriov_addr **ret, size_t *ret_n) {
        /* A fresh fd of the directory keeps our own for later openat() calls. */
        int fd = openat(s->devices_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return list_addresses(fd, ret, ret_n);
}

int sriov_sysfs_list_iommu_group(struct sriov_sysfs *s, int group, struct sriov_addr **ret, size_t *ret_n) {
        char path[64];
        int fd;

        if (group < 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "kernel/iommu_groups/%d/devices", group);
        fd = openat(s->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return list_addresses(fd, ret, ret_n);
}

int sriov_sysfs_root_has(struct sriov_sysfs *s, const char *path) {
        return sriov_sysfs_has(s->root_fd, path);
}

/* Takes fd. */
static int list_addresses(int fd, struct sriov_addr **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ struct sriov_addr *list = NULL;
        size_t n = 0, cap = 0;

        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }

        for (;;) {
                struct sriov_addr a;
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }
                if (de->d_name[0] == '.')
                        continue;
                if (sriov_addr_parse(de->d_name, &a) < 0) {
                        sriov_debug("sysfs: ignoring bus entry '%s': not a PCI address", de->d_name);
                        continue;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 64;
                        struct sriov_addr *nl = reallocarray(list, ncap, sizeof(*nl));
                        if (!nl)
                                return -ENOMEM;
                        list = nl;
                        cap = ncap;
                }
                list[n++] = a;
        }

        if (n > 0)
                qsort(list, n, sizeof(*list), addr_cmp_qsort);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int sriov_sysfs_open_device(struct sriov_sysfs *s, const struct sriov_addr *a) {
        int fd;

        fd = openat(s->devices_fd, SRIOV_ADDR_STR(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return fd;
}

static int readlinkat_malloc(int dirfd, const char *name, char **ret) {
        size_t size = 256;

        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlinkat(dirfd, name, buf, size);
                if (n < 0)
                        return negative_errno();
                if ((size_t) n < size) {
                        buf[n] = '\0';
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (size >= PATH_MAX * 4)
                        return -ENAMETOOLONG;
                size *= 2;
        }
}

int sriov_sysfs_device_path(struct sriov_sysfs *s, const struct sriov_addr *a, char **ret) {
        return readlinkat_malloc(s->devices_fd, SRIOV_ADDR_STR(a), ret);
}

int sriov_sysfs_read(int dirfd, const char *attr, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        fd = openat(dirfd, attr, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        buf = malloc(SYSFS_ATTR_MAX + 1);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                ssize_t n = read(fd, buf + len, SYSFS_ATTR_MAX + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > SYSFS_ATTR_MAX)
                        return -EFBIG;
                /* A sysfs attribute is produced whole by one show() and handed out by
                 * one read; a short read of a file is its end. Stopping here halves the
                 * system calls of a scan (16k functions: 83k reads, not 166k). */
                if ((size_t) n < SYSFS_ATTR_MAX + 1 - (len - (size_t) n))
                        break;
        }

        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                len--;
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
                return -EBADMSG;

        *ret = TAKE_PTR(buf);
        return 0;
}

int sriov_sysfs_read_u64(int dirfd, const char *attr, unsigned base, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        unsigned long long v;
        char *end;
        int r;

        r = sriov_sysfs_read(dirfd, attr, &s);
        if (r < 0)
                return r;
        /* strtoull() accepts leading space and a sign: the kernel writes neither. */
        if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ' || s[0] == '\t')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, (int) base);
        if (errno != 0)
                return -errno;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int sriov_sysfs_read_link_name(int dirfd, const char *link, char **ret) {
        _cleanup_free_ char *target = NULL;
        const char *slash;
        char *name;
        int r;

        r = readlinkat_malloc(dirfd, link, &target);
        if (r < 0)
                return r;
        slash = strrchr(target, '/');
        name = strdup(slash ? slash + 1 : target);
        if (!name)
                return -ENOMEM;
        if (name[0] == '\0') {
                free(name);
                return -EBADMSG;
        }
        *ret = name;
        return 0;
}

int sriov_sysfs_write(int dirfd, const char *attr, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t n;

        /* O_TRUNC as `echo N >` does: sysfs ignores it, a plain-file test tree needs it. */
        fd = openat(dirfd, attr, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int sriov_sysfs_write_root(struct sriov_sysfs *s, const char *path, const char *value) {
        return sriov_sysfs_write(s->root_fd, path, value);
}

int sriov_sysfs_has(int dirfd, const char *name) {
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 1;
}

static int uint_cmp(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

int sriov_sysfs_list_virtfn(int pf_dirfd, unsigned **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ unsigned *list = NULL;
        size_t n = 0, cap = 0;
        int fd;

        fd = openat(pf_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }

        for (;;) {
                struct dirent *de;
                unsigned long idx;
                char *end;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }
                if (!strneq(de->d_name, "virtfn", 6))
                        continue;
                const char *num = de->d_name + 6;
                if (num[0] < '0' || num[0] > '9')
                        continue;
                errno = 0;
                idx = strtoul(num, &end, 10);
                if (errno != 0 || *end != '\0' || idx > 0xffff)
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        unsigned *nl = reallocarray(list, ncap, sizeof(*nl));
                        if (!nl)
                                return -ENOMEM;
                        list = nl;
                        cap = ncap;
                }
                list[n++] = (unsigned) idx;
        }

        if (n > 0)
                qsort(list, n, sizeof(*list), uint_cmp);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int sriov_sysfs_device_ifname(struct sriov_sysfs *s, const struct sriov_addr *a, char **ret) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_closedir_ DIR *d = NULL;
        int fd;

        dfd = sriov_sysfs_open_device(s, a);
        if (dfd < 0)
                return dfd;
        fd = openat(dfd, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                char *name = strdup(de->d_name);
                if (!name)
                        return -ENOMEM;
                *ret = name;
                return 0;
        }
        return -ENOENT;
}

static int strv_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int sriov_sysfs_list_netdevs(int dev_dirfd, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        size_t n = 0;
        int fd;

        fd = openat(dev_dirfd, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        return 0;
                }
                return negative_errno();
        }
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE)
                        continue;
                char **nl = reallocarray(names, n + 2, sizeof(*names));
                if (!nl)
                        return -ENOMEM;
                names = nl;
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), strv_cmp);
        *ret = TAKE_PTR(names);
        return (int) n;
}

int sriov_sysfs_netdev_read(struct sriov_sysfs *s, const struct sriov_addr *a, const char *ifname, const char *attr,
                            char **ret) {
        _cleanup_close_ int dfd = -EBADF, nfd = -EBADF;
        char path[IF_NAMESIZE + 8];

        if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') || streq(ifname, ".") ||
            streq(ifname, "..") || !attr || strchr(attr, '/'))
                return -EINVAL;
        dfd = sriov_sysfs_open_device(s, a);
        if (dfd < 0)
                return dfd;
        snprintf(path, sizeof(path), "net/%s", ifname);
        nfd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0)
                return negative_errno();
        return sriov_sysfs_read(nfd, attr, ret);
}
