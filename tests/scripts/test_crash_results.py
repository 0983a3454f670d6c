"""Tests of the crash and durable-mode results: scripts/crash-table and
scripts/durable-cost (--markdown on good and bad files, a short real
measurement), mmcrash's crash.json and its arguments, and SIGKILL of real
mmrun processes (scripts/readme --check compares the README's blocks with
results/baseline).

Run by `make test` with B naming the build folder (its mmrun and mmcrash
are used)."""

import json
import os
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build")
BUILD = B if os.path.isabs(B) else os.path.join(ROOT, B)
CRASH_TABLE = os.path.join(ROOT, "scripts", "crash-table")
DURABLE = os.path.join(ROOT, "scripts", "durable-cost")


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def crash_doc(results):
    return {"schema": "mmfree-crash/1", "meta": {"build": "normal"}, "results": results}


def durable_doc(results):
    return {"schema": "mmfree-durable/1",
            "meta": {"date": "2026-01-01T00:00:00Z", "filesystem": "ext2/ext3",
                     "command": "mmrun ops --design D (rounds of 2 grows; 1 round)"},
            "results": results}


class ScratchDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="mmfree-crash-test-")
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, doc):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path


class CrashTable(ScratchDir):
    def test_sums_points_per_design_and_mode(self):
        path = self.write("crash.json", crash_doc([
            {"design": "v1", "scenario": "grow_new", "mode": "plain", "points": 5,
             "survived": 5},
            {"design": "v1", "scenario": "format", "mode": "plain", "points": 3,
             "survived": 2},
            {"design": "v1", "scenario": "grow_new", "mode": "durable", "points": 1200,
             "survived": 1200}]))
        p = run(CRASH_TABLE, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        row = [line for line in p.stdout.splitlines() if line.startswith("| v1 ")]
        self.assertEqual(row, ["| v1 | `grow_new`, `format` | 7 / 8 | 1,200 / 1,200 |"])

    def test_bad_files_are_one_line_errors(self):
        good = {"design": "v1", "scenario": "grow_new", "mode": "plain", "points": 5,
                "survived": 5}
        cases = {
            "not json": "{",
            "wrong schema": {"schema": "mmfree-instructions/1", "results": []},
            "no results": {"schema": "mmfree-crash/1"},
            "negative points": crash_doc([dict(good, points=-1)]),
            "float points": crash_doc([dict(good, points=1e400)]),
            "more survived than tried": crash_doc([dict(good, survived=6)]),
            "unknown mode": crash_doc([dict(good, mode="power")]),
            "a name that breaks the table": crash_doc([dict(good, design="v1 |\n# x")]),
        }
        for what, doc in cases.items():
            path = self.write("bad.json", doc)
            p = run(CRASH_TABLE, path)
            self.assertEqual(p.returncode, 2, f"{what}: {p.stdout}")
            self.assertEqual(p.stdout, "", what)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, f"{what}: {p.stderr}")
            self.assertIn(path, p.stderr, what)
        p = run(CRASH_TABLE, os.path.join(self.tmp.name, "missing"))
        self.assertEqual(p.returncode, 2)


class DurableMarkdown(ScratchDir):
    def test_per_operation_figures(self):
        path = self.write("durable.json", durable_doc([
            {"design": "list", "mode": "plain", "ops": 2000, "median_s": 0.02, "runs": 3},
            {"design": "list", "mode": "sync", "ops": 20, "median_s": 0.1, "runs": 3}]))
        p = run(DURABLE, "--markdown", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("| list | 10.0 | 5.00 | 500x |", p.stdout)

    def test_bad_files_are_one_line_errors(self):
        good = {"design": "list", "mode": "sync", "ops": 20, "median_s": 0.1, "runs": 3}
        cases = {
            "wrong schema": {"schema": "mmfree-crash/1", "results": []},
            "zero median": durable_doc([dict(good, median_s=0)]),
            "no ops": durable_doc([{k: v for k, v in good.items() if k != "ops"}]),
            "no meta": {"schema": "mmfree-durable/1", "results": [good]},
        }
        for what, doc in cases.items():
            path = self.write("bad.json", doc)
            p = run(DURABLE, "--markdown", path)
            self.assertEqual(p.returncode, 2, f"{what}: {p.stdout}")
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, f"{what}: {p.stderr}")

    def test_a_short_measurement(self):
        out = os.path.join(self.tmp.name, "durable.json")
        p = run(DURABLE, "--mmrun", os.path.join(BUILD, "mmrun"), "--out", out,
                "--designs", "v1,hbitmap15", "--grows", "2", "--runs", "1",
                "--plain-reps", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, encoding="utf-8") as f:
            doc = json.load(f)
        got = {(r["design"], r["mode"]): r for r in doc["results"]}
        self.assertEqual(set(got), {("v1", "plain"), ("v1", "sync"), ("hbitmap15", "plain"),
                                    ("hbitmap15", "sync")})
        # v1 cannot free: its rounds are grows only.
        self.assertEqual(got["v1", "sync"]["ops"], 4)
        self.assertEqual(got["hbitmap15", "sync"]["ops"], 4 + 16)
        self.assertEqual(got["hbitmap15", "plain"]["ops"], 2 * (4 + 16))
        self.assertEqual(os.listdir(self.tmp.name), ["durable.json"], "scratch files left")


class Mmcrash(ScratchDir):
    def test_json_of_one_design(self):
        out = os.path.join(self.tmp.name, "crash.json")
        p = run(os.path.join(BUILD, "mmcrash"), "--designs", "v1", "--json", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(doc["schema"], "mmfree-crash/1")
        self.assertEqual({r["design"] for r in doc["results"]}, {"v1"})
        for r in doc["results"]:
            self.assertEqual(r["points"], r["survived"], r)
            self.assertGreater(r["points"], 1, r)
        self.assertEqual(run(CRASH_TABLE, out).returncode, 0)

    def test_bad_arguments(self):
        for args in (["--designs", "nope"], ["--scenarios", "nope"], ["--modes", "fast"],
                     ["--json"]):
            p = run(os.path.join(BUILD, "mmcrash"), *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


class KillNine(ScratchDir):
    """The real thing, end to end: `mmrun ops` on a file, killed with
    SIGKILL at a random moment (seeded: MMFREE_SEED replays), then opened
    by a new process. The sizes must be those after the ops whose lines it
    printed, or after one op more (the one it was in), and mm_check must
    pass."""

    MEMORIES = 16

    def script(self, rng, frees, n):
        ops, sizes = [], [[0] * self.MEMORIES]
        for _ in range(n):
            s = list(sizes[-1])
            i = rng.randrange(self.MEMORIES)
            if frees and rng.random() < 0.1:
                ops.append(f"free {i}")
                s[i] = 0
            else:
                p = rng.choice((1, 1, 2, 5))
                ops.append(f"grow {i} {p}")
                s[i] += p
            sizes.append(s)
        return "\n".join(ops) + "\n", sizes

    def test_killed_mmrun_reopens_to_the_state_before_or_after_its_last_op(self):
        import random
        import signal
        import time
        seed = int(os.environ.get("MMFREE_SEED", "18"))
        rng = random.Random(seed)
        mmrun = os.path.join(BUILD, "mmrun")
        designs = run(mmrun, "designs").stdout.split("\n")
        designs = [line.split()[0] for line in designs if line.strip()]
        killed = 0
        for design in designs:
            frees = subprocess.run([mmrun, "ops", "--design", design], input="grow 0 1\nfree 0\n",
                                   capture_output=True, text=True).returncode == 0
            for sync in (False, True):
                for k in range(3):
                    mem = os.path.join(self.tmp.name, f"{design}-{int(sync)}-{k}.mem")
                    # 8,000 ops stay under v1's 32,768 one-page buckets.
                    text, sizes = self.script(rng, frees, 8000)
                    cmd = [mmrun, "ops", "--design", design, "--memory", mem, "--bucket-pages",
                           "1"] + (["--sync"] if sync else [])
                    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL)
                    proc.stdin.write(text.encode())
                    proc.stdin.close()
                    time.sleep(rng.uniform(0.005, 0.05 if not sync else 0.3))
                    proc.send_signal(signal.SIGKILL)
                    out = proc.stdout.read().decode()
                    proc.wait()
                    done = out.count("\n")
                    what = (f"seed {seed}: {design}{' --sync' if sync else ''}, killed after "
                            f"{done} ops")
                    killed += done < len(sizes) - 1
                    q = subprocess.run(cmd[:6], capture_output=True, text=True,
                                       input="".join(f"size {i}\n" for i in
                                                     range(self.MEMORIES)) + "check\n")
                    self.assertEqual(q.returncode, 0, f"{what}: {q.stdout}{q.stderr}")
                    lines = q.stdout.split("\n")
                    got = [int(x) for x in lines[:self.MEMORIES]]
                    self.assertEqual(lines[self.MEMORIES], "ok", what)
                    want = [sizes[done]] + ([sizes[done + 1]] if done + 1 < len(sizes) else [])
                    self.assertIn(got, want, what)
        self.assertGreater(killed, 0, "no run was killed before its end")
