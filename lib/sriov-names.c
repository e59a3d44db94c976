/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-log.h"
#include "sriov-names.h"

struct sriov_names {
        struct pci_access *pacc;
};

/* libpci's callbacks carry no user data; one jump target per thread. */
static _Thread_local sigjmp_buf *libpci_escape;

/* The attribute, not _Noreturn: clang wants it in the type that pacc->error has. */
__attribute__((noreturn)) _printf_(1, 2) static void libpci_error(char *msg, ...) {
        char buf[256];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof(buf), msg, ap);
        va_end(ap);
        sriov_debug("libpci error (ignored, not exiting): %s", buf);
        if (libpci_escape)
                siglongjmp(*libpci_escape, 1);
        /* Not reachable from our own calls; never let libpci's exit() path run. */
        abort();
}

_printf_(1, 2) static void libpci_quiet(char *msg, ...) {
        char buf[256];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof(buf), msg, ap);
        va_end(ap);
        sriov_debug("libpci: %s", buf);
}

int sriov_names_new(const char *ids_file, struct sriov_names **ret) {
        struct sriov_names *n;

        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->pacc = pci_alloc();
        if (!n->pacc) {
                free(n);
                return -ENOMEM;
        }
        n->pacc->error = libpci_error;
        n->pacc->warning = libpci_quiet;
        n->pacc->debug = libpci_quiet;
        /* No pci_init(): only the name database is used, not libpci's device scan, which
         * would walk the bus a second time behind our own sysfs model. */
        if (ids_file)
                pci_set_name_list_path(n->pacc, (char *) ids_file, 0);
        *ret = n;
        return 0;
}

struct sriov_names *sriov_names_free(struct sriov_names *n) {
        if (!n)
                return NULL;
        if (n->pacc) {
                sigjmp_buf env;
                if (sigsetjmp(env, 0) == 0) {
                        libpci_escape = &env;
                        pci_cleanup(n->pacc);
                }
                libpci_escape = NULL;
        }
        free(n);
        return NULL;
}

static int lookup(struct sriov_names *n, int flags, uint16_t vendor, uint16_t device, char **ret) {
        char buf[256];
        const char *name = NULL;
        sigjmp_buf env;

        if (sigsetjmp(env, 0) != 0) {
                libpci_escape = NULL;
                return -EIO;
        }
        libpci_escape = &env;
        name = pci_lookup_name(n->pacc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                               (int) vendor, (int) device);
        libpci_escape = NULL;

        if (!name)
                return -ENOENT;
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int sriov_names_vendor(struct sriov_names *n, uint16_t vendor, char **ret) {
        return lookup(n, PCI_LOOKUP_VENDOR, vendor, 0, ret);
}

int sriov_names_device(struct sriov_names *n, uint16_t vendor, uint16_t device, char **ret) {
        return lookup(n, PCI_LOOKUP_DEVICE, vendor, device, ret);
}
