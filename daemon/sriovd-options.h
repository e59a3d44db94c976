/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

typedef enum uevent_source {
        UEVENT_SOURCE_AUTO,
        UEVENT_SOURCE_UDEV,
        UEVENT_SOURCE_KERNEL,
        _UEVENT_SOURCE_MAX,
        _UEVENT_SOURCE_INVALID = -22,
} UeventSource;

/* Which options the command line set: they win over the configuration file. */
enum {
        OPT_GIVEN_SOCKET = 1u << 0,
        OPT_GIVEN_STATE_DIR = 1u << 1,
        OPT_GIVEN_RUNTIME_DIR = 1u << 2,
        OPT_GIVEN_UEVENT_SOURCE = 1u << 3,
        OPT_GIVEN_LOG_LEVEL = 1u << 4,
        OPT_GIVEN_ADMIN_GROUP = 1u << 5,
        OPT_GIVEN_SETTLE_QUIET = 1u << 6,
        OPT_GIVEN_HISTORY_SIZE = 1u << 7,
        OPT_GIVEN_AER_POLL = 1u << 8,
};

struct sriovd_options {
        unsigned given;
        char *socket_path;
        char *sysfs_root;
        char *state_dir;
        char *runtime_dir;
        char *config_file;
        UeventSource uevent_source;
        int log_level;
        unsigned settle_quiet_ms;       /* quiet window that ends settling */
        unsigned history_size;          /* PCIe error events kept in memory */
        unsigned aer_poll_sec;          /* correctable errors: counter read interval, 0 off */
        char *admin_group;      /* members may change state; root and the daemon's user always may */
        bool show_help;
        bool show_version;
};

/* Fills defaults, then parses argv. -EINVAL with a message on stderr for bad input. */
int sriovd_options_parse(struct sriovd_options *o, int argc, char **argv);
void sriovd_options_done(struct sriovd_options *o);
void sriovd_options_help(const char *argv0);

const char *uevent_source_to_string(UeventSource s);
UeventSource uevent_source_from_string(const char *s);
/* AUTO means "udev" where systemd-udevd runs (its control socket exists), else "kernel". */
UeventSource uevent_source_resolve(UeventSource s);
