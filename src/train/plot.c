/*
 * plot.c — the loss-curve picture of a training run (out/loss.svg), written
 * by hand: train loss as a line (averaged into at most 1000 points), the
 * validation loss as a line with dots, "nice" axis ticks (1, 2, 5 x 10^k),
 * a legend. Written to a temp file and renamed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "train/trainer.h"

#define W 800
#define H 450
#define ML 70 /* margins: left, right, top, bottom */
#define MR 20
#define MT 40
#define MB 50
#define MAX_POINTS 1000

static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

typedef struct {
    double x0, x1, y0, y1;
} frame;

static double px(const frame *f, double x) { return ML + (x - f->x0) / (f->x1 - f->x0) * (W - ML - MR); }
static double py(const frame *f, double y) { return H - MB - (y - f->y0) / (f->y1 - f->y0) * (H - MT - MB); }

slm_status slm_loss_svg_write(const char *path, const slm_train_log_row *rows, int64_t n, const char *title) {
    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    int64_t n_train = 0, n_val = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = (double)rows[i].step;
        bool has_l = isfinite(rows[i].loss), has_v = isfinite(rows[i].val_loss);
        if (!has_l && !has_v) continue;
        f.x0 = fmin(f.x0, s), f.x1 = fmax(f.x1, s);
        if (has_l) f.y0 = fmin(f.y0, rows[i].loss), f.y1 = fmax(f.y1, rows[i].loss), n_train++;
        if (has_v) f.y0 = fmin(f.y0, rows[i].val_loss), f.y1 = fmax(f.y1, rows[i].val_loss), n_val++;
    }
    if (n_train + n_val == 0) f = (frame){0, 1, 0, 1};
    if (f.x1 <= f.x0) f.x1 = f.x0 + 1;
    if (f.y1 <= f.y0) f.y0 -= 0.5, f.y1 += 0.5;
    double ys = nice_step(f.y1 - f.y0, 6), xs = nice_step(f.x1 - f.x0, 8);
    f.y0 = floor(f.y0 / ys) * ys;
    f.y1 = ceil(f.y1 / ys) * ys;

    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *o = fopen(tmp, "w");
    if (!o) {
        slm_status st = slm_err(SLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(o, "<text x=\"%d\" y=\"24\" font-size=\"15\">", ML);
    for (const char *c = title ? title : ""; *c; c++) { /* XML-escape the title */
        if (*c == '<') fputs("&lt;", o);
        else if (*c == '>') fputs("&gt;", o);
        else if (*c == '&') fputs("&amp;", o);
        else fputc(*c, o);
    }
    fprintf(o, "</text>\n");
    /* grid and ticks */
    for (double y = f.y0; y <= f.y1 + ys * 1e-6; y += ys)
        fprintf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                ML, py(&f, y), W - MR, py(&f, y), ML - 6, py(&f, y) + 4, y);
    for (double x = ceil(f.x0 / xs) * xs; x <= f.x1 + xs * 1e-6; x += xs)
        fprintf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                px(&f, x), MT, px(&f, x), H - MB, px(&f, x), H - MB + 16, x);
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", ML, MT,
            W - ML - MR, H - MT - MB);
    fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n", (ML + W - MR) / 2, H - 12);
    fprintf(o, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">loss</text>\n",
            (MT + H - MB) / 2, (MT + H - MB) / 2);
    /* train loss: bucket averages */
    if (n_train > 0) {
        int64_t per = (n_train + MAX_POINTS - 1) / MAX_POINTS, k = 0;
        double sx = 0, sy = 0;
        fprintf(o, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(rows[i].loss)) continue;
            sx += (double)rows[i].step, sy += rows[i].loss, k++;
            if (k == per) {
                fprintf(o, "%.1f,%.1f ", px(&f, sx / k), py(&f, sy / k));
                sx = sy = 0, k = 0;
            }
        }
        if (k) fprintf(o, "%.1f,%.1f ", px(&f, sx / k), py(&f, sy / k));
        fprintf(o, "\"/>\n");
    }
    if (n_val > 0) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" points=\"");
        for (int64_t i = 0; i < n; i++)
            if (isfinite(rows[i].val_loss))
                fprintf(o, "%.1f,%.1f ", px(&f, (double)rows[i].step), py(&f, rows[i].val_loss));
        fprintf(o, "\"/>\n");
        if (n_val <= 200)
            for (int64_t i = 0; i < n; i++)
                if (isfinite(rows[i].val_loss))
                    fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#ff7f0e\"/>\n",
                            px(&f, (double)rows[i].step), py(&f, rows[i].val_loss));
    }
    /* legend */
    int lx = W - MR - 150, ly = MT + 10;
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"140\" height=\"44\" fill=\"white\" stroke=\"#ccc\"/>\n", lx, ly);
    fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
               "<text x=\"%d\" y=\"%d\">train loss</text>\n", lx + 8, ly + 15, lx + 30, ly + 15, lx + 36, ly + 19);
    fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>"
               "<text x=\"%d\" y=\"%d\">validation loss</text>\n", lx + 8, ly + 33, lx + 30, ly + 33, lx + 36, ly + 37);
    fprintf(o, "</svg>\n");
    bool ok = !ferror(o);
    if (fclose(o) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    slm_status st = SLM_OK;
    if (!ok) {
        st = slm_err(SLM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return st;
}
