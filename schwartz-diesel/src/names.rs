//! Table names: TheSchwartz's per-database `prefix` (and, on PostgreSQL, a schema).
//!
//! The queries are diesel DSL over the `table!` types of `schema.rs` and `ours.rs`, whose
//! SQL names are compile-time constants and whose columns are qualified with them
//! (`"job"."jobid"`). A prefixed store keeps those queries: every table is used through
//! [`Named`], whose `FROM` clause reads the names of the store in scope and, when they are
//! not the plain ones, emits `"app_job" AS "job"`, so the statically qualified columns
//! still resolve. Without a prefix it emits exactly what the `table!` type emits.
//!
//! The names travel in a thread-local scope set around each store operation
//! ([`scoped`]): diesel builds an `UPDATE`'s target from the type alone
//! (`HasTable::table()`), so the names cannot live in the table value. A query walked
//! outside any scope is an error, never a silent use of the plain names.
//!
//! Prepared statements: diesel caches a statement by the query's type. A store's own
//! connections always run with the store's names, so that is sound; a connection of the
//! application may be used with several prefixes, so a prefixed query on it is never
//! cached (see [`Scope::foreign`]).
//!
//! MariaDB refuses an alias in `INSERT INTO` and `DELETE FROM`: an insert target
//! ([`Insert`]) names the table without alias (its column list is unqualified), a delete
//! target ([`Delete`]) is written `DELETE FROM job USING app_job AS job` there.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;

use diesel::backend::Backend as DieselBackend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_source::QuerySource;
use diesel::result::QueryResult;
use diesel::Table;
use schwartz_core::{Error, Result};

/// The longest prefix taken: index names built from it stay within PostgreSQL's 63 bytes.
pub const MAX_PREFIX_LEN: usize = 32;

/// The names of a store's tables: a prefix (`""` for TheSchwartz's plain names) and, on
/// PostgreSQL, a schema (`None`: the connection's `search_path`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Names {
    /// Put before every table name.
    pub prefix: String,
    /// PostgreSQL: the schema that holds the tables.
    pub schema: Option<String>,
}

impl Names {
    /// Checks a prefix and a schema: lowercase ASCII letters, digits and `_`, not starting
    /// with a digit (they are written into SQL unquoted, where PostgreSQL folds case).
    pub fn new(prefix: &str, schema: Option<&str>) -> Result<Names> {
        check_identifier("table prefix", prefix, true)?;
        if let Some(s) = schema {
            check_identifier("schema", s, false)?;
        }
        Ok(Names {
            prefix: prefix.to_string(),
            schema: schema.filter(|s| *s != "public").map(str::to_string),
        })
    }

    /// Whether these are TheSchwartz's plain names (no prefix, no schema).
    pub fn is_plain(&self) -> bool {
        self.prefix.is_empty() && self.schema.is_none()
    }

    /// The SQL name of table `base` (`job`, `error`, ...), schema-qualified when a schema
    /// is set: `app_job`, `jobs.app_job`.
    pub fn table(&self, base: &str) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}{base}", self.prefix),
            None => format!("{}{base}", self.prefix),
        }
    }

    /// The PostgreSQL NOTIFY channel for new jobs (`schwartz_jobs` for the plain names),
    /// so that queues with other names do not wake each other.
    pub fn channel(&self, base: &str) -> String {
        match &self.schema {
            Some(s) => format!("{s}_{}{base}", self.prefix),
            None => format!("{}{base}", self.prefix),
        }
    }

    /// `sql` (ours, with the plain table names) with these names: every table name that
    /// is not a column qualifier's continuation becomes `self.table(name)`, the names of
    /// the notify trigger and function get the prefix, the NOTIFY channels become
    /// `self.channel(name)`. Borrowed unchanged for the plain names.
    pub fn sql<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        if self.is_plain() {
            return sql.into();
        }
        rewrite(sql, |word, _| {
            if TABLES.contains(&word) {
                Some(self.table(word))
            } else if OBJECTS.contains(&word) {
                Some(format!("{}{word}", self.prefix))
            } else if CHANNELS.contains(&word) {
                Some(self.channel(word))
            } else {
                None
            }
        })
        .into()
    }

    /// A migration's SQL with these names (run with the schema as `search_path`, so not
    /// qualified): tables, index names (per schema on PostgreSQL and SQLite), the notify
    /// function and trigger, and the channel get the prefix.
    pub fn migration_sql(&self, sql: &str) -> String {
        rewrite(sql, |word, after_index| {
            if TABLES.contains(&word) || OBJECTS.contains(&word) || after_index {
                Some(format!("{}{word}", self.prefix))
            } else if CHANNELS.contains(&word) {
                Some(self.channel(word))
            } else {
                None
            }
        })
    }

    /// The same prefix without the schema (for catalog queries that name the schema apart).
    #[cfg(feature = "postgres")]
    pub fn unqualified(&self) -> Names {
        Names {
            prefix: self.prefix.clone(),
            schema: None,
        }
    }

    /// Text for messages: `tables prefixed "app_" in schema jobs`.
    pub fn describe(&self) -> String {
        match &self.schema {
            Some(s) => format!("tables prefixed {:?} in schema {s}", self.prefix),
            None => format!("tables prefixed {:?}", self.prefix),
        }
    }
}

fn check_identifier(what: &str, s: &str, empty_ok: bool) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("{what} {s:?}: {why}")));
    if s.is_empty() {
        return if empty_ok { Ok(()) } else { bad("empty") };
    }
    if s.len() > MAX_PREFIX_LEN {
        return bad(&format!("longer than {MAX_PREFIX_LEN} bytes"));
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("must not start with a digit");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return bad("only lowercase ASCII letters, digits and `_` are allowed");
    }
    Ok(())
}

/// The tables, by their plain names.
pub(crate) const TABLES: &[&str] = &[
    "job",
    "funcmap",
    "error",
    "exitstatus",
    "note",
    "schwartz_schedule",
    "schwartz_result",
];

/// The database objects of our migrations, other than tables, that our statements name:
/// PostgreSQL's notify function and trigger, and MySQL's lease index (named by the grab's
/// index hint; index names after `INDEX` in migrations get the prefix anyway).
const OBJECTS: &[&str] = &[
    "schwartz_notify_new_jobs",
    "schwartz_job_notify",
    "job_funcid_grabbed_until",
];

/// The NOTIFY channels (PostgreSQL).
pub(crate) const CHANNELS: &[&str] = &["schwartz_jobs", "schwartz_results"];

/// Replaces SQL words: `f(word, follows_index)` for every identifier-like word that does
/// not follow a `.` (a qualified column keeps its qualifier's rewritten table name, the
/// column itself is never renamed). `follows_index`: the word is the name in
/// `INDEX [IF [NOT] EXISTS] name`.
fn rewrite(sql: &str, f: impl Fn(&str, bool) -> Option<String>) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let bytes = sql.as_bytes();
    let mut i = 0;
    // The last words seen, uppercased, to recognise `INDEX [IF [NOT] EXISTS]`.
    let mut recent: Vec<String> = Vec::new();
    // Whether only whitespace separates this position from the last word.
    let mut spaced = true;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &sql[start..i];
            let qualified_column = start > 0 && bytes[start - 1] == b'.';
            let upper = word.to_ascii_uppercase();
            let after_index = {
                let tail: Vec<&str> = recent.iter().rev().take(4).map(String::as_str).collect();
                matches!(
                    tail.as_slice(),
                    ["INDEX", ..]
                        | ["EXISTS", "NOT", "IF", "INDEX"]
                        | ["EXISTS", "IF", "INDEX", ..]
                ) && spaced
                    && !matches!(upper.as_str(), "IF" | "NOT" | "EXISTS" | "ON")
            };
            match (!qualified_column).then(|| f(word, after_index)).flatten() {
                Some(new) => out.push_str(&new),
                None => out.push_str(word),
            }
            recent.push(upper);
            if recent.len() > 8 {
                recent.remove(0);
            }
            spaced = true;
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            spaced &= ch.is_whitespace();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The names in force on this thread, and whose connection runs the queries.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The store's names.
    pub names: Arc<Names>,
    /// The connection is the application's (see the module docs on prepared statements).
    pub foreign: bool,
}

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Runs `f` with `names` in force for the queries it builds (nests; the outer scope is
/// restored afterwards, also when `f` panics).
pub(crate) fn scoped<T>(names: &Arc<Names>, foreign: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let scope = Scope {
        names: Arc::clone(names),
        foreign,
    };
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(scope)));
    f()
}

/// The names in scope (an error outside any scope).
pub(crate) fn current() -> QueryResult<Scope> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        diesel::result::Error::QueryBuilderError(
            "internal: a query was built outside a table-name scope".into(),
        )
    })
}

/// Writes `sql` (ours, with the plain names) with the names in scope: as it is for the
/// plain names; rewritten otherwise, and never cached on an application's connection (see
/// the module docs).
pub(crate) fn push_sql<DB: DieselBackend>(
    out: &mut AstPass<'_, '_, DB>,
    sql: &str,
) -> QueryResult<()> {
    with_current(|scope| {
        if scope.names.is_plain() {
            out.push_sql(sql);
            return Ok(());
        }
        if scope.foreign {
            out.unsafe_to_cache_prepared();
        }
        out.push_sql(&scope.names.sql(sql));
        Ok(())
    })
}

/// Runs `f` on the scope in force, without cloning it (the hot path of every query walk).
fn with_current<R>(f: impl FnOnce(&Scope) -> QueryResult<R>) -> QueryResult<R> {
    CURRENT.with(|c| match &*c.borrow() {
        Some(scope) => f(scope),
        None => Err(diesel::result::Error::QueryBuilderError(
            "internal: a query was built outside a table-name scope".into(),
        )),
    })
}

/// `sql` (ours, with the plain names) with the names in scope (see [`Names::sql`]).
pub(crate) fn sql(sql: &str) -> QueryResult<String> {
    Ok(current()?.names.sql(sql).into_owned())
}

/// Whether the names in scope are the plain ones (an error outside any scope).
#[cfg(feature = "sqlite")]
pub(crate) fn plain() -> QueryResult<bool> {
    with_current(|scope| Ok(scope.names.is_plain()))
}

/// The table's plain SQL name.
pub(crate) trait BaseName: Table + Copy + Default + 'static {
    /// `job`, `error`, ...
    const NAME: &'static str;
}

/// How a [`Named`] table is used: read or updated ([`Select`]), the target of an `INSERT`
/// ([`Insert`]) or of a `DELETE` ([`Delete`]).
pub(crate) trait Use: Copy + Default + std::fmt::Debug + 'static {}
/// `FROM` of a `SELECT`, target of an `UPDATE`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Select;
/// Target of an `INSERT`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Insert;
/// Target of a `DELETE`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delete;
impl Use for Select {}
impl Use for Insert {}
impl Use for Delete {}

/// Table `T` under the names in scope (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Named<T, U = Select>(pub T, pub PhantomData<U>);

impl<T: BaseName, U: Use> Named<T, U> {
    /// Emits the table: `"job"` for the plain names, else `"app_job" AS "job"` (in the
    /// forms the statement and backend take).
    fn emit<DB: DieselBackend>(&self, pass: AstPass<'_, '_, DB>, kind: Emit) -> QueryResult<()> {
        with_current(|scope| self.emit_in(scope, pass, kind))
    }

    fn emit_in<DB: DieselBackend>(
        &self,
        scope: &Scope,
        mut pass: AstPass<'_, '_, DB>,
        kind: Emit,
    ) -> QueryResult<()> {
        let names = &*scope.names;
        if names.is_plain() {
            return pass.push_identifier(T::NAME);
        }
        if scope.foreign {
            pass.unsafe_to_cache_prepared();
        }
        let real = format!("{}{}", names.prefix, T::NAME);
        let qualified = |pass: &mut AstPass<'_, '_, DB>| -> QueryResult<()> {
            if let Some(s) = &names.schema {
                pass.push_identifier(s)?;
                pass.push_sql(".");
            }
            pass.push_identifier(&real)
        };
        match kind {
            Emit::Aliased => {
                qualified(&mut pass)?;
                pass.push_sql(" AS ");
                pass.push_identifier(T::NAME)
            }
            Emit::Bare => qualified(&mut pass),
            Emit::Using => {
                pass.push_identifier(T::NAME)?;
                pass.push_sql(" USING ");
                qualified(&mut pass)?;
                pass.push_sql(" AS ");
                pass.push_identifier(T::NAME)
            }
        }
    }
}

/// The forms of a table reference.
#[derive(Clone, Copy)]
enum Emit {
    /// `"app_job" AS "job"`.
    Aliased,
    /// `app_job` (MariaDB's INSERT).
    Bare,
    /// `job USING app_job AS job` (MariaDB's DELETE).
    Using,
}

const ALIASED: u8 = 0;
const BARE: u8 = 1;
const USING: u8 = 2;

impl<T: BaseName, U: Use, DB: DieselBackend> QueryFragment<DB> for Named<T, U>
where
    DB: MysqlForms<U>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let kind = match <DB as MysqlForms<U>>::FORM {
            BARE => Emit::Bare,
            USING => Emit::Using,
            _ => Emit::Aliased,
        };
        self.emit(pass, kind)
    }
}

/// The form a use `U` takes on backend `Self` (only MariaDB differs).
pub(crate) trait MysqlForms<U> {
    const FORM: u8;
}

#[cfg(feature = "postgres")]
impl<U: Use> MysqlForms<U> for diesel::pg::Pg {
    const FORM: u8 = ALIASED;
}
#[cfg(feature = "sqlite")]
impl<U: Use> MysqlForms<U> for diesel::sqlite::Sqlite {
    const FORM: u8 = ALIASED;
}
#[cfg(feature = "mysql")]
impl MysqlForms<Select> for diesel::mysql::Mysql {
    const FORM: u8 = ALIASED;
}
#[cfg(feature = "mysql")]
impl MysqlForms<Insert> for diesel::mysql::Mysql {
    const FORM: u8 = BARE;
}
#[cfg(feature = "mysql")]
impl MysqlForms<Delete> for diesel::mysql::Mysql {
    const FORM: u8 = USING;
}

impl<T: BaseName, U: Use> QueryId for Named<T, U> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Changes of `T`'s columns as changes of `Named<T>` (the `SET` list is unqualified).
#[derive(Debug)]
pub(crate) struct Set<V>(pub V);

impl<V: diesel::AsChangeset> diesel::AsChangeset for Set<V>
where
    V::Target: BaseName,
    Named<V::Target>: QuerySource,
{
    type Target = Named<V::Target>;
    type Changeset = V::Changeset;

    fn as_changeset(self) -> Self::Changeset {
        self.0.as_changeset()
    }
}

/// Rows for `T` as rows for `Named<T, Insert>` (the column list is unqualified).
#[derive(Debug)]
pub(crate) struct Rows<V>(pub V);

impl<T: BaseName, V: diesel::Insertable<T>> diesel::Insertable<Named<T, Insert>> for Rows<V> {
    type Values = Retag<V::Values>;

    fn values(self) -> Self::Values {
        Retag(self.0.values())
    }
}

/// The `VALUES` of rows for `T`, inserted into `Named<T, Insert>`: the same SQL. (On
/// SQLite, diesel writes a multi-row insert only for its own table types; a prefixed
/// SQLite store inserts such rows one statement each.)
#[derive(Debug)]
pub(crate) struct Retag<W>(W);

impl<W: QueryFragment<DB>, DB: DieselBackend> QueryFragment<DB> for Retag<W> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }
}

impl<W: diesel::insertable::CanInsertInSingleQuery<DB>, DB: DieselBackend>
    diesel::insertable::CanInsertInSingleQuery<DB> for Retag<W>
{
    fn rows_to_insert(&self) -> Option<usize> {
        self.0.rows_to_insert()
    }
}

impl<W: QueryId> QueryId for Retag<W> {
    type QueryId = W::QueryId;
    const HAS_STATIC_QUERY_ID: bool = W::HAS_STATIC_QUERY_ID;
}

impl<T: BaseName, U: Use> QuerySource for Named<T, U>
where
    T::DefaultSelection: diesel::SelectableExpression<Self>,
{
    type FromClause = Self;
    type DefaultSelection = T::DefaultSelection;

    fn from_clause(&self) -> Self {
        *self
    }

    fn default_selection(&self) -> Self::DefaultSelection {
        self.0.default_selection()
    }
}

impl<T: BaseName, U: Use> diesel::query_builder::AsQuery for Named<T, U>
where
    Self: QuerySource,
    T: diesel::query_builder::AsQuery,
    diesel::internal::table_macro::SelectStatement<diesel::internal::table_macro::FromClause<Self>>:
        diesel::query_builder::Query<SqlType = T::SqlType>,
{
    type SqlType = T::SqlType;
    type Query = diesel::internal::table_macro::SelectStatement<
        diesel::internal::table_macro::FromClause<Self>,
    >;

    fn as_query(self) -> Self::Query {
        diesel::internal::table_macro::SelectStatement::simple(self)
    }
}

impl<T: BaseName, U: Use> Table for Named<T, U>
where
    Self: QuerySource + diesel::query_builder::AsQuery,
    T::PrimaryKey: diesel::SelectableExpression<Self>,
    T::AllColumns: diesel::SelectableExpression<Self>,
{
    type PrimaryKey = T::PrimaryKey;
    type AllColumns = T::AllColumns;

    fn primary_key(&self) -> Self::PrimaryKey {
        self.0.primary_key()
    }

    fn all_columns() -> Self::AllColumns {
        T::all_columns()
    }
}

impl<T: BaseName, U: Use> diesel::associations::HasTable for Named<T, U>
where
    Self: Table,
{
    type Table = Self;

    fn table() -> Self {
        Named(T::default(), PhantomData)
    }
}

impl<T: BaseName, U: Use> diesel::query_builder::IntoUpdateTarget for Named<T, U>
where
    Self: Table,
    <Self as diesel::query_builder::AsQuery>::Query:
        diesel::query_builder::IntoUpdateTarget + diesel::associations::HasTable<Table = Self>,
{
    type WhereClause = <<Self as diesel::query_builder::AsQuery>::Query as diesel::query_builder::IntoUpdateTarget>::WhereClause;

    fn into_update_target(self) -> diesel::query_builder::UpdateTarget<Self, Self::WhereClause> {
        diesel::query_builder::IntoUpdateTarget::into_update_target(
            diesel::query_builder::AsQuery::as_query(self),
        )
    }
}

impl<T: BaseName, U: Use> diesel::query_source::AppearsInFromClause<Named<T, U>> for Named<T, U> {
    type Count = diesel::query_source::Once;
}

/// Implements [`BaseName`] for a `table!` and makes its columns selectable from its
/// [`Named`] forms (the rest of a `Named` table's diesel impls are generic over
/// [`BaseName`]).
macro_rules! named_table {
    ($table:ident: $($column:ident),+ $(,)?) => {
        impl $crate::names::BaseName for $table::table {
            const NAME: &'static str = stringify!($table);
        }
        // (Generic over `T`, this impl would overlap diesel's blanket one for two tables.)
        impl<U: $crate::names::Use> diesel::query_source::AppearsInFromClause<$table::table>
            for $crate::names::Named<$table::table, U>
        {
            type Count = diesel::query_source::Once;
        }
        $(
            impl<U: $crate::names::Use> diesel::SelectableExpression<$crate::names::Named<$table::table, U>>
                for $table::$column
            {
            }
        )+
    };
}
pub(crate) use named_table;

#[cfg(test)]
mod tests {
    use super::Names;

    fn app() -> Names {
        Names::new("app_", None).unwrap()
    }

    #[test]
    fn runtime_sql_renames_tables_and_channels_only() {
        let n = app();
        assert_eq!(
            n.sql("SELECT job.jobid, error_time FROM job JOIN error ON error.jobid = job.jobid"),
            "SELECT app_job.jobid, error_time FROM app_job JOIN app_error ON app_error.jobid = app_job.jobid"
        );
        assert_eq!(
            n.sql("SELECT pg_get_serial_sequence('job', 'jobid')"),
            "SELECT pg_get_serial_sequence('app_job', 'jobid')"
        );
        assert_eq!(n.sql("NOTIFY schwartz_jobs"), "NOTIFY app_schwartz_jobs");
        assert_eq!(
            n.sql("WHERE tgname = 'schwartz_job_notify' AND tgrelid = to_regclass('job')"),
            "WHERE tgname = 'app_schwartz_job_notify' AND tgrelid = to_regclass('app_job')"
        );
        let s = Names::new("p_", Some("jobs")).unwrap();
        assert_eq!(s.sql("DELETE FROM error"), "DELETE FROM jobs.p_error");
        assert_eq!(s.channel("schwartz_jobs"), "jobs_p_schwartz_jobs");
        assert_eq!(Names::default().sql("FROM job"), "FROM job");
    }

    #[test]
    fn migration_sql_renames_tables_indexes_and_objects_not_columns() {
        let n = app();
        assert_eq!(
            n.migration_sql("CREATE INDEX IF NOT EXISTS error_time ON error (error_time);"),
            "CREATE INDEX IF NOT EXISTS app_error_time ON app_error (error_time);"
        );
        assert_eq!(
            n.migration_sql("CREATE UNIQUE INDEX job_funcid_uniqkey ON job (funcid, uniqkey)"),
            "CREATE UNIQUE INDEX app_job_funcid_uniqkey ON app_job (funcid, uniqkey)"
        );
        // MySQL's unnamed inline indexes keep their columns.
        assert_eq!(
            n.migration_sql("INDEX (funcid, run_after),\n INDEX x_y (a)"),
            "INDEX (funcid, run_after),\n INDEX app_x_y (a)"
        );
        assert_eq!(
            n.migration_sql("DROP TRIGGER IF EXISTS schwartz_job_notify ON job; PERFORM pg_notify('schwartz_jobs', '');"),
            "DROP TRIGGER IF EXISTS app_schwartz_job_notify ON app_job; PERFORM pg_notify('app_schwartz_jobs', '');"
        );
        // The grab's index hint names the index its migration made.
        assert_eq!(
            n.sql("SELECT 1 FROM job FORCE INDEX (job_funcid_grabbed_until) WHERE 'job' = ''"),
            "SELECT 1 FROM app_job FORCE INDEX (app_job_funcid_grabbed_until) WHERE 'app_job' = ''"
        );
        assert_eq!(
            n.migration_sql("CREATE INDEX job_funcid_grabbed_until ON job (funcid, grabbed_until)"),
            "CREATE INDEX app_job_funcid_grabbed_until ON app_job (funcid, grabbed_until)"
        );
        assert_eq!(
            n.migration_sql("DROP INDEX IF EXISTS job_grabbed_until; DROP INDEX job_funcid_jobid ON job;"),
            "DROP INDEX IF EXISTS app_job_grabbed_until; DROP INDEX app_job_funcid_jobid ON app_job;"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["App", "1x", "a-b", "a b", "é", "x\"y", &"a".repeat(33)] {
            assert!(Names::new(bad, None).is_err(), "{bad}");
            assert!(Names::new("", Some(bad)).is_err(), "{bad}");
        }
        assert!(Names::new("", Some("")).is_err());
        assert!(Names::new("", Some("public")).unwrap().is_plain());
    }
}
