//! The conformance suite: every case on every store (see `schwartz-testkit`).

fn main() {
    std::process::exit(schwartz_testkit::run());
}
