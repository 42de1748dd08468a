//! A bare loop for a profiler: evaluates one scenario with one engine, nothing else.
//!
//! `cargo build --release --example profile`, then for example
//! `perf record -g target/release/examples/profile cedar-like late 2000000` and `perf report`.
//! Engines: `gatehouse`, `cedar-like`, `cedar-groups`; scenarios: `late`, `deny`,
//! `implicit`, `mix`.

use std::hint::black_box;

use policy_vs_cedar::{
    cases, explicit_deny, implicit_deny, late_allow, Cedar, CedarStyle, Gatehouse,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map_or("gatehouse", String::as_str);
    let scenario = match args.get(2).map_or("late", String::as_str) {
        "late" => vec![late_allow()],
        "deny" => vec![explicit_deny()],
        "implicit" => vec![implicit_deny()],
        "mix" => cases(),
        other => panic!("unknown scenario {other}"),
    };
    let iterations: usize = args
        .get(3)
        .map_or(1_000_000, |n| n.parse().expect("a count"));
    match engine {
        "gatehouse" => {
            let g = Gatehouse::new();
            let requests: Vec<_> = scenario.iter().map(Gatehouse::request).collect();
            for i in 0..iterations {
                black_box(g.evaluate(black_box(&requests[i % requests.len()])));
            }
        }
        "cedar-like" | "cedar-groups" => {
            let style = if engine == "cedar-like" {
                CedarStyle::Like
            } else {
                CedarStyle::ActionGroups
            };
            let c = Cedar::new(style);
            let requests: Vec<_> = scenario.iter().map(|s| c.request(s)).collect();
            for i in 0..iterations {
                black_box(c.evaluate(black_box(&requests[i % requests.len()])));
            }
        }
        other => panic!("unknown engine {other}"),
    }
}
