// The host of wasm/host.mjs: the stable memory and its fees, the phase
// accounting, and workload runs of the metered module.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { FEES, Instance, PhaseMeter, registry, runOne, StableMemory } from "../host.mjs";
import { fromText, instrument } from "../instrument.mjs";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const BUILD = process.env.MMFREE_WASM_BUILD ?? path.join(ROOT, "build", "wasm");

function metered() {
    const file = path.join(BUILD, "mmfree.metered.wasm");
    assert.ok(fs.existsSync(file), `${file} is missing: make wasm builds it`);
    return new WebAssembly.Module(fs.readFileSync(file));
}

test("stable memory: zeros until written, bytes across 4 KiB chunks, bounds", () => {
    const s = new StableMemory();
    const heap = new Uint8Array(70000);
    assert.equal(s.grow(2n), 0n);
    assert.equal(s.size(), 2n);
    for (let i = 0; i < 10000; i++) heap[i] = (i * 7 + 1) & 255;
    s.write(heap, 4000, 0, 10000); // chunks 0..3
    const back = new Uint8Array(70000);
    back.fill(9);
    s.read(back, 0, 3990, 10020);
    assert.ok(back.subarray(0, 10).every((b) => b === 0), "bytes before the write read zero");
    assert.deepEqual(back.subarray(10, 10010), heap.subarray(0, 10000));
    assert.ok(back.subarray(10010, 10020).every((b) => b === 0), "bytes after read zero");
    // Zeros written over bytes clear them; zeros written elsewhere make no chunk.
    s.write(new Uint8Array(65536), 4096, 0, 4096);
    s.read(back, 0, 4096, 4096);
    assert.ok(back.subarray(0, 4096).every((b) => b === 0));
    s.write(new Uint8Array(65536), 65536, 0, 65536);
    assert.equal(s.chunks.filter(Boolean).length, 4); // chunks 0..3 of the first write
    assert.throws(() => s.read(back, 0, 2 * 65536 - 1, 2), WebAssembly.RuntimeError);
    assert.throws(() => s.write(heap, 2 * 65536, 0, 1), WebAssembly.RuntimeError);
    assert.throws(() => s.read(back, 69999, 0, 2), WebAssembly.RuntimeError);
});

test("stable memory fees: per call, per byte, per 4 KiB page first dirtied", () => {
    const s = new StableMemory();
    const heap = new Uint8Array(8192).fill(1);
    s.grow(1n);
    assert.equal(s.fees, FEES.STABLE_GROW);
    s.write(heap, 10, 0, 10); // page 0 newly dirty
    assert.equal(s.fees, 100 + (20 + 10 + 1000));
    s.write(heap, 4090, 0, 10); // page 0 again, page 1 new
    assert.equal(s.fees, 1130 + (20 + 10 + 1000));
    s.write(heap, 0, 0, 0); // no bytes, no page
    assert.equal(s.fees, 2160 + 20);
    s.read(heap, 0, 0, 100);
    assert.equal(s.fees, 2180 + (20 + 100));
    s.size();
    assert.equal(s.fees, 2300 + 0);
    assert.equal(s.dirtyCount, 2);
    // The constants named in host.mjs, as the replica's tables give them.
    assert.deepEqual([FEES.STABLE_GROW, FEES.STABLE64_READ, FEES.STABLE64_WRITE, FEES.PER_BYTE,
                      FEES.DIRTY_PAGE], [100, 20, 20, 1, 1000]);
});

test("the ic0 imports of an instance reach the stable memory and charge it", async () => {
    const wat = `(module
      (import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
      (import "ic0" "stable64_write" (func $write (param i64 i64 i64)))
      (import "ic0" "stable64_read" (func $read (param i64 i64 i64)))
      (memory (export "memory") 1)
      (data (i32.const 0) "mmfree")
      (func (export "go") (result i32)
        i64.const 1
        call $grow
        drop
        i64.const 70000   ;; stable offset
        i64.const 0       ;; heap address
        i64.const 6
        call $write
        i64.const 100     ;; heap address
        i64.const 70000
        i64.const 6
        call $read
        i32.const 100
        i32.load8_u))`;
    const module = new WebAssembly.Module(await instrument(await fromText(wat)));
    // 70000 is past one page: the write traps.
    assert.throws(() => new Instance(module).exports.go(), WebAssembly.RuntimeError);
    const inst = new Instance(module);
    inst.stable.grow(1n);
    inst.stable.fees = 0;
    assert.equal(inst.exports.go(), "m".charCodeAt(0));
    assert.equal(inst.stable.pages, 2);
    assert.equal(inst.counters()[2], 100 + (20 + 6 + 1000) + (20 + 6));
});

test("phases count between begin and end, less what ran while paused", () => {
    let now = [0, 0, 0];
    const m = new PhaseMeter(2, () => now);
    const h = m.hooks();
    h.begin(0);
    now = [10, 20, 5];
    h.pause(0);
    now = [110, 220, 55];
    h.resume(0);
    now = [111, 222, 56];
    h.end(0);
    h.begin(1);
    now = [200, 300, 56];
    h.end(1);
    assert.deepEqual(m.counts(0), [11, 22, 6]);
    assert.deepEqual(m.counts(1), [89, 78, 0]);
    assert.throws(() => h.end(1), /stopped before it started/);
    h.begin(1);
    assert.throws(() => h.begin(1), /started twice/);
    assert.throws(() => m.counts(1), /never ended/);
});

test("v1's grow pays the fees its V1 layout implies, exactly", () => {
    // Each one-page grow of v1 in one-page buckets: stable64_grow by one page
    // (100), and three header writes (3 x 20) of 11 bytes: the owner byte,
    // the 2-byte bucket count and the 8-byte size (README, write-costs). The
    // header's pages were dirtied by the format, before the phase.
    const module = metered();
    const reg = registry(module);
    const w = reg.workloads.find((x) => x.name === "grow_pages");
    const line = runOne(module, reg, w, reg.designs.indexOf("v1"), 200, 1);
    assert.equal(line.status, "ok", line.reason);
    const [ph] = line.phases;
    assert.equal(ph.ops, 200);
    assert.equal(ph.fees, 200 * (100 + 3 * 20 + 11));
    assert.equal(ph.instructions_with_fees, ph.instructions + ph.fees);
    assert.ok(ph.instructions > 200 && ph.ic_instructions > ph.instructions_with_fees);
});

test("runs repeat exactly, and a design that cannot run a workload is n/a", () => {
    const module = metered();
    const reg = registry(module);
    const w = reg.workloads.find((x) => x.name === "free_regrow");
    const d = reg.designs.indexOf("hbitmap15");
    const a = runOne(module, reg, w, d, 64, 1), b = runOne(module, reg, w, d, 64, 1);
    assert.equal(a.status, "ok", a.reason);
    assert.deepEqual(a, b);
    assert.deepEqual(a.phases.map((p) => p.phase), ["grow", "free", "regrow"]);
    // Each freed one-page bucket is zeroed with one 64 KiB write: its fees
    // are at least 20 + 65,536.
    assert.ok(a.phases[1].fees >= 64 * (20 + 65536), `free's fees: ${a.phases[1].fees}`);
    const na = runOne(module, reg, w, reg.designs.indexOf("v1"), 64, 1);
    assert.equal(na.status, "n/a");
    assert.match(na.reason, /cannot free/);
});
