/*
 * test_gguf.c — the GGUF reader and writer: a round trip of every value type
 * (nested arrays included), and handcrafted broken files, each of which must
 * give one clear error naming the problem — never a crash, never success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"
#include "util.h"

/* ---- a little-endian byte builder for handcrafted files ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} bb;

static void bb_put(bb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void bb_u32(bb *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bb_put(b, x, 4);
}
static void bb_u64(bb *b, uint64_t v) {
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}
static void bb_str(bb *b, const char *s) {
    bb_u64(b, strlen(s));
    bb_put(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t align) {
    uint8_t z = 0;
    while (b->n % align) bb_put(b, &z, 1);
}

/* A valid file: 1 kv (general.architecture = "llama"), 2 F32 tensors of
 * 8 floats each at offsets 0 and 32. Parameters let a test break one thing. */
typedef struct {
    const char *magic;
    uint32_t version;
    uint64_t n_tensors, n_kv;
    uint32_t kv_type;
    uint32_t n_dims;
    uint64_t ne0;
    uint32_t ttype;
    uint64_t off1;
    size_t data_bytes;
} spec;

static spec good_spec(void) {
    spec s = {"GGUF", 3, 2, 1, GGUF_TYPE_STRING, 1, 8, SLM_TYPE_F32, 32, 64};
    return s;
}

static bb build(const spec *s) {
    bb b = {0};
    bb_put(&b, s->magic, 4);
    bb_u32(&b, s->version);
    bb_u64(&b, s->n_tensors);
    bb_u64(&b, s->n_kv);
    bb_str(&b, "general.architecture");
    bb_u32(&b, s->kv_type);
    bb_str(&b, "llama");
    bb_str(&b, "a");
    bb_u32(&b, s->n_dims);
    for (uint32_t d = 0; d < s->n_dims && d < 8; d++) bb_u64(&b, d == 0 ? s->ne0 : 1);
    bb_u32(&b, s->ttype);
    bb_u64(&b, 0);
    bb_str(&b, "b");
    bb_u32(&b, 1);
    bb_u64(&b, 8);
    bb_u32(&b, SLM_TYPE_F32);
    bb_u64(&b, s->off1);
    bb_pad(&b, 32);
    for (size_t i = 0; i < s->data_bytes; i++) {
        uint8_t z = (uint8_t)i;
        bb_put(&b, &z, 1);
    }
    return b;
}

/* Parses b; expects failure with a message containing want. */
static void expect_fail(const bb *b, const char *want, const char *what) {
    gguf_file *g = NULL;
    slm_status st = gguf_parse(b->p, b->n, "broken.gguf", &g);
    EXPECT(st != SLM_OK && g == NULL, "(%s: parsed)", what);
    if (st != SLM_OK) {
        const char *msg = slm_last_error();
        EXPECT(strstr(msg, "broken.gguf") != NULL, "(%s: message lacks the file name: %s)", what, msg);
        EXPECT(strstr(msg, want) != NULL, "(%s: message '%s' lacks '%s')", what, msg, want);
        EXPECT(strchr(msg, '\n') == NULL, "(%s: message has several lines)", what);
    }
    gguf_close(g);
}

TEST(gguf_handcrafted_good_file_parses) {
    spec s = good_spec();
    bb b = build(&s);
    gguf_file *g = NULL;
    ASSERT(gguf_parse(b.p, b.n, "good.gguf", &g) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(g->version == 3 && g->n_kv == 1 && g->n_tensors == 2);
    EXPECT(!strcmp(gguf_get_str(g, "general.architecture"), "llama"));
    const gguf_tensor *t = gguf_find_tensor(g, "b");
    ASSERT(t != NULL);
    EXPECT(t->nbytes == 32 && t->data == g->base + g->data_offset + 32);
    gguf_close(g);
    free(b.p);
}

TEST(gguf_every_truncation_fails_cleanly) {
    spec s = good_spec();
    bb b = build(&s);
    for (size_t n = 0; n < b.n; n++) {
        gguf_file *g = NULL;
        /* a copy of exactly n bytes, so ASan sees any read past the end */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, b.p, n);
        slm_status st = gguf_parse(cut, n, "cut.gguf", &g);
        EXPECT(st != SLM_OK, "(prefix of %zu bytes parsed)", n);
        gguf_close(g);
        free(cut);
    }
    free(b.p);
}

TEST(gguf_broken_headers) {
    spec s;
    bb b;
    s = good_spec(); s.magic = "GGUX"; b = build(&s); expect_fail(&b, "magic", "bad magic"); free(b.p);
    s = good_spec(); s.version = 1; b = build(&s); expect_fail(&b, "version 1", "version 1"); free(b.p);
    s = good_spec(); s.version = 4; b = build(&s); expect_fail(&b, "version 4", "version 4"); free(b.p);
    s = good_spec(); s.n_tensors = 1ULL << 62; b = build(&s); expect_fail(&b, "tensor count", "2^62 tensors"); free(b.p);
    s = good_spec(); s.n_kv = 1ULL << 62; b = build(&s); expect_fail(&b, "metadata count", "2^62 keys"); free(b.p);
    s = good_spec(); s.kv_type = 77; b = build(&s); expect_fail(&b, "unknown value type", "kv type"); free(b.p);
    s = good_spec(); s.n_dims = 5; b = build(&s); expect_fail(&b, "n_dims", "5 dims"); free(b.p);
    s = good_spec(); s.ne0 = 0; b = build(&s); expect_fail(&b, "dimension", "zero dim"); free(b.p);
    s = good_spec(); s.ttype = 99; b = build(&s); expect_fail(&b, "unknown tensor type", "type 99"); free(b.p);
    s = good_spec(); s.ttype = SLM_TYPE_Q4_0; b = build(&s); expect_fail(&b, "block size", "row not whole blocks"); free(b.p);
    s = good_spec(); s.data_bytes = 40; b = build(&s); expect_fail(&b, "past the end", "data past end"); free(b.p);
    s = good_spec(); s.off1 = 16; b = build(&s); expect_fail(&b, "alignment", "misaligned"); free(b.p);
    s = good_spec(); s.off1 = 0; b = build(&s); expect_fail(&b, "overlap", "overlap"); free(b.p);
    s = good_spec(); s.ne0 = 1ULL << 61; b = build(&s); expect_fail(&b, "b", "huge tensor"); free(b.p);
}

TEST(gguf_huge_string_and_array_lengths) {
    bb b = {0};
    bb_put(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 1);
    bb_u64(&b, 1ULL << 60); /* key length */
    for (int i = 0; i < 8; i++) bb_u64(&b, 0);
    expect_fail(&b, "string length", "key length");
    free(b.p);
    b = (bb){0};
    bb_put(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 1);
    bb_str(&b, "k");
    bb_u32(&b, GGUF_TYPE_ARRAY);
    bb_u32(&b, GGUF_TYPE_UINT32);
    bb_u64(&b, 1ULL << 61);
    expect_fail(&b, "array", "array count");
    free(b.p);
    b = (bb){0};
    bb_put(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 1);
    bb_str(&b, "k");
    bb_u32(&b, GGUF_TYPE_ARRAY);
    bb_u32(&b, GGUF_TYPE_STRING);
    bb_u64(&b, 1ULL << 40);
    expect_fail(&b, "array count", "string array count");
    free(b.p);
    /* arrays nested past the limit */
    b = (bb){0};
    bb_put(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 1);
    bb_str(&b, "deep");
    bb_u32(&b, GGUF_TYPE_ARRAY);
    for (int i = 0; i < 20; i++) {
        bb_u32(&b, GGUF_TYPE_ARRAY);
        bb_u64(&b, 1);
    }
    bb_u32(&b, GGUF_TYPE_UINT8);
    bb_u64(&b, 0);
    expect_fail(&b, "nested", "deep nesting");
    free(b.p);
}

TEST(gguf_writer_round_trip_every_type) {
    char path[600];
    snprintf(path, sizeof path, "%s/rt.gguf", slm_test_tmpdir());
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u32(w, "u32", 4000000000u);
    gguf_writer_set_i32(w, "i32", -7);
    gguf_writer_set_u64(w, "u64", 1ULL << 40);
    gguf_writer_set_f32(w, "f32", 0.25f);
    gguf_writer_set_bool(w, "bool", true);
    gguf_writer_set_str(w, "str", "héllo");
    gguf_writer_set_str(w, "str", "replaced");
    const char *strs[] = {"a", "", "ccc"};
    gguf_writer_set_arr_str(w, "strs", strs, 3);
    int16_t i16[] = {-1, 2, -3};
    gguf_writer_set_arr(w, "i16s", GGUF_TYPE_INT16, i16, 3);
    double f64[] = {1.5, -2.25};
    gguf_writer_set_arr(w, "f64s", GGUF_TYPE_FLOAT64, f64, 2);
    uint8_t bools[] = {1, 0};
    gguf_writer_set_arr(w, "bools", GGUF_TYPE_BOOL, bools, 2);
    float data[64];
    for (int i = 0; i < 64; i++) data[i] = (float)i;
    int64_t ne[2] = {32, 2};
    ASSERT(gguf_writer_add_tensor(w, "t0", SLM_TYPE_F32, 2, ne, data, sizeof data) == SLM_OK);
    int64_t ne1[1] = {5};
    ASSERT(gguf_writer_add_tensor(w, "t1", SLM_TYPE_F32, 1, ne1, data, 20) == SLM_OK);
    EXPECT(gguf_writer_add_tensor(w, "t1", SLM_TYPE_F32, 1, ne1, data, 20) != SLM_OK, "(duplicate name accepted)");
    EXPECT(gguf_writer_add_tensor(w, "bad", SLM_TYPE_F32, 1, ne1, data, 21) != SLM_OK, "(wrong size accepted)");
    ASSERT(gguf_writer_write(w, path) == SLM_OK, "(%s)", slm_last_error());

    /* a nested array, copied through a reader value */
    gguf_file *g = NULL;
    ASSERT(gguf_open(path, &g) == SLM_OK, "(%s)", slm_last_error());
    gguf_writer *w2 = gguf_writer_new();
    gguf_value nested = {.type = GGUF_TYPE_ARRAY};
    nested.v.arr.elem_type = GGUF_TYPE_ARRAY;
    nested.v.arr.n = 2;
    gguf_value items[2];
    items[0] = gguf_find_kv(g, "strs")->value;
    items[1] = gguf_find_kv(g, "i16s")->value;
    nested.v.arr.items = items;
    for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_set_value(w2, g->kv[i].key, &g->kv[i].value);
    gguf_writer_set_value(w2, "nested", &nested);
    char path2[700];
    snprintf(path2, sizeof path2, "%s.2", path);
    ASSERT(gguf_writer_write(w2, path2) == SLM_OK);
    gguf_writer_free(w2);
    gguf_close(g);

    ASSERT(gguf_open(path2, &g) == SLM_OK, "(%s)", slm_last_error());
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    bool b;
    EXPECT(gguf_get_u32(g, "u32", &u32) && u32 == 4000000000u);
    EXPECT(!gguf_get_i32(g, "u32", &i32), "(u32 4e9 must not fit i32)");
    EXPECT(gguf_get_i32(g, "i32", &i32) && i32 == -7);
    EXPECT(!gguf_get_u32(g, "i32", &u32), "(negative must not fit u32)");
    EXPECT(gguf_get_u64(g, "u64", &u64) && u64 == 1ULL << 40);
    EXPECT(gguf_get_f32(g, "f32", &f) && f == 0.25f);
    EXPECT(gguf_get_bool(g, "bool", &b) && b);
    EXPECT(gguf_get_str(g, "str") && !strcmp(gguf_get_str(g, "str"), "replaced"));
    const gguf_value *sa = gguf_get_arr(g, "strs", GGUF_TYPE_STRING);
    ASSERT(sa && sa->v.arr.n == 3);
    EXPECT(!strcmp(sa->v.arr.items[2].v.str.ptr, "ccc") && sa->v.arr.items[1].v.str.len == 0);
    const gguf_value *ia = gguf_get_arr(g, "i16s", GGUF_TYPE_INT16);
    ASSERT(ia && ia->v.arr.n == 3);
    EXPECT(gguf_arr_i64(ia, 2) == -3);
    const gguf_value *fa = gguf_get_arr(g, "f64s", GGUF_TYPE_FLOAT64);
    ASSERT(fa != NULL);
    EXPECT(gguf_arr_f32(fa, 1) == -2.25f);
    const gguf_kv *nk = gguf_find_kv(g, "nested");
    ASSERT(nk && nk->value.type == GGUF_TYPE_ARRAY && nk->value.v.arr.elem_type == GGUF_TYPE_ARRAY);
    ASSERT(nk->value.v.arr.n == 2);
    EXPECT(nk->value.v.arr.items[0].v.arr.elem_type == GGUF_TYPE_STRING && nk->value.v.arr.items[0].v.arr.n == 3);
    EXPECT(gguf_arr_i64(&nk->value.v.arr.items[1], 1) == 2);
    EXPECT(gguf_find_tensor(g, "t0") == NULL, "(second file has no tensors)");
    gguf_close(g);

    ASSERT(gguf_open(path, &g) == SLM_OK);
    const gguf_tensor *t0 = gguf_find_tensor(g, "t0"), *t1 = gguf_find_tensor(g, "t1");
    ASSERT(t0 && t1);
    EXPECT(t0->ne[0] == 32 && t0->ne[1] == 2 && t0->n_dims == 2);
    EXPECT(memcmp(t0->data, data, sizeof data) == 0 && memcmp(t1->data, data, 20) == 0);
    EXPECT(t1->offset % 32 == 0 && (size_t)(t1->data - g->base) % 32 == 0);
    gguf_close(g);
    gguf_writer_free(w);
    /* no temp file left behind */
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    EXPECT(access(tmp, F_OK) != 0);
}

TEST(gguf_writer_failure_keeps_old_file) {
    char path[600];
    snprintf(path, sizeof path, "%s/keep.gguf", slm_test_tmpdir());
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    ASSERT(gguf_writer_write(w, path) == SLM_OK);
    gguf_writer_free(w);
    size_t n0;
    char *before = tu_read_file(path, &n0);
    /* writing into a directory that does not exist fails, and the old file stays */
    w = gguf_writer_new();
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.gguf", slm_test_tmpdir());
    EXPECT(gguf_writer_write(w, bad) != SLM_OK);
    gguf_writer_free(w);
    size_t n1;
    char *after = tu_read_file(path, &n1);
    EXPECT(n0 == n1 && before && after && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}

/* Model-level checks: keys and shapes a model needs. */
static void write_model_missing(const char *path, const char *drop_key, int64_t bad_rows) {
    gguf_file *g = NULL;
    if (gguf_open(slm_test_data("models/llama/model.gguf"), &g) != SLM_OK) return;
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (!drop_key || strcmp(g->kv[i].key, drop_key)) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        uint64_t nbytes = t->nbytes;
        if (bad_rows && !strcmp(t->name, "blk.1.attn_k.weight")) {
            ne[1] = bad_rows;
            nbytes = (uint64_t)(ne[0] * ne[1]) * 4;
        }
        gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, ne, t->data, nbytes);
    }
    gguf_writer_write(w, path);
    gguf_writer_free(w);
    gguf_close(g);
}

static void expect_load_error(const char *path, const char *want) {
    slm_model *m = NULL;
    slm_status st = slm_model_load(path, NULL, &m);
    EXPECT(st != SLM_OK && m == NULL, "(%s loaded)", path);
    EXPECT(strstr(slm_last_error(), want) != NULL, "(message '%s' lacks '%s')", slm_last_error(), want);
    slm_model_free(m);
}

TEST(model_missing_keys_and_bad_shapes) {
    char p[700];
    snprintf(p, sizeof p, "%s/nohead.gguf", slm_test_tmpdir());
    write_model_missing(p, "llama.attention.head_count", 0);
    expect_load_error(p, "llama.attention.head_count");
    snprintf(p, sizeof p, "%s/noarch.gguf", slm_test_tmpdir());
    write_model_missing(p, "general.architecture", 0);
    expect_load_error(p, "general.architecture");
    snprintf(p, sizeof p, "%s/shape.gguf", slm_test_tmpdir());
    write_model_missing(p, NULL, 32);
    expect_load_error(p, "blk.1.attn_k.weight");
    expect_load_error("/nonexistent/model.gguf", "cannot open");
}
