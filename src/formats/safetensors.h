/*
 * safetensors.h — safetensors reader (over a read-only mapping), one file or
 * a sharded set of files.
 *
 * Byte layout of one file (https://github.com/huggingface/safetensors):
 *   u64 N (little-endian) | N bytes of JSON header (UTF-8, may be padded with
 *   trailing spaces) | the data buffer, to the end of the file.
 * The header is one object: each member is a tensor
 *   "name": {"dtype": "F16", "shape": [rows, cols], "data_offsets": [begin, end]}
 * with begin/end relative to the start of the data buffer, plus an optional
 * "__metadata__": {"key": "string value", ...}. Shapes are in numpy order
 * (the last dimension varies fastest); a shape of [] is a scalar.
 *
 * The reader checks that N fits in the file, the header is one JSON object,
 * every tensor has a known dtype, a shape of at most SAFETENSORS_MAX_DIMS
 * non-negative dimensions and offsets with begin <= end, that
 * end - begin equals the element count times the dtype size (all in checked
 * 64-bit arithmetic), that every tensor lies inside the data buffer and that
 * no two tensors overlap. Gaps between tensors and bytes after the last one
 * are tolerated (the reference implementation refuses them; nothing here
 * depends on their absence). Names and metadata are copied into owned
 * memory; tensor data points into the mapping and is never copied or written.
 *
 * A sharded model (model.safetensors.index.json) is a set: its "weight_map"
 * names the file of every tensor; each listed file is opened once, each
 * tensor must be in the file the map names, and names are unique across the
 * set. Not here: what the tensors mean (src/model/hf_*.c do that).
 */
#ifndef SLM_FORMATS_SAFETENSORS_H
#define SLM_FORMATS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mmap.h"
#include "slm.h"

#define SAFETENSORS_MAX_DIMS 8
/* Headers larger than this are refused before anything is read (the
 * reference implementation's limit is 100 MB). */
#define SAFETENSORS_MAX_HEADER ((uint64_t)100 << 20)

typedef enum {
    ST_BOOL,
    ST_U8,
    ST_I8,
    ST_F8_E5M2,
    ST_F8_E4M3,
    ST_F8_E8M0,
    ST_I16,
    ST_U16,
    ST_F16,
    ST_BF16,
    ST_I32,
    ST_U32,
    ST_F32,
    ST_F64,
    ST_I64,
    ST_U64,
    ST_DTYPE_COUNT,
} safetensors_dtype;

typedef struct {
    char *name; /* owned */
    int dtype;  /* safetensors_dtype */
    uint32_t n_dims;
    int64_t shape[SAFETENSORS_MAX_DIMS]; /* numpy order: shape[n_dims-1] is the row length */
    uint64_t offset;                     /* from the start of the data buffer */
    uint64_t nbytes;
    const uint8_t *data; /* into the mapping (NULL when nbytes is 0) */
} safetensors_tensor;

typedef struct {
    char *path; /* for messages */
    slm_file_map map;
    const uint8_t *base; /* file bytes */
    size_t size;
    uint64_t header_len;  /* N */
    uint64_t data_offset; /* 8 + N */
    uint64_t n_tensors;
    safetensors_tensor *tensors; /* in header order */
    uint64_t n_meta;             /* __metadata__, in header order */
    char **meta_keys, **meta_values;
} safetensors_file;

/* Maps and parses a file. */
slm_status safetensors_open(const char *path, safetensors_file **out);
/* Parses bytes the caller keeps alive (fuzzing, tests); name is for messages. */
slm_status safetensors_parse(const uint8_t *data, size_t size, const char *name, safetensors_file **out);
void safetensors_close(safetensors_file *f);

const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name);
/* A __metadata__ value, NULL if absent. */
const char *safetensors_meta(const safetensors_file *f, const char *key);

/* "F16" ...; NULL for an id out of range. Element size in bytes. */
const char *safetensors_dtype_name(int dtype);
size_t safetensors_dtype_size(int dtype);
/* The slm_type of a dtype slm computes with (F32, F16, BF16), else -1. */
int safetensors_dtype_slm_type(int dtype);

/* ------------------------------------------------------------------------ */
/* A model's tensors: one file or the shards of an index                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    const safetensors_tensor *t;
    const safetensors_file *file;
} safetensors_entry;

typedef struct {
    char *dir;
    size_t n_files;
    safetensors_file **files;
    size_t n_entries;
    safetensors_entry *entries; /* every tensor of every file, sorted by name */
    char *index_path;           /* the index file when sharded, else NULL */
} safetensors_set;

/*
 * Opens the tensors of a model folder: model.safetensors.index.json when
 * present (every shard its weight_map names, which must be plain file names
 * in dir; a missing shard fails naming the shard and the index), else
 * model.safetensors, else the only *.safetensors file in dir.
 */
slm_status safetensors_set_open(const char *dir, safetensors_set **out);
void safetensors_set_close(safetensors_set *s);
const safetensors_entry *safetensors_set_find(const safetensors_set *s, const char *name);

#endif
