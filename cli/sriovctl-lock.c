/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sriov-device.h"
#include "sriov-flock.h"
#include "sriov-sysfs.h"
#include "sriovctl.h"

/* The child runs with our locks held; signals meant for it are passed on. */
static volatile sig_atomic_t child_pid;

static void forward_signal(int sig) {
        if (child_pid > 0)
                (void) kill((pid_t) child_pid, sig);
}

int ctl_lock(struct ctl_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "shared", no_argument, NULL, 's' },
                { "timeout", required_argument, NULL, 't' },
                { "runtime-dir", required_argument, NULL, 'r' },
                { "sysfs-root", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(sriov_sysfs_freep) struct sriov_sysfs *sysfs = NULL;
        _cleanup_(sriov_device_freep) struct sriov_device *dev = NULL;
        _cleanup_(sriov_flock_releasep) sriov_flock *locks = NULL;
        const char *runtime_dir = getenv("SRIOVD_RUNTIME_DIR") ?: SRIOVD_DEFAULT_RUNTIME_DIR;
        const char *sysfs_root = "/sys";
        enum sriov_lock_mode mode = SRIOV_LOCK_EXCLUSIVE;
        struct sriov_flock_spec spec = {};
        struct sriov_addr addr;
        char lock_dir[512];
        int timeout_ms = -1, c, r, status;
        char *end;
        pid_t pid;

        optind = 0;
        /* "+": everything after the address belongs to COMMAND. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        mode = SRIOV_LOCK_SHARED;
                        break;
                case 't': {
                        errno = 0;
                        double s = strtod(optarg, &end);
                        if (errno != 0 || *end != '\0' || !(s >= 0 && s <= 86400)) {
                                fprintf(stderr, "sriovctl lock: --timeout needs seconds from 0 to 86400\n");
                                return CTL_EXIT_USAGE;
                        }
                        timeout_ms = (int) (s * 1000.0 + 0.5);
                        break;
                }
                case 'r':
                        runtime_dir = optarg;
                        break;
                case 'S':
                        sysfs_root = optarg;
                        break;
                case 'h':
                        printf("Usage: sriovctl lock ADDRESS [--shared] [--timeout S] -- COMMAND [ARGS...]\n\n"
                               "Runs COMMAND while holding sriovd's lock files for ADDRESS, taken in the kernel's\n"
                               "order: hierarchy (root port) first, then PF, then VF. sriovd waits for them before\n"
                               "changing that PF, so scripts and sriovd never interleave.\n"
                               "  --shared        take the device's own lock shared (read-only scripts)\n"
                               "  --timeout S     give up after S seconds (default: wait)\n"
                               "  --runtime-dir D sriovd's runtime directory (default %s)\n"
                               "Exit status: COMMAND's, or 1 when the locks could not be taken.\n",
                               SRIOVD_DEFAULT_RUNTIME_DIR);
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }

        if (optind >= argc) {
                fprintf(stderr, "sriovctl lock: ADDRESS and COMMAND expected\n");
                return CTL_EXIT_USAGE;
        }
        if (sriov_addr_parse(argv[optind], &addr) < 0) {
                fprintf(stderr, "sriovctl lock: '%s' is not a PCI address (expected DDDD:BB:SS.F)\n", argv[optind]);
                return CTL_EXIT_USAGE;
        }
        optind++;
        if (optind < argc && streq(argv[optind], "--"))
                optind++;
        if (optind >= argc) {
                fprintf(stderr, "sriovctl lock: COMMAND expected after the address (use -- before it)\n");
                return CTL_EXIT_USAGE;
        }

        /* The hierarchy comes from sysfs itself, so locking works without the daemon. */
        r = sriov_sysfs_new(sysfs_root, &sysfs);
        if (r >= 0)
                r = sriov_device_load(sysfs, &addr, &dev);
        if (r < 0) {
                fprintf(stderr, "sriovctl lock: cannot find PCI function %s: %s\n", SRIOV_ADDR_STR(&addr), strerror(-r));
                return CTL_EXIT_FAILED;
        }

        spec.hierarchy = *sriov_device_hierarchy(dev);
        if (dev->role == SRIOV_ROLE_PF) {
                spec.hierarchy_mode = SRIOV_LOCK_SHARED;
                spec.pf = &dev->addr;
                spec.pf_mode = mode;
        } else if (dev->role == SRIOV_ROLE_VF) {
                spec.hierarchy_mode = SRIOV_LOCK_SHARED;
                spec.pf = &dev->vf.pf;
                spec.pf_mode = SRIOV_LOCK_SHARED;
                spec.vfs = &dev->addr;
                spec.n_vfs = 1;
                spec.vf_mode = mode;
        } else
                /* A bridge or root port: the whole hierarchy below it. */
                spec.hierarchy_mode = mode;

        snprintf(lock_dir, sizeof(lock_dir), "%s/locks", runtime_dir);
        r = sriov_flock_acquire(lock_dir, &spec, timeout_ms, &locks);
        if (r < 0) {
                fprintf(stderr, "sriovctl lock: cannot take the locks for %s in %s: %s\n", SRIOV_ADDR_STR(&addr), lock_dir,
                        r == -ETIMEDOUT ? "timed out, someone else holds them" :
                        r == -EACCES ? "permission denied: only root and sriovd's admin group may lock (the folder is 2750, its files 0640)" :
                        r == -ENOENT ? "no lock file yet, and only root may create one (sriovd creates them for every function it sees)" :
                        strerror(-r));
                return CTL_EXIT_FAILED;
        }

        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "sriovctl lock: fork failed: %m\n");
                return CTL_EXIT_FAILED;
        }
        if (pid == 0) {
                /* The lock fds are O_CLOEXEC: the locks stay with us, not the command. */
                execvp(argv[optind], argv + optind);
                fprintf(stderr, "sriovctl lock: cannot run %s: %m\n", argv[optind]);
                _exit(127);
        }
        child_pid = pid;
        struct sigaction sa = { .sa_handler = forward_signal };
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "sriovctl lock: waitpid failed: %m\n");
                        return CTL_EXIT_FAILED;
                }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}
