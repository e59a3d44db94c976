/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sriov-flock.h"

#define S SRIOV_LOCK_SHARED
#define X SRIOV_LOCK_EXCLUSIVE

static struct sriov_addr addr(const char *s) {
        struct sriov_addr a;
        assert_int_equal(sriov_addr_parse(s, &a), 0);
        return a;
}

static const struct sriov_addr H1 = { 0, 0x00, 0x01, 0 }, H2 = { 0, 0x00, 0x02, 0 };
static const struct sriov_addr PF_A = { 0, 0x01, 0x00, 0 }, PF_B = { 0, 0x01, 0x00, 1 };
static const struct sriov_addr VFS_A[] = { { 0, 0x01, 0x02, 0 }, { 0, 0x01, 0x02, 1 }, { 0, 0x01, 0x02, 2 } };

static int64_t now_ms(void) {
        struct timespec ts;
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixture: a fresh lock directory (not yet created) under a temporary one ---- */

struct fixture {
        char base[64];
        char dir[96];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        strcpy(f->base, "/tmp/test-flock-XXXXXX");
        if (!mkdtemp(f->base))
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s/run/sriovd/locks", f->base);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        (void) nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

/* ---- a second process holding locks, driven through pipes ---- */

struct holder {
        pid_t pid;
        int cmd;        /* write end: closing it tells the child to release */
};

/* Child: take spec (blocking), report the result, hold until told or for hold_ms. */
static void holder_start(struct holder *h, const char *dir, const struct sriov_flock_spec *spec, int hold_ms) {
        int cmd[2], ready[2];
        char c;

        assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);

        h->pid = fork();
        assert_true(h->pid >= 0);
        if (h->pid == 0) {
                sriov_flock *l = NULL;
                int r;

                close(cmd[1]);
                close(ready[0]);
                r = sriov_flock_acquire(dir, spec, -1, &l);
                c = (char) -r;
                if (write(ready[1], &c, 1) != 1 || r < 0)
                        _exit(1);
                if (hold_ms >= 0)
                        usleep((useconds_t) hold_ms * 1000);
                else
                        (void) read(cmd[0], &c, 1);     /* EOF when the parent lets go */
                l = sriov_flock_release(l);
                _exit(0);
        }

        close(cmd[0]);
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(c, 0);
        close(ready[0]);
        h->cmd = cmd[1];
}

static void holder_stop(struct holder *h) {
        int status;

        if (h->cmd >= 0)
                close(h->cmd);
        h->cmd = -1;
        assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static enum sriov_flock_state probe(const char *dir, enum sriov_lock_level level, const struct sriov_addr *a) {
        enum sriov_flock_state s;
        assert_int_equal(sriov_flock_probe(dir, level, a, &s), 0);
        return s;
}

/* ---- tests ---- */

static void test_path(void **state) {
        _cleanup_free_ char *p = NULL, *q = NULL;
        struct sriov_addr a = addr("10000:3a:1f.7");
        (void) state;

        assert_int_equal(sriov_flock_path(NULL, SRIOV_LOCK_HIERARCHY, &H2, &p), 0);
        assert_string_equal(p, "/run/sriovd/locks/hierarchy-0000:00:02.0.lock");
        assert_int_equal(sriov_flock_path("/x", SRIOV_LOCK_VF, &a, &q), 0);
        assert_string_equal(q, "/x/vf-10000:3a:1f.7.lock");
        assert_int_equal(sriov_flock_path("/x", _SRIOV_LOCK_LEVEL_MAX, &a, &q), -EINVAL);
        assert_string_equal(sriov_flock_state_to_string(SRIOV_FLOCK_HELD_SHARED), "held-shared");
}

static void test_files_and_modes(void **state) {
        struct fixture *f = *state;
        _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
        /* VFs given out of order: they are locked by address. */
        const struct sriov_addr vfs[] = { VFS_A[2], VFS_A[0] };
        static const char *const names[] = {
                "hierarchy-0000:00:01.0.lock",
                "pf-0000:01:00.0.lock",
                "vf-0000:01:02.0.lock",
                "vf-0000:01:02.2.lock",
        };
        struct stat st;
        mode_t old = umask(0);      /* so the modes asked for are the modes seen */

        assert_int_equal(sriov_flock_acquire(f->dir, &(struct sriov_flock_spec) {
                .hierarchy = H1, .hierarchy_mode = S,
                .pf = &PF_A, .pf_mode = X,
                .vfs = vfs, .n_vfs = ELEMENTSOF(vfs), .vf_mode = X,
        }, 0, &l), 0);
        umask(old);
        assert_int_equal(sriov_flock_n_locks(l), 4);

        assert_int_equal(stat(f->dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* Closed to others: whoever can open a lock file can hold it for ever. Created
         * without the set-group-ID bit (systemd's RestrictSUIDSGID= refuses a mkdir() that
         * asks for it); sriov_flock_dir_prepare() adds it where it may. */
        assert_int_equal(st.st_mode & 07777, 0750);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char path[256];
                snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
                assert_int_equal(stat(path, &st), 0);
                assert_true(S_ISREG(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0640);
        }

        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_HELD_SHARED);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_A), SRIOV_FLOCK_HELD_EXCLUSIVE);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_VF, &VFS_A[0]), SRIOV_FLOCK_HELD_EXCLUSIVE);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_VF, &VFS_A[1]), SRIOV_FLOCK_FREE);

        l = sriov_flock_release(l);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_FREE);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_A), SRIOV_FLOCK_FREE);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_VF, &VFS_A[2]), SRIOV_FLOCK_FREE);
}

/* Files and folder left by an older sriovd (0755, 0644) are closed at start. */
static void test_dir_prepare_tightens(void **state) {
        struct fixture *f = *state;
        char path[256];
        struct stat st;
        int fd;

        snprintf(path, sizeof(path), "%s/run", f->base);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/run/sriovd", f->base);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(mkdir(f->dir, 0755), 0);
        snprintf(path, sizeof(path), "%s/pf-0000:01:00.0.lock", f->dir);
        fd = open(path, O_CREAT | O_RDONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0644), 0);
        close(fd);
        assert_int_equal(sriov_flock_dir_prepare(f->dir, getegid()), 0);
        assert_int_equal(stat(f->dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 02750);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_gid, getegid());

        /* touch creates what is missing, with the same mode, and keeps what exists */
        assert_int_equal(sriov_flock_touch(f->dir, SRIOV_LOCK_VF, &VFS_A[1]), 0);
        snprintf(path, sizeof(path), "%s/vf-0000:01:02.1.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        assert_int_equal(sriov_flock_touch(f->dir, SRIOV_LOCK_VF, &VFS_A[1]), 0);
}

/* Many files through one open folder: created 0640, what exists kept (same inode, not
 * reopened), a symlink in a file's place refused and not followed, and - as root, in a
 * folder without set-group-ID owned by another group - new files and root's files with
 * the wrong group given the folder's group, as sriov_flock_file_adopt_group() would. */
static void test_touch_at(void **state) {
        struct fixture *f = *state;
        struct sriov_flock_dir d = { .fd = -EBADF };
        char path[160], target[160];
        struct stat st;
        ino_t ino;

        assert_int_equal(sriov_flock_dir_prepare(f->dir, getegid()), 0);
        assert_int_equal(sriov_flock_dir_open(f->dir, &d), 0);
        for (size_t i = 0; i < ELEMENTSOF(VFS_A); i++)
                assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_VF, &VFS_A[i]), 0);
        assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_HIERARCHY, &H1), 0);
        assert_int_equal(sriov_flock_touch_at(&d, _SRIOV_LOCK_LEVEL_MAX, &H1), -EINVAL);
        snprintf(path, sizeof(path), "%s/vf-0000:01:02.2.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_gid, getegid());
        ino = st.st_ino;
        snprintf(path, sizeof(path), "%s/hierarchy-0000:00:01.0.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);

        /* again: kept */
        assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_VF, &VFS_A[2]), 0);
        snprintf(path, sizeof(path), "%s/vf-0000:01:02.2.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_ino, ino);

        /* a symlink where the PF's file goes: refused, its target not created */
        snprintf(path, sizeof(path), "%s/pf-0000:01:00.0.lock", f->dir);
        snprintf(target, sizeof(target), "%s/elsewhere", f->base);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_PF, &PF_A), -ELOOP);
        assert_int_equal(stat(target, &st), -1);
        assert_int_equal(sriov_flock_touch(f->dir, SRIOV_LOCK_PF, &PF_A), -ELOOP);
        sriov_flock_dir_close(&d);
        assert_int_equal(d.fd, -EBADF);

        /* the one-file form, in a folder that does not exist */
        snprintf(path, sizeof(path), "%s/nowhere", f->base);
        assert_int_equal(sriov_flock_touch(path, SRIOV_LOCK_PF, &PF_B), -ENOENT);

        if (geteuid() != 0)
                return;         /* the rest chowns */
        gid_t other = getegid() == 1 ? 2 : 1;
        assert_int_equal(chown(f->dir, 0, other), 0);
        assert_int_equal(chmod(f->dir, 0750), 0);      /* as under RestrictSUIDSGID= */
        assert_int_equal(sriov_flock_dir_open(f->dir, &d), 0);
        assert_true(d.fix_group);
        assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_PF, &PF_B), 0);
        snprintf(path, sizeof(path), "%s/pf-0000:01:00.1.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_gid, other);
        /* root's file of before, with root's group: given the folder's */
        snprintf(path, sizeof(path), "%s/vf-0000:01:02.0.lock", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_gid, getegid());
        assert_int_equal(sriov_flock_touch_at(&d, SRIOV_LOCK_VF, &VFS_A[0]), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_gid, other);
        sriov_flock_dir_close(&d);
}

/* The holder is found from /proc/locks: another process holding the PF's file. */
static void test_find_holder(void **state) {
        struct fixture *f = *state;
        const struct sriov_flock_spec spec = { .hierarchy = H1, .hierarchy_mode = S, .pf = &PF_A, .pf_mode = X };
        const struct sriov_flock_spec pf_only = { .hierarchy = H1, .hierarchy_mode = S };
        _cleanup_free_ char *file = NULL, *want = NULL;
        int ready[2], done[2];
        pid_t child, holder = 0;
        char c;

        assert_int_equal(sriov_flock_find_holder(f->dir, &spec, &holder, NULL), -ENOENT);
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(done), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                sriov_flock *l = NULL;
                const struct sriov_flock_spec pf = { .hierarchy = H1, .hierarchy_mode = S, .pf = &PF_A, .pf_mode = X };
                if (sriov_flock_acquire(f->dir, &pf, 0, &l) < 0)
                        _exit(1);
                (void) write(ready[1], "x", 1);
                (void) read(done[0], &c, 1);
                _exit(0);
        }
        assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(sriov_flock_find_holder(f->dir, &spec, &holder, &file), 0);
        assert_int_equal(holder, child);
        assert_int_equal(sriov_flock_path(f->dir, SRIOV_LOCK_HIERARCHY, &H1, &want), 0);
        /* the hierarchy file is held shared by the child too: either file names it */
        assert_true(streq(file, want) || strstr(file, "pf-0000:01:00.0.lock"));
        holder = 0;
        assert_int_equal(sriov_flock_find_holder(f->dir, &pf_only, &holder, NULL), 0);
        assert_int_equal(holder, child);
        (void) write(done[1], "x", 1);
        assert_int_equal(waitpid(child, NULL, 0), child);
        assert_int_equal(sriov_flock_find_holder(f->dir, &spec, &holder, NULL), -ENOENT);
        close(ready[0]); close(ready[1]); close(done[0]); close(done[1]);
}

static void test_invalid_table(void **state) {
        struct fixture *f = *state;
        const struct sriov_addr dup[] = { VFS_A[1], VFS_A[0], VFS_A[1] };
        const struct sriov_addr other_domain[] = { { 1, 0x01, 0x02, 0 } };
        const struct sriov_addr below_pf[] = { { 0, 0x01, 0x00, 0 } };
        const struct {
                const char *name;
                struct sriov_flock_spec spec;
        } cases[] = {
                { "bad hierarchy mode", { .hierarchy = H1, .hierarchy_mode = 2 } },
                { "bad pf mode",        { .hierarchy = H1, .pf = &PF_A, .pf_mode = -1 } },
                { "bad vf mode",        { .hierarchy = H1, .pf = &PF_A, .vfs = VFS_A, .n_vfs = 1, .vf_mode = 5 } },
                { "vfs without pf",     { .hierarchy = H1, .vfs = VFS_A, .n_vfs = 1 } },
                { "n_vfs without vfs",  { .hierarchy = H1, .pf = &PF_A, .n_vfs = 1 } },
                { "duplicate vf",       { .hierarchy = H1, .pf = &PF_A, .vfs = dup, .n_vfs = 3, .vf_mode = X } },
                { "vf in other domain", { .hierarchy = H1, .pf = &PF_A, .vfs = other_domain, .n_vfs = 1 } },
                { "vf not above pf",    { .hierarchy = H1, .pf = &PF_B, .vfs = below_pf, .n_vfs = 1 } },
        };
        sriov_flock *l = (sriov_flock *) 0x1;

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                print_message("case: %s\n", cases[c].name);
                assert_int_equal(sriov_flock_acquire(f->dir, &cases[c].spec, 0, &l), -EINVAL);
                assert_ptr_equal(l, (sriov_flock *) 0x1);
        }
        /* Refused before touching the file system. */
        assert_int_equal(access(f->dir, F_OK), -1);
}

/* What another process holds against what we ask for, without waiting. */
static void test_between_processes_table(void **state) {
        struct fixture *f = *state;
        const struct {
                const char *name;
                struct sriov_flock_spec held, wanted;
                int expect;
        } cases[] = {
                { "pf S/S",
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = S },
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = S }, 0 },
                { "pf S/X",
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = S },
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = X }, -EAGAIN },
                { "pf X/S",
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = X },
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = S }, -EAGAIN },
                { "pf X/X",
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = X },
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = X }, -EAGAIN },
                { "other pf X/X",
                  { .hierarchy = H1, .pf = &PF_A, .pf_mode = X },
                  { .hierarchy = H1, .pf = &PF_B, .pf_mode = X }, 0 },
                { "hierarchy X blocks pf below",
                  { .hierarchy = H1, .hierarchy_mode = X },
                  { .hierarchy = H1, .pf = &PF_B, .pf_mode = S }, -EAGAIN },
                { "pf below blocks hierarchy X",
                  { .hierarchy = H1, .pf = &PF_B, .pf_mode = S },
                  { .hierarchy = H1, .hierarchy_mode = X }, -EAGAIN },
                { "other hierarchy",
                  { .hierarchy = H1, .hierarchy_mode = X },
                  { .hierarchy = H2, .hierarchy_mode = X }, 0 },
                { "vf X/X",
                  { .hierarchy = H1, .pf = &PF_A, .vfs = VFS_A + 1, .n_vfs = 1, .vf_mode = X },
                  { .hierarchy = H1, .pf = &PF_A, .vfs = VFS_A, .n_vfs = 3, .vf_mode = X }, -EAGAIN },
                { "other vf X/X",
                  { .hierarchy = H1, .pf = &PF_A, .vfs = VFS_A + 1, .n_vfs = 1, .vf_mode = X },
                  { .hierarchy = H1, .pf = &PF_A, .vfs = VFS_A + 2, .n_vfs = 1, .vf_mode = X }, 0 },
        };

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
                struct holder h;

                print_message("case: %s\n", cases[c].name);
                holder_start(&h, f->dir, &cases[c].held, -1);
                assert_int_equal(sriov_flock_acquire(f->dir, &cases[c].wanted, 0, &l), cases[c].expect);
                assert_true((l != NULL) == (cases[c].expect == 0));
                l = sriov_flock_release(l);
                holder_stop(&h);
        }
}

/* A failed attempt gives back what it took before the busy lock. */
static void test_all_or_nothing(void **state) {
        struct fixture *f = *state;
        _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
        struct holder h;

        /* The holder uses another hierarchy file so that ours is observable. */
        holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H2, .pf = &PF_A, .pf_mode = X }, -1);
        assert_int_equal(sriov_flock_acquire(f->dir, &(struct sriov_flock_spec) {
                .hierarchy = H1, .hierarchy_mode = X, .pf = &PF_A, .pf_mode = S }, 0, &l), -EAGAIN);
        assert_null(l);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_FREE);
        holder_stop(&h);
}

static void test_timeout_expires(void **state) {
        struct fixture *f = *state;
        _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
        struct holder h;

        holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H2, .pf = &PF_A, .pf_mode = S }, -1);

        int64_t t0 = now_ms();
        assert_int_equal(sriov_flock_acquire(f->dir, &(struct sriov_flock_spec) {
                .hierarchy = H1, .hierarchy_mode = X, .pf = &PF_A, .pf_mode = X }, 300, &l), -ETIMEDOUT);
        int64_t dt = now_ms() - t0;
        print_message("timed out after %lld ms\n", (long long) dt);
        assert_true(dt >= 290);
        assert_true(dt < 3000);
        assert_null(l);
        /* Nothing left behind: not the hierarchy, and the cancelled waiter holds no PF. */
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_FREE);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_A), SRIOV_FLOCK_HELD_SHARED);

        holder_stop(&h);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_A), SRIOV_FLOCK_FREE);
}

static void test_timeout_then_granted(void **state) {
        struct fixture *f = *state;
        static const int timeouts[] = { 5000, -1 };

        for (size_t i = 0; i < ELEMENTSOF(timeouts); i++) {
                _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
                struct holder h;

                /* The holder lets go by itself after 300 ms. */
                holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H1, .pf = &PF_A, .pf_mode = X }, 300);
                int64_t t0 = now_ms();
                assert_int_equal(sriov_flock_acquire(f->dir, &(struct sriov_flock_spec) {
                        .hierarchy = H1, .pf = &PF_A, .pf_mode = X }, timeouts[i], &l), 0);
                int64_t dt = now_ms() - t0;
                print_message("timeout %d: granted after %lld ms\n", timeouts[i], (long long) dt);
                assert_true(dt >= 200);
                assert_true(dt < 4000);
                holder_stop(&h);
                assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_A), SRIOV_FLOCK_HELD_EXCLUSIVE);
        }
}

struct acquirer {
        const char *dir;
        struct sriov_flock_spec spec;
        int r;
        sriov_flock *l;
};

static void *acquirer_thread(void *userdata) {
        struct acquirer *a = userdata;
        a->r = sriov_flock_acquire(a->dir, &a->spec, 10000, &a->l);
        return NULL;
}

/* While waiting for a lock above, nothing below is taken: hierarchy before PF, and the
 * lowest VF before the others. */
static void test_order(void **state) {
        struct fixture *f = *state;
        const struct sriov_addr vfs[] = { VFS_A[2], VFS_A[0] };
        const struct {
                const char *name;
                struct sriov_flock_spec held;
                enum sriov_lock_level below_level;
                const struct sriov_addr *below;
                enum sriov_flock_state below_after;
        } cases[] = {
                { "hierarchy before pf", { .hierarchy = H1, .hierarchy_mode = X },
                  SRIOV_LOCK_PF, &PF_A, SRIOV_FLOCK_HELD_SHARED },
                { "pf before vf", { .hierarchy = H2, .pf = &PF_A, .pf_mode = X },
                  SRIOV_LOCK_VF, &VFS_A[0], SRIOV_FLOCK_HELD_EXCLUSIVE },
                /* Asked for as { 2, 0 }: 0 comes first, so 2 stays free while 0 is busy. */
                { "vfs by address", { .hierarchy = H2, .pf = &PF_A, .vfs = VFS_A, .n_vfs = 1, .vf_mode = X },
                  SRIOV_LOCK_VF, &VFS_A[2], SRIOV_FLOCK_HELD_EXCLUSIVE },
        };

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                struct acquirer a = {
                        .dir = f->dir,
                        .spec = { .hierarchy = H1, .pf = &PF_A, .vfs = vfs, .n_vfs = 2, .vf_mode = X },
                };
                struct holder h;
                pthread_t t;

                print_message("case: %s\n", cases[c].name);
                holder_start(&h, f->dir, &cases[c].held, -1);
                assert_int_equal(pthread_create(&t, NULL, acquirer_thread, &a), 0);

                /* Give a wrong implementation ample time to grab the lower lock. */
                usleep(200 * 1000);
                assert_int_equal(probe(f->dir, cases[c].below_level, cases[c].below), SRIOV_FLOCK_FREE);

                holder_stop(&h);
                assert_int_equal(pthread_join(t, NULL), 0);
                assert_int_equal(a.r, 0);
                assert_int_equal(probe(f->dir, cases[c].below_level, cases[c].below), cases[c].below_after);
                a.l = sriov_flock_release(a.l);
        }
}

static void test_probe(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = NULL;
        struct holder h;

        /* Never locked: free, and probing creates nothing. */
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_B), SRIOV_FLOCK_FREE);
        assert_int_equal(sriov_flock_path(f->dir, SRIOV_LOCK_PF, &PF_B, &path), 0);
        assert_int_equal(access(path, F_OK), -1);

        holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H1, .pf = &PF_B, .pf_mode = S }, -1);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_B), SRIOV_FLOCK_HELD_SHARED);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_HELD_SHARED);
        holder_stop(&h);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_PF, &PF_B), SRIOV_FLOCK_FREE);

        holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H1, .hierarchy_mode = X }, -1);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_HELD_EXCLUSIVE);
        /* The probe does not disturb the holder. */
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_HELD_EXCLUSIVE);
        holder_stop(&h);
}

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig) {
        (void) sig;
        got_alarm = 1;
}

/* Blocking mode leaves timeouts to the caller's own signals: a handler without SA_RESTART
 * interrupts the wait, and the partial set is given back. */
static void test_blocking_interrupted(void **state) {
        struct fixture *f = *state;
        _cleanup_(sriov_flock_releasep) sriov_flock *l = NULL;
        struct sigaction sa = { .sa_handler = on_alarm }, old;
        struct itimerval it = { .it_value = { .tv_usec = 200 * 1000 } }, off = {};
        struct holder h;

        holder_start(&h, f->dir, &(struct sriov_flock_spec) { .hierarchy = H2, .pf = &PF_A, .pf_mode = X }, -1);
        assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        assert_int_equal(sriov_flock_acquire(f->dir, &(struct sriov_flock_spec) {
                .hierarchy = H1, .pf = &PF_A, .pf_mode = X }, -1, &l), -EINTR);
        assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
        assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
        assert_true(got_alarm);
        assert_null(l);
        assert_int_equal(probe(f->dir, SRIOV_LOCK_HIERARCHY, &H1), SRIOV_FLOCK_FREE);
        holder_stop(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path),
                cmocka_unit_test_setup_teardown(test_files_and_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_between_processes_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout_expires, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout_then_granted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dir_prepare_tightens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_touch_at, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blocking_interrupted, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
