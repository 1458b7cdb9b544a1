//! Budgets on single recordings: `--assert 'Enrich.busy < 0.8'`,
//! `--assert 'Sink.records_per_s > 50000'`, `--assert 'throughput >= 40k'`.

use super::limits::parse_key;
use super::report::{BudgetResult, Metric};

/// A parsed `--assert` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The expression as given.
    pub expression: String,
    /// The task; `None` for the job-level throughput.
    pub task: Option<String>,
    /// The metric.
    pub metric: Metric,
    /// The comparison.
    pub operator: Operator,
    /// The bound, in the metric's unit (ratios 0–1, CPU per record in µs).
    pub bound: f64,
}

/// A comparison operator of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

impl Operator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Greater => ">",
            Operator::GreaterOrEqual => ">=",
        }
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Operator::Less => value < bound,
            Operator::LessOrEqual => value <= bound,
            Operator::Greater => value > bound,
            Operator::GreaterOrEqual => value >= bound,
        }
    }
}

/// An `--assert` expression that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid budget '{expression}': {reason}")]
pub struct BudgetError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong, and the expected form.
    pub reason: String,
}

impl Budget {
    /// Parses `[TASK.]METRIC OP NUMBER`, where OP is `<`, `<=`, `>` or `>=` and NUMBER may end in
    /// `%` (divided by 100), `k` (×1,000) or `M` (×1,000,000).
    pub fn parse(expression: &str) -> Result<Budget, BudgetError> {
        let fail = |reason: String| BudgetError {
            expression: expression.to_owned(),
            reason,
        };
        let (at, operator, len) = [
            ("<=", Operator::LessOrEqual),
            (">=", Operator::GreaterOrEqual),
            ("<", Operator::Less),
            (">", Operator::Greater),
        ]
        .into_iter()
        .filter_map(|(symbol, op)| expression.find(symbol).map(|at| (at, op, symbol.len())))
        .min_by_key(|&(at, op, _)| (at, op != Operator::LessOrEqual && op != Operator::GreaterOrEqual))
        .ok_or_else(|| {
            fail("expected [TASK.]METRIC OP NUMBER with OP one of < <= > >=, e.g. 'Enrich.busy < 0.8'".to_owned())
        })?;
        let (task, metric) = parse_key(expression[..at].trim()).map_err(fail)?;
        if task.is_none() && metric != Metric::Throughput {
            return Err(fail(format!(
                "{} is a metric of a task: name the task, e.g. 'Enrich.{} {} ...' (only throughput is the job's)",
                metric.name(),
                metric.name(),
                operator.symbol()
            )));
        }
        let number = expression[at + len..].trim();
        if number.is_empty() {
            return Err(fail(format!(
                "no number after '{}' (examples: 0.8, 80%, 50000, 50k)",
                operator.symbol()
            )));
        }
        let bound = parse_number(number).map_err(fail)?;
        Ok(Budget {
            expression: expression.to_owned(),
            task,
            metric,
            operator,
            bound,
        })
    }

    /// Evaluates the budget on `value` (`None`: the metric is undefined in the recording, which
    /// fails the budget).
    pub fn evaluate(&self, value: Option<f64>) -> BudgetResult {
        BudgetResult {
            expression: self.expression.clone(),
            task: self.task.clone(),
            metric: self.metric,
            operator: self.operator.symbol().to_owned(),
            bound: self.bound,
            value,
            passed: value.is_some_and(|v| self.operator.holds(v, self.bound)),
            inconclusive: None,
        }
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix('%') {
        (n, 0.01)
    } else if let Some(n) = text.strip_suffix('k') {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('M') {
        (n, 1e6)
    } else {
        (text, 1.0)
    };
    match number.trim().replace('_', "").parse::<f64>() {
        Ok(n) if (n * scale).is_finite() => Ok(n * scale),
        Ok(n) if !n.is_nan() => Err(format!("'{text}' is too large a bound")),
        _ => Err(format!(
            "'{text}' is not a number (examples: 0.8, 80%, 50000, 50k)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_the_docs() {
        let b = Budget::parse("Enrich.busy < 0.8").unwrap();
        assert_eq!(
            (b.task.as_deref(), b.metric, b.operator, b.bound),
            (Some("Enrich"), Metric::Busy, Operator::Less, 0.8)
        );
        let b = Budget::parse("Sink.records_per_s>=50k").unwrap();
        assert_eq!((b.operator, b.bound), (Operator::GreaterOrEqual, 50_000.0));
        let b = Budget::parse("throughput > 1.5M").unwrap();
        assert_eq!(
            (b.task, b.metric, b.bound),
            (None, Metric::Throughput, 1.5e6)
        );
        let b = Budget::parse("Parse.backpressured <= 90%").unwrap();
        assert!((b.bound - 0.9).abs() < 1e-12);
    }

    #[test]
    fn evaluates_strict_and_inclusive_bounds() {
        let lt = Budget::parse("Enrich.busy < 0.8").unwrap();
        assert!(lt.evaluate(Some(0.79)).passed);
        assert!(!lt.evaluate(Some(0.8)).passed);
        assert!(!lt.evaluate(None).passed);
        let le = Budget::parse("Enrich.busy <= 0.8").unwrap();
        assert!(le.evaluate(Some(0.8)).passed);
    }

    #[test]
    fn bad_expressions_name_the_problem() {
        for (expression, reason) in [
            ("Enrich.busy 0.8", "OP one of"),
            ("Enrich.bussy < 0.8", "unknown metric 'bussy'"),
            ("Enrich.busy < lots", "not a number"),
            ("busy < 0.8", "name the task, e.g. 'Enrich.busy < ...'"),
            ("Enrich.busy <", "no number after '<'"),
            ("throughput < 1e308k", "too large"),
            ("Enrich.busy < 1e400", "too large"),
            ("Enrich.busy < NaN", "not a number"),
        ] {
            let e = Budget::parse(expression).unwrap_err();
            assert!(e.reason.contains(reason), "{expression}: {e}");
        }
    }
}
