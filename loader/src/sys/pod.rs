//! [`Pod`]: plain-old-data map keys and values, and their conversion to and from bytes (the
//! only `unsafe` the typed map views need lives here).

/// A plain-old-data type that can be a map key or value: its bytes are exactly what the
/// kernel stores.
///
/// Implemented for the integer types and arrays of `Pod` types. Implement it for your own
/// `#[repr(C)]` structs when that is true of them.
///
/// # Safety
/// Implement only for `Copy` types in which every bit pattern is a valid value and which
/// have no padding bytes (a `#[repr(C)]` struct of `Pod` fields whose size is the sum of the
/// field sizes, or `#[repr(transparent)]` over a `Pod` type), so that their bytes may be read
/// and any bytes of their size may be turned into a value.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: integers have no padding and no invalid bit patterns.
        unsafe impl Pod for $t {}
    )* };
}
pod!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, usize, isize);

// SAFETY: an array of padding-free, any-bit-pattern elements has neither padding nor invalid
// bit patterns.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The bytes of `v`.
pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod: no padding, so all its bytes are initialised and may be read.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// The value whose bytes are `b`, or `None` when `b` is not exactly `size_of::<T>()` long.
pub fn from_bytes<T: Pod>(b: &[u8]) -> Option<T> {
    if b.len() != std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `b` has exactly T's size (checked); T is Pod, so any bytes are a valid T;
    // read_unaligned copes with any alignment of `b`.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_wrong_sizes() {
        let v: [u32; 3] = [1, 0xdead_beef, 7];
        let b = as_bytes(&v).to_vec();
        assert_eq!(b.len(), 12);
        assert_eq!(&b[4..8], &0xdead_beef_u32.to_ne_bytes());
        assert_eq!(from_bytes::<[u32; 3]>(&b), Some(v));
        assert_eq!(from_bytes::<[u32; 3]>(&b[1..]), None);
        assert_eq!(from_bytes::<u64>(&b), None);
        // Unaligned input.
        assert_eq!(
            from_bytes::<u64>(&b[1..9]).map(|x| x.to_ne_bytes().to_vec()),
            Some(b[1..9].to_vec())
        );
    }
}
