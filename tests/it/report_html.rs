//! `costjob report --html` (SPEC 11): the page is self-contained (it loads
//! nothing and runs no script), carries every section with exact figures, and
//! renders in a real browser (Debian's headless Chromium, which the test
//! command installs) to a non-blank page with the charts drawn.

use std::path::{Path, PathBuf};
use std::process::Command;

use costjob::output::BatchExt;

use crate::helpers::*;

/// Writes the HTML report of `days` (report arguments) over the root `out`.
fn html_report(config: &Path, out: &Path, days: &[&str]) -> String {
    let file = out.with_file_name("report.html");
    let args = [&["--html", file.to_str().unwrap()], days].concat();
    let o = read_command("report", config, out, &args);
    assert!(o.status.success(), "{days:?}: {}", stderr(&o));
    std::fs::read_to_string(file).unwrap()
}

/// The demo day run into `dir/out` and its HTML report (at `dir/report.html`).
fn demo_html_report(dir: &Path) -> (PathBuf, String) {
    let out = dir.join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let html = html_report(
        &repo().join("examples/costjob.toml"),
        &out,
        &["--date", DEMO_DATE],
    );
    (out, html)
}

/// Nothing that would make a browser fetch or run anything.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for needle in [
        "http:", "https:", "//", "<script", "<link", "<img", "<iframe", "<object", "<embed",
        "src=", "href=", "url(", "@import", "xlink",
    ] {
        let hit = lower
            .find(needle)
            .map(|i| &html[i.saturating_sub(60)..(i + 60).min(html.len())]);
        assert!(
            hit.is_none(),
            "external reference {needle:?}: ...{}...",
            hit.unwrap()
        );
    }
}

#[test]
fn the_demo_days_html_report_is_self_contained_with_every_section_and_exact_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, html) = demo_html_report(tmp.path());
    assert_self_contained(&html);
    for title in [
        "Unit cost per flow",
        "Cost of each flow by AWS service",
        "Per-transaction cost distribution, 2026-11-23",
        "CUR total by day: allocated, unallocated, excluded, out of scope",
        "Unallocated cost by reason and AWS service",
        "Reconciliation",
        "What the logs held",
    ] {
        assert!(html.contains(&format!(">{title}<")), "no {title:?}");
    }
    // The day report's per-success cost and the pricing model's drift, as
    // the terminal report computes them.
    let config = repo().join("examples/costjob.toml");
    let csv = stdout(&read_command(
        "report",
        &config,
        &out,
        &["--date", DEMO_DATE, "--format", "csv"],
    ));
    let pago = csv
        .lines()
        .find(|l| l.starts_with("monetary,pago,"))
        .unwrap();
    let cells: Vec<&str> = pago.split(',').collect();
    let drift: f64 = cells[14].parse().unwrap();
    assert!(html.contains(">per success<") && html.contains(">bill vs model<"));
    assert!(
        html.contains(&format!(">{drift:+.1}%<")),
        "{drift} in the page"
    );
    // Services by their names, flows in plain words (no product codes, no
    // "unclassified (unclassified)").
    for name in [
        "AWS Support (Business)",
        "Data transfer",
        "Amazon RDS (Aurora)",
    ] {
        assert!(html.contains(name), "{name}");
    }
    for code in [
        ">awskms<",
        ">AWSDataTransfer<",
        "unclassified (unclassified)",
    ] {
        assert!(!html.contains(code), "{code} on the page");
    }
    // One definition of the unallocated share, the alarm's: of the cost to
    // split (0.2473508910 / (96.0451118634 + 0.2473508910)), not of the bill.
    assert!(
        html.contains(">0.26% of the cost to split<"),
        "the unallocated card"
    );
    assert!(
        html.contains("$0.2474 (0.26% of the cost to split"),
        "the section"
    );
    // The card names what the configuration excluded (the demo: tax and
    // credits), never a type it allocated (the Support fee, a `Fee`).
    assert!(
        html.contains(">Credit, Tax: not split<"),
        "the excluded card"
    );
    assert!(
        !html.contains("fees: not split"),
        "the Support fee is allocated"
    );
    // Every chart has a title and a value axis in USD.
    let charts = html.matches("<svg").count();
    assert_eq!(charts, 5, "charts");
    assert_eq!(
        html.matches("<title>").count() - 1,
        charts + html.matches("</title></rect>").count() + html.matches("</title></path>").count()
    );
    assert!(html.matches(">USD per transaction<").count() >= 2);
    // The reconciliation identity, printed exactly, from the published row.
    let recon = table(&out, "reconciliation", DEMO_DATE);
    for column in [
        "cur_total_usd",
        "allocated_usd",
        "unallocated_usd",
        "excluded_usd",
    ] {
        let exact = costjob::model::money::format_usd(recon.money(column, 0).unwrap().unwrap());
        assert!(html.contains(&format!(">${exact}<")), "{column} {exact}");
    }
    assert!(html.contains(">$0.0000000000<") && html.contains(">holds exactly<"));
    // Each flow's figures, for people: thousands separators, cents, 6-place unit costs.
    let summary = table(&out, "flow_summary", DEMO_DATE);
    for i in 0..summary.num_rows() {
        let unit = costjob::model::money::format_usd_rounded(
            summary.money("unit_cost_usd", i).unwrap().unwrap(),
            6,
        );
        assert!(html.contains(&format!(">${unit}<")), "unit cost {unit}");
    }
    assert!(
        html.contains(">1,999<"),
        "transactions with a thousands separator"
    );
    assert!(
        html.contains(">8,076<"),
        "log lines with a thousands separator"
    );
    // The unallocated pool is listed with its reason.
    let unallocated = table(&out, "unallocated", DEMO_DATE);
    let reason = unallocated.text("reason", 0).unwrap();
    assert!(html.contains(&format!(">{reason}<")), "{reason}");
}

/// A range: one line per flow over the days, a day never published named, and
/// the reconciliation summed over the days still an exact identity.
#[test]
fn a_ranges_html_report_draws_a_line_per_flow_and_names_the_days_not_published() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo().join("examples/costjob.toml")).unwrap();
    let config = demo
        .replace("path = \"data/cur\"", "path = \"data\"")
        .replace("path = \"data/logs\"", "path = \"logs/{date}\"")
        .replace("path = \"../out\"", "path = \"out\"")
        .replace(
            "path = \"../pricing\"",
            &format!("path = {:?}", repo().join("pricing")),
        );
    assert_ne!(config, demo);
    let config_path = tmp.path().join("costjob.toml");
    std::fs::write(&config_path, config).unwrap();
    let out = tmp.path().join("out");
    for day in ["2026-11-20", "2026-11-21", "2026-11-23"] {
        // Each day's CUR beside the others (the reader picks the day's rows),
        // its logs under logs/<day>.
        let data = tmp.path().join("data").join(day);
        let succeeds = |args: &[&str]| {
            let o = costjob(tmp.path(), args, &[]);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        };
        sample_day(&data, day, 400);
        std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
        std::fs::rename(data.join("logs"), tmp.path().join("logs").join(day)).unwrap();
        succeeds(&[
            "run",
            "--config",
            config_path.to_str().unwrap(),
            "--date",
            day,
        ]);
    }
    let html = html_report(
        &config_path,
        &out,
        &["--from", "2026-11-20", "--to", "2026-11-23"],
    );
    assert_self_contained(&html);
    assert!(
        html.contains("not published: 2026-11-22"),
        "missing day named"
    );
    assert!(html.contains(">Unit cost per flow and day (USD per transaction)<"));
    let flows = table(&out, "flow_summary", "2026-11-23").num_rows();
    assert_eq!(
        html.matches("stroke-width=\"2\"><title>").count(),
        flows,
        "one line per flow"
    );
    assert!(html.contains(">all days<"));
    assert_eq!(
        html.matches(">holds exactly<").count(),
        4,
        "three days and their sum"
    );
}

/// The browser: Debian's `chromium`, or `$CHROMIUM`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .expect(
            "chromium is not installed: the test command (tests/all.sh) installs Debian's chromium",
        )
}

/// Renders `html` headless to a PNG of `width` x `height`; the page may not
/// touch the network (the flags turn Chromium's own background traffic off).
pub fn screenshot(html: &Path, png: &Path, width: u32, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(
        o.status.success() && png.is_file(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_demo_days_html_report_renders_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    demo_html_report(tmp.path());
    let png = tmp.path().join("report.png");
    let (width, height) = (1024, 3100);
    screenshot(&tmp.path().join("report.html"), &png, width, height);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(
        (frame.width, frame.height),
        (width, height),
        "the page as laid out"
    );
    let channels = frame.color_type.samples();
    let rgb = |i: usize| {
        (
            pixels[i * channels],
            pixels[i * channels + 1],
            pixels[i * channels + 2],
        )
    };
    let n = (width * height) as usize;
    let ink = (0..n).filter(|&i| rgb(i) != (255, 255, 255)).count();
    // The bars and markers, drawn in the palette's first colour (#0072B2).
    let blue = (0..n).filter(|&i| rgb(i) == (0x00, 0x72, 0xB2)).count();
    // Text and charts from top to bottom: every tenth of the page has ink.
    let rows_with_ink = |from: u32, to: u32| {
        (from..to).any(|y| (0..width).any(|x| rgb((y * width + x) as usize) != (255, 255, 255)))
    };
    assert!(
        ink > n / 50,
        "the page is blank: {ink} non-white pixels of {n}"
    );
    assert!(
        blue > 5_000,
        "the charts were not drawn: {blue} pixels of the bar colour"
    );
    for tenth in 0..9 {
        let from = height * tenth / 10;
        assert!(
            rows_with_ink(from, from + height / 10),
            "nothing drawn in rows {from}.."
        );
    }
}

/// With nothing excluded, the page says so (it once said tax, credits and
/// fees were excluded whatever the configuration).
#[test]
fn the_excluded_card_follows_the_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo().join("examples/data");
    let config = write_config(
        tmp.path(),
        &demo.join("cur"),
        &demo.join("logs"),
        "cloudwatch-export",
        "[allocation]\nexclude_line_item_types = []\n",
    );
    let out = tmp.path().join("out");
    let o = costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let html = html_report(&config, &out, &["--date", DEMO_DATE]);
    assert!(
        html.contains(">nothing excluded: every line item type is split<"),
        "the excluded card"
    );
}

/// The demo day's published partitions copied to each of `days` under
/// `out`; from `step_from` on, the `pago` flow's unit cost (and cost) 4% higher.
fn thirty_days_with_a_step(out: &Path, days: &[String], step_from: usize) {
    use arrow_array::{Array, ArrayRef, Decimal128Array, RecordBatch};
    let demo = out.with_file_name("demo-out");
    assert!(run_demo(&demo, &[], &[]).status.success());
    for (i, day) in days.iter().enumerate() {
        for table in std::fs::read_dir(&demo).unwrap() {
            let table = table.unwrap().path();
            let from = table.join(format!("dt={DEMO_DATE}"));
            if from.is_dir() {
                let name = table.file_name().unwrap();
                copy_dir(&from, &out.join(name).join(format!("dt={day}")));
            }
        }
        if i < step_from {
            continue;
        }
        let dir = out.join("flow_summary").join(format!("dt={day}"));
        let file = first_file(&dir);
        let batch = table(out, "flow_summary", day);
        let pago: Vec<bool> = (0..batch.num_rows())
            .map(|r| batch.text("flow", r).unwrap() == "pago")
            .collect();
        let columns: Vec<ArrayRef> = (batch.schema().fields().iter().zip(batch.columns()))
            .map(|(field, column)| match field.name().as_str() {
                "unit_cost_usd" | "cost_usd" => {
                    let d = column.as_any().downcast_ref::<Decimal128Array>().unwrap();
                    let stepped: Decimal128Array = (0..d.len())
                        .map(|r| {
                            Some(if pago[r] {
                                d.value(r) * 104 / 100
                            } else {
                                d.value(r)
                            })
                        })
                        .collect();
                    std::sync::Arc::new(
                        stepped
                            .with_precision_and_scale(d.precision(), d.scale())
                            .unwrap(),
                    ) as ArrayRef
                }
                _ => column.clone(),
            })
            .collect();
        std::fs::remove_file(&file).unwrap();
        write_parquet(
            &file,
            &RecordBatch::try_new(batch.schema(), columns).unwrap(),
        );
    }
}

/// Issue 38: over 30 days, a 4% step in one flow's unit cost is plain to
/// see in Chromium (a large part of its panel's height, where one axis from
/// $0 for every flow drew it 3 pixels high), no two flows' lines overlap,
/// and each line's last value is printed beside it.
#[test]
fn a_four_percent_step_over_thirty_days_is_seen_in_the_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let days: Vec<String> = (1..=30).map(|d| format!("2026-11-{d:02}")).collect();
    thirty_days_with_a_step(&out, &days, 15);
    let html = html_report(
        &repo().join("examples/costjob.toml"),
        &out,
        &["--from", &days[0], "--to", &days[29]],
    );
    // The trend chart alone, on a page of its own size.
    let at = html
        .find("<title>Unit cost per flow and day")
        .expect("the trend chart");
    let start = html[..at].rfind("<svg").unwrap();
    let end = at + html[at..].find("</svg>").unwrap() + "</svg>".len();
    let svg = &html[start..end];
    let height: u32 = {
        let h = svg.split("height=\"").nth(1).unwrap();
        h[..h.find('"').unwrap()].parse::<f64>().unwrap() as u32
    };
    let style_end = html.find("</style>").unwrap() + "</style>".len();
    let page = tmp.path().join("chart.html");
    std::fs::write(
        &page,
        format!(
            "{}<body style=\"margin:0\">{svg}</body></html>",
            &html[..style_end]
        ),
    )
    .unwrap();
    let png = tmp.path().join("chart.png");
    if let Some(keep) = std::env::var_os("KEEP_CHART") {
        std::fs::copy(&page, Path::new(&keep).with_extension("html")).unwrap();
    }
    let width = 960;
    screenshot(&page, &png, width, height);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let summary = table(&out, "flow_summary", &days[29]);
    let flows = summary.num_rows() as u32;
    // Each flow's line and markers in its palette colour, in rows x0..x1.
    let rows_of = |colour: [u8; 3], x0: u32, x1: u32| -> Vec<u32> {
        let mut ys: Vec<u32> = (0..frame.height)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = ((y * frame.width + x) as usize) * channels;
                pixels[i..i + 3] == colour
            })
            .map(|(_, y)| y)
            .collect();
        ys.sort_unstable();
        ys
    };
    let median = |ys: &[u32]| {
        assert!(ys.len() > 50, "the line is drawn: {} pixels", ys.len());
        i64::from(ys[ys.len() / 2])
    };
    // The days run from x = 110 to 770: days 1-13 and 18-30.
    let blue = [0x00, 0x72, 0xB2];
    let (before, after) = (rows_of(blue, 140, 380), rows_of(blue, 480, 760));
    let step = median(&before) - median(&after);
    let panel = i64::from(height / flows);
    assert!(
        step * 100 >= 20 * panel,
        "a 4% step is {step} pixels of a flow's {panel}: not seen"
    );
    // No other flow's line runs through pago's rows: the lines never cross.
    let orange = rows_of([0xE6, 0x9F, 0x00], 140, 760);
    let (lo, hi) = (
        before[0].min(after[0]),
        *before.last().unwrap().max(after.last().unwrap()),
    );
    assert!(
        orange.iter().all(|y| *y < lo || *y > hi),
        "recarga's line crosses pago's rows {lo}..{hi}"
    );
    // Each flow's last value is printed at the end of its line, in words.
    for i in 0..summary.num_rows() {
        let unit = summary.money("unit_cost_usd", i).unwrap().unwrap();
        let text = format!("${}", costjob::model::money::format_usd_rounded(unit, 6));
        assert!(svg.contains(&text), "{text} labels its line");
    }
    assert!(svg.contains("(+4.0%)") && svg.contains("(+0.0%)"), "{svg}");
    for words in ["pago (monetary)", "onboarding (non-monetary)"] {
        assert!(svg.contains(words), "{words}");
    }
}
