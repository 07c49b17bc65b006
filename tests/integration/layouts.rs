//! Other tools' folder layouts read in place: sqlx, golang-migrate, Diesel, dbmate, goose,
//! Flyway and Prisma, with the same findings as runner's own layout and every command working.

use std::path::Path;

use crate::harness::cli::Runner;
use crate::harness::project::Project;

/// One migration: name, forward SQL, rollback SQL.
type Spec<'a> = (&'a str, &'a str, Option<&'a str>);

const LAYOUTS: [&str; 8] = [
    "runner",
    "sqlx",
    "golang-migrate",
    "diesel",
    "dbmate",
    "goose",
    "flyway",
    "prisma",
];

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes `specs` into `dir` as `layout` lays migrations out, numbered 1, 2, ... in the
/// layout's own way. The one-file layouts get a comment line before their markers, so a
/// statement's line in the file differs from its line in the section.
fn write_layout(dir: &Path, layout: &str, specs: &[Spec<'_>]) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, (name, up, down)) in specs.iter().enumerate() {
        let n = i + 1;
        let stamp = format!("2024010100000{n}");
        match layout {
            "runner" => {
                put(&dir.join(format!("V{n}__{name}.sql")), up);
                if let Some(down) = down {
                    put(&dir.join(format!("V{n}__{name}.down.sql")), down);
                }
            }
            "sqlx" | "golang-migrate" => {
                let v = if layout == "sqlx" {
                    stamp
                } else {
                    format!("00000{n}")
                };
                put(&dir.join(format!("{v}_{name}.up.sql")), up);
                if let Some(down) = down {
                    put(&dir.join(format!("{v}_{name}.down.sql")), down);
                }
            }
            "diesel" => {
                let folder = dir.join(format!("2024-01-01-00000{n}_{name}"));
                put(&folder.join("up.sql"), up);
                if let Some(down) = down {
                    put(&folder.join("down.sql"), down);
                }
            }
            "prisma" => {
                let folder = dir.join(format!("{stamp}_{name}"));
                put(&folder.join("migration.sql"), up);
                if let Some(down) = down {
                    put(&folder.join("down.sql"), down);
                }
            }
            "dbmate" => put(
                &dir.join(format!("{stamp}_{name}.sql")),
                &format!(
                    "-- written by dbmate new\n-- migrate:up\n{up}\n-- migrate:down\n{}",
                    down.unwrap_or("")
                ),
            ),
            "goose" => put(
                &dir.join(format!("0000{n}_{name}.sql")),
                &format!(
                    "-- written by goose create\n-- +goose Up\n{up}\n-- +goose Down\n{}",
                    down.unwrap_or("")
                ),
            ),
            "flyway" => {
                put(&dir.join(format!("V{n}__{name}.sql")), up);
                if let Some(down) = down {
                    put(&dir.join(format!("U{n}__{name}.sql")), down);
                }
            }
            other => panic!("no layout {other}"),
        }
    }
}

const LINTED: [Spec<'static>; 3] = [
    (
        "users",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        Some("DROP TABLE users;\n"),
    ),
    (
        "age",
        "-- every row needs an age\nALTER TABLE users ADD COLUMN age integer NOT NULL;\n",
        Some("ALTER TABLE users DROP COLUMN age;\n"),
    ),
    (
        "email_index",
        "CREATE INDEX users_email ON users (email);\n",
        None,
    ),
];

fn findings(dir: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "check".to_string(),
        dir.display().to_string(),
        "--dialect".into(),
        "postgres".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Runner::new(dir.parent().unwrap()).args(&args).run();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("check --format json: {e}\n{out}"));
    doc["findings"].as_array().unwrap().clone()
}

#[test]
fn every_layout_gets_the_findings_of_the_same_sql_in_runners_layout_at_the_files_own_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let runner_dir = tmp.path().join("runner");
    write_layout(&runner_dir, "runner", &LINTED);
    let reference = findings(&runner_dir, &[]);
    let rules = |f: &[serde_json::Value]| {
        let mut r: Vec<String> = f
            .iter()
            .map(|f| format!("{} {}", f["rule"], f["severity"]))
            .collect();
        r.sort();
        r
    };
    let messages = |f: &[serde_json::Value]| {
        let mut m: Vec<String> = f
            .iter()
            .filter(|f| f["rule"] != "missing-rollback")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    };
    assert_eq!(
        rules(&reference),
        [
            "\"add-required-column\" \"error\"",
            "\"create-index-without-concurrently\" \"error\"",
            "\"missing-rollback\" \"error\""
        ]
    );
    for layout in LAYOUTS.iter().skip(1) {
        let dir = tmp.path().join(layout);
        write_layout(&dir, layout, &LINTED);
        let extra: &[&str] = &[];
        let got = findings(&dir, extra);
        assert_eq!(rules(&got), rules(&reference), "{layout}: {got:#?}");
        assert_eq!(messages(&got), messages(&reference), "{layout}");
        // Each finding points at its statement's line in the file as it is on disk.
        for f in got.iter().filter(|f| f["rule"] != "missing-rollback") {
            let file = tmp.path().join(f["file"].as_str().unwrap());
            let text = std::fs::read_to_string(&file).unwrap();
            let line = text
                .lines()
                .nth(f["line"].as_u64().unwrap() as usize - 1)
                .unwrap();
            assert!(
                line.starts_with("ALTER TABLE users ADD") || line.starts_with("CREATE INDEX"),
                "{layout}: {} line {} is `{line}`",
                f["file"],
                f["line"]
            );
        }
        // The missing rollback names where this layout keeps it.
        let missing = got
            .iter()
            .find(|f| f["rule"] == "missing-rollback")
            .unwrap();
        let help = missing["help"].as_str().unwrap();
        let expected = match *layout {
            "sqlx" => "write 20240101000003_email_index.down.sql",
            "golang-migrate" => "write 000003_email_index.down.sql",
            "diesel" => "write 2024-01-01-000003_email_index/down.sql",
            "prisma" => "write 20240101000003_email_index/down.sql",
            "dbmate" => "after `-- migrate:down` in 20240101000003_email_index.sql",
            "goose" => "after `-- +goose Down` in 00003_email_index.sql",
            "flyway" => "write U3__email_index.sql",
            _ => unreachable!(),
        };
        assert!(help.contains(expected), "{layout}: {help}");
    }
}

const SQLITE: [Spec<'static>; 3] = [
    (
        "users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
        Some("DROP TABLE users;\n"),
    ),
    (
        "age",
        "ALTER TABLE users ADD COLUMN age INTEGER;\n",
        Some("ALTER TABLE users DROP COLUMN age;\n"),
    ),
    (
        "orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER);\n",
        Some("DROP TABLE orders;\n"),
    ),
];

fn sqlite_project(layout: &str) -> Project {
    let project = Project::new("sqlite", &[("dev", "sqlite://dev.db", "")]);
    if layout == "golang-migrate" {
        let toml = std::fs::read_to_string(project.path().join("runner.toml")).unwrap();
        let toml = toml.replace(
            "[migrations]\n",
            "[migrations]\nlayout = \"golang-migrate\"\n",
        );
        std::fs::write(project.path().join("runner.toml"), toml).unwrap();
    }
    write_layout(&project.migrations(), layout, &SQLITE);
    project
}

fn tables(project: &Project) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(project.path().join("dev.db"))
        .arg("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'runner_%' AND name NOT LIKE 'sqlite_%' ORDER BY name)")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_command_works_on_every_layout() {
    for layout in LAYOUTS {
        let project = sqlite_project(layout);
        let catalog = project.run(&["catalog", "--format", "json"]).expect_code(0);
        let doc: serde_json::Value = serde_json::from_str(&catalog.stdout).unwrap();
        assert_eq!(doc["layout"], layout.replace('_', "-"), "{layout}");
        assert_eq!(doc["migrations"].as_array().unwrap().len(), 3, "{layout}");
        project.run(&["check"]).expect_code(0);
        project
            .run(&["plan", "--env", "dev"])
            .expect_code(0)
            .stdout_has("orders");
        project.run(&["verify"]).expect_code(0);
        project.run(&["migrate", "--env", "dev"]).expect_code(0);
        assert_eq!(tables(&project), "orders,users", "{layout}");
        project
            .run(&["rollback", "--env", "dev", "--steps", "1"])
            .expect_code(0)
            .stdout_has("orders");
        assert_eq!(tables(&project), "users", "{layout}");
        project.run(&["status", "--env", "dev"]).expect_code(0);
        project
            .run(&["recover", "--env", "dev"])
            .expect_code(0)
            .stdout_has("no run stopped part-way");
        // `new` writes the next file in the folder's own layout and numbering.
        project.run(&["new", "add_phone"]).expect_code(0);
        let doc: serde_json::Value = serde_json::from_str(
            &project
                .run(&["catalog", "--format", "json"])
                .expect_code(0)
                .stdout,
        )
        .unwrap();
        let migrations = doc["migrations"].as_array().unwrap();
        assert_eq!(migrations.len(), 4, "{layout}: {doc:#}");
        assert_eq!(doc["layout"], layout, "{layout}");
        let newest = &migrations[3];
        assert_eq!(newest["name"], "add_phone", "{layout}");
        let file = newest["file"].as_str().unwrap();
        let expected_shape = match layout {
            "runner" => file == "V4__add_phone.sql",
            "golang-migrate" => file == "000004_add_phone.up.sql",
            "sqlx" => {
                file.ends_with("_add_phone.up.sql")
                    && file.len() == "20240101000004_add_phone.up.sql".len()
            }
            "diesel" => file.ends_with("_add_phone/up.sql") && file.as_bytes()[4] == b'-',
            "prisma" => file.ends_with("_add_phone/migration.sql"),
            "dbmate" => file.ends_with("_add_phone.sql"),
            "goose" => file == "00004_add_phone.sql",
            "flyway" => file == "V4__add_phone.sql",
            _ => false,
        };
        assert!(expected_shape, "{layout}: new wrote {file}");
        // Its rollback is where the layout keeps it, so the folder stays valid.
        assert_eq!(
            newest["rollback"]["status"], "paired",
            "{layout}: {newest:#}"
        );
        // The migrations runner wrote apply (the new one is only comments: check stops it).
        project.run(&["migrate", "--env", "dev"]).expect_code(1);
        assert_eq!(tables(&project), "users", "{layout}");
    }
}

#[test]
fn each_tools_no_transaction_marker_becomes_runners_no_transaction_mode() {
    let tmp = tempfile::tempdir().unwrap();
    const INDEX: &str = "CREATE INDEX CONCURRENTLY users_email ON users (email);\n";
    type Writer = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Writer)> = vec![
        (
            "sqlx",
            Box::new(|d: &Path| {
                put(
                    &d.join("1_idx.up.sql"),
                    &format!("-- no-transaction\n{INDEX}"),
                )
            }),
        ),
        (
            "diesel",
            Box::new(|d: &Path| {
                put(&d.join("2024-01-01-000001_idx/up.sql"), INDEX);
                put(
                    &d.join("2024-01-01-000001_idx/metadata.toml"),
                    "run_in_transaction = false\n",
                );
            }),
        ),
        (
            "dbmate",
            Box::new(|d: &Path| {
                put(
                    &d.join("1_idx.sql"),
                    &format!("-- migrate:up transaction:false\n{INDEX}-- migrate:down\n"),
                )
            }),
        ),
        (
            "goose",
            Box::new(|d: &Path| {
                put(
                    &d.join("1_idx.sql"),
                    &format!("-- +goose NO TRANSACTION\n-- +goose Up\n{INDEX}"),
                )
            }),
        ),
        (
            "flyway",
            Box::new(|d: &Path| {
                put(&d.join("V1.1__idx.sql"), INDEX);
                put(
                    &d.join("V1.1__idx.sql.conf"),
                    "executeInTransaction=false\n",
                );
            }),
        ),
    ];
    for (layout, write) in cases {
        let project = tmp.path().join(layout);
        let dir = project.join("migrations");
        write(&dir);
        // A statement that could run in a transaction shows the marker was read, not inferred.
        let sql_file = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .find(|e| !e.file_name().to_string_lossy().ends_with(".conf"))
            .unwrap()
            .path();
        let file = if sql_file.is_dir() {
            sql_file.join("up.sql")
        } else {
            sql_file
        };
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("CONCURRENTLY ", "");
        std::fs::write(&file, text).unwrap();
        let out = Runner::new(&project)
            .args([
                "--migrations-dir",
                "migrations",
                "catalog",
                "--format",
                "json",
            ])
            .run()
            .expect_code(0);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["layout"], layout, "{out}");
        assert_eq!(
            doc["migrations"][0]["mode"], "no-transaction",
            "{layout}: {out}"
        );
    }
}

#[test]
fn a_folder_that_mixes_layouts_is_an_error_naming_the_files() {
    let project = Project::new("sqlite", &[("dev", "sqlite://dev.db", "")]);
    write_layout(&project.migrations(), "sqlx", &SQLITE);
    put(
        &project.migrations().join("2024-02-01-000000_extra/up.sql"),
        "SELECT 1;\n",
    );
    project
        .run(&["catalog"])
        .expect_code(2)
        .stderr_has("2024-02-01-000000_extra: is named like a diesel migration, but this folder mixes layouts (6 sqlx file(s), 1 diesel file(s))");
    project
        .run(&["check"])
        .expect_code(1)
        .stdout_has("2024-02-01-000000_extra:1:1: error[invalid-migration-name]");
    // Naming the layout reads the folder as that layout: the other files are named too.
    let toml = std::fs::read_to_string(project.path().join("runner.toml")).unwrap();
    std::fs::write(
        project.path().join("runner.toml"),
        toml.replace("[migrations]\n", "[migrations]\nlayout = \"diesel\"\n"),
    )
    .unwrap();
    project
        .run(&["catalog"])
        .expect_code(2)
        .stderr_has("20240101000001_users.up.sql: is not a diesel migration name");
    std::fs::write(
        project.path().join("runner.toml"),
        toml.replace("[migrations]\n", "[migrations]\nlayout = \"liquibase\"\n"),
    )
    .unwrap();
    project
        .run(&["catalog"])
        .expect_code(2)
        .stderr_has("migrations.layout: `liquibase` is not a layout; use one of runner, sqlx");
}
