/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov-aer.h"
#include "unit-test.h"

/* What the kernel (drivers/pci/pcie/aer.c, 6.1) prints for a device without errors. */
#define KERNEL_COR                                                                              \
        "RxErr 0\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\n"     \
        "HeaderOF 0\n"
#define KERNEL_UNCOR_0                                                                          \
        "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n" \
        "MalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\n"             \
        "AtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\n"

struct expect_counter {
        const char *name;
        uint64_t count;
};

struct parse_case {
        const char *name;
        const char *text;
        int ret;
        size_t n_counters;
        bool has_total;
        uint64_t total;
        struct expect_counter counters[4];      /* spot checks, name NULL ends */
        size_t index_of_first;                  /* counters[0] is at this position */
};

static const struct parse_case parse_cases[] = {
        /* The kernel's files. */
        { "kernel-correctable-zero", KERNEL_COR "TOTAL_ERR_COR 0\n", 0, 8, true, 0,
          { { "RxErr", 0 }, { "HeaderOF", 0 } } },
        { "kernel-nonfatal-zero", KERNEL_UNCOR_0 "TOTAL_ERR_NONFATAL 0\n", 0, 18, true, 0,
          { { "Undefined", 0 }, { "PoisonTLPBlocked", 0 } } },
        { "kernel-fatal-zero", KERNEL_UNCOR_0 "TOTAL_ERR_FATAL 0\n", 0, 18, true, 0,
          { { "Undefined", 0 }, { "AtomicOpBlocked", 0 } } },
        { "kernel-correctable-counts",
          "RxErr 3\nBadTLP 1\nBadDLLP 0\nRollover 0\nTimeout 12\nNonFatalErr 0\nCorrIntErr 0\n"
          "HeaderOF 0\nTOTAL_ERR_COR 16\n", 0, 8, true, 16,
          { { "RxErr", 3 }, { "BadTLP", 1 }, { "Timeout", 12 }, { "NoSuchCounter", 0 } } },
        { "kernel-nonfatal-counts",
          "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 7\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n"
          "MalfTLP 0\nECRC 0\nUnsupReq 2\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\n"
          "AtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 1\nTOTAL_ERR_NONFATAL 10\n",
          0, 18, true, 10,
          { { "CmpltTO", 7 }, { "UnsupReq", 2 }, { "PoisonTLPBlocked", 1 } }, 5 },
        { "kernel-fatal-counts",
          "Undefined 0\nDLP 1\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n"
          "MalfTLP 4\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\n"
          "AtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\nTOTAL_ERR_FATAL 5\n",
          0, 18, true, 5, { { "DLP", 1 }, { "MalfTLP", 4 } }, 1 },
        /* Recorded from the VM's kernel (tests/fixtures/pf-3vfs-aer.umockdev, root port after an
         * injected Unsupported Request): newer kernels name bits 27-31 too. */
        { "kernel-recorded-nonfatal",
          "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n"
          "MalfTLP 0\nECRC 0\nUnsupReq 1\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\n"
          "TLPBlockedErr 0\nPoisonTLPBlocked 0\nDMWrReqBlocked 0\nIDECheck 0\nMisIDETLP 0\nPCRC_CHECK 0\n"
          "TLPXlatBlocked 0\nTOTAL_ERR_NONFATAL 1\n", 0, 23, true, 1,
          { { "UnsupReq", 1 }, { "PCRC_CHECK", 0 }, { "TLPXlatBlocked", 0 } }, 11 },
        /* The kernel prints unnamed (reserved) bits that counted errors as
         * "<stats_array>_bit[N] COUNT" (aer_stats_dev_attr, since 4.19). */
        { "kernel-unnamed-bit",
          "RxErr 0\ndev_cor_errs_bit[1] 2\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\n"
          "NonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR 2\n", 0, 9, true, 2,
          { { "dev_cor_errs_bit[1]", 2 }, { "RxErr", 0 } }, 1 },
        { "kernel-unnamed-bit-uncor",
          "Undefined 0\ndev_fatal_errs_bit[2] 1\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\n"
          "CmpltAbrt 0\nUnxCmplt 0\nRxOF 0\nMalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\n"
          "UncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\n"
          "TOTAL_ERR_FATAL 1\n", 0, 19, true, 1, { { "dev_fatal_errs_bit[2]", 1 } }, 1 },
        { "u64-max", "RxErr 18446744073709551615\nTOTAL_ERR_COR 18446744073709551615\n", 0, 1, true,
          UINT64_MAX, { { "RxErr", UINT64_MAX } } },
        { "no-trailing-newline", "RxErr 5\nTOTAL_ERR_COR 5", 0, 1, true, 5, { { "RxErr", 5 } } },
        { "blank-lines", "\nRxErr 1\n\n\nBadTLP 2\n\n", 0, 2, false, 0, { { "RxErr", 1 }, { "BadTLP", 2 } } },
        { "total-only", "TOTAL_ERR_FATAL 7\n", 0, 0, true, 7 },
        { "no-total", "RxErr 1\n", 0, 1, false, 0, { { "RxErr", 1 } } },
        { "leading-zeros", "RxErr 007\n", 0, 1, false, 0, { { "RxErr", 7 } } },
        { "name-47-chars", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1\n", 0, 1, false, 0,
          { { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1 } } },
        /* An empty file is not something the kernel writes; it parses as "no counters". */
        { "empty", "", 0, 0, false, 0 },
        { "only-newline", "\n", 0, 0, false, 0 },

        /* Hostile input. */
        { "missing-count", "RxErr\n", -EBADMSG },
        { "missing-count-space", "RxErr \n", -EBADMSG },
        { "missing-count-last-line", "RxErr 1\nBadTLP", -EBADMSG },
        { "missing-name", " 5\n", -EBADMSG },
        { "negative", "RxErr -1\n", -EBADMSG },
        { "plus-sign", "RxErr +1\n", -EBADMSG },
        { "non-digit", "RxErr abc\n", -EBADMSG },
        { "hex", "RxErr 0x10\n", -EBADMSG },
        { "digits-then-junk", "RxErr 12a\n", -EBADMSG },
        { "trailing-space", "RxErr 1 \n", -EBADMSG },
        { "two-spaces", "RxErr  1\n", -EBADMSG },
        { "leading-space", " RxErr 1\n", -EBADMSG },
        { "tab-separator", "RxErr\t0\n", -EBADMSG },
        { "colon-separator", "RxErr: 0\n", -EBADMSG },
        { "dash-in-name", "Rx-Err 0\n", -EBADMSG },
        { "non-ascii-name", "R\xc3\xa9xErr 0\n", -EBADMSG },
        { "crlf", "RxErr 0\r\nBadTLP 0\r\n", -EBADMSG },
        { "cr-only", "RxErr 0\rBadTLP 0\r", -EBADMSG },
        { "name-48-chars", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1\n", -EBADMSG },
        { "name-very-long",
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1\n",
          -EBADMSG },
        { "overflow-u64-plus-1", "RxErr 18446744073709551616\n", -ERANGE },
        { "overflow-u64-times-10", "RxErr 184467440737095516150\n", -ERANGE },
        { "overflow-20-nines", "RxErr 99999999999999999999\n", -ERANGE },
        { "overflow-many-digits",
          "RxErr 1234567890123456789012345678901234567890123456789012345678901234567890\n", -ERANGE },
        { "overflow-in-total", "RxErr 1\nTOTAL_ERR_COR 18446744073709551616\n", -ERANGE },
        /* A long run of junk is malformed, not a number out of range. */
        { "long-junk-count", "RxErr abcdefghijklmnopqrstuvwxyz\n", -EBADMSG },
        { "bad-line-after-good", KERNEL_COR "garbage\nTOTAL_ERR_COR 0\n", -EBADMSG },
        /* found by tests/fuzz/fuzz-aer: a repeated name looked like growth at every reading */
        { "duplicate-name", "RxErr 0\nBadTLP 1\nRxErr 5\n", -EBADMSG },
        { "duplicate-total", "RxErr 0\nTOTAL_ERR_COR 1\nTOTAL_ERR_COR 2\n", -EBADMSG },
};

static const struct sriov_aer_counter poison_counter;
static const struct sriov_aer_counters poison = {
        .present = false,
        .has_total = true,
        .total = 0xdeadbeef,
        .n_counters = 4242,
        .counters = (struct sriov_aer_counter *) &poison_counter,
};

#define assert_counters_untouched(c)                                    \
        do {                                                            \
                assert_int_equal((c).present, poison.present);          \
                assert_int_equal((c).has_total, poison.has_total);      \
                assert_int_equal((c).total, poison.total);              \
                assert_int_equal((c).n_counters, poison.n_counters);    \
                assert_ptr_equal((c).counters, poison.counters);        \
        } while (0)

static void test_parse(void **state) {
        const struct parse_case *c = *state;
        struct sriov_aer_counters got = poison;
        int r;

        r = sriov_aer_parse(c->text, &got);
        assert_errno_equal(r, c->ret);
        if (r < 0) {
                assert_counters_untouched(got);
                return;
        }
        assert_true(got.present);
        assert_int_equal(got.n_counters, c->n_counters);
        assert_int_equal(got.has_total, c->has_total);
        assert_int_equal(got.total, c->total);
        for (size_t i = 0; i < ELEMENTSOF(c->counters) && c->counters[i].name; i++)
                assert_int_equal(sriov_aer_counter_get(&got, c->counters[i].name), c->counters[i].count);
        if (c->counters[0].name) {
                /* Order is kept as the kernel prints it. */
                assert_true(c->index_of_first < got.n_counters);
                assert_string_equal(got.counters[c->index_of_first].name, c->counters[0].name);
        }
        sriov_aer_counters_done(&got);
        assert_null(got.counters);
        assert_int_equal(got.n_counters, 0);
}

/* The kernel's own order is kept, every name exactly as printed. */
static void test_parse_order(void **state) {
        static const char *const names[] = {
                "Undefined", "DLP", "SDES", "TLP", "FCP", "CmpltTO", "CmpltAbrt", "UnxCmplt", "RxOF",
                "MalfTLP", "ECRC", "UnsupReq", "ACSViol", "UncorrIntErr", "BlockedTLP",
                "AtomicOpBlocked", "TLPBlockedErr", "PoisonTLPBlocked",
        };
        struct sriov_aer_counters c;

        assert_int_equal(sriov_aer_parse(KERNEL_UNCOR_0 "TOTAL_ERR_NONFATAL 0\n", &c), 0);
        assert_int_equal(c.n_counters, ELEMENTSOF(names));
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_string_equal(c.counters[i].name, names[i]);
        sriov_aer_counters_done(&c);
}

static char *repeat_lines(unsigned n, const char *tail) {
        size_t size = (size_t) n * 24 + strlen(tail) + 1;
        char *s = malloc(size), *p = s;

        assert_non_null(s);
        for (unsigned i = 0; i < n; i++)
                p += sprintf(p, "Counter%u %u\n", i, i);
        strcpy(p, tail);
        return s;
}

/* SRIOV_AER_COUNTERS_MAX counter lines fit (TOTAL_ lines do not count); one more is -E2BIG. */
static void test_parse_limits(void **state) {
        struct sriov_aer_counters c = poison;
        char *text;

        text = repeat_lines(SRIOV_AER_COUNTERS_MAX, "TOTAL_ERR_COR 1\n");
        assert_int_equal(sriov_aer_parse(text, &c), 0);
        assert_int_equal(c.n_counters, SRIOV_AER_COUNTERS_MAX);
        assert_int_equal(sriov_aer_counter_get(&c, "Counter63"), 63);
        assert_true(c.has_total);
        sriov_aer_counters_done(&c);
        free(text);

        c = poison;
        text = repeat_lines(SRIOV_AER_COUNTERS_MAX + 1, "TOTAL_ERR_COR 1\n");
        assert_errno_equal(sriov_aer_parse(text, &c), -E2BIG);
        assert_counters_untouched(c);
        free(text);

        text = repeat_lines(1000, "");
        assert_errno_equal(sriov_aer_parse(text, &c), -E2BIG);
        free(text);
}

static void test_parse_null(void **state) {
        struct sriov_aer_counters c = poison;

        assert_errno_equal(sriov_aer_parse(NULL, &c), -EINVAL);
        assert_counters_untouched(c);
        assert_errno_equal(sriov_aer_parse("RxErr 0\n", NULL), -EINVAL);
}

static void test_kind_names(void **state) {
        assert_string_equal(sriov_aer_kind_to_string(SRIOV_AER_CORRECTABLE), "correctable");
        assert_string_equal(sriov_aer_kind_to_string(SRIOV_AER_NONFATAL), "nonfatal");
        assert_string_equal(sriov_aer_kind_to_string(SRIOV_AER_FATAL), "fatal");
        assert_null(sriov_aer_kind_to_string(_SRIOV_AER_KIND_MAX));
        assert_null(sriov_aer_kind_to_string(_SRIOV_AER_KIND_INVALID));
}

/* sriov_aer_load() on a directory with some of the files. */
struct load_file {
        const char *name;
        const char *content;            /* NULL: make a directory of that name */
};

struct load_case {
        const char *name;
        struct load_file files[8];
        bool present[_SRIOV_AER_KIND_MAX];
        uint64_t total[_SRIOV_AER_KIND_MAX];
        bool has_rootport;
        uint64_t rootport[_SRIOV_AER_KIND_MAX];
        bool any;
        const char *spot_name;          /* a correctable counter to check */
        uint64_t spot_count;
};

static const struct load_case load_cases[] = {
        { "root-port",
          { { "aer_dev_correctable", KERNEL_COR "TOTAL_ERR_COR 0\n" },
            { "aer_dev_nonfatal", KERNEL_UNCOR_0 "TOTAL_ERR_NONFATAL 0\n" },
            { "aer_dev_fatal", KERNEL_UNCOR_0 "TOTAL_ERR_FATAL 0\n" },
            { "aer_rootport_total_err_cor", "3\n" },
            { "aer_rootport_total_err_nonfatal", "1\n" },
            { "aer_rootport_total_err_fatal", "0\n" } },
          { true, true, true }, { 0, 0, 0 }, true, { 3, 1, 0 }, true, "RxErr", 0 },
        { "endpoint-with-errors",
          { { "aer_dev_correctable",
              "RxErr 0\nBadTLP 4\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\n"
              "HeaderOF 0\nTOTAL_ERR_COR 4\n" },
            { "aer_dev_nonfatal", KERNEL_UNCOR_0 "TOTAL_ERR_NONFATAL 0\n" },
            { "aer_dev_fatal", KERNEL_UNCOR_0 "TOTAL_ERR_FATAL 0\n" } },
          { true, true, true }, { 4, 0, 0 }, false, {}, true, "BadTLP", 4 },
        { "correctable-only", { { "aer_dev_correctable", "RxErr 2\nTOTAL_ERR_COR 2\n" } },
          { true, false, false }, { 2, 0, 0 }, false, {}, true, "RxErr", 2 },
        { "no-aer", { { "vendor", "0x1b36\n" } }, {}, {}, false, {}, false },
        { "malformed-file-skipped",
          { { "aer_dev_correctable", "RxErr 1\nTOTAL_ERR_COR 1\n" },
            { "aer_dev_nonfatal", "this is not an AER file\n" },
            { "aer_dev_fatal", KERNEL_UNCOR_0 "TOTAL_ERR_FATAL 0\n" } },
          { true, false, true }, { 1, 0, 0 }, false, {}, true, "RxErr", 1 },
        { "unreadable-file-skipped",
          { { "aer_dev_correctable", NULL },
            { "aer_dev_fatal", KERNEL_UNCOR_0 "TOTAL_ERR_FATAL 3\n" } },
          { false, false, true }, { 0, 0, 3 }, false, {}, true },
        { "rootport-partial",
          { { "aer_rootport_total_err_cor", "18446744073709551615\n" },
            { "aer_rootport_total_err_nonfatal", "junk\n" },
            { "aer_rootport_total_err_fatal", "-1\n" } },
          {}, {}, true, { UINT64_MAX, 0, 0 }, true },
        { "rootport-all-bad",
          { { "aer_rootport_total_err_cor", "" }, { "aer_rootport_total_err_fatal", " 1" } },
          {}, {}, false, {}, false },
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static void test_load(void **state) {
        const struct load_case *c = *state;
        char dir[] = "/tmp/sriov-aer-XXXXXX";
        struct sriov_aer aer;
        int dfd;

        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        for (size_t i = 0; i < ELEMENTSOF(c->files) && c->files[i].name; i++) {
                if (!c->files[i].content) {
                        assert_int_equal(mkdirat(dfd, c->files[i].name, 0755), 0);
                        continue;
                }
                int fd = openat(dfd, c->files[i].name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                size_t len = strlen(c->files[i].content);
                assert_true(fd >= 0);
                assert_int_equal(write(fd, c->files[i].content, len), (ssize_t) len);
                close(fd);
        }

        memset(&aer, 0x5a, sizeof(aer));
        assert_int_equal(sriov_aer_load(dfd, &aer), 0);
        close(dfd);
        assert_int_equal(nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);

        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                assert_int_equal(aer.kinds[k].present, c->present[k]);
                if (c->present[k]) {
                        assert_true(aer.kinds[k].has_total);
                        assert_int_equal(aer.kinds[k].total, c->total[k]);
                } else {
                        assert_int_equal(aer.kinds[k].n_counters, 0);
                        assert_null(aer.kinds[k].counters);
                }
                assert_int_equal(aer.rootport_total[k], c->rootport[k]);
        }
        assert_int_equal(aer.has_rootport, c->has_rootport);
        assert_int_equal(sriov_aer_present(&aer), c->any);
        if (c->spot_name)
                assert_int_equal(sriov_aer_counter_get(&aer.kinds[SRIOV_AER_CORRECTABLE], c->spot_name),
                                 c->spot_count);
        sriov_aer_done(&aer);
        assert_false(sriov_aer_present(&aer));
}

/* sriov_aer_diff(): what grew between two readings. */
struct diff_case {
        const char *name;
        const char *old_text[_SRIOV_AER_KIND_MAX];      /* NULL: file absent */
        const char *new_text[_SRIOV_AER_KIND_MAX];
        unsigned changed;
        struct { SriovAerKind kind; const char *name; uint64_t delta; } deltas[4];
};

static const struct diff_case diff_cases[] = {
        { "unchanged", { KERNEL_COR "TOTAL_ERR_COR 0\n" }, { KERNEL_COR "TOTAL_ERR_COR 0\n" }, 0 },
        { "one-counter",
          { "RxErr 0\nBadTLP 1\nTOTAL_ERR_COR 1\n" }, { "RxErr 0\nBadTLP 4\nTOTAL_ERR_COR 4\n" }, 2,
          { { SRIOV_AER_CORRECTABLE, "BadTLP", 3 }, { SRIOV_AER_CORRECTABLE, "total", 3 } } },
        { "nonfatal-and-fatal",
          { NULL, "UnsupReq 0\nTOTAL_ERR_NONFATAL 0\n", "DLP 2\nTOTAL_ERR_FATAL 2\n" },
          { NULL, "UnsupReq 1\nTOTAL_ERR_NONFATAL 1\n", "DLP 2\nTOTAL_ERR_FATAL 2\n" }, 2,
          { { SRIOV_AER_NONFATAL, "UnsupReq", 1 }, { SRIOV_AER_NONFATAL, "total", 1 } } },
        /* The device was reset: counters start again from 0. */
        { "went-down", { "RxErr 9\nTOTAL_ERR_COR 9\n" }, { "RxErr 2\nTOTAL_ERR_COR 2\n" }, 2,
          { { SRIOV_AER_CORRECTABLE, "RxErr", 2 }, { SRIOV_AER_CORRECTABLE, "total", 2 } } },
        { "went-to-zero", { "RxErr 9\nTOTAL_ERR_COR 9\n" }, { "RxErr 0\nTOTAL_ERR_COR 0\n" }, 0 },
        { "file-appeared", { NULL }, { "RxErr 1\nTOTAL_ERR_COR 1\n" }, 2,
          { { SRIOV_AER_CORRECTABLE, "RxErr", 1 }, { SRIOV_AER_CORRECTABLE, "total", 1 } } },
        { "file-vanished", { "RxErr 1\nTOTAL_ERR_COR 1\n" }, { NULL }, 0 },
        { "new-counter-name", { "RxErr 1\n" }, { "RxErr 1\nNewErr 7\n" }, 1,
          { { SRIOV_AER_CORRECTABLE, "NewErr", 7 } } },
        { "u64-max", { "RxErr 0\n" }, { "RxErr 18446744073709551615\n" }, 1,
          { { SRIOV_AER_CORRECTABLE, "RxErr", UINT64_MAX } } },
};

static struct { SriovAerKind kind; char name[SRIOV_AER_NAME_MAX]; uint64_t delta; } seen[8];
static size_t n_seen;

static void on_delta(SriovAerKind kind, const char *name, uint64_t delta, void *userdata) {
        assert_ptr_equal(userdata, &n_seen);
        assert_true(n_seen < ELEMENTSOF(seen));
        seen[n_seen].kind = kind;
        snprintf(seen[n_seen].name, sizeof(seen[n_seen].name), "%s", name);
        seen[n_seen].delta = delta;
        n_seen++;
}

static void parse_all(const char *const *texts, struct sriov_aer *ret) {
        *ret = (struct sriov_aer) {};
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                if (texts[k])
                        assert_int_equal(sriov_aer_parse(texts[k], &ret->kinds[k]), 0);
}

static void test_diff(void **state) {
        const struct diff_case *c = *state;
        struct sriov_aer old, now;

        parse_all(c->old_text, &old);
        parse_all(c->new_text, &now);
        n_seen = 0;
        assert_int_equal(sriov_aer_diff(&old, &now, on_delta, &n_seen), c->changed);
        assert_int_equal(n_seen, c->changed);
        for (size_t i = 0; i < n_seen; i++) {
                assert_int_equal(seen[i].kind, c->deltas[i].kind);
                assert_string_equal(seen[i].name, c->deltas[i].name);
                assert_int_equal(seen[i].delta, c->deltas[i].delta);
        }
        /* Without a callback: only the count. */
        assert_int_equal(sriov_aer_diff(&old, &now, NULL, NULL), c->changed);
        sriov_aer_done(&old);
        sriov_aer_done(&now);
}

static void test_copy(void **state) {
        static const char *const texts[] = {
                KERNEL_COR "TOTAL_ERR_COR 0\n", NULL, "DLP 3\nTOTAL_ERR_FATAL 3\n",
        };
        struct sriov_aer src, copy;

        parse_all(texts, &src);
        src.has_rootport = true;
        src.rootport_total[SRIOV_AER_FATAL] = 3;
        assert_int_equal(sriov_aer_copy(&src, &copy), 0);
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                assert_int_equal(copy.kinds[k].present, src.kinds[k].present);
                assert_int_equal(copy.kinds[k].n_counters, src.kinds[k].n_counters);
                assert_int_equal(copy.kinds[k].total, src.kinds[k].total);
                if (src.kinds[k].n_counters > 0)
                        assert_ptr_not_equal(copy.kinds[k].counters, src.kinds[k].counters);
        }
        assert_true(copy.has_rootport);
        assert_int_equal(copy.rootport_total[SRIOV_AER_FATAL], 3);
        assert_int_equal(sriov_aer_diff(&src, &copy, NULL, NULL), 0);

        /* A deep copy: freeing the source leaves the copy intact (valgrind checks). */
        sriov_aer_done(&src);
        assert_int_equal(sriov_aer_counter_get(&copy.kinds[SRIOV_AER_FATAL], "DLP"), 3);
        assert_int_equal(sriov_aer_counter_get(&copy.kinds[SRIOV_AER_CORRECTABLE], "HeaderOF"), 0);
        assert_string_equal(copy.kinds[SRIOV_AER_CORRECTABLE].counters[7].name, "HeaderOF");
        sriov_aer_done(&copy);
}

static void test_done_null(void **state) {
        sriov_aer_done(NULL);
        sriov_aer_counters_done(NULL);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(parse_cases); i++)
                unit_add(&t, test_parse, (void *) &parse_cases[i], "parse/%s", parse_cases[i].name);
        unit_add(&t, test_parse_order, NULL, "parse/kernel-order");
        unit_add(&t, test_parse_limits, NULL, "parse/limits");
        unit_add(&t, test_parse_null, NULL, "parse/null");
        unit_add(&t, test_kind_names, NULL, "kind-names");
        for (size_t i = 0; i < ELEMENTSOF(load_cases); i++)
                unit_add(&t, test_load, (void *) &load_cases[i], "load/%s", load_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(diff_cases); i++)
                unit_add(&t, test_diff, (void *) &diff_cases[i], "diff/%s", diff_cases[i].name);
        unit_add(&t, test_copy, NULL, "copy");
        unit_add(&t, test_done_null, NULL, "done-null");

        return unit_run(&t, "aer");
}
