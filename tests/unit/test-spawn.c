/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriov_spawn_wait(): a helper started from a thread that blocks every signal (as
 * sriovd's workers do) gets an empty mask and default dispositions. */
#include <pthread.h>
#include <signal.h>

#include "unit-test.h"
#include "sriov-spawn.h"

/* Exits 0 only when no signal is blocked and neither SIGPIPE nor SIGUSR1 (which the test
 * ignores in the parent) is ignored in the child. glibc's own internal signals (32, 33)
 * are not ours to reset. */
static char *const check_argv[] = {
        (char *) "sh", (char *) "-c",
        (char *) "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status); "
                 "ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status); "
                 "[ $((0x$blk)) -eq 0 ] && [ $((0x$ign & 0x1200)) -eq 0 ]",
        NULL,
};

struct run { int result; };

static void *run_blocked(void *userdata) {
        struct run *r = userdata;
        r->result = sriov_spawn_wait("/bin/sh", check_argv);
        return NULL;
}

static void test_spawn_resets_mask_and_dispositions(void **state) {
        sigset_t all, old;
        struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_usr1;
        struct run r = { .result = -1 };
        pthread_t t;

        (void) state;
        assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
        assert_int_equal(sigaction(SIGUSR1, &ign, &old_usr1), 0);
        sigfillset(&all);
        assert_int_equal(pthread_sigmask(SIG_BLOCK, &all, &old), 0);
        /* The thread inherits the full mask, like a worker. */
        assert_int_equal(pthread_create(&t, NULL, run_blocked, &r), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
        assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
        assert_int_equal(sigaction(SIGUSR1, &old_usr1, NULL), 0);
        assert_int_equal(r.result, 0);
}

static void test_spawn_exit_status_and_errors(void **state) {
        char *const fail_argv[] = { (char *) "sh", (char *) "-c", (char *) "exit 3", NULL };
        char *const kill_argv[] = { (char *) "sh", (char *) "-c", (char *) "kill -TERM $$", NULL };

        (void) state;
        assert_int_equal(sriov_spawn_wait("/bin/sh", fail_argv), 3);
        assert_int_equal(sriov_spawn_wait("/bin/sh", kill_argv), -ECHILD);
        assert_int_equal(sriov_spawn_wait("/nonexistent/modprobe", fail_argv), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spawn_resets_mask_and_dispositions),
                cmocka_unit_test(test_spawn_exit_status_and_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
