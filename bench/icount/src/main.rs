//! icount IN.wasm OUT.wasm: adds an exported mutable i64 global `__icount` and, at the start
//! of every straight-line segment of every function, code that adds the number of original
//! instructions in that segment to it. A segment ends after any instruction that may leave
//! it or enter a nested sequence (br, br_if, br_table, return, unreachable, block, loop, if),
//! so the counter holds exactly the number of original wasm instructions executed (a bulk
//! memory instruction counts as one, whatever it copies).
//!
//! With ICOUNT_PER_FUNCTION set, every function gets a counter of its own instead, exported
//! as `__ic:<function name>` (what `bench/profile.mjs` reads).
use walrus::ir::*;
use walrus::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut m = Module::from_file(&args[1]).expect("read module");
    let g = m
        .globals
        .add_local(ValType::I64, true, false, ConstExpr::Value(Value::I64(0)));
    m.exports.add("__icount", g);
    let ids: Vec<FunctionId> = m.funcs.iter_local().map(|(id, _)| id).collect();
    let per_fn = std::env::var("ICOUNT_PER_FUNCTION").is_ok();
    for (k, id) in ids.into_iter().enumerate() {
        let g = if per_fn {
            let name = m
                .funcs
                .get(id)
                .name
                .clone()
                .unwrap_or_else(|| format!("f{k}"));
            let fg =
                m.globals
                    .add_local(ValType::I64, true, false, ConstExpr::Value(Value::I64(0)));
            m.exports.add(&format!("__ic:{name}"), fg);
            fg
        } else {
            g
        };
        let FunctionKind::Local(f) = &mut m.funcs.get_mut(id).kind else {
            continue;
        };
        let mut stack = vec![f.entry_block()];
        let mut seqs = Vec::new();
        while let Some(s) = stack.pop() {
            seqs.push(s);
            for (ins, _) in f.block(s).instrs.iter() {
                match ins {
                    Instr::Block(b) => stack.push(b.seq),
                    Instr::Loop(l) => stack.push(l.seq),
                    Instr::IfElse(ie) => {
                        stack.push(ie.consequent);
                        stack.push(ie.alternative);
                    }
                    _ => {}
                }
            }
        }
        for s in seqs {
            let mut b = f.builder_mut().instr_seq(s);
            let old = std::mem::take(b.instrs_mut());
            let mut new = Vec::with_capacity(old.len() + 16);
            let mut seg = Vec::new();
            let flush = |seg: &mut Vec<(Instr, InstrLocId)>, new: &mut Vec<(Instr, InstrLocId)>| {
                if seg.is_empty() {
                    return;
                }
                let n = seg.len() as i64;
                let loc = InstrLocId::default();
                new.push((Instr::GlobalGet(GlobalGet { global: g }), loc));
                new.push((
                    Instr::Const(Const {
                        value: Value::I64(n),
                    }),
                    loc,
                ));
                new.push((
                    Instr::Binop(Binop {
                        op: BinaryOp::I64Add,
                    }),
                    loc,
                ));
                new.push((Instr::GlobalSet(GlobalSet { global: g }), loc));
                new.append(seg);
            };
            for (ins, loc) in old {
                let ends = matches!(
                    ins,
                    Instr::BrIf(_)
                        | Instr::Block(_)
                        | Instr::Loop(_)
                        | Instr::IfElse(_)
                        | Instr::Br(_)
                        | Instr::BrTable(_)
                        | Instr::Return(_)
                        | Instr::Unreachable(_)
                );
                seg.push((ins, loc));
                if ends {
                    flush(&mut seg, &mut new);
                }
            }
            flush(&mut seg, &mut new);
            *b.instrs_mut() = new;
        }
    }
    m.emit_wasm_file(&args[2]).expect("write module");
}
