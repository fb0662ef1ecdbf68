//! Code shared by the integration tests.

pub mod cluster;
pub mod netns;
pub mod rng;
