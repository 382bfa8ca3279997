/*
 * safetensors_set.c — the tensors of a model folder as one set: a single
 * model.safetensors, or the shards that model.safetensors.index.json lists
 * (see safetensors.h).
 *
 * Index layout: {"metadata": {...}, "weight_map": {"tensor name": "shard
 * file name", ...}}. Shard names must be plain file names in the folder (no
 * '/', not "." or ".."), so an index cannot reach outside it. Every shard is
 * mapped once; every tensor the map lists must be in the shard it names;
 * a tensor name may appear in one shard only. Tensors a shard holds beyond
 * the map are kept (the map is an index, not a filter).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/json.h"
#include "formats/safetensors.h"

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void safetensors_set_close(safetensors_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) safetensors_close(s->files[i]);
    free(s->files);
    free(s->entries);
    free(s->index_path);
    free(s->dir);
    free(s);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const safetensors_entry *)a)->t->name, ((const safetensors_entry *)b)->t->name);
}

const safetensors_entry *safetensors_set_find(const safetensors_set *s, const char *name) {
    safetensors_tensor key = {.name = (char *)name};
    safetensors_entry k = {&key, NULL};
    return bsearch(&k, s->entries, s->n_entries, sizeof *s->entries, cmp_entry);
}

/* Opens dir/name and appends it to the set. */
static slm_status add_file(safetensors_set *s, const char *name, const char *why) {
    char *path = join(s->dir, name);
    if (!path) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->dir);
    if (!is_file(path)) {
        slm_status st = why ? slm_err(SLM_ERR_IO, "%s: missing shard: the file does not exist (%s)", path, why)
                            : slm_err(SLM_ERR_IO, "%s: cannot open", path);
        free(path);
        return st;
    }
    safetensors_file **files = realloc(s->files, (s->n_files + 1) * sizeof *files);
    if (!files) {
        free(path);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->dir);
    }
    s->files = files;
    slm_status st = safetensors_open(path, &s->files[s->n_files]);
    free(path);
    if (st) return st;
    s->n_files++;
    return SLM_OK;
}

/* The entries of every file, sorted; a name in two files is an error. */
static slm_status build_entries(safetensors_set *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_files; i++) n += (size_t)s->files[i]->n_tensors;
    s->entries = calloc(n ? n : 1, sizeof *s->entries);
    if (!s->entries) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->dir);
    for (size_t i = 0; i < s->n_files; i++)
        for (uint64_t j = 0; j < s->files[i]->n_tensors; j++)
            s->entries[s->n_entries++] = (safetensors_entry){&s->files[i]->tensors[j], s->files[i]};
    qsort(s->entries, s->n_entries, sizeof *s->entries, cmp_entry);
    for (size_t i = 1; i < s->n_entries; i++)
        if (strcmp(s->entries[i - 1].t->name, s->entries[i].t->name) == 0)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' is in two shards: %s and %s", s->dir,
                           s->entries[i].t->name, s->entries[i - 1].file->path, s->entries[i].file->path);
    return SLM_OK;
}

static bool plain_name(const char *s, size_t len) {
    return len > 0 && !memchr(s, '/', len) && !memchr(s, 0, len) && !memchr(s, '\\', len) &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool opened(const safetensors_set *s, const char *name) {
    size_t dl = strlen(s->dir);
    for (size_t i = 0; i < s->n_files; i++) {
        const char *p = s->files[i]->path;
        if (strncmp(p, s->dir, dl) == 0 && p[dl] == '/' && strcmp(p + dl + 1, name) == 0) return true;
    }
    return false;
}

static slm_status open_index(safetensors_set *s) {
    const char *ip = s->index_path;
    slm_json *doc = NULL;
    slm_status st = slm_json_parse_file(ip, &doc);
    if (st) return st;
    const slm_json_node *map = slm_json_get(slm_json_root(doc), "weight_map");
    if (!slm_json_is(map, SLM_JSON_OBJECT)) {
        st = slm_err(SLM_ERR_FORMAT, "%s: key 'weight_map' missing or not an object", ip);
        goto done;
    }
    /* every distinct shard, in order of first mention */
    for (const slm_json_node *c = slm_json_child(map); c && !st; c = slm_json_next(c)) {
        size_t len;
        const char *file = slm_json_str(c, &len);
        if (!file || !plain_name(file, len)) {
            st = slm_err(SLM_ERR_FORMAT, "%s: weight_map['%s'] must be the file name of a shard in the folder", ip,
                         c->key);
            break;
        }
        if (opened(s, file)) continue;
        char why[512];
        snprintf(why, sizeof why, "%s lists it in weight_map for '%s'", ip, c->key);
        st = add_file(s, file, why);
    }
    if (!st && s->n_files == 0) st = slm_err(SLM_ERR_FORMAT, "%s: weight_map is empty", ip);
    if (!st) st = build_entries(s);
    for (const slm_json_node *c = slm_json_child(map); c && !st; c = slm_json_next(c)) {
        const safetensors_entry *e = safetensors_set_find(s, c->key);
        const char *file = slm_json_str(c, NULL);
        const char *base = e ? strrchr(e->file->path, '/') : NULL;
        if (!e)
            st = slm_err(SLM_ERR_FORMAT, "%s: weight_map lists tensor '%s' in %s, which does not hold it", ip, c->key,
                         file);
        else if (!base || strcmp(base + 1, file) != 0)
            st = slm_err(SLM_ERR_FORMAT, "%s: weight_map lists tensor '%s' in %s, but it is in %s", ip, c->key, file,
                         e->file->path);
    }
done:
    slm_json_free(doc);
    return st;
}

/* The folder's only *.safetensors file, when there is no index and no
 * model.safetensors. */
static slm_status open_single(safetensors_set *s) {
    DIR *d = opendir(s->dir);
    if (!d) return slm_err(SLM_ERR_IO, "%s: cannot open the folder", s->dir);
    char found[512] = "";
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 12 && strcmp(e->d_name + len - 12, ".safetensors") == 0) {
            if (n++ == 0) snprintf(found, sizeof found, "%s", e->d_name);
        }
    }
    closedir(d);
    if (n == 0)
        return slm_err(SLM_ERR_IO, "%s: no model.safetensors, model.safetensors.index.json or other .safetensors "
                       "file in the folder", s->dir);
    if (n > 1)
        return slm_err(SLM_ERR_FORMAT, "%s: %d .safetensors files but no model.safetensors.index.json to say which "
                       "tensors each holds", s->dir, n);
    return add_file(s, found, NULL);
}

slm_status safetensors_set_open(const char *dir, safetensors_set **out) {
    *out = NULL;
    safetensors_set *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", dir);
    }
    size_t dl = strlen(s->dir);
    while (dl > 1 && s->dir[dl - 1] == '/') s->dir[--dl] = 0;
    slm_status st;
    s->index_path = join(s->dir, "model.safetensors.index.json");
    char *single = join(s->dir, "model.safetensors");
    if (!s->index_path || !single) {
        st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", dir);
    } else if (is_file(s->index_path)) {
        st = open_index(s);
    } else {
        free(s->index_path);
        s->index_path = NULL;
        st = is_file(single) ? add_file(s, "model.safetensors", NULL) : open_single(s);
        if (!st) st = build_entries(s);
    }
    free(single);
    if (st) {
        safetensors_set_close(s);
        return st;
    }
    *out = s;
    return SLM_OK;
}
