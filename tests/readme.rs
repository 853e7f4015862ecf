//! The README's compatibility list is the command table.

use std::collections::BTreeSet;

#[test]
fn readme_lists_exactly_the_implemented_commands() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- commands:start -->").expect("start marker");
    let end = readme.find("<!-- commands:end -->").expect("end marker");
    let listed: BTreeSet<String> = readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" | ").nth(1))
        .map(|l| l.trim_end_matches('|'))
        .flat_map(|cmds| cmds.split(", "))
        .map(|c| c.trim().trim_matches('`').to_lowercase())
        .filter(|c| !c.is_empty() && c != "commands")
        .collect();
    // A container (CLIENT, CONFIG) is listed through its subcommands.
    let table: BTreeSet<String> = kvstore::commands::table::all()
        .filter(|(_, e)| e.spec.subcommands.is_empty() || e.spec.arity_ok(1))
        .map(|(_, e)| e.full_name.replace('|', " "))
        .collect();
    let missing: Vec<_> = table.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&table).collect();
    assert!(missing.is_empty() && extra.is_empty(), "README lacks {missing:?}; README has unknown {extra:?}");
}
