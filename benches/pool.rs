//! The thread pool's launch cost: `parallel_for` over 2 parts on 1 and 2 threads, with no work
//! and with 2, 5 and 10 µs of single-core work per launch (busy-waiting parts). The 2-thread
//! time minus half the work is what one fork-join costs; steps smaller than a few times that
//! are run on the caller alone (`pool::GRAIN_NS`).
//!
//! `cargo bench --bench pool`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scc_kernels::pool::parallel_for;
use std::time::{Duration, Instant};

fn busy(ns: u64) {
    let started = Instant::now();
    while (started.elapsed().as_nanos() as u64) < ns {
        std::hint::spin_loop();
    }
}

fn pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("parallel_for 2 parts");
    group.measurement_time(Duration::from_secs(2));
    for work_ns in [0u64, 2_000, 5_000, 10_000] {
        for threads in [1usize, 2] {
            group.bench_with_input(
                BenchmarkId::new(format!("{threads} threads"), format!("{work_ns} ns work")),
                &work_ns,
                |b, &work_ns| b.iter(|| parallel_for(threads, 2, &|_| busy(work_ns / 2))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
