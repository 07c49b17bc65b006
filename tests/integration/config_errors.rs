//! A runner.toml that cannot be used gets one error naming the file, line and key, exit 2,
//! and never a panic.

use crate::harness::cli::{Output, Runner, table_row};

fn config_with(toml: &str, envs: &[(&str, &str)]) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    let mut runner = Runner::new(tmp.path()).args(["config"]);
    for (k, v) in envs {
        runner = runner.env(k, v);
    }
    let out = runner.run();
    assert!(!out.stderr.contains("panicked"), "{out}");
    out
}

const STAGING: &str = "[environments.staging]\ndatabase_url = \"sqlite://staging.db\"\n";

#[test]
fn bad_toml_names_the_line() {
    config_with("[migrations]\ndir = \"migrations\n", &[])
        .expect_code(2)
        .stderr_has("runner.toml:2:");
}

#[test]
fn an_unknown_key_names_its_line_and_the_key() {
    let toml = format!("{STAGING}requires_aproval = true\n");
    config_with(&toml, &[])
        .expect_code(2)
        .stderr_has("runner.toml:3:1: unknown field `requires_aproval`");
    config_with("[migration]\ndir = \"m\"\n", &[])
        .expect_code(2)
        .stderr_has("runner.toml:1:2: unknown field `migration`");
}

#[test]
fn a_missing_environment_variable_names_it_and_its_line() {
    let toml = "[migrations]\ndialect = \"postgres\"\n\n[environments.staging]\ndatabase_url = \"${STAGING_DATABASE_URL}\"\n";
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    Runner::new(tmp.path())
        .args(["config", "--env", "staging"])
        .run()
        .expect_code(2)
        .stderr_has("runner.toml:5:16: environments.staging.database_url: environment variable STAGING_DATABASE_URL is not set");
    // `runner config` shows the rest, and exits non-zero: this configuration cannot be used here.
    config_with(toml, &[])
        .expect_code(2)
        .stderr_has("environment staging is not usable here: ")
        .stderr_has("STAGING_DATABASE_URL is not set");
}

/// A staging CI job has staging's secrets, not production's: only the environments a command
/// uses are resolved.
#[test]
fn an_unset_variable_of_an_environment_not_used_breaks_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = "[migrations]\ndialect = \"sqlite\"\n\n[environments.staging]\ndatabase_url = \"${STAGING_DATABASE_URL}\"\n\n[environments.production]\ndatabase_url = \"${PRODUCTION_DATABASE_URL}\"\nrequires_approval = true\n";
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    std::fs::create_dir(tmp.path().join("migrations")).unwrap();
    std::fs::write(
        tmp.path().join("migrations/V1__t.sql"),
        "CREATE TABLE t (id INTEGER);\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("migrations/V1__t.down.sql"),
        "DROP TABLE t;\n",
    )
    .unwrap();
    let staging = format!("sqlite://{}/staging.db", tmp.path().display());
    let run = |args: &[&str]| {
        Runner::new(tmp.path())
            .args(args)
            .env("STAGING_DATABASE_URL", &staging)
            .run()
    };
    run(&["check"]).expect_code(0);
    run(&["migrate", "--env", "staging"]).expect_code(0);
    run(&["status", "--env", "staging"]).expect_code(0);
    run(&["migrate", "--env", "production"])
        .expect_code(2)
        .stderr_has("environments.production.database_url: environment variable PRODUCTION_DATABASE_URL is not set");
    Runner::new(tmp.path()).args(["check"]).run().expect_code(0);
}

#[test]
fn a_variable_that_is_set_is_used() {
    let toml = "[environments.staging]\ndatabase_url = \"postgres://app:${PG_PASS}@db.internal:5432/shop\"\n";
    let out = config_with(toml, &[("PG_PASS", "zz")]).expect_code(0);
    assert_eq!(
        table_row(&out.stdout, "staging.database_url"),
        [
            "staging.database_url",
            "postgres://app:***@db.internal:5432/shop",
            "runner.toml line 2"
        ]
    );
}

#[test]
fn a_bad_database_url_names_its_line_and_key() {
    let toml = "[environments.staging]\ndatabase_url = \"oracle://db/shop\"\n";
    config_with(toml, &[]).expect_code(2).stderr_has(
        "runner.toml:2:16: environments.staging.database_url: has the unsupported scheme `oracle:`",
    );
    let toml = "[environments.staging]\ndatabase_url = \"postgres://\"\n";
    config_with(toml, &[])
        .expect_code(2)
        .stderr_has("runner.toml:2:16: environments.staging.database_url:");
}

#[test]
fn a_missing_database_url_is_named() {
    config_with("[environments.staging]\nrequires_approval = true\n", &[])
        .expect_code(2)
        .stderr_has("runner.toml:1:1: missing field `database_url`");
}

#[test]
fn a_pipeline_naming_an_unknown_environment_is_refused() {
    let toml = format!("[deploy]\npipeline = [\"staging\", \"prod\"]\n\n{STAGING}");
    config_with(&toml, &[])
        .expect_code(2)
        .stderr_has("runner.toml:2:24: deploy.pipeline names the environment `prod`, which is not configured; configured: staging");
}

#[test]
fn a_bad_duration_and_a_bad_hook_are_named() {
    let toml = format!("{STAGING}lock_timeout = \"soon\"\n");
    config_with(&toml, &[]).expect_code(2).stderr_has(
        "runner.toml:3:16: environments.staging.lock_timeout: `soon` is not a duration",
    );
    let toml = format!("{STAGING}deploy = []\n");
    config_with(&toml, &[])
        .expect_code(2)
        .stderr_has("runner.toml:3:10: environments.staging.deploy: give the command as a list");
}

#[test]
fn a_dialect_that_disagrees_with_a_url_is_refused() {
    let toml = format!("[migrations]\ndialect = \"postgres\"\n\n{STAGING}");
    config_with(&toml, &[])
        .expect_code(2)
        .stderr_has("runner.toml:5: environments.staging.database_url is a sqlite database, but the dialect is postgres");
}

#[test]
fn no_config_anywhere_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    Runner::new(tmp.path())
        .args(["catalog"])
        .run()
        .expect_code(2)
        .stderr_has("no runner.toml in")
        .stderr_has("pass --config FILE");
    Runner::new(tmp.path())
        .args(["catalog", "--config", "elsewhere.toml"])
        .run()
        .expect_code(2)
        .stderr_has("elsewhere.toml: does not exist (given by --config)");
}

#[test]
fn flags_beat_environment_variables_which_beat_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = format!("[migrations]\ndir = \"from_file\"\n\n{STAGING}");
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    let setting = |out: &str| -> (String, String) {
        let cells = table_row(out, "migrations dir");
        let dir = cells[1].rsplit('/').next().unwrap().to_string();
        (dir, cells[2].clone())
    };
    let expect = |dir: &str, from: &str| (dir.to_string(), from.to_string());
    let out = Runner::new(tmp.path())
        .args(["config"])
        .run()
        .expect_code(0);
    assert_eq!(
        setting(&out.stdout),
        expect("from_file", "runner.toml line 2"),
        "{out}"
    );
    let out = Runner::new(tmp.path())
        .args(["config"])
        .env("RUNNER_MIGRATIONS_DIR", "from_env")
        .run()
        .expect_code(0);
    assert_eq!(
        setting(&out.stdout),
        expect("from_env", "environment variable RUNNER_MIGRATIONS_DIR"),
        "{out}"
    );
    let out = Runner::new(tmp.path())
        .args(["config", "--migrations-dir", "from_flag"])
        .env("RUNNER_MIGRATIONS_DIR", "from_env")
        .run()
        .expect_code(0);
    assert_eq!(
        setting(&out.stdout),
        expect("from_flag", "flag --migrations-dir"),
        "{out}"
    );
}

#[test]
fn runner_toml_is_found_from_a_subfolder() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("runner.toml"), STAGING).unwrap();
    let sub = tmp.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let out = Runner::new(&sub).args(["config"]).run().expect_code(0);
    let expected = tmp.path().canonicalize().unwrap().join("staging.db");
    assert!(
        out.stdout
            .contains(&format!("sqlite://{}", expected.display())),
        "{out}"
    );
}

#[test]
fn strategies_their_servers_router_and_options_are_checked_by_name() {
    let routed = |lines: &str| {
        format!(
            "{STAGING}servers = [{{ name = \"blue\", address = \"127.0.0.1:8081\", slot = \"blue\" }}, {{ name = \"green\", address = \"127.0.0.1:8082\", slot = \"green\" }}]\n\
             router = {{ kind = \"haproxy\", socket = \"/run/haproxy.sock\", backend = \"app\" }}\n{lines}"
        )
    };
    let cases: &[(String, &str)] = &[
        (
            format!("{STAGING}strategy = \"blue-gren\"\n"),
            "`blue-gren` is not a strategy; use all-at-once, blue-green, canary, rolling",
        ),
        (
            format!("{STAGING}strategy = \"canary\"\n"),
            "strategy canary moves traffic between servers through a router; list them",
        ),
        (
            routed(""),
            "servers and router are used by the blue-green, canary and rolling strategies",
        ),
        (
            routed("strategy = \"rolling\"\n"),
            "server blue has a slot, but slots are used by blue-green and canary only",
        ),
        (
            format!(
                "{STAGING}strategy = \"blue-green\"\nservers = [{{ name = \"a\", address = \"127.0.0.1:1\", slot = \"blue\" }}]\nrouter = {{ kind = \"haproxy\", socket = \"s\", backend = \"app\" }}\n"
            ),
            "blue-green needs exactly two slots (e.g. blue and green), each with at least one server; found blue",
        ),
        (
            format!(
                "{STAGING}strategy = \"rolling\"\nservers = [{{ name = \"a\", address = \"nohost\" }}]\nrouter = {{ kind = \"haproxy\", socket = \"s\", backend = \"app\" }}\n"
            ),
            "server a: `nohost` is not host:port",
        ),
        (
            routed("strategy = \"canary\"\nhealth = { url = \"http://127.0.0.1:8080/health\" }\n"),
            "each server is checked directly before it takes traffic; name the server in the URL",
        ),
        (
            routed("strategy = \"canary\"\n[environments.staging.rollout]\nsteps = [5, 50]\n"),
            "[5, 50] is not a ramp",
        ),
        (
            routed("strategy = \"blue-green\"\n[environments.staging.rollout]\nsteps = [5, 100]\n"),
            "rollout.steps applies to canary; this environment's strategy is blue-green",
        ),
        (
            routed("strategy = \"canary\"\n[environments.staging.rollout]\npause = \"soon\"\n"),
            "`soon` is not a duration",
        ),
        (
            routed("strategy = \"canary\"\nrouter = 1\n"),
            "duplicate key",
        ),
    ];
    for (toml, message) in cases {
        config_with(toml, &[]).expect_code(2).stderr_has(message);
    }
    let ok = config_with(
        &routed("strategy = \"canary\"\n[environments.staging.rollout]\npause = \"manual\"\n"),
        &[],
    )
    .expect_code(0);
    assert_eq!(
        table_row(&ok.stdout, "staging.rollout")[1],
        "steps [5, 25, 100], pause manual, drain_timeout 30s"
    );
}

#[test]
fn each_router_kind_takes_its_own_settings() {
    let with_router = |router: &str| {
        format!(
            "{STAGING}strategy = \"blue-green\"\nservers = [{{ name = \"blue\", address = \"127.0.0.1:8081\", slot = \"blue\" }}, {{ name = \"green\", address = \"127.0.0.1:8082\", slot = \"green\" }}]\nrouter = {router}\n"
        )
    };
    let cases = [
        (
            "{ kind = \"traefik\", socket = \"s\", backend = \"app\" }",
            "router.kind: `traefik` is not a router runner drives; use \"haproxy\" or \"nginx\"",
        ),
        (
            "{ kind = \"nginx\", socket = \"s\", backend = \"app\" }",
            "router.socket is not a setting of the nginx router; e.g. router = { kind = \"nginx\", file =",
        ),
        (
            "{ kind = \"nginx\", file = \"upstream.conf\" }",
            "router.upstream is missing: the nginx router needs it",
        ),
        (
            "{ kind = \"haproxy\", socket = \"s\", backend = \"app\", reload = [\"nginx\", \"-s\", \"reload\"] }",
            "router.reload is not a setting of the haproxy router",
        ),
        (
            "{ kind = \"haproxy\", socket = \"s\" }",
            "router.backend is missing: the haproxy router needs it",
        ),
    ];
    for (router, message) in cases {
        config_with(&with_router(router), &[])
            .expect_code(2)
            .stderr_has(message);
    }
    let ok = config_with(
        &with_router("{ kind = \"nginx\", file = \"conf/upstream.conf\", upstream = \"app\" }"),
        &[],
    )
    .expect_code(0);
    let row = table_row(&ok.stdout, "staging.router");
    assert!(
        row[1].starts_with("nginx ") && row[1].ends_with("conf/upstream.conf upstream app"),
        "{row:?}"
    );
}

/// Secrets per environment: `--database-url` and RUNNER_DATABASE_URL replace the URL of an
/// environment whose database_url names a variable this session does not have, and a
/// production command that must read staging's database says so when it cannot.
#[test]
fn a_database_url_given_on_the_command_line_replaces_an_unset_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = "[migrations]\ndialect = \"sqlite\"\n[deploy]\npipeline = [\"staging\", \"production\"]\n\n[environments.staging]\ndatabase_url = \"${STAGING_DATABASE_URL}\"\n\n[environments.production]\ndatabase_url = \"${PRODUCTION_DATABASE_URL}\"\n";
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    std::fs::create_dir(tmp.path().join("migrations")).unwrap();
    std::fs::write(
        tmp.path().join("migrations/V1__a.sql"),
        "-- runner:irreversible test\nCREATE TABLE a (id INTEGER);\n",
    )
    .unwrap();
    let staging = format!("sqlite://{}/staging.db", tmp.path().display());
    Runner::new(tmp.path())
        .args(["migrate", "--env", "staging", "--database-url", &staging])
        .run()
        .expect_code(0)
        .stdout_has("applied V1 a");
    Runner::new(tmp.path())
        .args(["status", "--env", "staging"])
        .env("RUNNER_DATABASE_URL", &staging)
        .run()
        .expect_code(0);
    // Production reads staging's history first: without staging's URL it says why it needs it.
    let production = format!("sqlite://{}/production.db", tmp.path().display());
    Runner::new(tmp.path())
        .args([
            "migrate",
            "--env",
            "production",
            "--database-url",
            &production,
        ])
        .run()
        .expect_code(2)
        .stderr_has("runner reads staging's database to prove it")
        .stderr_has("STAGING_DATABASE_URL is not set");
    Runner::new(tmp.path())
        .args([
            "migrate",
            "--env",
            "production",
            "--database-url",
            &production,
        ])
        .env("STAGING_DATABASE_URL", &staging)
        .run()
        .expect_code(0)
        .stdout_has("applied V1 a");
}

/// Without `[deploy] pipeline`: staging then production, those configured; the one
/// environment when it is neither; otherwise a deploy is refused with the setting to write.
#[test]
fn the_default_pipeline_is_made_of_the_configured_environments() {
    let only = |name: &str| {
        format!(
            "[migrations]\ndialect = \"sqlite\"\n[environments.{name}]\ndatabase_url = \"sqlite://{name}.db\"\n"
        )
    };
    let pipeline = |out: &Output| table_row(&out.stdout, "pipeline");
    let out = config_with(&only("production"), &[]).expect_code(0);
    assert_eq!(pipeline(&out)[1], "production", "{out}");
    let out = config_with(&only("live"), &[]).expect_code(0);
    assert_eq!(pipeline(&out)[1], "live", "{out}");
    let two = format!(
        "{}[environments.prod]\ndatabase_url = \"sqlite://prod.db\"\n",
        only("dev")
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("runner.toml"), &two).unwrap();
    std::fs::create_dir(tmp.path().join("migrations")).unwrap();
    std::fs::write(
        tmp.path().join("migrations/V1__a.sql"),
        "CREATE TABLE a (id INTEGER);\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("migrations/V1__a.down.sql"),
        "DROP TABLE a;\n",
    )
    .unwrap();
    Runner::new(tmp.path())
        .args(["deploy", "--version", "1.0.0", "--dry-run"])
        .run()
        .expect_code(2)
        .stderr_has("no environment `staging`; configured: dev, prod; the pipeline is the default (staging -> production): set [deploy] pipeline to your environments in deploy order, e.g. pipeline = [\"dev\", \"prod\"]");
}
