/*
 * Offline inspection of a buffer directory for `auditshipctl buffer` and
 * `auditshipd --check`: stat (segments, record counts, cursors and their
 * lag), check (integrity, one line per problem) and scan (every record in
 * order).  Reads only: never truncates, deletes or rewrites anything, so it
 * is safe next to a running agent (it then sees a slightly stale picture).
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "buffer.h"
#include "segment.h"

struct offline_seg {
    uint64_t id, size;
    uint64_t events, deadletters, states, internal;
    uint64_t damaged;    /* damaged regions and undecodable frames */
    uint64_t torn_bytes; /* bytes at the end holding no valid frame */
    uint64_t torn_at;
    bool head_ok;
    int err;
};

struct offline_cursor {
    char *name;
    bool valid;
    struct as_bpos pos;
    uint64_t lag_n, lag_bytes;
};

struct offline {
    const char *dir;
    struct offline_seg *segs;
    size_t nsegs;
    struct offline_cursor *cursors;
    size_t ncursors;
    int (*cb)(void *arg, const struct as_brec *r, const struct as_bpos *at);
    void *arg;
};

static bool
offline_before(const struct as_bpos *a, uint64_t seg, uint64_t off)
{
    return a->segment < seg || (a->segment == seg && a->offset <= off);
}

static void
offline_cursors(struct offline *o)
{
    char *cdir = NULL, *path = NULL;
    unsigned char raw[AS__CURSOR_SIZE + 1];
    struct dirent *de;
    DIR *d;
    ssize_t n;
    size_t cap = 0;
    int fd;

    as_asprintf(&cdir, "%s/cursors", o->dir);
    if ((d = opendir(cdir)) == NULL) {
        free(cdir);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        struct offline_cursor *c;

        if (de->d_name[0] == '.' ||
            (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0)) {
            continue;
        }
        if (o->ncursors == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            o->cursors = as_reallocarray(o->cursors, cap, sizeof(*c));
        }
        c = &o->cursors[o->ncursors++];
        memset(c, 0, sizeof(*c));
        c->name = as_strdup(de->d_name);
        as_asprintf(&path, "%s/%s", cdir, de->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            n = read(fd, raw, sizeof(raw));
            close(fd);
            c->valid =
                n > 0 && as__cursor_decode(raw, (size_t) n, &c->pos, NULL) == 0;
        }
        free(path);
        path = NULL;
    }
    closedir(d);
    free(cdir);
}

static int
offline_seg(struct offline *o, struct offline_seg *s)
{
    struct as__reader rd;
    struct as__frame f;
    struct as_brec br;
    struct as_bpos at;
    uint64_t pos = 0, skipped = 0, before;
    bool in_head = true;
    char path[4096];
    int fd, r;

    if ((r = as__seg_path(path, sizeof(path), o->dir, s->id)) != 0) {
        return r;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return -errno;
    }
    as__reader_init(&rd, fd, s->size);
    for (;;) {
        before = skipped;
        if ((r = as__reader_next(&rd, &pos, &f, &skipped)) != AS__RD_OK) {
            break;
        }
        if (skipped != before) {
            in_head = false;
        }
        if (as__brec_decode(f.body, f.len, &br) != 0) {
            s->damaged++;
            in_head = false;
            continue;
        }
        switch (br.type) {
        case AS_BREC_EVENT:
            s->events++;
            break;
        case AS_BREC_DEADLETTER:
            s->deadletters++;
            break;
        case AS_BREC_STATE:
            s->states++;
            break;
        case AS__BREC_SNAPEND:
            s->internal++;
            if (in_head && br.seq == s->id) {
                s->head_ok = true;
            }
            in_head = false;
            continue;
        default:
            s->damaged++;
            in_head = false;
            continue;
        }
        if (br.type != AS_BREC_STATE) {
            in_head = false;
            for (size_t i = 0; i < o->ncursors; i++) {
                if (offline_before(&o->cursors[i].pos, s->id, f.off)) {
                    o->cursors[i].lag_n++;
                    o->cursors[i].lag_bytes += f.end - f.off;
                }
            }
        }
        if (o->cb != NULL) {
            at.segment = s->id;
            at.offset = f.off;
            if ((r = o->cb(o->arg, &br, &at)) != 0) {
                break;
            }
        }
    }
    s->damaged += skipped;
    if (r == AS__RD_TORN) {
        s->torn_at = pos;
        s->torn_bytes = s->size - pos;
        r = 0;
    }
    as__reader_free(&rd);
    close(fd);
    return r;
}

static void
offline_free(struct offline *o)
{
    for (size_t i = 0; i < o->ncursors; i++) {
        free(o->cursors[i].name);
    }
    free(o->cursors);
    free(o->segs);
}

static int
offline_walk(struct offline *o)
{
    struct as__segref *refs = NULL;
    size_t n = 0;
    int r;

    offline_cursors(o);
    if ((r = as__seg_list(o->dir, &refs, &n)) != 0) {
        return r;
    }
    o->segs = as_calloc(n + 1, sizeof(*o->segs));
    o->nsegs = n;
    for (size_t i = 0; i < n; i++) {
        o->segs[i].id = refs[i].id;
        o->segs[i].size = refs[i].size;
    }
    free(refs);
    for (size_t i = 0; i < o->nsegs; i++) {
        r = offline_seg(o, &o->segs[i]);
        if (r < 0) {
            o->segs[i].err = r;
        } else if (r > 0) {
            return r; /* the scan callback stopped us */
        }
    }
    return 0;
}

int
as_buffer_stat(const char *dir, FILE *out)
{
    struct offline o;
    uint64_t bytes = 0;
    int r;

    memset(&o, 0, sizeof(o));
    o.dir = dir;
    if ((r = offline_walk(&o)) != 0) {
        goto out;
    }
    for (size_t i = 0; i < o.nsegs; i++) {
        bytes += o.segs[i].size;
    }
    fprintf(out, "buffer %s: %zu segments, %" PRIu64 " bytes\n", dir, o.nsegs,
            bytes);
    for (size_t i = 0; i < o.nsegs; i++) {
        struct offline_seg *s = &o.segs[i];

        fprintf(out,
                "segment %016" PRIx64 " size %" PRIu64 " events %" PRIu64
                " deadletters %" PRIu64 " states %" PRIu64 " snapshot %s"
                " damaged %" PRIu64 " torn %" PRIu64 "%s%s\n",
                s->id, s->size, s->events, s->deadletters, s->states,
                s->head_ok ? "ok" : "missing", s->damaged, s->torn_bytes,
                s->err != 0 ? " error " : "",
                s->err != 0 ? as_strerror(s->err) : "");
    }
    for (size_t i = 0; i < o.ncursors; i++) {
        struct offline_cursor *c = &o.cursors[i];

        if (!c->valid) {
            fprintf(out, "cursor %s damaged (starts at the oldest record)\n",
                    c->name);
            continue;
        }
        fprintf(out,
                "cursor %s at %016" PRIx64 ":%" PRIu64 " lag %" PRIu64
                " records %" PRIu64 " bytes\n",
                c->name, c->pos.segment, c->pos.offset, c->lag_n, c->lag_bytes);
    }
    r = 0;
out:
    offline_free(&o);
    return r;
}

int
as_buffer_check(const char *dir, FILE *out)
{
    struct offline o;
    size_t problems = 0;
    int r;

    memset(&o, 0, sizeof(o));
    o.dir = dir;
    if ((r = offline_walk(&o)) != 0) {
        fprintf(out, "%s: %s\n", dir, as_strerror(r));
        goto out;
    }
    for (size_t i = 0; i < o.nsegs; i++) {
        struct offline_seg *s = &o.segs[i];

        if (s->err != 0) {
            fprintf(out, "segment %016" PRIx64 ": %s\n", s->id,
                    as_strerror(s->err));
            problems++;
        }
        if (s->damaged > 0) {
            fprintf(out,
                    "segment %016" PRIx64 ": %" PRIu64
                    " damaged region(s) skipped\n",
                    s->id, s->damaged);
            problems++;
        }
        if (s->torn_bytes > 0) {
            fprintf(out,
                    "segment %016" PRIx64 ": torn tail of %" PRIu64
                    " bytes at offset %" PRIu64 "\n",
                    s->id, s->torn_bytes, s->torn_at);
            problems++;
        }
        if (!s->head_ok) {
            fprintf(out,
                    "segment %016" PRIx64 ": snapshot missing or "
                    "damaged\n",
                    s->id);
            problems++;
        }
    }
    for (size_t i = 0; i < o.ncursors; i++) {
        if (!o.cursors[i].valid) {
            fprintf(out, "cursor %s: damaged file\n", o.cursors[i].name);
            problems++;
        }
    }
    r = problems > 0 ? AS_ERR_CORRUPT : 0;
out:
    offline_free(&o);
    return r;
}

int
as_buffer_scan(const char *dir,
               int (*cb)(void *arg, const struct as_brec *r,
                         const struct as_bpos *at),
               void *arg)
{
    struct offline o;
    int r;

    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.cb = cb;
    o.arg = arg;
    r = offline_walk(&o);
    offline_free(&o);
    return r;
}
