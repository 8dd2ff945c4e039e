//! Helpers shared by the behaviour tests.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;

use batpak::{Coordinate, EventId, EventKind, IndexEntry};
use parking_lot::Mutex;
use syncbat::{AppendedEvent, EffectAxis, EffectBackend, EffectError, ReadEvent, ReadRequest};

/// A backend that records every call it receives and can be told to fail.
#[derive(Clone, Default)]
pub struct RecordingBackend {
    pub calls: Arc<Mutex<Vec<(EffectAxis, String)>>>,
    pub fail: bool,
}

impl RecordingBackend {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn failing() -> Self {
        Self {
            fail: true,
            ..Self::default()
        }
    }

    pub fn calls(&self) -> Vec<(EffectAxis, String)> {
        self.calls.lock().clone()
    }

    fn note(&self, axis: EffectAxis, target: String) -> Result<(), EffectError> {
        self.calls.lock().push((axis, target));
        if self.fail {
            Err(EffectError::Backend("refused by the test backend".into()))
        } else {
            Ok(())
        }
    }
}

impl EffectBackend for RecordingBackend {
    fn append_event(
        &self,
        _coordinate: Option<&Coordinate>,
        kind: EventKind,
        _payload: &[u8],
    ) -> Result<AppendedEvent, EffectError> {
        self.note(EffectAxis::EventAppend, syncbat::event_target(kind))?;
        let n = self.calls.lock().len() as u128;
        Ok(AppendedEvent::new(EventId::from_u128(n), n as u64, 0))
    }

    fn read_events(
        &self,
        kind: EventKind,
        _r: &ReadRequest,
    ) -> Result<Vec<ReadEvent>, EffectError> {
        self.note(EffectAxis::EventRead, syncbat::event_target(kind))?;
        let _: Option<IndexEntry> = None;
        Ok(Vec::new())
    }

    fn query_projection(
        &self,
        projection: &str,
        _entity: &str,
    ) -> Result<Option<Vec<u8>>, EffectError> {
        self.note(EffectAxis::ProjectionQuery, projection.to_owned())?;
        Ok(Some(vec![0xc0]))
    }

    fn emit_receipt(&self, receipt_kind: &str, _payload: &[u8]) -> Result<(), EffectError> {
        self.note(EffectAxis::ReceiptEmit, receipt_kind.to_owned())
    }

    fn use_host_control(&self, control: &str, input: &[u8]) -> Result<Vec<u8>, EffectError> {
        self.note(EffectAxis::HostControl, control.to_owned())?;
        Ok(input.to_vec())
    }
}

/// A receipt sink that always fails.
pub struct BrokenSink;

impl syncbat::ReceiptSink for BrokenSink {
    fn record_receipt(
        &self,
        _e: &syncbat::ReceiptEnvelope,
    ) -> Result<syncbat::RecordedReceipt, syncbat::SinkError> {
        Err(syncbat::SinkError::Other("disk on fire".into()))
    }
}

/// A status sink that always fails.
pub struct BrokenStatusSink;

impl syncbat::OperationStatusSink for BrokenStatusSink {
    fn record_status(&self, _f: &syncbat::OperationStatusFact) -> Result<(), syncbat::SinkError> {
        Err(syncbat::SinkError::Other("status store down".into()))
    }
}

pub const K1: EventKind = EventKind::custom(0xE, 1);
pub const K2: EventKind = EventKind::custom(0xE, 2);
