//! `loadgen world`: snapshot the live API's reference data into a world file for
//! `simulate --world`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::WorldArgs;
use crate::world::World;

/// Reads a world from the API (blocking, for commands that run no runtime of their own).
pub fn fetch(
    api_url: &str,
    auth: &crate::cli::AuthArgs,
    timeout: Duration,
) -> anyhow::Result<World> {
    let client = super::plain_client(auth, timeout)?;
    super::runtime()?
        .block_on(crate::api::world::snapshot(&client, api_url))
        .with_context(|| format!("cannot snapshot the world from {api_url}"))
}

pub fn is_unreachable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        use crate::api::{reads::ReadError, world::SnapshotError};
        matches!(
            cause.downcast_ref::<ReadError>(),
            Some(ReadError::Http { .. })
        ) || matches!(
            cause.downcast_ref::<SnapshotError>(),
            Some(SnapshotError::Read(ReadError::Http { .. }))
        )
    })
}

pub fn run(args: WorldArgs) -> anyhow::Result<ExitCode> {
    let mut inputs = Vec::new();
    if let Some(path) = &args.auth.ca_cert {
        inputs.push(("--ca-cert", path.as_path()));
    }
    crate::output::check_paths(&inputs, &[("-o", &args.output)])?;
    crate::output::clean_up_on_signal();
    let world = match fetch(&args.api_url, &args.auth, args.timeout) {
        Ok(world) => world,
        // Unreachable is a failed run (1); a malformed or empty world is bad input (2).
        Err(err) if is_unreachable(&err) => {
            eprintln!("error: {err:#}");
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
        Err(err) => return Err(err),
    };
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
        args.api_url
    );
    Ok(ExitCode::SUCCESS)
}
