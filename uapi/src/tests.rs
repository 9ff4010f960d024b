//! The checks of every constant against the vendored headers. None of them can skip: the
//! headers are compiled in, and a name the headers lack is a failure.

use crate::header::{self, constants, field_mask, helper_ids, struct_layout};
use crate::{bpf, btf, ctx, errno, headers, isa, magic, socket, LATER};
use std::collections::BTreeMap;

/// Every named integer of every vendored header.
fn all_constants() -> BTreeMap<String, i128> {
    let mut all = BTreeMap::new();
    for (_, text) in headers::ALL {
        all.extend(constants(text));
    }
    all
}

fn check(table: &[(&str, i128)], known: &BTreeMap<String, i128>) -> Vec<String> {
    table
        .iter()
        .filter_map(|(name, value)| match known.get(*name) {
            Some(v) if v == value => None,
            Some(v) => Some(format!("{name}: crate has {value}, header has {v}")),
            None => Some(format!("{name}: not in the vendored headers")),
        })
        .collect()
}

#[test]
fn every_constant_matches_the_vendored_headers() {
    let known = all_constants();
    let mut bad = Vec::new();
    let mut n = 0;
    for table in [
        bpf::ALL,
        btf::ALL,
        isa::ALL,
        errno::ALL,
        socket::ALL,
        magic::ALL,
    ] {
        n += table.len();
        bad.extend(check(table, &known));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(n > 150, "only {n} constants checked");
}

#[test]
fn a_constant_missing_from_the_headers_fails_the_check() {
    let known = all_constants();
    assert_eq!(check(&[("BPF_NO_SUCH_THING", 1)], &known).len(), 1);
    assert_eq!(check(&[("BPF_MAP_CREATE", 1)], &known).len(), 1);
}

#[test]
fn later_numbers_are_not_in_the_vendored_headers_yet() {
    let known = all_constants();
    for (name, _, version) in LATER {
        assert!(
            !known.contains_key(*name),
            "{name} (Linux {version}) is in the refreshed headers now: move it into a checked table"
        );
    }
}

#[test]
fn field_masks_match_bpf_common_h() {
    for (name, mask) in isa::MASKS {
        assert_eq!(
            field_mask(headers::BPF_COMMON_H, name),
            Some(i128::from(*mask)),
            "{name}"
        );
    }
}

macro_rules! helper_table {
    ($( ($variant:ident, $id:literal, $name:ident) ),* $(,)?) => {
        &[ $( (stringify!($name), $id) ),* ]
    };
}

#[test]
fn helper_ids_match_the_func_mapper() {
    let ours: &[(&str, i128)] = crate::for_each_helper!(helper_table);
    let header = helper_ids(headers::BPF_H);
    assert_eq!(header.len(), ours.len(), "number of helpers");
    for ((name, id), (hname, hid)) in ours.iter().zip(&header) {
        assert_eq!((*name, *id), (hname.as_str(), *hid));
    }
    for (i, (_, id)) in ours.iter().enumerate() {
        assert_eq!(*id, i as i128, "ids are positions");
    }
}

#[test]
fn context_offsets_match_the_structs_in_bpf_h() {
    for (name, size, fields) in ctx::STRUCTS {
        let layout = struct_layout(headers::BPF_H, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(layout.size, *size as usize, "sizeof(struct {name})");
        for (member, off) in *fields {
            assert_eq!(
                layout.offset(member),
                Some(*off as usize),
                "offsetof(struct {name}, {member})"
            );
        }
    }
}

#[test]
fn af_inet_matches_the_c_library() {
    assert_eq!(socket::AF_INET, libc::AF_INET);
    assert_eq!(socket::AF_INET6, libc::AF_INET6);
    assert_eq!(socket::SOL_IP, libc::SOL_IP);
    assert_eq!(socket::SOL_TCP, libc::SOL_TCP);
    assert_eq!(socket::SOL_IPV6, libc::SOL_IPV6);
}

#[test]
fn vendored_headers_record_their_version() {
    assert!(
        headers::VERSION.starts_with("linux-libc-dev "),
        "{}",
        headers::VERSION
    );
}

/// Informational: whether the system's headers differ from the vendored ones (the vendored
/// check above is the one that counts and never skips).
#[test]
fn system_headers_compared_with_the_vendored_ones() {
    for (path, text) in headers::ALL {
        let sys = format!("/usr/include/{path}");
        match std::fs::read_to_string(&sys) {
            Ok(s) if s == *text => eprintln!("{sys}: same as the vendored copy"),
            Ok(_) => eprintln!("{sys}: DIFFERS from the vendored copy (uapi/refresh.sh)"),
            Err(e) => eprintln!("{sys}: not compared ({e})"),
        }
    }
}

#[test]
fn the_reader_handles_the_c_subset() {
    let text = "/* c */ #define A 0x10 // x\n#define B (A | (1U << 3))\n#define F(x) x\n\
                enum { X, Y = 5, Z, W = Y + 1 };\nenum e { P = (1ULL << 2) };\n\
                struct s { __u32 a; union { __u32 b[2]; __u32 c; }; __u64 d; \
                __bpf_md_ptr(void *, e); __be16 f; __u16 :16; __u32 g __attribute__((aligned(8))); };";
    let k = constants(text);
    assert_eq!(k.get("A"), Some(&16));
    assert_eq!(k.get("B"), Some(&24));
    assert_eq!(k.get("F"), None);
    assert_eq!((k["X"], k["Y"], k["Z"], k["W"], k["P"]), (0, 5, 6, 6, 4));
    let l = struct_layout(text, "s").unwrap();
    let offs: Vec<_> = l
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.offset))
        .collect();
    assert_eq!(
        offs,
        [
            ("a", 0),
            ("b", 4),
            ("c", 4),
            ("d", 16),
            ("e", 24),
            ("f", 32),
            ("g", 40)
        ]
    );
    assert_eq!(l.size, 48);
    assert!(struct_layout("struct t { float x; };", "t").is_err());
    // Narrow unnamed bit-fields pad within their type's unit, or start the next unit.
    let pad = "struct p { __u8 a; __u32 :24; __u8 b; __u32 :28; __u8 c; };";
    let l = struct_layout(pad, "p").unwrap();
    let offs: Vec<_> = l
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.offset))
        .collect();
    assert_eq!(offs, [("a", 0), ("b", 4), ("c", 12)]);
    assert_eq!(l.size, 13);
    assert!(struct_layout("struct q { __u32 x : 3; };", "q").is_err());
    assert!(header::eval("1 +", &BTreeMap::new()).is_none());
}

#[test]
fn the_reader_never_panics_on_truncated_or_odd_input() {
    let sample = "#define A (1 << 3)\nenum { X = A, Y };\nstruct s { __u32 a[4]; union { __u64 b; \
                  __u32 c; }; __bpf_md_ptr(void *, d); __u16 :16; __u8 e __attribute__((aligned(8))); };\n\
                  #define ___BPF_FUNC_MAPPER(FN, ctx...) FN(unspec, 0, ##ctx) FN(x, 1, ##ctx)\n";
    for cut in 0..=sample.len() {
        let t = &sample[..cut];
        let _ = constants(t);
        let _ = struct_layout(t, "s");
        let _ = helper_ids(t);
        let _ = field_mask(t, "BPF_CLASS");
    }
    for odd in [
        "struct s { __u32 a[99999999999999999999]; };",
        "struct s { __u32 a __attribute__((aligned(3))); };",
        "struct s { union { }; };",
        "struct s { ; };",
        "#define A (1 << 200)\n#define B -(~0)",
        "enum { X = (, Y };",
        "struct s { __u32 é; };",
    ] {
        let _ = constants(odd);
        let _ = struct_layout(odd, "s");
    }
    assert_eq!(helper_ids(sample).len(), 2);
}
