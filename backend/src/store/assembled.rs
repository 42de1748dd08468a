//! SQL assembled at run time with its binds (search filters, multi-row inserts), for code
//! generic over the engine. sqlx's `QueryBuilder` lends its arguments only for as long as
//! the builder is borrowed, which generic code cannot shorten (the engine's argument type
//! is opaque there); [`Assembled`] hands the SQL and the arguments back apart instead.

use sqlx::{Arguments, Database, Encode, Type};

use super::{StoreError, StoreResult};

/// A statement being written, with the values bound so far. Placeholders are the
/// engine's own, as `QueryBuilder` writes them.
pub(super) struct Assembled<'q, D: Database> {
    sql: String,
    args: D::Arguments<'q>,
    failed: Option<sqlx::error::BoxDynError>,
}

impl<'q, D: Database> Assembled<'q, D> {
    /// A statement starting with `sql`.
    pub(super) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: D::Arguments::default(),
            failed: None,
        }
    }

    /// Appends `sql` as it is.
    pub(super) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write as _;
        if write!(self.sql, "{sql}").is_err() {
            self.failed
                .get_or_insert("could not write the statement".into());
        }
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn bind<T: 'q + Encode<'q, D> + Type<D>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.failed.get_or_insert(e);
        }
        if self.args.format_placeholder(&mut self.sql).is_err() {
            self.failed
                .get_or_insert("could not write a placeholder".into());
        }
        self
    }

    /// Appends `VALUES (…), (…)`: one parenthesised row per item of `rows`, whose values
    /// `row` binds in column order.
    pub(super) fn values<R>(
        &mut self,
        rows: &[R],
        mut row: impl FnMut(&mut Separated<'_, 'q, D>, &R),
    ) {
        self.sql.push_str("VALUES ");
        for (i, item) in rows.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            row(&mut self.separated(", "), item);
            self.sql.push(')');
        }
    }

    /// Values separated by `separator`, for a list such as `IN (…)`: the first `bind`
    /// writes only its placeholder, each later one the separator first.
    pub(super) fn separated(&mut self, separator: &'static str) -> Separated<'_, 'q, D> {
        Separated {
            into: self,
            separator,
            first: true,
        }
    }

    /// The SQL and its arguments, for `sqlx::query_with` and friends; fails if a value
    /// could not be encoded.
    pub(super) fn finish(self) -> StoreResult<(String, D::Arguments<'q>)> {
        match self.failed {
            Some(e) => Err(StoreError::Db(sqlx::Error::Encode(e))),
            None => Ok((self.sql, self.args)),
        }
    }
}

/// A list of values being written into an [`Assembled`] statement.
pub(super) struct Separated<'a, 'q, D: Database> {
    into: &'a mut Assembled<'q, D>,
    separator: &'static str,
    first: bool,
}

impl<'q, D: Database> Separated<'_, 'q, D> {
    /// The list's next value.
    pub(super) fn bind<T: 'q + Encode<'q, D> + Type<D>>(&mut self, value: T) -> &mut Self {
        if !self.first {
            self.into.sql.push_str(self.separator);
        }
        self.first = false;
        self.into.bind(value);
        self
    }
}
