"""Tests of the WebAssembly harness: scripts/count-instructions-wasm on the
metered module (schema, exact repeats, n/a, the budget) and the x86-against-
Wasm section that scripts/bench adds to the summary.

Run by `make test` with B naming the build folder (its wasm/ module is used)."""

import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build")
MODULE = os.path.join(ROOT, B, "wasm", "mmfree.metered.wasm")
COUNT = os.path.join(ROOT, "scripts", "count-instructions-wasm")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import mmresults  # noqa: E402


class CountInstructionsWasm(unittest.TestCase):
    """The harness end to end, at small N."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(MODULE):
            raise AssertionError(f"{MODULE} is missing: make wasm builds it")
        cls.tmp = tempfile.mkdtemp(prefix="mmfree-wasm-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def count(self, name, *args):
        out = os.path.join(self.tmp, name)
        p = subprocess.run([COUNT, "--module", MODULE, "--out", out, *args],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, encoding="utf-8") as f:
            return json.load(f), out

    def test_schema_counts_repeat_and_n_a(self):
        args = ["--sizes", "16,32", "--designs", "v1,hbitmap15",
                "--workloads", "grow_pages,free_regrow,raw"]
        doc, path = self.count("a.json", *args)
        again, _ = self.count("b.json", *args)
        self.assertEqual(doc["results"], again["results"], "counts differ between two runs")
        self.assertEqual(doc["schema"], mmresults.SCHEMA)
        self.assertEqual(doc["meta"]["target"], "wasm32")
        res = mmresults.Results(path)
        mmresults.load_instructions(path, res)  # the one reader takes it as it is
        keys = set(res.instructions)
        for n in (16, 32):
            for d in ("v1", "hbitmap15"):
                self.assertIn(f"grow_pages.grow/{d}/{n}", keys)
            self.assertIn(f"raw.small/none/{n}", keys)
            self.assertEqual(res.instructions[f"free_regrow.free/v1/{n}"].status, "n/a")
            self.assertTrue(res.instructions[f"free_regrow.free/hbitmap15/{n}"].ok)
        for r in doc["results"]:
            if r["status"] == "ok":
                self.assertGreater(r["instructions"], 0)
                self.assertGreaterEqual(r["instructions_with_fees"], r["instructions"])
                self.assertGreater(r["ic_instructions"], r["instructions_with_fees"]
                                   - r["instructions"])
                self.assertEqual(r["per_op"], round(r["instructions"] / r["ops"], 3))

    def test_budget_leaves_larger_sizes_not_measured(self):
        doc, _ = self.count("budget.json", "--sizes", "16,32,64,128", "--designs", "v1",
                            "--workloads", "grow_pages", "--budget", "1")
        by_n = {r["n"]: r for r in doc["results"]}
        self.assertEqual([by_n[n]["status"] for n in (16, 32, 64, 128)], ["ok", "ok", "n/a", "n/a"])
        self.assertTrue(by_n[64]["reason"].startswith("not measured"), by_n[64]["reason"])

    def test_unknown_design_is_a_usage_error(self):
        p = subprocess.run([COUNT, "--module", MODULE, "--out", os.path.join(self.tmp, "x.json"),
                            "--designs", "nosuch"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no design is named 'nosuch'", p.stderr)


def result(workload, phase, design, n, ins, ops=10, **extra):
    r = {"workload": workload, "phase": phase, "design": design, "n": n, "status": "ok",
         "instructions": ins, "ops": ops, "per_op": ins / ops}
    r.update(extra)
    return r


class SideBySide(unittest.TestCase):
    """scripts/bench's x86-against-Wasm section, from files written here."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmfree-wasm-summary-")
        bench = runpy.run_path(os.path.join(ROOT, "scripts", "bench"), run_name="mmfree_bench")
        self.wasm_section, self.wasm_readme = bench["wasm_section"], bench["wasm_readme"]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, results, meta=None):
        with open(os.path.join(self.tmp, name), "w", encoding="utf-8") as f:
            json.dump({"schema": mmresults.SCHEMA, "meta": meta or {}, "results": results}, f)

    def folder(self, wasm_b):
        """x86: v1 100, a 200, b 300 per op; Wasm: v1 1000, a 2000, b wasm_b."""
        self.write("instructions.json", [result("grow_pages", "grow", d, 64, c) for d, c in
                                         (("v1", 1000), ("a", 2000), ("b", 3000))])
        self.write("instructions_wasm.json",
                   [result("grow_pages", "grow", d, 64, c, instructions_with_fees=c + 500,
                           ic_instructions=2 * c + 500)
                    for d, c in (("v1", 10000), ("a", 20000), ("b", wasm_b))],
                   {"target": "wasm32", "compiler": "clang", "node": "v20"})
        return "\n".join(self.wasm_section(self.tmp))

    def test_table_with_ratios_to_v1_on_both_targets(self):
        text = self.folder(30000)
        self.assertIn("| grow_pages.grow | 64 | v1 | 100 | 1.00x | 1,000 | 1.00x | 1,050 | "
                      "1.00x | 2,050 |", text)
        self.assertIn("| grow_pages.grow | 64 | b | 300 | 3.00x | 3,000 | 3.00x | 3,050 | "
                      "2.90x | 6,050 |", text)
        self.assertIn("The same on both targets", text)

    def test_a_ranking_that_changes_is_listed(self):
        text = self.folder(15000)  # b cheaper than a on Wasm, dearer on x86
        self.assertIn("- grow_pages.grow at N = 64: x86 v1 < a < b; Wasm v1 < b < a; "
                      "with fees v1 < b < a", text)
        self.assertNotIn("The same on both targets", text)

    def test_readme_block(self):
        self.folder(15000)
        lines = self.wasm_readme(self.tmp, n=64)
        self.assertEqual(lines[0], "| per operation, N = 64 | v1 | a | b |")
        self.assertIn("| grow_pages.grow, x86 | 100 | 200 | 300 |", lines)
        self.assertIn("| grow_pages.grow, Wasm + fees | 1,050 | 2,050 | 1,550 |", lines)
        self.assertIn("| worst_scan.grow, Wasm | n/a | n/a | n/a |", lines)
        self.assertIn("v1's grow (grow_pages, N = 64): 1,000 Wasm instructions, 1,050 with fees, "
                      "2,050 in the IC's weighted instructions with fees, against 10,857 for "
                      "upstream's Rust in canbench (347,433,966 for 32,000 grows).", lines)
        self.assertEqual(lines[-1], "The designs rank differently on Wasm than on x86 in 1 of the "
                         "1 workload phases x N that both measured (summary.md lists them).")

    def test_without_x86_counts_nothing_is_ranked(self):
        self.folder(15000)
        self.write("instructions.json", [])
        text = "\n".join(self.wasm_section(self.tmp))
        self.assertIn("| grow_pages.grow | 64 | b | n/a | — | 1,500 | 1.50x |", text)
        self.assertIn("Nothing to compare", text)
        self.assertNotIn("The same on both targets", text)

    def test_no_wasm_file_no_section(self):
        self.write("instructions.json", [result("grow_pages", "grow", "v1", 64, 1000)])
        self.assertEqual(self.wasm_section(self.tmp), [])

    def test_a_result_without_fees_is_a_one_line_error(self):
        self.write("instructions.json", [])
        self.write("instructions_wasm.json", [result("grow_pages", "grow", "v1", 64, 1000)])
        with self.assertRaises(mmresults.ResultsError) as cm:
            self.wasm_section(self.tmp)
        self.assertIn("instructions_wasm.json: result 0 has 'instructions_with_fees' = None",
                      str(cm.exception))


if __name__ == "__main__":
    unittest.main()
