//! virel-lab: the LU factorisation of a multibody's (small, dense) mass matrices.
//!
//! Rapier factorised them with nalgebra's `LU<Real, Dyn, Dyn>`: a new heap matrix every
//! factorisation (twice per solver substep), and generic view arithmetic in every solve (one
//! per joint-limit and contact row). This is the same algorithm (partial pivoting on the
//! largest magnitude, multipliers scaled by the pivot's reciprocal, column-oriented
//! substitutions), on a column-major buffer that is reused and on plain slices. Held against
//! nalgebra's `LU` by virel-lab's `tests/rapier_patch.rs`.

use crate::alloc_prelude::*;
use crate::math::Real;
use na::{Dyn, Matrix, Storage, StorageMut, U1};

/// `P·A = L·U` of a square matrix, `L` unit lower triangular, stored together in `lu`.
#[derive(Clone, Debug, Default)]
pub struct DenseLu {
    n: usize,
    /// Column-major `n × n`: `U` on and above the diagonal, `L` below it.
    lu: Vec<Real>,
    /// Row swaps `(i, pivot[i])`, applied in order.
    pivot: Vec<usize>,
}

impl DenseLu {
    /// Factorises the leading `n × n` block of `a`, reusing this value's buffers.
    pub fn factorize<S: Storage<Real, Dyn, Dyn>>(&mut self, a: &Matrix<Real, Dyn, Dyn, S>, n: usize) {
        self.n = n;
        self.lu.clear();
        for c in 0..n {
            self.lu.extend((0..n).map(|r| a[(r, c)]));
        }
        self.pivot.clear();
        let lu = &mut self.lu;
        for i in 0..n {
            // The first largest magnitude at or below the diagonal (nalgebra's `icamax`).
            let col = &lu[i * n..(i + 1) * n];
            let mut piv = i;
            let mut max = col[i].abs();
            for (r, v) in col.iter().enumerate().skip(i + 1) {
                if v.abs() > max {
                    max = v.abs();
                    piv = r;
                }
            }
            self.pivot.push(piv);
            let diag = col[piv];
            if diag == 0.0 {
                continue; // A zero column below the diagonal: nothing to eliminate.
            }
            if piv != i {
                for c in 0..n {
                    lu.swap(c * n + i, c * n + piv);
                }
            }
            let inv_pivot = 1.0 / diag;
            let (left, right) = lu.split_at_mut((i + 1) * n);
            let l = &mut left[i * n + i + 1..];
            for v in l.iter_mut() {
                *v *= inv_pivot;
            }
            for c in right.chunks_exact_mut(n) {
                let u = c[i];
                for (y, x) in c[i + 1..].iter_mut().zip(l.iter()) {
                    *y += -u * *x;
                }
            }
        }
    }

    /// Solves `A·x = b` in place. False when `U` has a zero on its diagonal (`b` is then
    /// left partly solved, as nalgebra's `LU::solve_mut` leaves it).
    pub fn solve_mut<S: StorageMut<Real, Dyn, U1>>(&self, b: &mut Matrix<Real, Dyn, U1, S>) -> bool {
        let n = self.n;
        assert_eq!(b.nrows(), n, "DenseLu::solve_mut: dimension mismatch");
        if n == 0 {
            return true;
        }
        let mut x = [0.0; 64];
        let mut heap;
        let x: &mut [Real] = if n <= x.len() {
            &mut x[..n]
        } else {
            heap = vec![0.0; n];
            &mut heap
        };
        for (i, v) in x.iter_mut().enumerate() {
            *v = b[i];
        }
        for (i, &p) in self.pivot.iter().enumerate() {
            x.swap(i, p);
        }
        let lu = &self.lu;
        for i in 0..n {
            let coeff = x[i];
            let (_, below) = x.split_at_mut(i + 1);
            for (y, l) in below.iter_mut().zip(&lu[i * n + i + 1..(i + 1) * n]) {
                *y += -coeff * *l;
            }
        }
        let mut ok = true;
        for i in (0..n).rev() {
            let diag = lu[i * n + i];
            if diag == 0.0 {
                ok = false;
                break;
            }
            let coeff = x[i] / diag;
            x[i] = coeff;
            for (y, u) in x[..i].iter_mut().zip(&lu[i * n..i * n + i]) {
                *y += -coeff * *u;
            }
        }
        for (i, v) in x.iter().enumerate() {
            b[i] = *v;
        }
        ok
    }
}
