/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's logging. To stderr with a "<N>" syslog prefix when stderr is the journal
 * (systemd sets JOURNAL_STREAM), plain otherwise. Structured entries that journalctl can
 * query by field go through sd_journal_send() in the modules that have such fields. */

#include <errno.h>
#include <syslog.h>

#include "sriov-macros.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error", "crit"; -EINVAL otherwise. */
int log_level_from_string(const char *s);
void log_setup(void);

/* Returns -abs(error) so that "return log_error_errno(r, ...)" logs and propagates. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
