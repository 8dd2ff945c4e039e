#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::segment_header(data);
    batpak::__fuzz::segment_header(&batpak_fuzz::with_crc_at(data, batpak_fuzz::FIXED_CRC_AT));
});
