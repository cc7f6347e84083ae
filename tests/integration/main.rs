//! Integration tests: the real `repro` binary run on `cmd`-stage pipelines in
//! temp directories, checking exit codes, output, the store and the lockfile.

mod common;

mod big_yaml;
mod bounds;
mod caching;
mod cli;
mod concurrency;
mod crash;
mod data_real;
mod defaults;
mod device_check;
mod env_paths;
mod evals;
mod experiments;
mod extends_set;
mod failures;
mod fifo_readers;
#[cfg(feature = "test-hooks")]
mod full_disk;
mod ground_truth_minilm;
mod hostile_text;
mod layering;
mod malformed;
mod matrix;
mod model;
mod model_cli;
mod outside_writers;
mod paper_pipelines;
mod parallel;
mod ppo;
mod readme;
mod readonly_inputs;
mod record_files;
mod remote;
mod remote_links;
mod remote_sizes;
mod repair;
mod report_paper;
mod run_quoting;
mod safety;
mod slurm;
mod verify_gc;
mod verify_names;
mod verify_refusals;
mod verify_remote;
