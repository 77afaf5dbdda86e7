//! `loadgen health [API_URL]`: probe /health and /ready; exit 0 when both answer 2xx.

use std::process::ExitCode;

use crate::api::health;
use crate::cli::HealthArgs;

pub fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = super::plain_client(&args.auth, args.timeout)?;
    let probes = super::runtime()?.block_on(health::check(&client, &args.api_url));
    crate::outln!("FreshMart API: {}", args.api_url);
    for probe in &probes {
        let ms = probe.latency.as_secs_f64() * 1000.0;
        match &probe.result {
            Ok((status, body)) => {
                crate::outln!("  GET {:<8} {status} in {ms:.1}ms  {body}", probe.path)
            }
            Err(message) => {
                crate::outln!("  GET {:<8} failed after {ms:.1}ms: {message}", probe.path)
            }
        }
    }
    if probes.iter().all(|p| p.healthy()) {
        crate::outln!("API is healthy");
        Ok(ExitCode::SUCCESS)
    } else {
        crate::outln!("API health check failed");
        Ok(ExitCode::from(super::EXIT_FAILED))
    }
}
