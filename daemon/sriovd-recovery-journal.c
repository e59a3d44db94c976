/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sriov-json.h"
#include "sriov-model.h"
#include "sriov-state.h"
#include "sriov-sysfs.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-recovery-journal.h"
#include "sriovd-recovery.h"
#include "sriovd-worker.h"

#define JOURNAL_PREFIX "recovery-"
#define JOURNAL_SUFFIX ".json"
#define JOURNAL_MAX_BYTES 4096

static void journal_name(const struct sriov_addr *pf, char buf[static 64]) {
        snprintf(buf, 64, JOURNAL_PREFIX "%s" JOURNAL_SUFFIX, SRIOV_ADDR_STR(pf));
}

void sriovd_recovery_journal_begin(struct sriovd_manager *m, const struct sriov_addr *pf,
                                   const struct sriov_addr *bridge, unsigned num_vfs) {
        _cleanup_json_ json_object *o = json_object_new_object();
        char name[64];
        int r;

        if (!o || json_object_object_add(o, "pf", json_object_new_string(SRIOV_ADDR_STR(pf))) < 0 ||
            json_object_object_add(o, "bridge", json_object_new_string(SRIOV_ADDR_STR(bridge))) < 0 ||
            json_object_object_add(o, "num_vfs", json_object_new_int64(num_vfs)) < 0) {
                log_warning_errno(ENOMEM, "PF %s: cannot journal the recovery", SRIOV_ADDR_STR(pf));
                return;
        }
        journal_name(pf, name);
        r = sriov_write_file_atomic(m->options->state_dir, name, json_object_to_json_string(o));
        if (r < 0)
                log_warning_errno(r, "PF %s: cannot journal the recovery in %s (a crash before it ends would "
                                  "leave the PF off the bus)", SRIOV_ADDR_STR(pf), m->options->state_dir);
}

void sriovd_recovery_journal_end(struct sriovd_manager *m, const struct sriov_addr *pf) {
        _cleanup_free_ char *path = NULL;
        char name[64];

        journal_name(pf, name);
        if (asprintf(&path, "%s/%s", m->options->state_dir, name) < 0)
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Cannot remove the recovery journal %s", path);
}

/* A journal as written by sriovd_recovery_journal_begin(), nothing else. */
static int journal_parse(int dirfd, const char *name, struct sriov_addr *ret_pf, struct sriov_addr *ret_bridge,
                         unsigned *ret_num_vfs) {
        _cleanup_json_ json_object *o = NULL;
        json_object *pf, *bridge, *n;
        char buf[JOURNAL_MAX_BYTES + 1];
        ssize_t len;
        int fd;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        len = read(fd, buf, sizeof(buf));
        close(fd);
        if (len < 0)
                return -errno;
        if ((size_t) len > JOURNAL_MAX_BYTES || memchr(buf, '\0', (size_t) len))
                return -EBADMSG;
        buf[len] = '\0';
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object) || json_object_object_length(o) != 3 ||
            !json_object_object_get_ex(o, "pf", &pf) || !json_object_is_type(pf, json_type_string) ||
            !json_object_object_get_ex(o, "bridge", &bridge) || !json_object_is_type(bridge, json_type_string) ||
            !json_object_object_get_ex(o, "num_vfs", &n) || !json_object_is_type(n, json_type_int) ||
            json_object_get_int64(n) < 0 || json_object_get_int64(n) > 65535 ||
            sriov_addr_parse(json_object_get_string(pf), ret_pf) < 0 ||
            sriov_addr_parse(json_object_get_string(bridge), ret_bridge) < 0)
                return -EBADMSG;
        *ret_num_vfs = (unsigned) json_object_get_int64(n);
        return 0;
}

struct rescan_job {
        struct sriovd_manager *manager;
        struct sriov_addr pf, bridge;
        unsigned num_vfs;
};

/* Worker thread: the port's rescan, or the whole bus's when the port is gone too. */
static int rescan_run(void *userdata) {
        struct rescan_job *j = userdata;
        _cleanup_close_ int fd = sriov_sysfs_open_device(j->manager->sysfs, &j->bridge);

        if (fd < 0 || sriov_addr_equal(&j->bridge, &j->pf))
                return sriov_sysfs_write_root(j->manager->sysfs, "bus/pci/rescan", "1");
        return sriov_sysfs_write(fd, "rescan", "1");
}

static void rescan_done(int result, void *userdata) {
        struct rescan_job *j = userdata;
        struct sriovd_manager *m = j->manager;
        const struct sriov_device *d;

        if (result < 0)
                log_error_errno(result, "PF %s: the rescan to bring it back failed", SRIOV_ADDR_STR(&j->pf));
        /* The rescan returns once the kernel added the devices; their uevents follow. */
        (void) sriov_model_resync(m->model, &j->pf);
        d = sriov_model_get(m->model, &j->pf);
        if (d && d->role == SRIOV_ROLE_PF) {
                log_notice("PF %s is back on the bus; finishing its recovery", SRIOV_ADDR_STR(&j->pf));
                sriovd_recovery_start_pf(m->recovery, &j->pf, "resuming a recovery cut short by a restart", NULL);
        } else
                log_error("PF %s did not come back after a rescan of %s; its recovery journal is kept",
                          SRIOV_ADDR_STR(&j->pf), SRIOV_ADDR_STR(&j->bridge));
        free(j);
}

static void resume_one(struct sriovd_manager *m, const struct sriov_addr *pf, const struct sriov_addr *bridge,
                       unsigned num_vfs) {
        const struct sriov_device *d = sriov_model_get(m->model, pf);
        struct rescan_job *j;
        int r;

        if (d && d->role == SRIOV_ROLE_PF && d->pf.n_vfs == num_vfs) {
                log_info("PF %s: a recovery was cut short by a restart; the PF is back with its %u VFs",
                         SRIOV_ADDR_STR(pf), num_vfs);
                sriovd_recovery_journal_end(m, pf);
                return;
        }
        if (d) {
                log_notice("PF %s: a recovery was cut short by a restart; running it again", SRIOV_ADDR_STR(pf));
                sriovd_recovery_start_pf(m->recovery, pf, "resuming a recovery cut short by a restart", NULL);
                return;
        }
        log_notice("PF %s: a recovery was cut short by a restart and the PF is off the bus; rescanning %s",
                   SRIOV_ADDR_STR(pf), SRIOV_ADDR_STR(bridge));
        j = calloc(1, sizeof(*j));
        if (!j) {
                log_error_errno(ENOMEM, "PF %s: cannot rescan", SRIOV_ADDR_STR(pf));
                return;
        }
        *j = (struct rescan_job) { .manager = m, .pf = *pf, .bridge = *bridge, .num_vfs = num_vfs };
        r = sriovd_workers_submit(m->workers, rescan_run, rescan_done, j);
        if (r < 0) {
                log_error_errno(r, "PF %s: cannot rescan", SRIOV_ADDR_STR(pf));
                free(j);
        }
}

unsigned sriovd_recovery_journal_resume(struct sriovd_manager *m) {
        _cleanup_closedir_ DIR *dir = opendir(m->options->state_dir);
        struct dirent *de;
        unsigned n = 0;

        if (!dir)
                return 0;       /* no state yet */
        while ((de = readdir(dir))) {
                size_t len = strlen(de->d_name);
                struct sriov_addr pf, bridge;
                unsigned num_vfs;
                int r;

                if (len <= strlen(JOURNAL_PREFIX JOURNAL_SUFFIX) ||
                    strncmp(de->d_name, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) != 0 ||
                    strcmp(de->d_name + len - strlen(JOURNAL_SUFFIX), JOURNAL_SUFFIX) != 0)
                        continue;
                r = journal_parse(dirfd(dir), de->d_name, &pf, &bridge, &num_vfs);
                if (r < 0) {
                        _cleanup_free_ char *from = NULL, *to = NULL;
                        log_error_errno(r, "Recovery journal %s/%s is unreadable; moved aside as %s.corrupt",
                                        m->options->state_dir, de->d_name, de->d_name);
                        if (asprintf(&from, "%s/%s", m->options->state_dir, de->d_name) >= 0 &&
                            asprintf(&to, "%s.corrupt", from) >= 0)
                                (void) rename(from, to);
                        continue;
                }
                n++;
                resume_one(m, &pf, &bridge, num_vfs);
        }
        return n;
}
