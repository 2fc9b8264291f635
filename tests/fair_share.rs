//! The night shared fairly by GPU time, and reruns: written as the members' task files and
//! what the members then see (`plan`, `status`, the images, the sidecars, the queue page).
//! Nights run with a fake engine and a fake clock behind the `Generator` seam (as in
//! tests/orchestration.rs); no Python starts.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::Shared;
use runvqgan::call::job::Job;
use runvqgan::config::Config;
use runvqgan::engine::{GenerateError, Generated, ModelInfo, ProgressSink};
use runvqgan::night::budget::{Budget, Clock};
use runvqgan::night::{self, Generator, Night};
use runvqgan::process::exit_codes::ExitCode;
use runvqgan::queue::tonight::QueueNow;
use runvqgan::records::events::Reporter;
use runvqgan::records::progress::Progress;
use runvqgan::records::speeds::Speeds;
use runvqgan::shared_folder::root::Root;

/// A clock that moves only when the fake engine works.
struct FakeClock(Mutex<SystemTime>);

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

/// An engine on the CPU that takes one second per iteration of the fake clock and records
/// the order of the images it makes.
struct FakeEngine {
    clock: Arc<FakeClock>,
    made: Vec<String>,
}

impl Generator for FakeEngine {
    fn start(&mut self) -> anyhow::Result<ModelInfo> {
        Ok(ModelInfo {
            vqgan_kind: "VQModel".into(),
            factor: 16,
            n_embed: 16,
            embed_dim: 8,
            clip_model: "fake".into(),
            clip_resolution: 32,
            device: "cpu".into(),
            load_seconds: 0.5,
            loaded: true,
        })
    }

    fn generate(
        &mut self,
        jobs: &[Job],
        _progress: Arc<dyn ProgressSink>,
    ) -> Result<Vec<Generated>, GenerateError> {
        let iterations = jobs[0].iterations.unwrap();
        self.clock.sleep(Duration::from_secs(u64::from(iterations)));
        Ok(jobs
            .iter()
            .map(|job| {
                let out = job.output.clone().unwrap();
                std::fs::write(&out, b"\x89PNG fake").unwrap();
                self.made.push(
                    std::path::Path::new(&out)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
                Generated {
                    seed: job.seed.unwrap_or(7),
                    seconds: f64::from(iterations),
                    final_loss: 0.25,
                    device: "cpu".into(),
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

/// One night on `s` with `config` (runvqgan.toml's text): the exit code and the images made,
/// in the order they were made.
fn night(s: &Shared, config: &str) -> (ExitCode, Vec<String>) {
    let (code, made, _) = night_with_pages(s, config);
    (code, made)
}

/// [`night`], and the queue page as it was before each turn.
fn night_with_pages(s: &Shared, config: &str) -> (ExitCode, Vec<String>, Vec<String>) {
    let root = Root::open(&s.root()).unwrap();
    let config = Config::from_toml(&format!("device = \"cpu\"\n{config}")).unwrap();
    let clock = Arc::new(FakeClock(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )));
    let mut engine = FakeEngine {
        clock: clock.clone(),
        made: Vec::new(),
    };
    let stop = AtomicBool::new(false);
    let now = clock.clone();
    let reporter = Reporter::new(Vec::new(), move || now.now());
    let pages = std::cell::RefCell::new(Vec::new());
    let show = |q: QueueNow<'_>| {
        if q.next < q.tonight.turns.len() {
            pages
                .borrow_mut()
                .push(runvqgan::gallery::queue::page(&q).unwrap());
        }
    };
    let night = Night {
        root: &root,
        config: &config,
        budget: Budget::new(None, config.max_minutes, clock.now()),
        stop: &stop,
        clock: &*clock,
        reporter: &reporter,
        progress: Arc::new(Progress::hidden()),
        speeds: Speeds::load(root.path()),
        epilogue: None,
        queue_page: Some(&show),
    };
    let code = night::run(night, &mut engine).unwrap();
    (code, engine.made, pages.into_inner())
}

fn image_task(out_file: &str, each: u32) -> String {
    format!(
        r#"{{"text": "{out_file}", "out_file": "{out_file}", "each": {each}, "iterations": 40, "resolution": [64, 48], "seed": 1}}"#
    )
}

/// Anna's one 25-image task (the oldest) and Ben's four 1-image tasks.
fn two_members() -> Shared {
    let s = Shared::new();
    s.write("runvqgan.toml", "device = \"cpu\"\n");
    s.write("anna/task_lighthouse.txt", image_task("lighthouse", 25));
    s.set_mtime("anna/task_lighthouse.txt", 0);
    for i in 1..=4 {
        let rel = format!("ben/task_cat{i}.txt");
        s.write(&rel, image_task(&format!("cat{i}"), 1));
        s.set_mtime(&rel, 10 + i);
    }
    s
}

/// Every image of `plan --json` with its turn: `(turn, output)`, in turn order.
fn planned_turns(s: &Shared) -> Vec<(u64, String)> {
    let plan = s.plan_json();
    let mut turns: Vec<(u64, String)> = plan
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["images"].as_array().unwrap().clone())
        .map(|i| {
            (
                i["turn"].as_u64().expect("every image has its turn"),
                i["output"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    turns.sort();
    turns
}

fn position(list: &[String], name: &str) -> Option<usize> {
    list.iter().position(|o| o.ends_with(name))
}

#[test]
fn a_small_tasks_member_gets_their_four_images_before_the_big_tasks_tenth_in_a_ten_minute_night() {
    let s = two_members();
    // plan shows the order beforehand: Ben's images alternate with Anna's first ones.
    let planned: Vec<String> = planned_turns(&s).into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        &planned[..9],
        [
            "anna/lighthouse_1.png",
            "ben/cat1_1.png",
            "anna/lighthouse_2.png",
            "ben/cat2_1.png",
            "anna/lighthouse_3.png",
            "ben/cat3_1.png",
            "anna/lighthouse_4.png",
            "ben/cat4_1.png",
            "anna/lighthouse_5.png",
        ]
    );
    let tenth = position(&planned, "lighthouse_10.png").unwrap();
    for i in 1..=4 {
        assert!(position(&planned, &format!("cat{i}_1.png")).unwrap() < tenth);
    }

    // The night (40 s per image, 10 minutes) follows it.
    let (code, made) = night(&s, "max_minutes = 10");
    assert_eq!(code, ExitCode::Success);
    assert!(made.len() < 29, "the budget stops the night: {made:?}");
    let names: Vec<&str> = planned
        .iter()
        .map(|o| o.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(made, names[..made.len()], "the night follows the plan");
    for i in 1..=4 {
        assert!(s.exists(&format!("ben/cat{i}_1.png")));
        assert!(s.exists(&format!("ben/task_cat{i}.txt.done")));
    }
    let anna_10th = position(&made, "lighthouse_10.png").unwrap_or(usize::MAX);
    assert!(position(&made, "cat4_1.png").unwrap() < anna_10th);
    // Anna's task is not done; the next night makes only what is missing, and says so.
    assert!(s.exists("anna/task_lighthouse.txt"));
    let anna = s.planned("anna/task_lighthouse.txt");
    assert_eq!(
        anna["history"],
        format!("resuming: {} of 25 made earlier", made.len() - 4)
    );
    assert_eq!(
        anna["images"].as_array().unwrap().len(),
        25 - (made.len() - 4)
    );
}

#[test]
fn an_invalid_task_costs_its_member_nothing() {
    let s = two_members();
    let before = planned_turns(&s);
    s.write("ben/task_typo.txt", r#"{"text": "cat", "out_flie": "x"}"#);
    s.set_mtime("ben/task_typo.txt", 1);
    assert_eq!(planned_turns(&s), before);
}

#[test]
fn the_priority_folder_goes_first() {
    let s = two_members();
    s.write("tasks/urgent/task_poster.txt", image_task("poster", 2));
    s.write(
        "runvqgan.toml",
        "device = \"cpu\"\npriority_folder = \"tasks/urgent\"\n",
    );
    let planned: Vec<String> = planned_turns(&s).into_iter().map(|(_, o)| o).collect();
    assert_eq!(planned[..2], ["output/poster_1.png", "output/poster_2.png"]);
    assert_eq!(planned[2], "anna/lighthouse_1.png");
}

#[test]
fn with_measured_speeds_plan_and_status_give_start_and_finish_times() {
    let s = two_members();
    s.write(
        ".runvqgan/speeds.json",
        r#"{"per_iteration": {"default@cpu@64x48": 0.5}, "startup": {"default@cpu": 10.0}, "last_device": {"default": "cpu"}}"#,
    );
    let plan = s.plan_json();
    let starts: Vec<f64> = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "ben/task_cat2.txt")
        .unwrap()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["start_seconds"].as_f64().unwrap())
        .collect();
    // After the start (10 s) and three images of 20 s: lighthouse_1, cat1, lighthouse_2.
    assert_eq!(starts, [70.0]);
    let text = s
        .cmd()
        .args(["plan", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("+0:01:10  ben/task_cat2.txt  image 1 of 1"),
        "{text}"
    );

    let out = s
        .cmd()
        .args(["status", "--json", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finish = |m: &str| {
        status["queue"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["member"] == m)
            .unwrap()["finish_seconds"]
            .as_f64()
            .unwrap()
    };
    // Ben is done after his fourth image (turn 8: 10 + 8 * 20 s), Anna after all 29.
    assert_eq!(finish("ben"), 170.0);
    assert_eq!(finish("anna"), 590.0);
    let out = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("4 task(s), 4 image(s), done about 3 min after the night's start"),
        "{text}"
    );
}

#[test]
fn a_done_task_renamed_back_is_made_anew_under_new_numbers() {
    let s = Shared::new();
    s.write("anna/task_dog.txt", image_task("dog", 2));
    let (_, made) = night(&s, "");
    assert_eq!(made, ["dog_1.png", "dog_2.png"]);
    assert!(s.exists("anna/task_dog.txt.done"));

    // Later (a rename sets the file's change time, at the kernel clock's resolution).
    std::thread::sleep(Duration::from_millis(50));
    std::fs::rename(
        s.root().join("anna/task_dog.txt.done"),
        s.root().join("anna/task_dog.txt"),
    )
    .unwrap();
    let planned = s.planned("anna/task_dog.txt");
    assert_eq!(
        planned["history"],
        "rerun of a done task (request 2): its images are made anew"
    );
    let outputs: Vec<&str> = planned["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["output"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, ["anna/dog_3.png", "anna/dog_4.png"]);

    let (_, made) = night(&s, "");
    assert_eq!(made, ["dog_3.png", "dog_4.png"]);
    assert!(s.exists("anna/task_dog.txt.done"));
    assert!(s.read("anna/dog_1.txt").contains("\n# request: 1\n"));
    assert!(
        s.read("anna/dog_3.txt").contains(
            "\n# request: 2 (rerun of a done task (request 2): its images are made anew)\n"
        )
    );
}

#[test]
fn a_task_stopped_by_the_budget_resumes_with_only_its_missing_images() {
    let s = Shared::new();
    s.write("anna/task_dog.txt", image_task("dog", 3));
    // 40 s per image: one fits in a minute.
    let (_, made) = night(&s, "max_minutes = 1");
    assert_eq!(made, ["dog_1.png"]);
    assert_eq!(
        s.planned("anna/task_dog.txt")["history"],
        "resuming: 1 of 3 made earlier"
    );
    let (_, made) = night(&s, "");
    assert_eq!(made, ["dog_2.png", "dog_3.png"]);
    assert!(s.exists("anna/task_dog.txt.done"));
    assert!(
        s.read("anna/dog_2.txt")
            .contains("\n# request: 1 (resuming: 1 of 3 made earlier)\n")
    );
}

#[test]
fn the_queue_page_shows_each_members_order_and_invalid_tasks_escaped() {
    let s = two_members();
    s.write(
        "ben/task_<script>alert(1)<!--.txt",
        r#"{"text": "cat", "out_flie": "x"}"#,
    );
    s.write("runvqgan.toml", "device = \"cpu\"\ngallery = true\n");
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    let page = s.read("gallery/queue.html");
    // Text as the page holds it: HTML-escaped (minijinja escapes `/` too).
    let html = |text: &str| text.replace('/', "&#x2f;");
    assert!(page.contains(&html("anna/task_lighthouse.txt")));
    assert!(page.contains(&html("ben/task_cat4.txt")));
    assert!(page.contains("did you mean `out_file`?"));
    assert!(!page.contains("<script>alert") && !page.contains("<!--"));
    assert!(
        page.contains(&html("ben/task_&lt;script&gt;alert(1)&lt;!--.txt")),
        "escaped"
    );
    // Ben's tasks come in tonight's order, Anna is listed first (her task waited longest).
    let (anna, ben) = (
        page.find("anna</span>").unwrap(),
        page.find("ben</span>").unwrap(),
    );
    assert!(anna < ben);
    let cats: Vec<usize> = (1..=4)
        .map(|i| page.find(&html(&format!("ben/task_cat{i}.txt"))).unwrap())
        .collect();
    assert!(cats.windows(2).all(|w| w[0] < w[1]));
    // Offline: nothing is loaded from elsewhere.
    assert!(!page.contains("http://") && !page.contains("https://"));
    let again = s.check();
    assert_eq!(again.0, 0);
    assert_eq!(
        s.read("gallery/queue.html"),
        page,
        "unchanged queue, same page"
    );
}

#[test]
fn during_the_night_the_queue_page_shows_what_is_being_made_and_what_waits() {
    let s = two_members();
    let (_, made, pages) = night_with_pages(&s, "max_minutes = 10");
    assert!(made.len() > 9);
    assert_eq!(
        pages.len(),
        9,
        "a page before each turn: eight alternate, then Anna's turns follow each other"
    );
    let html = |text: &str| text.replace('/', "&#x2f;");
    // Before the second turn: Ben's first cat is being made, Anna's task waits.
    let second = &pages[1];
    let now = &second[second.find("Being made now").unwrap()..];
    assert!(
        now.starts_with("Being made now</h2>\n  <p><span class=\"task\">ben&#x2f;task_cat1.txt")
    );
    assert!(now.contains("image 1 of 1, since"));
    assert!(second.contains(&html("anna/task_lighthouse.txt")));
    assert!(second.contains("The night started at"));
    // Before the ninth turn Ben has nothing left, and Anna's remaining turns are made now.
    assert!(!pages[8].contains(&html("ben/task_cat")));
    assert!(pages[8].contains("images 5-25 of 25, since"));
}

/// The local hour now, and `hours` later.
fn local_hour_in(hours: i64) -> u32 {
    let secs = (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + hours * 3600) as libc::time_t;
    // SAFETY: localtime_r fills in the plain struct `tm` from `secs`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        assert!(!libc::localtime_r(&secs, &mut tm).is_null());
        tm.tm_hour as u32
    }
}

#[test]
fn with_a_night_window_status_and_the_queue_page_give_clock_times_from_its_start() {
    let s = two_members();
    s.write(
        ".runvqgan/speeds.json",
        r#"{"per_iteration": {"default@cpu@64x48": 0.5}, "startup": {"default@cpu": 10.0}, "last_device": {"default": "cpu"}}"#,
    );
    // A window that starts in two hours: the next night starts then.
    let (start, end) = (local_hour_in(2), local_hour_in(3));
    s.write(
        "runvqgan.toml",
        format!("device = \"cpu\"\ngallery = true\nwindow = \"{start:02}:00-{end:02}:00\"\n"),
    );
    let out = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // Ben is done 170 s after the start, Anna 590 s after.
    assert!(
        text.contains(&format!(
            "4 task(s), 4 image(s), done by about {start:02}:02"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("done by about {start:02}:09")),
        "{text}"
    );
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    let page = s.read("gallery/queue.html");
    assert!(
        page.contains(&format!("for the night that starts at {start:02}:00")),
        "{page}"
    );
    assert!(page.contains(&format!("about {start:02}:02")), "{page}");
}

/// The daytime check plans the night for the queue page again only when something on it
/// changed: with nothing changed it leaves the page alone (here a page replaced by hand stays),
/// and a new task, an image made in an output folder, or a folder that makes an invalid task
/// valid each bring it up to date.
#[test]
fn the_queue_page_is_made_again_only_when_what_it_shows_changed() {
    let s = two_members();
    s.write("runvqgan.toml", "device = \"cpu\"\ngallery = true\n");
    s.write(
        "ben/task_owl.txt",
        r#"{"text": "owl", "out_file": "owl", "out_folder": "ben/owls"}"#,
    );
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    let page = s.read("gallery/queue.html");
    assert!(page.contains("owls"), "the invalid task is listed: {page}");
    assert!(s.exists(".runvqgan/queue-page.inputs"));

    // Nothing changed: the page is not made again.
    s.write("gallery/queue.html", "marker");
    s.check();
    assert_eq!(s.read("gallery/queue.html"), "marker");

    // A new task.
    s.write("ben/task_cat5.txt", image_task("cat5", 1));
    s.check();
    let page = s.read("gallery/queue.html");
    assert!(page.contains("task_cat5.txt"), "{page}");

    // The folder the invalid task names appears: it is valid now, and waits.
    s.write("gallery/queue.html", "marker");
    s.mkdir("ben/owls");
    s.check();
    let page = s.read("gallery/queue.html");
    assert!(
        page.contains("task_owl.txt") && !page.contains("Not run until fixed"),
        "{page}"
    );

    // An image of a waiting task appears in its output folder (another run made it).
    s.write("gallery/queue.html", "marker");
    s.write("ben/cat5_1.png", b"png");
    s.check();
    assert_ne!(s.read("gallery/queue.html"), "marker");
}
