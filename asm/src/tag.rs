//! The kernel's program tag: a hash of the instructions with map references blanked out.
//!
//! The kernel computes the tag in `bpf_prog_calc_tag` (kernel/bpf/core.c) from the
//! instructions user space passed to `BPF_PROG_LOAD`, before the verifier rewrites anything:
//!
//! 1. copy the slots;
//! 2. for each `lddw` with source `BPF_PSEUDO_MAP_FD` (1) or `BPF_PSEUDO_MAP_VALUE` (2), set
//!    its `imm` to zero, and if the next slot looks like an `lddw` second half (code, registers
//!    and offset all zero) set that slot's `imm` to zero too: the fd and the value offset do not
//!    count. Other pseudo sources (`MAP_IDX`, `MAP_IDX_VALUE`, `BTF_ID`, `FUNC`) are hashed as
//!    they are;
//! 3. hash the bytes and keep the first 8 bytes of the digest.
//!
//! The hash changed in Linux 6.18 (the work on signed programs): kernels up to 6.17 use SHA-1,
//! 6.18 and later SHA-256 (measured on this project's 6.18 machine: `r0 = 0; exit` has the tag
//! `59f4a931744dcdc6`, the first bytes of its SHA-256, where older kernels print the well known
//! SHA-1 tag `a04f5eef06a7f555`). [`tag`] gives the tag of current kernels; [`tag_with`] picks
//! the algorithm and [`matching_algorithm`] tells which one a kernel-reported tag used.
//!
//! SHA-1 and SHA-256 are implemented here (FIPS 180-4); they are small and this crate takes no
//! dependency for them.

use crate::insn::op;
use crate::Insn;

/// Which hash the kernel uses for program tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagAlgorithm {
    /// SHA-1: Linux 4.10 up to 6.17.
    Sha1,
    /// SHA-256: Linux 6.18 and later.
    Sha256,
}

impl TagAlgorithm {
    /// Both algorithms, newest first.
    pub const ALL: [TagAlgorithm; 2] = [TagAlgorithm::Sha256, TagAlgorithm::Sha1];
}

/// The kernel's 8-byte program tag of an instruction vector, as Linux 6.18 and later compute
/// it (SHA-256; map fds and map value offsets zeroed as the kernel does before hashing).
///
/// For kernels up to 6.17 use [`tag_with`]`(insns, TagAlgorithm::Sha1)`.
///
/// ```
/// use asm::{tag, Insn, Reg};
/// let prog = [Insn::alu64(asm::AluOp::Mov, Reg::R0, 0), Insn::exit()];
/// assert_eq!(tag::tag_hex(&prog), "59f4a931744dcdc6");
/// assert_eq!(tag::tag_hex_with(&prog, tag::TagAlgorithm::Sha1), "a04f5eef06a7f555");
/// ```
pub fn tag(insns: &[Insn]) -> [u8; 8] {
    tag_with(insns, TagAlgorithm::Sha256)
}

/// The tag as bpftool prints it: 16 lowercase hex digits (Linux 6.18 and later, see [`tag`]).
pub fn tag_hex(insns: &[Insn]) -> String {
    hex(&tag(insns))
}

/// The tag computed with a chosen hash.
pub fn tag_with(insns: &[Insn], algorithm: TagAlgorithm) -> [u8; 8] {
    let bytes = tag_input(insns);
    let mut out = [0u8; 8];
    match algorithm {
        TagAlgorithm::Sha1 => out.copy_from_slice(&sha1(&bytes)[..8]),
        TagAlgorithm::Sha256 => out.copy_from_slice(&sha256(&bytes)[..8]),
    }
    out
}

/// [`tag_with`] as 16 lowercase hex digits.
pub fn tag_hex_with(insns: &[Insn], algorithm: TagAlgorithm) -> String {
    hex(&tag_with(insns, algorithm))
}

/// Which algorithm gives `kernel_tag` (as read from `bpf_prog_info.tag`) for these
/// instructions, or `None` if neither does (the instructions differ from what was loaded).
pub fn matching_algorithm(insns: &[Insn], kernel_tag: &[u8; 8]) -> Option<TagAlgorithm> {
    let bytes = tag_input(insns);
    TagAlgorithm::ALL.into_iter().find(|a| {
        let digest: &[u8] = match a {
            TagAlgorithm::Sha1 => &sha1(&bytes),
            TagAlgorithm::Sha256 => &sha256(&bytes),
        };
        digest[..8] == kernel_tag[..]
    })
}

/// The bytes the kernel hashes: the encoded slots with the `imm` of map-fd and map-value
/// `lddw` pairs set to zero, following `bpf_prog_calc_tag` exactly (including its treatment
/// of malformed pairs: a second half is only blanked when its code, registers and offset are
/// zero).
pub fn tag_input(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    let mut was_ld_map = false;
    for insn in insns {
        let mut i = *insn;
        if !was_ld_map
            && i.code == op::LDDW
            && (i.src == op::PSEUDO_MAP_FD || i.src == op::PSEUDO_MAP_VALUE)
        {
            was_ld_map = true;
            i.imm = 0;
        } else if was_ld_map && i.code == 0 && i.dst == 0 && i.src == 0 && i.off == 0 {
            was_ld_map = false;
            i.imm = 0;
        } else {
            was_ld_map = false;
        }
        out.extend_from_slice(&i.encode());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pads a message the way SHA-1 and SHA-256 do: `0x80`, zeros up to 56 mod 64, then the bit
/// length as a big-endian u64.
fn md_pad(data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len() + 72);
    m.extend_from_slice(data);
    m.push(0x80);
    while m.len() % 64 != 56 {
        m.push(0);
    }
    m.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    m
}

/// The SHA-1 digest of `data` (FIPS 180-4).
///
/// ```
/// let d = asm::tag::sha1(b"abc");
/// assert_eq!(d[..4], [0xa9, 0x99, 0x3e, 0x36]);
/// ```
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    for block in md_pad(data).chunks_exact(64) {
        let mut w = [0u32; 80];
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (t, wt) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let tmp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wt);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = tmp;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

const SHA256_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The SHA-256 digest of `data` (FIPS 180-4).
///
/// ```
/// let d = asm::tag::sha256(b"abc");
/// assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
/// ```
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    for block in md_pad(data).chunks_exact(64) {
        let mut w = [0u32; 64];
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wt) in SHA256_K.iter().zip(w) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(wt);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(d: &[u8]) -> String {
        hex(d)
    }

    #[test]
    fn sha1_standard_vectors() {
        assert_eq!(h(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(h(&sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            h(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            h(&sha1(&vec![b'a'; 1_000_000])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn sha256_standard_vectors() {
        assert_eq!(
            h(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            h(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            h(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            h(&sha256(&vec![b'a'; 1_000_000])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn padding_lengths_around_the_block_edge() {
        // 55 bytes fit one block with the length; 56 need two. Both must differ and be stable.
        for n in [55usize, 56, 63, 64, 65] {
            assert_eq!(md_pad(&vec![0u8; n]).len() % 64, 0);
        }
        assert_eq!(md_pad(&[0u8; 55]).len(), 64);
        assert_eq!(md_pad(&[0u8; 56]).len(), 128);
    }
}
