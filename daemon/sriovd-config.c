/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sriov-json.h"
#include "sriov-netlink.h"
#include "sriovd-api.h"
#include "sriovd-bind.h"
#include "sriovd-config.h"
#include "sriovd-events.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-metrics.h"
#include "sriovd-nfd.h"
#include "sriovd-netdev.h"
#include "sriovd-operation.h"
#include "sriovd-recovery.h"
#include "sriovd-worker.h"

int sriovd_config_load(const char *main_file, struct sriov_config **ret) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *dropins = NULL;
        int r;

        if (asprintf(&dropins, "%s.d", main_file) < 0)
                return -ENOMEM;
        r = sriov_config_load(main_file, dropins, ret, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                if (!errors)
                        log_error_errno(r, "Cannot read the configuration %s", main_file);
                return r;
        }
        return 0;
}

void sriovd_config_apply_daemon(const struct sriov_config *c, struct sriovd_options *o) {
        const struct sriov_daemon_config *d = sriov_config_daemon(c);

        if (!d)
                return;
#define TAKE_STRING(field, flag, value)                         \
        if (!(o->given & (flag)) && (value)) {                  \
                char *copy = strdup(value);                     \
                if (copy) {                                     \
                        free(o->field);                         \
                        o->field = copy;                        \
                }                                               \
        }
        TAKE_STRING(socket_path, OPT_GIVEN_SOCKET, d->socket);
        TAKE_STRING(state_dir, OPT_GIVEN_STATE_DIR, d->state_dir);
        TAKE_STRING(runtime_dir, OPT_GIVEN_RUNTIME_DIR, d->runtime_dir);
        TAKE_STRING(admin_group, OPT_GIVEN_ADMIN_GROUP, d->admin_group);
#undef TAKE_STRING
        if (!(o->given & OPT_GIVEN_UEVENT_SOURCE) && d->uevent_source)
                o->uevent_source = uevent_source_from_string(d->uevent_source);
        if (!(o->given & OPT_GIVEN_LOG_LEVEL) && d->log_level >= 0)
                o->log_level = d->log_level;
        if (!(o->given & OPT_GIVEN_SETTLE_QUIET) && d->settle_quiet_ms > 0)
                o->settle_quiet_ms = d->settle_quiet_ms;
        if (!(o->given & OPT_GIVEN_HISTORY_SIZE) && d->history_size > 0)
                o->history_size = d->history_size;
        if (!(o->given & OPT_GIVEN_AER_POLL))
                o->aer_poll_sec = d->aer_poll_interval;
}

const struct sriov_pf_config *sriovd_config_for(struct sriovd_manager *m, const struct sriov_addr *pf) {
        const struct sriov_device *d;
        _cleanup_free_ char *ifname = NULL;

        if (!m->config)
                return NULL;
        d = sriov_model_get(m->model, pf);
        if (!d || d->role != SRIOV_ROLE_PF)
                return NULL;
        /* Only sections matching by name need the name; a missing one is no error. */
        (void) sriov_sysfs_device_ifname(m->sysfs, pf, &ifname);
        return sriov_config_match(m->config, d, ifname);
}

void sriovd_config_reconcile_pf(struct sriovd_manager *m, const struct sriov_addr *pf_addr, const char *why) {
        const struct sriov_pf_config *c = sriovd_config_for(m, pf_addr);
        const struct sriov_device *d = sriov_model_get(m->model, pf_addr);

        if (!c || !d)
                return;
        (void) sriovd_recovery_set_policy(m->recovery, pf_addr, c->recovery, c->recovery_attempts, c->park_idle_vfs);

        bool autoprobe_differs = c->drivers_autoprobe >= 0 && c->drivers_autoprobe != d->pf.drivers_autoprobe;
        if (c->num_vfs < 0 && !autoprobe_differs) {
                /* No count to apply: drivers and attributes of what is there. */
                sriovd_config_apply_vfs(m, pf_addr);
                return;
        }
        struct sriov_enable_request req = {
                .num_vfs = c->num_vfs >= 0 ? (unsigned) c->num_vfs : (unsigned) d->pf.n_vfs,
                .policy = c->policy,
                .drivers_autoprobe = c->drivers_autoprobe,
                .wait = false,
                .from_config = true,
        };
        log_info("PF %s: applying %s:%u (%s): %u VFs%s", SRIOV_ADDR_STR(pf_addr), c->source_file, c->source_line, why,
                 req.num_vfs, autoprobe_differs ? ", drivers autoprobe changed" : "");
        /* The same count writes nothing; the operation still applies drivers after it.
         * At start, READY=1 waits for it: units ordered after sriovd find their VFs. */
        req.startup = m->starting;
        if (sriovd_ops_submit(m->ops, pf_addr, &req, NULL) > 0 && req.startup)
                m->startup_pending++;
}

void sriovd_config_reconcile_all(struct sriovd_manager *m, const char *why) {
        _cleanup_free_ struct sriov_addr *pfs = NULL;
        size_t n = 0;

        /* Collected first: submitting may refresh the model. Every PF of the host: a
         * fixed array left those after the 512th unconfigured. */
        pfs = calloc(sriov_model_size(m->model) ?: 1, sizeof(*pfs));
        if (!pfs) {
                log_error("Out of memory: the configuration is not applied (%s)", why);
                return;
        }
        for (size_t i = 0; i < sriov_model_size(m->model); i++) {
                const struct sriov_device *d = sriov_model_at(m->model, i);
                if (d->role == SRIOV_ROLE_PF)
                        pfs[n++] = d->addr;
        }
        for (size_t i = 0; i < n; i++)
                sriovd_config_reconcile_pf(m, &pfs[i], why);
}

int sriovd_config_reload(struct sriovd_manager *m, char ***ret_errors) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *dropins = NULL;
        const char *file = m->options->config_file ?: SRIOVD_DEFAULT_CONFIG;
        int r;

        if (asprintf(&dropins, "%s.d", file) < 0)
                return -ENOMEM;
        r = sriov_config_load(file, dropins, &c, &errors);
        if (r < 0) {
                log_error("Reload of %s failed, keeping the running configuration:", file);
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                sriovd_metrics_config_reloaded(m->metrics, false, errors);
                if (ret_errors)
                        *ret_errors = TAKE_PTR(errors);
                return r;
        }
        sriov_config_free(m->config);
        m->config = TAKE_PTR(c);

        /* What can change while running does; the rest needs a restart, and says so. */
        const struct sriov_daemon_config *d = sriov_config_daemon(m->config);
        if (d && d->log_level >= 0 && !(m->options->given & OPT_GIVEN_LOG_LEVEL)) {
                m->options->log_level = d->log_level;
                log_set_max_level(d->log_level);
        }
        if (d && d->settle_quiet_ms > 0 && !(m->options->given & OPT_GIVEN_SETTLE_QUIET))
                m->options->settle_quiet_ms = d->settle_quiet_ms;
        if (d && !(m->options->given & OPT_GIVEN_ADMIN_GROUP)) {
                free(m->options->admin_group);
                m->options->admin_group = d->admin_group ? strdup(d->admin_group) : NULL;
                /* Access is decided per request: a group taken away by reload is gone now. */
                sriovd_api_set_admin_group(m->api, m->options->admin_group);
        }
        if (d && !(m->options->given & OPT_GIVEN_AER_POLL) && d->aer_poll_interval != m->options->aer_poll_sec) {
                m->options->aer_poll_sec = d->aer_poll_interval;
                sriovd_manager_set_aer_poll(m, d->aer_poll_interval);
        }
        if (d && ((!(m->options->given & OPT_GIVEN_HISTORY_SIZE) && d->history_size > 0 &&
                   d->history_size != m->options->history_size) ||
                  (!(m->options->given & OPT_GIVEN_UEVENT_SOURCE) && d->uevent_source &&
                   uevent_source_from_string(d->uevent_source) != m->options->uevent_source)))
                log_notice("history-size and uevent-source changed: they take effect at the next restart");
        if (d && ((d->socket && !streq(d->socket, m->options->socket_path)) ||
                  (d->state_dir && !streq(d->state_dir, m->options->state_dir)) ||
                  (d->runtime_dir && !streq(d->runtime_dir, m->options->runtime_dir))))
                log_notice("The socket or directory settings changed: they take effect at the next restart");

        /* metrics-listen, metrics-per-vf, nfd-features-file and nfd-expiry apply live. */
        (void) sriovd_metrics_configure(m->metrics, d);
        sriovd_nfd_configure(m->nfd, d);
        sriovd_metrics_config_reloaded(m->metrics, true, NULL);
        log_info("Reloaded %s", file);
        json_object_put(sriovd_netdev_unmatched_json(m->netdev, true));
        sriovd_config_reconcile_all(m, "reload");
        return 0;
}

/* ---- after an enable: drivers and network attributes ----------------------------------- */

struct vf_attr_job {
        int ifindex;
        size_t n;
        unsigned *index;
        struct sriov_vf_attrs *attrs;
        struct sriov_addr pf;
        struct sriovd_manager *m;
        unsigned failed, applied;
        char first_error[160];
        size_t n_results;
        struct sriov_nl_result *results;        /* every answer, for status */
};

void sriovd_config_vf_attrs(const struct sriov_vf_config *v, struct sriov_vf_attrs *a) {
        *a = (struct sriov_vf_attrs) {};
        if (v->has_mac) {
                a->mac_set = true;
                memcpy(a->mac, v->mac, 6);
        }
        if (v->vlan >= 0) {
                a->vlan_set = true;
                a->vlan = (uint32_t) v->vlan;
                a->qos = v->qos >= 0 ? (uint32_t) v->qos : 0;
                a->vlan_proto = v->vlan_proto ?: SRIOV_VLAN_PROTO_8021Q;
        }
        if (v->trust >= 0) {
                a->trust_set = true;
                a->trust = v->trust;
        }
        if (v->spoof_check >= 0) {
                a->spoofchk_set = true;
                a->spoofchk = v->spoof_check;
        }
        if (v->link_state >= 0) {
                a->link_state_set = true;
                a->link_state = v->link_state;
        }
        /* The kernel takes both rates together: an unset half is 0 (no guarantee / no limit). */
        if (v->min_tx_rate >= 0 || v->max_tx_rate >= 0) {
                a->min_tx_rate_set = a->max_tx_rate_set = true;
                a->min_tx_rate = v->min_tx_rate > 0 ? (uint32_t) v->min_tx_rate : 0;
                a->max_tx_rate = v->max_tx_rate > 0 ? (uint32_t) v->max_tx_rate : 0;
        }
}

/* Worker thread: one rtnetlink request per attribute; a failure does not stop the rest. */
static int vf_attr_job_run(void *userdata) {
        struct vf_attr_job *j = userdata;

        for (size_t i = 0; i < j->n; i++) {
                struct sriov_nl_request *reqs = NULL;
                struct sriov_nl_result *res = NULL;
                size_t n_reqs = 0, n_res = 0;
                int r = sriov_netlink_build_requests(j->ifindex, j->index[i], &j->attrs[i], &reqs, &n_reqs);
                if (r >= 0)
                        r = sriov_netlink_apply(NULL, reqs, n_reqs, &res, &n_res);
                if (r < 0 && n_res == 0) {
                        j->failed++;
                        if (!j->first_error[0])
                                snprintf(j->first_error, sizeof(j->first_error), "VF %u: %s", j->index[i], strerror(-r));
                }
                struct sriov_nl_result *all = reallocarray(j->results, j->n_results + n_res, sizeof(*all));
                if (all && n_res > 0) {
                        memcpy(all + j->n_results, res, n_res * sizeof(*res));
                        j->results = all;
                        j->n_results += n_res;
                } else if (all)
                        j->results = all;
                for (size_t k = 0; k < n_res; k++) {
                        if (res[k].error == 0) {
                                j->applied++;
                                continue;
                        }
                        j->failed++;
                        if (!j->first_error[0])
                                snprintf(j->first_error, sizeof(j->first_error), "VF %u %s: %s", j->index[i],
                                         sriov_vf_attr_to_string(res[k].attr), strerror(-res[k].error));
                }
                free(res);
                sriov_nl_requests_free(reqs);
        }
        return 0;
}

static void vf_attr_job_done(int result, void *userdata) {
        struct vf_attr_job *j = userdata;
        const struct sriov_device *d = sriov_model_get(j->m->model, &j->pf);
        struct sriovd_event ev = { .addr = j->pf, .device_online = -1 };

        ev.hierarchy = d ? *sriov_device_hierarchy(d) : j->pf;
        snprintf(ev.kind, sizeof(ev.kind), "VF_ATTRIBUTES");
        snprintf(ev.message, sizeof(ev.message), "%u attribute(s) set, %u failed%s%s", j->applied, j->failed,
                 j->failed ? "; first: " : "", j->first_error);
        sriovd_events_record(j->m->events, &ev);
        sriovd_netdev_note_applied(j->m->netdev, &j->pf, j->results, j->n_results);
        free(j->results);
        free(j->index);
        free(j->attrs);
        free(j);
}

void sriovd_config_apply_vfs(struct sriovd_manager *m, const struct sriov_addr *pf_addr) {
        const struct sriov_pf_config *c = sriovd_config_for(m, pf_addr);
        const struct sriov_device *pf = sriov_model_get(m->model, pf_addr);
        struct sriov_addr bind_addr[256];
        const char *bind_driver[256];
        size_t n_bind = 0;

        if (!c || !pf || pf->role != SRIOV_ROLE_PF)
                return;

        for (size_t i = 0; i < pf->pf.n_vfs && n_bind < ELEMENTSOF(bind_addr); i++) {
                const struct sriov_vf_config *v = sriov_pf_config_vf(c, pf->pf.vfs[i].index);
                const char *want = v && v->driver ? v->driver : c->vf_driver;
                const struct sriov_device *vf = sriov_model_get(m->model, &pf->pf.vfs[i].addr);
                if (!want || !vf || (vf->driver && streq(vf->driver, want)))
                        continue;
                bind_addr[n_bind] = vf->addr;
                bind_driver[n_bind++] = want;
        }
        for (size_t i = 0; i < n_bind; i++) {
                log_info("PF %s: binding VF %s to %s (configuration)", SRIOV_ADDR_STR(pf_addr), SRIOV_ADDR_STR(&bind_addr[i]),
                         bind_driver[i]);
                sriovd_binds_submit(m->binds, &bind_addr[i], bind_driver[i], false, NULL);
        }

        /* Only network settings go through rtnetlink; vf.N.driver alone is a bind. */
        size_t n_net = 0;
        for (size_t i = 0; i < c->n_vfs; i++) {
                const struct sriov_vf_config *v = &c->vfs[i];
                if (v->has_mac || v->vlan >= 0 || v->trust >= 0 || v->spoof_check >= 0 || v->link_state >= 0 ||
                    v->min_tx_rate >= 0 || v->max_tx_rate >= 0)
                        n_net++;
        }
        if (n_net == 0)
                return;
        _cleanup_free_ char *ifname = NULL;
        int ifindex;
        if (sriov_sysfs_device_ifname(m->sysfs, pf_addr, &ifname) < 0 || (ifindex = sriov_netlink_ifindex(ifname)) <= 0) {
                log_warning("PF %s: per-VF network settings configured, but the PF has no network interface",
                            SRIOV_ADDR_STR(pf_addr));
                return;
        }
        struct vf_attr_job *j = calloc(1, sizeof(*j));
        if (!j)
                return;
        j->index = calloc(c->n_vfs, sizeof(*j->index));
        j->attrs = calloc(c->n_vfs, sizeof(*j->attrs));
        if (!j->index || !j->attrs) {
                free(j->index);
                free(j->attrs);
                free(j);
                return;
        }
        j->m = m;
        j->pf = *pf_addr;
        j->ifindex = ifindex;
        for (size_t i = 0; i < c->n_vfs; i++) {
                if (c->vfs[i].index >= pf->pf.n_vfs)
                        continue;
                j->index[j->n] = c->vfs[i].index;
                sriovd_config_vf_attrs(&c->vfs[i], &j->attrs[j->n]);
                struct sriov_vf_attrs *a = &j->attrs[j->n];
                if (a->mac_set || a->vlan_set || a->trust_set || a->spoofchk_set || a->link_state_set ||
                    a->min_tx_rate_set || a->max_tx_rate_set)
                        j->n++;
        }
        sriovd_netdev_apply_started(m->netdev, pf_addr);
        if (sriovd_workers_submit(m->workers, vf_attr_job_run, vf_attr_job_done, j) < 0)
                vf_attr_job_done(-ENOMEM, j);
}

void sriovd_config_vfio_owner(struct sriovd_manager *m, const struct sriov_addr *vf_addr, int group) {
        const struct sriov_device *vf = sriov_model_get(m->model, vf_addr);
        const struct sriov_pf_config *c;
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;
        char node[32];

        if (!vf || vf->role != SRIOV_ROLE_VF || group < 0)
                return;
        c = sriovd_config_for(m, &vf->vf.pf);
        if (!c || (!c->vfio_owner && !c->vfio_group))
                return;
        if (c->vfio_owner) {
                struct passwd *pw = getpwnam(c->vfio_owner);
                char *end;
                unsigned long n = strtoul(c->vfio_owner, &end, 10);
                if (pw)
                        uid = pw->pw_uid;
                else if (!*end)
                        uid = (uid_t) n;
                else {
                        log_warning("vfio-owner '%s' of %s:%u is no user", c->vfio_owner, c->source_file, c->source_line);
                        return;
                }
        }
        if (c->vfio_group) {
                struct group *gr = getgrnam(c->vfio_group);
                char *end;
                unsigned long n = strtoul(c->vfio_group, &end, 10);
                if (gr)
                        gid = gr->gr_gid;
                else if (!*end)
                        gid = (gid_t) n;
                else {
                        log_warning("vfio-group '%s' of %s:%u is no group", c->vfio_group, c->source_file, c->source_line);
                        return;
                }
        }
        snprintf(node, sizeof(node), "/dev/vfio/%d", group);
        if (chown(node, uid, gid) < 0)
                /* An error, not a warning: a VM that cannot open its device is down. */
                log_error_errno(errno, "Cannot hand %s to %s:%s (sandboxed without CAP_CHOWN?)", node,
                                strna(c->vfio_owner), strna(c->vfio_group));
        else
                log_info("%s of %s handed to %s:%s", node, SRIOV_ADDR_STR(vf_addr), strna(c->vfio_owner), strna(c->vfio_group));
}

json_object *sriovd_config_json(struct sriovd_manager *m) {
        json_object *o = m->config ? sriov_config_to_json(m->config) : json_object_new_object();
        json_object *eff = json_object_new_object();

        /* What the daemon runs with, whatever the source (command line, file, default). */
        json_object_object_add(eff, "socket", json_object_new_string(m->options->socket_path));
        json_object_object_add(eff, "state_dir", json_object_new_string(m->options->state_dir));
        json_object_object_add(eff, "runtime_dir", json_object_new_string(m->options->runtime_dir));
        json_object_object_add(eff, "config_file", json_object_new_string(m->options->config_file ?: SRIOVD_DEFAULT_CONFIG));
        json_object_object_add(eff, "uevent_source", json_object_new_string(uevent_source_to_string(m->options->uevent_source)));
        json_object_object_add(eff, "settle_quiet_ms", json_object_new_int64(m->options->settle_quiet_ms));
        json_object_object_add(eff, "history_size", json_object_new_int64(m->options->history_size));
        json_object_object_add(eff, "aer_poll_interval", json_object_new_int64(m->options->aer_poll_sec));
        json_object_object_add(o, "effective", eff);
        json_object_object_add(o, "last_reload", sriovd_metrics_last_reload_json(m->metrics));
        json_object_object_add(o, "unmatched", sriovd_netdev_unmatched_json(m->netdev, false));
        return o;
}
