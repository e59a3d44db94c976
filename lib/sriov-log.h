/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Library code logs at debug level at most; the program that links libsriov decides
 * where (and whether) that goes by installing a handler. */

#include "sriov-macros.h"

typedef void (*sriov_log_handler_t)(const char *message, void *userdata);

void sriov_log_set_debug_handler(sriov_log_handler_t handler, void *userdata);
void sriov_debug(const char *fmt, ...) _printf_(1, 2);
