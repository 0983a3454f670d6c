#!/usr/bin/python3
"""Writes tests/report/fixture/: a small synthetic results folder for the
report tests (results/FORMAT.md), with a base folder and a history.

The figures are invented shapes, not measurements: each design gets a cost
model with the complexity it is meant to have (flat, growing with N), so the
charts have something to show. Run it again after changing it; the output is
deterministic (no clock, no randomness).
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixture")

DESIGNS = ["v1", "v1reclaim", "bitmap15", "list", "freestack", "bitmap2l"]
SIZES = [1024, 4096, 16384, 32768, 131072]
V1_LAYOUT_MAX = 32768  # 15-bit bucket ids
SMALL_IDS = {"v1", "v1reclaim", "bitmap15"}

# (workload, phase) -> {design: (fixed, per_n) instructions per op, or a
# reason for n/a}. per_op = fixed + per_n * N: per_n = 0 is O(1).
CANNOT_FREE = "v1 cannot free"
COSTS = {
    ("grow_pages", "grow"): {"v1": (310, 0), "v1reclaim": (330, 0), "bitmap15": (300, 0.004),
                             "list": (360, 0), "freestack": (340, 0), "bitmap2l": (320, 0)},
    ("grow_one", "grow"): {"v1": (42, 0), "v1reclaim": (44, 0), "bitmap15": (43, 0),
                           "list": (48, 0), "freestack": (45, 0), "bitmap2l": (43, 0)},
    ("grow_spread", "grow"): {"v1": (330, 0), "v1reclaim": (350, 0), "bitmap15": (320, 0.004),
                              "list": (390, 0), "freestack": (360, 0), "bitmap2l": (335, 0)},
    ("free_regrow", "grow"): {"v1": (300, 0), "v1reclaim": (320, 0), "bitmap15": (295, 0.004),
                              "list": (350, 0), "freestack": (330, 0), "bitmap2l": (310, 0)},
    ("free_regrow", "free"): {"v1": CANNOT_FREE, "v1reclaim": (90, 0.02), "bitmap15": (70, 0),
                              "list": (60, 0), "freestack": (55, 0), "bitmap2l": (50, 0)},
    ("free_regrow", "regrow"): {"v1": CANNOT_FREE, "v1reclaim": (200, 0.5), "bitmap15": (150, 0.25),
                                "list": (180, 0), "freestack": (140, 0), "bitmap2l": (160, 0)},
    ("migrate", "build"): {"v1": CANNOT_FREE, "v1reclaim": (520, 0), "bitmap15": (500, 0.004),
                           "list": (560, 0), "freestack": (540, 0), "bitmap2l": (510, 0)},
    ("migrate", "free"): {"v1": CANNOT_FREE, "v1reclaim": (90, 0.02), "bitmap15": (70, 0),
                          "list": (60, 0), "freestack": (55, 0), "bitmap2l": (50, 0)},
    ("migrate", "grow"): {"v1": CANNOT_FREE, "v1reclaim": (200, 0.5), "bitmap15": (150, 0.25),
                          "list": (180, 0), "freestack": (140, 0), "bitmap2l": (160, 0)},
    ("migrate_repeat", "migrate"): {"v1": CANNOT_FREE, "v1reclaim": (700, 0.5),
                                    "bitmap15": (650, 0.25), "list": (690, 0),
                                    "freestack": (640, 0), "bitmap2l": (630, 0)},
    ("churn", "ops"): {"v1": CANNOT_FREE, "v1reclaim": (260, 0.3), "bitmap15": (220, 0.1),
                       "list": (240, 0), "freestack": (210, 0), "bitmap2l": (205, 0)},
    ("worst_scan", "grow"): {"v1": CANNOT_FREE, "v1reclaim": (260, 0.6), "bitmap15": (240, 0.45),
                             "list": (250, 0), "freestack": (200, 0), "bitmap2l": (215, 0)},
    ("rw_small", "rw"): {"v1": (52, 0), "v1reclaim": (52, 0), "bitmap15": (54, 0),
                         "list": (58, 0), "freestack": (53, 0), "bitmap2l": (53, 0)},
    ("rw_large", "rw"): {"v1": (265200, 0), "v1reclaim": (265200, 0), "bitmap15": (265300, 0),
                         "list": (265900, 0), "freestack": (265250, 0), "bitmap2l": (265250, 0)},
    ("reopen", "load"): {"v1": (30, 0), "v1reclaim": (31, 0), "bitmap15": (24, 2e-4),
                         "list": (45, 0), "freestack": (34, 0), "bitmap2l": (28, 0)},
}
RAW = {"small": 40, "large": 264900}

# Buckets each workload ends with, and whether the linear memory grows
# past them (bucket size 1 page, one header page; `list` grows its header).
MIGRATE_BUCKETS = 2


def header_pages(design, n):
    return 1 + (n * 8 + 65535) // 65536 if design == "list" else 1


# migrate_repeat grows N, then migrates N buckets 8 times (bench/workloads.c).
MIGRATE_REPEATS = 8


def record(workload, design, n):
    buckets = n * (MIGRATE_BUCKETS if workload in ("migrate", "migrate_repeat") else 1)
    reused = n if workload in ("free_regrow", "migrate", "worst_scan") else 0
    if workload == "migrate_repeat":  # every grow past the 2N buckets reuses one
        reused = (1 + MIGRATE_REPEATS) * n - buckets
    # v1reclaim reuses only what it freed last: one extra bucket per round.
    extra = 8 if design == "v1reclaim" and workload == "migrate_repeat" else 0
    return {"ops": n, "buckets_new": buckets + extra, "buckets_reused": reused,
            "pages_end": header_pages(design, n) + buckets + extra,
            "header_bytes_written": 2 * n + 64}


# Space figures of a phase (results/FORMAT.md), head only: the base stays
# in the older format without them. Invented shapes, as the costs are.
HEADER_BYTES = {"v1": 11, "v1reclaim": 11, "bitmap15": 2, "list": 56, "freestack": 17,
                "bitmap2l": 3}
HEAP_PER_BUCKET = {"v1": 4, "v1reclaim": 4, "bitmap15": 6, "list": 8, "freestack": 8,
                   "bitmap2l": 6}


def space(workload, design, n, rec):
    return {"pages_end": rec["pages_end"], "header_bytes_written": HEADER_BYTES[design] * n,
            "dirty_pages": n + n // (64 if design in ("list", "freestack") else 512),
            "heap_bytes": 4096 + HEAP_PER_BUCKET[design] * n}


def entries(sizes, scale=lambda w, p, d, n: 1.0, skip=(), with_space=False):
    out = []
    for (w, p), per_design in COSTS.items():
        for d in DESIGNS:
            for n in sizes:
                if (w, p, d) in skip:
                    continue
                model = per_design[d]
                if isinstance(model, str):
                    out.append({"workload": w, "phase": p, "design": d, "n": n,
                                "status": "n/a", "reason": model})
                    continue
                if n > V1_LAYOUT_MAX and d in SMALL_IDS:
                    out.append({"workload": w, "phase": p, "design": d, "n": n, "status": "n/a",
                                "reason": f"{d} holds at most {V1_LAYOUT_MAX} buckets"})
                    continue
                fixed, per_n = model
                per_op = (fixed + per_n * n) * scale(w, p, d, n)
                rec = record(w, d, n)
                out.append({"workload": w, "phase": p, "design": d, "n": n, "status": "ok",
                            "instructions": round(per_op * n), "ops": n,
                            "per_op": round(per_op * n) / n, "record": rec,
                            **(space(w, d, n, rec) if with_space else {})})
    for phase, cost in RAW.items():
        for n in sizes:
            out.append({"workload": "raw", "phase": phase, "design": "none", "n": n,
                        "status": "ok", "instructions": cost * n, "ops": n, "per_op": cost,
                        "record": {"ops": n, "buckets_new": 0, "buckets_reused": 0,
                                   "pages_end": 4, "header_bytes_written": 0}})
    return out


def write_instructions(path, commit, date, results, target=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    meta = {"commit": commit, "date": date, "valgrind": "valgrind-3.19.0",
            "host": "fixture", "seed": 1, **({"target": target} if target else {})}
    # One result a line: small diffs when the fixture changes.
    lines = ",\n".join("    " + json.dumps(r, sort_keys=True) for r in results)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n  "schema": "mmfree-instructions/1",\n')
        f.write(f'  "meta": {json.dumps(meta, sort_keys=True)},\n')
        f.write(f'  "results": [\n{lines}\n  ]\n}}\n')


TIMED = [("grow_pages", "grow"), ("worst_scan", "grow"), ("free_regrow", "free"),
         ("free_regrow", "regrow"), ("reopen", "load"), ("rw_small", "rw")]
REPS = 5


def write_gbench(path, results):
    """Google Benchmark JSON for the phases the time chart draws: 5
    repetitions, wall-clock taken as 0.35 ns per instruction with a
    deterministic wobble per repetition, plus a median aggregate."""
    benches = []
    for r in results:
        if (r["workload"], r["phase"]) not in TIMED:
            continue
        name = f'{r["workload"]}.{r["phase"]}/{r["design"]}/{r["n"]}'
        if r["status"] != "ok":
            benches.append({"name": name, "run_name": name, "run_type": "iteration",
                            "error_occurred": True, "error_message": r["reason"]})
            continue
        reps = []
        for rep in range(REPS):
            ns = r["per_op"] * 0.35 * (1.0 + 0.02 * ((rep * 7 + r["n"] // 1024) % 5 - 2))
            reps.append(ns)
            benches.append({"name": name, "run_name": name, "run_type": "iteration",
                            "repetitions": REPS, "repetition_index": rep, "threads": 1,
                            "iterations": 1, "real_time": ns * r["ops"], "cpu_time": ns * r["ops"],
                            "time_unit": "ns", "ops": r["ops"], "ns_per_op": round(ns, 3),
                            "buckets_new": r["record"]["buckets_new"],
                            "buckets_reused": r["record"]["buckets_reused"],
                            "pages_end": r["record"]["pages_end"],
                            "header_bytes_written": r["record"]["header_bytes_written"]})
        med = sorted(reps)[REPS // 2]
        benches.append({"name": name + "_median", "run_name": name, "run_type": "aggregate",
                        "aggregate_name": "median", "repetitions": REPS, "threads": 1,
                        "iterations": REPS, "real_time": med * r["ops"], "cpu_time": med * r["ops"],
                        "time_unit": "ns", "ns_per_op": round(med, 3)})
    doc = {"context": {"date": "2026-11-25T10:00:00+00:00", "host_name": "fixture",
                       "executable": "build/gbench", "num_cpus": 2,
                       "library_build_type": "release", "load_avg": [0.5, 0.75, 0.8],
                       "load_avg_sampled": "highest 1-minute load as each workload ended"},
           "benchmarks": benches}
    lines = ",\n".join("    " + json.dumps(b, sort_keys=True) for b in benches)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n  "context": ' + json.dumps(doc["context"], sort_keys=True) + ",\n")
        f.write(f'  "benchmarks": [\n{lines}\n  ]\n}}\n')


def write_json(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


# The registry as `mmrun designs --json` prints it: bitmap2l, a design the
# palette does not know, frees, reuses and upgrades V1 like the others.
FLAGS = {"v1": (32768, False, False, False), "v1reclaim": (32768, True, False, False),
         "bitmap15": (32768, True, True, True), "list": (4294967294, True, True, True),
         "freestack": (48408184, True, True, True), "bitmap2l": (32768, True, True, True)}


def write_designs(path):
    write_json(path, {"schema": "mmfree-designs/1", "designs": [
        {"name": d, "description": f"fixture design {d}", "max_buckets": m, "can_free": f,
         "reads_v1": r, "reuses_all": a} for d, (m, f, r, a) in FLAGS.items()]})


def write_crash(path):
    """crash.json as the crash harness writes it: two scenarios, both modes;
    v1reclaim loses one point of its plain free."""
    results = []
    for d in DESIGNS:
        for scenario in ("grow_new", "free"):
            if scenario == "free" and d == "v1":
                continue
            for mode in ("plain", "durable"):
                lost = 1 if (d, scenario, mode) == ("v1reclaim", "free", "plain") else 0
                results.append({"design": d, "scenario": scenario, "mode": mode, "points": 12,
                                "survived": 12 - lost})
    write_json(path, {"schema": "mmfree-crash/1", "meta": {"commit": "c0ffee1d15ea5e"},
                      "results": results})


def write_wasm(path, head):
    """instructions_wasm.json: the same schema, metered Wasm instructions
    (taken as 1.6 per x86 instruction) and, with fees, 400 more per op."""
    out = []
    for r in head:
        if r["design"] == "none" or (r["workload"], r["phase"]) not in TIMED:
            continue
        r = {k: v for k, v in r.items() if k not in ("pages_end", "header_bytes_written",
                                                      "dirty_pages", "heap_bytes")}
        if r["status"] == "ok":
            r["instructions"] = round(r["instructions"] * 1.6)
            r["per_op"] = r["instructions"] / r["ops"]
            r["instructions_with_fees"] = r["instructions"] + 400 * r["ops"]
        out.append(r)
    write_instructions(path, "c0ffee1d15ea5e", "2026-11-25T10:00:00Z", out, target="wasm32")


def write_hyperfine(path, head):
    """hyperfine --export-json of whole mmrun processes at N = 16,384, with
    the load average scripts/hyperfine records beside."""
    results = []
    for w in ("grow_pages", "reopen"):
        for r in head:
            if (r["workload"], r["n"], r["status"]) != (w, 16384, "ok"):
                continue
            base = 0.001 + r["per_op"] * r["ops"] * 0.35e-9
            times = [base * (1 + 0.03 * ((i * 5) % 7 - 3)) for i in range(10)]
            results.append({"command": f"{w}/{r['design']}/16384", "times": times,
                            "mean": sum(times) / 10, "median": sorted(times)[5],
                            "min": min(times), "max": max(times)})
    write_json(path, {"results": results, "context": {"load_avg": [0.4, 0.6, 0.7], "cpus": 2}})


# What changed between base and head: at least one benchmark of every
# design, both ways, plus one benchmark that only head has.
BASE_SCALE = {
    ("grow_pages", "grow", "v1"): 1.03,         # head 3% cheaper
    ("free_regrow", "free", "v1reclaim"): 0.9,  # head 11% dearer
    ("worst_scan", "grow", "bitmap15"): 1.4,    # head 29% cheaper
    ("reopen", "load", "list"): 0.92,
    ("grow_one", "grow", "freestack"): 0.985,
    ("free_regrow", "regrow", "bitmap2l"): 1.25,
    ("grow_spread", "grow", "list"): 1.004,    # head 0.4% cheaper: within the threshold
}


def main():
    head = entries(SIZES, with_space=True)
    write_instructions(os.path.join(OUT, "instructions.json"), "c0ffee1d15ea5e",
                       "2026-11-25T10:00:00Z", head)
    write_gbench(os.path.join(OUT, "gbench.json"), head)
    write_designs(os.path.join(OUT, "designs.json"))
    write_crash(os.path.join(OUT, "crash.json"))
    write_wasm(os.path.join(OUT, "instructions_wasm.json"), head)
    write_hyperfine(os.path.join(OUT, "hyperfine.json"), head)
    base = entries(SIZES, scale=lambda w, p, d, n: BASE_SCALE.get((w, p, d), 1.0),
                   skip={("churn", "ops", "bitmap2l")})
    write_instructions(os.path.join(OUT, "base", "instructions.json"), "ba5eba11",
                       "2026-11-24T10:00:00Z", base)
    # History: four commits on main at N = 32,768, bitmap2l arriving in the
    # third, bitmap15's scan made cheaper in the last.
    for i, (day, commit) in enumerate([("2026-11-21", "1111aaa"), ("2026-11-22", "2222bbb"),
                                       ("2026-11-23", "3333ccc"), ("2026-11-24", "ba5eba11")]):
        def scale(w, p, d, n, i=i):
            drift = 1.0 + 0.04 * (3 - i)
            return drift * (1.5 if d == "bitmap15" and w == "worst_scan" and i < 3 else 1.0)
        skip = {(w, p, "bitmap2l") for (w, p) in COSTS} if i < 2 else set()
        write_instructions(os.path.join(OUT, "history", f"{day}-{commit}.json"), commit,
                           f"{day}T10:00:00Z", entries([32768], scale=scale, skip=skip))


if __name__ == "__main__":
    main()
