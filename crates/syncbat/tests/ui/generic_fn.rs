#![allow(unused_imports)]
use syncbat::{operation, Ctx, HandlerResult};

#[operation(
    descriptor = D,
    name = "a.b",
    effect = Compute,
    input_schema = "a.in",
    output_schema = "a.out",
    receipt_kind = "receipt.a.v1",
)]
fn h<T: Default>(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    let _ = T::default();
    Ok(input.to_vec())
}

fn main() {}
