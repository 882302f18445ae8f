//! Batch machinery of `chipmarket sweep` and `merge`: the ordered parallel pool (`pool`), the
//! sweep's output folder with its resume protocol (`outdir`), the rows of `runs.csv` and their
//! checks (`rows`), the per-point statistics of `points.csv` (`stats`), where a sharded sweep stands (`survey`), and
//! shard slices ([`Shard`]).

pub mod outdir;
pub mod pool;
pub mod rows;
pub mod stats;
pub mod survey;

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// `shard.toml`: which slice of the sweep a shard folder holds, for `chipmarket merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// `K/N`.
    pub shard: String,
    /// First point of the slice.
    pub first_point: u64,
    /// One past the last point of the slice.
    pub end_point: u64,
    /// Points of the whole sweep.
    pub points: u64,
    /// Replications per point.
    pub replications: u64,
    /// SHA-256 of the whole design (every point's seed and values, [`rows::design_sha256`]),
    /// which `merge` matches against the design it expands itself.
    pub design_sha256: String,
    /// SHA-256 of the shard's `runs.csv` as it was written, which `merge` and `--resume`
    /// verify: a row changed since the shard finished refuses the shard.
    pub runs_sha256: String,
}

impl ShardFile {
    /// The same slice of the same design, whatever the rows' hash.
    pub fn same_slice(&self, other: &ShardFile) -> bool {
        ShardFile { runs_sha256: String::new(), ..self.clone() }
            == ShardFile { runs_sha256: String::new(), ..other.clone() }
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        format!(
            "# Shard {} of a sweep (points {} to {} of {}); `chipmarket merge` joins the shards.\n{}",
            self.shard,
            self.first_point,
            self.end_point.saturating_sub(1),
            self.points,
            toml::to_string(self).expect("a shard file always serialises")
        )
    }
}

/// Slice `k` of `n` of a sweep (1-based), as in `--shard 2/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1 to `n`.
    pub k: u32,
    /// How many slices.
    pub n: u32,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, InputError> {
        let bad = || {
            InputError::new(format!("--shard: expected K/N with 1 <= K <= N, such as 2/8, found \"{text}\""))
                .with_hint("shard K of N runs the K-th of N equal slices of the sweep's points")
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// The points of this slice out of `n_points`: contiguous, whole points, the slices of
    /// 1..=n together covering every point once.
    pub fn points(&self, n_points: usize) -> Result<Range<usize>, InputError> {
        if self.n as usize > n_points {
            return Err(InputError::new(format!(
                "--shard {self}: the sweep has {n_points} point(s), too few for {} shards",
                self.n
            ))
            .with_hint(format!("use at most {n_points} shards; a shard runs whole points")));
        }
        let at = |k: u32| (u128::from(k) * n_points as u128 / u128::from(self.n)) as usize;
        Ok(at(self.k - 1)..at(self.k))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_cover_every_point_once() {
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { k: 2, n: 8 });
        for bad in ["0/4", "5/4", "x/4", "2", "2/", "/2", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        for n_points in [1usize, 2, 7, 10, 101] {
            for n in 1..=n_points.min(9) as u32 {
                let mut next = 0;
                for k in 1..=n {
                    let r = Shard { k, n }.points(n_points).unwrap();
                    assert_eq!(r.start, next);
                    assert!(!r.is_empty());
                    next = r.end;
                }
                assert_eq!(next, n_points);
            }
        }
        assert!(Shard { k: 1, n: 3 }.points(2).is_err());
    }
}
