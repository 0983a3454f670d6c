"""The verdict of a results folder: which design to pick and what it gives up.

One function, verdict(res), computes it from the results (mmresults.load_report);
scripts/verdict prints it, and scripts/plot (index.html, REPORT.md),
scripts/bench (summary.md) and scripts/readme (README.md) put the same block
at their top through markdown() and html(). Nothing here is typed in: the
criteria name where their figures come from, the rule names the criterion
it minimises and the properties it requires, and both are applied to the
figures at hand, so other figures give another pick and another text.

A criterion whose figures are absent (space figures before `instructions.json`
had them, no crash.json, no instructions_wasm.json, no designs.json) is left
out, and the verdict says which.
"""

import collections
import html as htmllib
import re

from mmresults import fmt_n, fmt_ratio, fmt_value, md_table

RAW_DESIGN = "none"


class Criterion:
    """One row of the verdict.

    kind: 'cost' (lower is better; cells are ratios to the best), 'count'
    (higher is better; cells are the counts), 'flag' (yes is better), 'crash'
    (survived of points; all is best).
    value(res, design, n) gives the figure of a design at N, or raises NA
    with the reason; figures(res) the designs and sizes it has figures at."""

    def __init__(self, slug, name, unit, kind, workload=None, phase=None, field=None,
                 per_op=True, source="instructions", mode=None, flag=None, op=None):
        self.slug, self.name, self.unit, self.kind = slug, name, unit, kind
        self.op = op  # what one operation is, for axes ("grow", "bucket freed")
        self.workload, self.phase, self.field = workload, phase, field
        self.per_op, self.source, self.mode, self.flag = per_op, source, mode, flag

    def where(self, n):
        if self.kind in ("count", "flag"):
            return "designs.json"
        if self.kind == "crash":
            return f"crash.json, {self.mode} mode"
        src = "Wasm, " if self.source == "wasm" else ""
        return f"{src}{self.workload}{'.' + self.phase if self.phase else ''}, N = {fmt_n(n)}"


# The criteria in the order the verdict lists them. The phase of each is the
# workload phase whose operations are that operation (results/FORMAT.md).
CRITERIA = [
    Criterion("grow", "grow", "instructions per one-page grow into a new bucket", "cost",
              "grow_pages", "grow", op="grow"),
    Criterion("grow-worst", "worst-case grow",
              "instructions per grow that must find the one free bucket", "cost",
              "worst_scan", "grow", op="grow"),
    Criterion("free", "free", "instructions per bucket freed", "cost", "free_regrow", "free",
              op="bucket freed"),
    Criterion("regrow", "regrow", "instructions per grow into a freed bucket", "cost",
              "free_regrow", "regrow", op="grow"),
    Criterion("reopen", "reopen", "instructions per reopen of a memory holding N buckets",
              "cost", "reopen", "load", op="reopen"),
    Criterion("migrate-pages", "linear memory after migration",
              "pages at the end of migrate (ideal 2N + 1)", "cost", "migrate", "grow",
              field="pages_end", per_op=False),
    Criterion("header-bytes", "header bytes", "header bytes written per grow", "cost",
              "grow_pages", "grow", field="header_bytes_written"),
    Criterion("dirty-pages", "pages dirtied", "4 KiB pages dirtied per grow", "cost",
              "grow_pages", "grow", field="dirty_pages"),
    Criterion("heap-bytes", "heap bytes", "manager heap bytes after a reopen of N buckets", "cost",
              "reopen", "load", field="heap_bytes", per_op=False),
    Criterion("wasm-grow", "grow in Wasm", "metered Wasm instructions with fees per grow",
              "cost", "grow_pages", "grow", field="instructions_with_fees", source="wasm"),
    Criterion("crash-plain", "crashes, plain", "crash points survived, plain mode", "crash",
              mode="plain"),
    Criterion("crash-durable", "crashes, durable", "crash points survived, durable mode",
              "crash", mode="durable"),
    Criterion("max-buckets", "most buckets", "the most buckets it can address", "count",
              flag="max_buckets"),
    Criterion("reads-v1", "V1 upgrade", "opens and upgrades a V1 memory", "flag", flag="reads_v1"),
]
BY_SLUG = {c.slug: c for c in CRITERIA}

# The recommendation rule, as data: the designs that have every property
# listed are the candidates; the one with the lowest figure of the
# objective wins, ties going to the tie-break criterion. The rule's text is
# written from these, so it always says what was applied.
RULE_PROPERTIES = [("can_free", "free"), ("reuses_all", "reuse every freed bucket"),
                   ("reads_v1", "open and upgrade a V1 memory")]
RULE_OBJECTIVE = "grow"
RULE_TIE_BREAK = "grow-worst"


class Row:
    """A criterion applied: its N, each design's figure (or n/a reason), the best."""

    def __init__(self, criterion, n, values, reasons):
        self.criterion, self.n = criterion, n
        self.values, self.reasons = values, reasons  # {design: figure}, {design: reason}
        self.best = self._best()

    def _best(self):
        if not self.values:
            return []
        kind = self.criterion.kind
        if kind == "cost":
            top = min(self.values.values())
        elif kind == "crash":
            top = max(s / p for s, p in self.values.values())
            return [d for d, (s, p) in self.values.items() if s / p == top]
        else:
            top = max(self.values.values())
        return [d for d, v in self.values.items() if v == top]

    def ratio(self, design):
        """A cost design / the best's; None without a figure."""
        v = self.values.get(design)
        if v is None or self.criterion.kind != "cost":
            return None
        best = self.values[self.best[0]]
        return v / best if best else (1.0 if v == 0 else float("inf"))

    def cell(self, design):
        v = self.values.get(design)
        if v is None:
            return "n/a" if design in self.reasons else ""
        kind = self.criterion.kind
        if kind == "cost":
            return fmt_ratio(self.ratio(design))
        if kind == "count":
            return fmt_n(v)
        if kind == "flag":
            return "yes" if v else "no"
        return f"{fmt_n(v[0])}/{fmt_n(v[1])}"

    def best_text(self):
        if not self.best:
            return "n/a"
        names = ", ".join(self.best)
        v = self.values[self.best[0]]
        kind = self.criterion.kind
        if kind == "cost":
            return f"{names}: {fmt_value(v)}"
        if kind == "count":
            return f"{names}: {fmt_n(v)}"
        if kind == "crash":
            return f"{names}: all" if v[0] == v[1] else f"{names}: {fmt_n(v[0])}/{fmt_n(v[1])}"
        return names if v else "none"

    def figure(self, design):
        """A design's figure as a phrase ('98.4', '32,768', 'no')."""
        v = self.values.get(design)
        kind = self.criterion.kind
        if v is None:
            return "n/a"
        if kind == "cost":
            return fmt_value(v)
        if kind == "count":
            return fmt_n(v)
        if kind == "crash":
            return f"{fmt_n(v[0])} of {fmt_n(v[1])}"
        return "yes" if v else "no"


def _entries(res, c):
    """{design: {n: Entry}} of a criterion's workload phase."""
    source = res.wasm if c.source == "wasm" else res
    out = {}
    if source is None:
        return out
    for e in source.instructions.values():
        if e.workload == c.workload and e.phase == c.phase and e.design != RAW_DESIGN:
            out.setdefault(e.design, {})[e.n] = e
    return out


def _figure(c, e):
    """A criterion's figure of one entry, or None when the entry lacks it."""
    if not e.ok:
        return None
    if c.field is None:
        return e.per_op
    v = e.pages if c.field == "pages_end" else getattr(e, c.field, None)
    if v is None:
        return None
    return v / e.ops if c.per_op else v


def pick_n(table):
    """The largest N at which more than half of the designs with a figure
    anywhere have one: the scale that matters, with most designs compared
    at one N (a design left out there says why)."""
    designs = [d for d, per_n in table.items() if any(v is not None for v in per_n.values())]
    counts = collections.Counter(n for d in designs for n, v in table[d].items() if v is not None)
    enough = [n for n, k in counts.items() if k > len(designs) / 2]
    return max(enough) if enough else (max(counts) if counts else None)


def apply(res, c, designs):
    """The Row of criterion c, or None when the results have no figure for it."""
    if c.kind in ("count", "flag"):
        if not res.designs:
            return None
        values = {d: res.designs[d][c.flag] for d in designs if d in res.designs}
        return Row(c, None, values, {}) if values else None
    if c.kind == "crash":
        if not res.crash:
            return None
        sums = {}
        for r in res.crash:
            if r["mode"] == c.mode and r["design"] in designs:
                s, p = sums.get(r["design"], (0, 0))
                sums[r["design"]] = (s + r["survived"], p + r["points"])
        values = {d: v for d, v in sums.items() if v[1] > 0}
        return Row(c, None, values, {}) if values else None
    entries = _entries(res, c)
    table = {d: {n: _figure(c, e) for n, e in per_n.items()} for d, per_n in entries.items()}
    n = pick_n(table)
    if n is None:
        return None
    values, reasons = {}, {}
    for d in designs:
        e = entries.get(d, {}).get(n)
        if e is None:
            continue
        v = _figure(c, e)
        if v is not None:
            values[d] = v
        else:
            reasons[d] = e.reason if not e.ok else f"no {c.field} figure"
    return Row(c, n, values, reasons)


class Verdict:
    def __init__(self, designs, rows, missing, pick, rule, losses, big):
        self.designs = designs      # pick first, then registry order
        self.rows = rows            # applied criteria
        self.missing = missing      # criteria without figures: [(criterion, what is missing)]
        self.pick = pick            # the recommended design, or None
        self.rule = rule            # the rule, written out
        self.losses = losses        # [(row, best design)] where the pick is not the best
        self.big = big              # (threshold, design or None, text) or None


def _missing_what(c):
    if c.kind in ("count", "flag"):
        return "designs.json"
    if c.kind == "crash":
        return "crash.json"
    if c.source == "wasm":
        return "instructions_wasm.json"
    if c.field:
        return f"'{c.field}' in instructions.json"
    return f"{c.workload}.{c.phase} in instructions.json"


def registry_order(res):
    """The designs of the results, registry order (designs.json, else the
    order instructions.json lists them in, which count-instructions takes
    from the registry)."""
    seen = list(dict.fromkeys(e.design for e in res.instructions.values()
                              if e.design != RAW_DESIGN))
    if res.designs:
        return [d for d in res.designs if d in seen] + [d for d in seen if d not in res.designs]
    return seen


def _has(res, rows, design, prop):
    """Whether a design has a rule property: designs.json says; without it,
    'can_free' is whether it has a free figure, and the others are unknown (None)."""
    if res.designs and design in res.designs:
        return res.designs[design][prop]
    if prop == "can_free" and "free" in rows:
        return design in rows["free"].values
    return None


def _choose(rows, candidates):
    """The candidate with the lowest objective figure (tie-break second);
    None when no candidate has an objective figure."""
    obj, tie = rows.get(RULE_OBJECTIVE), rows.get(RULE_TIE_BREAK)
    if obj is None:
        return None
    ranked = [d for d in candidates if d in obj.values]
    if not ranked:
        return None
    inf = float("inf")
    return min(ranked, key=lambda d: (obj.values[d],
                                      tie.values.get(d, inf) if tie else inf))


def _and(words):
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def verdict(res):
    designs = registry_order(res)
    rows, missing = {}, []
    for c in CRITERIA:
        if c.source == "wasm" and res.wasm is None:
            missing.append((c, _missing_what(c)))
            continue
        row = apply(res, c, designs)
        if row is None:
            missing.append((c, _missing_what(c)))
        else:
            rows[c.slug] = row

    known = [(p, words) for p, words in RULE_PROPERTIES
             if all(_has(res, rows, d, p) is not None for d in designs)]
    unknown = [words for p, words in RULE_PROPERTIES if (p, words) not in known]
    candidates = [d for d in designs if all(_has(res, rows, d, p) for p, _ in known)]
    pick = _choose(rows, candidates)
    obj, tie = BY_SLUG[RULE_OBJECTIVE], BY_SLUG[RULE_TIE_BREAK]
    obj_row = rows.get(RULE_OBJECTIVE)
    where = f" ({obj_row.criterion.where(obj_row.n)})" if obj_row else ""
    rule = (f"the fewest {obj.unit}{where}"
            + (f" among the designs that {_and(w for _, w in known)}" if known else "")
            + f"; a tie goes to the fewer {tie.unit}"
            + "; a design without a figure at that N cannot be picked.")
    if unknown:
        rule += (f" Not applied, for want of designs.json in these results: "
                 f"{_and(unknown)}.")

    losses = []
    if pick:
        for row in rows.values():
            if row.best and pick not in row.best and pick in row.values:
                losses.append((row, row.best[0]))

    big = None
    if pick and res.designs and pick in res.designs:
        limit = res.designs[pick]["max_buckets"]
        more = [d for d in candidates if res.designs.get(d, {}).get("max_buckets", 0) > limit]
        if any(v["max_buckets"] > limit for v in res.designs.values()):
            alt = _choose(rows, more)
            big = (limit, alt)

    order = ([pick] if pick else []) + [d for d in designs if d != pick]
    return Verdict(order, [rows[c.slug] for c in CRITERIA if c.slug in rows], missing,
                   pick, rule, losses, big)


# ---------------------------------------------------------------------------
# Rendering: one structure, written as markdown (README, REPORT.md,
# summary.md, the terminal) or HTML (index.html).
# ---------------------------------------------------------------------------

def _loss_phrase(v, row, best):
    c = row.criterion
    name = c.name
    if c.kind == "cost":
        return (f"{name}: {row.figure(v.pick)} against {best}'s {row.figure(best)} "
                f"({fmt_ratio(row.ratio(v.pick))})")
    return f"{name}: {row.figure(v.pick)} against {best}'s {row.figure(best)}"


def sentences(v):
    """The verdict in words: [(label, text)], the pick first."""
    out = []
    if v.pick:
        out.append(("Recommended", f"{v.pick}. Rule: {v.rule}"))
        cannot = [f"{row.criterion.name} ({row.reasons.get(v.pick, 'no figure')})"
                  for row in v.rows if v.pick not in row.values]
        if v.losses:
            out.append((f"Where {v.pick} loses",
                        "; ".join(_loss_phrase(v, row, best) for row, best in v.losses) + "."))
        else:
            out.append((f"Where {v.pick} loses", "nowhere among these criteria."))
        if cannot:
            out.append((f"What {v.pick} cannot do", "; ".join(cannot) + "."))
    else:
        out.append(("Recommended", f"none: no design meets the rule. Rule: {v.rule}"))
    if v.big:
        limit, alt = v.big
        if alt:
            obj = next(r for r in v.rows if r.criterion.slug == RULE_OBJECTIVE)
            out.append((f"More than {fmt_n(limit)} buckets",
                        f"{alt}, by the same rule among the designs that address more "
                        f"({obj.figure(alt)} {obj.criterion.unit}, "
                        f"{fmt_ratio(obj.values[alt] / obj.values[v.pick])} {v.pick}'s)."))
        else:
            out.append((f"More than {fmt_n(limit)} buckets",
                        "no design that addresses more meets the rule."))
    if v.missing:
        out.append(("Left out", "; ".join(f"{c.name} (no {what})"
                                          for c, what in v.missing) + "."))
    return out


def short_reason(why):
    """An n/a reason in one clause, for a note among many: what is in
    brackets and after the first ';' is left to the full tables."""
    cut = re.sub(r" \((?:[^()]|\([^()]*\))*\)", "", why)
    return cut.split("; ")[0]


def _na_notes(v):
    """n/a reasons, one line per reason: which designs, on which criteria."""
    by_reason = collections.OrderedDict()
    for row in v.rows:
        for d, why in row.reasons.items():
            why = short_reason(why)
            by_reason.setdefault(why, collections.OrderedDict()).setdefault(d, []).append(
                row.criterion.name)
    return [f"{'; '.join(f'{d} ({_and(cs)})' for d, cs in who.items())}: {why}"
            for why, who in by_reason.items()]


def _table(v):
    header = ["criterion (where the figures come from)", "best"] + [
        f"{d} (recommended)" if d == v.pick else d for d in v.designs]
    rows = []
    for row in v.rows:
        c = row.criterion
        cells = []
        for d in v.designs:
            text = row.cell(d)
            cells.append((text, d in row.best))
        rows.append((f"{c.name}: {c.unit} ({c.where(row.n)})", row.best_text(), cells))
    return header, rows


def markdown(v, heading="## Verdict"):
    header, rows = _table(v)
    lines = [heading, ""] if heading else []
    for label, text in sentences(v):
        lines.append(f"**{label}:** {text}")
        lines.append("")
    lines.append(md_table(header, [
        [title, best] + [f"**{t}**" if is_best and t else t for t, is_best in cells]
        for title, best, cells in rows]))
    notes = _na_notes(v)
    lines.append("")
    lines.append("Costs are each design's figure divided by the best's (lower is better; "
                 "the best in bold). " + ("n/a: " + "; ".join(notes) + "." if notes else ""))
    return "\n".join(lines).rstrip() + "\n"


def html(v):
    esc = htmllib.escape
    header, rows = _table(v)
    parts = ['<section id="verdict">', "<h2>Verdict</h2>"]
    for i, (label, text) in enumerate(sentences(v)):
        ident = ' id="pick"' if i == 0 else ""
        parts.append(f"<p{ident}><b>{esc(label)}:</b> {esc(text)}</p>")
    parts.append('<table class="verdict">')
    parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for title, best, cells in rows:
        tds = "".join(f"<td><b>{esc(t)}</b></td>" if is_best and t else f"<td>{esc(t)}</td>"
                      for t, is_best in cells)
        parts.append(f"<tr><th>{esc(title)}</th><td>{esc(best)}</td>{tds}</tr>")
    parts.append("</table>")
    notes = _na_notes(v)
    parts.append("<p class=\"note\">Costs are each design's figure divided by the best's "
                 "(lower is better; the best in bold). "
                 + esc("n/a: " + "; ".join(notes) + "." if notes else "") + "</p>")
    parts.append("</section>")
    return "\n".join(parts) + "\n"
