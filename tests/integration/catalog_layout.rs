//! Every invalid migrations-folder layout is reported by file name with its own message, and
//! exits 2: nothing is skipped in silence. One fixture folder a scenario, under fixtures/catalog/.

use crate::harness::cli::{Output, Runner, fixture, repo_root};

fn catalog(scenario: &str, extra: &[&str]) -> Output {
    let dir = fixture(&format!("catalog/{scenario}"));
    Runner::new(repo_root())
        .args(["catalog", "--migrations-dir", dir.to_str().unwrap()])
        .args(extra)
        .run()
}

#[test]
fn a_valid_folder_lists_pairing_directives_and_checksums() {
    let out = catalog("valid", &[]).expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("VERSION  NAME"), "{out}");
    assert!(
        lines[1].contains("V1") && lines[1].contains("paired"),
        "{out}"
    );
    assert!(
        lines[2].contains("irreversible: the legacy table held no data since 2024"),
        "{out}"
    );
    assert!(
        lines[3].contains("no-transaction") && lines[3].contains("expand"),
        "{out}"
    );
    // README.md is reported, .gitkeep is not.
    out.stderr_has("README.md: ignored: not a .sql file");
}

#[test]
fn json_output_carries_full_checksums_for_both_files() {
    let out = catalog("valid", &["--format", "json"]).expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let first = &doc["migrations"][0];
    assert_eq!(first["version"], 1);
    assert_eq!(first["rollback"]["status"], "paired");
    assert_eq!(first["checksums"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        first["rollback_checksums"]["normalized_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(
        first["checksums"]["refinery"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(doc["migrations"][1]["rollback"]["status"], "irreversible");
    assert_eq!(doc["migrations"][2]["mode"], "no-transaction");
}

#[test]
fn a_u_prefix_is_refused_because_refinery_would_run_it_forward() {
    catalog("undo_prefix", &[])
        .expect_code(2)
        .stderr_has("U0001__create_users.sql: a `U` prefix is not supported");
}

#[test]
fn an_r_prefix_is_refused() {
    catalog("repeatable_prefix", &[])
        .expect_code(2)
        .stderr_has("R__users_view.sql: repeatable (`R__`) migrations are not supported");
}

#[test]
fn an_up_suffix_is_refused_with_the_name_to_use() {
    catalog("up_suffix", &[])
        .expect_code(2)
        .stderr_has("V0001__create_users.up.sql: `.up.sql` is not runner's naming")
        .stderr_has("rename it to V0001__create_users.sql")
        // The .down.sql is now an orphan too, and said so.
        .stderr_has("V0001__create_users.down.sql: has no forward file");
}

#[test]
fn a_migration_in_a_subfolder_is_refused() {
    catalog("subfolder", &[]).expect_code(2).stderr_has(
        "2026/V0002__add_email.sql: migrations must sit directly in the migrations folder",
    );
}

#[test]
fn duplicate_versions_name_both_files() {
    catalog("duplicate_version", &[])
        .expect_code(2)
        .stderr_has("V0002__add_email.sql: version 2 is also used by V2__add_phone.sql")
        .stderr_has("V2__add_phone.sql: version 2 is also used by V0002__add_email.sql");
}

#[test]
fn a_rollback_without_its_forward_file_is_refused() {
    catalog("orphan_rollback", &[])
        .expect_code(2)
        .stderr_has("V0002__add_email.down.sql: has no forward file V0002__add_email.sql")
        .stderr_has(
            "V0001__create_user.down.sql: has no forward file V0001__create_user.sql; its version belongs to V0001__create_users.sql",
        );
}

#[test]
fn names_that_do_not_match_each_get_their_reason() {
    catalog("bad_names", &[])
        .expect_code(2)
        .stderr_has("V2_add_email.sql: separate the version from the name with two underscores")
        .stderr_has(
            "V3__add-phone.sql: the name may hold only letters, digits and underscores, not '-'",
        )
        .stderr_has("v4__add_age.sql: the version prefix is an upper-case V")
        .stderr_has("V5.1__fix.sql: versions are whole numbers; `5.1` is not")
        .stderr_has("add_users.sql: not a migration name")
        .stderr_has("has 5 problems");
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_its_line() {
    catalog("not_utf8", &[])
        .expect_code(2)
        .stderr_has("V0001__latin1.sql:1: is not UTF-8 (invalid byte at offset 16)")
        .stderr_has("V0002__bad_byte_line3.down.sql:3: is not UTF-8");
}

#[test]
fn an_empty_folder_is_an_error_that_says_how_to_start() {
    catalog("empty_folder", &[])
        .expect_code(2)
        .stderr_has("holds no migration; create the first with `runner new NAME`");
}

#[test]
fn an_empty_file_is_refused() {
    catalog("empty_file", &[])
        .expect_code(2)
        .stderr_has("V0001__nothing.sql: is empty");
}

#[test]
fn bad_directives_are_refused_with_their_lines() {
    catalog("bad_directives", &[])
        .expect_code(2)
        .stderr_has("V0001__create_users.sql:1: `runner:phase` takes `expand` or `contract`, not `sideways`")
        .stderr_has("V0001__create_users.sql:2: `runner:irreversible` needs a reason")
        .stderr_has("V0001__create_users.sql:4: `runner:no-transaction` must be at the top of the file")
        .stderr_has("V0001__create_users.down.sql:1: `runner:phase` belongs in the forward migration");
}

#[test]
fn irreversible_and_a_rollback_together_is_refused() {
    catalog("irreversible_with_rollback", &[])
        .expect_code(2)
        .stderr_has("V0001__drop_legacy.sql: marked `runner:irreversible` but V0001__drop_legacy.down.sql exists");
}

#[test]
fn a_missing_rollback_is_listed_and_warned_about() {
    catalog("missing_rollback", &[])
        .expect_code(0)
        .stdout_has("MISSING")
        .stderr_has("V0001__create_users.sql has no rollback: write V0001__create_users.down.sql");
}

#[test]
fn a_missing_or_unreadable_folder_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    Runner::new(tmp.path())
        .args(["catalog", "--migrations-dir", missing.to_str().unwrap()])
        .run()
        .expect_code(2)
        .stderr_has("nope: does not exist");
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    Runner::new(tmp.path())
        .args(["catalog", "--migrations-dir", "a_file"])
        .run()
        .expect_code(2)
        .stderr_has("a_file: cannot be read");
}

#[test]
fn a_folder_named_like_a_migration_is_reported_not_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V0001__a.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V0001__a.down.sql"), "DROP TABLE a;\n").unwrap();
    std::fs::create_dir(tmp.path().join("V0002__b.sql")).unwrap();
    crate::harness::cli::Runner::new(tmp.path())
        .args(["check", "."])
        .run()
        .expect_code(1)
        .stdout_has("V0002__b.sql/")
        .stdout_has("is a folder named like a migration");
}
