//! Tree heads on the command line: the latest head a store recorded
//! (`batpak head`), a head kept earlier and read back from a file, and what
//! the log says about that head (`batpak verify --against`).
//!
//! A kept head is only as good as its signature: with a public key the note
//! must verify under it (key name = the checkpoint's origin, as the C2SP
//! note format asks); without one the checkpoint is taken from the note's
//! text unchecked, and the caller is told so.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use batpak::proofbat::{self, Checkpoint, VerifyingKey};
use batpak::{ReadOnlyStore, TreeHead};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::{CliError, HeadFileProblem};
use crate::export::hex;
use crate::progress::Progress;

/// The newest tree head of `dir`, exactly as the store recorded it.
pub fn latest(dir: &DataDir) -> Result<TreeHead, CliError> {
    let store = dir.open_read_only()?;
    store.latest_head().ok_or_else(|| CliError::NoHead {
        dir: dir.path.clone(),
    })
}

/// The lowercase hex of the public key that signed `head`;
/// [`CliError::UnsignedHead`] when nothing signed it.
pub fn public_key_hex(dir: &DataDir, head: &TreeHead) -> Result<String, CliError> {
    match (head.note(), head.public_key()) {
        (Some(_), Some(key)) => Ok(hex(&key)),
        _ => Err(CliError::UnsignedHead {
            dir: dir.path.clone(),
        }),
    }
}

/// Parses a public key given as 64 hex digits (either case).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, CliError> {
    let bad = || CliError::InvalidArgument {
        name: "--public-key",
        value: text.to_owned(),
        expected: "an Ed25519 public key as 64 hex digits",
    };
    let bytes = unhex32(text).ok_or_else(bad)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        // Two hex digits are at most 0xff.
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// How far the signature of a kept head was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Signature {
    /// The note verified under the key given with `--public-key`.
    Verified,
    /// A signed note, read without checking its signature (no key given).
    NotChecked,
    /// A bare checkpoint text: nothing was signed.
    Unsigned,
}

/// A head kept earlier, read back from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptHead {
    /// The file it was read from.
    pub path: PathBuf,
    /// The checkpoint it holds.
    pub checkpoint: Checkpoint,
    /// Whether its signature was checked.
    pub signature: Signature,
}

impl KeptHead {
    /// Reads a signed note or a bare checkpoint text from `path`. With `key`
    /// the note must verify under it ([`CliError::HeadSignature`] naming why
    /// not); a file that cannot be read or parsed is [`CliError::HeadFile`].
    pub fn read(path: &Path, key: Option<&VerifyingKey>) -> Result<Self, CliError> {
        let problem = |problem| CliError::HeadFile {
            path: path.to_path_buf(),
            problem,
        };
        let unreadable = |e: std::io::Error| {
            problem(HeadFileProblem::Unreadable {
                reason: e.to_string(),
            })
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut bytes = Vec::new();
        // One byte past the limit tells a file at the limit from a larger one.
        let limit = u64::try_from(proofbat::MAX_NOTE_BYTES).unwrap_or(u64::MAX);
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > proofbat::MAX_NOTE_BYTES {
            return Err(problem(HeadFileProblem::TooLarge));
        }
        let text = String::from_utf8(bytes).map_err(|_| problem(HeadFileProblem::NotUtf8))?;
        Self::parse(path, &text, key)
    }

    /// [`Self::read`] of text already in memory; `path` names it in errors.
    pub fn parse(path: &Path, text: &str, key: Option<&VerifyingKey>) -> Result<Self, CliError> {
        if let Some(key) = key {
            // The key name of a checkpoint's note is its origin, the first line.
            let origin = text.split('\n').next().unwrap_or_default();
            let checkpoint = proofbat::verify_note(text, origin, key).map_err(|source| {
                CliError::HeadSignature {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            return Ok(Self {
                path: path.to_path_buf(),
                checkpoint,
                signature: Signature::Verified,
            });
        }
        // A note's text ends at its last blank line (open_note's rule); a
        // checkpoint has no blank line, so without one the file is bare.
        let (body, signature) = match text.rfind("\n\n") {
            Some(split) => (&text[..=split], Signature::NotChecked),
            None => (text, Signature::Unsigned),
        };
        let checkpoint = Checkpoint::parse(body).map_err(|e| CliError::HeadFile {
            path: path.to_path_buf(),
            problem: HeadFileProblem::NotACheckpoint {
                reason: e.to_string(),
            },
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            checkpoint,
            signature,
        })
    }
}

/// What the log says about a kept head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeadOutcome {
    /// The log's first `head_size` events hash to the head's root: nothing
    /// the head covers was changed (the log may have grown since).
    Extends,
    /// The log holds fewer events than the head covers: events were cut
    /// from the end, or the log was rewritten shorter.
    Truncated,
    /// The log's first `head_size` events hash to another root: events the
    /// head covers were changed, removed or reordered, or this is another
    /// log (a fork).
    RewrittenOrForked,
}

/// The result of checking a log against a kept head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeadCheck {
    /// The head file as given.
    pub head_file: String,
    /// The head's origin line.
    pub origin: String,
    /// Whether the head's signature was checked.
    pub signature: Signature,
    /// Events the head covers.
    pub head_size: u64,
    /// The head's root, hex.
    pub head_root: String,
    /// Events in the log.
    pub log_size: u64,
    /// The root of the log's first `head_size` events, recomputed from the
    /// frames, hex; null when the log is shorter than the head.
    pub log_root_at_head: Option<String>,
    /// The verdict.
    pub outcome: HeadOutcome,
    /// The first leaf whose stored tree record differs from its frame's
    /// (damaged tree files, or a log rewritten under them); null when none.
    pub first_tree_mismatch: Option<u64>,
    /// The origin of the store's own latest head, when it has one: a
    /// different origin suggests a head of another log.
    pub store_origin: Option<String>,
}

impl HeadCheck {
    /// The log extends the head and its tree files agree with its frames.
    pub fn passed(&self) -> bool {
        self.outcome == HeadOutcome::Extends && self.first_tree_mismatch.is_none()
    }
}

/// Recomputes every leaf of `store` from its frame and compares the root at
/// the head's size with the kept head's.
pub fn check(
    store: &ReadOnlyStore,
    kept: &KeptHead,
    progress: &dyn Progress,
) -> Result<HeadCheck, CliError> {
    let head = &kept.checkpoint;
    progress.begin("checking against the head", Some(store.len()));
    let result = store.verify_against_head_with_progress(head, |done, _| progress.set(done));
    progress.end();
    let v = result?;
    let outcome = if v.extends_head(head) {
        HeadOutcome::Extends
    } else if v.log_size < v.head_size {
        HeadOutcome::Truncated
    } else {
        HeadOutcome::RewrittenOrForked
    };
    Ok(HeadCheck {
        head_file: kept.path.display().to_string(),
        origin: head.origin().to_owned(),
        signature: kept.signature,
        head_size: v.head_size,
        head_root: hex(head.root()),
        log_size: v.log_size,
        log_root_at_head: v.log_root_at_head.map(|r| hex(&r)),
        outcome,
        first_tree_mismatch: v.first_tree_mismatch,
        store_origin: store
            .latest_head()
            .map(|h| h.checkpoint().origin().to_owned()),
    })
}

/// The check as text, one finding a line.
pub fn render_check(c: &HeadCheck, out: &mut String) {
    let signature = match c.signature {
        Signature::Verified => "signature verified",
        Signature::NotChecked => "signature not checked",
        Signature::Unsigned => "unsigned checkpoint",
    };
    out.push_str(&format!(
        "head {} ({}, {} events, {signature}):\n",
        c.head_file, c.origin, c.head_size
    ));
    match c.outcome {
        HeadOutcome::Extends => out.push_str(&format!(
            "  log extends the head: its first {} events hash to the head's root; {} events appended since\n",
            c.head_size,
            c.log_size.saturating_sub(c.head_size)
        )),
        HeadOutcome::Truncated => out.push_str(&format!(
            "  TRUNCATED: the log holds {} events, fewer than the {} the head covers (events cut from the end, or the log rewritten shorter)\n",
            c.log_size, c.head_size
        )),
        HeadOutcome::RewrittenOrForked => out.push_str(&format!(
            "  REWRITTEN OR FORKED: the log's first {} events hash to {}, not to the head's root {} (events the head covers were changed, removed or reordered, or this is another log)\n",
            c.head_size,
            c.log_root_at_head.as_deref().unwrap_or("?"),
            c.head_root
        )),
    }
    if let Some(leaf) = c.first_tree_mismatch {
        out.push_str(&format!(
            "  TREE FILES DISAGREE: the stored Merkle tree differs from the frames from leaf {leaf} on (tree files damaged, or the log rewritten under them)\n"
        ));
    }
    if let Some(origin) = c.store_origin.as_ref().filter(|o| **o != c.origin) {
        out.push_str(&format!(
            "  note: this store's own heads have the origin {origin}: the head may be of another log\n"
        ));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use batpak::proofbat::SigningKey;

    fn note_and_key() -> (String, VerifyingKey) {
        let key = SigningKey::from_bytes(&[9; 32]);
        let checkpoint = Checkpoint::new("example.org/log", 5, [3; 32]).unwrap();
        (
            proofbat::sign_checkpoint(&checkpoint, &key).unwrap(),
            key.verifying_key(),
        )
    }

    #[test]
    fn public_keys_are_64_hex_digits_of_a_curve_point() {
        let (_, key) = note_and_key();
        let text = hex(key.as_bytes());
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert_eq!(parse_public_key(&text.to_uppercase()).unwrap(), key);
        for bad in [&text[..62], "zz", "", &format!("{text}00")] {
            assert!(matches!(
                parse_public_key(bad),
                Err(CliError::InvalidArgument {
                    name: "--public-key",
                    ..
                })
            ));
        }
    }

    #[test]
    fn kept_heads_parse_checked_unchecked_and_bare() {
        let (note, key) = note_and_key();
        let path = Path::new("head.txt");
        let checked = KeptHead::parse(path, &note, Some(&key)).unwrap();
        assert_eq!(checked.signature, Signature::Verified);
        assert_eq!(checked.checkpoint.size(), 5);
        let unchecked = KeptHead::parse(path, &note, None).unwrap();
        assert_eq!(unchecked.signature, Signature::NotChecked);
        assert_eq!(unchecked.checkpoint, checked.checkpoint);
        let body = checked.checkpoint.body();
        let bare = KeptHead::parse(path, &body, None).unwrap();
        assert_eq!(
            (bare.signature, bare.checkpoint),
            (Signature::Unsigned, checked.checkpoint.clone())
        );

        // A key turns every flaw into a signature failure; without one,
        // only what does not parse is refused.
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        for (text, key) in [
            (note.as_str(), &other),
            (body.as_str(), &key),
            (&note.replacen("\n5\n", "\n6\n", 1), &key),
        ] {
            assert!(matches!(
                KeptHead::parse(path, text, Some(key)),
                Err(CliError::HeadSignature { .. })
            ));
        }
        for text in ["", "example.org/log\n", "not\na\ncheckpoint\n", "x\n\n"] {
            assert!(matches!(
                KeptHead::parse(path, text, None),
                Err(CliError::HeadFile {
                    problem: HeadFileProblem::NotACheckpoint { .. },
                    ..
                })
            ));
        }
    }
}
