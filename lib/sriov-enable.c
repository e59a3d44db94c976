/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-enable.h"
#include "sriov-json.h"

static const char *const policy_names[_SRIOV_POLICY_MAX] = {
        [SRIOV_POLICY_BEST_EFFORT] = "best-effort",
        [SRIOV_POLICY_ALL_OR_NOTHING] = "all-or-nothing",
};

static const char *const outcome_names[_SRIOV_OUTCOME_MAX] = {
        [SRIOV_OUTCOME_COMPLETE] = "complete",
        [SRIOV_OUTCOME_PARTIAL] = "partial",
        [SRIOV_OUTCOME_FAILED] = "failed",
};

static const char *const vf_state_names[_SRIOV_VF_STATE_MAX] = {
        [SRIOV_VF_BOUND] = "bound",
        [SRIOV_VF_UNBOUND] = "unbound",
        [SRIOV_VF_MISSING] = "missing",
};

static const char *const settle_names[_SRIOV_SETTLE_MAX] = {
        [SRIOV_SETTLE_NONE] = "none",
        [SRIOV_SETTLE_KERNEL] = "kernel",
        [SRIOV_SETTLE_QUIET_WINDOW] = "quiet-window",
        [SRIOV_SETTLE_DEADLINE] = "deadline",
};

const char *sriov_settle_to_string(SriovSettle s) {
        return s >= 0 && s < _SRIOV_SETTLE_MAX ? settle_names[s] : NULL;
}

bool sriov_driver_bind_is_outcome(const char *driver) {
        static const char *const provisional[] = { "nvme" };

        if (!driver)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(provisional); i++)
                if (streq(driver, provisional[i]))
                        return false;
        return true;
}

const char *sriov_policy_to_string(SriovPolicy p) {
        return p >= 0 && p < _SRIOV_POLICY_MAX ? policy_names[p] : NULL;
}

SriovPolicy sriov_policy_from_string(const char *s) {
        for (SriovPolicy p = 0; s && p < _SRIOV_POLICY_MAX; p++)
                if (streq(s, policy_names[p]))
                        return p;
        return _SRIOV_POLICY_INVALID;
}

const char *sriov_outcome_to_string(SriovOutcome o) {
        return o >= 0 && o < _SRIOV_OUTCOME_MAX ? outcome_names[o] : NULL;
}

const char *sriov_vf_state_to_string(SriovVfState s) {
        return s >= 0 && s < _SRIOV_VF_STATE_MAX ? vf_state_names[s] : NULL;
}

/* json-c parses 1.0 as a double and "3" as a string; only a JSON integer is a count. */
static int get_uint(json_object *v, uint64_t max, uint64_t *ret) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        errno = 0;
        i = json_object_get_int64(v);
        if (errno != 0 || i < 0 || (uint64_t) i > max)
                return -ERANGE;
        /* json-c clamps values beyond int64 to INT64_MAX; treat that as out of range too. */
        if (i == INT64_MAX)
                return -ERANGE;
        *ret = (uint64_t) i;
        return 0;
}

int sriov_enable_request_from_json(json_object *body, struct sriov_enable_request *ret,
                                   const char **ret_error) {
        struct sriov_enable_request req = { .policy = SRIOV_POLICY_BEST_EFFORT, .wait = true, .drivers_autoprobe = -1 };
        bool have_num = false;
        uint64_t v;

        if (!body || !json_object_is_type(body, json_type_object)) {
                *ret_error = "the body must be a JSON object like {\"num_vfs\": 4}";
                return -EINVAL;
        }

        json_object_object_foreach(body, key, val) {
                if (streq(key, "num_vfs")) {
                        int r = get_uint(val, SRIOV_NUM_VFS_MAX, &v);
                        if (r < 0) {
                                *ret_error = r == -ERANGE ? "num_vfs must be between 0 and 65535"
                                                          : "num_vfs must be a whole number";
                                return -EINVAL;
                        }
                        req.num_vfs = (unsigned) v;
                        have_num = true;
                } else if (streq(key, "policy")) {
                        if (!json_object_is_type(val, json_type_string) ||
                            (req.policy = sriov_policy_from_string(json_object_get_string(val))) < 0) {
                                *ret_error = "policy must be \"best-effort\" or \"all-or-nothing\"";
                                return -EINVAL;
                        }
                } else if (streq(key, "timeout_ms")) {
                        if (get_uint(val, SRIOV_TIMEOUT_MS_MAX, &v) < 0 || v < SRIOV_TIMEOUT_MS_MIN) {
                                *ret_error = "timeout_ms must be a whole number from 100 to 3600000";
                                return -EINVAL;
                        }
                        req.timeout_ms = v;
                } else if (streq(key, "drivers_autoprobe")) {
                        if (!json_object_is_type(val, json_type_boolean)) {
                                *ret_error = "drivers_autoprobe must be true or false";
                                return -EINVAL;
                        }
                        req.drivers_autoprobe = json_object_get_boolean(val);
                } else if (streq(key, "wait")) {
                        if (!json_object_is_type(val, json_type_boolean)) {
                                *ret_error = "wait must be true or false";
                                return -EINVAL;
                        }
                        req.wait = json_object_get_boolean(val);
                } else {
                        *ret_error = "unknown member in the body (allowed: num_vfs, policy, timeout_ms, wait, drivers_autoprobe)";
                        return -EINVAL;
                }
        }
        if (!have_num) {
                *ret_error = "num_vfs is required";
                return -EINVAL;
        }
        *ret = req;
        return 0;
}

int sriov_enable_validate(const struct sriov_device *pf, const struct sriov_enable_request *req,
                          char *errbuf, size_t errlen) {
        if (!pf) {
                snprintf(errbuf, errlen, "no such PCI function");
                return -ENODEV;
        }
        if (pf->role == SRIOV_ROLE_VF) {
                snprintf(errbuf, errlen, "%s is a VF of %s; VFs are enabled on their PF",
                         SRIOV_ADDR_STR(&pf->addr), SRIOV_ADDR_STR(&pf->vf.pf));
                return -ENOTTY;
        }
        if (pf->role != SRIOV_ROLE_PF) {
                snprintf(errbuf, errlen, "%s is not an SR-IOV physical function (no sriov_totalvfs)",
                         SRIOV_ADDR_STR(&pf->addr));
                return -ENOTTY;
        }
        if (req->num_vfs > pf->pf.total_vfs) {
                snprintf(errbuf, errlen,
                         "%u VFs requested but %s supports at most %u (sriov_totalvfs); the kernel would refuse with ERANGE",
                         req->num_vfs, SRIOV_ADDR_STR(&pf->addr), pf->pf.total_vfs);
                return -ERANGE;
        }
        if (!pf->driver && req->num_vfs > 0) {
                snprintf(errbuf, errlen,
                         "%s has no driver bound; the kernel enables VFs through the PF driver "
                         "(it would refuse with ENOENT): bind the PF to its driver first",
                         SRIOV_ADDR_STR(&pf->addr));
                return -ENOENT;
        }
        return 0;
}

const char *sriov_numvfs_strerror(int error) {
        switch (error < 0 ? -error : error) {
        case 0:
                return "success";
        case EBUSY:
                return "VFs are already enabled; the kernel changes the count only from 0 "
                       "(someone else changed it meanwhile, or VFs are still in use)";
        case ERANGE:
                return "more VFs than the PF supports (sriov_totalvfs)";
        case ENOENT:
                return "the PF's driver cannot enable VFs: no driver bound, or a driver without SR-IOV "
                       "support (bind the PF to its full driver)";
        case ENOMEM:
                return "not enough MMIO space or bus numbers for the VFs: boot with pci=realloc or enable "
                       "SR-IOV in the BIOS";
        case ENOSPC:
                return "out of MSI-X vectors or other PF resources for that many VFs";
        case EIO:
                return "the device failed to enable SR-IOV (I/O error; check dmesg and AER status)";
        case EPERM:
        case EACCES:
                return "not permitted: changing sriov_numvfs needs root and a writable /sys";
        case EINVAL:
                return "the kernel refused the value";
        case ENODEV:
        case ENXIO:
                return "the PF is gone (removed or surprise-down)";
        case ETIMEDOUT:
                return "the write did not return before its deadline: it is hung in the kernel";
        default:
                return strerror(error < 0 ? -error : error);
        }
}

uint64_t sriov_settle_timeout_ms(unsigned num_vfs) {
        return 10000u + 1500u * (uint64_t) num_vfs;
}

void sriov_report_done(struct sriov_report *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_vfs; i++)
                free(r->vfs[i].driver);
        free(r->vfs);
        free(r->message);
        *r = (struct sriov_report) {};
}

static const struct sriov_vf_observed *find_observed(const struct sriov_report_input *in, unsigned index) {
        for (size_t i = 0; i < in->n_observed; i++)
                if (in->observed[i].index == index)
                        return &in->observed[i];
        return NULL;
}

/* Appends "VF 3, 4" for VFs of the given state. */
static void list_indices(char *buf, size_t len, const struct sriov_report *r, SriovVfState state) {
        size_t off = strlen(buf);
        bool first = true;

        for (size_t i = 0; i < r->n_vfs && off < len; i++) {
                if (r->vfs[i].state != state)
                        continue;
                int n = snprintf(buf + off, len - off, "%s%u", first ? "VF " : ", ", r->vfs[i].index);
                if (n < 0)
                        return;
                off += (size_t) n;
                first = false;
        }
}

static int build_message(struct sriov_report *r) {
        char buf[1024] = "";
        size_t missing = 0, unbound = 0;

        for (size_t i = 0; i < r->n_vfs; i++) {
                missing += r->vfs[i].state == SRIOV_VF_MISSING;
                unbound += r->vfs[i].state == SRIOV_VF_UNBOUND;
        }

        if (r->hung)
                snprintf(buf, sizeof(buf), "writing %u to %s has not returned after %" PRIu64
                         " ms: hung in the kernel; the PF stays locked until it returns",
                         r->failed_write_value, r->failed_file[0] ? r->failed_file : "sriov_numvfs", r->hung_ms);
        else if (r->write_error != 0 && r->failed_file[0])
                snprintf(buf, sizeof(buf), "writing %u to %s failed (%s): %s; sriov_numvfs not written",
                         r->failed_write_value, r->failed_file, strerrorname_np(r->write_error) ?: "error",
                         strerror(r->write_error));
        else if (r->write_error != 0)
                snprintf(buf, sizeof(buf), "the kernel refused %u VFs (%s): %s", r->failed_write_value,
                         strerrorname_np(r->write_error) ?: "error", sriov_numvfs_strerror(r->write_error));
        else if (r->requested == 0)
                snprintf(buf, sizeof(buf), r->enumerated == 0 ? "VFs disabled" : "%u VFs still present after disabling",
                         r->enumerated);
        else {
                snprintf(buf, sizeof(buf), "%u of %u VFs %s", r->usable, r->requested,
                         r->autoprobe ? "usable" : "enabled (drivers autoprobe off)");
                if (unbound > 0 && r->autoprobe) {
                        strncat(buf, ": ", sizeof(buf) - strlen(buf) - 1);
                        list_indices(buf, sizeof(buf), r, SRIOV_VF_UNBOUND);
                        strncat(buf, unbound == 1 ? " has no driver (probe failed)" : " have no driver (probe failed)",
                                sizeof(buf) - strlen(buf) - 1);
                }
                if (missing > 0) {
                        strncat(buf, unbound > 0 && r->autoprobe ? "; " : ": ", sizeof(buf) - strlen(buf) - 1);
                        list_indices(buf, sizeof(buf), r, SRIOV_VF_MISSING);
                        strncat(buf, " never appeared (the PF driver enabled fewer than asked)",
                                sizeof(buf) - strlen(buf) - 1);
                }
        }
        if (r->rolled_back) {
                size_t off = strlen(buf);
                if (r->rollback_error == 0)
                        snprintf(buf + off, sizeof(buf) - off, "; all-or-nothing: rolled back to %u VFs", r->final_num_vfs);
                else
                        snprintf(buf + off, sizeof(buf) - off, "; all-or-nothing rollback FAILED (%s), %u VFs remain",
                                 sriov_numvfs_strerror(r->rollback_error), r->final_num_vfs);
        }

        free(r->message);
        r->message = strdup(buf);
        return r->message ? 0 : -ENOMEM;
}

int sriov_report_build(const struct sriov_report_input *in, struct sriov_report *ret) {
        struct sriov_report r = {
                .pf = in->pf,
                .requested = in->requested,
                .previous = in->previous,
                .policy = in->policy,
                .autoprobe = in->autoprobe,
                .elapsed_ms = in->elapsed_ms,
                .write_error = in->write_error < 0 ? -in->write_error : in->write_error,
                .failed_write_value = in->failed_write_value,
                .hung = in->hung,
                .hung_ms = in->hung_ms,
                .settled_by = in->settled_by,
                .unsignalled_vfs = in->settled_by == SRIOV_SETTLE_KERNEL ? 0 : in->unsignalled_vfs,
                .quiet_window_ms = in->settled_by == SRIOV_SETTLE_QUIET_WINDOW ? in->quiet_window_ms : 0,
        };
        if (in->failed_file && !streq(in->failed_file, "sriov_numvfs"))
                snprintf(r.failed_file, sizeof(r.failed_file), "%s", in->failed_file);
        size_t extra = 0;
        int e;

        /* Expected VFs 0..requested-1, plus any others that exist (more than asked, or a
         * failed disable): those are reported too, never hidden. */
        for (size_t i = 0; i < in->n_observed; i++)
                if (in->observed[i].index >= in->requested)
                        extra++;
        r.n_vfs = in->requested + extra;
        if (r.n_vfs > 0) {
                r.vfs = calloc(r.n_vfs, sizeof(*r.vfs));
                if (!r.vfs)
                        return -ENOMEM;
        }

        size_t k = 0;
        for (unsigned idx = 0; idx < in->requested; idx++, k++) {
                const struct sriov_vf_observed *o = find_observed(in, idx);
                struct sriov_vf_report *v = &r.vfs[k];

                v->index = idx;
                if (o) {
                        v->addr = o->addr;
                        v->state = o->driver ? SRIOV_VF_BOUND : SRIOV_VF_UNBOUND;
                        if (o->driver && !(v->driver = strdup(o->driver)))
                                goto oom;
                } else {
                        v->state = SRIOV_VF_MISSING;
                        if (sriov_addr_vf(&in->pf, in->offset, in->stride, idx, &v->addr) < 0)
                                v->addr = (struct sriov_addr) {};
                }
        }
        for (size_t i = 0; i < in->n_observed; i++) {
                const struct sriov_vf_observed *o = &in->observed[i];
                if (o->index < in->requested)
                        continue;
                r.vfs[k] = (struct sriov_vf_report) {
                        .index = o->index,
                        .addr = o->addr,
                        .state = o->driver ? SRIOV_VF_BOUND : SRIOV_VF_UNBOUND,
                };
                if (o->driver && !(r.vfs[k].driver = strdup(o->driver)))
                        goto oom;
                k++;
        }

        for (size_t i = 0; i < r.n_vfs; i++) {
                if (r.vfs[i].state == SRIOV_VF_MISSING)
                        continue;
                r.enumerated++;
                r.bound += r.vfs[i].state == SRIOV_VF_BOUND;
        }
        /* Usable: bound when drivers autoprobe; merely present when the administrator
         * turned autoprobe off to bind drivers (vfio-pci, say) later. Only requested
         * indices count. */
        for (unsigned i = 0; i < in->requested; i++)
                if (r.vfs[i].state == SRIOV_VF_BOUND || (!r.autoprobe && r.vfs[i].state == SRIOV_VF_UNBOUND))
                        r.usable++;
        r.final_num_vfs = r.enumerated;

        if (r.hung || r.write_error != 0)
                r.outcome = SRIOV_OUTCOME_FAILED;
        else if (r.requested == 0)
                r.outcome = r.enumerated == 0 ? SRIOV_OUTCOME_COMPLETE : SRIOV_OUTCOME_FAILED;
        else if (r.usable == r.requested)
                r.outcome = SRIOV_OUTCOME_COMPLETE;
        else if (r.enumerated > 0)
                r.outcome = SRIOV_OUTCOME_PARTIAL;
        else
                r.outcome = SRIOV_OUTCOME_FAILED;

        e = build_message(&r);
        if (e < 0) {
                sriov_report_done(&r);
                return e;
        }
        *ret = r;
        return 0;

oom:
        sriov_report_done(&r);
        return -ENOMEM;
}

void sriov_report_set_rollback(struct sriov_report *r, int error, unsigned final_num_vfs) {
        r->rolled_back = true;
        r->rollback_error = error < 0 ? -error : error;
        r->final_num_vfs = final_num_vfs;
        /* Nothing of the partial result is kept, so it did not happen as asked. */
        r->outcome = SRIOV_OUTCOME_FAILED;
        (void) build_message(r);
}

json_object *sriov_report_to_json(const struct sriov_report *r) {
        json_object *o = json_object_new_object(), *vfs = json_object_new_array();

        json_object_object_add(o, "pf", sriov_addr_to_json(&r->pf));
        json_object_object_add(o, "outcome", json_object_new_string(sriov_outcome_to_string(r->outcome)));
        json_object_object_add(o, "message", json_object_new_string(r->message ?: ""));
        json_object_object_add(o, "requested", json_object_new_int64(r->requested));
        json_object_object_add(o, "previous", json_object_new_int64(r->previous));
        json_object_object_add(o, "policy", json_object_new_string(sriov_policy_to_string(r->policy)));
        json_object_object_add(o, "drivers_autoprobe", json_object_new_boolean(r->autoprobe));
        json_object_object_add(o, "enumerated", json_object_new_int64(r->enumerated));
        json_object_object_add(o, "bound", json_object_new_int64(r->bound));
        json_object_object_add(o, "usable", json_object_new_int64(r->usable));
        json_object_object_add(o, "elapsed_ms", json_object_new_uint64(r->elapsed_ms));
        if (r->write_error != 0) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "errno", json_object_new_int(r->write_error));
                json_object_object_add(e, "name", json_object_new_string(strerrorname_np(r->write_error) ?: "unknown"));
                json_object_object_add(e, "message", json_object_new_string(sriov_numvfs_strerror(r->write_error)));
                json_object_object_add(e, "value", json_object_new_int64(r->failed_write_value));
                if (r->failed_file[0])
                        json_object_object_add(e, "file", json_object_new_string(r->failed_file));
                json_object_object_add(o, "kernel_error", e);
        }
        json_object_object_add(o, "hung", json_object_new_boolean(r->hung));
        if (r->hung) {
                json_object_object_add(o, "hung_ms", json_object_new_uint64(r->hung_ms));
                if (r->failed_file[0])      /* not sriov_numvfs */
                        json_object_object_add(o, "hung_file", json_object_new_string(r->failed_file));
        }
        json_object_object_add(o, "settled_by", json_object_new_string(sriov_settle_to_string(r->settled_by) ?: "none"));
        if (r->settled_by == SRIOV_SETTLE_QUIET_WINDOW)
                json_object_object_add(o, "quiet_window_ms", json_object_new_uint64(r->quiet_window_ms));
        json_object_object_add(o, "unsignalled_vfs", json_object_new_int64(r->unsignalled_vfs));
        json_object_object_add(o, "rolled_back", json_object_new_boolean(r->rolled_back));
        if (r->rolled_back && r->rollback_error)
                json_object_object_add(o, "rollback_errno", json_object_new_int(r->rollback_error));
        json_object_object_add(o, "final_num_vfs", json_object_new_int64(r->final_num_vfs));
        for (size_t i = 0; i < r->n_vfs; i++) {
                json_object *v = json_object_new_object();
                json_object_object_add(v, "index", json_object_new_int64(r->vfs[i].index));
                json_object_object_add(v, "address", sriov_addr_to_json(&r->vfs[i].addr));
                json_object_object_add(v, "driver", r->vfs[i].driver ? json_object_new_string(r->vfs[i].driver) : NULL);
                json_object_object_add(v, "state", json_object_new_string(sriov_vf_state_to_string(r->vfs[i].state)));
                json_object_array_add(vfs, v);
        }
        json_object_object_add(o, "vfs", vfs);
        return o;
}
