//! proofbat: arbitrary bytes as a signed note, a checkpoint text, a verifier
//! key and a serialized tree edge. Whatever decodes re-encodes to the same
//! bytes, and a text that signs opens back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofbat::{
    open_note, parse_verifier_key, sign_note, verifier_key, verify_note, Checkpoint, SigningKey,
    Tree,
};

/// The key and name the seeds are signed with (`corpus/proofbat_note/seed-note`).
const NAME: &str = "fuzz.example/log";
const SEED: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = Tree::from_bytes(data) {
        assert_eq!(tree.to_bytes(), data);
        let _ = tree.root();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let signer = SigningKey::from_bytes(&SEED);
    let key = signer.verifying_key();

    // Parsing is canonical: a checkpoint that parses is its own body.
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        assert_eq!(checkpoint.body(), text);
    }
    if let Ok(body) = open_note(text, NAME, &key) {
        assert!(text.starts_with(body));
    }
    if let Ok(checkpoint) = verify_note(text, NAME, &key) {
        assert_eq!(checkpoint.origin(), NAME);
    }
    if let Ok((name, parsed)) = parse_verifier_key(text) {
        assert_eq!(verifier_key(&name, &parsed).as_deref(), Ok(text));
    }
    // Any text the signer accepts opens back to exactly that text.
    if let Ok(note) = sign_note(text, NAME, &signer) {
        assert_eq!(open_note(&note, NAME, &key), Ok(text));
    }
});
