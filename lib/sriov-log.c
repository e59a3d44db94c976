/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "sriov-log.h"

static sriov_log_handler_t debug_handler;
static void *debug_userdata;

void sriov_log_set_debug_handler(sriov_log_handler_t handler, void *userdata) {
        debug_handler = handler;
        debug_userdata = userdata;
}

void sriov_debug(const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        if (!debug_handler)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        debug_handler(buf, debug_userdata);
}
