#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::keyset(data);
    batpak::__fuzz::keyset(&batpak_fuzz::with_tail_crc(data));
});
