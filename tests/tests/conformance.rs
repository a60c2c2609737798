//! The conformance suite: every case on every backend (see the `schwartz-tests` crate).

fn main() {
    std::process::exit(schwartz_tests::run());
}
