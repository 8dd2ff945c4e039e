#![allow(unused_imports)]
use syncbat::{operation, Ctx, HandlerResult};

#[operation(
    descriptor = D,
    name = "bank..deposit",
    effect = Compute,
    input_schema = "a.in",
    output_schema = "a.out",
    receipt_kind = "receipt.a.v1",
)]
fn h(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(input.to_vec())
}

fn main() {}
