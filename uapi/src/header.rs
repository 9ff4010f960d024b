//! A reader for the subset of C in the kernel's UAPI headers that this crate's checks need:
//! `#define NAME VALUE` (decimal, hex, integer suffixes, `|`, `&`, `<<`, `>>`, `+`, `-`, `~`,
//! parentheses, references to other names), enums with implicit and explicit numbering, the
//! helper list `___BPF_FUNC_MAPPER` (`FN(name, id, ...)`), the masks of the opcode field
//! macros (`#define BPF_CLASS(code) ((code) & 0x07)`) and the layout of plain structs made of
//! fixed-size integers, arrays, anonymous unions, `__bpf_md_ptr(type, name)` and
//! `__attribute__((aligned(N)))`.
//!
//! It is a test tool: it never panics, and what it cannot read it leaves out (so a constant
//! the crate owns that it does not find makes the check fail instead of passing).

use std::collections::BTreeMap;

/// The text without `/* ... */` and `// ...` comments and with `\`-continued lines joined.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                out.push_str(&rest[..b]);
                out.push(' ');
                match rest[b + 2..].find("*/") {
                    Some(e) => rest = &rest[b + 2 + e + 2..],
                    None => break,
                }
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                match rest[l..].find('\n') {
                    Some(e) => rest = &rest[l + e..],
                    None => break,
                }
            }
            _ => {
                out.push_str(rest);
                break;
            }
        }
    }
    out.replace("\\\n", " ")
}

/// A token of the C subset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Num(i128),
    Punct(char),
}

fn tokens(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].to_string()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let lit = s[start..i].trim_end_matches(['u', 'U', 'l', 'L']);
            let v = if let Some(h) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                i128::from_str_radix(h, 16).ok()?
            } else if lit.len() > 1 && lit.starts_with('0') {
                i128::from_str_radix(&lit[1..], 8).ok()?
            } else {
                lit.parse().ok()?
            };
            out.push(Tok::Num(v));
        } else if (c == '<' || c == '>') && b.get(i + 1) == Some(&b[i]) {
            out.push(Tok::Punct(if c == '<' { 'L' } else { 'R' }));
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    Some(out)
}

/// Evaluates a constant expression; names are looked up in `known`.
struct Eval<'a> {
    toks: &'a [Tok],
    pos: usize,
    known: &'a BTreeMap<String, i128>,
}

impl Eval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn binary(&mut self, level: usize) -> Option<i128> {
        const LEVELS: [&[char]; 5] = [&['|'], &['^'], &['&'], &['L', 'R'], &['+', '-']];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut v = self.binary(level + 1)?;
        loop {
            let Some(Tok::Punct(c)) = self.peek().cloned() else {
                return Some(v);
            };
            if !ops.contains(&c) {
                return Some(v);
            }
            self.pos += 1;
            let r = self.binary(level + 1)?;
            v = match c {
                '|' => v | r,
                '^' => v ^ r,
                '&' => v & r,
                'L' => v.checked_shl(u32::try_from(r).ok()?)?,
                'R' => v.checked_shr(u32::try_from(r).ok()?)?,
                '+' => v.checked_add(r)?,
                _ => v.checked_sub(r)?,
            };
        }
    }

    fn unary(&mut self) -> Option<i128> {
        if self.eat('-') {
            return self.unary()?.checked_neg();
        }
        if self.eat('~') {
            return Some(!self.unary()?);
        }
        if self.eat('(') {
            let v = self.binary(0)?;
            return self.eat(')').then_some(v);
        }
        let t = self.peek()?.clone();
        self.pos += 1;
        match t {
            Tok::Num(n) => Some(n),
            Tok::Ident(name) => self.known.get(&name).copied(),
            Tok::Punct(_) => None,
        }
    }
}

/// The value of a constant expression, or `None` when it uses anything else.
pub fn eval(expr: &str, known: &BTreeMap<String, i128>) -> Option<i128> {
    let toks = tokens(expr)?;
    let mut e = Eval {
        toks: &toks,
        pos: 0,
        known,
    };
    let v = e.binary(0)?;
    (e.pos == toks.len()).then_some(v)
}

/// Every enumerator of every enum (named or anonymous) in a comment-free text, with its value,
/// added to `known`.
fn enums(text: &str, known: &mut BTreeMap<String, i128>) {
    let mut rest = text;
    while let Some(i) = rest.find("enum") {
        let before_ok = i == 0 || !is_ident_byte(rest.as_bytes()[i - 1]);
        let after = &rest[i + 4..];
        rest = after;
        if !before_ok || after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Some(open) = after.find(['{', ';', '(']) else {
            break;
        };
        if !after[open..].starts_with('{') {
            continue;
        }
        let Some(close) = after[open..].find('}') else {
            break;
        };
        let body: String = after[open + 1..open + close]
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let mut next = 0i128;
        for entry in body.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (name, value) = match entry.split_once('=') {
                Some((n, e)) => (n.trim(), eval(e, known)),
                None => (entry, Some(next)),
            };
            if !name.bytes().all(is_ident_byte) {
                continue;
            }
            if let Some(v) = value {
                known.insert(name.to_string(), v);
                next = v.saturating_add(1);
            }
        }
        rest = &after[open + close..];
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every object-like `#define NAME VALUE` whose value is a constant expression, added to
/// `known` in order (a define naming an enumerator of the same name keeps the enumerator).
fn defines(text: &str, known: &mut BTreeMap<String, i128>) {
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("define") else {
            continue;
        };
        let rest = rest.trim_start();
        let end = rest
            .bytes()
            .position(|b| !is_ident_byte(b))
            .unwrap_or(rest.len());
        let (name, value) = rest.split_at(end);
        if name.is_empty() || value.starts_with('(') {
            continue; // a function-like macro
        }
        if let Some(v) = eval(value, known) {
            known.insert(name.to_string(), v);
        }
    }
}

/// Every named integer of a header: enumerators and object-like defines.
pub fn constants(text: &str) -> BTreeMap<String, i128> {
    let text = strip_comments(text);
    let mut known = BTreeMap::new();
    enums(&text, &mut known);
    defines(&text, &mut known);
    known
}

/// The mask of a field macro like `#define BPF_CLASS(code) ((code) & 0x07)`.
pub fn field_mask(text: &str, macro_name: &str) -> Option<i128> {
    let text = strip_comments(text);
    let line = text.lines().find(|l| {
        l.trim_start()
            .strip_prefix("#define")
            .is_some_and(|r| r.trim_start().starts_with(&format!("{macro_name}(")))
    })?;
    let mask = line.rsplit('&').next()?.trim().trim_end_matches(')').trim();
    eval(mask, &BTreeMap::new())
}

/// The helper ids of the helper list: `___BPF_FUNC_MAPPER` with explicit ids
/// (`FN(map_lookup_elem, 1, ##ctx)`, Linux 6.2 headers and later) or, in older headers,
/// `__BPF_FUNC_MAPPER` where the position is the id (`FN(map_lookup_elem)`).
pub fn helper_ids(text: &str) -> Vec<(String, i128)> {
    let text = strip_comments(text);
    let Some(start) = text
        .find("#define ___BPF_FUNC_MAPPER")
        .or_else(|| text.find("#define __BPF_FUNC_MAPPER"))
    else {
        return Vec::new();
    };
    let body = &text[start..];
    let body = &body[..body.find('\n').unwrap_or(body.len())];
    let mut out = Vec::new();
    for (pos, call) in body.split("FN(").skip(1).enumerate() {
        let Some(args) = call.split(')').next() else {
            continue;
        };
        let mut parts = args.split(',');
        let Some(name) = parts.next() else {
            continue;
        };
        let id = match parts.next() {
            Some(id) => eval(id, &BTreeMap::new()),
            None => i128::try_from(pos).ok(),
        };
        if let Some(id) = id {
            out.push((name.trim().to_string(), id));
        }
    }
    out
}

/// A member of a struct as laid out by C: its path (`args`, `sk`), byte offset and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name (members of anonymous unions are named directly, as C does).
    pub name: String,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Size in bytes (the whole array for an array).
    pub size: usize,
}

/// The layout of a struct: its members and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Every named member, anonymous unions flattened.
    pub members: Vec<Member>,
    /// `sizeof`.
    pub size: usize,
}

impl Layout {
    /// The offset of a member by name.
    pub fn offset(&self, name: &str) -> Option<usize> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.offset)
    }
}

fn scalar(ty: &str) -> Option<usize> {
    Some(match ty {
        "__u8" | "__s8" | "char" => 1,
        "__u16" | "__s16" | "__be16" | "__le16" => 2,
        "__u32" | "__s32" | "__be32" | "__le32" | "int" => 4,
        "__u64" | "__s64" | "__be64" | "__le64" | "__aligned_u64" => 8,
        _ => return None,
    })
}

fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a.max(1)) * a.max(1)
}

/// Lays out a brace-free-at-top-level member list; returns (members, size, alignment).
fn lay_out(toks: &[Tok], union: bool) -> Result<(Vec<Member>, usize, usize), String> {
    let mut members = Vec::new();
    let (mut cur, mut size, mut align) = (0usize, 0usize, 1usize);
    let mut i = 0;
    let mut place = |m_size: usize, m_align: usize, cur: &mut usize| -> usize {
        let off = if union { 0 } else { align_up(*cur, m_align) };
        if !union {
            *cur = off + m_size;
        }
        size = size.max(off + m_size);
        align = align.max(m_align);
        off
    };
    while i < toks.len() {
        let end = toks[i..]
            .iter()
            .scan(0i32, |depth, t| {
                match t {
                    Tok::Punct('{') | Tok::Punct('(') => *depth += 1,
                    Tok::Punct('}') | Tok::Punct(')') => *depth -= 1,
                    _ => {}
                }
                Some(*depth == 0 && *t == Tok::Punct(';'))
            })
            .position(|x| x)
            .map(|p| i + p)
            .ok_or("a member without `;`")?;
        let stmt = &toks[i..end];
        i = end + 1;
        let first = match stmt.first() {
            Some(Tok::Ident(s)) => Some(s.as_str()),
            _ => None,
        };
        match first {
            Some("union") | Some("struct") if stmt.get(1) == Some(&Tok::Punct('{')) => {
                let is_union = first == Some("union");
                let close = stmt
                    .iter()
                    .rposition(|t| *t == Tok::Punct('}'))
                    .ok_or("no `}`")?;
                if close + 1 != stmt.len() {
                    return Err("named nested struct or union".into());
                }
                let (inner, s, a) = lay_out(&stmt[2..close], is_union)?;
                let off = place(s, a, &mut cur);
                members.extend(inner.into_iter().map(|m| Member {
                    offset: m.offset + off,
                    ..m
                }));
            }
            Some("__bpf_md_ptr") => {
                let name = stmt
                    .iter()
                    .rev()
                    .find_map(|t| match t {
                        Tok::Ident(s) => Some(s.clone()),
                        _ => None,
                    })
                    .ok_or("__bpf_md_ptr without a name")?;
                let offset = place(8, 8, &mut cur);
                members.push(Member {
                    name,
                    offset,
                    size: 8,
                });
            }
            Some(ty) => {
                let elem = scalar(ty).ok_or_else(|| format!("unknown type {ty}"))?;
                let mut k = 1;
                let mut name = None;
                let mut count = 1usize;
                let mut m_align = elem;
                let mut bits = None;
                while k < stmt.len() {
                    match &stmt[k] {
                        Tok::Ident(s) if s == "__attribute__" => {
                            let a = stmt[k..].iter().find_map(|t| match t {
                                Tok::Num(n) => usize::try_from(*n).ok(),
                                _ => None,
                            });
                            let a = a.filter(|a| a.is_power_of_two() && *a <= 4096);
                            m_align = m_align.max(a.ok_or("attribute without an alignment")?);
                            break;
                        }
                        Tok::Ident(s) => name = Some(s.clone()),
                        Tok::Punct('[') => match stmt.get(k + 1) {
                            Some(Tok::Num(n)) if (0..=1 << 20).contains(n) => {
                                count = count
                                    .checked_mul(usize::try_from(*n).map_err(|_| "bad length")?)
                                    .filter(|c| *c <= 1 << 20)
                                    .ok_or("array too large")?;
                                k += 1;
                            }
                            _ => return Err("array length is not a number".into()),
                        },
                        Tok::Punct(':') => match stmt.get(k + 1) {
                            Some(Tok::Num(n)) => {
                                bits = Some(*n);
                                k += 1;
                            }
                            _ => return Err("bit-field width is not a number".into()),
                        },
                        Tok::Punct(']') => {}
                        Tok::Punct(',') => return Err("several declarators in one member".into()),
                        t => return Err(format!("unexpected {t:?}")),
                    }
                    k += 1;
                }
                if let Some(b) = bits {
                    if name.is_some() || !(0..=8 * elem as i128).contains(&b) || union {
                        return Err("only unnamed bit-fields (padding) are supported".into());
                    }
                    if b < 8 * elem as i128 {
                        // Padding narrower than its type: it fills the rest of the storage
                        // unit of its type that `cur` is in, or starts the next one, and does
                        // not change the struct's alignment (`__u8 x; __u32 :24;`).
                        let bits = b as usize;
                        let unit = cur / elem * elem;
                        let start = if (cur - unit) * 8 + bits <= elem * 8 {
                            cur * 8
                        } else {
                            align_up(cur, elem) * 8
                        };
                        cur = (start + bits).div_ceil(8);
                        place(0, 1, &mut cur); // the struct's size covers the padding
                        continue;
                    }
                }
                let offset = place(elem * count, m_align, &mut cur);
                if let Some(name) = name {
                    members.push(Member {
                        name,
                        offset,
                        size: elem * count,
                    });
                }
            }
            None => return Err("a member that does not start with a type".into()),
        }
    }
    Ok((members, align_up(size, align), align))
}

/// The layout of `struct name { ... };` in a header, as the C compiler of a 64-bit target
/// lays it out.
pub fn struct_layout(text: &str, name: &str) -> Result<Layout, String> {
    let text = strip_comments(text);
    let head = format!("struct {name} {{");
    let start = text
        .find(&head)
        .ok_or_else(|| format!("no struct {name}"))?;
    let body = &text[start + head.len()..];
    let toks = tokens(body).ok_or("a token that is not C")?;
    let mut depth = 0i32;
    let close = toks
        .iter()
        .position(|t| {
            match t {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => depth -= 1,
                _ => {}
            }
            depth < 0
        })
        .ok_or("no closing brace")?;
    let (members, size, _) = lay_out(&toks[..close], false)?;
    Ok(Layout { members, size })
}
