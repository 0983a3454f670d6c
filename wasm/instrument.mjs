// Meters a WebAssembly module the way the Internet Computer meters a
// canister: before the module runs, code is added at the start of every
// basic block that adds the block's cost to a global counter.
//
//     node wasm/instrument.mjs IN.wasm OUT.wasm
//
// The model is the replica's own instrumentation, dfinity/ic
// rs/embedders/src/wasm_utils/instrumentation.rs (read at commit
// 002d5530aeb1ef1ed362d7f9c3c5529b8ec1cafe): `injections()` walks a
// function's flat instruction stream and starts a new basic block after
// every `loop`, `if`, `else`, `br`, `br_if`, `br_table`, `end`, `return`
// and `unreachable`; each block is charged in full where it starts, with
// the sum of `instruction_to_cost()` over its instructions, the terminator
// included. Calls do not end a block: the callee charges its own blocks.
//
// Two counters are kept, each an exported mutable i64 global:
//   mm_instructions     Wasm instructions: 1 for every instruction executed,
//                       except `block`, `loop`, `else` and `end`, which
//                       only delimit code (the IC prices them 0 as well).
//   mm_instructions_ic  the IC's weights (INSTRUCTION_COST below: a call 5,
//                       a division 10, global.get 2, ...), plus 1 on every
//                       function entry as the IC charges: what the replica's
//                       instruction counter, and so canbench, reports before
//                       system-API fees (wasm/host.mjs adds those).
//
// Why wabt and its text format rather than binaryen's IR: the counts must
// be of the instructions the compiler emitted, block by block, as the IC
// sees them (wasmparser's flat operators). wasm2wat prints exactly that
// stream, one instruction per line, and wat2wasm encodes it back
// unchanged, so the instrumented module runs the compiler's code plus the
// counter updates. Binaryen reads a module into a tree and writes its own
// encoding of it (blocks merged or added, values moved through locals), so
// the code that ran would not be the code the compiler emitted, and a
// block start inside an expression has no place for a statement.
//
// Bulk-memory instructions (memory.copy, memory.fill, ...) cost per byte at
// run time; the IC meters them with a call before each. clang 14 does not
// emit them for wasm32 by default, so they are refused here rather than
// counted wrong.

import fs from "node:fs";
import process from "node:process";
import wabtInit from "wabt";

export const COUNTER = "mm_instructions";
export const COUNTER_IC = "mm_instructions_ic";

const FEATURES = { mutable_globals: true, sign_extension: true, sat_float_to_int: true,
                   multi_value: true, bulk_memory: true };

// instruction_to_cost() of instrumentation.rs for a 32-bit memory, by the
// text format's names; anything not listed costs 1, as there.
const INSTRUCTION_COST = (() => {
    const cost = new Map();
    const set = (names, c) => { for (const n of names.split(/\s+/).filter(Boolean)) cost.set(n, c); };
    set("block else end loop", 0);
    set("i32.div_s i32.div_u i32.rem_s i32.rem_u i64.div_s i64.div_u i64.rem_s i64.rem_u", 10);
    set(`f32.add f32.sub f32.mul f32.ceil f32.floor f32.trunc f32.nearest
         f64.add f64.sub f64.mul f64.ceil f64.floor f64.trunc f64.nearest f32.copysign`, 2);
    set("f32.div", 3);
    set("f64.div f32.sqrt", 5);
    set("f32.min f32.max f64.min f64.max", 18);
    set("f64.copysign", 3);
    set("f64.sqrt", 8);
    set(`f32.eq f32.ne f32.lt f32.gt f32.le f32.ge f64.eq f64.ne f64.lt f64.gt f64.le f64.ge
         f32.convert_i32_s f64.convert_i64_s f32.convert_i64_s f64.convert_i32_s`, 3);
    set("f64.convert_i32_u f32.convert_i64_u f32.convert_i32_u f64.convert_i64_u", 16);
    set(`i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u
         i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u
         i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u
         i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u`, 20);
    set("global.get global.set", 2);
    set("table.get table.set", 5);
    set("memory.grow table.grow", 300);
    set("memory.size", 20);
    set("table.size", 100);
    set("data.drop elem.drop", 300);
    set("call", 5);
    set("call_indirect", 10);
    set("return_call", 3);
    set("return_call_indirect", 60);
    set("if br br_if br_table", 2);
    set("ref.is_null", 5);
    set("ref.func", 130);
    return cost;
})();

// Cost charged on entry to every function, before its first instruction.
const FUNCTION_ENTRY_COST_IC = 1;

const STRUCTURE = new Set(["block", "loop", "else", "end"]);
// The instructions after which instrumentation.rs starts a new block.
const ENDS_BLOCK = new Set(["loop", "if", "else", "br", "br_if", "br_table", "end", "return",
                            "unreachable", "return_call", "return_call_indirect"]);
const BULK = /^(memory\.(copy|fill|init)|table\.(copy|fill|init))$/;

export function instructionCost(op) {
    return { plain: STRUCTURE.has(op) ? 0 : 1, ic: INSTRUCTION_COST.get(op) ?? 1 };
}

// The opcode of an instruction line of wasm2wat's flat output ("    i32.add)"
// closes the function: the parenthesis is not part of the opcode).
function opcode(line) {
    return line.replace(/;;.*$/, "").trim().split(/\s+/)[0].replace(/\)+$/, "");
}

// Basic blocks of one function body, as instrumentation.rs's injections():
// [{at: index of the block's first instruction, plain, ic}].
export function basicBlocks(ops) {
    const blocks = [];
    let cur = { at: 0, plain: 0, ic: FUNCTION_ENTRY_COST_IC };
    ops.forEach((op, i) => {
        if (BULK.test(op))
            throw new Error(`${op} costs per byte at run time, which this metering does not count`);
        const c = instructionCost(op);
        cur.plain += c.plain;
        cur.ic += c.ic;
        if (ENDS_BLOCK.has(op)) {
            blocks.push(cur);
            cur = { at: i + 1, plain: 0, ic: 0 };
        }
    });
    blocks.push(cur); // up to the function's own end, which wasm2wat leaves implicit
    return blocks;
}

const GLOBAL = "$mmfree_meter_instructions";
const GLOBAL_IC = "$mmfree_meter_instructions_ic";

function charge(indent, block) {
    return [`global.get ${GLOBAL}`, `i64.const ${block.plain}`, "i64.add", `global.set ${GLOBAL}`,
            `global.get ${GLOBAL_IC}`, `i64.const ${block.ic}`, "i64.add",
            `global.set ${GLOBAL_IC}`].map((x) => indent + x);
}

// Instruments one function: header line, then body lines (locals first).
function meterFunction(lines) {
    const body = lines.slice(1);
    let first = 0;
    while (first < body.length && body[first].trim().startsWith("(local")) first++;
    const instrs = body.slice(first);
    const blocks = basicBlocks(instrs.map(opcode));
    const out = [lines[0], ...body.slice(0, first)];
    let next = 0;
    instrs.forEach((line, i) => {
        while (next < blocks.length && blocks[next].at === i) {
            const b = blocks[next++];
            if (b.plain || b.ic) out.push(...charge(line.match(/^\s*/)[0], b));
        }
        out.push(line);
    });
    return out;
}

let wabtPromise;
function wabt() {
    wabtPromise ??= wabtInit();
    return wabtPromise;
}

/** Wasm text of a binary module, one instruction per line. */
export async function toText(bytes) {
    const w = await wabt();
    const mod = w.readWasm(bytes, { readDebugNames: true, ...FEATURES });
    try {
        return mod.toText({ foldExprs: false, inlineExport: false });
    } finally {
        mod.destroy();
    }
}

/** A binary module from wasm text. */
export async function fromText(text, name = "module.wat") {
    const w = await wabt();
    const mod = w.parseWat(name, text, FEATURES);
    try {
        mod.resolveNames();
        mod.validate();
        return mod.toBinary({ write_debug_names: true }).buffer;
    } finally {
        mod.destroy();
    }
}

/** The metered module: the counters added and charged at every block. */
export async function instrument(bytes) {
    const lines = (await toText(bytes)).split("\n");
    const out = [];
    for (let i = 0; i < lines.length;) {
        if (!lines[i].startsWith("  (func ")) {
            out.push(lines[i++]);
            continue;
        }
        let end = i + 1;
        while (end < lines.length && lines[end].startsWith("    ")) end++;
        // A function without a body closes on its header line.
        out.push(...(end > i + 1 ? meterFunction(lines.slice(i, end)) : [lines[i]]));
        i = end;
    }
    // Text indices are positions: the counters go after the module's own
    // globals (which the code refers to by index), before what follows them.
    const fields = [`  (global ${GLOBAL} (mut i64) (i64.const 0))`,
                    `  (global ${GLOBAL_IC} (mut i64) (i64.const 0))`,
                    `  (export "${COUNTER}" (global ${GLOBAL}))`,
                    `  (export "${COUNTER_IC}" (global ${GLOBAL_IC}))`];
    const lastGlobal = out.findLastIndex((l) => l.startsWith("  (global "));
    const later = out.findIndex((l) => /^  \((export|elem|data|start) /.test(l));
    if (lastGlobal >= 0) {
        out.splice(lastGlobal + 1, 0, ...fields);
    } else if (later >= 0) {
        out.splice(later, 0, ...fields);
    } else {
        const last = out.findLastIndex((l) => l.trim() !== "");
        if (!out[last].endsWith(")")) throw new Error("wasm2wat's module text does not end in ')'");
        out[last] = out[last].slice(0, -1);
        out.splice(last + 1, 0, ...fields, ")");
    }
    return fromText(out.join("\n"), "metered.wat");
}

async function main(argv) {
    if (argv.length !== 2) {
        process.stderr.write("usage: node wasm/instrument.mjs IN.wasm OUT.wasm\n");
        return 2;
    }
    const [inPath, outPath] = argv;
    const metered = await instrument(fs.readFileSync(inPath));
    fs.writeFileSync(`${outPath}.tmp`, metered);
    fs.renameSync(`${outPath}.tmp`, outPath);
    return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) {
    main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; },
        (e) => { process.stderr.write(`instrument: ${e.message}\n`); process.exitCode = 1; });
}
