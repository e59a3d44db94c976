/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture-tree.h"
#include "sriov-address.h"
#include "sriov-macros.h"

struct fixture_tree {
        char *dir;      /* <tmp> */
        char *sys;      /* <tmp>/sys */
};

static int mkdir_p(const char *path) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_file(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen(value);

        if (fd < 0)
                return -errno;
        if (write(fd, value, len) != (ssize_t) len)
                return -EIO;
        return 0;
}

/* Reads a small file into buf, NUL-terminated. */
static int read_file(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int fixture_tree_new(struct fixture_tree **ret) {
        struct fixture_tree *t;
        const char *tmpdir = getenv("TMPDIR");
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        if (asprintf(&t->dir, "%s/sriov-fixture-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") < 0) {
                free(t);
                return -ENOMEM;
        }
        if (!mkdtemp(t->dir)) {
                r = -errno;
                free(t->dir);
                free(t);
                return r;
        }
        if (asprintf(&t->sys, "%s/sys", t->dir) < 0) {
                fixture_tree_free(t);
                return -ENOMEM;
        }

        static const char *const dirs[] = {
                "bus/pci/devices", "bus/pci/drivers", "devices", "kernel/iommu_groups",
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", t->sys, dirs[i]) < 0) {
                        fixture_tree_free(t);
                        return -ENOMEM;
                }
                r = mkdir_p(p);
                if (r < 0) {
                        fixture_tree_free(t);
                        return r;
                }
        }
        *ret = t;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int rm_rf(const char *path) {
        if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

struct fixture_tree *fixture_tree_free(struct fixture_tree *t) {
        if (!t)
                return NULL;
        if (t->dir && !getenv("SRIOV_FIXTURE_KEEP"))
                (void) rm_rf(t->dir);
        free(t->dir);
        free(t->sys);
        free(t);
        return NULL;
}

const char *fixture_tree_sysfs(const struct fixture_tree *t) {
        return t->sys;
}

const char *fixture_tree_dir(const struct fixture_tree *t) {
        return t->dir;
}

/* "devices/pci0000:00/0000:00:02.0/0000:01:00.0": the function's path below sys, from
 * its bus link "../../../devices/..." (as the project itself finds it). */
static int device_rel(struct fixture_tree *t, const char *addr, char **ret) {
        _cleanup_free_ char *link = NULL;
        char target[PATH_MAX];
        ssize_t n;

        if (asprintf(&link, "%s/bus/pci/devices/%s", t->sys, addr) < 0)
                return -ENOMEM;
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        if (!strneq(target, "../../../", 9))
                return -EBADMSG;
        *ret = strdup(target + 9);
        return *ret ? 0 : -ENOMEM;
}

int fixture_device_path(struct fixture_tree *t, const char *addr, char **ret) {
        _cleanup_free_ char *rel = NULL;
        int r = device_rel(t, addr, &rel);

        if (r < 0)
                return r;
        return asprintf(ret, "%s/%s", t->sys, rel) < 0 ? -ENOMEM : 0;
}

static int attr_path(struct fixture_tree *t, const char *addr, const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r = fixture_device_path(t, addr, &dir);

        if (r < 0)
                return r;
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

/* "../" once per component of rel: from the device directory back up to sys. */
static int up_to_sys(const char *rel, char **ret) {
        size_t depth = 1;
        char *s;

        for (const char *p = rel; *p; p++)
                if (*p == '/')
                        depth++;
        s = malloc(depth * 3 + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < depth; i++)
                memcpy(s + i * 3, "../", 3);
        s[depth * 3] = '\0';
        *ret = s;
        return 0;
}

static int add_function_at(struct fixture_tree *t, const char *parent_rel, const char *addr,
                           const char *vendor, const char *device, const char *class_code) {
        _cleanup_free_ char *rel = NULL, *dir = NULL, *link = NULL, *target = NULL;
        int r;

        if (asprintf(&rel, "%s/%s", parent_rel, addr) < 0 ||
            asprintf(&dir, "%s/%s", t->sys, rel) < 0 ||
            asprintf(&link, "%s/bus/pci/devices/%s", t->sys, addr) < 0 ||
            asprintf(&target, "../../../%s", rel) < 0)
                return -ENOMEM;
        r = mkdir_p(dir);
        if (r < 0)
                return r;
        if (symlink(target, link) < 0)
                return -errno;

        static const char *const names[] = { "vendor", "device", "class" };
        const char *values[] = { vendor, device, class_code };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", dir, names[i]) < 0)
                        return -ENOMEM;
                r = write_file(p, values[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fixture_add_function_at(struct fixture_tree *t, const char *dir_below_sys, const char *addr,
                            uint16_t vendor, uint16_t device, uint32_t class_code) {
        char v[16], d[16], c[16];

        snprintf(v, sizeof(v), "0x%04x\n", vendor);
        snprintf(d, sizeof(d), "0x%04x\n", device);
        snprintf(c, sizeof(c), "0x%06x\n", class_code);
        return add_function_at(t, dir_below_sys, addr, v, d, c);
}

int fixture_add_function(struct fixture_tree *t, const char *parent, const char *addr,
                         uint16_t vendor, uint16_t device, uint32_t class_code) {
        _cleanup_free_ char *parent_rel = NULL;
        int r;

        if (parent) {
                r = device_rel(t, parent, &parent_rel);
                if (r < 0)
                        return r;
        } else {
                struct sriov_addr a;
                if (sriov_addr_parse(addr, &a) < 0)
                        return -EINVAL;
                if (asprintf(&parent_rel, "devices/pci%04x:%02x", a.domain, a.bus) < 0)
                        return -ENOMEM;
        }
        return fixture_add_function_at(t, parent_rel, addr, vendor, device, class_code);
}

int fixture_remove_function(struct fixture_tree *t, const char *addr) {
        _cleanup_free_ char *dir = NULL, *link = NULL;
        int r;

        r = fixture_device_path(t, addr, &dir);
        if (r < 0)
                return r;
        if (asprintf(&link, "%s/bus/pci/devices/%s", t->sys, addr) < 0)
                return -ENOMEM;
        if (unlink(link) < 0)
                return -errno;
        return rm_rf(dir);
}

int fixture_set_attr(struct fixture_tree *t, const char *addr, const char *name, const char *value) {
        _cleanup_free_ char *p = NULL;
        int r = attr_path(t, addr, name, &p);

        return r < 0 ? r : write_file(p, value);
}

int fixture_remove(struct fixture_tree *t, const char *addr, const char *name) {
        _cleanup_free_ char *p = NULL;
        int r = attr_path(t, addr, name, &p);

        if (r < 0)
                return r;
        return unlink(p) < 0 ? -errno : 0;
}

int fixture_make_fifo(struct fixture_tree *t, const char *addr, const char *name) {
        _cleanup_free_ char *p = NULL;
        int r = attr_path(t, addr, name, &p);

        if (r < 0)
                return r;
        (void) unlink(p);
        return mkfifo(p, 0644) < 0 ? -errno : 0;
}

int fixture_set_link(struct fixture_tree *t, const char *addr, const char *name, const char *target) {
        _cleanup_free_ char *p = NULL;
        int r = attr_path(t, addr, name, &p);

        if (r < 0)
                return r;
        (void) unlink(p);
        return symlink(target, p) < 0 ? -errno : 0;
}

/* A link from the device to <sys>/<sys_rel>, relative as the kernel makes it. */
static int link_to_sys(struct fixture_tree *t, const char *addr, const char *name, const char *sys_rel) {
        _cleanup_free_ char *rel = NULL, *up = NULL, *target = NULL, *dir = NULL;
        int r;

        r = device_rel(t, addr, &rel);
        if (r < 0)
                return r;
        r = up_to_sys(rel, &up);
        if (r < 0)
                return r;
        if (asprintf(&target, "%s%s", up, sys_rel) < 0 || asprintf(&dir, "%s/%s", t->sys, sys_rel) < 0)
                return -ENOMEM;
        r = mkdir_p(dir);
        if (r < 0)
                return r;
        return fixture_set_link(t, addr, name, target);
}

int fixture_set_driver(struct fixture_tree *t, const char *addr, const char *driver) {
        _cleanup_free_ char *sys_rel = NULL;

        if (!driver) {
                int r = fixture_remove(t, addr, "driver");
                return r == -ENOENT ? 0 : r;
        }
        if (asprintf(&sys_rel, "bus/pci/drivers/%s", driver) < 0)
                return -ENOMEM;
        return link_to_sys(t, addr, "driver", sys_rel);
}

/* The group's side: kernel/iommu_groups/N/devices/ADDR -> ../../../../devices/... */
static int group_member_path(struct fixture_tree *t, const char *group, const char *addr, char **ret) {
        return asprintf(ret, "%s/kernel/iommu_groups/%s/devices/%s", t->sys, group, addr) < 0 ? -ENOMEM : 0;
}

int fixture_set_iommu_group(struct fixture_tree *t, const char *addr, int group) {
        _cleanup_free_ char *sys_rel = NULL, *old = NULL, *member = NULL, *rel = NULL, *target = NULL;
        char link[PATH_MAX], name[16];
        int r;

        /* Leave the old group first, as the kernel's iommu_group_remove_device() does. */
        r = attr_path(t, addr, "iommu_group", &old);
        if (r < 0)
                return r;
        ssize_t n = readlink(old, link, sizeof(link) - 1);
        if (n >= 0) {
                _cleanup_free_ char *old_member = NULL;
                link[n] = '\0';
                const char *slash = strrchr(link, '/');
                r = group_member_path(t, slash ? slash + 1 : link, addr, &old_member);
                if (r < 0)
                        return r;
                (void) unlink(old_member);
                if (unlink(old) < 0)
                        return -errno;
        }
        if (group < 0)
                return 0;

        if (asprintf(&sys_rel, "kernel/iommu_groups/%d", group) < 0)
                return -ENOMEM;
        r = link_to_sys(t, addr, "iommu_group", sys_rel);
        if (r < 0)
                return r;

        snprintf(name, sizeof(name), "%d", group);
        r = group_member_path(t, name, addr, &member);
        if (r < 0)
                return r;
        r = device_rel(t, addr, &rel);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *dir = strdup(member);
                if (!dir)
                        return -ENOMEM;
                *strrchr(dir, '/') = '\0';
                r = mkdir_p(dir);
                if (r < 0)
                        return r;
        }
        if (asprintf(&target, "../../../../%s", rel) < 0)
                return -ENOMEM;
        return symlink(target, member) < 0 ? -errno : 0;
}

int fixture_make_pf(struct fixture_tree *t, const char *addr, unsigned total_vfs, unsigned offset,
                    unsigned stride, uint16_t vf_device) {
        char buf[32];
        int r;

        snprintf(buf, sizeof(buf), "%u\n", total_vfs);
        r = fixture_set_attr(t, addr, "sriov_totalvfs", buf);
        if (r < 0)
                return r;
        snprintf(buf, sizeof(buf), "%u\n", offset);
        r = fixture_set_attr(t, addr, "sriov_offset", buf);
        if (r < 0)
                return r;
        snprintf(buf, sizeof(buf), "%u\n", stride);
        r = fixture_set_attr(t, addr, "sriov_stride", buf);
        if (r < 0)
                return r;
        /* The kernel prints sriov_vf_device as "%x" without a 0x prefix. */
        snprintf(buf, sizeof(buf), "%x\n", vf_device);
        r = fixture_set_attr(t, addr, "sriov_vf_device", buf);
        if (r < 0)
                return r;
        r = fixture_set_attr(t, addr, "sriov_drivers_autoprobe", "1\n");
        if (r < 0)
                return r;
        return fixture_make_fifo(t, addr, "sriov_numvfs");
}

int fixture_link_virtfn(struct fixture_tree *t, const char *pf, unsigned index, const char *vf) {
        _cleanup_free_ char *target = NULL;
        char name[32];

        snprintf(name, sizeof(name), "virtfn%u", index);
        if (asprintf(&target, "../%s", vf) < 0)
                return -ENOMEM;
        return fixture_set_link(t, pf, name, target);
}

int fixture_link_physfn(struct fixture_tree *t, const char *vf, const char *pf) {
        _cleanup_free_ char *target = NULL;

        if (asprintf(&target, "../%s", pf) < 0)
                return -ENOMEM;
        return fixture_set_link(t, vf, "physfn", target);
}

int fixture_link_vf(struct fixture_tree *t, const char *pf, unsigned index, const char *vf) {
        /* The kernel's order (pci_iov_sysfs_link): virtfnN on the PF, then physfn. */
        int r = fixture_link_virtfn(t, pf, index, vf);

        return r < 0 ? r : fixture_link_physfn(t, vf, pf);
}

int fixture_unlink_virtfn(struct fixture_tree *t, const char *pf, unsigned index) {
        char name[32];

        snprintf(name, sizeof(name), "virtfn%u", index);
        return fixture_remove(t, pf, name);
}

int fixture_add_vf(struct fixture_tree *t, const char *pf, unsigned index, const char *vf, bool link) {
        _cleanup_free_ char *pf_rel = NULL, *path = NULL;
        char vendor[32], vf_device[32], device[40], class_code[32];
        char *slash;
        int r;

        r = device_rel(t, pf, &pf_rel);
        if (r < 0)
                return r;

        const char *names[] = { "vendor", "sriov_vf_device", "class" };
        char *bufs[] = { vendor, vf_device, class_code };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                free(path);
                path = NULL;
                if (asprintf(&path, "%s/%s/%s", t->sys, pf_rel, names[i]) < 0)
                        return -ENOMEM;
                r = read_file(path, bufs[i], sizeof(vendor));
                if (r < 0)
                        return r;
        }
        snprintf(device, sizeof(device), "0x%s", vf_device);

        /* VFs are siblings of their PF, below the same bridge. */
        slash = strrchr(pf_rel, '/');
        if (!slash)
                return -EBADMSG;
        *slash = '\0';
        r = add_function_at(t, pf_rel, vf, vendor, device, class_code);
        if (r < 0)
                return r;
        return link ? fixture_link_vf(t, pf, index, vf) : 0;
}
