// Calls run concurrently on one shared object: `&mut self` is refused.
pub struct Counter {
    n: i64,
}

#[rpcx::service]
impl Counter {
    pub fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

fn main() {}
