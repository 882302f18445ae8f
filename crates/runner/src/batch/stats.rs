//! `points.csv`: for each point and KPI, the mean, standard deviation, 5 %, 50 % and 95 %
//! quantiles and count of its replications, computed by streaming `runs.csv` one point at a time
//! (memory: replications x KPIs, whatever the number of runs).
//!
//! Definitions: `sd` is the sample standard deviation (n - 1; empty when n < 2); quantiles
//! interpolate linearly between order statistics (R's and NumPy's default, "type 7"); empty KPI
//! cells (a KPI with no value, or a failed run) are left out, so `n` can be below the number of
//! replications. Sums run in replication order, so the figures never depend on the thread count.

use std::io::{Read, Write};

use anyhow::{bail, Context, Result};

use crate::output::csv::opt;

/// Summary statistics of one KPI at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub sd: Option<f64>,
    /// 5 % quantile.
    pub p05: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 95 % quantile.
    pub p95: Option<f64>,
    /// Number of values.
    pub n: usize,
}

/// The statistics of `values` (in replication order; sorted in place afterwards).
pub fn stats(values: &mut [f64]) -> Stats {
    let n = values.len();
    if n == 0 {
        return Stats { mean: None, sd: None, p05: None, p50: None, p95: None, n };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (n > 1).then(|| (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt());
    values.sort_by(f64::total_cmp);
    Stats {
        mean: Some(mean),
        sd,
        p05: Some(quantile(values, 0.05)),
        p50: Some(quantile(values, 0.50)),
        p95: Some(quantile(values, 0.95)),
        n,
    }
}

/// Quantile `p` of non-empty sorted values, interpolating linearly (type 7).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Read `runs.csv` (header, then rows grouped by point) and write `points.csv`: point, the
/// `n_params` parameter columns, kpi, mean, sd, p05, p50, p95, n, one row per point and KPI.
pub fn points_csv(runs: impl Read, out: impl Write, n_params: usize) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(runs);
    let header = reader.headers().context("failed to read the header of the runs")?.clone();
    let first_kpi = 3 + n_params;
    if header.len() < first_kpi || &header[0] != "point" {
        bail!("the runs file has an unexpected header: {}", header.iter().collect::<Vec<_>>().join(","));
    }
    let kpis: Vec<String> = header.iter().skip(first_kpi).map(str::to_string).collect();
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(out);
    let mut cols = vec!["point".to_string()];
    cols.extend(header.iter().skip(3).take(n_params).map(str::to_string));
    cols.extend(["kpi", "mean", "sd", "p05", "p50", "p95", "n"].map(str::to_string));
    writer.write_record(crate::output::csv::safe(&cols))?;

    let mut current: Option<(String, Vec<String>)> = None;
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); kpis.len()];
    let flush = |point: &(String, Vec<String>), values: &mut Vec<Vec<f64>>, w: &mut csv::Writer<_>| -> Result<()> {
        for (kpi, vals) in kpis.iter().zip(values.iter_mut()) {
            let s = stats(vals);
            let mut row = vec![point.0.clone()];
            row.extend(point.1.iter().cloned());
            row.push(kpi.clone());
            row.extend([opt(s.mean), opt(s.sd), opt(s.p05), opt(s.p50), opt(s.p95), s.n.to_string()]);
            w.write_record(crate::output::csv::safe(&row))?;
            vals.clear();
        }
        Ok(())
    };
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).context("failed to read the runs")? {
        if record.len() != header.len() {
            bail!("a row of the runs has {} cells, expected {}", record.len(), header.len());
        }
        if current.as_ref().is_none_or(|(p, _)| p != &record[0]) {
            if let Some(point) = &current {
                flush(point, &mut values, &mut writer)?;
            }
            current = Some((record[0].to_string(), record.iter().skip(3).take(n_params).map(str::to_string).collect()));
        }
        for (j, cell) in record.iter().skip(first_kpi).enumerate() {
            if !cell.is_empty() {
                let x: f64 = cell.parse().with_context(|| format!("not a number in the runs: \"{cell}\""))?;
                values[j].push(x);
            }
        }
    }
    if let Some(point) = &current {
        flush(point, &mut values, &mut writer)?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_hand_computed_values() {
        let s = stats(&mut [4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.mean, Some(2.5));
        assert_eq!(s.sd, Some((5.0f64 / 3.0).sqrt()));
        assert_eq!(s.p50, Some(2.5));
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(s.p05, 1.15) && close(s.p95, 3.85), "{s:?}");
        assert_eq!(s.n, 4);
        let one = stats(&mut [7.0]);
        assert_eq!((one.mean, one.sd, one.p05, one.p95, one.n), (Some(7.0), None, Some(7.0), Some(7.0), 1));
        assert_eq!(stats(&mut []).mean, None);
    }

    #[test]
    fn points_are_summarised_from_the_runs_one_point_at_a_time() {
        let runs = "point,replication,seed,param_a.b,k1,k2\n\
                    0,0,7,0.5,1,\n0,1,7,0.5,3,10\n1,0,7,0.75,2,\n1,1,7,0.75,,\n";
        let mut out = Vec::new();
        points_csv(runs.as_bytes(), &mut out, 1).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "point,param_a.b,kpi,mean,sd,p05,p50,p95,n\n\
             0,0.5,k1,2,1.4142135623731,1.1,2,2.9,2\n\
             0,0.5,k2,10,,10,10,10,1\n\
             1,0.75,k1,2,,2,2,2,1\n\
             1,0.75,k2,,,,,,0\n"
        );
    }
}
