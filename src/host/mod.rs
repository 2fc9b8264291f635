//! The machine and job this process runs on: its Slurm job ([`slurm`]) and the fault
//! hooks of the tests ([`testhook`]).

pub mod slurm;
pub mod testhook;
