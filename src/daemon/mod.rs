//! The daemon (to come): one `mio` poll loop over the Spread connection,
//! the control socket, signals and a timer queue; daemonizing, the pid
//! file and logging; and the executor that turns the engine's actions
//! into calls on `net`, `hooks` and the Spread client.
//!
//! Owns: process life and the glue between the pure core and the edges.
