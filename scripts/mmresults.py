"""The one reader of mmfree results folders (results/FORMAT.md).

bench-diff, plot and the bench summary all load results through here, so a
malformed file gives the same one-line error everywhere:

    ResultsError("results/latest/instructions.json: result 3 has no 'n'")
"""

import json
import math
import os
import re
import statistics

SCHEMA = "mmfree-instructions/1"
TIME_UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# The space figures of a phase, integers measured over it (results/FORMAT.md);
# files written before them have none, and read as None.
SPACE_FIELDS = ("pages_end", "header_bytes_written", "dirty_pages", "heap_bytes")
# What a metered Wasm result adds (scripts/count-instructions-wasm).
WASM_FIELDS = ("instructions_with_fees", "ic_instructions")
# Exact counts are 64-bit; a larger one is no count but a damaged file.
MAX_COUNT = 2 ** 63 - 1
# The names that key a figure: letters, digits, '_', '+', '-'; the key joins
# them with '.' and '/', so neither may appear in one.
NAME = re.compile(r"[A-Za-z0-9_+-]{1,64}")
# Benchmark names of other projects may hold more, but never a control
# character (a newline would inject lines into a report).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ResultsError(Exception):
    """A missing or malformed input; str() is one line naming the file."""


def key(workload, phase, design, n):
    return f"{workload}.{phase}/{design}/{n}"


def split_key(k):
    """'w.p/d/n' -> (family 'w.p/d', n) ; n is None when the last part is not a number."""
    family, _, last = k.rpartition("/")
    if family and last.isdigit():
        return family, int(last)
    return k, None


def split_family(family):
    """'w.p/d' -> ('w.p', 'd'). A name from another project's Google Benchmark
    file (no design part, or a numeric one: 'BM_copy/8') -> (family, '')."""
    workload, _, design = family.rpartition("/")
    if workload and design and not design.isdigit():
        return workload, design
    return family, ""


class Entry:
    """One measured figure: a design x workload phase at one N."""

    __slots__ = ("workload", "phase", "design", "n", "status", "reason", "instructions",
                 "ops", "per_op", "record") + SPACE_FIELDS + WASM_FIELDS

    def __init__(self, **kw):
        for s in self.__slots__:
            setattr(self, s, kw.get(s))

    @property
    def key(self):
        return key(self.workload, self.phase, self.design, self.n)

    @property
    def family(self):
        return f"{self.workload}.{self.phase}/{self.design}"

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def pages(self):
        """Linear-memory pages at the end of the phase, or, in a file that
        predates that figure, at the end of the whole workload (its record)."""
        return self.pages_end if self.pages_end is not None else (self.record or {}).get(
            "pages_end")

    def per(self, field):
        """A space figure per operation of the phase, or None when the file
        predates it (dirty pages and header bytes are compared this way)."""
        v = getattr(self, field)
        return None if v is None or not self.ops else v / self.ops


class Results:
    """instructions: key -> Entry ; times: key -> [ns per op, one per repetition]."""

    def __init__(self, path):
        self.path = path
        self.meta = {}
        self.instructions = {}
        self.times = {}
        self.time_errors = {}  # key -> reason (skipped or n/a in Google Benchmark)
        self.time_context = {}  # Google Benchmark's context: machine, load average
        self.process_times = {}  # hyperfine: command -> [seconds, one per run]
        self.hyperfine = []  # the same, in the file's order: [(command, [seconds])]
        self.hyperfine_context = {}  # load_avg and cpus, when scripts/hyperfine recorded them
        self.sources = []  # the files read, for messages


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise ResultsError(f"{path}: JSON nested too deeply to be a results file") from None


def _shown(v):
    """A bad value for a one-line message: its repr, cut short."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _need(path, obj, field, kind, where):
    """obj[field] as kind: int (a count, 0..2^63-1), float (finite, >= 0),
    str, or "name" (a key part, NAME) and "label" (any text without control
    characters). One line naming the file and the field otherwise."""
    if not isinstance(obj, dict) or field not in obj:
        raise ResultsError(f"{path}: {where} has no '{field}'")
    v = obj[field]
    bad = None
    if kind is int and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_COUNT):
        bad = "not a count (an integer from 0 to 2^63-1)"
    elif kind is float and (isinstance(v, bool) or not isinstance(v, (int, float))
                            or not math.isfinite(v) or v < 0):
        bad = "not a finite number >= 0"
    elif kind in (str, "name", "label") and not isinstance(v, str):
        bad = "not a string"
    elif kind == "name" and not NAME.fullmatch(v):
        bad = "not a name (1 to 64 letters, digits, '_', '+' or '-')"
    elif kind == "label" and (CONTROL.search(v) or not v or len(v) > 300):
        bad = "not a benchmark name (1 to 300 characters, none a control character)"
    elif kind is list and not isinstance(v, list):
        bad = "not a list"
    if bad:
        raise ResultsError(f"{path}: {where} has '{field}' = {_shown(v)}, {bad}")
    return v


def load_instructions(path, into):
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f"{path}: not an mmfree instructions file (schema is "
                           f"{doc.get('schema') if isinstance(doc, dict) else None!r}, "
                           f"not '{SCHEMA}')")
    results = doc.get("results")
    if not isinstance(results, list):
        raise ResultsError(f"{path}: 'results' is missing or not a list")
    into.meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    into.sources.append(path)
    for i, r in enumerate(results):
        where = f"result {i}"
        e = Entry(workload=_need(path, r, "workload", "name", where),
                  phase=_need(path, r, "phase", "name", where),
                  design=_need(path, r, "design", "name", where),
                  n=_need(path, r, "n", int, where),
                  status=_need(path, r, "status", str, where))
        if e.status == "ok":
            e.instructions = _need(path, r, "instructions", int, where)
            e.ops = _need(path, r, "ops", int, where)
            if e.ops <= 0:
                raise ResultsError(f"{path}: {where} has 'ops' = {e.ops}, not positive")
            e.per_op = e.instructions / e.ops
            e.record = r.get("record") if isinstance(r.get("record"), dict) else {}
            for f in SPACE_FIELDS + WASM_FIELDS:
                if f in r:
                    setattr(e, f, _need(path, r, f, int, where))
        elif e.status == "n/a":
            e.reason = r.get("reason") or "not applicable"
        else:
            raise ResultsError(f"{path}: {where} has status {e.status!r}, not 'ok' or 'n/a'")
        if e.key in into.instructions:
            raise ResultsError(f"{path}: {where} repeats {e.key}")
        into.instructions[e.key] = e


def load_gbench(path, into):
    doc = _read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a Google Benchmark JSON file (no 'benchmarks' list)")
    into.sources.append(path)
    if isinstance(doc.get("context"), dict):
        into.time_context = doc["context"]
        if not into.meta:
            into.meta = {"context": doc["context"]}
    aggregates = 0
    for i, b in enumerate(doc["benchmarks"]):
        where = f"benchmark {i}"
        name = _need(path, b, "name", "label", where)
        run_name = _need(path, b, "run_name", "label", where) if "run_name" in b else name
        if b.get("error_occurred"):
            into.time_errors[run_name] = str(b.get("error_message", "skipped"))
            continue
        run_type = _need(path, b, "run_type", str, where) if "run_type" in b else "iteration"
        if run_type != "iteration":
            aggregates += 1
            continue  # aggregates and complexity fits are recomputed, not trusted
        if "ns_per_op" in b:
            ns = _need(path, b, "ns_per_op", float, where)
        else:
            t = _need(path, b, "real_time", float, where)
            unit = _need(path, b, "time_unit", str, where) if "time_unit" in b else "ns"
            if unit not in TIME_UNITS_NS:
                raise ResultsError(f"{path}: {where} has unknown time_unit {unit!r}")
            ns = t * TIME_UNITS_NS[unit]
        into.times.setdefault(run_name, []).append(ns)
    if aggregates and not into.times:
        raise ResultsError(f"{path}: only aggregates, no repetitions to test (run without "
                           f"--benchmark_report_aggregates_only)")


def load_hyperfine(path, into):
    """hyperfine's --export-json: each command's run times, in seconds, and
    the context scripts/hyperfine adds (load_avg, cpus) when it is there."""
    doc = _read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ResultsError(f"{path}: not a hyperfine JSON file (no 'results' list)")
    into.sources.append(path)
    for i, r in enumerate(doc["results"]):
        where = f"result {i}"
        command = _need(path, r, "command", "label", where)
        times = r.get("times")
        if not isinstance(times, list) or not times:
            raise ResultsError(f"{path}: {where} has 'times' = {_shown(times)}, not a list of "
                               f"run times")
        into.process_times[command] = [_need(path, {"times": t}, "times", float, where)
                                       for t in times]
        into.hyperfine.append((command, into.process_times[command]))
    if isinstance(doc.get("context"), dict):
        into.hyperfine_context = doc["context"]


def load(path):
    """A results folder, or a single Google Benchmark (or instructions) JSON file."""
    res = Results(path)
    if os.path.isdir(path):
        ins = os.path.join(path, "instructions.json")
        gb = os.path.join(path, "gbench.json")
        hf = os.path.join(path, "hyperfine.json")
        if not os.path.exists(ins) and not os.path.exists(gb):
            raise ResultsError(f"{path}: no instructions.json or gbench.json in this folder")
        if os.path.exists(ins):
            load_instructions(ins, res)
        if os.path.exists(gb):
            load_gbench(gb, res)
        if os.path.exists(hf):
            load_hyperfine(hf, res)
    elif os.path.exists(path):
        doc = _read_json(path)
        if isinstance(doc, dict) and "schema" in doc:
            load_instructions(path, res)
        else:
            load_gbench(path, res)
    else:
        raise ResultsError(f"{path}: no such file or folder")
    return res


# ---------------------------------------------------------------------------
# Complexity: which class best explains a cost as a function of N.
# Fitted on per-operation instruction counts, which are exact; the same
# counts always give the same class (times would not: google/benchmark#272).
# ---------------------------------------------------------------------------

CLASSES = [
    ("O(1)", lambda n: 1.0),
    ("O(lg N)", lambda n: math.log2(n)),
    ("O(N)", lambda n: float(n)),
    ("O(N lg N)", lambda n: n * math.log2(n)),
    ("O(N^2)", lambda n: float(n) * n),
]
ORDER = {name: i for i, (name, _) in enumerate(CLASSES)}


# A cost whose fitted growth over the measured sizes stays below this
# fraction of its smallest value is flat: O(1).
FLAT_GROWTH = 0.10


def fit_complexity(points):
    """points: {n: cost per op}. Returns (class, slope, normalized rms), or
    (None, None, None) with fewer than 3 sizes.

    Each class is fitted as cost = a + b * f(N) by least squares, so a large
    constant part (setup, a fixed header scan) does not hide the growth as a
    fit through the origin would. The cost is O(1) when even the best fit
    grows by less than FLAT_GROWTH over the sizes measured; otherwise the
    class with the smallest residual wins, the lower class on a tie. The
    same counts always give the same class, so a class change is real."""
    pts = sorted((n, y) for n, y in points.items() if n and n > 1 and y is not None)
    if len(pts) < 3:
        return None, None, None
    ys = [y for _, y in pts]
    mean = sum(ys) / len(ys)
    if mean <= 0:
        return "O(1)", 0.0, 0.0
    flat_rms = math.sqrt(sum((y - mean) ** 2 for y in ys) / len(ys)) / mean
    best = None
    for name, f in CLASSES[1:]:
        fs = [f(n) for n, _ in pts]
        fm = sum(fs) / len(fs)
        var = sum((fx - fm) ** 2 for fx in fs)
        slope = sum((fx - fm) * (y - mean) for fx, y in zip(fs, ys)) / var
        if slope <= 0:
            continue
        icpt = mean - slope * fm
        rms = math.sqrt(sum((y - icpt - slope * fx) ** 2 for fx, y in zip(fs, ys)) / len(ys))
        growth = slope * (fs[-1] - fs[0])
        base = abs(icpt + slope * fs[0]) or mean
        if growth < FLAT_GROWTH * base:
            continue
        if best is None or rms / mean < best[2] * 0.999:
            best = (name, slope, rms / mean)
    return best or ("O(1)", 0.0, flat_rms)


# ---------------------------------------------------------------------------
# Figures as every report writes them (summary.md, REPORT.md, index.html,
# the verdict, the README): one rounding rule and one statistic, here only.
# ---------------------------------------------------------------------------

def over_resident_budget(entry, budget):
    """Why a run of entry (a line of `mmrun list --json`) is not made, when
    what it would commit is over --max-resident's budget; else None. The
    x86 and Wasm counters give the same reason."""
    if entry["resident_bytes"] <= budget:
        return None
    return (f"not run: {entry['workload']} at N = {entry['n']:,} would commit "
            f"{entry['resident_bytes'] >> 20:,} MiB of RAM, over the budget of "
            f"{int(budget) >> 20:,} MiB (--max-resident)")


def fmt_value(v):
    """Three significant digits, but whole numbers from 100 up, with
    thousands separators: 0.0123, 1.04, 63.7, 289, 22,838. None is 'n/a'."""
    if v is None:
        return "n/a"
    v = float(f"{v:.3g}") if abs(v) < 100 else v
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    return f"{v:.{max(0, 2 - math.floor(math.log10(abs(v))))}f}"


def fmt_ratio(v):
    """A ratio by the same rule, with its x: 1.04x, 79.4x, 1,361x."""
    return "n/a" if v is None else fmt_value(v) + "x"


def fmt_n(n):
    return f"{n:,}"


def time_stats(samples):
    """(median, first quartile, third quartile) of the repetitions of one
    timed run, or None. The one statistic of every time in every report:
    the median and the interquartile range (quartiles by linear
    interpolation, statistics.quantiles' 'inclusive' method, numpy's
    default; one repetition gives a range of zero width)."""
    if not samples:
        return None
    med = statistics.median(samples)
    if len(samples) < 2:
        return med, med, med
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return med, q[0], q[2]


def fmt_time(stats, unit=""):
    """'17.0 (16.7–17.9)' from time_stats: median (first–third quartile)."""
    if stats is None:
        return "n/a"
    med, lo, hi = stats
    return f"{fmt_value(med)}{unit} ({fmt_value(lo)}–{fmt_value(hi)}{unit})"


def md_table(header, rows):
    """A markdown table, as every report writes one."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def hyperfine_rows(runs):
    """The table of whole-process times every report gives: a row per
    hyperfine command, milliseconds as median (IQR), min–max and runs."""
    header = ["command", "ms, median (IQR)", "min–max", "runs"]
    rows = []
    for name, seconds in runs:
        ms = sorted(t * 1e3 for t in seconds)
        rows.append([f"`{name}`", fmt_time(time_stats(ms)),
                     f"{fmt_value(ms[0])}–{fmt_value(ms[-1])}", len(ms)])
    return header, rows


def complexity_label(points):
    """The complexity of a cost over N as every report writes it: the class
    fit_complexity gives from three sizes or more, the measured exponent
    with two ('~N^0.96, 2 sizes'), '' with fewer."""
    pts = {n: y for n, y in points.items() if n and y is not None and y > 0}
    cls = fit_complexity(pts)[0]
    if cls:
        return cls
    if len(pts) == 2:
        (n1, y1), (n2, y2) = sorted(pts.items())
        if n1 != n2:
            return f"~N^{math.log(y2 / y1) / math.log(n2 / n1):.2f}, 2 sizes"
    return ""


# ---------------------------------------------------------------------------
# The other files of a results folder, for the reports: each optional.
# ---------------------------------------------------------------------------

CRASH_SCHEMA = "mmfree-crash/1"
WRITE_COSTS_SCHEMA = "mmfree-write-costs/1"
DESIGNS_SCHEMA = "mmfree-designs/1"


def _listed(path, schema, what, field):
    """The list `field` of a JSON file whose schema must be `schema`."""
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise ResultsError(f"{path}: not an mmfree {what} file (schema is not '{schema}')")
    if not isinstance(doc.get(field), list):
        raise ResultsError(f"{path}: '{field}' is missing or not a list")
    return doc[field]


def load_designs(path):
    """designs.json (`mmrun designs --json`): {name: {"max_buckets": int,
    "can_free": bool, "reads_v1": bool, "reuses_all": bool}} in registry order."""
    out = {}
    for i, d in enumerate(_listed(path, DESIGNS_SCHEMA, "designs", "designs")):
        where = f"design {i}"
        name = _need(path, d, "name", str, where)
        out[name] = {"max_buckets": _need(path, d, "max_buckets", int, where)}
        for flag in ("can_free", "reads_v1", "reuses_all"):
            v = _need(path, d, flag, object, where)
            if not isinstance(v, bool):
                raise ResultsError(f"{path}: {where} has '{flag}' = {v!r}, not true or false")
            out[name][flag] = v
    return out


CRASH_MODES = ("plain", "durable")


def load_crash(path):
    """crash.json: [{"design", "scenario", "mode", "points", "survived"}]."""
    out = []
    for i, r in enumerate(_listed(path, CRASH_SCHEMA, "crash", "results")):
        where = f"result {i}"
        row = {f: _need(path, r, f, "name", where) for f in ("design", "scenario", "mode")}
        if row["mode"] not in CRASH_MODES:
            raise ResultsError(f"{path}: {where} has 'mode' = {_shown(row['mode'])}, not one "
                               f"of {', '.join(CRASH_MODES)}")
        for f in ("points", "survived"):
            row[f] = _need(path, r, f, int, where)
        if not 0 <= row["survived"] <= row["points"]:
            raise ResultsError(f"{path}: {where} survived {row['survived']} of "
                               f"{row['points']} points")
        out.append(row)
    return out


def load_write_costs(path):
    """write-costs.json (scripts/write-costs --json): (n, [{"design", ...}])
    with the totals of n grows, one free and n grows after it."""
    rows = _listed(path, WRITE_COSTS_SCHEMA, "write-costs", "results")
    n = _need(path, _read_json(path), "n", int, "the document")
    for i, r in enumerate(rows):
        _need(path, r, "design", str, f"result {i}")
        for f in ("header_bytes", "grow_bytes", "grow_writes", "free_bytes", "free_writes",
                  "regrow_bytes", "regrow_writes", "pages_after_grows", "pages_end"):
            _need(path, r, f, int, f"result {i}")
    return n, rows


def read_json(path):
    """Any JSON file of a results folder, with the one-line errors of this module."""
    return _read_json(path)


def load_report(path):
    """load(path) and, for a folder, the files the reports add when present:
    res.wasm (instructions_wasm.json, a Results), res.crash (crash.json),
    res.designs (designs.json), res.write_costs (write-costs.json),
    (res.hyperfine and res.hyperfine_context come from load). Each is None
    when absent."""
    res = load(path)
    res.wasm, res.crash, res.designs, res.write_costs = None, None, None, None
    if not os.path.isdir(path):
        return res
    def there(name):
        p = os.path.join(path, name)
        return p if os.path.exists(p) else None
    if there("instructions_wasm.json"):
        res.wasm = Results(there("instructions_wasm.json"))
        load_instructions(res.wasm.path, res.wasm)
    if there("crash.json"):
        res.crash = load_crash(there("crash.json"))
    if there("designs.json"):
        res.designs = load_designs(there("designs.json"))
    if there("write-costs.json"):
        res.write_costs = load_write_costs(there("write-costs.json"))
    return res
