/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdio.h>

#include "sriov-flock.h"
#include "sriovd-lockfiles.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"

static void create_for(const struct sriov_flock_dir *dir, const char *path, const struct sriov_device *d) {
        int r = 0;

        switch (d->role) {
        case SRIOV_ROLE_PF:
                r = sriov_flock_touch_at(dir, SRIOV_LOCK_HIERARCHY, sriov_device_hierarchy(d));
                if (r >= 0)
                        r = sriov_flock_touch_at(dir, SRIOV_LOCK_PF, &d->addr);
                break;
        case SRIOV_ROLE_VF:
                r = sriov_flock_touch_at(dir, SRIOV_LOCK_VF, &d->addr);
                break;
        default:
                return;
        }
        if (r < 0)
                log_debug("Cannot create the lock files of %s in %s: %s", SRIOV_ADDR_STR(&d->addr), path, strerror(-r));
}

void sriovd_lock_files_create(struct sriovd_manager *m, const struct sriov_addr *addr) {
        struct sriov_flock_dir dir;
        char path[PATH_MAX];
        int r;

        if (!m->model || !m->options->runtime_dir)
                return;
        snprintf(path, sizeof(path), "%s/locks", m->options->runtime_dir);
        r = sriov_flock_dir_open(path, &dir);
        if (r < 0) {
                log_debug("Cannot open the lock directory %s: %s", path, strerror(-r));
                return;
        }
        if (addr) {
                const struct sriov_device *d = sriov_model_get(m->model, addr);
                if (d)
                        create_for(&dir, path, d);
        } else
                for (size_t i = 0; i < sriov_model_size(m->model); i++)
                        create_for(&dir, path, sriov_model_at(m->model, i));
        sriov_flock_dir_close(&dir);
}
