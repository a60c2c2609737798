//! `t/empty-db.t` (spec 8.9): a database without tables (or that does not exist).

use super::common::*;

/// Two inserts into an empty database both fail: the first with `SchemaMissing`, the
/// second at once (`NoStore`: the store is now marked dead).
fn insert_into_empty_db_fails_twice(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    assert_err!(
        c.insert(Job::new("Foo")),
        Error::SchemaMissing { .. },
        "first insert into an empty db"
    );
    assert!(c.is_dead(&h0(&c)), "an empty db was not marked dead");
    assert_err!(
        c.insert(Job::new("Foo")),
        Error::NoStore(_),
        "second insert into an empty db"
    );
}

/// The second insert does not touch the database.
fn second_insert_does_not_touch_db(ctx: &Ctx) {
    let flaky = FlakyStore::new(ctx.empty_store());
    let c = ctx.client(&[flaky.dyn_store()]);
    assert!(c.insert(Job::new("Foo")).is_err());
    let calls = flaky.calls();
    assert!(calls > 0, "the first insert never asked the store");
    assert!(c.insert(Job::new("Foo")).is_err());
    assert_eq!(flaky.calls(), calls, "the second insert asked a dead store");
}

/// The SchemaMissing message tells the operator to run the migrations.
fn schema_missing_message_names_migrations(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    let e = assert_err!(c.insert(Job::new("Foo")), Error::SchemaMissing { .. });
    assert!(
        e.to_string().contains("migrat"),
        "message should mention migrations: {e}"
    );
}

/// A database that does not exist: inserts fail the same way (unavailable, then dead).
fn insert_into_missing_db_fails_twice(ctx: &Ctx) {
    let c = ctx.client(&[ctx.missing_store()]);
    let e = c
        .insert(Job::new("Foo"))
        .expect_err("insert into a missing db succeeded");
    assert!(
        e.marks_store_dead(),
        "error {e:?} should be one that marks the store dead"
    );
    assert!(c.is_dead(&h0(&c)));
    assert_err!(c.insert(Job::new("Foo")), Error::NoStore(_));
}

/// Working against an empty database finds nothing and does not fail the client.
fn work_once_on_empty_db_finds_nothing(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    can_do(&c, "Foo", TestWorker::ok());
    assert!(!work_once(&c), "work_once found a job in an empty db");
    assert!(
        c.is_dead(&h0(&c)),
        "the failing candidate select did not mark the store dead"
    );
    assert!(!work_once(&c));
}

cases!("empty_db";
    insert_into_empty_db_fails_twice,
    second_insert_does_not_touch_db,
    schema_missing_message_names_migrations,
    insert_into_missing_db_fails_twice,
    work_once_on_empty_db_finds_nothing,
);
