#!/usr/bin/env python3
"""extract_margins.py — turns each golden model folder's meta.json into
margins.<T>.txt files the C tests read without a JSON parser: one line per
array, "<name> v0 v1 ...", for the top-1 margins of llama.cpp's runs
(prompt positions and greedy steps, for the quantized file and for its
dequantized-F32 run). Run from tests/data/models after copying new goldens."""
import json, os, sys
root = os.path.dirname(os.path.abspath(__file__))
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d, 'meta.json')
    if not os.path.exists(p):
        continue
    m = json.load(open(p))
    for t, v in m['variants'].items():
        with open(os.path.join(root, d, 'margins.%s.txt' % t), 'w') as f:
            for k in ('prompt_top1_margin', 'greedy_top1_margin', 'prompt_deqf32_top1_margin', 'greedy_deqf32_top1_margin'):
                if k in v:
                    f.write(k + ' ' + ' '.join('%.6g' % x for x in v[k]) + '\n')

# the trained model: greedy margins per prompt, one line each ("prompt<k> ...")
tdir = os.path.join(root, '..', 'trained')
for variant, fname in (('F32', 'greedy.json'), ('Q8_0', 'greedy.Q8_0.json')):
    p = os.path.join(tdir, fname)
    if os.path.exists(p):
        g = json.load(open(p))
        with open(os.path.join(tdir, 'margins.%s.txt' % variant), 'w') as f:
            for k, e in enumerate(g):
                f.write('prompt%d ' % k + ' '.join('%.6g' % x for x in e['greedy_top1_margin']) + '\n')
