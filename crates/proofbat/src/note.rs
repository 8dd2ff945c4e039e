//! C2SP signed notes with Ed25519 signatures, and verifier keys.
//!
//! A note is a text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(key id ‖ signature)>\n` (the dash is U+2014 EM DASH).
//! The text the signatures cover ends with its final newline; the separating
//! blank line is not signed. The key id is the first four bytes of
//! `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)`.
//!
//! Verification follows the spec's rules: signatures by other keys are
//! skipped (a different name or a different key id), a signature whose name
//! and key id match the given key must verify or the whole note is refused,
//! and at least one must. Notes over [`MAX_NOTE_BYTES`] or with more than
//! [`MAX_SIGNATURES`] signature lines are refused before any signature is
//! checked.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, CheckpointError};

/// The largest note accepted or produced: 1 MiB.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The most signature lines a note may carry (the spec asks verifiers to
/// accept at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The signature type byte of Ed25519 in key ids and verifier keys.
const ED25519_TYPE: u8 = 0x01;
/// The prefix of every signature line: U+2014 EM DASH, then a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Key id bytes at the front of each decoded signature.
const KEY_ID_BYTES: usize = 4;
/// Bytes of an Ed25519 signature.
const ED25519_SIGNATURE_BYTES: usize = 64;

/// Why a note, a signature or a verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note (or the note `sign_note` would produce) exceeds
    /// [`MAX_NOTE_BYTES`].
    #[error("note of {len} bytes is larger than the maximum of {max}")]
    TooLarge {
        /// Bytes of the note.
        len: usize,
        /// [`MAX_NOTE_BYTES`].
        max: usize,
    },
    /// An ASCII control character other than newline.
    #[error("note contains a control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset in the note (or the text being signed).
        offset: usize,
    },
    /// No blank line followed by signature lines.
    #[error("note has no signature lines")]
    MissingSignatures,
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("note has {count} signature lines, more than the maximum of {max}")]
    TooManySignatures {
        /// Signature lines in the note.
        count: usize,
        /// [`MAX_SIGNATURES`].
        max: usize,
    },
    /// A signature line that does not have the form
    /// `— <key name> <base64 of at least 5 bytes>\n`.
    #[error("signature line {line} is malformed")]
    MalformedSignature {
        /// 1-based number among the signature lines.
        line: usize,
    },
    /// A signature by the given key (same name and key id) that does not
    /// verify: the note is refused as a whole.
    #[error("signature line {line} is by the given key but does not verify")]
    BadSignature {
        /// 1-based number among the signature lines.
        line: usize,
    },
    /// No signature line by the given key.
    #[error("note carries no signature by the given key")]
    NotSignedByKey,
    /// A key name that is empty or holds a Unicode space or a `+`.
    #[error("key name is empty or contains a space or '+'")]
    InvalidKeyName,
    /// A text to sign that is empty or does not end in a newline.
    #[error("note text is empty or does not end in a newline")]
    TextNotTerminated,
    /// The checkpoint's origin is not the name of the key that signed it.
    #[error("checkpoint origin {origin:?} is not the key name {name:?}")]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The key name given to the verifier.
        name: String,
    },
    /// The signed text is not a valid checkpoint.
    #[error("signed text is not a checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A verifier key that is not `<name>+<8 lowercase hex digits>+<base64>`.
    #[error("verifier key is malformed")]
    MalformedVerifierKey,
    /// A verifier key of another signature type than Ed25519 (0x01).
    #[error("verifier key has signature type {ty:#04x}, not Ed25519 (0x01)")]
    UnsupportedKeyType {
        /// The type byte found.
        ty: u8,
    },
    /// A verifier key whose 32 bytes are not an Ed25519 public key.
    #[error("verifier key does not hold a valid Ed25519 public key")]
    InvalidPublicKey,
    /// A verifier key whose key id is not the one its name and key imply.
    #[error("verifier key id does not match its name and public key")]
    KeyIdMismatch,
}

/// The key id of an Ed25519 key under `name`:
/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4]`.
///
/// ```
/// use proofbat::SigningKey;
/// let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
/// assert_ne!(proofbat::key_id("a", &key), proofbat::key_id("b", &key));
/// ```
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || matches!(c, '\0'..='\x1f'))
}

/// The first ASCII control character other than newline, by byte offset.
fn control_offset(text: &str) -> Option<usize> {
    text.bytes().position(|b| b < 0x20 && b != b'\n')
}

/// Signs `text` as a note under key `name`: the text, a blank line and one
/// signature line.
///
/// The text must be non-empty, end in a newline and hold no ASCII control
/// character but newlines; the name must be a valid key name; the note must
/// fit in [`MAX_NOTE_BYTES`].
///
/// ```
/// use proofbat::SigningKey;
/// let key = SigningKey::from_bytes(&[3; 32]);
/// let note = proofbat::sign_note("hello\n", "example.com/k", &key)?;
/// assert!(note.starts_with("hello\n\n\u{2014} example.com/k "));
/// let text = proofbat::open_note(&note, "example.com/k", &key.verifying_key())?;
/// assert_eq!(text, "hello\n");
/// # Ok::<(), proofbat::NoteError>(())
/// ```
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    sign_note_with(text, name, &key.verifying_key(), |msg| {
        Ok::<_, std::convert::Infallible>(key.sign(msg).to_bytes())
    })
    .map_err(|e| match e {
        SignWithError::Note(e) => e,
        SignWithError::Signer(never) => match never {},
    })
}

/// Why [`sign_note_with`] did not produce a note.
#[derive(Debug, thiserror::Error)]
pub enum SignWithError<E> {
    /// The text, name or size broke a rule of the note format.
    #[error(transparent)]
    Note(NoteError),
    /// The signer refused.
    #[error("signer failed: {0}")]
    Signer(E),
}

/// Like [`sign_note`], with the signature made by `sign` (a key held
/// elsewhere, in a hardware module say) for the public key `key`. The note
/// is checked against `key` before it is returned, so a signer that signs
/// with another key fails with [`NoteError::BadSignature`].
///
/// ```
/// use ed25519_dalek::Signer as _;
/// use proofbat::{open_note, sign_note_with, SigningKey};
/// let key = SigningKey::from_bytes(&[4; 32]);
/// let note = sign_note_with("hi\n", "k", &key.verifying_key(), |m| {
///     Ok::<_, std::convert::Infallible>(key.sign(m).to_bytes())
/// })?;
/// assert_eq!(open_note(&note, "k", &key.verifying_key())?, "hi\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign_note_with<E>(
    text: &str,
    name: &str,
    key: &VerifyingKey,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<String, SignWithError<E>> {
    if !valid_key_name(name) {
        return Err(SignWithError::Note(NoteError::InvalidKeyName));
    }
    if !text.ends_with('\n') {
        return Err(SignWithError::Note(NoteError::TextNotTerminated));
    }
    if let Some(offset) = control_offset(text) {
        return Err(SignWithError::Note(NoteError::ControlCharacter { offset }));
    }
    let signature = sign(text.as_bytes()).map_err(SignWithError::Signer)?;
    key.verify_strict(
        text.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .map_err(|_| SignWithError::Note(NoteError::BadSignature { line: 1 }))?;
    let mut blob = Vec::with_capacity(KEY_ID_BYTES + ED25519_SIGNATURE_BYTES);
    blob.extend_from_slice(&key_id(name, key));
    blob.extend_from_slice(&signature);
    let note = format!(
        "{text}\n{SIGNATURE_PREFIX}{name} {}\n",
        STANDARD.encode(blob)
    );
    if note.len() > MAX_NOTE_BYTES {
        return Err(SignWithError::Note(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        }));
    }
    Ok(note)
}

/// Signs a checkpoint under its origin as the key name.
///
/// ```
/// use proofbat::SigningKey;
/// use proofbat::{sign_checkpoint, verify_note, Checkpoint};
/// let key = SigningKey::from_bytes(&[5; 32]);
/// let checkpoint = Checkpoint::new("example.com/log", 0, proofbat::empty_root())?;
/// let note = sign_checkpoint(&checkpoint, &key)?;
/// assert_eq!(verify_note(&note, "example.com/log", &key.verifying_key())?, checkpoint);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SigningKey) -> Result<String, NoteError> {
    sign_note(&checkpoint.body(), checkpoint.origin(), key)
}

/// Checks a note's signatures and returns its text (with the final
/// newline), which may be trusted only after this succeeds.
///
/// Refuses oversized notes, control characters, a missing or malformed
/// signature block, more than [`MAX_SIGNATURES`] lines, a failing signature
/// by the key, and a note without one valid signature by it. Signatures by
/// other keys are not checked.
pub fn open_note<'a>(note: &'a str, name: &str, key: &VerifyingKey) -> Result<&'a str, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    if let Some(offset) = control_offset(note) {
        return Err(NoteError::ControlCharacter { offset });
    }
    // The text ends at the last blank line; signature lines are never empty.
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatures)?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    if signatures.is_empty() {
        return Err(NoteError::MissingSignatures);
    }
    let count = signatures.split_inclusive('\n').count();
    if count > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    // Every line is parsed before any signature is checked, so a malformed
    // block costs no signature verification.
    let id = key_id(name, key);
    let mut ours = Vec::new();
    for (i, line) in signatures.split_inclusive('\n').enumerate() {
        let number = i + 1;
        let (signer, blob) =
            parse_signature_line(line).ok_or(NoteError::MalformedSignature { line: number })?;
        if signer == name && blob[..KEY_ID_BYTES] == id {
            ours.push((number, blob));
        }
    }
    let verified = !ours.is_empty();
    for (number, blob) in ours {
        let bad = NoteError::BadSignature { line: number };
        let bytes: &[u8; ED25519_SIGNATURE_BYTES] =
            blob[KEY_ID_BYTES..].try_into().map_err(|_| bad.clone())?;
        key.verify_strict(text.as_bytes(), &Signature::from_bytes(bytes))
            .map_err(|_| bad)?;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::NotSignedByKey)
    }
}

/// Splits `— <name> <base64>\n` into the name and the decoded bytes (at
/// least a key id and one signature byte).
fn parse_signature_line(line: &str) -> Option<(&str, Vec<u8>)> {
    let rest = line.strip_prefix(SIGNATURE_PREFIX)?.strip_suffix('\n')?;
    let (name, encoded) = rest.split_once(' ')?;
    if !valid_key_name(name) {
        return None;
    }
    let blob = STANDARD.decode(encoded).ok()?;
    (blob.len() > KEY_ID_BYTES).then_some((name, blob))
}

/// Verifies a signed checkpoint: [`open_note`] under key `name`, then the
/// text must be a checkpoint whose origin is `name`.
///
/// ```
/// use proofbat::SigningKey;
/// use proofbat::{sign_checkpoint, verify_note, Checkpoint, NoteError};
/// let key = SigningKey::from_bytes(&[5; 32]);
/// let note = sign_checkpoint(&Checkpoint::new("log/a", 1, [9; 32])?, &key)?;
/// let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
/// assert_eq!(verify_note(&note, "log/a", &other), Err(NoteError::NotSignedByKey));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_note(note: &str, name: &str, key: &VerifyingKey) -> Result<Checkpoint, NoteError> {
    let text = open_note(note, name, key)?;
    let checkpoint = Checkpoint::parse(text)?;
    if checkpoint.origin() != name {
        return Err(NoteError::OriginMismatch {
            origin: checkpoint.origin().to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(checkpoint)
}

/// The verifier key text a log publishes for its clients:
/// `<name>+<key id, 8 lowercase hex digits>+<base64(0x01 ‖ public key)>`.
///
/// ```
/// use proofbat::SigningKey;
/// let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
/// let vkey = proofbat::verifier_key("example.com/log", &key)?;
/// assert_eq!(proofbat::parse_verifier_key(&vkey)?, ("example.com/log".to_owned(), key));
/// # Ok::<(), proofbat::NoteError>(())
/// ```
pub fn verifier_key(name: &str, key: &VerifyingKey) -> Result<String, NoteError> {
    if !valid_key_name(name) {
        return Err(NoteError::InvalidKeyName);
    }
    let id: String = key_id(name, key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut typed = Vec::with_capacity(33);
    typed.push(ED25519_TYPE);
    typed.extend_from_slice(key.as_bytes());
    Ok(format!("{name}+{id}+{}", STANDARD.encode(typed)))
}

/// Parses a verifier key into its name and public key, checking the type
/// byte, the point and the key id.
pub fn parse_verifier_key(vkey: &str) -> Result<(String, VerifyingKey), NoteError> {
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(encoded)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(NoteError::MalformedVerifierKey);
    };
    if !valid_key_name(name) {
        return Err(NoteError::InvalidKeyName);
    }
    let id = parse_key_id(id_hex).ok_or(NoteError::MalformedVerifierKey)?;
    let typed = STANDARD
        .decode(encoded)
        .map_err(|_| NoteError::MalformedVerifierKey)?;
    let (&ty, public) = typed.split_first().ok_or(NoteError::MalformedVerifierKey)?;
    if ty != ED25519_TYPE {
        return Err(NoteError::UnsupportedKeyType { ty });
    }
    let public: &[u8; 32] = public
        .try_into()
        .map_err(|_| NoteError::MalformedVerifierKey)?;
    let key = VerifyingKey::from_bytes(public).map_err(|_| NoteError::InvalidPublicKey)?;
    if key_id(name, &key) != id {
        return Err(NoteError::KeyIdMismatch);
    }
    Ok((name.to_owned(), key))
}

/// Exactly eight lowercase hex digits.
fn parse_key_id(text: &str) -> Option<[u8; 4]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * KEY_ID_BYTES {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut id = [0u8; KEY_ID_BYTES];
    for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(id)
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
