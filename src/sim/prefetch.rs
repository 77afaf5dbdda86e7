//! A hint to the CPU that memory is about to be read: the simulator knows which orders the
//! next queued steps touch, and at 500 k open orders each of those touches is a cache miss.

/// Asks for the cache line holding `value` to be loaded; does nothing else (no effect on any
/// result, and a no-op off x86-64).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache and never faults, whatever the address (here a
    // valid reference); SSE, which has the instruction, is part of every x86-64 CPU.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// `prefetch` for every cache line `value` spans (a 128-byte entry covers two or three), so
/// that a copy into it does not wait for the lines after its first.
#[inline(always)]
pub fn prefetch_all<T>(value: &T) {
    const LINE: usize = 64;
    let bytes: *const u8 = (value as *const T).cast();
    let mut offset = 0;
    while offset < std::mem::size_of::<T>() {
        prefetch_address(bytes.wrapping_add(offset));
        offset += LINE;
    }
    prefetch_address(bytes.wrapping_add(std::mem::size_of::<T>().saturating_sub(1)));
}

#[inline(always)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `prefetch`: a hint that never faults; the address is not dereferenced.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
