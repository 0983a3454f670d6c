"""Tests of scripts/readme (the README's generated blocks) and of
scripts/write-costs --json, which one of the blocks reads.

Run from the repository root:  /usr/bin/python3 -m unittest discover -s tests/report
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from test_report import load_script

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
README_SCRIPT = os.path.join(ROOT, "scripts", "readme")
BASELINE = os.path.join(ROOT, "results", "baseline")
MMRUN = os.path.join(ROOT, os.environ.get("B", "build"), "mmrun")


def load_readme_module():
    return load_script("readme")


def run(*args):
    return subprocess.run([README_SCRIPT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


class Readme(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmfree-readme-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.readme = os.path.join(self.tmp, "README.md")

    def write(self, text):
        with open(self.readme, "w", encoding="utf-8") as f:
            f.write(text)

    def read(self):
        with open(self.readme, encoding="utf-8") as f:
            return f.read()

    def test_a_stale_figure_fails_the_check_and_is_rewritten(self):
        mod = load_readme_module()
        src = mod.Source(BASELINE)
        fresh = mod.gen_hbitmap15(src)
        # The worst-case figure, one unit off: stale whatever the baseline says.
        found = re.search(r"([\d,]+)x cheaper", fresh)
        self.assertIsNotNone(found, f"the block states its worst case as Nx cheaper: {fresh}")
        figure = found.group(1)
        off = f"{int(figure.replace(',', '')) + 1:,}"
        stale = fresh.replace(f"{figure}x", f"{off}x")
        self.write(f"# x\n\nsentence: <!-- BEGIN generated:hbitmap15 -->{stale}"
                   "<!-- END generated:hbitmap15 -->.\n\n<!-- BEGIN generated:bench-time -->"
                   "<!-- END generated:bench-time -->\n")
        r = run("--check", self.readme)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("block generated:hbitmap15 differs", r.stdout)
        self.assertIn("block generated:bench-time differs", r.stdout)
        self.assertIn("2 of 2 blocks differ", r.stdout)
        self.assertIn(f"{off}x", self.read(), "--check wrote the README")
        r = run(self.readme)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"sentence: <!-- BEGIN generated:hbitmap15 -->{fresh}<!-- END", self.read())
        self.assertEqual(run("--check", self.readme).returncode, 0)

    def test_other_results_give_other_blocks(self):
        """The verdict block of a README generated from the baseline no longer
        agrees once the results change: cheaper list grows pick list."""
        self.write("<!-- BEGIN generated:verdict -->\n<!-- END generated:verdict -->\n")
        self.assertEqual(run(self.readme).returncode, 0)
        self.assertIn("**Recommended:** hbitmap15.", self.read())
        changed = os.path.join(self.tmp, "results")
        shutil.copytree(BASELINE, changed)
        path = os.path.join(changed, "instructions.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for r in doc["results"]:
            if (r["workload"], r["design"], r["status"]) == ("grow_pages", "list", "ok"):
                r["instructions"] //= 4
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        r = run("--check", "--results", changed, self.readme)
        self.assertEqual(r.returncode, 1)
        self.assertIn("-**Recommended:** hbitmap15.", r.stdout)
        self.assertIn("+**Recommended:** list.", r.stdout)

    def test_the_registry_takes_a_command(self):
        mod = load_readme_module()
        gen = mod.command("sh", "-c", "echo '| a |'; echo from {results}")
        self.assertEqual(gen(mod.Source("somewhere")), "| a |\nfrom somewhere")
        failing = mod.command("sh", "-c", "echo broken >&2; exit 3")
        with self.assertRaisesRegex(mod.ReadmeError, "^sh: exit 3: broken$"):
            failing(mod.Source(BASELINE))

    def assert_bad(self, text, problem, *args):
        self.write(text)
        r = run(*args, self.readme)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("readme: "), r.stderr)
        self.assertIn(problem, r.stderr)
        self.assertEqual(self.read(), text)

    def test_an_unknown_block_is_refused(self):
        self.assert_bad("<!-- BEGIN generated:nosuch -->x<!-- END generated:nosuch -->\n",
                        "unknown block generated:nosuch (known: verdict,")

    def test_a_block_without_end_is_refused(self):
        self.assert_bad("<!-- BEGIN generated:verdict -->\nx\n", "generated:verdict has no END")

    def test_a_results_folder_without_the_file_is_refused(self):
        empty = os.path.join(self.tmp, "r")
        os.makedirs(empty)
        shutil.copy(os.path.join(BASELINE, "instructions.json"), empty)
        self.assert_bad("<!-- BEGIN generated:write-costs -->\n<!-- END generated:write-costs -->\n",
                        "write-costs.json: no such file (make bench writes it)",
                        "--results", empty)


@unittest.skipUnless(os.access(MMRUN, os.X_OK), f"needs {MMRUN} (make)")
class WriteCostsJson(unittest.TestCase):
    def test_json_gives_the_totals_the_table_divides(self):
        env = {**os.environ, "MMRUN": MMRUN}
        script = os.path.join(ROOT, "scripts", "write-costs")
        text = subprocess.run([script, "200"], capture_output=True, text=True, env=env)
        doc = subprocess.run([script, "--json", "200"], capture_output=True, text=True, env=env)
        self.assertEqual((text.returncode, doc.returncode), (0, 0), text.stderr + doc.stderr)
        doc = json.loads(doc.stdout)
        self.assertEqual((doc["schema"], doc["n"]), ("mmfree-write-costs/1", 200))
        lines = {line.split()[0]: line for line in text.stdout.splitlines()[1:]}
        self.assertEqual(set(lines), {r["design"] for r in doc["results"]})
        for r in doc["results"]:
            line = lines[r["design"]]
            self.assertIn(f"{r['grow_bytes'] / 200:.1f} B ({r['grow_writes'] / 200:4.2f} wr)", line)
            self.assertIn(f"{r['pages_after_grows']} -> {r['pages_end']}", line)
            self.assertEqual(r["free_refused"], r["design"] == "v1")


if __name__ == "__main__":
    unittest.main()
