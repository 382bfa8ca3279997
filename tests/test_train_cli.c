/*
 * test_train_cli.c — `slm train` and `slm data prepare` as a user meets them
 * (SLM_BIN, default build/slm), on tiny models (dim 32, 2 layers) and the
 * first stories of TinyStories (tests/data/tokenizer/texts):
 *  - resume is bit-exact: N steps, a stop (--stop-after, or Ctrl-C at an
 *    arbitrary step), --resume to the end gives the weights, AdamW moments
 *    and exported model of the straight run byte for byte (random and
 *    sequential batches, gradient accumulation, tied and untied);
 *  - train.csv: header, one row per step with the loss to >= 9 significant
 *    digits, validation rows, the final validation row; loss.svg, config.txt;
 *  - the export: model.gguf loaded by slm gives the trainer's logits
 *    (normalised < 1e-5, GQA, untied, a padded vocabulary); --export-type Q8_0;
 *  - --init-from: the trainer's forward on tests/data/trained/model.gguf
 *    matches llama.cpp's logits (< 1e-4), and continued training starts at
 *    that model's loss;
 *  - bad input: heads not dividing the width, a checkpoint of another
 *    config, an existing checkpoint without --resume, a full disk while
 *    checkpointing (ulimit -f), a file that is not token data, a vocabulary
 *    smaller than the data's: one clear error line, and the previous
 *    checkpoint left as it was.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"
#include "train/checkpoint.h"
#include "train/model.h"
#include "train/model_gguf.h"
#include "util.h"

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

static const char *bin(void) {
    const char *b = getenv("SLM_BIN");
    return b ? b : "build/slm";
}

/* Runs a shell command line; returns the exit code (128+signal if killed). */
static int sh(const char *cmd, char **err) {
    const char *dir = slm_test_tmpdir();
    char full[8192 + 1100 + 2400], e[1100];
    snprintf(e, sizeof e, "%s/stderr", dir);
    snprintf(full, sizeof full, "%s >%s/stdout 2>%s </dev/null", cmd, dir, e);
    int st = system(full);
    if (err) *err = tu_read_file(e, NULL);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* Runs `slm ARGS`. */
static int slm(const char *args, char **err) {
    char cmd[8192 + 1100];
    snprintf(cmd, sizeof cmd, "%s %s", bin(), args);
    return sh(cmd, err);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

static void expect_error(const char *args, const char *want) {
    char *err = NULL;
    int rc = slm(args, &err);
    EXPECT(rc == 1, "(slm %s: exit %d, stderr %s)", args, rc, err ? err : "");
    EXPECT(err && strstr(err, want), "(slm %s: stderr '%s' lacks '%s')", args, err ? err : "", want);
    EXPECT(count_lines(err) == 1, "(slm %s: %d stderr lines: %s)", args, count_lines(err), err ? err : "");
    free(err);
}

/* DIR/name, in a ring of 64 buffers: valid for the next 63 calls (a case
 * makes fewer). */
static const char *path_in(const char *name) {
    static char buf[64][1200];
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", slm_test_tmpdir(), name);
    return buf[k];
}

static void rm_rf(const char *path) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "rm -rf %s failed\n", path);
}

/* DIR/data: the lines of prose_tinystories.txt as documents, tokenized with
 * the trained model's SentencePiece vocabulary (512 tokens). */
static bool make_data(void) {
    char *text = tu_read_file(slm_test_data("tokenizer/texts/prose_tinystories.txt"), NULL);
    if (!text) return false;
    const char *corpus = path_in("corpus.txt");
    FILE *f = fopen(corpus, "w");
    if (!f) return false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) fprintf(f, "%s\n<|endoftext|>\n", line);
    fclose(f);
    free(text);
    rm_rf(path_in("data"));
    char args[4096];
    snprintf(args, sizeof args, "data prepare --tokenizer %s %s -o %s --val-fraction 0.25 -t 2",
             slm_test_data("trained/model.gguf"), corpus, path_in("data"));
    return slm(args, NULL) == 0;
}

/* `slm train` on DIR/data into DIR/out with a tiny model and extra flags. */
static int train(const char *out, const char *extra, char **err) {
    char args[8192];
    snprintf(args, sizeof args,
             "train --data %s --out %s --dim 32 --n-layers 2 --n-heads 4 --n-kv-heads 2 --batch 2 --seq 32 "
             "--eval-every 4 --eval-batches 2 --warmup 2 --lr 3e-3 --min-lr 3e-4 -t 2 %s",
             path_in("data"), out, extra);
    return slm(args, err);
}

/* Compares two checkpoints' tensors and step. */
static void expect_same_checkpoint(const char *a, const char *b) {
    gguf_file *ga = NULL, *gb = NULL;
    ASSERT(gguf_open(a, &ga) == SLM_OK, "(%s)", slm_last_error());
    ASSERT(gguf_open(b, &gb) == SLM_OK, "(%s)", slm_last_error());
    const char *names[] = {"params", "adam.m", "adam.v"};
    for (int i = 0; i < 3; i++) {
        const gguf_tensor *x = gguf_find_tensor(ga, names[i]), *y = gguf_find_tensor(gb, names[i]);
        EXPECT(x && y && x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes), "(%s differs)", names[i]);
    }
    uint64_t sa = 0, sb = 1;
    gguf_get_u64(ga, "slm.train.step", &sa);
    gguf_get_u64(gb, "slm.train.step", &sb);
    EXPECT(sa == sb, "(steps %llu / %llu)", (unsigned long long)sa, (unsigned long long)sb);
    gguf_close(ga);
    gguf_close(gb);
}

/* The loss column of train.csv (rows with a loss). */
static int read_losses(const char *csv, double *out, int cap) {
    char *s = tu_read_file(csv, NULL);
    int n = 0;
    for (char *line = s ? strchr(s, '\n') : NULL; line && *++line && n < cap; line = strchr(line, '\n')) {
        char *c = strchr(line, ',');
        if (c && c[1] != ',') out[n++] = strtod(c + 1, NULL);
    }
    free(s);
    return n;
}

/* ======================================================================== */
/* Resume                                                                    */
/* ======================================================================== */

static void resume_case(const char *extra) {
    ASSERT(make_data());
    const char *a = path_in("straight"), *b = path_in("split");
    rm_rf(a);
    rm_rf(b);
    char args[2048], *err = NULL;
    snprintf(args, sizeof args, "--steps 12 %s", extra);
    ASSERT(train(a, args, &err) == 0, "(%s)", err ? err : "");
    free(err);
    snprintf(args, sizeof args, "--steps 12 --stop-after 5 %s", extra);
    EXPECT(train(b, args, &err) == 130, "(%s)", err ? err : "");
    EXPECT(err && strstr(err, "--resume"), "(%s)", err ? err : "");
    free(err);
    snprintf(args, sizeof args, "--steps 12 --resume %s", extra);
    ASSERT(train(b, args, &err) == 0, "(%s)", err ? err : "");
    EXPECT(err && strstr(err, "resuming") && strstr(err, "at step 5"), "(%s)", err ? err : "");
    free(err);
    char ca[1300], cb[1300];
    snprintf(ca, sizeof ca, "%s/checkpoint.gguf", a);
    snprintf(cb, sizeof cb, "%s/checkpoint.gguf", b);
    expect_same_checkpoint(ca, cb);
    snprintf(ca, sizeof ca, "%s/model.gguf", a);
    snprintf(cb, sizeof cb, "%s/model.gguf", b);
    EXPECT(tu_same_file(ca, cb), "(the exported models differ)");
    double la[64], lb[64];
    snprintf(ca, sizeof ca, "%s/train.csv", a);
    snprintf(cb, sizeof cb, "%s/train.csv", b);
    int na = read_losses(ca, la, 64), nb = read_losses(cb, lb, 64);
    EXPECT(na == 12 && nb == 12, "(%d / %d loss rows)", na, nb);
    for (int i = 0; i < na && i < nb; i++) EXPECT(la[i] == lb[i], "(step %d: %.9g vs %.9g)", i, la[i], lb[i]);
}

TEST(train_cli_resume_bit_exact_random) { resume_case("--untied"); }
TEST(train_cli_resume_bit_exact_sequential) { resume_case("--sequential --grad-accum 2 --lr-schedule constant"); }

/* Ctrl-C at whatever step the run has reached: a checkpoint, exit 130, and
 * resuming gives the straight run's weights. */
TEST(train_cli_ctrl_c_checkpoints_and_resumes) {
    ASSERT(make_data());
    const char *a = path_in("interrupted"), *b = path_in("straight");
    rm_rf(a);
    rm_rf(b);
    char args[4096];
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) { /* slm itself, so that the signal goes to it */
        FILE *null = freopen("/dev/null", "w", stdout);
        if (null) dup2(fileno(stdout), 2);
        execl(bin(), bin(), "train", "--data", path_in("data"), "--out", a, "--dim", "32", "--n-layers", "2",
              "--n-heads", "4", "--batch", "2", "--seq", "32", "--eval-every", "0", "--lr-schedule", "constant",
              "--warmup", "0", "--steps", "1000000", "-t", "2", (char *)NULL);
        _exit(127);
    }
    /* wait for a few steps, then interrupt */
    char csv[1300];
    snprintf(csv, sizeof csv, "%s/train.csv", a);
    for (int i = 0; i < 3000; i++) {
        char *s = tu_read_file(csv, NULL);
        int lines = count_lines(s);
        free(s);
        if (lines >= 4) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 130, "(status %d)", status);
    char ck[1300];
    snprintf(ck, sizeof ck, "%s/checkpoint.gguf", a);
    slm_checkpoint_info info;
    ASSERT(slm_checkpoint_read_info(ck, &info) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(info.step >= 3, "(step %lld)", (long long)info.step);
    int64_t k = info.step + 3;
    char *err = NULL;
    snprintf(args, sizeof args,
             "train --data %s --out %s --dim 32 --n-layers 2 --n-heads 4 --batch 2 --seq 32 --eval-every 0 "
             "--lr-schedule constant --warmup 0 --steps %lld -t 2 %s",
             path_in("data"), a, (long long)k, "--resume");
    EXPECT(slm(args, &err) == 0, "(%s)", err ? err : "");
    free(err);
    snprintf(args, sizeof args,
             "train --data %s --out %s --dim 32 --n-layers 2 --n-heads 4 --batch 2 --seq 32 --eval-every 0 "
             "--lr-schedule constant --warmup 0 --steps %lld -t 2",
             path_in("data"), b, (long long)k);
    ASSERT(slm(args, &err) == 0, "(%s)", err ? err : "");
    free(err);
    char cb[1300];
    snprintf(cb, sizeof cb, "%s/checkpoint.gguf", b);
    expect_same_checkpoint(ck, cb);
}

/* ======================================================================== */
/* What a run writes                                                         */
/* ======================================================================== */

/* Significant digits of a decimal number as printed. */
static int sig_digits(const char *s, const char *e) {
    int n = 0;
    bool started = false;
    for (; s < e && *s != 'e' && *s != 'E'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s != '0') started = true;
        if (started) n++;
    }
    return n;
}

TEST(train_cli_csv_svg_config) {
    ASSERT(make_data());
    const char *out = path_in("run");
    rm_rf(out);
    char *err = NULL;
    ASSERT(train(out, "--steps 10", &err) == 0, "(%s)", err ? err : "");
    EXPECT(err && strstr(err, "step 10/10") && strstr(err, "tok/s") && strstr(err, "GFLOP/s"), "(%s)",
           err ? err : "");
    free(err);
    char p[1300];
    snprintf(p, sizeof p, "%s/train.csv", out);
    char *csv = tu_read_file(p, NULL);
    ASSERT(csv);
    EXPECT(!strncmp(csv, "step,loss,val_loss,lr,tokens_per_s\n", 35));
    EXPECT(count_lines(csv) == 12, "(%d lines)", count_lines(csv)); /* header, 10 steps, final validation */
    int row = 0;
    for (char *line = strchr(csv, '\n') + 1; *line; row++) {
        char *nl = strchr(line, '\n');
        ASSERT(nl);
        *nl = 0;
        char *f[5] = {line};
        int nf = 1;
        for (char *c = line; *c; c++)
            if (*c == ',') *c = 0, f[nf < 5 ? nf++ : 4] = c + 1;
        EXPECT(nf == 5, "(row %d has %d fields)", row, nf);
        EXPECT(atoi(f[0]) == row, "(row %d is step %s)", row, f[0]);
        bool last = row == 10;
        if (!last) {
            EXPECT(sig_digits(f[1], f[1] + strlen(f[1])) >= 9, "(loss '%s')", f[1]);
            double loss = strtod(f[1], NULL);
            EXPECT(loss > 3.0 && loss < 7.0, "(loss %g)", loss); /* ~ln(512) = 6.24 at the start */
            EXPECT(strtod(f[3], NULL) > 0 && strtod(f[4], NULL) > 0);
        } else {
            EXPECT(!*f[1] && !*f[3] && !*f[4], "(the final row holds only the validation loss)");
        }
        bool has_val = row % 4 == 0 || last;
        EXPECT(has_val == (*f[2] != 0), "(row %d val '%s')", row, f[2]);
        if (*f[2]) EXPECT(sig_digits(f[2], f[2] + strlen(f[2])) >= 9, "(val '%s')", f[2]);
        line = nl + 1;
    }
    EXPECT(row == 11);
    free(csv);
    snprintf(p, sizeof p, "%s/loss.svg", out);
    char *svg = tu_read_file(p, NULL);
    EXPECT(svg && !strncmp(svg, "<svg", 4) && strstr(svg, "<polyline") && strstr(svg, "</svg>"));
    free(svg);
    snprintf(p, sizeof p, "%s/config.txt", out);
    char *cfg = tu_read_file(p, NULL);
    EXPECT(cfg && strstr(cfg, "dim = 32\n") && strstr(cfg, "hidden = 96\n") && strstr(cfg, "vocab = 512\n") &&
           strstr(cfg, "lr = 0.003\n"), "(%s)", cfg ? cfg : "");
    free(cfg);
    /* the config file drives a run: resuming with it and more steps */
    char args[2048];
    snprintf(args, sizeof args, "train --config %s/config.txt --out %s --resume --steps 12 -t 2", out, out);
    EXPECT(slm(args, &err) == 0, "(%s)", err ? err : "");
    free(err);
}

/* ======================================================================== */
/* Export                                                                    */
/* ======================================================================== */

/* The checkpoint's weights in a training model. */
static slm_train_model *model_from_checkpoint(const char *path, int32_t seq) {
    slm_checkpoint_info info;
    if (slm_checkpoint_read_info(path, &info) != SLM_OK) return NULL;
    slm_train_model *m = NULL;
    slm_adamw *opt = NULL;
    info.cfg.seq_len = seq > info.cfg.seq_len ? seq : info.cfg.seq_len;
    if (slm_train_model_new(&info.cfg, 1, seq, NULL, &m) != SLM_OK) return NULL;
    if (slm_adamw_new(NULL, m->n_params, &opt) != SLM_OK || slm_checkpoint_load(path, m, opt) != SLM_OK) {
        slm_adamw_free(opt);
        slm_train_model_free(m);
        return NULL;
    }
    slm_adamw_free(opt);
    return m;
}

/* max over rows of |slm - trainer| / max |trainer|, over the first nv logits of each row */
static double export_error(const char *dir, int n_tok, int nv) {
    char ck[1300], mp[1300];
    snprintf(ck, sizeof ck, "%s/checkpoint.gguf", dir);
    snprintf(mp, sizeof mp, "%s/model.gguf", dir);
    slm_train_model *m = model_from_checkpoint(ck, n_tok);
    if (!m) return INFINITY;
    int32_t tok[32];
    for (int i = 0; i < n_tok; i++) tok[i] = (i * 37 + 11) % nv;
    double err = INFINITY;
    slm_model *model = NULL;
    slm_ctx *ctx = NULL;
    slm_model_params mp2 = slm_model_default_params();
    mp2.n_threads = 1;
    slm_ctx_params cp = slm_ctx_default_params();
    if (slm_train_forward(m, tok, NULL, 1, n_tok, NULL) == SLM_OK && slm_model_load(mp, &mp2, &model) == SLM_OK &&
        slm_vocab_size(model) == nv && slm_ctx_new(model, &cp, &ctx) == SLM_OK &&
        slm_ctx_decode(ctx, tok, n_tok, true) == SLM_OK) {
        const int V = m->cfg.vocab_size;
        double md = 0, mr = 0;
        for (int t = 0; t < n_tok; t++) {
            const float *got = slm_ctx_logits_ith(ctx, t), *ref = m->acts.logits + (int64_t)t * V;
            for (int j = 0; j < nv; j++) {
                md = fmax(md, fabs((double)got[j] - ref[j]));
                mr = fmax(mr, fabs((double)ref[j]));
            }
        }
        err = md / mr;
    }
    slm_ctx_free(ctx);
    slm_model_free(model);
    slm_train_model_free(m);
    return err;
}

TEST(train_cli_export_matches_trainer_logits) {
    ASSERT(make_data());
    const struct {
        const char *name, *flags;
    } cases[] = {
        {"tied_gqa", "--steps 6"},
        {"untied_mha", "--steps 6 --untied --n-kv-heads 4"},
        {"padded_vocab", "--steps 6 --vocab 520"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *out = path_in(cases[i].name);
        rm_rf(out);
        char *err = NULL;
        ASSERT(train(out, cases[i].flags, &err) == 0, "(%s: %s)", cases[i].name, err ? err : "");
        free(err);
        double e = export_error(out, 20, 512);
        EXPECT(e < 1e-5, "(%s: normalised logits error %.3g)", cases[i].name, e);
    }
    /* a quantized export loads and holds Q8_0 matrices */
    const char *out = path_in("q8");
    rm_rf(out);
    char *err = NULL;
    ASSERT(train(out, "--steps 2 --export-type Q8_0", &err) == 0, "(%s)", err ? err : "");
    free(err);
    char mp[1300];
    snprintf(mp, sizeof mp, "%s/model.gguf", out);
    slm_model *model = NULL;
    ASSERT(slm_model_load(mp, NULL, &model) == SLM_OK, "(%s)", slm_last_error());
    int n_q8 = 0;
    for (int64_t i = 0; i < slm_model_tensor_count(model); i++) {
        slm_tensor_info ti;
        if (slm_model_tensor_info(model, i, &ti) && ti.type == SLM_TYPE_Q8_0) n_q8++;
    }
    EXPECT(n_q8 == 1 + 2 * 7, "(%d Q8_0 tensors)", n_q8);
    slm_model_free(model);
    char args[2048];
    snprintf(args, sizeof args, "run -m %s -p 'Once upon a time' -n 8 --temp 0 --no-stats", mp);
    EXPECT(slm(args, NULL) == 0);
}

/* ======================================================================== */
/* --init-from                                                               */
/* ======================================================================== */

TEST(train_cli_init_from_matches_llama_cpp) {
    gguf_file *g = NULL;
    ASSERT(gguf_open(slm_test_data("trained/model.gguf"), &g) == SLM_OK);
    slm_train_config cfg;
    ASSERT(slm_train_config_from_gguf(g, &cfg) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(cfg.dim == 128 && cfg.n_layers == 5 && cfg.n_heads == 4 && cfg.n_kv_heads == 2 && cfg.hidden_dim == 352 &&
           cfg.vocab_size == 512 && cfg.tied_embeddings);
    int32_t ids[64];
    int64_t n = tu_read_ints(slm_test_data("trained/logits_prompt_ids.txt"), ids, 64);
    ASSERT(n == 33);
    slm_train_model *m = NULL;
    ASSERT(slm_train_model_new(&cfg, 1, (int32_t)n, NULL, &m) == SLM_OK);
    ASSERT(slm_train_import_gguf(m, g) == SLM_OK, "(%s)", slm_last_error());
    ASSERT(slm_train_forward(m, ids, NULL, 1, (int32_t)n, NULL) == SLM_OK);
    float *ref = NULL;
    ASSERT(tu_read_f32(slm_test_data("trained/logits.f32"), &ref) == n * 512);
    double e = tu_norm_err(m->acts.logits, ref, n * 512);
    EXPECT(e < 1e-4, "(normalised error against llama.cpp %.3g)", e);
    gguf_close(g);
    /* a quantized model imports too (dequantized): close to the F32 one */
    ASSERT(gguf_open(slm_test_data("trained/model.Q8_0.gguf"), &g) == SLM_OK);
    ASSERT(slm_train_import_gguf(m, g) == SLM_OK, "(%s)", slm_last_error());
    ASSERT(slm_train_forward(m, ids, NULL, 1, (int32_t)n, NULL) == SLM_OK);
    e = tu_norm_err(m->acts.logits, ref, n * 512);
    EXPECT(e > 1e-6 && e < 3e-2, "(Q8_0 against F32 logits: %.3g)", e);
    gguf_close(g);
    free(ref);
    slm_train_model_free(m);

    /* continued training starts from the model: its loss, not a random one's */
    ASSERT(make_data());
    const char *out = path_in("cont");
    rm_rf(out);
    char args[4096], *err = NULL;
    snprintf(args, sizeof args,
             "train --init-from %s --data %s --out %s --batch 2 --seq 64 --steps 2 --eval-every 0 -t 2",
             slm_test_data("trained/model.gguf"), path_in("data"), out);
    ASSERT(slm(args, &err) == 0, "(%s)", err ? err : "");
    free(err);
    double loss[4];
    char csv[1300];
    snprintf(csv, sizeof csv, "%s/train.csv", out);
    ASSERT(read_losses(csv, loss, 4) == 2);
    EXPECT(loss[0] < 3.0, "(first loss %g: the weights were not loaded)", loss[0]);
    /* its export has the tensors and llama.* keys of llama.cpp's own converter
     * (tests/data/trained/model.gguf came from llama.cpp's llama2c converter) */
    gguf_file *ref_g = NULL, *ours = NULL;
    char exported[1300];
    snprintf(exported, sizeof exported, "%s/model.gguf", out);
    ASSERT(gguf_open(slm_test_data("trained/model.gguf"), &ref_g) == SLM_OK);
    ASSERT(gguf_open(exported, &ours) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(ours->n_tensors == ref_g->n_tensors, "(%llu tensors, llama.cpp's %llu)",
           (unsigned long long)ours->n_tensors, (unsigned long long)ref_g->n_tensors);
    for (uint64_t i = 0; i < ref_g->n_tensors; i++) {
        const gguf_tensor *a = &ref_g->tensors[i], *b = gguf_find_tensor(ours, a->name);
        EXPECT(b && b->n_dims == a->n_dims && !memcmp(b->ne, a->ne, sizeof a->ne) && b->type == a->type,
               "(tensor %s)", a->name);
    }
    for (uint64_t i = 0; i < ref_g->n_kv; i++) {
        const char *k = ref_g->kv[i].key;
        if (strncmp(k, "llama.", 6) && strncmp(k, "tokenizer.", 10) && strcmp(k, "general.architecture")) continue;
        const gguf_kv *kv = gguf_find_kv(ours, k);
        EXPECT(kv && kv->value.type == ref_g->kv[i].value.type, "(key %s)", k);
        if (kv && kv->value.type == GGUF_TYPE_UINT32)
            EXPECT(kv->value.v.u64 == ref_g->kv[i].value.v.u64, "(key %s)", k);
    }
    gguf_close(ours);
    gguf_close(ref_g);
    snprintf(args, sizeof args, "train --init-from %s --dim 64 --data %s --out %s2 --steps 2",
             slm_test_data("trained/model.gguf"), path_in("data"), out);
    expect_error(args, "--dim 64 disagrees");
    snprintf(args, sizeof args, "train --init-from %s --data %s --out %s3 --steps 2",
             slm_test_data("models/qwen2/model.gguf"), path_in("data"), out);
    expect_error(args, "slm trains llama models only");
}

/* ======================================================================== */
/* Bad input                                                                 */
/* ======================================================================== */

TEST(train_cli_bad_input) {
    ASSERT(make_data());
    const char *out = path_in("run");
    rm_rf(out);
    char *err = NULL;
    ASSERT(train(out, "--steps 4 --checkpoint-every 2", &err) == 0, "(%s)", err ? err : "");
    free(err);
    char args[4096], ck[1300];
    snprintf(ck, sizeof ck, "%s/checkpoint.gguf", out);
    size_t ck_len;
    char *ck_before = tu_read_file(ck, &ck_len);
    ASSERT(ck_before);

    snprintf(args, sizeof args, "train --data %s --out %s/x --dim 30 --n-heads 4 --steps 2", path_in("data"),
             slm_test_tmpdir());
    expect_error(args, "does not divide");
    snprintf(args, sizeof args, "train --data %s --out %s --dim 64 --n-layers 2 --n-heads 4 --n-kv-heads 2 "
             "--batch 2 --seq 32 --steps 8 --resume", path_in("data"), out);
    expect_error(args, "trained with dim 32 but this run has 64");
    snprintf(args, sizeof args, "train --data %s --out %s --dim 32 --n-layers 2 --n-heads 4 --n-kv-heads 2 "
             "--batch 2 --seq 32 --steps 8", path_in("data"), out);
    expect_error(args, "exists: add --resume");
    snprintf(args, sizeof args, "train --data %s --out %s/none --steps 8 --resume", path_in("data"),
             slm_test_tmpdir());
    expect_error(args, "no checkpoint to resume");
    snprintf(args, sizeof args, "train --data %s --out %s/y --steps 2", path_in("corpus.txt"), slm_test_tmpdir());
    expect_error(args, "not a token file");
    snprintf(args, sizeof args, "train --data %s --out %s/z --vocab 300 --dim 32 --n-heads 4 --steps 2",
             path_in("data"), slm_test_tmpdir());
    expect_error(args, "smaller than the tokenizer");
    snprintf(args, sizeof args, "train --data %s --out %s/w --lr-schedule linear", path_in("data"), slm_test_tmpdir());
    expect_error(args, "lr-schedule");
    snprintf(args, sizeof args, "train --data %s --out %s --steps 2", path_in("data"), path_in("corpus.txt"));
    expect_error(args, "not a directory");
    expect_error("train --data x --bogus 3", "unknown option '--bogus'");
    expect_error("train --data x --batch -2", "batch");

    /* a full disk at the next checkpoint: an error, and the old one intact */
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ulimit -f 128; trap '' XFSZ; exec %s train --data %s --out %s --dim 32 --n-layers 2 --n-heads 4 "
             "--n-kv-heads 2 --batch 2 --seq 32 --eval-every 4 --eval-batches 2 --warmup 2 --lr 3e-3 --min-lr 3e-4 "
             "-t 2 --steps 8 --checkpoint-every 2 --resume",
             bin(), path_in("data"), out);
    int rc = sh(cmd, &err);
    EXPECT(rc == 1, "(exit %d: %s)", rc, err ? err : "");
    EXPECT(err && strstr(err, "checkpoint.gguf: write failed"), "(%s)", err ? err : "");
    free(err);
    size_t ck_len2;
    char *ck_after = tu_read_file(ck, &ck_len2);
    EXPECT(ck_after && ck_len2 == ck_len && !memcmp(ck_before, ck_after, ck_len), "(the checkpoint changed)");
    free(ck_after);
    free(ck_before);
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", out);
    EXPECT(sh(cmd, NULL) == 1, "(a temp file was left behind)"); /* grep -c finds none: exit 1 */
    /* and the run continues from it once there is room */
    snprintf(args, sizeof args, "--steps 8 --resume");
    EXPECT(train(out, args, &err) == 0, "(%s)", err ? err : "");
    EXPECT(err && strstr(err, "at step 4"), "(%s)", err ? err : "");
    free(err);
}

TEST(train_cli_data_prepare) {
    const char *in = path_in("bad.txt"), *out = path_in("d");
    FILE *f = fopen(in, "wb");
    ASSERT(f);
    fputs("caf\xe9\n", f);
    fclose(f);
    char args[2048];
    snprintf(args, sizeof args, "data prepare --tokenizer %s %s -o %s", slm_test_data("trained/model.gguf"), in, out);
    expect_error(args, "not UTF-8");
    snprintf(args, sizeof args, "data prepare %s -o %s", in, out);
    expect_error(args, "--tokenizer");
    snprintf(args, sizeof args, "data prepare --tokenizer %s %s -o %s --val-fraction 2",
             slm_test_data("trained/model.gguf"), in, out);
    expect_error(args, "--val-fraction");
    ASSERT(make_data());
    char *rep = tu_read_file(path_in("stdout"), NULL);
    EXPECT(rep && strstr(rep, "documents read") && strstr(rep, "bytes per token"), "(%s)", rep ? rep : "");
    free(rep);
}
