"""Tests of scripts/plot and `make report`, from the fixture in tests/report/fixture.

Run from the repository root:  /usr/bin/python3 -m unittest discover -s tests/report
"""

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLOT = os.path.join(ROOT, "scripts", "plot")
FIXTURE = os.path.join(ROOT, "tests", "report", "fixture")
CHROMIUM = "/usr/bin/chromium"
SVG_NS = "{http://www.w3.org/2000/svg}"

# Every chart the fixture (with its base and history) must give.
EXPECTED_CHARTS = {
    "cost-grow", "cost-grow-worst", "cost-free", "cost-regrow", "cost-reopen",
    "grow-vs-v1", "pages-migrate", "pages-migrate_repeat", "rw-vs-raw", "base-vs-head",
    "trend-grow", "trend-grow-worst", "trend-free", "trend-regrow", "trend-reopen",
}


def load_plot_module():
    loader = importlib.machinery.SourceFileLoader("plot_script", PLOT)
    spec = importlib.util.spec_from_loader("plot_script", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def fixture_designs():
    with open(os.path.join(FIXTURE, "instructions.json"), encoding="utf-8") as f:
        return {r["design"] for r in json.load(f)["results"]} - {"none"}


def clean_env():
    # A make inside `make test` must not inherit the outer make's jobserver.
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run_plot(*args):
    return subprocess.run([PLOT, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def svg_tokens(path):
    """The words of every text of an SVG (so 'v1' does not match 'v1reclaim')."""
    text = " ".join(ET.parse(path).getroot().itertext())
    return set(re.findall(r"[A-Za-z0-9_]+", text))


def legend_colours(path):
    """{legend title's first word: colours} of each gnuplot plot group."""
    out = {}
    root = ET.parse(path).getroot()
    for g in root.iter(SVG_NS + "g"):
        if not (g.get("id") or "").startswith("gnuplot_plot_"):
            continue
        texts = [t for t in g.itertext() if t.strip() and not t.startswith("gnuplot_plot_")]
        if not texts:
            continue  # a plot without a title (the bar labels)
        colours = set()
        for el in g.iter():
            for attr in ("stroke", "fill", "color"):
                m = re.match(r"rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\)", el.get(attr) or "")
                if m:
                    colours.add("#%02X%02X%02X" % tuple(int(x) for x in m.groups()))
        out[texts[0].split()[0]] = colours
    return out


def png_size(path):
    """(width, height) from a PNG's IHDR, after checking the signature, the
    IHDR chunk's CRC and that the file ends with IEND."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, f"{path}: first chunk is not IHDR"
    crc = struct.unpack(">I", data[16 + length:20 + length])[0]
    assert crc == zlib.crc32(data[12:16 + length]), f"{path}: IHDR CRC is wrong"
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", f"{path}: does not end with IEND"
    return struct.unpack(">II", data[16:24])


class ReportFromFixture(unittest.TestCase):
    """One `make report` of the fixture with base and history, then checks."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mmfree-report-")
        cls.out = os.path.join(cls.tmp, "report")
        cls.make = subprocess.run(
            ["make", "--no-print-directory", "report", f"BENCH_OUT={FIXTURE}",
             f"BASE={FIXTURE}/base", f"HISTORY={FIXTURE}/history", f"REPORT_OUT={cls.out}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=clean_env())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.make.returncode, 0, self.make.stdout + self.make.stderr)

    def charts(self):
        return {f[:-4] for f in os.listdir(self.out) if f.endswith(".svg")}

    def test_every_chart_is_written_as_svg_and_png(self):
        self.assertEqual(self.charts(), EXPECTED_CHARTS)
        for slug in EXPECTED_CHARTS:
            root = ET.parse(os.path.join(self.out, slug + ".svg")).getroot()
            self.assertEqual(root.tag, SVG_NS + "svg", slug)
            self.assertGreater(float(root.get("width")), 0, slug)
            width, height = png_size(os.path.join(self.out, slug + ".png"))
            self.assertEqual((width, height), (float(root.get("width")), float(root.get("height"))),
                             f"{slug}: PNG and SVG sizes differ")

    def test_every_chart_names_every_design(self):
        designs = fixture_designs()
        self.assertEqual(designs, {"v1", "v1reclaim", "bitmap15", "list", "freestack", "bitmap2l"})
        for slug in EXPECTED_CHARTS:
            missing = designs - svg_tokens(os.path.join(self.out, slug + ".svg"))
            self.assertFalse(missing, f"{slug}.svg does not name {sorted(missing)}")

    def test_charts_have_a_title_and_labelled_axes(self):
        for slug in EXPECTED_CHARTS:
            gp = read(os.path.join(self.out, "src", slug + ".gp"))
            self.assertIn("set title", gp, slug)
            self.assertRegex(gp, r"set ylabel ['\"]\w", slug)
            if not slug.startswith(("grow-vs", "rw-vs")):  # bars: workloads name the x axis
                self.assertRegex(gp, r"set xlabel ['\"]\w", slug)

    def test_a_design_has_one_colour_in_every_chart(self):
        plot = load_plot_module()
        styles = plot.design_styles(sorted(fixture_designs()))
        seen = {}
        for slug in EXPECTED_CHARTS:
            for name, colours in legend_colours(os.path.join(self.out, slug + ".svg")).items():
                if name in styles:
                    self.assertIn(styles[name][0], colours, f"{slug}: {name}")
                    seen.setdefault(name, set()).add(slug)
        self.assertEqual(set(seen), fixture_designs())
        self.assertEqual(len({c for c, _ in styles.values()}), len(styles), "colours collide")

    def test_na_leaves_the_design_out_with_a_note(self):
        # v1 cannot free: no v1 line in the free chart, and the caption says why.
        self.assertNotIn("v1", legend_colours(os.path.join(self.out, "cost-free.svg")))
        index = read(os.path.join(self.out, "index.html"))
        fig = re.search(r'<figure id="cost-free">.*?</figure>', index, re.S).group(0)
        self.assertIn("v1 (n/a: v1 cannot free)", fig)
        report = read(os.path.join(self.out, "REPORT.md"))
        self.assertIn("bitmap15: n/a at N = 131,072", report)

    def test_pages_link_every_chart(self):
        index = read(os.path.join(self.out, "index.html"))
        report = read(os.path.join(self.out, "REPORT.md"))
        self.assertEqual(set(re.findall(r'<img src="([^"]+)\.svg"', index)), EXPECTED_CHARTS)
        self.assertEqual(set(re.findall(r"!\[[^\]]*\]\(([^)]+)\.png\)", report)), EXPECTED_CHARTS)
        for table in ("## Base against head", "#### grow_pages.grow", "## Linear memory"):
            self.assertIn(table, report)

    def test_index_html_shows_every_image_in_chromium(self):
        """Opens a copy of index.html with a probe script in headless Chromium
        and reads each image's state from the page. Two probe images, one
        missing and one corrupt, must come out broken: the check can fail."""
        index = read(os.path.join(self.out, "index.html"))
        with open(os.path.join(self.out, "corrupt-probe.svg"), "w", encoding="utf-8") as f:
            f.write("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect")
        probe = """<img data-probe="missing" src="missing-probe.svg">
<img data-probe="corrupt" src="corrupt-probe.svg">
<script>
window.addEventListener("load", () => {
  for (const img of document.images)
    img.setAttribute("data-loaded", img.complete && img.naturalWidth > 0 ? "yes" : "no");
});
</script>
</body>"""
        page = os.path.join(self.out, "index-probe.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(index.replace("</body>", probe))
        profile = os.path.join(self.tmp, "chromium-profile")
        r = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--dump-dom", "file://" + page],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        imgs = re.findall(r"<img [^>]*>", r.stdout)
        state = {}
        for tag in imgs:
            src = re.search(r'src="([^"]+)"', tag).group(1)
            loaded = re.search(r'data-loaded="(\w+)"', tag)
            state[src] = loaded.group(1) if loaded else "unchecked"
        self.assertEqual(state.pop("missing-probe.svg"), "no")
        self.assertEqual(state.pop("corrupt-probe.svg"), "no")
        self.assertEqual(set(state), {s + ".svg" for s in EXPECTED_CHARTS})
        broken = sorted(s for s, v in state.items() if v != "yes")
        self.assertFalse(broken, f"images not shown: {broken}")


class Rerun(unittest.TestCase):
    def test_a_run_without_base_removes_the_old_base_chart(self):
        with tempfile.TemporaryDirectory() as out:
            mine = os.path.join(out, "notes.txt")
            open(mine, "w").close()
            r = run_plot(FIXTURE, "--base", os.path.join(FIXTURE, "base"), "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "base-vs-head.svg")))
            r = run_plot(FIXTURE, "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(out, "base-vs-head.svg")))
            self.assertFalse(os.path.exists(os.path.join(out, "src", "base-vs-head.gp")))
            self.assertTrue(os.path.exists(mine), "a file the script did not write was removed")
            self.assertNotIn("base-vs-head", read(os.path.join(out, "index.html")))


class Colours(unittest.TestCase):
    def test_fixed_designs_keep_their_colour_whatever_else_is_there(self):
        plot = load_plot_module()
        a = plot.design_styles(["v1", "list"])
        b = plot.design_styles(["zeta", "list", "bitmap15", "v1"])
        self.assertEqual(a["v1"], b["v1"])
        self.assertEqual(a["list"], b["list"])

    def test_unknown_designs_get_distinct_stable_colours(self):
        plot = load_plot_module()
        names = [f"design{i}" for i in range(8)]
        a = plot.design_styles(names + ["v1"])
        b = plot.design_styles(list(reversed(names)) + ["v1"])
        self.assertEqual(a, b)
        self.assertEqual(len({c for c, _ in a.values()}), len(a))


class BadInput(unittest.TestCase):
    """Each bad input: exit status 2 and one line `plot: <file>: <problem>`."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmfree-report-bad-")
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, rel, text):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def assert_bad(self, args, names, problem):
        r = run_plot(*args, "--out", self.out)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith(f"plot: {names}"), lines[0])
        self.assertIn(problem, lines[0])
        self.assertFalse(os.path.exists(os.path.join(self.out, "index.html")))

    def test_missing_folder(self):
        path = os.path.join(self.tmp, "nowhere")
        self.assert_bad([path], path, "no such file or folder")

    def test_folder_without_results(self):
        path = os.path.join(self.tmp, "empty")
        os.makedirs(path)
        self.assert_bad([path], path, "no instructions.json or gbench.json")

    def test_empty_instructions(self):
        path = self.write("r/instructions.json", "")
        self.assert_bad([os.path.dirname(path)], path, "empty file")

    def test_not_json(self):
        path = self.write("r/instructions.json", "{ not json")
        self.assert_bad([os.path.dirname(path)], path, "not JSON")

    def test_result_without_n(self):
        path = self.write("r/instructions.json", json.dumps({
            "schema": "mmfree-instructions/1", "meta": {},
            "results": [{"workload": "grow_pages", "phase": "grow", "design": "v1",
                         "status": "ok", "instructions": 10, "ops": 1}]}))
        self.assert_bad([os.path.dirname(path)], path, "result 0 has no 'n'")

    def test_only_wall_clock_times(self):
        shutil.copy(os.path.join(FIXTURE, "gbench.json"), self.write("r/gbench.json", ""))
        folder = os.path.join(self.tmp, "r")
        self.assert_bad([folder], os.path.join(folder, "instructions.json"),
                        "no instruction counts")

    def test_missing_base(self):
        path = os.path.join(self.tmp, "nobase")
        self.assert_bad([FIXTURE, "--base", path], path, "no such file or folder")

    def test_badly_named_history_file(self):
        shutil.copytree(os.path.join(FIXTURE, "history"), os.path.join(self.tmp, "h"))
        path = self.write("h/latest.json", "{}")
        self.assert_bad([FIXTURE, "--history", os.path.join(self.tmp, "h")], path,
                        "not <date>-<commit>.json")

    def test_malformed_history_file(self):
        path = self.write("h/2026-11-20-abc1234.json", '{"schema": "mmfree-instructions/1"}')
        self.assert_bad([FIXTURE, "--history", os.path.join(self.tmp, "h")], path,
                        "'results' is missing")

    def test_empty_history_folder(self):
        path = os.path.join(self.tmp, "h")
        os.makedirs(path)
        self.assert_bad([FIXTURE, "--history", path], path, "no <date>-<commit>.json files")

    def test_unknown_option(self):
        self.assert_bad([FIXTURE, "--colour", "red"], "", "unrecognized arguments")


if __name__ == "__main__":
    unittest.main()
