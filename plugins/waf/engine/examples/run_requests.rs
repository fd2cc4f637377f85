//! Runs the cost benchmark's request through the stock Core Rule Set at
//! paranoia level 1, a given number of times: what tests/load/waf-count.sh
//! counts instructions of (criterion's timings move by 30% on a shared
//! machine; instruction counts repeat).
//!
//!   cargo run --release --example run_requests -- benign|sqli COUNT [split]
//!
//! `split` runs each request's phases as the `waf` plugin's two calls do:
//! phase 1, the transaction suspended, then resumed for phase 2.

#[path = "../tests/crs/requests.rs"]
mod requests;

use std::process::ExitCode;

use portcullis_waf_engine::{EngineMode, Transaction};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, count, split) = match args.as_slice() {
        [kind, count] => (kind, count, false),
        [kind, count, split] if split == "split" => (kind, count, true),
        _ => return usage(),
    };
    let (request, count) = match (kind.as_str(), count.parse::<u32>()) {
        ("benign", Ok(count)) => (requests::benign(), count),
        ("sqli", Ok(count)) => (requests::attack(), count),
        _ => return usage(),
    };
    let crs = requests::crs_dir();
    let rules = match requests::crs_at_pl1(&crs) {
        Ok(rules) => rules,
        Err(error) => {
            eprintln!("loading the CRS: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (head, body) = request;
    let mut blocked = 0;
    for _ in 0..count {
        let mut transaction = Transaction::new(&rules, head.clone(), EngineMode::On);
        transaction.request_headers();
        if split {
            transaction = Transaction::resume(&rules, transaction.suspend());
        }
        transaction.request_body(&body);
        blocked += u32::from(transaction.interruption().is_some());
    }
    println!("{count} requests, {blocked} blocked");
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: run_requests benign|sqli COUNT [split]");
    ExitCode::from(2)
}
