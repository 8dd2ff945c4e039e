#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::compaction_marker(data);
    batpak::__fuzz::compaction_marker(&batpak::__fuzz::compaction_marker_with_crc(data));
});
