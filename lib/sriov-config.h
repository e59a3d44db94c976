/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration file: /etc/sriovd/sriovd.conf plus the drop-ins
 * /etc/sriovd/sriovd.conf.d/ *.conf, read in lexical (byte) order; a key set in a later
 * file replaces the value of an earlier one, key by key. docs/sriovd.conf.5 is the
 * reference for the syntax and every key.
 *
 *   [daemon]
 *   log-level = info
 *
 *   [pf "0000:3b:00.0"]        # by PCI address
 *   [pf "8086:1572"]           # by vendor:device id: every PF with that id
 *   [pf "ens1f0"]              # by the PF's network interface name
 *   num-vfs = 8
 *   vf.0.mac = 02:00:00:00:00:01
 *
 * The quoted PF section name is git's [remote "origin"] form: the quotes mark where the
 * match starts and ends, and the three kinds cannot be confused (an interface name has no
 * ':', a vendor:device id is exactly XXXX:XXXX, an address has a '.').
 *
 * Lines are read with inih, behind a line reader that converts its conventions once:
 * inih (r55) reports only the line of the first error, cuts lines longer than its buffer
 * into several lines (so a long comment could smuggle in a key and every later line
 * number is off), treats indented lines as continuations of the previous value, splits
 * at ':' as well as '=', ignores text after a section's ']' and silently truncates
 * section and key names to 49 bytes. The reader numbers lines itself, rejects over-long
 * lines, NUL and control bytes and invalid UTF-8, checks every line's shape, and hands
 * inih only lines it will read the way the manual page says. Every problem in every
 * file is collected as one message "FILE:LINE: key 'KEY' in [SECTION]: what is wrong". */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-device.h"
#include "sriov-enable.h"          /* SriovPolicy */
#include "sriov-macros.h"
#include "sriov-netlink.h"         /* SriovVfLinkState, SRIOV_VLAN_PROTO_*, the MAC/VLAN parsers */
#include "sriov-recovery.h"        /* SriovRecoveryPolicy */

/* Longest line accepted, in bytes without the newline (inih's 200-byte buffer, less the
 * newline and the terminating NUL). */
#define SRIOV_CONFIG_LINE_MAX 198u
/* Messages past this many are summarised in one last line. */
#define SRIOV_CONFIG_ERRORS_MAX 100u

#define SRIOV_CONFIG_VF_INDEX_MAX 65534u        /* vf.N: N < 65535 */
#define SRIOV_CONFIG_DRIVER_NAME_MAX 64u
#define SRIOV_CONFIG_HISTORY_SIZE_DEFAULT 4096u
#define SRIOV_CONFIG_HISTORY_SIZE_MIN 16u
#define SRIOV_CONFIG_HISTORY_SIZE_MAX 1048576u
#define SRIOV_CONFIG_AER_POLL_INTERVAL_DEFAULT 10u     /* seconds; 0: off */
#define SRIOV_CONFIG_AER_POLL_INTERVAL_MAX 3600u
#define SRIOV_CONFIG_SETTLE_QUIET_MS_DEFAULT 2000u
#define SRIOV_CONFIG_SETTLE_QUIET_MS_MIN 10u           /* as --settle-quiet-ms */
#define SRIOV_CONFIG_SETTLE_QUIET_MS_MAX 600000u
#define SRIOV_CONFIG_RECOVERY_ATTEMPTS_DEFAULT 3u
#define SRIOV_CONFIG_NFD_EXPIRY_DEFAULT 300u           /* seconds a label file stays valid */
#define SRIOV_CONFIG_NFD_EXPIRY_MIN 10u
#define SRIOV_CONFIG_NFD_EXPIRY_MAX 86400u
#define SRIOV_CONFIG_RECOVERY_ATTEMPTS_MAX SRIOV_PF_RECOVERY_ATTEMPTS_MAX /* the recovery machine's own limit */

typedef enum sriov_pf_match_kind {
        SRIOV_PF_MATCH_ADDRESS,         /* [pf "0000:3b:00.0"] */
        SRIOV_PF_MATCH_IFNAME,          /* [pf "ens1f0"] */
        SRIOV_PF_MATCH_ID,              /* [pf "8086:1572"] */
        _SRIOV_PF_MATCH_KIND_MAX,
        _SRIOV_PF_MATCH_KIND_INVALID = -EINVAL,
} SriovPfMatchKind;

const char *sriov_pf_match_kind_to_string(SriovPfMatchKind k);

/* [daemon]. Keys that mirror a command-line option are "not set" (NULL, -1) unless the
 * files set them, so that the daemon can apply: command line > file > built-in default.
 * The numbers without a command-line option hold their default when not set. */
struct sriov_daemon_config {
        char *socket;                   /* absolute, < 108 bytes; NULL: not set */
        char *state_dir;                /* absolute; NULL: not set */
        char *runtime_dir;              /* absolute; NULL: not set */
        const char *uevent_source;      /* static "udev", "kernel" or "auto" (for
                                         * uevent_source_from_string()); NULL: not set */
        int log_level;                  /* LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING,
                                         * LOG_ERR (syslog.h); -1: not set */
        unsigned history_size;          /* AER event history entries, default 4096 */
        unsigned aer_poll_interval;     /* seconds, 0: off, default 10 */
        char *admin_group;              /* group name or numeric gid, not resolved; NULL: not set */
        unsigned settle_quiet_ms;       /* 0: not set (the daemon's default is 2000) */
        char *metrics_listen;           /* "ADDR:PORT" (sriov_listen_address_parse()); NULL: off */
        bool metrics_per_vf;            /* per-VF series in /metrics, default off */
        char *nfd_features_file;        /* absolute; NULL: no NFD feature file */
        unsigned nfd_expiry;            /* seconds, default 300 */
};

/* vf.N.*: every member "not set" (-1, NULL, false has_mac) unless a file sets it. */
struct sriov_vf_config {
        unsigned index;                 /* N */
        bool has_mac;
        uint8_t mac[6];                 /* unicast, not all zero (sriov_parse_mac()) */
        int vlan;                       /* 0..4095, -1: not set */
        int qos;                        /* 0..7, -1: not set; needs vlan */
        uint16_t vlan_proto;            /* SRIOV_VLAN_PROTO_8021Q or _8021AD (host order); 0: not
                                         * set; needs vlan */
        int trust;                      /* 0, 1, -1: not set */
        int spoof_check;                /* 0, 1, -1: not set */
        SriovVfLinkState link_state;    /* _SRIOV_VF_LINK_STATE_INVALID: not set */
        int64_t min_tx_rate;            /* Mbit/s, 0..UINT32_MAX, 0: no limit, -1: not set */
        int64_t max_tx_rate;            /* Mbit/s, 0: no limit, -1: not set; >= min_tx_rate
                                         * when both are set and max is not 0 */
        char *driver;                   /* NULL: not set */
};

/* One [pf "MATCH"] section, merged over all files that have it. */
struct sriov_pf_config {
        SriovPfMatchKind match_kind;
        char *match;                    /* canonical: "0000:3b:00.0", "8086:1572", "ens1f0" */
        struct sriov_addr addr;         /* SRIOV_PF_MATCH_ADDRESS */
        uint16_t vendor_id, device_id;  /* SRIOV_PF_MATCH_ID */
        const char *source_file;        /* where the section first appears */
        unsigned source_line;

        int num_vfs;                    /* 0..65535, -1: not set (leave the count alone) */
        SriovPolicy policy;             /* default best-effort */
        int drivers_autoprobe;          /* 0, 1, -1: not set (leave the kernel's) */
        char *vf_driver;                /* NULL: not set */
        SriovRecoveryPolicy recovery;   /* default SRIOV_RECOVERY_POLICY_DEFAULT (remove-rescan) */
        unsigned recovery_attempts;     /* 1..100, default 3 */
        bool park_idle_vfs;             /* default false */
        bool repair_drift;              /* default false */
        bool reapply;                   /* per-VF network settings changed behind sriovd's
                                         * back are set again; default false */
        char *vfio_owner;               /* user name or numeric uid, not resolved; NULL: not set */
        char *vfio_group;               /* group name or numeric gid, not resolved; NULL: not set */

        size_t n_vfs;
        struct sriov_vf_config *vfs;    /* sorted by index, only VFs with a setting */
};

struct sriov_config;

/* Reads main_file and then every regular file named *.conf (not starting with '.') in
 * dropin_dir, in strcmp() order. Either may be NULL; a missing file or folder is no
 * error, nor is an empty configuration. Other folder entries are ignored.
 *
 * Returns 0 and the configuration in *ret. On any problem *ret is untouched (the caller
 * keeps its running configuration) and the return is -EINVAL for a configuration error
 * or the -errno of a file or folder that could not be read; every problem found in
 * every file is then in *ret_errors (NULL-terminated, at most SRIOV_CONFIG_ERRORS_MAX + 1
 * lines) when ret_errors is not NULL. On success *ret_errors is set to NULL. -ENOMEM
 * leaves both untouched. */
int sriov_config_load(const char *main_file, const char *dropin_dir, struct sriov_config **ret,
                      char ***ret_errors);

struct sriov_config *sriov_config_free(struct sriov_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_config *, sriov_config_free);

/* The [daemon] section. c may be NULL: then everything is "not set" or the default. */
const struct sriov_daemon_config *sriov_config_daemon(const struct sriov_config *c);

/* Where a key got its value: 1 and its FILE (owned by c) and LINE when a file sets it, 0 when
 * it is not set (ret_* untouched), -EINVAL for a name that is not a key. pf is one of c's
 * sections, or NULL for [daemon]; per-VF keys are named as in the file, "vf.3.mac". */
int sriov_config_origin(const struct sriov_config *c, const struct sriov_pf_config *pf, const char *key,
                        const char **ret_file, unsigned *ret_line);

/* The files that were read, in order (NULL-terminated; missing ones are not listed). */
char *const *sriov_config_files(const struct sriov_config *c);

/* Every PF section, addresses first, then interface names, then ids, each sorted. */
size_t sriov_config_n_pfs(const struct sriov_config *c);
const struct sriov_pf_config *sriov_config_pf(const struct sriov_config *c, size_t i);

/* The one section that applies to the PF d, whose network interface is ifname (NULL
 * when it has none or it is not known). Precedence, most specific first: the PCI address,
 * then the interface name, then the vendor:device id. Sections are not combined: the
 * first that matches applies alone. VFs (d->role == SRIOV_ROLE_VF) match nothing.
 * NULL when no section matches or c is NULL. */
const struct sriov_pf_config *sriov_config_match(const struct sriov_config *c, const struct sriov_device *d,
                                                 const char *ifname);

/* The settings for VF number index, NULL when the section has none. */
const struct sriov_vf_config *sriov_pf_config_vf(const struct sriov_pf_config *p, unsigned index);

/* The effective configuration (new reference, NULL on allocation failure):
 * {"files": [...], "daemon": {...}, "pfs": [{"match": "...", "match_kind": "address",
 * "source": "FILE:LINE", ..., "vfs": [...], "origins": {"num_vfs": "FILE:LINE", ...}}]}.
 * Keys are the file's keys with '_' for '-'; a key that is not set is null. */
json_object *sriov_config_to_json(const struct sriov_config *c);
