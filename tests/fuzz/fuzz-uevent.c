/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error-recovery uevents (ERROR_EVENT=, DEVICE_ONLINE=): the raw NETLINK_KOBJECT_UEVENT
 * buffer (NUL-separated records, the last one possibly unterminated), the same records as
 * an envp, and one property lookup as libudev gives it, must agree with each other. */
#include "fuzz-util.h"
#include "sriov-uevent.h"

#define FUZZ_UEVENT_RECORDS_MAX 512

struct lookup {
        const char *const *strv;
};

/* What udev_device_get_property_value() does for the daemon: the first record of the key. */
static const char *lookup_first(const char *key, void *userdata) {
        const struct lookup *l = userdata;
        size_t k = strlen(key);

        for (const char *const *s = l->strv; *s; s++)
                if (strncmp(*s, key, k) == 0 && (*s)[k] == '=')
                        return *s + k + 1;
        return NULL;
}

static void check_event(int r, const struct sriov_error_event *e) {
        if (r < 0) {
                fuzz_assert(r == -EBADMSG);
                return;
        }
        fuzz_assert(e->kind >= 0 && e->kind < _SRIOV_ERROR_EVENT_KIND_MAX);
        fuzz_assert(e->device_online >= -1 && e->device_online <= 1);
        fuzz_assert(sriov_error_event_kind_to_string(e->kind));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *strv[FUZZ_UEVENT_RECORDS_MAX + 1];
        _cleanup_free_ char *copy = NULL;
        struct sriov_error_event from_buffer, from_strv, from_get;
        int r_buffer, r_strv, r_get;
        size_t n = 0;

        if (size > FUZZ_INPUT_MAX)
                return 0;

        r_buffer = sriov_error_event_parse_buffer((const char *) data, size, &from_buffer);
        check_event(r_buffer, &from_buffer);

        /* The same records as strings: a NUL-terminated copy so that the last one ends. */
        copy = fuzz_strndup(data, size);
        if (!copy)
                return 0;
        for (size_t i = 0; i < size && n < FUZZ_UEVENT_RECORDS_MAX; i += strlen(copy + i) + 1)
                strv[n++] = copy + i;
        strv[n] = NULL;
        if (n == FUZZ_UEVENT_RECORDS_MAX)
                return 0;       /* the buffer has more records than the envp: not comparable */

        r_strv = sriov_error_event_parse_strv(strv, &from_strv);
        check_event(r_strv, &from_strv);
        fuzz_assert(r_strv == r_buffer);
        if (r_strv >= 0)
                fuzz_assert(from_strv.kind == from_buffer.kind && from_strv.device_online == from_buffer.device_online);

        /* libudev keeps one value per key, so a duplicate key that the buffer parser
         * refuses may still be accepted here; a single lookup must never be laxer about
         * the value itself. */
        r_get = sriov_error_event_parse(lookup_first, &(struct lookup) { strv }, &from_get);
        check_event(r_get, &from_get);
        if (r_strv >= 0)
                fuzz_assert(r_get >= 0 && from_get.kind == from_strv.kind &&
                            from_get.device_online == from_strv.device_online);

        for (size_t i = 0; i < n; i++) {
                SriovErrorEventKind k = sriov_error_event_kind_from_value(strv[i], strlen(strv[i]));
                if (k >= 0)
                        fuzz_assert(streq(sriov_error_event_kind_to_string(k), strv[i]));
                k = sriov_error_event_kind_from_string(strv[i]);
                if (k >= 0)
                        fuzz_assert(streq(sriov_error_event_kind_to_string(k), strv[i]));
        }
        return 0;
}
