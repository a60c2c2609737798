//! Raw SQL that diesel prepares once per connection.
//!
//! `diesel::sql_query` marks every statement unsafe to cache, so each run prepares it anew:
//! on PostgreSQL that is a `Parse` round trip before the `Bind`/`Execute` one, on MySQL a
//! `COM_STMT_PREPARE` and a `COM_STMT_CLOSE` around every execution. The statements here
//! whose text is a constant (PostgreSQL's `INSERT ... SELECT FROM unnest(...)` and its
//! one-statement insert with `pg_notify`) run on hot paths, so they take [`prepared`] instead: binds as
//! with `sql_query(..).bind(..)`, but a static query id (a marker type per statement),
//! which puts the statement in diesel's per-connection cache like any query built with the
//! DSL.
//!
//! Public with the `testing` feature only, for the benchmark's ceilings (which must run
//! the same prepared statements as the store to be ceilings).
//!
//! The text's placeholders (`$1`, `$2`, ... or `?`) mark where the binds go, in order;
//! diesel writes the backend's own placeholder at each. The text names the tables by their
//! plain names; a store with a table prefix or schema gets its own (see `names.rs`).

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// The constant text of one prepared statement; each statement is its own marker type.
pub trait StatementText: 'static {
    /// The SQL, with a placeholder (`$n` or `?`) for each bind.
    const SQL: &'static str;
}

/// The piece of `sql` after placeholder `i` (0: before the first one).
fn piece(sql: &str, i: usize) -> &str {
    let b = sql.as_bytes();
    let mut seen = 0;
    let mut start = 0;
    let mut k = 0;
    while k < b.len() {
        let len = match b[k] {
            b'?' => 1,
            b'$' if b.get(k + 1).is_some_and(u8::is_ascii_digit) => {
                1 + b[k + 1..].iter().take_while(|c| c.is_ascii_digit()).count()
            }
            _ => 0,
        };
        if len == 0 {
            k += 1;
            continue;
        }
        if seen == i {
            return &sql[start..k];
        }
        seen += 1;
        k += len;
        start = k;
    }
    if seen == i {
        &sql[start..]
    } else {
        ""
    }
}

/// A statement (or a statement with some of its binds) and how many binds it holds.
pub trait Chain {
    /// The statement.
    type Text: StatementText;
    /// Binds so far.
    const BINDS: usize;
}

/// A raw statement with a constant text, cached by diesel (see the module doc). Bind its
/// parameters in order with [`Bind::bind`], as with `sql_query`.
#[derive(Debug)]
pub struct Prepared<S>(PhantomData<S>);

/// The statement `S`, to bind and run.
pub fn prepared<S: StatementText>() -> Prepared<S> {
    Prepared(PhantomData)
}

impl<S: StatementText> Chain for Prepared<S> {
    type Text = S;
    const BINDS: usize = 0;
}

/// A statement with one more bind.
#[derive(Debug)]
pub struct Bound<Q, V, ST> {
    query: Q,
    value: V,
    _st: PhantomData<ST>,
}

impl<Q: Chain, V, ST> Chain for Bound<Q, V, ST> {
    type Text = Q::Text;
    const BINDS: usize = Q::BINDS + 1;
}

/// Binding, for every link of the chain.
pub trait Bind: Chain + Sized {
    /// Binds the next parameter, of SQL type `ST`.
    fn bind<ST, V>(self, value: V) -> Bound<Self, V, ST> {
        Bound {
            query: self,
            value,
            _st: PhantomData,
        }
    }
}

impl<T: Chain> Bind for T {}

impl<S: StatementText> QueryId for Prepared<S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Q: QueryId, V, ST: QueryId> QueryId for Bound<Q, V, ST> {
    type QueryId = Bound<Q::QueryId, (), ST::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID && ST::HAS_STATIC_QUERY_ID;
}

impl<S: StatementText, DB: Backend> QueryFragment<DB> for Prepared<S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        crate::names::push_sql(&mut out, piece(S::SQL, 0))
    }
}

impl<Q, V, ST, DB> QueryFragment<DB> for Bound<Q, V, ST>
where
    DB: Backend + HasSqlType<ST>,
    Q: QueryFragment<DB> + Chain,
    V: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param::<ST, V>(&self.value)?;
        crate::names::push_sql(&mut out, piece(<Self as Chain>::Text::SQL, Self::BINDS))
    }
}

impl<S> Query for Prepared<S> {
    type SqlType = Untyped;
}

impl<Q, V, ST> Query for Bound<Q, V, ST> {
    type SqlType = Untyped;
}

impl<S, Conn> RunQueryDsl<Conn> for Prepared<S> {}
impl<Q, V, ST, Conn> RunQueryDsl<Conn> for Bound<Q, V, ST> {}

/// Runs `f` with TheSchwartz's plain table names in force, the scope a statement here is
/// walked in (a store sets its own names around each of its calls; outside any scope a
/// statement is an error). For the benchmark's ceilings, which run these statements on
/// their own connections.
#[cfg(feature = "testing")]
pub fn with_plain_names<R>(f: impl FnOnce() -> R) -> R {
    crate::names::scoped(&std::sync::Arc::default(), false, f)
}

/// Declares a [`StatementText`] marker type: `statement!(Name, "SQL");`.
macro_rules! statement {
    ($(#[$meta:meta])* $name:ident, $sql:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) struct $name;
        impl $crate::prepared::StatementText for $name {
            const SQL: &'static str = $sql;
        }
    };
}
pub(crate) use statement;

#[cfg(test)]
mod tests {
    use super::piece;

    #[test]
    fn pieces_split_at_placeholders() {
        let sql = "INSERT INTO t (a, b) VALUES ($1, $2) RETURNING id";
        assert_eq!(piece(sql, 0), "INSERT INTO t (a, b) VALUES (");
        assert_eq!(piece(sql, 1), ", ");
        assert_eq!(piece(sql, 2), ") RETURNING id");
        assert_eq!(piece(sql, 3), "");
        let sql = "SELECT ? + ?";
        assert_eq!(
            (piece(sql, 0), piece(sql, 1), piece(sql, 2)),
            ("SELECT ", " + ", "")
        );
        assert_eq!(piece("x = $12::int4[]", 1), "::int4[]");
    }
}
