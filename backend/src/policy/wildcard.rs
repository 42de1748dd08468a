//! `*` and `?` patterns of actions, resources and `StringLike`, compiled once at parse time.

/// A compiled wildcard pattern. `*` matches any run of characters (including none), `?`
/// matches exactly one character; every other character matches itself, case-sensitively.
/// There is no escape character, as in RAM. (Actions are matched without regard to case by
/// folding both the pattern, at parse time, and the request's action, once per
/// evaluation, with [`fold`].)
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `*`, or any run of stars: matches everything.
    Any,
    /// No wildcard at all.
    Exact(String),
    /// A literal followed by a single trailing `*`, the commonest shape (`ecs:Describe*`).
    Prefix(String),
    /// Stars but no `?` (`acs:ecs:*:*:instance/i-1*`): the literal pieces between the
    /// stars, matched with substring search.
    Pieces {
        first: String,
        middle: Vec<String>,
        last: String,
        /// Total length of the pieces: shorter text cannot match.
        min_len: usize,
    },
    /// Anything with a `?`.
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Star,
    One,
    Char(char),
}

/// Folds one character for case-insensitive comparison: ASCII letters to lower case, other
/// characters to their lower-case form when that is a single character.
#[inline]
pub(crate) fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Folds a whole string with [`fold`].
pub(crate) fn fold_str(s: &str) -> String {
    s.chars().map(fold).collect()
}

/// True when `text`, folded character by character, equals the already-folded `folded`.
#[inline]
pub(crate) fn eq_folded(text: &str, folded: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.len() == folded.len()
            && text
                .bytes()
                .zip(folded.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b);
    }
    text.chars().map(fold).eq(folded.chars())
}

impl Pattern {
    /// Compiles `source`.
    pub(crate) fn new(source: &str) -> Self {
        let text = source.to_owned();
        let kind = if !text.is_empty() && text.chars().all(|c| c == '*') {
            Kind::Any
        } else if !text.contains(['*', '?']) {
            Kind::Exact(text)
        } else if text.ends_with('*') && !text[..text.len() - 1].contains(['*', '?']) {
            let mut prefix = text;
            prefix.pop();
            Kind::Prefix(prefix)
        } else if !text.contains('?') {
            let mut pieces: Vec<String> = text.split('*').map(str::to_owned).collect();
            // At least one star, so at least two pieces.
            let last = pieces.pop().unwrap_or_default();
            let first = if pieces.is_empty() {
                String::new()
            } else {
                pieces.remove(0)
            };
            let middle: Vec<String> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
            let min_len = first.len() + last.len() + middle.iter().map(String::len).sum::<usize>();
            Kind::Pieces {
                first,
                middle,
                last,
                min_len,
            }
        } else {
            let mut tokens: Vec<Token> = Vec::with_capacity(text.len());
            for c in text.chars() {
                let token = match c {
                    '*' => Token::Star,
                    '?' => Token::One,
                    other => Token::Char(other),
                };
                // Consecutive stars mean the same as one and only slow the matcher down.
                if token == Token::Star && tokens.last() == Some(&Token::Star) {
                    continue;
                }
                tokens.push(token);
            }
            Kind::Glob(tokens)
        };
        Pattern { kind }
    }

    /// True when the whole of `text` matches the pattern. Allocates nothing.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(literal) => bytes_eq(text.as_bytes(), literal.as_bytes()),
            Kind::Prefix(prefix) => {
                text.len() >= prefix.len()
                    && bytes_eq(&text.as_bytes()[..prefix.len()], prefix.as_bytes())
            }
            Kind::Pieces {
                first,
                middle,
                last,
                min_len,
            } => pieces(text.as_bytes(), first, middle, last, *min_len),
            Kind::Glob(tokens) => glob(tokens, text),
        }
    }
}

/// Anchored first and last pieces, middle pieces found leftmost in turn (greedy leftmost
/// is exact for patterns whose only wildcard is `*`). Works on bytes: literal UTF-8
/// found in UTF-8 text always sits on character boundaries.
fn pieces(bytes: &[u8], first: &str, middle: &[String], last: &str, min_len: usize) -> bool {
    if bytes.len() < min_len {
        return false;
    }
    let (head, rest) = bytes.split_at(first.len());
    if !bytes_eq(head, first.as_bytes()) {
        return false;
    }
    let (mut rest, tail) = rest.split_at(rest.len() - last.len());
    if !bytes_eq(tail, last.as_bytes()) {
        return false;
    }
    for piece in middle {
        let needle = piece.as_bytes();
        match find(rest, needle) {
            Some(i) => rest = &rest[i + needle.len()..],
            None => return false,
        }
    }
    true
}

/// Slice equality without a call into libc: the strings compared on the hot path are a
/// few dozen bytes long, and there a `memcmp` call measured ten times slower than this.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    for (x, y) in a_words.by_ref().zip(b_words.by_ref()) {
        if x != y {
            return false;
        }
    }
    a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .fold(true, |same, (x, y)| same & (x == y))
}

/// Leftmost occurrence of `needle` (non-empty) in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&lead, _) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let i = from
            + haystack[from..=haystack.len() - needle.len()]
                .iter()
                .position(|&b| b == lead)?;
        if bytes_eq(&haystack[i..i + needle.len()], needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Iterative matcher with single-star backtracking: linear in the common case, never
/// exponential.
fn glob(tokens: &[Token], text: &str) -> bool {
    let mut p = 0;
    let mut t = 0;
    // Where the last star was, and how much text it has swallowed so far.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if tokens.get(p) == Some(&Token::Star) {
            backtrack = Some((p, t));
            p += 1;
            continue;
        }
        let Some(c) = text[t..].chars().next() else {
            // Text used up: only trailing stars may remain (stars were merged at compile
            // time, so at most one).
            return tokens[p..].iter().all(|&tok| tok == Token::Star);
        };
        let fits = match tokens.get(p) {
            Some(Token::One) => true,
            Some(&Token::Char(expected)) => c == expected,
            Some(Token::Star) | None => false,
        };
        if fits {
            p += 1;
            t += c.len_utf8();
            continue;
        }
        let Some((star, swallowed)) = backtrack else {
            return false;
        };
        // Let the star swallow one more character and retry from just after it.
        let Some(next) = text[swallowed..].chars().next() else {
            return false;
        };
        let swallowed = swallowed + next.len_utf8();
        backtrack = Some((star, swallowed));
        p = star + 1;
        t = swallowed;
    }
}

#[cfg(test)]
mod tests {
    use super::{fold_str, Pattern};

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).matches(text)
    }

    /// How actions are matched: both sides folded.
    fn mi(pattern: &str, text: &str) -> bool {
        Pattern::new(&fold_str(pattern)).matches(&fold_str(text))
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("ab*", "ab"));
        assert!(m("ab*", "abzzz"));
        assert!(!m("ab*", "a"));
        assert!(m("*bc", "abc"));
        assert!(!m("*bc", "abcd"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("a?c", "abbc"));
        assert!(m("?", "é"));
        assert!(!m("??", "é"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(m("*a*a*a*", "xaxaxa"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(m(
            "acs:ecs:*:*:instance/i-?23",
            "acs:ecs:cn-hangzhou:123:instance/i-123"
        ));
        assert!(m("a*?", "ab"));
        assert!(!m("a*?", "a"));
        assert!(m("*?*", "x"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("ab*ab", "abab"));
        assert!(!m("ab*ab", "aba"));
        assert!(m("*é*", "café!"));
        assert!(m("acs:*:*:*:k/*", "acs:kms:cn:1:k/x"));
        assert!(!m("acs:*:*:*:k/*", "acs:kms:cn:k/x"));
        assert!(!m("*?*", ""));
    }

    #[test]
    fn case_rules() {
        assert!(!m("Abc", "abc"));
        assert!(mi("Abc", "aBC"));
        assert!(mi("ECS:Describe*", "ecs:describeinstances"));
        assert!(mi("ecs:*instance?", "ECS:StartInstanceS"));
        assert!(mi("ÄB", "äb"));
        assert!(mi("ecs:*k*", "ecs:\u{212A}"));
        assert!(mi("*:DESCRIBE*S", "ecs:describeInstances"));
        assert!(!mi("*:DESCRIBE*S", "ecs:describeInstance"));
        assert!(!mi("ecs:Describe*", "ecs:Start"));
    }
}
