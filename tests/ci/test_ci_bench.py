"""Tests of scripts/ci-bench: the steps of the bench workflows, run as the
workflows run them but on a scratch git repository with a base and a head
commit, and a bare repository as its remote.

The scratch project's `make bench` writes the report test's fixture results
(tests/report/fixture) with each design's instruction counts scaled by a
factor from a file of the commit (cost.txt), so a commit can regress, fail
to build, lose its `make bench` or stall, in a second.
The comparison, the report and the history branch use the real
bench-diff, `make report` and git. Run by `make test`."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI = os.path.join(ROOT, "scripts", "ci-bench")
MARKER = "<!-- mmfree-bench -->"

FIXTURE = os.path.join(ROOT, "tests", "report", "fixture", "instructions.json")
FAKE_BENCH = r'''
import json, os, subprocess, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
factor = {d: float(f) for d, f in (line.split() for line in open("cost.txt"))}
doc = json.load(open(FIXTURE))
for r in doc["results"]:
    if r["status"] == "ok":
        r["instructions"] = round(r["instructions"] * factor.get(r["design"], 1.0))
        r["per_op"] = r["instructions"] / r["ops"]
doc["meta"].update(commit=commit, dirty=False)
json.dump(doc, open(os.path.join(out, "instructions.json"), "w"))
print("bench: wrote", out)
'''.replace("FIXTURE", repr(FIXTURE))


def head_row():
    """The start of the head's own figures table, when there is nothing to
    compare with: grow_pages, v1 first, at the largest N it measured."""
    with open(FIXTURE) as f:
        ok = [r for r in json.load(f)["results"] if r["status"] == "ok"
              and (r["workload"], r["design"]) == ("grow_pages", "v1")]
    top = max(ok, key=lambda r: r["n"])
    return f"| grow_pages.grow | {top['instructions'] / top['ops']:,.0f}"


HEAD_ROW = head_row()

MAKEFILE = "BENCH_OUT ?= results/latest\nbench:\n\tpython3 fake_bench.py $(BENCH_OUT)\n"


def clean_env():
    # A make inside `make test` must not inherit the outer make's jobserver.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    return env


class Scratch:
    """A git repository with a bare remote, and helpers to commit to it."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mmfree-ci-test-")
        self.origin = os.path.join(self.tmp, "origin.git")
        self.repo = os.path.join(self.tmp, "repo")
        self.git_in(self.tmp, "init", "-q", "--bare", self.origin)
        self.git_in(self.tmp, "init", "-q", "-b", "main", self.repo)
        self.git("remote", "add", "origin", self.origin)

    def git_in(self, cwd, *args):
        p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                           env=clean_env())
        if p.returncode != 0:
            raise AssertionError(f"git {args}: {p.stderr}")
        return p.stdout.strip()

    def git(self, *args):
        return self.git_in(self.repo, *args)

    def commit(self, files, message="change"):
        for name, text in files.items():
            path = os.path.join(self.repo, name)
            if text is None:
                os.remove(path)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        self.git("add", "-A", ".")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def project(self, costs="v1 1\nlist 1\n", makefile=MAKEFILE):
        return self.commit({"Makefile": makefile, "fake_bench.py": FAKE_BENCH,
                            "cost.txt": costs, "README.md": "scratch\n"}, "project")

    def ci(self, *args):
        return subprocess.run([sys.executable, CI, *args], cwd=self.repo, capture_output=True,
                              text=True, env=clean_env(), timeout=300)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Case(unittest.TestCase):
    def setUp(self):
        self.s = Scratch()
        self.out = os.path.join(self.s.tmp, "bench-out")

    def tearDown(self):
        self.s.close()

    def ok(self, p):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def measure(self, head, base_of, *extra):
        self.s.git("checkout", "-q", head)
        self.ok(self.s.ci("measure", "--out", self.out, "--head", head, "--base-of", base_of,
                          *extra))
        with open(os.path.join(self.out, "ci.json")) as f:
            ci = json.load(f)
        self.ok(self.s.ci("comment", "--out", self.out, "--head", head, "--run-url",
                          "https://example.com/run/1"))
        with open(os.path.join(self.out, "comment.md")) as f:
            return ci, f.read()

    def gate(self):
        return self.s.ci("gate", "--out", self.out).returncode


class Changes(Case):
    def bench(self, base, head):
        p = self.ok(self.s.ci("changes", "--base", base, "--head", head))
        return p.stdout.strip()

    def test_docs_only_runs_no_benchmark(self):
        base = self.s.project()
        docs = self.s.commit({"README.md": "more\n", "man/mmrun.1": ".TH x\n",
                              "results/FORMAT.md": "x\n", "tests/fuzz/README.md": "x\n"})
        self.assertEqual(self.bench(base, docs), "bench=false")

    def test_code_runs_the_benchmark(self):
        base = self.s.project()
        head = self.s.commit({"README.md": "more\n", "impl/x.c": "int x;\n"})
        self.assertEqual(self.bench(base, head), "bench=true")
        self.assertEqual(self.bench(head, self.s.commit({"Makefile": MAKEFILE + "\n"})),
                         "bench=true")

    def test_no_base_runs_the_benchmark(self):
        head = self.s.project()
        self.assertEqual(self.bench("0" * 40, head), "bench=true")
        self.assertEqual(self.bench("", head), "bench=true")


class Measure(Case):
    def pr(self, head_files):
        """main, then a branch from it with head_files, then main moves on
        (so the merge base is not main's tip)."""
        base = self.s.project()
        self.s.git("checkout", "-q", "-b", "topic")
        head = self.s.commit(head_files)
        self.s.git("checkout", "-q", "main")
        tip = self.s.commit({"README.md": "main moved on\n"})
        return base, head, tip

    def test_regression_is_gated_and_names_both_commits(self):
        base, head, tip = self.pr({"cost.txt": "v1 1\nlist 1.1\n"})
        ci, text = self.measure(head, tip)
        self.assertEqual((ci["head"]["status"], ci["base"]["status"]), ("ok", "ok"))
        self.assertEqual(ci["base"]["commit"], base)  # the merge base, not main's tip
        self.assertEqual(ci["diff"]["status"], 1)
        self.assertIn("❌", text.splitlines()[1])
        self.assertIn(f"Head `{head[:10]}`", text)
        self.assertIn(f"base `{base[:10]}`", text)
        self.assertIn(f"now at `{tip[:10]}`", text)
        self.assertIn("regression", text)
        self.assertEqual(text.count(MARKER), 1)
        self.assertEqual(self.gate(), 1)

    def test_unchanged_head_passes(self):
        _, head, tip = self.pr({"impl/x.c": "int x;\n"})
        ci, text = self.measure(head, tip)
        self.assertEqual(ci["diff"]["status"], 0)
        self.assertIn("✅", text.splitlines()[1])
        self.assertEqual(self.gate(), 0)

    def test_base_that_fails_to_build(self):
        broken = MAKEFILE.replace("\tpython3", "\t@echo 'impl/x.c:3:1: error: expected ; before }' "
                                  "&& exit 2\n\tpython3")
        base = self.s.project(makefile=broken)
        head = self.s.commit({"Makefile": MAKEFILE})
        ci, text = self.measure(head, base)
        self.assertEqual(ci["head"]["status"], "ok")
        self.assertEqual(ci["base"]["status"], "failed")
        self.assertNotIn("diff", ci)
        self.assertIn("⚠️", text.splitlines()[1])
        self.assertIn(f"base `{base[:10]}` could not be measured", text)
        self.assertIn("error: expected ; before }", text)  # the line that says why
        self.assertIn("The last", text)  # the log's tail
        self.assertIn(HEAD_ROW, text)  # the head's own figures
        self.assertEqual(self.gate(), 0)

    def test_base_without_make_bench(self):
        base = self.s.project(makefile="all:\n\ttrue\n")
        head = self.s.commit({"Makefile": MAKEFILE})
        ci, text = self.measure(head, base)
        self.assertEqual(ci["base"]["status"], "no-bench")
        self.assertIn("has no `make bench`", text.replace("'", "`"))
        self.assertIn(HEAD_ROW, text)
        self.assertEqual(self.gate(), 0)

    def test_first_pull_request_without_a_base(self):
        head = self.s.project()
        for base_of in ("", "0" * 40):
            ci, text = self.measure(head, base_of)
            self.assertEqual(ci["base"]["status"], "none")
            self.assertIsNone(ci["base"]["commit"])
            self.assertIn("no base commit", text)
            self.assertIn(HEAD_ROW, text)
            self.assertEqual(self.gate(), 0)

    def test_unrelated_base(self):
        head = self.s.project()
        self.s.git("checkout", "-q", "--orphan", "other")
        other = self.s.commit({"other.txt": "x\n"})
        ci, text = self.measure(head, other)
        self.assertEqual(ci["base"]["status"], "none")
        self.assertIn("shares no history", text)

    def test_base_past_its_time_limit(self):
        slow = MAKEFILE.replace("\tpython3", "\tsleep 30\n\tpython3")
        base = self.s.project(makefile=slow)
        head = self.s.commit({"Makefile": MAKEFILE})
        ci, text = self.measure(head, base, "--base-timeout", "1")
        self.assertEqual(ci["base"]["status"], "timeout")
        self.assertIn("ran past 1 s", text)
        self.assertEqual(self.gate(), 0)

    def test_head_that_fails(self):
        base = self.s.project()
        head = self.s.commit({"cost.txt": "v1 1\nlist\n"})  # fake_bench.py cannot read it
        ci, text = self.measure(head, base)
        self.assertEqual(ci["head"]["status"], "failed")
        self.assertIn("❌", text.splitlines()[1])
        self.assertIn("The head's `make bench` did not give results", text)
        self.assertEqual(self.gate(), 1)

    def test_measure_refuses_another_checkout(self):
        base = self.s.project()
        head = self.s.commit({"cost.txt": "v1 2\nlist 1\n"})
        self.s.git("checkout", "-q", base)
        p = self.s.ci("measure", "--out", self.out, "--head", head, "--base-of", base)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


class Artifact(Case):
    def artifact(self, cost="v1 1\nlist 1.1\n"):
        base = self.s.project()
        head = self.s.commit({"cost.txt": cost})
        self.measure(head, base)
        return head

    def check(self, head):
        return self.s.ci("check-artifact", "--out", self.out, "--head", head)

    def test_plain_results_pass(self):
        head = self.artifact()
        self.ok(self.check(head))

    def test_another_head_is_refused(self):
        head = self.artifact()
        p = self.check("f" * 40)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not the head", p.stderr)

    def test_a_name_that_gnuplot_would_run_is_refused(self):
        head = self.artifact()
        path = os.path.join(self.out, "head", "instructions.json")
        with open(path) as f:
            doc = json.load(f)
        doc["results"][0]["design"] = "v1`touch /tmp/owned`"
        with open(path, "w") as f:
            json.dump(doc, f)
        p = self.check(head)
        self.assertEqual(p.returncode, 2)
        self.assertIn("backquote", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_a_link_is_refused(self):
        head = self.artifact()
        os.symlink("/etc/passwd", os.path.join(self.out, "head", "passwd"))
        p = self.check(head)
        self.assertEqual(p.returncode, 2)
        self.assertIn("a link", p.stderr)


class Publish(Case):
    def bench(self, commit):
        out = os.path.join(self.s.tmp, "results-" + commit[:7])
        self.s.git("checkout", "-q", commit)
        subprocess.run(["make", "-s", "bench", f"BENCH_OUT={out}"], cwd=self.s.repo,
                       check=True, capture_output=True, env=clean_env())
        return out

    def publish(self, kind, commit, results, *extra):
        p = self.ok(self.s.ci("publish", "--kind", kind, "--results", results, "--commit", commit,
                              "--pages-url", "https://example.github.io/repo", *extra))
        return dict(line.split("=", 1) for line in p.stdout.splitlines())

    def branch_files(self):
        out = self.s.git_in(self.s.origin, "ls-tree", "-r", "--name-only", "bench-history")
        return out.splitlines()

    def test_main_history_report_and_index(self):
        first = self.s.project()
        second = self.s.commit({"cost.txt": "v1 0.9\nlist 1\n"})
        outs = {c: self.bench(c) for c in (first, second)}
        for c in (first, second):
            got = self.publish("main", c, outs[c])
            self.assertEqual(got["url"], f"https://example.github.io/repo/reports/{c}/")
            self.assertEqual(got["chart"], got["url"] + "cost-grow.png")
        files = self.branch_files()
        history = [f for f in files if f.startswith("history/")]
        self.assertEqual(len(history), 2)
        self.assertTrue(all(re.match(r"history/\d{4}-\d\d-\d\dT\d{6}Z-[0-9a-f]{40}\.json$", f)
                            for f in history), history)
        for c in (first, second):
            self.assertIn(f"reports/{c}/index.html", files)
            self.assertIn(f"reports/{c}/info.json", files)
        self.assertIn("index.html", files)
        self.assertIn(".nojekyll", files)
        # The second report's trend was drawn from both commits.
        self.assertIn(f"reports/{second}/trend-grow.png", files)
        # A re-run of a commit keeps the figures first recorded.
        self.publish("main", second, outs[first])
        self.assertEqual(len([f for f in self.branch_files() if f.startswith("history/")]), 2)

    def test_pull_request_keeps_its_latest_head(self):
        base = self.s.project()
        heads = [self.s.commit({"cost.txt": f"v1 {c}\nlist 1\n"}) for c in (1.1, 1.2)]
        base_out = self.bench(base)
        for h in heads:
            got = self.publish("pr", h, self.bench(h), "--pr", "7", "--base", base_out)
            self.assertEqual(got["chart"], got["url"] + "base-vs-head.png")
        files = self.branch_files()
        self.assertIn(f"pr/7/{heads[1]}/index.html", files)
        self.assertFalse([f for f in files if f.startswith(f"pr/7/{heads[0]}")])

    def test_concurrent_pushes_lose_no_commit(self):
        commits = [self.s.project()]
        commits += [self.s.commit({"cost.txt": f"v1 {1 + i / 10}\nlist 1\n"}) for i in (1, 2)]
        outs = [self.bench(c) for c in commits]
        self.publish("main", commits[0], outs[0])  # the branch exists; then three race
        procs = [subprocess.Popen([sys.executable, CI, "publish", "--kind", "main", "--results",
                                   o, "--commit", c], cwd=self.s.repo, env=clean_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c, o in zip(commits[1:] + commits[:1], outs[1:] + outs[:1])]
        for p in procs:
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
        history = [f for f in self.branch_files() if f.startswith("history/")]
        self.assertEqual(sorted(h[-45:-5] for h in history), sorted(commits))


class Matrix(Case):
    def test_shard_list(self):
        p = self.ok(self.s.ci("matrix", "4"))
        self.assertEqual(p.stdout, "shards=[1, 2, 3, 4]\ncount=4\n")
        self.assertEqual(self.s.ci("matrix", "0").returncode, 2)


if __name__ == "__main__":
    unittest.main()
