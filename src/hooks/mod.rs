//! User hooks (to come): `RunDynamic module:func` shared objects called
//! with the C ABI of wackamole 2.1.4, `RunDynamic Package::func` Perl
//! subs run in a child `perl`, and `RunScript` programs.
//!
//! Owns: running user code on `on up`, `on down`, `post up` and `post
//! down`, asynchronously, with a time limit, never blocking the daemon.
