#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::projection(data);
    batpak::__fuzz::projection(&batpak_fuzz::with_tail_crc(data));
});
