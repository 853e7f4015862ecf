//! LZF, the compression RDB files use for long strings. The stream is a
//! sequence of runs, each opened by a control byte:
//!
//! - `000LLLLL`: L+1 literal bytes follow (1..=32).
//! - `LLLOOOOO OOOOOOOO`: copy L+2 bytes (3..=8) from `O+1` bytes back in
//!   the output (O is 13 bits); L = 7 means a third byte follows first,
//!   adding to the length (up to 264).
//!
//! The compressor is greedy: a hash of the next three bytes finds the last
//! position that started with them, and a match of three or more within
//! 8 KiB becomes a back reference.

const MAX_LITERAL: usize = 32;
const MAX_OFFSET: usize = 1 << 13;
const MAX_MATCH: usize = 8 + 256;
/// The match table has up to 2^14 slots, fewer for short input (a 100-byte
/// value should not pay for zeroing 64 KB).
const HASH_BITS_MAX: u32 = 14;
const HASH_BITS_MIN: u32 = 8;

fn hash3(b: &[u8], bits: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Compresses `input`; `None` when the result would take more than `max`
/// bytes (the caller then stores the string as it is).
pub fn compress(input: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max + 3);
    let bits = input.len().next_power_of_two().trailing_zeros().clamp(HASH_BITS_MIN, HASH_BITS_MAX);
    let mut table = vec![0u32; 1 << bits];
    let mut literal_start = 0;
    let mut i = 0;
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        for run in input[from..to].chunks(MAX_LITERAL) {
            out.push(run.len() as u8 - 1);
            out.extend_from_slice(run);
        }
    };
    while i + 2 < input.len() {
        let h = hash3(&input[i..], bits);
        let candidate = table[h] as usize;
        table[h] = i as u32 + 1;
        let found = candidate > 0 && {
            let at = candidate - 1;
            i - at <= MAX_OFFSET && input[at..at + 3] == input[i..i + 3]
        };
        if !found {
            i += 1;
            continue;
        }
        let at = candidate - 1;
        let mut len = 3;
        let most = (input.len() - i).min(MAX_MATCH);
        while len < most && input[at + len] == input[i + len] {
            len += 1;
        }
        flush_literals(&mut out, literal_start, i);
        let offset = i - at - 1;
        let l = len - 2;
        if l < 7 {
            out.push(((l as u8) << 5) | (offset >> 8) as u8);
        } else {
            out.push((7 << 5) | (offset >> 8) as u8);
            out.push((l - 7) as u8);
        }
        out.push(offset as u8);
        if out.len() > max {
            return None;
        }
        // Index the positions the match covered, so later data can refer
        // into it.
        for j in i + 1..(i + len).min(input.len().saturating_sub(2)) {
            table[hash3(&input[j..], bits)] = j as u32 + 1;
        }
        i += len;
        literal_start = i;
    }
    flush_literals(&mut out, literal_start, input.len());
    (out.len() <= max).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `expected` bytes.
pub fn decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    // Each two- or three-byte run yields at most 264 bytes, so a longer
    // claim is corrupt (and must not become an allocation).
    if expected > input.len().saturating_mul(MAX_MATCH / 2 + 1) {
        return None;
    }
    let mut out = Vec::with_capacity(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let from = out.len().checked_sub(back)?;
            for k in 0..len + 2 {
                let b = out[from + k];
                out.push(b);
            }
        }
        if out.len() > expected {
            return None;
        }
    }
    (out.len() == expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello, world world world".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).flat_map(|i| i.to_string().into_bytes()).collect(),
            vec![b'x'; 100_000],
        ];
        for s in samples {
            let c = compress(&s, s.len() - 1).expect("compressible");
            assert!(c.len() < s.len());
            assert_eq!(decompress(&c, s.len()).unwrap(), s);
        }
    }

    #[test]
    fn incompressible_and_corrupt_input() {
        let noise: Vec<u8> = (0..64u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        // A back reference before the start of the output.
        assert!(decompress(&[0x20, 0x05], 3).is_none());
        // A literal run past the end of the input.
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        // The wrong expected length.
        assert!(decompress(&[0x00, b'a'], 2).is_none());
    }

    #[test]
    fn decodes_the_reference_encoding() {
        // "aaaaaaaaaaaaaaaaaaaaaaaaa" (25 bytes) as liblzf writes it: one
        // literal, then a copy of 24 bytes from one back.
        let c = [0x00, b'a', 0xe0, 0x0f, 0x00];
        assert_eq!(decompress(&c, 25).unwrap(), vec![b'a'; 25]);
    }
}
