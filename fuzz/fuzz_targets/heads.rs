#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batpak::__fuzz::heads(data);
    batpak::__fuzz::heads(&batpak::__fuzz::heads_with_crcs(data));
});
