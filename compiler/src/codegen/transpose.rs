//! `transpose(x, perm)`: a strided copy, on plain (row-major) operands and results on every
//! tier (`choose-layout` reorders blocked neighbours to and from it).
//!
//! One output row (every axis but the last) per work item, so items write disjoint rows. The
//! row's source offset is `Σ_k i_k · step_k` over its output coordinates, with `step_k` the
//! input stride of axis `perm[k]` (compile-time constants); the row is then read at the
//! stride of the last output axis: f32x4 loads and stores when that stride is 1 (the last
//! axis stays last), else one element at a time.

use super::emit::{F, KernelBuilder, LANES};
use super::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_module::Module;

/// Element strides of the output axes in the input: `steps[k]` = stride of input axis `perm[k]`.
fn input_steps(input: &[usize], perm: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; input.len()];
    for axis in (0..input.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * input[axis + 1];
    }
    perm.iter().map(|&axis| strides[axis]).collect()
}

pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    perm: &[usize],
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let input = node.operand_shape(0);
    let shape = node.shape().to_vec();
    if shape.iter().product::<usize>() == 0 {
        return Ok(());
    }
    let steps = input_steps(&input, perm);
    let rank = shape.len();
    let last = shape.last().copied().unwrap_or(1);
    let last_step = steps.last().copied().unwrap_or(1) as i64;
    let rows: usize = shape[..rank.saturating_sub(1)].iter().product();
    let (outer_shape, outer_steps) = (
        shape[..rank.saturating_sub(1)].to_vec(),
        steps[..rank.saturating_sub(1)].to_vec(),
    );
    let kernel = em.kernel(&format!("{}_transpose", node.name()), |kb| {
        let out = kb.arg(0);
        let x = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb: &mut KernelBuilder, row| {
            // Source offset (elements) of the row: its coordinates, innermost first.
            let mut rest = row;
            let mut source = kb.iconst(0);
            for (&size, &step) in outer_shape.iter().zip(&outer_steps).rev() {
                let (quotient, coordinate) = kb.divmod(rest, size);
                source = kb.imad(coordinate, step as i64, source);
                rest = quotient;
            }
            let src = kb.addr(x, source, F);
            let dst = kb.addr(out, row, last as i64 * F);
            if last_step == 1 {
                let vector_end = last / LANES * LANES;
                if vector_end > 0 {
                    kb.for_const(0, vector_end as i64 * F, LANES as i64 * F, |kb, offset| {
                        let from = kb.b.ins().iadd(src, offset);
                        let v = kb.load(F32X4, from, 0);
                        let to = kb.b.ins().iadd(dst, offset);
                        kb.store(v, to, 0);
                    });
                }
                for j in vector_end..last {
                    let v = kb.load(F32, src, j as i64 * F);
                    kb.store(v, dst, j as i64 * F);
                }
            } else {
                kb.for_const(0, last as i64, 1, |kb, j| {
                    let from = kb.addr(src, j, last_step * F);
                    let v = kb.load(F32, from, 0);
                    let to = kb.addr(dst, j, F);
                    kb.store(v, to, 0);
                });
            }
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        rows as u64,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_the_input_strides_of_the_permuted_axes() {
        assert_eq!(
            super::input_steps(&[2, 3, 4, 5], &[0, 2, 3, 1]),
            [60, 5, 1, 20]
        );
        assert_eq!(super::input_steps(&[2, 6], &[1, 0]), [1, 6]);
        assert_eq!(super::input_steps(&[2, 6], &[0, 1]), [6, 1]);
    }
}
