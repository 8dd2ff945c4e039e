#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::idempotency(data);
    batpak::__fuzz::idempotency(&batpak_fuzz::with_tail_crc(data));
});
