/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet face's pure parts: metrics-listen addresses, the new [daemon] keys, and the
 * NFD feature file's text (label rules, expiry header, NFD's 64 KiB limit). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "sriov-config.h"
#include "sriov-listen.h"
#include "sriovd-nfd.h"
#include "unit-test.h"

struct listen_case {
        const char *name, *input;
        int ret;
        int family;
        unsigned port;
};

static const struct listen_case listen_cases[] = {
        { "loopback", "127.0.0.1:9808", 0, AF_INET, 9808 },
        { "any-v4", "0.0.0.0:9808", 0, AF_INET, 9808 },
        { "v6-loopback", "[::1]:9808", 0, AF_INET6, 9808 },
        { "v6-any", "[::]:1", 0, AF_INET6, 1 },
        { "port-max", "10.0.0.1:65535", 0, AF_INET, 65535 },
        { "port-zero", "127.0.0.1:0", -EINVAL },
        { "port-too-big", "127.0.0.1:65536", -EINVAL },
        { "port-leading-zero", "127.0.0.1:09808", -EINVAL },
        { "port-sign", "127.0.0.1:+80", -EINVAL },
        { "port-space", "127.0.0.1: 80", -EINVAL },
        { "port-missing", "127.0.0.1:", -EINVAL },
        { "no-port", "127.0.0.1", -EINVAL },
        { "hostname", "localhost:9808", -EINVAL },
        { "short-v4", "127.1:9808", -EINVAL },
        { "v6-unbracketed", "::1:9808", -EINVAL },
        { "v4-bracketed", "[127.0.0.1]:9808", -EINVAL },
        { "v6-no-port", "[::1]", -EINVAL },
        { "v6-empty", "[]:80", -EINVAL },
        { "trailing", "127.0.0.1:80x", -EINVAL },
        { "empty", "", -EINVAL },
        { "only-colon", ":80", -EINVAL },
};

static void test_listen(void **state) {
        const struct listen_case *c = *state;
        struct sockaddr_storage ss = {};
        socklen_t len = 0;

        assert_int_equal(sriov_listen_address_parse(c->input, &ss, &len), c->ret);
        if (c->ret < 0)
                return;
        assert_int_equal(ss.ss_family, c->family);
        if (c->family == AF_INET) {
                assert_int_equal(len, sizeof(struct sockaddr_in));
                assert_int_equal(ntohs(((struct sockaddr_in *) &ss)->sin_port), c->port);
        } else {
                assert_int_equal(len, sizeof(struct sockaddr_in6));
                assert_int_equal(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), c->port);
        }
}

/* ---- the [daemon] keys ---- */

static int load_text(const char *text, struct sriov_config **ret, char ***ret_errors) {
        char path[] = "/tmp/sriovd-test-fleet.XXXXXX";
        int fd = mkstemp(path), r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        r = sriov_config_load(path, NULL, ret, ret_errors);
        unlink(path);
        return r;
}

static void test_keys_defaults(void **state) {
        const struct sriov_daemon_config *d = sriov_config_daemon(NULL);

        assert_null(d->metrics_listen);
        assert_false(d->metrics_per_vf);
        assert_null(d->nfd_features_file);
        assert_int_equal(d->nfd_expiry, SRIOV_CONFIG_NFD_EXPIRY_DEFAULT);
}

static void test_keys_good(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;

        assert_int_equal(load_text("[daemon]\nmetrics-listen = [::1]:9808\nmetrics-per-vf = yes\n"
                                   "nfd-features-file = /etc/kubernetes/node-feature-discovery/features.d/sriovd\n"
                                   "nfd-expiry = 600\n", &c, &errors), 0);
        const struct sriov_daemon_config *d = sriov_config_daemon(c);
        assert_string_equal(d->metrics_listen, "[::1]:9808");
        assert_true(d->metrics_per_vf);
        assert_string_equal(d->nfd_features_file, "/etc/kubernetes/node-feature-discovery/features.d/sriovd");
        assert_int_equal(d->nfd_expiry, 600);
}

struct bad_key_case {
        const char *name, *text, *key;
};

static const struct bad_key_case bad_key_cases[] = {
        { "listen-hostname", "[daemon]\nmetrics-listen = localhost:9808\n", "metrics-listen" },
        { "listen-no-port", "[daemon]\nmetrics-listen = 127.0.0.1\n", "metrics-listen" },
        { "per-vf-not-bool", "[daemon]\nmetrics-per-vf = sometimes\n", "metrics-per-vf" },
        { "nfd-relative", "[daemon]\nnfd-features-file = features.d/sriovd\n", "nfd-features-file" },
        { "expiry-too-short", "[daemon]\nnfd-expiry = 9\n", "nfd-expiry" },
        { "expiry-too-long", "[daemon]\nnfd-expiry = 86401\n", "nfd-expiry" },
};

static void test_keys_bad(void **state) {
        const struct bad_key_case *k = *state;
        struct sriov_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;

        assert_int_equal(load_text(k->text, &c, &errors), -EINVAL);
        assert_null(c);
        assert_non_null(errors);
        assert_non_null(strstr(errors[0], k->key));
        assert_non_null(strstr(errors[0], ":2:"));
}

/* ---- NFD ---- */

struct label_rule_case {
        const char *s;
        bool name, value;
};

static const struct label_rule_case label_rule_cases[] = {
        { "ready", true, true },
        { "pci-0000-3b-00.0.usable-vfs", true, true },
        { "net-ens1f0.vfs", true, true },
        { "", false, true },
        { "a", true, true },
        { "-a", false, false },
        { "a-", false, false },
        { "a.b_c-d", true, true },
        { "0000:3b:00.0", false, false },
        { "a/b", false, false },
        { "a b", false, false },
        { "ümlaut", false, false },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, true },   /* 63 */
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false }, /* 64 */
};

static void test_label_rules(void **state) {
        const struct label_rule_case *c = *state;

        assert_int_equal(sriovd_nfd_valid_name(c->s), c->name);
        assert_int_equal(sriovd_nfd_valid_value(c->s), c->value);
}

static void test_render_small(void **state) {
        const struct sriovd_nfd_label labels[] = { { "ready", "true" }, { "pci-0000-01-00.0.vfs", "2" } };
        _cleanup_free_ char *text = NULL;
        size_t dropped = 99;

        /* 2030-07-29T09:22:33Z */
        assert_int_equal(sriovd_nfd_render(labels, 2, 1911547353, SRIOVD_NFD_FILE_MAX, &text, &dropped), 0);
        assert_string_equal(text, "# +expiry-time=2030-07-29T09:22:33Z\n"
                                  "sriovd.io/ready=true\n"
                                  "sriovd.io/pci-0000-01-00.0.vfs=2\n");
        assert_int_equal(dropped, 0);
}

/* Many PFs: never over the limit; the labels first in line (the node-wide ones) stay,
 * and the file says how many were left out. */
static void test_render_limit(void **state) {
        const size_t n = 4000;
        _cleanup_free_ struct sriovd_nfd_label *labels = calloc(n, sizeof(*labels));
        _cleanup_free_ char *text = NULL;
        size_t dropped = 0;

        assert_non_null(labels);
        snprintf(labels[0].name, sizeof(labels[0].name), "ready");
        snprintf(labels[0].value, sizeof(labels[0].value), "true");
        for (size_t i = 1; i < n; i++) {
                snprintf(labels[i].name, sizeof(labels[i].name), "pci-0000-%02zx-%02zx.0.usable-vfs", i / 32, i % 32);
                snprintf(labels[i].value, sizeof(labels[i].value), "%zu", i);
        }
        assert_int_equal(sriovd_nfd_render(labels, n, 1911547353, SRIOVD_NFD_FILE_MAX, &text, &dropped), 0);
        assert_true(strlen(text) <= SRIOVD_NFD_FILE_MAX);
        assert_true(strlen(text) > SRIOVD_NFD_FILE_MAX - 200);
        assert_true(dropped > 0 && dropped < n);
        assert_non_null(strstr(text, "sriovd.io/ready=true\n"));
        char note[96];
        snprintf(note, sizeof(note), "# %zu labels left out", dropped);
        assert_non_null(strstr(text, note));
        /* whole lines only, the note last */
        assert_int_equal(text[strlen(text) - 1], '\n');
        size_t lines = 0;
        for (const char *p = text; *p; p++)
                lines += *p == '\n';
        assert_int_equal(lines, 1 + (n - dropped) + 1);
}

/* Exactly at the limit with nothing left out: no note needed, all labels kept. */
static void test_render_fits_exactly(void **state) {
        const struct sriovd_nfd_label labels[] = { { "ready", "true" } };
        _cleanup_free_ char *text = NULL;
        size_t dropped = 0;
        size_t need = strlen("# +expiry-time=2030-07-29T09:22:33Z\n") + strlen("sriovd.io/ready=true\n");

        assert_int_equal(sriovd_nfd_render(labels, 1, 1911547353, need + 96, &text, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(strlen(text), need);
        free(text);
        text = NULL;
        assert_int_equal(sriovd_nfd_render(labels, 1, 1911547353, 40, &text, &dropped), -EINVAL);
        assert_null(text);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(listen_cases); i++)
                unit_add(&t, test_listen, (void *) &listen_cases[i], "listen/%s", listen_cases[i].name);
        unit_add(&t, test_keys_defaults, NULL, "keys/defaults");
        unit_add(&t, test_keys_good, NULL, "keys/good");
        for (size_t i = 0; i < ELEMENTSOF(bad_key_cases); i++)
                unit_add(&t, test_keys_bad, (void *) &bad_key_cases[i], "keys/bad/%s", bad_key_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(label_rule_cases); i++)
                unit_add(&t, test_label_rules, (void *) &label_rule_cases[i], "nfd/label-rules/%zu", i);
        unit_add(&t, test_render_small, NULL, "nfd/render/small");
        unit_add(&t, test_render_limit, NULL, "nfd/render/limit");
        unit_add(&t, test_render_fits_exactly, NULL, "nfd/render/fits-exactly");
        return unit_run(&t, "fleet");
}
