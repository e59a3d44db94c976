/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-lock.h"

/* Intrusive circular doubly-linked list with a sentinel head. An unlinked node points at
 * itself, so "is it on a list" needs no extra flag. */
struct list {
        struct list *prev, *next;
};

#define container_of(ptr, type, member) ((type *) ((char *) (ptr) - offsetof(type, member)))

static void list_init(struct list *l) {
        l->prev = l->next = l;
}

static bool list_linked(const struct list *n) {
        return n->next != n;
}

static void list_append(struct list *head, struct list *n) {
        n->prev = head->prev;
        n->next = head;
        head->prev->next = n;
        head->prev = n;
}

static void list_remove(struct list *n) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
        list_init(n);
}

/* One lock name (level + address) and what the submitted requests do with it. Keys live as
 * long as a submitted request names them, so the table stays as small as the queue. */
struct lock_key {
        uint64_t id;
        struct lock_key *next;          /* hash chain */
        unsigned n_refs;

        unsigned held_shared, held_exclusive;
        unsigned waiting_shared, waiting_exclusive;

        /* Scratch for one grant pass: what the requests already passed over and left
         * waiting want from this key. Valid only while pass == manager's pass. */
        uint64_t pass;
        bool pass_shared, pass_exclusive;
};

struct lock_item {
        enum sriov_lock_level level;
        enum sriov_lock_mode mode;
        struct sriov_addr addr;
        uint64_t key_id;
        struct lock_key *key;           /* set while submitted */
};

struct sriov_lock_request {
        sriov_lock_manager *manager;    /* NULL once detached from a freed manager */
        enum sriov_lock_request_state state;
        uint64_t id;

        sriov_lock_granted_t callback;
        void *userdata;

        struct list by_manager;         /* every live request, for detaching */
        struct list queue;              /* submitted, in submission order */
        struct list waiting;            /* waiting, in submission order */
        struct list pending;            /* granted, callback not run yet */

        /* Sorted by key id, which sorts by level first: [0] hierarchy, [1] PF, then VFs. */
        struct lock_item *items;
        size_t n_items;
};

struct sriov_lock_manager {
        struct list requests, queue, waiting, pending;
        size_t n_waiting, n_granted;
        uint64_t next_id;
        uint64_t pass;

        struct lock_key **buckets;
        size_t n_buckets, n_keys;

        bool dispatching;
        bool free_requested;
        bool stopped;                   /* sriov_lock_manager_stop(): grants nothing more */
};

static const char *const level_table[_SRIOV_LOCK_LEVEL_MAX] = {
        [SRIOV_LOCK_HIERARCHY] = "hierarchy",
        [SRIOV_LOCK_PF] = "pf",
        [SRIOV_LOCK_VF] = "vf",
};

static const char *const mode_table[_SRIOV_LOCK_MODE_MAX] = {
        [SRIOV_LOCK_SHARED] = "shared",
        [SRIOV_LOCK_EXCLUSIVE] = "exclusive",
};

static const char *const state_table[_SRIOV_LOCK_REQUEST_STATE_MAX] = {
        [SRIOV_LOCK_REQUEST_NEW] = "new",
        [SRIOV_LOCK_REQUEST_WAITING] = "waiting",
        [SRIOV_LOCK_REQUEST_GRANTED] = "granted",
        [SRIOV_LOCK_REQUEST_RELEASED] = "released",
};

static const char *table_to_string(const char *const *table, size_t n, int v) {
        if (v < 0 || (size_t) v >= n)
                return NULL;
        return table[v];
}

static int table_from_string(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *sriov_lock_level_to_string(enum sriov_lock_level l) {
        return table_to_string(level_table, ELEMENTSOF(level_table), l);
}

enum sriov_lock_level sriov_lock_level_from_string(const char *s) {
        return table_from_string(level_table, ELEMENTSOF(level_table), s);
}

const char *sriov_lock_mode_to_string(enum sriov_lock_mode m) {
        return table_to_string(mode_table, ELEMENTSOF(mode_table), m);
}

enum sriov_lock_mode sriov_lock_mode_from_string(const char *s) {
        return table_from_string(mode_table, ELEMENTSOF(mode_table), s);
}

const char *sriov_lock_request_state_to_string(enum sriov_lock_request_state s) {
        return table_to_string(state_table, ELEMENTSOF(state_table), s);
}

static bool mode_valid(enum sriov_lock_mode m) {
        return m >= 0 && m < _SRIOV_LOCK_MODE_MAX;
}

/* level(2 bits) | domain(32) | RID(16): unique per key, and its order is level first, then
 * sriov_addr_compare() order, so sorting items by it gives hierarchy, PF, VFs by address. */
static uint64_t key_id(enum sriov_lock_level level, const struct sriov_addr *a) {
        return (uint64_t) level << 48 | (uint64_t) a->domain << 16 | sriov_addr_rid(a);
}

static size_t key_hash(uint64_t id, size_t n_buckets) {
        /* splitmix64 finaliser: addresses differ in few low bits. */
        id ^= id >> 30;
        id *= UINT64_C(0xbf58476d1ce4e5b9);
        id ^= id >> 27;
        id *= UINT64_C(0x94d049bb133111eb);
        id ^= id >> 31;
        return (size_t) id & (n_buckets - 1);
}

static struct lock_key *manager_find_key(const sriov_lock_manager *m, uint64_t id) {
        if (m->n_buckets == 0)
                return NULL;
        for (struct lock_key *k = m->buckets[key_hash(id, m->n_buckets)]; k; k = k->next)
                if (k->id == id)
                        return k;
        return NULL;
}

static int manager_grow(sriov_lock_manager *m) {
        size_t n = m->n_buckets ? m->n_buckets * 2 : 64;
        struct lock_key **b = calloc(n, sizeof(*b));
        if (!b)
                return -ENOMEM;

        for (size_t i = 0; i < m->n_buckets; i++)
                while (m->buckets[i]) {
                        struct lock_key *k = m->buckets[i];
                        m->buckets[i] = k->next;
                        size_t h = key_hash(k->id, n);
                        k->next = b[h];
                        b[h] = k;
                }

        free(m->buckets);
        m->buckets = b;
        m->n_buckets = n;
        return 0;
}

static int manager_ref_key(sriov_lock_manager *m, uint64_t id, struct lock_key **ret) {
        struct lock_key *k = manager_find_key(m, id);
        int r;

        if (!k) {
                if (m->n_keys >= m->n_buckets) {
                        r = manager_grow(m);
                        if (r < 0)
                                return r;
                }
                k = calloc(1, sizeof(*k));
                if (!k)
                        return -ENOMEM;
                k->id = id;
                size_t h = key_hash(id, m->n_buckets);
                k->next = m->buckets[h];
                m->buckets[h] = k;
                m->n_keys++;
        }

        k->n_refs++;
        *ret = k;
        return 0;
}

static void manager_unref_key(sriov_lock_manager *m, struct lock_key *k) {
        assert(k->n_refs > 0);
        if (--k->n_refs > 0)
                return;

        assert(k->held_shared == 0 && k->held_exclusive == 0);
        assert(k->waiting_shared == 0 && k->waiting_exclusive == 0);

        for (struct lock_key **p = &m->buckets[key_hash(k->id, m->n_buckets)]; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        m->n_keys--;
        free(k);
}

int sriov_lock_manager_new(sriov_lock_manager **ret) {
        if (!ret)
                return -EINVAL;

        sriov_lock_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        list_init(&m->requests);
        list_init(&m->queue);
        list_init(&m->waiting);
        list_init(&m->pending);
        m->next_id = 1;

        *ret = m;
        return 0;
}

static void request_unlink_keys(sriov_lock_request *req) {
        for (size_t i = 0; i < req->n_items; i++)
                if (req->items[i].key) {
                        manager_unref_key(req->manager, req->items[i].key);
                        req->items[i].key = NULL;
                }
}

static void manager_really_free(sriov_lock_manager *m) {
        /* Detach rather than free outstanding requests: their owners still hold pointers and
         * will call sriov_lock_request_free(), which then only frees memory. */
        while (list_linked(&m->requests)) {
                sriov_lock_request *req = container_of(m->requests.next, sriov_lock_request, by_manager);

                if (req->state == SRIOV_LOCK_REQUEST_WAITING || req->state == SRIOV_LOCK_REQUEST_GRANTED)
                        req->state = SRIOV_LOCK_REQUEST_RELEASED;
                list_remove(&req->by_manager);
                list_remove(&req->queue);
                list_remove(&req->waiting);
                list_remove(&req->pending);
                for (size_t i = 0; i < req->n_items; i++)
                        req->items[i].key = NULL;
                req->manager = NULL;
        }

        for (size_t i = 0; i < m->n_buckets; i++)
                while (m->buckets[i]) {
                        struct lock_key *k = m->buckets[i];
                        m->buckets[i] = k->next;
                        free(k);
                }
        free(m->buckets);
        free(m);
}

void sriov_lock_manager_stop(sriov_lock_manager *m) {
        if (!m)
                return;

        m->stopped = true;
        /* Granted but not told yet: never will be. Their owners see GRANTED and free them;
         * a callback run now would start work on objects the teardown is freeing. */
        while (list_linked(&m->pending))
                list_remove(m->pending.next);
}

bool sriov_lock_manager_stopped(const sriov_lock_manager *m) {
        return m && m->stopped;
}

sriov_lock_manager *sriov_lock_manager_free(sriov_lock_manager *m) {
        if (!m)
                return NULL;

        if (m->dispatching) {
                /* Called from a callback: the delivery loop up the stack still uses m. */
                m->free_requested = true;
                return NULL;
        }

        manager_really_free(m);
        return NULL;
}

int sriov_lock_request_new(sriov_lock_manager *m,
                           const struct sriov_addr *hierarchy, enum sriov_lock_mode hmode,
                           const struct sriov_addr *pf, enum sriov_lock_mode pfmode,
                           sriov_lock_request **ret) {
        if (!m || !hierarchy || !ret || !mode_valid(hmode))
                return -EINVAL;
        if (pf && !mode_valid(pfmode))
                return -EINVAL;
        if (m->free_requested)
                return -ESTALE;

        _cleanup_free_ struct lock_item *items = calloc(pf ? 2 : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;

        sriov_lock_request *req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;

        items[0] = (struct lock_item) {
                .level = SRIOV_LOCK_HIERARCHY,
                .mode = hmode,
                .addr = *hierarchy,
                .key_id = key_id(SRIOV_LOCK_HIERARCHY, hierarchy),
        };
        if (pf)
                items[1] = (struct lock_item) {
                        .level = SRIOV_LOCK_PF,
                        .mode = pfmode,
                        .addr = *pf,
                        .key_id = key_id(SRIOV_LOCK_PF, pf),
                };

        *req = (sriov_lock_request) {
                .manager = m,
                .state = SRIOV_LOCK_REQUEST_NEW,
                .items = TAKE_PTR(items),
                .n_items = pf ? 2 : 1,
        };
        list_init(&req->by_manager);
        list_init(&req->queue);
        list_init(&req->waiting);
        list_init(&req->pending);
        list_append(&m->requests, &req->by_manager);

        *ret = req;
        return 0;
}

int sriov_lock_request_add_vf(sriov_lock_request *req, const struct sriov_addr *vf, enum sriov_lock_mode mode) {
        if (!req || !vf || !mode_valid(mode))
                return -EINVAL;
        if (req->state != SRIOV_LOCK_REQUEST_NEW)
                return -EBUSY;
        if (req->n_items < 2)
                return -EINVAL;         /* no PF: a VF lock must sit under its PF's */
        if (!sriov_lock_vf_plausible(&req->items[1].addr, vf))
                return -EINVAL;

        uint64_t id = key_id(SRIOV_LOCK_VF, vf);

        /* Insertion keeps items sorted, which the pairwise conflict check relies on. */
        size_t pos = req->n_items;
        while (pos > 2 && req->items[pos - 1].key_id > id)
                pos--;
        if (req->items[pos - 1].key_id == id)
                return -EEXIST;

        struct lock_item *items = reallocarray(req->items, req->n_items + 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        req->items = items;

        memmove(items + pos + 1, items + pos, (req->n_items - pos) * sizeof(*items));
        items[pos] = (struct lock_item) {
                .level = SRIOV_LOCK_VF,
                .mode = mode,
                .addr = *vf,
                .key_id = id,
        };
        req->n_items++;
        return 0;
}

static bool modes_conflict(enum sriov_lock_mode a, enum sriov_lock_mode b) {
        return a == SRIOV_LOCK_EXCLUSIVE || b == SRIOV_LOCK_EXCLUSIVE;
}

/* Pairwise check, for introspection only; granting uses the per-key counters. Both item
 * arrays are sorted by key id, so one merge walk suffices. Returns the item of a. */
static const struct lock_item *requests_conflict(const sriov_lock_request *a, const sriov_lock_request *b) {
        size_t i = 0, j = 0;

        while (i < a->n_items && j < b->n_items) {
                const struct lock_item *x = a->items + i, *y = b->items + j;

                if (x->key_id < y->key_id)
                        i++;
                else if (x->key_id > y->key_id)
                        j++;
                else {
                        if (modes_conflict(x->mode, y->mode))
                                return x;
                        i++;
                        j++;
                }
        }
        return NULL;
}

/* Can req be granted now, given the held locks and the waiting requests recorded in the
 * current pass (those ahead of it that stay waiting)? */
static bool request_grantable(const sriov_lock_request *req, uint64_t pass) {
        for (size_t i = 0; i < req->n_items; i++) {
                const struct lock_item *it = req->items + i;
                const struct lock_key *k = it->key;
                bool in_pass = k->pass == pass;

                if (it->mode == SRIOV_LOCK_EXCLUSIVE) {
                        if (k->held_shared > 0 || k->held_exclusive > 0)
                                return false;
                        if (in_pass && (k->pass_shared || k->pass_exclusive))
                                return false;
                } else {
                        if (k->held_exclusive > 0)
                                return false;
                        if (in_pass && k->pass_exclusive)
                                return false;
                }
        }
        return true;
}

static void request_mark_pass(sriov_lock_request *req, uint64_t pass) {
        for (size_t i = 0; i < req->n_items; i++) {
                struct lock_key *k = req->items[i].key;

                if (k->pass != pass) {
                        k->pass = pass;
                        k->pass_shared = k->pass_exclusive = false;
                }
                if (req->items[i].mode == SRIOV_LOCK_EXCLUSIVE)
                        k->pass_exclusive = true;
                else
                        k->pass_shared = true;
        }
}

static void request_count(sriov_lock_request *req, bool held, int delta) {
        for (size_t i = 0; i < req->n_items; i++) {
                struct lock_key *k = req->items[i].key;
                bool x = req->items[i].mode == SRIOV_LOCK_EXCLUSIVE;
                unsigned *c = held ? (x ? &k->held_exclusive : &k->held_shared)
                                   : (x ? &k->waiting_exclusive : &k->waiting_shared);

                assert(delta > 0 || *c > 0);
                *c += delta;
        }
}

/* Bookkeeping only: the callback is queued, delivered by manager_dispatch(). */
static void request_grant(sriov_lock_request *req) {
        sriov_lock_manager *m = req->manager;

        if (req->state == SRIOV_LOCK_REQUEST_WAITING) {
                request_count(req, false, -1);
                list_remove(&req->waiting);
                m->n_waiting--;
        }
        request_count(req, true, +1);
        req->state = SRIOV_LOCK_REQUEST_GRANTED;
        m->n_granted++;
        list_append(&m->pending, &req->pending);
}

/* One pass over the waiting queue in FIFO order. A request is granted if nothing held
 * conflicts and nothing passed over (= earlier and still waiting) conflicts; otherwise its
 * wishes are recorded so later conflicting requests stay behind it. Granting never unblocks
 * anything, so one pass reaches the fixpoint. */
static void manager_grant_pass(sriov_lock_manager *m) {
        /* Stopped: releases only give back, waiters stay waiting. */
        if (m->stopped)
                return;

        uint64_t pass = ++m->pass;

        for (struct list *n = m->waiting.next, *next; n != &m->waiting; n = next) {
                sriov_lock_request *req = container_of(n, sriov_lock_request, waiting);

                next = n->next;
                if (request_grantable(req, pass))
                        request_grant(req);
                else
                        request_mark_pass(req, pass);
        }
}

static void manager_dispatch(sriov_lock_manager *m) {
        /* Callbacks never nest: whoever is already delivering picks up what they add. */
        if (m->dispatching)
                return;

        m->dispatching = true;
        while (list_linked(&m->pending) && !m->free_requested && !m->stopped) {
                sriov_lock_request *req = container_of(m->pending.next, sriov_lock_request, pending);

                list_remove(&req->pending);
                if (req->callback)
                        req->callback(req, req->userdata);
                /* req may be gone now. */
        }
        m->dispatching = false;

        if (m->free_requested)
                manager_really_free(m);
}

int sriov_lock_request_submit(sriov_lock_request *req, sriov_lock_granted_t callback, void *userdata) {
        int r;

        if (!req)
                return -EINVAL;
        if (req->state != SRIOV_LOCK_REQUEST_NEW)
                return -EBUSY;
        if (!req->manager || req->manager->free_requested)
                return -ESTALE;
        if (req->manager->stopped)
                return -ESHUTDOWN;

        sriov_lock_manager *m = req->manager;

        for (size_t i = 0; i < req->n_items; i++) {
                r = manager_ref_key(m, req->items[i].key_id, &req->items[i].key);
                if (r < 0) {
                        request_unlink_keys(req);
                        return r;
                }
        }

        req->callback = callback;
        req->userdata = userdata;
        req->id = m->next_id++;
        list_append(&m->queue, &req->queue);

        /* Being last in the queue, every waiting request is ahead of it: the persistent
         * waiting counters play the role of the pass marks. */
        bool grantable = true;
        for (size_t i = 0; i < req->n_items && grantable; i++) {
                const struct lock_key *k = req->items[i].key;

                if (req->items[i].mode == SRIOV_LOCK_EXCLUSIVE)
                        grantable = k->held_shared + k->held_exclusive + k->waiting_shared + k->waiting_exclusive == 0;
                else
                        grantable = k->held_exclusive + k->waiting_exclusive == 0;
        }

        if (!grantable) {
                req->state = SRIOV_LOCK_REQUEST_WAITING;
                request_count(req, false, +1);
                list_append(&m->waiting, &req->waiting);
                m->n_waiting++;
                return 0;
        }

        request_grant(req);
        manager_dispatch(m);    /* may free req or even m; touch neither afterwards */
        return 0;
}

void sriov_lock_request_release(sriov_lock_request *req) {
        if (!req)
                return;

        sriov_lock_manager *m = req->manager;
        enum sriov_lock_request_state old = req->state;

        req->state = SRIOV_LOCK_REQUEST_RELEASED;
        if (!m || (old != SRIOV_LOCK_REQUEST_WAITING && old != SRIOV_LOCK_REQUEST_GRANTED))
                return;

        if (old == SRIOV_LOCK_REQUEST_WAITING) {
                request_count(req, false, -1);
                list_remove(&req->waiting);
                m->n_waiting--;
        } else {
                request_count(req, true, -1);
                list_remove(&req->pending);     /* granted but not told yet: never will be */
                m->n_granted--;
        }
        list_remove(&req->queue);
        request_unlink_keys(req);

        manager_grant_pass(m);
        manager_dispatch(m);
}

sriov_lock_request *sriov_lock_request_free(sriov_lock_request *req) {
        if (!req)
                return NULL;

        /* Releasing first may run other requests' callbacks; req stays valid meanwhile since
         * nobody else owns it. Callbacks must not free a request they do not own. */
        sriov_lock_request_release(req);

        list_remove(&req->by_manager);
        free(req->items);
        free(req);
        return NULL;
}

enum sriov_lock_request_state sriov_lock_request_state(const sriov_lock_request *req) {
        if (!req)
                return _SRIOV_LOCK_REQUEST_STATE_INVALID;
        return req->state;
}

uint64_t sriov_lock_request_id(const sriov_lock_request *req) {
        return req ? req->id : 0;
}

void *sriov_lock_request_userdata(const sriov_lock_request *req) {
        return req ? req->userdata : NULL;
}

size_t sriov_lock_request_n_locks(const sriov_lock_request *req) {
        return req ? req->n_items : 0;
}

int sriov_lock_request_get_lock(const sriov_lock_request *req, size_t i,
                                enum sriov_lock_level *ret_level,
                                struct sriov_addr *ret_addr,
                                enum sriov_lock_mode *ret_mode) {
        if (!req)
                return -EINVAL;
        if (i >= req->n_items)
                return -ERANGE;

        if (ret_level)
                *ret_level = req->items[i].level;
        if (ret_addr)
                *ret_addr = req->items[i].addr;
        if (ret_mode)
                *ret_mode = req->items[i].mode;
        return 0;
}

int sriov_lock_request_get_blocker(const sriov_lock_request *req,
                                   sriov_lock_request **ret_blocker,
                                   enum sriov_lock_level *ret_level,
                                   struct sriov_addr *ret_addr) {
        if (!req)
                return -EINVAL;

        if (req->state != SRIOV_LOCK_REQUEST_WAITING || !req->manager) {
                if (ret_blocker)
                        *ret_blocker = NULL;
                return 0;
        }

        /* Only requests ahead of req can block it: a granted request behind it cannot conflict
         * with it, or it would have been granted past a conflicting earlier waiter. */
        for (struct list *n = req->manager->queue.next; n != &req->queue; n = n->next) {
                sriov_lock_request *o = container_of(n, sriov_lock_request, queue);
                const struct lock_item *it = requests_conflict(req, o);

                if (!it)
                        continue;

                if (ret_blocker)
                        *ret_blocker = o;
                if (ret_level)
                        *ret_level = it->level;
                if (ret_addr)
                        *ret_addr = it->addr;
                return 1;
        }

        /* Once stopped, the blocker may be gone without a grant; before, a waiting request
         * always has one and getting here means a bookkeeping bug. */
        if (req->manager->stopped) {
                if (ret_blocker)
                        *ret_blocker = NULL;
                return 0;
        }
        assert(!"waiting request without blocker");
        return -EUCLEAN;
}

void sriov_lock_manager_get_counts(const sriov_lock_manager *m,
                                   enum sriov_lock_level level, const struct sriov_addr *addr,
                                   struct sriov_lock_counts *ret) {
        if (!ret)
                return;
        *ret = (struct sriov_lock_counts) {};
        if (!m || !addr || level < 0 || level >= _SRIOV_LOCK_LEVEL_MAX)
                return;

        const struct lock_key *k = manager_find_key(m, key_id(level, addr));
        if (!k)
                return;

        *ret = (struct sriov_lock_counts) {
                .held_shared = k->held_shared,
                .held_exclusive = k->held_exclusive,
                .waiting_shared = k->waiting_shared,
                .waiting_exclusive = k->waiting_exclusive,
        };
}

size_t sriov_lock_manager_n_waiting(const sriov_lock_manager *m) {
        return m ? m->n_waiting : 0;
}

size_t sriov_lock_manager_n_granted(const sriov_lock_manager *m) {
        return m ? m->n_granted : 0;
}

sriov_lock_request *sriov_lock_manager_first(const sriov_lock_manager *m) {
        if (!m || !list_linked(&m->queue))
                return NULL;
        return container_of(m->queue.next, sriov_lock_request, queue);
}

sriov_lock_request *sriov_lock_request_next(const sriov_lock_request *req) {
        if (!req || !req->manager || !list_linked(&req->queue))
                return NULL;
        if (req->queue.next == &req->manager->queue)
                return NULL;
        return container_of(req->queue.next, sriov_lock_request, queue);
}
