"""Shards of `make bench`: which part of the design x workload x size matrix
the K-th of N shards measures (scripts/bench --shard K/N), and the manifest,
shard.json, that each shard writes and scripts/merge-results checks.

The unit dealt out is a family: one design x workload with all its sizes.
Each harness then sees a family exactly as an unsharded run does:
count-instructions measures the two smallest sizes and decides from them
which larger ones fit its budget; Google Benchmark stops timing a family at
the first size over its time budget; hyperfine's pair (workload, design)
goes with its family. Splitting a family would buy little: costs grow with
N, so a family's largest size is most of its cost, and no sharding can
split a single cell.

Families are dealt largest predicted cost first, each to the shard with the
least predicted cost so far (ties to the lower shard). The prediction is
count-instructions' own: a family's instruction count at each size, read
from a committed results file (results/baseline/instructions.json) where it
was measured and extrapolated from the two largest sizes measured where it
was not, stopping at the budget as count-instructions does. The file is part
of the commit, so every shard computes the same plan without measuring
anything. A family the file does not know costs the mean of its workload's
families (or of all families); without the file each family costs its
number of cells.
"""

import importlib.machinery
import importlib.util
import json
import os
import statistics

SCHEMA = "mmfree-shard/1"
# hyperfine's runs of a pair, against the callgrind run of the same cell:
# 11 native runs (a warmup and 10) where callgrind runs about 50 times
# slower than native.
HYPERFINE_WEIGHT = 11 / 50
MANIFEST = "shard.json"
# The files of the steps a shard does not split by family (scripts/bench's
# whole_run): shard 1 writes them for the whole matrix, and merge-results
# takes them from there as they are.
WHOLE_RUN_FILES = ("instructions_wasm.json", "designs.json", "write-costs.json", "crash.json",
                   "durable.json")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ShardError(Exception):
    """A bad shard argument or manifest; str() is one line."""


def load_script(name):
    """One of scripts/ (files without .py) as a module."""
    path = os.path.join(ROOT, "scripts", name)
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def parse(text):
    """'K/N' -> (K, N), 1 <= K <= N."""
    k, slash, n = (text or "").partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ShardError(f"bad shard '{text}': want K/N with 1 <= K <= N, e.g. 2/3")
    return int(k), int(n)


def family(workload, design):
    return f"{workload}/{design}"


class Costs:
    """Predicted instructions of a family at each size, from a results file."""

    def __init__(self, path, budget):
        self.source, self.budget = None, budget
        self.known = {}  # (workload, design) -> [results of that family]
        self.ci = load_script("count-instructions")
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
                for r in doc["results"]:
                    if r.get("status") == "ok" and isinstance(r.get("instructions"), int):
                        self.known.setdefault((r["workload"], r["design"]), []).append(r)
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ShardError(f"{path}: cannot read the costs of the shard plan ({e})") \
                    from None
            self.source = os.path.relpath(path, ROOT) if path.startswith(ROOT) else path

    def family(self, workload, design, sizes):
        """Predicted instructions of the family at these sizes, or None."""
        results = self.known.get((workload, design))
        if not results:
            return None
        measured = sorted({r["n"] for r in results})
        total = {n: sum(r["instructions"] for r in results if r["n"] == n) for n in measured}
        have = [n for n in sizes if n in total]
        cost = sum(total[n] for n in have)
        rest = [n for n in sizes if n not in total]
        if rest and len(measured) >= 2:
            probes = measured[-2:]
            budget = self.budget * self.ci.WORKLOAD_BUDGET_FACTOR.get(workload, 1)
            _, _, guess = self.ci.predict(results, workload, design, rest, probes, budget)
            cost += guess if guess is not None else total[measured[-1]] * len(rest)
        elif rest:
            cost += total[measured[-1]] * len(rest)
        return float(cost)


def plan(units, nshards, costs, hyperfine_n):
    """units: [{"workload", "design", "sizes", "hyperfine"}] in registry
    order. Sets each unit's "cost" and "shard"; returns the predicted cost
    per shard."""
    for u in units:
        u["cost"] = None
        if costs.source:
            cost = costs.family(u["workload"], u["design"], u["sizes"])
            timed = costs.family(u["workload"], u["design"], [hyperfine_n])
            if cost is not None and (timed is not None or not u["hyperfine"]):
                u["cost"] = cost + (HYPERFINE_WEIGHT * timed if u["hyperfine"] else 0.0)
    if costs.source:
        # Unknown families: the mean of their workload's, else of all.
        known = [u for u in units if u["cost"] is not None]
        overall = statistics.mean([u["cost"] for u in known]) if known else 1.0
        for u in units:
            if u["cost"] is None:
                mine = [k["cost"] for k in known if k["workload"] == u["workload"]]
                u["cost"] = statistics.mean(mine) if mine else overall
    else:
        for u in units:
            u["cost"] = float(max(1, len(u["sizes"])))
    load = [0.0] * nshards
    for i in sorted(range(len(units)), key=lambda i: (-units[i]["cost"], i)):
        k = min(range(nshards), key=lambda s: (load[s], s))
        units[i]["shard"] = k + 1
        load[k] += units[i]["cost"]
    return load


def write_manifest(folder, shard, nshards, commit, dirty, settings, costs, units):
    doc = {"schema": SCHEMA, "shard": shard, "of": nshards, "commit": commit, "dirty": dirty,
           "settings": settings, "costs": costs.source or "cells (no costs file)",
           "units": units}
    path = os.path.join(folder, MANIFEST)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path


def read_manifest(folder):
    path = os.path.join(folder, MANIFEST)
    if not os.path.isdir(folder):
        raise ShardError(f"{folder}: no such folder")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ShardError(f"{folder}: not a shard (no {MANIFEST}: run make bench SHARD=K/N)") \
            from None
    except (OSError, ValueError) as e:
        raise ShardError(f"{path}: unreadable ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ShardError(f"{path}: not a shard manifest (schema is not '{SCHEMA}')")
    for field, kind in (("shard", int), ("of", int), ("commit", str), ("dirty", bool),
                        ("settings", dict), ("units", list)):
        if not isinstance(doc.get(field), kind):
            raise ShardError(f"{path}: '{field}' is missing or not a {kind.__name__}")
    for i, u in enumerate(doc["units"]):
        if not (isinstance(u, dict) and isinstance(u.get("workload"), str)
                and isinstance(u.get("design"), str) and isinstance(u.get("shard"), int)
                and isinstance(u.get("sizes"), list) and isinstance(u.get("phases"), list)):
            raise ShardError(f"{path}: unit {i} lacks workload, design, phases, sizes or shard")
    return doc
