//! Unit and property tests of signed notes and verifier keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use proptest::prelude::*;

const NAME: &str = "example.com/log";

fn signer(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn checkpoint_note() -> (String, Checkpoint) {
    let checkpoint = Checkpoint::new(NAME, 42, [0x42; 32]).unwrap();
    (
        sign_checkpoint(&checkpoint, &signer(1)).unwrap(),
        checkpoint,
    )
}

/// A signature line by `name` over `text` with `key`, as `sign_note` writes it.
fn signature_line(text: &str, name: &str, key: &SigningKey) -> String {
    let note = sign_note(text, name, key).unwrap();
    note[text.len() + 1..].to_owned()
}

#[test]
fn a_note_published_with_the_go_implementation_verifies() {
    // The example note and verifier key of Go's golang.org/x/mod/sumdb/note
    // documentation: an independent signer of the same format.
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let note = format!(
        "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    let (name, key) = parse_verifier_key(vkey).unwrap();
    assert_eq!(name, "PeterNeumann");
    assert_eq!(key_id(&name, &key), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(verifier_key(&name, &key).unwrap(), vkey);
    assert_eq!(open_note(&note, &name, &key), Ok(text));
    let altered = note.replace("cryptography", "cryptographY");
    assert_eq!(
        open_note(&altered, &name, &key),
        Err(NoteError::BadSignature { line: 1 })
    );
}

#[test]
fn a_signed_checkpoint_has_the_documented_bytes_and_verifies() {
    let (note, checkpoint) = checkpoint_note();
    let key = signer(1).verifying_key();
    let body = checkpoint.body();
    assert!(note.starts_with(&body));
    let line = &note[body.len()..];
    assert!(line.starts_with("\n\u{2014} example.com/log "));
    assert!(line.ends_with('\n'));
    let encoded = line.trim_start_matches('\n')["\u{2014} example.com/log ".len()..].trim_end();
    let blob = STANDARD.decode(encoded).unwrap();
    assert_eq!(blob.len(), 68);
    assert_eq!(blob[..4], key_id(NAME, &key));
    let mut expected_id = Sha256::new();
    expected_id.update(b"example.com/log\n\x01");
    expected_id.update(key.as_bytes());
    assert_eq!(blob[..4], expected_id.finalize()[..4]);
    // Ed25519 is deterministic: the signature is the key's over the body.
    assert_eq!(blob[4..], signer(1).sign(body.as_bytes()).to_bytes());
    assert_eq!(verify_note(&note, NAME, &key), Ok(checkpoint));
}

#[test]
fn unknown_keys_are_ignored_and_one_valid_signature_is_needed() {
    let text = Checkpoint::new(NAME, 7, [7; 32]).unwrap().body();
    let key = signer(1).verifying_key();
    let by_other_key = signature_line(&text, NAME, &signer(2));
    let by_other_name = signature_line(&text, "other.example/log", &signer(1));
    let ours = signature_line(&text, NAME, &signer(1));

    let note = format!("{text}\n{by_other_key}{by_other_name}{ours}");
    assert!(verify_note(&note, NAME, &key).is_ok());
    let note = format!("{text}\n{ours}{by_other_key}");
    assert!(verify_note(&note, NAME, &key).is_ok());
    let note = format!("{text}\n{by_other_key}{by_other_name}");
    assert_eq!(
        verify_note(&note, NAME, &key),
        Err(NoteError::NotSignedByKey)
    );
    // A key with the same name but another id, and one with the same id
    // under another name, are both someone else's.
    let same_id_other_name = by_other_name.replace("other.example/log", "other.example/lo");
    let note = format!("{text}\n{same_id_other_name}{ours}");
    assert!(verify_note(&note, NAME, &key).is_ok());
    // Two valid signatures by the key are fine.
    let note = format!("{text}\n{ours}{ours}");
    assert!(verify_note(&note, NAME, &key).is_ok());
}

#[test]
fn a_failing_signature_by_the_key_refuses_the_whole_note() {
    let text = Checkpoint::new(NAME, 7, [7; 32]).unwrap().body();
    let key = signer(1).verifying_key();
    let ours = signature_line(&text, NAME, &signer(1));
    // Same name and key id, signature over another text.
    let forged = signature_line("other\n", NAME, &signer(1));
    let note = format!("{text}\n{ours}{forged}");
    assert_eq!(
        verify_note(&note, NAME, &key),
        Err(NoteError::BadSignature { line: 2 })
    );
    // Same name and key id, but not 64 signature bytes.
    let id = STANDARD.encode([&key_id(NAME, &key)[..], &[0u8; 10]].concat());
    let short = format!("\u{2014} {NAME} {id}\n");
    let note = format!("{text}\n{short}{ours}");
    assert_eq!(
        verify_note(&note, NAME, &key),
        Err(NoteError::BadSignature { line: 1 })
    );
    // Every line is parsed before any is verified: a malformed line after a
    // forged one is what the note is refused for.
    let note = format!("{text}\n{forged}\u{2014} {NAME}\n");
    assert_eq!(
        verify_note(&note, NAME, &key),
        Err(NoteError::MalformedSignature { line: 2 })
    );
}

#[test]
fn malformed_notes_get_their_error() {
    let text = "a\n";
    let ours = signature_line(text, NAME, &signer(1));
    let key = signer(1).verifying_key();
    let blob = ours.trim_end().rsplit(' ').next().unwrap().to_owned();
    let cases: Vec<(String, NoteError)> = vec![
        (String::new(), NoteError::MissingSignatures),
        ("a\n".to_owned(), NoteError::MissingSignatures),
        ("a\n\n".to_owned(), NoteError::MissingSignatures),
        (format!("a\n{ours}"), NoteError::MissingSignatures),
        (
            format!("a\n\n{}", ours.trim_end()),
            NoteError::MalformedSignature { line: 1 },
        ),
        (format!("a\n\n{ours}\n"), NoteError::MissingSignatures),
        (
            format!("a\n\n- {NAME} {blob}\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n\u{2014}{NAME} {blob}\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n{ours}\u{2014} {NAME}\n"),
            NoteError::MalformedSignature { line: 2 },
        ),
        (
            format!("a\n\n\u{2014}  {blob}\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n\u{2014} a+b {blob}\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n\u{2014} {NAME} {blob}=\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n\u{2014} {NAME} {blob} \n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\n\n\u{2014} {NAME} AAAAAA==\n"),
            NoteError::MalformedSignature { line: 1 },
        ),
        (
            format!("a\r\n\n{ours}"),
            NoteError::ControlCharacter { offset: 1 },
        ),
        (
            format!("a\n\n{}\t\n", ours.trim_end()),
            NoteError::ControlCharacter {
                offset: 3 + ours.len() - 1,
            },
        ),
    ];
    for (note, error) in cases {
        assert_eq!(open_note(&note, NAME, &key), Err(error), "{note:?}");
    }
    // Five bytes (a key id and one byte) is the shortest well-formed blob:
    // by another key it is skipped, by ours it is a bad signature.
    let five = STANDARD.encode([0u8; 5]);
    let note = format!("a\n\n\u{2014} {NAME} {five}\n{ours}");
    assert_eq!(open_note(&note, NAME, &key), Ok("a\n"));
}

#[test]
fn the_text_may_hold_blank_lines_and_ends_at_the_last_one() {
    let key = signer(1);
    for text in [
        "a\n\nb\n",
        "a\n\n",
        "\n",
        "\n\n\n",
        "x\n\n\u{2014} fake AAAAAAA=\n",
    ] {
        let note = sign_note(text, NAME, &key).unwrap();
        assert_eq!(
            open_note(&note, NAME, &key.verifying_key()),
            Ok(text),
            "{text:?}"
        );
    }
}

#[test]
fn signing_refuses_what_no_verifier_could_accept() {
    let key = signer(1);
    assert_eq!(sign_note("", NAME, &key), Err(NoteError::TextNotTerminated));
    assert_eq!(
        sign_note("a", NAME, &key),
        Err(NoteError::TextNotTerminated)
    );
    assert_eq!(
        sign_note("a\tb\n", NAME, &key),
        Err(NoteError::ControlCharacter { offset: 1 })
    );
    for name in [
        "",
        "a b",
        "a+b",
        "a\u{a0}b",
        "a\u{2003}b",
        "a\nb",
        "a\u{1}b",
    ] {
        assert_eq!(
            sign_note("a\n", name, &key),
            Err(NoteError::InvalidKeyName),
            "{name:?}"
        );
        assert_eq!(
            verifier_key(name, &key.verifying_key()),
            Err(NoteError::InvalidKeyName)
        );
    }
    let big = format!("{}\n", "x".repeat(MAX_NOTE_BYTES));
    assert!(matches!(
        sign_note(&big, NAME, &key),
        Err(NoteError::TooLarge {
            max: MAX_NOTE_BYTES,
            ..
        })
    ));
}

#[test]
fn size_and_signature_count_limits_are_exact() {
    let key = signer(1);
    let text = "t\n";
    let ours = signature_line(text, NAME, &key);
    let other = signature_line(text, "x", &signer(2));

    // MAX_SIGNATURES lines are accepted, one more is refused unchecked.
    let lines = format!("{}{ours}", other.repeat(MAX_SIGNATURES - 1));
    let note = format!("{text}\n{lines}");
    assert_eq!(open_note(&note, NAME, &key.verifying_key()), Ok(text));
    let note = format!("{text}\n{other}{lines}");
    assert_eq!(
        open_note(&note, NAME, &key.verifying_key()),
        Err(NoteError::TooManySignatures {
            count: MAX_SIGNATURES + 1,
            max: MAX_SIGNATURES
        })
    );

    // A note of exactly MAX_NOTE_BYTES is accepted; one byte more is not.
    let overhead = sign_note("\n", NAME, &key).unwrap().len() - 1;
    let fill = MAX_NOTE_BYTES - overhead - 1;
    let text = format!("{}\n", "y".repeat(fill));
    let note = sign_note(&text, NAME, &key).unwrap();
    assert_eq!(note.len(), MAX_NOTE_BYTES);
    assert_eq!(
        open_note(&note, NAME, &key.verifying_key()),
        Ok(text.as_str())
    );
    let longer = format!("y{note}");
    assert_eq!(
        open_note(&longer, NAME, &key.verifying_key()),
        Err(NoteError::TooLarge {
            len: MAX_NOTE_BYTES + 1,
            max: MAX_NOTE_BYTES
        })
    );
    let text = format!("{}\n", "y".repeat(fill + 1));
    assert_eq!(
        sign_note(&text, NAME, &key),
        Err(NoteError::TooLarge {
            len: MAX_NOTE_BYTES + 1,
            max: MAX_NOTE_BYTES
        })
    );
}

#[test]
fn verify_note_requires_a_checkpoint_by_its_origin() {
    let key = signer(1);
    let body = Checkpoint::new("someone.else/log", 1, [1; 32])
        .unwrap()
        .body();
    let note = sign_note(&body, NAME, &key).unwrap();
    assert_eq!(
        verify_note(&note, NAME, &key.verifying_key()),
        Err(NoteError::OriginMismatch {
            origin: "someone.else/log".to_owned(),
            name: NAME.to_owned()
        })
    );
    let note = sign_note("not a checkpoint\n", NAME, &key).unwrap();
    assert_eq!(
        verify_note(&note, NAME, &key.verifying_key()),
        Err(NoteError::Checkpoint(CheckpointError::MissingLine {
            name: "size"
        }))
    );
}

#[test]
fn verifier_keys_round_trip_and_malformed_ones_are_refused() {
    let key = signer(9).verifying_key();
    let vkey = verifier_key(NAME, &key).unwrap();
    let (name, rest) = vkey.split_once('+').unwrap();
    let (id, encoded) = rest.split_once('+').unwrap();
    assert_eq!(name, NAME);
    let expected_id: String = key_id(NAME, &key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(id, expected_id);
    assert_eq!(
        STANDARD.decode(encoded).unwrap(),
        [&[1u8][..], key.as_bytes()].concat()
    );
    assert_eq!(parse_verifier_key(&vkey), Ok((NAME.to_owned(), key)));

    let typed = |ty: u8, key: &[u8]| STANDARD.encode([&[ty][..], key].concat());
    let good = typed(1, key.as_bytes());
    let upper = id.to_uppercase();
    let other_id = format!("{:08x}", u32::from_str_radix(id, 16).unwrap() ^ 1);
    // y = 2 is not on the curve: no x satisfies the equation for it.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    let cases: Vec<(String, NoteError)> = vec![
        (String::new(), NoteError::MalformedVerifierKey),
        (NAME.to_owned(), NoteError::MalformedVerifierKey),
        (format!("{NAME}+{id}"), NoteError::MalformedVerifierKey),
        (format!("+{id}+{good}"), NoteError::InvalidKeyName),
        (format!("a b+{id}+{good}"), NoteError::InvalidKeyName),
        (
            format!("{NAME}+{upper}+{good}"),
            NoteError::MalformedVerifierKey,
        ),
        (
            format!("{NAME}+{}+{good}", &id[..7]),
            NoteError::MalformedVerifierKey,
        ),
        (
            format!("{NAME}+{id}0+{good}"),
            NoteError::MalformedVerifierKey,
        ),
        (
            format!("{NAME}+{}g+{good}", &id[..7]),
            NoteError::MalformedVerifierKey,
        ),
        (
            format!("{NAME}+{id}+{good}x"),
            NoteError::MalformedVerifierKey,
        ),
        (format!("{NAME}+{id}+"), NoteError::MalformedVerifierKey),
        (
            format!("{NAME}+{id}+{}", typed(1, &key.as_bytes()[..31])),
            NoteError::MalformedVerifierKey,
        ),
        (
            format!("{NAME}+{id}+{}", typed(2, key.as_bytes())),
            NoteError::UnsupportedKeyType { ty: 2 },
        ),
        (
            format!("{NAME}+{id}+{}", typed(1, &not_a_point)),
            NoteError::InvalidPublicKey,
        ),
        (
            format!("{NAME}+{other_id}+{good}"),
            NoteError::KeyIdMismatch,
        ),
        (format!("other+{id}+{good}"), NoteError::KeyIdMismatch),
    ];
    for (text, error) in cases {
        assert_eq!(parse_verifier_key(&text), Err(error), "{text:?}");
    }
}

#[test]
fn hex_key_ids_parse_every_digit() {
    assert_eq!(parse_key_id("0123abcd"), Some([0x01, 0x23, 0xab, 0xcd]));
    assert_eq!(parse_key_id("456789ef"), Some([0x45, 0x67, 0x89, 0xef]));
    assert_eq!(parse_key_id("ffffffff"), Some([0xff; 4]));
    assert_eq!(parse_key_id("00000000"), Some([0; 4]));
    for bad in [
        "0123abc",
        "0123abcde",
        "0123abcG",
        "0123ab/d",
        "0123ab:d",
        "0123ab`d",
    ] {
        assert_eq!(parse_key_id(bad), None, "{bad}");
    }
}

#[test]
fn error_messages_name_their_context() {
    let cases = [
        (
            NoteError::TooLarge { len: 9, max: 8 },
            "note of 9 bytes is larger than the maximum of 8",
        ),
        (
            NoteError::ControlCharacter { offset: 3 },
            "note contains a control character at byte 3",
        ),
        (NoteError::MissingSignatures, "note has no signature lines"),
        (
            NoteError::TooManySignatures {
                count: 101,
                max: 100,
            },
            "note has 101 signature lines, more than the maximum of 100",
        ),
        (
            NoteError::MalformedSignature { line: 2 },
            "signature line 2 is malformed",
        ),
        (
            NoteError::BadSignature { line: 1 },
            "signature line 1 is by the given key but does not verify",
        ),
        (
            NoteError::NotSignedByKey,
            "note carries no signature by the given key",
        ),
        (
            NoteError::OriginMismatch {
                origin: "a".to_owned(),
                name: "b".to_owned(),
            },
            "checkpoint origin \"a\" is not the key name \"b\"",
        ),
        (
            NoteError::Checkpoint(CheckpointError::EmptyOrigin),
            "signed text is not a checkpoint: checkpoint origin is empty",
        ),
        (
            NoteError::UnsupportedKeyType { ty: 2 },
            "verifier key has signature type 0x02, not Ed25519 (0x01)",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single flipped bit anywhere in a signed checkpoint note makes
    /// verification fail (or, if it only breaks the note's form, fail to
    /// parse): no altered note verifies.
    #[test]
    fn any_flipped_bit_in_a_note_fails(position in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (note, _) = checkpoint_note();
        let mut bytes = note.into_bytes();
        let at = position.index(bytes.len());
        bytes[at] ^= 1 << bit;
        if let Ok(altered) = String::from_utf8(bytes) {
            prop_assert!(verify_note(&altered, NAME, &signer(1).verifying_key()).is_err());
        }
    }

    /// Every checkpoint signs and verifies back to itself.
    #[test]
    fn checkpoints_round_trip_through_notes(
        origin in "[a-z0-9./-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in prop::collection::vec("[ -~]{1,20}", 0..3),
    ) {
        let mut checkpoint = Checkpoint::new(origin.clone(), size, root).unwrap();
        for line in extensions {
            checkpoint = checkpoint.with_extension(line).unwrap();
        }
        let note = sign_checkpoint(&checkpoint, &signer(4)).unwrap();
        prop_assert_eq!(verify_note(&note, &origin, &signer(4).verifying_key()), Ok(checkpoint));
    }

    /// Arbitrary text never panics the verifier.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = open_note(&text, NAME, &signer(1).verifying_key());
        let _ = parse_verifier_key(&text);
    }
}

#[test]
fn sign_note_with_checks_the_signature_and_passes_signer_errors_on() {
    let key = signer(1);
    let vk = key.verifying_key();
    let note = sign_note_with("t\n", "k", &vk, |m| {
        Ok::<_, std::convert::Infallible>(key.sign(m).to_bytes())
    })
    .unwrap();
    assert_eq!(note, sign_note("t\n", "k", &key).unwrap());
    // A signer holding another key than the one named is refused.
    let other = signer(2);
    let err = sign_note_with("t\n", "k", &vk, |m| {
        Ok::<_, std::convert::Infallible>(other.sign(m).to_bytes())
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignWithError::Note(NoteError::BadSignature { line: 1 })
        ),
        "{err}"
    );
    // A failing signer's error comes back as it was, and nothing is signed.
    let err = sign_note_with("t\n", "k", &vk, |_| Err("hsm offline")).unwrap_err();
    assert!(matches!(err, SignWithError::Signer("hsm offline")), "{err}");
    // The text and name rules apply before the signer is asked.
    let never = |_: &[u8]| -> Result<[u8; 64], &str> { panic!("asked to sign") };
    assert!(matches!(
        sign_note_with("t", "k", &vk, never),
        Err(SignWithError::Note(NoteError::TextNotTerminated))
    ));
    assert!(matches!(
        sign_note_with("t\n", "a b", &vk, never),
        Err(SignWithError::Note(NoteError::InvalidKeyName))
    ));
    assert!(matches!(
        sign_note_with("t\u{1}\n", "k", &vk, never),
        Err(SignWithError::Note(NoteError::ControlCharacter {
            offset: 1
        }))
    ));
    let big = "x".repeat(MAX_NOTE_BYTES);
    assert!(matches!(
        sign_note_with(&format!("{big}\n"), "k", &vk, |m| Ok::<_, &str>(
            key.sign(m).to_bytes()
        )),
        Err(SignWithError::Note(NoteError::TooLarge { .. }))
    ));
}
