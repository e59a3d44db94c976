/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovctl's whole request: a forked peer on a Unix socket sends a reply byte for byte,
 * and ctl_request must hand back exactly the body it announced, or refuse it. The large
 * cases take the path that sizes the buffer from Content-Length and prepares the heap
 * for a big json-c tree. */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sriovctl-client.h"
#include "unit-test.h"

enum body_kind {
        BODY_LITERAL,           /* head and body as written in the case */
        BODY_BIG_ARRAY,         /* head + a JSON array of `big` objects, Content-Length set */
        BODY_BIG_ARRAY_NO_LENGTH,
};

struct request_case {
        const char *name;
        enum body_kind kind;
        const char *reply;      /* BODY_LITERAL: the bytes the peer sends */
        size_t reply_len;
        size_t big;             /* BODY_BIG_*: objects in the array */
        int ret;
        int status;
        const char *body;       /* expected body (BODY_LITERAL), NULL: not checked */
        bool json;              /* expect a parsed body */
};

#define BYTES(s) s, sizeof(s) - 1

static const struct request_case request_cases[] = {
        { "ok", BODY_LITERAL, BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 0, 0, 200, "{}", true },
        { "no-length-until-close", BODY_LITERAL, BYTES("HTTP/1.0 200 OK\r\n\r\n{\"a\": 1}"), 0, 0, 200, "{\"a\": 1}", true },
        { "more-than-announced", BODY_LITERAL, BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}garbage"), 0, 0, 200, "{}", true },
        { "not-json", BODY_LITERAL, BYTES("HTTP/1.0 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"), 0, 0, 503, "busy", false },
        { "empty-body", BODY_LITERAL, BYTES("HTTP/1.0 204 No Content\r\nContent-Length: 0\r\n\r\n"), 0, 0, 204, "", false },
        { "short-body", BODY_LITERAL, BYTES("HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n{}"), 0, -EBADMSG },
        { "nul-in-body", BODY_LITERAL, BYTES("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n{\0}"), 0, -EBADMSG },
        { "not-http", BODY_LITERAL, BYTES("SSH-2.0-OpenSSH_9.2\r\n"), 0, -EBADMSG },
        { "nothing", BODY_LITERAL, BYTES(""), 0, -EBADMSG },
        { "big", BODY_BIG_ARRAY, NULL, 0, 60000, 0, 200, NULL, true },
        { "big-no-length", BODY_BIG_ARRAY_NO_LENGTH, NULL, 0, 60000, 0, 200, NULL, true },
};

static char *big_array(size_t n, size_t *ret_len) {
        size_t cap = n * 64 + 16, len = 0;
        char *s = malloc(cap);

        assert_non_null(s);
        s[len++] = '[';
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(s + len, cap - len, "%s{\"index\": %zu, \"driver\": \"vfio-pci\"}",
                                         i ? ", " : "", i);
        s[len++] = ']';
        s[len] = '\0';
        *ret_len = len;
        return s;
}

static void write_all_or_die(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w <= 0)
                        _exit(3);
                p += w;
                n -= (size_t) w;
        }
}

/* The peer: takes one connection, reads the request head, sends the reply, closes. */
static void serve_once(int listen_fd, const struct request_case *c) {
        char req[4096];
        size_t got = 0;
        int fd = accept(listen_fd, NULL, NULL);

        if (fd < 0)
                _exit(2);
        while (got < sizeof(req) - 1) {
                ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
                req[got] = '\0';
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        if (c->kind == BODY_LITERAL)
                write_all_or_die(fd, c->reply, c->reply_len);
        else {
                size_t len;
                char head[128], *body = big_array(c->big, &len);
                int hn = c->kind == BODY_BIG_ARRAY
                        ? snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", len)
                        : snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n\r\n");
                write_all_or_die(fd, head, (size_t) hn);
                write_all_or_die(fd, body, len);
                free(body);
        }
        close(fd);
        _exit(0);
}

static void test_request(void **state) {
        const struct request_case *c = *state;
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *tmpdir = getenv("TMPDIR");
        char dir[64];
        int listen_fd, wstatus, r;
        pid_t pid;

        /* A socket path must fit sun_path: a long $TMPDIR falls back to /tmp. */
        if (!tmpdir || !*tmpdir || strlen(tmpdir) > 40)
                tmpdir = "/tmp";
        snprintf(dir, sizeof(dir), "%s/sriovctl-request-XXXXXX", tmpdir);
        assert_non_null(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(listen_fd >= 0);
        assert_int_equal(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(listen_fd, 1), 0);

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                serve_once(listen_fd, c);
        close(listen_fd);

        r = ctl_request(sa.sun_path, "GET", "/v1/devices", NULL, 10000, &resp);
        assert_int_equal(waitpid(pid, &wstatus, 0), pid);
        assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
        unlink(sa.sun_path);
        rmdir(dir);

        assert_int_equal(r, c->ret);
        if (c->ret < 0)
                return;
        assert_int_equal(resp.status, c->status);
        assert_non_null(resp.body);
        assert_int_equal(strlen(resp.body), resp.body_len);
        if (c->body)
                assert_string_equal(resp.body, c->body);
        assert_int_equal(resp.json != NULL, c->json);
        if (c->kind != BODY_LITERAL) {
                size_t len;
                _cleanup_free_ char *want = big_array(c->big, &len);
                assert_int_equal(resp.body_len, len);
                assert_memory_equal(resp.body, want, len);
                assert_true(json_object_is_type(resp.json, json_type_array));
                assert_int_equal(json_object_array_length(resp.json), c->big);
                json_object *last = json_object_array_get_idx(resp.json, c->big - 1), *idx;
                assert_true(json_object_object_get_ex(last, "index", &idx));
                assert_int_equal(json_object_get_int64(idx), (int64_t) c->big - 1);
        }
}

int main(void) {
        struct unit_tests t = {};

        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ELEMENTSOF(request_cases); i++)
                unit_add(&t, test_request, (void *) &request_cases[i], "request/%s", request_cases[i].name);
        return unit_run(&t, "cli-request");
}
