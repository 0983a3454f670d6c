"""Tests of scripts/bench-diff: synthetic result sets with known changes of every
figure, malformed and adversarial inputs, the output formats (with a golden
markdown file), and real callgrind runs of a test-only build that adds work
to some designs (MM_TEST_INJECT in impl/manager.c)."""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCH_DIFF = os.path.join(ROOT, "scripts", "bench-diff")
FIXTURES = os.path.join(HERE, "fixtures", "diff")
sys.path.insert(0, HERE)
from diffdata import CONTEXT, space, spread_out, write_results  # noqa: E402

SIZES = (1024, 4096, 16384)


def run(*args):
    p = subprocess.run([BENCH_DIFF, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bench-diff-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def pair(self, base, new, base_times=None, new_times=None, reps=9, base_context=None,
             new_context=None, base_hyperfine=None, new_hyperfine=None):
        return (write_results(os.path.join(self.tmp, "base"), base, base_times, reps=reps,
                              context=base_context, hyperfine=base_hyperfine),
                write_results(os.path.join(self.tmp, "new"), new, new_times, "1" * 40, reps,
                              context=new_context, hyperfine=new_hyperfine))

    def diff_json(self, base, new, *options, expect_exit):
        code, out, err = run("--format", "json", *options, base, new)
        self.assertEqual(code, expect_exit, err + out)
        self.assertEqual(err, "")
        return json.loads(out)

    def rows(self, doc, kind="instructions"):
        return {f"{r['workload']}/{r['design']}/{r['n']}": r
                for r in doc["rows"] if r["kind"] == kind}

    def gated(self, doc):
        """{(design, kind)} of the gated rows."""
        return {(r["design"], r["kind"]) for r in doc["rows"] if r["gated"]}


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
        self.assertEqual(doc["counts"]["regressions"], 0)

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
        self.assertEqual((doc["counts"]["regressions"], doc["counts"]["regressed"]),
                         (1, {"instructions": 1}))
        # A wider threshold lets the same change through.
        self.diff_json(base, new, "--threshold", "2", expect_exit=0)

    def test_three_percent_less_is_an_improvement(self):
        doc = self.diff_json(*self.pair(flat("churn.ops/list", 300.0),
                                        flat("churn.ops/list", 291.0)), expect_exit=0)
        self.assertEqual({r["verdict"] for r in self.rows(doc).values()}, {"improvement"})
        self.assertEqual(doc["counts"]["improvements"], 3)

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


    def test_an_added_linear_cost_is_named_o_n(self):
        # v1's grow costs a little more at the smallest N (a fixed cost not
        # yet amortized); a loop over every bucket adds 2.5 N. Fitted alone,
        # NEW looks O(N lg N); the cost it added is O(N), and so is NEW.
        sizes = (64, 128, 256)
        base = {f"grow_pages.grow/v1/{n}": 289.0 + (20.0 if n == 64 else 0.0) for n in sizes}
        new = {k: v + 2.5 * int(k.rsplit("/", 1)[1]) for k, v in base.items()}
        doc = self.diff_json(*self.pair(base, new), expect_exit=1)
        (cls,) = self.rows(doc, "complexity").values()
        self.assertEqual((cls["base"], cls["new"], cls["verdict"]),
                         ("O(1)", "O(N)", "complexity regression"))

    def test_a_size_over_budget_is_not_measured_and_its_family_not_checked(self):
        over = "not measured: about 1.4G instructions at N = 16384, over the budget of 0.3G"
        base = {f"worst_scan.grow/bitmap15/{n}": 10.0 * n for n in SIZES}
        new = dict(base, **{"worst_scan.grow/bitmap15/16384": {"per_op": None, "reason": over}})
        doc = self.diff_json(*self.pair(base, new), expect_exit=0)
        r = self.rows(doc)["worst_scan.grow/bitmap15/16384"]
        self.assertEqual(r["verdict"], "not measured")
        self.assertIn("NEW: about 1.4G instructions", r["note"])
        self.assertNotIn("removed", json.dumps(doc))
        self.assertEqual(self.rows(doc, "complexity"), {})
        (note,) = doc["not_checked"]
        self.assertEqual(note["family"], "worst_scan.grow/bitmap15")
        self.assertIn("sizes on both sides: 1,024, 4,096; N = 16,384 not measured on NEW",
                      note["why"])
        self.assertIn("1 not measured", doc["status"])
        # A family of two sizes is named too; one n/a everywhere is not.
        two = {f"churn.ops/list/{n}": 90.0 for n in SIZES[:2]}
        two["free_regrow.free/v1/1024"] = None
        doc = self.diff_json(*self.pair(two, two), expect_exit=0)
        self.assertEqual([x["family"] for x in doc["not_checked"]], ["churn.ops/list"])


def with_space(per_op, pages, dirty, bytes_, heap):
    return {"per_op": per_op, "pages_end": pages, "dirty": dirty, "bytes": bytes_, "heap": heap}


class SpaceGates(Case):
    """Pages and dirtied pages gate on any increase; bytes written and heap
    bytes past the threshold; each flags its own figure and nothing else."""

    def one(self, **new):
        fig = dict(per_op=300.0, pages=1025, dirty=0.5, bytes_=11.0, heap=10000)
        k = "migrate.grow/list/1024"
        base, changed = {k: with_space(**fig)}, {k: with_space(**dict(fig, **new))}
        return self.pair(base, changed)

    def verdicts(self, doc):
        return {r["kind"]: r["verdict"] for r in doc["rows"] if r["kind"] != "complexity"}

    def test_one_more_page_is_a_regression(self):
        doc = self.diff_json(*self.one(pages=1026), expect_exit=1)
        self.assertEqual(self.gated(doc), {("list", "pages")})
        self.assertEqual(doc["counts"]["regressed"], {"pages": 1})

    def test_one_more_dirtied_page_in_a_thousand_ops_is_a_regression(self):
        doc = self.diff_json(*self.one(dirty=0.5 + 1 / 1024), expect_exit=1)
        self.assertEqual(self.gated(doc), {("list", "dirty")})
        doc = self.diff_json(*self.one(dirty=0.5 - 1 / 1024), expect_exit=0)
        self.assertEqual(self.verdicts(doc)["dirty"], "improvement")

    def test_bytes_and_heap_gate_past_the_threshold(self):
        doc = self.diff_json(*self.one(bytes_=11.0 * 1.005, heap=10050), expect_exit=0)
        self.assertEqual(self.verdicts(doc)["bytes"], "unchanged")
        self.assertEqual(self.verdicts(doc)["heap"], "unchanged")
        doc = self.diff_json(*self.one(bytes_=11.0 * 1.02, heap=10200), expect_exit=1)
        self.assertEqual(self.gated(doc), {("list", "bytes"), ("list", "heap")})

    def test_files_without_space_figures_are_compared_on_instructions(self):
        k = "migrate.grow/list/1024"
        base, new = self.pair({k: 300.0}, {k: with_space(300.0, 2000, 9.0, 99.0, 1)})
        doc = self.diff_json(base, new, expect_exit=0)
        self.assertEqual(set(self.verdicts(doc)), {"instructions"})
        self.assertIn("BASE has no space figures", doc["notes"][0])

    def test_the_issue_scenario_flags_list_for_pages_and_bytes_only(self):
        # The committed baseline with space figures added, copied, and list's
        # pages doubled and bytes written tripled.
        with open(os.path.join(ROOT, "results", "baseline", "instructions.json")) as f:
            doc = json.load(f)
        for r in doc["results"]:
            if r["status"] == "ok":
                r.update(pages_end=r["record"]["pages_end"], dirty_pages=r["ops"],
                         header_bytes_written=r["record"]["header_bytes_written"],
                         heap_bytes=10000)
        folders = []
        for name in ("base", "new"):
            folders.append(os.path.join(self.tmp, name))
            os.makedirs(folders[-1])
            if name == "new":
                for r in doc["results"]:
                    if r["status"] == "ok" and r["design"] == "list":
                        r["pages_end"] *= 2
                        r["header_bytes_written"] *= 3
            with open(os.path.join(folders[-1], "instructions.json"), "w") as f:
                json.dump(doc, f)
        out = self.diff_json(*folders, expect_exit=1)
        kinds = {"pages"} | ({"bytes"} if any(r["header_bytes_written"] for r in doc["results"]
                                              if r.get("design") == "list") else set())
        self.assertEqual(self.gated(out), {("list", k) for k in kinds})
        code, md, _ = run("--format", "markdown", *folders)
        self.assertEqual(code, 1)
        self.assertIn("- **list**: pages +100.0% worst", md)
        self.assertLess(len(md), 65536)


class Times(Case):
    def test_a_clear_slowdown_is_listed_but_does_not_gate(self):
        figures = flat("rw_small.rw/list", 120.0)
        k = "rw_small.rw/list/4096"
        base, new = self.pair(figures, figures, {k: 100.0}, {k: 110.0})
        doc = self.diff_json(base, new, expect_exit=0)
        r = self.rows(doc, "time")[k]
        self.assertEqual(r["verdict"], "slower")
        self.assertFalse(r["gated"])
        self.assertLess(r["p"], 0.05)
        self.assertEqual((doc["time"]["time"]["listed"], doc["time"]["time"]["moved"]), (1, 0))
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
        self.assertEqual(doc["time"]["time"]["moved"], 1)

    def test_a_change_within_the_runs_own_spread_is_not_listed(self):
        # 12% slower with p < 0.05, but each side's 30 repetitions spread
        # over 21% (IQR / median): moved, not listed.
        k = "churn.ops/list/1024"
        figures = {k: 300.0}
        base = [800 + 400 * i / 29 for i in range(30)]
        new = [x * 1.12 for x in base]
        doc = self.diff_json(*self.pair(figures, figures, {k: base}, {k: new}), expect_exit=0)
        r = self.rows(doc, "time")[k]
        self.assertLess(r["p"], 0.05)
        self.assertEqual(r["verdict"], "unchanged")
        self.assertEqual((doc["time"]["time"]["listed"], doc["time"]["time"]["moved"]), (0, 1))

    def test_fewer_than_nine_repetitions_warn(self):
        k = "rw_large.rw/v1/1024"
        doc = self.diff_json(*self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 50.0}, reps=3),
                             expect_exit=0)
        self.assertEqual(len(doc["warnings"]), 1)
        self.assertIn("only 3 repetitions", doc["warnings"][0])

    def test_a_busy_machine_lists_no_time_row(self):
        k = "rw_large.rw/v1/1024"
        busy = dict(CONTEXT, load_avg=[3.4, 2.4, 1.2])
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 70.0}, base_context=CONTEXT,
                              new_context=busy)
        doc = self.diff_json(base, new, expect_exit=0)
        self.assertEqual(self.rows(doc, "time")[k]["verdict"], "unchanged")
        self.assertEqual(doc["time"]["time"]["moved"], 1)
        code, text, _ = run(base, new)
        self.assertIn("1 row moved, not significant on this machine (NEW was timed with a "
                      "load average of 3.4 on 2 CPUs)", text)
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 70.0}, base_context=CONTEXT,
                              new_context=dict(CONTEXT, load_avg=[1.9, 2.4, 1.2]))
        self.assertEqual(self.rows(self.diff_json(base, new, expect_exit=0), "time")[k]
                         ["verdict"], "slower")

    def test_times_of_two_machines_are_not_compared(self):
        k = "rw_large.rw/v1/1024"
        for change, says in ((dict(host_name="laptop"), "BASE ran on host ci, NEW on laptop"),
                             (dict(mmfree_cpu_model="Other CPU"), "CPU model"),
                             (dict(mmfree_calibration_ns=10.6),
                              "the calibration loop ran 6% slower on NEW")):
            with self.subTest(says):
                base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 150.0},
                                      base_context=CONTEXT, new_context=dict(CONTEXT, **change),
                                      base_hyperfine={"raw/none/1024": [0.01] * 5},
                                      new_hyperfine={"raw/none/1024": [0.03] * 5})
                doc = self.diff_json(base, new, expect_exit=0)
                self.assertEqual(self.rows(doc, "time"), {})
                self.assertEqual(self.rows(doc, "process"), {})
                self.assertIn(says, doc["time"]["time"]["reason"])
                code, md, _ = run("--format", "markdown", base, new)
                self.assertIn("Time: not compared: ", md)
                self.assertIn(says, md)
        # 4% apart is one machine.
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 150.0}, base_context=CONTEXT,
                              new_context=dict(CONTEXT, mmfree_calibration_ns=10.4))
        self.assertEqual(self.rows(self.diff_json(base, new, expect_exit=0), "time")[k]
                         ["verdict"], "slower")
        # --same-machine widens (or narrows) what counts as one machine.
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 150.0}, base_context=CONTEXT,
                              new_context=dict(CONTEXT, mmfree_calibration_ns=10.6))
        doc = self.diff_json(base, new, "--same-machine", "10", expect_exit=0)
        self.assertEqual(self.rows(doc, "time")[k]["verdict"], "slower")
        self.assertEqual(doc["settings"]["same_machine"], 10.0)
        base, new = self.pair({k: 1.0}, {k: 1.0}, {k: 50.0}, {k: 150.0}, base_context=CONTEXT,
                              new_context=dict(CONTEXT, mmfree_calibration_ns=10.4))
        doc = self.diff_json(base, new, "--same-machine", "2", expect_exit=0)
        self.assertEqual(self.rows(doc, "time"), {})
        self.assertIn("more than 2% apart", doc["time"]["time"]["reason"])

    def test_hyperfine_is_a_second_opinion_never_gated(self):
        k = "grow_pages.grow/v1/16384"
        base, new = self.pair({k: 1.0}, {k: 1.0},
                              base_hyperfine={"grow_pages/v1/16384": spread_out(0.002, 10)},
                              new_hyperfine={"grow_pages/v1/16384": spread_out(0.003, 10)})
        doc = self.diff_json(base, new, "--gate-time", expect_exit=0)
        r = self.rows(doc, "process")["grow_pages/v1/16384"]
        self.assertEqual((r["verdict"], r["gated"]), ("slower", False))
        self.assertAlmostEqual(r["base"], 2.0, places=2)  # ms

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
        self.assertEqual(doc["status"], "1 regression (time 1), 0 improvements, 1 unchanged")


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
            f.write(text if isinstance(text, str) else json.dumps(text))
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
            "has no 'n'": self.file("fields.json", bad_record),
            "has no 'name'": self.file("gb.json", {"benchmarks": [{"x": 1}]}),
            "no instructions.json or gbench.json": os.path.join(self.tmp, "empty-folder"),
            "no such file or folder": os.path.join(self.tmp, "missing"),
            "not UTF-8": self.file("latin1.json", "{\"benchmarks\": [\"caf\xe9\"]}"),
            "nested too deeply": self.file("deep.json", "[" * 100000 + "]" * 100000),
            "not a string": self.file("runname.json",
                                      {"benchmarks": [{"name": "a", "run_name": ["a"],
                                                       "real_time": 1}]}),
            "only aggregates": self.file("aggregates.json", {"benchmarks": [
                {"name": "a_median", "run_name": "a", "run_type": "aggregate",
                 "aggregate_name": "median", "real_time": 1}]}),
            "holds no result at all": self.file("none.json", {"schema": "mmfree-instructions/1",
                                                              "results": []}),
            "schema is 'mmfree-instructions/2'": self.file(
                "v2.json", {"schema": "mmfree-instructions/2", "results": []}),
        }
        with open(cases["not UTF-8"], "w", encoding="latin-1") as f:
            f.write('{"benchmarks": [{"name": "caf\xe9"}]}')
        os.mkdir(cases["no instructions.json or gbench.json"])
        for problem, path in cases.items():
            with self.subTest(problem):
                for args in ((good, path), (path, good)):
                    err = self.expect_one_line(args, path)
                    self.assertIn(problem, err)

    def test_adversarial_figures_name_the_file_and_the_field(self):
        # Issue 18's bench-diff bad input, and their neighbours.
        with open(os.path.join(FIXTURES, "base", "instructions.json")) as f:
            good = json.load(f)
        with open(os.path.join(FIXTURES, "base", "gbench.json")) as f:
            timed = json.load(f)
        bench0 = timed["benchmarks"][0]

        def ins(i, **change):
            doc = json.loads(json.dumps(good))
            doc["results"][i].update(change)
            return doc

        def gb(**change):
            doc = json.loads(json.dumps(timed))
            doc["benchmarks"][0].update(change)
            return doc
        text_1e400 = json.dumps(good).replace('"instructions": %d' % good["results"][0][
            "instructions"], '"instructions": 1e400', 1)
        cases = [
            ("inf.json", text_1e400, "result 0 has 'instructions' = inf, not a count"),
            ("neg.json", ins(0, instructions=-5920640), "'instructions' = -5920640, not a count"),
            ("big.json", ins(0, instructions=10 ** 30), "'instructions' = 1000000000000000000"),
            ("ops.json", ins(0, ops=0), "'ops' = 0, not positive"),
            ("pages.json", ins(0, pages_end=-1), "'pages_end' = -1, not a count"),
            ("dirty.json", ins(1, dirty_pages=1.5), "result 1 has 'dirty_pages' = 1.5"),
            ("heap.json", ins(0, heap_bytes="big"), "'heap_bytes' = 'big', not a count"),
            ("n.json", ins(0, n=True), "'n' = True, not a count"),
            ("nl.json", ins(2, design="v1\n### injected"),
             "result 2 has 'design' = 'v1\\n### injected', not a name"),
            ("slash.json", ins(0, workload="grow/pages"), "'workload' = 'grow/pages', not a name"),
            ("negtime.json", gb(ns_per_op=-3.0), "benchmark 0 has 'ns_per_op' = -3.0, not a "
                                                 "finite number >= 0"),
            ("realtime.json", gb(real_time=-1.0, ns_per_op=None) if False else
             {"benchmarks": [dict({k: v for k, v in bench0.items() if k != "ns_per_op"},
                                  real_time=-1.0)]}, "'real_time' = -1.0"),
            ("gbnl.json", gb(run_name="a\nb"), "'run_name' = 'a\\nb', not a benchmark name"),
            ("hf.json", {"results": [{"command": "x", "times": [0.1, -0.2]}]},
             "result 0 has 'times' = -0.2, not a finite number >= 0"),
            ("hf2.json", {"results": [{"command": "x", "times": []}]}, "'times' = []"),
        ]
        for name, content, says in cases:
            with self.subTest(name):
                path = self.file(name, content)
                if name.startswith("hf"):
                    folder = os.path.join(self.tmp, name + ".d")
                    shutil.copytree(os.path.join(FIXTURES, "base"), folder)
                    shutil.copy(path, os.path.join(folder, "hyperfine.json"))
                    path = os.path.join(folder, "hyperfine.json")
                    args = (os.path.join(FIXTURES, "base"), folder)
                else:
                    args = (os.path.join(FIXTURES, "base"), path)
                err = self.expect_one_line(args, path)
                self.assertIn(says, err)

    def test_counts_compared_with_times_compare_nothing(self):
        ins = os.path.join(FIXTURES, "base", "instructions.json")
        gb = os.path.join(FIXTURES, "new", "gbench.json")
        err = self.expect_one_line([ins, gb], gb)
        self.assertIn("holds Google Benchmark times ('benchmarks'), but", err)
        self.assertIn("nothing to compare", err)
        self.expect_one_line([gb, ins], ins)

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
        # After a deliberate change: python3 tests/scripts/diffdata.py, then
        # the command above > tests/scripts/fixtures/diff/golden.md.
        self.assertEqual(out, golden)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("### ❌ bench-diff: 14 regressions (instructions 3, "
                                            "pages 3, dirtied pages 3, bytes written 3, heap "
                                            "bytes 1, complexity 1)"), lines[0])
        self.assertIn("- **list**: instructions -3.0% best, -3.0% median (3 rows); pages "
                      "+100.0% worst, +100.0% median (3 rows); bytes written +200.0% worst, "
                      "+200.0% median (3 rows)", lines)
        self.assertIn("- worst_scan.grow/bitmap15: sizes on both sides: 1,024, 4,096; N = "
                      "16,384 not measured on NEW (about 1.4G instructions at N = 16384, over "
                      "budget)", lines)
        details = out.index("<details>")
        for r in self.diff_json(self.BASE, self.NEW, expect_exit=1)["rows"]:
            if r["verdict"] in ("unchanged", "n/a"):
                continue
            self.assertLess(out.index(f"| {r['design']} | {r['workload']} |"), details, r)
        self.assertEqual(lines[-1], "<!-- mmfree-bench -->")

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

    def test_a_huge_gated_diff_still_fits_in_one_comment(self):
        figures = {f"churn.ops/d{d}/{n}": 100.0 for d in range(400) for n in SIZES}
        worse = {k: 110.0 for k in figures}
        code, md, err = run("--format", "markdown", *self.pair(figures, worse))
        self.assertEqual(code, 1, err)
        self.assertLess(len(md), 65536)
        self.assertIn("more changed rows: see the full diff in the artifact", md)
        self.assertIn("<!-- mmfree-bench -->", md)

    def test_with_nothing_gated_the_comment_stays_short_whatever_the_rows(self):
        for designs in (1, 400):
            figures = {f"churn.ops/d{d}/{n}": with_space(100.0, n, 1.0, 9.0, 9000)
                       for d in range(designs) for n in SIZES}
            better = {k: with_space(90.0, n["pages_end"], 1.0, 9.0, 9000)
                      for k, n in figures.items()}
            times = {k: 100.0 for k in figures}
            noisy = {k: spread_out(130.0, 9, 0.05) for k in figures}
            for new, new_times in ((figures, times), (better, noisy)):
                base, new = self.pair(figures, new, times, new_times)
                code, md, err = run("--format", "markdown", base, new)
                self.assertEqual(code, 0, err)
                self.assertLess(len(md), 10000, f"{designs} designs")
                self.assertTrue(md.startswith("### ✅ bench-diff: 0 regressions"))
                shutil.rmtree(base)
                shutil.rmtree(new)

    def test_names_are_escaped_in_markdown(self):
        def gbench(path, ns):
            bms = [{"name": "BM_<b>x|*y*", "run_type": "iteration",
                    "real_time": ns + i * 0.01, "time_unit": "ns"} for i in range(9)]
            with open(path, "w") as f:
                json.dump({"context": {}, "benchmarks": bms}, f)
            return path
        base = gbench(os.path.join(self.tmp, "a.json"), 2.0)
        new = gbench(os.path.join(self.tmp, "b.json"), 3.0)
        code, md, err = run("--format", "markdown", base, new)
        self.assertEqual(code, 0, err)
        self.assertIn("| BM\\_&lt;b&gt;x\\|\\*y\\* |", md)
        self.assertNotIn("<b>", md)


class Noise(Case):
    """scripts/bench-noise: its summary of two runs and the README table."""

    NOISE = os.path.join(ROOT, "scripts", "bench-noise")

    def noise(self, *args):
        return subprocess.run([self.NOISE, *args], capture_output=True, text=True, timeout=120)

    def test_two_runs_summarized_and_the_readme_table(self):
        out = os.path.join(self.tmp, "noise.json")
        base, new = os.path.join(FIXTURES, "base"), os.path.join(FIXTURES, "new")
        p = self.noise("--case", "idle", "--from", base, base, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            idle = json.load(f)["cases"]["idle"]
        self.assertEqual((idle["time"]["listed"], idle["time"]["compared"]), (0, 4))
        self.assertEqual((idle["exact_rows_changed"], idle["claim_met"]), (0, True))
        self.assertTrue(idle["same_commit"])
        # Another commit: its listed rows break the claim, and it says so.
        p = self.noise("--case", "busy", "--from", base, new, "--out", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        with open(out) as f:
            cases = json.load(f)["cases"]
        self.assertEqual(set(cases), {"idle", "busy"})
        self.assertEqual((cases["busy"]["time"]["listed"], cases["busy"]["claim_met"]),
                         (2, False))
        self.assertEqual(cases["busy"]["listed_by_test_and_effect_alone"], 3)
        table = self.noise("--readme", "--out", out).stdout.splitlines()
        self.assertEqual(len(table), 4)
        self.assertRegex(table[2], r"^\| idle, \d{4}-\d\d-\d\d \| 0\.5 on 2 CPUs \| 0 of 4 \| 0 "
                                   r"\| 0 \| 0 \| 0 \| 0 of 2 \| 0 of \d+ \| [\d,]+ characters \| 0 "
                                   r"time rows listed: met \|$")
        self.assertIn("NOT met", table[3])

    def test_what_the_machine_check_held_back_is_counted(self):
        # NEW's calibration loop ran at half the speed: no time compared, and
        # the rows the other rules would have listed are counted as held back.
        new = os.path.join(self.tmp, "new")
        shutil.copytree(os.path.join(FIXTURES, "new"), new)
        path = os.path.join(new, "gbench.json")
        with open(path) as f:
            doc = json.load(f)
        doc["context"]["mmfree_calibration_ns"] = 20.0
        with open(path, "w") as f:
            json.dump(doc, f)
        out = os.path.join(self.tmp, "noise.json")
        p = self.noise("--case", "busy", "--from", os.path.join(FIXTURES, "base"), new,
                       "--out", out)
        self.assertEqual(p.returncode, 1, p.stderr)  # two commits
        with open(out) as f:
            busy = json.load(f)["cases"]["busy"]
        self.assertEqual(busy["time"]["compared"], 0)
        self.assertIn("calibration loop ran 100% slower", busy["time"]["reason"])
        self.assertEqual((busy["held_by_machine"], busy["compared_without_machine_check"]),
                         (2 + 1, 4 + 2))
        self.assertTrue(busy["claim_met"])
        row = self.noise("--readme", "--out", out).stdout.splitlines()[3]
        self.assertIn("| 3 of 6 |", row)

    def test_the_readme_block_is_the_committed_summary(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            text = f.read()
        begin, end = "<!-- BEGIN generated:bench-noise -->\n", "<!-- END generated:bench-noise -->"
        block = text[text.index(begin) + len(begin):text.index(end)]
        p = self.noise("--readme")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(block, p.stdout, "regenerate: scripts/bench-noise --readme")


COUNT = os.path.join(ROOT, "scripts", "count-instructions")


class Real(Case):
    """Real callgrind runs of a test-only build (impl/manager.c's
    MM_TEST_INJECT, never in the normal library), with and without work
    added to some designs through MMFREE_TEST_INJECT: each change is flagged
    for its design and its figures, exit 1, and every other design stays at
    exactly 0.0% on every figure (one binary: the variable is read as the
    library loads, and designs without work run the same instructions)."""

    WORKLOADS, SIZES = "grow_pages,migrate", "64,128,256"

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="bench-diff-real-")
        build = os.path.join(ROOT, os.environ.get("B", "build"), "test-inject")
        p = subprocess.run(["make", "--no-print-directory", "-C", ROOT, f"B={build}",
                            f"A={build}/asan", "EXTRA_CFLAGS=-DMM_TEST_INJECT",
                            f"{build}/mmrun"], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(p.stdout + p.stderr)
        cls.mmrun = os.path.join(build, "mmrun")
        cls.clean = cls.count("clean", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def count(cls, name, inject):
        out = os.path.join(cls.work, name)
        env = {k: v for k, v in os.environ.items() if k != "MMFREE_TEST_INJECT"}
        if inject:
            env["MMFREE_TEST_INJECT"] = inject
        p = subprocess.run([COUNT, "--mmrun", cls.mmrun, "--out",
                            os.path.join(out, "instructions.json"), "--workloads",
                            cls.WORKLOADS, "--sizes", cls.SIZES, "--jobs", "2"],
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise AssertionError(p.stdout + p.stderr)
        return out

    def check(self, inject, flagged, also=()):
        """Counts with inject, diffs with the clean run: exit 1, the gated
        (design, figure) pairs are exactly flagged, but for gated rows of
        also's (design, figure, workload), and every design without work
        changes by exactly 0.0% in every row. -> the diff."""
        doc = self.diff_json(self.clean, self.count(inject.replace(":", "-"), inject),
                             expect_exit=1)
        extra = {(r["design"], r["kind"]) for r in doc["rows"] if r["gated"] and
                 (r["design"], r["kind"], r["workload"]) in also}
        self.assertEqual(self.gated(doc) - extra, flagged, inject)
        touched = {entry.split(":")[0] for entry in inject.split(",")}
        rows = [r for r in doc["rows"] if r["design"] not in touched and r["kind"] !=
                "complexity" and r["verdict"] != "n/a"]
        self.assertGreater(len({r["design"] for r in rows}), 1, "too few designs untouched")
        self.assertEqual({r["change"] for r in rows}, {0.0}, inject)
        return doc

    def per_op(self, doc, kind, family, side):
        return {r["n"]: r[side] for r in doc["rows"] if r["kind"] == kind and
                f"{r['workload']}/{r['design']}" == family}

    def test_each_added_work_is_flagged_for_its_design_and_figure(self):
        doc = self.check("hbitmap15:linear,hbitmap15:dirty,v1reclaim:page,list:spin=16,"
                         "freestack:spin=64",
                         {("hbitmap15", "instructions"), ("hbitmap15", "complexity"),
                          ("hbitmap15", "dirty"), ("v1reclaim", "pages"),
                          ("list", "instructions"), ("freestack", "instructions")},
                         # The page costs a grow of the linear memory per free
                         # (about 60 instructions): over 64 frees of 32, 2.9%.
                         also={("v1reclaim", "instructions", "migrate.free")})
        # The loop over every bucket is named O(N), not O(N lg N).
        cls = {r["workload"]: r for r in doc["rows"] if r["kind"] == "complexity"
               and r["design"] == "hbitmap15"}
        self.assertEqual((cls["grow_pages.grow"]["base"], cls["grow_pages.grow"]["new"],
                          cls["grow_pages.grow"]["verdict"]),
                         ("O(1)", "O(N)", "complexity regression"))
        # One more dirtied page per grow; one more page at the end of a free.
        dirty = {r["n"]: r["new"] - r["base"] for r in doc["rows"] if r["kind"] == "dirty"
                 and r["design"] == "hbitmap15" and r["workload"] == "grow_pages.grow"}
        self.assertEqual(set(dirty.values()), {1.0})
        pages = {(r["workload"], r["n"]): r["new"] - r["base"] for r in doc["rows"]
                 if r["kind"] == "pages" and r["design"] == "v1reclaim" and r["gated"]}
        self.assertEqual(set(pages.values()), {1.0})
        self.assertIn(("migrate.free", 64), pages)
        # A spin of K turns adds a + K c instructions to every grow, the same
        # at every N: two designs' K give a and c, which size the 1% and 5%.
        added = {}
        for design in ("list", "freestack"):
            rows = [r for r in doc["rows"] if r["kind"] == "instructions" and
                    r["design"] == design and r["workload"] == "grow_pages.grow"]
            (added[design],) = {r["new"] - r["base"] for r in rows}
        per_turn = (added["freestack"] - added["list"]) / (64 - 16)
        Real.spin = (per_turn, added["list"] - 16 * per_turn)

    def test_a_dirtied_page_alone_moves_no_other_space_figure(self):
        """One more dirtied page per grow, alone in v1: flagged as dirtied
        pages, and as the instructions of the write that dirties it (a page
        is not dirtied for free); pages, bytes written and heap bytes stay
        exactly as they were."""
        doc = self.check("v1:dirty", {("v1", "dirty"), ("v1", "instructions")})
        dirty = {r["n"]: r["new"] - r["base"] for r in doc["rows"] if r["kind"] == "dirty"
                 and r["design"] == "v1" and r["workload"] == "grow_pages.grow"}
        self.assertEqual(set(dirty.values()), {1.0})
        for kind in ("pages", "bytes", "heap"):
            rows = [r for r in doc["rows"] if r["design"] == "v1" and r["kind"] == kind
                    and r["verdict"] != "n/a"]
            self.assertTrue(rows, kind)
            self.assertEqual({r["change"] for r in rows}, {0.0}, kind)

    def test_one_and_five_percent_more_in_a_grow_are_flagged(self):
        if not hasattr(Real, "spin"):
            self.test_each_added_work_is_flagged_for_its_design_and_figure()
        per_turn, call = Real.spin
        with open(os.path.join(self.clean, "instructions.json")) as f:
            clean = {(r["workload"], r["design"], r["n"]): r for r in json.load(f)["results"]}

        def turns(design, lo, hi):
            """The fewest turns that add more than lo% at the dearest size; the
            change then lies in (lo, hi] at every size, or the test cannot
            make its case with this design."""
            costs = [r["per_op"] for k, r in clean.items()
                     if k[0] == "grow_pages" and k[1] == design]
            k = max(0, math.floor((max(costs) * lo / 100 - call) / per_turn) + 1)
            self.assertLessEqual(call + k * per_turn, min(costs) * hi / 100,
                                 (design, costs, call, per_turn))
            return k
        bands = (("list", 1.0, 2.0), ("freestack", 5.0, 6.5))
        k1, k5 = (turns(*band) for band in bands)
        doc = self.check(f"list:spin={k1},freestack:spin={k5}",
                         {("list", "instructions"), ("freestack", "instructions")})
        for design, lo, hi in bands:
            grow = [r for r in doc["rows"] if r["design"] == design and r["kind"] ==
                    "instructions" and r["workload"] == "grow_pages.grow"]
            self.assertEqual({r["verdict"] for r in grow}, {"regression"}, design)
            for r in grow:
                self.assertTrue(lo < r["change"] <= hi, (design, r["n"], r["change"]))


if __name__ == "__main__":
    unittest.main()
