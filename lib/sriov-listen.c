/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "sriov-listen.h"

static int parse_port(const char *s, in_port_t *ret) {
        unsigned long v = 0;
        size_t n = strlen(s);

        /* Digits only, no sign, no leading zero, no space: what a port looks like. */
        if (n == 0 || n > 5 || strspn(s, "0123456789") != n || (s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (unsigned long) (s[i] - '0');
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = htons((in_port_t) v);
        return 0;
}

int sriov_listen_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage ss = {};
        char host[INET6_ADDRSTRLEN + 1];
        const char *colon, *port;
        socklen_t len;
        in_port_t p;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':' || (size_t) (close - s - 1) >= sizeof(host) || close == s + 1)
                        return -EINVAL;
                memcpy(host, s + 1, (size_t) (close - s - 1));
                host[close - s - 1] = '\0';
                port = close + 2;
                struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &ss;
                a6->sin6_family = AF_INET6;
                if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 || parse_port(port, &p) < 0)
                        return -EINVAL;
                a6->sin6_port = p;
                len = sizeof(*a6);
        } else {
                colon = strrchr(s, ':');
                if (!colon || colon == s || (size_t) (colon - s) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, (size_t) (colon - s));
                host[colon - s] = '\0';
                struct sockaddr_in *a4 = (struct sockaddr_in *) &ss;
                a4->sin_family = AF_INET;
                /* inet_pton() takes only dotted quads: no "1", no hex, no host names. */
                if (inet_pton(AF_INET, host, &a4->sin_addr) != 1 || parse_port(colon + 1, &p) < 0)
                        return -EINVAL;
                a4->sin_port = p;
                len = sizeof(*a4);
        }
        if (ret)
                *ret = ss;
        if (ret_len)
                *ret_len = len;
        return 0;
}
