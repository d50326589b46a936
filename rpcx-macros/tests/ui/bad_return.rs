// A reply must be Codable, or a Result of a Codable reply.
pub struct NotAReply;

pub struct Arith;

#[rpcx::service]
impl Arith {
    pub async fn mul(&self, n: i64) -> NotAReply {
        let _ = n;
        NotAReply
    }
}

fn main() {}
