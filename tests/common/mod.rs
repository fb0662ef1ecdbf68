//! Code shared by the integration tests.

pub mod c_node;
pub mod capture;
pub mod cluster;
pub mod corosync;
pub mod hex;
pub mod netns;
pub mod pinger;
pub mod procstat;
pub mod real_spread;
pub mod rng;
pub mod run;
pub mod scenarios;
pub mod scratch;
pub mod spread_sim;
pub mod thirdparty;
pub mod watch;
