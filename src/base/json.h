/*
 * json.h — a small, strict JSON reader (RFC 8259) for configuration files:
 * tokenizer.json, tokenizer_config.json, and whatever else slm reads as JSON.
 *
 * The whole text is parsed once into a read-only tree held in two allocations
 * (a copy of the text, where strings are unescaped in place, and one array of
 * nodes in document order). Nodes are valid until slm_json_free().
 *
 * What it checks: the grammar exactly (no comments, no trailing commas, no
 * NaN), nesting depth (at most 512), UTF-8 in strings (invalid bytes are an
 * error), control characters in strings. What it does on purpose:
 *   - numbers are doubles (integers up to 2^53 are exact);
 *   - a lone UTF-16 surrogate written as \uD800 becomes U+FFFD (JavaScript
 *     would keep it, Rust's serde refuses it; slm needs valid UTF-8);
 *   - duplicate object keys are kept; slm_json_get() returns the last one
 *     (as JavaScript and Python do), iteration sees all of them;
 *   - strings may contain NUL (\u0000): use the lengths, not strlen.
 * Not here: writing JSON, streaming, JSON pointers.
 */
#ifndef SLM_BASE_JSON_H
#define SLM_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef enum {
    SLM_JSON_NULL = 0,
    SLM_JSON_FALSE,
    SLM_JSON_TRUE,
    SLM_JSON_NUMBER,
    SLM_JSON_STRING,
    SLM_JSON_ARRAY,
    SLM_JSON_OBJECT,
} slm_json_type;

/* One value. Children of an array or object follow their parent in the node
 * array; next_delta links siblings. Read it through the functions below. */
typedef struct slm_json_node {
    const char *key;     /* member name (NUL-terminated) for object members, else NULL */
    union {
        const char *str; /* STRING: NUL-terminated, len bytes */
        double num;      /* NUMBER */
    } v;
    uint32_t len;        /* STRING: bytes; ARRAY/OBJECT: number of children */
    uint32_t next_delta; /* nodes to the next sibling; 0 = last */
    uint32_t key_len;
    uint8_t type;        /* slm_json_type */
} slm_json_node;

typedef struct slm_json slm_json;

/* Parses len bytes (copied; the caller keeps text). name is used in messages
 * ("tokenizer.json: line 3, column 7: expected ','"). */
slm_status slm_json_parse(const char *text, size_t len, const char *name, slm_json **out);
/* Reads and parses a file (SLM_ERR_IO if it cannot be read). */
slm_status slm_json_parse_file(const char *path, slm_json **out);
void slm_json_free(slm_json *doc);

const slm_json_node *slm_json_root(const slm_json *doc);

/* "null", "false", "true", "number", "string", "array", "object". */
const char *slm_json_type_name(slm_json_type t);

/* All accessors accept NULL and then return NULL / 0 / false. */
static inline slm_json_type slm_json_typeof(const slm_json_node *n) {
    return n ? (slm_json_type)n->type : SLM_JSON_NULL;
}
static inline bool slm_json_is(const slm_json_node *n, slm_json_type t) { return n && n->type == t; }
/* First child of an array or object, or NULL. */
static inline const slm_json_node *slm_json_child(const slm_json_node *n) {
    return n && (n->type == SLM_JSON_ARRAY || n->type == SLM_JSON_OBJECT) && n->len ? n + 1 : NULL;
}
/* Next sibling, or NULL. */
static inline const slm_json_node *slm_json_next(const slm_json_node *n) {
    return n && n->next_delta ? n + n->next_delta : NULL;
}
/* Number of children of an array/object, else 0. */
static inline uint32_t slm_json_count(const slm_json_node *n) {
    return n && (n->type == SLM_JSON_ARRAY || n->type == SLM_JSON_OBJECT) ? n->len : 0;
}
/* The member value of an object with this key (the last one if repeated). */
const slm_json_node *slm_json_get(const slm_json_node *obj, const char *key);
/* Element i of an array (O(i)). */
const slm_json_node *slm_json_at(const slm_json_node *arr, uint32_t i);
/* The string, or NULL if n is not a string; *len (if given) gets its bytes. */
static inline const char *slm_json_str(const slm_json_node *n, size_t *len) {
    if (!n || n->type != SLM_JSON_STRING) return NULL;
    if (len) *len = n->len;
    return n->v.str;
}
/* A boolean member: def if absent or not a boolean. */
bool slm_json_get_bool(const slm_json_node *obj, const char *key, bool def);
/* A string member: NULL if absent or not a string. */
const char *slm_json_get_str(const slm_json_node *obj, const char *key, size_t *len);
/* True if n is a number that is an integer in [lo, hi]; the value in *out. */
bool slm_json_int(const slm_json_node *n, int64_t lo, int64_t hi, int64_t *out);

#endif
