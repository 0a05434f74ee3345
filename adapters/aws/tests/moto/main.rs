//! tally-aws against moto's server: one test binary (each would otherwise
//! link the AWS SDK again, hundreds of megabytes apiece). The tests share
//! one server and take turns through `support::Moto`'s lock, which resets
//! it for each.

mod support;

mod bad_input;
mod bootstraps;
mod capture;
mod end_to_end;
mod logs;
mod parity;
mod ports;
mod races;
