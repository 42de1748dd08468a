//! `cargo bench --bench policy`: one evaluation of the 20-statement policy set by
//! Gatehouse and by cedar-policy (both Cedar styles), on three requests. Policies are
//! parsed, the entity store built and each request built once, outside the measured loop;
//! the loop measures the evaluation call alone (its result dropped inside the loop).
//! A second group measures building the request from strings plus evaluating it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use policy_vs_cedar::{
    explicit_deny, implicit_deny, late_allow, Case, Cedar, CedarStyle, Gatehouse,
};

fn requests() -> [(&'static str, Case); 3] {
    [
        ("late_allow", late_allow()),
        ("explicit_deny", explicit_deny()),
        ("implicit_deny", implicit_deny()),
    ]
}

fn evaluate(c: &mut Criterion) {
    let gatehouse = Gatehouse::new();
    let cedars = [
        ("cedar_like", Cedar::new(CedarStyle::Like)),
        ("cedar_groups", Cedar::new(CedarStyle::ActionGroups)),
    ];
    for (name, case) in requests() {
        let mut group = c.benchmark_group(format!("evaluate/{name}"));
        let request = Gatehouse::request(&case);
        group.bench_function("gatehouse", |b| {
            b.iter(|| gatehouse.evaluate(black_box(&request)));
        });
        for (cedar_name, cedar) in &cedars {
            let request = cedar.request(&case);
            group.bench_function(*cedar_name, |b| {
                b.iter(|| cedar.evaluate(black_box(&request)));
            });
        }
        group.finish();
    }
}

fn build_and_evaluate(c: &mut Criterion) {
    let gatehouse = Gatehouse::new();
    let cedars = [
        ("cedar_like", Cedar::new(CedarStyle::Like)),
        ("cedar_groups", Cedar::new(CedarStyle::ActionGroups)),
    ];
    let case = late_allow();
    let mut group = c.benchmark_group("build_and_evaluate/late_allow");
    group.bench_function("gatehouse", |b| {
        b.iter(|| gatehouse.evaluate(&Gatehouse::request(black_box(&case))));
    });
    for (cedar_name, cedar) in &cedars {
        group.bench_function(*cedar_name, |b| {
            b.iter(|| cedar.evaluate(&cedar.request(black_box(&case))));
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate, build_and_evaluate);
criterion_main!(benches);
