"""Tests of scripts/bench-diff: synthetic result sets with known changes, malformed
inputs, the output formats (with a golden markdown file) and a real run of
callgrind on two builds, one with the test-only slowdown switch."""

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIFF = os.path.join(ROOT, "scripts", "bench-diff")
FIXTURES = os.path.join(ROOT, "tests", "scripts", "fixtures", "diff")
SIZES = (1024, 4096, 16384)


def write_results(folder, figures, times=None, commit="0" * 40, reps=9):
    """A results folder as `make bench` writes it. figures: key -> instructions
    per op, or None for n/a. times: key -> ns per op, one per repetition, or a
    single figure that is spread into `reps` repetitions around it."""
    os.makedirs(folder, exist_ok=True)
    results = []
    for k, per_op in figures.items():
        family, n = k.rsplit("/", 1)
        wp, design = family.split("/")
        workload, phase = wp.split(".")
        r = {"workload": workload, "phase": phase, "design": design, "n": int(n)}
        if per_op is None:
            r.update(status="n/a", reason=f"{design} cannot do this")
        else:
            ops = int(n)
            r.update(status="ok", instructions=round(per_op * ops), ops=ops, per_op=per_op,
                     record={"ops": ops})
        results.append(r)
    with open(os.path.join(folder, "instructions.json"), "w") as f:
        json.dump({"schema": "mmfree-instructions/1",
                   "meta": {"commit": commit, "seed": 1}, "results": results}, f, indent=1)
    if times is None:
        return folder
    benchmarks = []
    for k, samples in times.items():
        if not isinstance(samples, list):  # a spread of +-1% around the figure
            samples = [samples * (1 + (i - reps // 2) * 0.0025) for i in range(reps)]
        for i, ns in enumerate(samples):
            benchmarks.append({"name": k, "run_name": k, "run_type": "iteration",
                               "repetitions": len(samples), "repetition_index": i,
                               "iterations": 10, "real_time": ns * 100, "cpu_time": ns * 100,
                               "time_unit": "ns", "ops": 100, "ns_per_op": ns})
        benchmarks.append({"name": k + "_median", "run_name": k, "run_type": "aggregate",
                           "aggregate_name": "median", "real_time": 1.0, "cpu_time": 1.0,
                           "time_unit": "ns", "ns_per_op": 1.0})
    with open(os.path.join(folder, "gbench.json"), "w") as f:
        json.dump({"context": {"date": "2026-11-25T10:00:00+00:00"},
                   "benchmarks": benchmarks}, f, indent=1)
    return folder


def run(*args):
    p = subprocess.run([BENCH_DIFF, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bench-diff-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def pair(self, base, new, base_times=None, new_times=None, reps=9):
        return (write_results(os.path.join(self.tmp, "base"), base, base_times, reps=reps),
                write_results(os.path.join(self.tmp, "new"), new, new_times, "1" * 40, reps))

    def diff_json(self, base, new, *options, expect_exit):
        code, out, err = run("--format", "json", *options, base, new)
        self.assertEqual(code, expect_exit, err + out)
        self.assertEqual(err, "")
        return json.loads(out)

    def rows(self, doc, kind="instructions"):
        return {f"{r['workload']}/{r['design']}/{r['n']}": r
                for r in doc["rows"] if r["kind"] == kind}


def flat(family, per_op, sizes=SIZES):
    return {f"{family}/{n}": per_op for n in sizes}


class KnownChanges(Case):
    def test_identical_inputs_change_exactly_zero(self):
        base = os.path.join(FIXTURES, "base")
        doc = self.diff_json(base, base, expect_exit=0)
        self.assertTrue(doc["rows"])
        for r in doc["rows"]:
            if r["kind"] in ("instructions", "time") and r["verdict"] != "n/a":
                self.assertEqual(r["change"], 0.0, r)
                self.assertEqual(r["verdict"], "unchanged", r)
        self.assertEqual(doc["counts"].get("regression", 0), 0)

    def test_half_a_percent_is_unchanged_at_one_percent(self):
        doc = self.diff_json(*self.pair(flat("grow_pages.grow/v1", 200.0),
                                        flat("grow_pages.grow/v1", 201.0)), expect_exit=0)
        for r in self.rows(doc).values():
            self.assertAlmostEqual(r["change"], 0.5)
            self.assertEqual(r["verdict"], "unchanged")

    def test_one_and_a_half_percent_is_a_regression(self):
        base, new = self.pair(flat("grow_pages.grow/v1", 200.0),
                              {**flat("grow_pages.grow/v1", 200.0),
                               "grow_pages.grow/v1/4096": 203.0})
        doc = self.diff_json(base, new, expect_exit=1)
        rows = self.rows(doc)
        self.assertEqual(rows["grow_pages.grow/v1/4096"]["verdict"], "regression")
        self.assertTrue(rows["grow_pages.grow/v1/4096"]["gated"])
        self.assertEqual(rows["grow_pages.grow/v1/1024"]["verdict"], "unchanged")
        self.assertEqual(doc["counts"]["regression"], 1)
        # A wider threshold lets the same change through.
        self.diff_json(base, new, "--threshold", "2", expect_exit=0)

    def test_three_percent_less_is_an_improvement(self):
        doc = self.diff_json(*self.pair(flat("churn.ops/list", 300.0),
                                        flat("churn.ops/list", 291.0)), expect_exit=0)
        self.assertEqual({r["verdict"] for r in self.rows(doc).values()}, {"improvement"})
        self.assertEqual(doc["counts"]["improvement"], 3)

    def test_added_and_removed_are_listed_not_failed(self):
        base, new = self.pair({"churn.ops/v1/1024": 100.0, "churn.ops/list/1024": 90.0},
                              {"churn.ops/v1/1024": 100.0, "churn.ops/bitmap15/1024": 80.0})
        doc = self.diff_json(base, new, expect_exit=0)
        rows = self.rows(doc)
        self.assertEqual(rows["churn.ops/list/1024"]["verdict"], "removed")
        self.assertEqual(rows["churn.ops/bitmap15/1024"]["verdict"], "added")
        self.assertIn("1 added, 1 removed", doc["status"])

    def test_not_applicable_on_both_sides_is_neither_change_nor_failure(self):
        doc = self.diff_json(*self.pair({"free_regrow.free/v1/1024": None},
                                        {"free_regrow.free/v1/1024": None}), expect_exit=0)
        self.assertEqual(self.rows(doc)["free_regrow.free/v1/1024"]["verdict"], "n/a")
        self.assertEqual(doc["status"], "0 regressions, 0 improvements, 0 unchanged, 1 n/a")

    def test_constant_to_linear_is_a_complexity_regression(self):
        # The same figure at the smallest N, so only the shape tells.
        grows = {f"worst_scan.grow/freestack/{n}": 50.0 * n / 1024 for n in SIZES}
        base, new = self.pair(flat("worst_scan.grow/freestack", 50.0), grows)
        doc = self.diff_json(base, new, expect_exit=1)
        self.assertEqual(self.rows(doc)["worst_scan.grow/freestack/1024"]["verdict"],
                         "unchanged")
        (cls,) = self.rows(doc, "complexity").values()
        self.assertEqual((cls["base"], cls["new"], cls["verdict"], cls["gated"]),
                         ("O(1)", "O(N)", "complexity regression", True))
        # The way back is an improvement and passes.
        doc = self.diff_json(new, base, expect_exit=0)
        (cls,) = self.rows(doc, "complexity").values()
        self.assertEqual(cls["verdict"], "complexity improvement")

    def test_a_class_flip_on_a_sub_threshold_change_does_not_gate(self):
        # Between O(N) and O(N lg N), a cost of N + c·N·lg N fits either;
        # moving it by under 1% at every N must not be an alarm.
        base = {f"reopen.load/v1/{n}": n * (40 + 1.5 * math.log2(n)) for n in SIZES}
        new = {k: v * (1.009 if k.endswith(f"/{max(SIZES)}") else 0.991)
               for k, v in base.items()}
        doc = self.diff_json(*self.pair(base, new), expect_exit=0)
        (cls,) = self.rows(doc, "complexity").values()
        self.assertEqual((cls["base"], cls["new"]), ("O(N)", "O(N lg N)"))
        self.assertEqual((cls["verdict"], cls["gated"]), ("unchanged", False))

    def test_complexity_from_the_sizes_both_sides_measured(self):
        # NEW adds a large size; with it alone, a flat family must stay O(1).
        more = flat("grow_one.grow/v1", 40.0, SIZES + (65536,))
        doc = self.diff_json(*self.pair(flat("grow_one.grow/v1", 40.0), more), expect_exit=0)
        (cls,) = self.rows(doc, "complexity").values()
        self.assertEqual((cls["base"], cls["new"], cls["verdict"]), ("O(1)", "O(1)", "unchanged"))


class Times(Case):
    def test_a_clear_slowdown_is_reported_but_does_not_gate(self):
        figures = flat("rw_small.rw/list", 120.0)
        k = "rw_small.rw/list/4096"
        base, new = self.pair(figures, figures, {k: 100.0}, {k: 110.0})
        doc = self.diff_json(base, new, expect_exit=0)
        r = self.rows(doc, "time")[k]
        self.assertEqual(r["verdict"], "slower")
        self.assertFalse(r["gated"])
        self.assertLess(r["p"], 0.05)
        self.assertEqual(doc["time_counts"]["slower"], 1)
        doc = self.diff_json(base, new, "--gate-time", expect_exit=1)
        self.assertTrue(self.rows(doc, "time")[k]["gated"])

    def test_noise_below_the_minimum_effect_is_unchanged(self):
        figures = {"rw_small.rw/list/4096": 120.0}
        k = "rw_small.rw/list/4096"
        # Significant (no overlap) but only 2% apart: not a change worth a word.
        doc = self.diff_json(*self.pair(figures, figures, {k: 100.0}, {k: 102.0}),
                             "--gate-time", expect_exit=0)
        r = self.rows(doc, "time")[k]
        self.assertLess(r["p"], 0.05)
        self.assertEqual(r["verdict"], "unchanged")

    def test_overlapping_samples_are_unchanged_whatever_the_medians(self):
        k = "reopen.load/v1/1024"
        figures = {k: 300.0}
        base = [100.0, 140.0, 90.0, 150.0, 95.0, 145.0, 100.0, 150.0, 92.0]
        new = [110.0, 95.0, 148.0, 93.0, 152.0, 99.0, 146.0, 101.0, 141.0]
        doc = self.diff_json(*self.pair(figures, figures, {k: base}, {k: new}),
                             "--gate-time", expect_exit=0)
        r = self.rows(doc, "time")[k]
        self.assertGreater(abs(r["change"]), 5)
        self.assertGreater(r["p"], 0.05)
        self.assertEqual(r["verdict"], "unchanged")

    def test_fewer_than_nine_repetitions_warn(self):
        k = "rw_large.rw/v1/1024"
        doc = self.diff_json(*self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 50.0}, reps=3),
                             expect_exit=0)
        self.assertEqual(len(doc["warnings"]), 1)
        self.assertIn("only 3 repetitions", doc["warnings"][0])

    def test_a_busy_machine_is_named_in_a_warning(self):
        k = "rw_large.rw/v1/1024"
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 50.0})
        doc = self.diff_json(base, new, expect_exit=0)
        self.assertEqual(doc["warnings"], [])
        gb = os.path.join(new, "gbench.json")
        with open(gb) as f:
            timed = json.load(f)
        timed["context"].update(num_cpus=2, load_avg=[3.4, 2.4, 1.2])
        with open(gb, "w") as f:
            json.dump(timed, f)
        doc = self.diff_json(base, new, expect_exit=0)
        self.assertEqual(len(doc["warnings"]), 1)
        self.assertIn("NEW was timed with a load average of 3.4 on 2 CPUs", doc["warnings"][0])
        timed["context"].update(load_avg=[1.9, 2.4, 1.2])  # below the CPU count: quiet
        with open(gb, "w") as f:
            json.dump(timed, f)
        self.assertEqual(self.diff_json(base, new, expect_exit=0)["warnings"], [])

    def test_plain_google_benchmark_files_of_another_project(self):
        def gbench(path, copy_ns):
            bms = [{"name": "BM_Copy/8", "run_name": "BM_Copy/8", "run_type": "iteration",
                    "repetition_index": i, "real_time": copy_ns + i * 0.01, "time_unit": "us"}
                   for i in range(9)]
            bms += [{"name": "BM_Sort", "run_type": "iteration", "real_time": 7.0 + i * 0.01,
                     "time_unit": "ms"} for i in range(9)]
            bms.append({"name": "BM_Copy/8_mean", "run_name": "BM_Copy/8",
                        "run_type": "aggregate", "real_time": 1.0, "time_unit": "us"})
            with open(path, "w") as f:
                json.dump({"context": {}, "benchmarks": bms}, f)
            return path
        base = gbench(os.path.join(self.tmp, "a.json"), 2.0)
        new = gbench(os.path.join(self.tmp, "b.json"), 3.0)
        doc = self.diff_json(base, new, expect_exit=0)
        self.assertIn("nothing gates", doc["warnings"][0])
        rows = {(r["workload"], r["design"], r["n"]): r for r in doc["rows"]}
        self.assertEqual(rows[("BM_Copy", "", 8)]["verdict"], "slower")
        self.assertAlmostEqual(rows[("BM_Copy", "", 8)]["base"], 2040.0)  # us -> ns
        self.assertEqual(rows[("BM_Sort", "", None)]["verdict"], "unchanged")
        doc = self.diff_json(base, new, "--gate-time", expect_exit=1)
        self.assertEqual(doc["status"], "1 regression, 0 improvements, 1 unchanged")


class Malformed(Case):
    def expect_one_line(self, args, names):
        code, out, err = run(*args)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("bench-diff: " + names), err)
        return err

    def file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_each_bad_input_exits_2_with_one_line(self):
        good = os.path.join(FIXTURES, "base")
        bad_record = {"schema": "mmfree-instructions/1",
                      "results": [{"workload": "churn", "phase": "ops", "design": "v1",
                                   "status": "ok", "instructions": 5, "ops": 1}]}
        cases = {
            "empty file": self.file("empty.json", ""),
            "not JSON": self.file("garbage.json", "{not json"),
            "not a Google Benchmark": self.file("list.json", "[1, 2]"),
            "has no 'n'": self.file("fields.json", json.dumps(bad_record)),
            "has no 'name'": self.file("gb.json", json.dumps({"benchmarks": [{"x": 1}]})),
            "no instructions.json or gbench.json": os.path.join(self.tmp, "empty-folder"),
            "no such file or folder": os.path.join(self.tmp, "missing"),
            "not UTF-8": self.file("latin1.json", "{\"benchmarks\": [\"caf\xe9\"]}"),
            "nested too deeply": self.file("deep.json", "[" * 100000 + "]" * 100000),
            "not a string": self.file("runname.json", json.dumps(
                {"benchmarks": [{"name": "a", "run_name": ["a"], "real_time": 1}]})),
            "only aggregates": self.file("aggregates.json", json.dumps(
                {"benchmarks": [{"name": "a_median", "run_name": "a", "run_type": "aggregate",
                                 "aggregate_name": "median", "real_time": 1}]})),
            "holds no result at all": self.file("none.json", json.dumps(
                {"schema": "mmfree-instructions/1", "results": []})),
            "schema is 'mmfree-instructions/2'": self.file("v2.json", json.dumps(
                {"schema": "mmfree-instructions/2", "results": []})),
        }
        with open(cases["not UTF-8"], "w", encoding="latin-1") as f:
            f.write('{"benchmarks": [{"name": "caf\xe9"}]}')
        os.mkdir(cases["no instructions.json or gbench.json"])
        for problem, path in cases.items():
            with self.subTest(problem):
                for args in ((good, path), (path, good)):
                    err = self.expect_one_line(args, path)
                    self.assertIn(problem, err)

    def test_bad_command_lines_exit_2_with_one_line(self):
        good = os.path.join(FIXTURES, "base")
        self.expect_one_line([good], "")
        self.expect_one_line(["--threshold", "-1", good, good], "")
        self.expect_one_line(["--format", "html", good, good], "")
        self.expect_one_line(["--plots", os.path.join(self.tmp, "nope"), good, good],
                             os.path.join(self.tmp, "nope"))


class Output(Case):
    BASE, NEW = os.path.join(FIXTURES, "base"), os.path.join(FIXTURES, "new")

    def test_golden_markdown(self):
        code, out, err = run("--format", "markdown", "--report-url",
                             "https://example.invalid/runs/1", "--plots",
                             os.path.join(FIXTURES, "report"), self.BASE, self.NEW)
        self.assertEqual(code, 1, err)
        with open(os.path.join(FIXTURES, "golden.md"), encoding="utf-8") as f:
            golden = f.read()
        self.assertEqual(out, golden)  # after a deliberate change: the command above > golden.md
        self.assertTrue(out.startswith("### ❌ bench-diff: "))
        self.assertEqual(out.splitlines()[-1], "<!-- mmfree-bench -->")

    def test_text_is_aligned(self):
        code, out, _ = run(self.BASE, self.NEW)
        self.assertEqual(code, 1)
        lines = out.split("\n\n", 1)[1].splitlines()
        self.assertTrue(lines[0].startswith("design"))
        column = lines[0].index("verdict")
        for line in lines:
            self.assertRegex(line[column - 2:column], r"^  $", line)
            self.assertRegex(line[column:], r"^\w", line)

    def test_same_verdicts_in_every_format(self):
        doc = self.diff_json(self.BASE, self.NEW, expect_exit=1)
        _, text, _ = run(self.BASE, self.NEW)
        _, md, _ = run("--format", "markdown", self.BASE, self.NEW)
        self.assertIn(doc["status"], text.splitlines()[0])
        self.assertIn(doc["status"], md.splitlines()[0])
        for verdict in {r["verdict"] for r in doc["rows"]}:
            self.assertIn(verdict, text)
            self.assertIn(verdict, md)

    def test_output_file(self):
        path = os.path.join(self.tmp, "diff.md")
        code, out, _ = run("--format", "markdown", "-o", path, self.BASE, self.NEW)
        self.assertEqual((code, out), (1, ""))
        with open(path, encoding="utf-8") as f:
            self.assertIn("<!-- mmfree-bench -->", f.read())

    def test_a_huge_diff_still_fits_in_one_comment(self):
        figures = {f"churn.ops/d{d}/{n}": 100.0 for d in range(400) for n in SIZES}
        worse = {k: 110.0 for k in figures}
        code, md, err = run("--format", "markdown", *self.pair(figures, worse))
        self.assertEqual(code, 1, err)
        self.assertLess(len(md), 65536)
        self.assertIn("more rows: see the full diff in the artifact", md)
        self.assertIn("<!-- mmfree-bench -->", md)


COUNT = os.path.join(ROOT, "scripts", "count-instructions")


class Real(Case):
    """Two callgrind runs of one build agree exactly; a build whose v1 grow
    spins is flagged for v1 and no other design. The switch itself costs every
    design a strcmp per grow (3 to 7 instructions, under 0.5% of a grow in
    grow_pages but more in cheaper phases), so the test measures grow_pages."""

    WORKLOADS, SIZES = "grow_pages", "64,128,256"

    def build(self, folder, *make_args):
        p = subprocess.run(["make", "--no-print-directory", "-C", ROOT, f"B={folder}",
                            f"A={folder}/asan", *make_args, f"{folder}/mmrun"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return f"{folder}/mmrun"

    def count(self, mmrun, name):
        out = os.path.join(self.tmp, name)
        os.makedirs(out)
        p = subprocess.run([COUNT, "--mmrun", mmrun, "--out",
                            os.path.join(out, "instructions.json"), "--workloads",
                            self.WORKLOADS, "--sizes", self.SIZES, "--jobs", "2"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return out

    def test_same_build_agrees_and_a_slowed_design_is_flagged(self):
        build = os.path.join(ROOT, os.environ.get("B", "build"))
        plain = self.build(build)
        slow = self.build(os.path.join(build, "test-slow-grow"),
                          'EXTRA_CFLAGS=-DMM_TEST_SLOW_GROW="\\"v1\\""')
        first, second = self.count(plain, "first"), self.count(plain, "second")
        doc = self.diff_json(first, second, expect_exit=0)
        compared = [r for r in doc["rows"] if r["kind"] == "instructions"
                    and r["verdict"] != "n/a"]
        self.assertGreater(len({r["design"] for r in compared}), 1, "too few designs")
        self.assertEqual({r["change"] for r in compared}, {0.0})

        doc = self.diff_json(first, self.count(slow, "slow"), expect_exit=1)
        flagged = {r["design"] for r in doc["rows"] if r["gated"]}
        self.assertEqual(flagged, {"v1"})
        grow = [r for r in doc["rows"] if r["workload"] == "grow_pages.grow"
                and r["design"] == "v1" and r["kind"] == "instructions"]
        self.assertEqual({r["verdict"] for r in grow}, {"regression"})


if __name__ == "__main__":
    unittest.main()
