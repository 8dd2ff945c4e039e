//! Feature `startup-registry-check`: validates the payload registry before
//! `main` and stops the process on a problem.
//!
//! Ordering: every crate that registers a payload type or upcast step
//! depends on `batpak` (the macros expand to `::batpak` paths), and the linker
//! places a crate's constructors before those of the crates it depends on, so
//! their registrations are in place when this constructor runs.

// SAFETY: the only unsafe code here is what `#[ctor]` generates: a function
// pointer placed in `.init_array`, run once by the loader before `main`. The
// function it runs reads immutable statics, allocates, writes to stderr and
// may call `exit`; it touches no thread-local or runtime state of `main`.
#![allow(unsafe_code)]

/// Exit status when the check fails (`EX_CONFIG` in sysexits.h).
const EXIT_CODE: i32 = 78;

#[ctor::ctor]
fn check_payload_registry_before_main() {
    if let Err(err) = crate::registry::verify_registry() {
        stop(&err);
    }
}

// Printing is the point here: no logger is installed before `main`.
#[allow(clippy::print_stderr)]
fn stop(err: &crate::StoreError) -> ! {
    eprintln!("batpak: payload registry check failed before main: {err}");
    eprintln!(
        "batpak: (feature `startup-registry-check`; every problem: batpak::registry_report())"
    );
    std::process::exit(EXIT_CODE)
}
