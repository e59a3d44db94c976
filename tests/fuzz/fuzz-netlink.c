/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-VF network settings (lib/sriov-netlink.c). Today the module reads no netlink
 * message from the kernel except ACKs, so this target covers what it does parse and build:
 * the text parsers the configuration and the API use (MAC, link state, VLAN protocol),
 * the validation of a whole setting, and every RTM_SETLINK request built from it, which
 * is parsed back with libnl's own attribute parser and must say exactly what was asked.
 *
 * Input: 24 bytes of settings (flags, vf index, ifindex, values), then three lines:
 * a MAC, a link state, a VLAN protocol.
 *
 * When lib/sriov-netlink.c gains the parser of the kernel's IFLA_VFINFO_LIST (RTM_GETLINK
 * replies, IFLA_VF_INFO), point a target at it: raw message bytes straight in. */
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "fuzz-util.h"
#include "sriov-netlink.h"

static const int vf_attr_type[_SRIOV_VF_ATTR_MAX] = {
        [SRIOV_VF_ATTR_MAC] = IFLA_VF_MAC,
        [SRIOV_VF_ATTR_VLAN] = IFLA_VF_VLAN_LIST,
        [SRIOV_VF_ATTR_TRUST] = IFLA_VF_TRUST,
        [SRIOV_VF_ATTR_SPOOFCHK] = IFLA_VF_SPOOFCHK,
        [SRIOV_VF_ATTR_LINK_STATE] = IFLA_VF_LINK_STATE,
        [SRIOV_VF_ATTR_RATE] = IFLA_VF_RATE,
};

static void check_request(const struct sriov_nl_request *req, int ifindex, unsigned vf, const struct sriov_vf_attrs *a) {
        static struct nla_policy link_policy[IFLA_MAX + 1] = {
                [IFLA_VFINFO_LIST] = { .type = NLA_NESTED },
        };
        struct nlattr *tb[IFLA_MAX + 1], *info = NULL, *setting = NULL, *pos;
        struct nlmsghdr *h;
        struct ifinfomsg *ifi;
        unsigned n_info = 0, n_settings = 0;
        int rem;

        fuzz_assert(req->msg && req->pf_ifindex == ifindex && req->vf == vf);
        h = nlmsg_hdr(req->msg);
        fuzz_assert(h->nlmsg_type == RTM_SETLINK);
        fuzz_assert(nlmsg_valid_hdr(h, sizeof(struct ifinfomsg)));
        ifi = nlmsg_data(h);
        fuzz_assert(ifi->ifi_index == ifindex);
        fuzz_assert(nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, link_policy) == 0);
        fuzz_assert(tb[IFLA_VFINFO_LIST]);

        nla_for_each_nested(pos, tb[IFLA_VFINFO_LIST], rem) {
                fuzz_assert(nla_type(pos) == IFLA_VF_INFO);
                info = pos;
                n_info++;
        }
        fuzz_assert(rem == 0 && n_info == 1);
        nla_for_each_nested(pos, info, rem) {
                setting = pos;
                n_settings++;
        }
        /* one setting per request: the kernel stops at the first one a driver refuses */
        fuzz_assert(rem == 0 && n_settings == 1);
        fuzz_assert(nla_type(setting) == vf_attr_type[req->attr]);

        switch (req->attr) {
        case SRIOV_VF_ATTR_MAC: {
                const struct ifla_vf_mac *m = nla_data(setting);
                fuzz_assert(nla_len(setting) == sizeof(*m) && m->vf == vf && memcmp(m->mac, a->mac, 6) == 0);
                break;
        }
        case SRIOV_VF_ATTR_TRUST: {
                const struct ifla_vf_trust *t = nla_data(setting);
                fuzz_assert(nla_len(setting) == sizeof(*t) && t->vf == vf && t->setting == a->trust);
                break;
        }
        case SRIOV_VF_ATTR_SPOOFCHK: {
                const struct ifla_vf_spoofchk *s = nla_data(setting);
                fuzz_assert(nla_len(setting) == sizeof(*s) && s->vf == vf && s->setting == a->spoofchk);
                break;
        }
        case SRIOV_VF_ATTR_LINK_STATE: {
                const struct ifla_vf_link_state *l = nla_data(setting);
                fuzz_assert(nla_len(setting) == sizeof(*l) && l->vf == vf && l->link_state == (uint32_t) a->link_state);
                break;
        }
        case SRIOV_VF_ATTR_RATE: {
                const struct ifla_vf_rate *r = nla_data(setting);
                fuzz_assert(nla_len(setting) == sizeof(*r) && r->vf == vf);
                fuzz_assert(r->min_tx_rate == (a->min_tx_rate_set ? a->min_tx_rate : 0));
                fuzz_assert(r->max_tx_rate == (a->max_tx_rate_set ? a->max_tx_rate : 0));
                break;
        }
        case SRIOV_VF_ATTR_VLAN: {
                const struct nlattr *v = nla_data(setting);
                const struct ifla_vf_vlan_info *vi;
                fuzz_assert(nla_len(setting) >= NLA_HDRLEN + (int) sizeof(*vi) && nla_type(v) == IFLA_VF_VLAN_INFO);
                vi = nla_data(v);
                fuzz_assert(vi->vf == vf && vi->vlan == a->vlan && vi->qos == a->qos);
                fuzz_assert(ntohs(vi->vlan_proto) == (a->vlan_proto ? a->vlan_proto : SRIOV_VLAN_PROTO_8021Q));
                break;
        }
        default:
                fuzz_assert(!"unknown attribute");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_nl_requests_ struct sriov_nl_request *reqs = NULL;
        _cleanup_free_ char *mac_text = NULL, *state_text = NULL, *proto_text = NULL;
        struct fuzz_bytes b = { data, size };
        struct sriov_vf_attrs a = {};
        uint8_t mac[6];
        SriovVfLinkState state;
        uint16_t proto;
        uint32_t flags;
        unsigned vf;
        size_t n = 0;
        int ifindex, r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        flags = fuzz_take_u32(&b, 1);
        vf = fuzz_take_u32(&b, 4);
        ifindex = (int) fuzz_take_u32(&b, 4);
        a.mac_set = flags & 1;
        for (unsigned i = 0; i < 6; i++)
                a.mac[i] = (uint8_t) fuzz_take_u32(&b, 1);
        a.vlan_set = flags & 2;
        a.vlan = fuzz_take_u32(&b, 2);
        a.qos = fuzz_take_u32(&b, 1);
        a.vlan_proto = (uint16_t) fuzz_take_u32(&b, 2);
        a.trust_set = flags & 4;
        a.trust = flags & 8;
        a.spoofchk_set = flags & 16;
        a.spoofchk = flags & 32;
        a.link_state_set = flags & 64;
        a.link_state = (SriovVfLinkState) (int8_t) fuzz_take_u32(&b, 1);
        a.min_tx_rate_set = flags & 128;
        a.min_tx_rate = fuzz_take_u32(&b, 1) << 8;
        a.max_tx_rate_set = a.min_tx_rate & 0x100;
        a.max_tx_rate = fuzz_take_u32(&b, 1) << 8;

        mac_text = fuzz_take_line(&b);
        state_text = fuzz_take_line(&b);
        proto_text = fuzz_take_line(&b);
        if (!mac_text || !state_text || !proto_text)
                return 0;
        if (sriov_parse_mac(mac_text, mac) >= 0) {
                fuzz_assert(!(mac[0] & 1));
                memcpy(a.mac, mac, 6);
        }
        if (sriov_parse_link_state(state_text, &state) >= 0) {
                fuzz_assert(streq(sriov_vf_link_state_to_string(state), state_text));
                a.link_state = state;
        }
        if (sriov_parse_vlan_proto(proto_text, &proto) >= 0) {
                fuzz_assert(proto == SRIOV_VLAN_PROTO_8021Q || proto == SRIOV_VLAN_PROTO_8021AD);
                a.vlan_proto = proto;
        }

        r = sriov_netlink_build_requests(ifindex, vf, &a, &reqs, &n);
        if (r < 0) {
                fuzz_assert(!reqs || n == 0);
                fuzz_assert(sriov_vf_attrs_validate(ifindex, vf, &a) < 0 || r == -ENOMEM);
                return 0;
        }
        fuzz_assert(sriov_vf_attrs_validate(ifindex, vf, &a) >= 0);
        fuzz_assert((size_t) r == n && n <= _SRIOV_VF_ATTR_MAX);
        for (size_t i = 0; i < n; i++) {
                json_object *j;

                check_request(&reqs[i], ifindex, vf, &a);
                for (size_t k = 0; k < i; k++)
                        fuzz_assert(reqs[k].attr != reqs[i].attr);
                j = sriov_vf_attr_value_to_json(reqs[i].attr, &reqs[i].value);
                json_object_put(j);
        }
        return 0;
}
