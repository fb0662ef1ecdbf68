//! End to end on real Spread 5.0.1 (tests/common/real_spread.rs).

mod common;

use std::time::{Duration, Instant};

use common::cluster::{Backend, Cluster};
use common::thirdparty;

#[test]
fn smoke() {
    let Some(prefix) = thirdparty::real_prefix() else {
        return;
    };
    let t0 = Instant::now();
    let mut c = Cluster::new_on(&Backend::Real(prefix), "rsmoke", 3, 6, "");
    eprintln!("ring after {:?}", t0.elapsed());
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], Duration::from_secs(20));
    eprintln!("settled after {:?}", t0.elapsed());
    eprintln!("{}", c.real.as_ref().unwrap().log(0));
}
