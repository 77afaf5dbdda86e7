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
