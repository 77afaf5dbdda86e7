//! `loadgen world`: snapshot the live API's reference data into a world file for
//! `simulate --world`.

use std::time::Duration;

use crate::cli::WorldArgs;
use crate::world::World;

/// Reads a world from the API (blocking, for commands that run no runtime of their own).
pub fn fetch(
    api_url: &str,
    auth: &crate::cli::AuthArgs,
    timeout: Duration,
    retries: u32,
) -> anyhow::Result<World> {
    let reader = crate::plan::client::api_reader(auth, api_url, timeout, retries)?;
    super::runtime()?.block_on(snapshot(&reader))
}

/// A world snapshot: a server fault past the retries fails the run (1); a malformed or empty
/// world is bad input (2).
pub async fn snapshot(reader: &crate::api::fetch::ApiReader) -> anyhow::Result<World> {
    use crate::api::world::SnapshotError;
    let what = format!("cannot snapshot the world from {}", reader.shown_url());
    match crate::api::world::snapshot(reader).await {
        Ok(world) => Ok(world),
        Err(SnapshotError::Read(err)) => Err(super::read_failure(err, &what)),
        Err(other) => Err(anyhow::Error::new(other).context(what)),
    }
}

/// The world a live run sends into, read with the run's API flags (at least a minute per
/// read: the inventory is large); says what it loaded.
pub async fn snapshot_for_run(api: &crate::cli::ApiArgs) -> anyhow::Result<World> {
    let timeout = api.timeout().max(Duration::from_secs(60));
    let reader = crate::plan::client::api_reader(&api.auth, &api.api_url, timeout, api.retries())?;
    let world = snapshot(&reader).await?;
    crate::outln!(
        "{} Loaded {} customers, {} stores, {} products",
        super::stamp(),
        world.customers.len(),
        world.stores.len(),
        world.products.len()
    );
    Ok(world)
}

pub fn run(args: WorldArgs) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    if let Some(path) = &args.auth.ca_cert {
        inputs.push(("--ca-cert", path.as_path()));
    }
    crate::output::check_paths(&inputs, &[("-o", &args.output)])?;
    crate::output::clean_up_on_signal();
    let world = fetch(&args.api_url, &args.auth, args.timeout, args.retries)?;
    let json = serde_json::to_string_pretty(&world)?;
    if crate::output::is_std_stream(&args.output) {
        crate::outln!("{json}");
    } else {
        crate::output::write_file(&args.output, json.as_bytes())?;
    }
    eprintln!(
        "Loaded {} customers, {} stores, {} products, {} inventory items from {}",
        world.customers.len(),
        world.stores.len(),
        world.products.len(),
        world.inventory.len(),
        crate::units::redact_url(&args.api_url)
    );
    Ok(())
}
