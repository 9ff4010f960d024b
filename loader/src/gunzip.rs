//! A small gzip (RFC 1952) / DEFLATE (RFC 1951) decoder, for `/proc/config.gz` (the kernel
//! configuration libbpf reads for `CONFIG_*` externs when `/boot/config-$(uname -r)` is
//! absent). Written for this crate from the RFCs: no compression library is among the
//! allowed dependencies. Bounded: the output stops at a caller's limit, and every read is
//! checked, so a hostile or truncated stream is an error, never a panic.

/// Why a stream could not be decoded.
pub type Error = String;

/// Bits of a DEFLATE stream, least significant bit of each byte first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    count: u32,
}

impl Bits<'_> {
    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        while self.count < n {
            let b = *self.data.get(self.pos).ok_or("truncated DEFLATE stream")?;
            self.pos += 1;
            self.buf |= u64::from(b) << self.count;
            self.count += 8;
        }
        let v = (self.buf & ((1u64 << n) - 1)) as u32;
        self.buf >>= n;
        self.count -= n;
        Ok(v)
    }

    /// Drops the bits left of the current byte (before a stored block).
    fn align(&mut self) {
        let drop = self.count % 8;
        self.buf >>= drop;
        self.count -= drop;
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    /// The code whose symbol `i` has code length `lengths[i]` (0: unused).
    fn new(lengths: &[u8]) -> Result<Huffman, Error> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        // An over-subscribed code cannot be decoded; an incomplete one can (and occurs).
        let mut left: i32 = 1;
        for &c in &counts[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("over-subscribed Huffman code".into());
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[usize::from(offsets[usize::from(l)])] = sym as u16;
                offsets[usize::from(l)] += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    /// Reads one symbol: code bits come most significant first.
    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, Error> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bits(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code".into())
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which a dynamic block lists the code lengths of its code-length code.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Decodes a raw DEFLATE stream; `Ok((output, bytes of input used))`.
pub fn inflate(data: &[u8], limit: usize) -> Result<(Vec<u8>, usize), Error> {
    let mut bits = Bits {
        data,
        pos: 0,
        buf: 0,
        count: 0,
    };
    let mut out: Vec<u8> = Vec::new();
    loop {
        let last = bits.bits(1)? == 1;
        match bits.bits(2)? {
            0 => {
                bits.align();
                let len = bits.bits(16)?;
                let nlen = bits.bits(16)?;
                if len != !nlen & 0xffff {
                    return Err("stored block length check failed".into());
                }
                for _ in 0..len {
                    out.push(bits.bits(8)? as u8);
                }
                if out.len() > limit {
                    return Err(format!("output larger than {limit} bytes"));
                }
            }
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                let lit = Huffman::new(&lengths)?;
                let dist = Huffman::new(&[5u8; 30])?;
                codes(&mut bits, &lit, &dist, &mut out, limit)?;
            }
            2 => {
                let nlit = bits.bits(5)? as usize + 257;
                let ndist = bits.bits(5)? as usize + 1;
                let nclen = bits.bits(4)? as usize + 4;
                if nlit > 286 || ndist > 30 {
                    return Err("too many length or distance codes".into());
                }
                let mut clen = [0u8; 19];
                for &i in &CLEN_ORDER[..nclen] {
                    clen[i] = bits.bits(3)? as u8;
                }
                let clen = Huffman::new(&clen)?;
                let mut lengths = vec![0u8; nlit + ndist];
                let mut i = 0;
                while i < lengths.len() {
                    let sym = clen.decode(&mut bits)?;
                    let (value, times) = match sym {
                        0..=15 => (sym as u8, 1),
                        16 => {
                            let prev = *lengths[..i].last().ok_or("repeat with no length")?;
                            (prev, 3 + bits.bits(2)? as usize)
                        }
                        17 => (0, 3 + bits.bits(3)? as usize),
                        _ => (0, 11 + bits.bits(7)? as usize),
                    };
                    if i + times > lengths.len() {
                        return Err("code lengths overrun".into());
                    }
                    lengths[i..i + times].fill(value);
                    i += times;
                }
                if lengths[256] == 0 {
                    return Err("no end-of-block code".into());
                }
                let lit = Huffman::new(&lengths[..nlit])?;
                let dist = Huffman::new(&lengths[nlit..])?;
                codes(&mut bits, &lit, &dist, &mut out, limit)?;
            }
            _ => return Err("invalid block type 3".into()),
        }
        if last {
            // Whole bytes still buffered were not used.
            return Ok((out, bits.pos - (bits.count / 8) as usize));
        }
    }
}

/// The literals and back references of one compressed block, up to its end code.
fn codes(
    bits: &mut Bits<'_>,
    lit: &Huffman,
    dist: &Huffman,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Error> {
    loop {
        let sym = lit.decode(bits)?;
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Ok(()),
            _ => {
                let i = usize::from(sym - 257);
                let len = *LEN_BASE.get(i).ok_or("invalid length code")? as usize
                    + bits.bits(u32::from(LEN_EXTRA[i]))? as usize;
                let d = usize::from(dist.decode(bits)?);
                let back = *DIST_BASE.get(d).ok_or("invalid distance code")? as usize
                    + bits.bits(u32::from(DIST_EXTRA[d]))? as usize;
                if back > out.len() {
                    return Err("distance before the start of the output".into());
                }
                let start = out.len() - back;
                for k in 0..len {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
        if out.len() > limit {
            return Err(format!("output larger than {limit} bytes"));
        }
    }
}

/// CRC-32 (IEEE, reflected, as gzip's trailer holds it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Decodes the first member of a gzip file, checking its CRC-32 and size; at most `limit`
/// bytes of output.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let short = || Error::from("truncated gzip header");
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
        return Err("not a gzip (deflate) stream".into());
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & 4 != 0 {
        let xlen = u16::from_le_bytes([
            *data.get(pos).ok_or_else(short)?,
            *data.get(pos + 1).ok_or_else(short)?,
        ]);
        pos += 2 + usize::from(xlen);
    }
    for flag in [8u8, 16] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .and_then(|s| s.iter().position(|&b| b == 0))
                .ok_or_else(short)?;
            pos += end + 1;
        }
    }
    if flags & 2 != 0 {
        pos += 2;
    }
    let body = data.get(pos..).ok_or_else(short)?;
    let (out, used) = inflate(body, limit)?;
    let trailer = body.get(used..used + 8).ok_or("truncated gzip trailer")?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc != crc32(&out) || size != out.len() as u32 {
        return Err("gzip CRC or size mismatch".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn stored_and_fixed_blocks_decode() {
        // Stored: "hi" in one final stored block.
        let (out, used) = inflate(&[0x01, 0x02, 0x00, 0xfd, 0xff, b'h', b'i'], 100).unwrap();
        assert_eq!((out.as_slice(), used), (&b"hi"[..], 7));
        // The gzip tool's output (`printf CONFIG_A=y | gzip -9n`): a fixed-code block.
        let gz = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x73, 0xf6, 0xf7, 0x73,
            0xf3, 0x74, 0x8f, 0x77, 0xb4, 0xad, 0x04, 0x00, 0x47, 0x2e, 0x63, 0xef, 0x0a, 0x00,
            0x00, 0x00,
        ];
        assert_eq!(gunzip(&gz, 100).unwrap(), b"CONFIG_A=y");
    }

    /// `CONFIG_OPTION_<i>=…` lines: every fifth a number, the others y/m/n.
    fn config_text() -> String {
        (0..120u64)
            .map(|i| {
                let v = if i % 5 != 0 {
                    ["y", "m", "n"][(i * 7 % 3) as usize].to_string()
                } else {
                    (i * i).to_string()
                };
                format!("CONFIG_OPTION_{i}={v}\n")
            })
            .collect()
    }

    #[test]
    fn a_dynamic_block_decodes() {
        // `gzip -9n` of config_text(): one block with dynamic Huffman codes.
        let hex = concat!(
            "1f8b08000000000002036dd53b5243310c85e19ed548b61e76a18a19983409057d56003dbbc7a123bf5acf9c",
            "b175ef679fd7dbf5edf27ebf7d7c5e6ed7bb94bcbcfe5bd1fa7a5a19f5fdb432ebe769c590f21afeb4148825",
            "620b9b6da4544a05e7562475303ab1a31a83e7f038bd06a3c9e8e29e9b9f54ca30c15044c7607462cf610c7a",
            "052618c16832bab8e72601a98d0926f1cc460ff94cfa995eca9f30696812d1a4a2494676180566303a323a32",
            "3a323ab2e34830831192119211921192cbb96698c129c929c929c929c9bd266770527252725272520aa9c9ff",
            "10b414b414b414b4145e464b414b414b414b414b792e34ef43d252d252d252d2527a39af74d252d252d252d2",
            "d2920abe4a8b96162d2d5a5ab4b4bc92ff61d1d2a2a5454b8b96b6d462376c5adab4b46969d3d2f6f3f06186",
            "4d4b9b9676d36e5dbdfdf51b1b4e9a8a93a6e3a42939695a4ece13ab9c45a5693a69aa4e9aae13bad2475f8f",
            "aeb1494b753479e252b5267be6994d716b34f96cf2abd9fb61ec17f20cb83a34090000",
        );
        let gz: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!((gz[10] >> 1) & 3, 2, "a dynamic block");
        assert_eq!(gunzip(&gz, 1 << 20).unwrap(), config_text().as_bytes());
    }

    #[test]
    fn proc_config_gz_decodes_as_gzip_does() {
        let Ok(gz) = std::fs::read("/proc/config.gz") else {
            return eprintln!(
                "SKIP proc_config_gz_decodes_as_gzip_does: /proc/config.gz missing (kernel built without IKCONFIG_PROC)"
            );
        };
        let Ok(out) = std::process::Command::new("gzip")
            .arg("-dc")
            .arg("/proc/config.gz")
            .output()
        else {
            return eprintln!("SKIP proc_config_gz_decodes_as_gzip_does: gzip not installed");
        };
        assert_eq!(gunzip(&gz, 64 << 20).unwrap(), out.stdout);
    }

    #[test]
    fn limits_and_damage_are_errors() {
        let gz = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x73, 0xf6, 0xf7, 0x73,
            0xf3, 0x74, 0x8f, 0x77, 0xb4, 0xad, 0x04, 0x00, 0x47, 0x2e, 0x63, 0xef, 0x0a, 0x00,
            0x00, 0x00,
        ];
        assert!(gunzip(&gz, 5).is_err());
        for cut in 0..gz.len() {
            assert!(gunzip(&gz[..cut], 100).is_err(), "cut at {cut}");
        }
        let mut bad = gz;
        bad[22] ^= 1;
        assert!(gunzip(&bad, 100).is_err());
    }
}
