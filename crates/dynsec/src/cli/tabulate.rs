//! `--format table`: answers laid out for people. An object becomes `key  value` rows (nested
//! objects flattened to `a.b`), a list of objects becomes columns, and a list of objects inside
//! an object (`{"targets": [...]}`) becomes its own titled table.

use serde_json::{Map, Value};

/// The answer as aligned text, ending with a newline.
pub fn render(answer: &Value) -> String {
    let mut out = String::new();
    match answer {
        Value::Array(items) => out.push_str(&rows(items)),
        Value::Object(map) => {
            // A lone list (`{"producers": [...]}`) is the answer: no title needed.
            if let [(_, Value::Array(items))] = map.iter().collect::<Vec<_>>().as_slice() {
                if items.iter().all(Value::is_object) {
                    return rows(items);
                }
            }
            out.push_str(&object(map));
        }
        scalar => {
            out.push_str(&cell(scalar));
            out.push('\n');
        }
    }
    out
}

/// `key  value` lines, then each list of objects as a titled table.
fn object(map: &Map<String, Value>) -> String {
    let mut pairs = Vec::new();
    let mut tables = Vec::new();
    for (key, value) in map {
        match value {
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                tables.push((key, items));
            }
            _ => flatten(key, value, &mut pairs),
        }
    }
    let mut out = aligned(
        &pairs
            .into_iter()
            .map(|(k, v)| vec![k, v])
            .collect::<Vec<_>>(),
    );
    for (key, items) in tables {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{key}:\n"));
        out.push_str(&rows(items));
    }
    out
}

fn flatten(prefix: &str, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(inner) if !inner.is_empty() => {
            for (key, value) in inner {
                flatten(&format!("{prefix}.{key}"), value, pairs);
            }
        }
        other => pairs.push((prefix.to_owned(), cell(other))),
    }
}

/// A list as columns: one per key (in order of first appearance), empty columns left out.
fn rows(items: &[Value]) -> String {
    if items.is_empty() {
        return "(none)\n".to_owned();
    }
    if !items.iter().all(Value::is_object) {
        return items.iter().map(|item| cell(item) + "\n").collect();
    }
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        let mut flat = Vec::new();
        flatten("", item, &mut flat);
        for (key, _) in flat {
            let key = key.trim_start_matches('.').to_owned();
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
    }
    let flat_items: Vec<Vec<(String, String)>> = items
        .iter()
        .map(|item| {
            let mut flat = Vec::new();
            flatten("", item, &mut flat);
            flat.into_iter()
                .map(|(k, v)| (k.trim_start_matches('.').to_owned(), v))
                .collect()
        })
        .collect();
    let value_of = |flat: &Vec<(String, String)>, column: &str| {
        flat.iter()
            .find(|(k, _)| k == column)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    columns.retain(|column| {
        flat_items
            .iter()
            .any(|flat| !matches!(value_of(flat, column).as_str(), "" | "{}" | "[]"))
    });
    let mut lines = vec![columns.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>()];
    for flat in &flat_items {
        lines.push(columns.iter().map(|c| value_of(flat, c)).collect());
    }
    aligned(&lines)
}

/// Lines of cells padded into columns two spaces apart.
fn aligned(lines: &[Vec<String>]) -> String {
    let width = |i: usize| {
        lines
            .iter()
            .filter_map(|line| line.get(i))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0)
    };
    let count = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count).map(width).collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// One value as a cell: strings unquoted, lists of strings comma-separated, other nesting as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.replace('\n', " "),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_become_key_value_rows() {
        let text = render(&json!({
            "name": "/a",
            "tags": ["x", "y"],
            "details": {"region": "us-east-1", "id": 7},
            "empty": null,
        }));
        assert_eq!(
            text,
            "name            /a\ntags            x,y\ndetails.region  us-east-1\ndetails.id      7\nempty\n"
        );
    }

    #[test]
    fn lists_become_columns_without_empty_ones() {
        let text = render(&json!({"targets": [
            {"target_name": "/aws/a", "target_id": 1, "comment": "", "assoc": []},
            {"target_name": "/aws/longer", "target_id": 22, "comment": "prod", "assoc": []},
        ]}));
        assert_eq!(
            text,
            "TARGET_NAME  TARGET_ID  COMMENT\n/aws/a       1\n/aws/longer  22         prod\n"
        );
        assert_eq!(render(&json!([])), "(none)\n");
    }

    #[test]
    fn lists_inside_objects_get_a_title() {
        let text = render(&json!({
            "folders": ["/p/a"],
            "items": [{"item_name": "/p/x"}],
        }));
        assert_eq!(text, "folders  /p/a\n\nitems:\nITEM_NAME\n/p/x\n");
    }
}
