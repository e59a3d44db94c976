/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration, whole files through inih as the daemon loads them
 * (sriovd_config_load(): the main file, then FILE.d/\*.conf). The input is the main file;
 * a form feed (\f) starts a drop-in, 10-fuzz.conf, so that merging sections across
 * files is reached too. A file either loads, and then every section it has matches
 * the PF it names, or fails with messages; never both, never neither. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "sriov-config.h"
#include "sriov-device.h"

/* base_dir is kept short enough for the names below it (and -Wformat-truncation). */
static char base_dir[PATH_MAX / 2], dropin_dir[PATH_MAX / 2 + 32], main_path[PATH_MAX], dropin_path[PATH_MAX];

static void remove_files(void) {
        (void) unlink(main_path);
        (void) unlink(dropin_path);
        (void) rmdir(dropin_dir);
        (void) rmdir(base_dir);
}

/* One private directory for the whole run, removed at exit. */
static int setup_dir(void) {
        const char *tmp = getenv("TMPDIR");

        if (base_dir[0])
                return 0;
        if (!tmp || tmp[0] != '/' || strlen(tmp) > sizeof(base_dir) - 32)
                tmp = "/tmp";
        snprintf(base_dir, sizeof(base_dir), "%s/fuzz-config.XXXXXX", tmp);
        if (!mkdtemp(base_dir)) {
                base_dir[0] = '\0';
                return -errno;
        }
        snprintf(main_path, sizeof(main_path), "%s/sriovd.conf", base_dir);
        snprintf(dropin_dir, sizeof(dropin_dir), "%s/sriovd.conf.d", base_dir);
        snprintf(dropin_path, sizeof(dropin_path), "%s/10-fuzz.conf", dropin_dir);
        if (mkdir(dropin_dir, 0700) < 0)
                return -errno;
        atexit(remove_files);
        return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                return -errno;
        while (size > 0) {
                ssize_t n = write(fd, data, size);
                if (n < 0)
                        return -errno;
                data += n;
                size -= (size_t) n;
        }
        return 0;
}

static void check_loaded(const struct sriov_config *c) {
        const struct sriov_daemon_config *d = sriov_config_daemon(c);
        json_object *j;

        fuzz_assert(d);
        fuzz_assert(d->history_size == 0 ||
                    (d->history_size >= SRIOV_CONFIG_HISTORY_SIZE_MIN && d->history_size <= SRIOV_CONFIG_HISTORY_SIZE_MAX));
        fuzz_assert(d->aer_poll_interval <= SRIOV_CONFIG_AER_POLL_INTERVAL_MAX);
        fuzz_assert(!d->socket || (d->socket[0] == '/' && strlen(d->socket) < 108));

        for (size_t i = 0; i < sriov_config_n_pfs(c); i++) {
                const struct sriov_pf_config *p = sriov_config_pf(c, i);
                struct sriov_device dev = { .role = SRIOV_ROLE_PF };
                const char *ifname = NULL, *file;
                unsigned line;

                fuzz_assert(p && p->match && p->source_file);
                fuzz_assert(p->num_vfs >= -1 && p->num_vfs <= 65535);
                fuzz_assert(p->recovery_attempts <= SRIOV_CONFIG_RECOVERY_ATTEMPTS_MAX);
                switch (p->match_kind) {
                case SRIOV_PF_MATCH_ADDRESS:
                        dev.addr = p->addr;
                        break;
                case SRIOV_PF_MATCH_ID:
                        dev.vendor_id = p->vendor_id;
                        dev.device_id = p->device_id;
                        break;
                case SRIOV_PF_MATCH_IFNAME:
                        ifname = p->match;
                        break;
                default:
                        fuzz_assert(!"unknown match kind");
                }
                /* a more specific section may win, but some section always matches */
                fuzz_assert(sriov_config_match(c, &dev, ifname));

                for (size_t v = 0; v < p->n_vfs; v++) {
                        const struct sriov_vf_config *vf = &p->vfs[v];
                        fuzz_assert(vf->index <= SRIOV_CONFIG_VF_INDEX_MAX);
                        fuzz_assert(v == 0 || p->vfs[v - 1].index < vf->index);
                        fuzz_assert(sriov_pf_config_vf(p, vf->index) == vf);
                        fuzz_assert(vf->vlan >= -1 && vf->vlan <= 4095 && vf->qos >= -1 && vf->qos <= 7);
                        fuzz_assert(vf->max_tx_rate <= 0 || vf->min_tx_rate <= vf->max_tx_rate);
                }
                (void) sriov_config_origin(c, p, "num-vfs", &file, &line);
        }
        j = sriov_config_to_json(c);
        if (j)
                fuzz_assert(json_object_to_json_string(j));
        json_object_put(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        const uint8_t *ff;
        size_t main_size;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        if (setup_dir() < 0)
                abort();        /* not the input's fault: say so loudly rather than pass */

        ff = memchr(data, '\f', size);
        main_size = ff ? (size_t) (ff - data) : size;
        if (write_file(main_path, data, main_size) < 0)
                abort();
        if (ff) {
                if (write_file(dropin_path, ff + 1, size - main_size - 1) < 0)
                        abort();
        } else
                (void) unlink(dropin_path);

        r = sriov_config_load(main_path, dropin_dir, &c, &errors);
        if (r >= 0) {
                fuzz_assert(c && !errors);
                check_loaded(c);
        } else {
                fuzz_assert(!c);
                fuzz_assert(r == -ENOMEM || (errors && errors[0]));
                for (char **e = errors; e && *e; e++)
                        fuzz_assert(strlen(*e) > 0);
        }
        return 0;
}
