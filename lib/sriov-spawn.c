/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sriov-macros.h"
#include "sriov-spawn.h"

extern char **environ;

int sriov_spawn_wait(const char *path, char *const argv[]) {
        posix_spawnattr_t attr;
        sigset_t none, all;
        int status, r;
        pid_t pid;

        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return -r;
        sigemptyset(&none);
        sigfillset(&all);
        /* POSIX_SPAWN_SETSIGDEF: every signal back to SIG_DFL, as a fresh process expects
         * (SIGKILL/SIGSTOP are skipped by glibc). */
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn(&pid, path, NULL, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}
