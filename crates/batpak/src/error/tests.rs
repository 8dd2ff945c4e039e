//! The table that pins every variant's code and fault.

use super::*;

/// One value of every variant, with the code netbat and logs rely on.
/// A renamed or reused code fails here: codes are part of the API.
fn every_variant() -> Vec<(StoreError, &'static str, Fault)> {
    let id = EventId::from_u128(1);
    let kind = EventKind::custom(0xE, 1);
    let path = PathBuf::from("x");
    let io = || std::io::Error::from(std::io::ErrorKind::StorageFull);
    vec![
        (StoreError::io("fsync", "x", io()), "io", Fault::Environment),
        (
            StoreError::StoreLocked { path: path.clone() },
            "store_locked",
            Fault::Environment,
        ),
        (
            StoreError::InvalidCoordinate {
                part: "entity",
                value: String::new(),
                problem: CoordinateProblem::Empty,
            },
            "invalid_coordinate",
            Fault::Caller,
        ),
        (
            StoreError::InvalidKind {
                kind: 0,
                reason: "r",
            },
            "invalid_kind",
            Fault::Caller,
        ),
        (
            StoreError::InvalidName {
                value: String::new(),
                reason: "r",
            },
            "invalid_name",
            Fault::Caller,
        ),
        (
            StoreError::NotFound { event_id: id },
            "not_found",
            Fault::Caller,
        ),
        (
            StoreError::Serialization { source: "e".into() },
            "serialization",
            Fault::Caller,
        ),
        (
            StoreError::Deserialization {
                event_id: id,
                source: "e".into(),
            },
            "deserialization",
            Fault::Caller,
        ),
        (
            StoreError::PayloadTooLarge { size: 2, limit: 1 },
            "payload_too_large",
            Fault::Caller,
        ),
        (
            StoreError::CorruptSegment {
                segment: path.clone(),
                offset: 0,
                reason: Corruption::TooLarge,
            },
            "corrupt_segment",
            Fault::Data,
        ),
        (
            StoreError::CorruptFrame {
                segment: path.clone(),
                offset: 0,
                reason: Corruption::TooLarge,
            },
            "corrupt_frame",
            Fault::Data,
        ),
        (
            StoreError::NotARegularFile { path: path.clone() },
            "not_a_regular_file",
            Fault::Data,
        ),
        (
            StoreError::TornTail {
                segment: path.clone(),
                offset: 0,
                dropped_bytes: 1,
            },
            "torn_tail",
            Fault::Data,
        ),
        (
            StoreError::UnsupportedVersion {
                path: path.clone(),
                found: 9,
                supported: 1,
            },
            "unsupported_version",
            Fault::Data,
        ),
        (
            StoreError::Configuration { reason: "r" },
            "configuration",
            Fault::Caller,
        ),
        (
            StoreError::WriterFailed {
                cause: Arc::new(StoreError::io("fsync", "x", io())),
            },
            "writer_failed",
            Fault::Environment,
        ),
        (
            StoreError::SigningFailed { source: "e".into() },
            "signing_failed",
            Fault::Environment,
        ),
        (
            StoreError::ChainVerificationFailed {
                mismatches: 1,
                dangling: 0,
                first: None,
            },
            "chain_verification_failed",
            Fault::Data,
        ),
        (
            StoreError::SequenceMismatch {
                entity: String::new(),
                expected: ExpectedSequence::NoStream,
                actual: Some(0),
            },
            "sequence_mismatch",
            Fault::Caller,
        ),
        (
            StoreError::InvalidCausation {
                problem: CausationProblem::NotCommitted { event_id: id },
            },
            "invalid_causation",
            Fault::Caller,
        ),
        (
            StoreError::IdempotencyConflict {
                key: IdempotencyKey::from_bytes([1; 16]),
                reason: "r",
            },
            "idempotency_conflict",
            Fault::Caller,
        ),
        (
            StoreError::IdempotencyPartialBatch,
            "idempotency_partial_batch",
            Fault::Caller,
        ),
        (
            StoreError::DuplicateIdempotencyKey {
                key: IdempotencyKey::from_bytes([1; 16]),
                first: 0,
                second: 1,
            },
            "duplicate_idempotency_key",
            Fault::Caller,
        ),
        (StoreError::EmptyBatch, "empty_batch", Fault::Caller),
        (
            StoreError::BatchTooLarge { items: 0, limit: 1 },
            "batch_too_large",
            Fault::Caller,
        ),
        (
            StoreError::BatchItemTooLarge {
                index: 0,
                bytes: 2,
                limit: 1,
            },
            "batch_item_too_large",
            Fault::Caller,
        ),
        (StoreError::Backpressure, "backpressure", Fault::Environment),
        (
            StoreError::WaitTimeout {
                what: "w",
                waited_ms: 1,
            },
            "wait_timeout",
            Fault::Environment,
        ),
        (
            StoreError::PayloadKindCollision {
                kind,
                first: "a",
                second: "b",
            },
            "payload_kind_collision",
            Fault::Caller,
        ),
        (
            StoreError::UpcastChainIncomplete {
                kind,
                version: 2,
                missing: vec![(1, 2)],
            },
            "upcast_chain_incomplete",
            Fault::Caller,
        ),
        (
            StoreError::DuplicateUpcastStep {
                kind,
                from: 1,
                first: "a",
                second: "b",
            },
            "duplicate_upcast_step",
            Fault::Caller,
        ),
        (
            StoreError::FutureVersion {
                event_id: id,
                kind,
                stored: 3,
                supported: 2,
            },
            "future_version",
            Fault::Caller,
        ),
        (
            StoreError::KindMismatch {
                event_id: id,
                expected: kind,
                found: kind,
            },
            "kind_mismatch",
            Fault::Caller,
        ),
        (
            StoreError::UpcastFailed {
                event_id: id,
                kind,
                from: 1,
                source: "e".into(),
            },
            "upcast_failed",
            Fault::Caller,
        ),
        (
            StoreError::InvalidGateRecord {
                field: "f",
                problem: "p",
            },
            "invalid_gate_record",
            Fault::Caller,
        ),
        (
            StoreError::ReadOnly { operation: "o" },
            "read_only",
            Fault::Caller,
        ),
        (
            StoreError::CursorCheckpointNotFound {
                checkpoint: String::new(),
            },
            "cursor_checkpoint_not_found",
            Fault::Caller,
        ),
        (
            StoreError::CursorCheckpointRegionMismatch {
                checkpoint: String::new(),
            },
            "cursor_checkpoint_region_mismatch",
            Fault::Caller,
        ),
        (
            StoreError::CursorCheckpointCorrupt {
                path: path.clone(),
                reason: Corruption::TooLarge,
            },
            "cursor_checkpoint_corrupt",
            Fault::Data,
        ),
        (
            StoreError::CursorCheckpointAhead {
                checkpoint: String::new(),
                global_sequence: 1,
            },
            "cursor_checkpoint_ahead",
            Fault::Data,
        ),
        (
            StoreError::ReactorPanicked,
            "reactor_panicked",
            Fault::Caller,
        ),
        (
            StoreError::PayloadShredded { event_id: id },
            "payload_shredded",
            Fault::Caller,
        ),
        (
            StoreError::PayloadDecryptFailed {
                event_id: id,
                reason: "r",
            },
            "payload_decrypt_failed",
            Fault::Data,
        ),
        (
            StoreError::KeysetCorrupt {
                path: path.clone(),
                reason: Corruption::TooLarge,
            },
            "keyset_corrupt",
            Fault::Data,
        ),
        (
            StoreError::KeyScopeGranularityMismatch {
                stored: KeyScopeGranularity::PerEntity,
                configured: None,
            },
            "key_scope_granularity_mismatch",
            Fault::Caller,
        ),
        (
            StoreError::ShredScopeMismatch {
                granularity: KeyScopeGranularity::PerEvent,
                selector: "ShredScope::Entity",
            },
            "shred_scope_mismatch",
            Fault::Caller,
        ),
        (
            StoreError::TreeCorrupt {
                path: path.clone(),
                reason: "r".into(),
            },
            "tree_corrupt",
            Fault::Data,
        ),
        (
            StoreError::HeadsCorrupt {
                path: path.clone(),
                offset: 16,
                reason: crate::format::DecodeError::Truncated {
                    offset: 16,
                    needed: 8,
                },
            },
            "heads_corrupt",
            Fault::Data,
        ),
        (
            StoreError::HeadMismatch {
                path: path.clone(),
                offset: 16,
                size: 3,
            },
            "head_mismatch",
            Fault::Data,
        ),
        (
            StoreError::LogBelowHead {
                path: path.clone(),
                offset: 16,
                head_size: 5,
                log_size: 3,
            },
            "log_below_head",
            Fault::Data,
        ),
        (
            StoreError::TreeSizeOutOfRange {
                requested: 9,
                size: 3,
            },
            "tree_size_out_of_range",
            Fault::Caller,
        ),
        (
            StoreError::DestinationNotEmpty { path: path.clone() },
            "destination_not_empty",
            Fault::Caller,
        ),
        (
            StoreError::DestinationInsideSource {
                path: path.clone(),
                store: path.clone(),
            },
            "destination_inside_source",
            Fault::Caller,
        ),
        (
            StoreError::DestinationIsSymlink { path: path.clone() },
            "destination_is_symlink",
            Fault::Caller,
        ),
        (
            StoreError::PayloadTombstoned { event_id: id },
            "payload_tombstoned",
            Fault::Caller,
        ),
        (
            StoreError::CompactionPredicatePanicked { event_id: id },
            "compaction_predicate_panicked",
            Fault::Caller,
        ),
        (
            StoreError::CompactionIncomplete {
                path: path.clone(),
                reason: "r",
            },
            "compaction_incomplete",
            Fault::Data,
        ),
        (
            StoreError::CompactionMarkerCorrupt {
                path: path.clone(),
                reason: crate::format::DecodeError::Truncated {
                    offset: 0,
                    needed: 1,
                },
            },
            "compaction_marker_corrupt",
            Fault::Data,
        ),
        (
            StoreError::SnapshotIncomplete { path: path.clone() },
            "snapshot_incomplete",
            Fault::Data,
        ),
        (
            StoreError::ImportFromItself { path: path.clone() },
            "import_from_itself",
            Fault::Caller,
        ),
        (
            StoreError::ImportWithEncryption {
                store: "source",
                event_id: Some(EventId::from_u128(1)),
            },
            "import_with_encryption",
            Fault::Caller,
        ),
        (StoreError::Closed, "closed", Fault::Caller),
        (StoreError::WriterCrashed, "writer_crashed", Fault::Internal),
    ]
}

#[test]
fn every_variant_has_its_pinned_code_and_fault() {
    let all = every_variant();
    assert_eq!(all.len(), 63, "a new variant needs a row here");
    let mut seen = std::collections::HashSet::new();
    for (err, code, fault) in &all {
        assert_eq!(err.code(), *code, "{err:?}");
        assert_eq!(err.fault(), *fault, "{err:?}");
        assert!(seen.insert(*code), "code {code} used twice");
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
}

#[test]
fn writer_failed_keeps_the_io_kind_of_its_first_failure() {
    let first = StoreError::io("fsync", "seg", std::io::ErrorKind::StorageFull.into());
    let failed = StoreError::WriterFailed {
        cause: Arc::new(first.copy_as_cause()),
    };
    assert_eq!(failed.io_kind(), Some(std::io::ErrorKind::StorageFull));
    assert_eq!(first.io_kind(), Some(std::io::ErrorKind::StorageFull));
    assert_eq!(StoreError::Closed.io_kind(), None);
    // A fail-stopped writer's cause is the first failure, never a chain of them.
    let again = failed.copy_as_cause();
    assert!(matches!(again, StoreError::Io { .. }), "{again:?}");
}

#[test]
fn the_encryption_errors_say_what_to_do_and_never_carry_key_bytes() {
    let mismatch = StoreError::KeyScopeGranularityMismatch {
        stored: KeyScopeGranularity::PerEntity,
        configured: Some(KeyScopeGranularity::PerEvent),
    };
    assert_eq!(
        mismatch.to_string(),
        "store's keys are scoped PerEntity, but the configuration asks for PerEvent"
    );
    let off = StoreError::KeyScopeGranularityMismatch {
        stored: KeyScopeGranularity::PerTypeId,
        configured: None,
    };
    assert!(
        off.to_string().ends_with("asks for no payload encryption"),
        "{off}"
    );
    let selector = StoreError::ShredScopeMismatch {
        granularity: KeyScopeGranularity::PerCategory,
        selector: "ShredScope::Entity",
    };
    assert_eq!(
        selector.to_string(),
        "ShredScope::Entity does not name a key under granularity PerCategory; use ShredScope::Kind"
    );
    assert_eq!(selector.handling_class(), HandlingClass::Domain);
    let shredded = StoreError::PayloadShredded {
        event_id: EventId::from_u128(7),
    };
    assert_eq!(shredded.handling_class(), HandlingClass::Domain);
    let failed = StoreError::PayloadDecryptFailed {
        event_id: EventId::from_u128(7),
        reason: "authentication failed",
    };
    assert_eq!(
        failed.handling_class(),
        HandlingClass::FailClosedOperational
    );
}
