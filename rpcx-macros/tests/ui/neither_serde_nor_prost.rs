// Codable needs serde, prost, or both.
#[derive(rpcx::Codable)]
pub struct Args {
    pub a: i64,
}

fn main() {}
