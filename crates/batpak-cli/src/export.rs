//! `batpak export`: every event as one JSON object per line, with everything a
//! third party needs to recompute `content_hash`, `event_hash` and the
//! `prev_hash` links without this code. The format is described in the
//! crate README ("Export format"). Under payload encryption the stored
//! (sealed) bytes are exported, since the hashes cover them, with the
//! opened payload beside them, or a `shredded` mark. The last line is the
//! store's latest tree head ([`ExportedHead`]), which ties the lines to a
//! signed root.

use std::io::Write;

use base64::Engine as _;
use batpak::chain::canonical_header_bytes;
use batpak::{Region, StoreError, StoreReader, StoredEvent, TreeHead};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::progress::Progress;

/// Events read per page while exporting (bounds memory on big stores).
const PAGE: usize = 1024;

/// One exported event (one line of JSON Lines).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportedEvent {
    /// Event id as a hyphenated UUID.
    pub event_id: String,
    /// The 16 big-endian bytes of the event id, hex.
    pub event_id_hex: String,
    /// Position in commit order, from 0.
    pub global_sequence: u64,
    /// Position in the entity's history, from 0.
    pub entity_sequence: u64,
    /// The kind as a number.
    pub kind: u16,
    /// The kind as four hex digits (`e022`: category `e`, type `022`).
    pub kind_hex: String,
    /// Wall-clock milliseconds at acceptance.
    pub wall_ms: u64,
    /// Hybrid logical clock, physical part (milliseconds).
    pub hlc_physical_ms: u64,
    /// Hybrid logical clock, logical counter.
    pub hlc_logical: u32,
    /// Correlation id as a UUID, or null.
    pub correlation_id: Option<String>,
    /// The 16 big-endian bytes of the correlation id, hex, or null.
    pub correlation_id_hex: Option<String>,
    /// Causation id (another event's id) as a UUID, or null.
    pub causation_id: Option<String>,
    /// The 16 big-endian bytes of the causation id, hex, or null.
    pub causation_id_hex: Option<String>,
    /// The 16 bytes of the idempotency key, hex, or null.
    pub idempotency_key_hex: Option<String>,
    /// Payload schema version.
    pub payload_version: u16,
    /// Coordinate entity.
    pub entity: String,
    /// Coordinate scope.
    pub scope: String,
    /// `event_hash` of the entity's previous event (zeros at genesis), hex.
    pub prev_hash: String,
    /// blake3 of the stored payload bytes, hex.
    pub content_hash: String,
    /// The stored `event_hash`, hex.
    pub event_hash: String,
    /// How the event passed its gates (`{"type": "passed", "gates": [...]}` or
    /// `{"type": "bypassed", "ticket": ..., "reason": ...}`), or null.
    pub attestation: Option<serde_json::Value>,
    /// The attestation's tag in the canonical header: 0 absent, 1 gates passed, 2 bypass.
    pub attestation_tag: Option<u8>,
    /// The attestation's strings in canonical order (gate names; or ticket, reason).
    pub attestation_strings: Vec<String>,
    /// Frames of the same atomic batch after this one (0: last or single).
    pub batch_remaining: u32,
    /// The `event_hash` layout: 2 (domain `batpak/event/v2\n`, canonical
    /// header ending in `batch_remaining`), or 1 for events of a version-1
    /// segment (domain `batpak/event/v1\n`, no `batch_remaining`).
    pub hash_version: u8,
    /// The canonical header bytes hashed into `event_hash`, hex.
    pub canonical_header_hex: String,
    /// The stored payload bytes (MessagePack, or the sealed payload under
    /// payload encryption), standard base64 with padding.
    pub payload_base64: String,
    /// The payload decoded to JSON, or null if it does not decode (or was shredded).
    pub payload: serde_json::Value,
    /// Why the payload did not decode to JSON (absent when it did, and for a shredded payload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_error: Option<String>,
    /// The stored payload is sealed (payload encryption); written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub payload_sealed: bool,
    /// The payload's key was destroyed: it can never be read again; written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shredded: bool,
}

/// The value of `record` on the export's last line.
pub const HEAD_RECORD: &str = "tree_head";

/// The export's last line: the store's latest tree head, so a reader can
/// rebuild the Merkle tree over the lines' `event_hash` values and hold it
/// to a signed root. Event lines have no `record` field. Every other field
/// is null when the store has no head yet, and the signature's fields when
/// the head is unsigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportedHead {
    /// Always [`HEAD_RECORD`].
    pub record: &'static str,
    /// Events the head covers: its tree is that of the first `size` lines.
    pub size: Option<u64>,
    /// The tree's root, hex.
    pub root_hash: Option<String>,
    /// The checkpoint's origin line (also the note's key name).
    pub origin: Option<String>,
    /// The checkpoint text (`origin`, `size`, base64 root, each line ending
    /// in a newline).
    pub checkpoint: Option<String>,
    /// The signed note (the checkpoint, a blank line, the signature line),
    /// exactly as `batpak head` prints it; null when unsigned.
    pub note: Option<String>,
    /// The 32-byte Ed25519 public key that signed the note, hex.
    pub public_key: Option<String>,
    /// The note's 4-byte key id, `SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key)[..4]`, hex.
    pub key_id: Option<String>,
    /// Wall-clock milliseconds when the writer recorded the head.
    pub recorded_ms: Option<u64>,
}

impl ExportedHead {
    /// The record of `head`, or of no head.
    pub fn of(head: Option<&TreeHead>) -> Self {
        let Some(head) = head else {
            return Self {
                record: HEAD_RECORD,
                size: None,
                root_hash: None,
                origin: None,
                checkpoint: None,
                note: None,
                public_key: None,
                key_id: None,
                recorded_ms: None,
            };
        };
        let origin = head.checkpoint().origin();
        let key = head
            .note()
            .and(head.public_key())
            .and_then(|k| batpak::proofbat::VerifyingKey::from_bytes(&k).ok());
        Self {
            record: HEAD_RECORD,
            size: Some(head.size()),
            root_hash: Some(hex(head.root())),
            origin: Some(origin.to_owned()),
            checkpoint: Some(head.checkpoint().body()),
            note: head.note().map(str::to_owned),
            public_key: key.map(|k| hex(k.as_bytes())),
            key_id: key.map(|k| hex(&batpak::proofbat::key_id(origin, &k))),
            recorded_ms: Some(head.recorded_ms()),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn uuid_string(raw: u128) -> String {
    uuid::Uuid::from_u128(raw).hyphenated().to_string()
}

impl ExportedEvent {
    /// Builds the exported form of an event read with [`StoreReader::read_raw`].
    pub fn from_raw(raw: &StoredEvent<Vec<u8>>) -> Self {
        Self::from_stored(raw, Ok(raw))
    }

    /// Builds the exported form of an event from its stored bytes
    /// ([`StoreReader::read_stored`]) and what reading its payload as
    /// appended ([`StoreReader::read_raw`]) gave.
    pub fn from_stored(
        stored: &StoredEvent<Vec<u8>>,
        opened: Result<&StoredEvent<Vec<u8>>, &StoreError>,
    ) -> Self {
        let raw = stored;
        let h = raw.header();
        let bytes = raw.payload();
        let shredded = matches!(opened, Err(StoreError::PayloadShredded { .. }));
        // The same JSON `Store::get` returns.
        let (payload, payload_error) = match opened {
            Ok(plain) => match plain.payload_json() {
                Ok(v) => (v, None),
                Err(e) => (serde_json::Value::Null, Some(e.to_string())),
            },
            Err(_) if shredded => (serde_json::Value::Null, None),
            Err(e) => (serde_json::Value::Null, Some(e.to_string())),
        };
        let canonical = canonical_header_bytes(h, &raw.coordinate);
        let attestation = canonical_attestation(
            &canonical,
            raw.coordinate.entity().len() + raw.coordinate.scope().len(),
            h,
        );
        let correlation = h.correlation_id.map(|c| c.as_u128());
        let causation = h.causation_id.map(|c| c.as_u128());
        Self {
            event_id: uuid_string(h.event_id.as_u128()),
            event_id_hex: hex(&h.event_id.to_bytes()),
            global_sequence: h.global_sequence,
            entity_sequence: h.entity_sequence,
            kind: h.kind.as_u16(),
            kind_hex: format!("{:04x}", h.kind.as_u16()),
            wall_ms: h.wall_ms,
            hlc_physical_ms: h.hlc.physical_ms,
            hlc_logical: h.hlc.logical,
            correlation_id: correlation.map(uuid_string),
            correlation_id_hex: correlation.map(|c| hex(&c.to_be_bytes())),
            causation_id: causation.map(uuid_string),
            causation_id_hex: causation.map(|c| hex(&c.to_be_bytes())),
            idempotency_key_hex: h.idempotency_key.map(|k| hex(k.as_bytes())),
            payload_version: h.payload_version,
            entity: raw.coordinate.entity().to_owned(),
            scope: raw.coordinate.scope().to_owned(),
            prev_hash: hex(&h.prev_hash),
            content_hash: hex(&h.content_hash),
            event_hash: hex(&h.event_hash),
            attestation: h
                .attestation
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            attestation_tag: attestation.as_ref().map(|a| a.0),
            attestation_strings: attestation.map(|a| a.1).unwrap_or_default(),
            batch_remaining: h.batch_remaining,
            hash_version: h.hash_version,
            canonical_header_hex: hex(&canonical),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            payload,
            payload_error,
            payload_sealed: bytes.first() == Some(&batpak::format::SEALED_PAYLOAD_MARKER),
            shredded,
        }
    }
}

/// Bytes of the canonical header before the attestation, minus the entity
/// and scope bytes: ids, integers, three optional-id tags, two length
/// prefixes and `prev_hash` (see `batpak::chain`).
const CANONICAL_FIXED: usize = 16 + 8 + 8 + 2 + 8 + 8 + 4 + 3 + 2 + 4 + 4 + 32;
/// Bytes each present optional id adds.
const OPTIONAL_ID: usize = 16;
/// Bytes of `batch_remaining` at the end of a layout-2 canonical header.
const BATCH_REMAINING_LEN: usize = 4;

/// The attestation section near the end of the canonical header (its last
/// section in layout 1; in layout 2 `batch_remaining` follows it): its tag and
/// strings, read from the bytes that are hashed (so they match whatever
/// `event_hash` covers). `None` if the section does not parse.
fn canonical_attestation(
    canonical: &[u8],
    names_len: usize,
    h: &batpak::EventHeader,
) -> Option<(u8, Vec<String>)> {
    let ids = [
        h.correlation_id.is_some(),
        h.causation_id.is_some(),
        h.idempotency_key.is_some(),
    ];
    let start = CANONICAL_FIXED + names_len + OPTIONAL_ID * ids.iter().filter(|p| **p).count();
    let end = if h.hash_version == 1 {
        canonical.len()
    } else {
        canonical.len().checked_sub(BATCH_REMAINING_LEN)?
    };
    let mut rest = canonical.get(start..end)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
        rest = tail;
        Some(head)
    };
    let u32_at =
        |b: &[u8]| -> Option<usize> { Some(u32::from_le_bytes(b.try_into().ok()?) as usize) };
    let tag = *take(1)?.first()?;
    let mut strings = Vec::new();
    if tag != 0 {
        let _section_len = u32_at(take(4)?)?;
        let count = u32_at(take(4)?)?;
        for _ in 0..count {
            let len = u32_at(take(4)?)?;
            strings.push(String::from_utf8(take(len)?.to_vec()).ok()?);
        }
    }
    rest.is_empty().then_some((tag, strings))
}

/// Writes every committed event of `store`, in commit order, one JSON object
/// per line, then the [`ExportedHead`] line. Returns the number of events
/// written.
pub fn export_jsonl(
    store: &StoreReader,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<u64, CliError> {
    let region = Region::all();
    progress.begin("exporting", Some(store.len()));
    let mut after = None;
    let mut written = 0u64;
    loop {
        let page = store.query_entries_after(&region, after, PAGE);
        let Some(last) = page.last() else { break };
        after = Some(last.global_sequence());
        for entry in &page {
            let stored = store.read_stored(entry.event_id()).map_err(|source| {
                CliError::UnreadableEvent {
                    event_id: entry.event_id(),
                    source,
                }
            })?;
            let exported =
                if stored.payload().first() == Some(&batpak::format::SEALED_PAYLOAD_MARKER) {
                    let opened = store.read_raw(entry.event_id());
                    ExportedEvent::from_stored(&stored, opened.as_ref())
                } else {
                    ExportedEvent::from_raw(&stored)
                };
            serde_json::to_writer(&mut *out, &exported).map_err(|e| CliError::Output(e.into()))?;
            out.write_all(b"\n").map_err(CliError::Output)?;
            written += 1;
        }
        progress.set(written);
    }
    let head = ExportedHead::of(store.latest_head().as_ref());
    serde_json::to_writer(&mut *out, &head).map_err(|e| CliError::Output(e.into()))?;
    out.write_all(b"\n").map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)?;
    progress.end();
    Ok(written)
}

/// Opens `dir` read-only and exports it to `out`.
pub fn export_dir(
    dir: &DataDir,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<u64, CliError> {
    let store = dir.open_read_only()?;
    export_jsonl(store.reader(), out, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
