/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-VF network attributes, set through the PF's netdev with rtnetlink (libnl):
 * RTM_SETLINK { ifinfomsg(pf) , IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_<one> } } }.
 *
 * One request is built per attribute, as systemd-networkd does (src/shared/netif-sriov.c),
 * so that a driver refusing one setting (many refuse trust, or min_tx_rate) neither
 * hides nor blocks the others, and each failure is reported against its attribute.
 * The kernel's do_setvfinfo() stops at the first failing IFLA_VF_* of a message, so
 * packing them together would lose exactly that information.
 *
 * libnl's own rtnl_link_vf API is not used to build messages: rtnl_link_build_change_request()
 * puts every VF attribute into one message, adds link attributes of its own, and
 * libnl 3.7 fills ifla_vf_vlan_info.vlan_proto in host byte order where the kernel
 * wants network order. The nested attributes are built here with nla_nest_start()/nla_put().
 *
 * libnl's NLE_* codes are converted to -errno once, in this module; the kernel's own
 * errno from each ACK is kept as is (libnl would fold e.g. ENODEV into NLE_OBJ_NOTFOUND). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sriov-macros.h"

struct nl_msg;
struct nl_sock;

typedef enum sriov_vf_attr {
        SRIOV_VF_ATTR_MAC,              /* IFLA_VF_MAC */
        SRIOV_VF_ATTR_VLAN,             /* IFLA_VF_VLAN_LIST { IFLA_VF_VLAN_INFO } */
        SRIOV_VF_ATTR_TRUST,            /* IFLA_VF_TRUST */
        SRIOV_VF_ATTR_SPOOFCHK,         /* IFLA_VF_SPOOFCHK */
        SRIOV_VF_ATTR_LINK_STATE,       /* IFLA_VF_LINK_STATE */
        SRIOV_VF_ATTR_RATE,             /* IFLA_VF_RATE: min and max tx rate together */
        _SRIOV_VF_ATTR_MAX,
        _SRIOV_VF_ATTR_INVALID = -EINVAL,
} SriovVfAttr;

/* Values are the kernel's IFLA_VF_LINK_STATE_*. */
typedef enum sriov_vf_link_state {
        SRIOV_VF_LINK_STATE_AUTO,       /* follows the PF's uplink */
        SRIOV_VF_LINK_STATE_ENABLE,     /* always up */
        SRIOV_VF_LINK_STATE_DISABLE,    /* always down */
        _SRIOV_VF_LINK_STATE_MAX,
        _SRIOV_VF_LINK_STATE_INVALID = -EINVAL,
} SriovVfLinkState;

#define SRIOV_VLAN_PROTO_8021Q  0x8100u /* ETH_P_8021Q */
#define SRIOV_VLAN_PROTO_8021AD 0x88a8u /* ETH_P_8021AD */
#define SRIOV_VLAN_ID_MAX 4095u
#define SRIOV_VLAN_QOS_MAX 7u

/* What to set on one VF. Only fields whose *_set flag is true are sent. Zero-initialise
 * and set what is wanted. */
struct sriov_vf_attrs {
        bool mac_set;
        uint8_t mac[6];                 /* unicast, not all-zero */

        bool vlan_set;
        uint32_t vlan;                  /* 0..4095; 0 removes the VF's VLAN */
        uint32_t qos;                   /* 0..7 (802.1p priority) */
        uint16_t vlan_proto;            /* host order, SRIOV_VLAN_PROTO_*; 0 means 802.1Q */

        bool trust_set;
        bool trust;

        bool spoofchk_set;
        bool spoofchk;

        bool link_state_set;
        SriovVfLinkState link_state;

        /* Mbit/s. The kernel takes both in one IFLA_VF_RATE, so either flag makes one
         * request carrying both; an unset half is sent as 0 (no guarantee / no limit). */
        bool min_tx_rate_set;
        uint32_t min_tx_rate;
        bool max_tx_rate_set;
        uint32_t max_tx_rate;
};

/* One RTM_SETLINK message carrying exactly one IFLA_VF_* attribute. `value` is a copy of
 * the input in which only this attribute is marked set (for logs and JSON). */
struct sriov_nl_request {
        SriovVfAttr attr;
        int pf_ifindex;
        unsigned vf;
        struct sriov_vf_attrs value;
        struct nl_msg *msg;
};

/* What the kernel answered to one request: error is 0 or -errno. */
struct sriov_nl_result {
        SriovVfAttr attr;
        int pf_ifindex;
        unsigned vf;
        struct sriov_vf_attrs value;
        int error;
};

const char *sriov_vf_attr_to_string(SriovVfAttr a);
SriovVfAttr sriov_vf_attr_from_string(const char *s);
const char *sriov_vf_link_state_to_string(SriovVfLinkState s);
/* "802.1Q" / "802.1ad"; NULL for anything else. proto 0 is 802.1Q. */
const char *sriov_vlan_proto_to_string(uint16_t proto);

/* Parsers for the configuration module. ret is untouched on failure.
 * sriov_parse_mac: "xx:xx:xx:xx:xx:xx" or "xx-xx-xx-xx-xx-xx" (hex, either case).
 *   -EINVAL on bad syntax, -EADDRNOTAVAIL for a multicast/broadcast or all-zero address
 *   (neither can be a VF's station address).
 * sriov_parse_link_state: "auto", "enable", "disable" (ip-link's words). -EINVAL otherwise.
 * sriov_parse_vlan_proto: "802.1Q" or "802.1ad" (case-insensitive); ret in host order.
 *   -EINVAL otherwise. */
int sriov_parse_mac(const char *s, uint8_t ret[static 6]);
int sriov_parse_link_state(const char *s, SriovVfLinkState *ret);
int sriov_parse_vlan_proto(const char *s, uint16_t *ret);

/* Checks every set field without building anything:
 *   -EINVAL  pf_ifindex <= 0, MAC multicast/zero, unknown VLAN protocol or link state,
 *            min_tx_rate > max_tx_rate while max_tx_rate is a limit (> 0);
 *   -ERANGE  vf_index >= INT_MAX (the kernel refuses it), vlan > 4095, qos > 7. */
int sriov_vf_attrs_validate(int pf_ifindex, unsigned vf_index, const struct sriov_vf_attrs *attrs);

/* Builds one request per set attribute, in SriovVfAttr order. Validates everything first:
 * on a hostile value nothing is built (see sriov_vf_attrs_validate). The array has one more
 * entry than *ret_n, with msg == NULL, so that it can be freed without its length. No
 * attribute set is not an error (*ret_n = 0). Returns the number of requests, or -errno. */
int sriov_netlink_build_requests(int pf_ifindex, unsigned vf_index, const struct sriov_vf_attrs *attrs,
                                 struct sriov_nl_request **ret, size_t *ret_n);
struct sriov_nl_request *sriov_nl_requests_free(struct sriov_nl_request *reqs);

/* Sends each request on sk (NULL: opens and closes its own NETLINK_ROUTE socket) and waits
 * for its ACK. Every request is attempted; a failure on one does not stop the others.
 * Returns the number of requests the kernel refused (0: all applied), or -errno when
 * nothing could be attempted (socket, memory). ret gets one result per request, in order.
 * The messages are reusable: their sequence number and port are reset before sending. */
int sriov_netlink_apply(struct nl_sock *sk, const struct sriov_nl_request *reqs, size_t n_reqs,
                        struct sriov_nl_result **ret, size_t *ret_n);

/* [ { "attribute": "vlan", "pf_ifindex": 4, "vf": 2,
 *     "value": { "id": 100, "qos": 3, "proto": "802.1ad" },
 *     "ok": false, "errno": 95, "error": "EOPNOTSUPP", "message": "Operation not supported" }, ... ]
 * A new reference; NULL only on allocation failure. */
json_object *sriov_nl_results_to_json(const struct sriov_nl_result *results, size_t n);
/* The "value" member above for one attribute of attrs (set or not). NULL for an unknown
 * attribute or on allocation failure. */
json_object *sriov_vf_attr_value_to_json(SriovVfAttr a, const struct sriov_vf_attrs *attrs);

/* if_nametoindex() with -errno: -EINVAL for an empty or over-long name, -ENODEV when
 * there is no such interface. Returns the index (> 0). */
int sriov_netlink_ifindex(const char *ifname);

/* libnl error (either sign) to -errno, for the few NLE_* codes libnl produces itself. */
int sriov_nle_to_errno(int nle);

static inline void sriov_nl_requests_freep(struct sriov_nl_request **p) {
        *p = sriov_nl_requests_free(*p);
}
#define _cleanup_nl_requests_ _cleanup_(sriov_nl_requests_freep)

static inline void sriov_nl_results_freep(struct sriov_nl_result **p) {
        free(*p);
}
#define _cleanup_nl_results_ _cleanup_(sriov_nl_results_freep)
