// A method named like an item of the generated client is refused with a way out.
pub struct Arith;

#[rpcx::service]
impl Arith {
    pub fn new(&self, n: i64) -> i64 {
        n
    }
}

fn main() {}
