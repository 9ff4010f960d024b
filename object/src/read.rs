//! The object reader: checks the ELF structure against the file (before goblin sees any
//! range), collects sections, symbols, maps and relocations, and builds one
//! [`asm::Program`] per program symbol with its subprograms appended in libbpf's order.

use std::collections::{BTreeMap, HashMap};

use asm::insn::op;
use asm::{Insn, MapRef, MapRefKind};
use goblin::container::{Container, Ctx};
use goblin::elf::reloc::RelocSection;
use goblin::elf::section_header::{
    SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
};
use goblin::elf::sym::{
    Symtab, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_SECTION, STV_HIDDEN, STV_INTERNAL,
};
use goblin::elf::{Elf, SectionHeader, Sym};

use super::btf::Btf;
use super::{
    sections, ElfError, KconfigExtern, MapOrigin, Object, ObjectMap, ObjectProgram, Pinning,
    SlotValue, BPF_F_RDONLY_PROG, EM_BPF, MAX_TOTAL_INSNS, R_BPF_64_32, R_BPF_64_64,
    R_BPF_64_ABS64,
};
use crate::types::{MapSpec, MapType};

const EHDR_SIZE: usize = 64;
const SHDR_SIZE: u64 = 64;
const SYM_SIZE: u64 = 24;
const REL_SIZE: u64 = 16;
const ET_REL: u16 = 1;
/// `SHN_XINDEX`/`SHN_LORESERVE`: section indexes at or above this are special.
const SHN_LORESERVE: usize = 0xff00;
/// `sizeof(struct bpf_map_def)`: type, key_size, value_size, max_entries, map_flags.
const MAP_DEF_SIZE: u64 = 20;
/// The largest global data section turned into a map (the kernel's array values are far
/// smaller anyway); a `.bss` of any declared size costs no file bytes, so it needs a bound.
const MAX_DATA_SECTION: u64 = 64 << 20;

fn malformed(msg: impl Into<String>) -> ElfError {
    ElfError::Malformed(msg.into())
}

/// A section as this reader sees it.
#[derive(Debug)]
struct Section<'a> {
    name: String,
    shdr: SectionHeader,
    /// The file bytes (empty for NOBITS).
    data: &'a [u8],
}

impl Section<'_> {
    fn size(&self) -> u64 {
        self.shdr.sh_size
    }
}

/// A function: a program or a subprogram candidate.
#[derive(Debug, Clone)]
struct Func {
    name: String,
    section: usize,
    /// First slot within the section.
    start: usize,
    /// Number of slots.
    len: usize,
    global: bool,
}

/// Where a relocation's symbol points, resolved.
#[derive(Debug, Clone)]
struct Rel {
    r_type: u32,
    sym: usize,
    index: usize,
}

fn cstr(table: &[u8], off: usize) -> Option<String> {
    let s = table.get(off..)?;
    let end = s.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&s[..end]).into_owned())
}

fn check_range(what: &str, start: u64, size: u64, len: usize) -> Result<(), ElfError> {
    let end = start
        .checked_add(size)
        .ok_or_else(|| malformed(format!("{what}: size overflows")))?;
    if end > len as u64 {
        return Err(ElfError::Truncated {
            what: what.to_string(),
            start,
            end,
            len,
        });
    }
    Ok(())
}

fn is_data_section(name: &str) -> bool {
    [".data", ".rodata", ".bss"]
        .iter()
        .any(|p| name == *p || (name.starts_with(p) && name.as_bytes()[p.len()] == b'.'))
}

/// Parses a whole object, in stages: the section and symbol tables ([`read_tables`]), what
/// each section is ([`classify_sections`]), the functions of the code sections
/// ([`find_functions`]), the code relocations ([`read_code_relocations`]), the maps
/// ([`read_maps`]), the programs with their subprograms and relocations applied
/// ([`build_programs`]) and the BTF the kernel gets ([`fixed_btf`]). Each stage checks what
/// it reads against the file before using it; errors come in that order.
pub(super) fn parse(bytes: &[u8]) -> Result<Object, ElfError> {
    let t = read_tables(bytes)?;
    let layout = classify_sections(&t)?;
    let funcs = find_functions(&t, &layout)?;
    let code = decode_code(&t, &layout);
    let rels = read_code_relocations(&t, &layout)?;
    // BTF: needed for `.maps`; otherwise, like libbpf, a BTF the reader cannot use is
    // ignored (the object then loads without BTF).
    let btf = match layout.btf_sec.map(|bi| Btf::parse(t.sections[bi].data)) {
        Some(Ok(b)) => Some(b),
        Some(Err(e)) if layout.btf_maps.is_some() => return Err(e),
        _ => None,
    };
    let func_info = match (&btf, layout.btf_ext_sec) {
        (Some(b), Some(ei)) => super::btf::func_info(t.sections[ei].data, b).unwrap_or_default(),
        _ => HashMap::new(),
    };
    // CO-RE relocations cannot be skipped: without them the programs read wrong offsets.
    let core_relos = match (&btf, layout.btf_ext_sec) {
        (Some(b), Some(ei)) => super::btf::core_relos(t.sections[ei].data, b)?,
        (None, Some(ei)) if has_core_relos(t.sections[ei].data) => {
            return Err(ElfError::Btf(
                "the object has CO-RE relocations but no usable .BTF section".into(),
            ))
        }
        _ => HashMap::new(),
    };
    let maps = read_maps(&t, &layout, btf.as_ref(), &rels.map_rels)?;
    let programs = build_programs(
        &t,
        &layout,
        &funcs,
        &code,
        &rels.relocs,
        &maps,
        (&func_info, &core_relos),
    )?;
    let btf = btf.as_ref().map(|b| fixed_btf(&t, &layout, &maps.maps, b));
    Ok(Object {
        license: layout.license,
        kern_version: layout.kern_version,
        maps: maps.maps,
        programs,
        btf,
    })
}

/// Stage 1: the section table and the symbol table, checked against the file.
struct Tables<'a> {
    bytes: &'a [u8],
    ctx: Ctx,
    sections: Vec<Section<'a>>,
    /// Index of the one `SHT_SYMTAB` section.
    symtab_idx: usize,
    /// Its string table.
    strtab: &'a [u8],
    syms: Vec<Sym>,
}

impl Tables<'_> {
    /// Symbol `i`'s name (a section symbol's is its section's).
    fn sym_name(&self, i: usize) -> Result<String, ElfError> {
        let s = &self.syms[i];
        if s.st_type() == STT_SECTION {
            return Ok(self
                .sections
                .get(s.st_shndx)
                .map_or(String::new(), |sec| sec.name.clone()));
        }
        cstr(self.strtab, s.st_name)
            .ok_or_else(|| malformed(format!("symbol {i}: bad name offset")))
    }
}

/// Stage 1 (sections): checks the ELF header by hand before goblin reads it, then reads the
/// section headers (extended numbering included) and names, and checks that every section
/// lies inside the file; then [`read_symbols`].
fn read_tables(bytes: &[u8]) -> Result<Tables<'_>, ElfError> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    check_range("the ELF header", 0, EHDR_SIZE as u64, bytes.len())?;
    match bytes[4] {
        2 => {}
        1 => {
            return Err(ElfError::Unsupported(
                "32-bit ELF (BPF objects are ELF64)".into(),
            ))
        }
        c => return Err(malformed(format!("ELF class {c}"))),
    }
    match bytes[5] {
        1 => {}
        2 => {
            return Err(ElfError::Unsupported(
                "big-endian object (only little-endian BPF is supported)".into(),
            ))
        }
        d => return Err(malformed(format!("ELF data encoding {d}"))),
    }
    let header = Elf::parse_header(bytes).map_err(|e| malformed(format!("ELF header: {e}")))?;
    if header.e_machine != EM_BPF {
        return Err(ElfError::Unsupported(format!(
            "machine {} is not EM_BPF ({EM_BPF})",
            header.e_machine
        )));
    }
    if header.e_type != ET_REL {
        return Err(ElfError::Unsupported(format!(
            "ELF type {} is not a relocatable object (ET_REL)",
            header.e_type
        )));
    }
    if header.e_shoff == 0 {
        return Err(malformed("no section header table"));
    }
    if header.e_shentsize as u64 != SHDR_SIZE {
        return Err(malformed(format!(
            "section header size {}",
            header.e_shentsize
        )));
    }
    check_range("section header 0", header.e_shoff, SHDR_SIZE, bytes.len())?;
    let ctx = Ctx::new(Container::Big, goblin::container::Endian::Little);
    let mut shnum = header.e_shnum as u64;
    if shnum == 0 {
        // Extended numbering: the count is in section 0's sh_size.
        let first = SectionHeader::parse(bytes, header.e_shoff as usize, 1, ctx)
            .map_err(|e| malformed(format!("section header 0: {e}")))?;
        shnum = first.first().map_or(0, |s| s.sh_size);
    }
    let max = (bytes.len() as u64) / SHDR_SIZE;
    if shnum > max {
        return Err(ElfError::TooMany {
            what: "section headers",
            count: shnum,
            max,
        });
    }
    check_range(
        "the section header table",
        header.e_shoff,
        shnum * SHDR_SIZE,
        bytes.len(),
    )?;
    let shdrs = SectionHeader::parse(bytes, header.e_shoff as usize, shnum as usize, ctx)
        .map_err(|e| malformed(format!("section headers: {e}")))?;
    if shdrs.len() as u64 != shnum {
        return Err(malformed("section header count"));
    }
    for (i, s) in shdrs.iter().enumerate() {
        if s.sh_type != SHT_NOBITS && i != 0 {
            check_range(&format!("section {i}"), s.sh_offset, s.sh_size, bytes.len())?;
        }
    }
    let mut shstrndx = header.e_shstrndx as usize;
    if shstrndx == 0xffff {
        shstrndx = shdrs.first().map_or(0, |s| s.sh_link as usize);
    }
    let shstr = match shdrs.get(shstrndx) {
        Some(s) if s.sh_type == SHT_STRTAB && shstrndx != 0 => {
            &bytes[s.sh_offset as usize..(s.sh_offset + s.sh_size) as usize]
        }
        _ => return Err(malformed(format!("section name table index {shstrndx}"))),
    };
    let sections: Vec<Section> = shdrs
        .into_iter()
        .enumerate()
        .map(|(i, shdr)| {
            let name = if i == 0 {
                String::new()
            } else {
                cstr(shstr, shdr.sh_name).ok_or_else(|| {
                    malformed(format!("section {i}: name offset {} is bad", shdr.sh_name))
                })?
            };
            let data = if shdr.sh_type == SHT_NOBITS || i == 0 {
                &bytes[0..0]
            } else {
                &bytes[shdr.sh_offset as usize..(shdr.sh_offset + shdr.sh_size) as usize]
            };
            Ok(Section { name, shdr, data })
        })
        .collect::<Result<_, ElfError>>()?;
    let (symtab_idx, strtab, syms) = read_symbols(bytes, ctx, &sections)?;
    Ok(Tables {
        bytes,
        ctx,
        sections,
        symtab_idx,
        strtab,
        syms,
    })
}

/// The one symbol table: its index, its string table and its entries.
fn read_symbols<'a>(
    bytes: &'a [u8],
    ctx: Ctx,
    sections: &[Section<'a>],
) -> Result<(usize, &'a [u8], Vec<Sym>), ElfError> {
    let symtabs: Vec<usize> = (1..sections.len())
        .filter(|&i| sections[i].shdr.sh_type == SHT_SYMTAB)
        .collect();
    let symtab_idx = match symtabs.as_slice() {
        [i] => *i,
        [] => return Err(malformed("no symbol table (stripped object?)")),
        _ => return Err(malformed("more than one symbol table")),
    };
    let st = &sections[symtab_idx];
    if st.shdr.sh_entsize != SYM_SIZE || st.size() % SYM_SIZE != 0 {
        return Err(malformed(format!(
            "symbol table entry size {} / size {}",
            st.shdr.sh_entsize,
            st.size()
        )));
    }
    let strtab = match sections.get(st.shdr.sh_link as usize) {
        Some(s) if s.shdr.sh_type == SHT_STRTAB && st.shdr.sh_link != 0 => s.data,
        _ => return Err(malformed("the symbol table's string table is missing")),
    };
    let nsyms = (st.size() / SYM_SIZE) as usize;
    let syms: Vec<Sym> = if nsyms == 0 {
        Vec::new()
    } else {
        let table = Symtab::parse(bytes, st.shdr.sh_offset as usize, nsyms, ctx)
            .map_err(|e| malformed(format!("symbol table: {e}")))?;
        table.iter().collect()
    };
    if syms.len() != nsyms {
        return Err(malformed("symbol table count"));
    }
    Ok((symtab_idx, strtab, syms))
}

/// Stage 2: what the sections are.
struct Layout {
    /// The `license` string.
    license: String,
    /// The `version` number.
    kern_version: Option<u32>,
    /// Code sections (`SHF_EXECINSTR`), in section order.
    exec: Vec<usize>,
    /// The legacy `maps` section.
    legacy_maps: Option<usize>,
    /// The BTF-defined `.maps` section.
    btf_maps: Option<usize>,
    /// `.BTF`.
    btf_sec: Option<usize>,
    /// `.BTF.ext` (its header checked).
    btf_ext_sec: Option<usize>,
    /// Global data sections that become maps (not empty).
    data_secs: Vec<usize>,
    /// `SHT_REL` sections.
    rel_secs: Vec<usize>,
    /// `.text`, when it holds code.
    text_idx: Option<usize>,
}

/// Stage 2 (sections): sorts the sections into license, version, map definitions, BTF, code,
/// global data and relocations, and refuses what this reader cannot take (RELA in code,
/// code of a partial instruction).
fn classify_sections(t: &Tables<'_>) -> Result<Layout, ElfError> {
    let sections = &t.sections;
    let mut license = String::new();
    let mut kern_version = None;
    let mut exec: Vec<usize> = Vec::new();
    let mut legacy_maps = None;
    let mut btf_maps = None;
    let mut btf_sec = None;
    let mut btf_ext_sec = None;
    let mut data_secs: Vec<usize> = Vec::new();
    let mut rel_secs: Vec<usize> = Vec::new();
    for (i, s) in sections.iter().enumerate().skip(1) {
        let t = s.shdr.sh_type;
        match s.name.as_str() {
            "license" => {
                let end = s.data.iter().position(|&c| c == 0).unwrap_or(s.data.len());
                license = String::from_utf8_lossy(&s.data[..end]).into_owned();
                continue;
            }
            "version" => {
                if s.data.len() != 4 {
                    return Err(malformed(format!(
                        "version section of {} bytes",
                        s.data.len()
                    )));
                }
                kern_version = Some(u32::from_le_bytes([
                    s.data[0], s.data[1], s.data[2], s.data[3],
                ]));
                continue;
            }
            "maps" => {
                legacy_maps = Some(i);
                continue;
            }
            ".maps" => {
                btf_maps = Some(i);
                continue;
            }
            ".BTF" => {
                btf_sec = Some(i);
                continue;
            }
            ".BTF.ext" => {
                check_btf_ext(s.data)?;
                btf_ext_sec = Some(i);
                continue;
            }
            _ => {}
        }
        if t == SHT_PROGBITS && s.shdr.sh_flags & SHF_EXECINSTR as u64 != 0 {
            if s.size() % 8 != 0 {
                return Err(malformed(format!(
                    "code section {} has {} bytes, not a whole number of instructions",
                    s.name,
                    s.size()
                )));
            }
            exec.push(i);
        } else if (t == SHT_PROGBITS || t == SHT_NOBITS) && is_data_section(&s.name) {
            if s.size() > 0 {
                data_secs.push(i);
            }
        } else if t == SHT_REL {
            rel_secs.push(i);
        } else if t == SHT_RELA {
            let target = s.shdr.sh_info as usize;
            if exec.contains(&target)
                || sections
                    .get(target)
                    .is_some_and(|t| t.shdr.sh_flags & SHF_EXECINSTR as u64 != 0)
            {
                return Err(ElfError::Unsupported(format!(
                    "RELA relocations ({}) in a code section",
                    s.name
                )));
            }
        }
    }
    let text_idx = exec.iter().copied().find(|&i| sections[i].name == ".text");
    Ok(Layout {
        license,
        kern_version,
        exec,
        legacy_maps,
        btf_maps,
        btf_sec,
        btf_ext_sec,
        data_secs,
        rel_secs,
        text_idx,
    })
}

/// Stage 3 (programs): the functions of every code section, from its `STT_FUNC` symbols
/// (a section without any is one program named after it). Refuses misaligned, overlapping
/// or out-of-section functions and static functions outside `.text`, as libbpf does.
fn find_functions(t: &Tables<'_>, layout: &Layout) -> Result<Vec<Func>, ElfError> {
    let (sections, syms, text_idx) = (&t.sections, &t.syms, layout.text_idx);
    let sym_name = |i: usize| t.sym_name(i);
    let mut funcs: Vec<Func> = Vec::new();
    for &sec in &layout.exec {
        let s = &sections[sec];
        let slots = (s.size() / 8) as usize;
        let mut in_sec: Vec<(usize, u64, bool, String)> = Vec::new();
        for (i, sym) in syms.iter().enumerate() {
            if sym.st_shndx != sec || sym.st_type() != STT_FUNC {
                continue;
            }
            if sym.st_value % 8 != 0 || sym.st_size % 8 != 0 {
                return Err(malformed(format!(
                    "function symbol {i} is not instruction-aligned"
                )));
            }
            let end = sym.st_value.checked_add(sym.st_size);
            if end.is_none_or(|e| e > s.size()) || sym.st_value >= s.size() {
                return Err(malformed(format!(
                    "function symbol {i} ({}) lies outside section {}",
                    sym_name(i)?,
                    s.name
                )));
            }
            let bind = sym.st_bind();
            if Some(sec) != text_idx && bind != STB_GLOBAL && bind != STB_WEAK {
                // libbpf ≥ 1.0 refuses the whole object ("program … is static and not
                // supported"): a static function in a program section is neither a program
                // nor, outside .text, a subprogram it will place.
                return Err(ElfError::Unsupported(format!(
                    "static function {} in program section {}: programs must be global \
                     functions, subprograms belong in .text (libbpf refuses such objects too)",
                    sym_name(i)?,
                    s.name
                )));
            }
            in_sec.push((
                (sym.st_value / 8) as usize,
                sym.st_size / 8,
                bind == STB_GLOBAL || bind == STB_WEAK,
                sym_name(i)?,
            ));
        }
        in_sec.sort_by_key(|f| f.0);
        if in_sec.is_empty() && slots > 0 && Some(sec) != text_idx {
            // No symbols: the whole section is one program named after it.
            let name: String = s
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            in_sec.push((0, slots as u64, true, name));
        }
        for (k, (start, size, global, name)) in in_sec.iter().enumerate() {
            let next = in_sec.get(k + 1).map_or(slots, |n| n.0);
            let len = if *size == 0 {
                next - start
            } else {
                *size as usize
            };
            if start + len > next {
                return Err(malformed(format!(
                    "function {name} overlaps the next one in {}",
                    s.name
                )));
            }
            if len == 0 {
                continue;
            }
            funcs.push(Func {
                name: name.clone(),
                section: sec,
                start: *start,
                len,
                global: *global,
            });
        }
    }
    Ok(funcs)
}

/// The instructions of every code section, by section index.
fn decode_code(t: &Tables<'_>, layout: &Layout) -> HashMap<usize, Vec<Insn>> {
    layout
        .exec
        .iter()
        .map(|&i| {
            let insns = t.sections[i]
                .data
                .chunks_exact(8)
                .map(|c| Insn::decode(&[c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            (i, insns)
        })
        .collect()
}

/// Stage 4 (relocations): the relocations of code sections and of `.maps`.
struct Relocations {
    /// Code section → instruction slot → relocation.
    relocs: HashMap<usize, BTreeMap<usize, Rel>>,
    /// `.maps` → its `.rel.maps`: the initial slots of map-in-map and program-array maps.
    map_rels: HashMap<usize, usize>,
}

/// Stage 4 (relocations): reads the `SHT_REL` sections of code (checking each entry's
/// offset, symbol and type, one per instruction) and notes `.rel.maps`; relocations of
/// other sections (BTF, debug info) are not needed.
fn read_code_relocations(t: &Tables<'_>, layout: &Layout) -> Result<Relocations, ElfError> {
    let (sections, syms, bytes, ctx) = (&t.sections, &t.syms, t.bytes, t.ctx);
    let mut relocs: HashMap<usize, BTreeMap<usize, Rel>> = HashMap::new();
    let mut map_rels: HashMap<usize, usize> = HashMap::new();
    for &ri in &layout.rel_secs {
        let rs = &sections[ri];
        let target = rs.shdr.sh_info as usize;
        if Some(target) == layout.btf_maps {
            map_rels.insert(target, ri);
            continue;
        }
        if !layout.exec.contains(&target) {
            continue; // relocations of .BTF, .BTF.ext, debug info: not needed
        }
        if rs.shdr.sh_link as usize != t.symtab_idx {
            return Err(malformed(format!(
                "{} does not use the symbol table",
                rs.name
            )));
        }
        let table = rel_table(rs, bytes, ctx)?;
        let tsize = sections[target].size();
        let per = relocs.entry(target).or_default();
        for (index, r) in table.iter().enumerate() {
            let bad = |reason: String| ElfError::BadRelocation {
                section: rs.name.clone(),
                index,
                reason,
            };
            if r.r_offset % 8 != 0 || r.r_offset.checked_add(8).is_none_or(|e| e > tsize) {
                return Err(bad(format!(
                    "offset {} is outside {} ({} bytes) or not instruction-aligned",
                    r.r_offset, sections[target].name, tsize
                )));
            }
            if r.r_sym == 0 || r.r_sym >= syms.len() {
                return Err(bad(format!("symbol index {} (of {})", r.r_sym, syms.len())));
            }
            if r.r_type != R_BPF_64_64 && r.r_type != R_BPF_64_32 {
                return Err(bad(format!(
                    "type {} (only R_BPF_64_64 and R_BPF_64_32 are supported in code)",
                    r.r_type
                )));
            }
            let slot = (r.r_offset / 8) as usize;
            if per
                .insert(
                    slot,
                    Rel {
                        r_type: r.r_type,
                        sym: r.r_sym,
                        index,
                    },
                )
                .is_some()
            {
                return Err(bad(format!(
                    "a second relocation for offset {}",
                    r.r_offset
                )));
            }
        }
    }
    Ok(Relocations { relocs, map_rels })
}

/// Stage 5 (maps): every map with where relocations find it.
struct Maps {
    /// Legacy maps, then BTF maps, then global data, as the object will hold them.
    maps: Vec<ObjectMap>,
    /// (section, offset) → map index, for relocations; a global data section's offset is
    /// `u64::MAX` (the whole section).
    map_at: HashMap<(usize, u64), usize>,
}

/// Stage 5 (maps): the legacy `struct bpf_map_def`s of `maps`, the BTF-defined maps of
/// `.maps` (placed by their symbols, with their `.rel.maps` initial slots) and one array per
/// global data section; refuses a name defined twice.
fn read_maps(
    t: &Tables<'_>,
    layout: &Layout,
    btf: Option<&Btf<'_>>,
    map_rels: &HashMap<usize, usize>,
) -> Result<Maps, ElfError> {
    let mut out = Maps {
        maps: Vec::new(),
        map_at: HashMap::new(),
    };
    if let Some(mi) = layout.legacy_maps {
        read_legacy_maps(t, mi, &mut out)?;
    }
    if let Some(mi) = layout.btf_maps {
        read_btf_maps(t, mi, btf, map_rels.get(&mi).copied(), &mut out)?;
    }
    read_data_maps(t, layout, btf, &mut out)?;
    if let Some(b) = btf {
        read_kconfig_map(t, b, &mut out)?;
    }
    let maps = &out.maps;
    for (i, m) in maps.iter().enumerate() {
        if maps[..i].iter().any(|o| o.spec.name == m.spec.name) {
            return Err(ElfError::BadMap {
                name: m.spec.name.clone(),
                reason: "defined twice".into(),
            });
        }
    }
    Ok(out)
}

/// The `struct bpf_map_def`s of the legacy `maps` section `mi`, one per symbol in it.
fn read_legacy_maps(t: &Tables<'_>, mi: usize, out: &mut Maps) -> Result<(), ElfError> {
    let (sections, syms) = (&t.sections, &t.syms);
    let ms = &sections[mi];
    let mut defs: Vec<(u64, String)> = Vec::new();
    for (i, sym) in syms.iter().enumerate() {
        if sym.st_shndx == mi && sym.st_type() != STT_SECTION && sym.st_name != 0 {
            defs.push((sym.st_value, t.sym_name(i)?));
        }
    }
    defs.sort();
    if defs.is_empty() && ms.size() > 0 {
        return Err(malformed("legacy maps section without map symbols"));
    }
    for (off, name) in defs {
        if ms.shdr.sh_type == SHT_NOBITS
            || off.checked_add(MAP_DEF_SIZE).is_none_or(|e| e > ms.size())
        {
            return Err(ElfError::BadMap {
                name,
                reason: format!("definition at {off} is outside the maps section"),
            });
        }
        let w = |k: usize| {
            let p = off as usize + 4 * k;
            u32::from_le_bytes([ms.data[p], ms.data[p + 1], ms.data[p + 2], ms.data[p + 3]])
        };
        let spec = MapSpec::new(&name, MapType::from_raw(w(0)), w(1), w(2), w(3)).with_flags(w(4));
        out.map_at.insert((mi, off), out.maps.len());
        out.maps.push(ObjectMap {
            spec,
            pinning: Pinning::None,
            origin: MapOrigin::Legacy,
            inner: None,
            init_slots: Vec::new(),
            btf_key_type_id: 0,
            btf_value_type_id: 0,
        });
    }
    Ok(())
}

/// The BTF-defined maps of `.maps` (section `mi`), each placed by its symbol, and the initial
/// slots `.rel.maps` (section `rel`) gives them.
fn read_btf_maps(
    t: &Tables<'_>,
    mi: usize,
    btf: Option<&Btf<'_>>,
    rel: Option<usize>,
    out: &mut Maps,
) -> Result<(), ElfError> {
    let (sections, syms, bytes, ctx) = (&t.sections, &t.syms, t.bytes, t.ctx);
    let sym_name = |i: usize| t.sym_name(i);
    // BTF maps: (start, end, map index, offset of `values`) in `.maps`.
    let mut btf_ranges: Vec<(u64, u64, usize, Option<u32>)> = Vec::new();
    let Some(btf) = btf else {
        return Err(ElfError::Btf(".maps section without a .BTF section".into()));
    };
    // The map's place in `.maps` is its symbol's value: clang leaves the DATASEC offsets
    // at 0, and libbpf fixes them up from the symbol table by name the same way.
    let mut sym_off: HashMap<String, u64> = HashMap::new();
    for (i, sym) in syms.iter().enumerate() {
        if sym.st_shndx == mi && sym.st_type() != STT_SECTION && sym.st_name != 0 {
            sym_off.insert(sym_name(i)?, sym.st_value);
        }
    }
    let size = sections[mi].size();
    let mut defs = btf.maps()?;
    for m in &mut defs {
        let off = *sym_off.get(&m.name).ok_or_else(|| ElfError::BadMap {
            name: m.name.clone(),
            reason: "no symbol in .maps has this name (the DATASEC and the symbol table \
                     disagree)"
                .into(),
        })?;
        if off >= size {
            return Err(ElfError::BadMap {
                name: m.name.clone(),
                reason: format!("offset {off} is outside .maps ({size} bytes)"),
            });
        }
        m.offset = off as u32;
    }
    // Each definition runs from its offset to the next one's (or the section's end):
    // the range `.rel.maps` slots are looked up in.
    let mut starts: Vec<u64> = defs.iter().map(|m| m.offset as u64).collect();
    starts.sort_unstable();
    starts.dedup();
    if starts.len() != defs.len() {
        return Err(ElfError::Btf("two maps share one offset in .maps".into()));
    }
    for m in defs {
        let spec = btf_spec(&m);
        let inner = m.inner.as_deref().map(btf_spec);
        let start = m.offset as u64;
        let end = starts.iter().copied().find(|&s| s > start).unwrap_or(size);
        out.map_at.insert((mi, start), out.maps.len());
        btf_ranges.push((start, end, out.maps.len(), m.values_offset));
        out.maps.push(ObjectMap {
            spec,
            pinning: Pinning::from_raw(m.pinning),
            origin: MapOrigin::Btf,
            inner,
            init_slots: Vec::new(),
            btf_key_type_id: m.key_type,
            btf_value_type_id: m.value_type,
        });
    }
    if let Some(ri) = rel {
        collect_map_slots(
            &sections[ri],
            bytes,
            ctx,
            syms,
            &sym_name,
            &btf_ranges,
            &mut out.maps,
            mi,
        )?;
    }
    Ok(())
}

/// One single-entry array per global data section (`.rodata*` read-only for programs), its
/// value type the section's DATASEC when the BTF has one.
fn read_data_maps(
    t: &Tables<'_>,
    layout: &Layout,
    btf: Option<&Btf<'_>>,
    out: &mut Maps,
) -> Result<(), ElfError> {
    let sections = &t.sections;
    for &di in &layout.data_secs {
        let s = &sections[di];
        if s.size() > MAX_DATA_SECTION {
            return Err(ElfError::TooMany {
                what: "bytes in a global data section",
                count: s.size(),
                max: MAX_DATA_SECTION,
            });
        }
        let flags = if s.name.starts_with(".rodata") {
            BPF_F_RDONLY_PROG
        } else {
            0
        };
        let spec = MapSpec::new(&s.name, MapType::Array, 4, s.size() as u32, 1).with_flags(flags);
        out.map_at.insert((di, u64::MAX), out.maps.len());
        out.maps.push(ObjectMap {
            spec,
            pinning: Pinning::None,
            origin: MapOrigin::GlobalData {
                init: s.data.to_vec(),
            },
            inner: None,
            init_slots: Vec::new(),
            btf_key_type_id: 0,
            btf_value_type_id: btf.and_then(|b| b.datasec_id(&s.name)).unwrap_or(0),
        });
    }
    Ok(())
}

/// The name libbpf gives the map of `__kconfig` externs (and the DATASEC they are in).
pub(crate) const KCONFIG_MAP: &str = ".kconfig";

/// libbpf's `.kconfig` map, when the object has `__kconfig` externs: every variable of the
/// `.kconfig` DATASEC that is an undefined global or weak symbol, laid out as libbpf does
/// (sorted by alignment, largest first, then by size, smallest first, then by name, each at
/// the next offset its alignment allows), in one single-entry read-only array after the
/// global data maps.
fn read_kconfig_map(t: &Tables<'_>, btf: &Btf<'_>, out: &mut Maps) -> Result<(), ElfError> {
    // Undefined global and weak symbols by name (one pass: no quadratic search on hostile
    // input), weak or not.
    let undefined: HashMap<String, bool> = t
        .syms
        .iter()
        .enumerate()
        .filter(|(_, sym)| sym.st_shndx == 0 && matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK))
        .filter_map(|(i, sym)| Some((t.sym_name(i).ok()?, sym.st_bind() == STB_WEAK)))
        .collect();
    let mut externs = Vec::new();
    for (name, kind, size, align) in btf.kconfig_vars()? {
        let Some(&weak) = undefined.get(&name) else {
            continue;
        };
        externs.push((
            align,
            KconfigExtern {
                name,
                kind,
                offset: 0,
                size,
                weak,
            },
        ));
    }
    if externs.is_empty() {
        return Ok(());
    }
    externs.sort_by(|(a_align, a), (b_align, b)| {
        b_align
            .cmp(a_align)
            .then(a.size.cmp(&b.size))
            .then(a.name.cmp(&b.name))
    });
    let mut end = 0u64;
    for (align, e) in &mut externs {
        let off = end.next_multiple_of(u64::from((*align).max(1)));
        end = off + u64::from(e.size);
        if end > MAX_DATA_SECTION {
            return Err(ElfError::TooMany {
                what: "bytes of __kconfig externs",
                count: end,
                max: MAX_DATA_SECTION,
            });
        }
        e.offset = off as u32;
    }
    let spec =
        MapSpec::new(KCONFIG_MAP, MapType::Array, 4, end as u32, 1).with_flags(BPF_F_RDONLY_PROG);
    out.maps.push(ObjectMap {
        spec,
        pinning: Pinning::None,
        origin: MapOrigin::Kconfig {
            externs: externs.into_iter().map(|(_, e)| e).collect(),
        },
        inner: None,
        init_slots: Vec::new(),
        btf_key_type_id: 0,
        btf_value_type_id: btf.datasec_id(KCONFIG_MAP).unwrap_or(0),
    });
    Ok(())
}

/// The externs of the `.kconfig` map of `maps` by name: (map index, extern).
fn kconfig_externs(maps: &[ObjectMap]) -> HashMap<&str, (usize, &KconfigExtern)> {
    let mut out = HashMap::new();
    for (i, m) in maps.iter().enumerate() {
        if let MapOrigin::Kconfig { externs } = &m.origin {
            out.extend(externs.iter().map(|e| (e.name.as_str(), (i, e))));
        }
    }
    out
}

/// Stage 6 (programs): every global function outside `.text` becomes a program, its
/// subprograms appended and its relocations applied (see [`Ctx2::build`]); the object's
/// instruction total is bounded by [`crate::MAX_TOTAL_INSNS`].
#[allow(clippy::too_many_arguments)]
fn build_programs(
    t: &Tables<'_>,
    layout: &Layout,
    funcs: &[Func],
    code: &HashMap<usize, Vec<Insn>>,
    relocs: &HashMap<usize, BTreeMap<usize, Rel>>,
    maps: &Maps,
    (func_info, core_relos): (&FuncInfos, &CoreRelos),
) -> Result<Vec<ObjectProgram>, ElfError> {
    let sections = &t.sections;
    let text_idx = layout.text_idx;
    let sym_name = |i: usize| t.sym_name(i);
    let relname = |sec: usize| format!(".rel{}", sections[sec].name);
    let func_at: HashMap<(usize, usize), usize> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| ((f.section, f.start), i))
        .collect();
    let kconfig = kconfig_externs(&maps.maps);
    let ctxt = Ctx2 {
        kconfig: &kconfig,
        sections,
        syms: &t.syms,
        funcs,
        func_at: &func_at,
        code,
        relocs,
        maps: &maps.maps,
        map_at: &maps.map_at,
        legacy_maps: layout.legacy_maps,
        btf_maps: layout.btf_maps,
        text_idx,
        func_info,
        core_relos,
    };
    let mut programs = Vec::new();
    let mut total = 0usize;
    for (fi, f) in funcs.iter().enumerate() {
        if Some(f.section) == text_idx || !f.global {
            continue;
        }
        let p = ctxt.build(fi, &sym_name, &relname, &mut total)?;
        programs.push(p);
    }
    Ok(programs)
}

/// Stage 7: the BTF the kernel gets: DATASEC sizes from the sections, variable offsets from
/// the symbols (by name, within the section), and hidden global functions of `.text` made
/// static, as libbpf does.
fn fixed_btf(t: &Tables<'_>, layout: &Layout, maps: &[ObjectMap], b: &Btf<'_>) -> Vec<u8> {
    let (sections, syms, text_idx) = (&t.sections, &t.syms, layout.text_idx);
    let sym_name = |i: usize| t.sym_name(i);
    let kconfig = maps.iter().find_map(|m| match &m.origin {
        MapOrigin::Kconfig { .. } => Some((m.spec.value_size, kconfig_externs(maps))),
        _ => None,
    });
    let size_of = |name: &str| match &kconfig {
        Some((size, _)) if name == KCONFIG_MAP => Some(u64::from(*size)),
        _ => sections.iter().find(|s| s.name == name).map(|s| s.size()),
    };
    let var_offset = |sec: &str, var: &str| {
        if let (Some((_, externs)), KCONFIG_MAP) = (&kconfig, sec) {
            return externs.get(var).map(|(_, e)| u64::from(e.offset));
        }
        let si = sections.iter().position(|s| s.name == sec)?;
        syms.iter().enumerate().find_map(|(i, sym)| {
            (sym.st_shndx == si
                && sym.st_type() != STT_SECTION
                && sym.st_name != 0
                && sym_name(i).ok().as_deref() == Some(var))
            .then_some(sym.st_value)
        })
    };
    // Global functions of .text with hidden or internal visibility (`__hidden`).
    let hidden = |func: &str| {
        syms.iter().enumerate().any(|(i, sym)| {
            Some(sym.st_shndx) == text_idx
                && sym.st_type() == STT_FUNC
                && sym.st_bind() != STB_LOCAL
                && matches!(sym.st_other & 3, STV_INTERNAL | STV_HIDDEN)
                && sym_name(i).ok().as_deref() == Some(func)
        })
    };
    b.fixed_up(
        sections[layout.btf_sec.unwrap_or(0)].data,
        &size_of,
        &var_offset,
        &hidden,
    )
}

/// A `SHT_REL` section's entries, after checking its entry size against the file.
fn rel_table<'a>(
    rs: &Section<'_>,
    bytes: &'a [u8],
    ctx: Ctx,
) -> Result<RelocSection<'a>, ElfError> {
    if rs.shdr.sh_entsize != REL_SIZE || rs.size() % REL_SIZE != 0 {
        return Err(malformed(format!(
            "{}: entry size {}",
            rs.name, rs.shdr.sh_entsize
        )));
    }
    RelocSection::parse(
        bytes,
        rs.shdr.sh_offset as usize,
        rs.size() as usize,
        false,
        ctx,
    )
    .map_err(|e| malformed(format!("{}: {e}", rs.name)))
}

/// The spec a BTF map definition asks for. A map-in-map's value is the inner map's fd and a
/// program array's a program fd: libbpf fills in the 4-byte key and value sizes when the
/// definition leaves them out, and so does this reader.
fn btf_spec(m: &super::btf::BtfMap) -> MapSpec {
    let map_type = MapType::from_raw(m.map_type);
    let (mut key_size, mut value_size) = (m.key_size, m.value_size);
    if matches!(
        map_type,
        MapType::ArrayOfMaps | MapType::HashOfMaps | MapType::ProgArray
    ) {
        if key_size == 0 {
            key_size = 4;
        }
        if value_size == 0 {
            value_size = 4;
        }
    }
    MapSpec::new(&m.name, map_type, key_size, value_size, m.max_entries).with_flags(m.flags)
}

/// Reads `.rel.maps`: each relocation fills one slot of a map-in-map (with a map of `.maps`)
/// or of a program array (with a program), the way `.values = { [i] = &x }` is written.
#[allow(clippy::too_many_arguments)]
fn collect_map_slots(
    rs: &Section<'_>,
    bytes: &[u8],
    ctx: Ctx,
    syms: &[Sym],
    sym_name: &dyn Fn(usize) -> Result<String, ElfError>,
    ranges: &[(u64, u64, usize, Option<u32>)],
    maps: &mut [ObjectMap],
    maps_sec: usize,
) -> Result<(), ElfError> {
    if rs.shdr.sh_type != SHT_REL {
        return Err(malformed(format!("{} is not a REL section", rs.name)));
    }
    let table = rel_table(rs, bytes, ctx)?;
    for (index, r) in table.iter().enumerate() {
        let bad = |reason: String| ElfError::BadRelocation {
            section: rs.name.clone(),
            index,
            reason,
        };
        if r.r_type != R_BPF_64_64 && r.r_type != R_BPF_64_ABS64 {
            return Err(bad(format!(
                "type {} (a map slot takes R_BPF_64_64 or R_BPF_64_ABS64)",
                r.r_type
            )));
        }
        if r.r_sym == 0 || r.r_sym >= syms.len() {
            return Err(bad(format!("symbol index {} (of {})", r.r_sym, syms.len())));
        }
        let &(start, _, mi, values) = ranges
            .iter()
            .find(|(s, e, _, _)| *s <= r.r_offset && r.r_offset < *e)
            .ok_or_else(|| bad(format!("offset {} is not inside a map", r.r_offset)))?;
        let name = maps[mi].spec.name.clone();
        let values = values
            .ok_or_else(|| bad(format!("map {name} has no `values` to put a slot in")))?
            as u64;
        let within = r.r_offset - start;
        if within < values || (within - values) % 8 != 0 {
            return Err(bad(format!(
                "offset {within} into map {name} is not one of its `values` slots"
            )));
        }
        let slot = (within - values) / 8;
        if slot >= maps[mi].spec.max_entries as u64 {
            return Err(bad(format!(
                "slot {slot} of map {name} is beyond its max_entries {}",
                maps[mi].spec.max_entries
            )));
        }
        let sym = &syms[r.r_sym];
        let target = sym_name(r.r_sym)?;
        let value = match maps[mi].spec.map_type {
            MapType::ArrayOfMaps | MapType::HashOfMaps => {
                if sym.st_shndx != maps_sec {
                    return Err(bad(format!(
                        "slot {slot} of map-in-map {name} points to {target}, which is not a map"
                    )));
                }
                SlotValue::Map(target)
            }
            MapType::ProgArray => {
                if sym.st_type() != STT_FUNC {
                    return Err(bad(format!(
                        "slot {slot} of program array {name} points to {target}, which is not a \
                         program"
                    )));
                }
                SlotValue::Program(target)
            }
            t => {
                return Err(bad(format!(
                    "map {name} of type {t} cannot have initial `values`"
                )))
            }
        };
        let slots = &mut maps[mi].init_slots;
        if slots.iter().any(|(k, _)| *k as u64 == slot) {
            return Err(bad(format!("slot {slot} of map {name} is set twice")));
        }
        slots.push((slot as u32, value));
    }
    Ok(())
}

/// `.BTF.ext` func_info: section name → (byte offset in the section, FUNC type id).
type FuncInfos = HashMap<String, Vec<(u32, u32)>>;

/// `.BTF.ext` CO-RE relocations: section name → (byte offset in the section, record).
type CoreRelos = HashMap<String, Vec<(u32, crate::CoreRelo)>>;

/// Checks the `.BTF.ext` header (magic and length). Func info, line info and CO-RE
/// relocations are read later, against `.BTF`.
fn check_btf_ext(b: &[u8]) -> Result<(), ElfError> {
    if b.len() < 8 || u16::from_le_bytes([b[0], b[1]]) != uapi::btf::BTF_MAGIC {
        return Err(ElfError::Btf(".BTF.ext has no valid header".into()));
    }
    let hdr_len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    if hdr_len >= 32 && b.len() < 32 {
        return Err(ElfError::Btf(".BTF.ext header is truncated".into()));
    }
    Ok(())
}

/// Whether a `.BTF.ext` header announces CO-RE relocations.
fn has_core_relos(b: &[u8]) -> bool {
    let word = |off: usize| {
        b.get(off..off + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    word(4).is_some_and(|h| h >= 32) && word(28).is_some_and(|l| l > 0)
}

/// What building programs needs.
struct Ctx2<'c, 'a> {
    sections: &'c [Section<'a>],
    syms: &'c [Sym],
    funcs: &'c [Func],
    func_at: &'c HashMap<(usize, usize), usize>,
    code: &'c HashMap<usize, Vec<Insn>>,
    relocs: &'c HashMap<usize, BTreeMap<usize, Rel>>,
    maps: &'c [ObjectMap],
    map_at: &'c HashMap<(usize, u64), usize>,
    legacy_maps: Option<usize>,
    btf_maps: Option<usize>,
    text_idx: Option<usize>,
    /// `.BTF.ext` func_info: section name → (byte offset, FUNC type id).
    func_info: &'c HashMap<String, Vec<(u32, u32)>>,
    /// `.BTF.ext` CO-RE relocations by section.
    core_relos: &'c CoreRelos,
    /// The `__kconfig` externs by name: (index of the `.kconfig` map, extern).
    kconfig: &'c HashMap<&'c str, (usize, &'c KconfigExtern)>,
}

impl Ctx2<'_, '_> {
    /// Builds the program whose main function is `funcs[main]`: copies it, then appends each
    /// subprogram the first time a call (or function address load) reaches it, scanning
    /// depth-first like libbpf, and applies every relocation.
    fn build(
        &self,
        main: usize,
        sym_name: &dyn Fn(usize) -> Result<String, ElfError>,
        relname: &dyn Fn(usize) -> String,
        total: &mut usize,
    ) -> Result<ObjectProgram, ElfError> {
        let mf = &self.funcs[main];
        let mut out: Vec<Insn> = Vec::new();
        let mut map_refs: Vec<MapRef> = Vec::new();
        // function index → first slot in `out`.
        let mut placed: HashMap<usize, usize> = HashMap::new();
        let mut subprograms: Vec<(String, usize)> = Vec::new();
        let append =
            |f: usize, out: &mut Vec<Insn>, total: &mut usize| -> Result<usize, ElfError> {
                let func = &self.funcs[f];
                let new_len = out.len() + func.len;
                if new_len > asm::MAX_INSNS {
                    return Err(ElfError::TooMany {
                        what: "instructions in one program",
                        count: new_len as u64,
                        max: asm::MAX_INSNS as u64,
                    });
                }
                *total += func.len;
                if *total > MAX_TOTAL_INSNS {
                    return Err(ElfError::TooMany {
                        what: "instructions in all programs",
                        count: *total as u64,
                        max: MAX_TOTAL_INSNS as u64,
                    });
                }
                let start = out.len();
                out.extend_from_slice(&self.code[&func.section][func.start..func.start + func.len]);
                Ok(start)
            };
        placed.insert(main, append(main, &mut out, total)?);
        // Depth-first: (function, next slot to scan within it).
        let mut stack: Vec<(usize, usize)> = vec![(main, 0)];
        while let Some(top) = stack.last_mut() {
            let (f, k) = *top;
            let func = &self.funcs[f];
            if k >= func.len {
                stack.pop();
                continue;
            }
            top.1 += 1;
            let base = placed[&f];
            let at = base + k;
            let insn = out[at];
            let sec_slot = func.start + k;
            let rel = self
                .relocs
                .get(&func.section)
                .and_then(|m| m.get(&sec_slot));
            let bad = |reason: String| ElfError::BadRelocation {
                section: relname(func.section),
                index: rel.map_or(0, |r| r.index),
                reason,
            };
            let is_lddw = insn.code == op::LDDW;
            let is_call = insn.code == op::JMP | op::CALL;
            // The target function of a call or function-address load, if any.
            let mut target: Option<(usize, usize)> = None; // (section, slot in section)
            match rel {
                Some(r) => {
                    let sym = &self.syms[r.sym];
                    let name = sym_name(r.sym)?;
                    if sym.st_shndx == 0 {
                        let Some(&(mi, ext)) = self.kconfig.get(name.as_str()) else {
                            return Err(ElfError::Unsupported(format!(
                                "extern symbol {name} (not a __kconfig extern of the object's \
                                 BTF; ksym externs and kfunc calls are not supported)"
                            )));
                        };
                        if r.r_type != R_BPF_64_64
                            || !is_lddw
                            || at + 1 >= out.len()
                            || k + 1 >= func.len
                        {
                            return Err(bad(format!(
                                "the kconfig extern {name} is referenced by an instruction \
                                 that is not a complete lddw"
                            )));
                        }
                        // As libbpf: the extern's place in the .kconfig map (imm ignored).
                        out[at].src = op::PSEUDO_MAP_VALUE;
                        out[at].imm = 0;
                        out[at + 1].imm = ext.offset as i32;
                        map_refs.push(MapRef {
                            insn: at,
                            name: self.maps[mi].spec.name.clone(),
                            kind: MapRefKind::Value { offset: ext.offset },
                        });
                        continue;
                    }
                    if sym.st_shndx >= SHN_LORESERVE || sym.st_shndx >= self.sections.len() {
                        return Err(bad(format!(
                            "symbol {name} has section index {}",
                            sym.st_shndx
                        )));
                    }
                    let shndx = sym.st_shndx;
                    if r.r_type == R_BPF_64_32 {
                        if !(is_call && insn.src == op::PSEUDO_CALL) {
                            return Err(bad(format!(
                                "R_BPF_64_32 against {name} on an instruction that is not a \
                                 bpf-to-bpf call (code {:#04x})",
                                insn.code
                            )));
                        }
                        if sym.st_value % 8 != 0 {
                            return Err(bad(format!("call target {name} is not aligned")));
                        }
                        let t = (sym.st_value / 8) as i64 + insn.imm as i64 + 1;
                        target = Some((
                            shndx,
                            usize::try_from(t).map_err(|_| bad(format!("call target {t}")))?,
                        ));
                    } else {
                        // R_BPF_64_64
                        if !is_lddw || at + 1 >= out.len() || k + 1 >= func.len {
                            return Err(bad(format!(
                                "R_BPF_64_64 against {name} on an instruction that is not a \
                                 complete lddw"
                            )));
                        }
                        if Some(shndx) == self.legacy_maps || Some(shndx) == self.btf_maps {
                            // The address is symbol + imm: clang relocates a static map
                            // against the section symbol with the map's offset in imm.
                            let off =
                                u64::try_from(i128::from(sym.st_value) + i128::from(insn.imm))
                                    .map_err(|_| {
                                        bad(format!("map address {name}{:+}", insn.imm))
                                    })?;
                            let mi = *self.map_at.get(&(shndx, off)).ok_or_else(|| {
                                bad(format!("no map is defined at {name} (offset {off})"))
                            })?;
                            out[at].src = op::PSEUDO_MAP_FD;
                            out[at].imm = 0;
                            map_refs.push(MapRef {
                                insn: at,
                                name: self.maps[mi].spec.name.clone(),
                                kind: MapRefKind::Fd,
                            });
                        } else if let Some(&mi) = self.map_at.get(&(shndx, u64::MAX)) {
                            // i128: a symbol value near u64::MAX must not overflow.
                            let off = i128::from(sym.st_value) + i128::from(insn.imm);
                            let size = i128::from(self.maps[mi].spec.value_size);
                            if off < 0 || off >= size {
                                return Err(bad(format!(
                                    "offset {off} into {} ({size} bytes)",
                                    self.maps[mi].spec.name
                                )));
                            }
                            out[at].src = op::PSEUDO_MAP_VALUE;
                            out[at].imm = 0;
                            out[at + 1].imm = off as i32;
                            map_refs.push(MapRef {
                                insn: at,
                                name: self.maps[mi].spec.name.clone(),
                                kind: MapRefKind::Value { offset: off as u32 },
                            });
                        } else if self.code.contains_key(&shndx)
                            && (insn.src == op::PSEUDO_FUNC
                                || (insn.src == 0
                                    && matches!(sym.st_type(), STT_SECTION | STT_FUNC)))
                        {
                            // A function's address (a callback for bpf_loop, timers,
                            // for_each_map_elem): clang writes src 0 and relocates against the
                            // function (st_value = its offset, imm = 0) or, for a static one,
                            // the section (st_value = 0, imm = its offset); the kernel wants
                            // BPF_PSEUDO_FUNC with the distance in instructions, like a call.
                            let byte = i128::from(sym.st_value) + i128::from(insn.imm);
                            if byte < 0 || byte % 8 != 0 || byte / 8 > usize::MAX as i128 {
                                return Err(bad(format!("function address {byte} of {name}")));
                            }
                            out[at].src = op::PSEUDO_FUNC;
                            target = Some((shndx, (byte / 8) as usize));
                        } else {
                            return Err(bad(format!(
                                "symbol {name} is in section {:?}, which is neither a map, global \
                                 data nor code section",
                                self.sections[shndx].name
                            )));
                        }
                    }
                }
                None if (is_call && insn.src == op::PSEUDO_CALL)
                    || (is_lddw && insn.src == op::PSEUDO_FUNC) =>
                {
                    // A call within the same section, without relocation.
                    let t = sec_slot as i64 + insn.imm as i64 + 1;
                    let in_func = t >= func.start as i64 && t < (func.start + func.len) as i64;
                    if !in_func || self.func_at.contains_key(&(func.section, t as usize)) {
                        if t < 0 {
                            return Err(malformed(format!(
                                "call at {} of {} targets {t}",
                                sec_slot, func.name
                            )));
                        }
                        target = Some((func.section, t as usize));
                    }
                }
                None => {}
            }
            if let Some((sec, slot)) = target {
                let callee = *self.func_at.get(&(sec, slot)).ok_or_else(|| {
                    bad(format!(
                        "call target slot {slot} of section {:?} is not the start of a function",
                        self.sections[sec].name
                    ))
                })?;
                if Some(sec) != self.text_idx && sec != func.section {
                    return Err(bad(format!(
                        "call into program section {:?} (subprograms live in .text)",
                        self.sections[sec].name
                    )));
                }
                let start = match placed.get(&callee) {
                    Some(&s) => s,
                    None => {
                        let s = append(callee, &mut out, total)?;
                        placed.insert(callee, s);
                        subprograms.push((self.funcs[callee].name.clone(), s));
                        stack.push((callee, 0));
                        s
                    }
                };
                let rel_off = start as i64 - at as i64 - 1;
                out[at].imm = i32::try_from(rel_off).map_err(|_| malformed("call distance"))?;
            }
        }
        // The whole program must decode: valid instructions, jumps landing inside.
        let checked = asm::decode(&asm::encode(&out)).map_err(|e| ElfError::BadProgram {
            program: mf.name.clone(),
            source: Box::new(e),
        })?;
        let mut program = asm::Program::from_insns(checked);
        map_refs.sort_by_key(|r| r.insn);
        for r in map_refs {
            program.add_map_ref(r);
        }
        for (name, start) in &subprograms {
            program.add_label(*start, name);
        }
        // func_info: one record per placed function, in slot order; all or nothing.
        let mut placed_funcs: Vec<(usize, usize)> = placed.iter().map(|(&f, &s)| (s, f)).collect();
        placed_funcs.sort_unstable();
        let func_info: Vec<(u32, u32)> = placed_funcs
            .iter()
            .map(|&(slot, f)| {
                let func = &self.funcs[f];
                let recs = self.func_info.get(&self.sections[func.section].name)?;
                let byte = (func.start * 8) as u32;
                recs.iter()
                    .find(|r| r.0 == byte)
                    .map(|r| (slot as u32, r.1))
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        // CO-RE relocations: those of each placed function, moved to its slots.
        let mut core_relos = Vec::new();
        for &(slot, f) in &placed_funcs {
            let func = &self.funcs[f];
            let Some(recs) = self.core_relos.get(&self.sections[func.section].name) else {
                continue;
            };
            for (byte, r) in recs {
                let k = (*byte / 8) as usize;
                if k >= func.start && k < func.start + func.len {
                    core_relos.push(crate::CoreRelo {
                        insn: slot + (k - func.start),
                        ..r.clone()
                    });
                }
            }
        }
        core_relos.sort_by_key(|r| r.insn);
        let section = self.sections[mf.section].name.clone();
        Ok(ObjectProgram {
            name: mf.name.clone(),
            kind: sections::section_kind(&section),
            section,
            program,
            subprograms,
            func_info,
            core_relos,
        })
    }
}
