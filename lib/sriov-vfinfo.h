/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the kernel reports about a network interface and its VFs in one rtnetlink link
 * message (RTM_NEWLINK, as an answer to RTM_GETLINK with IFLA_EXT_MASK RTEXT_FILTER_VF,
 * or a multicast notification): the name, the hardware address, the operational state,
 * the parent device (IFLA_PARENT_DEV_NAME / _BUS_NAME, Linux >= 5.16) and, per VF,
 * IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC, IFLA_VF_VLAN_LIST, IFLA_VF_RATE,
 * IFLA_VF_SPOOFCHK, IFLA_VF_TRUST, IFLA_VF_LINK_STATE, ... } }.
 *
 * sriov_link_info_parse() is a pure function of a buffer (no socket, no global state), so
 * that a fuzzer can call it directly: the buffer comes from the kernel, but the daemon
 * treats it as untrusted input all the same. Attributes are taken apart with libnl's
 * nla_parse() and a size policy; every length is checked before a struct is read.
 *
 * sriov_netlink_query_link() is the I/O half: one RTM_GETLINK for one ifindex (never a
 * dump), for a worker thread. */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sriov-address.h"
#include "sriov-macros.h"
#include "sriov-netlink.h"

/* The kernel's IFLA_VF_SPOOFCHK/TRUST "setting" is -1 ((u32) -1 on the wire) when the
 * driver does not report it. */
#define SRIOV_VF_SETTING_UNKNOWN (-1)

/* One VF as the kernel reports it. Fields the message did not carry are "unknown":
 * has_* false, or SRIOV_VF_SETTING_UNKNOWN. */
struct sriov_vf_net_state {
        unsigned vf;                    /* the VF number (the structs' .vf) */
        bool has_mac;
        uint8_t mac[6];
        bool has_vlan;
        uint32_t vlan;                  /* 0: no VLAN */
        uint32_t qos;
        uint16_t vlan_proto;            /* host order; 0x8100 when the kernel sent the old IFLA_VF_VLAN */
        bool has_rate;
        uint32_t min_tx_rate;           /* Mbit/s */
        uint32_t max_tx_rate;
        int spoofchk;                   /* 0, 1 or SRIOV_VF_SETTING_UNKNOWN */
        int trust;                      /* 0, 1 or SRIOV_VF_SETTING_UNKNOWN */
        int link_state;                 /* SriovVfLinkState or SRIOV_VF_SETTING_UNKNOWN */
};

struct sriov_link_info {
        bool deleted;                   /* RTM_DELLINK */
        int ifindex;
        char ifname[IF_NAMESIZE];       /* "" when the message had none */
        size_t address_len;             /* 0: none */
        uint8_t address[32];            /* MAX_ADDR_LEN */
        int operstate;                  /* IF_OPER_* (RFC 2863), -1: not reported */
        char parent_bus[32];            /* "pci", or "" */
        char parent_dev[64];            /* "0000:04:00.0", or "" */
        int num_vf;                     /* IFLA_NUM_VF, -1: not reported */
        size_t n_vfs;
        struct sriov_vf_net_state *vfs;     /* in message order */
};

/* Parses one netlink message (struct nlmsghdr and what follows) of type RTM_NEWLINK or
 * RTM_DELLINK from buf. Bytes after the message's nlmsg_len are ignored.
 *   -EBADMSG  shorter than its headers, nlmsg_len larger than len, an attribute whose
 *             length does not fit, a string without its NUL, a struct shorter than the
 *             kernel's, more IFLA_VF_INFO entries than SRIOV_VF_INFO_MAX;
 *   -ENOMSG   another message type (an ACK, an error, a route);
 *   -ENOMEM.
 * On failure *ret is untouched. Free with sriov_link_info_done(). */
#define SRIOV_VF_INFO_MAX 65536u
int sriov_link_info_parse(const void *buf, size_t len, struct sriov_link_info *ret);
void sriov_link_info_done(struct sriov_link_info *info);

/* The VF of that number, NULL when the message does not list it. */
const struct sriov_vf_net_state *sriov_link_info_vf(const struct sriov_link_info *info, unsigned vf);

/* The parent as a PCI address: 0, or -ENOENT when the parent is not a PCI function. */
int sriov_link_info_pci_parent(const struct sriov_link_info *info, struct sriov_addr *ret);

/* "up", "down", "lowerlayerdown", ... as /sys/class/net/X/operstate spells them;
 * NULL for -1 or a value the kernel does not define. */
const char *sriov_operstate_to_string(int operstate);

/* Which of the set attributes of want the kernel's state differs in: a bit (1 << attr)
 * per SriovVfAttr. An attribute the kernel does not report is not drift (it cannot be
 * compared). The VLAN protocol counts only when the VLAN is not 0. */
unsigned sriov_vf_net_state_drift(const struct sriov_vf_attrs *want, const struct sriov_vf_net_state *have);

/* {"vf": 0, "mac": "02:..", "vlan": {"id": 100, "qos": 3, "proto": "802.1Q"},
 *  "spoofchk": true, "trust": false, "link_state": "auto",
 *  "rate": {"min_tx_rate": 0, "max_tx_rate": 100}}; unknown fields are null. */
json_object *sriov_vf_net_state_to_json(const struct sriov_vf_net_state *s);

/* The configured values in the same shape: only set attributes are members. */
json_object *sriov_vf_attrs_to_json(const struct sriov_vf_attrs *a);

/* ["mac", "vlan"] for a drift mask. */
json_object *sriov_vf_attr_mask_to_json(unsigned mask);

/* Worker thread: RTM_GETLINK for ifindex with the VF list, answer parsed into *ret.
 * -ENODEV when there is no such interface (the kernel's errno otherwise). Blocks on the
 * socket (the kernel answers under RTNL), so never on the event loop. */
int sriov_netlink_query_link(int ifindex, struct sriov_link_info *ret);
