/*
 * mmap.h — a whole file, read-only: mapped (slm_map_file), or read into
 * anonymous memory backed by huge pages where the OS gives them
 * (slm_read_file), which is then made read-only too. Either way the bytes are
 * never written; anything derived from them (repacked weights, decoded
 * strings) lives in owned memory. An empty file gives data == NULL, size == 0.
 */
#ifndef SLM_BASE_MMAP_H
#define SLM_BASE_MMAP_H

#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    int owned_copy; /* 1 if data is a malloc'd copy (no mmap available) */
    size_t anon_size; /* > 0: data is anonymous memory of this many bytes (slm_read_file) */
} slm_file_map;

slm_status slm_map_file(const char *path, slm_file_map *out);
/* Reads the file into anonymous memory: 2 MiB-aligned, MADV_HUGEPAGE (so a
 * THP kernel in "madvise" mode backs it with 2 MiB pages: far fewer TLB
 * misses than the 4 KiB pages of a file mapping), read-only once filled.
 * Costs a copy at load; the page cache keeps its own copy, outside RSS. */
slm_status slm_read_file(const char *path, slm_file_map *out);
/* Releases either kind. */
void slm_unmap_file(slm_file_map *m);

/* size bytes of zeroed anonymous memory, 2 MiB-aligned, advised to use huge
 * pages; *alloc_size receives the size to give slm_huge_free. NULL on
 * failure (errno set). */
void *slm_huge_alloc(size_t size, size_t *alloc_size);
void slm_huge_free(void *p, size_t alloc_size);

#endif
