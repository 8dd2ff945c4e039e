#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::segment(data);
    batpak::__fuzz::segment(&batpak_fuzz::with_segment_crcs(data));
});
