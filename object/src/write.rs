//! The object writer: programs, map definitions, global data, a license, symbols and
//! relocations, as a relocatable `EM_BPF` ELF64 object that libbpf (and so bpftool) loads.
//!
//! Layout, as clang lays it out: each program's main function in its libbpf section (several
//! programs may share one), bpf-to-bpf subprograms in `.text` (reached through `R_BPF_64_32`
//! relocations on the calls), maps in `.maps` described by a minimal `.BTF` (libbpf 1.0 and
//! later refuse the legacy `maps` section; [`MapFormat::Legacy`] still writes it for older
//! tools), `lddw` map loads with `R_BPF_64_64` relocations against the map symbols, global
//! data sections with relocations against their section symbols, and `license`.

use std::collections::HashMap;

use asm::insn::op;
use asm::{Insn, MapRefKind};

use super::btf::{self, WriteMap};
use super::{ElfError, Pinning, EM_BPF, R_BPF_64_32, R_BPF_64_64};
use crate::types::{MapSpec, MapType};

/// How map definitions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapFormat {
    /// BTF-defined maps in `.maps` (what clang emits for `SEC(".maps")`; libbpf 1.0+).
    #[default]
    Btf,
    /// `struct bpf_map_def` records in the `maps` section (libbpf before 1.0, iproute2).
    Legacy,
}

#[derive(Debug, Clone)]
struct DataSection {
    name: String,
    bytes: Vec<u8>,
    /// `.bss`: no file bytes, only a size.
    nobits: bool,
}

#[derive(Debug, Clone)]
struct WriteProgram {
    section: String,
    name: String,
    program: asm::Program,
}

/// Collects programs, maps and data, then writes the object with [`Writer::finish`].
///
/// ```
/// use asm::{Builder, Helper, Reg::*};
/// use bpfobj::{MapSpec, MapType, Object, Writer};
///
/// let mut b = Builder::new();
/// b.ld_map(R1, "counts").mov64(R0, 1).exit();
/// let prog = b.build()?;
/// let bytes = Writer::new("GPL")
///     .map(&MapSpec::new("counts", MapType::Array, 4, 8, 16))
///     .program("sockops", "count_ops", &prog)
///     .finish()?;
/// let obj = Object::parse(&bytes)?;
/// assert_eq!(obj.programs[0].program.insns(), prog.insns());
/// assert_eq!(obj.maps[0].spec.max_entries, 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Writer {
    license: String,
    map_format: MapFormat,
    maps: Vec<(MapSpec, Pinning)>,
    data: Vec<DataSection>,
    programs: Vec<WriteProgram>,
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn werr(msg: impl Into<String>) -> ElfError {
    ElfError::Write(msg.into())
}

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const SHF_INFO_LINK: u64 = 0x40;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;

#[derive(Debug, Default)]
struct Strtab {
    bytes: Vec<u8>,
    index: HashMap<String, u32>,
}

impl Strtab {
    fn add(&mut self, s: &str) -> u32 {
        if self.bytes.is_empty() {
            self.bytes.push(0);
        }
        if s.is_empty() {
            return 0;
        }
        if let Some(&o) = self.index.get(s) {
            return o;
        }
        let o = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.index.insert(s.to_string(), o);
        o
    }
}

#[derive(Debug)]
struct OutSection {
    name: String,
    sh_type: u32,
    flags: u64,
    bytes: Vec<u8>,
    /// NOBITS size.
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

#[derive(Debug, Clone)]
struct OutSym {
    name: String,
    /// For code symbols: the section, resolved to `shndx` at layout time.
    section: Option<String>,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// A relocation to emit: code section (by name), byte offset, symbol name, type.
#[derive(Debug, Clone)]
struct OutRel {
    section: String,
    offset: u64,
    symbol: String,
    r_type: u32,
}

/// A relocation inside one function: slot, symbol (or `#k` for the program's k-th
/// function), type.
type FuncReloc = (usize, String, u32);

/// Where a symbol's code lives while laying out.
#[derive(Debug, Clone)]
struct CodeSection {
    name: String,
    insns: Vec<Insn>,
}

impl Writer {
    /// An empty object with this license (`"GPL"` lets programs use GPL-only helpers).
    pub fn new(license: &str) -> Writer {
        Writer {
            license: license.to_string(),
            map_format: MapFormat::Btf,
            maps: Vec::new(),
            data: Vec::new(),
            programs: Vec::new(),
        }
    }

    /// Chooses how map definitions are written (BTF `.maps` by default).
    pub fn map_format(&mut self, format: MapFormat) -> &mut Self {
        self.map_format = format;
        self
    }

    /// Adds a map definition; programs refer to it by `spec.name`.
    pub fn map(&mut self, spec: &MapSpec) -> &mut Self {
        self.pinned_map(spec, Pinning::None)
    }

    /// Adds a map definition with libbpf's `pinning` attribute (BTF maps only).
    pub fn pinned_map(&mut self, spec: &MapSpec, pinning: Pinning) -> &mut Self {
        self.maps.push((spec.clone(), pinning));
        self
    }

    /// Adds a global data section (`.data`, `.rodata`, `.data.<name>`, …) with its initial
    /// bytes, or `.bss`/`.bss.<name>` (whose bytes must be zero). Programs reach it with
    /// `ld_map_value(reg, section_name, offset)`.
    pub fn data(&mut self, section: &str, bytes: &[u8]) -> &mut Self {
        self.data.push(DataSection {
            name: section.to_string(),
            bytes: bytes.to_vec(),
            nobits: section == ".bss" || section.starts_with(".bss."),
        });
        self
    }

    /// Adds a program: its main function goes to `section` (a libbpf name such as `sockops`
    /// or `sk_msg`) under the symbol `name`; its other functions go to `.text`.
    pub fn program(&mut self, section: &str, name: &str, program: &asm::Program) -> &mut Self {
        self.programs.push(WriteProgram {
            section: section.to_string(),
            name: name.to_string(),
            program: program.clone(),
        });
        self
    }

    /// The object's bytes, or what is wrong with the inputs.
    pub fn finish(&self) -> Result<Vec<u8>, ElfError> {
        self.check()?;
        let mut code: Vec<CodeSection> = Vec::new();
        let mut syms: Vec<OutSym> = Vec::new();
        let mut rels: Vec<OutRel> = Vec::new();
        // .text functions already written: name → insns (normalized).
        let mut text_funcs: Vec<(String, Vec<Insn>)> = Vec::new();
        let mut text: Vec<Insn> = Vec::new();
        let mut text_rels: Vec<(u64, String, u32)> = Vec::new();
        let data_names: Vec<&str> = self.data.iter().map(|d| d.name.as_str()).collect();

        for wp in &self.programs {
            let prog = &wp.program;
            let insns = prog.insns();
            let mut funcs: Vec<(String, usize)> = prog.functions().to_vec();
            funcs.sort_by_key(|f| f.1);
            if funcs.first().map(|f| f.1) != Some(0) {
                return Err(werr(format!("program {}: no function at slot 0", wp.name)));
            }
            let end_of = |k: usize| funcs.get(k + 1).map_or(insns.len(), |f| f.1);
            // Decide every function's symbol name.
            let mut sym_of: Vec<String> = Vec::new();
            let mut normalized: Vec<(Vec<Insn>, Vec<FuncReloc>)> = Vec::new();
            for (k, (_, start)) in funcs.iter().enumerate() {
                let end = end_of(k);
                let mut body = insns[*start..end].to_vec();
                let mut relocs: Vec<FuncReloc> = Vec::new();
                for (j, slot) in body.iter_mut().enumerate() {
                    let at = start + j;
                    let is_call = slot.code == op::JMP | op::CALL && slot.src == op::PSEUDO_CALL;
                    let is_func = slot.code == op::LDDW && slot.src == op::PSEUDO_FUNC;
                    if is_call || is_func {
                        let t = at as i64 + slot.imm as i64 + 1;
                        let callee =
                            funcs.iter().position(|f| f.1 as i64 == t).ok_or_else(|| {
                                werr(format!(
                                "program {}: the call at slot {at} does not target the start of \
                                 a function",
                                wp.name
                            ))
                            })?;
                        if callee == 0 {
                            return Err(werr(format!(
                                "program {}: slot {at} calls the main function, which libbpf \
                                 cannot relocate",
                                wp.name
                            )));
                        }
                        if is_call {
                            slot.imm = -1;
                            relocs.push((j, format!("#{callee}"), R_BPF_64_32));
                        } else {
                            slot.src = 0;
                            slot.imm = 0;
                            relocs.push((j, format!("#{callee}"), R_BPF_64_64));
                        }
                    }
                }
                for r in prog.map_refs() {
                    if r.insn < *start || r.insn >= end {
                        continue;
                    }
                    let j = r.insn - start;
                    if j + 1 >= body.len() || body[j].code != op::LDDW {
                        return Err(werr(format!(
                            "program {}: map reference at slot {} is not an lddw",
                            wp.name, r.insn
                        )));
                    }
                    match r.kind {
                        MapRefKind::Fd => {
                            body[j].src = 0;
                            body[j].imm = 0;
                            relocs.push((j, r.name.clone(), R_BPF_64_64));
                        }
                        MapRefKind::Value { offset } => {
                            if !data_names.contains(&r.name.as_str()) {
                                return Err(werr(format!(
                                    "program {}: ld_map_value of {} (value references can only \
                                     be written for global data sections added with data())",
                                    wp.name, r.name
                                )));
                            }
                            body[j].src = 0;
                            body[j].imm = offset as i32;
                            body[j + 1].imm = 0;
                            relocs.push((j, format!("section:{}", r.name), R_BPF_64_64));
                        }
                    }
                }
                normalized.push((body, relocs));
            }
            for (k, (fname, _)) in funcs.iter().enumerate() {
                if k == 0 {
                    sym_of.push(wp.name.clone());
                    continue;
                }
                let body = &normalized[k].0;
                let taken = |n: &str| {
                    text_funcs.iter().any(|(t, _)| t == n)
                        || self.programs.iter().any(|p| p.name == n)
                        || self.maps.iter().any(|m| m.0.name == n)
                };
                let same = text_funcs.iter().find(|(t, b)| t == fname && b == body);
                let name = if same.is_some() || !taken(fname) {
                    fname.clone()
                } else {
                    format!("{}_{}", wp.name, fname)
                };
                if !is_ident(&name) {
                    return Err(werr(format!(
                        "function name {name:?} is not a C identifier"
                    )));
                }
                sym_of.push(name);
            }
            // Resolve "#k" to symbol names and place the code.
            let resolve = |s: &str| -> String {
                match s.strip_prefix('#') {
                    Some(k) => sym_of[k.parse::<usize>().unwrap_or(0)].clone(),
                    None => s.to_string(),
                }
            };
            for (k, (body, relocs)) in normalized.into_iter().enumerate() {
                if k == 0 {
                    let cs = match code.iter_mut().find(|c| c.name == wp.section) {
                        Some(c) => c,
                        None => {
                            code.push(CodeSection {
                                name: wp.section.clone(),
                                insns: Vec::new(),
                            });
                            code.last_mut().expect("just pushed")
                        }
                    };
                    let base = cs.insns.len() as u64 * 8;
                    for (j, s, t) in relocs {
                        rels.push(OutRel {
                            section: wp.section.clone(),
                            offset: base + j as u64 * 8,
                            symbol: resolve(&s),
                            r_type: t,
                        });
                    }
                    syms.push(OutSym {
                        name: wp.name.clone(),
                        section: Some(wp.section.clone()),
                        info: (STB_GLOBAL << 4) | STT_FUNC,
                        shndx: 0,
                        value: base,
                        size: body.len() as u64 * 8,
                    });
                    cs.insns.extend(body);
                } else {
                    let name = sym_of[k].clone();
                    if text_funcs.iter().any(|(t, _)| *t == name) {
                        continue; // identical function already in .text
                    }
                    let base = text.len() as u64 * 8;
                    for (j, s, t) in relocs {
                        text_rels.push((base + j as u64 * 8, resolve(&s), t));
                    }
                    syms.push(OutSym {
                        name: name.clone(),
                        section: Some(".text".into()),
                        info: (STB_GLOBAL << 4) | STT_FUNC,
                        shndx: 0,
                        value: base,
                        size: body.len() as u64 * 8,
                    });
                    text_funcs.push((name, body.clone()));
                    text.extend(body);
                }
            }
        }
        if !text.is_empty() {
            code.insert(
                0,
                CodeSection {
                    name: ".text".into(),
                    insns: text,
                },
            );
            for (offset, symbol, r_type) in text_rels {
                rels.push(OutRel {
                    section: ".text".into(),
                    offset,
                    symbol,
                    r_type,
                });
            }
        }
        self.assemble(code, syms, rels)
    }

    fn check(&self) -> Result<(), ElfError> {
        if self.programs.is_empty() {
            return Err(werr("no programs"));
        }
        if self.license.contains('\0') {
            return Err(werr("the license contains a NUL byte"));
        }
        for (i, p) in self.programs.iter().enumerate() {
            if !is_ident(&p.name) {
                return Err(werr(format!(
                    "program name {:?} is not a C identifier",
                    p.name
                )));
            }
            if p.program.is_empty() {
                return Err(werr(format!("program {} is empty", p.name)));
            }
            let reserved = [
                ".text", "license", "version", "maps", ".maps", ".BTF", ".symtab", ".strtab",
            ];
            if p.section.is_empty()
                || reserved.contains(&p.section.as_str())
                || p.section.contains('\0')
                || p.section.starts_with(".rel")
                || self.data.iter().any(|d| d.name == p.section)
            {
                return Err(werr(format!("{:?} cannot be a program section", p.section)));
            }
            if self.programs[..i].iter().any(|o| o.name == p.name) {
                return Err(werr(format!("program {} is added twice", p.name)));
            }
            for r in p.program.map_refs() {
                let known = match r.kind {
                    MapRefKind::Fd => self.maps.iter().any(|m| m.0.name == r.name),
                    MapRefKind::Value { .. } => self.data.iter().any(|d| d.name == r.name),
                };
                if !known {
                    let why = if matches!(r.kind, MapRefKind::Value { .. }) {
                        "value references (ld_map_value) can only be written for global data \
                         sections added with data()"
                    } else {
                        "it is not defined"
                    };
                    return Err(werr(format!(
                        "program {} references map {:?}: {why}",
                        p.name, r.name
                    )));
                }
            }
        }
        for (i, (m, pin)) in self.maps.iter().enumerate() {
            if !is_ident(&m.name) {
                return Err(werr(format!("map name {:?} is not a C identifier", m.name)));
            }
            if self.maps[..i].iter().any(|o| o.0.name == m.name)
                || self.programs.iter().any(|p| p.name == m.name)
            {
                return Err(werr(format!("name {} is used twice", m.name)));
            }
            if self.map_format == MapFormat::Legacy && *pin != Pinning::None {
                return Err(werr(format!("map {}: pinning needs BTF maps", m.name)));
            }
        }
        for (i, d) in self.data.iter().enumerate() {
            let ok = [".data", ".rodata", ".bss"].iter().any(|p| {
                d.name == *p
                    || d.name
                        .strip_prefix(p)
                        .is_some_and(|r| r.starts_with('.') && r.len() > 1)
            });
            if !ok || d.name.contains('\0') {
                return Err(werr(format!(
                    "{:?} is not a global data section name",
                    d.name
                )));
            }
            if d.bytes.is_empty() {
                return Err(werr(format!("data section {} is empty", d.name)));
            }
            if d.nobits && d.bytes.iter().any(|&b| b != 0) {
                return Err(werr(format!("{} must be all zeros", d.name)));
            }
            if d.bytes.len() > u32::MAX as usize {
                return Err(werr(format!("{} is too large", d.name)));
            }
            if self.data[..i].iter().any(|o| o.name == d.name) {
                return Err(werr(format!("data section {} is added twice", d.name)));
            }
        }
        Ok(())
    }

    /// Lays out sections, symbols and relocations into ELF bytes, in stages: the content
    /// sections ([`Writer::content_sections`]), the symbol list ([`Writer::symbols`]), the
    /// symbol table and relocation sections ([`symtab_and_rels`]), then the file
    /// ([`file_bytes`]).
    fn assemble(
        &self,
        code: Vec<CodeSection>,
        code_syms: Vec<OutSym>,
        rels: Vec<OutRel>,
    ) -> Result<Vec<u8>, ElfError> {
        let mut layout = self.content_sections(&code);
        let (all, first_global) = self.symbols(&mut layout, code_syms)?;
        if layout.sections.len() + 2 + code.len() >= 0xff00 {
            return Err(werr("too many sections"));
        }
        let mut strtab = symtab_and_rels(&mut layout, &code, &all, first_global, &rels)?;
        let mut sections = layout.sections;
        // Section names, then the string table's own bytes.
        let name_offs: Vec<u32> = sections.iter().map(|s| strtab.add(&s.name)).collect();
        sections[0].bytes = std::mem::take(&mut strtab.bytes);
        sections[0].size = sections[0].bytes.len() as u64;

        Ok(file_bytes(&sections, &name_offs))
    }

    /// The sections with content, after `.strtab` (index 1, filled last): code, `license`,
    /// map definitions ([`Writer::map_section`]), global data (each with a section symbol)
    /// and `.BTF`.
    fn content_sections(&self, code: &[CodeSection]) -> Layout {
        let mut sections: Vec<OutSection> = Vec::new();
        // [1] .strtab (filled last).
        sections.push(plain(".strtab", SHT_STRTAB, 0, Vec::new(), 1));
        let mut index_of: HashMap<String, usize> = HashMap::new();
        for c in code {
            index_of.insert(c.name.clone(), sections.len() + 1);
            sections.push(plain(
                &c.name,
                SHT_PROGBITS,
                SHF_ALLOC | SHF_EXECINSTR,
                asm::encode(&c.insns),
                8,
            ));
        }
        let mut lic = self.license.as_bytes().to_vec();
        lic.push(0);
        let license_len = lic.len() as u64;
        let license_idx = sections.len() + 1;
        sections.push(plain(
            "license",
            SHT_PROGBITS,
            SHF_ALLOC | SHF_WRITE,
            lic,
            1,
        ));

        let (map_syms, btf_bytes) = match self.map_section((sections.len() + 1) as u16) {
            Some((section, syms, btf)) => {
                sections.push(section);
                (syms, btf)
            }
            None => (Vec::new(), None),
        };
        // Global data, each with a section symbol.
        let mut local_syms: Vec<OutSym> = Vec::new();
        for d in &self.data {
            let idx = sections.len() + 1;
            index_of.insert(d.name.clone(), idx);
            local_syms.push(OutSym {
                name: format!("section:{}", d.name),
                section: None,
                info: (STB_LOCAL << 4) | STT_SECTION,
                shndx: idx as u16,
                value: 0,
                size: 0,
            });
            let flags = if d.name.starts_with(".rodata") {
                SHF_ALLOC
            } else {
                SHF_ALLOC | SHF_WRITE
            };
            if d.nobits {
                let mut s = plain(&d.name, SHT_NOBITS, flags, Vec::new(), 8);
                s.size = d.bytes.len() as u64;
                sections.push(s);
            } else {
                sections.push(plain(&d.name, SHT_PROGBITS, flags, d.bytes.clone(), 8));
            }
        }
        if let Some(b) = btf_bytes {
            sections.push(plain(".BTF", SHT_PROGBITS, 0, b, 4));
        }
        Layout {
            sections,
            index_of,
            license_idx,
            license_len,
            map_syms,
            local_syms,
        }
    }

    /// The map definitions section (`.maps` with its BTF, or legacy `maps`) at section index
    /// `idx`, with a global symbol per map; `None` without maps.
    fn map_section(&self, idx: u16) -> Option<(OutSection, Vec<OutSym>, Option<Vec<u8>>)> {
        if self.maps.is_empty() {
            return None;
        }
        let mut map_syms: Vec<OutSym> = Vec::new();
        let norm_flags = |m: &MapSpec| {
            if m.map_type == MapType::LpmTrie {
                m.flags | uapi::bpf::BPF_F_NO_PREALLOC
            } else {
                m.flags
            }
        };
        match self.map_format {
            MapFormat::Btf => {
                let wm: Vec<WriteMap> = self
                    .maps
                    .iter()
                    .map(|(m, pin)| WriteMap {
                        name: &m.name,
                        map_type: m.map_type.raw(),
                        key_size: m.key_size,
                        value_size: m.value_size,
                        max_entries: m.max_entries,
                        flags: norm_flags(m),
                        pinning: pin.raw(),
                    })
                    .collect();
                let mut off = 0u64;
                for w in &wm {
                    map_syms.push(OutSym {
                        name: w.name.to_string(),
                        section: None,
                        info: (STB_GLOBAL << 4) | STT_OBJECT,
                        shndx: idx,
                        value: off,
                        size: w.def_size() as u64,
                    });
                    off += w.def_size() as u64;
                }
                let section = plain(
                    ".maps",
                    SHT_PROGBITS,
                    SHF_ALLOC | SHF_WRITE,
                    vec![0; off as usize],
                    8,
                );
                Some((section, map_syms, Some(btf::write_maps(&wm))))
            }
            MapFormat::Legacy => {
                let mut bytes = Vec::new();
                for (m, _) in &self.maps {
                    map_syms.push(OutSym {
                        name: m.name.clone(),
                        section: None,
                        info: (STB_GLOBAL << 4) | STT_OBJECT,
                        shndx: idx,
                        value: bytes.len() as u64,
                        size: 20,
                    });
                    for w in [
                        m.map_type.raw(),
                        m.key_size,
                        m.value_size,
                        m.max_entries,
                        norm_flags(m),
                    ] {
                        bytes.extend_from_slice(&w.to_le_bytes());
                    }
                }
                let section = plain("maps", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, bytes, 4);
                Some((section, map_syms, None))
            }
        }
    }

    /// Every symbol, in `.symtab` order: the null symbol, the locals (section symbols of
    /// global data), then the globals (functions, resolved to their sections; maps;
    /// `_license`). Returns them with the index of the first global.
    fn symbols(
        &self,
        layout: &mut Layout,
        code_syms: Vec<OutSym>,
    ) -> Result<(Vec<OutSym>, usize), ElfError> {
        // Symbols: null, locals, then globals.
        let mut all: Vec<OutSym> = vec![OutSym {
            name: String::new(),
            section: None,
            info: 0,
            shndx: 0,
            value: 0,
            size: 0,
        }];
        all.extend(std::mem::take(&mut layout.local_syms));
        let first_global = all.len();
        for mut s in code_syms {
            let sec = s.section.as_deref().unwrap_or_default();
            s.shndx = *layout
                .index_of
                .get(sec)
                .ok_or_else(|| werr(format!("internal: no section {sec}")))?
                as u16;
            all.push(s);
        }
        all.extend(std::mem::take(&mut layout.map_syms));
        all.push(OutSym {
            name: "_license".into(),
            section: None,
            info: (STB_GLOBAL << 4) | STT_OBJECT,
            shndx: layout.license_idx as u16,
            value: 0,
            size: layout.license_len,
        });
        Ok((all, first_global))
    }
}

/// What [`Writer::content_sections`] laid out.
struct Layout {
    /// Sections from index 1 (`.strtab`) on.
    sections: Vec<OutSection>,
    /// Section name → index, for code and data sections.
    index_of: HashMap<String, usize>,
    /// The `license` section's index and size.
    license_idx: usize,
    license_len: u64,
    /// A global symbol per map.
    map_syms: Vec<OutSym>,
    /// A section symbol per global data section.
    local_syms: Vec<OutSym>,
}

/// A section with `bytes`, no link, info or entry size.
fn plain(name: &str, sh_type: u32, flags: u64, bytes: Vec<u8>, align: u64) -> OutSection {
    OutSection {
        name: name.to_string(),
        sh_type,
        flags,
        size: bytes.len() as u64,
        bytes,
        link: 0,
        info: 0,
        align,
        entsize: 0,
    }
}

/// Appends `.symtab` (names into the returned string table) and a `.rel<section>` for every
/// code section with relocations.
fn symtab_and_rels(
    layout: &mut Layout,
    code: &[CodeSection],
    all: &[OutSym],
    first_global: usize,
    rels: &[OutRel],
) -> Result<Strtab, ElfError> {
    let mut strtab = Strtab::default();
    strtab.add("");
    let symtab_idx = layout.sections.len() + 1;
    let sym_index: HashMap<String, usize> = all
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let mut symtab = vec![0u8; 24];
    for s in all.iter().skip(1) {
        let name = if s.info & 0xf == STT_SECTION {
            0
        } else {
            strtab.add(&s.name)
        };
        symtab.extend_from_slice(&name.to_le_bytes());
        symtab.push(s.info);
        symtab.push(0); // st_other: default visibility
        symtab.extend_from_slice(&s.shndx.to_le_bytes());
        symtab.extend_from_slice(&s.value.to_le_bytes());
        symtab.extend_from_slice(&s.size.to_le_bytes());
    }
    let mut st = plain(".symtab", SHT_SYMTAB, 0, symtab, 8);
    st.link = 1;
    st.info = first_global as u32;
    st.entsize = 24;
    layout.sections.push(st);
    for c in code {
        let mut bytes = Vec::new();
        for r in rels.iter().filter(|r| r.section == c.name) {
            let sym = *sym_index
                .get(&r.symbol)
                .ok_or_else(|| werr(format!("internal: no symbol {}", r.symbol)))?;
            bytes.extend_from_slice(&r.offset.to_le_bytes());
            let info = ((sym as u64) << 32) | r.r_type as u64;
            bytes.extend_from_slice(&info.to_le_bytes());
        }
        if bytes.is_empty() {
            continue;
        }
        let mut s = plain(&format!(".rel{}", c.name), SHT_REL, SHF_INFO_LINK, bytes, 8);
        s.link = symtab_idx as u32;
        s.info = layout.index_of[&c.name] as u32;
        s.entsize = 16;
        layout.sections.push(s);
    }
    Ok(strtab)
}

/// The file: ELF header, section contents (aligned), then the section header table, with
/// section `i + 1` named at `name_offs[i]` of `.strtab`.
fn file_bytes(sections: &[OutSection], name_offs: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let mut offsets = Vec::with_capacity(sections.len());
    for s in sections {
        let align = s.align.max(1) as usize;
        while out.len() % align != 0 {
            out.push(0);
        }
        offsets.push(out.len() as u64);
        if s.sh_type != SHT_NOBITS {
            out.extend_from_slice(&s.bytes);
        }
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out.extend_from_slice(&[0u8; 64]); // section 0
    for (i, s) in sections.iter().enumerate() {
        for w in [name_offs[i], s.sh_type] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for d in [s.flags, 0, offsets[i], s.size] {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for w in [s.link, s.info] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for d in [s.align, s.entsize] {
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
    // ELF header.
    let shnum = sections.len() as u16 + 1;
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\x7fELF");
    h.extend_from_slice(&[2, 1, 1, 0]); // ELFCLASS64, little-endian, EV_CURRENT, SYSV
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    h.extend_from_slice(&EM_BPF.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes()); // e_version
    h.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    h.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    h.extend_from_slice(&shoff.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_phentsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_phnum
    h.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h.extend_from_slice(&shnum.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // e_shstrndx: .strtab
    out[..64].copy_from_slice(&h);
    out
}
