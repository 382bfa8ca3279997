/*
 * docs.c — reading the documents of a corpus from .txt, .jsonl and .json
 * files (see docs.h).
 */
#include "train/docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/mmap.h"
#include "tokenizer/utf8.h"

#define ARENA_BLOCK (1u << 20)

struct slm_doc_storage {
    slm_file_map *maps;
    int n_maps, cap_maps;
    slm_json **jsons;
    int n_jsons, cap_jsons;
    char **blocks; /* arena: copies of .jsonl strings */
    int n_blocks, cap_blocks;
    size_t block_used, block_size;
};

static bool grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

static slm_status nomem(const char *path) { return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path); }

static slm_status add_doc(slm_doc_set *set, const char *text, size_t len, const char *path) {
    /* trim white space at both ends */
    while (len && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (set->n == set->cap) {
        int64_t nc = set->cap ? set->cap * 2 : 1024;
        slm_doc *d = realloc(set->docs, (size_t)nc * sizeof *d);
        if (!d) return nomem(path);
        set->docs = d;
        set->cap = nc;
    }
    set->docs[set->n].text = len ? text : "";
    set->docs[set->n].len = len;
    set->n++;
    return SLM_OK;
}

/* A copy of s in the arena. */
static const char *arena_copy(slm_doc_storage *s, const char *src, size_t len) {
    if (!s->n_blocks || s->block_used + len > s->block_size) {
        size_t size = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        if (!grow((void **)&s->blocks, &s->cap_blocks, s->n_blocks + 1, sizeof *s->blocks)) return NULL;
        char *b = malloc(size ? size : 1);
        if (!b) return NULL;
        s->blocks[s->n_blocks++] = b;
        s->block_used = 0;
        s->block_size = size;
    }
    char *dst = s->blocks[s->n_blocks - 1] + s->block_used;
    memcpy(dst, src, len);
    s->block_used += len;
    return dst;
}

int64_t slm_utf8_first_invalid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int k = slm_utf8_check(s + i, n - i);
        if (k <= 0) return (int64_t)i;
        i += (size_t)k;
    }
    return -1;
}

/* ======================================================================== */
/* Text files                                                                */
/* ======================================================================== */

/* True if the line [a, b) is blank, or (want_sep) is "<|endoftext|>"
 * with optional surrounding white space. */
static bool is_separator(const char *a, const char *b, bool want_sep) {
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
    if (!want_sep) return a == b;
    static const char sep[] = "<|endoftext|>";
    return (size_t)(b - a) == sizeof sep - 1 && !memcmp(a, sep, sizeof sep - 1);
}

static slm_status read_text(slm_doc_set *set, const char *path, const uint8_t *data, size_t n, bool blank_line_docs) {
    const char *s = (const char *)data, *end = s + n, *doc = s;
    for (const char *line = s; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        if (is_separator(line, le, !blank_line_docs)) {
            /* a segment of only white space is not a document */
            const char *p = doc;
            while (p < line && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
            if (p < line) {
                slm_status st = add_doc(set, doc, (size_t)(line - doc), path);
                if (st != SLM_OK) return st;
            }
            doc = nl ? nl + 1 : end;
        }
        line = nl ? nl + 1 : end;
    }
    const char *p = doc;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p < end) return add_doc(set, doc, (size_t)(end - doc), path);
    return SLM_OK;
}

/* ======================================================================== */
/* JSON                                                                      */
/* ======================================================================== */

/* The text of one record: a string, or an object's field (or "story"). */
static const char *record_text(const slm_json_node *rec, const char *field, size_t *len) {
    if (slm_json_is(rec, SLM_JSON_STRING)) return slm_json_str(rec, len);
    const char *t = slm_json_get_str(rec, field, len);
    if (!t) t = slm_json_get_str(rec, "story", len);
    return t;
}

static slm_status read_json(slm_doc_set *set, const char *path, const uint8_t *data, size_t n, const char *field) {
    slm_json *doc = NULL;
    slm_status st = slm_json_parse((const char *)data, n, path, &doc);
    if (st != SLM_OK) return st;
    slm_doc_storage *s = set->storage;
    if (!grow((void **)&s->jsons, &s->cap_jsons, s->n_jsons + 1, sizeof *s->jsons)) {
        slm_json_free(doc);
        return nomem(path);
    }
    s->jsons[s->n_jsons++] = doc;
    const slm_json_node *root = slm_json_root(doc);
    if (!slm_json_is(root, SLM_JSON_ARRAY))
        return slm_err(SLM_ERR_FORMAT, "%s: expected a JSON array of records (TinyStories' shards), found %s", path,
                       slm_json_type_name(slm_json_typeof(root)));
    for (const slm_json_node *r = slm_json_child(root); r; r = slm_json_next(r)) {
        size_t len = 0;
        const char *t = record_text(r, field, &len);
        st = add_doc(set, t ? t : "", t ? len : 0, path);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

static slm_status read_jsonl(slm_doc_set *set, const char *path, const uint8_t *data, size_t n, const char *field) {
    const char *s = (const char *)data, *end = s + n;
    int64_t line_no = 0;
    for (const char *line = s; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        line_no++;
        const char *p = line;
        while (p < le && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p < le) {
            char name[1100];
            snprintf(name, sizeof name, "%s:%lld", path, (long long)line_no);
            slm_json *doc = NULL;
            slm_status st = slm_json_parse(line, (size_t)(le - line), name, &doc);
            if (st != SLM_OK) return st;
            size_t len = 0;
            const char *t = record_text(slm_json_root(doc), field, &len);
            const char *copy = t ? arena_copy(set->storage, t, len) : "";
            slm_json_free(doc);
            if (!copy) return nomem(path);
            st = add_doc(set, copy, t ? len : 0, path);
            if (st != SLM_OK) return st;
        }
        line = nl ? nl + 1 : end;
    }
    return SLM_OK;
}

/* ======================================================================== */
/* Entry points                                                              */
/* ======================================================================== */

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

slm_status slm_docs_read(slm_doc_set *set, const char *path, const char *field, bool blank_line_docs) {
    if (!set->storage) {
        set->storage = calloc(1, sizeof *set->storage);
        if (!set->storage) return nomem(path);
    }
    slm_doc_storage *s = set->storage;
    if (!grow((void **)&s->maps, &s->cap_maps, s->n_maps + 1, sizeof *s->maps)) return nomem(path);
    slm_file_map *map = &s->maps[s->n_maps];
    slm_status st = slm_map_file(path, map);
    if (st != SLM_OK) return st;
    s->n_maps++;
    int64_t bad = slm_utf8_first_invalid(map->data, map->size);
    if (bad >= 0)
        return slm_err(SLM_ERR_FORMAT, "%s: not UTF-8 text: invalid byte 0x%02x at offset %lld (convert the file to "
                       "UTF-8 first)", path, map->data[bad], (long long)bad);
    const char *f = field && *field ? field : "text";
    if (ends_with(path, ".jsonl")) return read_jsonl(set, path, map->data, map->size, f);
    if (ends_with(path, ".json")) return read_json(set, path, map->data, map->size, f);
    return read_text(set, path, map->data, map->size, blank_line_docs);
}

void slm_docs_free(slm_doc_set *set) {
    slm_doc_storage *s = set->storage;
    if (s) {
        for (int i = 0; i < s->n_maps; i++) slm_unmap_file(&s->maps[i]);
        for (int i = 0; i < s->n_jsons; i++) slm_json_free(s->jsons[i]);
        for (int i = 0; i < s->n_blocks; i++) free(s->blocks[i]);
        free(s->maps);
        free(s->jsons);
        free(s->blocks);
        free(s);
    }
    free(set->docs);
    memset(set, 0, sizeof *set);
}
