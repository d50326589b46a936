// An argument type that does not implement Codable.
#[derive(serde::Serialize, serde::Deserialize, rpcx::Codable)]
pub struct Reply {
    c: i64,
}

pub struct NotCodable {
    pub a: i64,
}

pub struct Arith;

#[rpcx::service]
impl Arith {
    pub fn mul(&self, args: NotCodable) -> Reply {
        Reply { c: args.a }
    }
}

fn main() {}
