"""The workflows call only what exists: every scripts/... they run is an
executable of this repository, every `scripts/ci-bench COMMAND` a command
it has, every `make TARGET` a target, every `sets:` a set of scripts/deps,
and `make bench SHARD=K/N` reaches scripts/bench. (actionlint checks the
rest of their syntax; tests/ci/test_ci_bench.py runs the steps.)"""

import glob
import os
import re
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = sorted(glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yml"))
               + glob.glob(os.path.join(ROOT, ".github", "actions", "*", "action.yml")))


def clean_env():
    # A make inside `make test` must not inherit the outer make's jobserver.
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def text():
    out = {}
    for path in FILES:
        with open(path, encoding="utf-8") as f:
            # Without comments, and with continued lines joined.
            lines = [re.sub(r"(^|\s)#.*$", "", x) for x in f.read().splitlines()]
            out[os.path.relpath(path, ROOT)] = "\n".join(lines).replace("\\\n", " ")
    return out


class Workflows(unittest.TestCase):
    def test_there_are_workflows(self):
        names = {os.path.basename(p) for p in FILES}
        self.assertTrue({"test.yml", "bench.yml", "bench-comment.yml", "bench-full.yml",
                         "action.yml"} <= names, names)

    def test_scripts_exist(self):
        for name, body in text().items():
            for script in set(re.findall(r"\bscripts/[\w.-]+", body)):
                path = os.path.join(ROOT, script)
                self.assertTrue(os.access(path, os.X_OK), f"{name}: {script} is not executable")

    def test_ci_bench_commands_exist(self):
        for name, body in text().items():
            for cmd in set(re.findall(r"scripts/ci-bench (\S+)", body)):
                p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "ci-bench"),
                                    cmd, "--help"], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, f"{name}: ci-bench {cmd}: {p.stderr}")

    def test_make_targets_exist(self):
        for name, body in text().items():
            for target in set(re.findall(r"\bmake ([a-z][\w-]*)", body)):
                p = subprocess.run(["make", "-n", "-C", ROOT, target], capture_output=True,
                                   text=True, env=clean_env())
                self.assertNotIn("No rule to make target", p.stderr, f"{name}: make {target}")

    def test_sets_are_sets_of_deps(self):
        for name, body in text().items():
            for sets in re.findall(r"^\s*sets: (.+)$", body, re.M):
                p = subprocess.run([os.path.join(ROOT, "scripts", "deps"), "--list",
                                    *sets.split()], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, f"{name}: sets {sets}: {p.stderr}")

    def test_make_bench_passes_the_shard(self):
        p = subprocess.run(["make", "-n", "-C", ROOT, "bench", "SHARD=2/5"], capture_output=True,
                           text=True, env=clean_env())
        self.assertIn("--shard 2/5", p.stdout)
        p = subprocess.run(["make", "-n", "-C", ROOT, "bench-full", "SHARD=2/5"],
                           capture_output=True, text=True, env=clean_env())
        self.assertIn("--shard 2/5", p.stdout)

    def test_actions_are_pinned(self):
        for name, body in text().items():
            for ref in re.findall(r"uses: ([^\s]+)", body):
                if ref.startswith("./"):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, ref, "action.yml")), ref)
                else:
                    self.assertRegex(ref, r"@[0-9a-f]{40}$", f"{name}: {ref} is not pinned")


class SetupTimes(unittest.TestCase):
    """README's setup times are scripts/ci-setup-times' table of the
    committed measurement, not figures typed by hand."""

    def test_readme_block_is_generated_from_the_measurement(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        m = re.search(r"<!-- BEGIN generated:ci-setup -->\n(.*?)<!-- END generated:ci-setup -->",
                      readme, re.S)
        self.assertIsNotNone(m, "README.md has no generated:ci-setup block")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "ci-setup-times"),
                            "markdown"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(m.group(1), p.stdout)

    def test_a_malformed_measurement_is_one_line(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write('{"schema": "other"}')
            f.flush()
            p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "ci-setup-times"),
                                "markdown", f.name], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
