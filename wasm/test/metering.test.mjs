// The metering of wasm/instrument.mjs against counts derived by hand, and
// the instrumented code against the compiler's.
//
//   node --test wasm/test/     (make test runs it after building the module)

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { basicBlocks, COUNTER, COUNTER_IC, fromText, instrument, toText } from "../instrument.mjs";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const BUILD = process.env.MMFREE_WASM_BUILD ?? path.join(ROOT, "build", "wasm");

// sum(n) = 0 + 1 + ... + (n - 1), as a compiler would lay the loop out.
// Its instructions, numbered, and the basic blocks instrumentation.rs's
// injections() cuts them into (a block ends after loop, if, else, br,
// br_if, br_table, end, return, unreachable; block, loop, else and end
// count 0 Wasm instructions, and 0 with the IC's weights):
//
//   A  0 block  1 loop                                  plain 0, IC 0 + 1 on entry
//   B  2 local.get $i  3 local.get $n  4 i32.ge_u  5 br_if 1
//                                                      plain 4, IC 1+1+1+2 = 5
//   C  6 local.get $acc  7 local.get $i  8 i32.add  9 local.set $acc
//      10 local.get $i  11 i32.const 1  12 i32.add  13 local.set $i  14 br 0
//                                                      plain 9, IC 8 + 2 = 10
//   D  15 end (of the loop: only reached by falling through, never here)
//   E  16 end (of the block)                           plain 0, IC 0
//   F  17 local.get $acc (br_if 1 lands here)          plain 1, IC 1
//
// sum(n) runs A once, B n + 1 times, C n times and F once, so
//   Wasm instructions     = 0 + 4(n + 1) + 9n + 1  = 13n + 5
//   with the IC's weights = 1 + 5(n + 1) + 10n + 1 = 15n + 7.
const SUM = `(module
  (memory (export "memory") 1)
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    block
      loop
        local.get $i
        local.get $n
        i32.ge_u
        br_if 1
        local.get $acc
        local.get $i
        i32.add
        local.set $acc
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br 0
      end
    end
    local.get $acc))`;

async function metered(wat) {
    const module = new WebAssembly.Module(await instrument(await fromText(wat)));
    return new WebAssembly.Instance(module, {}).exports;
}

function counts(x) {
    return [x[COUNTER].value, x[COUNTER_IC].value];
}

test("the counters of a hand-counted loop", async () => {
    const x = await metered(SUM);
    for (const n of [0, 1, 7, 1000]) {
        const before = counts(x);
        assert.equal(x.sum(n), n ? (n * (n - 1)) / 2 : 0);
        const after = counts(x);
        assert.equal(after[0] - before[0], BigInt(13 * n + 5), `Wasm instructions of sum(${n})`);
        assert.equal(after[1] - before[1], BigInt(15 * n + 7), `IC instructions of sum(${n})`);
    }
});

test("a call does not end a block; each function charges its own", async () => {
    // f: local.get, call $g, i32.add, i32.const, i32.add: 5 (IC 1 + 5 + 1 +
    // 1 + 1, and 1 on entry: 10); g: i32.const: 1 (IC 1, and 1 on entry: 2).
    // f(x) = x + 1 + 2.
    const x = await metered(`(module
      (func $g (result i32) i32.const 1)
      (func (export "f") (param i32) (result i32)
        local.get 0
        call $g
        i32.add
        i32.const 2
        i32.add))`);
    const before = counts(x);
    assert.equal(x.f(4), 7);
    const after = counts(x);
    assert.deepEqual([after[0] - before[0], after[1] - before[1]], [6n, 12n]);
});

test("basic blocks end where instrumentation.rs ends them", () => {
    const ops = ["i32.const", "if", "i32.const", "drop", "else", "nop", "end", "block", "br", "end",
                 "call", "return", "unreachable"];
    const blocks = basicBlocks(ops).map((b) => [b.at, b.plain, b.ic]);
    assert.deepEqual(blocks, [[0, 2, 4], [2, 2, 2], [5, 1, 1], [7, 1, 2], [9, 0, 0],
                              [10, 2, 6], [12, 1, 1], [13, 0, 0]]);
});

test("bulk-memory instructions are refused, not counted wrong", () => {
    assert.throws(() => basicBlocks(["i32.const", "i32.const", "i32.const", "memory.fill"]),
                  /memory\.fill costs per byte/);
});

// The metered module's text, less what the instrumentation added (the
// charge of each block: global.get, i64.const, i64.add, global.set of each
// counter; the two globals and their exports), is the module's own text:
// the code that runs is the compiler's.
async function assertSameCode(bytes) {
    const original = (await toText(bytes)).split("\n");
    const lines = (await toText(await instrument(bytes))).split("\n");
    const index = (name) => {
        const m = lines.map((l) => l.match(new RegExp(`^  \\(export "${name}" \\(global (\\d+)\\)\\)$`)))
            .find(Boolean);
        assert.ok(m, `the metered module exports no global ${name}`);
        return m[1];
    };
    const counters = [index(COUNTER), index(COUNTER_IC)];
    const stripped = [];
    for (let i = 0; i < lines.length; i++) {
        const charge = counters.flatMap((g) => [`global.get ${g}`, /^i64\.const \d+$/, "i64.add",
                                                `global.set ${g}`]);
        if (charge.every((want, k) => (typeof want === "string" ? lines[i + k]?.trim() === want
                                                                : want.test(lines[i + k]?.trim())))) {
            i += charge.length - 1;
            continue;
        }
        const global = lines[i].match(/^  \(global (\$mmfree_meter_\w+|\(;(\d+);\)) \(mut i64\) \(i64\.const 0\)\)$/);
        if (global && (global[2] === undefined || counters.includes(global[2]))) continue;
        if (/^  \(export "mm_instructions(_ic)?" /.test(lines[i])) continue;
        stripped.push(lines[i]);
    }
    const at = stripped.findIndex((l, i) => l !== original[i]);
    assert.ok(at < 0 && stripped.length === original.length,
              `line ${at + 1} differs: ${JSON.stringify(stripped[at]?.slice(0, 200))} against the `
              + `compiler's ${JSON.stringify(original[at]?.slice(0, 200))}`);
}

test("instrumenting keeps the hand-written module's code", async () => {
    await assertSameCode(await fromText(SUM));
});

test("instrumenting keeps the compiler's code of build/wasm/mmfree.wasm", async () => {
    const file = path.join(BUILD, "mmfree.wasm");
    assert.ok(fs.existsSync(file), `${file} is missing: make wasm builds it`);
    await assertSameCode(fs.readFileSync(file));
});
