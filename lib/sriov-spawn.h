/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Runs a helper program (modprobe) and waits for it. The caller may be a worker thread
 * that blocks every signal (they belong to the event loop): the child must not inherit
 * that mask or ignored dispositions, or it could not be stopped by SIGTERM or the
 * timeouts of the tools it runs in turn. */

#include <stddef.h>

/* Spawns path with argv (no shell, the caller's environment) with an empty signal mask
 * and default dispositions; returns its exit status (0..255), -ECHILD when it was
 * killed by a signal, or -errno when it could not be started. */
int sriov_spawn_wait(const char *path, char *const argv[]);
