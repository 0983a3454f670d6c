"""Tests of scripts/plot, scripts/verdict and `make report`, from the fixture in
tests/report/fixture.

Run from the repository root:  /usr/bin/python3 -m unittest discover -s tests/report
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLOT = os.path.join(ROOT, "scripts", "plot")
VERDICT = os.path.join(ROOT, "scripts", "verdict")
FIXTURE = os.path.join(ROOT, "tests", "report", "fixture")
CHROMIUM = "/usr/bin/chromium"
SVG_NS = "{http://www.w3.org/2000/svg}"

# Every chart the fixture (with its base and history) must give.
EXPECTED_CHARTS = {
    "cost-grow", "cost-grow-worst", "cost-free", "cost-regrow", "cost-reopen",
    "grow-vs-v1", "pages-migrate", "pages-migrate_repeat", "rw-vs-raw", "base-vs-head",
    "time-ops", "time-process", "wasm-vs-x86",
    "trend-grow", "trend-grow-worst", "trend-free", "trend-regrow", "trend-reopen",
}


sys.path.insert(0, os.path.join(ROOT, "scripts"))
import mmresults  # noqa: E402
from mmshard import load_script  # noqa: E402
import mmverdict  # noqa: E402

# The fixture's pick: the cheapest grow among the designs designs.json
# flags as freeing, reusing and upgrading V1 (make-fixture.py's costs).
FIXTURE_PICK = "bitmap2l"


def load_plot_module():
    return load_script("plot")


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
        # The legend entry's <text> (gnuplot also puts a hover <title> in the group).
        texts = [t for el in g.iter(SVG_NS + "text") for t in el.itertext() if t.strip()]
        if not texts:
            continue  # a plot without a title (the bar labels)
        colours = set()
        for el in g.iter():
            for attr in ("stroke", "fill", "color"):
                m = re.match(r"rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\)", el.get(attr) or "")
                if m:
                    colours.add("#%02X%02X%02X" % tuple(int(x) for x in m.groups()))
        out[re.match(r"[\w.-]*", texts[0]).group(0)] = colours
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
            self.assertIn("set multiplot title", gp, slug)
            self.assertRegex(gp, r"set xlabel ['\"]\w", slug)
            # A y axis says what it counts, or names a design (or benchmark) a row.
            self.assertRegex(gp, r"set ylabel ['\"]\w|set ytics \(\"", slug)

    def test_axes_are_linear_and_labels_horizontal(self):
        for slug in EXPECTED_CHARTS:
            gp = read(os.path.join(self.out, "src", slug + ".gp"))
            self.assertNotIn("logscale y", gp, slug)
            self.assertNotIn("rotate", gp, slug)

    def test_axes_say_what_one_operation_is(self):
        for slug, op in (("cost-grow", "per grow"), ("cost-free", "per bucket freed"),
                         ("cost-reopen", "per reopen"), ("time-ops", "ns per reopen")):
            self.assertIn(op, read(os.path.join(self.out, "src", slug + ".gp")), slug)

    def test_legends_list_the_recommended_design_first(self):
        for slug in sorted(EXPECTED_CHARTS):
            if not slug.startswith(("cost-", "trend-", "grow-vs", "pages-")):
                continue
            named = [d for d in legend_colours(os.path.join(self.out, slug + ".svg"))
                     if d in fixture_designs()]
            self.assertEqual(named[0], FIXTURE_PICK, slug)

    def test_a_design_that_would_crush_the_axis_has_a_panel_of_its_own(self):
        # worst_scan: v1reclaim and bitmap15 grow with N (the fixture's
        # per_n), the others are flat and drawn relative to the cheapest.
        gp = read(os.path.join(self.out, "src", "cost-grow-worst.gp"))
        self.assertIn('"v1reclaim alone:', gp)
        self.assertIn('"bitmap15 alone:', gp)
        self.assertIn("relative to freestack", gp)
        main = gp.split("\nreset\n")[1]
        self.assertNotIn('title "bitmap15', main)
        self.assertIn('title "list: 1.25x', main)
        # grow: nothing crushes, so one panel.
        self.assertEqual(read(os.path.join(self.out, "src", "cost-grow.gp")).count(
            "\nreset\n"), 2)  # once for the SVG, once for the PNG

    def test_pages_are_drawn_above_the_ideal_with_v1s_3n(self):
        data = read(os.path.join(self.out, "src", "pages-migrate.dat"))
        gp = read(os.path.join(self.out, "src", "pages-migrate.gp"))
        self.assertIn("32768 4 ", data)  # list: 4 header pages past page 0 at 32,768
        self.assertIn("v1 cannot free: all 3N grows carve a new bucket, 3N + 1 pages "
                      "(derived, not run)", gp)
        self.assertIn("pages above 2N + 1", gp)

    def test_migrate_repeat_shows_v1_derived_from_the_grows_it_would_carve(self):
        # N grows and 8 migrations of N: 9N buckets, 7N above 2N + 1, drawn
        # only where they fit the 32,768 buckets v1 addresses.
        data = read(os.path.join(self.out, "src", "pages-migrate_repeat.dat"))
        gp = read(os.path.join(self.out, "src", "pages-migrate_repeat.gp"))
        self.assertIn("v1 cannot free: all 9N grows carve a new bucket, 9N + 1 pages "
                      "(derived, not run)", gp)
        self.assertIn('1024 7168 "7,168"', data)
        self.assertNotIn(" 28672 ", data)  # N = 4,096 would need 36,864 buckets
        self.assertIn("v1 (derived): not drawn at N = 4,096", gp)
        self.assertNotIn("not shown: v1", gp)

    def test_read_write_bars_stand_beside_raws_floor(self):
        data = read(os.path.join(self.out, "src", "rw-vs-raw.dat"))
        self.assertIn('"40.0 (the floor)"', data)
        self.assertIn('"52.0 (+12.0)"', data)
        self.assertIn('"264,900 (the floor)"', data)

    def test_times_have_their_spread_and_load_average(self):
        ops = read(os.path.join(self.out, "src", "time-ops.gp"))
        self.assertIn("xerrorbars", ops)
        self.assertIn("median and IQR of 5 repetitions", ops)
        self.assertIn("load average 0.50, 0.75, 0.80", ops)
        proc = read(os.path.join(self.out, "src", "time-process.gp"))
        self.assertIn("boxxyerror", proc)
        self.assertIn("xerrorbars", proc)
        self.assertIn("load average 0.40, 0.60, 0.70", proc)

    def test_base_against_head_is_coloured_by_verdict_with_the_threshold(self):
        plot = load_plot_module()
        gp = read(os.path.join(self.out, "src", "base-vs-head.gp"))
        for verdict, colour in plot.VERDICT_COLOURS.items():
            self.assertIn(f"lc rgb '{colour}' title \"{verdict}", gp)
        self.assertIn("set object 1 rect from -1.0, graph 0 to 1.0, graph 1", gp)
        self.assertIn('"-0.40%"', read(os.path.join(self.out, "src", "base-vs-head.dat")))

    def test_complexity_classes_read_the_same_in_chart_and_table(self):
        report = read(os.path.join(self.out, "REPORT.md"))
        table = report.split("#### worst_scan.grow")[1].split("####")[0]
        gp = read(os.path.join(self.out, "src", "cost-grow-worst.gp"))
        rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
        self.assertEqual(len(rows), 6)
        for line in rows:
            cells = [c.strip() for c in line.strip("|").split("|")]
            design, fit = cells[0].split(" ")[0], cells[6]
            if fit:
                self.assertRegex(gp, rf'"{design}[^"]*{re.escape(fit)}"', design)

    def test_wasm_is_shown_beside_x86(self):
        report = read(os.path.join(self.out, "REPORT.md"))
        self.assertIn("Wasm instr/op", report)
        self.assertIn("Wasm, with fees", read(os.path.join(self.out, "src", "wasm-vs-x86.gp")))

    def test_every_page_opens_with_the_verdict(self):
        v = mmverdict.verdict(mmresults.load_report(FIXTURE))
        report = read(os.path.join(self.out, "REPORT.md"))
        self.assertIn(mmverdict.markdown(v).rstrip(), report)
        self.assertEqual(re.findall(r"^## .*", report, re.M)[0], "## Verdict")
        index = read(os.path.join(self.out, "index.html"))
        self.assertIn(mmverdict.html(v), index)
        self.assertLess(index.index('id="verdict"'), index.index("<figure"))
        out = subprocess.run([VERDICT, FIXTURE], capture_output=True, text=True)
        self.assertEqual(out.stdout, mmverdict.markdown(v))

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
  const pick = document.getElementById("pick").getBoundingClientRect();
  const table = document.querySelector("#verdict table").getBoundingClientRect();
  document.body.setAttribute("data-screen", window.innerWidth + "x" + window.innerHeight);
  document.body.setAttribute("data-pick-bottom", Math.ceil(pick.bottom));
  document.body.setAttribute("data-table-top", Math.ceil(table.top));
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
             "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,720",
             "--dump-dom", "file://" + page],
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
        # The verdict is on the first screen: the pick and its rule whole,
        # and the table with every design's ratio starting there too.
        body = re.search(r"<body[^>]*>", r.stdout).group(0)
        screen = re.search(r'data-screen="(\d+)x(\d+)"', body)
        self.assertIsNotNone(screen, body)
        height = int(screen.group(2))
        self.assertGreater(height, 300, body)
        self.assertLessEqual(int(re.search(r'data-pick-bottom="(\d+)"', body).group(1)), height)
        self.assertLess(int(re.search(r'data-table-top="(\d+)"', body).group(1)), height)


def copy_fixture(tmp, drop=(), edit=None):
    """The fixture's head in tmp/r, without the files in drop; edit(results)
    may change instructions.json's results list in place."""
    folder = os.path.join(tmp, "r")
    os.makedirs(folder)
    for name in os.listdir(FIXTURE):
        if name.endswith(".json") and name not in drop:
            shutil.copy(os.path.join(FIXTURE, name), folder)
    if edit:
        path = os.path.join(folder, "instructions.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        edit(doc["results"])
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
    return folder


def verdict_of(folder):
    return mmverdict.verdict(mmresults.load_report(folder))


class Verdict(unittest.TestCase):
    """The verdict is the rule applied to the figures: other figures, another pick."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmfree-verdict-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_the_fixture_picks_the_cheapest_grow_among_the_eligible(self):
        v = verdict_of(FIXTURE)
        self.assertEqual(v.pick, FIXTURE_PICK)
        text = mmverdict.markdown(v)
        self.assertIn("**Recommended:** bitmap2l. Rule: the fewest instructions per one-page "
                      "grow into a new bucket (grow_pages.grow, N = 32,768) among the designs "
                      "that free, reuse every freed bucket and open and upgrade a V1 memory", text)
        # v1 grows cheaper but cannot free: where the pick loses, by how much.
        self.assertIn("**Where bitmap2l loses:** grow: 320 against v1's 310 (1.03x)", text)
        self.assertIn("**More than 32,768 buckets:** freestack", text)
        self.assertNotIn("Left out", text)

    def test_cheaper_figures_change_the_pick(self):
        def cheaper_list(results):
            for r in results:
                if (r["workload"], r["design"]) == ("grow_pages", "list") and r["status"] == "ok":
                    r["instructions"] //= 2
        v = verdict_of(copy_fixture(self.tmp, edit=cheaper_list))
        self.assertEqual(v.pick, "list")
        text = mmverdict.markdown(v)
        self.assertIn("**Recommended:** list.", text)
        self.assertIn("**Where list loses:**", text)
        self.assertNotIn("More than", text)  # list addresses the most buckets already

    def test_a_design_without_a_figure_at_the_compared_n_cannot_win(self):
        def drop_pick(results):
            for r in results:
                if (r["workload"], r["design"]) == ("grow_pages", FIXTURE_PICK):
                    r.update(status="n/a", reason="not measured: fixture")
                    for k in ("instructions", "ops", "per_op"):
                        r.pop(k)
        v = verdict_of(copy_fixture(self.tmp, edit=drop_pick))
        self.assertEqual(v.pick, "freestack")
        self.assertIn("bitmap2l (grow, header bytes and pages dirtied): not measured: fixture",
                      mmverdict.markdown(v))

    def test_criteria_without_figures_are_left_out_and_said(self):
        folder = copy_fixture(self.tmp, drop=("designs.json", "crash.json",
                                               "instructions_wasm.json"))
        v = verdict_of(folder)
        text = mmverdict.markdown(v)
        slugs = {r.criterion.slug for r in v.rows}
        self.assertFalse(slugs & {"max-buckets", "reads-v1", "crash-plain", "wasm-grow"})
        self.assertIn("most buckets (no designs.json)", text)
        self.assertIn("crashes, plain (no crash.json)", text)
        self.assertIn("grow in Wasm (no instructions_wasm.json)", text)
        self.assertIn("Not applied, for want of designs.json in these results: reuse every "
                      "freed bucket and open and upgrade a V1 memory.", text)
        # Without its flags the rule still needs a design that frees.
        self.assertEqual(v.pick, FIXTURE_PICK)

    def test_space_figures_are_criteria_when_the_results_have_them(self):
        head = {r.criterion.slug: r for r in verdict_of(FIXTURE).rows}
        self.assertEqual(head["header-bytes"].values["list"], 56.0)
        self.assertEqual(head["heap-bytes"].best, ["v1", "v1reclaim"])
        base = mmverdict.markdown(verdict_of(os.path.join(FIXTURE, "base")))
        self.assertIn("header bytes (no 'header_bytes_written' in instructions.json)", base)
        self.assertIn("pages dirtied (no 'dirty_pages' in instructions.json)", base)

    def test_crash_points_survived(self):
        rows = {r.criterion.slug: r for r in verdict_of(FIXTURE).rows}
        self.assertEqual(rows["crash-plain"].cell("v1reclaim"), "23/24")
        self.assertNotIn("v1reclaim", rows["crash-plain"].best)
        self.assertIn("v1reclaim", rows["crash-durable"].best)

    def test_scripts_verdict_bad_input_is_one_line(self):
        folder = copy_fixture(self.tmp)
        with open(os.path.join(folder, "designs.json"), "w") as f:
            f.write('{"schema": "mmfree-designs/1", "designs": [{"name": "v1"}]}')
        r = subprocess.run([VERDICT, folder], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertRegex(r.stderr, r"^verdict: .*designs\.json: design 0 has no 'max_buckets'")


class MakeReport(unittest.TestCase):
    def test_without_results_one_line_and_exit_2(self):
        r = subprocess.run(["make", "--no-print-directory", "report",
                            "BENCH_OUT=/nonexistent/results"], cwd=ROOT, capture_output=True,
                           text=True, env=clean_env())
        self.assertEqual(r.returncode, 2)
        lines = (r.stdout + r.stderr).strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("run `make bench` first, or pass BENCH_OUT=results/baseline", lines[0])

    def test_it_needs_no_compiler_and_no_browser(self):
        r = subprocess.run(["make", "-n", "--no-print-directory", "report",
                            f"BENCH_OUT={FIXTURE}"], cwd=ROOT, capture_output=True, text=True,
                           env=clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        # It installs its own set only, and that set is python3 and gnuplot.
        deps = [line for line in r.stdout.splitlines() if line.startswith("scripts/deps")]
        self.assertEqual(deps, ["scripts/deps report"])
        listed = subprocess.run(["scripts/deps", "--list", "report"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(sorted(listed), ["gnuplot-nox", "python3"])
        self.assertIn("scripts/plot", r.stdout)


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


class BarScale(unittest.TestCase):
    """Where a bar chart's axis ends and which bars are cut there."""

    def scale(self, values, floor=0.0):
        # Each label takes a quarter of the axis past its bar.
        return load_plot_module().bar_scale(values, {k: v / 0.75 for k, v in values.items()},
                                            floor)

    def test_a_ratio_short_of_crush_times_the_reference_is_drawn_whole(self):
        # grow-vs-v1: 3.6x v1 crushes nothing, though 4x the cheapest 0.8x.
        end, off, inside = self.scale({"a": 0.8, "b": 3.0, "c": 3.6}, floor=1.0)
        self.assertEqual((off, inside), (set(), set()))
        self.assertAlmostEqual(end, 3.6 / 0.75)

    def test_only_a_bar_past_the_axis_end_is_off_scale(self):
        end, off, inside = self.scale({"a": 1.0, "b": 3.5, "c": 4.5, "d": 100.0})
        self.assertAlmostEqual(end, 3.5 / 0.75)  # the crushers do not stretch it
        self.assertEqual(off, {"d"})
        self.assertEqual(inside, {"c", "d"})  # c fits, its label does not: inside

    def test_a_designs_bars_crush_together(self):
        values = {("a", 0): 100.0, ("a", 1): 600.0, ("b", 0): 200.0, ("b", 1): 700.0,
                  ("c", 0): 4000.0, ("c", 1): 9000.0}
        end, off, _ = load_plot_module().bar_scale(
            values, {k: v / 0.75 for k, v in values.items()}, group=lambda k: k[0])
        self.assertEqual(off, {("c", 0), ("c", 1)})
        self.assertAlmostEqual(end, 700.0 / 0.75)


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
