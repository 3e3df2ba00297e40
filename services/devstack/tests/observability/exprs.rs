//! The PromQL of the dashboards: panel queries and template variables, and Grafana's
//! variable substitution.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

/// One panel query.
pub struct PanelQuery {
    pub panel: String,
    pub expr: String,
}

/// A `query` template variable: `label_values(<selector>, <label>)`.
pub struct Variable {
    pub name: String,
    pub selector: String,
    pub label: String,
}

pub struct Dashboard {
    pub file: String,
    pub variables: Vec<Variable>,
    pub queries: Vec<PanelQuery>,
    /// Departures from the conventions the dashboards keep.
    pub problems: Vec<String>,
}

/// Every panel, including those inside collapsed rows.
fn panels(board: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in board["panels"].as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

impl Dashboard {
    pub fn load(path: &Path) -> Self {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let board: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut problems = Vec::new();
        let mut problem = |text: String| problems.push(format!("{file}: {text}"));
        if board["uid"].as_str().is_none_or(str::is_empty) {
            problem("no fixed uid".into());
        }
        let datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
        let mut variables = Vec::new();
        let mut has_datasource_variable = false;
        for variable in board["templating"]["list"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap_or_default().to_owned();
            match variable["type"].as_str() {
                Some("datasource") => has_datasource_variable = variable["query"] == "prometheus",
                Some("query") => {
                    if variable["datasource"] != datasource {
                        problem(format!("variable {name} does not use $datasource"));
                    }
                    let query = variable["query"]["query"]
                        .as_str()
                        .or(variable["query"].as_str())
                        .unwrap_or_default();
                    match label_values(query) {
                        Some((selector, label)) => variables.push(Variable {
                            name,
                            selector,
                            label,
                        }),
                        None => problem(format!("variable {name}: unexpected query {query}")),
                    }
                }
                other => problem(format!("variable {name} of unexpected type {other:?}")),
            }
        }
        if !has_datasource_variable {
            problem("no Prometheus datasource variable".into());
        }
        let mut queries = Vec::new();
        for panel in panels(&board) {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            if panel["type"] == "row" {
                continue;
            }
            if panel["datasource"] != datasource {
                problem(format!("panel {title:?} does not use $datasource"));
            }
            if panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                problem(format!("panel {title:?} has no unit"));
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                if !target["datasource"].is_null() && target["datasource"] != datasource {
                    problem(format!("a query of {title:?} does not use $datasource"));
                }
                let expr = target["expr"].as_str().unwrap_or_default().to_owned();
                if panel["type"] == "timeseries" {
                    for range in ranges(&expr) {
                        if range != "$__rate_interval" {
                            problem(format!(
                                "panel {title:?}: range [{range}] instead of [$__rate_interval]"
                            ));
                        }
                    }
                }
                queries.push(PanelQuery {
                    panel: title.clone(),
                    expr,
                });
            }
        }
        Self {
            file,
            variables,
            queries,
            problems,
        }
    }
}

/// `label_values(selector, label)` → (selector, label).
fn label_values(query: &str) -> Option<(String, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim().to_owned(), label.trim().to_owned()))
}

/// The range selectors (`[5m]`) of an expression.
fn ranges(expr: &str) -> Vec<&str> {
    expr.split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(range, _)| range))
        .collect()
}

/// Replaces `$name` and `${name}` as Grafana does; an unknown variable is an error.
pub fn substitute(expr: &str, values: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr}"))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let value = values
            .get(name)
            .ok_or_else(|| format!("unknown variable ${name} in {expr}"))?;
        out.push_str(value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// A multi-value variable's values as Grafana writes them into a Prometheus regex.
pub fn regex_of(values: &[String]) -> String {
    match values {
        [one] => one.clone(),
        many => format!("({})", many.join("|")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_grafana_variables() {
        let values: HashMap<String, String> = [("__rate_interval", "1m"), ("pod", "a|b")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            substitute("rate(x{pod=~\"$pod\"}[$__rate_interval])", &values).unwrap(),
            "rate(x{pod=~\"a|b\"}[1m])"
        );
        assert_eq!(
            substitute("x{p=\"${pod}\"}", &values).unwrap(),
            "x{p=\"a|b\"}"
        );
        assert!(substitute("x{n=\"$namespace\"}", &values).is_err());
        assert_eq!(
            label_values("label_values(up{job=\"a\", n=\"b\"}, pod)"),
            Some(("up{job=\"a\", n=\"b\"}".into(), "pod".into()))
        );
        assert_eq!(
            ranges("rate(a[5m]) / rate(b[$__rate_interval])"),
            ["5m", "$__rate_interval"]
        );
    }
}
