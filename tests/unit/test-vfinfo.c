/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IFLA_VF_INFO parser (lib/sriov-vfinfo.c), the drift comparison, and the netdev
 * names of the model. Messages are built here with libnl's message API the way the
 * kernel's rtnl_fill_ifinfo() lays them out, then broken in the ways a hostile or
 * truncated buffer can be. One query runs against the real kernel on `lo`. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "fixture-tree.h"
#include "sriov-model.h"
#include "sriov-vfinfo.h"
#include "unit-test.h"

struct vf_spec {
        unsigned vf;
        uint8_t mac[6];
        uint32_t vlan, qos;
        uint16_t proto;                 /* host order */
        uint32_t min_rate, max_rate;
        uint32_t spoofchk, trust, link_state;
};

static void put_vf(struct nl_msg *m, const struct vf_spec *v) {
        struct nlattr *info = nla_nest_start(m, IFLA_VF_INFO), *vl;
        struct ifla_vf_mac mac = { .vf = v->vf };
        struct ifla_vf_vlan vlan = { .vf = v->vf, .vlan = v->vlan, .qos = v->qos };
        struct ifla_vf_vlan_info vi = { .vf = v->vf, .vlan = v->vlan, .qos = v->qos, .vlan_proto = htons(v->proto) };
        struct ifla_vf_rate rate = { .vf = v->vf, .min_tx_rate = v->min_rate, .max_tx_rate = v->max_rate };
        struct ifla_vf_tx_rate txr = { .vf = v->vf, .rate = v->max_rate };
        struct ifla_vf_spoofchk sc = { .vf = v->vf, .setting = v->spoofchk };
        struct ifla_vf_trust tr = { .vf = v->vf, .setting = v->trust };
        struct ifla_vf_link_state ls = { .vf = v->vf, .link_state = v->link_state };

        memcpy(mac.mac, v->mac, 6);
        assert_non_null(info);
        assert_int_equal(nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac), 0);
        assert_int_equal(nla_put(m, IFLA_VF_VLAN, sizeof(vlan), &vlan), 0);
        vl = nla_nest_start(m, IFLA_VF_VLAN_LIST);
        assert_int_equal(nla_put(m, IFLA_VF_VLAN_INFO, sizeof(vi), &vi), 0);
        nla_nest_end(m, vl);
        assert_int_equal(nla_put(m, IFLA_VF_TX_RATE, sizeof(txr), &txr), 0);
        assert_int_equal(nla_put(m, IFLA_VF_RATE, sizeof(rate), &rate), 0);
        assert_int_equal(nla_put(m, IFLA_VF_SPOOFCHK, sizeof(sc), &sc), 0);
        assert_int_equal(nla_put(m, IFLA_VF_LINK_STATE, sizeof(ls), &ls), 0);
        assert_int_equal(nla_put(m, IFLA_VF_TRUST, sizeof(tr), &tr), 0);
        nla_nest_end(m, info);
}

static const struct vf_spec vf0 = {
        .vf = 0, .mac = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }, .vlan = 100, .qos = 3, .proto = 0x88a8,
        .min_rate = 0, .max_rate = 100, .spoofchk = 0, .trust = 1, .link_state = 0,
};
static const struct vf_spec vf1 = {
        .vf = 1, .mac = { 0 }, .vlan = 0, .qos = 0, .proto = 0x8100,
        .spoofchk = 1, .trust = UINT32_MAX /* not reported */, .link_state = 2,
};

/* An RTM_NEWLINK for "eth0" (ifindex 2) of PCI 0000:04:00.0 with the given VFs. */
static struct nl_msg *build_link(int type, const struct vf_spec *vfs, size_t n) {
        struct nl_msg *m = nlmsg_alloc_simple(type, 0);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = 2 };
        uint8_t addr[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

        assert_non_null(m);
        assert_int_equal(nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
        assert_int_equal(nla_put_string(m, IFLA_IFNAME, "eth0"), 0);
        assert_int_equal(nla_put(m, IFLA_ADDRESS, sizeof(addr), addr), 0);
        assert_int_equal(nla_put_u8(m, IFLA_OPERSTATE, IF_OPER_UP), 0);
        assert_int_equal(nla_put_u32(m, IFLA_NUM_VF, (uint32_t) n), 0);
        assert_int_equal(nla_put_string(m, IFLA_PARENT_DEV_NAME, "0000:04:00.0"), 0);
        assert_int_equal(nla_put_string(m, IFLA_PARENT_DEV_BUS_NAME, "pci"), 0);
        if (n > 0) {
                struct nlattr *list = nla_nest_start(m, IFLA_VFINFO_LIST);
                for (size_t i = 0; i < n; i++)
                        put_vf(m, &vfs[i]);
                nla_nest_end(m, list);
        }
        return m;
}

static void test_parse_full(void **state) {
        const struct vf_spec vfs[] = { vf0, vf1 };
        struct nl_msg *m = build_link(RTM_NEWLINK, vfs, 2);
        struct nlmsghdr *h = nlmsg_hdr(m);
        struct sriov_link_info info = {};
        struct sriov_addr parent;
        const struct sriov_vf_net_state *s;

        assert_int_equal(sriov_link_info_parse(h, h->nlmsg_len, &info), 0);
        assert_false(info.deleted);
        assert_int_equal(info.ifindex, 2);
        assert_string_equal(info.ifname, "eth0");
        assert_int_equal(info.address_len, 6);
        assert_int_equal(info.address[5], 0x56);
        assert_string_equal(sriov_operstate_to_string(info.operstate), "up");
        assert_int_equal(info.num_vf, 2);
        assert_int_equal(sriov_link_info_pci_parent(&info, &parent), 0);
        assert_string_equal(SRIOV_ADDR_STR(&parent), "0000:04:00.0");
        assert_int_equal(info.n_vfs, 2);

        s = sriov_link_info_vf(&info, 0);
        assert_non_null(s);
        assert_true(s->has_mac);
        assert_memory_equal(s->mac, vf0.mac, 6);
        assert_true(s->has_vlan);
        assert_int_equal(s->vlan, 100);
        assert_int_equal(s->qos, 3);
        /* The list's protocol wins over the old IFLA_VF_VLAN's implied 802.1Q. */
        assert_int_equal(s->vlan_proto, 0x88a8);
        assert_true(s->has_rate);
        assert_int_equal(s->max_tx_rate, 100);
        assert_int_equal(s->spoofchk, 0);
        assert_int_equal(s->trust, 1);
        assert_int_equal(s->link_state, SRIOV_VF_LINK_STATE_AUTO);

        s = sriov_link_info_vf(&info, 1);
        assert_non_null(s);
        assert_int_equal(s->spoofchk, 1);
        assert_int_equal(s->trust, SRIOV_VF_SETTING_UNKNOWN);
        assert_int_equal(s->link_state, SRIOV_VF_LINK_STATE_DISABLE);
        assert_null(sriov_link_info_vf(&info, 2));

        json_object *j = sriov_vf_net_state_to_json(sriov_link_info_vf(&info, 0));
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                            "{\"vf\":0,\"mac\":\"02:11:22:33:44:55\",\"vlan\":{\"id\":100,\"qos\":3,\"proto\":\"802.1ad\"},"
                            "\"spoofchk\":false,\"trust\":true,\"link_state\":\"auto\","
                            "\"rate\":{\"min_tx_rate\":0,\"max_tx_rate\":100}}");
        json_object_put(j);
        sriov_link_info_done(&info);
        nlmsg_free(m);
}

static void test_parse_dellink_no_vfs(void **state) {
        struct nl_msg *m = build_link(RTM_DELLINK, NULL, 0);
        struct nlmsghdr *h = nlmsg_hdr(m);
        struct sriov_link_info info = {};

        assert_int_equal(sriov_link_info_parse(h, h->nlmsg_len, &info), 0);
        assert_true(info.deleted);
        assert_int_equal(info.n_vfs, 0);
        assert_null(info.vfs);
        nlmsg_free(m);
}

static void test_parse_other_type(void **state) {
        struct nl_msg *m = build_link(RTM_NEWROUTE, NULL, 0);
        struct nlmsghdr *h = nlmsg_hdr(m);
        struct sriov_link_info info = { .ifindex = 77 };

        assert_int_equal(sriov_link_info_parse(h, h->nlmsg_len, &info), -ENOMSG);
        assert_int_equal(info.ifindex, 77); /* untouched */
        nlmsg_free(m);
}

/* Every length short of the whole message: the header says more than the buffer has. */
static void test_parse_truncated(void **state) {
        const struct vf_spec vfs[] = { vf0, vf1 };
        struct nl_msg *m = build_link(RTM_NEWLINK, vfs, 2);
        struct nlmsghdr *h = nlmsg_hdr(m);

        for (size_t len = 0; len < h->nlmsg_len; len++) {
                struct sriov_link_info info = { .ifindex = 77 };
                assert_int_equal(sriov_link_info_parse(h, len, &info), -EBADMSG);
                assert_int_equal(info.ifindex, 77);
        }
        nlmsg_free(m);
}

/* Header lengths that lie, with the buffer whole: each parse either succeeds on what
 * the shorter length covers or says EBADMSG; none reads past the buffer (valgrind and
 * ASan runs of the unit tier check that). */
static void test_parse_lying_length(void **state) {
        const struct vf_spec vfs[] = { vf0, vf1 };
        struct nl_msg *m = build_link(RTM_NEWLINK, vfs, 2);
        struct nlmsghdr *h = nlmsg_hdr(m);
        uint32_t real = h->nlmsg_len;

        for (uint32_t len = 0; len < real; len++) {
                struct sriov_link_info info = {};
                h->nlmsg_len = len;
                int r = sriov_link_info_parse(h, real, &info);
                assert_true(r == 0 || r == -EBADMSG);
                if (r == 0) {
                        assert_true(info.n_vfs <= 2);
                        sriov_link_info_done(&info);
                }
        }
        h->nlmsg_len = real;
        nlmsg_free(m);
}

static void test_parse_short_struct(void **state) {
        struct nl_msg *m = build_link(RTM_NEWLINK, NULL, 0);
        struct nlattr *list = nla_nest_start(m, IFLA_VFINFO_LIST), *info = nla_nest_start(m, IFLA_VF_INFO);
        uint8_t half_mac[8] = { 0 };    /* struct ifla_vf_mac is 36 bytes */
        struct sriov_link_info out = {};

        assert_int_equal(nla_put(m, IFLA_VF_MAC, sizeof(half_mac), half_mac), 0);
        nla_nest_end(m, info);
        nla_nest_end(m, list);
        assert_int_equal(sriov_link_info_parse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &out), -EBADMSG);
        nlmsg_free(m);
}

static void test_parse_vf_numbers_disagree(void **state) {
        struct nl_msg *m = build_link(RTM_NEWLINK, NULL, 0);
        struct nlattr *list = nla_nest_start(m, IFLA_VFINFO_LIST), *info = nla_nest_start(m, IFLA_VF_INFO);
        struct ifla_vf_mac mac = { .vf = 1 };
        struct ifla_vf_trust tr = { .vf = 2, .setting = 1 };
        struct sriov_link_info out = {};

        nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac);
        nla_put(m, IFLA_VF_TRUST, sizeof(tr), &tr);
        nla_nest_end(m, info);
        nla_nest_end(m, list);
        assert_int_equal(sriov_link_info_parse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &out), -EBADMSG);
        nlmsg_free(m);
}

static void test_parse_empty_vf_entry(void **state) {
        struct nl_msg *m = build_link(RTM_NEWLINK, NULL, 0);
        struct nlattr *list = nla_nest_start(m, IFLA_VFINFO_LIST);
        struct sriov_link_info out = {};

        /* libnl trims an empty nest away: the entry is put as a zero-length attribute. */
        assert_int_equal(nla_put(m, IFLA_VF_INFO, 0, NULL), 0);
        nla_nest_end(m, list);
        assert_int_equal(sriov_link_info_parse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &out), -EBADMSG);
        nlmsg_free(m);
}

static void test_parse_ifname_without_nul(void **state) {
        struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
        struct ifinfomsg ifi = { .ifi_index = 3 };
        char name[4] = { 'e', 't', 'h', '0' };
        struct sriov_link_info out = {};

        nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        nla_put(m, IFLA_IFNAME, sizeof(name), name);
        assert_int_equal(sriov_link_info_parse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &out), -EBADMSG);
        nlmsg_free(m);
}

static void test_parse_ifname_too_long(void **state) {
        struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
        struct ifinfomsg ifi = { .ifi_index = 3 };
        struct sriov_link_info out = {};

        nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        nla_put_string(m, IFLA_IFNAME, "a-name-over-sixteen-bytes");
        assert_int_equal(sriov_link_info_parse(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &out), -EBADMSG);
        nlmsg_free(m);
}

static void test_parent_not_pci(void **state) {
        struct sriov_link_info info = { .parent_bus = "usb", .parent_dev = "1-1" };
        struct sriov_addr a;

        assert_int_equal(sriov_link_info_pci_parent(&info, &a), -ENOENT);
        snprintf(info.parent_bus, sizeof(info.parent_bus), "pci");
        snprintf(info.parent_dev, sizeof(info.parent_dev), "not-an-address");
        assert_int_equal(sriov_link_info_pci_parent(&info, &a), -ENOENT);
}

/* ---- drift ---- */

struct drift_case {
        const char *name;
        struct sriov_vf_attrs want;
        struct sriov_vf_net_state have;
        unsigned expect;
};

#define HAVE_BASE                                                                                       \
        .vf = 0, .has_mac = true, .mac = { 2, 0, 0, 0, 0, 1 }, .has_vlan = true, .vlan = 100, .qos = 3,  \
        .vlan_proto = 0x8100, .has_rate = true, .min_tx_rate = 0, .max_tx_rate = 100, .spoofchk = 0,    \
        .trust = 1, .link_state = 0

static const struct drift_case drift_cases[] = {
        { "nothing configured", {}, { HAVE_BASE }, 0 },
        { "all equal",
          { .mac_set = true, .mac = { 2, 0, 0, 0, 0, 1 }, .vlan_set = true, .vlan = 100, .qos = 3,
            .trust_set = true, .trust = true, .spoofchk_set = true, .spoofchk = false, .link_state_set = true,
            .link_state = SRIOV_VF_LINK_STATE_AUTO, .max_tx_rate_set = true, .max_tx_rate = 100 },
          { HAVE_BASE }, 0 },
        { "mac differs", { .mac_set = true, .mac = { 2, 0, 0, 0, 0, 2 } }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_MAC },
        { "vlan id differs", { .vlan_set = true, .vlan = 101, .qos = 3 }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_VLAN },
        { "qos differs", { .vlan_set = true, .vlan = 100, .qos = 4 }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_VLAN },
        { "proto differs", { .vlan_set = true, .vlan = 100, .qos = 3, .vlan_proto = 0x88a8 }, { HAVE_BASE },
          1u << SRIOV_VF_ATTR_VLAN },
        { "vlan 0 ignores qos and proto", { .vlan_set = true, .vlan = 0, .qos = 5, .vlan_proto = 0x88a8 },
          { .has_vlan = true, .vlan = 0, .qos = 0, .spoofchk = -1, .trust = -1, .link_state = -1 }, 0 },
        { "trust differs", { .trust_set = true, .trust = false }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_TRUST },
        { "trust unknown is no drift", { .trust_set = true, .trust = false },
          { .spoofchk = -1, .trust = -1, .link_state = -1 }, 0 },
        { "spoofchk differs", { .spoofchk_set = true, .spoofchk = true }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_SPOOFCHK },
        { "link state differs", { .link_state_set = true, .link_state = SRIOV_VF_LINK_STATE_ENABLE }, { HAVE_BASE },
          1u << SRIOV_VF_ATTR_LINK_STATE },
        { "max rate differs", { .max_tx_rate_set = true, .max_tx_rate = 200 }, { HAVE_BASE }, 1u << SRIOV_VF_ATTR_RATE },
        { "min rate unset means 0", { .min_tx_rate_set = true, .min_tx_rate = 10 }, { HAVE_BASE },
          1u << SRIOV_VF_ATTR_RATE },
        { "mac not reported", { .mac_set = true, .mac = { 2, 0, 0, 0, 0, 2 } },
          { .spoofchk = -1, .trust = -1, .link_state = -1 }, 0 },
        { "two at once", { .mac_set = true, .mac = { 2, 0, 0, 0, 0, 9 }, .trust_set = true, .trust = false },
          { HAVE_BASE }, (1u << SRIOV_VF_ATTR_MAC) | (1u << SRIOV_VF_ATTR_TRUST) },
};

static void test_drift(void **state) {
        const struct drift_case *c = *state;

        assert_int_equal(sriov_vf_net_state_drift(&c->want, &c->have), c->expect);
}

static void test_drift_mask_json(void **state) {
        json_object *j = sriov_vf_attr_mask_to_json((1u << SRIOV_VF_ATTR_MAC) | (1u << SRIOV_VF_ATTR_RATE));

        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), "[\"mac\",\"rate\"]");
        json_object_put(j);
}

/* ---- the real kernel: lo has no VFs, and no PCI parent ---- */

static void test_query_lo(void **state) {
        struct sriov_link_info info = {};
        int idx = (int) if_nametoindex("lo");

        if (idx <= 0)
                skip();
        assert_int_equal(sriov_netlink_query_link(idx, &info), 0);
        assert_string_equal(info.ifname, "lo");
        assert_int_equal(info.ifindex, idx);
        assert_int_equal(info.n_vfs, 0);
        struct sriov_addr a;
        assert_int_equal(sriov_link_info_pci_parent(&info, &a), -ENOENT);
        sriov_link_info_done(&info);
}

static void test_query_no_such_index(void **state) {
        struct sriov_link_info info = { .ifindex = 77 };

        assert_int_equal(sriov_netlink_query_link(0x7ffffff0, &info), -ENODEV);
        assert_int_equal(info.ifindex, 77);
        assert_int_equal(sriov_netlink_query_link(0, &info), -EINVAL);
}

/* ---- the model's netdev names (sysfs net/) ---- */

static void mkdirs(const char *path) {
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        (void) mkdir(buf, 0755);
                        *p = '/';
                }
        (void) mkdir(buf, 0755);
}

static void test_model_netdevs(void **state) {
        struct fixture_tree *t = NULL;
        struct sriov_sysfs *s = NULL;
        struct sriov_model *m = NULL;
        struct sriov_addr a;
        char path[4096];
        char *v = NULL;

        assert_int_equal(fixture_tree_new(&t), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:04.0", 0x1b36, 0x000c, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "0000:00:04.0", "0000:04:00.0", 0x8086, 0x10c9, 0x020000), 0);
        assert_int_equal(fixture_make_pf(t, "0000:04:00.0", 7, 128, 2, 0x10ca), 0);
        snprintf(path, sizeof(path), "%s/devices/pci0000:00/0000:00:04.0/0000:04:00.0/net/eth1", fixture_tree_sysfs(t));
        mkdirs(path);
        snprintf(path, sizeof(path), "%s/devices/pci0000:00/0000:00:04.0/0000:04:00.0/net/eth0", fixture_tree_sysfs(t));
        mkdirs(path);
        assert_int_equal(fixture_set_attr(t, "0000:04:00.0", "net/eth0/address", "52:54:00:12:34:56\n"), 0);

        assert_int_equal(sriov_sysfs_new(fixture_tree_sysfs(t), &s), 0);
        assert_int_equal(sriov_model_new(s, NULL, &m), 0);
        assert_int_equal(sriov_model_scan(m), 0);
        assert_int_equal(sriov_addr_parse("0000:04:00.0", &a), 0);
        const struct sriov_device *d = sriov_model_get(m, &a);
        assert_non_null(d);
        assert_non_null(d->netdevs);
        assert_string_equal(d->netdevs[0], "eth0"); /* sorted */
        assert_string_equal(d->netdevs[1], "eth1");
        assert_null(d->netdevs[2]);

        assert_int_equal(sriov_sysfs_netdev_read(s, &a, "eth0", "address", &v), 0);
        assert_string_equal(v, "52:54:00:12:34:56");
        free(v);
        assert_int_equal(sriov_sysfs_netdev_read(s, &a, "../eth0", "address", &v), -EINVAL);
        assert_int_equal(sriov_sysfs_netdev_read(s, &a, "..", "address", &v), -EINVAL);
        assert_int_equal(sriov_sysfs_netdev_read(s, &a, "eth9", "address", &v), -ENOENT);

        /* A rename: eth1 becomes ens4f1. */
        char from[4096], to[4096];
        snprintf(from, sizeof(from), "%s/devices/pci0000:00/0000:00:04.0/0000:04:00.0/net/eth1", fixture_tree_sysfs(t));
        snprintf(to, sizeof(to), "%s/devices/pci0000:00/0000:00:04.0/0000:04:00.0/net/ens4f1", fixture_tree_sysfs(t));
        assert_int_equal(rename(from, to), 0);
        assert_int_equal(sriov_model_refresh_netdevs(m, &a), 1);
        d = sriov_model_get(m, &a);
        assert_string_equal(d->netdevs[0], "ens4f1");
        assert_string_equal(d->netdevs[1], "eth0");
        assert_int_equal(sriov_model_refresh_netdevs(m, &a), 0);

        /* The bridge has no net/ at all. */
        assert_int_equal(sriov_addr_parse("0000:00:04.0", &a), 0);
        assert_null(sriov_model_get(m, &a)->netdevs);

        sriov_model_free(m);
        sriov_sysfs_free(s);
        fixture_tree_free(t);
}

int main(void) {
        struct unit_tests l = {};

        unit_add(&l, test_parse_full, NULL, "parse: every IFLA_VF_* of two VFs");
        unit_add(&l, test_parse_dellink_no_vfs, NULL, "parse: RTM_DELLINK without VFs");
        unit_add(&l, test_parse_other_type, NULL, "parse: another message type is -ENOMSG");
        unit_add(&l, test_parse_truncated, NULL, "parse: every truncation is -EBADMSG");
        unit_add(&l, test_parse_lying_length, NULL, "parse: lying nlmsg_len stays inside the buffer");
        unit_add(&l, test_parse_short_struct, NULL, "parse: a short IFLA_VF_MAC is -EBADMSG");
        unit_add(&l, test_parse_vf_numbers_disagree, NULL, "parse: structs naming two VFs are -EBADMSG");
        unit_add(&l, test_parse_empty_vf_entry, NULL, "parse: an empty IFLA_VF_INFO is -EBADMSG");
        unit_add(&l, test_parse_ifname_without_nul, NULL, "parse: IFLA_IFNAME without NUL is -EBADMSG");
        unit_add(&l, test_parse_ifname_too_long, NULL, "parse: IFLA_IFNAME over IFNAMSIZ is -EBADMSG");
        unit_add(&l, test_parent_not_pci, NULL, "parent: not a PCI function");
        for (size_t i = 0; i < ELEMENTSOF(drift_cases); i++)
                unit_add_full(&l, test_drift, NULL, NULL, (void *) &drift_cases[i], "drift: %s", drift_cases[i].name);
        unit_add(&l, test_drift_mask_json, NULL, "drift: mask as JSON");
        unit_add(&l, test_query_lo, NULL, "query: lo on the real kernel");
        unit_add(&l, test_query_no_such_index, NULL, "query: no such interface is -ENODEV");
        unit_add(&l, test_model_netdevs, NULL, "model: net/ names, sorted, renames followed");
        return unit_run(&l, "vfinfo");
}
