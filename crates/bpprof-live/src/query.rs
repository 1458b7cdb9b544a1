//! The parameters of a request's query string (`seconds=30&subtask=Enrich%230`): decoded, checked
//! against the names a route accepts, and parsed, each mistake a [`BadRequest`].

use std::collections::BTreeMap;

/// A parameter that is unknown, repeated, not decodable or not valid: the message says which and
/// what would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest(pub(crate) String);

/// A query's parameters, by name.
#[derive(Debug, Default)]
pub(crate) struct Query {
    values: BTreeMap<String, String>,
}

impl Query {
    /// Decodes `query` (without the `?`), accepting only the names in `allowed`.
    pub(crate) fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Query, BadRequest> {
        let mut values = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            if !allowed.contains(&name.as_str()) {
                return Err(BadRequest(format!(
                    "unknown parameter '{name}'; this path takes: {}",
                    allowed.join(", ")
                )));
            }
            if values.insert(name.clone(), decode(value)?).is_some() {
                return Err(BadRequest(format!("parameter '{name}' is given twice")));
            }
        }
        Ok(Query { values })
    }

    /// The raw value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `name` as a number of seconds above 0 and at most `max`, or `default`.
    pub(crate) fn seconds(&self, name: &str, default: f64, max: f64) -> Result<f64, BadRequest> {
        let Some(text) = self.get(name) else {
            return Ok(default.min(max));
        };
        match text.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= max => Ok(s),
            _ => Err(BadRequest(format!(
                "{name}={text}: give a number of seconds above 0 and at most {max} (the history kept)"
            ))),
        }
    }

    /// `name` as a time in the recording (seconds since it started, 0 or more), if given.
    pub(crate) fn position(&self, name: &str) -> Result<Option<f64>, BadRequest> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Ok(Some(s)),
            _ => Err(BadRequest(format!(
                "{name}={text}: give a time in the recording, seconds since it started (0 or more)"
            ))),
        }
    }

    /// `name` as one of `choices`, or the first of them.
    pub(crate) fn choice<'c>(
        &self,
        name: &str,
        choices: &[&'c str],
    ) -> Result<&'c str, BadRequest> {
        let Some(text) = self.get(name) else {
            return Ok(choices[0]);
        };
        choices
            .iter()
            .copied()
            .find(|c| *c == text)
            .ok_or_else(|| BadRequest(format!("{name}={text}: give one of {}", choices.join(", "))))
    }
}

/// Percent-decodes one name or value (`+` is a space), which must then be UTF-8.
fn decode(text: &str) -> Result<String, BadRequest> {
    let bad = || BadRequest(format!("'{text}' is not percent-encoded UTF-8"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded() {
        let q = Query::parse(
            Some("subtask=Enrich%230&seconds=2.5&x=a+b"),
            &["subtask", "seconds", "x"],
        )
        .unwrap();
        assert_eq!(q.get("subtask"), Some("Enrich#0"));
        assert_eq!(q.seconds("seconds", 30.0, 60.0), Ok(2.5));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.seconds("missing", 30.0, 10.0), Ok(10.0));
    }

    #[test]
    fn mistakes_are_refused_with_what_would_do() {
        let err = |query: &str| Query::parse(Some(query), &["seconds"]).unwrap_err().0;
        assert!(err("secs=1").contains("this path takes: seconds"));
        assert!(err("seconds=1&seconds=2").contains("twice"));
        assert!(err("seconds=%zz").contains("percent-encoded"));
        assert!(err("seconds=%ff").contains("percent-encoded"));
        let q = Query::parse(Some("seconds=0"), &["seconds"]).unwrap();
        assert!(q
            .seconds("seconds", 1.0, 60.0)
            .unwrap_err()
            .0
            .contains("above 0"));
        let q = Query::parse(Some("seconds=NaN"), &["seconds"]).unwrap();
        assert!(q.seconds("seconds", 1.0, 60.0).is_err());
        let q = Query::parse(Some("seconds=61"), &["seconds"]).unwrap();
        assert!(q.seconds("seconds", 1.0, 60.0).is_err());
        let q = Query::parse(Some("to=-1"), &["to"]).unwrap();
        assert!(q.position("to").unwrap_err().0.contains("0 or more"));
        let q = Query::parse(Some("to=12.5"), &["to"]).unwrap();
        assert_eq!(q.position("to"), Ok(Some(12.5)));
        let q = Query::parse(Some("format=png"), &["format"]).unwrap();
        assert_eq!(
            q.choice("format", &["folded", "svg"]).unwrap_err().0,
            "format=png: give one of folded, svg"
        );
    }
}
