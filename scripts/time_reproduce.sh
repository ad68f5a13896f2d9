#!/usr/bin/env bash
# `make reproduce` (smoke preset, empty run store) with the default parallel
# executor, then the same forced serial (WORKERS=1), one after the other on
# this machine; prints both wall clocks and their ratio (docs/SCALING.md,
# section 6).  Usage: scripts/time_reproduce.sh [OUTPUT_DIR]
set -euo pipefail
out=${1:-/tmp/milenas-time-reproduce}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$out"
for layout in parallel serial; do
    rm -rf "${out:?}/$layout"
    workers=$([ "$layout" = serial ] && echo 1 || echo "")
    start=$(date +%s)
    WORKERS=$workers "$python" -m milenas_lib reproduce --preset smoke --output-root "$out/$layout" \
        > "$out/$layout.log" 2>&1
    echo $(( $(date +%s) - start )) > "$out/$layout.seconds"
    echo "$layout: $(cat "$out/$layout.seconds") s (log: $out/$layout.log)"
done
"$python" -c "p, s = (float(open(f'$out/{n}.seconds').read()) for n in ('parallel', 'serial')); \
print(f'parallel / serial: {p / s:.2f}')"
