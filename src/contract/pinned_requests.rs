//! The bytes of every request of a stress hour, pinned: a regression guard for how events
//! become requests (method, path, body bytes, field order), so that making
//! `RequestContext::requests_for` cheaper cannot change a single byte it sends.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::requests::{ApiRequest, RequestContext};
use crate::cli::{DEFAULT_SEED, DEFAULT_START};
use crate::profile::LoadProfile;
use crate::sim::{SimConfig, Simulation};
use crate::time::{Calendar, SimTime, MS_PER_HOUR};

/// SHA-256 over every request of the stress hour below, rendered twice: as the trace has the
/// ids (no run namespace, no shift) and as `loadgen replay` renders them (run `r-pin`, the
/// timestamps shifted by 30 days and 7 s). Produced by this very test with the code of
/// `src/contract/requests.rs` as it was before the allocation-free bodies (branch `main` at
/// aec8c31, where each triple was a `Triple` of owned `String`s serialised by
/// `serde_json::to_string`), by printing `hex` on the first run. A change here must be a
/// deliberate change of the contract with the API, never a side effect of an optimisation.
const STRESS_HOUR_SHA256: &str = "cddad3a0132266f36ac99d1408536bfb738bb57d6daaba359f004584f29df2ee";
/// How many requests that is (36,557 per rendering), so a failure says whether requests went
/// missing or bytes changed.
const STRESS_HOUR_REQUESTS: usize = 2 * 36_557;

fn stress_hour_events() -> (crate::world::World, Vec<crate::event::Event>, Calendar) {
    let world = crate::world::builtin_world();
    let start = chrono::DateTime::parse_from_rfc3339(DEFAULT_START).expect("RFC 3339");
    let config = SimConfig {
        seed: DEFAULT_SEED,
        profile: LoadProfile::named("stress").expect("built-in profile"),
        start,
        duration: SimTime(MS_PER_HOUR),
    };
    let events = Simulation::new(&world, &config)
        .expect("valid world")
        .collect::<Result<Vec<_>, _>>()
        .expect("simulator invariant");
    (world, events, Calendar::new(start))
}

/// Every field of a request, framed so that no two different request lists hash alike:
/// method, path and body each followed by its length.
fn hash_request(hasher: &mut Sha256, request: &ApiRequest) {
    let mut field = |bytes: &[u8]| {
        hasher.update(bytes);
        hasher.update((bytes.len() as u64).to_le_bytes());
    };
    field(request.method.as_str().as_bytes());
    field(request.path.as_bytes());
    match &request.body {
        Some(body) => field(body.as_bytes()),
        None => hasher.update([0xff]),
    }
}

#[test]
fn every_request_of_a_stress_hour_is_byte_for_byte_the_pinned_one() {
    let (world, events, calendar) = stress_hour_events();
    let world = Arc::new(world);
    let renderings = [
        RequestContext {
            world: world.clone(),
            run_id: None,
            calendar: calendar.clone(),
            shift: chrono::Duration::zero(),
        },
        RequestContext {
            world,
            run_id: Some("r-pin".into()),
            calendar,
            shift: chrono::Duration::days(30) + chrono::Duration::seconds(7),
        },
    ];
    let mut hasher = Sha256::new();
    let mut requests = 0;
    for context in &renderings {
        for event in &events {
            for request in context.requests_for(event) {
                hash_request(&mut hasher, &request);
                requests += 1;
            }
        }
    }
    let hex = format!("{:x}", hasher.finalize());
    assert_eq!(
        (requests, hex.as_str()),
        (STRESS_HOUR_REQUESTS, STRESS_HOUR_SHA256),
        "the requests of the stress hour changed"
    );
}
