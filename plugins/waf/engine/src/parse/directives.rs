//! Splits a SecLang file into directives and their arguments.

/// One directive with its line number (of its first line) and arguments,
/// quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub line: usize,
    pub name: String,
    pub args: Vec<String>,
}

/// Joins backslash-continued lines, drops comments and blank lines, and
/// splits each directive into words.
pub fn directives(text: &str) -> Result<Vec<Directive>, (usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if pending.is_empty() {
            start_line = index + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            continue;
        }
        pending.push_str(line);
        let words = split_words(&pending).map_err(|reason| (start_line, reason))?;
        pending.clear();
        let mut words = words.into_iter();
        if let Some(name) = words.next() {
            out.push(Directive {
                line: start_line,
                name,
                args: words.collect(),
            });
        }
    }
    if !pending.is_empty() {
        return Err((start_line, "the file ends inside a continued line".into()));
    }
    Ok(out)
}

/// Words separated by white space; a word in double quotes may hold white
/// space, and `\"` inside it is a quote. Other backslashes are kept: they
/// belong to the regular expressions.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'"') => {
                        word.push('"');
                        chars.next();
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    other => word.push(other),
                }
            }
            if !closed {
                return Err("a quoted argument is not closed".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_continued_lines_and_keeps_regex_backslashes() {
        let text = "# comment\nSecRule ARGS \"@rx a\\d\\\"b\" \\\n    \"id:1,\\\n    pass\"\n\nSecMarker END\n";
        let parsed = directives(text).expect("parses");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].name, "SecRule");
        assert_eq!(parsed[0].args, vec!["ARGS", "@rx a\\d\"b", "id:1,    pass"]);
        assert_eq!(parsed[0].line, 2);
        assert_eq!(parsed[1].args, vec!["END"]);
    }

    #[test]
    fn unclosed_quote_is_an_error_with_its_line() {
        assert_eq!(
            directives("\nSecRule ARGS \"@rx a").expect_err("refused").0,
            2
        );
    }
}
