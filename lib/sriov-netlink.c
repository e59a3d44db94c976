/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "sriov-netlink.h"

/* Our enum is the kernel's, so the value can be sent as is. */
_Static_assert((int) SRIOV_VF_LINK_STATE_AUTO == (int) IFLA_VF_LINK_STATE_AUTO, "link state");
_Static_assert((int) SRIOV_VF_LINK_STATE_ENABLE == (int) IFLA_VF_LINK_STATE_ENABLE, "link state");
_Static_assert((int) SRIOV_VF_LINK_STATE_DISABLE == (int) IFLA_VF_LINK_STATE_DISABLE, "link state");

static void nl_msg_freep(struct nl_msg **m) {
        if (*m)
                nlmsg_free(*m);
}

static void nl_sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}

static void nl_cb_putp(struct nl_cb **cb) {
        if (*cb)
                nl_cb_put(*cb);
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static const char *const attr_names[_SRIOV_VF_ATTR_MAX] = {
        [SRIOV_VF_ATTR_MAC] = "mac",
        [SRIOV_VF_ATTR_VLAN] = "vlan",
        [SRIOV_VF_ATTR_TRUST] = "trust",
        [SRIOV_VF_ATTR_SPOOFCHK] = "spoofchk",
        [SRIOV_VF_ATTR_LINK_STATE] = "link-state",
        [SRIOV_VF_ATTR_RATE] = "rate",
};

static const char *const link_state_names[_SRIOV_VF_LINK_STATE_MAX] = {
        [SRIOV_VF_LINK_STATE_AUTO] = "auto",
        [SRIOV_VF_LINK_STATE_ENABLE] = "enable",
        [SRIOV_VF_LINK_STATE_DISABLE] = "disable",
};

const char *sriov_vf_attr_to_string(SriovVfAttr a) {
        if (a < 0 || a >= _SRIOV_VF_ATTR_MAX)
                return NULL;
        return attr_names[a];
}

SriovVfAttr sriov_vf_attr_from_string(const char *s) {
        if (!s)
                return _SRIOV_VF_ATTR_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(attr_names); i++)
                if (streq(s, attr_names[i]))
                        return (SriovVfAttr) i;
        return _SRIOV_VF_ATTR_INVALID;
}

const char *sriov_vf_link_state_to_string(SriovVfLinkState s) {
        if (s < 0 || s >= _SRIOV_VF_LINK_STATE_MAX)
                return NULL;
        return link_state_names[s];
}

const char *sriov_vlan_proto_to_string(uint16_t proto) {
        switch (proto) {
        case 0:
        case SRIOV_VLAN_PROTO_8021Q:
                return "802.1Q";
        case SRIOV_VLAN_PROTO_8021AD:
                return "802.1ad";
        default:
                return NULL;
        }
}

/* ---- parsers ---- */

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

static bool mac_is_multicast(const uint8_t mac[static 6]) {
        return mac[0] & 0x01; /* includes broadcast */
}

static bool mac_is_zero(const uint8_t mac[static 6]) {
        for (size_t i = 0; i < 6; i++)
                if (mac[i] != 0)
                        return false;
        return true;
}

int sriov_parse_mac(const char *s, uint8_t ret[static 6]) {
        uint8_t mac[6];
        char sep;

        if (!s || !ret)
                return -EINVAL;
        if (strlen(s) != 17)
                return -EINVAL;

        sep = s[2];
        if (sep != ':' && sep != '-')
                return -EINVAL;

        for (size_t i = 0; i < 6; i++) {
                const char *p = s + i * 3;
                int hi = hexval(p[0]), lo = hexval(p[1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i < 5 && p[2] != sep)
                        return -EINVAL;
                mac[i] = (uint8_t) (hi << 4 | lo);
        }

        if (mac_is_multicast(mac) || mac_is_zero(mac))
                return -EADDRNOTAVAIL;

        memcpy(ret, mac, sizeof(mac));
        return 0;
}

int sriov_parse_link_state(const char *s, SriovVfLinkState *ret) {
        if (!s || !ret)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(link_state_names); i++)
                if (streq(s, link_state_names[i])) {
                        *ret = (SriovVfLinkState) i;
                        return 0;
                }
        return -EINVAL;
}

int sriov_parse_vlan_proto(const char *s, uint16_t *ret) {
        if (!s || !ret)
                return -EINVAL;
        if (strcasecmp(s, "802.1Q") == 0)
                *ret = SRIOV_VLAN_PROTO_8021Q;
        else if (strcasecmp(s, "802.1ad") == 0)
                *ret = SRIOV_VLAN_PROTO_8021AD;
        else
                return -EINVAL;
        return 0;
}

int sriov_netlink_ifindex(const char *ifname) {
        unsigned idx;

        if (!ifname || ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE)
                return -EINVAL;

        idx = if_nametoindex(ifname);
        if (idx == 0)
                return negative_errno();
        if (idx > INT_MAX)
                return -ERANGE;
        return (int) idx;
}

/* ---- libnl at the edge ---- */

int sriov_nle_to_errno(int nle) {
        static const int map[] = {
                [NLE_SUCCESS] = 0,
                [NLE_FAILURE] = EIO,
                [NLE_INTR] = EINTR,
                [NLE_BAD_SOCK] = EBADF,
                [NLE_AGAIN] = EAGAIN,
                [NLE_NOMEM] = ENOMEM,
                [NLE_EXIST] = EEXIST,
                [NLE_INVAL] = EINVAL,
                [NLE_RANGE] = ERANGE,
                [NLE_MSGSIZE] = EMSGSIZE,
                [NLE_OPNOTSUPP] = EOPNOTSUPP,
                [NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
                [NLE_OBJ_NOTFOUND] = ENOENT,
                [NLE_NOATTR] = ENODATA,
                [NLE_MISSING_ATTR] = EINVAL,
                [NLE_AF_MISMATCH] = EAFNOSUPPORT,
                [NLE_SEQ_MISMATCH] = EILSEQ,
                [NLE_MSG_OVERFLOW] = EOVERFLOW,
                [NLE_MSG_TRUNC] = EMSGSIZE,
                [NLE_NOADDR] = EADDRNOTAVAIL,
                [NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
                [NLE_MSG_TOOSHORT] = EBADMSG,
                [NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
                [NLE_OBJ_MISMATCH] = EINVAL,
                [NLE_NOCACHE] = ENOENT,
                [NLE_BUSY] = EBUSY,
                [NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
                [NLE_NOACCESS] = EACCES,
                [NLE_PERM] = EPERM,
                [NLE_PKTLOC_FILE] = ENOENT,
                [NLE_PARSE_ERR] = EBADMSG,
                [NLE_NODEV] = ENODEV,
                [NLE_IMMUTABLE] = EROFS,
                [NLE_DUMP_INTR] = EINTR,
                [NLE_ATTRSIZE] = ERANGE,
        };
        unsigned n = nle < 0 ? -(unsigned) nle : (unsigned) nle;

        if (n == 0)
                return 0;
        if (n >= ELEMENTSOF(map) || map[n] == 0)
                return -EIO; /* a code newer than this table */
        return -map[n];
}

/* ---- validation ---- */

int sriov_vf_attrs_validate(int pf_ifindex, unsigned vf_index, const struct sriov_vf_attrs *a) {
        if (!a || pf_ifindex <= 0)
                return -EINVAL;
        /* do_setvfinfo() refuses vf >= INT_MAX for every attribute. */
        if (vf_index >= INT_MAX)
                return -ERANGE;

        if (a->mac_set && (mac_is_multicast(a->mac) || mac_is_zero(a->mac)))
                return -EINVAL;

        if (a->vlan_set) {
                if (a->vlan > SRIOV_VLAN_ID_MAX || a->qos > SRIOV_VLAN_QOS_MAX)
                        return -ERANGE;
                if (!sriov_vlan_proto_to_string(a->vlan_proto))
                        return -EINVAL;
        }

        if (a->link_state_set && !sriov_vf_link_state_to_string(a->link_state))
                return -EINVAL;

        /* max_tx_rate 0 means "no limit", so any minimum is compatible with it. */
        if (a->min_tx_rate_set && a->max_tx_rate_set && a->max_tx_rate > 0 &&
            a->min_tx_rate > a->max_tx_rate)
                return -EINVAL;

        return 0;
}

static bool attr_is_set(SriovVfAttr attr, const struct sriov_vf_attrs *a) {
        switch (attr) {
        case SRIOV_VF_ATTR_MAC:
                return a->mac_set;
        case SRIOV_VF_ATTR_VLAN:
                return a->vlan_set;
        case SRIOV_VF_ATTR_TRUST:
                return a->trust_set;
        case SRIOV_VF_ATTR_SPOOFCHK:
                return a->spoofchk_set;
        case SRIOV_VF_ATTR_LINK_STATE:
                return a->link_state_set;
        case SRIOV_VF_ATTR_RATE:
                return a->min_tx_rate_set || a->max_tx_rate_set;
        default:
                return false;
        }
}

/* A copy of a in which only attr is marked set; unset halves of the rate become 0, the
 * VLAN protocol is spelled out. This is what the request carries. */
static struct sriov_vf_attrs attr_only(SriovVfAttr attr, const struct sriov_vf_attrs *a) {
        struct sriov_vf_attrs v = {};

        switch (attr) {
        case SRIOV_VF_ATTR_MAC:
                v.mac_set = true;
                memcpy(v.mac, a->mac, sizeof(v.mac));
                break;
        case SRIOV_VF_ATTR_VLAN:
                v.vlan_set = true;
                v.vlan = a->vlan;
                v.qos = a->qos;
                v.vlan_proto = a->vlan_proto ?: SRIOV_VLAN_PROTO_8021Q;
                break;
        case SRIOV_VF_ATTR_TRUST:
                v.trust_set = true;
                v.trust = a->trust;
                break;
        case SRIOV_VF_ATTR_SPOOFCHK:
                v.spoofchk_set = true;
                v.spoofchk = a->spoofchk;
                break;
        case SRIOV_VF_ATTR_LINK_STATE:
                v.link_state_set = true;
                v.link_state = a->link_state;
                break;
        case SRIOV_VF_ATTR_RATE:
                v.min_tx_rate_set = v.max_tx_rate_set = true;
                v.min_tx_rate = a->min_tx_rate_set ? a->min_tx_rate : 0;
                v.max_tx_rate = a->max_tx_rate_set ? a->max_tx_rate : 0;
                break;
        default:
                break;
        }
        return v;
}

/* ---- building ---- */

/* Puts the one IFLA_VF_* attribute. The kernel structs are memset, not initialised with
 * {}, because their padding (ifla_vf_vlan_info has two bytes) goes on the wire too. */
static int put_vf_attr(struct nl_msg *m, SriovVfAttr attr, uint32_t vf, const struct sriov_vf_attrs *v) {
        switch (attr) {
        case SRIOV_VF_ATTR_MAC: {
                struct ifla_vf_mac ivm;

                memset(&ivm, 0, sizeof(ivm));
                ivm.vf = vf;
                memcpy(ivm.mac, v->mac, sizeof(v->mac));
                return nla_put(m, IFLA_VF_MAC, sizeof(ivm), &ivm);
        }
        case SRIOV_VF_ATTR_VLAN: {
                /* IFLA_VF_VLAN_LIST rather than the older IFLA_VF_VLAN: it is the only one
                 * that carries the protocol, and the kernel (>= 4.9) routes both to the
                 * same ndo_set_vf_vlan(). vlan_proto is big-endian on the wire. */
                struct ifla_vf_vlan_info ivvi;
                struct nlattr *list;
                int r;

                memset(&ivvi, 0, sizeof(ivvi));
                ivvi.vf = vf;
                ivvi.vlan = v->vlan;
                ivvi.qos = v->qos;
                ivvi.vlan_proto = htons(v->vlan_proto);

                list = nla_nest_start(m, IFLA_VF_VLAN_LIST);
                if (!list)
                        return -NLE_MSGSIZE;
                r = nla_put(m, IFLA_VF_VLAN_INFO, sizeof(ivvi), &ivvi);
                if (r < 0)
                        return r;
                return nla_nest_end(m, list);
        }
        case SRIOV_VF_ATTR_TRUST: {
                struct ifla_vf_trust ivt;

                memset(&ivt, 0, sizeof(ivt));
                ivt.vf = vf;
                ivt.setting = v->trust;
                return nla_put(m, IFLA_VF_TRUST, sizeof(ivt), &ivt);
        }
        case SRIOV_VF_ATTR_SPOOFCHK: {
                struct ifla_vf_spoofchk ivs;

                memset(&ivs, 0, sizeof(ivs));
                ivs.vf = vf;
                ivs.setting = v->spoofchk;
                return nla_put(m, IFLA_VF_SPOOFCHK, sizeof(ivs), &ivs);
        }
        case SRIOV_VF_ATTR_LINK_STATE: {
                struct ifla_vf_link_state ivl;

                memset(&ivl, 0, sizeof(ivl));
                ivl.vf = vf;
                ivl.link_state = (uint32_t) v->link_state;
                return nla_put(m, IFLA_VF_LINK_STATE, sizeof(ivl), &ivl);
        }
        case SRIOV_VF_ATTR_RATE: {
                struct ifla_vf_rate ivr;

                memset(&ivr, 0, sizeof(ivr));
                ivr.vf = vf;
                ivr.min_tx_rate = v->min_tx_rate;
                ivr.max_tx_rate = v->max_tx_rate;
                return nla_put(m, IFLA_VF_RATE, sizeof(ivr), &ivr);
        }
        default:
                return -NLE_INVAL;
        }
}

static int build_one(int pf_ifindex, uint32_t vf, SriovVfAttr attr, const struct sriov_vf_attrs *v,
                     struct nl_msg **ret) {
        _cleanup_(nl_msg_freep) struct nl_msg *m = NULL;
        struct ifinfomsg ifi;
        struct nlattr *list, *info;
        int r;

        m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        if (!m)
                return -ENOMEM;

        memset(&ifi, 0, sizeof(ifi));
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = pf_ifindex;
        r = nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r < 0)
                return sriov_nle_to_errno(r);

        list = nla_nest_start(m, IFLA_VFINFO_LIST);
        if (!list)
                return -EMSGSIZE;
        info = nla_nest_start(m, IFLA_VF_INFO);
        if (!info)
                return -EMSGSIZE;

        r = put_vf_attr(m, attr, vf, v);
        if (r < 0)
                return sriov_nle_to_errno(r);

        r = nla_nest_end(m, info);
        if (r < 0)
                return sriov_nle_to_errno(r);
        r = nla_nest_end(m, list);
        if (r < 0)
                return sriov_nle_to_errno(r);

        *ret = TAKE_PTR(m);
        return 0;
}

struct sriov_nl_request *sriov_nl_requests_free(struct sriov_nl_request *reqs) {
        if (!reqs)
                return NULL;
        for (struct sriov_nl_request *r = reqs; r->msg; r++)
                nlmsg_free(r->msg);
        free(reqs);
        return NULL;
}

int sriov_netlink_build_requests(int pf_ifindex, unsigned vf_index, const struct sriov_vf_attrs *attrs,
                                 struct sriov_nl_request **ret, size_t *ret_n) {
        _cleanup_(sriov_nl_requests_freep) struct sriov_nl_request *reqs = NULL;
        size_t n = 0;
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        /* Everything is checked before the first message exists. */
        r = sriov_vf_attrs_validate(pf_ifindex, vf_index, attrs);
        if (r < 0)
                return r;

        /* +1: the terminating entry with msg == NULL. */
        reqs = calloc(_SRIOV_VF_ATTR_MAX + 1, sizeof(*reqs));
        if (!reqs)
                return -ENOMEM;

        for (SriovVfAttr a = 0; a < _SRIOV_VF_ATTR_MAX; a++) {
                struct sriov_nl_request *req = &reqs[n];

                if (!attr_is_set(a, attrs))
                        continue;

                *req = (struct sriov_nl_request) {
                        .attr = a,
                        .pf_ifindex = pf_ifindex,
                        .vf = vf_index,
                        .value = attr_only(a, attrs),
                };
                r = build_one(pf_ifindex, vf_index, a, &req->value, &req->msg);
                if (r < 0)
                        return r;
                n++;
        }

        *ret = TAKE_PTR(reqs);
        *ret_n = n;
        return (int) n;
}

/* ---- sending ---- */

struct ack_state {
        uint32_t seq;
        bool done;
        int error;
};

/* Only the answer to the request just sent counts: anything else that a caller's socket
 * had queued is skipped rather than taken for it. */
static int on_seq_check(struct nl_msg *msg, void *userdata) {
        struct ack_state *s = userdata;

        return nlmsg_hdr(msg)->nlmsg_seq == s->seq ? NL_OK : NL_SKIP;
}

static int on_ack(_unused_ struct nl_msg *msg, void *userdata) {
        struct ack_state *s = userdata;

        s->error = 0;
        s->done = true;
        return NL_STOP;
}

/* The kernel's errno, before libnl folds it into an NLE_* code. */
static int on_error(_unused_ struct sockaddr_nl *nla, struct nlmsgerr *e, void *userdata) {
        struct ack_state *s = userdata;

        s->error = e->error < 0 ? e->error : -EIO;
        s->done = true;
        return NL_STOP;
}

static int send_and_wait(struct nl_sock *sk, struct nl_cb *cb, struct nl_msg *msg) {
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct ack_state s = {};
        int r;

        /* Let libnl number and address the message for this socket, also on a resend. */
        h->nlmsg_seq = NL_AUTO_SEQ;
        h->nlmsg_pid = NL_AUTO_PORT;

        r = nl_send_auto(sk, msg);
        if (r < 0)
                return sriov_nle_to_errno(r);
        s.seq = h->nlmsg_seq;

        r = nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, &s);
        if (r >= 0)
                r = nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &s);
        if (r >= 0)
                r = nl_cb_err(cb, NL_CB_CUSTOM, on_error, &s);
        if (r < 0)
                return sriov_nle_to_errno(r);

        while (!s.done) {
                r = nl_recvmsgs(sk, cb);
                if (s.done)
                        break;
                if (r < 0)
                        return sriov_nle_to_errno(r);
        }
        return s.error;
}

int sriov_netlink_apply(struct nl_sock *sk, const struct sriov_nl_request *reqs, size_t n_reqs,
                        struct sriov_nl_result **ret, size_t *ret_n) {
        _cleanup_(nl_sock_freep) struct nl_sock *own = NULL;
        _cleanup_(nl_cb_putp) struct nl_cb *cb = NULL;
        _cleanup_free_ struct sriov_nl_result *results = NULL;
        int r, n_failed = 0;

        if (!ret || !ret_n || (n_reqs > 0 && !reqs))
                return -EINVAL;
        if (n_reqs > INT_MAX)
                return -E2BIG;

        results = calloc(n_reqs ?: 1, sizeof(*results));
        if (!results)
                return -ENOMEM;

        if (n_reqs > 0 && !sk) {
                own = nl_socket_alloc();
                if (!own)
                        return -ENOMEM;
                r = nl_connect(own, NETLINK_ROUTE); /* SOCK_CLOEXEC in libnl >= 3.2.25 */
                if (r < 0)
                        return sriov_nle_to_errno(r);
                sk = own;
        }

        cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;

        for (size_t i = 0; i < n_reqs; i++) {
                const struct sriov_nl_request *req = &reqs[i];

                results[i] = (struct sriov_nl_result) {
                        .attr = req->attr,
                        .pf_ifindex = req->pf_ifindex,
                        .vf = req->vf,
                        .value = req->value,
                };

                /* A failure is recorded and the next attribute is still tried. */
                results[i].error = req->msg ? send_and_wait(sk, cb, req->msg) : -EINVAL;
                if (results[i].error < 0)
                        n_failed++;
        }

        *ret = TAKE_PTR(results);
        *ret_n = n_reqs;
        return n_failed;
}

/* ---- JSON ---- */

static json_object *mac_to_json(const uint8_t mac[static 6]) {
        char buf[sizeof("xx:xx:xx:xx:xx:xx")];

        (void) snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
                        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return json_object_new_string(buf);
}

static int obj_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

json_object *sriov_vf_attr_value_to_json(SriovVfAttr a, const struct sriov_vf_attrs *attrs) {
        _cleanup_(json_putp) json_object *o = NULL;
        struct sriov_vf_attrs v;

        if (!attrs || a < 0 || a >= _SRIOV_VF_ATTR_MAX)
                return NULL;

        v = attr_only(a, attrs);

        switch (a) {
        case SRIOV_VF_ATTR_MAC:
                return mac_to_json(v.mac);
        case SRIOV_VF_ATTR_VLAN:
                o = json_object_new_object();
                if (!o ||
                    obj_add(o, "id", json_object_new_int64(v.vlan)) < 0 ||
                    obj_add(o, "qos", json_object_new_int64(v.qos)) < 0 ||
                    obj_add(o, "proto", json_object_new_string(strna(sriov_vlan_proto_to_string(v.vlan_proto)))) < 0)
                        return NULL;
                return TAKE_PTR(o);
        case SRIOV_VF_ATTR_TRUST:
                return json_object_new_boolean(v.trust);
        case SRIOV_VF_ATTR_SPOOFCHK:
                return json_object_new_boolean(v.spoofchk);
        case SRIOV_VF_ATTR_LINK_STATE:
                return json_object_new_string(strna(sriov_vf_link_state_to_string(v.link_state)));
        case SRIOV_VF_ATTR_RATE:
                o = json_object_new_object();
                if (!o ||
                    obj_add(o, "min_tx_rate", json_object_new_int64(v.min_tx_rate)) < 0 ||
                    obj_add(o, "max_tx_rate", json_object_new_int64(v.max_tx_rate)) < 0)
                        return NULL;
                return TAKE_PTR(o);
        default:
                return NULL;
        }
}

static json_object *result_to_json(const struct sriov_nl_result *res) {
        _cleanup_(json_putp) json_object *o = NULL;
        json_object *value;

        o = json_object_new_object();
        if (!o)
                return NULL;

        if (obj_add(o, "attribute", json_object_new_string(strna(sriov_vf_attr_to_string(res->attr)))) < 0 ||
            obj_add(o, "pf_ifindex", json_object_new_int(res->pf_ifindex)) < 0 ||
            obj_add(o, "vf", json_object_new_int64(res->vf)) < 0)
                return NULL;

        /* json-c's null is NULL: an unknown attribute gets "value": null. */
        value = sriov_vf_attr_value_to_json(res->attr, &res->value);
        if (!value && sriov_vf_attr_to_string(res->attr))
                return NULL;
        if (json_object_object_add(o, "value", value) < 0) {
                json_object_put(value);
                return NULL;
        }

        if (obj_add(o, "ok", json_object_new_boolean(res->error >= 0)) < 0)
                return NULL;

        if (res->error < 0) {
                const char *name = strerrorname_np(-res->error);

                if (obj_add(o, "errno", json_object_new_int(-res->error)) < 0 ||
                    obj_add(o, "error", json_object_new_string(strna(name))) < 0 ||
                    obj_add(o, "message", json_object_new_string(strna(strerrordesc_np(-res->error)))) < 0)
                        return NULL;
        }

        return TAKE_PTR(o);
}

json_object *sriov_nl_results_to_json(const struct sriov_nl_result *results, size_t n) {
        _cleanup_(json_putp) json_object *arr = NULL;

        if (n > 0 && !results)
                return NULL;

        arr = json_object_new_array();
        if (!arr)
                return NULL;

        for (size_t i = 0; i < n; i++) {
                json_object *o = result_to_json(&results[i]);

                if (!o)
                        return NULL;
                if (json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        }

        return TAKE_PTR(arr);
}
