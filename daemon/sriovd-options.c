/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sriovd-log.h"
#include "sriovd-options.h"

static const char *const source_names[_UEVENT_SOURCE_MAX] = {
        [UEVENT_SOURCE_AUTO] = "auto",
        [UEVENT_SOURCE_UDEV] = "udev",
        [UEVENT_SOURCE_KERNEL] = "kernel",
};

const char *uevent_source_to_string(UeventSource s) {
        return s >= 0 && s < _UEVENT_SOURCE_MAX ? source_names[s] : NULL;
}

UeventSource uevent_source_from_string(const char *s) {
        for (UeventSource i = 0; s && i < _UEVENT_SOURCE_MAX; i++)
                if (streq(s, source_names[i]))
                        return i;
        return _UEVENT_SOURCE_INVALID;
}

UeventSource uevent_source_resolve(UeventSource s) {
        if (s != UEVENT_SOURCE_AUTO)
                return s;
        return access("/run/udev/control", F_OK) == 0 ? UEVENT_SOURCE_UDEV : UEVENT_SOURCE_KERNEL;
}

void sriovd_options_help(const char *argv0) {
        printf("Usage: %s [OPTIONS]\n\n"
               "SR-IOV and PCI management daemon. Runs in the foreground.\n\n"
               "  --socket PATH           API socket (default %s)\n"
               "  --sysfs-root DIR        sysfs mount point (default /sys)\n"
               "  --state-dir DIR         persistent state (default %s)\n"
               "  --runtime-dir DIR       runtime files and lock files (default %s)\n"
               "  --config FILE           configuration file (default %s)\n"
               "  --uevent-source SOURCE  udev, kernel or auto (default auto: udev if\n"
               "                          systemd-udevd runs, else kernel)\n"
               "  --admin-group GROUP     members may change state (root always may)\n"
               "  --settle-quiet-ms MS    after a VF count change, settled once no uevent for\n"
               "                          the PF or its VFs came for MS ms (default 2000)\n"
               "  --history-size N        PCIe error events kept in memory (default 4096)\n"
               "  --aer-poll-interval S   read AER counters every S seconds for correctable\n"
               "                          errors, which send no uevent (default 10, 0 off)\n"
               "  --log-level LEVEL       debug, info, notice, warning, err (default info)\n"
               "  -h, --help              show this help\n"
               "  --version               show the version\n",
               argv0, SRIOVD_DEFAULT_SOCKET, SRIOVD_DEFAULT_STATE_DIR, SRIOVD_DEFAULT_RUNTIME_DIR,
               SRIOVD_DEFAULT_CONFIG);
}

static int set_string(char **dst, const char *value, const char *opt) {
        char *s;

        if (!value || value[0] == '\0') {
                fprintf(stderr, "sriovd: %s needs a non-empty value\n", opt);
                return -EINVAL;
        }
        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int parse_unsigned(const char *s, unsigned long min, unsigned long max, const char *opt, const char *unit,
                          unsigned *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || s[0] < '0' || s[0] > '9' || v < min || v > max) {
                fprintf(stderr, "sriovd: %s must be a whole number of %s from %lu to %lu, not '%s'\n", opt, unit, min, max, s);
                return -EINVAL;
        }
        *ret = (unsigned) v;
        return 0;
}

int sriovd_options_parse(struct sriovd_options *o, int argc, char **argv) {
        enum {
                ARG_SOCKET = 0x100, ARG_SYSFS_ROOT, ARG_STATE_DIR, ARG_RUNTIME_DIR, ARG_CONFIG,
                ARG_UEVENT_SOURCE, ARG_LOG_LEVEL, ARG_ADMIN_GROUP, ARG_VERSION, ARG_SETTLE_QUIET, ARG_HISTORY_SIZE, ARG_AER_POLL,
        };
        static const struct option options[] = {
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "uevent-source", required_argument, NULL, ARG_UEVENT_SOURCE },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "admin-group", required_argument, NULL, ARG_ADMIN_GROUP },
                { "settle-quiet-ms", required_argument, NULL, ARG_SETTLE_QUIET },
                { "history-size", required_argument, NULL, ARG_HISTORY_SIZE },
                { "aer-poll-interval", required_argument, NULL, ARG_AER_POLL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c, r;

        *o = (struct sriovd_options) { .log_level = LOG_INFO, .settle_quiet_ms = 2000, .history_size = 4096, .aer_poll_sec = 10 };
        if (set_string(&o->socket_path, SRIOVD_DEFAULT_SOCKET, "") < 0 ||
            set_string(&o->sysfs_root, "/sys", "") < 0 ||
            set_string(&o->state_dir, SRIOVD_DEFAULT_STATE_DIR, "") < 0 ||
            set_string(&o->runtime_dir, SRIOVD_DEFAULT_RUNTIME_DIR, "") < 0)
                return -ENOMEM;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SOCKET:
                        o->given |= OPT_GIVEN_SOCKET;
                        r = set_string(&o->socket_path, optarg, "--socket");
                        break;
                case ARG_SYSFS_ROOT:
                        r = set_string(&o->sysfs_root, optarg, "--sysfs-root");
                        break;
                case ARG_STATE_DIR:
                        o->given |= OPT_GIVEN_STATE_DIR;
                        r = set_string(&o->state_dir, optarg, "--state-dir");
                        break;
                case ARG_RUNTIME_DIR:
                        o->given |= OPT_GIVEN_RUNTIME_DIR;
                        r = set_string(&o->runtime_dir, optarg, "--runtime-dir");
                        break;
                case ARG_CONFIG:
                        r = set_string(&o->config_file, optarg, "--config");
                        break;
                case ARG_ADMIN_GROUP:
                        o->given |= OPT_GIVEN_ADMIN_GROUP;
                        r = set_string(&o->admin_group, optarg, "--admin-group");
                        break;
                case ARG_UEVENT_SOURCE:
                        o->given |= OPT_GIVEN_UEVENT_SOURCE;
                        o->uevent_source = uevent_source_from_string(optarg);
                        r = 0;
                        if (o->uevent_source < 0) {
                                fprintf(stderr, "sriovd: --uevent-source must be udev, kernel or auto, not '%s'\n", optarg);
                                r = -EINVAL;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        o->given |= OPT_GIVEN_LOG_LEVEL;
                        o->log_level = log_level_from_string(optarg);
                        r = 0;
                        if (o->log_level < 0) {
                                fprintf(stderr, "sriovd: --log-level must be debug, info, notice, warning or err, not '%s'\n", optarg);
                                r = -EINVAL;
                        }
                        break;
                case ARG_SETTLE_QUIET:
                        o->given |= OPT_GIVEN_SETTLE_QUIET;
                        r = parse_unsigned(optarg, 10, 600000, "--settle-quiet-ms", "milliseconds", &o->settle_quiet_ms);
                        break;
                case ARG_HISTORY_SIZE:
                        o->given |= OPT_GIVEN_HISTORY_SIZE;
                        r = parse_unsigned(optarg, 16, 1048576, "--history-size", "events", &o->history_size);
                        break;
                case ARG_AER_POLL:
                        o->given |= OPT_GIVEN_AER_POLL;
                        r = parse_unsigned(optarg, 0, 3600, "--aer-poll-interval", "seconds (0: off)", &o->aer_poll_sec);
                        break;
                case 'h':
                        o->show_help = true;
                        r = 0;
                        break;
                case ARG_VERSION:
                        o->show_version = true;
                        r = 0;
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc) {
                fprintf(stderr, "sriovd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (strlen(o->socket_path) >= 108) {
                fprintf(stderr, "sriovd: socket path too long (%zu bytes, at most 107)\n", strlen(o->socket_path));
                return -ENAMETOOLONG;
        }
        return 0;
}

void sriovd_options_done(struct sriovd_options *o) {
        free(o->socket_path);
        free(o->sysfs_root);
        free(o->state_dir);
        free(o->runtime_dir);
        free(o->config_file);
        free(o->admin_group);
        *o = (struct sriovd_options) {};
}
