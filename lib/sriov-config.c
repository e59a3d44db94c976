/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "sriov-config.h"
#include "sriov-listen.h"
#include "sriov-json.h"
#include "sriov-log.h"

#define SOCKET_PATH_MAX 107u            /* sizeof(sun_path) - 1 */
#define NAME_ID_MAX 4294967294u         /* (uid_t) -1 is reserved */
#define USER_NAME_MAX 32u
#define IFNAME_MAX 15u                  /* IFNAMSIZ - 1 */

/* ---- names ---- */

static const char *const match_kind_names[_SRIOV_PF_MATCH_KIND_MAX] = {
        [SRIOV_PF_MATCH_ADDRESS] = "address",
        [SRIOV_PF_MATCH_IFNAME] = "ifname",
        [SRIOV_PF_MATCH_ID] = "id",
};

static const char *const uevent_source_names[] = { "auto", "udev", "kernel" };

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "debug", LOG_DEBUG },
        { "info", LOG_INFO },
        { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING },
        { "err", LOG_ERR },
};

const char *sriov_pf_match_kind_to_string(SriovPfMatchKind k) {
        return k >= 0 && k < _SRIOV_PF_MATCH_KIND_MAX ? match_kind_names[k] : NULL;
}

static const char *log_level_to_name(int level) {
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (log_levels[i].level == level)
                        return log_levels[i].name;
        return NULL;
}

/* ---- the configuration ---- */

struct origin {
        unsigned file;                  /* index into sriov_config.files */
        unsigned line;                  /* 0: not set */
};

enum {
        D_SOCKET, D_STATE_DIR, D_RUNTIME_DIR, D_UEVENT_SOURCE, D_LOG_LEVEL, D_HISTORY_SIZE,
        D_AER_POLL_INTERVAL, D_ADMIN_GROUP, D_SETTLE_QUIET_MS, D_METRICS_LISTEN, D_METRICS_PER_VF,
        D_NFD_FEATURES_FILE, D_NFD_EXPIRY, _D_MAX,
};
enum {
        P_NUM_VFS, P_POLICY, P_DRIVERS_AUTOPROBE, P_VF_DRIVER, P_RECOVERY, P_RECOVERY_ATTEMPTS,
        P_PARK_IDLE_VFS, P_REPAIR_DRIFT, P_REAPPLY, P_VFIO_OWNER, P_VFIO_GROUP, _P_MAX,
};
enum {
        V_MAC, V_VLAN, V_QOS, V_VLAN_PROTO, V_TRUST, V_SPOOF_CHECK, V_LINK_STATE, V_MIN_TX_RATE,
        V_MAX_TX_RATE, V_DRIVER, _V_MAX,
};

struct vf_origins {
        struct origin o[_V_MAX];
};

struct pf_entry {
        struct sriov_pf_config pub;     /* first: sriov_config_match() hands out &pub */
        struct origin origin[_P_MAX];
        struct vf_origins *vf_origins;  /* parallel to pub.vfs */
        size_t n_headers;
        struct origin *headers;         /* every [pf "..."] line that contributed */
};

struct sriov_config {
        char **files;                   /* NULL-terminated */
        size_t n_files;
        struct sriov_daemon_config daemon;
        struct origin daemon_origin[_D_MAX];
        size_t n_pfs;
        struct pf_entry **pfs;
};

static const struct sriov_daemon_config daemon_defaults = {
        .log_level = -1,
        .history_size = SRIOV_CONFIG_HISTORY_SIZE_DEFAULT,
        .aer_poll_interval = SRIOV_CONFIG_AER_POLL_INTERVAL_DEFAULT,
        .nfd_expiry = SRIOV_CONFIG_NFD_EXPIRY_DEFAULT,
};

static const struct sriov_vf_config vf_unset = {
        .vlan = -1,
        .qos = -1,
        .trust = -1,
        .spoof_check = -1,
        .link_state = _SRIOV_VF_LINK_STATE_INVALID,
        .min_tx_rate = -1,
        .max_tx_rate = -1,
};

static void daemon_config_done(struct sriov_daemon_config *d) {
        free(d->socket);
        free(d->state_dir);
        free(d->runtime_dir);
        free(d->admin_group);
        free(d->metrics_listen);
        free(d->nfd_features_file);
        *d = daemon_defaults;
}

static struct pf_entry *pf_entry_free(struct pf_entry *e) {
        if (!e)
                return NULL;
        free(e->pub.match);
        free(e->pub.vf_driver);
        free(e->pub.vfio_owner);
        free(e->pub.vfio_group);
        for (size_t i = 0; i < e->pub.n_vfs; i++)
                free(e->pub.vfs[i].driver);
        free(e->pub.vfs);
        free(e->vf_origins);
        free(e->headers);
        free(e);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pf_entry *, pf_entry_free);

static struct pf_entry *pf_entry_new(void) {
        struct pf_entry *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        e->pub.match_kind = _SRIOV_PF_MATCH_KIND_INVALID;
        e->pub.num_vfs = -1;
        e->pub.policy = SRIOV_POLICY_BEST_EFFORT;
        e->pub.drivers_autoprobe = -1;
        e->pub.recovery = SRIOV_RECOVERY_POLICY_DEFAULT;
        e->pub.recovery_attempts = SRIOV_CONFIG_RECOVERY_ATTEMPTS_DEFAULT;
        return e;
}

struct sriov_config *sriov_config_free(struct sriov_config *c) {
        if (!c)
                return NULL;
        strv_free(c->files);
        daemon_config_done(&c->daemon);
        for (size_t i = 0; i < c->n_pfs; i++)
                pf_entry_free(c->pfs[i]);
        free(c->pfs);
        free(c);
        return NULL;
}

static struct sriov_config *config_new(void) {
        struct sriov_config *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->daemon = daemon_defaults;
        c->files = calloc(1, sizeof(char *));
        if (!c->files)
                return sriov_config_free(c);
        return c;
}

/* ---- value parsers ----
 * Each checks the whole value and writes *dst only when it is valid; -EINVAL with a
 * reason in why, -ENOMEM. */

struct key_info;
typedef int (*parse_fn)(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen);
typedef json_object *(*json_fn)(const struct key_info *k, const void *src);

struct key_info {
        const char *name;
        parse_fn parse;
        json_fn to_json;
        size_t offset;
        unsigned long long min, max;
};

static int why_set(char *why, size_t whylen, const char *fmt, ...) _printf_(3, 4);
static int why_set(char *why, size_t whylen, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Decimal digits only: no sign, no blanks, no leading zeros, no 0x. */
static int parse_decimal(const char *s, unsigned long long max, unsigned long long *ret) {
        unsigned long long v = 0;

        if (!s || !*s || (s[0] == '0' && s[1]))
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (max - (unsigned) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (unsigned) (*s - '0');
        }
        *ret = v;
        return 0;
}

static int parse_number(const struct key_info *k, const char *value, unsigned long long *ret,
                        char *why, size_t whylen) {
        unsigned long long v = 0;
        int r = parse_decimal(value, ULLONG_MAX, &v);

        if (r == -EINVAL)
                return why_set(why, whylen, "'%s' is not a decimal number (%llu to %llu)", value, k->min, k->max);
        if (r < 0 || v < k->min || v > k->max)
                return why_set(why, whylen, "%s is out of range (%llu to %llu)", value, k->min, k->max);
        *ret = v;
        return 0;
}

static int parse_unsigned(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        unsigned long long v = 0;
        int r = parse_number(k, value, &v, why, whylen);

        if (r < 0)
                return r;
        *(unsigned *) dst = (unsigned) v;
        return 0;
}

static int parse_int(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        unsigned long long v = 0;
        int r = parse_number(k, value, &v, why, whylen);

        if (r < 0)
                return r;
        *(int *) dst = (int) v;
        return 0;
}

static int parse_int64(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        unsigned long long v = 0;
        int r = parse_number(k, value, &v, why, whylen);

        if (r < 0)
                return r;
        *(int64_t *) dst = (int64_t) v;
        return 0;
}

static int boolean_from_string(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i]))
                        return 1;
                if (streq(s, no[i]))
                        return 0;
        }
        return -EINVAL;
}

#define BOOL_WHY "'%s' is not a boolean (yes, no, true, false, on, off, 1, 0)"

static int parse_bool(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        int b = boolean_from_string(value);

        if (b < 0)
                return why_set(why, whylen, BOOL_WHY, value);
        *(bool *) dst = b;
        return 0;
}

static int parse_tristate(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        int b = boolean_from_string(value);

        if (b < 0)
                return why_set(why, whylen, BOOL_WHY, value);
        *(int *) dst = b;
        return 0;
}

static int set_string(void *dst, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*(char **) dst);
        *(char **) dst = s;
        return 0;
}

static int parse_listen(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        if (sriov_listen_address_parse(value, NULL, NULL) < 0)
                return why_set(why, whylen, "'%s' is not ADDRESS:PORT with a numeric address "
                               "(127.0.0.1:9808, [::1]:9808, 0.0.0.0:9808) and a port 1..65535", value);
        return set_string(dst, value);
}

static int parse_path(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        if (value[0] != '/')
                return why_set(why, whylen, "'%s' is not an absolute path", value);
        if (strlen(value) > k->max)
                return why_set(why, whylen, "path is %zu bytes long, at most %llu are possible", strlen(value), k->max);
        return set_string(dst, value);
}

static bool valid_driver_name(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > SRIOV_CONFIG_DRIVER_NAME_MAX)
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int parse_driver(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        if (!valid_driver_name(value))
                return why_set(why, whylen, "'%s' is not a driver name (1 to %u of A-Z a-z 0-9 _ -)", value,
                               SRIOV_CONFIG_DRIVER_NAME_MAX);
        return set_string(dst, value);
}

/* A user or group as useradd(8) allows it, or a numeric id; resolved when used, not here
 * (the name service may not be up, and the account may come later). */
static int parse_account(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        size_t n = strlen(value);
        unsigned long long id;

        if (value[0] >= '0' && value[0] <= '9') {
                if (parse_decimal(value, NAME_ID_MAX, &id) < 0)
                        return why_set(why, whylen, "'%s' is not a name or a numeric id (0 to %u)", value, NAME_ID_MAX);
                return set_string(dst, value);
        }
        if (n > USER_NAME_MAX ||
            !(isascii(value[0]) && (isalpha(value[0]) || value[0] == '_')) ||
            strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") < n - (value[n - 1] == '$') ||
            (value[n - 1] == '$' && n == 1))
                return why_set(why, whylen,
                               "'%s' is not a valid name (a letter or _, then up to %u of A-Z a-z 0-9 _ -, "
                               "optionally ending in $) nor a numeric id", value, USER_NAME_MAX - 1);
        return set_string(dst, value);
}

static int parse_uevent_source(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        for (size_t i = 0; i < ELEMENTSOF(uevent_source_names); i++)
                if (streq(value, uevent_source_names[i])) {
                        *(const char **) dst = uevent_source_names[i];
                        return 0;
                }
        return why_set(why, whylen, "'%s' is not one of udev, kernel, auto", value);
}

static int parse_log_level(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (streq(value, log_levels[i].name)) {
                        *(int *) dst = log_levels[i].level;
                        return 0;
                }
        return why_set(why, whylen, "'%s' is not one of debug, info, notice, warning, err", value);
}

static int parse_policy(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        SriovPolicy p = sriov_policy_from_string(value);

        if (p < 0)
                return why_set(why, whylen, "'%s' is not one of best-effort, all-or-nothing", value);
        *(SriovPolicy *) dst = p;
        return 0;
}

static int parse_recovery(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        SriovRecoveryPolicy r = sriov_recovery_policy_from_string(value);

        if (r < 0)
                return why_set(why, whylen, "'%s' is not one of none, notify, remove-rescan, reset", value);
        *(SriovRecoveryPolicy *) dst = r;
        return 0;
}

static int parse_link_state(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        if (sriov_parse_link_state(value, dst) < 0)
                return why_set(why, whylen, "'%s' is not one of auto, enable, disable", value);
        return 0;
}

/* iproute2's spellings, compared without case as iproute2 does. */
static int parse_vlan_proto(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        if (sriov_parse_vlan_proto(value, dst) < 0)
                return why_set(why, whylen, "'%s' is not one of 802.1Q, 802.1ad", value);
        return 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* dst is the struct sriov_vf_config: the MAC and its has_mac flag change together. */
static int parse_mac(const struct key_info *k, const char *value, void *dst, char *why, size_t whylen) {
        struct sriov_vf_config *vf = dst;
        int r;

        r = sriov_parse_mac(value, vf->mac);
        if (r == -EADDRNOTAVAIL)
                return why_set(why, whylen, "%s is a multicast or all-zero address, a VF needs a unicast one", value);
        if (r < 0)
                return why_set(why, whylen, "'%s' is not a MAC address (six hex pairs separated by ':' or '-')", value);
        vf->has_mac = true;
        return 0;
}

/* ---- JSON of one value ---- */

static json_object *json_string_or_null(const struct key_info *k, const void *src) {
        const char *s = *(const char *const *) src;
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_unsigned(const struct key_info *k, const void *src) {
        return json_object_new_int64(*(const unsigned *) src);
}

static json_object *json_unsigned_or_null(const struct key_info *k, const void *src) {
        unsigned v = *(const unsigned *) src;
        return v ? json_object_new_int64(v) : NULL;
}

static json_object *json_int_or_null(const struct key_info *k, const void *src) {
        int v = *(const int *) src;
        return v >= 0 ? json_object_new_int64(v) : NULL;
}

static json_object *json_int64_or_null(const struct key_info *k, const void *src) {
        int64_t v = *(const int64_t *) src;
        return v >= 0 ? json_object_new_int64(v) : NULL;
}

static json_object *json_boolean_value(const struct key_info *k, const void *src) {
        return json_object_new_boolean(*(const bool *) src);
}

static json_object *json_tristate(const struct key_info *k, const void *src) {
        int v = *(const int *) src;
        return v >= 0 ? json_object_new_boolean(v) : NULL;
}

static json_object *json_log_level(const struct key_info *k, const void *src) {
        const char *s = log_level_to_name(*(const int *) src);
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_policy(const struct key_info *k, const void *src) {
        const char *s = sriov_policy_to_string(*(const SriovPolicy *) src);
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_recovery(const struct key_info *k, const void *src) {
        const char *s = sriov_recovery_policy_to_string(*(const SriovRecoveryPolicy *) src);
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_link_state(const struct key_info *k, const void *src) {
        SriovVfLinkState v = *(const SriovVfLinkState *) src;
        const char *s = v >= 0 ? sriov_vf_link_state_to_string(v) : NULL;
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_vlan_proto(const struct key_info *k, const void *src) {
        uint16_t p = *(const uint16_t *) src;
        const char *s = p != 0 ? sriov_vlan_proto_to_string(p) : NULL;      /* 0 would say 802.1Q */
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_mac(const struct key_info *k, const void *src) {
        const struct sriov_vf_config *vf = src;
        char buf[18];

        if (!vf->has_mac)
                return NULL;
        snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
                 vf->mac[0], vf->mac[1], vf->mac[2], vf->mac[3], vf->mac[4], vf->mac[5]);
        return json_object_new_string(buf);
}

/* ---- the keys ---- */

#define D(f) offsetof(struct sriov_daemon_config, f)
static const struct key_info daemon_keys[_D_MAX] = {
        [D_SOCKET] = { "socket", parse_path, json_string_or_null, D(socket), 0, SOCKET_PATH_MAX },
        [D_STATE_DIR] = { "state-dir", parse_path, json_string_or_null, D(state_dir), 0, PATH_MAX - 1 },
        [D_RUNTIME_DIR] = { "runtime-dir", parse_path, json_string_or_null, D(runtime_dir), 0, PATH_MAX - 1 },
        [D_UEVENT_SOURCE] = { "uevent-source", parse_uevent_source, json_string_or_null, D(uevent_source) },
        [D_LOG_LEVEL] = { "log-level", parse_log_level, json_log_level, D(log_level) },
        [D_HISTORY_SIZE] = { "history-size", parse_unsigned, json_unsigned, D(history_size),
                             SRIOV_CONFIG_HISTORY_SIZE_MIN, SRIOV_CONFIG_HISTORY_SIZE_MAX },
        [D_AER_POLL_INTERVAL] = { "aer-poll-interval", parse_unsigned, json_unsigned, D(aer_poll_interval),
                                  0, SRIOV_CONFIG_AER_POLL_INTERVAL_MAX },
        [D_ADMIN_GROUP] = { "admin-group", parse_account, json_string_or_null, D(admin_group) },
        [D_SETTLE_QUIET_MS] = { "settle-quiet-ms", parse_unsigned, json_unsigned_or_null, D(settle_quiet_ms),
                                SRIOV_CONFIG_SETTLE_QUIET_MS_MIN, SRIOV_CONFIG_SETTLE_QUIET_MS_MAX },
        [D_METRICS_LISTEN] = { "metrics-listen", parse_listen, json_string_or_null, D(metrics_listen) },
        [D_METRICS_PER_VF] = { "metrics-per-vf", parse_bool, json_boolean_value, D(metrics_per_vf) },
        [D_NFD_FEATURES_FILE] = { "nfd-features-file", parse_path, json_string_or_null, D(nfd_features_file),
                                  0, PATH_MAX - 1 },
        [D_NFD_EXPIRY] = { "nfd-expiry", parse_unsigned, json_unsigned, D(nfd_expiry),
                           SRIOV_CONFIG_NFD_EXPIRY_MIN, SRIOV_CONFIG_NFD_EXPIRY_MAX },
};
#undef D

#define P(f) offsetof(struct sriov_pf_config, f)
static const struct key_info pf_keys[_P_MAX] = {
        [P_NUM_VFS] = { "num-vfs", parse_int, json_int_or_null, P(num_vfs), 0, SRIOV_NUM_VFS_MAX },
        [P_POLICY] = { "policy", parse_policy, json_policy, P(policy) },
        [P_DRIVERS_AUTOPROBE] = { "drivers-autoprobe", parse_tristate, json_tristate, P(drivers_autoprobe) },
        [P_VF_DRIVER] = { "vf-driver", parse_driver, json_string_or_null, P(vf_driver) },
        [P_RECOVERY] = { "recovery", parse_recovery, json_recovery, P(recovery) },
        [P_RECOVERY_ATTEMPTS] = { "recovery-attempts", parse_unsigned, json_unsigned, P(recovery_attempts),
                                  1, SRIOV_CONFIG_RECOVERY_ATTEMPTS_MAX },
        [P_PARK_IDLE_VFS] = { "park-idle-vfs", parse_bool, json_boolean_value, P(park_idle_vfs) },
        [P_REPAIR_DRIFT] = { "repair-drift", parse_bool, json_boolean_value, P(repair_drift) },
        [P_REAPPLY] = { "reapply", parse_bool, json_boolean_value, P(reapply) },
        [P_VFIO_OWNER] = { "vfio-owner", parse_account, json_string_or_null, P(vfio_owner) },
        [P_VFIO_GROUP] = { "vfio-group", parse_account, json_string_or_null, P(vfio_group) },
};
#undef P

#define V(f) offsetof(struct sriov_vf_config, f)
static const struct key_info vf_keys[_V_MAX] = {
        [V_MAC] = { "mac", parse_mac, json_mac, 0 },
        [V_VLAN] = { "vlan", parse_int, json_int_or_null, V(vlan), 0, 4095 },
        [V_QOS] = { "qos", parse_int, json_int_or_null, V(qos), 0, 7 },
        [V_VLAN_PROTO] = { "vlan-proto", parse_vlan_proto, json_vlan_proto, V(vlan_proto) },
        [V_TRUST] = { "trust", parse_tristate, json_tristate, V(trust) },
        [V_SPOOF_CHECK] = { "spoof-check", parse_tristate, json_tristate, V(spoof_check) },
        [V_LINK_STATE] = { "link-state", parse_link_state, json_link_state, V(link_state) },
        [V_MIN_TX_RATE] = { "min-tx-rate", parse_int64, json_int64_or_null, V(min_tx_rate), 0, UINT32_MAX },
        [V_MAX_TX_RATE] = { "max-tx-rate", parse_int64, json_int64_or_null, V(max_tx_rate), 0, UINT32_MAX },
        [V_DRIVER] = { "driver", parse_driver, json_string_or_null, V(driver) },
};
#undef V

static int key_lookup(const struct key_info *keys, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(keys[i].name, name))
                        return (int) i;
        return -EINVAL;
}

/* ---- the parser ---- */

enum section_kind {
        SECTION_NONE,                   /* before the first header */
        SECTION_IGNORED,                /* an unknown section: reported once, keys skipped */
        SECTION_DAEMON,
        SECTION_PF,
};

struct parser {
        struct sriov_config *c;
        struct message {
                unsigned file, line;    /* sort key: files in reading order, then lines */
                size_t seq;
                char *text;
        } *msgs;
        size_t n_errors;
        unsigned n_suppressed;
        int io_error;                   /* first -errno of a file that could not be read */
        bool oom;

        /* the file being read */
        const char *path;
        unsigned file;
        FILE *f;
        char *buf;
        size_t bufsz;
        unsigned line;

        /* the section being read */
        enum section_kind kind;
        char *section;                  /* as written between the brackets */
        struct sriov_daemon_config *daemon;     /* c->daemon, or scratch after a duplicate */
        struct origin *daemon_origin;
        unsigned daemon_line;           /* line of [daemon] in this file, 0: none yet */
        struct pf_entry *pf;            /* an entry of c, or scratch */
        struct sriov_daemon_config scratch_daemon;
        struct origin scratch_daemon_origin[_D_MAX];
        struct pf_entry *scratch_pf;
        unsigned *pf_lines;             /* per entry of c: its header line in this file, 0: none */
};

/* User text in messages: printable ASCII as is, everything else as \xNN, at most 64
 * bytes of it; messages end up in JSON replies and the journal, which want UTF-8. */
static void escape(const char *s, size_t n, char *buf, size_t bufsz) {
        size_t o = 0;

        for (size_t i = 0; i < n && i < 64 && o + 5 < bufsz; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch >= 0x20 && ch < 0x7f && ch != '\\')
                        buf[o++] = (char) ch;
                else
                        o += (size_t) snprintf(buf + o, bufsz - o, "\\x%02x", ch);
        }
        if (n > 64 && o + 4 < bufsz) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
}

static void append_message(struct parser *p, unsigned file, unsigned line, char *m) {
        struct message *l;

        if (!m) {
                p->oom = true;
                return;
        }
        l = realloc(p->msgs, (p->n_errors + 1) * sizeof(*l));
        if (!l) {
                free(m);
                p->oom = true;
                return;
        }
        p->msgs = l;
        l[p->n_errors] = (struct message) { file, line, p->n_errors, m };
        p->n_errors++;
}

static void add_message(struct parser *p, unsigned file, unsigned line, char *m) {
        if (m && p->n_errors >= SRIOV_CONFIG_ERRORS_MAX) {
                p->n_suppressed++;
                free(m);
                return;
        }
        append_message(p, file, line, m);
}

static int message_compare(const void *a, const void *b) {
        const struct message *x = a, *y = b;

        if (x->file != y->file)
                return x->file < y->file ? -1 : 1;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The messages as a NULL-terminated list, in file and line order. */
static char **messages_steal(struct parser *p) {
        char **l = calloc(p->n_errors + 1, sizeof(char *));

        if (!l)
                return NULL;
        if (p->n_errors > 0)
                qsort(p->msgs, p->n_errors, sizeof(*p->msgs), message_compare);
        for (size_t i = 0; i < p->n_errors; i++)
                l[i] = TAKE_PTR(p->msgs[i].text);
        return l;
}

/* "FILE:LINE: key 'KEY' in [SECTION]: WHAT", leaving out what is not known. */
static void report_full(struct parser *p, unsigned file_index, const char *file, unsigned line, const char *section,
                        const char *key, size_t keylen, const char *fmt, va_list ap) _printf_(8, 0);
static void report_full(struct parser *p, unsigned file_index, const char *file, unsigned line, const char *section,
                        const char *key, size_t keylen, const char *fmt, va_list ap) {
        char k[300] = "", s[300] = "", what[1024];
        char *m;

        vsnprintf(what, sizeof(what), fmt, ap);
        if (key)
                escape(key, keylen, k, sizeof(k));
        if (section)
                escape(section, strlen(section), s, sizeof(s));

        if (key && section)
                m = asprintf(&m, "%s:%u: key '%s' in [%s]: %s", file, line, k, s, what) < 0 ? NULL : m;
        else if (key)
                m = asprintf(&m, "%s:%u: key '%s' outside of any section: %s", file, line, k, what) < 0 ? NULL : m;
        else if (section)
                m = asprintf(&m, "%s:%u: in [%s]: %s", file, line, s, what) < 0 ? NULL : m;
        else if (line > 0)
                m = asprintf(&m, "%s:%u: %s", file, line, what) < 0 ? NULL : m;
        else
                m = asprintf(&m, "%s: %s", file, what) < 0 ? NULL : m;
        add_message(p, file_index, line, m);
}

static void report_key(struct parser *p, const char *key, size_t keylen, const char *fmt, ...) _printf_(4, 5);
static void report_key(struct parser *p, const char *key, size_t keylen, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        report_full(p, p->file, p->path, p->line, p->section, key, keylen, fmt, ap);
        va_end(ap);
}

static void report_line(struct parser *p, const char *fmt, ...) _printf_(2, 3);
static void report_line(struct parser *p, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        report_full(p, p->file, p->path, p->line, p->section, NULL, 0, fmt, ap);
        va_end(ap);
}

static void report_file(struct parser *p, const char *path, const char *fmt, ...) _printf_(3, 4);
static void report_file(struct parser *p, const char *path, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        /* A file that is not read gets no index: sort it before the next one read. */
        report_full(p, (unsigned) p->c->n_files, path, 0, NULL, NULL, 0, fmt, ap);
        va_end(ap);
}

static void report_section(struct parser *p, const char *section, const char *fmt, ...) _printf_(3, 4);
static void report_section(struct parser *p, const char *section, const char *fmt, ...) {
        char s[300], what[1024];
        va_list ap;
        char *m;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        escape(section, strlen(section), s, sizeof(s));
        add_message(p, p->file, p->line, asprintf(&m, "%s:%u: section [%s]: %s", p->path, p->line, s, what) < 0 ? NULL : m);
}

/* A file or folder that cannot be read: reported, and its errno is what the load returns. */
static void io_failure(struct parser *p, const char *path, const char *what, int r) {
        report_file(p, path, "%s: %s", what, strerror(-r));
        if (p->io_error == 0)
                p->io_error = r;
}

/* -- sections -- */

static bool valid_ifname(const char *s) {
        size_t n = strlen(s);

        /* The kernel's dev_valid_name(), less what a quoted section name cannot hold. */
        if (n == 0 || n > IFNAME_MAX || streq(s, ".") || streq(s, ".."))
                return false;
        for (; *s; s++)
                if (*s == '/' || *s == ':' || *s == '"' || *s == ']' || isspace((unsigned char) *s))
                        return false;
        return true;
}

static int parse_match(const char *s, struct sriov_pf_config *ret) {
        char buf[SRIOV_ADDR_STRLEN];

        if (strchr(s, ':')) {
                if (strlen(s) == 9 && s[4] == ':') {
                        int v[8];
                        bool ok = true;
                        for (size_t i = 0, j = 0; i < 9; i++)
                                if (i != 4 && (v[j++] = hexval(s[i])) < 0)
                                        ok = false;
                        if (ok) {
                                ret->match_kind = SRIOV_PF_MATCH_ID;
                                ret->vendor_id = (uint16_t) (v[0] << 12 | v[1] << 8 | v[2] << 4 | v[3]);
                                ret->device_id = (uint16_t) (v[4] << 12 | v[5] << 8 | v[6] << 4 | v[7]);
                                snprintf(buf, sizeof(buf), "%04x:%04x", ret->vendor_id, ret->device_id);
                                return (ret->match = strdup(buf)) ? 0 : -ENOMEM;
                        }
                }
                if (sriov_addr_parse(s, &ret->addr) < 0)
                        return -EINVAL;
                ret->match_kind = SRIOV_PF_MATCH_ADDRESS;
                return (ret->match = strdup(sriov_addr_format(&ret->addr, buf))) ? 0 : -ENOMEM;
        }
        if (!valid_ifname(s))
                return -EINVAL;
        ret->match_kind = SRIOV_PF_MATCH_IFNAME;
        return (ret->match = strdup(s)) ? 0 : -ENOMEM;
}

static bool same_match(const struct sriov_pf_config *a, const struct sriov_pf_config *b) {
        return a->match_kind == b->match_kind && streq(a->match, b->match);
}

static int use_scratch_pf(struct parser *p) {
        pf_entry_free(p->scratch_pf);
        p->scratch_pf = pf_entry_new();
        if (!p->scratch_pf)
                return -ENOMEM;
        p->kind = SECTION_PF;
        p->pf = p->scratch_pf;
        return 0;
}

static int origin_add(struct origin **list, size_t *n, unsigned file, unsigned line) {
        struct origin *l = realloc(*list, (*n + 1) * sizeof(**list));

        if (!l)
                return -ENOMEM;
        l[(*n)++] = (struct origin) { file, line };
        *list = l;
        return 0;
}

static int section_pf(struct parser *p, const char *section) {
        _cleanup_(pf_entry_freep) struct pf_entry *e = NULL;
        size_t n = strlen(section);
        _cleanup_free_ char *match = NULL;
        unsigned *lines;
        int r;

        /* Exactly: pf, one space, a double-quoted match without quotes inside. */
        if (n < 5 || !strneq(section, "pf \"", 4) || section[n - 1] != '"' ||
            memchr(section + 4, '"', n - 5)) {
                report_section(p, section,
                               "PF sections are written [pf \"ADDRESS\"], [pf \"VENDOR:DEVICE\"] or [pf \"IFNAME\"]");
                return use_scratch_pf(p);
        }
        match = strndup(section + 4, n - 5);
        e = pf_entry_new();
        if (!match || !e)
                return -ENOMEM;
        r = parse_match(match, &e->pub);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                char m[300];
                escape(match, strlen(match), m, sizeof(m));
                report_section(p, section,
                               "'%s' is neither a PCI address (DDDD:BB:SS.F), a vendor:device id (VVVV:DDDD) "
                               "nor an interface name (1 to %u bytes, no '/', ':', '\"' or whitespace)", m, IFNAME_MAX);
                return use_scratch_pf(p);
        }

        for (size_t i = 0; i < p->c->n_pfs; i++) {
                if (!same_match(&p->c->pfs[i]->pub, &e->pub))
                        continue;
                if (p->pf_lines[i] > 0) {
                        report_section(p, section, "duplicate section: this file has [pf \"%s\"] at line %u already",
                                       p->c->pfs[i]->pub.match, p->pf_lines[i]);
                        return use_scratch_pf(p);
                }
                p->pf_lines[i] = p->line;
                p->kind = SECTION_PF;
                p->pf = p->c->pfs[i];
                return origin_add(&p->pf->headers, &p->pf->n_headers, p->file, p->line);
        }

        struct pf_entry **l = realloc(p->c->pfs, (p->c->n_pfs + 1) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        p->c->pfs = l;
        lines = realloc(p->pf_lines, (p->c->n_pfs + 1) * sizeof(*lines));
        if (!lines)
                return -ENOMEM;
        p->pf_lines = lines;
        r = origin_add(&e->headers, &e->n_headers, p->file, p->line);
        if (r < 0)
                return r;
        p->pf_lines[p->c->n_pfs] = p->line;
        p->c->pfs[p->c->n_pfs++] = e;
        p->kind = SECTION_PF;
        p->pf = TAKE_PTR(e);
        return 0;
}

static int section_header(struct parser *p, const char *section) {
        free(p->section);
        p->section = strdup(section);
        if (!p->section)
                return -ENOMEM;
        p->pf = NULL;

        if (streq(section, "daemon")) {
                p->kind = SECTION_DAEMON;
                if (p->daemon_line > 0) {
                        report_section(p, section, "duplicate section: this file has [daemon] at line %u already",
                                       p->daemon_line);
                        daemon_config_done(&p->scratch_daemon);
                        memset(p->scratch_daemon_origin, 0, sizeof(p->scratch_daemon_origin));
                        p->daemon = &p->scratch_daemon;
                        p->daemon_origin = p->scratch_daemon_origin;
                        return 0;
                }
                p->daemon_line = p->line;
                p->daemon = &p->c->daemon;
                p->daemon_origin = p->c->daemon_origin;
                return 0;
        }
        if (strneq(section, "pf", 2) && !isalnum((unsigned char) section[2]) && section[2] != '-' && section[2] != '_')
                return section_pf(p, section);

        report_section(p, section, "unknown section (known: [daemon], [pf \"MATCH\"])");
        p->kind = SECTION_IGNORED;
        return 0;
}

/* -- keys -- */

/* 1: set; 0: refused and reported; -ENOMEM. */
static int set_key(struct parser *p, const struct key_info *keys, size_t n_keys, void *base,
                   struct origin *origins, const char *key, const char *shown_key, const char *value) {
        char why[512];
        int i, r;

        i = key_lookup(keys, n_keys, key);
        if (i < 0) {
                report_key(p, shown_key, strlen(shown_key), "unknown key");
                return 0;
        }
        if (origins[i].line > 0 && origins[i].file == p->file) {
                report_key(p, shown_key, strlen(shown_key), "set twice: line %u sets it already", origins[i].line);
                return 0;
        }
        if (value[0] == '\0') {
                report_key(p, shown_key, strlen(shown_key), "empty value");
                return 0;
        }
        r = keys[i].parse(&keys[i], value, (char *) base + keys[i].offset, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* why quotes the value: the reader has made sure it is UTF-8 without
                 * control characters. */
                report_key(p, shown_key, strlen(shown_key), "%s", why);
                return 0;
        }
        origins[i] = (struct origin) { p->file, p->line };
        return 1;
}

static int vf_find(const struct sriov_pf_config *pf, unsigned index, size_t *ret_pos) {
        size_t lo = 0, hi = pf->n_vfs;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pf->vfs[mid].index == index) {
                        *ret_pos = mid;
                        return 1;
                }
                if (pf->vfs[mid].index < index)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_pos = lo;
        return 0;
}

static int set_vf_key(struct parser *p, const char *name, const char *value) {
        struct pf_entry *e = p->pf;
        const char *dot;
        unsigned long long index;
        size_t pos;
        int r;

        dot = strchr(name + 3, '.');
        if (!dot) {
                report_key(p, name, strlen(name), "unknown key (per-VF keys are written vf.N.KEY)");
                return 0;
        }
        {
                _cleanup_free_ char *n = strndup(name + 3, (size_t) (dot - name - 3));
                if (!n)
                        return -ENOMEM;
                if (parse_decimal(n, SRIOV_CONFIG_VF_INDEX_MAX, &index) < 0) {
                        char m[300];
                        escape(n, strlen(n), m, sizeof(m));
                        report_key(p, name, strlen(name), "'%s' is not a VF index (0 to %u)", m,
                                   SRIOV_CONFIG_VF_INDEX_MAX);
                        return 0;
                }
        }
        if (key_lookup(vf_keys, _V_MAX, dot + 1) < 0) {
                report_key(p, name, strlen(name), "unknown key");
                return 0;
        }

        if (vf_find(&e->pub, (unsigned) index, &pos))
                return set_key(p, vf_keys, _V_MAX, &e->pub.vfs[pos], e->vf_origins[pos].o, dot + 1, name, value);

        /* A new VF entry: fill a copy and insert it only when the value is good. */
        struct sriov_vf_config vf = vf_unset;
        struct vf_origins o = {};

        vf.index = (unsigned) index;
        r = set_key(p, vf_keys, _V_MAX, &vf, o.o, dot + 1, name, value);
        if (r <= 0) {
                free(vf.driver);
                return r;
        }
        struct sriov_vf_config *vfs = realloc(e->pub.vfs, (e->pub.n_vfs + 1) * sizeof(*vfs));
        if (!vfs) {
                free(vf.driver);
                return -ENOMEM;
        }
        e->pub.vfs = vfs;
        struct vf_origins *vo = realloc(e->vf_origins, (e->pub.n_vfs + 1) * sizeof(*vo));
        if (!vo) {
                free(vf.driver);
                return -ENOMEM;
        }
        e->vf_origins = vo;
        memmove(vfs + pos + 1, vfs + pos, (e->pub.n_vfs - pos) * sizeof(*vfs));
        memmove(vo + pos + 1, vo + pos, (e->pub.n_vfs - pos) * sizeof(*vo));
        vfs[pos] = vf;
        vo[pos] = o;
        e->pub.n_vfs++;
        return 1;
}

/* inih's handler. The reader below has checked the line; inih split it at '=', trimmed
 * both sides and cut an inline comment. Errors are collected, so it always returns 1. */
static int on_key(void *userdata, const char *section, const char *name, const char *value) {
        struct parser *p = userdata;
        int r = 0;

        switch (p->kind) {
        case SECTION_NONE:
                report_key(p, name, strlen(name), "keys belong in a [daemon] or [pf \"MATCH\"] section");
                break;
        case SECTION_IGNORED:
                break;
        case SECTION_DAEMON:
                r = set_key(p, daemon_keys, _D_MAX, p->daemon, p->daemon_origin, name, name, value);
                break;
        case SECTION_PF:
                if (strneq(name, "vf.", 3))
                        r = set_vf_key(p, name, value);
                else
                        r = set_key(p, pf_keys, _P_MAX, &p->pf->pub, p->pf->origin, name, name, value);
                break;
        }
        if (r == -ENOMEM)
                p->oom = true;
        return 1;
}

/* -- lines -- */

static bool valid_utf8(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        len = 2, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        len = 3, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (i + len > n)
                        return false;
                for (size_t j = 1; j < len; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3f);
                }
                if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

#define KEY_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* The key of a "KEY = VALUE" line for a message about the whole line, when it has a
 * plausible one. */
static const char *line_key(const char *s, size_t *ret_len) {
        size_t n;

        s += strspn(s, " \t");
        n = strspn(s, KEY_CHARS);
        if (n == 0 || n > 64 || s[n + strspn(s + n, " \t")] != '=')
                return NULL;
        *ret_len = n;
        return s;
}

static void report_whole_line(struct parser *p, const char *s, const char *fmt, ...) _printf_(3, 4);
static void report_whole_line(struct parser *p, const char *s, const char *fmt, ...) {
        const char *key;
        size_t keylen = 0;
        va_list ap;

        key = p->kind == SECTION_IGNORED ? NULL : line_key(s, &keylen);
        va_start(ap, fmt);
        report_full(p, p->file, p->path, p->line, p->section, key, keylen, fmt, ap);
        va_end(ap);
}

/* After a header that cannot be read, its keys belong to no known section: they are
 * skipped, not added to the section before it. */
static void ignore_section(struct parser *p, const char *name, size_t len) {
        free(p->section);
        p->section = strndup(name, len);
        if (!p->section)
                p->oom = true;
        p->kind = SECTION_IGNORED;
        p->pf = NULL;
}

/* Checks one physical line. Returns true when it is to be given to inih (a key line or a
 * comment), false when it was handled here (a section header) or refused (reported). */
static bool check_line(struct parser *p, char *s, size_t len, int num) {
        size_t limit = SRIOV_CONFIG_LINE_MAX;
        char *t, *end;

        if (num >= 2 && (size_t) num - 2 < limit)
                limit = (size_t) num - 2;
        if (len > limit) {
                report_whole_line(p, s, "line too long (%zu bytes, at most %zu)", len, limit);
                return false;
        }
        if (memchr(s, '\0', len)) {
                report_whole_line(p, s, "line contains a NUL byte");
                return false;
        }
        for (size_t i = 0; i < len; i++)
                if (((unsigned char) s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
                        report_whole_line(p, s, "line contains the control character \\x%02x",
                                          (unsigned char) s[i]);
                        return false;
                }
        if (!valid_utf8((const unsigned char *) s, len)) {
                report_whole_line(p, s, "line is not valid UTF-8");
                return false;
        }

        t = s + strspn(s, " \t");
        if (*t == '\0' || *t == '#' || *t == ';')
                return true;

        if (*t == '[') {
                end = strchr(t, ']');
                if (!end) {
                        report_line(p, "section header without ']'");
                        ignore_section(p, t + 1, strlen(t + 1));
                        return false;
                }
                char *rest = end + 1 + strspn(end + 1, " \t");
                if (*rest != '\0' && *rest != '#' && *rest != ';') {
                        char m[300];
                        escape(rest, strlen(rest), m, sizeof(m));
                        report_line(p, "text after the section header: '%s'", m);
                        ignore_section(p, t + 1, (size_t) (end - t - 1));
                        return false;
                }
                *end = '\0';
                if (section_header(p, t + 1) < 0)
                        p->oom = true;
                return false;
        }

        /* KEY = VALUE. inih would also split at ':' and stop at " ;" before the '=';
         * the key must be plain, so neither can happen. */
        end = strchr(t, '=');
        if (!end) {
                char m[300];
                escape(t, strlen(t), m, sizeof(m));
                report_line(p, "expected KEY = VALUE or a [section] header, not '%s'", m);
                return false;
        }
        size_t keylen = (size_t) (end - t);
        while (keylen > 0 && (t[keylen - 1] == ' ' || t[keylen - 1] == '\t'))
                keylen--;
        if (keylen == 0) {
                report_line(p, "no key before '='");
                return false;
        }
        if (strspn(t, KEY_CHARS) < keylen || keylen > 48) {
                if (p->kind != SECTION_IGNORED)
                        report_key(p, t, keylen, "unknown key");
                return false;
        }
        return true;
}

static char *read_line(char *str, int num, void *userdata) {
        struct parser *p = userdata;
        ssize_t n;
        size_t len;
        char *s;

        if (num < 2)
                return NULL;
        errno = 0;
        n = getline(&p->buf, &p->bufsz, p->f);
        if (n < 0) {
                if (errno == ENOMEM)
                        p->oom = true;
                else if (ferror(p->f)) {
                        char what[64];
                        int r = negative_errno();
                        snprintf(what, sizeof(what), "read error after line %u", p->line);
                        io_failure(p, p->path, what, r);
                }
                return NULL;
        }
        p->line++;
        s = p->buf;
        len = (size_t) n;
        if (len > 0 && s[len - 1] == '\n')
                s[--len] = '\0';
        if (len > 0 && s[len - 1] == '\r')      /* CRLF */
                s[--len] = '\0';
        if (p->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                s += 3;
                len -= 3;
        }

        if (!check_line(p, s, len, num)) {
                strcpy(str, "\n");
                return str;
        }
        /* Without leading blanks: inih would take an indented line for a continuation. */
        size_t skip = strspn(s, " \t");
        memcpy(str, s + skip, len - skip);
        str[len - skip] = '\n';
        str[len - skip + 1] = '\0';
        return str;
}

static void parse_file(struct parser *p, const char *path, FILE *f) {
        char **l;
        int r;

        l = realloc(p->c->files, (p->c->n_files + 2) * sizeof(char *));
        if (!l) {
                p->oom = true;
                return;
        }
        p->c->files = l;
        l[p->c->n_files] = strdup(path);
        if (!l[p->c->n_files]) {
                p->oom = true;
                return;
        }
        l[++p->c->n_files] = NULL;

        p->path = p->c->files[p->c->n_files - 1];
        p->file = (unsigned) p->c->n_files - 1;
        p->f = f;
        p->line = 0;
        p->kind = SECTION_NONE;
        free(p->section);
        p->section = NULL;
        p->pf = NULL;
        p->daemon_line = 0;
        if (p->c->n_pfs > 0)
                memset(p->pf_lines, 0, p->c->n_pfs * sizeof(*p->pf_lines));

        r = ini_parse_stream(read_line, p, on_key, p);
        if (r == -2)
                p->oom = true;
        else if (r > 0) {       /* not expected: the reader passes only lines inih accepts */
                p->line = (unsigned) r;
                report_line(p, "cannot parse this line");
        }
        sriov_debug("config: read %s (%u lines)", path, p->line);
}

/* ---- checks across keys, after all files ---- */

static bool origin_after(struct origin a, struct origin b) {
        return a.file > b.file || (a.file == b.file && a.line > b.line);
}

static void report_at(struct parser *p, struct origin o, const struct pf_entry *e, const char *key,
                      const char *fmt, ...) _printf_(5, 6);
static void report_at(struct parser *p, struct origin o, const struct pf_entry *e, const char *key,
                      const char *fmt, ...) {
        _cleanup_free_ char *section = NULL;
        va_list ap;

        if (asprintf(&section, "pf \"%s\"", e->pub.match) < 0) {
                p->oom = true;
                return;
        }
        va_start(ap, fmt);
        report_full(p, o.file, p->c->files[o.file], o.line, section, key, strlen(key), fmt, ap);
        va_end(ap);
}

static void check_vf(struct parser *p, const struct pf_entry *e, size_t i) {
        const struct sriov_vf_config *vf = &e->pub.vfs[i];
        const struct origin *o = e->vf_origins[i].o;
        char key[64];

        if (vf->qos >= 0 && vf->vlan < 0) {
                snprintf(key, sizeof(key), "vf.%u.qos", vf->index);
                report_at(p, o[V_QOS], e, key, "needs vf.%u.vlan: the priority is part of the VLAN tag", vf->index);
        }
        if (vf->vlan_proto != 0 && vf->vlan < 0) {
                snprintf(key, sizeof(key), "vf.%u.vlan-proto", vf->index);
                report_at(p, o[V_VLAN_PROTO], e, key, "needs vf.%u.vlan", vf->index);
        }
        if (vf->min_tx_rate >= 0 && vf->max_tx_rate > 0 && vf->min_tx_rate > vf->max_tx_rate) {
                bool min_later = origin_after(o[V_MIN_TX_RATE], o[V_MAX_TX_RATE]);
                struct origin other = min_later ? o[V_MAX_TX_RATE] : o[V_MIN_TX_RATE];

                snprintf(key, sizeof(key), "vf.%u.%s", vf->index, min_later ? "min-tx-rate" : "max-tx-rate");
                report_at(p, min_later ? o[V_MIN_TX_RATE] : o[V_MAX_TX_RATE], e, key,
                          "min-tx-rate %" PRIi64 " is above max-tx-rate %" PRIi64 " (the other is set at %s:%u)",
                          vf->min_tx_rate, vf->max_tx_rate, p->c->files[other.file], other.line);
        }
        if (e->pub.num_vfs >= 0 && vf->index >= (unsigned) e->pub.num_vfs) {
                /* Blame the first key that names the VF. */
                size_t first = _V_MAX;
                for (size_t k = 0; k < _V_MAX; k++)
                        if (o[k].line > 0 && (first == _V_MAX || origin_after(o[first], o[k])))
                                first = k;
                if (first == _V_MAX)
                        return;
                snprintf(key, sizeof(key), "vf.%u.%s", vf->index, vf_keys[first].name);
                report_at(p, o[first], e, key, "VF %u does not exist with num-vfs = %d (%s:%u)", vf->index,
                          e->pub.num_vfs, p->c->files[e->origin[P_NUM_VFS].file], e->origin[P_NUM_VFS].line);
        }
}

static int pf_entry_compare(const void *a, const void *b) {
        const struct sriov_pf_config *x = &(*(struct pf_entry *const *) a)->pub;
        const struct sriov_pf_config *y = &(*(struct pf_entry *const *) b)->pub;

        if (x->match_kind != y->match_kind)
                return x->match_kind < y->match_kind ? -1 : 1;
        if (x->match_kind == SRIOV_PF_MATCH_ADDRESS)
                return sriov_addr_compare(&x->addr, &y->addr);
        return strcmp(x->match, y->match);
}

/* ---- files ---- */

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void load_main(struct parser *p, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT) {
                        sriov_debug("config: %s does not exist", path);
                        return;
                }
                if (errno == ENOMEM) {
                        p->oom = true;
                        return;
                }
                io_failure(p, path, "cannot open", negative_errno());
                return;
        }
        if (fstat(fileno(f), &st) < 0) {
                io_failure(p, path, "cannot read", negative_errno());
                return;
        }
        if (S_ISDIR(st.st_mode)) {
                io_failure(p, path, "cannot read", -EISDIR);
                return;
        }
        parse_file(p, path, f);
}

static void load_dropins(struct parser *p, const char *dir) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        int fd;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT) {
                        sriov_debug("config: %s does not exist", dir);
                        return;
                }
                io_failure(p, dir, "cannot open the drop-in folder", negative_errno());
                return;
        }
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                p->oom = true;
                return;
        }

        while ((errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;
                char **l;

                if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf")) {
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                sriov_debug("config: ignoring %s/%s: not named *.conf", dir, de->d_name);
                        continue;
                }
                /* Follows symbolic links: a link to a regular file is one. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
                        sriov_debug("config: ignoring %s/%s: not a regular file", dir, de->d_name);
                        continue;
                }
                l = realloc(names, (n + 2) * sizeof(char *));
                if (!l) {
                        p->oom = true;
                        return;
                }
                names = l;
                names[n] = strdup(de->d_name);
                names[n + 1] = NULL;
                if (!names[n]) {
                        p->oom = true;
                        return;
                }
                n++;
        }
        if (errno != 0) {
                io_failure(p, dir, "cannot read the drop-in folder", negative_errno());
                return;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_strings);

        for (size_t i = 0; i < n && !p->oom; i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                _cleanup_close_ int ffd = -EBADF;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
                        p->oom = true;
                        return;
                }
                ffd = openat(dirfd(d), names[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (ffd < 0) {
                        if (errno == ENOENT)    /* removed since the listing */
                                continue;
                        io_failure(p, path, "cannot open", negative_errno());
                        continue;
                }
                f = fdopen(ffd, "r");
                if (!f) {
                        p->oom = true;
                        return;
                }
                TAKE_FD(ffd);
                parse_file(p, path, f);
        }
}

static void parser_done(struct parser *p) {
        for (size_t i = 0; i < p->n_errors; i++)
                free(p->msgs[i].text);
        free(p->msgs);
        free(p->buf);
        free(p->section);
        free(p->pf_lines);
        daemon_config_done(&p->scratch_daemon);
        pf_entry_free(p->scratch_pf);
        sriov_config_free(p->c);
}

int sriov_config_load(const char *main_file, const char *dropin_dir, struct sriov_config **ret,
                      char ***ret_errors) {
        _cleanup_(parser_done) struct parser p = { .scratch_daemon = daemon_defaults };
        int r;

        p.c = config_new();
        if (!p.c)
                return -ENOMEM;

        if (main_file)
                load_main(&p, main_file);
        if (dropin_dir && !p.oom)
                load_dropins(&p, dropin_dir);

        for (size_t i = 0; i < p.c->n_pfs && !p.oom; i++)
                for (size_t j = 0; j < p.c->pfs[i]->pub.n_vfs; j++)
                        check_vf(&p, p.c->pfs[i], j);

        if (p.oom)
                return -ENOMEM;

        if (p.n_errors > 0 || p.io_error < 0) {
                if (p.n_suppressed > 0) {
                        char *m;
                        append_message(&p, UINT_MAX, UINT_MAX,
                                       asprintf(&m, "... and %u more problems not shown", p.n_suppressed) < 0 ? NULL : m);
                        if (p.oom)
                                return -ENOMEM;
                }
                r = p.io_error < 0 ? p.io_error : -EINVAL;
                if (ret_errors) {
                        char **l = messages_steal(&p);
                        if (!l)
                                return -ENOMEM;
                        *ret_errors = l;
                }
                return r;
        }

        if (p.c->n_pfs > 1)
                qsort(p.c->pfs, p.c->n_pfs, sizeof(*p.c->pfs), pf_entry_compare);
        for (size_t i = 0; i < p.c->n_pfs; i++) {
                struct pf_entry *e = p.c->pfs[i];
                e->pub.source_file = p.c->files[e->headers[0].file];
                e->pub.source_line = e->headers[0].line;
        }

        *ret = TAKE_PTR(p.c);
        if (ret_errors)
                *ret_errors = NULL;
        return 0;
}

/* ---- queries ---- */

const struct sriov_daemon_config *sriov_config_daemon(const struct sriov_config *c) {
        return c ? &c->daemon : &daemon_defaults;
}

char *const *sriov_config_files(const struct sriov_config *c) {
        static char *const none[] = { NULL };
        return c ? c->files : none;
}

size_t sriov_config_n_pfs(const struct sriov_config *c) {
        return c ? c->n_pfs : 0;
}

const struct sriov_pf_config *sriov_config_pf(const struct sriov_config *c, size_t i) {
        return c && i < c->n_pfs ? &c->pfs[i]->pub : NULL;
}

static const struct pf_entry *pf_entry_of(const struct sriov_config *c, const struct sriov_pf_config *pf) {
        for (size_t i = 0; c && i < c->n_pfs; i++)
                if (&c->pfs[i]->pub == pf)
                        return c->pfs[i];
        return NULL;
}

int sriov_config_origin(const struct sriov_config *c, const struct sriov_pf_config *pf, const char *key,
                        const char **ret_file, unsigned *ret_line) {
        const struct origin *o;
        int i;

        if (!key)
                return -EINVAL;
        if (!pf) {
                i = key_lookup(daemon_keys, _D_MAX, key);
                if (i < 0)
                        return i;
                if (!c)
                        return 0;
                o = &c->daemon_origin[i];
        } else {
                const struct pf_entry *e = pf_entry_of(c, pf);
                if (!e)
                        return -EINVAL;
                if (strneq(key, "vf.", 3)) {
                        const char *dot = strchr(key + 3, '.');
                        _cleanup_free_ char *n = dot ? strndup(key + 3, (size_t) (dot - key - 3)) : NULL;
                        unsigned long long index;
                        size_t pos;

                        if (!n || parse_decimal(n, SRIOV_CONFIG_VF_INDEX_MAX, &index) < 0)
                                return -EINVAL;
                        i = key_lookup(vf_keys, _V_MAX, dot + 1);
                        if (i < 0)
                                return i;
                        if (!vf_find(pf, (unsigned) index, &pos))
                                return 0;
                        o = &e->vf_origins[pos].o[i];
                } else {
                        i = key_lookup(pf_keys, _P_MAX, key);
                        if (i < 0)
                                return i;
                        o = &e->origin[i];
                }
        }
        if (o->line == 0)
                return 0;
        if (ret_file)
                *ret_file = c->files[o->file];
        if (ret_line)
                *ret_line = o->line;
        return 1;
}

const struct sriov_pf_config *sriov_config_match(const struct sriov_config *c, const struct sriov_device *d,
                                                 const char *ifname) {
        if (!c || !d || d->role == SRIOV_ROLE_VF)
                return NULL;
        /* pfs is sorted by match kind, most specific first: the first hit wins. */
        for (size_t i = 0; i < c->n_pfs; i++) {
                const struct sriov_pf_config *p = &c->pfs[i]->pub;
                switch (p->match_kind) {
                case SRIOV_PF_MATCH_ADDRESS:
                        if (sriov_addr_equal(&p->addr, &d->addr))
                                return p;
                        break;
                case SRIOV_PF_MATCH_IFNAME:
                        if (ifname && streq(p->match, ifname))
                                return p;
                        break;
                case SRIOV_PF_MATCH_ID:
                        if (p->vendor_id == d->vendor_id && p->device_id == d->device_id)
                                return p;
                        break;
                default:
                        break;
                }
        }
        return NULL;
}

const struct sriov_vf_config *sriov_pf_config_vf(const struct sriov_pf_config *p, unsigned index) {
        size_t pos;

        return p && vf_find(p, index, &pos) ? &p->vfs[pos] : NULL;
}

/* ---- JSON ---- */

static char *json_key(const char *name, char buf[static 64]) {
        size_t i;

        for (i = 0; name[i] && i < 63; i++)
                buf[i] = name[i] == '-' ? '_' : name[i];
        buf[i] = '\0';
        return buf;
}

static json_object *origin_to_json(const struct sriov_config *c, struct origin o) {
        _cleanup_free_ char *s = NULL;

        if (asprintf(&s, "%s:%u", c->files[o.file], o.line) < 0)
                return NULL;
        return json_object_new_string(s);
}

/* Adds every key of a table to o, and the set ones' FILE:LINE to an "origins" member. */
static int keys_to_json(const struct sriov_config *c, const struct key_info *keys, size_t n, const void *base,
                        const struct origin *origins, json_object *o) {
        _cleanup_json_ json_object *orig = json_object_new_object();
        char buf[64];

        if (!orig)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = keys[i].to_json(&keys[i], (const char *) base + keys[i].offset);
                if (json_object_object_add(o, json_key(keys[i].name, buf), v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
                if (origins[i].line > 0) {
                        json_object *s = origin_to_json(c, origins[i]);
                        if (!s || json_object_object_add(orig, buf, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                }
        }
        if (json_object_object_add(o, "origins", orig) < 0)
                return -ENOMEM;
        TAKE_PTR(orig);
        return 0;
}

static json_object *pf_to_json(const struct sriov_config *c, const struct pf_entry *e) {
        _cleanup_json_ json_object *o = json_object_new_object(), *vfs = json_object_new_array(),
                                   *sources = json_object_new_array();

        if (!o || !vfs || !sources)
                return NULL;
        json_object_object_add(o, "match", json_object_new_string(e->pub.match));
        json_object_object_add(o, "match_kind", json_object_new_string(sriov_pf_match_kind_to_string(e->pub.match_kind)));
        json_object_object_add(o, "source", origin_to_json(c, e->headers[0]));
        for (size_t i = 0; i < e->n_headers; i++)
                json_object_array_add(sources, origin_to_json(c, e->headers[i]));
        json_object_object_add(o, "sources", TAKE_PTR(sources));
        if (keys_to_json(c, pf_keys, _P_MAX, &e->pub, e->origin, o) < 0)
                return NULL;
        for (size_t i = 0; i < e->pub.n_vfs; i++) {
                _cleanup_json_ json_object *vf = json_object_new_object();
                if (!vf)
                        return NULL;
                json_object_object_add(vf, "index", json_object_new_int64(e->pub.vfs[i].index));
                if (keys_to_json(c, vf_keys, _V_MAX, &e->pub.vfs[i], e->vf_origins[i].o, vf) < 0 ||
                    json_object_array_add(vfs, vf) < 0)
                        return NULL;
                TAKE_PTR(vf);
        }
        json_object_object_add(o, "vfs", TAKE_PTR(vfs));
        return TAKE_PTR(o);
}

json_object *sriov_config_to_json(const struct sriov_config *c) {
        _cleanup_json_ json_object *o = json_object_new_object(), *files = json_object_new_array(),
                                   *daemon = json_object_new_object(), *pfs = json_object_new_array();
        _cleanup_(sriov_config_freep) struct sriov_config *empty = NULL;

        if (!o || !files || !daemon || !pfs)
                return NULL;
        if (!c) {
                c = empty = config_new();
                if (!c)
                        return NULL;
        }
        for (size_t i = 0; i < c->n_files; i++)
                json_object_array_add(files, json_object_new_string(c->files[i]));
        if (keys_to_json(c, daemon_keys, _D_MAX, &c->daemon, c->daemon_origin, daemon) < 0)
                return NULL;
        for (size_t i = 0; i < c->n_pfs; i++) {
                json_object *pf = pf_to_json(c, c->pfs[i]);
                if (!pf || json_object_array_add(pfs, pf) < 0) {
                        json_object_put(pf);
                        return NULL;
                }
        }
        json_object_object_add(o, "files", TAKE_PTR(files));
        json_object_object_add(o, "daemon", TAKE_PTR(daemon));
        json_object_object_add(o, "pfs", TAKE_PTR(pfs));
        return TAKE_PTR(o);
}
