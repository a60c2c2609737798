//! `t/server-time.t` (spec 8.23): the store's clock, read through the client.

use super::common::*;

/// `get_server_time > 0`, from the store and through the client.
fn server_time_positive(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert!(s.server_time().must("store.server_time") > 0);
    assert!(c.now(&h0(&c)).must("client.now") > 0);
    assert!(now(&c).timestamp() > 0);
}

/// The client's time is the store's clock (plus the shift, zero here).
fn client_time_is_store_time(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let before = s.server_time().must("store time");
    let seen = c.now(&h0(&c)).must("client now");
    let after = s.server_time().must("store time");
    assert!(
        before <= seen && seen <= after,
        "client time {seen} not within store times {before}..{after}"
    );
    let dt = now(&c).timestamp();
    assert!(
        dt >= seen && dt <= s.server_time().must("store time"),
        "server_time() disagrees with now()"
    );
}

/// The time shift moves the client's clock forward, not the store's.
fn time_shift_moves_client_clock(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let base = s.server_time().must("store time");
    ctx.advance(1000);
    let shifted = c.now(&h0(&c)).must("client now");
    assert!(
        shifted >= base + 1000,
        "shifted {shifted} < base {base} + 1000"
    );
    assert!(shifted <= s.server_time().must("store time") + 1000);
    assert_eq!(c.time_shift().seconds(), 1000);
}

/// Time for an unknown store hash is an error.
fn server_time_unknown_store(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let bogus = StoreHash::from_hex("6a".repeat(16));
    assert!(c.server_time(&bogus).is_err());
}

cases!("server_time";
    server_time_positive,
    client_time_is_store_time,
    time_shift_moves_client_clock,
    server_time_unknown_store,
);
