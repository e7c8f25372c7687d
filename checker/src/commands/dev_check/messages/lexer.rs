//! A small Rust lexer for the message lint: enough to find macro calls and
//! method calls and to read string literals (escapes, raw strings, line
//! continuations) without compiling anything.

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    Ident(String),
    /// A string literal, its escapes resolved.
    Str(String),
    Punct(char),
    /// Numbers, characters, lifetimes.
    Other,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) kind: Kind,
    /// The source text, to show a placeholder's argument.
    pub(super) text: String,
    pub(super) line: usize,
}

impl Token {
    pub(super) fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(name) => Some(name),
            _ => None,
        }
    }

    pub(super) fn punct(&self) -> Option<char> {
        match self.kind {
            Kind::Punct(c) => Some(c),
            _ => None,
        }
    }
}

/// Just enough of Rust's lexer to find calls and their string literals:
/// comments are skipped, strings (raw and byte strings too) decoded, and a
/// lifetime is not mistaken for a character.
pub(super) fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let text = |from: usize, to: usize| chars[from..to.min(chars.len())].iter().collect::<String>();
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let start_line = line;
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            let (value, end, newlines) = quoted(&chars, i + 1);
            i = end;
            line += newlines;
            tokens.push(Token {
                kind: Kind::Str(value),
                text: text(start, i),
                line: start_line,
            });
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word = text(start, i);
            let prefix = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
            let raw = word.ends_with('r');
            let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
            if prefix && raw && chars.get(i + hashes) == Some(&'"') {
                let (value, end, newlines) = raw_quoted(&chars, i + hashes + 1, hashes);
                i = end;
                line += newlines;
                tokens.push(Token {
                    kind: Kind::Str(value),
                    text: text(start, i),
                    line: start_line,
                });
            } else if prefix && !raw && chars.get(i) == Some(&'"') {
                let (value, end, newlines) = quoted(&chars, i + 1);
                i = end;
                line += newlines;
                tokens.push(Token {
                    kind: Kind::Str(value),
                    text: text(start, i),
                    line: start_line,
                });
            } else if word == "r" && hashes == 1 {
                // A raw identifier, `r#type`.
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name = text(start + 2, i);
                tokens.push(Token {
                    kind: Kind::Ident(name),
                    text: text(start, i),
                    line: start_line,
                });
            } else {
                tokens.push(Token {
                    kind: Kind::Ident(word.clone()),
                    text: word,
                    line: start_line,
                });
            }
        } else if c == '\'' {
            // A character ('a', '\n', '\'') or a lifetime ('a, 'static).
            if next == Some('\\') {
                // Past the quote, the backslash and the escaped character.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            tokens.push(Token {
                kind: Kind::Other,
                text: text(start, i),
                line: start_line,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            tokens.push(Token {
                kind: Kind::Other,
                text: text(start, i),
                line: start_line,
            });
        } else {
            i += 1;
            tokens.push(Token {
                kind: Kind::Punct(c),
                text: c.to_string(),
                line: start_line,
            });
        }
    }
    tokens
}

/// A string literal's value from just after its opening quote: the value,
/// the index after the closing quote, and the newlines it spans.
fn quoted(chars: &[char], mut i: usize) -> (String, usize, usize) {
    let mut value = String::new();
    let mut newlines = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '"' => break,
            '\n' => {
                newlines += 1;
                value.push(c);
            }
            '\\' => {
                let Some(&escaped) = chars.get(i) else { break };
                i += 1;
                match escaped {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    'x' => {
                        let hex: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                        i += 2;
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            value.push(c);
                        }
                    }
                    'u' => {
                        let end = chars[i..].iter().position(|&c| c == '}').map(|p| i + p);
                        if let Some(end) = end {
                            let hex: String = chars[i + 1..end].iter().collect();
                            if let Some(c) =
                                u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                            {
                                value.push(c);
                            }
                            i = end + 1;
                        }
                    }
                    '\n' => {
                        // A line continuation: the newline and the next
                        // line's leading whitespace are not in the string.
                        newlines += 1;
                        while i < chars.len() && chars[i].is_whitespace() {
                            if chars[i] == '\n' {
                                newlines += 1;
                            }
                            i += 1;
                        }
                    }
                    other => value.push(other),
                }
            }
            _ => value.push(c),
        }
    }
    (value, i, newlines)
}

/// A raw string's value from just after its opening quote, closed by a quote
/// and `hashes` `#`s.
fn raw_quoted(chars: &[char], mut i: usize, hashes: usize) -> (String, usize, usize) {
    let mut value = String::new();
    let mut newlines = 0;
    while i < chars.len() {
        let closes = chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes;
        if closes {
            return (value, i + 1 + hashes, newlines);
        }
        if chars[i] == '\n' {
            newlines += 1;
        }
        value.push(chars[i]);
        i += 1;
    }
    (value, i, newlines)
}
