//! A small JSON reader that remembers where every value and key starts, so that a policy
//! fault can be reported by line and column (RFC 8259, strict: no comments, no trailing
//! commas; duplicate keys are kept for the policy layer to refuse).

/// A JSON value with the byte offset at which it starts in the source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) at: usize,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number exactly as written (already checked against the JSON grammar).
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object, in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) key: String,
    pub(crate) key_at: usize,
    pub(crate) value: Node,
}

/// A syntax fault: where it is (byte offset) and what should have been there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) at: usize,
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// Deep enough for any policy (which nests five levels); shallow enough that hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Parses one JSON document; a UTF-8 byte-order mark at the start is skipped.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    if text.starts_with('\u{feff}') {
        reader.pos = '\u{feff}'.len_utf8();
    }
    reader.skip_whitespace();
    let node = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos < reader.bytes.len() {
        return Err(reader.error_here("end of input"));
    }
    Ok(node)
}

impl Value {
    /// How a value is named in messages: strings and numbers as written (shortened),
    /// containers by kind.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => shorten(n),
            Value::String(s) => format!("\"{}\"", shorten(s)),
            Value::Array(_) => "an array".to_owned(),
            Value::Object(_) => "an object".to_owned(),
        }
    }
}

/// Keeps messages readable when the offending text is long.
pub(crate) fn shorten(s: &str) -> String {
    const KEEP: usize = 40;
    if s.chars().count() <= KEEP {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(KEEP).collect();
        out.push('…');
        out
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Describes what stands at the current position, for "found ..." in messages.
    fn found_here(&self) -> String {
        let rest = &self.text[self.pos..];
        let Some(c) = rest.chars().next() else {
            return "end of input".to_owned();
        };
        match c {
            '"' => {
                // Show the string token if it is well formed, else just the quote.
                let mut probe = Reader {
                    text: self.text,
                    bytes: self.bytes,
                    pos: self.pos,
                };
                match probe.string() {
                    Ok(s) => format!("\"{}\"", shorten(&s)),
                    Err(_) => "'\"'".to_owned(),
                }
            }
            c if c.is_alphanumeric() || c == '-' || c == '+' || c == '.' => {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '+' | '.' | '_'))
                    .collect();
                shorten(&word)
            }
            c if c.is_control() => format!("control character U+{:04X}", u32::from(c)),
            c => format!("'{c}'"),
        }
    }

    fn error_here(&self, expected: &str) -> SyntaxError {
        SyntaxError {
            at: self.pos,
            expected: expected.to_owned(),
            found: self.found_here(),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        let at = self.pos;
        let value = match self.bytes.get(self.pos) {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error_here("less deeply nested JSON"));
                }
                self.object(depth + 1)?
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error_here("less deeply nested JSON"));
                }
                self.array(depth + 1)?
            }
            Some(b'"') => Value::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(b't') if self.bytes[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Value::Bool(true)
            }
            Some(b'f') if self.bytes[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Value::Bool(false)
            }
            Some(b'n') if self.bytes[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Value::Null
            }
            _ => return Err(self.error_here("a JSON value")),
        };
        Ok(Node { at, value })
    }

    fn object(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b'"') {
                let expected = if members.is_empty() {
                    "a key in double quotes or '}'"
                } else {
                    "a key in double quotes"
                };
                return Err(self.error_here(expected));
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error_here("':' after the key"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push(Member { key, key_at, value });
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error_here("',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error_here("',' or ']'")),
            }
        }
    }

    /// Reads a string token starting at the opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            // Copy the run of ordinary characters in one go.
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.bytes.get(self.pos) {
                None => return Err(self.error_here("a closing '\"'")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let simple = match self.bytes.get(self.pos) {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        _ => {
                            return Err(self.error_here(
                                "an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX",
                            ))
                        }
                    };
                    self.pos += 1;
                    let c = match simple {
                        Some(c) => c,
                        None => self.unicode_escape(escape_at)?,
                    };
                    out.push(c);
                }
                Some(_) => {
                    return Err(self.error_here("an escaped control character (like \\n)"));
                }
            }
        }
    }

    /// Reads the four hex digits after `\u` (and a second `\uXXXX` for a surrogate pair).
    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, SyntaxError> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(SyntaxError {
                    at: escape_at,
                    expected: "a low surrogate \\uDC00-\\uDFFF after a high surrogate".to_owned(),
                    found: format!("\\u{high:04X} alone"),
                });
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(SyntaxError {
                    at: escape_at,
                    expected: "a low surrogate \\uDC00-\\uDFFF after a high surrogate".to_owned(),
                    found: format!("\\u{low:04X}"),
                });
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| SyntaxError {
            at: escape_at,
            expected: "a Unicode scalar value".to_owned(),
            found: format!("\\u{code:04X}"),
        })
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .bytes
                .get(self.pos)
                .and_then(|&b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error_here("four hex digits after \\u"))?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error_here("a digit")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !matches!(self.bytes.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.error_here("a digit after the decimal point"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !matches!(self.bytes.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.error_here("a digit in the exponent"));
            }
            self.digits();
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }
}

/// Turns a byte offset into a 1-based line and a 1-based column counted in characters.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::{line_column, parse, Value};

    #[test]
    fn reads_values_with_positions() {
        let text =
            "{\n  \"a\": [1, -2.5e3, true, null],\n  \"b\": \"x\\u00e9\\ud83d\\ude00\\n\"\n}";
        let node = parse(text).unwrap();
        let Value::Object(members) = node.value else {
            panic!("not an object")
        };
        assert_eq!(members[0].key, "a");
        assert_eq!(line_column(text, members[0].key_at), (2, 3));
        assert_eq!(members[1].value.value, Value::String("xé😀\n".to_owned()));
        assert_eq!(line_column(text, members[1].value.at), (3, 8));
    }

    #[test]
    fn refuses_bad_syntax() {
        for (text, at) in [
            ("", 0),
            ("{", 1),
            ("{\"a\" 1}", 5),
            ("{\"a\": 1,}", 8),
            ("[1 2]", 3),
            ("[01]", 2),
            ("[1.]", 3),
            ("\"abc", 4),
            ("\"a\\x\"", 3),
            ("\"\\ud800\"", 1),
            ("{} x", 3),
            ("tru", 0),
            ("\"a\tb\"", 2),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.at, at, "{text:?}: {err:?}");
        }
        let deep = "[".repeat(100);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("é\"x", 2), (1, 2));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("a\r\nbc", 4), (2, 2));
    }
}
