/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/msg.h>

#include <event2/event.h>

#include "sriov-vfinfo.h"
#include "sriovd-config.h"
#include "sriovd-events.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-netdev.h"
#include "sriovd-operation.h"
#include "sriovd-worker.h"

#define RECV_BUFFER_SIZE (64u * 1024u)
#define SOCKET_RCVBUF (4 * 1024 * 1024)

struct vf_refusal {
        unsigned vf;
        SriovVfAttr attr;
        int error;                      /* -errno */
};

/* What is known about one PF's network side. */
struct pf_net {
        struct sriov_addr pf;
        bool dirty;
        bool in_flight;                 /* a query job runs */
        bool applying;                  /* sriovd's own settings are being applied */
        bool queried;                   /* at least one query came back */
        char ifname[IF_NAMESIZE];
        int ifindex;                    /* 0: unknown */
        char mac[3 * 32];
        char operstate[24];
        int64_t speed;                  /* Mbit/s, -1: not reported (link down) */
        bool have_link;                 /* the kernel's VF list is known */
        struct sriov_link_info link;
        size_t n_drift;
        unsigned *drift;                /* per VF number: SriovVfAttr bits that drifted */
        size_t n_refused;
        struct vf_refusal *refused;
        char match[80];                 /* the config section it matched, for renames */
        char match_ifname[IF_NAMESIZE]; /* ... under this interface name */
};

struct sriovd_netdev {
        struct sriovd_manager *m;
        int fd;
        struct event *read_ev;
        struct event *coalesce;
        struct event *periodic;
        size_t n_pfs;
        struct pf_net *pfs;
        unsigned char *buf;
};

struct query_job {
        struct sriovd_netdev *n;
        struct sriov_sysfs *sysfs;
        struct sriov_addr pf;
        char ifname[IF_NAMESIZE];
        /* results */
        int ifindex;
        char mac[3 * 32];
        char operstate[24];
        int64_t speed;
        int link_error;
        struct sriov_link_info link;
};

static void pf_net_done(struct pf_net *p) {
        sriov_link_info_done(&p->link);
        free(p->drift);
        free(p->refused);
}

static struct pf_net *pf_net_get(struct sriovd_netdev *n, const struct sriov_addr *pf, bool create) {
        for (size_t i = 0; i < n->n_pfs; i++)
                if (sriov_addr_equal(&n->pfs[i].pf, pf))
                        return &n->pfs[i];
        if (!create)
                return NULL;
        struct pf_net *nl = reallocarray(n->pfs, n->n_pfs + 1, sizeof(*nl));
        if (!nl)
                return NULL;
        n->pfs = nl;
        n->pfs[n->n_pfs] = (struct pf_net) { .pf = *pf, .speed = -1 };
        return &n->pfs[n->n_pfs++];
}

/* The PF a PCI function belongs to, when it is a PF or a VF. */
static const struct sriov_device *owning_pf(struct sriovd_manager *m, const struct sriov_addr *addr) {
        const struct sriov_device *d = sriov_model_get(m->model, addr);

        if (d && d->role == SRIOV_ROLE_VF)
                d = sriov_model_get(m->model, &d->vf.pf);
        return d && d->role == SRIOV_ROLE_PF ? d : NULL;
}

static void schedule(struct sriovd_netdev *n) {
        if (n->coalesce && !evtimer_pending(n->coalesce, NULL))
                evtimer_add(n->coalesce, &(struct timeval) { .tv_usec = SRIOVD_NETDEV_COALESCE_MS * 1000 });
}

static void mark_dirty(struct sriovd_netdev *n, const struct sriov_addr *pf) {
        struct pf_net *p = pf_net_get(n, pf, true);

        if (!p)
                return;
        p->dirty = true;
        schedule(n);
}

void sriovd_netdev_on_uevent(struct sriovd_netdev *n, const struct sriov_addr *addr) {
        const struct sriov_device *pf;

        if (!n)
                return;
        pf = owning_pf(n->m, addr);
        if (pf)
                mark_dirty(n, &pf->addr);
}

void sriovd_netdev_refresh_all(struct sriovd_netdev *n) {
        if (!n)
                return;
        for (size_t i = 0; i < sriov_model_size(n->m->model); i++) {
                const struct sriov_device *d = sriov_model_at(n->m->model, i);
                if (d->role == SRIOV_ROLE_PF && d->netdevs)
                        mark_dirty(n, &d->addr);
        }
}

/* ---- renames: a [pf "IFNAME"] section follows the name ---- */

/* Called with the PF's current interface name whenever it may have changed. Only a new
 * name can make another section match (a reload reconciles on its own). */
static void check_match(struct sriovd_netdev *n, const struct sriov_addr *pf, const char *ifname) {
        struct pf_net *p = pf_net_get(n, pf, true);
        const struct sriov_pf_config *c;
        const char *now;

        if (!p || !ifname)
                return;
        c = sriovd_config_for(n->m, pf);
        now = c ? c->match : "";
        bool renamed = p->match_ifname[0] && !streq(p->match_ifname, ifname);
        bool changed = !streq(p->match, now);
        snprintf(p->match_ifname, sizeof(p->match_ifname), "%s", ifname);
        snprintf(p->match, sizeof(p->match), "%s", now);
        if (!renamed || !changed)
                return;
        if (c) {
                log_info("PF %s: its network interface is now %s and matches [pf \"%s\"] (%s:%u)", SRIOV_ADDR_STR(pf),
                         ifname, c->match, c->source_file, c->source_line);
                sriovd_config_reconcile_pf(n->m, pf, "its network interface was renamed");
        } else
                log_notice("PF %s: its network interface is now %s; no configuration section matches it any more "
                           "(nothing changed)", SRIOV_ADDR_STR(pf), ifname);
}

/* ---- the route socket ---- */

static void handle_link_message(struct sriovd_netdev *n, const struct nlmsghdr *h) {
        _cleanup_(sriov_link_info_done) struct sriov_link_info info = {};
        struct sriov_addr parent;
        const struct sriov_device *pf;
        int r;

        r = sriov_link_info_parse(h, h->nlmsg_len, &info);
        if (r < 0) {
                if (r != -ENOMSG)
                        log_debug_errno(r, "Ignoring a link message that does not parse");
                return;
        }
        if (sriov_link_info_pci_parent(&info, &parent) < 0) {
                /* Older kernels (< 5.16) name no parent: any PF could be meant. */
                if (!info.parent_bus[0])
                        sriovd_netdev_refresh_all(n);
                return;
        }
        if (!sriov_model_get(n->m->model, &parent))
                return;
        /* A rename, a netdev that came or went: the model's names follow at once. */
        r = sriov_model_refresh_netdevs(n->m->model, &parent);
        pf = owning_pf(n->m, &parent);
        if (!pf)
                return;
        if (r > 0) {
                log_info("%s: network interfaces now %s%s", SRIOV_ADDR_STR(&parent),
                         sriov_model_get(n->m->model, &parent)->netdevs ? sriov_model_get(n->m->model, &parent)->netdevs[0] : "none",
                         info.deleted ? " (one was removed)" : "");
                const struct sriov_device *pd = sriov_model_get(n->m->model, &pf->addr);
                if (sriov_addr_equal(&parent, &pf->addr) && pd && pd->netdevs)
                        check_match(n, &pf->addr, pd->netdevs[0]);
        }
        mark_dirty(n, &pf->addr);
}

static void on_readable(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_netdev *n = userdata;

        for (;;) {
                struct sockaddr_nl from = {};
                socklen_t fromlen = sizeof(from);
                ssize_t len = recvfrom(fd, n->buf, RECV_BUFFER_SIZE, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from,
                                       &fromlen);
                if (len < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        if (errno == ENOBUFS) {
                                /* The kernel dropped notifications: what they said is lost, so
                                 * every PF is asked again. */
                                log_notice("rtnetlink notifications were lost (receive buffer overrun); refreshing all PFs");
                                sriovd_netdev_refresh_all(n);
                                continue;
                        }
                        log_warning_errno(errno, "Reading rtnetlink notifications failed");
                        return;
                }
                /* Only the kernel sends to RTNLGRP_LINK; anything else is not listened to. */
                if (from.nl_family != AF_NETLINK || from.nl_pid != 0)
                        continue;
                if ((size_t) len > RECV_BUFFER_SIZE) {
                        sriovd_netdev_refresh_all(n);
                        continue;
                }
                int rem = (int) len;
                /* libnl's walkers take an int remainder: the glibc macros mix signs. */
                for (struct nlmsghdr *h = (struct nlmsghdr *) n->buf; nlmsg_ok(h, rem); h = nlmsg_next(h, &rem))
                        if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
                                handle_link_message(n, h);
        }
}

static int open_route_socket(void) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
        int size = SOCKET_RCVBUF;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

        if (fd < 0)
                return negative_errno();
        /* A burst of VF changes on many PFs must not overrun it; FORCE needs CAP_NET_ADMIN. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

/* ---- queries, off the loop ---- */

static int query_job_run(void *userdata) {
        struct query_job *j = userdata;
        _cleanup_free_ char *mac = NULL, *oper = NULL, *speed = NULL, *ifindex = NULL;

        /* address and operstate take no lock; speed takes RTNL with trylock and answers
         * EINVAL while the link is down: null, not an error. */
        if (sriov_sysfs_netdev_read(j->sysfs, &j->pf, j->ifname, "address", &mac) >= 0)
                snprintf(j->mac, sizeof(j->mac), "%s", mac);
        if (sriov_sysfs_netdev_read(j->sysfs, &j->pf, j->ifname, "operstate", &oper) >= 0)
                snprintf(j->operstate, sizeof(j->operstate), "%s", oper);
        j->speed = -1;
        if (sriov_sysfs_netdev_read(j->sysfs, &j->pf, j->ifname, "speed", &speed) >= 0) {
                char *end;
                long long v = strtoll(speed, &end, 10);
                if (*end == '\0' && v >= 0)
                        j->speed = v;
        }
        j->link_error = -ENOENT;
        if (sriov_sysfs_netdev_read(j->sysfs, &j->pf, j->ifname, "ifindex", &ifindex) >= 0) {
                char *end;
                long v = strtol(ifindex, &end, 10);
                if (*end == '\0' && v > 0 && v <= INT32_MAX) {
                        j->ifindex = (int) v;
                        j->link_error = sriov_netlink_query_link(j->ifindex, &j->link);
                }
        }
        return 0;
}

static void evaluate_drift(struct sriovd_netdev *n, struct pf_net *p);

static void query_job_done(int result, void *userdata) {
        struct query_job *j = userdata;
        struct sriovd_netdev *n = j->n;
        struct pf_net *p = pf_net_get(n, &j->pf, false);
        struct sriov_addr parent;

        if (p) {
                /* Drivers refuse some VF settings while the PF has no link (igb's rate:
                 * EINVAL until the link is up at 1000 Mb/s). An enable now reports, and
                 * its settings go out, as soon as the VFs are bound, often before the
                 * link is up: what was refused is tried again when it comes up. */
                bool link_came_up = p->queried && !streq(p->operstate, "up") && streq(j->operstate, "up") &&
                                    p->n_refused > 0 && !p->applying;
                p->in_flight = false;
                p->queried = true;
                snprintf(p->ifname, sizeof(p->ifname), "%s", j->ifname);
                p->ifindex = j->ifindex;
                snprintf(p->mac, sizeof(p->mac), "%s", j->mac);
                snprintf(p->operstate, sizeof(p->operstate), "%s", j->operstate);
                if (link_came_up && sriovd_config_for(n->m, &p->pf)) {
                        log_info("PF %s: %s is up: applying the %zu refused VF setting(s) again", SRIOV_ADDR_STR(&p->pf),
                                 j->ifname, p->n_refused);
                        sriovd_config_apply_vfs(n->m, &p->pf);
                }
                p->speed = j->speed;
                sriov_link_info_done(&p->link);
                p->have_link = false;
                /* The answer counts only when the kernel says it is this PF's interface: an
                 * ifindex can be reused after a hot unplug, and a sysfs root that is not the
                 * running kernel's (a test bed) has ifindexes that mean other interfaces. */
                if (j->link_error >= 0 && sriov_link_info_pci_parent(&j->link, &parent) >= 0 &&
                    sriov_addr_equal(&parent, &j->pf)) {
                        p->link = j->link;
                        j->link = (struct sriov_link_info) {};
                        p->have_link = true;
                } else if (j->link_error < 0 && j->link_error != -ENOENT && j->link_error != -ENODEV)
                        log_debug_errno(j->link_error, "PF %s: cannot read the VF settings of %s", SRIOV_ADDR_STR(&j->pf),
                                        j->ifname);
                evaluate_drift(n, p);
                if (p->dirty)
                        schedule(n);
        }
        sriov_link_info_done(&j->link);
        free(j);
}

static void coalesce_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_netdev *n = userdata;

        for (size_t i = 0; i < n->n_pfs; i++) {
                struct pf_net *p = &n->pfs[i];
                const struct sriov_device *d;
                struct query_job *j;

                if (!p->dirty || p->in_flight)
                        continue;
                p->dirty = false;
                d = sriov_model_get(n->m->model, &p->pf);
                if (!d || d->role != SRIOV_ROLE_PF || !d->netdevs) {
                        /* Gone, or no longer a NIC: nothing to show. */
                        sriov_link_info_done(&p->link);
                        p->have_link = false;
                        p->ifname[0] = '\0';
                        p->ifindex = 0;
                        continue;
                }
                j = calloc(1, sizeof(*j));
                if (!j)
                        continue;
                j->n = n;
                j->sysfs = n->m->sysfs;
                j->pf = p->pf;
                snprintf(j->ifname, sizeof(j->ifname), "%s", d->netdevs[0]);
                /* Also after a PCI uevent: names read from sysfs are as current as rtnetlink's. */
                check_match(n, &p->pf, j->ifname);
                p->in_flight = true;
                if (sriovd_workers_submit(n->m->workers, query_job_run, query_job_done, j) < 0) {
                        p->in_flight = false;
                        free(j);
                }
        }
}

static void periodic_cb(evutil_socket_t fd, short what, void *userdata) {
        /* Catches what the kernel did not announce (VF changes while the PF is down). */
        sriovd_netdev_refresh_all(userdata);
}

/* ---- drift ---- */

static unsigned refused_mask(const struct pf_net *p, unsigned vf) {
        unsigned mask = 0;

        for (size_t i = 0; i < p->n_refused; i++)
                if (p->refused[i].vf == vf)
                        mask |= 1u << p->refused[i].attr;
        return mask;
}

static unsigned vf_drift(struct sriovd_netdev *n, const struct pf_net *p, const struct sriov_pf_config *c, unsigned vf) {
        const struct sriov_vf_config *vc = c ? sriov_pf_config_vf(c, vf) : NULL;
        const struct sriov_vf_net_state *st;
        struct sriov_vf_attrs want;

        if (!vc || !p->have_link || !(st = sriov_link_info_vf(&p->link, vf)))
                return 0;
        sriovd_config_vf_attrs(vc, &want);
        return sriov_vf_net_state_drift(&want, st) & ~refused_mask(p, vf);
}

static void evaluate_drift(struct sriovd_netdev *n, struct pf_net *p) {
        struct sriovd_manager *m = n->m;
        const struct sriov_device *d = sriov_model_get(m->model, &p->pf);
        const struct sriov_pf_config *c;
        bool reapply = false;

        if (!d || d->role != SRIOV_ROLE_PF)
                return;
        /* While sriovd itself changes the VFs (an enable, a recovery, its own settings on
         * their way) a difference is work in progress, not drift. */
        if (p->applying || sriovd_ops_busy(m->ops, &p->pf) ||
            sriovd_manager_hierarchy_recovering(m, sriov_device_hierarchy(d)))
                return;
        c = sriovd_config_for(m, &p->pf);

        size_t want_n = d->pf.n_vfs ? d->pf.vfs[d->pf.n_vfs - 1].index + 1 : 0;
        if (want_n > p->n_drift) {
                unsigned *nd = reallocarray(p->drift, want_n, sizeof(*nd));
                if (!nd)
                        return;
                memset(nd + p->n_drift, 0, (want_n - p->n_drift) * sizeof(*nd));
                p->drift = nd;
                p->n_drift = want_n;
        }
        for (size_t i = 0; i < p->n_drift; i++) {
                unsigned vf = (unsigned) i;
                unsigned mask = i < want_n ? vf_drift(n, p, c, vf) : 0;

                if (mask == p->drift[i])
                        continue;
                if (mask) {
                        struct sriovd_event ev = { .addr = p->pf, .hierarchy = *sriov_device_hierarchy(d), .device_online = -1 };
                        char names[80] = "";
                        for (SriovVfAttr a = 0; a < _SRIOV_VF_ATTR_MAX; a++)
                                if (mask & (1u << a))
                                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                                                 names[0] ? ", " : "", sriov_vf_attr_to_string(a));
                        snprintf(ev.kind, sizeof(ev.kind), "VF_SETTINGS_DRIFT");
                        snprintf(ev.message, sizeof(ev.message), "VF %u on %s: %s changed behind sriovd's back%s", vf,
                                 p->ifname, names, c && c->reapply ? "; re-applying (reapply)" : "; not changed (reapply off)");
                        sriovd_events_record(m->events, &ev);
                        log_notice("PF %s: %s", SRIOV_ADDR_STR(&p->pf), ev.message);
                        reapply = reapply || (c && c->reapply);
                } else
                        log_info("PF %s: VF %u settings are as configured again", SRIOV_ADDR_STR(&p->pf), vf);
                p->drift[i] = mask;
        }
        if (reapply)
                sriovd_config_apply_vfs(m, &p->pf);
}

void sriovd_netdev_apply_started(struct sriovd_netdev *n, const struct sriov_addr *pf) {
        struct pf_net *p = n ? pf_net_get(n, pf, true) : NULL;

        if (p)
                p->applying = true;
}

void sriovd_netdev_note_applied(struct sriovd_netdev *n, const struct sriov_addr *pf, const struct sriov_nl_result *res,
                                size_t n_res) {
        struct pf_net *p = n ? pf_net_get(n, pf, true) : NULL;

        if (!p)
                return;
        p->applying = false;
        for (size_t i = 0; i < n_res; i++) {
                /* The latest answer for (VF, attribute) replaces the previous one. */
                for (size_t k = 0; k < p->n_refused;)
                        if (p->refused[k].vf == res[i].vf && p->refused[k].attr == res[i].attr)
                                p->refused[k] = p->refused[--p->n_refused];
                        else
                                k++;
                if (res[i].error >= 0)
                        continue;
                struct vf_refusal *nr = reallocarray(p->refused, p->n_refused + 1, sizeof(*nr));
                if (!nr)
                        continue;
                p->refused = nr;
                p->refused[p->n_refused++] = (struct vf_refusal) { .vf = res[i].vf, .attr = res[i].attr, .error = res[i].error };
        }
        /* What the driver made of it is read back now, not at the next event. */
        mark_dirty(n, pf);
}

/* ---- JSON ---- */

static json_object *refused_json(const struct pf_net *p, unsigned vf) {
        json_object *arr = json_object_new_array();

        for (size_t i = 0; arr && i < p->n_refused; i++) {
                const struct vf_refusal *r = &p->refused[i];
                if (r->vf != vf)
                        continue;
                json_object *o = json_object_new_object();
                json_object_object_add(o, "attribute", json_object_new_string(sriov_vf_attr_to_string(r->attr)));
                json_object_object_add(o, "errno", json_object_new_int(-r->error));
                json_object_object_add(o, "error", json_object_new_string(strna(strerrorname_np(-r->error))));
                json_object_object_add(o, "message", json_object_new_string(strna(strerrordesc_np(-r->error))));
                json_object_array_add(arr, o);
        }
        return arr;
}

json_object *sriovd_netdev_pf_json(struct sriovd_netdev *n, const struct sriov_device *d) {
        const struct pf_net *p;
        const struct sriov_pf_config *c;
        json_object *net, *vfs;

        if (!n || !d || d->role != SRIOV_ROLE_PF || !d->netdevs)
                return NULL;
        p = pf_net_get(n, &d->addr, false);
        net = json_object_new_object();
        if (!net)
                return NULL;
        /* The name from the model is current (renames are followed on the loop); the rest
         * is as of the last query. */
        json_object_object_add(net, "ifname", json_object_new_string(d->netdevs[0]));
        json_object_object_add(net, "ifindex", p && p->ifindex > 0 ? json_object_new_int(p->ifindex) : NULL);
        json_object_object_add(net, "mac", p && p->mac[0] ? json_object_new_string(p->mac) : NULL);
        json_object_object_add(net, "operstate", p && p->operstate[0] ? json_object_new_string(p->operstate) : NULL);
        json_object_object_add(net, "speed_mbps", p && p->speed >= 0 ? json_object_new_int64(p->speed) : NULL);
        json_object_object_add(net, "vf_settings_reported", json_object_new_boolean(p && p->have_link));

        c = n->m->config ? sriovd_config_for(n->m, &d->addr) : NULL;
        vfs = json_object_new_array_ext((int) d->pf.n_vfs);
        for (size_t i = 0; vfs && i < d->pf.n_vfs; i++) {
                json_object *vn = json_object_new_object();
                unsigned vf = d->pf.vfs[i].index;
                const struct sriov_device *vd = sriov_model_get(n->m->model, &d->pf.vfs[i].addr);
                const struct sriov_vf_config *vc = c ? sriov_pf_config_vf(c, vf) : NULL;
                const struct sriov_vf_net_state *st = p && p->have_link ? sriov_link_info_vf(&p->link, vf) : NULL;
                unsigned mask = p && vf < p->n_drift ? p->drift[vf] : 0;
                struct sriov_vf_attrs want = {};

                if (vc)
                        sriovd_config_vf_attrs(vc, &want);
                json_object_object_add(vn, "index", json_object_new_int64(vf));
                json_object_object_add(vn, "netdev", vd && vd->netdevs ? json_object_new_string(vd->netdevs[0]) : NULL);
                json_object_object_add(vn, "configured", sriov_vf_attrs_to_json(&want));
                json_object_object_add(vn, "kernel", st ? sriov_vf_net_state_to_json(st) : NULL);
                json_object_object_add(vn, "refused", p ? refused_json(p, vf) : json_object_new_array());
                json_object_object_add(vn, "drift", json_object_new_boolean(mask != 0));
                json_object_object_add(vn, "drifted", sriov_vf_attr_mask_to_json(mask));
                json_object_array_add(vfs, vn);
        }
        json_object_object_add(net, "vfs", vfs);
        return net;
}

/* ---- [pf "IFNAME"] sections that name no PF's interface ---- */

json_object *sriovd_netdev_unmatched_json(struct sriovd_netdev *n, bool log) {
        json_object *arr = json_object_new_array();
        const struct sriov_config *c = n ? n->m->config : NULL;

        for (size_t i = 0; c && arr && i < sriov_config_n_pfs(c); i++) {
                const struct sriov_pf_config *p = sriov_config_pf(c, i);
                bool found = false;

                if (p->match_kind != SRIOV_PF_MATCH_IFNAME)
                        continue;
                for (size_t k = 0; !found && k < sriov_model_size(n->m->model); k++) {
                        const struct sriov_device *d = sriov_model_at(n->m->model, k);
                        found = d->role == SRIOV_ROLE_PF && d->netdevs && streq(d->netdevs[0], p->match);
                }
                if (found)
                        continue;
                char msg[256];
                snprintf(msg, sizeof(msg), "%s:%u: [pf \"%s\"] names no SR-IOV PF's network interface; "
                         "nothing is applied until a PF's interface has that name", p->source_file, p->source_line, p->match);
                if (log)
                        log_warning("%s", msg);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "match", json_object_new_string(p->match));
                json_object_object_add(o, "message", json_object_new_string(msg));
                json_object_array_add(arr, o);
        }
        return arr;
}

/* ---- lifetime ---- */

int sriovd_netdev_new(struct sriovd_manager *m, struct sriovd_netdev **ret) {
        struct sriovd_netdev *n = calloc(1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        n->m = m;
        n->fd = -EBADF;
        n->buf = malloc(RECV_BUFFER_SIZE);
        n->coalesce = evtimer_new(m->base, coalesce_cb, n);
        n->periodic = event_new(m->base, -1, EV_PERSIST, periodic_cb, n);
        if (!n->buf || !n->coalesce || !n->periodic) {
                sriovd_netdev_free(n);
                return -ENOMEM;
        }
        event_add(n->periodic, &(struct timeval) { .tv_sec = SRIOVD_NETDEV_PERIODIC_SEC });

        n->fd = open_route_socket();
        if (n->fd < 0)
                log_warning_errno(n->fd, "No rtnetlink link notifications: VF network settings are read only "
                                         "every %d s and after PCI events", SRIOVD_NETDEV_PERIODIC_SEC);
        else {
                n->read_ev = event_new(m->base, n->fd, EV_READ | EV_PERSIST, on_readable, n);
                if (!n->read_ev || event_add(n->read_ev, NULL) < 0) {
                        sriovd_netdev_free(n);
                        return -ENOMEM;
                }
        }
        *ret = n;
        sriovd_netdev_refresh_all(n);
        return 0;
}

struct sriovd_netdev *sriovd_netdev_free(struct sriovd_netdev *n) {
        if (!n)
                return NULL;
        if (n->read_ev)
                event_free(n->read_ev);
        if (n->coalesce)
                event_free(n->coalesce);
        if (n->periodic)
                event_free(n->periodic);
        if (n->fd >= 0)
                close(n->fd);
        for (size_t i = 0; i < n->n_pfs; i++)
                pf_net_done(&n->pfs[i]);
        free(n->pfs);
        free(n->buf);
        free(n);
        return NULL;
}
