//! `loadgen health [API_URL]`: probe /health and /ready; exit 0 when both answer 2xx.

use crate::api::health;
use crate::cli::HealthArgs;

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let reader =
        crate::plan::client::api_reader(&args.auth, &args.api_url, args.timeout, args.retries)?;
    let probes = super::runtime()?.block_on(health::check(&reader));
    crate::outln!("FreshMart API: {}", reader.shown_url());
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
        Ok(())
    } else {
        crate::outln!("API health check failed");
        Err(crate::error::CommandError::RunFailed(format!(
            "the API at {} is not healthy",
            reader.shown_url()
        ))
        .into())
    }
}
