//! The ranges of hyper-parameters: every numeric config key is checked where its struct is
//! defined, and a value out of range is a [`KeyError`] naming the key, its value and the
//! range. Non-finite numbers are out of every range.

use std::fmt::Display;

/// A config value out of its range: the dotted key, the value and what it must be; for a
/// bound against another key, that key and its value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{key} must be {expected}{}, not {value}", other.as_ref().map_or(String::new(), |(k, v)| format!(" {k} = {v}")))]
pub struct KeyError {
    /// The key, as the user wrote it (`sac.batch_size`).
    pub key: String,
    /// The value it had.
    pub value: String,
    /// What it must be.
    pub expected: String,
    /// Another key and value it conflicts with, if that is the problem.
    pub other: Option<(String, String)>,
}

impl KeyError {
    /// `key` = `value` is not `expected`.
    pub fn new(key: impl Into<String>, value: impl Display, expected: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.to_string(),
            expected: expected.into(),
            other: None,
        }
    }

    /// The same error for the key inside `table` (`gamma` → `sac.gamma`).
    pub fn within(mut self, table: &str) -> Self {
        self.key = format!("{table}.{}", self.key);
        if let Some((k, _)) = &mut self.other {
            *k = format!("{table}.{k}");
        }
        self
    }

    /// The keys involved, the one the error is about first.
    pub fn keys(&self) -> impl Iterator<Item = &str> + Clone {
        std::iter::once(self.key.as_str()).chain(self.other.as_ref().map(|(k, _)| k.as_str()))
    }
}

/// The most critic steps per actor step (SAC also takes that many actor steps at once).
pub const MAX_POLICY_FREQUENCY: u64 = 1000;

/// `lo ≤ v ≤ hi`, finite.
pub fn between(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), KeyError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(KeyError::new(key, v, format!("between {lo} and {hi}")))
    }
}

/// Finite and `> 0`.
pub fn positive(key: &str, v: f64) -> Result<(), KeyError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(KeyError::new(key, v, "a finite number > 0"))
    }
}

/// `0 < v ≤ hi`.
pub fn positive_at_most(key: &str, v: f64, hi: f64) -> Result<(), KeyError> {
    if v.is_finite() && v > 0.0 && v <= hi {
        Ok(())
    } else {
        Err(KeyError::new(key, v, format!("> 0 and at most {hi}")))
    }
}

/// Finite and `≥ 0`.
pub fn non_negative(key: &str, v: f64) -> Result<(), KeyError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(KeyError::new(key, v, "a finite number ≥ 0"))
    }
}

/// An integer `≥ min`.
pub fn at_least<T: PartialOrd + Display + Copy>(key: &str, v: T, min: T) -> Result<(), KeyError> {
    if v >= min {
        Ok(())
    } else {
        Err(KeyError::new(key, v, format!("at least {min}")))
    }
}

/// An integer `lo ≤ v ≤ hi`.
pub fn within<T: PartialOrd + Display + Copy>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), KeyError> {
    if lo <= v && v <= hi {
        Ok(())
    } else {
        Err(KeyError::new(key, v, format!("between {lo} and {hi}")))
    }
}

/// Hidden layer widths: each at least 1.
pub fn widths(key: &str, hidden: &[i64]) -> Result<(), KeyError> {
    if hidden.iter().all(|&h| h >= 1) {
        Ok(())
    } else {
        Err(KeyError::new(
            key,
            format!("{hidden:?}"),
            "a list of layer widths, each at least 1",
        ))
    }
}

/// Both finite and `lo < hi`; the error names the bound that is wrong (`hi` when it is
/// not finite).
pub fn ordered(key_lo: &str, lo: f64, key_hi: &str, hi: f64) -> Result<(), KeyError> {
    if !hi.is_finite() {
        Err(KeyError::new(key_hi, hi, "a finite number"))
    } else if lo.is_finite() && lo < hi {
        Ok(())
    } else {
        Err(KeyError {
            other: Some((key_hi.to_owned(), hi.to_string())),
            ..KeyError::new(key_lo, lo, "finite and below")
        })
    }
}

/// The checks every off-policy agent's table shares: widths, γ, τ, batch and buffer sizes.
pub fn common(
    hidden: &[i64],
    gamma: f64,
    tau: f64,
    batch_size: i64,
    buffer_size: usize,
) -> Result<(), KeyError> {
    widths("hidden", hidden)?;
    between("gamma", gamma, 0.0, 1.0)?;
    positive_at_most("tau", tau, 1.0)?;
    at_least("batch_size", batch_size, 1)?;
    at_least("buffer_size", buffer_size, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_out_of_every_range() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(between("x", v, f64::MIN, f64::MAX).is_err());
            assert!(positive("x", v).is_err());
            assert!(non_negative("x", v).is_err());
            assert!(ordered("lo", v, "hi", 1.0).is_err());
        }
        assert!(between("x", 1.0, 0.0, 1.0).is_ok());
        assert_eq!(
            between("gamma", 1.5, 0.0, 1.0)
                .unwrap_err()
                .within("sac")
                .to_string(),
            "sac.gamma must be between 0 and 1, not 1.5"
        );
    }
}
