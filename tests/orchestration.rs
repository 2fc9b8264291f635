//! The rules of the night, with a fake generator and a fake clock instead of the Python engine:
//! batching by `max_batch`, out-of-memory halving, the time budget (and the pause between
//! tasks counted against it), interruption and resuming, failure `_ERROR.txt` files, `.done`
//! renaming and exit codes. No Python starts; each test runs in milliseconds.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::Shared;
use runvqgan::call::job::Job;
use runvqgan::commands::exit_code_for;
use runvqgan::config::Config;
use runvqgan::engine::failure::FailureKind;
use runvqgan::engine::{GenerateError, Generated, ModelInfo, ProgressSink};
use runvqgan::night::budget::{Budget, Clock};
use runvqgan::night::{self, Generator, Night};
use runvqgan::process::exit_codes::ExitCode;
use runvqgan::records::events::{Event, Outcome, Recorder, Reporter};
use runvqgan::records::progress::Progress;
use runvqgan::records::sinks::ErrorFileSink;
use runvqgan::records::speeds::{Speeds, key};
use runvqgan::shared_folder::root::Root;

/// A clock that moves only when the fake engine works or the night pauses.
struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    fn new() -> Arc<FakeClock> {
        Arc::new(FakeClock(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )))
    }
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}

/// What the fake engine does with one batch.
#[derive(Clone)]
enum Step {
    /// Writes every PNG, taking `seconds_per_iteration` on the fake clock.
    Make,
    /// Fails with this kind and message, writing nothing.
    Fail(FailureKind, &'static str),
    /// Sets the stop flag and stops, writing nothing (Ctrl-C during the batch).
    Interrupt,
}

/// A fake engine: follows `script` batch by batch (then `Make`), and records each batch's
/// outputs.
struct FakeEngine {
    device: &'static str,
    script: VecDeque<Step>,
    seconds_per_iteration: f64,
    clock: Arc<FakeClock>,
    stop: Arc<AtomicBool>,
    batches: Vec<Vec<String>>,
    started: u32,
    /// Called before each batch (a member editing a task file, say).
    before: Option<Box<dyn FnMut(usize)>>,
}

impl FakeEngine {
    fn new(device: &'static str, clock: &Arc<FakeClock>, stop: &Arc<AtomicBool>) -> FakeEngine {
        FakeEngine {
            device,
            script: VecDeque::new(),
            seconds_per_iteration: 1.0,
            clock: clock.clone(),
            stop: stop.clone(),
            batches: Vec::new(),
            started: 0,
            before: None,
        }
    }

    fn then(mut self, step: Step) -> FakeEngine {
        self.script.push_back(step);
        self
    }

    /// The batch sizes asked for, in order.
    fn sizes(&self) -> Vec<usize> {
        self.batches.iter().map(Vec::len).collect()
    }
}

impl Generator for FakeEngine {
    fn start(&mut self) -> anyhow::Result<ModelInfo> {
        self.started += 1;
        Ok(ModelInfo {
            vqgan_kind: "VQModel".into(),
            factor: 16,
            n_embed: 16,
            embed_dim: 8,
            clip_model: "fake".into(),
            clip_resolution: 32,
            device: self.device.into(),
            load_seconds: 0.5,
            loaded: true,
        })
    }

    fn generate(
        &mut self,
        jobs: &[Job],
        progress: Arc<dyn ProgressSink>,
    ) -> Result<Vec<Generated>, GenerateError> {
        if let Some(before) = &mut self.before {
            before(self.batches.len());
        }
        self.batches.push(
            jobs.iter()
                .map(|j| j.output.clone().unwrap_or_default())
                .collect(),
        );
        let iterations = jobs[0].iterations.unwrap();
        match self.script.pop_front().unwrap_or(Step::Make) {
            Step::Make => {}
            Step::Fail(kind, message) => {
                return Err(GenerateError::Failed {
                    kind,
                    message: message.into(),
                    traceback: "Traceback (most recent call last):\n  fake".into(),
                });
            }
            Step::Interrupt => {
                self.stop.store(true, Ordering::SeqCst);
                return Err(GenerateError::Interrupted);
            }
        }
        let seconds = self.seconds_per_iteration * f64::from(iterations);
        for i in 1..=iterations {
            progress.step(i, iterations, 0.5);
        }
        self.clock.advance(Duration::from_secs_f64(seconds));
        Ok(jobs
            .iter()
            .enumerate()
            .map(|(k, job)| {
                std::fs::write(job.output.as_ref().unwrap(), b"\x89PNG fake").unwrap();
                Generated {
                    seed: job.seed.unwrap_or(1000 + k as u64),
                    seconds,
                    final_loss: 0.25,
                    device: self.device.into(),
                    size: job.size.unwrap().to_vec(),
                    iterations,
                    batch_size: jobs.len() as u32,
                    method: "test-method".into(),
                    environment: Default::default(),
                }
            })
            .collect())
    }
}

/// One night on `shared` with `config` (runvqgan.toml's text) and `engine`: the exit code (or
/// the error) and every event.
fn night(
    shared: &Shared,
    config: &str,
    engine: &mut FakeEngine,
) -> (anyhow::Result<ExitCode>, Vec<Event>) {
    night_after(shared, config, engine, Speeds::default())
}

/// [`night`] after earlier runs that measured `speeds`.
fn night_after(
    shared: &Shared,
    config: &str,
    engine: &mut FakeEngine,
    speeds: Speeds,
) -> (anyhow::Result<ExitCode>, Vec<Event>) {
    let root = Root::open(&shared.root()).unwrap();
    let config = Config::from_toml(config).unwrap();
    let clock = engine.clock.clone();
    let stop = engine.stop.clone();
    let recorder = Arc::new(Recorder::default());
    let now = clock.clone();
    let reporter = Reporter::new(
        vec![
            Box::new(ErrorFileSink {
                root: root.path().to_path_buf(),
            }),
            Box::new(recorder.clone()),
        ],
        move || now.now(),
    );
    let night = Night {
        root: &root,
        config: &config,
        budget: Budget::new(None, config.max_minutes, clock.now()),
        stop: &stop,
        clock: &*clock,
        reporter: &reporter,
        progress: Arc::new(Progress::hidden()),
        speeds,
        epilogue: None,
        queue_page: None,
    };
    let code = night::run(night, engine);
    (code, recorder.events())
}

fn task(text: &str, each: u32, iterations: u32) -> String {
    format!(
        r#"{{"text": "{text}", "each": {each}, "iterations": {iterations}, "out_file": "{text}", "resolution": [32, 32], "seed": 1}}"#
    )
}

fn fresh() -> (Shared, Arc<FakeClock>, Arc<AtomicBool>) {
    (
        Shared::new(),
        FakeClock::new(),
        Arc::new(AtomicBool::new(false)),
    )
}

/// The text of the file `rel` under the root.
fn read(s: &Shared, rel: &str) -> String {
    std::fs::read_to_string(s.root().join(rel)).unwrap()
}

fn count(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

fn finished(events: &[Event]) -> (Outcome, usize, u8) {
    match events.last() {
        Some(Event::RunFinished {
            outcome,
            images,
            exit_code,
            ..
        }) => (*outcome, *images, *exit_code),
        other => panic!("the last event is not run_finished: {other:?}"),
    }
}

#[test]
fn images_are_made_in_batches_of_max_batch_and_the_task_is_marked_done() {
    let (s, clock, stop) = fresh();
    s.write("tasks/sea.txt", task("sea", 5, 4));
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    let (code, events) = night(&s, "max_batch = 2", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Success);
    assert_eq!(engine.sizes(), [2, 2, 1]);
    assert_eq!(engine.started, 1);
    for n in 1..=5 {
        assert!(s.exists(&format!("output/sea_{n}.png")));
        let sidecar = read(&s, &format!("output/sea_{n}.txt"));
        assert!(sidecar.contains(&format!("# image: {n} of 5")), "{sidecar}");
        assert!(!s.exists(&format!("output/.sea_{n}.runvqgan-pending")));
    }
    assert!(s.exists("tasks/sea.txt.done") && !s.exists("tasks/sea.txt"));
    assert_eq!(
        count(&events, |e| matches!(e, Event::ImageWritten { .. })),
        5
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::TaskDone { task, renamed_to }
        if task == "tasks/sea.txt" && renamed_to == "tasks/sea.txt.done"))
    );
    assert_eq!(finished(&events), (Outcome::Finished, 5, 0));
}

#[test]
fn without_max_batch_a_gpu_takes_four_images_at_a_time_and_the_cpu_one() {
    for (device, sizes) in [("cuda:0", vec![4, 1]), ("cpu", vec![1; 5])] {
        let (s, clock, stop) = fresh();
        s.write("tasks/sea.txt", task("sea", 5, 2));
        let mut engine = FakeEngine::new(device, &clock, &stop);
        let (code, _) = night(&s, "", &mut engine);
        assert_eq!(code.unwrap(), ExitCode::Success);
        assert_eq!(engine.sizes(), sizes, "{device}");
    }
}

#[test]
fn a_batch_out_of_memory_is_halved_for_the_rest_of_the_night() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 4, 2));
    s.set_mtime("tasks/a.txt", 1);
    s.write("tasks/b.txt", task("b", 2, 2));
    s.set_mtime("tasks/b.txt", 2);
    let mut engine = FakeEngine::new("cuda", &clock, &stop)
        .then(Step::Fail(FailureKind::OutOfMemory, "CUDA out of memory"));
    let (code, events) = night(&s, "max_batch = 4", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Success);
    // 4 failed; then batches of 2 for the rest of task a and for task b.
    assert_eq!(engine.sizes(), [4, 2, 2, 2]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::BatchSplit { from: 4, to: 2, .. }))
    );
    assert!(s.exists("tasks/a.txt.done") && s.exists("tasks/b.txt.done"));
    assert!(!s.exists("tasks/a_ERROR.txt"));
}

#[test]
fn a_single_image_out_of_memory_fails_its_task_with_a_hint_and_the_night_goes_on() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 2, 2));
    s.set_mtime("tasks/a.txt", 1);
    s.write("tasks/b.txt", task("b", 1, 2));
    s.set_mtime("tasks/b.txt", 2);
    let mut engine = FakeEngine::new("cuda", &clock, &stop)
        .then(Step::Make)
        .then(Step::Fail(FailureKind::OutOfMemory, "CUDA out of memory"));
    let (code, events) = night(&s, "max_batch = 1", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Partial);
    let error = read(&s, "tasks/a_ERROR.txt");
    assert!(error.contains("While making output/a_2.png"), "{error}");
    assert!(
        error.contains("ran out of memory at 32 x 32 pixels"),
        "{error}"
    );
    assert!(s.exists("output/a_1.txt") && !s.exists("output/a_2.png"));
    assert!(s.exists("tasks/a.txt"), "not done");
    assert!(s.exists("tasks/b.txt.done"), "the next task still runs");
    assert!(events.iter().any(|e| matches!(e, Event::TaskFailed { kind: FailureKind::OutOfMemory, task, .. } if task == "tasks/a.txt")));
    assert!(!events.iter().any(|e| matches!(e, Event::BatchSplit { .. })));
}

#[test]
fn out_of_memory_is_known_by_its_kind_not_by_its_message() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 2, 2));
    let mut engine = FakeEngine::new("cuda", &clock, &stop).then(Step::Fail(
        FailureKind::Engine,
        "CUDA out of memory (but not classified so)",
    ));
    let (code, events) = night(&s, "max_batch = 2", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Partial);
    assert_eq!(engine.sizes(), [2], "not split");
    let error = read(&s, "tasks/a_ERROR.txt");
    assert!(
        error.contains("runvqgan.log"),
        "the owner's problem: {error}"
    );
    assert!(events.iter().any(|e| matches!(e, Event::ImageFailed { kind: FailureKind::Engine, traceback, .. } if traceback.contains("fake"))));
}

#[test]
fn a_member_input_failure_tells_the_member_which_fields_to_check() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 1, 2));
    let mut engine = FakeEngine::new("cpu", &clock, &stop).then(Step::Fail(
        FailureKind::MemberInput,
        "FileNotFoundError: stone.png",
    ));
    let (code, _) = night(&s, "", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Partial);
    let error = read(&s, "tasks/a_ERROR.txt");
    assert!(error.contains("FileNotFoundError: stone.png"), "{error}");
    assert!(error.contains("\"in_file\""), "{error}");
}

#[test]
fn the_time_budget_stops_before_an_image_that_would_end_too_late() {
    let (s, clock, stop) = fresh();
    // 10 iterations at 2 s each: 20 s an image, 60 s of budget.
    s.write("tasks/a.txt", task("a", 5, 10));
    s.set_mtime("tasks/a.txt", 1);
    s.write("tasks/b.txt", task("b", 1, 10));
    s.set_mtime("tasks/b.txt", 2);
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    engine.seconds_per_iteration = 2.0;
    let (code, events) = night(&s, "max_minutes = 1", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Success);
    // 0 s: unmeasured, starts; 20 s: 20 s left, fits; 40 s: 20 s needed, 20 left, fits;
    // 60 s: used up.
    assert_eq!(engine.sizes(), [1, 1, 1]);
    assert!(s.exists("tasks/a.txt") && s.exists("tasks/b.txt"));
    let Some(Event::BudgetReached { reason, left }) = events
        .iter()
        .find(|e| matches!(e, Event::BudgetReached { .. }))
    else {
        panic!("no budget_reached: {events:?}")
    };
    assert!(reason.contains("max_minutes"), "{reason}");
    assert_eq!(
        left,
        &[
            "tasks/a.txt (some of its images)",
            "tasks/b.txt (1 image(s))"
        ]
    );
    assert_eq!(finished(&events), (Outcome::BudgetReached, 3, 0));
}

#[test]
fn the_pause_between_tasks_is_waited_and_counted_against_the_time_budget() {
    let (s, clock, stop) = fresh();
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        s.write(&format!("tasks/{name}.txt"), task(name, 1, 10));
        s.set_mtime(&format!("tasks/{name}.txt"), i as u64);
    }
    let start = clock.now();
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    // a: 0-10 s; pause 25 s; b: 35-45 s; a pause to 70 s would pass the end (60 s).
    let (code, events) = night(&s, "max_minutes = 1\ndelay_seconds = 25", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Success);
    assert_eq!(engine.sizes(), [1, 1]);
    assert!(s.exists("tasks/a.txt.done") && s.exists("tasks/b.txt.done"));
    assert!(s.exists("tasks/c.txt"));
    assert_eq!(
        clock.now().duration_since(start).unwrap(),
        Duration::from_secs(45)
    );
    let Some(Event::BudgetReached { reason, left }) = events
        .iter()
        .find(|e| matches!(e, Event::BudgetReached { .. }))
    else {
        panic!("no budget_reached: {events:?}")
    };
    assert!(reason.contains("delay_seconds"), "{reason}");
    assert_eq!(left, &["tasks/c.txt (1 image(s))"]);
}

#[test]
fn a_pause_of_more_than_an_hour_is_a_configuration_error() {
    let config = Config::from_toml("delay_seconds = 3601").unwrap();
    let err = anyhow::Error::from(night::check_delay(&config).unwrap_err());
    assert_eq!(exit_code_for(&err), ExitCode::Usage);
    assert!(format!("{err}").contains("delay_seconds"), "{err}");
    assert!(night::check_delay(&Config::from_toml("delay_seconds = 3600").unwrap()).is_ok());
}

#[test]
fn an_interrupt_keeps_the_finished_batches_and_the_next_night_makes_only_the_missing_images() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 3, 2));
    s.set_mtime("tasks/a.txt", 1);
    s.write("tasks/b.txt", task("b", 1, 2));
    s.set_mtime("tasks/b.txt", 2);
    let mut engine = FakeEngine::new("cpu", &clock, &stop)
        .then(Step::Make)
        .then(Step::Interrupt);
    let (code, events) = night(&s, "max_batch = 1", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Interrupted);
    assert!(events.iter().any(|e| matches!(e, Event::Interrupted {})));
    assert_eq!(finished(&events), (Outcome::Interrupted, 1, 130));
    assert!(s.exists("output/a_1.txt") && !s.exists("output/a_2.png"));
    assert!(s.exists("tasks/a.txt") && s.exists("tasks/b.txt"));
    // The numbers of the missing images stay reserved for the task.
    assert!(s.exists("output/.a_2.runvqgan-pending"));
    assert!(s.exists("output/.a_3.runvqgan-pending"));

    stop.store(false, Ordering::SeqCst);
    let mut again = FakeEngine::new("cpu", &clock, &stop);
    let (code, _) = night(&s, "max_batch = 1", &mut again);
    assert_eq!(code.unwrap(), ExitCode::Success);
    let made: Vec<Vec<String>> = again
        .batches
        .iter()
        .map(|b| {
            b.iter()
                .map(|o| o.rsplit('/').next().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(made, [["a_2.png"], ["a_3.png"], ["b_1.png"]]);
    let third = read(&s, "output/a_3.txt");
    assert!(third.contains("# image: 3 of 3"), "{third}");
    assert!(s.exists("tasks/a.txt.done") && s.exists("tasks/b.txt.done"));
}

#[test]
fn a_stop_before_the_first_task_ends_with_130_and_starts_no_engine() {
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 1, 2));
    stop.store(true, Ordering::SeqCst);
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    let (code, _) = night(&s, "", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Interrupted);
    assert_eq!(engine.started, 0);
}

#[test]
fn a_task_changed_while_it_runs_keeps_its_images_and_is_not_marked_done() {
    let (s, clock, stop) = fresh();
    let path = s.write("tasks/a.txt", task("a", 3, 2));
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    engine.before = Some(Box::new(move |batch| {
        if batch == 1 {
            std::fs::write(&path, task("a", 1, 5)).unwrap();
        }
    }));
    let (code, events) = night(&s, "max_batch = 1", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Success);
    assert_eq!(engine.sizes(), [1, 1], "the third batch is not started");
    assert!(s.exists("tasks/a.txt") && !s.exists("tasks/a.txt.done"));
    assert!(events.iter().any(|e| matches!(e, Event::TaskChanged { reason, all_made: false, .. } if reason.contains("changed while it ran"))));
}

#[test]
fn invalid_tasks_get_error_files_exit_3_and_start_no_engine() {
    let (s, clock, stop) = fresh();
    s.write(
        "tasks/bad.txt",
        r#"{"text": "x", "iteration": 3, "out_file": "x"}"#,
    );
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    let (code, events) = night(&s, "", &mut engine);
    assert_eq!(code.unwrap(), ExitCode::Partial);
    assert_eq!(engine.started, 0);
    let error = read(&s, "tasks/bad_ERROR.txt");
    assert!(error.contains("did you mean `iterations`?"), "{error}");
    assert!(events.iter().any(|e| matches!(e, Event::TaskInvalid { error_file, .. } if error_file == "tasks/bad_ERROR.txt")));
    assert_eq!(finished(&events), (Outcome::Finished, 0, 3));
}

#[test]
fn an_engine_that_cannot_start_fails_the_run_with_exit_code_1() {
    struct Broken;
    impl Generator for Broken {
        fn start(&mut self) -> anyhow::Result<ModelInfo> {
            anyhow::bail!("no such checkpoint")
        }
        fn generate(
            &mut self,
            _: &[Job],
            _: Arc<dyn ProgressSink>,
        ) -> Result<Vec<Generated>, GenerateError> {
            unreachable!("never started")
        }
    }
    let (s, clock, _) = fresh();
    s.write("tasks/a.txt", task("a", 1, 2));
    let root = Root::open(&s.root()).unwrap();
    let config = Config::default();
    let stop = AtomicBool::new(false);
    let reporter = Reporter::new(Vec::new(), SystemTime::now);
    let night = Night {
        root: &root,
        config: &config,
        budget: Budget::new(None, None, clock.now()),
        stop: &stop,
        clock: &*clock,
        reporter: &reporter,
        progress: Arc::new(Progress::hidden()),
        speeds: Speeds::default(),
        epilogue: None,
        queue_page: None,
    };
    let err = night::run(night, &mut Broken).unwrap_err();
    assert_eq!(exit_code_for(&err), ExitCode::Failure);
    assert!(s.exists("tasks/a.txt"));
}

#[test]
fn the_first_image_of_a_run_is_judged_by_the_speed_earlier_runs_measured() {
    // One image of 50 iterations, a budget of one minute. The fake engine would take 50 s,
    // but earlier runs measured 2 s per iteration for this size on this device: 100 s.
    let mut slow = Speeds::default();
    slow.per_iteration
        .insert(key("default", "cpu", [32, 32]), 2.0);

    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 1, 50));
    let mut engine = FakeEngine::new("cpu", &clock, &stop);
    let (code, events) = night_after(&s, "max_minutes = 1", &mut engine, slow.clone());
    assert_eq!(code.unwrap(), ExitCode::Success);
    assert!(engine.batches.is_empty(), "the image was started");
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::BudgetReached { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("the budget stops the run");
    assert!(reason.contains("about 100 s"), "{reason}");
    assert_eq!(finished(&events).0, Outcome::BudgetReached);

    // Measured on another device, or for no size at all: the image is assumed to fit.
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 1, 50));
    let mut engine = FakeEngine::new("cuda:0", &clock, &stop);
    let (code, _) = night_after(&s, "max_minutes = 1", &mut engine, slow);
    assert_eq!(code.unwrap(), ExitCode::Success);
    assert_eq!(engine.sizes(), [1]);
    assert!(s.exists("tasks/a.txt.done"));
}

#[test]
fn a_batch_is_judged_by_its_images_share_of_the_stored_speed() {
    // Two images together on a GPU: each measured at 0.4 s per iteration, so the batch of
    // two needs 0.8 s per iteration: 80 s for 100 iterations, more than the minute.
    let mut speeds = Speeds::default();
    speeds
        .per_iteration
        .insert(key("default", "cuda:0", [32, 32]), 0.4);
    let (s, clock, stop) = fresh();
    s.write("tasks/a.txt", task("a", 2, 100));
    let mut engine = FakeEngine::new("cuda:0", &clock, &stop);
    let (_, events) = night_after(&s, "max_minutes = 1\nmax_batch = 2", &mut engine, speeds);
    assert!(engine.batches.is_empty());
    assert_eq!(finished(&events).0, Outcome::BudgetReached);
}
