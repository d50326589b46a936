// Go methods take one argument value: two are refused with a hint.
pub struct Arith;

#[rpcx::service]
impl Arith {
    pub fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

fn main() {}
