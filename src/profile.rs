//! Load profiles: the spec's four built-ins, custom ones from TOML files, and their validation.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Relative weights of the six activities, as the spec's table lists them.
///
/// How the simulator uses each one (the spec's weights describe a closed loop; ours is an open
/// process model, so some weights become rates and one becomes a probability):
/// * `new_order`: the reference; orders arrive at `orders_per_minute`.
/// * `customer_creation`, `inventory_update`, `order_modification`: arrive at
///   `orders_per_minute × weight / new_order`, following the same peak-hour curve.
/// * `cancellation`: the probability that an order is cancelled while CREATED or PICKING
///   (the spec's "5% chance").
/// * `status_transition`: not drawn; transitions follow from each order's lifecycle (about
///   2.9 per order: see `crate::mix`). A profile file may leave it out: it is then derived as
///   what the other weights leave of 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityWeights {
    pub new_order: f64,
    pub status_transition: f64,
    pub order_modification: f64,
    pub customer_creation: f64,
    pub inventory_update: f64,
    pub cancellation: f64,
}

impl ActivityWeights {
    /// The spec's table: 40 / 30 / 10 / 5 / 10 / 5.
    pub const SPEC: ActivityWeights = ActivityWeights {
        new_order: 0.40,
        status_transition: 0.30,
        order_modification: 0.10,
        customer_creation: 0.05,
        inventory_update: 0.10,
        cancellation: 0.05,
    };

    /// `(field name, value)` in the spec's table order.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("new_order_weight", self.new_order),
            ("status_transition_weight", self.status_transition),
            ("order_modification_weight", self.order_modification),
            ("customer_creation_weight", self.customer_creation),
            ("inventory_update_weight", self.inventory_update),
            ("cancellation_weight", self.cancellation),
        ]
    }

    pub fn sum(&self) -> f64 {
        self.named().iter().map(|(_, w)| w).sum()
    }

    /// Arrivals per order of an activity that arrives in proportion to orders.
    pub fn per_order(&self, weight: f64) -> f64 {
        weight / self.new_order
    }
}

/// One load profile: a target rate, a concurrency bound, a default duration and a mix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadProfile {
    pub name: String,
    pub description: String,
    pub use_case: String,
    pub orders_per_minute: f64,
    pub concurrent_workflows: u32,
    /// Default duration of a run; 0 = open-ended (`start` runs until interrupted, `simulate`
    /// then needs `--duration`). Only a profile file can leave it out.
    pub duration_minutes: u32,
    pub weights: ActivityWeights,
}

/// Why a profile was refused; every variant names the offending field.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{0}` (built-ins: demo, standard, peak, stress)")]
    Unknown(String),
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid {
        file: PathBuf,
        field: String,
        reason: String,
    },
}

const BUILTIN_SOURCE: &str = "built-in profiles";

impl LoadProfile {
    fn builtin(
        name: &str,
        description: &str,
        use_case: &str,
        orders_per_minute: f64,
        concurrent_workflows: u32,
        duration_minutes: u32,
    ) -> LoadProfile {
        LoadProfile {
            name: name.into(),
            description: description.into(),
            use_case: use_case.into(),
            orders_per_minute,
            concurrent_workflows,
            duration_minutes,
            weights: ActivityWeights::SPEC,
        }
    }

    /// The spec's four profiles, in the order `loadgen profiles` lists them.
    pub fn builtins() -> Vec<LoadProfile> {
        vec![
            Self::builtin(
                "demo",
                "Gentle demo activity",
                "Gentle activity for showcasing features and demos",
                5.0,
                10,
                30,
            ),
            Self::builtin(
                "standard",
                "Realistic weekday traffic",
                "Realistic weekday traffic simulation",
                20.0,
                50,
                120,
            ),
            Self::builtin(
                "peak",
                "Peak hour traffic",
                "Peak hour simulation, demonstrates Materialize vs PostgreSQL performance",
                60.0,
                150,
                60,
            ),
            Self::builtin(
                "stress",
                "Stress test",
                "Stress testing to identify bottlenecks and system limits",
                200.0,
                500,
                30,
            ),
        ]
    }

    /// A built-in profile by name.
    pub fn named(name: &str) -> Result<LoadProfile, ProfileError> {
        Self::builtins()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ProfileError::Unknown(name.to_string()))
    }

    /// Loads and validates a custom profile from a TOML file (see `ProfileFile` for the fields).
    pub fn from_file(path: &Path) -> Result<LoadProfile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates a custom profile; `file` is only used in error messages.
    pub fn from_toml(text: &str, file: &Path) -> Result<LoadProfile, ProfileError> {
        let raw: ProfileFile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let profile = raw.into_profile();
        profile.validate(file)?;
        Ok(profile)
    }

    /// Checks the rates and weights; `source` names where the profile came from.
    pub fn validate(&self, source: &Path) -> Result<(), ProfileError> {
        let invalid = |field: &str, reason: String| ProfileError::Invalid {
            file: source.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty".into()));
        }
        if !(self.orders_per_minute.is_finite() && self.orders_per_minute > 0.0) {
            return Err(invalid(
                "orders_per_minute",
                format!("must be a positive number, got {}", self.orders_per_minute),
            ));
        }
        if self.orders_per_minute > 1_000_000.0 {
            return Err(invalid(
                "orders_per_minute",
                format!("at most 1000000, got {}", self.orders_per_minute),
            ));
        }
        if self.concurrent_workflows == 0 {
            return Err(invalid("concurrent_workflows", "must be at least 1".into()));
        }
        if self.concurrent_workflows as usize > crate::units::MAX_CONCURRENCY {
            return Err(invalid(
                "concurrent_workflows",
                format!(
                    "at most {}, got {}",
                    crate::units::MAX_CONCURRENCY,
                    self.concurrent_workflows
                ),
            ));
        }
        for (field, weight) in self.weights.named() {
            if !weight.is_finite() || weight < 0.0 {
                return Err(invalid(
                    field,
                    format!("must be a number >= 0, got {weight}"),
                ));
            }
        }
        if self.weights.new_order <= 0.0 {
            return Err(invalid(
                "new_order_weight",
                "must be > 0: every other rate is relative to orders".into(),
            ));
        }
        if self.weights.cancellation > 1.0 {
            return Err(invalid(
                "cancellation_weight",
                format!(
                    "is the cancellation probability, at most 1, got {}",
                    self.weights.cancellation
                ),
            ));
        }
        let sum = self.weights.sum();
        if (sum - 1.0).abs() > 0.01 {
            return Err(invalid(
                "weights",
                format!("must sum to 1 ± 0.01, they sum to {sum:.4}"),
            ));
        }
        Ok(())
    }

    /// The source label used when validating built-ins.
    pub fn builtin_source() -> &'static Path {
        Path::new(BUILTIN_SOURCE)
    }
}

/// The on-disk shape of a custom profile: the Python tool's `LoadProfile` fields, flat.
///
/// ```toml
/// name = "custom"
/// description = "My custom profile"
/// orders_per_minute = 100
/// concurrent_workflows = 200
/// duration_minutes = 60
/// new_order_weight = 0.50
/// order_modification_weight = 0.10
/// customer_creation_weight = 0.05
/// inventory_update_weight = 0.05
/// cancellation_weight = 0.05
/// ```
/// Omitted weights take the spec's values, except `status_transition_weight`, which has no
/// effect (transitions follow from the lifecycle) and is derived as 1 minus the others; a file
/// that gives it is accepted, and then the weights must sum to 1 as before. Without
/// `duration_minutes` the profile is open-ended: `start` runs until interrupted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    use_case: Option<String>,
    orders_per_minute: f64,
    concurrent_workflows: u32,
    #[serde(default)]
    duration_minutes: u32,
    new_order_weight: Option<f64>,
    status_transition_weight: Option<f64>,
    order_modification_weight: Option<f64>,
    customer_creation_weight: Option<f64>,
    inventory_update_weight: Option<f64>,
    cancellation_weight: Option<f64>,
}

impl ProfileFile {
    fn into_profile(self) -> LoadProfile {
        let spec = ActivityWeights::SPEC;
        let others = self.new_order_weight.unwrap_or(spec.new_order)
            + self
                .order_modification_weight
                .unwrap_or(spec.order_modification)
            + self
                .customer_creation_weight
                .unwrap_or(spec.customer_creation)
            + self
                .inventory_update_weight
                .unwrap_or(spec.inventory_update)
            + self.cancellation_weight.unwrap_or(spec.cancellation);
        // Derived: the validation then finds a sum of 1 unless the others exceed it.
        // Rounded to 1e-6 so that the spec's weights give the spec's 0.30, not 0.2999….
        let derived_transitions = ((1.0 - others).max(0.0) * 1e6).round() / 1e6;
        LoadProfile {
            use_case: self.use_case.unwrap_or_else(|| self.description.clone()),
            name: self.name,
            description: self.description,
            orders_per_minute: self.orders_per_minute,
            concurrent_workflows: self.concurrent_workflows,
            duration_minutes: self.duration_minutes,
            weights: ActivityWeights {
                new_order: self.new_order_weight.unwrap_or(spec.new_order),
                status_transition: self.status_transition_weight.unwrap_or(derived_transitions),
                order_modification: self
                    .order_modification_weight
                    .unwrap_or(spec.order_modification),
                customer_creation: self
                    .customer_creation_weight
                    .unwrap_or(spec.customer_creation),
                inventory_update: self
                    .inventory_update_weight
                    .unwrap_or(spec.inventory_update),
                cancellation: self.cancellation_weight.unwrap_or(spec.cancellation),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadProfile, ProfileError> {
        LoadProfile::from_toml(text, Path::new("my.toml"))
    }

    const BASE: &str = "name = \"custom\"\norders_per_minute = 100\nconcurrent_workflows = 200\nduration_minutes = 60\n";

    #[test]
    fn builtins_match_the_spec() {
        let table: Vec<(String, f64, u32, u32)> = LoadProfile::builtins()
            .into_iter()
            .map(|p| {
                (
                    p.name,
                    p.orders_per_minute,
                    p.concurrent_workflows,
                    p.duration_minutes,
                )
            })
            .collect();
        assert_eq!(
            table,
            vec![
                ("demo".into(), 5.0, 10, 30),
                ("standard".into(), 20.0, 50, 120),
                ("peak".into(), 60.0, 150, 60),
                ("stress".into(), 200.0, 500, 30),
            ]
        );
        for p in LoadProfile::builtins() {
            p.validate(LoadProfile::builtin_source()).unwrap();
            assert_eq!(p.weights, ActivityWeights::SPEC);
        }
    }

    #[test]
    fn unknown_builtin_is_an_error() {
        assert!(matches!(
            LoadProfile::named("turbo"),
            Err(ProfileError::Unknown(_))
        ));
    }

    #[test]
    fn custom_profile_takes_spec_weights_by_default() {
        let p = parse(BASE).unwrap();
        assert_eq!(p.orders_per_minute, 100.0);
        assert_eq!(p.weights, ActivityWeights::SPEC);
    }

    #[test]
    fn negative_weight_names_the_field_and_file() {
        let text = format!("{BASE}inventory_update_weight = -0.1\nnew_order_weight = 0.6\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("my.toml"), "{err}");
        assert!(err.contains("inventory_update_weight"), "{err}");
    }

    #[test]
    fn weights_must_sum_to_one() {
        // Given, the status-transition weight counts in the sum (left out, it is derived).
        let given = format!("{BASE}status_transition_weight = 0.3\n");
        let err = parse(&format!("{given}new_order_weight = 0.6\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sum to 1"), "{err}");
        assert!(err.contains("1.2000"), "{err}");
        // Within the tolerance is fine.
        parse(&format!("{given}new_order_weight = 0.405\n")).unwrap();
    }

    #[test]
    fn the_status_transition_weight_is_derived_when_left_out() {
        let text = format!(
            "{BASE}new_order_weight = 0.5\norder_modification_weight = 0.1\ncustomer_creation_weight = 0.05\ninventory_update_weight = 0.05\ncancellation_weight = 0.05\n"
        );
        let p = parse(&text).unwrap();
        assert!((p.weights.status_transition - 0.25).abs() < 1e-12);
        // Still accepted when given, and then checked with the others.
        let given = parse(&format!("{text}status_transition_weight = 0.25\n")).unwrap();
        assert_eq!(given.weights, p.weights);
        let err = parse(&format!("{text}status_transition_weight = 0.5\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sum to 1"), "{err}");
        // Others over 1 leave nothing to derive: named as the sum.
        let err = parse(&format!("{BASE}new_order_weight = 0.95\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sum to 1"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse(&format!("{BASE}turbo_weight = 0.1\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("turbo_weight"), "{err}");
        assert!(err.contains("my.toml"), "{err}");
    }

    #[test]
    fn a_profile_without_duration_is_open_ended() {
        let p = parse(&BASE.replace("duration_minutes = 60\n", "")).unwrap();
        assert_eq!(p.duration_minutes, 0);
    }

    #[test]
    fn zero_rate_is_refused() {
        let err = parse(&BASE.replace("= 100", "= 0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("orders_per_minute"), "{err}");
    }
}
