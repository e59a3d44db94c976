/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "sriov-vfinfo.h"

/* ---- parsing (pure) ---- */

/* Minimum sizes; libnl's nla_parse() refuses shorter attributes with -NLE_RANGE and
 * strings without their NUL with -NLE_INVAL. */
static struct nla_policy link_policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = { .type = NLA_STRING, .maxlen = IF_NAMESIZE },
        [IFLA_OPERSTATE] = { .type = NLA_U8 },
        [IFLA_NUM_VF] = { .type = NLA_U32 },
        [IFLA_PARENT_DEV_NAME] = { .type = NLA_STRING, .maxlen = 64 },
        [IFLA_PARENT_DEV_BUS_NAME] = { .type = NLA_STRING, .maxlen = 32 },
        [IFLA_VFINFO_LIST] = { .type = NLA_NESTED },
};

static struct nla_policy vf_policy[IFLA_VF_MAX + 1] = {
        [IFLA_VF_MAC] = { .minlen = sizeof(struct ifla_vf_mac) },
        [IFLA_VF_VLAN] = { .minlen = sizeof(struct ifla_vf_vlan) },
        [IFLA_VF_VLAN_LIST] = { .type = NLA_NESTED },
        [IFLA_VF_TX_RATE] = { .minlen = sizeof(struct ifla_vf_tx_rate) },
        [IFLA_VF_RATE] = { .minlen = sizeof(struct ifla_vf_rate) },
        [IFLA_VF_SPOOFCHK] = { .minlen = sizeof(struct ifla_vf_spoofchk) },
        [IFLA_VF_LINK_STATE] = { .minlen = sizeof(struct ifla_vf_link_state) },
        [IFLA_VF_TRUST] = { .minlen = sizeof(struct ifla_vf_trust) },
};

static int setting(uint32_t v) {
        /* The kernel's "not reported" is (u32) -1; anything but 0 and 1 is no setting. */
        return v <= 1 ? (int) v : SRIOV_VF_SETTING_UNKNOWN;
}

static int parse_vf(struct nlattr *info, struct sriov_vf_net_state *ret) {
        struct nlattr *tb[IFLA_VF_MAX + 1];
        struct sriov_vf_net_state s = {
                .spoofchk = SRIOV_VF_SETTING_UNKNOWN,
                .trust = SRIOV_VF_SETTING_UNKNOWN,
                .link_state = SRIOV_VF_SETTING_UNKNOWN,
        };
        bool have_vf = false;

        if (nla_parse_nested(tb, IFLA_VF_MAX, info, vf_policy) < 0)
                return -EBADMSG;

        /* Every struct starts with the VF number; all of them must agree. */
#define TAKE_VF(v)                                              \
        do {                                                    \
                if (have_vf && s.vf != (v))                     \
                        return -EBADMSG;                        \
                s.vf = (v);                                     \
                have_vf = true;                                 \
        } while (0)

        if (tb[IFLA_VF_MAC]) {
                struct ifla_vf_mac m;
                memcpy(&m, nla_data(tb[IFLA_VF_MAC]), sizeof(m));
                TAKE_VF(m.vf);
                s.has_mac = true;
                memcpy(s.mac, m.mac, sizeof(s.mac));
        }
        if (tb[IFLA_VF_VLAN]) {
                struct ifla_vf_vlan v;
                memcpy(&v, nla_data(tb[IFLA_VF_VLAN]), sizeof(v));
                TAKE_VF(v.vf);
                s.has_vlan = true;
                s.vlan = v.vlan;
                s.qos = v.qos;
                s.vlan_proto = SRIOV_VLAN_PROTO_8021Q;
        }
        if (tb[IFLA_VF_VLAN_LIST]) {
                /* The list carries the protocol; the kernel reports one entry. */
                struct nlattr *pos;
                int rem;
                nla_for_each_nested(pos, tb[IFLA_VF_VLAN_LIST], rem) {
                        struct ifla_vf_vlan_info vi;
                        if (nla_type(pos) != IFLA_VF_VLAN_INFO)
                                continue;
                        if (nla_len(pos) < (int) sizeof(vi))
                                return -EBADMSG;
                        memcpy(&vi, nla_data(pos), sizeof(vi));
                        TAKE_VF(vi.vf);
                        s.has_vlan = true;
                        s.vlan = vi.vlan;
                        s.qos = vi.qos;
                        s.vlan_proto = ntohs(vi.vlan_proto);
                        break;
                }
        }
        if (tb[IFLA_VF_RATE]) {
                struct ifla_vf_rate r;
                memcpy(&r, nla_data(tb[IFLA_VF_RATE]), sizeof(r));
                TAKE_VF(r.vf);
                s.has_rate = true;
                s.min_tx_rate = r.min_tx_rate;
                s.max_tx_rate = r.max_tx_rate;
        } else if (tb[IFLA_VF_TX_RATE]) {
                struct ifla_vf_tx_rate r;
                memcpy(&r, nla_data(tb[IFLA_VF_TX_RATE]), sizeof(r));
                TAKE_VF(r.vf);
                s.has_rate = true;
                s.max_tx_rate = r.rate;
        }
        if (tb[IFLA_VF_SPOOFCHK]) {
                struct ifla_vf_spoofchk c;
                memcpy(&c, nla_data(tb[IFLA_VF_SPOOFCHK]), sizeof(c));
                TAKE_VF(c.vf);
                s.spoofchk = setting(c.setting);
        }
        if (tb[IFLA_VF_TRUST]) {
                struct ifla_vf_trust t;
                memcpy(&t, nla_data(tb[IFLA_VF_TRUST]), sizeof(t));
                TAKE_VF(t.vf);
                s.trust = setting(t.setting);
        }
        if (tb[IFLA_VF_LINK_STATE]) {
                struct ifla_vf_link_state l;
                memcpy(&l, nla_data(tb[IFLA_VF_LINK_STATE]), sizeof(l));
                TAKE_VF(l.vf);
                s.link_state = l.link_state < _SRIOV_VF_LINK_STATE_MAX ? (int) l.link_state : SRIOV_VF_SETTING_UNKNOWN;
        }
#undef TAKE_VF
        /* An entry without any struct names no VF. */
        if (!have_vf)
                return -EBADMSG;
        *ret = s;
        return 0;
}

static void copy_string(char *dst, size_t size, struct nlattr *a) {
        /* The policy guarantees the NUL; maxlen bounds the length. */
        snprintf(dst, size, "%s", a ? nla_get_string(a) : "");
}

int sriov_link_info_parse(const void *buf, size_t len, struct sriov_link_info *ret) {
        struct nlattr *tb[IFLA_MAX + 1];
        const struct nlmsghdr *h = buf;
        struct sriov_link_info info = { .operstate = -1, .num_vf = -1 };
        const struct ifinfomsg *ifi;
        _cleanup_free_ struct sriov_vf_net_state *vfs = NULL;
        size_t n = 0;

        if (!ret || (!buf && len > 0))
                return -EINVAL;
        if (len < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
                return -EBADMSG;
        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                return -ENOMSG;
        if (h->nlmsg_len < NLMSG_SPACE(sizeof(struct ifinfomsg)))
                return -EBADMSG;

        /* nlmsg_parse() wants a non-const header; it only reads. */
        if (nlmsg_parse((struct nlmsghdr *) h, sizeof(struct ifinfomsg), tb, IFLA_MAX, link_policy) < 0)
                return -EBADMSG;

        ifi = nlmsg_data(h);
        info.deleted = h->nlmsg_type == RTM_DELLINK;
        info.ifindex = ifi->ifi_index;
        copy_string(info.ifname, sizeof(info.ifname), tb[IFLA_IFNAME]);
        copy_string(info.parent_bus, sizeof(info.parent_bus), tb[IFLA_PARENT_DEV_BUS_NAME]);
        copy_string(info.parent_dev, sizeof(info.parent_dev), tb[IFLA_PARENT_DEV_NAME]);
        if (tb[IFLA_ADDRESS]) {
                int alen = nla_len(tb[IFLA_ADDRESS]);
                if (alen < 0 || (size_t) alen > sizeof(info.address))
                        return -EBADMSG;
                info.address_len = (size_t) alen;
                memcpy(info.address, nla_data(tb[IFLA_ADDRESS]), info.address_len);
        }
        if (tb[IFLA_OPERSTATE])
                info.operstate = nla_get_u8(tb[IFLA_OPERSTATE]);
        if (tb[IFLA_NUM_VF])
                info.num_vf = nla_get_u32(tb[IFLA_NUM_VF]) > INT32_MAX ? -1 : (int) nla_get_u32(tb[IFLA_NUM_VF]);

        if (tb[IFLA_VFINFO_LIST]) {
                struct nlattr *pos;
                size_t count = 0;
                int rem;

                /* Counted first: one allocation, bounded by the message's own size. */
                nla_for_each_nested(pos, tb[IFLA_VFINFO_LIST], rem)
                        if (nla_type(pos) == IFLA_VF_INFO)
                                count++;
                if (rem != 0)
                        return -EBADMSG;        /* trailing bytes that are no attribute */
                if (count > SRIOV_VF_INFO_MAX)
                        return -EBADMSG;
                if (count > 0) {
                        vfs = calloc(count, sizeof(*vfs));
                        if (!vfs)
                                return -ENOMEM;
                }
                nla_for_each_nested(pos, tb[IFLA_VFINFO_LIST], rem) {
                        int r;
                        if (nla_type(pos) != IFLA_VF_INFO)
                                continue;
                        r = parse_vf(pos, &vfs[n]);
                        if (r < 0)
                                return r;
                        n++;
                }
        }

        info.n_vfs = n;
        info.vfs = TAKE_PTR(vfs);
        *ret = info;
        return 0;
}

void sriov_link_info_done(struct sriov_link_info *info) {
        if (!info)
                return;
        free(info->vfs);
        info->vfs = NULL;
        info->n_vfs = 0;
}

const struct sriov_vf_net_state *sriov_link_info_vf(const struct sriov_link_info *info, unsigned vf) {
        if (!info)
                return NULL;
        for (size_t i = 0; i < info->n_vfs; i++)
                if (info->vfs[i].vf == vf)
                        return &info->vfs[i];
        return NULL;
}

int sriov_link_info_pci_parent(const struct sriov_link_info *info, struct sriov_addr *ret) {
        if (!info || !ret || !streq(info->parent_bus, "pci"))
                return -ENOENT;
        return sriov_addr_parse(info->parent_dev, ret) < 0 ? -ENOENT : 0;
}

const char *sriov_operstate_to_string(int operstate) {
        /* The names of net/core/net-sysfs.c's operstates[]. */
        static const char *const names[] = {
                "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
        };
        if (operstate < 0 || (size_t) operstate >= ELEMENTSOF(names))
                return NULL;
        return names[operstate];
}

/* ---- drift ---- */

unsigned sriov_vf_net_state_drift(const struct sriov_vf_attrs *want, const struct sriov_vf_net_state *have) {
        unsigned mask = 0;

        if (!want || !have)
                return 0;
        if (want->mac_set && have->has_mac && memcmp(want->mac, have->mac, 6) != 0)
                mask |= 1u << SRIOV_VF_ATTR_MAC;
        if (want->vlan_set && have->has_vlan) {
                uint16_t want_proto = want->vlan_proto ?: SRIOV_VLAN_PROTO_8021Q;
                uint16_t have_proto = have->vlan_proto ?: SRIOV_VLAN_PROTO_8021Q;
                if (want->vlan != have->vlan || (want->vlan != 0 && (want->qos != have->qos || want_proto != have_proto)))
                        mask |= 1u << SRIOV_VF_ATTR_VLAN;
        }
        if (want->trust_set && have->trust != SRIOV_VF_SETTING_UNKNOWN && have->trust != (int) want->trust)
                mask |= 1u << SRIOV_VF_ATTR_TRUST;
        if (want->spoofchk_set && have->spoofchk != SRIOV_VF_SETTING_UNKNOWN && have->spoofchk != (int) want->spoofchk)
                mask |= 1u << SRIOV_VF_ATTR_SPOOFCHK;
        if (want->link_state_set && have->link_state != SRIOV_VF_SETTING_UNKNOWN &&
            have->link_state != (int) want->link_state)
                mask |= 1u << SRIOV_VF_ATTR_LINK_STATE;
        if ((want->min_tx_rate_set || want->max_tx_rate_set) && have->has_rate) {
                uint32_t min = want->min_tx_rate_set ? want->min_tx_rate : 0;
                uint32_t max = want->max_tx_rate_set ? want->max_tx_rate : 0;
                if (min != have->min_tx_rate || max != have->max_tx_rate)
                        mask |= 1u << SRIOV_VF_ATTR_RATE;
        }
        return mask;
}

/* ---- JSON ---- */

static json_object *mac_json(const uint8_t mac[static 6]) {
        char buf[sizeof("xx:xx:xx:xx:xx:xx")];

        snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return json_object_new_string(buf);
}

static json_object *setting_json(int v) {
        return v == SRIOV_VF_SETTING_UNKNOWN ? NULL : json_object_new_boolean(v);
}

json_object *sriov_vf_net_state_to_json(const struct sriov_vf_net_state *s) {
        json_object *o = json_object_new_object();

        if (!o || !s)
                return o;
        json_object_object_add(o, "vf", json_object_new_int64(s->vf));
        json_object_object_add(o, "mac", s->has_mac ? mac_json(s->mac) : NULL);
        if (s->has_vlan) {
                json_object *v = json_object_new_object();
                json_object_object_add(v, "id", json_object_new_int64(s->vlan));
                json_object_object_add(v, "qos", json_object_new_int64(s->qos));
                const char *proto = sriov_vlan_proto_to_string(s->vlan_proto);
                json_object_object_add(v, "proto", proto ? json_object_new_string(proto) : NULL);
                json_object_object_add(o, "vlan", v);
        } else
                json_object_object_add(o, "vlan", NULL);
        json_object_object_add(o, "spoofchk", setting_json(s->spoofchk));
        json_object_object_add(o, "trust", setting_json(s->trust));
        json_object_object_add(o, "link_state",
                               s->link_state == SRIOV_VF_SETTING_UNKNOWN
                                       ? NULL
                                       : json_object_new_string(sriov_vf_link_state_to_string(s->link_state)));
        if (s->has_rate) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "min_tx_rate", json_object_new_int64(s->min_tx_rate));
                json_object_object_add(r, "max_tx_rate", json_object_new_int64(s->max_tx_rate));
                json_object_object_add(o, "rate", r);
        } else
                json_object_object_add(o, "rate", NULL);
        return o;
}

json_object *sriov_vf_attrs_to_json(const struct sriov_vf_attrs *a) {
        static const char *const keys[_SRIOV_VF_ATTR_MAX] = {
                [SRIOV_VF_ATTR_MAC] = "mac",
                [SRIOV_VF_ATTR_VLAN] = "vlan",
                [SRIOV_VF_ATTR_TRUST] = "trust",
                [SRIOV_VF_ATTR_SPOOFCHK] = "spoofchk",
                [SRIOV_VF_ATTR_LINK_STATE] = "link_state",
                [SRIOV_VF_ATTR_RATE] = "rate",
        };
        json_object *o = json_object_new_object();

        if (!o || !a)
                return o;
        for (SriovVfAttr k = 0; k < _SRIOV_VF_ATTR_MAX; k++) {
                bool set = k == SRIOV_VF_ATTR_MAC          ? a->mac_set
                           : k == SRIOV_VF_ATTR_VLAN       ? a->vlan_set
                           : k == SRIOV_VF_ATTR_TRUST      ? a->trust_set
                           : k == SRIOV_VF_ATTR_SPOOFCHK   ? a->spoofchk_set
                           : k == SRIOV_VF_ATTR_LINK_STATE ? a->link_state_set
                                                           : (a->min_tx_rate_set || a->max_tx_rate_set);
                if (set)
                        json_object_object_add(o, keys[k], sriov_vf_attr_value_to_json(k, a));
        }
        return o;
}

json_object *sriov_vf_attr_mask_to_json(unsigned mask) {
        json_object *arr = json_object_new_array();

        for (SriovVfAttr k = 0; arr && k < _SRIOV_VF_ATTR_MAX; k++)
                if (mask & (1u << k))
                        json_object_array_add(arr, json_object_new_string(sriov_vf_attr_to_string(k)));
        return arr;
}

/* ---- the query (I/O) ---- */

static void nl_sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}

static void nl_msg_freep(struct nl_msg **m) {
        if (*m)
                nlmsg_free(*m);
}

int sriov_netlink_query_link(int ifindex, struct sriov_link_info *ret) {
        _cleanup_(nl_sock_freep) struct nl_sock *sk = NULL;
        _cleanup_(nl_msg_freep) struct nl_msg *m = NULL;
        struct ifinfomsg ifi;
        struct timeval tv = { .tv_sec = 5 };
        uint32_t seq;
        int r;

        if (ifindex <= 0 || !ret)
                return -EINVAL;

        sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return sriov_nle_to_errno(r);
        /* A PF with thousands of VFs answers with one large message: peek its size first.
         * And a bounded wait: a worker must not hang on a kernel that never answers. */
        nl_socket_enable_msg_peek(sk);
        if (setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return negative_errno();

        m = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST);
        if (!m)
                return -ENOMEM;
        memset(&ifi, 0, sizeof(ifi));
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = ifindex;
        r = nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r >= 0)
                r = nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_VF);
        if (r < 0)
                return sriov_nle_to_errno(r);
        r = nl_send_auto(sk, m);
        if (r < 0)
                return sriov_nle_to_errno(r);
        seq = nlmsg_hdr(m)->nlmsg_seq;

        for (;;) {
                _cleanup_free_ unsigned char *buf = NULL;
                struct sockaddr_nl peer;
                int len = nl_recv(sk, &peer, &buf, NULL);

                if (len < 0)
                        return sriov_nle_to_errno(len);
                if (len == 0)
                        return -EIO;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = nlmsg_data(h);
                                if (h->nlmsg_len < NLMSG_SPACE(sizeof(*e)))
                                        return -EBADMSG;
                                return e->error < 0 ? e->error : -EIO;
                        }
                        return sriov_link_info_parse(h, h->nlmsg_len, ret);
                }
        }
}
