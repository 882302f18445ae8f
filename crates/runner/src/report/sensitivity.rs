//! `sensitivity.csv` of a sweep folder, as `chipmarket analyze` writes it (docs/analysis.md):
//! read whole (one row per KPI and parameter, so it is small) for the sensitivity charts and the
//! "Sensitivity" section of `report.html`. The method is told by the columns: `s1, s1_conf, st,
//! st_conf` (Sobol, from a `saltelli` sweep) or `mu, mu_star, sigma, mu_star_conf` (Morris).

use std::path::Path;

use anyhow::Result;

use crate::error::InputError;
use crate::output::names;
use crate::report::table::{number, Table};

/// The file, in the sweep folder.
pub const FILE: &str = names::SENSITIVITY;

/// Which indices the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Sobol indices: `s1, s1_conf, st, st_conf`.
    Sobol,
    /// Morris measures: `mu, mu_star, sigma, mu_star_conf`.
    Morris,
}

impl Method {
    /// The four value columns, in file order.
    pub fn columns(self) -> [&'static str; 4] {
        match self {
            Method::Sobol => ["s1", "s1_conf", "st", "st_conf"],
            Method::Morris => ["mu", "mu_star", "sigma", "mu_star_conf"],
        }
    }
}

/// One parameter's indices for one KPI: the four value columns ([`Method::columns`] order);
/// `None` where the cell is empty (no indices for that KPI).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamIndices {
    /// The varied path.
    pub param: String,
    /// The four values.
    pub values: [Option<f64>; 4],
}

/// One KPI's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiIndices {
    /// The KPI (a `runs.csv` column).
    pub kpi: String,
    /// Share of the run-to-run variance that is replication noise, if known.
    pub noise_share: Option<f64>,
    /// One entry per varied parameter, in file order.
    pub params: Vec<ParamIndices>,
}

impl KpiIndices {
    /// Has the KPI any index (an analysis that failed leaves the cells empty)?
    pub fn has_values(&self) -> bool {
        self.params.iter().any(|p| p.values.iter().any(Option::is_some))
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    /// Sobol or Morris.
    pub method: Method,
    /// KPIs in file order.
    pub kpis: Vec<KpiIndices>,
}

/// Read `dir/sensitivity.csv`; `Ok(None)` when the folder has none. A damaged file is an
/// input error naming the file, line and column.
pub fn read(dir: &Path) -> Result<Option<Sensitivity>> {
    if !dir.join(FILE).is_file() {
        return Ok(None);
    }
    let mut t = Table::open(dir, FILE)?;
    let method = if t.header.iter().any(|h| h == "st") {
        Method::Sobol
    } else if t.header.iter().any(|h| h == "mu_star") {
        Method::Morris
    } else {
        return Err(InputError::new(format!("{FILE}: neither an \"st\" nor a \"mu_star\" column"))
            .with_hint("remake it with `chipmarket analyze` on the sweep folder")
            .into());
    };
    let (kpi_col, param_col) = (t.col("kpi")?, t.col("param")?);
    let value_cols: Vec<usize> = method.columns().iter().map(|c| t.col(c)).collect::<Result<_>>()?;
    let noise_col = t.header.iter().position(|h| h == "noise_share");
    let mut kpis: Vec<KpiIndices> = Vec::new();
    let mut record = csv::StringRecord::new();
    while t.next(&mut record)? {
        if record.len() != t.header.len() {
            return Err(InputError::new(format!(
                "{FILE}:{}: expected {} cells, found {}",
                Table::line(&record),
                t.header.len(),
                record.len()
            ))
            .into());
        }
        let kpi = &record[kpi_col];
        let mut values = [None; 4];
        for (v, &c) in values.iter_mut().zip(&value_cols) {
            *v = number(&t, &record, c)?;
        }
        let noise = noise_col.map(|c| number(&t, &record, c)).transpose()?.flatten();
        if kpis.last().is_none_or(|k| k.kpi != kpi) {
            if kpis.iter().any(|k| k.kpi == kpi) {
                return Err(InputError::new(format!(
                    "{FILE}:{}: column \"kpi\": the rows of \"{kpi}\" are not together",
                    Table::line(&record)
                ))
                .with_hint("remake it with `chipmarket analyze`")
                .into());
            }
            kpis.push(KpiIndices { kpi: kpi.to_string(), noise_share: noise, params: Vec::new() });
        }
        let k = kpis.last_mut().expect("just pushed");
        k.params.push(ParamIndices { param: record[param_col].to_string(), values });
    }
    Ok(Some(Sensitivity { method, kpis }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        dir
    }

    #[test]
    fn rows_group_by_kpi_and_the_method_follows_the_columns() {
        let dir = folder(
            "kpi,param,method,s1,s1_conf,st,st_conf,noise_share\n\
             a,x,sobol,0.5,0.1,0.6,0.1,0.2\na,y,sobol,0.1,0.05,0.2,0.05,0.2\nb,x,sobol,,,,,\nb,y,sobol,,,,,\n",
        );
        let s = read(dir.path()).unwrap().unwrap();
        assert_eq!(s.method, Method::Sobol);
        assert_eq!(s.kpis.len(), 2);
        assert_eq!(s.kpis[0].noise_share, Some(0.2));
        assert_eq!(s.kpis[0].params[1].values, [Some(0.1), Some(0.05), Some(0.2), Some(0.05)]);
        assert!(s.kpis[0].has_values() && !s.kpis[1].has_values());
        let dir = folder("kpi,param,method,mu,mu_star,sigma,mu_star_conf,noise_share\na,x,morris,-1,1,0,0.1,\n");
        let s = read(dir.path()).unwrap().unwrap();
        assert_eq!((s.method, s.kpis[0].noise_share), (Method::Morris, None));
        assert!(read(tempfile::tempdir().unwrap().path()).unwrap().is_none(), "no file, no section");
    }

    #[test]
    fn a_damaged_file_names_line_and_column() {
        let dir = folder("kpi,param,method,s1,s1_conf,st,st_conf,noise_share\na,x,sobol,0.5,zz,0.6,0.1,\n");
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sensitivity.csv:2") && err.contains("s1_conf") && err.contains("zz"), "{err}");
        let dir =
            folder("kpi,param,method,s1,s1_conf,st,st_conf\na,x,sobol,1,0,1,0\nb,x,sobol,1,0,1,0\na,y,sobol,1,0,1,0\n");
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sensitivity.csv:4") && err.contains("not together"), "{err}");
        let dir = folder("kpi,param,method,other\na,x,y,1\n");
        assert!(read(dir.path()).unwrap_err().to_string().contains("mu_star"));
    }
}
