//! docs/file-format.md's tables of keys against the settings' description
//! (`eddy::graph::described_sections`, `op_settings`, `LIMITS_KEYS`): every key described
//! appears with its default (and, for an enum, its values in order), no key is documented that
//! the reader does not know, and each operator's row lists exactly the settings it takes. So
//! the page cannot drift from the code.

use std::collections::BTreeSet;
use std::path::Path;

use eddy::graph::{LIMITS_KEYS, OpKind, SettingKind, described_sections, op_settings};

/// A markdown table: its header cells and its rows' cells (backslash-escaped `|` kept inside).
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The tables under the `## heading` section of the page.
fn tables_of(page: &str, heading: &str) -> Vec<Table> {
    let start = page.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no section `{heading}`"));
    let section = &page[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    let mut tables: Vec<Table> = Vec::new();
    let mut in_table = false;
    for line in section.lines() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if line.starts_with("|---") {
            continue;
        }
        if in_table {
            tables.last_mut().unwrap().rows.push(cells(line));
        } else {
            tables.push(Table { header: cells(line), rows: Vec::new() });
            in_table = true;
        }
    }
    tables
}

/// `key`, its type and its default, from the section's `| key | type | default | meaning |` tables.
fn documented_keys(page: &str, heading: &str) -> Vec<(String, String, String)> {
    tables_of(page, heading)
        .into_iter()
        .filter(|t| t.header == ["key", "type", "default", "meaning"])
        .flat_map(|t| t.rows)
        .map(|row| (row[0].replace('`', ""), row[1].replace('`', ""), row[2].replace('`', "")))
        .collect()
}

/// The names in backticks in a cell.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn page() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/file-format.md")).unwrap()
}

#[test]
fn every_described_key_is_documented_with_its_default_and_no_other_key_is() {
    let page = page();
    for (heading, settings) in described_sections() {
        let documented = documented_keys(&page, heading);
        let documented_names: BTreeSet<&str> = documented.iter().map(|(k, _, _)| k.as_str()).collect();
        let described: BTreeSet<&str> = settings.iter().map(|s| s.key).collect();
        assert_eq!(documented_names, described, "## {heading}: documented keys against the description");
        for setting in &settings {
            let (_, kind, default) = documented.iter().find(|(k, _, _)| k == setting.key).unwrap();
            assert!(
                default == setting.default || default.starts_with(&format!("{}, ", setting.default)),
                "## {heading}: `{}` is documented with the default {default:?}, the code says {:?}",
                setting.key,
                setting.default
            );
            if let SettingKind::Choice(names) = setting.kind {
                let values: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                assert_eq!(kind, &values.join(" | "), "## {heading}: the values of `{}`", setting.key);
            }
        }
    }
    let limits: BTreeSet<String> = documented_keys(&page, "limits").into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(limits, LIMITS_KEYS.iter().map(|k| (*k).to_owned()).collect());
}

#[test]
fn each_operator_is_documented_with_exactly_the_settings_it_takes() {
    let page = page();
    let setting_keys: BTreeSet<&str> = eddy::graph::STEP_SETTINGS.iter().map(|s| s.key).collect();
    let ops_table = tables_of(&page, "steps").into_iter().find(|t| t.header[0] == "`op`").unwrap();
    let mut seen = BTreeSet::new();
    for row in &ops_table.rows {
        let documented: BTreeSet<String> =
            quoted(&row[1]).into_iter().filter(|k| setting_keys.contains(k.as_str())).collect();
        for name in quoted(&row[0]) {
            let op = OpKind::parse(&name).unwrap_or_else(|| panic!("`{name}` is not an operator"));
            let takes: BTreeSet<String> = op_settings(op).iter().map(|s| s.key().to_owned()).collect();
            assert_eq!(documented, takes, "the settings of `{name}`");
            seen.insert(op);
        }
    }
    assert_eq!(seen, OpKind::ALL.into_iter().collect(), "every operator has its row");
}
