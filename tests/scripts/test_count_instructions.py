"""Tests of the benchmark harness scripts: `mmrun run` on the command line,
scripts/count-instructions under callgrind (exact, repeatable, setup not
counted, the budget), and the summary scripts/bench writes.

Run by `make test` with B naming the build folder (its mmrun is used)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build")
MMRUN = os.path.join(ROOT, B, "mmrun") if not os.path.isabs(B) else os.path.join(B, "mmrun")
COUNT = os.path.join(ROOT, "scripts", "count-instructions")
SIZES = "64,128,256"

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from mmshard import load_script  # noqa: E402


def mmrun(*args):
    return subprocess.run([MMRUN, *args], capture_output=True, text=True)


def registry():
    """(first design, first design that frees), from mmrun's own list."""
    p = mmrun("run", "--list", "--n", "64")
    entries = [json.loads(x) for x in p.stdout.splitlines()]
    designs = list(dict.fromkeys(e["design"] for e in entries if e["design"] != "none"))
    freeing = [e["design"] for e in entries if e["workload"] == "worst_scan"
               and e["status"] == "ok"]
    return designs[0], freeing[0]


@unittest.skipUnless(os.access(MMRUN, os.X_OK), f"{MMRUN} is not built")
class WriteCosts(unittest.TestCase):
    """scripts/write-costs: bytes written per grow and free, from mmrun's stats."""

    def run_costs(self, *args):
        return subprocess.run([os.path.join(ROOT, "scripts", "write-costs"), *args],
                              capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, MMRUN=MMRUN), timeout=120)

    def test_a_line_per_design_with_v1s_exact_bytes(self):
        p = self.run_costs("40")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()[1:]
        rows = {line.split()[0]: line for line in lines}
        designs = [x.split()[0] for x in mmrun("designs").stdout.splitlines()]
        self.assertEqual(list(rows), designs)
        # V1 writes one owner byte, the count (2) and the size (8) per new
        # bucket, and cannot free, so the second 40 grows carve 40 more pages.
        v1 = rows["v1"].split()
        self.assertEqual(v1[1:4], ["34848", "11.0", "B"])
        self.assertEqual(v1[-3:], ["41", "->", "81"])
        for d in designs:
            if d not in ("v1", "v1reclaim"):  # both later grows reuse every bucket
                self.assertEqual(rows[d].split()[-3:], ["41", "->", "41"], rows[d])

    def test_a_design_out_of_buckets_is_counted_not_failed(self):
        # v1 holds 32,768 one-page buckets: of the second 16,400 grows,
        # the last 32 find none.
        p = self.run_costs("16400")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        v1 = [x for x in p.stdout.splitlines() if x.startswith("v1 ")][0].split()
        self.assertEqual(v1[-6:], ["16401", "->", "32769", "32", "grows", "refused"])

    def test_bad_n_is_a_usage_error(self):
        for bad in ("0", "x", "-3"):
            p = self.run_costs(bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("usage", p.stderr)


@unittest.skipUnless(os.access(MMRUN, os.X_OK), f"{MMRUN} is not built")
class MmrunRun(unittest.TestCase):
    """mmrun run: one JSON line, n/a is not an error, usage errors exit 2."""

    def usage_error(self, *args, says):
        p = mmrun("run", *args)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("mmrun run: "), lines[0])
        self.assertIn(says, lines[0])

    def test_unknown_design(self):
        self.usage_error("--design", "nosuch", "--workload", "grow_pages", "--n", "8",
                         says="no design is named 'nosuch'")

    def test_unknown_workload(self):
        self.usage_error("--design", registry()[0], "--workload", "nosuch", "--n", "8",
                         says="no workload is named 'nosuch'")

    def test_bad_n(self):
        for n in ("0", "-1", "12x", "99999999999", "8,,x"):
            self.usage_error("--design", registry()[0], "--workload", "grow_pages", "--n", n,
                             says="bad N")
        self.usage_error("--design", registry()[0], "--workload", "grow_pages", "--n", "",
                         says="--n needs a value")

    def test_missing_and_unknown_options(self):
        self.usage_error("--design", registry()[0], "--n", "8", says="needs --design")
        self.usage_error("--design", registry()[0], "--workload", "grow_pages", "--n", "8",
                         "--fast", says="unknown option '--fast'")

    def test_raw_only_with_no_design(self):
        self.usage_error("--design", registry()[0], "--workload", "raw", "--n", "8",
                         says="--design none")
        self.usage_error("--design", "none", "--workload", "grow_pages", "--n", "8",
                         says="only for workload raw")

    def test_one_json_line(self):
        p = mmrun("run", "--design", registry()[0], "--workload", "grow_pages", "--n", "100")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        r = json.loads(lines[0])
        self.assertEqual((r["status"], r["ops"], r["buckets_new"]), ("ok", 100, 100))
        (ph,) = r["phases"]
        self.assertGreater(ph.pop("ns_per_op"), 0)  # its wall clock, per op
        self.assertEqual({k: ph[k] for k in ("phase", "ops", "key", "pages_end")},
                         {"phase": "grow", "ops": 100, "pages_end": r["pages_end"],
                          "key": f"grow_pages.grow/{registry()[0]}/100"})
        self.assertEqual(ph["header_bytes_written"], r["header_bytes_written"])
        self.assertGreater(ph["heap_bytes"], 100 * 4)
        self.assertNotIn("dirty_pages", ph)
        p = mmrun("run", "--count-dirty", "--design", registry()[0], "--workload",
                  "grow_pages", "--n", "100")
        counted = json.loads(p.stdout)
        (phc,) = counted.pop("phases")
        self.assertGreaterEqual(phc.pop("dirty_pages"), 1)
        self.assertGreater(phc.pop("ns_per_op"), 0)
        self.assertEqual(phc, ph)
        self.assertEqual(counted, {k: v for k, v in r.items() if k != "phases"})

    def test_na_is_a_line_and_exit_0(self):
        p = mmrun("run", "--list", "--n", "64")
        na = [json.loads(x) for x in p.stdout.splitlines() if '"n/a"' in x][0]
        p = mmrun("run", "--design", na["design"], "--workload", na["workload"], "--n", "64")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual((r["status"], r["reason"]), ("n/a", na["reason"]))


@unittest.skipUnless(os.access(MMRUN, os.X_OK) and shutil.which("valgrind"),
                     "needs mmrun and valgrind")
class CountInstructions(unittest.TestCase):
    """Exact counts: the same run twice agrees, more setup changes nothing,
    and the budget leaves the costly sizes out with the reason."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mmfree-count-test-")
        cls.designs = ",".join(registry())
        cls.base = cls.count("first")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def count(cls, name, *extra, designs=None, workloads="grow_pages,worst_scan"):
        """-> (document, {(workload, phase, design, n): result})."""
        out = os.path.join(cls.tmp, name, "instructions.json")
        p = subprocess.run([COUNT, "--mmrun", MMRUN, "--out", out, "--designs",
                            designs or cls.designs, "--workloads", workloads, "--sizes", SIZES,
                            "--jobs", "2", *extra], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"count-instructions failed: {p.stdout}{p.stderr}")
        with open(out) as f:
            doc = json.load(f)
        return doc, {(r["workload"], r["phase"], r["design"], r["n"]): r
                     for r in doc["results"]}

    def test_format_and_meta(self):
        doc, res = self.base
        self.assertEqual(doc["schema"], "mmfree-instructions/1")
        self.assertTrue(doc["meta"]["valgrind"].startswith("valgrind-"))
        self.assertIn("commit", doc["meta"])
        ok = [r for r in res.values() if r["status"] == "ok"]
        self.assertTrue(ok)
        for r in ok:
            self.assertEqual(r["per_op"], round(r["instructions"] / r["ops"], 3))
            for f in ("pages_end", "header_bytes_written", "dirty_pages", "heap_bytes"):
                self.assertIsInstance(r[f], int, (f, r))
            # Every grow of these workloads writes the header (one page at
            # least) and the manager holds its tables.
            self.assertGreaterEqual(r["dirty_pages"], 1, r)
            self.assertGreater(r["header_bytes_written"], 0, r)
            self.assertGreater(r["heap_bytes"], 0, r)
            self.assertGreaterEqual(r["pages_end"], r["n"], r)
        self.assertEqual({k[3] for k in res}, {64, 128, 256})
        self.assertTrue(all(r["reason"] for r in res.values() if r["status"] == "n/a"))

    def test_same_run_twice_is_identical(self):
        _, a = self.base
        _, b = self.count("second")
        self.assertEqual({k: r.get("instructions") for k, r in a.items()},
                         {k: r.get("instructions") for k, r in b.items()})

    def test_setup_is_not_counted(self):
        _, a = self.base
        _, more = self.count("more-setup", "--extra-setup", "3")
        for k, r in a.items():
            self.assertEqual(r.get("instructions"), more[k].get("instructions"), k)

    def test_budget_leaves_costly_sizes_out(self):
        _, res = self.count("budget", "--budget", "1000", designs=registry()[0],
                            workloads="grow_pages")
        big = [r for k, r in res.items() if k[3] == 256 and k[0] == "grow_pages"]
        self.assertTrue(big)
        for r in big:
            self.assertEqual(r["status"], "n/a")
            self.assertIn("not measured", r["reason"])
        self.assertTrue(any(r["status"] == "ok" for k, r in res.items() if k[3] == 64))


@unittest.skipUnless(os.access(MMRUN, os.X_OK) and shutil.which("valgrind"),
                     "needs mmrun and valgrind")
class Determinism(unittest.TestCase):
    """A cell counts the same alone (one run, no fork) and in a batch (a
    child per run, after other workloads), whatever the environment's size
    (it moved the stack, and glibc's memcpy costs more or fewer instructions
    by its buffers' alignment: 12 more on reopen/v1 with 8 bytes more), and
    whatever ran before it (mmrun binds every symbol at load)."""

    def counts(self, design, workloads, sizes, pad, **env):
        cg = load_script("count-instructions")
        tmp = tempfile.mkdtemp(prefix="mmfree-determinism-")
        self.addCleanup(shutil.rmtree, tmp, True)
        p = subprocess.run(cg.VALGRIND + [f"--callgrind-out-file={tmp}/cg.%p", MMRUN, "run",
                                          "--design", design, "--workload", workloads,
                                          "--n", sizes],
                           capture_output=True, text=True,
                           env=dict(os.environ, MMFREE_TEST_PAD="x" * pad, **env))
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return cg.read_dumps(tmp)

    def test_symbols_are_bound_before_any_phase(self):
        # Bound lazily, a C library function's first call resolved its symbol
        # inside whichever phase made it first (600 to 1,500 instructions),
        # so a count depended on what the process had run before.
        for design in ("v1", registry()[1]):
            workloads = "grow_pages,free_regrow,reopen,rw_small"
            lazy = self.counts(design, workloads, "64", 0)
            now = self.counts(design, workloads, "64", 0, LD_BIND_NOW="1")
            self.assertEqual(lazy, now, design)

    def test_one_cell_alone_and_in_a_batch(self):
        for design in ("v1", registry()[1]):
            key = f"reopen.load/{design}/64"
            seen = {}
            for pad in (0, 8, 24, 40):
                seen[f"alone, {pad} bytes more environment"] = self.counts(
                    design, "reopen", "64", pad)[key]
                seen[f"after grow_pages, {pad} bytes more"] = self.counts(
                    design, "grow_pages,reopen", "128,64", pad)[key]
            self.assertEqual(len(set(seen.values())), 1, f"{key}: {seen}")


class Summary(unittest.TestCase):
    """scripts/bench's summary.md from a synthetic results folder."""

    def test_tables_ratios_and_figures(self):
        bench = load_script("bench")
        tmp = tempfile.mkdtemp(prefix="mmfree-summary-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sizes = [1024, 4096, 16384]
        results, benchmarks = [], []

        def add(w, ph, d, n, per_op, ns):
            results.append({"workload": w, "phase": ph, "design": d, "n": n, "status": "ok",
                            "instructions": int(per_op * n), "ops": n, "per_op": per_op,
                            "record": {"ops": n, "pages_end": n + 1}})
            if d == "fast":  # v1's results are as files before the space figures
                results[-1].update(pages_end=n + 2, dirty_pages=n // 2,
                                   header_bytes_written=2 * n, heap_bytes=70000)
            for i in range(5):
                benchmarks.append({"name": f"{w}.{ph}/{d}/{n}", "run_name": f"{w}.{ph}/{d}/{n}",
                                   "run_type": "iteration", "real_time": 1, "ns_per_op": ns + i})
        for n in sizes:
            add("grow_pages", "grow", "v1", n, 200, 50)
            add("grow_pages", "grow", "fast", n, 210, 52)
            add("worst_scan", "grow", "fast", n, n / 2, 9)
            add("free_regrow", "regrow", "fast", n, 150, 40)
        results.append({"workload": "worst_scan", "phase": "grow", "design": "v1", "n": 1024,
                        "status": "n/a", "reason": "v1 cannot free"})
        with open(os.path.join(tmp, "instructions.json"), "w") as f:
            json.dump({"schema": "mmfree-instructions/1", "meta": {"commit": "c" * 40},
                       "results": results}, f)
        with open(os.path.join(tmp, "gbench.json"), "w") as f:
            json.dump({"context": {}, "benchmarks": benchmarks}, f)
        entries = [{"workload": w, "design": d, "phases": phs} for w, phs in
                   (("grow_pages", ["grow"]), ("free_regrow", ["grow", "free", "regrow"]),
                    ("worst_scan", ["grow"])) for d in ("v1", "fast")]
        args = type("Args", (), {"sizes": [str(n) for n in sizes], "reps": 5,
                                 "harnesses": ["callgrind", "gbench"]})
        text = bench.summary(tmp, entries, args, "1 s")
        self.assertIn("## grow_pages.grow", text)
        self.assertIn("| fast | 210 | 210 | 210 | 1.05x | 54.0 (53.0–55.0) | 1.04x | 16,386 | "
                      "0.500 | 2.00 | 70,000 | O(1) |", text)
        self.assertIn("| v1 | 200 | 200 | 200 | 1.00x | 52.0 (51.0–53.0) | 1.00x | 16,385 | "
                      "— | — | — | O(1) |", text)
        self.assertIn("n/a: v1 at N = 1,024: v1 cannot free", text)
        self.assertIn("v1 grow_pages at N = 16,384: 200 instructions per grow", text)
        self.assertIn("Best freeing design on the grow workloads (grow_pages): fast, at most "
                      "1.05x", text)
        self.assertIn("worst_scan on fast", text)
        self.assertIn("O(N)", text)
        with open(os.path.join(tmp, "summary.md")) as f:
            self.assertEqual(f.read(), text)

    def test_na_notes_with_different_figures_give_their_range(self):
        bench = load_script("bench")
        reason = "not measured: about {}G instructions at N = {}, over the budget of 0.3G"
        where = [("slow", 16384, reason.format("1.4", "16,384")),
                 ("slow", 32768, reason.format("5.8", "32,768"))]
        self.assertEqual(bench.note_line(bench.note_key(where[0][2]), where),
                         "n/a: slow at N = 16,384, 32,768: not measured: about 1.4–5.8G "
                         "instructions at N = 16,384–32,768, over the budget of 0.3G")


if __name__ == "__main__":
    unittest.main()
