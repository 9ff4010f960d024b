//! BTF for a program written in the DSL, so the kernel can show our names and comments: one
//! `FUNC` per function of the [`asm::Program`] (`func_info`), and `line_info` whose "source
//! lines" are the DSL's comments. Loaded with the program, it makes `bpftool prog dump xlated`
//! print each comment above its instruction and the verifier log name functions and lines.
//!
//! What the kernel checks, and how this meets it: every function start has a `func_info` and
//! a `line_info` record (a function without a comment at its start gets its name as the
//! line); records are in increasing instruction order and never point into the second slot
//! of a 64-bit immediate load (comments are attached to instruction starts); names are C
//! identifiers. The main function is `global`, the others `static` (the verifier then checks
//! them with their caller, as it does without BTF).

use crate::btf::{blob, Strings};
use crate::ElfError;

/// One `struct bpf_line_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction index (slot) the line describes.
    pub insn: u32,
    /// Offset of the file name in the BTF strings.
    pub file_name_off: u32,
    /// Offset of the line's text in the BTF strings.
    pub line_off: u32,
    /// `line_num << 10 | column`.
    pub line_col: u32,
}

/// A DSL program's BTF and the records that refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugInfo {
    /// The raw BTF (header, types, strings) for `BPF_BTF_LOAD`.
    pub btf: Vec<u8>,
    /// `(instruction index, FUNC type id)` per function, in slot order.
    pub func_info: Vec<(u32, u32)>,
    /// One record per commented instruction and per function start, in slot order.
    pub line_info: Vec<LineInfo>,
}

const BTF_KIND_INT: u32 = uapi::btf::BTF_KIND_INT;
const BTF_KIND_PTR: u32 = uapi::btf::BTF_KIND_PTR;
const BTF_KIND_FUNC: u32 = uapi::btf::BTF_KIND_FUNC;
const BTF_KIND_FUNC_PROTO: u32 = uapi::btf::BTF_KIND_FUNC_PROTO;
const BTF_KIND_ARRAY: u32 = uapi::btf::BTF_KIND_ARRAY;
const BTF_KIND_STRUCT: u32 = uapi::btf::BTF_KIND_STRUCT;
/// `BTF_INT_SIGNED` in an INT's encoding byte.
const BTF_INT_SIGNED: u32 = 1;
/// `enum btf_func_linkage`.
const LINKAGE_STATIC: u32 = 0;
const LINKAGE_GLOBAL: u32 = 1;

fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | vlen
}

/// Fresh strings and types whose type 1 is `int` (signed, 32 bits).
fn with_int() -> (Strings, Vec<u32>) {
    let mut strings = Strings { bytes: vec![0] };
    let int_name = strings.add("int");
    let types = vec![
        int_name,
        info(BTF_KIND_INT, 0),
        4,
        (BTF_INT_SIGNED << 24) | 32,
    ];
    (strings, types)
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f == '_' || f.is_ascii_alphabetic())
        && c.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Builds the BTF of `program`, naming `file` as the source of its lines (e.g.
/// `"counter.dsl"`). Functions are typed `int name(void *ctx)`.
///
/// Fails when a function's name is not a C identifier (the kernel would refuse the BTF).
pub fn debug_info(program: &asm::Program, file: &str) -> Result<DebugInfo, ElfError> {
    // [1] int, [2] void *, [3] int (void *ctx).
    let (mut strings, mut types) = with_int();
    types.extend_from_slice(&[0, info(BTF_KIND_PTR, 0), 0]);
    let ctx_name = strings.add("ctx");
    types.extend_from_slice(&[0, info(BTF_KIND_FUNC_PROTO, 1), 1, ctx_name, 2]);
    let proto = 3;

    let mut func_info = Vec::new();
    let mut functions: Vec<(&str, usize)> = program
        .functions()
        .iter()
        .map(|(n, s)| (n.as_str(), *s))
        .collect();
    functions.sort_by_key(|&(_, slot)| slot);
    for (i, (name, slot)) in functions.iter().enumerate() {
        if !is_identifier(name) {
            return Err(ElfError::Btf(format!(
                "function name {name:?} is not a C identifier"
            )));
        }
        let linkage = if i == 0 {
            LINKAGE_GLOBAL
        } else {
            LINKAGE_STATIC
        };
        let n = strings.add(name);
        types.extend_from_slice(&[n, info(BTF_KIND_FUNC, linkage), proto]);
        // Types 1-3 above, then one FUNC per function.
        func_info.push((*slot as u32, 4 + i as u32));
    }

    let file_off = strings.add(file);
    let starts: std::collections::BTreeMap<usize, &str> =
        functions.iter().map(|&(n, s)| (s, n)).collect();
    let mut lines: std::collections::BTreeMap<usize, String> = program
        .comments()
        .iter()
        .map(|(&slot, text)| (slot, text.clone()))
        .collect();
    for (&slot, name) in &starts {
        lines.entry(slot).or_insert_with(|| format!("{name}:"));
    }
    let line_info = lines
        .iter()
        .enumerate()
        .map(|(i, (&slot, text))| LineInfo {
            insn: slot as u32,
            file_name_off: file_off,
            line_off: strings.add(text),
            line_col: ((i as u32 + 1) << 10) | 1,
        })
        .collect();

    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    Ok(DebugInfo {
        btf: blob(&type_bytes, &strings.bytes),
        func_info,
        line_info,
    })
}

/// BTF describing a map's key and value, for the maps the kernel creates only with BTF
/// (socket, task, inode and cgroup local storage; values with timers or spin locks need
/// their real types instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapTypes {
    /// The raw BTF for `BPF_BTF_LOAD`.
    pub btf: Vec<u8>,
    /// The key's type id: `int` for 4-byte keys, else `struct key { u8 bytes[N]; }`.
    pub key_type_id: u32,
    /// The value's type id: `struct value { u8 bytes[N]; }`.
    pub value_type_id: u32,
}

/// BTF for a map with `key_size`-byte keys and `value_size`-byte values, both opaque bytes
/// (a 4-byte key is an `int`, as local storage maps require). Fails on a zero size.
pub fn map_types(key_size: u32, value_size: u32) -> Result<MapTypes, ElfError> {
    if key_size == 0 || value_size == 0 {
        return Err(ElfError::Btf(format!(
            "map types of key size {key_size} and value size {value_size}: sizes must not be 0"
        )));
    }
    // [1] int, [2] unsigned char.
    let (mut strings, mut types) = with_int();
    let uchar = strings.add("unsigned char");
    types.extend_from_slice(&[uchar, info(BTF_KIND_INT, 0), 1, 8]);
    let bytes_name = strings.add("bytes");
    let mut next = 3u32;
    let mut bytes_struct = |types: &mut Vec<u32>, name: &str, size: u32| -> u32 {
        let n = strings.add(name);
        // ARRAY of `size` unsigned chars indexed by int, then the struct around it.
        types.extend_from_slice(&[0, info(BTF_KIND_ARRAY, 0), 0, 2, 1, size]);
        types.extend_from_slice(&[n, info(BTF_KIND_STRUCT, 1), size, bytes_name, next, 0]);
        next += 2;
        next - 1
    };
    let value_type_id = bytes_struct(&mut types, "value", value_size);
    let key_type_id = if key_size == 4 {
        1
    } else {
        bytes_struct(&mut types, "key", key_size)
    };
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    Ok(MapTypes {
        btf: blob(&type_bytes, &strings.bytes),
        key_type_id,
        value_type_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm::{Builder, Reg::*};

    fn sample() -> asm::Program {
        let mut b = Builder::new();
        b.comment("r0 = 2")
            .mov64(R0, 2)
            .call_fn("helper")
            .exit()
            .function("helper")
            .comment("the helper returns 1")
            .mov64(R0, 1)
            .exit();
        b.build().unwrap()
    }

    #[test]
    fn one_func_per_function_and_a_line_per_comment_and_start() {
        let p = sample();
        let d = debug_info(&p, "sample.dsl").unwrap();
        assert_eq!(d.func_info.len(), 2);
        assert_eq!(d.func_info[0], (0, 4));
        assert_eq!(d.func_info[1].1, 5);
        let helper_start = p.functions()[1].1 as u32;
        assert_eq!(d.func_info[1].0, helper_start);
        let slots: Vec<u32> = d.line_info.iter().map(|l| l.insn).collect();
        assert_eq!(slots, vec![0, helper_start]);
        // The strings the records name are in the blob.
        let strings_at = 24 + u32::from_le_bytes(d.btf[16..20].try_into().unwrap()) as usize;
        let text = |off: u32| {
            let s = &d.btf[strings_at + off as usize..];
            String::from_utf8(s[..s.iter().position(|&b| b == 0).unwrap()].to_vec()).unwrap()
        };
        assert_eq!(text(d.line_info[0].line_off), "r0 = 2");
        assert_eq!(text(d.line_info[1].line_off), "the helper returns 1");
        assert_eq!(text(d.line_info[0].file_name_off), "sample.dsl");
        // Increasing line numbers.
        assert!(d.line_info[0].line_col >> 10 < d.line_info[1].line_col >> 10);
    }

    #[test]
    fn a_function_start_without_a_comment_gets_its_name() {
        let mut b = Builder::new();
        b.mov64(R0, 0).exit();
        let d = debug_info(&b.build().unwrap(), "f.dsl").unwrap();
        assert_eq!(d.line_info.len(), 1);
        assert_eq!(d.line_info[0].insn, 0);
    }

    #[test]
    fn map_types_name_an_int_key_and_a_byte_struct_value() {
        let t = map_types(4, 12).unwrap();
        assert_eq!((t.key_type_id, t.value_type_id), (1, 4));
        let t = map_types(8, 12).unwrap();
        assert_eq!((t.key_type_id, t.value_type_id), (6, 4));
        // The type section holds 2 ints, then (array, struct) twice: 16+16+24+24+24+24 bytes.
        let type_len = u32::from_le_bytes(t.btf[12..16].try_into().unwrap());
        assert_eq!(type_len, 128);
        assert!(map_types(0, 4).is_err() && map_types(4, 0).is_err());
    }

    #[test]
    fn names_must_be_identifiers() {
        assert!(is_identifier("main") && is_identifier("_x1"));
        assert!(!is_identifier("1x") && !is_identifier("a-b") && !is_identifier(""));
    }
}
