#!/usr/bin/env -S node --no-warnings
// The host of mmfree's WebAssembly build: runs the metered module
// (wasm/instrument.mjs) as a canister runs, with a stable memory behind
// the "ic0" system calls, and measures each workload phase.
//
//   host.mjs list --module M [--n N[,N...]]
//   host.mjs run --module M --design D[,D...] --workload W[,W...] --n N[,N...] [--seed S]
//       [--budget INSTRUCTIONS]
//   host.mjs test --module M [--filter SUITE/NAME]
//
// `list` and `run` print one JSON line per workload x design x N, as
// `mmrun run` does (bench/mmrun_run.c); each phase of a run carries its
// counts: "instructions" (Wasm instructions), "instructions_with_fees"
// (plus the system-API fees of the stable-memory calls), and
// "ic_instructions" (the IC's instruction weights plus the fees: what the
// replica's performance counter, and so canbench, reports). With --budget,
// sizes predicted to cost more instructions with fees than that are n/a. A phase is
// measured as callgrind measures it: the counters' difference between its
// begin and end hooks, less what ran between pause and resume.
//
// `test` runs every test built into the module (wasm/criterion/), each
// test and parameter in a fresh instance, and ends on Criterion's
// synthesis line. Exit 0, 1 when a run or test fails, 2 on a usage error.
//
// Every run gets an instance of its own: a fresh heap and an empty stable
// memory, as a canister's first message. The stable memory's pages that
// were written count as dirty from the instance's start, as within one
// message of a canister (canbench's setup and measurement share one).

import { Buffer } from "node:buffer";
import fs from "node:fs";
import process from "node:process";
import { WASI } from "node:wasi";

import { COUNTER, COUNTER_IC } from "./instrument.mjs";

/** n with thousands separators, as the reports write figures: 65,536. */
const grouped = (n) => String(n).replace(/\B(?=(\d{3})+$)/g, ",");

// ---------------------------------------------------------------------------
// System-API fees, in instructions, as the replica charges them with
// Wasm-native stable memory (its default): a fixed part per call and one
// instruction per byte moved, charged by the replacement functions of
// dfinity/ic rs/embedders/src/wasm_utils/system_api_replacements.rs
// ("Decrement instruction counter by the size of the copy and fixed
// overhead"). The fixed parts are the `overhead_native` constants of
// rs/embedders/src/wasmtime_embedder/system_api_complexity.rs; stable64_size
// becomes a bare memory.size there, with no fee. A write also pays for
// each 4 KiB page of stable memory it dirties first in the message:
// DEFAULT_DIRTY_PAGE_OVERHEAD of rs/config/src/subnet_config.rs
// (application subnets).
export const FEES = {
    STABLE_GROW: 100,        // overhead_native::STABLE_GROW (stable_grow and stable64_grow)
    STABLE64_READ: 20,       // overhead_native::STABLE64_READ, plus 1 per byte
    STABLE64_WRITE: 20,      // overhead_native::STABLE64_WRITE, plus 1 per byte
    STABLE64_SIZE: 0,        // a memory.size in the replacement function
    PER_BYTE: 1,             // the size of the copy
    DIRTY_PAGE: 1000,        // DEFAULT_DIRTY_PAGE_OVERHEAD, per new dirty OS page
};
const OS_PAGE = 4096;
const ZEROS = new Uint8Array(65536);
const WASM_PAGE = 65536;
// The IC's limit on stable memory (500 GiB), in pages.
const MAX_STABLE_PAGES = (500 * 2 ** 30) / WASM_PAGE;

/**
 * A canister's stable memory: pages of 64 KiB that only grow. Bytes live
 * in 4 KiB chunks made on the first write of something other than zeros
 * (a chunk never made reads as zeros), so a run costs the host what it
 * writes, not what it grows. Every call adds its fee to `fees`; `dirty`
 * marks the 4 KiB pages written since the instance started.
 */
export class StableMemory {
    constructor() {
        this.pages = 0;
        this.chunks = [];
        this.dirty = new Uint8Array(0);
        this.dirtyCount = 0;
        this.fees = 0;
    }

    size() {
        this.fees += FEES.STABLE64_SIZE;
        return BigInt(this.pages);
    }

    grow(delta) {
        this.fees += FEES.STABLE_GROW;
        const old = this.pages;
        if (delta > BigInt(MAX_STABLE_PAGES - old)) return -1n;
        this.pages = old + Number(delta);
        const chunks = this.pages * (WASM_PAGE / OS_PAGE);
        if (chunks > this.dirty.length) {
            const dirty = new Uint8Array(Math.max(chunks, 2 * this.dirty.length));
            dirty.set(this.dirty);
            this.dirty = dirty;
        }
        return BigInt(old);
    }

    check(offset, size, heap, at) {
        if (offset + size > this.pages * WASM_PAGE || at + size > heap.length)
            throw new WebAssembly.RuntimeError(`stable memory access out of bounds: ${size} `
                + `bytes at ${offset} of ${this.pages} pages`);
    }

    read(heap, dst, offset, size) {
        this.fees += FEES.STABLE64_READ + FEES.PER_BYTE * size;
        this.check(offset, size, heap, dst);
        for (let done = 0; done < size;) {
            const at = offset + done, chunk = Math.floor(at / OS_PAGE), from = at % OS_PAGE;
            const n = Math.min(size - done, OS_PAGE - from);
            const bytes = this.chunks[chunk];
            if (bytes) heap.set(bytes.subarray(from, from + n), dst + done);
            else heap.fill(0, dst + done, dst + done + n);
            done += n;
        }
    }

    write(heap, offset, src, size) {
        this.fees += FEES.STABLE64_WRITE + FEES.PER_BYTE * size;
        this.check(offset, size, heap, src);
        if (size === 0) return;
        const first = Math.floor(offset / OS_PAGE), last = Math.floor((offset + size - 1) / OS_PAGE);
        for (let c = first; c <= last; c++) {
            if (!this.dirty[c]) {
                this.dirty[c] = 1;
                this.dirtyCount++;
                this.fees += FEES.DIRTY_PAGE;
            }
        }
        const zeros = allZero(heap, src, size);
        for (let done = 0; done < size;) {
            const at = offset + done, chunk = Math.floor(at / OS_PAGE), from = at % OS_PAGE;
            const n = Math.min(size - done, OS_PAGE - from);
            let bytes = this.chunks[chunk];
            if (zeros) {
                bytes?.fill(0, from, from + n);
            } else {
                if (!bytes) bytes = this.chunks[chunk] = new Uint8Array(OS_PAGE);
                bytes.set(heap.subarray(src + done, src + done + n), from);
            }
            done += n;
        }
    }
}

function allZero(heap, at, size) {
    for (let done = 0; done < size; done += ZEROS.length) {
        const n = Math.min(ZEROS.length, size - done);
        if (Buffer.compare(heap.subarray(at + done, at + done + n), ZEROS.subarray(0, n)) !== 0)
            return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
// An instance of the metered module
// ---------------------------------------------------------------------------

const MM_WL_OK = 0, MM_WL_NA = 1;
const RECORD_FIELDS = ["ops", "buckets_new", "buckets_reused", "pages_end", "header_bytes_written"];

export function loadModule(path) {
    return new WebAssembly.Module(fs.readFileSync(path));
}

/**
 * One instance with a fresh stable memory. `hooks` receives the phase
 * hooks (begin, end, pause, resume) of workload runs.
 */
export class Instance {
    constructor(module, hooks = {}) {
        this.stable = new StableMemory();
        this.hooks = hooks;
        const stable = this.stable;
        const heap = () => new Uint8Array(this.exports.memory.buffer);
        const wasi = new WASI({ version: "preview1", args: ["mmfree"], env: process.env,
                                returnOnExit: true });
        const instance = new WebAssembly.Instance(module, {
            ic0: {
                stable64_size: () => stable.size(),
                stable64_grow: (pages) => stable.grow(pages),
                stable64_read: (dst, off, size) => stable.read(heap(), Number(dst), Number(off), Number(size)),
                stable64_write: (off, src, size) => stable.write(heap(), Number(off), Number(src), Number(size)),
            },
            mmfree_host: {
                phase_begin: (ctx, phase) => this.hooks.begin?.(phase),
                phase_end: (ctx, phase, ops) => this.hooks.end?.(phase, Number(ops)),
                pause: (ctx, phase) => this.hooks.pause?.(phase),
                resume: (ctx, phase) => this.hooks.resume?.(phase),
            },
            wasi_snapshot_preview1: wasi.wasiImport,
        });
        this.exports = instance.exports;
        wasi.initialize(instance);
    }

    /** The counters now: [Wasm instructions, IC-weighted instructions, fees]. */
    counters() {
        return [Number(this.exports[COUNTER].value), Number(this.exports[COUNTER_IC].value),
                this.stable.fees];
    }

    string(ptr) {
        if (!ptr) return null;
        const heap = new Uint8Array(this.exports.memory.buffer);
        let end = ptr;
        while (heap[end]) end++;
        return new TextDecoder().decode(heap.subarray(ptr, end));
    }
}

// ---------------------------------------------------------------------------
// The registries, through a scratch instance
// ---------------------------------------------------------------------------

export function registry(module) {
    const inst = new Instance(module);
    const x = inst.exports;
    const designs = [];
    for (let d = 0; d <= x.mmw_design_count(); d++) designs.push(inst.string(x.mmw_design_name(d)));
    const workloads = [];
    for (let w = 0; w < x.mmw_workload_count(); w++) {
        const phases = [];
        for (let p = 0; p < x.mmw_workload_nphases(w); p++)
            phases.push(inst.string(x.mmw_workload_phase(w, p)));
        workloads.push({ index: w, name: inst.string(x.mmw_workload_name(w)),
                         raw: Boolean(x.mmw_workload_raw(w)), phases });
    }
    return { designs, workloads, none: designs.length - 1, instance: inst };
}

/** Whether design index d runs workload w at n: [ok, reason]. */
function applicable(reg, w, d, n) {
    const x = reg.instance.exports;
    const ok = x.mmw_applicable(w.index, d, BigInt(n));
    return [Boolean(ok), ok ? null : reg.instance.string(x.mmw_reason())];
}

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/**
 * The counts of a workload's phases, as callgrind's toggles give them:
 * each phase adds the counters' growth between begin and end, less what
 * ran between pause and resume. `read` returns the counters now.
 */
export class PhaseMeter {
    constructor(nphases, read) {
        this.read = read;
        this.phases = Array.from({ length: nphases }, () => ({ counts: [0, 0, 0], open: null }));
    }

    start(p) {
        if (this.phases[p].open) throw new Error(`phase ${p} started twice`);
        this.phases[p].open = this.read();
    }

    stop(p) {
        const ph = this.phases[p], now = this.read();
        if (!ph.open) throw new Error(`phase ${p} stopped before it started`);
        ph.counts = ph.counts.map((c, i) => c + now[i] - ph.open[i]);
        ph.open = null;
    }

    /** The hooks an Instance calls. */
    hooks() {
        return { begin: (p) => this.start(p), end: (p) => this.stop(p),
                 pause: (p) => this.stop(p), resume: (p) => this.start(p) };
    }

    /** Phase p's [Wasm instructions, IC-weighted instructions, fees]. */
    counts(p) {
        if (this.phases[p].open) throw new Error(`phase ${p} never ended`);
        return this.phases[p].counts;
    }
}

/** Runs workload w on design index d at n in a fresh instance: its JSON record. */
export function runOne(module, reg, w, d, n, seed) {
    const design = reg.designs[d];
    const head = { workload: w.name, design, n, seed };
    const [ok, why] = applicable(reg, w, d, n);
    if (!ok) return { ...head, status: "n/a", reason: why };
    let inst = null;
    const meter = new PhaseMeter(w.phases.length, () => inst.counters());
    inst = new Instance(module, meter.hooks());
    const x = inst.exports;
    const status = x.mmw_run(w.index, d, BigInt(n), BigInt(seed));
    const reason = inst.string(x.mmw_reason());
    if (status === MM_WL_NA) return { ...head, status: "n/a", reason };
    if (status !== MM_WL_OK) return { ...head, status: "failed", reason };
    const out = { ...head, status: "ok" };
    RECORD_FIELDS.forEach((f, i) => { out[f] = Number(x.mmw_record(i)); });
    out.phases = w.phases.map((name, p) => {
        const [plain, ic, fees] = meter.counts(p);
        return { phase: name, ops: Number(x.mmw_phase_ops(p)), key: `${w.name}.${name}/${design}/${n}`,
                 instructions: plain, instructions_with_fees: plain + fees,
                 ic_instructions: ic + fees, fees };
    });
    return out;
}

/** What a run costs for the budget: its phases' instructions with fees. */
function cost(line) {
    return line.phases.reduce((sum, p) => sum + p.instructions_with_fees, 0);
}

/**
 * Runs w on design index d at every size in ns (ascending). Once two sizes
 * are measured, each larger one is predicted from the growth between the
 * last two (as scripts/count-instructions predicts callgrind's); from the
 * first predicted over the budget on, sizes are n/a, "not measured".
 */
export function* runSizes(module, reg, w, d, ns, seed, budget) {
    const done = [];
    let over = null;
    for (const n of [...ns].sort((a, b) => a - b)) {
        if (!over && budget && done.length >= 2) {
            const [[n1, c1], [n2, c2]] = done.slice(-2);
            const growth = Math.min(3, Math.max(0, Math.log(c2 / c1) / Math.log(n2 / n1)));
            const guess = c2 * (n / n2) ** growth;
            if (guess > budget)
                over = (m) => `not measured: about ${(c2 * (m / n2) ** growth / 1e9).toFixed(1)}G `
                    + `instructions with fees at N = ${grouped(m)} (extrapolated from N = ${grouped(n1)} `
                    + `and ${grouped(n2)}), `
                    + `over the budget of ${budget / 1e9}G per run (--budget)`;
        }
        if (over) {
            yield { workload: w.name, design: reg.designs[d], n, seed, status: "n/a", reason: over(n) };
            continue;
        }
        const line = runOne(module, reg, w, d, n, seed);
        if (line.status === "ok" && cost(line) > 0) done.push([n, cost(line)]);
        yield line;
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/** Runs the module's tests; returns [passed, failed]. */
export function runTests(module, filter, log = (s) => process.stdout.write(`${s}\n`)) {
    const reg = new Instance(module);
    const x = reg.exports;
    let passed = 0, failed = 0;
    for (let i = 0; i < x.mmw_test_count(); i++) {
        const name = `${reg.string(x.mmw_test_suite(i))}/${reg.string(x.mmw_test_name(i))}`;
        if (filter && !name.startsWith(filter)) continue;
        for (let j = 0; j < x.mmw_test_params(i); j++) {
            const t0 = process.hrtime.bigint();
            let error = null;
            try {
                if (new Instance(module).exports.mmw_test_run(i, j) !== 0) error = "did not run";
            } catch (e) {
                error = e instanceof WebAssembly.RuntimeError ? `trapped (${e.message})` : String(e);
            }
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            if (error) {
                failed++;
                log(`[FAIL] ${name}::${j}: ${error} (${ms.toFixed(0)} ms)`);
            } else {
                passed++;
                log(`[PASS] ${name}::${j} (${ms.toFixed(0)} ms)`);
            }
        }
    }
    return [passed, failed];
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function usage(msg) {
    process.stderr.write(`host: ${msg}\nusage: host.mjs list|run|test --module M.wasm ...\n`);
    return 2;
}

function parse(argv) {
    const opts = {};
    for (let i = 1; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || i + 1 >= argv.length) return null;
        opts[argv[i].slice(2)] = argv[i + 1];
    }
    return opts;
}

function emit(line) {
    process.stdout.write(`${JSON.stringify(line)}\n`);
}

function sizes(text) {
    const ns = (text ?? "1024").split(",").map(Number);
    return ns.every((n) => Number.isInteger(n) && n >= 1) ? ns : null;
}

function main(argv) {
    const cmd = argv[0], opts = parse(argv);
    if (!opts || !opts.module) return usage("--module is needed, and every option takes a value");
    const module = loadModule(opts.module);
    if (cmd === "test") {
        const [passed, failed] = runTests(module, opts.filter);
        process.stdout.write(`[====] Synthesis: Tested: ${passed + failed} | Passing: ${passed} `
            + `| Failing: ${failed} | Crashing: 0\n`);
        return failed ? 1 : 0;
    }
    const reg = registry(module);
    const ns = sizes(opts.n);
    if (!ns) return usage(`bad --n '${opts.n}'`);
    const pick = (text, all, what) => {
        if (!text) return all;
        const names = text.split(",");
        const bad = names.find((x) => !all.includes(x));
        if (bad) throw new Error(`no ${what} is named '${bad}' (known: ${all.join(", ")})`);
        return names;
    };
    let designs, workloads;
    try {
        designs = pick(opts.design, reg.designs, "design");
        workloads = pick(opts.workload, reg.workloads.map((w) => w.name), "workload")
            .map((name) => reg.workloads.find((w) => w.name === name));
    } catch (e) {
        return usage(e.message);
    }
    const budget = Number(opts.budget ?? 0);
    if (!(budget >= 0)) return usage(`bad --budget '${opts.budget}'`);
    if (cmd !== "list" && cmd !== "run") return usage(`unknown command '${cmd}'`);
    let rc = 0;
    for (const w of workloads) {
        for (const design of designs) {
            const d = reg.designs.indexOf(design);
            if (w.raw !== (d === reg.none)) continue; // raw runs only with design none
            if (cmd === "list") {
                for (const n of ns) {
                    const [ok, reason] = applicable(reg, w, d, n);
                    const extra = ok ? { resident_bytes: Number(reg.instance.exports.mmw_resident_bytes(w.index, BigInt(n))) }
                                     : { reason };
                    emit({ workload: w.name, design, n, phases: w.phases, status: ok ? "ok" : "n/a", ...extra });
                }
                continue;
            }
            for (const line of runSizes(module, reg, w, d, ns, Number(opts.seed ?? 1), budget)) {
                if (line.status === "failed") {
                    rc = 1;
                    process.stderr.write(`host: ${w.name} on ${design} at N = ${line.n} failed: ${line.reason}\n`);
                }
                emit(line);
            }
        }
    }
    return rc;
}

if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (e) {
        process.stderr.write(`host: ${e.message}\n`);
        process.exitCode = 1;
    }
}
