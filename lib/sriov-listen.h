/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A TCP listen address as the configuration spells it: "127.0.0.1:9808", "0.0.0.0:9808",
 * "[::1]:9808" or "[::]:9808". Only numeric addresses: a host name would need DNS before
 * the network is up, and would make the socket's address depend on a resolver. */

#include <sys/socket.h>

/* 0 and the socket address in *ret (ret_len its length); -EINVAL for anything else
 * (a host name, a missing or zero port, a port above 65535, brackets around IPv4, an
 * IPv6 address without brackets, trailing text). ret may be NULL: just validate. */
int sriov_listen_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
