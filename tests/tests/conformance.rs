//! The conformance suite: the `schwartz-testkit` contract on every store (memory, SQLite,
//! PostgreSQL, MySQL/MariaDB), with the backend x passed/failed/skipped table.

fn main() {
    std::process::exit(schwartz_testkit::cli::main(
        schwartz_testkit::fixtures::all(),
    ));
}
