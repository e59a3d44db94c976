/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-log.h"
#include "sriovd-log.h"

static int max_level = LOG_INFO;
static int journal_prefix = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (streq(s, "error"))
                return LOG_ERR;
        for (int i = 0; i < (int) ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return i;
        return -EINVAL;
}

static void lib_debug(const char *message, void *userdata) {
        log_debug("%s", message);
}

void log_setup(void) {
        /* Only stderr connected to the journal gets "<N>" prefixes; a terminal gets words. */
        journal_prefix = getenv("JOURNAL_STREAM") != NULL;
        sriov_log_set_debug_handler(lib_debug, NULL);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        pthread_mutex_lock(&log_lock);
        if (journal_prefix > 0)
                fprintf(stderr, "<%d>%s%s%s\n", level, buf, error ? ": " : "", error ? strerror(error) : "");
        else
                fprintf(stderr, "sriovd[%s]: %s%s%s\n", level_names[level & 7], buf, error ? ": " : "",
                        error ? strerror(error) : "");
        pthread_mutex_unlock(&log_lock);
        (void) file;
        (void) line;
        return -error;
}
