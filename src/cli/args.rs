//! Command-line arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::Backend;

/// Reproduce the fairness-RM paper as a DAG of content-hashed stages.
#[derive(Debug, Parser)]
#[command(name = "repro", version = crate::cli::version_line(), about)]
pub struct Cli {
    /// Store directory (default: $REPRO_STORE, else ./artifacts).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Compute backend for Burn stages (part of their keys).
    #[arg(long, global = true, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    let b: Backend = s
        .parse()
        .map_err(|e: crate::backend::UnknownBackend| e.to_string())?;
    if !b.compiled_in() {
        return Err(crate::backend::NotCompiledIn(b).to_string());
    }
    Ok(b)
}

/// A pipeline file and its overrides.
#[derive(Debug, Args, Clone)]
pub struct PipelineArgs {
    /// The pipeline YAML file.
    pub pipeline: PathBuf,
    /// Override a param or stage field: `params.x=v`, `stages.S.with.k=v` (value parsed as YAML).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The lockfile to use instead of `<stem>.lock` beside the pipeline (an
    /// experiment's, when `--exp` names one); never a flag of its own.
    #[arg(skip)]
    pub lock: Option<PathBuf>,
}

/// `--exp NAME`: act on an experiment's run instead of the pipeline's lock.
#[derive(Debug, Args, Clone, Default)]
pub struct ExpArg {
    /// An experiment (`repro exp show PIPELINE` lists them): its overrides
    /// and its lockfile instead of the pipeline's.
    #[arg(long = "exp", value_name = "NAME", conflicts_with = "sets")]
    pub exp: Option<String>,
}

/// Output format of `repro dag`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DagFormat {
    /// Indented text.
    Text,
    /// Graphviz dot.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// `repro run`'s options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline and overrides.
    #[command(flatten)]
    pub p: PipelineArgs,
    /// Stages to bring up to date (`rm`, `rm[lambda_adv=0.2]`).
    pub targets: Vec<String>,
    /// Stages run in parallel.
    #[arg(short = 'j', long = "jobs", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// After a failure, keep running everything that does not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Rerun a stage even if fresh (`rm`, `rm[*]`, `rm[lambda_adv=0.2]`).
    #[arg(long = "force", value_name = "STAGE")]
    pub force: Vec<String>,
    /// Print what would run, and why, without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit 3 at once if another run holds the store.
    #[arg(long)]
    pub no_wait: bool,
    /// Where stages run: `local` processes or one `slurm` job each (default: the pipeline's `executor:`, else local).
    #[arg(long, value_parser = ["local", "slurm"])]
    pub executor: Option<String>,
    /// An extra `sbatch` argument for every job (repeatable): `--slurm-opt=--account=x`.
    #[arg(long = "slurm-opt", value_name = "ARG", allow_hyphen_values = true)]
    pub slurm_opt: Vec<String>,
    /// With --set: the experiment's name (default: from the overrides, `rm.with.epochs=20`).
    #[arg(long, value_name = "NAME", requires = "sets")]
    pub name: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stale stages needed for TARGETs (default: every stage).
    Run(RunArgs),
    /// Runs one stage inside a Slurm job (internal: `repro run --executor slurm` submits it).
    #[command(name = "__exec-stage", hide = true)]
    ExecStage {
        /// The job file in the stage's staging directory.
        job_file: PathBuf,
    },
    /// Every stage: fresh, or stale with the reason.
    Status {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Experiment.
        #[command(flatten)]
        exp: ExpArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 if any stage is stale.
        #[arg(long)]
        check: bool,
    },
    /// Print the stage graph.
    Dag {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// One stage's record: key, params, inputs, outputs, metrics, timings, log.
    Show {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Experiment.
        #[command(flatten)]
        exp: ExpArg,
        /// The stage (expanded name for matrix stages).
        stage: String,
    },
    /// Check keys against the lockfile, the lockfile against records, and rehash every object.
    Verify {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Experiment.
        #[command(flatten)]
        exp: ExpArg,
        /// Re-execute a stage in scratch and compare its output bytes.
        #[arg(long = "rerun", value_name = "STAGE")]
        rerun: Vec<String>,
        /// With --rerun: bytes that differ are accepted when every metric agrees within
        /// this relative tolerance (e.g. 1e-6).
        #[arg(long, value_name = "RTOL")]
        rtol: Option<f64>,
        /// Restore damaged or missing objects from the remote, or, without one, rerun
        /// the stages that made them.
        #[arg(long)]
        repair: bool,
        /// Without --repair: read back and rehash every locked output's copy on this
        /// remote (nothing stored here). With --repair: the remote to restore from
        /// (default: $REPRO_REMOTE, else the pipeline's `remote:`).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
    },
    /// Upload what the lockfile reaches (objects, records, then an index) to a remote.
    Push {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Stages to push, with their ancestors (default: every locked stage).
        targets: Vec<String>,
        /// s3://BUCKET/PREFIX, a directory, or file:///DIR (default: $REPRO_REMOTE, else `remote:`).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
        /// Transfers in flight.
        #[arg(short = 'j', long = "jobs", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
        jobs: u32,
    },
    /// Download what the committed lockfile names from a remote, rehashing every object.
    Pull {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Stages to pull, with their ancestors (default: every locked stage).
        targets: Vec<String>,
        /// s3://BUCKET/PREFIX, https://HOST/PATH, a directory, or file:///DIR
        /// (default: $REPRO_REMOTE, else `remote:`).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
        /// Transfers in flight.
        #[arg(short = 'j', long = "jobs", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
        jobs: u32,
    },
    /// Write a stage's locked outputs (or one of them) as ordinary files below DIR.
    Export {
        /// Pipeline and overrides.
        #[command(flatten)]
        p: PipelineArgs,
        /// Experiment.
        #[command(flatten)]
        exp: ExpArg,
        /// The stage (expanded name for matrix stages).
        stage: String,
        /// `[OUTPUT] DIR`: one output (default: all) and the directory to write.
        #[arg(value_name = "[OUTPUT] DIR", num_args = 1..=2, required = true)]
        rest: Vec<String>,
    },
    /// Params and metrics that differ between two lockfiles, stage by stage.
    Diff {
        /// First lockfile.
        a: PathBuf,
        /// Second lockfile.
        b: PathBuf,
    },
    /// Drop records and objects no given lockfile reaches (default: pipelines/*.lock).
    Gc {
        /// Pipeline files or lockfiles whose results to keep.
        pipelines: Vec<PathBuf>,
        /// Print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Experiments: runs with `--set`, kept in the store beside the pipeline's lock.
    Exp {
        /// The experiment command.
        #[command(subcommand)]
        cmd: crate::cli::exp::ExpCommand,
    },
    /// Every stage kind with its `with` schema, inputs and outputs.
    Kinds,
    /// Time one bench row on `--backend` and print it as one JSON line: a model row
    /// (rm_step, minilm_infer, lm_fwd_bwd, lora_fwd_bwd, lm_forward, gen_b1, gen_b8, gen_b32), `gemm`,
    /// `membw` or `cpu` (README, "Benchmarks"; `BENCH_ITERS`, `BENCH_WARMUP`, `RAYON_NUM_THREADS`).
    Bench {
        /// The row.
        row: String,
        /// Random weights at the real shapes (from `--configs`, drawn from this seed) in
        /// place of the checkpoints under `$REPRO_MODELS`.
        #[arg(long, value_name = "SEED")]
        seeded: Option<u64>,
        /// The models' configurations, for `--seeded` and the GEMM row's shapes.
        #[arg(long, value_name = "DIR", default_value = crate::bench::weights::CONFIGS)]
        configs: PathBuf,
        /// A Hugging Face SmolLM2 directory to load in place of the GGUF (`$BENCH_LLAMA_DIR`).
        #[arg(long, value_name = "DIR")]
        llama_dir: Option<PathBuf>,
        /// A GEMM shape `M,K,N` (repeatable; default: 2048³, 4096³ and SmolLM2's forward).
        #[arg(long = "shape", value_name = "M,K,N")]
        shapes: Vec<String>,
    },
    /// Inspect a model before a long run (MODEL: a GGUF file or a Hugging Face directory).
    Model {
        /// The inspection.
        #[command(subcommand)]
        cmd: crate::cli::model::ModelCommand,
    },
}
