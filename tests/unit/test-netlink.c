/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-VF attribute requests. There is no SR-IOV NIC (nor netdevsim) on the build machines,
 * so every request is built and then taken apart again with libnl's own parser, checked
 * field by field and byte by byte against a struct built here independently. The send
 * path runs against the real kernel on `lo`, which has no VFs: every attribute must come
 * back with its own kernel errno, and every one must have been tried. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "sriov-netlink.h"
#include "unit-test.h"

/* ---- counting (and failing) message allocations ----
 * The test binary's definition takes precedence over libnl's for the module under test,
 * which lets the tests see whether a message was built at all and inject ENOMEM. */
static unsigned n_msg_allocs;
static unsigned fail_msg_alloc_at; /* 1-based; 0: never */

struct nl_msg *nlmsg_alloc_simple(int type, int flags) {
        static struct nl_msg *(*real)(int, int);

        if (!real) {
                real = (struct nl_msg * (*) (int, int)) dlsym(RTLD_NEXT, "nlmsg_alloc_simple");
                if (!real)
                        abort();
        }
        n_msg_allocs++;
        if (fail_msg_alloc_at != 0 && n_msg_allocs == fail_msg_alloc_at)
                return NULL;
        return real(type, flags);
}

static void reset_allocs(void) {
        n_msg_allocs = 0;
        fail_msg_alloc_at = 0;
}

static void nl_sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

#define MAC(a, b, c, d, e, f) .mac_set = true, .mac = { a, b, c, d, e, f }

/* ---- building ---- */

struct build_case {
        const char *name;
        int pf_ifindex;
        unsigned vf;
        struct sriov_vf_attrs attrs;
        int ret;        /* number of requests, or -errno */
};

static const struct build_case build_cases[] = {
        { "none", 7, 0, {}, 0 },
        { "mac", 7, 3, { MAC(0x02, 0x11, 0x22, 0x33, 0x44, 0x55) }, 1 },
        { "mac-oui", 7, 0, { MAC(0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc) }, 1 },
        { "vlan-8021q", 7, 1, { .vlan_set = true, .vlan = 100, .qos = 3, .vlan_proto = 0x8100 }, 1 },
        { "vlan-default-proto", 7, 1, { .vlan_set = true, .vlan = 4095, .qos = 7 }, 1 },
        { "vlan-8021ad", 7, 2, { .vlan_set = true, .vlan = 1, .vlan_proto = 0x88a8 }, 1 },
        { "vlan-clear", 7, 2, { .vlan_set = true, .vlan = 0 }, 1 },
        { "vlan-priority-only", 7, 2, { .vlan_set = true, .vlan = 0, .qos = 5 }, 1 },
        { "trust-on", 3, 4, { .trust_set = true, .trust = true }, 1 },
        { "trust-off", 3, 4, { .trust_set = true, .trust = false }, 1 },
        { "spoofchk-on", 3, 5, { .spoofchk_set = true, .spoofchk = true }, 1 },
        { "spoofchk-off", 3, 5, { .spoofchk_set = true, .spoofchk = false }, 1 },
        { "link-auto", 3, 6, { .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_AUTO }, 1 },
        { "link-enable", 3, 6, { .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_ENABLE }, 1 },
        { "link-disable", 3, 6, { .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_DISABLE }, 1 },
        { "rate-both", 9, 7, { .min_tx_rate_set = true, .min_tx_rate = 100, .max_tx_rate_set = true, .max_tx_rate = 1000 }, 1 },
        { "rate-equal", 9, 7, { .min_tx_rate_set = true, .min_tx_rate = 400, .max_tx_rate_set = true, .max_tx_rate = 400 }, 1 },
        { "rate-max-only", 9, 7, { .max_tx_rate_set = true, .max_tx_rate = 500 }, 1 },
        { "rate-min-only", 9, 7, { .min_tx_rate_set = true, .min_tx_rate = 200 }, 1 },
        { "rate-min-with-unlimited-max", 9, 7, { .min_tx_rate_set = true, .min_tx_rate = 500, .max_tx_rate_set = true, .max_tx_rate = 0 }, 1 },
        { "rate-clear", 9, 7, { .min_tx_rate_set = true, .max_tx_rate_set = true }, 1 },
        { "trust-and-spoofchk", 2, 0, { .trust_set = true, .trust = true, .spoofchk_set = true }, 2 },
        { "all", 12, 63,
          { MAC(0x02, 0, 0, 0, 0, 0x3f), .vlan_set = true, .vlan = 42, .qos = 2, .vlan_proto = 0x88a8,
            .trust_set = true, .trust = true, .spoofchk_set = true, .spoofchk = false,
            .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_DISABLE,
            .min_tx_rate_set = true, .min_tx_rate = 10, .max_tx_rate_set = true, .max_tx_rate = 25000 }, 6 },
        { "vf-largest", 1, INT_MAX - 1, { .trust_set = true }, 1 },
        { "pf-largest", INT_MAX, 0, { .spoofchk_set = true }, 1 },

        /* Hostile values: refused before any message exists, even with valid attributes
         * next to them. */
        { "bad-vlan-4096", 7, 0, { .trust_set = true, .vlan_set = true, .vlan = 4096 }, -ERANGE },
        { "bad-vlan-70000", 7, 0, { .trust_set = true, .vlan_set = true, .vlan = 70000 }, -ERANGE },
        { "bad-vlan-uint32-max", 7, 0, { .vlan_set = true, .vlan = UINT32_MAX }, -ERANGE },
        { "bad-qos-8", 7, 0, { .trust_set = true, .vlan_set = true, .vlan = 10, .qos = 8 }, -ERANGE },
        { "bad-qos-huge", 7, 0, { .vlan_set = true, .vlan = 10, .qos = 1u << 31 }, -ERANGE },
        { "bad-proto-9100", 7, 0, { .trust_set = true, .vlan_set = true, .vlan = 10, .vlan_proto = 0x9100 }, -EINVAL },
        { "bad-proto-ipv4", 7, 0, { .vlan_set = true, .vlan = 10, .vlan_proto = 0x0800 }, -EINVAL },
        { "bad-proto-swapped", 7, 0, { .vlan_set = true, .vlan = 10, .vlan_proto = 0x0081 }, -EINVAL },
        { "bad-link-state-3", 7, 0, { .trust_set = true, .link_state_set = true, .link_state = 3 }, -EINVAL },
        { "bad-link-state-negative", 7, 0, { .link_state_set = true, .link_state = -1 }, -EINVAL },
        { "bad-rate-min-gt-max", 7, 0,
          { .trust_set = true, .min_tx_rate_set = true, .min_tx_rate = 1001, .max_tx_rate_set = true, .max_tx_rate = 1000 }, -EINVAL },
        { "bad-mac-multicast", 7, 0, { .trust_set = true, MAC(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01) }, -EINVAL },
        { "bad-mac-broadcast", 7, 0, { MAC(0xff, 0xff, 0xff, 0xff, 0xff, 0xff) }, -EINVAL },
        { "bad-mac-zero", 7, 0, { .trust_set = true, .mac_set = true }, -EINVAL },
        { "bad-pf-0", 0, 0, { .trust_set = true }, -EINVAL },
        { "bad-pf-negative", -5, 0, { .trust_set = true }, -EINVAL },
        { "bad-vf-int-max", 7, INT_MAX, { .trust_set = true }, -ERANGE },
        { "bad-vf-uint-max", 7, UINT_MAX, { .trust_set = true }, -ERANGE },
};

static size_t count_set(const struct sriov_vf_attrs *a) {
        return a->mac_set + a->vlan_set + a->trust_set + a->spoofchk_set + a->link_state_set +
               (a->min_tx_rate_set || a->max_tx_rate_set);
}

/* What the kernel's uapi struct for attr must hold, byte for byte, built independently of
 * the module (memset so that padding compares equal). */
static size_t expected_payload(SriovVfAttr attr, unsigned vf, const struct sriov_vf_attrs *a, void *buf) {
        switch (attr) {
        case SRIOV_VF_ATTR_MAC: {
                struct ifla_vf_mac *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                memcpy(p->mac, a->mac, 6);
                return sizeof(*p);
        }
        case SRIOV_VF_ATTR_VLAN: {
                struct ifla_vf_vlan_info *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                p->vlan = a->vlan;
                p->qos = a->qos;
                p->vlan_proto = htons(a->vlan_proto ? a->vlan_proto : 0x8100);
                return sizeof(*p);
        }
        case SRIOV_VF_ATTR_TRUST: {
                struct ifla_vf_trust *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                p->setting = a->trust;
                return sizeof(*p);
        }
        case SRIOV_VF_ATTR_SPOOFCHK: {
                struct ifla_vf_spoofchk *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                p->setting = a->spoofchk;
                return sizeof(*p);
        }
        case SRIOV_VF_ATTR_LINK_STATE: {
                struct ifla_vf_link_state *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                p->link_state = (uint32_t) a->link_state;
                return sizeof(*p);
        }
        case SRIOV_VF_ATTR_RATE: {
                struct ifla_vf_rate *p = buf;
                memset(p, 0, sizeof(*p));
                p->vf = vf;
                p->min_tx_rate = a->min_tx_rate_set ? a->min_tx_rate : 0;
                p->max_tx_rate = a->max_tx_rate_set ? a->max_tx_rate : 0;
                return sizeof(*p);
        }
        default:
                fail_msg("unexpected attribute %d", attr);
                return 0;
        }
}

static const int vf_attr_type[_SRIOV_VF_ATTR_MAX] = {
        [SRIOV_VF_ATTR_MAC] = IFLA_VF_MAC,
        [SRIOV_VF_ATTR_VLAN] = IFLA_VF_VLAN_LIST,
        [SRIOV_VF_ATTR_TRUST] = IFLA_VF_TRUST,
        [SRIOV_VF_ATTR_SPOOFCHK] = IFLA_VF_SPOOFCHK,
        [SRIOV_VF_ATTR_LINK_STATE] = IFLA_VF_LINK_STATE,
        [SRIOV_VF_ATTR_RATE] = IFLA_VF_RATE,
};

static size_t count_nested(const struct nlattr *nest, int *ret_last_type) {
        const struct nlattr *pos;
        size_t n = 0;
        int rem;

        nla_for_each_nested(pos, nest, rem) {
                *ret_last_type = nla_type(pos);
                n++;
        }
        assert_int_equal(rem, 0); /* no trailing garbage */
        return n;
}

/* Parses one request back with libnl and checks every field. */
static void verify_request(const struct sriov_nl_request *req, SriovVfAttr attr, int pf_ifindex, unsigned vf,
                           const struct sriov_vf_attrs *a) {
        static struct nla_policy link_policy[IFLA_MAX + 1] = {
                [IFLA_VFINFO_LIST] = { .type = NLA_NESTED },
        };
        static struct nla_policy list_policy[IFLA_VF_INFO_MAX + 1] = {
                [IFLA_VF_INFO] = { .type = NLA_NESTED },
        };
        static struct nla_policy vf_policy[IFLA_VF_MAX + 1] = {
                [IFLA_VF_MAC] = { .minlen = sizeof(struct ifla_vf_mac), .maxlen = sizeof(struct ifla_vf_mac) },
                [IFLA_VF_VLAN] = { .minlen = sizeof(struct ifla_vf_vlan), .maxlen = sizeof(struct ifla_vf_vlan) },
                [IFLA_VF_VLAN_LIST] = { .type = NLA_NESTED },
                [IFLA_VF_TRUST] = { .minlen = sizeof(struct ifla_vf_trust), .maxlen = sizeof(struct ifla_vf_trust) },
                [IFLA_VF_SPOOFCHK] = { .minlen = sizeof(struct ifla_vf_spoofchk), .maxlen = sizeof(struct ifla_vf_spoofchk) },
                [IFLA_VF_LINK_STATE] = { .minlen = sizeof(struct ifla_vf_link_state), .maxlen = sizeof(struct ifla_vf_link_state) },
                [IFLA_VF_RATE] = { .minlen = sizeof(struct ifla_vf_rate), .maxlen = sizeof(struct ifla_vf_rate) },
        };
        static struct nla_policy vlan_list_policy[IFLA_VF_VLAN_INFO_MAX + 1] = {
                [IFLA_VF_VLAN_INFO] = { .minlen = sizeof(struct ifla_vf_vlan_info), .maxlen = sizeof(struct ifla_vf_vlan_info) },
        };
        struct nlattr *tb[IFLA_MAX + 1], *list_tb[IFLA_VF_INFO_MAX + 1], *vf_tb[IFLA_VF_MAX + 1];
        struct nlmsghdr *h;
        struct ifinfomsg *ifi;
        const struct nlattr *payload_attr, *pos;
        union {
                struct ifla_vf_mac mac;
                struct ifla_vf_vlan_info vlan;
                struct ifla_vf_trust trust;
                struct ifla_vf_spoofchk spoofchk;
                struct ifla_vf_link_state link_state;
                struct ifla_vf_rate rate;
        } want;
        size_t want_len;
        int rem, type = -1;
        size_t n;

        assert_int_equal(req->attr, attr);
        assert_int_equal(req->pf_ifindex, pf_ifindex);
        assert_int_equal(req->vf, vf);
        assert_non_null(req->msg);

        h = nlmsg_hdr(req->msg);
        assert_int_equal(h->nlmsg_type, RTM_SETLINK);
        assert_int_equal(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_true(nlmsg_valid_hdr(h, sizeof(struct ifinfomsg)));

        ifi = nlmsg_data(h);
        assert_int_equal(ifi->ifi_family, AF_UNSPEC);
        assert_int_equal(ifi->ifi_index, pf_ifindex);
        assert_int_equal(ifi->ifi_flags, 0);
        assert_int_equal(ifi->ifi_change, 0);

        /* Exactly one top-level attribute: nothing but the VF list reaches the PF. */
        n = 0;
        nlmsg_for_each_attr(pos, h, sizeof(struct ifinfomsg), rem) {
                type = nla_type(pos);
                n++;
        }
        assert_int_equal(rem, 0);
        assert_int_equal(n, 1);
        assert_int_equal(type, IFLA_VFINFO_LIST);

        assert_int_equal(nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, link_policy), 0);
        assert_non_null(tb[IFLA_VFINFO_LIST]);

        assert_int_equal(count_nested(tb[IFLA_VFINFO_LIST], &type), 1);
        assert_int_equal(type, IFLA_VF_INFO);
        assert_int_equal(nla_parse_nested(list_tb, IFLA_VF_INFO_MAX, tb[IFLA_VFINFO_LIST], list_policy), 0);
        assert_non_null(list_tb[IFLA_VF_INFO]);

        /* Exactly one VF attribute, and the right one. */
        assert_int_equal(count_nested(list_tb[IFLA_VF_INFO], &type), 1);
        assert_int_equal(type, vf_attr_type[attr]);
        assert_int_equal(nla_parse_nested(vf_tb, IFLA_VF_MAX, list_tb[IFLA_VF_INFO], vf_policy), 0);
        assert_non_null(vf_tb[vf_attr_type[attr]]);

        payload_attr = vf_tb[vf_attr_type[attr]];
        if (attr == SRIOV_VF_ATTR_VLAN) {
                struct nlattr *vl_tb[IFLA_VF_VLAN_INFO_MAX + 1];

                assert_int_equal(count_nested(payload_attr, &type), 1);
                assert_int_equal(type, IFLA_VF_VLAN_INFO);
                assert_int_equal(nla_parse_nested(vl_tb, IFLA_VF_VLAN_INFO_MAX, (struct nlattr *) payload_attr,
                                                  vlan_list_policy), 0);
                payload_attr = vl_tb[IFLA_VF_VLAN_INFO];
                assert_non_null(payload_attr);
        }

        want_len = expected_payload(attr, vf, a, &want);
        assert_int_equal(nla_len(payload_attr), want_len);

        /* Field by field first (readable failures), then every byte including padding. */
        switch (attr) {
        case SRIOV_VF_ATTR_MAC: {
                const struct ifla_vf_mac *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_memory_equal(p->mac, a->mac, 6);
                for (size_t i = 6; i < sizeof(p->mac); i++)
                        assert_int_equal(p->mac[i], 0);
                break;
        }
        case SRIOV_VF_ATTR_VLAN: {
                const struct ifla_vf_vlan_info *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_int_equal(p->vlan, a->vlan);
                assert_int_equal(p->qos, a->qos);
                assert_int_equal(ntohs(p->vlan_proto), a->vlan_proto ? a->vlan_proto : 0x8100);
                break;
        }
        case SRIOV_VF_ATTR_TRUST: {
                const struct ifla_vf_trust *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_int_equal(p->setting, a->trust ? 1 : 0);
                break;
        }
        case SRIOV_VF_ATTR_SPOOFCHK: {
                const struct ifla_vf_spoofchk *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_int_equal(p->setting, a->spoofchk ? 1 : 0);
                break;
        }
        case SRIOV_VF_ATTR_LINK_STATE: {
                const struct ifla_vf_link_state *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_int_equal(p->link_state, a->link_state);
                break;
        }
        case SRIOV_VF_ATTR_RATE: {
                const struct ifla_vf_rate *p = nla_data(payload_attr);
                assert_int_equal(p->vf, vf);
                assert_int_equal(p->min_tx_rate, a->min_tx_rate_set ? a->min_tx_rate : 0);
                assert_int_equal(p->max_tx_rate, a->max_tx_rate_set ? a->max_tx_rate : 0);
                break;
        }
        default:
                fail();
        }
        assert_memory_equal(nla_data(payload_attr), &want, want_len);
}

static void test_build(void **state) {
        const struct build_case *c = *state;
        struct sriov_nl_request *const sentinel = (struct sriov_nl_request *) 0x1;
        struct sriov_nl_request *reqs = sentinel;
        size_t n = 4242;
        int r;

        reset_allocs();
        r = sriov_netlink_build_requests(c->pf_ifindex, c->vf, &c->attrs, &reqs, &n);
        assert_errno_equal(r, c->ret);
        assert_errno_equal(sriov_vf_attrs_validate(c->pf_ifindex, c->vf, &c->attrs), c->ret < 0 ? c->ret : 0);

        if (c->ret < 0) {
                /* Refused before any message was built; outputs untouched. */
                assert_int_equal(n_msg_allocs, 0);
                assert_ptr_equal(reqs, sentinel);
                assert_int_equal(n, 4242);
                return;
        }

        assert_int_equal(n, (size_t) c->ret);
        assert_int_equal(n, count_set(&c->attrs));
        assert_int_equal(n_msg_allocs, n);
        assert_non_null(reqs);
        assert_null(reqs[n].msg); /* terminator */

        /* One request per set attribute, in SriovVfAttr order, each attribute once. */
        size_t i = 0;
        for (SriovVfAttr a = 0; a < _SRIOV_VF_ATTR_MAX; a++) {
                bool set = a == SRIOV_VF_ATTR_MAC        ? c->attrs.mac_set :
                           a == SRIOV_VF_ATTR_VLAN       ? c->attrs.vlan_set :
                           a == SRIOV_VF_ATTR_TRUST      ? c->attrs.trust_set :
                           a == SRIOV_VF_ATTR_SPOOFCHK   ? c->attrs.spoofchk_set :
                           a == SRIOV_VF_ATTR_LINK_STATE ? c->attrs.link_state_set :
                                                           c->attrs.min_tx_rate_set || c->attrs.max_tx_rate_set;
                if (!set)
                        continue;
                assert_true(i < n);
                verify_request(&reqs[i], a, c->pf_ifindex, c->vf, &c->attrs);
                i++;
        }
        assert_int_equal(i, n);

        sriov_nl_requests_free(reqs);
}

/* ENOMEM on the k-th message: nothing leaks (valgrind), outputs untouched. */
static void test_build_enomem(void **state) {
        const struct sriov_vf_attrs all = {
                MAC(0x02, 0, 0, 0, 0, 1), .vlan_set = true, .vlan = 5, .trust_set = true, .spoofchk_set = true,
                .link_state_set = true, .max_tx_rate_set = true, .max_tx_rate = 10,
        };

        for (unsigned k = 1; k <= 6; k++) {
                struct sriov_nl_request *reqs = NULL;
                size_t n = 99;

                reset_allocs();
                fail_msg_alloc_at = k;
                assert_errno_equal(sriov_netlink_build_requests(2, 1, &all, &reqs, &n), -ENOMEM);
                assert_null(reqs);
                assert_int_equal(n, 99);
                assert_int_equal(n_msg_allocs, k);
        }
        reset_allocs();
}

static void test_build_args(void **state) {
        const struct sriov_vf_attrs a = { .trust_set = true };
        struct sriov_nl_request *reqs = NULL;
        size_t n = 0;

        assert_errno_equal(sriov_netlink_build_requests(1, 0, NULL, &reqs, &n), -EINVAL);
        assert_errno_equal(sriov_netlink_build_requests(1, 0, &a, NULL, &n), -EINVAL);
        assert_errno_equal(sriov_netlink_build_requests(1, 0, &a, &reqs, NULL), -EINVAL);
        assert_null(sriov_nl_requests_free(NULL));

        /* "none" still yields a freeable (empty) array. */
        const struct sriov_vf_attrs none = {};
        _cleanup_nl_requests_ struct sriov_nl_request *empty = NULL;
        assert_int_equal(sriov_netlink_build_requests(1, 0, &none, &empty, &n), 0);
        assert_int_equal(n, 0);
        assert_non_null(empty);
        assert_null(empty[0].msg);
}

/* ---- parsers ---- */

struct mac_case {
        const char *s;
        int ret;
        uint8_t mac[6];
};

static const struct mac_case mac_cases[] = {
        { "02:00:00:00:00:01", 0, { 0x02, 0, 0, 0, 0, 0x01 } },
        { "02:ab:CD:ef:10:9f", 0, { 0x02, 0xab, 0xcd, 0xef, 0x10, 0x9f } },
        { "00-1b-21-aa-bb-cc", 0, { 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc } },
        { "fe:ff:ff:ff:ff:ff", 0, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff } },
        /* not unicast / not an address */
        { "01:00:5e:00:00:01", -EADDRNOTAVAIL },
        { "33:33:00:00:00:01", -EADDRNOTAVAIL },
        { "ff:ff:ff:ff:ff:ff", -EADDRNOTAVAIL },
        { "00:00:00:00:00:00", -EADDRNOTAVAIL },
        { "03:00:00:00:00:01", -EADDRNOTAVAIL },
        /* syntax */
        { "", -EINVAL },
        { "02", -EINVAL },
        { "02:00:00:00:00", -EINVAL },
        { "02:00:00:00:00:01:", -EINVAL },
        { "02:00:00:00:00:01:02", -EINVAL },
        { "02:00:00:00:00:0g", -EINVAL },
        { "02:00:00:00:00:0 ", -EINVAL },
        { " 02:00:00:00:00:1", -EINVAL },
        { "02:00-00:00:00:01", -EINVAL },
        { "02.00.00.00.00.01", -EINVAL },
        { "0200.0000.0001", -EINVAL },
        { "020000000001", -EINVAL },
        { "2:0:0:0:0:1", -EINVAL },
        { "02:00:00:00:00:1", -EINVAL },
        { "02:00:00:00:00:001", -EINVAL },
        { "+2:00:00:00:00:01", -EINVAL },
        { "02::00:00:00:00:1", -EINVAL },
        { "02:00:00:00:00:01\n", -EINVAL },
};

static void test_parse_mac(void **state) {
        const struct mac_case *c = *state;
        uint8_t mac[6] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa };
        static const uint8_t untouched[6] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa };

        assert_errno_equal(sriov_parse_mac(c->s, mac), c->ret);
        assert_memory_equal(mac, c->ret < 0 ? untouched : c->mac, 6);
}

static void test_parse_mac_null(void **state) {
        uint8_t mac[6];

        assert_errno_equal(sriov_parse_mac(NULL, mac), -EINVAL);
}

struct enum_case {
        const char *s;
        int ret;
        int value;
};

static const struct enum_case link_state_cases[] = {
        { "auto", 0, SRIOV_VF_LINK_STATE_AUTO },
        { "enable", 0, SRIOV_VF_LINK_STATE_ENABLE },
        { "disable", 0, SRIOV_VF_LINK_STATE_DISABLE },
        { "", -EINVAL },
        { "on", -EINVAL },
        { "enabled", -EINVAL },
        { "auto ", -EINVAL },
        { "1", -EINVAL },
};

static void test_parse_link_state(void **state) {
        const struct enum_case *c = *state;
        SriovVfLinkState s = 77;

        assert_errno_equal(sriov_parse_link_state(c->s, &s), c->ret);
        assert_int_equal(s, c->ret < 0 ? 77 : c->value);
        if (c->ret == 0)
                assert_string_equal(sriov_vf_link_state_to_string(s), c->s);
}

static const struct enum_case vlan_proto_cases[] = {
        { "802.1Q", 0, 0x8100 },
        { "802.1q", 0, 0x8100 },
        { "802.1ad", 0, 0x88a8 },
        { "802.1AD", 0, 0x88a8 },
        { "", -EINVAL },
        { "802.1", -EINVAL },
        { "802.1qq", -EINVAL },
        { "0x8100", -EINVAL },
        { "8021q", -EINVAL },
        { "qinq", -EINVAL },
};

static void test_parse_vlan_proto(void **state) {
        const struct enum_case *c = *state;
        uint16_t p = 7;

        assert_errno_equal(sriov_parse_vlan_proto(c->s, &p), c->ret);
        assert_int_equal(p, c->ret < 0 ? 7 : c->value);
        if (c->ret == 0)
                assert_true(strcasecmp(sriov_vlan_proto_to_string(p), c->s) == 0);
}

static void test_names(void **state) {
        static const char *const names[_SRIOV_VF_ATTR_MAX] = {
                "mac", "vlan", "trust", "spoofchk", "link-state", "rate",
        };

        for (SriovVfAttr a = 0; a < _SRIOV_VF_ATTR_MAX; a++) {
                assert_string_equal(sriov_vf_attr_to_string(a), names[a]);
                assert_int_equal(sriov_vf_attr_from_string(names[a]), a);
        }
        assert_null(sriov_vf_attr_to_string(_SRIOV_VF_ATTR_MAX));
        assert_null(sriov_vf_attr_to_string(_SRIOV_VF_ATTR_INVALID));
        assert_int_equal(sriov_vf_attr_from_string("MAC"), _SRIOV_VF_ATTR_INVALID);
        assert_int_equal(sriov_vf_attr_from_string(NULL), _SRIOV_VF_ATTR_INVALID);
        assert_null(sriov_vf_link_state_to_string(_SRIOV_VF_LINK_STATE_MAX));
        assert_null(sriov_vf_link_state_to_string(-1));
        assert_string_equal(sriov_vlan_proto_to_string(0), "802.1Q");
        assert_null(sriov_vlan_proto_to_string(0x0081));
}

static void test_nle_to_errno(void **state) {
        assert_errno_equal(sriov_nle_to_errno(0), 0);
        assert_errno_equal(sriov_nle_to_errno(-NLE_OPNOTSUPP), -EOPNOTSUPP);
        assert_errno_equal(sriov_nle_to_errno(NLE_OPNOTSUPP), -EOPNOTSUPP);
        assert_errno_equal(sriov_nle_to_errno(-NLE_NOMEM), -ENOMEM);
        assert_errno_equal(sriov_nle_to_errno(-NLE_INVAL), -EINVAL);
        assert_errno_equal(sriov_nle_to_errno(-NLE_RANGE), -ERANGE);
        assert_errno_equal(sriov_nle_to_errno(-NLE_BUSY), -EBUSY);
        assert_errno_equal(sriov_nle_to_errno(-NLE_PERM), -EPERM);
        assert_errno_equal(sriov_nle_to_errno(-NLE_NODEV), -ENODEV);
        assert_errno_equal(sriov_nle_to_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
        assert_errno_equal(sriov_nle_to_errno(-NLE_FAILURE), -EIO);
        assert_errno_equal(sriov_nle_to_errno(-NLE_MAX - 1), -EIO);
        assert_errno_equal(sriov_nle_to_errno(INT_MIN), -EIO);
        /* Every code libnl knows maps to a real, negative errno. */
        for (int i = 1; i <= NLE_MAX; i++) {
                int e = sriov_nle_to_errno(-i);
                assert_true(e < 0 && e > -4096);
        }
}

static void test_ifindex(void **state) {
        assert_errno_equal(sriov_netlink_ifindex(NULL), -EINVAL);
        assert_errno_equal(sriov_netlink_ifindex(""), -EINVAL);
        assert_errno_equal(sriov_netlink_ifindex("0123456789abcdef"), -EINVAL); /* 16 >= IFNAMSIZ */
        assert_errno_equal(sriov_netlink_ifindex("sriovnosuch0"), -ENODEV);
        if (if_nametoindex("lo") > 0)
                assert_int_equal(sriov_netlink_ifindex("lo"), (int) if_nametoindex("lo"));
}

/* ---- JSON ---- */

static void test_json(void **state) {
        const struct sriov_vf_attrs all = {
                MAC(0x02, 0xab, 0, 0, 0, 0x3f), .vlan_set = true, .vlan = 42, .qos = 2, .vlan_proto = 0x88a8,
                .trust_set = true, .trust = true, .spoofchk_set = true, .spoofchk = false,
                .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_ENABLE,
                .max_tx_rate_set = true, .max_tx_rate = 2500,
        };
        _cleanup_nl_requests_ struct sriov_nl_request *reqs = NULL;
        struct sriov_nl_result results[6];
        _cleanup_(json_putp) json_object *arr = NULL;
        json_object *o, *v;
        size_t n;

        assert_int_equal(sriov_netlink_build_requests(5, 9, &all, &reqs, &n), 6);
        for (size_t i = 0; i < n; i++)
                results[i] = (struct sriov_nl_result) {
                        .attr = reqs[i].attr, .pf_ifindex = reqs[i].pf_ifindex, .vf = reqs[i].vf,
                        .value = reqs[i].value, .error = i == 2 ? -EOPNOTSUPP : 0,
                };

        arr = sriov_nl_results_to_json(results, n);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 6);

        static const char *const expect[6] = {
                "{ \"attribute\": \"mac\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": \"02:ab:00:00:00:3f\", \"ok\": true }",
                "{ \"attribute\": \"vlan\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": { \"id\": 42, \"qos\": 2, \"proto\": \"802.1ad\" }, \"ok\": true }",
                "{ \"attribute\": \"trust\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": true, \"ok\": false, \"errno\": 95, \"error\": \"EOPNOTSUPP\", \"message\": \"Operation not supported\" }",
                "{ \"attribute\": \"spoofchk\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": false, \"ok\": true }",
                "{ \"attribute\": \"link-state\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": \"enable\", \"ok\": true }",
                "{ \"attribute\": \"rate\", \"pf_ifindex\": 5, \"vf\": 9, \"value\": { \"min_tx_rate\": 0, \"max_tx_rate\": 2500 }, \"ok\": true }",
        };
        for (size_t i = 0; i < 6; i++) {
                o = json_object_array_get_idx(arr, i);
                assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED), expect[i]);
        }

        /* The value helper on a plain attrs struct, and an empty list. */
        v = sriov_vf_attr_value_to_json(SRIOV_VF_ATTR_VLAN, &(struct sriov_vf_attrs) { .vlan_set = true, .vlan = 7 });
        assert_non_null(v);
        assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                            "{\"id\":7,\"qos\":0,\"proto\":\"802.1Q\"}");
        json_object_put(v);
        assert_null(sriov_vf_attr_value_to_json(_SRIOV_VF_ATTR_MAX, &all));

        json_object_put(TAKE_PTR(arr));
        arr = sriov_nl_results_to_json(NULL, 0);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 0);
}

/* ---- the kernel, on lo ---- */

static bool have_rtnetlink(void) {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

#define SKIP_UNLESS_KERNEL()                                                               \
        do {                                                                               \
                if (geteuid() != 0) {                                                      \
                        print_message("skipping: needs root (CAP_NET_ADMIN)\n");           \
                        skip();                                                            \
                }                                                                          \
                if (!have_rtnetlink() || if_nametoindex("lo") == 0) {                      \
                        print_message("skipping: no rtnetlink or no lo\n");                \
                        skip();                                                            \
                }                                                                          \
        } while (0)

static const struct sriov_vf_attrs lo_all = {
        MAC(0x02, 0x53, 0x52, 0x49, 0x4f, 0x56), .vlan_set = true, .vlan = 100, .qos = 1, .vlan_proto = 0x88a8,
        .trust_set = true, .trust = true, .spoofchk_set = true, .spoofchk = true,
        .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_AUTO,
        .min_tx_rate_set = true, .min_tx_rate = 10, .max_tx_rate_set = true, .max_tx_rate = 100,
};

static void check_all_failed(const struct sriov_nl_request *reqs, size_t n, const struct sriov_nl_result *res,
                             size_t n_res) {
        assert_int_equal(n_res, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(res[i].attr, reqs[i].attr);
                assert_int_equal(res[i].vf, reqs[i].vf);
                assert_int_equal(res[i].pf_ifindex, reqs[i].pf_ifindex);
                assert_memory_equal(&res[i].value, &reqs[i].value, sizeof(res[i].value));
                /* lo has no ndo_set_vf_*: do_setvfinfo() answers EOPNOTSUPP for each. */
                if (res[i].error != -EOPNOTSUPP && res[i].error != -EINVAL)
                        fail_msg("%s: got %d (%s), expected EOPNOTSUPP or EINVAL",
                                 sriov_vf_attr_to_string(res[i].attr), res[i].error,
                                 res[i].error < 0 ? strerror(-res[i].error) : "ok");
        }
}

static void test_apply_lo(void **state) {
        _cleanup_nl_requests_ struct sriov_nl_request *reqs = NULL;
        _cleanup_nl_results_ struct sriov_nl_result *res = NULL;
        size_t n, n_res = 0;
        int lo;

        SKIP_UNLESS_KERNEL();
        lo = sriov_netlink_ifindex("lo");
        assert_true(lo > 0);

        assert_int_equal(sriov_netlink_build_requests(lo, 0, &lo_all, &reqs, &n), 6);

        /* Own socket: every attribute tried, every one refused with the kernel's errno. */
        assert_int_equal(sriov_netlink_apply(NULL, reqs, n, &res, &n_res), 6);
        check_all_failed(reqs, n, res, n_res);
}

static void test_apply_lo_caller_socket(void **state) {
        _cleanup_nl_requests_ struct sriov_nl_request *reqs = NULL;
        _cleanup_(nl_sock_freep) struct nl_sock *sk = NULL;
        size_t n;
        int lo;

        SKIP_UNLESS_KERNEL();
        lo = sriov_netlink_ifindex("lo");
        assert_int_equal(sriov_netlink_build_requests(lo, 3, &lo_all, &reqs, &n), 6);

        sk = nl_socket_alloc();
        assert_non_null(sk);
        assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);

        /* Twice on the same socket with the same messages: sequence numbers are redone. */
        for (int round = 0; round < 2; round++) {
                _cleanup_nl_results_ struct sriov_nl_result *res = NULL;
                size_t n_res = 0;

                assert_int_equal(sriov_netlink_apply(sk, reqs, n, &res, &n_res), 6);
                check_all_failed(reqs, n, res, n_res);
        }

        /* The caller's socket is left in step for libnl's own sequence check: a no-op
         * RTM_SETLINK on lo, acknowledged the libnl way, must not see a mismatch. */
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = lo };
        struct nl_msg *noop = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        assert_non_null(noop);
        assert_int_equal(nlmsg_append(noop, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
        assert_true(nl_send_auto(sk, noop) >= 0);
        assert_int_equal(nl_wait_for_ack(sk), 0);
        nlmsg_free(noop);
}

/* A no-op RTM_SETLINK on lo succeeds: the ACK path, and the middle success does not hide
 * the failures around it (nor they it). */
static void test_apply_lo_mixed(void **state) {
        _cleanup_nl_requests_ struct sriov_nl_request *built = NULL;
        _cleanup_nl_results_ struct sriov_nl_result *res = NULL;
        struct sriov_nl_request reqs[3];
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct nl_msg *noop;
        size_t n, n_res = 0;
        int lo;

        SKIP_UNLESS_KERNEL();
        lo = sriov_netlink_ifindex("lo");
        assert_int_equal(sriov_netlink_build_requests(lo, 1,
                                                      &(struct sriov_vf_attrs) { .trust_set = true, .spoofchk_set = true },
                                                      &built, &n), 2);

        noop = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        assert_non_null(noop);
        ifi.ifi_index = lo;
        assert_int_equal(nlmsg_append(noop, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);

        reqs[0] = built[0];
        reqs[1] = (struct sriov_nl_request) { .attr = SRIOV_VF_ATTR_LINK_STATE, .pf_ifindex = lo, .vf = 1, .msg = noop };
        reqs[2] = built[1];

        assert_int_equal(sriov_netlink_apply(NULL, reqs, 3, &res, &n_res), 2);
        assert_int_equal(n_res, 3);
        assert_int_equal(res[0].attr, SRIOV_VF_ATTR_TRUST);
        assert_true(res[0].error < 0);
        assert_int_equal(res[1].attr, SRIOV_VF_ATTR_LINK_STATE);
        assert_errno_equal(res[1].error, 0);
        assert_int_equal(res[2].attr, SRIOV_VF_ATTR_SPOOFCHK);
        assert_true(res[2].error < 0);

        nlmsg_free(noop);
}

/* An interface that does not exist: the kernel's ENODEV is kept as is (libnl alone would
 * have turned it into NLE_OBJ_NOTFOUND). */
static void test_apply_nodev(void **state) {
        _cleanup_nl_requests_ struct sriov_nl_request *reqs = NULL;
        _cleanup_nl_results_ struct sriov_nl_result *res = NULL;
        char name[IF_NAMESIZE];
        size_t n, n_res = 0;
        int idx = 0x7ffffff0;

        SKIP_UNLESS_KERNEL();
        while (if_indextoname((unsigned) idx, name))
                idx--;

        assert_int_equal(sriov_netlink_build_requests(idx, 0, &lo_all, &reqs, &n), 6);
        assert_int_equal(sriov_netlink_apply(NULL, reqs, n, &res, &n_res), 6);
        assert_int_equal(n_res, 6);
        for (size_t i = 0; i < n_res; i++) {
                assert_int_equal(res[i].attr, reqs[i].attr);
                assert_errno_equal(res[i].error, -ENODEV);
        }
}

static void test_apply_args(void **state) {
        struct sriov_nl_result *res = (struct sriov_nl_result *) 0x1;
        size_t n_res = 77;

        assert_errno_equal(sriov_netlink_apply(NULL, NULL, 1, &res, &n_res), -EINVAL);
        assert_errno_equal(sriov_netlink_apply(NULL, NULL, 0, NULL, &n_res), -EINVAL);
        assert_errno_equal(sriov_netlink_apply(NULL, NULL, 0, &res, NULL), -EINVAL);
        assert_ptr_equal(res, (struct sriov_nl_result *) 0x1);
        assert_int_equal(n_res, 77);

        /* Nothing to do: no socket needed, an empty result. */
        assert_int_equal(sriov_netlink_apply(NULL, NULL, 0, &res, &n_res), 0);
        assert_int_equal(n_res, 0);
        free(res);
}

/* Test names stay on one line: control characters in a case's input are escaped. */
static const char *escaped(const char *s) {
        static char buf[128];
        size_t j = 0;

        for (; *s && j + 5 < sizeof(buf); s++) {
                if ((unsigned char) *s < 0x20)
                        j += (size_t) snprintf(buf + j, sizeof(buf) - j, "\\x%02x", (unsigned char) *s);
                else
                        buf[j++] = *s;
        }
        buf[j] = '\0';
        return buf;
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(build_cases); i++)
                unit_add(&t, test_build, (void *) &build_cases[i], "build/%s", build_cases[i].name);
        unit_add(&t, test_build_enomem, NULL, "build/enomem");
        unit_add(&t, test_build_args, NULL, "build/args");
        for (size_t i = 0; i < ELEMENTSOF(mac_cases); i++)
                unit_add(&t, test_parse_mac, (void *) &mac_cases[i], "parse-mac/\"%s\"", escaped(mac_cases[i].s));
        unit_add(&t, test_parse_mac_null, NULL, "parse-mac/null");
        for (size_t i = 0; i < ELEMENTSOF(link_state_cases); i++)
                unit_add(&t, test_parse_link_state, (void *) &link_state_cases[i], "parse-link-state/\"%s\"",
                         link_state_cases[i].s);
        for (size_t i = 0; i < ELEMENTSOF(vlan_proto_cases); i++)
                unit_add(&t, test_parse_vlan_proto, (void *) &vlan_proto_cases[i], "parse-vlan-proto/\"%s\"",
                         vlan_proto_cases[i].s);
        unit_add(&t, test_names, NULL, "names");
        unit_add(&t, test_nle_to_errno, NULL, "nle-to-errno");
        unit_add(&t, test_ifindex, NULL, "ifindex");
        unit_add(&t, test_json, NULL, "json");
        unit_add(&t, test_apply_lo, NULL, "kernel/lo-all-attributes");
        unit_add(&t, test_apply_lo_caller_socket, NULL, "kernel/lo-caller-socket");
        unit_add(&t, test_apply_lo_mixed, NULL, "kernel/lo-mixed");
        unit_add(&t, test_apply_nodev, NULL, "kernel/nodev");
        unit_add(&t, test_apply_args, NULL, "apply/args");

        return unit_run(&t, "netlink");
}
