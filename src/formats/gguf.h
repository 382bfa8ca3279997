/*
 * gguf.h — GGUF v2/v3 reader (over a read-only mapping) and writer (atomic).
 *
 * Byte layout (all little-endian):
 *   magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv × { string key | u32 value_type | value }
 *   n_tensors × { string name | u32 n_dims | n_dims × u64 ne | u32 type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data
 * string = u64 length + bytes (no NUL). array = u32 elem_type + u64 n + elems.
 *
 * The reader checks every count, length, offset and size against the bytes
 * that remain and for overflow before using it; tensors must lie inside the
 * data section, be aligned and not overlap. Keys and string values are copied
 * into owned, NUL-terminated memory; numeric arrays and tensor data point into
 * the mapping. Unknown keys are kept as they are.
 */
#ifndef SLM_FORMATS_GGUF_H
#define SLM_FORMATS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mmap.h"
#include "slm.h"

enum gguf_vtype {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13,
};

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_value gguf_value;
struct gguf_value {
    uint32_t type; /* enum gguf_vtype */
    union {
        uint64_t u64; /* UINT8/16/32/64 */
        int64_t i64;  /* INT8/16/32/64 */
        double f64;   /* FLOAT32/64 */
        bool b;       /* BOOL */
        struct {
            char *ptr; /* owned, NUL-terminated (may contain NULs inside) */
            uint64_t len;
        } str;
        struct {
            uint32_t elem_type;
            uint64_t n;
            const uint8_t *raw; /* numeric/bool elements: raw LE bytes in the mapping */
            gguf_value *items;  /* STRING or ARRAY elements: n owned values */
        } arr;
    } v;
};

typedef struct {
    char *key; /* owned, NUL-terminated */
    gguf_value value;
} gguf_kv;

typedef struct {
    char *name; /* owned */
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length (fastest); unused dims = 1 */
    uint32_t type;             /* slm_type */
    uint64_t offset;           /* from the start of the data section */
    uint64_t nbytes;
    const uint8_t *data; /* into the mapping */
} gguf_tensor;

typedef struct gguf_file {
    char *path; /* for messages */
    slm_file_map map;
    const uint8_t *base; /* file bytes */
    size_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t data_offset; /* start of the tensor data section */
    /* Files built in memory (gguf_writer_to_file): no mapping; numeric array
     * bytes are owned; owner keeps the tensor data alive and is released by
     * gguf_close with owner_free, after everything else. */
    bool in_memory;
    void *owner;
    void (*owner_free)(void *owner);
} gguf_file;

/* Maps and parses a file. */
slm_status gguf_open(const char *path, gguf_file **out);
/* The same; with no_mmap the file is read into anonymous memory instead of
 * mapped (slm_read_file: huge pages, faster to stream from). */
slm_status gguf_open_ex(const char *path, bool no_mmap, gguf_file **out);
/* Parses bytes the caller keeps alive (fuzzing, tests); name is for messages. */
slm_status gguf_parse(const uint8_t *data, size_t size, const char *name, gguf_file **out);
void gguf_close(gguf_file *g);

const char *gguf_vtype_name(uint32_t t);

const gguf_kv *gguf_find_kv(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);

/* Typed getters: true if the key exists with a compatible type and the value
 * fits; any integer type converts to another if in range, FLOAT32/64 to f32. */
bool gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out);
bool gguf_get_i32(const gguf_file *g, const char *key, int32_t *out);
bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out);
bool gguf_get_f32(const gguf_file *g, const char *key, float *out);
bool gguf_get_bool(const gguf_file *g, const char *key, bool *out);
const char *gguf_get_str(const gguf_file *g, const char *key); /* NULL if absent/not string */
/* An array value of the given element type (NULL if absent or other type). */
const gguf_value *gguf_get_arr(const gguf_file *g, const char *key, uint32_t elem_type);

/* Element i of a numeric array as float / int64 (element type converted). */
float gguf_arr_f32(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i);

/* Size in bytes of one element of a fixed-size type (0 for STRING/ARRAY). */
size_t gguf_vtype_size(uint32_t t);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);

/* Setting a key that exists replaces its value (keeping its position). */
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Numeric/bool array; data holds n elements of elem_type, little-endian. */
void gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                         uint64_t n);
/* Copies a value read by the reader (any type, nested arrays included). */
void gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v);
void gguf_writer_remove(gguf_writer *w, const char *key);

/* Adds a tensor; data (nbytes, which must equal the size the type and shape
 * imply) is referenced, not copied, and must stay valid until write. */
slm_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                  const int64_t *ne, const void *data, uint64_t nbytes);

/* Writes the file to path.tmp.<pid> then renames it over path. */
slm_status gguf_writer_write(gguf_writer *w, const char *path);

/* Turns the writer's metadata and tensors into an in-memory gguf_file that
 * reads like one parsed from disk (tensor data where add_tensor was given it,
 * offsets as the writer would lay them out, size = the bytes of tensor
 * data). The writer is freed. name is for messages; owner/owner_free (may be
 * NULL) are released by gguf_close. On failure owner is released too. */
slm_status gguf_writer_to_file(gguf_writer *w, const char *name, void *owner, void (*owner_free)(void *),
                               gguf_file **out);

#endif
