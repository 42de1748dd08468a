//! Condition operators: their names, the typed values a policy gives them, and how one
//! condition is decided against the values a request supplies for its key.

use std::cmp::Ordering;
use std::net::IpAddr;

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime};

use super::wildcard::{bytes_eq, eq_folded, fold_str, Pattern};

/// The condition operators of RAM policy version "1". Each may also be written with the
/// `IfExists` suffix (see [`Operator::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

impl Operator {
    /// Every operator, in the order the RAM documentation lists them.
    pub const ALL: [Operator; 21] = [
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringEqualsIgnoreCase,
        Operator::StringNotEqualsIgnoreCase,
        Operator::StringLike,
        Operator::StringNotLike,
        Operator::NumericEquals,
        Operator::NumericNotEquals,
        Operator::NumericLessThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThan,
        Operator::NumericGreaterThanEquals,
        Operator::DateEquals,
        Operator::DateNotEquals,
        Operator::DateLessThan,
        Operator::DateLessThanEquals,
        Operator::DateGreaterThan,
        Operator::DateGreaterThanEquals,
        Operator::Bool,
        Operator::IpAddress,
        Operator::NotIpAddress,
    ];

    /// The operator's name as written in a policy (without `IfExists`).
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringNotEquals => "StringNotEquals",
            Operator::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            Operator::StringLike => "StringLike",
            Operator::StringNotLike => "StringNotLike",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericNotEquals => "NumericNotEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::DateEquals => "DateEquals",
            Operator::DateNotEquals => "DateNotEquals",
            Operator::DateLessThan => "DateLessThan",
            Operator::DateLessThanEquals => "DateLessThanEquals",
            Operator::DateGreaterThan => "DateGreaterThan",
            Operator::DateGreaterThanEquals => "DateGreaterThanEquals",
            Operator::Bool => "Bool",
            Operator::IpAddress => "IpAddress",
            Operator::NotIpAddress => "NotIpAddress",
        }
    }

    /// Reads an operator name as written in a policy, case-sensitively: `Some((operator,
    /// if_exists))`, or `None` for anything else.
    pub fn parse(name: &str) -> Option<(Operator, bool)> {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (name, false),
        };
        Operator::ALL
            .iter()
            .find(|op| op.name() == base)
            .map(|&op| (op, if_exists))
    }

    /// The negated operators hold when *no* value matches (the values are NOR-ed), and hold
    /// when the key is absent from the request.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
        )
    }

    /// What a value given to this operator must look like, for messages.
    pub(crate) fn expects(self) -> &'static str {
        match self {
            Operator::StringEquals
            | Operator::StringNotEquals
            | Operator::StringEqualsIgnoreCase
            | Operator::StringNotEqualsIgnoreCase
            | Operator::StringLike
            | Operator::StringNotLike => "a string",
            Operator::NumericEquals
            | Operator::NumericNotEquals
            | Operator::NumericLessThan
            | Operator::NumericLessThanEquals
            | Operator::NumericGreaterThan
            | Operator::NumericGreaterThanEquals => "a number",
            Operator::DateEquals
            | Operator::DateNotEquals
            | Operator::DateLessThan
            | Operator::DateLessThanEquals
            | Operator::DateGreaterThan
            | Operator::DateGreaterThanEquals => {
                "an ISO 8601 date and time with a zone, like \"2025-01-31T17:00:00+08:00\""
            }
            Operator::Bool => "true or false",
            Operator::IpAddress | Operator::NotIpAddress => {
                "an IPv4 or IPv6 address or CIDR block, like \"192.168.0.0/16\""
            }
        }
    }
}

/// How a request value must compare with a policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Eq => ordering == Ordering::Equal,
            Cmp::Lt => ordering == Ordering::Less,
            Cmp::Le => ordering != Ordering::Greater,
            Cmp::Gt => ordering == Ordering::Greater,
            Cmp::Ge => ordering != Ordering::Less,
        }
    }
}

/// A number as written: integers compare exactly (account ids exceed `f64` precision),
/// anything with a fraction or exponent as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    #[expect(
        clippy::cast_precision_loss,
        reason = "mixed integer/decimal comparisons are approximate by nature"
    )]
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    fn compare(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            // Both finite (checked on parse), so there is always an order.
            _ => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }
}

/// An IP block; IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Cidr::V4 { network, mask }, IpAddr::V4(a)) => u32::from(a) & mask == network,
            (Cidr::V6 { network, mask }, IpAddr::V6(a)) => u128::from(a) & mask == network,
            _ => false,
        }
    }
}

/// The policy's values for one condition, typed by the operator at parse time.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Exact(Vec<String>),
    /// Stored folded.
    IgnoreCase(Vec<String>),
    Like(Vec<Pattern>),
    Numeric(Cmp, Vec<Number>),
    /// Instants as Unix nanoseconds.
    Date(Cmp, Vec<i128>),
    Bool(Vec<bool>),
    Ip(Vec<Cidr>),
}

/// One `operator: { key: values }` entry of a statement's `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    operator: Operator,
    if_exists: bool,
    /// Stored folded: condition keys are case-insensitive.
    key: String,
    values: Values,
}

/// A value as it appeared in the policy: a JSON string, number or boolean, read according
/// to the operator (so `"Bool": {"acs:MFAPresent": true}` and `"NumericLessThan": {"k": 10}`
/// work as well as their quoted forms).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    String(String),
    Number(String),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> &str {
        match self {
            Scalar::String(s) | Scalar::Number(s) => s,
            Scalar::Bool(true) => "true",
            Scalar::Bool(false) => "false",
        }
    }

    fn describe(&self) -> String {
        match self {
            Scalar::String(s) => format!("\"{}\"", super::json::shorten(s)),
            other => other.text().to_owned(),
        }
    }
}

/// Why a policy value does not suit its operator: the index of the value in the list,
/// what was expected and what was found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueFault {
    pub(crate) index: usize,
    pub(crate) expected: String,
    pub(crate) found: String,
}

impl Condition {
    /// Builds a condition, reading every value as the operator's type.
    pub(crate) fn new(
        operator: Operator,
        if_exists: bool,
        key: &str,
        raw: &[Scalar],
    ) -> Result<Condition, ValueFault> {
        let values = match operator {
            Operator::StringEquals | Operator::StringNotEquals => {
                Values::Exact(raw.iter().map(|s| s.text().to_owned()).collect())
            }
            Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                Values::IgnoreCase(raw.iter().map(|s| fold_str(s.text())).collect())
            }
            Operator::StringLike | Operator::StringNotLike => {
                Values::Like(raw.iter().map(|s| Pattern::new(s.text())).collect())
            }
            Operator::NumericEquals
            | Operator::NumericNotEquals
            | Operator::NumericLessThan
            | Operator::NumericLessThanEquals
            | Operator::NumericGreaterThan
            | Operator::NumericGreaterThanEquals => {
                Values::Numeric(cmp_of(operator), read_all(operator, raw, parse_number)?)
            }
            Operator::DateEquals
            | Operator::DateNotEquals
            | Operator::DateLessThan
            | Operator::DateLessThanEquals
            | Operator::DateGreaterThan
            | Operator::DateGreaterThanEquals => {
                Values::Date(cmp_of(operator), read_all(operator, raw, parse_date)?)
            }
            Operator::Bool => Values::Bool(read_all(operator, raw, parse_bool)?),
            Operator::IpAddress | Operator::NotIpAddress => {
                Values::Ip(read_all(operator, raw, parse_cidr)?)
            }
        };
        Ok(Condition {
            operator,
            if_exists,
            key: fold_str(key),
            values,
        })
    }

    /// The condition key, folded to lower case.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Decides the condition given the request's values for its key (`None` or empty when
    /// the request does not carry the key).
    ///
    /// - Key absent: `...IfExists` forms and negated operators hold; the others do not.
    /// - Key present: a positive operator holds when some request value matches some
    ///   policy value (OR); a negated operator holds when none does (NOR).
    /// - A request value that cannot be read as the operator's type (a number, a date, a
    ///   boolean, an address) matches nothing; `unreadable` is told about it.
    pub(crate) fn holds(
        &self,
        request_values: Option<&[String]>,
        mut unreadable: impl FnMut(&str, &'static str),
    ) -> bool {
        let negated = self.operator.is_negated();
        let present = match request_values {
            Some(values) if !values.is_empty() => values,
            _ => return self.if_exists || negated,
        };
        let mut any = false;
        for value in present {
            match self.matches(value) {
                Some(true) => {
                    any = true;
                    break;
                }
                Some(false) => {}
                None => unreadable(value, self.operator.expects()),
            }
        }
        any != negated
    }

    /// Whether one request value matches any policy value (`None`: unreadable value).
    fn matches(&self, value: &str) -> Option<bool> {
        Some(match &self.values {
            Values::Exact(list) => list
                .iter()
                .any(|v| bytes_eq(v.as_bytes(), value.as_bytes())),
            Values::IgnoreCase(list) => list.iter().any(|v| eq_folded(value, v)),
            Values::Like(list) => list.iter().any(|p| p.matches(value)),
            Values::Numeric(cmp, list) => {
                let n = parse_number(value)?;
                list.iter().any(|&v| cmp.accepts(n.compare(v)))
            }
            Values::Date(cmp, list) => {
                let d = parse_date(value)?;
                list.iter().any(|v| cmp.accepts(d.cmp(v)))
            }
            Values::Bool(list) => {
                let b = parse_bool(value)?;
                list.contains(&b)
            }
            Values::Ip(list) => {
                let ip = value.parse::<IpAddr>().ok()?.to_canonical();
                list.iter().any(|c| c.contains(ip))
            }
        })
    }
}

/// Reads every policy value as the operator's type, naming the first that does not fit.
fn read_all<T>(
    operator: Operator,
    raw: &[Scalar],
    read: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ValueFault> {
    raw.iter()
        .enumerate()
        .map(|(index, scalar)| {
            read(scalar.text()).ok_or_else(|| ValueFault {
                index,
                expected: format!("{} for {}", operator.expects(), operator.name()),
                found: scalar.describe(),
            })
        })
        .collect()
}

fn cmp_of(operator: Operator) -> Cmp {
    match operator {
        Operator::NumericLessThan | Operator::DateLessThan => Cmp::Lt,
        Operator::NumericLessThanEquals | Operator::DateLessThanEquals => Cmp::Le,
        Operator::NumericGreaterThan | Operator::DateGreaterThan => Cmp::Gt,
        Operator::NumericGreaterThanEquals | Operator::DateGreaterThanEquals => Cmp::Ge,
        _ => Cmp::Eq,
    }
}

/// A decimal number: optional sign, digits, optional fraction and exponent. No `inf`,
/// `NaN`, hex or blanks.
fn parse_number(s: &str) -> Option<Number> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    if let Some(e) = exponent {
        if !all_digits(e.strip_prefix(['-', '+']).unwrap_or(e)) {
            return None;
        }
    }
    if fraction.is_none() && exponent.is_none() {
        if let Ok(i) = s.parse::<i128>() {
            return Some(Number::Int(i));
        }
    }
    let f = s.parse::<f64>().ok()?;
    f.is_finite().then_some(Number::Float(f))
}

/// An instant in ISO 8601 with a zone (`Z` or `±hh:mm`), or a bare date meaning midnight
/// UTC. A date-time without a zone is refused: its instant would be a guess.
fn parse_date(s: &str) -> Option<i128> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if s.len() == 10 {
        if let Ok(d) = Date::parse(s, &Iso8601::DEFAULT) {
            return Some(d.midnight().assume_utc().unix_timestamp_nanos());
        }
    }
    None
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `a.b.c.d`, `a.b.c.d/n` (n ≤ 32), an IPv6 address, or `addr/n` (n ≤ 128). Host bits
/// below the prefix are ignored.
fn parse_cidr(s: &str) -> Option<Cidr> {
    let (address, prefix) = match s.split_once('/') {
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (a, Some(p.parse::<u32>().ok()?))
        }
        None => (s, None),
    };
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let prefix = prefix.unwrap_or(32);
            if prefix > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            Some(Cidr::V4 {
                network: u32::from(a) & mask,
                mask,
            })
        }
        IpAddr::V6(a) => {
            let prefix = prefix.unwrap_or(128);
            if prefix > 128 {
                return None;
            }
            // An IPv4-mapped block (::ffff:a.b.c.d/n, n ≥ 96) is the IPv4 block it carries.
            if let (Some(v4), true) = (a.to_ipv4_mapped(), prefix >= 96) {
                let prefix = prefix - 96;
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                return Some(Cidr::V4 {
                    network: u32::from(v4) & mask,
                    mask,
                });
            }
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            Some(Cidr::V6 {
                network: u128::from(a) & mask,
                mask,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_cidr, parse_date, parse_number, Number, Operator};

    #[test]
    fn operator_names_round_trip() {
        for op in Operator::ALL {
            assert_eq!(Operator::parse(op.name()), Some((op, false)));
            let with_suffix = format!("{}IfExists", op.name());
            assert_eq!(Operator::parse(&with_suffix), Some((op, true)));
        }
        assert_eq!(Operator::parse("stringequals"), None);
        assert_eq!(Operator::parse("IfExists"), None);
        assert_eq!(Operator::parse("StringEqualsIfExistsIfExists"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(Number::Int(10)));
        assert_eq!(parse_number("-3"), Some(Number::Int(-3)));
        assert_eq!(parse_number("2.5"), Some(Number::Float(2.5)));
        assert_eq!(parse_number("1e3"), Some(Number::Float(1000.0)));
        for bad in [
            "", "-", "1.", ".5", "0x10", "inf", "NaN", "1e", " 1", "1,0", "1e999",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        let a = parse_date("2019-08-12T17:00:00+08:00").unwrap();
        let b = parse_date("2019-08-12T09:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(parse_date("2019-08-12T09:00:00.5Z").unwrap() > b);
        assert_eq!(
            parse_date("2019-08-12").unwrap(),
            parse_date("2019-08-12T00:00:00Z").unwrap()
        );
        for bad in [
            "2019-08-12T17:00:00",
            "yesterday",
            "2019-13-01T00:00:00Z",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        for good in [
            "10.0.0.0/8",
            "10.1.2.3",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::1",
            "::/0",
        ] {
            assert!(parse_cidr(good).is_some(), "{good}");
        }
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "2001:db8::/129",
            "10.0.0.0/",
            "x",
            "1.2.3.4/+1",
        ] {
            assert!(parse_cidr(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_cidr("::ffff:10.0.0.0/104"), parse_cidr("10.0.0.0/8"));
    }
}
