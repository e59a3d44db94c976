/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration files: each case is a main file and drop-ins, written to a fresh folder,
 * and either values that the effective configuration (its JSON) must show, or the exact
 * list of messages, each checked for its FILE:LINE, key and section and a word of why. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <syslog.h>
#include <sys/stat.h>

#include "sriov-config.h"
#include "sriov-json.h"
#include "unit-test.h"

/* ---- a folder per case ---- */

struct dropin {
        const char *name;
        const char *text;
        char type;                      /* 0: regular file; 'd' folder; 'l' symlink to text; 'p' FIFO */
};

struct tmp {
        char dir[64];
        char main[128];
        char dropins[128];
};

static void write_file(const char *path, const char *text, size_t len) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void tmp_setup(struct tmp *t, const char *main, size_t main_len, const struct dropin *dropins, size_t n) {
        const char *base = getenv("TMPDIR") ?: "/tmp";

        snprintf(t->dir, sizeof(t->dir), "%s/test-config.XXXXXX", base);
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->main, sizeof(t->main), "%s/sriovd.conf", t->dir);
        snprintf(t->dropins, sizeof(t->dropins), "%s/sriovd.conf.d", t->dir);
        if (main)
                write_file(t->main, main, main_len ? main_len : strlen(main));
        if (n > 0 && dropins[0].name)
                assert_int_equal(mkdir(t->dropins, 0755), 0);
        for (size_t i = 0; i < n && dropins[i].name; i++) {
                char path[256];

                snprintf(path, sizeof(path), "%s/%s", t->dropins, dropins[i].name);
                switch (dropins[i].type) {
                case 0:
                        write_file(path, dropins[i].text, strlen(dropins[i].text));
                        break;
                case 'd':
                        assert_int_equal(mkdir(path, 0755), 0);
                        break;
                case 'l':
                        assert_int_equal(symlink(dropins[i].text, path), 0);
                        break;
                case 'p':
                        assert_int_equal(mkfifo(path, 0644), 0);
                        break;
                default:
                        fail();
                }
        }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void tmp_done(struct tmp *t) {
        assert_int_equal(nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* "{M}" is the main file, "{D}" the drop-in folder. */
static char *expand(const struct tmp *t, const char *s) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        while (*s) {
                if (strneq(s, "{M}", 3)) {
                        fputs(t->main, f);
                        s += 3;
                } else if (strneq(s, "{D}", 3)) {
                        fputs(t->dropins, f);
                        s += 3;
                } else
                        fputc(*s++, f);
        }
        assert_int_equal(fclose(f), 0);
        return out;
}

/* ---- checks ---- */

/* "pfs.0.vfs.1.mac": object members and array indexes. */
static json_object *json_path(json_object *o, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL;

        assert_non_null(copy);
        for (char *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
                if (json_object_is_type(o, json_type_array)) {
                        size_t i = strtoul(tok, NULL, 10);
                        if (i >= json_object_array_length(o))
                                fail_msg("%s: no element %s", path, tok);
                        o = json_object_array_get_idx(o, i);
                } else if (!json_object_object_get_ex(o, tok, &o))
                        fail_msg("%s: no member %s", path, tok);
        }
        return o;
}

static void assert_json_at(const struct tmp *t, json_object *root, const char *path, const char *expected) {
        _cleanup_free_ char *e = expand(t, expected);
        json_object *v = json_path(root, path);
        const char *got = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                            : "null";

        if (!streq(got, e))
                fail_msg("%s: got %s, expected %s", path, got, e);
}

struct expect {
        const char *path;
        const char *json;
};

struct experr {
        const char *prefix;             /* "{M}:3: key 'socket' in [daemon]: " */
        const char *contains;           /* a word of the explanation */
};

static void print_errors(char **errors) {
        for (char **e = errors; e && *e; e++)
                print_message("  | %s\n", *e);
}

static void assert_errors(const struct tmp *t, char **errors, const struct experr *want, size_t n_want) {
        size_t n = 0;

        while (errors && errors[n])
                n++;
        if (n != n_want) {
                print_errors(errors);
                fail_msg("got %zu messages, expected %zu", n, n_want);
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *prefix = expand(t, want[i].prefix),
                                    *contains = want[i].contains ? expand(t, want[i].contains) : NULL;

                if (!strneq(errors[i], prefix, strlen(prefix)) ||
                    (contains && !strstr(errors[i] + strlen(prefix), contains))) {
                        print_errors(errors);
                        fail_msg("message %zu: expected \"%s...%s...\"", i, prefix, strna(contains));
                }
        }
}

/* Loads, checks the return and the messages, and hands back the configuration. */
static struct sriov_config *load(const struct tmp *t, int ret, const struct experr *want, size_t n_want) {
        struct sriov_config *poison = (struct sriov_config *) 0x1, *c = poison;
        char **errors = (char **) 0x1;
        int r;

        r = sriov_config_load(t->main, t->dropins, &c, &errors);
        if (r != ret)
                print_errors(r < 0 && r != -ENOMEM ? errors : NULL);
        assert_errno_equal(r, ret);
        if (r < 0) {
                assert_ptr_equal(c, poison);    /* the running configuration stays */
                assert_non_null(errors);
                assert_errors(t, errors, want, n_want);
                strv_free(errors);
                return NULL;
        }
        assert_null(errors);
        assert_ptr_not_equal(c, poison);
        assert_non_null(c);
        return c;
}

#define MAX_EXPECT 12

struct config_case {
        const char *name;
        const char *main;               /* NULL: no main file */
        size_t main_len;                /* > 0: bytes with NULs */
        struct dropin dropins[8];
        int ret;
        struct expect expect[MAX_EXPECT];
        struct experr errors[MAX_EXPECT];
};

static size_t count_errors(const struct experr *e) {
        size_t n = 0;
        while (n < MAX_EXPECT && e[n].prefix)
                n++;
        return n;
}

static void test_config(void **state) {
        const struct config_case *cc = *state;
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_json_ json_object *j = NULL;
        struct tmp t;

        tmp_setup(&t, cc->main, cc->main_len, cc->dropins, ELEMENTSOF(cc->dropins));
        c = load(&t, cc->ret, cc->errors, count_errors(cc->errors));
        if (c) {
                j = sriov_config_to_json(c);
                assert_non_null(j);
                for (size_t i = 0; i < MAX_EXPECT && cc->expect[i].path; i++)
                        assert_json_at(&t, j, cc->expect[i].path, cc->expect[i].json);
        }
        tmp_done(&t);
}

#define PF "[pf \"0000:3b:00.0\"]\n"
#define BYTES(s) s, sizeof(s) - 1

static const struct config_case config_cases[] = {
        /* ---- files and folders ---- */
        { "nothing-at-all", NULL, .expect = {
                { "files", "[]" }, { "pfs", "[]" }, { "daemon.log_level", "null" },
                { "daemon.history_size", "4096" }, { "daemon.aer_poll_interval", "10" },
                { "daemon.settle_quiet_ms", "null" }, { "daemon.origins", "{}" } } },
        { "empty-file", "", .expect = { { "files", "[\"{M}\"]" }, { "pfs", "[]" } } },
        { "only-comments-and-blanks", "# a comment\n; another\n\n   \n\t\n  # indented comment\n",
          .expect = { { "pfs", "[]" } } },
        { "no-final-newline", "[daemon]\nlog-level = notice", .expect = { { "daemon.log_level", "\"notice\"" } } },
        { "crlf", "[daemon]\r\nlog-level = notice\r\n", .expect = { { "daemon.log_level", "\"notice\"" } } },
        { "utf8-bom", "\xef\xbb\xbf[daemon]\nlog-level = notice\n", .expect = { { "daemon.log_level", "\"notice\"" } } },
        { "utf8-in-comment", "# Konfiguration für die Netzwerkkarte – ✓\n[daemon]\nlog-level = err\n",
          .expect = { { "daemon.log_level", "\"err\"" } } },
        { "dropins-only", NULL, .dropins = { { "10-a.conf", "[daemon]\nlog-level = debug\n" } },
          .expect = { { "files", "[\"{D}/10-a.conf\"]" }, { "daemon.log_level", "\"debug\"" } } },
        { "dropin-overrides-main",
          "[daemon]\nlog-level = info\nhistory-size = 100\n" PF "num-vfs = 4\npolicy = all-or-nothing\n",
          .dropins = { { "50-x.conf", "[daemon]\nlog-level = debug\n" PF "num-vfs = 8\n" } },
          .expect = { { "daemon.log_level", "\"debug\"" }, { "daemon.history_size", "100" },
                      { "daemon.origins.log_level", "\"{D}/50-x.conf:2\"" },
                      { "daemon.origins.history_size", "\"{M}:3\"" },
                      { "pfs.0.num_vfs", "8" }, { "pfs.0.policy", "\"all-or-nothing\"" },
                      { "pfs.0.source", "\"{M}:4\"" },
                      { "pfs.0.sources", "[\"{M}:4\",\"{D}/50-x.conf:3\"]" },
                      { "pfs.0.origins.num_vfs", "\"{D}/50-x.conf:4\"" } } },
        { "dropins-lexical-order", NULL, .dropins = {
                { "9-late.conf", "[daemon]\nhistory-size = 900\n" },
                { "10-early.conf", "[daemon]\nhistory-size = 100\n" },
                { "A-upper.conf", "[daemon]\naer-poll-interval = 1\n" },
                { "a-lower.conf", "[daemon]\naer-poll-interval = 2\n" } },
          .expect = { { "daemon.history_size", "900" }, { "daemon.aer_poll_interval", "2" },
                      { "files", "[\"{D}/10-early.conf\",\"{D}/9-late.conf\",\"{D}/A-upper.conf\",\"{D}/a-lower.conf\"]" } } },
        { "dropin-folder-junk-ignored", "[daemon]\nlog-level = info\n", .dropins = {
                { "README", "this is not a configuration file\n" },
                { "50-x.conf.bak", "[daemon]\nlog-level = debug\n" },
                { ".hidden.conf", "[daemon]\nlog-level = debug\n" },
                { "conf", "garbage\n" },
                { "folder.conf", NULL, 'd' },
                { "fifo.conf", NULL, 'p' },
                { "dangling.conf", "/nonexistent/x.conf", 'l' },
                { "20-good.conf", "[daemon]\nhistory-size = 64\n" } },
          .expect = { { "daemon.log_level", "\"info\"" }, { "daemon.history_size", "64" },
                      { "files", "[\"{M}\",\"{D}/20-good.conf\"]" } } },
        { "dropin-symlink-to-file", NULL, .dropins = {
                { "real", "[daemon]\nhistory-size = 32\n" }, { "10-link.conf", "real", 'l' } },
          .expect = { { "daemon.history_size", "32" } } },
        { "error-in-dropin-names-dropin", "[daemon]\nlog-level = info\n",
          .dropins = { { "10-a.conf", "\n[daemon]\nlog-level = loud\n" } }, .ret = -EINVAL,
          .errors = { { "{D}/10-a.conf:3: key 'log-level' in [daemon]: ", "'loud'" } } },
        { "errors-in-main-and-dropins-in-order", "[daemon]\nsocket = x\n",
          .dropins = { { "20-b.conf", "[daemon]\nbogus = 1\n" }, { "10-a.conf", "[nope]\n" } }, .ret = -EINVAL,
          .errors = { { "{M}:2: key 'socket' in [daemon]: ", "absolute" },
                      { "{D}/10-a.conf:1: section [nope]: ", "unknown section" },
                      { "{D}/20-b.conf:2: key 'bogus' in [daemon]: ", "unknown key" } } },
        { "same-key-in-two-files-is-fine", "[daemon]\nhistory-size = 20\n",
          .dropins = { { "a.conf", "[daemon]\nhistory-size = 30\n" }, { "b.conf", "[daemon]\nhistory-size = 40\n" } },
          .expect = { { "daemon.history_size", "40" }, { "daemon.origins.history_size", "\"{D}/b.conf:2\"" } } },

        /* ---- syntax ---- */
        { "indented-keys-are-not-continuations", "[daemon]\n  log-level = debug\n\thistory-size = 20\n",
          .expect = { { "daemon.log_level", "\"debug\"" }, { "daemon.history_size", "20" } } },
        { "inline-semicolon-comment", "[daemon]\nhistory-size = 20 ; twenty\n[pf \"ens1f0\"] ; comment\n"
                                      "[pf \"ens1f1\"] # comment\n",
          .expect = { { "daemon.history_size", "20" }, { "pfs.1.match", "\"ens1f1\"" } } },
        { "hash-is-not-an-inline-comment", "[daemon]\nhistory-size = 20 # twenty\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'history-size' in [daemon]: ", "'20 # twenty'" } } },
        { "spaces-around-equals-optional", "[daemon]\nhistory-size=20\nlog-level   =   err   \n",
          .expect = { { "daemon.history_size", "20" }, { "daemon.log_level", "\"err\"" } } },
        { "key-before-any-section", "socket = /run/x.sock\n[daemon]\n", .ret = -EINVAL,
          .errors = { { "{M}:1: key 'socket' outside of any section: ", "[daemon]" } } },
        { "unknown-section-reported-once", "[daemon]\n[frobnicate]\nsocket = relative\nfoo = bar\n[daemon2]\n",
          .ret = -EINVAL,
          .errors = { { "{M}:2: section [frobnicate]: ", "unknown section" },
                      { "{M}:5: section [daemon2]: ", "unknown section" } } },
        { "section-names-are-case-sensitive", "[Daemon]\n[PF \"ens1f0\"]\n", .ret = -EINVAL,
          .errors = { { "{M}:1: section [Daemon]: ", "unknown" }, { "{M}:2: section [PF \"ens1f0\"]: ", "unknown" } } },
        { "empty-section-name", "[]\n", .ret = -EINVAL, .errors = { { "{M}:1: section []: ", "unknown" } } },
        { "section-without-bracket", "[daemon\nlog-level = info\n", .ret = -EINVAL,
          .errors = { { "{M}:1: ", "without ']'" } } },
        { "text-after-section", "[daemon] extra\nlog-level = info\n", .ret = -EINVAL,
          .errors = { { "{M}:1: ", "text after the section header: 'extra'" } } },
        { "keys-after-broken-header-not-in-previous-section",
          "[daemon]\nhistory-size = 20\n[daemon\nhistory-size = 30\n[pf \"ens1\"] x\nhistory-size = 40\n",
          .ret = -EINVAL,
          .errors = { { "{M}:3: in [daemon]: ", "without ']'" },
                      { "{M}:5: in [daemon]: ", "text after the section header: 'x'" } } },
        { "unknown-key", "[daemon]\nlog_level = info\nLog-Level = info\n" PF "numvfs = 3\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'log_level' in [daemon]: ", "unknown key" },
                      { "{M}:3: key 'Log-Level' in [daemon]: ", "unknown key" },
                      { "{M}:5: key 'numvfs' in [pf \"0000:3b:00.0\"]: ", "unknown key" } } },
        { "pf-key-in-daemon-and-back", "[daemon]\nnum-vfs = 3\n" PF "socket = /run/x\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'num-vfs' in [daemon]: ", "unknown key" },
                      { "{M}:4: key 'socket' in [pf \"0000:3b:00.0\"]: ", "unknown key" } } },
        { "key-with-odd-characters", "[daemon]\nlog level = info\nsocket:x = /run/s\nkey;x = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'log level' in [daemon]: ", "unknown key" },
                      { "{M}:3: key 'socket:x' in [daemon]: ", "unknown key" },
                      { "{M}:4: key 'key;x' in [daemon]: ", "unknown key" } } },
        { "colon-is-not-a-separator", "[daemon]\nsocket: /run/s\n", .ret = -EINVAL,
          .errors = { { "{M}:2: in [daemon]: ", "expected KEY = VALUE" } } },
        { "garbage-lines", "[daemon]\nthis is not a key\nlog-level = info\n\"quoted\"\n" PF "}{\n", .ret = -EINVAL,
          .errors = { { "{M}:2: in [daemon]: ", "'this is not a key'" },
                      { "{M}:4: in [daemon]: ", "'\"quoted\"'" },
                      { "{M}:6: in [pf \"0000:3b:00.0\"]: ", "'}{'" } } },
        { "garbage-before-any-section", "hello\n", .ret = -EINVAL, .errors = { { "{M}:1: expected", NULL } } },
        { "no-key", "[daemon]\n= info\n", .ret = -EINVAL, .errors = { { "{M}:2: in [daemon]: ", "no key" } } },
        { "empty-values", "[daemon]\nsocket =\nlog-level = ; nothing\n" PF "vf.0.mac =  \nnum-vfs=\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'socket' in [daemon]: ", "empty value" },
                      { "{M}:3: key 'log-level' in [daemon]: ", "empty value" },
                      { "{M}:5: key 'vf.0.mac' in [pf \"0000:3b:00.0\"]: ", "empty value" },
                      { "{M}:6: key 'num-vfs' in [pf \"0000:3b:00.0\"]: ", "empty value" } } },
        { "duplicate-key-in-section", "[daemon]\nhistory-size = 20\nhistory-size = 30\n" PF "vf.1.vlan = 2\nvf.1.vlan = 3\n",
          .ret = -EINVAL,
          .errors = { { "{M}:3: key 'history-size' in [daemon]: ", "line 2" },
                      { "{M}:6: key 'vf.1.vlan' in [pf \"0000:3b:00.0\"]: ", "line 5" } } },
        { "duplicate-daemon-section", "[daemon]\nhistory-size = 20\n[daemon]\nhistory-size = 30\nlog-level = x\n",
          .ret = -EINVAL,
          .errors = { { "{M}:3: section [daemon]: ", "line 1" },
                      { "{M}:5: key 'log-level' in [daemon]: ", "'x'" } } },
        { "duplicate-pf-section", PF "num-vfs = 1\n" PF "num-vfs = 2\n[pf \"8086:1572\"]\n[pf \"8086:1572\"]\n"
                                  "[pf \"ens1f0\"]\n[pf \"ens1f0\"]\n", .ret = -EINVAL,
          .errors = { { "{M}:3: section [pf \"0000:3b:00.0\"]: ", "line 1" },
                      { "{M}:6: section [pf \"8086:1572\"]: ", "line 5" },
                      { "{M}:8: section [pf \"ens1f0\"]: ", "line 7" } } },
        { "duplicate-pf-section-other-spelling", PF "[pf \"3B:00.0\"]\n[pf \"8086:abcd\"]\n[pf \"8086:ABCD\"]\n",
          .ret = -EINVAL,
          .errors = { { "{M}:2: section [pf \"3B:00.0\"]: ", "[pf \"0000:3b:00.0\"] at line 1" },
                      { "{M}:4: section [pf \"8086:ABCD\"]: ", "[pf \"8086:abcd\"] at line 3" } } },
        { "same-pf-section-in-two-files", PF "num-vfs = 1\nvf.0.vlan = 5\n",
          .dropins = { { "a.conf", "[pf \"0000:3b:00.0\"]\nnum-vfs = 2\nvf.0.qos = 1\n" } },
          .expect = { { "pfs.0.num_vfs", "2" }, { "pfs.0.vfs.0.vlan", "5" }, { "pfs.0.vfs.0.qos", "1" } } },
        { "nul-byte", BYTES("[daemon]\nlog-level = in\0fo\nhistory-size = 20\n"), .ret = -EINVAL,
          .errors = { { "{M}:2: key 'log-level' in [daemon]: ", "NUL" } } },
        { "control-character", "[daemon]\nlog-level = in\x1b[0mfo\nhistory-size = 2\x7f\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'log-level' in [daemon]: ", "\\x1b" },
                      { "{M}:3: key 'history-size' in [daemon]: ", "\\x7f" } } },
        { "non-utf8", "[daemon]\nsocket = /run/\xff.sock\n# comment \xc3\x28\n" PF "vf-driver = \xc0\xaf\n"
                      "vfio-owner = \xed\xa0\x80\n\xfe\xfe = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'socket' in [daemon]: ", "UTF-8" },
                      { "{M}:3: in [daemon]: ", "UTF-8" },
                      { "{M}:5: key 'vf-driver' in [pf \"0000:3b:00.0\"]: ", "UTF-8" },
                      { "{M}:6: key 'vfio-owner' in [pf \"0000:3b:00.0\"]: ", "UTF-8" },
                      { "{M}:7: in [pf \"0000:3b:00.0\"]: ", "UTF-8" } } },
        { "non-utf8-section", "[pf \"eth\xff\"]\n", .ret = -EINVAL, .errors = { { "{M}:1: ", "UTF-8" } } },

        /* ---- PF sections ---- */
        { "pf-match-kinds", "[pf \"0000:3B:00.1\"]\n[pf \"3b:00.0\"]\n[pf \"10000:e0:06.0\"]\n"
                            "[pf \"8086:1572\"]\n[pf \"15B3:101E\"]\n[pf \"ens1f0\"]\n[pf \"enp59s0f0np0\"]\n"
                            "[pf \"eth0.100\"]\n[pf \"0000\"]\n",
          .expect = {
                { "pfs.0.match", "\"0000:3b:00.0\"" }, { "pfs.0.match_kind", "\"address\"" },
                { "pfs.0.source", "\"{M}:2\"" },
                { "pfs.1.match", "\"0000:3b:00.1\"" },
                { "pfs.2.match", "\"10000:e0:06.0\"" },
                { "pfs.3.match", "\"0000\"" }, { "pfs.3.match_kind", "\"ifname\"" },
                { "pfs.6.match", "\"eth0.100\"" },
                { "pfs.7.match", "\"15b3:101e\"" }, { "pfs.7.match_kind", "\"id\"" },
                { "pfs.8.match", "\"8086:1572\"" }, { "pfs.8.source", "\"{M}:4\"" } } },
        { "pf-bad-syntax", "[pf 0000:3b:00.0]\n[pf:0000:3b:00.0]\n[pf  \"ens1f0\"]\n[pf \"ens1f0]\n"
                           "[pf \"a\"b\"]\n[pf]\n[pf \"ens1f0\" ]\n", .ret = -EINVAL,
          .errors = { { "{M}:1: section [pf 0000:3b:00.0]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:2: section [pf:0000:3b:00.0]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:3: section [pf  \"ens1f0\"]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:4: section [pf \"ens1f0]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:5: section [pf \"a\"b\"]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:6: section [pf]: ", "[pf \"ADDRESS\"]" },
                      { "{M}:7: section [pf \"ens1f0\" ]: ", "[pf \"ADDRESS\"]" } } },
        { "pf-bad-match", "[pf \"\"]\n[pf \"0000:3b:20.0\"]\n[pf \"8086:157\"]\n[pf \"8086:157g\"]\n"
                          "[pf \"abcdefghijklmnop\"]\n[pf \"a/b\"]\n[pf \".\"]\n[pf \"..\"]\n[pf \"a b\"]\n"
                          "[pf \"8086:1572:1\"]\n", .ret = -EINVAL,
          .errors = { { "{M}:1: section [pf \"\"]: ", "neither" },
                      { "{M}:2: section [pf \"0000:3b:20.0\"]: ", "neither" },
                      { "{M}:3: section [pf \"8086:157\"]: ", "neither" },
                      { "{M}:4: section [pf \"8086:157g\"]: ", "neither" },
                      { "{M}:5: section [pf \"abcdefghijklmnop\"]: ", "neither" },
                      { "{M}:6: section [pf \"a/b\"]: ", "neither" },
                      { "{M}:7: section [pf \".\"]: ", "neither" },
                      { "{M}:8: section [pf \"..\"]: ", "neither" },
                      { "{M}:9: section [pf \"a b\"]: ", "neither" },
                      { "{M}:10: section [pf \"8086:1572:1\"]: ", "neither" } } },
        { "pf-ifname-15-bytes", "[pf \"abcdefghijklmno\"]\n", .expect = { { "pfs.0.match", "\"abcdefghijklmno\"" } } },
        { "keys-under-bad-pf-header-still-checked", "[pf \"a/b\"]\nnum-vfs = lots\nvf.0.vlan = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:1: section [pf \"a/b\"]: " }, { "{M}:2: key 'num-vfs' in [pf \"a/b\"]: ", "'lots'" } } },
        { "pf-defaults", PF, .expect = {
                { "pfs.0.num_vfs", "null" }, { "pfs.0.policy", "\"best-effort\"" },
                { "pfs.0.drivers_autoprobe", "null" }, { "pfs.0.vf_driver", "null" },
                { "pfs.0.recovery", "\"remove-rescan\"" }, { "pfs.0.recovery_attempts", "3" },
                { "pfs.0.park_idle_vfs", "false" }, { "pfs.0.repair_drift", "false" },
                { "pfs.0.vfio_owner", "null" }, { "pfs.0.vfio_group", "null" }, { "pfs.0.vfs", "[]" },
                { "pfs.0.origins", "{}" } } },

        /* ---- VF keys and the checks between keys ---- */
        { "vf-keys-sorted-by-index", PF "vf.10.vlan = 1\nvf.2.vlan = 2\nvf.65534.trust = yes\nvf.0.driver = vfio-pci\n",
          .expect = { { "pfs.0.vfs.0.index", "0" }, { "pfs.0.vfs.1.index", "2" }, { "pfs.0.vfs.2.index", "10" },
                      { "pfs.0.vfs.3.index", "65534" }, { "pfs.0.vfs.3.trust", "true" },
                      { "pfs.0.vfs.0.driver", "\"vfio-pci\"" }, { "pfs.0.vfs.2.vlan", "1" } } },
        { "vf-defaults", PF "vf.3.vlan = 7\n", .expect = {
                { "pfs.0.vfs.0.mac", "null" }, { "pfs.0.vfs.0.vlan", "7" }, { "pfs.0.vfs.0.qos", "null" },
                { "pfs.0.vfs.0.vlan_proto", "null" }, { "pfs.0.vfs.0.trust", "null" },
                { "pfs.0.vfs.0.spoof_check", "null" }, { "pfs.0.vfs.0.link_state", "null" },
                { "pfs.0.vfs.0.min_tx_rate", "null" }, { "pfs.0.vfs.0.max_tx_rate", "null" },
                { "pfs.0.vfs.0.driver", "null" }, { "pfs.0.vfs.0.origins", "{\"vlan\":\"{M}:2\"}" } } },
        { "vf-bad-index", PF "vf.65535.vlan = 1\nvf.01.vlan = 1\nvf.x.vlan = 1\nvf..vlan = 1\nvf.-1.vlan = 1\n"
                             "vf.0\nvf.0 = 1\nvf.0.bogus = 1\nvf.0.vlan.x = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.65535.vlan' in [pf \"0000:3b:00.0\"]: ", "'65535' is not a VF index" },
                      { "{M}:3: key 'vf.01.vlan' in [pf \"0000:3b:00.0\"]: ", "'01' is not a VF index" },
                      { "{M}:4: key 'vf.x.vlan' in [pf \"0000:3b:00.0\"]: ", "'x' is not a VF index" },
                      { "{M}:5: key 'vf..vlan' in [pf \"0000:3b:00.0\"]: ", "'' is not a VF index" },
                      { "{M}:6: key 'vf.-1.vlan' in [pf \"0000:3b:00.0\"]: ", "'-1' is not a VF index" },
                      { "{M}:7: in [pf \"0000:3b:00.0\"]: ", "expected KEY = VALUE" },
                      { "{M}:8: key 'vf.0' in [pf \"0000:3b:00.0\"]: ", "unknown key" },
                      { "{M}:9: key 'vf.0.bogus' in [pf \"0000:3b:00.0\"]: ", "unknown key" },
                      { "{M}:10: key 'vf.0.vlan.x' in [pf \"0000:3b:00.0\"]: ", "unknown key" } } },
        { "vf-in-daemon-section", "[daemon]\nvf.0.vlan = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.0.vlan' in [daemon]: ", "unknown key" } } },
        { "vf-bad-value-creates-no-entry", PF "vf.4.vlan = 5000\nvf.5.vlan = 1\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.4.vlan' in [pf \"0000:3b:00.0\"]: ", "out of range" } } },
        { "qos-needs-vlan", PF "vf.0.qos = 3\nvf.1.qos = 3\nvf.1.vlan = 0\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.0.qos' in [pf \"0000:3b:00.0\"]: ", "needs vf.0.vlan" } } },
        { "vlan-proto-needs-vlan", PF "vf.0.vlan-proto = 802.1ad\n", .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.0.vlan-proto' in [pf \"0000:3b:00.0\"]: ", "needs vf.0.vlan" } } },
        { "qos-with-vlan-from-dropin", PF "vf.0.qos = 3\n",
          .dropins = { { "a.conf", "[pf \"0000:3b:00.0\"]\nvf.0.vlan = 100\n" } },
          .expect = { { "pfs.0.vfs.0.qos", "3" }, { "pfs.0.vfs.0.vlan", "100" } } },
        { "rates-min-below-max", PF "vf.0.min-tx-rate = 100\nvf.0.max-tx-rate = 1000\nvf.1.min-tx-rate = 7\n"
                                   "vf.1.max-tx-rate = 7\nvf.2.min-tx-rate = 500\nvf.2.max-tx-rate = 0\n",
          .expect = { { "pfs.0.vfs.0.min_tx_rate", "100" }, { "pfs.0.vfs.0.max_tx_rate", "1000" },
                      { "pfs.0.vfs.1.max_tx_rate", "7" }, { "pfs.0.vfs.2.max_tx_rate", "0" } } },
        { "rates-min-above-max", PF "vf.0.min-tx-rate = 500\nvf.0.max-tx-rate = 100\n"
                                   "vf.1.max-tx-rate = 100\nvf.1.min-tx-rate = 101\n", .ret = -EINVAL,
          .errors = { { "{M}:3: key 'vf.0.max-tx-rate' in [pf \"0000:3b:00.0\"]: ", "{M}:2" },
                      { "{M}:5: key 'vf.1.min-tx-rate' in [pf \"0000:3b:00.0\"]: ", "{M}:4" } } },
        { "rates-dropin-lowers-max", PF "vf.0.min-tx-rate = 500\nvf.0.max-tx-rate = 1000\n",
          .dropins = { { "a.conf", "[pf \"0000:3b:00.0\"]\nvf.0.max-tx-rate = 200\n" } }, .ret = -EINVAL,
          .errors = { { "{D}/a.conf:2: key 'vf.0.max-tx-rate' in [pf \"0000:3b:00.0\"]: ", "500 is above" } } },
        { "vf-beyond-num-vfs", PF "num-vfs = 2\nvf.1.vlan = 1\nvf.2.trust = on\nvf.2.vlan = 3\n", .ret = -EINVAL,
          .errors = { { "{M}:4: key 'vf.2.trust' in [pf \"0000:3b:00.0\"]: ", "num-vfs = 2" } } },
        { "vf-beyond-num-vfs-from-dropin", PF "vf.3.vlan = 1\n",
          .dropins = { { "a.conf", "[pf \"0000:3b:00.0\"]\nnum-vfs = 0\n" } }, .ret = -EINVAL,
          .errors = { { "{M}:2: key 'vf.3.vlan' in [pf \"0000:3b:00.0\"]: ", "{D}/a.conf:2" } } },
};

/* The drop-in "folder" is a regular file, and the main file a folder. */
static void test_folder_is_a_file(void **state) {
        _cleanup_strv_free_ char **errors = NULL;
        struct sriov_config *c = NULL;
        struct tmp t;

        tmp_setup(&t, NULL, 0, NULL, 0);
        write_file(t.dropins, "[daemon]\n", 9);
        assert_errno_equal(sriov_config_load(t.main, t.dropins, &c, &errors), -ENOTDIR);
        assert_null(c);
        assert_errors(&t, errors, (const struct experr[]) { { "{D}: ", "Not a directory" } }, 1);
        strv_free(TAKE_PTR(errors));

        assert_int_equal(mkdir(t.main, 0755), 0);
        assert_errno_equal(sriov_config_load(t.main, NULL, &c, &errors), -EISDIR);
        assert_null(c);
        assert_errors(&t, errors, (const struct experr[]) { { "{M}: ", "Is a directory" } }, 1);
        tmp_done(&t);
}

/* ---- one key, one value ---- */

struct value_case {
        const char *section;            /* "D": [daemon], "P": [pf "0000:3b:00.0"] */
        const char *key;
        const char *value;
        const char *path;               /* good: where the JSON shows it */
        const char *json;
        const char *why;                /* bad: a word of the message */
};

#define OK(s, k, v, p, j) { s, k, v, p, j, NULL }
#define BAD(s, k, v, w) { s, k, v, NULL, NULL, w }
#define DP(k) "daemon." k
#define PP(k) "pfs.0." k
#define VP(k) "pfs.0.vfs.0." k
#define LONG64 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
/* 107 bytes: the longest socket path (sun_path holds 108 with the NUL). */
#define PATH107 "/run/" "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" \
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx"
_Static_assert(sizeof(PATH107) - 1 == 107, "PATH107");

static const struct value_case value_cases[] = {
        OK("D", "socket", "/run/sriovd/api.sock", DP("socket"), "\"/run/sriovd/api.sock\""),
        OK("D", "socket", "/run/with space.sock", DP("socket"), "\"/run/with space.sock\""),
        OK("D", "socket", PATH107, DP("socket"), "\"" PATH107 "\""),
        BAD("D", "socket", PATH107 "x", "108 bytes long, at most 107"),
        BAD("D", "socket", "run/sriovd.sock", "not an absolute path"),
        OK("D", "state-dir", "/var/lib/sriovd", DP("state_dir"), "\"/var/lib/sriovd\""),
        BAD("D", "state-dir", "var/lib/sriovd", "absolute"),
        OK("D", "runtime-dir", "/run/sriovd", DP("runtime_dir"), "\"/run/sriovd\""),
        BAD("D", "runtime-dir", "./run", "absolute"),
        OK("D", "uevent-source", "udev", DP("uevent_source"), "\"udev\""),
        OK("D", "uevent-source", "kernel", DP("uevent_source"), "\"kernel\""),
        OK("D", "uevent-source", "auto", DP("uevent_source"), "\"auto\""),
        BAD("D", "uevent-source", "netlink", "udev, kernel, auto"),
        BAD("D", "uevent-source", "UDEV", "udev, kernel, auto"),
        OK("D", "log-level", "debug", DP("log_level"), "\"debug\""),
        OK("D", "log-level", "info", DP("log_level"), "\"info\""),
        OK("D", "log-level", "notice", DP("log_level"), "\"notice\""),
        OK("D", "log-level", "warning", DP("log_level"), "\"warning\""),
        OK("D", "log-level", "err", DP("log_level"), "\"err\""),
        BAD("D", "log-level", "verbose", "debug, info, notice, warning, err"),
        BAD("D", "log-level", "7", "debug, info"),
        BAD("D", "log-level", "DEBUG", "debug, info"),
        OK("D", "history-size", "16", DP("history_size"), "16"),
        OK("D", "history-size", "1048576", DP("history_size"), "1048576"),
        BAD("D", "history-size", "15", "out of range (16 to 1048576)"),
        BAD("D", "history-size", "1048577", "out of range"),
        BAD("D", "history-size", "99999999999999999999999", "out of range"),
        BAD("D", "history-size", "4k", "not a decimal number"),
        BAD("D", "history-size", "-16", "not a decimal number"),
        BAD("D", "history-size", "+16", "not a decimal number"),
        BAD("D", "history-size", "0x100", "not a decimal number"),
        BAD("D", "history-size", "0100", "not a decimal number"),
        BAD("D", "history-size", "1 00", "not a decimal number"),
        OK("D", "aer-poll-interval", "0", DP("aer_poll_interval"), "0"),
        OK("D", "aer-poll-interval", "3600", DP("aer_poll_interval"), "3600"),
        BAD("D", "aer-poll-interval", "3601", "out of range (0 to 3600)"),
        BAD("D", "aer-poll-interval", "10s", "not a decimal number"),
        OK("D", "admin-group", "sriov-admin", DP("admin_group"), "\"sriov-admin\""),
        OK("D", "admin-group", "_wheel", DP("admin_group"), "\"_wheel\""),
        OK("D", "admin-group", "machine$", DP("admin_group"), "\"machine$\""),
        OK("D", "admin-group", "1000", DP("admin_group"), "\"1000\""),
        BAD("D", "admin-group", "4294967295", "numeric id"),
        BAD("D", "admin-group", "1abc", "numeric id"),
        BAD("D", "admin-group", "-wheel", "not a valid name"),
        BAD("D", "admin-group", "a/b", "not a valid name"),
        BAD("D", "admin-group", "two words", "not a valid name"),
        BAD("D", "admin-group", "$", "not a valid name"),
        BAD("D", "admin-group", "abcdefghijklmnopqrstuvwxyzabcdefg", "not a valid name"),
        OK("D", "settle-quiet-ms", "10", DP("settle_quiet_ms"), "10"),
        OK("D", "settle-quiet-ms", "600000", DP("settle_quiet_ms"), "600000"),
        BAD("D", "settle-quiet-ms", "9", "out of range (10 to 600000)"),
        BAD("D", "settle-quiet-ms", "600001", "out of range"),

        OK("P", "num-vfs", "0", PP("num_vfs"), "0"),
        OK("P", "num-vfs", "65535", PP("num_vfs"), "65535"),
        BAD("P", "num-vfs", "65536", "out of range (0 to 65535)"),
        BAD("P", "num-vfs", "-1", "not a decimal number"),
        OK("P", "policy", "best-effort", PP("policy"), "\"best-effort\""),
        OK("P", "policy", "all-or-nothing", PP("policy"), "\"all-or-nothing\""),
        BAD("P", "policy", "strict", "best-effort, all-or-nothing"),
        OK("P", "drivers-autoprobe", "yes", PP("drivers_autoprobe"), "true"),
        OK("P", "drivers-autoprobe", "true", PP("drivers_autoprobe"), "true"),
        OK("P", "drivers-autoprobe", "on", PP("drivers_autoprobe"), "true"),
        OK("P", "drivers-autoprobe", "1", PP("drivers_autoprobe"), "true"),
        OK("P", "drivers-autoprobe", "no", PP("drivers_autoprobe"), "false"),
        OK("P", "drivers-autoprobe", "false", PP("drivers_autoprobe"), "false"),
        OK("P", "drivers-autoprobe", "off", PP("drivers_autoprobe"), "false"),
        OK("P", "drivers-autoprobe", "0", PP("drivers_autoprobe"), "false"),
        BAD("P", "drivers-autoprobe", "maybe", "not a boolean"),
        BAD("P", "drivers-autoprobe", "Yes", "not a boolean"),
        BAD("P", "drivers-autoprobe", "2", "not a boolean"),
        OK("P", "vf-driver", "vfio-pci", PP("vf_driver"), "\"vfio-pci\""),
        OK("P", "vf-driver", "iavf", PP("vf_driver"), "\"iavf\""),
        OK("P", "vf-driver", "mlx5_core", PP("vf_driver"), "\"mlx5_core\""),
        OK("P", "vf-driver", LONG64, PP("vf_driver"), "\"" LONG64 "\""),
        BAD("P", "vf-driver", LONG64 "m", "not a driver name"),
        BAD("P", "vf-driver", "vfio pci", "not a driver name"),
        BAD("P", "vf-driver", "../vfio", "not a driver name"),
        OK("P", "recovery", "none", PP("recovery"), "\"none\""),
        OK("P", "recovery", "notify", PP("recovery"), "\"notify\""),
        OK("P", "recovery", "remove-rescan", PP("recovery"), "\"remove-rescan\""),
        OK("P", "recovery", "reset", PP("recovery"), "\"reset\""),
        BAD("P", "recovery", "reboot", "none, notify, remove-rescan, reset"),
        OK("P", "recovery-attempts", "1", PP("recovery_attempts"), "1"),
        OK("P", "recovery-attempts", "16", PP("recovery_attempts"), "16"),
        BAD("P", "recovery-attempts", "0", "out of range (1 to 16)"),
        BAD("P", "recovery-attempts", "17", "out of range"),
        OK("P", "park-idle-vfs", "yes", PP("park_idle_vfs"), "true"),
        OK("P", "park-idle-vfs", "off", PP("park_idle_vfs"), "false"),
        BAD("P", "park-idle-vfs", "enabled", "not a boolean"),
        OK("P", "repair-drift", "true", PP("repair_drift"), "true"),
        OK("P", "repair-drift", "0", PP("repair_drift"), "false"),
        BAD("P", "repair-drift", "y", "not a boolean"),
        OK("P", "reapply", "yes", PP("reapply"), "true"),
        OK("P", "reapply", "no", PP("reapply"), "false"),
        BAD("P", "reapply", "always", "not a boolean"),
        OK("P", "vfio-owner", "qemu", PP("vfio_owner"), "\"qemu\""),
        OK("P", "vfio-owner", "107", PP("vfio_owner"), "\"107\""),
        BAD("P", "vfio-owner", "qemu:kvm", "not a valid name"),
        OK("P", "vfio-group", "kvm", PP("vfio_group"), "\"kvm\""),
        BAD("P", "vfio-group", "k vm", "not a valid name"),

        OK("P", "vf.0.mac", "02:00:00:00:00:01", VP("mac"), "\"02:00:00:00:00:01\""),
        OK("P", "vf.0.mac", "52:54:00:AB:cd:EF", VP("mac"), "\"52:54:00:ab:cd:ef\""),
        BAD("P", "vf.0.mac", "01:00:5e:00:00:01", "multicast"),
        BAD("P", "vf.0.mac", "ff:ff:ff:ff:ff:ff", "multicast"),
        BAD("P", "vf.0.mac", "00:00:00:00:00:00", "all-zero"),
        BAD("P", "vf.0.mac", "02:00:00:00:00", "not a MAC address"),
        BAD("P", "vf.0.mac", "02:00:00:00:00:01:02", "not a MAC address"),
        OK("P", "vf.0.mac", "02-00-00-00-00-0A", VP("mac"), "\"02:00:00:00:00:0a\""),
        BAD("P", "vf.0.mac", "02:00-00:00:00:01", "not a MAC address"),
        BAD("P", "vf.0.mac", "02:00:00:00:00:0g", "not a MAC address"),
        BAD("P", "vf.0.mac", "2:0:0:0:0:1", "not a MAC address"),
        BAD("P", "vf.0.mac", "0200.0000.0001", "not a MAC address"),
        OK("P", "vf.0.vlan", "0", VP("vlan"), "0"),
        OK("P", "vf.0.vlan", "4095", VP("vlan"), "4095"),
        BAD("P", "vf.0.vlan", "4096", "out of range (0 to 4095)"),
        BAD("P", "vf.0.vlan", "-1", "not a decimal number"),
        BAD("P", "vf.0.qos", "8", "out of range (0 to 7)"),
        BAD("P", "vf.0.vlan-proto", "qinq", "802.1Q, 802.1ad"),
        BAD("P", "vf.0.vlan-proto", "8021q", "802.1Q, 802.1ad"),
        OK("P", "vf.0.trust", "on", VP("trust"), "true"),
        OK("P", "vf.0.trust", "no", VP("trust"), "false"),
        BAD("P", "vf.0.trust", "trusted", "not a boolean"),
        OK("P", "vf.0.spoof-check", "1", VP("spoof_check"), "true"),
        OK("P", "vf.0.spoof-check", "false", VP("spoof_check"), "false"),
        BAD("P", "vf.0.spoof-check", "strict", "not a boolean"),
        OK("P", "vf.0.link-state", "auto", VP("link_state"), "\"auto\""),
        OK("P", "vf.0.link-state", "enable", VP("link_state"), "\"enable\""),
        OK("P", "vf.0.link-state", "disable", VP("link_state"), "\"disable\""),
        BAD("P", "vf.0.link-state", "up", "auto, enable, disable"),
        OK("P", "vf.0.min-tx-rate", "0", VP("min_tx_rate"), "0"),
        OK("P", "vf.0.min-tx-rate", "4294967295", VP("min_tx_rate"), "4294967295"),
        BAD("P", "vf.0.min-tx-rate", "4294967296", "out of range (0 to 4294967295)"),
        BAD("P", "vf.0.min-tx-rate", "1.5", "not a decimal number"),
        OK("P", "vf.0.max-tx-rate", "10000", VP("max_tx_rate"), "10000"),
        BAD("P", "vf.0.max-tx-rate", "10G", "not a decimal number"),
        OK("P", "vf.0.driver", "vfio-pci", VP("driver"), "\"vfio-pci\""),
        BAD("P", "vf.0.driver", "vfio/pci", "not a driver name"),
};

/* Keys whose good values need a second key: qos and vlan-proto need vlan. */
static const struct config_case pair_cases[] = {
        { "qos-0-and-7", PF "vf.0.vlan = 1\nvf.0.qos = 0\nvf.1.vlan = 1\nvf.1.qos = 7\n",
          .expect = { { "pfs.0.vfs.0.qos", "0" }, { "pfs.0.vfs.1.qos", "7" } } },
        { "vlan-protos", PF "vf.0.vlan = 1\nvf.0.vlan-proto = 802.1Q\nvf.1.vlan = 1\nvf.1.vlan-proto = 802.1ad\n"
                            "vf.2.vlan = 1\nvf.2.vlan-proto = 802.1AD\nvf.3.vlan = 1\nvf.3.vlan-proto = 802.1q\n",
          .expect = { { "pfs.0.vfs.0.vlan_proto", "\"802.1Q\"" }, { "pfs.0.vfs.1.vlan_proto", "\"802.1ad\"" },
                      { "pfs.0.vfs.2.vlan_proto", "\"802.1ad\"" }, { "pfs.0.vfs.3.vlan_proto", "\"802.1Q\"" } } },
};

static void test_value(void **state) {
        const struct value_case *v = *state;
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_json_ json_object *j = NULL;
        _cleanup_free_ char *text = NULL, *prefix = NULL;
        const char *section = v->section[0] == 'D' ? "daemon" : "pf \"0000:3b:00.0\"";
        struct experr e;
        struct tmp t;

        assert_true(asprintf(&text, "[%s]\n%s = %s\n", section, v->key, v->value) > 0);
        assert_true(asprintf(&prefix, "{M}:2: key '%s' in [%s]: ", v->key, section) > 0);
        tmp_setup(&t, text, 0, NULL, 0);
        e = (struct experr) { prefix, v->why };
        c = load(&t, v->path ? 0 : -EINVAL, &e, 1);
        if (c) {
                /* the value, and where it came from: "pfs.0.num_vfs" -> "pfs.0.origins.num_vfs" */
                const char *member = strrchr(v->path, '.') + 1;
                _cleanup_free_ char *origin = NULL;

                j = sriov_config_to_json(c);
                assert_non_null(j);
                assert_json_at(&t, j, v->path, v->json);
                assert_true(asprintf(&origin, "%.*sorigins.%s", (int) (member - v->path), v->path, member) > 0);
                assert_json_at(&t, j, origin, "\"{M}:2\"");
        }
        tmp_done(&t);
}

/* ---- generated inputs ---- */

static char *repeat(char ch, size_t n) {
        char *s = malloc(n + 1);

        assert_non_null(s);
        memset(s, ch, n);
        s[n] = '\0';
        return s;
}

static void test_line_lengths(void **state) {
        _cleanup_free_ char *ok = NULL, *bad = NULL, *comment = NULL, *text = NULL, *path = NULL;
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_json_ json_object *j = NULL;
        struct tmp t;

        /* "state-dir = /" + 185 bytes = 198: the longest line */
        path = repeat('s', 185);
        assert_true(asprintf(&ok, "[daemon]\nstate-dir = /%s\n", path) > 0);
        assert_int_equal(strlen(ok) - strlen("[daemon]\n") - 1, SRIOV_CONFIG_LINE_MAX);
        tmp_setup(&t, ok, 0, NULL, 0);
        c = load(&t, 0, NULL, 0);
        j = sriov_config_to_json(c);
        assert_int_equal(strlen(json_object_get_string(json_path(j, "daemon.state_dir"))), 186);
        tmp_done(&t);

        /* One byte more. Then a comment of 216 bytes: inih's 200-byte buffer would cut it
         * after 199 and read the rest as a line of its own, "history-size = 20", which the
         * same key on line 4 would then clash with. And later line numbers must not move. */
        assert_true(asprintf(&bad, "[daemon]\nstate-dir = /%ss\n", path) > 0);
        comment = repeat('#', 199);
        assert_true(asprintf(&text, "%s%shistory-size = 20\nhistory-size = 30\n[pf \"x/y\"]\n", bad, comment) > 0);
        tmp_setup(&t, text, 0, NULL, 0);
        assert_null(load(&t, -EINVAL, (const struct experr[]) {
                { "{M}:2: key 'state-dir' in [daemon]: ", "line too long (199 bytes, at most 198)" },
                { "{M}:3: in [daemon]: ", "line too long (216 bytes" },
                { "{M}:5: section [pf \"x/y\"]: " } }, 3));
        tmp_done(&t);
}

static void test_error_cap(void **state) {
        _cleanup_strv_free_ char **errors = NULL;
        struct sriov_config *c = NULL;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        struct tmp t;
        size_t n = 0;

        assert_non_null(f);
        fputs("[daemon]\n", f);
        for (int i = 0; i < 150; i++)
                fputs("bogus\n", f);
        assert_int_equal(fclose(f), 0);
        tmp_setup(&t, text, 0, NULL, 0);
        free(text);

        assert_errno_equal(sriov_config_load(t.main, NULL, &c, &errors), -EINVAL);
        while (errors[n])
                n++;
        assert_int_equal(n, SRIOV_CONFIG_ERRORS_MAX + 1);
        assert_string_equal(errors[SRIOV_CONFIG_ERRORS_MAX], "... and 50 more problems not shown");
        _cleanup_free_ char *first = expand(&t, "{M}:2: in [daemon]: "), *last = expand(&t, "{M}:101: ");
        assert_true(strneq(errors[0], first, strlen(first)));
        assert_true(strneq(errors[SRIOV_CONFIG_ERRORS_MAX - 1], last, strlen(last)));
        tmp_done(&t);
}

/* ---- the API around it ---- */

static void test_null_arguments(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        char **errors = (char **) 0x1;
        const struct sriov_daemon_config *d;

        assert_int_equal(sriov_config_load(NULL, NULL, &c, &errors), 0);
        assert_null(errors);
        assert_non_null(c);
        assert_int_equal(sriov_config_n_pfs(c), 0);
        assert_null(sriov_config_files(c)[0]);
        c = sriov_config_free(c);
        assert_int_equal(sriov_config_load("/nonexistent/sriovd.conf", "/nonexistent/sriovd.conf.d", &c, NULL), 0);

        d = sriov_config_daemon(NULL);
        assert_null(d->socket);
        assert_null(d->uevent_source);
        assert_int_equal(d->log_level, -1);
        assert_int_equal(d->history_size, 4096);
        assert_int_equal(d->aer_poll_interval, 10);
        assert_int_equal(d->settle_quiet_ms, 0);
        assert_null(sriov_config_files(NULL)[0]);
        assert_int_equal(sriov_config_n_pfs(NULL), 0);
        assert_null(sriov_config_pf(NULL, 0));
        assert_null(sriov_config_match(NULL, NULL, NULL));
        assert_int_equal(sriov_config_origin(NULL, NULL, "socket", NULL, NULL), 0);
        assert_errno_equal(sriov_config_origin(NULL, NULL, "bogus", NULL, NULL), -EINVAL);
        sriov_config_free(NULL);

        _cleanup_json_ json_object *j = sriov_config_to_json(NULL);
        assert_non_null(j);
        assert_string_equal(json_object_get_string(json_path(j, "daemon.history_size")), "4096");
}

/* The C values behind the JSON. */
static void test_struct_values(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        const struct sriov_daemon_config *d;
        const struct sriov_pf_config *p;
        const struct sriov_vf_config *vf;
        const char *file = NULL;
        unsigned line = 0;
        struct tmp t;

        tmp_setup(&t,
                  "[daemon]\nsocket = /run/s.sock\nuevent-source = kernel\nlog-level = warning\n"
                  "settle-quiet-ms = 250\nadmin-group = netadm\n"
                  "[pf \"8086:1572\"]\nnum-vfs = 4\npolicy = all-or-nothing\ndrivers-autoprobe = no\n"
                  "vf-driver = vfio-pci\nrecovery = reset\nrecovery-attempts = 7\npark-idle-vfs = yes\n"
                  "repair-drift = yes\nvfio-owner = qemu\nvfio-group = kvm\n"
                  "vf.3.mac = 02:11:22:33:44:55\nvf.3.vlan = 100\nvf.3.qos = 5\nvf.3.vlan-proto = 802.1ad\n"
                  "vf.3.trust = on\nvf.3.spoof-check = off\nvf.3.link-state = disable\n"
                  "vf.3.min-tx-rate = 10\nvf.3.max-tx-rate = 20\nvf.3.driver = iavf\n",
                  0, NULL, 0);
        c = load(&t, 0, NULL, 0);

        d = sriov_config_daemon(c);
        assert_string_equal(d->socket, "/run/s.sock");
        assert_null(d->state_dir);
        assert_string_equal(d->uevent_source, "kernel");
        assert_int_equal(d->log_level, LOG_WARNING);
        assert_int_equal(d->settle_quiet_ms, 250);
        assert_int_equal(d->history_size, 4096);
        assert_string_equal(d->admin_group, "netadm");

        assert_int_equal(sriov_config_n_pfs(c), 1);
        p = sriov_config_pf(c, 0);
        assert_null(sriov_config_pf(c, 1));
        assert_int_equal(p->match_kind, SRIOV_PF_MATCH_ID);
        assert_string_equal(p->match, "8086:1572");
        assert_int_equal(p->vendor_id, 0x8086);
        assert_int_equal(p->device_id, 0x1572);
        assert_string_equal(p->source_file, t.main);
        assert_int_equal(p->source_line, 7);
        assert_int_equal(p->num_vfs, 4);
        assert_int_equal(p->policy, SRIOV_POLICY_ALL_OR_NOTHING);
        assert_int_equal(p->drivers_autoprobe, 0);
        assert_string_equal(p->vf_driver, "vfio-pci");
        assert_int_equal(p->recovery, SRIOV_RECOVERY_POLICY_RESET);
        assert_int_equal(p->recovery_attempts, 7);
        assert_true(p->park_idle_vfs);
        assert_true(p->repair_drift);
        assert_string_equal(p->vfio_owner, "qemu");
        assert_string_equal(p->vfio_group, "kvm");
        assert_int_equal(p->n_vfs, 1);

        assert_null(sriov_pf_config_vf(p, 0));
        vf = sriov_pf_config_vf(p, 3);
        assert_non_null(vf);
        assert_int_equal(vf->index, 3);
        assert_true(vf->has_mac);
        assert_memory_equal(vf->mac, ((const uint8_t[]) { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }), 6);
        assert_int_equal(vf->vlan, 100);
        assert_int_equal(vf->qos, 5);
        assert_int_equal(vf->vlan_proto, 0x88a8);
        assert_int_equal(vf->trust, 1);
        assert_int_equal(vf->spoof_check, 0);
        assert_int_equal(vf->link_state, 2);     /* IFLA_VF_LINK_STATE_DISABLE */
        assert_int_equal(vf->min_tx_rate, 10);
        assert_int_equal(vf->max_tx_rate, 20);
        assert_string_equal(vf->driver, "iavf");

        assert_int_equal(sriov_config_origin(c, NULL, "log-level", &file, &line), 1);
        assert_string_equal(file, t.main);
        assert_int_equal(line, 4);
        assert_int_equal(sriov_config_origin(c, NULL, "state-dir", &file, &line), 0);
        assert_int_equal(sriov_config_origin(c, p, "recovery", &file, &line), 1);
        assert_int_equal(line, 12);
        assert_int_equal(sriov_config_origin(c, p, "vf.3.qos", &file, &line), 1);
        assert_int_equal(line, 20);
        assert_int_equal(sriov_config_origin(c, p, "vf.4.qos", &file, &line), 0);
        assert_errno_equal(sriov_config_origin(c, p, "vf.3.bogus", &file, &line), -EINVAL);
        assert_errno_equal(sriov_config_origin(c, p, "socket", &file, &line), -EINVAL);
        assert_errno_equal(sriov_config_origin(c, NULL, "num-vfs", &file, &line), -EINVAL);
        tmp_done(&t);
}

/* ---- matching ---- */

struct match_case {
        const char *name;
        const char *addr;
        uint16_t vendor, device;
        const char *ifname;
        SriovRole role;
        const char *match;              /* NULL: none */
};

#define MATCH_CONF \
        "[pf \"8086:1572\"]\nnum-vfs = 1\n" \
        "[pf \"ens1f0\"]\nnum-vfs = 2\n" \
        "[pf \"0000:3b:00.0\"]\nnum-vfs = 3\n" \
        "[pf \"15b3:101d\"]\n[pf \"ens9\"]\n"

static const struct match_case match_cases[] = {
        { "address-beats-ifname-and-id", "0000:3b:00.0", 0x8086, 0x1572, "ens1f0", SRIOV_ROLE_PF, "0000:3b:00.0" },
        { "address-alone", "0000:3b:00.0", 0x1234, 0x5678, NULL, SRIOV_ROLE_PF, "0000:3b:00.0" },
        { "ifname-beats-id", "0000:3b:00.1", 0x8086, 0x1572, "ens1f0", SRIOV_ROLE_PF, "ens1f0" },
        { "ifname-alone", "0000:5e:00.0", 0x1234, 0x5678, "ens1f0", SRIOV_ROLE_PF, "ens1f0" },
        { "id-when-ifname-unknown", "0000:3b:00.1", 0x8086, 0x1572, NULL, SRIOV_ROLE_PF, "8086:1572" },
        { "id-when-ifname-other", "0000:3b:00.1", 0x8086, 0x1572, "ens1f1", SRIOV_ROLE_PF, "8086:1572" },
        { "other-id", "0000:af:00.0", 0x15b3, 0x101d, "enp175s0", SRIOV_ROLE_PF, "15b3:101d" },
        { "ifname-is-exact", "0000:af:00.1", 0x1234, 0x5678, "ens1f0np0", SRIOV_ROLE_PF, NULL },
        { "ifname-case", "0000:af:00.1", 0x1234, 0x5678, "ENS1F0", SRIOV_ROLE_PF, NULL },
        { "nothing", "0000:af:00.1", 0x8086, 0x1573, "eth0", SRIOV_ROLE_PF, NULL },
        { "domain-matters", "0001:3b:00.0", 0x1234, 0x5678, NULL, SRIOV_ROLE_PF, NULL },
        { "not-a-pf-yet", "0000:3b:00.0", 0x8086, 0x1572, NULL, SRIOV_ROLE_OTHER, "0000:3b:00.0" },
        { "vf-never", "0000:3b:00.0", 0x8086, 0x1572, "ens1f0", SRIOV_ROLE_VF, NULL },
};

static void test_match(void **state) {
        const struct match_case *m = *state;
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        const struct sriov_pf_config *p;
        struct sriov_device d = { .role = m->role, .vendor_id = m->vendor, .device_id = m->device };
        struct tmp t;

        assert_int_equal(sriov_addr_parse(m->addr, &d.addr), 0);
        tmp_setup(&t, MATCH_CONF, 0, NULL, 0);
        c = load(&t, 0, NULL, 0);
        p = sriov_config_match(c, &d, m->ifname);
        if (!m->match)
                assert_null(p);
        else {
                assert_non_null(p);
                assert_string_equal(p->match, m->match);
        }
        tmp_done(&t);
}

/* Sections come out most specific first, whatever the order in the files. */
static void test_pf_order(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        static const char *const want[] = { "0000:3b:00.0", "ens1f0", "ens9", "15b3:101d", "8086:1572" };
        struct tmp t;

        tmp_setup(&t, MATCH_CONF, 0, NULL, 0);
        c = load(&t, 0, NULL, 0);
        assert_int_equal(sriov_config_n_pfs(c), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                assert_string_equal(sriov_config_pf(c, i)->match, want[i]);
        tmp_done(&t);
}

/* ---- the whole JSON ---- */

static void test_json(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_json_ json_object *j = NULL, *want = NULL;
        _cleanup_free_ char *expected = NULL;
        static const struct dropin dropins[] = { { "10-x.conf", "[pf \"ens1f0\"]\nvf.1.mac = 02:00:00:00:00:01\n" } };
        struct tmp t;

        tmp_setup(&t, "[daemon]\nlog-level = debug\n[pf \"ens1f0\"]\nnum-vfs = 2\n", 0, dropins, 1);
        c = load(&t, 0, NULL, 0);
        j = sriov_config_to_json(c);
        assert_non_null(j);
        expected = expand(&t,
                "{ \"files\": [ \"{M}\", \"{D}/10-x.conf\" ],"
                "  \"daemon\": { \"socket\": null, \"state_dir\": null, \"runtime_dir\": null,"
                "                \"uevent_source\": null, \"log_level\": \"debug\", \"history_size\": 4096,"
                "                \"aer_poll_interval\": 10, \"admin_group\": null, \"settle_quiet_ms\": null,"
                "                \"metrics_listen\": null, \"metrics_per_vf\": false, \"nfd_features_file\": null,"
                "                \"nfd_expiry\": 300,"
                "                \"origins\": { \"log_level\": \"{M}:2\" } },"
                "  \"pfs\": [ { \"match\": \"ens1f0\", \"match_kind\": \"ifname\", \"source\": \"{M}:3\","
                "               \"sources\": [ \"{M}:3\", \"{D}/10-x.conf:1\" ],"
                "               \"num_vfs\": 2, \"policy\": \"best-effort\", \"drivers_autoprobe\": null,"
                "               \"vf_driver\": null, \"recovery\": \"remove-rescan\", \"recovery_attempts\": 3,"
                "               \"park_idle_vfs\": false, \"repair_drift\": false, \"reapply\": false, \"vfio_owner\": null,"
                "               \"vfio_group\": null, \"origins\": { \"num_vfs\": \"{M}:4\" },"
                "               \"vfs\": [ { \"index\": 1, \"mac\": \"02:00:00:00:00:01\", \"vlan\": null,"
                "                            \"qos\": null, \"vlan_proto\": null, \"trust\": null,"
                "                            \"spoof_check\": null, \"link_state\": null, \"min_tx_rate\": null,"
                "                            \"max_tx_rate\": null, \"driver\": null,"
                "                            \"origins\": { \"mac\": \"{D}/10-x.conf:2\" } } ] } ] }");
        want = json_tokener_parse(expected);
        assert_non_null(want);
        if (!json_object_equal(j, want))
                fail_msg("got %s", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        tmp_done(&t);
}

/* A configuration that fails to load leaves the caller's alone: reload keeps the old one. */
static void test_reload_keeps_running(void **state) {
        _cleanup_(sriov_config_freep) struct sriov_config *running = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        struct sriov_config *next;
        struct tmp t;

        tmp_setup(&t, "[daemon]\nhistory-size = 64\n", 0, NULL, 0);
        running = load(&t, 0, NULL, 0);
        write_file(t.main, "[daemon]\nhistory-size = 8\n", 26);
        next = running;
        assert_errno_equal(sriov_config_load(t.main, t.dropins, &next, &errors), -EINVAL);
        assert_ptr_equal(next, running);
        assert_int_equal(sriov_config_daemon(running)->history_size, 64);
        assert_non_null(errors);
        assert_null(errors[1]);
        tmp_done(&t);
}

/* ---- the installed example, conf/sriovd.conf ---- */

static const char *const every_key[] = {
        "socket", "state-dir", "runtime-dir", "uevent-source", "log-level", "history-size",
        "aer-poll-interval", "admin-group", "settle-quiet-ms",
        "num-vfs", "policy", "drivers-autoprobe", "vf-driver", "recovery", "recovery-attempts",
        "park-idle-vfs", "repair-drift", "reapply", "vfio-owner", "vfio-group",
        "vf.0.mac", "vf.0.vlan", "vf.0.qos", "vf.0.vlan-proto", "vf.0.trust", "vf.0.spoof-check",
        "vf.0.link-state", "vf.0.min-tx-rate", "vf.0.max-tx-rate", "vf.0.driver",
};

/* Every key is in it, commented out; it loads as it is; and with every "#KEY = VALUE"
 * and the first PF header uncommented it still loads, with the values the parser
 * takes by default. */
static void test_example_file(void **state) {
        const char *path = getenv("SRIOV_CONFIG_EXAMPLE") ?: "conf/sriovd.conf";
        _cleanup_(sriov_config_freep) struct sriov_config *c = NULL;
        _cleanup_json_ json_object *j = NULL;
        _cleanup_free_ char *text = NULL, *line = NULL, *uncommented = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0, n = 0, len = 0;
        FILE *out;
        bool pf_seen = false;
        struct tmp t;

        f = fopen(path, "re");
        if (!f) {
                print_message("%s: %s (set SRIOV_CONFIG_EXAMPLE)\n", path, strerror(errno));
                skip();
        }
        out = open_memstream(&uncommented, &len);
        assert_non_null(out);
        {
                FILE *all = open_memstream(&text, &size);
                assert_non_null(all);
                while (getline(&line, &n, f) > 0) {
                        const char *eq = strstr(line, " = ");

                        fputs(line, all);
                        if (line[0] != '#')
                                fputs(line, out);
                        else if (line[1] == '[') {
                                if (strneq(line + 1, "[pf ", 4) && pf_seen)
                                        continue;
                                pf_seen = pf_seen || strneq(line + 1, "[pf ", 4);
                                fputs(line + 1, out);
                        } else if (line[1] >= 'a' && line[1] <= 'z' && eq && !memchr(line, ' ', (size_t) (eq - line)) &&
                                   !streq(eq, " = \n"))
                                fputs(line + 1, out);
                }
                assert_int_equal(fclose(all), 0);
        }
        assert_int_equal(fclose(out), 0);

        for (size_t i = 0; i < ELEMENTSOF(every_key); i++) {
                _cleanup_free_ char *needle = NULL;
                assert_true(asprintf(&needle, "\n#%s =", every_key[i]) > 0);
                if (!strstr(text, needle))
                        fail_msg("%s does not show %s", path, every_key[i]);
        }

        tmp_setup(&t, text, 0, NULL, 0);
        c = load(&t, 0, NULL, 0);
        assert_int_equal(sriov_config_n_pfs(c), 0);
        j = sriov_config_to_json(c);
        assert_json_at(&t, j, "daemon.origins", "{}");
        c = sriov_config_free(c);
        json_object_put(TAKE_PTR(j));
        tmp_done(&t);

        tmp_setup(&t, uncommented, 0, NULL, 0);
        c = load(&t, 0, NULL, 0);
        j = sriov_config_to_json(c);
        assert_json_at(&t, j, "daemon.uevent_source", "\"auto\"");
        assert_json_at(&t, j, "daemon.log_level", "\"info\"");
        assert_json_at(&t, j, "daemon.history_size", "4096");
        assert_json_at(&t, j, "daemon.aer_poll_interval", "10");
        assert_json_at(&t, j, "daemon.settle_quiet_ms", "2000");
        assert_json_at(&t, j, "pfs.0.policy", "\"best-effort\"");
        assert_json_at(&t, j, "pfs.0.recovery", "\"remove-rescan\"");
        assert_json_at(&t, j, "pfs.0.recovery_attempts", "3");
        assert_json_at(&t, j, "pfs.0.park_idle_vfs", "false");
        assert_json_at(&t, j, "pfs.0.repair_drift", "false");
        assert_int_equal(sriov_config_origin(c, sriov_config_pf(c, 0), "recovery-attempts", NULL, NULL), 1);
        tmp_done(&t);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(config_cases); i++)
                unit_add(&t, test_config, (void *) &config_cases[i], "config/%s", config_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(pair_cases); i++)
                unit_add(&t, test_config, (void *) &pair_cases[i], "config/%s", pair_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(value_cases); i++) {
                const struct value_case *v = &value_cases[i];
                unit_add(&t, test_value, (void *) v, "value/%s/%s=%.20s/%s", v->section[0] == 'D' ? "daemon" : "pf",
                         v->key, v->value, v->path ? "ok" : "bad");
        }
        unit_add(&t, test_folder_is_a_file, NULL, "io/folder-is-a-file");
        unit_add(&t, test_line_lengths, NULL, "syntax/line-lengths");
        unit_add(&t, test_error_cap, NULL, "syntax/error-cap");
        unit_add(&t, test_null_arguments, NULL, "api/null-arguments");
        unit_add(&t, test_struct_values, NULL, "api/struct-values");
        unit_add(&t, test_reload_keeps_running, NULL, "api/reload-keeps-running");
        for (size_t i = 0; i < ELEMENTSOF(match_cases); i++)
                unit_add(&t, test_match, (void *) &match_cases[i], "match/%s", match_cases[i].name);
        unit_add(&t, test_pf_order, NULL, "match/order");
        unit_add(&t, test_json, NULL, "json/whole");
        unit_add(&t, test_example_file, NULL, "example/conf-sriovd-conf");

        return unit_run(&t, "config");
}
