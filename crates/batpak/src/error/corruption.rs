//! What is wrong with damaged bytes on disk.

use super::CoordinateProblem;
use crate::format::DecodeError;
use crate::id::EventId;

/// What is wrong with damaged bytes on disk: the facts, not a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// A structure did not decode.
    Decode {
        /// Which structure (`"frame"`, `"footer"`, `"segment header"`, ...).
        structure: &'static str,
        /// What the decoder found.
        source: DecodeError,
    },
    /// The segment header names another segment than its file name.
    WrongSegmentId {
        /// The id in the header.
        found: u64,
    },
    /// A segment ends in a trailer, but no valid footer goes with it.
    FooterMissing,
    /// The footer does not start where the frames end.
    FooterMisplaced,
    /// The footer changed on disk since the store was opened.
    FooterChanged,
    /// A footer was about to be written without the entries of the frames before it.
    FooterEntriesNotLoaded,
    /// A footer lists a name twice.
    DuplicateName {
        /// `"entity"` or `"scope"`.
        part: &'static str,
        /// The name.
        name: String,
    },
    /// A footer or frame holds a name that is not a valid coordinate part.
    InvalidName {
        /// `"entity"` or `"scope"`.
        part: &'static str,
        /// What is wrong with it.
        problem: CoordinateProblem,
    },
    /// An event's global sequence is not the next one.
    GlobalSequence {
        /// The sequence found.
        found: u64,
        /// The sequence expected there.
        expected: u64,
    },
    /// An event's entity sequence is not its entity's next one.
    EntitySequence {
        /// The entity.
        entity: String,
        /// The sequence found.
        found: u64,
        /// The sequence expected there.
        expected: u64,
    },
    /// The frames of an atomic batch are out of order.
    BatchOutOfOrder,
    /// A frame does not decode, but a whole frame follows it: damage before the tail.
    FrameBeforeValidFrame {
        /// Offset of the next whole frame.
        next: u64,
    },
    /// The index points at a frame that holds another event.
    WrongEvent {
        /// The event the index expected there.
        expected: EventId,
    },
    /// The segment the index points into is not open.
    SegmentNotOpen,
    /// A length read from disk does not fit this machine's arithmetic or memory.
    TooLarge,
    /// More bytes follow the active segment's last whole frame than any
    /// write of this store leaves (zeros written ahead, one torn group).
    TailTooLong {
        /// Bytes after the last whole frame.
        bytes: u64,
    },
    /// A segment's id leaves no id for the segment after it.
    LastSegmentId,
    /// A cursor checkpoint file holds another checkpoint's name.
    WrongCheckpoint {
        /// The name in the file.
        found: String,
    },
    /// A frame of the incomplete batch ending the active segment does not
    /// hash to its stored `event_hash`. A crash tears a batch only by not
    /// writing its last frames, and the frames it did write hash right: these
    /// bytes were rewritten, so recovery refuses to drop them as a torn batch.
    TailBatchHashMismatch {
        /// The frame's global sequence.
        global_sequence: u64,
    },
    /// Cutting the tail of the active segment would remove an event below
    /// the committed floor: the number of events known to be committed
    /// (such as the size of the last signed tree head), which no recovery
    /// may take back.
    CutBelowCommitted {
        /// Events known committed (global sequences below it).
        committed: u64,
        /// Global sequence of the first event the cut would remove.
        first_cut: u64,
    },
    /// A segment hashes its events in an older layout than a segment before
    /// it (a version-1 segment after a newer one); a writer only ever moves
    /// to newer versions. (A version-2 segment after a version-3 one, which
    /// hash alike, is what compacting a stretch of version-2 segments leaves.)
    VersionDowngrade {
        /// This segment's version.
        found: u16,
        /// The version of an earlier segment.
        earlier: u16,
    },
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Decode { structure, source } => write!(f, "{structure}: {source}"),
            Self::WrongSegmentId { found } => {
                write!(f, "header names segment {found}, not this file's")
            }
            Self::FooterMissing => f.write_str("sealed segment has no valid footer"),
            Self::FooterMisplaced => f.write_str("footer does not end the frame region"),
            Self::FooterChanged => f.write_str("footer changed since the store was opened"),
            Self::FooterEntriesNotLoaded => f.write_str("footer entries were never loaded"),
            Self::DuplicateName { part, name } => write!(f, "footer lists {part} {name:?} twice"),
            Self::InvalidName { part, problem } => write!(f, "{part} name {problem}"),
            Self::GlobalSequence { found, expected } => {
                write!(f, "global sequence {found} where {expected} was expected")
            }
            Self::EntitySequence {
                entity,
                found,
                expected,
            } => write!(
                f,
                "entity {entity:?} sequence {found} where {expected} was expected"
            ),
            Self::BatchOutOfOrder => f.write_str("batch frame out of order"),
            Self::FrameBeforeValidFrame { next } => write!(
                f,
                "frame does not decode but a whole frame follows at byte {next}"
            ),
            Self::WrongEvent { expected } => write!(f, "frame does not hold event {expected}"),
            Self::SegmentNotOpen => f.write_str("segment file is not open"),
            Self::TooLarge => f.write_str("length too large for this machine"),
            Self::TailTooLong { bytes } => write!(
                f,
                "{bytes} bytes follow the last whole frame, more than a torn write leaves"
            ),
            Self::LastSegmentId => f.write_str("segment id leaves no id for a next segment"),
            Self::WrongCheckpoint { found } => write!(f, "file holds checkpoint {found:?}"),
            Self::TailBatchHashMismatch { global_sequence } => write!(
                f,
                "event {global_sequence} in the incomplete batch at the end of the log does not hash to its stored event_hash: the batch was altered, not torn by a crash"
            ),
            Self::CutBelowCommitted {
                committed,
                first_cut,
            } => write!(
                f,
                "recovery would cut event {first_cut} and later, but {committed} events are known committed"
            ),
            Self::VersionDowngrade { found, earlier } => write!(
                f,
                "segment format version {found} after a segment of version {earlier}"
            ),
        }
    }
}
