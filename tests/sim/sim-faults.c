/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault injection for the sim tier, preloaded next to umockdev's library into the program
 * under test (simkernel.SimKernel.start_daemon(faults=True)). A plain testbed file cannot
 * fail a write and an AF_UNIX socket cannot overflow the way netlink does, so:
 *
 *   $SIM_FAULTS_DIR/write-errors   lines "SUFFIX ERRNO COUNT [SKIP]": after SKIP (default
 *                                  0) writes that go through, the next COUNT write()s to
 *                                  a file whose path ends in SUFFIX (e.g.
 *                                  "/0000:01:00.0/sriov_numvfs") fail with ERRNO and
 *                                  write nothing, as a kernel store() that refuses before
 *                                  it changes anything;
 *   $SIM_FAULTS_DIR/write-hangs    lines "SUFFIX": a write() to a file whose path ends in
 *                                  SUFFIX blocks while the line is there, then goes
 *                                  through: a hung store() that returns when the test
 *                                  removes the line. Unlike simkernel's FIFO hang, readers
 *                                  of the file are not affected (sriovd re-reads a PF's
 *                                  attributes right before it writes one);
 *   $SIM_FAULTS_DIR/enobufs        when present, the next recvmsg() on a datagram socket
 *                                  (the uevent monitor's, under umockdev) fails with
 *                                  ENOBUFS, as netlink_overrun() makes the kernel's do;
 *                                  the file is consumed.
 *
 * Each fault that fires is appended to $SIM_FAULTS_DIR/fired ("write SUFFIX ERRNO" or
 * "enobufs"), so that a test knows it was reached. Built by simkernel.py with the system
 * compiler, never with sanitizers (it is loaded into every program the daemon starts). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);

static void note_fired(const char *dir, const char *what) {
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/fired", dir);
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !real_write(fd, what, strlen(what));
        close(fd);
}

/* The errno for a write to fd, 0 when none is due. Takes one from the rule's count. */
static int write_error_for(int fd) {
        const char *dir = getenv("SIM_FAULTS_DIR");
        char rules[PATH_MAX], link[64], target[PATH_MAX], buf[8192], out[8192], fired[PATH_MAX + 64];
        size_t out_len = 0;
        bool changed = false;
        int rfd, err = 0;
        ssize_t n;

        if (!dir)
                return 0;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
                return 0;
        target[n] = '\0';
        if (!strstr(target, "/sys/"))
                return 0;       /* only testbed attributes: never logs, sockets, state */

        snprintf(rules, sizeof(rules), "%s/write-errors", dir);
        rfd = open(rules, O_RDWR | O_CLOEXEC);
        if (rfd < 0)
                return 0;
        if (flock(rfd, LOCK_EX) < 0) {
                close(rfd);
                return 0;
        }
        n = pread(rfd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        for (char *line = buf, *next; line && *line; line = next) {
                char suffix[PATH_MAX];
                int e, count, skip = 0, len;
                size_t tlen = strlen(target), slen;
                bool matched = false;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (sscanf(line, "%4095s %d %d %d", suffix, &e, &count, &skip) < 3)
                        continue;
                slen = strlen(suffix);
                if (!err && !matched && count > 0 && tlen >= slen && strcmp(target + tlen - slen, suffix) == 0) {
                        matched = true;
                        changed = true;
                        if (skip > 0)
                                skip--;
                        else {
                                err = e;
                                count--;
                                snprintf(fired, sizeof(fired), "write %s %d\n", suffix, e);
                                note_fired(dir, fired);
                        }
                }
                if (count <= 0)
                        continue;
                len = snprintf(out + out_len, sizeof(out) - out_len, "%s %d %d %d\n", suffix, e, count, skip);
                if (len > 0 && (size_t) len < sizeof(out) - out_len)
                        out_len += (size_t) len;
        }
        if (changed) {
                (void) !ftruncate(rfd, 0);
                (void) !pwrite(rfd, out, out_len, 0);
        }
        close(rfd);         /* drops the lock */
        return err;
}

/* Whether the rules file holds the line suffix. */
static bool hang_rule_present(const char *rules, const char *suffix) {
        char buf[8192];
        int rfd = open(rules, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (rfd < 0)
                return false;
        n = pread(rfd, buf, sizeof(buf) - 1, 0);
        close(rfd);
        buf[n > 0 ? n : 0] = '\0';
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strcmp(line, suffix) == 0)
                        return true;
        }
        return false;
}

/* Blocks while a write-hangs rule matches fd's file. */
static void write_hang_for(int fd) {
        const char *dir = getenv("SIM_FAULTS_DIR");
        char rules[PATH_MAX], link[64], target[PATH_MAX], buf[8192], fired[PATH_MAX + 64];
        int rfd;
        ssize_t n;

        if (!dir)
                return;
        snprintf(rules, sizeof(rules), "%s/write-hangs", dir);
        rfd = open(rules, O_RDONLY | O_CLOEXEC);
        if (rfd < 0)
                return;
        n = pread(rfd, buf, sizeof(buf) - 1, 0);
        close(rfd);
        buf[n > 0 ? n : 0] = '\0';
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
                return;
        target[n] = '\0';
        if (!strstr(target, "/sys/"))
                return;
        for (char *line = buf, *next; line && *line; line = next) {
                size_t tlen = strlen(target), slen;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                slen = strlen(line);
                if (slen == 0 || tlen < slen || strcmp(target + tlen - slen, line) != 0)
                        continue;
                snprintf(fired, sizeof(fired), "hang %s\n", line);
                note_fired(dir, fired);
                while (hang_rule_present(rules, line))
                        usleep(10000);
                return;
        }
}

ssize_t write(int fd, const void *data, size_t size) {
        int err;

        if (!real_write)
                real_write = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
        write_hang_for(fd);
        err = write_error_for(fd);
        if (err) {
                errno = err;
                return -1;
        }
        return real_write(fd, data, size);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
        const char *dir = getenv("SIM_FAULTS_DIR");
        int type = 0;
        socklen_t len = sizeof(type);

        if (!real_recvmsg)
                real_recvmsg = (ssize_t (*)(int, struct msghdr *, int)) dlsym(RTLD_NEXT, "recvmsg");
        if (!real_write)
                real_write = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
        if (dir && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM) {
                char path[PATH_MAX], taken[PATH_MAX + 16];

                snprintf(path, sizeof(path), "%s/enobufs", dir);
                snprintf(taken, sizeof(taken), "%s.taken.%d", path, getpid());
                /* rename: exactly one receive takes it, even with several threads */
                if (rename(path, taken) == 0) {
                        unlink(taken);
                        note_fired(dir, "enobufs\n");
                        errno = ENOBUFS;
                        return -1;
                }
        }
        return real_recvmsg(fd, msg, flags);
}
