/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AER counter files (aer_dev_correctable, aer_dev_nonfatal, aer_dev_fatal) as sysfs
 * serves them, and the delta between two readings that the daemon turns into events.
 * The input is up to six files separated by NUL bytes: three "before", three "after". */
#include "fuzz-util.h"
#include "sriov-aer.h"
#include "sriov-json.h"

static void count_delta(SriovAerKind kind, const char *name, uint64_t delta, void *userdata) {
        unsigned *n = userdata;

        fuzz_assert(kind >= 0 && kind < _SRIOV_AER_KIND_MAX);
        fuzz_assert(name && strlen(name) < SRIOV_AER_NAME_MAX);
        fuzz_assert(delta > 0);
        (*n)++;
}

static void parse_into(const char *text, struct sriov_aer_counters *c) {
        struct sriov_aer_counters parsed = {};

        if (sriov_aer_parse(text, &parsed) < 0)
                return;
        fuzz_assert(parsed.present && parsed.n_counters <= SRIOV_AER_COUNTERS_MAX);
        for (size_t i = 0; i < parsed.n_counters; i++) {
                size_t len = strlen(parsed.counters[i].name);
                fuzz_assert(len > 0 && len < SRIOV_AER_NAME_MAX);
                /* the first counter of a name is the one looked up */
                if (sriov_aer_counter_get(&parsed, parsed.counters[i].name) != parsed.counters[i].count) {
                        bool earlier = false;
                        for (size_t j = 0; j < i; j++)
                                earlier = earlier || streq(parsed.counters[j].name, parsed.counters[i].name);
                        fuzz_assert(earlier);
                }
        }
        *c = parsed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        struct sriov_aer before = {}, after = {}, copy = {};
        const char *p;
        unsigned n_cb = 0, changed;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        text = fuzz_strndup(data, size);
        if (!text)
                return 0;

        p = text;
        for (unsigned i = 0; i < 2 * _SRIOV_AER_KIND_MAX && p <= text + size; i++) {
                struct sriov_aer *a = i < _SRIOV_AER_KIND_MAX ? &before : &after;

                parse_into(p, &a->kinds[i % _SRIOV_AER_KIND_MAX]);
                p += strlen(p) + 1;
        }
        /* the last byte of the input, when it is left over, stands for a root port's totals */
        if (size > 0 && (data[size - 1] & 1)) {
                after.has_rootport = true;
                after.rootport_total[data[size - 1] % _SRIOV_AER_KIND_MAX] = data[size - 1];
        }

        changed = sriov_aer_diff(&before, &after, count_delta, &n_cb);
        fuzz_assert(changed == n_cb);
        fuzz_assert(sriov_aer_diff(&after, &after, NULL, NULL) == 0);

        if (sriov_aer_copy(&after, &copy) >= 0) {
                fuzz_assert(sriov_aer_present(&copy) == sriov_aer_present(&after));
                fuzz_assert(sriov_aer_diff(&after, &copy, NULL, NULL) == 0);
                json_object_put(sriov_aer_to_json(&copy));
                sriov_aer_done(&copy);
        }
        sriov_aer_done(&before);
        sriov_aer_done(&after);
        return 0;
}
