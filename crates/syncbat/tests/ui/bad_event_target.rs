#![allow(unused_imports)]
use syncbat::{operation, Ctx, HandlerResult};

#[operation(
    descriptor = D,
    name = "a.b",
    effect = Persist,
    input_schema = "a.in",
    output_schema = "a.out",
    receipt_kind = "receipt.a.v1",
    appends_events = ["bank.ops"],
)]
fn h(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(input.to_vec())
}

fn main() {}
