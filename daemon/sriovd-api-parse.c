/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-bind.h"
#include "sriovd-api-parse.h"

void sriovd_api_path_done(struct sriovd_api_path *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->seg[i]);
        p->n = 0;
}

int sriovd_api_path_parse(const char *raw, struct sriovd_api_path *ret) {
        _cleanup_(sriovd_api_path_done) struct sriovd_api_path p = {};
        const char *s = raw;

        if (!raw || raw[0] != '/' || strlen(raw) > SRIOVD_API_MAX_PATH)
                return -EINVAL;

        while (*s) {
                _cleanup_free_ char *piece = NULL, *decoded = NULL;
                const char *start, *end;
                size_t len, dlen = 0;

                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                start = s;
                end = strchr(start, '/');
                len = end ? (size_t) (end - start) : strlen(start);
                s = start + len;

                if (p.n >= SRIOVD_API_MAX_SEGMENTS)
                        return -E2BIG;
                piece = strndup(start, len);
                if (!piece)
                        return -ENOMEM;
                decoded = evhttp_uridecode(piece, 0, &dlen);
                if (!decoded || dlen != strlen(decoded) || dlen == 0 || streq(decoded, ".") || streq(decoded, ".."))
                        return -EINVAL;
                p.seg[p.n++] = TAKE_PTR(decoded);
        }
        *ret = p;
        p.n = 0;
        return 0;
}

int sriovd_api_query_bool(const char *query, const char *name, bool def, bool *ret) {
        struct evkeyvalq params = {};
        const char *v;
        int r = 0;

        *ret = def;
        if (!query)
                return 0;
        if (evhttp_parse_query_str(query, &params) < 0)
                return -EINVAL;
        v = evhttp_find_header(&params, name);
        if (v) {
                if (streq(v, "1") || streq(v, "true"))
                        *ret = true;
                else if (streq(v, "0") || streq(v, "false"))
                        *ret = false;
                else
                        r = -EINVAL;
        }
        evhttp_clear_headers(&params);
        return r;
}

static int parse_u64_param(const char *v, uint64_t max, uint64_t *ret) {
        unsigned long long x;
        char *end;

        if (!v || v[0] < '0' || v[0] > '9' || strlen(v) > 20)
                return -EINVAL;
        errno = 0;
        x = strtoull(v, &end, 10);
        if (errno != 0 || *end != '\0' || x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}

int sriovd_api_events_query_parse(const char *query, struct sriovd_events_query *ret, const char **ret_error) {
        /* The newest 1000 unless asked otherwise: a full history of 64k events as one
         * reply would hold the loop for a third of a second (bench/events.py). */
        struct sriovd_events_query q = { .limit = 1000 };
        struct evkeyvalq params = {};
        const char *bad = NULL;

        if (query) {
                if (evhttp_parse_query_str(query, &params) < 0) {
                        *ret_error = "Malformed query string";
                        return -EINVAL;
                }
                for (struct evkeyval *kv = params.tqh_first; kv && !bad; kv = kv->next.tqe_next) {
                        if (streq(kv->key, "device")) {
                                if (sriov_addr_parse(kv->value, &q.device) < 0)
                                        bad = "device must be a PCI address DDDD:BB:SS.F";
                                q.have_device = true;
                        } else if (streq(kv->key, "since")) {
                                if (parse_u64_param(kv->value, UINT64_MAX - 1, &q.since) < 0)
                                        bad = "since must be an event sequence number";
                        } else if (streq(kv->key, "limit")) {
                                /* 0 would mean "no limit" further down: not for clients. */
                                if (parse_u64_param(kv->value, 1000000, &q.limit) < 0 || q.limit == 0)
                                        bad = "limit must be a whole number from 1 to 1000000";
                        } else if (streq(kv->key, "follow")) {
                                if (streq(kv->value, "1") || streq(kv->value, "true"))
                                        q.follow = true;
                                else if (!streq(kv->value, "0") && !streq(kv->value, "false"))
                                        bad = "follow must be 0 or 1";
                        } else
                                bad = "unknown query parameter (allowed: device, since, limit, follow)";
                }
                evhttp_clear_headers(&params);
        }
        if (bad) {
                *ret_error = bad;
                return -EINVAL;
        }
        *ret = q;
        return 0;
}

int sriovd_api_operation_id_parse(const char *s, uint64_t *ret) {
        unsigned long long id;
        char *end;

        if (!s || s[0] < '1' || s[0] > '9' || strlen(s) > 19)
                return -EINVAL;
        errno = 0;
        id = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = id;
        return 0;
}

json_object *sriovd_api_json_body_parse(const char *data, size_t len, const char **ret_error) {
        json_tokener *tok;
        json_object *o;

        if (len == 0) {
                *ret_error = "a JSON body is required";
                return NULL;
        }
        if (len > SRIOVD_API_MAX_BODY) {
                *ret_error = "body too large";
                return NULL;
        }
        if (memchr(data, '\0', len)) {
                *ret_error = "the body contains a NUL byte";
                return NULL;
        }
        tok = json_tokener_new_ex(16);
        if (!tok) {
                *ret_error = "out of memory";
                return NULL;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
                /* Trailing whitespace is fine; anything else after the value is not. */
                size_t end = json_tokener_get_parse_end(tok);
                bool only_space = o && json_tokener_get_error(tok) == json_tokener_success;
                for (size_t i = end; only_space && i < len; i++)
                        if (data[i] != ' ' && data[i] != '\n' && data[i] != '\r' && data[i] != '\t')
                                only_space = false;
                if (!only_space) {
                        json_object_put(o);
                        o = NULL;
                        *ret_error = "the body is not valid JSON";
                }
        }
        json_tokener_free(tok);
        return o;
}

int sriovd_api_bind_body_parse(json_object *body, bool unbind, const char **ret_driver, bool *ret_force,
                               const char **ret_bad_key) {
        const char *driver = NULL;
        bool force = false;

        *ret_bad_key = NULL;
        if (body) {
                if (!json_object_is_type(body, json_type_object))
                        return -EINVAL;
                json_object_object_foreach(body, key, val) {
                        if (!unbind && streq(key, "driver") && json_object_is_type(val, json_type_string))
                                driver = json_object_get_string(val);
                        else if (!unbind && streq(key, "force") && json_object_is_type(val, json_type_boolean))
                                force = json_object_get_boolean(val);
                        else {
                                *ret_bad_key = key;
                                return -EINVAL;
                        }
                }
        }
        if (!unbind && !sriov_driver_name_valid(driver))
                return -EINVAL;
        *ret_driver = unbind ? NULL : driver;
        *ret_force = force;
        return 0;
}

int sriovd_api_policy_body_parse(json_object *body, SriovRecoveryPolicy *ret_policy, unsigned *ret_attempts,
                                 int *ret_park, const char **ret_bad_key) {
        SriovRecoveryPolicy policy = _SRIOV_RECOVERY_POLICY_INVALID;
        unsigned attempts = 0;
        int park = -1;

        *ret_bad_key = NULL;
        if (!body || !json_object_is_type(body, json_type_object))
                return -EINVAL;
        json_object_object_foreach(body, key, val) {
                if (streq(key, "recovery") && json_object_is_type(val, json_type_string) &&
                    (policy = sriov_recovery_policy_from_string(json_object_get_string(val))) >= 0)
                        continue;
                if (streq(key, "max_attempts") && json_object_is_type(val, json_type_int) &&
                    json_object_get_int64(val) >= 1 && json_object_get_int64(val) <= SRIOV_PF_RECOVERY_ATTEMPTS_MAX) {
                        attempts = (unsigned) json_object_get_int64(val);
                        continue;
                }
                if (streq(key, "park_idle_vfs") && json_object_is_type(val, json_type_boolean)) {
                        park = json_object_get_boolean(val);
                        continue;
                }
                *ret_bad_key = key;
                return -EINVAL;
        }
        *ret_policy = policy;
        *ret_attempts = attempts;
        *ret_park = park;
        return 0;
}

int sriovd_api_recover_body_parse(json_object *body) {
        if (body && (!json_object_is_type(body, json_type_object) || json_object_object_length(body) > 0))
                return -EINVAL;
        return 0;
}
