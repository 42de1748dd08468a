//! Per-call latency percentiles, which criterion does not give: times single evaluations
//! with `std::time::Instant` around each call, for Gatehouse and both Cedar styles in the
//! same run, and prints median, p90, p99 and p99.9 in nanoseconds.
//!
//! `cargo run --release --example latency [-- --samples N] [--batch B]`
//!
//! - N samples per engine per scenario (default 1,000,000). The engines take turns in
//!   rounds of 10,000 samples, so a burst of load elsewhere on the machine falls on all of
//!   them alike rather than on whichever ran at the time.
//! - With `--batch B` each sample times B back-to-back evaluations and records the mean;
//!   the default is 1 (single calls: the TSC clock source here reads in ~20 ns, see the
//!   "timer" line, small against the times measured). The timer's own cost is included
//!   in every sample, not subtracted.
//! - Each scenario warms every engine up with 20,000 evaluations first.

use std::hint::black_box;
use std::time::Instant;

use policy_vs_cedar::{
    cases, explicit_deny, implicit_deny, late_allow, Case, Cedar, CedarStyle, Gatehouse,
};

const ROUND: usize = 10_000;
const WARM_UP: usize = 20_000;

#[allow(clippy::large_enum_variant, reason = "two values, built once")]
enum Engine {
    Gatehouse(Gatehouse, Vec<gatehouse::policy::Request>),
    Cedar(Cedar, Vec<cedar_policy::Request>),
}

impl Engine {
    fn name(&self) -> &'static str {
        match self {
            Engine::Gatehouse(..) => "gatehouse",
            Engine::Cedar(c, _) => c.name(),
        }
    }

    /// One sample: `batch` evaluations of request `i % len`, in nanoseconds per
    /// evaluation.
    #[inline(never)]
    fn sample(&self, i: usize, batch: usize) -> u64 {
        match self {
            Engine::Gatehouse(g, requests) => {
                let request = &requests[i % requests.len()];
                let start = Instant::now();
                for _ in 0..batch {
                    black_box(g.evaluate(black_box(request)));
                }
                per_call(start, batch)
            }
            Engine::Cedar(c, requests) => {
                let request = &requests[i % requests.len()];
                let start = Instant::now();
                for _ in 0..batch {
                    black_box(c.evaluate(black_box(request)));
                }
                per_call(start, batch)
            }
        }
    }
}

fn per_call(start: Instant, batch: usize) -> u64 {
    let ns = start.elapsed().as_nanos();
    u64::try_from(ns / batch as u128).unwrap_or(u64::MAX)
}

fn engines(scenario: &[Case]) -> Vec<Engine> {
    let gatehouse = Gatehouse::new();
    let g_requests = scenario.iter().map(Gatehouse::request).collect();
    let mut engines = vec![Engine::Gatehouse(gatehouse, g_requests)];
    for style in [CedarStyle::Like, CedarStyle::ActionGroups] {
        let cedar = Cedar::new(style);
        let requests = scenario.iter().map(|c| cedar.request(c)).collect();
        engines.push(Engine::Cedar(cedar, requests));
    }
    engines
}

struct Stats {
    median: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    mean: f64,
}

fn stats(mut samples: Vec<u64>) -> Stats {
    samples.sort_unstable();
    let n = samples.len();
    // Nearest rank.
    let at = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        median: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: samples[n - 1],
        mean: samples.iter().sum::<u64>() as f64 / n as f64,
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.replace('_', "").parse().expect("a number"))
}

fn main() {
    let samples = arg("--samples", 1_000_000);
    let batch = arg("--batch", 1).max(1);

    // What the clock itself costs: two reads back to back.
    let mut timer: Vec<u64> = (0..1_000_000)
        .map(|_| {
            let start = Instant::now();
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    timer.sort_unstable();
    println!(
        "timer: Instant::now() + elapsed(), median {} ns, p99 {} ns (included in every sample)",
        timer[timer.len() / 2],
        timer[timer.len() * 99 / 100]
    );
    println!("samples per engine per scenario: {samples}; evaluations per sample: {batch}");
    println!();

    let scenarios: Vec<(String, Vec<Case>)> = vec![
        (late_allow().name.to_owned(), vec![late_allow()]),
        (explicit_deny().name.to_owned(), vec![explicit_deny()]),
        (implicit_deny().name.to_owned(), vec![implicit_deny()]),
        (
            format!("mix: all {} requests of the table in turn", cases().len()),
            cases(),
        ),
    ];

    println!(
        "{:<44} {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "scenario", "engine", "median", "p90", "p99", "p99.9", "max", "mean"
    );
    for (scenario, requests) in &scenarios {
        let engines = engines(requests);
        for engine in &engines {
            for i in 0..WARM_UP {
                black_box(engine.sample(i, 1));
            }
        }
        let mut results: Vec<Vec<u64>> = engines
            .iter()
            .map(|_| Vec::with_capacity(samples))
            .collect();
        let mut done = 0;
        while done < samples {
            let round = ROUND.min(samples - done);
            for (engine, out) in engines.iter().zip(&mut results) {
                for i in done..done + round {
                    out.push(engine.sample(i, batch));
                }
            }
            done += round;
        }
        let mut medians = Vec::new();
        for (engine, out) in engines.iter().zip(results) {
            let s = stats(out);
            println!(
                "{:<44} {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.0}",
                scenario,
                engine.name(),
                s.median,
                s.p90,
                s.p99,
                s.p999,
                s.max,
                s.mean
            );
            medians.push((engine.name(), s.median, s.p99));
        }
        let (_, g_median, g_p99) = medians[0];
        for (name, median, p99) in &medians[1..] {
            println!(
                "{:<44} {:<22} gatehouse median {:.1}x faster, p99 {:.1}x faster",
                "",
                format!("vs {name}"),
                *median as f64 / g_median as f64,
                *p99 as f64 / g_p99 as f64
            );
        }
        println!();
    }
}
