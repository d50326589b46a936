// Two functions with one wire name (a rename onto another method's Go name) are refused,
// naming both.
pub struct Arith;

#[rpcx::service]
impl Arith {
    pub fn mul(&self, n: i64) -> i64 {
        n * 2
    }

    #[rpcx(name = "Mul")]
    pub fn times(&self, n: i64) -> i64 {
        n * 3
    }
}

fn main() {}
