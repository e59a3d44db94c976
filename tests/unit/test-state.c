/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state file (lib/sriov-state.c): atomic replacement, save/load round trip, corrupt
 * files, and what a crash leaves behind. Everything in a mkdtemp() directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov-state.h"
#include "unit-test.h"

static void known_bug(const char *what) {
        if (what && !getenv("SRIOV_UNIT_KNOWN_BUGS")) {
                print_message("known bug (set SRIOV_UNIT_KNOWN_BUGS=1 to run): %s\n", what);
                skip();
        }
}

static char *tmpdir;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int setup(void **state) {
        const char *base = getenv("TMPDIR");

        if (asprintf(&tmpdir, "%s/sriov-state-XXXXXX", base && *base ? base : "/tmp") < 0)
                return -1;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        (void) nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(tmpdir);
        tmpdir = NULL;
        return 0;
}

static char *path_of(const char *rel) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", tmpdir, rel) >= 0);
        return p;
}

static char *read_all(const char *path) {
        _cleanup_free_ char *p = path_of(path);
        FILE *f = fopen(p, "re");
        char *buf = NULL;
        size_t size = 0;

        if (!f)
                fail_msg("%s: %s", p, strerror(errno));
        FILE *out = open_memstream(&buf, &size);
        assert_non_null(out);
        for (int c; (c = fgetc(f)) != EOF;)
                fputc(c, out);
        fclose(f);
        fclose(out);
        return buf;
}

static void write_raw(const char *rel, const char *content) {
        _cleanup_free_ char *p = path_of(rel);
        FILE *f = fopen(p, "we");

        if (!f)
                fail_msg("%s: %s", p, strerror(errno));
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

/* Names in dir (relative to tmpdir), sorted, joined by ' '. */
static char *list_dir(const char *rel) {
        _cleanup_free_ char *p = path_of(rel);
        struct dirent **names;
        char *out = NULL;
        size_t size = 0;
        int n = scandir(p, &names, NULL, alphasort);
        FILE *f;

        if (n < 0)
                fail_msg("%s: %s", p, strerror(errno));
        bool first = true;

        f = open_memstream(&out, &size);
        assert_non_null(f);
        for (int i = 0; i < n; i++) {
                if (!streq(names[i]->d_name, ".") && !streq(names[i]->d_name, "..")) {
                        fprintf(f, "%s%s", first ? "" : " ", names[i]->d_name);
                        first = false;
                }
                free(names[i]);
        }
        free(names);
        fclose(f);
        return out;
}

/* Fixture trees are many small files: on tmpfs they cost microseconds, on a VM's disk
 * milliseconds each. Prefer /dev/shm unless the caller chose a TMPDIR. */
static void prefer_tmpfs(void) {
        const char *t = getenv("TMPDIR");

        if ((!t || !*t) && access("/dev/shm", W_OK | X_OK) == 0)
                setenv("TMPDIR", "/dev/shm", 1);
}

/* --- sriov_write_file_atomic --- */

static void test_write_new(void **state) {
        _cleanup_free_ char *got = NULL, *ls = NULL;

        assert_int_equal(sriov_write_file_atomic(tmpdir, "f.json", "{\"a\": 1}\n"), 0);
        got = read_all("f.json");
        assert_string_equal(got, "{\"a\": 1}\n");
        ls = list_dir(".");
        assert_string_equal(ls, "f.json");      /* no temporary file left behind */
}

static void test_write_empty_content(void **state) {
        _cleanup_free_ char *got = NULL;

        write_raw("f", "old");
        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", ""), 0);
        got = read_all("f");
        assert_string_equal(got, "");
}

/* Replaced, not rewritten in place: a hard link to the old file keeps the old content,
 * and a longer old content leaves no tail. */
static void test_write_replaces(void **state) {
        _cleanup_free_ char *a = path_of("f"), *b = path_of("old-link"), *got = NULL, *old = NULL, *ls = NULL;
        struct stat st_before, st_after;

        write_raw("f", "a much longer old content that must not survive\n");
        assert_int_equal(link(a, b), 0);
        assert_int_equal(stat(a, &st_before), 0);

        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", "new\n"), 0);
        got = read_all("f");
        assert_string_equal(got, "new\n");
        old = read_all("old-link");
        assert_string_equal(old, "a much longer old content that must not survive\n");
        assert_int_equal(stat(a, &st_after), 0);
        assert_int_not_equal(st_before.st_ino, st_after.st_ino);
        assert_int_equal(st_after.st_mode & 07777, 0644);
        ls = list_dir(".");
        assert_string_equal(ls, "f old-link");
}

static void test_write_twice(void **state) {
        _cleanup_free_ char *got = NULL, *ls = NULL;

        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", "1"), 0);
        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", "2"), 0);
        got = read_all("f");
        assert_string_equal(got, "2");
        ls = list_dir(".");
        assert_string_equal(ls, "f");
}

/* A symlink at the final name is replaced by the file, its target untouched. */
static void test_write_over_symlink(void **state) {
        _cleanup_free_ char *target = path_of("target"), *lnk = path_of("f"), *t = NULL, *got = NULL;
        struct stat st;

        write_raw("target", "keep");
        assert_int_equal(symlink(target, lnk), 0);
        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", "new"), 0);
        assert_int_equal(lstat(lnk, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        t = read_all("target");
        assert_string_equal(t, "keep");
        got = read_all("f");
        assert_string_equal(got, "new");
}

struct bad_name_case {
        const char *name;
        const char *file;
        int ret;
};

static char long_name[202];

static const struct bad_name_case bad_name_cases[] = {
        { "slash", "a/b", -EINVAL },
        { "leading-slash", "/etc-passwd", -EINVAL },
        { "dot-dot-slash", "../escape", -EINVAL },
        { "trailing-slash", "f/", -EINVAL },
        { "too-long", long_name, -EINVAL },
};

static void test_write_bad_name(void **state) {
        const struct bad_name_case *c = *state;
        _cleanup_free_ char *ls = NULL;

        assert_errno_equal(sriov_write_file_atomic(tmpdir, c->file, "x"), c->ret);
        ls = list_dir(".");
        assert_string_equal(ls, "");
        {
                _cleanup_free_ char *parent = NULL;
                /* Nothing next to the state directory either. */
                assert_true(asprintf(&parent, "%s/../escape", tmpdir) >= 0);
                assert_int_equal(access(parent, F_OK), -1);
        }
}

static void test_write_name_200(void **state) {
        char name[201];
        _cleanup_free_ char *ls = NULL;

        memset(name, 'n', 200);
        name[200] = '\0';
        assert_int_equal(sriov_write_file_atomic(tmpdir, name, "x"), 0);
        ls = list_dir(".");
        assert_string_equal(ls, name);
}

static void test_write_creates_dir(void **state) {
        _cleanup_free_ char *dir = path_of("a/b/c"), *got = NULL, *ls = NULL;
        struct stat st;

        assert_int_equal(sriov_write_file_atomic(dir, "desired.json", "{}"), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        got = read_all("a/b/c/desired.json");
        assert_string_equal(got, "{}");
        ls = list_dir("a/b/c");
        assert_string_equal(ls, "desired.json");
}

static void test_write_dir_trailing_slash(void **state) {
        _cleanup_free_ char *dir = path_of("d/"), *got = NULL;

        assert_int_equal(sriov_write_file_atomic(dir, "f", "x"), 0);
        got = read_all("d/f");
        assert_string_equal(got, "x");
}

static void test_write_dir_is_file(void **state) {
        _cleanup_free_ char *dir = path_of("file");

        write_raw("file", "");
        assert_errno_equal(sriov_write_file_atomic(dir, "f", "x"), -ENOTDIR);
}

/* mkdir_p() starts scanning at dir + 1: for "" that is past the terminator. */
static void test_write_dir_empty(void **state) {
        assert_true(sriov_write_file_atomic("", "f", "x") < 0);
}

/* A leftover temporary file of the same name (a crashed writer with our pid) is
 * overwritten, not appended to, and is gone afterwards. */
static void test_write_stale_tmp_same_pid(void **state) {
        _cleanup_free_ char *tmp = NULL, *got = NULL, *ls = NULL;

        assert_true(asprintf(&tmp, ".f.%ld.tmp", (long) getpid()) >= 0);
        write_raw(tmp, "garbage garbage garbage garbage garbage garbage");
        assert_int_equal(sriov_write_file_atomic(tmpdir, "f", "ok"), 0);
        got = read_all("f");
        assert_string_equal(got, "ok");
        ls = list_dir(".");
        assert_string_equal(ls, "f");
}

/* --- sriov_state_save / sriov_state_load --- */

static struct sriov_addr addr(const char *s) {
        struct sriov_addr a;

        if (sriov_addr_parse(s, &a) < 0)
                fail_msg("bad address in the table: %s", s);
        return a;
}

static void assert_same_list(const struct sriov_desired *got, size_t n_got, const struct sriov_desired *exp, size_t n) {
        assert_int_equal(n_got, n);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(SRIOV_ADDR_STR(&got[i].pf), SRIOV_ADDR_STR(&exp[i].pf));
                assert_int_equal(got[i].num_vfs, exp[i].num_vfs);
                assert_string_equal(sriov_policy_to_string(got[i].policy), sriov_policy_to_string(exp[i].policy));
                assert_false(got[i].drift_reported);    /* runtime only, never stored */
        }
}

static void test_round_trip(void **state) {
        const struct sriov_desired list[] = {
                { addr("0000:3b:00.0"), 8, SRIOV_POLICY_BEST_EFFORT },
                { addr("0000:3b:00.1"), 0, SRIOV_POLICY_ALL_OR_NOTHING, .drift_reported = true },
                { addr("10000:e1:00.0"), 65535, SRIOV_POLICY_ALL_OR_NOTHING },
                { addr("ffff:ff:1f.7"), 1, SRIOV_POLICY_BEST_EFFORT },
        };
        struct sriov_desired *got = NULL;
        size_t n = 4242;
        _cleanup_free_ char *ls = NULL;

        assert_int_equal(sriov_state_save(tmpdir, list, ELEMENTSOF(list)), 0);
        ls = list_dir(".");
        assert_string_equal(ls, SRIOV_STATE_FILE);
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_same_list(got, n, list, ELEMENTSOF(list));
        free(got);

        /* Saving again replaces the list. */
        assert_int_equal(sriov_state_save(tmpdir, list + 2, 1), 0);
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_same_list(got, n, list + 2, 1);
        free(got);
}

static void test_save_empty(void **state) {
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(sriov_state_save(tmpdir, NULL, 0), 0);
        text = read_all(SRIOV_STATE_FILE);
        assert_non_null(strstr(text, "\"pfs\""));
        assert_non_null(strstr(text, "\"version\""));
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_int_equal(n, 0);
        free(got);
}

/* The file is what docs and the sim read: "version", "pfs": [{"pf", "num_vfs", "policy"}]. */
static void test_save_format(void **state) {
        const struct sriov_desired list[] = { { addr("0000:3b:00.0"), 4, SRIOV_POLICY_ALL_OR_NOTHING } };
        _cleanup_free_ char *text = NULL;
        json_object *root, *pfs, *e, *v;

        assert_int_equal(sriov_state_save(tmpdir, list, 1), 0);
        text = read_all(SRIOV_STATE_FILE);
        root = json_tokener_parse(text);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "version", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(root, "pfs", &pfs));
        assert_int_equal(json_object_array_length(pfs), 1);
        e = json_object_array_get_idx(pfs, 0);
        assert_int_equal(json_object_object_length(e), 3);
        assert_true(json_object_object_get_ex(e, "pf", &v));
        assert_string_equal(json_object_get_string(v), "0000:3b:00.0");
        assert_true(json_object_object_get_ex(e, "num_vfs", &v));
        assert_int_equal(json_object_get_int(v), 4);
        assert_true(json_object_object_get_ex(e, "policy", &v));
        assert_string_equal(json_object_get_string(v), "all-or-nothing");
        json_object_put(root);
}

static void test_load_missing(void **state) {
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;

        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_null(got);
        assert_int_equal(n, 0);
}

static void test_load_missing_dir(void **state) {
        _cleanup_free_ char *dir = path_of("does/not/exist");
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;

        assert_int_equal(sriov_state_load(dir, &got, &n), 0);
        assert_null(got);
        assert_int_equal(n, 0);
        /* Loading creates nothing. */
        assert_int_equal(access(dir, F_OK), -1);
}

struct load_case {
        const char *name;
        const char *known_bug;
        const char *content;
        int ret;
        size_t n;
        struct { const char *pf; unsigned num_vfs; SriovPolicy policy; } exp[3];
};

#define PF(...) "{\"pfs\": [" __VA_ARGS__ "]}"

static const struct load_case load_cases[] = {
        { "policy-default", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 3}"), 0, 1,
          { { "0000:01:00.0", 3, SRIOV_POLICY_BEST_EFFORT } } },
        { "short-address", NULL, PF("{\"pf\": \"01:00.1\", \"num_vfs\": 3, \"policy\": \"all-or-nothing\"}"), 0, 1,
          { { "0000:01:00.1", 3, SRIOV_POLICY_ALL_OR_NOTHING } } },
        { "upper-case-hex", NULL, PF("{\"pf\": \"0000:3B:00.0\", \"num_vfs\": 0}"), 0, 1,
          { { "0000:3b:00.0", 0, SRIOV_POLICY_BEST_EFFORT } } },
        { "max-vfs", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 65535}"), 0, 1,
          { { "0000:01:00.0", 65535, SRIOV_POLICY_BEST_EFFORT } } },
        { "no-version", NULL, PF(), 0, 0 },
        { "unknown-members-ignored", NULL,
          "{\"version\": 1, \"future\": true, \"pfs\": [{\"pf\": \"0000:01:00.0\", \"num_vfs\": 2, \"x\": 1}]}", 0, 1,
          { { "0000:01:00.0", 2, SRIOV_POLICY_BEST_EFFORT } } },
        { "several", NULL,
          PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 2}, {\"pf\": \"0000:02:00.0\", \"num_vfs\": 7, "
             "\"policy\": \"all-or-nothing\"}, {\"pf\": \"0000:03:00.0\", \"num_vfs\": 0, \"policy\": \"best-effort\"}"),
          0, 3,
          { { "0000:01:00.0", 2, SRIOV_POLICY_BEST_EFFORT }, { "0000:02:00.0", 7, SRIOV_POLICY_ALL_OR_NOTHING },
            { "0000:03:00.0", 0, SRIOV_POLICY_BEST_EFFORT } } },

        { "not-json", NULL, "this is not JSON", -EBADMSG },
        { "empty-file", NULL, "", -EBADMSG },
        { "truncated", NULL, "{\"pfs\": [{\"pf\": \"0000:01:00.0\", \"num_v", -EBADMSG },
        { "top-array", NULL, "[]", -EBADMSG },
        { "top-number", NULL, "1\n", -EBADMSG },
        { "no-pfs", NULL, "{\"version\": 1}", -EBADMSG },
        { "pfs-object", NULL, "{\"pfs\": {}}", -EBADMSG },
        { "pfs-null", NULL, "{\"pfs\": null}", -EBADMSG },
        { "entry-number", NULL, PF("1"), -EBADMSG },
        { "entry-null", NULL, PF("null"), -EBADMSG },
        { "entry-array", NULL, PF("[]"), -EBADMSG },
        { "pf-missing", NULL, PF("{\"num_vfs\": 1}"), -EBADMSG },
        { "pf-number", NULL, PF("{\"pf\": 1, \"num_vfs\": 1}"), -EBADMSG },
        { "pf-bad-address", NULL, PF("{\"pf\": \"bogus\", \"num_vfs\": 1}"), -EBADMSG },
        { "pf-function-8", NULL, PF("{\"pf\": \"0000:01:00.8\", \"num_vfs\": 1}"), -EBADMSG },
        { "pf-trailing-space", NULL, PF("{\"pf\": \"0000:01:00.0 \", \"num_vfs\": 1}"), -EBADMSG },
        { "num-missing", NULL, PF("{\"pf\": \"0000:01:00.0\"}"), -EBADMSG },
        { "num-negative", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": -1}"), -EBADMSG },
        { "num-65536", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 65536}"), -EBADMSG },
        { "num-int64-max", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 9223372036854775807}"), -EBADMSG },
        { "num-uint64", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 18446744073709551615}"), -EBADMSG },
        { "num-string", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": \"3\"}"), -EBADMSG },
        { "num-fraction", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1.5}"), -EBADMSG },
        { "num-bool", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": true}"), -EBADMSG },
        { "policy-unknown", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1, \"policy\": \"fast\"}"), -EBADMSG },
        { "policy-number", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1, \"policy\": 1}"), -EBADMSG },
        { "policy-null", NULL, PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1, \"policy\": null}"), -EBADMSG },
        /* One bad entry spoils the file; nothing is half-loaded. */
        { "bad-after-good", NULL,
          PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1}, {\"pf\": \"0000:02:00.0\", \"num_vfs\": -3}"), -EBADMSG },
        /* "Unparsable file: -EBADMSG" - json_object_from_file() stops after the first value. */
        { "trailing-garbage", NULL,
          PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1}") "garbage", -EBADMSG },
        { "two-objects", NULL,
          PF("{\"pf\": \"0000:01:00.0\", \"num_vfs\": 1}") PF(), -EBADMSG },
};

static void test_load(void **state) {
        const struct load_case *c = *state;
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;
        int r;

        known_bug(c->known_bug);
        write_raw(SRIOV_STATE_FILE, c->content);
        r = sriov_state_load(tmpdir, &got, &n);
        assert_errno_equal(r, c->ret);
        if (r < 0) {
                /* Outputs untouched on error. */
                assert_ptr_equal(got, (struct sriov_desired *) 0x1);
                assert_int_equal(n, 4242);
                return;
        }
        assert_int_equal(n, c->n);
        for (size_t i = 0; i < c->n; i++) {
                assert_string_equal(SRIOV_ADDR_STR(&got[i].pf), c->exp[i].pf);
                assert_int_equal(got[i].num_vfs, c->exp[i].num_vfs);
                assert_int_equal(got[i].policy, c->exp[i].policy);
                assert_false(got[i].drift_reported);
        }
        if (c->n == 0)
                assert_null(got);
        free(got);
}

static void test_load_is_directory(void **state) {
        _cleanup_free_ char *p = path_of(SRIOV_STATE_FILE);
        struct sriov_desired *got = NULL;
        size_t n = 0;

        assert_int_equal(mkdir(p, 0755), 0);
        assert_errno_equal(sriov_state_load(tmpdir, &got, &n), -EBADMSG);
}

/* A crash between writing the temporary file and the rename: the old file is intact, the
 * leftover is ignored by load and does not disturb the next save. */
static void test_crash_leftover(void **state) {
        const struct sriov_desired before[] = { { addr("0000:3b:00.0"), 4, SRIOV_POLICY_BEST_EFFORT } };
        const struct sriov_desired after[] = { { addr("0000:3b:00.0"), 2, SRIOV_POLICY_ALL_OR_NOTHING } };
        struct sriov_desired *got = NULL;
        size_t n = 0;
        _cleanup_free_ char *ls = NULL;

        assert_int_equal(sriov_state_save(tmpdir, before, 1), 0);
        /* A half-written temporary file of another (dead) process. */
        write_raw("." SRIOV_STATE_FILE ".999999999.tmp", "{\"pfs\": [{\"pf\": \"0000:3b:00.0\", \"num_v");

        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_same_list(got, n, before, 1);
        free(got);

        assert_int_equal(sriov_state_save(tmpdir, after, 1), 0);
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_same_list(got, n, after, 1);
        free(got);

        /* The other process's leftover stays (it is not ours to remove); ours is gone. */
        ls = list_dir(".");
        assert_string_equal(ls, "." SRIOV_STATE_FILE ".999999999.tmp " SRIOV_STATE_FILE);
}

/* A crash before the first rename: only the temporary file exists - no state yet. */
static void test_crash_before_first_rename(void **state) {
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;

        write_raw("." SRIOV_STATE_FILE ".12345.tmp", PF("{\"pf\": \"0000:3b:00.0\", \"num_vfs\": 4}"));
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_null(got);
        assert_int_equal(n, 0);
}

/* Whether the last attempt ended short is saved, so that a restart does not re-drive a
 * failed or hung enable (issue 12 item 11); an entry without the key loads as false. */
static void test_last_attempt_short_round_trip(void **state) {
        const struct sriov_desired list[] = {
                { addr("0000:3b:00.0"), 8, SRIOV_POLICY_BEST_EFFORT, .settled_short = true },
                { addr("0000:3b:00.1"), 2, SRIOV_POLICY_BEST_EFFORT },
        };
        struct sriov_desired *got = NULL;
        size_t n = 0;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(sriov_state_save(tmpdir, list, ELEMENTSOF(list)), 0);
        text = read_all(SRIOV_STATE_FILE);
        char *first = strstr(text, "\"last_attempt_short\"");
        assert_non_null(first);
        assert_non_null(strstr(first, "true"));
        assert_null(strstr(first + sizeof("\"last_attempt_short\""), "last_attempt_short"));   /* only where it is true */
        assert_int_equal(sriov_state_load(tmpdir, &got, &n), 0);
        assert_same_list(got, n, list, ELEMENTSOF(list));
        assert_true(got[0].settled_short);
        assert_false(got[1].settled_short);
        free(got);
}

static void test_last_attempt_short_bad_type(void **state) {
        struct sriov_desired *got = (struct sriov_desired *) 0x1;
        size_t n = 4242;

        write_raw(SRIOV_STATE_FILE, PF("{\"pf\": \"0000:3b:00.0\", \"num_vfs\": 4, \"last_attempt_short\": 1}"));
        assert_errno_equal(sriov_state_load(tmpdir, &got, &n), -EBADMSG);
        assert_ptr_equal(got, (struct sriov_desired *) 0x1);
}

/* At start the daemon removes what a crash between create and rename left: exactly the
 * ".NAME.PID.tmp" files, nothing else. */
static void test_remove_stale_temp_files(void **state) {
        _cleanup_free_ char *ls = NULL, *missing = path_of("no/such/dir"), *subdir = path_of(".d.1.tmp");

        write_raw(SRIOV_STATE_FILE, PF());
        write_raw("." SRIOV_STATE_FILE ".999999999.tmp", "{\"pfs\": [");
        write_raw(".recovery-0000:00:1c.0.json.12.tmp", "{");
        write_raw(".hidden", "keep");
        write_raw("notes.tmp", "keep");
        write_raw(".x.tmp", "keep");            /* no pid */
        write_raw(".x.12a.tmp", "keep");        /* not a pid */
        write_raw("..12.tmp", "keep");          /* no name */
        assert_int_equal(mkdir(subdir, 0755), 0);   /* not a file */

        assert_int_equal(sriov_state_remove_stale_temp_files(tmpdir), 2);
        ls = list_dir(".");
        assert_string_equal(ls, "..12.tmp .d.1.tmp .hidden .x.12a.tmp .x.tmp " SRIOV_STATE_FILE " notes.tmp");
        assert_int_equal(sriov_state_remove_stale_temp_files(tmpdir), 0);
        assert_int_equal(sriov_state_remove_stale_temp_files(missing), 0);
}

/* save creates the state directory on first use. */
static void test_save_creates_dir(void **state) {
        const struct sriov_desired list[] = { { addr("0000:3b:00.0"), 4, SRIOV_POLICY_BEST_EFFORT } };
        _cleanup_free_ char *dir = path_of("var/lib/sriovd");
        struct sriov_desired *got = NULL;
        size_t n = 0;

        assert_int_equal(sriov_state_save(dir, list, 1), 0);
        assert_int_equal(sriov_state_load(dir, &got, &n), 0);
        assert_same_list(got, n, list, 1);
        free(got);
}

int main(void) {
        struct unit_tests t = {};

        memset(long_name, 'n', sizeof(long_name) - 1);
        umask(022);
        prefer_tmpfs();

#define ADD(fn, st, ...) unit_add_full(&t, fn, setup, teardown, (void *) (st), __VA_ARGS__)
        ADD(test_write_new, NULL, "write/new");
        ADD(test_write_empty_content, NULL, "write/empty-content");
        ADD(test_write_replaces, NULL, "write/replaces");
        ADD(test_write_twice, NULL, "write/twice");
        ADD(test_write_over_symlink, NULL, "write/over-symlink");
        for (size_t i = 0; i < ELEMENTSOF(bad_name_cases); i++)
                ADD(test_write_bad_name, &bad_name_cases[i], "write/bad-name/%s", bad_name_cases[i].name);
        ADD(test_write_name_200, NULL, "write/name-200");
        ADD(test_write_creates_dir, NULL, "write/creates-dir");
        ADD(test_write_dir_trailing_slash, NULL, "write/dir-trailing-slash");
        ADD(test_write_dir_is_file, NULL, "write/dir-is-file");
        ADD(test_write_dir_empty, NULL, "write/dir-empty");
        ADD(test_write_stale_tmp_same_pid, NULL, "write/stale-tmp-same-pid");
        ADD(test_round_trip, NULL, "state/round-trip");
        ADD(test_save_empty, NULL, "state/save-empty");
        ADD(test_save_format, NULL, "state/save-format");
        ADD(test_save_creates_dir, NULL, "state/save-creates-dir");
        ADD(test_last_attempt_short_round_trip, NULL, "state/last-attempt-short-round-trip");
        ADD(test_last_attempt_short_bad_type, NULL, "state/last-attempt-short-bad-type");
        ADD(test_remove_stale_temp_files, NULL, "state/remove-stale-temp-files");
        ADD(test_load_missing, NULL, "state/load-missing");
        ADD(test_load_missing_dir, NULL, "state/load-missing-dir");
        ADD(test_load_is_directory, NULL, "state/load-is-directory");
        for (size_t i = 0; i < ELEMENTSOF(load_cases); i++)
                ADD(test_load, &load_cases[i], "load/%s", load_cases[i].name);
        ADD(test_crash_leftover, NULL, "crash/leftover-tmp");
        ADD(test_crash_before_first_rename, NULL, "crash/before-first-rename");

        return unit_run(&t, "state");
}
