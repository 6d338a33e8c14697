//! The Python binding (`rust_core._native`): thin wrappers over the pure Rust API.
//! Every Rust error becomes a `ValueError` in [`to_py_err`], and nowhere else.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use smallvec::SmallVec;

use crate::consensus::{self, Options};
use crate::error::Error;
use crate::kappa;
use crate::ratelimit::{self, Decision, Quota, RateLimiter};
use crate::text;

/// The one place where Rust errors cross into Python.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature `map_err` takes: errors are handed over by value"
)]
fn to_py_err(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn ns_to_ms(ns: u64) -> u64 {
    ns.div_ceil(1_000_000)
}

fn clock(now_ns: Option<i64>) -> Result<u64, Error> {
    match now_ns {
        None => Ok(ratelimit::monotonic_ns()),
        Some(t) => u64::try_from(t)
            .map_err(|_| Error::InvalidCheck(format!("now_ns must be >= 0, got {t}"))),
    }
}

fn cost_of(cost: i64) -> Result<u64, Error> {
    u64::try_from(cost)
        .ok()
        .filter(|c| *c >= 1)
        .ok_or_else(|| Error::InvalidCheck(format!("cost must be >= 1, got {cost}")))
}

#[pyclass(frozen, module = "rust_core._native", name = "Quota")]
struct PyQuota {
    inner: Quota,
}

#[pymethods]
impl PyQuota {
    #[new]
    #[pyo3(signature = (rate, burst, period_s = 1.0))]
    fn new(rate: f64, burst: i64, period_s: f64) -> PyResult<Self> {
        let burst = u64::try_from(burst).unwrap_or(0);
        Quota::new(rate, burst, period_s)
            .map(|inner| Self { inner })
            .map_err(to_py_err)
    }
    #[getter]
    fn rate(&self) -> f64 {
        self.inner.rate()
    }
    #[getter]
    fn burst(&self) -> u64 {
        self.inner.burst()
    }
    #[getter]
    fn period_s(&self) -> f64 {
        self.inner.period_s()
    }
    #[getter]
    fn emission_interval_ns(&self) -> u64 {
        self.inner.emission_interval_ns()
    }
    fn __repr__(&self) -> String {
        format!(
            "Quota(rate={}, burst={}, period_s={})",
            self.inner.rate(),
            self.inner.burst(),
            self.inner.period_s()
        )
    }
}

// A free list: a Decision is made and dropped on every check.
#[pyclass(frozen, freelist = 64, module = "rust_core._native", name = "Decision")]
struct PyDecision {
    #[pyo3(get)]
    allowed: bool,
    #[pyo3(get)]
    remaining: u64,
    #[pyo3(get)]
    retry_after_ms: u64,
    #[pyo3(get)]
    reset_after_ms: u64,
    #[pyo3(get)]
    rule: Option<Py<PyString>>,
    #[pyo3(get)]
    key: Option<Py<PyString>>,
}

#[pymethods]
impl PyDecision {
    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, remaining={}, retry_after_ms={}, reset_after_ms={}, rule={}, key={})",
            if self.allowed { "True" } else { "False" },
            self.remaining,
            self.retry_after_ms,
            self.reset_after_ms,
            py_repr(self.rule.as_ref()),
            py_repr(self.key.as_ref()),
        )
    }
}

fn py_repr(s: Option<&Py<PyString>>) -> String {
    s.map_or_else(|| "None".to_owned(), |s| format!("{:?}", s.to_string()))
}

/// The Python decision; `pair(i)` names the i-th checked (rule, key).
fn decision<'a, 'py: 'a>(
    d: Decision,
    pair: impl Fn(usize) -> (&'a Bound<'py, PyString>, &'a Bound<'py, PyString>),
) -> PyDecision {
    let refused = d.refused.map(pair);
    PyDecision {
        allowed: d.allowed,
        remaining: d.remaining,
        retry_after_ms: ns_to_ms(d.retry_after_ns),
        reset_after_ms: ns_to_ms(d.reset_after_ns),
        rule: refused.map(|(r, _)| r.clone().unbind()),
        key: refused.map(|(_, k)| k.clone().unbind()),
    }
}

#[pyclass(frozen, module = "rust_core._native", name = "RateLimiter")]
struct PyRateLimiter {
    inner: RateLimiter,
}

type Pairs<'py> = SmallVec<[(Bound<'py, PyString>, Bound<'py, PyString>); 4]>;

fn pairs_of<'py>(checks: &Bound<'py, PyAny>) -> PyResult<Pairs<'py>> {
    let pair = |item: Bound<'py, PyAny>| -> PyResult<(Bound<'py, PyString>, Bound<'py, PyString>)> {
        let t = item
            .cast_into::<PyTuple>()
            .map_err(|_| PyTypeError::new_err("each check must be a (rule, key) tuple"))?;
        if t.len() != 2 {
            return Err(PyTypeError::new_err(
                "each check must be a (rule, key) tuple of two strings",
            ));
        }
        let rule = t
            .get_item(0)?
            .cast_into::<PyString>()
            .map_err(|_| PyTypeError::new_err("rule must be a str"))?;
        let key = t
            .get_item(1)?
            .cast_into::<PyString>()
            .map_err(|_| PyTypeError::new_err("key must be a str"))?;
        Ok((rule, key))
    };
    let mut out = Pairs::new();
    if let Ok(list) = checks.cast::<PyList>() {
        for item in list.iter() {
            out.push(pair(item)?);
        }
    } else if let Ok(tuple) = checks.cast::<PyTuple>() {
        for item in tuple.iter() {
            out.push(pair(item)?);
        }
    } else if checks.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "checks must be a sequence of (rule, key) tuples, not a str",
        ));
    } else {
        for item in checks.try_iter()? {
            out.push(pair(item?)?);
        }
    }
    Ok(out)
}

impl PyRateLimiter {
    fn run(
        &self,
        pairs: &[(Bound<'_, PyString>, Bound<'_, PyString>)],
        cost: i64,
        now_ns: Option<i64>,
        charge: bool,
    ) -> PyResult<PyDecision> {
        let mut strs: SmallVec<[(&str, &str); 4]> = SmallVec::new();
        for (r, k) in pairs {
            strs.push((r.to_str()?, k.to_str()?));
        }
        let now = clock(now_ns).map_err(to_py_err)?;
        let d = if charge {
            let cost = cost_of(cost).map_err(to_py_err)?;
            self.inner.check_all(&strs, cost, now)
        } else {
            self.inner.peek(strs[0].0, strs[0].1, now)
        }
        .map_err(to_py_err)?;
        Ok(decision(d, |i| (&pairs[i].0, &pairs[i].1)))
    }
}

#[pymethods]
impl PyRateLimiter {
    #[new]
    #[pyo3(signature = (max_keys = 100_000))]
    fn new(max_keys: i64) -> PyResult<Self> {
        let max_keys = usize::try_from(max_keys).unwrap_or(0);
        RateLimiter::new(max_keys)
            .map(|inner| Self { inner })
            .map_err(to_py_err)
    }

    fn set_rule(&self, name: &str, quota: &Bound<'_, PyQuota>) {
        self.inner.set_rule(name, quota.get().inner);
    }

    fn rules(&self) -> Vec<String> {
        self.inner.rules()
    }

    #[pyo3(signature = (rule, key, cost = 1, now_ns = None))]
    fn check<'py>(
        &self,
        rule: &Bound<'py, PyString>,
        key: &Bound<'py, PyString>,
        cost: i64,
        now_ns: Option<i64>,
    ) -> PyResult<PyDecision> {
        // The hot path: borrowed strings, one clock read, no intermediate collections.
        let (r, k) = (rule.to_str()?, key.to_str()?);
        let now = clock(now_ns).map_err(to_py_err)?;
        let cost = cost_of(cost).map_err(to_py_err)?;
        let d = self.inner.check(r, k, cost, now).map_err(to_py_err)?;
        Ok(decision(d, |_| (rule, key)))
    }

    #[pyo3(signature = (checks, cost = 1, now_ns = None))]
    fn check_all(
        &self,
        checks: &Bound<'_, PyAny>,
        cost: i64,
        now_ns: Option<i64>,
    ) -> PyResult<PyDecision> {
        let pairs = pairs_of(checks)?;
        self.run(&pairs, cost, now_ns, true)
    }

    #[pyo3(signature = (rule, key, now_ns = None))]
    fn peek<'py>(
        &self,
        rule: Bound<'py, PyString>,
        key: Bound<'py, PyString>,
        now_ns: Option<i64>,
    ) -> PyResult<PyDecision> {
        self.run(&[(rule, key)], 1, now_ns, false)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn max_keys(&self) -> usize {
        self.inner.max_keys()
    }

    fn __repr__(&self) -> String {
        format!(
            "RateLimiter(max_keys={}, rules={:?}, tracked={})",
            self.inner.max_keys(),
            self.inner.rules(),
            self.inner.len()
        )
    }
}

#[pyclass(frozen, module = "rust_core._native", name = "Cluster")]
struct PyCluster {
    #[pyo3(get)]
    members: Vec<usize>,
    #[pyo3(get)]
    representative: usize,
    #[pyo3(get)]
    weight: f64,
    #[pyo3(get)]
    share: f64,
}

#[pymethods]
impl PyCluster {
    fn __repr__(&self) -> String {
        format!(
            "Cluster(members={:?}, representative={}, weight={}, share={})",
            self.members, self.representative, self.weight, self.share
        )
    }
}

#[pyclass(frozen, module = "rust_core._native", name = "Claim")]
struct PyClaim {
    #[pyo3(get)]
    text: String,
    #[pyo3(get)]
    supporters: Vec<usize>,
}

#[pymethods]
impl PyClaim {
    fn __repr__(&self) -> String {
        format!(
            "Claim(text={:?}, supporters={:?})",
            self.text, self.supporters
        )
    }
}

#[pyclass(frozen, module = "rust_core._native", name = "ConsensusReport")]
struct PyConsensusReport {
    report: consensus::Report,
}

#[pymethods]
impl PyConsensusReport {
    #[getter]
    fn signal(&self) -> &'static str {
        self.report.signal.as_str()
    }
    #[getter]
    fn threshold(&self) -> f64 {
        self.report.threshold
    }
    #[getter]
    fn clusters(&self) -> Vec<PyCluster> {
        self.report
            .clusters
            .iter()
            .map(|c| PyCluster {
                members: c.members.clone(),
                representative: c.representative,
                weight: c.weight,
                share: c.share,
            })
            .collect()
    }
    #[getter]
    fn consensus(&self) -> Option<usize> {
        self.report.consensus
    }
    #[getter]
    fn agreement(&self) -> f64 {
        self.report.agreement
    }
    #[getter]
    fn entropy(&self) -> f64 {
        self.report.entropy
    }
    #[getter]
    fn similarity(&self) -> Vec<Vec<f64>> {
        self.report.similarity.clone()
    }
    #[getter]
    fn key_points(&self) -> Vec<PyClaim> {
        claims(&self.report.key_points)
    }
    #[getter]
    fn dissent(&self) -> Vec<PyClaim> {
        claims(&self.report.dissent)
    }
    fn __repr__(&self) -> String {
        format!(
            "ConsensusReport(signal={:?}, clusters={}, consensus={}, agreement={:.3}, entropy={:.3})",
            self.report.signal.as_str(),
            self.report.clusters.len(),
            self.report.consensus.map_or_else(|| "None".to_owned(), |c| c.to_string()),
            self.report.agreement,
            self.report.entropy
        )
    }
}

fn claims(c: &[consensus::Claim]) -> Vec<PyClaim> {
    c.iter()
        .map(|c| PyClaim {
            text: c.text.clone(),
            supporters: c.supporters.clone(),
        })
        .collect()
}

#[pyfunction(name = "consensus")]
#[expect(
    clippy::needless_pass_by_value,
    reason = "pyo3 extracts Python lists into owned values, which the detached closure reads"
)]
#[pyo3(signature = (answers, *, weights = None, verdicts = None, embeddings = None, agreement = None, threshold = None))]
fn py_consensus(
    py: Python<'_>,
    answers: Vec<String>,
    weights: Option<Vec<f64>>,
    verdicts: Option<Vec<Option<String>>>,
    embeddings: Option<Vec<Vec<f64>>>,
    agreement: Option<Vec<Vec<f64>>>,
    threshold: Option<f64>,
) -> PyResult<PyConsensusReport> {
    let report = py.detach(|| {
        let answers: Vec<&str> = answers.iter().map(String::as_str).collect();
        let verdicts: Option<Vec<Option<&str>>> = verdicts
            .as_ref()
            .map(|v| v.iter().map(|x| x.as_deref()).collect());
        let options = Options {
            weights: weights.as_deref(),
            verdicts: verdicts.as_deref(),
            embeddings: embeddings.as_deref(),
            agreement: agreement.as_deref(),
            threshold,
        };
        consensus::consensus(&answers, &options)
    });
    report
        .map(|report| PyConsensusReport { report })
        .map_err(to_py_err)
}

#[pyfunction]
#[expect(
    clippy::needless_pass_by_value,
    reason = "owned copies: the GIL is released while they are read"
)]
fn text_similarity(py: Python<'_>, a: String, b: String) -> f64 {
    py.detach(|| text::text_similarity(&a, &b))
}

#[pyfunction]
#[expect(
    clippy::needless_pass_by_value,
    reason = "pyo3 extracts a list of lists only into owned Vecs"
)]
fn fleiss_kappa(counts: Vec<Vec<i64>>) -> PyResult<f64> {
    let mut rows: Vec<Vec<u64>> = Vec::with_capacity(counts.len());
    for (s, row) in counts.iter().enumerate() {
        let converted: Result<Vec<u64>, Error> = row
            .iter()
            .map(|&c| {
                u64::try_from(c)
                    .map_err(|_| Error::InvalidInput(format!("row {s} holds a negative count {c}")))
            })
            .collect();
        rows.push(converted.map_err(to_py_err)?);
    }
    kappa::fleiss_kappa(&rows).map_err(to_py_err)
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyQuota>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyRateLimiter>()?;
    m.add_class::<PyCluster>()?;
    m.add_class::<PyClaim>()?;
    m.add_class::<PyConsensusReport>()?;
    m.add_function(wrap_pyfunction!(py_consensus, m)?)?;
    m.add_function(wrap_pyfunction!(text_similarity, m)?)?;
    m.add_function(wrap_pyfunction!(fleiss_kappa, m)?)?;
    Ok(())
}
