//! MySQL statements on a list of job ids: the lease UPDATE of a grab and the fenced DELETE
//! of finished jobs (with its locking read).
//!
//! Two things diesel's `eq_any` does not give them:
//! - **Primary-key access.** For an IN list that is a large part of a small table, InnoDB's
//!   optimizer prefers a full scan (`type ALL`, or the whole primary key), and a locking
//!   statement that scans locks every row it reads, if only until it has evaluated the
//!   row. A grab's `FOR UPDATE SKIP LOCKED` running at that moment skips those rows: it
//!   found due jobs and locked none, so a pool draining a few hundred jobs took the queue
//!   for empty and `run_until_done` returned with jobs left (1 run in 2 of the pool test,
//!   on a 2,000-job queue). `FORCE INDEX (PRIMARY)` makes every one of these statements
//!   read (and lock) only the rows it names.
//! - **One cached statement per size class.** diesel prepares an IN list anew on every run
//!   on MySQL (a `COM_STMT_PREPARE` round trip). The list is padded to the next power of
//!   two by repeating its last id, which changes no result: there is one prepared
//!   statement per size (at most 11 of each kind per connection).

use diesel::mysql::{Mysql, MysqlConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::{QueryResult, RunQueryDsl};

/// The longest IN list of one statement; longer lists are run in chunks.
pub(crate) const ID_LIST_MAX: usize = 1024;

/// The text of one kind of statement: `HEAD`, the value (lease end or token), `MID`, the
/// ids separated by commas, `TAIL`.
pub(crate) trait IdListSql: 'static {
    const HEAD: &'static str;
    const MID: &'static str;
    const TAIL: &'static str;
}

/// `UPDATE job SET grabbed_until = until WHERE jobid IN (ids)`: a grab's leases, on rows
/// it holds locked.
#[derive(Debug)]
pub(crate) struct SetLease;
impl IdListSql for SetLease {
    const HEAD: &'static str = "UPDATE job FORCE INDEX (PRIMARY) SET grabbed_until = ";
    const MID: &'static str = " WHERE jobid IN (";
    const TAIL: &'static str = ")";
}

/// `SELECT jobid ... WHERE grabbed_until = token AND jobid IN (ids) FOR UPDATE`: the
/// finished jobs still held with this lease token.
#[derive(Debug)]
pub(crate) struct LockFenced;
impl IdListSql for LockFenced {
    const HEAD: &'static str = "SELECT jobid FROM job FORCE INDEX (PRIMARY) WHERE grabbed_until = ";
    const MID: &'static str = " AND jobid IN (";
    const TAIL: &'static str = ") FOR UPDATE";
}

/// `DELETE ... WHERE grabbed_until = token AND jobid IN (ids)` (the multi-table form, the
/// one that takes an index hint).
#[derive(Debug)]
pub(crate) struct DeleteFenced;
impl IdListSql for DeleteFenced {
    const HEAD: &'static str = "DELETE job FROM job FORCE INDEX (PRIMARY) WHERE grabbed_until = ";
    const MID: &'static str = " AND jobid IN (";
    const TAIL: &'static str = ")";
}

/// A statement of kind `K` on `N` ids.
#[derive(Debug)]
pub(crate) struct IdList<K, const N: usize> {
    value: i64,
    ids: [i64; N],
    kind: std::marker::PhantomData<K>,
}

impl<K, const N: usize> IdList<K, N> {
    /// `ids` (1 to `N` of them) padded with its last id.
    pub(crate) fn new(value: i64, ids: &[i64]) -> Self {
        let last = ids.last().copied().unwrap_or(0);
        IdList {
            value,
            ids: std::array::from_fn(|i| ids.get(i).copied().unwrap_or(last)),
            kind: std::marker::PhantomData,
        }
    }

    #[cfg(test)]
    pub(crate) fn ids(&self) -> &[i64; N] {
        &self.ids
    }
}

impl<K: IdListSql, const N: usize> QueryId for IdList<K, N> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<K: IdListSql, const N: usize> QueryFragment<Mysql> for IdList<K, N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        crate::names::push_sql(&mut out, K::HEAD)?;
        out.push_bind_param::<BigInt, _>(&self.value)?;
        out.push_sql(K::MID);
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<BigInt, _>(id)?;
        }
        out.push_sql(K::TAIL);
        Ok(())
    }
}

/// Only [`LockFenced`] returns rows (one id each).
impl<const N: usize> Query for IdList<LockFenced, N> {
    type SqlType = BigInt;
}

impl<K, const N: usize> RunQueryDsl<MysqlConnection> for IdList<K, N> {}

/// Runs `$run` (a `QueryResult`) on the `IdList<$kind, N>` for `$ids`, N its size class
/// (one of the sizes listed).
macro_rules! by_size {
    ($kind:ty, $value:expr, $ids:expr, |$q:ident| $run:expr; $($n:literal)*) => {{
        let ids: &[i64] = $ids;
        match ids.len().next_power_of_two() {
            $($n => {
                let $q = IdList::<$kind, $n>::new($value, ids);
                $run
            })*
            n => Err(diesel::result::Error::QueryBuilderError(
                format!("internal: an id list of {n} (at most {ID_LIST_MAX})").into(),
            )),
        }
    }};
}

/// Runs the UPDATE or DELETE of kind `K` on `ids`, in chunks; returns the rows changed.
pub(crate) fn execute<K: IdListSql>(
    c: &mut MysqlConnection,
    value: i64,
    ids: &[i64],
) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in ids.chunks(ID_LIST_MAX) {
        n += by_size!(K, value, chunk, |q| q.execute(c); 1 2 4 8 16 32 64 128 256 512 1024)?;
    }
    Ok(n)
}

/// The ids among `ids` of jobs whose lease token is `token`, locked (see [`LockFenced`]).
pub(crate) fn lock_fenced(
    c: &mut MysqlConnection,
    token: i64,
    ids: &[i64],
) -> QueryResult<Vec<i64>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_LIST_MAX) {
        let rows: Vec<i64> =
            by_size!(LockFenced, token, chunk, |q| q.load(c); 1 2 4 8 16 32 64 128 256 512 1024)?;
        found.extend(rows);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{IdList, SetLease};

    #[test]
    fn id_lists_are_padded_with_their_last_id() {
        assert_eq!(
            IdList::<SetLease, 4>::new(9, &[1, 2, 3]).ids(),
            &[1, 2, 3, 3]
        );
        assert_eq!(IdList::<SetLease, 1>::new(9, &[5]).ids(), &[5]);
        let full: Vec<i64> = (1..=8).collect();
        assert_eq!(IdList::<SetLease, 8>::new(9, &full).ids().to_vec(), full);
        // The size class of a list is the next power of two of its length.
        assert_eq!(
            [1usize, 3, 5, 1000].map(usize::next_power_of_two),
            [1, 4, 8, 1024]
        );
    }
}
