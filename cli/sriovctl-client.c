/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sriovctl-client.h"
#include "sriovctl-http.h"

#define CTL_MAX_RESPONSE (256u * 1024u * 1024u)

void ctl_response_done(struct ctl_response *r) {
        if (!r)
                return;
        free(r->body);
        if (r->json)
                json_object_put(r->json);
        *r = (struct ctl_response) {};
}

/* Every step of a request is bounded by one deadline on CLOCK_MONOTONIC (0: none): a
 * daemon that accepts and never answers (its loop stuck, or an instance dying behind a
 * worker stuck in the kernel) must not hang the caller. */
static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static uint64_t deadline_of(uint64_t timeout_ms) {
        return timeout_ms ? now_ms() + timeout_ms : 0;
}

/* Waits until fd is ready for events, or -ETIMEDOUT at the deadline. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_ms();
                int r;

                if (deadline && now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&(struct pollfd) { .fd = fd, .events = events }, 1,
                         deadline ? (int) (deadline - now > INT32_MAX ? INT32_MAX : deadline - now) : -1);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
        }
}

static int connect_socket(const char *path, uint64_t deadline) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* A Unix connect() blocks while the listener's backlog is full, and no poll()
         * says when it would not: SO_SNDTIMEO bounds it (EAGAIN when it runs out). */
        if (deadline) {
                uint64_t now = now_ms(), left = deadline > now ? deadline - now : 1;
                struct timeval tv = { .tv_sec = (time_t) (left / 1000), .tv_usec = (suseconds_t) (left % 1000) * 1000 };
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return negative_errno();
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return errno == EAGAIN && deadline ? -ETIMEDOUT : negative_errno();
        return TAKE_FD(fd);
}

static int write_all(int fd, const char *buf, size_t len, uint64_t deadline) {
        while (len > 0) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* What came within the deadline; 0 at the end of the stream. */
static ssize_t read_some(int fd, char *buf, size_t len, uint64_t deadline) {
        for (;;) {
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
                if (n >= 0)
                        return n;
                if (errno != EINTR && errno != EAGAIN)
                        return negative_errno();
        }
}

static int send_request(int fd, const char *method, const char *path, const char *body, uint64_t deadline) {
        _cleanup_free_ char *head = NULL;
        size_t blen = body ? strlen(body) : 0;
        int r;

        if (asprintf(&head,
                     "%s %s HTTP/1.0\r\nHost: sriovd\r\nConnection: close\r\nAccept: application/json\r\n"
                     "%s%sContent-Length: %zu\r\n\r\n",
                     method, path, body ? "Content-Type: application/json" : "", body ? "\r\n" : "", blen) < 0)
                return -ENOMEM;
        r = write_all(fd, head, strlen(head), deadline);
        if (r < 0)
                return r;
        if (blen > 0)
                r = write_all(fd, body, blen, deadline);
        return r;
}

/* The head of the reply, checked strictly (sriovctl-http.c): whatever listens on the
 * socket path is not trusted to be sriovd. */
static int parse_head(const char *buf, size_t len, int *ret_status, size_t *ret_body_off, long *ret_content_length) {
        struct ctl_http_head h;
        int r = ctl_http_parse_head(buf, len, CTL_MAX_RESPONSE, &h);

        if (r <= 0)
                return r;
        *ret_status = h.status;
        *ret_body_off = h.body_offset;
        *ret_content_length = (long) h.content_length;
        return 1;
}

/* json-c makes an allocation per value and a 16-slot hash table per object: a whole-host
 * reply of 2.7 MB (64 PFs x 256 VFs) becomes some 30 MiB of small heap chunks, first
 * touched one 4 KiB page at a time. That was 8.5k page faults, a third of `sriovctl
 * status` (~45 ms in a VM). So before parsing a large body, the heap's top is grown
 * ahead of the parse and advised onto transparent huge pages (what glibc's glibc.malloc.hugetlb=1
 * tunable does, which a program cannot set for itself). Nothing is touched here: the
 * pages arrive as the parse uses them, and a host with THP off just gets 4 KiB pages.
 * Fastbins are turned off too: freeing the trees otherwise ran malloc_consolidate() over
 * and over (15-20 ms of the same command). */
#define CTL_LARGE_BODY (1u << 20)
#define CTL_TREE_PER_BODY_BYTE 16u
#define CTL_HEAP_HUGE (2u << 20)
#define CTL_TREE_MAX ((size_t) 512 << 20)      /* x2 still fits mallopt's int */
#define CTL_HEAP_PIECE ((size_t) 16 << 20)     /* under the mmap threshold, which is at most 32 MiB */

static void heap_prepare_for_tree(size_t body_len) {
#ifdef __GLIBC__
        void *pieces[CTL_TREE_MAX / CTL_HEAP_PIECE];
        size_t want, n = 0;

        if (body_len < CTL_LARGE_BODY)
                return;
        want = body_len < CTL_TREE_MAX / CTL_TREE_PER_BODY_BYTE ? body_len * CTL_TREE_PER_BODY_BYTE : CTL_TREE_MAX;
        /* From the brk heap rather than separate mmaps, and kept there until exit. glibc
         * serves at most 32 MiB from the heap in one malloc: so in pieces, which follow
         * each other at the heap's top. */
        if (mallopt(M_MXFAST, 0) != 1 || mallopt(M_MMAP_THRESHOLD, (int) (2 * CTL_HEAP_PIECE)) != 1 ||
            mallopt(M_TRIM_THRESHOLD, (int) (want * 2)) != 1)
                return;
        for (size_t left = want; left > 0 && n < ELEMENTSOF(pieces); n++) {
                size_t size = left < CTL_HEAP_PIECE ? left : CTL_HEAP_PIECE;
                uintptr_t mask = (uintptr_t) CTL_HEAP_HUGE - 1, start, end;

                pieces[n] = malloc(size);
                if (!pieces[n])
                        break;
                start = ((uintptr_t) pieces[n] + mask) & ~mask;
                end = ((uintptr_t) pieces[n] + size) & ~mask;
                if (end > start)
                        (void) madvise((void *) start, end - start, MADV_HUGEPAGE);
                left -= size;
        }
        while (n > 0)
                free(pieces[--n]);      /* back to the heap's top, where the parse's chunks come from */
#endif
}

int ctl_request(const char *socket_path, const char *method, const char *path, const char *body,
                uint64_t timeout_ms, struct ctl_response *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0, body_off = 0;
        long content_length = -1;
        uint64_t deadline = deadline_of(timeout_ms);
        int status = 0, r;

        fd = connect_socket(socket_path, deadline);
        if (fd < 0)
                return fd;
        r = send_request(fd, method, path, body, deadline);
        if (r < 0)
                return r;

        for (;;) {
                ssize_t n;

                if (len + 4096 + 1 > cap) {
                        size_t ncap = cap ? cap * 2 : 16384;
                        char *nb;
                        if (ncap > CTL_MAX_RESPONSE)
                                return -EFBIG;
                        nb = realloc(buf, ncap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = ncap;
                }
                n = read_some(fd, buf + len, cap - len - 1, deadline);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                len += (size_t) n;
                buf[len] = '\0';
                if (status == 0) {
                        r = parse_head(buf, len, &status, &body_off, &content_length);
                        if (r < 0)
                                return r;
                        /* The announced size in one allocation, not a doubling series
                         * of copies (parse_head bounded it by CTL_MAX_RESPONSE). */
                        if (r > 0 && content_length >= 0 && body_off + (size_t) content_length + 4096 + 1 > cap) {
                                size_t ncap = body_off + (size_t) content_length + 4096 + 1;
                                char *nb = realloc(buf, ncap);
                                if (!nb)
                                        return -ENOMEM;
                                buf = nb;
                                cap = ncap;
                        }
                }
                if (status != 0 && content_length >= 0 && len - body_off >= (size_t) content_length)
                        break;
        }
        if (!buf)
                return -EBADMSG;
        buf[len] = '\0';
        if (status == 0) {
                r = parse_head(buf, len, &status, &body_off, &content_length);
                if (r <= 0)
                        return -EBADMSG;
        }

        if (content_length >= 0) {
                if (len - body_off < (size_t) content_length)
                        return -EBADMSG;        /* the peer closed before the body it announced */
                len = body_off + (size_t) content_length;
        }
        if (memchr(buf + body_off, '\0', len - body_off))
                return -EBADMSG;                /* sriovd's bodies are text: no NUL byte */

        *ret = (struct ctl_response) { .status = status };
        ret->body_len = len - body_off;
        memmove(buf, buf + body_off, ret->body_len);
        buf[ret->body_len] = '\0';
        ret->body = TAKE_PTR(buf);
        heap_prepare_for_tree(ret->body_len);
        ret->json = json_tokener_parse(ret->body);
        return 0;
}

int ctl_request_stream(const char *socket_path, const char *method, const char *path, uint64_t timeout_ms,
                       int (*on_line)(const char *line, void *userdata), void *userdata, int *ret_status) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 65536, body_off = 0;
        long content_length;
        uint64_t deadline = deadline_of(timeout_ms);
        int status = 0, r;

        fd = connect_socket(socket_path, deadline);
        if (fd < 0)
                return fd;
        r = send_request(fd, method, path, NULL, deadline);
        if (r < 0)
                return r;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                /* Bounded until the status line and headers are in; then events come
                 * when they happen. */
                ssize_t n = read_some(fd, buf + len, cap - len - 1, status == 0 ? deadline : 0);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                len += (size_t) n;
                buf[len] = '\0';
                if (status == 0) {
                        r = parse_head(buf, len, &status, &body_off, &content_length);
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                if (len + 1 >= cap)
                                        return -EBADMSG;
                                continue;
                        }
                        if (ret_status)
                                *ret_status = status;
                        memmove(buf, buf + body_off, len - body_off);
                        len -= body_off;
                        buf[len] = '\0';
                }
                char *nl;
                while ((nl = memchr(buf, '\n', len))) {
                        *nl = '\0';
                        if (nl > buf && on_line(buf, userdata) < 0)
                                return 0;
                        size_t used = (size_t) (nl - buf) + 1;
                        memmove(buf, nl + 1, len - used);
                        len -= used;
                }
                if (len + 1 >= cap)
                        return -EBADMSG;        /* one line over 64 KiB: not ours */
        }
        if (len > 0 && status != 0) {
                buf[len] = '\0';
                (void) on_line(buf, userdata);
        }
        return status ? 0 : -EBADMSG;
}

int ctl_report_connect_error(const char *socket_path, uint64_t timeout_ms, int r) {
        if (r == -ETIMEDOUT)
                fprintf(stderr, "sriovctl: sriovd did not answer within %g s on %s (see --timeout)\n",
                        (double) timeout_ms / 1000.0, socket_path);
        else if (r == -ENOENT || r == -ECONNREFUSED)
                fprintf(stderr, "sriovctl: sriovd is not running (no daemon listens on %s); start it with 'systemctl start sriovd'\n",
                        socket_path);
        else if (r == -EACCES || r == -EPERM)
                fprintf(stderr, "sriovctl: permission denied on %s\n", socket_path);
        else if (r == -EBADMSG)
                fprintf(stderr, "sriovctl: the reply on %s is not sriovd's (malformed HTTP); nothing was done with it\n",
                        socket_path);
        else if (r == -EFBIG)
                fprintf(stderr, "sriovctl: the reply on %s is too large; nothing was done with it\n", socket_path);
        else
                fprintf(stderr, "sriovctl: cannot talk to sriovd on %s: %s\n", socket_path, strerror(-r));
        return r;
}

const char *ctl_response_error(const struct ctl_response *r) {
        json_object *e;

        if (r->json && json_object_object_get_ex(r->json, "error", &e) && json_object_is_type(e, json_type_string))
                return json_object_get_string(e);
        return "unexpected reply from sriovd";
}
