/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Live configuration: inotify on the loop watches the configuration file's folder (for
 * the file itself, and for sriovd.conf.d appearing or going) and sriovd.conf.d/, and
 * runs the one reload path (the same as SIGHUP and sriovctl reload) once a burst of
 * changes is over.
 *
 * What counts as a change: the main file, a *.conf name in the drop-in folder (names
 * starting with a dot are not configuration, as the loader says, so editors' swap files
 * and temporary files trigger nothing), and "..data": a Kubernetes ConfigMap mounted as
 * a folder has its files as symlinks through ..data, which the kubelet swaps atomically
 * (rename) to a new ..<timestamp> folder; the symlinks themselves do not change. A broken
 * file is refused whole by the reload, which keeps the running configuration and says
 * so in the journal, GET /v1/config (last_reload) and the metrics. */

struct sriovd_manager;
struct sriovd_config_watch;

/* Quiet time after the last change before reloading, and the longest a steady stream of
 * changes can put it off. */
#define SRIOVD_CONFIG_WATCH_QUIET_MS 300
#define SRIOVD_CONFIG_WATCH_MAX_DELAY_MS 3000

int sriovd_config_watch_new(struct sriovd_manager *m, const char *main_file, struct sriovd_config_watch **ret);
struct sriovd_config_watch *sriovd_config_watch_free(struct sriovd_config_watch *w);
