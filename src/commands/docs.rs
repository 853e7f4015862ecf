//! COMMAND DOCS argument trees, read from each command's one-line syntax
//! in its table row. redis-cli builds its typing hints from these trees.
//!
//! The syntax: lowercase words are arguments, UPPERCASE words are tokens (a
//! token followed by a lowercase word is that argument's token), `[...]` is
//! optional, `(...)` groups, `a|b` is a choice, and a trailing `...` repeats
//! the argument or group before it: `key value [NX|XX] [EX seconds|KEEPTTL]`,
//! `(key value)...`.

use crate::resp::Reply;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgType {
    Key,
    String,
    Integer,
    Pattern,
    UnixTime,
    PureToken,
    Oneof,
    Block,
}

impl ArgType {
    fn name(self) -> &'static str {
        match self {
            ArgType::Key => "key",
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::Oneof => "oneof",
            ArgType::Block => "block",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub ty: ArgType,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub children: Vec<Arg>,
}

/// Argument names that are keys, and that are integers.
const KEY_NAMES: &[&str] = &["key", "key1", "key2", "destkey", "newkey", "source", "destination"];
const INTEGER_NAMES: &[&str] = &[
    "seconds",
    "milliseconds",
    "count",
    "offset",
    "start",
    "end",
    "index",
    "index1",
    "index2",
    "db",
    "destination-db",
    "bit",
    "increment",
    "decrement",
    "min-match-len",
    "cursor",
    "protover",
    "client-id",
];

fn leaf(name: &str, token: Option<&str>) -> Arg {
    let ty = if KEY_NAMES.contains(&name) {
        ArgType::Key
    } else if INTEGER_NAMES.contains(&name) {
        ArgType::Integer
    } else if name == "pattern" {
        ArgType::Pattern
    } else if name.starts_with("unix-time") {
        ArgType::UnixTime
    } else {
        ArgType::String
    };
    Arg {
        name: name.to_string(),
        ty,
        token: token.map(str::to_string),
        optional: false,
        multiple: false,
        children: vec![],
    }
}

fn is_token(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_uppercase()) && !word.chars().any(|c| c.is_ascii_lowercase())
}

fn tokenize(syntax: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = syntax.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | ']' | '(' | ')' | '|' | ' ' => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if c != ' ' {
                    out.push(c.to_string());
                }
            }
            '.' if chars.peek() == Some(&'.') => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                chars.next();
                chars.next();
                out.push("...".into());
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Parses alternatives up to the closing bracket (or the end).
fn alternatives(tokens: &[String], at: &mut usize) -> Vec<Vec<Arg>> {
    let mut alts: Vec<Vec<Arg>> = vec![Vec::new()];
    while *at < tokens.len() {
        let t = tokens[*at].as_str();
        *at += 1;
        let current = alts.last_mut().expect("one alternative at least");
        match t {
            "]" | ")" => break,
            "|" => alts.push(Vec::new()),
            "..." => {
                if let Some(last) = current.last_mut() {
                    last.multiple = true;
                }
            }
            "[" | "(" => {
                let mut node = group(alternatives(tokens, at));
                node.optional |= t == "[";
                current.push(node);
            }
            word if is_token(word) => {
                let next = tokens.get(*at).map(String::as_str);
                match next {
                    Some(n) if !is_token(n) && !["[", "]", "(", ")", "|", "..."].contains(&n) => {
                        *at += 1;
                        current.push(leaf(n, Some(word)));
                    }
                    _ => current.push(Arg {
                        name: word.to_lowercase(),
                        ty: ArgType::PureToken,
                        token: Some(word.to_string()),
                        optional: false,
                        multiple: false,
                        children: vec![],
                    }),
                }
            }
            word => current.push(leaf(word, None)),
        }
    }
    alts
}

fn sequence(mut seq: Vec<Arg>) -> Arg {
    if seq.len() == 1 {
        return seq.pop().expect("one element");
    }
    let name = seq.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("_");
    Arg { name, ty: ArgType::Block, token: None, optional: false, multiple: false, children: seq }
}

fn group(mut alts: Vec<Vec<Arg>>) -> Arg {
    if alts.len() == 1 {
        return sequence(alts.pop().expect("one alternative"));
    }
    let children: Vec<Arg> = alts.into_iter().map(sequence).collect();
    let name = children.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("_");
    Arg { name, ty: ArgType::Oneof, token: None, optional: false, multiple: false, children }
}

/// The argument tree of a syntax line.
pub fn parse(syntax: &str) -> Vec<Arg> {
    let tokens = tokenize(syntax);
    let mut at = 0;
    let mut alts = alternatives(&tokens, &mut at);
    if alts.len() == 1 {
        alts.pop().expect("one alternative")
    } else {
        vec![group(alts)]
    }
}

/// Writes an argument list as COMMAND DOCS does (RESP2 maps as flat arrays).
pub fn write(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let mut fields = 2;
        fields += (a.ty == ArgType::Key) as usize;
        fields += a.token.is_some() as usize;
        fields += (a.optional || a.multiple) as usize;
        fields += !a.children.is_empty() as usize;
        out.array(fields * 2);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.ty.name().as_bytes());
        if a.ty == ArgType::Key {
            out.bulk(b"key_spec_index");
            out.int(0);
        }
        if let Some(token) = &a.token {
            out.bulk(b"token");
            out.bulk(token.as_bytes());
        }
        if a.optional || a.multiple {
            let flags: Vec<&str> = [(a.optional, "optional"), (a.multiple, "multiple")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| *f)
                .collect();
            out.bulk(b"flags");
            out.array(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if !a.children.is_empty() {
            out.bulk(b"arguments");
            write(out, &a.children);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(args: &[Arg]) -> String {
        args.iter()
            .map(|a| {
                let mut s = match &a.token {
                    Some(t) if a.ty != ArgType::PureToken => format!("{t}:{}", a.name),
                    Some(t) => t.clone(),
                    None => a.name.clone(),
                };
                if !a.children.is_empty() {
                    let sep = if a.ty == ArgType::Oneof { "|" } else { " " };
                    s = format!(
                        "<{}>",
                        a.children.iter().map(|c| shape(std::slice::from_ref(c))).collect::<Vec<_>>().join(sep)
                    );
                }
                if a.multiple {
                    s.push_str("...");
                }
                if a.optional {
                    s = format!("[{s}]");
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn syntax_lines() {
        let set = parse("key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]");
        assert_eq!(shape(&set), "key value [<NX|XX>] [GET] [<EX:seconds|PX:milliseconds|KEEPTTL>]");
        assert_eq!(set[0].ty, ArgType::Key);
        assert_eq!(set[4].children[0].ty, ArgType::Integer);
        assert_eq!(shape(&parse("(key value)...")), "<key value>...");
        assert_eq!(shape(&parse("key...")), "key...");
        assert_eq!(shape(&parse("key [start end [BYTE|BIT]]")), "key [<start end [<BYTE|BIT>]>]");
        assert_eq!(shape(&parse("(ON|OFF)")), "<ON|OFF>");
        assert_eq!(shape(&parse("cursor [MATCH pattern] [COUNT count]")), "cursor [MATCH:pattern] [COUNT:count]");
        assert!(parse("").is_empty());
    }
}
