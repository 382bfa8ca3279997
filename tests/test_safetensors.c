/*
 * test_safetensors.c — the safetensors reader (src/formats/safetensors*.c):
 * a file written by our own writer (tests/hf_util.c) reads back with every
 * dtype, shape and metadata value; handcrafted broken headers each fail with
 * SLM_ERR_FORMAT and a message naming the field; sharded sets find every
 * tensor, and a missing or inconsistent shard is named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fp16.h"
#include "formats/safetensors.h"
#include "hf_util.h"
#include "test.h"

TEST(safetensors_read_back) {
    char path[1024];
    snprintf(path, sizeof path, "%s/t.safetensors", slm_test_tmpdir());
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[4] = {slm_fp32_to_fp16(0.5f), slm_fp32_to_fp16(-2), 0, slm_fp32_to_fp16(7)};
    uint16_t bf = slm_fp32_to_bf16(3.0f);
    int8_t i8[3] = {-1, 0, 1};
    hu_tensor t[5] = {
        {"model.a", "F32", 2, {2, 3}, a, sizeof a},
        {"b.half", "F16", 1, {4}, h, sizeof h},
        {"scalar", "BF16", 0, {0}, &bf, 2},
        {"empty", "F32", 2, {0, 5}, NULL, 0},
        {"ints", "I8", 1, {3}, i8, 3},
    };
    ASSERT(hu_write_safetensors(path, t, 5, "{\"format\":\"pt\",\"note\":\"h\\u00e9\"}"));
    safetensors_file *f = NULL;
    ASSERT(safetensors_open(path, &f) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(f->n_tensors == 5);
    const safetensors_tensor *x = safetensors_find(f, "model.a");
    ASSERT(x && x->dtype == ST_F32 && x->n_dims == 2 && x->shape[0] == 2 && x->shape[1] == 3 && x->nbytes == 24);
    EXPECT(memcmp(x->data, a, 24) == 0);
    x = safetensors_find(f, "b.half");
    ASSERT(x && x->dtype == ST_F16 && x->n_dims == 1 && x->shape[0] == 4);
    EXPECT(slm_fp16_to_fp32(((const uint16_t *)x->data)[1]) == -2.0f);
    x = safetensors_find(f, "scalar");
    ASSERT(x && x->dtype == ST_BF16 && x->n_dims == 0 && x->nbytes == 2);
    x = safetensors_find(f, "empty");
    ASSERT(x && x->nbytes == 0 && x->data == NULL && x->shape[0] == 0);
    x = safetensors_find(f, "ints");
    ASSERT(x && x->dtype == ST_I8 && ((const int8_t *)x->data)[0] == -1);
    EXPECT(safetensors_dtype_slm_type(ST_I8) == -1 && safetensors_dtype_slm_type(ST_BF16) == SLM_TYPE_BF16);
    EXPECT(safetensors_meta(f, "format") && !strcmp(safetensors_meta(f, "format"), "pt"));
    EXPECT(safetensors_meta(f, "note") && !strcmp(safetensors_meta(f, "note"), "h\xc3\xa9"));
    EXPECT(safetensors_find(f, "nope") == NULL && safetensors_meta(f, "nope") == NULL);
    safetensors_close(f);
}

/* header text -> file bytes: u64 length, header, data_size bytes of data */
static uint8_t *make(const char *header, size_t data_size, size_t *size) {
    size_t n = strlen(header);
    *size = 8 + n + data_size;
    uint8_t *b = calloc(1, *size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    return b;
}

static void expect_bad(const uint8_t *b, size_t size, const char *want, int line) {
    safetensors_file *f = NULL;
    slm_status st = safetensors_parse(b, size, "bad.safetensors", &f);
    if (st != SLM_ERR_FORMAT || f || !strstr(slm_last_error(), want) || !strstr(slm_last_error(), "bad.safetensors"))
        slm_test_fail(__FILE__, line, "status %d, message '%s' (wanted '%s')", st, slm_last_error(), want);
    safetensors_close(f);
}

static void bad_header(const char *header, size_t data, const char *want, int line) {
    size_t size;
    uint8_t *b = make(header, data, &size);
    expect_bad(b, size, want, line);
    free(b);
}
#define BAD(h, data, want) bad_header(h, data, want, __LINE__)

TEST(safetensors_malformed) {
    /* framing */
    uint8_t tiny[5] = {1, 2, 3, 4, 5};
    expect_bad(tiny, sizeof tiny, "8-byte header length", __LINE__);
    size_t size;
    uint8_t *b = make("{}", 0, &size);
    b[0] = 200; /* claims 200 header bytes, has 2 */
    expect_bad(b, size, "runs past the end", __LINE__);
    memset(b, 0xff, 8); /* 2^64 - 1 */
    expect_bad(b, size, "runs past the end", __LINE__);
    free(b);
    BAD("[1]     ", 0, "does not start with '{'");
    /* JSON */
    BAD("{\"a\": }", 0, "line 1, column 7");
    BAD("{\"a\": {\"dtype\": \"F32\",}}", 0, "header: line 1");
    BAD("{\"a\": 1}", 0, "tensor 'a': expected an object");
    /* fields */
    BAD("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'dtype' missing");
    BAD("{\"a\": {\"dtype\": \"F17\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "unknown dtype 'F17'");
    BAD("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, "'shape' missing");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4, "shape[0] is not an integer");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4, "shape[0]");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4,
        "9 dimensions");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, "'data_offsets' must be");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, "'data_offsets' must be");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4, "end before begin");
    /* consistency */
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 8, "needs 8");
    BAD("{\"a\": {\"dtype\": \"F16\", \"shape\": [3, 2], \"data_offsets\": [0, 8]}}", 8, "hold 8 bytes but F16");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, "past the end of the data");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [12, 16]}}", 8, "past the end of the data");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
        " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
        12, "overlap");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
        " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
        8, "appears twice");
    /* huge numbers */
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1e300], \"data_offsets\": [0, 4]}}", 4, "shape[0]");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 18446744073709551616]}}", 4,
        "data_offsets");
    BAD("{\"a\": {\"dtype\": \"F64\", \"shape\": [9007199254740992, 9007199254740992], \"data_offsets\": [0, 8]}}", 8,
        "overflows");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]}}", 8,
        "overflows");
    BAD("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [9007199254740988, 9007199254740992]}}", 8,
        "past the end");
    /* metadata */
    BAD("{\"__metadata__\": [1]}", 0, "'__metadata__' must be an object");
    BAD("{\"__metadata__\": {\"k\": 3}}", 0, "__metadata__ 'k' must be a string");
}

TEST(safetensors_edge_cases) {
    size_t size;
    safetensors_file *f = NULL;
    /* an empty header, trailing spaces, a gap between tensors, trailing bytes: accepted */
    uint8_t *b = make("{}      ", 0, &size);
    EXPECT(safetensors_parse(b, size, "e", &f) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(f && f->n_tensors == 0);
    safetensors_close(f);
    free(b);
    b = make("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
             12, &size);
    EXPECT(safetensors_parse(b, size, "gap", &f) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(f && f->n_tensors == 2 && safetensors_find(f, "b")->data == b + size - 12 + 4);
    safetensors_close(f);
    free(b);
    /* unknown members of a tensor entry are ignored, zero-size tensors may share an offset */
    b = make("{\"a\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0], \"x\": 1},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [1, 0], \"data_offsets\": [0, 0]}}",
             0, &size);
    EXPECT(safetensors_parse(b, size, "zero", &f) == SLM_OK, "(%s)", slm_last_error());
    safetensors_close(f);
    free(b);
    /* a file that is not there */
    char path[1024];
    snprintf(path, sizeof path, "%s/none.safetensors", slm_test_tmpdir());
    EXPECT(safetensors_open(path, &f) == SLM_ERR_IO && strstr(slm_last_error(), "none.safetensors"));
}

/* ------------------------------------------------------------------------ */
/* Sets                                                                       */
/* ------------------------------------------------------------------------ */

static void write_shard(const char *dir, const char *name, const char *t1, const char *t2) {
    static const float v[2] = {1, 2};
    hu_tensor t[2] = {{"", "F32", 1, {1}, v, 4}, {"", "F32", 1, {1}, v + 1, 4}};
    snprintf(t[0].name, sizeof t[0].name, "%s", t1);
    if (t2) snprintf(t[1].name, sizeof t[1].name, "%s", t2);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hu_write_safetensors(path, t, t2 ? 2 : 1, NULL);
}

static void write_index(const char *dir, const char *body) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    hu_write_text(path, body);
}

TEST(safetensors_sharded_set) {
    const char *dir = slm_test_tmpdir();
    write_shard(dir, "s1.safetensors", "x", "y");
    write_shard(dir, "s2.safetensors", "z", NULL);
    write_index(dir, "{\"metadata\": {}, \"weight_map\": {\"x\": \"s1.safetensors\", \"y\": \"s1.safetensors\","
                     " \"z\": \"s2.safetensors\"}}");
    safetensors_set *s = NULL;
    ASSERT(safetensors_set_open(dir, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s->n_files == 2 && s->n_entries == 3);
    const safetensors_entry *e = safetensors_set_find(s, "z");
    EXPECT(e && strstr(e->file->path, "s2.safetensors") && ((const float *)e->t->data)[0] == 1.0f);
    EXPECT(safetensors_set_find(s, "y") && !safetensors_set_find(s, "w"));
    safetensors_set_close(s);

    /* a shard that is not there: named, with the index */
    write_index(dir, "{\"weight_map\": {\"x\": \"s1.safetensors\", \"y\": \"s1.safetensors\","
                     " \"z\": \"s3.safetensors\"}}");
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_IO && strstr(slm_last_error(), "s3.safetensors") &&
               strstr(slm_last_error(), "missing shard") && strstr(slm_last_error(), "index.json"),
           "(%s)", slm_last_error());
    /* a tensor the map puts in the wrong shard */
    write_index(dir, "{\"weight_map\": {\"x\": \"s2.safetensors\", \"z\": \"s2.safetensors\"}}");
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_FORMAT && strstr(slm_last_error(), "'x'"), "(%s)",
           slm_last_error());
    /* a path outside the folder */
    write_index(dir, "{\"weight_map\": {\"x\": \"../s1.safetensors\"}}");
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_FORMAT && strstr(slm_last_error(), "weight_map['x']"), "(%s)",
           slm_last_error());
    /* no weight_map */
    write_index(dir, "{\"metadata\": {}}");
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_FORMAT && strstr(slm_last_error(), "weight_map"));
    /* a tensor in two shards */
    write_shard(dir, "s2.safetensors", "x", NULL);
    write_index(dir, "{\"weight_map\": {\"x\": \"s1.safetensors\", \"y\": \"s2.safetensors\"}}");
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_FORMAT && strstr(slm_last_error(), "two shards"), "(%s)",
           slm_last_error());
    /* no index: two files are ambiguous, one is taken */
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    remove(p);
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_FORMAT && strstr(slm_last_error(), "2 .safetensors files"));
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    remove(p);
    EXPECT(safetensors_set_open(dir, &s) == SLM_OK && s->n_entries == 2, "(%s)", slm_last_error());
    safetensors_set_close(s);
    snprintf(p, sizeof p, "%s/s1.safetensors", dir);
    remove(p);
    EXPECT(safetensors_set_open(dir, &s) == SLM_ERR_IO && strstr(slm_last_error(), "no model.safetensors"));
}
