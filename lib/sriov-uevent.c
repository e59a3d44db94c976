/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "sriov-uevent.h"

static const char *const kind_table[_SRIOV_ERROR_EVENT_KIND_MAX] = {
        [SRIOV_ERROR_EVENT_NONE] = "none",
        [SRIOV_ERROR_EVENT_BEGIN_RECOVERY] = "BEGIN_RECOVERY",
        [SRIOV_ERROR_EVENT_SUCCESSFUL_RECOVERY] = "SUCCESSFUL_RECOVERY",
        [SRIOV_ERROR_EVENT_FAILED_RECOVERY] = "FAILED_RECOVERY",
};

const char *sriov_error_event_kind_to_string(SriovErrorEventKind k) {
        if (k < 0 || k >= _SRIOV_ERROR_EVENT_KIND_MAX)
                return NULL;
        return kind_table[k];
}

SriovErrorEventKind sriov_error_event_kind_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = 0; i < _SRIOV_ERROR_EVENT_KIND_MAX; i++)
                if (streq(kind_table[i], s))
                        return i;
        return -EINVAL;
}

SriovErrorEventKind sriov_error_event_kind_from_value(const char *value, size_t len) {
        if (!value)
                return -EBADMSG;
        /* Only the kernel's values; "none" is this library's word, not the kernel's, so
         * ERROR_EVENT=none must not turn into "not an error event". Comparing len bytes
         * with memcmp and the exact length rejects "BEGIN_RECOVERY\0junk" and prefixes. */
        for (int i = SRIOV_ERROR_EVENT_BEGIN_RECOVERY; i < _SRIOV_ERROR_EVENT_KIND_MAX; i++) {
                size_t n = strlen(kind_table[i]);
                if (len == n && memcmp(value, kind_table[i], n) == 0)
                        return i;
        }
        return -EBADMSG;
}

/* NUL-terminated value, looked at no further than SRIOV_UEVENT_VALUE_MAX + 1 bytes. */
static size_t bounded_len(const char *v) {
        return strnlen(v, SRIOV_UEVENT_VALUE_MAX + 1);
}

static int parse_online(const char *v, size_t len, int *ret) {
        if (len == 1 && (v[0] == '0' || v[0] == '1')) {
                *ret = v[0] - '0';
                return 0;
        }
        return -EBADMSG;
}

/* Both values as (pointer, length); pointer NULL when the property is absent. */
static int parse_values(const char *ee, size_t ee_len, const char *online, size_t online_len,
                        struct sriov_error_event *ret) {
        SriovErrorEventKind kind;
        int on = -1;

        if (!ee) {
                *ret = (struct sriov_error_event) { .kind = SRIOV_ERROR_EVENT_NONE, .device_online = -1 };
                return 0;
        }
        if (ee_len > SRIOV_UEVENT_VALUE_MAX)
                return -EBADMSG;
        kind = sriov_error_event_kind_from_value(ee, ee_len);
        if (kind < 0)
                return kind;
        if (online) {
                int r = parse_online(online, online_len, &on);
                if (r < 0)
                        return r;
        }
        *ret = (struct sriov_error_event) { .kind = kind, .device_online = on };
        return 0;
}

int sriov_error_event_parse(sriov_uevent_get_t get, void *userdata, struct sriov_error_event *ret) {
        const char *ee, *online;

        if (!get || !ret)
                return -EINVAL;
        ee = get("ERROR_EVENT", userdata);
        online = get("DEVICE_ONLINE", userdata);
        return parse_values(ee, ee ? bounded_len(ee) : 0, online, online ? bounded_len(online) : 0, ret);
}

/* Matches record "KEY=..." of rec_len bytes against key; returns the value or NULL. */
static const char *match_key(const char *rec, size_t rec_len, const char *key, size_t *ret_len) {
        size_t k = strlen(key);

        if (rec_len <= k || memcmp(rec, key, k) != 0 || rec[k] != '=')
                return NULL;
        *ret_len = rec_len - k - 1;
        return rec + k + 1;
}

struct found {
        const char *ee, *online;
        size_t ee_len, online_len;
};

static int consider(struct found *f, const char *rec, size_t rec_len) {
        const char *v;
        size_t n;

        if ((v = match_key(rec, rec_len, "ERROR_EVENT", &n))) {
                if (f->ee)
                        return -EBADMSG;
                f->ee = v;
                f->ee_len = n;
        } else if ((v = match_key(rec, rec_len, "DEVICE_ONLINE", &n))) {
                if (f->online)
                        return -EBADMSG;
                f->online = v;
                f->online_len = n;
        }
        return 0;
}

int sriov_error_event_parse_strv(const char *const *strv, struct sriov_error_event *ret) {
        struct found f = {};
        int r;

        if (!strv || !ret)
                return -EINVAL;
        for (const char *const *s = strv; *s; s++) {
                /* Bound the scan: a record longer than any key plus the longest value we
                 * look at cannot be valid, and its exact length does not matter. */
                size_t n = strnlen(*s, sizeof("DEVICE_ONLINE=") + SRIOV_UEVENT_VALUE_MAX + 1);
                r = consider(&f, *s, n);
                if (r < 0)
                        return r;
        }
        return parse_values(f.ee, f.ee_len, f.online, f.online_len, ret);
}

int sriov_error_event_parse_buffer(const char *buf, size_t len, struct sriov_error_event *ret) {
        struct found f = {};
        size_t i = 0;
        int r;

        if ((!buf && len > 0) || !ret)
                return -EINVAL;
        while (i < len) {
                const char *rec = buf + i, *end = memchr(rec, '\0', len - i);
                /* The last record may lack its NUL; it still ends at len. */
                size_t n = end ? (size_t) (end - rec) : len - i;

                r = consider(&f, rec, n);
                if (r < 0)
                        return r;
                i += n + 1;
        }
        return parse_values(f.ee, f.ee_len, f.online, f.online_len, ret);
}
