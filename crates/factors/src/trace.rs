//! Flow tracing for one interval: the consumed mix of every region as one linear system
//! (Tranberg et al. 2019, Energy Strategy Reviews 26, 100367, eq. for the "pool" of a node):
//!
//! ```text
//! (G_i + Σ_j F_ji) · x_i − Σ_j F_ji · x_j = Σ_s G_i,s · e_s      for every region i
//! ```
//!
//! `G_i` is region i's generation, `F_ji` the flow j → i, `e_s` the factor of source s and `x_i`
//! the factor of the mix that flows through region i (what it consumes and what it exports).
//!
//! The system is solved block by block: the regions are split into the strongly connected
//! components of the flow graph (Tarjan), visited upstream first, so an acyclic stretch of the
//! network is plain substitution and only loops of flows need a dense LU (nalgebra, partial
//! pivoting) of the size of the loop. Each block's matrix is weakly diagonally dominant by rows
//! and irreducible, and strictly dominant in a row with own generation or with traced imports
//! from outside the block, so (Taussky) it is nonsingular whenever the block is fed by any
//! generation at all. A block fed by none (a loop of flows with no generation anywhere upstream,
//! possible only when some region exports more than it has) has no defined mix: its regions are
//! reported untraceable, and flows out of it are left out of the regions they reach.

use nalgebra::DMatrix;

/// One interval's network over regions `0..n`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Network {
    /// Generation of each region, MWh.
    pub gen: Vec<f64>,
    /// Emissions of each region's own generation, `[direct, lifecycle]`, in MWh·g/kWh.
    pub own: Vec<[f64; 2]>,
    /// Net flows `(from, to, mwh)`, `mwh > 0`, at most one per ordered pair.
    pub flows: Vec<(usize, usize, f64)>,
}

/// The traced mix of every region.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Traced {
    /// Factor of the mix through each region, `[direct, lifecycle]` g/kWh; `None` when no
    /// generation feeds the region (nothing flows in, or only from an untraceable loop).
    pub mix: Vec<Option<[f64; 2]>>,
    /// Regions that received flow from an untraceable region (left out of their mix).
    pub untraceable_import: Vec<bool>,
}

/// Reusable buffers for [`Tracer::trace`].
#[derive(Default)]
pub(crate) struct Tracer {
    imports_start: Vec<usize>,
    imports: Vec<(usize, f64)>,
    // Tarjan
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    call: Vec<(usize, usize)>,
    comp: Vec<usize>,
    pos: Vec<usize>,
    /// Size of the largest block in the last trace.
    max_block: usize,
}

const UNVISITED: usize = usize::MAX;

impl Tracer {
    /// Solve one interval.
    pub(crate) fn trace(&mut self, net: &Network) -> Traced {
        let n = net.gen.len();
        self.build_imports(net);
        let mut out = Traced {
            mix: vec![None; n],
            untraceable_import: vec![false; n],
        };
        // Tarjan's algorithm on "i depends on j" (j exports to i), iteratively. Components come
        // out after everything they depend on, i.e. upstream first: solve each as it completes.
        self.index.clear();
        self.index.resize(n, UNVISITED);
        self.low.clear();
        self.low.resize(n, 0);
        self.on_stack.clear();
        self.on_stack.resize(n, false);
        self.pos.clear();
        self.pos.resize(n, UNVISITED);
        self.stack.clear();
        self.max_block = 0;
        let mut counter = 0;
        for root in 0..n {
            if self.index[root] != UNVISITED {
                continue;
            }
            self.call.clear();
            self.call.push((root, self.imports_start[root]));
            self.index[root] = counter;
            self.low[root] = counter;
            counter += 1;
            self.stack.push(root);
            self.on_stack[root] = true;
            while let Some(&mut (v, ref mut next)) = self.call.last_mut() {
                if *next < self.imports_start[v + 1] {
                    let (w, _) = self.imports[*next];
                    *next += 1;
                    if self.index[w] == UNVISITED {
                        self.index[w] = counter;
                        self.low[w] = counter;
                        counter += 1;
                        self.stack.push(w);
                        self.on_stack[w] = true;
                        self.call.push((w, self.imports_start[w]));
                    } else if self.on_stack[w] {
                        self.low[v] = self.low[v].min(self.index[w]);
                    }
                    continue;
                }
                self.call.pop();
                if let Some(&(parent, _)) = self.call.last() {
                    self.low[parent] = self.low[parent].min(self.low[v]);
                }
                if self.low[v] == self.index[v] {
                    self.comp.clear();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack[w] = false;
                        self.comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    self.solve_component(net, &mut out);
                }
            }
        }
        out
    }

    /// Size of the largest strongly connected block of `net`.
    pub(crate) fn largest_block(&mut self, net: &Network) -> usize {
        self.trace(net);
        self.max_block
    }

    /// CSR list of each region's imports `(exporter, mwh)`.
    fn build_imports(&mut self, net: &Network) {
        let n = net.gen.len();
        self.imports_start.clear();
        self.imports_start.resize(n + 1, 0);
        for &(_, to, _) in &net.flows {
            self.imports_start[to + 1] += 1;
        }
        for i in 0..n {
            self.imports_start[i + 1] += self.imports_start[i];
        }
        self.imports.clear();
        self.imports.resize(net.flows.len(), (0, 0.0));
        let mut fill = self.imports_start.clone();
        for &(from, to, mwh) in &net.flows {
            self.imports[fill[to]] = (from, mwh);
            fill[to] += 1;
        }
    }

    fn solve_component(&mut self, net: &Network, out: &mut Traced) {
        let comp = &self.comp;
        self.max_block = self.max_block.max(comp.len());
        for (a, &i) in comp.iter().enumerate() {
            self.pos[i] = a;
        }
        let inside = |j: usize, pos: &[usize]| pos[j] < comp.len() && comp[pos[j]] == j;
        // Inflow and right-hand side with what comes from outside the block (already solved).
        let k = comp.len();
        let mut diag = vec![0.0; k];
        let mut rhs = vec![[0.0; 2]; k];
        let mut fed = false;
        for (a, &i) in comp.iter().enumerate() {
            diag[a] = net.gen[i];
            rhs[a] = net.own[i];
            if net.gen[i] > 0.0 {
                fed = true;
            }
            for &(j, f) in &self.imports[self.imports_start[i]..self.imports_start[i + 1]] {
                if inside(j, &self.pos) {
                    diag[a] += f;
                } else if let Some(x) = out.mix[j] {
                    diag[a] += f;
                    rhs[a][0] += f * x[0];
                    rhs[a][1] += f * x[1];
                    fed = true;
                } else {
                    out.untraceable_import[i] = true;
                }
            }
        }
        if fed {
            if k == 1 {
                let i = comp[0];
                out.mix[i] = Some([rhs[0][0] / diag[0], rhs[0][1] / diag[0]]);
            } else {
                let mut m = DMatrix::<f64>::zeros(k, k);
                let mut b = DMatrix::<f64>::zeros(k, 2);
                for (a, &i) in comp.iter().enumerate() {
                    m[(a, a)] = diag[a];
                    b[(a, 0)] = rhs[a][0];
                    b[(a, 1)] = rhs[a][1];
                    for &(j, f) in &self.imports[self.imports_start[i]..self.imports_start[i + 1]] {
                        if inside(j, &self.pos) {
                            m[(a, self.pos[j])] -= f;
                        }
                    }
                }
                // Nonsingular by construction (see the module doc); if rounding ever made it
                // singular the block stays untraceable rather than producing NaN.
                if let Some(x) = m.lu().solve(&b) {
                    if x.iter().all(|v| v.is_finite()) {
                        for (a, &i) in comp.iter().enumerate() {
                            out.mix[i] = Some([x[(a, 0)], x[(a, 1)]]);
                        }
                    }
                }
            }
        }
        for &i in comp {
            self.pos[i] = UNVISITED;
        }
    }
}

/// The baseline the benchmark compares against: one dense LU of the whole `n × n` system,
/// the straightforward way to solve it. Regions with no inflow get the row `x_i = 0`. `None` if
/// the matrix is singular (a loop of flows with no generation upstream).
pub(crate) fn trace_dense(net: &Network) -> Option<Vec<[f64; 2]>> {
    let n = net.gen.len();
    let mut m = DMatrix::<f64>::zeros(n, n);
    let mut b = DMatrix::<f64>::zeros(n, 2);
    for i in 0..n {
        m[(i, i)] = net.gen[i];
        b[(i, 0)] = net.own[i][0];
        b[(i, 1)] = net.own[i][1];
    }
    for &(from, to, f) in &net.flows {
        m[(to, to)] += f;
        m[(to, from)] -= f;
    }
    for i in 0..n {
        if m[(i, i)] == 0.0 {
            m[(i, i)] = 1.0;
        }
    }
    let x = m.lu().solve(&b)?;
    Some((0..n).map(|i| [x[(i, 0)], x[(i, 1)]]).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]
    use super::*;

    fn net(gen: &[(f64, f64)], flows: &[(usize, usize, f64)]) -> Network {
        Network {
            gen: gen.iter().map(|g| g.0).collect(),
            own: gen.iter().map(|g| [g.0 * g.1, g.0 * g.1]).collect(),
            flows: flows.to_vec(),
        }
    }

    #[test]
    fn chain_is_substitution() {
        // A (coal 760) → B (no generation) → C (no generation).
        let n = net(
            &[(100.0, 760.0), (0.0, 0.0), (0.0, 0.0)],
            &[(0, 1, 50.0), (1, 2, 20.0)],
        );
        let t = Tracer::default().trace(&n);
        assert_eq!(t.mix, vec![Some([760.0; 2]); 3]);
    }

    #[test]
    fn generation_free_loop_is_untraceable() {
        // 0 ⇄ 1 with no generation; 1 → 2 which has its own generation.
        let n = net(
            &[(0.0, 0.0), (0.0, 0.0), (10.0, 100.0)],
            &[(0, 1, 5.0), (1, 0, 5.0), (1, 2, 10.0)],
        );
        let t = Tracer::default().trace(&n);
        assert_eq!(t.mix[0], None);
        assert_eq!(t.mix[1], None);
        assert_eq!(t.mix[2], Some([100.0; 2]));
        assert_eq!(t.untraceable_import, vec![false, false, true]);
        assert!(trace_dense(&n).is_none());
    }

    #[test]
    fn blocks_agree_with_dense_lu() {
        // Two loops joined by a one-way link, plus an isolated region.
        let n = net(
            &[
                (10.0, 760.0),
                (20.0, 0.0),
                (5.0, 370.0),
                (7.0, 24.0),
                (0.0, 0.0),
                (3.0, 490.0),
            ],
            &[
                (0, 1, 4.0),
                (1, 0, 1.0),
                (1, 2, 6.0),
                (2, 3, 3.0),
                (3, 2, 2.0),
                (3, 4, 1.0),
            ],
        );
        let t = Tracer::default().trace(&n);
        let d = trace_dense(&n).unwrap();
        for i in 0..6 {
            let x = t.mix[i].unwrap();
            assert!((x[0] - d[i][0]).abs() < 1e-9, "{i}: {x:?} vs {:?}", d[i]);
        }
    }

    proptest::proptest! {
        /// On random networks with loops, every region fed by generation gets the same mix from
        /// the block solver as from one dense LU of the whole system.
        #[test]
        fn blocks_agree_with_dense_on_random_networks(
            gen in proptest::collection::vec((0.0f64..100.0, 0.0f64..900.0), 1..12),
            edges in proptest::collection::vec((0usize..12, 0usize..12, 0.1f64..80.0), 0..40),
        ) {
            let n_reg = gen.len();
            // Some regions without generation, to exercise pure transit.
            let g: Vec<(f64, f64)> = gen.iter().enumerate()
                .map(|(i, &(m, e))| if i % 3 == 2 { (0.0, 0.0) } else { (m + 1.0, e) })
                .collect();
            let mut flows: Vec<(usize, usize, f64)> = Vec::new();
            for (a, b, f) in edges {
                let (a, b) = (a % n_reg, b % n_reg);
                if a != b && !flows.iter().any(|x| (x.0, x.1) == (a, b)) {
                    flows.push((a, b, f));
                }
            }
            let n = net(&g, &flows);
            let t = Tracer::default().trace(&n);
            // The dense baseline counts a flow out of a region with no supply at factor 0, the
            // block solver leaves it out (and says so): compare where that does not arise.
            let clean = !t.untraceable_import.iter().any(|&u| u);
            if let (true, Some(d)) = (clean, trace_dense(&n)) {
                for i in 0..n_reg {
                    if let Some(x) = t.mix[i] {
                        proptest::prop_assert!((x[0] - d[i][0]).abs() <= 1e-9 * (1.0 + d[i][0].abs()));
                        proptest::prop_assert!((x[1] - d[i][1]).abs() <= 1e-9 * (1.0 + d[i][1].abs()));
                    }
                }
            }
            // Every region with generation is traced.
            for i in 0..n_reg {
                if g[i].0 > 0.0 {
                    proptest::prop_assert!(t.mix[i].is_some());
                }
            }
        }
    }
}
