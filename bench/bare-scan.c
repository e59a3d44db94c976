/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bare-scan: the physical limit of a sysfs scan. Reads the attributes sriovd's model
 * reads, once, with plain system calls and no model, no names, no JSON: for every entry
 * of bus/pci/devices its link, vendor, device, class, the driver and iommu_group links,
 * physfn (and through it sriov_offset/sriov_stride) or the PF's sriov_* attributes and
 * every virtfnN link, and the three aer_dev_* files plus the root-port totals.
 *
 * Usage: bench-bare-scan SYSFS_ROOT [REPS]
 * Prints one line per repetition: "functions=N attrs=A links=L us=T", and the minimum. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long n_attrs, n_links;

static void read_attr(int dfd, const char *name) {
        char buf[4096];
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return;
        if (read(fd, buf, sizeof(buf)) >= 0)
                n_attrs++;
        close(fd);
}

static void read_link(int dfd, const char *name) {
        char buf[4096];

        if (readlinkat(dfd, name, buf, sizeof(buf)) >= 0)
                n_links++;
}

static unsigned long scan(int root) {
        static const char *const attrs[] = { "vendor", "device", "class", "aer_dev_correctable", "aer_dev_nonfatal",
                                             "aer_dev_fatal" };
        static const char *const pf_attrs[] = { "sriov_totalvfs", "sriov_offset", "sriov_stride", "sriov_vf_device",
                                                "sriov_drivers_autoprobe" };
        static const char *const rp_attrs[] = { "aer_rootport_total_err_cor", "aer_rootport_total_err_nonfatal",
                                                "aer_rootport_total_err_fatal" };
        int bus = openat(root, "bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        unsigned long n = 0;
        struct dirent *de;
        DIR *dir;

        if (bus < 0)
                return 0;
        dir = fdopendir(dup(bus));
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                int dfd = openat(bus, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        continue;
                n++;
                read_link(bus, de->d_name);
                for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
                        read_attr(dfd, attrs[i]);
                read_link(dfd, "driver");
                read_link(dfd, "iommu_group");
                if (faccessat(dfd, "physfn", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                        read_link(dfd, "physfn");
                        read_attr(dfd, "physfn/sriov_offset");
                        read_attr(dfd, "physfn/sriov_stride");
                } else if (faccessat(dfd, "sriov_totalvfs", F_OK, 0) == 0) {
                        for (size_t i = 0; i < sizeof(pf_attrs) / sizeof(pf_attrs[0]); i++)
                                read_attr(dfd, pf_attrs[i]);
                        DIR *pd = fdopendir(dup(dfd));
                        struct dirent *pe;
                        while (pd && (pe = readdir(pd)))
                                if (strncmp(pe->d_name, "virtfn", 6) == 0)
                                        read_link(dfd, pe->d_name);
                        if (pd)
                                closedir(pd);
                }
                for (size_t i = 0; i < sizeof(rp_attrs) / sizeof(rp_attrs[0]); i++)
                        read_attr(dfd, rp_attrs[i]);
                close(dfd);
        }
        closedir(dir);
        close(bus);
        return n;
}

int main(int argc, char **argv) {
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        double best = 0;
        int root;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s SYSFS_ROOT [REPS]\n", argv[0]);
                return 2;
        }
        root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) {
                perror(argv[1]);
                return 1;
        }
        for (int r = 0; r < reps; r++) {
                struct timespec a, b;
                n_attrs = n_links = 0;
                clock_gettime(CLOCK_MONOTONIC, &a);
                unsigned long n = scan(root);
                clock_gettime(CLOCK_MONOTONIC, &b);
                double us = (double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3;
                printf("functions=%lu attrs=%lu links=%lu us=%.0f\n", n, n_attrs, n_links, us);
                if (r == 0 || us < best)
                        best = us;
        }
        printf("min_us=%.0f\n", best);
        return 0;
}
