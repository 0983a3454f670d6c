"""Tests of `make bench SHARD=K/N` (scripts/bench --shard, scripts/mmshard.py)
and scripts/merge-results: three shards of a small bench, merged, hold
exactly the instruction counts, the timed Google Benchmark runs and the
hyperfine commands of one unsharded run; and merge-results refuses what is
not the shards of one plan, with one line and exit 2.

Run by `make test` with B naming the build folder (its mmrun and gbench)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import mmshard  # noqa: E402

B = os.environ.get("B", "build")
BUILD = B if os.path.isabs(B) else os.path.join(ROOT, B)
BENCH = os.path.join(ROOT, "scripts", "bench")
MERGE = os.path.join(ROOT, "scripts", "merge-results")
# Small enough for make test: three sizes (count-instructions measures the
# two smallest and decides the third from them), a few workloads with
# several phases, the raw floor, and hyperfine at the largest size.
SETTINGS = ["--sizes", "256 512 1024", "--reps", "3",
            "--workloads", "grow_pages free_regrow worst_scan raw",
            "--harnesses", "callgrind gbench hyperfine", "--hyperfine-n", "1024"]


def bench(out, *extra):
    p = subprocess.run([sys.executable, BENCH, "--mmrun", os.path.join(BUILD, "mmrun"),
                        "--gbench", os.path.join(BUILD, "gbench"), "--out", out, *SETTINGS,
                        *extra], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"scripts/bench {extra} failed:\n{p.stdout[-3000:]}{p.stderr}")
    return p


def merge(out, *folders):
    return subprocess.run([sys.executable, MERGE, "--out", out, *folders], capture_output=True,
                          text=True, timeout=120)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def counts(folder):
    """key -> (status, instructions, ops) of instructions.json, in order."""
    doc = load(os.path.join(folder, "instructions.json"))
    return [((r["workload"], r["phase"], r["design"], r["n"]),
             (r["status"], r.get("instructions"), r.get("ops"), r.get("reason")))
            for r in doc["results"]]


def timed(folder):
    """The Google Benchmark runs: (name, whether it was skipped)."""
    doc = load(os.path.join(folder, "gbench.json"))
    return sorted((b["name"], b.get("repetition_index"), bool(b.get("error_occurred")))
                  for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration")


def commands(folder):
    return sorted(r["command"] for r in load(os.path.join(folder, "hyperfine.json"))["results"])


class Shards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mmfree-shards-")
        cls.whole = os.path.join(cls.tmp, "whole")
        bench(cls.whole)
        cls.shards = [os.path.join(cls.tmp, f"shard{k}") for k in (1, 2, 3)]
        cls.logs = [bench(s, "--shard", f"{k}/3").stdout for k, s in enumerate(cls.shards, 1)]
        cls.merged = os.path.join(cls.tmp, "merged")
        cls.merge = merge(cls.merged, *cls.shards)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def refused(self, *folders, expect):
        p = merge(os.path.join(self.tmp, "refused"), *folders)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn(expect, p.stderr)

    def copy_shard(self, k, name):
        dst = os.path.join(self.tmp, name)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(self.shards[k - 1], dst)
        return dst

    def edit_manifest(self, folder, change):
        path = os.path.join(folder, "shard.json")
        doc = load(path)
        change(doc)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)

    def test_merged_counts_equal_an_unsharded_run(self):
        self.assertEqual(self.merge.returncode, 0, self.merge.stderr)
        self.assertEqual(counts(self.merged), counts(self.whole))  # the same order, too
        self.assertTrue(any(v[0] == "ok" for _, v in counts(self.merged)))

    def test_harnesses_shard_the_same_way(self):
        self.assertEqual(timed(self.merged), timed(self.whole))
        self.assertEqual(commands(self.merged), commands(self.whole))

    def test_shards_are_disjoint_and_all_work(self):
        keys = [{k for k, _ in counts(s)} for s in self.shards]
        self.assertFalse(keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
        for s, log in zip(self.shards, self.logs):
            self.assertTrue(os.path.exists(os.path.join(s, "instructions.json")), log)
            self.assertIn("families", log)
        plans = [load(os.path.join(s, "shard.json"))["units"] for s in self.shards]
        self.assertEqual(plans[0], plans[1])
        self.assertEqual(plans[0], plans[2])

    def test_merged_folder_has_a_summary_and_no_manifest(self):
        with open(os.path.join(self.merged, "summary.md"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("## grow_pages.grow", text)
        self.assertIn("3 shards, merged by scripts/merge-results", text)
        self.assertFalse(os.path.exists(os.path.join(self.merged, "shard.json")))
        meta = load(os.path.join(self.merged, "instructions.json"))["meta"]
        self.assertEqual([s["shard"] for s in meta["shards"]], [1, 2, 3])

    def test_refuses_a_missing_shard(self):
        self.refused(*self.shards[:2], expect="shard 3 of 3 missing")

    def test_refuses_a_shard_twice(self):
        again = self.copy_shard(2, "again")
        self.refused(self.shards[0], self.shards[1], again, expect="both shard 2 of 3")

    def test_refuses_another_commit(self):
        other = self.copy_shard(3, "other-commit")
        self.edit_manifest(other, lambda d: d.update(commit="0" * 40))
        self.refused(self.shards[0], self.shards[1], other, expect="different commits")

    def test_refuses_other_settings(self):
        other = self.copy_shard(3, "other-settings")
        self.edit_manifest(other, lambda d: d["settings"].update(reps=9))
        self.refused(self.shards[0], self.shards[1], other,
                     expect="different settings: reps is 3 in")

    def test_refuses_a_cell_in_the_wrong_shard(self):
        # Shard 1's instructions.json also holds a cell that the plan (the
        # same in every manifest) gives to shard 2.
        moved = self.copy_shard(1, "moved")
        doc = load(os.path.join(self.shards[1], "instructions.json"))
        mine = load(os.path.join(moved, "instructions.json"))
        mine["results"].append(doc["results"][0])
        with open(os.path.join(moved, "instructions.json"), "w", encoding="utf-8") as f:
            json.dump(mine, f)
        self.refused(moved, self.shards[1], self.shards[2], expect="overlapping cells")

    def test_refuses_a_folder_that_is_no_shard(self):
        self.refused(self.whole, *self.shards[1:], expect="not a shard")


class Plan(unittest.TestCase):
    def test_largest_first_to_the_least_loaded(self):
        class Known:
            source = "fixed"

            def family(self, workload, design, sizes):
                return {"a": 10.0, "b": 7.0, "c": 5.0, "d": 4.0, "e": 3.0}[design]
        units = [{"workload": "w", "design": d, "sizes": [1], "hyperfine": False}
                 for d in "abcde"]
        load_ = mmshard.plan(units, 2, Known(), 1)
        self.assertEqual([u["shard"] for u in units], [1, 2, 2, 1, 2])
        self.assertEqual(load_, [14.0, 15.0])

    def test_bad_shard_arguments(self):
        for bad in ("0/3", "4/3", "3", "a/b", "1/0", ""):
            with self.assertRaises(mmshard.ShardError):
                mmshard.parse(bad)
        self.assertEqual(mmshard.parse("2/3"), (2, 3))
        p = subprocess.run([sys.executable, BENCH, "--mmrun", "x", "--gbench", "y", "--out", "z",
                            "--shard", "4/3"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bad shard '4/3'", p.stderr)


if __name__ == "__main__":
    unittest.main()
