"""Results folders with known figures, for the tests of scripts/bench-diff.

    python3 tests/scripts/diffdata.py   # rewrites fixtures/diff/{base,new}

The fixture pair holds one change of every kind bench-diff reports (and the
golden markdown in fixtures/diff/golden.md is bench-diff's output on it:
see test_golden_markdown for the command that rewrites it)."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "diff")
CONTEXT = {"date": "2026-11-25T10:00:00+00:00", "host_name": "ci", "num_cpus": 2,
           "load_avg": [0.5, 0.5, 0.5], "mmfree_cpu_model": "Test CPU",
           "mmfree_calibration_ns": 10.0}


def entry(key, fig):
    """One instructions.json result. fig: instructions per op; None for n/a;
    or a dict with per_op (None for n/a, with its reason) and any of the
    space figures: pages_end, heap_bytes, and dirty and bytes per op."""
    family, n = key.rsplit("/", 1)
    wp, design = family.split("/")
    workload, phase = wp.split(".")
    r = {"workload": workload, "phase": phase, "design": design, "n": int(n)}
    if not isinstance(fig, dict):
        fig = {"per_op": fig}
    if fig["per_op"] is None:
        r.update(status="n/a", reason=fig.get("reason", f"{design} cannot do this"))
        return r
    ops = int(n)
    r.update(status="ok", instructions=round(fig["per_op"] * ops), ops=ops,
             per_op=fig["per_op"])
    if "pages_end" in fig:
        r.update(pages_end=fig["pages_end"], header_bytes_written=round(fig["bytes"] * ops),
                 dirty_pages=round(fig["dirty"] * ops), heap_bytes=fig["heap"])
    r["record"] = {"ops": ops}
    return r


def spread_out(ns, reps, width=0.0025):
    """reps samples around ns, width apart (relative)."""
    return [ns * (1 + (i - reps // 2) * width) for i in range(reps)]


def write_results(folder, figures, times=None, commit="0" * 40, reps=9, context=None,
                  hyperfine=None):
    """A results folder as `make bench` writes it. figures: key -> entry()'s
    fig. times: key -> ns per op, one per repetition, or one figure spread
    into reps repetitions 0.25% apart. hyperfine: command -> seconds per run."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "instructions.json"), "w") as f:
        json.dump({"schema": "mmfree-instructions/1", "meta": {"commit": commit, "seed": 1},
                   "results": [entry(k, v) for k, v in figures.items()]}, f, indent=1)
    if times is not None:
        benchmarks = []
        for k, samples in times.items():
            if not isinstance(samples, list):
                samples = spread_out(samples, reps)
            for i, ns in enumerate(samples):
                benchmarks.append({"name": k, "run_name": k, "run_type": "iteration",
                                   "repetitions": len(samples), "repetition_index": i,
                                   "iterations": 10, "real_time": ns * 100,
                                   "cpu_time": ns * 100, "time_unit": "ns", "ops": 100,
                                   "ns_per_op": ns})
            benchmarks.append({"name": k + "_median", "run_name": k, "run_type": "aggregate",
                               "aggregate_name": "median", "real_time": 1.0, "cpu_time": 1.0,
                               "time_unit": "ns", "ns_per_op": 1.0})
        with open(os.path.join(folder, "gbench.json"), "w") as f:
            json.dump({"context": context or {"date": CONTEXT["date"]},
                       "benchmarks": benchmarks}, f, indent=1)
    if hyperfine is not None:
        results = [{"command": c, "mean": sum(t) / len(t), "times": t}
                   for c, t in hyperfine.items()]
        with open(os.path.join(folder, "hyperfine.json"), "w") as f:
            json.dump({"results": results}, f, indent=1)
    return folder


def space(per_op, pages, dirty=0.5, bytes_=11.0, heap=8000):
    return {"per_op": per_op, "pages_end": pages, "dirty": dirty, "bytes": bytes_, "heap": heap}


SIZES = (1024, 4096, 16384)
OVER_BUDGET = ("not measured: about 1.4G instructions at N = 16384 (extrapolated from N = 1024 "
               "and 4096), over the budget of 0.3G per run")


def fixture():
    """(base figures, new figures, base times, new times, base hyperfine, new hyperfine)."""
    base, new = {}, {}
    for n in SIZES:
        k = f"/{n}"
        base["grow_pages.grow/v1" + k] = space(183.0, n + 1, 1 / n, 11.0, 6500)
        new["grow_pages.grow/v1" + k] = space(183.9, n + 1, 1 / n, 11.0, 6500)
        base["grow_pages.grow/bitmap15" + k] = space(200.0, n + 1, 1 / n, 2.0, 70000)
        new["grow_pages.grow/bitmap15" + k] = space(203.0 if n == 4096 else 200.0, n + 1,
                                                    1 / n, 2.0, 70000)
        # list: the scenario, pages doubled and bytes written tripled.
        base["free_regrow.regrow/list" + k] = space(300.0, n + 1, 2 / n, 52.0, 9000)
        new["free_regrow.regrow/list" + k] = space(291.0, 2 * n + 2, 2 / n, 156.0, 9000)
        # freestack: a migrate free that dirties one page more per bucket.
        base["migrate.free/freestack" + k] = space(81.0, 2 * n + 1, 16.0, 4.0, 9000)
        new["migrate.free/freestack" + k] = space(81.0, 2 * n + 1, 17.0, 4.0, 9000)
        # freestack: a grow that became O(N).
        base["worst_scan.grow/freestack" + k] = space(50.0, n + 1, 1 / n, 17.0, 9000)
        new["worst_scan.grow/freestack" + k] = space(50.0 * n / 1024, n + 1, 1 / n, 17.0, 9000)
        # hbitmap15: heap bytes up 0.5% (below the threshold), then 5% at the top.
        base["reopen.load/hbitmap15" + k] = space(300.0 * n, n + 1, 0.0, 0.0, 70000)
        new["reopen.load/hbitmap15" + k] = space(300.0 * n, n + 1, 0.0, 0.0,
                                                 73500 if n == 16384 else 70350)
        # bitmap15: the largest size over NEW's budget: "not measured", and
        # too few sizes on both sides to fit a class.
        base["worst_scan.grow/bitmap15" + k] = space(10.0 * n, n + 1, 1 / n, 2.0, 70000)
        new["worst_scan.grow/bitmap15" + k] = (space(10.0 * n, n + 1, 1 / n, 2.0, 70000)
                                               if n < 16384 else
                                               {"per_op": None, "reason": OVER_BUDGET})
    base["churn.ops/v1reclaim/1024"] = space(95.0, 600, 0.2, 9.0, 9000)
    new["churn.ops/bitmap15/1024"] = space(80.0, 600, 0.2, 2.0, 70000)
    base["free_regrow.free/v1/1024"] = new["free_regrow.free/v1/1024"] = None
    bt = {"grow_pages.grow/v1/4096": 100.0, "grow_pages.grow/bitmap15/4096": 100.0,
          "worst_scan.grow/freestack/16384": 40.0,
          # 10% slower, but the repetitions spread over 40%: moved, not listed.
          "reopen.load/hbitmap15/4096": spread_out(1000.0, 9, 0.05)}
    nt = {"grow_pages.grow/v1/4096": 100.5, "grow_pages.grow/bitmap15/4096": 112.0,
          "worst_scan.grow/freestack/16384": 400.0,
          "reopen.load/hbitmap15/4096": spread_out(1100.0, 9, 0.05)}
    bh = {"grow_pages/v1/16384": spread_out(0.0015, 10, 0.002),
          "churn/list/16384": spread_out(0.0020, 10, 0.002)}
    nh = {"grow_pages/v1/16384": spread_out(0.00151, 10, 0.002),
          "churn/list/16384": spread_out(0.0026, 10, 0.002)}
    return base, new, bt, nt, bh, nh


def write_fixture(folder=FIXTURES):
    base, new, bt, nt, bh, nh = fixture()
    calibrated = dict(CONTEXT, mmfree_calibration_ns=10.2)
    write_results(os.path.join(folder, "base"), base, bt, "3f2a9c1e0b" + "0" * 30,
                  context=CONTEXT, hyperfine=bh)
    write_results(os.path.join(folder, "new"), new, nt, "9b1c7d2e4f" + "1" * 30,
                  context=calibrated, hyperfine=nh)


if __name__ == "__main__":
    write_fixture()
