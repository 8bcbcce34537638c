"""Seeded calls of every column KPI through ``kpi_xl.compute``, one JSON line per call:
the value, n, margin and measures as hex floats, or the sentence the call raised. Run it
from two trees and compare the outputs byte for byte: the same lines mean the same
numbers to the last bit and the same messages (issue 14 §2: each shortcut of the Excel
functions must change no result).

Calls: every column KPI, variant and unit option, options left None as Excel leaves them,
ranges of 0 to 3,000 cells as lists, tuples and float (or object) arrays, with junk at
shares from 0 to 30 %: blanks, NaN of either sign, infinities, -0.0, negatives, 2 and 0.5
in yes/no columns, 1e308, subnormals, numbers as text, N/A, Y/no, TRUE/FALSE, Excel
errors, empty text.

    git archive main | tar -x -C /tmp/main
    python bench/same_results.py /tmp/main 7 20000 > main.txt
    python bench/same_results.py . 7 20000 > branch.txt
    cmp main.txt branch.txt
"""
import json, math, random, sys, warnings
sys.path.insert(0, sys.argv[1])
import numpy as np
from kpi_xl.render import arrays
from kpi_xl.render.arrays import compute
from kpi_xl.errors import KpiError
warnings.simplefilter("ignore")
seed, count = int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
KPIS = sorted((k for k in arrays.CATALOG.values() if k.column_inputs), key=lambda k: k.key)
JUNK = [None, math.nan, -math.nan, math.inf, -math.inf, -0.0, -1.0, -1e-300, 2.0, 0.5, 1e308,
        11.0, 1e-320, "12", "N/A", "Y", "no", True, False, "#N/A", " ", ""]

def cell(kind, share_junk):
    if rng.random() < share_junk:
        return rng.choice(JUNK)
    if kind == "flag":
        return rng.choice([0.0, 1.0, 1.0, None])
    if kind == "score":
        return float(rng.randint(0, 10)) if rng.random() < 0.9 else rng.choice([None, "N/A"])
    if kind == "category":
        return rng.choice(["phone", "chat", "email", "Phone", None, "social"])
    return rng.choice([float(rng.randint(0, 90)), rng.uniform(0, 500), None])

def column(kind, size):
    share = rng.choice([0.0, 0.0, 0.0, 0.001, 0.02, 0.3])
    nonblank = rng.random() < 0.4
    cells = [cell(kind, share) for _ in range(size)]
    if nonblank:
        cells = [c if c is not None else (1.0 if kind == "flag" else "chat" if kind == "category" else 3.0) for c in cells]
    shape = rng.choice(["list", "tuple", "array", "array", "array"])
    if shape == "array" and kind != "category":
        vals = []
        for c in cells:
            if c is None: vals.append(math.nan)
            elif isinstance(c, bool): vals.append(2.0 if c else -0.0)
            elif isinstance(c, (int, float)): vals.append(float(c))
            else: vals.append(math.nan)
        return np.array(vals, float)
    if shape == "array":
        return np.array(cells, object)
    return tuple(cells) if shape == "tuple" else cells

def hexed(v):
    return None if v is None else float(v).hex()

for i in range(count):
    kpi = rng.choice(KPIS)
    variant = rng.choice([None, *kpi.variant_names])
    size = rng.choice([0, 1, 2, 3, 5, 10, 40, 257, 300, 1000, 3000])
    inputs = {}
    for inp in kpi.inputs:
        if inp.is_column:
            if inp.optional and rng.random() < 0.5:
                continue
            inputs[inp.name] = column(inp.kind, size)
        else:
            inputs[inp.name] = rng.choice([12.0, 3, None, 0.0, -1.0])
    for p in kpi.params:
        if rng.random() < 0.3:
            inputs[p.name] = None
    unit = rng.choice([None, None, None, "minutes", "seconds"]) if kpi.duration_inputs else None
    if unit:
        inputs["unit"] = unit
    try:
        r = compute(kpi.key, variant, **inputs)
        out = [hexed(r.value), hexed(r.n), hexed(r.margin),
               {k: hexed(v) for k, v in r.measures.items()}]
    except KpiError as e:
        out = str(e)
    except (OverflowError, ValueError, TypeError) as e:
        out = f"{type(e).__name__}: {e}"
    print(json.dumps([i, kpi.key, variant, size, out]))
