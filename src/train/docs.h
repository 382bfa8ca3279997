/*
 * docs.h — documents of a training corpus, read from the files users bring:
 *   .txt    documents separated by lines holding only "<|endoftext|>" (the
 *           TinyStories text files), or by blank lines (blank_line_docs);
 *           a file with neither is one document;
 *   .jsonl  one JSON object per line, the text in member `field`;
 *   .json   one JSON array of strings, or of objects with member `field`
 *           or "story" (TinyStories' data00.json ... shards).
 * Every file must be valid UTF-8 (the error gives the byte offset). Text is
 * trimmed of surrounding white space. Empty text segments of .txt files are
 * not documents; JSON records without the field or with empty text are
 * documents of length 0 (the caller counts them as dropped).
 *
 * Memory: .txt files stay mapped and documents point into them; JSON text
 * is held in the parsed .json tree or copied into an arena (.jsonl). All of
 * it lives until slm_docs_free. The whole corpus is read before anything is
 * tokenized (the split needs the document count), so it must fit in memory
 * and address space.
 */
#ifndef SLM_TRAIN_DOCS_H
#define SLM_TRAIN_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef struct {
    const char *text; /* not NUL-terminated */
    size_t len;
} slm_doc;

typedef struct slm_doc_storage slm_doc_storage;

typedef struct {
    slm_doc *docs;
    int64_t n, cap;
    slm_doc_storage *storage; /* maps, JSON trees, arena blocks */
} slm_doc_set;

/* Appends the documents of one file (kind from its extension; anything not
 * .jsonl/.json is text). */
slm_status slm_docs_read(slm_doc_set *set, const char *path, const char *field, bool blank_line_docs);
void slm_docs_free(slm_doc_set *set);

/* Offset of the first byte of an ill-formed or truncated UTF-8 sequence, or
 * -1 if s is valid UTF-8. */
int64_t slm_utf8_first_invalid(const uint8_t *s, size_t n);

#endif
