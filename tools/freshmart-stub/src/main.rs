//! `freshmart-stub`: runs the stub until Ctrl+C, then prints its counters on stderr.

use clap::Parser;
use freshmart_stub::{Latency, StubConfig};

/// A FreshMart-compatible HTTP server with injectable faults.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Latency before each answer: 0, 5ms, fixed:5ms, uniform:1ms..20ms, exp:10ms.
    #[arg(long, default_value = "0")]
    latency: Latency,
    /// Fraction of requests answered 503 without effect.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    error_rate: f64,
    /// Fraction of requests whose connection is dropped without an answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    reset_rate: f64,
    /// Most requests processed at once (others queue); unlimited if absent.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    capacity: Option<u32>,
    /// Seed of the fault and latency draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep a log of every request (its size is printed at exit).
    #[arg(long)]
    record: bool,
    /// Fraction of requests applied and then answered --late-by late (a client that times
    /// out first does not know the write happened).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    late_rate: f64,
    /// How late a --late-rate answer comes, e.g. 35s.
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    late_by: std::time::Duration,
    /// Writes become visible to reads only this many milliseconds after they were answered,
    /// as behind a lagging read replica or view.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    visibility_delay: u64,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 35s or 2m"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "s" | "" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        _ => Err(format!(
            "{text:?} is not a duration such as 500ms, 35s or 2m"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{text:?} is not a fraction between 0 and 1")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = StubConfig {
        latency: args.latency,
        error_rate: args.error_rate,
        reset_rate: args.reset_rate,
        capacity: args.capacity.map(|c| c as usize),
        record_requests: args.record,
        seed: args.seed,
        late_rate: args.late_rate,
        late_by: args.late_by,
        visibility_delay: std::time::Duration::from_millis(args.visibility_delay),
    };
    let stub = freshmart_stub::spawn(&args.addr, config).await?;
    println!("freshmart-stub listening on {}", stub.url());
    tokio::signal::ctrl_c().await?;
    let stats = stub.stats();
    if args.record {
        eprintln!("recorded {} requests", stub.requests().len());
    }
    eprintln!("{}", serde_json::to_string_pretty(&stats)?);
    stub.shutdown().await;
    Ok(())
}
