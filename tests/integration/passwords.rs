//! A database password is never printed: not in results, not in errors, not in JSON.
//! The password here is the real one of the test cluster, proven by connecting with it.

use crate::harness::cli::{Output, Runner};
use crate::harness::postgres::{self, PASSWORD};

fn assert_hidden(out: &Output) {
    assert!(
        !out.all().contains(PASSWORD),
        "the password was printed:\n{out}"
    );
}

fn project(toml: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    tmp
}

#[tokio::test]
async fn a_working_password_is_never_printed() {
    let db = postgres::fresh_database().await;
    // The URL really authenticates: this is a password that matters.
    drop(db.connect().await);

    let p = project("[migrations]\ndialect = \"postgres\"\n");
    for format in ["table", "json"] {
        let out = Runner::new(p.path())
            .args(["config", "--env", "ci", "--format", format])
            .env("RUNNER_DATABASE_URL", &db.url)
            .run()
            .expect_code(0)
            .stdout_has(":***@127.0.0.1");
        assert_hidden(&out);
        let out = Runner::new(p.path())
            .args([
                "config",
                "--env",
                "ci",
                "--format",
                format,
                "--database-url",
                &db.url,
            ])
            .run()
            .expect_code(0)
            .stdout_has("flag --database-url");
        assert_hidden(&out);
    }
}

#[test]
fn errors_about_a_url_never_quote_its_password() {
    let url = format!("postgres://runner:{PASSWORD}@127.0.0.1:5432/shop");
    let cases = [
        // Unterminated string on the line holding the password.
        format!("[environments.prod]\ndatabase_url = \"{url}\n"),
        // A URL with no host.
        format!("[environments.prod]\ndatabase_url = \"postgres://runner:{PASSWORD}@\"\n"),
        // The wrong type: serde quotes the value it got.
        format!(
            "[environments.prod]\ndatabase_url = \"sqlite://x.db\"\nrequires_approval = \"{url}\"\n"
        ),
        // An unknown key next to the password.
        format!("[environments.prod]\ndatabase_url = \"{url}\"\npasword = \"{PASSWORD}\"\n"),
        // A password in a query parameter, with a dialect mismatch.
        format!(
            "[migrations]\ndialect = \"sqlite\"\n[environments.prod]\ndatabase_url = \"postgres://h/db?password={PASSWORD}\"\n"
        ),
    ];
    for toml in cases {
        let p = project(&toml);
        let out = Runner::new(p.path()).args(["config"]).run().expect_code(2);
        assert_hidden(&out);
    }
    let p = project("");
    let out = Runner::new(p.path())
        .args([
            "config",
            "--env",
            "x",
            "--database-url",
            &format!("oracle://u:{PASSWORD}@h/d"),
        ])
        .run()
        .expect_code(2)
        .stderr_has("unsupported scheme");
    assert_hidden(&out);
}
